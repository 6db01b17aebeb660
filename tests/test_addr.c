#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

/*
 * test_addr.c - table-driven unit tests for shared/addr.c: parsing,
 * formatting, folding of IPv4-mapped addresses, network keys, CIDRs,
 * host:port and socket address round trips.
 */

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string.h>

#include <glib.h>

#include "addr.h"

/* One addr_parse case: text, and the canonical form or NULL if bad. */
struct parse_case {
	const char *text;
	const char *want;
	int family;
};

static const struct parse_case parse_cases[] = {
	{ "192.0.2.1", "192.0.2.1", AF_INET },
	{ "0.0.0.0", "0.0.0.0", AF_INET },
	{ "255.255.255.255", "255.255.255.255", AF_INET },
	{ "10.0.0.0", "10.0.0.0", AF_INET },
	{ "::", "::", AF_INET6 },
	{ "::1", "::1", AF_INET6 },
	{ "2001:DB8::1", "2001:db8::1", AF_INET6 },
	{ "2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1",
	    AF_INET6 },
	{ "2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1", AF_INET6 },
	{ "fe80::1:2:3:4", "fe80::1:2:3:4", AF_INET6 },
	{ "::ffff:192.0.2.1", "192.0.2.1", AF_INET },
	{ "::FFFF:c000:0201", "192.0.2.1", AF_INET },
	{ "::192.0.2.1", "::192.0.2.1", AF_INET6 },
	{ "64:ff9b::192.0.2.1", "64:ff9b::c000:201", AF_INET6 },
	{ "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255",
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", AF_INET6 },
	/* Bad. */
	{ "", NULL, 0 },
	{ "01.2.3.4", NULL, 0 },
	{ "1.2.3.04", NULL, 0 },
	{ "1.2.3.00", NULL, 0 },
	{ "1.2.3.4 ", NULL, 0 },
	{ " 1.2.3.4", NULL, 0 },
	{ "256.1.1.1", NULL, 0 },
	{ "1.2.3.256", NULL, 0 },
	{ "1.2.3.1000", NULL, 0 },
	{ "1.2.3", NULL, 0 },
	{ "1.2.3.4.5", NULL, 0 },
	{ "1.2.3.", NULL, 0 },
	{ ".1.2.3", NULL, 0 },
	{ "1..2.3", NULL, 0 },
	{ "1.2.3.4.", NULL, 0 },
	{ "+1.2.3.4", NULL, 0 },
	{ "-1.2.3.4", NULL, 0 },
	{ "0x1.2.3.4", NULL, 0 },
	{ "1.2.3.4/32", NULL, 0 },
	{ "localhost", NULL, 0 },
	{ "[::1]", NULL, 0 },
	{ "fe80::1%eth0", NULL, 0 },
	{ "::1 ", NULL, 0 },
	{ ":::", NULL, 0 },
	{ "1::2::3", NULL, 0 },
	{ "12345::", NULL, 0 },
	{ "::ffff:01.2.3.4", NULL, 0 },
	{ "::ffff:256.2.3.4", NULL, 0 },
	{ "g::1", NULL, 0 },
	/* 46 characters and more: longer than any address can be. */
	{ "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.2550", NULL, 0 },
	{ "0000:0000:0000:0000:0000:0000:0000:0000:::::::", NULL, 0 },
	{ "1111111111111111111111111111111111111111111111111111", NULL, 0 },
};

/* addr_parse good and bad, with canonical formatting. */
static void
test_parse(void)
{
	char buf[ADDR_STRLEN];
	struct addr a;
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(parse_cases); i++) {
		const struct parse_case *c = &parse_cases[i];
		bool ok;

		memset(&a, 0xa5, sizeof(a));
		ok = addr_parse(c->text, &a);
		g_test_message("parse \"%s\"", c->text);
		if (c->want == NULL) {
			g_assert_false(ok);
			continue;
		}
		g_assert_true(ok);
		g_assert_cmpint(a.family, ==, c->family);
		g_assert_cmpstr(addr_format(&a, buf), ==, c->want);
		/* Unused bytes are zero. */
		if (a.family == AF_INET) {
			static const uint8_t zero[12];

			g_assert_cmpmem(a.bytes + 4, 12, zero, 12);
		}
		/* The canonical form parses back to the same bytes. */
		{
			struct addr b;

			memset(&b, 0x5a, sizeof(b));
			g_assert_true(addr_parse(buf, &b));
			g_assert_cmpmem(&a, sizeof(a), &b, sizeof(b));
			g_assert_true(addr_equal(&a, &b));
		}
	}
	g_assert_false(addr_parse(NULL, &a));
}

