#!/bin/bash
# run-flood-bench.sh - issue 12: no flood, slow peer or stalled log stops
# the tar pit. Runs tarpitd on loopback under four scenarios and prints
# a table for each: does the drip stay on time, does a new client still
# get its greeting at once, what does the abuse cost in log bytes, store
# records, CPU and memory. Prints numbers; not a test.
#
# Usage: bench/run-flood-bench.sh   (as root; about 4½ minutes, 8½
#        with TARPITD_OLD; DURATION=15 for a quick look)
#   Environment, all optional:
#     TARPITD=path        tarpitd to run (default: build an -O2 copy in
#                         _build/bench-flood, configured CFLAGS="-O2 -g")
#     TARPITD_OLD=path    a second tarpitd (an older commit's build):
#                         every scenario runs on both, side by side
#     LABEL, LABEL_OLD    column names for TARPITD and TARPITD_OLD
#                         (default new, old), e.g. commit ids
#     SLOWSPAMCTL=path    to count store records (default: the one next
#                         to TARPITD, ../slowspamctl/slowspamctl, or the
#                         one built with it); SLOWSPAMCTL_OLD likewise
#     BENCH_FLOOD=path    the load program (default: gcc -O2 of
#                         bench/bench_flood.c into the work folder)
#     DURATION=60         seconds of load in each scenario
#     SCENARIOS="A B C D" which to run, in this order (E also exists:
#                         see below; not run by default)
#     HELD=1000           held clients (one load process, 127.0.0.20)
#     PROBE_MS=100        a probe connection every PROBE_MS (127.0.0.21)
#     FLOOD_RATE=12000    connect-and-reset attempts per second, in all
#     FLOOD_PROCS=2       flood processes; process j floods from
#                         127.(1+j).0.0/16 (65,536 /32s, 256 /24s each)
#     FLOOD_NICE=10       their nice value: a real flood's clients are not
#                         on the tar pit's CPU, so here they yield to it
#                         and to the measuring clients
#     SILENT_PER_S=10     D: new silent metrics connections per second
#     SILENT_KEEP=5       D: seconds each is kept open (127.0.0.22)
#     ADDR=127.0.0.12     where tarpitd listens (a free port is picked)
#
# Each scenario starts a fresh tarpitd -f (workers 1, greet_wait 1s,
# drip_interval 1s, max_hold DURATION + 10 min, max_clients 16000,
# max_clients_per_net HELD + 1000, event_log and metrics_listen set, an
# LMDB store in the work folder, log level info: one "session" line per
# session on stderr), opens HELD clients that send EHLO after the final
# 220 and read the drip, and once they drip starts for DURATION s:
#   A  baseline: the held clients and the probe only
#   B  A plus the connect-and-reset flood (FLOOD_RATE/s, RST after
#      connect); tarpitd's stderr goes to a file
#   C  B with tarpitd's stderr a FIFO whose reader (a sleep) never
#      reads: the pipe fills after 64 KiB
#   D  A plus SILENT_PER_S new silent connections a second to
#      metrics_listen, each kept SILENT_KEEP s
#   E  C, but each flood connection sends EHLO before its reset and
#      the new tarpitd records every session (records_per_minute = 0):
#      a log line and an event-log line each, the pipe stalled, so the
#      log queue's drops are what keeps the loop going
# Measured: drip lateness (each 250- line's gap minus drip_interval, all
# held clients; a line overdue by half an interval at the end counts
# with its open gap, so a tar pit that stopped shows), probe time to
# first byte (connect start to the first byte of the 220- teaser;
# unanswered probes count with the time they waited), the flood's
# achieved rate, bytes of stderr and event log, store records afterwards
# (slowspamctl list), tarpitd CPU over the load, peak RSS (VmHWM), and a
# metrics scrape after the load (sessions started, store events
# dropped). The machine is shared: the CPU busy share of the whole
# machine during each scenario is printed; load from outside this run
# shows there.
# Only 127.0.0.0/8 is ever used. Every load process is bounded in time;
# every process started here is stopped on exit, Ctrl-C or failure.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
DURATION=${DURATION:-60}
SCENARIOS=${SCENARIOS:-A B C D}
HELD=${HELD:-1000}
PROBE_MS=${PROBE_MS:-100}
FLOOD_RATE=${FLOOD_RATE:-12000}
FLOOD_PROCS=${FLOOD_PROCS:-2}
FLOOD_NICE=${FLOOD_NICE:-10}
SILENT_PER_S=${SILENT_PER_S:-10}
SILENT_KEEP=${SILENT_KEEP:-5}
ADDR=${ADDR:-127.0.0.12}
HZ=$(getconf CLK_TCK)

