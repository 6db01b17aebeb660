/*
 * test_store.c - the LMDB hit store: records, iteration, expiry, bad and
 * foreign files, a full map, two processes at once, and writers killed
 * with SIGKILL in the middle of a transaction.
 *
 * LMDB allows one open per process and none across fork(), so every test
 * closes the store before it forks, and children open their own.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <lmdb.h>
#ifdef WITH_REDIS
#include <hiredis/hiredis.h>
#endif

#include "helo.h"
#include "store.h"
#include "testutil.h"

#define T0	INT64_C(1790000000000)
#define DAY_MS	INT64_C(86400000)

static char *tmpdir;

/*
 * The backend the generic tests run on. For Redis, each test's path
 * becomes its key prefix, so tests never see each other's records.
 */
static enum store_backend backend = STORE_BACKEND_LMDB;
static char redis_addr[64];
static GPid redis_pid;

/* Options for path on the backend under test. */
static struct store_options
options(const char *path, uint64_t map_size, int64_t ttl, bool ro)
{
	struct store_options o = { backend, path, map_size, ttl, ro };

	if (backend == STORE_BACKEND_REDIS) {
		o.redis = redis_addr;
		o.redis_timeout = 500;
		o.redis_prefix = path;
		o.ttl = ttl > 0 ? ttl : 3600000;
	}
	return o;
}

/* A fresh store path in the private directory. */
static char *
new_path(const char *name)
{
	return g_build_filename(tmpdir, name, "hits.lmdb", NULL);
}

static struct store *
open_store(const char *path, uint64_t map_size, int64_t ttl, bool ro)
{
	struct store_options o = options(path, map_size, ttl, ro);
	g_autoptr(GError) err = NULL;
	struct store *st = store_open(&o, &err);

	g_assert_no_error(err);
	g_assert_nonnull(st);
	return st;
}

/* Expect store_open to fail with code and a message containing text. */
static void
open_fails(const char *path, bool ro, int code, const char *text)
{
	struct store_options o = { STORE_BACKEND_LMDB, path, 1u << 30, 0, ro };
	g_autoptr(GError) err = NULL;

	g_assert_null(store_open(&o, &err));
	g_assert_error(err, STORE_ERROR, code);
	g_assert_nonnull(strstr(err->message, path));
	if (strstr(err->message, text) == NULL)
		g_error("want '%s' in '%s'", text, err->message);
}

/* An item: key, at time now, maybe a new session, maybe a HELO. */
static struct store_item
item(const char *key, int64_t now, bool session, const char *helo)
{
	struct store_item it = { .update = { .now = now,
	    .new_session = session } };

	g_strlcpy(it.key, key, sizeof(it.key));
	if (helo != NULL)
		record_update_set_helo(&it.update, helo, strlen(helo),
		    HELO_FQDN);
	return it;
}

/* A primary-MX contact of key at now, as storeq_push_contact queues it. */
static struct store_item
contact(const char *key, int64_t now)
{
	struct store_item it = { .kind = STORE_ITEM_CONTACT,
	    .update = { .now = now } };

	g_strlcpy(it.key, key, sizeof(it.key));
	return it;
}

static void
apply_one(struct store *st, struct store_item it)
{
	g_autoptr(GError) err = NULL;

	g_assert_true(store_apply(st, &it, 1, &err));
	g_assert_no_error(err);
}

static struct hit_record
must_find(struct store *st, const char *key)
{
	struct hit_record r;
	bool found = false;
	g_autoptr(GError) err = NULL;

	g_assert_true(store_lookup(st, key, &r, &found, &err));
	g_assert_no_error(err);
	g_assert_true(found);
	return r;
}

static void
test_roundtrip(void)
{
	g_autofree char *path = new_path("roundtrip");
	g_autofree char *describe = backend == STORE_BACKEND_LMDB ?
	    g_strdup_printf("lmdb:%s", path) :
	    g_strdup_printf("redis:%s", redis_addr);
	struct store *st = open_store(path, 1u << 30, 0, false);
	struct store_item items[3] = {
		item("192.0.2.1/32", T0, true, NULL),
		item("192.0.2.1/32", T0 + 2000, false, "bot.example"),
		item("2001:db8::/64", T0 + 3000, true, NULL),
	};
	struct hit_record r, before;
	bool found = true;
	g_autoptr(GError) err = NULL;

	g_assert_cmpstr(store_describe(st), ==, describe);
	items[2].update.held_ms = 1500;
	items[2].update.evidence = EVIDENCE_BARE_LF;
	g_assert_true(store_apply(st, items, 3, &err));
	r = must_find(st, "192.0.2.1/32");
	g_assert_cmpuint(r.tarpit_sessions, ==, 1);
	g_assert_cmpint(r.tarpit_first, ==, T0);
	g_assert_cmpint(r.tarpit_last, ==, T0 + 2000);
	g_assert_cmpstr(r.helo, ==, "bot.example");
	r = must_find(st, "2001:db8::/64");
	g_assert_cmpuint(r.tarpit_held_ms, ==, 1500);
	g_assert_cmpuint(r.evidence, ==, EVIDENCE_BARE_LF);

	/* The primary's contact returns the record as it was before. */
	g_assert_true(store_primary_contact(st, "192.0.2.1/32", T0 + 9000,
	    &before, &err));
	g_assert_cmpuint(before.primary_sessions, ==, 0);
	g_assert_true(record_backup_first(&before, T0 + 9000, DAY_MS));
	r = must_find(st, "192.0.2.1/32");
	g_assert_cmpuint(r.primary_sessions, ==, 1);
	g_assert_cmpint(r.primary_first, ==, T0 + 9000);
	g_assert_cmpuint(r.tarpit_sessions, ==, 1);
	g_assert_true(store_primary_contact(st, "198.51.100.7/32", T0, &before,
	    &err));
	g_assert_cmpuint(before.tarpit_sessions + before.primary_sessions, ==, 0);
	g_assert_true(store_primary_contact(st, "198.51.100.7/32", T0, NULL,
	    &err));
	g_assert_cmpuint(must_find(st, "198.51.100.7/32").primary_sessions, ==,
	    2);

	g_assert_true(store_lookup(st, "203.0.113.1/32", &r, &found, &err));
	g_assert_false(found);
	g_assert_no_error(err);

	/* Records survive closing and opening again, read-only too. */
	store_free(st);
	st = open_store(path, 1u << 30, 0, true);
	g_assert_cmpuint(must_find(st, "2001:db8::/64").tarpit_sessions, ==, 1);
	store_free(st);
	store_free(NULL);
}

/*
 * Contacts and tar-pit events in one batch, in order, merged as the
 * single-event calls merge them: the batch's record equals the one
 * store_primary_contact and store_apply build one call at a time.
 */
