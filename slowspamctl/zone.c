/*
 * zone.c - the DNS list as one rbldnsd data file.
 *
 *	zone_write	the list of every record in the store
 *
 * rbldnsd's "combined" dataset (rbldnsd(8)): a common part ($SOA, $NS,
 * $TTL), then one ip4trie or ip6trie dataset per answer and family, each
 * attached to the zone itself ("@"), so a network with several reasons
 * matches several datasets and gets several A records, each with its TXT.
 * Every dataset begins with the networks never listed as exclusions
 * ("!NET": rbldnsd answers by the longest prefix, so an allow-listed
 * host inside a listed network stays out) and the RFC 5782 test entry
 * (127.0.0.2, ::ffff:7f00:2 in every dataset; 127.0.0.1 never).
 *
 * One pass over the store: each dataset's lines gather in an unlinked
 * temporary file, then the file is written from them in order, so the
 * memory used does not grow with the store.
 *
 * Diagnostics: a failed read of the store or write of a file is an
 * error naming it; damaged records are skipped and counted.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "listing.h"
#include "zone.h"

#define NCODES		3
#define NFAMILIES	2

static const unsigned codes[NCODES] = {
	LISTING_BACKUP_FIRST, LISTING_BOT, LISTING_SEEN,
};

/* The test entries of RFC 5782 section 5, by family. */
static const char *const test_entry[NFAMILIES] = {
	"127.0.0.2/32", "::ffff:7f00:2/128",
};

/* One pass over the store. */
struct pass {
	const struct verdict_setup *su;
	struct alive	alive;
	int64_t		now;
	FILE		*part[NCODES][NFAMILIES];
	struct zone_counts *counts;
	int		write_errno;	/* the first failed write's */
};

/*
 * An unlinked temporary file in dir, for one dataset's lines: O_TMPFILE
 * never has a name to leave behind; where the file system lacks it, a
 * named file unlinked at once.
 */
static FILE *
part_open(const char *dir, GError **error)
{
	g_autofree char *tmpl = g_build_filename(dir, ".slowspam-zone-XXXXXX",
	    NULL);
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600), e;
	FILE *f = NULL;

	if (fd < 0 && (fd = g_mkstemp(tmpl)) >= 0)
		(void)unlink(tmpl);
	if (fd >= 0 && (f = fdopen(fd, "w+")) != NULL)
		return f;
	e = errno;
	if (fd >= 0)
		close(fd);
	g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
	    "a work file in %s: %s", dir, g_strerror(e));
	return NULL;
}

/* Write one record's lines to the parts its codes name. */
static bool
add_record(const char *key, const struct hit_record *rec, void *data)
{
	struct pass *p = data;
	struct addr_cidr net;
	char txt[LISTING_TXT_LEN], canon[ADDR_NETKEY_LEN];
	unsigned got;
	int fam;

	p->counts->records++;
	if (!addr_cidr_parse(key, &net, NULL))
		return true;	/* not a network key: nothing to list */
	if ((got = listing_codes(p->su, rec, &p->alive, p->now)) == 0)
		return true;
	/*
	 * The store never keys a network wider than [store] allows (/8,
	 * /16); such a key is forged or damaged, and would list a
	 * continent.
	 */
	if (net.prefix < (net.net.family == AF_INET ? ZONE_WIDEST_IPV4 :
	    ZONE_WIDEST_IPV6)) {
		p->counts->too_wide++;
		return true;
	}
	if (listing_excluded(p->su, &net)) {
		p->counts->excluded++;
		return true;
	}
	p->counts->listed++;
	fam = net.net.family == AF_INET ? 0 : 1;
	for (unsigned i = 0; i < NCODES; i++) {
		if ((got & codes[i]) == 0)
			continue;
		p->counts->codes[i]++;
		/*
		 * The parsed network, not the key as stored: a mapped key
		 * (::ffff:10.0.0.0/104) in an ip4trie is an "invalid A RR"
		 * to rbldnsd, which drops the line.
		 */
		if (fprintf(p->part[i][fam], "%s :%u:%s\n",
		    addr_cidr_format(&net, canon),
		    listing_octet(codes[i]), listing_txt(codes[i], rec, txt)) <
		    0 && p->write_errno == 0)
			p->write_errno = errno;
	}
	return true;
}

