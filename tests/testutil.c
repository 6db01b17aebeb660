/*
 * testutil.c - helpers shared by the unit tests.
 *
 *	test_tmpdir_new		make a private temporary directory
 *	test_tmpdir_remove	remove it with everything inside
 *	test_slow		the factor for timeouts (SLOWSPAM_SLOW)
 *	test_cmd		a command line, under valgrind if asked
 *	test_lmdb_hold		another process holds a store's write lock
 *	test_lmdb_fork, test_lmdb_take	the same in two steps
 *	test_lmdb_release	...until this
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <lmdb.h>

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

void
test_lmdb_fork(const char *path, struct test_lmdb_hold *h)
{
	int go[2], locked[2];
	char c;
	pid_t pid;

	if (pipe(go) != 0 || pipe(locked) != 0)
		g_error("pipe: %s", g_strerror(errno));
	if ((pid = fork()) == 0) {
		MDB_env *env;
		MDB_txn *txn;

		alarm(20);	/* a test that dies never leaves it held */
		close(go[1]);
		close(locked[0]);
		if (read(go[0], &c, 1) != 1)
			_exit(4);
		if (mdb_env_create(&env) != 0 || mdb_env_set_maxdbs(env, 2) ||
		    mdb_env_open(env, path, MDB_NOSUBDIR, 0600) != 0 ||
		    mdb_txn_begin(env, NULL, 0, &txn) != 0)
			_exit(2);
		if (write(locked[1], "l", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(3);
		mdb_txn_abort(txn);
		mdb_env_close(env);
		_exit(0);
	}
	if (pid < 0)
		g_error("fork: %s", g_strerror(errno));
	close(go[0]);
	close(locked[1]);
	h->pid = pid;
	h->go = go[1];
	h->locked = locked[0];
	h->path = path;
}

void
test_lmdb_take(struct test_lmdb_hold *h)
{
	char c;

	if (write(h->go, "t", 1) != 1 || read(h->locked, &c, 1) != 1)
		g_error("%s: no process holds the write lock", h->path);
}

void
test_lmdb_hold(const char *path, struct test_lmdb_hold *h)
{
	test_lmdb_fork(path, h);
	test_lmdb_take(h);
}

void
test_lmdb_release(struct test_lmdb_hold *h)
{
	int status;

	if (write(h->go, "g", 1) != 1 ||
	    waitpid(h->pid, &status, 0) != h->pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		g_error("the process holding the write lock failed");
	close(h->go);
	close(h->locked);
}
