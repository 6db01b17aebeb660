/*
 * answer.h - which action slowspam-policyd gives Postfix for one request
 * of a message, as a pure function of what the message still needs and
 * the stage Postfix asks at.
 *
 * Postfix takes one action per request and asks once per recipient
 * (smtpd_recipient_restrictions), once at DATA and once at END-OF-MESSAGE
 * when check_policy_service is in those restriction lists too. A refusal
 * (reject, tempfail, the store's tempfail) is the answer to every request
 * of the message. Otherwise the message's pending actions are handed out
 * one a request, in this order: PREPEND X-Slowspam, PREPEND
 * Authentication-Results, then HOLD (quarantine) or REDIRECT (divert).
 * A request gets the first pending one that its stage allows; PREPEND is
 * not allowed at END-OF-MESSAGE (access(5)), so there the prepends still
 * pending are given up for the HOLD or REDIRECT. Nothing pending: DUNNO.
 */
#ifndef SLOWSPAM_POLICY_ANSWER_H
#define SLOWSPAM_POLICY_ANSWER_H

#include <stdbool.h>

/* Where in the SMTP session Postfix asks (its protocol_state). */
enum answer_stage {
	ANSWER_STAGE_NONE,	/* CONNECT, EHLO, HELO, VRFY, ETRN: no message */
	ANSWER_STAGE_MAIL,
	ANSWER_STAGE_RCPT,
	ANSWER_STAGE_DATA,	/* DATA and BDAT */
	ANSWER_STAGE_EOM,	/* END-OF-MESSAGE */
};

/* Postfix's protocol_state to a stage; NULL or unknown: NONE. */
enum answer_stage answer_stage_parse(const char *protocol_state);
const char *answer_stage_name(enum answer_stage stage);

/* One answer. */
enum answer_kind {
	ANSWER_DUNNO,
	ANSWER_REJECT,		/* 550 5.7.1 */
	ANSWER_TEMPFAIL,	/* 451 4.7.1 */
	ANSWER_STORE_TEMPFAIL,	/* 451 4.3.0 */
	ANSWER_PREPEND_HEADER,	/* X-Slowspam */
	ANSWER_PREPEND_AR,	/* Authentication-Results */
	ANSWER_HOLD,		/* quarantine */
	ANSWER_REDIRECT,	/* divert */
};
#define ANSWER_NKINDS	(ANSWER_REDIRECT + 1)

/* What one message still needs. */
struct answer_plan {
	enum answer_kind refuse;	/* DUNNO, or the refusal for all */
	unsigned	pending;	/* 1u << kind, PREPEND_HEADER.. */
};

/*
 * The plan for a message: store_tempfail (the store failed, [milter]
 * on_store_error = tempfail), action (enum conf_action, or -1 for none),
 * header (the verdict is not "none": X-Slowspam is due), ar (SPF was
 * checked: Authentication-Results is due).
 */
void	answer_plan_init(struct answer_plan *p, bool store_tempfail,
	    int action, bool header, bool ar);

/* The answer to one request of the message at stage; updates p. */
enum answer_kind answer_next(struct answer_plan *p, enum answer_stage stage);

/* "dunno", "reject", ..., "redirect": for logs and metrics labels. */
const char *answer_kind_name(enum answer_kind kind);

#endif /* SLOWSPAM_POLICY_ANSWER_H */
