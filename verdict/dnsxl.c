/*
 * dnsxl.c - asking a remote DNS list (dnsxl.h).
 *
 *	dnsxl_open		the libunbound context and its thread
 *	dnsxl_free		cancel, stop, free
 *	dnsxl_reload_check	what a reload cannot change
 *	dnsxl_start		the A and TXT queries for an address
 *	dnsxl_wait		their answer, by a deadline
 *	dnsxl_lookup_free	cancel what is still in flight
 *	dnsxl_qname		the RFC 5782 name
 *	dnsxl_parse_a		an A rdata's code
 *	dnsxl_parse_txt		a TXT rdata's times
 *
 * Threads: libunbound resolves in a thread of its own (ub_ctx_async
 * before any query: after one it refuses with UB_AFTERFINAL) and writes
 * each answer to a pipe; our thread polls that pipe and runs
 * ub_process, which calls answered() for each query. Callers sleep on
 * their lookup's GCond until both queries answered or their deadline.
 *
 * Memory: a lookup is held by its caller and by each query in flight
 * (libunbound keeps a pointer to it until answered() or a successful
 * ub_cancel); the module's core is held by its owner and by each lookup,
 * so a session freed after dnsxl_free() touches nothing freed. One lock
 * (struct dnsxl's) guards the counts, the lookups and the context's
 * lifetime; answered() takes it only after libunbound let go of its own
 * lock, and ub_cancel is called under it: no order to invert.
 *
 * Diagnostics: timeouts, failures and overflows are logged at most once
 * a minute each (complain.h), with the zone and the name asked.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>
#include <unbound.h>

#include "complain.h"
#include "dnsxl.h"
#include "listing.h"
#include "log.h"

#define RR_A		1
#define RR_TXT		16
#define RR_CLASS_IN	1
#define RCODE_NXDOMAIN	3

/* The poll thread wakes this often with nothing to do (ms). */
#define POLL_MS		1000
/* After ub_process failed, before the next try (us). */
#define RETRY_US	(100 * 1000)

enum { Q_A, Q_TXT, NQUERIES };

struct dnsxl {
	gint		refs;		/* the owner's, and each lookup's */
	GMutex		lock;		/* everything below */
	struct ub_ctx	*ctx;		/* NULL once dnsxl_free began */
	GHashTable	*live;		/* lookups with a query in flight */
	unsigned	inflight;	/* queries */
	GThread		*thread;
	int		stop[2];	/* a pipe: a byte stops the thread */
	char		*resolver;	/* as at the start; "" the system's */
	struct complaint timeouts, failures, overflows;
};

struct dnsxl_query {
	struct dnsxl_lookup *l;
	int		id;		/* libunbound's async id */
	bool		pending;
};

struct dnsxl_lookup {
	struct dnsxl	*d;
	GCond		cond;		/* a query answered */
	int		refs;		/* under d->lock */
	struct dnsxl_query q[NQUERIES];
	bool		overflow, failed, nxdomain;
	const char	*why;		/* of failed: static */
	unsigned	codes;
	int64_t		first, last;
	gint64		started, done;	/* monotonic us; done 0: not yet */
	char		name[DNSXL_QNAME_LEN];
};

static const char *const result_names[DNSXL_NRESULTS] = {
	"listed", "not_listed", "timeout", "failed", "overflow",
};

const char *
dnsxl_result_name(enum dnsxl_result r)
{
	return (unsigned)r < DNSXL_NRESULTS ? result_names[r] : "unknown";
}

/* ---- The pure parts ---------------------------------------------- */

