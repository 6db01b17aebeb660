/*
 * allow.c - the allow-list file of networks and domains.
 *
 *	allow_parse	text to a list, every bad line reported
 *	allow_load	the same for a file
 *	allow_addr	is an address in a listed network?
 *	allow_domain	is a name a listed domain or below one?
 *	allow_networks	the listed networks, for the DNS list's exclusions
 *
 * Domains match by whole labels: "example.org" allows "example.org" and
 * "mx.example.org", never "badexample.org". Which names are worth asking
 * about is the caller's concern: the milter asks only with a confirmed
 * one (a reverse-DNS name the MTA says resolves back, or a HELO name SPF
 * passes), never with a name the client merely claims.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "allow.h"
#include "conf.h"
#include "helo.h"

struct allow {
	GArray	*nets;		/* struct addr_cidr */
	GPtrArray *domains;	/* lower case, no trailing dot */
};

/* name[0..len) lower-cased without a trailing dot, or NULL if too long. */
static char *
fold_name(const char *name, size_t len)
{
	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > HELO_NAME_MAX)
		return NULL;
	return g_ascii_strdown(name, (gssize)len);
}

struct allow *
allow_parse(const char *name, const char *text, size_t len, GError **error)
{
	struct allow *al = g_new0(struct allow, 1);
	g_autoptr(GString) problems = g_string_new(NULL);
	g_autofree char *copy = g_strndup(text, len);
	g_auto(GStrv) lines = g_strsplit(copy, "\n", -1);

	al->nets = g_array_new(FALSE, FALSE, sizeof(struct addr_cidr));
	al->domains = g_ptr_array_new_with_free_func(g_free);
	if (memchr(text, '\0', len) != NULL)
		g_string_append_printf(problems, "%s: not a text file", name);
	for (size_t i = 0; lines[i] != NULL && memchr(text, '\0', len) == NULL;
	    i++) {
		char *line = lines[i], *hash = strchr(line, '#');
		struct addr_cidr c;
		struct helo_result r;
		const char *why = NULL;

		if (hash != NULL)
			*hash = '\0';
		g_strstrip(line);
		if (line[0] == '\0')
			continue;
		if (addr_cidr_parse(line, &c, &why)) {
			g_array_append_val(al->nets, c);
			continue;
		}
		helo_classify(line, strlen(line), NULL, &r);
		if (r.class == HELO_FQDN || r.class == HELO_SINGLE_LABEL) {
			g_ptr_array_add(al->domains, fold_name(line,
			    strlen(line)));
			continue;
		}
		g_string_append_printf(problems, "%s%s:%zu: not a network or "
		    "a domain", problems->len > 0 ? "\n" : "", name, i + 1);
	}
	if (problems->len > 0) {
		g_set_error(error, CONF_ERROR, CONF_ERROR_INVALID, "%s",
		    problems->str);
		allow_free(al);
		return NULL;
	}
	return al;
}

struct allow *
allow_load(const char *path, GError **error)
{
	g_autofree char *text = NULL;
	gsize len;
	GError *err = NULL;

	if (!g_file_get_contents(path, &text, &len, &err)) {
		g_set_error(error, CONF_ERROR, CONF_ERROR_READ,
		    "[milter] allow_list: %s", err->message);
		g_error_free(err);
		return NULL;
	}
	return allow_parse(path, text, len, error);
}

void
allow_free(struct allow *al)
{
	if (al == NULL)
		return;
	g_array_unref(al->nets);
	g_ptr_array_unref(al->domains);
	g_free(al);
}

bool
allow_addr(const struct allow *al, const struct addr *a)
{
	return al != NULL && addr_cidr_list_match((const struct addr_cidr *)
	    (void *)al->nets->data, al->nets->len, a);
}

bool
allow_domain(const struct allow *al, const char *name, size_t len)
{
	g_autofree char *n = NULL;
	size_t nlen;

	if (al == NULL || (n = fold_name(name, len)) == NULL)
		return false;
	nlen = strlen(n);
	for (guint i = 0; i < al->domains->len; i++) {
		const char *d = al->domains->pdata[i];
		size_t dlen = strlen(d);

		if (nlen == dlen && strcmp(n, d) == 0)
			return true;
		if (nlen > dlen && n[nlen - dlen - 1] == '.' &&
		    strcmp(n + nlen - dlen, d) == 0)
			return true;
	}
	return false;
}

const struct addr_cidr *
allow_networks(const struct allow *al, size_t *n)
{
	*n = al != NULL ? al->nets->len : 0;
	return al != NULL ? (const struct addr_cidr *)(void *)al->nets->data :
	    NULL;
}
