/*
 * slowspamctl - look into and maintain the slowspam hit store.
 *
 *	slowspamctl [-c FILE] -t		check the configuration
 *	slowspamctl [-c FILE] stats [--since T] [--until T] [--log FILE]...
 *						the figures, from the event log
 *	slowspamctl [-c FILE] lookup ADDR	show ADDR's network's record
 *	slowspamctl [-c FILE] list [--bot] [--since T]
 *						show the records
 *	slowspamctl [-c FILE] export [--format json|csv|rbldnsd] [-o FILE]
 *						every record, for other tools,
 *						or the DNS list (zone.c)
 *	slowspamctl [-c FILE] forget ADDR	delete ADDR's network's record
 *	slowspamctl [-c FILE] expire		delete records past the TTL
 *
 * --json prints lookup, list and stats as JSON for scripts, written with
 * json-glib to the schema of docs/json.md (the event log's). CSV cells
 * that a spreadsheet would take for a formula (a HELO "=HYPERLINK(...)")
 * begin with a single quote inside their quotes. export -o writes a
 * temporary file beside FILE and renames it over FILE once complete, so a
 * reader (rbldnsd rereading its data file) never sees half a file.
 *
 * Exit status: 0 success; 1 a bad configuration (-t) or an address not
 * in the store (lookup, forget); 2 usage, configuration or store errors.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "addr.h"
#include "conf.h"
#include "helo.h"
#include "jsonline.h"
#include "log.h"
#include "record.h"
#include "report.h"
#include "stats.h"
#include "store.h"
#include "verdict.h"
#include "zone.h"

#define EXIT_NOT_FOUND	1
#define EXIT_TROUBLE	2

/* Command-line options of the read commands. */
static struct {
	char		*since, *until, *format, *output;
	char		**logs;
	gboolean	bot, json;
	int64_t		since_ms;
	FILE		*out;		/* export's: stdout, or -o's file */
} O;

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

/* Add a member name: n. */
static void
add_uint(JsonBuilder *b, const char *name, unsigned n)
{
	json_builder_set_member_name(b, name);
	json_builder_add_int_value(b, n);
}

/* Add a member name: a time or null. */
static void
add_time(JsonBuilder *b, const char *name, int64_t ms)
{
	json_builder_set_member_name(b, name);
	jsonline_add_time(b, ms);
}

/*
 * One record as a JSON object, a line (docs/json.md): the names, the
 * evidence array, the times and the HELO rule of the event log.
 */
static void
print_record_json(const char *key, const struct hit_record *rec)
{
	g_autoptr(JsonBuilder) b = json_builder_new_immutable();
	bool helo = rec->helo_len > 0;

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "network");
	/* A Redis store others write to may hold any key. */
	jsonline_add_bytes(b, key, strlen(key));
	add_uint(b, "tarpit_sessions", rec->tarpit_sessions);
	add_time(b, "tarpit_first", rec->tarpit_first);
	add_time(b, "tarpit_last", rec->tarpit_last);
	json_builder_set_member_name(b, "held_seconds");
	jsonline_add_decimal(b, (double)rec->tarpit_held_ms / 1000.0, 3);
	json_builder_set_member_name(b, "helo");
	if (helo)
		jsonline_add_bytes(b, rec->helo, rec->helo_len);
	else
		json_builder_add_null_value(b);
	json_builder_set_member_name(b, "helo_class");
	if (helo)
		json_builder_add_string_value(b,
		    helo_class_name(rec->helo_class));
	else
		json_builder_add_null_value(b);
	json_builder_set_member_name(b, "evidence");
	jsonline_add_evidence(b, rec->evidence);
	add_uint(b, "primary_sessions", rec->primary_sessions);
	add_time(b, "primary_first", rec->primary_first);
	add_time(b, "primary_last", rec->primary_last);
	json_builder_end_object(b);
	jsonline_print(b, O.out);
}

/*
 * Append text[0..len) to out as one quoted CSV cell (RFC 4180): quotes
 * doubled, control and non-ASCII bytes as '?'. A cell that begins with
 * '=', '+', '-', '@', a tab or a CR starts with a single quote inside
 * the quotes, so that a spreadsheet shows it as text rather than taking
 * it for a formula (OWASP, CSV injection): a bot chooses its HELO.
 */
