/*
 * fuzz_metrics.c - metrics_request_wants(), the request line check of the
 * Prometheus responder (shared/metrics.c), on any bytes: it reads no
 * further than the NUL, looks at the request line only, and agrees with
 * a tokenizing reading of "METHOD TARGET ..." written independently.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "fuzz.h"
#include "metrics.h"

/*
 * The oracle: the method is everything before the first blank and must
 * be "GET"; the target runs to the next blank, CR, LF or the end. The
 * path is the target up to a '?'; it must be "/metrics". A target with
 * a query is enough; a bare "/metrics" needs a blank or line end after
 * it, since the server only ever passes a head holding a LF.
 */
static bool
oracle(const char *s)
{
	const char *target, *end, *q;
	size_t len;

	if (strncmp(s, "GET ", 4) != 0)
		return false;
	target = s + 4;
	end = target + strcspn(target, " \r\n");
	q = memchr(target, '?', (size_t)(end - target));
	len = (size_t)((q != NULL ? q : end) - target);
	if (len != strlen("/metrics") || memcmp(target, "/metrics", len) != 0)
		return false;
	return q != NULL || *end != '\0';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Exactly as long as the string, so ASan sees a read past the NUL. */
	g_autofree char *head = g_strndup((const char *)data, size);
	g_autofree char *line = NULL;
	bool wants = metrics_request_wants(head);
	char *lf;

	FUZZ_CHECK(wants == oracle(head));
	/* True only on "GET /metrics" and one of " ?\r\n". */
	FUZZ_CHECK(!wants || (strncmp(head, "GET /metrics", 12) == 0 &&
	    strchr(" ?\r\n", head[12]) != NULL && head[12] != '\0'));
	/* The headers after the request line change nothing. */
	if ((lf = strchr(head, '\n')) != NULL) {
		line = g_strndup(head, (size_t)(lf - head + 1));
		FUZZ_CHECK(metrics_request_wants(line) == wants);
	}
	/* Nor does anything after the query mark. */
	if (wants && head[12] == '?') {
		g_autofree char *cut = g_strndup(head, 13);

		FUZZ_CHECK(metrics_request_wants(cut));
	}
	return 0;
}
