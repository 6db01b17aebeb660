/*
 * test_conf.c - the configuration loader: defaults, every key, every
 * kind of mistake and the diagnostics that name file, line and key.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "conf.h"
#include "log.h"
#include "testutil.h"

static char *tmpdir;

/* Write text to a fresh file in the private temporary directory. */
static char *
write_conf(const char *name, const char *text, gssize len)
{
	char *path = g_build_filename(tmpdir, name, NULL);

	g_assert_true(g_file_set_contents(path, text, len, NULL));
	return path;
}

/* Load path and expect failure; returns the message. */
static char *
load_fails(const char *path, const char *const *overrides, int code)
{
	GError *err = NULL;
	struct conf *c = conf_load(path, overrides, &err);
	char *msg;

	g_assert_null(c);
	g_assert_error(err, CONF_ERROR, code);
	msg = g_strdup(err->message);
	g_error_free(err);
	return msg;
}

static void
test_defaults(void)
{
	g_autofree char *path = write_conf("empty.conf", "", 0);
	g_autoptr(GError) err = NULL;
	struct conf *c = conf_load(path, NULL, &err);
	char buf[ADDR_STRLEN];

	g_assert_no_error(err);
	g_assert_nonnull(c);
	g_assert_cmpstr(c->path, ==, path);
	g_assert_cmpuint(c->tarpitd.listen.n, ==, 1);
	g_assert_cmpstr(addr_format(&c->tarpitd.listen.v[0].addr, buf), ==,
	    "::");
	g_assert_cmpuint(c->tarpitd.listen.v[0].port, ==, 25);
	g_assert_cmpstr(c->tarpitd.hostname, ==, g_get_host_name());
	g_assert_cmpint(c->tarpitd.greet_wait, ==, 6000);
	g_assert_cmpint(c->tarpitd.drip_interval, ==, 10000);
	g_assert_cmpint(c->tarpitd.max_hold, ==, 600000);
	g_assert_cmpuint(c->tarpitd.max_clients, ==, 16000);
	g_assert_cmpuint(c->tarpitd.max_clients_per_net, ==, 32);
	g_assert_cmpuint(c->tarpitd.workers, ==, 1);
	g_assert_cmpstr(c->tarpitd.user, ==, "slowspam");
	g_assert_cmpstr(c->tarpitd.chroot, ==, "");
	g_assert_cmpstr(c->tarpitd.event_log, ==, "");
	g_assert_cmpuint(c->tarpitd.metrics_listen.port, ==, 0);
	g_assert_cmpstr(c->milter.socket, ==, "unix:/run/slowspam/milter.sock");
	g_assert_cmpint(c->milter.window, ==, 7 * 86400000LL);
	g_assert_cmpint(c->milter.action, ==, CONF_ACTION_TAG);
	g_assert_cmpint(c->milter.action_bot, ==, CONF_ACTION_TAG);
	g_assert_cmpstr(c->milter.divert_to, ==, "");
	g_assert_cmpuint(c->milter.trusted_networks.n, ==, 2);
	g_assert_true(c->milter.spf);
	g_assert_cmpstr(c->milter.authserv_id, ==, c->tarpitd.hostname);
	g_assert_cmpint(c->store.backend, ==, STORE_BACKEND_LMDB);
	g_assert_true(g_str_has_suffix(c->store.path, "/lib/slowspam/hits.lmdb"));
	g_assert_cmpint(c->store.ttl, ==, 30 * 86400000LL);
	g_assert_cmpuint(c->store.ipv4_prefix, ==, 32);
	g_assert_cmpuint(c->store.ipv6_prefix, ==, 64);
	g_assert_cmpuint(c->store.map_size, ==, 1u << 30);
	g_assert_cmpstr(c->store.redis, ==, "127.0.0.1:6379");
	g_assert_cmpstr(c->store.redis_password, ==, "");
	g_assert_cmpuint(c->store.redis_db, ==, 0);
	g_assert_cmpint(c->store.redis_timeout, ==, 50);
	g_assert_cmpstr(c->store.redis_prefix, ==, "slowspam:");
	g_assert_cmpuint(c->store.redis_connections, ==, 4);
	g_assert_cmpint(c->milter.alive_margin, ==, 10 * 60000);
	g_assert_cmpint(c->milter.grace, ==, 10 * 60000);
	g_assert_cmpstr(c->milter.allow_list, ==, "");
	g_assert_cmpint(c->milter.on_store_error, ==, CONF_ON_ERROR_ACCEPT);
	g_assert_cmpuint(c->milter.metrics_listen.port, ==, 0);
	g_assert_cmpstr(c->milter.user, ==, "");
	g_assert_cmpuint(c->milter.socket_mode, ==, 0660);
	g_assert_cmpstr(c->milter.socket_group, ==, "");
	g_assert_cmpstr(c->policyd.socket, ==,
	    "unix:/run/slowspam/policyd.sock");
	g_assert_cmpstr(c->policyd.user, ==, "");
	g_assert_cmpuint(c->policyd.socket_mode, ==, 0660);
	g_assert_cmpstr(c->policyd.socket_group, ==, "");
	g_assert_cmpuint(c->policyd.metrics_listen.port, ==, 0);
	g_assert_cmpuint(c->policyd.workers, ==, 16);
	g_assert_cmpuint(c->policyd.max_connections, ==, 1000);
	g_assert_cmpint(c->policyd.idle_timeout, ==, 330000);
	g_assert_cmpuint(c->policyd.max_sessions, ==, 20000);
	g_assert_cmpint(c->policyd.session_ttl, ==, 600000);
	g_assert_cmpint(c->log.level, ==, LOG_INFO);
	g_assert_cmpint(c->log.facility, ==, LOG_MAIL);
	conf_free(c);
	conf_free(NULL);
}

