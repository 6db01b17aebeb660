/*
 * parse.c - strings the client controls, and the MTA's words for it.
 *
 *	parse_bare_address	MAIL FROM argument without its <>
 *	parse_ar_authserv_id	the authserv-id an A-R header starts with
 *	parse_ar_is_ours	does an Authentication-Results claim our id
 *	parse_ar_value		quote a property value for our A-R header
 *	parse_ar_header		our whole A-R header value, folded
 *	parse_authenticated	the {auth_type} macro says authenticated
 *	parse_name_confirmed	the {client_resolve} macro says confirmed
 *	parse_client		the connect callback's address and name
 *
 * Pure: no allocation but the returned strings, no I/O, so fuzz_milter
 * can run them on any bytes. What goes into a header we write never
 * carries CR, an unescaped quote, or LF but as a fold (LF and a tab, as
 * libmilter takes a multi-line value), whatever the client sent; no line
 * of it is over 998 octets (RFC 5322), and none over 78 where it can be
 * helped.
 *
 * An authserv-id (RFC 8601) is a token or a quoted-string; two are the
 * same when they are after unquoting (quoted-pairs undone, folds removed),
 * in ASCII case-insensitive comparison, with one trailing dot ignored.
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

/* Does an authserv-id end at p: the end, CFWS, or the ';' after it? */
static bool
ends_id(const char *p)
{
	return *p == '\0' || strchr("; \t\r\n(", *p) != NULL;
}

/* s in place: ASCII lower case, one trailing dot dropped. */
static char *
normalise_id(char *s)
{
	size_t n = strlen(s);

	if (n > 0 && s[n - 1] == '.')
		s[--n] = '\0';
	for (char *p = s; *p != '\0'; p++)
		*p = g_ascii_tolower(*p);
	return s;
}

char *
parse_ar_authserv_id(const char *value)
{
	GString *id = g_string_new(NULL);
	const char *p;

	/* A forger may fold or comment before the id: RFC 8601 allows it. */
	p = skip_cfws(value);
	if (*p == '"') {
		/* A quoted-string: quoted-pairs undone, folds unfolded. */
		for (p++; *p != '"'; p++) {
			if (*p == '\\')
				p++;
			if (*p == '\0')
				goto bad;	/* unterminated */
			if (*p != '\r' && *p != '\n')
				g_string_append_c(id, *p);
		}
		p++;
	} else {
		/* A token, or what a lenient reader takes for one. */
		while (!ends_id(p))
			g_string_append_c(id, *p++);
	}
	if (!ends_id(p))
		goto bad;
	normalise_id(id->str);
	if (id->str[0] == '\0')
		goto bad;
	return g_string_free(id, FALSE);
bad:
	g_string_free(id, TRUE);
	return NULL;
}

bool
parse_ar_is_ours(const char *value, const char *authserv_id)
{
	g_autofree char *theirs = parse_ar_authserv_id(value);
	g_autofree char *ours = normalise_id(g_strdup(authserv_id));

	return theirs != NULL && strcmp(theirs, ours) == 0;
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

/*
 * Add word to the header value h, whose last line is *col octets long:
 * after a blank, or on a line of its own (LF and a tab) if the blank
 * would take the line over PARSE_AR_FOLD.
 */
static void
fold_word(GString *h, size_t *col, const char *word)
{
	size_t n = strlen(word);

	if (h->len > 0 && *col + 1 + n > PARSE_AR_FOLD) {
		g_string_append(h, "\n\t");
		*col = 1;
	} else if (h->len > 0) {
		g_string_append_c(h, ' ');
		(*col)++;
	}
	g_string_append(h, word);
	*col += n;
}

char *
parse_ar_header(const char *authserv_id, const char *result,
    const char *mail_from, const char *helo)
{
	bool from = mail_from != NULL && mail_from[0] != '\0';
	const char *ptype = from ? "smtp.mailfrom" : "smtp.helo";
	const char *v = from ? mail_from : helo != NULL ? helo : "unknown";
	g_autofree char *who = parse_ar_value(v);
	g_autofree char *id = g_strconcat(authserv_id, ";", NULL);
	g_autofree char *spf = g_strconcat("spf=", result, NULL);
	g_autofree char *prop = g_strconcat(ptype, "=", who, NULL);
	GString *h = g_string_new(NULL);
	size_t col = sizeof("Authentication-Results: ") - 1;

	fold_word(h, &col, id);
	fold_word(h, &col, spf);
	/* A value no line can hold is left out; a comment says so. */
	if (1 + strlen(prop) > PARSE_AR_LINE_MAX) {
		g_free(prop);
		prop = g_strdup_printf("(%s left out: %zu octets)", ptype,
		    strlen(v));
	}
	fold_word(h, &col, prop);
	return g_string_free(h, FALSE);
}

bool
parse_authenticated(const char *auth_type)
{
	return auth_type != NULL && auth_type[0] != '\0';
}

bool
parse_name_confirmed(const char *client_resolve)
{
	return client_resolve != NULL &&
	    g_ascii_strcasecmp(client_resolve, "OK") == 0;
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
