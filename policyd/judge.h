/*
 * judge.h - one policy request to its answer: the session it belongs
 * to (sessions.h), what the verdict engine says of it (verdict.h) and
 * the action for this request of the message (answer.h). Runs on the
 * worker threads: the store and SPF's DNS may make it wait.
 */
#ifndef SLOWSPAM_POLICY_JUDGE_H
#define SLOWSPAM_POLICY_JUDGE_H

#include <stddef.h>

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
 * length in *len. Never fails: anything unexpected answers DUNNO,
 * logged.
 */
enum answer_kind judge_request(struct judge *j, struct verdict_setup *setup,
	    const struct policy_request *req, char *reply, size_t *len);

#endif /* SLOWSPAM_POLICY_JUDGE_H */
