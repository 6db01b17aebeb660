/*
 * bench_milter_noop - a milter that does nothing, the baseline for
 * slowspam-milter in run-milter-bench.sh; with -b a bare milter, the
 * baseline of run-milter-ratio.sh; and, with -l, a load generator that
 * speaks the MTA side of the milter protocol.
 *
 * Usage: bench_milter_noop [-b] SPEC	(unix:/abs/path or inet:PORT@ADDR)
 *        bench_milter_noop -l SPEC SECONDS CONNS [POOL]
 *
 * The milter registers the same callbacks as slowspam-milter (connect, helo,
 * envfrom, envrcpt, header, data, eom, abort, close) with the same flags,
 * so libmilter negotiates the same protocol steps with the MTA; every
 * callback returns SMFIS_CONTINUE at once. What slowspam-milter costs on
 * top of this is its own work (store, SPF, headers).
 *
 * With -b it does what slowspam-milter does around its verdict, and no
 * more: it negotiates as slowspam-milter does (asks for
 * {client_resolve}), keeps a state per connection (allocated at
 * connect, freed at close), reads {client_resolve} at connect and
 * {auth_type} at MAIL FROM, keeps the recipients and adds one header
 * at end of message. No store, no log, no counters: what slowspam-milter
 * costs on top of that is the verdict's.
 *
 * With -l it runs CONNS threads for SECONDS; each opens a milter
 * connection, sends one transaction the way Postfix smtpd does (protocol
 * 6: option negotiation, connect, HELO, MAIL, RCPT, DATA, five headers,
 * end of headers, body, end of message, each with Postfix's default
 * macros, skipping the steps and replies the milter negotiated away),
 * reads the end-of-message modifications and the final reply, sends QUIT
 * and closes; then the next. The client is 127.0.0.1 with HELO and MAIL
 * FROM in bench.example; with POOL, each transaction's client is the next
 * of POOL addresses from 198.18.0.0 on (198.18.0.0/15, RFC 2544: only a
 * string in the protocol, no packet goes there), so a milter with a store
 * looks up and records POOL networks. It prints one line: transactions,
 * errors, the rate, the mean latency of a transaction and the
 * modifications per transaction.
 *
 * Build: gcc -O2 -o bench_milter_noop bench_milter_noop.c -lmilter -lpthread
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>
#include <libmilter/mfdef.h>

static sfsistat
noop_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *sa)
{
	(void)ctx;
	(void)hostname;
	(void)sa;
	return SMFIS_CONTINUE;
}

static sfsistat
noop_helo(SMFICTX *ctx, char *helo)
{
	(void)ctx;
	(void)helo;
	return SMFIS_CONTINUE;
}

static sfsistat
noop_args(SMFICTX *ctx, char **argv)
{
	(void)ctx;
	(void)argv;
	return SMFIS_CONTINUE;
}

static sfsistat
noop_header(SMFICTX *ctx, char *name, char *value)
{
	(void)ctx;
	(void)name;
	(void)value;
	return SMFIS_CONTINUE;
}

static sfsistat
noop_ctx(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

static char filter_name[] = "bench-noop";

static struct smfiDesc filter = {
	.xxfi_name = filter_name,
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_ADDRCPT |
	    SMFIF_DELRCPT | SMFIF_QUARANTINE,
	.xxfi_connect = noop_connect,
	.xxfi_helo = noop_helo,
	.xxfi_envfrom = noop_args,
	.xxfi_envrcpt = noop_args,
	.xxfi_header = noop_header,
	.xxfi_data = noop_ctx,
	.xxfi_eom = noop_ctx,
	.xxfi_abort = noop_ctx,
	.xxfi_close = noop_ctx,
};

/* ---- the bare milter (-b) ------------------------------------------- */

struct bare_conn {
	char	**rcpts;
	size_t	nrcpts, cap;
	int	resolved;
};

