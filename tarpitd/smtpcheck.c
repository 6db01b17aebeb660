/*
 * smtpcheck.c - is a transcript of the tar pit's replies within the
 * contract? Only 220, 250 and 421 lines, each CRLF-terminated and of
 * the form "NNN-text" or "NNN text"; never 354 or 5xx; no 250 unless
 * the first command was HELO or EHLO (so MAIL, RCPT or DATA never see
 * the start of a 2xx reply); no reply lines before the final 220; no
 * final line but the 220 and the last one; a session that ended, ends
 * with a final 421.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "smtpcheck.h"

const char *
smtpcheck_transcript(const char *out, size_t len, bool had_helo, bool ended)
{
	const char *p = out, *end = out + len;
	bool greeted = false, final = false;

	if (ended && len == 0)
		return "ended without a line";
	while (p < end) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		size_t n;

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
			return "a line after the final one";
		if (memcmp(p, "220", 3) == 0) {
			if (greeted)
				return "220 after the final 220";
			greeted = p[3] == ' ';
		} else if (memcmp(p, "250", 3) == 0) {
			if (!had_helo)
				return "250 to a command that was not HELO/EHLO";
			if (!greeted)
				return "250 before the final 220";
			if (p[3] == ' ')
				return "a final 250";
		} else if (memcmp(p, "421", 3) == 0) {
			if (p[3] == ' ')
				final = true;
			else if (!greeted)
				return "421- before the final 220";
		} else if (memcmp(p, "354", 3) == 0) {
			return "354";
		} else if (p[0] == '5') {
			return "5xx";
		} else {
			return "a code other than 220, 250 or 421";
		}
		p = lf + 1;
	}
	if (ended && !final)
		return "ended without a final 421";
	return NULL;
}