static void
test_every_key(void)
{
	g_autofree char *path = g_test_build_filename(G_TEST_DIST, "conf",
	    "good.conf", NULL);
	g_autoptr(GError) err = NULL;
	struct conf *c = conf_load(path, NULL, &err);
	struct addr a;
	struct store_options so;
	char buf[ADDR_NETKEY_LEN];

	g_assert_no_error(err);
	g_assert_cmpuint(c->tarpitd.listen.n, ==, 2);
	g_assert_cmpstr(addr_format(&c->tarpitd.listen.v[0].addr, buf), ==,
	    "127.0.0.1");
	g_assert_cmpuint(c->tarpitd.listen.v[0].port, ==, 2525);
	g_assert_cmpstr(addr_format(&c->tarpitd.listen.v[1].addr, buf), ==,
	    "::1");
	g_assert_cmpuint(c->tarpitd.listen.v[1].port, ==, 2526);
	g_assert_cmpstr(c->tarpitd.hostname, ==, "tarpit.example.org.");
	g_assert_cmpint(c->tarpitd.greet_wait, ==, 2000);
	g_assert_cmpint(c->tarpitd.drip_interval, ==, 250);
	g_assert_cmpint(c->tarpitd.max_hold, ==, 120000);
	g_assert_cmpuint(c->tarpitd.max_clients, ==, 100);
	g_assert_cmpuint(c->tarpitd.max_clients_per_net, ==, 4);
	g_assert_cmpuint(c->tarpitd.workers, ==, 2);
	g_assert_cmpstr(c->tarpitd.user, ==, "nobody");
	g_assert_cmpstr(c->tarpitd.chroot, ==, "/var/empty");
	g_assert_cmpstr(c->tarpitd.event_log, ==,
	    "/var/log/slowspam/events.jsonl");
	g_assert_cmpuint(c->tarpitd.metrics_listen.port, ==, 9125);
	g_assert_cmpstr(c->milter.socket, ==, "inet:8891@127.0.0.1");
	g_assert_cmpint(c->milter.window, ==, 2 * 86400000LL);
	g_assert_cmpint(c->milter.action, ==, CONF_ACTION_QUARANTINE);
	g_assert_cmpint(c->milter.action_bot, ==, CONF_ACTION_DIVERT);
	g_assert_cmpstr(conf_action_name(c->milter.action_bot), ==, "divert");
	g_assert_cmpstr(c->milter.divert_to, ==, "spamtrap@example.org");
	g_assert_cmpuint(c->milter.trusted_networks.n, ==, 2);
	g_assert_cmpstr(addr_cidr_format(&c->milter.trusted_networks.v[1],
	    buf), ==, "2001:db8::/32");
	g_assert_true(addr_parse("10.200.1.1", &a));
	g_assert_true(addr_cidr_list_match(c->milter.trusted_networks.v,
	    c->milter.trusted_networks.n, &a));
	g_assert_false(c->milter.spf);
	g_assert_cmpstr(c->milter.authserv_id, ==, "mx.example.org");
	g_assert_cmpint(c->milter.alive_margin, ==, 30 * 60000);
	g_assert_cmpint(c->milter.grace, ==, 0);
	g_assert_cmpstr(c->milter.allow_list, ==, "/etc/slowspam/allow.txt");
	g_assert_cmpint(c->milter.on_store_error, ==, CONF_ON_ERROR_TEMPFAIL);
	g_assert_cmpuint(c->milter.metrics_listen.port, ==, 9126);
	g_assert_cmpstr(c->milter.user, ==, "slowspam");
	g_assert_cmpuint(c->milter.socket_mode, ==, 0620);
	g_assert_cmpstr(c->milter.socket_group, ==, "postfix");
	g_assert_cmpstr(c->policyd.socket, ==, "inet:10031@127.0.0.1");
	g_assert_cmpstr(c->policyd.user, ==, "nobody");
	g_assert_cmpuint(c->policyd.socket_mode, ==, 0600);
	g_assert_cmpstr(c->policyd.socket_group, ==, "mail");
	g_assert_cmpuint(c->policyd.metrics_listen.port, ==, 9127);
	g_assert_cmpuint(c->policyd.workers, ==, 8);
	g_assert_cmpuint(c->policyd.max_connections, ==, 50);
	g_assert_cmpint(c->policyd.idle_timeout, ==, 60000);
	g_assert_cmpuint(c->policyd.max_sessions, ==, 500);
	g_assert_cmpint(c->policyd.session_ttl, ==, 120000);
	g_assert_cmpstr(c->store.redis_prefix, ==, "mx1:slowspam:");
	g_assert_cmpstr(c->store.path, ==, "/tmp/slowspam-test/hits.lmdb");
	g_assert_cmpuint(c->store.map_size, ==, 64u << 20);
	g_assert_cmpint(c->store.ttl, ==, 14 * 86400000LL);
	g_assert_cmpuint(c->store.ipv4_prefix, ==, 24);
	g_assert_cmpuint(c->store.ipv6_prefix, ==, 48);
	g_assert_cmpstr(c->store.redis, ==, "[::1]:6380");
	/* A '#' inside a value is part of it, as GKeyFile says. */
	g_assert_cmpstr(c->store.redis_password, ==, "s3cret#not-a-comment");
	g_assert_cmpuint(c->store.redis_db, ==, 3);
	g_assert_cmpint(c->store.redis_timeout, ==, 200);
	g_assert_cmpuint(c->store.redis_connections, ==, 16);
	g_assert_cmpint(c->log.level, ==, LOG_DEBUG);
	g_assert_cmpint(c->log.facility, ==, LOG_LOCAL3);

	conf_store_options(c, &so);
	g_assert_cmpstr(so.path, ==, c->store.path);
	g_assert_cmpuint(so.map_size, ==, c->store.map_size);
	g_assert_cmpint(so.ttl, ==, c->store.ttl);
	g_assert_cmpuint(so.redis_connections, ==, 16);
	g_assert_false(so.read_only);
	conf_free(c);
}

