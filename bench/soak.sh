#!/bin/bash
# soak.sh - a bounded soak of tarpitd and slowspam-milter on loopback:
# churning and held clients against tarpitd, milter transactions against
# the milter, both on one LMDB store, for MINUTES; RSS, descriptors and
# CPU of both daemons sampled over time. Prints numbers; not a test.
#
# Usage: bench/soak.sh [MINUTES]   (as root; default 20)
#   Environment, all optional:
#     BUILD=dir    a configured build folder with tarpitd and the milter
#                  (default: an -O2 -g build in _build/bench)
#     HELD=2000    clients held per cycle
#     CHURN=50     concurrent short sessions (connect, greet, EHLO, close;
#                  each waits greet_wait = 1 s, so about 50 sessions/s)
#     MAIL=1       concurrent milter connections (each back to back)
#
# The run is a series of 60 s cycles. Each cycle starts HELD held clients
# from a new source address (tarpitd ends them at max_hold = 30 s), CHURN
# short sessions for 40 s and MAIL milter transactions for 40 s, then
# leaves 20 s quiet. Every 10 s both daemons are sampled (VmRSS, open
# descriptors, threads, CPU seconds); the last sample of each cycle falls
# in the quiet part, so those "idle" samples are comparable across the
# run: a leak shows as idle RSS or descriptors rising cycle after cycle.
# The table goes to stdout and to $work/samples.tsv; the summary compares
# the idle samples of the second cycle (after warm-up) with the last.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
MINUTES=${1:-20}
HELD=${HELD:-2000}
CHURN=${CHURN:-50}
MAIL=${MAIL:-1}
HZ=$(getconf CLK_TCK)
cycles=$MINUTES

work=$(mktemp -d /tmp/slowspam-soak.XXXXXX)
chmod 755 "$work"
pids=()

cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() { echo "soak: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (tarpitd drops to user nobody)"

# --- build ---------------------------------------------------------------
if [ -z "${BUILD:-}" ]; then
	BUILD=$top/_build/bench
	mkdir -p "$BUILD"
	[ -f "$BUILD/Makefile" ] || (cd "$BUILD" && "$top/configure" \
	    CFLAGS="-O2 -g") >"$work/configure.log" 2>&1 ||
	    die "configure failed: see $work/configure.log"
fi
make -C "$BUILD/shared" >"$work/make.log" 2>&1 &&
    make -C "$BUILD/tarpitd" >>"$work/make.log" 2>&1 &&
    make -C "$BUILD/milter" >>"$work/make.log" 2>&1 ||
    { cat "$work/make.log"; die "make failed"; }
gcc -O2 -g -o "$work/bench_tarpit" "$here/bench_tarpit.c" ||
    die "cannot build bench_tarpit"
gcc -O2 -g -o "$work/bench_milter" "$here/bench_milter_noop.c" -lmilter \
    -lpthread || die "cannot build bench_milter_noop"

# --- helpers -------------------------------------------------------------
free_port() {
	local p
	for _ in $(seq 200); do
		p=$((20000 + RANDOM % 10000))
		[ -z "$(ss -Htan "sport = :$p")" ] && { echo "$p"; return; }
	done
	die "no free port"
}
rss_kb() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"; }
# Anonymous memory only: the store's map is a file mapping whose pages
# count in VmRSS as they are touched, so VmRSS grows with the store.
anon_kb() { awk '$1 == "RssAnon:" { print $2 }' "/proc/$1/status"; }
threads() { awk '$1 == "Threads:" { print $2 }' "/proc/$1/status"; }
fds() { ls "/proc/$1/fd" | wc -l; }
cpu_s() {
	sed 's/.*) //' "/proc/$1/stat" |
	    awk -v hz="$HZ" '{ printf "%.2f", ($12 + $13) / hz }'
}
wait_for() {
	local n=$1
	shift
	for _ in $(seq $((n * 10))); do "$@" && return 0; sleep 0.1; done
	return 1
}

port=$(free_port)
cat >"$work/slowspam.conf" <<EOF
[tarpitd]
listen = 127.0.0.1:$port
hostname = tarpit.soak
greet_wait = 1s
drip_interval = 5s
max_hold = 30s
max_clients = 100000
max_clients_per_net = 100000
user = nobody
event_log = $work/events.jsonl

[milter]
socket = unix:$work/milter.sock
trusted_networks = ::1/128
spf = no
action = tag

[store]
path = $work/store/hits.lmdb

[log]
level = warning
EOF

"$BUILD/tarpitd/tarpitd" -f -c "$work/slowspam.conf" 2>"$work/tarpitd.log" &
tarpitd=$!
pids+=($tarpitd)
listening() { [ -n "$(ss -Htln "sport = :$port")" ]; }
wait_for 10 listening ||
    { cat "$work/tarpitd.log"; die "tarpitd did not start"; }
"$BUILD/milter/slowspam-milter" -f -c "$work/slowspam.conf" \
    2>"$work/milter.log" &
milter=$!
pids+=($milter)
wait_for 10 test -S "$work/milter.sock" ||
    { cat "$work/milter.log"; die "the milter did not start"; }

echo "soak: $MINUTES cycles of 60 s; tarpitd pid $tarpitd port $port," \
    "milter pid $milter; HELD=$HELD CHURN=$CHURN MAIL=$MAIL"
printf 't_s\tcycle\tphase\ttp_rss_kb\ttp_anon_kb\ttp_fds\ttp_cpu_s\tmi_rss_kb\tmi_anon_kb\tmi_fds\tmi_threads\tmi_cpu_s\n' |
    tee "$work/samples.tsv"
start=$(date +%s)
sample() {
	local s
	s=$(printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s' \
	    $(( $(date +%s) - start )) "$1" "$2" \
	    "$(rss_kb $tarpitd)" "$(anon_kb $tarpitd)" "$(fds $tarpitd)" \
	    "$(cpu_s $tarpitd)" "$(rss_kb $milter)" "$(anon_kb $milter)" \
	    "$(fds $milter)" "$(threads $milter)" "$(cpu_s $milter)")
	echo "$s" | tee -a "$work/samples.tsv"
}

for ((c = 1; c <= cycles; c++)); do
	t0=$(date +%s)
	kill -0 $tarpitd 2>/dev/null || die "tarpitd died in cycle $c"
	kill -0 $milter 2>/dev/null || die "the milter died in cycle $c"
	"$work/bench_tarpit" hold 127.0.0.1 "$port" "$HELD" 35 \
	    $((10 + c % 200)) >>"$work/hold.log" 2>&1 &
	load=($!)
	"$work/bench_tarpit" rate 127.0.0.1 "$port" 40 "$CHURN" \
	    $((100 + (c % 8) * 16)) >>"$work/rate.log" 2>&1 &
	load+=($!)
	"$work/bench_milter" -l "unix:$work/milter.sock" 40 "$MAIL" \
	    >>"$work/mail.log" 2>&1 &
	load+=($!)
	pids+=("${load[@]}")
	for phase in 10 20 30 40 50; do
		sleep $((t0 + phase - $(date +%s)))
		sample "$c" load
	done
	wait "${load[@]}"
	pids=($tarpitd $milter)
	sleep $((t0 + 60 - $(date +%s)))
	sample "$c" idle
done

echo
echo "soak: load totals"
sum() {	# sum FILE KEY: the sum of KEY=N over FILE's lines
	tr ' ' '\n' <"$1" | awk -F= -v k="$2" '$1 == k { s += $2 } END { print s + 0 }'
}
echo "  short sessions: $(sum "$work/rate.log" sessions)" \
    "(failed $(sum "$work/rate.log" failed))"
echo "  held clients: $(sum "$work/hold.log" established) established"
echo "  tarpit sessions in the event log: $(grep -c . "$work/events.jsonl")"
echo "  milter transactions: $(sum "$work/mail.log" transactions)" \
    "(errors $(sum "$work/mail.log" errors))"
grep -h -i -E 'error|warn|crit' "$work/tarpitd.log" "$work/milter.log" |
    sort | uniq -c | sort -rn | head -n 5 | sed 's/^/  log: /'

echo
echo "soak: idle samples, cycle 2 against the last cycle"
awk -F'\t' '$3 == "idle" { last = $0; if ($2 == 2) first = $0 }
END {
	split(first, a, "\t"); split(last, b, "\t")
	printf "  tarpitd: RSS %d -> %d kB (%+d), anonymous %d -> %d kB (%+d), fds %d -> %d, CPU %.2f s over the run\n",
	    a[4], b[4], b[4] - a[4], a[5], b[5], b[5] - a[5], a[6], b[6], b[7]
	printf "  milter:  RSS %d -> %d kB (%+d), anonymous %d -> %d kB (%+d), fds %d -> %d, threads %d -> %d, CPU %.2f s\n",
	    a[8], b[8], b[8] - a[8], a[9], b[9], b[9] - a[9], a[10], b[10], a[11], b[11], b[12]
	printf "  store file: %s\n", store
}' store="$(du -k "$work/store/hits.lmdb" 2>/dev/null | cut -f1) kB" "$work/samples.tsv"
echo "  samples: $work/samples.tsv (kept only with KEEP=1)"
