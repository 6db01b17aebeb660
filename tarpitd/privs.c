/*
 * privs.c - giving up root, for good, before any client byte is read.
 *
 *	privs_prepare_store	let the tar-pit user create and write the store
 *	privs_prepare_file	create a file (the event log) for the user
 *				(root's files only; never through a symbolic
 *				link or a file with more than one hard link)
 *	privs_drop		chroot (optional) and become the user
 *
 * The dropping itself is shared/privs.c's privs_become: as OpenBSD spamd
 * and Postfix do, look the user up before chroot, setgroups, setresgid,
 * setresuid, check that root cannot be had back; then no capability, no
 * new privileges, not dumpable, umask 027 at least. Running as root is
 * refused; a process not started as root keeps the user it has but
 * sheds its capabilities (CAP_NET_BIND_SERVICE once port 25 is bound).
 *
 * Diagnostics: every failure names the user, folder or call.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "privs.h"
#include "tarpit.h"

/*
 * Give file to uid:gid if root owns it; never take anyone else's, never
 * follow a symbolic link, and never give a file with another hard link
 * (the folder may be the user's: a link planted there must not hand it
 * some other file, /etc/shadow say). Checked and changed through one
 * descriptor, so the file checked is the file given.
 */
static bool
give_file(const char *file, const char *user, uid_t uid, gid_t gid,
    GError **error)
{
	struct stat sb;
	const char *why = NULL;
	int fd;

	/* Not root's (or absent): nothing to do, and no need to open it. */
	if (lstat(file, &sb) != 0 || (sb.st_uid != 0 && !S_ISLNK(sb.st_mode)))
		return true;
	fd = open(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return true;
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
		    "%s: %s%s", file, g_strerror(errno),
		    errno == ELOOP ? " (a symbolic link: refused)" : "");
		return false;
	}
	if (fstat(fd, &sb) != 0)
		why = g_strerror(errno);
	else if (!S_ISREG(sb.st_mode))
		why = "not a file";
	else if (sb.st_uid == 0 && sb.st_nlink != 1) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_PERM,
		    "%s: %ju hard links: refused (it may be a link to another "
		    "file of root's; remove it, and tarpitd makes the file)",
		    file, (uintmax_t)sb.st_nlink);
		close(fd);
		return false;
	} else if (sb.st_uid == 0 && fchown(fd, uid, gid) != 0)
		why = g_strerror(errno);
	if (why != NULL)
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_PERM,
		    "%s: cannot give it to %s: %s", file, user, why);
	close(fd);
	return why == NULL;
}

/*
 * Give the folder dir, just made by root, to uid:gid, through a
 * descriptor: chown(2) would follow a symbolic link put in its place.
 */
static bool
give_dir(const char *dir, const char *user, uid_t uid, gid_t gid,
    GError **error)
{
	struct stat sb;
	const char *why = NULL;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &sb) != 0)
		why = g_strerror(errno);
	else if (sb.st_uid != 0)
		why = "not the folder just made (replaced?)";
	else if (fchown(fd, uid, gid) != 0)
		why = g_strerror(errno);
	if (why != NULL)
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
		    "store folder %s: chown to %s: %s", dir, user, why);
	if (fd >= 0)
		close(fd);
	return why == NULL;
}

bool
privs_prepare_store(const char *path, const char *user, GError **error)
{
	g_autofree char *dir = g_path_get_dirname(path);
	g_autofree char *lock = g_strconcat(path, "-lock", NULL);
	bool made = !g_file_test(dir, G_FILE_TEST_EXISTS);
	uid_t uid;
	gid_t gid;

	if (geteuid() != 0)
		return true;
	if (!privs_lookup("[tarpitd]", user, &uid, &gid, error))
		return false;
	if (made && g_mkdir_with_parents(dir, 0750) != 0) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
		    "store folder %s: %s", dir, g_strerror(errno));
		return false;
	}
	/* A folder we made is the user's; an existing one is left alone. */
	if (made && !give_dir(dir, user, uid, gid, error))
		return false;
	return give_file(path, user, uid, gid, error) &&
	    give_file(lock, user, uid, gid, error);
}

bool
privs_prepare_file(const char *path, const char *user, GError **error)
{
	uid_t uid;
	gid_t gid;
	int fd;

	if (geteuid() != 0)
		return true;
	if (!privs_lookup("[tarpitd]", user, &uid, &gid, error))
		return false;
	/* Create it only if missing: an existing one may be the user's. */
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0640);
	if (fd >= 0)
		close(fd);
	else if (errno != EEXIST) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
		    "%s: %s", path, g_strerror(errno));
		return false;
	}
	return give_file(path, user, uid, gid, error);
}

bool
privs_drop(const char *user, const char *chroot_dir, GError **error)
{
	return privs_become("[tarpitd]", user, chroot_dir, error);
}