/* The shipped example must load, and must show the defaults. */
static void
test_example(void)
{
	g_autofree char *path = g_test_build_filename(G_TEST_DIST, "..",
	    "conf-examples", "slowspam.conf", NULL);
	g_autofree char *empty = write_conf("empty2.conf", "", 0);
	g_autoptr(GError) err = NULL;
	struct conf *c = conf_load(path, NULL, &err);
	struct conf *d = conf_load(empty, NULL, NULL);

	g_assert_no_error(err);
	g_assert_nonnull(d);
	g_assert_cmpint(c->tarpitd.max_hold, ==, d->tarpitd.max_hold);
	g_assert_cmpint(c->tarpitd.drip_interval, ==, d->tarpitd.drip_interval);
	g_assert_cmpuint(c->tarpitd.max_clients, ==, d->tarpitd.max_clients);
	g_assert_cmpint(c->store.ttl, ==, d->store.ttl);
	g_assert_cmpuint(c->store.map_size, ==, d->store.map_size);
	g_assert_cmpint(c->milter.window, ==, d->milter.window);
	g_assert_cmpstr(c->milter.user, ==, d->milter.user);
	g_assert_cmpuint(c->milter.socket_mode, ==, d->milter.socket_mode);
	g_assert_cmpstr(c->milter.socket_group, ==, d->milter.socket_group);
	g_assert_cmpstr(c->policyd.socket, ==, d->policyd.socket);
	g_assert_cmpuint(c->policyd.workers, ==, d->policyd.workers);
	g_assert_cmpuint(c->policyd.max_sessions, ==, d->policyd.max_sessions);
	g_assert_cmpint(c->policyd.session_ttl, ==, d->policyd.session_ttl);
	conf_free(c);
	conf_free(d);
}

