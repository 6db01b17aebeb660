/*
 * fuzz_sessjson.c - the tar pit's own JSON writer, session_json()
 * (tarpitd/session.c), against json-glib: for any session, and any HELO
 * bytes, the line is printable ASCII, json-glib parses it, every field
 * reads back as written (the HELO by the rule of docs/json.md: a byte
 * a code point), and slowspamctl's event-log reader counts it.
 *
 * Input: flags (bit 0 a HELO, bit 1 IPv6, bits 2-4 the end), evidence,
 * HELO class, port (2), bytes sent (4), hold in ms (4), address (16);
 * the rest is the HELO (cut to SMTP_HELO_KEEP, as smtp.c keeps it).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/socket.h>

#include <json-glib/json-glib.h>

#include "addr.h"
#include "fuzz.h"
#include "helo.h"
#include "jsonline.h"
#include "record.h"
#include "stats.h"
#include "tarpit.h"

#define HEADER		29
#define CONNECT_MS	INT64_C(1764000000000)	/* 2025-11-24 */

/* Is s[0..len) printable ASCII? */
static bool
printable(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

/* Read little-endian n bytes of p. */
static uint32_t
le(const uint8_t *p, size_t n)
{
	uint32_t v = 0;

	while (n-- > 0)
		v = v << 8 | p[n];
	return v;
}

/* Does obj's member name hold the string want? */
static bool
member_is(JsonObject *obj, const char *name, const char *want)
{
	JsonNode *n = json_object_get_member(obj, name);

	return n != NULL && JSON_NODE_HOLDS_VALUE(n) &&
	    json_node_get_value_type(n) == G_TYPE_STRING &&
	    strcmp(json_node_get_string(n), want) == 0;
}

/* The HELO member reads back as helo[0..len) (json-glib: to a NUL). */
static void
check_helo(JsonObject *obj, const struct smtp_session *s)
{
	JsonNode *n = json_object_get_member(obj, "helo");
	char back[SMTP_HELO_KEEP];
	const char *nul;
	size_t len, want;

	FUZZ_CHECK(n != NULL);
	if (!s->have_helo) {
		FUZZ_CHECK(JSON_NODE_HOLDS_NULL(n));
		return;
	}
	FUZZ_CHECK(JSON_NODE_HOLDS_VALUE(n) &&
	    json_node_get_value_type(n) == G_TYPE_STRING);
	FUZZ_CHECK(jsonline_bytes_decode(json_node_get_string(n), back,
	    sizeof(back), &len));
	/* json-glib's strings end at U+0000; the bytes before it count. */
	nul = memchr(s->helo, '\0', s->helo_len);
	want = nul != NULL ? (size_t)(nul - s->helo) : s->helo_len;
	FUZZ_CHECK(len == want && memcmp(back, s->helo, len) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[2048], addr_text[ADDR_STRLEN];
	char helo[SMTP_HELO_KEEP];
	struct smtp_session s;
	struct addr a;
	struct session_report r;
	g_autoptr(JsonParser) parser = NULL;
	JsonNode *root;
	JsonObject *obj;
	struct stats st;
	size_t n;

	if (size < HEADER)
		return 0;
	memset(&s, 0, sizeof(s));
	memset(&a, 0, sizeof(a));
	s.have_helo = data[0] & 1;
	a.family = data[0] & 2 ? AF_INET6 : AF_INET;
	s.end = (data[0] >> 2 & 7) % (SMTP_END_ERROR + 1);
	/* Bit 7 is no flag of ours: it must not show. */
	s.evidence = data[1];
	s.helo_class = data[2] % HELO_CLASS_COUNT;
	s.bytes_sent = le(data + 5, 4);
	memcpy(a.bytes, data + 13, a.family == AF_INET ? 4 : 16);
	s.helo_len = (uint8_t)MIN(size - HEADER, SMTP_HELO_KEEP);
	memcpy(helo, data + HEADER, s.helo_len);
	s.helo = s.have_helo ? helo : NULL;
	r = (struct session_report){ &a, (uint16_t)le(data + 3, 2),
	    CONNECT_MS, CONNECT_MS + le(data + 9, 4), &s };

	n = session_json(&r, line, sizeof(line));
	FUZZ_CHECK(n > 0 && n < sizeof(line) && line[n] == '\0');
	FUZZ_CHECK(printable(line, n));
	FUZZ_CHECK(jsonline_shape_ok(line, n));

	parser = json_parser_new_immutable();
	FUZZ_CHECK(json_parser_load_from_data(parser, line, (gssize)n, NULL));
	root = json_parser_get_root(parser);
	FUZZ_CHECK(root != NULL && JSON_NODE_HOLDS_OBJECT(root));
	obj = json_node_get_object(root);
	FUZZ_CHECK(member_is(obj, "client", addr_format(&a, addr_text)));
	FUZZ_CHECK(json_object_get_int_member(obj, "port") == r.port);
	FUZZ_CHECK(json_object_get_int_member(obj, "bytes_sent") ==
	    s.bytes_sent);
	FUZZ_CHECK(member_is(obj, "end", smtp_end_name(s.end)));
	check_helo(obj, &s);
	if (s.have_helo)
		FUZZ_CHECK(member_is(obj, "helo_class",
		    helo_class_name(s.helo_class)));

	/* The reader takes it whole: one session, its flags, its hold. */
	stats_init(&st, 0, 0);
	FUZZ_CHECK(stats_add_line(&st, line, n));
	FUZZ_CHECK(st.sessions == 1 && st.bad_lines == 0);
	FUZZ_CHECK(st.held_ms == (uint64_t)(r.disconnect - r.connect));
	for (unsigned i = 0; record_evidence_name(i) != NULL; i++)
		FUZZ_CHECK(st.evidence[i] == ((s.evidence >> i) & 1));
	FUZZ_CHECK(st.helo_classes[s.have_helo ? s.helo_class :
	    HELO_CLASS_COUNT] == 1);
	stats_clear(&st);
	return 0;
}
