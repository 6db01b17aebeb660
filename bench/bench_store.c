/*
 * bench_store - what the hit store costs: events per second by
 * transaction size, the write queue's push cost, lookups and primary
 * contacts (mean, p50, p99), primary contacts per second from 1, 4 and
 * 16 threads at once, and bytes per network. LMDB always; Redis too when
 * given a server. Prints numbers, one line per measurement prefixed with
 * the backend's name; not a test.
 *
 * Usage: bench_store [DIR] [--redis HOST:PORT]
 *	DIR	where the LMDB file goes (default: a fresh directory
 *		under $TMPDIR, removed afterwards)
 *	--redis	also run against this Redis (or set BENCH_REDIS), with
 *		redis_timeout 1000 ms (BENCH_REDIS_TIMEOUT=MS to change
 *		it) and redis_prefix "bench:". Keys under
 *		"bench:" are deleted before and after the run, so do not
 *		point it at a Redis whose data uses that prefix. Use a
 *		throwaway server:
 *		  redis-server --port 6391 --bind 127.0.0.1 --save '' \
 *		      --appendonly no
 *
 * Concurrency: for LMDB all threads share one store (as the milter's
 * threads do); for Redis each thread opens its own store, that is its
 * own connection pool (as separate milter processes would; the threads
 * of one process share its pool, as bench_pool measures).
 *
 * Then the comparisons, each side in turn on the same load (A B A B):
 * the liveness a verdict reads with a full ring (ALIVE_MINUTES marked
 * minutes), the whole ring (store_alive_get) against the minutes around
 * one contact (store_alive_get_range, 2 x the default alive_margin);
 * Redis only: scripts by EVALSHA against their text each time (EVAL),
 * and 16 threads of lookups on one store with a pool of 1 against 4
 * connections, directly and through a proxy that delays every reply by
 * BENCH_RTT_US (default 500 us: a Redis on another host).
 *
 * Bytes per network: LMDB, the file's size over the networks written;
 * Redis, the server's INFO used_memory before and after writing them
 * (needs the server to itself; "0 keys" before is checked and shown).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#ifdef WITH_REDIS
#include <hiredis/hiredis.h>
#endif

#include "helo.h"
#include "store.h"
#include "storeq.h"

#define NETWORKS	100000
#define PREFIX		"bench:"
#define ROUNDS		4		/* of each side of a comparison */
#define MARGIN_MS	(10 * 60000)	/* [milter] alive_margin's default */

static const char *B;		/* the backend's name, for every line */

static void
key_of(size_t i, char *key)
{
	g_snprintf(key, STORE_KEY_MAX + 1, "10.%zu.%zu.%zu/32", (i >> 16) & 255,
	    (i >> 8) & 255, i & 255);
}

static struct store_item
event(size_t i)
{
	static const char helo[] = "bot-1234.dynamic.example.net";
	struct store_item it = { .update = { .now = store_now(),
	    .new_session = true, .held_ms = 600000 } };

	key_of(i, it.key);
	record_update_set_helo(&it.update, helo, sizeof(helo) - 1, HELO_FQDN);
	return it;
}

static double
seconds_since(gint64 t0)
{
	return (double)(g_get_monotonic_time() - t0) / 1e6;
}

static int
cmp_i64(const void *a, const void *b)
{
	gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;

	return (x > y) - (x < y);
}

/* "mean X us, p50 Y us, p99 Z us" of n per-operation times (us). */
static void
print_latency(const char *what, gint64 *us, size_t n, const char *extra)
{
	double sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += (double)us[i];
	qsort(us, n, sizeof(*us), cmp_i64);
	printf("%s: %s: n=%zu mean %.1f us, p50 %" G_GINT64_FORMAT " us, "
	    "p99 %" G_GINT64_FORMAT " us, max %" G_GINT64_FORMAT " us%s\n",
	    B, what, n, sum / (double)n, us[n / 2], us[n * 99 / 100],
	    us[n - 1], extra);
}

