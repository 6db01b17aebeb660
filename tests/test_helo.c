/*
 * test_helo.c - GTest unit tests for helo.c (HELO/EHLO classification).
 *
 * Table-driven: every row is classified from a heap copy of exactly its
 * length, so AddressSanitizer catches any read past arg[len).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include <glib.h>

#include "helo.h"

struct row {
	const char	*in;
	size_t		 len;
	enum helo_class	 class;
	enum helo_reason reason;
	unsigned	 flags;
};

/* A row from a string literal; the length counts embedded NULs. */
#define R(s, c, r, f)	{ (s), sizeof(s) - 1, (c), (r), (f) }

#define TD	HELO_F_TRAILING_DOT
#define US	HELO_F_UNDERSCORE
#define UC	HELO_F_UPPERCASE
#define OU	HELO_F_OURS
#define XB	HELO_F_EXTRA_BLANKS
#define NO	HELO_R_NONE
#define INV	HELO_INVALID

static const struct row plain_rows[] = {
	/* empty and blanks */
	R("", HELO_EMPTY, NO, 0),
	R(" ", HELO_EMPTY, NO, XB),
	R("\t \t", HELO_EMPTY, NO, XB),
	R(" mail.example.com\t", HELO_FQDN, NO, XB),
	R("\t[192.0.2.1] ", HELO_LITERAL_IPV4, NO, XB),
	R(" a b ", INV, HELO_R_SPACE, XB),
	R("a b", INV, HELO_R_SPACE, 0),
	R("a\tb", INV, HELO_R_SPACE, 0),
	R("[192.0.2.1 ]", INV, HELO_R_SPACE, 0),
	/* NUL: before any other check */
	R("\0", INV, HELO_R_NUL, 0),
	R("a\0b", INV, HELO_R_NUL, 0),
	R("example.com\0", INV, HELO_R_NUL, 0),
	R(" \0 ", INV, HELO_R_NUL, XB),
	R("a\0 b", INV, HELO_R_NUL, 0),
	R("A_\0", INV, HELO_R_NUL, 0),
	R("[\0]", INV, HELO_R_NUL, 0),
	/* host names */
	R("mail.example.com", HELO_FQDN, NO, 0),
	R("a.b", HELO_FQDN, NO, 0),
	R("123.example.com", HELO_FQDN, NO, 0),
	R("example.123", HELO_FQDN, NO, 0),
	R("1.2.3.x", HELO_FQDN, NO, 0),
	R("1.2.3.4-5", HELO_FQDN, NO, 0),
	R("xn--bcher-kva.example", HELO_FQDN, NO, 0),
	R("Mail.Example.COM", HELO_FQDN, NO, UC),
	R("localhost", HELO_SINGLE_LABEL, NO, 0),
	R("LOCALHOST", HELO_SINGLE_LABEL, NO, UC),
	R("a-b", HELO_SINGLE_LABEL, NO, 0),
	R("1a", HELO_SINGLE_LABEL, NO, 0),
	R("_", HELO_SINGLE_LABEL, NO, US),
	/* trailing dot */
	R("mail.example.com.", HELO_FQDN, NO, TD),
	R("localhost.", HELO_SINGLE_LABEL, NO, TD),
	R("A.b.", HELO_FQDN, NO, TD | UC),
	R("a.b..", INV, HELO_R_EMPTY_LABEL, 0),
	R(".", INV, HELO_R_EMPTY_LABEL, 0),
	R("..", INV, HELO_R_EMPTY_LABEL, 0),
	R(".a.", INV, HELO_R_EMPTY_LABEL, TD),
	/* underscore */
	R("_dmarc.example", HELO_FQDN, NO, US),
	R("_spf._domainkey.Example.", HELO_FQDN, NO, US | UC | TD),
	R("_-a.example", HELO_FQDN, NO, US),
	R("a_-.example", INV, HELO_R_HYPHEN_EDGE, US),
	R("bad_name/x", INV, HELO_R_BAD_CHAR, US),
	/* empty labels */
	R(".a", INV, HELO_R_EMPTY_LABEL, 0),
	R("a..b", INV, HELO_R_EMPTY_LABEL, 0),
	R("...", INV, HELO_R_EMPTY_LABEL, 0),
	R("1..2", INV, HELO_R_EMPTY_LABEL, 0),
	R("1.2.3.4..", INV, HELO_R_EMPTY_LABEL, 0),
	/* hyphens: the first faulty label from the left decides */
	R("-.a.b", INV, HELO_R_HYPHEN_EDGE, 0),
	R("a-.b", INV, HELO_R_HYPHEN_EDGE, 0),
	R("-a.b", INV, HELO_R_HYPHEN_EDGE, 0),
	R("a.-b", INV, HELO_R_HYPHEN_EDGE, 0),
	R("a.b-", INV, HELO_R_HYPHEN_EDGE, 0),
	R("a.b-.", INV, HELO_R_HYPHEN_EDGE, TD),
	R("-", INV, HELO_R_HYPHEN_EDGE, 0),
	R("-..a", INV, HELO_R_HYPHEN_EDGE, 0),
	R("a..-", INV, HELO_R_EMPTY_LABEL, 0),
	R("1.2.3.4-", INV, HELO_R_HYPHEN_EDGE, 0),
	R("a--b.example", HELO_FQDN, NO, 0),
	/* bad characters: win over any label fault */
	R("user@example.com", INV, HELO_R_BAD_CHAR, 0),
	R("mail/example.com", INV, HELO_R_BAD_CHAR, 0),
	R("foo:bar", INV, HELO_R_BAD_CHAR, 0),
	R("mail.example.com:25", INV, HELO_R_BAD_CHAR, 0),
	R("*.example.com", INV, HELO_R_BAD_CHAR, 0),
	R("a..b/", INV, HELO_R_BAD_CHAR, 0),
	R("-a@", INV, HELO_R_BAD_CHAR, 0),
	R("a.b\r", INV, HELO_R_BAD_CHAR, 0),
	R("a.b\n", INV, HELO_R_BAD_CHAR, 0),
	R("\x7f", INV, HELO_R_BAD_CHAR, 0),
	R("\x80", INV, HELO_R_BAD_CHAR, 0),
	R("\xff", INV, HELO_R_BAD_CHAR, 0),
	R("\xc3\xa9xample.com", INV, HELO_R_BAD_CHAR, 0),
	R("B\xfc" "cher.example", INV, HELO_R_BAD_CHAR, UC),
	R("1.2.3.4]", INV, HELO_R_BAD_CHAR, 0),
	R("]", INV, HELO_R_BAD_CHAR, 0),
	/* bare IPv4 */
	R("192.0.2.1", HELO_BARE_IPV4, NO, 0),
	R("0.0.0.0", HELO_BARE_IPV4, NO, 0),
	R("255.255.255.255", HELO_BARE_IPV4, NO, 0),
	R("0.1.2.3", HELO_BARE_IPV4, NO, 0),
	R("10.0.0.1.", HELO_BARE_IPV4, NO, TD),
	R(" 10.0.0.1 ", HELO_BARE_IPV4, NO, XB),
	/* all numeric */
	R("1.2.3.321", INV, HELO_R_ALL_NUMERIC, 0),
	R("1.2.3", INV, HELO_R_ALL_NUMERIC, 0),
	R("12345", INV, HELO_R_ALL_NUMERIC, 0),
	R("1.2.3.4.5", INV, HELO_R_ALL_NUMERIC, 0),
	R("256.1.1.1", INV, HELO_R_ALL_NUMERIC, 0),
	R("01.2.3.4", INV, HELO_R_ALL_NUMERIC, 0),
	R("1.2.3.04", INV, HELO_R_ALL_NUMERIC, 0),
	R("127.1", INV, HELO_R_ALL_NUMERIC, 0),
	R("0", INV, HELO_R_ALL_NUMERIC, 0),
	R("1.2.3.1000", INV, HELO_R_ALL_NUMERIC, 0),
	R("1.2.3.321.", INV, HELO_R_ALL_NUMERIC, TD),
	/* bare IPv6 */
	R("::1", HELO_BARE_IPV6, NO, 0),
	R("::", HELO_BARE_IPV6, NO, 0),
	R("2001:db8::1", HELO_BARE_IPV6, NO, 0),
	R("2001:DB8::1", HELO_BARE_IPV6, NO, UC),
	R("::ffff:192.0.2.1", HELO_BARE_IPV6, NO, 0),
	R("1:2:3:4:5:6:7:8", HELO_BARE_IPV6, NO, 0),
	R("0000:0000:0000:0000:0000:ffff:255.255.255.255", HELO_BARE_IPV6,
	    NO, 0),
	R("::1.", HELO_BARE_IPV6, NO, TD),
	R("00000:0000:0000:0000:0000:ffff:255.255.255.255", INV,
	    HELO_R_BAD_CHAR, 0),
	R("1:2:3:4:5:6:7:8:9", INV, HELO_R_BAD_CHAR, 0),
	R("2001:db8::1::2", INV, HELO_R_BAD_CHAR, 0),
	R("fe80::1%eth0", INV, HELO_R_BAD_CHAR, 0),
	R("::ffff:1.2.3.256", INV, HELO_R_BAD_CHAR, 0),
	R(":::", INV, HELO_R_BAD_CHAR, 0),
	/* IPv4 literals */
	R("[192.0.2.1]", HELO_LITERAL_IPV4, NO, 0),
	R("[0.0.0.0]", HELO_LITERAL_IPV4, NO, 0),
	R("[1.2.3.256]", INV, HELO_R_BAD_LITERAL, 0),
	R("[01.2.3.4]", INV, HELO_R_BAD_LITERAL, 0),
	R("[1.2.3]", INV, HELO_R_BAD_LITERAL, 0),
	R("[1.2.3.4.]", INV, HELO_R_BAD_LITERAL, 0),
	R("[1.2.3.4", INV, HELO_R_BAD_LITERAL, 0),
	R("[1.2.3.4].", INV, HELO_R_BAD_LITERAL, 0),
	R("[1.2.3.4]x", INV, HELO_R_BAD_LITERAL, 0),
	R("[[1.2.3.4]]", INV, HELO_R_BAD_LITERAL, 0),
	R("[]", INV, HELO_R_BAD_LITERAL, 0),
	R("[", INV, HELO_R_BAD_LITERAL, 0),
	R("[Mail.Example]", INV, HELO_R_BAD_LITERAL, UC),
	R("[a_b]", INV, HELO_R_BAD_LITERAL, 0),
	/* IPv6 literals */
	R("[IPv6:::1]", HELO_LITERAL_IPV6, NO, 0),
	R("[ipv6:::1]", HELO_LITERAL_IPV6, NO, 0),
	R("[IPV6:2001:db8::1]", HELO_LITERAL_IPV6, NO, 0),
	R("[IPv6:2001:DB8::1]", HELO_LITERAL_IPV6, NO, UC),
	R("[IPv6:::ffff:192.0.2.1]", HELO_LITERAL_IPV6, NO, 0),
	R("[IPv6:0000:0000:0000:0000:0000:ffff:255.255.255.255]",
	    HELO_LITERAL_IPV6, NO, 0),
	R("[IPv6:00000:0000:0000:0000:0000:ffff:255.255.255.255]", INV,
	    HELO_R_BAD_LITERAL, 0),
	R("[::1]", INV, HELO_R_BAD_LITERAL, 0),
	R("[IPv6:1.2.3.4]", INV, HELO_R_BAD_LITERAL, 0),
	R("[IPv6:]", INV, HELO_R_BAD_LITERAL, 0),
	R("[IPv6:::1", INV, HELO_R_BAD_LITERAL, 0),
	R("[IPv6::::1]", INV, HELO_R_BAD_LITERAL, 0),
	R("[IPv6:fe80::1%eth0]", INV, HELO_R_BAD_LITERAL, 0),
	R("[IPv6:GG::1]", INV, HELO_R_BAD_LITERAL, UC),
	R("[IPv4:1.2.3.4]", INV, HELO_R_BAD_LITERAL, UC),
	R("[IPv6]", INV, HELO_R_BAD_LITERAL, UC),
	/* without ours nothing is ours */
	R("mx.example.org", HELO_FQDN, NO, 0),
	R("192.0.2.25", HELO_BARE_IPV4, NO, 0),
};

