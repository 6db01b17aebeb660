/*
 * test_policy_proto.c - the Postfix policy protocol (policyd/proto.c):
 * a whole Postfix 3.x request, split at every byte offset and fed one
 * byte at a time; two requests in one read; CRLF; unknown attributes;
 * every error with the byte it is found at; the line and attribute
 * limits at and past their edge; values too long for their buffer; a
 * request that never ends; and the reply formatter.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include <glib.h>

#include "proto.h"

/* What Postfix 3.x sends (SMTPD_POLICY_README's list), in its order. */
static const char sample[] =
    "request=smtpd_access_policy\n"
    "protocol_state=RCPT\n"
    "protocol_name=ESMTP\n"
    "helo_name=mx.sender.example\n"
    "queue_id=8045F2AB23\n"
    "sender=foo@sender.example\n"
    "recipient=bar@primary.test\n"
    "recipient_count=0\n"
    "client_address=192.0.2.7\n"
    "client_name=mx.sender.example\n"
    "reverse_client_name=mx.sender.example\n"
    "instance=123.456.7\n"
    "sasl_method=plain\n"
    "sasl_username=you\n"
    "sasl_sender=\n"
    "size=12345\n"
    "ccert_subject=\n"
    "ccert_issuer=\n"
    "ccert_fingerprint=\n"
    "ccert_pubkey_fingerprint=\n"
    "encryption_protocol=TLSv1.3\n"
    "encryption_cipher=TLS_AES_256_GCM_SHA384\n"
    "encryption_keysize=256\n"
    "etrn_domain=\n"
    "stress=\n"
    "client_port=40312\n"
    "policy_context=\n"
    "server_address=198.51.100.2\n"
    "server_port=25\n"
    "compatibility_level=3.6\n"
    "mail_version=3.7.11\n"
    "\n";
#define SAMPLE_LINES	31

/* The sample's kept values, in the order of enum policy_attr. */
static const char *const sample_values[POLICY_NATTR] = {
	"smtpd_access_policy", "RCPT", "ESMTP", "192.0.2.7", "40312",
	"mx.sender.example", "mx.sender.example", "mx.sender.example",
	"foo@sender.example", "bar@primary.test", "0", "8045F2AB23", "you",
	"plain", "123.456.7", "12345", "198.51.100.2", "25",
};

#define ALL_GIVEN	((1u << POLICY_NATTR) - 1)

/* Feed s[0..len) whole to a fresh parser; *used as policy_parse sets it. */
static enum policy_status
parse(struct policy_parser *p, const char *s, size_t len, size_t *used)
{
	policy_parser_reset(p);
	return policy_parse(p, s, len, used);
}

/* The request p holds is the sample's. */
static void
assert_sample(const struct policy_parser *p)
{
	const struct policy_request *r = &p->req;

	g_assert_cmphex(r->given, ==, ALL_GIVEN);
	g_assert_cmphex(r->toolong, ==, 0);
	g_assert_cmpuint(r->nlines, ==, SAMPLE_LINES);
	for (int a = 0; a < POLICY_NATTR; a++) {
		g_assert_cmpstr(policy_value(r, a), ==, sample_values[a]);
		g_assert_cmpuint(r->len[a], ==, strlen(sample_values[a]));
	}
	g_assert_cmpstr(r->sender, ==, "foo@sender.example");
	g_assert_cmpstr(r->client_address, ==, "192.0.2.7");
	g_assert_null(policy_parser_why(p));
}

static void
test_sample(void)
{
	struct policy_parser p;
	size_t used;

	g_assert_cmpint(parse(&p, sample, sizeof(sample) - 1, &used), ==,
	    POLICY_DONE);
	g_assert_cmpuint(used, ==, sizeof(sample) - 1);
	assert_sample(&p);
	/* Without the empty line: not yet. */
	g_assert_cmpint(parse(&p, sample, sizeof(sample) - 2, &used), ==,
	    POLICY_MORE);
	g_assert_cmpuint(used, ==, sizeof(sample) - 2);
	g_assert_cmpint(policy_parse(&p, "\n", 1, &used), ==, POLICY_DONE);
	g_assert_cmpuint(used, ==, 1);
	assert_sample(&p);
	/* Nothing at all is no request. */
	g_assert_cmpint(parse(&p, "", 0, &used), ==, POLICY_MORE);
	g_assert_cmpuint(used, ==, 0);
}

