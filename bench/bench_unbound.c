/*
 * bench_unbound - the baseline of bench_dnsxl: DNS-list lookups with
 * libunbound DIRECTLY, not through verdict/dnsxl.c, one query (A or
 * TXT) a lookup: one context shared by
 * every thread, ub_ctx_async(ctx, 1) before the first lookup, each
 * lookup ub_resolve_async then ub_process on ub_fd until its callback
 * ran, bounded by a timeout. Latency percentiles and lookups per second,
 * uncached and cached, with 1 and 16 threads, all in one run. Prints
 * numbers; not a test.
 *
 * Usage: bench_unbound [-d SECONDS] [-w TIMEOUT_MS] [-c CACHED]
 *	    [-t "1 16"] RESOLVER FILE
 *	RESOLVER	ADDR@PORT of the list's server (rbldnsd), forwarded
 *			to for every name (do-not-query-localhost off)
 *	FILE		"NAME TYPE" lines (bench_export queries): A or TXT
 *	-d		seconds of each timed run (default 5)
 *	-w		each lookup's timeout in ms (default 2000, the
 *			milter's tarpit_list_timeout)
 *	-c		names in the cached set (default 64): looked up once
 *			before the clock starts, then asked again and again
 *			(libunbound's own cache answers)
 *	-t		the thread counts (default "1 16")
 *
 * Uncached: every lookup takes the next name of FILE never asked before
 * in this process, so each goes to the server (bench_export queries
 * writes each listed name once; its unlisted ones are drawn from 2^30
 * addresses or more, so repeats are rare). For each thread count the uncached run comes first, then the
 * cached one against the same context.
 *
 * Output: one line per run, "lookups mode=M threads=T lookups=N
 * rate=R p50_us=.. p99_us=.. max_us=.. listed=L nxdomain=X errors=E
 * timeouts=O".
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <unbound.h>

#define TYPE_A		1
#define TYPE_TXT	16
#define CLASS_IN	1
#define MAX_THREADS	64

struct name {
	char	*qname;
	int	type;
};

/* One lookup in flight: its callback fills it in. */
struct lookup {
	bool	done;
	int	err;
	bool	listed;		/* an answer with data */
	bool	nxdomain;
};

static struct ub_ctx *ctx;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static bool processing;		/* a thread is in poll/ub_process */

static struct name *names;
static size_t nnames;
static atomic_size_t next_fresh;	/* the next never-asked name */
static size_t ncached = 64;
static int timeout_ms = 2000;

static atomic_bool stop;

struct worker {
	pthread_t	tid;
	bool		cached;
	unsigned	seed;
	long		*lat;		/* us */
	size_t		n, cap;
	size_t		listed, nxdomain, errors, timeouts;
};

static void
die(const char *what)
{
	fprintf(stderr, "bench_unbound: %s\n", what);
	exit(1);
}

static long
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

static void
on_result(void *data, int err, struct ub_result *r)
{
	struct lookup *l = data;

	pthread_mutex_lock(&lock);
	l->err = err;
	if (err == 0 && r != NULL) {
		l->listed = r->havedata;
		l->nxdomain = r->nxdomain;
	}
	l->done = true;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	if (r != NULL)
		ub_resolve_free(r);
}

/*
 * Wait for l until deadline (us): one thread at a time polls ub_fd and
 * runs ub_process (whose callbacks may complete other threads' lookups:
 * they are woken by the condition variable); the others wait on it.
 * Returns false on timeout. Called and returns with lock held.
 */
static bool
wait_lookup(struct lookup *l, long deadline)
{
	while (!l->done) {
		long left = deadline - now_us();

		if (left <= 0)
			return false;
		if (!processing) {
			struct pollfd p = { ub_fd(ctx), POLLIN, 0 };

			processing = true;
			pthread_mutex_unlock(&lock);
			if (poll(&p, 1, (int)((left + 999) / 1000)) > 0)
				ub_process(ctx);
			pthread_mutex_lock(&lock);
			processing = false;
			pthread_cond_broadcast(&cond);
		} else {
			struct timespec ts;
			long until;

			clock_gettime(CLOCK_REALTIME, &ts);
			until = ts.tv_nsec / 1000 + left;
			ts.tv_sec += until / 1000000;
			ts.tv_nsec = (until % 1000000) * 1000;
			pthread_cond_timedwait(&cond, &lock, &ts);
		}
	}
	return true;
}

/* One lookup of nm; its latency into w. */
static void
lookup_one(struct worker *w, const struct name *nm)
{
	struct lookup *l = calloc(1, sizeof(*l));
	long t0 = now_us();
	int id, err;
	bool ok;

	if (l == NULL)
		die("out of memory");
	err = ub_resolve_async(ctx, nm->qname, nm->type, CLASS_IN, l,
	    on_result, &id);
	if (err != 0) {
		w->errors++;
		free(l);
		return;
	}
	pthread_mutex_lock(&lock);
	ok = wait_lookup(l, t0 + timeout_ms * 1000L);
	if (!ok && ub_cancel(ctx, id) == 0) {
		/* Cancelled: its callback never runs, l is ours again. */
		pthread_mutex_unlock(&lock);
		w->timeouts++;
		free(l);
		return;
	}
	if (!ok) {
		/* Too late to cancel: its callback is running, wait for it. */
		ok = wait_lookup(l, now_us() + 1000000L);
	}
	pthread_mutex_unlock(&lock);
	if (!ok) {
		w->timeouts++;
		return;		/* still the callback's: leaked */
	}
	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 4096;
		if ((w->lat = realloc(w->lat, w->cap * sizeof(long))) == NULL)
			die("out of memory");
	}
	w->lat[w->n++] = now_us() - t0;
	if (l->err != 0)
		w->errors++;
	else if (l->listed)
		w->listed++;
	else if (l->nxdomain)
		w->nxdomain++;
	free(l);
}

