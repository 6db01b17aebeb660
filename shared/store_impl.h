/*
 * store_impl.h - what a hit-store backend provides; private to store*.c.
 *
 * store.c checks arguments, then calls the backend through its ops.
 * A backend's own struct begins with struct store.
 */
#ifndef SLOWSPAM_STORE_IMPL_H
#define SLOWSPAM_STORE_IMPL_H

#include "store.h"

struct store_ops {
	void	(*free)(struct store *st);
	bool	(*apply)(struct store *st, const struct store_item *items,
		    size_t n, GError **error);
	bool	(*primary_contact)(struct store *st, const char *key,
		    int64_t now, struct hit_record *before, GError **error);
	bool	(*lookup)(struct store *st, const char *key,
		    struct hit_record *rec, bool *found, GError **error);
	bool	(*foreach)(struct store *st, store_foreach_fn fn, void *data,
		    size_t *bad, GError **error);
	bool	(*forget)(struct store *st, const char *key, bool *found,
		    GError **error);
	bool	(*expire)(struct store *st, int64_t now, int64_t ttl,
		    size_t *removed, GError **error);
	bool	(*alive_mark)(struct store *st, int64_t now, GError **error);
	/* Marks of minutes from..to (ms) at least; see store.h. */
	bool	(*alive_get)(struct store *st, int64_t from, int64_t to,
		    struct alive *out, GError **error);
};

struct store {
	const struct store_ops *ops;
	char	*describe;		/* "lmdb:/var/lib/slowspam/hits.lmdb" */
};

/* What a batch records, for its error messages: "recording ...". */
const char *store_items_what(const struct store_item *items, size_t n);

struct store *store_lmdb_open(const struct store_options *opts,
	    GError **error);
#ifdef WITH_REDIS
struct store *store_redis_open(const struct store_options *opts,
	    GError **error);
#endif

#endif /* SLOWSPAM_STORE_IMPL_H */