/* Events per second when each transaction carries batch events. */
static void
bench_batches(struct store *st, size_t batch, size_t total)
{
	g_autofree struct store_item *items = g_new(struct store_item, batch);
	gint64 t0 = g_get_monotonic_time();
	double s;

	for (size_t done = 0; done < total; done += batch) {
		g_autoptr(GError) err = NULL;

		for (size_t i = 0; i < batch; i++)
			items[i] = event(done + i);
		if (!store_apply(st, items, batch, &err)) {
			fprintf(stderr, "bench_store: %s: write failed: %s\n",
			    B, err->message);
			exit(1);
		}
	}
	s = seconds_since(t0);
	printf("%s: tarpit events, %5zu per transaction: %9.0f events/s "
	    "(%.1f us per transaction)\n", B, batch, (double)total / s,
	    s * 1e6 / ((double)total / (double)batch));
}

/* The queue: what a push costs the event loop, and the drain rate. */
static void
bench_queue(struct store *st, size_t total)
{
	struct storeq *q = storeq_new(st, 65536);
	struct storeq_stats stats;
	gint64 t0 = g_get_monotonic_time(), push_us = 0;
	size_t dropped = 0;
	double s;

	for (size_t i = 0; i < total; i++) {
		struct store_item it = event(i % NETWORKS);
		gint64 p0 = g_get_monotonic_time();

		if (!storeq_push(q, it.key, &it.update))
			dropped++;
		push_us += g_get_monotonic_time() - p0;
	}
	storeq_flush(q);
	s = seconds_since(t0);
	storeq_get_stats(q, &stats);
	printf("%s: queue: %zu pushes, %.3f us per push, %zu dropped; drained "
	    "at %.0f events/s in %" G_GUINT64_FORMAT " transactions\n", B,
	    total, (double)push_us / (double)total, dropped,
	    (double)stats.written / s, stats.batches);
	storeq_free(q);
}

/* Single lookups and single primary contacts, one after the other. */
static void
bench_reads(struct store *st, size_t total, size_t contacts)
{
	g_autofree gint64 *us = g_new(gint64, MAX(total, contacts));
	struct hit_record r;
	bool found;
	size_t hits = 0, errors = 0;
	char extra[64];

	for (size_t i = 0; i < total; i++) {
		char key[STORE_KEY_MAX + 1];
		gint64 t0;

		key_of((i * 7919) % NETWORKS, key);
		t0 = g_get_monotonic_time();
		if (!store_lookup(st, key, &r, &found, NULL))
			errors++;
		us[i] = g_get_monotonic_time() - t0;
		hits += found;
	}
	g_snprintf(extra, sizeof(extra), " (%zu found, %zu errors)", hits,
	    errors);
	print_latency("lookup", us, total, extra);

	errors = 0;
	for (size_t i = 0; i < contacts; i++) {
		char key[STORE_KEY_MAX + 1];
		gint64 t0;

		key_of((i * 7919) % NETWORKS, key);
		t0 = g_get_monotonic_time();
		if (!store_primary_contact(st, key, store_now(), &r, NULL))
			errors++;
		us[i] = g_get_monotonic_time() - t0;
	}
	g_snprintf(extra, sizeof(extra), " (%zu errors)", errors);
	print_latency("primary contact (read-modify-write)", us, contacts,
	    extra);
}

/* Concurrent primary contacts: threads for a while, ops/s in all. */
struct worker {
	pthread_t	thread;
	struct store	*st;		/* shared (LMDB) or own (Redis) */
	const struct store_options *own; /* open a store of its own */
	unsigned	seed;
	volatile gint	*stop;
	size_t		ops, errors;
	char		*open_error;
};

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	GRand *rng = g_rand_new_with_seed(w->seed);

	if (w->own != NULL) {
		g_autoptr(GError) err = NULL;

		if ((w->st = store_open(w->own, &err)) == NULL) {
			w->open_error = g_strdup(err->message);
			g_rand_free(rng);
			return NULL;
		}
	}
	while (!g_atomic_int_get(w->stop)) {
		char key[STORE_KEY_MAX + 1];
		struct hit_record r;

		key_of((size_t)g_rand_int_range(rng, 0, NETWORKS), key);
		if (store_primary_contact(w->st, key, store_now(), &r, NULL))
			w->ops++;
		else
			w->errors++;
	}
	if (w->own != NULL)
		store_free(w->st);
	g_rand_free(rng);
	return NULL;
}

