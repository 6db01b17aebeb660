#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

/*
 * addr.c - IPv4/IPv6 addresses, network keys and CIDR lists.
 *
 * Every text parsed here may come from the network or a config file, so
 * parsing is strict: dotted quads are read by a hand-written digit loop
 * (exactly four octets 0..255, no leading zeros, nothing around them),
 * IPv6 goes to inet_pton(3) only after a length check, and nothing is
 * allocated. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) always folds
 * to AF_INET. Unused bytes of struct addr are zero, so memcmp() works.
 *
 *	addr_parse		text to address
 *	addr_parse_len		text[0..len) to address
 *	addr_from_sockaddr	sockaddr to address and port
 *	addr_to_sockaddr	address and port to sockaddr
 *	addr_format		address to canonical text
 *	addr_equal		same family and bytes
 *	addr_mask		clear the bits after a prefix
 *	addr_netkey		"ADDR/PREFIX" hit-store key of a's network
 *	addr_cidr_parse		"ADDR/PREFIX" or bare address to a CIDR
 *	addr_cidr_match		is an address inside a CIDR
 *	addr_cidr_list_match	is an address inside any CIDR of a list
 *	addr_cidr_format	CIDR to "ADDR/PREFIX"
 *	addr_hostport_parse	"A.B.C.D:PORT" or "[IPv6]:PORT"
 *
 * Diagnostics: the parsers return false and, where they take a why
 * argument, set it to one of these static strings:
 *	"not an IPv4 or IPv6 address"
 *	"bad prefix length"		(empty, sign, blank, non-digit, 01)
 *	"prefix length out of range"	(above 32 or 128)
 *	"IPv4-mapped prefix must be /96 or longer"
 *	"host bits set beyond the prefix"
 *	"empty address"
 *	"IPv6 address must be in brackets"
 *	"missing ']' after IPv6 address"
 *	"not an IPv6 address in brackets"
 *	"not an IPv4 address"
 *	"missing ':PORT' after address"
 *	"missing port number"
 *	"port is not a decimal number"	(sign, blank, non-digit, 025)
 *	"port out of range (1..65535)"
 */

#include <arpa/inet.h>
#include <netinet/in.h>

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"

/* Longest address text accepted (INET6_ADDRSTRLEN without the NUL). */
#define ADDR_TEXT_MAX	(ADDR_STRLEN - 1)

static const char why_addr[] = "not an IPv4 or IPv6 address";
static const char why_prefix_bad[] = "bad prefix length";
static const char why_prefix_range[] = "prefix length out of range";
static const char why_prefix_mapped[] =
    "IPv4-mapped prefix must be /96 or longer";
static const char why_hostbits[] = "host bits set beyond the prefix";
static const char why_empty[] = "empty address";
static const char why_v6_brackets[] = "IPv6 address must be in brackets";
static const char why_no_bracket[] = "missing ']' after IPv6 address";
static const char why_not_v6[] = "not an IPv6 address in brackets";
static const char why_not_v4[] = "not an IPv4 address";
static const char why_no_port[] = "missing ':PORT' after address";
static const char why_port_empty[] = "missing port number";
static const char why_port_bad[] = "port is not a decimal number";
static const char why_port_range[] = "port out of range (1..65535)";

