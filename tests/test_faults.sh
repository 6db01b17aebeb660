#!/bin/sh
# test_faults.sh - the real daemons under faults (issue 7): tarpitd out
# of descriptors; floods of instant and half-open clients; tarpitd killed
# with SIGKILL while it writes a store the milter shares; a full LMDB map
# and a full disk; SIGHUP and SIGUSR1 storms; the wall clock jumping a
# day back and forth (libfaketime). Each fault: no busy loop, no crash,
# no leak, no damaged store, and service goes on. Prints TAP.
#
# Margins: CPU while out of descriptors < 0.3 s in 3 s; after a flood or
# a storm the open descriptors are exactly as before and VmRSS within
# 1 MiB or 10% of the value after a warm-up with the same load (not in an
# ASan build: its quarantine keeps freed memory resident).
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
# shellcheck source=tests/lib.sh
. "$top_srcdir/tests/lib.sh"
real_tarpitd=$top_builddir/tarpitd/tarpitd
tarpitd=$real_tarpitd
milter=$top_builddir/milter/slowspam-milter
ctl=$top_builddir/slowspamctl/slowspamctl
storetool=$top_builddir/tests/storetool
loadgen=$top_builddir/bench/bench_milter_noop
client="$top_srcdir/tests/faultclient.py"
faketime_lib=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
need_cmds python3 miltertest mdb_load mdb_dump unshare nsenter
[ -x "$loadgen" ] || tap_skip "$loadgen is not built"
# Floods, CPU bounds and clock jumps mean nothing at valgrind's speed.
[ -z "${SLOWSPAM_VALGRIND:-}" ] || tap_skip "not under valgrind"
make_dir faults
export MT_LIB="$top_srcdir/tests/milter/lib.lua"

# An ASan build keeps freed memory in quarantine (up to 256 MB), so RSS
# says nothing there: those comparisons are skipped, and LeakSanitizer
# (run-test.sh) looks at every daemon that exits instead.
asan=
if grep -q '^SAN_CFLAGS = .*-fsanitize' "$top_builddir/Makefile" 2>/dev/null; then
	asan=yes
	# libfaketime is preloaded before the ASan runtime.
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
fi

# fc ARGS...: the client helper.
fc() {
	python3 "$client" "$@"
}

# skip_check NAME WHY: one check skipped, not the script.
skip_check() {
	tap_n=$((tap_n + 1))
	echo "ok $tap_n - $1 # SKIP $2"
}