static void
bench_concurrent(struct store *shared, const struct store_options *own,
    unsigned nthreads, double seconds)
{
	g_autofree struct worker *w = g_new0(struct worker, nthreads);
	volatile gint stop = 0;
	size_t ops = 0, errors = 0;
	gint64 t0;
	double s;

	t0 = g_get_monotonic_time();
	for (unsigned i = 0; i < nthreads; i++) {
		w[i].st = shared;
		w[i].own = own;
		w[i].seed = 1000 + i;
		w[i].stop = &stop;
		if (pthread_create(&w[i].thread, NULL, worker_run, &w[i]) != 0) {
			fprintf(stderr, "bench_store: pthread_create failed\n");
			exit(1);
		}
	}
	g_usleep((gulong)(seconds * G_USEC_PER_SEC));
	g_atomic_int_set(&stop, 1);
	for (unsigned i = 0; i < nthreads; i++) {
		pthread_join(w[i].thread, NULL);
		if (w[i].open_error != NULL) {
			fprintf(stderr, "bench_store: %s: %s\n", B,
			    w[i].open_error);
			g_free(w[i].open_error);
		}
		ops += w[i].ops;
		errors += w[i].errors;
	}
	s = seconds_since(t0);
	printf("%s: concurrent primary contacts, %2u threads (%s): %8.0f "
	    "ops/s in all, %zu ops, %zu errors, %.2f s\n", B, nthreads,
	    own != NULL ? "a connection each" : "one shared store",
	    (double)ops / s, ops, errors, s);
}

static void
bench_all(struct store *st, const struct store_options *own)
{
	bench_batches(st, 1, 2000);
	bench_batches(st, 100, NETWORKS);
	bench_batches(st, 1000, NETWORKS);
	bench_queue(st, 200000);
	bench_reads(st, 100000, 10000);
	bench_concurrent(st, own, 1, 2.0);
	bench_concurrent(st, own, 4, 2.0);
	bench_concurrent(st, own, 16, 2.0);
}

/* Mark every minute of the ring, up to now: the liveness at its largest. */
static void
fill_ring(struct store *st)
{
	g_autofree struct store_item *items = g_new0(struct store_item,
	    ALIVE_MINUTES);
	int64_t now = store_now();
	g_autoptr(GError) err = NULL;

	for (size_t i = 0; i < ALIVE_MINUTES; i++) {
		items[i].kind = STORE_ITEM_ALIVE;
		items[i].update.now = now - (int64_t)i * ALIVE_MINUTE_MS;
	}
	if (!store_apply(st, items, ALIVE_MINUTES, &err)) {
		fprintf(stderr, "bench_store: %s: marking: %s\n", B,
		    err->message);
		exit(1);
	}
}

/*
 * A verdict's liveness read, n times: the whole ring (whole) or the
 * minutes around a contact within the last day; its times into us.
 */
static void
alive_reads(struct store *st, bool whole, size_t n, gint64 *us,
    size_t *marked)
{
	GRand *rng = g_rand_new_with_seed(16);
	int64_t now = store_now();

	*marked = 0;
	for (size_t i = 0; i < n; i++) {
		int64_t t = now - g_rand_int_range(rng, 0, 86400000);
		struct alive a;
		gint64 t0 = g_get_monotonic_time();
		bool ok = whole ? store_alive_get(st, &a, NULL) :
		    store_alive_get_range(st, t - MARGIN_MS, t + MARGIN_MS,
		    &a, NULL);

		us[i] = g_get_monotonic_time() - t0;
		if (!ok) {
			fprintf(stderr, "bench_store: %s: reading liveness "
			    "failed\n", B);
			exit(1);
		}
		*marked += alive_any(&a, t - MARGIN_MS, t + MARGIN_MS);
	}
	g_rand_free(rng);
}

static void
bench_alive(struct store *st, size_t per_round)
{
	g_autofree gint64 *whole = g_new(gint64, ROUNDS * per_round);
	g_autofree gint64 *range = g_new(gint64, ROUNDS * per_round);
	size_t mw = 0, mr = 0, m;
	char extra[64];

	fill_ring(st);
	for (int r = 0; r < ROUNDS; r++) {
		alive_reads(st, true, per_round, whole + r * per_round, &m);
		mw += m;
		alive_reads(st, false, per_round, range + r * per_round, &m);
		mr += m;
	}
	g_snprintf(extra, sizeof(extra), " (%zu of them up)", mw);
	print_latency("liveness, full ring, whole (store_alive_get)", whole,
	    ROUNDS * per_round, extra);
	g_snprintf(extra, sizeof(extra), " (%zu of them up)", mr);
	print_latency("liveness, full ring, +-alive_margin "
	    "(store_alive_get_range)", range, ROUNDS * per_round, extra);
}

