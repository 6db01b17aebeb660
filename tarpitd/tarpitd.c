/*
 * tarpitd - the backup-MX tar pit.
 *
 * Usage: tarpitd [-c FILE] [-f] [-t] [--listen ADDR:PORT]...
 *        [--set GROUP.KEY=VALUE]... [-V]
 *
 * Start-up, in this order: read and check the configuration; bind the
 * listening sockets (or take systemd's); as root, make the store's
 * folder and the event log the tar pit user's; leave the terminal
 * unless -f; chroot and drop to [tarpitd] user; then serve, in one
 * process or, with workers = N, in N worker processes watched by this
 * one. Nothing is read from a client before root is gone.
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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "tarpit.h"

#define WORKERS_MAX	64

static volatile sig_atomic_t got_chld;

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

const char *
tarpit_inside_chroot(const char *root, const char *path)
{
	size_t n = strlen(root);

	while (n > 1 && root[n - 1] == '/')
		n--;
	if (path[0] == '\0')
		return path;	/* "none" stays none */
	if (strncmp(path, root, n) != 0 || (path[n] != '/' && path[n] != '\0'))
		return NULL;
	return path[n] == '\0' ? "/" : path + n;
}

/* Print every line of a configuration error to stderr. */
static void
print_problems(const GError *err)
{
	fprintf(stderr, "%s\n", err->message);
}

