/*
 * fuzz_policy.c - the Postfix policy request parser (policyd/proto.c)
 * on any bytes, and its reply formatter.
 *
 * The input is one connection's byte stream. Three parsers read it in
 * step: whole, in chunks of 1 to 32 bytes whose sizes come from the
 * input's own bytes (read from its end, some preceded by an empty
 * feed), and one byte at a time; each is reset after a request and fed
 * the rest of its read, as the daemon will. They must agree on every
 * request (byte for byte), on where it ended, and on the error and the
 * byte it was found at.
 *
 * Properties: every value is NUL-terminated within its buffer, holds no
 * NUL, and the buffer is zero past it; an attribute too long or not
 * given is empty. A request, read again line by line: an empty line
 * ends it and no earlier line is empty; every line is name=value of at
 * most POLICY_LINE_MAX bytes with a name of [a-z0-9_]; no more than
 * POLICY_ATTRS_MAX lines; each kept attribute given once, its value the
 * line's (too long exactly when it does not fit). An error is what its
 * offending byte says it is. A reply is "action=TEXT\n\n" exactly when
 * TEXT is not empty, fits, and has no CR, LF or NUL.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "proto.h"

/* The kept attributes' buffers, as proto.h lays them out. */
#define FIELD(f)	{ offsetof(struct policy_request, f), \
	    sizeof(((struct policy_request *)0)->f) }
static const struct {
	size_t	off, size;
} fields[POLICY_NATTR] = {
	FIELD(request), FIELD(protocol_state), FIELD(protocol_name),
	FIELD(client_address), FIELD(client_port), FIELD(client_name),
	FIELD(reverse_client_name), FIELD(helo_name), FIELD(sender),
	FIELD(recipient), FIELD(recipient_count), FIELD(queue_id),
	FIELD(sasl_username), FIELD(sasl_method), FIELD(instance),
	FIELD(size), FIELD(server_address), FIELD(server_port),
};

enum mode { WHOLE, CHUNKS, BYTES };

/* One way of feeding the input to a parser. */
struct feeder {
	struct policy_parser p;
	const uint8_t *data;
	size_t	size;
	size_t	pos;		/* bytes taken */
	size_t	end;		/* of the current read */
	size_t	reads;
	enum mode mode;
};

/* The size of the next read. */
static size_t
next_read(struct feeder *f)
{
	size_t left = f->size - f->pos, n;
	uint8_t b;

	switch (f->mode) {
	case WHOLE:
		return left;
	case BYTES:
		return 1;
	default:
		b = f->data[f->size - 1 - f->reads % f->size];
		n = 1 + b % 32;
		if ((b & 0x80) != 0) {
			size_t used;

			FUZZ_CHECK(policy_parse(&f->p, (const char *)f->data +
			    f->pos, 0, &used) != POLICY_DONE && used == 0);
		}
		return n < left ? n : left;
	}
}

/* Feed until a request, an error or the end of the input (POLICY_MORE). */
static enum policy_status
next_event(struct feeder *f)
{
	for (;;) {
		enum policy_status st;
		size_t used;

		if (f->pos == f->end) {
			if (f->end == f->size)
				return POLICY_MORE;
			f->end = f->pos + next_read(f);
			f->reads++;
		}
		st = policy_parse(&f->p, (const char *)f->data + f->pos,
		    f->end - f->pos, &used);
		FUZZ_CHECK(used <= f->end - f->pos);
		f->pos += used;
		if (st != POLICY_MORE) {
			FUZZ_CHECK(used > 0);
			return st;
		}
		FUZZ_CHECK(f->pos == f->end);
	}
}

static bool
all_zero(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != '\0')
			return false;
	return true;
}

