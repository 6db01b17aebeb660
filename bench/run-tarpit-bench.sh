#!/bin/bash
# run-tarpit-bench.sh - what holding a connection costs tarpitd, against
# endlessh, on loopback; tarpitd's short-session rate; 100,000 held
# connections with workers. Prints numbers; not a test.
#
# Usage: bench/run-tarpit-bench.sh   (as root; about 5 minutes)
#   Environment, all optional:
#     TARPITD=path       tarpitd to run (default: build an -O2 copy in
#                        _build/bench, configured with CFLAGS="-O2 -g")
#     TARPITD_BEFORE=path another tarpitd (an older build) measured the
#                        same way in the same run, just before TARPITD
#     ROUNDS=1           times the pair (or TARPITD alone) and endlessh
#                        are measured, in turn (A B endlessh A B ...)
#     BENCH_TARPIT=path  the load generator (default: gcc -O2 of
#                        bench/bench_tarpit.c into the work folder)
#     ENDLESSH=path      endlessh (default: the one on PATH; apt-get
#                        install endlessh if there is none)
#     WINDOW=60          seconds of the CPU window
#     HELD=19000         connections held per server (one process each)
#     BIG=100000         connections held with tarpitd workers = 6 (0: skip)
#     EVENTS=40          sessions from as many new networks, for the
#                        store events a session writes
#
# What it does, in order:
#   1. tarpitd, workers = 1: RSS before and after HELD connections on a
#      fresh process (cold: this includes the first use of the store's
#      write queue; before it was packed, two rings of 16,384 items of
#      344 B, resident after their first pass). Then on a second fresh
#      process the short-session rate (greet_wait = 0), with the
#      process's RSS fresh, right after that flood and after IDLE
#      seconds idle; then RSS before and after HELD connections (warm)
#      and CPU over WINDOW seconds while they are held with a 10 s drip
#      (each client sends EHLO after the 220, so the drip runs); then
#      EVENTS sessions, each from a network new to the process, each
#      held 3 s: the store events per session (the totals line's
#      store_written over its sessions, SIGUSR1). With TARPITD_BEFORE,
#      all of this for it first.
#      Kernel memory of the server's sockets per held connection, from
#      ss -tmn: skmem r (unread received bytes), f (forward-allocated),
#      w (queued to send, in flight too) and t (being transmitted),
#      summed over the server's established sockets; "kernel" is
#      r + f + w.
#   2. endlessh -d 10000: RSS before and after HELD, CPU over WINDOW,
#      kernel memory likewise.
#   3. tarpitd, workers = 6: BIG connections from 8 load processes.
# Load processes: HELD over 2, BIG over 8, each from its own source
# address (127.0.0.10 and up), each well under the 20,000-descriptor
# limit. Nothing in the system is changed; sysctls are only printed.
# Every server and load process started here is stopped on exit.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
WINDOW=${WINDOW:-60}
HELD=${HELD:-19000}
BIG=${BIG:-100000}
ROUNDS=${ROUNDS:-1}
EVENTS=${EVENTS:-40}
IDLE=${IDLE:-10}
HZ=$(getconf CLK_TCK)

work=$(mktemp -d /tmp/tarpit-bench.XXXXXX)
chmod 755 "$work"	# the tar pit user must reach its store below it
pids=()