static const char *const ours_names[] = {
	"mx.example.org", NULL, "", ".", "Tarpit.Example.ORG.", "gw",
};
static const char *const ours_addrs[] = {
	"192.0.2.25", NULL, "", "bogus", "1.2.3.256", "[192.0.2.99]",
	"01.2.3.4", "fe80::1%eth0",
	"0000:0000:0000:0000:0000:0000:0000:0000:0000:0001",
	"2001:db8::25", "::ffff:198.51.100.7", "::ffff:0:0",
};
static const struct helo_ours ours = {
	ours_names, sizeof(ours_names) / sizeof(ours_names[0]),
	ours_addrs, sizeof(ours_addrs) / sizeof(ours_addrs[0]),
};

static const struct row ours_rows[] = {
	/* by name: any case, a trailing dot on either side */
	R("mx.example.org", HELO_FQDN, NO, OU),
	R("MX.Example.Org", HELO_FQDN, NO, OU | UC),
	R("mx.example.org.", HELO_FQDN, NO, OU | TD),
	R(" mx.example.org ", HELO_FQDN, NO, OU | XB),
	R("tarpit.example.org", HELO_FQDN, NO, OU),
	R("tarpit.example.org.", HELO_FQDN, NO, OU | TD),
	R("gw", HELO_SINGLE_LABEL, NO, OU),
	R("GW.", HELO_SINGLE_LABEL, NO, OU | TD | UC),
	R("mx.example.org..", INV, HELO_R_EMPTY_LABEL, 0),
	R("mx.example.or", HELO_FQDN, NO, 0),
	R("mx.example.orgx", HELO_FQDN, NO, 0),
	R("xmx.example.org", HELO_FQDN, NO, 0),
	R("mx", HELO_SINGLE_LABEL, NO, 0),
	R("[mx.example.org]", INV, HELO_R_BAD_LITERAL, 0),
	R("mx.example.org\0", INV, HELO_R_NUL, 0),
	R("mx .example.org", INV, HELO_R_SPACE, 0),
	R(".", INV, HELO_R_EMPTY_LABEL, 0),
	/* by IPv4 address, bare, literal or mapped */
	R("192.0.2.25", HELO_BARE_IPV4, NO, OU),
	R("192.0.2.25.", HELO_BARE_IPV4, NO, OU | TD),
	R("[192.0.2.25]", HELO_LITERAL_IPV4, NO, OU),
	R("::ffff:192.0.2.25", HELO_BARE_IPV6, NO, OU),
	R("::FFFF:C000:219", HELO_BARE_IPV6, NO, OU | UC),
	R("[IPv6:::ffff:192.0.2.25]", HELO_LITERAL_IPV6, NO, OU),
	R("::192.0.2.25", HELO_BARE_IPV6, NO, 0),
	R("192.0.2.26", HELO_BARE_IPV4, NO, 0),
	R("[192.0.2.99]", HELO_LITERAL_IPV4, NO, 0),
	R("1.2.3.4", HELO_BARE_IPV4, NO, 0),
	/* ours given as mapped matches plain and mapped */
	R("198.51.100.7", HELO_BARE_IPV4, NO, OU),
	R("[IPv6:::ffff:198.51.100.7]", HELO_LITERAL_IPV6, NO, OU),
	R("0.0.0.0", HELO_BARE_IPV4, NO, OU),
	/* by IPv6 address */
	R("2001:db8::25", HELO_BARE_IPV6, NO, OU),
	R("2001:0DB8:0:0:0:0:0:25", HELO_BARE_IPV6, NO, OU | UC),
	R("[IPv6:2001:db8::25]", HELO_LITERAL_IPV6, NO, OU),
	R("[IPv6:2001:db8::26]", HELO_LITERAL_IPV6, NO, 0),
	R("fe80::1", HELO_BARE_IPV6, NO, 0),
	R("::1", HELO_BARE_IPV6, NO, 0),
};

