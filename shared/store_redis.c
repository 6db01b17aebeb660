/*
 * store_redis.c - the shared hit-store backend: one Redis for several MX
 * hosts and primaries (hiredis 0.14, the old API).
 *
 *	store_redis_open	connect (TCP or unix socket, AUTH, SELECT)
 *
 * Keys: PREFIX "net:" NETKEY is a hash per network (fields tf tl ts held
 * ev hc helo pf pl ps; times in ms), with the store's TTL renewed on every
 * update; PREFIX "alive" is a sorted set of the minutes the primary was
 * seen up (member and score both the minute), so a verdict reads the few
 * minutes it needs by score. Every update is one server-side Lua script,
 * so concurrent tar pits and milters never lose a count or move a time
 * backwards; a batch of events is pipelined in one round trip, and so is
 * each batch of a listing (SCAN, then every HGETALL of its keys).
 *
 * Scripts are called by their SHA1 (EVALSHA), not sent whole each time;
 * a server that lacks one (restarted, SCRIPT FLUSH) answers NOSCRIPT and
 * gets the text once (EVAL), which caches it again.
 *
 * A small pool of connections (redis_connections), each behind its own
 * mutex: a thread takes a free one, else waits for the one with the
 * fewest waiters, so one slow round trip holds up one connection's
 * callers, not every milter thread. Connections open when first needed.
 * Each command is bounded by redis_timeout; after a failure the store
 * answers "unavailable" at once on every connection not open and
 * reconnects with a growing backoff (up to 30 s, shared by the pool), so
 * no caller waits on a dead Redis.
 *
 * Expiry is Redis's own (the TTL): store_expire has nothing to do.
 *
 * Diagnostics: errors name the server ("redis 127.0.0.1:6379: ...").
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "addr.h"
#include "log.h"
#include "redis_conn.h"
#include "store_impl.h"

#define BACKOFF_FIRST	(250 * 1000)		/* us */
#define BACKOFF_MAX	(30 * G_USEC_PER_SEC)
#define SCAN_COUNT	"1000"

/* One connection of the pool. */
struct conn {
	GMutex		lock;		/* held by the thread using it */
	gint		waiting;	/* threads blocked on lock */
	redisContext	*ctx;		/* NULL while disconnected */
	bool		closed;		/* the last failure: server hung up */
};

enum script { SCRIPT_TARPIT, SCRIPT_PRIMARY, SCRIPT_ALIVE, SCRIPTS };

struct store_redis {
	struct store	base;
	struct conn	*conns;
	unsigned	nconns;
	bool		eval_only;	/* never EVALSHA (benchmarks) */
	char		sha[SCRIPTS][41];	/* of each script's text */
	char		*where;		/* "127.0.0.1:6379" or "unix:/path" */
	char		*host;		/* NULL for a unix socket */
	int		port;
	char		*path;
	char		*password;
	struct redis_tls *tls;		/* NULL: plain TCP */
	unsigned	db;
	struct timeval	timeout;
	char		*prefix;
	int64_t		ttl;
	char		ttl_text[24];	/* ttl in decimal, for the scripts */
	GMutex		state;		/* retry_at, backoff */
	gint64		retry_at;	/* monotonic us; 0: may connect now */
	gint64		backoff;
};

/*
 * The tar-pit update (KEYS[1]; ARGV: now, new_session, held_ms, evidence,
 * has_helo, helo, helo_class, ttl_ms).
 */
static const char tarpit_lua[] =
    "local k = KEYS[1]\n"
    "local now = tonumber(ARGV[1])\n"
    "local tf = tonumber(redis.call('HGET', k, 'tf') or '0')\n"
    "if tf == 0 or now < tf then redis.call('HSET', k, 'tf', now) end\n"
    "local tl = tonumber(redis.call('HGET', k, 'tl') or '0')\n"
    "if now > tl then redis.call('HSET', k, 'tl', now) end\n"
    "if ARGV[2] == '1' then redis.call('HINCRBY', k, 'ts', 1) end\n"
    "redis.call('HINCRBY', k, 'held', ARGV[3])\n"
    "local ev = tonumber(redis.call('HGET', k, 'ev') or '0')\n"
    "redis.call('HSET', k, 'ev', bit.bor(ev, tonumber(ARGV[4])))\n"
    "if ARGV[5] == '1' then\n"
    "  redis.call('HSET', k, 'helo', ARGV[6], 'hc', ARGV[7])\n"
    "end\n"
    "redis.call('PEXPIRE', k, ARGV[8])\n"
    "return 1\n";

