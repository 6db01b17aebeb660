/*
 * slowspam-milter - act on mail from clients that hit the backup MX first.
 *
 * Usage: slowspam-milter [-c FILE] [-f] [-t] [--socket SPEC]
 *        [--set GROUP.KEY=VALUE]... [--spf-zone FILE] [-V]
 *
 * libmilter's side of the verdict library (verdict.h), which decides:
 * at connect it is told the client's address, its host name and whether
 * {client_resolve} (asked for at negotiation) is "OK"; at HELO the
 * name; at MAIL FROM the bare address and whether {auth_type} says the
 * client authenticated, and tempfail and reject happen there. At end of
 * message: forged headers removed (an Authentication-Results claiming
 * our authserv-id, X-Slowspam, X-Slowspam-Original-Recipients), the
 * verdict's added (Authentication-Results at the top, folded), then tag,
 * quarantine or divert.
 *
 * Never loses mail by its own failure: a store error, an SPF DNS failure
 * or anything unexpected lets the mail continue, logged and counted.
 * Each connection keeps the configuration it started with; SIGUSR1
 * reloads and logs the engine's totals (libmilter takes SIGHUP and
 * SIGTERM as "stop").
 *
 * Metrics: with [milter] metrics_listen, a thread of its own answers
 * Prometheus scrapes (metrics.c) from the engine's counters, which are
 * under its lock, as the callbacks run on many threads.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "addr.h"
#include "conf.h"
#include "log.h"
#include "metrics.h"
#include "parse.h"
#include "privs.h"
#include "verdict.h"

/* One SMTP connection: the verdict's session and what libmilter needs. */
struct conn {
	struct verdict_session v;
	GPtrArray	*rcpts;
	int		ar_seen;	/* A-R headers so far */
	GArray		*ar_ours;	/* their indices that claim our id */
	int		x_seen;		/* X-Slowspam headers (forged) */
	int		rcpts_seen;	/* X-Slowspam-Original-Recipients */
};

static struct {
	GMutex		lock;
	struct verdict_setup *setup;	/* current */
	struct verdict_engine *engine;
	struct store	*store;
	struct spf	*spf;
	struct dnsxl	*dnsxl;		/* [milter] tarpit_list; NULL: none */
	const char	*path;
	const char *const *overrides;
} M;

static void
render_metrics(GString *out, void *data)
{
	(void)data;
	verdict_engine_metrics(M.engine, out, "slowspam_milter");
	metrics_log_stats(out);
}

/*
 * The metrics thread: drive the scrape server for ever. It never waits
 * on one client, and out of descriptors it pauses accepting (metrics.c)
 * rather than spinning.
 */
static void *
metrics_thread(void *arg)
{
	struct metrics_server *srv = arg;
	sigset_t set;

	/* libmilter's signal thread takes these; never this one. */
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	for (;;) {
		struct pollfd p = { .fd = metrics_server_fd(srv),
		    .events = POLLIN };
		int64_t next = metrics_server_deadline(srv);
		int64_t left = next - g_get_monotonic_time() / 1000;
		int timeout = next == INT64_MAX ? -1 :
		    (int)CLAMP(left, 0, 60 * 1000);

		poll(&p, 1, timeout);
		metrics_server_run(srv);
	}
	return NULL;
}

static struct verdict_setup *
setup_load(GError **error)
{
	return verdict_setup_load(M.path, M.overrides, error);
}

static struct verdict_setup *
setup_get(void)
{
	struct verdict_setup *s;

	g_mutex_lock(&M.lock);
	s = verdict_setup_ref(M.setup);
	g_mutex_unlock(&M.lock);
	return s;
}

/* Reset what belongs to one message here (the verdict resets its own). */
static void
message_clear(struct conn *c)
{
	if (c->rcpts != NULL)
		g_ptr_array_set_size(c->rcpts, 0);
	c->ar_seen = c->x_seen = c->rcpts_seen = 0;
	if (c->ar_ours != NULL)
		g_array_set_size(c->ar_ours, 0);
}

