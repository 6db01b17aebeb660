# tests/lib.sh - what the shell tests share. POSIX sh (run by dash).
# Sourced after top_srcdir is known:  . "$top_srcdir/tests/lib.sh"
#
#   TAP          tap_plan N, tap_ok NAME STATUS [FILE...],
#                tap_fail NAME WHY [FILE...], tap_skip WHY, tap_done
#   diagnostics  dump FILE..., bail WHY (dumps $bail_logs, exits 1)
#   set-up       need_cmds CMD..., make_dir NAME (sets $dir, traps;
#                wraps $tarpitd $milter $ctl in valgrind if asked)
#   processes    track_pid PID, stop_pid PID..., wait_for SECONDS CMD...
#   network      free_port ADDR, wait_listen ADDR PORT SECONDS
#   daemons      tarpitd_start CONF LOG, postfix_instance NAME DIR ADDR
#                PORT, postfix_start ETC, postfix_stop ETC,
#                rbldnsd_start ZONE FILE ADDR PORT [ZONE FILE]..., rbldnsd_stop
#   misc         now, maildir_find MAILDIR PATTERN
#
# SLOWSPAM_VALGRIND=1 runs the daemons and slowspamctl under valgrind
# (tests/valgrind.sh); SLOWSPAM_SLOW (default 1, 10 under valgrind)
# multiplies every limit of wait_for, wait_listen and stop_pid.

if [ -n "${SLOWSPAM_VALGRIND:-}" ]; then
	lib_slow=${SLOWSPAM_SLOW:-10}
else
	lib_slow=${SLOWSPAM_SLOW:-1}
fi

# --- TAP

tap_n=0		# checks so far
tap_failed=0	# of which failed
tap_planned=	# the plan, once printed
tap_dumped=	# files already shown by a failed check

# tap_plan N: print the plan "1..N".
tap_plan() {
	tap_planned=$1
	echo "1..$1"
}

# tap_ok NAME STATUS [FILE...]: "ok N - NAME" if STATUS is 0, otherwise
# "not ok N - NAME" and the FILEs as comments.
tap_ok() {
	if [ "$2" -eq 0 ]; then
		tap_n=$((tap_n + 1))
		echo "ok $tap_n - $1"
	else
		_name=$1
		shift 2
		tap_fail "$_name" "" "$@"
	fi
}

# tap_fail NAME WHY [FILE...]: "not ok N - NAME", then WHY (if any) and
# the FILEs as comments; each file only once per script (later failures
# point back to it), empty names ignored.
tap_fail() {
	tap_n=$((tap_n + 1))
	tap_failed=$((tap_failed + 1))
	echo "not ok $tap_n - $1"
	[ -n "$2" ] && echo "# $2"
	shift 2
	for _f in "$@"; do
		[ -n "$_f" ] || continue
		case " $tap_dumped " in
		*" $_f "*) echo "# (see $_f above)"; continue ;;
		esac
		tap_dumped="$tap_dumped $_f"
		dump "$_f"
	done
}

# tap_skip WHY: skip the whole script.
tap_skip() {
	echo "1..0 # SKIP $*"
	exit 0
}

# tap_done: exit 0 if every planned check ran and passed, 1 otherwise.
tap_done() {
	if [ -n "$tap_planned" ] && [ "$tap_n" -ne "$tap_planned" ]; then
		echo "# planned $tap_planned checks, ran $tap_n"
		exit 1
	fi
	[ "$tap_failed" -eq 0 ] || exit 1
	exit 0
}

# --- diagnostics

# dump FILE...: each FILE as TAP comments under a "# --- FILE" line.
dump() {
	for _d in "$@"; do
		if [ ! -e "$_d" ]; then
			echo "# --- $_d: missing"
		elif [ ! -s "$_d" ]; then
			echo "# --- $_d: empty"
		else
			echo "# --- $_d"
			sed 's/^/#   /' "$_d"
		fi
	done
}

# bail WHY: "Bail out! WHY", then the non-empty files among $bail_logs
# (a list of paths and glob patterns, expanded now), and exit 1.
bail_logs=
bail() {
	echo "Bail out! $*"
	# shellcheck disable=SC2086
	for _b in $bail_logs; do
		[ -s "$_b" ] && dump "$_b"
	done
	exit 1
}

# --- set-up

