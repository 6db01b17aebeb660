/*
 * loop.c - one tar-pit worker: epoll, the clients and their timers.
 *
 *	tarpit_new	set up a worker (opens the store: call after fork)
 *	tarpit_run	serve until SIGTERM
 *	tarpit_free	release everything
 *
 * Clients live in an array indexed by descriptor, so holding one costs
 * its struct client and nothing else: no buffer (replies come from the
 * shared script), no allocation unless it sends a partial first line.
 * Every client waits in one of three FIFO lists, one per constant delay
 * (greeting, waiting for a command until max_hold, drip), so each list
 * is sorted by deadline as it is built (endlessh's trick); the loop
 * sleeps until the earliest head and touches only clients that are due.
 * New connections are accepted first and greeted after (accept_some,
 * greet_pending), so a burst of them fits in the kernel's accept queue.
 *
 * What a session leaves is bounded by design, not by the client's rate
 * (docs/abuse.md). A session is recorded once it has earned it: the
 * final greeting went out whole, or the client sent a byte. It goes to
 * the store in two events: its contact (stamped with the connect time)
 * and its HELO together, as soon as the HELO comes or CONTACT_WAIT after
 * it was recorded if none came, and the hold time and evidence at the
 * end; one from a store network not recorded lately would make a new
 * record, so it must fit its aggregate network's budget (budget.c) or it
 * is not recorded at all; one from a known network, only the end event.
 * At its end a recorded session writes one log line and one event-log
 * line, unless it was short (not held through the greeting and one drip)
 * and its lines do not fit the budget. Connections refused over a limit,
 * those that close before the greeting, and what the budget refused are
 * only counted, and summarised once a minute (summary.c). Store writes
 * go through storeq, so the loop never waits on the disk.
 *
 * Metrics: with [tarpitd] metrics_listen, the loop also drives the
 * Prometheus scrape server (metrics.c) on tarpit_metrics_fd (bound by
 * tarpitd.c before privileges go): its connections are states with
 * deadlines like the clients', so a silent scraper costs no waiting.
 *
 * Diagnostics: one "session" line per ended session; accept errors
 * and a full store queue are logged at most once a minute.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helo.h"
#include "log.h"
#include "metrics.h"
#include "record.h"
#include "storeq.h"
#include "tarpit.h"

#define READ_CHUNK	4096
/* Reads per readable event: a flood cannot starve the other clients. */
#define READS_PER_EVENT	8
/*
 * A burst is accepted first and greeted after (see accept_some): at most
 * this many accepts per listener event, so the clients held are served
 * between bursts.
 */
#define ACCEPTS_PER_EVENT 4096
/*
 * Greeted per loop pass; then the listeners are looked at again. While
 * connections keep coming (the pass accepted some) fewer, and in a burst
 * (it accepted GREETS_WHILE_ACCEPTING or more) only a few: a greeting
 * costs several accepts (its send runs the peer's receive too, on
 * loopback), and the accept queue must not fill meanwhile. The greetings
 * put off are sent once the burst is over; a flood that never ends
 * fills the descriptors, and the pause after EMFILE greets them.
 */
#define GREETS_PER_PASS	512
#define GREETS_WHILE_ACCEPTING 32
#define GREETS_IN_BURST	4
#define EPOLL_BATCH	256
/* After EMFILE/ENFILE, stop accepting for this long (ms). */
#define ACCEPT_PAUSE	1000
/* Store events waiting for the writer (packed: about 50 bytes each). */
#define QUEUE_EVENTS	16384
#define COMPLAIN_EVERY	(60 * 1000)
/* How often the unrecorded sessions are summarised. */
#define SUMMARY_EVERY	(60 * 1000)
/* With greet_wait = 0, a silent client is recorded once this old (ms). */
#define RECORD_AFTER	1000
/*
 * A recorded contact waits this long (ms) for its HELO, to go to the
 * store with it in one event; at most CONTACTS_WAITING at a time (the
 * rest are written at once).
 */
#define CONTACT_WAIT	1000
#define CONTACTS_WAITING 4096
/* epoll data of the metrics socket: listeners are -1 - i, clients >= 0. */
#define METRICS_EVENT	INT_MIN

/* Which FIFO a client waits in; one per constant delay. */
enum queue {
	Q_GREET,	/* deadline = connect + greet_wait */
	Q_WAIT,		/* deadline = connect + max_hold */
	Q_DRIP,		/* deadline = last line + drip_interval (also the
			   wait for the command after the EHLO reply) */
	Q_COUNT,
	Q_NONE = Q_COUNT,
};

/* Whether a session is recorded (see the top of the file). */
enum record {
	RECORD_PENDING,	/* not greeted and silent so far */
	RECORD_YES,	/* recorded, charged to its aggregate network */
	RECORD_KNOWN,	/* recorded, free: its store network is known */
	RECORD_OVER,	/* it earned it, but its network's budget was spent */
};

/*
 * A held client costs this (72 bytes on LP64, in the array) and its
 * HELO (smtp.c's 16-byte slots): keep it small.
 */
struct client {
	struct smtp_session s;
	struct addr	addr;
	uint16_t	port;
	uint8_t		queue:2;	/* enum queue */
	uint8_t		record:2;	/* enum record */
	bool		used:1;
	bool		contact_due:1;	/* its contact is not written yet */
	int32_t		prev, next;	/* neighbours in the queue, or -1 */
};

G_STATIC_ASSERT(Q_NONE < 4 && RECORD_OVER < 4);
#if GLIB_SIZEOF_VOID_P == 8
G_STATIC_ASSERT(sizeof(struct client) <= 72);
#endif

struct fifo {
	int32_t		head, tail;
};

/* A contact waiting for its HELO (see maybe_record). */
struct waiting {
	int64_t		due;
	int64_t		start;		/* its session's, to tell a later one
					   on the same descriptor */
	int32_t		fd;
};

