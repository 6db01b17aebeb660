/*
 * verdict.c - the verdict on an SMTP session, whichever MTA asks.
 *
 *	verdict_setup_*		a configuration and its allow-list, shared
 *	verdict_engine_*	the store, SPF, the start time, the counters
 *	verdict_connect		exemptions, the store, the primary alive
 *	verdict_helo		an allow-listed HELO with SPF pass exempts
 *	verdict_mail		authenticated? SPF; the message's action
 *	verdict_reply		the SMTP reply for a tempfail or a reject
 *	verdict_header		X-Slowspam
 *	verdict_ar_header	Authentication-Results, folded or one line
 *
 * The decision itself is decide() (decide.c), called with the session's
 * record and liveness as they were at connect: once then without SPF
 * (the session's decision), once per message with its SPF result, so
 * SPF is folded in at one place only.
 *
 * The store at connect: the record is read (a read transaction: no
 * sync, no writer lock); the contact is queued on the engine's storeq
 * and written behind the answer, batched with the other sessions'
 * contacts in one transaction. The primary's liveness is read only when
 * the record makes the client a backup-first candidate
 * (record_backup_first), and only the minutes decide() looks at: within
 * alive_margin of the record's latest tar-pit contact. Most clients the
 * tar pit never saw cost one read of their record and nothing else.
 *
 * The DNS list (dnsxl.c): verdict_connect starts the lookup for a client
 * not exempt, so the DNS overlaps the HELO; the first verdict_mail waits
 * for it until tarpit_list_timeout after the connect, merges what it
 * says into the session's record (verdict_list_merge) and judges the
 * session again, reading the liveness then if the merge made the client
 * a candidate (or moved its tar-pit contact). A list that does not
 * answer is no evidence (fail open).
 *
 * Counters: one table (counter_rows, metrics.h) names every counter,
 * its help text, its label and its key in the SIGUSR1 totals line; the
 * Prometheus text and the totals line are both written from it.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <inttypes.h>
#include <stddef.h>
#include <string.h>

#include "complain.h"
#include "listing.h"
#include "log.h"
#include "metrics.h"
#include "parse.h"
#include "storeq.h"
#include "verdict.h"

/*
 * Contacts the queue holds before it drops them: at 25,000 new sessions
 * a second that is a third of a second of a stalled disk.
 */
#define CONTACT_QUEUE	8192

/* Upper bounds of the lookup-latency buckets, in seconds. */
static const double lookup_bounds[] = {
	0.0005, 0.001, 0.005, 0.01, 0.05, 0.1,
};
#define NBOUNDS	G_N_ELEMENTS(lookup_bounds)

/* The same for the DNS list's lookups: a LAN, a WAN, a slow server. */
static const double list_bounds[] = {
	0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2,
};
#define NLBOUNDS	G_N_ELEMENTS(list_bounds)

/* What the engine counts, under its lock. */
struct counts {
	uint64_t	connections;
	uint64_t	exempt;
	uint64_t	store_errors;
	uint64_t	liveness_reads;		/* of the primary's, by verdicts */
	uint64_t	verdicts[VERDICT_BACKUP_FIRST_BOT + 1];
	uint64_t	actions[CONF_ACTION_REJECT + 1];
	uint64_t	spf[SPF_PERMERROR_ + 1];
	uint64_t	lookup[NBOUNDS + 1];	/* per bucket, +Inf last */
	double		lookup_sum;		/* seconds */
	uint64_t	list[DNSXL_NRESULTS];	/* DNS list lookups, by result */
	uint64_t	list_time[NLBOUNDS + 1];
	double		list_sum;
	/* Filled in the snapshot only: */
	uint64_t	acted;			/* the sum of actions */
	struct storeq_stats contacts;		/* the contact queue's */
};

