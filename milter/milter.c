/*
 * slowspam-milter - act on mail from clients that hit the backup MX first.
 *
 * Usage: slowspam-milter [-c FILE] [-f] [-t] [--socket SPEC]
 *        [--set GROUP.KEY=VALUE]... [--spf-zone FILE] [-V]
 *
 * At connect: look the client's network up in the hit store and record
 * this contact, mark the primary alive (once a minute), and decide
 * (decide.c). Exempt: unix-socket or unknown clients, trusted_networks,
 * the allow-list (a network; a domain only as a name the client cannot
 * just claim: its reverse-DNS name when {client_resolve}, asked for at
 * negotiation, is "OK", or its HELO name when SPF for that name passes),
 * authenticated senders ({auth_type}). At MAIL FROM: SPF; tempfail and
 * reject happen here. At end of message: forged headers removed (an
 * Authentication-Results claiming our authserv-id, X-Slowspam,
 * X-Slowspam-Original-Recipients), ours added (Authentication-Results
 * at the top, folded), then tag, quarantine or divert.
 *
 * Never loses mail by its own failure: a store error, an SPF DNS failure
 * or anything unexpected lets the mail continue, logged and counted.
 * Each connection keeps the configuration it started with; SIGUSR1
 * reloads (libmilter takes SIGHUP and SIGTERM as "stop").
 *
 * Metrics: with [milter] metrics_listen, a thread of its own answers
 * Prometheus scrapes (metrics.c); the counters below are atomic or
 * under MS.lock, as the callbacks run on many threads.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "addr.h"
#include "allow.h"
#include "conf.h"
#include "decide.h"
#include "log.h"
#include "metrics.h"
#include "parse.h"
#include "privs.h"
#include "spf.h"
#include "store.h"

#define HEADER		"X-Slowspam"
#define HEADER_RCPTS	"X-Slowspam-Original-Recipients"
#define AR_HEADER	"Authentication-Results"

/* A configuration and what comes with it, shared by its connections. */
struct setup {
	struct conf	*conf;
	struct allow	*allow;
};

/* One SMTP connection. */
struct conn {
	struct setup	*setup;		/* pinned for the connection */
	struct addr	addr;
	bool		have_addr;
	bool		exempt;
	const char	*exempt_why;
	bool		helo_checked;	/* an allow-listed HELO was looked at */
	bool		store_failed;	/* and on_store_error = tempfail */
	char		netkey[ADDR_NETKEY_LEN];
	struct hit_record rec;		/* before this contact */
	struct decision	decision;
	char		*helo;
	/* Per message: */
	char		*mail_from;
	enum spf_result	spf;
	bool		spf_done;
	GPtrArray	*rcpts;
	struct decision	msg;		/* the decision for this message */
	int		ar_seen;	/* A-R headers so far */
	GArray		*ar_ours;	/* their indices that claim our id */
	int		x_seen;		/* X-Slowspam headers (forged) */
	int		rcpts_seen;	/* X-Slowspam-Original-Recipients */
};

static struct {
	GMutex		lock;
	struct setup	*setup;		/* current; g_atomic_rc_box */
	struct store	*store;
	struct spf	*spf;
	int64_t		started;
	gint		alive_minute;	/* last minute marked */
	const char	*path;
	const char *const *overrides;
	/* Counters, for SIGUSR1. */
	gint		connections, verdicts, exempt, store_errors;
} M;

/* Upper bounds of the lookup-latency buckets, in seconds. */
static const double lookup_bounds[] = {
	0.0005, 0.001, 0.005, 0.01, 0.05, 0.1,
};
#define NBOUNDS	G_N_ELEMENTS(lookup_bounds)

/* Counters for the metrics only, under their lock. */
static struct {
	GMutex		lock;
	uint64_t	verdicts[VERDICT_BACKUP_FIRST_BOT + 1];
	uint64_t	actions[CONF_ACTION_REJECT + 1];
	uint64_t	spf[SPF_PERMERROR_ + 1];
	uint64_t	lookup[NBOUNDS + 1];	/* per bucket, +Inf last */
	double		lookup_sum;		/* seconds */
} MS;

/* Count the verdict on a message and its action (-1: none). */
static void
count_verdict(enum verdict v, int action)
{
	g_mutex_lock(&MS.lock);
	if ((unsigned)v < G_N_ELEMENTS(MS.verdicts))
		MS.verdicts[v]++;
	if (action >= 0 && (unsigned)action < G_N_ELEMENTS(MS.actions))
		MS.actions[action]++;
	g_mutex_unlock(&MS.lock);
}

static void
count_spf(enum spf_result r)
{
	g_mutex_lock(&MS.lock);
	if ((unsigned)r < G_N_ELEMENTS(MS.spf))
		MS.spf[r]++;
	g_mutex_unlock(&MS.lock);
}