/* Evidence flags counted: at least as many as record_evidence_name() has. */
#define EVIDENCE_SLOTS	8

/* Counters for SIGUSR1 and the metrics. */
struct totals {
	uint64_t	started;	/* accepted, limit-refused ones too */
	uint64_t	sessions;	/* ended */
	uint64_t	bytes_sent;
	uint64_t	held_ms;
	uint64_t	ended[SMTP_END_ERROR + 1];
	uint64_t	evidence[EVIDENCE_SLOTS];
	uint64_t	helos;
	uint64_t	unrecorded[UNRECORDED_COUNT];
};

struct tarpit {
	struct conf	*conf;
	const struct conf_source *src;
	struct smtp_params params;
	struct smtp_script script;
	struct listeners listen;
	int		epfd;
	struct client	*clients;	/* indexed by descriptor */
	int		nslots;
	struct fifo	q[Q_COUNT];
	struct waiting	*waiting;	/* a ring, oldest first */
	unsigned	waiting_head, nwaiting;
	unsigned	nclients;
	/*
	 * Clients held per store network: IPv4 networks keyed by their
	 * address itself (no allocation: about 20 bytes a network, not
	 * 55), IPv6 ones by a copy of the masked struct addr.
	 */
	GHashTable	*per_net4;	/* masked IPv4 address -> count */
	GHashTable	*per_net;	/* masked struct addr -> count */
	struct store	*store;
	struct storeq	*queue;
	struct metrics_server *metrics;	/* NULL: none */
	int64_t		accept_resume;	/* 0: accepting */
	int		*pending;	/* accepted, not greeted: a ring of
					   nslots (each is a descriptor) */
	unsigned	pending_head, npending;
	unsigned	accepted;	/* in this loop pass */
	int64_t		last_complaint;
	struct budget	*budget;
	struct summary	*summary;
	int64_t		summary_due;
	bool		told_budget;	/* said once that the budget bites */
	bool		told_overflow;	/* ... and that its table is full */
	struct totals	totals;
};

volatile sig_atomic_t tarpit_got_hup, tarpit_got_term, tarpit_got_usr1;
/* The metrics socket of this worker, set by tarpitd.c; -1 for none. */
int tarpit_metrics_fd = -1;

static int64_t
mono_ms(void)
{
	return g_get_monotonic_time() / 1000;
}

/* Wall-clock time of a monotonic instant. */
static int64_t
wall_ms(int64_t mono)
{
	return store_now() - (mono_ms() - mono);
}

/*
 * In a chroot, the store and the event log are found below it: make
 * their paths relative to it (tarpitd checked at start-up they lie
 * inside; a reload that moves them out is refused).
 */
static bool
chroot_paths(struct conf *c, GError **error)
{
	const char *root = c->tarpitd.chroot;
	char **paths[] = { &c->tarpitd.event_log, &c->store.path };
	/* The store path is a file only for LMDB. */
	size_t n = c->store.backend == STORE_BACKEND_LMDB ? 2 : 1;

	if (root[0] == '\0')
		return true;
	for (size_t i = 0; i < n; i++) {
		const char *inside = tarpit_inside_chroot(root, *paths[i]);

		if (inside == NULL) {
			g_set_error(error, CONF_ERROR, CONF_ERROR_INVALID,
			    "%s: %s is not inside chroot %s", c->path, *paths[i],
			    root);
			return false;
		}
		inside = g_strdup(inside);
		g_free(*paths[i]);
		*paths[i] = (char *)inside;
	}
	return true;
}

static void
set_params(struct tarpit *t)
{
	t->params.greet_wait = t->conf->tarpitd.greet_wait;
	t->params.drip_interval = t->conf->tarpitd.drip_interval;
	t->params.max_hold = t->conf->tarpitd.max_hold;
	t->params.impatient_before = t->conf->tarpitd.impatient_before;
	smtp_script_init(&t->script, t->conf->tarpitd.hostname);
}

/* FIFO lists of clients, linked through their descriptors. */
static void
fifo_remove(struct tarpit *t, int fd)
{
	struct client *c = &t->clients[fd];
	struct fifo *q;

	if (c->queue == Q_NONE)
		return;
	q = &t->q[c->queue];
	if (c->prev >= 0)
		t->clients[c->prev].next = c->next;
	else
		q->head = c->next;
	if (c->next >= 0)
		t->clients[c->next].prev = c->prev;
	else
		q->tail = c->prev;
	c->queue = Q_NONE;
	c->prev = c->next = -1;
}

static void
fifo_append(struct tarpit *t, int fd, enum queue which)
{
	struct client *c = &t->clients[fd];
	struct fifo *q = &t->q[which];

	c->queue = (uint8_t)which;
	c->next = -1;
	c->prev = q->tail;
	if (q->tail >= 0)
		t->clients[q->tail].next = fd;
	else
		q->head = fd;
	q->tail = fd;
}

/* Put a client in the queue its state calls for. */
static void
requeue(struct tarpit *t, int fd)
{
	static const int8_t by_state[] = {
		[SMTP_GREET] = Q_GREET, [SMTP_WAIT] = Q_WAIT,
		[SMTP_DRIP] = Q_DRIP, [SMTP_ANSWER] = Q_DRIP,
		[SMTP_CLOSING] = Q_NONE,
		[SMTP_CLOSED] = Q_NONE,
	};
	struct client *c = &t->clients[fd];
	enum queue want = (enum queue)by_state[c->s.state];

	/* Still in the right queue: its deadline did not change. */
	if (c->queue == want)
		return;
	fifo_remove(t, fd);
	if (want != Q_NONE)
		fifo_append(t, fd, want);
}

static int
compare_deadline(const void *a, const void *b, void *data)
{
	const struct tarpit *t = data;
	int64_t da = t->clients[*(const int *)a].s.deadline;
	int64_t db = t->clients[*(const int *)b].s.deadline;

	return da < db ? -1 : da > db;
}