say() { printf '%s\n' "$*"; }
die() { say "run-flood-bench: $*" >&2; exit 1; }

case $ADDR in
127.*) ;;
*) die "ADDR must be in 127.0.0.0/8" ;;
esac

work=$(mktemp -d /tmp/flood-bench.XXXXXX)
chmod 755 "$work"	# the tar pit user must reach its store below it
pids=()

cleanup() {
	local p
	for p in "${pids[@]}"; do
		for c in $(pgrep -P "$p" 2>/dev/null); do
			kill -KILL "$c" 2>/dev/null
		done
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
# forget PID...: reaped, so no longer ours to kill (pids get reused).
forget() {
	local keep=() p q
	for p in "${pids[@]}"; do
		for q in "$@"; do [ "$p" = "$q" ] && continue 2; done
		keep+=("$p")
	done
	pids=("${keep[@]}")
}

[ "$(id -u)" = 0 ] || die "run as root (tarpitd drops to user nobody)"

# --- what we need --------------------------------------------------------
if [ -z "${TARPITD:-}" ]; then
	b="$top/_build/bench-flood"
	mkdir -p "$b"
	if [ ! -f "$b/Makefile" ]; then
		(cd "$b" && "$top/configure" CFLAGS="-O2 -g") >"$work/configure.log" \
		    2>&1 || die "configure failed: see $work/configure.log"
	fi
	(make -C "$b/shared" && make -C "$b/tarpitd" &&
	    make -C "$b/slowspamctl") >"$work/make.log" 2>&1 ||
	    { cat "$work/make.log"; die "make failed"; }
	TARPITD="$b/tarpitd/tarpitd"
fi
# The slowspamctl of a build: next to its tarpitd, or the given one.
ctl_for() {
	local c
	c="$(dirname "$1")/../slowspamctl/slowspamctl"
	if [ -x "$c" ]; then echo "$c"; else echo ""; fi
}
SLOWSPAMCTL=${SLOWSPAMCTL:-$(ctl_for "$TARPITD")}
[ -x "$TARPITD" ] || die "no tarpitd at $TARPITD"
[ -n "$SLOWSPAMCTL" ] || die "no slowspamctl next to $TARPITD: set SLOWSPAMCTL"
bins=(new)
bin_new=$TARPITD
ctl_new=$SLOWSPAMCTL
if [ -n "${TARPITD_OLD:-}" ]; then
	[ -x "$TARPITD_OLD" ] || die "no tarpitd at $TARPITD_OLD"
	bins+=(old)
	bin_old=$TARPITD_OLD
	ctl_old=${SLOWSPAMCTL_OLD:-$(ctl_for "$TARPITD_OLD")}
	[ -n "$ctl_old" ] || ctl_old=$SLOWSPAMCTL
fi
if [ -z "${BENCH_FLOOD:-}" ]; then
	BENCH_FLOOD="$work/bench_flood"
	gcc -O2 -g -Wall -Wextra -o "$BENCH_FLOOD" "$here/bench_flood.c" ||
	    die "cannot build bench_flood"
fi

# --- helpers -------------------------------------------------------------
free_port() {
	local p
	for _ in $(seq 200); do
		p=$((20000 + RANDOM % 10000))
		if [ -z "$(ss -Htan "sport = :$p" 2>/dev/null)" ] &&
		    [ -z "$(ss -Htan "sport = :$((p + 1))" 2>/dev/null)" ]; then
			echo "$p"
			return
		fi
	done
	die "no free port"
}
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null; }
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'; }
alive() { kill -0 "$1" 2>/dev/null; }
fsize() { stat -c %s "$1" 2>/dev/null || echo 0; }
overflows() {
	awk '/^TcpExt:/ { if (!h) { split($0, k); h = 1; next }
		for (i = 2; i <= NF; i++) if (k[i] == "ListenOverflows") print $i }' \
	    /proc/net/netstat
}
# "busy total" jiffies of the whole machine.
# (user nice system idle iowait irq softirq steal; guest is in user).
machine_ticks() {
	awk '/^cpu / { t = 0; for (i = 2; i <= 9; i++) t += $i;
		print t - $5 - $6 - $9, t }' /proc/stat
}
wait_listen() {
	for _ in $(seq 100); do
		[ -n "$(ss -Htln "src $ADDR:$1")" ] && return 0
		sleep 0.1
	done
	return 1
}
# key=VALUE of the first line of FILE starting with WORD.
field() {
	grep "^$2 " "$1" 2>/dev/null | head -n 1 | tr ' ' '\n' |
	    awk -F= -v k="$3" '$1 == k { print $2; exit }'
}
# Sum of key=VALUE over the lines starting with WORD of FILEs.
sum_field() {
	local word=$1 key=$2
	shift 2
	cat "$@" 2>/dev/null | grep "^$word " | tr ' ' '\n' |
	    awk -F= -v k="$key" '$1 == k { s += $2 } END { printf "%.0f\n", s }'
}
# A sample of a metrics scrape.
metric() {
	awk -v k="$2" '$1 == k { print $2; exit }' "$1" 2>/dev/null
}
# Bytes waiting unread in FIFO (FIONREAD on a second, never-reading end).
fifo_unread() {
	python3 - "$1" <<'EOF' 2>/dev/null || echo "?"
import array, fcntl, os, sys, termios
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
buf = array.array("i", [0])
fcntl.ioctl(fd, termios.FIONREAD, buf, True)
print(buf[0])
EOF
}

