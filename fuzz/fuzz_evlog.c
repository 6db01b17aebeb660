/*
 * fuzz_evlog.c - slowspamctl's event-log reader (stats_add_line) on any
 * bytes, split into lines at LF: nothing is read past a line (the input
 * has no NUL terminator and may hold NULs), every line is counted or
 * rejected, and the totals agree with each other; then the reports.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "fuzz.h"
#include "report.h"
#include "stats.h"

/* The sum of n counters. */
static uint64_t
sum(const uint64_t *v, size_t n)
{
	uint64_t t = 0;

	for (size_t i = 0; i < n; i++)
		t += v[i];
	return t;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *null;
	const char *p = (const char *)data, *end = p + size;
	struct stats st;
	uint64_t lines = 0, days = 0;

	if (null == NULL && (null = fopen("/dev/null", "w")) == NULL)
		abort();
	/* The first byte picks a time range, as --since and --until do. */
	stats_init(&st, size > 0 && data[0] & 1 ? INT64_C(1700000000000) : 0,
	    size > 0 && data[0] & 2 ? INT64_C(1900000000000) : 0);
	st.v4prefix = size > 0 && data[0] & 4 ? 24 : 0;
	while (p < end) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((lf != NULL ? lf : end) - p);
		/* An exact copy: ASan sees any read past its end. */
		char *line = g_memdup2(p, len);
		uint64_t before = st.sessions + st.bad_lines;

		stats_add_line(&st, line, len);
		g_free(line);
		FUZZ_CHECK(st.sessions + st.bad_lines <= before + 1);
		lines += len > 0;
		p += len + (lf != NULL);
	}
	FUZZ_CHECK(st.sessions + st.bad_lines <= lines);
	stats_finish(&st);
	FUZZ_CHECK(st.hosts <= st.sessions);
	FUZZ_CHECK(st.top->len <= STATS_TOP && st.top->len <= st.sessions);
	for (guint i = 0; i < st.days->len; i++)
		days += g_array_index(st.days, struct stats_day, i).sessions;
	FUZZ_CHECK(days == st.sessions);
	FUZZ_CHECK(sum(st.hold, STATS_HOLD_BINS) == st.sessions);
	FUZZ_CHECK(sum(st.by_hour, 24) == st.sessions);
	FUZZ_CHECK(sum(st.helo_classes, HELO_CLASS_COUNT + 1) == st.sessions);
	FUZZ_CHECK(st.sessions == 0 || st.first <= st.last);
	stats_print(&st, null);
	stats_print_json(&st, null);
	report_html(&st, null);
	stats_clear(&st);
	return 0;
}
