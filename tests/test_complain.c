#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

/*
 * test_complain.c - unit tests for shared/complain.c, the rate-limited
 * complaints of slowspam-policyd and the verdict library: the rule on
 * a clock the test sets (the first at once, then one an interval, the
 * count of those kept quiet, a clock that goes back), kinds kept apart,
 * zeroed static storage as it is used, many threads at once, and the
 * text complain() logs (captured by g_test_trap_subprocess).
 */

#include <pthread.h>

#include <glib.h>

#include "complain.h"
#include "log.h"

#define EVERY	1000	/* us, the interval given to complaint_due */

/* The first is said at once, with none kept quiet before it. */
static void
test_first(void)
{
	struct complaint c;
	unsigned more = 99;

	complaint_init(&c);
	g_assert_true(complaint_due(&c, 5, EVERY, &more));
	g_assert_cmpuint(more, ==, 0);
	complaint_clear(&c);
}

/* Within the interval: counted; at its end: said with the count, reset. */
static void
test_interval(void)
{
	struct complaint c;
	unsigned more = 99;

	complaint_init(&c);
	g_assert_true(complaint_due(&c, 1, EVERY, &more));
	for (int i = 0; i < 7; i++)
		g_assert_false(complaint_due(&c, 1 + i * 100, EVERY, &more));
	/* One microsecond short is still within. */
	more = 99;
	g_assert_false(complaint_due(&c, EVERY, EVERY, &more));
	g_assert_cmpuint(more, ==, 99);		/* untouched when quiet */
	g_assert_true(complaint_due(&c, 1 + EVERY, EVERY, &more));
	g_assert_cmpuint(more, ==, 8);
	/* The next interval counts from the line just said. */
	g_assert_false(complaint_due(&c, 2 * EVERY, EVERY, &more));
	g_assert_true(complaint_due(&c, 1 + 2 * EVERY, EVERY, &more));
	g_assert_cmpuint(more, ==, 1);
	/* A quiet interval: the next line says none were kept. */
	g_assert_true(complaint_due(&c, 10 * EVERY, EVERY, &more));
	g_assert_cmpuint(more, ==, 0);
	complaint_clear(&c);
}

/* A clock that goes back does not open the gate early. */
static void
test_clock_back(void)
{
	struct complaint c;
	unsigned more = 0;

	complaint_init(&c);
	g_assert_true(complaint_due(&c, 5 * EVERY, EVERY, &more));
	g_assert_false(complaint_due(&c, 2 * EVERY, EVERY, &more));
	g_assert_false(complaint_due(&c, 0, EVERY, &more));
	g_assert_true(complaint_due(&c, 6 * EVERY, EVERY, &more));
	g_assert_cmpuint(more, ==, 2);
	complaint_clear(&c);
}

/*
 * Zeroed static storage, as the policy server keeps its kinds, needs no
 * init; the time 0 is a time like any other, and two kinds are apart.
 */
static struct complaint zeroed_a, zeroed_b;

static void
test_static(void)
{
	unsigned more = 99;

	g_assert_true(complaint_due(&zeroed_a, 0, EVERY, &more));
	g_assert_cmpuint(more, ==, 0);
	g_assert_false(complaint_due(&zeroed_a, 0, EVERY, &more));
	g_assert_true(complaint_due(&zeroed_b, 0, EVERY, &more));
	g_assert_cmpuint(more, ==, 0);
	g_assert_true(complaint_due(&zeroed_a, EVERY, EVERY, &more));
	g_assert_cmpuint(more, ==, 1);
}

#define NTHREADS	8
#define NCALLS		5000

struct racer {
	struct complaint *c;
	unsigned	said;
};

static void *
race(void *arg)
{
	struct racer *r = arg;
	unsigned more;

	for (int i = 0; i < NCALLS; i++)
		if (complaint_due(r->c, 1, EVERY, &more))
			r->said++;
	return NULL;
}

/* Many threads at once: one line said, every other one counted. */
static void
test_threads(void)
{
	struct complaint c;
	struct racer r[NTHREADS];
	pthread_t t[NTHREADS];
	unsigned said = 0, more = 0;

	complaint_init(&c);
	for (int i = 0; i < NTHREADS; i++) {
		r[i] = (struct racer){ .c = &c };
		g_assert_cmpint(pthread_create(&t[i], NULL, race, &r[i]), ==, 0);
	}
	for (int i = 0; i < NTHREADS; i++) {
		g_assert_cmpint(pthread_join(t[i], NULL), ==, 0);
		said += r[i].said;
	}
	g_assert_cmpuint(said, ==, 1);
	g_assert_true(complaint_due(&c, 1 + EVERY, EVERY, &more));
	g_assert_cmpuint(more, ==, NTHREADS * NCALLS - 1);
	complaint_clear(&c);
}

/*
 * complain(): the text, at the level given, with the count after it;
 * the ones within the minute are not logged. The tests of the daemons
 * grep these lines ("store unavailable", "policy client unix: ...").
 */
static void
test_text(void)
{
	if (g_test_subprocess()) {
		static struct complaint c, other;

		log_open("cmp", LOG_DEST_STDERR, LOG_MAIL);
		complain(&c, LOG_WARNING, "%s: store unavailable, %s",
		    "192.0.2.1/32", "tempfail");
		complain(&c, LOG_WARNING, "second %d", 2);
		complain(&c, LOG_WARNING, "third %d", 3);
		complain(&other, LOG_ERR, "accept: %s", "Too many open files");
		log_close();
		return;
	}
	g_test_trap_subprocess(NULL, 0, 0);
	g_test_trap_assert_passed();
	g_test_trap_assert_stderr("cmp[*]: warning: 192.0.2.1/32: store "
	    "unavailable, tempfail (0 more since the last such line)\n"
	    "cmp[*]: err: accept: Too many open files "
	    "(0 more since the last such line)\n");
	g_test_trap_assert_stderr_unmatched("*second*");
	g_test_trap_assert_stderr_unmatched("*third*");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/complain/first", test_first);
	g_test_add_func("/complain/interval", test_interval);
	g_test_add_func("/complain/clock_back", test_clock_back);
	g_test_add_func("/complain/static", test_static);
	g_test_add_func("/complain/threads", test_threads);
	g_test_add_func("/complain/text", test_text);
	return g_test_run();
}
