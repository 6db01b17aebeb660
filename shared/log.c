#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

/*
 * log.c - logging to syslog or stderr, one line per message or event.
 *
 * Log lines carry untrusted text (HELO strings, addresses of spambots),
 * so nothing formatted here can ever become two lines: control bytes are
 * escaped, lines are cut at LOG_LINE_MAX, and on stderr each line goes
 * out in one write(2) so concurrent threads and processes never mix
 * inside a line. Global state sits behind one mutex; every public
 * function saves errno on entry and restores it on exit. Not
 * async-signal-safe: do not log from a signal handler.
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
 *
 * Diagnostics: none. Logging never fails loudly; a line that cannot be
 * written is lost. Cut lines end in "..."; an event that lost fields
 * ends in " truncated=1". A key that is not [a-z0-9_]+ or an event name
 * that is not [A-Za-z0-9_.-]+ is a programming error (assert).
 */

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* Room for the ident, copied (syslog keeps the pointer). */
#define LOG_IDENT_MAX	64
/* Input cap for our own text in events (log_event_str, log_event_fmt). */
#define LOG_STR_MAX	200
/* Room for "ident[pid]: warning: " in front of a stderr line. */
#define LOG_PREFIX_MAX	(LOG_IDENT_MAX + 48)

static const char hex[] = "0123456789abcdef";
static const char trunc_mark[] = "...";
static const char trunc_field[] = " truncated=1";

static pthread_mutex_t log_mtx = PTHREAD_MUTEX_INITIALIZER;
static char log_ident[LOG_IDENT_MAX] = "slowspam";
static enum log_dest log_dest = LOG_DEST_STDERR;
static int log_level = LOG_INFO;
static bool log_syslog_open;

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
static void	event_add(struct log_event *, const char *, const char *,
		    size_t, size_t);
static void	event_vfmt(struct log_event *, const char *, const char *,
		    va_list) __attribute__((format(printf, 3, 0)));

/* Start logging as ident (copied). */
void
log_open(const char *ident, enum log_dest dest, int facility)
{
	int saved = errno;

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
	errno = saved;
}

/* Drop messages below level; clamped to LOG_EMERG..LOG_DEBUG. */
void
log_set_level(int level)
{
	int saved = errno;

	if (level < LOG_EMERG)
		level = LOG_EMERG;
	if (level > LOG_DEBUG)
		level = LOG_DEBUG;
	pthread_mutex_lock(&log_mtx);
	log_level = level;
	pthread_mutex_unlock(&log_mtx);
	errno = saved;
}

/* The current level. */
int
log_get_level(void)
{
	int saved = errno, level;

	pthread_mutex_lock(&log_mtx);
	level = log_level;
	pthread_mutex_unlock(&log_mtx);
	errno = saved;
	return level;
}

/* closelog(3); anything logged afterwards goes to stderr. */
void
log_close(void)
{
	int saved = errno;

	pthread_mutex_lock(&log_mtx);
	if (log_syslog_open) {
		closelog();
		log_syslog_open = false;
	}
	log_dest = LOG_DEST_STDERR;
	pthread_mutex_unlock(&log_mtx);
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
	bool on;

	pthread_mutex_lock(&log_mtx);
	on = level <= log_level;
	pthread_mutex_unlock(&log_mtx);
	return on;
}

/*
 * Write one already-clean line of text. Holding the mutex keeps the
 * ident stable for syslog(3); on stderr the whole line, newline included,
 * is one write(2), retried only for EINTR and the rest of a short write.
 */
static void
emit_line(int level, const char *text, size_t len)
{
	char line[LOG_PREFIX_MAX + LOG_LINE_MAX + 1];
	size_t n, off;
	ssize_t w;
	int r;

	if (len > LOG_LINE_MAX - 1)
		len = LOG_LINE_MAX - 1;
	pthread_mutex_lock(&log_mtx);
	if (log_dest == LOG_DEST_SYSLOG) {
		syslog(level, "%.*s", (int)len, text);
		pthread_mutex_unlock(&log_mtx);
		return;
	}
	r = snprintf(line, LOG_PREFIX_MAX, "%s[%ld]: %s: ", log_ident,
	    (long)getpid(), log_level_name(level));
	pthread_mutex_unlock(&log_mtx);
	if (r < 0)
		return;
	n = (size_t)r < LOG_PREFIX_MAX ? (size_t)r : LOG_PREFIX_MAX - 1;
	memcpy(line + n, text, len);
	n += len;
	line[n++] = '\n';
	for (off = 0; off < n; off += (size_t)w) {
		w = write(STDERR_FILENO, line + off, n - off);
		if (w < 0) {
			if (errno == EINTR) {
				w = 0;
				continue;
			}
			return;
		}
	}
}

/* A free-form message; control bytes escaped, cut at LOG_LINE_MAX. */
void
log_msg(int level, const char *fmt, ...)
{
	char raw[LOG_LINE_MAX], text[LOG_LINE_MAX];
	int saved = errno, r;
	size_t rawlen, i, n, room;
	const unsigned char *p;
	bool cut;
	va_list ap;

	if (!level_enabled(level)) {
		errno = saved;
		return;
	}
	va_start(ap, fmt);
	errno = saved;		/* for %m */
	r = vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	if (r < 0) {
		errno = saved;
		return;
	}
	rawlen = (size_t)r;
	cut = rawlen >= sizeof(raw);
	if (cut)
		rawlen = sizeof(raw) - 1;

	/*
	 * Messages are for humans, so quotes and backslashes stay; only
	 * control bytes, DEL and non-ASCII become \xHH. If anything is cut,
	 * keep room for the "..." mark.
	 */
	p = (const unsigned char *)raw;
	for (i = 0, n = 0; i < rawlen; i++)
		n += (p[i] < 0x20 || p[i] >= 0x7f) ? 4 : 1;
	if (n > sizeof(text) - 1)
		cut = true;
	room = sizeof(text) - 1 - (cut ? sizeof(trunc_mark) - 1 : 0);
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
