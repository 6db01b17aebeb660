/*
 * test_storeq.c - the write queue: batching, never blocking the caller
 * while the store is stuck, dropping when full, counting failures; order,
 * HELO bytes, growing and shrinking, many producers.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <lmdb.h>

#include "helo.h"
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

	/* The newest alive mark written is kept, an older one later too. */
	g_assert_cmpuint(s.alive_newest, ==, 0);
	g_assert_true(storeq_push_alive(q, t0 + 120000));
	g_assert_true(storeq_push_alive(q, t0 + 60000));
	storeq_flush(q);
	storeq_get_stats(q, &s);
	g_assert_cmpuint(s.alive_newest, ==, (uint64_t)t0 + 120000);
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

/*
 * Events come out in the order they went in, across blocks and
 * transactions: the last HELO pushed for a key is the one stored.
 */
static void
test_order(void)
{
	g_autofree char *path = g_build_filename(tmpdir, "order.lmdb", NULL);
	struct store *st = open_store(path, false);
	struct storeq *q = storeq_new(st, 1 << 16);
	struct tarpit_update u = update();
	struct storeq_stats s;

	for (int i = 0; i < 20000; i++) {
		char key[32], helo[32];

		g_snprintf(key, sizeof(key), "10.2.0.%d/32", i % 7);
		g_snprintf(helo, sizeof(helo), "h%d.example", i);
		record_update_set_helo(&u, helo, strlen(helo), HELO_FQDN);
		g_assert_true(storeq_push(q, key, &u));
	}
	storeq_flush(q);
	storeq_get_stats(q, &s);
	g_assert_cmpuint(s.written, ==, 20000);
	g_assert_cmpuint(s.batches, >=, 20000 / 4096);
	for (int k = 0; k < 7; k++) {
		char key[32], want[32];
		struct hit_record r;
		bool found;
		int last = 19999 - (19999 - k) % 7;

		g_snprintf(key, sizeof(key), "10.2.0.%d/32", k);
		g_snprintf(want, sizeof(want), "h%d.example", last);
		g_assert_true(store_lookup(st, key, &r, &found, NULL));
		g_assert_true(found);
		g_assert_cmpstr(r.helo, ==, want);
		g_assert_cmpuint(r.tarpit_sessions, ==, 20000 / 7 + (k < 20000 % 7));
	}
	storeq_free(q);
	store_free(st);
}

/* A HELO of the longest length comes out byte for byte, every value. */
static void
test_helo_bytes(void)
{
	g_autofree char *path = g_build_filename(tmpdir, "helo.lmdb", NULL);
	struct store *st = open_store(path, false);
	struct storeq *q = storeq_new(st, 16);
	struct tarpit_update u = update();
	char helo[RECORD_HELO_MAX], key[STORE_KEY_MAX + 2];
	struct hit_record r;
	bool found;

	for (int i = 0; i < RECORD_HELO_MAX; i++)
		helo[i] = (char)(i + 1);
	record_update_set_helo(&u, helo, sizeof(helo), HELO_INVALID);
	u.evidence = EVIDENCE_BARE_LF;
	u.held_ms = 123456789;
	g_assert_true(storeq_push(q, "192.0.2.9/32", &u));
	/* A key one byte too long is refused and counted. */
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	g_assert_false(storeq_push(q, key, &u));
	storeq_flush(q);
	g_assert_true(store_lookup(st, "192.0.2.9/32", &r, &found, NULL));
	g_assert_true(found);
	g_assert_cmpuint(r.helo_len, ==, RECORD_HELO_MAX);
	g_assert_cmpmem(r.helo, r.helo_len, helo, sizeof(helo));
	g_assert_cmpuint(r.helo_class, ==, HELO_INVALID);
	g_assert_cmpuint(r.evidence, ==, EVIDENCE_BARE_LF);
	g_assert_cmpuint(r.tarpit_held_ms, ==, 123456789);
	g_assert_cmpint(r.tarpit_last, ==, u.now);
	{
		struct storeq_stats s;

		storeq_get_stats(q, &s);
		g_assert_cmpuint(s.dropped, ==, 1);
		g_assert_cmpuint(s.written, ==, 1);
	}
	storeq_free(q);
	store_free(st);
}

/*
 * The queue maps what it holds, not its capacity, and gives it back:
 * while the store is locked, 16,384 contacts take a fraction of what
 * as many store_items would; once written, one spare block is left.
 * Past the capacity, events are dropped and counted.
 */