static void
test_syntax_error(void)
{
	g_autofree char *path = g_test_build_filename(G_TEST_DIST, "conf",
	    "bad-syntax.conf", NULL);
	g_autofree char *msg = load_fails(path, NULL, CONF_ERROR_INVALID);

	g_assert_true(g_str_has_prefix(msg, path));
	g_assert_nonnull(strstr(msg, "not a key-value pair"));
}

/* Every problem of the file is reported, each on its own line. */
static void
test_bad_values(void)
{
	static const char *const expect[] = {
		":3: [tarpitd] listen: \"127.0.0.1\": ",
		":4: [tarpitd] greet_wait: \"6 seconds\": ",
		":5: [tarpitd] max_hold: \"10m                # one more "
		    "ADDR:PORT\": unknown duration unit (use ms, s, m, h, d "
		    "or w) (comments go on lines of their own)",
		":6: [tarpitd] workers: \"0\": out of range (1 to 64)",
		":8: [tarpitd] max_clients_per_net: must not exceed max_clients",
		":9: [tarpitd] lisen: unknown key",
		":12: [milter] action: \"drop\": not one of the allowed values "
		    "(tag | quarantine | divert | tempfail | reject)",
		":13: [milter] trusted_networks: \"10.0.0.1/8\": host bits",
		":14: [milter] spf: \"maybe\": not yes or no",
		":17: [store] ttl: given again on line 18 (each key once)",
		":19: [store] ipv6_prefix: \"129\": out of range (16 to 128)",
		":21: [mystery]: unknown group",
	};
	g_autofree char *path = g_test_build_filename(G_TEST_DIST, "conf",
	    "bad-values.conf", NULL);
	g_autofree char *msg = load_fails(path, NULL, CONF_ERROR_INVALID);
	g_auto(GStrv) lines = g_strsplit(msg, "\n", -1);

	g_assert_cmpuint(g_strv_length(lines), ==, G_N_ELEMENTS(expect));
	for (size_t i = 0; i < G_N_ELEMENTS(expect); i++) {
		bool seen = false;

		for (size_t j = 0; lines[j] != NULL && !seen; j++)
			seen = g_str_has_prefix(lines[j], path) &&
			    strstr(lines[j], expect[i]) != NULL;
		if (!seen)
			g_error("no line with '%s' in:\n%s", expect[i], msg);
	}
}