/* Classify in[0..len) from a heap copy of exactly len bytes. */
static void
classify_exact(const char *in, size_t len, const struct helo_ours *o,
    struct helo_result *res)
{
	char *copy;

	copy = g_malloc(len > 0 ? len : 1);
	memcpy(copy, in, len);
	helo_classify(copy, len, o, res);
	g_free(copy);
}

/* in[0..len) with unprintable bytes as \xHH, for messages; g_free it. */
static char *
escape_bytes(const char *in, size_t len)
{
	GString *s = g_string_new(NULL);
	size_t i;

	for (i = 0; i < len; i++) {
		if (g_ascii_isprint(in[i]) && in[i] != '\\')
			g_string_append_c(s, in[i]);
		else
			g_string_append_printf(s, "\\x%02x",
			    (unsigned char)in[i]);
	}
	return g_string_free(s, FALSE);
}

/* Classify in[0..len) and fail the test, saying why, on a mismatch. */
static void
check_one(const char *in, size_t len, const struct helo_ours *o,
    enum helo_class class, enum helo_reason reason, unsigned flags)
{
	struct helo_result res;
	char fa[128], fb[128];
	char *name;

	classify_exact(in, len, o, &res);
	if (res.class == class && res.reason == reason && res.flags == flags)
		return;
	name = escape_bytes(in, len);
	g_test_message("\"%s\" (%zu bytes): got %s/%s/%s, want %s/%s/%s",
	    name, len, helo_class_name(res.class),
	    helo_reason_name(res.reason),
	    helo_flags_format(res.flags, fa, sizeof(fa)),
	    helo_class_name(class), helo_reason_name(reason),
	    helo_flags_format(flags, fb, sizeof(fb)));
	g_free(name);
	g_test_fail();
}