cleanup() {
	local p
	for p in "${pids[@]}"; do
		# Workers first (children of a tarpitd), then the process.
		for c in $(pgrep -P "$p" 2>/dev/null); do
			kill -KILL "$c" 2>/dev/null
		done
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '%s\n' "$*"; }
die() { say "run-tarpit-bench: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (tarpitd drops to user nobody)"

# --- what we need --------------------------------------------------------
if [ -z "${TARPITD:-}" ]; then
	b="$top/_build/bench"
	mkdir -p "$b"
	if [ ! -f "$b/Makefile" ]; then
		(cd "$b" && "$top/configure" CFLAGS="-O2 -g") >"$work/configure.log" \
		    2>&1 || die "configure failed: see $work/configure.log"
	fi
	(make -C "$b/shared" && make -C "$b/tarpitd") >"$work/make.log" 2>&1 ||
	    { cat "$work/make.log"; die "make failed"; }
	TARPITD="$b/tarpitd/tarpitd"
fi
if [ -z "${BENCH_TARPIT:-}" ]; then
	BENCH_TARPIT="$work/bench_tarpit"
	gcc -O2 -g -Wall -Wextra -o "$BENCH_TARPIT" "$here/bench_tarpit.c" ||
	    die "cannot build bench_tarpit"
fi
if [ -z "${ENDLESSH:-}" ]; then
	ENDLESSH=$(command -v endlessh || true)
	if [ -z "$ENDLESSH" ]; then
		apt-get install -y endlessh >"$work/apt.log" 2>&1 ||
		    die "no endlessh, and apt-get install endlessh failed"
		ENDLESSH=$(command -v endlessh)
	fi
fi

# --- helpers -------------------------------------------------------------
# A free TCP port on loopback.
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

# Field of /proc/PID/status, in kB.
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
# Field of /proc/PID/smaps_rollup, in kB.
rollup_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/smaps_rollup"; }
# utime + stime in clock ticks (all threads).
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
# ListenOverflows of the network namespace: connections the kernel could
# not queue because a listener's accept queue was full (the client's SYN
# or ACK is dropped and it retries 1 s, 3 s, 7 s ... later).
overflows() {
	awk '/^TcpExt:/ { if (!h) { split($0, k); h = 1; next }
		for (i = 2; i <= NF; i++) if (k[i] == "ListenOverflows") print $i }' \
	    /proc/net/netstat
}
# CPU ticks of each thread of PID: "tid:ticks ...".
thread_ticks() {
	local t
	for t in /proc/"$1"/task/*; do
		printf '%s:%s ' "${t##*/}" "$(sed 's/.*) //' "$t/stat" |
		    awk '{ print $12 + $13 }')"
	done
}
fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
alive() { kill -0 "$1" 2>/dev/null; }

# Server sockets of local PORT, established: "count r f w t", bytes
# summed over them, from the skmem fields of ss -tmn.
skmem() {
	ss -tmnH state established "( sport = :$1 )" 2>/dev/null |
	    grep -o 'skmem:([^)]*)' | awk '
		{ n++; s = substr($0, 7, length($0) - 7)
		  k = split(s, f, ",")
		  for (i = 1; i <= k; i++) {
			if (f[i] ~ /^r[0-9]/) r += substr(f[i], 2)
			else if (f[i] ~ /^f[0-9]/) fa += substr(f[i], 2)
			else if (f[i] ~ /^w[0-9]/) w += substr(f[i], 2)
			else if (f[i] ~ /^t[0-9]/) t += substr(f[i], 2)
		  } }
		END { printf "%d %d %d %d %d\n", n, r, fa, w, t }'
}

# The number after KEY= in the newest totals line of tarpitd PID, which
# logs to LOG (SIGUSR1 asks for one); -1 if none came in 3 s.
totals_of() {
	local pid=$1 log=$2 key=$3 n0 line
	n0=$(grep -c ' totals ' "$log")
	kill -USR1 "$pid"
	for _ in $(seq 30); do
		[ "$(grep -c ' totals ' "$log")" -gt "$n0" ] && break
		sleep 0.1
	done
	line=$(grep ' totals ' "$log" | tail -1)
	[ -n "$line" ] || { echo -1; return; }
	echo "$line" | tr ' ' '\n' | awk -F= -v k="$key" '$1 == k { v = $2 }
	    END { print v == "" ? -1 : v }'
}

