/*
 * loop.h - slowspam-policyd's server: one event loop thread owns every
 * socket, a fixed pool of worker threads judges the requests.
 *
 * The loop (epoll, level-triggered, nothing that blocks) accepts
 * connections, reads and parses requests (proto.h), writes answers,
 * closes the idle connections (idle_timeout) and, at max_connections,
 * the longest idle one to make room; it also serves the metrics scrapes
 * and takes the signals (signalfd). A whole request goes to the workers
 * (GThreadPool, exclusive threads made at start); the connection is not
 * read meanwhile (Postfix waits for each answer anyway), and its answer
 * comes back through a queue and an eventfd. A client that sends a
 * request and shuts down its side gets its answer, then the close.
 * Malformed input closes the connection with one (rate-limited) line.
 *
 *	SIGHUP		reload the configuration (a bad file keeps the old)
 *	SIGUSR1		log the totals
 *	SIGTERM, SIGINT	stop: the answers being judged are given, then
 *			everything is closed; those not given by
 *			LOOP_STOP_MS are given up and the process exits
 *			at once (loop_run does not return)
 */
#ifndef SLOWSPAM_POLICY_LOOP_H
#define SLOWSPAM_POLICY_LOOP_H

#include <glib.h>

#include "verdict.h"

/* How long a stop waits for the answers in flight, at most. */
#define LOOP_STOP_MS	10000
/* Out of descriptors, accepting pauses this long instead of spinning. */
#define LOOP_ACCEPT_PAUSE_MS	1000
/* Bytes read at once from a connection (more than one request). */
#define LOOP_READ_MAX	4096

struct loop_params {
	const char	*path;		/* reloaded on SIGHUP */
	const char *const *overrides;
	struct verdict_setup *setup;	/* the reference is taken over */
	struct verdict_engine *engine;
	struct dnsxl	*dnsxl;		/* the engine's; NULL: no DNS list */
	int		listen_fd;	/* taken over */
	int		metrics_fd;	/* -1: none; taken over */
};

/*
 * Serve until SIGTERM or SIGINT; the signals it takes must be blocked
 * in every thread before (loop_block_signals). False with error set if
 * it cannot start.
 */
bool	loop_run(struct loop_params *p, GError **error);

/* Block SIGHUP, SIGUSR1, SIGTERM, SIGINT; ignore SIGPIPE. */
void	loop_block_signals(void);

#endif /* SLOWSPAM_POLICY_LOOP_H */