/*
 * After a reload changed the delays: no deadline stays later than now
 * plus its queue's new delay (so a client queued from now on, at now
 * plus that delay, never waits behind an old, longer one), then sort
 * every queue again.
 */
static void
resort_queues(struct tarpit *t)
{
	const int64_t now = mono_ms(), delay[Q_COUNT] = {
		[Q_GREET] = t->params.greet_wait, [Q_WAIT] = t->params.max_hold,
		[Q_DRIP] = t->params.drip_interval,
	};

	for (int q = 0; q < Q_COUNT; q++) {
		g_autoptr(GArray) fds = g_array_new(FALSE, FALSE, sizeof(int));

		for (int fd = t->q[q].head; fd >= 0; fd = t->clients[fd].next) {
			struct smtp_session *s = &t->clients[fd].s;

			s->deadline = MIN(s->deadline, now + delay[q]);
			g_array_append_val(fds, fd);
		}
		g_array_sort_with_data(fds, compare_deadline, t);
		t->q[q].head = t->q[q].tail = -1;
		for (guint i = 0; i < fds->len; i++)
			fifo_append(t, g_array_index(fds, int, i), (enum queue)q);
	}
}

/* Log something that can repeat fast at most once a minute. */
static bool
may_complain(struct tarpit *t)
{
	int64_t now = mono_ms();

	if (t->last_complaint != 0 && now - t->last_complaint < COMPLAIN_EVERY)
		return false;
	t->last_complaint = now;
	return true;
}

/* Queue a store event for a's network; never blocks. */
static void
store_event(struct tarpit *t, const struct addr *a,
    const struct tarpit_update *u)
{
	char key[ADDR_NETKEY_LEN];

	addr_netkey(a, t->conf->store.ipv4_prefix, t->conf->store.ipv6_prefix,
	    key);
	if (!storeq_push(t->queue, key, u) && may_complain(t))
		log_msg(LOG_WARNING, "store queue full: dropping tar-pit "
		    "events (the store is slower than the clients)");
}

/* The per-network key of a: its address masked to the store prefix. */
static struct addr
net_of(const struct tarpit *t, const struct addr *a)
{
	struct addr n = *a;

	addr_mask(&n, n.family == AF_INET ? t->conf->store.ipv4_prefix :
	    t->conf->store.ipv6_prefix);
	return n;
}

/* Add delta to the count of a's network; returns the new count. */
static unsigned
net_count(struct tarpit *t, const struct addr *a, int delta)
{
	struct addr n = net_of(t, a);
	bool v4 = n.family == AF_INET;
	GHashTable *h = v4 ? t->per_net4 : t->per_net;
	gpointer key = &n;
	unsigned count;
	uint32_t ip;

	if (v4) {
		memcpy(&ip, n.bytes, sizeof(ip));
		key = GUINT_TO_POINTER(ip);
	}
	count = GPOINTER_TO_UINT(g_hash_table_lookup(h, key));
	count = (unsigned)((int)count + delta);
	if (count == 0)
		g_hash_table_remove(h, key);
	else
		g_hash_table_replace(h, v4 ? key : g_memdup2(&n, sizeof(n)),
		    GUINT_TO_POINTER(count));
	return count;
}

/* The aggregate network of a, for budgets and summaries. */
static struct addr_cidr
aggregate_of(const struct tarpit *t, const struct addr *a)
{
	struct addr_cidr n = { *a, a->family == AF_INET ?
	    t->conf->tarpitd.aggregate_ipv4_prefix :
	    t->conf->tarpitd.aggregate_ipv6_prefix };

	addr_mask(&n.net, n.prefix);
	return n;
}

/*
 * One from the budget of a's aggregate network (budget.c), if any is
 * left; the first refusal and a full table are logged, once each.
 */
static bool
charge(struct tarpit *t, const struct addr *a)
{
	struct addr_cidr net = aggregate_of(t, a);
	char text[ADDR_NETKEY_LEN];
	bool overflow;

	if (!budget_take(t->budget, &net.net,
	    t->conf->tarpitd.records_per_minute, mono_ms(), &overflow)) {
		if (!t->told_budget) {
			t->told_budget = true;
			log_msg(LOG_NOTICE, "%s passed records_per_minute (%u):"
			    " sessions over an aggregate network's budget are "
			    "counted and summarised, not recorded (said once)",
			    addr_cidr_format(&net, text),
			    t->conf->tarpitd.records_per_minute);
		}
		return false;
	}
	if (overflow && !t->told_overflow) {
		t->told_overflow = true;
		log_msg(LOG_NOTICE, "records_per_minute: %d aggregate networks "
		    "tracked; newer ones share one budget (said once)",
		    BUDGET_NETS_MAX);
	}
	return true;
}

/*
 * Write c's contact now, stamped with the time it connected, with the
 * HELO cmd if not NULL: one event for both.
 */
static void
write_contact(struct tarpit *t, struct client *c,
    const struct smtp_command *cmd)
{
	struct tarpit_update u = { .now = wall_ms(c->s.start),
	    .new_session = true };

	if (cmd != NULL)
		record_update_set_helo(&u, cmd->arg, cmd->arg_len,
		    c->s.helo_class);
	c->contact_due = false;
	store_event(t, &c->addr, &u);
}

/* Write the contacts that waited CONTACT_WAIT for a HELO in vain. */
static void
write_waiting(struct tarpit *t, int64_t now)
{
	while (t->nwaiting > 0 && t->waiting[t->waiting_head].due <= now) {
		const struct waiting *w = &t->waiting[t->waiting_head];
		struct client *c = &t->clients[w->fd];

		/*
		 * Gone, or its HELO came: its slot may serve another session
		 * now, whose contact waits in an entry of its own.
		 */
		if (c->used && c->contact_due && c->s.start == w->start)
			write_contact(t, c, NULL);
		t->waiting_head = (t->waiting_head + 1) % CONTACTS_WAITING;
		t->nwaiting--;
	}
}

