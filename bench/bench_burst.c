/*
 * bench_burst - one burst of connections against a tar pit on loopback:
 * how many get in at once, and how soon each is answered. Prints
 * numbers; not a test. Bounded in connections and time.
 *
 * Usage:
 *   bench_burst ADDR PORT N SRC SECONDS [START_MS]
 *	Open N connections from 127.0.0.SRC as fast as connect() goes: no
 *	window, each socket non-blocking, bound to SRC (the kernel picks
 *	the port at connect, IP_BIND_ADDRESS_NO_PORT). With START_MS (a
 *	CLOCK_REALTIME instant in ms), wait for it first, so several
 *	processes burst together. Then read and discard what the server
 *	sends until every connection got its first byte or failed, or
 *	SECONDS passed. Times are from the start of the burst:
 *	connect_all, when the last connect completed; first_byte p50 /
 *	p99 / max, and all, when the last connection got its first byte
 *	(a tar pit that greets on accept: the time to accept them all).
 *	A connect that took a second or more from its connect() call
 *	had its SYN sent again (slow_connects: the first was dropped,
 *	usually a full accept queue); completions are seen only after the
 *	whole burst was issued, so with burst_ms near a second or more
 *	this also counts connects that were only waiting for the process.
 *	Failed connects are counted by errno: refused (also a
 *	reset before the first byte), timed out (not connected, or no
 *	byte, by the end), other.
 *	At the end every socket is reset (SO_LINGER 0), so no TIME_WAIT
 *	is left for the next burst.
 *
 * Needs: N + a few descriptors (keep N under the process limit; run
 * several processes, each from its own SRC, for more). Exit status 0,
 * or 1 on bad usage or when nothing at all could be done.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
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

#define BATCH		512
#define MAX_CONNS	1000000

enum state { S_CONNECTING, S_OPEN, S_DONE, S_FAILED };

struct conn {
	int	fd;
	uint8_t	state;
	double	issued;	/* connect() called, s after the burst start */
	double	connected;	/* s after the burst start, or -1 */
	double	first_byte;	/* likewise */
};

static double
now_s(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
pct(const double *v, size_t n, double p)
{
	if (n == 0)
		return -1;
	return v[(size_t)(p * (double)(n - 1))];
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench_burst ADDR PORT N SRC SECONDS "
	    "[START_MS]\n");
	exit(1);
}

