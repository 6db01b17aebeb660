/*
 * alive.h - when the primary MX was accepting mail, minute by minute.
 *
 * The milter marks the minute whenever it handles a connection; a tar-pit
 * contact then counts as "backup first" only if the primary was
 * demonstrably up around it. The record is a ring of one bit per minute,
 * stored in the hit store beside the hit records.
 */
#ifndef SLOWSPAM_ALIVE_H
#define SLOWSPAM_ALIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

/* Minutes remembered: 8 days, more than the longest sensible window. */
#define ALIVE_MINUTES	(8 * 24 * 60)
#define ALIVE_VERSION	1
#define ALIVE_MINUTE_MS	INT64_C(60000)
/*
 * Minutes a mark may lag the newest one a process made before the wall
 * clock counts as gone back (see alive_clock_ok).
 */
#define ALIVE_LATE	5
/* version, zero, newest minute (8 bytes), then the bits. */
#define ALIVE_SIZE	(2 + 8 + ALIVE_MINUTES / 8)

struct alive {
	int64_t	newest;			/* minute since the epoch, 0: none */
	uint8_t	bits[ALIVE_MINUTES / 8];	/* bit m % ALIVE_MINUTES */
};

/* Mark the minute of now (ms); older minutes out of the ring are lost. */
void	alive_mark(struct alive *a, int64_t now);

/*
 * May a process mark now (ms)? *newest is the newest minute it marked
 * (0: none yet), updated here. Not when now's minute is more than
 * ALIVE_LATE behind it: the wall clock went back, those minutes were
 * already lived (perhaps with the primary down), and marking them would
 * make an old tar-pit contact count. A whole ring back, the earlier
 * clock was the wrong one: now is believed again.
 */
bool	alive_clock_ok(int64_t *newest, int64_t now);

/*
 * Keep the marks of the minutes from..to (ms, inclusive) only, forget
 * the others (none if to < from): what a backend that reads only those
 * minutes gives, whichever backend read it.
 */
void	alive_keep(struct alive *a, int64_t from, int64_t to);

/* Was any minute from..to (ms, inclusive) marked? */
bool	alive_any(const struct alive *a, int64_t from, int64_t to);

size_t	alive_encode(const struct alive *a, uint8_t *buf);
/* Decode buf[0..len); false (and a zeroed record) if it is not one. */
bool	alive_decode(const uint8_t *buf, size_t len, struct alive *a);

#endif /* SLOWSPAM_ALIVE_H */