/* One store lookup at connect took us microseconds. */
static void
count_lookup(gint64 us)
{
	double sec = (double)us / 1e6;
	size_t i;

	for (i = 0; i < NBOUNDS && sec > lookup_bounds[i]; i++)
		;
	g_mutex_lock(&MS.lock);
	MS.lookup[i]++;
	MS.lookup_sum += sec;
	g_mutex_unlock(&MS.lock);
}

static void
render_metrics(GString *out, void *data)
{
	uint64_t verdicts[G_N_ELEMENTS(MS.verdicts)];
	uint64_t actions[G_N_ELEMENTS(MS.actions)];
	uint64_t spf[G_N_ELEMENTS(MS.spf)];
	uint64_t lookup[G_N_ELEMENTS(MS.lookup)];
	double lookup_sum;
	char labels[64];
	const char *name;

	(void)data;
	g_mutex_lock(&MS.lock);
	memcpy(verdicts, MS.verdicts, sizeof(verdicts));
	memcpy(actions, MS.actions, sizeof(actions));
	memcpy(spf, MS.spf, sizeof(spf));
	memcpy(lookup, MS.lookup, sizeof(lookup));
	lookup_sum = MS.lookup_sum;
	g_mutex_unlock(&MS.lock);

	metrics_counter(out, "slowspam_milter_connections_total",
	    "SMTP connections the MTA passed to the milter.", NULL,
	    (uint64_t)(guint)g_atomic_int_get(&M.connections));
	name = "slowspam_milter_verdicts_total";
	for (unsigned i = 0; i < G_N_ELEMENTS(verdicts); i++) {
		g_snprintf(labels, sizeof(labels), "verdict=\"%s\"",
		    verdict_name((enum verdict)i));
		metrics_counter(out, name, i == 0 ? "Messages judged (not "
		    "exempt), by verdict." : NULL, labels, verdicts[i]);
	}
	name = "slowspam_milter_actions_total";
	for (unsigned i = 0; i < G_N_ELEMENTS(actions); i++) {
		g_snprintf(labels, sizeof(labels), "action=\"%s\"",
		    conf_action_name((enum conf_action)i));
		metrics_counter(out, name, i == 0 ? "Messages acted on, by "
		    "action." : NULL, labels, actions[i]);
	}
	metrics_counter(out, "slowspam_milter_exempt_total",
	    "Messages exempt (local, trusted, allow-listed, "
	    "authenticated).", NULL,
	    (uint64_t)(guint)g_atomic_int_get(&M.exempt));
	metrics_counter(out, "slowspam_milter_store_errors_total",
	    "Store failures at connect (the mail went on, or was "
	    "tempfailed with on_store_error = tempfail).", NULL,
	    (uint64_t)(guint)g_atomic_int_get(&M.store_errors));
	name = "slowspam_milter_spf_results_total";
	for (unsigned i = 0; i < G_N_ELEMENTS(spf); i++) {
		g_snprintf(labels, sizeof(labels), "result=\"%s\"",
		    spf_result_name((enum spf_result)i));
		metrics_counter(out, name, i == 0 ? "SPF checks, by result." :
		    NULL, labels, spf[i]);
	}
	metrics_histogram(out, "slowspam_milter_lookup_seconds",
	    "Time of the store lookup at connect.", lookup_bounds, lookup,
	    NBOUNDS, lookup_sum);
	metrics_log_stats(out);
}

/*
 * The metrics thread: drive the scrape server for ever. It never waits
 * on one client, and out of descriptors it pauses accepting (metrics.c)
 * rather than spinning.
 */
static void *
metrics_thread(void *arg)
{
	struct metrics_server *srv = arg;
	sigset_t set;

	/* libmilter's signal thread takes these; never this one. */
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	for (;;) {
		struct pollfd p = { .fd = metrics_server_fd(srv),
		    .events = POLLIN };
		int64_t next = metrics_server_deadline(srv);
		int64_t left = next - g_get_monotonic_time() / 1000;
		int timeout = next == INT64_MAX ? -1 :
		    (int)CLAMP(left, 0, 60 * 1000);

		poll(&p, 1, timeout);
		metrics_server_run(srv);
	}
	return NULL;
}

static void
setup_clear(gpointer p)
{
	struct setup *s = p;

	conf_free(s->conf);
	allow_free(s->allow);
}

/* Load the configuration and the allow-list it names. */
static struct setup *
setup_load(GError **error)
{
	struct conf *c = conf_load(M.path, M.overrides, error);
	struct allow *al = NULL;
	struct setup *s;

	if (c == NULL)
		return NULL;
	if (c->milter.allow_list[0] != '\0' &&
	    (al = allow_load(c->milter.allow_list, error)) == NULL) {
		conf_free(c);
		return NULL;
	}
	/* Atomic: sessions release it from their own threads. */
	s = g_atomic_rc_box_new0(struct setup);
	s->conf = c;
	s->allow = al;
	return s;
}