/* Split at every offset, and one byte at a time: the same request. */
static void
test_split(void)
{
	struct policy_parser whole, p;
	size_t n = sizeof(sample) - 1, used;

	g_assert_cmpint(parse(&whole, sample, n, &used), ==, POLICY_DONE);
	for (size_t k = 0; k <= n; k++) {
		g_assert_cmpint(parse(&p, sample, k, &used), ==,
		    k == n ? POLICY_DONE : POLICY_MORE);
		g_assert_cmpuint(used, ==, k);
		if (k < n) {
			g_assert_cmpint(policy_parse(&p, sample + k, n - k,
			    &used), ==, POLICY_DONE);
			g_assert_cmpuint(used, ==, n - k);
		}
		g_assert_true(memcmp(&p.req, &whole.req, sizeof(p.req)) == 0);
	}
	policy_parser_reset(&p);
	for (size_t i = 0; i < n; i++) {
		g_assert_cmpint(policy_parse(&p, sample + i, 1, &used), ==,
		    i + 1 == n ? POLICY_DONE : POLICY_MORE);
		g_assert_cmpuint(used, ==, 1);
	}
	g_assert_true(memcmp(&p.req, &whole.req, sizeof(p.req)) == 0);
	assert_sample(&p);
}

/* Two requests and the start of a third in one read (a reused connection). */
static void
test_two(void)
{
	g_autofree char *buf = g_strconcat(sample,
	    "request=smtpd_access_policy\nprotocol_state=DATA\n\n",
	    "request=smtpd_acc", NULL);
	size_t n = strlen(buf), off = 0, used;
	struct policy_parser p;

	g_assert_cmpint(parse(&p, buf, n, &used), ==, POLICY_DONE);
	g_assert_cmpuint(used, ==, sizeof(sample) - 1);
	assert_sample(&p);
	off += used;
	policy_parser_reset(&p);
	g_assert_cmpint(policy_parse(&p, buf + off, n - off, &used), ==,
	    POLICY_DONE);
	/* Nothing of the first request is left. */
	g_assert_cmphex(p.req.given, ==, 1u << POLICY_REQUEST |
	    1u << POLICY_PROTOCOL_STATE);
	g_assert_cmpstr(p.req.protocol_state, ==, "DATA");
	g_assert_cmpstr(p.req.sender, ==, "");
	g_assert_null(policy_value(&p.req, POLICY_SENDER));
	g_assert_cmpuint(p.req.nlines, ==, 2);
	off += used;
	g_assert_cmpuint(off, ==, n - strlen("request=smtpd_acc"));
	policy_parser_reset(&p);
	g_assert_cmpint(policy_parse(&p, buf + off, n - off, &used), ==,
	    POLICY_MORE);
	g_assert_cmpuint(used, ==, n - off);
	g_assert_cmpint(policy_parse(&p, "ess_policy\n\n", 12, &used), ==,
	    POLICY_DONE);
	g_assert_cmpstr(policy_value(&p.req, POLICY_REQUEST), ==,
	    "smtpd_access_policy");
}

static void
test_crlf(void)
{
	static const char crlf[] = "request=smtpd_access_policy\r\n"
	    "sender=a\rb\r\n"		/* a bare CR is a value byte */
	    "recipient=c\r\r\n"		/* ...and a CR before CR LF */
	    "helo_name=\r\n"
	    "x=y\r\n"
	    "\r\n";
	struct policy_parser p;
	size_t used;

	g_assert_cmpint(parse(&p, crlf, sizeof(crlf) - 1, &used), ==,
	    POLICY_DONE);
	g_assert_cmpuint(used, ==, sizeof(crlf) - 1);
	g_assert_cmpstr(p.req.request, ==, "smtpd_access_policy");
	g_assert_cmpstr(p.req.sender, ==, "a\rb");
	g_assert_cmpstr(p.req.recipient, ==, "c\r");
	g_assert_cmpuint(p.req.len[POLICY_RECIPIENT], ==, 2);
	g_assert_cmpstr(policy_value(&p.req, POLICY_HELO_NAME), ==, "");
	g_assert_cmpuint(p.req.nlines, ==, 5);
	/* LF lines, a CRLF end, and the other way round. */
	g_assert_cmpint(parse(&p, "a=b\n\r\n", 6, &used), ==, POLICY_DONE);
	g_assert_cmpuint(used, ==, 6);
	g_assert_cmpint(parse(&p, "a=b\r\n\n", 6, &used), ==, POLICY_DONE);
	g_assert_cmpuint(used, ==, 6);
	/* The CR and its LF in separate reads. */
	g_assert_cmpint(parse(&p, "sender=x\r", 9, &used), ==, POLICY_MORE);
	g_assert_cmpint(policy_parse(&p, "\n\r", 2, &used), ==, POLICY_MORE);
	g_assert_cmpint(policy_parse(&p, "\n", 1, &used), ==, POLICY_DONE);
	g_assert_cmpstr(p.req.sender, ==, "x");
}