/* The primary's contact: returns the hash as it was, then updates it. */
static const char primary_lua[] =
    "local k = KEYS[1]\n"
    "local now = tonumber(ARGV[1])\n"
    "local before = redis.call('HGETALL', k)\n"
    "local pf = tonumber(redis.call('HGET', k, 'pf') or '0')\n"
    "if pf == 0 or now < pf then redis.call('HSET', k, 'pf', now) end\n"
    "local pl = tonumber(redis.call('HGET', k, 'pl') or '0')\n"
    "if now > pl then redis.call('HSET', k, 'pl', now) end\n"
    "redis.call('HINCRBY', k, 'ps', 1)\n"
    "redis.call('PEXPIRE', k, ARGV[2])\n"
    "return before\n";

/* The alive minutes: add one, drop those older than the ring. */
static const char alive_lua[] =
    "redis.call('ZADD', KEYS[1], ARGV[1], ARGV[1])\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2])\n"
    "return 1\n";

static const char *const script_text[SCRIPTS] = {
	[SCRIPT_TARPIT] = tarpit_lua,
	[SCRIPT_PRIMARY] = primary_lua,
	[SCRIPT_ALIVE] = alive_lua,
};

/*
 * The first two arguments of a call of script: EVALSHA and its SHA1, or
 * (eval) EVAL and its text.
 */
static void
script_argv(const struct store_redis *s, enum script sc, bool eval,
    const char **argv, size_t *lens)
{
	eval = eval || s->eval_only;
	argv[0] = eval ? "EVAL" : "EVALSHA";
	argv[1] = eval ? script_text[sc] : s->sha[sc];
	if (lens != NULL) {
		lens[0] = strlen(argv[0]);
		lens[1] = strlen(argv[1]);
	}
}

/* The script of an EVALSHA call argv, or SCRIPTS if it is none of ours. */
static enum script
evalsha_script(const struct store_redis *s, int argc, const char **argv)
{
	if (argc < 2 || strcmp(argv[0], "EVALSHA") != 0)
		return SCRIPTS;
	for (int i = 0; i < SCRIPTS; i++)
		if (strcmp(argv[1], s->sha[i]) == 0)
			return (enum script)i;
	return SCRIPTS;
}

/* Did the server not know the script (restarted, SCRIPT FLUSH)? */
static bool
is_noscript(const redisReply *r)
{
	return r->type == REDIS_REPLY_ERROR &&
	    g_str_has_prefix(r->str, "NOSCRIPT");
}

static void
set_error(struct store_redis *s, GError **error, int code, const char *what,
    const char *why)
{
	g_set_error(error, STORE_ERROR, code, "redis %s: %s: %s", s->where,
	    what, why);
}

/*
 * Did the connection turn out closed by the server (not merely slow)?
 * Only then may a command be sent again: it never ran.
 */
static bool
was_closed(const redisContext *c)
{
	return c->err == REDIS_ERR_EOF || (c->err == REDIS_ERR_IO &&
	    (errno == ECONNRESET || errno == EPIPE));
}

/*
 * Drop a broken connection; the next connection attempt on any of the
 * pool's waits out the backoff.
 */
static void
disconnect(struct store_redis *s, struct conn *c)
{
	if (c->ctx != NULL) {
		redisFree(c->ctx);
		c->ctx = NULL;
	}
	g_mutex_lock(&s->state);
	s->backoff = s->backoff == 0 ? BACKOFF_FIRST :
	    MIN(s->backoff * 2, BACKOFF_MAX);
	s->retry_at = g_get_monotonic_time() + s->backoff;
	g_mutex_unlock(&s->state);
}

/* One round trip; NULL with error set if the connection failed. */
static redisReply *
round_trip(struct store_redis *s, struct conn *c, int argc,
    const char **argv, const size_t *lens, const char *what, GError **error)
{
	redisReply *r = redisCommandArgv(c->ctx, argc, argv, lens);

	if (r == NULL) {
		set_error(s, error, STORE_ERROR_UNAVAILABLE, what,
		    c->ctx->errstr[0] != '\0' ? c->ctx->errstr :
		    "no reply");
		c->closed = was_closed(c->ctx);
		disconnect(s, c);
	}
	return r;
}

/*
 * Run one command (argv) and return its reply, or NULL with error set.
 * An EVALSHA the server has no script for is sent again as EVAL.
 */
