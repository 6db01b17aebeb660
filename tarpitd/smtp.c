/*
 * smtp.c - the tar pit's SMTP session state machine.
 *
 *	smtp_script_init	build the lines every session sends
 *	smtp_start		a new connection
 *	smtp_input		bytes from the client
 *	smtp_timeout		the session's deadline has come
 *	smtp_eof		the client sent its last byte (it may still read)
 *	smtp_closed		the client went away
 *	smtp_abort		end now with a 421 (shutdown, limit)
 *	smtp_pending		what is left of the line going out
 *	smtp_sent		some of it was written
 *	smtp_clear		free the session's buffers
 *	smtp_end_name		why a session ended, as a word
 *
 * Evidence: bytes before the final 220 (pregreet); a line ending in a
 * bare LF; bytes after the first line before our reply ended
 * (pipelining); a first line over 512 bytes (long_line); a first
 * command that is not SMTP at all, such as GET or binary (non_smtp);
 * an SMTP command other than HELO/EHLO first (no_helo); hanging up
 * while the greeting or the reply was still coming, sooner than
 * impatient_before after connecting (impatient). RFC 5321 4.5.3.2 has
 * clients wait 5 minutes for the greeting and for each reply; Exim waits
 * 5 minutes for a whole reply, so an MTA that gives up then is not
 * impatient, however long max_hold is.
 *
 * Every reply has one code (RFC 5321 4.2.1): the EHLO reply ends with its
 * "250 " line at max_hold and the 421 answers the next command, so each
 * client reads the 421 as the server's reply. A session that ends while
 * a "220-" or "250-" reply is open closes that reply with its last line
 * first (see closing_line()).
 *
 * Only the HELO/EHLO argument is kept; no other client text is stored.
 * The reply to any other first command drips "421-" lines, so no MAIL,
 * RCPT or DATA ever sees the start of a 2xx reply; after the EHLO reply,
 * the next command is not read at all, only answered with the 421.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include <glib.h>

#include "helo.h"
#include "record.h"
#include "smtp.h"

/* The bit-fields of struct smtp_session hold every value. */
G_STATIC_ASSERT(SMTP_CLOSED < 8 && SMTP_END_ERROR < 8 && SMTP_OUT_BUSY < 8);
G_STATIC_ASSERT(SMTP_DRIP_LINES <= 16 && HELO_TOO_LONG < 16);
G_STATIC_ASSERT(SMTP_SCRIPT_LINE_MAX <= 256 && SMTP_HELO_KEEP <= 255);

/*
 * The HELOs kept for the log come from slabs of 16-byte slots, by size
 * class (16, 32, ... 112 bytes): a malloc'd copy costs a header and its
 * rounding (32 bytes for a 13-byte HELO), and a held client pays for it
 * for hours. A freed slot waits on its class's list for the next HELO;
 * slabs are kept, so what they hold is the worker's peak of held HELOs
 * (bounded by max_clients). One list per process: a worker is one
 * thread.
 */
#define HELO_GRAIN	16
#define HELO_CLASSES	((SMTP_HELO_KEEP + HELO_GRAIN - 1) / HELO_GRAIN)
#define HELO_SLAB	4096

union helo_slot {
	union helo_slot	*next;
	char		bytes[HELO_GRAIN];
};

static union helo_slot *helo_free_slots[HELO_CLASSES];

/* A copy of arg[0..len) (len <= SMTP_HELO_KEEP); NULL for len 0. */
static char *
helo_keep(const char *arg, size_t len)
{
	union helo_slot *slot;
	size_t class, n;

	if (len == 0)
		return NULL;
	class = (len - 1) / HELO_GRAIN;
	n = class + 1;		/* grains a copy takes */
	if (helo_free_slots[class] == NULL) {
		union helo_slot *slab = g_malloc(HELO_SLAB);

		for (size_t i = 0; i + n <= HELO_SLAB / sizeof(*slab); i += n) {
			slab[i].next = helo_free_slots[class];
			helo_free_slots[class] = &slab[i];
		}
	}
	slot = helo_free_slots[class];
	helo_free_slots[class] = slot->next;
	return memcpy(slot, arg, len);
}

/* Give helo (of len bytes, from helo_keep) back to its class. */
static void
helo_release(char *helo, size_t len)
{
	union helo_slot *slot = (void *)helo;
	size_t class = (len - 1) / HELO_GRAIN;

	slot->next = helo_free_slots[class];
	helo_free_slots[class] = slot;
}

