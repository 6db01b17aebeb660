/*
 * bench_flood - abuse load for a tar pit on loopback (issue 12: no
 * flood, slow peer or stalled log stops the tar pit), and the clients
 * that measure whether it kept working. Prints numbers; not a test.
 * Every mode is bounded in time and in connections, and stops by
 * itself. Addresses must be in 127.0.0.0/8: anything else is refused.
 *
 * Usage:
 *   bench_flood held ADDR PORT N SECONDS SRC DRIP_MS
 *	Open N connections from 127.0.0.SRC; after the final "220 " send
 *	"EHLO bench.example" once, then read the drip. When every
 *	connection got its first "250-" line (at most 60 s), print
 *	"ready ..." and measure for SECONDS: the lateness of each "250-"
 *	line that arrives, its gap from the one before minus DRIP_MS.
 *	At the end a connection still open whose last line is more than
 *	1.5 DRIP_MS old adds that open gap minus DRIP_MS too (at least that
 *	late: so a tar pit that stopped shows, instead of giving no
 *	samples; counted as overdue_at_end, and as stalled_at_end when
 *	more than two intervals old). Prints p50, p99 and max in ms, and
 *	the counts.
 *   bench_flood probe ADDR PORT SECONDS INTERVAL_MS SRC
 *	Every INTERVAL_MS for SECONDS, a new connection from 127.0.0.SRC;
 *	time to first byte = from the start of connect() to the first
 *	byte received (the "220-" teaser); then close it. A probe still
 *	unanswered at the end counts with the time it waited (at least).
 *	Prints p50, p99 and max in ms, answered and unanswered.
 *   bench_flood flood ADDR PORT SECONDS RATE NET [speak]
 *	Connect-and-reset at RATE connections/s for SECONDS: non-blocking
 *	connects, up to FLOOD_WINDOW in flight, source addresses rotating
 *	over 127.NET.0.0 .. 127.NET.255.255 (256 /24s, 65,536 /32s); as
 *	soon as a connect completes the socket gets SO_LINGER {1, 0} and
 *	is closed: an RST. A connect not done in 1 s is reset the same
 *	way and counted as timed out. Prints the achieved rate. With
 *	"speak", each sends "EHLO flood.example" before its reset, so a
 *	tar pit that records sessions which said something records each.
 *   bench_flood silent ADDR PORT SECONDS PER_S KEEP_S SRC
 *	PER_S new connections a second from 127.0.0.SRC (meant for
 *	metrics_listen) that send nothing; each is closed after KEEP_S
 *	(or at the end). Counts those the server closed first.
 *
 * Needs: one descriptor per open connection, under the process limit.
 * Exit status 0, or 1 on bad usage or when nothing could be done.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
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

#define WINDOW		256	/* pending connects, held */
#define FLOOD_WINDOW	8192	/* pending connects, flood */
#define FLOOD_TIMEOUT	1.0	/* s for one flood connect */
#define READY_PHASE	60.0	/* s to get all held connections dripping */
#define BATCH		512

static const char ehlo[] = "EHLO bench.example\r\n";

enum state { S_FREE, S_CONNECTING, S_OPEN };

struct conn {
	uint8_t		state;
	uint8_t		col;		/* bytes of the current line, max 4 */
	bool		ehlo_sent;
	bool		got_250;
	char		head[4];	/* first bytes of the current line */
	double		since;		/* connect started */
	double		last;		/* last "250-" line (held) */
};

struct errors {
	unsigned long	refused, addrnotavail, timeout, reset, other;
};