static sfsistat
bare_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *sa)
{
	struct bare_conn *c = calloc(1, sizeof(*c));
	char sym[] = "{client_resolve}";
	const char *v = smfi_getsymval(ctx, sym);

	(void)hostname;
	(void)sa;
	if (c != NULL)
		c->resolved = v != NULL && strcmp(v, "OK") == 0;
	smfi_setpriv(ctx, c);
	return SMFIS_CONTINUE;
}

static void
bare_clear(struct bare_conn *c)
{
	for (size_t i = 0; i < c->nrcpts; i++)
		free(c->rcpts[i]);
	c->nrcpts = 0;
}

static sfsistat
bare_envfrom(SMFICTX *ctx, char **argv)
{
	struct bare_conn *c = smfi_getpriv(ctx);
	char sym[] = "{auth_type}";

	(void)argv;
	if (c != NULL) {
		bare_clear(c);
		(void)smfi_getsymval(ctx, sym);
	}
	return SMFIS_CONTINUE;
}

static sfsistat
bare_envrcpt(SMFICTX *ctx, char **argv)
{
	struct bare_conn *c = smfi_getpriv(ctx);

	if (c == NULL)
		return SMFIS_CONTINUE;
	if (c->nrcpts == c->cap) {
		size_t n = c->cap ? 2 * c->cap : 4;
		char **r = realloc(c->rcpts, n * sizeof(*r));

		if (r == NULL)
			return SMFIS_CONTINUE;
		c->rcpts = r;
		c->cap = n;
	}
	if ((c->rcpts[c->nrcpts] = strdup(argv[0])) != NULL)
		c->nrcpts++;
	return SMFIS_CONTINUE;
}

static sfsistat
bare_eom(SMFICTX *ctx)
{
	char name[] = "X-Bench", value[] = "verdict=none";

	smfi_addheader(ctx, name, value);
	return SMFIS_CONTINUE;
}

static sfsistat
bare_close(SMFICTX *ctx)
{
	struct bare_conn *c = smfi_getpriv(ctx);

	if (c == NULL)
		return SMFIS_CONTINUE;
	bare_clear(c);
	free(c->rcpts);
	free(c);
	smfi_setpriv(ctx, NULL);
	return SMFIS_CONTINUE;
}

#define BARE_ACTIONS	(SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_ADDRCPT | \
	    SMFIF_DELRCPT | SMFIF_QUARANTINE)

/* As slowspam-milter negotiates: its actions, {client_resolve}. */
static sfsistat
bare_negotiate(SMFICTX *ctx, unsigned long actions, unsigned long steps,
    unsigned long f2, unsigned long f3, unsigned long *actions_out,
    unsigned long *steps_out, unsigned long *f2_out, unsigned long *f3_out)
{
	char macros[] = "{client_resolve}";

	(void)steps;
	(void)f2;
	(void)f3;
	(void)steps_out;
	*actions_out = BARE_ACTIONS;
	*f2_out = *f3_out = 0;
	if ((actions & SMFIF_SETSYMLIST) != 0 &&
	    smfi_setsymlist(ctx, SMFIM_CONNECT, macros) == MI_SUCCESS)
		*actions_out |= SMFIF_SETSYMLIST;
	return SMFIS_CONTINUE;
}

static char bare_name[] = "bench-bare";

static struct smfiDesc bare_filter = {
	.xxfi_name = bare_name,
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = BARE_ACTIONS,
	.xxfi_connect = bare_connect,
	.xxfi_helo = noop_helo,
	.xxfi_envfrom = bare_envfrom,
	.xxfi_envrcpt = bare_envrcpt,
	.xxfi_header = noop_header,
	.xxfi_data = noop_ctx,
	.xxfi_eom = bare_eom,
	.xxfi_abort = noop_ctx,
	.xxfi_close = bare_close,
	.xxfi_negotiate = bare_negotiate,
};


/* ---- the load generator (-l) ---------------------------------------- */

