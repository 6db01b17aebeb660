/*
 * bench_dnsxl - the milter's DNS-list lookups through verdict/dnsxl.c,
 * as verdict.c makes them (dnsxl_start, dnsxl_wait by a deadline,
 * dnsxl_lookup_free; each lookup the A and the TXT query), against a
 * list server: latency percentiles and lookups per second, uncached and
 * cached, with 1 and 16 threads, all in one run. Prints numbers; not a
 * test.
 *
 * Usage: bench_dnsxl [-d SECONDS] [-w TIMEOUT_MS] [-c CACHED]
 *	    [-t "1 16"] RESOLVER ZONE FILE
 *	RESOLVER	[milter] tarpit_list_resolver (ADDR@PORT)
 *	ZONE		[milter] tarpit_list
 *	FILE		client addresses, one a line (bench_export queries
 *			--addresses): uncached lookups take each once, in
 *			order; the first CACHED (default 64) are looked up
 *			before the clock starts and then asked again and
 *			again (libunbound's cache answers)
 *	-d, -w, -t	seconds a run (5), each lookup's deadline (2000 ms,
 *			tarpit_list_timeout), the thread counts
 *
 * Output: one line per run, "lookups mode=M threads=T lookups=N rate=R
 * p50_us=.. p99_us=.. max_us=.. listed=L not_listed=X timeout=O
 * failed=F overflow=V".
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "dnsxl.h"

#define MAX_THREADS	64

static struct dnsxl *D;
static const char *zone;
static struct addr *addrs;
static size_t naddrs, ncached = 64;
static gint64 timeout_us = 2000000;
static gint next_fresh;		/* the next address never asked */
static gint stop;

struct worker {
	GThread		*thread;
	bool		cached;
	GRand		*rand;
	GArray		*lat;		/* gint64 us */
	unsigned	counts[DNSXL_NRESULTS];
};

static void
lookup_one(struct worker *w, const struct addr *a)
{
	gint64 t0 = g_get_monotonic_time(), us;
	struct dnsxl_lookup *l = dnsxl_start(D, a, zone);
	struct dnsxl_answer ans;

	dnsxl_wait(l, t0 + timeout_us, &ans, &us);
	dnsxl_lookup_free(l);
	us = g_get_monotonic_time() - t0;
	g_array_append_val(w->lat, us);
	w->counts[ans.result]++;
}

static gpointer
work(gpointer data)
{
	struct worker *w = data;

	while (!g_atomic_int_get(&stop)) {
		if (w->cached) {
			lookup_one(w, &addrs[g_rand_int_range(w->rand, 0,
			    (gint32)ncached)]);
		} else {
			size_t i = (size_t)g_atomic_int_add(&next_fresh, 1);

			if (i >= naddrs)
				break;
			lookup_one(w, &addrs[i]);
		}
	}
	return NULL;
}

static gint
cmp_us(gconstpointer a, gconstpointer b)
{
	gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;

	return x < y ? -1 : x > y;
}

static void
run(int threads, bool cached, int seconds)
{
	struct worker w[MAX_THREADS];
	g_autoptr(GArray) all = g_array_new(FALSE, FALSE, sizeof(gint64));
	unsigned counts[DNSXL_NRESULTS] = { 0 };
	gint64 t0 = g_get_monotonic_time(), *v;
	double elapsed;
	guint n;

	memset(w, 0, sizeof(w));
	g_atomic_int_set(&stop, 0);
	for (int i = 0; i < threads; i++) {
		w[i].cached = cached;
		w[i].rand = g_rand_new_with_seed((guint32)i * 7919 + 1);
		w[i].lat = g_array_new(FALSE, FALSE, sizeof(gint64));
		w[i].thread = g_thread_new("lookup", work, &w[i]);
	}
	while (g_get_monotonic_time() - t0 < seconds * G_USEC_PER_SEC &&
	    (cached || (size_t)g_atomic_int_get(&next_fresh) < naddrs))
		g_usleep(10000);
	g_atomic_int_set(&stop, 1);
	for (int i = 0; i < threads; i++) {
		g_thread_join(w[i].thread);
		g_array_append_vals(all, w[i].lat->data, w[i].lat->len);
		for (unsigned r = 0; r < DNSXL_NRESULTS; r++)
			counts[r] += w[i].counts[r];
		g_array_unref(w[i].lat);
		g_rand_free(w[i].rand);
	}
	elapsed = (double)(g_get_monotonic_time() - t0) / 1e6;
	g_array_sort(all, cmp_us);
	n = all->len;
	v = (gint64 *)(void *)all->data;
	printf("lookups mode=%s threads=%d lookups=%u rate=%.0f p50_us=%"
	    G_GINT64_FORMAT " p99_us=%" G_GINT64_FORMAT " max_us=%"
	    G_GINT64_FORMAT, cached ? "cached" : "uncached", threads, n,
	    n / elapsed, n ? v[n / 2] : 0, n ? v[(gsize)n * 99 / 100] : 0,
	    n ? v[n - 1] : 0);
	for (unsigned r = 0; r < DNSXL_NRESULTS; r++)
		printf(" %s=%u", dnsxl_result_name((enum dnsxl_result)r),
		    counts[r]);
	printf("\n");
	fflush(stdout);
}

