/*
 * judge.h - one policy request to its answer: the session it belongs
 * to (sessions.h), what the verdict engine says of it (verdict.h) and
 * the action for this request of the message (answer.h). Runs on the
 * worker threads: the store and SPF's DNS may make it wait.
 */
#ifndef SLOWSPAM_POLICY_JUDGE_H
#define SLOWSPAM_POLICY_JUDGE_H

#include <stddef.h>
#include <stdint.h>

#include "answer.h"
#include "proto.h"
#include "sessions.h"
#include "verdict.h"

/* Room for any answer: the headers' values are bounded (verdict.c). */
#define JUDGE_REPLY_MAX	4096

struct judge {
	struct verdict_engine *engine;
	struct sessions	*sessions;
};

/*
 * Answer req on setup (the configuration now; the session keeps the one
 * it began with): "action=...\n\n" into reply[0..JUDGE_REPLY_MAX), its
 * length in *len, the action's kind in *kind; true. Never fails:
 * anything unexpected answers DUNNO, logged. conn names the connection
 * req came on (never reused): the same request again on another one is
 * a client that lost the answer, and gets it again.
 *
 * False when another request of the same session is being judged: req
 * is parked under tag (the caller's, not NULL; req must stay as it is)
 * and nothing is answered yet. Either way *next is NULL or the tag of a
 * parked request of the session this call released, which the caller
 * must now judge (calling judge_request for it again) and answer.
 */
bool	judge_request(struct judge *j, struct verdict_setup *setup,
	    const struct policy_request *req, uint64_t conn, void *tag,
	    char *reply, size_t *len, enum answer_kind *kind, void **next);

#endif /* SLOWSPAM_POLICY_JUDGE_H */