# Wait until tarpitd PID (log LOG) has written what its sessions queued:
# store_written the same twice, a second apart (at most 60 s).
settle_store() {
	local a b
	a=$(totals_of "$1" "$2" store_written)
	for _ in $(seq 60); do
		sleep 1
		b=$(totals_of "$1" "$2" store_written)
		[ "$a" = "$b" ] && return
		a=$b
	done
	say "  (the store queue did not settle in 60 s)"
}

# "VmRSS RssAnon Private_Dirty" of PID, kB.
mem() {
	echo "$(status_kb "$1" VmRSS) $(status_kb "$1" RssAnon)" \
	    "$(rollup_kb "$1" Private_Dirty)"
}

# A tarpitd configuration: port, workers, file.
tarpit_conf() {
	# tarpitd makes the store folder (for its user) itself.
	cat >"$3" <<EOF
[tarpitd]
listen = 127.0.0.1:$1
hostname = tarpit.bench
greet_wait = 0
drip_interval = 10s
max_hold = 2h
max_clients = 1000000
max_clients_per_net = 1000000
records_per_minute = 1000000
workers = $2
user = nobody
[store]
path = $work/store-$1/hits.lmdb
ttl = 30d
[log]
level = notice
EOF
}

# Wait until PORT accepts connections (at most 10 s).
wait_listen() {
	for _ in $(seq 100); do
		[ -n "$(ss -Htln "sport = :$1")" ] && return 0
		sleep 0.1
	done
	return 1
}

# Start NPROC hold processes, TOTAL connections over them, to PORT, for
# SECONDS, first source address 127.0.0.SRC; their pids go to loadpids,
# their outputs to $work/TAG.N.
start_load() {
	local nproc=$1 total=$2 port=$3 seconds=$4 src=$5 tag=$6 j n
	loadpids=()
	for ((j = 0; j < nproc; j++)); do
		n=$((total / nproc + (j < total % nproc ? 1 : 0)))
		"$BENCH_TARPIT" hold 127.0.0.1 "$port" "$n" "$seconds" \
		    $((src + j)) >"$work/$tag.$j" 2>&1 &
		loadpids+=($!)
		pids+=($!)
	done
}

# Wait until every load process of TAG printed "ready" (at most 90 s).
wait_ready() {
	local tag=$1 nproc=$2
	for _ in $(seq 900); do
		[ "$(cat "$work/$tag".* 2>/dev/null | grep -c '^ready')" -ge "$nproc" ] &&
		    return 0
		sleep 0.1
	done
	return 1
}

# Wait for the load processes (at most $1 s), then kill what is left.
wait_load() {
	local p
	for _ in $(seq $(($1 * 10))); do
		local left=0
		for p in "${loadpids[@]}"; do alive "$p" && left=1; done
		[ $left = 0 ] && break
		sleep 0.1
	done
	for p in "${loadpids[@]}"; do
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
}

# Sum of key=VALUE over the "hold" lines of TAG.
sum_field() {
	cat "$work/$1".* | grep '^hold ' | tr ' ' '\n' |
	    awk -F= -v k="$2" '$1 == k { s += $2 } END { print s + 0 }'
}

show_load() {
	say "  load ($1):"
	cat "$work/$1".* | grep -v '^ready' | sed 's/^/    /'
}

stop_server() {
	local p=$1
	kill -TERM "$p" 2>/dev/null
	for _ in $(seq 100); do alive "$p" || break; sleep 0.1; done
	alive "$p" && { say "  (server $p did not stop in 10 s: killed)";
	    kill -KILL "$p"; }
	wait "$p" 2>/dev/null
}

