/*
 * bench_export - the DNS list at scale: fill a hit store with N networks
 * as the tar pits would have left them, time a command (slowspamctl
 * export) with its peak memory, and write dnsperf query files for the
 * list it exported. Prints numbers; not a test.
 *
 * Usage:
 *	bench_export fill [-n N] [--redis HOST:PORT [--prefix P]] [PATH]
 *		N networks (default 1,000,000) into the LMDB file PATH, or
 *		into Redis under prefix P (default "slowspam:"), through
 *		store_apply in batches of 10,000 (one LMDB transaction, one
 *		Redis pipeline each), and the primary marked alive each
 *		minute of the last 6 hours. The mix, by index i:
 *		  i % 10 < 7: IPv4, a /32 or a /24 in turn; else IPv6 /64
 *		  i % 3 == 0: bot evidence, met 1-6 days ago
 *		  i % 3 == 1: backup-first: met in the last 6 hours, the
 *		              primary alive then and never contacted
 *		  i % 3 == 2: seen only, met 1-6 days ago (primary not
 *		              proven up then)
 *		Reproducible: the same N gives the same networks.
 *	bench_export time -o FILE -- COMMAND [ARG...]
 *		run COMMAND, then print its wall time, its peak resident
 *		memory (getrusage of the child) and the peaks of its
 *		anonymous and file-backed resident memory (/proc, sampled
 *		every 2 ms: an LMDB read maps the file, and those pages are
 *		the kernel's page cache, not the program's own memory), and
 *		FILE's size and lines.
 *	bench_export queries -n N [--count M] ZONE
 *		M dnsperf lines (default 100,000): a network of the fill
 *		of N (listed; each once while M / 2 <= N) or an address
 *		outside it (not listed) in turn, IPv4 and IPv6, types A
 *		and TXT. --addresses: the addresses alone, one a line
 *		(bench_dnsxl).
 *
 *	bench_export port [ADDR]
 *		a port free for both TCP and UDP on ADDR (default
 *		127.0.0.1) just now, for a throwaway server.
 *
 * Output: one line of KEY=VALUE pairs per measurement.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>

#include "helo.h"
#include "store.h"

#define BATCH		10000
#define HOUR_MS		INT64_C(3600000)
#define DAY_MS		(24 * HOUR_MS)
#define ALIVE_HOURS	6
#define LISTED_STEP	UINT64_C(1000003)	/* prime: a permutation of n */

static G_GNUC_NORETURN G_GNUC_PRINTF(1, 2) void
die(const char *fmt, ...)
{
	va_list ap;

	fputs("bench_export: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static double
seconds_since(gint64 t0)
{
	return (double)(g_get_monotonic_time() - t0) / 1e6;
}

/* Networks of each kind before index i (they take turns as the mix says). */
static size_t
v4_before(size_t i)
{
	return i / 10 * 7 + MIN(i % 10, 7);
}

/*
 * The network key of index i. IPv4 /32 in 10.0.0.0/8, /24 in 20.0.0.0/8
 * on, IPv6 /64 in 2001:db8::/32: never inside 127.0.0.0/8 or another
 * excluded network.
 */
static void
key_of(size_t i, char *key)
{
	if (i % 10 < 7) {
		size_t j = v4_before(i);
		size_t k = j / 2;

		if (j % 2 == 0)
			g_snprintf(key, STORE_KEY_MAX + 1, "10.%zu.%zu.%zu/32",
			    (k >> 16) & 255, (k >> 8) & 255, k & 255);
		else
			g_snprintf(key, STORE_KEY_MAX + 1, "%zu.%zu.%zu.0/24",
			    20 + (k >> 16), (k >> 8) & 255, k & 255);
	} else {
		size_t k = i - v4_before(i);

		g_snprintf(key, STORE_KEY_MAX + 1, "2001:db8:%zx:%zx::/64",
		    (k >> 16) & 0xffff, k & 0xffff);
	}
}

/* A cheap reproducible spread (splitmix64). */
static uint64_t
mix(uint64_t x)
{
	x += UINT64_C(0x9e3779b97f4a7c15);
	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

/* The tar-pit event of index i at now, as the mix says. */
static struct store_item
event_of(size_t i, int64_t now)
{
	static const char helo[] = "bot-1234.dynamic.example.net";
	struct store_item it = { .update = { .new_session = true,
	    .held_ms = 600000 } };
	uint64_t r = mix(i);

	key_of(i, it.key);
	if (i % 3 == 1)		/* within the primary's alive hours */
		it.update.now = now - 60000 - (int64_t)(r % (uint64_t)
		    (ALIVE_HOURS * HOUR_MS - 20 * 60000));
	else			/* 1 to 6 days ago: the primary unproven */
		it.update.now = now - DAY_MS - (int64_t)(r % (uint64_t)(5 *
		    DAY_MS));
	if (i % 3 == 0)
		it.update.evidence = EVIDENCE_BARE_LF | EVIDENCE_PIPELINING;
	record_update_set_helo(&it.update, helo, sizeof(helo) - 1, HELO_FQDN);
	return it;
}

static int
cmd_fill(int argc, char **argv)
{
	struct store_options o = { STORE_BACKEND_LMDB, NULL,
	    UINT64_C(8) << 30, 30 * DAY_MS, false };
	g_autofree struct store_item *items = g_new(struct store_item, BATCH);
	g_autoptr(GError) err = NULL;
	size_t n = 1000000;
	struct store *st;
	int64_t now = store_now();
	gint64 t0;
	double fill_s;
	int a;

	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "-n") == 0 && a + 1 < argc)
			n = (size_t)g_ascii_strtoull(argv[++a], NULL, 10);
		else if (strcmp(argv[a], "--redis") == 0 && a + 1 < argc) {
			o.backend = STORE_BACKEND_REDIS;
			o.redis = argv[++a];
			o.redis_timeout = 30000;
		} else if (strcmp(argv[a], "--prefix") == 0 && a + 1 < argc)
			o.redis_prefix = argv[++a];
		else if (argv[a][0] != '-' && o.path == NULL)
			o.path = argv[a];
		else
			die("fill: bad argument %s", argv[a]);
	}
	if (o.backend == STORE_BACKEND_LMDB && o.path == NULL)
		die("fill: no LMDB path");
	if ((st = store_open(&o, &err)) == NULL)
		die("fill: %s", err->message);
	t0 = g_get_monotonic_time();
	for (int64_t m = now - ALIVE_HOURS * HOUR_MS; m <= now; m += 60000)
		if (!store_alive_mark(st, m, &err))
			die("fill: %s", err->message);
	for (size_t i = 0; i < n; i += BATCH) {
		size_t k = MIN(BATCH, n - i);

		for (size_t j = 0; j < k; j++)
			items[j] = event_of(i + j, now);
		if (!store_apply(st, items, k, &err))
			die("fill: at network %zu: %s", i, err->message);
	}
	fill_s = seconds_since(t0);
	printf("fill store=%s networks=%zu seconds=%.2f rate=%.0f\n",
	    store_describe(st), n, fill_s, (double)n / fill_s);
	store_free(st);
	return 0;
}

