#!/bin/bash
# run-milter-bench.sh - what slowspam-milter adds to a real Postfix, on
# loopback: messages per second and milliseconds per message with no
# milter, with a no-op milter and with slowspam-milter; then milter
# transactions per second at the protocol level. Prints numbers; not a
# test.
#
# Usage: bench/run-milter-bench.sh   (as root; about 2 minutes, at most 6)
#   Environment, all optional:
#     MILTER=path        slowspam-milter (default: build an -O2 copy in
#                        _build/bench, configured with CFLAGS="-O2 -g")
#     CTL=path           slowspamctl (default: the one next to it)
#     NOOP=path          bench_milter_noop (default: gcc -O2 of
#                        bench/bench_milter_noop.c into the work folder)
#     MESSAGES=2000      messages per timed Postfix run
#     SESSIONS=20        smtp-source sessions in parallel
#     HIGH=50            sessions of the high-concurrency runs
#     WARMUP=200         messages before each timed run (not timed)
#     LAT_MESSAGES=200   messages of the one-session (-s 1) latency runs
#     PROTO_SECONDS=10   seconds of each protocol-level run
#     PROTO_CONNS=16     concurrent milter connections in those runs
#     ADDR=127.0.0.81    where the Postfix under test and the TCP milters
#                        listen (ports probed)
#
# One Postfix instance (its own configuration, queue and log in the work
# folder; chroot off; nothing of the system's Postfix is touched) receives
# on ADDR with one smtpd listener per column, each with its own
# smtpd_milters:
#   none         no milter
#   noop-unix    bench_milter_noop over a unix socket
#   slowspam-unix  slowspam-milter over a unix socket (LMDB store, SPF
#                against a test zone: bench.example TXT v=spf1
#                ip4:127.0.0.0/8 -all)
#   noop-tcp, slowspam-tcp  the same over TCP on ADDR (shows whether a
#                Nagle/delayed-ACK stall of ~40 ms appears)
# Everything is delivered by discard(8) (default_transport, relay_transport
# and local_transport = discard), so delivery costs little; in_flow_delay
# is 0 so Postfix's flow control does not pace the clients. Each milter
# runs only during its columns. A column: WARMUP messages, the queue
# drained, then smtp-source -s SESSIONS -m MESSAGES timed by the wall
# clock, the queue drained again. The load comes from 127.0.0.1, which is
# not trusted (trusted_networks is empty), so slowspam-milter does its
# full work for every message: a store read-modify-write at connect (one
# LMDB write transaction, synced), SPF at MAIL FROM, an
# Authentication-Results header at end of message. Checks printed: the
# store's primary_sessions count grows by one per message, and a few
# messages through a checking listener show the header Postfix received
# (milter_header_checks WARN).
#
# Protocol level: bench_milter_noop -l drives a milter directly with
# PROTO_CONNS connections at a time, one Postfix-like transaction per
# connection (see bench_milter_noop.c), against the no-op milter and
# slowspam-milter, unix socket and TCP. The client and the milter share
# the machine's cores.
#
# Every process started here is stopped on exit (trap), and a watchdog
# ends the run after 330 s.
set -u
PATH=$PATH:/usr/sbin:/sbin

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
MESSAGES=${MESSAGES:-2000}
SESSIONS=${SESSIONS:-20}
HIGH=${HIGH:-50}
WARMUP=${WARMUP:-200}
LAT_MESSAGES=${LAT_MESSAGES:-200}
PROTO_SECONDS=${PROTO_SECONDS:-10}
PROTO_CONNS=${PROTO_CONNS:-16}
ADDR=${ADDR:-127.0.0.81}
LIMIT=330

