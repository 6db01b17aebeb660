/*
 * conf.c - load and check slowspam.conf.
 *
 *	conf_load		file + overrides + defaults, all checked
 *	conf_load_at		the same, for a file below a folder descriptor
 *	conf_load_data		the same for text in memory
 *	conf_free		release a configuration
 *	conf_warn_exposed	warn of a password others may read
 *	conf_default_path	$(sysconfdir)/slowspam/slowspam.conf
 *	conf_store_options	the hit-store part, for store_open()
 *	conf_parse_duration	"10m" to milliseconds
 *	conf_parse_size		"1G" to bytes
 *
 * Every key is one row of the keys[] table: group, name, parser, limits
 * and its default written as it would be in the file, so defaults pass
 * through the same checks as the administrator's values, and the table
 * is the one place to add a key.
 *
 * Diagnostics: one line per problem, "FILE:LINE: [group] key: why" (or
 * "command line: group.key: why" for an override); unknown groups and
 * keys, keys given twice, and values out of range are all problems.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


#include "conf.h"
#include "helo.h"
#include "log.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#ifndef LOCALSTATEDIR
#define LOCALSTATEDIR "/var"
#endif

G_DEFINE_QUARK(slowspam-conf-error-quark, conf_error)

/* A configuration is a few KiB; refuse what cannot be one. */
#define CONF_FILE_MAX	(1 << 20)

#define SECOND	INT64_C(1000)
#define MINUTE	(60 * SECOND)
#define HOUR	(60 * MINUTE)
#define DAY	(24 * HOUR)

/* Loading state: where each value came from, and the problems found. */
struct load {
	const char	*path;
	GKeyFile	*kf;
	GHashTable	*lines;		/* "group\nkey" -> line number */
	GHashTable	*overridden;	/* "group\nkey" present: from the CLI */
	GString		*problems;
	struct conf	*conf;
};

struct key;
/* Parse text into field; false with a static reason in *why. */
typedef bool (*parse_fn)(const struct key *k, const char *text, void *field,
    const char **why);

struct key {
	const char	*group;
	const char	*name;
	parse_fn	parse;
	size_t		offset;		/* of the field in struct conf */
	const char	*def;		/* default; NULL: computed */
	int64_t		min, max;	/* numbers: range (ms for durations) */
	const char *const *choices;	/* parse_choice: index = value */
	bool		is_string;	/* field is a g_malloc'ed char * */
};

static const char *const action_names[] = {
	"tag", "quarantine", "divert", "tempfail", "reject", NULL,
};
static const char *const backend_names[] = { "lmdb", "redis", NULL };
static const char *const on_error_names[] = { "accept", "tempfail", NULL };

/* Report a problem with group/key (key may be NULL) of ld's file. */
static void G_GNUC_PRINTF(4, 5)
problem(struct load *ld, const char *group, const char *key,
    const char *fmt, ...)
{
	g_autofree char *id = g_strdup_printf("%s\n%s", group,
	    key != NULL ? key : "");
	gpointer line = g_hash_table_lookup(ld->lines, id);
	va_list ap;

	if (ld->problems->len > 0)
		g_string_append_c(ld->problems, '\n');
	if (key != NULL && g_hash_table_contains(ld->overridden, id))
		g_string_append_printf(ld->problems, "command line: %s.%s: ",
		    group, key);
	else if (line != NULL)
		g_string_append_printf(ld->problems, "%s:%u: [%s]%s%s: ",
		    ld->path, GPOINTER_TO_UINT(line), group,
		    key != NULL ? " " : "", key != NULL ? key : "");
	else
		g_string_append_printf(ld->problems, "%s: [%s]%s%s: ",
		    ld->path, group, key != NULL ? " " : "",
		    key != NULL ? key : "");
	va_start(ap, fmt);
	g_string_append_vprintf(ld->problems, fmt, ap);
	va_end(ap);
}

/* Read digits text[*i..] into *v; false on none or overflow past max. */
static bool
digits(const char *text, size_t *i, uint64_t max, uint64_t *v)
{
	size_t start = *i;

	*v = 0;
	while (text[*i] >= '0' && text[*i] <= '9') {
		unsigned d = (unsigned)(text[*i] - '0');

		if (*v > (max - d) / 10)
			return false;
		*v = *v * 10 + d;
		(*i)++;
	}
	return *i > start;
}

bool
conf_parse_duration(const char *text, int64_t *ms, const char **why)
{
	static const struct {
		const char *suffix;
		int64_t scale;
	} units[] = {
		{ "", SECOND }, { "ms", 1 }, { "s", SECOND }, { "m", MINUTE },
		{ "h", HOUR }, { "d", DAY }, { "w", 7 * DAY },
	};
	uint64_t v;
	size_t i = 0;

	if (!digits(text, &i, INT64_MAX, &v)) {
		*why = text[0] == '\0' ? "empty duration" :
		    "not a duration (examples: 30s, 250ms, 10m, 2h, 7d)";
		return false;
	}
	for (size_t u = 0; u < G_N_ELEMENTS(units); u++) {
		if (strcmp(text + i, units[u].suffix) != 0)
			continue;
		if (v > (uint64_t)(INT64_MAX / units[u].scale)) {
			*why = "duration too long";
			return false;
		}
		*ms = (int64_t)v * units[u].scale;
		return true;
	}
	*why = "unknown duration unit (use ms, s, m, h, d or w)";
	return false;
}

bool
conf_parse_size(const char *text, uint64_t *bytes, const char **why)
{
	static const char units[] = "KMGT";
	uint64_t v, scale = 1;
	size_t i = 0;
	const char *u;

	if (!digits(text, &i, UINT64_MAX, &v)) {
		*why = "not a size (examples: 512M, 4G)";
		return false;
	}
	if (text[i] != '\0') {
		if (text[i + 1] != '\0' || (u = strchr(units, text[i])) == NULL) {
			*why = "unknown size unit (use K, M, G or T)";
			return false;
		}
		scale = UINT64_C(1) << (10 * (u - units + 1));
	}
	if (v > UINT64_MAX / scale) {
		*why = "size too large";
		return false;
	}
	*bytes = v * scale;
	return true;
}

