/*
 * fuzz_conf.c - conf_load_data() on any bytes: it either returns a
 * configuration or an error whose every line names the input.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	GError *err = NULL;
	struct conf *c = conf_load_data("fuzz.conf", (const char *)data, size,
	    NULL, &err);

	if (c != NULL) {
		FUZZ_CHECK(err == NULL);
		FUZZ_CHECK(c->tarpitd.listen.n > 0);
		conf_free(c);
		return 0;
	}
	FUZZ_CHECK(err != NULL);
	{
		char **lines = g_strsplit(err->message, "\n", -1);

		for (size_t i = 0; lines[i] != NULL; i++)
			FUZZ_CHECK(g_str_has_prefix(lines[i], "fuzz.conf") ||
			    g_str_has_prefix(lines[i], "command line"));
		g_strfreev(lines);
	}
	g_error_free(err);
	return 0;
}
