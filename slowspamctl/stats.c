/*
 * stats.c - the figures of the original tar pit, and more, from the
 * JSON-lines event log (rotated and gzip-compressed files too) or, when
 * there is none, from the hit store.
 *
 *	stats_add_log		read one event log file
 *	stats_add_line		one line of it
 *	stats_log_files		an event log and its rotated files
 *	stats_add_store		the totals from the store
 *	stats_add_primary	networks the primary saw after the tar pit
 *	stats_print		the text report, the three figures first
 *	stats_print_json	the same as one JSON object
 *
 * "Emails blocked" counts tar-pit sessions, "Hours in Tar Pit" sums their
 * hold times, "Unique SMTP Hosts" counts distinct client addresses
 * (slowspamctl(8), "stats"). Event-log lines are tarpitd's own; a line that does not
 * parse is counted and skipped.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include <zlib.h>

#include "addr.h"
#include "conf.h"
#include "record.h"
#include "stats.h"

#define LINE_MAX_LEN	8192
#define DAY_MS		INT64_C(86400000)

static const char *const hold_names[STATS_HOLD_BINS] = {
	"< 10 s", "10 s - 1 min", "1 - 5 min", "5 - 10 min", "10 - 30 min",
	"30 min - 1 h", ">= 1 h",
};
static const int64_t hold_limits[STATS_HOLD_BINS - 1] = {
	10000, 60000, 300000, 600000, 1800000, 3600000,
};

/* Working tables, only while adding. */
struct work {
	GHashTable	*hosts;		/* client address text, set */
	GHashTable	*days;		/* date -> struct stats_day * */
	GHashTable	*nets;		/* network key -> struct stats_net * */
};
static struct work W;

void
stats_init(struct stats *st, int64_t since, int64_t until)
{
	memset(st, 0, sizeof(*st));
	st->since = since;
	st->until = until;
	st->days = g_array_new(FALSE, TRUE, sizeof(struct stats_day));
	st->top = g_array_new(FALSE, TRUE, sizeof(struct stats_net));
	st->source = g_string_new(NULL);
	W.hosts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	W.days = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
	W.nets = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
}

void
stats_clear(struct stats *st)
{
	g_array_unref(st->days);
	g_array_unref(st->top);
	g_string_free(st->source, TRUE);
	g_clear_pointer(&W.hosts, g_hash_table_destroy);
	g_clear_pointer(&W.days, g_hash_table_destroy);
	g_clear_pointer(&W.nets, g_hash_table_destroy);
}

/* Milliseconds of an ISO 8601 time, or -1. */
static int64_t
iso_ms(const char *text)
{
	g_autoptr(GDateTime) dt = g_date_time_new_from_iso8601(text, NULL);

	if (dt == NULL)
		return -1;
	return g_date_time_to_unix(dt) * 1000 +
	    g_date_time_get_microsecond(dt) / 1000;
}

bool
stats_parse_time(const char *text, int64_t now, int64_t *ms)
{
	g_autofree char *full = NULL;
	int64_t ago;
	const char *why;

	if (conf_parse_duration(text, &ago, &why)) {
		*ms = now - ago;
		return true;
	}
	/* A plain date is its midnight, UTC. */
	full = strlen(text) == 10 ? g_strconcat(text, "T00:00:00Z", NULL) :
	    g_strdup(text);
	return (*ms = iso_ms(full)) >= 0;
}

/* From just inside a string, its closing quote; NULL if there is none. */
static const char *
skip_string(const char *p, const char *end)
{
	while (p < end && *p != '"') {
		if (*p == '\\')
			p++;		/* a backslash escapes the next byte */
		if (p < end)
			p++;
	}
	return p < end ? p : NULL;
}

/*
 * The value of key in one of our JSON lines, line[0..len): a string (its
 * body, still escaped), an array (with brackets) or a scalar. Strings
 * are skipped whole, so no text inside a value is ever taken for a key;
 * nothing past line + len is read.
 */
