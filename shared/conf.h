/*
 * conf.h - the one configuration file of tarpitd, slowspam-milter,
 * slowspam-policyd and slowspamctl (GKeyFile syntax, see slowspam.conf(5)).
 *
 * conf_load() reads the file, applies command-line overrides, fills in
 * defaults and checks every value, so the daemons only ever see a
 * complete, valid configuration. Every problem is reported, each naming
 * the file, the line, the group and the key.
 */
#ifndef SLOWSPAM_CONF_H
#define SLOWSPAM_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "addr.h"
#include "store.h"

enum conf_action {
	CONF_ACTION_TAG,
	CONF_ACTION_QUARANTINE,
	CONF_ACTION_DIVERT,
	CONF_ACTION_TEMPFAIL,
	CONF_ACTION_REJECT,
};

/* What the milter does when the store fails it. */
enum conf_on_error {
	CONF_ON_ERROR_ACCEPT,	/* no verdict: the mail goes on (fail open) */
	CONF_ON_ERROR_TEMPFAIL,	/* 451: the client tries again later */
};

struct conf_listen {
	struct addr	addr;
	uint16_t	port;		/* 0: not set */
};

struct conf_listen_list {
	struct conf_listen *v;
	size_t		n;
};

struct conf_cidr_list {
	struct addr_cidr *v;
	size_t		n;
};

/* Durations are in milliseconds. */
struct conf {
	char		*path;		/* the file read */

	struct conf_tarpitd {
		struct conf_listen_list listen;
		char		*hostname;
		int64_t		greet_wait;
		int64_t		drip_interval;
		int64_t		max_hold;
		int64_t		impatient_before;
		unsigned	max_clients;
		unsigned	max_clients_per_net;
		unsigned	workers;
		char		*user;
		char		*chroot;	/* "" for none */
		char		*event_log;	/* "" for none */
		struct conf_listen metrics_listen; /* port 0: none */
		/* Sessions recorded per aggregate network a minute (0: all). */
		unsigned	aggregate_ipv4_prefix;
		unsigned	aggregate_ipv6_prefix;
		unsigned	records_per_minute;
	} tarpitd;

	struct conf_milter {
		char		*socket;
		int64_t		window;
		enum conf_action action;
		enum conf_action action_bot;
		char		*divert_to;	/* "" for none */
		struct conf_cidr_list trusted_networks;
		bool		spf;
		char		*authserv_id;
		int64_t		alive_margin;	/* primary up this near */
		int64_t		grace;		/* after the milter starts */
		char		*allow_list;	/* "" for none */
		enum conf_on_error on_store_error;
		struct conf_listen metrics_listen; /* port 0: none */
		char		*user;		/* "" for: do not change */
		unsigned	socket_mode;	/* of a unix socket */
		char		*socket_group;	/* "" for: the user's */
		/* The tar-pit side from a DNS list (dnsxl.h): */
		char		*tarpit_list;	/* its zone; "" for none */
		char		*tarpit_list_resolver; /* ADDR[@PORT]; "": system */
		int64_t		tarpit_list_timeout;	/* per lookup */
		int64_t		tarpit_list_window;	/* a listing counts this long */
	} milter;

	/* slowspam-policyd; it decides by the [milter] keys above. */
	struct conf_policyd {
		char		*socket;	/* as [milter] socket */
		char		*user;		/* "" for: do not change */
		unsigned	socket_mode;
		char		*socket_group;	/* "" for: the user's */
		struct conf_listen metrics_listen; /* port 0: none */
		unsigned	workers;	/* verdict threads */
		unsigned	max_connections;
		int64_t		idle_timeout;
		unsigned	max_sessions;
		int64_t		session_ttl;
	} policyd;

	/* The DNS list slowspamctl export --format rbldnsd writes (listing.h). */
	struct conf_list {
		int64_t		expire;		/* listed after the last contact */
		bool		seen;		/* publish 127.0.0.4 too */
		int64_t		ttl;		/* of the list's answers */
		char		*ns;		/* name servers, blank-separated */
		char		*hostmaster;	/* SOA mailbox as a name; "" */
	} list;

	struct conf_store {
		enum store_backend backend;
		char		*path;
		int64_t		ttl;
		unsigned	ipv4_prefix;
		unsigned	ipv6_prefix;
		uint64_t	map_size;
		char		*redis;
		char		*redis_password;
		unsigned	redis_db;
		int64_t		redis_timeout;
		char		*redis_prefix;
		unsigned	redis_connections;
		char		*redis_sentinels;	/* "A:P;A:P" or "" */
		char		*redis_master;
		char		*redis_sentinel_password;
		bool		redis_tls;
		char		*redis_tls_ca;
		char		*redis_tls_cert;
		char		*redis_tls_key;
		char		*redis_tls_server_name;
	} store;

	struct conf_log {
		int		level;
		int		facility;
	} log;
};

#define CONF_ERROR (conf_error_quark())
GQuark	conf_error_quark(void);
enum conf_error {
	CONF_ERROR_READ,	/* the file cannot be read or parsed */
	CONF_ERROR_INVALID,	/* one or more bad keys or values */
};

/* The default file: $(sysconfdir)/slowspam/slowspam.conf. */
const char *conf_default_path(void);

/*
 * Load path (NULL: the default), then overrides, each "group.key=value"
 * as from the command line (NULL-terminated list, may be NULL). On any
 * problem returns NULL; the error message has one line per problem.
 */
struct conf *conf_load(const char *path, const char *const *overrides,
	    GError **error);
/*
 * The same for the file name below the folder dirfd (AT_FDCWD: the
 * current one), reported as shown: a chrooted daemon keeps a descriptor
 * of the configuration's folder to reload it.
 */
struct conf *conf_load_at(int dirfd, const char *name, const char *shown,
	    const char *const *overrides, GError **error);
/* The same for the text data[0..len), reported as coming from name. */
struct conf *conf_load_data(const char *name, const char *data, size_t len,
	    const char *const *overrides, GError **error);
void	conf_free(struct conf *conf);
/*
 * Warn (a log line) if the file conf was read from sets a non-empty
 * [store] redis_password and every user may read it (mode & 004),
 * naming the file and the key and how to fix it; true if it warned.
 * The three programs call it at start and with -t.
 */
bool	conf_warn_exposed(const struct conf *conf);

/* The options every program takes on its command line. */
struct conf_cli {
	char		*path;		/* -c FILE */
	char		**sets;		/* --set GROUP.KEY=VALUE, NULL-ended */
	gboolean	foreground;	/* -f (the daemons only) */
	gboolean	check;		/* -t */
	gboolean	version;	/* -V */
};
/* Add -c, -t, --set, -V, and -f if daemon, to ctx's main options. */
void	conf_cli_options(GOptionContext *ctx, struct conf_cli *cli,
	    bool daemon);
void	conf_cli_clear(struct conf_cli *cli);
/* g_auto(conf_cli) clears it at the end of its scope. */
typedef struct conf_cli conf_cli;
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(conf_cli, conf_cli_clear)

/* The store options a configuration asks for. */
void	conf_store_options(const struct conf *conf, struct store_options *out);

const char *conf_action_name(enum conf_action action);

/*
 * "30", "30s", "250ms", "10m", "2h", "7d" to milliseconds; a plain
 * number is seconds. False with a static reason in *why.
 */
bool	conf_parse_duration(const char *text, int64_t *ms, const char **why);
/* "4096", "64K", "512M", "1G", "1T" (powers of 1024) to bytes. */
bool	conf_parse_size(const char *text, uint64_t *bytes, const char **why);

#endif /* SLOWSPAM_CONF_H */
