/*
 * test_listing.c - what the published DNS list says (verdict/listing.c):
 * the codes for records and liveness, table-driven, among them the
 * legitimate MTA that fell back to the backup because the primary was
 * down (never backup-first); the networks never listed; the TXT and its
 * strict parser; record_parse_time against record_format_time.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include <glib.h>

#include "helo.h"
#include "listing.h"

#define MIN_MS	INT64_C(60000)
#define DAY	(24 * 60 * MIN_MS)
#define NOW	(INT64_C(29833333) * MIN_MS + 17000)

struct row {
	const char	*what;
	int64_t		tarpit_first, tarpit_last;	/* minutes before NOW */
	int64_t		primary_first;		/* minutes before; 0: never */
	uint32_t	evidence;
	uint8_t		helo_class;		/* 0 FQDN */
	/* The primary's marks, minutes before NOW (inclusive); 0,0 none. */
	int64_t		up_from, up_to;
	bool		seen;			/* [list] seen = yes */
	unsigned	codes;
};

#define BF	LISTING_BACKUP_FIRST
#define BOT	LISTING_BOT
#define SEEN	LISTING_SEEN

static const struct row rows[] = {
	{ "tar pit first, primary up around it", 30, 30, 0, 0, 0, 60, 1,
	  false, BF },
	{ "... and the primary saw it later", 30, 30, 10, 0, 0, 60, 1,
	  false, BF },
	{ "the primary saw it first", 30, 30, 40, 0, 0, 60, 1, false, 0 },
	{ "primary down around it (a legitimate fallback)", 30, 30, 0, 0,
	  0, 20, 1, false, 0 },
	{ "primary down before it", 30, 30, 0, 0, 0, 25, 1, false, 0 },
	{ "primary never marked", 30, 30, 0, 0, 0, 0, 0, false, 0 },
	/* Publishing: a recent contact is not proven by "now". */
	{ "a minute ago, no mark after it yet", 1, 1, 0, 0, 0, 60, 2,
	  false, 0 },
	{ "bot evidence, primary down: bot only", 30, 30, 0, 1, 0, 0, 0,
	  false, BOT },
	{ "bot evidence and backup-first", 30, 30, 0, 1, 0, 60, 1, false,
	  BF | BOT },
	{ "a bare-address HELO is bot evidence", 30, 30, 40, 0,
	  HELO_BARE_IPV4, 60, 1, false, BOT },
	{ "seen only, seen off", 30, 30, 40, 0, 0, 60, 1, false, 0 },
	{ "seen only, seen on", 30, 30, 40, 0, 0, 60, 1, true, SEEN },
	{ "seen is never added to another code", 30, 30, 0, 1, 0, 0, 0, true,
	  BOT },
	{ "last contact within expire (7d)", 8 * 24 * 60, 7 * 24 * 60 - 1,
	  0, 1, 0, 0, 0, false, BOT },
	{ "last contact past expire", 8 * 24 * 60, 7 * 24 * 60 + 1, 0, 1, 0,
	  0, 0, true, 0 },
	{ "never met the tar pit", 0, 0, 40, 0, 0, 60, 1, true, 0 },
};

static struct conf *
load(const char *text, const char *set)
{
	const char *sets[] = { set, NULL };
	g_autoptr(GError) err = NULL;
	struct conf *c = conf_load_data("test.conf", text, strlen(text), sets,
	    &err);

	g_assert_no_error(err);
	return c;
}

static void
test_codes(void)
{
	for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
		const struct row *r = &rows[i];
		struct verdict_setup su = {
			.conf = load("[milter]\nalive_margin = 10m\n",
			    r->seen ? "list.seen=yes" : NULL),
		};
		struct hit_record rec = { 0 };
		struct alive al = { 0 };

		if (r->tarpit_first != 0) {
			rec.tarpit_first = NOW - r->tarpit_first * MIN_MS;
			rec.tarpit_last = NOW - r->tarpit_last * MIN_MS;
			rec.tarpit_sessions = 1;
		}
		if (r->primary_first != 0)
			rec.primary_first = rec.primary_last =
			    NOW - r->primary_first * MIN_MS;
		rec.evidence = r->evidence;
		rec.helo_class = r->helo_class != 0 ? r->helo_class : HELO_FQDN;
		rec.helo_len = 2;
		memcpy(rec.helo, "mx", 2);
		if (r->up_from != 0)
			for (int64_t m = r->up_from; m >= r->up_to; m--)
				alive_mark(&al, NOW - m * MIN_MS);
		if (listing_codes(&su, &rec, &al, NOW) != r->codes)
			g_error("%s: codes %#x, want %#x", r->what,
			    listing_codes(&su, &rec, &al, NOW), r->codes);
		conf_free(su.conf);
	}
}