/* Bounds and terminators of a request, done or not. */
static void
check_bounds(const struct policy_request *r)
{
	const uint32_t all = (1u << POLICY_NATTR) - 1;

	FUZZ_CHECK(r->nlines <= POLICY_ATTRS_MAX);
	FUZZ_CHECK((r->given & ~all) == 0);
	FUZZ_CHECK((r->toolong & ~r->given) == 0);
	for (int a = 0; a < POLICY_NATTR; a++) {
		const char *v = (const char *)r + fields[a].off;
		uint32_t bit = 1u << a;
		size_t len = r->len[a];

		FUZZ_CHECK(len < fields[a].size);
		FUZZ_CHECK(memchr(v, '\0', len) == NULL);
		FUZZ_CHECK(all_zero(v + len, fields[a].size - len));
		if ((r->given & bit) == 0 || (r->toolong & bit) != 0) {
			FUZZ_CHECK(len == 0);
			FUZZ_CHECK(policy_value(r, a) == NULL);
		} else {
			FUZZ_CHECK(policy_value(r, a) == v);
		}
	}
}

static bool
name_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* The kept attribute named s[0..n), or -1. */
static int
kept(const uint8_t *s, size_t n)
{
	for (int a = 0; a < POLICY_NATTR; a++) {
		const char *name = policy_attr_name(a);

		if (strlen(name) == n && memcmp(name, s, n) == 0)
			return a;
	}
	return -1;
}

/* A whole request, s[0..n), read again line by line. */
static void
check_done(const uint8_t *s, size_t n, const struct policy_request *r)
{
	uint32_t seen = 0;
	unsigned lines = 0;
	size_t start = 0;

	FUZZ_CHECK(n > 0 && s[n - 1] == '\n');
	for (;;) {
		const uint8_t *nl = memchr(s + start, '\n', n - start);
		const uint8_t *eq;
		size_t len, i;
		int a;

		FUZZ_CHECK(nl != NULL);
		len = (size_t)(nl - (s + start));
		if (len > 0 && s[start + len - 1] == '\r')
			len--;
		if (len == 0) {
			/* The empty line ends it, and only the last one. */
			FUZZ_CHECK((size_t)(nl - s) + 1 == n);
			break;
		}
		lines++;
		FUZZ_CHECK(len <= POLICY_LINE_MAX);
		FUZZ_CHECK(memchr(s + start, '\0', len) == NULL);
		eq = memchr(s + start, '=', len);
		FUZZ_CHECK(eq != NULL && eq > s + start);
		for (i = start; s + i < eq; i++)
			FUZZ_CHECK(name_char(s[i]));
		if ((a = kept(s + start, i - start)) >= 0) {
			const char *v = (const char *)r + fields[a].off;
			size_t vlen = len - (i - start) - 1;

			FUZZ_CHECK((seen & 1u << a) == 0);
			seen |= 1u << a;
			if (vlen >= fields[a].size) {
				FUZZ_CHECK((r->toolong & 1u << a) != 0);
			} else {
				FUZZ_CHECK((r->toolong & 1u << a) == 0);
				FUZZ_CHECK(r->len[a] == vlen &&
				    memcmp(v, eq + 1, vlen) == 0);
			}
		}
		start = (size_t)(nl - s) + 1;
	}
	FUZZ_CHECK(seen == r->given);
	FUZZ_CHECK(lines == r->nlines && lines <= POLICY_ATTRS_MAX);
}

