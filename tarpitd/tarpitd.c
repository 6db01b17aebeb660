/*
 * tarpitd - the backup-MX tar pit.
 *
 * Usage: tarpitd [-c FILE] [-f] [-t] [--listen ADDR:PORT]...
 *        [--set GROUP.KEY=VALUE]... [-V]
 *
 * Start-up, in this order: close every descriptor the starter left open
 * (but systemd's sockets); read and check the configuration; bind the
 * listening sockets (or take systemd's); as root, make the store's
 * folder and the event log the tar pit user's; leave the terminal
 * unless -f; chroot and drop to [tarpitd] user; then serve, in one
 * process or, with workers = N, in N worker processes watched by this
 * one. Nothing is read from a client before root is gone.
 *
 * Metrics: with [tarpitd] metrics_listen = ADDR:PORT, the sockets are
 * bound here, as root (so any port works), one per worker: worker i
 * answers scrapes of its own counters on PORT + i, in its event loop.
 *
 * Signals: SIGHUP reloads the configuration (a bad one is logged and the
 * running one kept), SIGTERM and SIGINT stop cleanly (held clients get a
 * 421), SIGUSR1 logs totals. The parent of workers passes them on.
 *
 * Exit status: 0 after SIGTERM or a good -t; 1 on a bad configuration
 * or a failed start.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fds.h"
#include "log.h"
#include "metrics.h"
#include "tarpit.h"

#define WORKERS_MAX	64

static volatile sig_atomic_t got_chld;

/* The metrics socket of each worker (-1: none); loop.c serves one. */
static int metrics_fds[WORKERS_MAX];
static unsigned metrics_n;	/* how many are open */

static void
on_signal(int sig)
{
	switch (sig) {
	case SIGHUP:
		tarpit_got_hup = 1;
		break;
	case SIGTERM:
	case SIGINT:
		tarpit_got_term = 1;
		break;
	case SIGUSR1:
		tarpit_got_usr1 = 1;
		break;
	case SIGCHLD:
		got_chld = 1;
		break;
	}
}

/*
 * Block the signals we handle (the loop unblocks them only while it
 * waits, so no flag is missed) and install the handlers.
 */
static void
setup_signals(sigset_t *handled)
{
	static const int sigs[] = { SIGHUP, SIGTERM, SIGINT, SIGUSR1, SIGCHLD };
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(handled);
	for (size_t i = 0; i < G_N_ELEMENTS(sigs); i++)
		sigaddset(handled, sigs[i]);
	sa.sa_mask = *handled;
	sigprocmask(SIG_BLOCK, handled, NULL);
	for (size_t i = 0; i < G_N_ELEMENTS(sigs); i++)
		sigaction(sigs[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* What -t checks beyond the file itself: the chroot and the user. */
static bool
check_setup(const struct conf *c, GError **error)
{
	const char *root = c->tarpitd.chroot;

	if (root[0] != '\0' && ((c->store.backend == STORE_BACKEND_LMDB &&
	    tarpit_inside_chroot(root, c->store.path) == NULL) ||
	    tarpit_inside_chroot(root, c->tarpitd.event_log) == NULL)) {
		g_set_error(error, CONF_ERROR, CONF_ERROR_INVALID, "%s: [store] "
		    "path and [tarpitd] event_log must lie inside [tarpitd] "
		    "chroot %s", c->path, root);
		return false;
	}
	if (root[0] != '\0' && !g_file_test(root, G_FILE_TEST_IS_DIR)) {
		g_set_error(error, CONF_ERROR, CONF_ERROR_INVALID,
		    "%s: [tarpitd] chroot %s: no such folder", c->path, root);
		return false;
	}
	if (getpwnam(c->tarpitd.user) == NULL) {
		g_set_error(error, CONF_ERROR, CONF_ERROR_INVALID,
		    "%s: [tarpitd] user %s: no such user", c->path,
		    c->tarpitd.user);
		return false;
	}
	return true;
}

/* Run one worker to the end, taking conf; returns its exit status. */
static int
run_worker(struct conf *conf, const struct conf_source *src,
    const struct listeners *l)
{
	g_autoptr(GError) err = NULL;
	struct tarpit *t = tarpit_new(conf, src, l, &err);
	int status;

	if (t == NULL) {
		log_msg(LOG_ERR, "%s", err->message);
		return EXIT_FAILURE;
	}
	log_msg(LOG_INFO, "serving %zu socket%s (pid %ld)", l->n,
	    l->n == 1 ? "" : "s", (long)getpid());
	status = tarpit_run(t);
	tarpit_free(t);
	return status;
}

/*
 * Start worker i of n in a child, with the parent's configuration
 * (fork copies it: nothing is read again); returns its pid (or -1).
 */
static pid_t
spawn_worker(struct conf *conf, const struct conf_source *src,
    const struct listeners *all, unsigned i, unsigned n)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct listeners mine;

		listeners_for_worker(all, i, n, &mine);
		tarpit_metrics_fd = i < metrics_n ? metrics_fds[i] : -1;
		_exit(run_worker(conf, src, &mine));
	}
	if (pid < 0)
		log_msg(LOG_ERR, "fork: %m");
	return pid;
}

/*
 * Bind [tarpitd] metrics_listen, port + i for worker i of n, if it is
 * set; the sockets stay open to the end (a respawned worker needs its
 * own again).
 */
static bool
metrics_bind(const struct conf *conf, unsigned n, GError **error)
{
	struct conf_listen l = conf->tarpitd.metrics_listen;

	if (l.port == 0)
		return true;
	if ((unsigned)l.port + n - 1 > 65535) {
		g_set_error(error, CONF_ERROR, CONF_ERROR_INVALID, "%s: "
		    "[tarpitd] metrics_listen: port %u + %u workers is past "
		    "65535", conf->path, l.port, n);
		return false;
	}
	for (unsigned i = 0; i < n; i++) {
		l.port = (uint16_t)(conf->tarpitd.metrics_listen.port + i);
		if ((metrics_fds[i] = metrics_listen(&l, error)) < 0)
			return false;
		metrics_n = i + 1;
	}
	return true;
}

static void
metrics_close(void)
{
	for (unsigned i = 0; i < metrics_n; i++)
		close(metrics_fds[i]);
	metrics_n = 0;
}

/* Send sig to every live worker. */
static void
signal_workers(const pid_t *pids, unsigned n, int sig)
{
	for (unsigned i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], sig);
}

