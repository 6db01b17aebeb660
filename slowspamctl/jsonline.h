/*
 * jsonline.h - slowspamctl's JSON lines, written and read with json-glib
 * (docs/json.md: the schema and the rule for bytes a client sent).
 */
#ifndef SLOWSPAM_JSONLINE_H
#define SLOWSPAM_JSONLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <json-glib/json-glib.h>

/* Deepest nesting of a line read back (ours: an array in an object). */
#define JSONLINE_DEPTH_MAX	4

/*
 * Add bytes p[0..len) that a client (or another store writer) chose, as
 * a string: each byte one code point U+0000..U+00FF (ISO 8859-1), so
 * any bytes give valid UTF-8 and the bytes come back from the string.
 */
void	jsonline_add_bytes(JsonBuilder *b, const char *p, size_t len);
/* The inverse: false if text holds a code point past U+00FF or more
   than size bytes' worth. */
bool	jsonline_bytes_decode(const char *text, char *out, size_t size,
	    size_t *len);
/* Add text an operator chose (a path): UTF-8, invalid bytes as U+FFFD. */
void	jsonline_add_text(JsonBuilder *b, const char *text);
/* Add a time (ms since the epoch) as ISO 8601 UTC, or null if 0. */
void	jsonline_add_time(JsonBuilder *b, int64_t ms);
/* Add v as a number with digits (2 or 3) decimals, as printf's %.3f. */
void	jsonline_add_decimal(JsonBuilder *b, double v, int digits);
/* Add the evidence flags as an array of their names. */
void	jsonline_add_evidence(JsonBuilder *b, uint32_t evidence);
/* Print the builder's value as one line; false on a write error. */
bool	jsonline_print(JsonBuilder *b, FILE *out);

/*
 * May line[0..len) go to the parser: one object or array, nested at most
 * JSONLINE_DEPTH_MAX deep, every token (string, number, true, false,
 * null) strict JSON. json-glib recurses once per bracket, reads comments
 * and single quotes, which would hide brackets from this count, and its
 * scanner takes tokens its parser should not (01, 1., \q); the parser
 * is strict about the rest (commas, colons, brackets that match).
 */
bool	jsonline_shape_ok(const char *line, size_t len);

#endif /* SLOWSPAM_JSONLINE_H */
