/*
 * test_metrics.c - the Prometheus responder (shared/metrics.c) over real
 * loopback sockets: what a scrape gets, what any other request gets, that
 * a silent, slow or non-reading client never holds the caller and is
 * dropped at its deadline, that squatters and EMFILE cost no spinning;
 * the sample writers against the text format's rules; and that a table
 * of counters renders the same rows as samples and as totals fields.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>

#include "addr.h"
#include "metrics.h"
#include "tarpit.h"
#include "testutil.h"

/* Generous for loaded CI machines: a deadline is 1 s. */
#define SLOW_US	(2 * G_USEC_PER_SEC)

struct render {
	const char	*text;		/* what to write, or NULL: big */
	size_t		 big;		/* bytes of filler when text is NULL */
	unsigned	 calls;
	GString		*wrote;		/* a copy of what was written */
};

static void
render(GString *out, void *data)
{
	struct render *r = data;
	size_t from = out->len;

	r->calls++;
	if (r->text != NULL)
		g_string_append(out, r->text);
	else {
		/* Valid exposition too: one long comment line per KB. */
		char line[1024];

		memset(line, 'a', sizeof(line));
		line[0] = '#';
		line[1] = ' ';
		line[sizeof(line) - 1] = '\n';
		while (out->len - from < r->big)
			g_string_append_len(out, line, sizeof(line));
	}
	if (r->wrote != NULL)
		g_string_free(r->wrote, TRUE);
	r->wrote = g_string_new_len(out->str + from,
	    (gssize)(out->len - from));
}

static void
render_clear(struct render *r)
{
	if (r->wrote != NULL)
		g_string_free(r->wrote, TRUE);
	r->wrote = NULL;
}

static int
listen_local(uint16_t *port)
{
	struct conf_listen l = { .port = 0 };
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	g_autoptr(GError) err = NULL;
	int fd;

	g_assert_true(addr_parse("127.0.0.1", &l.addr));
	fd = metrics_listen(&l, &err);
	g_assert_no_error(err);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(getsockname(fd, (struct sockaddr *)&sin, &len), ==, 0);
	*port = ntohs(sin.sin_port);
	g_assert_cmpuint(*port, !=, 0);
	return fd;
}

/* A blocking client, connected (so waiting in the backlog). */
static int
connect_local(uint16_t port, int rcvbuf)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	g_assert_cmpint(fd, >=, 0);
	if (rcvbuf > 0)
		g_assert_cmpint(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
		    sizeof(rcvbuf)), ==, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	g_assert_cmpint(connect(fd, (struct sockaddr *)&sin, sizeof(sin)),
	    ==, 0);
	return fd;
}

static void
send_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		g_assert_cmpint(n, >, 0);
		data += n;
		len -= (size_t)n;
	}
}

/*
 * Everything the server sent until it closed (EOF or a reset, which a
 * close with unread request bytes causes). Fails after 10 s.
 */
static GString *
read_all(int fd)
{
	GString *in = g_string_new(NULL);
	int64_t deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char buf[65536];
		ssize_t n;

		g_assert_cmpint(g_get_monotonic_time(), <, deadline);
		if (poll(&p, 1, 100) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n > 0)
			g_string_append_len(in, buf, n);
		else if (n == 0 || errno != EINTR)
			break;
	}
	return in;
}

/*
 * Drive a server on lfd, the way a daemon does (poll its descriptor up
 * to the next deadline, then run it), until it has accepted a connection
 * and closed it again, or 10 s passed. Returns whether one was accepted;
 * *longest is the longest single metrics_server_run() call, in us.
 */
static bool
serve_one(int lfd, struct render *r, int64_t *longest)
{
	g_autoptr(GError) err = NULL;
	struct metrics_server *m = metrics_server_new(lfd, render, r, &err);
	int64_t deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
	struct metrics_stats st;

	g_assert_no_error(err);
	if (longest != NULL)
		*longest = 0;
	for (;;) {
		struct pollfd p = { .fd = metrics_server_fd(m),
		    .events = POLLIN };
		int64_t next = metrics_server_deadline(m), t0;
		int64_t left = next - g_get_monotonic_time() / 1000;

		poll(&p, 1, next == INT64_MAX ? 100 : (int)CLAMP(left, 0, 100));
		t0 = g_get_monotonic_time();
		metrics_server_run(m);
		if (longest != NULL)
			*longest = MAX(*longest, g_get_monotonic_time() - t0);
		metrics_server_get_stats(m, &st);
		if ((st.accepted > 0 && st.open == 0) ||
		    g_get_monotonic_time() > deadline)
			break;
	}
	metrics_server_free(m);
	return st.accepted > 0;
}

/* Send req on a fresh connection, serve it, return the whole answer. */
static GString *
exchange(int lfd, uint16_t port, const char *req, size_t len, bool eof,
    struct render *r)
{
	int fd = connect_local(port, 0);
	GString *in;

	send_all(fd, req, len);
	if (eof)
		shutdown(fd, SHUT_WR);
	g_assert_true(serve_one(lfd, r, NULL));
	in = read_all(fd);
	close(fd);
	return in;
}

