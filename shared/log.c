#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

/*
 * log.c - logging to syslog or stderr, one line per message or event,
 * and the event log, written by the caller or by one writer thread.
 *
 * Log lines carry untrusted text (HELO strings, addresses of spambots),
 * so nothing formatted here can ever become two lines: control bytes are
 * escaped, lines are cut at LOG_LINE_MAX, and on stderr each line goes
 * out in one write(2) so concurrent threads and processes never mix
 * inside a line. Every public function saves errno on entry and
 * restores it on exit. Not async-signal-safe: do not log from a signal
 * handler.
 *
 * Until log_writer_start() the caller writes each line itself, as it
 * always did. From then on a line is checked against the level, made
 * whole (the stderr prefix with the caller's pid included) and copied
 * into a byte ring of LOG_QUEUE_SIZE: records of a struct rec header
 * and the bytes to write. One writer thread takes them out in order and
 * writes them with the ring unlocked; a line that does not fit is
 * dropped and counted, the caller never waits for I/O or for room.
 * Event-log opens, reopens and closes are records too, so they happen
 * in order with the lines; LOG_RESERVE bytes of the ring are kept for
 * them, so they always fit.
 *
 * Locks, always taken in this order, none held across a blocking call
 * except as noted: evlog_mtx (the event log's descriptor while no
 * writer runs; held across that write(2)), syslog_mtx (around every
 * syslog(3) call, and openlog and closelog, as syslog keeps the ident
 * pointer), log_mtx (ident, destination), q_mtx (the ring, the
 * writer's state, the drop counters). The writer owns the event log's
 * descriptor and path from its start until it ends; callers then only
 * queue. Once a writer has been started, pthread_atfork handlers take
 * all four, so that a child never inherits one locked, and put the
 * child back to synchronous logging.
 *
 *	log_open		choose ident, destination and facility
 *	log_set_level		drop messages below a level
 *	log_get_level		the current level
 *	log_close		closelog(3); later lines go to stderr
 *	log_level_parse		"info" to LOG_INFO
 *	log_facility_parse	"mail" to LOG_MAIL
 *	log_level_name		LOG_INFO to "info"
 *	log_msg			printf-style free-form message
 *	log_escape		untrusted bytes to printable ASCII
 *	log_event_begin		start "NAME key=value ..."
 *	log_event_untrusted	add an untrusted value, escaped and capped
 *	log_event_str		add our own text, escaped
 *	log_event_int		add a decimal number
 *	log_event_fmt		add printf-style text, escaped
 *	log_event_emit		write the event line
 *	log_writer_start	start the writer thread
 *	log_writer_stop		drain the queue (bounded), stop the writer
 *	log_get_stats		written, dropped and failed lines
 *	log_eventlog_open	open the event log, in the caller
 *	log_eventlog_write	one event-log line
 *	log_eventlog_reopen	reopen it (log rotation), in order
 *	log_eventlog_close	close it, in order
 *
 * Diagnostics: logging never fails loudly; a line that cannot be
 * written is lost and counted (log_get_stats). Cut lines end in "...";
 * an event that lost fields ends in " truncated=1". The writer reports
 * dropped lines at most once a minute ("log: dropped N log lines and M
 * event-log lines since TIME (the log reader is slower than the
 * daemon)") and an event log it cannot write or reopen ("event_log
 * PATH: ERROR"), also at most once a minute. A key that is not
 * [a-z0-9_]+ or an event name that is not [A-Za-z0-9_.-]+ is a
 * programming error (assert).
 */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* Room for the ident, copied (syslog keeps the pointer). */
#define LOG_IDENT_MAX	64
/* Input cap for our own text in events (log_event_str, log_event_fmt). */
#define LOG_STR_MAX	200
/* Room for "ident[pid]: warning: " in front of a stderr line. */
#define LOG_PREFIX_MAX	(LOG_IDENT_MAX + 48)
/* A whole log record: the stderr prefix, the text, the newline. */
#define LOG_RECORD_MAX	(LOG_PREFIX_MAX + LOG_LINE_MAX)
/* The writer's reports and event-log complaints: once a minute. */
#define LOG_REPORT_MS	(60 * 1000)
/* Event-log opens and reopens queued at once, at most. */
#define LOG_CTL_MAX	4
#define EVLOG_FLAGS	(O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC)
#define EVLOG_MODE	0640

/* What a record in the ring is: a line to write, or an event-log request. */
enum rec_kind {
	REC_SYSLOG = 1,		/* text, for syslog(3) at level */
	REC_STDERR,		/* a whole stderr line, newline included */
	REC_EVENT,		/* a whole event-log line, newline included */
	REC_EVFD,		/* an int descriptor, then a path and NUL */
	REC_REOPEN,		/* a path and NUL */
	REC_CLOSE,		/* nothing */
};

/* The header of a record; its len bytes follow, unaligned. */
struct rec {
	uint32_t	len;
	uint8_t		kind;
	uint8_t		level;
	uint8_t		pad[2];
};

/* Largest record body: a descriptor and a path, or an event-log line. */
#define REC_BODY_MAX	(sizeof(int) + PATH_MAX > LOG_EVENTLOG_LINE_MAX ? \
	sizeof(int) + PATH_MAX : LOG_EVENTLOG_LINE_MAX)