static bool
json_get(const char *line, size_t len, const char *key, const char **val,
    size_t *vlen)
{
	const char *p = line, *end = line + len;
	size_t klen = strlen(key);

	if (p == end || *p++ != '{')
		return false;
	while (p < end && *p != '}') {
		const char *k, *v;
		size_t kl;

		if (*p == ',' && ++p == end)
			return false;
		if (*p++ != '"')
			return false;
		k = p;
		if ((p = skip_string(k, end)) == NULL)
			return false;
		kl = (size_t)(p++ - k);
		if (p == end || *p++ != ':')
			return false;
		v = p;
		if (p < end && *p == '"') {
			if ((p = skip_string(p + 1, end)) == NULL)
				return false;
			p++;
		} else if (p < end && *p == '[') {
			for (p++; p < end && *p != ']'; p++)
				if (*p == '"' &&
				    (p = skip_string(p + 1, end)) == NULL)
					return false;
			if (p == end)
				return false;
			p++;
		} else {
			while (p < end && *p != ',' && *p != '}')
				p++;
		}
		if (kl == klen && memcmp(k, key, klen) == 0) {
			if (v < end && *v == '"') {
				*val = v + 1;
				*vlen = (size_t)(p - v - 2);
			} else {
				*val = v;
				*vlen = (size_t)(p - v);
			}
			return true;
		}
	}
	return false;
}

/* The value of key as a C string (NULL if absent). */
static char *
json_str(const char *line, size_t len, const char *key)
{
	const char *v;
	size_t vlen;

	return json_get(line, len, key, &v, &vlen) ? g_strndup(v, vlen) :
	    NULL;
}

/* Count one session. */
static void
add_session(struct stats *st, const char *client, const char *net,
    int64_t connect, uint64_t held, int helo_class, uint32_t evidence)
{
	char date[11];
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(connect / 1000);
	struct stats_day *d;
	struct stats_net *n;
	size_t bin = 0;

	st->sessions++;
	st->held_ms += held;
	if (st->first == 0 || connect < st->first)
		st->first = connect;
	if (connect > st->last)
		st->last = connect;
	if (client != NULL && !g_hash_table_contains(W.hosts, client))
		g_hash_table_add(W.hosts, g_strdup(client));
	g_snprintf(date, sizeof(date), "%04d-%02d-%02d",
	    g_date_time_get_year(dt), g_date_time_get_month(dt),
	    g_date_time_get_day_of_month(dt));
	if ((d = g_hash_table_lookup(W.days, date)) == NULL) {
		d = g_new0(struct stats_day, 1);
		memcpy(d->date, date, sizeof(date));
		g_hash_table_insert(W.days, d->date, d);
	}
	d->sessions++;
	d->held_ms += held;
	st->by_hour[g_date_time_get_hour(dt)]++;
	if (net != NULL) {
		if ((n = g_hash_table_lookup(W.nets, net)) == NULL) {
			n = g_new0(struct stats_net, 1);
			g_strlcpy(n->net, net, sizeof(n->net));
			g_hash_table_insert(W.nets, n->net, n);
		}
		n->sessions++;
		n->held_ms += held;
	}
	st->helo_classes[helo_class]++;
	for (unsigned i = 0; i < 8; i++)
		st->evidence[i] += (evidence >> i) & 1;
	while (bin < STATS_HOLD_BINS - 1 && (int64_t)held >= hold_limits[bin])
		bin++;
	st->hold[bin]++;
}

