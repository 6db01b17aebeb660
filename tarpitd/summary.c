/*
 * summary.c - the sessions that are counted, not recorded one by one.
 *
 *	summary_new	empty counts
 *	summary_add	one more unrecorded session, for a reason, from a network
 *	summary_emit	one log line per reason that counted any, then zero
 *	summary_free	release
 *	unrecorded_name	"limit", "early", "budget"
 *
 * A connection refused over a limit, one that closes before the
 * greeting, and one over its network's budget (budget.c) leave no line
 * of their own: whoever makes them decides how many there are. They are
 * counted here, with the aggregate networks they came from, and once a
 * minute each reason gets one line: how many, from how many networks,
 * and the SUMMARY_TOP networks with the most. The networks of a minute
 * are bounded by SUMMARY_NETS_MAX; those past it are only counted.
 *
 * Diagnostics: the "unrecorded" lines themselves.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "log.h"
#include "tarpit.h"

#define SUMMARY_NETS_MAX	4096
#define SUMMARY_TOP		5

static const char *const names[UNRECORDED_COUNT] = {
	[UNRECORDED_LIMIT] = "limit",
	[UNRECORDED_EARLY] = "early",
	[UNRECORDED_BUDGET] = "budget",
};

struct net_count {
	struct addr_cidr net;		/* net.net is the hash key */
	uint64_t	count;
};

struct reason {
	uint64_t	count;
	uint64_t	untracked;	/* from networks past the bound */
	GHashTable	*nets;		/* struct net_count, key and value */
};

struct summary {
	struct reason	r[UNRECORDED_COUNT];
};

const char *
unrecorded_name(enum unrecorded why)
{
	return (unsigned)why < UNRECORDED_COUNT ? names[why] : "unknown";
}

struct summary *
summary_new(void)
{
	struct summary *s = g_new0(struct summary, 1);

	for (int i = 0; i < UNRECORDED_COUNT; i++)
		s->r[i].nets = g_hash_table_new_full(addr_hash,
		    addr_hash_equal, g_free, NULL);
	return s;
}

void
summary_add(struct summary *s, enum unrecorded why,
    const struct addr_cidr *net)
{
	struct reason *r = &s->r[why];
	struct net_count *n = g_hash_table_lookup(r->nets, &net->net);

	r->count++;
	if (n == NULL) {
		if (g_hash_table_size(r->nets) >= SUMMARY_NETS_MAX) {
			r->untracked++;
			return;
		}
		n = g_new0(struct net_count, 1);
		n->net = *net;
		g_hash_table_add(r->nets, n);
	}
	n->count++;
}

/* Keep top[0..SUMMARY_TOP) the largest seen, largest first. */
static void
consider(const struct net_count **top, const struct net_count *n)
{
	int i = SUMMARY_TOP;

	while (i > 0 && (top[i - 1] == NULL || top[i - 1]->count < n->count))
		i--;
	if (i == SUMMARY_TOP)
		return;
	memmove(&top[i + 1], &top[i], (SUMMARY_TOP - 1 - (size_t)i) *
	    sizeof(*top));
	top[i] = n;
}

void
summary_emit(struct summary *s, int64_t period_ms)
{
	for (int i = 0; i < UNRECORDED_COUNT; i++) {
		struct reason *r = &s->r[i];
		const struct net_count *top[SUMMARY_TOP] = { NULL };
		GHashTableIter it;
		gpointer key;
		GString *list;
		struct log_event e;

		if (r->count == 0)
			continue;
		g_hash_table_iter_init(&it, r->nets);
		while (g_hash_table_iter_next(&it, &key, NULL))
			consider(top, key);
		list = g_string_new(NULL);
		for (int j = 0; j < SUMMARY_TOP && top[j] != NULL; j++) {
			char text[ADDR_NETKEY_LEN];

			g_string_append_printf(list, "%s%s:%" G_GUINT64_FORMAT,
			    j > 0 ? "," : "", addr_cidr_format(&top[j]->net,
			    text), top[j]->count);
		}
		log_event_begin(&e, "unrecorded");
		log_event_str(&e, "reason", names[i]);
		log_event_int(&e, "count", (long long)r->count);
		log_event_fmt(&e, "period", "%llds",
		    (long long)(period_ms / 1000));
		log_event_int(&e, "networks", g_hash_table_size(r->nets));
		if (r->untracked > 0)
			log_event_int(&e, "untracked", (long long)r->untracked);
		log_event_str(&e, "top", list->str);
		log_event_emit(&e, LOG_NOTICE);
		g_string_free(list, TRUE);
		r->count = r->untracked = 0;
		g_hash_table_remove_all(r->nets);
	}
}

void
summary_free(struct summary *s)
{
	if (s == NULL)
		return;
	for (int i = 0; i < UNRECORDED_COUNT; i++)
		g_hash_table_destroy(s->r[i].nets);
	g_free(s);
}
