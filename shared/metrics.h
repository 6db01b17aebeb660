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
#include "log.h"

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
 * A table of counters: a daemon describes each of its counters once, in
 * an array of rows, and renders the same array twice, as Prometheus
 * samples for a scrape and as the fields of its "totals" log line
 * (SIGUSR1, exit), so the two cannot drift apart.
 *
 * Every value is a uint64_t in a snapshot the daemon fills just before
 * rendering (copied under its lock, if it has one): a row names it by
 * its offsetof() in the snapshot. A row with a label is a family of
 * samples, one per label value i, first <= i < first + count; value i
 * is the uint64_t at offset + i * sizeof(uint64_t), so an array indexed
 * by an enum takes offsetof(the array) and the enum's range. Label
 * values are value_name(i) if given, else values[i - first]; the first
 * NULL ends them early (count is then a bound, the array's size).
 * Label values and keys are the daemon's own words ([a-z0-9_]): no
 * escaping is done, and none may come from the network.
 *
 * Prometheus: name, help once per family (HELP and TYPE lines with its
 * first sample), kind; the sample is the integer, or value / divisor
 * if divisor is not 0 (held_ms as seconds: 1000).
 *
 * Totals: key=N, or with a label key VALUE key_suffix=N for each label
 * value (key "end_", value "limit": end_limit=N; key "", key_suffix
 * "_dropped": log_dropped=N); if totals_divisor is not 0, value /
 * totals_divisor with two decimals. A row with name NULL is in the totals
 * only (a sum the line has always had); one with key NULL is left out
 * of the totals line.
 */
enum metrics_kind {
	METRICS_COUNTER,
	METRICS_GAUGE,
};

struct metrics_row {
	const char	*name;		/* family; NULL: totals only */
	const char	*help;
	enum metrics_kind kind;
	const char	*key;		/* totals key, or its start */
	const char	*key_suffix;	/* after a label value, or NULL */
	size_t		 offset;	/* of the uint64_t in the snapshot */
	double		 divisor;	/* 0, or sample = value / it */
	double		 totals_divisor; /* 0, or "%.2f" of value / it */
	const char	*label;		/* label name; NULL: none */
	const char	*(*value_name)(unsigned i);
	const char *const *values;	/* if value_name is NULL */
	unsigned	 first, count;	/* label values first.. */
};

/* Longest totals key made from key, a label value and key_suffix. */
#define METRICS_KEY_MAX	64

/* The table as Prometheus samples, appended to out. */
void	metrics_table_render(GString *out, const struct metrics_row *rows,
	    size_t nrows, const void *snapshot);
/* The table as fields of ev (log_event_int, log_event_fmt). */
void	metrics_table_totals(struct log_event *ev,
	    const struct metrics_row *rows, size_t nrows,
	    const void *snapshot);

/*
 * The log queue's counters, from log_get_stats(), for every daemon:
 * slowspam_log_lines_dropped_total{dest="log"|"event_log"} and
 * slowspam_log_lines_failed_total; in the totals line log_dropped,
 * event_log_dropped and log_failed.
 */
void	metrics_log_stats(GString *out);
void	metrics_log_totals(struct log_event *ev);

#endif /* SLOWSPAM_METRICS_H */
