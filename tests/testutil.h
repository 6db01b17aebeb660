/*
 * testutil.h - helpers shared by the unit tests.
 */
#ifndef SLOWSPAM_TESTUTIL_H
#define SLOWSPAM_TESTUTIL_H

/* A private directory under $TMPDIR, removed by test_tmpdir_remove(). */
char	*test_tmpdir_new(const char *name);
/* Remove dir and everything in it; dir is freed. */
void	test_tmpdir_remove(char *dir);
/*
 * How many times slower than usual the programs under test run, for
 * timeouts: SLOWSPAM_SLOW, by default 10 under SLOWSPAM_VALGRIND, else 1.
 */
int	test_slow(void);
/*
 * The command line to run a program under test (argv[0] its path): a
 * copy, or under valgrind (tests/valgrind.sh) if SLOWSPAM_VALGRIND is
 * set. Build it before fork; free it with g_strfreev.
 */
char	**test_cmd(const char *const *argv);

/*
 * Another process holding an LMDB store's write lock, as a writer stuck
 * on a disk that never finishes, until test_lmdb_release().
 */
struct test_lmdb_hold {
	int	pid;
	int	go;		/* write a byte: the child takes, then lets go */
	int	locked;		/* the child says it holds the lock */
	const char *path;
};
void	test_lmdb_hold(const char *path, struct test_lmdb_hold *h);
/*
 * The same in two steps, for a test whose process has the store open or
 * threads running by the time the lock is wanted: fork before that (a
 * child of a process with an LMDB environment open, or with threads,
 * must not use LMDB), take the lock later.
 */
void	test_lmdb_fork(const char *path, struct test_lmdb_hold *h);
void	test_lmdb_take(struct test_lmdb_hold *h);
void	test_lmdb_release(struct test_lmdb_hold *h);

#endif /* SLOWSPAM_TESTUTIL_H */
