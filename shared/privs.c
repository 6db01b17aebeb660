/*
 * privs.c - giving up root and capabilities, for good, before any
 * client byte is read (tarpitd) or any MTA connects (the milter).
 *
 *	privs_lookup		a user, refusing root
 *	privs_lookup_group	a group
 *	privs_own_socket	give a unix socket just made its owner
 *	privs_become		chroot, become the user; shed capabilities
 *
 * As OpenBSD spamd and Postfix do: look the user up before chroot,
 * setgroups, setresgid, setresuid, then check that root cannot be had
 * back. A process not started as root keeps its user but still sheds
 * what systemd's AmbientCapabilities= (or setpriv) gave it once its
 * sockets are bound.
 *
 * Diagnostics: every failure names the setting, user, folder or call.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "privs.h"

/* Bits no file we create gives away: group write, and all to others. */
#define UMASK_MIN	027

bool
privs_lookup(const char *key, const char *user, uid_t *uid, gid_t *gid,
    GError **error)
{
	struct passwd *pw;

	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
		    "%s user %s: no such user%s%s", key, user,
		    errno != 0 ? ": " : "",
		    errno != 0 ? g_strerror(errno) : "");
		return false;
	}
	if (pw->pw_uid == 0) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_PERM,
		    "%s user %s: is root; %s will not run as root", key, user,
		    g_get_prgname() != NULL ? g_get_prgname() : "slowspam");
		return false;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return true;
}

bool
privs_lookup_group(const char *key, const char *group, gid_t *gid,
    GError **error)
{
	struct group *gr;

	errno = 0;
	if ((gr = getgrnam(group)) == NULL) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
		    "%s %s: no such group%s%s", key, group,
		    errno != 0 ? ": " : "",
		    errno != 0 ? g_strerror(errno) : "");
		return false;
	}
	*gid = gr->gr_gid;
	return true;
}

bool
privs_own_socket(const char *key, const char *file, uid_t uid, gid_t gid,
    GError **error)
{
	const char *why = NULL;
	struct stat sb;
	int fd;

	if (uid == (uid_t)-1 && gid == (gid_t)-1)
		return true;
	/* Through a descriptor of the file: never through a link. */
	if ((fd = open(file, O_PATH | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
	    fstat(fd, &sb) != 0)
		why = g_strerror(errno);
	else if (!S_ISSOCK(sb.st_mode) || sb.st_uid != geteuid())
		why = "not the socket just made (replaced?)";
	else if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH) != 0)
		why = g_strerror(errno);
	if (fd >= 0)
		close(fd);
	if (why != NULL) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
		    "%s: cannot set its owner (%s user, socket_group): %s",
		    file, key, why);
		return false;
	}
	return true;
}

/* Capability sets of this thread; false if capget fails. */
static bool
caps_get(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };

	memset(data, 0, 2 * sizeof(*data));
	return syscall(SYS_capget, &hdr, data) == 0;
}

/*
 * Keep no capability: the ambient set (so nothing we exec inherits
 * one), then effective, permitted and inheritable. After setresuid from
 * root the kernel has cleared them already; a process started as a user
 * with AmbientCapabilities=CAP_NET_BIND_SERVICE still has that one.
 * The bounding set stays: lowering it needs CAP_SETPCAP, and with no
 * new privileges nothing can be gained through exec anyway.
 */
static bool
caps_clear(GError **error)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2];

	/* EINVAL: a kernel before 4.3, which has no ambient set. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 &&
	    errno != EINVAL) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
		    "cannot clear the ambient capabilities: %s",
		    g_strerror(errno));
		return false;
	}
	if (!caps_get(data)) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
		    "capget: %s", g_strerror(errno));
		return false;
	}
	if ((data[0].effective | data[1].effective | data[0].permitted |
	    data[1].permitted | data[0].inheritable | data[1].inheritable) == 0)
		return true;
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &hdr, data) != 0) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
		    "cannot drop the capabilities: %s", g_strerror(errno));
		return false;
	}
	return true;
}

/* Become uid:gid, with gid as the only group, and check it held. */
static bool
switch_user(const char *user, uid_t uid, gid_t gid, GError **error)
{
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;

	if (setgroups(1, &gid) != 0 || setresgid(gid, gid, gid) != 0 ||
	    setresuid(uid, uid, uid) != 0) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
		    "cannot become user %s: %s", user, g_strerror(errno));
		return false;
	}
	if (getresuid(&ruid, &euid, &suid) != 0 ||
	    getresgid(&rgid, &egid, &sgid) != 0 || ruid != uid ||
	    euid != uid || suid != uid || rgid != gid || egid != gid ||
	    sgid != gid || setuid(0) == 0 || setgid(0) == 0) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
		    "dropping root to user %s did not hold", user);
		return false;
	}
	return true;
}

bool
privs_become(const char *key, const char *user, const char *chroot_dir,
    GError **error)
{
	struct __user_cap_data_struct data[2];
	uid_t uid;
	gid_t gid;
	mode_t mask;

	if (geteuid() == 0) {
		if (!privs_lookup(key, user, &uid, &gid, error))
			return false;
		if (chroot_dir != NULL && chroot_dir[0] != '\0' &&
		    (chdir(chroot_dir) != 0 || chroot(".") != 0 ||
		    chdir("/") != 0)) {
			g_set_error(error, G_FILE_ERROR,
			    g_file_error_from_errno(errno), "%s chroot %s: %s",
			    key, chroot_dir, g_strerror(errno));
			return false;
		}
		if (!switch_user(user, uid, gid, error))
			return false;
	}
	if (!caps_clear(error))
		return false;
	/*
	 * No new privileges: an exploit that gets to exec cannot gain
	 * root through a setuid binary. Not dumpable: another process of
	 * the same user (the milter and tarpitd may share one) cannot
	 * ptrace us or read our memory, which may hold the Redis password.
	 */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
		    "prctl: %s", g_strerror(errno));
		return false;
	}
	/* Whatever umask we inherited, nothing new is others' to read. */
	mask = umask(0);
	umask(mask | UMASK_MIN);
	if (!caps_get(data) || (data[0].effective | data[1].effective |
	    data[0].permitted | data[1].permitted) != 0 ||
	    prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1 ||
	    prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
		    "shedding capabilities did not hold");
		return false;
	}
	return true;
}