/* Split an answer at the blank line; check the headers against body. */
static char *
check_answer(const GString *in, const char *status, const char *type)
{
	const char *end = strstr(in->str, "\r\n\r\n");
	g_autofree char *head = NULL;
	g_autofree char *clen = NULL;
	g_auto(GStrv) lines = NULL;
	bool seen_type = false, seen_len = false;

	g_assert_nonnull(end);
	head = g_strndup(in->str, (gsize)(end - in->str));
	lines = g_strsplit(head, "\r\n", -1);
	g_assert_cmpstr(lines[0], ==, status);
	clen = g_strdup_printf("Content-Length: %zu",
	    in->len - (size_t)(end + 4 - in->str));
	for (int i = 1; lines[i] != NULL; i++) {
		if (g_str_has_prefix(lines[i], "Content-Type:")) {
			g_assert_cmpstr(lines[i] + 13, ==, type);
			seen_type = true;
		} else if (g_str_has_prefix(lines[i], "Content-Length:")) {
			g_assert_cmpstr(lines[i], ==, clen);
			seen_len = true;
		}
	}
	g_assert_true(seen_type);
	g_assert_true(seen_len);
	return g_strndup(end + 4, in->len - (size_t)(end + 4 - in->str));
}

static const char exposition[] =
    "# HELP t_total Things.\n# TYPE t_total counter\nt_total 42\n";

static void
expect_metrics(const char *req)
{
	struct render r = { .text = exposition };
	uint16_t port;
	int lfd = listen_local(&port);
	g_autoptr(GString) in = exchange(lfd, port, req, strlen(req), false,
	    &r);
	g_autofree char *body = check_answer(in, "HTTP/1.0 200 OK",
	    " text/plain; version=0.0.4");

	g_assert_cmpuint(r.calls, ==, 1);
	g_assert_cmpstr(body, ==, r.wrote->str);
	g_assert_cmpstr(body, ==, exposition);
	render_clear(&r);
	close(lfd);
}

static void
test_scrape(void)
{
	expect_metrics("GET /metrics HTTP/1.0\r\n\r\n");
	expect_metrics("GET /metrics?x=1 HTTP/1.0\r\n\r\n");
	/* What Prometheus sends. */
	expect_metrics("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "User-Agent: Prometheus/2.45.0\r\nAccept: text/plain;"
	    "version=0.0.4;q=1,*/*;q=0.1\r\nAccept-Encoding: gzip\r\n\r\n");
	expect_metrics("GET /metrics\n\n");
}

/* Neither the body nor a call to the renderer: a 404 or a close. */
static void
expect_refused(const char *req, size_t len, bool eof, bool want_404)
{
	struct render r = { .text = exposition };
	uint16_t port;
	int lfd = listen_local(&port);
	g_autoptr(GString) in = exchange(lfd, port, req, len, eof, &r);

	g_assert_cmpuint(r.calls, ==, 0);
	g_assert_null(strstr(in->str, "t_total"));
	if (want_404) {
		g_autofree char *body = check_answer(in,
		    "HTTP/1.0 404 Not Found", " text/plain");

		g_assert_cmpstr(body, ==, "not found; try /metrics\n");
	} else
		g_assert_cmpuint(in->len, ==, 0);
	close(lfd);
}

#define REFUSED(s, eof, is404)	expect_refused((s), sizeof(s) - 1, eof, is404)

static void
test_not_found(void)
{
	REFUSED("GET /other HTTP/1.0\r\n\r\n", false, true);
	REFUSED("GET / HTTP/1.0\r\n\r\n", false, true);
	REFUSED("GET /metricsx HTTP/1.0\r\n\r\n", false, true);
	REFUSED("GET /metrics/x HTTP/1.0\r\n\r\n", false, true);
	REFUSED("POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n", false,
	    true);
	REFUSED("HEAD /metrics HTTP/1.0\r\n\r\n", false, true);
	REFUSED("get /metrics HTTP/1.0\r\n\r\n", false, true);
	REFUSED(" GET /metrics HTTP/1.0\r\n\r\n", false, true);
	REFUSED("GET\t/metrics HTTP/1.0\r\n\r\n", false, true);
	/* Only the first line counts. */
	REFUSED("GET /x HTTP/1.0\r\nGET /metrics HTTP/1.0\r\n\r\n", false,
	    true);
}

