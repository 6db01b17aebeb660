/*
 * test_record.c - hit records: merging, backup-first, the encoding and
 * what record_decode() refuses.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include <glib.h>

#include "helo.h"
#include "record.h"

#define T0	INT64_C(1790000000000)	/* 2026-09-21, in ms */

static void
test_merge_tarpit(void)
{
	struct hit_record r = { 0 };
	struct tarpit_update connect = { .now = T0, .new_session = true };
	struct tarpit_update helo = { .now = T0 + 5000 };
	struct tarpit_update end = { .now = T0 + 600000, .held_ms = 600000,
	    .evidence = EVIDENCE_PREGREET | EVIDENCE_PIPELINING };

	record_update_set_helo(&helo, "bot.example", 11, HELO_FQDN);
	record_merge_tarpit(&r, &connect);
	g_assert_cmpint(r.tarpit_first, ==, T0);
	g_assert_cmpint(r.tarpit_last, ==, T0);
	g_assert_cmpuint(r.tarpit_sessions, ==, 1);
	g_assert_cmpuint(r.helo_len, ==, 0);

	record_merge_tarpit(&r, &helo);
	g_assert_cmpstr(r.helo, ==, "bot.example");
	g_assert_cmpuint(r.helo_class, ==, HELO_FQDN);
	g_assert_cmpuint(r.tarpit_sessions, ==, 1);

	record_merge_tarpit(&r, &end);
	g_assert_cmpint(r.tarpit_first, ==, T0);
	g_assert_cmpint(r.tarpit_last, ==, T0 + 600000);
	g_assert_cmpuint(r.tarpit_held_ms, ==, 600000);
	g_assert_cmpuint(r.evidence, ==, EVIDENCE_PREGREET | EVIDENCE_PIPELINING);
	g_assert_cmpstr(r.helo, ==, "bot.example");	/* kept */

	/* An event from a clock that went back does not move "last". */
	connect.now = T0 - 1000;
	record_merge_tarpit(&r, &connect);
	g_assert_cmpint(r.tarpit_first, ==, T0 - 1000);
	g_assert_cmpint(r.tarpit_last, ==, T0 + 600000);
	g_assert_cmpuint(r.tarpit_sessions, ==, 2);

	/* Unknown evidence bits from a caller are not stored. */
	end.evidence = 0xffffffffu;
	record_merge_tarpit(&r, &end);
	g_assert_cmpuint(r.evidence, ==, EVIDENCE_ALL);
}

/* Counters stick at their maximum instead of wrapping. */
static void
test_saturation(void)
{
	struct hit_record r = { .tarpit_sessions = UINT32_MAX,
	    .tarpit_held_ms = UINT64_MAX - 5, .primary_sessions = UINT32_MAX };
	struct tarpit_update u = { .now = T0, .new_session = true,
	    .held_ms = 10 };

	record_merge_tarpit(&r, &u);
	record_merge_primary(&r, T0);
	g_assert_cmpuint(r.tarpit_sessions, ==, UINT32_MAX);
	g_assert_cmpuint(r.tarpit_held_ms, ==, UINT64_MAX);
	g_assert_cmpuint(r.primary_sessions, ==, UINT32_MAX);
}

/* HELOs over RECORD_HELO_MAX are cut; any byte is kept as it is. */
static void
test_helo_bytes(void)
{
	char big[400];
	struct tarpit_update u = { .now = T0 };
	struct hit_record r = { 0 }, back;
	uint8_t buf[RECORD_MAX_SIZE];
	size_t len;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i % 256);
	record_update_set_helo(&u, big, sizeof(big), HELO_TOO_LONG);
	g_assert_cmpuint(u.helo_len, ==, RECORD_HELO_MAX);
	record_merge_tarpit(&r, &u);
	len = record_encode(&r, buf);
	g_assert_cmpuint(len, ==, RECORD_MAX_SIZE);
	g_assert_true(record_decode(buf, len, &back, NULL));
	g_assert_cmpmem(back.helo, back.helo_len, big, RECORD_HELO_MAX);
	g_assert_cmpint(back.helo[RECORD_HELO_MAX], ==, '\0');
}

