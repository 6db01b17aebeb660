/*
 * test_storeq.c - the write queue: batching, never blocking the caller
 * while the store is stuck, dropping when full, counting failures.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <lmdb.h>

#include "storeq.h"
#include "testutil.h"

static char *tmpdir;

static struct store *
open_store(const char *path, bool ro)
{
	struct store_options o = { STORE_BACKEND_LMDB, path, 1u << 30, 0, ro };
	g_autoptr(GError) err = NULL;
	struct store *st = store_open(&o, &err);

	g_assert_no_error(err);
	return st;
}

static struct tarpit_update
update(void)
{
	struct tarpit_update u = { .now = store_now(), .new_session = true };

	return u;
}

static void
test_batches(void)
{
	g_autofree char *path = g_build_filename(tmpdir, "batches.lmdb", NULL);
	struct store *st = open_store(path, false);
	struct storeq *q = storeq_new(st, 1024);
	struct tarpit_update u = update();
	struct storeq_stats s;
	struct hit_record r;
	bool found;

	for (int i = 0; i < 5000; i++) {
		char key[32];

		g_snprintf(key, sizeof(key), "10.0.0.%d/32", i % 100);
		while (!storeq_push(q, key, &u))
			storeq_flush(q);	/* the test outran the disk */
	}
	storeq_flush(q);
	storeq_get_stats(q, &s);
	g_assert_cmpuint(s.written, ==, s.queued);
	g_assert_cmpuint(s.queued, ==, 5000);
	g_assert_cmpuint(s.failed, ==, 0);
	g_assert_cmpuint(s.batches, >=, 1);
	g_assert_cmpuint(s.batches, <=, s.written);
	g_test_message("%" G_GUINT64_FORMAT " events in %" G_GUINT64_FORMAT
	    " transactions", s.written, s.batches);
	g_assert_true(store_lookup(st, "10.0.0.7/32", &r, &found, NULL));
	g_assert_true(found);
	g_assert_cmpuint(r.tarpit_sessions, ==, 50);
	storeq_free(q);
	storeq_free(NULL);
	store_free(st);
}

/*
 * Another process holds the store's write lock: pushes must still
 * return at once, fill the queue, and then be dropped and counted.
 */
static void
test_stuck_store(void)
{
	g_autofree char *path = g_build_filename(tmpdir, "stuck.lmdb", NULL);
	struct store *st = open_store(path, false);
	struct tarpit_update u = update();
	struct storeq *q;
	struct storeq_stats s;
	struct test_lmdb_hold hold;
	int64_t t;

	store_free(st);
	test_lmdb_hold(path, &hold);

	st = open_store(path, false);
	q = storeq_new(st, 8);
	g_assert_true(storeq_push(q, "192.0.2.1/32", &u));
	g_usleep(200000);	/* the writer takes it and waits for the lock */
	t = g_get_monotonic_time();
	for (int i = 0; i < 8; i++)
		g_assert_true(storeq_push(q, "192.0.2.2/32", &u));
	for (int i = 0; i < 10; i++)
		g_assert_false(storeq_push(q, "192.0.2.3/32", &u));
	t = g_get_monotonic_time() - t;
	g_test_message("18 pushes against a locked store took %" G_GINT64_FORMAT
	    " us", t);
	storeq_get_stats(q, &s);
	g_assert_cmpuint(s.queued, ==, 9);
	g_assert_cmpuint(s.dropped, ==, 10);
	g_assert_cmpuint(s.written, ==, 0);

	test_lmdb_release(&hold);
	storeq_flush(q);
	storeq_get_stats(q, &s);
	g_assert_cmpuint(s.written, ==, 9);
	storeq_free(q);
	{
		struct hit_record r;
		bool found;

		g_assert_true(store_lookup(st, "192.0.2.2/32", &r, &found, NULL));
		g_assert_cmpuint(r.tarpit_sessions, ==, 8);
		g_assert_true(store_lookup(st, "192.0.2.3/32", &r, &found, NULL));
		g_assert_false(found);
	}
	store_free(st);
}