static void
test_unreadable(void)
{
	g_autofree char *path = g_build_filename(tmpdir, "absent.conf", NULL);
	g_autofree char *msg = load_fails(path, NULL, CONF_ERROR_READ);
	g_autofree char *nul = write_conf("nul.conf", "[log]\nlevel = info\0x",
	    20);
	g_autofree char *msg2 = load_fails(nul, NULL, CONF_ERROR_INVALID);

	g_autofree char *huge = g_strnfill(2 << 20, '#');
	g_autofree char *big = write_conf("big.conf", huge, -1);
	g_autofree char *msg3 = load_fails(big, NULL, CONF_ERROR_READ);
	g_autofree char *msg4 = load_fails(tmpdir, NULL, CONF_ERROR_READ);

	g_assert_nonnull(strstr(msg, path));
	g_assert_nonnull(strstr(msg, "No such file"));
	g_assert_nonnull(strstr(msg3, "big.conf: larger than 1024 KiB"));
	g_assert_nonnull(strstr(msg4, tmpdir));
	g_assert_nonnull(strstr(msg2, "NUL"));
}

static void
test_overrides(void)
{
	static const char *const good[] = {
		"store.path=/srv/hits.lmdb", "tarpitd.listen=127.0.0.2:2525",
		"tarpitd.workers=3", NULL,
	};
	static const char *const bad[] = {
		"tarpitd.bogus=1", "nodot", "tarpitd.workers=many", NULL,
	};
	g_autofree char *path = write_conf("small.conf",
	    "[tarpitd]\nworkers = 2\n", -1);
	g_autoptr(GError) err = NULL;
	struct conf *c = conf_load(path, good, &err);
	g_autofree char *msg = NULL;

	g_assert_no_error(err);
	g_assert_cmpstr(c->store.path, ==, "/srv/hits.lmdb");
	g_assert_cmpuint(c->tarpitd.listen.v[0].port, ==, 2525);
	g_assert_cmpuint(c->tarpitd.workers, ==, 3);
	conf_free(c);

	msg = load_fails(path, bad, CONF_ERROR_INVALID);
	g_assert_nonnull(strstr(msg, "command line: tarpitd.bogus: no such key"));
	g_assert_nonnull(strstr(msg, "command line: 'nodot': not GROUP.KEY=VALUE"));
	g_assert_nonnull(strstr(msg, "command line: tarpitd.workers: \"many\": "
	    "not a whole number"));
}

/* [milter] socket_mode is octal, 0 to 0777; user and group are names. */
static void
test_socket_keys(void)
{
	static const char *const good[] = {
		"milter.socket_mode=640", "milter.socket_group=postfix",
		"milter.user=slow-spam_1", NULL,
	};
	/* One value per key and load: a later override replaces one. */
	static const char *const bad[] = {
		"milter.socket_mode=0888", "milter.user=ro ot", NULL,
	};
	static const char *const bad2[] = {
		"milter.socket_mode=1777", "milter.socket_group=a/b", NULL,
	};
	g_autofree char *path = write_conf("socket.conf", "", 0);
	g_autoptr(GError) err = NULL;
	struct conf *c = conf_load(path, good, &err);
	g_autofree char *msg = NULL, *msg2 = NULL;

	g_assert_no_error(err);
	g_assert_cmpuint(c->milter.socket_mode, ==, 0640);
	g_assert_cmpstr(c->milter.socket_group, ==, "postfix");
	g_assert_cmpstr(c->milter.user, ==, "slow-spam_1");
	conf_free(c);
	msg = load_fails(path, bad, CONF_ERROR_INVALID);
	msg2 = load_fails(path, bad2, CONF_ERROR_INVALID);
	g_assert_nonnull(strstr(msg, "socket_mode: \"0888\": not an octal "
	    "mode"));
	g_assert_nonnull(strstr(msg, "milter.user: \"ro ot\": not a user or "
	    "group name"));
	g_assert_nonnull(strstr(msg2, "socket_mode: \"1777\": not an octal "
	    "mode"));
	g_assert_nonnull(strstr(msg2, "socket_group: \"a/b\": not a user or "
	    "group name"));
}