static void
test_backup_first(void)
{
	static const struct {
		int64_t tarpit_first, tarpit_last, primary_first, now;
		bool expect;
	} rows[] = {
		/* never in the tar pit */
		{ 0, 0, 0, T0, false },
		{ 0, 0, T0 - 5000, T0, false },
		/* tar pit first, primary never */
		{ T0 - 5000, T0 - 1000, 0, T0, true },
		/* primary knew it before the first tar-pit contact */
		{ T0 - 5000, T0 - 1000, T0 - 9000, T0, false },
		/* primary saw it only after the tar pit */
		{ T0 - 5000, T0 - 1000, T0 - 3000, T0, true },
		/* the same millisecond counts as backup-first */
		{ T0 - 5000, T0 - 1000, T0 - 5000, T0, true },
		/* last tar-pit contact exactly at the window's edge */
		{ T0 - 20000, T0 - 10000, 0, T0, true },
		/* just outside the window */
		{ T0 - 20000, T0 - 10001, 0, T0, false },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
		struct hit_record r = { .tarpit_first = rows[i].tarpit_first,
		    .tarpit_last = rows[i].tarpit_last,
		    .primary_first = rows[i].primary_first };

		if (record_backup_first(&r, rows[i].now, 10000) !=
		    rows[i].expect)
			g_error("row %zu: expected %d", i, rows[i].expect);
	}
}

static void
test_bot_evidence(void)
{
	static const struct {
		uint32_t evidence;
		uint8_t helo_len, helo_class;
		bool bot;
	} rows[] = {
		{ 0, 0, HELO_EMPTY, false },	/* no HELO kept: cannot tell */
		{ 0, 5, HELO_FQDN, false },
		{ 0, 9, HELO_LITERAL_IPV4, false },
		{ 0, 9, HELO_LITERAL_IPV6, false },
		{ 0, 9, HELO_SINGLE_LABEL, true },
		{ 0, 9, HELO_BARE_IPV4, true },
		{ 0, 9, HELO_INVALID, true },
		{ 0, 9, HELO_TOO_LONG, true },
		{ EVIDENCE_PIPELINING, 5, HELO_FQDN, true },
		{ EVIDENCE_IMPATIENT, 0, HELO_EMPTY, true },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
		struct hit_record r = { .evidence = rows[i].evidence,
		    .helo_len = rows[i].helo_len,
		    .helo_class = rows[i].helo_class };

		if (record_bot_evidence(&r) != rows[i].bot)
			g_error("row %zu: want %d", i, rows[i].bot);
	}
}

static void
test_merge_primary(void)
{
	struct hit_record r = { 0 };

	record_merge_primary(&r, T0);
	record_merge_primary(&r, T0 + 10);
	g_assert_cmpint(r.primary_first, ==, T0);
	g_assert_cmpint(r.primary_last, ==, T0 + 10);
	g_assert_cmpuint(r.primary_sessions, ==, 2);
	g_assert_cmpint(record_last_seen(&r), ==, T0 + 10);
	r.tarpit_last = T0 + 20;
	g_assert_cmpint(record_last_seen(&r), ==, T0 + 20);
}

/* The byte layout is a file format: pin it down. */
static void
test_encoding(void)
{
	struct hit_record r = { .tarpit_first = 0x0102030405060708,
	    .tarpit_last = 0x0102030405060709, .tarpit_sessions = 0x0a0b0c0d,
	    .tarpit_held_ms = 0x1112131415161718, .evidence = 0x41,
	    .helo_class = HELO_BARE_IPV4, .helo_len = 3, .helo = "1.2",
	    .primary_first = 7, .primary_last = 8, .primary_sessions = 9 };
	uint8_t buf[RECORD_MAX_SIZE];
	struct hit_record back;
	size_t len = record_encode(&r, buf);

	g_assert_cmpuint(len, ==, RECORD_FIXED_SIZE + 3);
	g_assert_cmpuint(buf[0], ==, RECORD_VERSION);
	g_assert_cmpuint(buf[1], ==, HELO_BARE_IPV4);
	g_assert_cmpuint(buf[2], ==, 3);
	g_assert_cmpuint(buf[4], ==, 0x41);
	g_assert_cmpuint(buf[8], ==, 0x0d);
	g_assert_cmpuint(buf[11], ==, 0x0a);
	g_assert_cmpuint(buf[12], ==, 9);
	g_assert_cmpuint(buf[16], ==, 0x08);
	g_assert_cmpuint(buf[23], ==, 0x01);
	g_assert_cmpuint(buf[32], ==, 7);
	g_assert_cmpuint(buf[40], ==, 8);
	g_assert_cmpuint(buf[48], ==, 0x18);
	g_assert_cmpmem(buf + 56, 3, "1.2", 3);
	g_assert_true(record_decode(buf, len, &back, NULL));
	g_assert_cmpmem(&back, sizeof(back), &r, sizeof(r));
}

