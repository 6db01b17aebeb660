/*
 * privs.h - giving up root and capabilities, for the daemons.
 */
#ifndef SLOWSPAM_PRIVS_H
#define SLOWSPAM_PRIVS_H

#include <stdbool.h>
#include <sys/types.h>

#include <glib.h>

/* Closing what the starter left open goes with it (fds_close_inherited). */
#include "fds.h"

/*
 * Look user up; false with error set if the user is unknown or is root.
 * key names the group of settings in messages ("[milter]").
 */
bool	privs_lookup(const char *key, const char *user, uid_t *uid,
	    gid_t *gid, GError **error);
/* Look group up; key names the setting ("[milter] socket_group"). */
bool	privs_lookup_group(const char *key, const char *group, gid_t *gid,
	    GError **error);
/*
 * Give the unix socket file, just made by this process, the owner uid
 * and group gid ((uid_t)-1, (gid_t)-1: leave it), changed on the socket
 * itself through a descriptor (never through a symbolic link, never on
 * anything but a socket this user owns). key names the group of
 * settings ("[policyd]") in the error, which also names file.
 */
bool	privs_own_socket(const char *key, const char *file, uid_t uid,
	    gid_t gid, GError **error);
/*
 * If root: chroot (unless chroot_dir is NULL or "") and become user,
 * with its own group only, for good. Root or not: then keep no
 * capability (ambient ones included), allow no new privileges (setuid
 * and file capabilities no longer work for us or our children), be not
 * dumpable (no ptrace or core by processes of the same user), and mask
 * at least 027 of new files' modes. Everything is checked afterwards;
 * false with error set on any failure.
 */
bool	privs_become(const char *key, const char *user,
	    const char *chroot_dir, GError **error);

#endif /* SLOWSPAM_PRIVS_H */
