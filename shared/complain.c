/*
 * complain.c - rate-limited complaints (complain.h).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdarg.h>

#include "complain.h"
#include "log.h"

void
complaint_init(struct complaint *c)
{
	g_mutex_init(&c->lock);
	c->last = 0;
	c->said = false;
	c->quiet = 0;
}

void
complaint_clear(struct complaint *c)
{
	g_mutex_clear(&c->lock);
}

bool
complaint_due(struct complaint *c, gint64 now, gint64 every, unsigned *more)
{
	bool due;

	g_mutex_lock(&c->lock);
	/* A clock that went back counts as the interval not yet over. */
	due = !c->said || now - c->last >= every;
	if (due) {
		*more = c->quiet;
		c->quiet = 0;
		c->last = now;
		c->said = true;
	} else if (c->quiet < G_MAXUINT) {
		c->quiet++;
	}
	g_mutex_unlock(&c->lock);
	return due;
}

void
complain(struct complaint *c, int level, const char *fmt, ...)
{
	char text[LOG_LINE_MAX];
	unsigned more;
	va_list ap;

	/* Formatting only what is said: most complaints are not. */
	if (!complaint_due(c, g_get_monotonic_time(), COMPLAIN_EVERY_US,
	    &more))
		return;
	va_start(ap, fmt);
	g_vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_msg(level, "%s (%u more since the last such line)", text, more);
}