struct verdict_engine {
	struct store	*store;
	struct spf	*spf;
	struct dnsxl	*dnsxl;		/* NULL: no DNS list */
	int64_t		started;
	struct storeq	*contacts;	/* sessions' contacts, written behind */
	GMutex		lock;		/* counts, drop_* */
	struct counts	counts;
	gint64		drop_logged;	/* monotonic us of the last line */
	uint64_t	drop_quiet;	/* dropped since, unlogged */
	/* mark_alive: */
	gint		alive_minute;	/* last minute marked */
	GMutex		alive_lock;
	int64_t		alive_newest;	/* for alive_clock_ok */
	bool		alive_behind;
	struct complaint store_complaint;	/* complain_store */
};

static const char *const contact_results[] = {
	"written", "dropped", "failed"
};
G_STATIC_ASSERT(offsetof(struct storeq_stats, failed) ==
    offsetof(struct storeq_stats, written) + 2 * sizeof(uint64_t));
G_STATIC_ASSERT(offsetof(struct storeq_stats, dropped) ==
    offsetof(struct storeq_stats, written) + sizeof(uint64_t));

static const char *
verdict_label(unsigned i)
{
	return verdict_name((enum verdict)i);
}

static const char *
action_label(unsigned i)
{
	return conf_action_name((enum conf_action)i);
}

static const char *
spf_label(unsigned i)
{
	return spf_result_name((enum spf_result)i);
}

static const char *
list_label(unsigned i)
{
	return dnsxl_result_name((enum dnsxl_result)i);
}

/*
 * The counters, each described once (metrics.h), the Prometheus names
 * after "PREFIX_". The totals line has kept its four fields since 0.1.0:
 * connections, verdicts (the messages acted on, a sum), exempt and
 * store_errors.
 */
static const struct metrics_row counter_rows[] = {
	{ .name = "connections_total",
	  .help = "SMTP connections the MTA passed on.",
	  .key = "connections",
	  .offset = offsetof(struct counts, connections) },
	{ .name = "verdicts_total",
	  .help = "Messages judged (not exempt), by verdict.",
	  .offset = offsetof(struct counts, verdicts),
	  .label = "verdict", .value_name = verdict_label,
	  .count = VERDICT_BACKUP_FIRST_BOT + 1 },
	{ .name = "actions_total", .help = "Messages acted on, by action.",
	  .offset = offsetof(struct counts, actions),
	  .label = "action", .value_name = action_label,
	  .count = CONF_ACTION_REJECT + 1 },
	{ .key = "verdicts", .offset = offsetof(struct counts, acted) },
	{ .name = "exempt_total",
	  .help = "Messages exempt (local, trusted, allow-listed, "
	    "authenticated).",
	  .key = "exempt", .offset = offsetof(struct counts, exempt) },
	{ .name = "store_errors_total",
	  .help = "Store failures at connect (the mail went on, or was "
	    "tempfailed with on_store_error = tempfail).",
	  .key = "store_errors",
	  .offset = offsetof(struct counts, store_errors) },
	{ .name = "spf_results_total", .help = "SPF checks, by result.",
	  .offset = offsetof(struct counts, spf),
	  .label = "result", .value_name = spf_label,
	  .count = SPF_PERMERROR_ + 1 },
	{ .name = "store_events_total",
	  .help = "Primary contacts (and the minute's alive mark) queued "
	    "for the store, by result: written, dropped (queue full), "
	    "failed (store error).",
	  .offset = offsetof(struct counts, contacts.written),
	  .label = "result", .values = contact_results,
	  .count = G_N_ELEMENTS(contact_results) },
	{ .name = "store_batches_total",
	  .help = "Transactions that wrote the queued primary contacts.",
	  .offset = offsetof(struct counts, contacts.batches) },
	{ .name = "store_liveness_reads_total",
	  .help = "Reads of the primary's liveness: one per session the "
	    "record (or the DNS list) makes backup-first, none for the "
	    "others.",
	  .offset = offsetof(struct counts, liveness_reads) },
	/* Out of the totals line (no key), which keeps its fields. */
	{ .name = "alive_marked_timestamp_seconds",
	  .help = "When the newest mark of the primary alive that this "
	    "process wrote to the store was made (Unix time); 0: none yet. "
	    "Without marks no tar-pit contact counts as backup-first.",
	  .kind = METRICS_GAUGE, .divisor = 1000,
	  .offset = offsetof(struct counts, contacts.alive_newest) },
	{ .name = "list_lookups_total",
	  .help = "DNS list (tarpit_list) lookups, by result: listed, "
	    "not_listed, timeout, failed, overflow (the last three fail "
	    "open).",
	  .offset = offsetof(struct counts, list),
	  .label = "result", .value_name = list_label,
	  .count = DNSXL_NRESULTS },
};

