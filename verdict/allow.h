/*
 * allow.h - the allow-list: networks and domains never acted on.
 */
#ifndef SLOWSPAM_ALLOW_H
#define SLOWSPAM_ALLOW_H

#include <stdbool.h>
#include <stddef.h>

#include <glib.h>

#include "addr.h"

struct allow;

/*
 * Parse text[0..len) (one entry a line: a CIDR network or address, or a
 * domain; '#' starts a comment), reported as name. Every bad line is an
 * error naming name:line.
 */
struct allow *allow_parse(const char *name, const char *text, size_t len,
	    GError **error);
/* Read and parse the file path. */
struct allow *allow_load(const char *path, GError **error);
void	allow_free(struct allow *al);

bool	allow_addr(const struct allow *al, const struct addr *a);
/* The listed networks, *n of them (none for NULL). */
const struct addr_cidr *allow_networks(const struct allow *al, size_t *n);
/*
 * Is name (any case, trailing dot ok) a listed domain or below one? Ask
 * only with a name the client cannot simply claim (see allow.c).
 */
bool	allow_domain(const struct allow *al, const char *name, size_t len);

#endif /* SLOWSPAM_ALLOW_H */