static redisReply *
command(struct store_redis *s, struct conn *c, int argc, const char **argv,
    const size_t *lens, const char *what, GError **error)
{
	redisReply *r = round_trip(s, c, argc, argv, lens, what, error);
	enum script sc;

	if (r != NULL && is_noscript(r) &&
	    (sc = evalsha_script(s, argc, argv)) != SCRIPTS) {
		g_autofree const char **again = g_memdup2(argv,
		    (gsize)argc * sizeof(*argv));
		g_autofree size_t *again_lens = lens == NULL ? NULL :
		    g_memdup2(lens, (gsize)argc * sizeof(*lens));

		freeReplyObject(r);
		script_argv(s, sc, true, again, again_lens);
		r = round_trip(s, c, argc, again, again_lens, what, error);
	}
	if (r == NULL)
		return NULL;
	if (r->type == REDIS_REPLY_ERROR) {
		set_error(s, error, STORE_ERROR_IO, what, r->str);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

/* Is the pool waiting out its backoff (and not told to try now)? */
static bool
backing_off(struct store_redis *s, bool now)
{
	bool wait;

	g_mutex_lock(&s->state);
	if (now)
		s->retry_at = 0;
	wait = s->retry_at != 0 && g_get_monotonic_time() < s->retry_at;
	g_mutex_unlock(&s->state);
	return wait;
}

/* A new connection to the server. */
static redisContext *
connect_server(struct store_redis *s, GError **error)
{
	return redis_conn_open(s->host, s->port, s->path, &s->timeout, s->tls,
	    s->where, error);
}

/*
 * Connect c, authenticate and select the database, if not connected;
 * now: even during the backoff.
 */
static bool
ensure(struct store_redis *s, struct conn *c, bool now, GError **error)
{
	redisReply *r;
	char db[16];

	if (c->ctx != NULL)
		return true;
	if (backing_off(s, now)) {
		set_error(s, error, STORE_ERROR_UNAVAILABLE, "unavailable",
		    "waiting before the next connection attempt");
		return false;
	}
	if ((c->ctx = connect_server(s, error)) == NULL) {
		disconnect(s, c);
		return false;
	}
	if (s->password[0] != '\0') {
		const char *argv[] = { "AUTH", s->password };

		if ((r = command(s, c, 2, argv, NULL, "AUTH", error)) ==
		    NULL) {
			disconnect(s, c);
			return false;
		}
		freeReplyObject(r);
	}
	g_snprintf(db, sizeof(db), "%u", s->db);
	{
		const char *argv[] = { "SELECT", db };

		if ((r = command(s, c, 2, argv, NULL, "SELECT", error)) ==
		    NULL) {
			disconnect(s, c);
			return false;
		}
		freeReplyObject(r);
	}
	g_mutex_lock(&s->state);
	s->backoff = 0;
	s->retry_at = 0;
	g_mutex_unlock(&s->state);
	return true;
}

/*
 * A connection of the pool for this thread: the first free one, else the
 * one the fewest threads wait for. Free connections are taken in order,
 * so a quiet store keeps one connection open, a busy one up to the pool.
 */
static struct conn *
conn_get(struct store_redis *s)
{
	struct conn *best = NULL;

	for (unsigned i = 0; i < s->nconns; i++)
		if (g_mutex_trylock(&s->conns[i].lock))
			return &s->conns[i];
	for (unsigned i = 0; i < s->nconns; i++)
		if (best == NULL || g_atomic_int_get(&s->conns[i].waiting) <
		    g_atomic_int_get(&best->waiting))
			best = &s->conns[i];
	g_atomic_int_inc(&best->waiting);
	g_mutex_lock(&best->lock);
	g_atomic_int_dec_and_test(&best->waiting);
	return best;
}

static void
conn_put(struct conn *c)
{
	g_mutex_unlock(&c->lock);
}

/*
 * One command, connecting if needed. A connection that was already open
 * may have died while idle (Redis restarted): then one fresh connection
 * is tried at once, without the backoff.
 */
static redisReply *
command_retry(struct store_redis *s, struct conn *c, int argc,
    const char **argv, const char *what, GError **error)
{
	bool reused = c->ctx != NULL;
	redisReply *r;

	if (!ensure(s, c, false, error))
		return NULL;
	r = command(s, c, argc, argv, NULL, what, error);
	if (r == NULL && reused && c->ctx == NULL && c->closed) {
		g_clear_error(error);
		if (ensure(s, c, true, error))
			r = command(s, c, argc, argv, NULL, what, error);
	}
	return r;
}

/* command_retry on a connection of the pool, for one-command operations. */
static redisReply *
pool_command(struct store_redis *s, int argc, const char **argv,
    const char *what, GError **error)
{
	struct conn *c = conn_get(s);
	redisReply *r = command_retry(s, c, argc, argv, what, error);

	conn_put(c);
	return r;
}

/* The Redis key of a network key. */
static char *
net_key(const struct store_redis *s, const char *key)
{
	return g_strconcat(s->prefix, "net:", key, NULL);
}

/* Parse a decimal field value; false if it is not one. */
static bool
field_num(const char *v, size_t len, int64_t *out)
{
	char buf[24];
	char *end;

	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, v, len);
	buf[len] = '\0';
	errno = 0;
	*out = g_ascii_strtoll(buf, &end, 10);
	return errno == 0 && *end == '\0' && *out >= 0;
}

/*
 * A hit record from HGETALL's flat field/value array; false with error
 * set if a field is damaged. Unknown fields are ignored (newer writers).
 */
static bool
decode_hash(struct store_redis *s, const char *key, const redisReply *r,
    struct hit_record *rec, GError **error)
{
	memset(rec, 0, sizeof(*rec));
	for (size_t i = 0; i + 1 < r->elements; i += 2) {
		const redisReply *f = r->element[i], *v = r->element[i + 1];
		int64_t n = 0;

		if (f->type != REDIS_REPLY_STRING ||
		    v->type != REDIS_REPLY_STRING)
			goto bad;
		if (strcmp(f->str, "helo") == 0) {
			rec->helo_len = (uint8_t)MIN(v->len, RECORD_HELO_MAX);
			memcpy(rec->helo, v->str, rec->helo_len);
			rec->helo[rec->helo_len] = '\0';
			continue;
		}
		if (!field_num(v->str, v->len, &n))
			goto bad;
		if (strcmp(f->str, "tf") == 0)
			rec->tarpit_first = n;
		else if (strcmp(f->str, "tl") == 0)
			rec->tarpit_last = n;
		else if (strcmp(f->str, "ts") == 0)
			rec->tarpit_sessions = (uint32_t)MIN(n, UINT32_MAX);
		else if (strcmp(f->str, "held") == 0)
			rec->tarpit_held_ms = (uint64_t)n;
		else if (strcmp(f->str, "ev") == 0)
			rec->evidence = (uint32_t)n;
		else if (strcmp(f->str, "hc") == 0)
			rec->helo_class = (uint8_t)MIN(n, 255);
		else if (strcmp(f->str, "pf") == 0)
			rec->primary_first = n;
		else if (strcmp(f->str, "pl") == 0)
			rec->primary_last = n;
		else if (strcmp(f->str, "ps") == 0)
			rec->primary_sessions = (uint32_t)MIN(n, UINT32_MAX);
	}
	return true;
bad:
	g_set_error(error, STORE_ERROR, STORE_ERROR_CORRUPT,
	    "redis %s: record %s: a damaged field", s->where, key);
	memset(rec, 0, sizeof(*rec));
	return false;
}

/* primary_lua's arguments for key k (prefixed) at now, into argv. */
#define CONTACT_ARGC	6
static void
contact_args(const struct store_redis *s, bool eval, const char **argv,
    const char *k, int64_t now, char *t, size_t tsize)
{
	g_snprintf(t, tsize, "%" G_GINT64_FORMAT, now);
	script_argv(s, SCRIPT_PRIMARY, eval, argv, NULL);
	argv[2] = "1";
	argv[3] = k;
	argv[4] = t;
	argv[5] = s->ttl_text;
}

/* alive_lua's arguments: mark the minute of now, into argv. */
#define ALIVE_ARGC	6
static void
alive_args(const struct store_redis *s, bool eval, const char **argv,
    const char *k, int64_t now, char *m, char *oldest, size_t size)
{
	int64_t minute = now / ALIVE_MINUTE_MS;

	g_snprintf(m, size, "%" G_GINT64_FORMAT, minute);
	g_snprintf(oldest, size, "%" G_GINT64_FORMAT,
	    minute - ALIVE_MINUTES + 1);
	script_argv(s, SCRIPT_ALIVE, eval, argv, NULL);
	argv[2] = "1";
	argv[3] = k;
	argv[4] = m;
	argv[5] = oldest;
}

/* Queue a contact: the script redis_primary_contact runs too. */
static void
append_contact(struct store_redis *s, struct conn *c,
    const struct store_item *it, bool eval)
{
	g_autofree char *key = net_key(s, it->key);
	const char *argv[CONTACT_ARGC];
	char now[24];

	contact_args(s, eval, argv, key, it->update.now, now, sizeof(now));
	redisAppendCommandArgv(c->ctx, CONTACT_ARGC, argv, NULL);
}

/* Queue an alive mark: the script redis_alive_mark runs too. */
static void
append_alive(struct store_redis *s, struct conn *c,
    const struct store_item *it, bool eval)
{
	g_autofree char *key = g_strconcat(s->prefix, "alive", NULL);
	const char *argv[ALIVE_ARGC];
	char m[24], oldest[24];

	alive_args(s, eval, argv, key, it->update.now, m, oldest, sizeof(m));
	redisAppendCommandArgv(c->ctx, ALIVE_ARGC, argv, NULL);
}

/* Queue a tar-pit event on the connection. */
static void
append_tarpit(struct store_redis *s, struct conn *c,
    const struct store_item *it, bool eval)
{
	const struct tarpit_update *u = &it->update;
	g_autofree char *key = net_key(s, it->key);
	char now[24], held[24], ev[16], hc[8];
	const char *argv[] = { NULL, NULL, "1", key, now,
	    u->new_session ? "1" : "0", held, ev,
	    u->has_helo ? "1" : "0", u->helo, hc, s->ttl_text };
	size_t lens[G_N_ELEMENTS(argv)];

	g_snprintf(now, sizeof(now), "%" G_GINT64_FORMAT, u->now);
	g_snprintf(held, sizeof(held), "%" G_GUINT64_FORMAT, u->held_ms);
	g_snprintf(ev, sizeof(ev), "%u", u->evidence & EVIDENCE_ALL);
	g_snprintf(hc, sizeof(hc), "%u", u->helo_class);
	script_argv(s, SCRIPT_TARPIT, eval, argv, lens);
	for (size_t a = 2; a < G_N_ELEMENTS(argv); a++)
		lens[a] = a == 9 ? (u->has_helo ? u->helo_len : 0) :
		    strlen(argv[a]);
	redisAppendCommandArgv(c->ctx, (int)G_N_ELEMENTS(argv), argv, lens);
}

static void
append_item(struct store_redis *s, struct conn *c,
    const struct store_item *it, bool eval)
{
	switch (it->kind) {
	case STORE_ITEM_CONTACT:
		append_contact(s, c, it, eval);
		break;
	case STORE_ITEM_ALIVE:
		append_alive(s, c, it, eval);
		break;
	case STORE_ITEM_TARPIT:
		append_tarpit(s, c, it, eval);
		break;
	}
}

/*
 * Send items[i] for every i in which (all if which is NULL) pipelined,
 * as EVAL if eval, and read every reply. An item the server has no
 * script for is added to *noscript (allocated for n on the first).
 * *replies counts the replies read. A connection failure sets *transport
 * if the server closed it before any reply: then nothing of the batch
 * ran, and all of it may be sent again.
 */
static bool
send_items(struct store_redis *s, struct conn *c,
    const struct store_item *items, size_t n, const bool *which, bool eval,
    bool **noscript, size_t *replies, bool *transport, GError **error)
{
	const char *what = store_items_what(items, n);
	bool ok = true;

	for (size_t i = 0; i < n; i++)
		if (which == NULL || which[i])
			append_item(s, c, &items[i], eval);
	for (size_t i = 0; i < n; i++) {
		redisReply *r = NULL;

		if (which != NULL && !which[i])
			continue;
		if (redisGetReply(c->ctx, (void **)&r) != REDIS_OK) {
			g_clear_error(error);
			set_error(s, error, STORE_ERROR_UNAVAILABLE, what,
			    c->ctx->errstr);
			*transport = was_closed(c->ctx) && *replies == 0;
			disconnect(s, c);
			return false;
		}
		(*replies)++;
		if (is_noscript(r) && !eval) {
			if (*noscript == NULL)
				*noscript = g_new0(bool, n);
			(*noscript)[i] = true;
		} else if (r->type == REDIS_REPLY_ERROR && ok) {
			if (error == NULL || *error == NULL)
				set_error(s, error, STORE_ERROR_IO, what,
				    r->str);
			ok = false;
		}
		freeReplyObject(r);
	}
	return ok;
}

/*
 * Send the batch pipelined and read every reply; see redis_apply. Each
 * event is its own script call, atomic on its record: the batch saves
 * round trips. Calls the server had no script for are sent again with
 * the script's text, after the rest (the scripts are gone for all of a
 * batch at once, unless another client loads one between two calls).
 */
static bool
send_batch(struct store_redis *s, struct conn *c,
    const struct store_item *items, size_t n, bool *transport,
    GError **error)
{
	g_autofree bool *noscript = NULL;
	size_t replies = 0;
	bool ok;

	*transport = false;
	ok = send_items(s, c, items, n, NULL, false, &noscript, &replies,
	    transport, error);
	if (noscript != NULL && c->ctx != NULL)
		ok = send_items(s, c, items, n, noscript, true, &noscript,
		    &replies, transport, error) && ok;
	return ok;
}

/*
 * One round trip for the whole batch. A connection the server closed
 * while it was idle gets one fresh try (no reply came: the commands
 * never ran). Once any reply came, some calls ran: sending the batch
 * again would apply them twice, so the rest is lost instead (counted
 * as failed by the caller).
 */
static bool
redis_apply(struct store *st, const struct store_item *items,
    size_t n, GError **error)
{
	struct store_redis *s = (struct store_redis *)st;
	struct conn *c = conn_get(s);
	bool reused = c->ctx != NULL, transport, ok = false;

	if (ensure(s, c, false, error)) {
		ok = send_batch(s, c, items, n, &transport, error);
		if (!ok && transport && reused) {
			g_clear_error(error);
			ok = ensure(s, c, true, error) &&
			    send_batch(s, c, items, n, &transport, error);
		}
	}
	conn_put(c);
	return ok;
}

static bool
redis_primary_contact(struct store *st, const char *key, int64_t now,
    struct hit_record *before, GError **error)
{
	struct store_redis *s = (struct store_redis *)st;
	g_autofree char *k = net_key(s, key);
	char t[24];
	const char *argv[CONTACT_ARGC];
	redisReply *r;
	bool ok;

	contact_args(s, false, argv, k, now, t, sizeof(t));
	r = pool_command(s, CONTACT_ARGC, argv,
	    "recording a primary contact", error);
	if (r == NULL)
		return false;
	ok = r->type == REDIS_REPLY_ARRAY && decode_hash(s, key, r, before,
	    error);
	if (r->type != REDIS_REPLY_ARRAY)
		set_error(s, error, STORE_ERROR_IO, "primary contact",
		    "unexpected reply");
	freeReplyObject(r);
	return ok;
}

static bool
redis_lookup(struct store *st, const char *key, struct hit_record *rec,
    bool *found, GError **error)
{
	struct store_redis *s = (struct store_redis *)st;
	g_autofree char *k = net_key(s, key);
	const char *argv[] = { "HGETALL", k };
	redisReply *r;
	bool ok;

	*found = false;
	r = pool_command(s, 2, argv, "reading", error);
	if (r == NULL)
		return false;
	ok = decode_hash(s, key, r, rec, error);
	*found = ok && r->elements > 0;
	freeReplyObject(r);
	return ok;
}

/* One record of a listing batch, read before the callbacks run. */
struct listed {
	char		key[STORE_KEY_MAX + 1];
	struct hit_record rec;
};

/*
 * The SCAN pattern of the record keys: the prefix with glob characters
 * escaped (a prefix is the operator's text, never a pattern), "net:*".
 */
static char *
scan_match(const char *prefix)
{
	GString *m = g_string_new(NULL);

	for (const char *p = prefix; *p != '\0'; p++) {
		if (strchr("*?[]\\", *p) != NULL)
			g_string_append_c(m, '\\');
		g_string_append_c(m, *p);
	}
	g_string_append(m, "net:*");
	return g_string_free(m, FALSE);
}

/*
 * The network key of a Redis key SCAN returned, or NULL if it is not a
 * record's: another key under the prefix, binary, or overlong.
 */
static const char *
listed_key(const redisReply *k, const char *netp, size_t plen)
{
	if (k->type != REDIS_REPLY_STRING || k->len <= plen ||
	    k->len - plen > STORE_KEY_MAX || memchr(k->str, '\0', k->len) !=
	    NULL || memcmp(k->str, netp, plen) != 0)
		return NULL;
	return k->str + plen;
}

/*
 * One HGETALL reply of a listing batch into out: true if it is a record,
 * false if the key vanished since SCAN (an empty hash), if its value is
 * damaged (not a hash, a bad field: counted in *bad, logged) or if the
 * server refused (error set, once: the other replies are still read).
 */
static bool
listed_decode(struct store_redis *s, const char *key, const redisReply *r,
    struct listed *out, size_t *bad, GError **error)
{
	g_autoptr(GError) err = NULL;

	if (r->type == REDIS_REPLY_ARRAY && r->elements == 0)
		return false;
	if (r->type == REDIS_REPLY_ERROR &&
	    !g_str_has_prefix(r->str, "WRONGTYPE")) {
		if (error != NULL && *error == NULL)
			g_set_error(error, STORE_ERROR, STORE_ERROR_IO,
			    "redis %s: listing: record %s: %s", s->where, key,
			    r->str);
		return false;
	}
	if (r->type != REDIS_REPLY_ARRAY)
		g_set_error(&err, STORE_ERROR, STORE_ERROR_CORRUPT,
		    "redis %s: record %s: not a hash", s->where, key);
	else if (decode_hash(s, key, r, &out->rec, &err)) {
		g_strlcpy(out->key, key, sizeof(out->key));
		return true;
	}
	(*bad)++;
	log_msg(LOG_WARNING, "%s", err->message);
	return false;
}

/*
 * Read the records of one SCAN batch (keys, an array reply) into batch,
 * pipelined: every HGETALL is sent, then every reply read, one round
 * trip for the batch, on the caller's connection.
 */
static bool
listing_read(struct store_redis *s, struct conn *c, const redisReply *keys,
    GArray *batch, size_t *bad, GError **error)
{
	g_autofree char *netp = g_strconcat(s->prefix, "net:", NULL);
	size_t plen = strlen(netp), sent = 0;
	g_autofree const char **names = g_new(const char *, keys->elements +
	    1);
	g_autoptr(GError) refused = NULL;

	g_array_set_size(batch, 0);
	for (size_t i = 0; i < keys->elements; i++) {
		const char *argv[2] = { "HGETALL", NULL };
		size_t lens[2] = { 7, 0 };

		if ((names[sent] = listed_key(keys->element[i], netp, plen)) ==
		    NULL)
			continue;
		argv[1] = keys->element[i]->str;
		lens[1] = keys->element[i]->len;
		if (redisAppendCommandArgv(c->ctx, 2, argv, lens) != REDIS_OK) {
			set_error(s, error, STORE_ERROR_UNAVAILABLE, "listing",
			    "out of memory");
			disconnect(s, c);
			return false;
		}
		sent++;
	}
	for (size_t i = 0; i < sent; i++) {
		redisReply *r = NULL;
		struct listed l;

		if (redisGetReply(c->ctx, (void **)&r) != REDIS_OK) {
			g_clear_error(&refused);
			set_error(s, error, STORE_ERROR_UNAVAILABLE,
			    "listing", c->ctx->errstr);
			disconnect(s, c);
			return false;
		}
		if (listed_decode(s, names[i], r, &l, bad, &refused))
			g_array_append_val(batch, l);
		freeReplyObject(r);
	}
	if (refused != NULL) {
		g_propagate_error(error, g_steal_pointer(&refused));
		return false;
	}
	return true;
}

/*
 * One SCAN step from *cursor and its records into batch; *cursor moves
 * on ("0": the listing is complete). On one connection, given back
 * before the callbacks run (the cursor is the server's, good on any).
 */
static bool
listing_step(struct store_redis *s, const char *match, char **cursor,
    GArray *batch, size_t *bad, GError **error)
{
	const char *argv[] = { "SCAN", *cursor, "MATCH", match, "COUNT",
	    SCAN_COUNT };
	struct conn *c = conn_get(s);
	redisReply *r;
	bool ok = false;

	r = command_retry(s, c, G_N_ELEMENTS(argv), argv, "listing", error);
	if (r == NULL)
		goto out;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_ARRAY) {
		set_error(s, error, STORE_ERROR_IO, "listing",
		    "unexpected reply to SCAN");
		goto out;
	}
	ok = listing_read(s, c, r->element[1], batch, bad, error);
	if (ok) {
		g_free(*cursor);
		*cursor = g_strndup(r->element[0]->str, r->element[0]->len);
	}
out:
	if (r != NULL)
		freeReplyObject(r);
	conn_put(c);
	return ok;
}

