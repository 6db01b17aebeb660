#!/bin/bash
# run-milter-ratio.sh - slowspam-milter against a bare milter doing the
# same protocol steps (bench_milter_noop -b), at the protocol level, on
# the same load, alternately (bare, slowspam, bare, slowspam, ...): the
# transactions per second of each and their ratio, per pair. Prints
# numbers; not a test. Needs no root and no MTA.
#
# Usage: bench/run-milter-ratio.sh   (about ROUNDS x (1 + milters) x
#                                     (SECONDS_RUN + 2) seconds)
#   Environment, all optional:
#     MILTER=path        slowspam-milter (default: build an -O2 copy in
#                        _build/bench, configured with CFLAGS="-O2 -g")
#     BASE=path          a second slowspam-milter (say, an older build)
#                        run in each round after MILTER: before/after in
#                        one run
#     STORETOOL=path     tests/storetool, to seed the store (default: the
#                        one next to MILTER's build)
#     NOOP=path          bench_milter_noop (default: gcc -O2 of
#                        bench/bench_milter_noop.c into the work folder)
#     ROUNDS=3           rounds of bare, MILTER[, BASE]
#     SECONDS_RUN=10     seconds of each timed run
#     CONNS=16           concurrent milter connections
#     POOL=10000         client addresses (198.18.0.0 on), in turn
#     SEEDED=500         of which the first SEEDED met the tar pit first
#                        (30 minutes ago, the primary up around it:
#                        backup-first, a verdict and a header)
#     WORKDIR=/tmp       where the work folder (the store) is made
#
# The load: bench_milter_noop -l, CONNS threads, each transaction a new
# milter connection from the next address of the pool (Postfix's
# protocol 6 steps and macros), over a unix socket. slowspam-milter:
# LMDB store, trusted_networks empty (every client judged, looked up
# and its contact recorded), spf = no, grace = 0, action = tag, log
# level warning. Each slowspam-milter run starts from a copy of the same
# seeded store, so every run does the same store work (POOL new
# networks, then contacts of known ones).
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
ROUNDS=${ROUNDS:-3}
SECONDS_RUN=${SECONDS_RUN:-10}
CONNS=${CONNS:-16}
POOL=${POOL:-10000}
SEEDED=${SEEDED:-500}
LIMIT=$((ROUNDS * 3 * (SECONDS_RUN + 15) + 300))

say() { printf '%s\n' "$*"; }
die() { say "run-milter-ratio: $*" >&2; exit 1; }

work=$(mktemp -d "${WORKDIR:-/tmp}/milter-ratio.XXXXXX") || exit 1
mpid=
watchdog=

stop_milter() {
	[ -n "$mpid" ] || return 0
	kill -TERM "$mpid" 2>/dev/null
	# libmilter stops on SIGTERM; give it two seconds, then force.
	for _ in $(seq 20); do
		kill -0 "$mpid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$mpid" 2>/dev/null
	wait "$mpid" 2>/dev/null
	mpid=
}

