/*
 * store_lmdb.c - the embedded hit-store backend: one LMDB file.
 *
 *	store_lmdb_open	open (and on first use create) a store file
 *
 * Layout: named database "meta" holds key "format" = "slowspam-hits N";
 * named database "hits" maps network keys to record_encode() values.
 * A file without "meta" is someone else's LMDB database and is refused
 * untouched, as is a file that is not LMDB at all.
 *
 * Crash safety is LMDB's: copy-on-write pages and a robust write mutex,
 * so a writer killed mid-transaction leaves the last committed state, and
 * the next writer carries on. Stale reader slots of killed processes are
 * cleared at open.
 *
 * When the map is full the store grows it (doubling, up to map_size),
 * then expires records past the TTL, and only then reports
 * STORE_ERROR_FULL. Growing needs every transaction of this process
 * closed, so transactions hold a shared lock and a resize the
 * exclusive one.
 *
 * Diagnostics: every error names the file and what was being done; a
 * write cut short on a full file system reads "No space left on device".
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <glib/gstdio.h>
#include <lmdb.h>

#include "log.h"
#include "store_impl.h"

#define FORMAT_NAME	"slowspam-hits "
#define FORMAT_VERSION	1
#define INITIAL_MAP	(16u << 20)
/* Deletions per expiry transaction, so one expiry never holds the lock long. */
#define EXPIRE_BATCH	10000
#define MAX_READERS	512
/* Less free space than this on the store's file system is "full". */
#define DISK_LOW	(64u << 10)

struct store_lmdb {
	struct store	base;
	MDB_env		*env;
	MDB_dbi		hits;
	MDB_dbi		meta;
	char		*path;
	uint64_t	map_max;
	int64_t		ttl;
	pthread_rwlock_t resize_lock;
};

/* A step run inside a write transaction; returns an LMDB code. */
typedef int (*write_step)(struct store_lmdb *s, MDB_txn *txn, void *ctx);

/* Set error to "PATH: what: LMDB's reason". */
static void
set_mdb_error(GError **error, int code, const struct store_lmdb *s,
    const char *what, int rc)
{
	g_set_error(error, STORE_ERROR, code, "%s: %s: %s", s->path, what,
	    mdb_strerror(rc));
}

/*
 * LMDB reports a write cut short as EIO: when the file system holding
 * the store has no room left, say that instead of a disk fault.
 */
static int
write_errno(const struct store_lmdb *s, int rc)
{
	struct statvfs vfs;

	if ((rc == EIO || rc == ENOSPC) && statvfs(s->path, &vfs) == 0 &&
	    (uint64_t)vfs.f_bavail * vfs.f_frsize < DISK_LOW)
		return ENOSPC;
	return rc;
}

/* Begin a transaction, adopting a map another process has grown. */
static int
txn_begin(struct store_lmdb *s, unsigned flags, MDB_txn **txn)
{
	int rc;

	for (;;) {
		pthread_rwlock_rdlock(&s->resize_lock);
		rc = mdb_txn_begin(s->env, NULL, flags, txn);
		if (rc != MDB_MAP_RESIZED)
			break;
		pthread_rwlock_unlock(&s->resize_lock);
		pthread_rwlock_wrlock(&s->resize_lock);
		rc = mdb_env_set_mapsize(s->env, 0);
		pthread_rwlock_unlock(&s->resize_lock);
		if (rc != 0)
			return rc;
	}
	if (rc != 0)
		pthread_rwlock_unlock(&s->resize_lock);
	return rc;
}

/* End a transaction begun by txn_begin: commit if ok, else abort. */
static int
txn_end(struct store_lmdb *s, MDB_txn *txn, bool commit)
{
	int rc = 0;

	if (commit)
		rc = mdb_txn_commit(txn);
	else
		mdb_txn_abort(txn);
	pthread_rwlock_unlock(&s->resize_lock);
	return rc;
}