/* Check every row of a table against helo_classify(). */
static void
check_rows(const struct row *rows, size_t n, const struct helo_ours *o)
{
	size_t i;

	for (i = 0; i < n; i++)
		check_one(rows[i].in, rows[i].len, o, rows[i].class,
		    rows[i].reason, rows[i].flags);
}

/* The main table, without ours. */
static void
test_plain(void)
{
	check_rows(plain_rows, G_N_ELEMENTS(plain_rows), NULL);
}

/* The ours table. */
static void
test_ours(void)
{
	check_rows(ours_rows, G_N_ELEMENTS(ours_rows), &ours);
}

/* An ours with NULL arrays or zero counts never matches. */
static void
test_ours_empty(void)
{
	static const char *const one[] = { "mx.example.org" };
	const struct helo_ours none = { NULL, 3, NULL, 3 };
	const struct helo_ours zero = { one, 0, one, 0 };
	const struct helo_ours *cases[] = { &none, &zero };
	struct helo_result res;
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		helo_classify("mx.example.org", 14, cases[i], &res);
		g_assert_cmpint(res.class, ==, HELO_FQDN);
		g_assert_cmpuint(res.flags, ==, 0);
		helo_classify("[192.0.2.25]", 12, cases[i], &res);
		g_assert_cmpint(res.class, ==, HELO_LITERAL_IPV4);
		g_assert_cmpuint(res.flags, ==, 0);
	}
}

