/*
 * test_tarpitd.c - the real tarpitd on loopback against real clients:
 * a polite client, hostile ones (pipelining, junk, NULs, 100 KB lines,
 * HTTP, half-closed and vanishing sockets), limits, reload, SIGTERM with
 * clients held, privilege drop, the store and the event log, and that
 * nothing a client said but its HELO is kept anywhere.
 *
 * Every daemon runs in a private directory on a free port and is stopped
 * by its test.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "record.h"
#include "smtpcheck.h"
#include "store.h"
#include "testutil.h"

/* Timings of the test daemons (ms): short, so a session is quick. */
#define GREET_WAIT	300
#define DRIP		200
#define MAX_HOLD	2000
/* Slack for a loaded machine on top of max_hold + one drip. */
#define SLACK		1500

struct daemon {
	char	*dir;
	char	*conf;
	char	*log;
	char	*events;
	char	*store;
	uint16_t port;
	pid_t	pid;
	int	nofile;		/* RLIMIT_NOFILE for it, 0: as ours */
	int	err_pipe;	/* >= 0: stderr is a pipe, this its read end */
};

static char *tmpdir;
static const char *tarpitd_bin;

/* Daemons running, so a failing test (abort, trap) does not leave them. */
static volatile pid_t running[64];

static void
track(pid_t pid, bool on)
{
	for (size_t i = 0; i < G_N_ELEMENTS(running); i++) {
		if (on ? running[i] == 0 : running[i] == pid) {
			running[i] = on ? pid : 0;
			return;
		}
	}
}

static void
kill_running(int sig)
{
	for (size_t i = 0; i < G_N_ELEMENTS(running); i++)
		if (running[i] > 0)
			kill(running[i], SIGKILL);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* A port nobody listens on now, on 127.0.0.1. */
static uint16_t
free_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	uint16_t port;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	g_assert_cmpint(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), ==, 0);
	g_assert_cmpint(getsockname(fd, (struct sockaddr *)&sin, &len), ==, 0);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

static char *
read_text(const char *path)
{
	char *text = NULL;

	if (!g_file_get_contents(path, &text, NULL, NULL))
		return g_strdup("");
	return text;
}

/* Write d's configuration: the test timings plus extra lines. */
static void
write_conf(struct daemon *d, const char *hostname, const char *extra)
{
	g_autofree char *text = g_strdup_printf(
	    "[tarpitd]\nlisten = 127.0.0.1:%u\nhostname = %s\n"
	    "greet_wait = %dms\ndrip_interval = %dms\nmax_hold = %dms\n"
	    "user = nobody\nevent_log = %s\n%s\n[store]\npath = %s\n",
	    d->port, hostname, GREET_WAIT, DRIP, MAX_HOLD, d->events,
	    extra != NULL ? extra : "", d->store);

	g_assert_true(g_file_set_contents(d->conf, text, -1, NULL));
}

/* Wait until the daemon's log holds text; false after timeout ms. */
static bool
log_has(const struct daemon *d, const char *text, int timeout)
{
	for (int waited = 0;; waited += 20) {
		g_autofree char *log = read_text(d->log);

		if (strstr(log, text) != NULL)
			return true;
		if (waited >= timeout)
			return false;
		g_usleep(20000);
	}
}

/*
 * Ask for the totals line (SIGUSR1) and return the number after key=
 * in the newest one; -1 if none came within 3 s.
 */
static long long
totals_value(const struct daemon *d, const char *key)
{
	g_autofree char *want = g_strdup_printf(" %s=", key);
	size_t seen;

	{
		g_autofree char *log = read_text(d->log);

		seen = strlen(log);
	}
	kill(d->pid, SIGUSR1);
	for (int waited = 0; waited < 3000; waited += 20) {
		g_autofree char *log = read_text(d->log);
		const char *line = strlen(log) > seen ?
		    g_strrstr(log + seen, "totals ") : NULL;
		const char *at = line != NULL ? strstr(line, want) : NULL;

		if (at != NULL)
			return g_ascii_strtoll(at + strlen(want), NULL, 10);
		g_usleep(20000);
	}
	return -1;
}

/* Lines of text that hold needle. */
static unsigned
count_lines(const char *text, const char *needle)
{
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	unsigned n = 0;

	for (size_t i = 0; lines[i] != NULL; i++)
		n += strstr(lines[i], needle) != NULL;
	return n;
}

/*
 * Wait (3 s at most) until the file at path has n lines holding needle:
 * the event log is written by tarpitd's log writer, a moment after the
 * session ended.
 */
static void
wait_lines(const char *path, const char *needle, unsigned n)
{
	for (int waited = 0; waited < 3000 * test_slow(); waited += 20) {
		g_autofree char *text = read_text(path);

		if (count_lines(text, needle) >= n)
			return;
		g_usleep(20000);
	}
}

static void
start_daemon(struct daemon *d, const char *name, const char *extra)
{
	memset(d, 0, sizeof(*d));
	d->err_pipe = -1;
	d->dir = g_build_filename(tmpdir, name, NULL);
	g_assert_cmpint(g_mkdir_with_parents(d->dir, 0755), ==, 0);
	d->conf = g_build_filename(d->dir, "slowspam.conf", NULL);
	d->log = g_build_filename(d->dir, "tarpitd.log", NULL);
	d->events = g_build_filename(d->dir, "events.jsonl", NULL);
	d->store = g_build_filename(d->dir, "store", "hits.lmdb", NULL);
	d->port = free_port();
	write_conf(d, "tarpit.test", extra);
}

/*
 * Copy what the daemon wrote to its stderr pipe into its log file, until
 * the log holds text or timeout ms passed; false then.
 */
static bool
pipe_to_log(const struct daemon *d, const char *text, int timeout)
{
	int64_t end = g_get_monotonic_time() / 1000 + timeout;
	int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	bool found = false;

	g_assert_cmpint(fd, >=, 0);
	while (!(found = log_has(d, text, 0)) &&
	    g_get_monotonic_time() / 1000 < end) {
		struct pollfd p = { d->err_pipe, POLLIN, 0 };
		char buf[65536];
		ssize_t n;

		if (poll(&p, 1, 50) <= 0)
			continue;
		if ((n = read(d->err_pipe, buf, sizeof(buf))) <= 0)
			break;
		g_assert_cmpint(write(fd, buf, (size_t)n), ==, n);
	}
	close(fd);
	return found;
}

/* Start the configured daemon and wait until it serves. */
static void
run_daemon(struct daemon *d, const char *const *args)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_auto(GStrv) cmd = NULL;
	int pipe_fds[2] = { -1, -1 };

	g_ptr_array_add(argv, (char *)tarpitd_bin);
	g_ptr_array_add(argv, (char *)"-f");
	g_ptr_array_add(argv, (char *)"-c");
	g_ptr_array_add(argv, d->conf);
	for (size_t i = 0; args != NULL && args[i] != NULL; i++)
		g_ptr_array_add(argv, (char *)args[i]);
	g_ptr_array_add(argv, NULL);
	cmd = test_cmd((const char *const *)argv->pdata);
	if (d->err_pipe >= 0 && pipe2(pipe_fds, O_CLOEXEC) != 0)
		g_error("pipe: %s", g_strerror(errno));
	if ((d->pid = fork()) == 0) {
		int fd = d->err_pipe >= 0 ? pipe_fds[1] :
		    open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		dup2(fd, 2);
		if (d->nofile > 0) {
			struct rlimit rl = { (rlim_t)d->nofile,
			    (rlim_t)d->nofile };

			/*
			 * valgrind keeps 12 descriptors for itself above
			 * the program's limit if the hard one has room,
			 * else below it, leaving the program 12.
			 */
			if (g_getenv("SLOWSPAM_VALGRIND") != NULL)
				rl.rlim_max += 12;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
		execv(cmd[0], cmd);
		_exit(127);
	}
	g_assert_cmpint(d->pid, >, 0);
	track(d->pid, true);
	if (d->err_pipe >= 0) {
		close(pipe_fds[1]);
		d->err_pipe = pipe_fds[0];
		pipe_to_log(d, "serving", 5000 * test_slow());
	}
	if (!log_has(d, "serving", 5000 * test_slow())) {
		g_autofree char *log = read_text(d->log);

		g_error("tarpitd did not start:\n%s", log);
	}
}

/* SIGTERM, and the exit status (or -1 if it hung). */
static int
stop_daemon(struct daemon *d)
{
	int status = -1;

	if (d->pid <= 0)
		return 0;
	track(d->pid, false);
	kill(d->pid, SIGTERM);
	for (int i = 0; i < 1000 * test_slow(); i++) {
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			d->pid = 0;
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 +
			    WTERMSIG(status);
		}
		g_usleep(10000);
	}
	kill(d->pid, SIGKILL);
	waitpid(d->pid, &status, 0);
	d->pid = 0;
	return -1;
}

static void
free_daemon(struct daemon *d)
{
	stop_daemon(d);
	g_free(d->dir);
	g_free(d->conf);
	g_free(d->log);
	g_free(d->events);
	g_free(d->store);
	if (d->err_pipe >= 0)
		close(d->err_pipe);
}

/* Connect to the daemon from source address src (NULL: any). */
static int
dial(const struct daemon *d, const char *src)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_port = htons(d->port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (src != NULL) {
		struct sockaddr_in me = { .sin_family = AF_INET };

		inet_pton(AF_INET, src, &me.sin_addr);
		g_assert_cmpint(bind(fd, (struct sockaddr *)&me, sizeof(me)),
		    ==, 0);
	}
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	g_assert_cmpint(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), ==,
	    0);
	return fd;
}