# need_cmds CMD...: skip the script unless every CMD is on PATH.
need_cmds() {
	for _c in "$@"; do
		command -v "$_c" >/dev/null 2>&1 ||
			tap_skip "$_c is not installed (scripts/install-deps)"
	done
}

# make_dir NAME: make $dir, a fresh ${TMPDIR:-/tmp}/slowspam-NAME-XXXXXX
# that daemons running as nobody or postfix can walk into, and trap
# EXIT and the signals to clean up: dash runs no EXIT trap when killed
# by a signal it does not trap; PIPE means our reader went away, so say
# nothing more. Cleaning up runs on_cleanup (the script may redefine
# it), stops every Postfix instance started and every tracked process,
# then removes $dir (kept if KEEP_TMP is set).
# With SLOWSPAM_VALGRIND set, $tarpitd, $milter, $ctl and $policyd (set by the
# script before) become wrappers in $dir/vg that exec the program under
# valgrind, pid and all.
make_dir() {
	dir=$(mktemp -d "${TMPDIR:-/tmp}/slowspam-$1-XXXXXX") || exit 1
	chmod 755 "$dir"
	trap 'lib_cleanup' EXIT
	trap 'echo "Bail out! interrupted"; exit 1' HUP INT TERM
	trap 'exit 1' PIPE
	[ -n "${SLOWSPAM_VALGRIND:-}" ] || return 0
	mkdir "$dir/vg"
	for _v in tarpitd milter ctl policyd; do
		eval "_prog=\${$_v:-}"
		[ -n "$_prog" ] || continue
		printf '#!/bin/sh\nexec sh "%s" "%s" "$@"\n' \
			"$top_srcdir/tests/valgrind.sh" "$_prog" > "$dir/vg/$_v"
		chmod 755 "$dir/vg/$_v"
		eval "$_v=\$dir/vg/\$_v"
	done
}

on_cleanup() {
	:
}

lib_cleanup() {
	on_cleanup
	for _pf in $postfix_started; do
		postfix_stop "$_pf"
	done
	# shellcheck disable=SC2086
	stop_pid $lib_pids
	if [ -n "$KEEP_TMP" ]; then
		echo "# kept $dir" >&2
	else
		rm -rf "$dir"
	fi
}

# --- processes

lib_pids=	# background processes to stop when cleaning up
lib_stamps=	# PID:START of each, START its start time (pid_start)

# pid_start PID: print when PID started (field 22 of /proc/PID/stat, in
# clock ticks since boot), or "gone". A PID is reused once its process
# is reaped, and the shell reaps background jobs as they end: with the
# tests running side by side as root, a stale PID can name another
# test's process, so a tracked PID is signalled only while its start
# time is the one recorded.
pid_start() {
	_st=
	read -r _st 2>/dev/null < "/proc/$1/stat" || { echo gone; return; }
	# shellcheck disable=SC2086
	set -- ${_st##*) }	# after the command name, which may hold spaces
	shift 19
	echo "${1:-gone}"
}

# track_pid PID: stop PID when cleaning up.
track_pid() {
	lib_pids="$lib_pids $1"
	lib_stamps="$lib_stamps $1:$(pid_start "$1")"
}

# lib_ours PID: succeed if PID is untracked, or is still the process
# track_pid recorded (not gone, not a new one under the same PID).
lib_ours() {
	case " $lib_stamps " in
	*" $1:"*) ;;
	*) return 0 ;;
	esac
	_rec=${lib_stamps##* $1:}
	_rec=${_rec%% *}
	[ "$_rec" != gone ] && [ "$(pid_start "$1")" = "$_rec" ]
}

# stop_pid PID...: stop the PIDs now, reap them and forget them. All
# get SIGTERM at once; whatever ignores it for 10 s in all (times
# SLOWSPAM_SLOW), SIGKILL. A libmilter process takes up to 5 s to stop,
# and a sanitizer's or valgrind's leak check runs at exit.
stop_pid() {
	_live=
	for _p in "$@"; do
		lib_ours "$_p" && kill "$_p" 2>/dev/null && _live="$_live $_p"
	done
	_t=0
	for _p in $_live; do
		while lib_ours "$_p" && kill -0 "$_p" 2>/dev/null &&
		    [ $_t -lt $((100 * lib_slow)) ]; do
			sleep 0.1
			_t=$((_t + 1))
		done
		lib_ours "$_p" && kill -9 "$_p" 2>/dev/null
		wait "$_p" 2>/dev/null
	done
	for _p in "$@"; do
		# shellcheck disable=SC2086
		lib_pids=$(lib_without "$_p" $lib_pids)
		# shellcheck disable=SC2086
		lib_stamps=$(lib_without "$_p" $lib_stamps)
	done
}

