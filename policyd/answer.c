/*
 * answer.c - the action for one request of a message (answer.h).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "answer.h"
#include "conf.h"

static const struct {
	const char	*state;
	enum answer_stage stage;
} stages[] = {
	{ "MAIL", ANSWER_STAGE_MAIL },
	{ "RCPT", ANSWER_STAGE_RCPT },
	{ "DATA", ANSWER_STAGE_DATA },
	{ "BDAT", ANSWER_STAGE_DATA },
	{ "END-OF-MESSAGE", ANSWER_STAGE_EOM },
};

enum answer_stage
answer_stage_parse(const char *protocol_state)
{
	if (protocol_state == NULL)
		return ANSWER_STAGE_NONE;
	for (size_t i = 0; i < sizeof(stages) / sizeof(stages[0]); i++)
		if (strcmp(stages[i].state, protocol_state) == 0)
			return stages[i].stage;
	return ANSWER_STAGE_NONE;
}

const char *
answer_stage_name(enum answer_stage stage)
{
	static const char *const names[] = {
		"none", "mail", "rcpt", "data", "end-of-message",
	};

	return (unsigned)stage < sizeof(names) / sizeof(names[0]) ?
	    names[stage] : "?";
}

void
answer_plan_init(struct answer_plan *p, bool store_tempfail, int action,
    bool header, bool ar)
{
	p->refuse = ANSWER_DUNNO;
	p->pending = 0;
	if (store_tempfail) {
		p->refuse = ANSWER_STORE_TEMPFAIL;
		return;
	}
	if (action == CONF_ACTION_REJECT) {
		p->refuse = ANSWER_REJECT;
		return;
	}
	if (action == CONF_ACTION_TEMPFAIL) {
		p->refuse = ANSWER_TEMPFAIL;
		return;
	}
	if (header)
		p->pending |= 1u << ANSWER_PREPEND_HEADER;
	if (ar)
		p->pending |= 1u << ANSWER_PREPEND_AR;
	if (action == CONF_ACTION_QUARANTINE)
		p->pending |= 1u << ANSWER_HOLD;
	else if (action == CONF_ACTION_DIVERT)
		p->pending |= 1u << ANSWER_REDIRECT;
}

/* May Postfix carry out kind at stage? */
static bool
allowed(enum answer_kind kind, enum answer_stage stage)
{
	if (kind == ANSWER_PREPEND_HEADER || kind == ANSWER_PREPEND_AR)
		return stage != ANSWER_STAGE_EOM;
	return true;
}

enum answer_kind
answer_next(struct answer_plan *p, enum answer_stage stage)
{
	/* Before MAIL FROM there is no message to answer for. */
	if (stage == ANSWER_STAGE_NONE)
		return ANSWER_DUNNO;
	if (p->refuse != ANSWER_DUNNO)
		return p->refuse;
	for (unsigned k = ANSWER_PREPEND_HEADER; k < ANSWER_NKINDS; k++) {
		if ((p->pending & (1u << k)) == 0 ||
		    !allowed((enum answer_kind)k, stage))
			continue;
		/* This one and any skipped before it: order is kept. */
		p->pending &= ~((2u << k) - 1);
		return (enum answer_kind)k;
	}
	return ANSWER_DUNNO;
}

const char *
answer_kind_name(enum answer_kind kind)
{
	static const char *const names[] = {
		"dunno", "reject", "tempfail", "store_tempfail",
		"prepend_header", "prepend_ar", "hold", "redirect",
	};

	return (unsigned)kind < sizeof(names) / sizeof(names[0]) ?
	    names[kind] : "?";
}