static void
send_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n <= 0)
			return;		/* the server may have closed: fine */
		p += n;
		len -= (size_t)n;
	}
}

/*
 * Read until the server closes, until stop appears (if not NULL), or
 * timeout ms; returns what was read. *closed says if the server closed.
 */
static GString *
read_until(int fd, const char *stop, int timeout, bool *closed)
{
	GString *got = g_string_new(NULL);
	int64_t end = g_get_monotonic_time() / 1000 + timeout;

	*closed = false;
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		int64_t left = end - g_get_monotonic_time() / 1000;
		char buf[4096];
		ssize_t n;

		if (stop != NULL && strstr(got->str, stop) != NULL)
			break;
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0) {
			*closed = true;
			break;
		}
		g_string_append_len(got, buf, n);
	}
	return got;
}

/*
 * The contract on a transcript (smtpcheck.c, shared with test_smtp and
 * fuzz_smtp): one code per reply; only 220, 250 and 421; no 354, no
 * 5xx; no 2xx unless the client said HELO/EHLO first; and, if the
 * server closed, the last reply a complete 421.
 */
static void
check_transcript(const GString *t, bool helo, bool closed, const char *what)
{
	const char *why = smtpcheck_transcript(t->str, t->len, helo, closed);

	if (why != NULL)
		g_error("%s: %s in:\n%s", what, why, t->str);
}

/* Read the first line from fd, expect the teaser of host, close fd. */
static void
expect_teaser(int fd, const char *host)
{
	bool closed;
	g_autofree char *want = g_strdup_printf("220-%s ", host);
	g_autoptr(GString) t = read_until(fd, "\r\n", 3000, &closed);

	if (!g_str_has_prefix(t->str, want))
		g_error("want '%s...', got '%s'", want, t->str);
	close(fd);
}

static struct daemon main_d;

/*
 * A polite client, as an MTA: held; the EHLO reply ends with "250 HELP"
 * at the last drip before max_hold; its MAIL gets the 421 at once. Or,
 * silent after the reply, the 421 one drip later.
 */
static void
test_polite(void)
{
	for (int silent = 0; silent < 2; silent++) {
		int fd = dial(&main_d, silent ? "127.0.0.3" : "127.0.0.2");
		int64_t t0 = g_get_monotonic_time(), ms;
		bool closed;
		g_autoptr(GString) t = read_until(fd, "220 tarpit.test", 3000,
		    &closed);
		g_autoptr(GString) rest = NULL, bye = NULL;

		g_assert_true(g_str_has_prefix(t->str, "220-tarpit.test"));
		g_assert_cmpint((g_get_monotonic_time() - t0) / 1000, >=,
		    GREET_WAIT - 50);
		send_all(fd, "EHLO mail.example.org\r\n", 23);
		rest = read_until(fd, "\r\n250 HELP\r\n",
		    MAX_HOLD + SLACK * test_slow(), &closed);
		ms = (g_get_monotonic_time() - t0) / 1000;
		g_assert_false(closed);
		g_assert_true(g_str_has_prefix(rest->str, "250-tarpit.test"));
		g_assert_true(g_str_has_suffix(rest->str, "\r\n250 HELP\r\n"));
		g_assert_cmpint(ms, >=, MAX_HOLD - DRIP - 50);
		g_assert_cmpint(ms, <=, MAX_HOLD + SLACK * test_slow());
		if (!silent)
			send_all(fd, "MAIL FROM:<secret-polite@example.com>\r\n",
			    39);
		bye = read_until(fd, NULL, DRIP + SLACK * test_slow(), &closed);
		ms = (g_get_monotonic_time() - t0) / 1000 - ms;
		close(fd);
		g_assert_true(closed);
		g_assert_cmpstr(bye->str, ==, "421 4.7.0 tarpit.test Service not "
		    "available, try again later\r\n");
		/* At once, or one drip later. */
		if (silent)
			g_assert_cmpint(ms, >=, DRIP - 50);
		else
			g_assert_cmpint(ms, <, DRIP * test_slow());
		g_string_append(t, rest->str);
		g_string_append(t, bye->str);
		check_transcript(t, true, true, "polite");
	}
	/* Held to max_hold, and no evidence: it read its reply. */
	for (int i = 0; i < 2; i++) {
		const char *who = i ? "session client=127.0.0.3 " :
		    "session client=127.0.0.2 ";
		g_autofree char *log = NULL;
		g_autofree char *line = NULL;
		const char *at;

		g_assert_true(log_has(&main_d, who, 3000));
		log = read_text(main_d.log);
		at = strstr(log, who);
		line = g_strndup(at, strcspn(at, "\n"));
		g_assert_nonnull(strstr(line, " evidence=- "));
		g_assert_nonnull(strstr(line, " end=max_hold"));
	}
}

/* One hostile client: what it sends, and how. */
struct hostile {
	const char *name;
	const char *data;
	size_t len;
	int how;		/* see below */
	bool helo;		/* first line is HELO/EHLO */
	const char *evidence;	/* expected in its session line */
	const char *end;
};
enum { H_AFTER_GREETING, H_AT_ONCE, H_HALF_CLOSE, H_BIG };
#define BIG_LINE	100000

static const struct hostile hostiles[] = {
	{ "pipelining", "EHLO bot.example\r\nMAIL FROM:<a@b.example>\r\n"
	    "RCPT TO:<c@d.example>\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n.\r\n",
	    0, H_AFTER_GREETING, true, "pipelining", "max_hold" },
	{ "pregreet", "EHLO early.example\r\n", 0, H_AT_ONCE, true, "pregreet",
	    "max_hold" },
	{ "junk", "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n", 13,
	    H_AFTER_GREETING, false, "non_smtp", "max_hold" },
	{ "nuls", "EHLO a\0b\0c\r\n", 12, H_AFTER_GREETING, true, "-",
	    "max_hold" },
	{ "http", "GET / HTTP/1.1\r\nHost: tarpit.test\r\n\r\n", 0,
	    H_AFTER_GREETING, false, "non_smtp", "max_hold" },
	{ "connect", "CONNECT 192.0.2.1:25 HTTP/1.0\r\n\r\n", 0,
	    H_AFTER_GREETING, false, "non_smtp", "max_hold" },
	{ "mail first", "MAIL FROM:<x@y.example>\r\n", 0, H_AFTER_GREETING,
	    false, "no_helo", "max_hold" },
	{ "bare lf", "HELO lf.example\n", 0, H_AFTER_GREETING, true, "bare_lf",
	    "max_hold" },
	{ "100 KB line", NULL, BIG_LINE, H_BIG, true, "long_line", "max_hold" },
	{ "half close", "EHLO half.example\r\n", 0, H_HALF_CLOSE, true,
	    "impatient", "client_closed" },
};

static gpointer
hostile_client(gpointer data)
{
	const struct hostile *h = data;
	int fd = dial(&main_d, NULL);
	size_t len = h->len != 0 ? h->len : (h->data ? strlen(h->data) : 0);
	g_autoptr(GString) t = NULL, pre = NULL;
	bool closed;
	int64_t t0 = g_get_monotonic_time();

	switch (h->how) {
	case H_AT_ONCE:
		send_all(fd, h->data, len);
		break;
	case H_BIG: {
		g_autofree char *big = g_malloc(BIG_LINE);

		pre = read_until(fd, "220 ", 3000, &closed);
		memset(big, 'x', BIG_LINE);
		memcpy(big, "EHLO ", 5);
		memcpy(big + BIG_LINE - 2, "\r\n", 2);
		send_all(fd, big, BIG_LINE);
		break;
	}
	default:
		pre = read_until(fd, "220 ", 3000, &closed);
		send_all(fd, h->data, len);
		if (h->how == H_HALF_CLOSE)
			shutdown(fd, SHUT_WR);
		break;
	}
	t = read_until(fd, NULL, MAX_HOLD + DRIP + SLACK, &closed);
	close(fd);
	if (!closed)
		g_error("%s: still open after %d ms", h->name,
		    MAX_HOLD + DRIP + SLACK);
	if ((g_get_monotonic_time() - t0) / 1000 > MAX_HOLD + DRIP + SLACK)
		g_error("%s: held too long", h->name);
	/* A half-closed client still reads: it gets the 421 too. */
	if (pre != NULL)
		g_string_prepend(t, pre->str);
	check_transcript(t, h->helo, true, h->name);
	return NULL;
}

/* All the hostile clients at once; then each left the right record. */
static void
test_hostile(void)
{
	GThread *threads[G_N_ELEMENTS(hostiles)];
	g_autofree char *events = NULL;
	g_auto(GStrv) lines = NULL;
	size_t before;

	/* The log writer may not have written the polite two yet. */
	wait_lines(main_d.events, "\"helo\":\"mail.example.org\"", 2);
	events = read_text(main_d.events);
	before = count_lines(events, "\"client\"");
	for (size_t i = 0; i < G_N_ELEMENTS(hostiles); i++)
		threads[i] = g_thread_new(hostiles[i].name, hostile_client,
		    (gpointer)&hostiles[i]);
	for (size_t i = 0; i < G_N_ELEMENTS(hostiles); i++)
		g_thread_join(threads[i]);
	/* The daemon lived through it and still serves. */
	g_assert_cmpint(kill(main_d.pid, 0), ==, 0);
	g_assert_true(log_has(&main_d, "end=client_closed", 3000));
	wait_lines(main_d.events, "\"client\"", (unsigned)before +
	    G_N_ELEMENTS(hostiles));

	g_free(events);
	events = read_text(main_d.events);
	lines = g_strsplit(events, "\n", -1);
	g_assert_cmpuint(count_lines(events, "\"client\"") - before, ==,
	    G_N_ELEMENTS(hostiles));
	for (size_t i = 0; i < G_N_ELEMENTS(hostiles); i++) {
		const struct hostile *h = &hostiles[i];
		g_autofree char *end = g_strdup_printf("\"end\":\"%s\"", h->end);
		g_autofree char *ev = g_strdup_printf("\"%s\"", h->evidence);
		bool seen = false;

		/* Find a session line of this run with its evidence and end. */
		for (guint j = (guint)before; lines[j] != NULL && !seen; j++)
			seen = strstr(lines[j], end) != NULL &&
			    (h->evidence[0] == '-' ?
			    strstr(lines[j], "\"evidence\":[]") != NULL :
			    strstr(lines[j], ev) != NULL);
		if (!seen)
			g_error("%s: no session with %s and %s in:\n%s",
			    h->name, ev, end, events);
	}
}