static int
run_lmdb(const char *dirarg)
{
	g_autofree char *dir = dirarg != NULL ? g_strdup(dirarg) :
	    g_dir_make_tmp("slowspam-bench-XXXXXX", NULL);
	g_autofree char *path = g_build_filename(dir, "hits.lmdb", NULL);
	struct store_options o = { .backend = STORE_BACKEND_LMDB,
	    .path = path, .map_size = 1u << 30, .ttl = 30 * 86400000LL };
	g_autoptr(GError) err = NULL;
	struct store *st;
	struct stat sb;

	B = "lmdb";
	if ((st = store_open(&o, &err)) == NULL) {
		fprintf(stderr, "bench_store: %s\n", err->message);
		return 1;
	}
	printf("%s: store: %s\n", B, path);
	bench_all(st, NULL);
	bench_alive(st, 5000);
	if (stat(path, &sb) == 0)
		printf("%s: size: file %.1f MiB for %d networks, %.0f bytes "
		    "each\n", B, (double)sb.st_size / (1 << 20), NETWORKS,
		    (double)sb.st_size / NETWORKS);
	store_free(st);
	if (dirarg == NULL) {
		g_autofree char *lock = g_strconcat(path, "-lock", NULL);

		g_unlink(path);
		g_unlink(lock);
		g_rmdir(dir);
	}
	return 0;
}

#ifdef WITH_REDIS
/* A direct connection for INFO and clean-up (not through the store). */
static redisContext *
admin_connect(const char *spec)
{
	const char *colon = strrchr(spec, ':');
	g_autofree char *host = NULL;
	redisContext *c;

	if (g_str_has_prefix(spec, "unix:")) {
		c = redisConnectUnix(spec + 5);
	} else {
		if (colon == NULL)
			return NULL;
		host = g_strndup(spec, (gsize)(colon - spec));
		if (host[0] == '[' && host[strlen(host) - 1] == ']') {
			host[strlen(host) - 1] = '\0';
			memmove(host, host + 1, strlen(host));
		}
		c = redisConnect(host, atoi(colon + 1));
	}
	if (c == NULL || c->err != 0) {
		fprintf(stderr, "bench_store: redis %s: %s\n", spec,
		    c != NULL ? c->errstr : "out of memory");
		if (c != NULL)
			redisFree(c);
		return NULL;
	}
	return c;
}

/* INFO's field (e.g. "used_memory"), or -1. */
static long long
info_field(redisContext *c, const char *section, const char *field)
{
	redisReply *r = redisCommand(c, "INFO %s", section);
	long long v = -1;

	if (r != NULL && r->type == REDIS_REPLY_STRING) {
		g_autofree char *want = g_strconcat("\r\n", field, ":", NULL);
		const char *p = strstr(r->str, want);

		if (p != NULL)
			v = atoll(p + strlen(want));
	}
	if (r != NULL)
		freeReplyObject(r);
	return v;
}

static long long
dbsize(redisContext *c)
{
	redisReply *r = redisCommand(c, "DBSIZE");
	long long v = r != NULL && r->type == REDIS_REPLY_INTEGER ?
	    r->integer : -1;

	if (r != NULL)
		freeReplyObject(r);
	return v;
}

/* Delete every key under PREFIX; the count. */
static size_t
delete_prefix(redisContext *c)
{
	g_autofree char *cursor = g_strdup("0");
	size_t n = 0;

	do {
		redisReply *r = redisCommand(c, "SCAN %s MATCH %s* COUNT 1000",
		    cursor, PREFIX);

		if (r == NULL || r->type != REDIS_REPLY_ARRAY ||
		    r->elements != 2) {
			if (r != NULL)
				freeReplyObject(r);
			break;
		}
		g_free(cursor);
		cursor = g_strdup(r->element[0]->str);
		for (size_t i = 0; i < r->element[1]->elements; i++) {
			redisReply *d = redisCommand(c, "DEL %b",
			    r->element[1]->element[i]->str,
			    (size_t)r->element[1]->element[i]->len);

			if (d != NULL)
				freeReplyObject(d);
			n++;
		}
		freeReplyObject(r);
	} while (strcmp(cursor, "0") != 0);
	return n;
}

