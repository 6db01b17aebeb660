/*
 * helo.c - syntax classification of the HELO/EHLO argument.
 *
 * The tarpit reads the argument from hostile clients and the milter gets
 * it from Postfix; both only want to know what kind of thing it is. The
 * code is pure: no allocation, no DNS, no global state, and it reads only
 * arg[0..len), which need not be NUL-terminated and may hold any byte.
 *
 *	helo_classify		class, reason and flags of one argument
 *	helo_class_name		stable lower-case name of a class
 *	helo_reason_name	stable lower-case name of a reason
 *	helo_flags_format	comma-separated flag names into a buffer
 *
 * Rules, applied in this order (RFC 5321/1123, Postfix valid_hostname.c,
 * valid_hostaddr.c and smtpd_check.c); the first that matches decides:
 *
 *  1. Leading and trailing SP/HTAB are stripped (HELO_F_EXTRA_BLANKS).
 *     Nothing left (or len 0, arg may then be NULL): HELO_EMPTY.
 *  2. A NUL byte anywhere: HELO_INVALID/HELO_R_NUL. NUL beats length.
 *  3. Longer than HELO_NAME_MAX (measured after step 1, with any trailing
 *     dot or brackets; as Postfix, 255): HELO_TOO_LONG whatever the bytes.
 *  4. SP/HTAB inside: HELO_INVALID/HELO_R_SPACE. Other control bytes (CR,
 *     LF, ...) are plain bad characters in step 7.
 *  5. Starts with '[': an address literal. "[a.b.c.d]" is
 *     HELO_LITERAL_IPV4, "[IPv6:...]" (tag in any case) with an IPv6
 *     address addr_parse() accepts is HELO_LITERAL_IPV6; anything else,
 *     unterminated included, is HELO_INVALID/HELO_R_BAD_LITERAL.
 *  6. Otherwise a single trailing '.' is stripped (HELO_F_TRAILING_DOT)
 *     if it is not the whole argument and not part of "..", as Postfix
 *     dup_if_truncate() does; so "a.b.." and "." keep their empty label.
 *     Then a valid dotted quad is HELO_BARE_IPV4, and text with a ':'
 *     that addr_parse() accepts (at most 45 bytes) HELO_BARE_IPV6.
 *     Like Postfix, "192.0.2.1." is a bare address with a trailing dot.
 *  7. Otherwise a host name, reasons by priority: any byte outside
 *     letters, digits, '-', '_', '.' is HELO_R_BAD_CHAR (0x80-0xff, '/',
 *     ':', '@', '[', CR ...); then labels left to right, the first fault
 *     wins: empty (HELO_R_EMPTY_LABEL), over 63 bytes
 *     (HELO_R_LABEL_TOO_LONG), '-' first or last (HELO_R_HYPHEN_EDGE);
 *     then only digits and dots is HELO_R_ALL_NUMERIC (Postfix: every
 *     label numeric; "1.2.3.321", "12345", but "1.2.3.x" is a name).
 *     One label: HELO_SINGLE_LABEL, more: HELO_FQDN.
 *
 * Addresses are parsed by addr.c, so dotted quads are strict, as
 * inet_pton(AF_INET): four decimal octets 0-255, no leading zeros
 * ("01.2.3.4" is all_numeric bare and bad_literal in brackets; Postfix
 * would take it), "0.1.2.3" is valid.
 *
 * Flags: HELO_F_EXTRA_BLANKS with every class. Steps 2-4 look no further,
 * so HELO_R_NUL, HELO_R_SPACE and HELO_TOO_LONG carry no other flag. From
 * step 5 on: HELO_F_UPPERCASE for any 'A'-'Z' (in a literal, after the
 * "IPv6:" tag, so "[IPv6:2001:DB8::1]" has it and "[IPv6:::1]" has not);
 * HELO_F_UNDERSCORE for any '_' outside brackets; HELO_F_TRAILING_DOT as
 * in step 6 (names, bare addresses and invalid unbracketed text).
 * HELO_F_OURS only with HELO_FQDN, HELO_SINGLE_LABEL and the four address
 * classes: names compare case-insensitively ignoring one trailing dot on
 * either side, addresses compare as binary with ::ffff:a.b.c.d folded to
 * a.b.c.d on both sides. NULL, unparsable or over-long entries of ours are
 * ignored. The reason is HELO_R_NONE unless the class is HELO_INVALID.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "addr.h"
#include "helo.h"

/* The address literal tag of RFC 5321 section 4.1.3. */
#define HELO_V6_TAG		"IPv6:"
#define HELO_V6_TAG_LEN		5

static const char *const class_names[HELO_CLASS_COUNT] = {
	"empty", "fqdn", "single_label", "bare_ipv4", "bare_ipv6",
	"literal_ipv4", "literal_ipv6", "invalid", "too_long",
};