static void
test_garbage(void)
{
	static const char tls[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03"
	    "\x03\xff\xfe\n\r\n\x80\x81";
	static const char bin[] = "\x16\x03\x01\xfc\x03\xff\xfe\n\r\n\x80";

	/* A line end among the bytes: a 404. */
	REFUSED(bin, false, true);
	/*
	 * A TLS ClientHello's start: its NUL ends the head before the line
	 * end, so no request line: dropped at the budget.
	 */
	REFUSED(tls, false, false);
	/* No line end at all, then the client is done: closed, silent. */
	REFUSED("\x01\x02\x03\x04\xff GET /metrics", true, false);
	/* A NUL hides what follows: no request line is ever seen. */
	REFUSED("\0GET /metrics HTTP/1.0\r\n\r\n", true, false);
	REFUSED("GET /metrics\0 HTTP/1.0\r\n\r\n", true, false);
	/* The client gives up before the line end. */
	REFUSED("GET /metrics HTTP/1.0", true, false);
	REFUSED("", true, false);
}

/* A request line longer than the buffer, however it would have ended. */
static void
test_too_long(void)
{
	g_autoptr(GString) req = g_string_new("GET /metrics?");

	while (req->len <= METRICS_REQUEST_MAX)
		g_string_append_c(req, 'a');
	g_string_append(req, " HTTP/1.0\r\n\r\n");
	/* Without eof: the buffer filling, not the client, ends the read. */
	expect_refused(req->str, req->len, false, false);
}

/* The request line in two sends, a pause between them. */
static void
test_split(void)
{
	struct render r = { .text = exposition };
	g_autoptr(GError) err = NULL;
	struct metrics_server *m;
	struct metrics_stats st;
	uint16_t port;
	int lfd = listen_local(&port), fd;
	int64_t until;
	g_autoptr(GString) in = NULL;
	g_autofree char *body = NULL;

	m = metrics_server_new(lfd, render, &r, &err);
	g_assert_no_error(err);
	fd = connect_local(port, 0);
	send_all(fd, "GET /met", 8);
	/* Half a request: taken in, not answered, and no one waits. */
	until = g_get_monotonic_time() + METRICS_DEADLINE_MS * 1000 / 4;
	while (g_get_monotonic_time() < until) {
		metrics_server_run(m);
		g_usleep(1000);
	}
	metrics_server_get_stats(m, &st);
	g_assert_cmpuint(st.accepted, ==, 1);
	g_assert_cmpuint(st.open, ==, 1);
	g_assert_cmpuint(r.calls, ==, 0);
	send_all(fd, "rics HTTP/1.0\r\n\r\n", 17);
	until = g_get_monotonic_time() + METRICS_DEADLINE_MS * 1000;
	do {
		metrics_server_run(m);
		metrics_server_get_stats(m, &st);
		g_usleep(1000);
	} while (st.open > 0 && g_get_monotonic_time() < until);
	g_assert_cmpuint(st.open, ==, 0);
	in = read_all(fd);
	body = check_answer(in, "HTTP/1.0 200 OK",
	    " text/plain; version=0.0.4");
	g_assert_cmpstr(body, ==, exposition);
	metrics_server_free(m);
	render_clear(&r);
	close(fd);
	close(lfd);
}

/*
 * Connects and says nothing: no call waits for it (each run returns at
 * once), and it is dropped at its deadline, unanswered.
 */
static void
test_silent(void)
{
	struct render r = { .text = exposition };
	uint16_t port;
	int lfd = listen_local(&port), fd = connect_local(port, 0);
	int64_t t0 = g_get_monotonic_time(), us, longest;
	g_autoptr(GString) in = NULL;

	g_assert_true(serve_one(lfd, &r, &longest));
	us = g_get_monotonic_time() - t0;
	g_test_message("silent client closed after %" G_GINT64_FORMAT " us; "
	    "longest run %" G_GINT64_FORMAT " us", us, longest);
	/* Never a wait: well under the 1 s deadline, even when preempted. */
	g_assert_cmpint(longest, <, 100 * 1000 * test_slow());
	/* Kept until its deadline, not dropped at once, nor much later. */
	g_assert_cmpint(us, >=, METRICS_DEADLINE_MS * 1000 * 9 / 10);
	g_assert_cmpint(us, <, SLOW_US);
	in = read_all(fd);
	g_assert_cmpuint(in->len, ==, 0);
	g_assert_cmpuint(r.calls, ==, 0);
	close(fd);
	close(lfd);
}

/*
 * Asks for 16 MB and never reads: the write gives up at the deadline,
 * and no run waits on it. Even with the client's window small, loopback
 * queues about 3 MB on the sending side (tcp_wmem's 4 MB maximum).
 */
static void
test_not_reading(void)
{
	static const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
	struct render r = { .big = 16u << 20 };
	uint16_t port;
	/* A small window, so the kernel cannot take all of it. */
	int lfd = listen_local(&port), fd = connect_local(port, 4096);
	int64_t t0, us, longest;
	g_autoptr(GString) in = NULL;

	send_all(fd, req, sizeof(req) - 1);
	t0 = g_get_monotonic_time();
	g_assert_true(serve_one(lfd, &r, &longest));
	us = g_get_monotonic_time() - t0;
	g_test_message("non-reading client closed after %" G_GINT64_FORMAT
	    " us; longest run %" G_GINT64_FORMAT " us", us, longest);
	/* Rendering 16 MB is the longest step, not any waiting. */
	g_assert_cmpint(longest, <, SLOW_US / 2);
	g_assert_cmpint(us, <, SLOW_US + METRICS_DEADLINE_MS * 1000);
	g_assert_cmpint(us, >=, METRICS_DEADLINE_MS * 1000 / 2);
	g_assert_cmpuint(r.calls, ==, 1);
	g_assert_cmpuint(r.wrote->len, >=, r.big);
	/* What it got before the server gave up: a start, not the whole. */
	in = read_all(fd);
	g_test_message("got %zu of %zu bytes", in->len, r.wrote->len);
	g_assert_true(g_str_has_prefix(in->str, "HTTP/1.0 200 OK\r\n"));
	g_assert_cmpuint(in->len, <, r.wrote->len);
	render_clear(&r);
	close(fd);
	close(lfd);
}

static void
test_none_waiting(void)
{
	struct render r = { .text = exposition };
	g_autoptr(GError) err = NULL;
	struct metrics_server *m;
	struct metrics_stats st;
	uint16_t port;
	int lfd = listen_local(&port), flags;
	int64_t t0 = g_get_monotonic_time();

	flags = fcntl(lfd, F_GETFL);
	g_assert_cmpint(flags & O_NONBLOCK, !=, 0);
	g_assert_cmpint(fcntl(lfd, F_GETFD) & FD_CLOEXEC, !=, 0);
	m = metrics_server_new(lfd, render, &r, &err);
	g_assert_no_error(err);
	g_assert_cmpint(fcntl(metrics_server_fd(m), F_GETFD) & FD_CLOEXEC, !=,
	    0);
	metrics_server_run(m);
	metrics_server_get_stats(m, &st);
	g_assert_cmpuint(st.accepted, ==, 0);
	g_assert_cmpint(metrics_server_deadline(m), ==, INT64_MAX);
	g_assert_cmpint(g_get_monotonic_time() - t0, <, SLOW_US);
	g_assert_cmpuint(r.calls, ==, 0);
	metrics_server_free(m);
	close(lfd);
}

/*
 * Silent connections past the server's slots, then a scrape: the scrape
 * is answered at once (the squatter nearest its deadline makes room).
 */
static void
test_squatters(void)
{
	struct render r = { .text = exposition };
	g_autoptr(GError) err = NULL;
	struct metrics_server *m;
	struct metrics_stats st;
	uint16_t port;
	int lfd = listen_local(&port), fd;
	int squat[METRICS_CONNS_MAX * 2];
	int64_t t0, us;
	g_autoptr(GString) in = NULL;
	g_autofree char *body = NULL;

	m = metrics_server_new(lfd, render, &r, &err);
	g_assert_no_error(err);
	for (size_t i = 0; i < G_N_ELEMENTS(squat); i++) {
		squat[i] = connect_local(port, 0);
		metrics_server_run(m);
	}
	metrics_server_get_stats(m, &st);
	g_assert_cmpuint(st.open, ==, METRICS_CONNS_MAX);
	t0 = g_get_monotonic_time();
	fd = connect_local(port, 0);
	send_all(fd, "GET /metrics HTTP/1.0\r\n\r\n", 26);
	do {
		struct pollfd p = { .fd = metrics_server_fd(m),
		    .events = POLLIN };

		poll(&p, 1, 10);
		metrics_server_run(m);
	} while (r.calls == 0 && g_get_monotonic_time() - t0 < SLOW_US);
	us = g_get_monotonic_time() - t0;
	g_test_message("scrape behind %zu squatters answered in %"
	    G_GINT64_FORMAT " us", G_N_ELEMENTS(squat), us);
	g_assert_cmpuint(r.calls, ==, 1);
	g_assert_cmpint(us, <, METRICS_DEADLINE_MS * 1000 / 2);
	metrics_server_get_stats(m, &st);
	g_assert_cmpuint(st.evicted, >=, METRICS_CONNS_MAX);
	in = read_all(fd);
	body = check_answer(in, "HTTP/1.0 200 OK",
	    " text/plain; version=0.0.4");
	g_assert_cmpstr(body, ==, exposition);
	metrics_server_free(m);
	for (size_t i = 0; i < G_N_ELEMENTS(squat); i++)
		close(squat[i]);
	close(fd);
	render_clear(&r);
	close(lfd);
}

/*
 * Out of descriptors: the accept fails with EMFILE once, then the
 * server stops watching the listener for the pause (no spinning) and
 * answers the client that waited once descriptors are back.
 */
static void
test_emfile(void)
{
	struct render r = { .text = exposition };
	g_autoptr(GError) err = NULL;
	struct metrics_server *m;
	struct metrics_stats st;
	struct rlimit saved, low;
	struct pollfd p;
	uint16_t port;
	int lfd = listen_local(&port), fd, spare;
	int64_t t0;

	m = metrics_server_new(lfd, render, &r, &err);
	g_assert_no_error(err);
	fd = connect_local(port, 0);
	send_all(fd, "GET /metrics HTTP/1.0\r\n\r\n", 26);
	/* The lowest free descriptor is the limit: nothing more opens. */
	spare = dup(0);
	g_assert_cmpint(spare, >=, 0);
	close(spare);
	g_assert_cmpint(getrlimit(RLIMIT_NOFILE, &saved), ==, 0);
	low = saved;
	low.rlim_cur = (rlim_t)spare;
	g_assert_cmpint(setrlimit(RLIMIT_NOFILE, &low), ==, 0);
	metrics_server_run(m);
	metrics_server_get_stats(m, &st);
	g_assert_cmpuint(st.accept_pauses, ==, 1);
	g_assert_cmpuint(st.accepted, ==, 0);
	/* Paused: not readable although the client still waits. */
	p = (struct pollfd){ .fd = metrics_server_fd(m), .events = POLLIN };
	g_assert_cmpint(poll(&p, 1, METRICS_ACCEPT_PAUSE_MS / 4), ==, 0);
	g_assert_cmpint(metrics_server_deadline(m), <, INT64_MAX);
	g_assert_cmpint(setrlimit(RLIMIT_NOFILE, &saved), ==, 0);
	t0 = g_get_monotonic_time();
	while (r.calls == 0 && g_get_monotonic_time() - t0 < SLOW_US) {
		int64_t left = metrics_server_deadline(m) -
		    g_get_monotonic_time() / 1000;

		p = (struct pollfd){ .fd = metrics_server_fd(m),
		    .events = POLLIN };
		poll(&p, 1, (int)CLAMP(left, 0, 100));
		metrics_server_run(m);
	}
	metrics_server_get_stats(m, &st);
	g_assert_cmpuint(st.accept_pauses, ==, 1);
	g_assert_cmpuint(r.calls, ==, 1);
	metrics_server_free(m);
	close(fd);
	render_clear(&r);
	close(lfd);
}

/* The port is taken: -1 and an error naming the address. */
static void
test_listen_error(void)
{
	struct conf_listen l = { .port = 0 };
	g_autoptr(GError) err = NULL;
	g_autofree char *where = NULL;
	uint16_t port;
	int lfd = listen_local(&port);

	g_assert_true(addr_parse("127.0.0.1", &l.addr));
	l.port = port;
	g_assert_cmpint(metrics_listen(&l, &err), ==, -1);
	g_assert_nonnull(err);
	where = g_strdup_printf("127.0.0.1:%u", port);
	g_assert_nonnull(strstr(err->message, where));
	close(lfd);
}

/*
 * The text format, version 0.0.4: every line a "# HELP name text",
 * "# TYPE name type" or "name[{label="value",...}] value" line, ending
 * in LF; a family's TYPE once at most and before its samples. Returns
 * the samples as "name{labels}" -> value.
 */
static GHashTable *
parse_exposition(const char *text)
{
	g_autoptr(GRegex) help = g_regex_new(
	    "^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) [^\n]*$", 0, 0, NULL);
	g_autoptr(GRegex) type = g_regex_new("^# TYPE ([a-zA-Z_:]"
	    "[a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$", 0, 0,
	    NULL);
	g_autoptr(GRegex) sample = g_regex_new("^([a-zA-Z_:][a-zA-Z0-9_:]*"
	    "(\\{[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\\n]|\\\\[\\\\\"n])*\""
	    "(,[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\\n]|\\\\[\\\\\"n])*\")*\\})?)"
	    " ([^ ]+)$", 0, 0, NULL);
	g_autoptr(GHashTable) typed = g_hash_table_new_full(g_str_hash,
	    g_str_equal, g_free, g_free);
	GHashTable *samples = g_hash_table_new_full(g_str_hash, g_str_equal,
	    g_free, g_free);
	g_auto(GStrv) lines = NULL;
	size_t len = strlen(text);

	g_assert_true(len == 0 || text[len - 1] == '\n');
	lines = g_strsplit(text, "\n", -1);
	for (int i = 0; lines[i] != NULL && lines[i + 1] != NULL; i++) {
		g_autoptr(GMatchInfo) m = NULL;

		if (g_regex_match(help, lines[i], 0, NULL))
			continue;
		if (g_regex_match(type, lines[i], 0, &m)) {
			g_autofree char *name = g_match_info_fetch(m, 1);

			g_assert_false(g_hash_table_contains(typed, name));
			g_assert_false(g_hash_table_contains(samples, name));
			g_hash_table_insert(typed, g_steal_pointer(&name),
			    g_match_info_fetch(m, 2));
			continue;
		}
		g_clear_pointer(&m, g_match_info_free);
		if (!g_regex_match(sample, lines[i], 0, &m))
			g_error("not a valid exposition line: \"%s\"",
			    lines[i]);
		else {
			g_autofree char *key = g_match_info_fetch(m, 1);
			g_autofree char *value = g_match_info_fetch(m, 6);
			char *end;

			/* Go's ParseFloat takes what the spec allows. */
			if (strcmp(value, "+Inf") != 0 &&
			    strcmp(value, "-Inf") != 0 &&
			    strcmp(value, "NaN") != 0) {
				g_ascii_strtod(value, &end);
				g_assert_cmpint(*end, ==, '\0');
				g_assert_true(g_ascii_isdigit(value[0]) ||
				    value[0] == '-');
			}
			g_assert_false(g_hash_table_contains(samples, key));
			g_hash_table_insert(samples, g_steal_pointer(&key),
			    g_steal_pointer(&value));
		}
	}
	return samples;
}

static const char *
value_of(GHashTable *samples, const char *key)
{
	const char *v = g_hash_table_lookup(samples, key);

	if (v == NULL)
		g_error("no sample %s", key);
	return v;
}

static void
test_counter_gauge(void)
{
	g_autoptr(GString) out = g_string_new(NULL);
	g_autoptr(GHashTable) s = NULL;

	metrics_counter(out, "t_conn_total", "Connections taken.", NULL, 42);
	metrics_counter(out, "t_drop_total", "Dropped, by reason.",
	    "reason=\"limit\"", 7);
	metrics_counter(out, "t_drop_total", NULL, "reason=\"net\"",
	    G_MAXUINT64);
	metrics_counter(out, "t_bare_total", NULL, "", 0);
	metrics_counter_f(out, "t_held_seconds_total", "Seconds held.", NULL,
	    1234.5);
	metrics_gauge(out, "t_clients", "Clients now.", NULL, 3);
	metrics_gauge(out, "t_ratio", NULL, "a=\"x\",b=\"y\"", -0.25);
	s = parse_exposition(out->str);
	g_assert_cmpuint(g_hash_table_size(s), ==, 7);
	g_assert_cmpstr(value_of(s, "t_conn_total"), ==, "42");
	g_assert_cmpstr(value_of(s, "t_drop_total{reason=\"limit\"}"), ==,
	    "7");
	g_assert_cmpstr(value_of(s, "t_drop_total{reason=\"net\"}"), ==,
	    "18446744073709551615");
	g_assert_cmpstr(value_of(s, "t_bare_total"), ==, "0");
	g_assert_cmpfloat(g_ascii_strtod(value_of(s, "t_held_seconds_total"),
	    NULL), ==, 1234.5);
	g_assert_cmpfloat(g_ascii_strtod(value_of(s, "t_clients"), NULL), ==,
	    3);
	g_assert_cmpfloat(g_ascii_strtod(value_of(s,
	    "t_ratio{a=\"x\",b=\"y\"}"), NULL), ==, -0.25);
	/* help gives HELP then TYPE, right before the first sample only. */
	g_assert_nonnull(strstr(out->str, "# HELP t_conn_total Connections "
	    "taken.\n# TYPE t_conn_total counter\nt_conn_total 42\n"));
	g_assert_nonnull(strstr(out->str, "# TYPE t_drop_total counter\n"
	    "t_drop_total{reason=\"limit\"} 7\nt_drop_total{reason=\"net\"} "));
	g_assert_nonnull(strstr(out->str, "# TYPE t_held_seconds_total "
	    "counter\n"));
	g_assert_nonnull(strstr(out->str, "# TYPE t_clients gauge\n"));
	g_assert_null(strstr(out->str, "# HELP t_ratio"));
	g_assert_null(strstr(out->str, "# TYPE t_ratio"));
	g_assert_null(strstr(out->str, "t_bare_total{"));
	/* The specials, as the text format spells them. */
	g_string_truncate(out, 0);
	metrics_gauge(out, "t_up", NULL, NULL, INFINITY);
	metrics_gauge(out, "t_down", NULL, NULL, -INFINITY);
	metrics_gauge(out, "t_what", NULL, NULL, NAN);
	g_assert_cmpstr(out->str, ==, "t_up +Inf\nt_down -Inf\nt_what NaN\n");
}

static void
test_histogram(void)
{
	/* Bounds as the milter's, and counts per bucket, not cumulative. */
	static const double bounds[] = { 0.0005, 0.001, 0.005, 0.01, 0.5 };
	static const uint64_t counts[] = { 3, 0, 5, 1, 2, 4 };
	static const char *const le[] = { "0.0005", "0.001", "0.005", "0.01",
	    "0.5", "+Inf" };
	g_autoptr(GString) out = g_string_new(NULL);
	g_autoptr(GHashTable) s = NULL;
	uint64_t total = 0, prev = 0;
	double lebound = -1;

	metrics_histogram(out, "t_lookup_seconds", "Lookup time.", bounds,
	    counts, G_N_ELEMENTS(bounds), 1.75);
	g_assert_true(g_str_has_prefix(out->str, "# HELP t_lookup_seconds "
	    "Lookup time.\n# TYPE t_lookup_seconds histogram\n"));
	s = parse_exposition(out->str);
	/* Buckets, _sum and _count, nothing else. */
	g_assert_cmpuint(g_hash_table_size(s), ==, G_N_ELEMENTS(le) + 2);
	for (size_t i = 0; i < G_N_ELEMENTS(le); i++) {
		g_autofree char *key = g_strdup_printf(
		    "t_lookup_seconds_bucket{le=\"%s\"}", le[i]);
		const char *v = value_of(s, key);
		uint64_t n = g_ascii_strtoull(v, NULL, 10);
		double b = i < G_N_ELEMENTS(bounds) ?
		    g_ascii_strtod(le[i], NULL) : G_MAXDOUBLE;

		total += counts[i];
		/* Cumulative, in rising order of le, in the output too. */
		g_assert_cmpuint(n, ==, total);
		g_assert_cmpuint(n, >=, prev);
		g_assert_cmpfloat(b, >, lebound);
		if (i < G_N_ELEMENTS(bounds))
			g_assert_cmpfloat(b, ==, bounds[i]);
		if (i > 0) {
			g_autofree char *before = g_strdup_printf(
			    "{le=\"%s\"}", le[i - 1]);
			g_autofree char *here = g_strdup_printf("{le=\"%s\"}",
			    le[i]);

			g_assert_true(strstr(out->str, before) <
			    strstr(out->str, here));
		}
		prev = n;
		lebound = b;
	}
	g_assert_cmpuint(g_ascii_strtoull(value_of(s,
	    "t_lookup_seconds_bucket{le=\"+Inf\"}"), NULL, 10), ==, 15);
	g_assert_cmpstr(value_of(s, "t_lookup_seconds_count"), ==, "15");
	g_assert_cmpfloat(g_ascii_strtod(value_of(s, "t_lookup_seconds_sum"),
	    NULL), ==, 1.75);
	/* The +Inf bucket comes last of the buckets, then _sum, _count. */
	g_assert_true(strstr(out->str, "le=\"+Inf\"") <
	    strstr(out->str, "t_lookup_seconds_sum "));
	g_assert_true(g_str_has_suffix(out->str, "\nt_lookup_seconds_count "
	    "15\n"));
}

/* No bounds: a lone +Inf bucket; nothing observed: zeros. */
static void
test_histogram_edges(void)
{
	static const uint64_t zero[] = { 0 }, some[] = { 9 };
	g_autoptr(GString) out = g_string_new(NULL);
	g_autoptr(GHashTable) s = NULL;

	metrics_histogram(out, "t_a", NULL, NULL, some, 0, 4.5);
	metrics_histogram(out, "t_b", "B.", NULL, zero, 0, 0);
	s = parse_exposition(out->str);
	g_assert_cmpuint(g_hash_table_size(s), ==, 6);
	g_assert_cmpstr(value_of(s, "t_a_bucket{le=\"+Inf\"}"), ==, "9");
	g_assert_cmpstr(value_of(s, "t_a_count"), ==, "9");
	g_assert_cmpfloat(g_ascii_strtod(value_of(s, "t_a_sum"), NULL), ==,
	    4.5);
	g_assert_cmpstr(value_of(s, "t_b_bucket{le=\"+Inf\"}"), ==, "0");
	g_assert_cmpstr(value_of(s, "t_b_count"), ==, "0");
	g_assert_cmpfloat(g_ascii_strtod(value_of(s, "t_b_sum"), NULL), ==, 0);
	g_assert_null(strstr(out->str, "# TYPE t_a "));
	g_assert_nonnull(strstr(out->str, "# TYPE t_b histogram\n"));
}

/* The snapshot of the test table: every value a uint64_t. */
struct t_snap {
	uint64_t	conns;
	uint64_t	ends[4];	/* [0] unused: enum starts at 1 */
	uint64_t	held_ms;
	uint64_t	queue[2];
	uint64_t	flags[4];	/* three names, then NULL */
	uint64_t	now;
};

static const char *
t_end_name(unsigned i)
{
	static const char *const names[] = { "none", "done", "lost", "cut" };

	return i < G_N_ELEMENTS(names) ? names[i] : "unknown";
}

static const char *
t_flag_name(unsigned i)
{
	static const char *const names[] = { "early", "bare_lf", "long" };

	return i < G_N_ELEMENTS(names) ? names[i] : NULL;
}

static const char *const t_queues[] = { "log", "event_log" };

static const struct metrics_row t_rows[] = {
	{ .name = "t_conns_total", .help = "Connections.", .key = "conns",
	  .offset = offsetof(struct t_snap, conns) },
	{ .key = "ended", .offset = offsetof(struct t_snap, now) },
	{ .name = "t_ended_total", .help = "Ended, by reason.", .key = "end_",
	  .offset = offsetof(struct t_snap, ends), .label = "reason",
	  .value_name = t_end_name, .first = 1, .count = 3 },
	{ .name = "t_held_seconds_total", .help = "Time held.",
	  .key = "hours_held", .offset = offsetof(struct t_snap, held_ms),
	  .divisor = 1000, .totals_divisor = 3600000 },
	{ .name = "t_queue_dropped", .help = "Dropped, by queue.",
	  .kind = METRICS_GAUGE, .key = "", .key_suffix = "_dropped",
	  .offset = offsetof(struct t_snap, queue), .label = "dest",
	  .values = t_queues, .count = G_N_ELEMENTS(t_queues) },
	{ .name = "t_flags_total", .help = "Flags.", .key = "",
	  .offset = offsetof(struct t_snap, flags), .label = "flag",
	  .value_name = t_flag_name, .count = 4 },
	{ .name = "t_now", .help = "Now.", .kind = METRICS_GAUGE,
	  .offset = offsetof(struct t_snap, now) },
};

static const struct t_snap t_snap = {
	.conns = 42, .ends = { 99, 1, 2, 3 }, .held_ms = 9001500,
	.queue = { 5, 6 }, .flags = { 7, 8, 9, 99 }, .now = 12,
};

/* One table, rendered as Prometheus text: every sample, HELP once. */
static void
test_table_render(void)
{
	g_autoptr(GString) out = g_string_new(NULL);

	metrics_table_render(out, t_rows, G_N_ELEMENTS(t_rows), &t_snap);
	g_assert_cmpstr(out->str, ==,
	    "# HELP t_conns_total Connections.\n"
	    "# TYPE t_conns_total counter\n"
	    "t_conns_total 42\n"
	    "# HELP t_ended_total Ended, by reason.\n"
	    "# TYPE t_ended_total counter\n"
	    "t_ended_total{reason=\"done\"} 1\n"
	    "t_ended_total{reason=\"lost\"} 2\n"
	    "t_ended_total{reason=\"cut\"} 3\n"
	    "# HELP t_held_seconds_total Time held.\n"
	    "# TYPE t_held_seconds_total counter\n"
	    "t_held_seconds_total 9001.5\n"
	    "# HELP t_queue_dropped Dropped, by queue.\n"
	    "# TYPE t_queue_dropped gauge\n"
	    "t_queue_dropped{dest=\"log\"} 5\n"
	    "t_queue_dropped{dest=\"event_log\"} 6\n"
	    "# HELP t_flags_total Flags.\n"
	    "# TYPE t_flags_total counter\n"
	    "t_flags_total{flag=\"early\"} 7\n"
	    "t_flags_total{flag=\"bare_lf\"} 8\n"
	    "t_flags_total{flag=\"long\"} 9\n"
	    "# HELP t_now Now.\n"
	    "# TYPE t_now gauge\n"
	    "t_now 12\n");
}

/* The same table as the fields of a totals line. */
static void
test_table_totals(void)
{
	struct log_event ev;

	log_event_begin(&ev, "totals");
	metrics_table_totals(&ev, t_rows, G_N_ELEMENTS(t_rows), &t_snap);
	g_assert_false(ev.truncated);
	g_assert_cmpstr(ev.buf, ==, "totals conns=42 ended=12 end_done=1 "
	    "end_lost=2 end_cut=3 hours_held=2.50 log_dropped=5 "
	    "event_log_dropped=6 early=7 bare_lf=8 long=9");
}

/* "key=value" words of a totals line (after its name) into a table. */
static GHashTable *
totals_fields(const char *line, GPtrArray *values)
{
	GHashTable *h = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
	    g_free);
	g_auto(GStrv) words = g_strsplit(line, " ", -1);

	g_assert_cmpstr(words[0], ==, "totals");
	for (size_t i = 1; words[i] != NULL; i++) {
		char *eq = strchr(words[i], '=');

		g_assert_nonnull(eq);
		g_assert_false(g_hash_table_contains(h, words[i]));
		g_ptr_array_add(values, g_strdup(eq + 1));
		g_hash_table_insert(h, g_strndup(words[i],
		    (gsize)(eq - words[i])), g_strdup(eq + 1));
	}
	return h;
}

