/*
 * redis_conn.c - one connection to a Redis server or a Sentinel.
 *
 *	redis_tls_new	the TLS client context of a store, if it asks for TLS
 *	redis_tls_free
 *	redis_conn_open	connect, bounded by the timeout; TLS if asked
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>

#include "redis_conn.h"

struct redis_tls {
	char	*server_name;	/* "": the host connected to */
};

struct redis_tls *
redis_tls_new(const struct store_options *o, GError **error)
{
	if (!o->redis_tls)
		return NULL;
	g_set_error(error, STORE_ERROR, STORE_ERROR_IO, "redis TLS: this "
	    "slowspam was built without TLS for Redis (hiredis_ssl)");
	return NULL;
}

void
redis_tls_free(struct redis_tls *tls)
{
	if (tls == NULL)
		return;
	g_free(tls->server_name);
	g_free(tls);
}

redisContext *
redis_conn_open(const char *host, int port, const char *path,
    const struct timeval *timeout, struct redis_tls *tls, const char *where,
    GError **error)
{
	redisContext *c = path == NULL ?
	    redisConnectWithTimeout(host, port, *timeout) :
	    redisConnectUnixWithTimeout(path, *timeout);

	(void)tls;
	if (c == NULL || c->err != 0) {
		g_set_error(error, STORE_ERROR, STORE_ERROR_UNAVAILABLE,
		    "redis %s: connect: %s", where, c != NULL ? c->errstr :
		    "out of memory");
		if (c != NULL)
			redisFree(c);
		return NULL;
	}
	redisSetTimeout(c, *timeout);
	return c;
}