static const char why_range[] = "out of range";

/* Is v within k's limits? load_key() adds the limits to the message. */
static bool
in_range(const struct key *k, int64_t v, const char **why)
{
	if (v >= k->min && v <= k->max)
		return true;
	*why = why_range;
	return false;
}

static bool parse_duration(const struct key *, const char *, void *,
    const char **);
static bool parse_size(const struct key *, const char *, void *,
    const char **);

/* A limit as it would be written in the file: "10ms", "5m", "16M", "64". */
static void
format_limit(const struct key *k, int64_t v, char *buf, size_t size)
{
	static const struct {
		int64_t scale;
		const char *suffix;
	} durations[] = { { 7 * DAY, "w" }, { DAY, "d" }, { HOUR, "h" },
	    { MINUTE, "m" }, { SECOND, "s" }, { 1, "ms" } },
	    sizes[] = { { INT64_C(1) << 40, "T" }, { 1 << 30, "G" },
	    { 1 << 20, "M" }, { 1 << 10, "K" }, { 1, "" } };
	size_t i = 0;

	if (k->parse == parse_duration || k->parse == parse_size) {
		bool dur = k->parse == parse_duration;

		while (v != 0 && v % (dur ? durations[i].scale :
		    sizes[i].scale) != 0)
			i++;
		g_snprintf(buf, size, "%" G_GINT64_FORMAT "%s",
		    v == 0 ? 0 : v / (dur ? durations[i].scale : sizes[i].scale),
		    v == 0 ? "" : dur ? durations[i].suffix : sizes[i].suffix);
	} else {
		g_snprintf(buf, size, "%" G_GINT64_FORMAT, v);
	}
}

static bool
parse_duration(const struct key *k, const char *text, void *field,
    const char **why)
{
	int64_t v;

	if (!conf_parse_duration(text, &v, why) || !in_range(k, v, why))
		return false;
	*(int64_t *)field = v;
	return true;
}

static bool
parse_uint(const struct key *k, const char *text, void *field,
    const char **why)
{
	uint64_t v;
	size_t i = 0;

	if (!digits(text, &i, UINT32_MAX, &v) || text[i] != '\0') {
		*why = "not a whole number";
		return false;
	}
	if (!in_range(k, (int64_t)v, why))
		return false;
	*(unsigned *)field = (unsigned)v;
	return true;
}

static bool
parse_size(const struct key *k, const char *text, void *field,
    const char **why)
{
	uint64_t v;

	if (!conf_parse_size(text, &v, why) ||
	    !in_range(k, v > INT64_MAX ? INT64_MAX : (int64_t)v, why))
		return false;
	*(uint64_t *)field = v;
	return true;
}

static bool
parse_bool(const struct key *k, const char *text, void *field,
    const char **why)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	(void)k;
	for (size_t i = 0; i < G_N_ELEMENTS(yes); i++) {
		if (g_ascii_strcasecmp(text, yes[i]) == 0) {
			*(bool *)field = true;
			return true;
		}
		if (g_ascii_strcasecmp(text, no[i]) == 0) {
			*(bool *)field = false;
			return true;
		}
	}
	*why = "not yes or no";
	return false;
}

/* An enum field: the index of text among k->choices. */
static bool
parse_choice(const struct key *k, const char *text, void *field,
    const char **why)
{
	G_STATIC_ASSERT(sizeof(enum conf_action) == sizeof(int));
	G_STATIC_ASSERT(sizeof(enum conf_on_error) == sizeof(int));
	for (int i = 0; k->choices[i] != NULL; i++) {
		if (strcmp(text, k->choices[i]) == 0) {
			*(int *)field = i;
			return true;
		}
	}
	*why = "not one of the allowed values";
	return false;
}

static bool
parse_level(const struct key *k, const char *text, void *field,
    const char **why)
{
	(void)k;
	*why = "not debug, info, notice, warning or err";
	return log_level_parse(text, field);
}

static bool
parse_facility(const struct key *k, const char *text, void *field,
    const char **why)
{
	(void)k;
	*why = "not mail, daemon, user or local0 .. local7";
	return log_facility_parse(text, field);
}

/* Split a ';' list into trimmed, non-empty items. */
static char **
split_list(const char *text)
{
	char **items = g_strsplit(text, ";", -1);
	size_t n = 0;

	for (size_t i = 0; items[i] != NULL; i++) {
		g_strstrip(items[i]);
		if (items[i][0] == '\0')
			g_free(items[i]);
		else
			items[n++] = items[i];
	}
	items[n] = NULL;
	return items;
}

static bool
parse_listen_list(const struct key *k, const char *text, void *field,
    const char **why)
{
	struct conf_listen_list *list = field;
	g_auto(GStrv) items = split_list(text);
	size_t n = g_strv_length(items);
	struct conf_listen *v;

	(void)k;
	if (n == 0) {
		*why = "needs at least one ADDR:PORT";
		return false;
	}
	v = g_new0(struct conf_listen, n);
	for (size_t i = 0; i < n; i++) {
		if (!addr_hostport_parse(items[i], &v[i].addr, &v[i].port,
		    why)) {
			g_free(v);
			return false;
		}
	}
	g_free(list->v);
	list->v = v;
	list->n = n;
	return true;
}

static bool
parse_hostport_opt(const struct key *k, const char *text, void *field,
    const char **why)
{
	struct conf_listen *l = field;

	(void)k;
	if (text[0] == '\0') {
		memset(l, 0, sizeof(*l));
		return true;
	}
	return addr_hostport_parse(text, &l->addr, &l->port, why);
}