# A tarpitd configuration: file, port, metrics port, folder.
tarpit_conf() {
	cat >"$1" <<EOF
[tarpitd]
listen = $ADDR:$2
hostname = tarpit.bench
greet_wait = 1s
drip_interval = 1s
max_hold = $((DURATION + 600))s
max_clients = 16000
max_clients_per_net = $((HELD + 1000))
workers = 1
user = nobody
event_log = $4/events.jsonl
metrics_listen = $ADDR:$3
${5:-}
[store]
path = $4/store/hits.lmdb
ttl = 30d
[log]
level = info
EOF
}

# Wait for PIDs (at most $1 s), then kill what is left.
wait_pids() {
	local limit=$1 p left
	shift
	for _ in $(seq $((limit * 10))); do
		left=0
		for p in "$@"; do alive "$p" && left=1; done
		[ $left = 0 ] && break
		sleep 0.1
	done
	for p in "$@"; do
		alive "$p" && say "  (load process $p still running: killed)"
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	forget "$@"
}

stop_pid() {
	local p=$1 limit=$2
	kill -TERM "$p" 2>/dev/null
	for _ in $(seq $((limit * 10))); do alive "$p" || break; sleep 0.1; done
	if alive "$p"; then
		kill -KILL "$p" 2>/dev/null
		say "  (process $p did not stop on SIGTERM in $limit s: killed)"
	fi
	wait "$p" 2>/dev/null
	forget "$p"
}