static void
test_mixed_batch(void)
{
	g_autofree char *path = new_path("mixed");
	struct store *st = open_store(path, 1u << 30, 0, false);
	struct store_item items[] = {
		contact("192.0.2.9/32", T0 + 5000),
		item("192.0.2.9/32", T0, true, "mx.client.test"),
		contact("192.0.2.9/32", T0 + 1000),
		contact("198.51.100.9/32", T0 + 7000),
		item("192.0.2.9/32", T0 + 9000, false, NULL),
	};
	struct store_item bad = contact("192.0.2.10/32", T0);
	struct hit_record a, b;
	g_autoptr(GError) err = NULL;

	g_assert_true(store_apply(st, items, G_N_ELEMENTS(items), &err));
	g_assert_no_error(err);
	a = must_find(st, "192.0.2.9/32");
	g_assert_cmpuint(a.primary_sessions, ==, 2);
	g_assert_cmpint(a.primary_first, ==, T0 + 1000);
	g_assert_cmpint(a.primary_last, ==, T0 + 5000);
	g_assert_cmpuint(a.tarpit_sessions, ==, 1);
	g_assert_cmpint(a.tarpit_first, ==, T0);
	g_assert_cmpint(a.tarpit_last, ==, T0 + 9000);
	g_assert_cmpstr(a.helo, ==, "mx.client.test");
	b = must_find(st, "198.51.100.9/32");
	g_assert_cmpuint(b.primary_sessions, ==, 1);
	g_assert_cmpint(b.primary_first, ==, T0 + 7000);
	g_assert_cmpuint(b.tarpit_sessions, ==, 0);

	/* The same events one call at a time: the same record. */
	g_assert_true(store_primary_contact(st, "203.0.113.9/32", T0 + 5000,
	    NULL, &err));
	apply_one(st, item("203.0.113.9/32", T0, true, "mx.client.test"));
	g_assert_true(store_primary_contact(st, "203.0.113.9/32", T0 + 1000,
	    NULL, &err));
	apply_one(st, item("203.0.113.9/32", T0 + 9000, false, NULL));
	g_assert_no_error(err);
	b = must_find(st, "203.0.113.9/32");
	g_assert_cmpint(a.primary_first, ==, b.primary_first);
	g_assert_cmpint(a.primary_last, ==, b.primary_last);
	g_assert_cmpuint(a.primary_sessions, ==, b.primary_sessions);
	g_assert_cmpint(a.tarpit_first, ==, b.tarpit_first);
	g_assert_cmpint(a.tarpit_last, ==, b.tarpit_last);
	g_assert_cmpuint(a.tarpit_sessions, ==, b.tarpit_sessions);
	g_assert_cmpstr(a.helo, ==, b.helo);

	/* An item of no known kind refuses the whole batch, naming it. */
	bad.kind = (enum store_item_kind)7;
	g_assert_false(store_apply(st, &bad, 1, &err));
	g_assert_error(err, STORE_ERROR, STORE_ERROR_IO);
	g_assert_nonnull(strstr(err->message, "192.0.2.10/32"));
	store_free(st);
}

/* A mark of the primary alive at now, as storeq_push_alive queues it. */
static struct store_item
alive_item(int64_t now)
{
	struct store_item it = { .kind = STORE_ITEM_ALIVE,
	    .update = { .now = now } };

	return it;
}

#define MIN_MS	ALIVE_MINUTE_MS
/* T0's minute, where a test counts in whole minutes. */
#define M0	(T0 / MIN_MS * MIN_MS)

/*
 * Alive marks in a batch, among the other kinds: every mark lands, the
 * other events are merged in order as ever (the last HELO wins), and a
 * batch of marks alone needs no key.
 */
static void
test_alive_batch(void)
{
	g_autofree char *path = new_path("alive-batch");
	struct store *st = open_store(path, 1u << 30, 0, false);
	struct store_item items[] = {
		alive_item(M0),
		item("192.0.2.20/32", M0, true, "first.client.test"),
		contact("192.0.2.20/32", M0 + 1000),
		alive_item(M0 + 5 * MIN_MS),
		item("192.0.2.20/32", M0 + 2000, true, "second.client.test"),
		alive_item(M0 + 5 * MIN_MS + 1000),
		alive_item(M0 + 2 * MIN_MS),
	};
	struct store_item alone[] = {
		alive_item(M0 + 9 * MIN_MS), alive_item(M0 + 10 * MIN_MS),
	};
	struct alive a;
	struct hit_record r;
	g_autoptr(GError) err = NULL;

	g_assert_true(store_apply(st, items, G_N_ELEMENTS(items), &err));
	g_assert_no_error(err);
	r = must_find(st, "192.0.2.20/32");
	g_assert_cmpuint(r.tarpit_sessions, ==, 2);
	g_assert_cmpuint(r.primary_sessions, ==, 1);
	g_assert_cmpstr(r.helo, ==, "second.client.test");
	g_assert_true(store_alive_get(st, &a, &err));
	g_assert_true(alive_any(&a, M0, M0));
	g_assert_true(alive_any(&a, M0 + 2 * MIN_MS, M0 + 2 * MIN_MS));
	g_assert_true(alive_any(&a, M0 + 5 * MIN_MS, M0 + 5 * MIN_MS));
	g_assert_false(alive_any(&a, M0 + MIN_MS, M0 + MIN_MS));
	g_assert_false(alive_any(&a, M0 + 3 * MIN_MS, M0 + 4 * MIN_MS));
	g_assert_false(alive_any(&a, M0 + 6 * MIN_MS, M0 + 20 * MIN_MS));
	g_assert_cmpint(a.newest, ==, M0 / MIN_MS + 5);

	/* Marks alone (no key): the same ring, two minutes more. */
	g_assert_true(store_apply(st, alone, G_N_ELEMENTS(alone), &err));
	g_assert_no_error(err);
	g_assert_true(store_alive_get(st, &a, &err));
	g_assert_true(alive_any(&a, M0, M0));
	g_assert_true(alive_any(&a, M0 + 9 * MIN_MS, M0 + 9 * MIN_MS));
	g_assert_true(alive_any(&a, M0 + 10 * MIN_MS, M0 + 10 * MIN_MS));
	g_assert_false(alive_any(&a, M0 + 6 * MIN_MS, M0 + 8 * MIN_MS));
	g_assert_cmpint(a.newest, ==, M0 / MIN_MS + 10);
	store_free(st);
}

/*
 * A range read has every mark among its minutes; on Redis it reads those
 * only (ZRANGEBYSCORE), the whole ring being the slow part of a verdict.
 */
static void
test_alive_range(void)
{
	g_autofree char *path = new_path("alive-range");
	struct store *st = open_store(path, 1u << 30, 0, false);
	g_autoptr(GError) err = NULL;
	struct alive a;

	g_assert_true(store_alive_mark(st, M0 - 100 * MIN_MS, &err));
	g_assert_true(store_alive_mark(st, M0 - 3 * MIN_MS, &err));
	g_assert_true(store_alive_mark(st, M0 + 2 * MIN_MS + 59999, &err));
	g_assert_true(store_alive_mark(st, M0 + 100 * MIN_MS, &err));
	g_assert_no_error(err);
	g_assert_true(store_alive_get_range(st, M0 - 3 * MIN_MS,
	    M0 + 3 * MIN_MS - 1, &a, &err));
	g_assert_no_error(err);
	g_assert_true(alive_any(&a, M0 - 3 * MIN_MS, M0 - 3 * MIN_MS));
	g_assert_true(alive_any(&a, M0 + 2 * MIN_MS, M0 + 2 * MIN_MS));
	g_assert_false(alive_any(&a, M0 - 2 * MIN_MS, M0 + MIN_MS));
	if (backend == STORE_BACKEND_REDIS) {
		g_assert_false(alive_any(&a, M0 - 100 * MIN_MS,
		    M0 - 100 * MIN_MS));
		g_assert_false(alive_any(&a, M0 + 100 * MIN_MS,
		    M0 + 100 * MIN_MS));
		g_assert_cmpint(a.newest, ==, M0 / MIN_MS + 2);
	}
	/* The whole ring, as slowspamctl reads it. */
	g_assert_true(store_alive_get(st, &a, &err));
	g_assert_true(alive_any(&a, M0 - 100 * MIN_MS, M0 - 100 * MIN_MS));
	g_assert_true(alive_any(&a, M0 + 100 * MIN_MS, M0 + 100 * MIN_MS));
	g_assert_true(alive_any(&a, M0 - 3 * MIN_MS, M0 - 3 * MIN_MS));
	store_free(st);
}