static bool
parse_cidr_list(const struct key *k, const char *text, void *field,
    const char **why)
{
	struct conf_cidr_list *list = field;
	g_auto(GStrv) items = split_list(text);
	size_t n = g_strv_length(items);
	struct addr_cidr *v = g_new0(struct addr_cidr, MAX(n, 1));

	(void)k;
	for (size_t i = 0; i < n; i++) {
		if (!addr_cidr_parse(items[i], &v[i], why)) {
			g_free(v);
			return false;
		}
	}
	g_free(list->v);
	list->v = v;
	list->n = n;
	return true;
}

/* Store text as the string field. */
static bool
set_string(void *field, const char *text)
{
	g_free(*(char **)field);
	*(char **)field = g_strdup(text);
	return true;
}

static bool
parse_string(const struct key *k, const char *text, void *field,
    const char **why)
{
	(void)k;
	(void)why;
	return set_string(field, text);
}

/* Does text hold only bytes a token may: letters, digits, ".-_@+"? */
static bool
is_token(const char *text, const char *extra)
{
	for (const char *p = text; *p != '\0'; p++)
		if (!g_ascii_isalnum(*p) && strchr(extra, *p) == NULL)
			return false;
	return true;
}

static bool
parse_hostname(const struct key *k, const char *text, void *field,
    const char **why)
{
	struct helo_result r;

	helo_classify(text, strlen(text), NULL, &r);
	if (r.class != HELO_FQDN && r.class != HELO_SINGLE_LABEL) {
		*why = "not a valid host name";
		return false;
	}
	return parse_string(k, text, field, why);
}

/* An empty value (none) or a domain name of two labels or more. */
static bool
parse_domain_opt(const struct key *k, const char *text, void *field,
    const char **why)
{
	struct helo_result r;

	if (text[0] != '\0') {
		helo_classify(text, strlen(text), NULL, &r);
		if (r.class != HELO_FQDN) {
			*why = "not a domain name";
			return false;
		}
	}
	return parse_string(k, text, field, why);
}

/* Domain names separated by ';', kept separated by blanks. */
static bool
parse_domain_list(const struct key *k, const char *text, void *field,
    const char **why)
{
	g_auto(GStrv) items = split_list(text);
	g_autofree char *joined = NULL;
	struct helo_result r;

	(void)k;
	for (size_t i = 0; items[i] != NULL; i++) {
		helo_classify(items[i], strlen(items[i]), NULL, &r);
		if (r.class != HELO_FQDN) {
			*why = "not a list of domain names";
			return false;
		}
	}
	joined = g_strjoinv(" ", items);
	return set_string(field, joined);
}

/* An empty value (the system's resolver) or ADDR or ADDR@PORT. */
static bool
parse_resolver_opt(const struct key *k, const char *text, void *field,
    const char **why)
{
	const char *at = strchr(text, '@');
	struct addr a;
	size_t alen = at != NULL ? (size_t)(at - text) : strlen(text);
	unsigned port = 0;

	if (text[0] != '\0') {
		if (!addr_parse_len(text, alen, &a)) {
			*why = "not ADDRESS or ADDRESS@PORT";
			return false;
		}
		if (at != NULL) {
			const char *p = at + 1;

			for (; *p >= '0' && *p <= '9' && port <= 65535; p++)
				port = port * 10 + (unsigned)(*p - '0');
			if (p == at + 1 || *p != '\0' || port == 0 ||
			    port > 65535) {
				*why = "the port must be 1 to 65535";
				return false;
			}
		}
	}
	return parse_string(k, text, field, why);
}

/* An empty value means "none"; otherwise an absolute path. */
static bool
parse_path_opt(const struct key *k, const char *text, void *field,
    const char **why)
{
	if (text[0] != '\0' && !g_path_is_absolute(text)) {
		*why = "must be an absolute path";
		return false;
	}
	return parse_string(k, text, field, why);
}

static bool
parse_path(const struct key *k, const char *text, void *field,
    const char **why)
{
	if (text[0] == '\0') {
		*why = "must not be empty";
		return false;
	}
	return parse_path_opt(k, text, field, why);
}

static bool
parse_user(const struct key *k, const char *text, void *field,
    const char **why)
{
	if (text[0] == '\0' || strlen(text) > 32 || !is_token(text, "._-")) {
		*why = "not a user name";
		return false;
	}
	return parse_string(k, text, field, why);
}

/* An empty value (none) or a user or group name. */
static bool
parse_user_opt(const struct key *k, const char *text, void *field,
    const char **why)
{
	if (strlen(text) > 32 || !is_token(text, "._-")) {
		*why = "not a user or group name";
		return false;
	}
	return parse_string(k, text, field, why);
}

/* A file mode in octal, 0 to 0777 ("0660", "660"). */
static bool
parse_mode(const struct key *k, const char *text, void *field,
    const char **why)
{
	unsigned v = 0;
	size_t i;

	for (i = 0; text[i] >= '0' && text[i] <= '7' && i < 5; i++)
		v = v * 8 + (unsigned)(text[i] - '0');
	if (i == 0 || text[i] != '\0' || v > 0777) {
		*why = "not an octal mode (0 to 0777)";
		return false;
	}
	if (!in_range(k, (int64_t)v, why))
		return false;
	*(unsigned *)field = v;
	return true;
}

/* An empty value (none) or local@domain. */
static bool
parse_mailbox_opt(const struct key *k, const char *text, void *field,
    const char **why)
{
	const char *at = strrchr(text, '@');

	if (text[0] != '\0' && (at == NULL || at == text || at[1] == '\0' ||
	    strlen(text) > 254 || !is_token(text, ".-_@+=") ||
	    strchr(text, '@') != at)) {
		*why = "not a mailbox (local@domain)";
		return false;
	}
	return parse_string(k, text, field, why);
}