static void
csv_cell(GString *out, const char *text, size_t len)
{
	static const char formula[] = "=+-@\t\r";

	g_string_append_c(out, '"');
	if (len > 0 && memchr(formula, text[0], sizeof(formula) - 1) != NULL)
		g_string_append_c(out, '\'');
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c == '"')
			g_string_append(out, "\"\"");
		else if (c < 0x20 || c >= 0x7f)
			g_string_append_c(out, '?');
		else
			g_string_append_c(out, (char)c);
	}
	g_string_append_c(out, '"');
}

/*
 * Append a network key: bare, as ever, if it is one (hex digits, '.',
 * ':' and '/'); anything else (a Redis store others write to) as a
 * neutralised cell.
 */
static void
csv_key(GString *out, const char *key)
{
	size_t len = strlen(key);

	if (len > 0 && strspn(key, "0123456789abcdefABCDEF.:/") == len)
		g_string_append(out, key);
	else
		csv_cell(out, key, len);
}

/* One record as a CSV row (RFC 4180 quoting, formulas neutralised). */
static void
print_record_csv(const char *key, const struct hit_record *rec)
{
	char t[4][RECORD_TIME_LEN], ev[128];
	g_autoptr(GString) net = g_string_new(NULL);
	g_autoptr(GString) helo = g_string_new(NULL);

	csv_key(net, key);
	csv_cell(helo, rec->helo, rec->helo_len);
	fprintf(O.out, "%s,%u,%s,%s,%.3f,%s,%s,\"%s\",%u,%s,%s\r\n", net->str,
	    rec->tarpit_sessions, record_format_time(rec->tarpit_first, t[0]),
	    record_format_time(rec->tarpit_last, t[1]),
	    (double)rec->tarpit_held_ms / 1000.0, helo->str,
	    helo_class_name(rec->helo_class),
	    record_evidence_format(rec->evidence, ev, sizeof(ev)),
	    rec->primary_sessions, record_format_time(rec->primary_first, t[2]),
	    record_format_time(rec->primary_last, t[3]));
}

/* Does list --bot / --since keep this record? */
static bool
wanted(const struct hit_record *rec)
{
	if (O.since_ms != 0 && record_last_seen(rec) < O.since_ms)
		return false;
	if (O.bot && !record_bot_evidence(rec))
		return false;
	return true;
}

static bool
print_each(const char *key, const struct hit_record *rec, void *data)
{
	void (*print)(const char *, const struct hit_record *) = data;

	if (wanted(rec))
		print(key, rec);
	return true;
}

/* stats: from the event log (and its rotated files), else the store. */
static int
run_stats(const struct conf *conf, struct store *st, bool report)
{
	struct stats s;
	g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GError) err = NULL;
	int64_t until = 0;

	if (O.until != NULL && !stats_parse_time(O.until, store_now(),
	    &until)) {
		fprintf(stderr, "slowspamctl: --until %s: not a date, time or "
		    "duration\n", O.until);
		return EXIT_TROUBLE;
	}
	for (size_t i = 0; O.logs != NULL && O.logs[i] != NULL; i++)
		g_ptr_array_add(files, g_strdup(O.logs[i]));
	if (files->len == 0 && conf->tarpitd.event_log[0] != '\0') {
		g_ptr_array_unref(files);
		files = stats_log_files(conf->tarpitd.event_log);
	}
	stats_init(&s, O.since_ms, until);
	s.v4prefix = conf->store.ipv4_prefix;
	s.v6prefix = conf->store.ipv6_prefix;
	for (guint i = 0; i < files->len; i++) {
		if (!stats_add_log(&s, files->pdata[i], &err)) {
			fprintf(stderr, "slowspamctl: %s\n", err->message);
			g_clear_error(&err);
			continue;
		}
		g_string_append_printf(s.source, "%s%s", s.source->len > 0 ?
		    ", " : "event log ", (const char *)files->pdata[i]);
	}
	if (files->len == 0) {
		if (st == NULL || !stats_add_store(&s, st, &err)) {
			fprintf(stderr, "slowspamctl: no event log and no store: "
			    "%s\n", err != NULL ? err->message : "");
			stats_clear(&s);
			return EXIT_TROUBLE;
		}
		g_string_append_printf(s.source, "%s (totals only: set "
		    "[tarpitd] event_log for days, hold times and --since)",
		    store_describe(st));
	}
	if (st != NULL && stats_add_primary(&s, st, NULL))
		g_string_append_printf(s.source, "; primary contacts from %s",
		    store_describe(st));
	stats_finish(&s);
	if (report) {
		FILE *out = fopen(O.output, "w");

		if (out == NULL) {
			fprintf(stderr, "slowspamctl: %s: %s\n", O.output,
			    g_strerror(errno));
			stats_clear(&s);
			return EXIT_TROUBLE;
		}
		report_html(&s, out);
		if (fclose(out) != 0) {
			fprintf(stderr, "slowspamctl: %s: %s\n", O.output,
			    g_strerror(errno));
			stats_clear(&s);
			return EXIT_TROUBLE;
		}
	} else if (O.json) {
		stats_print_json(&s, stdout);
	} else {
		stats_print(&s, stdout);
	}
	stats_clear(&s);
	return EXIT_SUCCESS;
}