/* Double the map, up to map_max; false if it is already that big. */
static bool
grow_map(struct store_lmdb *s, size_t *size)
{
	MDB_envinfo info;
	bool grown = false;

	pthread_rwlock_wrlock(&s->resize_lock);
	mdb_env_info(s->env, &info);
	*size = info.me_mapsize;
	if (info.me_mapsize < s->map_max) {
		uint64_t want = MIN((uint64_t)info.me_mapsize * 2, s->map_max);

		if (mdb_env_set_mapsize(s->env, (size_t)want) == 0) {
			*size = (size_t)want;
			grown = true;
		}
	}
	pthread_rwlock_unlock(&s->resize_lock);
	return grown;
}

static bool lmdb_expire(struct store *st, int64_t now, int64_t ttl,
    size_t *removed, GError **error);

/*
 * Run step in a write transaction and commit it. A full map is grown,
 * then (if may_expire) expired, then the step is retried; steps must be
 * repeatable. Expiry itself passes false, so it cannot recurse.
 */
static bool
write_txn(struct store_lmdb *s, write_step step, void *ctx, const char *what,
    bool may_expire, GError **error)
{
	bool expired = !may_expire;

	for (;;) {
		MDB_txn *txn;
		size_t size, removed = 0;
		int rc = txn_begin(s, 0, &txn);

		if (rc == 0) {
			rc = step(s, txn, ctx);
			rc = rc == 0 ? txn_end(s, txn, true) :
			    (txn_end(s, txn, false), rc);
		}
		if (rc == 0)
			return true;
		if (rc != MDB_MAP_FULL) {
			set_mdb_error(error, STORE_ERROR_IO, s, what,
			    write_errno(s, rc));
			return false;
		}
		if (grow_map(s, &size)) {
			log_msg(LOG_NOTICE, "%s: store grown to %zu MiB", s->path,
			    size >> 20);
			continue;
		}
		if (!expired && s->ttl > 0) {
			expired = true;
			if (lmdb_expire(&s->base, store_now(), s->ttl, &removed,
			    NULL) && removed > 0) {
				log_msg(LOG_WARNING, "%s: store full at %zu MiB; "
				    "expired %zu records early", s->path,
				    size >> 20, removed);
				continue;
			}
		}
		g_set_error(error, STORE_ERROR, STORE_ERROR_FULL,
		    "%s: store is full at %zu MiB ([store] map_size): "
		    "raise map_size, lower ttl, or run slowspamctl expire",
		    s->path, size >> 20);
		return false;
	}
}

/* Read key's record in txn; MDB_NOTFOUND, 0, or MDB_CORRUPTED (logged). */
static int
get_record(struct store_lmdb *s, MDB_txn *txn, const char *key,
    struct hit_record *rec, GError **error)
{
	MDB_val k = { strlen(key), (void *)key }, v;
	int rc = mdb_get(txn, s->hits, &k, &v);

	if (rc != 0)
		return rc;
	if (!record_decode(v.mv_data, v.mv_size, rec, error))
		return MDB_CORRUPTED;
	return 0;
}

static int
put_record(struct store_lmdb *s, MDB_txn *txn, const char *key,
    const struct hit_record *rec)
{
	uint8_t buf[RECORD_MAX_SIZE];
	MDB_val k = { strlen(key), (void *)key };
	MDB_val v = { record_encode(rec, buf), buf };

	return mdb_put(txn, s->hits, &k, &v, 0);
}

struct apply_ctx {
	const struct store_item *items;
	size_t n;
};

static int alive_put(struct store_lmdb *s, MDB_txn *txn,
    const struct store_item *items, size_t n);

/* Fold one event into rec by the rule of its kind. */
static void
merge_item(struct hit_record *rec, const struct store_item *it)
{
	if (it->kind == STORE_ITEM_CONTACT)
		record_merge_primary(rec, it->update.now);
	else
		record_merge_tarpit(rec, &it->update);
}

/*
 * Merge each event into its record. A record this program cannot read
 * (damaged, or from a newer version) is left as it is and the event
 * dropped, so nothing readable is ever overwritten. The batch's alive
 * marks are one read and one write of the ring, however many.
 */
