/*
 * complain.h - log lines about what keeps going wrong, rate-limited: the
 * first at once, then at most one a minute saying how many were kept
 * quiet meanwhile, so a misbehaving client, a flood of them, or a store
 * that is down cannot fill the log with a line per connection.
 */
#ifndef SLOWSPAM_COMPLAIN_H
#define SLOWSPAM_COMPLAIN_H

#include <stdbool.h>

#include <glib.h>

#define COMPLAIN_EVERY_US	(60 * G_USEC_PER_SEC)

/*
 * One kind of complaint. Static storage needs nothing more (zeroed); one
 * inside a structure of its own gets complaint_init and complaint_clear,
 * as its GMutex must.
 */
struct complaint {
	GMutex		lock;
	gint64		last;		/* monotonic us of the last line */
	bool		said;		/* last is set */
	unsigned	quiet;		/* kept quiet since */
};

void	complaint_init(struct complaint *c);
void	complaint_clear(struct complaint *c);

/*
 * The rule itself, at monotonic time now (us): true if a line is due
 * (none said yet, or every us passed since the last), with *more the
 * number kept quiet since, now reset; false if this one is counted
 * quietly. Thread-safe.
 */
bool	complaint_due(struct complaint *c, gint64 now, gint64 every,
	    unsigned *more);

/*
 * Log at level "TEXT (N more since the last such line)" if one is due
 * (COMPLAIN_EVERY_US), else count it quietly. Thread-safe.
 */
void	complain(struct complaint *c, int level, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

#endif /* SLOWSPAM_COMPLAIN_H */
