/*
 * loop.c - slowspam-policyd's event loop and worker pool (loop.h).
 *
 * A connection is in one of these states, each with its epoll interest:
 *	reading		EPOLLIN: bytes are parsed as they come
 *	judged		none: a worker has it (its parser holds the request,
 *			the worker writes the answer into it); it is off the
 *			idle list, so neither a timeout nor an eviction
 *			closes it under the worker
 *	writing		EPOLLOUT: the rest of an answer the socket did not
 *			take at once
 * After an answer the bytes already read are parsed first: they may hold
 * the next request. Only the loop thread touches a connection that no
 * worker has; the done queue hands it back. A judged connection whose
 * session is busy is parked on the session (judge.h) and judged by the
 * worker that releases the session, so that no thread waits for it.
 *
 * At the stop deadline, requests still queued or being judged are given
 * up: the process exits without freeing what the workers use (Postfix
 * falls back on its default action for them).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "complain.h"
#include "judge.h"
#include "listen.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "proto.h"
#include "sessions.h"

/* epoll tags of the loop's own descriptors; connections are pointers. */
enum {
	TAG_LISTEN = 1,
	TAG_WAKE,
	TAG_SIGNAL,
	TAG_METRICS,
};

struct conn {
	int		fd;		/* -1: closed, freed after the batch */
	uint64_t	serial;		/* never reused: judge_request's conn */
	char		peer[ADDR_STRLEN + 8];	/* for log lines */
	struct policy_parser parser;
	char		in[LOOP_READ_MAX];
	size_t		in_off, in_len;	/* in[in_off..in_len): not parsed */
	char		out[JUDGE_REPLY_MAX];
	size_t		out_off, out_len;
	enum answer_kind kind;		/* of the answer in out */
	gint64		t0;		/* us: the request was complete */
	bool		judged;		/* a worker has it */
	bool		eof;		/* the client shut its side */
	bool		gone;		/* hung up while judged */
	uint32_t	events;		/* epoll interest now */
	int64_t		active;		/* ms of the last exchange */
	GList		link;		/* on L.idle unless judged */
};

/* Why a connection was closed for bad input, and its metrics label. */
static const char *const proto_whys[] = {
	"line too long", "too many attributes", "NUL byte",
	"bad attribute name", "empty attribute name", "missing '='",
	"duplicate attribute", "end of input inside a request",
};
static const char *const proto_labels[] = {
	"line_too_long", "too_many_attributes", "nul_byte",
	"bad_attribute_name", "empty_attribute_name", "missing_equals",
	"duplicate_attribute", "cut_short",
};
#define NPROTO	G_N_ELEMENTS(proto_whys)
G_STATIC_ASSERT(G_N_ELEMENTS(proto_labels) == NPROTO);
static const char why_cut[] = "end of input inside a request";

/* Why we closed a sound connection. */
enum {
	CLOSED_IDLE,		/* idle_timeout */
	CLOSED_EVICTED,		/* the longest idle, at max_connections */
	CLOSED_REFUSED,		/* a new one, every other one busy */
	CLOSED_N,
};
static const char *const closed_labels[] = { "idle", "evicted", "refused" };

/*
 * The counters, as the loop thread keeps them (it alone writes them and
 * renders the scrapes) and as a snapshot for the table below.
 */
struct counters {
	uint64_t	requests, accepted, open;
	uint64_t	closed[CLOSED_N];
	uint64_t	proto[NPROTO];
	uint64_t	answers[ANSWER_NKINDS];
	uint64_t	sessions, sessions_evicted, sessions_expired;
	uint64_t	accept_pauses;
};

static const char *
answer_label(unsigned i)
{
	return answer_kind_name((enum answer_kind)i);
}