/*
 * EHLO keywords, dripped in turn; the reply ends with "250 HELP". Once
 * the reply is complete a client acts on them, so none may make it give
 * up on the message or send more than a command: no SIZE (Postfix and
 * Sendmail bounce a larger message), no AUTH (it would send a password),
 * no STARTTLS, CHUNKING or BINARYMIME; SMTPUTF8, 8BITMIME and DELIVERBY
 * are offered because some clients bounce a message that needs them.
 */
static const char *const helo_drip_words[SMTP_DRIP_LINES - 1] = {
	"PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8", "DSN",
	"DELIVERBY", "VRFY", "ETRN", "EXPN", "HELP", "ONEX", "XUSR", "VERB",
	"NO-SOLICITING", "MTRK",
};

/* SMTP verbs (RFC 5321 and extensions) other than HELO and EHLO. */
static const char *const smtp_verbs[] = {
	"MAIL", "RCPT", "DATA", "RSET", "NOOP", "QUIT", "VRFY", "EXPN",
	"HELP", "STARTTLS", "AUTH", "BDAT", "ETRN", "TURN", "ATRN", "LHLO",
	"XCLIENT", "XFORWARD",
};

static const char *const end_names[] = {
	"none", "max_hold", "client_closed", "limit", "shutdown", "error",
};

void
smtp_script_init(struct smtp_script *sc, const char *hostname)
{
	memset(sc, 0, sizeof(*sc));
	/* Keep lines short whatever the host name: cut it, never overflow. */
	g_snprintf(sc->teaser, sizeof(sc->teaser),
	    "220-%.64s ESMTP service ready\r\n", hostname);
	g_snprintf(sc->greeting, sizeof(sc->greeting),
	    "220 %.64s ESMTP\r\n", hostname);
	g_snprintf(sc->drip_helo[0], SMTP_SCRIPT_LINE_MAX,
	    "250-%.64s Hello, please wait\r\n", hostname);
	for (int i = 1; i < SMTP_DRIP_LINES; i++)
		g_snprintf(sc->drip_helo[i], SMTP_SCRIPT_LINE_MAX, "250-%s\r\n",
		    helo_drip_words[i - 1]);
	for (int i = 0; i < SMTP_DRIP_LINES; i++)
		g_snprintf(sc->drip_other[i], SMTP_SCRIPT_LINE_MAX,
		    "421-4.7.0 %.64s busy, please wait (%d)\r\n", hostname, i);
	g_strlcpy(sc->helo_end, "250 HELP\r\n", sizeof(sc->helo_end));
	g_snprintf(sc->bye, sizeof(sc->bye), "421 4.7.0 %.64s Service not "
	    "available, try again later\r\n", hostname);
	g_snprintf(sc->shutdown, sizeof(sc->shutdown), "421 4.3.2 %.64s "
	    "Service shutting down, try again later\r\n", hostname);
	g_snprintf(sc->busy, sizeof(sc->busy), "421 4.7.0 %.64s Too many "
	    "connections, try again later\r\n", hostname);
}

/* Queue script line out, from its start. */
static void
send_line(struct smtp_session *s, enum smtp_line out)
{
	s->out = (uint8_t)out;
	s->out_off = 0;
}

/*
 * Queue out in place of a pending line not started yet (a teaser or a
 * drip line the client did not read), or after one partly written, which
 * goes out whole first: no client sees two lines spliced ("250-tar250 ").
 * Callers never queue over an unsent greeting (see last_tick()).
 */
static void
queue_line(struct smtp_session *s, enum smtp_line out)
{
	if (s->out != SMTP_OUT_NONE && s->out_off > 0)
		s->next = (uint8_t)out;
	else
		send_line(s, out);
}

/* The 421 that ends a session for why. */
static enum smtp_line
bye_line(enum smtp_end why)
{
	switch (why) {
	case SMTP_END_LIMIT:
		return SMTP_OUT_BUSY;
	case SMTP_END_SHUTDOWN:
		return SMTP_OUT_SHUTDOWN;
	default:
		return SMTP_OUT_BYE;
	}
}

/*
 * The next line of a closing session: a reply left open by the last
 * line sent whole gets its last line first ("220 " after the teaser,
 * "250 HELP" after "250-" lines), so the 421 is a reply of its own.
 */
static enum smtp_line
closing_line(const struct smtp_session *s)
{
	switch (s->last) {
	case SMTP_OUT_TEASER:
		return SMTP_OUT_GREETING;
	case SMTP_OUT_DRIP:
		/* "421-" lines (a first command other than HELO) need none. */
		return s->have_helo ? SMTP_OUT_HELO_END : bye_line(s->end);
	case SMTP_OUT_BYE:
	case SMTP_OUT_SHUTDOWN:
	case SMTP_OUT_BUSY:
		return SMTP_OUT_NONE;
	default:
		return bye_line(s->end);
	}
}

