/*
 * listen.h - slowspam-policyd's listening socket, as [policyd] socket,
 * socket_mode, user and socket_group say.
 */
#ifndef SLOWSPAM_POLICY_LISTEN_H
#define SLOWSPAM_POLICY_LISTEN_H

#include <glib.h>

#include "conf.h"

/* Room for the pending connections of a busy Postfix. */
#define POLICY_LISTEN_BACKLOG	256

/*
 * A non-blocking, close-on-exec listening socket on spec ("unix:PATH",
 * "local:PATH", "inet:PORT[@ADDR]" (no ADDR: every IPv4 address) or
 * "inet6:PORT[@ADDR]"), or -1 with error set naming spec.
 */
int	policy_listen(const struct conf *c, GError **error);

/*
 * At a clean stop: remove the unix socket file policy_listen made, if it
 * is still that one (not another's made since at the same path).
 */
void	policy_unlink(void);

#endif /* SLOWSPAM_POLICY_LISTEN_H */
