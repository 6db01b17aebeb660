/*
 * sessions.h - slowspam-policyd's SMTP sessions, for Postfix asks once
 * per recipient (and at DATA and END-OF-MESSAGE) and never says when a
 * session ends: the contact with the primary must be recorded once per
 * session, and each message's answers handed out in turn.
 *
 * A session is known by its key (client address and port, server address
 * and port, whatever of them Postfix gives). The table is bounded: at
 * max entries the least recently used idle one goes, and one unused for
 * ttl goes when the table is next touched. One lock guards the table;
 * an entry is used by one worker at a time (a second one asking for the
 * same key waits), and an entry in use is never evicted, so the table
 * may exceed max by at most the number of workers.
 */
#ifndef SLOWSPAM_POLICY_SESSIONS_H
#define SLOWSPAM_POLICY_SESSIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "answer.h"
#include "verdict.h"

/* Longest key: two addresses, two ports and the separators. */
#define SESSION_KEY_MAX	(2 * 64 + 2 * 8 + 4)

/* What the policy server keeps of one SMTP session. */
struct psession {
	struct verdict_session vs;
	bool		connected;	/* verdict_connect was called */
	/* The current message, while have_msg: */
	bool		have_msg;
	char		*msg_id;	/* instance, or the sender without it */
	struct answer_plan plan;
	char		*header;	/* X-Slowspam value, one line */
	char		*ar;		/* Authentication-Results, one line */
};

/* Free what the message holds; have_msg becomes false. */
void	psession_message_clear(struct psession *p);

struct sessions;

struct sessions_stats {
	unsigned	count;		/* entries now */
	uint64_t	created, evicted, expired;
};

struct sessions *sessions_new(unsigned max, int64_t ttl_ms);
/* Every entry goes; none may be in use. NULL: no-op. */
void	sessions_free(struct sessions *t);

/*
 * The session key, the entry in use by the caller until its release;
 * a new entry (psession.connected false) on setup when none was there.
 * now: monotonic ms.
 */
struct psession *sessions_acquire(struct sessions *t, const char *key,
	    struct verdict_setup *setup, int64_t now);
void	sessions_release(struct sessions *t, struct psession *p, int64_t now);
/* Drop the entries idle for ttl (the loop calls it now and then). */
void	sessions_expire(struct sessions *t, int64_t now);
void	sessions_get_stats(struct sessions *t, struct sessions_stats *out);

#endif /* SLOWSPAM_POLICY_SESSIONS_H */