# Held-connection measurement on server PID at PORT: HELD connections in
# two processes from SRC, held HOLD s; RSS before and after; CPU over
# WINDOW s if CPU=1. Sets per_conn_anon, per_conn_rss, cpu_ms_conn_hour.
measure_hold() {
	local pid=$1 port=$2 src=$3 tag=$4 hold=$5 cpu=$6
	local m0 m1 t0 t1 est held_fds fds0
	sleep 1
	m0=($(mem "$pid"))
	fds0=$(fds "$pid")
	local ov0=$(overflows)
	start_load 2 "$HELD" "$port" "$hold" "$src" "$tag"
	wait_ready "$tag" 2 || say "  (load not ready after 90 s)"
	cat "$work/$tag".* | grep '^ready' | sed 's/^/  /'
	say "  accept queue overflows while connecting: $(( $(overflows) - ov0 ))"
	sleep 3
	m1=($(mem "$pid"))
	held_fds=$(( $(fds "$pid") - fds0 ))
	local sk=($(skmem "$port"))
	say "  kernel, server sockets (ss -tmn skmem, ${sk[0]} established):" \
	    "r ${sk[1]} B, f ${sk[2]} B, w ${sk[3]} B, t ${sk[4]} B in all"
	per_conn_kernel=$(( sk[0] > 0 ? (sk[1] + sk[2] + sk[3]) / sk[0] : 0 ))
	say "  kernel per held connection (r + f + w): $per_conn_kernel B" \
	    "(t: $(( sk[0] > 0 ? sk[4] / sk[0] : 0 )) B)"
	est=$(cat "$work/$tag".* | grep '^ready' | tr ' ' '\n' |
	    awk -F= '$1 == "established" { s += $2 } END { print s + 0 }')
	say "  server descriptors: $fds0 idle, +$held_fds with the load"
	say "  memory kB (VmRSS RssAnon Private_Dirty): before ${m0[*]}," \
	    "held ${m1[*]}"
	[ "$held_fds" -gt 0 ] || { say "  !!! nothing held"; held_fds=1; }
	per_conn_rss=$(( (m1[0] - m0[0]) * 1024 / held_fds ))
	per_conn_anon=$(( (m1[1] - m0[1]) * 1024 / held_fds ))
	per_conn_dirty=$(( (m1[2] - m0[2]) * 1024 / held_fds ))
	say "  growth per held connection ($held_fds held, $est established):" \
	    "VmRSS $per_conn_rss B, RssAnon $per_conn_anon B," \
	    "Private_Dirty $per_conn_dirty B"
	if [ "$cpu" = 1 ]; then
		t0=$(cpu_ticks "$pid")
		local w0=$(date +%s.%N)
		sleep "$WINDOW"
		t1=$(cpu_ticks "$pid")
		local w1=$(date +%s.%N)
		local still=$(( $(fds "$pid") - fds0 ))
		cpu_ms_conn_hour=$(awk -v t=$((t1 - t0)) -v hz="$HZ" \
		    -v n="$held_fds" -v w0="$w0" -v w1="$w1" 'BEGIN {
			w = w1 - w0; cpu = t / hz
			printf "%.2f", cpu * 1000 / (n * w / 3600) }')
		say "  CPU: $((t1 - t0)) ticks (${HZ}/s) in $(awk -v a="$w0" \
		    -v b="$w1" 'BEGIN { printf "%.1f", b - a }') s with $held_fds" \
		    "held ($still at the end): $cpu_ms_conn_hour ms per" \
		    "connection-hour"
	fi
	wait_load $((hold + 70))
	show_load "$tag"
	alive "$pid" || say "  !!! server $pid is gone"
}

# --- the machine ---------------------------------------------------------
say "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -r), open files $(ulimit -Sn)/$(ulimit -Hn)"
say "sysctl (read only): $(sysctl -n net.core.somaxconn) somaxconn," \
    "ports $(sysctl -n net.ipv4.ip_local_port_range | tr '\t' '-')," \
    "syn backlog $(sysctl -n net.ipv4.tcp_max_syn_backlog)," \
    "tw_reuse $(sysctl -n net.ipv4.tcp_tw_reuse)," \
    "conntrack $(cat /proc/sys/net/netfilter/nf_conntrack_count 2>/dev/null || echo -)/$(sysctl -n net.netfilter.nf_conntrack_max 2>/dev/null || echo -)"