/* Samples in ms, grown as needed. */
struct samples {
	double		*v;
	size_t		n, size;
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

static unsigned long
errors_total(void)
{
	return err.refused + err.addrnotavail + err.timeout + err.reset +
	    err.other;
}

static void
die_usage(void)
{
	fprintf(stderr,
	    "usage: bench_flood held ADDR PORT N SECONDS SRC DRIP_MS\n"
	    "       bench_flood probe ADDR PORT SECONDS INTERVAL_MS SRC\n"
	    "       bench_flood flood ADDR PORT SECONDS RATE NET [speak]\n"
	    "       bench_flood silent ADDR PORT SECONDS PER_S KEEP_S SRC\n"
	    "ADDR in 127.0.0.0/8; sources 127.0.0.SRC, flood 127.NET.x.y\n");
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

static void
add(struct samples *s, double ms)
{
	if (s->n == s->size) {
		size_t size = s->size ? s->size * 2 : 4096;
		double *v = realloc(s->v, size * sizeof(*v));

		if (v == NULL) {
			perror("bench_flood: samples");
			exit(1);
		}
		s->v = v;
		s->size = size;
	}
	s->v[s->n++] = ms;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile (p in 0..1) of sorted samples; 0 if none. */
static double
pct(const struct samples *s, double p)
{
	double rank = p * (double)s->n;
	size_t k = (size_t)rank;

	if (s->n == 0)
		return 0;
	if ((double)k < rank)
		k++;	/* ceil */
	return s->v[k > 0 ? k - 1 : 0];
}

/* "PREFIX_p50_ms=.. PREFIX_p99_ms=.. PREFIX_max_ms=.." (sorts s). */
static void
print_pcts(const char *prefix, struct samples *s)
{
	qsort(s->v, s->n, sizeof(*s->v), cmp_double);
	printf("%s_n=%zu %s_p50_ms=%.1f %s_p99_ms=%.1f %s_max_ms=%.1f", prefix,
	    s->n, prefix, pct(s, 0.50), prefix, pct(s, 0.99), prefix,
	    s->n ? s->v[s->n - 1] : 0.0);
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
		perror("bench_flood: setup");
		exit(1);
	}
	signal(SIGPIPE, SIG_IGN);
}

/* A loopback address, or usage. */
static struct sockaddr_in
ipv4(const char *text, unsigned port)
{
	struct sockaddr_in sa;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, text, &sa.sin_addr) != 1 ||
	    (ntohl(sa.sin_addr.s_addr) >> 24) != 127)
		die_usage();
	return sa;
}

static struct sockaddr_in
source(uint32_t host)
{
	struct sockaddr_in sa;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(0x7f000000u | (host & 0xffffffu));
	return sa;
}

/*
 * Start a non-blocking connect from src to dst, watched for events;
 * returns the descriptor, or -1 with the error counted.
 */
static int
start_connect(const struct sockaddr_in *src, const struct sockaddr_in *dst,
    uint32_t events, double now)
{
	int fd, on = 1;
	struct epoll_event ev = { .events = events };

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
	conns[fd].since = now;
	return fd;
}

static void
drop(int fd)
{
	conns[fd].state = S_FREE;
	close(fd);	/* also leaves the epoll set */
}

/* Close with an RST: SO_LINGER {1, 0}. */
static void
reset(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	drop(fd);
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

static void
watch_input(int fd)
{
	struct epoll_event in = { .events = EPOLLIN | EPOLLRDHUP, .data.fd = fd };

	epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &in);
}

static int
wait_ms(double deadline, double now, int cap)
{
	int ms = deadline > now ? (int)((deadline - now) * 1000) + 1 : 0;

	return ms > cap ? cap : ms;
}

/* --- held ----------------------------------------------------------- */

struct held {
	unsigned long	established, ehlo_sent, dripping, lines, closed;
	unsigned long	got_421, open;
	double		window;		/* measuring from; 0: not yet */
	double		drip;		/* s */
	struct samples	late;
};

/* Bytes from a held connection: lines, EHLO, drip arrivals. */
static void
held_readable(struct held *h, int fd, double now)
{
	static char buf[16384];
	struct conn *c = &conns[fd];

	for (int r = 0; r < 8; r++) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR))
			return;
		if (n <= 0) {
			if (n < 0)
				count_errno(errno);
			h->closed++;
			h->open--;
			drop(fd);
			return;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (c->col < 4)
				c->head[c->col++] = buf[i];
			if (buf[i] != '\n')
				continue;
			if (c->col == 4 && memcmp(c->head, "220 ", 4) == 0 &&
			    !c->ehlo_sent) {
				c->ehlo_sent = true;
				if (send(fd, ehlo, sizeof(ehlo) - 1,
				    MSG_NOSIGNAL | MSG_DONTWAIT) ==
				    (ssize_t)sizeof(ehlo) - 1)
					h->ehlo_sent++;
				else
					err.other++;
			}
			if (c->col == 4 && memcmp(c->head, "250-", 4) == 0) {
				if (!c->got_250) {
					c->got_250 = true;
					h->dripping++;
				} else if (h->window > 0) {
					h->lines++;
					add(&h->late, (now - c->last -
					    h->drip) * 1000);
				}
				c->last = now;
			}
			if (c->col >= 3 && memcmp(c->head, "421", 3) == 0)
				h->got_421++;
			c->col = 0;
		}
	}
}