/* Peak resident kB of pid from /proc, by kind; false once it is gone. */
static bool
sample_rss(pid_t pid, long *anon, long *file)
{
	char path[64], line[256];
	FILE *f;
	long v;

	g_snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return false;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "RssAnon: %ld", &v) == 1)
			*anon = MAX(*anon, v);
		else if (sscanf(line, "RssFile: %ld", &v) == 1)
			*file = MAX(*file, v);
	}
	fclose(f);
	return true;
}

/* Bytes and lines of path. */
static void
count_file(const char *path, uint64_t *bytes, uint64_t *lines)
{
	char buf[1 << 16];
	size_t got;
	FILE *f = fopen(path, "r");

	*bytes = *lines = 0;
	if (f == NULL)
		die("time: %s: %s", path, g_strerror(errno));
	while ((got = fread(buf, 1, sizeof(buf), f)) > 0) {
		*bytes += got;
		for (size_t i = 0; i < got; i++)
			*lines += buf[i] == '\n';
	}
	fclose(f);
}

static int
cmd_time(int argc, char **argv)
{
	const char *out = NULL;
	struct rusage ru;
	long anon = 0, file = 0;
	uint64_t bytes, lines;
	int a, status;
	pid_t pid;
	gint64 t0;
	double wall;

	for (a = 1; a < argc && strcmp(argv[a], "--") != 0; a++)
		if (strcmp(argv[a], "-o") == 0 && a + 1 < argc)
			out = argv[++a];
		else
			die("time: bad argument %s", argv[a]);
	if (out == NULL || a + 1 >= argc)
		die("time: usage: time -o FILE -- COMMAND [ARG...]");
	t0 = g_get_monotonic_time();
	if ((pid = fork()) < 0)
		die("time: fork: %s", g_strerror(errno));
	if (pid == 0) {
		execvp(argv[a + 1], argv + a + 1);
		fprintf(stderr, "bench_export: %s: %s\n", argv[a + 1],
		    g_strerror(errno));
		_exit(127);
	}
	/* Sample until the child is a zombie (its /proc then shows no RSS). */
	for (;;) {
		siginfo_t si = { 0 };

		if (waitid(P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0 ||
		    si.si_pid == pid || !sample_rss(pid, &anon, &file))
			break;
		g_usleep(2000);
	}
	if (wait4(pid, &status, 0, &ru) != pid)
		die("time: wait4: %s", g_strerror(errno));
	wall = seconds_since(t0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("time: %s failed (status %d)", argv[a + 1], status);
	count_file(out, &bytes, &lines);
	printf("time wall_s=%.2f user_s=%.2f sys_s=%.2f maxrss_kb=%ld "
	    "anon_peak_kb=%ld file_peak_kb=%ld bytes=%" G_GUINT64_FORMAT
	    " lines=%" G_GUINT64_FORMAT "\n", wall,
	    (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6,
	    ru.ru_maxrss, anon, file, bytes, lines);
	return 0;
}

/* The DNS name of key's network (its first address) under zone. */
static void
query_name(const char *key, const char *zone, GString *name)
{
	g_autofree char *addr = g_strndup(key, strcspn(key, "/"));
	unsigned char b[16];

	g_string_truncate(name, 0);
	if (strchr(addr, ':') == NULL) {
		unsigned o[4];

		if (sscanf(addr, "%u.%u.%u.%u", &o[0], &o[1], &o[2], &o[3]) != 4)
			die("queries: bad key %s", key);
		g_string_append_printf(name, "%u.%u.%u.%u", o[3], o[2], o[1],
		    o[0]);
	} else {
		if (inet_pton(AF_INET6, addr, b) != 1)
			die("queries: bad key %s", key);
		for (int i = 15; i >= 0; i--)
			g_string_append_printf(name, "%s%x.%x", i == 15 ? "" :
			    ".", b[i] & 15, b[i] >> 4);
	}
	g_string_append_printf(name, ".%s", zone);
}

static int
cmd_queries(int argc, char **argv)
{
	g_autoptr(GString) name = g_string_new(NULL);
	const char *zone = NULL;
	size_t n = 1000000, count = 100000;
	char key[STORE_KEY_MAX + 1];
	bool addresses = false;
	int a;

	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "-n") == 0 && a + 1 < argc)
			n = (size_t)g_ascii_strtoull(argv[++a], NULL, 10);
		else if (strcmp(argv[a], "--count") == 0 && a + 1 < argc)
			count = (size_t)g_ascii_strtoull(argv[++a], NULL, 10);
		else if (strcmp(argv[a], "--addresses") == 0)
			addresses = true;
		else if (argv[a][0] != '-' && zone == NULL)
			zone = argv[a];
		else
			die("queries: bad argument %s", argv[a]);
	}
	if (zone == NULL || n == 0)
		die("queries: usage: queries -n N [--count M] ZONE");
	for (size_t q = 0; q < count; q++) {
		uint64_t r = mix(q + 7);

		if (q % 2 == 0) {
			/* A permutation: no listed name twice (q / 2 < n). */
			key_of((size_t)((q / 2 % n) * LISTED_STEP % n), key);
		} else if (q % 4 == 1) {
			/* 40-119.x.x.x: the fill's /24s end far below */
			g_snprintf(key, sizeof(key), "%u.%u.%u.%u/32",
			    (unsigned)(40 + (r >> 24) % 80),
			    (unsigned)(r >> 16 & 255), (unsigned)(r >> 8 & 255),
			    (unsigned)(r & 255));
		} else {
			g_snprintf(key, sizeof(key), "2001:db9:%x:%x::/64",
			    (unsigned)(r >> 16 & 0xffff),
			    (unsigned)(r & 0xffff));
		}
		if (addresses) {
			printf("%.*s\n", (int)strcspn(key, "/"), key);
			continue;
		}
		query_name(key, zone, name);
		printf("%s %s\n", name->str, q % 8 < 4 ? "A" : "TXT");
	}
	return 0;
}