bool
dnsxl_qname(const struct addr *a, const char *zone, char *buf)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0, zlen = strlen(zone);

	if (a->family == AF_INET) {
		n = (size_t)g_snprintf(buf, DNSXL_QNAME_LEN, "%u.%u.%u.%u.",
		    a->bytes[3], a->bytes[2], a->bytes[1], a->bytes[0]);
	} else if (a->family == AF_INET6) {
		for (int i = 15; i >= 0; i--) {
			buf[n++] = hex[a->bytes[i] & 0xf];
			buf[n++] = '.';
			buf[n++] = hex[a->bytes[i] >> 4];
			buf[n++] = '.';
		}
	} else {
		return false;
	}
	if (zlen == 0 || n + zlen >= DNSXL_QNAME_LEN)
		return false;
	memcpy(buf + n, zone, zlen + 1);
	return true;
}

unsigned
dnsxl_parse_a(const uint8_t *rdata, size_t len)
{
	return len == 4 ? listing_code_of(rdata) : 0;
}

bool
dnsxl_parse_txt(const uint8_t *rdata, size_t len, int64_t *first,
    int64_t *last)
{
	int64_t f = 0, l = 0, sf, sl;
	size_t i = 0, n;

	/* Each string: a length byte, then that many bytes, within len. */
	while (i < len) {
		n = rdata[i++];
		if (n > len - i)
			return false;
		if (listing_txt_parse((const char *)rdata + i, n, &sf, &sl) &&
		    sf > 0) {
			if (f == 0 || sf < f)
				f = sf;
			l = MAX(l, sl);
		}
		i += n;
	}
	/* Only a well-formed rdata counts, whole. */
	if (f != 0) {
		if (*first == 0 || f < *first)
			*first = f;
		*last = MAX(*last, l);
	}
	return true;
}

/* ---- Reference counts ------------------------------------------ */

static struct dnsxl *
core_ref(struct dnsxl *d)
{
	g_atomic_int_inc(&d->refs);
	return d;
}

static void
core_unref(struct dnsxl *d)
{
	if (!g_atomic_int_dec_and_test(&d->refs))
		return;
	g_hash_table_unref(d->live);
	complaint_clear(&d->timeouts);
	complaint_clear(&d->failures);
	complaint_clear(&d->overflows);
	g_mutex_clear(&d->lock);
	g_free(d->resolver);
	g_free(d);
}

/* Drop one reference, under d->lock; true if l is to be freed. */
static bool
lookup_unref_locked(struct dnsxl_lookup *l)
{
	return --l->refs == 0;
}

/* Free l, outside d->lock, once lookup_unref_locked said so. */
static void
lookup_destroy(struct dnsxl_lookup *l)
{
	struct dnsxl *d = l->d;

	g_cond_clear(&l->cond);
	g_free(l);
	core_unref(d);
}

/* One query no longer in flight (answered or cancelled), under lock. */
static void
query_done(struct dnsxl_lookup *l, struct dnsxl_query *q)
{
	struct dnsxl *d = l->d;

	q->pending = false;
	d->inflight--;
	if (!l->q[Q_A].pending && !l->q[Q_TXT].pending) {
		g_hash_table_remove(d->live, l);
		l->done = g_get_monotonic_time();
	}
	g_cond_broadcast(&l->cond);
}

/* ---- Answers ----------------------------------------------------- */

/* What a successful answer says, under lock. */
static void
fold_answer(struct dnsxl_lookup *l, bool is_a, const struct ub_result *res)
{
	for (size_t i = 0; res->data != NULL && res->data[i] != NULL; i++) {
		size_t len = res->len[i] > 0 ? (size_t)res->len[i] : 0;
		const uint8_t *p = (const uint8_t *)res->data[i];

		if (is_a)
			l->codes |= dnsxl_parse_a(p, len);
		else
			(void)dnsxl_parse_txt(p, len, &l->first, &l->last);
	}
}

