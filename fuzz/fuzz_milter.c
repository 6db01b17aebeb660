/*
 * fuzz_milter.c - the milter's parsing of what the client controls
 * (verdict/parse.c) on any bytes: the MAIL FROM argument, Authentication-
 * Results values, the HELO string, {auth_type}, the connect callback's
 * host name and sockaddr. Strings come NUL-terminated, as libmilter
 * gives them, in exact copies so ASan sees any read past their end.
 *
 * Properties: a bare address is a substring of its argument, no longer;
 * a quoted A-R value unquotes to its input (control bytes as '?') and no
 * header we write holds CR, an unescaped quote, LF but as a fold (LF and
 * a tab), or a line over 998 octets; our own id, however folded,
 * commented, quoted, escaped, cased or dotted, is recognised, and a
 * longer word is not; any string, as a quoted-string and (when it can
 * be) as a token, is the same authserv-id as itself.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "fuzz.h"
#include "parse.h"

static const char *const ids[] = { "mx.example.org", "x" };

/* Undo parse_ar_value(): the value, or NULL if it is not well formed. */
static char *
unquote(const char *q)
{
	GString *s;
	size_t n = strlen(q);

	if (q[0] != '"')
		return g_strdup(q);
	s = g_string_new(NULL);
	for (size_t i = 1; i < n; i++) {
		if (q[i] == '"') {
			if (i + 1 != n)
				break;		/* an unescaped quote inside */
			return g_string_free(s, FALSE);
		}
		if (q[i] == '\\' && ++i == n)
			break;
		g_string_append_c(s, q[i]);
	}
	g_string_free(s, TRUE);
	return NULL;
}

