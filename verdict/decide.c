/*
 * decide.c - backup-first, and what to do about it.
 *
 *	decide		the verdict on a client
 *	decide_action	the configured action for a verdict
 *
 * Backup-first (slowspam-milter(8)): the tar pit saw the network no longer than
 * window ago, and the primary had not seen it before its first tar-pit
 * contact (record_backup_first). It only counts if the primary was
 * demonstrably accepting mail around the latest tar-pit contact T: the
 * liveness record has a marked minute within margin before T (before
 * T's own minute) and one within margin after it (or T is that recent
 * and we are up now), and T
 * is not within grace after this milter started. A legitimate MTA only
 * goes to the backup when the primary failed for it; then the primary
 * was down around T, and the verdict is "unproven" (a header at most).
 *
 * Bot evidence: any evidence flag of the tar pit, or a HELO it saw that
 * is neither a domain name nor an address literal (a single label, a
 * bare address, invalid, too long); SPF fail or softfail counts too.
 * Either raises action to action_bot.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "decide.h"

static const char *const verdict_names[] = {
	"none", "unproven", "backup-first", "backup-first-bot",
};

static const char *const spf_names[] = {
	"none", "neutral", "pass", "fail", "softfail", "temperror", "permerror",
};

/* Was the primary up around t, by the liveness record? */
static bool
primary_up(const struct decide_input *in, int64_t t, const char **why)
{
	if (t >= in->started && t < in->started + in->grace) {
		*why = "tar-pit contact during the milter's start-up grace";
		return false;
	}
	/*
	 * Before: a minute strictly before the contact's own, so this very
	 * connection (or one in the same minute) never proves it.
	 */
	if (!alive_any(in->alive, t - in->margin, t - ALIVE_MINUTE_MS)) {
		*why = "primary not seen up before the tar-pit contact";
		return false;
	}
	/*
	 * A primary asking is up now: if t is that recent, now proves the
	 * "after". The published list has only the marks.
	 */
	if ((in->publishing || in->now - t > in->margin) &&
	    !alive_any(in->alive, t, t + in->margin)) {
		*why = "primary not seen up after the tar-pit contact";
		return false;
	}
	return true;
}

void
decide(const struct decide_input *in, struct decision *out)
{
	const struct hit_record *r = in->rec;

	out->verdict = VERDICT_NONE;
	out->bot_evidence = false;
	out->spf_bad = in->spf == SPF_FAIL_ || in->spf == SPF_SOFTFAIL_;
	out->why = "the tar pit did not see it first";
	if (r == NULL || !record_backup_first(r, in->now, in->window))
		return;
	if (!primary_up(in, r->tarpit_last, &out->why)) {
		out->verdict = VERDICT_UNPROVEN;
		return;
	}
	out->bot_evidence = record_bot_evidence(r) || in->listed_bot;
	out->verdict = out->bot_evidence || out->spf_bad ?
	    VERDICT_BACKUP_FIRST_BOT : VERDICT_BACKUP_FIRST;
	out->why = out->bot_evidence ? "backup MX first, with bot evidence" :
	    out->spf_bad ? "backup MX first, and SPF failed" :
	    "backup MX first";
}

int
decide_action(const struct decision *d, const struct conf_milter *c)
{
	switch (d->verdict) {
	case VERDICT_BACKUP_FIRST:
		return (int)c->action;
	case VERDICT_BACKUP_FIRST_BOT:
		return (int)c->action_bot;
	default:
		return -1;
	}
}

const char *
verdict_name(enum verdict v)
{
	return (unsigned)v < G_N_ELEMENTS(verdict_names) ? verdict_names[v] :
	    "unknown";
}

const char *
spf_result_name(enum spf_result r)
{
	return (unsigned)r < G_N_ELEMENTS(spf_names) ? spf_names[r] :
	    "unknown";
}