say() { printf '%s\n' "$*"; }
die() { say "run-milter-bench: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (a private Postfix instance)"
for prog in postfix postconf smtp-source python3 gcc; do
	command -v "$prog" >/dev/null 2>&1 || die "no $prog"
done

work=$(mktemp -d /tmp/milter-bench.XXXXXX) || exit 1
chmod 755 "$work"	# Postfix daemons run as postfix and must walk in
inst=$work/postfix
started=
mpids=()
watchdog=

stop_milters() {
	local p
	for p in "${mpids[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${mpids[@]}"; do
		# libmilter stops on SIGTERM; give it a second, then force.
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	mpids=()
}

cleanup() {
	local mpid
	trap - EXIT INT TERM
	if [ -n "$watchdog" ]; then
		kill $(pgrep -P "$watchdog") "$watchdog" 2>/dev/null
	fi
	stop_milters
	if [ -n "$started" ]; then
		postfix -c "$inst/etc" stop >/dev/null 2>&1
		# "postfix stop" kills with force after 5 s; make sure.
		if [ -f "$inst/queue/pid/master.pid" ]; then
			mpid=$(awk '{ print $1; exit }' "$inst/queue/pid/master.pid")
			if [ -n "$mpid" ] && kill -0 "$mpid" 2>/dev/null; then
				kill -KILL "$mpid" 2>/dev/null
			fi
		fi
	fi
	if [ -n "${KEEP_TMP:-}" ]; then
		say "# kept $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'say "run-milter-bench: interrupted" >&2; exit 130' INT TERM
# The watchdog: the whole run is bounded.
( sleep "$LIMIT"; say "run-milter-bench: over ${LIMIT}s, stopping" >&2
  kill -TERM $$ ) 2>/dev/null &
watchdog=$!

# --- what we need --------------------------------------------------------
if [ -z "${MILTER:-}" ]; then
	b="$top/_build/bench"
	mkdir -p "$b"
	if [ ! -f "$b/Makefile" ]; then
		(cd "$b" && "$top/configure" CFLAGS="-O2 -g") >"$work/configure.log" \
		    2>&1 || die "configure failed: see $work/configure.log"
	fi
	[ -f "$b/milter/Makefile" ] || (cd "$b" && ./config.status) \
	    >"$work/config.status.log" 2>&1
	(make -C "$b/shared" && make -C "$b/milter" &&
	    make -C "$b/slowspamctl") >"$work/make.log" 2>&1 ||
	    { cat "$work/make.log"; die "make failed"; }
	MILTER="$b/milter/slowspam-milter"
fi
CTL=${CTL:-$(dirname "$MILTER")/../slowspamctl/slowspamctl}
if [ -z "${NOOP:-}" ]; then
	NOOP="$work/bench_milter_noop"
	gcc -O2 -g -Wall -Wextra -o "$NOOP" "$here/bench_milter_noop.c" \
	    -lmilter -lpthread || die "cannot build bench_milter_noop"
fi
for f in "$MILTER" "$CTL" "$NOOP"; do
	[ -x "$f" ] || die "no $f"
done

# free_ports ADDR N: N distinct TCP ports nothing listens on at ADDR now
# (tried by binding; outside the usual ephemeral range).
free_ports() {
	python3 - "$1" "$2" <<'EOF'
import random, socket, sys
addr, want = sys.argv[1], int(sys.argv[2])
got = []
for _ in range(1000):
    if len(got) == want:
        break
    port = random.randint(20000, 32000)
    if port in got:
        continue
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((addr, port))
    except OSError:
        continue
    finally:
        s.close()
    got.append(port)
if len(got) != want:
    sys.exit(1)
print(" ".join(map(str, got)))
EOF
}

# wait_listen ADDR PORT SECONDS: succeed once a socket listens there
# (read from /proc/net/tcp: no connection, nothing in any log).
wait_listen() {
	python3 - "$@" <<'EOF'
import socket, struct, sys, time
addr, port, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
want = "%08X:%04X" % (struct.unpack("=I", socket.inet_aton(addr))[0], port)
end = time.time() + limit
while time.time() < end:
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            field = line.split()
            if field[1] == want and field[3] == "0A":
                sys.exit(0)
    time.sleep(0.05)
sys.exit(1)
EOF
}

now() { date +%s.%N; }

# --- machine ---------------------------------------------------------------
say "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -r), $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
say "postfix $(postconf -d -h mail_version), libmilter $(dpkg-query -W -f '${Version}' libmilter1.0.1 2>/dev/null || echo '?'), work folder on $(df -T "$work" | awk 'NR == 2 { print $2 " (" $1 ")" }')"
say "fdatasync of a 4 KiB write in the work folder: $(python3 - "$work" <<'EOF'
import os, sys, time
p = os.path.join(sys.argv[1], "sync.test")
fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o600)
b = b"x" * 4096
ts = []
for i in range(200):
    os.pwrite(fd, b, (i % 16) * 4096)
    t = time.perf_counter(); os.fdatasync(fd); ts.append(time.perf_counter() - t)
os.close(fd); os.unlink(p)
ts.sort()
print("median %.3f ms, p90 %.3f ms" % (1000 * ts[100], 1000 * ts[180]))
EOF
)"
say "slowspam-milter: $MILTER"
say "bench_milter_noop: $NOOP"
say "load: smtp-source -s $SESSIONS -m $MESSAGES (and -s $HIGH), warm-up $WARMUP; protocol level ${PROTO_SECONDS}s x $PROTO_CONNS connections"