static struct setup *
setup_get(void)
{
	struct setup *s;

	g_mutex_lock(&M.lock);
	s = g_atomic_rc_box_acquire(M.setup);
	g_mutex_unlock(&M.lock);
	return s;
}

static void
setup_put(struct setup *s)
{
	if (s != NULL)
		g_atomic_rc_box_release_full(s, setup_clear);
}

/* Reset what belongs to one message. */
static void
message_clear(struct conn *c)
{
	g_clear_pointer(&c->mail_from, g_free);
	if (c->rcpts != NULL)
		g_ptr_array_set_size(c->rcpts, 0);
	c->spf = SPF_NONE_;
	c->spf_done = false;
	c->msg = c->decision;
	c->ar_seen = c->x_seen = c->rcpts_seen = 0;
	if (c->ar_ours != NULL)
		g_array_set_size(c->ar_ours, 0);
}

/*
 * Mark the primary alive, once a minute per process; not while the wall
 * clock is behind the newest minute marked (alive_clock_ok), which is
 * logged when it starts and when it ends.
 */
static void
mark_alive(int64_t now)
{
	static GMutex lock;
	static int64_t newest;
	static bool behind;
	gint minute = (gint)(now / ALIVE_MINUTE_MS);
	gint last = g_atomic_int_get(&M.alive_minute);
	g_autoptr(GError) err = NULL;
	bool ok;

	if (minute == last ||
	    !g_atomic_int_compare_and_exchange(&M.alive_minute, last, minute))
		return;
	g_mutex_lock(&lock);
	ok = alive_clock_ok(&newest, now);
	if (ok && behind)
		log_msg(LOG_NOTICE, "the clock caught up: marking the primary "
		    "alive again");
	else if (!ok && !behind)
		log_msg(LOG_WARNING, "the clock went back %" PRId64 " minutes: "
		    "the primary is not marked alive until it catches up "
		    "(restart to believe it)", newest - now / ALIVE_MINUTE_MS);
	behind = !ok;
	g_mutex_unlock(&lock);
	if (ok && !store_alive_mark(M.store, now, &err))
		log_msg(LOG_WARNING, "store: %s", err->message);
}

/*
 * Log a store failure: the first at once, then at most one line a
 * minute saying how many more there were (a down store would otherwise
 * give a line per connection).
 */
static void
complain_store(const struct conn *c, const GError *err)
{
	static GMutex lock;
	static gint64 last;
	static unsigned quiet;
	gint64 now = g_get_monotonic_time();
	unsigned more = 0;
	bool say = false;

	g_atomic_int_inc(&M.store_errors);
	g_mutex_lock(&lock);
	if (last == 0 || now - last >= 60 * G_USEC_PER_SEC) {
		say = true;
		more = quiet;
		quiet = 0;
		last = now;
	} else {
		quiet++;
	}
	g_mutex_unlock(&lock);
	if (say)
		log_msg(LOG_WARNING, "%s: store unavailable, %s: %s "
		    "(%u more since the last such line)", c->netkey,
		    c->store_failed ? "tempfail" : "no verdict", err->message,
		    more);
}

/* Set up the connection and decide on it. */
static sfsistat
judge_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *sa)
{
	struct conn *c = g_new0(struct conn, 1);
	const struct conf *conf;
	struct alive alive;
	struct decide_input in = { 0 };
	g_autoptr(GError) err = NULL;
	int64_t now = store_now();
	const char *name;
	gint64 t0;
	bool ok;

	c->setup = setup_get();
	conf = c->setup->conf;
	c->rcpts = g_ptr_array_new_with_free_func(g_free);
	c->ar_ours = g_array_new(FALSE, FALSE, sizeof(int));
	smfi_setpriv(ctx, c);
	g_atomic_int_inc(&M.connections);
	/* libmilter gives no length: the family says how much is read. */
	if (!parse_client(sa, sizeof(struct sockaddr_storage), hostname,
	    &c->addr, &name)) {
		c->exempt = true;
		c->exempt_why = "local";
		return SMFIS_CONTINUE;
	}
	c->have_addr = true;
	if (addr_cidr_list_match(conf->milter.trusted_networks.v,
	    conf->milter.trusted_networks.n, &c->addr)) {
		c->exempt = true;
		c->exempt_why = "trusted network";
	} else if (allow_addr(c->setup->allow, &c->addr)) {
		c->exempt = true;
		c->exempt_why = "allow-list (network)";
	} else if (name != NULL &&
	    allow_domain(c->setup->allow, name, strlen(name))) {
		char sym[] = "{client_resolve}", text[ADDR_STRLEN];
		const char *resolve = smfi_getsymval(ctx, sym);

		/* Sendmail passes a name that does not resolve back too. */
		if (parse_name_confirmed(resolve)) {
			c->exempt = true;
			c->exempt_why = "allow-list (reverse DNS name)";
		} else {
			log_msg(LOG_INFO, "%s: host name %s is on the "
			    "allow-list, but {client_resolve} is %s, not OK: "
			    "not exempt", addr_format(&c->addr, text), name,
			    resolve != NULL ? resolve : "not sent");
		}
	}
	if (c->exempt)
		return SMFIS_CONTINUE;

	addr_netkey(&c->addr, conf->store.ipv4_prefix,
	    conf->store.ipv6_prefix, c->netkey);
	/* Liveness as it was before this connection, which proves nothing. */
	t0 = g_get_monotonic_time();
	ok = store_alive_get(M.store, &alive, &err) &&
	    store_primary_contact(M.store, c->netkey, now, &c->rec, &err);
	count_lookup(g_get_monotonic_time() - t0);
	if (!ok) {
		c->store_failed = conf->milter.on_store_error ==
		    CONF_ON_ERROR_TEMPFAIL;
		complain_store(c, err);
		return SMFIS_CONTINUE;
	}
	in.rec = &c->rec;	/* all zero when the store had none */
	in.alive = &alive;
	in.now = now;
	in.started = M.started;
	in.window = conf->milter.window;
	in.margin = conf->milter.alive_margin;
	in.grace = conf->milter.grace;
	decide(&in, &c->decision);
	return SMFIS_CONTINUE;
}