say "tarpitd: $TARPITD"
say "endlessh: $ENDLESSH ($(dpkg-query -W -f '${Version}' endlessh 2>/dev/null))"
say "held per server: $HELD in 2 load processes; CPU window $WINDOW s; drip 10 s"
say ""

# --- 1. tarpitd, one worker -----------------------------------------------
# Start tarpitd BIN with config file $2, log $3; sets tp.
start_tarpitd() {
	"$1" -c "$2" -f >"$3" 2>&1 &
	tp=$!
	pids+=($tp)
	wait_listen "$port" || { cat "$3"; die "tarpitd did not start"; }
}

# Everything of section 1 for tarpitd BIN under the name NAME (a word);
# the figures go to the arrays below, by NAME.
declare -A r_cold r_warm r_cpu r_kernel r_fresh r_flood r_idle r_rate \
    r_events r_rate_events
tarpit_round() {
	local bin=$1 name=$2 w0 s0 w1 s1 m
	port=$(free_port)
	tarpit_conf "$port" 1 "$work/tarpitd.conf"
	start_tarpitd "$bin" "$work/tarpitd.conf" "$work/$name-cold.log"
	say "== tarpitd $name: $bin (workers = 1, port $port)"
	say "-- cold: a fresh process (pid $tp), $HELD held for 5 s"
	measure_hold "$tp" "$port" 10 tcold 5 0
	r_cold[$name]=$per_conn_anon
	stop_server "$tp"
	grep -v ' totals ' "$work/$name-cold.log" | sed 's/^/  log: /' | tail -20

	start_tarpitd "$bin" "$work/tarpitd.conf" "$work/$name.log"
	sleep 1
	m=($(mem "$tp"))
	r_fresh[$name]="${m[0]} ${m[1]}"
	say "-- short sessions: another fresh process (pid $tp; VmRSS, RssAnon" \
	    "${m[0]} ${m[1]} kB), 15 s, 64 at a time, one load process"
	"$BENCH_TARPIT" rate 127.0.0.1 "$port" 15 64 200 >"$work/rate" 2>&1 &
	rp=$!
	pids+=($rp)
	r0=$(cpu_ticks "$tp")
	th0=$(thread_ticks "$tp")
	wait "$rp"
	r1=$(cpu_ticks "$tp")
	th1=$(thread_ticks "$tp")
	m=($(mem "$tp"))
	r_flood[$name]="${m[0]} ${m[1]}"
	sed 's/^/  /' "$work/rate"
	say "  tarpitd threads, CPU ticks before -> after (main loop first, then the store writer): $th0-> $th1"
	r_rate[$name]=$(tr ' ' '\n' <"$work/rate" | awk -F= '$1 == "sessions_per_s" { print $2 }')
	say "  tarpitd CPU during the rate run: $(awk -v t=$((r1 - r0)) -v hz="$HZ" 'BEGIN { printf "%.1f", t / hz }') s of 15 s"
	say "  memory kB (VmRSS RssAnon): right after the flood ${m[*]}"
	sleep "$IDLE"
	m=($(mem "$tp"))
	r_idle[$name]="${m[0]} ${m[1]}"
	say "  memory kB (VmRSS RssAnon): after $IDLE s idle ${m[*]}"
	settle_store "$tp" "$work/$name.log"
	w0=$(totals_of "$tp" "$work/$name.log" store_written)
	s0=$(totals_of "$tp" "$work/$name.log" sessions)
	r_rate_events[$name]=$(awk -v w="$w0" -v s="$s0" 'BEGIN {
	    if (s > 0) printf "%.3f", w / s; else print "-" }')
	say "  store events: $w0 written for $s0 sessions" \
	    "(${r_rate_events[$name]} a session; 16 source networks, the rest" \
	    "known: their one event at the end)"
	alive "$tp" || say "  !!! tarpitd is gone"

	say "-- warm: the same process, $HELD held, CPU over $WINDOW s"
	measure_hold "$tp" "$port" 20 twarm $((WINDOW + 10)) 1
	r_warm[$name]=$per_conn_anon
	r_cpu[$name]=$cpu_ms_conn_hour
	r_kernel[$name]=$per_conn_kernel

	say "-- store events: $EVENTS sessions, each from a new network, held 3 s"
	settle_store "$tp" "$work/$name.log"
	w0=$(totals_of "$tp" "$work/$name.log" store_written)
	s0=$(totals_of "$tp" "$work/$name.log" sessions)
	start_load "$EVENTS" "$EVENTS" "$port" 3 100 tev
	wait_load 30
	settle_store "$tp" "$work/$name.log"
	w1=$(totals_of "$tp" "$work/$name.log" store_written)
	s1=$(totals_of "$tp" "$work/$name.log" sessions)
	r_events[$name]=$(awk -v w=$((w1 - w0)) -v s=$((s1 - s0)) 'BEGIN {
	    if (s > 0) printf "%.2f", w / s; else print "-" }')
	say "  $((w1 - w0)) store events for $((s1 - s0)) sessions:" \
	    "${r_events[$name]} a session"
	stop_server "$tp"
	grep -v ' totals ' "$work/$name.log" | sed 's/^/  log: /' | tail -20
	say ""
}

