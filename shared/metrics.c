/*
 * metrics.c - Prometheus metrics over the smallest correct HTTP/1.0.
 *
 *	metrics_listen		the listening socket
 *	metrics_server_new	a scrape server on a listening socket
 *	metrics_server_run	do what is ready or due, never waiting
 *	metrics_server_fd, metrics_server_deadline	what to wait for
 *	metrics_counter, metrics_gauge, metrics_histogram	samples
 *	metrics_table_render	a table of counters as Prometheus samples
 *	metrics_table_totals	the same table as totals-line fields
 *	metrics_log_stats, metrics_log_totals	the log queue's counters
 *			(log.c), for every daemon
 *
 * One request per connection, answered and closed: no keep-alive, no
 * chunks, nothing but the request line is looked at. The caller may be
 * a single-threaded event loop (tarpitd), so nothing here ever waits:
 * each connection is a state with a deadline, driven by readiness from
 * an epoll descriptor of the server's own, which the caller watches.
 *
 * Diagnostics: none; a client that is slow, silent or gone is dropped.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "metrics.h"

#define METRICS_BACKLOG	16

int
metrics_listen(const struct conf_listen *l, GError **error)
{
	struct sockaddr_storage ss;
	socklen_t len = addr_to_sockaddr(&l->addr, l->port, &ss);
	char text[ADDR_STRLEN];
	int fd, on = 1;

	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 ||
	    listen(fd, METRICS_BACKLOG) < 0)
		goto fail;
	return fd;
fail:
	g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
	    "metrics_listen on %s%s%s:%u: %s",
	    l->addr.family == AF_INET6 ? "[" : "", addr_format(&l->addr, text),
	    l->addr.family == AF_INET6 ? "]" : "", l->port, g_strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

static int64_t
mono_ms(void)
{
	return g_get_monotonic_time() / 1000;
}

/* One scrape connection: reading its request, then writing the answer. */
struct metrics_conn {
	int		fd;		/* -1: the slot is free */
	int64_t		deadline;	/* dropped then, whatever its state */
	size_t		in_len;
	char		in[METRICS_REQUEST_MAX];
	GString		*out;		/* the answer; NULL while reading */
	size_t		out_off;
	bool		writing;	/* watched for EPOLLOUT */
};

struct metrics_server {
	int		listen_fd;	/* not ours to close */
	int		epfd;
	metrics_render_fn fn;
	void		*data;
	int64_t		accept_resume;	/* 0: accepting */
	struct metrics_stats stats;
	struct metrics_conn conns[METRICS_CONNS_MAX];
};

/* epoll data of the listening socket; connections are their slot. */
#define LISTEN_EVENT	UINT32_MAX

/* Is the request line "GET /metrics[?...] HTTP/x"? */
bool
metrics_request_wants(const char *req)
{
	static const char get[] = "GET /metrics";
	size_t n = sizeof(get) - 1;

	return strncmp(req, get, n) == 0 &&
	    (req[n] == ' ' || req[n] == '?' || req[n] == '\r' ||
	    req[n] == '\n');
}

static void
watch_listener(struct metrics_server *m, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN,
	    .data.u32 = LISTEN_EVENT };

	epoll_ctl(m->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, m->listen_fd,
	    &ev);
}

static void
conn_close(struct metrics_server *m, struct metrics_conn *c)
{
	/* Closing removes it from the epoll set too. */
	close(c->fd);
	c->fd = -1;
	if (c->out != NULL)
		g_string_free(c->out, TRUE);
	c->out = NULL;
	m->stats.open--;
}

static void	conn_write(struct metrics_server *, struct metrics_conn *);

/* The request is in (or is all there will be): answer it. */
static void
conn_answer(struct metrics_server *m, struct metrics_conn *c, int64_t now)
{
	c->in[c->in_len] = '\0';
	if (strchr(c->in, '\n') == NULL) {
		conn_close(m, c);		/* no request line: drop it */
		return;
	}
	c->out = g_string_sized_new(4096);
	if (metrics_request_wants(c->in)) {
		g_autoptr(GString) body = g_string_sized_new(4096);

		m->fn(body, m->data);
		g_string_append_printf(c->out, "HTTP/1.0 200 OK\r\n"
		    "Content-Type: text/plain; version=0.0.4\r\n"
		    "Content-Length: %zu\r\nConnection: close\r\n\r\n",
		    body->len);
		g_string_append_len(c->out, body->str, (gssize)body->len);
		m->stats.scrapes++;
	} else {
		static const char body[] = "not found; try /metrics\n";

		g_string_append_printf(c->out, "HTTP/1.0 404 Not Found\r\n"
		    "Content-Type: text/plain\r\n"
		    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
		    sizeof(body) - 1, body);
	}
	c->out_off = 0;
	c->deadline = now + METRICS_DEADLINE_MS;
	conn_write(m, c);
}