static sfsistat
on_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *sa)
{
	struct conn *c = g_new0(struct conn, 1);
	struct verdict_setup *setup = setup_get();
	char sym[] = "{client_resolve}";
	struct addr a;
	const char *name;
	bool have;

	verdict_session_init(&c->v, setup);
	verdict_setup_unref(setup);
	c->rcpts = g_ptr_array_new_with_free_func(g_free);
	c->ar_ours = g_array_new(FALSE, FALSE, sizeof(int));
	smfi_setpriv(ctx, c);
	/*
	 * libmilter gives no length: the family says how much is read.
	 * Sendmail passes a name that does not resolve back too: only
	 * {client_resolve} "OK" confirms it.
	 */
	have = parse_client(sa, sizeof(struct sockaddr_storage), hostname, &a,
	    &name);
	verdict_connect(M.engine, &c->v, have ? &a : NULL, have ? name : NULL,
	    have && name != NULL &&
	    parse_name_confirmed(smfi_getsymval(ctx, sym)), store_now());
	return SMFIS_CONTINUE;
}

static sfsistat
on_helo(SMFICTX *ctx, char *helo)
{
	struct conn *c = smfi_getpriv(ctx);

	if (c != NULL)
		verdict_helo(M.engine, &c->v, helo);
	return SMFIS_CONTINUE;
}

/* Tell the MTA the reply the verdict gives, for a tempfail or reject. */
static sfsistat
reply(SMFICTX *ctx, const struct conn *c)
{
	const char *code, *xcode, *text;
	char *rcode, *rxcode, *rtext;
	sfsistat r;

	if (!verdict_reply(&c->v, &code, &xcode, &text))
		return SMFIS_CONTINUE;
	/* smfi_setreply takes char *, though it only reads them. */
	rcode = g_strdup(code);
	rxcode = g_strdup(xcode);
	rtext = g_strdup(text);
	smfi_setreply(ctx, rcode, rxcode, rtext);
	r = code[0] == '4' ? SMFIS_TEMPFAIL : SMFIS_REJECT;
	g_free(rcode);
	g_free(rxcode);
	g_free(rtext);
	return r;
}

static sfsistat
on_envfrom(SMFICTX *ctx, char **argv)
{
	struct conn *c = smfi_getpriv(ctx);
	char sym[] = "{auth_type}";
	g_autofree char *from = NULL;

	if (c == NULL)
		return SMFIS_CONTINUE;
	message_clear(c);
	from = parse_bare_address(argv[0]);
	switch (verdict_mail(M.engine, &c->v, from,
	    parse_authenticated(smfi_getsymval(ctx, sym)))) {
	case VERDICT_DO_STORE_TEMPFAIL:
	case VERDICT_DO_ACT:
		return reply(ctx, c);
	case VERDICT_DO_NOTHING:
		break;
	}
	return SMFIS_CONTINUE;
}

static sfsistat
on_envrcpt(SMFICTX *ctx, char **argv)
{
	struct conn *c = smfi_getpriv(ctx);

	if (c != NULL)
		g_ptr_array_add(c->rcpts, g_strdup(argv[0]));
	return SMFIS_CONTINUE;
}

static sfsistat
on_header(SMFICTX *ctx, char *name, char *value)
{
	struct conn *c = smfi_getpriv(ctx);

	if (c == NULL)
		return SMFIS_CONTINUE;
	if (g_ascii_strcasecmp(name, VERDICT_AR_HEADER) == 0) {
		/* smfi_chgheader counts headers of one name from 1. */
		c->ar_seen++;
		if (parse_ar_is_ours(value,
		    c->v.setup->conf->milter.authserv_id))
			g_array_append_val(c->ar_ours, c->ar_seen);
	} else if (g_ascii_strcasecmp(name, VERDICT_HEADER) == 0) {
		c->x_seen++;
	} else if (g_ascii_strcasecmp(name, VERDICT_HEADER_RCPTS) == 0) {
		c->rcpts_seen++;
	}
	return SMFIS_CONTINUE;
}

