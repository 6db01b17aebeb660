/*
 * test_privs.c - what tarpitd gives the tar-pit user as root, and what it
 * refuses (tarpitd/privs.c: privs_prepare_store, privs_prepare_file): a
 * folder it makes and files of root's become the user's; a symbolic link
 * or a hard link put in their place (say, to /etc/shadow) is refused and
 * the file it leads to keeps its owner. The hard links here lead to a
 * file of the test's own, never a system file. Skipped unless root.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <fcntl.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "tarpit.h"
#include "testutil.h"

static char *tmpdir;
static uid_t nobody_uid;

/* A fresh folder below tmpdir, for one test. */
static char *
case_dir(const char *name)
{
	char *d = g_build_filename(tmpdir, name, NULL);

	g_assert_cmpint(g_mkdir(d, 0755), ==, 0);
	return d;
}

/* Make path, root's, mode 0600, with some text in it. */
static void
make_root_file(const char *path)
{
	g_autoptr(GError) err = NULL;

	g_assert_true(g_file_set_contents(path, "secret\n", -1, &err));
	g_assert_cmpint(chown(path, 0, 0), ==, 0);
	g_assert_cmpint(chmod(path, 0600), ==, 0);
}

static uid_t
owner(const char *path)
{
	struct stat sb;

	g_assert_cmpint(lstat(path, &sb), ==, 0);
	return sb.st_uid;
}

/* Skip unless root (and nobody exists). */
static bool
need_root(void)
{
	if (geteuid() == 0 && nobody_uid != 0)
		return true;
	g_test_skip("needs root and the user nobody");
	return false;
}

/* A store folder tarpitd makes is nobody's; so is root's store file. */
static void
test_store_given(void)
{
	g_autofree char *d = NULL, *store = NULL, *path = NULL, *lock = NULL;
	g_autoptr(GError) err = NULL;

	if (!need_root())
		return;
	d = case_dir("given");
	store = g_build_filename(d, "store", NULL);
	path = g_build_filename(store, "hits.lmdb", NULL);
	g_assert_true(privs_prepare_store(path, "nobody", &err));
	g_assert_no_error(err);
	g_assert_cmpuint(owner(store), ==, nobody_uid);
	/* Files of root's there (a store made by root before): given. */
	lock = g_strconcat(path, "-lock", NULL);
	make_root_file(path);
	make_root_file(lock);
	g_assert_true(privs_prepare_store(path, "nobody", &err));
	g_assert_no_error(err);
	g_assert_cmpuint(owner(path), ==, nobody_uid);
	g_assert_cmpuint(owner(lock), ==, nobody_uid);
}

/*
 * A hard link in the store folder to a file of root's elsewhere (as one
 * to /etc/shadow would be): refused, naming the path, and the file
 * linked to stays root's. The lock file too.
 */
static void
test_store_hard_link(void)
{
	const char *const names[] = { "hits.lmdb", "hits.lmdb-lock" };

	if (!need_root())
		return;
	for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
		g_autofree char *d = NULL, *secret = NULL, *store = NULL;
		g_autofree char *path = NULL, *link_path = NULL;
		g_autoptr(GError) err = NULL;

		d = case_dir(i == 0 ? "store-link" : "lock-link");
		secret = g_build_filename(d, "shadow", NULL);
		store = g_build_filename(d, "store", NULL);
		path = g_build_filename(store, "hits.lmdb", NULL);
		link_path = g_build_filename(store, names[i], NULL);
		make_root_file(secret);
		g_assert_cmpint(g_mkdir(store, 0755), ==, 0);
		g_assert_cmpint(chown(store, nobody_uid, (gid_t)-1), ==, 0);
		g_assert_cmpint(link(secret, link_path), ==, 0);
		g_assert_false(privs_prepare_store(path, "nobody", &err));
		g_assert_nonnull(err);
		g_test_message("%s", err->message);
		g_assert_true(g_str_has_prefix(err->message, link_path));
		g_assert_nonnull(strstr(err->message, "hard links: refused"));
		g_assert_cmpuint(owner(secret), ==, 0);
	}
}

/* The event log: made for nobody, 0640; a hard link or symlink refused. */
static void
test_file(void)
{
	g_autofree char *d = NULL, *log = NULL, *secret = NULL;
	g_autofree char *hard = NULL, *soft = NULL;
	g_autoptr(GError) err = NULL;
	struct stat sb;

	if (!need_root())
		return;
	d = case_dir("file");
	g_assert_cmpint(chown(d, nobody_uid, (gid_t)-1), ==, 0);
	log = g_build_filename(d, "events.jsonl", NULL);
	g_assert_true(privs_prepare_file(log, "nobody", &err));
	g_assert_no_error(err);
	g_assert_cmpint(stat(log, &sb), ==, 0);
	g_assert_cmpuint(sb.st_uid, ==, nobody_uid);
	g_assert_cmpuint(sb.st_mode & 07777, ==, 0640);

	secret = g_build_filename(tmpdir, "file-shadow", NULL);
	make_root_file(secret);
	hard = g_build_filename(d, "hard.jsonl", NULL);
	g_assert_cmpint(link(secret, hard), ==, 0);
	g_assert_false(privs_prepare_file(hard, "nobody", &err));
	g_assert_nonnull(err);
	g_test_message("%s", err->message);
	g_assert_true(g_str_has_prefix(err->message, hard));
	g_assert_nonnull(strstr(err->message, "2 hard links: refused"));
	g_assert_cmpuint(owner(secret), ==, 0);
	g_clear_error(&err);

	soft = g_build_filename(d, "soft.jsonl", NULL);
	g_assert_cmpint(symlink(secret, soft), ==, 0);
	g_assert_false(privs_prepare_file(soft, "nobody", &err));
	g_assert_nonnull(err);
	g_assert_nonnull(strstr(err->message, "symbolic link: refused"));
	g_assert_cmpuint(owner(secret), ==, 0);
}

int
main(int argc, char **argv)
{
	struct passwd *pw;
	int rc;

	g_test_init(&argc, &argv, NULL);
	if ((pw = getpwnam("nobody")) != NULL)
		nobody_uid = pw->pw_uid;
	tmpdir = test_tmpdir_new("privs");
	g_chmod(tmpdir, 0755);
	g_test_add_func("/privs/store-given", test_store_given);
	g_test_add_func("/privs/store-hard-link", test_store_hard_link);
	g_test_add_func("/privs/file", test_file);
	rc = g_test_run();
	test_tmpdir_remove(tmpdir);
	return rc;
}