static void
snapshot(struct verdict_engine *e, struct counts *out)
{
	g_mutex_lock(&e->lock);
	*out = e->counts;
	g_mutex_unlock(&e->lock);
	out->acted = 0;
	for (size_t i = 0; i < G_N_ELEMENTS(out->actions); i++)
		out->acted += out->actions[i];
	storeq_get_stats(e->contacts, &out->contacts);
}

void
verdict_engine_metrics(struct verdict_engine *e, GString *out,
    const char *prefix)
{
	struct metrics_row rows[G_N_ELEMENTS(counter_rows)];
	char names[G_N_ELEMENTS(counter_rows)][128], name[128];
	struct counts c;

	snapshot(e, &c);
	/* The same rows, their names under this daemon's prefix. */
	for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
		rows[i] = counter_rows[i];
		if (rows[i].name == NULL)
			continue;
		g_snprintf(names[i], sizeof(names[i]), "%s_%s", prefix,
		    rows[i].name);
		rows[i].name = names[i];
	}
	metrics_table_render(out, rows, G_N_ELEMENTS(rows), &c);
	g_snprintf(name, sizeof(name), "%s_lookup_seconds", prefix);
	metrics_histogram(out, name, "Time of the store lookup at connect.",
	    lookup_bounds, c.lookup, NBOUNDS, c.lookup_sum);
	g_snprintf(name, sizeof(name), "%s_list_lookup_seconds", prefix);
	metrics_histogram(out, name, "Time of the DNS list lookup, from the "
	    "connect to its answer or its deadline.", list_bounds, c.list_time,
	    NLBOUNDS, c.list_sum);
}

void
verdict_engine_totals(struct verdict_engine *e, GString *out)
{
	static const char name[] = "totals";
	struct log_event ev;
	struct counts c;

	snapshot(e, &c);
	log_event_begin(&ev, name);
	metrics_table_totals(&ev, counter_rows, G_N_ELEMENTS(counter_rows),
	    &c);
	/* The fields, without the event's name and the blank after it. */
	if (ev.len > sizeof(name))
		g_string_append_len(out, ev.buf + sizeof(name),
		    (gssize)(ev.len - sizeof(name)));
}

/* Add one to the counter at off (a uint64_t in struct counts). */
static void
count(struct verdict_engine *e, size_t off)
{
	g_mutex_lock(&e->lock);
	(*(uint64_t *)(void *)((char *)&e->counts + off))++;
	g_mutex_unlock(&e->lock);
}

/* Count the verdict on a message and its action (-1: none). */
static void
count_verdict(struct verdict_engine *e, enum verdict v, int action)
{
	g_mutex_lock(&e->lock);
	if ((unsigned)v < G_N_ELEMENTS(e->counts.verdicts))
		e->counts.verdicts[v]++;
	if (action >= 0 && (unsigned)action < G_N_ELEMENTS(e->counts.actions))
		e->counts.actions[action]++;
	g_mutex_unlock(&e->lock);
}

static void
count_spf(struct verdict_engine *e, enum spf_result r)
{
	g_mutex_lock(&e->lock);
	if ((unsigned)r < G_N_ELEMENTS(e->counts.spf))
		e->counts.spf[r]++;
	g_mutex_unlock(&e->lock);
}

/* The bucket of bounds[0..n) that sec falls in; n for +Inf. */
static size_t
bucket(const double *bounds, size_t n, double sec)
{
	size_t i;

	for (i = 0; i < n && sec > bounds[i]; i++)
		;
	return i;
}

