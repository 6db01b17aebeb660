/*
 * storeq.c - the hit store's write queue and its writer thread.
 *
 *	storeq_new	start the writer
 *	storeq_push	queue one tar-pit event (never blocks on I/O)
 *	storeq_push_contact queue one primary-MX contact (likewise)
 *	storeq_flush	wait until the queue is written
 *	storeq_free	write what is left, stop, free
 *	storeq_get_stats counters
 *	storeq_mapped	bytes the queue has mapped now
 *
 * The queue costs what it carries, not its capacity: events are packed
 * as variable-size records (a small header, the update without its
 * unused HELO room, the key, the HELO bytes; about 48 bytes for a
 * contact against 344 for a struct store_item) into a list of blocks
 * mapped as the queue grows and unmapped once the writer has applied
 * them, one spare block kept. The writer takes the whole list at once,
 * under the one mutex, and unpacks it into store_items a slice at a
 * time (APPLY_MAX per transaction), in a scratch array mapped for the
 * batch and unmapped after it: an idle queue holds one block, a flood
 * at most its capacity of records and one slice. Pages come from mmap,
 * not malloc, so that what is released really goes back to the system
 * (malloc keeps freed memory in its arenas, and a writer thread's frees
 * of the loop's blocks would keep them there).
 *
 * Every kind of item is packed alike (kind, key, update), so a new kind
 * needs nothing here beyond its push function.
 *
 * Diagnostics: a failed slice is logged (at most once a minute) and its
 * events counted as failed; the writer goes on with the next one.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "log.h"
#include "storeq.h"

/* Bytes mapped per block of the queue; a record never spans two. */
#define BLOCK_SIZE	(64 * 1024)
/*
 * Events per transaction (one disk sync each): the writer's scratch
 * array, mapped for a batch (1.4 MB at most, for a batch this big) and
 * unmapped after it.
 */
#define APPLY_MAX	4096
/*
 * Group commit: once an event is queued, the writer waits this long
 * (ms) for more before it takes a batch, unless the queue is half full,
 * flushed or stopping. Events that come one at a time (a primary
 * contact per connection) then share a sync instead of costing one
 * each; a crash loses at most this much more.
 */
#define LINGER_MS	5

/*
 * A record packs the update without its HELO array: the fields before
 * it and those after it, copied as bytes, so that a field added to
 * struct tarpit_update is carried without a change here.
 */
#define UPDATE_HEAD	offsetof(struct tarpit_update, helo)
#define UPDATE_TAIL_AT	(UPDATE_HEAD + RECORD_HELO_MAX)
#define UPDATE_TAIL	(sizeof(struct tarpit_update) - UPDATE_TAIL_AT)

struct rec_head {
	uint16_t	size;		/* of the whole record, a multiple of 8 */
	uint8_t		key_len;
	uint8_t		helo_len;	/* HELO bytes stored (update.helo_len) */
	uint32_t	kind;		/* enum store_item_kind */
};

#define REC_FIXED	(sizeof(struct rec_head) + UPDATE_HEAD + UPDATE_TAIL)
#define REC_MAX		(REC_FIXED + STORE_KEY_MAX + RECORD_HELO_MAX + 7)

struct block {
	struct block	*next;
	size_t		used;		/* bytes of data[] holding records */
	unsigned char	data[];
};

#define BLOCK_DATA	(BLOCK_SIZE - offsetof(struct block, data))
G_STATIC_ASSERT(REC_MAX <= BLOCK_DATA);
G_STATIC_ASSERT(REC_MAX <= UINT16_MAX);

struct storeq {
	struct store	*store;
	pthread_t	thread;
	pthread_mutex_t	lock;
	pthread_cond_t	work;		/* items queued, or stopping */
	pthread_cond_t	idle;		/* a batch finished */
	pthread_cond_t	hurry;		/* half full, flushed or stopping */
	struct block	*head, *tail;	/* queued records, oldest first */
	struct block	*spare;		/* one unused block, kept */
	size_t		capacity, count;
	size_t		blocks;		/* mapped, the spare and a batch's too */
	bool		busy;		/* the writer holds a batch */
	bool		stopping;
	unsigned	flushing;	/* storeq_flush callers waiting */
	int64_t		last_complaint;
	struct storeq_stats stats;
};

