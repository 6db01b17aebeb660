/*
 * test_verdict.c - the decision table, driven through the functions the
 * daemons call (verdict_connect, verdict_helo, verdict_mail) against a
 * real LMDB store in a temp dir, seeded through the store API, and SPF
 * answered offline from a zone file (spf_new). Each row gets a store and
 * an engine of its own, so liveness marks never leak between rows.
 * Also the liveness ring and the allow-list, pure.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <poll.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <lmdb.h>

#include "helo.h"
#include "listing.h"
#include "testutil.h"
#include "verdict.h"

#define MIN_MS	INT64_C(60000)
#define DAY	(24 * 60 * MIN_MS)
#define NONE	(-1)		/* no action */
#define T0	(INT64_C(29833333) * MIN_MS)	/* a whole minute */

static char *tmpdir, *conf_path, *zone_path;
static int64_t now_ms;		/* a whole minute, near the real clock */

struct row {
	const char	*what;
	const char	*client;	/* NULL: local, no address */
	const char	*name;		/* the MTA's host name for it */
	bool		confirmed;
	const char	*helo;		/* NULL: no HELO */
	const char	*from;		/* NULL: "user@none.test" */
	bool		auth;
	/* The store, in minutes relative to now (0: none). */
	int64_t		tarpit, primary;
	uint32_t	evidence;
	uint8_t		helo_class;	/* of the tar pit's HELO; 0: FQDN */
	int64_t		up_from, up_to;	/* 0, 0: an hour up to a minute ago */
	int64_t		down_from, down_to; /* among them not up; 0, 0: none */
	int64_t		started;	/* the engine's start; 0: -600 */
	bool		damaged;	/* the client's record is junk */
	const char	*set[3];	/* --set overrides */
	/* What must come out. */
	const char	*exempt;	/* the exempt_why, NULL: not exempt */
	enum verdict	verdict;
	int		action;		/* enum conf_action or NONE */
	enum verdict_do	todo;
	const char	*code;		/* verdict_reply's code and xcode */
};

/* What every row shares: action tag, action_bot quarantine. */
static void
write_files(void)
{
	g_autofree char *allow = g_build_filename(tmpdir, "allow.txt", NULL);
	g_autofree char *conf = g_strdup_printf(
	    "[milter]\n"
	    "window = 7d\n"
	    "alive_margin = 10m\n"
	    "grace = 10m\n"
	    "action = tag\n"
	    "action_bot = quarantine\n"
	    "divert_to = trap@primary.test\n"
	    "trusted_networks = 203.0.113.0/24\n"
	    "allow_list = %s\n"
	    "authserv_id = primary.test\n"
	    "[store]\n"
	    "path = %s/unused.lmdb\n", allow, tmpdir);
	static const char zone[] =
	    "pass.test TXT v=spf1 ip4:192.0.2.0/24 -all\n"
	    "fail.test TXT v=spf1 -all\n"
	    "soft.test TXT v=spf1 ~all\n"
	    "mx.partner.test TXT v=spf1 ip4:192.0.2.0/24 -all\n"
	    "bad.partner.test TXT v=spf1 -all\n";
	static const char list[] = "partner.test\n198.51.100.0/24\n";

	conf_path = g_build_filename(tmpdir, "slowspam.conf", NULL);
	zone_path = g_build_filename(tmpdir, "zone", NULL);
	g_assert_true(g_file_set_contents(conf_path, conf, -1, NULL));
	g_assert_true(g_file_set_contents(zone_path, zone, -1, NULL));
	g_assert_true(g_file_set_contents(allow, list, -1, NULL));
}

static struct store *
open_store(const char *path)
{
	struct store_options o = { .backend = STORE_BACKEND_LMDB,
	    .path = path, .map_size = 1u << 24, .ttl = 30 * DAY };
	g_autoptr(GError) err = NULL;
	struct store *st = store_open(&o, &err);

	g_assert_no_error(err);
	return st;
}

