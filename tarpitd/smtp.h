/*
 * smtp.h - the tar pit's SMTP session, as a pure state machine.
 *
 * No sockets and no clock: the event loop passes the time in, feeds
 * received bytes, asks what to send, and reports what was sent. Replies
 * come from one script shared by all sessions (struct smtp_script) plus
 * an index and offset per session, so a session needs no output buffer.
 *
 * The contract (tarpitd(8), "The session"): a "220-" teaser, the
 * final "220 " after greet_wait, one command line read, then a "250-"
 * line per drip_interval; at max_hold the reply ends with its "250 "
 * line, and the next command (or, from a silent client, one drip
 * interval later) gets "421 4.7.0" and the close. Every reply has one
 * code (RFC 5321 4.2.1), so a client reads the 421 as the server's
 * answer. Any other first command gets "421-" lines and a final "421 "
 * at max_hold. Never 2xx to MAIL/RCPT/DATA, never 354, never 5xx.
 */
#ifndef SLOWSPAM_SMTP_H
#define SLOWSPAM_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 5321 4.5.3.1.4: a command line is at most 512 bytes, CRLF included. */
#define SMTP_LINE_MAX		512
/* HELO kept for the session's log line (the store gets up to 255 bytes). */
#define SMTP_HELO_KEEP		100
/* Lines of the drip script. */
#define SMTP_DRIP_LINES		16
#define SMTP_SCRIPT_LINE_MAX	128

/* Timings and the host name, from [tarpitd]; milliseconds. */
struct smtp_params {
	int64_t	greet_wait;
	int64_t	drip_interval;
	int64_t	max_hold;
	/* Hanging up sooner after connecting, while a reply is due, is
	 * bot evidence (impatient). */
	int64_t	impatient_before;
};

/* Every line a session can send; built once per configuration. */
struct smtp_script {
	char	teaser[SMTP_SCRIPT_LINE_MAX];
	char	greeting[SMTP_SCRIPT_LINE_MAX];
	/* After HELO/EHLO: "250-" lines; after anything else: "421-". */
	char	drip_helo[SMTP_DRIP_LINES][SMTP_SCRIPT_LINE_MAX];
	char	drip_other[SMTP_DRIP_LINES][SMTP_SCRIPT_LINE_MAX];
	char	helo_end[SMTP_SCRIPT_LINE_MAX];	/* "250 " at max_hold */
	char	bye[SMTP_SCRIPT_LINE_MAX];		/* 421 at max_hold */
	char	shutdown[SMTP_SCRIPT_LINE_MAX];	/* 421 on SIGTERM */
	char	busy[SMTP_SCRIPT_LINE_MAX];		/* 421 over a limit */
};

enum smtp_state {
	SMTP_GREET,	/* teaser sent; the final 220 is due at the deadline */
	SMTP_WAIT,	/* 220 sent; waiting for a command until max_hold */
	SMTP_DRIP,	/* a reply is dripping; next line at the deadline */
	SMTP_ANSWER,	/* the EHLO reply ended at max_hold: the next
			   command, or the deadline, gets the 421 */
	SMTP_CLOSING,	/* the last line is going out; then close */
	SMTP_CLOSED,	/* done: see end */
};

/* Why a session ended; the names are in smtp_end_name(). */
enum smtp_end {
	SMTP_END_NONE,
	SMTP_END_MAX_HOLD,
	SMTP_END_CLIENT_CLOSED,
	SMTP_END_LIMIT,
	SMTP_END_SHUTDOWN,
	SMTP_END_ERROR,
};

/* Which script line is going out (see smtp_pending()). */
enum smtp_line {
	SMTP_OUT_NONE,
	SMTP_OUT_TEASER,
	SMTP_OUT_GREETING,
	SMTP_OUT_DRIP,
	SMTP_OUT_HELO_END,
	SMTP_OUT_BYE,
	SMTP_OUT_SHUTDOWN,
	SMTP_OUT_BUSY,
};

