/*
 * testutil.c - helpers shared by the unit tests.
 *
 *	test_tmpdir_new		make a private temporary directory
 *	test_tmpdir_remove	remove it with everything inside
 *	test_slow		the factor for timeouts (SLOWSPAM_SLOW)
 *	test_cmd		a command line, under valgrind if asked
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

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

int
test_slow(void)
{
	const char *s = g_getenv("SLOWSPAM_SLOW");
	int n = s != NULL ? atoi(s) : 0;

	if (n > 0)
		return n;
	return g_getenv("SLOWSPAM_VALGRIND") != NULL ? 10 : 1;
}

char **
test_cmd(const char *const *argv)
{
	GPtrArray *cmd = g_ptr_array_new();

	if (g_getenv("SLOWSPAM_VALGRIND") != NULL) {
		g_ptr_array_add(cmd, g_strdup("/bin/sh"));
		g_ptr_array_add(cmd, g_build_filename(
		    g_test_get_dir(G_TEST_DIST), "valgrind.sh", NULL));
	}
	for (size_t i = 0; argv[i] != NULL; i++)
		g_ptr_array_add(cmd, g_strdup(argv[i]));
	g_ptr_array_add(cmd, NULL);
	return (char **)g_ptr_array_free(cmd, FALSE);
}