static void
test_unknown(void)
{
	g_autofree char *longname = g_strnfill(POLICY_NAME_MAX + 10, 'z');
	g_autofree char *senderlong = g_strconcat("sender",
	    longname, NULL);
	g_autofree char *buf = g_strdup_printf("future_attribute=x=y\n"
	    "sender_domain=s\nsende=t\n%s=u\n%s=v\n%.*s=w\n"
	    "request=smtpd_access_policy\n0_9=\n\n", longname, senderlong,
	    POLICY_NAME_MAX, longname);
	struct policy_parser p;
	size_t used;

	g_assert_cmpint(parse(&p, buf, strlen(buf), &used), ==, POLICY_DONE);
	g_assert_cmphex(p.req.given, ==, 1u << POLICY_REQUEST);
	g_assert_cmpuint(p.req.nlines, ==, 8);
	g_assert_cmpstr(p.req.sender, ==, "");
}

static void
test_errors(void)
{
	static const struct {
		const char *in;
		size_t	len;		/* 0: strlen(in) */
		const char *why;
		size_t	used;		/* to and with this byte */
	} rows[] = {
		{ "foo\n", 0, "missing '='", 4 },
		{ "request=x\nfoo\r\n", 0, "missing '='", 15 },
		{ "=x\n", 0, "empty attribute name", 1 },
		{ "a=b\n=\n", 0, "empty attribute name", 5 },
		{ "Sender=x\n", 0, "bad attribute name", 1 },
		{ "send er=x\n", 0, "bad attribute name", 5 },
		{ "a-b=1\n", 0, "bad attribute name", 2 },
		{ "a.b=1\n", 0, "bad attribute name", 2 },
		{ "\xc3\xa9=1\n", 0, "bad attribute name", 1 },
		{ "fo\ro=1\n", 0, "bad attribute name", 4 },
		{ "fo\r=1\n", 0, "bad attribute name", 4 },
		{ "\r\r\n", 0, "bad attribute name", 2 },
		{ "\rx=1\n", 0, "bad attribute name", 2 },
		{ " \n", 0, "bad attribute name", 1 },
		{ "\t\n", 0, "bad attribute name", 1 },
		{ "a=b\0c\n", 6, "NUL byte", 4 },
		{ "a\0=b\n", 5, "NUL byte", 2 },
		{ "\0", 1, "NUL byte", 1 },
		{ "x=\r\0", 4, "NUL byte", 4 },
		{ "sender=a\nsender=b\n", 0, "duplicate attribute", 16 },
		{ "request=a\r\nx=1\nrequest=\n", 0, "duplicate attribute",
		    23 },
	};
	struct policy_parser p;
	size_t used;

	for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
		size_t len = rows[i].len != 0 ? rows[i].len :
		    strlen(rows[i].in);

		g_test_message("row %zu: %s", i, rows[i].why);
		g_assert_cmpint(parse(&p, rows[i].in, len, &used), ==,
		    POLICY_ERROR);
		g_assert_cmpstr(policy_parser_why(&p), ==, rows[i].why);
		g_assert_cmpuint(used, ==, rows[i].used);
		/* An error stays until a reset, and takes nothing. */
		g_assert_cmpint(policy_parse(&p, "\n", 1, &used), ==,
		    POLICY_ERROR);
		g_assert_cmpuint(used, ==, 0);
		g_assert_cmpstr(policy_parser_why(&p), ==, rows[i].why);
		policy_parser_reset(&p);
		g_assert_null(policy_parser_why(&p));
		g_assert_cmpint(policy_parse(&p, "\n", 1, &used), ==,
		    POLICY_DONE);
	}
}