# run_scenario S TAG: scenario S on binary TAG (new or old); results as
# key=value lines in $work/res.TAG.S.
run_scenario() {
	local s=$1 tag=$2 bin ctl d port mport tp reader="" res
	local loads=() j t0 t1 m0 m1 ov0 w0 w1 stop_limit=10 scraped
	eval "bin=\$bin_$tag; ctl=\$ctl_$tag"
	d="$work/$tag-$s"
	res="$work/res.$tag.$s"
	mkdir -p "$d"
	chmod 755 "$d"
	port=$(free_port)
	mport=$((port + 1))
	# E: the new tarpitd records every session (the old one always did).
	if [ "$s" = E ] && [ "$tag" = new ]; then
		tarpit_conf "$d/tarpitd.conf" "$port" "$mport" "$d" \
		    "records_per_minute = 0"
	else
		tarpit_conf "$d/tarpitd.conf" "$port" "$mport" "$d"
	fi
	say "-- $s on $(label "$tag") ($bin), $ADDR:$port, metrics :$mport," \
	    "load average $(cut -d' ' -f1-3 /proc/loadavg)"
	if [ "$s" = C ] || [ "$s" = E ]; then
		mkfifo "$d/stderr.fifo"
		# Opens the read end (once tarpitd opens the write end), never reads.
		# shellcheck disable=SC2217
		sleep $((DURATION + 900)) <"$d/stderr.fifo" &
		reader=$!
		pids+=("$reader")
		"$bin" -c "$d/tarpitd.conf" -f >"$d/stdout" 2>"$d/stderr.fifo" &
		stop_limit=5
	else
		"$bin" -c "$d/tarpitd.conf" -f >"$d/stdout" 2>"$d/stderr" &
	fi
	tp=$!
	pids+=("$tp")
	if ! wait_listen "$port"; then
		cat "$d/stderr" 2>/dev/null
		die "tarpitd did not start"
	fi
	sleep 0.5

	"$BENCH_FLOOD" held "$ADDR" "$port" "$HELD" "$DURATION" 20 1000 \
	    >"$d/held" 2>&1 &
	local hp=$!
	pids+=("$hp")
	for _ in $(seq 700); do
		grep -q '^ready' "$d/held" && break
		alive "$hp" || break
		sleep 0.1
	done
	grep -q '^ready' "$d/held" || say "  !!! held clients not ready"

	ov0=$(overflows)
	read -ra m0 <<<"$(machine_ticks)"
	t0=$(cpu_ticks "$tp")
	w0=$(date +%s.%N)
	"$BENCH_FLOOD" probe "$ADDR" "$port" "$DURATION" "$PROBE_MS" 21 \
	    >"$d/probe" 2>&1 &
	loads+=($!)
	if [ "$s" = B ] || [ "$s" = C ] || [ "$s" = E ]; then
		for ((j = 0; j < FLOOD_PROCS; j++)); do
			# shellcheck disable=SC2046
			nice -n "$FLOOD_NICE" "$BENCH_FLOOD" flood "$ADDR" "$port" \
			    "$DURATION" $(((FLOOD_RATE + FLOOD_PROCS - 1) /
			    FLOOD_PROCS)) $((1 + j)) $([ "$s" = E ] && echo speak) \
			    >"$d/flood.$j" 2>&1 &
			loads+=($!)
		done
	fi
	if [ "$s" = D ]; then
		"$BENCH_FLOOD" silent "$ADDR" "$mport" "$DURATION" \
		    "$SILENT_PER_S" "$SILENT_KEEP" 22 >"$d/silent" 2>&1 &
		loads+=($!)
	fi
	pids+=("${loads[@]}")
	wait_pids $((DURATION + 30)) "${loads[@]}" "$hp"
	t1=$(cpu_ticks "$tp")
	read -ra m1 <<<"$(machine_ticks)"
	w1=$(date +%s.%N)
	{
		echo "ov=$(( $(overflows) - ov0 ))"
		echo "busy=$(awk -v b=$((m1[0] - m0[0])) -v t=$((m1[1] - m0[1])) \
		    'BEGIN { if (t > 0) printf "%.0f", 100 * b / t; else print "-" }')"
		echo "cpu=$(awk -v t=$((${t1:-0} - ${t0:-0})) -v hz="$HZ" \
		    'BEGIN { printf "%.2f", t / hz }')"
		echo "wall=$(awk -v a="$w0" -v b="$w1" 'BEGIN { printf "%.1f", b - a }')"
		echo "hwm=$(status_kb "$tp" VmHWM)"
		# Where the event loop waits now: ep_poll when idle.
		echo "wchan=$(cat "/proc/$tp/wchan" 2>/dev/null || echo -)"
		echo "alive=$(alive "$tp" && echo yes || echo NO)"
	} >"$res"
	sleep 1
	if curl -s -m 3 "http://$ADDR:$mport/metrics" >"$d/metrics" 2>/dev/null
	then scraped=yes; else scraped=no; fi
	{
		echo "scraped=$scraped"
		echo "m_started=$(metric "$d/metrics" slowspam_tarpit_sessions_started_total)"
		echo "m_written=$(metric "$d/metrics" 'slowspam_store_events_total{result="written"}')"
		echo "m_dropped=$(metric "$d/metrics" 'slowspam_store_events_total{result="dropped"}')"
		echo "m_logdrop=$(metric "$d/metrics" 'slowspam_log_lines_dropped_total{dest="log"}')"
		echo "m_evdrop=$(metric "$d/metrics" 'slowspam_log_lines_dropped_total{dest="event_log"}')"
		echo "evlog=$(fsize "$d/events.jsonl")"
		if [ "$s" = C ] || [ "$s" = E ]; then
			echo "stderr=0"
			echo "unread=$(fifo_unread "$d/stderr.fifo")"
		else
			echo "stderr=$(fsize "$d/stderr")"
			echo "unread=-"
		fi
	} >>"$res"
	# The reader goes first: a tarpitd blocked writing to it gets EPIPE.
	if [ -n "$reader" ]; then
		kill -KILL "$reader" 2>/dev/null
		wait "$reader" 2>/dev/null
		forget "$reader"
	fi
	stop_pid "$tp" "$stop_limit"
	echo "records=$(timeout 120 "$ctl" -c "$d/tarpitd.conf" list 2>/dev/null |
	    wc -l)" >>"$res"
	# What the load processes printed.
	sed 's/^/  /' "$d/held" "$d/probe"
	case $s in B|C|E) sed 's/^/  /' "$d"/flood.* ;; esac
	[ "$s" = D ] && sed 's/^/  /' "$d/silent"
	if [ "$s" != C ] && [ "$s" != E ]; then
		grep -v ': info: session ' "$d/stderr" | tail -n 5 | sed 's/^/  log: /'
	fi
	{
		for k in late_p50_ms late_p99_ms late_max_ms late_n lines expected \
		    overdue_at_end stalled_at_end closed_by_server dripping; do
			echo "$k=$(field "$d/held" held "$k")"
		done
		for k in ttfb_p50_ms ttfb_p99_ms ttfb_max_ms started answered \
		    unanswered_at_end failed; do
			echo "p_$k=$(field "$d/probe" probe "$k")"
		done
		if [ "$s" = B ] || [ "$s" = C ] || [ "$s" = E ]; then
			echo "f_attempted=$(sum_field flood attempted "$d"/flood.*)"
			echo "f_done=$(sum_field flood reset_after_connect "$d"/flood.*)"
			echo "f_timedout=$(sum_field flood timed_out "$d"/flood.*)"
			echo "f_rate=$(sum_field flood achieved_per_s "$d"/flood.*)"
			echo "f_secs=$(field "$d/flood.0" flood seconds)"
		fi
		if [ "$s" = D ]; then
			for k in started connected server_closed we_closed failed; do
				echo "s_$k=$(field "$d/silent" silent "$k")"
			done
		fi
	} >>"$res"
	# The logs can be large: keep only what is printed.
	rm -f "$d/events.jsonl" "$d/stderr"
	rm -rf "$d/store"
}

