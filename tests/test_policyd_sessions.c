/*
 * test_policyd_sessions.c - slowspam-policyd's session table
 * (policyd/sessions.c): one entry per key, kept across acquire and
 * release; the least recently used evicted at max_sessions, and one
 * touched since kept; idle entries expired after session_ttl, and an
 * entry in use neither evicted nor expired; a second user of a key is
 * parked, not kept waiting, and gets the entry from the first one's
 * release, in order; the counters.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <glib.h>
#include <glib/gstdio.h>

#include "sessions.h"
#include "verdict.h"

#define NMAX	100
#define TTL	1000

static struct verdict_setup *setup;
/* The callers' tags. */
static int me, second, third;

/* Acquire key at now; mark it seen; true if it was new. */
static bool
visit(struct sessions *t, const char *key, int64_t now)
{
	struct psession *p = sessions_acquire(t, key, setup, now, &me);
	bool fresh = !p->connected;

	p->connected = true;
	g_assert_null(sessions_release(t, p, now));
	return fresh;
}

static void
test_kept(void)
{
	struct sessions *t = sessions_new(NMAX, TTL);
	struct sessions_stats st;

	g_assert_true(visit(t, "192.0.2.1|1|192.0.2.9|25", 0));
	g_assert_false(visit(t, "192.0.2.1|1|192.0.2.9|25", 10));
	g_assert_true(visit(t, "192.0.2.1|2|192.0.2.9|25", 20));
	sessions_get_stats(t, &st);
	g_assert_cmpuint(st.count, ==, 2);
	g_assert_cmpuint(st.created, ==, 2);
	sessions_free(t);
}

static void
test_lru(void)
{
	struct sessions *t = sessions_new(NMAX, TTL);
	struct sessions_stats st;
	char key[32];

	for (int i = 0; i < NMAX; i++) {
		g_snprintf(key, sizeof(key), "k%d", i);
		g_assert_true(visit(t, key, i));
	}
	/* k0 used again: k1 is now the least recently used. */
	g_assert_false(visit(t, "k0", NMAX));
	g_assert_true(visit(t, "new", NMAX + 1));
	sessions_get_stats(t, &st);
	g_assert_cmpuint(st.count, ==, NMAX);
	g_assert_cmpuint(st.evicted, ==, 1);
	g_assert_false(visit(t, "k0", NMAX + 2));
	g_assert_false(visit(t, "k2", NMAX + 3));
	g_assert_true(visit(t, "k1", NMAX + 4));	/* evicted: new again */
	sessions_free(t);
}

static void
test_ttl(void)
{
	struct sessions *t = sessions_new(NMAX, TTL);
	struct sessions_stats st;
	struct psession *busy;

	visit(t, "a", 0);
	visit(t, "b", 500);
	busy = sessions_acquire(t, "c", setup, 0, &me);
	sessions_expire(t, TTL - 1);
	sessions_get_stats(t, &st);
	g_assert_cmpuint(st.count, ==, 3);
	sessions_expire(t, TTL);		/* a: TTL idle */
	sessions_get_stats(t, &st);
	g_assert_cmpuint(st.count, ==, 2);
	g_assert_cmpuint(st.expired, ==, 1);
	/* c is in use however old: it stays. */
	sessions_expire(t, 10 * TTL);
	sessions_get_stats(t, &st);
	g_assert_cmpuint(st.count, ==, 1);
	g_assert_null(sessions_release(t, busy, 10 * TTL));
	g_assert_true(visit(t, "a", 10 * TTL));
	g_assert_true(visit(t, "b", 10 * TTL));
	sessions_free(t);
}

/* An entry in use is not evicted: the table grows past max instead. */
static void
test_busy_not_evicted(void)
{
	struct sessions *t = sessions_new(NMAX, TTL);
	struct psession *held[NMAX];
	struct sessions_stats st;
	char key[32];

	for (int i = 0; i < NMAX; i++) {
		g_snprintf(key, sizeof(key), "k%d", i);
		held[i] = sessions_acquire(t, key, setup, 0, &me);
		held[i]->connected = true;
	}
	g_assert_true(visit(t, "more", 1));
	sessions_get_stats(t, &st);
	g_assert_cmpuint(st.count, ==, NMAX + 1);
	g_assert_cmpuint(st.evicted, ==, 0);
	for (int i = 0; i < NMAX; i++)
		g_assert_null(sessions_release(t, held[i], 2));
	/* Full again: the least recently used idle one goes. */
	g_assert_true(visit(t, "again", 3));
	sessions_get_stats(t, &st);
	g_assert_cmpuint(st.evicted, ==, 1);
	sessions_free(t);
}

/*
 * A second and a third user of a held key are parked (no thread waits);
 * each release hands the entry to the next one, in order, and the entry
 * stays in use meanwhile: neither evicted nor expired.
 */
static void
test_parked(void)
{
	struct sessions *t = sessions_new(1, TTL);
	struct psession *p = sessions_acquire(t, "shared", setup, 0, &me), *q;
	struct sessions_stats st;

	p->connected = true;
	g_assert_null(sessions_acquire(t, "shared", setup, 1, &second));
	g_assert_null(sessions_acquire(t, "shared", setup, 2, &third));
	g_assert_true(sessions_release(t, p, 3) == &second);
	/* Handed over: still in use, so a newcomer neither evicts it... */
	g_assert_true(visit(t, "other", 4));
	/* ...nor expires it, nor takes it before its heir. */
	sessions_expire(t, 10 * TTL);
	g_assert_null(sessions_acquire(t, "shared", setup, 10 * TTL, &me));
	q = sessions_acquire(t, "shared", setup, 10 * TTL, &second);
	g_assert_true(q == p);
	g_assert_true(q->connected);
	g_assert_true(sessions_release(t, q, 10 * TTL) == &third);
	q = sessions_acquire(t, "shared", setup, 10 * TTL, &third);
	g_assert_true(q == p);
	g_assert_true(sessions_release(t, q, 10 * TTL) == &me);
	q = sessions_acquire(t, "shared", setup, 10 * TTL, &me);
	g_assert_null(sessions_release(t, q, 10 * TTL));
	sessions_get_stats(t, &st);
	g_assert_cmpuint(st.created, ==, 2);
	g_assert_cmpuint(st.evicted, ==, 0);
	/* Idle now: it can go. */
	g_assert_true(visit(t, "third", 10 * TTL + 1));
	sessions_get_stats(t, &st);
	g_assert_cmpuint(st.evicted, ==, 1);
	sessions_free(t);
}

int
main(int argc, char **argv)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *tmp = g_dir_make_tmp("policyd-sessions-XXXXXX", NULL);
	g_autofree char *path = g_build_filename(tmp, "slowspam.conf", NULL);
	int status;

	g_test_init(&argc, &argv, NULL);
	g_assert_true(g_file_set_contents(path, "[milter]\ngrace = 0\n", -1,
	    NULL));
	setup = verdict_setup_load(path, NULL, &err);
	g_assert_no_error(err);
	g_test_add_func("/policyd/sessions/kept", test_kept);
	g_test_add_func("/policyd/sessions/lru", test_lru);
	g_test_add_func("/policyd/sessions/ttl", test_ttl);
	g_test_add_func("/policyd/sessions/busy-not-evicted",
	    test_busy_not_evicted);
	g_test_add_func("/policyd/sessions/parked", test_parked);
	status = g_test_run();
	verdict_setup_unref(setup);
	g_unlink(path);
	g_rmdir(tmp);
	return status;
}
