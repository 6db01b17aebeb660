/*
 * metrics.h - a tiny HTTP/1.0 responder for Prometheus scrapes (text
 * format 0.0.4), and helpers to write the samples.
 */
#ifndef SLOWSPAM_METRICS_H
#define SLOWSPAM_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "conf.h"

/* Write the whole exposition into out (called once per scrape). */
typedef void (*metrics_render_fn)(GString *out, void *data);

/*
 * A non-blocking, close-on-exec listening socket on l (SO_REUSEADDR),
 * or -1 with error set.
 */
int	metrics_listen(const struct conf_listen *l, GError **error);

/*
 * The scrape server: every connection is a small state (reading the
 * request, writing the answer) with a deadline, driven without ever
 * waiting, so a single-threaded event loop can host it. The caller
 * watches metrics_server_fd() for input (an epoll descriptor: poll or
 * epoll it), calls metrics_server_run() when it is readable or when
 * metrics_server_deadline() has come, and nothing else.
 *
 * "GET /metrics" gets 200 and what fn renders, any other request 404.
 * A connection has METRICS_DEADLINE_MS to send its request and as long
 * again to take the answer, then it is closed. At most METRICS_CONNS_MAX
 * are open; a new one then takes the place of the one nearest its
 * deadline (silent squatters go first; a scrape is answered at once).
 * Out of descriptors (EMFILE, ENFILE), accepting pauses for
 * METRICS_ACCEPT_PAUSE_MS instead of spinning.
 */
#define METRICS_DEADLINE_MS	1000
#define METRICS_CONNS_MAX	16
#define METRICS_ACCEPT_PAUSE_MS	1000
#define METRICS_REQUEST_MAX	4096

struct metrics_server;

/* What the server did, for tests and for the daemons' own counters. */
struct metrics_stats {
	uint64_t	accepted;
	uint64_t	scrapes;	/* 200 answers */
	uint64_t	timed_out;	/* closed at their deadline */
	uint64_t	evicted;	/* closed to make room */
	uint64_t	accept_pauses;	/* EMFILE and the like */
	unsigned	open;		/* connections now */
};

/* A server on listen_fd (not taken over: the caller closes it). */
struct metrics_server *metrics_server_new(int listen_fd, metrics_render_fn fn,
	    void *data, GError **error);
/* Readable when there is work for metrics_server_run(). */
int	metrics_server_fd(const struct metrics_server *m);
/* Do what is ready and what is due; never waits. */
void	metrics_server_run(struct metrics_server *m);
/* Monotonic ms (g_get_monotonic_time() / 1000) of the next deadline. */
int64_t	metrics_server_deadline(const struct metrics_server *m);
void	metrics_server_get_stats(const struct metrics_server *m,
	    struct metrics_stats *out);
/* Close every connection; NULL is a no-op. */
void	metrics_server_free(struct metrics_server *m);

/*
 * Does the request head (NUL-terminated) ask for the metrics: "GET
 * /metrics" then a blank, '?' or the end of the line? Exposed for
 * fuzz/fuzz_metrics.c; reads no further than the NUL.
 */
bool	metrics_request_wants(const char *head);

/*
 * One sample of a counter or a gauge. help != NULL also writes the
 * "# HELP" and "# TYPE" lines first: give it with the first sample of a
 * family, NULL with the others. labels is NULL or what goes between the
 * braces (reason="limit"); never anything unbounded, like an address.
 */
void	metrics_counter(GString *out, const char *name, const char *help,
	    const char *labels, uint64_t value);
void	metrics_counter_f(GString *out, const char *name, const char *help,
	    const char *labels, double value);
void	metrics_gauge(GString *out, const char *name, const char *help,
	    const char *labels, double value);
/*
 * A histogram: counts[i] observations fell at or below bounds[i] and
 * above bounds[i - 1] (not cumulative), counts[n] above bounds[n - 1];
 * sum is of all observations.
 */
void	metrics_histogram(GString *out, const char *name, const char *help,
	    const double *bounds, const uint64_t *counts, size_t n,
	    double sum);

/*
 * slowspam_log_lines_dropped_total{dest="log"|"event_log"} and
 * slowspam_log_lines_failed_total, from log_get_stats().
 */
void	metrics_log_stats(GString *out);

#endif /* SLOWSPAM_METRICS_H */
