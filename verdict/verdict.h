/*
 * verdict.h - the verdict on an SMTP session and the action for each of
 * its messages: the one place that decides, whichever MTA asks. No MTA
 * API here: slowspam-milter (libmilter) and slowspam-policyd (Postfix's
 * policy protocol, Exim's ACLs) are adapters that tell an engine what
 * the MTA told them, in SMTP's order, and carry out what it says.
 *
 *	verdict_connect	the client: exemptions (local, trusted_networks,
 *			the allow-list by address or by a confirmed host
 *			name), the store (look up, then queue this
 *			contact with the primary), the primary marked
 *			alive, the session's decision (decide.c); the
 *			primary's liveness is read only for a record
 *			that makes the client backup-first, and only the
 *			minutes around its tar-pit contact
 *	verdict_helo	an allow-listed HELO name exempts when SPF for it
 *			passes (never with spf off)
 *	verdict_mail	MAIL FROM: authenticated? SPF for it, folded in
 *			(fail or softfail makes backup-first a bot), and
 *			the message's action; logged and counted once
 *
 * The verdict keys are read from [milter] (window, action, action_bot,
 * divert_to, trusted_networks, spf, authserv_id, alive_margin, grace,
 * allow_list, on_store_error, tarpit_list*): slowspam.conf files of
 * 0.1.0 keep working and both daemons decide alike from one file.
 *
 * A DNS list (dnsxl.h, [milter] tarpit_list) adds the tar-pit side of
 * another site: verdict_connect starts its lookup, the first
 * verdict_mail collects it (by tarpit_list_timeout after the connect)
 * and merges it into the session's record (verdict_list_merge). The
 * primary's side, its contacts and its liveness, stay the local store's.
 *
 * Never loses mail by its own failure: a store error gives no verdict
 * (or a tempfail with on_store_error = tempfail), an SPF DNS failure is
 * a temperror; both are logged (rate-limited) and counted.
 *
 * Thread-safe: an engine serves sessions on many threads at once; one
 * session is used by one thread at a time.
 */
#ifndef SLOWSPAM_VERDICT_H
#define SLOWSPAM_VERDICT_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include "addr.h"
#include "allow.h"
#include "conf.h"
#include "decide.h"
#include "dnsxl.h"
#include "record.h"
#include "spf.h"
#include "store.h"

/* A configuration and what comes with it (atomic reference count). */
struct verdict_setup {
	struct conf	*conf;
	struct allow	*allow;		/* NULL: no allow_list */
};

/* Load path (NULL: the default) with the --set overrides; errors name
 * the file and line, or the allow-list's. */
struct verdict_setup *verdict_setup_load(const char *path,
	    const char *const *overrides, GError **error);
struct verdict_setup *verdict_setup_ref(struct verdict_setup *s);
void	verdict_setup_unref(struct verdict_setup *s);	/* NULL: no-op */

struct verdict_engine;

/*
 * An engine over store, spf and dnsxl (none taken over; dnsxl NULL: no
 * DNS list, dnsxl_open), for a daemon that
 * started at started (ms, store_now()): contacts within [milter] grace
 * of it prove nothing about the primary.
 *
 * The engine writes each session's contact with the primary behind the
 * answer: verdict_connect reads the record (a read transaction, no sync)
 * and queues the contact; a writer thread commits what has gathered in
 * one transaction (storeq.h). (The primary's liveness mark, once a minute,
 * is still written at connect.) The engine starts a thread: create it
 * after any fork() and after blocking the signals other threads must not
 * take. A full queue drops the contact (counted, logged rate-limited).
 *
 * What a lost contact (dropped, a failed write, or a crash: at most what
 * was queued, the last few milliseconds) can do: the record misses that
 * contact. The verdict already given stands. It matters only when the
 * lost contact was the network's first with the primary and the tar pit
 * sees the network after it and before its next recorded contact: the
 * record then shows the tar pit first, and the network's sessions within
 * window of that tar-pit contact are judged backup-first although the
 * primary saw it first. Otherwise it is a primary_sessions count one
 * short, and the record's newest activity (its expiry) a little older.
 */
struct verdict_engine *verdict_engine_new(struct store *store,
	    struct spf *spf, struct dnsxl *dnsxl, int64_t started);
/* Wait until every contact queued so far is written (or failed): for
 * tests, and for a stop that cannot wait for the workers. */
void	verdict_engine_flush(struct verdict_engine *e);
/* Write what is queued, stop the writer, free; NULL is a no-op. */
void	verdict_engine_free(struct verdict_engine *e);

/* What verdict_mail says to do with the message. */
enum verdict_do {
	VERDICT_DO_NOTHING,	/* exempt, no verdict, or no action */
	VERDICT_DO_STORE_TEMPFAIL, /* store down, on_store_error = tempfail */
	VERDICT_DO_ACT,		/* session.action says which */
};

