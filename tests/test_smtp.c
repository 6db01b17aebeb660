/*
 * test_smtp.c - the tar pit's SMTP state machine, fed transcripts with a
 * fake clock: every evidence flag, every end reason, every invariant.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include <glib.h>

#include "helo.h"
#include "record.h"
#include "smtp.h"
#include "smtpcheck.h"

static const struct smtp_params P = {
	.greet_wait = 6000, .drip_interval = 10000, .max_hold = 600000,
	.impatient_before = 290000,
};
static struct smtp_script script;

/* A session under test with everything it ever sent. */
struct run {
	struct smtp_session s;
	GString *out;
	int64_t now;
	struct smtp_command last;
	unsigned commands;
};

/* Write everything pending, as a client that reads at once would see. */
static void
drain(struct run *r)
{
	const char *data;
	size_t n;

	while ((n = smtp_pending(&r->s, &script, &data)) > 0) {
		g_string_append_len(r->out, data, (gssize)n);
		smtp_sent(&r->s, &script, n);
	}
}

static void
start(struct run *r, const struct smtp_params *p)
{
	r->now = 1000;
	r->out = g_string_new(NULL);
	r->commands = 0;
	smtp_start(&r->s, p, r->now);
	drain(r);
}

static void
send_bytes(struct run *r, const struct smtp_params *p, const char *data,
    size_t len)
{
	struct smtp_command cmd;

	smtp_input(&r->s, p, r->now, (const uint8_t *)data, len, &cmd);
	if (cmd.complete) {
		r->last = cmd;
		/* arg may point into cmd itself: then into the copy. */
		if (cmd.arg >= cmd.buf && cmd.arg < cmd.buf + sizeof(cmd.buf))
			r->last.arg = r->last.buf + (cmd.arg - cmd.buf);
		r->commands++;
	}
	drain(r);
}

static void
say(struct run *r, const struct smtp_params *p, const char *text)
{
	send_bytes(r, p, text, strlen(text));
}

/* Let time pass to the next deadline (at most until), as the loop does. */
static void
tick(struct run *r, const struct smtp_params *p)
{
	r->now = r->s.deadline;
	smtp_timeout(&r->s, p, r->now);
	drain(r);
}

/* Run the clock until the session closes; returns the ticks taken. */
static unsigned
run_out(struct run *r, const struct smtp_params *p)
{
	unsigned ticks = 0;

	while (r->s.state != SMTP_CLOSED && ticks < 100000) {
		tick(r, p);
		ticks++;
	}
	return ticks;
}

/*
 * The contract on everything a session sent (smtpcheck.c, shared with
 * fuzz_smtp): one code per reply, only 220, 250 and 421, no 2xx after a
 * non-HELO command, no 354, no 5xx; CRLF lines; the last reply a 421.
 */
static void
check_invariants(const struct run *r, bool had_helo)
{
	g_assert_cmpstr(smtpcheck_transcript(r->out->str, r->out->len,
	    had_helo, true), ==, NULL);
	if (r->s.end == SMTP_END_MAX_HOLD)
		g_assert_nonnull(strstr(r->out->str, "\r\n421 4.7.0 "));
}

/* Does the transcript end with a then b? */
static bool
ends_with(const struct run *r, const char *a, const char *b)
{
	g_autofree char *tail = g_strconcat(a, b, NULL);

	return g_str_has_suffix(r->out->str, tail);
}

static void
finish(struct run *r)
{
	smtp_clear(&r->s);
	g_assert_null(r->s.line);
	g_assert_null(r->s.helo);
	g_string_free(r->out, TRUE);
}