/* One store lookup at connect took us microseconds. */
static void
count_lookup(struct verdict_engine *e, gint64 us)
{
	double sec = (double)us / 1e6;
	size_t i = bucket(lookup_bounds, NBOUNDS, sec);

	g_mutex_lock(&e->lock);
	e->counts.lookup[i]++;
	e->counts.lookup_sum += sec;
	g_mutex_unlock(&e->lock);
}

/* One DNS list lookup ended with r after us microseconds. */
static void
count_list(struct verdict_engine *e, enum dnsxl_result r, gint64 us)
{
	double sec = (double)us / 1e6;
	size_t i = bucket(list_bounds, NLBOUNDS, sec);

	g_mutex_lock(&e->lock);
	if ((unsigned)r < G_N_ELEMENTS(e->counts.list))
		e->counts.list[r]++;
	e->counts.list_time[i]++;
	e->counts.list_sum += sec;
	g_mutex_unlock(&e->lock);
}

static void
setup_clear(gpointer p)
{
	struct verdict_setup *s = p;

	conf_free(s->conf);
	allow_free(s->allow);
}

struct verdict_setup *
verdict_setup_load(const char *path, const char *const *overrides,
    GError **error)
{
	struct conf *c = conf_load(path, overrides, error);
	struct allow *al = NULL;
	struct verdict_setup *s;

	if (c == NULL)
		return NULL;
	if (c->milter.allow_list[0] != '\0' &&
	    (al = allow_load(c->milter.allow_list, error)) == NULL) {
		conf_free(c);
		return NULL;
	}
	/* Atomic: sessions release it from their own threads. */
	s = g_atomic_rc_box_new0(struct verdict_setup);
	s->conf = c;
	s->allow = al;
	return s;
}

struct verdict_setup *
verdict_setup_ref(struct verdict_setup *s)
{
	return g_atomic_rc_box_acquire(s);
}

void
verdict_setup_unref(struct verdict_setup *s)
{
	if (s != NULL)
		g_atomic_rc_box_release_full(s, setup_clear);
}

struct verdict_engine *
verdict_engine_new(struct store *store, struct spf *spf, struct dnsxl *dnsxl,
    int64_t started)
{
	struct verdict_engine *e = g_new0(struct verdict_engine, 1);

	e->store = store;
	e->spf = spf;
	e->dnsxl = dnsxl;
	e->started = started;
	g_mutex_init(&e->lock);
	g_mutex_init(&e->alive_lock);
	complaint_init(&e->store_complaint);
	e->contacts = storeq_new(store, CONTACT_QUEUE);
	return e;
}

void
verdict_engine_flush(struct verdict_engine *e)
{
	storeq_flush(e->contacts);
}

void
verdict_engine_free(struct verdict_engine *e)
{
	if (e == NULL)
		return;
	storeq_free(e->contacts);	/* writes what is queued */
	g_mutex_clear(&e->lock);
	g_mutex_clear(&e->alive_lock);
	complaint_clear(&e->store_complaint);
	g_free(e);
}

/* Reset what belongs to one message. */
static void
message_clear(struct verdict_session *s)
{
	g_clear_pointer(&s->mail_from, g_free);
	s->spf = SPF_NONE_;
	s->spf_done = false;
	s->msg = s->decision;
	s->action = -1;
}

void
verdict_session_init(struct verdict_session *s, struct verdict_setup *setup)
{
	memset(s, 0, sizeof(*s));
	s->setup = verdict_setup_ref(setup);
	s->decision.verdict = VERDICT_NONE;
	s->decision.why = "no verdict";
	message_clear(s);
}

void
verdict_session_clear(struct verdict_session *s)
{
	message_clear(s);
	g_clear_pointer(&s->helo, g_free);
	g_clear_pointer(&s->list_lookup, dnsxl_lookup_free);
	g_clear_pointer(&s->setup, verdict_setup_unref);
}

/*
 * Mark the primary alive, once a minute per engine; not while the wall
 * clock is behind the newest minute marked (alive_clock_ok), which is
 * logged when it starts and when it ends. The mark is queued with the
 * contacts, so no connection waits on its write.
 */
