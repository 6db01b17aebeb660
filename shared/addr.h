/*
 * addr.h - IPv4/IPv6 addresses, network keys and CIDR lists.
 *
 * An IPv4-mapped IPv6 address (::ffff:192.0.2.1) is always folded to plain
 * IPv4, so one client has one identity however it reached us.
 */
#ifndef SLOWSPAM_ADDR_H
#define SLOWSPAM_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Room for any formatted address, NUL included (INET6_ADDRSTRLEN). */
#define ADDR_STRLEN	46
/* Room for a network key: an address, '/', up to three digits, NUL. */
#define ADDR_NETKEY_LEN	(ADDR_STRLEN + 4)

struct addr {
	int	family;		/* AF_INET or AF_INET6 */
	uint8_t	bytes[16];	/* network order; IPv4 uses bytes[0..3] */
};

struct addr_cidr {
	struct addr net;	/* host bits are zero */
	unsigned prefix;	/* 0..32 or 0..128 */
};

/* Parse IPv4 or IPv6 text (no brackets, no zone); folds mapped IPv4. */
bool	addr_parse(const char *text, struct addr *out);

/* Same, for text[0..len) that need not be NUL-terminated. */
bool	addr_parse_len(const char *text, size_t len, struct addr *out);

/* From a socket address; folds mapped IPv4. port may be NULL. */
bool	addr_from_sockaddr(const struct sockaddr *sa, socklen_t salen,
	    struct addr *out, uint16_t *port);

/* To a socket address with the given port; returns its length. */
socklen_t addr_to_sockaddr(const struct addr *a, uint16_t port,
	    struct sockaddr_storage *ss);

/* Canonical text (RFC 5952 for IPv6) into buf[ADDR_STRLEN]; returns buf. */
const char *addr_format(const struct addr *a, char *buf);

bool	addr_equal(const struct addr *a, const struct addr *b);
/* For hash tables keyed by (struct addr *): GHashFunc and GEqualFunc. */
unsigned addr_hash(const void *a);
int	addr_hash_equal(const void *a, const void *b);

/* Clear every bit after the first prefix bits. */
void	addr_mask(struct addr *a, unsigned prefix);

/*
 * The hit-store key of a's network: the masked address and the prefix
 * that applies to its family, "192.0.2.1/32" or "2001:db8:1:2::/64",
 * into buf[ADDR_NETKEY_LEN]; returns buf.
 */
const char *addr_netkey(const struct addr *a, unsigned v4prefix,
	    unsigned v6prefix, char *buf);

/*
 * Parse "ADDR/PREFIX" or a bare address (a host route). Host bits set
 * beyond the prefix are an error. On error returns false and sets *why
 * to a static reason, if why is not NULL.
 */
bool	addr_cidr_parse(const char *text, struct addr_cidr *out,
	    const char **why);

bool	addr_cidr_match(const struct addr_cidr *cidr, const struct addr *a);

/* Does any of list[0..n) contain a? */
bool	addr_cidr_list_match(const struct addr_cidr *list, size_t n,
	    const struct addr *a);

/* "192.0.2.0/24" into buf[ADDR_NETKEY_LEN]; returns buf. */
const char *addr_cidr_format(const struct addr_cidr *cidr, char *buf);

/*
 * Parse "ADDR:PORT" with IPv6 in brackets ("[::1]:25", "127.0.0.1:2525").
 * Port 1..65535. On error returns false and sets *why, as above.
 */
bool	addr_hostport_parse(const char *text, struct addr *a, uint16_t *port,
	    const char **why);

#endif /* SLOWSPAM_ADDR_H */
