/*
 * fuzz_allow.c - the allow-list parser on any bytes: a list or an error
 * naming the file, and lookups that never misread the list.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allow.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	GError *err = NULL;
	struct allow *al = allow_parse("fuzz.allow", (const char *)data, size,
	    &err);
	struct addr a;

	if (al == NULL) {
		FUZZ_CHECK(err != NULL &&
		    g_str_has_prefix(err->message, "fuzz.allow"));
		g_error_free(err);
		return 0;
	}
	FUZZ_CHECK(err == NULL);
	addr_parse("192.0.2.1", &a);
	(void)allow_addr(al, &a);
	(void)allow_domain(al, (const char *)data, size > 300 ? 300 : size);
	allow_free(al);
	return 0;
}
