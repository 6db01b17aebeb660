#!/bin/bash
# run-list-bench.sh - the DNS list at scale (issue 15), every number in
# one run: slowspamctl export --format rbldnsd against an LMDB and a
# Redis store of the same networks, side by side, at two sizes (the
# export's memory must not grow with the store); rbldnsd's load time,
# memory and queries per second (dnsperf) on the largest export; and the
# milter's DNS-list lookups through libunbound against that rbldnsd,
# uncached and cached, with 1 and 16 threads. Prints tables; not a test.
#
# Usage: bench/run-list-bench.sh   (as root: rbldnsd drops to rbldns;
#                                   about three minutes)
#   Environment, all optional:
#     BUILD=dir        a configured build tree (default: _build/bench,
#                      configured with CFLAGS="-O2 -g" and made here)
#     SIZES="100000 1000000"   networks in the store, each size a fill
#                      of both backends and an export of each
#     DURATION=20      seconds of the dnsperf run
#     LOOKUP_SECONDS=5 seconds of each lookup run (4 runs)
#     ADDR=127.0.0.1   where redis-server and rbldnsd listen (ports
#                      probed with bench_export port)
#     WORKDIR=/tmp     where the work folder is made
#     KEEP_TMP=1       keep it (stores, exports, logs)
#
# What is filled (bench_export fill): ~70% IPv4 (/32 and /24 in turn),
# ~30% IPv6 /64; a third with bot evidence, a third backup-first (met in
# the last 6 hours while the primary was marked alive each minute), a
# third seen only; every time within [list] expire (7d). Redis is a
# throwaway redis-server (--save '' --appendonly no) in the work folder.
# Each export is timed by bench_export time: wall time, the child's peak
# RSS (getrusage) and the peaks of its anonymous and file-backed RSS
# (/proc): an LMDB reader maps the store, so its file pages are counted
# in the RSS but are the page cache's, not the program's.
# Lookups: bench_dnsxl (the milter's client, verdict/dnsxl.c: A and TXT
# a lookup), then bench/bench_unbound.c (libunbound directly, one query
# a lookup, built here with gcc) as the baseline.
# Every process started here is stopped on exit (trap), and a watchdog
# ends the run after 600 s.
set -u
PATH=$PATH:/usr/sbin:/sbin

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
SIZES=${SIZES:-100000 1000000}
DURATION=${DURATION:-20}
LOOKUP_SECONDS=${LOOKUP_SECONDS:-5}
ADDR=${ADDR:-127.0.0.1}
ZONE=list.bench.example
LIMIT=600