static const char *const reason_names[HELO_REASON_COUNT] = {
	"none", "bad_char", "empty_label", "label_too_long", "hyphen_edge",
	"all_numeric", "bad_literal", "nul", "space",
};

/* Names of the flag bits, lowest bit first. */
static const char *const flag_names[] = {
	"trailing_dot", "underscore", "uppercase", "ours", "extra_blanks",
};
#define HELO_FLAG_COUNT	(sizeof(flag_names) / sizeof(flag_names[0]))

/* Is c a SMTP blank (SP or HTAB)? */
static bool
is_blank(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* Is c an ASCII decimal digit? */
static bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* Is c an ASCII upper-case letter? */
static bool
is_upper(unsigned char c)
{
	return c >= 'A' && c <= 'Z';
}

/* Is c an ASCII letter? */
static bool
is_alpha(unsigned char c)
{
	return is_upper(c) || (c >= 'a' && c <= 'z');
}

/* ASCII lower case of c; other bytes unchanged. */
static unsigned char
to_lower(unsigned char c)
{
	return is_upper(c) ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Does s[0..len) hold an 'A'-'Z'? */
static bool
has_upper(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (is_upper((unsigned char)s[i]))
			return true;
	return false;
}

/*
 * An address in s[0..len) of the family its text says: IPv6 if it holds
 * a ':' (then possibly folded to IPv4), else a strict dotted quad.
 */
static bool
parse_addr(const char *s, size_t len, bool v6, struct addr *a)
{
	return (memchr(s, ':', len) != NULL) == v6 &&
	    addr_parse_len(s, len, a);
}

/* Is the address one of ours->addrs? */
static bool
ours_has_addr(const struct helo_ours *ours, const struct addr *a)
{
	struct addr o;
	size_t i;

	if (ours == NULL || ours->addrs == NULL)
		return false;
	for (i = 0; i < ours->naddrs; i++)
		if (addr_parse(ours->addrs[i], &o) && addr_equal(&o, a))
			return true;
	return false;
}

/* Is name[0..len) (trailing dot already gone) one of ours->names? */
static bool
ours_has_name(const struct helo_ours *ours, const char *name, size_t len)
{
	const char *o;
	size_t i, j, olen;

	if (ours == NULL || ours->names == NULL)
		return false;
	for (i = 0; i < ours->nnames; i++) {
		if ((o = ours->names[i]) == NULL)
			continue;
		olen = strnlen(o, HELO_NAME_MAX + 2);
		if (olen > 0 && o[olen - 1] == '.')
			olen--;
		if (olen != len)
			continue;
		for (j = 0; j < len; j++)
			if (to_lower((unsigned char)o[j]) !=
			    to_lower((unsigned char)name[j]))
				break;
		if (j == len)
			return true;
	}
	return false;
}

/* Check the labels of name[0..len); count them into *nlabels. */
static enum helo_reason
check_labels(const char *s, size_t len, size_t *nlabels)
{
	size_t i, start = 0, llen;

	*nlabels = 0;
	for (i = 0; i <= len; i++) {
		if (i < len && s[i] != '.')
			continue;
		llen = i - start;
		if (llen == 0)
			return HELO_R_EMPTY_LABEL;
		if (llen > HELO_LABEL_MAX)
			return HELO_R_LABEL_TOO_LONG;
		if (s[start] == '-' || s[i - 1] == '-')
			return HELO_R_HYPHEN_EDGE;
		(*nlabels)++;
		start = i + 1;
	}
	return HELO_R_NONE;
}

/* Classify a host name s[0..len) (step 7 of the rules above). */
static void
classify_name(const char *s, size_t len, const struct helo_ours *ours,
    struct helo_result *out)
{
	enum helo_reason reason;
	size_t i, nlabels;
	bool numeric = true;
	unsigned char c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '_' &&
		    c != '.') {
			out->class = HELO_INVALID;
			out->reason = HELO_R_BAD_CHAR;
			return;
		}
		if (c != '.' && !is_digit(c))
			numeric = false;
	}
	if ((reason = check_labels(s, len, &nlabels)) != HELO_R_NONE) {
		out->class = HELO_INVALID;
		out->reason = reason;
		return;
	}
	if (numeric) {
		out->class = HELO_INVALID;
		out->reason = HELO_R_ALL_NUMERIC;
		return;
	}
	out->class = nlabels == 1 ? HELO_SINGLE_LABEL : HELO_FQDN;
	if (ours_has_name(ours, s, len))
		out->flags |= HELO_F_OURS;
}