static void
test_bad_keys(void)
{
	g_autofree char *path = new_path("badkeys");
	struct store *st = open_store(path, 1u << 30, 0, false);
	char big[STORE_KEY_MAX + 2];
	struct hit_record r;
	bool found;
	struct store_item it = item("x", T0, true, NULL);

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (int i = 0; i < 2; i++) {
		g_autoptr(GError) err = NULL;
		const char *key = i == 0 ? "" : big;

		g_assert_false(store_lookup(st, key, &r, &found, &err));
		g_assert_error(err, STORE_ERROR, STORE_ERROR_BAD_KEY);
		g_clear_error(&err);
		g_assert_false(store_primary_contact(st, key, T0, NULL, &err));
		g_assert_error(err, STORE_ERROR, STORE_ERROR_BAD_KEY);
		g_clear_error(&err);
		g_assert_false(store_forget(st, key, NULL, &err));
		g_assert_error(err, STORE_ERROR, STORE_ERROR_BAD_KEY);
		g_clear_error(&err);
		it.key[0] = '\0';
		g_assert_false(store_apply(st, &it, 1, &err));
		g_assert_error(err, STORE_ERROR, STORE_ERROR_BAD_KEY);
	}
	store_free(st);
}

/* Count records into *(size_t *)data. */
static bool
count_one(const char *key, const struct hit_record *rec, void *data)
{
	(void)key;
	(void)rec;
	(*(size_t *)data)++;
	return true;
}

struct collect {
	GPtrArray *keys;
	size_t stop_after;
};

static bool
collect(const char *key, const struct hit_record *rec, void *data)
{
	struct collect *c = data;

	g_assert_cmpuint(rec->tarpit_sessions, ==, 1);
	g_ptr_array_add(c->keys, g_strdup(key));
	return c->keys->len < c->stop_after;
}

static gint
compare_keys(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void
test_foreach_forget(void)
{
	g_autofree char *path = new_path("foreach");
	struct store *st = open_store(path, 1u << 30, 0, false);
	struct collect c = { g_ptr_array_new_with_free_func(g_free), 100 };
	g_autoptr(GError) err = NULL;
	size_t bad = 99;
	bool found;

	apply_one(st, item("10.0.0.2/32", T0, true, NULL));
	apply_one(st, item("10.0.0.1/32", T0, true, NULL));
	apply_one(st, item("2001:db8::/64", T0, true, NULL));
	g_assert_true(store_foreach(st, collect, &c, &bad, &err));
	g_assert_cmpuint(bad, ==, 0);
	g_assert_cmpuint(c.keys->len, ==, 3);
	/* LMDB lists in key order, Redis in any: compare sorted. */
	g_ptr_array_sort(c.keys, compare_keys);
	g_assert_cmpstr(c.keys->pdata[0], ==, "10.0.0.1/32");
	g_assert_cmpstr(c.keys->pdata[2], ==, "2001:db8::/64");

	g_ptr_array_set_size(c.keys, 0);
	c.stop_after = 2;
	g_assert_true(store_foreach(st, collect, &c, NULL, &err));
	g_assert_cmpuint(c.keys->len, ==, 2);

	g_assert_true(store_forget(st, "10.0.0.1/32", &found, &err));
	g_assert_true(found);
	g_assert_true(store_forget(st, "10.0.0.1/32", &found, &err));
	g_assert_false(found);
	g_ptr_array_set_size(c.keys, 0);
	c.stop_after = 100;
	g_assert_true(store_foreach(st, collect, &c, NULL, &err));
	g_assert_cmpuint(c.keys->len, ==, 2);
	g_assert_no_error(err);
	g_ptr_array_unref(c.keys);
	store_free(st);
}

/* Expiry goes by the newest activity of either kind, in batches. */
static void
test_expire(void)
{
	g_autofree char *path = new_path("expire");
	struct store *st = open_store(path, 1u << 30, 0, false);
	const size_t n = 25000;	/* more than one expiry batch */
	g_autofree struct store_item *items = g_new(struct store_item, n);
	g_autoptr(GError) err = NULL;
	size_t removed = 0;
	struct hit_record r;
	bool found;

	for (size_t i = 0; i < n; i++) {
		char key[32];

		g_snprintf(key, sizeof(key), "10.%zu.%zu.%zu/32", i >> 16,
		    (i >> 8) & 255, i & 255);
		/* Even records are old, odd ones recent. */
		items[i] = item(key, i % 2 == 0 ? T0 - 40 * DAY_MS : T0, true,
		    NULL);
	}
	g_assert_true(store_apply(st, items, n, &err));
	/* An old tar-pit record the primary saw recently stays. */
	g_assert_true(store_primary_contact(st, "10.0.0.0/32", T0, NULL, &err));

	g_assert_true(store_expire(st, T0, 30 * DAY_MS, &removed, &err));
	g_assert_no_error(err);
	g_assert_cmpuint(removed, ==, n / 2 - 1);	/* 10.0.0.0 stays */
	g_assert_true(store_lookup(st, "10.0.0.0/32", &r, &found, &err));
	g_assert_true(found);
	g_assert_true(store_lookup(st, "10.0.0.2/32", &r, &found, &err));
	g_assert_false(found);
	g_assert_true(store_lookup(st, "10.0.0.3/32", &r, &found, &err));
	g_assert_true(found);
	g_assert_true(store_expire(st, T0, 30 * DAY_MS, &removed, &err));
	g_assert_cmpuint(removed, ==, 0);
	store_free(st);
}

/* Put raw bytes into a database of an LMDB file, behind the store's back. */
static void
raw_put(const char *path, const char *db, const char *key, const void *val,
    size_t len)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { strlen(key), (void *)key }, v = { len, (void *)val };

	g_assert_cmpint(mdb_env_create(&env), ==, 0);
	g_assert_cmpint(mdb_env_set_maxdbs(env, 4), ==, 0);
	g_assert_cmpint(mdb_env_open(env, path, MDB_NOSUBDIR, 0600), ==, 0);
	g_assert_cmpint(mdb_txn_begin(env, NULL, 0, &txn), ==, 0);
	g_assert_cmpint(mdb_dbi_open(txn, db, MDB_CREATE, &dbi), ==, 0);
	g_assert_cmpint(mdb_put(txn, dbi, &k, &v, 0), ==, 0);
	g_assert_cmpint(mdb_txn_commit(txn), ==, 0);
	mdb_env_close(env);
}