/* Not "connections": the engine's count the SMTP sessions. */
static const struct metrics_row counter_rows[] = {
	{ .name = "slowspam_policyd_requests_total",
	  .help = "Policy requests received whole.", .key = "requests",
	  .offset = offsetof(struct counters, requests) },
	{ .name = "slowspam_policyd_policy_connections_total",
	  .help = "Policy client connections accepted.",
	  .key = "policy_connections",
	  .offset = offsetof(struct counters, accepted) },
	{ .name = "slowspam_policyd_policy_connections_open",
	  .help = "Policy client connections open.", .kind = METRICS_GAUGE,
	  .key = "open", .offset = offsetof(struct counters, open) },
	{ .name = "slowspam_policyd_policy_connections_closed_total",
	  .help = "Sound connections we closed: idle for idle_timeout, the "
	    "longest idle to make room at max_connections, a new one at "
	    "once when every other one was busy.", .key = "closed_",
	  .offset = offsetof(struct counters, closed), .label = "reason",
	  .values = closed_labels, .count = CLOSED_N },
	{ .name = "slowspam_policyd_protocol_errors_total",
	  .help = "Connections closed for malformed input, by why.",
	  .key = "error_", .offset = offsetof(struct counters, proto),
	  .label = "why", .values = proto_labels, .count = NPROTO },
	{ .name = "slowspam_policyd_answers_total",
	  .help = "Answers given, by action.", .key = "answer_",
	  .offset = offsetof(struct counters, answers), .label = "answer",
	  .value_name = answer_label, .count = ANSWER_NKINDS },
	{ .name = "slowspam_policyd_accept_pauses_total",
	  .help = "Times accepting paused, out of descriptors.",
	  .key = "accept_pauses",
	  .offset = offsetof(struct counters, accept_pauses) },
	{ .name = "slowspam_policyd_sessions",
	  .help = "SMTP sessions kept.", .kind = METRICS_GAUGE,
	  .key = "sessions", .offset = offsetof(struct counters, sessions) },
	{ .name = "slowspam_policyd_sessions_evicted_total",
	  .help = "Sessions dropped to make room (max_sessions).",
	  .key = "sessions_evicted",
	  .offset = offsetof(struct counters, sessions_evicted) },
	{ .name = "slowspam_policyd_sessions_expired_total",
	  .help = "Sessions dropped after session_ttl idle.",
	  .key = "sessions_expired",
	  .offset = offsetof(struct counters, sessions_expired) },
};

/* Upper bounds of the request-latency buckets, in seconds. */
static const double latency_bounds[] = {
	0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5,
};
#define NLATENCY	G_N_ELEMENTS(latency_bounds)

static struct {
	int		ep, listen_fd, wake_fd, sig_fd, metrics_fd;
	struct metrics_server *metrics;
	GThreadPool	*pool;
	GAsyncQueue	*done;		/* struct conn * back from workers */
	struct judge	judge;
	struct dnsxl	*dnsxl;		/* for a reload's check */
	GMutex		lock;		/* setup */
	struct verdict_setup *setup;
	const char	*path;
	const char *const *overrides;
	GQueue		idle;		/* not judged; most recent first */
	GPtrArray	*dead;		/* closed during this epoll batch */
	unsigned	open, judged;
	uint64_t	serial;		/* of the last connection accepted */
	bool		stopping;
	int64_t		stop_deadline;
	int64_t		next_expire;
	int64_t		accept_resume;	/* ms; 0: accepting */
	struct counters	c;		/* sessions and open: at snapshots */
	uint64_t	latency[NLATENCY + 1];
	double		latency_sum;
} L;

/* One per reason: each kind of bad input gets its line. */
static struct complaint bad_input[NPROTO], accept_failed;

static int64_t
now_ms(void)
{
	return g_get_monotonic_time() / 1000;
}

static struct verdict_setup *
setup_get(void)
{
	struct verdict_setup *s;

	g_mutex_lock(&L.lock);
	s = verdict_setup_ref(L.setup);
	g_mutex_unlock(&L.lock);
	return s;
}

/* The epoll interest of c, if it changed. */
static void
want(struct conn *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	if (c->events == events)
		return;
	if (epoll_ctl(L.ep, EPOLL_CTL_MOD, c->fd, &ev) != 0)
		log_msg(LOG_ERR, "epoll_ctl: %m");
	c->events = events;
}

/*
 * Close c; it is freed after the epoll batch, whose later events may
 * still point at it.
 */
static void
conn_close(struct conn *c)
{
	if (!c->judged)
		g_queue_unlink(&L.idle, &c->link);
	close(c->fd);
	c->fd = -1;
	L.open--;
	g_ptr_array_add(L.dead, c);
}

/* c spoke (or was answered): most recently active now. */
static void
touch(struct conn *c)
{
	c->active = now_ms();
	g_queue_unlink(&L.idle, &c->link);
	g_queue_push_head_link(&L.idle, &c->link);
}

/* Bad input: one line (rate-limited), counted, and the close. */
static void
conn_bad(struct conn *c, const char *why)
{
	size_t i;

	for (i = 0; i < NPROTO - 1 && strcmp(proto_whys[i], why) != 0; i++)
		;
	L.c.proto[i]++;
	complain(&bad_input[i], LOG_WARNING, "policy client %s: %s: closing "
	    "the connection", c->peer, why);
	conn_close(c);
}