static int
apply_step(struct store_lmdb *s, MDB_txn *txn, void *ctx)
{
	const struct apply_ctx *a = ctx;
	bool alive = false;

	for (size_t i = 0; i < a->n; i++) {
		struct hit_record rec;
		g_autoptr(GError) err = NULL;
		int rc;

		if (a->items[i].kind == STORE_ITEM_ALIVE) {
			alive = true;
			continue;
		}
		rc = get_record(s, txn, a->items[i].key, &rec, &err);
		if (rc == MDB_CORRUPTED) {
			log_msg(LOG_WARNING, "%s: record %s kept, not updated: %s",
			    s->path, a->items[i].key, err->message);
			continue;
		}
		if (rc == MDB_NOTFOUND)
			memset(&rec, 0, sizeof(rec));
		else if (rc != 0)
			return rc;
		merge_item(&rec, &a->items[i]);
		if ((rc = put_record(s, txn, a->items[i].key, &rec)) != 0)
			return rc;
	}
	return alive ? alive_put(s, txn, a->items, a->n) : 0;
}

static bool
lmdb_apply(struct store *st, const struct store_item *items, size_t n,
    GError **error)
{
	struct apply_ctx a = { items, n };

	return write_txn((struct store_lmdb *)st, apply_step, &a,
	    store_items_what(items, n), true, error);
}

struct primary_ctx {
	const char *key;
	int64_t now;
	struct hit_record *before;
	GError *err;		/* a damaged record */
};

static int
primary_step(struct store_lmdb *s, MDB_txn *txn, void *ctx)
{
	struct primary_ctx *p = ctx;
	struct hit_record rec;
	int rc;

	g_clear_error(&p->err);
	rc = get_record(s, txn, p->key, &rec, &p->err);
	if (rc == MDB_NOTFOUND)
		memset(&rec, 0, sizeof(rec));
	else if (rc != 0)
		return rc;
	*p->before = rec;
	record_merge_primary(&rec, p->now);
	return put_record(s, txn, p->key, &rec);
}

static bool
lmdb_primary_contact(struct store *st, const char *key, int64_t now,
    struct hit_record *before, GError **error)
{
	struct store_lmdb *s = (struct store_lmdb *)st;
	struct primary_ctx p = { key, now, before, NULL };
	g_autoptr(GError) err = NULL;

	if (write_txn(s, primary_step, &p, "recording a primary contact",
	    true, &err))
		return true;
	if (p.err != NULL) {
		g_set_error(error, STORE_ERROR, STORE_ERROR_CORRUPT,
		    "%s: record %s: %s", s->path, key, p.err->message);
		g_error_free(p.err);
	} else {
		g_propagate_error(error, g_steal_pointer(&err));
	}
	return false;
}

static bool
lmdb_lookup(struct store *st, const char *key, struct hit_record *rec,
    bool *found, GError **error)
{
	struct store_lmdb *s = (struct store_lmdb *)st;
	g_autoptr(GError) err = NULL;
	MDB_txn *txn;
	int rc = txn_begin(s, MDB_RDONLY, &txn);

	*found = false;
	if (rc != 0) {
		set_mdb_error(error, STORE_ERROR_IO, s, "reading", rc);
		return false;
	}
	rc = get_record(s, txn, key, rec, &err);
	txn_end(s, txn, false);
	if (rc == MDB_CORRUPTED) {
		g_set_error(error, STORE_ERROR, STORE_ERROR_CORRUPT,
		    "%s: record %s: %s", s->path, key, err->message);
		return false;
	}
	if (rc != 0 && rc != MDB_NOTFOUND) {
		set_mdb_error(error, STORE_ERROR_IO, s, "reading", rc);
		return false;
	}
	*found = rc == 0;
	return true;
}

