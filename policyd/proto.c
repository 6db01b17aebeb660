/*
 * proto.c - the Postfix SMTP access policy delegation protocol: requests
 * in, replies out.
 *
 *	policy_parser_reset	an empty parser
 *	policy_parse		feed bytes: more, a request, or an error
 *	policy_parser_idle	no byte of a request yet?
 *	policy_parser_why	the reason for the last error
 *	policy_attr_name	an attribute's name in the protocol
 *	policy_value		a kept value, or NULL
 *	policy_reply		"action=TEXT\n\n" into a caller's buffer
 *
 * The parser is a state machine fed one byte at a time: it keeps no
 * pointer into the caller's buffer and never looks back, so a request
 * split anywhere across reads parses as it does whole, and its memory is
 * the fixed struct policy_parser. Every byte is either checked and
 * dropped (names, unknown attributes' values) or copied once into the
 * bounded buffer of a kept attribute. Lines are limited as they arrive,
 * so no input makes the parser wait for more than POLICY_LINE_MAX bytes
 * of one line or POLICY_ATTRS_MAX lines of one request.
 *
 * Pure: no allocation, no I/O, so fuzz_policy can run it on any bytes.
 *
 * Diagnostics: policy_parse() says POLICY_ERROR and policy_parser_why()
 * gives one of the static reasons listed in proto.h.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <assert.h>
#include <stddef.h>
#include <string.h>

#include "proto.h"

enum {
	S_START,		/* at the start of a line */
	S_NAME,			/* in a name, before '=' */
	S_VALUE,		/* after '=' */
	S_DONE,			/* the empty line came */
	S_ERROR,		/* see why */
};

static const char why_long[] = "line too long";
static const char why_many[] = "too many attributes";
static const char why_nul[] = "NUL byte";
static const char why_name[] = "bad attribute name";
static const char why_empty[] = "empty attribute name";
static const char why_noeq[] = "missing '='";
static const char why_dup[] = "duplicate attribute";

#define FIELD_SIZE(f)	sizeof(((struct policy_request *)0)->f)
#define KEPT(f)		{ #f, offsetof(struct policy_request, f), \
	    FIELD_SIZE(f) }

/* The kept attributes, in the order of enum policy_attr. */
static const struct kept {
	const char *name;
	size_t	off;
	size_t	size;
} kept[POLICY_NATTR] = {
	KEPT(request),
	KEPT(protocol_state),
	KEPT(protocol_name),
	KEPT(client_address),
	KEPT(client_port),
	KEPT(client_name),
	KEPT(reverse_client_name),
	KEPT(helo_name),
	KEPT(sender),
	KEPT(recipient),
	KEPT(recipient_count),
	KEPT(queue_id),
	KEPT(sasl_username),
	KEPT(sasl_method),
	KEPT(instance),
	KEPT(size),
	KEPT(server_address),
	KEPT(server_port),
};

_Static_assert(POLICY_NATTR <= 32, "given and toolong are 32-bit masks");
_Static_assert(POLICY_SERVER_PORT + 1 == POLICY_NATTR, "POLICY_NATTR");
_Static_assert(POLICY_LINE_MAX < UINT16_MAX, "len[] is 16 bits");

/* The buffer of a kept attribute. */
static char *
value_buf(struct policy_request *r, int a)
{
	return (char *)r + kept[a].off;
}

void
policy_parser_reset(struct policy_parser *p)
{
	/* All zero, so each value is NUL-terminated however far it grows. */
	memset(p, 0, sizeof(*p));
	p->state = S_START;
	p->attr = -1;
}

static enum policy_status
fail(struct policy_parser *p, const char *why)
{
	p->state = S_ERROR;
	p->why = why;
	return POLICY_ERROR;
}

/* Count one more byte of the line; false if that makes it too long. */
static bool
line_byte(struct policy_parser *p)
{
	if (p->line_len == POLICY_LINE_MAX)
		return false;
	p->line_len++;
	return true;
}

/* Append c to the value being read, if it is kept and still fits. */
static void
keep(struct policy_parser *p, char c)
{
	struct policy_request *r = &p->req;
	uint32_t bit;
	char *v;

	if (p->attr < 0)
		return;
	bit = 1u << p->attr;
	if ((r->toolong & bit) != 0)
		return;
	v = value_buf(r, p->attr);
	if (r->len[p->attr] + 1u >= kept[p->attr].size) {
		/* Refused, not truncated: a prefix could match a rule. */
		r->toolong |= bit;
		r->len[p->attr] = 0;
		memset(v, 0, kept[p->attr].size);
		return;
	}
	v[r->len[p->attr]++] = c;
}

/* The kept attribute named p->name, or -1. */
static int
lookup(const struct policy_parser *p)
{
	if (p->name_len > POLICY_NAME_MAX)
		return -1;
	for (int a = 0; a < POLICY_NATTR; a++)
		if (strcmp(kept[a].name, p->name) == 0)
			return a;
	return -1;
}