# --- milters ---------------------------------------------------------------
read -r P_NONE P_NOOPU P_SSU P_NOOPT P_SST P_CHECK M_NOOP M_SS <<<"$(free_ports "$ADDR" 8)" ||
    die "no free ports on $ADDR"
[ -n "$M_SS" ] || die "no free ports on $ADDR"
S_NOOP="unix:$work/noop.sock"
S_SS="unix:$work/slowspam.sock"
T_NOOP="inet:$M_NOOP@$ADDR"
T_SS="inet:$M_SS@$ADDR"

mkdir -p "$work/store"
cat > "$work/slowspam.conf" <<EOF
[milter]
trusted_networks =
spf = yes
grace = 0
authserv_id = primary.bench
[store]
path = $work/store/hits.lmdb
[log]
level = warning
EOF
say 'bench.example TXT v=spf1 ip4:127.0.0.0/8 -all' > "$work/zone"

mlog=
# start_milter KIND SPEC: KIND noop or slowspam; waits until it listens.
start_milter() {
	local p i=0
	mlog=$work/milter-$1-${2%%:*}.log
	if [ "$1" = noop ]; then
		"$NOOP" "$2" 2>>"$mlog" &
	else
		"$MILTER" -f -c "$work/slowspam.conf" --socket "$2" \
		    --spf-zone "$work/zone" 2>>"$mlog" &
	fi
	p=$!
	mpids+=("$p")
	case $2 in
	unix:*)
		until [ -S "${2#unix:}" ]; do
			i=$((i + 1))
			{ [ $i -gt 100 ] || ! kill -0 "$p" 2>/dev/null; } &&
			    { cat "$mlog"; die "$1 milter did not start on $2"; }
			sleep 0.05
		done
		# smtpd runs as postfix: it must be able to write to it.
		chmod 666 "${2#unix:}"
		;;
	inet:*)
		p=${2#inet:}; wait_listen "$ADDR" "${p%%@*}" 5 ||
		    { cat "$mlog"; die "$1 milter did not start on $2"; }
		;;
	esac
}

# --- the Postfix under test ------------------------------------------------
mkdir -p "$inst/etc" "$inst/queue"
printf '/^Authentication-Results:/ WARN\n/^X-Slowspam:/ WARN\n' > "$work/check.regexp"
cat > "$inst/etc/main.cf" <<EOF
compatibility_level = 3.7
queue_directory = $inst/queue
data_directory = $inst/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
myhostname = primary.bench
mydomain = bench
myorigin = \$myhostname
mydestination =
alias_maps =
alias_database =
default_transport = discard:bench
relay_transport = discard:bench
local_transport = discard:bench
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
in_flow_delay = 0s
maillog_file = $inst/maillog
maillog_file_prefixes = $work
biff = no
milter_protocol = 6
milter_default_action = tempfail
milter_connect_timeout = 5s
EOF
cat > "$inst/etc/master.cf" <<EOF
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
cleanupv  unix  n       -       n       -       0       cleanup -o milter_header_checks=regexp:$work/check.regexp
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
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
$ADDR:$P_NONE inet n - n - - smtpd -o smtpd_milters=
$ADDR:$P_NOOPU inet n - n - - smtpd -o smtpd_milters=$S_NOOP
$ADDR:$P_SSU inet n - n - - smtpd -o smtpd_milters=$S_SS
$ADDR:$P_NOOPT inet n - n - - smtpd -o smtpd_milters=inet:$ADDR:$M_NOOP
$ADDR:$P_SST inet n - n - - smtpd -o smtpd_milters=inet:$ADDR:$M_SS
$ADDR:$P_CHECK inet n - n - - smtpd -o smtpd_milters=$S_SS -o cleanup_service_name=cleanupv
EOF
postfix -c "$inst/etc" check >"$work/postfix-check.out" 2>&1 ||
    { cat "$work/postfix-check.out"; die "postfix check failed"; }
