/*
 * store.h - the hit store: what the tar pits saw, keyed by client network.
 *
 * One small API over several backends (LMDB now, Redis later). Keys are
 * network keys from addr_netkey() ("192.0.2.1/32", "2001:db8::/64").
 * Every call may block on disk or network: an event loop must go through
 * storeq.h instead. Functions return false and set a STORE_ERROR on
 * failure; a failure never loses records already stored.
 *
 * An LMDB store may be opened by many processes at once, but only once
 * per process, and never across fork(): open it again in the child.
 */
#ifndef SLOWSPAM_STORE_H
#define SLOWSPAM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "alive.h"
#include "record.h"

/* Longest key accepted (ADDR_NETKEY_LEN less the NUL, with room). */
#define STORE_KEY_MAX	63

enum store_backend {
	STORE_BACKEND_LMDB,
	STORE_BACKEND_REDIS,
};

struct store_options {
	enum store_backend backend;
	const char	*path;		/* LMDB file (its lock file: path-lock) */
	uint64_t	map_size;	/* LMDB: largest the file may grow to */
	int64_t		ttl;		/* ms; LMDB: to make room; Redis: key TTL */
	bool		read_only;	/* never create or write */
	/* Redis: "HOST:PORT" ([v6]:PORT) or "unix:/path", and the rest. */
	const char	*redis;
	const char	*redis_password;	/* "" for none */
	unsigned	redis_db;
	int64_t		redis_timeout;		/* ms, connect and each command */
	const char	*redis_prefix;		/* of every key */
	unsigned	redis_connections;	/* the pool; 0: 4 */
	bool		redis_eval_only;	/* send scripts whole, never
						   EVALSHA: for benchmarks */
	/*
	 * Sentinel: "ADDR:PORT;ADDR:PORT..." (NULL or "": none, use redis)
	 * and the master's name; the sentinels' own password ("" none).
	 */
	const char	*redis_sentinels;
	const char	*redis_master;
	const char	*redis_sentinel_password;
	/* TLS (HAVE_REDIS_TLS): CA file, client cert and key, name to check. */
	bool		redis_tls;
	const char	*redis_tls_ca;		/* "": the system's CAs */
	const char	*redis_tls_cert;	/* "": no client certificate */
	const char	*redis_tls_key;
	const char	*redis_tls_server_name;	/* "": the host connected to */
};

#define STORE_ERROR (store_error_quark())
GQuark	store_error_quark(void);
enum store_error {
	STORE_ERROR_IO,		/* open, read or write failed */
	STORE_ERROR_FOREIGN,	/* the file is not a slowspam store */
	STORE_ERROR_VERSION,	/* written by a newer slowspam */
	STORE_ERROR_CORRUPT,	/* a damaged record */
	STORE_ERROR_FULL,	/* no room even after growing and expiring */
	STORE_ERROR_BAD_KEY,	/* empty or overlong key */
	STORE_ERROR_UNAVAILABLE, /* backend down or not built in */
};

struct store;

/* What a store_item records; a zeroed item is a tar-pit event. */
enum store_item_kind {
	STORE_ITEM_TARPIT,	/* update, as record_merge_tarpit() folds it */
	STORE_ITEM_CONTACT,	/* a primary-MX contact at update.now only */
	STORE_ITEM_ALIVE,	/* the primary up in the minute of update.now;
				   the key is unused (may be empty) */
};

/* One event for store_apply(). */
struct store_item {
	char	key[STORE_KEY_MAX + 1];
	enum store_item_kind kind;
	struct tarpit_update update;
};

/*
 * Called per record by store_foreach(), inside a read transaction: it
 * must not call the store itself. Return false to stop.
 */
typedef bool (*store_foreach_fn)(const char *key, const struct hit_record *rec,
    void *data);

struct store *store_open(const struct store_options *opts, GError **error);
/* Close; NULL is a no-op. */
void	store_free(struct store *st);
const char *store_describe(const struct store *st);	/* "lmdb:/path" */

/*
 * Apply events of any kind, all in one transaction (one disk sync), in
 * order; each is folded in by the same rule as its single-event call
 * (record_merge_tarpit, record_merge_primary, store_alive_mark). A
 * record this program cannot read is kept as it is and its events
 * dropped (logged).
 */
bool	store_apply(struct store *st, const struct store_item *items,
	    size_t n, GError **error);

/*
 * Record a contact with the primary MX at time now. If before is not
 * NULL, it gets the record as it was before (zeroed if there was none),
 * read and updated atomically: one synced transaction per call, for
 * tools and tests; a daemon queues contacts (storeq_push_contact).
 */
bool	store_primary_contact(struct store *st, const char *key, int64_t now,
	    struct hit_record *before, GError **error);

/* Look key up: true and *found set, or false on error. */
bool	store_lookup(struct store *st, const char *key, struct hit_record *rec,
	    bool *found, GError **error);

/*
 * Call fn for every record in key order. Damaged records are skipped,
 * logged and counted in *bad (if not NULL), never deleted.
 */
bool	store_foreach(struct store *st, store_foreach_fn fn, void *data,
	    size_t *bad, GError **error);

/* Delete key's record; *found says whether there was one. */
bool	store_forget(struct store *st, const char *key, bool *found,
	    GError **error);

/*
 * Delete records whose newest activity is older than now - ttl; the
 * count goes to *removed (if not NULL). Damaged records are kept.
 */
bool	store_expire(struct store *st, int64_t now, int64_t ttl,
	    size_t *removed, GError **error);

/* Mark the primary MX alive in the minute of now (see alive.h). */
bool	store_alive_mark(struct store *st, int64_t now, GError **error);
/* The primary's liveness record (all clear if it was never marked). */
bool	store_alive_get(struct store *st, struct alive *out, GError **error);
/*
 * The same, but only the minutes from..to (ms, inclusive) need be read:
 * out has every mark among them and may lack the others (a backend
 * reads what is cheap for it). For a verdict, which needs a few minutes
 * around one tar-pit contact, not the whole ring.
 */
bool	store_alive_get_range(struct store *st, int64_t from, int64_t to,
	    struct alive *out, GError **error);

/* Milliseconds since the epoch, for record times. */
int64_t	store_now(void);

#endif /* SLOWSPAM_STORE_H */