static void *
work(void *arg)
{
	struct worker *w = arg;

	while (!atomic_load(&stop)) {
		if (w->cached) {
			lookup_one(w, &names[rand_r(&w->seed) % ncached]);
		} else {
			size_t i = atomic_fetch_add(&next_fresh, 1);

			if (i >= nnames)
				break;
			lookup_one(w, &names[i]);
		}
	}
	return NULL;
}

static int
cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return x < y ? -1 : x > y;
}

static void
run(int threads, bool cached, int seconds)
{
	struct worker w[MAX_THREADS];
	size_t total = 0, listed = 0, nx = 0, errors = 0, timeouts = 0, k = 0;
	long *all, t0, elapsed;

	memset(w, 0, sizeof(w));
	atomic_store(&stop, false);
	t0 = now_us();
	for (int i = 0; i < threads; i++) {
		w[i].cached = cached;
		w[i].seed = (unsigned)(i * 7919 + 1);
		if (pthread_create(&w[i].tid, NULL, work, &w[i]) != 0)
			die("pthread_create");
	}
	while (now_us() - t0 < seconds * 1000000L &&
	    (cached || atomic_load(&next_fresh) < nnames))
		nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
	atomic_store(&stop, true);
	for (int i = 0; i < threads; i++)
		pthread_join(w[i].tid, NULL);
	elapsed = now_us() - t0;
	for (int i = 0; i < threads; i++) {
		total += w[i].n;
		listed += w[i].listed;
		nx += w[i].nxdomain;
		errors += w[i].errors;
		timeouts += w[i].timeouts;
	}
	if ((all = malloc((total + 1) * sizeof(long))) == NULL)
		die("out of memory");
	for (int i = 0; i < threads; i++) {
		memcpy(all + k, w[i].lat, w[i].n * sizeof(long));
		k += w[i].n;
		free(w[i].lat);
	}
	qsort(all, total, sizeof(long), cmp_long);
	printf("lookups mode=%s threads=%d lookups=%zu rate=%.0f p50_us=%ld "
	    "p99_us=%ld max_us=%ld listed=%zu nxdomain=%zu errors=%zu "
	    "timeouts=%zu\n", cached ? "cached" : "uncached", threads, total,
	    total / (elapsed / 1e6), total ? all[total / 2] : 0,
	    total ? all[total * 99 / 100] : 0, total ? all[total - 1] : 0,
	    listed, nx, errors, timeouts);
	fflush(stdout);
	free(all);
}

/* FILE's "NAME TYPE" lines. */
static void
load(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[512], qname[300], type[8];
	size_t cap = 0;

	if (f == NULL) {
		perror(path);
		exit(1);
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%299s %7s", qname, type) != 2)
			continue;
		if (nnames == cap) {
			cap = cap ? cap * 2 : 65536;
			if ((names = realloc(names, cap * sizeof(*names))) ==
			    NULL)
				die("out of memory");
		}
		names[nnames].qname = strdup(qname);
		names[nnames].type = strcmp(type, "TXT") == 0 ? TYPE_TXT :
		    TYPE_A;
		nnames++;
	}
	fclose(f);
}

int
main(int argc, char **argv)
{
	const char *threads = "1 16";
	char *list, *tok, *save;
	int seconds = 5, c, err;
	struct worker warm;

	while ((c = getopt(argc, argv, "d:w:c:t:")) != -1) {
		switch (c) {
		case 'd': seconds = atoi(optarg); break;
		case 'w': timeout_ms = atoi(optarg); break;
		case 'c': ncached = (size_t)atoi(optarg); break;
		case 't': threads = optarg; break;
		default: die("usage: bench_unbound [-d S] [-w MS] [-c N] "
		    "[-t \"1 16\"] RESOLVER FILE");
		}
	}
	if (argc - optind != 2)
		die("usage: bench_unbound [-d S] [-w MS] [-c N] [-t \"1 16\"] "
		    "RESOLVER FILE");
	load(argv[optind + 1]);
	if (nnames <= ncached || ncached == 0)
		die("too few names");
	if ((ctx = ub_ctx_create()) == NULL)
		die("ub_ctx_create failed");
	if ((err = ub_ctx_set_option(ctx, "do-not-query-localhost:", "no")) !=
	    0 || (err = ub_ctx_set_fwd(ctx, argv[optind])) != 0 ||
	    (err = ub_ctx_async(ctx, 1)) != 0)
		die(ub_strerror(err));
	/* The cached set, asked once: from here on libunbound answers it. */
	memset(&warm, 0, sizeof(warm));
	for (size_t i = 0; i < ncached; i++)
		lookup_one(&warm, &names[i]);
	if (warm.errors + warm.timeouts > 0)
		die("the warm-up lookups failed: is the server up?");
	free(warm.lat);
	atomic_store(&next_fresh, ncached);
	printf("# libunbound %s directly (not verdict/dnsxl), forwarding to %s;"
	    " %zu names, %zu cached; timeout %d ms\n", ub_version(),
	    argv[optind], nnames, ncached, timeout_ms);
	list = strdup(threads);
	for (tok = strtok_r(list, " ,", &save); tok != NULL;
	    tok = strtok_r(NULL, " ,", &save)) {
		int t = atoi(tok);

		if (t < 1 || t > MAX_THREADS)
			die("threads: 1 to 64");
		run(t, false, seconds);
		run(t, true, seconds);
	}
	free(list);
	ub_ctx_delete(ctx);
	return 0;
}