/* Registered so the MTA sends DATA at once (no Nagle stall over TCP). */
static sfsistat
on_data(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

static sfsistat
on_eom(SMFICTX *ctx)
{
	struct conn *c = smfi_getpriv(ctx);
	char ar_name[] = VERDICT_AR_HEADER, x_name[] = VERDICT_HEADER,
	    rcpts_name[] = VERDICT_HEADER_RCPTS;
	g_autofree char *ar = NULL, *h = NULL;

	if (c == NULL)
		return SMFIS_CONTINUE;
	/*
	 * Forged headers go: A-R with our authserv-id, and any X-Slowspam
	 * or X-Slowspam-Original-Recipients (last first, so the indices
	 * stay right), before ours are added.
	 */
	for (guint i = c->ar_ours->len; i > 0; i--)
		smfi_chgheader(ctx, ar_name, g_array_index(c->ar_ours, int,
		    i - 1), NULL);
	for (int i = c->x_seen; i >= 1; i--)
		smfi_chgheader(ctx, x_name, i, NULL);
	for (int i = c->rcpts_seen; i >= 1; i--)
		smfi_chgheader(ctx, rcpts_name, i, NULL);
	if ((ar = verdict_ar_header(&c->v)) != NULL)
		smfi_insheader(ctx, 0, ar_name, ar);
	if ((h = verdict_header(&c->v)) == NULL)
		return SMFIS_CONTINUE;
	smfi_addheader(ctx, x_name, h);
	if (c->v.action == CONF_ACTION_QUARANTINE) {
		g_autofree char *why = g_strdup_printf("slowspam: %s",
		    c->v.msg.why);

		smfi_quarantine(ctx, why);
	} else if (c->v.action == CONF_ACTION_DIVERT) {
		g_autofree char *list = NULL;

		g_ptr_array_add(c->rcpts, NULL);
		list = g_strjoinv(", ", (char **)c->rcpts->pdata);
		g_ptr_array_remove_index(c->rcpts, c->rcpts->len - 1);
		smfi_addheader(ctx, rcpts_name, list);
		for (guint i = 0; i < c->rcpts->len; i++)
			smfi_delrcpt(ctx, c->rcpts->pdata[i]);
		smfi_addrcpt(ctx, c->v.setup->conf->milter.divert_to);
	}
	return SMFIS_CONTINUE;
}

static sfsistat
on_abort(SMFICTX *ctx)
{
	struct conn *c = smfi_getpriv(ctx);

	if (c != NULL)
		message_clear(c);
	return SMFIS_CONTINUE;
}

static sfsistat
on_close(SMFICTX *ctx)
{
	struct conn *c = smfi_getpriv(ctx);

	/* A port probe closes without a connect: nothing to free. */
	if (c == NULL)
		return SMFIS_CONTINUE;
	verdict_session_clear(&c->v);
	g_ptr_array_unref(c->rcpts);
	g_array_unref(c->ar_ours);
	g_free(c);
	smfi_setpriv(ctx, NULL);
	return SMFIS_CONTINUE;
}

/* SIGUSR1, in its own thread: reload; a bad file keeps the old one. */
static void *
reloader(void *arg)
{
	sigset_t *set = arg;

	for (;;) {
		int sig;
		g_autoptr(GError) err = NULL;
		g_autoptr(GString) totals = g_string_new(NULL);
		struct verdict_setup *s, *old;

		if (sigwait(set, &sig) != 0)
			continue;
		verdict_engine_totals(M.engine, totals);
		log_msg(LOG_NOTICE, "counters: %s", totals->str);
		if ((s = setup_load(&err)) == NULL) {
			g_auto(GStrv) lines = g_strsplit(err->message, "\n", -1);

			for (size_t i = 0; lines[i] != NULL; i++)
				log_msg(LOG_ERR, "reload: %s", lines[i]);
			log_msg(LOG_ERR, "reload: keeping the running "
			    "configuration");
			continue;
		}
		log_set_level(s->conf->log.level);
		g_mutex_lock(&M.lock);
		old = M.setup;
		M.setup = s;
		g_mutex_unlock(&M.lock);
		verdict_setup_unref(old);
		log_msg(LOG_NOTICE, "reloaded %s", s->conf->path);
		dnsxl_reload_check(M.dnsxl, s->conf);
	}
	return NULL;
}

/* What the milter may do to a message. */
#define FILTER_ACTIONS	(SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_ADDRCPT | \
	    SMFIF_DELRCPT | SMFIF_QUARANTINE)