/* Where export writes: stdout, or a temporary file renamed over path. */
struct output {
	FILE		*f;
	char		*tmp;		/* NULL for stdout */
	const char	*path;
};

/*
 * The temporary file of export -o, removed when a signal ends the
 * program before the rename (the list's timer stopped, a Ctrl-C), so
 * none is left beside the list. A handler may only use async-signal-safe
 * calls: the name waits in a fixed buffer.
 */
static const int doom_signals[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT };
static char doomed[PATH_MAX];
static volatile sig_atomic_t doomed_set;

static void
remove_doomed(int sig)
{
	if (doomed_set)
		(void)unlink(doomed);
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * Handle the signals that end us (on), or give back what they had (off).
 * One ignored (nohup, trap '' HUP) stays ignored: it ends nothing.
 */
static void
doom_watch(bool on)
{
	static struct sigaction before[G_N_ELEMENTS(doom_signals)];
	struct sigaction sa = { .sa_handler = remove_doomed };

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < G_N_ELEMENTS(doom_signals); i++) {
		if (!on) {
			sigaction(doom_signals[i], &before[i], NULL);
			continue;
		}
		sigaction(doom_signals[i], NULL, &before[i]);
		if (before[i].sa_handler != SIG_IGN)
			sigaction(doom_signals[i], &sa, NULL);
	}
}

/* Block them (or restore old) while the file and its name disagree. */
static void
doom_block(bool block, sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	for (size_t i = 0; i < G_N_ELEMENTS(doom_signals); i++)
		sigaddset(&set, doom_signals[i]);
	if (block)
		sigprocmask(SIG_BLOCK, &set, old);
	else
		sigprocmask(SIG_SETMASK, old, NULL);
}

static bool
output_open(struct output *o, const char *path, GError **error)
{
	mode_t mask = umask(0);
	sigset_t old;
	int fd;

	umask(mask);
	memset(o, 0, sizeof(*o));
	if (path == NULL) {
		o->f = stdout;
		return true;
	}
	o->path = path;
	o->tmp = g_strconcat(path, ".XXXXXX", NULL);
	doom_watch(true);
	/* Beside path, so the rename is atomic; the mode fopen would give. */
	doom_block(true, &old);
	fd = g_mkstemp(o->tmp);
	if (fd >= 0 && strlen(o->tmp) < sizeof(doomed)) {
		memcpy(doomed, o->tmp, strlen(o->tmp) + 1);
		doomed_set = 1;
	}
	doom_block(false, &old);
	if (fd < 0 || fchmod(fd, 0666 & ~mask) != 0 ||
	    (o->f = fdopen(fd, "w")) == NULL) {
		int e = errno;

		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
		    "%s: %s", path, g_strerror(e));
		if (fd >= 0) {
			close(fd);
			(void)unlink(o->tmp);
		}
		doomed_set = 0;
		doom_watch(false);
		g_clear_pointer(&o->tmp, g_free);
		return false;
	}
	return true;
}

/*
 * Sync the folder of path, so the rename survives a crash too. A file
 * system that cannot sync a folder (EINVAL) has nothing to sync.
 */
static int
sync_folder(const char *path)
{
	g_autofree char *dir = g_path_get_dirname(path);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), e = 0;

	if (fd < 0)
		return errno;
	if (fsync(fd) != 0 && errno != EINVAL)
		e = errno;
	close(fd);
	return e;
}

/* Finish: flushed, synced and renamed over path; or removed if !ok. */
static bool
output_close(struct output *o, bool ok, GError **error)
{
	int e = 0;

	if (o->tmp == NULL) {
		if (ok && fflush(stdout) != 0)
			e = errno;
	} else {
		if (ok && (fflush(o->f) != 0 || fsync(fileno(o->f)) != 0))
			e = errno;
		if (fclose(o->f) != 0 && e == 0)
			e = errno;
		if (ok && e == 0 && rename(o->tmp, o->path) != 0)
			e = errno;
		if (!ok || e != 0)
			(void)unlink(o->tmp);
		doomed_set = 0;
		doom_watch(false);
		if (ok && e == 0)
			e = sync_folder(o->path);
		g_free(o->tmp);
	}
	if (ok && e != 0)
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
		    "%s: %s", o->path != NULL ? o->path : "standard output",
		    g_strerror(e));
	return ok && e == 0;
}