/* Every byte but NUL, CR and LF is a value byte, kept as it came. */
static void
test_binary(void)
{
	char value[256], *buf;
	size_t n = 0, used;
	struct policy_parser p;

	for (int c = 1; c < 256; c++)
		if (c != '\r' && c != '\n')
			value[n++] = (char)c;
	value[n] = '\0';
	buf = g_strdup_printf("sender=%s\nunknown=%s\n\n", value, value);
	g_assert_cmpint(parse(&p, buf, strlen(buf), &used), ==, POLICY_DONE);
	g_assert_cmpuint(p.req.len[POLICY_SENDER], ==, n);
	g_assert_true(memcmp(p.req.sender, value, n + 1) == 0);
	g_free(buf);
	/* Binary in a name is not. */
	for (int c = 1; c < 256; c++) {
		char in[] = { 'a', (char)c, '=', '\n', '\n' };
		bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '=' || c == '\r' || c == '\n';

		if (ok)
			continue;
		g_assert_cmpint(parse(&p, in, sizeof(in), &used), ==,
		    POLICY_ERROR);
		g_assert_cmpstr(policy_parser_why(&p), ==,
		    "bad attribute name");
		g_assert_cmpuint(used, ==, 2);
	}
}

/* A line name=value of len bytes, then the line end, then the end. */
static char *
line_of(const char *name, size_t len, const char *end)
{
	g_autofree char *v = g_strnfill(len - strlen(name) - 1, 'v');

	return g_strdup_printf("%s=%s%s\n", name, v, end);
}

static void
test_line_long(void)
{
	struct policy_parser p;
	size_t used;
	char *buf;

	/* At the limit, with LF or CRLF: fine. */
	buf = line_of("x", POLICY_LINE_MAX, "\n");
	g_assert_cmpint(parse(&p, buf, strlen(buf), &used), ==, POLICY_DONE);
	g_free(buf);
	buf = line_of("x", POLICY_LINE_MAX, "\r\n\r");
	g_assert_cmpint(parse(&p, buf, strlen(buf), &used), ==, POLICY_DONE);
	g_free(buf);
	/* One over: an error at the byte over. */
	buf = line_of("x", POLICY_LINE_MAX + 1, "\n");
	g_assert_cmpint(parse(&p, buf, strlen(buf), &used), ==, POLICY_ERROR);
	g_assert_cmpstr(policy_parser_why(&p), ==, "line too long");
	g_assert_cmpuint(used, ==, POLICY_LINE_MAX + 1);
	g_free(buf);
	/* A CR at the limit that turns out to be a value byte. */
	buf = line_of("x", POLICY_LINE_MAX, "\rx\n");
	g_assert_cmpint(parse(&p, buf, strlen(buf), &used), ==, POLICY_ERROR);
	g_assert_cmpstr(policy_parser_why(&p), ==, "line too long");
	g_assert_cmpuint(used, ==, POLICY_LINE_MAX + 2);
	g_free(buf);
	/* A name alone can be too long, and a kept one too. */
	buf = g_strnfill(POLICY_LINE_MAX + 5, 'n');
	g_assert_cmpint(parse(&p, buf, strlen(buf), &used), ==, POLICY_ERROR);
	g_assert_cmpstr(policy_parser_why(&p), ==, "line too long");
	g_assert_cmpuint(used, ==, POLICY_LINE_MAX + 1);
	g_free(buf);
	buf = line_of("sender", POLICY_LINE_MAX + 1, "\n");
	g_assert_cmpint(parse(&p, buf, strlen(buf), &used), ==, POLICY_ERROR);
	g_assert_cmpstr(policy_parser_why(&p), ==, "line too long");
	g_free(buf);
	/* The count starts again on each line. */
	buf = line_of("x", POLICY_LINE_MAX, "");
	{
		g_autofree char *two = g_strconcat(buf, buf, "\n", NULL);

		g_assert_cmpint(parse(&p, two, strlen(two), &used), ==,
		    POLICY_DONE);
	}
	g_free(buf);
}

