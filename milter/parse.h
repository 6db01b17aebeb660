/*
 * parse.h - the milter's handling of strings the client controls, pure.
 */
#ifndef SLOWSPAM_PARSE_H
#define SLOWSPAM_PARSE_H

#include <stdbool.h>
#include <sys/socket.h>

#include "addr.h"

/* Strip <> from an envelope address; a copy, at most as long (g_free). */
char	*parse_bare_address(const char *arg);

/* Is this Authentication-Results value one claiming authserv_id? */
bool	parse_ar_is_ours(const char *value, const char *authserv_id);

/*
 * A property value for Authentication-Results (RFC 8601): as it is if
 * it is a plain address or name, else a quoted string; control bytes
 * become '?', so the header stays one line (g_free).
 */
char	*parse_ar_value(const char *v);

/*
 * Our Authentication-Results value: "ID; spf=RESULT smtp.mailfrom=FROM",
 * or smtp.helo=HELO for the null sender ("unknown" with neither).
 */
char	*parse_ar_header(const char *authserv_id, const char *result,
	    const char *mail_from, const char *helo);

/* Did the MTA say the client authenticated ({auth_type} macro)? */
bool	parse_authenticated(const char *auth_type);

/*
 * The connecting client: its address from sa[0..salen) (false if none:
 * a unix socket, an unknown family, too short) and, in *name, the MTA's
 * host name for it when it is a name rather than "[address]", else NULL.
 */
bool	parse_client(const struct sockaddr *sa, socklen_t salen,
	    const char *hostname, struct addr *a, const char **name);

#endif /* SLOWSPAM_PARSE_H */