static void
test_exclusions(void)
{
	static const char allow_text[] = "192.0.2.0/28\nexample.org\n";
	g_autoptr(GError) err = NULL;
	struct verdict_setup su = {
		.conf = load("[milter]\ntrusted_networks = 10.0.0.0/8;"
		    "2001:db8::/32\n", NULL),
		.allow = allow_parse("allow", allow_text, strlen(allow_text),
		    &err),
	};
	static const struct {
		const char	*net;
		bool		excluded;
	} cases[] = {
		{ "10.1.2.3/32", true }, { "10.0.0.0/8", true },
		{ "10.0.0.0/7", false },	/* holds more than trusted */
		{ "11.0.0.1/32", false }, { "192.0.2.5/32", true },
		{ "192.0.2.0/24", false },	/* punched by "!", not left out */
		{ "127.0.0.1/32", true }, { "127.0.0.2/32", false },
		{ "2001:db8:1:2::/64", true }, { "2001:db9::/64", false },
	};
	g_autoptr(GArray) ex = g_array_new(FALSE, FALSE,
	    sizeof(struct addr_cidr));
	char buf[ADDR_NETKEY_LEN];

	g_assert_no_error(err);
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct addr_cidr net;

		g_assert_true(addr_cidr_parse(cases[i].net, &net, NULL));
		if (listing_excluded(&su, &net) != cases[i].excluded)
			g_error("%s: excluded %d", cases[i].net,
			    !cases[i].excluded);
	}
	listing_exclusions(&su, ex);
	g_assert_cmpuint(ex->len, ==, 4);
	g_assert_cmpstr(addr_cidr_format(&g_array_index(ex, struct addr_cidr,
	    2), buf), ==, "192.0.2.0/28");
	g_assert_cmpstr(addr_cidr_format(&g_array_index(ex, struct addr_cidr,
	    3), buf), ==, "127.0.0.1/32");
	allow_free(su.allow);
	conf_free(su.conf);
}

static void
test_txt(void)
{
	struct hit_record rec = {
		.tarpit_first = NOW - 90 * MIN_MS + 123,
		.tarpit_last = NOW,
		.helo_len = 5,
		.helo = "evil.",
	};
	char txt[LISTING_TXT_LEN];
	int64_t first = 0, last = 0;
	static const uint8_t a2[4] = { 127, 0, 0, 2 }, a4[4] = { 127, 0, 0, 4 },
	    a5[4] = { 127, 0, 0, 5 }, b2[4] = { 127, 0, 1, 2 };

	g_assert_cmpstr(listing_txt(LISTING_BOT, &rec, txt), ==,
	    "bot; first=2026-09-21T12:43:17.123Z; "
	    "last=2026-09-21T14:13:17.000Z");
	g_assert_null(strstr(txt, "evil"));
	g_assert_true(listing_txt_parse(txt, strlen(txt), &first, &last));
	g_assert_cmpint(first, ==, rec.tarpit_first);
	g_assert_cmpint(last, ==, rec.tarpit_last);
	listing_txt(LISTING_BACKUP_FIRST, &rec, txt);
	g_assert_true(g_str_has_prefix(txt, "backup-first; "));
	g_assert_true(listing_txt_parse(txt, strlen(txt), &first, &last));
	/* Anything else is refused, whole. */
	static const char *const bad[] = {
		"", "bot", "bot; first=2026-09-21T12:43:17.123Z",
		"bot; first=2026-09-21T12:43:17.123Z; last=",
		"bot; first=2026-09-21T12:43:17.123Z; "
		    "last=2026-09-21T14:13:17.000Z ",
		"bot; first=2026-09-21T14:13:17.000Z; "
		    "last=2026-09-21T12:43:17.123Z",	/* last before first */
		"spam; first=2026-09-21T12:43:17.123Z; "
		    "last=2026-09-21T14:13:17.000Z",
		"bot; test entry (RFC 5782)",
		"bot; first=2026-02-29T12:43:17.123Z; "
		    "last=2026-09-21T14:13:17.000Z",
	};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
		if (listing_txt_parse(bad[i], strlen(bad[i]), &first, &last))
			g_error("accepted \"%s\"", bad[i]);
	/* Not NUL-terminated: only len bytes are read. */
	listing_txt(LISTING_SEEN, &rec, txt);
	g_assert_false(listing_txt_parse(txt, strlen(txt) - 1, &first, &last));
	g_assert_cmpuint(listing_code_of(a2), ==, LISTING_BACKUP_FIRST);
	g_assert_cmpuint(listing_code_of(a4), ==, LISTING_SEEN);
	g_assert_cmpuint(listing_code_of(a5), ==, 0);
	g_assert_cmpuint(listing_code_of(b2), ==, 0);
	g_assert_cmpuint(listing_octet(LISTING_BOT), ==, 3);
}

static void
test_time(void)
{
	static const int64_t times[] = {
		1, 999, 1000, 951782400000 /* 2000-02-29 */, NOW,
		INT64_C(4102444799999),	/* 2099-12-31T23:59:59.999Z */
	};
	static const char *const bad[] = {
		"2026-13-01T00:00:00.000Z", "2026-00-01T00:00:00.000Z",
		"2026-04-31T00:00:00.000Z", "2100-02-29T00:00:00.000Z",
		"2026-01-01T24:00:00.000Z", "2026-01-01T00:60:00.000Z",
		"2026-01-01T00:00:60.000Z", "2026-01-01T00:00:00.000",
		"2026-01-01 00:00:00.000Z", "1969-12-31T23:59:59.999Z",
		"2026-01-01T00:00:00.00aZ", "+026-01-01T00:00:00.000Z", "-",
	};
	char buf[RECORD_TIME_LEN];
	int64_t ms;

	for (size_t i = 0; i < G_N_ELEMENTS(times); i++) {
		record_format_time(times[i], buf);
		g_assert_true(record_parse_time(buf, strlen(buf), &ms));
		g_assert_cmpint(ms, ==, times[i]);
	}
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
		if (record_parse_time(bad[i], strlen(bad[i]), &ms))
			g_error("accepted %s", bad[i]);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/listing/codes", test_codes);
	g_test_add_func("/listing/exclusions", test_exclusions);
	g_test_add_func("/listing/txt", test_txt);
	g_test_add_func("/listing/time", test_time);
	return g_test_run();
}