/* A polite client: waits, says EHLO, and is held to max_hold. */
static void
test_polite(void)
{
	struct run r;
	unsigned ticks;

	start(&r, &P);
	g_assert_cmpint(r.s.state, ==, SMTP_GREET);
	g_assert_cmpstr(r.out->str, ==, script.teaser);
	g_assert_cmpint(r.s.deadline, ==, 1000 + 6000);
	tick(&r, &P);
	g_assert_cmpint(r.s.state, ==, SMTP_WAIT);
	g_assert_true(g_str_has_suffix(r.out->str, script.greeting));
	r.now += 500;
	say(&r, &P, "EHLO mail.example.org\r\n");
	g_assert_cmpuint(r.commands, ==, 1);
	g_assert_true(r.last.is_helo);
	g_assert_cmpmem(r.last.arg, r.last.arg_len, "mail.example.org", 16);
	g_assert_cmpint(r.s.state, ==, SMTP_DRIP);
	g_assert_cmpuint(r.s.helo_class, ==, HELO_FQDN);
	g_assert_true(g_str_has_suffix(r.out->str, script.drip_helo[0]));
	ticks = run_out(&r, &P);
	g_assert_cmpint(r.s.end, ==, SMTP_END_MAX_HOLD);
	g_assert_cmpuint(r.s.evidence, ==, 0);
	/* No session outlives max_hold by more than one drip interval. */
	g_assert_cmpint(r.now - r.s.start, >=, P.max_hold);
	g_assert_cmpint(r.now - r.s.start, <=, P.max_hold + P.drip_interval);
	g_assert_cmpuint(ticks, ==, (P.max_hold - 6500) / P.drip_interval + 1);
	g_assert_cmpuint(r.s.bytes_sent, ==, r.out->len);
	g_assert_cmpmem(r.s.helo, r.s.helo_len, "mail.example.org", 16);
	/* It said nothing after the reply: the 421 one drip later. */
	g_assert_true(ends_with(&r, script.helo_end, script.bye));
	check_invariants(&r, true);
	finish(&r);
}

/*
 * An MTA: the EHLO reply ends with "250 " at the last drip before
 * max_hold, it sends MAIL at once, and the 421 answers it. Nothing of
 * the command is kept.
 */
static void
test_answer(void)
{
	struct run r;
	size_t before;

	start(&r, &P);
	tick(&r, &P);
	say(&r, &P, "EHLO mail.example.org\r\n");
	while (r.s.state == SMTP_DRIP)
		tick(&r, &P);
	g_assert_cmpint(r.s.state, ==, SMTP_ANSWER);
	g_assert_true(g_str_has_suffix(r.out->str, script.helo_end));
	g_assert_cmpint(r.now - r.s.start, >=, P.max_hold - P.drip_interval);
	g_assert_cmpint(r.now - r.s.start, <=, P.max_hold);
	g_assert_cmpint(r.s.deadline, ==, r.now + P.drip_interval);
	before = r.out->len;
	r.now += 2;
	say(&r, &P, "MAIL FROM:<someone@example.org> SIZE=100\r\n");
	g_assert_cmpuint(r.commands, ==, 1);	/* only the EHLO */
	g_assert_cmpint(r.s.state, ==, SMTP_CLOSED);
	g_assert_cmpint(r.s.end, ==, SMTP_END_MAX_HOLD);
	g_assert_cmpstr(r.out->str + before, ==, script.bye);
	g_assert_cmpuint(r.s.evidence, ==, 0);
	g_assert_true(r.s.have_command);
	g_assert_cmpmem(r.s.helo, r.s.helo_len, "mail.example.org", 16);
	check_invariants(&r, true);
	finish(&r);

	/* One that sent it before "250 " went out whole: pipelining. */
	start(&r, &P);
	tick(&r, &P);
	say(&r, &P, "EHLO mail.example.org\r\n");
	while (r.s.state == SMTP_DRIP) {
		r.now = r.s.deadline;
		smtp_timeout(&r.s, &P, r.now);
		if (r.s.state == SMTP_DRIP)
			drain(&r);
	}
	say(&r, &P, "MAIL FROM:<a@example.org>\r\n");
	g_assert_cmpint(r.s.state, ==, SMTP_CLOSED);
	g_assert_cmpuint(r.s.evidence, ==, EVIDENCE_PIPELINING);
	g_assert_true(ends_with(&r, script.helo_end, script.bye));
	check_invariants(&r, true);
	finish(&r);

	/* A late timer, its last tick past max_hold: still the wait. */
	start(&r, &P);
	tick(&r, &P);
	say(&r, &P, "EHLO mail.example.org\r\n");
	while (r.s.deadline + P.drip_interval < r.s.start + P.max_hold)
		tick(&r, &P);
	r.now = r.s.start + P.max_hold + 300;
	smtp_timeout(&r.s, &P, r.now);
	drain(&r);
	g_assert_cmpint(r.s.state, ==, SMTP_ANSWER);
	g_assert_true(g_str_has_suffix(r.out->str, script.helo_end));
	say(&r, &P, "MAIL FROM:<a@example.org>\r\n");
	g_assert_cmpint(r.s.end, ==, SMTP_END_MAX_HOLD);
	g_assert_cmpuint(r.s.evidence, ==, 0);
	check_invariants(&r, true);
	finish(&r);

	/* An EHLO so late that no drip fits: "250 " at once. */
	start(&r, &P);
	tick(&r, &P);
	r.now = r.s.start + P.max_hold - P.drip_interval / 2;
	say(&r, &P, "EHLO late.example.org\r\n");
	g_assert_cmpint(r.s.state, ==, SMTP_ANSWER);
	g_assert_true(ends_with(&r, script.greeting, script.helo_end));
	run_out(&r, &P);
	g_assert_cmpint(r.now - r.s.start, <=, P.max_hold + P.drip_interval);
	check_invariants(&r, true);
	finish(&r);
}

