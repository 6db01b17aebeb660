/*
 * store.c - the hit-store API: argument checks, then the backend.
 *
 *	store_open	open the configured backend
 *	store_free	close it
 *	store_*		see store.h
 *
 * Diagnostics: STORE_ERROR_BAD_KEY for an empty or overlong key;
 * STORE_ERROR_UNAVAILABLE for a backend this build lacks.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "store_impl.h"

G_DEFINE_QUARK(slowspam-store-error-quark, store_error)

/* Open the backend opts names. */
struct store *
store_open(const struct store_options *opts, GError **error)
{
	switch (opts->backend) {
	case STORE_BACKEND_LMDB:
		return store_lmdb_open(opts, error);
	case STORE_BACKEND_REDIS:
#ifdef WITH_REDIS
		return store_redis_open(opts, error);
#else
		break;
#endif
	}
	g_set_error(error, STORE_ERROR, STORE_ERROR_UNAVAILABLE,
	    "this slowspam was built without Redis (configure --with-redis)");
	return NULL;
}

void
store_free(struct store *st)
{
	if (st != NULL)
		st->ops->free(st);
}

const char *
store_describe(const struct store *st)
{
	return st->describe;
}

/* Is key usable: not empty, not too long, NUL-terminated in bounds? */
static bool
key_ok(const char *key, GError **error)
{
	size_t len = strnlen(key, STORE_KEY_MAX + 1);

	if (len == 0 || len > STORE_KEY_MAX) {
		g_set_error(error, STORE_ERROR, STORE_ERROR_BAD_KEY,
		    "store key must be 1 to %d bytes", STORE_KEY_MAX);
		return false;
	}
	return true;
}

const char *
store_items_what(const struct store_item *items, size_t n)
{
	/* By the kinds present: bit 0 tar pit, 1 contact, 2 alive. */
	static const char *const what[8] = {
		"recording tar-pit sessions",
		"recording tar-pit sessions",
		"recording primary contacts",
		"recording tar-pit sessions and primary contacts",
		"marking the primary alive",
		"recording tar-pit sessions, marking the primary alive",
		"recording primary contacts, marking the primary alive",
		"recording tar-pit sessions and primary contacts, "
		    "marking the primary alive",
	};
	unsigned kinds = 0;

	for (size_t i = 0; i < n; i++)
		kinds |= items[i].kind == STORE_ITEM_CONTACT ? 2u :
		    items[i].kind == STORE_ITEM_ALIVE ? 4u : 1u;
	return what[kinds];
}

/* A known kind, and a usable key where the kind has one. */
static bool
item_ok(const struct store_item *it, GError **error)
{
	switch (it->kind) {
	case STORE_ITEM_ALIVE:
		return true;
	case STORE_ITEM_TARPIT:
	case STORE_ITEM_CONTACT:
		return key_ok(it->key, error);
	}
	g_set_error(error, STORE_ERROR, STORE_ERROR_IO,
	    "store item %.*s: unknown kind %d", STORE_KEY_MAX, it->key,
	    (int)it->kind);
	return false;
}

bool
store_apply(struct store *st, const struct store_item *items, size_t n,
    GError **error)
{
	for (size_t i = 0; i < n; i++)
		if (!item_ok(&items[i], error))
			return false;
	return n == 0 || st->ops->apply(st, items, n, error);
}

bool
store_primary_contact(struct store *st, const char *key, int64_t now,
    struct hit_record *before, GError **error)
{
	struct hit_record ignored;

	if (!key_ok(key, error))
		return false;
	return st->ops->primary_contact(st, key, now,
	    before != NULL ? before : &ignored, error);
}

bool
store_lookup(struct store *st, const char *key, struct hit_record *rec,
    bool *found, GError **error)
{
	if (!key_ok(key, error))
		return false;
	return st->ops->lookup(st, key, rec, found, error);
}

bool
store_foreach(struct store *st, store_foreach_fn fn, void *data, size_t *bad,
    GError **error)
{
	size_t ignored;

	return st->ops->foreach(st, fn, data, bad != NULL ? bad : &ignored,
	    error);
}

bool
store_forget(struct store *st, const char *key, bool *found, GError **error)
{
	bool ignored;

	if (!key_ok(key, error))
		return false;
	return st->ops->forget(st, key, found != NULL ? found : &ignored,
	    error);
}

bool
store_expire(struct store *st, int64_t now, int64_t ttl, size_t *removed,
    GError **error)
{
	size_t ignored;

	return st->ops->expire(st, now, ttl,
	    removed != NULL ? removed : &ignored, error);
}

bool
store_alive_mark(struct store *st, int64_t now, GError **error)
{
	return st->ops->alive_mark(st, now, error);
}

bool
store_alive_get(struct store *st, struct alive *out, GError **error)
{
	return st->ops->alive_get(st, INT64_MIN, INT64_MAX, out, error);
}

bool
store_alive_get_range(struct store *st, int64_t from, int64_t to,
    struct alive *out, GError **error)
{
	return st->ops->alive_get(st, from, to, out, error);
}

/* Milliseconds since the epoch. */
int64_t
store_now(void)
{
	return g_get_real_time() / 1000;
}
