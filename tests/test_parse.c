/*
 * test_parse.c - the milter's handling of strings the client controls
 * (verdict/parse.c): which Authentication-Results claim our authserv-id
 * (quoted, escaped, any case, a trailing dot), the folding of our own
 * Authentication-Results header within RFC 5322's line limits, and
 * which {client_resolve} values confirm the client's host name.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include <glib.h>

#include "parse.h"

/* "Authentication-Results: ", before the value on the first line. */
#define AR_PREFIX	(sizeof("Authentication-Results: ") - 1)

static void
test_ar_ours(void)
{
	static const char *const ours[] = {
		"primary.test; dkim=pass",
		"primary.test",
		"primary.test 1; dkim=pass",
		"primary.test(comment); dkim=pass",
		"\r\n\t(a (nested) comment) primary.test ; dkim=pass",
		"\"primary.test\"; dkim=pass",
		"\"primary.test\"",
		" \"primary.test\" (c); dkim=pass",
		"\"prim\\ary\\.test\"; dkim=pass",
		"\"PRIMARY.TEST.\"; dkim=pass",
		"PRIMARY.TEST.; dkim=pass",
		"Primary.Test.",
		"(c) primary.test.(c); dkim=pass",
	};
	static const char *const not_ours[] = {
		"other.example; dkim=pass",
		"primary.testx; dkim=pass",
		"aprimary.test; dkim=pass",
		"primary.test..; dkim=pass",
		"\"primary.test..\"; dkim=pass",
		"\"primary.test; dkim=pass",
		"\"primary.test\\\"; dkim=pass",
		"\"primary.test\"x; dkim=pass",
		"\"primary test\"; dkim=pass",
		"\"\"; dkim=pass",
		"; dkim=pass",
		"",
		"(primary.test) other.example; dkim=pass",
		".primary.test; dkim=pass",
	};

	for (size_t i = 0; i < G_N_ELEMENTS(ours); i++) {
		g_test_message("ours: %s", ours[i]);
		g_assert_true(parse_ar_is_ours(ours[i], "primary.test"));
		g_assert_true(parse_ar_is_ours(ours[i], "Primary.Test."));
	}
	for (size_t i = 0; i < G_N_ELEMENTS(not_ours); i++) {
		g_test_message("not ours: %s", not_ours[i]);
		g_assert_false(parse_ar_is_ours(not_ours[i], "primary.test"));
	}
}

static void
test_ar_authserv_id(void)
{
	static const struct {
		const char *value, *id;
	} rows[] = {
		{ "mx.Example.ORG; spf=pass", "mx.example.org" },
		{ "mx.example.org.", "mx.example.org" },
		{ "mx.example.org..; spf=pass", "mx.example.org." },
		{ " (c) \"MX.example.org\" (d); x", "mx.example.org" },
		{ "\"a\\\"b\\\\c\"; x", "a\"b\\c" },
		{ "\"mx.exa\r\n mple.org\"; x", "mx.exa mple.org" },
		{ "\"\"; x", NULL },
		{ "\".\"; x", NULL },
		{ "\"unterminated; x", NULL },
		{ "\"ends\\", NULL },
		{ "\"a\"b; x", NULL },
		{ "; x", NULL },
		{ "(only a comment)", NULL },
		{ "", NULL },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
		g_autofree char *id = parse_ar_authserv_id(rows[i].value);

		g_test_message("%s", rows[i].value);
		g_assert_cmpstr(id, ==, rows[i].id);
	}
}

/*
 * h as the MTA writes it after "Authentication-Results: ": LF then a tab
 * between lines (libmilter's folding), no CR, no line over max octets.
 */
static void
assert_folded(const char *h, size_t max)
{
	g_auto(GStrv) lines = g_strsplit(h, "\n", -1);

	g_assert_null(strchr(h, '\r'));
	for (size_t i = 0; lines[i] != NULL; i++) {
		size_t n = strlen(lines[i]) + (i == 0 ? AR_PREFIX : 0);

		g_test_message("line %zu (%zu octets): %s", i, n, lines[i]);
		g_assert_cmpuint(n, <=, max);
		if (i > 0)
			g_assert_true(lines[i][0] == '\t' && lines[i][1] != '\0');
	}
}

