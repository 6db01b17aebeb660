/*
 * jsonline.c - slowspamctl's JSON lines with json-glib: one rule for the
 * bytes a client sent, one time format, evidence as an array of names
 * (docs/json.md).
 *
 *	jsonline_add_bytes	client bytes: a code point per byte
 *	jsonline_bytes_decode	and back
 *	jsonline_add_text	operator text (a path) as valid UTF-8
 *	jsonline_add_time	ISO 8601 UTC with milliseconds, or null
 *	jsonline_add_decimal	a number with 2 or 3 decimals
 *	jsonline_add_evidence	the evidence flags as an array of names
 *	jsonline_print		the builder's value, one line
 *	jsonline_shape_ok	a line fit for the parser
 *
 * Three things json-glib's generator cannot do are done after it, in
 * jsonline_print(): its strings are C strings, so they cannot hold
 * U+0000; it writes U+001F unescaped (1.6.6 and the current source: it
 * tests < 0x1f), which no strict parser accepts; and it prints a double
 * with 17 digits (0.08 as 0.080000000000000002). So a NUL byte is built
 * as the noncharacter U+FDD0 and a decimal as a string behind U+FDD1,
 * which nothing else here can contain (client bytes stay below U+0100
 * and operator text has them replaced); the printer writes \u0000,
 * \u001f and the bare decimal.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <string.h>

#include "jsonline.h"
#include "record.h"

/* What a NUL byte is built as, in UTF-8 (U+FDD0); what marks a decimal. */
#define NUL_STANDIN	"\xef\xb7\x90"
#define DECIMAL_MARK	"\xef\xb7\x91"
#define STANDIN_LEN	3
#define REPLACEMENT	"\xef\xbf\xbd"	/* U+FFFD */

/* Replace every from in s with to (g_string_replace is GLib 2.68). */
static void
replace_all(GString *s, const char *from, const char *to)
{
	size_t flen = strlen(from), tlen = strlen(to), at = 0;
	const char *hit;

	while ((hit = strstr(s->str + at, from)) != NULL) {
		at = (size_t)(hit - s->str);
		g_string_erase(s, (gssize)at, (gssize)flen);
		g_string_insert(s, (gssize)at, to);
		at += tlen;
	}
}

void
jsonline_add_bytes(JsonBuilder *b, const char *p, size_t len)
{
	g_autoptr(GString) s = g_string_sized_new(2 * len + 1);

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == 0)
			g_string_append_len(s, NUL_STANDIN, STANDIN_LEN);
		else
			g_string_append_unichar(s, c);
	}
	json_builder_add_string_value(b, s->str);
}

bool
jsonline_bytes_decode(const char *text, char *out, size_t size, size_t *len)
{
	size_t n = 0;

	if (!g_utf8_validate(text, -1, NULL))
		return false;
	for (const char *p = text; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);

		if (c > 0xff || n == size)
			return false;
		out[n++] = (char)c;
	}
	*len = n;
	return true;
}

void
jsonline_add_text(JsonBuilder *b, const char *text)
{
	g_autofree char *valid = g_utf8_make_valid(text, -1);
	g_autoptr(GString) s = g_string_new(valid);

	replace_all(s, NUL_STANDIN, REPLACEMENT);
	replace_all(s, DECIMAL_MARK, REPLACEMENT);
	json_builder_add_string_value(b, s->str);
}

void
jsonline_add_time(JsonBuilder *b, int64_t ms)
{
	char t[RECORD_TIME_LEN];

	if (ms <= 0)
		json_builder_add_null_value(b);
	else
		json_builder_add_string_value(b, record_format_time(ms, t));
}

void
jsonline_add_decimal(JsonBuilder *b, double v, int digits)
{
	char text[G_ASCII_DTOSTR_BUF_SIZE + STANDIN_LEN];

	memcpy(text, DECIMAL_MARK, STANDIN_LEN);
	g_ascii_formatd(text + STANDIN_LEN, sizeof(text) - STANDIN_LEN,
	    digits == 3 ? "%.3f" : "%.2f", isfinite(v) ? v : 0.0);
	json_builder_add_string_value(b, text);
}

/* Turn each "<DECIMAL_MARK>digits" in text into the bare digits. */
static void
bare_decimals(GString *text)
{
	static const char quoted[] = "\"" DECIMAL_MARK;
	const char *hit, *close;
	size_t at = 0;

	while ((hit = strstr(text->str + at, quoted)) != NULL &&
	    (close = strchr(hit + sizeof(quoted) - 1, '"')) != NULL) {
		at = (size_t)(hit - text->str);
		g_string_erase(text, (gssize)(close - text->str), 1);
		g_string_erase(text, (gssize)at, sizeof(quoted) - 1);
	}
}