/* Replace key's record with bytes no decoder takes, as a bad disk would. */
static void
damage(const char *path, const char *key)
{
	static const char junk[] = "junk";
	MDB_val k = { strlen(key), (void *)key }, v = { 4, (void *)junk };
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	int rc;

	if ((rc = mdb_env_create(&env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(env, 4)) != 0 ||
	    (rc = mdb_env_open(env, path, MDB_NOSUBDIR, 0600)) != 0 ||
	    (rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0 ||
	    (rc = mdb_dbi_open(txn, "hits", 0, &dbi)) != 0 ||
	    (rc = mdb_put(txn, dbi, &k, &v, 0)) != 0 ||
	    (rc = mdb_txn_commit(txn)) != 0)
		g_error("%s: %s: %s", path, key, mdb_strerror(rc));
	mdb_env_close(env);
}

/* The store a row starts from: its record, the primary's liveness. */
static void
seed(const struct row *r, const char *path, const char *key)
{
	struct store *st = open_store(path);
	g_autoptr(GError) err = NULL;
	int64_t from = r->up_from, to = r->up_to;

	if (from == 0 && to == 0) {
		from = -60;
		to = -1;
	}
	for (int64_t m = from; m <= to; m++)
		if (m < r->down_from || m > r->down_to)
			g_assert_true(store_alive_mark(st, now_ms + m * MIN_MS,
			    &err));
	if (r->primary != 0)
		g_assert_true(store_primary_contact(st, key,
		    now_ms + r->primary * MIN_MS, NULL, &err));
	if (r->tarpit != 0 || r->damaged) {
		struct store_item it = { 0 };
		const char *helo = r->helo_class == HELO_BARE_IPV4 ?
		    "192.0.2.1" : r->helo_class == HELO_SINGLE_LABEL ?
		    "localhost" : "mail.client.test";

		g_strlcpy(it.key, key, sizeof(it.key));
		it.update.now = now_ms + r->tarpit * MIN_MS;
		it.update.new_session = true;
		it.update.evidence = r->evidence;
		it.update.held_ms = 600000;
		record_update_set_helo(&it.update, helo, strlen(helo),
		    r->helo_class != 0 ? r->helo_class : HELO_FQDN);
		g_assert_true(store_apply(st, &it, 1, &err));
	}
	g_assert_no_error(err);
	store_free(st);
	if (r->damaged)
		damage(path, key);
}

/*
 * After verdict_connect and a flush: a judged session's contact is in
 * the store once, at connect; an exempt one or a failed lookup adds none.
 */
static void
check_contact(struct store *st, const struct row *r, const char *key,
    bool judged)
{
	g_autoptr(GError) err = NULL;
	struct hit_record hit;
	bool found = false;

	if (r->client == NULL || r->damaged)
		return;
	g_assert_true(store_lookup(st, key, &hit, &found, &err));
	g_assert_no_error(err);
	if (!judged) {
		g_assert_true(!found || hit.primary_last != now_ms);
		return;
	}
	g_assert_true(found);
	g_assert_cmpuint(hit.primary_sessions, ==, r->primary != 0 ? 2 : 1);
	g_assert_cmpint(hit.primary_last, ==, now_ms);
}

static struct verdict_setup *
load_setup(const struct row *r)
{
	const char *set[G_N_ELEMENTS(r->set) + 1] = { NULL };
	g_autoptr(GError) err = NULL;
	struct verdict_setup *s;

	for (size_t i = 0; i < G_N_ELEMENTS(r->set); i++)
		set[i] = r->set[i];
	s = verdict_setup_load(conf_path, set, &err);
	g_assert_no_error(err);
	return s;
}

/* The engine's reads of the primary's liveness so far. */
static guint64
liveness_reads(struct verdict_engine *e)
{
	g_autoptr(GString) m = g_string_new(NULL);
	static const char name[] = "\nslowspam_milter_store_liveness_reads_total ";
	const char *p;

	verdict_engine_metrics(e, m, "slowspam_milter");
	p = strstr(m->str, name);
	g_assert_nonnull(p);
	return g_ascii_strtoull(p + sizeof(name) - 1, NULL, 10);
}

/* Run one row as a daemon would, and check what comes out. */
static void
run_row(const struct row *r, unsigned n)
{
	g_autofree char *path = g_strdup_printf("%s/row%u.lmdb", tmpdir, n);
	g_autoptr(GError) err = NULL;
	struct verdict_setup *setup = load_setup(r);
	char key[ADDR_NETKEY_LEN] = "";
	struct verdict_session s;
	struct verdict_engine *e;
	struct store *st;
	struct spf *spf;
	struct addr a;
	enum verdict_do todo;
	const char *code, *xcode, *text;
	g_autofree char *h = NULL, *reply = NULL;
	g_autoptr(GString) totals = g_string_new(NULL);
	bool late;

	if (r->client != NULL) {
		g_assert_true(addr_parse(r->client, &a));
		addr_netkey(&a, setup->conf->store.ipv4_prefix,
		    setup->conf->store.ipv6_prefix, key);
	}
	seed(r, path, key);
	st = open_store(path);
	spf = spf_new(zone_path, &err);
	g_assert_no_error(err);
	e = verdict_engine_new(st, spf, NULL, now_ms + (r->started != 0 ?
	    r->started : -600) * MIN_MS);

	verdict_session_init(&s, setup);
	verdict_setup_unref(setup);	/* the session holds it */
	verdict_connect(e, &s, r->client != NULL ? &a : NULL, r->name,
	    r->confirmed, now_ms);
	verdict_engine_flush(e);
	check_contact(st, r, key, s.judged);
	if (r->helo != NULL)
		verdict_helo(e, &s, r->helo);
	todo = verdict_mail(e, &s, r->from != NULL ? r->from :
	    "user@none.test", r->auth);
	h = verdict_header(&s);
	if (verdict_reply(&s, &code, &xcode, &text))
		reply = g_strdup_printf("%s %s", code, xcode);
	g_test_message("%s: exempt=%s verdict=%s (%s) action=%d do=%d "
	    "reply=%s header=%s", r->what, s.exempt ? s.exempt_why : "no",
	    verdict_name(s.msg.verdict), s.msg.why, s.action, todo,
	    reply != NULL ? reply : "-", h != NULL ? h : "-");

	if (r->exempt != NULL) {
		g_assert_true(s.exempt);
		g_assert_cmpstr(s.exempt_why, ==, r->exempt);
		g_assert_null(h);
	} else {
		g_assert_false(s.exempt);
		g_assert_cmpstr(verdict_name(s.msg.verdict), ==,
		    verdict_name(r->verdict));
		g_assert_true((h != NULL) == (r->verdict != VERDICT_NONE &&
		    todo != VERDICT_DO_STORE_TEMPFAIL));
	}
	g_assert_cmpint(s.action, ==, r->action);
	g_assert_cmpint(todo, ==, r->todo);
	g_assert_cmpstr(reply, ==, r->code);
	if (h != NULL)
		g_assert_true(g_str_has_prefix(h, "verdict="));
	/*
	 * The liveness is read once for a candidate (a verdict other than
	 * none, or a tar-pit record of a client exempt only after the
	 * connect: by HELO or by AUTH), never for the others: a record the
	 * tar pit did not make backup-first, a client exempt at connect, a
	 * store error.
	 */
	late = r->exempt != NULL && (strcmp(r->exempt, "authenticated") == 0 ||
	    g_str_has_prefix(r->exempt, "allow-list (HELO"));
	g_assert_cmpuint(liveness_reads(e), ==, (r->exempt == NULL ?
	    r->verdict != VERDICT_NONE : late && r->tarpit != 0 &&
	    !r->damaged) ? 1 : 0);
	/* A damaged record is a store error, counted, whatever follows. */
	verdict_engine_totals(e, totals);
	g_assert_nonnull(strstr(totals->str, r->damaged && r->client != NULL ?
	    " store_errors=1" : " store_errors=0"));

	verdict_session_clear(&s);
	verdict_engine_free(e);
	spf_free(spf);
	store_free(st);
}

static void
test_table(void)
{
	static const struct row rows[] = {
		{ .what = "no record", .client = "192.0.2.10",
		    .verdict = VERDICT_NONE, .action = NONE },
		{ .what = "primary first", .client = "192.0.2.11",
		    .primary = -9, .tarpit = -5, .verdict = VERDICT_NONE,
		    .action = NONE },
		{ .what = "backup first", .client = "192.0.2.12",
		    .tarpit = -5, .verdict = VERDICT_BACKUP_FIRST,
		    .action = CONF_ACTION_TAG, .todo = VERDICT_DO_ACT },
		{ .what = "bare IPv4 HELO at the tar pit",
		    .client = "192.0.2.13", .tarpit = -5,
		    .helo_class = HELO_BARE_IPV4,
		    .verdict = VERDICT_BACKUP_FIRST_BOT,
		    .action = CONF_ACTION_QUARANTINE, .todo = VERDICT_DO_ACT },
		{ .what = "single-label HELO at the tar pit",
		    .client = "192.0.2.14", .tarpit = -5,
		    .helo_class = HELO_SINGLE_LABEL,
		    .verdict = VERDICT_BACKUP_FIRST_BOT,
		    .action = CONF_ACTION_QUARANTINE, .todo = VERDICT_DO_ACT },
		{ .what = "primary not up before the contact",
		    .client = "192.0.2.15", .tarpit = -5, .up_from = -4,
		    .up_to = -1, .verdict = VERDICT_UNPROVEN, .action = NONE },
		{ .what = "primary not up after an old contact",
		    .client = "192.0.2.16", .tarpit = -60, .up_from = -120,
		    .up_to = -61, .verdict = VERDICT_UNPROVEN, .action = NONE },
		{ .what = "primary up after an old contact",
		    .client = "192.0.2.17", .tarpit = -60, .up_from = -120,
		    .up_to = -1, .verdict = VERDICT_BACKUP_FIRST,
		    .action = CONF_ACTION_TAG, .todo = VERDICT_DO_ACT },
		{ .what = "primary up after an old contact, not in its minute",
		    .client = "192.0.2.29", .tarpit = -60, .up_from = -120,
		    .up_to = -1, .down_from = -60, .down_to = -60,
		    .verdict = VERDICT_BACKUP_FIRST,
		    .action = CONF_ACTION_TAG, .todo = VERDICT_DO_ACT },
		{ .what = "primary up only alive_margin after the contact",
		    .client = "192.0.2.50", .tarpit = -60, .up_from = -120,
		    .up_to = -50, .down_from = -60, .down_to = -51,
		    .verdict = VERDICT_BACKUP_FIRST,
		    .action = CONF_ACTION_TAG, .todo = VERDICT_DO_ACT },
		{ .what = "primary up only alive_margin before the contact",
		    .client = "192.0.2.51", .tarpit = -60, .up_from = -70,
		    .up_to = -1, .down_from = -69, .down_to = -61,
		    .verdict = VERDICT_BACKUP_FIRST,
		    .action = CONF_ACTION_TAG, .todo = VERDICT_DO_ACT },
		{ .what = "primary up just beyond alive_margin of the contact",
		    .client = "192.0.2.52", .tarpit = -60, .up_from = -120,
		    .up_to = -1, .down_from = -70, .down_to = -61,
		    .verdict = VERDICT_UNPROVEN, .action = NONE },
		{ .what = "contact in the start-up grace",
		    .client = "192.0.2.18", .tarpit = -5, .started = -8,
		    .verdict = VERDICT_UNPROVEN, .action = NONE },
		{ .what = "contact just after the grace",
		    .client = "192.0.2.19", .tarpit = -5, .started = -15,
		    .verdict = VERDICT_BACKUP_FIRST,
		    .action = CONF_ACTION_TAG, .todo = VERDICT_DO_ACT },
		{ .what = "window edge: 7 days exactly",
		    .client = "192.0.2.20", .tarpit = -7 * 24 * 60,
		    .up_from = -7 * 24 * 60 - 20, .up_to = -7 * 24 * 60 + 20,
		    .verdict = VERDICT_BACKUP_FIRST,
		    .action = CONF_ACTION_TAG, .todo = VERDICT_DO_ACT },
		{ .what = "window expired", .client = "192.0.2.21",
		    .tarpit = -7 * 24 * 60 - 1,
		    .up_from = -7 * 24 * 60 - 20, .up_to = -7 * 24 * 60 + 20,
		    .verdict = VERDICT_NONE, .action = NONE },
		{ .what = "SPF fail raises to action_bot",
		    .client = "192.0.2.22", .tarpit = -5,
		    .from = "user@fail.test",
		    .verdict = VERDICT_BACKUP_FIRST_BOT,
		    .action = CONF_ACTION_QUARANTINE, .todo = VERDICT_DO_ACT },
		{ .what = "SPF softfail raises to action_bot",
		    .client = "192.0.2.23", .tarpit = -5,
		    .from = "user@soft.test",
		    .verdict = VERDICT_BACKUP_FIRST_BOT,
		    .action = CONF_ACTION_QUARANTINE, .todo = VERDICT_DO_ACT },
		{ .what = "SPF pass does not raise", .client = "192.0.2.24",
		    .tarpit = -5, .from = "user@pass.test",
		    .verdict = VERDICT_BACKUP_FIRST,
		    .action = CONF_ACTION_TAG, .todo = VERDICT_DO_ACT },
		{ .what = "SPF fail with spf off", .client = "192.0.2.25",
		    .tarpit = -5, .from = "user@fail.test",
		    .set = { "milter.spf=off" },
		    .verdict = VERDICT_BACKUP_FIRST,
		    .action = CONF_ACTION_TAG, .todo = VERDICT_DO_ACT },
		{ .what = "SPF fail alone is no verdict",
		    .client = "192.0.2.26", .from = "user@fail.test",
		    .verdict = VERDICT_NONE, .action = NONE },
		{ .what = "SPF fail when unproven", .client = "192.0.2.27",
		    .tarpit = -5, .started = -8, .from = "user@fail.test",
		    .verdict = VERDICT_UNPROVEN, .action = NONE },
		{ .what = "null sender: SPF of the HELO",
		    .client = "192.0.2.28", .tarpit = -5, .from = "",
		    .helo = "fail.test", .verdict = VERDICT_BACKUP_FIRST_BOT,
		    .action = CONF_ACTION_QUARANTINE, .todo = VERDICT_DO_ACT },
		{ .what = "trusted network", .client = "203.0.113.5",
		    .tarpit = -5, .exempt = "trusted network",
		    .action = NONE },
		{ .what = "allow-list by address", .client = "198.51.100.7",
		    .tarpit = -5, .exempt = "allow-list (network)",
		    .action = NONE },
		{ .what = "allow-list by confirmed name",
		    .client = "192.0.2.30", .name = "mx.partner.test",
		    .confirmed = true, .tarpit = -5,
		    .exempt = "allow-list (reverse DNS name)", .action = NONE },
		{ .what = "allow-listed name not confirmed",
		    .client = "192.0.2.31", .name = "mx.partner.test",
		    .tarpit = -5, .verdict = VERDICT_BACKUP_FIRST,
		    .action = CONF_ACTION_TAG, .todo = VERDICT_DO_ACT },
		{ .what = "allow-listed HELO, SPF pass",
		    .client = "192.0.2.32", .helo = "mx.partner.test",
		    .tarpit = -5, .exempt = "allow-list (HELO, SPF pass)",
		    .action = NONE },
		{ .what = "allow-listed HELO, SPF fail",
		    .client = "192.0.2.33", .helo = "bad.partner.test",
		    .tarpit = -5, .verdict = VERDICT_BACKUP_FIRST,
		    .action = CONF_ACTION_TAG, .todo = VERDICT_DO_ACT },
		{ .what = "allow-listed HELO, spf off",
		    .client = "192.0.2.34", .helo = "mx.partner.test",
		    .tarpit = -5, .set = { "milter.spf=off" },
		    .verdict = VERDICT_BACKUP_FIRST,
		    .action = CONF_ACTION_TAG, .todo = VERDICT_DO_ACT },
		{ .what = "authenticated", .client = "192.0.2.35",
		    .tarpit = -5, .auth = true, .exempt = "authenticated",
		    .action = NONE },
		{ .what = "local", .exempt = "local", .action = NONE },
		{ .what = "store error, on_store_error accept",
		    .client = "192.0.2.36", .damaged = true,
		    .verdict = VERDICT_NONE, .action = NONE },
		{ .what = "store error, on_store_error tempfail",
		    .client = "192.0.2.37", .damaged = true,
		    .set = { "milter.on_store_error=tempfail" },
		    .verdict = VERDICT_NONE, .action = NONE,
		    .todo = VERDICT_DO_STORE_TEMPFAIL, .code = "451 4.3.0" },
		{ .what = "store error, tempfail, but authenticated",
		    .client = "192.0.2.38", .damaged = true, .auth = true,
		    .set = { "milter.on_store_error=tempfail" },
		    .exempt = "authenticated", .action = NONE },
		{ .what = "action quarantine", .client = "192.0.2.40",
		    .tarpit = -5, .set = { "milter.action=quarantine" },
		    .verdict = VERDICT_BACKUP_FIRST,
		    .action = CONF_ACTION_QUARANTINE, .todo = VERDICT_DO_ACT },
		{ .what = "action divert", .client = "192.0.2.41",
		    .tarpit = -5, .set = { "milter.action=divert" },
		    .verdict = VERDICT_BACKUP_FIRST,
		    .action = CONF_ACTION_DIVERT, .todo = VERDICT_DO_ACT },
		{ .what = "action tempfail", .client = "192.0.2.42",
		    .tarpit = -5, .set = { "milter.action=tempfail" },
		    .verdict = VERDICT_BACKUP_FIRST,
		    .action = CONF_ACTION_TEMPFAIL, .todo = VERDICT_DO_ACT,
		    .code = "451 4.7.1" },
		{ .what = "action reject", .client = "192.0.2.43",
		    .tarpit = -5, .set = { "milter.action=reject" },
		    .verdict = VERDICT_BACKUP_FIRST,
		    .action = CONF_ACTION_REJECT, .todo = VERDICT_DO_ACT,
		    .code = "550 5.7.1" },
		{ .what = "action_bot tag", .client = "192.0.2.44",
		    .tarpit = -5, .evidence = EVIDENCE_PREGREET,
		    .set = { "milter.action_bot=tag",
		    "milter.action=reject" },
		    .verdict = VERDICT_BACKUP_FIRST_BOT,
		    .action = CONF_ACTION_TAG, .todo = VERDICT_DO_ACT },
		{ .what = "action_bot divert", .client = "192.0.2.45",
		    .tarpit = -5, .evidence = EVIDENCE_PREGREET,
		    .set = { "milter.action_bot=divert" },
		    .verdict = VERDICT_BACKUP_FIRST_BOT,
		    .action = CONF_ACTION_DIVERT, .todo = VERDICT_DO_ACT },
		{ .what = "action_bot tempfail", .client = "192.0.2.46",
		    .tarpit = -5, .evidence = EVIDENCE_PREGREET,
		    .set = { "milter.action_bot=tempfail" },
		    .verdict = VERDICT_BACKUP_FIRST_BOT,
		    .action = CONF_ACTION_TEMPFAIL, .todo = VERDICT_DO_ACT,
		    .code = "451 4.7.1" },
		{ .what = "action_bot reject", .client = "192.0.2.47",
		    .tarpit = -5, .evidence = EVIDENCE_PREGREET,
		    .set = { "milter.action_bot=reject" },
		    .verdict = VERDICT_BACKUP_FIRST_BOT,
		    .action = CONF_ACTION_REJECT, .todo = VERDICT_DO_ACT,
		    .code = "550 5.7.1" },
		{ .what = "IPv6 backup first", .client = "2001:db8::5",
		    .tarpit = -5, .verdict = VERDICT_BACKUP_FIRST,
		    .action = CONF_ACTION_TAG, .todo = VERDICT_DO_ACT },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(rows); i++)
		run_row(&rows[i], (unsigned)i);
}

/* Backup first with each evidence flag of the tar pit: a bot. */
static void
test_evidence(void)
{
	for (unsigned i = 0; record_evidence_name(i) != NULL; i++) {
		g_autofree char *what = g_strdup_printf("evidence %s",
		    record_evidence_name(i));
		g_autofree char *client = g_strdup_printf("192.0.2.%u",
		    100 + i);
		struct row r = { .what = what, .client = client,
		    .tarpit = -5, .evidence = 1u << i,
		    .verdict = VERDICT_BACKUP_FIRST_BOT,
		    .action = CONF_ACTION_QUARANTINE, .todo = VERDICT_DO_ACT };

		run_row(&r, 1000 + i);
	}
}

/*
 * The replies, the headers, and the counters behind the metrics and
 * the totals line, from one engine over several sessions.
 */
static void
test_texts_and_counters(void)
{
	g_autofree char *path = g_build_filename(tmpdir, "texts.lmdb", NULL);
	static const struct row rec = { .tarpit = -5 };
	const char *const set[] = { "milter.action=reject", NULL };
	g_autoptr(GError) err = NULL;
	struct verdict_setup *setup = verdict_setup_load(conf_path, set, &err);
	g_autoptr(GString) metrics = g_string_new(NULL);
	g_autoptr(GString) totals = g_string_new(NULL);
	g_autofree char *ar = NULL, *line = NULL, *h = NULL;
	g_autofree char *from = g_strdup_printf("%s@pass.test",
	    "a-rather-long-local-part-that-makes-the-header-fold");
	const char *code, *xcode, *text;
	struct verdict_session s;
	struct verdict_engine *e;
	struct store *st;
	struct spf *spf;
	struct addr a, b;
	struct hit_record hit;
	struct alive alive;
	bool found;

	g_assert_no_error(err);
	g_assert_true(addr_parse("192.0.2.50", &a));
	g_assert_true(addr_parse("192.0.2.51", &b));
	seed(&rec, path, "192.0.2.50/32");
	st = open_store(path);
	spf = spf_new(zone_path, &err);
	g_assert_no_error(err);
	e = verdict_engine_new(st, spf, NULL, now_ms - 600 * MIN_MS);

	/* Backup first, rejected: 550 5.7.1. */
	verdict_session_init(&s, setup);
	verdict_connect(e, &s, &a, NULL, false, now_ms);
	/* The contact is recorded and the primary marked up this minute. */
	verdict_engine_flush(e);
	g_assert_true(store_lookup(st, "192.0.2.50/32", &hit, &found, &err));
	g_assert_true(found);
	g_assert_cmpuint(hit.primary_sessions, ==, 1);
	g_assert_cmpint(hit.primary_first, ==, now_ms);
	g_assert_true(store_alive_get(st, &alive, &err));
	g_assert_true(alive_any(&alive, now_ms, now_ms));
	verdict_helo(e, &s, "mail.client.test");
	g_assert_cmpint(verdict_mail(e, &s, from, false), ==, VERDICT_DO_ACT);
	g_assert_true(verdict_reply(&s, &code, &xcode, &text));
	g_assert_cmpstr(code, ==, "550");
	g_assert_cmpstr(xcode, ==, "5.7.1");
	g_assert_cmpstr(text, ==, "Mail refused: your server reached our "
	    "backup MX before this one");
	h = verdict_header(&s);
	g_assert_true(g_str_has_prefix(h, "verdict=backup-first "
	    "network=192.0.2.50/32 "));
	g_assert_nonnull(strstr(h, " primary-up=yes spf=pass action=reject"));
	/* Folded for a milter, one line for Postfix's PREPEND. */
	ar = verdict_ar_header(&s);
	line = verdict_ar_header_line(&s);
	g_assert_nonnull(strstr(ar, "\n\t"));
	g_assert_null(strchr(line, '\n'));
	g_assert_true(g_str_has_prefix(line, "primary.test; spf=pass "
	    "smtp.mailfrom=a-rather-long"));
	g_assert_cmpuint(strlen(line), ==, strlen(ar) - 1);
	/* A second message of the session: the same, counted again. */
	g_assert_cmpint(verdict_mail(e, &s, "", false), ==, VERDICT_DO_ACT);
	verdict_session_clear(&s);

	/* An exempt session and one with no record: counted apart. */
	verdict_session_init(&s, setup);
	verdict_connect(e, &s, &b, NULL, false, now_ms);
	g_assert_cmpint(verdict_mail(e, &s, "x@none.test", true), ==,
	    VERDICT_DO_NOTHING);
	g_assert_null(verdict_ar_header(&s));
	g_assert_false(verdict_reply(&s, &code, &xcode, &text));
	verdict_session_clear(&s);
	verdict_session_init(&s, setup);
	verdict_connect(e, &s, NULL, NULL, false, now_ms);
	verdict_session_clear(&s);

	verdict_engine_totals(e, totals);
	g_assert_cmpstr(totals->str, ==, "connections=3 verdicts=2 exempt=1 "
	    "store_errors=0");
	verdict_engine_flush(e);
	verdict_engine_metrics(e, metrics, "slowspam_milter");
	g_test_message("%s", metrics->str);
	g_assert_nonnull(strstr(metrics->str,
	    "\nslowspam_milter_connections_total 3\n"));
	/*
	 * Two contacts (the local session has none) and the minute's alive
	 * mark, written, none lost.
	 */
	g_assert_nonnull(strstr(metrics->str, "\nslowspam_milter_store_events"
	    "_total{result=\"written\"} 3\n"));
	g_assert_nonnull(strstr(metrics->str, "\nslowspam_milter_store_events"
	    "_total{result=\"dropped\"} 0\n"));
	g_assert_nonnull(strstr(metrics->str, "\nslowspam_milter_store_events"
	    "_total{result=\"failed\"} 0\n"));
	g_assert_nonnull(strstr(metrics->str,
	    "\nslowspam_milter_verdicts_total{verdict=\"backup-first\"} 2\n"));
	g_assert_nonnull(strstr(metrics->str,
	    "\nslowspam_milter_actions_total{action=\"reject\"} 2\n"));
	g_assert_nonnull(strstr(metrics->str,
	    "\nslowspam_milter_spf_results_total{result=\"pass\"} 1\n"));
	g_assert_nonnull(strstr(metrics->str,
	    "\nslowspam_milter_spf_results_total{result=\"none\"} 1\n"));
	g_assert_nonnull(strstr(metrics->str,
	    "\nslowspam_milter_lookup_seconds_count 2\n"));
	g_assert_nonnull(strstr(metrics->str,
	    "# TYPE slowspam_milter_exempt_total counter\n"
	    "slowspam_milter_exempt_total 1\n"));

	verdict_setup_unref(setup);
	verdict_engine_free(e);
	spf_free(spf);
	store_free(st);
}

/*
 * Another process holds the store's write lock, as a disk that never
 * finishes a sync: verdict_connect still answers at once (it only reads;
 * the contact waits in the queue), and every contact is written once the
 * lock is let go. A connect that wrote would wait for the holder (20 s).
 */
/*
 * More contacts than the engine's queue can hold: its ring (8192) and the
 * batch the stuck writer took from it (as many again at most).
 */
#define CONTACTS_OVER	(2 * 8192 + 100)

static void
test_connect_no_wait(void)
{
	g_autofree char *path = g_build_filename(tmpdir, "nowait.lmdb", NULL);
	static const struct row empty = { .what = "no record" };
	g_autoptr(GError) err = NULL;
	struct verdict_setup *setup = verdict_setup_load(conf_path, NULL, &err);
	g_autoptr(GString) metrics = g_string_new(NULL);
	struct test_lmdb_hold hold;
	struct verdict_session s;
	struct verdict_engine *e;
	struct store *st;
	struct spf *spf;
	struct addr a;
	gint64 t;

	g_assert_no_error(err);
	seed(&empty, path, "");
	test_lmdb_fork(path, &hold);	/* before the store and its thread */
	st = open_store(path);
	spf = spf_new(zone_path, &err);
	g_assert_no_error(err);
	e = verdict_engine_new(st, spf, NULL, now_ms - 600 * MIN_MS);
	/* The minute's liveness mark (queued with the contact) before the lock. */
	g_assert_true(addr_parse("192.0.2.99", &a));
	verdict_session_init(&s, setup);
	verdict_connect(e, &s, &a, NULL, false, now_ms);
	verdict_session_clear(&s);
	verdict_engine_flush(e);

	test_lmdb_take(&hold);
	t = g_get_monotonic_time();
	for (int i = 0; i < 50; i++) {
		char text[32];

		g_snprintf(text, sizeof(text), "10.9.0.%d", i);
		g_assert_true(addr_parse(text, &a));
		verdict_session_init(&s, setup);
		verdict_connect(e, &s, &a, NULL, false, now_ms);
		g_assert_true(s.judged);
		verdict_session_clear(&s);
	}
	t = g_get_monotonic_time() - t;
	g_test_message("50 connects against a locked store took %"
	    G_GINT64_FORMAT " us", t);
	g_assert_cmpint(t, <, 2 * G_USEC_PER_SEC * test_slow());
	verdict_engine_metrics(e, metrics, "slowspam_milter");
	/* The first contact and the minute's alive mark, before the lock. */
	g_assert_nonnull(strstr(metrics->str, "\nslowspam_milter_store_events"
	    "_total{result=\"written\"} 2\n"));

	/* A full queue: the session is judged all the same, the contact
	 * dropped and counted. */
	g_assert_true(addr_parse("10.8.0.1", &a));
	for (int i = 0; i < CONTACTS_OVER; i++) {
		verdict_session_init(&s, setup);
		verdict_connect(e, &s, &a, NULL, false, now_ms);
		g_assert_true(s.judged);
		verdict_session_clear(&s);
	}
	test_lmdb_release(&hold);
	verdict_engine_flush(e);
	g_string_truncate(metrics, 0);
	verdict_engine_metrics(e, metrics, "slowspam_milter");
	{
		struct hit_record hit;
		bool found = false;
		uint64_t dropped = 0;
		const char *p = strstr(metrics->str,
		    "\nslowspam_milter_store_events_total{result=\"dropped\"} ");

		g_assert_nonnull(p);
		dropped = g_ascii_strtoull(strchr(p, '}') + 2, NULL, 10);
		g_assert_true(store_lookup(st, "10.8.0.1/32", &hit, &found,
		    &err));
		g_test_message("%d contacts into a full queue: %u written, %"
		    G_GUINT64_FORMAT " dropped", CONTACTS_OVER,
		    hit.primary_sessions, dropped);
		g_assert_cmpuint(dropped, >=, 100);
		g_assert_cmpuint(hit.primary_sessions + dropped, ==,
		    CONTACTS_OVER);
	}
	for (int i = 0; i < 50; i++) {
		char key[32];
		struct hit_record hit;
		bool found = false;

		g_snprintf(key, sizeof(key), "10.9.0.%d/32", i);
		g_assert_true(store_lookup(st, key, &hit, &found, &err));
		g_assert_true(found);
		g_assert_cmpuint(hit.primary_sessions, ==, 1);
	}
	verdict_setup_unref(setup);
	verdict_engine_free(e);
	spf_free(spf);
	store_free(st);
}

/* The liveness ring: marks, spans, laps, and the encoding. */
static void
test_alive(void)
{
	struct alive a = { 0 }, b;
	uint8_t buf[ALIVE_SIZE];

	g_assert_false(alive_any(&a, 0, T0));
	alive_mark(&a, T0);
	g_assert_true(alive_any(&a, T0, T0));
	g_assert_true(alive_any(&a, T0 - 5 * MIN_MS, T0 + 5 * MIN_MS));
	g_assert_false(alive_any(&a, T0 - 5 * MIN_MS, T0 - MIN_MS));
	/* A jump clears the minutes in between, and a lap clears all. */
	alive_mark(&a, T0 + 100 * MIN_MS);
	g_assert_true(alive_any(&a, T0, T0));
	g_assert_false(alive_any(&a, T0 + MIN_MS, T0 + 99 * MIN_MS));
	alive_mark(&a, T0 + (ALIVE_MINUTES + 200) * MIN_MS);
	g_assert_false(alive_any(&a, T0, T0 + 100 * MIN_MS));
	/* Older than the ring: ignored. */
	alive_mark(&a, T0 - 10 * MIN_MS);
	g_assert_false(alive_any(&a, T0 - 10 * MIN_MS, T0 - 10 * MIN_MS));
	/* Only the span kept: what a backend reading only it gives. */
	memset(&b, 0, sizeof(b));
	for (int m = -3; m <= 3; m++)
		alive_mark(&b, T0 + m * MIN_MS);
	alive_keep(&b, T0 - MIN_MS, T0 + MIN_MS - 1);
	g_assert_false(alive_any(&b, T0 - 3 * MIN_MS, T0 - 2 * MIN_MS));
	g_assert_true(alive_any(&b, T0 - MIN_MS, T0 - MIN_MS));
	g_assert_true(alive_any(&b, T0, T0));
	g_assert_false(alive_any(&b, T0 + MIN_MS, T0 + 3 * MIN_MS));
	g_assert_cmpint(b.newest, ==, T0 / MIN_MS + 3);
	alive_keep(&b, T0, T0 - 1);
	g_assert_false(alive_any(&b, T0 - 3 * MIN_MS, T0 + 3 * MIN_MS));
	g_assert_cmpuint(alive_encode(&a, buf), ==, ALIVE_SIZE);
	g_assert_true(alive_decode(buf, ALIVE_SIZE, &b));
	g_assert_cmpmem(&a, sizeof(a), &b, sizeof(b));
	g_assert_false(alive_decode(buf, ALIVE_SIZE - 1, &b));
	buf[0] = 2;
	g_assert_false(alive_decode(buf, ALIVE_SIZE, &b));
}

/*
 * The wall clock went back: minutes already lived (perhaps with the
 * primary down) must not be marked up again, or a tar-pit contact made
 * in them would count. Marks a few minutes late still land; a whole ring
 * back, the new clock is believed.
 */
static void
test_alive_clock_back(void)
{
	int64_t newest = 0;

	g_assert_true(alive_clock_ok(&newest, T0));
	g_assert_true(alive_clock_ok(&newest, T0 - ALIVE_LATE * MIN_MS));
	g_assert_false(alive_clock_ok(&newest,
	    T0 - (ALIVE_LATE + 1) * MIN_MS));
	g_assert_false(alive_clock_ok(&newest, T0 - 24 * 60 * MIN_MS));
	/* Caught up: marks again. */
	g_assert_true(alive_clock_ok(&newest, T0 + MIN_MS));
	/* A clock a day ahead, then put right: no marks until it is back. */
	g_assert_true(alive_clock_ok(&newest, T0 + 24 * 60 * MIN_MS));
	g_assert_false(alive_clock_ok(&newest, T0 + 2 * MIN_MS));
	/* More than the ring back: the earlier clock was wrong. */
	g_assert_true(alive_clock_ok(&newest,
	    T0 + (24 * 60 - ALIVE_MINUTES) * MIN_MS));
	g_assert_true(alive_clock_ok(&newest,
	    T0 + (24 * 60 - ALIVE_MINUTES + 1) * MIN_MS));
}

static void
test_allow(void)
{
	static const char text[] = "# allow-list\n192.0.2.0/24\n"
	    "2001:db8::/32   # a comment\n\nExample.ORG.\npartner.test\n";
	g_autoptr(GError) err = NULL;
	struct allow *al = allow_parse("allow.txt", text, sizeof(text) - 1,
	    &err);
	struct addr a;

	g_assert_no_error(err);
	g_assert_true(addr_parse("192.0.2.77", &a) && allow_addr(al, &a));
	g_assert_true(addr_parse("2001:db8:5::1", &a) && allow_addr(al, &a));
	g_assert_true(addr_parse("198.51.100.1", &a) && !allow_addr(al, &a));
	g_assert_true(allow_domain(al, "example.org", 11));
	g_assert_true(allow_domain(al, "MX1.example.org.", 16));
	g_assert_false(allow_domain(al, "badexample.org", 14));
	g_assert_false(allow_domain(al, "org", 3));
	g_assert_true(allow_domain(al, "a.b.partner.test", 16));
	g_assert_false(allow_domain(NULL, "example.org", 11));
	allow_free(al);

	al = allow_parse("bad.txt", "10.0.0.1/8\nok.example\nnot a name\n",
	    33, &err);
	g_assert_null(al);
	g_assert_nonnull(strstr(err->message, "bad.txt:1: not a network"));
	g_assert_nonnull(strstr(err->message, "bad.txt:3: not a network"));
}

/* A listed answer with the tar pit's times, minutes relative to now. */
static struct dnsxl_answer
listed(int64_t first, int64_t last)
{
	struct dnsxl_answer a = { .result = DNSXL_LISTED,
	    .codes = LISTING_BOT, .first = now_ms + first * MIN_MS,
	    .last = now_ms + last * MIN_MS };

	return a;
}

/* verdict_list_merge: the window, first and last, what it leaves. */
static void
test_list_merge(void)
{
	const int64_t window = 60 * MIN_MS;
	struct hit_record rec = { 0 }, none = { 0 };
	struct dnsxl_answer a = listed(-30, -10);

	/* The store had nothing: the list's times are the record's. */
	g_assert_true(verdict_list_merge(&rec, &a, now_ms, window));
	g_assert_cmpint(rec.tarpit_first, ==, now_ms - 30 * MIN_MS);
	g_assert_cmpint(rec.tarpit_last, ==, now_ms - 10 * MIN_MS);
	g_assert_cmpuint(rec.tarpit_sessions, ==, 0);
	/* The store's earlier first and later last stay. */
	rec.tarpit_first = now_ms - 50 * MIN_MS;
	rec.tarpit_last = now_ms - 5 * MIN_MS;
	rec.primary_first = now_ms - 40 * MIN_MS;
	g_assert_true(verdict_list_merge(&rec, &a, now_ms, window));
	g_assert_cmpint(rec.tarpit_first, ==, now_ms - 50 * MIN_MS);
	g_assert_cmpint(rec.tarpit_last, ==, now_ms - 5 * MIN_MS);
	g_assert_cmpint(rec.primary_first, ==, now_ms - 40 * MIN_MS);
	/* The list's earlier first and later last win. */
	rec.tarpit_first = now_ms - 20 * MIN_MS;
	rec.tarpit_last = now_ms - 15 * MIN_MS;
	g_assert_true(verdict_list_merge(&rec, &a, now_ms, window));
	g_assert_cmpint(rec.tarpit_first, ==, now_ms - 30 * MIN_MS);
	g_assert_cmpint(rec.tarpit_last, ==, now_ms - 10 * MIN_MS);
	/* Older than the window, by its last contact: ignored. */
	rec = none;
	a = listed(-120, -61);
	g_assert_false(verdict_list_merge(&rec, &a, now_ms, window));
	g_assert_cmpint(rec.tarpit_first, ==, 0);
	a = listed(-120, -60);
	g_assert_true(verdict_list_merge(&rec, &a, now_ms, window));
	/* From the future beyond the skew, no times, not listed, swapped. */
	rec = none;
	a = listed(-1, 6);
	g_assert_false(verdict_list_merge(&rec, &a, now_ms, window));
	a = listed(-1, 4);
	g_assert_true(verdict_list_merge(&rec, &a, now_ms, window));
	rec = none;
	a.first = a.last = 0;
	g_assert_false(verdict_list_merge(&rec, &a, now_ms, window));
	a = listed(-10, -20);
	g_assert_false(verdict_list_merge(&rec, &a, now_ms, window));
	a = listed(-20, -10);
	for (int r = DNSXL_NOT_LISTED; r < DNSXL_NRESULTS; r++) {
		a.result = (enum dnsxl_result)r;
		g_assert_false(verdict_list_merge(&rec, &a, now_ms, window));
	}
	g_assert_cmpint(rec.tarpit_first, ==, 0);
}

/* The rdata parsers, on what a hostile server could send. */
static void
test_dnsxl_parse(void)
{
	static const char good[] = "bot; first=2026-12-03T08:00:00.000Z; "
	    "last=2026-12-03T08:05:00.000Z";
	static const char early[] = "backup-first; first=2026-12-01T08:00:00"
	    ".000Z; last=2026-12-02T08:05:00.000Z";
	static const uint8_t a_bot[] = { 127, 0, 0, 3, 9 };
	uint8_t buf[512];
	int64_t first = 0, last = 0, f, l;
	size_t n = sizeof(good) - 1, m = sizeof(early) - 1;
	struct addr ad;
	char name[DNSXL_QNAME_LEN];

	g_assert_cmpuint(dnsxl_parse_a(a_bot, 4), ==, LISTING_BOT);
	g_assert_cmpuint(dnsxl_parse_a(a_bot, 3), ==, 0);
	g_assert_cmpuint(dnsxl_parse_a(a_bot, 5), ==, 0);
	buf[0] = (uint8_t)n;
	memcpy(buf + 1, good, n);
	g_assert_true(dnsxl_parse_txt(buf, n + 1, &first, &last));
	g_assert_true(record_parse_time("2026-12-03T08:00:00.000Z", 24, &f));
	g_assert_true(record_parse_time("2026-12-03T08:05:00.000Z", 24, &l));
	g_assert_cmpint(first, ==, f);
	g_assert_cmpint(last, ==, l);
	/* A string longer than the rdata: malformed, even if bytes follow. */
	first = last = 0;
	g_assert_false(dnsxl_parse_txt(buf, n, &first, &last));
	g_assert_false(dnsxl_parse_txt(buf, 1, &first, &last));
	g_assert_cmpint(first, ==, 0);
	g_assert_cmpint(last, ==, 0);
	/* Two strings: the earliest first, the latest last. */
	buf[n + 1] = (uint8_t)m;
	memcpy(buf + n + 2, early, m);
	g_assert_true(dnsxl_parse_txt(buf, n + m + 2, &first, &last));
	g_assert_true(record_parse_time("2026-12-01T08:00:00.000Z", 24, &f));
	g_assert_cmpint(first, ==, f);
	g_assert_cmpint(last, ==, l);
	/* Only a well-formed rdata counts: one valid string, then junk. */
	first = last = 0;
	g_assert_false(dnsxl_parse_txt(buf, n + 2, &first, &last));
	g_assert_cmpint(first, ==, 0);
	/* Empty strings and an empty rdata: well-formed, no times. */
	memset(buf, 0, 3);
	g_assert_true(dnsxl_parse_txt(buf, 3, &first, &last));
	g_assert_true(dnsxl_parse_txt(buf, 0, &first, &last));
	g_assert_cmpint(first, ==, 0);

	g_assert_true(addr_parse("192.0.2.1", &ad));
	g_assert_true(dnsxl_qname(&ad, "bl.example", name));
	g_assert_cmpstr(name, ==, "1.2.0.192.bl.example");
	g_assert_true(addr_parse("2001:db8::1", &ad));
	g_assert_true(dnsxl_qname(&ad, "bl.example", name));
	g_assert_cmpstr(name, ==, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	    "0.0.0.0.8.b.d.0.1.0.0.2.bl.example");
	memset(buf, 'a', 300);
	buf[300] = '\0';
	g_assert_false(dnsxl_qname(&ad, (const char *)buf, name));
}

/*
 * An engine whose list never answers (a UDP socket that reads nothing):
 * the verdict is the store's, by the deadline, and the timeout counted.
 */
static void
test_list_timeout(void)
{
	g_autofree char *path = g_build_filename(tmpdir, "list.lmdb", NULL);
	g_autofree char *resolver = NULL;
	static const struct row rec = { .tarpit = -5 };
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t slen = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	g_autoptr(GString) metrics = g_string_new(NULL);
	g_autoptr(GError) err = NULL;
	g_autofree char *h = NULL, *set_resolver = NULL;
	const char *set[] = { "milter.tarpit_list=bl.example",
	    "milter.tarpit_list_timeout=200ms", NULL, NULL };
	struct verdict_setup *setup;
	struct verdict_session s;
	struct verdict_engine *e;
	struct dnsxl *d;
	struct store *st;
	struct spf *spf;
	struct addr a;
	gint64 t0, took;

	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), ==, 0);
	g_assert_cmpint(getsockname(fd, (struct sockaddr *)&sin, &slen), ==,
	    0);
	set_resolver = g_strdup_printf("milter.tarpit_list_resolver="
	    "127.0.0.1@%u", ntohs(sin.sin_port));
	set[2] = set_resolver;
	setup = verdict_setup_load(conf_path, set, &err);
	g_assert_no_error(err);
	g_assert_true(dnsxl_open(setup->conf, &d, &err));
	g_assert_nonnull(d);
	g_assert_true(addr_parse("192.0.2.60", &a));
	seed(&rec, path, "192.0.2.60/32");
	st = open_store(path);
	spf = spf_new(zone_path, &err);
	g_assert_no_error(err);
	e = verdict_engine_new(st, spf, d, now_ms - 600 * MIN_MS);

	verdict_session_init(&s, setup);
	t0 = g_get_monotonic_time();
	verdict_connect(e, &s, &a, NULL, false, now_ms);
	g_assert_cmpint(verdict_mail(e, &s, "x@none.test", false), ==,
	    VERDICT_DO_ACT);
	took = g_get_monotonic_time() - t0;
	g_test_message("a silent list took %" G_GINT64_FORMAT " us", took);
	g_assert_cmpint(took, >=, 190 * 1000);
	g_assert_cmpint(took, <, 1000 * 1000);
	g_assert_cmpint(s.msg.verdict, ==, VERDICT_BACKUP_FIRST);
	h = verdict_header(&s);
	g_assert_true(g_str_has_suffix(h, " action=tag tarpit=store"));
	/*
	 * The next message waits no more: the answer was collected. A null
	 * sender with no HELO: no SPF identity (libspf2 aborted on it).
	 */
	t0 = g_get_monotonic_time();
	g_assert_cmpint(verdict_mail(e, &s, "", false), ==, VERDICT_DO_ACT);
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 100 * 1000);
	verdict_session_clear(&s);
	/* A session that ends before MAIL: its lookup is cancelled. */
	verdict_session_init(&s, setup);
	verdict_connect(e, &s, &a, NULL, false, now_ms);
	verdict_session_clear(&s);

	verdict_engine_metrics(e, metrics, "slowspam_milter");
	g_assert_nonnull(strstr(metrics->str, "\nslowspam_milter_list_lookups"
	    "_total{result=\"timeout\"} 1\n"));
	g_assert_nonnull(strstr(metrics->str, "\nslowspam_milter_list_lookups"
	    "_total{result=\"listed\"} 0\n"));
	g_assert_nonnull(strstr(metrics->str,
	    "\nslowspam_milter_list_lookup_seconds_count 1\n"));
	g_assert_nonnull(strstr(metrics->str,
	    "\nslowspam_milter_list_lookup_seconds_bucket{le=\"0.1\"} 0\n"));
	g_assert_nonnull(strstr(metrics->str,
	    "\nslowspam_milter_list_lookup_seconds_bucket{le=\"0.5\"} 1\n"));
	verdict_engine_free(e);
	dnsxl_free(d);
	verdict_setup_unref(setup);
	spf_free(spf);
	store_free(st);
	close(fd);
}