/* One event-log line: false if it is not one of ours. */
static bool
add_line(struct stats *st, const char *line, size_t len, unsigned v4,
    unsigned v6)
{
	g_autofree char *client = json_str(line, len, "client");
	g_autofree char *connect = json_str(line, len, "connect");
	g_autofree char *held = json_str(line, len, "held");
	g_autofree char *hc = json_str(line, len, "helo_class");
	g_autofree char *ev = json_str(line, len, "evidence");
	char key[ADDR_NETKEY_LEN];
	struct addr a;
	int64_t t;
	double secs;
	int helo_class = HELO_CLASS_COUNT;
	uint32_t evidence = 0;
	char *end;

	if (client == NULL || connect == NULL || held == NULL ||
	    !addr_parse(client, &a) || (t = iso_ms(connect)) < 0)
		return false;
	secs = g_ascii_strtod(held, &end);
	/* Written so that NaN fails too. */
	if (*end != '\0' || !(secs >= 0 && secs <= 1e9))
		return false;
	if ((st->since != 0 && t < st->since) ||
	    (st->until != 0 && t >= st->until))
		return true;
	for (int i = 0; hc != NULL && i < HELO_CLASS_COUNT; i++)
		if (strcmp(hc, helo_class_name(i)) == 0)
			helo_class = i;
	for (unsigned i = 0; ev != NULL && record_evidence_name(i) != NULL;
	    i++) {
		g_autofree char *q = g_strdup_printf("\"%s\"",
		    record_evidence_name(i));

		if (strstr(ev, q) != NULL)
			evidence |= 1u << i;
	}
	add_session(st, client, addr_netkey(&a, v4, v6, key), t,
	    (uint64_t)(secs * 1000.0 + 0.5), helo_class, evidence);
	return true;
}

bool
stats_add_line(struct stats *st, const char *line, size_t len)
{
	unsigned v4 = st->v4prefix != 0 ? st->v4prefix : 32;
	unsigned v6 = st->v6prefix != 0 ? st->v6prefix : 64;

	/* Our lines never hold a NUL (log.c escapes controls). */
	if (len == 0)
		return true;
	if (memchr(line, '\0', len) != NULL || !add_line(st, line, len, v4,
	    v6)) {
		st->bad_lines++;
		return false;
	}
	return true;
}

bool
stats_add_log(struct stats *st, const char *path, GError **error)
{
	gzFile f = gzopen(path, "rb");
	char line[LINE_MAX_LEN];

	if (f == NULL) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
		    "%s: cannot read", path);
		return false;
	}
	while (gzgets(f, line, sizeof(line)) != NULL) {
		size_t len = strlen(line);

		if (len == 0 || line[len - 1] != '\n') {
			/* Too long (or a last line cut short): skip it all. */
			st->bad_lines++;
			while (len > 0 && line[len - 1] != '\n' &&
			    gzgets(f, line, sizeof(line)) != NULL)
				len = strlen(line);
			continue;
		}
		stats_add_line(st, line, len - 1);
	}
	gzclose(f);
	return true;
}

static gint
compare_paths(gconstpointer a, gconstpointer b)
{
	return g_strcmp0(*(const char *const *)a, *(const char *const *)b);
}

GPtrArray *
stats_log_files(const char *path)
{
	GPtrArray *files = g_ptr_array_new_with_free_func(g_free);
	g_autofree char *dir = g_path_get_dirname(path);
	g_autofree char *base = g_path_get_basename(path);
	size_t blen = strlen(base);
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *name;

	while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
		/* events.jsonl, events.jsonl.1, .2.gz, -20261127(.gz) */
		if (strncmp(name, base, blen) != 0 ||
		    (name[blen] != '\0' && name[blen] != '.' &&
		    name[blen] != '-'))
			continue;
		g_ptr_array_add(files, g_build_filename(dir, name, NULL));
	}
	if (d != NULL)
		g_dir_close(d);
	g_ptr_array_sort(files, compare_paths);
	return files;
}

/* Store records into the totals (used when there is no event log). */
static bool
add_record(const char *key, const struct hit_record *r, void *data)
{
	struct stats *st = data;
	struct stats_net *n;

	if (r->tarpit_sessions == 0)
		return true;
	st->sessions += r->tarpit_sessions;
	st->held_ms += r->tarpit_held_ms;
	st->hosts++;
	if (st->first == 0 || r->tarpit_first < st->first)
		st->first = r->tarpit_first;
	if (r->tarpit_last > st->last)
		st->last = r->tarpit_last;
	n = g_new0(struct stats_net, 1);
	g_strlcpy(n->net, key, sizeof(n->net));
	n->sessions = r->tarpit_sessions;
	n->held_ms = r->tarpit_held_ms;
	g_hash_table_insert(W.nets, n->net, n);
	st->helo_classes[r->helo_len > 0 ? MIN(r->helo_class,
	    HELO_CLASS_COUNT) : HELO_CLASS_COUNT]++;
	for (unsigned i = 0; i < 8; i++)
		st->evidence[i] += (r->evidence >> i) & 1;
	return true;
}

