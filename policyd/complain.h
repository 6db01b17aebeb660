/*
 * complain.h - log lines about what clients do wrong, rate-limited: the
 * first at once, then at most one a minute saying how many were kept
 * quiet meanwhile, so a misbehaving client (or a flood of them) cannot
 * fill the log.
 */
#ifndef SLOWSPAM_POLICY_COMPLAIN_H
#define SLOWSPAM_POLICY_COMPLAIN_H

#include <glib.h>

#define COMPLAIN_EVERY_US	(60 * G_USEC_PER_SEC)

/* One kind of complaint; zero it (static storage is). */
struct complaint {
	GMutex		lock;
	gint64		last;		/* monotonic us of the last line */
	unsigned	quiet;		/* kept quiet since */
};

/*
 * Log at level "TEXT (N more since the last such line)", or count it
 * quietly. Thread-safe.
 */
void	complain(struct complaint *c, int level, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

#endif /* SLOWSPAM_POLICY_COMPLAIN_H */
