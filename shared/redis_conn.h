/*
 * redis_conn.h - one connection to a Redis server or a Sentinel: TCP or
 * a unix socket, with TLS where it is built in (HAVE_REDIS_TLS).
 *
 * Private to the Redis store (store_redis.c). Errors are STORE_ERRORs
 * naming the server ("redis 127.0.0.1:6379: connect: ...");
 * STORE_ERROR_UNAVAILABLE means try again later (refused, timed out),
 * any other code a fault of the configuration (a certificate the CA does
 * not vouch for, a wrong name), not cured by waiting.
 */
#ifndef SLOWSPAM_REDIS_CONN_H
#define SLOWSPAM_REDIS_CONN_H

#include <stdbool.h>
#include <sys/time.h>

#include <glib.h>
#include <hiredis/hiredis.h>

#include "store.h"

/* A TLS client context, shared by every connection of one store. */
struct redis_tls;

/*
 * The TLS context o asks for: NULL without error when o->redis_tls is
 * off; NULL with error set if TLS is not built in or a file is bad.
 */
struct redis_tls *redis_tls_new(const struct store_options *o,
	    GError **error);
void	redis_tls_free(struct redis_tls *tls);

/*
 * Connect to host:port (path NULL) or the unix socket path, each step
 * bounded by timeout, then start TLS if tls is not NULL (checking the
 * server's certificate against its name). where names the server in
 * errors. NULL with error set on failure.
 */
redisContext *redis_conn_open(const char *host, int port, const char *path,
	    const struct timeval *timeout, struct redis_tls *tls,
	    const char *where, GError **error);

#endif /* SLOWSPAM_REDIS_CONN_H */
