/*
 * stats.h - the operator's figures, from the event log or the store.
 */
#ifndef SLOWSPAM_STATS_H
#define SLOWSPAM_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <glib.h>

#include "helo.h"
#include "store.h"

#define STATS_TOP	10
#define STATS_HOLD_BINS	7	/* <10s <1m <5m <10m <30m <1h >=1h */

struct stats_day {
	char		date[11];	/* YYYY-MM-DD, UTC */
	uint64_t	sessions;
	uint64_t	held_ms;
};

struct stats_net {
	char		net[STORE_KEY_MAX + 1];
	uint64_t	sessions;
	uint64_t	held_ms;
};

struct stats {
	int64_t		since, until;	/* the range asked for, ms; 0: open */
	unsigned	v4prefix, v6prefix; /* network keys of top networks */
	int64_t		first, last;	/* first and last session in range */
	uint64_t	sessions;	/* "Emails blocked" */
	uint64_t	held_ms;	/* "Hours in Tar Pit" */
	uint64_t	hosts;		/* "Unique SMTP Hosts" */
	GArray		*days;		/* struct stats_day, by date */
	GArray		*top;		/* struct stats_net, most first */
	uint64_t	helo_classes[HELO_CLASS_COUNT + 1]; /* last: none */
	uint64_t	evidence[8];
	uint64_t	hold[STATS_HOLD_BINS];
	uint64_t	by_hour[24];	/* sessions by hour of day, UTC */
	uint64_t	later_at_primary; /* networks: tar pit, then primary */
	uint64_t	bad_lines;	/* event-log lines not understood */
	GString		*source;	/* where the numbers come from */
};

void	stats_init(struct stats *st, int64_t since, int64_t until);
void	stats_clear(struct stats *st);

/* Add the sessions of an event log (plain or .gz); false if unreadable. */
bool	stats_add_log(struct stats *st, const char *path, GError **error);
/*
 * Add one event-log line, line[0..len) without its newline (no NUL
 * needed, none allowed); false, and counted in bad_lines, if it is not
 * one of ours. An empty line counts for nothing.
 */
bool	stats_add_line(struct stats *st, const char *line, size_t len);
/* The event log at path and its rotated siblings (path.1, path.2.gz ...). */
GPtrArray *stats_log_files(const char *path);
/* Fill from the store instead (no per-session detail; no time range). */
bool	stats_add_store(struct stats *st, struct store *store, GError **error);
/* Count the networks the primary saw after the tar pit (from the store). */
bool	stats_add_primary(struct stats *st, struct store *store,
	    GError **error);
void	stats_finish(struct stats *st);

void	stats_print(const struct stats *st, FILE *out);
/* The hold-time bins' names ("< 10 s" ...). */
const char *stats_hold_name(int bin);
void	stats_print_json(const struct stats *st, FILE *out);

/* "2026-11-27", "2026-11-27T04:00:00Z", or "7d" ago; false if neither. */
bool	stats_parse_time(const char *text, int64_t now, int64_t *ms);

#endif /* SLOWSPAM_STATS_H */