/* [policyd]: its socket is checked as [milter]'s, its numbers in range. */
static void
test_policyd_keys(void)
{
	static const char *const good[] = {
		"policyd.socket=unix:/var/spool/postfix/slowspam/policyd.sock",
		"policyd.workers=64", "policyd.max_sessions=100",
		"policyd.idle_timeout=1s", NULL,
	};
	static const char *const bad[] = {
		"policyd.socket=tcp:10040", "policyd.workers=0",
		"policyd.max_connections=0", "policyd.max_sessions=99",
		"policyd.session_ttl=0", "policyd.idle_timeout=2h", NULL,
	};
	static const char *const bad2[] = {
		"policyd.socket=unix:relative.sock", "policyd.workers=65", NULL,
	};
	g_autofree char *path = write_conf("policyd.conf", "", 0);
	g_autoptr(GError) err = NULL;
	struct conf *c = conf_load(path, good, &err);
	g_autofree char *msg = NULL, *msg2 = NULL;

	g_assert_no_error(err);
	g_assert_cmpstr(c->policyd.socket, ==,
	    "unix:/var/spool/postfix/slowspam/policyd.sock");
	g_assert_cmpuint(c->policyd.workers, ==, 64);
	g_assert_cmpuint(c->policyd.max_sessions, ==, 100);
	g_assert_cmpint(c->policyd.idle_timeout, ==, 1000);
	conf_free(c);
	msg = load_fails(path, bad, CONF_ERROR_INVALID);
	msg2 = load_fails(path, bad2, CONF_ERROR_INVALID);
	g_assert_nonnull(strstr(msg, "policyd.socket: \"tcp:10040\": not "
	    "unix:/PATH"));
	g_assert_nonnull(strstr(msg, "policyd.workers: \"0\""));
	g_assert_nonnull(strstr(msg, "policyd.max_connections: \"0\""));
	g_assert_nonnull(strstr(msg, "policyd.max_sessions: \"99\""));
	g_assert_nonnull(strstr(msg, "policyd.session_ttl: \"0\""));
	g_assert_nonnull(strstr(msg, "policyd.idle_timeout: \"2h\""));
	g_assert_nonnull(strstr(msg2, "policyd.socket: \"unix:relative.sock\": "
	    "unix socket path must be absolute"));
	g_assert_nonnull(strstr(msg2, "policyd.workers: \"65\""));
}

