/*
 * log.h - logging to syslog or stderr, one line per message or event.
 *
 * Levels are syslog priorities (LOG_ERR .. LOG_DEBUG). Every function is
 * thread-safe and preserves errno, so a caller can log and then still
 * report the errno it was handling; "%m" works in formats.
 */
#ifndef SLOWSPAM_LOG_H
#define SLOWSPAM_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>

/* Longest line written, event or message; longer ones are cut. */
#define LOG_LINE_MAX	1024
/* Default cap on one untrusted value, in input bytes. */
#define LOG_VALUE_MAX	100

enum log_dest {
	LOG_DEST_SYSLOG,
	LOG_DEST_STDERR,	/* "ident[pid]: level: text", for -f */
};

/* Start logging as ident (copied). Messages below level are dropped. */
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

#endif /* SLOWSPAM_LOG_H */
