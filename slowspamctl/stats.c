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
 * (slowspamctl(8), "stats"). Event-log lines are tarpitd's own, read
 * with json-glib (docs/json.md); a line that does not parse, or is too
 * long or too deeply nested to be one of ours, is counted and skipped.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include <zlib.h>

#include "addr.h"
#include "conf.h"
#include "jsonline.h"
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
	JsonParser	*parser;	/* one for every line */
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
	W.parser = json_parser_new();
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
	g_clear_object(&W.parser);
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

/* The string member name of obj, or NULL (absent, null, not a string). */
static const char *
member_string(JsonObject *obj, const char *name)
{
	JsonNode *n = json_object_get_member(obj, name);

	if (n == NULL || !JSON_NODE_HOLDS_VALUE(n) ||
	    json_node_get_value_type(n) != G_TYPE_STRING)
		return NULL;
	return json_node_get_string(n);
}

/* The number member name of obj into *v; false if it is none. */
static bool
member_number(JsonObject *obj, const char *name, double *v)
{
	JsonNode *n = json_object_get_member(obj, name);
	GType t = n != NULL && JSON_NODE_HOLDS_VALUE(n) ?
	    json_node_get_value_type(n) : G_TYPE_INVALID;

	if (t != G_TYPE_DOUBLE && t != G_TYPE_INT64)
		return false;
	*v = json_node_get_double(n);
	return true;
}

/* The evidence flags named in the array member name of obj. */
static uint32_t
member_evidence(JsonObject *obj, const char *name)
{
	JsonNode *n = json_object_get_member(obj, name);
	JsonArray *a = n != NULL && JSON_NODE_HOLDS_ARRAY(n) ?
	    json_node_get_array(n) : NULL;
	uint32_t evidence = 0;

	for (guint i = 0; a != NULL && i < json_array_get_length(a); i++) {
		JsonNode *e = json_array_get_element(a, i);
		const char *v;

		if (!JSON_NODE_HOLDS_VALUE(e) ||
		    json_node_get_value_type(e) != G_TYPE_STRING)
			continue;
		v = json_node_get_string(e);
		for (unsigned f = 0; record_evidence_name(f) != NULL; f++)
			if (strcmp(v, record_evidence_name(f)) == 0)
				evidence |= 1u << f;
	}
	return evidence;
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
	JsonNode *root;
	JsonObject *obj;
	const char *client, *connect, *hc;
	char key[ADDR_NETKEY_LEN];
	struct addr a;
	int64_t t;
	double secs;
	int helo_class = HELO_CLASS_COUNT;

	/* Bounded first: json-glib recurses once per bracket. */
	if (!jsonline_shape_ok(line, len) ||
	    !json_parser_load_from_data(W.parser, line, (gssize)len, NULL) ||
	    (root = json_parser_get_root(W.parser)) == NULL ||
	    !JSON_NODE_HOLDS_OBJECT(root))
		return false;
	obj = json_node_get_object(root);
	client = member_string(obj, "client");
	connect = member_string(obj, "connect");
	if (client == NULL || connect == NULL ||
	    !member_number(obj, "held", &secs) || !addr_parse(client, &a) ||
	    (t = iso_ms(connect)) < 0)
		return false;
	/* Written so that NaN fails too. */
	if (!(secs >= 0 && secs <= 1e9))
		return false;
	if ((st->since != 0 && t < st->since) ||
	    (st->until != 0 && t >= st->until))
		return true;
	hc = member_string(obj, "helo_class");
	for (int i = 0; hc != NULL && i < HELO_CLASS_COUNT; i++)
		if (strcmp(hc, helo_class_name(i)) == 0)
			helo_class = i;
	add_session(st, client, addr_netkey(&a, v4, v6, key), t,
	    (uint64_t)(secs * 1000.0 + 0.5), helo_class,
	    member_evidence(obj, "evidence"));
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
	if (len >= LINE_MAX_LEN || memchr(line, '\0', len) != NULL ||
	    !add_line(st, line, len, v4, v6)) {
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

/* Add hours of ms, to two decimals as the text report prints them. */
static void
add_hours(JsonBuilder *b, const char *name, uint64_t ms)
{
	json_builder_set_member_name(b, name);
	jsonline_add_decimal(b, (double)ms / 3600000.0, 2);
}

/* Add the members "sessions" and "hours" of a day or a network. */
static void
add_count(JsonBuilder *b, uint64_t sessions, uint64_t held_ms)
{
	json_builder_set_member_name(b, "sessions");
	json_builder_add_int_value(b, (gint64)sessions);
	add_hours(b, "hours", held_ms);
}

/* Add a member name: n. */
static void
add_int(JsonBuilder *b, const char *name, uint64_t n)
{
	json_builder_set_member_name(b, name);
	json_builder_add_int_value(b, (gint64)n);
}

void
stats_print_json(const struct stats *st, FILE *out)
{
	g_autoptr(JsonBuilder) b = json_builder_new_immutable();

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "since");
	jsonline_add_time(b, st->first);
	json_builder_set_member_name(b, "last");
	jsonline_add_time(b, st->last);
	add_int(b, "emails_blocked", st->sessions);
	add_hours(b, "hours_in_tar_pit", st->held_ms);
	add_int(b, "unique_smtp_hosts", st->hosts);
	json_builder_set_member_name(b, "source");
	jsonline_add_text(b, st->source->str);
	add_int(b, "lines_not_understood", st->bad_lines);
	add_int(b, "later_at_primary", st->later_at_primary);
	json_builder_set_member_name(b, "days");
	json_builder_begin_array(b);
	for (guint i = 0; i < st->days->len; i++) {
		const struct stats_day *d = &g_array_index(st->days,
		    struct stats_day, i);

		json_builder_begin_object(b);
		json_builder_set_member_name(b, "date");
		json_builder_add_string_value(b, d->date);
		add_count(b, d->sessions, d->held_ms);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_set_member_name(b, "top");
	json_builder_begin_array(b);
	for (guint i = 0; i < st->top->len; i++) {
		const struct stats_net *n = &g_array_index(st->top,
		    struct stats_net, i);

		json_builder_begin_object(b);
		json_builder_set_member_name(b, "network");
		/* A store key: Redis may hold keys others wrote. */
		jsonline_add_bytes(b, n->net, strlen(n->net));
		add_count(b, n->sessions, n->held_ms);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_set_member_name(b, "helo_classes");
	json_builder_begin_object(b);
	for (int i = 0; i <= HELO_CLASS_COUNT; i++)
		if (st->helo_classes[i] > 0)
			add_int(b, i < HELO_CLASS_COUNT ? helo_class_name(i) :
			    "none", st->helo_classes[i]);
	json_builder_end_object(b);
	json_builder_set_member_name(b, "evidence");
	json_builder_begin_object(b);
	for (unsigned i = 0; record_evidence_name(i) != NULL; i++)
		add_int(b, record_evidence_name(i), st->evidence[i]);
	json_builder_end_object(b);
	json_builder_set_member_name(b, "hold_times");
	json_builder_begin_object(b);
	for (int i = 0; i < STATS_HOLD_BINS; i++)
		add_int(b, hold_names[i], st->hold[i]);
	json_builder_end_object(b);
	json_builder_end_object(b);
	jsonline_print(b, out);
}
