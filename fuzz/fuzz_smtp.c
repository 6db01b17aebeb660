/*
 * fuzz_smtp.c - the tar pit's SMTP session on any transcript with any
 * timing: what it sends keeps the contract (smtpcheck.c), every session
 * a client stays in ends with a final 421 within one drip interval of
 * max_hold, a client is impatient only if it left sooner than
 * impatient_before, and a session's memory stays bounded.
 *
 * Input: 3 bytes of timings, then operations, each one byte and its
 * operands:
 *	op % 4 == 0	time passes: next byte * 100 ms (deadlines fire)
 *	op % 4 == 1	next byte is a length n; n bytes arrive at once
 *	op % 4 == 2	the client reads next byte (0: all) bytes of replies
 *	op % 4 == 3	op / 4 % 4: 0 stop reading after each event,
 *			1 read all after each event, 2 shutdown or limit
 *			(op / 16 odd), 3 the client hangs up, or with
 *			op / 16 odd half-closes (it still reads: a 421)
 * The client reads everything after each event until told otherwise.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "fuzz.h"
#include "helo.h"
#include "record.h"
#include "smtp.h"
#include "smtpcheck.h"

struct run {
	struct smtp_session s;
	struct smtp_params p;
	GString		*out;		/* all the client read */
	int64_t		now;
	int64_t		bye_at;		/* when max_hold's 421 was queued */
	bool		answered;	/* it was in SMTP_ANSWER once */
	bool		reading;	/* the client reads after each event */
};

static struct smtp_script script;

/* The client reads up to max bytes (0: all) of what is pending. */
static void
client_read(struct run *r, size_t max)
{
	const char *data;
	size_t n, left = max != 0 ? max : SIZE_MAX;

	while (left > 0 && (n = smtp_pending(&r->s, &script, &data)) > 0) {
		n = MIN(n, left);
		FUZZ_CHECK(memchr(data, '\0', n) == NULL);
		g_string_append_len(r->out, data, (gssize)n);
		smtp_sent(&r->s, &script, n);
		left -= n;
	}
}

/* After an event: note max_hold's goodbye, read if the client does. */
static void
settle(struct run *r)
{
	if (r->s.state == SMTP_ANSWER)
		r->answered = true;
	if (r->bye_at == 0 && r->s.state >= SMTP_CLOSING &&
	    r->s.end == SMTP_END_MAX_HOLD)
		r->bye_at = r->now;
	if (r->reading)
		client_read(r, 0);
	/* Fixed state: the first line is kept to 512 bytes, HELO to 100. */
	FUZZ_CHECK(r->s.line_len <= SMTP_LINE_MAX);
	FUZZ_CHECK(r->s.helo_len <= SMTP_HELO_KEEP);
	FUZZ_CHECK((r->s.helo == NULL) == !r->s.have_helo ||
	    r->s.helo_len == 0);
	FUZZ_CHECK(r->s.bytes_sent == r->out->len);
}

/*
 * A client that just left, in state before, is impatient if and only if
 * it left while a reply was due and sooner than impatient_before.
 */
static void
check_impatient(const struct run *r, uint32_t was, uint8_t before)
{
	bool due = before == SMTP_GREET || before == SMTP_DRIP;
	bool soon = r->now - r->s.start < r->p.impatient_before;

	if (!was)
		FUZZ_CHECK(((r->s.evidence & EVIDENCE_IMPATIENT) != 0) ==
		    (due && soon));
}

/* Time passes by dt: every deadline on the way fires, in order. */
static void
advance(struct run *r, int64_t dt)
{
	int64_t until = r->now + dt;

	while (r->s.state < SMTP_CLOSING && r->s.deadline <= until) {
		FUZZ_CHECK(r->s.deadline >= r->now);
		r->now = r->s.deadline;
		smtp_timeout(&r->s, &r->p, r->now);
		settle(r);
	}
	r->now = until;
}