/* FILE's addresses. */
static void
load(const char *path)
{
	g_autofree char *text = NULL;
	g_autoptr(GError) err = NULL;
	g_auto(GStrv) lines = NULL;
	GArray *a = g_array_new(FALSE, FALSE, sizeof(struct addr));

	if (!g_file_get_contents(path, &text, NULL, &err)) {
		fprintf(stderr, "bench_dnsxl: %s\n", err->message);
		exit(1);
	}
	lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; *l != NULL; l++) {
		struct addr x;

		if (**l == '\0')
			continue;
		if (!addr_parse(*l, &x)) {
			fprintf(stderr, "bench_dnsxl: %s: bad address %s\n",
			    path, *l);
			exit(1);
		}
		g_array_append_val(a, x);
	}
	naddrs = a->len;
	addrs = (struct addr *)(void *)g_array_free(a, FALSE);
}

int
main(int argc, char **argv)
{
	static gint seconds = 5, wait_ms = 2000, cached = 64;
	static char *threads = NULL;
	const GOptionEntry entries[] = {
		{ "seconds", 'd', 0, G_OPTION_ARG_INT, &seconds, "a run", "S" },
		{ "wait", 'w', 0, G_OPTION_ARG_INT, &wait_ms, "deadline", "MS" },
		{ "cached", 'c', 0, G_OPTION_ARG_INT, &cached, "cached set",
		    "N" },
		{ "threads", 't', 0, G_OPTION_ARG_STRING, &threads,
		    "thread counts", "\"1 16\"" },
		{ NULL },
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("RESOLVER ZONE "
	    "FILE");
	g_autoptr(GError) err = NULL;
	g_auto(GStrv) counts = NULL;
	struct worker warm;
	struct conf c;

	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &err) || argc != 4) {
		fprintf(stderr, "bench_dnsxl: %s\n", err != NULL ?
		    err->message : "usage: bench_dnsxl RESOLVER ZONE FILE");
		return 2;
	}
	zone = argv[2];
	ncached = (size_t)MAX(cached, 1);
	timeout_us = (gint64)wait_ms * 1000;
	load(argv[3]);
	if (naddrs <= ncached) {
		fprintf(stderr, "bench_dnsxl: too few addresses\n");
		return 1;
	}
	memset(&c, 0, sizeof(c));
	c.milter.tarpit_list_resolver = argv[1];
	c.milter.tarpit_list = argv[2];
	if (!dnsxl_open(&c, &D, &err)) {
		fprintf(stderr, "bench_dnsxl: %s\n", err->message);
		return 1;
	}
	/* The cached set, asked once: from here on libunbound answers it. */
	memset(&warm, 0, sizeof(warm));
	warm.lat = g_array_new(FALSE, FALSE, sizeof(gint64));
	for (size_t i = 0; i < ncached; i++)
		lookup_one(&warm, &addrs[i]);
	g_array_unref(warm.lat);
	if (warm.counts[DNSXL_LISTED] + warm.counts[DNSXL_NOT_LISTED] !=
	    ncached) {
		fprintf(stderr, "bench_dnsxl: the warm-up lookups failed\n");
		return 1;
	}
	g_atomic_int_set(&next_fresh, (gint)ncached);
	printf("# verdict/dnsxl.c (A and TXT a lookup), resolver %s, zone %s; "
	    "%zu addresses, %zu cached; deadline %d ms\n", argv[1], zone,
	    naddrs, ncached, wait_ms);
	counts = g_strsplit_set(threads != NULL ? threads : "1 16", " ,", -1);
	for (char **t = counts; *t != NULL; t++) {
		int n = atoi(*t);

		if (**t == '\0')
			continue;
		if (n < 1 || n > MAX_THREADS) {
			fprintf(stderr, "bench_dnsxl: threads: 1 to 64\n");
			return 2;
		}
		run(n, false, seconds);
		run(n, true, seconds);
	}
	dnsxl_free(D);
	g_free(addrs);
	g_free(threads);
	return 0;
}