static void
test_too_many(void)
{
	GString *s = g_string_new(NULL);
	struct policy_parser p;
	size_t used, at;

	for (int i = 0; i < POLICY_ATTRS_MAX - 1; i++)
		g_string_append_printf(s, "a%d=%d\n", i, i);
	/* Not glib's inline g_string_append: GCC 14 takes its NULL branch
	 * for a NULL s (-Wnull-dereference at s->len). */
	g_string_append_printf(s, "sender=last@x\n");
	at = s->len;
	g_string_append(s, "\n");
	g_assert_cmpint(parse(&p, s->str, s->len, &used), ==, POLICY_DONE);
	g_assert_cmpuint(p.req.nlines, ==, POLICY_ATTRS_MAX);
	g_assert_cmpstr(p.req.sender, ==, "last@x");
	/* One more line: an error at its first byte. */
	g_string_insert(s, at, "b=1\n");
	g_assert_cmpint(parse(&p, s->str, s->len, &used), ==, POLICY_ERROR);
	g_assert_cmpstr(policy_parser_why(&p), ==, "too many attributes");
	g_assert_cmpuint(used, ==, at + 1);
	/* The count is per request. */
	g_string_truncate(s, at);
	g_string_append(s, "\n");
	for (int i = 0; i < 3; i++) {
		size_t off = 0;

		policy_parser_reset(&p);
		g_assert_cmpint(policy_parse(&p, s->str, s->len, &used), ==,
		    POLICY_DONE);
		off += used;
		g_assert_cmpuint(off, ==, s->len);
	}
	g_string_free(s, TRUE);
}

/* A value too long for its buffer is refused; the request goes on. */
static void
test_oversize(void)
{
	size_t max = sizeof(((struct policy_request *)0)->sender) - 1, used;
	g_autofree char *fits = line_of("sender", strlen("sender=") + max,
	    "");
	g_autofree char *over = line_of("sender", strlen("sender=") + max + 1,
	    "");
	g_autofree char *buf = NULL;
	struct policy_parser p;

	buf = g_strconcat(fits, "\n", NULL);
	g_assert_cmpint(parse(&p, buf, strlen(buf), &used), ==, POLICY_DONE);
	g_assert_cmpuint(p.req.len[POLICY_SENDER], ==, max);
	g_assert_cmpuint(strlen(policy_value(&p.req, POLICY_SENDER)), ==,
	    max);
	g_free(buf);
	buf = g_strconcat("client_port=123456789\n", over,
	    "recipient=r@x\n\n", NULL);
	g_assert_cmpint(parse(&p, buf, strlen(buf), &used), ==, POLICY_DONE);
	g_assert_cmphex(p.req.given, ==, 1u << POLICY_SENDER |
	    1u << POLICY_RECIPIENT | 1u << POLICY_CLIENT_PORT);
	g_assert_cmphex(p.req.toolong, ==, 1u << POLICY_SENDER |
	    1u << POLICY_CLIENT_PORT);
	g_assert_null(policy_value(&p.req, POLICY_SENDER));
	g_assert_null(policy_value(&p.req, POLICY_CLIENT_PORT));
	g_assert_cmpuint(p.req.len[POLICY_SENDER], ==, 0);
	g_assert_cmpstr(p.req.sender, ==, "");
	g_assert_cmpstr(p.req.client_port, ==, "");
	g_assert_cmpstr(policy_value(&p.req, POLICY_RECIPIENT), ==, "r@x");
	/* Still given: a second one is a duplicate. */
	g_free(buf);
	buf = g_strconcat(over, "sender=x\n\n", NULL);
	g_assert_cmpint(parse(&p, buf, strlen(buf), &used), ==, POLICY_ERROR);
	g_assert_cmpstr(policy_parser_why(&p), ==, "duplicate attribute");
}

/* No empty line: more, for as long as the limits allow, in fixed memory. */
static void
test_no_end(void)
{
	struct policy_parser p;
	size_t used, lines = SAMPLE_LINES;

	g_assert_cmpuint(sizeof(p), <, 3 * 1024);
	g_test_message("sizeof(struct policy_parser) = %zu", sizeof(p));
	g_assert_cmpint(parse(&p, sample, sizeof(sample) - 2, &used), ==,
	    POLICY_MORE);
	for (int i = 0; i < 1000; i++) {
		g_assert_cmpint(policy_parse(&p, "", 0, &used), ==,
		    POLICY_MORE);
		g_assert_cmpuint(used, ==, 0);
	}
	/* Unknown lines, a byte at a time, up to the limit. */
	while (lines < POLICY_ATTRS_MAX) {
		static const char more[] = "stress=yes\n";

		for (size_t i = 0; i < sizeof(more) - 1; i++)
			g_assert_cmpint(policy_parse(&p, more + i, 1, &used),
			    ==, POLICY_MORE);
		lines++;
	}
	g_assert_cmpuint(p.req.nlines, ==, POLICY_ATTRS_MAX);
	g_assert_cmpint(policy_parse(&p, "x", 1, &used), ==, POLICY_ERROR);
	g_assert_cmpstr(policy_parser_why(&p), ==, "too many attributes");
}