/*
 * A DNS list on a UDP socket of ours: every A query is answered
 * 127.0.0.2 (backup-first) and every TXT query with the tar pit's times
 * dns.first and dns.last, TTL 0. Enough for libunbound as a stub.
 */
static struct {
	int		fd;
	gint		stop;
	int64_t		first, last;	/* ms */
} dns;

/* The answer to the query q[0..n) in out; its length, 0: none. */
static size_t
dns_answer(const uint8_t *q, size_t n, uint8_t *out, size_t cap)
{
	char first[RECORD_TIME_LEN], last[RECORD_TIME_LEN], txt[128];
	size_t p = 12, len, rd;
	unsigned type;

	if (n < 12 || q[4] != 0 || q[5] != 1)
		return 0;
	while (p < n && q[p] != 0) {
		if (q[p] > 63)
			return 0;
		p += (size_t)q[p] + 1;
	}
	if (p + 5 > n)
		return 0;
	type = (unsigned)q[p + 1] << 8 | q[p + 2];
	p += 5;			/* the root label, type and class */
	record_format_time(dns.first, first);
	record_format_time(dns.last, last);
	len = (size_t)g_snprintf(txt, sizeof(txt), "backup-first; first=%s; "
	    "last=%s", first, last);
	rd = type == 1 ? 4 : len + 1;
	if (p + 12 + rd > cap || (type != 1 && type != 16))
		return 0;
	memcpy(out, q, p);
	out[2] = (uint8_t)(0x80 | (q[2] & 0x01));	/* QR, RD as asked */
	out[3] = 0x80;					/* RA, NOERROR */
	memset(out + 6, 0, 6);
	out[7] = 1;					/* one answer */
	memcpy(out + p, (const uint8_t[]){ 0xc0, 12, 0, (uint8_t)type, 0, 1,
	    0, 0, 0, 0, 0, (uint8_t)rd }, 12);
	if (type == 1)
		memcpy(out + p + 12, (const uint8_t[]){ 127, 0, 0, 2 }, 4);
	else {
		out[p + 12] = (uint8_t)len;
		memcpy(out + p + 13, txt, len);
	}
	return p + 12 + rd;
}

