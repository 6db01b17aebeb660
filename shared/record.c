/*
 * record.c - hit records: merging events, the backup-first test, and the
 * versioned binary encoding both store backends keep.
 *
 *	record_update_set_helo	put a HELO into a tar-pit update
 *	record_merge_tarpit	fold a tar-pit event into a record
 *	record_merge_primary	fold a primary-MX contact into a record
 *	record_backup_first	did the backup MX see it first, recently?
 *	record_bot_evidence	did the tar pit see a bot?
 *	record_last_seen	newest activity, for expiry
 *	record_encode		record to bytes
 *	record_decode		bytes to record, checked
 *	record_evidence_name	the name of one evidence flag
 *	record_evidence_format	evidence flags as names
 *	record_format_time	a record time as ISO 8601
 *	record_parse_time	and back, strictly
 *
 * Encoding, version 1, little-endian, RECORD_FIXED_SIZE bytes then HELO:
 *	0 version (1)	1 helo_class	2 helo_len	3 zero
 *	4 evidence	8 tarpit_sessions	12 primary_sessions	(u32)
 *	16 tarpit_first	24 tarpit_last	32 primary_first	40 primary_last
 *	48 tarpit_held_ms	(i64/u64)	56 helo bytes
 * Explicit byte order, not a struct copy, so files move between hosts.
 *
 * Diagnostics: record_decode() says what is wrong (RECORD_ERROR).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <time.h>

#include "helo.h"
#include "record.h"

G_DEFINE_QUARK(slowspam-record-error-quark, record_error)

static const char *const evidence_names[] = {
	"pregreet", "bare_lf", "pipelining", "non_smtp", "no_helo",
	"impatient", "long_line",
};
G_STATIC_ASSERT(G_N_ELEMENTS(evidence_names) == 7);
G_STATIC_ASSERT(EVIDENCE_ALL == (1u << G_N_ELEMENTS(evidence_names)) - 1);

/* Saturating additions: counters stick at their maximum, never wrap. */
static uint32_t
add_u32(uint32_t a, uint32_t b)
{
	return a > UINT32_MAX - b ? UINT32_MAX : a + b;
}

