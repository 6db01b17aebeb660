#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

/*
 * test_log.c - table-driven unit tests for shared/log.c: escaping, event
 * building and truncation, stderr lines and their format, level
 * filtering, errno preservation, "%m", log injection, and whole lines
 * under concurrent writers; the writer thread: order, a stalled reader
 * (prompt returns, drops counted and reported, recovery), stopping with
 * a stalled reader, exiting with one, threads, fork; the event log:
 * order, refused lines, reopen for log rotation.
 *
 * Output to stderr is captured by pointing fd 2 at a file in a private
 * temporary directory and reading it back (capture_begin/capture_end),
 * or with g_test_trap_subprocess where a fresh process is needed. A
 * stalled reader is fd 2 on a full pipe (stall_stderr), read later by a
 * thread (struct reader). Tests that would hang if the code they guard
 * broke set an alarm(2).
 */

#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "log.h"
#include "testutil.h"

static char *tmpdir;

/* At exit, so that the g_test_trap_subprocess() runs, which end inside
 * a test, remove theirs too. */
static void
remove_tmpdir(void)
{
	test_tmpdir_remove(tmpdir);
}
static int capture_saved = -1;
static char *capture_path;

/* Point fd 2 at a fresh file until capture_end(). */
static void
capture_begin(void)
{
	static unsigned n;
	int fd;

	g_assert_cmpint(capture_saved, ==, -1);
	capture_path = g_strdup_printf("%s/capture-%u", tmpdir, n++);
	fd = open(capture_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
	g_assert_cmpint(fd, >=, 0);
	capture_saved = dup(STDERR_FILENO);
	g_assert_cmpint(capture_saved, >=, 0);
	g_assert_cmpint(dup2(fd, STDERR_FILENO), ==, STDERR_FILENO);
	close(fd);
}

/* Restore fd 2 and return what was written to it (g_free it). */
static char *
capture_end(void)
{
	char *text = NULL;
	GError *err = NULL;

	g_assert_cmpint(dup2(capture_saved, STDERR_FILENO), ==,
	    STDERR_FILENO);
	close(capture_saved);
	capture_saved = -1;
	g_assert_true(g_file_get_contents(capture_path, &text, NULL, &err));
	g_assert_no_error(err);
	g_unlink(capture_path);
	g_free(capture_path);
	capture_path = NULL;
	return text;
}

/* The stderr line log.c should write for ident, level name and text. */
static char *
expect_line(const char *ident, const char *level, const char *text)
{
	return g_strdup_printf("%s[%ld]: %s: %s\n", ident, (long)getpid(),
	    level, text);
}

/* Count the newlines in s. */
static unsigned
count_lines(const char *s)
{
	unsigned n = 0;

	for (; *s != '\0'; s++)
		if (*s == '\n')
			n++;
	return n;
}

/*
 * Run log_escape into a heap buffer of exactly outsize bytes followed by
 * a canary, check the canary, the NUL and the returned length.
 */
static char *
escape_checked(const char *in, size_t inlen, size_t maxin, size_t outsize)
{
	enum { CANARY = 16 };
	unsigned char *buf;
	char *copy;
	size_t n, i;

	buf = g_malloc(outsize + CANARY);
	memset(buf, 0xa5, outsize + CANARY);
	n = log_escape(in, inlen, maxin, (char *)buf, outsize);
	for (i = 0; i < CANARY; i++)
		g_assert_cmpuint(buf[outsize + i], ==, 0xa5);
	if (outsize == 0) {
		g_assert_cmpuint(n, ==, 0);
		g_free(buf);
		return g_strdup("");
	}
	g_assert_cmpuint(n, <, outsize);
	g_assert_cmpuint(buf[n], ==, '\0');
	g_assert_cmpuint(strlen((char *)buf), ==, n);
	copy = g_strdup((char *)buf);
	g_free(buf);
	return copy;
}

/* log_escape: each byte class, maxin, outsize; exact results. */
static void
test_escape(void)
{
	static const struct {
		const char *in;
		size_t inlen, maxin, outsize;
		const char *want;
	} cases[] = {
		/* Byte classes. */
		{ "", 0, 100, 64, "" },
		{ "abc", 3, 100, 64, "abc" },
		{ " ~!#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}", 37, 100, 64,
		    " ~!#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}" },
		{ "\\", 1, 100, 64, "\\\\" },
		{ "\"", 1, 100, 64, "\\\"" },
		{ "a\"b\\c", 5, 100, 64, "a\\\"b\\\\c" },
		{ "\r\n\t", 3, 100, 64, "\\x0d\\x0a\\x09" },
		{ "a\0b", 3, 100, 64, "a\\x00b" },
		{ "\x01\x1f", 2, 100, 64, "\\x01\\x1f" },
		{ "\x7f", 1, 100, 64, "\\x7f" },
		{ "\x80\xff", 2, 100, 64, "\\x80\\xff" },
		{ "\xc3\xa9t\xc3\xa9", 5, 100, 64, "\\xc3\\xa9t\\xc3\\xa9" },
		{ "\x1b[31m", 5, 100, 64, "\\x1b[31m" },
		{ "\\x0a", 4, 100, 64, "\\\\x0a" },
		/* maxin. */
		{ "abcdef", 6, 6, 64, "abcdef" },
		{ "abcdef", 6, 3, 64, "abc..." },
		{ "abcdef", 6, 0, 64, "..." },
		{ "", 0, 0, 64, "" },
		{ "\n\n\n", 3, 2, 64, "\\x0a\\x0a..." },
		{ "abcdef", 3, 5, 64, "abc" },
		/* outsize: cut at a whole escape, room kept for "...". */
		{ "abcdef", 6, 100, 7, "abcdef" },
		{ "abcdef", 6, 100, 6, "ab..." },
		{ "abcdef", 6, 100, 5, "a..." },
		{ "abcdef", 6, 100, 4, "..." },
		{ "abcdef", 6, 100, 3, "" },
		{ "abcdef", 6, 100, 2, "" },
		{ "abcdef", 6, 100, 1, "" },
		{ "a", 1, 100, 2, "a" },
		{ "ab", 2, 100, 3, "ab" },
		{ "\n", 1, 100, 5, "\\x0a" },
		{ "\n", 1, 100, 4, "..." },
		{ "\n\n", 2, 100, 9, "\\x0a\\x0a" },
		{ "\n\n", 2, 100, 8, "\\x0a..." },
		{ "\n\n", 2, 100, 7, "..." },
		{ "a\n", 2, 100, 6, "a\\x0a" },
		{ "a\n", 2, 100, 5, "a..." },
		{ "a\n", 2, 100, 4, "..." },
		{ "\"\"", 2, 100, 5, "\\\"\\\"" },
		{ "\"\"", 2, 100, 4, "..." },
		{ "\"\"\"", 3, 100, 6, "\\\"..." },
		{ "\"\"\"", 3, 100, 7, "\\\"\\\"\\\"" },
		{ "abc", 3, 1, 4, "..." },
		{ "abc", 3, 1, 5, "a..." },
		{ "abc", 3, 1, 3, "" },
	};
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *got;

		g_test_message("escape case %zu", i);
		got = escape_checked(cases[i].in, cases[i].inlen,
		    cases[i].maxin, cases[i].outsize);
		g_assert_cmpstr(got, ==, cases[i].want);
		g_free(got);
	}

	/* outsize 0 writes nothing at all. */
	g_free(escape_checked("abc", 3, 100, 0));
	g_free(escape_checked(NULL, 0, 100, 0));
	g_free(escape_checked(NULL, 0, 100, 1));
}

/*
 * log_escape with every outsize from 0 up: the output is always the full
 * escape, or a prefix of it that ends on an escape boundary plus "...".
 */
static void
test_escape_sweep(void)
{
	static const char in[] = "a\n\"b\\\x01\xff c\r\x7f";
	char full[128];
	bool boundary[128];
	size_t fulllen, inlen = sizeof(in) - 1, i, pos, outsize;

	fulllen = log_escape(in, inlen, inlen, full, sizeof(full));
	g_assert_cmpstr(full,
	    ==, "a\\x0a\\\"b\\\\\\x01\\xff c\\x0d\\x7f");
	memset(boundary, 0, sizeof(boundary));
	for (i = 0, pos = 0; i <= inlen; i++) {
		char one[8];

		boundary[pos] = true;
		if (i < inlen)
			pos += log_escape(in + i, 1, 1, one, sizeof(one));
	}
	g_assert_cmpuint(pos, ==, fulllen);

	for (outsize = 0; outsize < fulllen + 8; outsize++) {
		char *got;
		size_t n;

		got = escape_checked(in, inlen, inlen, outsize);
		n = strlen(got);
		if (outsize > fulllen) {
			g_assert_cmpstr(got, ==, full);
		} else if (outsize < 4) {
			g_assert_cmpstr(got, ==, "");
		} else {
			g_assert_cmpuint(n, >=, 3);
			g_assert_cmpstr(got + n - 3, ==, "...");
			g_assert_true(boundary[n - 3]);
			g_assert_cmpint(memcmp(got, full, n - 3), ==, 0);
			/* As much as fits: the next escape would not. */
			for (pos = n - 3 + 1; !boundary[pos]; pos++)
				continue;
			g_assert_cmpuint(pos + 3, >, outsize - 1);
		}
		g_free(got);
	}
}