# lib_without WORD LIST...: print LIST without WORD (nor WORD:ANY, so
# a PID's stamp goes with it).
lib_without() {
	_w=$1
	shift
	for _x in "$@"; do
		[ "${_x%%:*}" = "$_w" ] || printf ' %s' "$_x"
	done
}

# wait_for SECONDS COMMAND...: run COMMAND every 0.1 s until it succeeds;
# fail after SECONDS (a whole number, times SLOWSPAM_SLOW).
wait_for() {
	_limit=$(($1 * 10 * lib_slow))
	shift
	_n=0
	until "$@"; do
		_n=$((_n + 1))
		[ $_n -ge $_limit ] && return 1
		sleep 0.1
	done
}

# --- network

# free_port ADDR...: print a TCP port that nothing listens on at any ADDR
# now (tried by binding; outside the usual ephemeral range).
free_port() {
	python3 - "$@" <<'EOF'
import random, socket, sys

def free(addr, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((addr, port))
        return True
    except OSError:
        return False
    finally:
        s.close()

for _ in range(200):
    port = random.randint(20000, 32000)
    if all(free(a, port) for a in sys.argv[1:]):
        print(port)
        sys.exit(0)
sys.exit(1)
EOF
}

# wait_listen ADDR PORT SECONDS: succeed once a socket listens there
# (read from /proc/net/tcp, so as not to leave a connection in any log;
# looked at once at least, even for 0 s; SECONDS times SLOWSPAM_SLOW).
wait_listen() {
	python3 - "$1" "$2" "$3" "$lib_slow" <<'EOF'
import socket, struct, sys, time
addr, port = sys.argv[1], int(sys.argv[2])
limit = float(sys.argv[3]) * float(sys.argv[4])
want = "%08X:%04X" % (struct.unpack("=I", socket.inet_aton(addr))[0], port)
end = time.time() + limit
while True:
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            field = line.split()
            if field[1] == want and field[3] == "0A":
                sys.exit(0)
    if time.time() >= end:
        sys.exit(1)
    time.sleep(0.1)
EOF
}

# --- daemons

# tarpitd_start CONF LOG: start $tarpitd (set by the script) on CONF in the foreground,
# stdout and stderr to LOG (no daemon keeps our stdout: a stray child
# would hold the TAP pipe open), tracked; wait up to 10 s for its
# "serving" line (not a connection: its log stays clean) and bail if it
# does not come. Sets tarpit_pid.
tarpitd_start() {
	: > "$2"	# there at once, for the greps
	# shellcheck disable=SC2154
	"$tarpitd" -f -c "$1" > "$2" 2>&1 &
	tarpit_pid=$!
	track_pid "$tarpit_pid"
	wait_for 10 lib_tarpitd_up "$2" || bail "tarpitd did not start"
}

# lib_tarpitd_up LOG: succeed once tarpitd serves; bail at once if it
# is gone or says it stopped.
lib_tarpitd_up() {
	if ! kill -0 "$tarpit_pid" 2>/dev/null ||
		grep -q "tarpitd stopped" "$1"; then
		bail "tarpitd did not start"
	fi
	grep -q ": info: serving " "$1"
}

# rbldnsd_start ZONE FILE ADDR PORT [ZONE FILE]...: serve each FILE, an
# rbldnsd "combined" data file, as its ZONE on ADDR/PORT (UDP) with a
# real rbldnsd, in the foreground as user rbldns (it refuses root; the
# files must be readable by it as written: their folders are opened), rereading a changed file
# within a second (set rbldnsd_opts= before, for rbldnsd's own default:
# then only a SIGHUP rereads at once); its output in FILE.log of the
# first FILE; wait up to
# 10 s for it to answer, or bail. Unbound answers the zone test. itself
# (RFC 6761): use another one. Sets rbldnsd_pid and rbldnsd_log;
# rbldnsd_stop stops it.
rbldnsd_start() {
	_zones="$1:combined:$2" _addr=$3/$4 _zone=$1
	rbldnsd_log=$2.log
	chmod 755 "$(dirname "$2")"
	shift 4
	while [ $# -ge 2 ]; do
		_zones="$_zones $1:combined:$2"
		chmod 755 "$(dirname "$2")"
		shift 2
	done
	# shellcheck disable=SC2086
	/usr/sbin/rbldnsd -n -u rbldns ${rbldnsd_opts--c 1} -b "$_addr" $_zones \
		> "$rbldnsd_log" 2>&1 &
	rbldnsd_pid=$!
	track_pid "$rbldnsd_pid"
	wait_for 10 lib_rbldnsd_up "$_zone" "${_addr%/*}" "${_addr#*/}" || {
		dump "$rbldnsd_log"
		bail "rbldnsd did not start"
	}
}

lib_rbldnsd_up() {
	dig @"$2" -p "$3" +time=1 +tries=1 "$1" SOA 2>/dev/null |
		grep -q 'status: '
}

rbldnsd_stop() {
	[ -z "$rbldnsd_pid" ] || stop_pid "$rbldnsd_pid"
	rbldnsd_pid=
}

# postfix_instance NAME DIR ADDR PORT: write the configuration of a
# private Postfix instance NAME that lives in DIR (configuration in
# DIR/etc, queue in DIR/queue, log in DIR/maillog; no chroot, no local
# delivery, no DNS) and runs smtpd on ADDR:PORT (no smtpd if ADDR is
# empty). Print DIR/etc; append to its main.cf as needed, then
# postfix_start it. "postfix start" makes the queue's subfolders and the
# data folder with the right owners (post-install create-missing).
postfix_instance() {
	mkdir -p "$2/etc" "$2/queue"
	cat > "$2/etc/main.cf" <<EOF
compatibility_level = 3.7
queue_directory = $2/queue
data_directory = $2/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
myhostname = $1.test.example
mydomain = test.example
myorigin = \$myhostname
mydestination =
alias_maps =
alias_database =
local_transport = error:no local delivery here
smtp_dns_support_level = disabled
smtp_host_lookup = native
smtpd_peername_lookup = no
maillog_file = $2/maillog
maillog_file_prefixes = $2
biff = no
EOF
	cat > "$2/etc/master.cf" <<EOF
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
	if [ -n "$3" ]; then
		echo "$3:$4 inet n - n - - smtpd" >> "$2/etc/master.cf"
	fi
	echo "$2/etc"
}

postfix_started=	# configuration folders of running instances

# postfix_start ETC: "postfix check" and "postfix start" the instance
# configured in ETC (their output in ETC/../check.out and start.out);
# bail if either fails. It is stopped when cleaning up.
postfix_start() {
	_top=${1%/etc}
	if ! postfix -c "$1" check > "$_top/check.out" 2>&1; then
		# Some complaints go to the terminal only.
		script -qc "postfix -c $1 check" /dev/null >> "$_top/check.out" 2>&1
		bail "postfix -c $1 check failed"
	fi
	postfix_started="$postfix_started $1"
	postfix -c "$1" start > "$_top/start.out" 2>&1 ||
		bail "postfix -c $1 start failed"
}

# postfix_stop ETC: stop the instance configured in ETC. "postfix stop"
# waits up to 5 s, then kills with force; make sure the master is gone
# before its queue is removed.
postfix_stop() {
	postfix -c "$1" stop >/dev/null 2>&1
	_pidfile=${1%/etc}/queue/pid/master.pid
	if [ -f "$_pidfile" ]; then
		_mpid=$(awk '{ print $1; exit }' "$_pidfile")
		if [ -n "$_mpid" ] && kill -0 "$_mpid" 2>/dev/null; then
			kill -9 "$_mpid" 2>/dev/null
		fi
	fi
	# shellcheck disable=SC2086
	postfix_started=$(lib_without "$1" $postfix_started)
}

# --- misc

# now: seconds since the epoch, to the millisecond
now() {
	date +%s.%3N
}

# maildir_find MAILDIR PATTERN: print the first message in MAILDIR/new
# that matches PATTERN (grep); fail if there is none.
maildir_find() {
	_m=$(grep -l -- "$2" "$1"/new/* 2>/dev/null | head -n 1)
	[ -n "$_m" ] && echo "$_m"
}