/*
 * End the session for why: a line already partly written goes out
 * whole, one not started is dropped, then what closing_line() says.
 */
static void
finish(struct smtp_session *s, enum smtp_end why)
{
	s->state = SMTP_CLOSING;
	s->end = (uint8_t)why;
	s->next = SMTP_OUT_NONE;
	if (s->out != SMTP_OUT_NONE && s->out_off == 0)
		s->out = SMTP_OUT_NONE;
	if (s->out == SMTP_OUT_NONE)
		send_line(s, closing_line(s));
}

/* Did the client give up sooner than an MTA may (see the top)? */
static bool
impatient(const struct smtp_session *s, const struct smtp_params *p,
    int64_t now)
{
	return (s->state == SMTP_GREET || s->state == SMTP_DRIP) &&
	    now - s->start < p->impatient_before;
}

void
smtp_start(struct smtp_session *s, const struct smtp_params *p, int64_t now)
{
	memset(s, 0, sizeof(*s));
	s->start = now;
	if (p->greet_wait > 0) {
		s->state = SMTP_GREET;
		s->deadline = now + p->greet_wait;
		send_line(s, SMTP_OUT_TEASER);
	} else {
		s->state = SMTP_WAIT;
		s->deadline = now + p->max_hold;
		send_line(s, SMTP_OUT_GREETING);
	}
}

/*
 * Is now the last tick of an EHLO reply: would the next one come after
 * max_hold? Ending the reply then keeps the 421 within one drip
 * interval of max_hold, however long the client takes to answer. Not
 * before the greeting went out whole (a client that does not read):
 * then the next tick, past max_hold, ends the session (finish()).
 */
static bool
last_tick(const struct smtp_session *s, const struct smtp_params *p,
    int64_t now)
{
	return s->have_helo && s->greeted &&
	    now + p->drip_interval >= s->start + p->max_hold;
}

/* End the EHLO reply; the next command, or the deadline, gets the 421. */
static void
end_reply(struct smtp_session *s, const struct smtp_params *p, int64_t now)
{
	s->state = SMTP_ANSWER;
	s->deadline = now + p->drip_interval;
	queue_line(s, SMTP_OUT_HELO_END);
}

/*
 * Start dripping the reply: the first line goes out at once, or, while
 * the greeting is still going out, at the next tick (never instead of it).
 */
static void
start_drip(struct smtp_session *s, const struct smtp_params *p, int64_t now)
{
	s->state = SMTP_DRIP;
	s->deadline = now + p->drip_interval;
	if (s->out != SMTP_OUT_NONE)
		return;
	if (last_tick(s, p, now)) {
		end_reply(s, p, now);
		return;
	}
	s->drip_next = 1;
	send_line(s, SMTP_OUT_DRIP);
}

/* Is line[0..len) the verb word, any case, followed by SP or its end? */
static bool
verb_is(const char *line, size_t len, const char *word)
{
	size_t n = strlen(word);

	return len >= n && g_ascii_strncasecmp(line, word, n) == 0 &&
	    (len == n || line[n] == ' ');
}

/* Judge the complete first line line[0..len) (CR and LF removed). */
static void
judge_command(struct smtp_session *s, const char *line, size_t len,
    struct smtp_command *cmd)
{
	s->have_command = true;
	cmd->complete = true;
	if (verb_is(line, len, "HELO") || verb_is(line, len, "EHLO")) {
		struct helo_result r;

		s->have_helo = true;
		cmd->is_helo = true;
		cmd->arg = len > 5 ? line + 5 : line + len;
		cmd->arg_len = len > 5 ? len - 5 : 0;
		helo_classify(cmd->arg, cmd->arg_len, NULL, &r);
		s->helo_class = (uint8_t)r.class;
		s->helo_len = (uint8_t)MIN(cmd->arg_len, SMTP_HELO_KEEP);
		s->helo = helo_keep(cmd->arg, s->helo_len);
		return;
	}
	for (size_t i = 0; i < G_N_ELEMENTS(smtp_verbs); i++) {
		if (verb_is(line, len, smtp_verbs[i])) {
			s->evidence |= EVIDENCE_NO_HELO;
			return;
		}
	}
	s->evidence |= EVIDENCE_NON_SMTP;
}