/*
 * SCAN in batches of about SCAN_COUNT keys, each batch's records read in
 * one pipelined round trip: memory is one batch, whatever the store
 * holds, and no connection is held across a callback. A key deleted or
 * expired between SCAN and HGETALL is skipped. SCAN may return a key
 * twice if Redis resizes its table during the listing.
 */
static bool
redis_foreach(struct store *st, store_foreach_fn fn, void *data, size_t *bad,
    GError **error)
{
	struct store_redis *s = (struct store_redis *)st;
	g_autofree char *match = scan_match(s->prefix);
	g_autofree char *cursor = g_strdup("0");
	g_autoptr(GArray) batch = g_array_new(FALSE, FALSE,
	    sizeof(struct listed));

	*bad = 0;
	do {
		if (!listing_step(s, match, &cursor, batch, bad, error))
			return false;
		for (guint i = 0; i < batch->len; i++) {
			const struct listed *l = &g_array_index(batch,
			    struct listed, i);

			if (!fn(l->key, &l->rec, data))
				return true;
		}
	} while (strcmp(cursor, "0") != 0);
	return true;
}

static bool
redis_forget(struct store *st, const char *key, bool *found, GError **error)
{
	struct store_redis *s = (struct store_redis *)st;
	g_autofree char *k = net_key(s, key);
	const char *argv[] = { "DEL", k };
	redisReply *r;

	r = pool_command(s, 2, argv, "forgetting", error);
	if (r == NULL)
		return false;
	*found = r->type == REDIS_REPLY_INTEGER && r->integer > 0;
	freeReplyObject(r);
	return true;
}