/* Read what has come of the request; answer once its head is in. */
static void
conn_read(struct metrics_server *m, struct metrics_conn *c, int64_t now)
{
	while (c->in_len < sizeof(c->in) - 1) {
		ssize_t n = recv(c->fd, c->in + c->in_len,
		    sizeof(c->in) - 1 - c->in_len, MSG_DONTWAIT);

		if (n > 0) {
			c->in_len += (size_t)n;
			c->in[c->in_len] = '\0';
			if (strstr(c->in, "\r\n\r\n") != NULL ||
			    strstr(c->in, "\n\n") != NULL)
				break;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;			/* more later */
		break;				/* the client is done */
	}
	conn_answer(m, c, now);
}

/* Write what the socket takes; close when all of it went out. */
static void
conn_write(struct metrics_server *m, struct metrics_conn *c)
{
	while (c->out_off < c->out->len) {
		ssize_t n = send(c->fd, c->out->str + c->out_off,
		    c->out->len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct epoll_event ev = { .events = EPOLLOUT,
			    .data.u32 = (uint32_t)(c - m->conns) };

			/* Wait until it reads; the deadline still holds. */
			if (!c->writing && epoll_ctl(m->epfd, EPOLL_CTL_MOD,
			    c->fd, &ev) == 0) {
				c->writing = true;
				return;
			}
			if (c->writing)
				return;
		}
		break;
	}
	shutdown(c->fd, SHUT_WR);
	conn_close(m, c);
}

/* A free slot; when none is, the one nearest its deadline is dropped. */
static struct metrics_conn *
free_slot(struct metrics_server *m)
{
	struct metrics_conn *oldest = &m->conns[0];

	for (size_t i = 0; i < METRICS_CONNS_MAX; i++) {
		if (m->conns[i].fd < 0)
			return &m->conns[i];
		if (m->conns[i].deadline < oldest->deadline)
			oldest = &m->conns[i];
	}
	/* A scrape answers in milliseconds; a silent squatter waits. */
	conn_close(m, oldest);
	m->stats.evicted++;
	return oldest;
}

/* Take the connections waiting, a bounded number per call. */
static void
accept_some(struct metrics_server *m, int64_t now)
{
	for (int i = 0; i < METRICS_CONNS_MAX; i++) {
		struct metrics_conn *c;
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };
		int fd = accept4(m->listen_fd, NULL, NULL, SOCK_NONBLOCK |
		    SOCK_CLOEXEC);

		if (fd < 0) {
			switch (errno) {
			case EINTR:
			case ECONNABORTED:
			case EPROTO:
				continue;
			case EMFILE:
			case ENFILE:
			case ENOBUFS:
			case ENOMEM:
				/* Out of descriptors: pause, never spin. */
				m->stats.accept_pauses++;
				watch_listener(m, false);
				m->accept_resume = now + METRICS_ACCEPT_PAUSE_MS;
				return;
			default:
				return;		/* EAGAIN: none left */
			}
		}
		c = free_slot(m);
		c->fd = fd;
		c->deadline = now + METRICS_DEADLINE_MS;
		c->in_len = 0;
		c->out_off = 0;
		c->writing = false;
		ev.data.u32 = (uint32_t)(c - m->conns);
		if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			c->fd = -1;
			continue;
		}
		m->stats.open++;
		m->stats.accepted++;
	}
}

struct metrics_server *
metrics_server_new(int listen_fd, metrics_render_fn fn, void *data,
    GError **error)
{
	struct metrics_server *m = g_new0(struct metrics_server, 1);

	m->listen_fd = listen_fd;
	m->fn = fn;
	m->data = data;
	for (size_t i = 0; i < METRICS_CONNS_MAX; i++)
		m->conns[i].fd = -1;
	m->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (m->epfd < 0) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
		    "metrics: epoll_create1: %s", g_strerror(errno));
		g_free(m);
		return NULL;
	}
	watch_listener(m, true);
	return m;
}

int
metrics_server_fd(const struct metrics_server *m)
{
	return m->epfd;
}