/* A damaged record is reported, skipped, and never overwritten. */
static void
test_damaged_record(void)
{
	g_autofree char *path = new_path("damaged");
	struct store *st = open_store(path, 1u << 30, 0, false);
	static const uint8_t junk[] = { 1, 0, 0, 0, 'j', 'u', 'n', 'k' };
	g_autoptr(GError) err = NULL;
	struct store_item it = item("192.0.2.66/32", T0, true, NULL);
	struct hit_record r;
	size_t bad = 0, removed = 9;
	bool found;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { 13, (void *)"192.0.2.66/32" }, v;

	apply_one(st, item("192.0.2.1/32", T0, true, NULL));
	store_free(st);
	raw_put(path, "hits", "192.0.2.66/32", junk, sizeof(junk));
	st = open_store(path, 1u << 30, 0, false);

	g_assert_false(store_lookup(st, "192.0.2.66/32", &r, &found, &err));
	g_assert_error(err, STORE_ERROR, STORE_ERROR_CORRUPT);
	g_assert_nonnull(strstr(err->message, "192.0.2.66/32"));
	g_clear_error(&err);
	g_assert_false(store_primary_contact(st, "192.0.2.66/32", T0, &r,
	    &err));
	g_assert_error(err, STORE_ERROR, STORE_ERROR_CORRUPT);
	g_clear_error(&err);
	/* A queued contact for it is dropped, the bytes kept. */
	apply_one(st, contact("192.0.2.66/32", T0));
	g_assert_false(store_lookup(st, "192.0.2.66/32", &r, &found, &err));
	g_assert_error(err, STORE_ERROR, STORE_ERROR_CORRUPT);
	g_clear_error(&err);
	g_assert_true(store_apply(st, &it, 1, &err));
	g_assert_true(store_foreach(st, count_one, &removed, &bad, &err));
	g_assert_cmpuint(removed, ==, 10);	/* 9 + the good record */
	g_assert_cmpuint(bad, ==, 1);
	g_assert_true(store_expire(st, T0 + 365 * DAY_MS, DAY_MS, &removed,
	    &err));
	g_assert_cmpuint(removed, ==, 1);	/* only the good one */
	store_free(st);

	/* The damaged bytes are still there, untouched. */
	g_assert_cmpint(mdb_env_create(&env), ==, 0);
	g_assert_cmpint(mdb_env_set_maxdbs(env, 4), ==, 0);
	g_assert_cmpint(mdb_env_open(env, path, MDB_NOSUBDIR | MDB_RDONLY,
	    0600), ==, 0);
	g_assert_cmpint(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), ==, 0);
	g_assert_cmpint(mdb_dbi_open(txn, "hits", 0, &dbi), ==, 0);
	g_assert_cmpint(mdb_get(txn, dbi, &k, &v), ==, 0);
	g_assert_cmpmem(v.mv_data, v.mv_size, junk, sizeof(junk));
	mdb_txn_abort(txn);
	mdb_env_close(env);
}

/* Bytes of a file, to show a refused file was left untouched. */
static GBytes *
file_bytes(const char *path)
{
	char *data;
	gsize len;

	g_assert_true(g_file_get_contents(path, &data, &len, NULL));
	return g_bytes_new_take(data, len);
}

#ifdef WITH_REDIS
/* Run one command on the Redis under test, behind the store's back. */
static void
redis_raw(const char *fmt, ...)
{
	char host[64];
	char *colon;
	redisContext *c;
	redisReply *r;
	va_list ap;

	g_strlcpy(host, redis_addr, sizeof(host));
	colon = strrchr(host, ':');
	*colon = '\0';
	c = redisConnect(host, atoi(colon + 1));
	g_assert_true(c != NULL && c->err == 0);
	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	g_assert_nonnull(r);
	g_assert_cmpint(r->type, !=, REDIS_REPLY_ERROR);
	freeReplyObject(r);
	redisFree(c);
}
#endif

/* Count the calls per key; stop after stop_after calls. */
struct census {
	GHashTable	*seen;		/* key -> calls */
	size_t		calls;
	size_t		stop_after;
};

static bool
census_one(const char *key, const struct hit_record *rec, void *data)
{
	struct census *c = data;
	gpointer n = g_hash_table_lookup(c->seen, key);

	g_assert_cmpint(rec->tarpit_first, ==, T0);
	g_hash_table_insert(c->seen, g_strdup(key),
	    GUINT_TO_POINTER(GPOINTER_TO_UINT(n) + 1));
	return ++c->calls < c->stop_after;
}

/*
 * A listing of more records than one Redis SCAN batch (about 1,000) or
 * one pipeline: every record exactly once, the damaged ones counted and
 * skipped, the store's other keys never listed.
 */
#define MANY	2500
static void
test_foreach_many(void)
{
	g_autofree char *path = new_path("many");
	struct store *st = open_store(path, 1u << 30, 0, false);
	g_autofree struct store_item *items = g_new(struct store_item, MANY);
	struct census c = { g_hash_table_new_full(g_str_hash, g_str_equal,
	    g_free, NULL), 0, SIZE_MAX };
	g_autoptr(GError) err = NULL;
	size_t bad = 0, want_bad = 1;
	GHashTableIter it;
	gpointer k, n;

	for (size_t i = 0; i < MANY; i++) {
		char key[48];

		if (i % 3 == 2)
			g_snprintf(key, sizeof(key), "2001:db8:%zx:%zx::/64",
			    i >> 8, i & 255);
		else
			g_snprintf(key, sizeof(key), "10.%zu.%zu.0/%s",
			    i >> 8, i & 255, i % 3 == 0 ? "24" : "32");
		items[i] = item(key, T0, true, NULL);
	}
	g_assert_true(store_apply(st, items, MANY, &err));
	g_assert_true(store_alive_mark(st, T0, &err));
	g_assert_no_error(err);
	if (backend == STORE_BACKEND_LMDB) {
		static const uint8_t junk[] = { 1, 0, 0, 0, 'j', 'u', 'n', 'k' };

		store_free(st);
		raw_put(path, "hits", "192.0.2.66/32", junk, sizeof(junk));
		st = open_store(path, 1u << 30, 0, false);
	} else {
#ifdef WITH_REDIS
		/* A bad field, a value that is no hash, a key of no record. */
		redis_raw("HSET %snet:192.0.2.66/32 tf junk", path);
		redis_raw("SET %snet:192.0.2.67/32 junk", path);
		redis_raw("SET %snetwork junk", path);
		want_bad = 2;
#endif
	}
	g_assert_true(store_foreach(st, census_one, &c, &bad, &err));
	g_assert_no_error(err);
	g_assert_cmpuint(bad, ==, want_bad);
	g_assert_cmpuint(c.calls, ==, MANY);
	g_assert_cmpuint(g_hash_table_size(c.seen), ==, MANY);
	for (size_t i = 0; i < MANY; i++)
		g_assert_true(g_hash_table_contains(c.seen, items[i].key));
	g_hash_table_iter_init(&it, c.seen);
	while (g_hash_table_iter_next(&it, &k, &n))
		if (GPOINTER_TO_UINT(n) != 1)
			g_error("%s listed %u times", (char *)k,
			    GPOINTER_TO_UINT(n));

	/* Stopped in the middle of a batch: no call after the stop. */
	g_hash_table_remove_all(c.seen);
	c.calls = 0;
	c.stop_after = 1500;
	g_assert_true(store_foreach(st, census_one, &c, &bad, &err));
	g_assert_cmpuint(c.calls, ==, 1500);
	g_hash_table_unref(c.seen);
	store_free(st);
}

static void
test_foreign_files(void)
{
	g_autofree char *dir = g_build_filename(tmpdir, "foreign", NULL);
	g_autofree char *text = g_build_filename(dir, "text", NULL);
	g_autofree char *other = g_build_filename(dir, "other.lmdb", NULL);
	g_autofree char *newer = new_path("newer");
	g_autofree char *empty = g_build_filename(dir, "empty.lmdb", NULL);
	g_autofree char *absent = g_build_filename(dir, "absent.lmdb", NULL);
	g_autoptr(GBytes) before = NULL, after = NULL;
	char junk[8192];
	struct store *st;

	g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 7 + 3);
	g_assert_true(g_file_set_contents(text, junk, sizeof(junk), NULL));
	before = file_bytes(text);
	open_fails(text, false, STORE_ERROR_FOREIGN, "not an LMDB file");
	open_fails(text, true, STORE_ERROR_FOREIGN, "not an LMDB file");
	after = file_bytes(text);
	g_assert_true(g_bytes_equal(before, after));

	/* Another program's LMDB database: refused, not written to. */
	raw_put(other, NULL, "somekey", "someval", 7);
	g_clear_pointer(&before, g_bytes_unref);
	g_clear_pointer(&after, g_bytes_unref);
	before = file_bytes(other);
	open_fails(other, false, STORE_ERROR_FOREIGN, "another program");
	after = file_bytes(other);
	g_assert_true(g_bytes_equal(before, after));

	/* A store from a newer slowspam. */
	st = open_store(newer, 1u << 30, 0, false);
	store_free(st);
	raw_put(newer, "meta", "format", "slowspam-hits 2", 15);
	open_fails(newer, false, STORE_ERROR_VERSION, "newer than this");
	raw_put(newer, "meta", "format", "other-thing 1", 13);
	open_fails(newer, true, STORE_ERROR_FOREIGN, "not a slowspam hit store");

	/* Nothing yet: read-only users are told so; a directory is no file. */
	open_fails(absent, true, STORE_ERROR_IO, "no store there yet");
	g_assert_true(g_file_set_contents(empty, "", 0, NULL));
	open_fails(empty, true, STORE_ERROR_FOREIGN, "an empty file");
	open_fails(dir, false, STORE_ERROR_IO, "cannot open store");
}