/* Copy an LMDB key into a C string; false if it cannot be a store key. */
static bool
key_copy(const MDB_val *k, char *buf)
{
	if (k->mv_size == 0 || k->mv_size > STORE_KEY_MAX ||
	    memchr(k->mv_data, '\0', k->mv_size) != NULL)
		return false;
	memcpy(buf, k->mv_data, k->mv_size);
	buf[k->mv_size] = '\0';
	return true;
}

static bool
lmdb_foreach(struct store *st, store_foreach_fn fn, void *data, size_t *bad,
    GError **error)
{
	struct store_lmdb *s = (struct store_lmdb *)st;
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = txn_begin(s, MDB_RDONLY, &txn);

	*bad = 0;
	if (rc == 0 && (rc = mdb_cursor_open(txn, s->hits, &cur)) != 0)
		txn_end(s, txn, false);
	if (rc != 0) {
		set_mdb_error(error, STORE_ERROR_IO, s, "reading", rc);
		return false;
	}
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
		char key[STORE_KEY_MAX + 1];
		struct hit_record rec;
		g_autoptr(GError) err = NULL;

		if (!key_copy(&k, key)) {
			(*bad)++;
			log_msg(LOG_WARNING, "%s: skipped a record with a "
			    "malformed key", s->path);
			continue;
		}
		if (!record_decode(v.mv_data, v.mv_size, &rec, &err)) {
			(*bad)++;
			log_msg(LOG_WARNING, "%s: skipped record %s: %s",
			    s->path, key, err->message);
			continue;
		}
		if (!fn(key, &rec, data)) {
			rc = MDB_NOTFOUND;
			break;
		}
	}
	mdb_cursor_close(cur);
	txn_end(s, txn, false);
	if (rc != MDB_NOTFOUND) {
		set_mdb_error(error, STORE_ERROR_IO, s, "reading", rc);
		return false;
	}
	return true;
}

struct forget_ctx {
	const char *key;
	bool *found;
};

