/*
 * tarpit.h - tarpitd's internal interfaces: the event loop, listening
 * sockets, privileges and the session record.
 */
#ifndef SLOWSPAM_TARPIT_H
#define SLOWSPAM_TARPIT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include "addr.h"
#include "conf.h"
#include "smtp.h"

/* The listening sockets of one process. */
struct listeners {
	int	*fds;
	size_t	n;
	bool	shared;		/* the same sockets in every worker */
};

/*
 * Where the configuration comes from: a descriptor of its folder, so a
 * chrooted worker can read it again on SIGHUP.
 */
struct conf_source {
	int		dirfd;		/* its folder; -1 if outside the chroot */
	char		*name;		/* the file name in that folder */
	char		*path;		/* the whole path, for messages */
	const char *const *overrides;	/* from the command line */
};

/* This worker's Prometheus socket (bound before the drop), or -1. */
extern int tarpit_metrics_fd;

/* Signals seen, set by the handlers, read by the loop. */
extern volatile sig_atomic_t tarpit_got_hup, tarpit_got_term,
    tarpit_got_usr1;

/* listen.c */
/* Bind every configured address (once per worker, with SO_REUSEPORT). */
bool	listeners_bind(const struct conf *conf, unsigned copies,
	    struct listeners *out, GError **error);
/* Take sockets passed by systemd (LISTEN_FDS); false if there are none. */
bool	listeners_from_systemd(struct listeners *out, GError **error);
/* The sockets of worker i (of n) out of all. */
void	listeners_for_worker(const struct listeners *all, unsigned i,
	    unsigned n, struct listeners *out);
void	listeners_close(struct listeners *l);

/* privs.c */
/*
 * If root: chroot (if set) and become user, for good; root or not, then
 * shed every capability (shared/privs.h privs_become).
 */
bool	privs_drop(const char *user, const char *chroot_dir, GError **error);
/*
 * If root: create the store's folder for user if it is missing, and give
 * user the store files root owns. Existing folders are not changed.
 */
bool	privs_prepare_store(const char *path, const char *user,
	    GError **error);
/* If root: create the file path if missing; give it to user if root's. */
bool	privs_prepare_file(const char *path, const char *user, GError **error);

/* chroot.c */
/* path inside chroot root ("/" if equal), or NULL if outside it. */
const char *tarpit_inside_chroot(const char *root, const char *path);
/*
 * Open the folder of the configuration file path (NULL: the default),
 * so it can be read again after chroot and daemon().
 */
bool	conf_source_open(struct conf_source *src, const char *path,
	    const char *const *overrides, GError **error);
/* Keep that folder open only if it lies inside chroot root ("": none). */
void	conf_source_confine(struct conf_source *src, const char *root);
/* The configuration read again for a reload, or NULL with error set. */
struct conf *tarpit_reread(const struct conf_source *src, GError **error);

/* loop.c */
struct tarpit;
/*
 * Set up a worker's loop, taking conf (freed by tarpit_free, or here on
 * failure); the store is opened here, so call it after fork.
 */
struct tarpit *tarpit_new(struct conf *conf, const struct conf_source *src,
	    const struct listeners *l, GError **error);
/* Run until SIGTERM; returns the exit status. */
int	tarpit_run(struct tarpit *t);
void	tarpit_free(struct tarpit *t);

/* budget.c: what an aggregate network may make us write (see the file). */
#define BUDGET_NETS_MAX	65536
struct budget;
struct budget *budget_new(void);
/*
 * May net (an address masked to its aggregate prefix) start one more
 * recorded session at now (monotonic ms), per_minute a minute (0: no
 * limit)? *overflow: the table was full, so the shared budget decided.
 */
bool	budget_take(struct budget *b, const struct addr *net,
	    unsigned per_minute, int64_t now, bool *overflow);
/* Did this worker record store network net in the last hour? */
bool	budget_known(const struct budget *b, const struct addr *net);
/* It recorded net at now (monotonic ms). */
void	budget_learn(struct budget *b, const struct addr *net, int64_t now);
/* Forget budgets whole again and store networks not recorded lately. */
void	budget_sweep(struct budget *b, int64_t now);
unsigned budget_size(const struct budget *b);
void	budget_free(struct budget *b);

/* summary.c: sessions counted, not recorded (see the file). */
enum unrecorded {
	UNRECORDED_LIMIT,	/* refused over max_clients(_per_net) */
	UNRECORDED_EARLY,	/* closed before the greeting, silent */
	UNRECORDED_BUDGET,	/* over records_per_minute: no record, or no
				   line for a short session */
	UNRECORDED_COUNT,
};
struct summary;
struct summary *summary_new(void);
/* One more session for why, from aggregate network net. */
void	summary_add(struct summary *s, enum unrecorded why,
	    const struct addr_cidr *net);
/* Log a line per reason counted in the last period_ms; start again. */
void	summary_emit(struct summary *s, int64_t period_ms);
void	summary_free(struct summary *s);
const char *unrecorded_name(enum unrecorded why);

/*
 * loop.c: a worker's counters table (metrics.h), whose rows read a
 * snapshot of *snapshot_size bytes; its scrape and its totals line are
 * this table, then the log queue's (metrics_log_stats). For tests.
 */
struct metrics_row;
const struct metrics_row *tarpit_counter_table(size_t *nrows,
	    size_t *snapshot_size);

/* session.c */
/* What one ended session leaves: log line, event-log line. */
struct session_report {
	const struct addr *addr;
	uint16_t	port;
	int64_t		connect;	/* wall clock, ms */
	int64_t		disconnect;
	const struct smtp_session *s;
};
void	session_log(const struct session_report *r);
/* One JSON line into buf (no newline); returns its length. */
size_t	session_json(const struct session_report *r, char *buf, size_t size);

#endif /* SLOWSPAM_TARPIT_H */