/* addr_parse_len: unterminated text, embedded NUL, length limits. */
static void
test_parse_len(void)
{
	static const char unterminated[] = { '1', '.', '2', '.', '3', '.',
	    '4', '5' };
	char buf[ADDR_STRLEN], big[64];
	struct addr a;

	g_assert_true(addr_parse_len(unterminated, 7, &a));
	g_assert_cmpstr(addr_format(&a, buf), ==, "1.2.3.4");
	g_assert_true(addr_parse_len(unterminated, 8, &a));
	g_assert_cmpstr(addr_format(&a, buf), ==, "1.2.3.45");
	g_assert_true(addr_parse_len("::1junk", 3, &a));
	g_assert_cmpstr(addr_format(&a, buf), ==, "::1");

	g_assert_false(addr_parse_len("1.2.3.4\0", 8, &a));
	g_assert_false(addr_parse_len("1.2\0.3.4", 8, &a));
	g_assert_false(addr_parse_len("::1\0", 4, &a));
	g_assert_false(addr_parse_len("1.2.3.4", 0, &a));
	g_assert_false(addr_parse_len(NULL, 3, &a));

	/* 45 characters is the longest address; 46 is refused. */
	strcpy(big, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255");
	g_assert_cmpuint(strlen(big), ==, 45);
	g_assert_true(addr_parse_len(big, 45, &a));
	strcpy(big, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.2550");
	g_assert_false(addr_parse_len(big, 46, &a));
	memset(big, '1', sizeof(big));
	g_assert_false(addr_parse_len(big, sizeof(big), &a));
}

/* addr_equal and addr_mask. */
static void
test_equal_mask(void)
{
	static const struct {
		const char *text;
		unsigned prefix;
		const char *want;
	} cases[] = {
		{ "192.0.2.255", 32, "192.0.2.255" },
		{ "192.0.2.255", 33, "192.0.2.255" },
		{ "192.0.2.255", 128, "192.0.2.255" },
		{ "192.0.2.255", 31, "192.0.2.254" },
		{ "192.0.2.255", 25, "192.0.2.128" },
		{ "192.0.2.255", 24, "192.0.2.0" },
		{ "192.0.2.255", 20, "192.0.0.0" },
		{ "192.0.2.255", 1, "128.0.0.0" },
		{ "192.0.2.255", 0, "0.0.0.0" },
		{ "2001:db8:1:2:3:4:5:6", 128, "2001:db8:1:2:3:4:5:6" },
		{ "2001:db8:1:2:3:4:5:6", 64, "2001:db8:1:2::" },
		{ "2001:db8:1:2:3:4:5:6", 63, "2001:db8:1:2::" },
		{ "2001:db8:1:3:3:4:5:6", 63, "2001:db8:1:2::" },
		{ "2001:db8:1:2:3:4:5:6", 48, "2001:db8:1::" },
		{ "2001:db8:1:2:3:4:5:6", 36, "2001:db8::" },
		{ "2001:dbff:1:2:3:4:5:6", 20, "2001:d000::" },
		{ "2001:db8:1:2:3:4:5:6", 0, "::" },
	};
	char buf[ADDR_STRLEN];
	struct addr a, b;
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_assert_true(addr_parse(cases[i].text, &a));
		addr_mask(&a, cases[i].prefix);
		g_assert_cmpstr(addr_format(&a, buf), ==, cases[i].want);
		g_assert_true(addr_parse(cases[i].want, &b));
		g_assert_cmpmem(&a, sizeof(a), &b, sizeof(b));
	}

	g_assert_true(addr_parse("192.0.2.1", &a));
	g_assert_true(addr_parse("::ffff:192.0.2.1", &b));
	g_assert_true(addr_equal(&a, &b));
	g_assert_true(addr_parse("::192.0.2.1", &b));
	g_assert_false(addr_equal(&a, &b));
	g_assert_true(addr_parse("192.0.2.2", &b));
	g_assert_false(addr_equal(&a, &b));
}

/* addr_netkey for the usual prefixes. */
static void
test_netkey(void)
{
	static const struct {
		const char *text;
		unsigned v4, v6;
		const char *want;
	} cases[] = {
		{ "192.0.2.1", 32, 64, "192.0.2.1/32" },
		{ "192.0.2.1", 24, 64, "192.0.2.0/24" },
		{ "192.0.2.1", 0, 64, "0.0.0.0/0" },
		{ "192.0.2.1", 40, 64, "192.0.2.1/32" },
		{ "::ffff:192.0.2.77", 24, 64, "192.0.2.0/24" },
		{ "2001:db8:1:2:3:4:5:6", 32, 64, "2001:db8:1:2::/64" },
		{ "2001:db8:1:2:3:4:5:6", 32, 48, "2001:db8:1::/48" },
		{ "2001:db8:1:2:3:4:5:6", 32, 128,
		    "2001:db8:1:2:3:4:5:6/128" },
		{ "2001:db8:1:2:3:4:5:6", 32, 0, "::/0" },
		{ "2001:db8:1:2:3:4:5:6", 32, 200,
		    "2001:db8:1:2:3:4:5:6/128" },
		{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 32, 128,
		    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128" },
	};
	char buf[ADDR_NETKEY_LEN];
	struct addr a;
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_assert_true(addr_parse(cases[i].text, &a));
		g_assert_true(addr_netkey(&a, cases[i].v4, cases[i].v6,
		    buf) == buf);
		g_assert_cmpstr(buf, ==, cases[i].want);
	}
}

/* addr_cidr_parse and addr_cidr_format, good and bad. */
static void
test_cidr_parse(void)
{
	static const struct {
		const char *text;
		const char *want;	/* formatted, or NULL */
		const char *why;	/* when want is NULL */
	} cases[] = {
		{ "192.0.2.0/24", "192.0.2.0/24", NULL },
		{ "192.0.2.1", "192.0.2.1/32", NULL },
		{ "192.0.2.1/32", "192.0.2.1/32", NULL },
		{ "0.0.0.0/0", "0.0.0.0/0", NULL },
		{ "10.0.0.0/8", "10.0.0.0/8", NULL },
		{ "2001:db8::/32", "2001:db8::/32", NULL },
		{ "2001:DB8:0:0::/64", "2001:db8::/64", NULL },
		{ "::/0", "::/0", NULL },
		{ "::1", "::1/128", NULL },
		{ "::1/128", "::1/128", NULL },
		/* IPv4-mapped folds, prefix - 96. */
		{ "::ffff:10.0.0.0/104", "10.0.0.0/8", NULL },
		{ "::ffff:192.0.2.1/128", "192.0.2.1/32", NULL },
		{ "::ffff:0.0.0.0/96", "0.0.0.0/0", NULL },
		{ "::ffff:192.0.2.1", "192.0.2.1/32", NULL },
		{ "::ffff:0.0.0.0/95", NULL,
		    "IPv4-mapped prefix must be /96 or longer" },
		{ "::ffff:10.0.0.0/129", NULL, "prefix length out of range" },
		{ "::ffff:10.0.0.0/100", NULL,
		    "host bits set beyond the prefix" },
		/* Bad addresses. */
		{ "", NULL, "not an IPv4 or IPv6 address" },
		{ "/24", NULL, "not an IPv4 or IPv6 address" },
		{ "192.0.2/24", NULL, "not an IPv4 or IPv6 address" },
		{ "01.0.2.0/24", NULL, "not an IPv4 or IPv6 address" },
		{ "192.0.2.0 /24", NULL, "not an IPv4 or IPv6 address" },
		{ "[::1]/128", NULL, "not an IPv4 or IPv6 address" },
		{ "example.org/24", NULL, "not an IPv4 or IPv6 address" },
		/* Bad prefixes. */
		{ "192.0.2.0/", NULL, "bad prefix length" },
		{ "192.0.2.0/+24", NULL, "bad prefix length" },
		{ "192.0.2.0/-24", NULL, "bad prefix length" },
		{ "192.0.2.0/ 24", NULL, "bad prefix length" },
		{ "192.0.2.0/24 ", NULL, "bad prefix length" },
		{ "192.0.2.0/024", NULL, "bad prefix length" },
		{ "192.0.2.0/00", NULL, "bad prefix length" },
		{ "192.0.2.0/2x", NULL, "bad prefix length" },
		{ "192.0.2.0/0x18", NULL, "bad prefix length" },
		{ "192.0.2.0/24/24", NULL, "bad prefix length" },
		{ "192.0.2.0/33", NULL, "prefix length out of range" },
		{ "192.0.2.0/128", NULL, "prefix length out of range" },
		{ "192.0.2.0/4294967320", NULL, "prefix length out of range" },
		{ "2001:db8::/129", NULL, "prefix length out of range" },
		{ "2001:db8::/1000", NULL, "prefix length out of range" },
		/* Host bits. */
		{ "192.0.2.1/24", NULL, "host bits set beyond the prefix" },
		{ "192.0.2.128/24", NULL, "host bits set beyond the prefix" },
		{ "0.0.0.1/0", NULL, "host bits set beyond the prefix" },
		{ "2001:db8::1/64", NULL, "host bits set beyond the prefix" },
		{ "2001:db8:1::/32", NULL, "host bits set beyond the prefix" },
	};
	char buf[ADDR_NETKEY_LEN];
	struct addr_cidr c;
	const char *why;
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		bool ok;

		g_test_message("cidr \"%s\"", cases[i].text);
		why = NULL;
		ok = addr_cidr_parse(cases[i].text, &c, &why);
		if (cases[i].want == NULL) {
			g_assert_false(ok);
			g_assert_cmpstr(why, ==, cases[i].why);
			/* why is optional. */
			g_assert_false(addr_cidr_parse(cases[i].text, &c,
			    NULL));
			continue;
		}
		g_assert_true(ok);
		g_assert_null(why);
		g_assert_cmpstr(addr_cidr_format(&c, buf), ==,
		    cases[i].want);
	}
	g_assert_false(addr_cidr_parse(NULL, &c, &why));
	g_assert_cmpstr(why, ==, "not an IPv4 or IPv6 address");
}