/*
 * Record the session once it has earned it: it spoke, or it waited for
 * the greeting (with greet_wait = 0, which greets at once, it must also
 * have stayed RECORD_AFTER: a connect-and-close is not greeted). A store
 * network this worker recorded lately makes no new record: the session
 * is recorded free, and goes to the store once, when it ends (see
 * end_session). Any other takes one from its aggregate network's budget,
 * and its contact goes to the store, stamped with the time it connected,
 * so the milter sees a new client while it is still held: with its HELO
 * if that comes within CONTACT_WAIT (one event, not two), else then.
 */
static void
maybe_record(struct tarpit *t, int fd)
{
	struct client *c = &t->clients[fd];
	int64_t now = mono_ms();
	struct addr net;

	if (c->record != RECORD_PENDING || c->s.end == SMTP_END_LIMIT ||
	    !(c->s.heard || (c->s.greeted && (t->params.greet_wait > 0 ||
	    now - c->s.start >= RECORD_AFTER))))
		return;
	net = net_of(t, &c->addr);
	if (budget_known(t->budget, &net))
		c->record = RECORD_KNOWN;
	else if (charge(t, &c->addr))
		c->record = RECORD_YES;
	else {
		c->record = RECORD_OVER;
		return;
	}
	budget_learn(t->budget, &net, now);
	if (c->record != RECORD_YES)
		return;
	if (t->nwaiting == CONTACTS_WAITING) {
		write_contact(t, c, NULL);
		return;
	}
	t->waiting[(t->waiting_head + t->nwaiting) % CONTACTS_WAITING] =
	    (struct waiting){ now + CONTACT_WAIT, c->s.start, fd };
	t->nwaiting++;
	c->contact_due = true;
}

/*
 * Is a recorded session that ends now written: its lines, and for a
 * known network its one store update? A charged one is, and so is one
 * held through the greeting and a drip interval (what a client costs
 * itself bounds those); a short one from a known network is charged
 * now, so neither its lines nor its store writes come at its rate.
 */
static bool
worth_writing(struct tarpit *t, const struct client *c, int64_t held)
{
	return c->record == RECORD_YES ||
	    held >= t->params.greet_wait + t->params.drip_interval ||
	    charge(t, &c->addr);
}

/* Write the rest of the pending line, as far as the socket takes it. */
static void
flush(struct tarpit *t, int fd)
{
	struct client *c = &t->clients[fd];
	const char *data;
	size_t len;

	while ((len = smtp_pending(&c->s, &t->script, &data)) > 0) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			smtp_sent(&c->s, &t->script, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			/* Not reading: try again at its next deadline. */
			if (c->s.state == SMTP_CLOSING)
				c->s.state = SMTP_CLOSED;
			return;
		}
		smtp_closed(&c->s, &t->params, mono_ms(),
		    SMTP_END_CLIENT_CLOSED);
		return;
	}
}

/* The session is over: report it, tell the store, close. */
static void
end_session(struct tarpit *t, int fd)
{
	struct client *c = &t->clients[fd];
	int64_t now = mono_ms();
	struct session_report r = { &c->addr, c->port, wall_ms(c->s.start),
	    wall_ms(now), &c->s };
	struct tarpit_update u = { .now = r.disconnect,
	    .evidence = c->s.evidence, .held_ms = (uint64_t)(now - c->s.start) };

	maybe_record(t, fd);	/* greeted, silent, and stayed long enough */
	/* Its contact first: the end event has the disconnect time. */
	if (c->contact_due)
		write_contact(t, c, NULL);
	if ((c->record == RECORD_YES || c->record == RECORD_KNOWN) &&
	    worth_writing(t, c, now - c->s.start)) {
		char line[2048];
		size_t n = session_json(&r, line, sizeof(line));

		session_log(&r);
		/* Queued for the log writer: never waited for. */
		if (n > 0)
			log_eventlog_write(line, n);
		/* A known network's session goes to the store once, now. */
		if (c->record == RECORD_KNOWN) {
			u.new_session = true;
			if (c->s.have_helo)
				record_update_set_helo(&u, c->s.helo,
				    c->s.helo_len, c->s.helo_class);
		}
		store_event(t, &c->addr, &u);
	} else {
		enum unrecorded why = c->s.end == SMTP_END_LIMIT ?
		    UNRECORDED_LIMIT : c->record == RECORD_PENDING ?
		    UNRECORDED_EARLY : UNRECORDED_BUDGET;
		struct addr_cidr net = aggregate_of(t, &c->addr);

		summary_add(t->summary, why, &net);
		t->totals.unrecorded[why]++;
	}

	t->totals.sessions++;
	t->totals.held_ms += u.held_ms;
	t->totals.bytes_sent += c->s.bytes_sent;
	t->totals.ended[MIN(c->s.end, SMTP_END_ERROR)]++;
	for (unsigned i = 0; i < EVIDENCE_SLOTS; i++)
		t->totals.evidence[i] += (c->s.evidence >> i) & 1;
	if (c->s.end != SMTP_END_LIMIT) {
		net_count(t, &c->addr, -1);
		t->nclients--;
	}
	fifo_remove(t, fd);
	smtp_clear(&c->s);
	c->used = false;
	close(fd);
}

/* After the session moved: write, then requeue or end it. */
static void
settle(struct tarpit *t, int fd)
{
	struct client *c = &t->clients[fd];

	flush(t, fd);
	maybe_record(t, fd);
	if (c->s.state == SMTP_CLOSED || c->s.state == SMTP_CLOSING) {
		/* The 421 went out as far as it could; never wait on it. */
		if (c->s.state == SMTP_CLOSING)
			c->s.state = SMTP_CLOSED;
		end_session(t, fd);
		return;
	}
	requeue(t, fd);
}

