/*
 * sessions.c - the bounded table of SMTP sessions (sessions.h).
 *
 * A hash table finds an entry by key; the idle entries are also on a
 * list, most recently used first, so the one to evict or expire is
 * always its tail. An entry in use is off the list: it can be neither.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "sessions.h"

struct entry {
	struct psession	p;		/* first: the caller's pointer */
	char		*key;
	bool		busy;
	GQueue		parked;		/* tags waiting for it, in order */
	void		*heir;		/* the parked tag it was handed to */
	int64_t		used;		/* monotonic ms, at its release */
	GList		link;		/* on idle while not busy */
};

struct sessions {
	GMutex		lock;
	GHashTable	*byk;		/* key -> entry */
	GQueue		idle;		/* most recently used first */
	unsigned	max;
	int64_t		ttl;
	uint64_t	created, evicted, expired;
};

void
psession_message_clear(struct psession *p)
{
	g_clear_pointer(&p->msg_id, g_free);
	g_clear_pointer(&p->header, g_free);
	g_clear_pointer(&p->ar, g_free);
	g_clear_pointer(&p->last_req, g_free);
	g_clear_pointer(&p->last_text, g_free);
	memset(&p->plan, 0, sizeof(p->plan));
	p->have_msg = false;
	p->adopt = false;
}

static void
entry_free(gpointer data)
{
	struct entry *e = data;

	psession_message_clear(&e->p);
	verdict_session_clear(&e->p.vs);
	g_queue_clear(&e->parked);
	g_free(e->key);
	g_free(e);
}

struct sessions *
sessions_new(unsigned max, int64_t ttl_ms)
{
	struct sessions *t = g_new0(struct sessions, 1);

	g_mutex_init(&t->lock);
	/* The entry owns its key: the table frees the entry only. */
	t->byk = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
	    entry_free);
	g_queue_init(&t->idle);
	t->max = max;
	t->ttl = ttl_ms;
	return t;
}

void
sessions_free(struct sessions *t)
{
	if (t == NULL)
		return;
	g_hash_table_destroy(t->byk);
	g_mutex_clear(&t->lock);
	g_free(t);
}

/* Drop the idle tail entry. Under the lock. */
static void
drop_tail(struct sessions *t)
{
	struct entry *e = g_queue_peek_tail_link(&t->idle)->data;

	g_queue_unlink(&t->idle, &e->link);
	g_hash_table_remove(t->byk, e->key);
}

static void
expire_locked(struct sessions *t, int64_t now)
{
	GList *l;

	while ((l = g_queue_peek_tail_link(&t->idle)) != NULL &&
	    now - ((struct entry *)l->data)->used >= t->ttl) {
		drop_tail(t);
		t->expired++;
	}
}

struct psession *
sessions_acquire(struct sessions *t, const char *key,
    struct verdict_setup *setup, int64_t now, void *tag)
{
	struct entry *e;

	g_mutex_lock(&t->lock);
	expire_locked(t, now);
	e = g_hash_table_lookup(t->byk, key);
	if (e != NULL && e->busy && e->heir == tag) {
		/* Handed over at its release: busy and off the list still. */
		e->heir = NULL;
		g_mutex_unlock(&t->lock);
		return &e->p;
	}
	if (e != NULL && e->busy) {
		/* Its DNS may take long: no worker waits for it. */
		g_queue_push_tail(&e->parked, tag);
		g_mutex_unlock(&t->lock);
		return NULL;
	}
	if (e != NULL) {
		g_queue_unlink(&t->idle, &e->link);
	} else {
		if (g_hash_table_size(t->byk) >= t->max &&
		    g_queue_get_length(&t->idle) > 0) {
			drop_tail(t);
			t->evicted++;
		}
		e = g_new0(struct entry, 1);
		e->key = g_strdup(key);
		e->link.data = e;
		verdict_session_init(&e->p.vs, setup);
		g_hash_table_insert(t->byk, e->key, e);
		t->created++;
	}
	e->busy = true;
	g_mutex_unlock(&t->lock);
	return &e->p;
}

void *
sessions_release(struct sessions *t, struct psession *p, int64_t now)
{
	struct entry *e = (struct entry *)p;
	void *next;

	g_mutex_lock(&t->lock);
	e->used = now;
	if ((next = g_queue_pop_head(&e->parked)) != NULL) {
		e->heir = next;
	} else {
		e->busy = false;
		g_queue_push_head_link(&t->idle, &e->link);
	}
	g_mutex_unlock(&t->lock);
	return next;
}

void
sessions_expire(struct sessions *t, int64_t now)
{
	g_mutex_lock(&t->lock);
	expire_locked(t, now);
	g_mutex_unlock(&t->lock);
}

void
sessions_get_stats(struct sessions *t, struct sessions_stats *out)
{
	g_mutex_lock(&t->lock);
	out->count = g_hash_table_size(t->byk);
	out->created = t->created;
	out->evicted = t->evicted;
	out->expired = t->expired;
	g_mutex_unlock(&t->lock);
}
