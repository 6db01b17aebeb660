/*
 * record.h - the hit record: what slowspam knows about one client network.
 *
 * Both store backends keep records in the versioned binary form that
 * record_encode() writes, so a store file or a Redis value can be read by
 * any later version, and a foreign or damaged value is recognised.
 */
#ifndef SLOWSPAM_RECORD_H
#define SLOWSPAM_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

/* The encoding this program writes; it reads every version up to it. */
#define RECORD_VERSION		1
/* The last HELO is kept up to this many bytes, as received. */
#define RECORD_HELO_MAX		255
/* Fixed part of an encoded version-1 record; the HELO follows it. */
#define RECORD_FIXED_SIZE	56u
#define RECORD_MAX_SIZE		(RECORD_FIXED_SIZE + RECORD_HELO_MAX)

/*
 * Evidence a tar pit saw. Stored as a bit set: never renumber, only
 * append (and add the name to record.c).
 */
#define EVIDENCE_PREGREET	(1u << 0) /* spoke before the final 220 */
#define EVIDENCE_BARE_LF	(1u << 1) /* line ended in LF without CR */
#define EVIDENCE_PIPELINING	(1u << 2) /* sent more before our reply */
#define EVIDENCE_NON_SMTP	(1u << 3) /* GET, CONNECT, binary junk ... */
#define EVIDENCE_NO_HELO	(1u << 4) /* another command before HELO */
#define EVIDENCE_IMPATIENT	(1u << 5) /* hung up before the reply ended,
					     sooner than impatient_before */
#define EVIDENCE_LONG_LINE	(1u << 6) /* a line over the SMTP limit */
#define EVIDENCE_ALL		((1u << 7) - 1)

/* Times are milliseconds since the Unix epoch; 0 means "never". */
struct hit_record {
	int64_t		tarpit_first;
	int64_t		tarpit_last;
	uint32_t	tarpit_sessions;
	uint64_t	tarpit_held_ms;		/* total time held */
	uint32_t	evidence;		/* EVIDENCE_* seen, ever */
	uint8_t		helo_class;		/* enum helo_class of last HELO */
	uint8_t		helo_len;
	char		helo[RECORD_HELO_MAX + 1]; /* raw bytes; NUL after */
	int64_t		primary_first;
	int64_t		primary_last;
	uint32_t	primary_sessions;
};

/*
 * What one tar-pit event adds to a record: a connection (new_session),
 * a HELO (has_helo), the end of a session (held_ms, evidence), or any
 * mix of these.
 */
struct tarpit_update {
	int64_t		now;
	bool		new_session;
	bool		has_helo;
	uint8_t		helo_class;
	uint8_t		helo_len;
	char		helo[RECORD_HELO_MAX];	/* need not be NUL-terminated */
	uint32_t	evidence;
	uint64_t	held_ms;
};

#define RECORD_ERROR (record_error_quark())
GQuark	record_error_quark(void);
enum record_error {
	RECORD_ERROR_CORRUPT,	/* not a record, or inconsistent */
	RECORD_ERROR_VERSION,	/* written by a newer slowspam */
};

/* A tarpit_update for the HELO helo[0..len), cut to RECORD_HELO_MAX. */
void	record_update_set_helo(struct tarpit_update *u, const char *helo,
	    size_t len, uint8_t helo_class);

/* Fold a tar-pit event into rec (a zeroed record for a new network). */
void	record_merge_tarpit(struct hit_record *rec,
	    const struct tarpit_update *u);
/* Fold a contact with the primary MX at time now into rec. */
void	record_merge_primary(struct hit_record *rec, int64_t now);

/*
 * Backup-first: a tar pit saw the network no longer than window ms
 * before now, and the primary had not seen it before its first tar-pit
 * contact. rec is the record as it was before the primary's contact.
 */
bool	record_backup_first(const struct hit_record *rec, int64_t now,
	    int64_t window);

/*
 * Did the tar pit see a bot: an evidence flag, or a HELO that is neither
 * a domain name nor an address literal (a single label, a bare address,
 * invalid, too long)? No HELO kept (none, or an empty one) tells nothing.
 */
bool	record_bot_evidence(const struct hit_record *rec);

/* The newest activity of either kind; 0 for an empty record. */
int64_t	record_last_seen(const struct hit_record *rec);

/* Encode into buf[RECORD_MAX_SIZE]; returns the length. */
size_t	record_encode(const struct hit_record *rec, uint8_t *buf);
/* Decode and check buf[0..len); false with a RECORD_ERROR if bad. */
bool	record_decode(const uint8_t *buf, size_t len, struct hit_record *rec,
	    GError **error);

/* The name of evidence bit i ("pregreet"), or NULL past the last. */
const char *record_evidence_name(unsigned i);
/* Evidence flags as "pregreet,bare_lf" ("" for none) into buf; returns buf. */
const char *record_evidence_format(uint32_t evidence, char *buf, size_t size);

/* Room for record_format_time(): "2026-11-27T04:01:11.123Z" and NUL. */
#define RECORD_TIME_LEN		32
/* The length of such a time, "-" aside. */
#define RECORD_TIME_CHARS	24
/* A record time as ISO 8601 UTC with milliseconds, "-" for 0; returns buf. */
const char *record_format_time(int64_t ms, char *buf);
/*
 * The reverse, for text[0..len) exactly as record_format_time writes a
 * time other than "-" (no other form); false if it is not one.
 */
bool	record_parse_time(const char *text, size_t len, int64_t *ms);

#endif /* SLOWSPAM_RECORD_H */
