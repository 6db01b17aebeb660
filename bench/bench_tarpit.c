/*
 * bench_tarpit - load for a tar pit on loopback: many held connections,
 * or short SMTP sessions as fast as the server takes them. Prints
 * numbers; not a test. Every run is bounded in connections and time.
 *
 * Usage:
 *   bench_tarpit hold ADDR PORT N SECONDS SRCBASE
 *	Open N connections (non-blocking connect, at most WINDOW pending),
 *	connection i from 127.0.0.(SRCBASE + i / 20000). Read and discard
 *	what the server sends; after a line starting "220 " (the final SMTP
 *	greeting) send "EHLO bench.example" once, so an SMTP tar pit starts
 *	its drip (a server that never sends "220 ", such as endlessh, gets
 *	nothing). When every connection is up or failed (at most 60 s),
 *	print "ready ..." and hold them SECONDS; then close them all and
 *	print the totals.
 *   bench_tarpit rate ADDR PORT SECONDS CONCURRENCY [SRCBASE]
 *	Keep CONCURRENCY sessions going for SECONDS: connect, read up to
 *	and including the final "220 " line, send "EHLO bench.example",
 *	read one whole "250-" line, close. Source addresses rotate over
 *	127.0.0.(SRCBASE .. SRCBASE + 15) (default SRCBASE 200), so the
 *	TIME_WAIT sockets the client leaves do not use up the port range.
 *	Prints sessions per second (and this process's own CPU time: on
 *	a small machine the client may be what limits the rate).
 *
 * Needs: one descriptor per connection (keep N under the process limit;
 * run several processes for more). Exit status 0, or 1 on bad usage or
 * when nothing at all could be done.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT	24
#endif

#define WINDOW		256	/* pending connects per process */
#define PER_SRC		20000	/* connections per source address */
#define CONNECT_PHASE	60.0	/* seconds to get all N up */
#define CONNECT_TIMEOUT	15.0	/* seconds for one connect */
#define SESSION_TIMEOUT	5.0	/* seconds for one rate session */
#define RATE_SOURCES	16
#define BATCH		512

static const char ehlo[] = "EHLO bench.example\r\n";

enum state {
	S_FREE,
	S_CONNECTING,
	S_OPEN,		/* hold: connected; rate: waiting for the 220 */
	S_WAIT250,	/* rate: EHLO sent */
};

struct conn {
	uint8_t		state;
	uint8_t		col;		/* bytes of the current line, max 4 */
	bool		ehlo_sent;
	bool		got_data;
	bool		got_250;
	char		head[4];	/* first bytes of the current line */
	double		since;		/* connect started */
};

/* What went wrong, by kind. */
struct errors {
	unsigned long	refused, addrnotavail, timeout, reset, other;
};

static struct conn *conns;	/* indexed by descriptor */
static int nconns;
static int epfd;
static struct errors err;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
count_errno(int e)
{
	switch (e) {
	case ECONNREFUSED:
		err.refused++;
		break;
	case EADDRNOTAVAIL:
		err.addrnotavail++;
		break;
	case ETIMEDOUT:
		err.timeout++;
		break;
	case ECONNRESET:
	case EPIPE:
		err.reset++;
		break;
	default:
		err.other++;
		break;
	}
}

static void
die_usage(void)
{
	fprintf(stderr, "usage: bench_tarpit hold ADDR PORT N SECONDS SRCBASE\n"
	    "       bench_tarpit rate ADDR PORT SECONDS CONCURRENCY "
	    "[SRCBASE]\n");
	exit(1);
}

static long
number(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		die_usage();
	return v;
}

/* One slot per descriptor this process may have. */
static void
setup(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur > (1 << 20))
		rl.rlim_cur = 1 << 20;
	nconns = (int)rl.rlim_cur;
	conns = calloc((size_t)nconns, sizeof(*conns));
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (conns == NULL || epfd < 0) {
		perror("bench_tarpit: setup");
		exit(1);
	}
	signal(SIGPIPE, SIG_IGN);
}