static gpointer
dns_thread(gpointer data)
{
	(void)data;
	while (!g_atomic_int_get(&dns.stop)) {
		struct pollfd pf = { .fd = dns.fd, .events = POLLIN };
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		uint8_t q[512], a[512];
		ssize_t n;
		size_t len;

		if (poll(&pf, 1, 50) <= 0)
			continue;
		n = recvfrom(dns.fd, q, sizeof(q), 0, (struct sockaddr *)&from,
		    &flen);
		if (n > 0 && (len = dns_answer(q, (size_t)n, a, sizeof(a))) > 0)
			(void)sendto(dns.fd, a, len, 0,
			    (struct sockaddr *)&from, flen);
	}
	return NULL;
}

/*
 * One session of client against the list (its times tarpit_first and
 * tarpit_last, minutes from now) and a store seeded with r; the liveness
 * reads after the connect and after MAIL FROM, the verdict, the header.
 */
static void
list_session(const struct row *r, const char *client, int64_t tfirst,
    int64_t tlast, guint64 at_connect, guint64 at_mail, enum verdict v,
    const char *header_end)
{
	g_autofree char *path = g_strdup_printf("%s/%s.lmdb", tmpdir, client);
	g_autofree char *set_resolver = NULL, *h = NULL, *key = NULL;
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	const char *set[] = { "milter.tarpit_list=bl.example",
	    "milter.tarpit_list_timeout=2s", NULL, NULL };
	g_autoptr(GError) err = NULL;
	struct verdict_setup *setup;
	struct verdict_session s;
	struct verdict_engine *e;
	struct dnsxl *d;
	struct store *st;
	struct spf *spf;
	struct addr a;

	g_assert_cmpint(getsockname(dns.fd, (struct sockaddr *)&sin, &slen),
	    ==, 0);
	set_resolver = g_strdup_printf("milter.tarpit_list_resolver="
	    "127.0.0.1@%u", ntohs(sin.sin_port));
	set[2] = set_resolver;
	setup = verdict_setup_load(conf_path, set, &err);
	g_assert_no_error(err);
	g_assert_true(dnsxl_open(setup->conf, &d, &err));
	g_assert_true(addr_parse(client, &a));
	key = g_strdup_printf("%s/32", client);
	seed(r, path, key);
	st = open_store(path);
	spf = spf_new(zone_path, &err);
	g_assert_no_error(err);
	e = verdict_engine_new(st, spf, d, now_ms - 600 * MIN_MS);
	dns.first = now_ms + tfirst * MIN_MS;
	dns.last = now_ms + tlast * MIN_MS;

	verdict_session_init(&s, setup);
	verdict_connect(e, &s, &a, NULL, false, now_ms);
	g_assert_cmpuint(liveness_reads(e), ==, at_connect);
	(void)verdict_mail(e, &s, "x@none.test", false);
	h = verdict_header(&s);
	g_test_message("%s: %s (%s), header %s", client,
	    verdict_name(s.msg.verdict), s.msg.why, h != NULL ? h : "-");
	g_assert_cmpuint(liveness_reads(e), ==, at_mail);
	g_assert_cmpstr(verdict_name(s.msg.verdict), ==, verdict_name(v));
	g_assert_nonnull(h);
	g_assert_true(g_str_has_suffix(h, header_end));
	/* A second message reads nothing again. */
	(void)verdict_mail(e, &s, "y@none.test", false);
	g_assert_cmpuint(liveness_reads(e), ==, at_mail);
	verdict_session_clear(&s);
	verdict_engine_free(e);
	dnsxl_free(d);
	verdict_setup_unref(setup);
	spf_free(spf);
	store_free(st);
}