/*
 * Take bytes of the first line from data[0..len); returns how many were
 * used. The line is judged when its LF arrives or it grows too long.
 */
static size_t
take_line(struct smtp_session *s, const uint8_t *data, size_t len,
    struct smtp_command *cmd)
{
	const uint8_t *lf = memchr(data, '\n', len);
	size_t n = lf != NULL ? (size_t)(lf - data) : len, line_len, room;
	const char *line;
	bool cr;

	/* The byte before the LF, which may have come in an earlier read. */
	if (n > 0)
		cr = data[n - 1] == '\r';
	else
		cr = s->line_len > 0 && s->line[s->line_len - 1] == '\r';

	if (s->line == NULL && lf != NULL && n < SMTP_LINE_MAX) {
		/* The whole line in one piece: judge it in place, no copy. */
		line = (const char *)data;
		line_len = n;
	} else {
		if (s->line == NULL)
			s->line = g_malloc(SMTP_LINE_MAX);
		room = SMTP_LINE_MAX - s->line_len;
		memcpy(s->line + s->line_len, data, MIN(n, room));
		s->line_len = (uint16_t)(s->line_len + MIN(n, room));
		if (lf == NULL && n < room)
			return len;		/* wait for the rest */
		if (n >= room) {
			/* Over 512 bytes: judge what we have, skip the rest. */
			s->evidence |= EVIDENCE_LONG_LINE;
			s->skip_line = lf == NULL;
			cr = false;
		}
		line = s->line;
		line_len = s->line_len;
	}
	if (lf != NULL && !cr && !(s->evidence & EVIDENCE_LONG_LINE))
		s->evidence |= EVIDENCE_BARE_LF;
	if (cr && line_len > 0 && line[line_len - 1] == '\r')
		line_len--;
	if (line == s->line) {
		/* The buffer gives way to the HELO: cmd keeps a copy. */
		memcpy(cmd->buf, line, line_len);
		line = cmd->buf;
		g_clear_pointer(&s->line, g_free);
	}
	judge_command(s, line, line_len, cmd);
	return lf != NULL ? n + 1 : len;
}

void
smtp_input(struct smtp_session *s, const struct smtp_params *p, int64_t now,
    const uint8_t *data, size_t len, struct smtp_command *cmd)
{
	size_t used;

	cmd->complete = cmd->is_helo = false;
	cmd->arg = NULL;
	cmd->arg_len = 0;
	if (len == 0 || s->state >= SMTP_CLOSING)
		return;
	s->heard = true;
	if (s->state == SMTP_ANSWER) {
		/* The next command, unread: the 421 is its answer. */
		if (s->out != SMTP_OUT_NONE)
			s->evidence |= EVIDENCE_PIPELINING; /* before "250 " */
		finish(s, SMTP_END_MAX_HOLD);
		return;
	}
	if (s->state == SMTP_GREET)
		s->evidence |= EVIDENCE_PREGREET;
	if (s->skip_line) {
		const uint8_t *lf = memchr(data, '\n', len);

		if (lf == NULL)
			return;
		s->skip_line = false;
		used = (size_t)(lf - data) + 1;
		data += used;
		len -= used;
	}
	if (!s->have_command && len > 0) {
		used = take_line(s, data, len, cmd);
		data += used;
		len -= used;
		if (s->have_command && s->state == SMTP_WAIT)
			start_drip(s, p, now);
	}
	/* More after the first line, before our reply ended: pipelining. */
	if (len > 0 && s->have_command && !s->skip_line)
		s->evidence |= EVIDENCE_PIPELINING;
}

void
smtp_timeout(struct smtp_session *s, const struct smtp_params *p, int64_t now)
{
	switch (s->state) {
	case SMTP_GREET:
		queue_line(s, SMTP_OUT_GREETING);
		if (s->have_command) {
			/* It spoke early; its reply starts at the next tick. */
			s->state = SMTP_DRIP;
			s->deadline = now + p->drip_interval;
		} else {
			s->state = SMTP_WAIT;
			s->deadline = s->start + p->max_hold;
		}
		break;
	case SMTP_WAIT:
	case SMTP_ANSWER:
		finish(s, SMTP_END_MAX_HOLD);
		break;
	case SMTP_DRIP:
		if (now - s->start >= p->max_hold) {
			/* A late timer: still end the reply and wait for the
			 * command. A reply not started yet (its first tick
			 * already past max_hold) gets the 421 at once. */
			if (s->have_helo && s->last == SMTP_OUT_DRIP)
				end_reply(s, p, now);
			else
				finish(s, SMTP_END_MAX_HOLD);
			break;
		}
		if (last_tick(s, p, now)) {
			end_reply(s, p, now);
			break;
		}
		s->deadline = now + p->drip_interval;
		/* A client that does not read gets no new line until it does. */
		if (s->out == SMTP_OUT_NONE) {
			send_line(s, SMTP_OUT_DRIP);
			s->drip_next = (uint8_t)((s->drip_next + 1) %
			    SMTP_DRIP_LINES);
		}
		break;
	default:
		break;
	}
}

