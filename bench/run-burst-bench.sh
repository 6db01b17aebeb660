#!/bin/bash
# run-burst-bench.sh - one burst of connections at once against tarpitd
# (one worker), an older tarpitd and endlessh, in turn, several rounds:
# how many overflow the accept queue, how long until all are accepted,
# how many fail. Prints numbers; not a test.
#
# Usage: bench/run-burst-bench.sh   (as root; about a minute a round)
#   Environment, all optional:
#     TARPITD=path        tarpitd to run (default: build an -O2 copy in
#                         _build/bench-burst, configured CFLAGS="-O2 -g")
#     TARPITD_OLD=path    a second tarpitd (an older commit's build), run
#                         after the first in every round
#     LABEL, LABEL_OLD    their names in the table (default new, old)
#     ENDLESSH=path       endlessh (default: the one on PATH; "none": skip)
#     N=19000             connections in the burst, in all
#     PROCS=4             load processes; process j connects from
#                         127.0.0.(10 + j), N / PROCS each (each under
#                         the 20,000-descriptor limit)
#     ROUNDS=3            rounds; each runs every server once, in turn
#     NICE=10             the load processes' nice value: a real burst's
#                         clients are not on the tar pit's CPU, so here
#                         they yield to the server (0: compete with it;
#                         the kernel's share of each handshake runs in
#                         the connecting process either way)
#     ADDR=127.0.0.12     where the servers listen (a free port each)
#
# tarpitd runs with -f, workers 1, greet_wait 1s (the "220-" teaser goes
# out at accept), max_clients and max_clients_per_net above N, an LMDB
# store in the work folder, log level notice. endlessh runs with -d 1000
# -m above N -4 (it listens on 0.0.0.0: only loopback connects). All the
# load processes start at the same instant (300 ms after they are
# launched), open their share as fast as connect() goes, wait for each
# connection's first byte (at most 40 s) and reset them all.
# Measured, per server and round: ListenOverflows and ListenDrops (the
# whole machine, /proc/net/netstat, before and after the burst: nothing
# else here should overflow a queue); connects that took a second or
# more (a dropped SYN, sent again); the time from the start of the burst
# to the last connect and to the last first byte (tarpitd greets at
# accept, so that is when the last connection was accepted; endlessh
# writes its first line 1 s after accept, so its figure less 1000 is);
# failures (refused or reset, not answered by the end, other); the
# server's CPU over the burst; the load average. The machine is shared:
# rounds interleave the servers so outside load hits each alike.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
N=${N:-19000}
PROCS=${PROCS:-4}
ROUNDS=${ROUNDS:-3}
NICE=${NICE:-10}
ADDR=${ADDR:-127.0.0.12}
HZ=$(getconf CLK_TCK)

say() { printf '%s\n' "$*"; }
die() { say "run-burst-bench: $*" >&2; exit 1; }

case $ADDR in
127.*) ;;
*) die "ADDR must be in 127.0.0.0/8" ;;
esac
[ "$(id -u)" = 0 ] || die "run as root (tarpitd drops to user nobody)"
[ $((N / PROCS)) -lt 19900 ] || die "N / PROCS must stay under 19,900"

work=$(mktemp -d /tmp/burst-bench.XXXXXX)
chmod 755 "$work"	# the tar pit user must reach its store below it
pids=()

cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
forget() {
	local keep=() p q
	for p in "${pids[@]}"; do
		for q in "$@"; do [ "$p" = "$q" ] && continue 2; done
		keep+=("$p")
	done
	pids=("${keep[@]}")
}
alive() { kill -0 "$1" 2>/dev/null; }

# --- what we need --------------------------------------------------------
if [ -z "${TARPITD:-}" ]; then
	b="$top/_build/bench-burst"
	mkdir -p "$b"
	if [ ! -f "$b/Makefile" ]; then
		(cd "$b" && "$top/configure" CFLAGS="-O2 -g") >"$work/configure.log" \
		    2>&1 || die "configure failed: see $work/configure.log"
	fi
	(make -C "$b/shared" && make -C "$b/tarpitd") >"$work/make.log" 2>&1 ||
	    { cat "$work/make.log"; die "make failed"; }
	TARPITD="$b/tarpitd/tarpitd"
fi
[ -x "$TARPITD" ] || die "no tarpitd at $TARPITD"
servers=(new)
if [ -n "${TARPITD_OLD:-}" ]; then
	[ -x "$TARPITD_OLD" ] || die "no tarpitd at $TARPITD_OLD"
	servers+=(old)
fi
ENDLESSH=${ENDLESSH:-$(command -v endlessh)}
[ "$ENDLESSH" = none ] && ENDLESSH=
if [ -n "$ENDLESSH" ]; then servers+=(endlessh)
else say "(no endlessh: apt-get install endlessh to compare)"; fi
BENCH_BURST="$work/bench_burst"
gcc -O2 -g -Wall -Wextra -o "$BENCH_BURST" "$here/bench_burst.c" ||
    die "cannot build bench_burst"