/* A judged connection back to the loop thread, its answer in out. */
static void
answered(struct conn *c)
{
	uint64_t one = 1;

	c->out_off = 0;
	g_async_queue_push(L.done, c);
	/* The counter only grows: a failed write still leaves it readable. */
	if (write(L.wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_msg(LOG_ERR, "eventfd: %m");
}

/*
 * Judge c, then the requests parked on its session meanwhile, in turn;
 * c itself parked comes back through another worker's call.
 */
static void
worker(gpointer data, gpointer user_data)
{
	struct conn *c = data;
	void *next;

	(void)user_data;
	for (; c != NULL; c = next) {
		struct verdict_setup *s = setup_get();
		bool done = judge_request(&L.judge, s, &c->parser.req,
		    c->serial, c, c->out, &c->out_len, &c->kind, &next);

		verdict_setup_unref(s);
		/* next first: c is the loop thread's once answered. */
		if (done)
			answered(c);
	}
}

/* A whole request: to the workers, off the idle list, not read. */
static void
submit(struct conn *c)
{
	L.c.requests++;
	c->t0 = g_get_monotonic_time();
	c->judged = true;
	L.judged++;
	g_queue_unlink(&L.idle, &c->link);
	want(c, 0);
	g_thread_pool_push(L.pool, c, NULL);
}

/*
 * Parse what was read and not parsed yet; false if c was closed. A
 * request is submitted; without one, c reads on (or, at the end of its
 * input, closes).
 */
static bool
parse_buffered(struct conn *c)
{
	size_t used;
	enum policy_status st = policy_parse(&c->parser, c->in + c->in_off,
	    c->in_len - c->in_off, &used);

	c->in_off += used;
	if (c->in_off == c->in_len)
		c->in_off = c->in_len = 0;
	if (st == POLICY_ERROR) {
		conn_bad(c, policy_parser_why(&c->parser));
		return false;
	}
	if (st == POLICY_DONE) {
		submit(c);
		return true;
	}
	if (c->eof) {
		if (policy_parser_idle(&c->parser))
			conn_close(c);
		else
			conn_bad(c, why_cut);
		return false;
	}
	want(c, EPOLLIN | EPOLLRDHUP);
	return true;
}

static void
on_readable(struct conn *c)
{
	ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len,
	    0);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		conn_close(c);
		return;
	}
	if (n == 0)
		c->eof = true;
	c->in_len += (size_t)n;
	touch(c);
	parse_buffered(c);
}

/* Write what is left of the answer; false if c was closed. */
static bool
flush(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off,
		    c->out_len - c->out_off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			want(c, EPOLLOUT);
			return true;
		}
		if (n < 0) {
			conn_close(c);
			return false;
		}
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
	touch(c);
	if (L.stopping) {
		conn_close(c);
		return false;
	}
	policy_parser_reset(&c->parser);
	return parse_buffered(c);
}

static void
count_latency(gint64 us)
{
	double sec = (double)us / 1e6;
	size_t i;

	for (i = 0; i < NLATENCY && sec > latency_bounds[i]; i++)
		;
	L.latency[i]++;
	L.latency_sum += sec;
}

/* Answers back from the workers. */
static void
on_done(void)
{
	uint64_t n;
	struct conn *c;

	if (read(L.wake_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_msg(LOG_ERR, "eventfd: %m");
	while ((c = g_async_queue_try_pop(L.done)) != NULL) {
		c->judged = false;
		L.judged--;
		L.c.answers[c->kind]++;
		count_latency(g_get_monotonic_time() - c->t0);
		g_queue_push_head_link(&L.idle, &c->link);
		if (c->gone) {
			conn_close(c);
			continue;
		}
		flush(c);
	}
}

static void
conn_event(struct conn *c, uint32_t events)
{
	if (c->fd < 0)
		return;
	if (c->judged) {
		/* Hung up or failed meanwhile: closed once it is answered. */
		if ((events & (EPOLLERR | EPOLLHUP)) != 0 && !c->gone) {
			c->gone = true;
			epoll_ctl(L.ep, EPOLL_CTL_DEL, c->fd, NULL);
		}
		return;
	}
	if ((events & EPOLLERR) != 0) {
		conn_close(c);
		return;
	}
	/* Writing an answer: nothing is read until it is out. */
	if (c->out_len > 0) {
		if ((events & EPOLLOUT) != 0)
			flush(c);
		else if ((events & EPOLLHUP) != 0)
			conn_close(c);
		return;
	}
	if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) != 0)
		on_readable(c);
}