/* Open a Redis store like o, but with conns connections, EVAL or not. */
static struct store *
open_like(const struct store_options *o, unsigned conns, bool eval_only)
{
	struct store_options x = *o;
	g_autoptr(GError) err = NULL;
	struct store *st;

	x.redis_connections = conns;
	x.redis_eval_only = eval_only;
	if ((st = store_open(&x, &err)) == NULL) {
		fprintf(stderr, "bench_store: %s\n", err->message);
		exit(1);
	}
	return st;
}

/*
 * n primary contacts (contact) or single tar-pit events, then batches
 * of 100 tar-pit events; per-call times into us.
 */
static void
script_calls(struct store *st, int what, size_t n, gint64 *us)
{
	struct store_item items[100];
	struct hit_record r;

	for (size_t i = 0; i < n; i++) {
		char key[STORE_KEY_MAX + 1];
		gint64 t0 = g_get_monotonic_time();
		bool ok;

		key_of((i * 7919) % NETWORKS, key);
		if (what == 0) {
			ok = store_primary_contact(st, key, store_now(), &r,
			    NULL);
		} else {
			size_t k = what == 1 ? 1 : G_N_ELEMENTS(items);

			for (size_t j = 0; j < k; j++)
				items[j] = event((i * k + j) % NETWORKS);
			t0 = g_get_monotonic_time();
			ok = store_apply(st, items, k, NULL);
		}
		us[i] = g_get_monotonic_time() - t0;
		if (!ok) {
			fprintf(stderr, "bench_store: %s: script call failed\n",
			    B);
			exit(1);
		}
	}
}

static void
bench_scripts(const struct store_options *o, size_t per_round)
{
	static const char *const what[] = { "primary contact",
	    "tar-pit event, 1 per call", "tar-pit events, 100 per call" };
	struct store *sha = open_like(o, 1, false), *text = open_like(o, 1,
	    true);
	g_autofree gint64 *a = g_new(gint64, ROUNDS * per_round);
	g_autofree gint64 *b = g_new(gint64, ROUNDS * per_round);

	for (int w = 0; w < 3; w++) {
		size_t n = w == 2 ? per_round / 10 : per_round;
		char label[96];

		for (int r = 0; r < ROUNDS; r++) {
			script_calls(sha, w, n, a + r * n);
			script_calls(text, w, n, b + r * n);
		}
		g_snprintf(label, sizeof(label), "%s, EVALSHA", what[w]);
		print_latency(label, a, ROUNDS * n, "");
		g_snprintf(label, sizeof(label), "%s, EVAL (script text)",
		    what[w]);
		print_latency(label, b, ROUNDS * n, "");
	}
	store_free(sha);
	store_free(text);
}

/* Lookups from many threads on one store: the pool's worth. */
struct looker {
	pthread_t	thread;
	struct store	*st;
	volatile gint	*stop;
	unsigned	seed;
	GArray		*us;		/* gint64 per lookup */
	size_t		errors;
};

static void *
looker_run(void *arg)
{
	struct looker *l = arg;
	GRand *rng = g_rand_new_with_seed(l->seed);

	while (!g_atomic_int_get(l->stop)) {
		char key[STORE_KEY_MAX + 1];
		struct hit_record r;
		bool found;
		gint64 t0 = g_get_monotonic_time(), t;

		key_of((size_t)g_rand_int_range(rng, 0, NETWORKS), key);
		if (!store_lookup(l->st, key, &r, &found, NULL))
			l->errors++;
		t = g_get_monotonic_time() - t0;
		g_array_append_val(l->us, t);
	}
	g_rand_free(rng);
	return NULL;
}

/* nthreads looking up for seconds; their times appended to all. */
static double
pool_round(struct store *st, unsigned nthreads, double seconds, GArray *all,
    size_t *errors)
{
	g_autofree struct looker *l = g_new0(struct looker, nthreads);
	volatile gint stop = 0;
	gint64 t0 = g_get_monotonic_time();
	size_t ops = 0;

	for (unsigned i = 0; i < nthreads; i++) {
		l[i].st = st;
		l[i].stop = &stop;
		l[i].seed = 2000 + i;
		l[i].us = g_array_new(FALSE, FALSE, sizeof(gint64));
		if (pthread_create(&l[i].thread, NULL, looker_run, &l[i]) != 0) {
			fprintf(stderr, "bench_store: pthread_create failed\n");
			exit(1);
		}
	}
	g_usleep((gulong)(seconds * G_USEC_PER_SEC));
	g_atomic_int_set(&stop, 1);
	for (unsigned i = 0; i < nthreads; i++) {
		pthread_join(l[i].thread, NULL);
		ops += l[i].us->len;
		*errors += l[i].errors;
		g_array_append_vals(all, l[i].us->data, l[i].us->len);
		g_array_free(l[i].us, TRUE);
	}
	return (double)ops / seconds_since(t0);
}