label() {
	case $1 in
	new) echo "${LABEL:-new}" ;;
	old) echo "${LABEL_OLD:-old}" ;;
	*) echo "$1" ;;
	esac
}
free_port() {
	local p
	for _ in $(seq 200); do
		p=$((20000 + RANDOM % 10000))
		if [ -z "$(ss -Htan "sport = :$p" 2>/dev/null)" ]; then
			echo "$p"
			return
		fi
	done
	die "no free port"
}
wait_listen() {
	for _ in $(seq 100); do
		[ -n "$(ss -Htln "sport = :$1")" ] && return 0
		sleep 0.1
	done
	return 1
}
# TcpExt counter KEY of the whole machine.
tcpext() {
	awk -v key="$1" '/^TcpExt:/ { if (!h) { split($0, k); h = 1; next }
		for (i = 2; i <= NF; i++) if (k[i] == key) print $i }' \
	    /proc/net/netstat
}
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'; }
# Sum, or max, of key=VALUE over the burst lines of the load processes.
sum_field() {
	cat "$work"/burst.* | tr ' ' '\n' |
	    awk -F= -v k="$1" '$1 == k { s += $2 } END { printf "%.0f\n", s }'
}
max_field() {
	cat "$work"/burst.* | tr ' ' '\n' |
	    awk -F= -v k="$1" '$1 == k && (m == "" || $2 > m) { m = $2 }
		END { print m }'
}

tarpit_conf() {
	cat >"$1" <<EOF
[tarpitd]
listen = $ADDR:$2
hostname = tarpit.bench
greet_wait = 1s
drip_interval = 10s
max_hold = 10m
max_clients = $((N + 500))
max_clients_per_net = $((N + 500))
workers = 1
user = nobody
[store]
path = $3/store/hits.lmdb
ttl = 30d
[log]
level = notice
EOF
}

# burst SERVER ROUND: one server, one burst; a table row.
burst() {
	local s=$1 r=$2 d="$work/$1.$2" port sp ov0 dr0 ov1 dr1 c0 c1 start j
	local loads=() secs=40
	mkdir -p "$d"
	chmod 755 "$d"
	port=$(free_port)
	case $s in
	endlessh)
		"$ENDLESSH" -4 -p "$port" -d 1000 -m $((N + 500)) \
		    >"$d/stdout" 2>"$d/stderr" &
		;;
	*)
		tarpit_conf "$d/tarpitd.conf" "$port" "$d"
		if [ "$s" = new ]; then bin=$TARPITD; else bin=$TARPITD_OLD; fi
		"$bin" -c "$d/tarpitd.conf" -f >"$d/stdout" 2>"$d/stderr" &
		;;
	esac
	sp=$!
	pids+=("$sp")
	wait_listen "$port" || { cat "$d/stderr"; die "$s did not start"; }
	sleep 0.5
	rm -f "$work"/burst.*
	ov0=$(tcpext ListenOverflows)
	dr0=$(tcpext ListenDrops)
	c0=$(cpu_ticks "$sp")
	start=$(( $(date +%s%3N) + 300 ))
	for ((j = 0; j < PROCS; j++)); do
		nice -n "$NICE" "$BENCH_BURST" "$ADDR" "$port" $((N / PROCS)) \
		    $((10 + j)) "$secs" \
		    "$start" >"$work/burst.$j" 2>&1 &
		loads+=($!)
	done
	pids+=("${loads[@]}")
	for j in "${loads[@]}"; do wait "$j"; done
	forget "${loads[@]}"
	c1=$(cpu_ticks "$sp")
	ov1=$(tcpext ListenOverflows)
	dr1=$(tcpext ListenDrops)
	alive "$sp" || say "  !!! $s died: $(tail -n 3 "$d/stderr")"
	kill -TERM "$sp" 2>/dev/null
	for _ in $(seq 100); do alive "$sp" || break; sleep 0.1; done
	kill -KILL "$sp" 2>/dev/null
	wait "$sp" 2>/dev/null
	forget "$sp"
	printf '| %s | %s | %s / %s | %s | %s | %s | %s / %s / %s | %s | %s | %s / %s / %s | %s | %s |\n' \
	    "$(label "$s")" "$r" $((ov1 - ov0)) $((dr1 - dr0)) \
	    "$(sum_field connected)" "$(sum_field slow_connects)" \
	    "$(max_field connect_all_ms)" \
	    "$(max_field first_byte_p50_ms)" "$(max_field first_byte_p99_ms)" \
	    "$(max_field first_byte_all_ms)" "$(max_field burst_ms)" \
	    "$(sum_field answered)" \
	    "$(sum_field refused)" "$(sum_field timed_out)" "$(sum_field other)" \
	    "$(awk -v t=$((${c1:-0} - ${c0:-0})) -v hz="$HZ" 'BEGIN { printf "%.2f", t / hz }')" \
	    "$(cut -d' ' -f1 /proc/loadavg)"
	[ -n "${VERBOSE:-}" ] && sed 's/^/    /' "$work"/burst.*
	rm -rf "$d"
}

say "machine: $(nproc) cores, $(uname -r), open files $(ulimit -Sn)," \
    "somaxconn $(sysctl -n net.core.somaxconn), syn backlog" \
    "$(sysctl -n net.ipv4.tcp_max_syn_backlog), syncookies" \
    "$(sysctl -n net.ipv4.tcp_syncookies), load average $(cut -d' ' -f1-3 /proc/loadavg)"
say "$(label new): $TARPITD"
[ -n "${TARPITD_OLD:-}" ] && say "$(label old): $TARPITD_OLD"
[ -n "$ENDLESSH" ] && say "endlessh: $ENDLESSH"
say "burst: $N connections from $PROCS processes (127.0.0.10..$((9 + PROCS)), nice $NICE), $ROUNDS rounds"
say ""
say "| server | round | ListenOverflows / ListenDrops | connected | connects >= 1 s | last connect, ms | first byte p50 / p99 / last, ms (worst process) | burst issued in, ms | answered | refused / timed out / other | server CPU, s | load avg |"
say "|---|---|---|---|---|---|---|---|---|---|---|---|"
for ((r = 1; r <= ROUNDS; r++)); do
	for s in "${servers[@]}"; do
		burst "$s" "$r"
	done
done