static void
test_grow_shrink(void)
{
	g_autofree char *path = g_build_filename(tmpdir, "grow.lmdb", NULL);
	struct store *st = open_store(path, false);
	const size_t cap = 16384;
	struct test_lmdb_hold hold;
	struct storeq_stats s;
	struct storeq *q;
	size_t full, idle;

	store_free(st);
	test_lmdb_hold(path, &hold);
	st = open_store(path, false);
	q = storeq_new(st, cap);
	g_assert_cmpuint(storeq_mapped(q), ==, 0);
	g_assert_true(storeq_push_contact(q, "10.4.0.1/32", 1));
	g_usleep(200000);	/* the writer takes it and waits for the lock */
	for (size_t i = 0; i < cap; i++) {
		char key[32];

		g_snprintf(key, sizeof(key), "10.3.%zu.%zu/32", i / 256, i % 256);
		g_assert_true(storeq_push_contact(q, key, 1000 + (int64_t)i));
	}
	for (int i = 0; i < 100; i++)
		g_assert_false(storeq_push_contact(q, "10.4.0.0/32", 1));
	full = storeq_mapped(q);
	g_test_message("%zu contacts queued: %zu bytes mapped (%zu a contact)",
	    cap, full, full / cap);
	g_assert_cmpuint(full, >, 0);
	g_assert_cmpuint(full, <=, cap * 64 + 2 * 65536);
	test_lmdb_release(&hold);
	storeq_flush(q);
	idle = storeq_mapped(q);
	g_test_message("written: %zu bytes mapped", idle);
	g_assert_cmpuint(idle, <=, 65536);
	storeq_get_stats(q, &s);
	g_assert_cmpuint(s.written, ==, cap + 1);
	g_assert_cmpuint(s.queued, ==, cap + 1);
	g_assert_cmpuint(s.dropped, ==, 100);
	/* It grows again as needed, and shrinks again. */
	for (int i = 0; i < 5000; i++)
		g_assert_true(storeq_push_contact(q, "10.5.0.0/32", 1000 + i));
	storeq_flush(q);
	g_assert_cmpuint(storeq_mapped(q), <=, 65536);
	storeq_free(q);
	store_free(st);
}

/* storeq_free writes what is queued without a flush first. */
static void
test_free_writes(void)
{
	g_autofree char *path = g_build_filename(tmpdir, "free.lmdb", NULL);
	struct store *st = open_store(path, false);
	struct test_lmdb_hold hold;
	struct storeq *q;
	struct hit_record r;
	bool found;

	store_free(st);
	test_lmdb_hold(path, &hold);
	st = open_store(path, false);
	q = storeq_new(st, 4096);
	for (int i = 0; i < 3000; i++)
		g_assert_true(storeq_push_contact(q, "10.6.0.0/32", 1000 + i));
	test_lmdb_release(&hold);
	storeq_free(q);
	g_assert_true(store_lookup(st, "10.6.0.0/32", &r, &found, NULL));
	g_assert_true(found);
	g_assert_cmpuint(r.primary_sessions, ==, 3000);
	g_assert_cmpint(r.primary_last, ==, 1000 + 2999);
	store_free(st);
}

/* Many threads push at once (the milter's): nothing lost, each in order. */
#define PRODUCERS	8
#define PER_PRODUCER	5000

struct producer {
	struct storeq	*q;
	int		n;
};

static gpointer
produce(gpointer data)
{
	struct producer *p = data;
	char key[32], helo[32];
	struct tarpit_update u = update();

	g_snprintf(key, sizeof(key), "10.7.0.%d/32", p->n);
	for (int i = 0; i < PER_PRODUCER; i++) {
		bool ok;

		if (i % 2 == 0)
			ok = storeq_push_contact(p->q, key, 1000 + i);
		else {
			g_snprintf(helo, sizeof(helo), "p%d-%d", p->n, i);
			record_update_set_helo(&u, helo, strlen(helo),
			    HELO_SINGLE_LABEL);
			ok = storeq_push(p->q, key, &u);
		}
		g_assert_true(ok);
	}
	return NULL;
}

static void
test_producers(void)
{
	g_autofree char *path = g_build_filename(tmpdir, "many.lmdb", NULL);
	struct store *st = open_store(path, false);
	struct storeq *q = storeq_new(st, PRODUCERS * PER_PRODUCER);
	struct producer p[PRODUCERS];
	GThread *th[PRODUCERS];
	struct storeq_stats s;

	for (int i = 0; i < PRODUCERS; i++) {
		p[i] = (struct producer){ q, i };
		th[i] = g_thread_new("producer", produce, &p[i]);
	}
	for (int i = 0; i < PRODUCERS; i++)
		g_thread_join(th[i]);
	storeq_flush(q);
	storeq_get_stats(q, &s);
	g_assert_cmpuint(s.written, ==, PRODUCERS * PER_PRODUCER);
	g_assert_cmpuint(s.dropped + s.failed, ==, 0);
	for (int i = 0; i < PRODUCERS; i++) {
		char key[32], want[32];
		struct hit_record r;
		bool found;

		g_snprintf(key, sizeof(key), "10.7.0.%d/32", i);
		g_snprintf(want, sizeof(want), "p%d-%d", i, PER_PRODUCER - 1);
		g_assert_true(store_lookup(st, key, &r, &found, NULL));
		g_assert_true(found);
		g_assert_cmpuint(r.primary_sessions, ==, PER_PRODUCER / 2);
		g_assert_cmpint(r.primary_last, ==, 1000 + PER_PRODUCER - 2);
		g_assert_cmpuint(r.tarpit_sessions, ==, PER_PRODUCER / 2);
		g_assert_cmpstr(r.helo, ==, want);
	}
	storeq_free(q);
	store_free(st);
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
	g_test_add_func("/storeq/order", test_order);
	g_test_add_func("/storeq/helo-bytes", test_helo_bytes);
	g_test_add_func("/storeq/grow-shrink", test_grow_shrink);
	g_test_add_func("/storeq/free-writes", test_free_writes);
	g_test_add_func("/storeq/producers", test_producers);
	rc = g_test_run();
	if (!g_test_subprocess())
		test_tmpdir_remove(tmpdir);
	else
		g_free(tmpdir);
	return rc;
}