/*
 * Ring bytes lines may not use: LOG_CTL_MAX opens or reopens and one
 * close more than that (a close is only queued for an open event log),
 * so an event-log request always finds room.
 */
#define LOG_RESERVE	(LOG_CTL_MAX * (sizeof(struct rec) + sizeof(int) + \
	PATH_MAX) + (LOG_CTL_MAX + 1) * sizeof(struct rec))

/* The writer's life: IDLE, RUNNING, then STOPPING or ABANDONED, IDLE. */
enum q_state {
	Q_IDLE,			/* no writer: callers write */
	Q_RUNNING,
	Q_STOPPING,		/* log_writer_stop waits for the queue */
	Q_ABANDONED,		/* it gave up waiting; the writer is detached */
};

/* What queue_push did. */
enum push {
	PUSH_IDLE,		/* no writer: write it yourself */
	PUSH_QUEUED,
	PUSH_FULL,		/* dropped (counted, if a line) */
	PUSH_OFF,		/* an event-log line or close with none open */
};

static const char hex[] = "0123456789abcdef";
static const char trunc_mark[] = "...";
static const char trunc_field[] = " truncated=1";

static pthread_mutex_t log_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t syslog_mtx = PTHREAD_MUTEX_INITIALIZER;
static char log_ident[LOG_IDENT_MAX] = "slowspam";
static enum log_dest log_dest = LOG_DEST_STDERR;
static atomic_int log_level = LOG_INFO;
static bool log_syslog_open;

/* The event log: the caller's under evlog_mtx, or the writer's. */
static pthread_mutex_t evlog_mtx = PTHREAD_MUTEX_INITIALIZER;
static int evlog_fd = -1;
static char evlog_path[PATH_MAX];
static atomic_int_fast64_t evlog_complained;	/* monotonic ms; 0: never */

/* The queue and the writer, under q_mtx. */
static pthread_mutex_t q_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_work;		/* a record, or a state change */
static pthread_cond_t q_done;		/* the writer has ended */
static pthread_once_t q_once = PTHREAD_ONCE_INIT;
static enum q_state q_state = Q_IDLE;
static bool q_alive;			/* the thread has not ended */
static bool q_waiting;			/* ... and waits on q_work */
static pthread_t q_thread;
static unsigned char q_ring[LOG_QUEUE_SIZE];
static uint64_t q_head, q_tail;		/* read and write offsets */
static unsigned q_ctl;			/* REC_EVFD and REC_REOPEN queued */
static bool q_evlog_on;			/* an event log is open, or will be */
static uint64_t q_dropped_log, q_dropped_event;
static uint64_t q_told_log, q_told_event;	/* in the last report */
static time_t q_drop_since;		/* first drop not yet told */
static int64_t q_last_report;		/* monotonic ms; 0: never */
/* Only the writer uses this, and only one writer lives at a time. */
static unsigned char q_body[REC_BODY_MAX > LOG_RECORD_MAX ? REC_BODY_MAX :
    LOG_RECORD_MAX];

static atomic_uint_fast64_t n_written, n_failed;

_Static_assert((LOG_QUEUE_SIZE & (LOG_QUEUE_SIZE - 1)) == 0,
    "LOG_QUEUE_SIZE must be a power of two");
_Static_assert(LOG_RESERVE < LOG_QUEUE_SIZE / 4,
    "LOG_RESERVE takes too much of the queue");