static void
held_events(struct held *h, double deadline, unsigned *pending)
{
	struct epoll_event ev[BATCH];
	int n = epoll_wait(epfd, ev, BATCH, wait_ms(deadline, now_s(), 100));
	double now = now_s();

	for (int i = 0; i < n; i++) {
		int fd = ev[i].data.fd;

		if (conns[fd].state == S_CONNECTING) {
			(*pending)--;
			if (!connect_done(fd)) {
				drop(fd);
				continue;
			}
			conns[fd].state = S_OPEN;
			h->established++;
			h->open++;
			watch_input(fd);
		} else if (conns[fd].state == S_OPEN) {
			held_readable(h, fd, now);
		}
	}
}

static int
held_main(int argc, char **argv)
{
	struct sockaddr_in dst, src;
	long n, seconds, drip_ms;
	struct held h = { 0 };
	unsigned long attempted = 0, overdue = 0, stalled = 0;
	unsigned pending = 0;
	double start, end;

	if (argc != 8)
		die_usage();
	dst = ipv4(argv[2], (unsigned)number(argv[3], 1, 65535));
	n = number(argv[4], 1, 19000);
	seconds = number(argv[5], 1, 3600);
	src = source((uint32_t)number(argv[6], 1, 254));
	drip_ms = number(argv[7], 1, 3600000);
	h.drip = (double)drip_ms / 1000;
	setup();

	start = now_s();
	while (now_s() - start < READY_PHASE) {
		while (attempted < (unsigned long)n && pending < WINDOW) {
			attempted++;
			if (start_connect(&src, &dst, EPOLLOUT, now_s()) >= 0)
				pending++;
		}
		held_events(&h, now_s() + 0.05, &pending);
		if (attempted == (unsigned long)n && pending == 0 &&
		    h.dripping >= h.open)
			break;
	}
	h.window = now_s();
	printf("ready attempted=%lu established=%lu dripping=%lu open=%lu "
	    "errors=%lu ready_seconds=%.2f\n", attempted, h.established,
	    h.dripping, h.open, errors_total(), h.window - start);
	fflush(stdout);

	end = h.window + (double)seconds;
	while (now_s() < end)
		held_events(&h, end, &pending);
	end = now_s();
	/* Open gaps: a line that should have come and did not. */
	for (int fd = 0; fd < nconns; fd++) {
		struct conn *c = &conns[fd];
		double gap;

		if (c->state != S_OPEN || !c->got_250)
			continue;
		gap = end - (c->last > h.window ? c->last : h.window);
		/* Half an interval past due: missed, not about to come. */
		if (gap > 1.5 * h.drip) {
			overdue++;
			add(&h.late, (gap - h.drip) * 1000);
		}
		if (gap > 2 * h.drip)
			stalled++;
	}
	for (int fd = 0; fd < nconns; fd++)
		if (conns[fd].state != S_FREE)
			drop(fd);
	printf("held clients=%ld established=%lu dripping=%lu lines=%lu "
	    "expected=%.0f open_at_end=%lu overdue_at_end=%lu "
	    "stalled_at_end=%lu closed_by_server=%lu got_421=%lu errors=%lu ",
	    n, h.established, h.dripping, h.lines,
	    (double)h.dripping * (double)seconds / h.drip, h.open, overdue,
	    stalled, h.closed, h.got_421, errors_total());
	print_pcts("late", &h.late);
	printf(" seconds=%.2f\n", end - h.window);
	return h.established > 0 ? 0 : 1;
}

/* --- probe ---------------------------------------------------------- */