# --- 2. endlessh ---------------------------------------------------------
declare -a eh_anons eh_cpus eh_kernels
endlessh_round() {
	eport=$(free_port)
	"$ENDLESSH" -p "$eport" -d 10000 -m 25000 -4 >"$work/endlessh.log" 2>&1 &
	ep=$!
	pids+=($ep)
	wait_listen "$eport" || die "endlessh did not start"
	say "== endlessh -p $eport -d 10000 -m 25000 -4 (pid $ep; 1.1 has no -b: it listens on 0.0.0.0)"
	measure_hold "$ep" "$eport" 30 eh $((WINDOW + 10)) 1
	eh_anons+=($per_conn_anon)
	eh_cpus+=($cpu_ms_conn_hour)
	eh_kernels+=($per_conn_kernel)
	stop_server "$ep"
	say ""
}

names=()
[ -n "${TARPITD_BEFORE:-}" ] && names+=(before)
names+=(after)
declare -A bins=([before]="${TARPITD_BEFORE:-}" [after]="$TARPITD")
declare -A all_cold all_warm all_cpu all_kernel all_events
for ((round = 1; round <= ROUNDS; round++)); do
	say "######## round $round of $ROUNDS (load: $(cut -d' ' -f1-3 /proc/loadavg))"
	for n in "${names[@]}"; do
		tarpit_round "${bins[$n]}" "$n"
		all_cold[$n]+="${r_cold[$n]} "
		all_warm[$n]+="${r_warm[$n]} "
		all_cpu[$n]+="${r_cpu[$n]} "
		all_kernel[$n]+="${r_kernel[$n]} "
		all_events[$n]+="${r_events[$n]} "
	done
	endlessh_round
done