static void
bench_pool(const struct store_options *o, const char *via, unsigned nthreads)
{
	static const unsigned conns[] = { 1, 4 };
	struct store *st[G_N_ELEMENTS(conns)];
	GArray *us[G_N_ELEMENTS(conns)];
	double rate[G_N_ELEMENTS(conns)] = { 0 };
	size_t errors[G_N_ELEMENTS(conns)] = { 0 };

	for (size_t c = 0; c < G_N_ELEMENTS(conns); c++) {
		st[c] = open_like(o, conns[c], false);
		us[c] = g_array_new(FALSE, FALSE, sizeof(gint64));
	}
	for (int r = 0; r < ROUNDS; r++)
		for (size_t c = 0; c < G_N_ELEMENTS(conns); c++)
			rate[c] += pool_round(st[c], nthreads, 1.0, us[c],
			    &errors[c]) / ROUNDS;
	for (size_t c = 0; c < G_N_ELEMENTS(conns); c++) {
		char label[96], extra[96];

		g_snprintf(label, sizeof(label), "%u threads of lookups%s, "
		    "%u connection%s", nthreads, via, conns[c],
		    conns[c] == 1 ? "" : "s");
		g_snprintf(extra, sizeof(extra), "; %.0f lookups/s, %zu errors",
		    rate[c], errors[c]);
		print_latency(label, (gint64 *)(void *)us[c]->data, us[c]->len,
		    extra);
		g_array_free(us[c], TRUE);
		store_free(st[c]);
	}
}

/*
 * A TCP proxy on loopback that holds every chunk from the server for
 * delay us before passing it on: the round trip of a Redis on another
 * host, with the server's own cost unchanged. Threads block on their
 * sockets and end with the process (this is a benchmark).
 */
struct pipe_end {
	int	from, to;
	gulong	delay;
};

static void *
pipe_run(void *arg)
{
	struct pipe_end *p = arg;
	char buf[65536];
	ssize_t n;

	while ((n = read(p->from, buf, sizeof(buf))) > 0) {
		if (p->delay > 0)
			g_usleep(p->delay);
		for (ssize_t off = 0, w; off < n; off += w)
			if ((w = write(p->to, buf + off, (size_t)(n - off))) <=
			    0)
				goto out;
	}
out:
	shutdown(p->to, SHUT_WR);
	g_free(p);
	return NULL;
}

struct proxy {
	int		listener;
	struct sockaddr_in server;
	gulong		delay;
};

static void
pipe_start(int from, int to, gulong delay)
{
	struct pipe_end *p = g_new(struct pipe_end, 1);
	pthread_t t;

	p->from = from;
	p->to = to;
	p->delay = delay;
	if (pthread_create(&t, NULL, pipe_run, p) != 0) {
		fprintf(stderr, "bench_store: pthread_create failed\n");
		exit(1);
	}
	pthread_detach(t);
}

static void *
proxy_run(void *arg)
{
	struct proxy *px = arg;
	int c;

	while ((c = accept(px->listener, NULL, NULL)) >= 0) {
		int s = socket(AF_INET, SOCK_STREAM, 0);

		if (s < 0 || connect(s, (struct sockaddr *)&px->server,
		    sizeof(px->server)) != 0) {
			close(c);
			if (s >= 0)
				close(s);
			continue;
		}
		pipe_start(c, s, 0);
		pipe_start(s, c, px->delay);
	}
	return NULL;
}