/* Every connection shows the primary up, whatever becomes of it. */
static sfsistat
on_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *sa)
{
	sfsistat r = judge_connect(ctx, hostname, sa);

	mark_alive(store_now());
	return r;
}

/*
 * The HELO name is the client's claim: an allow-listed one exempts it
 * only when SPF for that name (RFC 7208's HELO identity) passes for its
 * address; never with [milter] spf off.
 */
static sfsistat
on_helo(SMFICTX *ctx, char *helo)
{
	struct conn *c = smfi_getpriv(ctx);
	enum spf_result r = SPF_NONE_;

	if (c == NULL)
		return SMFIS_CONTINUE;
	g_free(c->helo);
	c->helo = g_strdup(helo);
	if (c->exempt || !c->have_addr || c->helo_checked ||
	    !allow_domain(c->setup->allow, helo, strlen(helo)))
		return SMFIS_CONTINUE;
	/* Once per connection: a client repeating HELO costs no lookups. */
	c->helo_checked = true;
	if (c->setup->conf->milter.spf &&
	    (r = spf_check(M.spf, &c->addr, helo, NULL)) == SPF_PASS_) {
		c->exempt = true;
		c->exempt_why = "allow-list (HELO, SPF pass)";
	} else {
		log_msg(LOG_INFO, "%s: HELO %s is on the allow-list, but SPF "
		    "for it is %s: not exempt", c->netkey[0] != '\0' ?
		    c->netkey : "client", helo, c->setup->conf->milter.spf ?
		    spf_result_name(r) : "off");
	}
	return SMFIS_CONTINUE;
}

/*
 * This message's decision: the connection's, with its SPF result folded
 * in (a fail or softfail makes a backup-first client a bot); the action,
 * or -1 for none.
 */
static int
action_of(struct conn *c)
{
	if (c->exempt)
		return -1;
	c->msg = c->decision;
	if (c->msg.verdict >= VERDICT_BACKUP_FIRST && c->spf_done &&
	    (c->spf == SPF_FAIL_ || c->spf == SPF_SOFTFAIL_)) {
		c->msg.spf_bad = true;
		c->msg.verdict = VERDICT_BACKUP_FIRST_BOT;
		c->msg.why = "backup MX first, and SPF failed";
	}
	return decide_action(&c->msg, &c->setup->conf->milter);
}

/* Log the verdict on a message, once. */
static void
log_verdict(const struct conn *c, int action)
{
	char addr[ADDR_STRLEN];
	struct log_event e;

	log_event_begin(&e, "verdict");
	log_event_str(&e, "client", addr_format(&c->addr, addr));
	log_event_str(&e, "network", c->netkey);
	log_event_str(&e, "verdict", verdict_name(c->msg.verdict));
	log_event_str(&e, "why", c->msg.why);
	log_event_str(&e, "spf", spf_result_name(c->spf));
	log_event_str(&e, "action", action >= 0 ? conf_action_name(action) :
	    "none");
	log_event_emit(&e, LOG_INFO);
}