/*
 * The parent of several workers: pass signals on, start a worker again
 * when one dies (not more than once a second), stop when asked.
 */
static int
run_master(struct conf *conf, const struct conf_source *src,
    const struct listeners *all, unsigned n)
{
	pid_t pids[WORKERS_MAX] = { 0 };
	int64_t started[WORKERS_MAX] = { 0 };
	unsigned live = 0;
	bool stopping = false;
	sigset_t none;

	sigemptyset(&none);
	/*
	 * No log writer thread here: the master forks (again whenever a
	 * worker dies), and a fork while another thread holds a lock inside
	 * malloc hands the child that lock held for ever (GCC 12's ASan
	 * allocator has no fork handler: the workers hung at their first
	 * allocations). The master logs little and serves no client; each
	 * worker starts its own writer.
	 */
	for (unsigned i = 0; i < n; i++) {
		pids[i] = spawn_worker(conf, src, all, i, n);
		started[i] = g_get_monotonic_time();
		live += pids[i] > 0;
	}
	while (live > 0) {
		sigsuspend(&none);
		if (tarpit_got_term && !stopping) {
			stopping = true;
			signal_workers(pids, n, SIGTERM);
		}
		if (tarpit_got_hup) {
			g_autoptr(GError) err = NULL;
			struct conf *c = tarpit_reread(src, &err);

			tarpit_got_hup = 0;
			/* Workers started later get the new one; each reloads. */
			if (c != NULL) {
				conf_free(conf);
				conf = c;
			}
			signal_workers(pids, n, SIGHUP);
		}
		if (tarpit_got_usr1) {
			tarpit_got_usr1 = 0;
			signal_workers(pids, n, SIGUSR1);
		}
		if (!got_chld)
			continue;
		got_chld = 0;
		for (;;) {
			int status;
			pid_t pid = waitpid(-1, &status, WNOHANG);
			unsigned i;

			if (pid <= 0)
				break;
			for (i = 0; i < n && pids[i] != pid; i++)
				;
			if (i == n)
				continue;
			pids[i] = 0;
			live--;
			if (stopping)
				continue;
			if (WIFSIGNALED(status))
				log_msg(LOG_ERR, "worker %u (pid %ld) killed by "
				    "signal %d; starting it again", i, (long)pid,
				    WTERMSIG(status));
			else
				log_msg(LOG_ERR, "worker %u (pid %ld) exited "
				    "with status %d; starting it again", i,
				    (long)pid, WEXITSTATUS(status));
			/* A worker that dies at once must not fork-bomb us. */
			if (g_get_monotonic_time() - started[i] < G_USEC_PER_SEC)
				sleep(1);
			pids[i] = spawn_worker(conf, src, all, i, n);
			started[i] = g_get_monotonic_time();
			live += pids[i] > 0;
		}
	}
	conf_free(conf);
	log_msg(LOG_INFO, "all workers stopped");
	return EXIT_SUCCESS;
}

