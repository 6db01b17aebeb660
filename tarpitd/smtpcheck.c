/*
 * smtpcheck.c - is a transcript of the tar pit's replies within the
 * contract? Every line CRLF-terminated and "NNN-text" or "NNN text";
 * every reply one code (RFC 5321 4.2.1) and one of: the greeting (220),
 * the EHLO reply (250; only second, and only after HELO or EHLO, so MAIL,
 * RCPT or DATA never see the start of a 2xx reply), and the 421 that
 * ends the session (a "421-" reply only after the greeting); never 354
 * or 5xx; nothing after the 421; a session that ended, ends with it.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "smtpcheck.h"

/* Where a reply with code (220, 250 or 421) may start; NULL if it may. */
static const char *
check_start(int code, bool multi, unsigned replies, bool had_helo)
{
	switch (code) {
	case 220:
		return replies == 0 ? NULL : "220 after the greeting";
	case 250:
		if (!had_helo)
			return "250 to a command that was not HELO/EHLO";
		return replies == 1 ? NULL : replies == 0 ?
		    "250 before the final 220" : "a second 250 reply";
	default:
		return multi && replies == 0 ? "421- before the final 220" :
		    NULL;
	}
}

const char *
smtpcheck_transcript(const char *out, size_t len, bool had_helo, bool ended)
{
	const char *p = out, *end = out + len, *why;
	unsigned replies = 0;		/* complete ones */
	int code = 0;			/* of the reply going on, or 0 */
	bool final = false;		/* the 421 was complete */

	if (ended && len == 0)
		return "ended without a line";
	while (p < end) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		size_t n;
		int c;

		if (lf == NULL)
			/* An unfinished line is fine only mid-session. */
			return ended ? "does not end with CRLF" : NULL;
		n = (size_t)(lf - p);
		if (n < 5 || p[n - 1] != '\r')
			return "line too short or without CR";
		if (memchr(p, '\r', n - 1) != NULL)
			return "CR inside a line";
		if (p[3] != '-' && p[3] != ' ')
			return "no '-' or ' ' after the code";
		if (final)
			return "a line after the final 421";
		if (memcmp(p, "354", 3) == 0)
			return "354";
		if (p[0] == '5')
			return "5xx";
		c = memcmp(p, "220", 3) == 0 ? 220 : memcmp(p, "250", 3) == 0 ?
		    250 : memcmp(p, "421", 3) == 0 ? 421 : 0;
		if (c == 0)
			return "a code other than 220, 250 or 421";
		if (code != 0 && c != code)
			return "two codes in one reply";
		if (code == 0 &&
		    (why = check_start(c, p[3] == '-', replies, had_helo)) != NULL)
			return why;
		code = c;
		if (p[3] == ' ') {
			replies++;
			final = code == 421;
			code = 0;
		}
		p = lf + 1;
	}
	if (ended && !final)
		return "ended without a final 421";
	return NULL;
}
