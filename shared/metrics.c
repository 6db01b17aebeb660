/*
 * metrics.c - Prometheus metrics over the smallest correct HTTP/1.0.
 *
 *	metrics_listen		the listening socket
 *	metrics_serve_one	answer one scrape
 *	metrics_counter, metrics_gauge, metrics_histogram	samples
 *
 * One request per connection, answered and closed: no keep-alive, no
 * chunks, nothing but the request line is looked at. The caller may be
 * a single-threaded event loop, so every wait is bounded with poll().
 *
 * Diagnostics: none; a client that is slow, silent or gone is dropped.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
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

/* Wait for events on fd until deadline; false when it passed. */
static bool
wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int64_t left = deadline - mono_ms();
		int n;

		if (left <= 0)
			return false;
		n = poll(&p, 1, (int)left);
		if (n > 0)
			return true;
		if (n < 0 && errno != EINTR)
			return false;
	}
}

/*
 * Read the request head into buf (NUL-terminated) until its end, a full
 * buffer or the deadline; true once at least the request line is in.
 */
static bool
read_request(int fd, char *buf, size_t size, int64_t deadline)
{
	size_t len = 0;

	buf[0] = '\0';
	while (len < size - 1) {
		ssize_t n = recv(fd, buf + len, size - 1 - len, MSG_DONTWAIT);

		if (n > 0) {
			len += (size_t)n;
			buf[len] = '\0';
			if (strstr(buf, "\r\n\r\n") != NULL ||
			    strstr(buf, "\n\n") != NULL)
				break;
			continue;
		}
		if (n == 0)
			break;
		if (errno == EINTR)
			continue;
		if ((errno != EAGAIN && errno != EWOULDBLOCK) ||
		    !wait_fd(fd, POLLIN, deadline))
			break;
	}
	return strchr(buf, '\n') != NULL;
}

/* Write all of data, or give up at the deadline. */
static void
write_all(int fd, const char *data, size_t len, int64_t deadline)
{
	while (len > 0) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			data += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) ||
		    !wait_fd(fd, POLLOUT, deadline))
			return;
	}
}

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

bool
metrics_serve_one(int listen_fd, metrics_render_fn fn, void *data)
{
	char req[METRICS_REQUEST_MAX];
	g_autoptr(GString) out = NULL;
	int fd;

	do
		fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK |
		    SOCK_CLOEXEC);
	while (fd < 0 && (errno == EINTR || errno == ECONNABORTED));
	if (fd < 0)
		return false;
	if (!read_request(fd, req, sizeof(req), mono_ms() + METRICS_BUDGET_MS)) {
		close(fd);
		return true;
	}
	out = g_string_sized_new(4096);
	if (metrics_request_wants(req)) {
		g_autoptr(GString) body = g_string_sized_new(4096);

		fn(body, data);
		g_string_append_printf(out, "HTTP/1.0 200 OK\r\n"
		    "Content-Type: text/plain; version=0.0.4\r\n"
		    "Content-Length: %zu\r\nConnection: close\r\n\r\n",
		    body->len);
		g_string_append_len(out, body->str, (gssize)body->len);
	} else {
		static const char body[] = "not found; try /metrics\n";

		g_string_append_printf(out, "HTTP/1.0 404 Not Found\r\n"
		    "Content-Type: text/plain\r\n"
		    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
		    sizeof(body) - 1, body);
	}
	write_all(fd, out->str, out->len, mono_ms() + METRICS_BUDGET_MS);
	shutdown(fd, SHUT_WR);
	close(fd);
	return true;
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