static const uint8_t v4mapped_prefix[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

/* Set *why if the caller asked for it; returns false for tail calls. */
static bool
fail(const char **why, const char *reason)
{
	if (why != NULL)
		*why = reason;
	return false;
}

/* Number of address bits of a's family. */
static unsigned
family_bits(int family)
{
	return family == AF_INET ? 32 : 128;
}

/* Fold an IPv4-mapped IPv6 address in place to AF_INET. */
static void
fold_mapped(struct addr *a)
{
	uint8_t v4[4];

	if (a->family != AF_INET6 ||
	    memcmp(a->bytes, v4mapped_prefix, sizeof(v4mapped_prefix)) != 0)
		return;
	memcpy(v4, a->bytes + 12, sizeof(v4));
	memset(a, 0, sizeof(*a));
	a->family = AF_INET;
	memcpy(a->bytes, v4, sizeof(v4));
}

/*
 * Strict dotted quad: four decimal octets 0..255 without leading zeros
 * and nothing else, the same language as glibc's inet_pton(AF_INET).
 */
static bool
parse_ipv4(const char *s, uint8_t out[4])
{
	unsigned octet, val, ndigits;

	for (octet = 0; octet < 4; octet++) {
		if (octet > 0) {
			if (*s != '.')
				return false;
			s++;
		}
		val = 0;
		ndigits = 0;
		while (*s >= '0' && *s <= '9') {
			if (ndigits > 0 && val == 0)
				return false;	/* leading zero */
			val = val * 10 + (unsigned)(*s - '0');
			if (val > 255)
				return false;
			ndigits++;
			s++;
		}
		if (ndigits == 0)
			return false;
		out[octet] = (uint8_t)val;
	}
	return *s == '\0';
}

/* Parse a NUL-terminated text already known to be short enough. */
static bool
parse_text(const char *s, struct addr *out)
{
	struct addr a;

	memset(&a, 0, sizeof(a));
	if (strchr(s, ':') != NULL) {
		if (inet_pton(AF_INET6, s, a.bytes) != 1)
			return false;
		a.family = AF_INET6;
		fold_mapped(&a);
	} else {
		if (!parse_ipv4(s, a.bytes))
			return false;
		a.family = AF_INET;
	}
	*out = a;
	return true;
}

/* Parse IPv4 or IPv6 text (no brackets, no zone); folds mapped IPv4. */
bool
addr_parse(const char *text, struct addr *out)
{
	if (text == NULL)
		return false;
	return addr_parse_len(text, strnlen(text, ADDR_TEXT_MAX + 1), out);
}

/* Same, for text[0..len); an embedded NUL or len > 45 is an error. */
bool
addr_parse_len(const char *text, size_t len, struct addr *out)
{
	char buf[ADDR_TEXT_MAX + 1];

	if (text == NULL || len == 0 || len > ADDR_TEXT_MAX)
		return false;
	if (memchr(text, '\0', len) != NULL)
		return false;
	memcpy(buf, text, len);
	buf[len] = '\0';
	return parse_text(buf, out);
}

/* From a socket address; folds mapped IPv4. port may be NULL. */
bool
addr_from_sockaddr(const struct sockaddr *sa, socklen_t salen,
    struct addr *out, uint16_t *port)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct addr a;
	uint16_t p;

	if (sa == NULL || salen < sizeof(sa_family_t))
		return false;
	memset(&a, 0, sizeof(a));
	/* Copy out: the caller's buffer need not be aligned for the type. */
	switch (sa->sa_family) {
	case AF_INET:
		if (salen < sizeof(sin))
			return false;
		memcpy(&sin, sa, sizeof(sin));
		a.family = AF_INET;
		memcpy(a.bytes, &sin.sin_addr, 4);
		p = ntohs(sin.sin_port);
		break;
	case AF_INET6:
		if (salen < sizeof(sin6))
			return false;
		memcpy(&sin6, sa, sizeof(sin6));
		a.family = AF_INET6;
		memcpy(a.bytes, &sin6.sin6_addr, 16);
		p = ntohs(sin6.sin6_port);
		fold_mapped(&a);
		break;
	default:
		return false;
	}
	*out = a;
	if (port != NULL)
		*port = p;
	return true;
}

/* To a socket address with the given port; returns its length, 0 if bad. */
socklen_t
addr_to_sockaddr(const struct addr *a, uint16_t port,
    struct sockaddr_storage *ss)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	memset(ss, 0, sizeof(*ss));
	switch (a->family) {
	case AF_INET:
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons(port);
		memcpy(&sin.sin_addr, a->bytes, 4);
		memcpy(ss, &sin, sizeof(sin));
		return sizeof(sin);
	case AF_INET6:
		memset(&sin6, 0, sizeof(sin6));
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons(port);
		memcpy(&sin6.sin6_addr, a->bytes, 16);
		memcpy(ss, &sin6, sizeof(sin6));
		return sizeof(sin6);
	default:
		return 0;
	}
}

/* Decimal digits of n (no sign, no leading zero) at p; past them. */
static char *
put_decimal(char *p, unsigned n)
{
	char d[10];
	size_t k = 0;

	do
		d[k++] = (char)('0' + n % 10);
	while ((n /= 10) > 0);
	while (k > 0)
		*p++ = d[--k];
	return p;
}

