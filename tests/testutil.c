/*
 * testutil.c - helpers shared by the unit tests.
 *
 *	test_tmpdir_new		make a private temporary directory
 *	test_tmpdir_remove	remove it with everything inside
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <ftw.h>
#include <stdio.h>

#include <glib.h>

#include "testutil.h"

char *
test_tmpdir_new(const char *name)
{
	g_autofree char *tmpl = g_strdup_printf("slowspam-%s-XXXXXX", name);
	GError *err = NULL;
	char *dir = g_dir_make_tmp(tmpl, &err);

	if (dir == NULL)
		g_error("cannot make a temporary directory: %s", err->message);
	return dir;
}

static int
remove_one(const char *path, const struct stat *sb, int type, struct FTW *f)
{
	(void)sb;
	(void)type;
	(void)f;
	if (remove(path) != 0)
		g_warning("cannot remove %s", path);
	return 0;
}

void
test_tmpdir_remove(char *dir)
{
	if (dir != NULL)
		nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	g_free(dir);
}