static void
mark_alive(struct verdict_engine *e, int64_t now)
{
	gint minute = (gint)(now / ALIVE_MINUTE_MS);
	gint last = g_atomic_int_get(&e->alive_minute);
	bool ok;

	if (minute == last ||
	    !g_atomic_int_compare_and_exchange(&e->alive_minute, last, minute))
		return;
	g_mutex_lock(&e->alive_lock);
	ok = alive_clock_ok(&e->alive_newest, now);
	if (ok && e->alive_behind)
		log_msg(LOG_NOTICE, "the clock caught up: marking the primary "
		    "alive again");
	else if (!ok && !e->alive_behind)
		log_msg(LOG_WARNING, "the clock went back %" PRId64 " minutes: "
		    "the primary is not marked alive until it catches up "
		    "(restart to believe it)",
		    e->alive_newest - now / ALIVE_MINUTE_MS);
	e->alive_behind = !ok;
	g_mutex_unlock(&e->alive_lock);
	if (ok && !storeq_push_alive(e->contacts, now))
		log_msg(LOG_WARNING, "%s: the write queue is full: the primary "
		    "is not marked alive this minute", store_describe(e->store));
}

/*
 * Log a store failure: the first at once, then at most one line a
 * minute saying how many more there were (a down store would otherwise
 * give a line per connection).
 */
static void
complain_store(struct verdict_engine *e, const struct verdict_session *s,
    const GError *err)
{
	count(e, offsetof(struct counts, store_errors));
	complain(&e->store_complaint, LOG_WARNING, "%s: store unavailable, "
	    "%s: %s", s->netkey, s->store_failed ? "tempfail" : "no verdict",
	    err->message);
}

static void
exempt(struct verdict_session *s, const char *why)
{
	s->exempt = true;
	s->exempt_why = why;
}

/* The exemptions by address and host name; true if one applies. */
static bool
exempt_client(struct verdict_session *s, const char *name,
    bool name_confirmed)
{
	const struct verdict_setup *su = s->setup;
	const struct conf_milter *mc = &su->conf->milter;
	char text[ADDR_STRLEN];

	if (addr_cidr_list_match(mc->trusted_networks.v,
	    mc->trusted_networks.n, &s->addr))
		exempt(s, "trusted network");
	else if (allow_addr(su->allow, &s->addr))
		exempt(s, "allow-list (network)");
	else if (name != NULL && allow_domain(su->allow, name, strlen(name))) {
		/* A name that does not resolve back is only a claim. */
		if (name_confirmed)
			exempt(s, "allow-list (reverse DNS name)");
		else
			log_msg(LOG_INFO, "%s: host name %s is on the "
			    "allow-list, but it is not confirmed (does not "
			    "resolve back): not exempt",
			    addr_format(&s->addr, text), name);
	}
	return s->exempt;
}

/* The decision for the session's record and liveness, with SPF spf. */
static void
judge(const struct verdict_engine *e, const struct verdict_session *s,
    enum spf_result spf, struct decision *out)
{
	const struct conf_milter *mc = &s->setup->conf->milter;
	struct decide_input in = {
		.rec = &s->rec,		/* all zero when the store had none */
		.alive = &s->alive,
		.now = s->connected,
		.started = e->started,
		.window = mc->window,
		.margin = mc->alive_margin,
		.grace = mc->grace,
		.spf = spf,
		.listed_bot = s->listed_bot,
	};

	decide(&in, out);
}

/*
 * The queue had no room for a contact (the queue counts it): logged at
 * once, then at most a line a minute with the number since.
 */
static void
contact_dropped(struct verdict_engine *e, const struct verdict_session *s)
{
	gint64 now = g_get_monotonic_time();
	uint64_t more = 0;
	bool say = false;

	g_mutex_lock(&e->lock);
	if (e->drop_logged == 0 || now - e->drop_logged >= 60 * G_USEC_PER_SEC) {
		say = true;
		more = e->drop_quiet;
		e->drop_quiet = 0;
		e->drop_logged = now;
	} else {
		e->drop_quiet++;
	}
	g_mutex_unlock(&e->lock);
	if (say)
		log_msg(LOG_WARNING, "%s: store queue full, primary contact "
		    "not recorded (%" PRIu64 " more since the last such line)",
		    s->netkey, more);
}