void
jsonline_add_evidence(JsonBuilder *b, uint32_t evidence)
{
	json_builder_begin_array(b);
	for (unsigned i = 0; record_evidence_name(i) != NULL; i++)
		if (evidence & (1u << i))
			json_builder_add_string_value(b,
			    record_evidence_name(i));
	json_builder_end_array(b);
}

bool
jsonline_print(JsonBuilder *b, FILE *out)
{
	g_autoptr(JsonNode) root = json_builder_get_root(b);
	g_autoptr(JsonGenerator) gen = json_generator_new();
	g_autoptr(GString) text = g_string_new(NULL);

	json_generator_set_root(gen, root);
	json_generator_to_gstring(gen, text);
	/* Only inside strings: the generator puts neither anywhere else. */
	bare_decimals(text);
	replace_all(text, NUL_STANDIN, "\\u0000");
	replace_all(text, "\x1f", "\\u001f");
	g_string_append_c(text, '\n');
	return fwrite(text->str, 1, text->len, out) == text->len;
}

/*
 * The tokens are checked here because json-glib's scanner is lenient
 * where its parser is not: it takes unknown escapes ("\q" as "q"), raw
 * control characters in strings, and numbers such as 01, 1. and .5.
 * Each returns the index just past its token in line[0..len), or 0 if
 * the token is not strict JSON (RFC 8259).
 */

/* A string from its opening quote at i. */
static size_t
string_end(const char *line, size_t len, size_t i)
{
	for (i++; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if (c == '"')
			return i + 1;
		if (c < 0x20)
			return 0;
		if (c != '\\')
			continue;
		if (++i == len)
			return 0;
		if (line[i] == 'u') {
			for (int k = 0; k < 4; k++)
				if (++i == len || !g_ascii_isxdigit(line[i]))
					return 0;
		} else if (strchr("\"\\/bfnrt", line[i]) == NULL ||
		    line[i] == '\0') {
			return 0;
		}
	}
	return 0;
}

/* Digits from i: the index past them, i itself if there are none. */
static size_t
digits_end(const char *line, size_t len, size_t i)
{
	while (i < len && g_ascii_isdigit(line[i]))
		i++;
	return i;
}

/* A number from i: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static size_t
number_end(const char *line, size_t len, size_t i)
{
	size_t d;

	if (i < len && line[i] == '-')
		i++;
	if (i < len && line[i] == '0') {
		/* 01 would be two tokens here, one number to json-glib. */
		if (++i < len && g_ascii_isdigit(line[i]))
			return 0;
	} else if ((d = digits_end(line, len, i)) > i)
		i = d;
	else
		return 0;
	if (i < len && line[i] == '.') {
		if ((d = digits_end(line, len, i + 1)) == i + 1)
			return 0;
		i = d;
	}
	if (i < len && (line[i] == 'e' || line[i] == 'E')) {
		i++;
		if (i < len && (line[i] == '+' || line[i] == '-'))
			i++;
		if ((d = digits_end(line, len, i)) == i)
			return 0;
		i = d;
	}
	return i;
}

/* true, false or null from i. */
static size_t
literal_end(const char *line, size_t len, size_t i)
{
	static const char *const words[] = { "true", "false", "null" };

	for (size_t w = 0; w < G_N_ELEMENTS(words); w++) {
		size_t n = strlen(words[w]);

		if (len - i >= n && memcmp(line + i, words[w], n) == 0)
			return i + n;
	}
	return 0;
}

bool
jsonline_shape_ok(const char *line, size_t len)
{
	unsigned depth = 0;
	bool closed = false;
	size_t i = 0;

	while (i < len) {
		char c = line[i];

		if (c == ' ' || c == '\t' || c == '\r') {
			i++;
			continue;
		}
		/* One object or array, blanks around it: nothing else. */
		if (depth == 0 && (closed || (c != '{' && c != '[')))
			return false;
		if (c == '{' || c == '[') {
			if (++depth > JSONLINE_DEPTH_MAX)
				return false;
			i++;
		} else if (c == '}' || c == ']') {
			closed = --depth == 0;
			i++;
		} else if (c == ',' || c == ':') {
			i++;
		} else if (c == '"') {
			i = string_end(line, len, i);
		} else if (c == '-' || g_ascii_isdigit(c)) {
			i = number_end(line, len, i);
		} else {
			i = literal_end(line, len, i);
		}
		if (i == 0)
			return false;
	}
	return closed;
}
