/*
 * slowspam-policyd - the verdict of slowspam-milter for Postfix's SMTP
 * access policy delegation (check_policy_service), and for any client
 * that speaks that protocol (Exim's ${readsocket}).
 *
 * Usage: slowspam-policyd [-c FILE] [-f] [-t] [--socket SPEC]
 *        [--set GROUP.KEY=VALUE]... [--spf-zone FILE] [-V]
 *
 * It decides as the milter does, from the same [milter] keys (verdict.h);
 * what it adds is the protocol (proto.c), the sessions Postfix does not
 * tell it of (sessions.c), the one action per request (answer.c) and the
 * server (loop.c). See slowspam-policyd(8).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "conf.h"
#include "listen.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "privs.h"
#include "spf.h"
#include "store.h"
#include "verdict.h"

#define PROG	"slowspam-policyd"

/*
 * Give up what the sockets needed: as root with [policyd] user set,
 * become that user for good; otherwise keep the user, shed the
 * capabilities. Root with no user: stay root, warned.
 */
static bool
drop_privileges(const struct conf *c, GError **error)
{
	if (geteuid() == 0 && c->policyd.user[0] == '\0') {
		log_msg(LOG_WARNING, "running as root: set [policyd] user");
		return true;
	}
	return privs_become("[policyd]", c->policyd.user, NULL, error);
}

/* The overrides: --set ones, then --socket's. NULL-terminated. */
static GPtrArray *
overrides_of(const struct conf_cli *cli, const char *socket_spec)
{
	GPtrArray *o = g_ptr_array_new_with_free_func(g_free);

	for (size_t i = 0; cli->sets != NULL && cli->sets[i] != NULL; i++)
		g_ptr_array_add(o, g_strdup(cli->sets[i]));
	if (socket_spec != NULL)
		g_ptr_array_add(o, g_strconcat("policyd.socket=", socket_spec,
		    NULL));
	g_ptr_array_add(o, NULL);
	return o;
}

/*
 * Sockets first (as root, if started so), then the drop, then the store
 * (files it creates belong to the user), then detach: an LMDB
 * environment must not cross fork, so it is opened once to fail the
 * start with status 1 on error, closed, and opened again in the child.
 */
static bool
start(const struct conf *c, bool foreground, const char *zone,
    int *listen_fd, int *metrics_fd, struct store **store, struct spf **spf,
    GError **error)
{
	struct store_options so;

	conf_store_options(c, &so);
	if ((*listen_fd = policy_listen(c, error)) < 0)
		return false;
	if (c->policyd.metrics_listen.port != 0 &&
	    (*metrics_fd = metrics_listen(&c->policyd.metrics_listen,
	    error)) < 0)
		return false;
	if (!drop_privileges(c, error))
		return false;
	if (!foreground) {
		if ((*store = store_open(&so, error)) == NULL)
			return false;
		g_clear_pointer(store, store_free);
		if (daemon(0, 0) != 0) {
			g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
			    "cannot detach: %s", g_strerror(errno));
			return false;
		}
	}
	return (*store = store_open(&so, error)) != NULL &&
	    (*spf = spf_new(zone, error)) != NULL;
}

int
main(int argc, char **argv)
{
	g_auto(conf_cli) cli = { 0 };
	g_autofree char *socket_spec = NULL, *zone = NULL, *path = NULL;
	GOptionEntry entries[] = {
		{ "socket", 0, 0, G_OPTION_ARG_STRING, &socket_spec,
		    "Listen here instead of [policyd] socket", "SPEC" },
		{ "spf-zone", 0, 0, G_OPTION_ARG_FILENAME, &zone,
		    "Answer SPF's DNS from this file (for tests)", "FILE" },
		{ NULL }
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new(
	    "- the slowspam verdict as a Postfix policy server");
	g_autoptr(GError) err = NULL;
	g_autoptr(GPtrArray) overrides = NULL;
	struct loop_params lp = { .metrics_fd = -1, .listen_fd = -1 };
	struct store *store = NULL;
	struct spf *spf = NULL;
	bool ok;

	fds_close_inherited(false);	/* nothing the starter left open */
	conf_cli_options(ctx, &cli, true);
	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &err) || argc > 1) {
		fprintf(stderr, PROG ": %s\n", err != NULL ? err->message :
		    "unexpected arguments (see --help)");
		return EXIT_FAILURE;
	}
	if (cli.version) {
		printf(PROG " %s\n", PACKAGE_VERSION);
		return EXIT_SUCCESS;
	}
	overrides = overrides_of(&cli, socket_spec);
	path = cli.path != NULL ? g_canonicalize_filename(cli.path, NULL) :
	    g_strdup(conf_default_path());
	lp.path = path;
	lp.overrides = (const char *const *)overrides->pdata;

	log_open(PROG, LOG_DEST_STDERR, LOG_MAIL);
	if ((lp.setup = verdict_setup_load(path, lp.overrides, &err)) ==
	    NULL) {
		fprintf(stderr, "%s\n", err->message);
		return EXIT_FAILURE;
	}
	conf_warn_exposed(lp.setup->conf);
	if (cli.check) {
		printf("%s: OK\n", lp.setup->conf->path);
		verdict_setup_unref(lp.setup);
		return EXIT_SUCCESS;
	}
	if (!cli.foreground)
		log_open(PROG, LOG_DEST_SYSLOG, lp.setup->conf->log.facility);
	log_set_level(lp.setup->conf->log.level);
	fds_raise_limit();
	if (!start(lp.setup->conf, cli.foreground, zone, &lp.listen_fd,
	    &lp.metrics_fd, &store, &spf, &err)) {
		log_msg(LOG_ERR, "%s", err->message);
		return EXIT_FAILURE;
	}
	/* Before any thread: the loop's signalfd takes these, none else. */
	loop_block_signals();
	if (!log_writer_start(&err)) {
		log_msg(LOG_WARNING, "%s; logging without a writer thread",
		    err->message);
		g_clear_error(&err);
	}
	/*
	 * Its contact writer is a thread, and so is the DNS list's: after
	 * the fork, signals blocked.
	 */
	if (!dnsxl_open(lp.setup->conf, &lp.dnsxl, &err)) {
		log_msg(LOG_ERR, "%s", err->message);
		return EXIT_FAILURE;
	}
	lp.engine = verdict_engine_new(store, spf, lp.dnsxl, store_now());
	log_msg(LOG_NOTICE, PROG " %s on %s, store %s, %u workers",
	    PACKAGE_VERSION, lp.setup->conf->policyd.socket,
	    store_describe(store), lp.setup->conf->policyd.workers);
	if (!(ok = loop_run(&lp, &err)))
		log_msg(LOG_ERR, "%s", err->message);
	policy_unlink();
	log_msg(LOG_NOTICE, PROG " stopped");
	verdict_engine_free(lp.engine);
	dnsxl_free(lp.dnsxl);
	spf_free(spf);
	store_free(store);
	log_writer_stop(1000);
	return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
