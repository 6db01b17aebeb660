/*
 * session.c - the one record an ended tar-pit session leaves, as a log
 * line and as a JSON line for the event log.
 *
 *	session_log	"session client=... end=max_hold" to the log
 *	session_json	the same fields as one JSON object
 *
 * Fields (tarpitd(8), LOGGING): client address and port, connect and disconnect
 * time (UTC, ISO 8601, milliseconds), seconds held, HELO (escaped, cut),
 * HELO class, evidence, bytes sent, why it ended. Nothing else the
 * client said is ever written.
 *
 * The JSON line is written here, not with json-glib: it is made in the
 * event loop, into the caller's buffer, with no allocation. It follows
 * the schema slowspamctl writes with json-glib (docs/json.md), and
 * fuzz/fuzz_sessjson.c parses it with json-glib for any HELO bytes.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "helo.h"
#include "log.h"
#include "record.h"
#include "tarpit.h"

#define EVIDENCE_TEXT	128

void
session_log(const struct session_report *r)
{
	const struct smtp_session *s = r->s;
	char addr[ADDR_STRLEN], t0[RECORD_TIME_LEN], t1[RECORD_TIME_LEN];
	char ev[EVIDENCE_TEXT];
	struct log_event e;

	log_event_begin(&e, "session");
	log_event_str(&e, "client", addr_format(r->addr, addr));
	log_event_int(&e, "port", r->port);
	log_event_str(&e, "connect", record_format_time(r->connect, t0));
	log_event_str(&e, "disconnect", record_format_time(r->disconnect, t1));
	log_event_fmt(&e, "held", "%.3f",
	    (double)(r->disconnect - r->connect) / 1000.0);
	if (s->have_helo) {
		log_event_untrusted(&e, "helo", s->helo, s->helo_len, 0);
		log_event_str(&e, "helo_class", helo_class_name(s->helo_class));
	}
	record_evidence_format(s->evidence, ev, sizeof(ev));
	log_event_str(&e, "evidence", ev[0] != '\0' ? ev : "-");
	log_event_int(&e, "bytes_sent", s->bytes_sent);
	log_event_str(&e, "end", smtp_end_name(s->end));
	log_event_emit(&e, LOG_INFO);
}

/*
 * Append in[0..len) as a JSON string body by the rule for client bytes
 * (docs/json.md): a code point per byte, printable ASCII as itself (" and
 * \ escaped), any other byte as \u00XX; so the line stays ASCII. An
 * escape is never cut: one that does not fit ends the string before it.
 */
static size_t
json_string(const char *in, size_t len, char *out, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		char esc[7];
		size_t elen;

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			elen = 2;
		} else if (c < 0x20 || c >= 0x7f) {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			elen = 6;
		} else {
			esc[0] = (char)c;
			elen = 1;
		}
		if (n + elen >= size)
			break;
		memcpy(out + n, esc, elen);
		n += elen;
	}
	out[n] = '\0';
	return n;
}

size_t
session_json(const struct session_report *r, char *buf, size_t size)
{
	const struct smtp_session *s = r->s;
	char addr[ADDR_STRLEN], t0[RECORD_TIME_LEN], t1[RECORD_TIME_LEN];
	char helo[6 * SMTP_HELO_KEEP + 1], list[256];
	size_t n = 0;
	int len;

	/* Evidence as a JSON array of names. */
	list[0] = '\0';
	for (unsigned i = 0; record_evidence_name(i) != NULL; i++) {
		if ((s->evidence & (1u << i)) == 0)
			continue;
		g_strlcat(list, n++ == 0 ? "\"" : ",\"", sizeof(list));
		g_strlcat(list, record_evidence_name(i), sizeof(list));
		g_strlcat(list, "\"", sizeof(list));
	}
	if (s->have_helo)
		json_string(s->helo, s->helo_len, helo, sizeof(helo));
	len = g_snprintf(buf, size, "{\"client\":\"%s\",\"port\":%u,"
	    "\"connect\":\"%s\",\"disconnect\":\"%s\",\"held\":%.3f,"
	    "\"helo\":%s%s%s,\"helo_class\":%s%s%s,\"evidence\":[%s],"
	    "\"bytes_sent\":%u,\"end\":\"%s\"}",
	    addr_format(r->addr, addr), r->port,
	    record_format_time(r->connect, t0),
	    record_format_time(r->disconnect, t1),
	    (double)(r->disconnect - r->connect) / 1000.0,
	    s->have_helo ? "\"" : "", s->have_helo ? helo : "null",
	    s->have_helo ? "\"" : "",
	    s->have_helo ? "\"" : "",
	    s->have_helo ? helo_class_name(s->helo_class) : "null",
	    s->have_helo ? "\"" : "", list, s->bytes_sent,
	    smtp_end_name(s->end));
	if (len < 0 || (size_t)len >= size)
		return 0;
	return (size_t)len;
}