static struct {
	struct sockaddr_storage	sa;
	socklen_t		salen;
	double			end;
	unsigned long		pool;	/* client addresses; 0: 127.0.0.1 */
	unsigned long		next;	/* the next one, under lock */
	pthread_mutex_t		lock;
	unsigned long		done, errors, mods;
	double			latency;
	char			first_error[128];
} L = { .lock = PTHREAD_MUTEX_INITIALIZER };

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A packet being built: 4-byte length, command, data. */
struct pkt {
	char	buf[2048];
	size_t	len;		/* all packets so far */
	size_t	start;		/* of the packet being built */
};

static void
pkt_begin(struct pkt *p, char cmd)
{
	p->start = p->len;
	p->len += 4;
	p->buf[p->len++] = cmd;
}

static void
pkt_put(struct pkt *p, const void *data, size_t n)
{
	if (p->len + n <= sizeof(p->buf)) {
		memcpy(p->buf + p->len, data, n);
		p->len += n;
	}
}

/* NUL-terminated strings, then the end of the list (NULL). */
static void
pkt_strs(struct pkt *p, ...)
{
	va_list ap;
	const char *s;

	va_start(ap, p);
	while ((s = va_arg(ap, const char *)) != NULL)
		pkt_put(p, s, strlen(s) + 1);
	va_end(ap);
}

static void
pkt_end(struct pkt *p)
{
	uint32_t n = htonl((uint32_t)(p->len - p->start - 4));

	memcpy(p->buf + p->start, &n, 4);
}