static sfsistat
on_envfrom(SMFICTX *ctx, char **argv)
{
	struct conn *c = smfi_getpriv(ctx);
	char sym[] = "{auth_type}";
	const char *auth;
	int action;

	if (c == NULL)
		return SMFIS_CONTINUE;
	message_clear(c);
	c->mail_from = parse_bare_address(argv[0]);
	if ((auth = smfi_getsymval(ctx, sym)) != NULL &&
	    parse_authenticated(auth) && !c->exempt) {
		c->exempt = true;
		c->exempt_why = "authenticated";
	}
	if (c->exempt) {
		g_atomic_int_inc(&M.exempt);
		return SMFIS_CONTINUE;
	}
	if (c->setup->conf->milter.spf && c->have_addr) {
		c->spf = spf_check(M.spf, &c->addr, c->helo, c->mail_from);
		c->spf_done = true;
		count_spf(c->spf);
	}
	if (c->store_failed) {
		char code[] = "451", xcode[] = "4.3.0";
		char msg[] = "Temporary local problem, try again later";

		smfi_setreply(ctx, code, xcode, msg);
		return SMFIS_TEMPFAIL;
	}
	action = action_of(c);
	if (action == CONF_ACTION_TEMPFAIL || action == CONF_ACTION_REJECT) {
		bool temp = action == CONF_ACTION_TEMPFAIL;
		char tcode[] = "451", txcode[] = "4.7.1", rcode[] = "550",
		    rxcode[] = "5.7.1";
		char tmsg[] = "Try again later: your server reached our backup "
		    "MX before this one";
		char rmsg[] = "Mail refused: your server reached our backup MX "
		    "before this one";

		log_verdict(c, action);
		g_atomic_int_inc(&M.verdicts);
		count_verdict(c->msg.verdict, action);
		smfi_setreply(ctx, temp ? tcode : rcode, temp ? txcode : rxcode,
		    temp ? tmsg : rmsg);
		return temp ? SMFIS_TEMPFAIL : SMFIS_REJECT;
	}
	return SMFIS_CONTINUE;
}

static sfsistat
on_envrcpt(SMFICTX *ctx, char **argv)
{
	struct conn *c = smfi_getpriv(ctx);

	if (c != NULL)
		g_ptr_array_add(c->rcpts, g_strdup(argv[0]));
	return SMFIS_CONTINUE;
}

static sfsistat
on_header(SMFICTX *ctx, char *name, char *value)
{
	struct conn *c = smfi_getpriv(ctx);

	if (c == NULL)
		return SMFIS_CONTINUE;
	if (g_ascii_strcasecmp(name, AR_HEADER) == 0) {
		/* smfi_chgheader counts headers of one name from 1. */
		c->ar_seen++;
		if (parse_ar_is_ours(value,
		    c->setup->conf->milter.authserv_id))
			g_array_append_val(c->ar_ours, c->ar_seen);
	} else if (g_ascii_strcasecmp(name, HEADER) == 0) {
		c->x_seen++;
	} else if (g_ascii_strcasecmp(name, HEADER_RCPTS) == 0) {
		c->rcpts_seen++;
	}
	return SMFIS_CONTINUE;
}