/* 2,000 sessions that say EHLO and leave: each is recorded. */
static gpointer
flood_sessions(gpointer data)
{
	const struct daemon *d = data;

	for (int i = 0; i < 2000; i++) {
		g_autofree char *src = g_strdup_printf("127.0.%d.%d",
		    40 + i / 250, 1 + i % 250);
		int fd = dial(d, src);

		send_all(fd, "EHLO flood.example\r\n", 20);
		close(fd);
	}
	return NULL;
}

/*
 * Connections that close before the greeting, silent, leave nothing of
 * their own: no log line, no event-log line, no store record; they are
 * counted (SIGUSR1's totals) and summarised.
 */
static void
test_unrecorded(void)
{
	struct store_options o = { STORE_BACKEND_LMDB, main_d.store, 1u << 30,
	    0, true };
	g_autofree char *events0 = NULL;
	g_autofree char *events1 = NULL;
	g_autofree char *log = NULL;
	/* The totals line comes after every line queued before it. */
	long long early0 = totals_value(&main_d, "unrecorded_early"), early1;
	long long written0 = totals_value(&main_d, "store_written");
	struct hit_record r;
	struct store *st;
	bool found = true;

	g_assert_cmpint(early0, >=, 0);
	events0 = read_text(main_d.events);
	for (int i = 0; i < 5; i++)
		close(dial(&main_d, "127.0.0.88"));
	/* Also a reset, as a connect-and-reset flood does. */
	{
		int fd = dial(&main_d, "127.0.0.88");
		struct linger l = { 1, 0 };

		setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		close(fd);
	}
	/*
	 * And a half-close, as a FIN that arrives before the reset on a real
	 * network: it is sent the greeting and the 421, but was not greeted.
	 */
	{
		int fd = dial(&main_d, "127.0.0.88");
		bool closed;

		g_string_free(read_until(fd, "\r\n", 3000, &closed), TRUE);
		shutdown(fd, SHUT_WR);
		g_string_free(read_until(fd, NULL, 3000, &closed), TRUE);
		g_assert_true(closed);
		close(fd);
	}
	g_usleep(GREET_WAIT * 1000 * 2);
	early1 = totals_value(&main_d, "unrecorded_early");
	g_assert_cmpint(early1 - early0, ==, 7);
	/* Nothing of theirs went to the store queue either. */
	g_assert_cmpint(totals_value(&main_d, "store_written"), ==, written0);
	events1 = read_text(main_d.events);
	g_assert_cmpstr(events1, ==, events0);
	log = read_text(main_d.log);
	g_assert_null(strstr(log, "client=127.0.0.88 "));
	st = store_open(&o, NULL);
	g_assert_nonnull(st);
	g_assert_true(store_lookup(st, "127.0.0.88/32", &r, &found, NULL));
	g_assert_false(found);
	store_free(st);
}

/*
 * records_per_minute: an aggregate network (a /24 here) gets that many
 * new store networks recorded, the rest are counted; it is said once,
 * and the summary at the stop names the network. A known network's
 * short sessions are recorded, their lines charged; a held one is free.
 */
static void
test_budget(void)
{
	struct daemon d;
	g_autofree char *events = NULL;
	g_autofree char *log = NULL;

	start_daemon(&d, "budget", "records_per_minute = 3");
	run_daemon(&d, NULL);
	for (int i = 0; i < 6; i++) {
		g_autofree char *src = g_strdup_printf("127.0.5.%d", 10 + i);
		int fd = dial(&d, src);
		bool closed;

		/* Speaks before the greeting (pregreet) and leaves. */
		send_all(fd, "EHLO x.example\r\n", 16);
		g_string_free(read_until(fd, "220-", 2000, &closed), TRUE);
		close(fd);
	}
	/* Another /24 has a budget of its own. */
	{
		int fd = dial(&d, "127.0.6.1");

		send_all(fd, "EHLO y.example\r\n", 16);
		close(fd);
	}
	g_assert_true(log_has(&d, "client=127.0.6.1 ", 3000));
	g_assert_cmpint(totals_value(&d, "unrecorded_budget"), ==, 3);
	events = read_text(d.events);
	g_assert_cmpuint(count_lines(events, "\"client\":\"127.0.5."), ==, 3);
	/*
	 * 127.0.6.1 is known now: its next short sessions make no new
	 * record, but they are written (lines and one store update each)
	 * only as 127.0.6.0/24's budget allows: 2 more, then none. One
	 * held through greeting and drip is written all the same.
	 */
	for (int i = 0; i < 5; i++) {
		int fd = dial(&d, "127.0.6.1");

		send_all(fd, "EHLO y.example\r\n", 16);
		close(fd);
	}
	{
		int fd = dial(&d, "127.0.6.1");
		bool closed;

		g_string_free(read_until(fd, "220 ", 3000, &closed), TRUE);
		send_all(fd, "EHLO held.example\r\n", 19);
		g_usleep((GREET_WAIT + DRIP) * 1000 * 2);
		g_string_free(read_until(fd, "250-", 3000, &closed), TRUE);
		close(fd);
	}
	g_assert_cmpint(totals_value(&d, "unrecorded_budget"), ==, 3 + 3);
	g_free(events);
	events = read_text(d.events);
	g_assert_cmpuint(count_lines(events, "\"client\":\"127.0.6.1\""), ==,
	    1 + 2 + 1);
	g_assert_cmpuint(count_lines(events, "held.example"), ==, 1);
	g_assert_cmpint(stop_daemon(&d), ==, 0);
	{
		struct store_options o = { STORE_BACKEND_LMDB, d.store,
		    1u << 30, 0, true };
		struct store *st = store_open(&o, NULL);
		struct hit_record r;
		bool found = false;

		g_assert_nonnull(st);
		g_assert_true(store_lookup(st, "127.0.6.1/32", &r, &found,
		    NULL));
		g_assert_true(found);
		g_assert_cmpuint(r.tarpit_sessions, ==, 1 + 2 + 1);
		g_assert_cmpstr(r.helo, ==, "held.example");
		g_assert_true(store_lookup(st, "127.0.5.15/32", &r, &found,
		    NULL));
		g_assert_false(found);
		store_free(st);
	}
	log = read_text(d.log);
	g_assert_cmpuint(count_lines(log, "passed records_per_minute (3)"), ==,
	    1);
	g_assert_nonnull(strstr(log, "127.0.5.0/24 passed records_per_minute"));
	g_assert_nonnull(strstr(log, "unrecorded reason=budget count=6 "));
	/* Both networks, 3 each, in either order. */
	g_assert_nonnull(strstr(log, "127.0.5.0/24:3"));
	g_assert_nonnull(strstr(log, "127.0.6.0/24:3"));
	free_daemon(&d);
}

/*
 * tarpitd -f with its stderr a pipe whose reader has stalled (journald
 * not reading): a flood of recorded sessions fills the pipe many times
 * over, and still a new client is greeted at once and a held client's
 * drip keeps time. Once the reader reads again, the dropped lines are
 * reported.
 */