static uint64_t
add_u64(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Record a time of contact in a first/last pair. */
static void
seen_at(int64_t *first, int64_t *last, int64_t now)
{
	if (*first == 0 || now < *first)
		*first = now;
	if (now > *last)
		*last = now;
}

/* Put a HELO into a tar-pit update, cut to what a record keeps. */
void
record_update_set_helo(struct tarpit_update *u, const char *helo, size_t len,
    uint8_t helo_class)
{
	if (len > RECORD_HELO_MAX)
		len = RECORD_HELO_MAX;
	memcpy(u->helo, helo, len);
	u->helo_len = (uint8_t)len;
	u->helo_class = helo_class;
	u->has_helo = true;
}

/* Fold one tar-pit event into rec. */
void
record_merge_tarpit(struct hit_record *rec, const struct tarpit_update *u)
{
	seen_at(&rec->tarpit_first, &rec->tarpit_last, u->now);
	if (u->new_session)
		rec->tarpit_sessions = add_u32(rec->tarpit_sessions, 1);
	rec->tarpit_held_ms = add_u64(rec->tarpit_held_ms, u->held_ms);
	rec->evidence |= u->evidence & EVIDENCE_ALL;
	if (u->has_helo) {
		rec->helo_class = u->helo_class;
		rec->helo_len = u->helo_len;
		memcpy(rec->helo, u->helo, u->helo_len);
		rec->helo[u->helo_len] = '\0';
	}
}

/* Fold one contact with the primary MX into rec. */
void
record_merge_primary(struct hit_record *rec, int64_t now)
{
	seen_at(&rec->primary_first, &rec->primary_last, now);
	rec->primary_sessions = add_u32(rec->primary_sessions, 1);
}

/* The design's backup-first test, on the record before this contact. */
bool
record_backup_first(const struct hit_record *rec, int64_t now, int64_t window)
{
	if (rec->tarpit_first == 0 || now - rec->tarpit_last > window)
		return false;
	return rec->primary_first == 0 || rec->primary_first >= rec->tarpit_first;
}

/* Bot evidence: a flag, or a HELO no mail server would send. */
bool
record_bot_evidence(const struct hit_record *rec)
{
	if (rec->evidence != 0)
		return true;
	if (rec->helo_len == 0)
		return false;
	return rec->helo_class != HELO_FQDN &&
	    rec->helo_class != HELO_LITERAL_IPV4 &&
	    rec->helo_class != HELO_LITERAL_IPV6;
}

/* Newest activity of either kind. */
int64_t
record_last_seen(const struct hit_record *rec)
{
	return MAX(rec->tarpit_last, rec->primary_last);
}

static void
put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void
put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t
get_u32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t
get_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Encode rec into buf[RECORD_MAX_SIZE]; returns the length used. */
size_t
record_encode(const struct hit_record *rec, uint8_t *buf)
{
	buf[0] = RECORD_VERSION;
	buf[1] = rec->helo_class;
	buf[2] = rec->helo_len;
	buf[3] = 0;
	put_u32(buf + 4, rec->evidence);
	put_u32(buf + 8, rec->tarpit_sessions);
	put_u32(buf + 12, rec->primary_sessions);
	put_u64(buf + 16, (uint64_t)rec->tarpit_first);
	put_u64(buf + 24, (uint64_t)rec->tarpit_last);
	put_u64(buf + 32, (uint64_t)rec->primary_first);
	put_u64(buf + 40, (uint64_t)rec->primary_last);
	put_u64(buf + 48, rec->tarpit_held_ms);
	memcpy(buf + RECORD_FIXED_SIZE, rec->helo, rec->helo_len);
	return RECORD_FIXED_SIZE + rec->helo_len;
}

/* Is first..last a plausible pair of times? */
static bool
times_ok(int64_t first, int64_t last)
{
	if (first == 0)
		return last == 0;
	return first > 0 && last >= first;
}

/* Decode buf[0..len) into rec, checking everything a reader relies on. */
bool
record_decode(const uint8_t *buf, size_t len, struct hit_record *rec,
    GError **error)
{
	memset(rec, 0, sizeof(*rec));
	if (len == 0) {
		g_set_error(error, RECORD_ERROR, RECORD_ERROR_CORRUPT,
		    "empty record");
		return false;
	}
	if (buf[0] > RECORD_VERSION) {
		g_set_error(error, RECORD_ERROR, RECORD_ERROR_VERSION,
		    "record version %u is newer than this program's %u",
		    buf[0], RECORD_VERSION);
		return false;
	}
	if (buf[0] != 1) {
		g_set_error(error, RECORD_ERROR, RECORD_ERROR_CORRUPT,
		    "record version %u does not exist", buf[0]);
		return false;
	}
	if (len < RECORD_FIXED_SIZE || len != RECORD_FIXED_SIZE + buf[2]) {
		g_set_error(error, RECORD_ERROR, RECORD_ERROR_CORRUPT,
		    "record is %zu bytes, expected %u", len,
		    len < RECORD_FIXED_SIZE ? RECORD_FIXED_SIZE :
		    RECORD_FIXED_SIZE + buf[2]);
		return false;
	}
	rec->helo_class = buf[1];
	rec->helo_len = buf[2];
	rec->evidence = get_u32(buf + 4);
	rec->tarpit_sessions = get_u32(buf + 8);
	rec->primary_sessions = get_u32(buf + 12);
	rec->tarpit_first = (int64_t)get_u64(buf + 16);
	rec->tarpit_last = (int64_t)get_u64(buf + 24);
	rec->primary_first = (int64_t)get_u64(buf + 32);
	rec->primary_last = (int64_t)get_u64(buf + 40);
	rec->tarpit_held_ms = get_u64(buf + 48);
	memcpy(rec->helo, buf + RECORD_FIXED_SIZE, rec->helo_len);
	rec->helo[rec->helo_len] = '\0';

	/*
	 * HELO classes and evidence bits unknown here are kept, not refused:
	 * a newer slowspam sharing the store may append some.
	 */
	if (buf[3] != 0 || !times_ok(rec->tarpit_first, rec->tarpit_last) ||
	    !times_ok(rec->primary_first, rec->primary_last)) {
		g_set_error(error, RECORD_ERROR, RECORD_ERROR_CORRUPT,
		    "record fields are inconsistent");
		memset(rec, 0, sizeof(*rec));
		return false;
	}
	return true;
}

/* The name of evidence bit i, or NULL. */
const char *
record_evidence_name(unsigned i)
{
	return i < G_N_ELEMENTS(evidence_names) ? evidence_names[i] : NULL;
}

/* Evidence flags as comma-separated names into buf; returns buf. */
const char *
record_evidence_format(uint32_t evidence, char *buf, size_t size)
{
	size_t len = 0;

	if (size == 0)
		return buf;
	buf[0] = '\0';
	for (size_t i = 0; i < G_N_ELEMENTS(evidence_names); i++) {
		if ((evidence & (1u << i)) == 0)
			continue;
		int n = g_snprintf(buf + len, size - len, "%s%s",
		    len > 0 ? "," : "", evidence_names[i]);
		if (n < 0 || (size_t)n >= size - len) {
			buf[len] = '\0';	/* whole names only */
			break;
		}
		len += (size_t)n;
	}
	return buf;
}

/* A time as "2026-11-27T04:01:11.123Z" (UTC), or "-" for never. */
const char *
record_format_time(int64_t ms, char *buf)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;

	if (ms <= 0 || gmtime_r(&secs, &tm) == NULL) {
		g_strlcpy(buf, "-", RECORD_TIME_LEN);
		return buf;
	}
	g_snprintf(buf, RECORD_TIME_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)(ms % 1000));
	return buf;
}

/* n digits of text as a number, or -1 if one is not a digit. */
static int
digits(const char *text, size_t n)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (text[i] < '0' || text[i] > '9')
			return -1;
		v = v * 10 + (text[i] - '0');
	}
	return v;
}

/* Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar. */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

bool
record_parse_time(const char *text, size_t len, int64_t *ms)
{
	static const char shape[RECORD_TIME_CHARS + 1] =
	    "dddd-dd-ddTdd:dd:dd.dddZ";
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	int y, mo, d, h, mi, s, f;

	if (len != sizeof(shape) - 1)
		return false;
	for (size_t i = 0; i < len; i++)
		if (shape[i] != 'd' && text[i] != shape[i])
			return false;
	y = digits(text, 4);
	mo = digits(text + 5, 2);
	d = digits(text + 8, 2);
	h = digits(text + 11, 2);
	mi = digits(text + 14, 2);
	s = digits(text + 17, 2);
	f = digits(text + 20, 3);
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 ||
	    y % 400 == 0))) || h < 0 || h > 23 || mi < 0 || mi > 59 ||
	    s < 0 || s > 59 || f < 0)
		return false;
	*ms = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000 +
	    (int64_t)s * 1000 + f;
	return *ms > 0;
}
