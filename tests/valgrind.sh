#!/bin/sh
# valgrind.sh PROG ARG... - run PROG under valgrind the way the tests do
# when SLOWSPAM_VALGRIND is set (tests/lib.sh's make_dir, testutil's
# test_cmd). It execs, so the caller's pid is the program's. Each process
# (forked workers too) writes $SLOWSPAM_REPORTS/vg.PID; run-test.sh fails
# the test on any error or definite leak in them. The folder must be
# writable by nobody: the daemons drop root before workers fork.
here=$(cd "$(dirname "$0")" && pwd)
exec valgrind --error-exitcode=99 --leak-check=full \
	--errors-for-leak-kinds=definite --show-leak-kinds=definite \
	--track-fds=yes --num-callers=30 --vgdb=no \
	--suppressions="$here/valgrind.supp" \
	--log-file="${SLOWSPAM_REPORTS:-${TMPDIR:-/tmp}}/vg.%p" "$@"
