/*
 * storeq.h - a write queue in front of the hit store, for event loops.
 *
 * storeq_push() and storeq_push_contact() copy an event (a tar-pit
 * event, a primary-MX contact) into a bounded queue and return at once;
 * a writer thread applies whatever has gathered in one transaction, so
 * the caller never waits on a disk sync, and a slow disk only makes the
 * batches bigger. Once an event is queued the writer lingers a few
 * milliseconds for more (group commit), so events that come one at a
 * time share a sync. When the queue is full, events are dropped and counted.
 * It holds what is queued, packed (a few dozen bytes an event), not its
 * capacity: memory is mapped as it fills and returned as it drains.
 *
 * Create the queue after any fork(): the writer is a thread.
 */
#ifndef SLOWSPAM_STOREQ_H
#define SLOWSPAM_STOREQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct storeq_stats {
	uint64_t	queued;		/* accepted by storeq_push() */
	uint64_t	written;	/* committed to the store */
	uint64_t	dropped;	/* refused: the queue was full */
	uint64_t	failed;		/* lost to a store error */
	uint64_t	batches;	/* transactions committed */
	uint64_t	alive_newest;	/* ms of the newest alive mark
					   committed; 0: none yet */
};

struct storeq;

/* Queue up to capacity events for st (which the queue does not own). */
struct storeq *storeq_new(struct store *st, size_t capacity);
/* Write what is queued, stop the writer, free; NULL is a no-op. */
void	storeq_free(struct storeq *q);
/* Queue one tar-pit event for key; false if the queue was full (counted). */
bool	storeq_push(struct storeq *q, const char *key,
	    const struct tarpit_update *u);
/*
 * Queue a contact of key's network with the primary MX at now (ms), the
 * same as store_primary_contact() without the record before; false if
 * the queue was full (counted). Both kinds share one queue, in order.
 */
bool	storeq_push_contact(struct storeq *q, const char *key, int64_t now);
/* Queue a mark of the primary alive at now (store_alive_mark), likewise. */
bool	storeq_push_alive(struct storeq *q, int64_t now);
/* Wait until everything pushed so far is written or failed. */
void	storeq_flush(struct storeq *q);
void	storeq_get_stats(struct storeq *q, struct storeq_stats *out);
/* Bytes of queue blocks mapped now (those being written too). */
size_t	storeq_mapped(struct storeq *q);

#endif /* SLOWSPAM_STOREQ_H */