say() { printf '%s\n' "$*"; }
die() { say "run-list-bench: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (rbldnsd refuses it, and is told -u rbldns)"
for prog in gcc redis-server redis-cli rbldnsd dnsperf; do
	command -v "$prog" >/dev/null 2>&1 || die "no $prog"
done
id rbldns >/dev/null 2>&1 || die "no user rbldns (apt-get install rbldnsd)"

work=$(mktemp -d "${WORKDIR:-/tmp}/list-bench.XXXXXX") || exit 1
chmod 755 "$work"
pids=()
watchdog=

# stop PID: TERM, then KILL after 2 s.
stop() {
	kill -TERM "$1" 2>/dev/null
	for _ in $(seq 20); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

cleanup() {
	local p
	trap - EXIT INT TERM
	if [ -n "$watchdog" ]; then
		kill $(pgrep -P "$watchdog") "$watchdog" 2>/dev/null
	fi
	for p in "${pids[@]}"; do
		stop "$p"
	done
	if [ -n "${KEEP_TMP:-}" ]; then
		say "# kept $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'say "run-list-bench: interrupted" >&2; exit 130' INT TERM
( sleep "$LIMIT"; say "run-list-bench: over ${LIMIT}s, stopping" >&2
  kill -TERM $$ ) 2>/dev/null &
watchdog=$!

# --- what we need --------------------------------------------------------
if [ -z "${BUILD:-}" ]; then
	BUILD="$top/_build/bench"
	mkdir -p "$BUILD"
	if [ ! -f "$BUILD/Makefile" ]; then
		(cd "$BUILD" && "$top/configure" CFLAGS="-O2 -g") \
		    >"$work/configure.log" 2>&1 ||
		    die "configure failed: see $work/configure.log"
	fi
	[ -f "$BUILD/bench/Makefile" ] || (cd "$BUILD" && ./config.status) \
	    >"$work/config.status.log" 2>&1
	make -C "$BUILD" >"$work/make.log" 2>&1 ||
	    { tail -n 30 "$work/make.log"; die "make failed"; }
fi
CTL="$BUILD/slowspamctl/slowspamctl"
BE="$BUILD/bench/bench_export"
LOOKUP="$work/bench_unbound"
for f in "$CTL" "$BE"; do
	[ -x "$f" ] || die "no $f"
done
gcc -O2 -g -Wall -Wextra -o "$LOOKUP" "$here/bench_unbound.c" -lunbound \
    -lpthread || die "cannot build bench_unbound (libunbound-dev?)"

# wait_for PID FILE TEXT SECONDS: until FILE has TEXT (false if PID died).
wait_for() {
	local i
	for i in $(seq $(($4 * 20))); do
		grep -q "$3" "$2" 2>/dev/null && return 0
		kill -0 "$1" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# kv LINE KEY: the value of KEY=VALUE in LINE.
kv() {
	local f
	for f in $1; do
		case $f in "$2="*) printf '%s' "${f#*=}"; return ;; esac
	done
}

# --- Redis -----------------------------------------------------------------
rport=$("$BE" port "$ADDR") || die "no free port on $ADDR"
redis-server --port "$rport" --bind "$ADDR" --save '' --appendonly no \
    --dir "$work" --loglevel warning >"$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
	redis-cli -h "$ADDR" -p "$rport" PING 2>/dev/null | grep -q PONG && break
	sleep 0.05
done
redis-cli -h "$ADDR" -p "$rport" PING 2>/dev/null | grep -q PONG ||
    { cat "$work/redis.log"; die "redis-server does not answer on $ADDR:$rport"; }
redis_version=$(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/')

# conf BACKEND: a slowspam.conf for the store of that backend.
conf() {
	{
		say "[milter]"
		say "trusted_networks ="
		say "[store]"
		if [ "$1" = redis ]; then
			say "backend = redis"
			say "redis = $ADDR:$rport"
		else
			say "path = $work/lmdb/hits.lmdb"
			say "map_size = 8G"
		fi
		say "[list]"
		say "seen = yes"
		say "ns = ns1.bench.example"
		say "hostmaster = hostmaster.bench.example"
		say "[log]"
		say "level = warning"
	} >"$work/$1.conf"
}
conf lmdb
conf redis

say "# $(uname -srm); $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
say "# load average $(cut -d' ' -f1-3 /proc/loadavg); work folder $work on $(df --output=fstype "$work" | tail -n 1)"
say "# $CTL; redis-server $redis_version on $ADDR:$rport; $(dpkg-query -W -f '${Package} ${Version}' rbldnsd 2>/dev/null); $(dnsperf -h 2>&1 | sed -n 's/^Version /dnsperf /p' | head -n 1)"

# --- export: LMDB and Redis, each size -----------------------------------
rows=()
for n in $SIZES; do
	rm -rf "$work/lmdb"
	mkdir -p "$work/lmdb"
	redis-cli -h "$ADDR" -p "$rport" FLUSHALL >/dev/null ||
	    die "FLUSHALL failed"
	for b in lmdb redis; do
		if [ $b = lmdb ]; then
			fill=$("$BE" fill -n "$n" "$work/lmdb/hits.lmdb" 2>"$work/fill.log")
		else
			fill=$("$BE" fill -n "$n" --redis "$ADDR:$rport" 2>"$work/fill.log")
		fi || { cat "$work/fill.log"; die "fill of $n on $b failed"; }
		say "# $fill"
		out="$work/list-$b-$n.rbl"
		"$BE" time -o "$out" -- "$CTL" -c "$work/$b.conf" export \
		    --format rbldnsd -o "$out" >"$work/export.out" \
		    2>"$work/export.log" ||
		    { cat "$work/export.out" "$work/export.log"; die "export of $n on $b failed"; }
		line=$(grep '^time ' "$work/export.out")
		say "# export $b $n: $(grep -v '^time ' "$work/export.out")"
		say "# $line"
		extra=""
		if [ $b = lmdb ]; then
			extra=" $(du -k "$work/lmdb/hits.lmdb" | cut -f1)k store file"
		else
			extra=" $(redis-cli -h "$ADDR" -p "$rport" INFO memory |
			    sed -n 's/^used_memory_human:\(.*\)\r*$/\1/p' | tr -d '\r') in Redis"
		fi
		rows+=("$b $n $(kv "$fill" seconds) $line store=${extra# }")
	done
	if ! cmp -s <(grep -v '^[#$]' "$work/list-lmdb-$n.rbl" | cut -d';' -f1 | sort) \
	    <(grep -v '^[#$]' "$work/list-redis-$n.rbl" | cut -d';' -f1 | sort); then
		say "# WARNING: the LMDB and Redis exports of $n differ"
	fi
done
say ""
say "| store | networks | fill s | export wall s | user s | sys s | max RSS MiB | anon peak MiB | file peak MiB | file MB | lines | store size |"
say "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
for r in "${rows[@]}"; do
	read -r b n fs rest <<<"$r"
	printf '| %s | %s | %s | %s | %s | %s | %.1f | %.1f | %.1f | %.1f | %s | %s |\n' \
	    "$b" "$n" "$fs" "$(kv "$rest" wall_s)" "$(kv "$rest" user_s)" \
	    "$(kv "$rest" sys_s)" "$(echo "$(kv "$rest" maxrss_kb) / 1024" | bc -l)" \
	    "$(echo "$(kv "$rest" anon_peak_kb) / 1024" | bc -l)" \
	    "$(echo "$(kv "$rest" file_peak_kb) / 1024" | bc -l)" \
	    "$(echo "$(kv "$rest" bytes) / 1000000" | bc -l)" "$(kv "$rest" lines)" \
	    "${rest##*store=}"
done
say ""
stop "${pids[0]}"
pids=()

# --- rbldnsd on the largest export -----------------------------------------
big=${SIZES##* }
list="$work/list-lmdb-$big.rbl"
dport=$("$BE" port "$ADDR") || die "no free port on $ADDR"
t0=$(date +%s.%N)
rbldnsd -n -u rbldns -b "$ADDR/$dport" -w "$work" \
    "$ZONE:combined:$(basename "$list")" >"$work/rbldnsd.log" 2>&1 &
rpid=$!
pids+=($rpid)
wait_for "$rpid" "$work/rbldnsd.log" "started" 120 ||
    { cat "$work/rbldnsd.log"; die "rbldnsd did not start"; }
t1=$(date +%s.%N)
say "# rbldnsd -n -u rbldns -b $ADDR/$dport -w WORK $ZONE:combined:$(basename "$list")"
say "# $(grep 'zones reloaded' "$work/rbldnsd.log")"
say "rbldnsd load: $big networks, $(echo "$t1 - $t0" | bc -l | xargs printf '%.2f') s to \"started\"; RSS $(awk '/VmRSS/ { printf "%.1f MiB", $2 / 1024 }' /proc/$rpid/status), peak $(awk '/VmHWM/ { printf "%.1f MiB", $2 / 1024 }' /proc/$rpid/status)"

"$BE" queries -n "$big" --count 400000 "$ZONE" >"$work/queries.txt" ||
    die "queries failed"
say "# dnsperf -s $ADDR -p $dport -d queries.txt -l $DURATION (400,000 names: half listed, each listed network once if it has 200,000, half not; IPv4 and IPv6; A and TXT)"
dnsperf -s "$ADDR" -p "$dport" -d "$work/queries.txt" -l "$DURATION" \
    >"$work/dnsperf.log" 2>&1 || { cat "$work/dnsperf.log"; die "dnsperf failed"; }
sed -n 's/^  \(Queries sent\|Queries completed\|Queries lost\|Response codes\|Queries per second\|Average Latency\|Latency StdDev\)/\1/p' \
    "$work/dnsperf.log" | sed 's/^/dnsperf: /'
say "rbldnsd after the run: RSS $(awk '/VmRSS/ { printf "%.1f MiB", $2 / 1024 }' /proc/$rpid/status); CPU $(awk '{ printf "%.1f s", ($14 + $15) / 100 }' /proc/$rpid/stat)"
say ""

# --- the milter's lookups: uncached and cached, 1 and 16 threads ----------
# table LOG: the lookup lines of LOG as a table.
table() {
	say "| lookups | threads | lookups/s | p50 ms | p99 ms | max ms | $2 |"
	say "|---|---:|---:|---:|---:|---:|---|"
	grep '^lookups' "$1" | while read -r line; do
		printf '| %s | %s | %s | %.3f | %.3f | %.3f | %s |\n' \
		    "$(kv "$line" mode)" "$(kv "$line" threads)" "$(kv "$line" rate)" \
		    "$(echo "$(kv "$line" p50_us) / 1000" | bc -l)" \
		    "$(echo "$(kv "$line" p99_us) / 1000" | bc -l)" \
		    "$(echo "$(kv "$line" max_us) / 1000" | bc -l)" \
		    "$(echo "$line" | cut -d' ' -f9- | tr ' ' ',')"
	done
}
"$BE" queries --addresses -n "$big" --count 600000 "$ZONE" | awk 'NR > 400000' \
    >"$work/addresses.txt" || die "queries failed"
say "# bench_dnsxl -d $LOOKUP_SECONDS -t \"1 16\" $ADDR@$dport $ZONE addresses.txt (the milter's client, verdict/dnsxl.c)"
"$BUILD/bench/bench_dnsxl" -d "$LOOKUP_SECONDS" -t "1 16" "$ADDR@$dport" \
    "$ZONE" "$work/addresses.txt" >"$work/dnsxl.log" 2>&1 ||
    { cat "$work/dnsxl.log"; die "bench_dnsxl failed"; }
grep '^#' "$work/dnsxl.log"
say ""
table "$work/dnsxl.log" "answers"
say ""

"$BE" queries -n "$big" --count 600000 "$ZONE" | awk 'NR > 400000' \
    >"$work/lookups.txt" || die "queries failed"
say "# bench_unbound -d $LOOKUP_SECONDS -t \"1 16\" $ADDR@$dport lookups.txt (names dnsperf did not ask)"
"$LOOKUP" -d "$LOOKUP_SECONDS" -t "1 16" "$ADDR@$dport" "$work/lookups.txt" \
    >"$work/lookups.log" 2>&1 || { cat "$work/lookups.log"; die "bench_unbound failed"; }
grep '^#' "$work/lookups.log"
say ""
table "$work/lookups.log" "answers"