/* Registered so the MTA sends DATA at once (no Nagle stall over TCP). */
static sfsistat
on_data(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

/* The X-Slowspam header: the verdict and the tar pit's evidence. */
static char *
verdict_header(const struct conn *c, int action)
{
	char first[RECORD_TIME_LEN], ev[128], helo[4 * RECORD_HELO_MAX + 8];

	record_format_time(c->rec.tarpit_first, first);
	record_evidence_format(c->rec.evidence, ev, sizeof(ev));
	log_escape(c->rec.helo, c->rec.helo_len, 100, helo, sizeof(helo));
	return g_strdup_printf("verdict=%s network=%s tarpit-first=%s "
	    "tarpit-sessions=%u held=%.0fs helo=\"%s\" evidence=%s "
	    "primary-up=%s spf=%s action=%s", verdict_name(c->msg.verdict),
	    c->netkey, first, c->rec.tarpit_sessions,
	    (double)c->rec.tarpit_held_ms / 1000.0, helo,
	    ev[0] != '\0' ? ev : "none",
	    c->msg.verdict == VERDICT_UNPROVEN ? "unproven" : "yes",
	    spf_result_name(c->spf), action >= 0 ? conf_action_name(action) :
	    "none");
}

static sfsistat
on_eom(SMFICTX *ctx)
{
	struct conn *c = smfi_getpriv(ctx);
	const struct conf_milter *mc;
	char ar_name[] = AR_HEADER, x_name[] = HEADER, rcpts_name[] =
	    HEADER_RCPTS;
	int action;

	if (c == NULL)
		return SMFIS_CONTINUE;
	mc = &c->setup->conf->milter;
	/*
	 * Forged headers go: A-R with our authserv-id, and any X-Slowspam
	 * or X-Slowspam-Original-Recipients (last first, so the indices
	 * stay right), before ours are added.
	 */
	for (guint i = c->ar_ours->len; i > 0; i--)
		smfi_chgheader(ctx, ar_name, g_array_index(c->ar_ours, int,
		    i - 1), NULL);
	for (int i = c->x_seen; i >= 1; i--)
		smfi_chgheader(ctx, x_name, i, NULL);
	for (int i = c->rcpts_seen; i >= 1; i--)
		smfi_chgheader(ctx, rcpts_name, i, NULL);
	if (c->spf_done) {
		g_autofree char *ar = parse_ar_header(mc->authserv_id,
		    spf_result_name(c->spf), c->mail_from, c->helo);

		smfi_insheader(ctx, 0, ar_name, ar);
	}
	action = action_of(c);
	if (c->exempt)
		return SMFIS_CONTINUE;
	count_verdict(c->msg.verdict, action);
	if (c->msg.verdict == VERDICT_NONE)
		return SMFIS_CONTINUE;
	log_verdict(c, action);
	if (action >= 0)
		g_atomic_int_inc(&M.verdicts);
	{
		g_autofree char *h = verdict_header(c, action);

		smfi_addheader(ctx, x_name, h);
	}
	if (action == CONF_ACTION_QUARANTINE) {
		g_autofree char *why = g_strdup_printf("slowspam: %s",
		    c->msg.why);

		smfi_quarantine(ctx, why);
	} else if (action == CONF_ACTION_DIVERT) {
		g_autofree char *list = NULL;

		g_ptr_array_add(c->rcpts, NULL);
		list = g_strjoinv(", ", (char **)c->rcpts->pdata);
		g_ptr_array_remove_index(c->rcpts, c->rcpts->len - 1);
		smfi_addheader(ctx, rcpts_name, list);
		for (guint i = 0; i < c->rcpts->len; i++)
			smfi_delrcpt(ctx, c->rcpts->pdata[i]);
		smfi_addrcpt(ctx, c->setup->conf->milter.divert_to);
	}
	return SMFIS_CONTINUE;
}

static sfsistat
on_abort(SMFICTX *ctx)
{
	struct conn *c = smfi_getpriv(ctx);

	if (c != NULL)
		message_clear(c);
	return SMFIS_CONTINUE;
}

static sfsistat
on_close(SMFICTX *ctx)
{
	struct conn *c = smfi_getpriv(ctx);

	/* A port probe closes without a connect: nothing to free. */
	if (c == NULL)
		return SMFIS_CONTINUE;
	message_clear(c);
	g_ptr_array_unref(c->rcpts);
	g_array_unref(c->ar_ours);
	g_free(c->helo);
	setup_put(c->setup);
	g_free(c);
	smfi_setpriv(ctx, NULL);
	return SMFIS_CONTINUE;
}

/* SIGUSR1, in its own thread: reload; a bad file keeps the old one. */
static void *
reloader(void *arg)
{
	sigset_t *set = arg;

	for (;;) {
		int sig;
		g_autoptr(GError) err = NULL;
		struct setup *s, *old;

		if (sigwait(set, &sig) != 0)
			continue;
		log_msg(LOG_NOTICE, "counters: connections=%d verdicts=%d "
		    "exempt=%d store_errors=%d", g_atomic_int_get(&M.connections),
		    g_atomic_int_get(&M.verdicts), g_atomic_int_get(&M.exempt),
		    g_atomic_int_get(&M.store_errors));
		if ((s = setup_load(&err)) == NULL) {
			g_auto(GStrv) lines = g_strsplit(err->message, "\n", -1);

			for (size_t i = 0; lines[i] != NULL; i++)
				log_msg(LOG_ERR, "reload: %s", lines[i]);
			log_msg(LOG_ERR, "reload: keeping the running "
			    "configuration");
			continue;
		}
		log_set_level(s->conf->log.level);
		g_mutex_lock(&M.lock);
		old = M.setup;
		M.setup = s;
		g_mutex_unlock(&M.lock);
		setup_put(old);
		log_msg(LOG_NOTICE, "reloaded %s", s->conf->path);
	}
	return NULL;
}

/* What the milter may do to a message. */
#define FILTER_ACTIONS	(SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_ADDRCPT | \
	    SMFIF_DELRCPT | SMFIF_QUARANTINE)

/*
 * Ask for the {client_resolve} macro at connect, where the MTA lets a
 * milter choose its macros (Postfix 2.6 and Sendmail 8.14 do): neither
 * sends it by default. The protocol steps stay those libmilter worked
 * out from the callbacks (*steps_out comes in with them).
 */
static sfsistat
on_negotiate(SMFICTX *ctx, unsigned long actions, unsigned long steps,
    unsigned long f2, unsigned long f3, unsigned long *actions_out,
    unsigned long *steps_out, unsigned long *f2_out, unsigned long *f3_out)
{
	char macros[] = "{client_resolve}";

	(void)steps;
	(void)f2;
	(void)f3;
	(void)steps_out;
	*actions_out = FILTER_ACTIONS;
	*f2_out = *f3_out = 0;
	if ((actions & SMFIF_SETSYMLIST) != 0 &&
	    smfi_setsymlist(ctx, SMFIM_CONNECT, macros) == MI_SUCCESS)
		*actions_out |= SMFIF_SETSYMLIST;
	return SMFIS_CONTINUE;
}

static char filter_name[] = "slowspam";

static struct smfiDesc filter = {
	.xxfi_name = filter_name,
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = FILTER_ACTIONS,
	.xxfi_connect = on_connect,
	.xxfi_helo = on_helo,
	.xxfi_envfrom = on_envfrom,
	.xxfi_envrcpt = on_envrcpt,
	.xxfi_header = on_header,
	.xxfi_data = on_data,
	.xxfi_eom = on_eom,
	.xxfi_abort = on_abort,
	.xxfi_close = on_close,
	.xxfi_negotiate = on_negotiate,
};