/*
 * Canonical text into buf[ADDR_STRLEN]; "?" for an unknown family.
 * IPv4 by hand: the milter formats every client's network key, and
 * glibc's inet_ntop goes through sprintf for it (ten times the work).
 */
const char *
addr_format(const struct addr *a, char *buf)
{
	char *p = buf;

	if (a->family == AF_INET) {
		for (int i = 0; i < 4; i++) {
			if (i > 0)
				*p++ = '.';
			p = put_decimal(p, a->bytes[i]);
		}
		*p = '\0';
	} else if (a->family != AF_INET6 ||
	    inet_ntop(a->family, a->bytes, buf, ADDR_STRLEN) == NULL) {
		buf[0] = '?';
		buf[1] = '\0';
	}
	return buf;
}

/* Same family and the same address bytes. */
bool
addr_equal(const struct addr *a, const struct addr *b)
{
	if (a->family != b->family)
		return false;
	return memcmp(a->bytes, b->bytes,
	    a->family == AF_INET ? 4 : sizeof(a->bytes)) == 0;
}

/* A hash of a (struct addr *) agreeing with addr_equal: a GHashFunc. */
unsigned
addr_hash(const void *p)
{
	const struct addr *a = p;
	size_t n = a->family == AF_INET ? 4 : sizeof(a->bytes);
	unsigned h = (unsigned)a->family;

	for (size_t i = 0; i < n; i++)
		h = h * 31 + a->bytes[i];
	return h;
}

/* addr_equal for hash tables of (struct addr *): a GEqualFunc. */
int
addr_hash_equal(const void *a, const void *b)
{
	return addr_equal(a, b);
}

/* Clear every bit after the first prefix bits; no change past the end. */
void
addr_mask(struct addr *a, unsigned prefix)
{
	unsigned i, bits;

	assert(prefix <= 128);
	bits = family_bits(a->family);
	if (prefix >= bits)
		return;
	i = prefix / 8;
	if (prefix % 8 != 0) {
		a->bytes[i] &= (uint8_t)(0xff << (8 - prefix % 8));
		i++;
	}
	memset(a->bytes + i, 0, sizeof(a->bytes) - i);
}

/*
 * The hit-store key of a's network. A prefix longer than the family
 * allows is taken as the whole address, so the key always reads /32 or
 * /128 at most and fits ADDR_NETKEY_LEN.
 */
const char *
addr_netkey(const struct addr *a, unsigned v4prefix, unsigned v6prefix,
    char *buf)
{
	struct addr net;
	unsigned prefix, bits;
	char *p;

	net = *a;
	bits = family_bits(net.family);
	prefix = net.family == AF_INET ? v4prefix : v6prefix;
	if (prefix > bits)
		prefix = bits;
	addr_mask(&net, prefix);
	/* "%s/%u" without snprintf: it is on every connection's path. */
	p = buf + strlen(addr_format(&net, buf));
	*p++ = '/';
	*put_decimal(p, prefix) = '\0';
	return buf;
}

/*
 * The digits of a prefix length: 1..3 decimal digits, no sign, no blank,
 * no leading zero ("0" itself is fine). Returns why on error, else NULL.
 */
static const char *
parse_prefix(const char *s, unsigned bits, unsigned *out)
{
	unsigned val, ndigits;

	if (*s == '\0')
		return why_prefix_bad;
	val = 0;
	for (ndigits = 0; s[ndigits] != '\0'; ndigits++) {
		if (s[ndigits] < '0' || s[ndigits] > '9')
			return why_prefix_bad;
		if (ndigits > 0 && val == 0)
			return why_prefix_bad;
		if (ndigits >= 3)
			return why_prefix_range;
		val = val * 10 + (unsigned)(s[ndigits] - '0');
	}
	if (val > bits)
		return why_prefix_range;
	*out = val;
	return NULL;
}

/*
 * Parse "ADDR/PREFIX" or a bare address (a host route). An IPv4-mapped
 * network such as ::ffff:10.0.0.0/104 folds to 10.0.0.0/8 (prefix - 96),
 * like a mapped address does; a mapped prefix below /96 would also cover
 * non-mapped IPv6 space, so it is refused.
 */