/* libunbound's callback, on our thread inside ub_process. */
static void
answered(void *arg, int err, struct ub_result *res)
{
	struct dnsxl_query *q = arg;
	struct dnsxl_lookup *l = q->l;
	struct dnsxl *d = l->d;
	bool is_a = q == &l->q[Q_A], gone;

	g_mutex_lock(&d->lock);
	if (err != 0 || res == NULL) {
		l->failed = true;
		l->why = ub_strerror(err);
	} else if (res->rcode == RCODE_NXDOMAIN) {
		l->nxdomain |= is_a;
	} else if (res->rcode != 0) {
		l->failed = true;
		l->why = res->rcode == 2 ? "SERVFAIL" : "an error rcode";
	} else {
		fold_answer(l, is_a, res);
	}
	query_done(l, q);
	gone = lookup_unref_locked(l);
	g_mutex_unlock(&d->lock);
	if (res != NULL)
		ub_resolve_free(res);
	if (gone)
		lookup_destroy(l);
}

/* The thread: libunbound's answers as they come, until told to stop. */
static gpointer
run(gpointer p)
{
	struct dnsxl *d = p;
	struct pollfd fds[2] = {
		{ .fd = ub_fd(d->ctx), .events = POLLIN },
		{ .fd = d->stop[0], .events = POLLIN },
	};
	int r;

	for (;;) {
		if (poll(fds, 2, POLL_MS) < 0) {
			if (errno == EINTR)
				continue;
			log_msg(LOG_ERR, "tarpit_list: poll: %s: no more list "
			    "answers (fail open)", g_strerror(errno));
			break;
		}
		if (fds[1].revents != 0)
			break;
		if (fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
			log_msg(LOG_ERR, "tarpit_list: libunbound's pipe "
			    "closed: no more list answers (fail open)");
			break;
		}
		if ((fds[0].revents & POLLIN) &&
		    (r = ub_process(d->ctx)) != 0) {
			complain(&d->failures, LOG_WARNING, "tarpit_list: "
			    "ub_process: %s", ub_strerror(r));
			g_usleep(RETRY_US);
		}
	}
	return NULL;
}

/* ---- The context ------------------------------------------------- */

/* libunbound's error r as a GError about what. */
static bool
ub_error(int r, const char *what, const char *value, GError **error)
{
	g_set_error(error, CONF_ERROR, CONF_ERROR_INVALID,
	    "tarpit_list_resolver %s: %s: %s", value[0] != '\0' ? value :
	    "(the system's)", what, ub_strerror(r));
	return false;
}

/* A new context: threads, then the resolver, before any query. */
static struct ub_ctx *
context_new(const char *resolver, GError **error)
{
	struct ub_ctx *ctx = ub_ctx_create();
	int r;

	if (ctx == NULL) {
		g_set_error(error, CONF_ERROR, CONF_ERROR_INVALID,
		    "tarpit_list: ub_ctx_create failed");
		return NULL;
	}
	/* A resolver on loopback (a local rbldnsd, unbound) is allowed. */
	if ((r = ub_ctx_async(ctx, 1)) != 0)
		ub_error(r, "ub_ctx_async", resolver, error);
	else if ((r = ub_ctx_set_option(ctx, "do-not-query-localhost:",
	    "no")) != 0)
		ub_error(r, "do-not-query-localhost", resolver, error);
	else if (resolver[0] != '\0' && (r = ub_ctx_set_fwd(ctx,
	    resolver)) != 0)
		ub_error(r, "ub_ctx_set_fwd", resolver, error);
	else if (resolver[0] == '\0' && (r = ub_ctx_resolvconf(ctx,
	    NULL)) != 0)
		ub_error(r, "/etc/resolv.conf", resolver, error);
	if (r != 0) {
		ub_ctx_delete(ctx);
		return NULL;
	}
	/* No /etc/hosts is no error: the resolver answers for all. */
	if (resolver[0] == '\0' && (r = ub_ctx_hosts(ctx, NULL)) != 0)
		log_msg(LOG_INFO, "tarpit_list: /etc/hosts: %s",
		    ub_strerror(r));
	return ctx;
}