static void
test_stalled_log(void)
{
	struct daemon d;
	int held, fd;
	bool closed;
	int64_t t0, gap, worst = 0;
	g_autoptr(GString) t = NULL;
	GThread *flood[4];

	start_daemon(&d, "stalled", "records_per_minute = 0\n"
	    "max_clients_per_net = 20000\nmax_clients = 20000");
	d.err_pipe = 1;			/* run_daemon makes the pipe */
	run_daemon(&d, NULL);
	held = dial(&d, "127.0.0.30");
	g_string_free(read_until(held, "220 ", 3000, &closed), TRUE);
	send_all(held, "EHLO held.example\r\n", 19);
	t = read_until(held, "250-", 3000, &closed);
	/* The rest of that line, if it came apart (small socket buffers). */
	if (!g_str_has_suffix(t->str, "\r\n"))
		g_string_free(read_until(held, "\r\n", 3000, &closed), TRUE);
	g_string_free(g_steal_pointer(&t), TRUE);
	/* Each writes a session line: ~300 bytes, 8,000 of them. */
	for (size_t i = 0; i < G_N_ELEMENTS(flood); i++)
		flood[i] = g_thread_new("flood", flood_sessions, &d);
	/* Meanwhile the drip goes on, a line every DRIP ms. */
	t0 = g_get_monotonic_time();
	for (int i = 0; i < 5; i++) {
		t = read_until(held, "\r\n", 5 * DRIP * test_slow(), &closed);
		gap = (g_get_monotonic_time() - t0) / 1000;
		t0 = g_get_monotonic_time();
		worst = MAX(worst, gap);
		g_assert_false(closed);
		/* A drip line, the reply's last (max_hold, when slow), or the 421. */
		if (!g_str_has_prefix(t->str, "250") &&
		    !g_str_has_prefix(t->str, "421 "))
			g_test_message("drip %d after %" G_GINT64_FORMAT " ms: "
			    "\"%s\"", i, gap, g_strescape(t->str, NULL));
		g_assert_true(g_str_has_prefix(t->str, "250-") ||
		    g_str_has_prefix(t->str, "250 ") ||
		    g_str_has_prefix(t->str, "421 "));
		g_string_free(g_steal_pointer(&t), TRUE);
	}
	for (size_t i = 0; i < G_N_ELEMENTS(flood); i++)
		g_thread_join(flood[i]);
	g_test_message("drip gap during the flood: at most %" G_GINT64_FORMAT
	    " ms (drip_interval %d ms)", worst, DRIP);
	g_assert_cmpint(worst, <, DRIP + 500 * test_slow());
	/* The pipe is full: a new client is still greeted at once. */
	t0 = g_get_monotonic_time();
	fd = dial(&d, "127.0.0.31");
	t = read_until(fd, "220-", 3000, &closed);
	gap = (g_get_monotonic_time() - t0) / 1000;
	g_test_message("first byte to a new client: %" G_GINT64_FORMAT " ms",
	    gap);
	g_assert_true(g_str_has_prefix(t->str, "220-tarpit.test"));
	g_assert_cmpint(gap, <, 500 * test_slow());
	close(fd);
	close(held);
	/* The reader reads again: it hears how many lines were lost. */
	g_assert_true(pipe_to_log(&d, "dropped", 5000 * test_slow()));
	g_assert_cmpint(stop_daemon(&d), ==, 0);
	free_daemon(&d);
}

/*
 * greet_wait = 0 greets at connect: a connect-and-close is still not
 * recorded; a client that stays a second, silent, is.
 */
static void
test_greet_at_once(void)
{
	struct daemon d;
	g_autofree char *events = NULL;
	bool closed;
	int fd;

	start_daemon(&d, "greet0", NULL);
	run_daemon(&d, (const char *[]){ "--set", "tarpitd.greet_wait=0",
	    NULL });
	for (int i = 0; i < 5; i++) {
		fd = dial(&d, "127.0.7.1");
		g_string_free(read_until(fd, "220 ", 2000, &closed), TRUE);
		close(fd);
	}
	fd = dial(&d, "127.0.7.2");
	g_string_free(read_until(fd, "220 ", 2000, &closed), TRUE);
	g_usleep(1200 * 1000);
	close(fd);
	g_assert_true(log_has(&d, "client=127.0.7.2 ", 3000));
	g_assert_cmpint(totals_value(&d, "unrecorded_early"), ==, 5);
	g_assert_cmpint(stop_daemon(&d), ==, 0);
	events = read_text(d.events);
	g_assert_cmpuint(count_lines(events, "127.0.7.1"), ==, 0);
	g_assert_cmpuint(count_lines(events, "127.0.7.2"), ==, 1);
	free_daemon(&d);
}

/* The store sees a client while it is still held, with its HELO. */
static void
test_store_while_held(void)
{
	int fd = dial(&main_d, "127.0.0.77");
	struct store_options o = { STORE_BACKEND_LMDB, main_d.store, 1u << 30,
	    0, true };
	bool closed, found = false;
	struct hit_record r;
	struct store *st;

	g_string_free(read_until(fd, "220 ", 3000, &closed), TRUE);
	send_all(fd, "EHLO held.example\r\n", 19);
	st = store_open(&o, NULL);
	g_assert_nonnull(st);
	for (int i = 0; i < 100 && !(found && r.helo_len > 0); i++) {
		g_assert_true(store_lookup(st, "127.0.0.77/32", &r, &found,
		    NULL));
		g_usleep(10000);
	}
	g_assert_true(found);
	g_assert_cmpuint(r.tarpit_sessions, ==, 1);
	g_assert_cmpstr(r.helo, ==, "held.example");
	g_assert_cmpuint(r.tarpit_held_ms, ==, 0);	/* not ended yet */
	g_string_free(read_until(fd, NULL, MAX_HOLD + DRIP + SLACK, &closed),
	    TRUE);
	close(fd);
	for (int i = 0; i < 100 && r.tarpit_held_ms == 0; i++) {
		g_assert_true(store_lookup(st, "127.0.0.77/32", &r, &found,
		    NULL));
		g_usleep(10000);
	}
	g_assert_cmpuint(r.tarpit_held_ms, >=, MAX_HOLD - 50);
	store_free(st);
}

/* Sleep until the monotonic time t (at once if it has passed). */
static void
sleep_until(int64_t t)
{
	int64_t left = t - g_get_monotonic_time();

	if (left > 0)
		g_usleep((gulong)left);
}

/*
 * A recorded session that hangs up before its HELO leaves its entry in
 * the contact-wait queue; the next session on the same descriptor (the
 * lowest free one: the same) must not be written by that stale entry,
 * early and without its HELO, when it comes due. The second session is
 * greeted half a CONTACT_WAIT after the first and says EHLO after the
 * first's entry came due: its contact and HELO still go in one event.
 * Two events each, 6 + 4 (once 6 + 5).
 */
static void
stale_contact_wait(const struct daemon *d, struct store *st)
{
	struct hit_record r;
	bool closed, found;
	int gone_fd, next_fd;
	int64_t t0;

	gone_fd = dial(d, "127.0.8.4");
	g_string_free(read_until(gone_fd, "220 ", 3000, &closed), TRUE);
	t0 = g_get_monotonic_time();
	close(gone_fd);
	g_assert_true(log_has(d, "client=127.0.8.4 ", 3000));
	sleep_until(t0 + 500 * 1000);
	next_fd = dial(d, "127.0.9.5");
	g_string_free(read_until(next_fd, "220 ", 3000, &closed), TRUE);
	sleep_until(t0 + 1250 * 1000);
	send_all(next_fd, "EHLO next.example\r\n", 19);
	for (int i = 0; i < 100 && totals_value(d, "store_written") < 9; i++)
		g_usleep(20000);
	close(next_fd);
	g_assert_true(log_has(d, "client=127.0.9.5 ", 3000));
	for (int i = 0; i < 100 && totals_value(d, "store_written") < 10; i++)
		g_usleep(20000);
	g_usleep(100 * 1000);	/* a stale write would have come by now */
	g_assert_cmpint(totals_value(d, "store_written"), ==, 10);
	g_assert_true(store_lookup(st, "127.0.9.5/32", &r, &found, NULL));
	g_assert_true(found);
	g_assert_cmpstr(r.helo, ==, "next.example");
	g_assert_cmpuint(r.tarpit_sessions, ==, 1);
}

/*
 * A session's store events: its contact and HELO together, then its
 * end, two in all (once three); a silent one's contact is in the store
 * within CONTACT_WAIT (a second) while it is held, then its end.
 */
static void
test_store_events(void)
{
	struct daemon d;
	struct store_options o = { 0 };
	struct hit_record r;
	struct store *st;
	bool closed, found = false;
	int helo_fd, silent_fd, quick_fd;
	int64_t t0;

	start_daemon(&d, "events", NULL);
	run_daemon(&d, NULL);
	o = (struct store_options){ STORE_BACKEND_LMDB, d.store, 1u << 30, 0,
	    true };
	g_assert_cmpint(totals_value(&d, "store_written"), ==, 0);
	helo_fd = dial(&d, "127.0.8.1");
	silent_fd = dial(&d, "127.0.8.2");
	g_string_free(read_until(helo_fd, "220 ", 3000, &closed), TRUE);
	send_all(helo_fd, "EHLO held.example\r\n", 19);
	g_string_free(read_until(silent_fd, "220 ", 3000, &closed), TRUE);
	t0 = g_get_monotonic_time();
	st = store_open(&o, NULL);
	g_assert_nonnull(st);
	for (int i = 0; i < 300 && !found; i++) {
		g_assert_true(store_lookup(st, "127.0.8.2/32", &r, &found,
		    NULL));
		if (!found)
			g_usleep(10000);
	}
	g_test_message("a silent client's contact was stored %" G_GINT64_FORMAT
	    " ms after the greeting", (g_get_monotonic_time() - t0) / 1000);
	g_assert_true(found);
	g_assert_cmpuint(r.tarpit_sessions, ==, 1);
	g_assert_cmpuint(r.tarpit_held_ms, ==, 0);	/* still held */
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 1000 * 1000 + SLACK * 1000);
	g_assert_true(store_lookup(st, "127.0.8.1/32", &r, &found, NULL));
	g_assert_true(found);
	g_assert_cmpstr(r.helo, ==, "held.example");
	g_assert_cmpint(totals_value(&d, "store_written"), ==, 2);
	g_string_free(read_until(helo_fd, NULL, MAX_HOLD + DRIP + SLACK,
	    &closed), TRUE);
	g_string_free(read_until(silent_fd, NULL, MAX_HOLD + DRIP + SLACK,
	    &closed), TRUE);
	close(helo_fd);
	close(silent_fd);
	/* One that says EHLO and hangs up at once: two events too. */
	quick_fd = dial(&d, "127.0.8.3");
	g_string_free(read_until(quick_fd, "220 ", 3000, &closed), TRUE);
	send_all(quick_fd, "EHLO quick.example\r\n", 20);
	close(quick_fd);
	g_assert_true(log_has(&d, "client=127.0.8.3 ", 3000));
	for (int i = 0; i < 100 && totals_value(&d, "store_written") < 6; i++)
		g_usleep(20000);
	g_assert_cmpint(totals_value(&d, "store_written"), ==, 6);
	g_assert_cmpint(totals_value(&d, "sessions"), ==, 3);
	g_assert_true(store_lookup(st, "127.0.8.3/32", &r, &found, NULL));
	g_assert_true(found);
	g_assert_cmpstr(r.helo, ==, "quick.example");
	g_assert_cmpuint(r.tarpit_sessions, ==, 1);
	g_assert_true(store_lookup(st, "127.0.8.2/32", &r, &found, NULL));
	g_assert_cmpuint(r.tarpit_held_ms, >=, MAX_HOLD - 50);
	g_assert_cmpuint(r.tarpit_sessions, ==, 1);
	stale_contact_wait(&d, st);
	store_free(st);
	g_assert_cmpint(stop_daemon(&d), ==, 0);
	free_daemon(&d);
}