/* Bytes from a client; nothing of them is kept but the HELO. */
static void
client_readable(struct tarpit *t, int fd)
{
	static uint8_t buf[READ_CHUNK];
	struct client *c = &t->clients[fd];

	for (int i = 0; i < READS_PER_EVENT; i++) {
		struct smtp_command cmd;
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n == 0) {
			/* A half-close too: it may still read our 421. */
			smtp_eof(&c->s, &t->params, mono_ms());
			break;
		}
		if (n < 0) {
			smtp_closed(&c->s, &t->params, mono_ms(),
			    SMTP_END_CLIENT_CLOSED);
			break;
		}
		smtp_input(&c->s, &t->params, mono_ms(), buf, (size_t)n, &cmd);
		maybe_record(t, fd);
		if (cmd.complete && cmd.is_helo) {
			struct tarpit_update u = { .now = store_now() };

			if (c->contact_due)
				write_contact(t, c, &cmd);
			else if (c->record == RECORD_YES) {
				record_update_set_helo(&u, cmd.arg, cmd.arg_len,
				    c->s.helo_class);
				store_event(t, &c->addr, &u);
			}
			t->totals.helos++;
		}
	}
	settle(t, fd);
}

/*
 * Tune the listening sockets once, for every client: an accepted socket
 * inherits them (Linux copies the buffer sizes, their locks and
 * TCP_NODELAY into it), so no client costs three system calls more.
 * Small buffers cost the kernel less; the smallest receive buffer also
 * slows the client (endlessh), and here from its first segment: the
 * SYN-ACK already offers the small window. A connection that completed
 * before this (one queued on a socket systemd passed) keeps the defaults.
 */
static void
listeners_tune(struct tarpit *t)
{
	int small = 1, on = 1;

	for (size_t i = 0; i < t->listen.n; i++) {
		int fd = t->listen.fds[i];

		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	}
}

/*
 * One new connection, just accepted: what must be known at once (its
 * address, its start, whether it is over a limit: the counts move with
 * every accept) and nothing that talks to the kernel. It waits in the
 * pending ring for greet_pending(), which greets it or turns it away.
 */
static void
client_new(struct tarpit *t, int fd, const struct sockaddr_storage *ss,
    socklen_t len, int64_t now)
{
	struct client *c;
	bool over;

	if (fd >= t->nslots) {
		close(fd);
		return;
	}
	c = &t->clients[fd];
	memset(c, 0, sizeof(*c));
	c->queue = Q_NONE;
	c->prev = c->next = -1;
	if (!addr_from_sockaddr((const struct sockaddr *)ss, len, &c->addr,
	    &c->port)) {
		close(fd);
		return;
	}
	c->used = true;
	/* Its deadline counts from now, however soon it is greeted. */
	smtp_start(&c->s, &t->params, now);
	t->totals.started++;

	over = t->nclients >= t->conf->tarpitd.max_clients;
	if (!over && net_count(t, &c->addr, 1) >
	    t->conf->tarpitd.max_clients_per_net) {
		net_count(t, &c->addr, -1);
		over = true;
	}
	/*
	 * Nothing is written for it yet: see maybe_record(). One over a
	 * limit gets its 421 and is closed at once, so that a flood of
	 * refused clients does not hold descriptors until the burst is over.
	 */
	if (over) {
		smtp_abort(&c->s, SMTP_END_LIMIT);
		settle(t, fd);
		return;
	}
	t->nclients++;
	t->pending[(t->pending_head + t->npending) % (unsigned)t->nslots] = fd;
	t->npending++;
}

/*
 * Greet up to max accepted clients, oldest first (their deadlines were
 * set in that order, so each FIFO stays sorted). Until now a client was not watched: what it sent
 * meanwhile is read first, before the greeting, because a bot that
 * talked and hung up before it (a burst defers greetings) would answer
 * our write with a reset, which on Linux discards its unread bytes and
 * with them the evidence; bytes there before any greeting are pregreet.
 */
static void
greet_pending(struct tarpit *t, unsigned max)
{
	for (; max > 0 && t->npending > 0; max--) {
		int fd = t->pending[t->pending_head];
		struct client *c = &t->clients[fd];
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP,
		    .data.fd = fd };

		t->pending_head = (t->pending_head + 1) % (unsigned)t->nslots;
		t->npending--;
		if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			smtp_closed(&c->s, &t->params, mono_ms(),
			    SMTP_END_ERROR);
			settle(t, fd);
		} else
			client_readable(t, fd);		/* settles it */
	}
}

static void
listeners_watch(struct tarpit *t, bool on)
{
	for (size_t i = 0; i < t->listen.n; i++) {
		/* Shared sockets: wake one worker per connection, not all. */
		struct epoll_event ev = { .events = EPOLLIN |
		    (t->listen.shared ? EPOLLEXCLUSIVE : 0),
		    .data.fd = -1 - (int)i };

		epoll_ctl(t->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL,
		    t->listen.fds[i], &ev);
	}
}

/*
 * Accept what is waiting on listening socket i: accept first, greet
 * after. A burst of bots fills the kernel's accept queue (somaxconn
 * long) faster than clients are set up one by one, and what does not
 * fit is dropped, its SYN sent again a second later; so the queue is
 * drained here, with only the cheap work per connection, and the
 * greetings and their system calls come in greet_pending(), between
 * drains.
 */
