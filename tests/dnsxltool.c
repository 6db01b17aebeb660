/*
 * dnsxltool - ask a DNS list through verdict/dnsxl.c, for tests.
 *
 *	dnsxltool [-n ROUNDS] [-x PID] [-b BURST] RESOLVER ZONE TIMEOUT_MS
 *	    ADDR...
 *
 * Each round looks up every ADDR (all started first, then collected,
 * each by its deadline TIMEOUT_MS after its start) and prints a line per
 * address: "ADDR RESULT codes=N first=TIME last=TIME ms=MS". After the
 * first round, -x PID stops process PID (SIGSTOP: a list server that no
 * longer answers, so a later round can only answer from the cache).
 * -b BURST: then BURST lookups of the first ADDR at once, and a line
 * "burst RESULT=N..." of how they ended.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "dnsxl.h"
#include "record.h"

static int rounds = 1, stop_pid, burst;

static const GOptionEntry entries[] = {
	{ "rounds", 'n', 0, G_OPTION_ARG_INT, &rounds, "rounds", "N" },
	{ "stop", 'x', 0, G_OPTION_ARG_INT, &stop_pid, "SIGSTOP after one",
	    "PID" },
	{ "burst", 'b', 0, G_OPTION_ARG_INT, &burst, "lookups at once", "N" },
	{ NULL },
};

static void
print_answer(const char *text, const struct dnsxl_answer *a, gint64 us)
{
	char first[RECORD_TIME_LEN], last[RECORD_TIME_LEN];

	printf("%s %s codes=%u first=%s last=%s ms=%.3f\n", text,
	    dnsxl_result_name(a->result), a->codes,
	    a->first != 0 ? record_format_time(a->first, first) : "-",
	    a->last != 0 ? record_format_time(a->last, last) : "-",
	    (double)us / 1000.0);
}

/* One round over addrs[0..n). */
static void
round_of(struct dnsxl *d, const char *zone, gint64 timeout,
    const struct addr *addrs, char **texts, int n)
{
	struct dnsxl_lookup **l = g_new0(struct dnsxl_lookup *, n);
	gint64 *deadline = g_new0(gint64, n);
	struct dnsxl_answer a;
	gint64 us;

	for (int i = 0; i < n; i++) {
		deadline[i] = g_get_monotonic_time() + timeout;
		l[i] = dnsxl_start(d, &addrs[i], zone);
	}
	for (int i = 0; i < n; i++) {
		dnsxl_wait(l[i], deadline[i], &a, &us);
		print_answer(texts[i], &a, us);
		dnsxl_lookup_free(l[i]);
	}
	fflush(stdout);
	g_free(l);
	g_free(deadline);
}

static void
burst_of(struct dnsxl *d, const char *zone, gint64 timeout,
    const struct addr *addr)
{
	struct dnsxl_lookup **l = g_new0(struct dnsxl_lookup *, burst);
	unsigned counts[DNSXL_NRESULTS] = { 0 };
	gint64 deadline = g_get_monotonic_time() + timeout, us;
	struct dnsxl_answer a;

	for (int i = 0; i < burst; i++)
		l[i] = dnsxl_start(d, addr, zone);
	for (int i = 0; i < burst; i++) {
		dnsxl_wait(l[i], deadline, &a, &us);
		counts[a.result]++;
		dnsxl_lookup_free(l[i]);
	}
	printf("burst");
	for (unsigned r = 0; r < DNSXL_NRESULTS; r++)
		printf(" %s=%u", dnsxl_result_name((enum dnsxl_result)r),
		    counts[r]);
	printf("\n");
	g_free(l);
}

int
main(int argc, char **argv)
{
	g_autoptr(GOptionContext) ctx = g_option_context_new("RESOLVER ZONE "
	    "TIMEOUT_MS ADDR...");
	g_autoptr(GError) err = NULL;
	struct conf c;
	struct dnsxl *d;
	struct addr *addrs;
	gint64 timeout;
	int n;

	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &err) || argc < 5) {
		fprintf(stderr, "dnsxltool: %s\n", err != NULL ? err->message :
		    "usage: dnsxltool RESOLVER ZONE TIMEOUT_MS ADDR...");
		return 2;
	}
	memset(&c, 0, sizeof(c));
	c.milter.tarpit_list_resolver = argv[1];
	c.milter.tarpit_list = argv[2];
	timeout = g_ascii_strtoll(argv[3], NULL, 10) * 1000;
	n = argc - 4;
	addrs = g_new0(struct addr, n);
	for (int i = 0; i < n; i++)
		if (!addr_parse(argv[4 + i], &addrs[i])) {
			fprintf(stderr, "dnsxltool: %s: not an address\n",
			    argv[4 + i]);
			return 2;
		}
	if (!dnsxl_open(&c, &d, &err)) {
		fprintf(stderr, "dnsxltool: %s\n", err->message);
		return 1;
	}
	for (int r = 0; r < rounds; r++) {
		round_of(d, argv[2], timeout, addrs, argv + 4, n);
		if (r == 0 && stop_pid > 0)
			kill(stop_pid, SIGSTOP);
	}
	if (burst > 0)
		burst_of(d, argv[2], timeout, &addrs[0]);
	dnsxl_free(d);
	g_free(addrs);
	return 0;
}