/*
 * libmilter writes each reply of end-of-message (a header, then
 * "continue") on its own and never sets TCP_NODELAY, so over TCP the
 * second waits ~40 ms for the MTA's delayed ACK. Accepted sockets inherit
 * TCP_NODELAY from the listener on Linux: set it there. libmilter does
 * not hand out its socket, so find the listening TCP socket among ours.
 */
static void
no_delay_on_listener(void)
{
	for (int fd = 3; fd < 256; fd++) {
		int listening = 0, domain = 0, on = 1;
		socklen_t len = sizeof(int);

		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening,
		    &len) != 0 || !listening)
			continue;
		len = sizeof(int);
		if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 &&
		    (domain == AF_INET || domain == AF_INET6))
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	}
}

/* The file of a unix: or local: socket spec; NULL for inet. */
static const char *
socket_file(const char *spec)
{
	return g_str_has_prefix(spec, "unix:") ? spec + 5 :
	    g_str_has_prefix(spec, "local:") ? spec + 6 : NULL;
}

/*
 * Make the MTA's socket, as [milter] socket_mode, user and socket_group
 * say. bind() gives a unix socket 0777 less the umask, so the umask
 * alone sets the mode, with no moment at which it is wider. The owner
 * (if root and [milter] user is set: that user) and the group (if
 * [milter] socket_group: that one) are changed on the socket itself:
 * never through a symbolic link, never on anything but a socket of ours.
 */
static bool
open_socket(const struct conf *c, GError **error)
{
	const char *spec = c->milter.socket, *file = socket_file(spec);
	const char *why = NULL;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	struct stat sb;
	mode_t mask;
	bool ok;
	int fd;

	if (geteuid() == 0 && c->milter.user[0] != '\0' &&
	    !privs_lookup("[milter]", c->milter.user, &uid, &gid, error))
		return false;
	if (c->milter.socket_group[0] != '\0' && !privs_lookup_group(
	    "[milter] socket_group", c->milter.socket_group, &gid, error))
		return false;
	/* A stale socket of ours goes; a link or a file stays: bind fails. */
	if (file != NULL && lstat(file, &sb) == 0 && S_ISSOCK(sb.st_mode))
		unlink(file);
	mask = umask(~(mode_t)c->milter.socket_mode & 0777);
	ok = smfi_register(filter) != MI_FAILURE &&
	    smfi_setconn((char *)spec) != MI_FAILURE &&
	    smfi_opensocket(0) != MI_FAILURE;
	umask(mask);
	if (!ok) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
		    "cannot listen on %s", spec);
		return false;
	}
	if (file == NULL || (uid == (uid_t)-1 && gid == (gid_t)-1))
		return true;
	if ((fd = open(file, O_PATH | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
	    fstat(fd, &sb) != 0)
		why = g_strerror(errno);
	else if (!S_ISSOCK(sb.st_mode) || sb.st_uid != geteuid())
		why = "not the socket just made (replaced?)";
	else if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH) != 0)
		why = g_strerror(errno);
	if (fd >= 0)
		close(fd);
	if (why != NULL) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
		    "%s: cannot set its owner ([milter] user, socket_group): "
		    "%s", file, why);
		return false;
	}
	return true;
}

/*
 * Give up what the sockets needed. As root with [milter] user set:
 * become that user for good. Not root: keep the user, shed the
 * capabilities (CAP_NET_BIND_SERVICE for an inet: port below 1024).
 * Root with no user: stay root, as before [milter] user existed.
 */
static bool
drop_privileges(const struct conf *c, GError **error)
{
	if (geteuid() == 0 && c->milter.user[0] == '\0') {
		log_msg(LOG_WARNING, "running as root: set [milter] user");
		return true;
	}
	return privs_become("[milter]", c->milter.user, NULL, error);
}