static void
accept_some(struct tarpit *t, size_t i)
{
	int64_t now = mono_ms();

	for (int n = 0; n < ACCEPTS_PER_EVENT && t->accept_resume == 0; n++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = accept4(t->listen.fds[i], (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			client_new(t, fd, &ss, len, now);
			t->accepted++;
			continue;
		}
		switch (errno) {
		case EINTR:
		case ECONNABORTED:
		case EPROTO:
			continue;
		case EAGAIN:
			return;
		case EMFILE:
		case ENFILE:
		case ENOBUFS:
		case ENOMEM:
			/* Out of descriptors: pause instead of spinning. */
			if (may_complain(t))
				log_msg(LOG_WARNING, "accept: %m; not accepting "
				    "for %d ms (%u clients held)", ACCEPT_PAUSE,
				    t->nclients);
			listeners_watch(t, false);
			t->accept_resume = mono_ms() + ACCEPT_PAUSE;
			return;
		default:
			if (may_complain(t))
				log_msg(LOG_ERR, "accept: %m");
			return;
		}
	}
}

/* Move every client whose deadline has come. */
static void
run_timers(struct tarpit *t, int64_t now)
{
	for (int q = 0; q < Q_COUNT; q++) {
		int fd;

		while ((fd = t->q[q].head) >= 0 &&
		    t->clients[fd].s.deadline <= now) {
			/* Off the queue first: its next deadline goes last. */
			fifo_remove(t, fd);
			smtp_timeout(&t->clients[fd].s, &t->params, now);
			settle(t, fd);
		}
	}
	write_waiting(t, now);
	if (t->accept_resume != 0 && now >= t->accept_resume) {
		t->accept_resume = 0;
		/* Those still watched refuse the add (EEXIST): harmless. */
		listeners_watch(t, true);
	}
	if (t->metrics != NULL && metrics_server_deadline(t->metrics) <= now)
		metrics_server_run(t->metrics);
	if (now >= t->summary_due) {
		summary_emit(t->summary, SUMMARY_EVERY);
		budget_sweep(t->budget, now);
		t->summary_due = now + SUMMARY_EVERY;
	}
}

/* Milliseconds until the earliest deadline; -1 for none. */
static int
next_timeout(const struct tarpit *t, int64_t now)
{
	int64_t next = t->accept_resume != 0 ? t->accept_resume : INT64_MAX;

	next = MIN(next, t->summary_due);
	if (t->nwaiting > 0)
		next = MIN(next, t->waiting[t->waiting_head].due);
	if (t->metrics != NULL)
		next = MIN(next, metrics_server_deadline(t->metrics));

	for (int q = 0; q < Q_COUNT; q++)
		if (t->q[q].head >= 0)
			next = MIN(next, t->clients[t->q[q].head].s.deadline);
	if (next == INT64_MAX)
		return -1;
	return next <= now ? 0 : (int)MIN(next - now, 60 * 60 * 1000);
}

/*
 * What the counters table reads: the totals and the gauges of one
 * moment, all uint64_t (metrics.h). The log queue's counters are
 * metrics.c's own table, rendered after this one.
 */
struct counters {
	struct totals	t;
	uint64_t	held_now;
	uint64_t	max_clients;	/* the limit held_now may reach */
	uint64_t	budget_networks;
	struct storeq_stats store;
};

static const char *
end_label(unsigned i)
{
	return smtp_end_name((enum smtp_end)i);
}

static const char *
unrecorded_label(unsigned i)
{
	return unrecorded_name((enum unrecorded)i);
}

/* struct storeq_stats has written, dropped and failed side by side. */
static const char *const store_results[] = { "written", "dropped", "failed" };
G_STATIC_ASSERT(offsetof(struct storeq_stats, failed) ==
    offsetof(struct storeq_stats, written) + 2 * sizeof(uint64_t));

/*
 * Every counter of a worker, once: its scrape (render_metrics) and its
 * totals line (log_totals) are both this table. The totals line starts
 * "held_now=N sessions=N" as it always has; scripts read it.
 */
static const struct metrics_row counter_rows[] = {
	{ .name = "slowspam_tarpit_clients_held", .help = "Clients held now.",
	  .kind = METRICS_GAUGE, .key = "held_now",
	  .offset = offsetof(struct counters, held_now) },
	/* The sum of the ended sessions, which the scrape has by reason. */
	{ .key = "sessions", .offset = offsetof(struct counters, t.sessions) },
	{ .name = "slowspam_tarpit_sessions_started_total",
	  .help = "Connections accepted (those refused over a limit too).",
	  .key = "started", .offset = offsetof(struct counters, t.started) },
	{ .name = "slowspam_tarpit_held_seconds_total",
	  .help = "Time clients were held, summed over ended sessions.",
	  .key = "hours_held", .offset = offsetof(struct counters, t.held_ms),
	  .divisor = 1000, .totals_divisor = 3600000 },
	{ .name = "slowspam_tarpit_bytes_sent_total",
	  .help = "Bytes sent to clients, summed over ended sessions.",
	  .key = "bytes_sent",
	  .offset = offsetof(struct counters, t.bytes_sent) },
	{ .name = "slowspam_tarpit_helos_total",
	  .help = "HELO and EHLO commands received.", .key = "helos",
	  .offset = offsetof(struct counters, t.helos) },
	{ .name = "slowspam_tarpit_sessions_ended_total",
	  .help = "Sessions ended, by reason.", .key = "end_",
	  .offset = offsetof(struct counters, t.ended), .label = "reason",
	  .value_name = end_label, .first = SMTP_END_MAX_HOLD,
	  .count = SMTP_END_ERROR - SMTP_END_MAX_HOLD + 1 },
	{ .name = "slowspam_tarpit_limit_rejections_total",
	  .help = "Connections turned away over max_clients or "
	    "max_clients_per_net.", .key = "limit_rejections",
	  .offset = offsetof(struct counters, t.ended[SMTP_END_LIMIT]) },
	/* The flag names alone, as the totals line has always had them. */
	{ .name = "slowspam_tarpit_evidence_total",
	  .help = "Ended sessions that showed each kind of bot evidence.",
	  .key = "", .offset = offsetof(struct counters, t.evidence),
	  .label = "flag", .value_name = record_evidence_name,
	  .count = EVIDENCE_SLOTS },
	{ .name = "slowspam_tarpit_unrecorded_total",
	  .help = "Sessions counted but not recorded (no line, no store): "
	    "refused over a limit, closed before the greeting, over "
	    "records_per_minute.", .key = "unrecorded_",
	  .offset = offsetof(struct counters, t.unrecorded),
	  .label = "reason", .value_name = unrecorded_label,
	  .count = UNRECORDED_COUNT },
	{ .name = "slowspam_tarpit_budget_networks",
	  .help = "Aggregate networks whose records_per_minute budget is in "
	    "use.", .kind = METRICS_GAUGE, .key = "budget_networks",
	  .offset = offsetof(struct counters, budget_networks) },
	/* The limit clients_held may reach: an alert needs no copy of it. */
	{ .name = "slowspam_tarpit_max_clients",
	  .help = "Clients this process holds at most (max_clients); more "
	    "get a 421 at once.", .kind = METRICS_GAUGE,
	  .key = "max_clients",
	  .offset = offsetof(struct counters, max_clients) },
	{ .name = "slowspam_store_events_total",
	  .help = "Tar-pit store events, by result.", .key = "store_",
	  .offset = offsetof(struct counters, store.written),
	  .label = "result", .values = store_results,
	  .count = G_N_ELEMENTS(store_results) },
};

const struct metrics_row *
tarpit_counter_table(size_t *nrows, size_t *snapshot_size)
{
	*nrows = G_N_ELEMENTS(counter_rows);
	*snapshot_size = sizeof(struct counters);
	return counter_rows;
}

static void
counters_get(struct tarpit *t, struct counters *out)
{
	out->t = t->totals;
	out->held_now = t->nclients;
	out->max_clients = t->conf->tarpitd.max_clients;
	out->budget_networks = budget_size(t->budget);
	storeq_get_stats(t->queue, &out->store);
}

/* The Prometheus exposition of this worker's counters. */
static void
render_metrics(GString *out, void *data)
{
	struct counters c;

	counters_get(data, &c);
	metrics_table_render(out, counter_rows, G_N_ELEMENTS(counter_rows),
	    &c);
	metrics_log_stats(out);
}

static void
log_totals(struct tarpit *t)
{
	struct counters c;
	struct log_event e;

	counters_get(t, &c);
	log_event_begin(&e, "totals");
	metrics_table_totals(&e, counter_rows, G_N_ELEMENTS(counter_rows), &c);
	metrics_log_totals(&e);
	log_event_emit(&e, LOG_NOTICE);
}

/* Keys a running worker cannot take on: they need a restart. */
static void
warn_restart_keys(const struct conf *old, const struct conf *new)
{
	if (old->tarpitd.listen.n != new->tarpitd.listen.n ||
	    memcmp(old->tarpitd.listen.v, new->tarpitd.listen.v,
	    old->tarpitd.listen.n * sizeof(*old->tarpitd.listen.v)) != 0 ||
	    strcmp(old->tarpitd.user, new->tarpitd.user) != 0 ||
	    strcmp(old->tarpitd.chroot, new->tarpitd.chroot) != 0 ||
	    old->tarpitd.workers != new->tarpitd.workers ||
	    memcmp(&old->tarpitd.metrics_listen, &new->tarpitd.metrics_listen,
	    sizeof(old->tarpitd.metrics_listen)) != 0 ||
	    strcmp(old->store.path, new->store.path) != 0 ||
	    old->store.backend != new->store.backend ||
	    old->store.ipv4_prefix != new->store.ipv4_prefix ||
	    old->store.ipv6_prefix != new->store.ipv6_prefix)
		log_msg(LOG_WARNING, "reload: listen, user, chroot, workers, "
		    "metrics_listen and [store] changes take effect after a "
		    "restart");
}

/* SIGHUP: read the configuration again; keep the old one if it is bad. */
static void
reload(struct tarpit *t)
{
	g_autoptr(GError) err = NULL;
	struct conf *c = tarpit_reread(t->src, &err);
	bool delays;

	if (c != NULL) {
		/* The chroot is done: paths are taken inside the old one. */
		g_free(c->tarpitd.chroot);
		c->tarpitd.chroot = g_strdup(t->conf->tarpitd.chroot);
		if (!chroot_paths(c, &err))
			g_clear_pointer(&c, conf_free);
	}
	if (c == NULL) {
		g_auto(GStrv) lines = g_strsplit(err->message, "\n", -1);

		for (size_t i = 0; lines[i] != NULL; i++)
			log_msg(LOG_ERR, "reload: %s", lines[i]);
		log_msg(LOG_ERR, "reload: keeping the running configuration");
		return;
	}
	warn_restart_keys(t->conf, c);
	/* Keep what cannot change while running. */
	c->store.ipv4_prefix = t->conf->store.ipv4_prefix;
	c->store.ipv6_prefix = t->conf->store.ipv6_prefix;
	delays = c->tarpitd.greet_wait != t->conf->tarpitd.greet_wait ||
	    c->tarpitd.drip_interval != t->conf->tarpitd.drip_interval ||
	    c->tarpitd.max_hold != t->conf->tarpitd.max_hold;
	conf_free(t->conf);
	t->conf = c;
	set_params(t);
	log_set_level(c->log.level);
	/* Reopen the event log, for log rotation (by the log writer). */
	if (c->tarpitd.event_log[0] != '\0')
		log_eventlog_reopen(c->tarpitd.event_log);
	else
		log_eventlog_close();
	if (delays) {
		/* Deadlines set come no later than the new delays allow. */
		resort_queues(t);
	}
	log_msg(LOG_NOTICE, "reloaded %s", c->path);
}

/* SIGTERM: a 421 to everyone held, then stop. */
static void
shut_down(struct tarpit *t)
{
	for (int fd = 0; fd < t->nslots; fd++) {
		if (!t->clients[fd].used)
			continue;
		smtp_abort(&t->clients[fd].s, SMTP_END_SHUTDOWN);
		settle(t, fd);
	}
}

struct tarpit *
tarpit_new(struct conf *conf, const struct conf_source *src,
    const struct listeners *l, GError **error)
{
	struct tarpit *t = g_new0(struct tarpit, 1);
	g_autoptr(GError) err = NULL;
	struct store_options so;
	struct rlimit rl;

	t->conf = conf;
	t->src = src;
	t->listen = *l;
	t->epfd = -1;
	set_params(t);
	for (int q = 0; q < Q_COUNT; q++)
		t->q[q].head = t->q[q].tail = -1;
	/* One slot per descriptor this process may ever have. */
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		rl.rlim_cur = 65536;
	t->nslots = (int)MIN(rl.rlim_cur, (rlim_t)(1 << 22));
	t->clients = g_new0(struct client, (gsize)t->nslots);
	t->pending = g_new(int, (gsize)t->nslots);
	t->waiting = g_new(struct waiting, CONTACTS_WAITING);
	t->per_net4 = g_hash_table_new(g_direct_hash, g_direct_equal);
	t->per_net = g_hash_table_new_full(addr_hash, addr_hash_equal, g_free,
	    NULL);
	t->budget = budget_new();
	t->summary = summary_new();
	t->summary_due = mono_ms() + SUMMARY_EVERY;
	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (t->epfd < 0) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
		    "epoll_create1: %s", g_strerror(errno));
		tarpit_free(t);
		return NULL;
	}
	if (!chroot_paths(conf, error)) {
		tarpit_free(t);
		return NULL;
	}
	conf_store_options(conf, &so);
	if ((t->store = store_open(&so, error)) == NULL) {
		tarpit_free(t);
		return NULL;
	}
	t->queue = storeq_new(t->store, QUEUE_EVENTS);
	/* A missing event log is logged, not fatal, as on a reload. */
	if (conf->tarpitd.event_log[0] != '\0' &&
	    !log_eventlog_open(conf->tarpitd.event_log, &err)) {
		log_msg(LOG_ERR, "%s", err->message);
		g_clear_error(&err);
	}
	/* From here on no log line is waited for (log.c): after the fork. */
	if (!log_writer_start(&err)) {
		log_msg(LOG_WARNING, "%s; logging without a writer thread",
		    err->message);
		g_clear_error(&err);
	}
	listeners_tune(t);
	listeners_watch(t, true);
	if (tarpit_metrics_fd >= 0) {
		struct epoll_event ev = { .events = EPOLLIN,
		    .data.fd = METRICS_EVENT };

		if ((t->metrics = metrics_server_new(tarpit_metrics_fd,
		    render_metrics, t, error)) == NULL ||
		    epoll_ctl(t->epfd, EPOLL_CTL_ADD,
		    metrics_server_fd(t->metrics), &ev) < 0) {
			if (t->metrics != NULL)
				g_set_error(error, G_FILE_ERROR,
				    g_file_error_from_errno(errno), "epoll_ctl "
				    "(metrics): %s", g_strerror(errno));
			tarpit_free(t);
			return NULL;
		}
	}
	return t;
}