/* A silent client is closed at max_hold exactly. */
static void
test_silent(void)
{
	struct run r;

	start(&r, &P);
	run_out(&r, &P);
	g_assert_cmpint(r.s.end, ==, SMTP_END_MAX_HOLD);
	g_assert_cmpint(r.now - r.s.start, ==, P.max_hold);
	g_assert_cmpuint(r.s.evidence, ==, 0);
	g_assert_false(r.s.have_helo);
	check_invariants(&r, false);
	finish(&r);
}

/* One row per evidence flag, with the transcript that earns it. */
static void
test_evidence(void)
{
	static const struct {
		const char *name;
		bool after_greeting;	/* speak after the final 220 */
		const char *text;
		size_t len;		/* 0: strlen */
		uint32_t expect;
		bool helo;
	} rows[] = {
		{ "pregreet", false, "EHLO x.example\r\n", 0, EVIDENCE_PREGREET,
		    true },
		{ "bare lf", true, "HELO x.example\n", 0, EVIDENCE_BARE_LF,
		    true },
		{ "pipelining", true, "EHLO x.example\r\nMAIL FROM:<a@b>\r\n", 0,
		    EVIDENCE_PIPELINING, true },
		{ "http", true, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0,
		    EVIDENCE_NON_SMTP | EVIDENCE_PIPELINING, false },
		{ "connect", true, "CONNECT 10.0.0.1:25 HTTP/1.0\r\n", 0,
		    EVIDENCE_NON_SMTP, false },
		{ "binary", true, "\x16\x03\x01\x02\x00\x01\r\n", 8,
		    EVIDENCE_NON_SMTP, false },
		{ "nul", true, "EH\0LO\r\n", 7, EVIDENCE_NON_SMTP, false },
		{ "empty line", true, "\r\n", 0, EVIDENCE_NON_SMTP, false },
		{ "mail first", true, "MAIL FROM:<spam@example.com>\r\n", 0,
		    EVIDENCE_NO_HELO, false },
		{ "quit first", true, "quit\r\n", 0, EVIDENCE_NO_HELO, false },
		{ "helo tab", true, "HELO\tx\r\n", 0, EVIDENCE_NON_SMTP, false },
		{ "lower-case helo", true, "helo x.example\r\n", 0, 0, true },
		{ "helo no arg", true, "HELO\r\n", 0, 0, true },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
		struct run r;
		size_t len = rows[i].len != 0 ? rows[i].len :
		    strlen(rows[i].text);

		g_test_message("row %zu: %s", i, rows[i].name);
		start(&r, &P);
		if (rows[i].after_greeting)
			tick(&r, &P);
		send_bytes(&r, &P, rows[i].text, len);
		g_assert_cmpuint(r.commands, ==, 1);
		g_assert_cmpuint(r.s.evidence, ==, rows[i].expect);
		g_assert_cmpint(r.s.have_helo, ==, rows[i].helo);
		run_out(&r, &P);
		check_invariants(&r, rows[i].helo);
		finish(&r);
	}
}