int
main(int argc, char **argv)
{
	g_auto(conf_cli) cli = { 0 };
	g_auto(GStrv) listen = NULL;
	GOptionEntry entries[] = {
		{ "listen", 0, 0, G_OPTION_ARG_STRING_ARRAY, &listen,
		    "Listen here instead of [tarpitd] listen", "ADDR:PORT" },
		{ NULL }
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new(
	    "- the slowspam backup-MX tar pit");
	g_autoptr(GError) err = NULL;
	g_auto(GStrv) lines = NULL;
	g_autoptr(GPtrArray) overrides = g_ptr_array_new_with_free_func(g_free);
	struct listeners all = { 0 };
	struct conf_source src = { -1, NULL, NULL, NULL };
	struct conf *conf = NULL;
	sigset_t handled;
	unsigned workers;
	int status;

	/* Nothing the starter left open survives chroot (but systemd's). */
	fds_close_inherited(true);
	conf_cli_options(ctx, &cli, true);
	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &err) || argc > 1) {
		fprintf(stderr, "tarpitd: %s\n", err != NULL ? err->message :
		    "unexpected arguments (see --help)");
		return EXIT_FAILURE;
	}
	if (cli.version) {
		printf("tarpitd %s\n", PACKAGE_VERSION);
		return EXIT_SUCCESS;
	}
	for (size_t i = 0; cli.sets != NULL && cli.sets[i] != NULL; i++)
		g_ptr_array_add(overrides, g_strdup(cli.sets[i]));
	if (listen != NULL) {
		g_autofree char *joined = g_strjoinv(";", listen);

		g_ptr_array_add(overrides, g_strconcat("tarpitd.listen=",
		    joined, NULL));
	}
	g_ptr_array_add(overrides, NULL);

	log_open("tarpitd", LOG_DEST_STDERR, LOG_MAIL);
	if (!conf_source_open(&src, cli.path, (const char *const *)overrides->pdata,
	    &err) || (conf = conf_load_at(src.dirfd, src.name, src.path,
	    src.overrides, &err)) == NULL || !check_setup(conf, &err))
		goto fail;
	conf_warn_exposed(conf);
	if (cli.check) {
		printf("%s: OK\n", conf->path);
		conf_free(conf);
		status = EXIT_SUCCESS;
		goto out;
	}
	if (conf->tarpitd.chroot[0] != '\0' && geteuid() != 0) {
		g_set_error(&err, CONF_ERROR, CONF_ERROR_INVALID, "%s: [tarpitd] "
		    "chroot needs tarpitd to start as root", conf->path);
		goto fail;
	}
	if (!cli.foreground)
		log_open("tarpitd", LOG_DEST_SYSLOG, conf->log.facility);
	log_set_level(conf->log.level);

	fds_raise_limit();	/* held clients need many */
	workers = conf->tarpitd.workers;
	if ((!listeners_from_systemd(&all, &err) && err == NULL &&
	    !listeners_bind(conf, workers, &all, &err)) || err != NULL ||
	    !metrics_bind(conf, workers, &err) ||
	    (conf->store.backend == STORE_BACKEND_LMDB &&
	    !privs_prepare_store(conf->store.path, conf->tarpitd.user, &err)) ||
	    (conf->tarpitd.event_log[0] != '\0' && !privs_prepare_file(
	    conf->tarpitd.event_log, conf->tarpitd.user, &err)))
		goto fail;
	if (!cli.foreground && daemon(0, 0) != 0) {
		g_set_error(&err, G_FILE_ERROR, g_file_error_from_errno(errno),
		    "cannot detach: %s", g_strerror(errno));
		goto fail;
	}
	conf_source_confine(&src, conf->tarpitd.chroot);
	if (!privs_drop(conf->tarpitd.user, conf->tarpitd.chroot, &err))
		goto fail;
	if (getuid() == 0 || geteuid() == 0) {
		g_set_error(&err, G_FILE_ERROR, G_FILE_ERROR_PERM,
		    "still root after start-up; refusing to run");
		goto fail;
	}
	setup_signals(&handled);
	log_msg(LOG_NOTICE, "tarpitd %s starting: %u worker%s, max_hold %.0fs, "
	    "drip_interval %.1fs", PACKAGE_VERSION, workers,
	    workers == 1 ? "" : "s", (double)conf->tarpitd.max_hold / 1000,
	    (double)conf->tarpitd.drip_interval / 1000);
	if (workers <= 1) {
		tarpit_metrics_fd = metrics_n > 0 ? metrics_fds[0] : -1;
		status = run_worker(conf, &src, &all);
	} else {
		status = run_master(conf, &src, &all, workers);
	}
	log_msg(LOG_NOTICE, "tarpitd stopped");
	goto out;

fail:
	/* Before -f or syslog is chosen, this goes to stderr; a line each. */
	lines = g_strsplit(err->message, "\n", -1);
	for (size_t i = 0; lines[i] != NULL; i++)
		log_msg(LOG_ERR, "%s", lines[i]);
	conf_free(conf);
	status = EXIT_FAILURE;
out:
	listeners_close(&all);
	metrics_close();
	if (src.dirfd >= 0)
		close(src.dirfd);
	g_free(src.name);
	g_free(src.path);
	return status;
}