int
main(int argc, char **argv)
{
	g_auto(conf_cli) cli = { 0 };
	g_autofree char *socket_spec = NULL, *zone = NULL;
	GOptionEntry entries[] = {
		{ "socket", 0, 0, G_OPTION_ARG_STRING, &socket_spec,
		    "Listen here instead of [milter] socket", "SPEC" },
		{ "spf-zone", 0, 0, G_OPTION_ARG_FILENAME, &zone,
		    "Answer SPF's DNS from this file (for tests)", "FILE" },
		{ NULL }
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new(
	    "- act on mail from clients that hit the backup MX first");
	g_autoptr(GError) err = NULL;
	g_autoptr(GPtrArray) overrides = g_ptr_array_new_with_free_func(g_free);
	struct store_options so;
	pthread_t thread;
	sigset_t usr1, stop;
	const char *spec;
	int status, metrics_fd = -1;

	fds_close_inherited(false);	/* nothing the starter left open */
	conf_cli_options(ctx, &cli, true);
	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &err) || argc > 1) {
		fprintf(stderr, "slowspam-milter: %s\n", err != NULL ?
		    err->message : "unexpected arguments (see --help)");
		return EXIT_FAILURE;
	}
	if (cli.version) {
		printf("slowspam-milter %s\n", PACKAGE_VERSION);
		return EXIT_SUCCESS;
	}
	for (size_t i = 0; cli.sets != NULL && cli.sets[i] != NULL; i++)
		g_ptr_array_add(overrides, g_strdup(cli.sets[i]));
	if (socket_spec != NULL)
		g_ptr_array_add(overrides, g_strconcat("milter.socket=",
		    socket_spec, NULL));
	g_ptr_array_add(overrides, NULL);
	M.path = cli.path != NULL ? g_canonicalize_filename(cli.path, NULL) :
	    conf_default_path();
	M.overrides = (const char *const *)overrides->pdata;
	M.started = store_now();

	log_open("slowspam-milter", LOG_DEST_STDERR, LOG_MAIL);
	if ((M.setup = setup_load(&err)) == NULL) {
		fprintf(stderr, "%s\n", err->message);
		return EXIT_FAILURE;
	}
	conf_warn_exposed(M.setup->conf);
	if (cli.check) {
		printf("%s: OK\n", M.setup->conf->path);
		return EXIT_SUCCESS;
	}
	if (!cli.foreground)
		log_open("slowspam-milter", LOG_DEST_SYSLOG,
		    M.setup->conf->log.facility);
	log_set_level(M.setup->conf->log.level);
	/* libmilter's accept loop spins out of descriptors: have many. */
	fds_raise_limit();

	/*
	 * Sockets first (as root, if started so), then the drop, then the
	 * store: files it creates belong to the user, as tarpitd's do.
	 */
	spec = M.setup->conf->milter.socket;
	if (!open_socket(M.setup->conf, &err)) {
		log_msg(LOG_ERR, "%s", err->message);
		return EXIT_FAILURE;
	}
	no_delay_on_listener();
	conf_store_options(M.setup->conf, &so);
	if ((M.setup->conf->milter.metrics_listen.port != 0 &&
	    (metrics_fd = metrics_listen(&M.setup->conf->milter.metrics_listen,
	    &err)) < 0) || !drop_privileges(M.setup->conf, &err)) {
		log_msg(LOG_ERR, "%s", err->message);
		return EXIT_FAILURE;
	}
	/*
	 * An LMDB environment must not cross fork: detach before opening
	 * the store for good, but try it once before, so that an error
	 * (say, a folder the user cannot write) fails the start with
	 * status 1 rather than the detached child.
	 */
	if (!cli.foreground) {
		if ((M.store = store_open(&so, &err)) == NULL) {
			log_msg(LOG_ERR, "%s", err->message);
			return EXIT_FAILURE;
		}
		g_clear_pointer(&M.store, store_free);
		if (daemon(0, 0) != 0) {
			log_msg(LOG_ERR, "cannot detach: %m");
			return EXIT_FAILURE;
		}
	}
	if ((M.store = store_open(&so, &err)) == NULL ||
	    (M.spf = spf_new(zone, &err)) == NULL) {
		log_msg(LOG_ERR, "%s", err->message);
		return EXIT_FAILURE;
	}
	/*
	 * SIGUSR1 goes to the reload thread only: block it everywhere.
	 * Block libmilter's stop signals too before any thread starts:
	 * a thread that left SIGTERM unblocked took it with the default
	 * action, and the milter died at once, never cleaning up.
	 */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	stop = usr1;
	sigaddset(&stop, SIGHUP);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	/* No libmilter thread waits on a log line from here (log.c). */
	if (!log_writer_start(&err)) {
		log_msg(LOG_WARNING, "%s; logging without a writer thread",
		    err->message);
		g_clear_error(&err);
	}
	pthread_create(&thread, NULL, reloader, &usr1);
	pthread_detach(thread);
	if (metrics_fd >= 0) {
		/* Lives as long as the process: the thread never ends. */
		static struct metrics_server *metrics;

		if ((metrics = metrics_server_new(metrics_fd, render_metrics,
		    NULL, &err)) == NULL) {
			log_msg(LOG_ERR, "%s", err->message);
			return EXIT_FAILURE;
		}
		pthread_create(&thread, NULL, metrics_thread, metrics);
		pthread_detach(thread);
	}
	log_msg(LOG_NOTICE, "slowspam-milter %s on %s, store %s",
	    PACKAGE_VERSION, spec, store_describe(M.store));
	status = smfi_main() == MI_SUCCESS ? EXIT_SUCCESS : EXIT_FAILURE;
	log_msg(LOG_NOTICE, "slowspam-milter stopped");
	spf_free(M.spf);
	store_free(M.store);
	log_writer_stop(1000);
	return status;
}