/* Event building: quoting, escaping, numbers, formats, caps. */
static void
test_event(void)
{
	struct log_event ev;
	char big[300];

	log_event_begin(&ev, "connect");
	g_assert_cmpstr(ev.buf, ==, "connect");
	g_assert_cmpuint(ev.len, ==, 7);
	g_assert_false(ev.truncated);

	log_event_str(&ev, "helo", "mx.example.org");
	log_event_untrusted(&ev, "a", "two words", 9, 0);
	log_event_untrusted(&ev, "b", "", 0, 0);
	log_event_untrusted(&ev, "c", NULL, 0, 0);
	log_event_untrusted(&ev, "d", "k=v", 3, 0);
	log_event_untrusted(&ev, "e", "say \"hi\"", 8, 0);
	log_event_untrusted(&ev, "f", "x\"y", 3, 0);
	log_event_untrusted(&ev, "g", "line\r\nfake=1", 12, 0);
	log_event_untrusted(&ev, "h", "back\\slash", 10, 0);
	log_event_untrusted(&ev, "i", "a\0b", 3, 0);
	log_event_untrusted(&ev, "j", "abcdef", 6, 3);
	log_event_int(&ev, "n0", 0);
	log_event_int(&ev, "n1", -42);
	log_event_int(&ev, "n2", LLONG_MAX);
	log_event_int(&ev, "n3", LLONG_MIN);
	log_event_fmt(&ev, "f1", "%s:%d", "x", 5);
	log_event_fmt(&ev, "f2", "%d %s", 7, "up");
	log_event_fmt(&ev, "f3", "%s", "");
	log_event_str(&ev, "s", NULL);
	g_assert_false(ev.truncated);
	g_assert_cmpstr(ev.buf, ==, "connect helo=mx.example.org"
	    " a=\"two words\" b=\"\" c=\"\" d=\"k=v\""
	    " e=\"say \\\"hi\\\"\" f=\"x\\\"y\""
	    " g=\"line\\x0d\\x0afake=1\" h=back\\\\slash i=a\\x00b"
	    " j=abc... n0=0 n1=-42 n2=9223372036854775807"
	    " n3=-9223372036854775808 f1=x:5 f2=\"7 up\" f3=\"\" s=\"\"");
	g_assert_cmpuint(ev.len, ==, strlen(ev.buf));

	/* Untrusted values: LOG_VALUE_MAX input bytes unless told. */
	memset(big, 'a', sizeof(big));
	log_event_begin(&ev, "x");
	log_event_untrusted(&ev, "v", big, sizeof(big), 0);
	g_assert_cmpuint(ev.len, ==, strlen("x v=") + LOG_VALUE_MAX + 3);
	g_assert_cmpstr(ev.buf + ev.len - 4, ==, "a...");
	log_event_begin(&ev, "x");
	log_event_untrusted(&ev, "v", big, sizeof(big), 5);
	g_assert_cmpstr(ev.buf, ==, "x v=aaaaa...");
	log_event_begin(&ev, "x");
	log_event_untrusted(&ev, "v", big, 5, 5);
	g_assert_cmpstr(ev.buf, ==, "x v=aaaaa");

	/* Our own text is capped at 200 bytes. */
	big[sizeof(big) - 1] = '\0';
	log_event_begin(&ev, "x");
	log_event_str(&ev, "v", big);
	g_assert_cmpuint(ev.len, ==, strlen("x v=") + 200 + 3);
	log_event_begin(&ev, "x");
	log_event_fmt(&ev, "v", "%s", big);
	g_assert_cmpuint(ev.len, ==, strlen("x v=") + 200 + 3);
	g_assert_false(ev.truncated);
}

/* Check that every field after the name is a whole key=value. */
static void
assert_whole_fields(const char *buf)
{
	char **tok;
	size_t i;

	tok = g_strsplit(buf, " ", -1);
	for (i = 1; tok[i] != NULL; i++) {
		g_assert_true(g_regex_match_simple("^[a-z0-9_]+=[^ =\"]+$",
		    tok[i], 0, 0));
	}
	g_strfreev(tok);
}

/* Many fields: whole fields only, then truncated, then " truncated=1". */
static void
test_event_truncate(void)
{
	struct log_event ev;
	char key[16], *got, *want, *tail, flood[5000];
	size_t len, i;

	log_event_begin(&ev, "flood");
	for (i = 0; i < 200; i++) {
		snprintf(key, sizeof(key), "field_%zu", i);
		log_event_int(&ev, key, 1234567890123LL);
	}
	g_assert_true(ev.truncated);
	g_assert_cmpuint(ev.len, ==, strlen(ev.buf));
	g_assert_cmpuint(ev.len, <=, LOG_LINE_MAX - 1 - strlen(" truncated=1"));
	/* Nothing more fits than what is there, not even a short field. */
	g_assert_cmpuint(ev.len + strlen(" field_99=1234567890123"), >,
	    LOG_LINE_MAX - 1 - strlen(" truncated=1"));
	assert_whole_fields(ev.buf);
	len = ev.len;
	log_event_int(&ev, "z", 1);
	log_event_str(&ev, "z", "");
	g_assert_cmpuint(ev.len, ==, len);

	log_set_level(LOG_INFO);
	capture_begin();
	log_event_emit(&ev, LOG_NOTICE);
	got = capture_end();
	tail = g_strdup_printf("%s truncated=1", ev.buf);
	want = expect_line("slowspam", "notice", tail);
	g_assert_cmpstr(got, ==, want);
	g_assert_cmpuint(strlen(tail), <=, LOG_LINE_MAX - 1);
	g_free(tail);
	g_free(want);
	g_free(got);

	/* A huge value that cannot fit is dropped whole, later ones too. */
	memset(flood, '\x01', sizeof(flood));
	log_event_begin(&ev, "big");
	log_event_int(&ev, "before", 1);
	log_event_untrusted(&ev, "v", flood, sizeof(flood), sizeof(flood));
	log_event_int(&ev, "after", 2);
	g_assert_true(ev.truncated);
	g_assert_cmpstr(ev.buf, ==, "big before=1");

	/* A value that just fits is kept. */
	memset(flood, 'q', sizeof(flood));
	log_event_begin(&ev, "e");
	len = LOG_LINE_MAX - 1 - strlen(" truncated=1") - strlen("e v=");
	log_event_untrusted(&ev, "v", flood, len, len);
	g_assert_false(ev.truncated);
	g_assert_cmpuint(ev.len, ==, LOG_LINE_MAX - 1 - strlen(" truncated=1"));
	log_event_int(&ev, "k", 5);
	g_assert_true(ev.truncated);
}

/* log_msg and log_event_emit lines on stderr, exact format. */
static void
test_stderr_lines(void)
{
	struct log_event ev;
	char *got, *want;

	log_open("tst", LOG_DEST_STDERR, LOG_MAIL);
	log_set_level(LOG_DEBUG);
	capture_begin();
	log_msg(LOG_INFO, "hello %s %d", "world", 42);
	log_msg(LOG_ERR, "quote \"%s\" back\\slash", "q");
	log_msg(LOG_WARNING, "w");
	log_msg(LOG_NOTICE, "n");
	log_msg(LOG_DEBUG, "d");
	log_msg(LOG_CRIT, "c");
	log_msg(LOG_INFO, "%s", "");
	log_event_begin(&ev, "conn");
	log_event_str(&ev, "ip", "192.0.2.1");
	log_event_emit(&ev, LOG_INFO);
	got = capture_end();
	want = g_strdup_printf(
	    "tst[%1$ld]: info: hello world 42\n"
	    "tst[%1$ld]: err: quote \"q\" back\\slash\n"
	    "tst[%1$ld]: warning: w\n"
	    "tst[%1$ld]: notice: n\n"
	    "tst[%1$ld]: debug: d\n"
	    "tst[%1$ld]: crit: c\n"
	    "tst[%1$ld]: info: \n"
	    "tst[%1$ld]: info: conn ip=192.0.2.1\n", (long)getpid());
	g_assert_cmpstr(got, ==, want);
	g_free(want);
	g_free(got);
	log_set_level(LOG_INFO);
}

/* Defaults before log_open, in a fresh process: stderr, "slowspam", info. */
static void
test_defaults(void)
{
	if (g_test_subprocess()) {
		g_assert_cmpint(log_get_level(), ==, LOG_INFO);
		log_msg(LOG_DEBUG, "dropped");
		log_msg(LOG_INFO, "kept %d", 1);
		return;
	}
	g_test_trap_subprocess(NULL, 0, 0);
	g_test_trap_assert_passed();
	g_test_trap_assert_stderr("slowspam[*]: info: kept 1\n");
	g_test_trap_assert_stderr_unmatched("*dropped*");
}

/* log_open with an ident, captured by g_test_trap_subprocess. */
static void
test_trap_open(void)
{
	if (g_test_subprocess()) {
		log_open("milter", LOG_DEST_STDERR, LOG_DAEMON);
		log_msg(LOG_NOTICE, "started on %s", "[::1]:8891");
		return;
	}
	g_test_trap_subprocess(NULL, 0, 0);
	g_test_trap_assert_passed();
	g_test_trap_assert_stderr("milter[*]: notice: started on [::1]:8891\n");
}

/* A message is shown if its level is at or above the threshold. */
static void
test_level_filter(void)
{
	static const int levels[] = {
		LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG,
	};
	size_t i, j;

	log_open("lvl", LOG_DEST_STDERR, LOG_MAIL);
	for (i = 0; i < G_N_ELEMENTS(levels); i++) {
		GString *want = g_string_new(NULL);
		struct log_event ev;
		char *got;

		log_set_level(levels[i]);
		g_assert_cmpint(log_get_level(), ==, levels[i]);
		capture_begin();
		for (j = 0; j < G_N_ELEMENTS(levels); j++) {
			log_msg(levels[j], "m%zu", j);
			log_event_begin(&ev, "ev");
			log_event_int(&ev, "j", (long long)j);
			log_event_emit(&ev, levels[j]);
		}
		got = capture_end();
		for (j = 0; j <= i; j++) {
			g_string_append_printf(want,
			    "lvl[%ld]: %s: m%zu\n"
			    "lvl[%ld]: %s: ev j=%zu\n",
			    (long)getpid(), log_level_name(levels[j]), j,
			    (long)getpid(), log_level_name(levels[j]), j);
		}
		g_assert_cmpstr(got, ==, want->str);
		g_string_free(want, TRUE);
		g_free(got);
	}
	/* Out-of-range levels are clamped. */
	log_set_level(99);
	g_assert_cmpint(log_get_level(), ==, LOG_DEBUG);
	log_set_level(-3);
	g_assert_cmpint(log_get_level(), ==, LOG_EMERG);
	log_set_level(LOG_INFO);
}