/* addr_cidr_match and addr_cidr_list_match. */
static void
test_cidr_match(void)
{
	static const struct {
		const char *cidr;
		const char *addr;
		bool want;
	} cases[] = {
		{ "192.0.2.0/24", "192.0.2.0", true },
		{ "192.0.2.0/24", "192.0.2.255", true },
		{ "192.0.2.0/24", "192.0.3.0", false },
		{ "192.0.2.0/24", "192.0.1.255", false },
		{ "192.0.2.0/24", "::ffff:192.0.2.9", true },
		{ "192.0.2.0/24", "::192.0.2.9", false },
		{ "192.0.2.0/24", "c000:200::", false },
		{ "192.0.2.7", "192.0.2.7", true },
		{ "192.0.2.7", "192.0.2.6", false },
		{ "192.0.2.0/31", "192.0.2.1", true },
		{ "192.0.2.0/31", "192.0.2.2", false },
		{ "0.0.0.0/0", "203.0.113.5", true },
		{ "0.0.0.0/0", "::1", false },
		{ "::/0", "::1", true },
		{ "::/0", "192.0.2.1", false },
		{ "2001:db8::/32", "2001:db8:ffff::1", true },
		{ "2001:db8::/32", "2001:db9::1", false },
		{ "2001:db8:0:8000::/49", "2001:db8:0:8001::1", true },
		{ "2001:db8:0:8000::/49", "2001:db8:0:7fff::1", false },
		{ "::ffff:10.0.0.0/104", "10.20.30.40", true },
		{ "::ffff:10.0.0.0/104", "::ffff:10.20.30.40", true },
		{ "::ffff:10.0.0.0/104", "11.0.0.0", false },
	};
	static const char *const list_text[] = {
		"10.0.0.0/8", "192.0.2.0/24", "2001:db8::/32", "::1",
	};
	static const struct {
		const char *addr;
		bool want;
	} list_cases[] = {
		{ "10.1.2.3", true },
		{ "192.0.2.200", true },
		{ "2001:db8::25", true },
		{ "::1", true },
		{ "::2", false },
		{ "11.0.0.1", false },
		{ "127.0.0.1", false },
		{ "2001:db9::", false },
	};
	struct addr_cidr c, list[G_N_ELEMENTS(list_text)];
	struct addr a;
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_test_message("%s in %s", cases[i].addr, cases[i].cidr);
		g_assert_true(addr_cidr_parse(cases[i].cidr, &c, NULL));
		g_assert_true(addr_parse(cases[i].addr, &a));
		g_assert_cmpint(addr_cidr_match(&c, &a), ==, cases[i].want);
	}
	for (i = 0; i < G_N_ELEMENTS(list_text); i++)
		g_assert_true(addr_cidr_parse(list_text[i], &list[i], NULL));
	for (i = 0; i < G_N_ELEMENTS(list_cases); i++) {
		g_assert_true(addr_parse(list_cases[i].addr, &a));
		g_assert_cmpint(addr_cidr_list_match(list,
		    G_N_ELEMENTS(list), &a), ==, list_cases[i].want);
	}
	g_assert_true(addr_parse("10.1.2.3", &a));
	g_assert_false(addr_cidr_list_match(list, 0, &a));
	g_assert_false(addr_cidr_list_match(NULL, 0, &a));
}

