/*
 * fuzz_dnsxl.c - the DNS list's rdata parsers (verdict/dnsxl.c) on any
 * bytes: the first byte picks A or TXT, the rest is the rdata.
 *
 * A: a code only for 4 bytes, and then only one of ours. TXT: no read
 * past the rdata (ASan); a malformed one leaves the times alone; times
 * that come out are a pair (first set, first <= last), and folding the
 * same rdata twice changes nothing.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnsxl.h"
#include "fuzz.h"
#include "listing.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int64_t first = 0, last = 0, f2, l2;
	uint8_t *copy;
	unsigned code;
	bool ok;

	if (size == 0)
		return 0;
	/* An exact copy: ASan sees a read one past the rdata. */
	copy = malloc(size - 1 > 0 ? size - 1 : 1);
	FUZZ_CHECK(copy != NULL);
	memcpy(copy, data + 1, size - 1);
	if (data[0] & 1) {
		code = dnsxl_parse_a(copy, size - 1);
		FUZZ_CHECK(code == 0 || size - 1 == 4);
		FUZZ_CHECK(code == 0 || code == LISTING_BACKUP_FIRST ||
		    code == LISTING_BOT || code == LISTING_SEEN);
	} else {
		ok = dnsxl_parse_txt(copy, size - 1, &first, &last);
		FUZZ_CHECK(ok || (first == 0 && last == 0));
		FUZZ_CHECK((first == 0 && last == 0) ||
		    (first > 0 && first <= last));
		f2 = first;
		l2 = last;
		FUZZ_CHECK(dnsxl_parse_txt(copy, size - 1, &f2, &l2) == ok);
		FUZZ_CHECK(f2 == first && l2 == last);
	}
	free(copy);
	return 0;
}