/*
 * Ask for the {client_resolve} macro at connect, where the MTA lets a
 * milter choose its macros (Postfix 2.6 and Sendmail 8.14 do): neither
 * sends it by default. The protocol steps stay those libmilter worked
 * out from the callbacks (*steps_out comes in with them).
 */
static sfsistat
on_negotiate(SMFICTX *ctx, unsigned long actions, unsigned long steps,
    unsigned long f2, unsigned long f3, unsigned long *actions_out,
    unsigned long *steps_out, unsigned long *f2_out, unsigned long *f3_out)
{
	char macros[] = "{client_resolve}";

	(void)steps;
	(void)f2;
	(void)f3;
	(void)steps_out;
	*actions_out = FILTER_ACTIONS;
	*f2_out = *f3_out = 0;
	if ((actions & SMFIF_SETSYMLIST) != 0 &&
	    smfi_setsymlist(ctx, SMFIM_CONNECT, macros) == MI_SUCCESS)
		*actions_out |= SMFIF_SETSYMLIST;
	return SMFIS_CONTINUE;
}

static char filter_name[] = "slowspam";

static struct smfiDesc filter = {
	.xxfi_name = filter_name,
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = FILTER_ACTIONS,
	.xxfi_connect = on_connect,
	.xxfi_helo = on_helo,
	.xxfi_envfrom = on_envfrom,
	.xxfi_envrcpt = on_envrcpt,
	.xxfi_header = on_header,
	.xxfi_data = on_data,
	.xxfi_eom = on_eom,
	.xxfi_abort = on_abort,
	.xxfi_close = on_close,
	.xxfi_negotiate = on_negotiate,
};

/*
 * libmilter writes each reply of end-of-message (a header, then
 * "continue") on its own and never sets TCP_NODELAY, so over TCP the
 * second waits ~40 ms for the MTA's delayed ACK. Accepted sockets inherit
 * TCP_NODELAY from the listener on Linux: set it there. libmilter does
 * not hand out its socket, so find the listening TCP socket among ours.
 */
static void
no_delay_on_listener(void)
{
	for (int fd = 3; fd < 256; fd++) {
		int listening = 0, domain = 0, on = 1;
		socklen_t len = sizeof(int);

		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening,
		    &len) != 0 || !listening)
			continue;
		len = sizeof(int);
		if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 &&
		    (domain == AF_INET || domain == AF_INET6))
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	}
}

/* The file of a unix: or local: socket spec; NULL for inet. */
static const char *
socket_file(const char *spec)
{
	return g_str_has_prefix(spec, "unix:") ? spec + 5 :
	    g_str_has_prefix(spec, "local:") ? spec + 6 : NULL;
}

/*
 * Make the MTA's socket, as [milter] socket_mode, user and socket_group
 * say. bind() gives a unix socket 0777 less the umask, so the umask
 * alone sets the mode, with no moment at which it is wider. The owner
 * (if root and [milter] user is set: that user) and the group (if
 * [milter] socket_group: that one) are changed on the socket itself:
 * never through a symbolic link, never on anything but a socket of ours.
 */