/*
 * The liveness of a client the list makes a candidate is read at MAIL
 * FROM, once, and means what it would have at connect: the primary up
 * around the list's tar-pit contact proves it, a primary not up does
 * not, and this connection's own mark (a list contact a little in the
 * future) never does.
 */
static void
test_list_liveness(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	static const struct row up = { .what = "up" };
	static const struct row up_late = { .what = "up late",
	    .up_from = -4, .up_to = -1 };
	static const struct row never = { .what = "never up",
	    .up_from = 1, .up_to = 0 };
	static const struct row old = { .what = "tar pit 30 minutes ago",
	    .tarpit = -30 };
	GThread *t;

	dns.fd = socket(AF_INET, SOCK_DGRAM, 0);
	g_assert_cmpint(dns.fd, >=, 0);
	g_assert_cmpint(bind(dns.fd, (struct sockaddr *)&sin, sizeof(sin)),
	    ==, 0);
	t = g_thread_new("dns", dns_thread, NULL);

	/* Not a candidate at connect: read at MAIL FROM. */
	list_session(&up, "192.0.2.70", -6, -5, 0, 1, VERDICT_BACKUP_FIRST,
	    " tarpit=list");
	list_session(&up_late, "192.0.2.71", -6, -5, 0, 1, VERDICT_UNPROVEN,
	    " tarpit=list");
	/* Only this connection's mark before a contact 2 minutes ahead. */
	list_session(&never, "192.0.2.72", 1, 2, 0, 1, VERDICT_UNPROVEN,
	    " tarpit=list");
	/* A candidate at connect whose contact the list moves: read again. */
	list_session(&old, "192.0.2.73", -6, -5, 1, 2, VERDICT_BACKUP_FIRST,
	    " tarpit=store+list");

	g_atomic_int_set(&dns.stop, 1);
	g_thread_join(t);
	close(dns.fd);
}

int
main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	tmpdir = test_tmpdir_new("verdict");
	now_ms = store_now() / MIN_MS * MIN_MS;
	write_files();
	g_test_add_func("/verdict/table", test_table);
	g_test_add_func("/verdict/evidence", test_evidence);
	g_test_add_func("/verdict/texts-and-counters", test_texts_and_counters);
	g_test_add_func("/verdict/connect-no-wait", test_connect_no_wait);
	g_test_add_func("/verdict/alive", test_alive);
	g_test_add_func("/verdict/alive-clock-back", test_alive_clock_back);
	g_test_add_func("/verdict/allow", test_allow);
	g_test_add_func("/verdict/list-merge", test_list_merge);
	g_test_add_func("/verdict/dnsxl-parse", test_dnsxl_parse);
	g_test_add_func("/verdict/list-timeout", test_list_timeout);
	g_test_add_func("/verdict/list-liveness", test_list_liveness);
	rc = g_test_run();
	test_tmpdir_remove(tmpdir);
	g_free(conf_path);
	g_free(zone_path);
	return rc;
}