/*
 * Start a non-blocking connect from src to dst; returns the descriptor,
 * or -1 with the error counted.
 */
static int
start_connect(const struct sockaddr_in *src, const struct sockaddr_in *dst)
{
	int fd, on = 1;
	struct epoll_event ev = { .events = EPOLLOUT };

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		count_errno(errno);
		return -1;
	}
	if (fd >= nconns) {
		close(fd);
		err.other++;
		return -1;
	}
	/* Pick the port at connect(), by the whole 4-tuple. */
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof(on));
	if (bind(fd, (const struct sockaddr *)src, sizeof(*src)) < 0 ||
	    (connect(fd, (const struct sockaddr *)dst, sizeof(*dst)) < 0 &&
	    errno != EINPROGRESS)) {
		count_errno(errno);
		close(fd);
		return -1;
	}
	ev.data.fd = fd;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		count_errno(errno);
		close(fd);
		return -1;
	}
	memset(&conns[fd], 0, sizeof(conns[fd]));
	conns[fd].state = S_CONNECTING;
	conns[fd].since = now_s();
	return fd;
}

static void
drop(int fd)
{
	conns[fd].state = S_FREE;
	close(fd);	/* also leaves the epoll set */
}

/* Did the pending connect on fd succeed? Counts the error if not. */
static bool
connect_done(int fd)
{
	int e = 0;
	socklen_t len = sizeof(e);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
		e = errno;
	if (e != 0) {
		count_errno(e);
		return false;
	}
	return true;
}

/*
 * Read what is there; track line starts. Returns the bytes read, 0 at
 * EOF, -1 on error (counted), -2 when there is nothing more for now.
 * *greeting / *got250 are set when a "220 " / "250-" line is complete.
 */
static ssize_t
read_some(int fd, bool *greeting, bool *got250)
{
	static char buf[16384];
	struct conn *c = &conns[fd];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return -2;
		count_errno(errno);
		return -1;
	}
	for (ssize_t i = 0; i < n; i++) {
		if (c->col < 4)
			c->head[c->col++] = buf[i];
		if (buf[i] != '\n')
			continue;
		if (c->col == 4 && memcmp(c->head, "220 ", 4) == 0)
			*greeting = true;
		if (c->col == 4 && memcmp(c->head, "250-", 4) == 0)
			*got250 = true;
		c->col = 0;
	}
	if (n > 0)
		c->got_data = true;
	return n;
}

static bool
send_ehlo(int fd)
{
	ssize_t n = send(fd, ehlo, sizeof(ehlo) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (n == (ssize_t)sizeof(ehlo) - 1)
		return true;
	if (n < 0)
		count_errno(errno);
	else
		err.other++;
	return false;
}

static struct sockaddr_in
ipv4(const char *text, unsigned port)
{
	struct sockaddr_in sa;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, text, &sa.sin_addr) != 1)
		die_usage();
	return sa;
}

static struct sockaddr_in
source(long base, long k)
{
	struct sockaddr_in sa;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)((base + k) & 255));
	return sa;
}

/* hold: counters over the whole run. */
struct hold_totals {
	unsigned long	attempted, established, greeted, ehlo_sent, got_250;
	unsigned long	got_data, closed_by_server, open;
};