# rss PID [FIELD], nfd PID, cpu PID: VmRSS (or FIELD) in kB, open
# descriptors, CPU ticks.
rss() {
	awk -v f="${2:-VmRSS}:" '$1 == f { print $2 }' "/proc/$1/status"
}
nfd() {
	find "/proc/$1/fd" -mindepth 1 -maxdepth 1 | wc -l
}
cpu() {
	sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# alive PID: running, not a zombie.
alive() {
	_st=$(ps -o stat= -p "$1" 2>/dev/null) && [ "${_st#Z}" = "$_st" ]
}

# rss_ok BEFORE AFTER: AFTER within max(1 MiB, 10%) of BEFORE (in kB);
# always true in an ASan build.
rss_ok() {
	[ -n "$asan" ] && return 0
	_m=$(($1 / 10))
	[ "$_m" -lt 1024 ] && _m=1024
	[ "$2" -le $(($1 + _m)) ]
}

# wrapper NAME PREFIX [LINE...]: an executable $dir/NAME that runs the
# LINEs, then execs PREFIX and the real tarpitd with its arguments (the
# same pid, for our checks); prints its path.
wrapper() {
	_w=$dir/$1 _pre=$2
	shift 2
	{
		echo '#!/bin/sh'
		for _l in "$@"; do
			echo "$_l"
		done
		echo "exec $_pre $real_tarpitd \"\$@\""
	} > "$_w"
	chmod 755 "$_w"
	echo "$_w"
}

# tp_start PROGRAM CONF LOG: tarpitd_start with that program (the real
# tarpitd or a wrapper); a failure to start shows LOG.
tp_start() {
	bail_logs=$3
	tarpitd=$1
	tarpitd_start "$2" "$3"
	tarpitd=$real_tarpitd
}

# tp_conf FILE PORT STORE EXTRA...: a tarpitd configuration.
tp_conf() {
	_f=$1 _p=$2 _s=$3
	shift 3
	{
		printf '[tarpitd]\nlisten = 127.0.0.1:%s\nhostname = tarpit.test\n' "$_p"
		printf 'user = nobody\n'
		for _l in "$@"; do
			echo "$_l"
		done
		printf '[store]\npath = %s\n' "$_s"
	} > "$_f"
}

# fds_are PID N: PID has N descriptors open (for wait_for).
# shellcheck disable=SC2317
fds_are() {
	[ "$(nfd "$1")" -eq "$2" ]
}

# stop_tp: SIGTERM the current tarpitd and wait for it.
stop_tp() {
	stop_pid "$tarpit_pid"
}

tap_plan 34

# --- 1. Out of descriptors: 300 clients against RLIMIT_NOFILE 64.
port=$(free_port 127.0.0.1) || bail "no free port"
tp_conf "$dir/f1.conf" "$port" "$dir/f1/hits.lmdb" "greet_wait = 200ms" \
	"drip_interval = 1s" "max_hold = 12s"
tp_start "$(wrapper nofile64 "" "ulimit -n 64")" "$dir/f1.conf" "$dir/f1.log"
fc hold "$port" 300 6 > "$dir/f1-hold.out" 2>&1 &
hold_pid=$!
wait_for 5 grep -q "not accepting for" "$dir/f1.log"
tap_ok "fds: out of descriptors, it says so" $? "$dir/f1.log"
c0=$(cpu "$tarpit_pid")
sleep 3
c1=$(cpu "$tarpit_pid")
hz=$(getconf CLK_TCK)
used=$((c1 - c0))
echo "# tarpitd CPU out of descriptors: $used ticks (of $hz/s) in 3 s"
if [ "$used" -lt $((hz * 3 / 10)) ]; then
	tap_ok "fds: no busy loop while out of descriptors" 0
else
	tap_fail "fds: no busy loop while out of descriptors" \
		"$used ticks in 3 s" "$dir/f1.log"
fi
wait "$hold_pid"
t0=$(now)
fc greet "$port" 127.0.1.1 220 > "$dir/f1-greet.out" 2>&1
tap_ok "fds: the flood gone, a new client is greeted" $? \
	"$dir/f1-greet.out" "$dir/f1.log"
echo "# recovery: greeted $(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }') s after the flood left"
alive "$tarpit_pid"
tap_ok "fds: still running" $? "$dir/f1.log"
stop_tp

# --- 2. Floods of instant and half-open clients: no leak.
port=$(free_port 127.0.0.1) || bail "no free port"
tp_conf "$dir/f2.conf" "$port" "$dir/f2/hits.lmdb" "greet_wait = 100ms" \
	"drip_interval = 200ms" "max_hold = 2s"
tp_start "$real_tarpitd" "$dir/f2.conf" "$dir/f2.log"
fd0=$(nfd "$tarpit_pid")
flood() {
	fc churn "$port" 1000 > "$dir/f2-churn.out" 2>&1
	fc halfopen "$port" 450 1 > "$dir/f2-half.out" 2>&1
	wait_for 20 fds_are "$tarpit_pid" "$fd0"
}
flood
tap_ok "flood: descriptors back after the first flood ($(nfd "$tarpit_pid") of $fd0)" $? \
	"$dir/f2-churn.out" "$dir/f2-half.out" "$dir/f2.log"
# Warm up: what a flood touches once stays resident (the client slots
# of the descriptors it used, malloc's arenas; the store queue maps only
# what is waiting and gives it back), so what is measured next is what
# a flood leaves.
fc churn "$port" 9000 > "$dir/f2-churn.out" 2>&1
flood
rss1=$(rss "$tarpit_pid") anon1=$(rss "$tarpit_pid" RssAnon)
flood
flood
fd2=$(nfd "$tarpit_pid")
rss2=$(rss "$tarpit_pid") anon2=$(rss "$tarpit_pid" RssAnon)
echo "# flood: fds $fd0 -> $fd2; VmRSS $rss1 kB after the warm-up, $rss2 kB after two floods more (RssAnon $anon1 -> $anon2 kB)"
[ "$fd2" -eq "$fd0" ]
tap_ok "flood: descriptors exactly back after three floods" $? "$dir/f2.log"
if [ -n "$asan" ]; then
	skip_check "flood: VmRSS within the margin" "ASan quarantine"
else
	rss_ok "$rss1" "$rss2"
	tap_ok "flood: VmRSS within the margin" $?
fi
kill -USR1 "$tarpit_pid"
wait_for 5 grep -q "totals held_now=0 sessions=" "$dir/f2.log"
tap_ok "flood: no session left held" $? "$dir/f2.log"
sessions=$(sed -n 's/.*totals held_now=0 sessions=\([0-9]*\).*/\1/p' "$dir/f2.log" | tail -n 1)
echo "# flood: $sessions sessions ended"
stop_tp

# --- 3. SIGKILL while the store writer is busy; the milter shares the store.
port=$(free_port 127.0.0.1) || bail "no free port"
store3=$dir/f3/hits.lmdb
tp_conf "$dir/f3.conf" "$port" "$store3" "greet_wait = 0" \
	"drip_interval = 100ms" "max_hold = 1s"
cat >> "$dir/f3.conf" <<CONF
[milter]
trusted_networks = 192.0.2.1/32
spf = no
grace = 0
CONF
tp_start "$real_tarpitd" "$dir/f3.conf" "$dir/f3-0.log"
"$milter" -f -c "$dir/f3.conf" --socket "unix:$dir/m3.sock" 2>"$dir/m3.log" &
milter_pid=$!
track_pid "$milter_pid"
wait_for 5 test -S "$dir/m3.sock" || bail "the milter did not start"
"$loadgen" -l "unix:$dir/m3.sock" 9 2 > "$dir/f3-load.out" 2>&1 &
load_pid=$!
restarts_ok=0
for round in 1 2 3; do
	fc sessions "$port" 1.5 6 $((20 + round)) > "$dir/f3-sess-$round.out" 2>&1 &
	sess_pid=$!
	sleep 1.2
	kill -9 "$tarpit_pid"
	wait "$tarpit_pid" 2>/dev/null
	wait "$sess_pid"
	tp_start "$real_tarpitd" "$dir/f3.conf" "$dir/f3-$round.log"
	fc greet "$port" "127.0.3.$round" 220 > "$dir/f3-greet.out" 2>&1 &&
		restarts_ok=$((restarts_ok + 1))
done
cat "$dir"/f3-sess-*.out | sed 's/^/# kill: /'
[ "$restarts_ok" -eq 3 ]
tap_ok "kill -9: restarted three times, greeting each time" $? \
	"$dir/f3-greet.out" "$dir"/f3-*.log
wait "$load_pid"
tap_ok "kill -9: the milter answered every transaction meanwhile" $? \
	"$dir/f3-load.out" "$dir/m3.log"
sed 's/^/# milter load: /' "$dir/f3-load.out"
! grep -q "store unavailable" "$dir/m3.log" && alive "$milter_pid"
tap_ok "kill -9: the milter saw no store error" $? "$dir/m3.log"
stop_tp
mdb_dump -n -s hits "$store3" > "$dir/f3.dump" 2>"$dir/f3-dump.err"
tap_ok "kill -9: mdb_dump reads the whole store" $? "$dir/f3-dump.err"
"$ctl" -c "$dir/f3.conf" list > "$dir/f3-list.out" 2>"$dir/f3-list.err"
st=$?
n3=$(wc -l < "$dir/f3-list.out")
echo "# kill: $n3 records after three kills"
[ "$st" -eq 0 ] && [ ! -s "$dir/f3-list.err" ] && [ "$n3" -gt 10 ] &&
	grep -q '^127\.21\.0\.1/32 tarpit_sessions=' "$dir/f3-list.out"
tap_ok "kill -9: slowspamctl list reads every record, none damaged" $? \
	"$dir/f3-list.err"
"$ctl" -c "$dir/f3.conf" lookup 127.0.0.1 > "$dir/f3-lookup.out" 2>&1 &&
	grep -q "primary_sessions=[1-9]" "$dir/f3-lookup.out"
tap_ok "kill -9: lookup of the milter's client works" $? "$dir/f3-lookup.out"

# --- 4a. The LMDB map full at the smallest map_size.
port=$(free_port 127.0.0.1) || bail "no free port"
store4=$dir/f4/hits.lmdb
tp_conf "$dir/f4.conf" "$port" "$store4" "greet_wait = 100ms" \
	"drip_interval = 200ms" "max_hold = 1500ms"
echo "map_size = 16M" >> "$dir/f4.conf"
"$storetool" "$store4" tarpit 192.0.2.4/32 now >/dev/null || bail "storetool"
chown -R nobody "$dir/f4"
# More records than 16 MiB holds: mdb_load stops when the map is full.
fc dump 130000 "$(date +%s%3N)" > "$dir/f4.dump"
mdb_load -n -s hits -f "$dir/f4.dump" "$store4" > "$dir/f4-load.out" 2>&1
"$ctl" -c "$dir/f4.conf" list 2>/dev/null | wc -l > "$dir/f4-n0"
n0=$(cat "$dir/f4-n0")
tp_start "$real_tarpitd" "$dir/f4.conf" "$dir/f4.log"
fc sessions "$port" 2 4 40 > "$dir/f4-sess.out" 2>&1
wait_for 5 grep -q "$store4: store is full at [0-9]* MiB (\[store\] map_size)" "$dir/f4.log"
tap_ok "map full: the log says so and names the file" $? "$dir/f4.log" \
	"$dir/f4-load.out"
fc greet "$port" 127.0.4.1 > "$dir/f4-greet.out" 2>&1
tap_ok "map full: a client is still greeted, held and sent a 4xx" $? \
	"$dir/f4-greet.out" "$dir/f4.log"
stop_tp
n1=$("$ctl" -c "$dir/f4.conf" list 2>"$dir/f4-list.err" | wc -l)
sed -i 's/^map_size = 16M$/map_size = 64M/' "$dir/f4.conf"
tp_start "$real_tarpitd" "$dir/f4.conf" "$dir/f4b.log"
fc greet "$port" 127.0.4.2 220 > "$dir/f4-greet2.out" 2>&1
stop_tp
n2=$("$ctl" -c "$dir/f4.conf" list 2>>"$dir/f4-list.err" | wc -l)
echo "# map full: $n0 records loaded, $n1 when full, $n2 after map_size = 64M"
[ "$n0" -gt 100000 ] && [ "$n1" -ge "$n0" ] && [ "$n2" -eq $((n1 + 1)) ] &&
	[ ! -s "$dir/f4-list.err" ] &&
	"$ctl" -c "$dir/f4.conf" lookup 127.0.4.2 > /dev/null 2>&1 &&
	mdb_dump -n -s hits "$store4" > /dev/null
tap_ok "map full: with a bigger map every record reads back, new ones go in" $? \
	"$dir/f4-list.err" "$dir/f4b.log"

# --- 4b. The disk full: the store on a 1 MiB tmpfs in a private mount
# namespace (held by a sleeping process; we enter it with nsenter).
port=$(free_port 127.0.0.1) || bail "no free port"
mkdir "$dir/tmpfs"
unshare -m --propagation private sleep 300 &
ns_pid=$!
track_pid "$ns_pid"
inns() {
	nsenter -t "$ns_pid" -m "$@"
}
# The namespace is there once unshare ran (not at once on a busy machine).
own_ns() {
	[ "$(readlink "/proc/$ns_pid/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ]
}
if wait_for 5 own_ns &&
    inns mount -t tmpfs -o size=1m,mode=755 tmpfs "$dir/tmpfs"; then
	store5=$dir/tmpfs/store/hits.lmdb
	tp_conf "$dir/f5.conf" "$port" "$store5" "greet_wait = 100ms" \
		"drip_interval = 200ms" "max_hold = 1500ms"
	tp_start "$(wrapper inns "nsenter -t $ns_pid -m")" "$dir/f5.conf" \
		"$dir/f5.log"
	fc sessions "$port" 0.5 2 50 > "$dir/f5-sess0.out" 2>&1
	inns dd if=/dev/zero of="$dir/tmpfs/filler" bs=4k > /dev/null 2>&1
	fc sessions "$port" 3 4 51 > "$dir/f5-sess.out" 2>&1
	wait_for 5 grep -q "$store5: recording tar-pit sessions: No space left on device" \
		"$dir/f5.log"
	tap_ok "disk full: the log says so and names the file" $? "$dir/f5.log"
	fc greet "$port" 127.0.5.1 > "$dir/f5-greet.out" 2>&1
	tap_ok "disk full: a client is still greeted, held and sent a 4xx" $? \
		"$dir/f5-greet.out" "$dir/f5.log"
	inns rm -f "$dir/tmpfs/filler"
	# With room again, the running tarpitd writes again, without a restart.
	fc greet "$port" 127.0.5.2 220 > /dev/null 2>&1
	sleep 0.5
	stop_tp
	inns "$ctl" -c "$dir/f5.conf" lookup 127.0.5.2 > "$dir/f5-lookup.out" 2>&1
	tap_ok "disk full: space freed, writing resumes by itself" $? \
		"$dir/f5-lookup.out" "$dir/f5.log"
	tp_start "$dir/inns" "$dir/f5.conf" "$dir/f5b.log"
	fc greet "$port" 127.0.5.3 220 > /dev/null 2>&1
	stop_tp
	inns "$ctl" -c "$dir/f5.conf" list > "$dir/f5-list.out" 2>"$dir/f5-list.err"
	st=$?
	n5=$(wc -l < "$dir/f5-list.out")
	echo "# disk full: $n5 records after the restart"
	[ "$st" -eq 0 ] && [ ! -s "$dir/f5-list.err" ] && [ "$n5" -gt 10 ] &&
		grep -q '^127\.0\.5\.3/32 ' "$dir/f5-list.out" &&
		inns mdb_dump -n -s hits "$store5" > /dev/null
	tap_ok "disk full: restarted, every record reads back" $? "$dir/f5-list.err" \
		"$dir/f5b.log"
else
	for c in 1 2 3 4; do
		skip_check "disk full: (check $c)" \
		    "cannot mount a tmpfs in a private mount namespace here"
	done
fi
stop_pid "$ns_pid"

# --- 5. Reload storms: 200 SIGHUP to tarpitd, 200 SIGUSR1 to the milter,
# while both serve (the milter of part 3, still running).
port=$(free_port 127.0.0.1) || bail "no free port"
tp_conf "$dir/f6.conf" "$port" "$dir/f6/hits.lmdb" "greet_wait = 100ms" \
	"drip_interval = 200ms" "max_hold = 1s" "event_log = $dir/f6/events.jsonl"
mkdir -p "$dir/f6" && chown nobody "$dir/f6"
tp_start "$real_tarpitd" "$dir/f6.conf" "$dir/f6.log"
# storm N SECONDS: N of each signal while both daemons serve.
storm() {
	fc sessions "$port" "$2" 3 60 > "$dir/f6-sess.out" 2>&1 &
	_s=$!
	"$loadgen" -l "unix:$dir/m3.sock" "$2" 2 > "$dir/f6-load.out" 2>&1 &
	_l=$!
	_i=0
	while [ $_i -lt "$1" ]; do
		kill -HUP "$tarpit_pid"
		kill -USR1 "$milter_pid"
		sleep 0.01
		_i=$((_i + 1))
	done
	wait "$_s"
	_st=0
	wait "$_l" || _st=1
	sleep 2.5	# the last sessions end (max_hold)
	return $_st
}
storm 20 1
tfd0=$(nfd "$tarpit_pid") trss0=$(rss "$tarpit_pid")
mfd0=$(nfd "$milter_pid") mrss0=$(rss "$milter_pid")
t0=$(now)
storm 200 3
st=$?
echo "# storm: 200 of each signal in $(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a - 2.5 }') s; $(cat "$dir/f6-sess.out"); milter $(cat "$dir/f6-load.out")"
echo "# storm: reloads logged: tarpitd $(grep -c 'reloaded ' "$dir/f6.log"), milter $(grep -c 'reloaded ' "$dir/m3.log")"
alive "$tarpit_pid" && alive "$milter_pid"
tap_ok "storm: both still running" $? "$dir/f6.log" "$dir/m3.log"
[ "$st" -eq 0 ] && grep -q 'sessions=[1-9]' "$dir/f6-sess.out" &&
	fc greet "$port" 127.0.6.1 > "$dir/f6-greet.out" 2>&1
tap_ok "storm: clients served throughout (milter: no error)" $? \
	"$dir/f6-load.out" "$dir/f6-sess.out" "$dir/f6-greet.out"
[ "$(grep -c 'reloaded ' "$dir/f6.log")" -ge 10 ] &&
	[ "$(grep -c 'reloaded ' "$dir/m3.log")" -ge 10 ]
tap_ok "storm: both reloaded again and again" $? "$dir/f6.log" "$dir/m3.log"
wait_for 10 fds_are "$tarpit_pid" "$tfd0"
tfd1=$(nfd "$tarpit_pid") trss1=$(rss "$tarpit_pid")
wait_for 10 fds_are "$milter_pid" "$mfd0"
mfd1=$(nfd "$milter_pid") mrss1=$(rss "$milter_pid")
echo "# storm: tarpitd fds $tfd0 -> $tfd1, VmRSS $trss0 -> $trss1 kB; milter fds $mfd0 -> $mfd1, VmRSS $mrss0 -> $mrss1 kB"
[ "$tfd1" -eq "$tfd0" ] && rss_ok "$trss0" "$trss1"
tap_ok "storm: tarpitd's descriptors and memory as before${asan:+ (RSS not compared: ASan)}" $?
[ "$mfd1" -eq "$mfd0" ] && rss_ok "$mrss0" "$mrss1"
tap_ok "storm: the milter's descriptors and memory as before${asan:+ (RSS not compared: ASan)}" $?
stop_tp
stop_pid "$milter_pid"

# --- 6. The wall clock jumps a day back and forth; the monotonic clock
# does not (libfaketime, its offset read from a file at every call).
clock_checks=8
if [ ! -r "$faketime_lib" ]; then
	i=0
	while [ $i -lt $clock_checks ]; do
		skip_check "clock: (check $((i + 1)))" "no $faketime_lib (faketime package)"
		i=$((i + 1))
	done
	tap_done
fi
echo "+0" > "$dir/clock"
faked="LD_PRELOAD=$faketime_lib FAKETIME_TIMESTAMP_FILE=$dir/clock FAKETIME_NO_CACHE=1 DONT_FAKE_MONOTONIC=1"
# Does the preload take at all? (a +1 day offset seen by date)
echo "+1d" > "$dir/clock"
# shellcheck disable=SC2086
faked_day=$(env $faked date -u +%F 2>"$dir/faketime.err")
echo "+0" > "$dir/clock"
if [ "$faked_day" != "$(date -u -d tomorrow +%F)" ]; then
	i=0
	while [ $i -lt $clock_checks ]; do
		skip_check "clock: (check $((i + 1)))" "libfaketime has no effect here"
		i=$((i + 1))
	done
	tap_done
fi
port=$(free_port 127.0.0.1) || bail "no free port"
tp_conf "$dir/f7.conf" "$port" "$dir/f7/hits.lmdb" "greet_wait = 100ms" \
	"drip_interval = 300ms" "max_hold = 3s"
tp_start "$(wrapper faked "" "export $faked")" "$dir/f7.conf" \
	"$dir/f7.log"
# jump SRC OFFSET: a session from SRC, the clock set to OFFSET after 1 s;
# succeed if it ended with a 4xx after max_hold (3 s) and one drip at most.
jump() {
	echo "+0" > "$dir/clock"
	fc greet "$port" "$1" > "$dir/f7-$1.out" 2>&1 &
	_g=$!
	sleep 1
	echo "$2" > "$dir/clock"
	wait "$_g" || return 1
	_e=$(sed -n 's/^elapsed=\([0-9.]*\) .*/\1/p' "$dir/f7-$1.out")
	echo "# clock $2: held $_e s (max_hold 3 s)"
	awk -v e="$_e" 'BEGIN { exit !(e >= 2.9 && e <= 4.8) }'
}
jump 127.0.7.1 -1d
tap_ok "clock: a day back during a hold, it still ends at max_hold" $? \
	"$dir/f7-127.0.7.1.out" "$dir/f7.log"
jump 127.0.7.2 +1d
tap_ok "clock: a day forward during a hold, it still ends at max_hold" $? \
	"$dir/f7-127.0.7.2.out" "$dir/f7.log"
echo "+0" > "$dir/clock"
# The session's times, as they are: held comes from the monotonic clock,
# so it is real; the log's connect is disconnect - held, so both carry the
# jump. The store takes each event's wall time (the contact before the
# jump, the end after it): after -1d, tarpit_first is a day before
# tarpit_last; after +1d, tarpit_last is a day ahead.
python3 - "$dir/f7.log" > "$dir/f7-times.out" 2>&1 <<'EOF'
import re, sys, time
from datetime import datetime
ok = 0
for line in open(sys.argv[1]):
    m = re.search(r"session client=127\.0\.7\.([12]) .*connect=(\S+) "
                  r"disconnect=(\S+) held=([0-9.]+)", line)
    if not m:
        continue
    t = [datetime.fromisoformat(x.replace("Z", "+00:00")).timestamp()
         for x in m.group(2, 3)]
    held = float(m.group(4))
    shift = (t[1] - time.time()) / 86400
    want = -1 if m.group(1) == "1" else 1
    print("client .%s: held %.3f s, disconnect - connect %.3f s, "
          "%+.2f days off" % (m.group(1), held, t[1] - t[0], shift))
    if abs(t[1] - t[0] - held) < 0.002 and 2.9 <= held <= 4.8 and \
            abs(shift - want) < 0.01:
        ok += 1
sys.exit(0 if ok == 2 else 1)
EOF
st=$?
sed 's/^/# /' "$dir/f7-times.out"
tap_ok "clock: held is real time; connect and disconnect shift together" $st \
	"$dir/f7-times.out" "$dir/f7.log"
"$ctl" -c "$dir/f7.conf" list > "$dir/f7-list.out" 2>&1
sed 's/^/# store: /' "$dir/f7-list.out"
grep -q '^127.0.7.1/32 tarpit_sessions=1 .*held_seconds=[34]\.' "$dir/f7-list.out" &&
	grep -q '^127.0.7.2/32 tarpit_sessions=1 .*held_seconds=[34]\.' "$dir/f7-list.out"
tap_ok "clock: the store keeps both sessions, held time real" $? "$dir/f7-list.out"
stop_tp

# The milter: the primary was up for the last 2 h of today and around
# yesterday's this time, but down from 20 min before to 20 min after it.
# .71 met the tar pit yesterday 5 min into that outage (a legitimate MTA
# falling back): unproven. .72 met it 5 min ago: backup-first.
store7=$dir/f8/hits.lmdb
"$storetool" "$store7" alive now-91200000 now-87600000 >/dev/null &&
	"$storetool" "$store7" alive now-85200000 now-82800000 >/dev/null &&
	"$storetool" "$store7" alive now-7200000 now >/dev/null &&
	"$storetool" "$store7" tarpit 192.0.2.71/32 now-86100000 mail.client.example >/dev/null &&
	"$storetool" "$store7" tarpit 192.0.2.72/32 now-300000 mail.client.example >/dev/null ||
	bail "storetool"
cat > "$dir/f8.conf" <<CONF
[milter]
trusted_networks = 192.0.2.1/32
spf = no
grace = 0
[store]
path = $store7
CONF
cat > "$dir/t-one.lua" <<'EOF'
dofile(os.getenv("MT_LIB"))
run(function()
	local conn = open("F", os.getenv("CLIENT"), "mail.client.example")
	check(message(conn, "<a@client.example>", "<b@primary.test>") ==
	    SMFIR_CONTINUE, "MAIL not continued")
	mt.disconnect(conn)
end)
EOF
# shellcheck disable=SC2086
env $faked "$milter" -f -c "$dir/f8.conf" --socket "unix:$dir/m8.sock" \
	2>"$dir/m8.log" &
m8_pid=$!
track_pid "$m8_pid"
wait_for 5 test -S "$dir/m8.sock" || bail "the milter did not start"
export MILTER_F="unix:$dir/m8.sock"
# verdict IP: one transaction from IP; print the verdict the milter logged.
verdict() {
	CLIENT=$1 miltertest -s "$dir/t-one.lua" >> "$dir/m8-lua.out" 2>&1 ||
		echo "miltertest failed for $1" >> "$dir/m8-lua.out"
	sleep 0.2
	sed -n "s/.*verdict client=$1 .*verdict=\([a-z-]*\) .*/\1/p" "$dir/m8.log" |
		tail -n 1
}
v71=$(verdict 192.0.2.71) v72=$(verdict 192.0.2.72)
echo "# milter, clock right: .71 $v71, .72 $v72"
[ "$v71" = unproven ] && [ "$v72" = backup-first ]
tap_ok "clock: the milter's verdicts with the clock right" $? "$dir/m8.log" \
	"$dir/m8-lua.out"
# A day back: the milter lives yesterday's outage again. Connections then
# must not mark those minutes "up", or .71's old contact would count.
echo "-1d" > "$dir/clock"
verdict 192.0.2.90 > /dev/null
echo "-85800" > "$dir/clock"	# a day back, then 10 minutes on
v71=$(verdict 192.0.2.71)
echo "# milter, a day back: .71 $v71"
[ "$v71" = unproven ]
tap_ok "clock: a day back does not make an old contact count" $? \
	"$dir/m8.log" "$dir/m8-lua.out"
# A day forward: no crash; .72's contact (now a day old) still counts.
echo "+1d" > "$dir/clock"
v72=$(verdict 192.0.2.72)
echo "# milter, a day forward: .72 $v72"
alive "$m8_pid" && [ "$v72" = backup-first ]
tap_ok "clock: a day forward, the milter goes on, verdicts as designed" $? \
	"$dir/m8.log" "$dir/m8-lua.out"
echo "+0" > "$dir/clock"
stop_pid "$m8_pid"
"$ctl" -c "$dir/f8.conf" list > "$dir/f8-list.out" 2>"$dir/f8-list.err"
st=$?
[ "$st" -eq 0 ] && [ ! -s "$dir/f8-list.err" ] &&
	[ "$(grep -c '^192\.0\.2\.[79][012]/32 ' "$dir/f8-list.out")" -eq 3 ]
tap_ok "clock: the shared store reads back whole" $? "$dir/f8-list.out" \
	"$dir/f8-list.err"
tap_done
