/*
 * fuzz_addr.c - the address, CIDR and ADDR:PORT parsers on any bytes.
 * What parses must format back to text that parses to the same thing.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[128], buf[ADDR_NETKEY_LEN], key[ADDR_NETKEY_LEN];
	struct addr a, b;
	struct addr_cidr c, d;
	uint16_t port;
	const char *why = NULL;

	if (addr_parse_len((const char *)data, size, &a)) {
		FUZZ_CHECK(addr_parse(addr_format(&a, buf), &b));
		FUZZ_CHECK(addr_equal(&a, &b));
		addr_netkey(&a, 24, 48, key);
		FUZZ_CHECK(addr_cidr_parse(key, &c, NULL));
		FUZZ_CHECK(addr_cidr_match(&c, &a));
	}
	if (size >= sizeof(text))
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (addr_cidr_parse(text, &c, &why)) {
		FUZZ_CHECK(addr_cidr_parse(addr_cidr_format(&c, buf), &d, NULL));
		FUZZ_CHECK(addr_equal(&c.net, &d.net) && c.prefix == d.prefix);
		FUZZ_CHECK(addr_cidr_list_match(&c, 1, &c.net));
	} else {
		FUZZ_CHECK(why != NULL);
	}
	why = NULL;
	if (addr_hostport_parse(text, &a, &port, &why))
		FUZZ_CHECK(port > 0);
	else
		FUZZ_CHECK(why != NULL);
	return 0;
}