static int
send_all(int fd, struct pkt *p)
{
	size_t off = 0;

	while (off < p->len) {
		ssize_t n = write(fd, p->buf + off, p->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	p->len = 0;
	return 0;
}

static int
read_all(int fd, void *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = read(fd, (char *)buf + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

/* One reply: its command letter, data in buf (up to cap); -1 on error. */
static int
reply(int fd, char *buf, size_t cap, size_t *len)
{
	uint32_t n;
	char cmd;
	char skip[4096];

	if (read_all(fd, &n, 4) < 0 || (n = ntohl(n)) == 0 || n > (1 << 20) ||
	    read_all(fd, &cmd, 1) < 0)
		return -1;
	n--;
	*len = n;
	if (n <= cap)
		return read_all(fd, buf, n) < 0 ? -1 : (unsigned char)cmd;
	if (read_all(fd, buf, cap) < 0)
		return -1;
	for (n -= (uint32_t)cap; n > 0; ) {
		size_t k = n < sizeof(skip) ? n : sizeof(skip);

		if (read_all(fd, skip, k) < 0)
			return -1;
		n -= (uint32_t)k;
	}
	return (unsigned char)cmd;
}

static void
fail(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&L.lock);
	L.errors++;
	if (L.first_error[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(L.first_error, sizeof(L.first_error), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&L.lock);
}

/* Send what p holds; if want, read a reply that must be "continue". */
static int
step(int fd, struct pkt *p, int want, const char *what)
{
	char buf[512];
	size_t len;
	int c;

	if (send_all(fd, p) < 0) {
		fail("%s: write: %s", what, strerror(errno));
		return -1;
	}
	if (!want)
		return 0;
	if ((c = reply(fd, buf, sizeof(buf), &len)) != SMFIR_CONTINUE) {
		fail("%s: reply %d", what, c);
		return -1;
	}
	return 0;
}

/* The next client address of the pool, or 127.0.0.1. */
static void
client_addr(char out[16])
{
	unsigned long i;

	if (L.pool == 0) {
		strcpy(out, "127.0.0.1");
		return;
	}
	pthread_mutex_lock(&L.lock);
	i = L.next++ % L.pool;
	pthread_mutex_unlock(&L.lock);
	/* 198.18.0.0/15: 131,072 addresses. */
	i %= 131072;
	snprintf(out, 16, "198.%lu.%lu.%lu", 18 + (i >> 16), (i >> 8) & 255,
	    i & 255);
}

/* One transaction on a new connection; modifications counted in *mods. */
static int
transaction(unsigned long seq, unsigned long *mods)
{
	struct pkt p = { .len = 0 };
	char buf[512], qid[32], port[2], received[256], client[16],
	    underscore[32], bracketed[20];
	uint32_t v[3];
	unsigned long pf;
	size_t len;
	int fd, c, one = 1;
	static const char *const hdrs[][2] = {
		{ "From", "<sender@bench.example>" },
		{ "To", "<rcpt@primary.bench>" },
		{ "Date", "Fri, 27 Nov 2026 05:00:00 +0000" },
		{ "Subject", "bench" },
	};

	if ((fd = socket(L.sa.ss_family, SOCK_STREAM, 0)) < 0) {
		fail("socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&L.sa, L.salen) < 0) {
		fail("connect: %s", strerror(errno));
		goto bad;
	}
	if (L.sa.ss_family == AF_INET)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	snprintf(qid, sizeof(qid), "B%lX", seq);

	pkt_begin(&p, SMFIC_OPTNEG);
	v[0] = htonl(6);
	v[1] = htonl(0x1ff);
	v[2] = htonl(0x001fffff);
	pkt_put(&p, v, sizeof(v));
	pkt_end(&p);
	if (send_all(fd, &p) < 0 ||
	    (c = reply(fd, buf, sizeof(buf), &len)) != SMFIC_OPTNEG ||
	    len < 12) {
		fail("option negotiation failed");
		goto bad;
	}
	memcpy(v, buf, sizeof(v));
	pf = ntohl(v[2]);

	client_addr(client);
	snprintf(underscore, sizeof(underscore), "unknown [%s]", client);
	if (!(pf & SMFIP_NOCONNECT)) {
		uint16_t pt = htons((uint16_t)(40000 + seq % 20000));

		pkt_begin(&p, SMFIC_MACRO);
		pkt_put(&p, "C", 1);
		pkt_strs(&p, "j", "primary.bench", "{daemon_name}", "smtpd",
		    "{daemon_addr}", "127.0.0.1", "v", "Postfix 3.7.11",
		    "_", underscore, (char *)NULL);
		pkt_end(&p);
		pkt_begin(&p, SMFIC_CONNECT);
		/* Postfix's name for a client without one: "[address]". */
		snprintf(bracketed, sizeof(bracketed), "[%s]", client);
		pkt_strs(&p, bracketed, (char *)NULL);
		pkt_put(&p, "4", 1);
		memcpy(port, &pt, 2);
		pkt_put(&p, port, 2);
		pkt_strs(&p, client, (char *)NULL);
		pkt_end(&p);
		if (step(fd, &p, !(pf & SMFIP_NR_CONN), "connect") < 0)
			goto bad;
	}
	if (!(pf & SMFIP_NOHELO)) {
		pkt_begin(&p, SMFIC_HELO);
		pkt_strs(&p, "bench.example", (char *)NULL);
		pkt_end(&p);
		if (step(fd, &p, !(pf & SMFIP_NR_HELO), "helo") < 0)
			goto bad;
	}
	if (!(pf & SMFIP_NOMAIL)) {
		pkt_begin(&p, SMFIC_MACRO);
		pkt_put(&p, "M", 1);
		pkt_strs(&p, "i", qid, "{mail_addr}", "sender@bench.example",
		    "{mail_host}", "bench.example", "{mail_mailer}", "smtp",
		    (char *)NULL);
		pkt_end(&p);
		pkt_begin(&p, SMFIC_MAIL);
		pkt_strs(&p, "<sender@bench.example>", (char *)NULL);
		pkt_end(&p);
		if (step(fd, &p, !(pf & SMFIP_NR_MAIL), "mail") < 0)
			goto bad;
	}
	if (!(pf & SMFIP_NORCPT)) {
		pkt_begin(&p, SMFIC_MACRO);
		pkt_put(&p, "R", 1);
		pkt_strs(&p, "{rcpt_addr}", "rcpt@primary.bench", "{rcpt_host}",
		    "primary.bench", "{rcpt_mailer}", "discard", (char *)NULL);
		pkt_end(&p);
		pkt_begin(&p, SMFIC_RCPT);
		pkt_strs(&p, "<rcpt@primary.bench>", (char *)NULL);
		pkt_end(&p);
		if (step(fd, &p, !(pf & SMFIP_NR_RCPT), "rcpt") < 0)
			goto bad;
	}
	if (!(pf & SMFIP_NODATA)) {
		pkt_begin(&p, SMFIC_MACRO);
		pkt_put(&p, "T", 1);
		pkt_strs(&p, "i", qid, (char *)NULL);
		pkt_end(&p);
		pkt_begin(&p, SMFIC_DATA);
		pkt_end(&p);
		if (step(fd, &p, !(pf & SMFIP_NR_DATA), "data") < 0)
			goto bad;
	}
	if (!(pf & SMFIP_NOHDRS)) {
		const char *sp = (pf & SMFIP_HDR_LEADSPC) ? " " : "";
		char value[300];

		snprintf(received, sizeof(received), "from bench.example "
		    "(%s)\n\tby primary.bench (Postfix) with "
		    "SMTP id %s\n\tfor <rcpt@primary.bench>", underscore, qid);
		for (size_t i = 0; i <= sizeof(hdrs) / sizeof(hdrs[0]); i++) {
			const char *name = i == 0 ? "Received" : hdrs[i - 1][0];

			snprintf(value, sizeof(value), "%s%s", sp,
			    i == 0 ? received : hdrs[i - 1][1]);
			pkt_begin(&p, SMFIC_HEADER);
			pkt_strs(&p, name, value, (char *)NULL);
			pkt_end(&p);
			if (step(fd, &p, !(pf & SMFIP_NR_HDR), "header") < 0)
				goto bad;
		}
	}
	if (!(pf & SMFIP_NOEOH)) {
		pkt_begin(&p, SMFIC_EOH);
		pkt_end(&p);
		if (step(fd, &p, !(pf & SMFIP_NR_EOH), "eoh") < 0)
			goto bad;
	}
	if (!(pf & SMFIP_NOBODY)) {
		pkt_begin(&p, SMFIC_BODY);
		pkt_put(&p, "La de da de da 1.\r\nLa de da de da 2.\r\n", 38);
		pkt_end(&p);
		if (step(fd, &p, !(pf & SMFIP_NR_BODY), "body") < 0)
			goto bad;
	}
	pkt_begin(&p, SMFIC_MACRO);
	pkt_put(&p, "E", 1);
	pkt_strs(&p, "i", qid, (char *)NULL);
	pkt_end(&p);
	pkt_begin(&p, SMFIC_BODYEOB);
	pkt_end(&p);
	if (step(fd, &p, 0, "eom") < 0)
		goto bad;
	for (;;) {
		c = reply(fd, buf, sizeof(buf), &len);
		if (c < 0) {
			fail("eom: no final reply");
			goto bad;
		}
		if (strchr("acdrty", c) != NULL)
			break;
		(*mods)++;
	}
	if (c != SMFIR_CONTINUE && c != SMFIR_ACCEPT) {
		fail("eom: final reply %c", c);
		goto bad;
	}
	pkt_begin(&p, SMFIC_QUIT);
	pkt_end(&p);
	send_all(fd, &p);
	close(fd);
	return 0;
bad:
	close(fd);
	return -1;
}

static void *
load_thread(void *arg)
{
	unsigned long seq = (unsigned long)(uintptr_t)arg << 32, done = 0,
	    mods = 0;
	double latency = 0;

	while (now_s() < L.end) {
		double t = now_s();

		if (transaction(seq++, &mods) == 0) {
			done++;
			latency += now_s() - t;
		} else {
			usleep(10000);
		}
	}
	pthread_mutex_lock(&L.lock);
	L.done += done;
	L.mods += mods;
	L.latency += latency;
	pthread_mutex_unlock(&L.lock);
	return NULL;
}

/* inet:PORT@ADDR, inet:ADDR:PORT is not accepted; unix:/path */
static int
parse_spec(const char *spec)
{
	memset(&L.sa, 0, sizeof(L.sa));
	if (strncmp(spec, "unix:", 5) == 0 || strncmp(spec, "local:", 6) == 0) {
		struct sockaddr_un *un = (struct sockaddr_un *)&L.sa;
		const char *path = strchr(spec, ':') + 1;

		if (strlen(path) >= sizeof(un->sun_path))
			return -1;
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, path);
		L.salen = sizeof(*un);
		return 0;
	}
	if (strncmp(spec, "inet:", 5) == 0) {
		struct sockaddr_in *in = (struct sockaddr_in *)&L.sa;
		const char *at = strchr(spec, '@');

		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)atoi(spec + 5));
		if (at == NULL || inet_pton(AF_INET, at + 1,
		    &in->sin_addr) != 1)
			return -1;
		L.salen = sizeof(*in);
		return 0;
	}
	return -1;
}

static int
load_main(const char *spec, double seconds, int conns, unsigned long pool)
{
	pthread_t *t = calloc((size_t)conns, sizeof(*t));
	double t0;

	if (t == NULL || parse_spec(spec) < 0 || seconds <= 0 || conns <= 0) {
		fprintf(stderr, "bench_milter_noop: bad load arguments\n");
		return 2;
	}
	L.pool = pool;
	t0 = now_s();
	L.end = t0 + seconds;
	for (int i = 0; i < conns; i++)
		pthread_create(&t[i], NULL, load_thread, (void *)(uintptr_t)i);
	for (int i = 0; i < conns; i++)
		pthread_join(t[i], NULL);
	t0 = now_s() - t0;
	printf("transactions=%lu errors=%lu seconds=%.2f rate=%.0f/s "
	    "mean_latency_ms=%.3f modifications_per_tx=%.2f concurrency=%d "
	    "pool=%lu%s%s\n",
	    L.done, L.errors, t0, L.done / t0,
	    L.done ? 1000 * L.latency / L.done : 0.0,
	    L.done ? (double)L.mods / L.done : 0.0, conns, pool,
	    L.first_error[0] ? " first_error=" : "", L.first_error);
	free(t);
	return L.done > 0 && L.errors == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	struct smfiDesc *f = &filter;
	const char *spec;
	struct stat sb;

	if ((argc == 5 || argc == 6) && strcmp(argv[1], "-l") == 0)
		return load_main(argv[2], atof(argv[3]), atoi(argv[4]),
		    argc == 6 ? strtoul(argv[5], NULL, 10) : 0);
	if (argc == 3 && strcmp(argv[1], "-b") == 0) {
		f = &bare_filter;
		argc--;
		argv++;
	}
	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: bench_milter_noop [-b] SPEC\n"
		    "       bench_milter_noop -l SPEC SECONDS CONNS [POOL]\n"
		    "SPEC: unix:/abs/path or inet:PORT@ADDR\n");
		return 2;
	}
	spec = argv[1];
	/* A stale socket of an earlier run would make the bind fail. */
	if (strncmp(spec, "unix:", 5) == 0 && stat(spec + 5, &sb) == 0 &&
	    S_ISSOCK(sb.st_mode))
		unlink(spec + 5);
	if (smfi_register(*f) == MI_FAILURE ||
	    smfi_setconn((char *)spec) == MI_FAILURE ||
	    smfi_opensocket(1) == MI_FAILURE) {
		fprintf(stderr, "bench_milter_noop: cannot listen on %s\n",
		    spec);
		return 1;
	}
	fprintf(stderr, "bench_milter_noop: listening on %s\n", spec);
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}