/* One SMTP session, as the engine sees it. */
struct verdict_session {
	struct verdict_setup *setup;	/* pinned for the session */
	struct addr	addr;
	bool		have_addr;	/* false: local or unknown: exempt */
	bool		exempt;
	const char	*exempt_why;	/* static */
	bool		helo_checked;	/* an allow-listed HELO was looked at */
	bool		store_failed;	/* ...and on_store_error = tempfail */
	char		netkey[ADDR_NETKEY_LEN];
	struct hit_record rec;		/* before this session's contact */
	struct alive	alive;		/* the primary's, before it too */
	bool		alive_read;	/* alive holds the minutes around... */
	int64_t		alive_around;	/* ...this tar-pit contact (ms) */
	int64_t		connected;	/* ms, store_now() at connect */
	bool		judged;		/* rec (and alive) are the store's */
	struct decision	decision;	/* at connect, before SPF */
	/* The DNS list (tarpit_list): */
	struct dnsxl_lookup *list_lookup; /* started at connect; NULL: none */
	gint64		list_deadline;	/* monotonic us */
	bool		tarpit_store;	/* the store's record had the tar pit */
	bool		tarpit_list;	/* the list's times were merged */
	bool		listed_bot;	/* ...and it said 127.0.0.3 */
	char		*helo;		/* as given; NULL before HELO */
	/* The current message (verdict_mail): */
	char		*mail_from;	/* bare address, "" for <> */
	enum spf_result	spf;
	bool		spf_done;	/* spf is a checked result */
	struct decision	msg;		/* the decision with SPF folded in */
	int		action;		/* enum conf_action, or -1: none */
};

/* A new session on setup (a reference is taken). */
void	verdict_session_init(struct verdict_session *s,
	    struct verdict_setup *setup);
/* Free what it holds; the setup reference is dropped. */
void	verdict_session_clear(struct verdict_session *s);

/*
 * The client connected: client NULL for one without an IP address (a
 * unix socket, an unknown family: exempt, "local"). name: the MTA's
 * host name for it (NULL: none); name_confirmed: the MTA says that name
 * resolves back to the address (libmilter's {client_resolve} "OK",
 * Postfix's client_name not "unknown"). now: store_now().
 */
void	verdict_connect(struct verdict_engine *e, struct verdict_session *s,
	    const struct addr *client, const char *name, bool name_confirmed,
	    int64_t now);

/*
 * The client said HELO/EHLO helo (kept; a repeated one costs nothing;
 * NULL is ignored). Its SPF check, if the name is allow-listed, is the
 * HELO identity's (RFC 7208), not counted in the SPF results.
 */
void	verdict_helo(struct verdict_engine *e, struct verdict_session *s,
	    const char *helo);

/*
 * A message begins: mail_from is the bare MAIL FROM address ("" or NULL
 * for the null sender), authenticated whether the MTA says the client
 * authenticated (SMTP AUTH; it exempts the rest of the session). Resets
 * the previous message's state. Counts the message (exempt, or its
 * verdict and action) and logs the verdict line for one other than
 * none: call it once per MAIL FROM. VERDICT_DO_STORE_TEMPFAIL and
 * VERDICT_DO_ACT with action tempfail or reject want verdict_reply's
 * answer to MAIL FROM; the other actions are carried out on the message
 * (a header, quarantine, divert to divert_to).
 */
enum verdict_do verdict_mail(struct verdict_engine *e,
	    struct verdict_session *s, const char *mail_from,
	    bool authenticated);

/*
 * The SMTP reply for VERDICT_DO_STORE_TEMPFAIL or for the actions
 * tempfail and reject: code "451"/"550", enhanced code, text. False for
 * any other action.
 */
bool	verdict_reply(const struct verdict_session *s, const char **code,
	    const char **xcode, const char **text);

/*
 * The X-Slowspam header's value for the message (g_free); NULL when the
 * message gets none (exempt, verdict none, store failed).
 */
char	*verdict_header(const struct verdict_session *s);

/*
 * Our Authentication-Results value, NULL if SPF was not checked
 * (g_free). verdict_ar_header folds it (LF and a tab, as a milter's
 * smfi_insheader takes it); verdict_ar_header_line gives the same
 * value on one line (one blank where a fold was), for an MTA that
 * wants a header as one line (Postfix's PREPEND action). A property
 * too long for a line of its own is left out of both alike.
 */
char	*verdict_ar_header(const struct verdict_session *s);
char	*verdict_ar_header_line(const struct verdict_session *s);

/*
 * Merge a DNS list's answer into rec, the store's record of the network
 * (before this session's contact) at now (ms): a listing with the tar
 * pit's times, its last no older than window and not from the future
 * (beyond VERDICT_LIST_SKEW_MS), gives the earlier first and the later
 * last of the two; true if it did. Nothing else of rec changes.
 */
#define VERDICT_LIST_SKEW_MS	(5 * 60 * 1000)
bool	verdict_list_merge(struct hit_record *rec,
	    const struct dnsxl_answer *a, int64_t now, int64_t window);

/* The names the header fields carry. */
#define VERDICT_HEADER		"X-Slowspam"
#define VERDICT_HEADER_RCPTS	"X-Slowspam-Original-Recipients"
#define VERDICT_AR_HEADER	"Authentication-Results"

/*
 * The engine's counters as Prometheus samples named PREFIX_..._total
 * (prefix "slowspam_milter"), PREFIX_store_events_total{result} the
 * contact queue's written, dropped and failed, PREFIX_store_batches_total
 * its transactions, PREFIX_store_liveness_reads_total the reads of the
 * primary's liveness (one per backup-first candidate, rarely two: the
 * DNS list moved its tar-pit contact), with the lookup-latency
 * histogram PREFIX_lookup_seconds, PREFIX_list_lookups_total{result}
 * and PREFIX_list_lookup_seconds for the DNS list, and as "key=N" words for the SIGUSR1 totals
 * line ("connections=N verdicts=N exempt=N store_errors=N", verdicts
 * being the messages acted on), from one table. Neither writes the log
 * or scrape server's own samples.
 */
void	verdict_engine_metrics(struct verdict_engine *e, GString *out,
	    const char *prefix);
void	verdict_engine_totals(struct verdict_engine *e, GString *out);

#endif /* SLOWSPAM_VERDICT_H */