int
main(int argc, char **argv)
{
	struct sockaddr_in dst = { .sin_family = AF_INET }, src = dst;
	struct epoll_event ev[BATCH];
	struct rlimit rl;
	struct conn *c;
	double t0, *firsts;
	size_t n, nfirst = 0, open_left = 0;
	unsigned refused = 0, timed_out = 0, other = 0, slow = 0;
	unsigned connected = 0, issued = 0;
	double connect_all = 0, burst_s, seconds;
	int ep;

	if (argc != 6 && argc != 7)
		usage();
	if (inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1 ||
	    (ntohl(dst.sin_addr.s_addr) >> 24) != 127)
		usage();
	dst.sin_port = htons((uint16_t)atoi(argv[2]));
	n = (size_t)strtoul(argv[3], NULL, 10);
	src.sin_addr.s_addr = htonl(0x7f000000u | ((unsigned)atoi(argv[4]) &
	    0xff));
	seconds = atof(argv[5]);
	if (n == 0 || n > MAX_CONNS || seconds <= 0)
		usage();
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if ((c = calloc(n, sizeof(*c))) == NULL ||
	    (firsts = calloc(n, sizeof(*firsts))) == NULL ||
	    (ep = epoll_create1(0)) < 0) {
		perror("bench_burst");
		return 1;
	}
	if (argc == 7) {
		double start = atof(argv[6]) / 1000;

		while (now_s(CLOCK_REALTIME) < start)
			usleep(1000);
	}

	t0 = now_s(CLOCK_MONOTONIC);
	for (size_t i = 0; i < n; i++) {
		int on = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		struct epoll_event e = { .events = EPOLLIN | EPOLLOUT |
		    EPOLLRDHUP, .data.u64 = i };

		c[i].fd = -1;
		c[i].connected = c[i].first_byte = -1;
		c[i].state = S_FAILED;
		if (fd < 0) {
			other++;
			continue;
		}
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on,
		    sizeof(on));
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0 ||
		    (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0 &&
		    errno != EINPROGRESS)) {
			if (errno == ECONNREFUSED)
				refused++;
			else
				other++;
			close(fd);
			continue;
		}
		c[i].fd = fd;
		c[i].issued = now_s(CLOCK_MONOTONIC) - t0;
		c[i].state = S_CONNECTING;
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
		issued++;
		open_left++;
	}
	burst_s = now_s(CLOCK_MONOTONIC) - t0;

	while (open_left > 0 && now_s(CLOCK_MONOTONIC) - t0 < seconds) {
		int k = epoll_wait(ep, ev, BATCH, 100);
		double t = now_s(CLOCK_MONOTONIC) - t0;

		for (int j = 0; j < k; j++) {
			struct conn *x = &c[ev[j].data.u64];
			char buf[4096];
			ssize_t r;

			if (x->state == S_CONNECTING) {
				int err = 0;
				socklen_t len = sizeof(err);
				/* Only reads from now on. */
				struct epoll_event e = { .events = EPOLLIN |
				    EPOLLRDHUP, .data.u64 = ev[j].data.u64 };

				getsockopt(x->fd, SOL_SOCKET, SO_ERROR, &err, &len);
				if (err != 0) {
					if (err == ECONNREFUSED || err == ECONNRESET)
						refused++;
					else if (err == ETIMEDOUT)
						timed_out++;
					else
						other++;
					x->state = S_FAILED;
					epoll_ctl(ep, EPOLL_CTL_DEL, x->fd, NULL);
					open_left--;
					continue;
				}
				x->state = S_OPEN;
				x->connected = t;
				connected++;
				if (t > connect_all)
					connect_all = t;
				if (t - x->issued >= 1.0)
					slow++;
				epoll_ctl(ep, EPOLL_CTL_MOD, x->fd, &e);
			}
			if (x->state != S_OPEN)
				continue;
			r = recv(x->fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (r > 0) {
				x->first_byte = t;
				firsts[nfirst++] = t;
				x->state = S_DONE;
			} else if (r < 0 && errno == EAGAIN) {
				continue;
			} else {
				refused++;
				x->state = S_FAILED;
			}
			/* Answered or gone: nothing more to watch. */
			epoll_ctl(ep, EPOLL_CTL_DEL, x->fd, NULL);
			open_left--;
		}
	}
	timed_out += (unsigned)open_left;

	for (size_t i = 0; i < n; i++) {
		struct linger lg = { 1, 0 };

		if (c[i].fd < 0)
			continue;
		setsockopt(c[i].fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(c[i].fd);
	}
	qsort(firsts, nfirst, sizeof(*firsts), cmp_double);
	printf("burst src=%s n=%zu issued=%u burst_ms=%.0f connected=%u "
	    "slow_connects=%u connect_all_ms=%.0f answered=%zu "
	    "first_byte_p50_ms=%.0f first_byte_p99_ms=%.0f "
	    "first_byte_all_ms=%.0f refused=%u timed_out=%u other=%u\n",
	    inet_ntoa(src.sin_addr), n, issued, burst_s * 1000, connected,
	    slow, connect_all * 1000, nfirst, pct(firsts, nfirst, 0.5) * 1000,
	    pct(firsts, nfirst, 0.99) * 1000,
	    nfirst > 0 ? firsts[nfirst - 1] * 1000 : -1, refused, timed_out,
	    other);
	return issued > 0 ? 0 : 1;
}