/* An empty value (the host name) or an RFC 8601 authserv-id token. */
static bool
parse_token_opt(const struct key *k, const char *text, void *field,
    const char **why)
{
	if (strlen(text) > 255 || !is_token(text, ".-_")) {
		*why = "only letters, digits, '.', '-' and '_' are allowed";
		return false;
	}
	return parse_string(k, text, field, why);
}

/* A Redis key prefix: letters, digits and ".-_:", at most 64. */
static bool
parse_key_prefix(const struct key *k, const char *text, void *field,
    const char **why)
{
	if (strlen(text) > 64 || !is_token(text, ".-_:")) {
		*why = "only letters, digits, '.', '-', '_' and ':' are allowed";
		return false;
	}
	return parse_string(k, text, field, why);
}

/* libmilter socket: unix:/path, local:/path, inet:PORT[@ADDR], inet6:... */
static bool
parse_milter_socket(const struct key *k, const char *text, void *field,
    const char **why)
{
	const char *rest, *at;
	uint64_t port;
	size_t i = 0;
	struct addr a;

	if ((rest = g_str_has_prefix(text, "unix:") ? text + 5 :
	    g_str_has_prefix(text, "local:") ? text + 6 : NULL) != NULL) {
		if (!g_path_is_absolute(rest)) {
			*why = "unix socket path must be absolute";
			return false;
		}
		return parse_string(k, text, field, why);
	}
	if ((rest = g_str_has_prefix(text, "inet:") ? text + 5 :
	    g_str_has_prefix(text, "inet6:") ? text + 6 : NULL) == NULL) {
		*why = "not unix:/PATH, inet:PORT@ADDR or inet6:PORT@ADDR";
		return false;
	}
	if (!digits(rest, &i, 65535, &port) || port == 0 ||
	    (rest[i] != '\0' && rest[i] != '@')) {
		*why = "bad port (1-65535)";
		return false;
	}
	at = rest + i;
	if (*at == '@' && !addr_parse(at + 1, &a)) {
		*why = "bad address after '@'";
		return false;
	}
	return parse_string(k, text, field, why);
}

/* Redis endpoint: ADDR:PORT ([v6]:PORT) or unix:/path. */
static bool
parse_redis_addr(const struct key *k, const char *text, void *field,
    const char **why)
{
	struct addr a;
	uint16_t port;

	if (g_str_has_prefix(text, "unix:")) {
		if (!g_path_is_absolute(text + 5)) {
			*why = "unix socket path must be absolute";
			return false;
		}
	} else if (!addr_hostport_parse(text, &a, &port, why)) {
		return false;
	}
	return parse_string(k, text, field, why);
}

/*
 * Redis Sentinels: none, or ADDR:PORT;ADDR:PORT;... (at most 16), kept
 * as the list's text with single ';' between the addresses.
 */
#define SENTINELS_MAX	16
static bool
parse_redis_sentinels(const struct key *k, const char *text, void *field,
    const char **why)
{
	g_auto(GStrv) items = split_list(text);
	g_autofree char *joined = NULL;
	struct addr a;
	uint16_t port;

	(void)k;
	if (g_strv_length(items) > SENTINELS_MAX) {
		*why = "more than 16 sentinels";
		return false;
	}
	for (size_t i = 0; items[i] != NULL; i++)
		if (!addr_hostport_parse(items[i], &a, &port, why))
			return false;
	joined = g_strjoinv(";", items);
	return set_string(field, joined);
}

/* An empty value (none) or a host name. */
static bool
parse_hostname_opt(const struct key *k, const char *text, void *field,
    const char **why)
{
	if (text[0] == '\0')
		return parse_string(k, text, field, why);
	return parse_hostname(k, text, field, why);
}

#define F(group, field)	offsetof(struct conf, group.field)
#define STR		.is_string = true