/*
 * Contacts and tar-pit events share the queue and its batches, each
 * merged by its own rule, once: none lost, none written twice.
 */
static void
test_contacts(void)
{
	g_autofree char *path = g_build_filename(tmpdir, "contacts.lmdb", NULL);
	struct store *st = open_store(path, false);
	struct storeq *q = storeq_new(st, 4096);
	struct tarpit_update u = update();
	int64_t t0 = u.now;
	struct storeq_stats s;
	struct hit_record r;
	bool found = false;

	for (int i = 0; i < 3000; i++) {
		char key[32];
		bool ok;

		g_snprintf(key, sizeof(key), "10.1.0.%d/32", i % 10);
		ok = i % 3 == 0 ? storeq_push(q, key, &u) :
		    storeq_push_contact(q, key, t0 + i);
		g_assert_true(ok);
	}
	storeq_flush(q);
	storeq_get_stats(q, &s);
	g_assert_cmpuint(s.queued, ==, 3000);
	g_assert_cmpuint(s.written, ==, 3000);
	g_assert_cmpuint(s.dropped + s.failed, ==, 0);
	g_test_message("%" G_GUINT64_FORMAT " events in %" G_GUINT64_FORMAT
	    " transactions", s.written, s.batches);
	/* 10.1.0.1/32: i = 1, 11, ..., 2991; every third a tar-pit event. */
	g_assert_true(store_lookup(st, "10.1.0.1/32", &r, &found, NULL));
	g_assert_true(found);
	g_assert_cmpuint(r.tarpit_sessions + r.primary_sessions, ==, 300);
	g_assert_cmpuint(r.tarpit_sessions, ==, 100);
	g_assert_cmpint(r.primary_first, ==, t0 + 1);
	g_assert_cmpint(r.primary_last, ==, t0 + 2981);	/* 2991 % 3 == 0 */
	storeq_free(q);
	store_free(st);
}

/* A store that refuses writes: events are counted as failed, and logged. */
static void
test_failures(void)
{
	g_autofree char *path = g_build_filename(tmpdir, "ro.lmdb", NULL);
	struct tarpit_update u = update();

	store_free(open_store(path, false));
	if (g_test_subprocess()) {
		struct store *st = open_store(path, true);
		struct storeq *q = storeq_new(st, 16);
		struct storeq_stats s;

		g_assert_true(storeq_push(q, "192.0.2.1/32", &u));
		storeq_flush(q);
		storeq_get_stats(q, &s);
		g_assert_cmpuint(s.failed, ==, 1);
		g_assert_cmpuint(s.written, ==, 0);
		/* A contact is lost alike, logged a minute later at most. */
		g_assert_true(storeq_push_contact(q, "192.0.2.1/32", u.now));
		storeq_flush(q);
		storeq_get_stats(q, &s);
		g_assert_cmpuint(s.failed, ==, 2);
		storeq_free(q);
		store_free(st);
		return;
	}
	g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
	g_test_trap_assert_passed();
	g_test_trap_assert_stderr("*lost 1 tar-pit events*");
}

int
main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	tmpdir = g_strdup(g_getenv("STOREQ_TEST_DIR"));
	if (tmpdir == NULL) {
		tmpdir = test_tmpdir_new("storeq");
		g_setenv("STOREQ_TEST_DIR", tmpdir, TRUE);
	}
	g_test_add_func("/storeq/batches", test_batches);
	g_test_add_func("/storeq/stuck-store", test_stuck_store);
	g_test_add_func("/storeq/contacts", test_contacts);
	g_test_add_func("/storeq/failures", test_failures);
	rc = g_test_run();
	if (!g_test_subprocess())
		test_tmpdir_remove(tmpdir);
	else
		g_free(tmpdir);
	return rc;
}