/* A non-HELO first command drips 421- lines, never a 2xx. */
static void
test_no_2xx_to_mail(void)
{
	static const char *const cmds[] = {
		"MAIL FROM:<a@example.com>\r\n", "RCPT TO:<b@example.com>\r\n",
		"DATA\r\n", "BDAT 100 LAST\r\n", "AUTH PLAIN AGFAYg==\r\n",
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++) {
		struct run r;

		start(&r, &P);
		tick(&r, &P);
		say(&r, &P, cmds[i]);
		g_assert_true(g_str_has_suffix(r.out->str, script.drip_other[0]));
		run_out(&r, &P);
		g_assert_null(strstr(r.out->str, "\r\n250"));
		g_assert_null(strstr(r.out->str, "354"));
		g_assert_false(r.s.have_helo);
		check_invariants(&r, false);
		finish(&r);
	}
}

/*
 * Many sessions keep HELOs of every length at once, freed in a shuffled
 * order and taken again: each keeps its own bytes (they share slabs),
 * cut to SMTP_HELO_KEEP.
 */
static void
test_helo_slots(void)
{
	enum { N = 600 };
	static struct run r[N];
	static char want[N][SMTP_LINE_MAX];
	size_t len[N];
	GRand *rnd = g_rand_new_with_seed(16);

	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < N; i++) {
			char line[SMTP_LINE_MAX];

			if (round > 0 && g_rand_boolean(rnd))
				continue;	/* still held */
			if (round > 0)
				finish(&r[i]);
			len[i] = (size_t)g_rand_int_range(rnd, 0,
			    SMTP_HELO_KEEP + 20);
			for (size_t k = 0; k < len[i]; k++)
				want[i][k] = (char)('a' + (i + k * 3) % 26);
			memcpy(line, "HELO ", 5);
			memcpy(line + 5, want[i], len[i]);
			memcpy(line + 5 + len[i], "\r\n", 2);
			start(&r[i], &P);
			tick(&r[i], &P);
			/* Every other one in two pieces, through the buffer. */
			if (i % 2 == 0)
				send_bytes(&r[i], &P, line, len[i] + 7);
			else {
				send_bytes(&r[i], &P, line, 3);
				send_bytes(&r[i], &P, line + 3, len[i] + 4);
			}
			g_assert_cmpuint(r[i].commands, ==, 1);
			g_assert_cmpmem(r[i].last.arg, r[i].last.arg_len,
			    want[i], len[i]);
		}
		for (int i = 0; i < N; i++) {
			size_t keep = MIN(len[i], SMTP_HELO_KEEP);

			g_assert_true(r[i].s.have_helo);
			g_assert_cmpmem(r[i].s.helo, r[i].s.helo_len, want[i],
			    keep);
		}
	}
	for (int i = 0; i < N; i++)
		finish(&r[i]);
	g_rand_free(rnd);
}

/* A line split over many reads, byte by byte. */
static void
test_split_line(void)
{
	static const char line[] = "EHLO split.example\r\n";
	struct run r;

	start(&r, &P);
	tick(&r, &P);
	for (size_t i = 0; i < sizeof(line) - 1; i++) {
		send_bytes(&r, &P, line + i, 1);
		if (i + 1 < sizeof(line) - 1) {
			g_assert_cmpuint(r.commands, ==, 0);
			g_assert_nonnull(r.s.line);
		}
	}
	g_assert_cmpuint(r.commands, ==, 1);
	g_assert_cmpmem(r.last.arg, r.last.arg_len, "split.example", 13);
	g_assert_cmpuint(r.s.evidence, ==, 0);
	/* The CR came in the read before the LF: still not a bare LF. */
	say(&r, &P, "");
	/* The line buffer was freed once judged; the HELO took its place. */
	g_assert_cmpmem(r.s.helo, r.s.helo_len, "split.example", 13);
	run_out(&r, &P);
	finish(&r);
}

