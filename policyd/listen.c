/*
 * listen.c - the socket Postfix reaches slowspam-policyd on (listen.h).
 *
 * A unix socket gets its mode from the umask at bind(), so there is no
 * moment at which it is wider than [policyd] socket_mode; its owner and
 * group are then changed on the socket itself (privs_own_socket).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "addr.h"
#include "listen.h"
#include "privs.h"

/* The unix socket made, for policy_unlink. */
static struct {
	char	*file;
	dev_t	dev;
	ino_t	ino;
} made;

/* The file of a unix: or local: spec; NULL for inet. */
static const char *
spec_file(const char *spec)
{
	return g_str_has_prefix(spec, "unix:") ? spec + 5 :
	    g_str_has_prefix(spec, "local:") ? spec + 6 : NULL;
}

/* Give the socket file the owner [policyd] user and socket_group ask. */
static bool
own_socket(const struct conf *c, const char *file, GError **error)
{
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;

	if (geteuid() == 0 && c->policyd.user[0] != '\0' &&
	    !privs_lookup("[policyd]", c->policyd.user, &uid, &gid, error))
		return false;
	if (c->policyd.socket_group[0] != '\0' && !privs_lookup_group(
	    "[policyd] socket_group", c->policyd.socket_group, &gid, error))
		return false;
	return privs_own_socket("[policyd]", file, uid, gid, error);
}

static int
listen_unix(const struct conf *c, const char *file, GError **error)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat sb;
	mode_t mask;
	int fd, rc;

	if (strlen(file) >= sizeof(sun.sun_path)) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NAMETOOLONG,
		    "[policyd] socket %s: path too long for a socket", file);
		return -1;
	}
	memcpy(sun.sun_path, file, strlen(file) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
		    "[policyd] socket %s: %s", file, g_strerror(errno));
		return -1;
	}
	/* A stale socket of ours goes; a link or a file stays: bind fails. */
	if (lstat(file, &sb) == 0 && S_ISSOCK(sb.st_mode))
		unlink(file);
	mask = umask(~(mode_t)c->policyd.socket_mode & 0777);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(mask);
	if (rc != 0 || listen(fd, POLICY_LISTEN_BACKLOG) != 0) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
		    "[policyd] socket %s: %s", file, g_strerror(errno));
		close(fd);
		return -1;
	}
	if (!own_socket(c, file, error)) {
		close(fd);
		return -1;
	}
	if (lstat(file, &sb) == 0) {
		g_free(made.file);
		made.file = g_strdup(file);
		made.dev = sb.st_dev;
		made.ino = sb.st_ino;
	}
	return fd;
}

/* inet:PORT[@ADDR] or inet6:PORT[@ADDR], checked by conf.c already. */
static int
listen_inet(const char *spec, GError **error)
{
	bool v6 = g_str_has_prefix(spec, "inet6:");
	const char *rest = spec + (v6 ? 6 : 5), *at = strchr(rest, '@');
	struct sockaddr_storage ss;
	struct addr a = { .family = v6 ? AF_INET6 : AF_INET };
	socklen_t len;
	int fd, on = 1;

	if (at != NULL && !addr_parse(at + 1, &a)) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
		    "[policyd] socket %s: bad address", spec);
		return -1;
	}
	len = addr_to_sockaddr(&a, (uint16_t)g_ascii_strtoull(rest, NULL, 10),
	    &ss);
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
	    bind(fd, (struct sockaddr *)&ss, len) != 0 ||
	    listen(fd, POLICY_LISTEN_BACKLOG) != 0) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
		    "[policyd] socket %s: %s", spec, g_strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

void
policy_unlink(void)
{
	struct stat sb;

	if (made.file != NULL && lstat(made.file, &sb) == 0 &&
	    S_ISSOCK(sb.st_mode) && sb.st_dev == made.dev &&
	    sb.st_ino == made.ino)
		unlink(made.file);
	g_clear_pointer(&made.file, g_free);
}

int
policy_listen(const struct conf *c, GError **error)
{
	const char *file = spec_file(c->policyd.socket);

	return file != NULL ? listen_unix(c, file, error) :
	    listen_inet(c->policyd.socket, error);
}
