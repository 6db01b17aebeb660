/*
 * proto.h - the Postfix SMTP access policy delegation protocol, pure:
 * an incremental request parser and the reply formatter.
 *
 * A request (docs: Postfix SMTPD_POLICY_README) is lines "name=value"
 * ended by LF (an optional CR before it is dropped), then an empty
 * line. The reply is "action=TEXT", LF, an empty line.
 */
#ifndef SLOWSPAM_POLICY_PROTO_H
#define SLOWSPAM_POLICY_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/*
 * Longest attribute line, "name=value" without its LF or CRLF: Postfix's
 * line_length_limit (2048), which bounds the SMTP commands the values
 * come from.
 */
#define POLICY_LINE_MAX		2048
/* Most attribute lines in one request (Postfix 3.x sends about 35). */
#define POLICY_ATTRS_MAX	128
/* Longest name compared against the kept ones; longer is unknown. */
#define POLICY_NAME_MAX		32

/* The attributes whose values are kept; the order of the fields below. */
enum policy_attr {
	POLICY_REQUEST,
	POLICY_PROTOCOL_STATE,
	POLICY_PROTOCOL_NAME,
	POLICY_CLIENT_ADDRESS,
	POLICY_CLIENT_PORT,
	POLICY_CLIENT_NAME,
	POLICY_REVERSE_CLIENT_NAME,
	POLICY_HELO_NAME,
	POLICY_SENDER,
	POLICY_RECIPIENT,
	POLICY_RECIPIENT_COUNT,
	POLICY_QUEUE_ID,
	POLICY_SASL_USERNAME,
	POLICY_SASL_METHOD,
	POLICY_INSTANCE,
	POLICY_SIZE,
	POLICY_SERVER_ADDRESS,
	POLICY_SERVER_PORT,
};
#define POLICY_NATTR	18

/*
 * One request. Each kept value is NUL-terminated in its own buffer, len
 * bytes long (it holds no NUL: a NUL is an error). A value longer than
 * its buffer is refused, not truncated: its bit is set in toolong, the
 * buffer is left empty and the request still completes, so the verdict
 * sees "given, unknown" instead of a prefix that could match a rule
 * (and a legitimately long address does not cost Postfix's connection).
 * Attributes not given are empty, their bits clear in given.
 */
struct policy_request {
	uint32_t given;			/* 1u << attr: the line came */
	uint32_t toolong;		/* ...and its value did not fit */
	uint16_t len[POLICY_NATTR];	/* strlen() of each value */
	unsigned nlines;		/* attribute lines, unknown too */
	char	request[32];		/* "smtpd_access_policy" */
	char	protocol_state[32];	/* "RCPT", "END-OF-MESSAGE" */
	char	protocol_name[16];	/* "SMTP", "ESMTP" */
	char	client_address[64];	/* IPv4 or IPv6, no brackets */
	char	client_port[8];
	char	client_name[256];	/* "unknown" when not verified */
	char	reverse_client_name[256];
	char	helo_name[256];		/* host names are <= 255 */
	char	sender[512];		/* "" for the null sender */
	char	recipient[512];
	char	recipient_count[16];
	char	queue_id[32];
	char	sasl_username[256];
	char	sasl_method[32];
	char	instance[64];
	char	size[24];
	char	server_address[64];
	char	server_port[8];
};

/* What feeding bytes to a parser gave. */
enum policy_status {
	POLICY_MORE,		/* all bytes taken, the request goes on */
	POLICY_DONE,		/* a whole request; the rest is not taken */
	POLICY_ERROR,		/* malformed: close the connection */
};

/*
 * Parser state: fixed size, no allocation, no pointer into the input,
 * so any split of the byte stream gives the same result. sizeof is
 * about 2.5 KB (the request's buffers), one per open Postfix connection.
 */
struct policy_parser {
	struct policy_request req;
	int	state;			/* proto.c's enum */
	int	attr;			/* kept one being read, or -1 */
	bool	cr;			/* a CR, maybe ending the line */
	size_t	line_len;		/* bytes of this line so far */
	/* The name so far: its length may exceed what name[] keeps. */
	size_t	name_len;
	char	name[POLICY_NAME_MAX + 1];
	const char *why;		/* static reason, after POLICY_ERROR */
};

/* An empty parser: before the first request and after each. */
void	policy_parser_reset(struct policy_parser *p);

/*
 * Feed buf[0..len). Sets *used to the bytes taken: all of them for
 * POLICY_MORE; up to and including the empty line's LF for POLICY_DONE
 * (p->req is the request until the next reset; reset and feed the rest,
 * buf + *used, which may hold the next request); up to and including the
 * offending byte for POLICY_ERROR. An error stays (0 bytes taken, error
 * again) until a reset; its reason is policy_parser_why(). Feeding a
 * parser that is done, without a reset, is a programming error.
 *
 * Errors, each of which the caller answers by closing the connection
 * (Postfix then retries once on a new one; no reply can be trusted to
 * go with the right request after a framing error):
 *	"line too long"			over POLICY_LINE_MAX
 *	"too many attributes"		over POLICY_ATTRS_MAX lines
 *	"NUL byte"			in a name or value
 *	"bad attribute name"		a byte not in [a-z0-9_], a bare CR
 *	"empty attribute name"		a line "=..."
 *	"missing '='"			a line "name"
 *	"duplicate attribute"		a kept attribute twice: refused,
 *					as readers disagree on which one
 *					counts (Postfix's attr_scan keeps
 *					the first, a Perl hash the last)
 * Unknown attributes are skipped but must still be well formed. A CR is
 * taken as a value byte unless a LF follows it.
 */
enum policy_status policy_parse(struct policy_parser *p, const char *buf,
	    size_t len, size_t *used);

/*
 * No byte of a request yet (a reset parser, or one fed nothing since):
 * an end of input here is a clean close, anywhere else a cut request.
 */
bool	policy_parser_idle(const struct policy_parser *p);

/* Why the last policy_parse() said POLICY_ERROR, or NULL. */
const char *policy_parser_why(const struct policy_parser *p);

/* The name Postfix gives an attribute ("client_address"). */
const char *policy_attr_name(enum policy_attr a);

/* A kept value: NULL if it was not given or too long for its buffer. */
const char *policy_value(const struct policy_request *r, enum policy_attr a);

/*
 * "action=TEXT\n\n" into buf[0..size), NUL-terminated; its length without
 * the NUL, or 0 when text[0..len) is empty, holds CR, LF or NUL, or does
 * not fit.
 */
size_t	policy_reply(char *buf, size_t size, const char *text,
	    size_t len);

#endif /* SLOWSPAM_POLICY_PROTO_H */
