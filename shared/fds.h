/*
 * fds.h - the descriptors a daemon inherits from whoever started it.
 */
#ifndef SLOWSPAM_FDS_H
#define SLOWSPAM_FDS_H

#include <stdbool.h>

/*
 * First thing in main(): close every descriptor above 2 that the
 * starter left open, up to the soft RLIMIT_NOFILE, so that none survives
 * chroot and the drop of root. With systemd true, the sockets systemd
 * passes (LISTEN_FDS of them from fd 3, when LISTEN_PID is this
 * process) stay open. Descriptors 0 to 2, if closed, become /dev/null,
 * so that no file opened later is taken for stderr. Never fails.
 */
void	fds_close_inherited(bool systemd);

/* systemd's socket activation: SD_LISTEN_FDS_START, and our own cap. */
#define FDS_SYSTEMD_FIRST	3
#define FDS_SYSTEMD_MAX		64

/*
 * Did systemd pass this process sockets (LISTEN_PID is ours)? Then *n is
 * LISTEN_FDS, of them from FDS_SYSTEMD_FIRST, or 0 if LISTEN_FDS is not
 * a number from 1 to FDS_SYSTEMD_MAX. False, *n 0, if they are not ours.
 */
bool	fds_systemd(unsigned *n);

/* Raise the soft RLIMIT_NOFILE to the hard limit, if it is lower. */
void	fds_raise_limit(void);

#endif /* SLOWSPAM_FDS_H */