/* Rules that tie keys together. */
static void
test_together(void)
{
	static const struct {
		const char *text;
		const char *expect;
	} rows[] = {
		{ "[milter]\naction = divert\n",
		    "[milter] divert_to: must be set when an action is divert" },
		{ "[milter]\naction_bot = divert\ndivert_to = nobody\n",
		    "[milter] divert_to: \"nobody\": not a mailbox" },
		{ "[tarpitd]\ngreet_wait = 1m\nmax_hold = 1m\n",
		    "[tarpitd] greet_wait: must be shorter than max_hold" },
		{ "[tarpitd]\ndrip_interval = 2m\nmax_hold = 1m\n",
		    "[tarpitd] drip_interval: must not be longer than max_hold" },
		{ "[tarpitd]\nhostname = -bad-.example\n",
		    "[tarpitd] hostname: \"-bad-.example\": not a valid host name" },
		{ "[tarpitd]\nlisten = ::1:25\n",
		    "[tarpitd] listen: \"::1:25\": " },
		{ "[tarpitd]\nlisten = ;\n",
		    "[tarpitd] listen: \";\": needs at least one ADDR:PORT" },
		{ "[tarpitd]\nchroot = var/empty\n",
		    "[tarpitd] chroot: \"var/empty\": must be an absolute path" },
		{ "[milter]\nsocket = tcp:25\n", "[milter] socket: \"tcp:25\": " },
		{ "[milter]\nsocket = inet:0@127.0.0.1\n",
		    "[milter] socket: \"inet:0@127.0.0.1\": bad port" },
		{ "[milter]\nsocket = unix:run/x.sock\n",
		    "[milter] socket: \"unix:run/x.sock\": unix socket path "
		    "must be absolute" },
		{ "[milter]\nauthserv_id = a b\n", "[milter] authserv_id: " },
		{ "[store]\nbackend = sqlite\n", "[store] backend: \"sqlite\": " },
		{ "[store]\nmap_size = 1P\n", "[store] map_size: \"1P\": " },
		{ "[store]\nmap_size = 8M\n", "[store] map_size: \"8M\": "
		    "out of range (16M to 1T)" },
		{ "[tarpitd]\ndrip_interval = 5ms\n", "[tarpitd] drip_interval: "
		    "\"5ms\": out of range (10ms to 5m)" },
		{ "[milter]\nwindow = 400d\n", "[milter] window: \"400d\": "
		    "out of range (1m to 365d)" },
		{ "[store]\nttl = 0\n", "[store] ttl: \"0\": out of range "
		    "(1h to 3650d)" },
		{ "[store]\nredis = localhost\n", "[store] redis: " },
		{ "[store]\nredis_prefix = a b\n", "[store] redis_prefix: " },
		{ "[store]\nredis_connections = 0\n", "[store] "
		    "redis_connections: \"0\": out of range (1 to 64)" },
		{ "[store]\nredis_connections = 65\n", "[store] "
		    "redis_connections: \"65\": out of range (1 to 64)" },
		{ "[milter]\non_store_error = drop\n", "[milter] on_store_error: "
		    "\"drop\": not one of the allowed values (accept | tempfail)" },
		{ "[store]\nttl = 99999999999999999999d\n", "[store] ttl: " },
		{ "[log]\nlevel = loud\n", "[log] level: \"loud\": " },
		{ "[log]\nfacility = kern\n", "[log] facility: \"kern\": " },
		{ "[log]\nlevel = \"info\\q\"\n", "[log] level: " },
		{ "[log]\nlevel = \x01\xff\n", "row.conf:2: not valid UTF-8" },
		{ "[log]\nlevel = \x01\n", "[log] level: \"\\x01\": " },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
		g_autofree char *path = write_conf("row.conf", rows[i].text, -1);
		g_autofree char *msg = load_fails(path, NULL,
		    CONF_ERROR_INVALID);

		if (strstr(msg, rows[i].expect) == NULL)
			g_error("row %zu: want '%s' in '%s'", i, rows[i].expect,
			    msg);
	}
}

static void
test_durations(void)
{
	static const struct {
		const char *text;
		int64_t ms;	/* -1: must fail */
	} rows[] = {
		{ "0", 0 }, { "30", 30000 }, { "30s", 30000 }, { "250ms", 250 },
		{ "10m", 600000 }, { "2h", 7200000 }, { "7d", 604800000 },
		{ "1w", 604800000 }, { "", -1 }, { "s", -1 }, { "-5", -1 },
		{ "+5", -1 }, { "5 s", -1 }, { "5sec", -1 }, { "5S", -1 },
		{ "1.5h", -1 }, { "0x10", -1 }, { "9223372036854775807ms",
		INT64_MAX }, { "9223372036854775808ms", -1 },
		{ "9223372036854775807", -1 }, { "99999999999999999999", -1 },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
		int64_t ms = -2;
		const char *why = NULL;
		bool ok = conf_parse_duration(rows[i].text, &ms, &why);

		if (rows[i].ms < 0) {
			g_assert_false(ok);
			g_assert_nonnull(why);
		} else {
			g_assert_true(ok);
			g_assert_cmpint(ms, ==, rows[i].ms);
		}
	}
}