/* addr_hostport_parse, good and each reason for bad. */
static void
test_hostport(void)
{
	static const struct {
		const char *text;
		const char *want;	/* address, or NULL */
		unsigned port;
		const char *why;
	} cases[] = {
		{ "127.0.0.1:2525", "127.0.0.1", 2525, NULL },
		{ "192.0.2.1:25", "192.0.2.1", 25, NULL },
		{ "0.0.0.0:1", "0.0.0.0", 1, NULL },
		{ "192.0.2.1:65535", "192.0.2.1", 65535, NULL },
		{ "[::1]:25", "::1", 25, NULL },
		{ "[2001:DB8::1]:587", "2001:db8::1", 587, NULL },
		{ "[::]:10025", "::", 10025, NULL },
		{ "[::ffff:192.0.2.1]:25", "192.0.2.1", 25, NULL },
		{ "", NULL, 0, "empty address" },
		{ "::1:25", NULL, 0, "IPv6 address must be in brackets" },
		{ "2001:db8::1:25", NULL, 0,
		    "IPv6 address must be in brackets" },
		{ "1.2.3.4:25:26", NULL, 0,
		    "IPv6 address must be in brackets" },
		{ "[::1:25", NULL, 0, "missing ']' after IPv6 address" },
		{ "[::1", NULL, 0, "missing ']' after IPv6 address" },
		{ "[192.0.2.1]:25", NULL, 0,
		    "not an IPv6 address in brackets" },
		{ "[]:25", NULL, 0, "not an IPv6 address in brackets" },
		{ "[::1%lo]:25", NULL, 0, "not an IPv6 address in brackets" },
		{ "[ ::1]:25", NULL, 0, "not an IPv6 address in brackets" },
		{ "[::1]", NULL, 0, "missing ':PORT' after address" },
		{ "[::1] :25", NULL, 0, "missing ':PORT' after address" },
		{ "[::1]25", NULL, 0, "missing ':PORT' after address" },
		{ "192.0.2.1", NULL, 0, "missing ':PORT' after address" },
		{ "localhost:25", NULL, 0, "not an IPv4 address" },
		{ "01.2.3.4:25", NULL, 0, "not an IPv4 address" },
		{ "1.2.3:25", NULL, 0, "not an IPv4 address" },
		{ ":25", NULL, 0, "not an IPv4 address" },
		{ "1.2.3.4 :25", NULL, 0, "not an IPv4 address" },
		{ "1.2.3.4:", NULL, 0, "missing port number" },
		{ "[::1]:", NULL, 0, "missing port number" },
		{ "1.2.3.4:+25", NULL, 0, "port is not a decimal number" },
		{ "1.2.3.4:-25", NULL, 0, "port is not a decimal number" },
		{ "1.2.3.4: 25", NULL, 0, "port is not a decimal number" },
		{ "1.2.3.4:25 ", NULL, 0, "port is not a decimal number" },
		{ "1.2.3.4:025", NULL, 0, "port is not a decimal number" },
		{ "1.2.3.4:0x19", NULL, 0, "port is not a decimal number" },
		{ "1.2.3.4:smtp", NULL, 0, "port is not a decimal number" },
		{ "[::1]:2a", NULL, 0, "port is not a decimal number" },
		{ "1.2.3.4:0", NULL, 0, "port out of range (1..65535)" },
		{ "1.2.3.4:65536", NULL, 0, "port out of range (1..65535)" },
		{ "1.2.3.4:99999", NULL, 0, "port out of range (1..65535)" },
		{ "1.2.3.4:100000", NULL, 0, "port out of range (1..65535)" },
		{ "1.2.3.4:4294967321", NULL, 0,
		    "port out of range (1..65535)" },
	};
	char buf[ADDR_STRLEN];
	struct addr a;
	uint16_t port;
	const char *why;
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		bool ok;

		g_test_message("hostport \"%s\"", cases[i].text);
		why = NULL;
		port = 0;
		ok = addr_hostport_parse(cases[i].text, &a, &port, &why);
		if (cases[i].want == NULL) {
			g_assert_false(ok);
			g_assert_cmpstr(why, ==, cases[i].why);
			g_assert_false(addr_hostport_parse(cases[i].text, &a,
			    &port, NULL));
			continue;
		}
		g_assert_true(ok);
		g_assert_null(why);
		g_assert_cmpstr(addr_format(&a, buf), ==, cases[i].want);
		g_assert_cmpuint(port, ==, cases[i].port);
	}
	g_assert_false(addr_hostport_parse(NULL, &a, &port, &why));
	g_assert_cmpstr(why, ==, "empty address");
}

