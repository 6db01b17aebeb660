/*
 * test_decide.c - the milter's decision table with a fake clock: window
 * edges, liveness margins, grace, bot evidence, SPF, every action.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include <glib.h>

#include "allow.h"
#include "decide.h"
#include "helo.h"

#define MIN_MS	INT64_C(60000)
#define NOW	(INT64_C(29833333) * MIN_MS)	/* a whole minute */

/* A liveness record marked every minute from..to (ms). */
static void
alive_span(struct alive *a, int64_t from, int64_t to)
{
	for (int64_t t = from; t <= to; t += MIN_MS)
		alive_mark(a, t);
}

static void
test_table(void)
{
	static const struct {
		const char *what;
		int64_t tarpit_first, tarpit_last, primary_first;
		int64_t up_from, up_to;		/* liveness, relative to NOW */
		int64_t started;		/* relative to NOW */
		uint32_t evidence;
		uint8_t helo_class;
		enum spf_result spf;
		enum verdict expect;
	} rows[] = {
		{ "never at the tar pit", 0, 0, -5 * MIN_MS, -60 * MIN_MS, 0,
		    -600 * MIN_MS, 0, HELO_FQDN, SPF_NONE_, VERDICT_NONE },
		{ "tar pit first, primary up", -5 * MIN_MS, -5 * MIN_MS, 0,
		    -60 * MIN_MS, 0, -600 * MIN_MS, 0, HELO_FQDN, SPF_NONE_,
		    VERDICT_BACKUP_FIRST },
		{ "primary saw it earlier", -5 * MIN_MS, -5 * MIN_MS,
		    -9 * MIN_MS, -60 * MIN_MS, 0, -600 * MIN_MS, 0, HELO_FQDN,
		    SPF_NONE_, VERDICT_NONE },
		{ "outside the window", -8 * 24 * 60 * MIN_MS,
		    -8 * 24 * 60 * MIN_MS, 0, -60 * MIN_MS, 0, -600 * MIN_MS, 0,
		    HELO_FQDN, SPF_NONE_, VERDICT_NONE },
		{ "window edge: 7 days exactly", -7 * 24 * 60 * MIN_MS,
		    -7 * 24 * 60 * MIN_MS, 0, -8 * 24 * 60 * MIN_MS, 0,
		    -9 * 24 * 60 * MIN_MS, 0, HELO_FQDN, SPF_NONE_,
		    VERDICT_BACKUP_FIRST },
		{ "primary down before the contact", -5 * MIN_MS, -5 * MIN_MS,
		    0, -4 * MIN_MS, 0, -600 * MIN_MS, 0, HELO_FQDN, SPF_NONE_,
		    VERDICT_UNPROVEN },
		{ "primary went down before an old contact", -60 * MIN_MS,
		    -60 * MIN_MS, 0, -120 * MIN_MS, -61 * MIN_MS, -600 * MIN_MS,
		    0, HELO_FQDN, SPF_NONE_, VERDICT_UNPROVEN },
		{ "primary came back after an old contact", -60 * MIN_MS,
		    -60 * MIN_MS, 0, -40 * MIN_MS, 0, -600 * MIN_MS, 0,
		    HELO_FQDN, SPF_NONE_, VERDICT_UNPROVEN },
		{ "up only in the contact's own minute", -5 * MIN_MS,
		    -5 * MIN_MS, 0, -5 * MIN_MS, 0, -600 * MIN_MS, 0, HELO_FQDN,
		    SPF_NONE_, VERDICT_UNPROVEN },
		{ "up the minute before the contact", -5 * MIN_MS, -5 * MIN_MS,
		    0, -6 * MIN_MS, -6 * MIN_MS, -600 * MIN_MS, 0, HELO_FQDN,
		    SPF_NONE_, VERDICT_BACKUP_FIRST },
		{ "up exactly margin before", -5 * MIN_MS, -5 * MIN_MS, 0,
		    -15 * MIN_MS, -15 * MIN_MS, -600 * MIN_MS, 0, HELO_FQDN,
		    SPF_NONE_, VERDICT_BACKUP_FIRST },
		{ "up just over margin before", -5 * MIN_MS, -5 * MIN_MS, 0,
		    -16 * MIN_MS, -16 * MIN_MS, -600 * MIN_MS, 0, HELO_FQDN,
		    SPF_NONE_, VERDICT_UNPROVEN },
		{ "contact in start-up grace", -5 * MIN_MS, -5 * MIN_MS, 0,
		    -60 * MIN_MS, 0, -8 * MIN_MS, 0, HELO_FQDN, SPF_NONE_,
		    VERDICT_UNPROVEN },
		{ "contact just after grace", -5 * MIN_MS, -5 * MIN_MS, 0,
		    -60 * MIN_MS, 0, -15 * MIN_MS, 0, HELO_FQDN, SPF_NONE_,
		    VERDICT_BACKUP_FIRST },
		{ "bot evidence", -5 * MIN_MS, -5 * MIN_MS, 0, -60 * MIN_MS, 0,
		    -600 * MIN_MS, EVIDENCE_PREGREET, HELO_FQDN, SPF_NONE_,
		    VERDICT_BACKUP_FIRST_BOT },
		{ "bare IP HELO", -5 * MIN_MS, -5 * MIN_MS, 0, -60 * MIN_MS, 0,
		    -600 * MIN_MS, 0, HELO_BARE_IPV4, SPF_NONE_,
		    VERDICT_BACKUP_FIRST_BOT },
		{ "single-label HELO", -5 * MIN_MS, -5 * MIN_MS, 0,
		    -60 * MIN_MS, 0, -600 * MIN_MS, 0, HELO_SINGLE_LABEL,
		    SPF_NONE_, VERDICT_BACKUP_FIRST_BOT },
		{ "SPF fail", -5 * MIN_MS, -5 * MIN_MS, 0, -60 * MIN_MS, 0,
		    -600 * MIN_MS, 0, HELO_FQDN, SPF_FAIL_,
		    VERDICT_BACKUP_FIRST_BOT },
		{ "SPF softfail", -5 * MIN_MS, -5 * MIN_MS, 0, -60 * MIN_MS, 0,
		    -600 * MIN_MS, 0, HELO_FQDN, SPF_SOFTFAIL_,
		    VERDICT_BACKUP_FIRST_BOT },
		{ "SPF pass stays plain", -5 * MIN_MS, -5 * MIN_MS, 0,
		    -60 * MIN_MS, 0, -600 * MIN_MS, 0, HELO_FQDN, SPF_PASS_,
		    VERDICT_BACKUP_FIRST },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
		struct hit_record r = { 0 };
		struct alive a = { 0 };
		struct decision d;
		struct decide_input in = { &r, &a, NOW, 0, 7 * 24 * 60 * MIN_MS,
		    10 * MIN_MS, 10 * MIN_MS, rows[i].spf };

		if (rows[i].tarpit_first != 0) {
			r.tarpit_first = NOW + rows[i].tarpit_first;
			r.tarpit_last = NOW + rows[i].tarpit_last;
			r.tarpit_sessions = 1;
			r.helo_len = 3;
			memcpy(r.helo, "x.y", 3);
		}
		if (rows[i].primary_first != 0)
			r.primary_first = r.primary_last = NOW +
			    rows[i].primary_first;
		r.evidence = rows[i].evidence;
		r.helo_class = rows[i].helo_class;
		alive_span(&a, NOW + rows[i].up_from, NOW + rows[i].up_to);
		in.started = NOW + rows[i].started;
		decide(&in, &d);
		g_test_message("%s: %s (%s)", rows[i].what,
		    verdict_name(d.verdict), d.why);
		if (d.verdict != rows[i].expect)
			g_error("%s: got %s (%s), want %s", rows[i].what,
			    verdict_name(d.verdict), d.why,
			    verdict_name(rows[i].expect));
	}
}