bool
stats_add_store(struct stats *st, struct store *store, GError **error)
{
	return store_foreach(store, add_record, st, NULL, error);
}

static bool
add_primary(const char *key, const struct hit_record *r, void *data)
{
	struct stats *st = data;

	(void)key;
	if (r->tarpit_first != 0 && r->primary_first >= r->tarpit_first)
		st->later_at_primary++;
	return true;
}

bool
stats_add_primary(struct stats *st, struct store *store, GError **error)
{
	return store_foreach(store, add_primary, st, NULL, error);
}

static gint
by_date(gconstpointer a, gconstpointer b)
{
	return strcmp(((const struct stats_day *)a)->date,
	    ((const struct stats_day *)b)->date);
}

static gint
by_sessions(gconstpointer a, gconstpointer b)
{
	const struct stats_net *x = a, *y = b;

	if (x->sessions != y->sessions)
		return x->sessions < y->sessions ? 1 : -1;
	return strcmp(x->net, y->net);
}

void
stats_finish(struct stats *st)
{
	GHashTableIter it;
	gpointer v;
	g_autoptr(GArray) all = g_array_new(FALSE, FALSE,
	    sizeof(struct stats_net));

	if (st->hosts == 0)
		st->hosts = g_hash_table_size(W.hosts);
	g_hash_table_iter_init(&it, W.days);
	while (g_hash_table_iter_next(&it, NULL, &v))
		g_array_append_vals(st->days, v, 1);
	g_array_sort(st->days, by_date);
	g_hash_table_iter_init(&it, W.nets);
	while (g_hash_table_iter_next(&it, NULL, &v))
		g_array_append_vals(all, v, 1);
	g_array_sort(all, by_sessions);
	g_array_append_vals(st->top, all->data, MIN(all->len, STATS_TOP));
}

const char *
stats_hold_name(int bin)
{
	return bin >= 0 && bin < STATS_HOLD_BINS ? hold_names[bin] : "?";
}

void
stats_print(const struct stats *st, FILE *out)
{
	char t[RECORD_TIME_LEN];

	fprintf(out, "Stats since: %s\n", record_format_time(st->first, t));
	fprintf(out, "Emails blocked: %" G_GUINT64_FORMAT "\n", st->sessions);
	fprintf(out, "Hours in Tar Pit: %.2f\n",
	    (double)st->held_ms / 3600000.0);
	fprintf(out, "Unique SMTP Hosts: %" G_GUINT64_FORMAT "\n", st->hosts);
	fprintf(out, "\nSource: %s\n", st->source->str);
	if (st->bad_lines > 0)
		fprintf(out, "Lines not understood: %" G_GUINT64_FORMAT "\n",
		    st->bad_lines);
	fprintf(out, "Last session: %s\n", record_format_time(st->last, t));
	if (st->days->len > 0)
		fprintf(out, "\nPer day (UTC):\n");
	for (guint i = 0; i < st->days->len; i++) {
		const struct stats_day *d = &g_array_index(st->days,
		    struct stats_day, i);

		fprintf(out, "  %s  %8" G_GUINT64_FORMAT " sessions  %10.2f "
		    "hours\n", d->date, d->sessions,
		    (double)d->held_ms / 3600000.0);
	}
	if (st->top->len > 0)
		fprintf(out, "\nTop networks:\n");
	for (guint i = 0; i < st->top->len; i++) {
		const struct stats_net *n = &g_array_index(st->top,
		    struct stats_net, i);

		fprintf(out, "  %-42s %8" G_GUINT64_FORMAT " sessions  %10.2f "
		    "hours\n", n->net, n->sessions,
		    (double)n->held_ms / 3600000.0);
	}
	fprintf(out, "\nHELO classes:\n");
	for (int i = 0; i <= HELO_CLASS_COUNT; i++)
		if (st->helo_classes[i] > 0)
			fprintf(out, "  %-14s %8" G_GUINT64_FORMAT "\n",
			    i < HELO_CLASS_COUNT ? helo_class_name(i) : "no HELO",
			    st->helo_classes[i]);
	fprintf(out, "\nEvidence:\n");
	for (unsigned i = 0; record_evidence_name(i) != NULL; i++)
		fprintf(out, "  %-14s %8" G_GUINT64_FORMAT "\n",
		    record_evidence_name(i), st->evidence[i]);
	if (st->days->len > 0) {
		fprintf(out, "\nHold times:\n");
		for (int i = 0; i < STATS_HOLD_BINS; i++)
			fprintf(out, "  %-14s %8" G_GUINT64_FORMAT "\n",
			    hold_names[i], st->hold[i]);
	}
	fprintf(out, "\nNetworks seen by the tar pit first, then by the primary "
	    "(store): %" G_GUINT64_FORMAT "\n", st->later_at_primary);
}

