/*
 * budget.c - what an aggregate network may make the tar pit write.
 *
 *	budget_new	empty tables
 *	budget_take	one from an aggregate network's budget, if any is left
 *	budget_known	did this worker record this store network lately?
 *	budget_learn	it did, now
 *	budget_sweep	forget what no longer matters
 *	budget_size	aggregate networks remembered now
 *	budget_free	release the tables
 *
 * An attacker with many addresses (an IPv6 /48 holds 65,536 /64 store
 * networks) must not decide how many store records or log lines there
 * are. Each aggregate network (e.g. a /24 or a /48) gets a budget of
 * per_minute: a burst of that many, refilled evenly over the minute (the
 * generic cell rate algorithm: one "theoretical arrival time" per
 * network, nothing else). A network whose budget is whole again carries
 * no information and is forgotten at the next sweep. What draws on the
 * budget is the caller's choice (loop.c: a session from a store network
 * not recorded lately, and the line of a short session).
 *
 * The store networks this worker recorded in the last KNOWN_FOR are
 * remembered, so a session from one of them, which creates no new
 * record, need not be charged.
 *
 * Both tables are bounded: with BUDGET_NETS_MAX aggregate networks in
 * it, any further one draws on one shared overflow budget; with
 * BUDGET_NETS_MAX store networks known, no more are learnt (their
 * sessions are charged). A spray of networks costs memory up to the
 * bounds and no more.
 *
 * Diagnostics: none; the caller counts and logs what was refused.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "tarpit.h"

#define MINUTE_US	(60 * G_USEC_PER_SEC)
/* How long a recorded store network is remembered, ms. */
#define KNOWN_FOR	(60 * 60 * 1000)

struct budget_entry {
	struct addr	net;		/* the hash key */
	int64_t		tat;		/* us; budget whole when <= now */
};

struct budget {
	GHashTable	*nets;		/* struct budget_entry, key and value */
	GHashTable	*known;		/* struct budget_entry, tat: learnt at */
	struct budget_entry overflow;	/* shared once the table is full */
};

struct budget *
budget_new(void)
{
	struct budget *b = g_new0(struct budget, 1);

	b->nets = g_hash_table_new_full(addr_hash, addr_hash_equal, g_free,
	    NULL);
	b->known = g_hash_table_new_full(addr_hash, addr_hash_equal, g_free,
	    NULL);
	return b;
}

/* Take one session from e's budget at now (us), if there is one left. */
static bool
take(struct budget_entry *e, unsigned per_minute, int64_t now)
{
	int64_t interval = MINUTE_US / per_minute;
	int64_t tat = MAX(e->tat, now);

	/* A whole budget lets per_minute through at once, no more. */
	if (tat - now > (int64_t)(per_minute - 1) * interval)
		return false;
	e->tat = tat + interval;
	return true;
}

bool
budget_take(struct budget *b, const struct addr *net, unsigned per_minute,
    int64_t now_ms, bool *overflow)
{
	int64_t now = now_ms * 1000;
	struct budget_entry *e;

	*overflow = false;
	if (per_minute == 0)
		return true;
	if ((e = g_hash_table_lookup(b->nets, net)) == NULL) {
		if (g_hash_table_size(b->nets) >= BUDGET_NETS_MAX) {
			*overflow = true;
			return take(&b->overflow, per_minute, now);
		}
		e = g_new(struct budget_entry, 1);
		e->net = *net;
		e->tat = 0;
		g_hash_table_add(b->nets, e);
	}
	return take(e, per_minute, now);
}

bool
budget_known(const struct budget *b, const struct addr *net)
{
	return g_hash_table_contains(b->known, net);
}

void
budget_learn(struct budget *b, const struct addr *net, int64_t now_ms)
{
	struct budget_entry *e = g_hash_table_lookup(b->known, net);

	if (e == NULL) {
		if (g_hash_table_size(b->known) >= BUDGET_NETS_MAX)
			return;
		e = g_new(struct budget_entry, 1);
		e->net = *net;
		g_hash_table_add(b->known, e);
	}
	e->tat = now_ms;
}

static gboolean
is_stale(gpointer key, gpointer value, gpointer data)
{
	const struct budget_entry *e = key;
	const int64_t *now = data;

	(void)value;
	return *now - e->tat >= KNOWN_FOR;
}

static gboolean
is_whole(gpointer key, gpointer value, gpointer data)
{
	const struct budget_entry *e = key;
	const int64_t *now = data;

	(void)value;
	return e->tat <= *now;
}

void
budget_sweep(struct budget *b, int64_t now_ms)
{
	int64_t now = now_ms * 1000;

	g_hash_table_foreach_remove(b->nets, is_whole, &now);
	g_hash_table_foreach_remove(b->known, is_stale, &now_ms);
}

unsigned
budget_size(const struct budget *b)
{
	return g_hash_table_size(b->nets);
}

void
budget_free(struct budget *b)
{
	if (b == NULL)
		return;
	g_hash_table_destroy(b->nets);
	g_hash_table_destroy(b->known);
	g_free(b);
}