bool
dnsxl_open(const struct conf *c, struct dnsxl **out, GError **error)
{
	const char *resolver = c->milter.tarpit_list_resolver;
	struct dnsxl *d;
	struct ub_ctx *ctx;

	*out = NULL;
	if (c->milter.tarpit_list[0] == '\0')
		return true;
	if ((ctx = context_new(resolver, error)) == NULL)
		return false;
	d = g_new0(struct dnsxl, 1);
	if (!g_unix_open_pipe(d->stop, FD_CLOEXEC, error)) {
		ub_ctx_delete(ctx);
		g_free(d);
		return false;
	}
	d->refs = 1;
	d->ctx = ctx;
	d->resolver = g_strdup(resolver);
	d->live = g_hash_table_new(NULL, NULL);
	g_mutex_init(&d->lock);
	complaint_init(&d->timeouts);
	complaint_init(&d->failures);
	complaint_init(&d->overflows);
	d->thread = g_thread_new("dnsxl", run, d);
	*out = d;
	return true;
}

void
dnsxl_reload_check(const struct dnsxl *d, const struct conf *c)
{
	const struct conf_milter *mc = &c->milter;

	if (d == NULL && mc->tarpit_list[0] != '\0')
		log_msg(LOG_WARNING, "reload: tarpit_list %s: the list was "
		    "off at the start; restart to ask it", mc->tarpit_list);
	else if (d != NULL && strcmp(d->resolver,
	    mc->tarpit_list_resolver) != 0)
		log_msg(LOG_WARNING, "reload: tarpit_list_resolver %s: still "
		    "asking %s, the resolver of the start; restart to change "
		    "it", mc->tarpit_list_resolver[0] != '\0' ?
		    mc->tarpit_list_resolver : "(the system's)",
		    d->resolver[0] != '\0' ? d->resolver : "the system's");
}

/*
 * Fail l's queries in flight, under lock, once the thread has stopped:
 * no answer comes any more. Adds l to gone if that was its last
 * reference.
 */
static void
cancel_locked(struct dnsxl_lookup *l, GPtrArray *gone)
{
	for (size_t i = 0; i < NQUERIES; i++) {
		struct dnsxl_query *q = &l->q[i];

		if (!q->pending)
			continue;
		l->failed = true;
		l->why = "cancelled";
		query_done(l, q);
		if (lookup_unref_locked(l))
			g_ptr_array_add(gone, l);
	}
}

/* Free what cancel_locked gathered, outside the lock. */
static void
destroy_all(GPtrArray *gone)
{
	for (guint i = 0; i < gone->len; i++)
		lookup_destroy(g_ptr_array_index(gone, i));
}

void
dnsxl_free(struct dnsxl *d)
{
	g_autoptr(GPtrArray) gone = g_ptr_array_new();
	g_autoptr(GList) live = NULL;
	struct ub_ctx *ctx;
	char stop = 0;

	if (d == NULL)
		return;
	while (write(d->stop[1], &stop, 1) < 0 && errno == EINTR)
		;
	g_thread_join(d->thread);
	close(d->stop[0]);
	close(d->stop[1]);
	/* No answer comes any more: what is in flight fails now. */
	g_mutex_lock(&d->lock);
	live = g_hash_table_get_keys(d->live);
	for (GList *p = live; p != NULL; p = p->next)
		cancel_locked(p->data, gone);
	ctx = d->ctx;
	d->ctx = NULL;
	g_mutex_unlock(&d->lock);
	ub_ctx_delete(ctx);
	destroy_all(gone);
	core_unref(d);
}