void
stats_print_json(const struct stats *st, FILE *out)
{
	char t0[RECORD_TIME_LEN], t1[RECORD_TIME_LEN];
	g_autofree char *source = g_strescape(st->source->str, NULL);

	fprintf(out, "{\"since\":\"%s\",\"last\":\"%s\",\"emails_blocked\":%"
	    G_GUINT64_FORMAT ",\"hours_in_tar_pit\":%.2f,\"unique_smtp_hosts\":%"
	    G_GUINT64_FORMAT ",\"source\":\"%s\",\"lines_not_understood\":%"
	    G_GUINT64_FORMAT ",\"later_at_primary\":%" G_GUINT64_FORMAT
	    ",\"days\":[", record_format_time(st->first, t0),
	    record_format_time(st->last, t1), st->sessions,
	    (double)st->held_ms / 3600000.0, st->hosts, source, st->bad_lines,
	    st->later_at_primary);
	for (guint i = 0; i < st->days->len; i++) {
		const struct stats_day *d = &g_array_index(st->days,
		    struct stats_day, i);

		fprintf(out, "%s{\"date\":\"%s\",\"sessions\":%" G_GUINT64_FORMAT
		    ",\"hours\":%.2f}", i > 0 ? "," : "", d->date, d->sessions,
		    (double)d->held_ms / 3600000.0);
	}
	fprintf(out, "],\"top\":[");
	for (guint i = 0; i < st->top->len; i++) {
		const struct stats_net *n = &g_array_index(st->top,
		    struct stats_net, i);

		fprintf(out, "%s{\"network\":\"%s\",\"sessions\":%"
		    G_GUINT64_FORMAT ",\"hours\":%.2f}", i > 0 ? "," : "",
		    n->net, n->sessions, (double)n->held_ms / 3600000.0);
	}
	fprintf(out, "],\"helo_classes\":{");
	for (int i = 0, n = 0; i <= HELO_CLASS_COUNT; i++)
		if (st->helo_classes[i] > 0)
			fprintf(out, "%s\"%s\":%" G_GUINT64_FORMAT, n++ ? "," : "",
			    i < HELO_CLASS_COUNT ? helo_class_name(i) : "none",
			    st->helo_classes[i]);
	fprintf(out, "},\"evidence\":{");
	for (unsigned i = 0; record_evidence_name(i) != NULL; i++)
		fprintf(out, "%s\"%s\":%" G_GUINT64_FORMAT, i ? "," : "",
		    record_evidence_name(i), st->evidence[i]);
	fprintf(out, "},\"hold_times\":{");
	for (int i = 0; i < STATS_HOLD_BINS; i++)
		fprintf(out, "%s\"%s\":%" G_GUINT64_FORMAT, i ? "," : "",
		    hold_names[i], st->hold[i]);
	fprintf(out, "}}\n");
}