static const struct log_name {
	const char *name;
	int value;
} level_names[] = {
	{ "debug", LOG_DEBUG },
	{ "info", LOG_INFO },
	{ "notice", LOG_NOTICE },
	{ "warning", LOG_WARNING },
	{ "warn", LOG_WARNING },
	{ "err", LOG_ERR },
	{ "error", LOG_ERR },
}, facility_names[] = {
	{ "mail", LOG_MAIL },
	{ "daemon", LOG_DAEMON },
	{ "user", LOG_USER },
	{ "local0", LOG_LOCAL0 },
	{ "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 },
	{ "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 },
	{ "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 },
	{ "local7", LOG_LOCAL7 },
};

static void	emit_line(int, const char *, size_t);
static bool	level_enabled(int);
static bool	format_msg(char *, size_t *, const char *, va_list)
		    __attribute__((format(printf, 3, 0)));
static void	event_add(struct log_event *, const char *, const char *,
		    size_t, size_t);
static void	event_vfmt(struct log_event *, const char *, const char *,
		    va_list) __attribute__((format(printf, 3, 0)));
static enum push queue_push(enum rec_kind, int, const void *, size_t,
		    const void *, size_t);

/* Start logging as ident (copied). */
void
log_open(const char *ident, enum log_dest dest, int facility)
{
	int saved = errno;

	pthread_mutex_lock(&syslog_mtx);
	pthread_mutex_lock(&log_mtx);
	if (log_syslog_open) {
		closelog();
		log_syslog_open = false;
	}
	snprintf(log_ident, sizeof(log_ident), "%s",
	    ident != NULL ? ident : "slowspam");
	log_dest = dest;
	if (dest == LOG_DEST_SYSLOG) {
		openlog(log_ident, LOG_PID | LOG_NDELAY, facility);
		log_syslog_open = true;
	}
	pthread_mutex_unlock(&log_mtx);
	pthread_mutex_unlock(&syslog_mtx);
	errno = saved;
}

/* Drop messages below level; clamped to LOG_EMERG..LOG_DEBUG. */
void
log_set_level(int level)
{
	if (level < LOG_EMERG)
		level = LOG_EMERG;
	if (level > LOG_DEBUG)
		level = LOG_DEBUG;
	atomic_store_explicit(&log_level, level, memory_order_relaxed);
}

/* The current level. */
int
log_get_level(void)
{
	return atomic_load_explicit(&log_level, memory_order_relaxed);
}

/* closelog(3); anything logged afterwards goes to stderr. */
void
log_close(void)
{
	int saved = errno;

	pthread_mutex_lock(&syslog_mtx);
	pthread_mutex_lock(&log_mtx);
	if (log_syslog_open) {
		closelog();
		log_syslog_open = false;
	}
	log_dest = LOG_DEST_STDERR;
	pthread_mutex_unlock(&log_mtx);
	pthread_mutex_unlock(&syslog_mtx);
	errno = saved;
}

/* Look name up in table[0..n); false if it is not there. */
static bool
lookup_name(const struct log_name *table, size_t n, const char *name,
    int *value)
{
	for (size_t i = 0; name != NULL && i < n; i++) {
		if (strcmp(name, table[i].name) == 0) {
			*value = table[i].value;
			return true;
		}
	}
	return false;
}

/* A level name (lower case) to its number; false if unknown. */
bool
log_level_parse(const char *name, int *level)
{
	return lookup_name(level_names, sizeof(level_names) /
	    sizeof(level_names[0]), name, level);
}

/* A facility name (lower case) to its number; false if unknown. */
bool
log_facility_parse(const char *name, int *facility)
{
	return lookup_name(facility_names, sizeof(facility_names) /
	    sizeof(facility_names[0]), name, facility);
}

/* The name of any syslog level; "unknown" outside 0..7. */
const char *
log_level_name(int level)
{
	static const char *const names[] = {
		"emerg", "alert", "crit", "err",
		"warning", "notice", "info", "debug",
	};

	if (level < LOG_EMERG || level > LOG_DEBUG)
		return "unknown";
	return names[level];
}

/* Is level at or above the current threshold? */
static bool
level_enabled(int level)
{
	return level <= atomic_load_explicit(&log_level, memory_order_relaxed);
}

/*
 * Format a message into text[LOG_LINE_MAX], its length in *len; false
 * if vsnprintf fails. Messages
 * are for humans, so quotes and backslashes stay; only control bytes,
 * DEL and non-ASCII become \xHH. If anything is cut, room is kept for
 * the "..." mark. errno must be the caller's, for "%m".
 */
static bool
format_msg(char *text, size_t *len, const char *fmt, va_list ap)
{
	char raw[LOG_LINE_MAX];
	size_t rawlen, i, n, room;
	const unsigned char *p;
	bool cut;
	int r;

	r = vsnprintf(raw, sizeof(raw), fmt, ap);
	if (r < 0)
		return false;
	rawlen = (size_t)r;
	cut = rawlen >= sizeof(raw);
	if (cut)
		rawlen = sizeof(raw) - 1;

	p = (const unsigned char *)raw;
	for (i = 0, n = 0; i < rawlen; i++)
		n += (p[i] < 0x20 || p[i] >= 0x7f) ? 4 : 1;
	if (n > LOG_LINE_MAX - 1)
		cut = true;
	room = LOG_LINE_MAX - 1 - (cut ? sizeof(trunc_mark) - 1 : 0);
	for (i = 0, n = 0; i < rawlen; i++) {
		if (p[i] < 0x20 || p[i] >= 0x7f) {
			if (n + 4 > room)
				break;
			text[n++] = '\\';
			text[n++] = 'x';
			text[n++] = hex[p[i] >> 4];
			text[n++] = hex[p[i] & 0xf];
		} else {
			if (n + 1 > room)
				break;
			text[n++] = (char)p[i];
		}
	}
	if (cut) {
		memcpy(text + n, trunc_mark, sizeof(trunc_mark) - 1);
		n += sizeof(trunc_mark) - 1;
	}
	text[n] = '\0';
	*len = n;
	return true;
}

/* A free-form message; control bytes escaped, cut at LOG_LINE_MAX. */
void
log_msg(int level, const char *fmt, ...)
{
	char text[LOG_LINE_MAX];
	int saved = errno;
	size_t n;
	bool ok;
	va_list ap;

	if (!level_enabled(level)) {
		errno = saved;
		return;
	}
	va_start(ap, fmt);
	errno = saved;		/* for %m */
	ok = format_msg(text, &n, fmt, ap);
	va_end(ap);
	if (ok)
		emit_line(level, text, n);
	errno = saved;
}

/* Length of the escape of byte c: 1, 2 ("\\", "\"") or 4 (\xHH). */
static size_t
escape_len(unsigned char c)
{
	if (c == '\\' || c == '"')
		return 2;
	if (c >= 0x20 && c <= 0x7e)
		return 1;
	return 4;
}

/*
 * Escape untrusted bytes. A first pass measures the whole escape; if it
 * does not fit, or input beyond maxin was dropped, the output is cut at a
 * whole escape with room left for "...". An outsize too small even for
 * "..." alone gives "".
 */
size_t
log_escape(const char *in, size_t inlen, size_t maxin, char *out,
    size_t outsize)
{
	const unsigned char *p = (const unsigned char *)in;
	int saved = errno;
	size_t use, i, n, need, room;
	bool dots;

	if (outsize == 0) {
		errno = saved;
		return 0;
	}
	if (in == NULL)
		inlen = 0;
	use = inlen < maxin ? inlen : maxin;
	dots = inlen > maxin;
	for (i = 0, need = 0; i < use; i++)
		need += escape_len(p[i]);
	if (need > outsize - 1)
		dots = true;
	room = outsize - 1;
	if (dots) {
		if (room < sizeof(trunc_mark) - 1) {
			out[0] = '\0';
			errno = saved;
			return 0;
		}
		room -= sizeof(trunc_mark) - 1;
	}
	for (i = 0, n = 0; i < use; i++) {
		if (n + escape_len(p[i]) > room)
			break;
		switch (escape_len(p[i])) {
		case 1:
			out[n++] = (char)p[i];
			break;
		case 2:
			out[n++] = '\\';
			out[n++] = (char)p[i];
			break;
		default:
			out[n++] = '\\';
			out[n++] = 'x';
			out[n++] = hex[p[i] >> 4];
			out[n++] = hex[p[i] & 0xf];
			break;
		}
	}
	if (dots) {
		memcpy(out + n, trunc_mark, sizeof(trunc_mark) - 1);
		n += sizeof(trunc_mark) - 1;
	}
	out[n] = '\0';
	errno = saved;
	return n;
}

#ifndef NDEBUG
/* Is s a non-empty string of [a-z0-9_], plus [A-Z] and/or [.-]? */
static bool
is_ident(const char *s, bool upper, bool dotdash)
{
	if (s == NULL || *s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		    *s == '_')
			continue;
		if (upper && *s >= 'A' && *s <= 'Z')
			continue;
		if (dotdash && (*s == '.' || *s == '-'))
			continue;
		return false;
	}
	return true;
}
#endif

/* Start "NAME"; name is our own identifier, [A-Za-z0-9_.-]+. */
void
log_event_begin(struct log_event *ev, const char *name)
{
	int saved = errno;
	size_t len;

	assert(is_ident(name, true, true));
	len = strlen(name);
	assert(len < 64);
	memcpy(ev->buf, name, len);
	ev->buf[len] = '\0';
	ev->len = len;
	ev->truncated = false;
	errno = saved;
}

/*
 * Append " key=value", escaping in[0..inlen) capped at maxin bytes and
 * quoting where needed. A field that would not fit whole, with room kept
 * for " truncated=1", is dropped and so is every later one.
 */
static void
event_add(struct log_event *ev, const char *key, const char *in,
    size_t inlen, size_t maxin)
{
	char val[LOG_LINE_MAX];
	size_t klen, vlen, need, limit;
	bool quote;

	assert(is_ident(key, false, false));
	if (ev->truncated)
		return;
	vlen = log_escape(in, inlen, maxin, val, sizeof(val));
	quote = vlen == 0 || strpbrk(val, " =\"") != NULL;
	klen = strlen(key);
	need = 1 + klen + 1 + vlen + (quote ? 2 : 0);
	limit = sizeof(ev->buf) - 1 - (sizeof(trunc_field) - 1);
	if (ev->len + need > limit) {
		ev->truncated = true;
		return;
	}
	ev->buf[ev->len++] = ' ';
	memcpy(ev->buf + ev->len, key, klen);
	ev->len += klen;
	ev->buf[ev->len++] = '=';
	if (quote)
		ev->buf[ev->len++] = '"';
	memcpy(ev->buf + ev->len, val, vlen);
	ev->len += vlen;
	if (quote)
		ev->buf[ev->len++] = '"';
	ev->buf[ev->len] = '\0';
}

/* An untrusted value: maxlen input bytes at most (0: LOG_VALUE_MAX). */
void
log_event_untrusted(struct log_event *ev, const char *key, const char *val,
    size_t len, size_t maxlen)
{
	int saved = errno;

	if (val == NULL)
		len = 0;
	event_add(ev, key, val, len, maxlen == 0 ? LOG_VALUE_MAX : maxlen);
	errno = saved;
}

/* Our own text, still escaped; capped at LOG_STR_MAX bytes. */
void
log_event_str(struct log_event *ev, const char *key, const char *val)
{
	int saved = errno;

	if (val == NULL)
		val = "";
	event_add(ev, key, val, strlen(val), LOG_STR_MAX);
	errno = saved;
}

/* A decimal number. */
void
log_event_int(struct log_event *ev, const char *key, long long val)
{
	char num[32];
	int saved = errno, r;

	r = snprintf(num, sizeof(num), "%lld", val);
	event_add(ev, key, num, (size_t)r, sizeof(num));
	errno = saved;
}

/* Format into a local buffer, then add like log_event_str. */
static void
event_vfmt(struct log_event *ev, const char *key, const char *fmt,
    va_list ap)
{
	char text[LOG_LINE_MAX];
	int r;

	r = vsnprintf(text, sizeof(text), fmt, ap);
	if (r < 0)
		text[0] = '\0';
	event_add(ev, key, text, strlen(text), LOG_STR_MAX);
}

/* printf-style text; "%m" is the caller's errno. */
void
log_event_fmt(struct log_event *ev, const char *key, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	errno = saved;
	event_vfmt(ev, key, fmt, ap);
	va_end(ap);
	errno = saved;
}

/* Write the line at level, with " truncated=1" if fields were dropped. */
void
log_event_emit(const struct log_event *ev, int level)
{
	char text[LOG_LINE_MAX];
	int saved = errno;
	size_t n;

	if (!level_enabled(level)) {
		errno = saved;
		return;
	}
	n = ev->len < sizeof(text) - 1 ? ev->len : sizeof(text) - 1;
	memcpy(text, ev->buf, n);
	if (ev->truncated &&
	    n + sizeof(trunc_field) - 1 <= sizeof(text) - 1) {
		memcpy(text + n, trunc_field, sizeof(trunc_field) - 1);
		n += sizeof(trunc_field) - 1;
	}
	text[n] = '\0';
	emit_line(level, text, n);
	errno = saved;
}

/* Milliseconds on the monotonic clock. */
static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The monotonic time ms milliseconds from now, for a timed wait. */
static void
deadline(struct timespec *ts, int64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

/* write(2) all of buf, retrying for EINTR and the rest of a short write. */
static bool
write_all(int fd, const char *buf, size_t n)
{
	size_t off;
	ssize_t w;

	for (off = 0; off < n; off += (size_t)w) {
		w = write(fd, buf + off, n - off);
		if (w < 0) {
			if (errno == EINTR) {
				w = 0;
				continue;
			}
			return false;
		}
	}
	return true;
}

/*
 * Make the record of one clean line of text into out[LOG_RECORD_MAX]:
 * for syslog the text, for stderr "ident[pid]: level: text\n" with the
 * ident and pid of the caller, now. false if there is nothing to write.
 */
static bool
build_line(int level, const char *text, size_t len, char *out,
    enum rec_kind *kind, size_t *outlen)
{
	size_t n;
	int r;

	if (len > LOG_LINE_MAX - 1)
		len = LOG_LINE_MAX - 1;
	pthread_mutex_lock(&log_mtx);
	if (log_dest == LOG_DEST_SYSLOG) {
		pthread_mutex_unlock(&log_mtx);
		memcpy(out, text, len);
		*kind = REC_SYSLOG;
		*outlen = len;
		return true;
	}
	r = snprintf(out, LOG_PREFIX_MAX, "%s[%ld]: %s: ", log_ident,
	    (long)getpid(), log_level_name(level));
	pthread_mutex_unlock(&log_mtx);
	if (r < 0)
		return false;
	n = (size_t)r < LOG_PREFIX_MAX ? (size_t)r : LOG_PREFIX_MAX - 1;
	memcpy(out + n, text, len);
	n += len;
	out[n++] = '\n';
	*kind = REC_STDERR;
	*outlen = n;
	return true;
}

/*
 * Write one record made by build_line: syslog(3) under syslog_mtx (it
 * keeps our ident), or the stderr line in one write(2). Counted.
 */
static void
write_line(enum rec_kind kind, int level, const char *line, size_t n)
{
	bool ok = true;

	if (kind == REC_SYSLOG) {
		pthread_mutex_lock(&syslog_mtx);
		syslog(level, "%.*s", (int)n, line);
		pthread_mutex_unlock(&syslog_mtx);
	} else
		ok = write_all(STDERR_FILENO, line, n);
	atomic_fetch_add_explicit(ok ? &n_written : &n_failed, 1,
	    memory_order_relaxed);
}

/* One clean line of text: queued for the writer, or written now. */
static void
emit_line(int level, const char *text, size_t len)
{
	char line[LOG_RECORD_MAX];
	enum rec_kind kind;
	size_t n;

	if (!build_line(level, text, len, line, &kind, &n))
		return;
	if (queue_push(kind, level, line, n, NULL, 0) == PUSH_IDLE)
		write_line(kind, level, line, n);
}

/* Copy n bytes into the ring at its tail; the caller made room. */
static void
ring_put(const void *src, size_t n)
{
	size_t pos = (size_t)(q_tail & (LOG_QUEUE_SIZE - 1)), first;

	if (n == 0)
		return;
	first = LOG_QUEUE_SIZE - pos < n ? LOG_QUEUE_SIZE - pos : n;
	memcpy(q_ring + pos, src, first);
	memcpy(q_ring, (const unsigned char *)src + first, n - first);
	q_tail += n;
}

/* Copy n bytes out of the ring at its head, freeing them. */
static void
ring_get(void *dst, size_t n)
{
	size_t pos = (size_t)(q_head & (LOG_QUEUE_SIZE - 1)), first;

	if (n == 0)
		return;
	first = LOG_QUEUE_SIZE - pos < n ? LOG_QUEUE_SIZE - pos : n;
	memcpy(dst, q_ring + pos, first);
	memcpy((unsigned char *)dst + first, q_ring, n - first);
	q_head += n;
}

/*
 * Queue a record of a[0..alen) then b[0..blen) for the writer. Lines may
 * use the ring but for LOG_RESERVE bytes; a line that does not fit is
 * counted as dropped. Never waits but for q_mtx; wakes the writer only
 * if it sleeps.
 */
static enum push
queue_push(enum rec_kind kind, int level, const void *a, size_t alen,
    const void *b, size_t blen)
{
	struct rec h;
	size_t need = sizeof(h) + alen + blen, room;
	bool line = kind < REC_EVFD, ctl = kind == REC_EVFD ||
	    kind == REC_REOPEN;
	enum push r = PUSH_QUEUED;

	pthread_mutex_lock(&q_mtx);
	if (q_state == Q_IDLE) {
		r = PUSH_IDLE;
		goto out;
	}
	if ((kind == REC_EVENT || kind == REC_CLOSE) && !q_evlog_on) {
		r = PUSH_OFF;
		goto out;
	}
	room = LOG_QUEUE_SIZE - (size_t)(q_tail - q_head);
	if (line)
		room = room > LOG_RESERVE ? room - LOG_RESERVE : 0;
	if (need > room || (ctl && q_ctl >= LOG_CTL_MAX)) {
		if (line) {
			if (q_dropped_log == q_told_log &&
			    q_dropped_event == q_told_event)
				q_drop_since = time(NULL);
			if (kind == REC_EVENT)
				q_dropped_event++;
			else
				q_dropped_log++;
		}
		r = PUSH_FULL;
		goto out;
	}
	memset(&h, 0, sizeof(h));
	h.len = (uint32_t)(alen + blen);
	h.kind = (uint8_t)kind;
	h.level = (uint8_t)level;
	ring_put(&h, sizeof(h));
	ring_put(a, alen);
	ring_put(b, blen);
	if (ctl) {
		q_ctl++;
		q_evlog_on = true;
	} else if (kind == REC_CLOSE)
		q_evlog_on = false;
	if (q_waiting)
		pthread_cond_signal(&q_work);
out:
	pthread_mutex_unlock(&q_mtx);
	return r;
}

/* May we complain about the event log? Once a minute, any thread. */
static bool
may_complain(void)
{
	int_fast64_t now = mono_ms(), last;

	last = atomic_load(&evlog_complained);
	if (last != 0 && now - last < LOG_REPORT_MS)
		return false;
	return atomic_compare_exchange_strong(&evlog_complained, &last, now);
}

/* Write one event-log line, newline included; counted, complained of. */
static void
evlog_write_now(const char *line, size_t n)
{
	if (evlog_fd >= 0 && write_all(evlog_fd, line, n)) {
		atomic_fetch_add_explicit(&n_written, 1, memory_order_relaxed);
		return;
	}
	atomic_fetch_add_explicit(&n_failed, 1, memory_order_relaxed);
	if (evlog_fd >= 0 && may_complain())
		log_msg(LOG_ERR, "event_log %s: %m", evlog_path);
}

/* Take fd, open on path, as the event log; close the one before. */
static void
evlog_adopt(int fd, const char *path)
{
	if (evlog_fd >= 0)
		close(evlog_fd);
	evlog_fd = fd;
	snprintf(evlog_path, sizeof(evlog_path), "%s", path);
}

/* Open path as the event log; keep the one before if it fails. */
static void
evlog_reopen_now(const char *path)
{
	int fd;

	fd = open(path, EVLOG_FLAGS, EVLOG_MODE);
	if (fd < 0) {
		if (may_complain())
			log_msg(LOG_ERR, "event_log %s: %m%s", path,
			    evlog_fd >= 0 ? "; event lines still go to the "
			    "file open before" : "");
		return;
	}
	evlog_adopt(fd, path);
}

/* Close the event log, if one is open. */
static void
evlog_close_now(void)
{
	if (evlog_fd >= 0)
		close(evlog_fd);
	evlog_fd = -1;
	evlog_path[0] = '\0';
}

/*
 * Are there drops to report? Then now is set, and it is due if the
 * writer is stopping, never reported, or did a minute ago. q_mtx held.
 */
static bool
report_due(int64_t *now)
{
	if (q_dropped_log == q_told_log && q_dropped_event == q_told_event)
		return false;
	*now = mono_ms();
	return q_state != Q_RUNNING || q_last_report == 0 ||
	    *now - q_last_report >= LOG_REPORT_MS;
}

/*
 * Write the report of the drops not told yet, as a line of our own
 * written directly, in order: never queued, so it cannot be dropped or
 * loop. Called and returns with q_mtx held; drops it to write.
 */
static void
report(int64_t now)
{
	char text[LOG_LINE_MAX], line[LOG_RECORD_MAX], since[32];
	uint64_t nlog = q_dropped_log - q_told_log;
	uint64_t nevent = q_dropped_event - q_told_event;
	time_t t = q_drop_since;
	enum rec_kind kind;
	struct tm tm;
	size_t n;
	int r;

	q_told_log = q_dropped_log;
	q_told_event = q_dropped_event;
	q_last_report = now;
	pthread_mutex_unlock(&q_mtx);
	if (level_enabled(LOG_WARNING)) {
		if (gmtime_r(&t, &tm) == NULL || strftime(since,
		    sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
			snprintf(since, sizeof(since), "%lld", (long long)t);
		r = snprintf(text, sizeof(text), "log: dropped %llu log lines "
		    "and %llu event-log lines since %s (the log reader is "
		    "slower than the daemon)", (unsigned long long)nlog,
		    (unsigned long long)nevent, since);
		if (r > 0 && build_line(LOG_WARNING, text, (size_t)r, line,
		    &kind, &n))
			write_line(kind, LOG_WARNING, line, n);
	}
	pthread_mutex_lock(&q_mtx);
}

/* Carry out one record taken off the ring, q_mtx not held. */
static void
handle(const struct rec *h, const unsigned char *body)
{
	int fd;

	switch (h->kind) {
	case REC_SYSLOG:
	case REC_STDERR:
		write_line(h->kind, h->level, (const char *)body, h->len);
		break;
	case REC_EVENT:
		evlog_write_now((const char *)body, h->len);
		break;
	case REC_EVFD:
		memcpy(&fd, body, sizeof(fd));
		evlog_adopt(fd, (const char *)body + sizeof(fd));
		break;
	case REC_REOPEN:
		evlog_reopen_now((const char *)body);
		break;
	case REC_CLOSE:
		evlog_close_now();
		break;
	default:
		assert(!"unknown log record");
		break;
	}
}

/*
 * The writer thread: report drops when due, take one record at a time
 * and carry it out with the ring unlocked; sleep when there is none.
 * When stopped (or abandoned) it ends once the ring is empty, and
 * logging is synchronous again.
 */
static void *
writer_main(void *arg)
{
	struct timespec ts;
	struct rec h;
	int64_t now = 0;

	(void)arg;
	pthread_mutex_lock(&q_mtx);
	for (;;) {
		if (report_due(&now)) {
			report(now);
			continue;
		}
		if (q_head != q_tail) {
			ring_get(&h, sizeof(h));
			ring_get(q_body, h.len);
			if (h.kind == REC_EVFD || h.kind == REC_REOPEN)
				q_ctl--;
			pthread_mutex_unlock(&q_mtx);
			handle(&h, q_body);
			pthread_mutex_lock(&q_mtx);
			continue;
		}
		if (q_state != Q_RUNNING)
			break;
		q_waiting = true;
		if (q_dropped_log != q_told_log ||
		    q_dropped_event != q_told_event) {
			deadline(&ts, q_last_report + LOG_REPORT_MS - now);
			pthread_cond_timedwait(&q_work, &q_mtx, &ts);
		} else
			pthread_cond_wait(&q_work, &q_mtx);
		q_waiting = false;
	}
	q_state = Q_IDLE;
	q_alive = false;
	pthread_cond_broadcast(&q_done);
	pthread_mutex_unlock(&q_mtx);
	return NULL;
}

/* Condition variables on the monotonic clock. */
static void
init_conds(void)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q_work, &ca);
	pthread_cond_init(&q_done, &ca);
	pthread_condattr_destroy(&ca);
}

/* Before fork(): take every lock, so none is copied held. */
static void
fork_prepare(void)
{
	pthread_mutex_lock(&evlog_mtx);
	pthread_mutex_lock(&syslog_mtx);
	pthread_mutex_lock(&log_mtx);
	pthread_mutex_lock(&q_mtx);
}

/* After fork(), in the parent: let go. */
static void
fork_parent(void)
{
	pthread_mutex_unlock(&q_mtx);
	pthread_mutex_unlock(&log_mtx);
	pthread_mutex_unlock(&syslog_mtx);
	pthread_mutex_unlock(&evlog_mtx);
}

/*
 * After fork(), in the child: no writer came along, so log
 * synchronously; what the parent queued is the parent's to write.
 */
static void
fork_child(void)
{
	if (q_state != Q_IDLE) {
		/*
		 * The writer owned the event log and may have been
		 * between closing one descriptor and taking the next: the
		 * child starts without one (it may open its own).
		 */
		evlog_fd = -1;
		q_state = Q_IDLE;
		q_alive = false;
		q_waiting = false;
		q_head = q_tail;
		q_ctl = 0;
		init_conds();
	}
	fork_parent();
}

/* Once per process: the condition variables, the fork handlers. */
static void
q_init(void)
{
	init_conds();
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/*
 * Start the writer thread. It is created with every signal blocked but
 * those a fault sends to the faulting thread itself, which cannot be
 * turned away and are better reported (by the sanitizers too).
 */
bool
log_writer_start(GError **error)
{
	static const int faults[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL };
	sigset_t mask, old;
	int saved = errno, rc;
	bool ok = false;

	pthread_once(&q_once, q_init);
	pthread_mutex_lock(&evlog_mtx);
	pthread_mutex_lock(&q_mtx);
	if (q_state != Q_IDLE) {
		g_set_error(error, G_THREAD_ERROR, G_THREAD_ERROR_AGAIN,
		    "log writer: %s", q_state == Q_RUNNING ? "already "
		    "running" : "the one before is still writing (its "
		    "reader is stalled)");
		goto out;
	}
	q_head = q_tail = 0;
	q_ctl = 0;
	q_evlog_on = evlog_fd >= 0;
	q_last_report = 0;
	q_state = Q_RUNNING;
	q_alive = true;
	sigfillset(&mask);
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++)
		sigdelset(&mask, faults[i]);
	pthread_sigmask(SIG_SETMASK, &mask, &old);
	rc = pthread_create(&q_thread, NULL, writer_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		q_state = Q_IDLE;
		q_alive = false;
		g_set_error(error, G_THREAD_ERROR, G_THREAD_ERROR_AGAIN,
		    "log writer: pthread_create: %s", g_strerror(rc));
		goto out;
	}
	ok = true;
out:
	pthread_mutex_unlock(&q_mtx);
	pthread_mutex_unlock(&evlog_mtx);
	errno = saved;
	return ok;
}

/*
 * Stop the writer: it writes what is queued and ends; wait for that up
 * to timeout_ms, then join it, or leave it detached (abandoned) to end
 * by itself. It only touches static memory, so leaving it is safe.
 */
void
log_writer_stop(int timeout_ms)
{
	struct timespec ts;
	pthread_t t;
	int saved = errno;
	bool ended;

	pthread_mutex_lock(&q_mtx);
	if (q_state != Q_RUNNING) {
		pthread_mutex_unlock(&q_mtx);
		errno = saved;
		return;
	}
	q_state = Q_STOPPING;
	pthread_cond_broadcast(&q_work);
	deadline(&ts, timeout_ms >= 0 ? timeout_ms : 0);
	while (q_alive) {
		if (timeout_ms < 0)
			pthread_cond_wait(&q_done, &q_mtx);
		else if (pthread_cond_timedwait(&q_done, &q_mtx, &ts) ==
		    ETIMEDOUT)
			break;
	}
	ended = !q_alive;
	t = q_thread;
	if (!ended)
		q_state = Q_ABANDONED;
	pthread_mutex_unlock(&q_mtx);
	if (ended)
		pthread_join(t, NULL);
	else
		pthread_detach(t);
	errno = saved;
}

/* The counters. */
void
log_get_stats(struct log_stats *out)
{
	pthread_mutex_lock(&q_mtx);
	out->dropped_log = q_dropped_log;
	out->dropped_event = q_dropped_event;
	pthread_mutex_unlock(&q_mtx);
	out->written = atomic_load(&n_written);
	out->failed = atomic_load(&n_failed);
}

/* Open path as the event log now; the writer takes it over in order. */
bool
log_eventlog_open(const char *path, GError **error)
{
	int saved = errno, fd, e;
	enum push r;
	bool ok = true;

	if (path == NULL || path[0] == '\0') {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
		    "event_log: no path");
		return false;
	}
	if (strlen(path) >= sizeof(evlog_path)) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NAMETOOLONG,
		    "event_log %.100s...: %s", path, g_strerror(ENAMETOOLONG));
		return false;
	}
	fd = open(path, EVLOG_FLAGS, EVLOG_MODE);
	if (fd < 0) {
		e = errno;
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
		    "event_log %s: %s", path, g_strerror(e));
		errno = saved;
		return false;
	}
	pthread_mutex_lock(&evlog_mtx);
	r = queue_push(REC_EVFD, 0, &fd, sizeof(fd), path, strlen(path) + 1);
	if (r == PUSH_IDLE)
		evlog_adopt(fd, path);
	else if (r == PUSH_FULL) {
		close(fd);
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_AGAIN,
		    "event_log %s: %d event-log requests are queued already "
		    "(the log reader is stalled)", path, LOG_CTL_MAX);
		ok = false;
	}
	pthread_mutex_unlock(&evlog_mtx);
	errno = saved;
	return ok;
}