/* Redis expires records by their TTL, set on every update. */
static bool
redis_expire(struct store *st, int64_t now, int64_t ttl, size_t *removed,
    GError **error)
{
	(void)st;
	(void)now;
	(void)ttl;
	(void)error;
	*removed = 0;
	return true;
}

static bool
redis_alive_mark(struct store *st, int64_t now, GError **error)
{
	struct store_redis *s = (struct store_redis *)st;
	g_autofree char *k = g_strconcat(s->prefix, "alive", NULL);
	char m[24], oldest[24];
	const char *argv[ALIVE_ARGC];
	redisReply *r;

	alive_args(s, false, argv, k, now, m, oldest, sizeof(m));
	r = pool_command(s, ALIVE_ARGC, argv,
	    "marking the primary alive", error);
	if (r == NULL)
		return false;
	freeReplyObject(r);
	return true;
}

/* A ZRANGEBYSCORE bound: the minute of ms t, or the open end. */
static void
minute_bound(int64_t t, const char *open, char *buf, size_t size)
{
	if (t == INT64_MIN || t == INT64_MAX)
		g_strlcpy(buf, open, size);
	else
		g_snprintf(buf, size, "%" G_GINT64_FORMAT,
		    t / ALIVE_MINUTE_MS);
}

/*
 * The minutes from..to by score, at most the ring (ZREMRANGEBYSCORE in
 * alive_lua keeps the set to it): a verdict reads a few members, not
 * the whole set; store_alive_get (-inf..+inf) still reads it all.
 */
