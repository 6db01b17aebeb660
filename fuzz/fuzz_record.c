/*
 * fuzz_record.c - record_decode() on any bytes: a decoded record encodes
 * back to the same bytes, and merging into it keeps it decodable.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "record.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hit_record r, back;
	struct tarpit_update u = { .now = 1, .new_session = true,
	    .held_ms = 10, .evidence = EVIDENCE_ALL };
	uint8_t buf[RECORD_MAX_SIZE];
	size_t len;
	GError *err = NULL;

	if (!record_decode(data, size, &r, &err)) {
		FUZZ_CHECK(err != NULL && err->message[0] != '\0');
		g_error_free(err);
		return 0;
	}
	len = record_encode(&r, buf);
	FUZZ_CHECK(len == size && memcmp(buf, data, size) == 0);
	u.now = r.tarpit_last > 0 ? r.tarpit_last : 1;
	record_update_set_helo(&u, (const char *)data, size, 1);
	record_merge_tarpit(&r, &u);
	record_merge_primary(&r, u.now);
	len = record_encode(&r, buf);
	FUZZ_CHECK(record_decode(buf, len, &back, NULL));
	return 0;
}