/* Is port free on addr for type (bound and closed at once)? */
static bool
port_free(const char *addr, int type, uint16_t *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_port = htons(*port) };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, type, 0);
	bool ok;

	if (fd < 0 || inet_pton(AF_INET, addr, &sin.sin_addr) != 1)
		die("port: %s: %s", addr, fd < 0 ? g_strerror(errno) :
		    "not an IPv4 address");
	ok = bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &len) == 0;
	close(fd);
	*port = ntohs(sin.sin_port);
	return ok;
}

static int
cmd_port(int argc, char **argv)
{
	const char *addr = argc >= 2 ? argv[1] : "127.0.0.1";

	for (int i = 0; i < 100; i++) {
		uint16_t port = 0;

		/* The kernel's pick for TCP, if UDP has it free too. */
		if (port_free(addr, SOCK_STREAM, &port) &&
		    port_free(addr, SOCK_DGRAM, &port)) {
			printf("%u\n", port);
			return 0;
		}
	}
	die("port: no free port on %s", addr);
}

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_DFL);
	if (argc >= 2 && strcmp(argv[1], "fill") == 0)
		return cmd_fill(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "time") == 0)
		return cmd_time(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "queries") == 0)
		return cmd_queries(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "port") == 0)
		return cmd_port(argc - 1, argv + 1);
	fprintf(stderr, "usage: bench_export fill|time|queries|port ...\n");
	return 2;
}