int
tarpit_run(struct tarpit *t)
{
	struct epoll_event events[EPOLL_BATCH];
	sigset_t unblocked;

	/* Signals are blocked but for epoll_pwait: no flag is ever missed. */
	sigemptyset(&unblocked);
	while (!tarpit_got_term) {
		int64_t now = mono_ms();
		/* Clients accepted and not greeted yet: do not sleep. */
		int n = epoll_pwait(t->epfd, events, EPOLL_BATCH,
		    t->npending > 0 ? 0 : next_timeout(t, now), &unblocked);

		if (n < 0 && errno != EINTR) {
			log_msg(LOG_ERR, "epoll_wait: %m");
			break;
		}
		for (int i = 0; i < n; i++) {
			int fd = events[i].data.fd;

			if (fd == METRICS_EVENT)
				metrics_server_run(t->metrics);
			else if (fd < 0)
				accept_some(t, (size_t)(-1 - fd));
			else if (t->clients[fd].used)
				client_readable(t, fd);
		}
		greet_pending(t, t->accepted >= GREETS_WHILE_ACCEPTING ?
		    GREETS_IN_BURST : t->accepted > 0 ?
		    GREETS_WHILE_ACCEPTING : GREETS_PER_PASS);
		t->accepted = 0;
		run_timers(t, mono_ms());
		if (tarpit_got_hup) {
			tarpit_got_hup = 0;
			/* Every deadline set under the old delays is queued. */
			greet_pending(t, UINT_MAX);
			reload(t);
		}
		if (tarpit_got_usr1) {
			tarpit_got_usr1 = 0;
			log_totals(t);
		}
	}
	/* Greeted (or refused over a limit) first, then told. */
	greet_pending(t, UINT_MAX);
	shut_down(t);
	/* What the last, shorter period counted is not lost. */
	summary_emit(t->summary, SUMMARY_EVERY - (t->summary_due - mono_ms()));
	log_totals(t);
	return EXIT_SUCCESS;
}

void
tarpit_free(struct tarpit *t)
{
	if (t == NULL)
		return;
	metrics_server_free(t->metrics);
	storeq_free(t->queue);	/* writes what is queued */
	store_free(t->store);
	/* A second for what is queued; a stalled reader is not waited on. */
	log_writer_stop(1000);
	log_eventlog_close();
	if (t->epfd >= 0)
		close(t->epfd);
	for (int fd = 0; fd < t->nslots; fd++)
		if (t->clients[fd].used)
			smtp_clear(&t->clients[fd].s);
	g_free(t->clients);
	g_free(t->pending);
	g_free(t->waiting);
	g_hash_table_destroy(t->per_net4);
	g_hash_table_destroy(t->per_net);
	budget_free(t->budget);
	summary_free(t->summary);
	conf_free(t->conf);
	g_free(t);
}