static int
probe_main(int argc, char **argv)
{
	struct sockaddr_in dst, src;
	long seconds, interval_ms;
	unsigned long started = 0, answered = 0, unanswered = 0, failed = 0;
	struct samples ttfb = { 0 };
	double start, end, next;
	char buf[512];

	if (argc != 7)
		die_usage();
	dst = ipv4(argv[2], (unsigned)number(argv[3], 1, 65535));
	seconds = number(argv[4], 1, 3600);
	interval_ms = number(argv[5], 10, 60000);
	src = source((uint32_t)number(argv[6], 1, 254));
	setup();

	start = next = now_s();
	end = start + (double)seconds;
	for (;;) {
		struct epoll_event ev[BATCH];
		double now = now_s();
		int n;

		if (now >= end)
			break;
		if (now >= next) {
			next += (double)interval_ms / 1000;
			started++;
			/* Readable (the first byte) implies connected. */
			if (start_connect(&src, &dst, EPOLLIN | EPOLLRDHUP,
			    now) < 0)
				failed++;
		}
		n = epoll_wait(epfd, ev, BATCH, wait_ms(next < end ? next : end,
		    now_s(), 100));
		now = now_s();
		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;
			ssize_t got = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

			if (got > 0) {
				answered++;
				add(&ttfb, (now - conns[fd].since) * 1000);
			} else if (got < 0 && (errno == EAGAIN ||
			    errno == EINTR)) {
				continue;
			} else {
				if (got < 0)
					count_errno(errno);
				else
					err.reset++;	/* closed, no byte */
				failed++;
			}
			drop(fd);
		}
	}
	end = now_s();
	for (int fd = 0; fd < nconns; fd++)
		if (conns[fd].state != S_FREE) {
			unanswered++;
			add(&ttfb, (end - conns[fd].since) * 1000);
			drop(fd);
		}
	printf("probe started=%lu answered=%lu unanswered_at_end=%lu "
	    "failed=%lu ", started, answered, unanswered, failed);
	print_pcts("ttfb", &ttfb);
	printf(" refused=%lu reset=%lu other_errors=%lu seconds=%.2f\n",
	    err.refused, err.reset, err.other + err.addrnotavail + err.timeout,
	    end - start);
	return started > 0 ? 0 : 1;
}

/* --- flood ---------------------------------------------------------- */

static int
flood_main(int argc, char **argv)
{
	struct sockaddr_in dst;
	long seconds, rate;
	uint32_t net;
	unsigned long started = 0, done = 0, timedout = 0, failed = 0;
	unsigned pending = 0;
	double start, end, last_check;
	struct rusage ru;

	static const char ehlo_line[] = "EHLO flood.example\r\n";
	bool speak;

	if (argc != 7 && !(argc == 8 && strcmp(argv[7], "speak") == 0))
		die_usage();
	speak = argc == 8;
	dst = ipv4(argv[2], (unsigned)number(argv[3], 1, 65535));
	seconds = number(argv[4], 1, 3600);
	rate = number(argv[5], 1, 1000000);
	net = (uint32_t)number(argv[6], 1, 254);
	setup();

	start = last_check = now_s();
	end = start + (double)seconds;
	for (;;) {
		struct epoll_event ev[BATCH];
		double now = now_s(), due;
		int n;

		if (now >= end)
			break;
		/* Paced; behind by more than 0.1 s of connects: let go. */
		due = (now - start) * (double)rate;
		if (due - (double)started > (double)rate / 10)
			started = (unsigned long)(due - (double)rate / 10);
		while ((double)started < due && pending < FLOOD_WINDOW) {
			/* 127.NET.x.y, x.y rotating over all 65,536. */
			struct sockaddr_in src = source(net << 16 |
			    (uint32_t)(started & 0xffff));

			started++;
			if (start_connect(&src, &dst, EPOLLOUT, now) >= 0)
				pending++;
			else
				failed++;
		}
		n = epoll_wait(epfd, ev, BATCH, 1);
		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;

			if (conns[fd].state != S_CONNECTING)
				continue;
			pending--;
			if (connect_done(fd)) {
				done++;
				/* Into the socket buffer; the RST follows it. */
				if (speak && send(fd, ehlo_line,
				    sizeof(ehlo_line) - 1, MSG_NOSIGNAL |
				    MSG_DONTWAIT) < 0)
					err.other++;
				reset(fd);
			} else {
				failed++;
				drop(fd);
			}
		}
		now = now_s();
		if (now - last_check > 0.1) {
			last_check = now;
			for (int fd = 0; fd < nconns && pending > 0; fd++)
				if (conns[fd].state == S_CONNECTING &&
				    now - conns[fd].since > FLOOD_TIMEOUT) {
					timedout++;
					pending--;
					reset(fd);
				}
		}
	}
	end = now_s();
	for (int fd = 0; fd < nconns; fd++)
		if (conns[fd].state != S_FREE) {
			timedout++;
			reset(fd);
		}
	getrusage(RUSAGE_SELF, &ru);
	printf("flood net=127.%u.0.0/16 target_per_s=%ld attempted=%lu "
	    "reset_after_connect=%lu timed_out=%lu failed=%lu "
	    "achieved_per_s=%.0f refused=%lu addrnotavail=%lu "
	    "other_errors=%lu client_cpu_s=%.2f seconds=%.2f\n", net, rate,
	    done + timedout + failed, done, timedout, failed,
	    (double)done / (end - start), err.refused, err.addrnotavail,
	    err.other + err.reset + err.timeout,
	    (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6,
	    end - start);
	return done > 0 ? 0 : 1;
}

