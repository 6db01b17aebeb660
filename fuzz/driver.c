/*
 * driver.c - replay files through a fuzz target without libFuzzer.
 *
 * Usage: fuzz_NAME [FILE|DIR...]  Every file (every regular file of a
 * directory) is one input; with no arguments, $srcdir/corpus/NAME and
 * $srcdir/regress/NAME (crashes found once, kept so they stay fixed).
 * Prints TAP, one test point per input.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>

#include <glib.h>

#include "fuzz.h"

static unsigned tests;

/* Run one file through the target. */
static void
replay(const char *path)
{
	g_autofree char *data = NULL;
	gsize len;

	if (!g_file_get_contents(path, &data, &len, NULL)) {
		printf("not ok %u - %s: cannot read\n", ++tests, path);
		return;
	}
	LLVMFuzzerTestOneInput((const uint8_t *)data, len);
	printf("ok %u - %s\n", ++tests, path);
}

/* Replay a file, or every regular file of a directory. */
static void
replay_path(const char *arg)
{
	GDir *dir = g_dir_open(arg, 0, NULL);
	const char *name;

	if (dir == NULL) {
		replay(arg);
		return;
	}
	while ((name = g_dir_read_name(dir)) != NULL) {
		g_autofree char *path = g_build_filename(arg, name, NULL);

		if (g_file_test(path, G_FILE_TEST_IS_REGULAR))
			replay(path);
	}
	g_dir_close(dir);
}

int
main(int argc, char **argv)
{
	if (argc == 1) {
		g_autofree char *base = g_path_get_basename(argv[0]);
		const char *srcdir = g_getenv("srcdir");
		const char *name = g_str_has_prefix(base, "fuzz_") ? base + 5 :
		    base;
		g_autofree char *corpus = g_build_filename(srcdir != NULL ?
		    srcdir : ".", "corpus", name, NULL);
		g_autofree char *regress = g_build_filename(srcdir != NULL ?
		    srcdir : ".", "regress", name, NULL);

		replay_path(corpus);
		if (g_file_test(regress, G_FILE_TEST_IS_DIR))
			replay_path(regress);
	}
	for (int i = 1; i < argc; i++)
		replay_path(argv[i]);
	if (tests == 0)
		printf("not ok 1 - no inputs\n");
	printf("1..%u\n", tests > 0 ? tests : 1);
	return EXIT_SUCCESS;
}
