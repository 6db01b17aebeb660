/*
 * storetool - write hit-store records for tests, as tarpitd would.
 *
 *	storetool PATH tarpit KEY MS [HELO [EVIDENCE]]
 *		a tar-pit session of KEY at MS (ms since the epoch, or
 *		"now", "now-600000" ...); EVIDENCE a number (record.h bits)
 *	storetool PATH primary KEY MS	a contact with the primary at MS
 *	storetool PATH alive FROM TO	mark the primary alive each minute
 *	storetool PATH get KEY		print KEY's record, as slowspamctl
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "helo.h"
#include "store.h"

/* "now", "now-N", "now+N" or a number of ms. */
static int64_t
parse_time(const char *s)
{
	int64_t base = 0;

	if (g_str_has_prefix(s, "now")) {
		base = store_now();
		s += 3;
		if (*s == '\0')
			return base;
	}
	return base + g_ascii_strtoll(s, NULL, 10);
}

int
main(int argc, char **argv)
{
	struct store_options o = { STORE_BACKEND_LMDB, NULL, 1u << 30, 0,
	    false };
	g_autoptr(GError) err = NULL;
	struct store *st;
	bool ok;

	if (argc < 4) {
		fprintf(stderr, "usage: storetool PATH tarpit|alive|get ...\n");
		return 2;
	}
	o.path = argv[1];
	if ((st = store_open(&o, &err)) == NULL) {
		fprintf(stderr, "storetool: %s\n", err->message);
		return 1;
	}
	if (strcmp(argv[2], "tarpit") == 0 && argc >= 5) {
		struct store_item it = { .update = { .now = parse_time(argv[4]),
		    .new_session = true, .held_ms = 600000 } };
		struct helo_result r;

		g_strlcpy(it.key, argv[3], sizeof(it.key));
		if (argc >= 6) {
			helo_classify(argv[5], strlen(argv[5]), NULL, &r);
			record_update_set_helo(&it.update, argv[5],
			    strlen(argv[5]), (uint8_t)r.class);
		}
		if (argc >= 7)
			it.update.evidence = (uint32_t)atoi(argv[6]);
		ok = store_apply(st, &it, 1, &err);
	} else if (strcmp(argv[2], "primary") == 0 && argc >= 5) {
		ok = store_primary_contact(st, argv[3], parse_time(argv[4]), NULL,
		    &err);
	} else if (strcmp(argv[2], "alive") == 0 && argc >= 5) {
		ok = true;
		for (int64_t t = parse_time(argv[3]); ok && t <= parse_time(
		    argv[4]); t += 60000)
			ok = store_alive_mark(st, t, &err);
	} else if (strcmp(argv[2], "get") == 0) {
		struct hit_record r;
		bool found;

		ok = store_lookup(st, argv[3], &r, &found, &err);
		if (ok)
			printf("%s found=%d tarpit_sessions=%u primary_sessions="
			    "%u\n", argv[3], found, r.tarpit_sessions,
			    r.primary_sessions);
	} else {
		fprintf(stderr, "storetool: unknown command %s\n", argv[2]);
		ok = false;
	}
	if (!ok && err != NULL)
		fprintf(stderr, "storetool: %s\n", err->message);
	store_free(st);
	return ok ? 0 : 1;
}