/* "ADDR:PORT" of a TCP client, "unix" for a unix-socket one. */
static void
peer_name(int fd, char *buf, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct addr a;
	char text[ADDR_STRLEN];
	uint16_t port;

	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0 &&
	    addr_from_sockaddr((struct sockaddr *)&ss, len, &a, &port))
		g_snprintf(buf, size, "%s:%u", addr_format(&a, text), port);
	else
		g_strlcpy(buf, "unix", size);
}

/* The longest idle connection goes, to make room; false if none can. */
static bool
evict_one(void)
{
	GList *l = g_queue_peek_tail_link(&L.idle);

	if (l == NULL)
		return false;
	L.c.closed[CLOSED_EVICTED]++;
	conn_close(l->data);
	return true;
}

static unsigned
max_connections(void)
{
	struct verdict_setup *s = setup_get();
	unsigned n = s->conf->policyd.max_connections;

	verdict_setup_unref(s);
	return n;
}

/*
 * Out of descriptors: the listening socket stays readable, so stop
 * watching it for LOOP_ACCEPT_PAUSE_MS rather than spin.
 */
static void
pause_accepting(void)
{
	if (L.accept_resume != 0)
		return;
	epoll_ctl(L.ep, EPOLL_CTL_DEL, L.listen_fd, NULL);
	L.accept_resume = now_ms() + LOOP_ACCEPT_PAUSE_MS;
	L.c.accept_pauses++;
}

static void
resume_accepting(int64_t now)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TAG_LISTEN };

	if (L.accept_resume == 0 || now < L.accept_resume || L.stopping)
		return;
	L.accept_resume = 0;
	if (epoll_ctl(L.ep, EPOLL_CTL_ADD, L.listen_fd, &ev) != 0)
		log_msg(LOG_ERR, "epoll_ctl: %m");
}

static void
on_accept(void)
{
	unsigned max = max_connections();

	/* A few at a time: the other connections get their turn. */
	for (int i = 0; i < 64; i++) {
		int fd = accept4(L.listen_fd, NULL, NULL, SOCK_NONBLOCK |
		    SOCK_CLOEXEC);
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };
		struct conn *c;

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				pause_accepting();
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				complain(&accept_failed, LOG_ERR, "accept: %s",
				    g_strerror(errno));
			return;
		}
		if (L.open >= max && !evict_one()) {
			L.c.closed[CLOSED_REFUSED]++;
			close(fd);
			continue;
		}
		c = g_new0(struct conn, 1);
		c->fd = fd;
		c->serial = ++L.serial;
		peer_name(fd, c->peer, sizeof(c->peer));
		c->link.data = c;
		c->events = ev.events;
		c->active = now_ms();
		policy_parser_reset(&c->parser);
		ev.data.ptr = c;
		if (epoll_ctl(L.ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
			log_msg(LOG_ERR, "epoll_ctl: %m");
			close(fd);
			g_free(c);
			continue;
		}
		g_queue_push_head_link(&L.idle, &c->link);
		L.open++;
		L.c.accepted++;
	}
}

/* Close the connections idle for idle_timeout; the next deadline. */
static int64_t
expire_idle(int64_t now)
{
	struct verdict_setup *s = setup_get();
	int64_t idle = s->conf->policyd.idle_timeout;
	GList *l;

	verdict_setup_unref(s);
	while ((l = g_queue_peek_tail_link(&L.idle)) != NULL &&
	    now - ((struct conn *)l->data)->active >= idle) {
		L.c.closed[CLOSED_IDLE]++;
		conn_close(l->data);
	}
	return l != NULL ? ((struct conn *)l->data)->active + idle : INT64_MAX;
}

static void
counters_get(struct counters *out)
{
	struct sessions_stats ss;

	sessions_get_stats(L.judge.sessions, &ss);
	*out = L.c;
	out->open = L.open;
	out->sessions = ss.count;
	out->sessions_evicted = ss.evicted;
	out->sessions_expired = ss.expired;
}