/* addr_to_sockaddr / addr_from_sockaddr round trips and folding. */
static void
test_sockaddr(void)
{
	static const struct {
		const char *text;
		uint16_t port;
		int family;
		socklen_t len;
	} cases[] = {
		{ "192.0.2.1", 25, AF_INET, sizeof(struct sockaddr_in) },
		{ "0.0.0.0", 65535, AF_INET, sizeof(struct sockaddr_in) },
		{ "::1", 2525, AF_INET6, sizeof(struct sockaddr_in6) },
		{ "2001:db8::1", 1, AF_INET6, sizeof(struct sockaddr_in6) },
	};
	struct sockaddr_storage ss;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct sockaddr sa;
	struct addr a, b;
	char buf[ADDR_STRLEN];
	uint16_t port;
	socklen_t len;
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_assert_true(addr_parse(cases[i].text, &a));
		memset(&ss, 0xa5, sizeof(ss));
		len = addr_to_sockaddr(&a, cases[i].port, &ss);
		g_assert_cmpuint(len, ==, cases[i].len);
		g_assert_cmpint(ss.ss_family, ==, cases[i].family);
		memset(&b, 0x5a, sizeof(b));
		port = 0;
		g_assert_true(addr_from_sockaddr((struct sockaddr *)&ss, len,
		    &b, &port));
		g_assert_cmpmem(&a, sizeof(a), &b, sizeof(b));
		g_assert_cmpuint(port, ==, cases[i].port);
		/* Too short for its family. */
		g_assert_false(addr_from_sockaddr((struct sockaddr *)&ss,
		    len - 1, &b, &port));
		/* port is optional. */
		g_assert_true(addr_from_sockaddr((struct sockaddr *)&ss, len,
		    &b, NULL));
	}

	/* The port is in network order inside, host order outside. */
	g_assert_true(addr_parse("192.0.2.1", &a));
	addr_to_sockaddr(&a, 0x1234, &ss);
	memcpy(&sin, &ss, sizeof(sin));
	g_assert_cmpuint(sin.sin_port, ==, htons(0x1234));
	g_assert_cmpuint(sin.sin_addr.s_addr, ==, inet_addr("192.0.2.1"));

	/* A mapped sockaddr_in6 (dual-stack accept) folds to IPv4. */
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(587);
	g_assert_cmpint(inet_pton(AF_INET6, "::ffff:198.51.100.7",
	    &sin6.sin6_addr), ==, 1);
	g_assert_true(addr_from_sockaddr((struct sockaddr *)&sin6,
	    sizeof(sin6), &b, &port));
	g_assert_cmpint(b.family, ==, AF_INET);
	g_assert_cmpstr(addr_format(&b, buf), ==, "198.51.100.7");
	g_assert_cmpuint(port, ==, 587);
	g_assert_true(addr_parse("198.51.100.7", &a));
	g_assert_cmpmem(&a, sizeof(a), &b, sizeof(b));
	len = addr_to_sockaddr(&b, port, &ss);
	g_assert_cmpuint(len, ==, sizeof(struct sockaddr_in));

	/* Other families are refused. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_family = AF_UNIX;
	g_assert_false(addr_from_sockaddr(&sa, sizeof(sa), &b, &port));
	g_assert_false(addr_from_sockaddr(NULL, 16, &b, &port));
	g_assert_false(addr_from_sockaddr(&sa, 0, &b, &port));
	memset(&a, 0, sizeof(a));
	a.family = AF_UNIX;
	g_assert_cmpuint(addr_to_sockaddr(&a, 25, &ss), ==, 0);
	g_assert_cmpstr(addr_format(&a, buf), ==, "?");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/addr/parse", test_parse);
	g_test_add_func("/addr/parse_len", test_parse_len);
	g_test_add_func("/addr/equal_mask", test_equal_mask);
	g_test_add_func("/addr/netkey", test_netkey);
	g_test_add_func("/addr/cidr_parse", test_cidr_parse);
	g_test_add_func("/addr/cidr_match", test_cidr_match);
	g_test_add_func("/addr/hostport", test_hostport);
	g_test_add_func("/addr/sockaddr", test_sockaddr);
	return g_test_run();
}