/* Damaged, foreign and future values are refused with a reason. */
static void
test_decode_refuses(void)
{
	struct hit_record r = { .tarpit_first = T0, .tarpit_last = T0,
	    .helo_len = 2, .helo = "ab" };
	uint8_t good[RECORD_MAX_SIZE], buf[RECORD_MAX_SIZE + 1];
	size_t len = record_encode(&r, good);
	struct {
		const char *what;
		size_t at;		/* byte to change, or SIZE_MAX */
		uint8_t value;
		size_t len;
		int code;
		const char *msg;
	} rows[] = {
		{ "empty", SIZE_MAX, 0, 0, RECORD_ERROR_CORRUPT, "empty" },
		{ "short", SIZE_MAX, 0, 10, RECORD_ERROR_CORRUPT, "expected" },
		{ "long", SIZE_MAX, 0, len + 1, RECORD_ERROR_CORRUPT, "expected" },
		{ "helo_len", 2, 3, len, RECORD_ERROR_CORRUPT, "expected" },
		{ "newer", 0, 2, len, RECORD_ERROR_VERSION, "newer" },
		{ "version 0", 0, 0, len, RECORD_ERROR_CORRUPT, "does not exist" },
		{ "reserved", 3, 1, len, RECORD_ERROR_CORRUPT, "inconsistent" },
		{ "last<first", 28, 0, len, RECORD_ERROR_CORRUPT, "inconsistent" },
		{ "negative", 23, 0x80, len, RECORD_ERROR_CORRUPT, "inconsistent" },
		{ "primary_last only", 40, 1, len, RECORD_ERROR_CORRUPT,
		    "inconsistent" },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
		g_autoptr(GError) err = NULL;
		struct hit_record out;

		memcpy(buf, good, len);
		buf[len] = 0;
		if (rows[i].at != SIZE_MAX)
			buf[rows[i].at] = rows[i].value;
		g_test_message("%s", rows[i].what);
		g_assert_false(record_decode(buf, rows[i].len, &out, &err));
		g_assert_error(err, RECORD_ERROR, rows[i].code);
		g_assert_nonnull(strstr(err->message, rows[i].msg));
	}
}

static void
test_formats(void)
{
	char buf[128], small[10], t[RECORD_TIME_LEN];

	g_assert_cmpstr(record_evidence_format(0, buf, sizeof(buf)), ==, "");
	g_assert_cmpstr(record_evidence_format(EVIDENCE_ALL, buf, sizeof(buf)),
	    ==, "pregreet,bare_lf,pipelining,non_smtp,no_helo,impatient,"
	    "long_line");
	g_assert_cmpstr(record_evidence_format(EVIDENCE_NO_HELO |
	    EVIDENCE_BARE_LF, buf, sizeof(buf)), ==, "bare_lf,no_helo");
	/* Whole names only when the buffer is short. */
	g_assert_cmpstr(record_evidence_format(EVIDENCE_PREGREET |
	    EVIDENCE_BARE_LF, small, sizeof(small)), ==, "pregreet");
	g_assert_cmpstr(record_format_time(0, t), ==, "-");
	g_assert_cmpstr(record_format_time(T0 + 123, t), ==,
	    "2026-09-21T14:13:20.123Z");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/record/merge-tarpit", test_merge_tarpit);
	g_test_add_func("/record/saturation", test_saturation);
	g_test_add_func("/record/helo-bytes", test_helo_bytes);
	g_test_add_func("/record/backup-first", test_backup_first);
	g_test_add_func("/record/merge-primary", test_merge_primary);
	g_test_add_func("/record/bot-evidence", test_bot_evidence);
	g_test_add_func("/record/encoding", test_encoding);
	g_test_add_func("/record/decode-refuses", test_decode_refuses);
	g_test_add_func("/record/formats", test_formats);
	return g_test_run();
}
