/*
 * alive.c - a ring of one bit per minute: when the primary was up.
 *
 *	alive_mark	set the bit of a minute
 *	alive_clock_ok	should a process mark now, or did the clock go back?
 *	alive_keep	forget all but a span of time
 *	alive_any	any bit set in a span of time?
 *	alive_encode	to bytes (little-endian, versioned)
 *	alive_decode	from bytes, checked
 *
 * Moving the newest minute forward clears the minutes skipped, so a
 * stale bit from a lap ago never reads as "up".
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "alive.h"


static void
set_bit(struct alive *a, int64_t m, bool on)
{
	size_t i = (size_t)(m % ALIVE_MINUTES);

	if (on)
		a->bits[i / 8] |= (uint8_t)(1u << (i % 8));
	else
		a->bits[i / 8] &= (uint8_t)~(1u << (i % 8));
}

static bool
get_bit(const struct alive *a, int64_t m)
{
	size_t i = (size_t)(m % ALIVE_MINUTES);

	return (a->bits[i / 8] >> (i % 8)) & 1;
}

void
alive_mark(struct alive *a, int64_t now)
{
	int64_t m = now / ALIVE_MINUTE_MS;

	if (m <= 0)
		return;
	if (a->newest == 0 || m - a->newest >= ALIVE_MINUTES) {
		memset(a->bits, 0, sizeof(a->bits));
	} else if (m > a->newest) {
		for (int64_t k = a->newest + 1; k < m; k++)
			set_bit(a, k, false);
	} else if (a->newest - m >= ALIVE_MINUTES) {
		return;		/* older than the ring holds */
	}
	if (m > a->newest)
		a->newest = m;
	set_bit(a, m, true);
}

bool
alive_clock_ok(int64_t *newest, int64_t now)
{
	int64_t m = now / ALIVE_MINUTE_MS;

	if (*newest != 0 && *newest - m > ALIVE_LATE &&
	    *newest - m < ALIVE_MINUTES)
		return false;
	if (m > *newest || *newest - m >= ALIVE_MINUTES)
		*newest = m;
	return true;
}

/*
 * The minutes of from..to (ms) that the ring holds, in *first..*last
 * (empty when *first > *last); false if nothing was ever marked.
 */
static bool
ring_minutes(const struct alive *a, int64_t from, int64_t to, int64_t *first,
    int64_t *last)
{
	if (a->newest == 0)
		return false;
	*first = from / ALIVE_MINUTE_MS;
	*last = to / ALIVE_MINUTE_MS;
	/* The ring holds the newest ALIVE_MINUTES minutes only. */
	if (*last > a->newest)
		*last = a->newest;
	if (*first <= a->newest - ALIVE_MINUTES)
		*first = a->newest - ALIVE_MINUTES + 1;
	return true;
}

void
alive_keep(struct alive *a, int64_t from, int64_t to)
{
	struct alive kept = { .newest = a->newest };
	int64_t first, last;

	if (!ring_minutes(a, from, to, &first, &last))
		return;
	for (int64_t m = first; m <= last; m++)
		if (get_bit(a, m))
			set_bit(&kept, m, true);
	*a = kept;
}

bool
alive_any(const struct alive *a, int64_t from, int64_t to)
{
	int64_t first, last;

	if (!ring_minutes(a, from, to, &first, &last))
		return false;
	for (int64_t m = first; m <= last; m++)
		if (get_bit(a, m))
			return true;
	return false;
}

size_t
alive_encode(const struct alive *a, uint8_t *buf)
{
	buf[0] = ALIVE_VERSION;
	buf[1] = 0;
	for (int i = 0; i < 8; i++)
		buf[2 + i] = (uint8_t)((uint64_t)a->newest >> (8 * i));
	memcpy(buf + 10, a->bits, sizeof(a->bits));
	return ALIVE_SIZE;
}

bool
alive_decode(const uint8_t *buf, size_t len, struct alive *a)
{
	uint64_t v = 0;

	memset(a, 0, sizeof(*a));
	if (len != ALIVE_SIZE || buf[0] != ALIVE_VERSION || buf[1] != 0)
		return false;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | buf[2 + i];
	if ((int64_t)v < 0)
		return false;
	a->newest = (int64_t)v;
	memcpy(a->bits, buf + 10, sizeof(a->bits));
	return true;
}