void
metrics_server_run(struct metrics_server *m)
{
	struct epoll_event ev[METRICS_CONNS_MAX + 1];
	int64_t now = mono_ms();
	int n = epoll_wait(m->epfd, ev, G_N_ELEMENTS(ev), 0);
	bool accept = false;

	/*
	 * Connections first: a request that came is read before any
	 * eviction the accepts below may make.
	 */
	for (int i = 0; i < n; i++) {
		struct metrics_conn *c;

		if (ev[i].data.u32 == LISTEN_EVENT) {
			accept = true;
			continue;
		}
		c = &m->conns[ev[i].data.u32];
		if (c->fd < 0)
			continue;	/* closed earlier in this batch */
		if (c->out == NULL)
			conn_read(m, c, now);
		else
			conn_write(m, c);
	}
	if (accept)
		accept_some(m, now);
	for (size_t i = 0; i < METRICS_CONNS_MAX; i++) {
		struct metrics_conn *c = &m->conns[i];

		if (c->fd < 0 || c->deadline > now)
			continue;
		/* Out of time: a request line in by now still gets answered. */
		c->in[c->in_len] = '\0';
		if (c->out == NULL && strchr(c->in, '\n') != NULL) {
			conn_answer(m, c, now);
			continue;
		}
		m->stats.timed_out++;
		conn_close(m, c);
	}
	if (m->accept_resume != 0 && now >= m->accept_resume) {
		m->accept_resume = 0;
		watch_listener(m, true);
	}
}

int64_t
metrics_server_deadline(const struct metrics_server *m)
{
	int64_t next = m->accept_resume != 0 ? m->accept_resume : INT64_MAX;

	for (size_t i = 0; i < METRICS_CONNS_MAX; i++)
		if (m->conns[i].fd >= 0)
			next = MIN(next, m->conns[i].deadline);
	return next;
}

void
metrics_server_get_stats(const struct metrics_server *m,
    struct metrics_stats *out)
{
	*out = m->stats;
}

void
metrics_server_free(struct metrics_server *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < METRICS_CONNS_MAX; i++)
		if (m->conns[i].fd >= 0)
			conn_close(m, &m->conns[i]);
	close(m->epfd);
	g_free(m);
}

static void
head(GString *out, const char *name, const char *help, const char *type)
{
	if (help != NULL)
		g_string_append_printf(out, "# HELP %s %s\n# TYPE %s %s\n",
		    name, help, name, type);
}

static void
sample_name(GString *out, const char *name, const char *suffix,
    const char *labels)
{
	g_string_append(out, name);
	g_string_append(out, suffix);
	if (labels != NULL && labels[0] != '\0')
		g_string_append_printf(out, "{%s}", labels);
	g_string_append_c(out, ' ');
}

/* A sample value; the text format spells the specials +Inf, -Inf, NaN. */
static void
append_double(GString *out, double v)
{
	char buf[G_ASCII_DTOSTR_BUF_SIZE];

	if (isnan(v))
		g_string_append(out, "NaN");
	else if (isinf(v))
		g_string_append(out, v > 0 ? "+Inf" : "-Inf");
	else
		g_string_append(out, g_ascii_dtostr(buf, sizeof(buf), v));
	g_string_append_c(out, '\n');
}

void
metrics_counter(GString *out, const char *name, const char *help,
    const char *labels, uint64_t value)
{
	head(out, name, help, "counter");
	sample_name(out, name, "", labels);
	g_string_append_printf(out, "%" G_GUINT64_FORMAT "\n", value);
}

void
metrics_counter_f(GString *out, const char *name, const char *help,
    const char *labels, double value)
{
	head(out, name, help, "counter");
	sample_name(out, name, "", labels);
	append_double(out, value);
}

void
metrics_gauge(GString *out, const char *name, const char *help,
    const char *labels, double value)
{
	head(out, name, help, "gauge");
	sample_name(out, name, "", labels);
	append_double(out, value);
}

void
metrics_histogram(GString *out, const char *name, const char *help,
    const double *bounds, const uint64_t *counts, size_t n, double sum)
{
	uint64_t total = 0;

	head(out, name, help, "histogram");
	for (size_t i = 0; i <= n; i++) {
		char le[G_ASCII_DTOSTR_BUF_SIZE + 8], num[G_ASCII_DTOSTR_BUF_SIZE];

		total += counts[i];
		if (i < n)
			g_snprintf(le, sizeof(le), "le=\"%s\"",
			    g_ascii_formatd(num, sizeof(num), "%g", bounds[i]));
		else
			g_strlcpy(le, "le=\"+Inf\"", sizeof(le));
		sample_name(out, name, "_bucket", le);
		g_string_append_printf(out, "%" G_GUINT64_FORMAT "\n", total);
	}
	sample_name(out, name, "_sum", NULL);
	append_double(out, sum);
	sample_name(out, name, "_count", NULL);
	g_string_append_printf(out, "%" G_GUINT64_FORMAT "\n", total);
}