/* Classify an unbracketed argument s[0..len) (steps 6 and 7). */
static void
classify_bare(const char *s, size_t len, const struct helo_ours *ours,
    struct helo_result *out)
{
	struct addr a;

	if (memchr(s, '_', len) != NULL)
		out->flags |= HELO_F_UNDERSCORE;
	if (has_upper(s, len))
		out->flags |= HELO_F_UPPERCASE;
	if (len > 1 && s[len - 1] == '.' && s[len - 2] != '.') {
		out->flags |= HELO_F_TRAILING_DOT;
		len--;
	}

	if (parse_addr(s, len, false, &a))
		out->class = HELO_BARE_IPV4;
	else if (parse_addr(s, len, true, &a))
		out->class = HELO_BARE_IPV6;
	else {
		classify_name(s, len, ours, out);
		return;
	}
	if (ours_has_addr(ours, &a))
		out->flags |= HELO_F_OURS;
}

/* Classify an argument s[0..len) that starts with '[' (step 5). */
static void
classify_literal(const char *s, size_t len, const struct helo_ours *ours,
    struct helo_result *out)
{
	struct addr a;
	const char *in = s + 1;
	size_t ilen = len - 1, i;
	bool closed, v6 = false;

	closed = len >= 2 && s[len - 1] == ']';
	if (closed)
		ilen--;
	if (ilen >= HELO_V6_TAG_LEN) {
		for (i = 0; i < HELO_V6_TAG_LEN; i++)
			if (to_lower((unsigned char)in[i]) !=
			    to_lower((unsigned char)HELO_V6_TAG[i]))
				break;
		if (i == HELO_V6_TAG_LEN) {
			in += HELO_V6_TAG_LEN;
			ilen -= HELO_V6_TAG_LEN;
			v6 = true;
		}
	}
	if (has_upper(in, ilen))
		out->flags |= HELO_F_UPPERCASE;

	out->class = HELO_INVALID;
	out->reason = HELO_R_BAD_LITERAL;
	if (!closed || !parse_addr(in, ilen, v6, &a))
		return;
	out->class = v6 ? HELO_LITERAL_IPV6 : HELO_LITERAL_IPV4;
	out->reason = HELO_R_NONE;
	if (ours_has_addr(ours, &a))
		out->flags |= HELO_F_OURS;
}

/* Classify the HELO/EHLO argument arg[0..len); see the rules above. */
void
helo_classify(const char *arg, size_t len, const struct helo_ours *ours,
    struct helo_result *out)
{
	const char *s = arg;
	size_t n = len, i;

	out->class = HELO_EMPTY;
	out->reason = HELO_R_NONE;
	out->flags = 0;
	if (s == NULL || n == 0)
		return;

	while (n > 0 && is_blank((unsigned char)s[0])) {
		s++;
		n--;
	}
	while (n > 0 && is_blank((unsigned char)s[n - 1]))
		n--;
	if (n != len)
		out->flags |= HELO_F_EXTRA_BLANKS;
	if (n == 0)
		return;

	if (memchr(s, '\0', n) != NULL) {
		out->class = HELO_INVALID;
		out->reason = HELO_R_NUL;
		return;
	}
	if (n > HELO_NAME_MAX) {
		out->class = HELO_TOO_LONG;
		return;
	}
	for (i = 0; i < n; i++) {
		if (is_blank((unsigned char)s[i])) {
			out->class = HELO_INVALID;
			out->reason = HELO_R_SPACE;
			return;
		}
	}

	if (s[0] == '[')
		classify_literal(s, n, ours, out);
	else
		classify_bare(s, n, ours, out);
}

/* Stable name of a class; "unknown" when out of range. */
const char *
helo_class_name(enum helo_class class)
{
	if ((unsigned)class >= HELO_CLASS_COUNT)
		return "unknown";
	return class_names[class];
}

/* Stable name of a reason; "unknown" when out of range. */
const char *
helo_reason_name(enum helo_reason reason)
{
	if ((unsigned)reason >= HELO_REASON_COUNT)
		return "unknown";
	return reason_names[reason];
}

/* Flag names, comma-separated, into buf[0..size); truncates like strlcpy. */
const char *
helo_flags_format(unsigned flags, char *buf, size_t size)
{
	const char *p;
	size_t i, used = 0;
	bool first = true;

	if (buf == NULL || size == 0)
		return buf;
	buf[0] = '\0';
	for (i = 0; i < HELO_FLAG_COUNT; i++) {
		if ((flags & (1u << i)) == 0)
			continue;
		p = first ? "" : ",";
		first = false;
		while (*p != '\0' && used + 1 < size)
			buf[used++] = *p++;
		p = flag_names[i];
		while (*p != '\0' && used + 1 < size)
			buf[used++] = *p++;
	}
	buf[used] = '\0';
	return buf;
}
