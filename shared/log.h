/*
 * log.h - logging to syslog or stderr, one line per message or event,
 * and the JSON-lines event log; synchronous, or queued for a writer
 * thread so that a stalled log reader never stalls the caller.
 *
 * Levels are syslog priorities (LOG_ERR .. LOG_DEBUG). Every function is
 * thread-safe and preserves errno, so a caller can log and then still
 * report the errno it was handling; "%m" works in formats.
 */
#ifndef SLOWSPAM_LOG_H
#define SLOWSPAM_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <syslog.h>

#include <glib.h>

/* Longest line written, event or message; longer ones are cut. */
#define LOG_LINE_MAX	1024
/* Default cap on one untrusted value, in input bytes. */
#define LOG_VALUE_MAX	100

enum log_dest {
	LOG_DEST_SYSLOG,
	LOG_DEST_STDERR,	/* "ident[pid]: level: text", for -f */
};

/*
 * Start logging as ident (copied). Messages below level are dropped.
 * log_open and log_close wait for a syslog(3) call in progress (the
 * writer's too): call them at start and at exit, not from a hot path.
 */
void	log_open(const char *ident, enum log_dest dest, int facility);
void	log_set_level(int level);
int	log_get_level(void);
void	log_close(void);

/* Map configuration names to syslog numbers; false if unknown. */
bool	log_level_parse(const char *name, int *level);
bool	log_facility_parse(const char *name, int *facility);
/* "err", "warning", "notice", "info", "debug". */
const char *log_level_name(int level);

/* A free-form message; errno is preserved. */
void	log_msg(int level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/*
 * Escape untrusted bytes in[0..inlen) for a log line: printable ASCII stays,
 * '\\' and '"' get a backslash, anything else becomes \xHH. At most maxin
 * input bytes are used; if more were given, "..." is appended. The output
 * always fits in outsize (NUL-terminated; cut at a whole escape).
 * Returns the output length.
 */
size_t	log_escape(const char *in, size_t inlen, size_t maxin, char *out,
	    size_t outsize);

/*
 * One structured event line: "NAME key=value key=value ...". Values that
 * contain a blank, '=', '"' or are empty are quoted. Build it on the
 * stack, then emit it once; nothing is allocated.
 */
struct log_event {
	char	buf[LOG_LINE_MAX];
	size_t	len;
	bool	truncated;
};

void	log_event_begin(struct log_event *ev, const char *name);
/* A value from the network or any other untrusted source: escaped, cut. */
void	log_event_untrusted(struct log_event *ev, const char *key,
	    const char *val, size_t len, size_t maxlen);
/* Our own text (names, reasons); still escaped, never trusted blindly. */
void	log_event_str(struct log_event *ev, const char *key, const char *val);
void	log_event_int(struct log_event *ev, const char *key, long long val);
void	log_event_fmt(struct log_event *ev, const char *key,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Write the line at level (if enabled); errno is preserved. */
void	log_event_emit(const struct log_event *ev, int level);

/*
 * The writer thread. Without it (the default, and again once it has
 * stopped) every line is written by the caller, synchronously: syslog(3),
 * one write(2) to stderr, one write(2) to the event log. Once
 * log_writer_start() has returned, log_msg(), log_event_emit() and
 * log_eventlog_write() only copy the line into a fixed queue of
 * LOG_QUEUE_SIZE bytes (levels are filtered and the stderr prefix,
 * pid included, is made first, in the caller) and return; one thread
 * writes the lines in the order they were queued, to the same places,
 * one write(2) per line still. A line that finds the queue full is
 * dropped and counted, never waited for. Once the writer can write
 * again it says so at most once a minute, at warning level: "log:
 * dropped N log lines and M event-log lines since TIME (the log reader
 * is slower than the daemon)"; drops not yet told are told when it
 * stops. Log and event-log lines share the queue and the thread, so a
 * stalled log reader holds up the event log too (its lines are then
 * dropped and counted apart). Stderr is descriptor 2 as it is when the
 * line is written: redirect it before starting the writer.
 *
 * Threads do not survive fork(): start the writer in the process that
 * logs, after fork() and daemon(). A child forked while it runs logs
 * synchronously (its parent's queue is not copied); fork() waits for a
 * syslog(3) call in progress so that the child's syslog lock is free.
 * The writer thread blocks every signal but the ones a fault of its own
 * raises (SIGSEGV, SIGBUS, SIGFPE, SIGILL), so signal handling stays the
 * caller's. Stop it before exit: what is still queued at exit is lost.
 */
/* Queue size: a 256 KiB byte ring of length-prefixed lines, no malloc. */
#define LOG_QUEUE_SIZE	(256 * 1024)

/* Start the writer; false (error set) if it runs or cannot be started. */
bool	log_writer_start(GError **error);

/*
 * Let the writer write what is queued for at most timeout_ms (< 0: as
 * long as it takes), then join it. If it is still stuck in a write (a
 * reader that does not read), give up: it is left detached to finish on
 * its own, touching only static memory, nothing freed; lines logged
 * meanwhile are still queued (or dropped), never waited for, and
 * log_writer_start() fails until it is done; after that logging is
 * synchronous again. Meant for exit. No-op if no writer runs.
 */
void	log_writer_stop(int timeout_ms);

/* Counters since the process started; every field only grows. */
struct log_stats {
	uint64_t	written;	/* lines written, the writer's too */
	uint64_t	dropped_log;	/* log lines: the queue was full */
	uint64_t	dropped_event;	/* event-log lines: queue full */
	uint64_t	failed;		/* lost to a write error, or refused
					   as too long or broken */
};

void	log_get_stats(struct log_stats *out);

/*
 * The event log: one file per process, JSON or any other lines, opened
 * O_WRONLY|O_APPEND|O_CREAT|O_CLOEXEC, mode 0640; each line is one
 * write(2). Line order and the queue are shared with log lines: what is
 * queued before a reopen or close goes to the file open before it.
 */
/* Longest event-log line, its newline included; longer ones are refused. */
#define LOG_EVENTLOG_LINE_MAX	4096

/* Open path now, in the caller; false (error names the path) if not. */
bool	log_eventlog_open(const char *path, GError **error);

/*
 * Write one line of len bytes; a newline is added if it has none. An
 * empty line is ignored; one with a newline inside, or longer than
 * LOG_EVENTLOG_LINE_MAX, is refused (failed). Nothing without an open
 * event log.
 */
void	log_eventlog_write(const char *line, size_t len);

/*
 * Close the event log and open path (log rotation: rename, then reopen;
 * or a new path). Done in order with the lines by the writer, if it
 * runs. If path cannot be opened the error is logged with the path (at
 * most once a minute) and lines still go to the file open before, if
 * any. A NULL or empty path is ignored.
 */
void	log_eventlog_reopen(const char *path);

/* Close the event log, after the lines queued before; later ones are lost. */
void	log_eventlog_close(void);

#endif /* SLOWSPAM_LOG_H */
