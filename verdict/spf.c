/*
 * spf.c - SPF with libspf2.
 *
 *	spf_new		a checker: the system resolver, or a test zone
 *	spf_check	one check, MAIL FROM (or HELO when it is empty)
 *	spf_free	release it
 *
 * A DNS failure is "temperror", never an error of ours: the verdict lets
 * the mail through with that result recorded (fail open).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <string.h>

#include <spf2/spf.h>
#include <spf2/spf_dns_zone.h>

#include "conf.h"
#include "spf.h"

struct spf {
	SPF_server_t	*server;
	SPF_dns_server_t *zone;		/* test zone, or NULL */
};

/* Fill the test zone from a file; false with error naming file:line. */
static bool
load_zone(SPF_dns_server_t *zone, const char *path, GError **error)
{
	static const struct {
		const char *name;
		ns_type type;
	} types[] = {
		{ "TXT", ns_t_txt }, { "A", ns_t_a }, { "AAAA", ns_t_aaaa },
		{ "MX", ns_t_mx }, { "PTR", ns_t_ptr },
	};
	g_autofree char *text = NULL;
	g_auto(GStrv) lines = NULL;
	GError *err = NULL;

	if (!g_file_get_contents(path, &text, NULL, &err)) {
		g_propagate_error(error, err);
		return false;
	}
	lines = g_strsplit(text, "\n", -1);
	for (size_t i = 0; lines[i] != NULL; i++) {
		g_auto(GStrv) f = g_strsplit_set(g_strstrip(lines[i]), " \t", 3);
		size_t t;

		if (f[0] == NULL || f[0][0] == '\0' || f[0][0] == '#')
			continue;
		for (t = 0; f[1] != NULL && t < G_N_ELEMENTS(types); t++)
			if (g_ascii_strcasecmp(f[1], types[t].name) == 0)
				break;
		if (f[1] == NULL || f[2] == NULL || t == G_N_ELEMENTS(types) ||
		    SPF_dns_zone_add_str(zone, f[0], types[t].type,
		    NETDB_SUCCESS, g_strstrip(f[2])) != SPF_E_SUCCESS) {
			g_set_error(error, CONF_ERROR, CONF_ERROR_INVALID,
			    "%s:%zu: not NAME TYPE DATA", path, i + 1);
			return false;
		}
	}
	return true;
}

struct spf *
spf_new(const char *zone_file, GError **error)
{
	struct spf *spf = g_new0(struct spf, 1);

	if (zone_file != NULL) {
		spf->zone = SPF_dns_zone_new(NULL, "slowspam-test", 0);
		if (spf->zone == NULL || !load_zone(spf->zone, zone_file,
		    error)) {
			spf_free(spf);
			return NULL;
		}
		spf->server = SPF_server_new_dns(spf->zone, 0);
	} else {
		spf->server = SPF_server_new(SPF_DNS_CACHE, 0);
	}
	if (spf->server == NULL) {
		g_set_error(error, CONF_ERROR, CONF_ERROR_INVALID,
		    "libspf2: cannot create an SPF server");
		spf_free(spf);
		return NULL;
	}
	return spf;
}

void
spf_free(struct spf *spf)
{
	if (spf == NULL)
		return;
	/* SPF_server_new_dns does not take the zone: free it after. */
	if (spf->server != NULL)
		SPF_server_free(spf->server);
	if (spf->zone != NULL)
		SPF_dns_free(spf->zone);
	g_free(spf);
}

enum spf_result
spf_check(struct spf *spf, const struct addr *client, const char *helo,
    const char *mail_from)
{
	const char *at = mail_from != NULL ? strrchr(mail_from, '@') : NULL;
	bool have_from = mail_from != NULL && mail_from[0] != '\0' &&
	    (at == NULL || at[1] != '\0');
	bool have_helo = helo != NULL && helo[0] != '\0';
	SPF_request_t *req;
	SPF_response_t *res = NULL;
	enum spf_result r = SPF_TEMPERROR_;
	struct in_addr v4;
	struct in6_addr v6;

	/*
	 * No identity at all (the null sender, or "user@", and no HELO: an
	 * MTA that lets MAIL come first): nothing to check, and libspf2
	 * would abort the process on a request without a domain.
	 */
	if (!have_from && !have_helo)
		return SPF_NONE_;
	if ((req = SPF_request_new(spf->server)) == NULL)
		return r;
	if (client->family == AF_INET) {
		memcpy(&v4, client->bytes, 4);
		SPF_request_set_ipv4(req, v4);
	} else {
		memcpy(&v6, client->bytes, 16);
		SPF_request_set_ipv6(req, v6);
	}
	if (have_helo)
		SPF_request_set_helo_dom(req, helo);
	if (have_from)
		SPF_request_set_env_from(req, mail_from);
	else {
		g_autofree char *postmaster = g_strconcat("postmaster@", helo,
		    NULL);

		SPF_request_set_env_from(req, postmaster);
	}
	SPF_request_query_mailfrom(req, &res);
	if (res != NULL) {
		switch (SPF_response_result(res)) {
		case SPF_RESULT_PASS:
			r = SPF_PASS_;
			break;
		case SPF_RESULT_FAIL:
			r = SPF_FAIL_;
			break;
		case SPF_RESULT_SOFTFAIL:
			r = SPF_SOFTFAIL_;
			break;
		case SPF_RESULT_NEUTRAL:
			r = SPF_NEUTRAL_;
			break;
		case SPF_RESULT_NONE:
			r = SPF_NONE_;
			break;
		case SPF_RESULT_PERMERROR:
			r = SPF_PERMERROR_;
			break;
		default:
			r = SPF_TEMPERROR_;
			break;
		}
		SPF_response_free(res);
	}
	SPF_request_free(req);
	return r;
}