/* A map that cannot grow further: a clear error, nothing lost. */
static void
test_full(void)
{
	g_autofree char *path = new_path("full");
	const uint64_t max = 32u << 20;	/* grows 16 MiB -> 32 MiB, then full */
	struct store *st = open_store(path, max, 30 * DAY_MS, false);
	char helo[RECORD_HELO_MAX + 1];
	size_t stored = 0, counted = 0;
	bool full = false;
	g_autoptr(GError) err = NULL;

	memset(helo, 'h', RECORD_HELO_MAX);
	helo[RECORD_HELO_MAX] = '\0';
	for (size_t batch = 0; batch < 1000 && !full; batch++) {
		struct store_item items[500];

		for (size_t i = 0; i < G_N_ELEMENTS(items); i++) {
			char key[32];
			size_t n = batch * G_N_ELEMENTS(items) + i;

			g_snprintf(key, sizeof(key), "10.%zu.%zu.%zu/32",
			    n >> 16, (n >> 8) & 255, n & 255);
			items[i] = item(key, store_now(), true, helo);
		}
		if (store_apply(st, items, G_N_ELEMENTS(items), &err))
			stored += G_N_ELEMENTS(items);
		else
			full = true;
	}
	g_assert_true(full);
	g_assert_error(err, STORE_ERROR, STORE_ERROR_FULL);
	g_assert_nonnull(strstr(err->message, path));
	g_assert_nonnull(strstr(err->message, "32 MiB"));
	g_assert_nonnull(strstr(err->message, "map_size"));
	g_assert_cmpuint(stored, >, 50000);	/* it did grow past 16 MiB */

	/* Everything committed before is there, and reads still work. */
	g_assert_true(store_foreach(st, count_one, &counted, NULL, NULL));
	g_assert_cmpuint(counted, ==, stored);
	g_assert_cmpuint(must_find(st, "10.0.0.0/32").tarpit_sessions, ==, 1);
	store_free(st);

	/* With a TTL they have outlived, a full store expires and goes on. */
	g_usleep(2000);
	st = open_store(path, max, 1, false);
	{
		struct store_item items[500];

		for (size_t i = 0; i < G_N_ELEMENTS(items); i++) {
			char key[32];

			g_snprintf(key, sizeof(key), "11.0.%zu.%zu/32", i >> 8,
			    i & 255);
			items[i] = item(key, store_now() + 1000, true, helo);
		}
		g_clear_error(&err);
		g_assert_true(store_apply(st, items, G_N_ELEMENTS(items),
		    &err));
		g_assert_no_error(err);
	}
	counted = 0;
	g_assert_true(store_foreach(st, count_one, &counted, NULL, NULL));
	g_assert_cmpuint(counted, ==, 500);
	store_free(st);
}

#define TWO_PROC_KEYS	20000
#define TWO_PROC_BATCH	200
#define TWO_PROC_READS	4000

static void
two_proc_key(size_t i, char *key, size_t size)
{
	g_snprintf(key, size, "10.%zu.%zu.%zu/32", i >> 16, (i >> 8) & 255,
	    i & 255);
}

/* Child: write one tar-pit session for every key, in batches. */
static void G_GNUC_NORETURN
two_proc_writer(const char *path)
{
	struct store *st = open_store(path, 1u << 30, 0, false);
	char helo[RECORD_HELO_MAX + 1];

	memset(helo, 'w', RECORD_HELO_MAX);
	helo[RECORD_HELO_MAX] = '\0';
	for (size_t b = 0; b < TWO_PROC_KEYS / TWO_PROC_BATCH; b++) {
		struct store_item items[TWO_PROC_BATCH];

		for (size_t i = 0; i < TWO_PROC_BATCH; i++) {
			char key[32];

			two_proc_key(b * TWO_PROC_BATCH + i, key, sizeof(key));
			items[i] = item(key, T0 + 1, true, helo);
		}
		if (!store_apply(st, items, TWO_PROC_BATCH, NULL))
			_exit(3);
	}
	store_free(st);
	_exit(0);
}

/* Child: read records and record primary contacts meanwhile. */
static void G_GNUC_NORETURN
two_proc_reader(const char *path)
{
	struct store *st = NULL;
	size_t seen = 0;

	/* The writer creates the file; wait for it. */
	for (int tries = 0; st == NULL && tries < 500; tries++) {
		struct store_options o = options(path, 1u << 30, 0, false);

		if ((st = store_open(&o, NULL)) == NULL)
			g_usleep(10000);
	}
	if (st == NULL)
		_exit(4);
	for (size_t j = 0; j < TWO_PROC_READS; j++) {
		char key[32];
		struct hit_record r;
		bool found;

		two_proc_key((j * 7) % TWO_PROC_KEYS, key, sizeof(key));
		if (!store_lookup(st, key, &r, &found, NULL))
			_exit(5);
		seen += found;
		if (!store_primary_contact(st, key, T0 + 2, NULL, NULL))
			_exit(6);
	}
	store_free(st);
	_exit(seen > 0 ? 0 : 7);
}

