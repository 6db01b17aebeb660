/*
 * listing.c - what the published DNS list says about a network.
 *
 *	listing_codes		the answers for one record
 *	listing_exclusions	the networks never listed
 *	listing_excluded	is a network inside one of them?
 *	listing_octet		an answer's A record
 *	listing_reason		an answer's name
 *	listing_code_of		an A record's answer
 *	listing_txt		an answer's TXT
 *	listing_txt_parse	the tar pit's times from a TXT
 *
 * Backup-first is decide()'s verdict with the list's expiry as its
 * window and publishing set: the primary's being up after the tar pit's
 * contact must be shown by its liveness marks, since no primary is being
 * contacted as the list is written. A legitimate MTA reaches the backup
 * only when the primary is down or deferred it: down, and the marks
 * around that contact are missing (not listed as backup-first); deferred
 * by the primary's milter, and the primary saw the network first.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "listing.h"

static const char *const reasons[] = { "backup-first", "bot", "seen" };

/* The index of a single code's bit. */
static unsigned
code_index(unsigned code)
{
	return code == LISTING_BACKUP_FIRST ? 0 : code == LISTING_BOT ? 1 : 2;
}

unsigned
listing_codes(const struct verdict_setup *su, const struct hit_record *rec,
    const struct alive *alive, int64_t now)
{
	const struct conf *c = su->conf;
	struct decide_input in = {
		.rec = rec,
		.alive = alive,
		.now = now,
		.window = c->list.expire,
		.margin = c->milter.alive_margin,
		.spf = SPF_NONE_,
		.publishing = true,
	};
	struct decision d;
	unsigned codes = 0;

	if (rec->tarpit_first == 0 || now - rec->tarpit_last > c->list.expire)
		return 0;
	decide(&in, &d);
	if (d.verdict == VERDICT_BACKUP_FIRST ||
	    d.verdict == VERDICT_BACKUP_FIRST_BOT)
		codes |= LISTING_BACKUP_FIRST;
	if (record_bot_evidence(rec))
		codes |= LISTING_BOT;
	if (codes == 0 && c->list.seen)
		codes = LISTING_SEEN;
	return codes;
}

void
listing_exclusions(const struct verdict_setup *su, GArray *out)
{
	const struct conf_cidr_list *t = &su->conf->milter.trusted_networks;
	const struct addr_cidr *nets;
	struct addr_cidr loop;
	size_t n;

	g_array_append_vals(out, t->v, (guint)t->n);
	nets = allow_networks(su->allow, &n);
	g_array_append_vals(out, nets, (guint)n);
	(void)addr_cidr_parse("127.0.0.1/32", &loop, NULL);
	g_array_append_val(out, loop);
}

bool
listing_excluded(const struct verdict_setup *su, const struct addr_cidr *net)
{
	g_autoptr(GArray) ex = g_array_new(FALSE, FALSE,
	    sizeof(struct addr_cidr));

	listing_exclusions(su, ex);
	for (guint i = 0; i < ex->len; i++) {
		const struct addr_cidr *e = &g_array_index(ex, struct addr_cidr,
		    i);

		if (e->net.family == net->net.family &&
		    e->prefix <= net->prefix && addr_cidr_match(e, &net->net))
			return true;
	}
	return false;
}

unsigned
listing_octet(unsigned code)
{
	return 2 + code_index(code);
}

const char *
listing_reason(unsigned code)
{
	return reasons[code_index(code)];
}

unsigned
listing_code_of(const uint8_t a[4])
{
	if (a[0] != 127 || a[1] != 0 || a[2] != 0)
		return 0;
	switch (a[3]) {
	case 2:
		return LISTING_BACKUP_FIRST;
	case 3:
		return LISTING_BOT;
	case 4:
		return LISTING_SEEN;
	default:
		return 0;
	}
}

const char *
listing_txt(unsigned code, const struct hit_record *rec, char *buf)
{
	char first[RECORD_TIME_LEN], last[RECORD_TIME_LEN];

	g_snprintf(buf, LISTING_TXT_LEN, "%s; first=%s; last=%s",
	    listing_reason(code), record_format_time(rec->tarpit_first, first),
	    record_format_time(rec->tarpit_last, last));
	return buf;
}

/* text[0..len) begins with prefix; its length, or 0 if it does not. */
static size_t
starts(const char *text, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && memcmp(text, prefix, n) == 0 ? n : 0;
}

bool
listing_txt_parse(const char *text, size_t len, int64_t *first,
    int64_t *last)
{
	/* "; first=" + a time + "; last=" + a time, after the reason. */
	const size_t tlen = RECORD_TIME_CHARS;
	size_t n = 0, k;

	for (size_t i = 0; i < G_N_ELEMENTS(reasons) && n == 0; i++)
		n = starts(text, len, reasons[i]);
	if (n == 0 || (k = starts(text + n, len - n, "; first=")) == 0)
		return false;
	n += k;
	if (len - n < tlen || !record_parse_time(text + n, tlen, first))
		return false;
	n += tlen;
	if ((k = starts(text + n, len - n, "; last=")) == 0)
		return false;
	n += k;
	return len - n == tlen && record_parse_time(text + n, tlen, last) &&
	    *first <= *last;
}