/* h unfolded: each LF and its tab one blank. */
static char *
unfold(const char *h)
{
	g_auto(GStrv) lines = g_strsplit(h, "\n\t", -1);

	return g_strjoinv(" ", lines);
}

static void
test_ar_header_short(void)
{
	g_autofree char *h = parse_ar_header("primary.test", "pass",
	    "a@pass.test", "mail.client.example");
	g_autofree char *n = parse_ar_header("primary.test", "none", "",
	    "mail.client.example");

	g_assert_cmpstr(h, ==, "primary.test; spf=pass smtp.mailfrom=a@pass.test");
	g_assert_cmpstr(n, ==, "primary.test; spf=none "
	    "smtp.helo=mail.client.example");
}

static void
test_ar_header_fold(void)
{
	g_autofree char *from = g_strdup_printf("%s@%s",
	    "a-rather-long-local-part.with.dots-and-more", "example.org");
	g_autofree char *h = parse_ar_header("mx.primary.example.org",
	    "softfail", from, NULL);
	g_autofree char *flat = unfold(h);
	g_autofree char *want = g_strdup_printf("mx.primary.example.org; "
	    "spf=softfail smtp.mailfrom=%s", from);

	g_assert_nonnull(strchr(h, '\n'));
	assert_folded(h, 78);
	g_assert_cmpstr(flat, ==, want);
}

/*
 * A value too long for the first line, not for one of its own: that line,
 * whole (on one line the header would be 1023 octets).
 */
static void
test_ar_header_long(void)
{
	g_autofree char *local = g_strnfill(950, 'x');
	g_autofree char *from = g_strconcat(local, "@example.org", NULL);
	g_autofree char *h = parse_ar_header("primary.test", "pass", from,
	    NULL);
	g_autofree char *flat = unfold(h);
	g_autofree char *want = g_strconcat("primary.test; spf=pass "
	    "smtp.mailfrom=", from, NULL);

	assert_folded(h, 998);
	g_assert_cmpstr(flat, ==, want);
}

/* One token longer than a line can hold: never a line over 998. */
static void
test_ar_header_huge(void)
{
	g_autofree char *local = g_strnfill(2000, 'x');
	g_autofree char *from = g_strconcat(local, "@example.org", NULL);
	g_autofree char *helo = g_strnfill(1500, 'h');
	g_autofree char *quoted = g_strnfill(1200, '"');
	g_autofree char *h1 = parse_ar_header("primary.test", "pass", from,
	    NULL);
	g_autofree char *h2 = parse_ar_header("primary.test", "none", "",
	    helo);
	g_autofree char *h3 = parse_ar_header("primary.test", "fail", quoted,
	    NULL);

	assert_folded(h1, 998);
	assert_folded(h2, 998);
	assert_folded(h3, 998);
	g_assert_true(g_str_has_prefix(h1, "primary.test; spf=pass"));
	g_assert_true(g_str_has_prefix(h2, "primary.test; spf=none"));
	g_assert_true(g_str_has_prefix(h3, "primary.test; spf=fail"));
	g_assert_null(strstr(h1, "xxxxxxxxxx"));
	g_assert_null(strstr(h2, "hhhhhhhhhh"));
}

static void
test_name_confirmed(void)
{
	g_assert_true(parse_name_confirmed("OK"));
	g_assert_true(parse_name_confirmed("ok"));
	g_assert_false(parse_name_confirmed("FORGED"));
	g_assert_false(parse_name_confirmed("FAIL"));
	g_assert_false(parse_name_confirmed("TEMP"));
	g_assert_false(parse_name_confirmed("OKAY"));
	g_assert_false(parse_name_confirmed(""));
	g_assert_false(parse_name_confirmed(NULL));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/parse/ar-ours", test_ar_ours);
	g_test_add_func("/parse/ar-authserv-id", test_ar_authserv_id);
	g_test_add_func("/parse/ar-header/short", test_ar_header_short);
	g_test_add_func("/parse/ar-header/fold", test_ar_header_fold);
	g_test_add_func("/parse/ar-header/long", test_ar_header_long);
	g_test_add_func("/parse/ar-header/huge", test_ar_header_huge);
	g_test_add_func("/parse/name-confirmed", test_name_confirmed);
	return g_test_run();
}