/* Lines of 512, 513 and 100 000 bytes, in one piece and in many. */
static void
test_long_lines(void)
{
	static const struct {
		size_t len;	/* total, CRLF included */
		size_t chunk;
		bool long_line;
	} rows[] = {
		{ 512, 0, false }, { 513, 0, true }, { 100000, 0, true },
		{ 512, 100, false }, { 513, 100, true }, { 100000, 4096, true },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
		g_autofree char *text = g_malloc(rows[i].len + 40);
		struct run r;
		size_t chunk = rows[i].chunk != 0 ? rows[i].chunk : rows[i].len;

		memcpy(text, "EHLO ", 5);
		memset(text + 5, 'a', rows[i].len - 7);
		memcpy(text + rows[i].len - 2, "\r\n", 2);
		/* Then a second command: pipelining, if it is seen as one. */
		memcpy(text + rows[i].len, "QUIT\r\n", 6);
		start(&r, &P);
		tick(&r, &P);
		for (size_t off = 0; off < rows[i].len + 6; off += chunk)
			send_bytes(&r, &P, text + off,
			    MIN(chunk, rows[i].len + 6 - off));
		g_test_message("row %zu: evidence %x", i, r.s.evidence);
		g_assert_cmpuint(r.commands, ==, 1);
		g_assert_cmpint((r.s.evidence & EVIDENCE_LONG_LINE) != 0, ==,
		    rows[i].long_line);
		g_assert_true(r.s.evidence & EVIDENCE_PIPELINING);
		g_assert_false(r.s.evidence & EVIDENCE_BARE_LF);
		g_assert_cmpuint(r.s.helo_len, <=, SMTP_HELO_KEEP);
		g_assert_cmpuint(r.s.helo_class, ==, HELO_TOO_LONG);
		run_out(&r, &P);
		check_invariants(&r, true);
		finish(&r);
	}
}

/* Hanging up: impatient during the greeting or the reply only. */
static void
test_client_closed(void)
{
	struct run r;

	start(&r, &P);			/* during the greeting */
	smtp_closed(&r.s, &P, r.now, SMTP_END_CLIENT_CLOSED);
	g_assert_cmpint(r.s.end, ==, SMTP_END_CLIENT_CLOSED);
	g_assert_cmpint(r.s.state, ==, SMTP_CLOSED);
	g_assert_true(r.s.evidence & EVIDENCE_IMPATIENT);
	finish(&r);

	start(&r, &P);			/* waiting for its command */
	tick(&r, &P);
	smtp_closed(&r.s, &P, r.now, SMTP_END_CLIENT_CLOSED);
	g_assert_false(r.s.evidence & EVIDENCE_IMPATIENT);
	finish(&r);

	start(&r, &P);			/* during the drip */
	tick(&r, &P);
	say(&r, &P, "EHLO x.example\r\n");
	tick(&r, &P);
	smtp_closed(&r.s, &P, r.now, SMTP_END_CLIENT_CLOSED);
	g_assert_true(r.s.evidence & EVIDENCE_IMPATIENT);
	finish(&r);

	/* Exim gives up 5 minutes after its EHLO: not impatient. */
	start(&r, &P);
	tick(&r, &P);
	say(&r, &P, "EHLO x.example\r\n");
	r.now += 300000;
	smtp_timeout(&r.s, &P, r.now);
	drain(&r);
	g_assert_cmpint(r.s.state, ==, SMTP_DRIP);
	smtp_closed(&r.s, &P, r.now, SMTP_END_CLIENT_CLOSED);
	g_assert_cmpint(r.s.end, ==, SMTP_END_CLIENT_CLOSED);
	g_assert_cmpuint(r.s.evidence, ==, 0);
	finish(&r);

	/* The threshold, from the connection, both sides of it, for a
	 * close and a half-close alike. */
	for (int i = 0; i < 4; i++) {
		bool late = i & 1, half = i & 2;

		start(&r, &P);
		tick(&r, &P);
		say(&r, &P, "EHLO x.example\r\n");
		r.now = r.s.start + P.impatient_before - 1 + late;
		if (half)
			smtp_eof(&r.s, &P, r.now);
		else
			smtp_closed(&r.s, &P, r.now, SMTP_END_CLIENT_CLOSED);
		g_assert_cmpint((r.s.evidence & EVIDENCE_IMPATIENT) != 0, ==,
		    !late);
		drain(&r);
		g_assert_cmpint(r.s.state, ==, SMTP_CLOSED);
		finish(&r);
	}

	/* Gone after the reply ended: held to max_hold, not impatient. */
	for (int half = 0; half < 2; half++) {
		start(&r, &P);
		tick(&r, &P);
		say(&r, &P, "EHLO x.example\r\n");
		while (r.s.state == SMTP_DRIP)
			tick(&r, &P);
		if (half)
			smtp_eof(&r.s, &P, r.now);
		else
			smtp_closed(&r.s, &P, r.now, SMTP_END_CLIENT_CLOSED);
		drain(&r);
		g_assert_cmpint(r.s.end, ==, SMTP_END_MAX_HOLD);
		g_assert_cmpuint(r.s.evidence, ==, 0);
		finish(&r);
	}

	start(&r, &P);			/* while we say goodbye */
	run_out(&r, &P);
	smtp_closed(&r.s, &P, r.now, SMTP_END_CLIENT_CLOSED);
	g_assert_cmpint(r.s.end, ==, SMTP_END_MAX_HOLD);
	finish(&r);

	start(&r, &P);			/* an error of ours */
	smtp_closed(&r.s, &P, r.now, SMTP_END_ERROR);
	g_assert_cmpint(r.s.end, ==, SMTP_END_ERROR);
	g_assert_cmpstr(smtp_end_name(r.s.end), ==, "error");
	finish(&r);
}

