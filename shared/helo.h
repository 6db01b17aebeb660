/*
 * helo.h - syntax classification of the HELO/EHLO argument.
 *
 * Pure and allocation-free: no DNS, no policy. Callers combine the class,
 * reason and flags into their own decisions.
 */
#ifndef SLOWSPAM_HELO_H
#define SLOWSPAM_HELO_H

#include <stddef.h>

/* Longest HELO argument that can be a valid host name (RFC 1035, Postfix). */
#define HELO_NAME_MAX	255
/* Longest DNS label (RFC 1035). */
#define HELO_LABEL_MAX	63

/*
 * The class of a HELO argument. The numbers are stored in the hit store:
 * never renumber, only append.
 */
enum helo_class {
	HELO_EMPTY = 0,		/* nothing, or only blanks */
	HELO_FQDN = 1,		/* valid host name with two or more labels */
	HELO_SINGLE_LABEL = 2,	/* valid label without a dot: "localhost" */
	HELO_BARE_IPV4 = 3,	/* 192.0.2.1, not bracketed */
	HELO_BARE_IPV6 = 4,	/* 2001:db8::1, not bracketed */
	HELO_LITERAL_IPV4 = 5,	/* [192.0.2.1] */
	HELO_LITERAL_IPV6 = 6,	/* [IPv6:2001:db8::1] */
	HELO_INVALID = 7,	/* see the reason */
	HELO_TOO_LONG = 8,	/* longer than HELO_NAME_MAX */
};
#define HELO_CLASS_COUNT 9

/* Why a HELO is HELO_INVALID (HELO_R_NONE otherwise). Append only. */
enum helo_reason {
	HELO_R_NONE = 0,
	HELO_R_BAD_CHAR,	/* a byte outside letters, digits, '-', '_', '.' */
	HELO_R_EMPTY_LABEL,	/* "a..b", ".a", or a lone "." */
	HELO_R_LABEL_TOO_LONG,	/* a label over HELO_LABEL_MAX */
	HELO_R_HYPHEN_EDGE,	/* a label starts or ends with '-' */
	HELO_R_ALL_NUMERIC,	/* numeric but not an address: "1.2.3.321" */
	HELO_R_BAD_LITERAL,	/* [..] that is not a valid address literal */
	HELO_R_NUL,		/* a NUL byte */
	HELO_R_SPACE,		/* blanks inside the argument */
};
#define HELO_REASON_COUNT 9

/* Flags: facts worth recording even when the class is acceptable. */
#define HELO_F_TRAILING_DOT	(1u << 0) /* "host.example." (stripped) */
#define HELO_F_UNDERSCORE	(1u << 1) /* '_' in a label (tolerated) */
#define HELO_F_UPPERCASE	(1u << 2) /* any upper-case letter */
#define HELO_F_OURS		(1u << 3) /* claims to be one of our names/addrs */
#define HELO_F_EXTRA_BLANKS	(1u << 4) /* leading or trailing blanks */

/* What "us" means for HELO_F_OURS; any field may be empty. */
struct helo_ours {
	const char *const *names;	/* host names; any case, trailing dot ok */
	size_t nnames;
	const char *const *addrs;	/* IPv4 or IPv6 addresses, as text */
	size_t naddrs;
};

struct helo_result {
	enum helo_class class;
	enum helo_reason reason;
	unsigned flags;
};

/*
 * Classify the HELO/EHLO argument arg[0..len) (the verb and CRLF already
 * removed; need not be NUL-terminated; may hold any byte). ours may be NULL.
 * arg may be NULL when len is 0. The rules and their order are described
 * at the top of helo.c.
 */
void	helo_classify(const char *arg, size_t len, const struct helo_ours *ours,
	    struct helo_result *out);

/* Stable lower-case names: "fqdn", "bare_ipv4", "bad_char", ... */
const char *helo_class_name(enum helo_class class);
const char *helo_reason_name(enum helo_reason reason);

/*
 * Write the set flags as a comma-separated list ("trailing_dot,ours"),
 * or "" for none, into buf; returns buf. Always NUL-terminates.
 * (Unknown bits are ignored; output is cut like strlcpy when it does not
 * fit; with size 0 nothing is written.)
 */
const char *helo_flags_format(unsigned flags, char *buf, size_t size);

#endif /* SLOWSPAM_HELO_H */
