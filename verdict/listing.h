/*
 * listing.h - what the published DNS list says about a network: the
 * verdict library's answer, so the list and the milter never disagree.
 *
 * The answers are fixed (consumers filter on them, slowspam.conf(5)):
 *	127.0.0.2	backup-first, with the primary proven up around the
 *			tar pit's contact (decide(), from marks only)
 *	127.0.0.3	bot evidence at the tar pit (record_bot_evidence)
 *	127.0.0.4	seen at the tar pit, nothing else ([list] seen)
 * A network with several reasons has several A records, each with a TXT
 * "REASON; first=TIME; last=TIME" (record_format_time: the tar pit's
 * first and last contact), never the HELO. Listed while the tar pit's
 * last contact is no older than [list] expire.
 */
#ifndef SLOWSPAM_LISTING_H
#define SLOWSPAM_LISTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "addr.h"
#include "alive.h"
#include "record.h"
#include "verdict.h"

#define LISTING_BACKUP_FIRST	(1u << 0)	/* 127.0.0.2 */
#define LISTING_BOT		(1u << 1)	/* 127.0.0.3 */
#define LISTING_SEEN		(1u << 2)	/* 127.0.0.4 */
#define LISTING_ALL		((1u << 3) - 1)

/* Room for listing_txt(): the reason and two times. */
#define LISTING_TXT_LEN		96

/* The codes the list gives rec's network at now (0: not listed). */
unsigned listing_codes(const struct verdict_setup *su,
	    const struct hit_record *rec, const struct alive *alive,
	    int64_t now);

/*
 * Networks never listed: trusted_networks, the allow-list's networks and
 * 127.0.0.1 (RFC 5782), appended to out (struct addr_cidr).
 */
void	listing_exclusions(const struct verdict_setup *su, GArray *out);
/* Does net lie inside one of them (then it is left out)? */
bool	listing_excluded(const struct verdict_setup *su,
	    const struct addr_cidr *net);

/* The last octet of one code's A record, 2, 3 or 4. */
unsigned listing_octet(unsigned code);
/* "backup-first", "bot", "seen". */
const char *listing_reason(unsigned code);
/* The code of an A record's address, or 0 if it is none of ours. */
unsigned listing_code_of(const uint8_t a[4]);

/* One code's TXT for rec into buf[LISTING_TXT_LEN]; returns buf. */
const char *listing_txt(unsigned code, const struct hit_record *rec,
	    char *buf);
/*
 * The tar pit's first and last contact from a TXT listing_txt wrote,
 * text[0..len) from the network: false for anything else.
 */
bool	listing_txt_parse(const char *text, size_t len, int64_t *first,
	    int64_t *last);

#endif /* SLOWSPAM_LISTING_H */
