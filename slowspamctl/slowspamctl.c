/*
 * slowspamctl - look into and maintain the slowspam hit store.
 *
 *	slowspamctl [-c FILE] -t		check the configuration
 *	slowspamctl [-c FILE] lookup ADDR	show ADDR's network's record
 *	slowspamctl [-c FILE] list		show every record
 *	slowspamctl [-c FILE] forget ADDR	delete ADDR's network's record
 *	slowspamctl [-c FILE] expire		delete records past the TTL
 *
 * Exit status: 0 success; 1 a bad configuration (-t) or an address not
 * in the store (lookup, forget); 2 usage, configuration or store errors.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "addr.h"
#include "conf.h"
#include "helo.h"
#include "log.h"
#include "store.h"

#define EXIT_NOT_FOUND	1
#define EXIT_TROUBLE	2

/* Print one record on one line of key=value fields. */
static void
print_record(const char *key, const struct hit_record *rec)
{
	char t[4][RECORD_TIME_LEN], helo[4 * RECORD_HELO_MAX + 8], ev[128];

	log_escape(rec->helo, rec->helo_len, RECORD_HELO_MAX, helo,
	    sizeof(helo));
	printf("%s tarpit_sessions=%u tarpit_first=%s tarpit_last=%s "
	    "held_seconds=%.3f helo=\"%s\" helo_class=%s evidence=%s "
	    "primary_sessions=%u primary_first=%s primary_last=%s\n", key,
	    rec->tarpit_sessions, record_format_time(rec->tarpit_first, t[0]),
	    record_format_time(rec->tarpit_last, t[1]),
	    (double)rec->tarpit_held_ms / 1000.0, helo,
	    helo_class_name(rec->helo_class),
	    rec->evidence != 0 ? record_evidence_format(rec->evidence, ev,
	    sizeof(ev)) : "-", rec->primary_sessions,
	    record_format_time(rec->primary_first, t[2]),
	    record_format_time(rec->primary_last, t[3]));
}

static bool
print_each(const char *key, const struct hit_record *rec, void *data)
{
	(void)data;
	print_record(key, rec);
	return true;
}

/* The network key of text, by the configured prefixes. */
static bool
netkey_of(const struct conf *conf, const char *text, char *key)
{
	struct addr a;

	if (!addr_parse(text, &a)) {
		fprintf(stderr, "slowspamctl: %s: not an IPv4 or IPv6 address\n",
		    text);
		return false;
	}
	addr_netkey(&a, conf->store.ipv4_prefix, conf->store.ipv6_prefix, key);
	return true;
}

/* Run one store command; returns the exit status. */
static int
run(const struct conf *conf, const char *cmd, const char *arg)
{
	struct store_options opts;
	struct store *st;
	struct hit_record rec;
	char key[ADDR_NETKEY_LEN];
	g_autoptr(GError) err = NULL;
	bool found = true, ok;
	size_t n = 0;
	bool writes = strcmp(cmd, "forget") == 0 || strcmp(cmd, "expire") == 0;

	if (arg != NULL && !netkey_of(conf, arg, key))
		return EXIT_TROUBLE;
	conf_store_options(conf, &opts);
	opts.read_only = !writes;
	if ((st = store_open(&opts, &err)) == NULL) {
		fprintf(stderr, "slowspamctl: %s\n", err->message);
		return EXIT_TROUBLE;
	}
	if (strcmp(cmd, "lookup") == 0) {
		ok = store_lookup(st, key, &rec, &found, &err);
		if (ok && found)
			print_record(key, &rec);
	} else if (strcmp(cmd, "list") == 0) {
		ok = store_foreach(st, print_each, NULL, &n, &err);
		if (ok && n > 0)
			fprintf(stderr, "slowspamctl: skipped %zu damaged "
			    "records\n", n);
	} else if (strcmp(cmd, "forget") == 0) {
		ok = store_forget(st, key, &found, &err);
	} else {
		ok = store_expire(st, store_now(), conf->store.ttl, &n, &err);
		if (ok)
			printf("expired %zu records\n", n);
	}
	store_free(st);
	if (!ok) {
		fprintf(stderr, "slowspamctl: %s\n", err->message);
		return EXIT_TROUBLE;
	}
	if (!found) {
		fprintf(stderr, "slowspamctl: %s (%s): not in the store\n",
		    arg, key);
		return EXIT_NOT_FOUND;
	}
	return EXIT_SUCCESS;
}

/* How many operands each command takes. */
static int
operands(const char *cmd)
{
	static const struct {
		const char *name;
		int operands;
	} cmds[] = {
		{ "lookup", 1 }, { "forget", 1 }, { "list", 0 }, { "expire", 0 },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++)
		if (strcmp(cmd, cmds[i].name) == 0)
			return cmds[i].operands;
	return -1;
}

int
main(int argc, char **argv)
{
	g_autofree char *path = NULL;
	g_auto(GStrv) sets = NULL;
	gboolean check = FALSE, version = FALSE;
	GOptionEntry entries[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &path,
		    "Configuration file", "FILE" },
		{ "check-config", 't', 0, G_OPTION_ARG_NONE, &check,
		    "Check the configuration and exit", NULL },
		{ "set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &sets,
		    "Override a setting of the file", "GROUP.KEY=VALUE" },
		{ "version", 'V', 0, G_OPTION_ARG_NONE, &version,
		    "Print the version and exit", NULL },
		{ NULL }
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new(
	    "COMMAND [ADDR] - inspect the slowspam hit store");
	g_autoptr(GError) err = NULL;
	struct conf *conf;
	int status;

	g_option_context_add_main_entries(ctx, entries, NULL);
	g_option_context_set_summary(ctx, "Commands:\n"
	    "  lookup ADDR   show the record of ADDR's network\n"
	    "  list          show every record\n"
	    "  forget ADDR   delete the record of ADDR's network\n"
	    "  expire        delete records older than [store] ttl");
	if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
		fprintf(stderr, "slowspamctl: %s\n", err->message);
		return EXIT_TROUBLE;
	}
	if (version) {
		printf("slowspamctl %s\n", PACKAGE_VERSION);
		return EXIT_SUCCESS;
	}
	if (!check && (argc < 2 || operands(argv[1]) != argc - 2)) {
		fprintf(stderr, "slowspamctl: %s\n", argc < 2 ?
		    "a command is needed (see --help)" : operands(argv[1]) < 0 ?
		    "unknown command (see --help)" :
		    "wrong number of operands (see --help)");
		return EXIT_TROUBLE;
	}
	log_open("slowspamctl", LOG_DEST_STDERR, LOG_USER);
	conf = conf_load(path, (const char *const *)sets, &err);
	if (conf == NULL) {
		fprintf(stderr, "%s\n", err->message);
		return check ? EXIT_FAILURE : EXIT_TROUBLE;
	}
	if (check) {
		printf("%s: OK\n", conf->path);
		conf_free(conf);
		return EXIT_SUCCESS;
	}
	log_set_level(conf->log.level);
	status = run(conf, argv[1], argc > 2 ? argv[2] : NULL);
	conf_free(conf);
	return status;
}
