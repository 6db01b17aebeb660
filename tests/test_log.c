#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

/*
 * test_log.c - table-driven unit tests for shared/log.c: escaping, event
 * building and truncation, stderr lines and their format, level
 * filtering, errno preservation, "%m", log injection, and whole lines
 * under concurrent writers.
 *
 * Output to stderr is captured by pointing fd 2 at a file in a private
 * temporary directory and reading it back (capture_begin/capture_end),
 * or with g_test_trap_subprocess where a fresh process is needed.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "log.h"

static char *tmpdir;
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
	GError *err = NULL;
	int rc;

	g_test_init(&argc, &argv, NULL);
	tmpdir = g_dir_make_tmp("slowspam-test-log-XXXXXX", &err);
	g_assert_no_error(err);
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
	rc = g_test_run();
	g_rmdir(tmpdir);
	g_free(tmpdir);
	return rc;
}
