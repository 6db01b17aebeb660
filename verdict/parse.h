/*
 * parse.h - strings the client controls, and the MTA's words for it, pure.
 */
#ifndef SLOWSPAM_PARSE_H
#define SLOWSPAM_PARSE_H

#include <stdbool.h>
#include <sys/socket.h>

#include "addr.h"

/* Strip <> from an envelope address; a copy, at most as long (g_free). */
char	*parse_bare_address(const char *arg);

/* Our Authentication-Results folds past this, and no line exceeds... */
#define PARSE_AR_FOLD		78
/* ...this (RFC 5322: 998 octets, CRLF not counted). */
#define PARSE_AR_LINE_MAX	998

/*
 * The authserv-id an Authentication-Results value starts with (after
 * CFWS: a token, or a quoted-string unquoted), lower case, one trailing
 * dot dropped; NULL if there is none or it is malformed (g_free).
 */
char	*parse_ar_authserv_id(const char *value);

/*
 * Does this Authentication-Results value claim authserv_id, quoted or
 * not, in any case, with or without a trailing dot?
 */
bool	parse_ar_is_ours(const char *value, const char *authserv_id);

/*
 * A property value for Authentication-Results (RFC 8601): as it is if
 * it is a plain address or name, else a quoted string; control bytes
 * become '?', so the header stays one line (g_free).
 */
char	*parse_ar_value(const char *v);

/*
 * Our Authentication-Results value: "ID; spf=RESULT smtp.mailfrom=FROM",
 * or smtp.helo=HELO for the null sender ("unknown" with neither). Folded
 * (LF and a tab) before a word that would take a line, counted from
 * "Authentication-Results: ", past PARSE_AR_FOLD octets; a property too
 * long for any line (PARSE_AR_LINE_MAX) is left out, and a comment
 * "(smtp.mailfrom left out: N octets)" stands in its place (g_free).
 */
char	*parse_ar_header(const char *authserv_id, const char *result,
	    const char *mail_from, const char *helo);

/* Did the MTA say the client authenticated ({auth_type} macro)? */
bool	parse_authenticated(const char *auth_type);

/*
 * Did the MTA say the client's host name is confirmed: its reverse DNS
 * name resolves back to its address ({client_resolve} macro "OK";
 * Postfix and Sendmail also give "FAIL", "FORGED" and "TEMP")?
 */
bool	parse_name_confirmed(const char *client_resolve);

/*
 * The connecting client: its address from sa[0..salen) (false if none:
 * a unix socket, an unknown family, too short) and, in *name, the MTA's
 * host name for it when it is a name rather than "[address]", else NULL.
 */
bool	parse_client(const struct sockaddr *sa, socklen_t salen,
	    const char *hostname, struct addr *a, const char **name);

#endif /* SLOWSPAM_PARSE_H */