/* After a client sent MAIL, RCPT, AUTH and DATA: none of it is kept. */
static void
test_privacy(void)
{
	static const char secrets[] =
	    "EHLO privacy.example\r\nAUTH PLAIN c2VjcmV0LWF1dGg=\r\n"
	    "MAIL FROM:<secret-sender@example.com>\r\n"
	    "RCPT TO:<secret-rcpt@example.net>\r\nDATA\r\n"
	    "Subject: secret-subject\r\n\r\nsecret-body\r\n.\r\n";
	int fd = dial(&main_d, NULL);
	bool closed;

	g_string_free(read_until(fd, "220 ", 3000, &closed), TRUE);
	send_all(fd, secrets, sizeof(secrets) - 1);
	g_string_free(read_until(fd, NULL, MAX_HOLD + DRIP + SLACK, &closed),
	    TRUE);
	close(fd);
	g_assert_true(log_has(&main_d, "helo=privacy.example", 3000));
	/* The files are checked once the daemon has stopped: see below. */
}

/* SIGTERM: everyone held gets a 421 at once, then a clean exit. */
static void
test_sigterm(void)
{
	int fds[3];
	GString *greetings[3];
	g_autofree char *events = NULL, *log = NULL;
	int64_t t0;

	for (int i = 0; i < 3; i++) {
		bool closed;

		fds[i] = dial(&main_d, NULL);
		greetings[i] = read_until(fds[i], "220 ", 3000, &closed);
		send_all(fds[i], "EHLO term.example\r\n", 19);
	}
	g_usleep(100000);
	t0 = g_get_monotonic_time();
	g_assert_cmpint(stop_daemon(&main_d), ==, 0);
	g_assert_cmpint((g_get_monotonic_time() - t0) / 1000, <, 2000);
	for (int i = 0; i < 3; i++) {
		bool closed;
		g_autoptr(GString) t = read_until(fds[i], NULL, 2000, &closed);

		g_assert_true(closed);
		g_assert_nonnull(strstr(t->str, "421 4.3.2 tarpit.test"));
		/* The open "250-" reply ended first: one code per reply. */
		g_assert_nonnull(strstr(t->str, "\r\n250 HELP\r\n421 4.3.2"));
		g_string_prepend(t, greetings[i]->str);
		g_string_free(greetings[i], TRUE);
		check_transcript(t, true, true, "sigterm");
		close(fds[i]);
	}
	events = read_text(main_d.events);
	g_assert_nonnull(strstr(events, "\"end\":\"shutdown\""));
	log = read_text(main_d.log);
	g_assert_nonnull(strstr(log, "tarpitd stopped"));
}

/* Nothing of what clients said beyond HELO is in any file we keep. */
static void
test_nothing_kept(void)
{
	const char *files[] = { main_d.log, main_d.events, main_d.store };

	for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
		g_autofree char *data = NULL;
		gsize len;

		g_assert_true(g_file_get_contents(files[i], &data, &len, NULL));
		g_assert_null(g_strstr_len(data, (gssize)len, "secret"));
		g_assert_null(g_strstr_len(data, (gssize)len, "c2VjcmV0"));
		g_assert_null(g_strstr_len(data, (gssize)len, "x@y.example"));
	}
}

/* Root is dropped for nobody before any client is read. */
static void
test_privileges(void)
{
	g_autofree char *path = NULL, *status = NULL;
	struct passwd *pw;
	g_autofree char *uids = NULL, *gids = NULL;
	struct daemon d;

	if (geteuid() != 0) {
		g_test_skip("needs root");
		return;
	}
	pw = getpwnam("nobody");
	g_assert_nonnull(pw);
	start_daemon(&d, "privs", NULL);
	run_daemon(&d, NULL);
	path = g_strdup_printf("/proc/%d/status", d.pid);
	status = read_text(path);
	uids = g_strdup_printf("\nUid:\t%u\t%u\t%u\t%u\n", pw->pw_uid,
	    pw->pw_uid, pw->pw_uid, pw->pw_uid);
	gids = g_strdup_printf("\nGid:\t%u\t%u\t%u\t%u\n", pw->pw_gid,
	    pw->pw_gid, pw->pw_gid, pw->pw_gid);
	g_assert_nonnull(strstr(status, uids));
	g_assert_nonnull(strstr(status, gids));
	g_assert_nonnull(strstr(status, "\nCapEff:\t0000000000000000\n"));
	g_assert_cmpint(stop_daemon(&d), ==, 0);
	free_daemon(&d);

	/* A user that is root is refused. */
	start_daemon(&d, "root", NULL);
	{
		g_autofree char *conf = read_text(d.conf);
		g_autofree char *rooted = NULL;
		char *p = strstr(conf, "user = nobody");
		const char *argv[] = { tarpitd_bin, "-f", "-c", d.conf, NULL };
		g_auto(GStrv) cmd = test_cmd(argv);
		int status2;

		memcpy(p, "user = root  ", 13);
		rooted = g_strdup(conf);
		g_assert_true(g_file_set_contents(d.conf, rooted, -1, NULL));
		if ((d.pid = fork()) == 0) {
			int fd = open(d.log, O_WRONLY | O_CREAT, 0644);

			dup2(fd, 2);
			execv(cmd[0], cmd);
			_exit(127);
		}
		g_assert_cmpint(waitpid(d.pid, &status2, 0), ==, d.pid);
		d.pid = 0;
		g_assert_true(WIFEXITED(status2));
		g_assert_cmpint(WEXITSTATUS(status2), ==, 1);
		g_assert_true(log_has(&d, "is root; tarpitd will not run as root",
		    0));
	}
	free_daemon(&d);
}

/* The value of field name in a /proc/PID/status text ("" if absent). */
static char *
status_field(const char *status, const char *name)
{
	g_autofree char *key = g_strdup_printf("\n%s:", name);
	const char *p = strstr(status, key), *end;

	if (p == NULL)
		return g_strdup("");
	p += strlen(key);
	end = strchr(p, '\n');
	return g_strstrip(g_strndup(p, end != NULL ? (size_t)(end - p) :
	    strlen(p)));
}

/*
 * What the running process pid may do: real, effective, saved and file
 * uid and gid are pw's; its groups are pw's own at most (never 0); no
 * capability in any set but the bounding one; no new privileges; not
 * dumpable (so /proc/PID belongs to root); its root is root_dir.
 */
static void
check_shed(pid_t pid, const struct passwd *pw, const char *root_dir)
{
	g_autofree char *path = g_strdup_printf("/proc/%d/status", pid);
	g_autofree char *status = read_text(path);
	g_autofree char *uids = g_strdup_printf("%u\t%u\t%u\t%u", pw->pw_uid,
	    pw->pw_uid, pw->pw_uid, pw->pw_uid);
	g_autofree char *gids = g_strdup_printf("%u\t%u\t%u\t%u", pw->pw_gid,
	    pw->pw_gid, pw->pw_gid, pw->pw_gid);
	g_autofree char *uid = status_field(status, "Uid");
	g_autofree char *gid = status_field(status, "Gid");
	g_autofree char *groups = status_field(status, "Groups");
	g_autofree char *root = g_strdup_printf("/proc/%d/root", pid);
	g_autofree char *link = g_file_read_link(root, NULL);
	g_auto(GStrv) each = g_strsplit(groups, " ", -1);
	const char *zero[] = { "CapEff", "CapPrm", "CapInh", "CapAmb" };
	struct stat sb;

	g_assert_cmpstr(uid, ==, uids);
	g_assert_cmpstr(gid, ==, gids);
	for (size_t i = 0; each[i] != NULL; i++) {
		if (each[i][0] == '\0')
			continue;
		g_assert_cmpuint(strtoul(each[i], NULL, 10), ==, pw->pw_gid);
		g_assert_cmpuint(strtoul(each[i], NULL, 10), !=, 0);
	}
	for (size_t i = 0; i < G_N_ELEMENTS(zero); i++) {
		g_autofree char *v = status_field(status, zero[i]);

		g_assert_cmpstr(v, ==, "0000000000000000");
	}
	{
		g_autofree char *nnp = status_field(status, "NoNewPrivs");

		g_assert_cmpstr(nnp, ==, "1");
	}
	g_assert_cmpint(stat(path, &sb), ==, 0);
	g_assert_cmpuint(sb.st_uid, ==, 0);
	g_assert_cmpstr(link, ==, root_dir);
}

/* Each path below top that uid can write, one a line (from a child). */
static int writable_fd = -1;