/*
 * The primary's liveness around the record's latest tar-pit contact t,
 * if the record makes the client a backup-first candidate (else decide
 * never looks at it) and it was not read for t already: the minutes
 * decide() asks about, t - alive_margin .. t + alive_margin, and only
 * those, whatever the backend read (so no verdict leans on a minute one
 * backend happens to read and another not). late: read after the
 * connect (the DNS list's merge), when this session and later ones may
 * have marked the minutes since: those are forgotten too, so that it is
 * the liveness as it was before this connection, which proves nothing
 * (earlier sessions' marks in the connect's minute go with them: a
 * verdict only ever weaker). False: the store failed.
 */
static bool
liveness(struct verdict_engine *e, struct verdict_session *s, bool late,
    GError **err)
{
	const struct conf_milter *mc = &s->setup->conf->milter;
	int64_t t = s->rec.tarpit_last, from, to;

	if (!record_backup_first(&s->rec, s->connected, mc->window) ||
	    (s->alive_read && s->alive_around == t))
		return true;
	count(e, offsetof(struct counts, liveness_reads));
	s->alive_read = false;
	from = t - mc->alive_margin;
	to = t + mc->alive_margin;
	if (!store_alive_get_range(e->store, from, to, &s->alive, err))
		return false;
	/* The minute before the connect's, at the latest. */
	if (late)
		to = MIN(to, s->connected / ALIVE_MINUTE_MS * ALIVE_MINUTE_MS -
		    1);
	alive_keep(&s->alive, from, to);
	s->alive_read = true;
	s->alive_around = t;
	return true;
}

/* The store failed for the session: no verdict, or a tempfail. */
static void
session_store_error(struct verdict_engine *e, struct verdict_session *s,
    const GError *err)
{
	s->store_failed = s->setup->conf->milter.on_store_error ==
	    CONF_ON_ERROR_TEMPFAIL;
	s->judged = false;
	s->decision.verdict = VERDICT_NONE;
	s->decision.why = "no verdict";
	complain_store(e, s, err);
}

/*
 * Read the client's record (and, for a candidate, the liveness) as they
 * were before this contact, then queue the contact: the answer does not
 * wait on its write. False: the store failed (and nothing is queued).
 */
static bool
lookup(struct verdict_engine *e, struct verdict_session *s)
{
	const struct conf *conf = s->setup->conf;
	g_autoptr(GError) err = NULL;
	gint64 t0;
	bool ok, found = false;

	addr_netkey(&s->addr, conf->store.ipv4_prefix,
	    conf->store.ipv6_prefix, s->netkey);
	t0 = g_get_monotonic_time();
	ok = store_lookup(e->store, s->netkey, &s->rec, &found, &err);
	if (ok && !found)
		memset(&s->rec, 0, sizeof(s->rec));
	/* Before this connection marks the primary alive (mark_alive). */
	ok = ok && liveness(e, s, false, &err);
	count_lookup(e, g_get_monotonic_time() - t0);
	if (!ok) {
		session_store_error(e, s, err);
		return false;
	}
	if (!storeq_push_contact(e->contacts, s->netkey, s->connected))
		contact_dropped(e, s);
	return true;
}

/*
 * Start the DNS list's lookup, if there is a list: the session's setup
 * names the zone (a reload may change it), the engine's dnsxl asks.
 */
static void
list_start(struct verdict_engine *e, struct verdict_session *s)
{
	const struct conf_milter *mc = &s->setup->conf->milter;

	if (e->dnsxl == NULL || mc->tarpit_list[0] == '\0')
		return;
	s->list_deadline = g_get_monotonic_time() +
	    mc->tarpit_list_timeout * 1000;
	s->list_lookup = dnsxl_start(e->dnsxl, &s->addr, mc->tarpit_list);
}