# --- 3. tarpitd, six workers, BIG held ------------------------------------
big_round() {
	bport=$(free_port)
	tarpit_conf "$bport" 6 "$work/tarpitd6.conf"
	"$TARPITD" -c "$work/tarpitd6.conf" -f >"$work/tarpitd6.log" 2>&1 &
	bp=$!
	pids+=($bp)
	wait_listen "$bport" || { cat "$work/tarpitd6.log"; die "tarpitd (6) did not start"; }
	sleep 1
	workers=$(pgrep -P "$bp" | tr '\n' ' ')
	say "== tarpitd (workers = 6, port $bport, parent $bp, workers $workers)"
	all="$bp $workers"
	sum_mem() {
		local p v=0 a=0 s=0
		for p in $all; do
			v=$((v + $(status_kb "$p" VmRSS)))
			a=$((a + $(status_kb "$p" RssAnon)))
			s=$((s + $(rollup_kb "$p" Pss)))
		done
		echo "$v $a $s"
	}
	b0=($(sum_mem))
	idle_fds=0
	for p in $workers; do idle_fds=$((idle_fds + $(fds "$p"))); done
	ov0=$(overflows)
	start_load 8 "$BIG" "$bport" 20 40 big
	wait_ready big 8 || say "  (load not ready after 90 s)"
	cat "$work"/big.* | grep '^ready' | sed 's/^/  /'
	say "  accept queue overflows while connecting: $(( $(overflows) - ov0 ))"
	sleep 5
	b1=($(sum_mem))
	held=0
	for p in $workers; do
		n=$(fds "$p")
		say "  worker $p: $n descriptors, VmRSS $(status_kb "$p" VmRSS) kB"
		held=$((held + n))
	done
	say "  descriptors in the workers: $held, $idle_fds of them before the load: $((held - idle_fds)) clients held"
	say "  all tarpitd processes, kB (sum VmRSS, sum RssAnon, sum Pss): idle ${b0[*]}, held ${b1[*]}"
	wait_load 90
	show_load big
	big_est=$(sum_field big established)
	big_open=$(sum_field big open_at_end)
	big_250=$(sum_field big got_250)
	alive "$bp" || say "  !!! tarpitd (6) is gone"
	for p in $workers; do alive "$p" || say "  !!! worker $p is gone"; done
	stop_server "$bp"
	sed 's/^/  log: /' "$work/tarpitd6.log" | tail -20
	say ""
}
big_est=- big_open=- big_250=- b1=(- - -)
[ "$BIG" -gt 0 ] && big_round

# --- summary -------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
say "== summary (the last round; every round's figures in brackets)"
say "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
eh_last=$((${#eh_anons[@]} - 1))
head="| figure |"
for n in "${names[@]}"; do head+=" tarpitd $n |"; done
say "$head endlessh |"
row() {
	local eh=$4 line="| $1 |" n
	local -n a=$2 al=$3
	for n in "${names[@]}"; do
		line+=" ${a[$n]} [${al[$n]% }] |"
	done
	say "$line $eh |"
}
row "RssAnon B per held connection, warm" r_warm all_warm "${eh_anons[$eh_last]} [${eh_anons[*]}]"
row "RssAnon B per held connection, fresh process" r_cold all_cold "-"
row "CPU ms per connection-hour, 10 s drip" r_cpu all_cpu "${eh_cpus[$eh_last]} [${eh_cpus[*]}]"
row "kernel B per held connection (skmem r + f + w)" r_kernel all_kernel "${eh_kernels[$eh_last]} [${eh_kernels[*]}]"
row "store events per session (new networks)" r_events all_events "-"
for n in "${names[@]}"; do
	say "tarpitd $n: ratio warm/endlessh $(ratio "${r_warm[$n]}" "${eh_anons[$eh_last]}")," \
	    "fresh/endlessh $(ratio "${r_cold[$n]}" "${eh_anons[$eh_last]}")," \
	    "CPU $(ratio "${r_cpu[$n]}" "${eh_cpus[$eh_last]}");" \
	    "process kB (VmRSS RssAnon): fresh ${r_fresh[$n]}, after the flood" \
	    "${r_flood[$n]}, idle ${r_idle[$n]};" \
	    "short sessions ${r_rate[$n]}/s, ${r_rate_events[$n]} store events a session"
done
if [ "$BIG" -gt 0 ]; then
	say "workers = 6: $big_est of $BIG established, $big_250 got a 250- drip line," \
	    "$big_open open when the load closed them; all tarpitd processes" \
	    "${b1[0]} kB VmRSS, ${b1[2]} kB Pss"
fi