/* Anonymous pages, or NULL. */
static void *
pages_get(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void
pages_put(void *p, size_t len)
{
	if (p != NULL && munmap(p, len) != 0)
		g_error("storeq: munmap: %s", g_strerror(errno));
}

/*
 * Log a store failure, but not more than once a minute. A batch of
 * tar-pit events only says so, as tarpitd always has.
 */
static void
complain(struct storeq *q, const struct store_item *items, size_t n,
    const GError *err)
{
	int64_t now = g_get_monotonic_time();
	const char *what = "tar-pit events";

	if (q->last_complaint != 0 && now - q->last_complaint < 60 * G_USEC_PER_SEC)
		return;
	q->last_complaint = now;
	for (size_t i = 0; i < n; i++)
		if (items[i].kind != STORE_ITEM_TARPIT)
			what = "store events (the primary's among them)";
	log_msg(LOG_ERR, "%s: lost %zu %s: %s", store_describe(q->store), n,
	    what, err->message);
}

/* Pack an item into b at its end; the caller made sure it fits. */
static void
rec_pack(struct block *b, enum store_item_kind kind, const char *key,
    size_t key_len, const struct tarpit_update *u)
{
	unsigned char *p = b->data + b->used;
	size_t helo_len = MIN(u->helo_len, RECORD_HELO_MAX);
	struct rec_head h = { .key_len = (uint8_t)key_len,
	    .helo_len = (uint8_t)helo_len, .kind = kind };

	h.size = (uint16_t)((REC_FIXED + key_len + helo_len + 7) & ~(size_t)7);
	memcpy(p, &h, sizeof(h));
	p += sizeof(h);
	memcpy(p, u, UPDATE_HEAD);
	p += UPDATE_HEAD;
	memcpy(p, (const unsigned char *)u + UPDATE_TAIL_AT, UPDATE_TAIL);
	p += UPDATE_TAIL;
	memcpy(p, key, key_len);
	memcpy(p + key_len, u->helo, helo_len);
	b->used += h.size;
}

/* Unpack the record at p into it; returns its size. */
static size_t
rec_unpack(const unsigned char *p, struct store_item *it)
{
	struct rec_head h;

	memcpy(&h, p, sizeof(h));
	p += sizeof(h);
	memset(it, 0, sizeof(*it));
	it->kind = (enum store_item_kind)h.kind;
	memcpy(&it->update, p, UPDATE_HEAD);
	p += UPDATE_HEAD;
	memcpy((unsigned char *)&it->update + UPDATE_TAIL_AT, p, UPDATE_TAIL);
	p += UPDATE_TAIL;
	memcpy(it->key, p, h.key_len);
	memcpy(it->update.helo, p + h.key_len, h.helo_len);
	return h.size;
}

/*
 * Apply items[0..n): one transaction; counted. The newest alive mark
 * committed is kept: a primary that handles mail but never gets its mark
 * into the store makes no tar-pit contact count, and only this says so.
 */
static void
apply(struct storeq *q, const struct store_item *items, size_t n)
{
	g_autoptr(GError) err = NULL;
	bool ok = store_apply(q->store, items, n, &err);

	pthread_mutex_lock(&q->lock);
	if (ok) {
		q->stats.written += n;
		q->stats.batches++;
		for (size_t i = 0; i < n; i++)
			if (items[i].kind == STORE_ITEM_ALIVE)
				q->stats.alive_newest = MAX(q->stats.alive_newest,
				    (uint64_t)MAX(items[i].update.now, 0));
	} else {
		q->stats.failed += n;
		complain(q, items, n, err);
	}
	pthread_mutex_unlock(&q->lock);
}

/*
 * Write the n records of the list from b, in order, APPLY_MAX to a
 * transaction, and unmap its blocks; one is kept as the spare if there
 * is none. Called without the lock.
 */
static void
write_blocks(struct storeq *q, struct block *b, size_t n)
{
	size_t len = MIN(n, APPLY_MAX) * sizeof(struct store_item);
	struct store_item *items = pages_get(len);
	size_t k = 0;

	while (b != NULL) {
		struct block *next = b->next;

		for (size_t off = 0; off < b->used; ) {
			if (items == NULL) {
				/* No room to unpack: counted as lost. */
				pthread_mutex_lock(&q->lock);
				q->stats.failed++;
				pthread_mutex_unlock(&q->lock);
				off += rec_unpack(b->data + off,
				    &(struct store_item){ 0 });
				continue;
			}
			off += rec_unpack(b->data + off, &items[k++]);
			if (k == APPLY_MAX) {
				apply(q, items, k);
				k = 0;
			}
		}
		pthread_mutex_lock(&q->lock);
		if (q->spare == NULL) {
			b->used = 0;
			b->next = NULL;
			q->spare = b;
			b = NULL;
		} else
			q->blocks--;
		pthread_mutex_unlock(&q->lock);
		pages_put(b, BLOCK_SIZE);
		b = next;
	}
	if (k > 0)
		apply(q, items, k);
	pages_put(items, len);
}

/* Has the batch reason to go now, without lingering? Under the lock. */
static bool
in_a_hurry(const struct storeq *q)
{
	return q->stopping || q->flushing > 0 || q->count >= q->capacity / 2;
}

/* Wait up to LINGER_MS for more events (see there). Under the lock. */
static void
linger(struct storeq *q)
{
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_nsec += LINGER_MS * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	while (!in_a_hurry(q) &&
	    pthread_cond_timedwait(&q->hurry, &q->lock, &until) == 0)
		;
}

/* The writer thread: take all that is queued, apply it, repeat. */
static void *
writer(void *arg)
{
	struct storeq *q = arg;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		struct block *b;
		size_t n;

		while (q->count == 0 && !q->stopping)
			pthread_cond_wait(&q->work, &q->lock);
		if (q->count == 0)
			break;
		linger(q);
		b = q->head;
		n = q->count;
		q->head = q->tail = NULL;
		q->count = 0;
		q->busy = true;
		pthread_mutex_unlock(&q->lock);

		write_blocks(q, b, n);

		pthread_mutex_lock(&q->lock);
		q->busy = false;
		pthread_cond_broadcast(&q->idle);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

struct storeq *
storeq_new(struct store *st, size_t capacity)
{
	struct storeq *q = g_new0(struct storeq, 1);
	pthread_condattr_t attr;

	g_assert(capacity > 0);
	q->store = st;
	q->capacity = capacity;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->work, NULL);
	pthread_cond_init(&q->idle, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&q->hurry, &attr);
	pthread_condattr_destroy(&attr);
	if (pthread_create(&q->thread, NULL, writer, q) != 0)
		g_error("storeq: cannot start the store writer thread");
	return q;
}

/* A block with room for one more record, at the tail; NULL if none. */
static struct block *
room(struct storeq *q)
{
	struct block *b = q->tail;

	if (b != NULL && BLOCK_DATA - b->used >= REC_MAX)
		return b;
	if ((b = q->spare) != NULL)
		q->spare = NULL;
	else if ((b = pages_get(BLOCK_SIZE)) != NULL)
		q->blocks++;
	else
		return NULL;
	b->next = NULL;
	b->used = 0;
	if (q->tail != NULL)
		q->tail->next = b;
	else
		q->head = b;
	q->tail = b;
	return b;
}

/* Queue an item of kind for key; false if full or key too long (counted). */
static bool
push(struct storeq *q, enum store_item_kind kind, const char *key,
    const struct tarpit_update *u)
{
	struct block *b;
	size_t len = strlen(key);

	pthread_mutex_lock(&q->lock);
	if (q->count == q->capacity || len > STORE_KEY_MAX ||
	    (b = room(q)) == NULL) {
		q->stats.dropped++;
		pthread_mutex_unlock(&q->lock);
		return false;
	}
	rec_pack(b, kind, key, len, u);
	q->count++;
	q->stats.queued++;
	if (q->count == 1)
		pthread_cond_signal(&q->work);
	else if (q->count == q->capacity / 2)
		pthread_cond_signal(&q->hurry);
	pthread_mutex_unlock(&q->lock);
	return true;
}

bool
storeq_push(struct storeq *q, const char *key, const struct tarpit_update *u)
{
	return push(q, STORE_ITEM_TARPIT, key, u);
}

bool
storeq_push_contact(struct storeq *q, const char *key, int64_t now)
{
	struct tarpit_update u = { .now = now };

	return push(q, STORE_ITEM_CONTACT, key, &u);
}

bool
storeq_push_alive(struct storeq *q, int64_t now)
{
	struct tarpit_update u = { .now = now };

	return push(q, STORE_ITEM_ALIVE, "", &u);
}

void
storeq_flush(struct storeq *q)
{
	pthread_mutex_lock(&q->lock);
	q->flushing++;
	pthread_cond_signal(&q->hurry);
	while (q->count > 0 || q->busy)
		pthread_cond_wait(&q->idle, &q->lock);
	q->flushing--;
	pthread_mutex_unlock(&q->lock);
}

void
storeq_get_stats(struct storeq *q, struct storeq_stats *out)
{
	pthread_mutex_lock(&q->lock);
	*out = q->stats;
	pthread_mutex_unlock(&q->lock);
}

size_t
storeq_mapped(struct storeq *q)
{
	size_t n;

	pthread_mutex_lock(&q->lock);
	n = q->blocks * BLOCK_SIZE;
	pthread_mutex_unlock(&q->lock);
	return n;
}

void
storeq_free(struct storeq *q)
{
	if (q == NULL)
		return;
	pthread_mutex_lock(&q->lock);
	q->stopping = true;
	pthread_cond_signal(&q->work);
	pthread_cond_signal(&q->hurry);
	pthread_mutex_unlock(&q->lock);
	pthread_join(q->thread, NULL);
	pthread_cond_destroy(&q->hurry);
	pthread_cond_destroy(&q->idle);
	pthread_cond_destroy(&q->work);
	pthread_mutex_destroy(&q->lock);
	pages_put(q->spare, BLOCK_SIZE);
	g_free(q);
}