/* Handle events on held connections until deadline. */
static void
hold_events(struct hold_totals *t, double deadline, unsigned *pending)
{
	struct epoll_event ev[BATCH];
	double now = now_s();
	int ms = deadline > now ? (int)((deadline - now) * 1000) + 1 : 0;
	int n = epoll_wait(epfd, ev, BATCH, ms > 200 ? 200 : ms);

	for (int i = 0; i < n; i++) {
		int fd = ev[i].data.fd;
		struct conn *c = &conns[fd];

		if (c->state == S_CONNECTING) {
			struct epoll_event in = { .events = EPOLLIN | EPOLLRDHUP,
			    .data.fd = fd };

			(*pending)--;
			if (!connect_done(fd)) {
				drop(fd);
				continue;
			}
			c->state = S_OPEN;
			t->established++;
			t->open++;
			epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &in);
			continue;
		}
		if (c->state != S_OPEN)
			continue;
		for (int r = 0; r < 8; r++) {
			bool greeting = false, got250 = false;
			bool had_data = c->got_data;
			ssize_t got = read_some(fd, &greeting, &got250);

			if (c->got_data && !had_data)
				t->got_data++;
			if (greeting && !c->ehlo_sent) {
				t->greeted++;
				c->ehlo_sent = true;
				if (send_ehlo(fd))
					t->ehlo_sent++;
			}
			if (got250 && !c->got_250) {
				c->got_250 = true;
				t->got_250++;
			}
			if (got == -2)
				break;
			if (got <= 0) {
				t->closed_by_server++;
				t->open--;
				drop(fd);
				break;
			}
		}
	}
}

static int
hold_main(int argc, char **argv)
{
	struct sockaddr_in dst;
	long n, seconds, srcbase;
	struct hold_totals t = { 0 };
	unsigned pending = 0;
	double start, ready, end;

	if (argc != 7)
		die_usage();
	dst = ipv4(argv[2], (unsigned)number(argv[3], 1, 65535));
	n = number(argv[4], 1, 1000000);
	seconds = number(argv[5], 0, 3600);
	srcbase = number(argv[6], 1, 254);
	setup();
	if (n > nconns - 16) {
		fprintf(stderr, "bench_tarpit: %ld connections need more than "
		    "the %d descriptors this process may have\n", n, nconns);
		return 1;
	}

	start = now_s();
	while (now_s() - start < CONNECT_PHASE &&
	    (t.attempted < (unsigned long)n || pending > 0)) {
		while (t.attempted < (unsigned long)n && pending < WINDOW) {
			struct sockaddr_in src = source(srcbase,
			    (long)t.attempted / PER_SRC);

			t.attempted++;
			if (start_connect(&src, &dst) >= 0)
				pending++;
		}
		hold_events(&t, now_s() + 0.05, &pending);
		/* Connects that take too long. */
		if (pending > 0) {
			double now = now_s();

			for (int fd = 0; fd < nconns; fd++)
				if (conns[fd].state == S_CONNECTING &&
				    now - conns[fd].since > CONNECT_TIMEOUT) {
					err.timeout++;
					pending--;
					drop(fd);
				}
		}
	}
	/* Still pending after the connect phase: give up on them. */
	for (int fd = 0; fd < nconns && pending > 0; fd++)
		if (conns[fd].state == S_CONNECTING) {
			err.timeout++;
			pending--;
			drop(fd);
		}
	ready = now_s();
	printf("ready attempted=%lu established=%lu errors=%lu "
	    "connect_seconds=%.2f\n", t.attempted, t.established,
	    err.refused + err.addrnotavail + err.timeout + err.reset + err.other,
	    ready - start);
	fflush(stdout);

	end = ready + (double)seconds;
	while (now_s() < end)
		hold_events(&t, end, &pending);

	for (int fd = 0; fd < nconns; fd++)
		if (conns[fd].state != S_FREE)
			drop(fd);
	printf("hold target=%ld attempted=%lu established=%lu got_data=%lu "
	    "greeted=%lu ehlo_sent=%lu got_250=%lu closed_by_server=%lu "
	    "open_at_end=%lu refused=%lu addrnotavail=%lu timeout=%lu "
	    "reset=%lu other_errors=%lu connect_seconds=%.2f\n",
	    n, t.attempted, t.established, t.got_data, t.greeted, t.ehlo_sent,
	    t.got_250, t.closed_by_server, t.open, err.refused,
	    err.addrnotavail, err.timeout, err.reset, err.other, ready - start);
	return t.established > 0 ? 0 : 1;
}

