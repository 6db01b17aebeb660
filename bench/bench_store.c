/*
 * bench_store - what the LMDB hit store costs: events per second by
 * transaction size, the write queue's push cost, lookups and primary
 * contacts, and bytes on disk per network. Prints numbers; not a test.
 *
 * Usage: bench_store [DIR]   (default: a fresh directory under $TMPDIR)
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "helo.h"
#include "store.h"
#include "storeq.h"

#define NETWORKS	100000

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

/* Events per second when each transaction carries batch events. */
static void
bench_batches(struct store *st, size_t batch, size_t total)
{
	g_autofree struct store_item *items = g_new(struct store_item, batch);
	gint64 t0 = g_get_monotonic_time();
	double s;

	for (size_t done = 0; done < total; done += batch) {
		for (size_t i = 0; i < batch; i++)
			items[i] = event(done + i);
		if (!store_tarpit_apply(st, items, batch, NULL)) {
			fprintf(stderr, "bench_store: write failed\n");
			exit(1);
		}
	}
	s = seconds_since(t0);
	printf("tarpit events, %5zu per transaction: %9.0f events/s "
	    "(%.1f us per transaction)\n", batch, (double)total / s,
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
	printf("queue: %zu pushes, %.3f us per push, %zu dropped; drained at "
	    "%.0f events/s in %" G_GUINT64_FORMAT " transactions\n", total,
	    (double)push_us / (double)total, dropped,
	    (double)stats.written / s, stats.batches);
	storeq_free(q);
}

static void
bench_reads(struct store *st, size_t total)
{
	gint64 t0 = g_get_monotonic_time();
	struct hit_record r;
	bool found;
	size_t hits = 0;

	for (size_t i = 0; i < total; i++) {
		char key[STORE_KEY_MAX + 1];

		key_of((i * 7919) % NETWORKS, key);
		store_lookup(st, key, &r, &found, NULL);
		hits += found;
	}
	printf("lookups: %.2f us each (%zu of %zu found)\n",
	    seconds_since(t0) * 1e6 / (double)total, hits, total);

	t0 = g_get_monotonic_time();
	for (size_t i = 0; i < total / 10; i++) {
		char key[STORE_KEY_MAX + 1];

		key_of((i * 7919) % NETWORKS, key);
		store_primary_contact(st, key, store_now(), &r, NULL);
	}
	printf("primary contacts (read-modify-write, one sync each): "
	    "%.1f us each\n", seconds_since(t0) * 1e6 / (double)(total / 10));
}

int
main(int argc, char **argv)
{
	g_autofree char *dir = argc > 1 ? g_strdup(argv[1]) :
	    g_dir_make_tmp("slowspam-bench-XXXXXX", NULL);
	g_autofree char *path = g_build_filename(dir, "hits.lmdb", NULL);
	struct store_options o = { STORE_BACKEND_LMDB, path, 1u << 30,
	    30 * 86400000LL, false };
	g_autoptr(GError) err = NULL;
	struct store *st = store_open(&o, &err);
	struct stat sb;

	if (st == NULL) {
		fprintf(stderr, "bench_store: %s\n", err->message);
		return 1;
	}
	printf("store: %s\n", path);
	bench_batches(st, 1, 2000);
	bench_batches(st, 100, NETWORKS);
	bench_batches(st, 1000, NETWORKS);
	bench_queue(st, 200000);
	bench_reads(st, 100000);
	if (stat(path, &sb) == 0)
		printf("file: %.1f MiB for %d networks, %.0f bytes each\n",
		    (double)sb.st_size / (1 << 20), NETWORKS,
		    (double)sb.st_size / NETWORKS);
	store_free(st);
	if (argc <= 1) {
		g_autofree char *lock = g_strconcat(path, "-lock", NULL);

		g_unlink(path);
		g_unlink(lock);
		g_rmdir(dir);
	}
	return 0;
}
