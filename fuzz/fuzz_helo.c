/*
 * fuzz_helo.c - helo_classify() on any bytes: never reads outside the
 * input, always returns a class with a name, reasons only for invalid.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "helo.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "mx.example.org", "Tarpit." };
	static const char *const addrs[] = { "192.0.2.25", "2001:db8::25" };
	const struct helo_ours ours = { names, 2, addrs, 2 };
	struct helo_result r;
	char flags[16];

	helo_classify((const char *)data, size, &ours, &r);
	FUZZ_CHECK((unsigned)r.class < HELO_CLASS_COUNT);
	FUZZ_CHECK(strcmp(helo_class_name(r.class), "unknown") != 0);
	FUZZ_CHECK((r.reason != HELO_R_NONE) == (r.class == HELO_INVALID));
	FUZZ_CHECK(strcmp(helo_reason_name(r.reason), "unknown") != 0);
	/* Only an argument with blanks around it can be longer and valid. */
	FUZZ_CHECK(size <= HELO_NAME_MAX || r.class == HELO_TOO_LONG ||
	    r.class == HELO_INVALID || (r.flags & HELO_F_EXTRA_BLANKS) != 0);
	helo_flags_format(r.flags, flags, sizeof(flags));
	FUZZ_CHECK(strlen(flags) < sizeof(flags));
	return 0;
}
