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
 * an entry is used by one worker at a time, and an entry in use is never
 * evicted, so the table may exceed max by at most the number of workers.
 * A request for an entry in use does not wait on a worker: it is parked
 * on the entry, and the worker that releases the entry gets it back to
 * judge next (Postfix's retry of a request stuck in DNS so costs no
 * worker while the first one waits).
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
	/*
	 * Begun at MAIL FROM: the next request of a later stage tells its
	 * real id (Postfix sets instance only after MAIL FROM).
	 */
	bool		adopt;
	struct answer_plan plan;
	char		*header;	/* X-Slowspam value, one line */
	char		*ar;		/* Authentication-Results, one line */
	/*
	 * The message's last request and its answer, for a client that
	 * asks again on a new connection because it never got the answer
	 * (judge.c): last_req is judge.c's fingerprint, NULL for none.
	 */
	char		*last_req;
	uint64_t	last_conn;	/* the connection it came on */
	enum answer_kind last_kind;
	char		*last_text;	/* its action text, NULL for DUNNO */
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
 * now: monotonic ms. NULL when another caller has the entry: tag (the
 * caller's, never NULL) is parked on it, to come back from the release.
 */
struct psession *sessions_acquire(struct sessions *t, const char *key,
	    struct verdict_setup *setup, int64_t now, void *tag);
/*
 * Give the entry back; NULL, or the first tag parked on it, to which the
 * entry now belongs: the caller has that tag acquire key again (it gets
 * the entry at once), in parking order.
 */
void	*sessions_release(struct sessions *t, struct psession *p,
	    int64_t now);
/* Drop the entries idle for ttl (the loop calls it now and then). */
void	sessions_expire(struct sessions *t, int64_t now);
void	sessions_get_stats(struct sessions *t, struct sessions_stats *out);

#endif /* SLOWSPAM_POLICY_SESSIONS_H */
