/*
 * bench_policy - a load generator for Postfix policy servers
 * (SMTPD_POLICY_README's protocol): slowspam-policyd and postgrey in
 * run-policy-bench.sh.
 *
 * Usage: bench_policy [-c CONNS] [-t SECONDS] [-w SECONDS] [-r RCPTS] [-d]
 *            [-p POOL] [-b BASE] TARGET
 *	TARGET	ADDR:PORT (IPv4) or unix:/abs/path
 *	-c	concurrent persistent connections, one thread each (1)
 *	-t	seconds timed (5)
 *	-w	seconds of warm-up before, sent alike but not counted (1)
 *	-r	RCPT requests per simulated SMTP session (1: every request
 *		is a new session)
 *	-d	each session also asks at DATA and END-OF-MESSAGE, after its
 *		RCPTs, as Postfix does with check_policy_service in
 *		smtpd_data_restrictions and smtpd_end_of_data_restrictions
 *	-p	client addresses the sessions cycle through (10000)
 *	-b	the first of them, IPv4 (198.18.0.1: RFC 2544's benchmark
 *		range, which no real client has)
 *
 * Every connection is opened before the clock starts, as Postfix's
 * proxymap-like policy clients keep theirs open (smtpd reuses one per
 * policy service for up to max_use requests). Each thread sends one
 * request, waits for the whole answer (up to the empty line), measures
 * the round trip, and sends the next: what one smtpd process does, so
 * CONNS is the number of smtpd processes asking at once.
 *
 * A request is what Postfix 3.7 sends (the 31 attributes of its
 * smtpd_check.c, empty ones included), for a session of one message to
 * RCPTS recipients: client_address from the pool (each session the next
 * one), client_port, instance and queue_id its own, recipient_count
 * counting up; server_address/server_port those of a primary MX. With
 * -d the DATA and END-OF-MESSAGE requests follow, with no recipient and
 * recipient_count RCPTS.
 *
 * Prints one line of key=value words: conns, requests (answered while
 * timed), errors (connections lost, answers malformed or late; each
 * lost connection is reopened), seconds, rate (requests per second),
 * p50_us, p99_us, max_us (round-trip latency in microseconds), then
 * answers: the first word of each action with its count, e.g.
 * "DUNNO=1234 PREPEND=56".
 *
 * Build: gcc -O2 -o bench_policy bench_policy.c -lpthread
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Kinds of answers told apart in the summary. */
#define NKINDS		16
/* Longest answer read; policy answers are one short line. */
#define ANSWER_MAX	4096
/* A server that does not answer within this is counted as an error. */
#define ANSWER_TIMEOUT_S 5

struct target {
	bool	unix_socket;
	struct sockaddr_un sun;
	struct sockaddr_in sin;
};

struct kind {
	char	word[32];
	uint64_t n;
};

struct worker {
	pthread_t thread;
	int	id;
	int	fd;
	uint64_t sent;		/* requests sent, warm-up too: the sequence */
	uint64_t answered;	/* while timed */
	uint64_t errors;
	uint32_t *lat;		/* microseconds, one per timed answer */
	size_t	nlat, cap;
	struct kind kinds[NKINDS];
	int	nkinds;
	char	buf[ANSWER_MAX];
};

static struct target target;
static int conns = 1, rcpts = 1;
static bool data_too;			/* -d */
static double seconds = 5, warmup = 1;
static uint32_t pool = 10000, base_addr;
static pthread_barrier_t start_barrier;
static atomic_int phase;		/* 0 warm-up, 1 timed, 2 done */