/* export --format rbldnsd: the DNS list (zone.c), counted in n. */
static bool
export_zone(const struct conf *conf, struct store *st, FILE *out,
    const char *path, struct zone_counts *n, GError **error)
{
	struct verdict_setup su = { .conf = (struct conf *)conf };
	g_autofree char *dir = path != NULL ? g_path_get_dirname(path) : NULL;
	bool ok;

	/* The allow-list's networks are never listed. */
	if (conf->milter.allow_list[0] != '\0' &&
	    (su.allow = allow_load(conf->milter.allow_list, error)) == NULL)
		return false;
	ok = zone_write(out, st, &su, store_now(), dir, n, error);
	allow_free(su.allow);
	if (ok && n->bad > 0)
		fprintf(stderr, "slowspamctl: skipped %" PRIu64 " damaged "
		    "records\n", n->bad);
	return ok;
}

/*
 * The summary of export -o, once the file is in place: printed before
 * the rename, it would claim a list that a failed rename never put
 * there.
 */
static void
export_zone_summary(const char *path, const struct zone_counts *n)
{
	printf("%s: %" PRIu64 " networks listed (%" PRIu64 " backup-first, "
	    "%" PRIu64 " bot, %" PRIu64 " seen) of %" PRIu64 " records; "
	    "%" PRIu64 " inside excluded networks\n", path, n->listed,
	    n->codes[0], n->codes[1], n->codes[2], n->records, n->excluded);
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
	if (O.since != NULL && !stats_parse_time(O.since, store_now(),
	    &O.since_ms)) {
		fprintf(stderr, "slowspamctl: --since %s: not a date, time or "
		    "duration\n", O.since);
		return EXIT_TROUBLE;
	}
	conf_store_options(conf, &opts);
	opts.read_only = !writes;
	st = store_open(&opts, &err);
	if (strcmp(cmd, "stats") == 0 || strcmp(cmd, "report") == 0) {
		/* The event log may be enough: a missing store is no error. */
		int status = run_stats(conf, st, strcmp(cmd, "report") == 0);

		store_free(st);
		return status;
	}
	if (st == NULL) {
		fprintf(stderr, "slowspamctl: %s\n", err->message);
		return EXIT_TROUBLE;
	}
	if (strcmp(cmd, "lookup") == 0) {
		ok = store_lookup(st, key, &rec, &found, &err);
		if (ok && found)
			(O.json ? print_record_json : print_record)(key, &rec);
	} else if (strcmp(cmd, "export") == 0 && O.format != NULL &&
	    strcmp(O.format, "rbldnsd") == 0) {
		struct output o;
		struct zone_counts zn;

		ok = output_open(&o, O.output, &err);
		if (ok)
			ok = output_close(&o, export_zone(conf, st, o.f, O.output,
			    &zn, &err), &err);
		if (ok && O.output != NULL)
			export_zone_summary(O.output, &zn);
		if (ok && zn.too_wide > 0)
			fprintf(stderr, "slowspamctl: left out %" PRIu64 " store "
			    "keys wider than /%d (IPv4) or /%d (IPv6): not keys "
			    "slowspam writes\n", zn.too_wide, ZONE_WIDEST_IPV4,
			    ZONE_WIDEST_IPV6);
	} else if (strcmp(cmd, "list") == 0 || strcmp(cmd, "export") == 0) {
		bool csv = strcmp(cmd, "export") == 0 && O.format != NULL &&
		    strcmp(O.format, "csv") == 0;
		struct output o = { .f = stdout };

		if (strcmp(cmd, "export") == 0 &&
		    !output_open(&o, O.output, &err)) {
			store_free(st);
			fprintf(stderr, "slowspamctl: %s\n", err->message);
			return EXIT_TROUBLE;
		}
		O.out = o.f;
		if (csv)
			fprintf(O.out, "network,tarpit_sessions,tarpit_first,tarpit_last,"
			    "held_seconds,helo,helo_class,evidence,"
			    "primary_sessions,primary_first,primary_last\r\n");
		ok = store_foreach(st, print_each, csv ? (void *)print_record_csv :
		    O.json || strcmp(cmd, "export") == 0 ?
		    (void *)print_record_json : (void *)print_record, &n, &err);
		if (ok && n > 0)
			fprintf(stderr, "slowspamctl: skipped %zu damaged "
			    "records\n", n);
		if (strcmp(cmd, "export") == 0)
			ok = output_close(&o, ok, &err);
		O.out = stdout;
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
		{ "stats", 0 }, { "export", 0 }, { "report", 0 },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++)
		if (strcmp(cmd, cmds[i].name) == 0)
			return cmds[i].operands;
	return -1;
}