/* Build a name of total bytes: 60-byte labels of c, the last shorter. */
static void
make_name(char *buf, size_t total, char c)
{
	size_t i;

	for (i = 0; i < total; i++)
		buf[i] = i % 61 == 60 ? '.' : c;
	g_assert_cmpint(buf[total - 1], !=, '.');
}

/*
 * Names of 253..256 bytes. edit: 0 none, 'd' add a trailing dot, 's' a
 * space inside, 'n' a NUL last, 'b' blanks around.
 */
static void
test_lengths(void)
{
	static const struct {
		size_t		 total;	/* bytes of make_name() */
		int		 edit;
		enum helo_class	 class;
		enum helo_reason reason;
		unsigned	 flags;
	} rows[] = {
		{ 253, 0, HELO_FQDN, NO, 0 },
		{ 254, 0, HELO_FQDN, NO, 0 },
		{ 255, 0, HELO_FQDN, NO, 0 },
		{ 256, 0, HELO_TOO_LONG, NO, 0 },
		{ 1000, 0, HELO_TOO_LONG, NO, 0 },
		{ 254, 'd', HELO_FQDN, NO, TD },	/* 255 with the dot */
		{ 255, 'd', HELO_TOO_LONG, NO, 0 },	/* 256 with the dot */
		{ 255, 's', INV, HELO_R_SPACE, 0 },
		{ 256, 's', HELO_TOO_LONG, NO, 0 },	/* length beats space */
		{ 255, 'n', INV, HELO_R_NUL, 0 },
		{ 256, 'n', INV, HELO_R_NUL, 0 },	/* NUL beats length */
		{ 1000, 'n', INV, HELO_R_NUL, 0 },
		{ 255, 'b', HELO_FQDN, NO, XB },	/* blanks not counted */
		{ 256, 'b', HELO_TOO_LONG, NO, XB },
	};
	char buf[1100];
	size_t i, len, off;

	for (i = 0; i < G_N_ELEMENTS(rows); i++) {
		make_name(buf + 2, rows[i].total, 'a');
		len = rows[i].total;
		off = 2;
		switch (rows[i].edit) {
		case 'd':
			buf[off + len++] = '.';
			break;
		case 's':
			buf[off + 100] = ' ';
			break;
		case 'n':
			buf[off + len - 1] = '\0';
			break;
		case 'b':
			buf[0] = ' ';
			buf[1] = '\t';
			buf[off + len] = ' ';
			off = 0;
			len += 3;
			break;
		}
		check_one(buf + off, len, NULL, rows[i].class, rows[i].reason,
		    rows[i].flags);
	}
}