static int
rate_main(int argc, char **argv)
{
	struct sockaddr_in dst, srcs[RATE_SOURCES];
	long seconds, conc, srcbase = 200;
	unsigned long started = 0, done = 0, failed = 0;
	double start, end, last_check, lat_sum = 0;
	unsigned active = 0;
	struct rusage ru;

	if (argc != 6 && argc != 7)
		die_usage();
	dst = ipv4(argv[2], (unsigned)number(argv[3], 1, 65535));
	seconds = number(argv[4], 1, 3600);
	conc = number(argv[5], 1, 10000);
	if (argc == 7)
		srcbase = number(argv[6], 1, 255 - RATE_SOURCES);
	for (int i = 0; i < RATE_SOURCES; i++)
		srcs[i] = source(srcbase, i);
	setup();

	start = last_check = now_s();
	end = start + (double)seconds;
	for (;;) {
		struct epoll_event ev[BATCH];
		double now = now_s();
		int n;

		if (now >= end)
			break;
		/* Refill; an address that fails outright costs one try. */
		for (unsigned tries = 0; active < (unsigned)conc &&
		    tries < (unsigned)conc; tries++) {
			started++;
			if (start_connect(&srcs[started % RATE_SOURCES],
			    &dst) >= 0)
				active++;
			else
				failed++;
		}
		n = epoll_wait(epfd, ev, BATCH, 50);
		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;
			struct conn *c = &conns[fd];
			bool greeting = false, got250 = false, over = false;
			ssize_t got;

			if (c->state == S_CONNECTING) {
				struct epoll_event in = { .events = EPOLLIN |
				    EPOLLRDHUP, .data.fd = fd };

				if (!connect_done(fd)) {
					failed++;
					active--;
					drop(fd);
					continue;
				}
				c->state = S_OPEN;
				epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &in);
				continue;
			}
			do {
				got = read_some(fd, &greeting, &got250);
			} while (got > 0 && !(greeting || got250));
			if (c->state == S_OPEN && greeting) {
				if (!send_ehlo(fd)) {
					over = true;
					failed++;
				} else {
					c->state = S_WAIT250;
				}
			} else if (c->state == S_WAIT250 && got250) {
				done++;
				lat_sum += now_s() - c->since;
				over = true;
			} else if (got == 0 || got == -1) {
				if (got == 0)
					err.reset++;	/* closed early */
				failed++;
				over = true;
			}
			if (over) {
				active--;
				drop(fd);
			}
		}
		now = now_s();
		if (now - last_check > 0.2) {
			last_check = now;
			for (int fd = 0; fd < nconns; fd++)
				if (conns[fd].state != S_FREE &&
				    now - conns[fd].since > SESSION_TIMEOUT) {
					err.timeout++;
					failed++;
					active--;
					drop(fd);
				}
		}
	}
	end = now_s();
	for (int fd = 0; fd < nconns; fd++)
		if (conns[fd].state != S_FREE)
			drop(fd);
	getrusage(RUSAGE_SELF, &ru);
	printf("rate seconds=%.2f concurrency=%ld sessions=%lu failed=%lu "
	    "sessions_per_s=%.0f mean_session_ms=%.3f refused=%lu "
	    "addrnotavail=%lu timeout=%lu reset=%lu other_errors=%lu "
	    "client_cpu_s=%.2f\n",
	    end - start, conc, done, failed, (double)done / (end - start),
	    done > 0 ? lat_sum * 1000 / (double)done : 0.0, err.refused,
	    err.addrnotavail, err.timeout, err.reset, err.other,
	    (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	return done > 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	if (argc < 2)
		die_usage();
	if (strcmp(argv[1], "hold") == 0)
		return hold_main(argc, argv);
	if (strcmp(argv[1], "rate") == 0)
		return rate_main(argc, argv);
	die_usage();
	return 1;
}