# Value of KEY for TAG and scenario S, or "-".
v() {
	local x
	x=$(awk -F= -v k="$3" '$1 == k { print $2; exit }' "$work/res.$1.$2" 2>/dev/null)
	echo "${x:--}"
}
mb() {
	awk -v b="$1" 'BEGIN { if (b == "-" || b == "") print "-";
		else if (b < 1e6) printf "%.1f kB", b / 1e3;
		else printf "%.1f MB", b / 1e6 }'
}
per_s() { awk -v n="$1" -v s="$2" 'BEGIN { if (n == "-" || s == "-" || s == 0) print "-"; else printf "%.0f", n / s }'; }

# The name of a column: LABEL or LABEL_OLD, or the tag.
label() {
	if [ "$1" = new ]; then echo "${LABEL:-new}"; else echo "${LABEL_OLD:-old}"; fi
}
# One row: label, then one cell per column "TAG:S".
row() {
	local name=$1 f=$2 c
	shift 2
	printf '| %s |' "$name"
	for c in "$@"; do printf ' %s |' "$($f "${c%%:*}" "${c##*:}")"; done
	printf '\n'
}
# Figures that include open waits are lower bounds: marked so.
c_late() {
	local o
	o=$(v "$1" "$2" overdue_at_end)
	echo "$(v "$1" "$2" late_p50_ms) / $(v "$1" "$2" late_p99_ms) / $(v "$1" "$2" late_max_ms)$([ "$o" != - ] && [ "$o" -gt 0 ] && echo " (at least: $o overdue at the end)")"
}
c_lines() { echo "$(v "$1" "$2" lines) of ~$(v "$1" "$2" expected)"; }
c_stall() { echo "$(v "$1" "$2" stalled_at_end) / $(v "$1" "$2" closed_by_server)"; }
c_ttfb() {
	local u
	u=$(v "$1" "$2" p_unanswered_at_end)
	echo "$(v "$1" "$2" p_ttfb_p50_ms) / $(v "$1" "$2" p_ttfb_p99_ms) / $(v "$1" "$2" p_ttfb_max_ms)$([ "$u" != - ] && [ "$u" -gt 0 ] && echo " (at least: $u unanswered)")"
}
c_probes() { echo "$(v "$1" "$2" p_answered) of $(v "$1" "$2" p_started) ($(v "$1" "$2" p_unanswered_at_end) waiting)"; }
c_logdrop() {
	echo "$(v "$1" "$2" m_logdrop) / $(v "$1" "$2" m_evdrop)"
}

c_flood() {
	local s
	s=$(v "$1" "$2" f_secs)
	echo "$(per_s "$(v "$1" "$2" f_attempted)" "$s") / $(v "$1" "$2" f_rate) / $(per_s "$(v "$1" "$2" f_timedout)" "$s")"
}
c_started() {
	if [ "$(v "$1" "$2" scraped)" = yes ]; then v "$1" "$2" m_started
	else echo "no answer in 3 s"; fi
}
c_dropped() {
	if [ "$(v "$1" "$2" scraped)" = yes ]; then
		echo "$(v "$1" "$2" m_written) / $(v "$1" "$2" m_dropped)"
	else echo "no answer in 3 s"; fi
}
c_stderr() {
	local u
	u=$(v "$1" "$2" unread)
	if [ "$u" = - ]; then mb "$(v "$1" "$2" stderr)"
	else echo "0 read ($u B unread in the pipe)"; fi
}
c_evlog() { mb "$(v "$1" "$2" evlog)"; }
c_logs() {
	local a b
	a=$(v "$1" "$2" stderr)
	b=$(v "$1" "$2" evlog)
	[ "$a" = - ] && a=0
	[ "$b" = - ] && b=0
	mb $((a + b))
}
c_records() { v "$1" "$2" records; }
c_cpu() { echo "$(v "$1" "$2" cpu) s in $(v "$1" "$2" wall) s"; }
c_hwm() { echo "$(v "$1" "$2" hwm) kB"; }
c_busy() { echo "$(v "$1" "$2" busy) %"; }
c_ov() { v "$1" "$2" ov; }
c_alive() { v "$1" "$2" alive; }
c_wchan() { v "$1" "$2" wchan; }
c_silent() { echo "$(v "$1" "$2" s_connected) of $(v "$1" "$2" s_started) / $(v "$1" "$2" s_server_closed)"; }

# table S COLUMN...
table() {
	local s=$1 c
	shift
	say ""
	printf '| %s |' "$s_title"
	for c in "$@"; do printf ' %s |' "$(label "${c%%:*}") ${c##*:}"; done
	printf '\n|---|'
	for c in "$@"; do printf -- '---|'; done
	printf '\n'
	row "drip lateness p50 / p99 / max, ms" c_late "$@"
	row "drip lines received (held clients x s)" c_lines "$@"
	row "held clients stalled at end / closed by tarpitd" c_stall "$@"
	row "probe TTFB p50 / p99 / max, ms" c_ttfb "$@"
	row "probes answered" c_probes "$@"
	case " $* " in *:B\ *|*:C\ *|*:E\ *)
		row "flood attempted / connected+RST / timed out, per s" c_flood "$@"
		;;
	esac
	case " $* " in *:D\ *)
		row "silent metrics conns connected / closed by tarpitd first" c_silent "$@"
		;;
	esac
	row "sessions started (metrics after the load)" c_started "$@"
	row "store events written / dropped (metrics)" c_dropped "$@"
	row "log / event-log lines dropped, queue full (metrics)" c_logdrop "$@"
	row "stderr bytes" c_stderr "$@"
	row "event log bytes" c_evlog "$@"
	row "log output in all" c_logs "$@"
	row "store records afterwards" c_records "$@"
	row "tarpitd CPU over the load" c_cpu "$@"
	row "tarpitd peak RSS (VmHWM)" c_hwm "$@"
	row "ListenOverflows (whole machine)" c_ov "$@"
	row "machine CPU busy (2 cores, all processes)" c_busy "$@"
	row "tarpitd alive after the load" c_alive "$@"
	row "its main thread then waits in (wchan)" c_wchan "$@"
}