/* The input as parse_ar_value() should carry it: controls as '?'. */
static char *
cleaned(const char *v)
{
	char *c = g_strdup(v);

	for (char *p = c; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return c;
}

static void
check_ar_value(const char *v)
{
	g_autofree char *q = parse_ar_value(v);
	g_autofree char *back = unquote(q);
	g_autofree char *want = cleaned(v);

	FUZZ_CHECK(strpbrk(q, "\r\n") == NULL);
	FUZZ_CHECK(back != NULL && strcmp(back, want) == 0);
	/* Unquoted only if nothing in it needs quoting. */
	if (q[0] != '"')
		FUZZ_CHECK(q[0] != '\0' && strcmp(q, v) == 0 &&
		    strpbrk(q, " \t;()\"\\,:[]<>") == NULL);
}

/* s as an RFC 5322 quoted-string; every byte a quoted-pair if all. */
static char *
quote(const char *s, bool all)
{
	GString *q = g_string_new("\"");

	for (const char *p = s; *p != '\0'; p++) {
		if (all || *p == '"' || *p == '\\')
			g_string_append_c(q, '\\');
		g_string_append_c(q, *p);
	}
	g_string_append_c(q, '"');
	return g_string_free(q, FALSE);
}

/* s as an authserv-id compares: lower case, one trailing dot dropped. */
static char *
normalised(const char *s)
{
	char *n = g_ascii_strdown(s, -1);
	size_t len = strlen(n);

	if (len > 0 && n[len - 1] == '.')
		n[len - 1] = '\0';
	return n;
}

static void
check_ar_is_ours(const char *v)
{
	for (size_t i = 0; i < G_N_ELEMENTS(ids); i++) {
		g_autofree char *ours = g_strdup_printf("%s; %s", ids[i], v);
		g_autofree char *folded = g_strdup_printf("\r\n\t(a (nested)"
		    " \\) comment) %s (1) ; %s", ids[i], v);
		g_autofree char *upper = g_ascii_strup(ours, -1);
		g_autofree char *dotted = g_strdup_printf("%s.; %s", ids[i], v);
		g_autofree char *q = quote(ids[i], false);
		g_autofree char *qall = quote(ids[i], true);
		g_autofree char *quoted = g_strdup_printf("%s; %s", q, v);
		g_autofree char *escaped = g_strdup_printf(" (c) %s(c); %s",
		    qall, v);
		g_autofree char *qupper = g_ascii_strup(quoted, -1);
		g_autofree char *longer = g_strdup_printf("%sx; %s", ids[i], v);
		g_autofree char *qlonger = g_strdup_printf("\"%sx\"; %s",
		    ids[i], v);
		g_autofree char *prefixed = g_strdup_printf("a%s; %s", ids[i],
		    v);
		g_autofree char *dots = g_strdup_printf("%s..; %s", ids[i], v);
		g_autofree char *open = g_strdup_printf("\"%s; %s", ids[i], v);

		(void)parse_ar_is_ours(v, ids[i]);
		FUZZ_CHECK(parse_ar_is_ours(ours, ids[i]));
		FUZZ_CHECK(parse_ar_is_ours(folded, ids[i]));
		FUZZ_CHECK(parse_ar_is_ours(upper, ids[i]));
		FUZZ_CHECK(parse_ar_is_ours(dotted, ids[i]));
		FUZZ_CHECK(parse_ar_is_ours(quoted, ids[i]));
		FUZZ_CHECK(parse_ar_is_ours(escaped, ids[i]));
		FUZZ_CHECK(parse_ar_is_ours(qupper, ids[i]));
		FUZZ_CHECK(!parse_ar_is_ours(longer, ids[i]));
		FUZZ_CHECK(!parse_ar_is_ours(qlonger, ids[i]));
		FUZZ_CHECK(!parse_ar_is_ours(prefixed, ids[i]));
		FUZZ_CHECK(!parse_ar_is_ours(dots, ids[i]));
		/* Unterminated: what the quote holds has "; " in it. */
		FUZZ_CHECK(!parse_ar_is_ours(open, ids[i]));
	}
}

/* Any s, quoted, is the authserv-id s; so is s as a token, if it is one. */
static void
check_ar_id(const char *s)
{
	g_autofree char *q = quote(s, false);
	g_autofree char *qall = quote(s, true);
	g_autofree char *qv = g_strdup_printf("%s; dkim=pass", q);
	g_autofree char *qallv = g_strdup_printf("(x) %s (y)", qall);
	g_autofree char *tv = g_strdup_printf("%s; dkim=pass", s);
	g_autofree char *id = parse_ar_authserv_id(qv);
	g_autofree char *idall = parse_ar_authserv_id(qallv);
	g_autofree char *tid = parse_ar_authserv_id(tv);
	g_autofree char *want = normalised(s);
	bool token = s[0] != '\0' && s[0] != '"' &&
	    strpbrk(s, " \t\r\n;(") == NULL;

	g_free(parse_ar_authserv_id(s));
	if (strpbrk(s, "\r\n") != NULL)
		return;		/* a fold in a quoted-string: unfolded */
	FUZZ_CHECK(want[0] == '\0' ? id == NULL : id != NULL &&
	    strcmp(id, want) == 0);
	FUZZ_CHECK((id == NULL) == (idall == NULL));
	FUZZ_CHECK(id == NULL || strcmp(id, idall) == 0);
	FUZZ_CHECK(parse_ar_is_ours(qv, s) == (want[0] != '\0'));
	if (token) {
		FUZZ_CHECK((tid == NULL) == (id == NULL));
		FUZZ_CHECK(tid == NULL || strcmp(tid, id) == 0);
		FUZZ_CHECK(parse_ar_is_ours(tv, s) == (want[0] != '\0'));
	}
}

static void
check_bare_address(const char *arg)
{
	g_autofree char *b = parse_bare_address(arg);
	size_t n = strlen(arg), m = strlen(b);

	FUZZ_CHECK(m <= n);
	FUZZ_CHECK(strcmp(b, arg) == 0 || (m + 2 == n && arg[0] == '<' &&
	    arg[n - 1] == '>' && memcmp(arg + 1, b, m) == 0));
}

static void
check_header(const char *from, const char *helo)
{
	static const char prefix[] = "mx.example.org; spf=pass ";
	g_autofree char *h = parse_ar_header(ids[0], "pass", from, helo);
	g_auto(GStrv) lines = g_strsplit(h, "\n", -1);
	g_autofree char *flat = NULL;
	const char *v = from != NULL && from[0] != '\0' ? from :
	    helo != NULL ? helo : "unknown";
	const char *rest;

	/* Folded as libmilter takes it: LF and a tab; lines of <= 998. */
	FUZZ_CHECK(strchr(h, '\r') == NULL);
	for (size_t i = 0; lines[i] != NULL; i++) {
		FUZZ_CHECK(strlen(lines[i]) + (i == 0 ?
		    sizeof("Authentication-Results: ") - 1 : 0) <=
		    PARSE_AR_LINE_MAX);
		FUZZ_CHECK(i == 0 || (lines[i][0] == '\t' &&
		    lines[i][1] != '\0'));
	}
	g_strfreev(lines);
	lines = g_strsplit(h, "\n\t", -1);
	flat = g_strjoinv(" ", lines);
	FUZZ_CHECK(g_str_has_prefix(flat, prefix));
	rest = flat + sizeof(prefix) - 1;
	if (rest[0] == '(') {
		/* Left out: only a value no line could hold. */
		g_autofree char *q = parse_ar_value(v);

		FUZZ_CHECK(strlen(q) + sizeof("\tsmtp.mailfrom=") - 1 >
		    PARSE_AR_LINE_MAX - (from != NULL && from[0] != '\0' ?
		    0 : 4));
		FUZZ_CHECK(strchr(rest, '\n') == NULL &&
		    g_str_has_suffix(rest, " octets)"));
	} else {
		/* What follows the property is one value, whole. */
		const char *who = strchr(rest, '=');
		g_autofree char *back = NULL;
		g_autofree char *want = cleaned(v);

		FUZZ_CHECK(g_str_has_prefix(rest, "smtp.") && who != NULL);
		back = unquote(who + 1);
		FUZZ_CHECK(back != NULL && strcmp(back, want) == 0);
	}
}

static void
check_client(const uint8_t *data, size_t size, const char *hostname)
{
	/* The sockaddr in a buffer of its own exact size. */
	struct sockaddr *sa = size > 0 ? g_memdup2(data, size) : NULL;
	struct addr a;
	const char *name;
	char text[ADDR_STRLEN];

	if (parse_client(sa, (socklen_t)size, hostname, &a, &name)) {
		struct addr back;

		FUZZ_CHECK(addr_parse(addr_format(&a, text), &back));
		FUZZ_CHECK(addr_equal(&a, &back));
		FUZZ_CHECK(name == NULL || name == hostname);
		FUZZ_CHECK(name != NULL || hostname == NULL ||
		    hostname[0] == '\0' || hostname[0] == '[');
	} else {
		FUZZ_CHECK(name == NULL);
	}
	g_free(sa);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Up to four strings, split at NUL, as libmilter hands them over. */
	char *copy = g_malloc(size + 1), *field[4] = { NULL };
	size_t nfields = 0;

	memcpy(copy, data, size);
	copy[size] = '\0';
	for (char *p = copy; nfields < 4 && p <= copy + size; ) {
		/* Exact copies, so a read past one's NUL is caught. */
		field[nfields++] = g_strdup(p);
		p += strlen(p) + 1;
	}
	check_bare_address(field[0]);
	check_ar_value(field[0]);
	check_ar_is_ours(field[0]);
	check_ar_id(field[0]);
	if (nfields > 1)
		check_ar_id(field[1]);
	(void)parse_authenticated(field[0]);
	check_header(field[0], field[1]);
	check_header("", field[0]);
	check_header(NULL, NULL);
	check_client(data, size, field[1]);
	check_client(data, size, field[0]);
	FUZZ_CHECK(!parse_authenticated(NULL) && !parse_authenticated(""));
	FUZZ_CHECK(parse_name_confirmed("OK") && !parse_name_confirmed(NULL));
	(void)parse_name_confirmed(field[0]);
	for (size_t i = 0; i < nfields; i++)
		g_free(field[i]);
	g_free(copy);
	return 0;
}
