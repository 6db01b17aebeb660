/*
 * fds.c - close what a daemon inherits from whoever started it.
 *
 *	fds_close_inherited	close every descriptor above 2 (but systemd's)
 *	fds_raise_limit		soft RLIMIT_NOFILE up to the hard one
 *	fds_systemd		the sockets systemd passed, if any
 *
 * A descriptor left open by a careless starter (a shell's "exec 7<",
 * an init script, a parent that forgot O_CLOEXEC) would survive chroot
 * and the drop of root, and give a compromised daemon a file or folder
 * it should never reach. So main() closes everything above 2 before it
 * does anything else, but for the sockets systemd passes (LISTEN_FDS of
 * them from SD_LISTEN_FDS_START, 3, when LISTEN_PID is this process;
 * tarpitd/listen.c takes them).
 *
 * Only descriptors below the soft RLIMIT_NOFILE are closed: valgrind
 * keeps its own above the limit it shows the program, and closing them
 * would break it. close_range(2) where the kernel has it, else each
 * descriptor in /proc/self/fd, else every number up to the limit.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <glib.h>

#include "fds.h"

bool
fds_systemd(unsigned *n)
{
	const char *pid = g_getenv("LISTEN_PID"), *fds = g_getenv("LISTEN_FDS");
	guint64 count;

	*n = 0;
	if (pid == NULL || fds == NULL ||
	    g_ascii_strtoull(pid, NULL, 10) != (guint64)getpid())
		return false;
	if (g_ascii_string_to_unsigned(fds, 10, 1, FDS_SYSTEMD_MAX, &count,
	    NULL))
		*n = (unsigned)count;
	return true;
}

/* Close each descriptor from first to last, through /proc; false if none. */
static bool
close_listed(int first, int last)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	if (d == NULL)
		return false;
	while ((e = readdir(d)) != NULL) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);

		if (*end == '\0' && end != e->d_name && fd >= first &&
		    fd <= last && fd != dirfd(d))
			close((int)fd);
	}
	closedir(d);
	return true;
}

void
fds_close_inherited(bool systemd)
{
	struct rlimit rl;
	unsigned passed = 0;
	int first;

	if (systemd)
		fds_systemd(&passed);
	first = FDS_SYSTEMD_FIRST + (int)passed;
	int last = INT_MAX;

	/* 0 to 2 open, if only on /dev/null: later files must not be them. */
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF &&
		    open("/dev/null", O_RDWR) != fd)
			break;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < (rlim_t)INT_MAX)
		last = (int)rl.rlim_cur - 1;
	if (last < first)
		return;
#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)first, (unsigned)last, 0) == 0)
		return;
#endif
	if (close_listed(first, last) || last == INT_MAX)
		return;
	for (int fd = first; fd <= last; fd++)
		close(fd);
}

/*
 * Take every descriptor the hard limit allows: tarpitd's clients and
 * the milter's MTA connections need many, and libmilter's accept loop
 * spins when it runs out.
 */
void
fds_raise_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}