static bool
redis_alive_get(struct store *st, int64_t from, int64_t to, struct alive *out,
    GError **error)
{
	struct store_redis *s = (struct store_redis *)st;
	g_autofree char *k = g_strconcat(s->prefix, "alive", NULL);
	char lo[24], hi[24];
	const char *argv[] = { "ZRANGEBYSCORE", k, lo, hi };
	redisReply *r;

	minute_bound(from, "-inf", lo, sizeof(lo));
	minute_bound(to, "+inf", hi, sizeof(hi));
	memset(out, 0, sizeof(*out));
	r = pool_command(s, G_N_ELEMENTS(argv), argv, "reading liveness",
	    error);
	if (r == NULL)
		return false;
	/* Oldest first, so the ring moves forward as it does when marking. */
	for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements;
	    i++) {
		int64_t m;

		if (r->element[i]->type == REDIS_REPLY_STRING &&
		    field_num(r->element[i]->str, r->element[i]->len, &m))
			alive_mark(out, m * ALIVE_MINUTE_MS);
	}
	freeReplyObject(r);
	return true;
}

static void
redis_free(struct store *st)
{
	struct store_redis *s = (struct store_redis *)st;

	for (unsigned i = 0; i < s->nconns; i++) {
		if (s->conns[i].ctx != NULL)
			redisFree(s->conns[i].ctx);
		g_mutex_clear(&s->conns[i].lock);
	}
	g_free(s->conns);
	g_mutex_clear(&s->state);
	g_free(s->where);
	g_free(s->host);
	g_free(s->path);
	g_free(s->password);
	redis_tls_free(s->tls);
	g_free(s->prefix);
	g_free(s->base.describe);
	g_free(s);
}