/* An error found at s[n - 1], the last byte of s[0..n). */
static void
check_error(const uint8_t *s, size_t n, const char *why)
{
	size_t line = n - 1, lfs = 0;
	uint8_t b = s[n - 1];
	bool after_cr = n >= 2 && s[n - 2] == '\r';
	const uint8_t *eq;
	int a;

	FUZZ_CHECK(why != NULL);
	while (line > 0 && s[line - 1] != '\n')
		line--;
	for (size_t i = 0; i + 1 < n; i++)
		lfs += s[i] == '\n';
	eq = memchr(s + line, '=', n - 1 - line);
	if (strcmp(why, "NUL byte") == 0) {
		FUZZ_CHECK(b == '\0');
	} else if (strcmp(why, "line too long") == 0) {
		FUZZ_CHECK(n - line == POLICY_LINE_MAX + 1 ||
		    (after_cr && n - 1 - line == POLICY_LINE_MAX + 1));
	} else if (strcmp(why, "too many attributes") == 0) {
		FUZZ_CHECK(line == n - 1 && lfs == POLICY_ATTRS_MAX);
	} else if (strcmp(why, "bad attribute name") == 0) {
		FUZZ_CHECK(eq == NULL);
		FUZZ_CHECK(after_cr || (!name_char(b) && b != '=' &&
		    b != '\n' && b != '\r' && b != '\0'));
	} else if (strcmp(why, "empty attribute name") == 0) {
		FUZZ_CHECK(b == '=' && line == n - 1);
	} else if (strcmp(why, "missing '='") == 0) {
		FUZZ_CHECK(b == '\n' && eq == NULL && line < n - 1 &&
		    !(after_cr && line == n - 2));
	} else if (strcmp(why, "duplicate attribute") == 0) {
		FUZZ_CHECK(b == '=' && eq == NULL);
		a = kept(s + line, n - 1 - line);
		FUZZ_CHECK(a >= 0);
		/* The same name at the start of an earlier line. */
		{
			const char *name = policy_attr_name(a);
			size_t len = strlen(name);
			bool found = false;

			for (size_t i = 0; i + len < line && !found; i++)
				found = (i == 0 || s[i - 1] == '\n') &&
				    memcmp(s + i, name, len) == 0 &&
				    s[i + len] == '=';
			FUZZ_CHECK(found);
		}
	} else {
		FUZZ_CHECK(!"an error not in proto.h");
	}
}

static void
check_reply(const uint8_t *data, size_t size)
{
	char buf[512];
	size_t len = size < 600 ? size : 600;
	size_t bufsize = size > 0 ? 1 + (size_t)data[0] * 2 : 0, n;
	bool ok = len > 0 && len + 10 <= bufsize &&
	    memchr(data, '\r', len) == NULL &&
	    memchr(data, '\n', len) == NULL &&
	    memchr(data, '\0', len) == NULL;

	n = policy_reply(buf, bufsize, (const char *)data, len);
	FUZZ_CHECK((n != 0) == ok);
	if (n != 0) {
		FUZZ_CHECK(n == len + 9 && buf[n] == '\0');
		FUZZ_CHECK(memcmp(buf, "action=", 7) == 0);
		FUZZ_CHECK(memcmp(buf + 7, data, len) == 0);
		FUZZ_CHECK(memcmp(buf + n - 2, "\n\n", 2) == 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct feeder f[3];
	size_t start = 0;

	for (int i = 0; i < 3; i++) {
		policy_parser_reset(&f[i].p);
		f[i].data = data;
		f[i].size = size;
		f[i].pos = f[i].end = f[i].reads = 0;
		f[i].mode = (enum mode)i;
	}
	for (;;) {
		enum policy_status st = next_event(&f[0]);

		for (int i = 1; i < 3; i++) {
			FUZZ_CHECK(next_event(&f[i]) == st);
			FUZZ_CHECK(f[i].pos == f[0].pos);
			FUZZ_CHECK(memcmp(&f[i].p.req, &f[0].p.req,
			    sizeof(f[0].p.req)) == 0);
			FUZZ_CHECK(policy_parser_why(&f[i].p) ==
			    policy_parser_why(&f[0].p));
		}
		check_bounds(&f[0].p.req);
		if (st == POLICY_MORE) {
			FUZZ_CHECK(f[0].pos == size);
			FUZZ_CHECK(policy_parser_why(&f[0].p) == NULL);
			break;
		}
		if (st == POLICY_ERROR) {
			size_t used;

			check_error(data + start, f[0].pos - start,
			    policy_parser_why(&f[0].p));
			FUZZ_CHECK(policy_parse(&f[0].p, "x", 1, &used) ==
			    POLICY_ERROR && used == 0);
			break;
		}
		FUZZ_CHECK(policy_parser_why(&f[0].p) == NULL);
		check_done(data + start, f[0].pos - start, &f[0].p.req);
		start = f[0].pos;
		for (int i = 0; i < 3; i++)
			policy_parser_reset(&f[i].p);
	}
	check_reply(data, size);
	return 0;
}