static void
die(const char *what)
{
	fprintf(stderr, "bench_policy: %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static int
parse_target(const char *s)
{
	char host[64];
	const char *colon;
	char *end;
	long port;

	memset(&target, 0, sizeof(target));
	if (strncmp(s, "unix:", 5) == 0) {
		if (strlen(s + 5) >= sizeof(target.sun.sun_path))
			return -1;
		target.unix_socket = true;
		target.sun.sun_family = AF_UNIX;
		strcpy(target.sun.sun_path, s + 5);
		return 0;
	}
	if ((colon = strrchr(s, ':')) == NULL ||
	    (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port < 1 || port > 65535)
		return -1;
	target.sin.sin_family = AF_INET;
	target.sin.sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &target.sin.sin_addr) == 1 ? 0 : -1;
}

/* A connected socket with a receive deadline, or -1. */
static int
open_conn(void)
{
	struct timeval tv = { ANSWER_TIMEOUT_S, 0 };
	int fd, one = 1, r;

	if (target.unix_socket) {
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		r = fd < 0 ? -1 : connect(fd, (struct sockaddr *)&target.sun,
		    sizeof(target.sun));
	} else {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd >= 0)
			/* Postfix's policy client writes a request at once. */
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
			    sizeof(one));
		r = fd < 0 ? -1 : connect(fd, (struct sockaddr *)&target.sin,
		    sizeof(target.sin));
	}
	if (r < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

/*
 * Request number seq of worker w: session seq / per of this worker, where
 * per is its requests (RCPTS, and DATA and END-OF-MESSAGE with -d), and
 * in it the (seq % per)-th. Sessions of all workers interleave over the
 * address pool.
 */
static int
format_request(const struct worker *w, uint64_t seq, char *out, size_t size)
{
	uint64_t per = (uint64_t)rcpts + (data_too ? 2 : 0);
	uint64_t session = seq / per;
	uint64_t global = session * (uint64_t)conns + (uint64_t)w->id;
	uint32_t a = base_addr + (uint32_t)(global % pool);
	unsigned idx = (unsigned)(seq % per);
	unsigned port = 1024 + (unsigned)(global * 7919 % 64000);
	const char *state = idx < (unsigned)rcpts ? "RCPT" :
	    idx == (unsigned)rcpts ? "DATA" : "END-OF-MESSAGE";
	char addr[INET_ADDRSTRLEN], rcpt[64] = "";
	struct in_addr in = { htonl(a) };

	inet_ntop(AF_INET, &in, addr, sizeof(addr));
	if (idx < (unsigned)rcpts)
		snprintf(rcpt, sizeof(rcpt), "user%u@primary.example", idx);
	return snprintf(out, size,
	    "request=smtpd_access_policy\n"
	    "protocol_state=%s\n"
	    "protocol_name=ESMTP\n"
	    "client_address=%s\n"
	    "client_name=unknown\n"
	    "client_port=%u\n"
	    "reverse_client_name=host-%s.dsl.example.net\n"
	    "server_address=192.0.2.10\n"
	    "server_port=25\n"
	    "helo_name=host-%s.dsl.example.net\n"
	    "sender=sender%llu@bench.example\n"
	    "recipient=%s\n"
	    "recipient_count=%u\n"
	    "queue_id=%llX\n"
	    "instance=%x.%llx.%x\n"
	    "size=4096\n"
	    "etrn_domain=\n"
	    "stress=\n"
	    "sasl_method=\n"
	    "sasl_username=\n"
	    "sasl_sender=\n"
	    "ccert_subject=\n"
	    "ccert_issuer=\n"
	    "ccert_fingerprint=\n"
	    "ccert_pubkey_fingerprint=\n"
	    "encryption_protocol=TLSv1.3\n"
	    "encryption_cipher=TLS_AES_256_GCM_SHA384\n"
	    "encryption_keysize=256\n"
	    "policy_context=\n"
	    "compatibility_level=3.6\n"
	    "mail_version=3.7.11\n"
	    "\n",
	    state, addr, port, addr, addr, (unsigned long long)session, rcpt,
	    idx < (unsigned)rcpts ? idx : (unsigned)rcpts,
	    (unsigned long long)global + 0x1A2B3C4D, (unsigned)w->id,
	    (unsigned long long)session, a);
}

/* Count the answer's action by its first word ("action=DUNNO\n\n"). */
static void
count_kind(struct worker *w, const char *answer)
{
	const char *p = answer;
	size_t n;
	int i;

	if (strncmp(p, "action=", 7) == 0)
		p += 7;
	n = strcspn(p, " \t\r\n");
	if (n >= sizeof(w->kinds[0].word))
		n = sizeof(w->kinds[0].word) - 1;
	for (i = 0; i < w->nkinds; i++)
		if (strlen(w->kinds[i].word) == n &&
		    memcmp(w->kinds[i].word, p, n) == 0)
			break;
	if (i == w->nkinds) {
		if (w->nkinds == NKINDS)
			i = NKINDS - 1;	/* the rest share the last one */
		else {
			memcpy(w->kinds[i].word, p, n);
			w->kinds[i].word[n] = '\0';
			w->nkinds++;
		}
	}
	w->kinds[i].n++;
}

/* Read one answer, up to its empty line: 0, or -1 (closed, late). */
static int
read_answer(struct worker *w)
{
	size_t have = 0;
	ssize_t n;

	for (;;) {
		if (have == sizeof(w->buf) - 1)
			return -1;
		n = read(w->fd, w->buf + have, sizeof(w->buf) - 1 - have);
		if (n <= 0)
			return -1;
		have += (size_t)n;
		w->buf[have] = '\0';
		/* One request at a time: the answer ends the bytes read. */
		if (have >= 2 && memcmp(w->buf + have - 2, "\n\n", 2) == 0)
			return strncmp(w->buf, "action=", 7) == 0 ? 0 : -1;
	}
}

static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void
record(struct worker *w, uint32_t us)
{
	if (w->nlat == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 65536;
		if ((w->lat = realloc(w->lat, w->cap * sizeof(*w->lat))) == NULL)
			die("realloc");
	}
	w->lat[w->nlat++] = us;
}

static void *
run_worker(void *arg)
{
	struct worker *w = arg;
	char req[4096];
	uint64_t t0;
	int len, ph;

	pthread_barrier_wait(&start_barrier);
	while ((ph = atomic_load(&phase)) != 2) {
		if (w->fd < 0 && (w->fd = open_conn()) < 0) {
			if (ph == 1)
				w->errors++;
			usleep(10000);
			continue;
		}
		len = format_request(w, w->sent++, req, sizeof(req));
		t0 = now_us();
		if (write_all(w->fd, req, (size_t)len) < 0 ||
		    read_answer(w) < 0) {
			if (ph == 1)
				w->errors++;
			close(w->fd);
			w->fd = -1;
			continue;
		}
		/* An answer that straddles the end of the timed part is not
		 * counted: only those begun and ended in it. */
		if (ph == 1 && atomic_load(&phase) == 1) {
			record(w, (uint32_t)(now_us() - t0));
			w->answered++;
			count_kind(w, w->buf);
		}
	}
	return NULL;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void
sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Merge the workers' answers into one summary line. */
static void
report(struct worker *ws, double elapsed)
{
	struct kind all[NKINDS];
	uint64_t answered = 0, errors = 0;
	uint32_t *lat;
	size_t n = 0, off = 0;
	int nall = 0, i, j, k;

	for (i = 0; i < conns; i++) {
		answered += ws[i].answered;
		errors += ws[i].errors;
		n += ws[i].nlat;
	}
	if ((lat = malloc((n ? n : 1) * sizeof(*lat))) == NULL)
		die("malloc");
	for (i = 0; i < conns; i++) {
		memcpy(lat + off, ws[i].lat, ws[i].nlat * sizeof(*lat));
		off += ws[i].nlat;
	}
	qsort(lat, n, sizeof(*lat), cmp_u32);
	for (i = 0; i < conns; i++)
		for (j = 0; j < ws[i].nkinds; j++) {
			for (k = 0; k < nall; k++)
				if (strcmp(all[k].word, ws[i].kinds[j].word) == 0)
					break;
			if (k == nall) {
				if (nall == NKINDS)
					continue;
				all[nall++] = ws[i].kinds[j];
			} else
				all[k].n += ws[i].kinds[j].n;
		}
	printf("conns=%d requests=%llu errors=%llu seconds=%.2f rate=%.0f "
	    "p50_us=%u p99_us=%u max_us=%u", conns,
	    (unsigned long long)answered, (unsigned long long)errors, elapsed,
	    (double)answered / elapsed, n ? lat[n / 2] : 0,
	    n ? lat[n * 99 / 100] : 0, n ? lat[n - 1] : 0);
	for (k = 0; k < nall; k++)
		printf(" %s=%llu", all[k].word, (unsigned long long)all[k].n);
	printf("\n");
	free(lat);
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench_policy [-c CONNS] [-t SECONDS] "
	    "[-w SECONDS] [-r RCPTS] [-d] [-p POOL] [-b BASE] "
	    "ADDR:PORT|unix:PATH\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct worker *ws;
	struct in_addr b;
	uint64_t t0, t1;
	int c, i;

	inet_pton(AF_INET, "198.18.0.1", &b);
	base_addr = ntohl(b.s_addr);
	while ((c = getopt(argc, argv, "c:t:w:r:dp:b:")) != -1) {
		switch (c) {
		case 'c': conns = atoi(optarg); break;
		case 't': seconds = atof(optarg); break;
		case 'w': warmup = atof(optarg); break;
		case 'r': rcpts = atoi(optarg); break;
		case 'd': data_too = true; break;
		case 'p': pool = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'b':
			if (inet_pton(AF_INET, optarg, &b) != 1)
				usage();
			base_addr = ntohl(b.s_addr);
			break;
		default: usage();
		}
	}
	if (optind != argc - 1 || conns < 1 || conns > 4096 || rcpts < 1 ||
	    pool < 1 || seconds <= 0 || warmup < 0)
		usage();
	if (parse_target(argv[optind]) < 0) {
		fprintf(stderr, "bench_policy: bad target %s\n", argv[optind]);
		return 2;
	}
	if ((ws = calloc((size_t)conns, sizeof(*ws))) == NULL)
		die("calloc");
	/* Every connection before the clock starts. */
	for (i = 0; i < conns; i++) {
		ws[i].id = i;
		if ((ws[i].fd = open_conn()) < 0) {
			fprintf(stderr, "bench_policy: connect %s: %s\n",
			    argv[optind], strerror(errno));
			while (i-- > 0)
				close(ws[i].fd);
			free(ws);
			return 1;
		}
	}
	pthread_barrier_init(&start_barrier, NULL, (unsigned)conns + 1);
	for (i = 0; i < conns; i++)
		if ((errno = pthread_create(&ws[i].thread, NULL, run_worker,
		    &ws[i])) != 0)
			die("pthread_create");
	pthread_barrier_wait(&start_barrier);
	sleep_s(warmup);
	t0 = now_us();
	atomic_store(&phase, 1);
	sleep_s(seconds);
	atomic_store(&phase, 2);
	t1 = now_us();
	for (i = 0; i < conns; i++) {
		pthread_join(ws[i].thread, NULL);
		if (ws[i].fd >= 0)
			close(ws[i].fd);
	}
	report(ws, (double)(t1 - t0) / 1e6);
	for (i = 0; i < conns; i++)
		free(ws[i].lat);
	free(ws);
	return 0;
}