/* Labels of exactly 63 and 64 bytes, first, last and alone. */
static void
test_labels(void)
{
	char buf[200];
	struct helo_result res;
	size_t n;

	for (n = 62; n <= 65; n++) {
		memset(buf, 'x', n);
		classify_exact(buf, n, NULL, &res);
		g_assert_cmpint(res.class, ==,
		    n <= HELO_LABEL_MAX ? HELO_SINGLE_LABEL : HELO_INVALID);
		g_assert_cmpint(res.reason, ==,
		    n <= HELO_LABEL_MAX ? NO : HELO_R_LABEL_TOO_LONG);

		memcpy(buf + n, ".example", 8);
		classify_exact(buf, n + 8, NULL, &res);
		g_assert_cmpint(res.class, ==,
		    n <= HELO_LABEL_MAX ? HELO_FQDN : HELO_INVALID);

		memcpy(buf, "a.", 2);
		memset(buf + 2, 'y', n);
		buf[2 + n] = '.';
		classify_exact(buf, n + 3, NULL, &res);
		g_assert_cmpint(res.class, ==,
		    n <= HELO_LABEL_MAX ? HELO_FQDN : HELO_INVALID);
		g_assert_cmpint(res.reason, ==,
		    n <= HELO_LABEL_MAX ? NO : HELO_R_LABEL_TOO_LONG);
		g_assert_cmpuint(res.flags, ==, TD);
	}
}

/* Every byte value in the middle of "a?b". */
static void
test_all_bytes(void)
{
	enum helo_class class;
	enum helo_reason reason;
	unsigned flags;
	char in[3];
	int c;

	for (c = 0; c < 256; c++) {
		in[0] = 'a';
		in[1] = (char)c;
		in[2] = 'b';
		class = HELO_INVALID;
		reason = HELO_R_BAD_CHAR;
		flags = 0;
		if (g_ascii_isalnum(c) || c == '-' || c == '_') {
			class = HELO_SINGLE_LABEL;
			reason = NO;
			flags = g_ascii_isupper(c) ? UC : c == '_' ? US : 0;
		} else if (c == '.') {
			class = HELO_FQDN;
			reason = NO;
		} else if (c == ' ' || c == '\t')
			reason = HELO_R_SPACE;
		else if (c == '\0')
			reason = HELO_R_NUL;
		check_one(in, sizeof(in), NULL, class, reason, flags);
	}
}

/* Only arg[0..len) counts; arg may be NULL when len is 0. */
static void
test_bounds(void)
{
	static const char buf[] = "mail.example.com!!!";
	struct helo_result res = { HELO_TOO_LONG, HELO_R_NUL, 0xff };

	helo_classify(NULL, 0, NULL, &res);
	g_assert_cmpint(res.class, ==, HELO_EMPTY);
	g_assert_cmpint(res.reason, ==, NO);
	g_assert_cmpuint(res.flags, ==, 0);

	helo_classify(buf, 16, NULL, &res);
	g_assert_cmpint(res.class, ==, HELO_FQDN);
	helo_classify(buf, 17, NULL, &res);
	g_assert_cmpint(res.reason, ==, HELO_R_BAD_CHAR);
	helo_classify(buf, 4, NULL, &res);
	g_assert_cmpint(res.class, ==, HELO_SINGLE_LABEL);
	helo_classify("[1.2.3.4]", 8, NULL, &res);
	g_assert_cmpint(res.reason, ==, HELO_R_BAD_LITERAL);
	helo_classify("1.2.3.4", 5, NULL, &res);
	g_assert_cmpint(res.reason, ==, HELO_R_ALL_NUMERIC);
	helo_classify("::1 ", 3, NULL, &res);
	g_assert_cmpint(res.class, ==, HELO_BARE_IPV6);
	g_assert_cmpuint(res.flags, ==, 0);
}