/* Give each descriptor a process may have: held clients need many. */
static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Run one worker to the end; returns its exit status. */
static int
run_worker(struct conf *conf, const char *const *overrides,
    const struct listeners *l)
{
	g_autoptr(GError) err = NULL;
	struct tarpit *t = tarpit_new(conf, overrides, l, &err);
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

/* Start worker i in a child; returns its pid (or -1). */
static pid_t
spawn_worker(const char *path, const char *const *overrides,
    const struct listeners *all, unsigned i, unsigned n)
{
	pid_t pid = fork();

	if (pid == 0) {
		g_autoptr(GError) err = NULL;
		struct listeners mine;
		struct conf *conf = conf_load(path, overrides, &err);

		if (conf == NULL) {
			log_msg(LOG_ERR, "worker %u: %s", i, err->message);
			_exit(EXIT_FAILURE);
		}
		listeners_for_worker(all, i, n, &mine);
		_exit(run_worker(conf, overrides, &mine));
	}
	if (pid < 0)
		log_msg(LOG_ERR, "fork: %m");
	return pid;
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
 * when one dies (not more than once a second), stop when they stop.
 */
static int
run_master(const char *path, const char *const *overrides,
    const struct listeners *all, unsigned n)
{
	pid_t pids[WORKERS_MAX] = { 0 };
	int64_t started[WORKERS_MAX] = { 0 };
	unsigned live = 0;
	sigset_t none;

	sigemptyset(&none);
	for (unsigned i = 0; i < n; i++) {
		pids[i] = spawn_worker(path, overrides, all, i, n);
		started[i] = g_get_monotonic_time();
		live += pids[i] > 0;
	}
	while (live > 0) {
		sigsuspend(&none);
		if (tarpit_got_term) {
			tarpit_got_term = 0;
			signal_workers(pids, n, SIGTERM);
		}
		if (tarpit_got_hup) {
			g_autoptr(GError) err = NULL;
			struct conf *c = conf_load(path, overrides, &err);

			tarpit_got_hup = 0;
			if (c == NULL)
				log_msg(LOG_ERR, "reload: %s", err->message);
			conf_free(c);
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
			if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
				continue;	/* stopped by SIGTERM */
			log_msg(LOG_ERR, "worker %u (pid %ld) died (status "
			    "%d)%s", i, (long)pid, status,
			    "; starting it again");
			/* A worker that dies at once must not fork-bomb us. */
			if (g_get_monotonic_time() - started[i] < G_USEC_PER_SEC)
				sleep(1);
			pids[i] = spawn_worker(path, overrides, all, i, n);
			started[i] = g_get_monotonic_time();
			live += pids[i] > 0;
		}
	}
	log_msg(LOG_INFO, "all workers stopped");
	return EXIT_SUCCESS;
}

int
main(int argc, char **argv)
{
	g_autofree char *path = NULL;
	g_auto(GStrv) sets = NULL, listen = NULL;
	gboolean foreground = FALSE, check = FALSE, version = FALSE;
	GOptionEntry entries[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &path,
		    "Configuration file", "FILE" },
		{ "foreground", 'f', 0, G_OPTION_ARG_NONE, &foreground,
		    "Stay in the foreground and log to stderr", NULL },
		{ "check-config", 't', 0, G_OPTION_ARG_NONE, &check,
		    "Check the configuration and exit", NULL },
		{ "listen", 0, 0, G_OPTION_ARG_STRING_ARRAY, &listen,
		    "Listen here instead of [tarpitd] listen", "ADDR:PORT" },
		{ "set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &sets,
		    "Override a setting of the file", "GROUP.KEY=VALUE" },
		{ "version", 'V', 0, G_OPTION_ARG_NONE, &version,
		    "Print the version and exit", NULL },
		{ NULL }
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new(
	    "- the slowspam backup-MX tar pit");
	g_autoptr(GError) err = NULL;
	g_autoptr(GPtrArray) overrides = g_ptr_array_new_with_free_func(g_free);
	struct listeners all = { 0 };
	struct conf *conf;
	sigset_t handled;
	unsigned workers;
	int status;

	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &err) || argc > 1) {
		fprintf(stderr, "tarpitd: %s\n", err != NULL ? err->message :
		    "unexpected arguments (see --help)");
		return EXIT_FAILURE;
	}
	if (version) {
		printf("tarpitd %s\n", PACKAGE_VERSION);
		return EXIT_SUCCESS;
	}
	for (size_t i = 0; sets != NULL && sets[i] != NULL; i++)
		g_ptr_array_add(overrides, g_strdup(sets[i]));
	if (listen != NULL) {
		g_autofree char *joined = g_strjoinv(";", listen);

		g_ptr_array_add(overrides, g_strconcat("tarpitd.listen=",
		    joined, NULL));
	}
	g_ptr_array_add(overrides, NULL);

	log_open("tarpitd", LOG_DEST_STDERR, LOG_MAIL);
	conf = conf_load(path, (const char *const *)overrides->pdata, &err);
	if (conf == NULL) {
		print_problems(err);
		return EXIT_FAILURE;
	}
	if (conf->tarpitd.chroot[0] != '\0' &&
	    (tarpit_inside_chroot(conf->tarpitd.chroot, conf->store.path) ==
	    NULL || tarpit_inside_chroot(conf->tarpitd.chroot,
	    conf->tarpitd.event_log) == NULL)) {
		fprintf(stderr, "%s: [store] path and [tarpitd] event_log must "
		    "lie inside [tarpitd] chroot %s\n", conf->path,
		    conf->tarpitd.chroot);
		conf_free(conf);
		return EXIT_FAILURE;
	}
	if (check) {
		printf("%s: OK\n", conf->path);
		conf_free(conf);
		return EXIT_SUCCESS;
	}
	if (!foreground)
		log_open("tarpitd", LOG_DEST_SYSLOG, conf->log.facility);
	log_set_level(conf->log.level);
	if (conf->tarpitd.metrics_listen.port != 0)
		log_msg(LOG_WARNING, "[tarpitd] metrics_listen: not served yet "
		    "by this version; ignored");

	raise_fd_limit();
	workers = conf->tarpitd.workers;
	if (!listeners_from_systemd(&all, &err) && err == NULL &&
	    !listeners_bind(conf, workers, &all, &err)) {
		log_msg(LOG_ERR, "%s", err->message);
		conf_free(conf);
		return EXIT_FAILURE;
	}
	if (err != NULL) {
		log_msg(LOG_ERR, "%s", err->message);
		conf_free(conf);
		return EXIT_FAILURE;
	}
	if (!privs_prepare_store(conf->store.path, conf->tarpitd.user, &err) ||
	    (conf->tarpitd.event_log[0] != '\0' && !privs_prepare_file(
	    conf->tarpitd.event_log, conf->tarpitd.user, &err))) {
		log_msg(LOG_ERR, "%s", err->message);
		conf_free(conf);
		return EXIT_FAILURE;
	}
	if (!foreground && daemon(0, 0) != 0) {
		log_msg(LOG_ERR, "cannot detach: %m");
		return EXIT_FAILURE;
	}
	if (!privs_drop(conf->tarpitd.user, conf->tarpitd.chroot, &err)) {
		log_msg(LOG_ERR, "%s", err->message);
		conf_free(conf);
		return EXIT_FAILURE;
	}
	if (getuid() == 0 || geteuid() == 0) {
		log_msg(LOG_ERR, "still root after start-up; refusing to run");
		return EXIT_FAILURE;
	}
	setup_signals(&handled);
	log_msg(LOG_NOTICE, "tarpitd %s starting: %u worker%s, max_hold %.0fs, "
	    "drip_interval %.1fs", PACKAGE_VERSION, workers,
	    workers == 1 ? "" : "s", (double)conf->tarpitd.max_hold / 1000,
	    (double)conf->tarpitd.drip_interval / 1000);
	if (workers <= 1 || all.n == 0) {
		status = run_worker(conf, (const char *const *)overrides->pdata,
		    &all);
	} else {
		/* Each worker reads the file again after fork; this copy goes. */
		g_autofree char *conf_path = g_strdup(conf->path);

		conf_free(conf);
		status = run_master(conf_path,
		    (const char *const *)overrides->pdata, &all, workers);
	}
	listeners_close(&all);
	log_msg(LOG_NOTICE, "tarpitd stopped");
	return status;
}
