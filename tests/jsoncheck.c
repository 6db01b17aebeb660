/*
 * jsoncheck - does every line of each FILE parse with json-glib, as one
 * object? For tests: a second parser beside Python's strict one.
 *
 * Usage: jsoncheck FILE...   Prints "N lines" and exits 0, or prints
 * "FILE:LINE: why" for each line that does not parse and exits 1.
 * json-glib alone is lenient (comments, single quotes, octal escapes):
 * Python's json module does the strict half.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-glib/json-glib.h>

/* Check one line; false (and a message) if it is not one object. */
static bool
check_line(JsonParser *p, const char *file, unsigned n, const char *line,
    size_t len)
{
	g_autoptr(GError) err = NULL;
	JsonNode *root;

	if (!json_parser_load_from_data(p, line, (gssize)len, &err)) {
		printf("%s:%u: %s\n", file, n, err->message);
		return false;
	}
	root = json_parser_get_root(p);
	if (root == NULL || !JSON_NODE_HOLDS_OBJECT(root)) {
		printf("%s:%u: not an object\n", file, n);
		return false;
	}
	return true;
}

int
main(int argc, char **argv)
{
	g_autoptr(JsonParser) p = json_parser_new_immutable();
	unsigned lines = 0;
	bool ok = true;

	for (int i = 1; i < argc; i++) {
		g_autofree char *data = NULL;
		gsize size;
		unsigned n = 0;

		if (!g_file_get_contents(argv[i], &data, &size, NULL)) {
			printf("%s: cannot read\n", argv[i]);
			ok = false;
			continue;
		}
		for (const char *l = data, *end = data + size; l < end; n++) {
			const char *lf = memchr(l, '\n', (size_t)(end - l));
			size_t len = (size_t)((lf != NULL ? lf : end) - l);

			if (len > 0) {
				ok &= check_line(p, argv[i], n + 1, l, len);
				lines++;
			}
			l += len + 1;
		}
	}
	printf("%u lines\n", lines);
	return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
