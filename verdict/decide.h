/*
 * decide.h - the verdict on one client, as a pure function of
 * its hit record, the primary's liveness and the clock.
 */
#ifndef SLOWSPAM_DECIDE_H
#define SLOWSPAM_DECIDE_H

#include <stdbool.h>
#include <stdint.h>

#include "alive.h"
#include "conf.h"
#include "record.h"

enum verdict {
	VERDICT_NONE,		/* the tar pit did not see it first */
	VERDICT_UNPROVEN,	/* it did, but the primary was maybe down */
	VERDICT_BACKUP_FIRST,
	VERDICT_BACKUP_FIRST_BOT, /* ... and the tar pit saw a bot */
};

/* RFC 7208 results, as libspf2 reports them. */
enum spf_result {
	SPF_NONE_, SPF_NEUTRAL_, SPF_PASS_, SPF_FAIL_, SPF_SOFTFAIL_,
	SPF_TEMPERROR_, SPF_PERMERROR_,
};

struct decide_input {
	const struct hit_record *rec;	/* before this contact; NULL: none */
	const struct alive *alive;	/* when the primary was up */
	int64_t		now;		/* ms */
	int64_t		started;	/* the daemon's start, ms */
	int64_t		window, margin, grace;
	enum spf_result	spf;		/* SPF_NONE_ if not checked */
	/*
	 * For the published list (listing.c): now is not a contact at a
	 * running primary, so it proves nothing about the primary.
	 */
	bool		publishing;
	/* A DNS list says the tar pit saw a bot (dnsxl.h). */
	bool		listed_bot;
};

struct decision {
	enum verdict	verdict;
	bool		bot_evidence;	/* from the tar pit's record */
	bool		spf_bad;	/* SPF fail or softfail */
	const char	*why;		/* one phrase, for logs and headers */
};

/*
 * The one place SPF is folded in: in->spf fail or softfail makes a
 * backup-first client a bot (verdict_mail calls it again with each
 * message's result; at connect it is SPF_NONE_).
 */
void	decide(const struct decide_input *in, struct decision *out);

/* The action for a decision: none (-1), or action / action_bot. */
int	decide_action(const struct decision *d, const struct conf_milter *c);

const char *verdict_name(enum verdict v);
const char *spf_result_name(enum spf_result r);

#endif /* SLOWSPAM_DECIDE_H */