static void
render(GString *out, void *data)
{
	struct counters c;

	(void)data;
	counters_get(&c);
	metrics_table_render(out, counter_rows, G_N_ELEMENTS(counter_rows),
	    &c);
	metrics_histogram(out, "slowspam_policyd_request_seconds",
	    "From a whole request to its answer (the verdict's time, the "
	    "wait for a worker included).", latency_bounds, L.latency,
	    NLATENCY, L.latency_sum);
	verdict_engine_metrics(L.judge.engine, out, "slowspam_policyd");
	metrics_log_stats(out);
}

/* SIGUSR1: ours, the engine's and the log's counters on one line. */
static void
log_totals(void)
{
	g_autoptr(GString) engine = g_string_new(NULL);
	g_auto(GStrv) words = NULL;
	struct counters c;
	struct log_event e;

	counters_get(&c);
	log_event_begin(&e, "totals");
	metrics_table_totals(&e, counter_rows, G_N_ELEMENTS(counter_rows), &c);
	verdict_engine_totals(L.judge.engine, engine);
	words = g_strsplit(engine->str, " ", -1);
	for (size_t i = 0; words[i] != NULL; i++) {
		char *eq = strchr(words[i], '=');

		if (eq != NULL) {
			*eq = '\0';
			log_event_str(&e, words[i], eq + 1);
		}
	}
	metrics_log_totals(&e);
	log_event_emit(&e, LOG_NOTICE);
}

/* SIGHUP: a new configuration; a bad file keeps the running one. */
static void
reload(void)
{
	g_autoptr(GError) err = NULL;
	struct verdict_setup *s = verdict_setup_load(L.path, L.overrides,
	    &err), *old;

	if (s == NULL) {
		g_auto(GStrv) lines = g_strsplit(err->message, "\n", -1);

		for (size_t i = 0; lines[i] != NULL; i++)
			if (lines[i][0] != '\0')
				log_msg(LOG_ERR, "reload: %s", lines[i]);
		log_msg(LOG_ERR, "reload: keeping the running configuration");
		return;
	}
	log_set_level(s->conf->log.level);
	g_mutex_lock(&L.lock);
	old = L.setup;
	L.setup = s;
	g_mutex_unlock(&L.lock);
	verdict_setup_unref(old);
	log_msg(LOG_NOTICE, "reloaded %s (sessions keep the configuration "
	    "they began with)", s->conf->path);
	dnsxl_reload_check(L.dnsxl, s->conf);
}

/* Stop accepting; the idle connections go now, the judged ones later. */
static void
begin_stop(void)
{
	GList *l;

	log_msg(LOG_NOTICE, "stopping: %u answers in flight", L.judged);
	L.stopping = true;
	L.stop_deadline = now_ms() + LOOP_STOP_MS;
	if (L.accept_resume == 0)
		epoll_ctl(L.ep, EPOLL_CTL_DEL, L.listen_fd, NULL);
	close(L.listen_fd);
	L.listen_fd = -1;
	/* Those still writing an answer finish it (flush closes them). */
	for (l = L.idle.head; l != NULL; ) {
		struct conn *c = l->data;

		l = l->next;
		if (c->out_len == 0)
			conn_close(c);
	}
}

static void
on_signal(void)
{
	struct signalfd_siginfo si;

	while (read(L.sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGHUP:
			reload();
			break;
		case SIGUSR1:
			log_totals();
			break;
		case SIGTERM:
		case SIGINT:
			if (!L.stopping)
				begin_stop();
			break;
		}
	}
}

void
loop_block_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static bool
watch(int fd, uint64_t tag, GError **error)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	if (epoll_ctl(L.ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
		    "epoll_ctl: %s", g_strerror(errno));
		return false;
	}
	return true;
}