/* No record at all, and a record the primary made alone. */
static void
test_no_record(void)
{
	struct alive a = { 0 };
	struct decision d;
	struct decide_input in = { NULL, &a, NOW, 0, MIN_MS, MIN_MS, 0,
	    SPF_FAIL_ };

	decide(&in, &d);
	g_assert_cmpint(d.verdict, ==, VERDICT_NONE);
	g_assert_true(d.spf_bad);
	g_assert_cmpstr(verdict_name(VERDICT_BACKUP_FIRST_BOT), ==,
	    "backup-first-bot");
	g_assert_cmpstr(spf_result_name(SPF_SOFTFAIL_), ==, "softfail");
	g_assert_cmpstr(spf_result_name(99), ==, "unknown");
}

static void
test_actions(void)
{
	struct conf_milter c = { .action = CONF_ACTION_QUARANTINE,
	    .action_bot = CONF_ACTION_REJECT };
	struct decision d = { 0 };

	d.verdict = VERDICT_NONE;
	g_assert_cmpint(decide_action(&d, &c), ==, -1);
	d.verdict = VERDICT_UNPROVEN;
	g_assert_cmpint(decide_action(&d, &c), ==, -1);
	d.verdict = VERDICT_BACKUP_FIRST;
	g_assert_cmpint(decide_action(&d, &c), ==, CONF_ACTION_QUARANTINE);
	d.verdict = VERDICT_BACKUP_FIRST_BOT;
	g_assert_cmpint(decide_action(&d, &c), ==, CONF_ACTION_REJECT);
	for (int a = CONF_ACTION_TAG; a <= CONF_ACTION_REJECT; a++) {
		c.action = (enum conf_action)a;
		d.verdict = VERDICT_BACKUP_FIRST;
		g_assert_cmpint(decide_action(&d, &c), ==, a);
	}
}

