/*
 * dnsxl.h - asking a remote DNS list (RFC 5782) what its tar pit saw of
 * a client: the list listing.h describes, as another site publishes it.
 *
 * One libunbound context per process, with its cache: the resolver is
 * [milter] tarpit_list_resolver (ADDR[@PORT], a forwarder), or the
 * system's (/etc/resolv.conf, /etc/hosts). A lookup starts the A and
 * the TXT query for the client's name under the zone and returns at
 * once; one thread of the module runs libunbound's answers as they come
 * (poll on its descriptor, no busy loop); the caller collects the answer
 * later, with a deadline, so the DNS overlaps the client's HELO.
 *
 * Never loses mail: a timeout, SERVFAIL or any other failure is "no
 * list evidence" (fail open), counted by the caller and logged here
 * rate-limited; so is a lookup beyond DNSXL_MAX_INFLIGHT (overflow).
 *
 * Thread-safe: lookups start, wait and end on any thread.
 */
#ifndef SLOWSPAM_DNSXL_H
#define SLOWSPAM_DNSXL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "addr.h"
#include "conf.h"

/* Lookups in flight at once; beyond it a lookup fails open at once. */
#define DNSXL_MAX_INFLIGHT	4096

/* The RFC 5782 name: 32 nibbles of 2 bytes, and the zone (a DNS name). */
#define DNSXL_QNAME_LEN		(64 + 256)

enum dnsxl_result {
	DNSXL_LISTED,		/* an A record of ours (listing.h) */
	DNSXL_NOT_LISTED,	/* NXDOMAIN, or no A record of ours */
	DNSXL_TIMEOUT,		/* no answer within the deadline */
	DNSXL_FAILED,		/* SERVFAIL, a resolver error */
	DNSXL_OVERFLOW,		/* too many lookups in flight */
};
#define DNSXL_NRESULTS		(DNSXL_OVERFLOW + 1)

struct dnsxl_answer {
	enum dnsxl_result result;
	unsigned	codes;		/* LISTING_* bits, when listed */
	/* The tar pit's first and last contact by the TXT (0: none). */
	int64_t		first, last;
};

struct dnsxl;
struct dnsxl_lookup;

/*
 * The context for c's [milter] tarpit_list_resolver, or *out NULL when
 * [milter] tarpit_list is empty; false (error set) if libunbound
 * refuses the resolver. Starts a thread: after any fork(), with the
 * signals other threads must not take blocked.
 */
bool	dnsxl_open(const struct conf *c, struct dnsxl **out, GError **error);
/*
 * Cancel what is in flight, stop the thread, free the context; NULL is
 * a no-op. Lookups not yet freed stay valid (they answer "failed").
 */
void	dnsxl_free(struct dnsxl *d);
/*
 * After a reload to c: the resolver is the one of the start, and a list
 * turned on from none needs a restart; log it if c asks otherwise.
 */
void	dnsxl_reload_check(const struct dnsxl *d, const struct conf *c);

/* Start the lookup of a in zone (never NULL; an overflow answers so). */
struct dnsxl_lookup *dnsxl_start(struct dnsxl *d, const struct addr *a,
	    const char *zone);
/*
 * The answer, waiting until deadline (monotonic us) at most; us: how
 * long the lookup took (to its answer, or to the deadline).
 */
void	dnsxl_wait(struct dnsxl_lookup *l, gint64 deadline,
	    struct dnsxl_answer *out, gint64 *us);
/*
 * Let go of it; NULL is a no-op. Queries still in flight are left to
 * finish (and count against DNSXL_MAX_INFLIGHT until they do).
 */
void	dnsxl_lookup_free(struct dnsxl_lookup *l);

/* "listed", "not_listed", "timeout", "failed", "overflow". */
const char *dnsxl_result_name(enum dnsxl_result r);

/*
 * The RFC 5782 name of a in zone into buf[DNSXL_QNAME_LEN]: the IPv4
 * octets reversed, or the IPv6 nibbles reversed, then the zone. False
 * if it does not fit.
 */
bool	dnsxl_qname(const struct addr *a, const char *zone, char *buf);

/*
 * Pure parsers of what the network sent (fuzzed). dnsxl_parse_a: one A
 * rdata, 4 bytes exactly; its LISTING_* code (0: none of ours).
 * dnsxl_parse_txt: one TXT rdata, length-prefixed strings, each read
 * with listing_txt_parse; the earliest first and the latest last of the
 * strings that parse are folded into *first and *last (0: none yet).
 * False if the rdata is malformed (a string past its end); strings that
 * do not parse are skipped.
 */
unsigned dnsxl_parse_a(const uint8_t *rdata, size_t len);
bool	dnsxl_parse_txt(const uint8_t *rdata, size_t len, int64_t *first,
	    int64_t *last);

#endif /* SLOWSPAM_DNSXL_H */
