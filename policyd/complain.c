/*
 * complain.c - rate-limited complaints (complain.h).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdarg.h>
#include <stdbool.h>

#include "complain.h"
#include "log.h"

void
complain(struct complaint *c, int level, const char *fmt, ...)
{
	gint64 now = g_get_monotonic_time();
	unsigned more = 0;
	bool say = false;
	char text[LOG_LINE_MAX];
	va_list ap;

	g_mutex_lock(&c->lock);
	if (c->last == 0 || now - c->last >= COMPLAIN_EVERY_US) {
		say = true;
		more = c->quiet;
		c->quiet = 0;
		c->last = now;
	} else {
		c->quiet++;
	}
	g_mutex_unlock(&c->lock);
	if (!say)
		return;
	va_start(ap, fmt);
	g_vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_msg(level, "%s (%u more since the last such line)", text, more);
}