/* Start the proxy to Redis at host:port; its "127.0.0.1:PORT", or NULL. */
static char *
proxy_start(const char *spec, gulong delay)
{
	struct proxy *px = g_new0(struct proxy, 1);
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	const char *colon = strrchr(spec, ':');
	pthread_t t;

	if (colon == NULL || !g_str_has_prefix(spec, "127.0.0.1:"))
		return NULL;		/* IPv4 loopback only */
	px->delay = delay;
	px->server.sin_family = AF_INET;
	px->server.sin_port = htons((uint16_t)atoi(colon + 1));
	px->server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((px->listener = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    bind(px->listener, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(px->listener, 64) != 0 ||
	    getsockname(px->listener, (struct sockaddr *)&a, &len) != 0 ||
	    pthread_create(&t, NULL, proxy_run, px) != 0)
		return NULL;
	pthread_detach(t);
	return g_strdup_printf("127.0.0.1:%u", ntohs(a.sin_port));
}

static void
bench_redis_16(const struct store_options *o, struct store *st)
{
	const char *rtt = g_getenv("BENCH_RTT_US");
	gulong delay = rtt != NULL ? (gulong)atol(rtt) : 500;
	g_autofree char *via = NULL;
	g_autofree char *label = NULL;
	struct store_options p = *o;

	bench_alive(st, 2000);
	bench_scripts(o, 2000);
	bench_pool(o, "", 16);
	if ((via = proxy_start(o->redis, delay)) == NULL) {
		printf("%s: no delaying proxy (needs a 127.0.0.1 server)\n", B);
		return;
	}
	p.redis = via;
	label = g_strdup_printf(" (replies delayed %lu us)", delay);
	bench_pool(&p, label, 16);
}

static int
run_redis(const char *spec)
{
	const char *tmo = g_getenv("BENCH_REDIS_TIMEOUT");
	struct store_options o = { .backend = STORE_BACKEND_REDIS,
	    .ttl = 30 * 86400000LL, .redis = spec, .redis_password = "",
	    .redis_db = 0, .redis_timeout = tmo != NULL ? atoi(tmo) : 1000,
	    .redis_prefix = PREFIX };
	g_autoptr(GError) err = NULL;
	redisContext *admin;
	struct store *st;
	long long mem0, mem1, keys0, keys1;

	B = "redis";
	if ((admin = admin_connect(spec)) == NULL)
		return 1;
	delete_prefix(admin);
	keys0 = dbsize(admin);
	mem0 = info_field(admin, "memory", "used_memory");
	if ((st = store_open(&o, &err)) == NULL) {
		fprintf(stderr, "bench_store: %s\n", err->message);
		redisFree(admin);
		return 1;
	}
	printf("%s: store: %s (prefix %s, timeout %" G_GINT64_FORMAT " ms), "
	    "%lld keys before\n", B, store_describe(st), PREFIX,
	    o.redis_timeout, keys0);
	/* The first batches write every network once: measure those. */
	bench_batches(st, 1, 2000);
	bench_batches(st, 100, NETWORKS);
	keys1 = dbsize(admin);
	mem1 = info_field(admin, "memory", "used_memory");
	printf("%s: size: used_memory %lld -> %lld bytes, %lld keys added, "
	    "%.0f bytes per network (tar-pit fields and a 28-byte HELO)\n",
	    B, mem0, mem1, keys1 - keys0,
	    keys1 > keys0 ? (double)(mem1 - mem0) / (double)(keys1 - keys0) :
	    0.0);
	bench_batches(st, 1000, NETWORKS);
	bench_queue(st, 200000);
	bench_reads(st, 100000, 10000);
	bench_concurrent(st, &o, 1, 2.0);
	bench_concurrent(st, &o, 4, 2.0);
	bench_concurrent(st, &o, 16, 2.0);
	mem1 = info_field(admin, "memory", "used_memory");
	printf("%s: size: used_memory %lld bytes after the primary contacts "
	    "too (%.0f bytes per network)\n", B, mem1,
	    (double)(mem1 - mem0) / (double)NETWORKS);
	bench_redis_16(&o, st);
	store_free(st);
	printf("%s: deleted %zu bench keys\n", B, delete_prefix(admin));
	redisFree(admin);
	return 0;
}
#endif

int
main(int argc, char **argv)
{
	const char *dir = NULL, *redis = g_getenv("BENCH_REDIS");
	int rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--redis") == 0 && i + 1 < argc)
			redis = argv[++i];
		else if (argv[i][0] != '-' && dir == NULL)
			dir = argv[i];
		else {
			fprintf(stderr, "usage: bench_store [DIR] "
			    "[--redis HOST:PORT]\n");
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	rc = run_lmdb(dir);
	if (rc == 0 && redis != NULL && redis[0] != '\0') {
#ifdef WITH_REDIS
		rc = run_redis(redis);
#else
		fprintf(stderr, "bench_store: built without Redis\n");
		rc = 1;
#endif
	}
	return rc;
}