/* Each kept attribute goes to its own field under its Postfix name. */
static void
test_names(void)
{
	struct policy_parser p;
	size_t used;

	g_assert_cmpstr(policy_attr_name(POLICY_REQUEST), ==, "request");
	g_assert_cmpstr(policy_attr_name(POLICY_REVERSE_CLIENT_NAME), ==,
	    "reverse_client_name");
	g_assert_cmpstr(policy_attr_name(POLICY_SERVER_PORT), ==,
	    "server_port");
	for (int a = 0; a < POLICY_NATTR; a++) {
		g_autofree char *buf = g_strdup_printf("%s=v%d\n\n",
		    policy_attr_name(a), a);
		g_autofree char *want = g_strdup_printf("v%d", a);

		g_assert_cmpint(parse(&p, buf, strlen(buf), &used), ==,
		    POLICY_DONE);
		g_assert_cmphex(p.req.given, ==, 1u << a);
		for (int b = 0; b < POLICY_NATTR; b++)
			g_assert_cmpstr(policy_value(&p.req, b), ==,
			    b == a ? want : NULL);
	}
}

static void
test_reply(void)
{
	char buf[64];
	static const char *const bad[] = { "DUNNO\n", "DUNNO\r", "\nDUNNO",
		"a\r\nb" };

	g_assert_cmpuint(policy_reply(buf, sizeof(buf), "DUNNO", 5), ==, 14);
	g_assert_cmpstr(buf, ==, "action=DUNNO\n\n");
	g_assert_cmpuint(policy_reply(buf, sizeof(buf),
	    "450 4.7.1 try again later", 25), ==, 34);
	g_assert_cmpstr(buf, ==, "action=450 4.7.1 try again later\n\n");
	/* Exactly fits, with its NUL; one byte short. */
	g_assert_cmpuint(policy_reply(buf, 15, "DUNNO", 5), ==, 14);
	g_assert_cmpuint(policy_reply(buf, 14, "DUNNO", 5), ==, 0);
	g_assert_cmpuint(policy_reply(buf, 0, "DUNNO", 5), ==, 0);
	g_assert_cmpuint(policy_reply(buf, 9, "", 0), ==, 0);
	g_assert_cmpuint(policy_reply(buf, sizeof(buf), "x", (size_t)-1), ==,
	    0);
	g_assert_cmpuint(policy_reply(buf, sizeof(buf), "", 0), ==, 0);
	g_assert_cmpuint(policy_reply(buf, sizeof(buf), "DU\0NNO", 6), ==, 0);
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
		g_assert_cmpuint(policy_reply(buf, sizeof(buf), bad[i],
		    strlen(bad[i])), ==, 0);
	/* A NUL past len is not looked at. */
	g_assert_cmpuint(policy_reply(buf, sizeof(buf), "OK\0", 2), ==, 11);
	g_assert_cmpstr(buf, ==, "action=OK\n\n");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/policy/sample", test_sample);
	g_test_add_func("/policy/split", test_split);
	g_test_add_func("/policy/two", test_two);
	g_test_add_func("/policy/crlf", test_crlf);
	g_test_add_func("/policy/unknown", test_unknown);
	g_test_add_func("/policy/errors", test_errors);
	g_test_add_func("/policy/binary", test_binary);
	g_test_add_func("/policy/line-long", test_line_long);
	g_test_add_func("/policy/too-many", test_too_many);
	g_test_add_func("/policy/oversize", test_oversize);
	g_test_add_func("/policy/no-end", test_no_end);
	g_test_add_func("/policy/names", test_names);
	g_test_add_func("/policy/reply", test_reply);
	return g_test_run();
}