/*
 * Shutdown and limits: a 421 at once in any state, after the last line
 * of a reply left open (one code per reply).
 */
static void
test_abort(void)
{
	static const struct {
		enum smtp_end why;
		const char *code;
	} rows[] = {
		{ SMTP_END_SHUTDOWN, "421 4.3.2 " },
		{ SMTP_END_LIMIT, "421 4.7.0 " },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
		for (int ticks = 0; ticks < 3; ticks++) {
			struct run r;

			start(&r, &P);
			if (ticks > 0)
				say(&r, &P, "EHLO x.example\r\n");
			for (int t = 0; t < ticks; t++)
				tick(&r, &P);
			g_autofree char *want = NULL;
			size_t before = r.out->len;
			/* The teaser, the greeting, a "250-" line. */
			const char *closer = (const char *[]){
			    script.greeting, "", script.helo_end }[ticks];

			smtp_abort(&r.s, rows[i].why);
			drain(&r);
			g_assert_cmpint(r.s.state, ==, SMTP_CLOSED);
			g_assert_cmpint(r.s.end, ==, rows[i].why);
			want = g_strconcat(closer, rows[i].why == SMTP_END_LIMIT ?
			    script.busy : script.shutdown, NULL);
			g_assert_cmpstr(r.out->str + before, ==, want);
			g_assert_true(g_str_has_prefix(r.out->str + before +
			    strlen(closer), rows[i].code));
			check_invariants(&r, ticks > 0);
			finish(&r);
		}
	}
	g_assert_cmpstr(smtp_end_name(SMTP_END_LIMIT), ==, "limit");
	g_assert_cmpstr(smtp_end_name(SMTP_END_SHUTDOWN), ==, "shutdown");
	g_assert_cmpstr(smtp_end_name(99), ==, "unknown");
}

/* A client that does not read: no line is queued over an unsent one. */
static void
test_slow_reader(void)
{
	struct run r;
	const char *data;
	size_t n;

	start(&r, &P);
	tick(&r, &P);
	say(&r, &P, "EHLO x.example\r\n");
	/* From now on, write only 3 bytes of each pending line. */
	for (int i = 0; i < 200 && r.s.state != SMTP_CLOSED; i++) {
		r.now = r.s.deadline;
		smtp_timeout(&r.s, &P, r.now);
		if ((n = smtp_pending(&r.s, &script, &data)) > 0) {
			g_string_append_len(r.out, data, (gssize)MIN(n, 3));
			smtp_sent(&r.s, &script, MIN(n, 3));
		}
	}
	/* Every byte that went out belongs to whole lines in order. */
	g_assert_cmpint(r.s.end, ==, SMTP_END_MAX_HOLD);
	g_assert_cmpint(r.now - r.s.start, <=, P.max_hold + P.drip_interval);
	g_assert_nonnull(strstr(r.out->str, "250-PIPELINING\r\n"));
	/* The 421 waited for the line partly written: none spliced. */
	check_invariants(&r, true);
	finish(&r);
}

/* greet_wait = 0: the final 220 at once, no teaser, no pregreet. */
static void
test_no_greet_wait(void)
{
	struct smtp_params p = P;
	struct run r;

	p.greet_wait = 0;
	start(&r, &p);
	g_assert_cmpint(r.s.state, ==, SMTP_WAIT);
	g_assert_cmpstr(r.out->str, ==, script.greeting);
	say(&r, &p, "EHLO x.example\r\n");
	g_assert_cmpuint(r.s.evidence, ==, 0);
	run_out(&r, &p);
	check_invariants(&r, true);
	finish(&r);
}