/* The liveness ring: marks, spans, laps, and the encoding. */
static void
test_alive(void)
{
	struct alive a = { 0 }, b;
	uint8_t buf[ALIVE_SIZE];

	g_assert_false(alive_any(&a, 0, NOW));
	alive_mark(&a, NOW);
	g_assert_true(alive_any(&a, NOW, NOW));
	g_assert_true(alive_any(&a, NOW - 5 * MIN_MS, NOW + 5 * MIN_MS));
	g_assert_false(alive_any(&a, NOW - 5 * MIN_MS, NOW - MIN_MS));
	/* A jump clears the minutes in between, and a lap clears all. */
	alive_mark(&a, NOW + 100 * MIN_MS);
	g_assert_true(alive_any(&a, NOW, NOW));
	g_assert_false(alive_any(&a, NOW + MIN_MS, NOW + 99 * MIN_MS));
	alive_mark(&a, NOW + (ALIVE_MINUTES + 200) * MIN_MS);
	g_assert_false(alive_any(&a, NOW, NOW + 100 * MIN_MS));
	/* Older than the ring: ignored. */
	alive_mark(&a, NOW - 10 * MIN_MS);
	g_assert_false(alive_any(&a, NOW - 10 * MIN_MS, NOW - 10 * MIN_MS));
	g_assert_cmpuint(alive_encode(&a, buf), ==, ALIVE_SIZE);
	g_assert_true(alive_decode(buf, ALIVE_SIZE, &b));
	g_assert_cmpmem(&a, sizeof(a), &b, sizeof(b));
	g_assert_false(alive_decode(buf, ALIVE_SIZE - 1, &b));
	buf[0] = 2;
	g_assert_false(alive_decode(buf, ALIVE_SIZE, &b));
}

/*
 * The wall clock went back: minutes already lived (perhaps with the
 * primary down) must not be marked up again, or a tar-pit contact made
 * in them would count. Marks a few minutes late still land; a whole ring
 * back, the new clock is believed.
 */
static void
test_alive_clock_back(void)
{
	int64_t newest = 0;

	g_assert_true(alive_clock_ok(&newest, NOW));
	g_assert_true(alive_clock_ok(&newest, NOW - ALIVE_LATE * MIN_MS));
	g_assert_false(alive_clock_ok(&newest,
	    NOW - (ALIVE_LATE + 1) * MIN_MS));
	g_assert_false(alive_clock_ok(&newest, NOW - 24 * 60 * MIN_MS));
	/* Caught up: marks again. */
	g_assert_true(alive_clock_ok(&newest, NOW + MIN_MS));
	/* A clock a day ahead, then put right: no marks until it is back. */
	g_assert_true(alive_clock_ok(&newest, NOW + 24 * 60 * MIN_MS));
	g_assert_false(alive_clock_ok(&newest, NOW + 2 * MIN_MS));
	/* More than the ring back: the earlier clock was wrong. */
	g_assert_true(alive_clock_ok(&newest,
	    NOW + (24 * 60 - ALIVE_MINUTES) * MIN_MS));
	g_assert_true(alive_clock_ok(&newest,
	    NOW + (24 * 60 - ALIVE_MINUTES + 1) * MIN_MS));
}

static void
test_allow(void)
{
	static const char text[] = "# allow-list\n192.0.2.0/24\n"
	    "2001:db8::/32   # a comment\n\nExample.ORG.\npartner.test\n";
	g_autoptr(GError) err = NULL;
	struct allow *al = allow_parse("allow.txt", text, sizeof(text) - 1,
	    &err);
	struct addr a;

	g_assert_no_error(err);
	g_assert_true(addr_parse("192.0.2.77", &a) && allow_addr(al, &a));
	g_assert_true(addr_parse("2001:db8:5::1", &a) && allow_addr(al, &a));
	g_assert_true(addr_parse("198.51.100.1", &a) && !allow_addr(al, &a));
	g_assert_true(allow_domain(al, "example.org", 11));
	g_assert_true(allow_domain(al, "MX1.example.org.", 16));
	g_assert_false(allow_domain(al, "badexample.org", 14));
	g_assert_false(allow_domain(al, "org", 3));
	g_assert_true(allow_domain(al, "a.b.partner.test", 16));
	g_assert_false(allow_domain(NULL, "example.org", 11));
	allow_free(al);

	al = allow_parse("bad.txt", "10.0.0.1/8\nok.example\nnot a name\n",
	    33, &err);
	g_assert_null(al);
	g_assert_nonnull(strstr(err->message, "bad.txt:1: not a network"));
	g_assert_nonnull(strstr(err->message, "bad.txt:3: not a network"));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/decide/table", test_table);
	g_test_add_func("/decide/no-record", test_no_record);
	g_test_add_func("/decide/actions", test_actions);
	g_test_add_func("/decide/alive", test_alive);
	g_test_add_func("/decide/alive-clock-back", test_alive_clock_back);
	g_test_add_func("/decide/allow", test_allow);
	return g_test_run();
}
