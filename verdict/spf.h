/*
 * spf.h - SPF checks (RFC 7208) with libspf2, for the verdict.
 */
#ifndef SLOWSPAM_SPF_H
#define SLOWSPAM_SPF_H

#include <glib.h>

#include "addr.h"
#include "decide.h"

struct spf;

/*
 * One checker per process (libspf2 1.2 servers are thread-safe). With
 * zone_file, DNS answers come from that file only ("NAME TYPE DATA" a
 * line, TYPE one of TXT, A, AAAA, MX, PTR) - for tests, offline.
 */
struct spf *spf_new(const char *zone_file, GError **error);
void	spf_free(struct spf *spf);

/* The result for MAIL FROM mail_from (or the HELO if it is empty). */
enum spf_result spf_check(struct spf *spf, const struct addr *client,
	    const char *helo, const char *mail_from);

#endif /* SLOWSPAM_SPF_H */