/* --- silent --------------------------------------------------------- */

static int
silent_main(int argc, char **argv)
{
	struct sockaddr_in dst, src;
	long seconds, per_s, keep_s;
	unsigned long started = 0, connected = 0, failed = 0;
	unsigned long server_closed = 0, we_closed = 0;
	double start, end, next, last_check;
	char buf[512];

	if (argc != 8)
		die_usage();
	dst = ipv4(argv[2], (unsigned)number(argv[3], 1, 65535));
	seconds = number(argv[4], 1, 3600);
	per_s = number(argv[5], 1, 1000);
	keep_s = number(argv[6], 1, 3600);
	src = source((uint32_t)number(argv[7], 1, 254));
	setup();

	start = next = last_check = now_s();
	end = start + (double)seconds;
	for (;;) {
		struct epoll_event ev[BATCH];
		double now = now_s();
		int n;

		if (now >= end)
			break;
		if (now >= next) {
			next += 1.0 / (double)per_s;
			started++;
			if (start_connect(&src, &dst, EPOLLOUT, now) < 0)
				failed++;
		}
		n = epoll_wait(epfd, ev, BATCH, wait_ms(next < end ? next : end,
		    now_s(), 100));
		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;

			if (conns[fd].state == S_CONNECTING) {
				if (!connect_done(fd)) {
					failed++;
					drop(fd);
					continue;
				}
				conns[fd].state = S_OPEN;
				connected++;
				watch_input(fd);
			} else if (conns[fd].state == S_OPEN) {
				ssize_t got = recv(fd, buf, sizeof(buf),
				    MSG_DONTWAIT);

				if (got < 0 && (errno == EAGAIN ||
				    errno == EINTR))
					continue;
				/* The server gave up on us first. */
				server_closed++;
				drop(fd);
			}
		}
		now = now_s();
		if (now - last_check > 0.05) {
			last_check = now;
			for (int fd = 0; fd < nconns; fd++)
				if (conns[fd].state != S_FREE &&
				    now - conns[fd].since > (double)keep_s) {
					if (conns[fd].state == S_OPEN)
						we_closed++;
					else
						failed++;
					drop(fd);
				}
		}
	}
	end = now_s();
	for (int fd = 0; fd < nconns; fd++)
		if (conns[fd].state != S_FREE) {
			if (conns[fd].state == S_OPEN)
				we_closed++;
			drop(fd);
		}
	printf("silent started=%lu connected=%lu failed=%lu server_closed=%lu "
	    "we_closed=%lu errors=%lu seconds=%.2f\n", started, connected,
	    failed, server_closed, we_closed, errors_total(), end - start);
	return connected > 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	if (argc < 2)
		die_usage();
	if (strcmp(argv[1], "held") == 0)
		return held_main(argc, argv);
	if (strcmp(argv[1], "probe") == 0)
		return probe_main(argc, argv);
	if (strcmp(argv[1], "flood") == 0)
		return flood_main(argc, argv);
	if (strcmp(argv[1], "silent") == 0)
		return silent_main(argc, argv);
	die_usage();
	return 1;
}