# --- run -----------------------------------------------------------------
say "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -r), open files $(ulimit -Sn)/$(ulimit -Hn), load average $(cut -d' ' -f1-3 /proc/loadavg)"
say "sysctl (read only): $(sysctl -n net.core.somaxconn) somaxconn," \
    "syn backlog $(sysctl -n net.ipv4.tcp_max_syn_backlog)," \
    "syncookies $(sysctl -n net.ipv4.tcp_syncookies)"
say "$(label new): $bin_new (ctl $ctl_new)"
[ -n "${bin_old:-}" ] && say "$(label old): $bin_old (ctl $ctl_old)"
say "scenarios $SCENARIOS, $DURATION s each; $HELD held, probe every $PROBE_MS ms;" \
    "flood $FLOOD_RATE/s from $FLOOD_PROCS processes (nice $FLOOD_NICE);" \
    "D: $SILENT_PER_S silent metrics conns/s kept $SILENT_KEEP s"
started_at=$(date +%s)
for s in $SCENARIOS; do
	case $s in
	A) s_title="A: baseline" ;;
	B) s_title="B: connect-and-reset flood" ;;
	C) s_title="C: flood, stderr stalled" ;;
	D) s_title="D: silent metrics connections" ;;
	E) s_title="E: speaking flood, every session recorded, stderr stalled" ;;
	*) die "unknown scenario $s" ;;
	esac
	say ""
	say "== $s_title"
	cols=()
	for tag in "${bins[@]}"; do
		run_scenario "$s" "$tag"
		cols+=("$tag:$s")
	done
	if [ "$s" = D ] && [ -f "$work/res.new.A" ]; then
		# D against the baseline of the same run.
		cols=()
		for tag in "${bins[@]}"; do cols+=("$tag:A" "$tag:D"); done
	fi
	table "$s" "${cols[@]}"
done

say ""
say "== summary (p99 / max, ms; log output; store records)"
printf '| binary | scenario | drip lateness | probe TTFB | log output | records |\n|---|---|---|---|---|---|\n'
for tag in "${bins[@]}"; do
	for s in $SCENARIOS; do
		printf '| %s | %s | %s / %s | %s / %s | %s | %s |\n' "$(label $tag)" "$s" \
		    "$(v $tag $s late_p99_ms)" "$(v $tag $s late_max_ms)" \
		    "$(v $tag $s p_ttfb_p99_ms)" "$(v $tag $s p_ttfb_max_ms)" \
		    "$(c_logs $tag $s)" "$(v $tag $s records)"
	done
done
say "run time: $(( $(date +%s) - started_at )) s"