cleanup() {
	trap - EXIT INT TERM
	if [ -n "$watchdog" ]; then
		kill $(pgrep -P "$watchdog") "$watchdog" 2>/dev/null
	fi
	stop_milter
	if [ -n "${KEEP_TMP:-}" ]; then
		say "# kept $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'say "run-milter-ratio: interrupted" >&2; exit 130' INT TERM
( sleep "$LIMIT"; say "run-milter-ratio: over ${LIMIT}s, stopping" >&2
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
	(make -C "$b" && make -C "$b/tests" storetool) >"$work/make.log" 2>&1 ||
	    { tail -n 30 "$work/make.log"; die "make failed"; }
	MILTER="$b/milter/slowspam-milter"
fi
STORETOOL=${STORETOOL:-$(dirname "$MILTER")/../tests/storetool}
if [ -z "${NOOP:-}" ]; then
	NOOP="$work/bench_milter_noop"
	gcc -O2 -g -Wall -Wextra -o "$NOOP" "$here/bench_milter_noop.c" \
	    -lmilter -lpthread || die "cannot build bench_milter_noop"
fi
for f in "$MILTER" "$NOOP" "$STORETOOL" ${BASE:+"$BASE"}; do
	[ -x "$f" ] || die "no $f"
done

# --- the store, seeded once, copied for each run -----------------------------
mkdir -p "$work/seed" "$work/store"
seed=$work/seed/hits.lmdb
"$STORETOOL" "$seed" alive now-7200000 now-60000 >/dev/null ||
    die "storetool alive failed"
i=0
while [ "$i" -lt "$SEEDED" ] && [ "$i" -lt "$POOL" ]; do
	a="198.$((18 + i / 65536)).$((i / 256 % 256)).$((i % 256))"
	"$STORETOOL" "$seed" tarpit "$a/32" now-1800000 mail.bot.test \
	    >/dev/null || die "storetool tarpit $a failed"
	i=$((i + 1))
done

mport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') ||
    die "no free port on 127.0.0.1"
cat > "$work/slowspam.conf" <<EOF
[milter]
metrics_listen = 127.0.0.1:$mport
trusted_networks =
spf = no
grace = 0
action = tag
[store]
path = $work/store/hits.lmdb
[log]
level = warning
EOF

say "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -r), $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
say "# work folder on $(df -T "$work" | awk 'NR == 2 { print $2 }'); load: $CONNS connections, unix socket, ${SECONDS_RUN}s a run, pool $POOL clients, $SEEDED seeded at the tar pit"
say "# bare: $NOOP -b"
say "# slowspam: $MILTER"
[ -n "${BASE:-}" ] && say "# base: $BASE"

sock=$work/milter.sock
mlog=
# start KIND: bare, slowspam or base; waits until it listens.
start() {
	local n=0
	mlog=$work/$1.log
	rm -f "$sock"
	case $1 in
	bare)
		"$NOOP" -b "unix:$sock" 2>>"$mlog" &
		;;
	*)
		rm -f "$work"/store/hits.lmdb*
		cp "$seed" "$work/store/hits.lmdb"
		"$([ "$1" = base ] && echo "$BASE" || echo "$MILTER")" -f \
		    -c "$work/slowspam.conf" --socket "unix:$sock" 2>>"$mlog" &
		;;
	esac
	mpid=$!
	until [ -S "$sock" ]; do
		n=$((n + 1))
		{ [ $n -gt 100 ] || ! kill -0 "$mpid" 2>/dev/null; } &&
		    { cat "$mlog"; die "$1 did not start"; }
		sleep 0.05
	done
}

# The milter's verdicts and store events, from its metrics.
counters() {
	curl -s --max-time 5 "http://127.0.0.1:$mport/metrics" |
	    awk '/^slowspam_milter_(verdicts|store_events|store_batches|store_liveness_reads)_total/ && $2 > 0 {
		sub(/^slowspam_milter_/, ""); printf " %s=%s", $1, $2 }'
}

# cpu_per_tx PID LINE: the milter's CPU time (user+sys, all its threads,
# start-up included) per transaction of the load's LINE, in microseconds:
# robust where the rate is not, on a machine others load too.
cpu_per_tx() {
	local tx
	tx=$(printf '%s\n' "$2" | sed -n 's/^transactions=\([0-9]*\).*/\1/p')
	awk -v tx="${tx:-0}" -v hz="$(getconf CLK_TCK)" '{
		printf "%.1f", (tx > 0 ? ($14 + $15) * 1e6 / hz / tx : 0) }' \
	    "/proc/$1/stat"
}

# run KIND: one timed run; its rate in RATE, the line in the runs file.
RATE=
run() {
	local out c=
	start "$1"
	out=$(timeout $((SECONDS_RUN + 30)) "$NOOP" -l "unix:$sock" \
	    "$SECONDS_RUN" "$CONNS" "$POOL")
	[ "$1" = bare ] || c=$(counters)
	CPU=$(cpu_per_tx "$mpid" "$out")
	stop_milter
	say "$(printf '%-9s %s  load %s\n          cpu_us_per_tx=%s%s' "$1" "$out" \
	    "$(cut -d' ' -f1-3 /proc/loadavg)" "$CPU" "$c")" >>"$work/runs"
	RATE=$(printf '%s\n' "$out" | sed -n 's/.* rate=\([0-9]*\).*/\1/p')
}

kinds="slowspam"
[ -n "${BASE:-}" ] && kinds="slowspam base"
say
say "round  bare/s  $(for k in $kinds; do printf '%9s/s  ratio  ' "$k"; done)load"
for r in $(seq "$ROUNDS"); do
	line=$(printf '%-5s' "$r")
	run bare
	bare=$RATE
	cpus="bare=$CPU"
	line="$line $(printf '%7s' "$bare")"
	for k in $kinds; do
		run "$k"
		v=$RATE
		line="$line  $(printf '%9s' "$v")  $(awk -v a="$v" -v b="$bare" 'BEGIN { printf "%5.2f", (b > 0 ? a / b : 0) }')  "
		cpus="$cpus $k=$CPU"
	done
	say "$line$(cut -d' ' -f1-3 /proc/loadavg)   cpu us/tx: $cpus"
done
say
say "runs:"
sed 's/^/  /' "$work/runs"
for f in "$work"/*.log; do
	[ -s "$f" ] || continue
	say "$(basename "$f"): $(wc -l < "$f") log lines; the first:"
	head -n 3 "$f" | sed 's/^/    /'
done
