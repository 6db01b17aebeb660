#!/bin/sh
# run-test.sh TEST [ARG...] - run one test, its TAP passing through, and
# fail it if any process it started left a report. make check runs every
# test through it (LOG_COMPILER in tests/Makefile.am).
#
# The daemons run in the background with stderr in a log that only a
# failing check shows, so a sanitizer report at their exit went unseen.
# Here every process writes its sanitizer reports to
# $SLOWSPAM_REPORTS/san.PID (log_path) and, with SLOWSPAM_VALGRIND set,
# its valgrind log to vg.PID (tests/valgrind.sh). After the test, a
# san.* file fails it; so does a vg.* file without "ERROR SUMMARY: 0
# errors" (an error, a definite leak, or a process killed or still
# running) or with a connection still open at exit (not inherited, not
# libmilter's; files and listening sockets do not count: forked workers
# exit holding their parent's). Such files are shown as TAP comments and
# kept in reports/TEST/ below the current folder, and a "Bail out!"
# makes the test an ERROR.
test=$1
name=${test##*/}
keep=reports/$name
rm -rf "$keep"
# Under $TMPDIR, not the build tree: the daemons write as nobody (the
# user they drop to when the tests run as root), so nobody owns it.
SLOWSPAM_REPORTS=$(mktemp -d "${TMPDIR:-/tmp}/slowspam-reports-XXXXXX") ||
	exit 99
[ "$(id -u)" -eq 0 ] && chown nobody "$SLOWSPAM_REPORTS"
export SLOWSPAM_REPORTS
trap 'rm -rf "$SLOWSPAM_REPORTS"' EXIT
trap 'exit 1' HUP INT TERM
# GCC's libubsan, beside libasan, ignores log_path and writes to stderr:
# make it abort, and ASan reports the abort (with the stack through
# __ubsan_handle_*) in the file.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}handle_abort=1:log_path=$SLOWSPAM_REPORTS/san"
UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}abort_on_error=1:log_path=$SLOWSPAM_REPORTS/san"
export ASAN_OPTIONS UBSAN_OPTIONS

# In the foreground (so ^C works), its pid noted, and bounded: a test
# that hangs fails after SLOWSPAM_TEST_TIMEOUT seconds (TERM, so its
# clean-up trap stops its daemons; KILL 10 s later) instead of holding
# the whole suite. What was running then is shown, for the diagnosis.
limit=${SLOWSPAM_TEST_TIMEOUT:-600}
started=$(date +%s)
timeout --foreground -k 10 "$limit" \
    sh -c 'echo $$ > "$0"; exec "$@"' "$SLOWSPAM_REPORTS/pid" "$@"
status=$?
pid=$(cat "$SLOWSPAM_REPORTS/pid")
echo "# run-test: $name took $(($(date +%s) - started)) s"
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
	echo "# run-test: $name still running after $limit s; processes" \
	    "started since:"
	ps -eo pid,ppid,etimes,args 2>/dev/null |
	    awk -v t="$((limit + 20))" '$3 <= t && $4 !~ /^\[/' |
	    cut -c 1-160 | sed 's/^/#   /'
	echo "Bail out! $name timed out after $limit s"
fi

# Processes the test left running with its output (a daemon it did not
# stop) would hold the TAP driver's pipe open, and make would wait for
# ever: give them 5 s (times SLOWSPAM_SLOW) to go, then kill them and
# fail the test. Our own ancestors hold the pipe too: they do not count.
out=$(readlink "/proc/$$/fd/1" 2>/dev/null)
leftovers() {
	case $out in pipe:*) ;; *) return 0 ;; esac
	_skip=" $$ "
	_p=$$
	while [ "$_p" -gt 1 ]; do
		_p=$(awk '/^PPid:/ { print $2 }' "/proc/$_p/status" 2>/dev/null)
		[ -n "$_p" ] || break
		_skip="$_skip$_p "
	done
	for _d in /proc/[0-9]*; do
		_q=${_d#/proc/}
		case $_skip in *" $_q "*) continue ;; esac
		for _fd in 1 2; do
			if [ "$(readlink "$_d/fd/$_fd" 2>/dev/null)" = "$out" ]; then
				echo "$_q"
				break
			fi
		done
	done
}
slow=${SLOWSPAM_SLOW:-1}
[ -n "${SLOWSPAM_VALGRIND:-}" ] && slow=${SLOWSPAM_SLOW:-10}
_until=$(($(date +%s) + 5 * slow))
while [ -n "$(leftovers)" ] && [ "$(date +%s)" -lt "$_until" ]; do
	sleep 0.2
done
left=$(leftovers)
if [ -n "$left" ]; then
	for _q in $left; do
		echo "# run-test: left running: $(tr '\0' ' ' < "/proc/$_q/cmdline" 2>/dev/null | cut -c 1-160)"
	done
	# shellcheck disable=SC2086
	kill -9 $left 2>/dev/null
fi

bad=
nvg=0
for f in "$SLOWSPAM_REPORTS"/san.* "$SLOWSPAM_REPORTS"/vg.*; do
	[ -f "$f" ] || continue
	case ${f##*/} in
	san.$pid)
		# A failed g_assert aborts the test itself: already an error.
		[ "$status" -ne 0 ] &&
		    [ "$(grep -c '==ERROR: ' "$f")" -eq 1 ] &&
		    grep -q '==ERROR: AddressSanitizer: ABRT' "$f" && continue
		;;
	vg.*)
		nvg=$((nvg + 1))
		grep -q 'ERROR SUMMARY: 0 errors' "$f" || { bad="$bad $f"; continue; }
		fds=$(awk '
			/== Open AF_INET6? socket [0-9]+: .* <-> / && !/<-> unbound/ {
				open = $0; stack = ""; next
			}
			open != "" && /<inherited from parent>/ { open = ""; next }
			open != "" && /== +(at|by) / { stack = stack $0; next }
			open != "" { if (stack !~ /libmilter/) print open; open = "" }
		' "$f")
		[ -z "$fds" ] && continue
		;;
	esac
	bad="$bad $f"
done
# Counted by scripts/test-all: proof that the daemons ran under valgrind.
[ -n "${SLOWSPAM_VALGRIND:-}" ] && echo "# valgrind: $nvg processes checked"
if [ -n "$left" ]; then
	echo "Bail out! $name left processes running:$(echo $left | sed 's/^/ /')"
	[ "$status" -eq 0 ] && status=1
fi
if [ -n "$bad" ]; then
	mkdir -p "$keep"
	for f in $bad; do
		cp "$f" "$keep/"
		echo "# --- report ${f##*/} (kept in $keep/)"
		sed 's/^/#   /' "$f"
	done
	echo "Bail out! reports from the processes of $name:$(echo "$bad" |
	    sed "s|$SLOWSPAM_REPORTS/||g")"
	[ "$status" -eq 0 ] && status=1
fi
exit "$status"