bool
verdict_list_merge(struct hit_record *rec, const struct dnsxl_answer *a,
    int64_t now, int64_t window)
{
	if (a->result != DNSXL_LISTED || a->first <= 0 || a->last < a->first)
		return false;
	/* A contact too old for this site's judgement, or not yet made. */
	if (now - a->last > window || a->last - now > VERDICT_LIST_SKEW_MS)
		return false;
	if (rec->tarpit_first == 0 || a->first < rec->tarpit_first)
		rec->tarpit_first = a->first;
	rec->tarpit_last = MAX(rec->tarpit_last, a->last);
	return true;
}

/*
 * Collect the DNS list's answer (once: the lookup is freed), merge it
 * into the record and judge the session again with it.
 */
static void
list_collect(struct verdict_engine *e, struct verdict_session *s)
{
	const struct conf_milter *mc = &s->setup->conf->milter;
	g_autoptr(GError) err = NULL;
	struct dnsxl_answer a;
	gint64 us;

	if (s->list_lookup == NULL)
		return;
	dnsxl_wait(s->list_lookup, s->list_deadline, &a, &us);
	g_clear_pointer(&s->list_lookup, dnsxl_lookup_free);
	count_list(e, a.result, us);
	if (!s->judged ||
	    !verdict_list_merge(&s->rec, &a, s->connected,
	    mc->tarpit_list_window))
		return;
	s->tarpit_list = true;
	s->listed_bot = (a.codes & LISTING_BOT) != 0;
	if (!liveness(e, s, true, &err)) {
		session_store_error(e, s, err);
		return;
	}
	judge(e, s, SPF_NONE_, &s->decision);
}

void
verdict_connect(struct verdict_engine *e, struct verdict_session *s,
    const struct addr *client, const char *name, bool name_confirmed,
    int64_t now)
{
	count(e, offsetof(struct counts, connections));
	s->connected = now;
	if (client == NULL) {
		exempt(s, "local");
	} else {
		s->addr = *client;
		s->have_addr = true;
		if (!exempt_client(s, name, name_confirmed)) {
			list_start(e, s);
			if (lookup(e, s)) {
				s->judged = true;
				s->tarpit_store = s->rec.tarpit_first != 0;
				judge(e, s, SPF_NONE_, &s->decision);
			}
		}
	}
	message_clear(s);
	/* Every connection shows the primary up, whatever becomes of it. */
	mark_alive(e, now);
}

void
verdict_helo(struct verdict_engine *e, struct verdict_session *s,
    const char *helo)
{
	const struct conf_milter *mc = &s->setup->conf->milter;
	enum spf_result r = SPF_NONE_;

	if (helo == NULL)	/* an MTA that sent none: nothing to keep */
		return;
	g_free(s->helo);
	s->helo = g_strdup(helo);
	if (s->exempt || !s->have_addr || s->helo_checked ||
	    !allow_domain(s->setup->allow, helo, strlen(helo)))
		return;
	/* Once per session: a client repeating HELO costs no lookups. */
	s->helo_checked = true;
	if (mc->spf && (r = spf_check(e->spf, &s->addr, helo, NULL)) ==
	    SPF_PASS_)
		exempt(s, "allow-list (HELO, SPF pass)");
	else
		log_msg(LOG_INFO, "%s: HELO %s is on the allow-list, but SPF "
		    "for it is %s: not exempt", s->netkey[0] != '\0' ?
		    s->netkey : "client", helo, mc->spf ? spf_result_name(r) :
		    "off");
}

/* Log the verdict on a message, once. */
static void
log_verdict(const struct verdict_session *s)
{
	char addr[ADDR_STRLEN];
	struct log_event ev;

	log_event_begin(&ev, "verdict");
	log_event_str(&ev, "client", addr_format(&s->addr, addr));
	log_event_str(&ev, "network", s->netkey);
	log_event_str(&ev, "verdict", verdict_name(s->msg.verdict));
	log_event_str(&ev, "why", s->msg.why);
	log_event_str(&ev, "spf", spf_result_name(s->spf));
	log_event_str(&ev, "action", s->action >= 0 ?
	    conf_action_name((enum conf_action)s->action) : "none");
	log_event_emit(&ev, LOG_INFO);
}