static const struct key keys[] = {
	{ "tarpitd", "listen", parse_listen_list, F(tarpitd, listen), "[::]:25" },
	{ "tarpitd", "hostname", parse_hostname, F(tarpitd, hostname), NULL, STR },
	{ "tarpitd", "greet_wait", parse_duration, F(tarpitd, greet_wait), "6s",
	    0, 5 * MINUTE },
	{ "tarpitd", "drip_interval", parse_duration, F(tarpitd, drip_interval),
	    "10s", 10, 5 * MINUTE },
	{ "tarpitd", "max_hold", parse_duration, F(tarpitd, max_hold), "10m",
	    SECOND, DAY },
	{ "tarpitd", "impatient_before", parse_duration,
	    F(tarpitd, impatient_before), "290s", 0, DAY },
	{ "tarpitd", "max_clients", parse_uint, F(tarpitd, max_clients), "16000",
	    1, 1000000 },
	{ "tarpitd", "max_clients_per_net", parse_uint,
	    F(tarpitd, max_clients_per_net), "32", 1, 1000000 },
	{ "tarpitd", "workers", parse_uint, F(tarpitd, workers), "1", 1, 64 },
	{ "tarpitd", "user", parse_user, F(tarpitd, user), "slowspam", STR },
	{ "tarpitd", "chroot", parse_path_opt, F(tarpitd, chroot), "", STR },
	{ "tarpitd", "event_log", parse_path_opt, F(tarpitd, event_log), "", STR },
	{ "tarpitd", "metrics_listen", parse_hostport_opt,
	    F(tarpitd, metrics_listen), "" },
	{ "tarpitd", "aggregate_ipv4_prefix", parse_uint,
	    F(tarpitd, aggregate_ipv4_prefix), "24", 8, 32 },
	{ "tarpitd", "aggregate_ipv6_prefix", parse_uint,
	    F(tarpitd, aggregate_ipv6_prefix), "48", 16, 128 },
	{ "tarpitd", "records_per_minute", parse_uint,
	    F(tarpitd, records_per_minute), "60", 0, 1000000 },

	{ "milter", "socket", parse_milter_socket, F(milter, socket),
	    "unix:/run/slowspam/milter.sock", STR },
	{ "milter", "window", parse_duration, F(milter, window), "7d",
	    MINUTE, 365 * DAY },
	{ "milter", "action", parse_choice, F(milter, action), "tag",
	    .choices = action_names },
	{ "milter", "action_bot", parse_choice, F(milter, action_bot), "tag",
	    .choices = action_names },
	{ "milter", "divert_to", parse_mailbox_opt, F(milter, divert_to), "",
	    STR },
	{ "milter", "trusted_networks", parse_cidr_list,
	    F(milter, trusted_networks), "127.0.0.0/8;::1/128" },
	{ "milter", "spf", parse_bool, F(milter, spf), "yes" },
	{ "milter", "authserv_id", parse_token_opt, F(milter, authserv_id), "",
	    STR },
	{ "milter", "alive_margin", parse_duration, F(milter, alive_margin),
	    "10m", MINUTE, DAY },
	{ "milter", "grace", parse_duration, F(milter, grace), "10m", 0, DAY },
	{ "milter", "allow_list", parse_path_opt, F(milter, allow_list), "",
	    STR },
	{ "milter", "on_store_error", parse_choice, F(milter, on_store_error),
	    "accept", .choices = on_error_names },
	{ "milter", "metrics_listen", parse_hostport_opt,
	    F(milter, metrics_listen), "" },
	{ "milter", "user", parse_user_opt, F(milter, user), "", STR },
	{ "milter", "socket_mode", parse_mode, F(milter, socket_mode), "0660",
	    0, 0777 },
	{ "milter", "socket_group", parse_user_opt, F(milter, socket_group), "",
	    STR },

	{ "milter", "tarpit_list", parse_domain_opt, F(milter, tarpit_list), "",
	    STR },
	{ "milter", "tarpit_list_resolver", parse_resolver_opt,
	    F(milter, tarpit_list_resolver), "", STR },
	{ "milter", "tarpit_list_timeout", parse_duration,
	    F(milter, tarpit_list_timeout), "2s", 10, 30 * SECOND },
	/* Short: a shared tar pit also holds other domains' fallbacks. */
	{ "milter", "tarpit_list_window", parse_duration,
	    F(milter, tarpit_list_window), "1h", MINUTE, 365 * DAY },

	{ "list", "expire", parse_duration, F(list, expire), "7d", MINUTE,
	    365 * DAY },
	{ "list", "seen", parse_bool, F(list, seen), "no" },
	{ "list", "ttl", parse_duration, F(list, ttl), "10m", SECOND, DAY },
	{ "list", "ns", parse_domain_list, F(list, ns), "", STR },
	{ "list", "hostmaster", parse_domain_opt, F(list, hostmaster), "",
	    STR },

	{ "policyd", "socket", parse_milter_socket, F(policyd, socket),
	    "unix:/run/slowspam/policyd.sock", STR },
	{ "policyd", "user", parse_user_opt, F(policyd, user), "", STR },
	{ "policyd", "socket_mode", parse_mode, F(policyd, socket_mode), "0660",
	    0, 0777 },
	{ "policyd", "socket_group", parse_user_opt, F(policyd, socket_group),
	    "", STR },
	{ "policyd", "metrics_listen", parse_hostport_opt,
	    F(policyd, metrics_listen), "" },
	{ "policyd", "workers", parse_uint, F(policyd, workers), "16", 1, 64 },
	{ "policyd", "max_connections", parse_uint,
	    F(policyd, max_connections), "1000", 1, 100000 },
	/* Postfix keeps an idle policy connection up to 300 s (max_idle). */
	{ "policyd", "idle_timeout", parse_duration, F(policyd, idle_timeout),
	    "330s", SECOND, HOUR },
	/* More than any worker can hold at once: one is never all busy. */
	{ "policyd", "max_sessions", parse_uint, F(policyd, max_sessions),
	    "20000", 100, 10000000 },
	{ "policyd", "session_ttl", parse_duration, F(policyd, session_ttl),
	    "10m", SECOND, DAY },

	{ "store", "backend", parse_choice, F(store, backend), "lmdb",
	    .choices = backend_names },
	{ "store", "path", parse_path, F(store, path),
	    LOCALSTATEDIR "/lib/slowspam/hits.lmdb", STR },
	{ "store", "ttl", parse_duration, F(store, ttl), "30d", HOUR,
	    3650 * DAY },
	{ "store", "ipv4_prefix", parse_uint, F(store, ipv4_prefix), "32", 8,
	    32 },
	{ "store", "ipv6_prefix", parse_uint, F(store, ipv6_prefix), "64", 16,
	    128 },
	{ "store", "map_size", parse_size, F(store, map_size), "1G", 16 << 20,
	    INT64_C(1) << 40 },
	{ "store", "redis", parse_redis_addr, F(store, redis),
	    "127.0.0.1:6379", STR },
	{ "store", "redis_password", parse_string, F(store, redis_password), "",
	    STR },
	{ "store", "redis_db", parse_uint, F(store, redis_db), "0", 0, 65535 },
	{ "store", "redis_timeout", parse_duration, F(store, redis_timeout),
	    "50ms", 1, 60 * SECOND },
	{ "store", "redis_prefix", parse_key_prefix, F(store, redis_prefix),
	    "slowspam:", STR },
	{ "store", "redis_connections", parse_uint, F(store, redis_connections),
	    "4", 1, 64 },
	{ "store", "redis_sentinels", parse_redis_sentinels,
	    F(store, redis_sentinels), "", STR },
	{ "store", "redis_master", parse_token_opt, F(store, redis_master),
	    "slowspam", STR },
	{ "store", "redis_sentinel_password", parse_string,
	    F(store, redis_sentinel_password), "", STR },
	{ "store", "redis_tls", parse_bool, F(store, redis_tls), "no" },
	{ "store", "redis_tls_ca", parse_path_opt, F(store, redis_tls_ca), "",
	    STR },
	{ "store", "redis_tls_cert", parse_path_opt, F(store, redis_tls_cert),
	    "", STR },
	{ "store", "redis_tls_key", parse_path_opt, F(store, redis_tls_key), "",
	    STR },
	{ "store", "redis_tls_server_name", parse_hostname_opt,
	    F(store, redis_tls_server_name), "", STR },

	{ "log", "level", parse_level, F(log, level), "info" },
	{ "log", "facility", parse_facility, F(log, facility), "mail" },
};