/* Every public function leaves errno as it found it. */
static void
test_errno(void)
{
	struct log_event ev;
	char out[16], *got;
	int v, saved_fd;

#define KEEPS_ERRNO(call) do {						\
	errno = EPIPE;							\
	call;								\
	g_assert_cmpint(errno, ==, EPIPE);				\
} while (0)

	capture_begin();
	KEEPS_ERRNO(log_open("errno", LOG_DEST_STDERR, LOG_MAIL));
	KEEPS_ERRNO(log_set_level(LOG_INFO));
	KEEPS_ERRNO((void)log_get_level());
	KEEPS_ERRNO(log_msg(LOG_INFO, "a %d", 1));
	KEEPS_ERRNO(log_msg(LOG_INFO, "m %m"));
	KEEPS_ERRNO(log_msg(LOG_DEBUG, "dropped"));
	KEEPS_ERRNO((void)log_level_parse("info", &v));
	KEEPS_ERRNO((void)log_level_parse("nope", &v));
	KEEPS_ERRNO((void)log_facility_parse("mail", &v));
	KEEPS_ERRNO((void)log_facility_parse("nope", &v));
	KEEPS_ERRNO((void)log_level_name(LOG_ERR));
	KEEPS_ERRNO((void)log_escape("a\nb", 3, 2, out, sizeof(out)));
	KEEPS_ERRNO((void)log_escape("a", 1, 1, out, 0));
	KEEPS_ERRNO(log_event_begin(&ev, "e"));
	KEEPS_ERRNO(log_event_untrusted(&ev, "u", "x y", 3, 0));
	KEEPS_ERRNO(log_event_str(&ev, "s", "str"));
	KEEPS_ERRNO(log_event_int(&ev, "i", 7));
	KEEPS_ERRNO(log_event_fmt(&ev, "f", "%d %m", 3));
	KEEPS_ERRNO(log_event_emit(&ev, LOG_INFO));
	KEEPS_ERRNO(log_event_emit(&ev, LOG_DEBUG));
	KEEPS_ERRNO(log_open("errno", LOG_DEST_SYSLOG, LOG_LOCAL7));
	KEEPS_ERRNO(log_msg(LOG_DEBUG, "dropped, not sent to syslog"));
	KEEPS_ERRNO(log_close());
	KEEPS_ERRNO(log_close());
	got = capture_end();
	g_assert_cmpuint(count_lines(got), ==, 3);
	g_assert_nonnull(strstr(got, "f=\"3 Broken pipe\""));
	g_free(got);

	/* Even when the write itself fails (fd 2 closed: EBADF). */
	saved_fd = dup(STDERR_FILENO);
	g_assert_cmpint(saved_fd, >=, 0);
	close(STDERR_FILENO);
	errno = EPIPE;
	log_msg(LOG_ERR, "nowhere");
	v = errno;
	g_assert_cmpint(dup2(saved_fd, STDERR_FILENO), ==, STDERR_FILENO);
	close(saved_fd);
	g_assert_cmpint(v, ==, EPIPE);
#undef KEEPS_ERRNO
}

/* "%m" is strerror of the caller's errno, in messages and events. */
static void
test_percent_m(void)
{
	struct log_event ev;
	char *got, *want, *text;

	log_open("pm", LOG_DEST_STDERR, LOG_MAIL);
	log_set_level(LOG_INFO);
	capture_begin();
	errno = ENOENT;
	log_msg(LOG_ERR, "open %s: %m", "/nonexistent");
	errno = EACCES;
	log_event_begin(&ev, "fail");
	log_event_fmt(&ev, "error", "%m");
	log_event_emit(&ev, LOG_ERR);
	got = capture_end();
	text = g_strdup_printf("open /nonexistent: %s", strerror(ENOENT));
	want = g_strdup_printf("pm[%1$ld]: err: %2$s\n"
	    "pm[%1$ld]: err: fail error=\"%3$s\"\n", (long)getpid(), text,
	    strerror(EACCES));
	g_assert_cmpstr(got, ==, want);
	g_free(text);
	g_free(want);
	g_free(got);
}

/* Untrusted text can never start a second line. */
static void
test_injection(void)
{
	static const struct {
		const char *arg;
		const char *want;
	} cases[] = {
		{ "evil\npm[1]: err: fake", "helo evil\\x0apm[1]: err: fake" },
		{ "cr\rlf", "helo cr\\x0dlf" },
		{ "tab\there", "helo tab\\x09here" },
		{ "\x1b]0;title\x07", "helo \\x1b]0;title\\x07" },
		{ "del\x7f", "helo del\\x7f" },
		{ "\xc3\xa9", "helo \\xc3\\xa9" },
		{ "\"q\" \\", "helo \"q\" \\" },
	};
	size_t i;

	log_open("inj", LOG_DEST_STDERR, LOG_MAIL);
	log_set_level(LOG_INFO);
	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *got, *want;

		capture_begin();
		log_msg(LOG_INFO, "helo %s", cases[i].arg);
		got = capture_end();
		want = expect_line("inj", "info", cases[i].want);
		g_assert_cmpstr(got, ==, want);
		g_assert_cmpuint(count_lines(got), ==, 1);
		g_free(want);
		g_free(got);
	}
}

/* Long messages are cut at LOG_LINE_MAX and marked, escapes whole. */
static void
test_msg_truncate(void)
{
	static const struct {
		size_t len;
		char fill;
		size_t wantlen;		/* of the text after the prefix */
		bool dots;
	} cases[] = {
		{ 10, 'x', 10, false },
		{ LOG_LINE_MAX - 1, 'x', LOG_LINE_MAX - 1, false },
		{ LOG_LINE_MAX, 'x', LOG_LINE_MAX - 1, true },
		{ 5000, 'x', LOG_LINE_MAX - 1, true },
		{ 255, '\n', 255 * 4, false },
		{ 256, '\n', 255 * 4 + 3, true },
		{ 600, '\001', 255 * 4 + 3, true },
	};
	char *arg, *got, *prefix, *text;
	size_t i, n;

	log_open("cut", LOG_DEST_STDERR, LOG_MAIL);
	log_set_level(LOG_INFO);
	prefix = g_strdup_printf("cut[%ld]: info: ", (long)getpid());
	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		arg = g_malloc(cases[i].len + 1);
		memset(arg, cases[i].fill, cases[i].len);
		arg[cases[i].len] = '\0';
		capture_begin();
		log_msg(LOG_INFO, "%s", arg);
		got = capture_end();
		g_assert_cmpuint(count_lines(got), ==, 1);
		g_assert_true(g_str_has_prefix(got, prefix));
		text = got + strlen(prefix);
		n = strlen(text) - 1;
		g_assert_cmpuint(text[n], ==, '\n');
		text[n] = '\0';
		g_assert_cmpuint(n, ==, cases[i].wantlen);
		g_assert_cmpuint(n, <=, LOG_LINE_MAX - 1);
		g_assert_cmpint(g_str_has_suffix(text, "..."), ==,
		    cases[i].dots);
		if (cases[i].fill == '\n')
			g_assert_true(g_regex_match_simple(
			    "^(\\\\x0a)*(\\.\\.\\.)?$", text, 0, 0));
		if (cases[i].fill == '\001')
			g_assert_true(g_regex_match_simple(
			    "^(\\\\x01)*\\.\\.\\.$", text, 0, 0));
		g_free(got);
		g_free(arg);
	}
	g_free(prefix);
}

#define THREADS		8
#define THREAD_LINES	500

