/*
 * chroot.c - where tarpitd's configuration comes from, inside a chroot.
 *
 *	tarpit_inside_chroot	a path as seen from inside the chroot
 *	conf_source_open	keep a descriptor of the file's folder
 *	conf_source_confine	... only if it lies inside the chroot
 *	tarpit_reread		read the file again, for a reload
 *
 * A module of its own, below both tarpitd.c (start-up) and loop.c (the
 * reload), so that neither needs the other.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "log.h"
#include "tarpit.h"

const char *
tarpit_inside_chroot(const char *root, const char *path)
{
	size_t n = strlen(root);

	while (n > 1 && root[n - 1] == '/')
		n--;
	if (path[0] == '\0')
		return path;	/* "none" stays none */
	if (strncmp(path, root, n) != 0 || (path[n] != '/' && path[n] != '\0'))
		return NULL;
	return path[n] == '\0' ? "/" : path + n;
}

/*
 * Open the configuration's folder, so the file can be read again after
 * chroot and daemon() (which moves to /). path may be relative.
 */
bool
conf_source_open(struct conf_source *src, const char *path,
    const char *const *overrides, GError **error)
{
	g_autofree char *dir = NULL;

	src->path = g_canonicalize_filename(path != NULL ? path :
	    conf_default_path(), NULL);
	src->name = g_path_get_basename(src->path);
	src->overrides = overrides;
	dir = g_path_get_dirname(src->path);
	src->dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (src->dirfd < 0) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
		    "%s: %s", dir, g_strerror(errno));
		return false;
	}
	return true;
}

/*
 * A descriptor of a folder outside the chroot would let a compromised
 * worker walk out of it (openat "..", fchdir): keep the configuration's
 * folder open only if it lies inside. Otherwise a reload cannot read
 * the file, and says so.
 */
void
conf_source_confine(struct conf_source *src, const char *root)
{
	g_autofree char *fd_path = NULL, *real_dir = NULL, *real_root = NULL;

	if (root[0] == '\0' || src->dirfd < 0)
		return;
	/* Where the descriptor itself leads, not its path resolved again. */
	fd_path = g_strdup_printf("/proc/self/fd/%d", src->dirfd);
	real_dir = realpath(fd_path, NULL);
	real_root = realpath(root, NULL);
	if (real_dir != NULL && real_root != NULL &&
	    tarpit_inside_chroot(real_root, real_dir) != NULL)
		return;
	close(src->dirfd);
	src->dirfd = -1;
	log_msg(LOG_WARNING, "%s is outside chroot %s: a reload cannot read "
	    "it; restart tarpitd to apply changes", src->path, root);
}

struct conf *
tarpit_reread(const struct conf_source *src, GError **error)
{
	if (src->dirfd < 0) {
		g_set_error(error, CONF_ERROR, CONF_ERROR_READ, "%s: outside "
		    "the chroot: restart tarpitd to apply changes", src->path);
		return NULL;
	}
	return conf_load_at(src->dirfd, src->name, src->path, src->overrides,
	    error);
}