static bool
open_socket(const struct conf *c, GError **error)
{
	const char *spec = c->milter.socket, *file = socket_file(spec);
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	struct stat sb;
	mode_t mask;
	bool ok;

	if (geteuid() == 0 && c->milter.user[0] != '\0' &&
	    !privs_lookup("[milter]", c->milter.user, &uid, &gid, error))
		return false;
	if (c->milter.socket_group[0] != '\0' && !privs_lookup_group(
	    "[milter] socket_group", c->milter.socket_group, &gid, error))
		return false;
	/* A stale socket of ours goes; a link or a file stays: bind fails. */
	if (file != NULL && lstat(file, &sb) == 0 && S_ISSOCK(sb.st_mode))
		unlink(file);
	mask = umask(~(mode_t)c->milter.socket_mode & 0777);
	ok = smfi_register(filter) != MI_FAILURE &&
	    smfi_setconn((char *)spec) != MI_FAILURE &&
	    smfi_opensocket(0) != MI_FAILURE;
	umask(mask);
	if (!ok) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
		    "cannot listen on %s", spec);
		return false;
	}
	/* inet: no file to own. */
	return file == NULL ||
	    privs_own_socket("[milter]", file, uid, gid, error);
}

/*
 * Give up what the sockets needed. As root with [milter] user set:
 * become that user for good. Not root: keep the user, shed the
 * capabilities (CAP_NET_BIND_SERVICE for an inet: port below 1024).
 * Root with no user: stay root, as before [milter] user existed.
 */
static bool
drop_privileges(const struct conf *c, GError **error)
{
	if (geteuid() == 0 && c->milter.user[0] == '\0') {
		log_msg(LOG_WARNING, "running as root: set [milter] user");
		return true;
	}
	return privs_become("[milter]", c->milter.user, NULL, error);
}

