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
 * Accept one connection on listen_fd, if one is waiting, and answer it:
 * "GET /metrics" gets 200 and what fn renders, any other request 404.
 * Reading the request and writing the answer have METRICS_BUDGET_MS
 * each at most, so a slow client cannot hold a single-threaded caller
 * for long. Returns false, with errno set by accept4() (EAGAIN: none
 * was waiting; EMFILE: out of descriptors), if none was accepted.
 */
#define METRICS_BUDGET_MS	200
#define METRICS_REQUEST_MAX	4096
bool	metrics_serve_one(int listen_fd, metrics_render_fn fn, void *data);

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

#endif /* SLOWSPAM_METRICS_H */