static int
wait_child(pid_t pid)
{
	int status;

	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/*
 * One process writes sessions while another reads and records primary
 * contacts on the same file; the writer grows the map past 16 MiB while
 * the reader has it open. No update may be lost on either side.
 */
static void
test_two_processes(void)
{
	g_autofree char *path = new_path("twoproc");
	g_autofree char *dir = g_path_get_dirname(path);
	g_autofree unsigned *contacts = g_new0(unsigned, TWO_PROC_KEYS);
	struct store *st;
	pid_t writer, reader;

	g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
	if ((writer = fork()) == 0)
		two_proc_writer(path);
	if ((reader = fork()) == 0)
		two_proc_reader(path);
	g_assert_cmpint(wait_child(writer), ==, 0);
	g_assert_cmpint(wait_child(reader), ==, 0);

	for (size_t j = 0; j < TWO_PROC_READS; j++)
		contacts[(j * 7) % TWO_PROC_KEYS]++;
	st = open_store(path, 1u << 30, 0, true);
	for (size_t i = 0; i < TWO_PROC_KEYS; i++) {
		char key[32];
		struct hit_record r;

		two_proc_key(i, key, sizeof(key));
		r = must_find(st, key);
		if (r.tarpit_sessions != 1 || r.primary_sessions != contacts[i] ||
		    r.helo_len != RECORD_HELO_MAX)
			g_error("%s: tarpit %u, primary %u (want %u)", key,
			    r.tarpit_sessions, r.primary_sessions, contacts[i]);
	}
	store_free(st);
}

#define KILL_KEYS	400

/*
 * Child: forever, one transaction adds a session to every one of
 * KILL_KEYS records, so after any crash all counts must be equal.
 */
static void G_GNUC_NORETURN
kill_writer(const char *path, int ready_fd)
{
	struct store *st;
	struct store_item items[KILL_KEYS];

	alarm(20);	/* a writer stuck on a dead writer's lock fails */
	st = open_store(path, 1u << 30, 0, false);
	for (size_t i = 0; i < KILL_KEYS; i++) {
		char key[32];

		g_snprintf(key, sizeof(key), "172.16.%zu.%zu/32", i >> 8,
		    i & 255);
		items[i] = item(key, T0, true, "crash.example");
	}
	for (unsigned n = 0;; n++) {
		if (!store_apply(st, items, KILL_KEYS, NULL))
			_exit(3);
		if (n == 0 && write(ready_fd, "r", 1) != 1)
			_exit(4);
	}
}

struct equal_counts {
	uint32_t count;
	size_t records;
	bool equal;
};

static bool
check_equal(const char *key, const struct hit_record *rec, void *data)
{
	struct equal_counts *e = data;

	(void)key;
	if (e->records++ == 0)
		e->count = rec->tarpit_sessions;
	e->equal = e->equal && rec->tarpit_sessions == e->count;
	return true;
}

static void
test_sigkill(void)
{
	g_autofree char *path = new_path("sigkill");
	g_autofree char *dir = g_path_get_dirname(path);
	uint32_t last = 0;

	g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
	for (int round = 0; round < 8; round++) {
		struct equal_counts e = { 0, 0, true };
		struct store *st;
		size_t bad = 1;
		int fds[2];
		char c;
		pid_t pid;

		g_assert_cmpint(pipe(fds), ==, 0);
		if ((pid = fork()) == 0) {
			close(fds[0]);
			kill_writer(path, fds[1]);
		}
		close(fds[1]);
		g_assert_cmpint(read(fds[0], &c, 1), ==, 1);
		close(fds[0]);
		/* Land the kill at a different point of a transaction each time. */
		g_usleep((gulong)g_test_rand_int_range(1000, 60000));
		g_assert_cmpint(kill(pid, SIGKILL), ==, 0);
		g_assert_cmpint(wait_child(pid), ==, 128 + SIGKILL);

		st = open_store(path, 1u << 30, 0, false);
		g_assert_true(store_foreach(st, check_equal, &e, &bad, NULL));
		g_assert_cmpuint(bad, ==, 0);
		g_assert_cmpuint(e.records, ==, KILL_KEYS);
		g_assert_true(e.equal);
		g_assert_cmpuint(e.count, >, last);
		g_test_message("round %d: %u sessions each", round, e.count);
		last = e.count;
		/* The store stays writable after the crash. */
		apply_one(st, item("192.0.2.1/32", T0, true, NULL));
		g_assert_true(store_forget(st, "192.0.2.1/32", NULL, NULL));
		store_free(st);
	}
}

/*
 * In a spawned server, before exec: die with the test. A failed assertion
 * aborts the test without its clean-up, and a server left behind would
 * hold the test's output open, so the harness would wait for it forever.
 */
static void
die_with_test(gpointer unused)
{
	(void)unused;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

/* Start a throwaway redis-server on a free loopback port; false if none. */
static bool
redis_start(const char *extra, GPid *pid, char *addr, size_t size)
{
	g_autofree char *port = NULL;
	g_autofree char *program = g_find_program_in_path("redis-server");
	g_autoptr(GError) err = NULL;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	const char *argv[] = { "redis-server", "--port", NULL, "--bind",
	    "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel",
	    "warning", extra != NULL ? "--requirepass" : NULL, extra, NULL };
	int fd;

	if (program == NULL)
		return false;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	getsockname(fd, (struct sockaddr *)&sin, &len);
	close(fd);
	port = g_strdup_printf("%u", ntohs(sin.sin_port));
	argv[2] = port;
	g_snprintf(addr, size, "127.0.0.1:%s", port);
	if (!g_spawn_async(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH |
	    G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_DO_NOT_REAP_CHILD,
	    die_with_test, NULL, pid, &err))
		g_error("redis-server: %s", err->message);
	/* Ready when it accepts a connection. */
	for (int i = 0; i < 200; i++) {
		int c = socket(AF_INET, SOCK_STREAM, 0);
		bool up = connect(c, (struct sockaddr *)&sin, sizeof(sin)) == 0;

		close(c);
		if (up)
			return true;
		g_usleep(10000);
	}
	g_error("redis-server did not start on %s", addr);
}

static void
redis_stop(GPid pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* Run a generic test on the Redis backend. */
static void
on_redis(gconstpointer test)
{
	backend = STORE_BACKEND_REDIS;
	((void (*)(void))test)();
	backend = STORE_BACKEND_LMDB;
}

/* Redis down: fails fast, fails open; back up: reconnects by itself. */
static void
test_redis_down(void)
{
	struct store_options o;
	struct store *st;
	GPid pid;
	char addr[64];
	g_autoptr(GError) err = NULL;
	struct store_item it = item("192.0.2.1/32", T0, true, NULL);
	struct hit_record r;
	bool found;
	gint64 t;
	int tries;

	g_assert_true(redis_start(NULL, &pid, addr, sizeof(addr)));
	backend = STORE_BACKEND_REDIS;
	o = options("down:", 0, 0, false);
	backend = STORE_BACKEND_LMDB;
	o.redis_timeout = 100;
	/* Nobody there yet: the store opens, and fails each call at once. */
	o.redis = "127.0.0.1:1";
	st = store_open(&o, &err);
	g_assert_no_error(err);
	g_assert_nonnull(st);
	g_assert_false(store_apply(st, &it, 1, &err));
	g_assert_error(err, STORE_ERROR, STORE_ERROR_UNAVAILABLE);
	g_clear_error(&err);
	store_free(st);
	o.redis = addr;
	st = store_open(&o, &err);
	g_assert_no_error(err);
	g_assert_true(store_apply(st, &it, 1, &err));
	redis_stop(pid);
	t = g_get_monotonic_time();
	g_assert_false(store_apply(st, &it, 1, &err));
	g_assert_error(err, STORE_ERROR, STORE_ERROR_UNAVAILABLE);
	g_assert_nonnull(strstr(err->message, addr));
	g_clear_error(&err);
	/* While it is down, calls fail at once: nobody waits on it. */
	g_assert_false(store_lookup(st, "192.0.2.1/32", &r, &found, &err));
	g_assert_error(err, STORE_ERROR, STORE_ERROR_UNAVAILABLE);
	g_clear_error(&err);
	g_assert_cmpint(g_get_monotonic_time() - t, <, 500000);
	/* Back on the same port: the store reconnects after its backoff. */
	{
		const char *argv[] = { "redis-server", "--port",
		    strrchr(addr, ':') + 1, "--bind", "127.0.0.1", "--save", "",
		    "--appendonly", "no", NULL };

		g_assert_true(g_spawn_async(NULL, (char **)argv, NULL,
		    G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
		    G_SPAWN_DO_NOT_REAP_CHILD, die_with_test, NULL, &pid,
		    NULL));
	}
	for (tries = 0; tries < 100; tries++) {
		if (store_apply(st, &it, 1, NULL))
			break;
		g_usleep(50000);
	}
	g_assert_cmpint(tries, <, 100);
	g_assert_true(store_lookup(st, "192.0.2.1/32", &r, &found, &err));
	g_assert_true(found);
	store_free(st);
	redis_stop(pid);
}

/*
 * A number from the INFO section of the Redis under test: field's value,
 * or (stat set) the value of "stat=" within it ("calls" of a command's
 * statistics); 0 if the field is missing.
 */
static int64_t
redis_info(const char *section, const char *field, const char *stat)
{
	char host[64];
	char *colon;
	redisContext *c;
	redisReply *r;
	g_autofree char *want = g_strconcat("\r\n", field, ":", NULL);
	const char *p;
	int64_t n = 0;

	g_strlcpy(host, redis_addr, sizeof(host));
	colon = strrchr(host, ':');
	*colon = '\0';
	c = redisConnect(host, atoi(colon + 1));
	g_assert_true(c != NULL && c->err == 0);
	r = redisCommand(c, "INFO %s", section);
	g_assert_nonnull(r);
	g_assert_cmpint(r->type, ==, REDIS_REPLY_STRING);
	if ((p = strstr(r->str, want)) != NULL) {
		p += strlen(want);
		if (stat != NULL) {
			g_autofree char *s = g_strconcat(stat, "=", NULL);

			p = strstr(p, s);
			g_assert_nonnull(p);
			p += strlen(s);
		}
		n = g_ascii_strtoll(p, NULL, 10);
	}
	freeReplyObject(r);
	redisFree(c);
	return n;
}

/* The EVAL and EVALSHA calls Redis counted since the last CONFIG RESETSTAT. */
static void
script_calls(int64_t *eval, int64_t *evalsha)
{
	*eval = redis_info("commandstats", "cmdstat_eval", "calls");
	*evalsha = redis_info("commandstats", "cmdstat_evalsha", "calls");
}

/* Apply items; Redis must have counted the EVAL and EVALSHA calls given. */
static void
apply_counted(struct store *st, const struct store_item *items, size_t n,
    int64_t want_eval, int64_t want_evalsha)
{
	int64_t eval, evalsha;
	g_autoptr(GError) err = NULL;

	redis_raw("CONFIG RESETSTAT");
	g_assert_true(store_apply(st, items, n, &err));
	g_assert_no_error(err);
	script_calls(&eval, &evalsha);
	g_assert_cmpint(eval, ==, want_eval);
	g_assert_cmpint(evalsha, ==, want_evalsha);
}

/*
 * Scripts go by SHA1 (EVALSHA); after SCRIPT FLUSH (as after a restart)
 * each call the server lacks a script for is sent once more as EVAL,
 * which caches it again: every kind of write still lands, once.
 */
static void
test_redis_noscript(void)
{
	struct store *st;
	struct store_item batch[] = {
		item("192.0.2.30/32", T0, true, "a.client.test"),
		contact("192.0.2.30/32", T0 + 1000),
		alive_item(T0),
		item("192.0.2.30/32", T0 + 2000, true, "b.client.test"),
	};
	struct hit_record r, before;
	struct alive a;
	int64_t eval, evalsha;
	g_autoptr(GError) err = NULL;

	backend = STORE_BACKEND_REDIS;
	st = open_store("noscript:", 0, 0, false);
	backend = STORE_BACKEND_LMDB;
	/* Warm: every script cached, none sent whole. */
	g_assert_true(store_apply(st, batch, G_N_ELEMENTS(batch), &err));
	g_assert_no_error(err);
	apply_counted(st, batch, G_N_ELEMENTS(batch), 0, 4);
	/* Flushed between two batches: four refused, four sent whole. */
	redis_raw("SCRIPT FLUSH");
	apply_counted(st, batch, G_N_ELEMENTS(batch), 4, 4);
	r = must_find(st, "192.0.2.30/32");
	g_assert_cmpuint(r.tarpit_sessions, ==, 6);
	g_assert_cmpuint(r.primary_sessions, ==, 3);
	g_assert_cmpstr(r.helo, ==, "b.client.test");

	/* The single calls likewise, each once. */
	redis_raw("SCRIPT FLUSH");
	redis_raw("CONFIG RESETSTAT");
	g_assert_true(store_primary_contact(st, "192.0.2.30/32", T0 + 5000,
	    &before, &err));
	g_assert_no_error(err);
	g_assert_cmpuint(before.primary_sessions, ==, 3);
	g_assert_true(store_alive_mark(st, T0 + 7 * MIN_MS, &err));
	g_assert_no_error(err);
	script_calls(&eval, &evalsha);
	g_assert_cmpint(eval, ==, 2);
	g_assert_cmpint(evalsha, ==, 2);
	r = must_find(st, "192.0.2.30/32");
	g_assert_cmpuint(r.primary_sessions, ==, 4);
	g_assert_true(store_alive_get(st, &a, &err));
	g_assert_true(alive_any(&a, T0 + 7 * MIN_MS, T0 + 7 * MIN_MS));
	g_assert_true(alive_any(&a, T0, T0));
	store_free(st);
}

/*
 * A relay in front of the test's Redis that, once armed, cuts the
 * connection on which the store sends its next EVAL (a call sent again
 * with its script): the server has then answered the batch's other
 * calls, and they ran. One connection at a time, as one thread's store
 * makes them.
 */
struct cutter {
	int		listen_fd;
	uint16_t	port;
	gint		armed, cuts, stop;
	GThread		*thread;
};

/* Copy what is readable on from to to; false when from is done. */
static bool
relay(int from, int to, struct cutter *k, bool from_client)
{
	char buf[65536];
	ssize_t n = read(from, buf, sizeof(buf));

	if (n <= 0)
		return false;
	if (from_client && g_atomic_int_get(&k->armed) &&
	    g_strstr_len(buf, n, "\r\nEVAL\r\n") != NULL) {
		g_atomic_int_set(&k->armed, 0);
		g_atomic_int_inc(&k->cuts);
		return false;
	}
	return write(to, buf, (size_t)n) == n;
}

static gpointer
cutter_run(gpointer data)
{
	struct cutter *k = data;

	while (!g_atomic_int_get(&k->stop)) {
		struct pollfd p[3] = { { k->listen_fd, POLLIN, 0 } };
		int client = -1, server = -1;

		if (poll(p, 1, 50) <= 0)
			continue;
		client = accept(k->listen_fd, NULL, NULL);
		server = socket(AF_INET, SOCK_STREAM, 0);
		{
			struct sockaddr_in sin = { .sin_family = AF_INET,
			    .sin_port = htons(atoi(strrchr(redis_addr, ':') +
			    1)) };

			sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			g_assert_cmpint(connect(server, (struct sockaddr *)&sin,
			    sizeof(sin)), ==, 0);
		}
		for (;;) {
			p[1] = (struct pollfd){ client, POLLIN, 0 };
			p[2] = (struct pollfd){ server, POLLIN, 0 };
			if (g_atomic_int_get(&k->stop))
				break;
			/* A new connection replaces this one. */
			if (poll(p, 3, 50) < 0 || (p[0].revents & POLLIN))
				break;
			if ((p[1].revents & (POLLIN | POLLHUP)) &&
			    !relay(client, server, k, true))
				break;
			if ((p[2].revents & (POLLIN | POLLHUP)) &&
			    !relay(server, client, k, false))
				break;
		}
		close(client);
		close(server);
	}
	return NULL;
}

static void
cutter_start(struct cutter *k)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);

	*k = (struct cutter){ .listen_fd = socket(AF_INET, SOCK_STREAM, 0) };
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	g_assert_cmpint(bind(k->listen_fd, (struct sockaddr *)&sin,
	    sizeof(sin)), ==, 0);
	g_assert_cmpint(listen(k->listen_fd, 8), ==, 0);
	getsockname(k->listen_fd, (struct sockaddr *)&sin, &len);
	k->port = ntohs(sin.sin_port);
	k->thread = g_thread_new("cutter", cutter_run, k);
}

static void
cutter_stop(struct cutter *k)
{
	g_atomic_int_set(&k->stop, 1);
	g_thread_join(k->thread);
	close(k->listen_fd);
}

/*
 * The connection lost after some of a batch's calls ran (here: between
 * the calls' replies and the EVAL of the one the server had no script
 * for): the batch is not sent again, so no call is applied twice; the
 * rest is lost, and the apply fails (counted by the caller).
 */
static void
test_redis_lost_midway(void)
{
	struct store_item first[] = { contact("192.0.2.50/32", T0) };
	struct store_item batch[] = {
		contact("192.0.2.50/32", T0 + 1000),
		item("192.0.2.51/32", T0 + 1000, true, "cut.client.test"),
	};
	struct store_options o;
	struct cutter k;
	struct store *st;
	struct hit_record r;
	bool found;
	char addr[64];
	g_autoptr(GError) err = NULL;

	cutter_start(&k);
	g_snprintf(addr, sizeof(addr), "127.0.0.1:%u", k.port);
	backend = STORE_BACKEND_REDIS;
	o = options("cut:", 0, 0, false);
	backend = STORE_BACKEND_LMDB;
	o.redis = addr;
	st = store_open(&o, &err);
	g_assert_no_error(err);
	/* The contact's script cached, the tar pit's not. */
	redis_raw("SCRIPT FLUSH");
	g_assert_true(store_apply(st, first, 1, &err));
	g_assert_no_error(err);
	g_atomic_int_set(&k.armed, 1);
	g_assert_false(store_apply(st, batch, G_N_ELEMENTS(batch), &err));
	g_assert_error(err, STORE_ERROR, STORE_ERROR_UNAVAILABLE);
	g_clear_error(&err);
	g_assert_cmpint(g_atomic_int_get(&k.cuts), ==, 1);
	store_free(st);
	cutter_stop(&k);
	/* The contact that ran counts once. */
	backend = STORE_BACKEND_REDIS;
	st = open_store("cut:", 0, 0, false);
	backend = STORE_BACKEND_LMDB;
	g_assert_true(store_lookup(st, "192.0.2.50/32", &r, &found, &err));
	g_assert_no_error(err);
	g_assert_true(found);
	g_assert_cmpuint(r.primary_sessions, ==, 2);
	store_free(st);
}

#define POOL_THREADS	8
#define POOL_CALLS	300

static gpointer
pool_worker(gpointer data)
{
	struct store *st = data;
	struct store_item it = contact("192.0.2.40/32", T0);

	for (int i = 0; i < POOL_CALLS; i++) {
		struct hit_record r;
		bool found;

		g_assert_true(store_apply(st, &it, 1, NULL));
		g_assert_true(store_lookup(st, "192.0.2.40/32", &r, &found,
		    NULL));
	}
	return NULL;
}

/*
 * Threads share the pool: no write is lost, more than one connection
 * carries them, never more than redis_connections.
 */
static void
test_redis_pool(void)
{
	struct store_options o;
	struct store *st;
	GThread *t[POOL_THREADS];
	struct hit_record r;
	int64_t before, peak = 0;
	g_autoptr(GError) err = NULL;

	backend = STORE_BACKEND_REDIS;
	o = options("pool:", 0, 0, false);
	backend = STORE_BACKEND_LMDB;
	o.redis_connections = 3;
	before = redis_info("clients", "connected_clients", NULL);
	st = store_open(&o, &err);
	g_assert_no_error(err);
	/* One connection at first: the others open when needed. */
	g_assert_cmpint(redis_info("clients", "connected_clients", NULL) -
	    before, ==, 1);
	for (int i = 0; i < POOL_THREADS; i++)
		t[i] = g_thread_new("pool", pool_worker, st);
	for (int i = 0; i < 20; i++) {
		peak = MAX(peak, redis_info("clients", "connected_clients",
		    NULL) - before - 1);	/* less redis_info's own */
		g_usleep(2000);
	}
	for (int i = 0; i < POOL_THREADS; i++)
		g_thread_join(t[i]);
	r = must_find(st, "192.0.2.40/32");
	g_assert_cmpuint(r.primary_sessions, ==, POOL_THREADS * POOL_CALLS);
	g_assert_cmpint(redis_info("clients", "connected_clients", NULL) -
	    before, ==, 3);
	g_assert_cmpint(peak, <=, 3);
	store_free(st);
}

/* requirepass and the database number are honoured; a wrong password says so. */
static void
test_redis_auth_db(void)
{
	struct store_options o = { STORE_BACKEND_REDIS, NULL, 0, 3600000,
	    false };
	struct store *a, *b;
	GPid pid;
	char addr[64];
	g_autoptr(GError) err = NULL;
	struct store_item it = item("192.0.2.9/32", T0, true, NULL);
	struct hit_record r;
	bool found;

	g_assert_true(redis_start("s3cret", &pid, addr, sizeof(addr)));
	o.redis = addr;
	o.redis_timeout = 500;
	o.redis_prefix = "auth:";
	o.redis_password = "wrong";
	g_assert_null(store_open(&o, &err));
	g_assert_nonnull(strstr(err->message, addr));
	g_assert_nonnull(strstr(err->message, "AUTH"));
	g_test_message("%s", err->message);
	g_clear_error(&err);
	o.redis_password = "s3cret";
	o.redis_db = 3;
	a = store_open(&o, &err);
	g_assert_no_error(err);
	o.redis_db = 0;
	b = store_open(&o, &err);
	g_assert_no_error(err);
	g_assert_true(store_apply(a, &it, 1, &err));
	g_assert_true(store_lookup(a, "192.0.2.9/32", &r, &found, &err));
	g_assert_true(found);
	g_assert_true(store_lookup(b, "192.0.2.9/32", &r, &found, &err));
	g_assert_false(found);
	store_free(a);
	store_free(b);
	redis_stop(pid);
}

int
main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	tmpdir = test_tmpdir_new("store");
	g_test_add_func("/store/roundtrip", test_roundtrip);
	g_test_add_func("/store/mixed-batch", test_mixed_batch);
	g_test_add_func("/store/bad-keys", test_bad_keys);
	g_test_add_func("/store/alive-batch", test_alive_batch);
	g_test_add_func("/store/alive-range", test_alive_range);
	g_test_add_func("/store/foreach-forget", test_foreach_forget);
	g_test_add_func("/store/foreach-many", test_foreach_many);
	g_test_add_func("/store/expire", test_expire);
	g_test_add_func("/store/damaged-record", test_damaged_record);
	g_test_add_func("/store/foreign-files", test_foreign_files);
	g_test_add_func("/store/full", test_full);
	g_test_add_func("/store/two-processes", test_two_processes);
	g_test_add_func("/store/sigkill", test_sigkill);
	if (redis_start(NULL, &redis_pid, redis_addr, sizeof(redis_addr))) {
		g_test_add_data_func("/store/redis/roundtrip", test_roundtrip,
		    on_redis);
		g_test_add_data_func("/store/redis/mixed-batch",
		    test_mixed_batch, on_redis);
		g_test_add_data_func("/store/redis/bad-keys", test_bad_keys,
		    on_redis);
		g_test_add_data_func("/store/redis/alive-batch",
		    test_alive_batch, on_redis);
		g_test_add_data_func("/store/redis/alive-range",
		    test_alive_range, on_redis);
		g_test_add_func("/store/redis/noscript", test_redis_noscript);
		g_test_add_func("/store/redis/pool", test_redis_pool);
		g_test_add_func("/store/redis/lost-midway",
		    test_redis_lost_midway);
		g_test_add_data_func("/store/redis/foreach-forget",
		    test_foreach_forget, on_redis);
		g_test_add_data_func("/store/redis/foreach-many",
		    test_foreach_many, on_redis);
		g_test_add_data_func("/store/redis/two-processes",
		    test_two_processes, on_redis);
		g_test_add_func("/store/redis/down", test_redis_down);
		g_test_add_func("/store/redis/auth-db", test_redis_auth_db);
	}
	rc = g_test_run();
	if (redis_pid != 0)
		redis_stop(redis_pid);
	test_tmpdir_remove(tmpdir);
	return rc;
}