/* A pregreeting client's reply starts one tick after the greeting. */
static void
test_pregreet_then_drip(void)
{
	struct run r;

	start(&r, &P);
	say(&r, &P, "EHLO early.example\r\n");
	g_assert_cmpint(r.s.state, ==, SMTP_GREET);
	tick(&r, &P);
	g_assert_cmpint(r.s.state, ==, SMTP_DRIP);
	g_assert_true(g_str_has_suffix(r.out->str, script.greeting));
	tick(&r, &P);
	g_assert_true(g_str_has_suffix(r.out->str, script.drip_helo[0]));
	run_out(&r, &P);
	g_assert_cmpuint(r.s.evidence, ==, EVIDENCE_PREGREET);
	check_invariants(&r, true);
	finish(&r);
}

/* The contract's checker refuses what it must. */
static void
test_check(void)
{
	static const struct {
		const char *text;
		bool helo;
		const char *why;
	} rows[] = {
		{ "220 x\r\n250-x\r\n421 x\r\n", true,
		    "two codes in one reply" },
		{ "220-x\r\n421 x\r\n", true, "two codes in one reply" },
		{ "220 x\r\n250 x\r\n", true, "ended without a final 421" },
		{ "220 x\r\n250 x\r\n250 x\r\n421 x\r\n", true,
		    "a second 250 reply" },
		{ "220 x\r\n250 x\r\n421 x\r\n", false,
		    "250 to a command that was not HELO/EHLO" },
		{ "220 x\r\n421 x\r\n250 x\r\n", true,
		    "a line after the final 421" },
		{ "421-x\r\n421 x\r\n", false, "421- before the final 220" },
		{ "220 x\r\n354 x\r\n", false, "354" },
		{ "220 x\r\n550 x\r\n", false, "5xx" },
		{ "220 x\r\n250-x\r\n250 x\r\n421 x\r\n", true, NULL },
		{ "220-x\r\n220 x\r\n421-x\r\n421 x\r\n", false, NULL },
		{ "421 x\r\n", false, NULL },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(rows); i++)
		g_assert_cmpstr(smtpcheck_transcript(rows[i].text,
		    strlen(rows[i].text), rows[i].helo, true), ==, rows[i].why);
}

/* Long host names are cut, so every script line stays short. */
static void
test_script(void)
{
	struct smtp_script sc;
	char name[300];

	memset(name, 'h', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	smtp_script_init(&sc, name);
	g_assert_cmpuint(strlen(sc.bye), <, SMTP_SCRIPT_LINE_MAX - 1);
	g_assert_true(g_str_has_suffix(sc.bye, "\r\n"));
	g_assert_true(g_str_has_prefix(sc.teaser, "220-"));
	g_assert_true(g_str_has_prefix(sc.greeting, "220 "));
	g_assert_true(g_str_has_prefix(sc.helo_end, "250 "));
	for (int i = 0; i < SMTP_DRIP_LINES; i++) {
		g_assert_true(g_str_has_prefix(sc.drip_helo[i], "250-"));
		g_assert_true(g_str_has_prefix(sc.drip_other[i], "421-"));
		g_assert_true(g_str_has_suffix(sc.drip_other[i], "\r\n"));
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	smtp_script_init(&script, "tarpit.example.org");
	g_test_add_func("/smtp/polite", test_polite);
	g_test_add_func("/smtp/silent", test_silent);
	g_test_add_func("/smtp/answer", test_answer);
	g_test_add_func("/smtp/check", test_check);
	g_test_add_func("/smtp/evidence", test_evidence);
	g_test_add_func("/smtp/no-2xx-to-mail", test_no_2xx_to_mail);
	g_test_add_func("/smtp/split-line", test_split_line);
	g_test_add_func("/smtp/helo-slots", test_helo_slots);
	g_test_add_func("/smtp/long-lines", test_long_lines);
	g_test_add_func("/smtp/client-closed", test_client_closed);
	g_test_add_func("/smtp/abort", test_abort);
	g_test_add_func("/smtp/slow-reader", test_slow_reader);
	g_test_add_func("/smtp/no-greet-wait", test_no_greet_wait);
	g_test_add_func("/smtp/pregreet-then-drip", test_pregreet_then_drip);
	g_test_add_func("/smtp/script", test_script);
	return g_test_run();
}