/* One event-log line; refused if too long or broken. */
void
log_eventlog_write(const char *line, size_t len)
{
	char buf[LOG_EVENTLOG_LINE_MAX];
	int saved = errno;

	if (line == NULL)
		return;
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len == 0)
		return;
	if (len + 1 > sizeof(buf) || memchr(line, '\n', len) != NULL) {
		atomic_fetch_add_explicit(&n_failed, 1, memory_order_relaxed);
		errno = saved;
		return;
	}
	pthread_mutex_lock(&evlog_mtx);
	if (queue_push(REC_EVENT, 0, line, len, "\n", 1) == PUSH_IDLE &&
	    evlog_fd >= 0) {
		memcpy(buf, line, len);
		buf[len] = '\n';
		evlog_write_now(buf, len + 1);
	}
	pthread_mutex_unlock(&evlog_mtx);
	errno = saved;
}

/* Reopen the event log as path, in order with the lines. */
void
log_eventlog_reopen(const char *path)
{
	int saved = errno;
	size_t n;

	if (path == NULL || path[0] == '\0')
		return;
	n = strlen(path);
	pthread_mutex_lock(&evlog_mtx);
	if (n >= sizeof(evlog_path)) {
		errno = ENAMETOOLONG;
		if (may_complain())
			log_msg(LOG_ERR, "event_log %s: %m", path);
	} else {
		switch (queue_push(REC_REOPEN, 0, path, n + 1, NULL, 0)) {
		case PUSH_IDLE:
			evlog_reopen_now(path);
			break;
		case PUSH_FULL:
			if (may_complain())
				log_msg(LOG_ERR, "event_log %s: not reopened: "
				    "%d event-log requests are queued already "
				    "(the log reader is stalled)", path,
				    LOG_CTL_MAX);
			break;
		default:
			break;
		}
	}
	pthread_mutex_unlock(&evlog_mtx);
	errno = saved;
}

/* Close the event log, after the lines queued before. */
void
log_eventlog_close(void)
{
	int saved = errno;

	pthread_mutex_lock(&evlog_mtx);
	if (queue_push(REC_CLOSE, 0, NULL, 0, NULL, 0) == PUSH_IDLE)
		evlog_close_now();
	pthread_mutex_unlock(&evlog_mtx);
	errno = saved;
}
