/*
 * smtpcheck.h - the tar pit's reply contract, checked on a transcript.
 *
 * Shared by fuzz/fuzz_smtp and tests/test_smtp: one statement of what a
 * session may send (smtp.h; tarpitd(8), "The session").
 */
#ifndef SLOWSPAM_SMTPCHECK_H
#define SLOWSPAM_SMTPCHECK_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Check everything a session sent, out[0..len): NULL if it keeps the
 * contract, else what it broke. had_helo: the first command was HELO or
 * EHLO. ended: the session said goodbye, so the output must end with a
 * whole 421 reply.
 */
const char *smtpcheck_transcript(const char *out, size_t len, bool had_helo,
	    bool ended);

#endif /* SLOWSPAM_SMTPCHECK_H */