#undef F
#undef STR

/* The row for group/key, or NULL. */
static const struct key *
find_key(const char *group, const char *name)
{
	for (size_t i = 0; i < G_N_ELEMENTS(keys); i++)
		if (strcmp(keys[i].group, group) == 0 &&
		    strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static bool
known_group(const char *group)
{
	for (size_t i = 0; i < G_N_ELEMENTS(keys); i++)
		if (strcmp(keys[i].group, group) == 0)
			return true;
	return false;
}

/*
 * Note the line of every "key =" in the file, by group, and report keys
 * given twice: GKeyFile would silently keep the last.
 */
static void
index_lines(struct load *ld, const char *text)
{
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	g_autofree char *group = g_strdup("");

	for (unsigned n = 0; lines[n] != NULL; n++) {
		char *line = g_strstrip(lines[n]), *eq, *end;
		g_autofree char *id = NULL;
		gpointer seen;

		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (line[0] == '[' && (end = strchr(line, ']')) != NULL) {
			g_free(group);
			group = g_strndup(line + 1, (gsize)(end - line - 1));
			id = g_strdup_printf("%s\n", group);
			if (!g_hash_table_contains(ld->lines, id))
				g_hash_table_insert(ld->lines, g_steal_pointer(&id),
				    GUINT_TO_POINTER(n + 1));
			continue;
		}
		if ((eq = strchr(line, '=')) == NULL)
			continue;
		*eq = '\0';
		id = g_strdup_printf("%s\n%s", group, g_strchomp(line));
		seen = g_hash_table_lookup(ld->lines, id);
		if (seen != NULL) {
			problem(ld, group, g_strchomp(line),
			    "given again on line %u (each key once)", n + 1);
			continue;
		}
		g_hash_table_insert(ld->lines, g_steal_pointer(&id),
		    GUINT_TO_POINTER(n + 1));
	}
}

/* Apply "group.key=value" overrides to the key file. */
static void
apply_overrides(struct load *ld, const char *const *overrides)
{
	for (size_t i = 0; overrides != NULL && overrides[i] != NULL; i++) {
		const char *o = overrides[i], *dot = strchr(o, '.');
		const char *eq = strchr(o, '=');
		g_autofree char *group = NULL, *name = NULL;

		if (dot == NULL || eq == NULL || dot > eq) {
			g_string_append_printf(ld->problems, "%scommand line: "
			    "'%s': not GROUP.KEY=VALUE",
			    ld->problems->len > 0 ? "\n" : "", o);
			continue;
		}
		group = g_strndup(o, (gsize)(dot - o));
		name = g_strndup(dot + 1, (gsize)(eq - dot - 1));
		g_hash_table_add(ld->overridden,
		    g_strdup_printf("%s\n%s", group, name));
		if (find_key(group, name) == NULL) {
			problem(ld, group, name, "no such key");
			continue;
		}
		g_key_file_set_value(ld->kf, group, name, eq + 1);
	}
}

/* Report every group and key of the file that no table row knows. */
static void
check_unknown(struct load *ld)
{
	g_auto(GStrv) groups = g_key_file_get_groups(ld->kf, NULL);

	for (size_t g = 0; groups[g] != NULL; g++) {
		g_auto(GStrv) names = NULL;

		if (!known_group(groups[g])) {
			problem(ld, groups[g], NULL, "unknown group");
			continue;
		}
		names = g_key_file_get_keys(ld->kf, groups[g], NULL, NULL);
		for (size_t k = 0; names[k] != NULL; k++)
			if (find_key(groups[g], names[k]) == NULL)
				problem(ld, groups[g], names[k], "unknown key");
	}
}

/* Parse one key's value (or default) into the configuration. */
static void
load_key(struct load *ld, const struct key *k)
{
	void *field = (char *)ld->conf + k->offset;
	g_autofree char *raw = NULL, *value = NULL;
	g_autoptr(GError) err = NULL;
	const char *why = "invalid value";

	if (k->def != NULL && !k->parse(k, k->def, field, &why))
		g_error("conf: bad default for [%s] %s: %s", k->group, k->name,
		    why);
	raw = g_key_file_get_value(ld->kf, k->group, k->name, NULL);
	if (raw == NULL)
		return;
	value = g_key_file_get_string(ld->kf, k->group, k->name, &err);
	if (value == NULL) {
		problem(ld, k->group, k->name, "%s", err->message);
		return;
	}
	g_strstrip(value);
	if (!k->parse(k, value, field, &why)) {
		char shown[LOG_VALUE_MAX + 8];

		log_escape(value, strlen(value), 60, shown, sizeof(shown));
		char lo[32], hi[32], limits[80] = "";

		if (why == why_range) {
			format_limit(k, k->min, lo, sizeof(lo));
			format_limit(k, k->max, hi, sizeof(hi));
			g_snprintf(limits, sizeof(limits), " (%s to %s)", lo, hi);
		} else if (k->choices != NULL) {
			g_autofree char *names = g_strjoinv(" | ",
			    (char **)k->choices);

			g_snprintf(limits, sizeof(limits), " (%s)", names);
		}
		problem(ld, k->group, k->name, "\"%s\": %s%s", shown, why,
		    limits);
		if (strstr(value, " #") != NULL)
			g_string_append(ld->problems,
			    " (comments go on lines of their own)");
	}
}


/* The Redis keys that only make sense together. */
static void
check_redis(struct load *ld, const struct conf_store *st)
{
	/* The first TLS key set, to name in a problem. */
	const char *tls_key = st->redis_tls ? "redis_tls" :
	    st->redis_tls_ca[0] != '\0' ? "redis_tls_ca" :
	    st->redis_tls_cert[0] != '\0' ? "redis_tls_cert" :
	    st->redis_tls_key[0] != '\0' ? "redis_tls_key" :
	    st->redis_tls_server_name[0] != '\0' ? "redis_tls_server_name" :
	    NULL;

	if (st->redis_sentinels[0] != '\0' && st->redis_master[0] == '\0')
		problem(ld, "store", "redis_master",
		    "must name the master when redis_sentinels is set");
#ifndef HAVE_REDIS_TLS
	if (tls_key != NULL)
		problem(ld, "store", tls_key, "this slowspam was built without "
		    "TLS for Redis (its hiredis has no hiredis_ssl; on Debian "
		    "12 use a TLS tunnel, see docs/deployment.md)");
	return;
#endif
	if (!st->redis_tls && tls_key != NULL)
		problem(ld, "store", tls_key, "is set, but redis_tls = no");
	if ((st->redis_tls_cert[0] == '\0') != (st->redis_tls_key[0] == '\0'))
		problem(ld, "store", st->redis_tls_cert[0] == '\0' ?
		    "redis_tls_cert" : "redis_tls_key",
		    "redis_tls_cert and redis_tls_key go together");
	if (st->redis_tls && st->redis_sentinels[0] == '\0' &&
	    g_str_has_prefix(st->redis, "unix:"))
		problem(ld, "store", "redis_tls",
		    "TLS is for TCP, and redis is a unix socket");
}
/* Checks that involve more than one key, and computed defaults. */
static void
check_together(struct load *ld)
{
	struct conf *c = ld->conf;

	if (c->tarpitd.hostname == NULL) {
		const char *why;

		if (!parse_hostname(find_key("tarpitd", "hostname"),
		    g_get_host_name(), &c->tarpitd.hostname, &why))
			problem(ld, "tarpitd", "hostname", "this machine's "
			    "name \"%s\" is not usable: set hostname",
			    g_get_host_name());
	}
	if (c->milter.authserv_id[0] == '\0' && c->tarpitd.hostname != NULL)
		set_string(&c->milter.authserv_id, c->tarpitd.hostname);
	if (c->tarpitd.greet_wait >= c->tarpitd.max_hold)
		problem(ld, "tarpitd", "greet_wait",
		    "must be shorter than max_hold");
	if (c->tarpitd.drip_interval > c->tarpitd.max_hold)
		problem(ld, "tarpitd", "drip_interval",
		    "must not be longer than max_hold");
	if (c->tarpitd.max_clients_per_net > c->tarpitd.max_clients)
		problem(ld, "tarpitd", "max_clients_per_net",
		    "must not exceed max_clients");
	if (c->tarpitd.aggregate_ipv4_prefix > c->store.ipv4_prefix)
		problem(ld, "tarpitd", "aggregate_ipv4_prefix",
		    "must not be longer than [store] ipv4_prefix");
	if (c->tarpitd.aggregate_ipv6_prefix > c->store.ipv6_prefix)
		problem(ld, "tarpitd", "aggregate_ipv6_prefix",
		    "must not be longer than [store] ipv6_prefix");
	if ((c->milter.action == CONF_ACTION_DIVERT ||
	    c->milter.action_bot == CONF_ACTION_DIVERT) &&
	    c->milter.divert_to[0] == '\0')
		problem(ld, "milter", "divert_to",
		    "must be set when an action is divert");
#ifndef WITH_REDIS
	if (c->store.backend == STORE_BACKEND_REDIS)
		problem(ld, "store", "backend", "this slowspam was built "
		    "without Redis support (configure --with-redis)");
#endif
	if (c->store.backend == STORE_BACKEND_REDIS)
		check_redis(ld, &c->store);
}

const char *
conf_default_path(void)
{
	return SYSCONFDIR "/slowspam/slowspam.conf";
}

struct conf *
conf_load(const char *path, const char *const *overrides, GError **error)
{
	if (path == NULL)
		path = conf_default_path();
	return conf_load_at(AT_FDCWD, path, path, overrides, error);
}

struct conf *
conf_load_at(int dirfd, const char *name, const char *shown,
    const char *const *overrides, GError **error)
{
	g_autofree char *text = NULL;
	struct stat sb;
	size_t len = 0;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &sb) != 0) {
		g_set_error(error, CONF_ERROR, CONF_ERROR_READ, "%s: %s", shown,
		    g_strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	/* Refuse a huge file before reading it into memory. */
	if (!S_ISREG(sb.st_mode) || sb.st_size > CONF_FILE_MAX) {
		g_set_error(error, CONF_ERROR, CONF_ERROR_READ, "%s: %s", shown,
		    S_ISREG(sb.st_mode) ? "larger than 1024 KiB: not a slowspam "
		    "configuration" : "not a file");
		close(fd);
		return NULL;
	}
	text = g_malloc((size_t)sb.st_size + 1);
	while (len < (size_t)sb.st_size) {
		ssize_t n = read(fd, text + len, (size_t)sb.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	return conf_load_data(shown, text, len, overrides, error);
}

struct conf *
conf_load_data(const char *name, const char *data, size_t len,
    const char *const *overrides, GError **error)
{
	struct load ld = { 0 };
	g_autoptr(GError) err = NULL;
	g_autofree char *text = NULL;
	const char *bad;

	if (len > CONF_FILE_MAX) {
		g_set_error(error, CONF_ERROR, CONF_ERROR_READ,
		    "%s: larger than 1024 KiB: not a slowspam configuration",
		    name);
		return NULL;
	}
	text = g_malloc(len + 1);
	memcpy(text, data, len);
	text[len] = '\0';
	ld.path = name;
	ld.kf = g_key_file_new();
	ld.lines = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	ld.overridden = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
	    NULL);
	ld.problems = g_string_new(NULL);
	ld.conf = g_new0(struct conf, 1);
	ld.conf->path = g_strdup(name);

	if (!g_utf8_validate(text, (gssize)len, &bad)) {
		/* GLib would quote the bad bytes; say where they are instead. */
		unsigned line = 1;

		for (const char *p = text; p < bad; p++)
			line += *p == '\n';
		g_string_append_printf(ld.problems, "%s:%u: %s", name, line,
		    *bad == '\0' ? "not a text file (contains NUL bytes)" :
		    "not valid UTF-8 text");
	} else if (!g_key_file_load_from_data(ld.kf, text, len,
	    G_KEY_FILE_NONE, &err)) {
		g_string_append_printf(ld.problems, "%s: %s", name,
		    err->message);
	} else {
		index_lines(&ld, text);
		apply_overrides(&ld, overrides);
		check_unknown(&ld);
		for (size_t i = 0; i < G_N_ELEMENTS(keys); i++)
			load_key(&ld, &keys[i]);
		check_together(&ld);
	}

	g_key_file_free(ld.kf);
	g_hash_table_destroy(ld.lines);
	g_hash_table_destroy(ld.overridden);
	if (ld.problems->len > 0) {
		g_set_error(error, CONF_ERROR, CONF_ERROR_INVALID, "%s",
		    ld.problems->str);
		g_string_free(ld.problems, TRUE);
		conf_free(ld.conf);
		return NULL;
	}
	g_string_free(ld.problems, TRUE);
	return ld.conf;
}

void
conf_free(struct conf *conf)
{
	if (conf == NULL)
		return;
	for (size_t i = 0; i < G_N_ELEMENTS(keys); i++)
		if (keys[i].is_string)
			g_free(*(char **)((char *)conf + keys[i].offset));
	g_free(conf->tarpitd.listen.v);
	g_free(conf->milter.trusted_networks.v);
	g_free(conf->path);
	g_free(conf);
}

bool
conf_warn_exposed(const struct conf *conf)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autofree char *password = NULL;
	struct stat sb;

	/* The file's own text: a --set does not take it out of the file. */
	static const char *const secrets[] = { "redis_password",
	    "redis_sentinel_password" };

	if (conf->path == NULL || stat(conf->path, &sb) != 0 ||
	    !S_ISREG(sb.st_mode) || (sb.st_mode & S_IROTH) == 0 ||
	    !g_key_file_load_from_file(kf, conf->path, G_KEY_FILE_NONE, NULL))
		return false;
	for (size_t i = 0; i < G_N_ELEMENTS(secrets); i++) {
		g_free(password);
		password = g_key_file_get_string(kf, "store", secrets[i], NULL);
		if (password == NULL || g_strstrip(password)[0] == '\0')
			continue;
		log_msg(LOG_WARNING, "%s: [store] %s is set, and every user "
		    "may read the file (mode %04o): chmod 0640 %s; chgrp "
		    "slowspam %s (the group the daemons run as)", conf->path,
		    secrets[i], (unsigned)(sb.st_mode & 07777), conf->path,
		    conf->path);
		return true;
	}
	return false;
}

void
conf_cli_options(GOptionContext *ctx, struct conf_cli *cli, bool daemon)
{
	GOptionEntry entries[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &cli->path,
		    "Configuration file", "FILE" },
		{ "check-config", 't', 0, G_OPTION_ARG_NONE, &cli->check,
		    "Check the configuration and exit", NULL },
		{ "set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &cli->sets,
		    "Override a setting of the file", "GROUP.KEY=VALUE" },
		{ "version", 'V', 0, G_OPTION_ARG_NONE, &cli->version,
		    "Print the version and exit", NULL },
		{ NULL }
	};
	GOptionEntry foreground[] = {
		{ "foreground", 'f', 0, G_OPTION_ARG_NONE, &cli->foreground,
		    "Stay in the foreground and log to stderr", NULL },
		{ NULL }
	};

	/* GLib copies the entries: local arrays are fine. */
	g_option_context_add_main_entries(ctx, entries, NULL);
	if (daemon)
		g_option_context_add_main_entries(ctx, foreground, NULL);
}

void
conf_cli_clear(struct conf_cli *cli)
{
	g_clear_pointer(&cli->path, g_free);
	g_clear_pointer(&cli->sets, g_strfreev);
}

void
conf_store_options(const struct conf *conf, struct store_options *out)
{
	memset(out, 0, sizeof(*out));
	out->backend = conf->store.backend;
	out->path = conf->store.path;
	out->map_size = conf->store.map_size;
	out->ttl = conf->store.ttl;
	out->redis = conf->store.redis;
	out->redis_password = conf->store.redis_password;
	out->redis_db = conf->store.redis_db;
	out->redis_timeout = conf->store.redis_timeout;
	out->redis_prefix = conf->store.redis_prefix;
	out->redis_connections = conf->store.redis_connections;
	out->redis_sentinels = conf->store.redis_sentinels;
	out->redis_master = conf->store.redis_master;
	out->redis_sentinel_password = conf->store.redis_sentinel_password;
	out->redis_tls = conf->store.redis_tls;
	out->redis_tls_ca = conf->store.redis_tls_ca;
	out->redis_tls_cert = conf->store.redis_tls_cert;
	out->redis_tls_key = conf->store.redis_tls_key;
	out->redis_tls_server_name = conf->store.redis_tls_server_name;
}

const char *
conf_action_name(enum conf_action action)
{
	return (size_t)action < G_N_ELEMENTS(action_names) - 1 ?
	    action_names[action] : "unknown";
}