/*
 * One session: small and fixed (40 bytes on LP64; a held client costs
 * this and its HELO), but for one rarely used buffer. The small fields
 * are bit-fields: each holds an enum of at most 16 values (state, end,
 * out, next, last: 8 or fewer; helo_class: 9), or a line index.
 */
struct smtp_session {
	int64_t		start;		/* connect time */
	int64_t		deadline;	/* next wake-up */
	union {
		char	*line;		/* before the first line is judged:
					   a partial one, or NULL */
		char	*helo;		/* after: the HELO argument kept for
					   the log (see smtp_helo_free), or
					   NULL */
	};
	uint32_t	evidence;	/* EVIDENCE_* of record.h */
	uint32_t	bytes_sent;
	uint16_t	line_len;	/* bytes of the first line seen */
	uint8_t		out_off;	/* bytes of out already sent */
	uint8_t		helo_len;
	uint8_t		state:3;	/* enum smtp_state */
	uint8_t		end:3;		/* enum smtp_end */
	bool		have_command:1;	/* the first line is complete */
	bool		have_helo:1;	/* ... and it was HELO or EHLO */
	uint8_t		out:3;		/* enum smtp_line going out */
	uint8_t		next:3;		/* enum smtp_line due after out */
	bool		skip_line:1;	/* discarding the rest of a long line */
	bool		greeted:1;	/* the final 220 went out whole,
					   before any goodbye */
	uint8_t		last:3;		/* enum smtp_line last sent whole */
	bool		heard:1;	/* the client sent at least a byte */
	uint8_t		drip_next:4;	/* next drip line */
	uint8_t		helo_class:4;	/* enum helo_class */
};

/* What smtp_input() found in the first command line. */
struct smtp_command {
	bool		complete;	/* a whole first line arrived now */
	bool		is_helo;
	const char	*arg;		/* HELO argument, not NUL-terminated */
	size_t		arg_len;
	/* Where arg is copied when the line came in pieces. */
	char		buf[SMTP_LINE_MAX];
};

/* Build the script for host name hostname. */
void	smtp_script_init(struct smtp_script *script, const char *hostname);

/* Start a session at time now; the teaser (or greeting) is pending. */
void	smtp_start(struct smtp_session *s, const struct smtp_params *p,
	    int64_t now);

/*
 * Feed bytes received at time now. When they complete the first command
 * line, cmd says so (cmd->arg points into data or into cmd itself).
 */
void	smtp_input(struct smtp_session *s, const struct smtp_params *p,
	    int64_t now, const uint8_t *data, size_t len,
	    struct smtp_command *cmd);

/* The deadline has come: move on (next line, greeting, or goodbye). */
void	smtp_timeout(struct smtp_session *s, const struct smtp_params *p,
	    int64_t now);

/*
 * The client shut down its sending side at time now (a half-close, or
 * the first sign of a close): end with the 421 all the same, in case it
 * still reads.
 */
void	smtp_eof(struct smtp_session *s, const struct smtp_params *p,
	    int64_t now);

/* The connection failed at time now: nothing more can be sent. */
void	smtp_closed(struct smtp_session *s, const struct smtp_params *p,
	    int64_t now, enum smtp_end why);

/* End now with the 421 line for why (SHUTDOWN or LIMIT). */
void	smtp_abort(struct smtp_session *s, enum smtp_end why);

/* The rest of the line going out: pointer and length (0: nothing). */
size_t	smtp_pending(const struct smtp_session *s,
	    const struct smtp_script *script, const char **data);

/* n bytes of the pending line were written. */
void	smtp_sent(struct smtp_session *s, const struct smtp_script *script,
	    size_t n);

/* Release the session's buffers. */
void	smtp_clear(struct smtp_session *s);

/* "max_hold", "client_closed", "limit", "shutdown", "error". */
const char *smtp_end_name(enum smtp_end end);

#endif /* SLOWSPAM_SMTP_H */
