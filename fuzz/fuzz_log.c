/*
 * fuzz_log.c - log_escape() and event lines on any bytes: the output is
 * printable ASCII, fits its buffer, and never splits an escape.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "log.h"

/* Is s[0..len) printable ASCII without a line break? */
static int
printable(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[64];
	struct log_event ev;
	size_t n, outsize = size > 0 ? data[0] % sizeof(out) : 0;

	n = log_escape((const char *)data, size, 40, out, outsize);
	if (outsize > 0) {
		FUZZ_CHECK(n < outsize && out[n] == '\0');
		FUZZ_CHECK(printable(out, n));
		/* A backslash starts a whole escape: \\, \" or \xHH. */
		for (size_t i = 0; i < n; i++) {
			if (out[i] != '\\')
				continue;
			FUZZ_CHECK(i + 1 < n);
			if (out[i + 1] == 'x') {
				FUZZ_CHECK(i + 3 < n);
				i += 3;
			} else {
				FUZZ_CHECK(out[i + 1] == '\\' ||
				    out[i + 1] == '"');
				i++;
			}
		}
	}
	log_event_begin(&ev, "fuzz");
	for (int i = 0; i < 20; i++)
		log_event_untrusted(&ev, "helo", (const char *)data, size, 300);
	FUZZ_CHECK(ev.len < sizeof(ev.buf) && printable(ev.buf, ev.len));
	return 0;
}