/* Value i of a row; memcpy: the snapshot need not be aligned for us. */
static uint64_t
row_value(const struct metrics_row *r, unsigned i, const void *snapshot)
{
	uint64_t v;

	memcpy(&v, (const char *)snapshot + r->offset + i * sizeof(v),
	    sizeof(v));
	return v;
}

/* Label value i of a row, NULL past the last. */
static const char *
row_label_value(const struct metrics_row *r, unsigned i)
{
	if (r->value_name != NULL)
		return r->value_name(i);
	return r->values[i - r->first];
}

static void
row_sample(GString *out, const struct metrics_row *r, const char *help,
    const char *labels, uint64_t v)
{
	if (r->kind == METRICS_GAUGE)
		metrics_gauge(out, r->name, help, labels, r->divisor != 0 ?
		    (double)v / r->divisor : (double)v);
	else if (r->divisor != 0)
		metrics_counter_f(out, r->name, help, labels,
		    (double)v / r->divisor);
	else
		metrics_counter(out, r->name, help, labels, v);
}

void
metrics_table_render(GString *out, const struct metrics_row *rows,
    size_t nrows, const void *snapshot)
{
	for (size_t n = 0; n < nrows; n++) {
		const struct metrics_row *r = &rows[n];
		const char *help = r->help;

		if (r->name == NULL)
			continue;
		if (r->label == NULL) {
			row_sample(out, r, help, NULL,
			    row_value(r, 0, snapshot));
			continue;
		}
		for (unsigned i = r->first; i - r->first < r->count; i++) {
			const char *val = row_label_value(r, i);
			char labels[METRICS_KEY_MAX + 8];

			if (val == NULL)
				break;
			g_snprintf(labels, sizeof(labels), "%s=\"%s\"",
			    r->label, val);
			row_sample(out, r, help, labels,
			    row_value(r, i, snapshot));
			help = NULL;		/* HELP and TYPE once */
		}
	}
}

static void
row_field(struct log_event *ev, const struct metrics_row *r, const char *key,
    uint64_t v)
{
	if (r->totals_divisor != 0)
		log_event_fmt(ev, key, "%.2f", (double)v / r->totals_divisor);
	else
		log_event_int(ev, key, (long long)v);
}

void
metrics_table_totals(struct log_event *ev, const struct metrics_row *rows,
    size_t nrows, const void *snapshot)
{
	for (size_t n = 0; n < nrows; n++) {
		const struct metrics_row *r = &rows[n];

		if (r->key == NULL)
			continue;
		if (r->label == NULL) {
			row_field(ev, r, r->key, row_value(r, 0, snapshot));
			continue;
		}
		for (unsigned i = r->first; i - r->first < r->count; i++) {
			const char *val = row_label_value(r, i);
			char key[METRICS_KEY_MAX];

			if (val == NULL)
				break;
			g_snprintf(key, sizeof(key), "%s%s%s", r->key, val,
			    r->key_suffix != NULL ? r->key_suffix : "");
			row_field(ev, r, key, row_value(r, i, snapshot));
		}
	}
}

static const char *const log_dests[] = { "log", "event_log" };

/* struct log_stats has dropped_log and dropped_event side by side. */
static const struct metrics_row log_rows[] = {
	{ .name = "slowspam_log_lines_dropped_total",
	  .help = "Lines the log queue had no room for (the reader of the "
	    "log or event log was too slow), by destination.",
	  .key = "", .key_suffix = "_dropped",
	  .offset = offsetof(struct log_stats, dropped_log),
	  .label = "dest", .values = log_dests,
	  .count = G_N_ELEMENTS(log_dests) },
	{ .name = "slowspam_log_lines_failed_total",
	  .help = "Lines lost to a write error, or refused as too long.",
	  .key = "log_failed", .offset = offsetof(struct log_stats, failed) },
};

G_STATIC_ASSERT(offsetof(struct log_stats, dropped_event) ==
    offsetof(struct log_stats, dropped_log) + sizeof(uint64_t));

void
metrics_log_stats(GString *out)
{
	struct log_stats ls;

	log_get_stats(&ls);
	metrics_table_render(out, log_rows, G_N_ELEMENTS(log_rows), &ls);
}

void
metrics_log_totals(struct log_event *ev)
{
	struct log_stats ls;

	log_get_stats(&ls);
	metrics_table_totals(ev, log_rows, G_N_ELEMENTS(log_rows), &ls);
}