bool
addr_cidr_parse(const char *text, struct addr_cidr *out, const char **why)
{
	struct addr_cidr c;
	struct addr masked;
	const char *slash, *err;
	size_t alen;
	bool v6text;
	unsigned prefix;

	if (text == NULL)
		return fail(why, why_addr);
	memset(&c, 0, sizeof(c));
	slash = strchr(text, '/');
	alen = slash != NULL ? (size_t)(slash - text) : strlen(text);
	if (!addr_parse_len(text, alen, &c.net))
		return fail(why, why_addr);
	v6text = memchr(text, ':', alen) != NULL;
	if (slash == NULL) {
		c.prefix = family_bits(c.net.family);
	} else if (v6text && c.net.family == AF_INET) {
		if ((err = parse_prefix(slash + 1, 128, &prefix)) != NULL)
			return fail(why, err);
		if (prefix < 96)
			return fail(why, why_prefix_mapped);
		c.prefix = prefix - 96;
	} else {
		err = parse_prefix(slash + 1, family_bits(c.net.family),
		    &prefix);
		if (err != NULL)
			return fail(why, err);
		c.prefix = prefix;
	}
	masked = c.net;
	addr_mask(&masked, c.prefix);
	if (!addr_equal(&masked, &c.net))
		return fail(why, why_hostbits);
	*out = c;
	return true;
}

/* Is a inside cidr? Families must agree. */
bool
addr_cidr_match(const struct addr_cidr *cidr, const struct addr *a)
{
	struct addr masked;

	if (cidr->net.family != a->family)
		return false;
	masked = *a;
	addr_mask(&masked, cidr->prefix);
	return addr_equal(&masked, &cidr->net);
}

/* Does any of list[0..n) contain a? */
bool
addr_cidr_list_match(const struct addr_cidr *list, size_t n,
    const struct addr *a)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (addr_cidr_match(&list[i], a))
			return true;
	return false;
}

/* "192.0.2.0/24" into buf[ADDR_NETKEY_LEN]; returns buf. */
const char *
addr_cidr_format(const struct addr_cidr *cidr, char *buf)
{
	char text[ADDR_STRLEN];

	snprintf(buf, ADDR_NETKEY_LEN, "%s/%u", addr_format(&cidr->net, text),
	    cidr->prefix);
	return buf;
}

/*
 * A port: 1..5 decimal digits, no sign, no blank, no leading zero,
 * value 1..65535. Returns why on error, else NULL.
 */
static const char *
parse_port(const char *s, uint16_t *out)
{
	unsigned long val;
	size_t ndigits;

	if (*s == '\0')
		return why_port_empty;
	val = 0;
	for (ndigits = 0; s[ndigits] != '\0'; ndigits++) {
		if (s[ndigits] < '0' || s[ndigits] > '9')
			return why_port_bad;
		if (ndigits > 0 && val == 0)
			return why_port_bad;
		if (ndigits >= 5)
			return why_port_range;
		val = val * 10 + (unsigned long)(s[ndigits] - '0');
	}
	if (val < 1 || val > 65535)
		return why_port_range;
	*out = (uint16_t)val;
	return NULL;
}

/* Parse "A.B.C.D:PORT" or "[IPv6]:PORT". */
bool
addr_hostport_parse(const char *text, struct addr *a, uint16_t *port,
    const char **why)
{
	struct addr ad;
	const char *end, *colon, *err;
	uint16_t p;

	if (text == NULL || *text == '\0')
		return fail(why, why_empty);
	if (*text == '[') {
		text++;
		if ((end = strchr(text, ']')) == NULL)
			return fail(why, why_no_bracket);
		if (memchr(text, ':', (size_t)(end - text)) == NULL ||
		    !addr_parse_len(text, (size_t)(end - text), &ad))
			return fail(why, why_not_v6);
		colon = end + 1;
		if (*colon != ':')
			return fail(why, why_no_port);
	} else {
		if ((colon = strchr(text, ':')) == NULL)
			return fail(why, why_no_port);
		if (strchr(colon + 1, ':') != NULL)
			return fail(why, why_v6_brackets);
		if (!addr_parse_len(text, (size_t)(colon - text), &ad))
			return fail(why, why_not_v4);
	}
	if ((err = parse_port(colon + 1, &p)) != NULL)
		return fail(why, err);
	*a = ad;
	*port = p;
	return true;
}