struct dnsxl_lookup *
dnsxl_start(struct dnsxl *d, const struct addr *a, const char *zone)
{
	static const int types[NQUERIES] = { RR_A, RR_TXT };
	struct dnsxl_lookup *l = g_new0(struct dnsxl_lookup, 1);
	int r;

	l->d = core_ref(d);
	l->refs = 1;
	g_cond_init(&l->cond);
	l->started = g_get_monotonic_time();
	for (size_t i = 0; i < NQUERIES; i++)
		l->q[i].l = l;
	if (!dnsxl_qname(a, zone, l->name)) {
		l->failed = true;
		l->why = "no name for the address";
		return l;
	}
	g_mutex_lock(&d->lock);
	if (d->ctx == NULL) {
		l->failed = true;
		l->why = "stopped";
	} else if (d->inflight + NQUERIES > DNSXL_MAX_INFLIGHT) {
		l->overflow = true;
	}
	for (size_t i = 0; i < NQUERIES && !l->failed && !l->overflow; i++) {
		struct dnsxl_query *q = &l->q[i];

		if ((r = ub_resolve_async(d->ctx, l->name, types[i],
		    RR_CLASS_IN, q, answered, &q->id)) != 0) {
			l->failed = true;
			l->why = ub_strerror(r);
			break;
		}
		q->pending = true;
		l->refs++;
		d->inflight++;
		g_hash_table_add(d->live, l);
	}
	g_mutex_unlock(&d->lock);
	if (l->overflow)
		complain(&d->overflows, LOG_WARNING, "tarpit_list %s: %u "
		    "lookups in flight, %s not asked (no list evidence)",
		    zone, DNSXL_MAX_INFLIGHT / NQUERIES, l->name);
	return l;
}

/* The answer so far, under lock: timed out if a query is in flight. */
static enum dnsxl_result
result_of(const struct dnsxl_lookup *l)
{
	if (l->overflow)
		return DNSXL_OVERFLOW;
	if (l->failed)
		return DNSXL_FAILED;
	if (l->q[Q_A].pending || l->q[Q_TXT].pending)
		return DNSXL_TIMEOUT;
	return l->nxdomain || l->codes == 0 ? DNSXL_NOT_LISTED :
	    DNSXL_LISTED;
}

void
dnsxl_wait(struct dnsxl_lookup *l, gint64 deadline, struct dnsxl_answer *out,
    gint64 *us)
{
	struct dnsxl *d = l->d;
	const char *why;

	g_mutex_lock(&d->lock);
	while (!l->failed && (l->q[Q_A].pending || l->q[Q_TXT].pending))
		if (!g_cond_wait_until(&l->cond, &d->lock, deadline))
			break;
	out->result = result_of(l);
	out->codes = out->result == DNSXL_LISTED ? l->codes : 0;
	out->first = out->result == DNSXL_LISTED ? l->first : 0;
	out->last = out->result == DNSXL_LISTED ? l->last : 0;
	*us = (l->done != 0 ? l->done : g_get_monotonic_time()) - l->started;
	why = l->why;
	g_mutex_unlock(&d->lock);
	if (out->result == DNSXL_TIMEOUT)
		complain(&d->timeouts, LOG_WARNING, "tarpit_list: %s: no "
		    "answer within %" G_GINT64_FORMAT " ms (no list evidence)",
		    l->name, *us / 1000);
	else if (out->result == DNSXL_FAILED)
		complain(&d->failures, LOG_WARNING, "tarpit_list: %s: %s (no "
		    "list evidence)", l->name, why != NULL ? why : "failed");
}

void
dnsxl_lookup_free(struct dnsxl_lookup *l)
{
	struct dnsxl *d;
	bool gone;

	if (l == NULL)
		return;
	d = l->d;
	/*
	 * A query still in flight keeps its reference until libunbound
	 * answers it (or gives up on the server), and stays counted in
	 * inflight: in thread mode ub_cancel() only marks a query, which
	 * libunbound goes on working on, so cancelling here would let a
	 * list that never answers grow libunbound's backlog without bound
	 * while DNSXL_MAX_INFLIGHT saw none of it.
	 */
	g_mutex_lock(&d->lock);
	gone = lookup_unref_locked(l);
	g_mutex_unlock(&d->lock);
	if (gone)
		lookup_destroy(l);
}