/* One writer thread: THREAD_LINES long lines, its number in each. */
static void *
writer(void *arg)
{
	int t = GPOINTER_TO_INT(arg), i;
	struct log_event ev;
	char pad[301];

	memset(pad, 'a' + t, sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	for (i = 0; i < THREAD_LINES; i++) {
		if (i % 2 == 0) {
			log_msg(LOG_INFO, "thread %d line %d %s", t, i, pad);
		} else {
			log_event_begin(&ev, "thread");
			log_event_int(&ev, "t", t);
			log_event_int(&ev, "line", i);
			log_event_str(&ev, "pad", pad);
			log_event_emit(&ev, LOG_INFO);
		}
	}
	return NULL;
}

/* 8 threads x 500 lines to one file: every line complete, none lost. */
static void
test_threads(void)
{
	pthread_t th[THREADS];
	bool seen[THREADS][THREAD_LINES];
	char *got, **lines, *prefix, *pat;
	GRegex *re_msg, *re_ev;
	size_t i, n, nlines;
	int t;

	log_open("thr", LOG_DEST_STDERR, LOG_MAIL);
	log_set_level(LOG_INFO);
	memset(seen, 0, sizeof(seen));
	capture_begin();
	for (t = 0; t < THREADS; t++)
		g_assert_cmpint(pthread_create(&th[t], NULL, writer,
		    GINT_TO_POINTER(t)), ==, 0);
	for (t = 0; t < THREADS; t++)
		g_assert_cmpint(pthread_join(th[t], NULL), ==, 0);
	got = capture_end();

	prefix = g_strdup_printf("^thr\\[%ld\\]: info: ", (long)getpid());
	pat = g_strdup_printf("%sthread ([0-7]) line ([0-9]+) ([a-h]{300})$",
	    prefix);
	re_msg = g_regex_new(pat, 0, 0, NULL);
	g_free(pat);
	pat = g_strdup_printf("%sthread t=([0-7]) line=([0-9]+) "
	    "pad=([a-h]{200})\\.\\.\\.$", prefix);
	re_ev = g_regex_new(pat, 0, 0, NULL);
	g_free(pat);
	g_assert_nonnull(re_msg);
	g_assert_nonnull(re_ev);
	g_assert_true(g_str_has_suffix(got, "\n"));
	lines = g_strsplit(got, "\n", -1);
	nlines = g_strv_length(lines);
	g_assert_cmpuint(nlines, ==, THREADS * THREAD_LINES + 1);
	g_assert_cmpstr(lines[nlines - 1], ==, "");
	for (i = 0; i + 1 < nlines; i++) {
		GMatchInfo *mi;
		char *ts, *ls, *pad;
		int line;
		bool ok;

		ok = g_regex_match(re_msg, lines[i], 0, &mi);
		if (!ok) {
			g_match_info_free(mi);
			ok = g_regex_match(re_ev, lines[i], 0, &mi);
		}
		if (!ok)
			g_error("malformed line %zu: %s", i, lines[i]);
		ts = g_match_info_fetch(mi, 1);
		ls = g_match_info_fetch(mi, 2);
		pad = g_match_info_fetch(mi, 3);
		t = ts[0] - '0';
		line = (int)g_ascii_strtoll(ls, NULL, 10);
		g_assert_cmpint(line, <, THREAD_LINES);
		for (n = 0; pad[n] != '\0'; n++)
			g_assert_cmpint(pad[n], ==, 'a' + t);
		g_assert_false(seen[t][line]);
		seen[t][line] = true;
		g_free(ts);
		g_free(ls);
		g_free(pad);
		g_match_info_free(mi);
	}
	for (t = 0; t < THREADS; t++)
		for (i = 0; i < THREAD_LINES; i++)
			g_assert_true(seen[t][i]);
	g_strfreev(lines);
	g_regex_unref(re_msg);
	g_regex_unref(re_ev);
	g_free(prefix);
	g_free(got);
}

/*
 * The writer thread. Tests that stall it point fd 2 at a pipe that is
 * full and that nobody reads (stall_stderr), then read it with a
 * reader thread (struct reader) when they want it to go on.
 */

static int stall_saved = -1;
static GPrintFunc stall_printerr;

/* g_printerr (failed assertions) while fd 2 is stalled: to the real one. */
static void
printerr_saved(const char *s)
{
	if (write(stall_saved, s, strlen(s)) < 0)
		return;
}

/* Microseconds on the monotonic clock. */
static gint64
now_us(void)
{
	return g_get_monotonic_time();
}

/*
 * Point fd 2 at a new pipe, filled to the last byte, so the next write
 * to stderr blocks; *rd is the read end, *filled what it holds.
 */
static void
stall_stderr(int *rd, size_t *filled)
{
	char chunk[4096];
	int p[2], fl;
	size_t n = 0;

	g_assert_cmpint(stall_saved, ==, -1);
	g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
	fl = fcntl(p[1], F_GETFL);
	g_assert_cmpint(fcntl(p[1], F_SETFL, fl | O_NONBLOCK), ==, 0);
	memset(chunk, 'j', sizeof(chunk));
	while (write(p[1], chunk, sizeof(chunk)) == (ssize_t)sizeof(chunk))
		n += sizeof(chunk);
	while (write(p[1], chunk, 1) == 1)
		n++;
	g_assert_cmpint(errno, ==, EAGAIN);
	g_assert_cmpint(fcntl(p[1], F_SETFL, fl), ==, 0);
	stall_saved = dup(STDERR_FILENO);
	g_assert_cmpint(stall_saved, >=, 0);
	g_assert_cmpint(dup2(p[1], STDERR_FILENO), ==, STDERR_FILENO);
	close(p[1]);
	stall_printerr = g_set_printerr_handler(printerr_saved);
	*rd = p[0];
	*filled = n;
}

/* Put fd 2 back after stall_stderr. */
static void
unstall_stderr(void)
{
	g_set_printerr_handler(stall_printerr);
	g_assert_cmpint(dup2(stall_saved, STDERR_FILENO), ==, STDERR_FILENO);
	close(stall_saved);
	stall_saved = -1;
}

/*
 * A thread that reads a pipe into a buffer, unless paused. A pthread
 * mutex, not a GMutex, so ThreadSanitizer sees it.
 */
struct reader {
	int		fd;
	pthread_mutex_t	mtx;
	GString		*buf;
	bool		paused, quit;
	GThread		*thread;
};

/* The reader thread: poll, read, append; until told to quit. */
static gpointer
reader_main(gpointer arg)
{
	struct reader *r = arg;
	char chunk[65536];
	bool paused, quit;
	ssize_t n;

	for (;;) {
		struct pollfd pfd = { .fd = r->fd, .events = POLLIN };

		pthread_mutex_lock(&r->mtx);
		paused = r->paused;
		quit = r->quit;
		pthread_mutex_unlock(&r->mtx);
		if (quit)
			break;
		if (paused) {
			g_usleep(2000);
			continue;
		}
		if (poll(&pfd, 1, 10) <= 0)
			continue;
		n = read(r->fd, chunk, sizeof(chunk));
		if (n <= 0)
			break;
		pthread_mutex_lock(&r->mtx);
		g_string_append_len(r->buf, chunk, n);
		pthread_mutex_unlock(&r->mtx);
	}
	return NULL;
}

/* Start reading fd, paused or not. */
static void
reader_start(struct reader *r, int fd, bool paused)
{
	r->fd = fd;
	pthread_mutex_init(&r->mtx, NULL);
	r->buf = g_string_new(NULL);
	r->paused = paused;
	r->quit = false;
	r->thread = g_thread_new("reader", reader_main, r);
}

/* Pause or resume. */
static void
reader_pause(struct reader *r, bool paused)
{
	pthread_mutex_lock(&r->mtx);
	r->paused = paused;
	pthread_mutex_unlock(&r->mtx);
}

/* What was read so far (g_free it). */
static char *
reader_text(struct reader *r)
{
	char *s;

	pthread_mutex_lock(&r->mtx);
	s = g_strndup(r->buf->str, r->buf->len);
	pthread_mutex_unlock(&r->mtx);
	return s;
}

/* Stop the thread; return all that was read (g_free it). */
static char *
reader_end(struct reader *r)
{
	pthread_mutex_lock(&r->mtx);
	r->quit = true;
	pthread_mutex_unlock(&r->mtx);
	g_thread_join(r->thread);
	pthread_mutex_destroy(&r->mtx);
	return g_string_free(r->buf, FALSE);
}

/* Wait up to 20 s for the written counter to reach want. */
static void
wait_written(uint64_t want)
{
	struct log_stats s;
	gint64 end = now_us() + 20 * G_USEC_PER_SEC;

	for (;;) {
		log_get_stats(&s);
		if (s.written >= want)
			return;
		if (now_us() > end)
			g_assert_cmpuint(s.written, >=, want);
		g_usleep(1000);
	}
}

/* How many times needle occurs in s. */
static unsigned
count_str(const char *s, const char *needle)
{
	unsigned n = 0;

	while ((s = strstr(s, needle)) != NULL) {
		n++;
		s += strlen(needle);
	}
	return n;
}

/* A file's contents (g_free it); "" if it does not exist. */
static char *
slurp(const char *path)
{
	char *text = NULL;

	if (!g_file_get_contents(path, &text, NULL, NULL))
		return g_strdup("");
	return text;
}

/*
 * In order, through the writer: messages, events and the lines before
 * and after it, in a file; paced so nothing is dropped; more than the
 * ring holds, so it wraps. Levels are filtered first.
 */
static void
test_writer_order(void)
{
	enum { N = 8000, BATCH = 400 };
	struct log_stats s0, s1;
	struct log_event ev;
	GString *want;
	GError *err = NULL;
	char pad[51], *got;
	uint64_t pushed = 0;
	long pid = (long)getpid();
	int i;

	memset(pad, 'p', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	log_open("ord", LOG_DEST_STDERR, LOG_MAIL);
	log_set_level(LOG_INFO);
	want = g_string_new(NULL);
	log_get_stats(&s0);
	capture_begin();
	log_msg(LOG_INFO, "sync before");
	g_string_append_printf(want, "ord[%ld]: info: sync before\n", pid);
	g_assert_true(log_writer_start(&err));
	g_assert_no_error(err);
	g_assert_false(log_writer_start(&err));
	g_assert_error(err, G_THREAD_ERROR, G_THREAD_ERROR_AGAIN);
	g_clear_error(&err);
	for (i = 0; i < N; i++) {
		log_msg(LOG_DEBUG, "filtered %d", i);
		if (i % 3 == 0) {
			log_event_begin(&ev, "ev");
			log_event_int(&ev, "i", i);
			log_event_emit(&ev, LOG_NOTICE);
			g_string_append_printf(want,
			    "ord[%ld]: notice: ev i=%d\n", pid, i);
		} else {
			log_msg(LOG_INFO, "line %d %s", i, pad + i % 50);
			g_string_append_printf(want,
			    "ord[%ld]: info: line %d %s\n", pid, i,
			    pad + i % 50);
		}
		if (++pushed % BATCH == 0)
			wait_written(s0.written + 1 + pushed);
	}
	log_writer_stop(10000);
	log_msg(LOG_INFO, "sync after");
	g_string_append_printf(want, "ord[%ld]: info: sync after\n", pid);
	got = capture_end();
	log_get_stats(&s1);
	g_assert_cmpstr(got, ==, want->str);
	g_assert_cmpuint(want->len, >, LOG_QUEUE_SIZE);
	g_assert_cmpuint(s1.dropped_log, ==, s0.dropped_log);
	g_assert_cmpuint(s1.written - s0.written, ==, N + 2);
	g_free(got);
	g_string_free(want, TRUE);
}

#define STALL_PUSHES	10000
#define STALL_EVERY	10	/* every tenth push is an event-log line */

/* A flood: STALL_PUSHES lines, every tenth an event-log line. */
struct flood {
	const char	*tag, *pad;
	gint64		elapsed;	/* microseconds */
};

/* The flood thread: push them all, timed. */
static void *
flood_main(void *arg)
{
	struct flood *f = arg;
	char line[64];
	gint64 t0 = now_us();
	int i, n;

	for (i = 0; i < STALL_PUSHES; i++) {
		if (i % STALL_EVERY == STALL_EVERY - 1) {
			n = snprintf(line, sizeof(line), "{\"%s\":%d}",
			    f->tag, i);
			log_eventlog_write(line, (size_t)n);
		} else
			log_msg(LOG_INFO, "%s %d %s", f->tag, i, f->pad);
	}
	f->elapsed = now_us() - t0;
	return NULL;
}

/*
 * Run fn(arg) in a thread and wait 10 s at most, so that a call that
 * blocks fails the test, with what, instead of hanging it.
 */
static void
in_thread(void *(*fn)(void *), void *arg, const char *what)
{
	struct timespec ts;
	pthread_t th;

	g_assert_cmpint(pthread_create(&th, NULL, fn, arg), ==, 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	if (pthread_timedjoin_np(th, NULL, &ts) != 0)
		g_assert_cmpstr(what, ==, "back within 10 s");
}

/* Flood in a thread (in_thread); return the time it took. */
static gint64
flood(const char *tag, const char *pad)
{
	struct flood f = { tag, pad, -1 };

	in_thread(flood_main, &f, "the flood");
	return f.elapsed;
}

/* log_msg(LOG_INFO, "%s", arg), for in_thread. */
static void *
msg_main(void *arg)
{
	log_msg(LOG_INFO, "%s", (const char *)arg);
	return NULL;
}

/*
 * Check that lines[*k..] are log lines of flood tag, increasing, and
 * if contiguous every log push from the first on; return how many.
 */
static int
flood_check(char **lines, size_t *k, const char *prefix, const char *tag,
    const char *pad, bool contiguous)
{
	char *head = g_strdup_printf("%s%s ", prefix, tag);
	int last = -1, seen = 0, i;

	for (; lines[*k] != NULL && g_str_has_prefix(lines[*k], head); (*k)++) {
		char *rest = lines[*k] + strlen(head), *end;

		i = (int)strtol(rest, &end, 10);
		g_assert_cmpint(*end, ==, ' ');
		g_assert_cmpstr(end + 1, ==, pad);
		g_assert_cmpint(i % STALL_EVERY, !=, STALL_EVERY - 1);
		g_assert_cmpint(i, >, last);
		if (contiguous) {
			/* The next log push after the one before. */
			int next = last + 1;

			if (next % STALL_EVERY == STALL_EVERY - 1)
				next++;
			g_assert_cmpint(i, ==, next);
		}
		last = i;
		seen++;
	}
	g_free(head);
	return seen;
}

/* The same for the event-log lines of flood tag, in the event file. */
static int
flood_check_events(char **lines, size_t *k, const char *tag, bool contiguous)
{
	char *head = g_strdup_printf("{\"%s\":", tag);
	int last = -1, seen = 0, i;

	for (; lines[*k] != NULL && g_str_has_prefix(lines[*k], head); (*k)++) {
		char *end;

		i = (int)strtol(lines[*k] + strlen(head), &end, 10);
		g_assert_cmpstr(end, ==, "}");
		g_assert_cmpint(i % STALL_EVERY, ==, STALL_EVERY - 1);
		g_assert_cmpint(i, >, last);
		if (contiguous)
			g_assert_cmpint(i, ==, last < 0 ? STALL_EVERY - 1 :
			    last + STALL_EVERY);
		last = i;
		seen++;
	}
	g_free(head);
	return seen;
}

/* Parse one report line; false if line is not one. */
static bool
parse_report(const char *line, const char *prefix, uint64_t *nlog,
    uint64_t *nevent)
{
	GMatchInfo *mi;
	GRegex *re;
	char *pat, *a, *b, *quoted;
	bool ok;

	quoted = g_regex_escape_string(prefix, -1);
	pat = g_strdup_printf("^%swarning: log: dropped ([0-9]+) log lines "
	    "and ([0-9]+) event-log lines since "
	    "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z "
	    "\\(the log reader is slower than the daemon\\)$", quoted);
	g_free(quoted);
	re = g_regex_new(pat, 0, 0, NULL);
	g_assert_nonnull(re);
	ok = g_regex_match(re, line, 0, &mi);
	if (ok) {
		a = g_match_info_fetch(mi, 1);
		b = g_match_info_fetch(mi, 2);
		*nlog = g_ascii_strtoull(a, NULL, 10);
		*nevent = g_ascii_strtoull(b, NULL, 10);
		g_free(a);
		g_free(b);
	}
	g_match_info_free(mi);
	g_regex_unref(re);
	g_free(pat);
	return ok;
}

/*
 * A stalled reader: log_msg and log_eventlog_write return at once, the
 * lines beyond the queue are dropped and counted; once the reader reads
 * again the report comes and later lines get through. A second stall
 * within the minute is not reported until the writer stops.
 */
static void
test_writer_stall(void)
{
	struct log_stats s0, s1, s2, s3, s4;
	struct reader rd;
	GError *err = NULL;
	char pad[101], *evpath, *got, *evgot, *prefix, *first, **lines;
	uint64_t nlog, nevent, dl, de, dl2, de2, accepted, accepted2;
	gint64 took;
	size_t filled, k;
	int fd, i;

	alarm(120);
	memset(pad, 'f', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	evpath = g_strdup_printf("%s/stall.jsonl", tmpdir);
	g_unlink(evpath);
	g_assert_true(log_eventlog_open(evpath, &err));
	g_assert_no_error(err);
	log_open("stall", LOG_DEST_STDERR, LOG_MAIL);
	log_set_level(LOG_INFO);
	stall_stderr(&fd, &filled);
	log_get_stats(&s0);
	g_assert_true(log_writer_start(&err));
	g_assert_no_error(err);
	in_thread(msg_main, (void *)"first", "log_msg");
	g_usleep(50000);	/* the writer is stuck on it, usually */

	took = flood("flood", pad);
	g_test_message("%d lines with a stalled reader: %.1f ms, %.2f us "
	    "a line", STALL_PUSHES, (double)took / 1000,
	    (double)took / STALL_PUSHES);
	g_assert_cmpint(took, <, G_USEC_PER_SEC);
	/* Levels are filtered before the queue: not even dropped. */
	for (i = 0; i < 100; i++)
		log_msg(LOG_DEBUG, "filtered %d", i);
	log_get_stats(&s1);
	dl = s1.dropped_log - s0.dropped_log;
	de = s1.dropped_event - s0.dropped_event;
	g_test_message("dropped %" G_GUINT64_FORMAT " log lines, %"
	    G_GUINT64_FORMAT " event-log lines", dl, de);
	g_assert_cmpuint(dl, >, 0);
	g_assert_cmpuint(de, >, 0);
	g_assert_cmpuint(s1.written, ==, s0.written);
	accepted = STALL_PUSHES - dl - de;

	/* The reader reads again: first, the report, the rest, then more. */
	reader_start(&rd, fd, false);
	wait_written(s0.written + 1 + accepted + 1);
	for (i = 0; i < 100; i++)
		log_msg(LOG_INFO, "after %d", i);
	for (i = 0; i < 10; i++) {
		char line[32];
		int n = snprintf(line, sizeof(line), "{\"after\":%d}", i);

		log_eventlog_write(line, (size_t)n);
	}
	wait_written(s0.written + 1 + accepted + 1 + 110);
	log_get_stats(&s2);
	g_assert_cmpuint(s2.dropped_log, ==, s1.dropped_log);
	g_assert_cmpuint(s2.dropped_event, ==, s1.dropped_event);

	/* Stalled again: dropped, but not reported within the minute. */
	reader_pause(&rd, true);
	g_usleep(50000);
	took = flood("again", pad);
	g_assert_cmpint(took, <, G_USEC_PER_SEC);
	log_get_stats(&s3);
	dl2 = s3.dropped_log - s2.dropped_log;
	de2 = s3.dropped_event - s2.dropped_event;
	g_assert_cmpuint(dl2 + de2, >, 0);
	accepted2 = STALL_PUSHES - dl2 - de2;
	reader_pause(&rd, false);
	wait_written(s2.written + accepted2);
	for (i = 0; i < 100; i++)
		log_msg(LOG_INFO, "after2 %d", i);
	wait_written(s2.written + accepted2 + 100);
	for (;;) {
		got = reader_text(&rd);
		if (strstr(got, "after2 99\n") != NULL)
			break;
		g_free(got);
		g_usleep(1000);
	}
	g_assert_cmpuint(count_str(got, "log: dropped"), ==, 1);
	g_free(got);

	/* Stopping tells the drops not told yet. */
	log_writer_stop(10000);
	log_get_stats(&s4);
	g_assert_cmpuint(s4.written, ==, s2.written + accepted2 + 100 + 1);
	for (;;) {
		got = reader_text(&rd);
		if (count_str(got, "log: dropped") == 2 &&
		    g_str_has_suffix(got, "daemon)\n"))
			break;
		g_free(got);
		g_usleep(1000);
	}
	g_free(got);
	got = reader_end(&rd);
	unstall_stderr();
	close(fd);
	log_eventlog_close();
	alarm(0);

	/* stderr: the filling, then the lines in order. */
	g_assert_cmpuint(strlen(got), >, filled);
	for (k = 0; k < filled; k++)
		g_assert_cmpint(got[k], ==, 'j');
	lines = g_strsplit(got + filled, "\n", -1);
	prefix = g_strdup_printf("stall[%ld]: ", (long)getpid());
	first = g_strdup_printf("%sinfo: first", prefix);
	/* first and the report, in either order (who ran first). */
	k = 0;
	if (g_strcmp0(lines[0], first) == 0)
		k = 1;
	g_assert_true(parse_report(lines[k], prefix, &nlog, &nevent));
	g_assert_cmpuint(nlog, ==, dl);
	g_assert_cmpuint(nevent, ==, de);
	if (k == 0)
		g_assert_cmpstr(lines[1], ==, first);
	k = 2;
	{
		char *p2 = g_strdup_printf("%sinfo: ", prefix);
		int nlines;

		nlines = flood_check(lines, &k, p2, "flood", pad, true);
		g_assert_cmpuint((uint64_t)nlines, ==,
		    STALL_PUSHES - STALL_PUSHES / STALL_EVERY - dl);
		for (i = 0; i < 100; i++, k++) {
			char *w = g_strdup_printf("%safter %d", p2, i);

			g_assert_cmpstr(lines[k], ==, w);
			g_free(w);
		}
		nlines = flood_check(lines, &k, p2, "again", pad, false);
		g_assert_cmpuint((uint64_t)nlines, ==,
		    STALL_PUSHES - STALL_PUSHES / STALL_EVERY - dl2);
		for (i = 0; i < 100; i++, k++) {
			char *w = g_strdup_printf("%safter2 %d", p2, i);

			g_assert_cmpstr(lines[k], ==, w);
			g_free(w);
		}
		g_free(p2);
	}
	g_assert_true(parse_report(lines[k], prefix, &nlog, &nevent));
	g_assert_cmpuint(nlog, ==, dl2);
	g_assert_cmpuint(nevent, ==, de2);
	g_assert_cmpstr(lines[k + 1], ==, "");
	g_assert_null(lines[k + 2]);
	g_strfreev(lines);

	/* The event log: what was queued, in order. */
	evgot = slurp(evpath);
	lines = g_strsplit(evgot, "\n", -1);
	k = 0;
	g_assert_cmpuint((uint64_t)flood_check_events(lines, &k, "flood",
	    true), ==, STALL_PUSHES / STALL_EVERY - de);
	for (i = 0; i < 10; i++, k++) {
		char *w = g_strdup_printf("{\"after\":%d}", i);

		g_assert_cmpstr(lines[k], ==, w);
		g_free(w);
	}
	g_assert_cmpuint((uint64_t)flood_check_events(lines, &k, "again",
	    false), ==, STALL_PUSHES / STALL_EVERY - de2);
	g_assert_cmpstr(lines[k], ==, "");
	g_assert_null(lines[k + 1]);
	g_strfreev(lines);
	g_free(evgot);
	g_unlink(evpath);
	g_free(evpath);
	g_free(first);
	g_free(prefix);
	g_free(got);
}

/* log_writer_stop from a thread: its timeout, and how long it took. */
struct stopper {
	int	timeout_ms;
	gint64	elapsed;
};

/* The stopper thread. */
static void *
stopper_main(void *arg)
{
	struct stopper *st = arg;
	gint64 t0 = now_us();

	log_writer_stop(st->timeout_ms);
	st->elapsed = now_us() - t0;
	return NULL;
}

/* Time log_writer_stop(timeout_ms), in a thread (in_thread). */
static gint64
timed_stop(int timeout_ms)
{
	struct stopper st = { timeout_ms, -1 };

	in_thread(stopper_main, &st, "log_writer_stop");
	return st.elapsed;
}

/*
 * log_writer_stop with a reader that does not read returns after its
 * timeout; the writer, left alone, still writes what was queued, and
 * logging does not wait meanwhile; a new writer can start only after.
 */
static void
test_writer_stop_stalled(void)
{
	struct log_stats s0, s1;
	struct reader rd;
	GString *want;
	GError *err = NULL;
	char *got;
	gint64 t0, took;
	size_t filled;
	int fd, i;

	alarm(60);
	log_open("stop", LOG_DEST_STDERR, LOG_MAIL);
	log_set_level(LOG_INFO);
	stall_stderr(&fd, &filled);
	log_get_stats(&s0);
	g_assert_true(log_writer_start(&err));
	g_assert_no_error(err);
	for (i = 0; i < 10; i++)
		log_msg(LOG_INFO, "queued %d", i);
	took = timed_stop(300);
	g_test_message("log_writer_stop(300) with a stalled reader: %.1f ms",
	    (double)took / 1000);
	g_assert_cmpint(took, >=, 290 * 1000);
	g_assert_cmpint(took, <, 1000 * 1000);
	t0 = now_us();
	log_msg(LOG_INFO, "late");
	g_assert_cmpint(now_us() - t0, <, 100 * 1000);
	took = timed_stop(300);		/* nothing more to stop */
	g_assert_cmpint(took, <, 100 * 1000);
	g_assert_false(log_writer_start(&err));
	g_assert_error(err, G_THREAD_ERROR, G_THREAD_ERROR_AGAIN);
	g_clear_error(&err);

	/* The reader reads: the old writer finishes, a new one can start. */
	reader_start(&rd, fd, false);
	t0 = now_us();
	while (!log_writer_start(NULL)) {
		g_assert_cmpint(now_us() - t0, <, 20 * G_USEC_PER_SEC);
		g_usleep(1000);
	}
	log_writer_stop(10000);
	log_get_stats(&s1);
	g_assert_cmpuint(s1.written - s0.written, ==, 11);
	g_assert_cmpuint(s1.dropped_log, ==, s0.dropped_log);
	want = g_string_new(NULL);
	for (i = 0; i < 10; i++)
		g_string_append_printf(want, "stop[%ld]: info: queued %d\n",
		    (long)getpid(), i);
	g_string_append_printf(want, "stop[%ld]: info: late\n",
	    (long)getpid());
	for (;;) {
		got = reader_text(&rd);
		if (strlen(got) >= filled + want->len)
			break;
		g_free(got);
		g_usleep(1000);
	}
	g_free(got);
	got = reader_end(&rd);
	unstall_stderr();
	close(fd);
	alarm(0);
	g_assert_cmpstr(got + filled, ==, want->str);
	g_string_free(want, TRUE);
	g_free(got);
}

/*
 * Exit with the writer stuck in a write: no crash, no leak, no sanitizer
 * report (run-test.sh fails the test on any, the child's too).
 */
static void
test_writer_exit_stalled(void)
{
	if (g_test_subprocess()) {
		size_t filled;
		int fd;

		stall_stderr(&fd, &filled);
		log_open("exit", LOG_DEST_STDERR, LOG_MAIL);
		g_assert_true(log_writer_start(NULL));
		for (int i = 0; i < 1000; i++)
			log_msg(LOG_INFO, "stuck %d", i);
		log_writer_stop(100);
		log_msg(LOG_INFO, "bye");
		return;
	}
	g_test_trap_subprocess(NULL, 20 * G_USEC_PER_SEC, 0);
	g_test_trap_assert_passed();
}

/*
 * The event log: errors at open name the path; lines written directly
 * before the writer starts and after it stops, queued in between, in
 * order, newline added, broken and long lines refused; closed, nothing.
 */
static void
test_eventlog(void)
{
	enum { N = 6000, BATCH = 400 };
	struct log_stats s0, s1;
	struct stat st;
	GString *want;
	GError *err = NULL;
	char *path, *got, *big;
	mode_t um;
	uint64_t pushed = 0;
	int i;

	path = g_strdup_printf("%s/ev.jsonl", tmpdir);
	g_unlink(path);
	g_assert_false(log_eventlog_open("/nonexistent-dir/ev.jsonl", &err));
	g_assert_error(err, G_FILE_ERROR, G_FILE_ERROR_NOENT);
	g_assert_nonnull(strstr(err->message, "/nonexistent-dir/ev.jsonl"));
	g_clear_error(&err);
	g_assert_false(log_eventlog_open("", &err));
	g_assert_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL);
	g_clear_error(&err);
	g_assert_true(log_eventlog_open(path, &err));
	g_assert_no_error(err);
	um = umask(0);
	umask(um);
	g_assert_cmpint(stat(path, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0640 & ~um);

	want = g_string_new(NULL);
	log_get_stats(&s0);
	log_eventlog_write("{\"a\":1}", 7);
	got = slurp(path);
	g_assert_cmpstr(got, ==, "{\"a\":1}\n");	/* written at once */
	g_free(got);
	g_string_append(want, "{\"a\":1}\n");
	log_eventlog_write("{\"b\":2}\n", 8);
	g_string_append(want, "{\"b\":2}\n");
	log_eventlog_write("", 0);
	log_eventlog_write("\n", 1);
	log_eventlog_write(NULL, 3);
	log_eventlog_write("{\"x\":\n1}", 8);		/* refused */
	big = g_malloc(LOG_EVENTLOG_LINE_MAX + 1);
	memset(big, 'b', LOG_EVENTLOG_LINE_MAX + 1);
	log_eventlog_write(big, LOG_EVENTLOG_LINE_MAX);	/* refused */
	log_eventlog_write(big, LOG_EVENTLOG_LINE_MAX - 1);
	g_string_append_len(want, big, LOG_EVENTLOG_LINE_MAX - 1);
	g_string_append_c(want, '\n');
	log_get_stats(&s1);
	g_assert_cmpuint(s1.failed - s0.failed, ==, 2);
	g_assert_cmpuint(s1.written - s0.written, ==, 3);

	g_assert_true(log_writer_start(&err));
	g_assert_no_error(err);
	for (i = 0; i < N; i++) {
		char line[128];
		int n = snprintf(line, sizeof(line),
		    "{\"i\":%d,\"pad\":\"%.*s\"}%s", i, i % 60, big,
		    i % 2 ? "\n" : "");

		log_eventlog_write(line, (size_t)n);
		g_string_append_printf(want, "{\"i\":%d,\"pad\":\"%.*s\"}\n",
		    i, i % 60, big);
		if (++pushed % BATCH == 0)
			wait_written(s1.written + pushed);
	}
	log_eventlog_write(big, LOG_EVENTLOG_LINE_MAX - 1);
	g_string_append_len(want, big, LOG_EVENTLOG_LINE_MAX - 1);
	g_string_append_c(want, '\n');
	log_writer_stop(10000);
	log_eventlog_write("{\"c\":3}", 7);
	g_string_append(want, "{\"c\":3}\n");
	got = slurp(path);
	g_assert_cmpstr(got, ==, want->str);
	g_assert_cmpuint(want->len, >, LOG_QUEUE_SIZE);
	g_free(got);
	log_get_stats(&s0);
	g_assert_cmpuint(s0.dropped_event, ==, s1.dropped_event);
	g_assert_cmpuint(s0.written - s1.written, ==, N + 2);

	/* Closed: nothing more, queued or not. */
	log_eventlog_close();
	log_eventlog_write("{\"d\":4}", 7);
	g_assert_true(log_writer_start(&err));
	log_eventlog_write("{\"e\":5}", 7);
	log_writer_stop(10000);
	got = slurp(path);
	g_assert_cmpstr(got, ==, want->str);
	g_free(got);
	log_get_stats(&s1);
	g_assert_cmpuint(s1.written, ==, s0.written);
	g_assert_cmpuint(s1.failed, ==, s0.failed);

	g_string_free(want, TRUE);
	g_free(big);
	g_unlink(path);
	g_free(path);
}

/*
 * Reopen for log rotation, with the writer behind (stuck on a log line):
 * lines queued before the reopen go to the renamed file, after it to the
 * new one; the stderr prefix is the one of when each line was logged. A
 * reopen that fails is logged with the path, once, and lines still go to
 * the old file.
 */
static void
test_eventlog_reopen(void)
{
	struct reader rd;
	GString *old, *new, *want;
	GError *err = NULL;
	char *path, *rotated, *got, *line;
	size_t filled;
	long pid = (long)getpid();
	int fd, i;

	alarm(60);
	path = g_strdup_printf("%s/rot.jsonl", tmpdir);
	rotated = g_strdup_printf("%s/rot.jsonl.1", tmpdir);
	g_unlink(path);
	g_unlink(rotated);
	g_assert_true(log_eventlog_open(path, &err));
	g_assert_no_error(err);
	log_open("rot", LOG_DEST_STDERR, LOG_MAIL);
	log_set_level(LOG_INFO);
	stall_stderr(&fd, &filled);
	g_assert_true(log_writer_start(&err));
	g_assert_no_error(err);
	log_msg(LOG_INFO, "block");
	old = g_string_new(NULL);
	new = g_string_new(NULL);
	for (i = 0; i < 100; i++) {
		line = g_strdup_printf("{\"old\":%d}", i);
		log_eventlog_write(line, strlen(line));
		g_string_append_printf(old, "%s\n", line);
		g_free(line);
	}
	log_msg(LOG_INFO, "before the ident changes");
	log_open("rot2", LOG_DEST_STDERR, LOG_MAIL);
	log_msg(LOG_INFO, "after");
	g_assert_cmpint(rename(path, rotated), ==, 0);
	log_eventlog_reopen(path);
	for (i = 0; i < 100; i++) {
		line = g_strdup_printf("{\"new\":%d}", i);
		log_eventlog_write(line, strlen(line));
		g_string_append_printf(new, "%s\n", line);
		g_free(line);
	}
	/* Nothing is written yet: the writer is stuck on "block". */
	got = slurp(path);
	g_assert_cmpstr(got, ==, "");
	g_free(got);
	reader_start(&rd, fd, false);
	log_writer_stop(10000);
	want = g_string_new(NULL);
	g_string_append_printf(want, "rot[%ld]: info: block\n"
	    "rot[%ld]: info: before the ident changes\n"
	    "rot2[%ld]: info: after\n", pid, pid, pid);
	for (;;) {
		got = reader_text(&rd);
		if (strlen(got) >= filled + want->len)
			break;
		g_free(got);
		g_usleep(1000);
	}
	g_free(got);
	got = reader_end(&rd);
	unstall_stderr();
	close(fd);
	alarm(0);
	g_assert_cmpstr(got + filled, ==, want->str);
	g_free(got);
	got = slurp(rotated);
	g_assert_cmpstr(got, ==, old->str);
	g_free(got);
	got = slurp(path);
	g_assert_cmpstr(got, ==, new->str);
	g_free(got);

	/* Without the writer too. */
	g_assert_cmpint(rename(path, rotated), ==, 0);
	log_eventlog_reopen(path);
	log_eventlog_write("{\"sync\":1}", 10);
	got = slurp(path);
	g_assert_cmpstr(got, ==, "{\"sync\":1}\n");
	g_free(got);

	/* A reopen that fails: logged once a minute; the old file stays. */
	log_open("rot", LOG_DEST_STDERR, LOG_MAIL);
	capture_begin();
	log_eventlog_reopen("/nonexistent-dir/rot.jsonl");
	log_eventlog_reopen("/nonexistent-dir/rot.jsonl");
	g_assert_true(log_writer_start(&err));
	log_eventlog_reopen("/nonexistent-dir/rot.jsonl");
	log_eventlog_write("{\"still\":1}", 11);
	log_writer_stop(10000);
	log_eventlog_write("{\"still\":2}", 11);
	got = capture_end();
	line = g_strdup_printf("rot[%ld]: err: event_log "
	    "/nonexistent-dir/rot.jsonl: %s; event lines still go to the "
	    "file open before\n", pid, g_strerror(ENOENT));
	g_assert_cmpstr(got, ==, line);
	g_free(line);
	g_free(got);
	got = slurp(path);
	g_assert_cmpstr(got, ==,
	    "{\"sync\":1}\n{\"still\":1}\n{\"still\":2}\n");
	g_free(got);
	log_eventlog_close();

	g_string_free(old, TRUE);
	g_string_free(new, TRUE);
	g_string_free(want, TRUE);
	g_unlink(path);
	g_unlink(rotated);
	g_free(path);
	g_free(rotated);
}

#define WTHREADS	8
#define WTHREAD_LINES	3000

/* One writer thread: messages, events and event-log lines, numbered. */
static void *
queue_writer(void *arg)
{
	int t = GPOINTER_TO_INT(arg), i, n;
	struct log_event ev;
	char pad[201], line[300];

	memset(pad, 'a' + t, sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	for (i = 0; i < WTHREAD_LINES; i++) {
		switch (i % 3) {
		case 0:
			log_msg(LOG_INFO, "thread %d line %d %s", t, i, pad);
			break;
		case 1:
			log_event_begin(&ev, "thread");
			log_event_int(&ev, "t", t);
			log_event_int(&ev, "line", i);
			log_event_str(&ev, "pad", pad);
			log_event_emit(&ev, LOG_INFO);
			break;
		default:
			n = snprintf(line, sizeof(line),
			    "{\"t\":%d,\"line\":%d,\"pad\":\"%s\"}", t, i, pad);
			log_eventlog_write(line, (size_t)n);
			break;
		}
	}
	return NULL;
}

/*
 * 8 threads through the writer at once: every line whole, each
 * thread's lines in its order, and what is missing counted as dropped.
 */
static void
test_writer_threads(void)
{
	pthread_t th[WTHREADS];
	int last_log[WTHREADS], last_ev[WTHREADS];
	struct log_stats s0, s1;
	GError *err = NULL;
	char *got, *evgot = NULL, **lines, *prefix, *pat, *path;
	GRegex *re_msg, *re_ev, *re_json;
	uint64_t nlog = 0, nev = 0, rlog = 0, revent = 0, a, b;
	size_t i;
	int t;

	path = g_strdup_printf("%s/threads.jsonl", tmpdir);
	g_unlink(path);
	g_assert_true(log_eventlog_open(path, &err));
	log_open("wthr", LOG_DEST_STDERR, LOG_MAIL);
	log_set_level(LOG_INFO);
	log_get_stats(&s0);
	capture_begin();
	g_assert_true(log_writer_start(&err));
	g_assert_no_error(err);
	for (t = 0; t < WTHREADS; t++)
		g_assert_cmpint(pthread_create(&th[t], NULL, queue_writer,
		    GINT_TO_POINTER(t)), ==, 0);
	for (t = 0; t < WTHREADS; t++)
		g_assert_cmpint(pthread_join(th[t], NULL), ==, 0);
	log_writer_stop(20000);
	got = capture_end();
	log_eventlog_close();
	log_get_stats(&s1);

	prefix = g_strdup_printf("^wthr\\[%ld\\]: ", (long)getpid());
	pat = g_strdup_printf("%sinfo: thread ([0-7]) line ([0-9]+) "
	    "([a-h]{200})$", prefix);
	re_msg = g_regex_new(pat, 0, 0, NULL);
	g_free(pat);
	pat = g_strdup_printf("%sinfo: thread t=([0-7]) line=([0-9]+) "
	    "pad=([a-h]{200})$", prefix);
	re_ev = g_regex_new(pat, 0, 0, NULL);
	g_free(pat);
	re_json = g_regex_new("^\\{\"t\":([0-7]),\"line\":([0-9]+),"
	    "\"pad\":\"([a-h]{200})\"\\}$", 0, 0, NULL);
	for (t = 0; t < WTHREADS; t++)
		last_log[t] = last_ev[t] = -1;
	g_free(prefix);
	prefix = g_strdup_printf("wthr[%ld]: ", (long)getpid());
	for (int pass = 0; pass < 2; pass++) {
		lines = g_strsplit(pass == 0 ? got : (evgot = slurp(path)),
		    "\n", -1);
		for (i = 0; lines[i] != NULL && lines[i][0] != '\0'; i++) {
			GMatchInfo *mi;
			char *ts, *ls, *pad;
			int line, *last;
			bool ok;

			if (pass == 0 && parse_report(lines[i], prefix, &a,
			    &b)) {
				rlog += a;
				revent += b;
				continue;
			}
			if (pass == 0) {
				ok = g_regex_match(re_msg, lines[i], 0, &mi);
				if (!ok) {
					g_match_info_free(mi);
					ok = g_regex_match(re_ev, lines[i], 0,
					    &mi);
				}
			} else
				ok = g_regex_match(re_json, lines[i], 0, &mi);
			if (!ok)
				g_error("malformed line %zu: %s", i, lines[i]);
			ts = g_match_info_fetch(mi, 1);
			ls = g_match_info_fetch(mi, 2);
			pad = g_match_info_fetch(mi, 3);
			t = ts[0] - '0';
			line = (int)g_ascii_strtoll(ls, NULL, 10);
			g_assert_cmpint(line, <, WTHREAD_LINES);
			g_assert_cmpint(line % 3 == 2, ==, pass == 1);
			for (size_t j = 0; pad[j] != '\0'; j++)
				g_assert_cmpint(pad[j], ==, 'a' + t);
			/* Each thread's lines in its own order. */
			last = pass == 0 ? &last_log[t] : &last_ev[t];
			g_assert_cmpint(line, >, *last);
			*last = line;
			if (pass == 0)
				nlog++;
			else
				nev++;
			g_free(ts);
			g_free(ls);
			g_free(pad);
			g_match_info_free(mi);
		}
		g_assert_null(lines[i] == NULL ? NULL : lines[i + 1]);
		g_strfreev(lines);
	}
	g_test_message("%d threads: %" G_GUINT64_FORMAT " log lines and %"
	    G_GUINT64_FORMAT " event-log lines written, %" G_GUINT64_FORMAT
	    " and %" G_GUINT64_FORMAT " dropped", WTHREADS, nlog, nev,
	    s1.dropped_log - s0.dropped_log,
	    s1.dropped_event - s0.dropped_event);
	/* Whatever is missing was counted, and reported. */
	g_assert_cmpuint(nlog + s1.dropped_log - s0.dropped_log, ==,
	    WTHREADS * (WTHREAD_LINES / 3 * 2));
	g_assert_cmpuint(nev + s1.dropped_event - s0.dropped_event, ==,
	    WTHREADS * (WTHREAD_LINES / 3));
	g_assert_cmpuint(rlog, ==, s1.dropped_log - s0.dropped_log);
	g_assert_cmpuint(revent, ==, s1.dropped_event - s0.dropped_event);
	g_regex_unref(re_msg);
	g_regex_unref(re_ev);
	g_regex_unref(re_json);
	g_free(prefix);
	g_free(evgot);
	g_free(got);
	g_unlink(path);
	g_free(path);
}

/* A child forked while the writer runs logs by itself, synchronously. */
static void
test_writer_fork(void)
{
	GError *err = NULL;
	char *got, *want;
	pid_t pid;
	int status;

	log_open("fork", LOG_DEST_STDERR, LOG_MAIL);
	log_set_level(LOG_INFO);
	capture_begin();
	g_assert_true(log_writer_start(&err));
	g_assert_no_error(err);
	log_msg(LOG_INFO, "parent");
	pid = fork();
	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		log_msg(LOG_INFO, "child");
		_exit(0);
	}
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	log_writer_stop(10000);
	got = capture_end();
	want = g_strdup_printf("fork[%ld]: info: child\n", (long)pid);
	g_assert_nonnull(strstr(got, want));
	g_free(want);
	want = g_strdup_printf("fork[%ld]: info: parent\n", (long)getpid());
	g_assert_nonnull(strstr(got, want));
	g_assert_cmpuint(count_lines(got), ==, 2);
	g_free(want);
	g_free(got);
}

/* The writer's functions leave errno alone too. */
static void
test_writer_errno(void)
{
	struct log_stats s;
	struct log_event ev;
	char *path, *got;

#define KEEPS_ERRNO(call) do {						\
	errno = EPIPE;							\
	call;								\
	g_assert_cmpint(errno, ==, EPIPE);				\
} while (0)

	path = g_strdup_printf("%s/errno.jsonl", tmpdir);
	log_open("werrno", LOG_DEST_STDERR, LOG_MAIL);
	log_set_level(LOG_INFO);
	capture_begin();
	KEEPS_ERRNO((void)log_eventlog_open(path, NULL));
	KEEPS_ERRNO((void)log_eventlog_open("/nonexistent-dir/x", NULL));
	KEEPS_ERRNO((void)log_writer_start(NULL));
	KEEPS_ERRNO((void)log_writer_start(NULL));
	KEEPS_ERRNO(log_msg(LOG_INFO, "m %m"));
	KEEPS_ERRNO(log_msg(LOG_DEBUG, "dropped"));
	log_event_begin(&ev, "e");
	KEEPS_ERRNO(log_event_emit(&ev, LOG_INFO));
	KEEPS_ERRNO(log_eventlog_write("{}", 2));
	KEEPS_ERRNO(log_eventlog_write("{\n}", 3));
	KEEPS_ERRNO(log_eventlog_reopen(path));
	KEEPS_ERRNO(log_get_stats(&s));
	KEEPS_ERRNO(log_writer_stop(10000));
	KEEPS_ERRNO(log_writer_stop(10000));
	KEEPS_ERRNO(log_eventlog_write("{}", 2));
	KEEPS_ERRNO(log_eventlog_reopen("/nonexistent-dir/x"));
	KEEPS_ERRNO(log_eventlog_close());
	KEEPS_ERRNO(log_eventlog_close());
	got = capture_end();
	g_assert_nonnull(strstr(got, "werrno"));
	g_assert_nonnull(strstr(got, "m Broken pipe\n"));
	g_free(got);
	got = slurp(path);
	g_assert_cmpstr(got, ==, "{}\n{}\n");
	g_free(got);
	g_unlink(path);
	g_free(path);
#undef KEEPS_ERRNO
}

/* log_level_parse, log_facility_parse and log_level_name tables. */
static void
test_names(void)
{
	static const struct {
		const char *name;
		bool ok;
		int value;
	} levels[] = {
		{ "debug", true, LOG_DEBUG },
		{ "info", true, LOG_INFO },
		{ "notice", true, LOG_NOTICE },
		{ "warning", true, LOG_WARNING },
		{ "warn", true, LOG_WARNING },
		{ "err", true, LOG_ERR },
		{ "error", true, LOG_ERR },
		{ "crit", false, 0 },
		{ "emerg", false, 0 },
		{ "INFO", false, 0 },
		{ "info ", false, 0 },
		{ "", false, 0 },
		{ "7", false, 0 },
	}, facilities[] = {
		{ "mail", true, LOG_MAIL },
		{ "daemon", true, LOG_DAEMON },
		{ "user", true, LOG_USER },
		{ "local0", true, LOG_LOCAL0 },
		{ "local1", true, LOG_LOCAL1 },
		{ "local2", true, LOG_LOCAL2 },
		{ "local3", true, LOG_LOCAL3 },
		{ "local4", true, LOG_LOCAL4 },
		{ "local5", true, LOG_LOCAL5 },
		{ "local6", true, LOG_LOCAL6 },
		{ "local7", true, LOG_LOCAL7 },
		{ "local8", false, 0 },
		{ "local", false, 0 },
		{ "MAIL", false, 0 },
		{ "kern", false, 0 },
		{ "auth", false, 0 },
		{ "", false, 0 },
	};
	static const struct {
		int level;
		const char *name;
	} names[] = {
		{ LOG_EMERG, "emerg" },
		{ LOG_ALERT, "alert" },
		{ LOG_CRIT, "crit" },
		{ LOG_ERR, "err" },
		{ LOG_WARNING, "warning" },
		{ LOG_NOTICE, "notice" },
		{ LOG_INFO, "info" },
		{ LOG_DEBUG, "debug" },
		{ -1, "unknown" },
		{ 8, "unknown" },
	};
	size_t i;
	int v;

	for (i = 0; i < G_N_ELEMENTS(levels); i++) {
		v = -12345;
		g_assert_cmpint(log_level_parse(levels[i].name, &v), ==,
		    levels[i].ok);
		g_assert_cmpint(v, ==, levels[i].ok ? levels[i].value :
		    -12345);
	}
	for (i = 0; i < G_N_ELEMENTS(facilities); i++) {
		v = -12345;
		g_assert_cmpint(log_facility_parse(facilities[i].name, &v),
		    ==, facilities[i].ok);
		g_assert_cmpint(v, ==, facilities[i].ok ?
		    facilities[i].value : -12345);
	}
	for (i = 0; i < G_N_ELEMENTS(names); i++)
		g_assert_cmpstr(log_level_name(names[i].level), ==,
		    names[i].name);
	g_assert_false(log_level_parse(NULL, &v));
	g_assert_false(log_facility_parse(NULL, &v));
}

int
main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	tmpdir = test_tmpdir_new("test-log");
	atexit(remove_tmpdir);
	g_test_add_func("/log/escape", test_escape);
	g_test_add_func("/log/escape_sweep", test_escape_sweep);
	g_test_add_func("/log/event", test_event);
	g_test_add_func("/log/event_truncate", test_event_truncate);
	g_test_add_func("/log/stderr_lines", test_stderr_lines);
	g_test_add_func("/log/defaults", test_defaults);
	g_test_add_func("/log/trap_open", test_trap_open);
	g_test_add_func("/log/level_filter", test_level_filter);
	g_test_add_func("/log/errno", test_errno);
	g_test_add_func("/log/percent_m", test_percent_m);
	g_test_add_func("/log/injection", test_injection);
	g_test_add_func("/log/msg_truncate", test_msg_truncate);
	g_test_add_func("/log/threads", test_threads);
	g_test_add_func("/log/names", test_names);
	g_test_add_func("/log/writer_order", test_writer_order);
	g_test_add_func("/log/writer_stall", test_writer_stall);
	g_test_add_func("/log/writer_stop_stalled", test_writer_stop_stalled);
	g_test_add_func("/log/writer_exit_stalled", test_writer_exit_stalled);
	g_test_add_func("/log/eventlog", test_eventlog);
	g_test_add_func("/log/eventlog_reopen", test_eventlog_reopen);
	g_test_add_func("/log/writer_threads", test_writer_threads);
	g_test_add_func("/log/writer_fork", test_writer_fork);
	g_test_add_func("/log/writer_errno", test_writer_errno);
	rc = g_test_run();
	return rc;
}