/* A LF: the end of an attribute line, or of the request. */
static enum policy_status
end_line(struct policy_parser *p)
{
	switch (p->state) {
	case S_START:
		p->state = S_DONE;
		return POLICY_DONE;
	case S_NAME:
		return fail(p, why_noeq);
	default:
		p->state = S_START;
		p->attr = -1;
		return POLICY_MORE;
	}
}

static enum policy_status
name_byte(struct policy_parser *p, unsigned char c)
{
	int a;

	if (c == '\n')
		return fail(p, why_noeq);
	if (c == '\r') {
		p->cr = true;
		return POLICY_MORE;
	}
	if (c == '\0')
		return fail(p, why_nul);
	if (c != '=' && !(c >= 'a' && c <= 'z') && !(c >= '0' && c <= '9') &&
	    c != '_')
		return fail(p, why_name);
	if (!line_byte(p))
		return fail(p, why_long);
	if (c != '=') {
		if (p->name_len < POLICY_NAME_MAX)
			p->name[p->name_len] = (char)c;
		p->name_len++;
		return POLICY_MORE;
	}
	if (p->name_len == 0)
		return fail(p, why_empty);
	if ((a = lookup(p)) >= 0) {
		if ((p->req.given & (1u << a)) != 0)
			return fail(p, why_dup);
		p->req.given |= 1u << a;
	}
	p->attr = a;
	p->state = S_VALUE;
	return POLICY_MORE;
}

static enum policy_status
value_byte(struct policy_parser *p, unsigned char c)
{
	switch (c) {
	case '\n':
		return end_line(p);
	case '\r':
		p->cr = true;
		return POLICY_MORE;
	case '\0':
		return fail(p, why_nul);
	}
	if (!line_byte(p))
		return fail(p, why_long);
	keep(p, (char)c);
	return POLICY_MORE;
}

/* One byte of input. */
static enum policy_status
step(struct policy_parser *p, unsigned char c)
{
	if (p->cr) {
		/* The CR before: part of the line end, or of a value. */
		p->cr = false;
		if (c == '\n')
			return end_line(p);
		if (p->state != S_VALUE)
			return fail(p, why_name);
		if (!line_byte(p))
			return fail(p, why_long);
		keep(p, '\r');
	}
	switch (p->state) {
	case S_START:
		if (c == '\n')
			return end_line(p);
		if (c == '\r') {
			p->cr = true;
			return POLICY_MORE;
		}
		if (p->req.nlines == POLICY_ATTRS_MAX)
			return fail(p, why_many);
		p->req.nlines++;
		p->line_len = 0;
		p->name_len = 0;
		memset(p->name, 0, sizeof(p->name));
		p->state = S_NAME;
		return name_byte(p, c);
	case S_NAME:
		return name_byte(p, c);
	case S_VALUE:
		return value_byte(p, c);
	}
	assert(!"policy_parse: a parser done or failed");
	return POLICY_ERROR;
}

enum policy_status
policy_parse(struct policy_parser *p, const char *buf, size_t len,
    size_t *used)
{
	assert(p->state != S_DONE);
	*used = 0;
	if (p->state == S_ERROR)
		return POLICY_ERROR;
	for (size_t i = 0; i < len; i++) {
		enum policy_status st = step(p, (unsigned char)buf[i]);

		if (st != POLICY_MORE) {
			*used = i + 1;
			return st;
		}
	}
	*used = len;
	return POLICY_MORE;
}

bool
policy_parser_idle(const struct policy_parser *p)
{
	return p->state == S_START && !p->cr && p->req.nlines == 0;
}

const char *
policy_parser_why(const struct policy_parser *p)
{
	return p->state == S_ERROR ? p->why : NULL;
}

const char *
policy_attr_name(enum policy_attr a)
{
	assert((unsigned)a < POLICY_NATTR);
	return kept[a].name;
}

const char *
policy_value(const struct policy_request *r, enum policy_attr a)
{
	uint32_t bit;

	assert((unsigned)a < POLICY_NATTR);
	bit = 1u << a;
	if ((r->given & bit) == 0 || (r->toolong & bit) != 0)
		return NULL;
	return (const char *)r + kept[a].off;
}

size_t
policy_reply(char *buf, size_t size, const char *text, size_t len)
{
	static const char head[] = "action=";

	/* head, text, two LFs and a NUL: sizeof(head) counts the NUL. */
	if (len == 0 || size < sizeof(head) + 2 ||
	    len > size - sizeof(head) - 2)
		return 0;
	if (memchr(text, '\r', len) != NULL ||
	    memchr(text, '\n', len) != NULL ||
	    memchr(text, '\0', len) != NULL)
		return 0;
	memcpy(buf, head, sizeof(head) - 1);
	memcpy(buf + sizeof(head) - 1, text, len);
	memcpy(buf + sizeof(head) - 1 + len, "\n\n", 3);
	return sizeof(head) - 1 + len + 2;
}
