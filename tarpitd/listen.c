/*
 * listen.c - tarpitd's listening sockets: bound from the configuration,
 * or passed by systemd socket activation.
 *
 *	listeners_bind		bind [tarpitd] listen, copies times over
 *	listeners_from_systemd	take LISTEN_FDS sockets
 *	listeners_for_worker	the share of one worker
 *	listeners_close		close them all
 *
 * With several workers each gets its own copy of every socket, bound
 * with SO_REUSEPORT, so the kernel spreads connections over them.
 * systemd passes one copy only; then all workers share it.
 *
 * Diagnostics: errors name the address and the system call.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fds.h"
#include "tarpit.h"

/* Bots connect in bursts; the kernel caps this at net.core.somaxconn. */
#define LISTEN_BACKLOG		65535

/* A non-blocking listening socket on l, or -1 with error set. */
static int
bind_one(const struct conf_listen *l, bool reuseport, GError **error)
{
	struct sockaddr_storage ss;
	socklen_t len = addr_to_sockaddr(&l->addr, l->port, &ss);
	char text[ADDR_STRLEN];
	int fd, on = 1, off = 0;

	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (reuseport &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) < 0)
		goto fail;
	/* [::]:25 means IPv6 and IPv4 both, whatever the sysctl says. */
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, LISTEN_BACKLOG) < 0)
		goto fail;
	return fd;
fail:
	g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
	    "listen on %s%s%s:%u: %s", l->addr.family == AF_INET6 ? "[" : "",
	    addr_format(&l->addr, text), l->addr.family == AF_INET6 ? "]" : "",
	    l->port, g_strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

bool
listeners_bind(const struct conf *conf, unsigned copies,
    struct listeners *out, GError **error)
{
	const struct conf_listen_list *ls = &conf->tarpitd.listen;

	out->n = ls->n * copies;
	out->fds = g_new(int, out->n);
	out->shared = false;
	/* Worker w owns fds[w * ls->n .. (w + 1) * ls->n). */
	for (size_t i = 0; i < out->n; i++) {
		out->fds[i] = bind_one(&ls->v[i % ls->n], copies > 1, error);
		if (out->fds[i] < 0) {
			out->n = i;
			listeners_close(out);
			return false;
		}
	}
	return true;
}

bool
listeners_from_systemd(struct listeners *out, GError **error)
{
	unsigned n;

	if (!fds_systemd(&n))
		return false;
	if (n == 0) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
		    "LISTEN_FDS=%s: not a number of sockets from 1 to %d",
		    g_getenv("LISTEN_FDS"), FDS_SYSTEMD_MAX);
		return false;
	}
	out->n = (size_t)n;
	out->fds = g_new(int, out->n);
	out->shared = true;
	for (size_t i = 0; i < out->n; i++) {
		int fd = FDS_SYSTEMD_FIRST + (int)i;

		out->fds[i] = fd;
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	}
	g_unsetenv("LISTEN_PID");
	g_unsetenv("LISTEN_FDS");
	g_unsetenv("LISTEN_FDNAMES");
	return true;
}

void
listeners_for_worker(const struct listeners *all, unsigned i, unsigned n,
    struct listeners *out)
{
	size_t per = all->shared ? all->n : all->n / n;

	out->fds = all->shared ? all->fds : all->fds + i * per;
	out->n = per;
	out->shared = all->shared;
}

void
listeners_close(struct listeners *l)
{
	for (size_t i = 0; i < l->n; i++)
		close(l->fds[i]);
	g_clear_pointer(&l->fds, g_free);
	l->n = 0;
}