static void
test_sizes(void)
{
	static const struct {
		const char *text;
		uint64_t bytes;
		bool ok;
	} rows[] = {
		{ "4096", 4096, true }, { "64K", 65536, true },
		{ "512M", 512u << 20, true }, { "1G", 1u << 30, true },
		{ "2T", UINT64_C(2) << 40, true }, { "1KB", 0, false },
		{ "k", 0, false }, { "", 0, false }, { "1k", 0, false },
		{ "16777216T", 0, false }, { "18446744073709551616", 0, false },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
		uint64_t v = 0;
		const char *why = NULL;

		g_assert_cmpint(conf_parse_size(rows[i].text, &v, &why), ==,
		    rows[i].ok);
		if (rows[i].ok)
			g_assert_cmpuint(v, ==, rows[i].bytes);
		else
			g_assert_nonnull(why);
	}
}

/* A password in a file every user may read is warned of; else not. */
static void
test_exposed(void)
{
	static const struct {
		const char	*text;
		unsigned	mode;
		bool		warn;
	} rows[] = {
		{ "[store]\nredis_password = s3cret\n", 0644, true },
		{ "[store]\nredis_password = s3cret\n", 0604, true },
		{ "[store]\nredis_password = s3cret\n", 0640, false },
		{ "[store]\nredis_password = s3cret\n", 0600, false },
		{ "[store]\nredis_password =\n", 0644, false },
		{ "[store]\nttl = 7d\n", 0644, false },
	};

	log_open("test_conf", LOG_DEST_STDERR, LOG_USER);
	for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
		g_autofree char *name = g_strdup_printf("exposed-%zu.conf", i);
		g_autofree char *path = write_conf(name, rows[i].text, -1);
		g_autoptr(GError) err = NULL;
		struct conf *c;

		g_assert_cmpint(g_chmod(path, (int)rows[i].mode), ==, 0);
		c = conf_load(path, NULL, &err);
		g_assert_no_error(err);
		g_assert_cmpint(conf_warn_exposed(c), ==, rows[i].warn);
		conf_free(c);
	}
	/* The file's text counts: a --set neither adds nor removes it. */
	{
		g_autofree char *path = g_build_filename(tmpdir,
		    "exposed-0.conf", NULL);
		g_autofree char *plain = g_build_filename(tmpdir,
		    "exposed-5.conf", NULL);
		const char *clear[] = { "store.redis_password=", NULL };
		const char *set[] = { "store.redis_password=x", NULL };
		g_autoptr(GError) err = NULL;
		struct conf *c = conf_load(path, clear, &err);

		g_assert_no_error(err);
		g_assert_true(conf_warn_exposed(c));
		conf_free(c);
		c = conf_load(plain, set, &err);
		g_assert_no_error(err);
		g_assert_false(conf_warn_exposed(c));
		conf_free(c);
	}
	/* Text with no file: nothing to warn of. */
	{
		g_autoptr(GError) err = NULL;
		const char text[] = "[store]\nredis_password = s3cret\n";
		struct conf *c = conf_load_data("text", text, sizeof(text) - 1,
		    NULL, &err);

		g_assert_no_error(err);
		g_assert_false(conf_warn_exposed(c));
		conf_free(c);
	}
}

int
main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	tmpdir = test_tmpdir_new("conf");
	g_test_add_func("/conf/defaults", test_defaults);
	g_test_add_func("/conf/every-key", test_every_key);
	g_test_add_func("/conf/example", test_example);
	g_test_add_func("/conf/syntax-error", test_syntax_error);
	g_test_add_func("/conf/bad-values", test_bad_values);
	g_test_add_func("/conf/unreadable", test_unreadable);
	g_test_add_func("/conf/overrides", test_overrides);
	g_test_add_func("/conf/socket-keys", test_socket_keys);
	g_test_add_func("/conf/policyd-keys", test_policyd_keys);
	g_test_add_func("/conf/together", test_together);
	g_test_add_func("/conf/durations", test_durations);
	g_test_add_func("/conf/sizes", test_sizes);
	g_test_add_func("/conf/exposed", test_exposed);
	rc = g_test_run();
	test_tmpdir_remove(tmpdir);
	return rc;
}