/*
 * tarpitd's table: the scrape keeps every family it has always had,
 * each with HELP and TYPE once, and every sample of the scrape is a
 * field of the totals line too (the same value; the one scaled sample,
 * seconds held, is hours_held there). Every uint64_t of the snapshot
 * is distinct, so a field that reads the wrong one shows.
 */
static void
test_tarpit_table(void)
{
	static const char *const families[] = {
		"slowspam_tarpit_clients_held",
		"slowspam_tarpit_sessions_started_total",
		"slowspam_tarpit_held_seconds_total",
		"slowspam_tarpit_bytes_sent_total",
		"slowspam_tarpit_helos_total",
		"slowspam_tarpit_sessions_ended_total",
		"slowspam_tarpit_limit_rejections_total",
		"slowspam_tarpit_evidence_total",
		"slowspam_tarpit_unrecorded_total",
		"slowspam_tarpit_budget_networks",
		"slowspam_tarpit_max_clients",
		"slowspam_store_events_total",
		"slowspam_log_lines_dropped_total",
		"slowspam_log_lines_failed_total",
	};
	g_autoptr(GString) out = g_string_new(NULL);
	g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GHashTable) fields = NULL, samples = NULL;
	g_autofree uint64_t *snap = NULL;
	g_auto(GStrv) lines = NULL;
	const struct metrics_row *rows;
	struct log_event ev;
	size_t nrows, size, ntypes = 0, totals_only = 0;
	uint64_t held_ms = 0;
	GHashTableIter it;
	gpointer k, v;

	rows = tarpit_counter_table(&nrows, &size);
	g_assert_cmpuint(size % sizeof(uint64_t), ==, 0);
	snap = g_new(uint64_t, size / sizeof(uint64_t));
	for (size_t i = 0; i < size / sizeof(uint64_t); i++)
		snap[i] = 1000 + i;
	for (size_t i = 0; i < nrows; i++) {
		/* Every family has its key; totals-only rows are sums. */
		if (g_strcmp0(rows[i].key, "hours_held") == 0)
			held_ms = snap[rows[i].offset / sizeof(uint64_t)];
		if (rows[i].name != NULL)
			g_assert_nonnull(rows[i].key);
		else {
			g_assert_null(rows[i].label);
			totals_only++;
		}
	}

	metrics_table_render(out, rows, nrows, snap);
	metrics_log_stats(out);
	log_event_begin(&ev, "totals");
	metrics_table_totals(&ev, rows, nrows, snap);
	metrics_log_totals(&ev);
	g_assert_false(ev.truncated);
	fields = totals_fields(ev.buf, values);

	samples = parse_exposition(out->str);
	lines = g_strsplit(out->str, "\n", -1);
	for (size_t i = 0; lines[i] != NULL; i++) {
		if (!g_str_has_prefix(lines[i], "# TYPE "))
			continue;
		ntypes++;
		g_assert_true(g_strv_contains(families, strtok(lines[i] + 7,
		    " ")));
	}
	g_assert_cmpuint(ntypes, ==, G_N_ELEMENTS(families));
	for (size_t i = 0; i < G_N_ELEMENTS(families); i++)
		g_assert_nonnull(strstr(out->str, families[i]));

	/* One field per sample, and the totals-only ones. */
	g_assert_cmpuint(g_hash_table_size(fields), ==,
	    g_hash_table_size(samples) + totals_only);
	g_hash_table_iter_init(&it, samples);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		guint at;

		if (strcmp(k, "slowspam_tarpit_held_seconds_total") == 0) {
			g_assert_cmpfloat(g_ascii_strtod(v, NULL), ==,
			    (double)held_ms / 1000);
			continue;
		}
		/* Each value once: the two that read one slot match twice. */
		g_assert_true(g_ptr_array_find_with_equal_func(values, v,
		    g_str_equal, &at));
		g_ptr_array_remove_index(values, at);
	}
	/* Scripts read the start of the line. */
	g_assert_true(g_str_has_prefix(ev.buf, "totals held_now="));
	g_assert_nonnull(strstr(ev.buf, " sessions="));
	g_assert_cmpstr(g_hash_table_lookup(fields, "hours_held"), ==, "0.00");
}

int
main(int argc, char **argv)
{
	/* A budget that no longer holds hangs a test: end it instead. */
	alarm(60 * (unsigned)test_slow());
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/metrics/scrape", test_scrape);
	g_test_add_func("/metrics/not-found", test_not_found);
	g_test_add_func("/metrics/garbage", test_garbage);
	g_test_add_func("/metrics/too-long", test_too_long);
	g_test_add_func("/metrics/split", test_split);
	g_test_add_func("/metrics/silent", test_silent);
	g_test_add_func("/metrics/not-reading", test_not_reading);
	g_test_add_func("/metrics/none-waiting", test_none_waiting);
	g_test_add_func("/metrics/squatters", test_squatters);
	g_test_add_func("/metrics/emfile", test_emfile);
	g_test_add_func("/metrics/listen-error", test_listen_error);
	g_test_add_func("/metrics/counter-gauge", test_counter_gauge);
	g_test_add_func("/metrics/histogram", test_histogram);
	g_test_add_func("/metrics/histogram-edges", test_histogram_edges);
	g_test_add_func("/metrics/table-render", test_table_render);
	g_test_add_func("/metrics/table-totals", test_table_totals);
	g_test_add_func("/metrics/tarpit-table", test_tarpit_table);
	return g_test_run();
}