int
main(int argc, char **argv)
{
	g_auto(conf_cli) cli = { 0 };
	g_autofree char *socket_spec = NULL, *zone = NULL;
	GOptionEntry entries[] = {
		{ "socket", 0, 0, G_OPTION_ARG_STRING, &socket_spec,
		    "Listen here instead of [milter] socket", "SPEC" },
		{ "spf-zone", 0, 0, G_OPTION_ARG_FILENAME, &zone,
		    "Answer SPF's DNS from this file (for tests)", "FILE" },
		{ NULL }
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new(
	    "- act on mail from clients that hit the backup MX first");
	g_autoptr(GError) err = NULL;
	g_autoptr(GPtrArray) overrides = g_ptr_array_new_with_free_func(g_free);
	struct store_options so;
	pthread_t thread;
	sigset_t usr1, stop;
	const char *spec;
	int status, metrics_fd = -1;
	int64_t started;

	fds_close_inherited(false);	/* nothing the starter left open */
	conf_cli_options(ctx, &cli, true);
	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &err) || argc > 1) {
		fprintf(stderr, "slowspam-milter: %s\n", err != NULL ?
		    err->message : "unexpected arguments (see --help)");
		return EXIT_FAILURE;
	}
	if (cli.version) {
		printf("slowspam-milter %s\n", PACKAGE_VERSION);
		return EXIT_SUCCESS;
	}
	for (size_t i = 0; cli.sets != NULL && cli.sets[i] != NULL; i++)
		g_ptr_array_add(overrides, g_strdup(cli.sets[i]));
	if (socket_spec != NULL)
		g_ptr_array_add(overrides, g_strconcat("milter.socket=",
		    socket_spec, NULL));
	g_ptr_array_add(overrides, NULL);
	M.path = cli.path != NULL ? g_canonicalize_filename(cli.path, NULL) :
	    conf_default_path();
	M.overrides = (const char *const *)overrides->pdata;
	started = store_now();

	log_open("slowspam-milter", LOG_DEST_STDERR, LOG_MAIL);
	if ((M.setup = setup_load(&err)) == NULL) {
		fprintf(stderr, "%s\n", err->message);
		return EXIT_FAILURE;
	}
	conf_warn_exposed(M.setup->conf);
	if (cli.check) {
		printf("%s: OK\n", M.setup->conf->path);
		return EXIT_SUCCESS;
	}
	if (!cli.foreground)
		log_open("slowspam-milter", LOG_DEST_SYSLOG,
		    M.setup->conf->log.facility);
	log_set_level(M.setup->conf->log.level);
	/* libmilter's accept loop spins out of descriptors: have many. */
	fds_raise_limit();

	/*
	 * Sockets first (as root, if started so), then the drop, then the
	 * store: files it creates belong to the user, as tarpitd's do.
	 */
	spec = M.setup->conf->milter.socket;
	if (!open_socket(M.setup->conf, &err)) {
		log_msg(LOG_ERR, "%s", err->message);
		return EXIT_FAILURE;
	}
	no_delay_on_listener();
	conf_store_options(M.setup->conf, &so);
	if ((M.setup->conf->milter.metrics_listen.port != 0 &&
	    (metrics_fd = metrics_listen(&M.setup->conf->milter.metrics_listen,
	    &err)) < 0) || !drop_privileges(M.setup->conf, &err)) {
		log_msg(LOG_ERR, "%s", err->message);
		return EXIT_FAILURE;
	}
	/*
	 * An LMDB environment must not cross fork: detach before opening
	 * the store for good, but try it once before, so that an error
	 * (say, a folder the user cannot write) fails the start with
	 * status 1 rather than the detached child.
	 */
	if (!cli.foreground) {
		if ((M.store = store_open(&so, &err)) == NULL) {
			log_msg(LOG_ERR, "%s", err->message);
			return EXIT_FAILURE;
		}
		g_clear_pointer(&M.store, store_free);
		if (daemon(0, 0) != 0) {
			log_msg(LOG_ERR, "cannot detach: %m");
			return EXIT_FAILURE;
		}
	}
	if ((M.store = store_open(&so, &err)) == NULL ||
	    (M.spf = spf_new(zone, &err)) == NULL) {
		log_msg(LOG_ERR, "%s", err->message);
		return EXIT_FAILURE;
	}
	/*
	 * SIGUSR1 goes to the reload thread only: block it everywhere.
	 * Block libmilter's stop signals too before any thread starts:
	 * a thread that left SIGTERM unblocked took it with the default
	 * action, and the milter died at once, never cleaning up.
	 */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	stop = usr1;
	sigaddset(&stop, SIGHUP);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	/*
	 * Its contact writer is a thread, and so is the DNS list's: after
	 * the fork, signals blocked.
	 */
	if (!dnsxl_open(M.setup->conf, &M.dnsxl, &err)) {
		log_msg(LOG_ERR, "%s", err->message);
		return EXIT_FAILURE;
	}
	M.engine = verdict_engine_new(M.store, M.spf, M.dnsxl, started);
	/* No libmilter thread waits on a log line from here (log.c). */
	if (!log_writer_start(&err)) {
		log_msg(LOG_WARNING, "%s; logging without a writer thread",
		    err->message);
		g_clear_error(&err);
	}
	pthread_create(&thread, NULL, reloader, &usr1);
	pthread_detach(thread);
	if (metrics_fd >= 0) {
		/* Lives as long as the process: the thread never ends. */
		static struct metrics_server *metrics;

		if ((metrics = metrics_server_new(metrics_fd, render_metrics,
		    NULL, &err)) == NULL) {
			log_msg(LOG_ERR, "%s", err->message);
			return EXIT_FAILURE;
		}
		pthread_create(&thread, NULL, metrics_thread, metrics);
		pthread_detach(thread);
	}
	log_msg(LOG_NOTICE, "slowspam-milter %s on %s, store %s",
	    PACKAGE_VERSION, spec, store_describe(M.store));
	status = smfi_main() == MI_SUCCESS ? EXIT_SUCCESS : EXIT_FAILURE;
	log_msg(LOG_NOTICE, "slowspam-milter stopped");
	verdict_engine_free(M.engine);
	dnsxl_free(M.dnsxl);
	spf_free(M.spf);
	store_free(M.store);
	log_writer_stop(1000);
	return status;
}