enum verdict_do
verdict_mail(struct verdict_engine *e, struct verdict_session *s,
    const char *mail_from, bool authenticated)
{
	const struct conf_milter *mc = &s->setup->conf->milter;

	message_clear(s);
	s->mail_from = g_strdup(mail_from != NULL ? mail_from : "");
	if (authenticated && !s->exempt)
		exempt(s, "authenticated");
	if (s->exempt) {
		count(e, offsetof(struct counts, exempt));
		return VERDICT_DO_NOTHING;
	}
	if (mc->spf && s->have_addr) {
		s->spf = spf_check(e->spf, &s->addr, s->helo, s->mail_from);
		s->spf_done = true;
		count_spf(e, s->spf);
	}
	if (s->store_failed)
		return VERDICT_DO_STORE_TEMPFAIL;
	/* After SPF's lookups: the list's had that long too. */
	list_collect(e, s);
	if (s->store_failed)
		return VERDICT_DO_STORE_TEMPFAIL;
	if (!s->judged)		/* or the store failed just now */
		s->msg = s->decision;
	else
		judge(e, s, s->spf_done ? s->spf : SPF_NONE_, &s->msg);
	s->action = decide_action(&s->msg, mc);
	count_verdict(e, s->msg.verdict, s->action);
	if (s->msg.verdict != VERDICT_NONE)
		log_verdict(s);
	return s->action >= 0 ? VERDICT_DO_ACT : VERDICT_DO_NOTHING;
}

bool
verdict_reply(const struct verdict_session *s, const char **code,
    const char **xcode, const char **text)
{
	if (s->store_failed && !s->exempt) {
		*code = "451";
		*xcode = "4.3.0";
		*text = "Temporary local problem, try again later";
	} else if (s->action == CONF_ACTION_TEMPFAIL) {
		*code = "451";
		*xcode = "4.7.1";
		*text = "Try again later: your server reached our backup MX "
		    "before this one";
	} else if (s->action == CONF_ACTION_REJECT) {
		*code = "550";
		*xcode = "5.7.1";
		*text = "Mail refused: your server reached our backup MX "
		    "before this one";
	} else {
		return false;
	}
	return true;
}

char *
verdict_header(const struct verdict_session *s)
{
	char first[RECORD_TIME_LEN], ev[128], helo[4 * RECORD_HELO_MAX + 8];

	if (s->exempt || s->msg.verdict == VERDICT_NONE)
		return NULL;
	record_format_time(s->rec.tarpit_first, first);
	record_evidence_format(s->rec.evidence, ev, sizeof(ev));
	log_escape(s->rec.helo, s->rec.helo_len, 100, helo, sizeof(helo));
	return g_strdup_printf("verdict=%s network=%s tarpit-first=%s "
	    "tarpit-sessions=%u held=%.0fs helo=\"%s\" evidence=%s "
	    "primary-up=%s spf=%s action=%s tarpit=%s",
	    verdict_name(s->msg.verdict),
	    s->netkey, first, s->rec.tarpit_sessions,
	    (double)s->rec.tarpit_held_ms / 1000.0, helo,
	    ev[0] != '\0' ? ev : "none",
	    s->msg.verdict == VERDICT_UNPROVEN ? "unproven" : "yes",
	    spf_result_name(s->spf), s->action >= 0 ?
	    conf_action_name((enum conf_action)s->action) : "none",
	    !s->tarpit_list ? "store" : s->tarpit_store ? "store+list" :
	    "list");
}

char *
verdict_ar_header(const struct verdict_session *s)
{
	if (!s->spf_done)
		return NULL;
	return parse_ar_header(s->setup->conf->milter.authserv_id,
	    spf_result_name(s->spf), s->mail_from, s->helo);
}

char *
verdict_ar_header_line(const struct verdict_session *s)
{
	char *h = verdict_ar_header(s);
	char *r, *w;

	if (h == NULL)
		return NULL;
	/* A fold is LF and a tab where a blank was (parse_ar_header). */
	for (r = w = h; *r != '\0'; r++) {
		if (r[0] == '\n' && r[1] == '\t') {
			*w++ = ' ';
			r++;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
	return h;
}