void
smtp_closed(struct smtp_session *s, const struct smtp_params *p,
    int64_t now, enum smtp_end why)
{
	if (s->state >= SMTP_CLOSING && s->end != SMTP_END_NONE &&
	    why == SMTP_END_CLIENT_CLOSED) {
		s->state = SMTP_CLOSED;		/* it left while we said bye */
		return;
	}
	if (why == SMTP_END_CLIENT_CLOSED && impatient(s, p, now))
		s->evidence |= EVIDENCE_IMPATIENT;
	/* Gone after the reply that ended its hold: held to max_hold. */
	if (why == SMTP_END_CLIENT_CLOSED && s->state == SMTP_ANSWER)
		why = SMTP_END_MAX_HOLD;
	s->state = SMTP_CLOSED;
	s->end = (uint8_t)why;
	s->out = s->next = SMTP_OUT_NONE;
}

void
smtp_eof(struct smtp_session *s, const struct smtp_params *p, int64_t now)
{
	if (s->state >= SMTP_CLOSING)
		return;			/* already saying goodbye */
	if (impatient(s, p, now))
		s->evidence |= EVIDENCE_IMPATIENT;
	/* It may still read: the 421 goes out first, as for every end. */
	finish(s, s->state == SMTP_ANSWER ? SMTP_END_MAX_HOLD :
	    SMTP_END_CLIENT_CLOSED);
}

void
smtp_abort(struct smtp_session *s, enum smtp_end why)
{
	finish(s, why);
}

/* The script line for out, of a session that had a HELO or not. */
static const char *
script_line(const struct smtp_session *s, const struct smtp_script *sc)
{
	/* drip_next was advanced when the line was queued. */
	unsigned drip = (s->drip_next + SMTP_DRIP_LINES - 1) % SMTP_DRIP_LINES;

	switch (s->out) {
	case SMTP_OUT_TEASER:
		return sc->teaser;
	case SMTP_OUT_GREETING:
		return sc->greeting;
	case SMTP_OUT_DRIP:
		return s->have_helo ? sc->drip_helo[drip] : sc->drip_other[drip];
	case SMTP_OUT_HELO_END:
		return sc->helo_end;
	case SMTP_OUT_BYE:
		return sc->bye;
	case SMTP_OUT_SHUTDOWN:
		return sc->shutdown;
	case SMTP_OUT_BUSY:
		return sc->busy;
	default:
		return "";
	}
}

size_t
smtp_pending(const struct smtp_session *s, const struct smtp_script *sc,
    const char **data)
{
	const char *line = script_line(s, sc);
	size_t len = strlen(line);

	*data = line + MIN(s->out_off, len);
	return len - MIN(s->out_off, len);
}

void
smtp_sent(struct smtp_session *s, const struct smtp_script *sc, size_t n)
{
	size_t len = strlen(script_line(s, sc));

	s->bytes_sent += (uint32_t)n;
	s->out_off = (uint8_t)MIN(s->out_off + n, len);
	if (s->out_off < len)
		return;
	/* A greeting sent only to close the session did not greet. */
	if (s->out == SMTP_OUT_GREETING && s->state != SMTP_CLOSING)
		s->greeted = true;
	s->last = s->out;
	/* The line a partly written one held back, if any, is next. */
	s->out = s->state == SMTP_CLOSING ? closing_line(s) : s->next;
	s->out_off = 0;
	s->next = SMTP_OUT_NONE;
	if (s->out == SMTP_OUT_NONE && s->state == SMTP_CLOSING)
		s->state = SMTP_CLOSED;
}

void
smtp_clear(struct smtp_session *s)
{
	if (!s->have_command)
		g_clear_pointer(&s->line, g_free);
	else if (s->helo != NULL) {
		helo_release(s->helo, s->helo_len);
		s->helo = NULL;
	}
}

const char *
smtp_end_name(enum smtp_end end)
{
	return (size_t)end < G_N_ELEMENTS(end_names) ? end_names[end] :
	    "unknown";
}