/* Bytes arrive; a completed command's argument lies in them or the buffer. */
static void
deliver(struct run *r, const uint8_t *data, size_t len)
{
	struct smtp_command cmd;
	bool had = r->s.have_command;

	smtp_input(&r->s, &r->p, r->now, data, len, &cmd);
	if (cmd.complete) {
		const char *a = cmd.arg;

		FUZZ_CHECK(!had);
		FUZZ_CHECK(cmd.arg_len < SMTP_LINE_MAX);
		FUZZ_CHECK(cmd.is_helo || (a == NULL && cmd.arg_len == 0));
		FUZZ_CHECK(a == NULL ||
		    (a >= (const char *)data &&
		    a + cmd.arg_len <= (const char *)data + len) ||
		    (a >= cmd.buf && a + cmd.arg_len <= cmd.buf + SMTP_LINE_MAX));
		FUZZ_CHECK(cmd.is_helo == r->s.have_helo);
		if (cmd.is_helo && r->s.helo_len > 0)
			FUZZ_CHECK(memcmp(r->s.helo, cmd.arg,
			    r->s.helo_len) == 0);
	}
	settle(r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	struct run r;
	const char *why;
	bool hung_up = false, half_closed = false;
	uint32_t was;
	uint8_t before;

	if (script.bye[0] == '\0')
		smtp_script_init(&script, "tarpit.example.org");
	if (size < 3)
		return 0;
	memset(&r, 0, sizeof(r));
	/* Timings conf.c accepts: greet_wait < max_hold, drip <= max_hold. */
	r.p.greet_wait = (p[0] % 8) * 1000;
	r.p.drip_interval = 500 + (p[1] % 20) * 500;
	r.p.max_hold = MAX(r.p.greet_wait + 1, r.p.drip_interval) +
	    (p[2] % 64) * 1000;
	r.p.impatient_before = (p[0] / 8) * 1000;
	p += 3;
	r.out = g_string_new(NULL);
	r.now = 1000000;
	r.reading = true;
	smtp_start(&r.s, &r.p, r.now);
	settle(&r);

	while (p < end && !hung_up && r.s.state < SMTP_CLOSING) {
		uint8_t op = *p++, arg = 0;
		size_t n;

		if (op % 4 != 3 && p < end)
			arg = *p++;

		switch (op % 4) {
		case 0:
			advance(&r, (int64_t)arg * 100);
			break;
		case 1:
			n = MIN((size_t)arg, (size_t)(end - p));
			deliver(&r, p, n);
			p += n;
			break;
		case 2:
			client_read(&r, arg);
			settle(&r);
			break;
		default:
			switch (op / 4 % 4) {
			case 0:
			case 1:
				r.reading = op / 4 % 4 == 1;
				break;
			case 2:
				smtp_abort(&r.s, op / 16 % 2 ? SMTP_END_LIMIT :
				    SMTP_END_SHUTDOWN);
				settle(&r);
				break;
			default:
				was = r.s.evidence & EVIDENCE_IMPATIENT;
				before = r.s.state;
				if (op / 16 % 2) {
					smtp_eof(&r.s, &r.p, r.now);
					check_impatient(&r, was, before);
					half_closed = r.s.end ==
					    SMTP_END_CLIENT_CLOSED;
					settle(&r);
					break;
				}
				smtp_closed(&r.s, &r.p, r.now,
				    SMTP_END_CLIENT_CLOSED);
				check_impatient(&r, was, before);
				hung_up = true;
				break;
			}
		}
	}
	if (hung_up) {
		/* Gone: nothing more to send, and a known reason. */
		FUZZ_CHECK(r.s.state == SMTP_CLOSED);
		FUZZ_CHECK(smtp_pending(&r.s, &script, &why) == 0);
		FUZZ_CHECK(r.s.end != SMTP_END_NONE);
		why = smtpcheck_transcript(r.out->str, r.out->len,
		    r.s.have_helo, false);
	} else {
		/* A client that stays, and reads in the end, gets its 421. */
		while (r.s.state < SMTP_CLOSING)
			advance(&r, r.s.deadline - r.now);
		client_read(&r, 0);
		settle(&r);
		FUZZ_CHECK(r.s.state == SMTP_CLOSED);
		if (r.s.end == SMTP_END_MAX_HOLD) {
			/* The EHLO reply ends at the last tick before
			 * max_hold; the 421 answers the next command. */
			FUZZ_CHECK(r.bye_at - r.s.start >= r.p.max_hold -
			    r.p.drip_interval);
			/* After "250-" lines, the reply ended on its own and
			 * the 421 waited for a command (or a drip). */
			FUZZ_CHECK(!r.s.have_helo || r.answered ||
			    strstr(r.out->str, "\r\n250-") == NULL);
			FUZZ_CHECK(r.bye_at - r.s.start <= r.p.max_hold +
			    r.p.drip_interval);
		} else {
			FUZZ_CHECK(r.s.end == SMTP_END_SHUTDOWN ||
			    r.s.end == SMTP_END_LIMIT ||
			    (half_closed && r.s.end == SMTP_END_CLIENT_CLOSED));
		}
		why = smtpcheck_transcript(r.out->str, r.out->len,
		    r.s.have_helo, true);
	}
	if (why != NULL) {
		fprintf(stderr, "fuzz_smtp: %s in:\n%s\n", why, r.out->str);
		abort();
	}
	/* Output is bounded by time: a line per drip interval, and three. */
	FUZZ_CHECK(r.out->len <= (size_t)(3 + (r.now - r.s.start) /
	    r.p.drip_interval + 1) * SMTP_SCRIPT_LINE_MAX);
	smtp_clear(&r.s);
	FUZZ_CHECK(r.s.line == NULL && r.s.helo == NULL);
	g_string_free(r.out, TRUE);
	return 0;
}