started=1
postfix -c "$inst/etc" start >"$work/postfix-start.out" 2>&1 ||
    { cat "$work/postfix-start.out"; die "postfix start failed"; }
for p in $P_NONE $P_NOOPU $P_SSU $P_NOOPT $P_SST $P_CHECK; do
	wait_listen "$ADDR" "$p" 10 || die "Postfix does not listen on $ADDR:$p"
done

# queue_drained: nothing left in the queue (60 s at most).
queue_drained() {
	local i=0
	while [ $i -lt 600 ]; do
		[ -z "$(find "$inst/queue/maildrop" "$inst/queue/incoming" \
		    "$inst/queue/active" "$inst/queue/deferred" -type f \
		    2>/dev/null | head -n 1)" ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	say "  (queue not drained after 60 s)"
	return 1
}

sent_count() { grep -c 'status=sent' "$inst/maillog" 2>/dev/null || true; }
store_sessions() {
	"$CTL" -c "$work/slowspam.conf" lookup 127.0.0.1 2>/dev/null |
	    sed -n 's/.*primary_sessions=\([0-9]*\).*/\1/p'
}

# source PORT SESSIONS MESSAGES OUT: smtp-source, bounded in time.
source_run() {
	timeout 120 smtp-source -s "$2" -m "$3" -c -M bench.example \
	    -f sender@bench.example -t rcpt@primary.bench "$ADDR:$1" \
	    >"$4" 2>&1
}

results=()
# column NAME PORT SESSIONS MESSAGES: warm-up, then a timed run; one
# result line.
column() {
	local name=$1 port=$2 s=$3 m=$4 t0 t1 rc sent0 sent1 st0 st1 out
	out=$work/source-$name-$s.out
	source_run "$port" 20 "$WARMUP" "$work/warmup-$name.out" ||
	    { say "  $name: warm-up failed:"; tr '\r' '\n' < "$work/warmup-$name.out" | tail -n 5; }
	queue_drained
	sent0=$(sent_count)
	st0=$(store_sessions)
	t0=$(now)
	source_run "$port" "$s" "$m" "$out"
	rc=$?
	t1=$(now)
	queue_drained
	sent1=$(sent_count)
	st1=$(store_sessions)
	line=$(awk -v n="$name" -v s="$s" -v m="$m" -v a="$t0" -v b="$t1" \
	    -v rc="$rc" -v d=$((sent1 - sent0)) -v st="${st0:-x}:${st1:-x}" '
	BEGIN {
		w = b - a
		printf "%-14s -s %-3d -m %-5d %6.2f s %7.1f msg/s %7.3f ms/msg  delivered=%d rc=%d", n, s, m, w, m / w, 1000 * w / m, d, rc
		split(st, x, ":")
		if (x[1] != "x" && x[2] != "x")
			printf " store+%d", x[2] - x[1]
		printf "\n"
	}')
	say "$line"
	results+=("$line")
	if [ "$rc" -ne 0 ]; then
		say "  smtp-source said:"
		tr '\r' '\n' < "$out" | grep -v '^[0-9]*$' | tail -n 5 | sed 's/^/    /'
	fi
}

# proto NAME SPEC SECONDS CONNS: protocol-level rate.
proto() {
	local r
	r=$(timeout $(($3 + 30)) "$NOOP" -l "$2" "$3" "$4")
	say "$(printf '%-14s %s' "$1" "$r")"
	results+=("$(printf 'proto %-14s %s' "$1" "$r")")
}

# Each milter runs for its own columns only: started, used, stopped.
say
say "== Postfix: wall time of smtp-source; -s $SESSIONS and -s $HIGH for throughput, -s 1 for latency"
column none "$P_NONE" "$SESSIONS" "$MESSAGES"
column none "$P_NONE" 1 "$LAT_MESSAGES"

start_milter noop "$S_NOOP"
column noop-unix "$P_NOOPU" "$SESSIONS" "$MESSAGES"
column noop-unix "$P_NOOPU" "$HIGH" "$MESSAGES"
column noop-unix "$P_NOOPU" 1 "$LAT_MESSAGES"
stop_milters

start_milter slowspam "$S_SS"
# A check first: what Postfix got from slowspam-milter (5 messages).
source_run "$P_CHECK" 1 5 "$work/check.out" || say "  check run failed"
queue_drained
say "  check: $(grep -c 'milter-header-warning: header Authentication-Results: primary.bench; spf=pass' "$inst/maillog") of 5 messages got 'Authentication-Results: primary.bench; spf=pass ...'; X-Slowspam on $(grep -c 'milter-header-warning: header X-Slowspam:' "$inst/maillog")"
column slowspam-unix "$P_SSU" "$SESSIONS" "$MESSAGES"
column slowspam-unix "$P_SSU" "$HIGH" "$MESSAGES"
column slowspam-unix "$P_SSU" 1 "$LAT_MESSAGES"
stop_milters

start_milter noop "$T_NOOP"
column noop-tcp "$P_NOOPT" "$SESSIONS" "$MESSAGES"
column noop-tcp "$P_NOOPT" 1 "$LAT_MESSAGES"
stop_milters
start_milter slowspam "$T_SS"
column slowspam-tcp "$P_SST" "$SESSIONS" "$MESSAGES"
column slowspam-tcp "$P_SST" 1 "$LAT_MESSAGES"
stop_milters

say
say "== protocol level: bench_milter_noop -l SPEC SECONDS CONNS"
start_milter noop "$S_NOOP"
proto noop-unix "$S_NOOP" "$PROTO_SECONDS" "$PROTO_CONNS"
proto noop-unix "$S_NOOP" 3 1
stop_milters
start_milter slowspam "$S_SS"
proto slowspam-unix "$S_SS" "$PROTO_SECONDS" "$PROTO_CONNS"
proto slowspam-unix "$S_SS" 3 1
stop_milters
start_milter noop "$T_NOOP"
proto noop-tcp "$T_NOOP" 3 "$PROTO_CONNS"
proto noop-tcp "$T_NOOP" 3 1
stop_milters
start_milter slowspam "$T_SS"
proto slowspam-tcp "$T_SS" 3 "$PROTO_CONNS"
proto slowspam-tcp "$T_SS" 3 1
stop_milters

say
say "== summary"
printf '%s\n' "${results[@]}" | awk '
	/^proto / {
		sub(/^proto +/, "")
		split($0, f, " ")
		n = f[1]
		for (i = 2; i in f; i++) {
			split(f[i], kv, "=")
			v[kv[1]] = kv[2]
		}
		printf "protocol %-14s concurrency %-3s %s/s  %s ms per transaction (mean)  errors=%s\n", n, v["concurrency"], v["rate"] + 0, v["mean_latency_ms"], v["errors"]
		next
	}
	{
		k = $1 " " $3
		ms[k] = $10; order[++nk] = k
	}
	END {
		for (i = 1; i <= nk; i++) {
			split(order[i], x, " ")
			if (x[1] !~ /^slowspam-/)
				continue
			t = x[1]; sub(/^slowspam-/, "", t)
			a = "noop-" t " " x[2]
			if (a in ms)
				printf "Postfix -s %-3s %s: slowspam-milter %.3f ms/msg, no-op %.3f, added %+.3f ms/msg (target <= 1 ms)\n", x[2], t, ms[order[i]], ms[a], ms[order[i]] - ms[a]
		}
		for (i = 1; i <= nk; i++) {
			split(order[i], x, " ")
			if (x[1] == "noop-unix" && (("none " x[2]) in ms))
				printf "Postfix -s %-3s unix: no-op milter %.3f ms/msg, none %.3f, added %+.3f ms/msg\n", x[2], ms[order[i]], ms["none " x[2]], ms[order[i]] - ms["none " x[2]]
		}
	}'
say "milter logs (warnings and errors):"
for f in "$work"/milter-*.log; do
	[ -s "$f" ] || continue
	say "  $(basename "$f"): $(grep -vc 'bench_milter_noop: listening' "$f") lines besides 'listening'"
	grep -v 'bench_milter_noop: listening' "$f" | head -n 5 | sed 's/^/    /'
done
say "postfix warnings: $(grep 'warning:' "$inst/maillog" | grep -vc 'milter-header-warning') besides the check's header warnings"
grep 'warning:' "$inst/maillog" | grep -v 'milter-header-warning' | head -n 5 | sed 's/^/    /'