static int
note_writable(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	if (access(path, W_OK) == 0)
		dprintf(writable_fd, "%s\n", path);
	return 0;
}

static char *
writable_by(const struct passwd *pw, const char *top)
{
	g_autofree char *out = g_build_filename(tmpdir, "writable.txt", NULL);
	char *text = NULL;
	pid_t pid;
	int status;

	if ((pid = fork()) == 0) {
		gid_t gid = pw->pw_gid;

		writable_fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (writable_fd < 0 || setgroups(1, &gid) != 0 ||
		    setresgid(gid, gid, gid) != 0 ||
		    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0)
			_exit(2);
		_exit(nftw(top, note_writable, 16, FTW_PHYS) == 0 ? 0 : 3);
	}
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	g_assert_true(WIFEXITED(status));
	g_assert_cmpint(WEXITSTATUS(status), ==, 0);
	g_assert_true(g_file_get_contents(out, &text, NULL, NULL));
	return text;
}

/* A port below 1024 free on addr, or 0. */
static uint16_t
free_low_port(const char *addr)
{
	for (uint16_t port = 700; port < 1000; port++) {
		struct sockaddr_in sin = { .sin_family = AF_INET,
		    .sin_port = htons(port) };
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int ok;

		inet_pton(AF_INET, addr, &sin.sin_addr);
		ok = bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
		close(fd);
		if (ok)
			return port;
	}
	return 0;
}

/*
 * No descriptor of pid is a folder outside root: one would let the
 * process walk out of its chroot (openat "..", fchdir). Files (stderr,
 * valgrind's log) give no way out.
 */
static void
check_fds_inside(pid_t pid, const char *root)
{
	g_autofree char *fds = g_strdup_printf("/proc/%d/fd", pid);
	g_autoptr(GDir) dir = g_dir_open(fds, 0, NULL);
	size_t n = strlen(root);
	const char *name;

	g_assert_nonnull(dir);
	while ((name = g_dir_read_name(dir)) != NULL) {
		g_autofree char *fd = g_build_filename(fds, name, NULL);
		g_autofree char *link = g_file_read_link(fd, NULL);
		struct stat sb;

		if (link == NULL || stat(fd, &sb) != 0 || !S_ISDIR(sb.st_mode))
			continue;
		if (strncmp(link, root, n) != 0 ||
		    (link[n] != '/' && link[n] != '\0'))
			g_error("descriptor %s leads out of the chroot: %s",
			    name, link);
	}
}

/*
 * Least privilege, as root with a chroot: the worker is nobody, in
 * nobody's group only, rooted in the chroot, with no capability, no new
 * privileges, not dumpable, and the only things nobody can write in its
 * view are the store folder and files and the event log. Then started
 * as nobody with only CAP_NET_BIND_SERVICE (as systemd's User= with
 * AmbientCapabilities= does), it binds a port below 1024 and sheds
 * that capability too.
 */
