/*
 * test_fds.c - fds_close_inherited (shared/fds.c), each case in a child
 * process: descriptors above 2 are closed, systemd's LISTEN_FDS kept
 * only when LISTEN_PID is the process and the caller takes them, none
 * at or above the soft RLIMIT_NOFILE touched (valgrind keeps its own
 * there), and a closed 0, 1 or 2 becomes /dev/null.
 * tests/test_inherit.sh checks the daemons themselves.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>

#include "fds.h"

static bool
is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/* Put /dev/null on descriptor fd. */
static void
null_on(int fd)
{
	int n = open("/dev/null", O_RDONLY);

	g_assert_cmpint(n, >=, 0);
	if (n != fd) {
		g_assert_cmpint(dup2(n, fd), ==, fd);
		close(n);
	}
}

/* Run fn in a child; it exits 0 if all held, else the failed check's number. */
static void
in_child(int (*fn)(void))
{
	int status;
	pid_t pid = fork();

	g_assert_cmpint(pid, >=, 0);
	if (pid == 0)
		_exit(fn());
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	g_assert_true(WIFEXITED(status));
	g_assert_cmpint(WEXITSTATUS(status), ==, 0);
}

/* LISTEN_FDS=2 for this process: 3 and 4 stay, 10 and 11 go. */
static int
child_systemd(void)
{
	char pid[32];

	null_on(3);
	null_on(4);
	null_on(10);
	null_on(11);
	g_snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	g_setenv("LISTEN_PID", pid, TRUE);
	g_setenv("LISTEN_FDS", "2", TRUE);
	fds_close_inherited(true);
	if (!is_open(3) || !is_open(4))
		return 1;
	if (is_open(10) || is_open(11) || is_open(5))
		return 2;
	return 0;
}

/* The same, but the caller takes no systemd socket (the milter). */
static int
child_no_systemd(void)
{
	char pid[32];

	null_on(3);
	null_on(4);
	g_snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	g_setenv("LISTEN_PID", pid, TRUE);
	g_setenv("LISTEN_FDS", "2", TRUE);
	fds_close_inherited(false);
	return is_open(3) || is_open(4) ? 1 : 0;
}

/* LISTEN_PID another process's, or LISTEN_FDS bad: nothing is kept. */
static int
child_other_pid(void)
{
	char pid[32];

	null_on(3);
	g_snprintf(pid, sizeof(pid), "%ld", (long)getpid() + 1);
	g_setenv("LISTEN_PID", pid, TRUE);
	g_setenv("LISTEN_FDS", "1", TRUE);
	fds_close_inherited(true);
	if (is_open(3))
		return 1;
	null_on(3);
	g_snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	g_setenv("LISTEN_PID", pid, TRUE);
	g_setenv("LISTEN_FDS", "many", TRUE);
	fds_close_inherited(true);
	return is_open(3) ? 2 : 0;
}

/* A descriptor at or above the soft limit is left alone. */
static int
child_rlimit(void)
{
	struct rlimit rl;

	null_on(10);
	null_on(200);
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 1;
	rl.rlim_cur = 100;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 2;
	fds_close_inherited(true);
	if (is_open(10))
		return 3;
	return is_open(200) ? 0 : 4;
}

/* A closed stdin and stderr become /dev/null; stdout is kept. */
static int
child_std(void)
{
	struct stat sb, null;

	close(0);
	close(2);
	fds_close_inherited(true);
	if (stat("/dev/null", &null) != 0)
		return 1;
	for (int fd = 0; fd <= 2; fd += 2)
		if (fstat(fd, &sb) != 0 || sb.st_rdev != null.st_rdev)
			return 2 + fd;
	return is_open(1) ? 0 : 5;
}

static void
test_systemd(void)
{
	in_child(child_systemd);
	in_child(child_no_systemd);
	in_child(child_other_pid);
}

static void
test_rlimit(void)
{
	in_child(child_rlimit);
}

static void
test_std(void)
{
	in_child(child_std);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/fds/systemd", test_systemd);
	g_test_add_func("/fds/rlimit", test_rlimit);
	g_test_add_func("/fds/std", test_std);
	return g_test_run();
}
