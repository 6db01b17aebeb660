/*
 * testutil.h - helpers shared by the unit tests.
 */
#ifndef SLOWSPAM_TESTUTIL_H
#define SLOWSPAM_TESTUTIL_H

/* A private directory under $TMPDIR, removed by test_tmpdir_remove(). */
char	*test_tmpdir_new(const char *name);
/* Remove dir and everything in it; dir is freed. */
void	test_tmpdir_remove(char *dir);

#endif /* SLOWSPAM_TESTUTIL_H */
