/*
 * test_policyd_sessions.c - slowspam-policyd's session table
 * (policyd/sessions.c): one entry per key, kept across acquire and
 * release; the least recently used evicted at max_sessions, and one
 * touched since kept; idle entries expired after session_ttl, and an
 * entry in use neither evicted nor expired; a second user of a key waits
 * for the first; the counters.
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

/* Acquire key at now; mark it seen; true if it was new. */
static bool
visit(struct sessions *t, const char *key, int64_t now)
{
	struct psession *p = sessions_acquire(t, key, setup, now);
	bool fresh = !p->connected;

	p->connected = true;
	sessions_release(t, p, now);
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
	busy = sessions_acquire(t, "c", setup, 0);
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
	sessions_release(t, busy, 10 * TTL);
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
		held[i] = sessions_acquire(t, key, setup, 0);
		held[i]->connected = true;
	}
	g_assert_true(visit(t, "more", 1));
	sessions_get_stats(t, &st);
	g_assert_cmpuint(st.count, ==, NMAX + 1);
	g_assert_cmpuint(st.evicted, ==, 0);
	for (int i = 0; i < NMAX; i++)
		sessions_release(t, held[i], 2);
	/* Full again: the least recently used idle one goes. */
	g_assert_true(visit(t, "again", 3));
	sessions_get_stats(t, &st);
	g_assert_cmpuint(st.evicted, ==, 1);
	sessions_free(t);
}

struct waiter {
	struct sessions	*t;
	gint		got;		/* it has the entry */
};

static gpointer
second_user(gpointer data)
{
	struct waiter *w = data;
	struct psession *p = sessions_acquire(w->t, "shared", setup, 5);

	g_atomic_int_set(&w->got, 1);
	g_assert_true(p->connected);	/* the first user's entry */
	sessions_release(w->t, p, 6);
	return NULL;
}

static void
test_one_user(void)
{
	struct waiter w = { .t = sessions_new(NMAX, TTL) };
	struct psession *p = sessions_acquire(w.t, "shared", setup, 0);
	GThread *th;

	p->connected = true;
	th = g_thread_new("second", second_user, &w);
	g_usleep(200 * 1000);
	g_assert_cmpint(g_atomic_int_get(&w.got), ==, 0);
	sessions_release(w.t, p, 1);
	g_thread_join(th);
	g_assert_cmpint(g_atomic_int_get(&w.got), ==, 1);
	sessions_free(w.t);
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
	g_test_add_func("/policyd/sessions/one-user", test_one_user);
	status = g_test_run();
	verdict_setup_unref(setup);
	g_unlink(path);
	g_rmdir(tmp);
	return status;
}