static bool
loop_init(struct loop_params *p, GError **error)
{
	sigset_t set;
	unsigned workers;

	L.path = p->path;
	L.overrides = p->overrides;
	L.setup = p->setup;
	L.listen_fd = p->listen_fd;
	L.metrics_fd = p->metrics_fd;
	L.judge.engine = p->engine;
	L.dnsxl = p->dnsxl;
	L.judge.sessions = sessions_new(L.setup->conf->policyd.max_sessions,
	    L.setup->conf->policyd.session_ttl);
	workers = L.setup->conf->policyd.workers;
	L.done = g_async_queue_new();
	L.dead = g_ptr_array_new_with_free_func(g_free);
	g_queue_init(&L.idle);
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if ((L.ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    (L.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
	    (L.sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
		    "cannot start the event loop: %s", g_strerror(errno));
		return false;
	}
	if (!watch(L.listen_fd, TAG_LISTEN, error) ||
	    !watch(L.wake_fd, TAG_WAKE, error) ||
	    !watch(L.sig_fd, TAG_SIGNAL, error))
		return false;
	if (L.metrics_fd >= 0 &&
	    ((L.metrics = metrics_server_new(L.metrics_fd, render, NULL,
	    error)) == NULL ||
	    !watch(metrics_server_fd(L.metrics), TAG_METRICS, error)))
		return false;
	/* Exclusive: the threads are made now, never one per request. */
	return (L.pool = g_thread_pool_new(worker, NULL, (gint)workers, TRUE,
	    error)) != NULL;
}

/* Milliseconds to wait for, at most: the next deadline of any kind. */
static int
next_timeout(int64_t now, int64_t idle_next)
{
	int64_t next = MIN(idle_next, L.next_expire);

	if (L.metrics != NULL)
		next = MIN(next, metrics_server_deadline(L.metrics));
	if (L.stopping)
		next = MIN(next, L.stop_deadline);
	if (L.accept_resume != 0)
		next = MIN(next, L.accept_resume);
	return (int)CLAMP(next - now, 0, 60 * 1000);
}

static void
dispatch(const struct epoll_event *ev)
{
	switch (ev->data.u64) {
	case TAG_LISTEN:
		on_accept();
		break;
	case TAG_WAKE:
		on_done();
		break;
	case TAG_SIGNAL:
		on_signal();
		break;
	case TAG_METRICS:
		metrics_server_run(L.metrics);
		break;
	default:
		conn_event(ev->data.ptr, ev->events);
		break;
	}
}

/*
 * The stop deadline passed with answers not given: a worker may wait on
 * DNS or the store for longer still, and the queued requests would be
 * judged before the pool could go. Exit now, freeing nothing the workers
 * use; Postfix takes its default action for the answers not given. The
 * contacts already queued are written first (the queue is safe to flush
 * while workers push; it waits at most on the store's own timeout).
 */
static void
abandon(void)
{
	log_msg(LOG_WARNING, "stopping: %u answers not given after %d ms: "
	    "exiting without them", L.judged, LOOP_STOP_MS);
	verdict_engine_flush(L.judge.engine);
	policy_unlink();
	log_msg(LOG_NOTICE, "slowspam-policyd stopped");
	log_writer_stop(1000);
	_exit(EXIT_SUCCESS);
}

static void
loop_free(void)
{
	GList *l;

	/* Every worker is idle once the pool is freed: nothing judged. */
	if (L.pool != NULL)
		g_thread_pool_free(L.pool, FALSE, TRUE);
	on_done();
	while ((l = g_queue_peek_tail_link(&L.idle)) != NULL)
		conn_close(l->data);
	g_ptr_array_unref(L.dead);
	metrics_server_free(L.metrics);
	if (L.metrics_fd >= 0)
		close(L.metrics_fd);
	if (L.listen_fd >= 0)
		close(L.listen_fd);
	sessions_free(L.judge.sessions);
	verdict_setup_unref(L.setup);
	g_async_queue_unref(L.done);
	close(L.sig_fd);
	close(L.wake_fd);
	close(L.ep);
}

bool
loop_run(struct loop_params *p, GError **error)
{
	struct epoll_event evs[64];
	bool ok = loop_init(p, error);

	while (ok) {
		int64_t now = now_ms(), idle_next;
		int n;

		if (now >= L.next_expire) {
			sessions_expire(L.judge.sessions, now);
			L.next_expire = now + 1000;
		}
		if (L.metrics != NULL &&
		    metrics_server_deadline(L.metrics) <= now)
			metrics_server_run(L.metrics);
		idle_next = expire_idle(now);
		resume_accepting(now);
		if (L.stopping && (L.open == 0 || now >= L.stop_deadline))
			break;
		n = epoll_wait(L.ep, evs, G_N_ELEMENTS(evs),
		    next_timeout(now, idle_next));
		if (n < 0 && errno != EINTR) {
			g_set_error(error, G_FILE_ERROR,
			    g_file_error_from_errno(errno), "epoll_wait: %s",
			    g_strerror(errno));
			ok = false;
		}
		for (int i = 0; i < n; i++)
			dispatch(&evs[i]);
		g_ptr_array_set_size(L.dead, 0);
	}
	if (L.stopping && L.judged > 0)
		abandon();
	if (L.stopping && L.open > 0)
		log_msg(LOG_WARNING, "stopping with %u connections still open "
		    "after %d ms", L.open, LOOP_STOP_MS);
	loop_free();
	return ok;
}
