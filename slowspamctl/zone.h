/*
 * zone.h - the DNS list as one rbldnsd data file (the "combined"
 * dataset type): slowspamctl export --format rbldnsd.
 */
#ifndef SLOWSPAM_ZONE_H
#define SLOWSPAM_ZONE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <glib.h>

#include "store.h"
#include "verdict.h"

/* The widest networks listed: what [store] ipv4/ipv6_prefix allow. */
#define ZONE_WIDEST_IPV4	8
#define ZONE_WIDEST_IPV6	16

/* What a write listed and left out. */
struct zone_counts {
	uint64_t	records;	/* read from the store */
	uint64_t	listed;		/* networks with a code */
	uint64_t	codes[3];	/* backup-first, bot, seen */
	uint64_t	excluded;	/* inside trusted or allow-listed nets */
	uint64_t	bad;		/* damaged records skipped */
	uint64_t	too_wide;	/* keys wider than /8 or /16: skipped */
};

/*
 * Write the list of st's records at now to out, as su's [list] and
 * [milter] keys say (listing.h). Sections are gathered in unlinked
 * temporary files in tmpdir (NULL: g_get_tmp_dir()), so memory does not
 * grow with the store. False with an error naming what failed.
 */
bool	zone_write(FILE *out, struct store *st, const struct verdict_setup *su,
	    int64_t now, const char *tmpdir, struct zone_counts *counts,
	    GError **error);

#endif /* SLOWSPAM_ZONE_H */