static void
test_least_privilege(void)
{
	g_autofree char *extra = NULL, *writable = NULL, *expect = NULL;
	g_autofree char *canon = NULL, *dir = NULL, *listen = NULL;
	g_autofree char *lsan = NULL, *lsan_was = NULL;
	const char *addr = "127.0.0.83";
	struct passwd pw;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct daemon d;
	uint16_t port;
	GString *t;
	bool closed;
	int fd;

	if (geteuid() != 0) {
		g_test_skip("needs root");
		return;
	}
	g_assert_nonnull(getpwnam("nobody"));
	pw = *getpwnam("nobody");
	dir = g_build_filename(tmpdir, "least", NULL);
	extra = g_strdup_printf("chroot = %s", dir);
	start_daemon(&d, "least", extra);
	/* LeakSanitizer needs /proc, which the chroot lacks: no leak check. */
	lsan_was = g_strdup(g_getenv("LSAN_OPTIONS"));
	lsan = g_strconcat(lsan_was != NULL ? lsan_was : "",
	    lsan_was != NULL && lsan_was[0] != '\0' ? ":" : "",
	    "detect_leaks=0", NULL);
	g_setenv("LSAN_OPTIONS", lsan, TRUE);
	run_daemon(&d, NULL);
	if (lsan_was != NULL)
		g_setenv("LSAN_OPTIONS", lsan_was, TRUE);
	else
		g_unsetenv("LSAN_OPTIONS");
	canon = g_canonicalize_filename(d.dir, NULL);
	check_shed(d.pid, &pw, canon);
	check_fds_inside(d.pid, canon);
	writable = writable_by(&pw, d.dir);
	{
		g_auto(GStrv) lines = g_strsplit(writable, "\n", -1);
		g_autofree char *lock = g_strconcat(d.store, "-lock", NULL);
		g_autofree char *folder = g_path_get_dirname(d.store);
		const char *want[] = { folder, d.store, lock, d.events };
		size_t n = 0;

		for (size_t i = 0; lines[i] != NULL; i++) {
			bool known = false;

			if (lines[i][0] == '\0')
				continue;
			for (size_t j = 0; j < G_N_ELEMENTS(want); j++)
				known |= strcmp(lines[i], want[j]) == 0;
			if (!known)
				g_error("nobody can write %s in the chroot",
				    lines[i]);
			n++;
		}
		g_assert_cmpuint(n, ==, G_N_ELEMENTS(want));
	}
	g_assert_cmpint(stop_daemon(&d), ==, 0);
	free_daemon(&d);

	/* Not root, only CAP_NET_BIND_SERVICE, a port below 1024. */
	if (!g_file_test("/usr/bin/setpriv", G_FILE_TEST_IS_EXECUTABLE)) {
		g_test_message("no setpriv: the non-root start is not tested");
		return;
	}
	g_assert_cmpuint((port = free_low_port(addr)), !=, 0);
	start_daemon(&d, "ambient", NULL);
	g_assert_cmpint(chown(d.dir, pw.pw_uid, pw.pw_gid), ==, 0);
	listen = g_strdup_printf("--listen=%s:%u", addr, port);
	if ((d.pid = fork()) == 0) {
		int logfd = open(d.log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		g_autofree char *uid = g_strdup_printf("--reuid=%u", pw.pw_uid);
		g_autofree char *gid = g_strdup_printf("--regid=%u", pw.pw_gid);

		dup2(logfd, 2);
		execl("/usr/bin/setpriv", "setpriv", uid, gid,
		    "--clear-groups", "--inh-caps=+net_bind_service",
		    "--ambient-caps=+net_bind_service", tarpitd_bin, "-f", "-c",
		    d.conf, listen, (char *)NULL);
		_exit(127);
	}
	track(d.pid, true);
	if (!log_has(&d, "serving", 5000 * test_slow())) {
		g_autofree char *log = read_text(d.log);

		g_error("tarpitd as nobody did not start:\n%s", log);
	}
	check_shed(d.pid, &pw, "/");
	sin.sin_port = htons(port);
	inet_pton(AF_INET, addr, &sin.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	g_assert_cmpint(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), ==,
	    0);
	t = read_until(fd, "220-", 3000, &closed);
	g_assert_nonnull(strstr(t->str, "220-"));
	g_string_free(t, TRUE);
	close(fd);
	g_assert_cmpint(stop_daemon(&d), ==, 0);
	free_daemon(&d);
}

/* Over max_clients_per_net or max_clients: an immediate 421, closed. */
static void
test_limits(void)
{
	struct daemon d;
	int held[3], fd;
	bool closed;
	GString *t;
	int64_t t0;

	start_daemon(&d, "limits", "max_clients = 3\nmax_clients_per_net = 2");
	run_daemon(&d, NULL);
	held[0] = dial(&d, "127.0.0.21");
	held[1] = dial(&d, "127.0.0.21");
	g_usleep(100000);
	/* A third from the same network is turned away at once. */
	t0 = g_get_monotonic_time();
	fd = dial(&d, "127.0.0.21");
	t = read_until(fd, NULL, 2000, &closed);
	g_assert_true(closed);
	g_assert_cmpint((g_get_monotonic_time() - t0) / 1000, <, 1000);
	g_assert_true(g_str_has_prefix(t->str, "421 4.7.0 tarpit.test Too many"));
	check_transcript(t, false, true, "per net");
	g_string_free(t, TRUE);
	close(fd);
	/* Another network still gets in, up to max_clients. */
	held[2] = dial(&d, "127.0.0.22");
	t = read_until(held[2], "220-", 2000, &closed);
	g_assert_false(closed);
	g_string_free(t, TRUE);
	fd = dial(&d, "127.0.0.23");
	t = read_until(fd, NULL, 2000, &closed);
	g_assert_true(closed);
	g_assert_true(g_str_has_prefix(t->str, "421 4.7.0 tarpit.test Too many"));
	g_string_free(t, TRUE);
	close(fd);
	/* Refused ones are counted, not logged one by one. */
	g_assert_cmpint(totals_value(&d, "unrecorded_limit"), ==, 2);
	for (int i = 0; i < 3; i++)
		close(held[i]);
	/* Once they are gone (logged or only counted), there is room again. */
	for (int i = 0; i < 100 && totals_value(&d, "held_now") != 0; i++)
		g_usleep(20000);
	g_assert_cmpint(totals_value(&d, "held_now"), ==, 0);
	expect_teaser(dial(&d, "127.0.0.21"), "tarpit.test");
	g_assert_cmpint(stop_daemon(&d), ==, 0);
	{
		g_autofree char *log = read_text(d.log);

		g_assert_null(strstr(log, "end=limit"));
		g_assert_nonnull(strstr(log, "unrecorded reason=limit count=2 "));
	}
	free_daemon(&d);
}

/* Connections in the burst test: BURST_PROCS processes, each its share. */
#define BURST_PROCS	5
#define BURST_EACH	400
#define BURST_PER_NET	380
#define BURST_MAX	1850

/*
 * One process of the burst: wait for go to close, open each (at most
 * BURST_EACH) connections from src at once (non-blocking), and read each one's
 * first line. Writes "teasers refused other lost" to out, then holds
 * its connections until go closes again (so no process frees room
 * under max_clients while another still connects), and exits.
 */
static void
burst_child(const struct daemon *d, const char *src, int each, int go,
    int done, int out)
{
	struct sockaddr_in to = { .sin_family = AF_INET,
	    .sin_port = htons(d->port) }, me = { .sin_family = AF_INET };
	g_autofree char *teaser = g_strdup_printf("220-%s ", "tarpit.test");
	static struct pollfd p[BURST_EACH];
	static GString *got[BURST_EACH];
	unsigned teasers = 0, refused = 0, other = 0, left = (unsigned)each;
	int64_t end;
	char c, line[64];

	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	inet_pton(AF_INET, src, &me.sin_addr);
	if (read(go, &c, 1) < 0)
		_exit(2);
	for (int i = 0; i < each; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

		if (fd < 0 || bind(fd, (struct sockaddr *)&me, sizeof(me)) != 0 ||
		    (connect(fd, (struct sockaddr *)&to, sizeof(to)) != 0 &&
		    errno != EINPROGRESS))
			_exit(2);
		p[i] = (struct pollfd){ fd, POLLIN, 0 };
		got[i] = g_string_new(NULL);
	}
	end = g_get_monotonic_time() + 20 * G_USEC_PER_SEC * test_slow();
	while (left > 0 && g_get_monotonic_time() < end) {
		if (poll(p, (nfds_t)each, 100) <= 0)
			continue;
		for (int i = 0; i < each; i++) {
			char buf[512];
			ssize_t n;

			if (p[i].fd < 0 || p[i].revents == 0)
				continue;
			n = recv(p[i].fd, buf, sizeof(buf), 0);
			if (n > 0)
				g_string_append_len(got[i], buf, n);
			/* A whole first line, or the server closed. */
			if (n > 0 && strstr(got[i]->str, "\r\n") == NULL)
				continue;
			if (g_str_has_prefix(got[i]->str, teaser))
				teasers++;
			else if (g_str_has_prefix(got[i]->str,
			    "421 4.7.0 tarpit.test Too many"))
				refused++;
			else
				other++;
			/* Kept open: a held client stays held to the end. */
			p[i].fd = -p[i].fd - 1;
			left--;
		}
	}
	g_snprintf(line, sizeof(line), "%u %u %u %u\n", teasers, refused,
	    other, left);
	if (write(out, line, strlen(line)) < 0 || read(done, &c, 1) < 0)
		_exit(3);
	_exit(0);
}

/*
 * procs processes, each connects each times at once from its own
 * address (127.0.K.1); adds up what they got in sum: teasers, 421s,
 * other first lines, connections not answered.
 */
static void
burst(const struct daemon *d, int procs, int each, unsigned sum[4])
{
	pid_t kids[BURST_PROCS];
	int go[2], done[2], out[2];
	FILE *results;

	g_assert_cmpint(procs, <=, BURST_PROCS);
	g_assert_cmpint(pipe(go), ==, 0);
	g_assert_cmpint(pipe(done), ==, 0);
	g_assert_cmpint(pipe(out), ==, 0);
	for (int k = 0; k < procs; k++) {
		g_autofree char *src = g_strdup_printf("127.0.%d.1", k + 1);

		if ((kids[k] = fork()) == 0) {
			close(go[1]);
			close(done[1]);
			close(out[0]);
			burst_child(d, src, each, go[0], done[0], out[1]);
		}
		g_assert_cmpint(kids[k], >, 0);
	}
	close(out[1]);
	/* All at once. */
	close(go[1]);
	results = fdopen(out[0], "r");
	g_assert_nonnull(results);
	for (int k = 0; k < procs; k++) {
		unsigned v[4];
		char line[64];

		g_assert_nonnull(fgets(line, sizeof(line), results));
		g_assert_cmpint(sscanf(line, "%u %u %u %u", &v[0], &v[1],
		    &v[2], &v[3]), ==, 4);
		/* No network past its limit. */
		g_assert_cmpuint(v[0], <=, BURST_PER_NET);
		for (int j = 0; j < 4; j++)
			sum[j] += v[j];
	}
	/* Every connection answered: the processes may go. */
	close(done[1]);
	for (int k = 0; k < procs; k++) {
		int status;

		g_assert_cmpint(waitpid(kids[k], &status, 0), ==, kids[k]);
		g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	fclose(results);
	close(done[0]);
	close(go[0]);
	g_test_message("burst: %u teasers, %u refused, %u other, %u lost",
	    sum[0], sum[1], sum[2], sum[3]);
}

/*
 * A burst of connections from a few processes, faster than the daemon
 * sets them up: each gets its teaser or, over max_clients_per_net or
 * max_clients, its 421; none is lost or left waiting, and the limits
 * count every one accepted in the burst, greeted or not yet.
 */
static void
test_burst(void)
{
	struct daemon d;
	g_autofree char *limits = g_strdup_printf("max_clients = %d\n"
	    "max_clients_per_net = %d", BURST_MAX, BURST_PER_NET);
	unsigned sum[4] = { 0 };

	start_daemon(&d, "burst", limits);
	run_daemon(&d, NULL);
	burst(&d, BURST_PROCS, BURST_EACH, sum);
	g_assert_cmpuint(sum[2], ==, 0);
	g_assert_cmpuint(sum[3], ==, 0);
	g_assert_cmpuint(sum[0], ==, BURST_MAX);
	g_assert_cmpuint(sum[1], ==, BURST_PROCS * BURST_EACH - BURST_MAX);
	g_assert_cmpint(totals_value(&d, "started"), ==,
	    BURST_PROCS * BURST_EACH);
	g_assert_cmpint(totals_value(&d, "unrecorded_limit"), ==,
	    BURST_PROCS * BURST_EACH - BURST_MAX);
	g_assert_cmpint(stop_daemon(&d), ==, 0);
	free_daemon(&d);
}

/*
 * Bursts one after another through a daemon with few descriptors: the
 * clients accepted and not yet greeted wait in a ring of one slot per
 * descriptor, which goes round several times here; each is still
 * greeted once.
 */
static void
test_burst_wrap(void)
{
	struct daemon d;
	unsigned sum[4] = { 0 };

	start_daemon(&d, "burst-wrap", "max_clients_per_net = 100");
	d.nofile = 200;
	run_daemon(&d, NULL);
	for (int round = 0; round < 5; round++) {
		burst(&d, 2, 60, sum);
		/* Gone before the next: never short of descriptors. */
		for (int i = 0; i < 200 && totals_value(&d, "held_now") != 0;
		    i++)
			g_usleep(20000);
	}
	g_assert_cmpuint(sum[0], ==, 5 * 2 * 60);
	g_assert_cmpuint(sum[1] + sum[2] + sum[3], ==, 0);
	g_assert_cmpint(stop_daemon(&d), ==, 0);
	free_daemon(&d);
}

/*
 * SIGHUP shortening the delays: a client already dripping at the old
 * pace is not left waiting, and one that comes after is not queued
 * behind it.
 */
static void
test_reload_delays(void)
{
	struct daemon d;
	g_autofree char *slow = NULL;
	int fds[2];
	bool closed;

	start_daemon(&d, "reload-delays", NULL);
	slow = g_strdup_printf("[tarpitd]\nlisten = 127.0.0.1:%u\n"
	    "hostname = tarpit.test\ngreet_wait = 0\ndrip_interval = 60s\n"
	    "max_hold = 10m\nuser = nobody\n[store]\npath = %s\n", d.port,
	    d.store);
	g_assert_true(g_file_set_contents(d.conf, slow, -1, NULL));
	run_daemon(&d, NULL);
	fds[0] = dial(&d, NULL);
	g_string_free(read_until(fds[0], "220 ", 3000, &closed), TRUE);
	send_all(fds[0], "EHLO old.example\r\n", 18);
	g_string_free(read_until(fds[0], "Hello, please wait\r\n", 3000,
	    &closed), TRUE);
	write_conf(&d, "tarpit.test", NULL);
	kill(d.pid, SIGHUP);
	g_assert_true(log_has(&d, "reloaded ", 3000));
	fds[1] = dial(&d, NULL);
	g_string_free(read_until(fds[1], "220 ", 3000, &closed), TRUE);
	send_all(fds[1], "EHLO new.example\r\n", 18);
	/* Both reach the end of their reply at the new pace. */
	for (int i = 0; i < 2; i++) {
		g_autoptr(GString) t = read_until(fds[i], "250 HELP\r\n",
		    (MAX_HOLD + SLACK) * test_slow(), &closed);

		g_assert_nonnull(strstr(t->str, "250 HELP\r\n"));
		close(fds[i]);
	}
	g_assert_cmpint(stop_daemon(&d), ==, 0);
	free_daemon(&d);
}

/* SIGHUP: a good file takes effect; a bad one is refused and logged. */
static void
test_reload(void)
{
	struct daemon d;

	start_daemon(&d, "reload", NULL);
	run_daemon(&d, NULL);
	write_conf(&d, "reloaded.test", NULL);
	kill(d.pid, SIGHUP);
	g_assert_true(log_has(&d, "reloaded ", 3000));
	expect_teaser(dial(&d, NULL), "reloaded.test");

	g_assert_true(g_file_set_contents(d.conf,
	    "[tarpitd]\nmax_hold = forever\n", -1, NULL));
	kill(d.pid, SIGHUP);
	g_assert_true(log_has(&d, "reload: keeping the running configuration",
	    3000));
	g_assert_true(log_has(&d, "[tarpitd] max_hold: \"forever\"", 0));
	expect_teaser(dial(&d, NULL), "reloaded.test");
	g_assert_cmpint(stop_daemon(&d), ==, 0);
	free_daemon(&d);
}

/* CPU seconds a process has used. */
static double
cpu_seconds(pid_t pid)
{
	g_autofree char *path = g_strdup_printf("/proc/%d/stat", pid);
	g_autofree char *stat = read_text(path);
	const char *p = strrchr(stat, ')');
	unsigned long utime = 0, stime = 0;
	g_auto(GStrv) f = NULL;

	g_assert_nonnull(p);
	f = g_strsplit(p + 2, " ", -1);
	/* Fields 14 and 15 of stat; f[0] is field 3. */
	utime = strtoul(f[11], NULL, 10);
	stime = strtoul(f[12], NULL, 10);
	return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* Out of descriptors: no busy loop, and it recovers by itself. */
static void
test_emfile(void)
{
	struct daemon d;
	int fds[40];
	double cpu;

	start_daemon(&d, "emfile", NULL);
	d.nofile = 24;
	run_daemon(&d, NULL);
	for (size_t i = 0; i < G_N_ELEMENTS(fds); i++)
		fds[i] = dial(&d, NULL);	/* the backlog takes the rest */
	g_assert_true(log_has(&d, "not accepting for", 3000));
	cpu = cpu_seconds(d.pid);
	g_usleep(1500000);
	cpu = cpu_seconds(d.pid) - cpu;
	g_test_message("cpu while out of descriptors: %.2f s in 1.5 s", cpu);
	g_assert_cmpfloat(cpu, <, 0.3);
	for (size_t i = 0; i < G_N_ELEMENTS(fds); i++)
		close(fds[i]);
	/* The held ones end, the waiting ones are accepted and end too. */
	g_usleep(1500000);
	expect_teaser(dial(&d, NULL), "tarpit.test");
	g_assert_cmpint(stop_daemon(&d), ==, 0);
	free_daemon(&d);
}

/* Several workers share the port; SIGTERM stops them all. */
static void
test_workers(void)
{
	struct daemon d;

	start_daemon(&d, "workers", "workers = 3");
	run_daemon(&d, NULL);
	for (int i = 0; i < 6; i++)
		expect_teaser(dial(&d, NULL), "tarpit.test");
	g_assert_true(log_has(&d, "serving", 0));
	g_assert_cmpint(stop_daemon(&d), ==, 0);
	g_assert_true(log_has(&d, "all workers stopped", 2000));
	free_daemon(&d);
}

/* -t: 0 and "OK" for a good file, 1 and file:line for a bad one. */
static void
test_check_config(void)
{
	struct daemon d;
	g_autofree char *out = NULL, *err = NULL;
	int status;
	const char *argv[] = { tarpitd_bin, "-t", "-c", NULL, NULL };
	g_auto(GStrv) cmd = NULL;

	start_daemon(&d, "check", NULL);
	argv[3] = d.conf;
	cmd = test_cmd(argv);
	g_assert_true(g_spawn_sync(NULL, cmd, NULL, 0, NULL, NULL,
	    &out, &err, &status, NULL));
	g_assert_true(g_spawn_check_wait_status(status, NULL));
	g_assert_nonnull(strstr(out, "slowspam.conf: OK"));
	g_clear_pointer(&out, g_free);
	g_clear_pointer(&err, g_free);
	g_assert_true(g_file_set_contents(d.conf,
	    "[tarpitd]\nlisten = 127.0.0.1:2525\ndrip_interval = 1y\n", -1,
	    NULL));
	g_assert_true(g_spawn_sync(NULL, cmd, NULL, 0, NULL, NULL,
	    &out, &err, &status, NULL));
	g_assert_true(WIFEXITED(status));
	g_assert_cmpint(WEXITSTATUS(status), ==, 1);
	g_assert_nonnull(strstr(err, "slowspam.conf:3: [tarpitd] drip_interval"));
	free_daemon(&d);
}

/* Connect to [::1]:port; -1 if it fails. */
static int
dial6(uint16_t port)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6,
	    .sin6_port = htons(port), .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (connect(fd, (struct sockaddr *)&sin6, sizeof(sin6)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Several listen addresses at once, IPv4 and IPv6; SIGUSR1 totals. */
static void
test_listen_both(void)
{
	struct daemon d;
	uint16_t port6 = free_port();
	g_autofree char *listen = NULL, *l6 = NULL;

	start_daemon(&d, "both", NULL);
	listen = g_strdup_printf("127.0.0.1:%u", d.port);
	l6 = g_strdup_printf("[::1]:%u", port6);
	/* --listen twice: both addresses, instead of the file's. */
	run_daemon(&d, (const char *[]){ "--listen", listen, "--listen", l6,
	    NULL });
	expect_teaser(dial(&d, NULL), "tarpit.test");
	{
		int fd = dial6(port6);

		/* It speaks, so its session is recorded and logged. */
		g_assert_cmpint(fd, >=, 0);
		send_all(fd, "EHLO v6.example\r\n", 17);
		expect_teaser(fd, "tarpit.test");
	}
	g_assert_true(log_has(&d, "session client=::1 ", 2000));
	kill(d.pid, SIGUSR1);
	g_assert_true(log_has(&d, "totals held_now=", 2000));
	g_assert_cmpint(stop_daemon(&d), ==, 0);
	free_daemon(&d);
}

/* systemd socket activation: the socket comes as fd 3 with LISTEN_FDS. */
static void
test_socket_activation(void)
{
	struct daemon d;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	g_auto(GStrv) cmd = NULL;
	int lfd;

	/* The file names a port nobody uses: the passed socket must win. */
	start_daemon(&d, "systemd", NULL);
	cmd = test_cmd((const char *[]){ tarpitd_bin, "-f", "-c", d.conf,
	    NULL });
	sin.sin_port = htons(free_port());
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	g_assert_cmpint(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), ==, 0);
	g_assert_cmpint(listen(lfd, 16), ==, 0);
	if ((d.pid = fork()) == 0) {
		int logfd = open(d.log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		g_autofree char *pid = g_strdup_printf("%d", getpid());

		dup2(logfd, 2);
		dup2(lfd, 3);
		g_setenv("LISTEN_PID", pid, TRUE);
		g_setenv("LISTEN_FDS", "1", TRUE);
		execv(cmd[0], cmd);
		_exit(127);
	}
	track(d.pid, true);
	close(lfd);
	g_assert_true(log_has(&d, "serving 1 socket", 5000 * test_slow()));
	d.port = ntohs(sin.sin_port);
	expect_teaser(dial(&d, NULL), "tarpit.test");
	g_assert_cmpint(stop_daemon(&d), ==, 0);
	free_daemon(&d);
}

int
main(int argc, char **argv)
{
	const char *builddir = g_getenv("top_builddir");
	g_autofree char *bin = g_build_filename(builddir != NULL ? builddir :
	    "..", "tarpitd", "tarpitd", NULL);
	int rc;

	g_test_init(&argc, &argv, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGABRT, kill_running);
	signal(SIGTRAP, kill_running);	/* g_error() traps, not aborts */
	tarpitd_bin = bin;
	tmpdir = test_tmpdir_new("tarpitd");
	/* nobody must be able to reach the store folder we give it. */
	g_chmod(tmpdir, 0755);
	start_daemon(&main_d, "main", NULL);
	run_daemon(&main_d, NULL);
	g_test_add_func("/tarpitd/polite", test_polite);
	g_test_add_func("/tarpitd/hostile", test_hostile);
	g_test_add_func("/tarpitd/store-while-held", test_store_while_held);
	g_test_add_func("/tarpitd/store-events", test_store_events);
	g_test_add_func("/tarpitd/unrecorded", test_unrecorded);
	g_test_add_func("/tarpitd/budget", test_budget);
	g_test_add_func("/tarpitd/greet-at-once", test_greet_at_once);
	g_test_add_func("/tarpitd/stalled-log", test_stalled_log);
	g_test_add_func("/tarpitd/privacy", test_privacy);
	g_test_add_func("/tarpitd/sigterm", test_sigterm);
	g_test_add_func("/tarpitd/nothing-kept", test_nothing_kept);
	g_test_add_func("/tarpitd/privileges", test_privileges);
	g_test_add_func("/tarpitd/least-privilege", test_least_privilege);
	g_test_add_func("/tarpitd/limits", test_limits);
	g_test_add_func("/tarpitd/burst", test_burst);
	g_test_add_func("/tarpitd/burst-wrap", test_burst_wrap);
	g_test_add_func("/tarpitd/reload", test_reload);
	g_test_add_func("/tarpitd/reload-delays", test_reload_delays);
	g_test_add_func("/tarpitd/emfile", test_emfile);
	g_test_add_func("/tarpitd/workers", test_workers);
	g_test_add_func("/tarpitd/check-config", test_check_config);
	g_test_add_func("/tarpitd/listen-both", test_listen_both);
	g_test_add_func("/tarpitd/socket-activation", test_socket_activation);
	rc = g_test_run();
	free_daemon(&main_d);
	test_tmpdir_remove(tmpdir);
	return rc;
}