/* The common part: what it is, $SOA and $NS if [list] ns, $TTL. */
static void
write_head(FILE *out, const struct verdict_setup *su, const char *source,
    int64_t now)
{
	const struct conf_list *l = &su->conf->list;
	char when[RECORD_TIME_LEN];
	int64_t ttl = l->ttl / 1000;

	fprintf(out, "# slowspam DNS list (rbldnsd combined dataset), written "
	    "by slowspamctl %s at %s from %s.\n"
	    "# 127.0.0.2 backup-first, 127.0.0.3 bot, 127.0.0.4 seen; TXT: "
	    "reason; first=, last= (the tar pit's contacts).\n",
	    PACKAGE_VERSION, record_format_time(now, when), source);
	if (l->ns[0] != '\0') {
		g_auto(GStrv) ns = g_strsplit(l->ns, " ", -1);
		const char *dot = strchr(ns[0], '.');
		g_autofree char *person = l->hostmaster[0] != '\0' ?
		    g_strdup(l->hostmaster) :
		    g_strconcat("hostmaster", dot, NULL);

		/* The serial: the time written, so secondaries see a change. */
		fprintf(out, "$SOA %" PRId64 " %s %s %" PRId64 " 1h 10m 1w %"
		    PRId64 "\n", ttl, ns[0], person, now / 1000, ttl);
		fprintf(out, "$NS %" PRId64 " %s\n", ttl, l->ns);
	}
	fprintf(out, "$TTL %" PRId64 "\n", ttl);
}

/* One dataset: its line, the exclusions, the test entry, its part. */
static bool
write_dataset(FILE *out, FILE *part, unsigned code, int fam,
    const GArray *ex, GError **error)
{
	char buf[65536], net[ADDR_NETKEY_LEN], txt[96];
	size_t n;

	fprintf(out, "$DATASET %s:%s @\n", fam == 0 ? "ip4trie" : "ip6trie",
	    listing_reason(code));
	for (guint i = 0; i < ex->len; i++) {
		const struct addr_cidr *e = &g_array_index(ex, struct addr_cidr,
		    i);

		if ((e->net.family == AF_INET) == (fam == 0))
			fprintf(out, "!%s\n", addr_cidr_format(e, net));
	}
	g_snprintf(txt, sizeof(txt), "%s; test entry (RFC 5782)",
	    listing_reason(code));
	fprintf(out, "%s :%u:%s\n", test_entry[fam], listing_octet(code), txt);
	if (fflush(part) != 0 || fseek(part, 0, SEEK_SET) != 0)
		goto fail;
	while ((n = fread(buf, 1, sizeof(buf), part)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			goto fail;
	if (!ferror(part))
		return true;
fail:
	g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
	    "writing the list: %s", g_strerror(errno));
	return false;
}

bool
zone_write(FILE *out, struct store *st, const struct verdict_setup *su,
    int64_t now, const char *tmpdir, struct zone_counts *counts,
    GError **error)
{
	struct pass p = { .su = su, .now = now, .counts = counts };
	g_autoptr(GArray) ex = g_array_new(FALSE, FALSE,
	    sizeof(struct addr_cidr));
	size_t bad = 0;
	bool ok = false;

	memset(counts, 0, sizeof(*counts));
	if (!store_alive_get(st, &p.alive, error))
		return false;
	for (unsigned i = 0; i < NCODES; i++)
		for (int f = 0; f < NFAMILIES; f++)
			if ((p.part[i][f] = part_open(tmpdir != NULL ? tmpdir :
			    g_get_tmp_dir(), error)) == NULL)
				goto out;
	if (!store_foreach(st, add_record, &p, &bad, error))
		goto out;
	counts->bad = bad;
	if (p.write_errno != 0) {
		g_set_error(error, G_FILE_ERROR,
		    g_file_error_from_errno(p.write_errno), "writing the list: "
		    "%s", g_strerror(p.write_errno));
		goto out;
	}
	listing_exclusions(su, ex);
	write_head(out, su, store_describe(st), now);
	for (unsigned i = 0; i < NCODES; i++)
		for (int f = 0; f < NFAMILIES; f++)
			if (!write_dataset(out, p.part[i][f], codes[i], f, ex,
			    error))
				goto out;
	if (fflush(out) != 0 || ferror(out)) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
		    "writing the list: %s", g_strerror(errno));
		goto out;
	}
	ok = true;
out:
	for (unsigned i = 0; i < NCODES; i++)
		for (int f = 0; f < NFAMILIES; f++)
			if (p.part[i][f] != NULL)
				fclose(p.part[i][f]);
	return ok;
}