static const struct store_ops redis_ops = {
	.free = redis_free,
	.apply = redis_apply,
	.primary_contact = redis_primary_contact,
	.lookup = redis_lookup,
	.foreach = redis_foreach,
	.forget = redis_forget,
	.expire = redis_expire,
	.alive_mark = redis_alive_mark,
	.alive_get = redis_alive_get,
};

struct store *
store_redis_open(const struct store_options *o, GError **error)
{
	struct store_redis *s = g_new0(struct store_redis, 1);
	const char *spec = o->redis != NULL ? o->redis : "127.0.0.1:6379";
	g_autoptr(GError) err = NULL;
	int64_t ms = o->redis_timeout > 0 ? o->redis_timeout : 50;

	s->base.ops = &redis_ops;
	s->nconns = o->redis_connections > 0 ? o->redis_connections : 4;
	s->conns = g_new0(struct conn, s->nconns);
	for (unsigned i = 0; i < s->nconns; i++)
		g_mutex_init(&s->conns[i].lock);
	g_mutex_init(&s->state);
	s->eval_only = o->redis_eval_only;
	for (int i = 0; i < SCRIPTS; i++) {
		g_autofree char *sha = g_compute_checksum_for_string(
		    G_CHECKSUM_SHA1, script_text[i], -1);

		g_strlcpy(s->sha[i], sha, sizeof(s->sha[i]));
	}
	s->where = g_strdup(spec);
	s->base.describe = g_strdup_printf("redis:%s", spec);
	s->password = g_strdup(o->redis_password != NULL ? o->redis_password :
	    "");
	s->prefix = g_strdup(o->redis_prefix != NULL ? o->redis_prefix :
	    "slowspam:");
	s->db = o->redis_db;
	s->ttl = o->ttl > 0 ? o->ttl : 30 * 86400000LL;
	g_snprintf(s->ttl_text, sizeof(s->ttl_text), "%" G_GINT64_FORMAT,
	    s->ttl);
	s->timeout.tv_sec = (time_t)(ms / 1000);
	s->timeout.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	if (g_str_has_prefix(spec, "unix:")) {
		s->path = g_strdup(spec + 5);
	} else {
		struct addr a;
		uint16_t port;
		char text[ADDR_STRLEN];
		const char *why = "bad address";

		if (!addr_hostport_parse(spec, &a, &port, &why)) {
			set_error(s, error, STORE_ERROR_IO, "address", why);
			redis_free(&s->base);
			return NULL;
		}
		s->host = g_strdup(addr_format(&a, text));
		s->port = port;
	}
	if (o->redis_tls && (s->tls = redis_tls_new(o, error)) == NULL) {
		redis_free(&s->base);
		return NULL;
	}
	/*
	 * A wrong password or database is a clear error at start; a Redis
	 * that is down is not: the store starts disconnected and connects
	 * later, like after any outage. The other connections of the pool
	 * open when first needed.
	 */
	if (!ensure(s, &s->conns[0], false, &err)) {
		if (err->code != STORE_ERROR_UNAVAILABLE) {
			g_propagate_error(error, g_steal_pointer(&err));
			redis_free(&s->base);
			return NULL;
		}
		log_msg(LOG_WARNING, "%s; will connect later", err->message);
	}
	return &s->base;
}