static int
forget_step(struct store_lmdb *s, MDB_txn *txn, void *ctx)
{
	struct forget_ctx *f = ctx;
	MDB_val k = { strlen(f->key), (void *)f->key };
	int rc = mdb_del(txn, s->hits, &k, NULL);

	*f->found = rc == 0;
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static bool
lmdb_forget(struct store *st, const char *key, bool *found, GError **error)
{
	struct forget_ctx f = { key, found };

	return write_txn((struct store_lmdb *)st, forget_step, &f,
	    "forgetting a record", false, error);
}

struct expire_ctx {
	int64_t cutoff;
	char next[STORE_KEY_MAX + 1];	/* where the next batch starts */
	bool more;			/* a batch ended before the end */
	size_t removed;			/* in the last batch */
};

/* Delete up to EXPIRE_BATCH expired records from ctx->next onwards. */
static int
expire_step(struct store_lmdb *s, MDB_txn *txn, void *ctx)
{
	struct expire_ctx *e = ctx;
	MDB_cursor *cur;
	MDB_val k = { strlen(e->next), e->next }, v;
	int rc, op = k.mv_size > 0 ? MDB_SET_RANGE : MDB_FIRST;

	e->removed = 0;
	e->more = false;
	if ((rc = mdb_cursor_open(txn, s->hits, &cur)) != 0)
		return rc;
	while ((rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
		struct hit_record rec;

		op = MDB_NEXT;
		if (e->removed == EXPIRE_BATCH) {
			if (!key_copy(&k, e->next))
				continue;	/* resume at a good key */
			e->more = true;
			break;
		}
		if (!record_decode(v.mv_data, v.mv_size, &rec, NULL) ||
		    record_last_seen(&rec) >= e->cutoff)
			continue;
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		e->removed++;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static bool
lmdb_expire(struct store *st, int64_t now, int64_t ttl, size_t *removed,
    GError **error)
{
	struct expire_ctx e = { .cutoff = now - ttl };

	*removed = 0;
	do {
		if (!write_txn((struct store_lmdb *)st, expire_step, &e,
		    "expiring records", false, error))
			return false;
		*removed += e.removed;
	} while (e.more);
	return true;
}

#define ALIVE_KEY	"alive"

/* Read the liveness record in txn; a missing or bad one reads as clear. */
static void
get_alive(struct store_lmdb *s, MDB_txn *txn, struct alive *a)
{
	MDB_val k = { sizeof(ALIVE_KEY) - 1, (void *)ALIVE_KEY }, v;

	if (mdb_get(txn, s->meta, &k, &v) != 0 ||
	    !alive_decode(v.mv_data, v.mv_size, a))
		memset(a, 0, sizeof(*a));
}

/* Mark the minute of every alive item among items[0..n) in one write. */
static int
alive_put(struct store_lmdb *s, MDB_txn *txn, const struct store_item *items,
    size_t n)
{
	/* Off the stack (1.4 KB); one write transaction at a time uses it. */
	static struct alive a;
	static uint8_t buf[ALIVE_SIZE];
	MDB_val k = { sizeof(ALIVE_KEY) - 1, (void *)ALIVE_KEY }, v;

	get_alive(s, txn, &a);
	for (size_t i = 0; i < n; i++)
		if (items[i].kind == STORE_ITEM_ALIVE)
			alive_mark(&a, items[i].update.now);
	v.mv_size = alive_encode(&a, buf);
	v.mv_data = buf;
	return mdb_put(txn, s->meta, &k, &v, 0);
}

static int
alive_step(struct store_lmdb *s, MDB_txn *txn, void *ctx)
{
	const struct store_item *it = ctx;

	return alive_put(s, txn, it, 1);
}

static bool
lmdb_alive_mark(struct store *st, int64_t now, GError **error)
{
	struct store_item it = { .kind = STORE_ITEM_ALIVE,
	    .update = { .now = now } };

	return write_txn((struct store_lmdb *)st, alive_step, &it,
	    "marking the primary alive", false, error);
}

/* The whole ring: one 1.4 KB value, cheaper read whole than cut. */
static bool
lmdb_alive_get(struct store *st, int64_t from, int64_t to, struct alive *out,
    GError **error)
{
	struct store_lmdb *s = (struct store_lmdb *)st;
	MDB_txn *txn;
	int rc = txn_begin(s, MDB_RDONLY, &txn);

	if (rc != 0) {
		set_mdb_error(error, STORE_ERROR_IO, s, "reading", rc);
		return false;
	}
	(void)from;
	(void)to;
	get_alive(s, txn, out);
	txn_end(s, txn, false);
	return true;
}

static void
lmdb_free(struct store *st)
{
	struct store_lmdb *s = (struct store_lmdb *)st;

	if (s->env != NULL)
		mdb_env_close(s->env);
	pthread_rwlock_destroy(&s->resize_lock);
	g_free(s->path);
	g_free(s->base.describe);
	g_free(s);
}

static const struct store_ops lmdb_ops = {
	.free = lmdb_free,
	.apply = lmdb_apply,
	.primary_contact = lmdb_primary_contact,
	.lookup = lmdb_lookup,
	.foreach = lmdb_foreach,
	.forget = lmdb_forget,
	.expire = lmdb_expire,
	.alive_mark = lmdb_alive_mark,
	.alive_get = lmdb_alive_get,
};

/* Make a new, empty file a slowspam store. */
static bool
initialise(struct store_lmdb *s, GError **error)
{
	static const char format[] = FORMAT_NAME G_STRINGIFY(FORMAT_VERSION);
	MDB_val k = { 6, (void *)"format" }, v = { strlen(format),
	    (void *)format };
	MDB_txn *txn;
	int rc = txn_begin(s, 0, &txn);

	if (rc != 0) {
		set_mdb_error(error, STORE_ERROR_IO, s, "creating", rc);
		return false;
	}
	if ((rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta)) != 0 ||
	    (rc = mdb_dbi_open(txn, "hits", MDB_CREATE, &s->hits)) != 0 ||
	    (rc = mdb_put(txn, s->meta, &k, &v, 0)) != 0) {
		txn_end(s, txn, false);
		set_mdb_error(error, STORE_ERROR_IO, s, "creating", rc);
		return false;
	}
	if ((rc = txn_end(s, txn, true)) != 0) {
		set_mdb_error(error, STORE_ERROR_IO, s, "creating", rc);
		return false;
	}
	return true;
}

/* Check "slowspam-hits N": ours, and not newer than this program. */
static bool
check_format(struct store_lmdb *s, const MDB_val *v, GError **error)
{
	const char *p = v->mv_data;
	size_t len = v->mv_size, n = strlen(FORMAT_NAME);
	unsigned version = 0;

	if (len <= n || len > n + 4 || memcmp(p, FORMAT_NAME, n) != 0) {
		g_set_error(error, STORE_ERROR, STORE_ERROR_FOREIGN,
		    "%s: not a slowspam hit store (unknown format)", s->path);
		return false;
	}
	for (size_t i = n; i < len; i++) {
		if (p[i] < '0' || p[i] > '9') {
			g_set_error(error, STORE_ERROR, STORE_ERROR_FOREIGN,
			    "%s: not a slowspam hit store (bad format version)",
			    s->path);
			return false;
		}
		version = version * 10 + (unsigned)(p[i] - '0');
	}
	if (version > FORMAT_VERSION) {
		g_set_error(error, STORE_ERROR, STORE_ERROR_VERSION,
		    "%s: store format %u is newer than this program's %u",
		    s->path, version, FORMAT_VERSION);
		return false;
	}
	return true;
}

/*
 * Find "meta" and "hits", or learn that the file is new (*fresh) or
 * foreign. Opened handles outlive the transaction, which commits.
 */
static bool
open_databases(struct store_lmdb *s, bool *fresh, GError **error)
{
	MDB_txn *txn;
	MDB_dbi main_db;
	MDB_stat st;
	MDB_val k = { 6, (void *)"format" }, v;
	int rc = txn_begin(s, MDB_RDONLY, &txn);

	*fresh = false;
	if (rc != 0) {
		set_mdb_error(error, STORE_ERROR_IO, s, "reading", rc);
		return false;
	}
	rc = mdb_dbi_open(txn, "meta", 0, &s->meta);
	if (rc == MDB_NOTFOUND) {
		rc = mdb_dbi_open(txn, NULL, 0, &main_db);
		if (rc == 0)
			rc = mdb_stat(txn, main_db, &st);
		txn_end(s, txn, false);
		if (rc != 0) {
			set_mdb_error(error, STORE_ERROR_IO, s, "reading", rc);
			return false;
		}
		if (st.ms_entries > 0) {
			g_set_error(error, STORE_ERROR, STORE_ERROR_FOREIGN,
			    "%s: an LMDB database of another program, not a "
			    "slowspam hit store; left untouched", s->path);
			return false;
		}
		*fresh = true;
		return true;
	}
	if (rc == MDB_INCOMPATIBLE) {
		txn_end(s, txn, false);
		g_set_error(error, STORE_ERROR, STORE_ERROR_FOREIGN,
		    "%s: not a slowspam hit store; left untouched", s->path);
		return false;
	}
	if (rc == 0 && (rc = mdb_get(txn, s->meta, &k, &v)) == 0 &&
	    !check_format(s, &v, error)) {
		txn_end(s, txn, false);
		return false;
	}
	if (rc == 0)
		rc = mdb_dbi_open(txn, "hits", 0, &s->hits);
	if (rc != 0) {
		txn_end(s, txn, false);
		g_set_error(error, STORE_ERROR, STORE_ERROR_FOREIGN,
		    "%s: not a slowspam hit store (%s); left untouched",
		    s->path, mdb_strerror(rc));
		return false;
	}
	if ((rc = txn_end(s, txn, true)) != 0) {
		set_mdb_error(error, STORE_ERROR_IO, s, "reading", rc);
		return false;
	}
	return true;
}

/* Explain an mdb_env_open() failure in an administrator's words. */
static void
open_error(struct store_lmdb *s, int rc, GError **error)
{
	switch (rc) {
	case MDB_INVALID:
		g_set_error(error, STORE_ERROR, STORE_ERROR_FOREIGN,
		    "%s: not an LMDB file (or a damaged one); left untouched",
		    s->path);
		break;
	case MDB_VERSION_MISMATCH:
		g_set_error(error, STORE_ERROR, STORE_ERROR_FOREIGN,
		    "%s: written by an incompatible LMDB version", s->path);
		break;
	default:
		set_mdb_error(error, STORE_ERROR_IO, s, "cannot open store",
		    rc);
		break;
	}
}

/* Open the store file opts->path, creating it unless read-only. */
struct store *
store_lmdb_open(const struct store_options *opts, GError **error)
{
	struct store_lmdb *s = g_new0(struct store_lmdb, 1);
	pthread_rwlockattr_t attr;
	unsigned flags = MDB_NOSUBDIR | MDB_NOTLS;
	uint64_t map;
	struct stat sb;
	bool fresh;
	int rc, dead;

	s->base.ops = &lmdb_ops;
	s->base.describe = g_strdup_printf("lmdb:%s", opts->path);
	s->path = g_strdup(opts->path);
	s->map_max = MAX(opts->map_size, INITIAL_MAP);
	s->ttl = opts->ttl;
	/* A resize must not starve behind a steady stream of readers. */
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr,
	    PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&s->resize_lock, &attr);
	pthread_rwlockattr_destroy(&attr);

	if (opts->read_only) {
		flags |= MDB_RDONLY;
	} else {
		g_autofree char *dir = g_path_get_dirname(opts->path);

		if (g_mkdir_with_parents(dir, 0750) != 0) {
			g_set_error(error, STORE_ERROR, STORE_ERROR_IO,
			    "%s: cannot create directory %s: %s", s->path,
			    dir, g_strerror(errno));
			goto fail;
		}
	}
	/* Never map less than the file already holds. */
	map = MIN((uint64_t)INITIAL_MAP, s->map_max);
	if (stat(opts->path, &sb) == 0) {
		map = MAX(map, (uint64_t)sb.st_size);
		if (opts->read_only && sb.st_size == 0) {
			g_set_error(error, STORE_ERROR, STORE_ERROR_FOREIGN,
			    "%s: an empty file, not yet a slowspam hit store",
			    s->path);
			goto fail;
		}
	} else if (opts->read_only && errno == ENOENT) {
		g_set_error(error, STORE_ERROR, STORE_ERROR_IO,
		    "%s: no store there yet (tarpitd creates it)", s->path);
		goto fail;
	}
	if ((rc = mdb_env_create(&s->env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(s->env, 2)) != 0 ||
	    (rc = mdb_env_set_maxreaders(s->env, MAX_READERS)) != 0 ||
	    (rc = mdb_env_set_mapsize(s->env, (size_t)map)) != 0) {
		set_mdb_error(error, STORE_ERROR_IO, s, "cannot set up LMDB",
		    rc);
		goto fail;
	}
	if ((rc = mdb_env_open(s->env, opts->path, flags, 0660)) != 0) {
		open_error(s, rc, error);
		goto fail;
	}
	if (mdb_reader_check(s->env, &dead) == 0 && dead > 0)
		log_msg(LOG_NOTICE, "%s: cleared %d reader slots of dead "
		    "processes", s->path, dead);
	if (!open_databases(s, &fresh, error))
		goto fail;
	if (fresh && opts->read_only) {
		g_set_error(error, STORE_ERROR, STORE_ERROR_FOREIGN,
		    "%s: an empty LMDB file, not yet a slowspam hit store",
		    s->path);
		goto fail;
	}
	if (fresh && !initialise(s, error))
		goto fail;
	return &s->base;

fail:
	lmdb_free(&s->base);
	return NULL;
}
