/*
 * storeq.c - the hit store's write queue and its writer thread.
 *
 *	storeq_new	start the writer
 *	storeq_push	queue one tar-pit event (never blocks on I/O)
 *	storeq_push_contact queue one primary-MX contact (likewise)
 *	storeq_flush	wait until the queue is written
 *	storeq_free	write what is left, stop, free
 *	storeq_get_stats counters
 *
 * The queue is a ring of fixed-size items guarded by one mutex. The
 * writer takes everything queued at once, so under load each transaction
 * carries many events and costs one sync.
 *
 * Diagnostics: a failed batch is logged (at most once a minute) and its
 * events counted as failed; the writer goes on with the next one.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <pthread.h>
#include <string.h>

#include "log.h"
#include "storeq.h"

struct storeq {
	struct store	*store;
	pthread_t	thread;
	pthread_mutex_t	lock;
	pthread_cond_t	work;		/* items queued, or stopping */
	pthread_cond_t	idle;		/* a batch finished */
	struct store_item *ring;
	struct store_item *batch;	/* the writer's private copy */
	size_t		capacity, head, count;
	bool		busy;		/* the writer holds a batch */
	bool		stopping;
	int64_t		last_complaint;
	struct storeq_stats stats;
};

/*
 * Log a store failure, but not more than once a minute. A batch of
 * tar-pit events only says so, as tarpitd always has.
 */
static void
complain(struct storeq *q, size_t n, const GError *err)
{
	int64_t now = g_get_monotonic_time();
	const char *what = "tar-pit events";

	if (q->last_complaint != 0 && now - q->last_complaint < 60 * G_USEC_PER_SEC)
		return;
	q->last_complaint = now;
	for (size_t i = 0; i < n; i++)
		if (q->batch[i].kind == STORE_ITEM_CONTACT)
			what = "store events (primary contacts among them)";
	log_msg(LOG_ERR, "%s: lost %zu %s: %s", store_describe(q->store), n,
	    what, err->message);
}

/* The writer thread: take all that is queued, apply it, repeat. */
static void *
writer(void *arg)
{
	struct storeq *q = arg;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		size_t n, first;
		bool ok;
		g_autoptr(GError) err = NULL;

		while (q->count == 0 && !q->stopping)
			pthread_cond_wait(&q->work, &q->lock);
		if (q->count == 0)
			break;
		n = q->count;
		first = q->capacity - q->head;
		if (first > n)
			first = n;
		memcpy(q->batch, q->ring + q->head, first * sizeof(*q->batch));
		memcpy(q->batch + first, q->ring, (n - first) * sizeof(*q->batch));
		q->head = (q->head + n) % q->capacity;
		q->count = 0;
		q->busy = true;
		pthread_mutex_unlock(&q->lock);

		ok = store_apply(q->store, q->batch, n, &err);

		pthread_mutex_lock(&q->lock);
		q->busy = false;
		if (ok) {
			q->stats.written += n;
			q->stats.batches++;
		} else {
			q->stats.failed += n;
			complain(q, n, err);
		}
		pthread_cond_broadcast(&q->idle);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

struct storeq *
storeq_new(struct store *st, size_t capacity)
{
	struct storeq *q = g_new0(struct storeq, 1);

	g_assert(capacity > 0);
	q->store = st;
	q->capacity = capacity;
	q->ring = g_new(struct store_item, capacity);
	q->batch = g_new(struct store_item, capacity);
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->work, NULL);
	pthread_cond_init(&q->idle, NULL);
	if (pthread_create(&q->thread, NULL, writer, q) != 0)
		g_error("storeq: cannot start the store writer thread");
	return q;
}

/* Queue a copy of it under key; false if full or key too long (counted). */
static bool
push(struct storeq *q, const char *key, const struct store_item *it)
{
	struct store_item *item;
	size_t len = strlen(key);

	pthread_mutex_lock(&q->lock);
	if (q->count == q->capacity || len > STORE_KEY_MAX) {
		q->stats.dropped++;
		pthread_mutex_unlock(&q->lock);
		return false;
	}
	item = &q->ring[(q->head + q->count) % q->capacity];
	item->kind = it->kind;
	item->update = it->update;
	memcpy(item->key, key, len + 1);
	q->count++;
	q->stats.queued++;
	pthread_cond_signal(&q->work);
	pthread_mutex_unlock(&q->lock);
	return true;
}

bool
storeq_push(struct storeq *q, const char *key, const struct tarpit_update *u)
{
	struct store_item it = { .kind = STORE_ITEM_TARPIT };

	it.update = *u;
	return push(q, key, &it);
}

bool
storeq_push_contact(struct storeq *q, const char *key, int64_t now)
{
	struct store_item it = { .kind = STORE_ITEM_CONTACT };

	it.update.now = now;
	return push(q, key, &it);
}

bool
storeq_push_alive(struct storeq *q, int64_t now)
{
	struct store_item it = { .kind = STORE_ITEM_ALIVE };

	it.update.now = now;
	return push(q, "", &it);
}

void
storeq_flush(struct storeq *q)
{
	pthread_mutex_lock(&q->lock);
	while (q->count > 0 || q->busy)
		pthread_cond_wait(&q->idle, &q->lock);
	pthread_mutex_unlock(&q->lock);
}

void
storeq_get_stats(struct storeq *q, struct storeq_stats *out)
{
	pthread_mutex_lock(&q->lock);
	*out = q->stats;
	pthread_mutex_unlock(&q->lock);
}

void
storeq_free(struct storeq *q)
{
	if (q == NULL)
		return;
	pthread_mutex_lock(&q->lock);
	q->stopping = true;
	pthread_cond_signal(&q->work);
	pthread_mutex_unlock(&q->lock);
	pthread_join(q->thread, NULL);
	pthread_cond_destroy(&q->idle);
	pthread_cond_destroy(&q->work);
	pthread_mutex_destroy(&q->lock);
	g_free(q->batch);
	g_free(q->ring);
	g_free(q);
}