/* Class and reason names, including out of range. */
static void
test_names(void)
{
	static const char *const classes[HELO_CLASS_COUNT] = {
		"empty", "fqdn", "single_label", "bare_ipv4", "bare_ipv6",
		"literal_ipv4", "literal_ipv6", "invalid", "too_long",
	};
	static const char *const reasons[HELO_REASON_COUNT] = {
		"none", "bad_char", "empty_label", "label_too_long",
		"hyphen_edge", "all_numeric", "bad_literal", "nul", "space",
	};
	int i;

	for (i = 0; i < HELO_CLASS_COUNT; i++)
		g_assert_cmpstr(helo_class_name((enum helo_class)i), ==,
		    classes[i]);
	for (i = 0; i < HELO_REASON_COUNT; i++)
		g_assert_cmpstr(helo_reason_name((enum helo_reason)i), ==,
		    reasons[i]);
	g_assert_cmpstr(helo_class_name(HELO_TOO_LONG), ==, "too_long");
	g_assert_cmpstr(helo_reason_name(HELO_R_SPACE), ==, "space");
	g_assert_cmpstr(helo_class_name((enum helo_class)HELO_CLASS_COUNT),
	    ==, "unknown");
	g_assert_cmpstr(helo_class_name((enum helo_class)-1), ==, "unknown");
	g_assert_cmpstr(helo_class_name((enum helo_class)1000), ==,
	    "unknown");
	g_assert_cmpstr(helo_reason_name((enum helo_reason)HELO_REASON_COUNT),
	    ==, "unknown");
	g_assert_cmpstr(helo_reason_name((enum helo_reason)-1), ==,
	    "unknown");
}

/* helo_flags_format() with roomy and tiny buffers. */
static void
test_flags_format(void)
{
	static const struct {
		unsigned	 flags;
		size_t		 size;
		const char	*want;
	} rows[] = {
		{ 0, 64, "" },
		{ TD, 64, "trailing_dot" },
		{ US, 64, "underscore" },
		{ UC, 64, "uppercase" },
		{ OU, 64, "ours" },
		{ XB, 64, "extra_blanks" },
		{ OU | TD, 64, "trailing_dot,ours" },
		{ TD | US | UC | OU | XB, 64,
		    "trailing_dot,underscore,uppercase,ours,extra_blanks" },
		{ TD | US | UC | OU | XB, 52,	/* 51 bytes and NUL */
		    "trailing_dot,underscore,uppercase,ours,extra_blanks" },
		{ TD | US | UC | OU | XB, 51,
		    "trailing_dot,underscore,uppercase,ours,extra_blank" },
		{ 0xffffffe0u, 64, "" },
		{ 0xffffffffu, 64,
		    "trailing_dot,underscore,uppercase,ours,extra_blanks" },
		{ TD, 13, "trailing_dot" },
		{ TD, 12, "trailing_do" },
		{ TD, 5, "trai" },
		{ TD, 2, "t" },
		{ TD, 1, "" },
		{ TD | OU, 14, "trailing_dot," },
		{ TD | OU, 13, "trailing_dot" },
		{ OU | XB, 6, "ours," },
	};
	char buf[70];
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(rows); i++) {
		memset(buf, 'Z', sizeof(buf));
		g_assert_true(helo_flags_format(rows[i].flags, buf,
		    rows[i].size) == buf);
		g_assert_cmpstr(buf, ==, rows[i].want);
		/* Nothing written past size. */
		g_assert_cmpint(buf[rows[i].size], ==, 'Z');
	}

	/* Size 0 writes nothing. */
	memset(buf, 'Z', sizeof(buf));
	g_assert_true(helo_flags_format(TD | OU, buf, 0) == buf);
	g_assert_cmpint(buf[0], ==, 'Z');
	g_assert_null(helo_flags_format(TD, NULL, 0));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/helo/classify/table", test_plain);
	g_test_add_func("/helo/classify/ours", test_ours);
	g_test_add_func("/helo/classify/ours-empty", test_ours_empty);
	g_test_add_func("/helo/classify/lengths", test_lengths);
	g_test_add_func("/helo/classify/labels", test_labels);
	g_test_add_func("/helo/classify/all-bytes", test_all_bytes);
	g_test_add_func("/helo/classify/bounds", test_bounds);
	g_test_add_func("/helo/names", test_names);
	g_test_add_func("/helo/flags-format", test_flags_format);
	return g_test_run();
}