int
main(int argc, char **argv)
{
	g_auto(conf_cli) cli = { 0 };
	GOptionEntry entries[] = {
		{ "since", 0, 0, G_OPTION_ARG_STRING, &O.since,
		    "stats, list: from this date, time or duration ago", "T" },
		{ "until", 0, 0, G_OPTION_ARG_STRING, &O.until,
		    "stats: before this date or time", "T" },
		{ "log", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &O.logs,
		    "stats: read this event log (else [tarpitd] event_log)",
		    "FILE" },
		{ "bot", 0, 0, G_OPTION_ARG_NONE, &O.bot,
		    "list: only networks with bot evidence", NULL },
		{ "format", 0, 0, G_OPTION_ARG_STRING, &O.format,
		    "export: json, csv or rbldnsd (the DNS list)", "FORMAT" },
		{ "output", 'o', 0, G_OPTION_ARG_FILENAME, &O.output,
		    "report: write the HTML page here; export: write FILE "
		    "(whole, by a rename)", "FILE" },
		{ "json", 0, 0, G_OPTION_ARG_NONE, &O.json,
		    "lookup, list, stats: print JSON", NULL },
		{ NULL }
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new(
	    "COMMAND [ADDR] - inspect the slowspam hit store");
	g_autoptr(GError) err = NULL;
	struct conf *conf;
	int status;

	conf_cli_options(ctx, &cli, false);
	g_option_context_add_main_entries(ctx, entries, NULL);
	g_option_context_set_summary(ctx, "Commands:\n"
	    "  stats         the figures: sessions, hours held, hosts, ...\n"
	    "  lookup ADDR   show the record of ADDR's network\n"
	    "  list          show every record\n"
	    "  export        every record as JSON lines or CSV, or the DNS\n"
	    "                list for rbldnsd (--format rbldnsd)\n"
	    "  report -o F   the figures and charts as one HTML page\n"
	    "  forget ADDR   delete the record of ADDR's network\n"
	    "  expire        delete records older than [store] ttl");
	if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
		fprintf(stderr, "slowspamctl: %s\n", err->message);
		return EXIT_TROUBLE;
	}
	if (cli.version) {
		printf("slowspamctl %s\n", PACKAGE_VERSION);
		return EXIT_SUCCESS;
	}
	O.out = stdout;
	if (O.format != NULL && strcmp(O.format, "json") != 0 &&
	    strcmp(O.format, "csv") != 0 && strcmp(O.format, "rbldnsd") != 0) {
		fprintf(stderr, "slowspamctl: --format %s: json, csv or "
		    "rbldnsd\n", O.format);
		return EXIT_TROUBLE;
	}
	if (argc >= 2 && strcmp(argv[1], "report") == 0 && O.output == NULL) {
		fprintf(stderr, "slowspamctl: report needs --output FILE\n");
		return EXIT_TROUBLE;
	}
	if (!cli.check && (argc < 2 || operands(argv[1]) != argc - 2)) {
		fprintf(stderr, "slowspamctl: %s\n", argc < 2 ?
		    "a command is needed (see --help)" : operands(argv[1]) < 0 ?
		    "unknown command (see --help)" :
		    "wrong number of operands (see --help)");
		return EXIT_TROUBLE;
	}
	log_open("slowspamctl", LOG_DEST_STDERR, LOG_USER);
	conf = conf_load(cli.path, (const char *const *)cli.sets, &err);
	if (conf == NULL) {
		fprintf(stderr, "%s\n", err->message);
		return cli.check ? EXIT_FAILURE : EXIT_TROUBLE;
	}
	if (cli.check) {
		conf_warn_exposed(conf);
		printf("%s: OK\n", conf->path);
		conf_free(conf);
		return EXIT_SUCCESS;
	}
	log_set_level(conf->log.level);
	status = run(conf, argv[1], argc > 2 ? argv[2] : NULL);
	conf_free(conf);
	return status;
}
