/*
 * parse.c - the milter's handling of strings the client controls.
 *
 *	parse_bare_address	MAIL FROM argument without its <>
 *	parse_ar_is_ours	does an Authentication-Results claim our id
 *	parse_ar_value		quote a property value for our A-R header
 *	parse_ar_header		our whole A-R header value
 *	parse_authenticated	the {auth_type} macro says authenticated
 *	parse_client		the connect callback's address and name
 *
 * Pure: no allocation but the returned strings, no I/O, so fuzz_milter
 * can run them on any bytes. What goes into a header we write never
 * carries CR, LF or an unescaped quote, whatever the client sent.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include <glib.h>

#include "parse.h"

char *
parse_bare_address(const char *arg)
{
	size_t len = strlen(arg);

	if (len >= 2 && arg[0] == '<' && arg[len - 1] == '>')
		return g_strndup(arg + 1, len - 2);
	return g_strdup(arg);
}

/* Past folding white space and (nested, escaped) comments: RFC 5322 CFWS. */
static const char *
skip_cfws(const char *p)
{
	int depth = 0;

	for (; *p != '\0'; p++) {
		if (depth > 0 && *p == '\\' && p[1] != '\0')
			p++;
		else if (*p == '(')
			depth++;
		else if (depth > 0 && *p == ')')
			depth--;
		else if (depth == 0 && strchr(" \t\r\n", *p) == NULL)
			break;
	}
	return p;
}

bool
parse_ar_is_ours(const char *value, const char *authserv_id)
{
	size_t n = strlen(authserv_id);

	/* A forger may fold or comment before the id: RFC 8601 allows it. */
	value = skip_cfws(value);
	return g_ascii_strncasecmp(value, authserv_id, n) == 0 &&
	    (value[n] == '\0' || strchr("; \t\r\n(", value[n]) != NULL);
}

/* Control bytes: never in a header we write. */
static bool
is_ctl(char c)
{
	return (unsigned char)c < 0x20 || c == 0x7f;
}

char *
parse_ar_value(const char *v)
{
	GString *q;
	bool plain = v[0] != '\0';

	for (const char *p = v; plain && *p != '\0'; p++)
		plain = !is_ctl(*p) && strchr(" ;()\"\\,:[]<>", *p) == NULL;
	if (plain)
		return g_strdup(v);
	q = g_string_new("\"");
	for (const char *p = v; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			g_string_append_c(q, '\\');
		g_string_append_c(q, is_ctl(*p) ? '?' : *p);
	}
	g_string_append_c(q, '"');
	return g_string_free(q, FALSE);
}

char *
parse_ar_header(const char *authserv_id, const char *result,
    const char *mail_from, const char *helo)
{
	bool from = mail_from != NULL && mail_from[0] != '\0';
	g_autofree char *who = parse_ar_value(from ? mail_from :
	    helo != NULL ? helo : "unknown");

	return g_strdup_printf("%s; spf=%s smtp.%s=%s", authserv_id, result,
	    from ? "mailfrom" : "helo", who);
}

bool
parse_authenticated(const char *auth_type)
{
	return auth_type != NULL && auth_type[0] != '\0';
}

bool
parse_client(const struct sockaddr *sa, socklen_t salen,
    const char *hostname, struct addr *a, const char **name)
{
	*name = NULL;
	if (sa == NULL || !addr_from_sockaddr(sa, salen, a, NULL))
		return false;
	/* Postfix and Sendmail give "[address]" when there is no name. */
	if (hostname != NULL && hostname[0] != '\0' && hostname[0] != '[')
		*name = hostname;
	return true;
}
