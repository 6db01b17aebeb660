#!/bin/sh
# test_redis_hosts.sh - two tar pits and two milters sharing one Redis hit
# store ([store] backend = redis), as on several MX hosts and primaries.
#
# Starts a private redis-server on 127.0.0.1 (free port, no persistence),
# tarpitd A on 127.0.0.111 and tarpitd B on 127.0.0.112 (max_hold 1s),
# and milters A and B (action = tag) on unix sockets, driven by
# miltertest. The primary is made "alive" for the last quarter of an hour
# by seeding slowspam:alive, as a running primary would have left it.
# Clients are swaks or python3 sockets bound to 127.0.0.121-124. Checks:
#   1. a client at tar pit A is tagged by milter B (the store is shared);
#   2. 20 + 20 concurrent sessions at A and B from one client: ts = 40;
#   3. Redis killed: tar pit A still holds and 421s new clients, logs the
#      lost events (rate-limited); milter A passes mail untagged and logs
#      "store unavailable";
#   4. Redis restarted on the same port: a new client at tar pit B is
#      recorded again within ~5 s and milter B tags it;
#   5. no descriptor leak in tarpitd A or milter A across outage and
#      recovery (±2).
# Prints TAP. Needs root, redis-server, redis-cli, swaks and miltertest;
# otherwise skips.
#
# Some functions are only called through wait_for.
# shellcheck disable=SC2317
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
# shellcheck source=tests/lib.sh
. "$top_srcdir/tests/lib.sh"
tarpitd=$top_builddir/tarpitd/tarpitd
milter=$top_builddir/milter/slowspam-milter

ADDR_A=127.0.0.111
ADDR_B=127.0.0.112
PREFIX=slowspam:

[ "$(id -u)" -eq 0 ] || tap_skip "needs root (tarpitd runs as nobody)"
need_cmds redis-server redis-cli swaks miltertest
command -v python3 >/dev/null 2>&1 || bail "python3 is needed to probe ports"
for prog in "$tarpitd" "$milter"; do
	[ -x "$prog" ] || bail "no $prog (build first)"
done

make_dir redishosts
bail_logs="$dir/*.log"
t_start=$(date +%s)

redis_port=$(free_port 127.0.0.1) || bail "no free port on 127.0.0.1"
port_a=$(free_port $ADDR_A) || bail "no free port on $ADDR_A"
port_b=$(free_port $ADDR_B) || bail "no free port on $ADDR_B"

# --- Redis
redis_pid=
redis_n=0
# redis_start: a fresh, empty redis-server on $redis_port (log redis-N.log).
redis_start() {
	redis_n=$((redis_n + 1))
	redis-server --port "$redis_port" --bind 127.0.0.1 --save '' \
		--appendonly no --dir "$dir" --daemonize no \
		> "$dir/redis-$redis_n.log" 2>&1 &
	redis_pid=$!
	track_pid "$redis_pid"
	wait_for 10 rcli PING || bail "redis-server did not start"
}
# rcli ARGS...: redis-cli against our server, quiet.
rcli() {
	redis-cli -p "$redis_port" "$@" 2>/dev/null | grep -q .
}
# hget NET FIELD: print the field of the network's hash (empty if none).
hget() {
	redis-cli -p "$redis_port" HGET "${PREFIX}net:$1" "$2" 2>/dev/null
}
# ts_is NET N: the network's tar-pit session count is N.
ts_is() {
	[ "$(hget "$1" ts)" = "$2" ]
}
# seed_alive: the primary up in each of the last 15 minutes (not this one).
seed_alive() {
	m=$(($(date +%s%3N) / 60000))
	i=15
	while [ $i -ge 1 ]; do
		redis-cli -p "$redis_port" ZADD "${PREFIX}alive" $((m - i)) $((m - i)) \
			> /dev/null || return 1
		i=$((i - 1))
	done
}
redis_start
seed_alive || bail "cannot seed ${PREFIX}alive"

# --- configuration: one file per tar pit; the milters share one.
store_conf="[store]
backend = redis
redis = 127.0.0.1:$redis_port
redis_timeout = 50ms
redis_prefix = $PREFIX
[log]
level = debug"
for t in a b; do
	if [ $t = a ]; then addr=$ADDR_A port=$port_a; else addr=$ADDR_B port=$port_b; fi
	cat > "$dir/tarpit-$t.conf" <<EOF
[tarpitd]
listen = $addr:$port
hostname = tarpit-$t.test
greet_wait = 200ms
drip_interval = 200ms
max_hold = 1s
user = nobody
$store_conf
EOF
done
cat > "$dir/milter.conf" <<EOF
[milter]
action = tag
trusted_networks =
spf = no
grace = 0
authserv_id = primary.test
$store_conf
EOF

tarpitd_start "$dir/tarpit-a.conf" "$dir/tarpitd-a.log"
tarpit_a=$tarpit_pid
tarpitd_start "$dir/tarpit-b.conf" "$dir/tarpitd-b.log"
tarpit_b=$tarpit_pid
wait_listen $ADDR_A "$port_a" 5 || bail "tarpitd A does not listen"
wait_listen $ADDR_B "$port_b" 5 || bail "tarpitd B does not listen"

# milter_start NAME: milter NAME on $dir/NAME.sock, log milter-NAME.log;
# sets milter_pid.
milter_start() {
	"$milter" -f -c "$dir/milter.conf" --socket "unix:$dir/$1.sock" \
		> "$dir/milter-$1.log" 2>&1 &
	milter_pid=$!
	track_pid "$milter_pid"
	wait_for 10 milter_up "$1" || bail "slowspam-milter $1 did not start"
}
milter_up() {
	[ -S "$dir/$1.sock" ] &&
		grep -q "slowspam-milter .* on unix:" "$dir/milter-$1.log"
}
milter_start a
milter_a=$milter_pid
milter_start b

# The miltertest script: one message from $MT_IP (HELO $MT_HELO) to the
# milter at $MT_SOCK; prints "tagged" or "untagged" and whether the end of
# message was answered with continue.
cat > "$dir/check.lua" <<'LUA'
local ok, err = pcall(function()
	local sock, ip, helo = os.getenv("MT_SOCK"), os.getenv("MT_IP"),
	    os.getenv("MT_HELO")
	local conn = mt.connect(sock, 20, 0.25)
	assert(conn ~= nil, "cannot connect to " .. sock)
	assert(mt.conninfo(conn, "client.example", ip) == nil, "conninfo")
	assert(mt.getreply(conn) == SMFIR_CONTINUE, "connect not continued")
	assert(mt.helo(conn, helo) == nil, "helo")
	assert(mt.mailfrom(conn, "<a@sender.example>") == nil, "mailfrom")
	assert(mt.getreply(conn) == SMFIR_CONTINUE, "MAIL not continued")
	assert(mt.rcptto(conn, "<b@primary.example>") == nil, "rcptto")
	assert(mt.getreply(conn) == SMFIR_CONTINUE, "RCPT not continued")
	assert(mt.header(conn, "Subject", "test") == nil, "header")
	assert(mt.eom(conn) == nil, "eom")
	if mt.getreply(conn) == SMFIR_CONTINUE then
		print("eom: continue")
	else
		print("eom: not continue")
	end
	if mt.eom_check(conn, MT_HDRADD, "X-Slowspam") then
		print("tagged")
	else
		print("untagged")
	end
	mt.disconnect(conn)
end)
if not ok then
	print("FAILED: " .. tostring(err))
	os.exit(1)
end
LUA

# mtest NAME IP HELO: run check.lua against milter NAME; output in
# $mt_out (mt-N.out).
mt_n=0
mtest() {
	mt_n=$((mt_n + 1))
	mt_out=$dir/mt-$mt_n.out
	MT_SOCK=unix:$dir/$1.sock MT_IP=$2 MT_HELO=$3 \
		miltertest -s "$dir/check.lua" > "$mt_out" 2>&1
}

# hit T OCTET: swaks from 127.0.0.OCTET at tar pit T (a or b), quitting
# after EHLO; transcript in hit-T-OCTET.out.
hit() {
	if [ "$1" = a ]; then s=$ADDR_A:$port_a; else s=$ADDR_B:$port_b; fi
	swaks --server "$s" --local-interface "127.0.0.$2" --quit-after EHLO \
		--helo "bot$2.example" --timeout 10 > "$dir/hit-$1-$2.out" 2>&1
}
# session_logged T OCTET: tarpitd T logged a session of 127.0.0.OCTET.
session_logged() {
	grep -q "session client=127.0.0.$2 " "$dir/tarpitd-$1.log"
}
# fds PID: its open descriptors.
fds() {
	find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l
}

tap_plan 15

# 1. a client at tar pit A, tagged by milter B
d="127.0.0.121 at tar pit A is recorded (ts=1) and milter B tags it"
hit a 121
if ! wait_for 5 session_logged a 121 || ! wait_for 5 ts_is 127.0.0.121/32 1; then
	tap_fail "$d" "ts='$(hget 127.0.0.121/32 ts)'" "$dir/hit-a-121.out" \
		"$dir/tarpitd-a.log"
elif ! mtest b 127.0.0.121 bot121.example || ! grep -q '^tagged' "$mt_out"; then
	tap_fail "$d" "no X-Slowspam" "$mt_out" "$dir/milter-b.log"
else
	tap_ok "$d" 0
	grep -m 1 'verdict client=127.0.0.121' "$dir/milter-b.log" | sed 's/^/# /'
fi
# Milter A agrees (and has used its connection before the outage).
mtest a 127.0.0.121 bot121.example && grep -q '^tagged' "$mt_out"
tap_ok "milter A tags 127.0.0.121 as well" $? "$mt_out" "$dir/milter-a.log"

# 2. 20 + 20 concurrent sessions from 127.0.0.122 at A and B
cat > "$dir/load.py" <<'EOF'
import socket, sys, threading
src, targets, n = sys.argv[1], sys.argv[2:], 20
barrier = threading.Barrier(n * len(targets))
results = []

def client(host, port):
    s = socket.socket()
    s.settimeout(10)
    s.bind((src, 0))
    barrier.wait()
    got = b""
    try:
        s.connect((host, int(port)))
        while b"220 " not in got:
            d = s.recv(4096)
            if not d:
                break
            got += d
        s.sendall(b"EHLO load.example\r\n")
        while True:
            d = s.recv(4096)
            if not d:
                break
            got += d
    except OSError as e:
        got += ("[%s]" % e).encode()
    finally:
        s.close()
    results.append(b"421 " in got)

threads = []
for t in targets:
    host, port = t.rsplit(":", 1)
    for _ in range(n):
        threads.append(threading.Thread(target=client, args=(host, port)))
for t in threads:
    t.start()
for t in threads:
    t.join()
print("%d of %d clients got the 421" % (sum(results), len(results)))
sys.exit(0 if all(results) else 1)
EOF
d="20 + 20 concurrent sessions from 127.0.0.122 at A and B: ts = 40"
python3 "$dir/load.py" 127.0.0.122 "$ADDR_A:$port_a" "$ADDR_B:$port_b" \
	> "$dir/load.out" 2>&1
load_status=$?
if wait_for 5 ts_is 127.0.0.122/32 40; then
	tap_ok "$d" 0
else
	tap_fail "$d" "ts='$(hget 127.0.0.122/32 ts)'" "$dir/load.out"
fi
tap_ok "every concurrent client was held and got the 421 ($(cat "$dir/load.out"))" \
	$load_status "$dir/load.out"

# Descriptors before the outage (both daemons have used Redis).
fd_ta=$(fds "$tarpit_a")
fd_ma=$(fds "$milter_a")

# 3. Redis down
kill -9 "$redis_pid"
stop_pid "$redis_pid"
t0=$(date +%s%N)
hit a 123
ms=$((($(date +%s%N) - t0) / 1000000))
# Held to the EHLO reply's end (the last drip before max_hold); its QUIT
# gets the 421.
grep -q '421 4.7.0' "$dir/hit-a-123.out" && [ "$ms" -ge 700 ] && [ "$ms" -le 5000 ]
tap_ok "Redis down: tar pit A holds 127.0.0.123 and lets it go with 421 4.7.0 ($ms ms)" \
	$? "$dir/hit-a-123.out" "$dir/tarpitd-a.log"
wait_for 5 session_logged a 123
tap_ok "Redis down: tarpitd A logs the session" $? "$dir/tarpitd-a.log"
wait_for 5 grep -q 'lost [0-9]* tar-pit events: .*127.0.0.1:'"$redis_port" \
	"$dir/tarpitd-a.log"
tap_ok "Redis down: tarpitd A logs lost tar-pit events" $? "$dir/tarpitd-a.log"
grep 'lost [0-9]* tar-pit events' "$dir/tarpitd-a.log" | sed 's/^/# /'

mtest a 127.0.0.121 bot121.example &&
	grep -q '^eom: continue' "$mt_out" && grep -q '^untagged' "$mt_out"
tap_ok "Redis down: milter A lets 127.0.0.121 through (continue, no X-Slowspam)" \
	$? "$mt_out" "$dir/milter-a.log"
grep -q 'store unavailable' "$dir/milter-a.log"
tap_ok "Redis down: milter A logs store unavailable" $? "$dir/milter-a.log"
grep 'store unavailable' "$dir/milter-a.log" | head -n 1 | sed 's/^/# /'

# More traffic while down (the backoff grows): more events fail, but the
# "lost" line comes at most once a minute. SIGUSR1 logs the totals.
hit a 123 &
hit_bg=$!
mtest a 127.0.0.121 bot121.example
wait "$hit_bg"
# The session's events fail once the writer has tried them, which may be
# after the client is done (later still under valgrind): ask again until
# the totals show them. Three in all: the first session's contact with its
# HELO and its end, and the second's end (its network was known).
failed_totals() {
	kill -USR1 "$tarpit_a"
	sleep 0.2
	failed=$(sed -n 's/.*notice: totals .*store_failed=\([0-9]*\).*/\1/p' \
	    "$dir/tarpitd-a.log" | tail -n 1)
	[ "${failed:-0}" -ge 3 ]
}
wait_for 10 failed_totals
lost_lines=$(grep -c 'lost [0-9]* tar-pit events' "$dir/tarpitd-a.log")
[ "${failed:-0}" -ge 3 ] && [ "$lost_lines" -eq 1 ]
tap_ok "Redis down: two sessions' events failed (store_failed=${failed:-?}), one \"lost\" line ($lost_lines)" \
	$? "$dir/tarpitd-a.log"

# 4. Redis back on the same port (empty: seed the primary's minutes again)
redis_start
seed_alive || bail "cannot seed ${PREFIX}alive again"
t0=$(date +%s%N)
# The first client at tar pit B since the restart. tarpitd B was idle
# through the outage: its connection to the old server is dead and it
# only finds out when it writes; the store then tries one fresh one.
d="Redis back: 127.0.0.124, the first client at tar pit B, is recorded with ts=1 within 5 s"
hit b 124
if wait_for 5 ts_is 127.0.0.124/32 1; then
	ms=$((($(date +%s%N) - t0) / 1000000))
	tap_ok "$d ($ms ms after the restart)" 0
else
	tap_fail "$d" "not recorded"
	echo "# HGETALL ${PREFIX}net:127.0.0.124/32: $(redis-cli -p "$redis_port" \
		HGETALL "${PREFIX}net:127.0.0.124/32" | tr '\n' ' ')"
	grep 'lost [0-9]* tar-pit events' "$dir/tarpitd-b.log" | sed 's/^/# /'
	kill -USR1 "$tarpit_b"
	wait_for 5 grep -q 'notice: totals ' "$dir/tarpitd-b.log"
	grep -o 'store_written=.*' "$dir/tarpitd-b.log" | sed 's/^/# tarpitd B: /'
fi
# Once reconnected, tarpitd B records the next client in full.
d="Redis back: tarpitd B has reconnected: 127.0.0.126 is recorded with ts=1"
hit b 126
if wait_for 5 ts_is 127.0.0.126/32 1; then
	ms=$((($(date +%s%N) - t0) / 1000000))
	tap_ok "$d ($ms ms after the restart)" 0
else
	tap_fail "$d" "ts='$(hget 127.0.0.126/32 ts)' after 5 s" \
		"$dir/hit-b-126.out" "$dir/tarpitd-b.log"
fi
# milter B's old connection is dead too: its first lookup fails (no
# verdict), then it waits out its backoff (250 ms) and reconnects.
tagged_b() {
	mt_tries=$((mt_tries + 1))
	mtest b 127.0.0.124 bot124.example && grep -q '^tagged' "$mt_out"
}
mt_tries=0
t0=$(date +%s%N)
if wait_for 5 tagged_b; then
	ms=$((($(date +%s%N) - t0) / 1000000))
	tap_ok "Redis back: milter B tags 127.0.0.124 (try $mt_tries, $ms ms)" 0
else
	tap_fail "Redis back: milter B tags 127.0.0.124" "" "$mt_out" \
		"$dir/milter-b.log"
fi

# 5. descriptors after outage and recovery; milter A and tarpitd A have
# reconnected (drive each once more, allowing for their backoff).
tagged_a() {
	mtest a 127.0.0.124 bot124.example && grep -q '^tagged' "$mt_out"
}
wait_for 10 tagged_a || echo "# milter A did not tag 127.0.0.124 after the restart"
hit a 125
wait_for 5 ts_is 127.0.0.125/32 1 ||
	echo "# 127.0.0.125 at tar pit A not recorded after the restart"
fd_ta2=$(fds "$tarpit_a")
fd_ma2=$(fds "$milter_a")
delta() {
	[ "$1" -ge $(($2 - 2)) ] && [ "$1" -le $(($2 + 2)) ]
}
delta "$fd_ta2" "$fd_ta"
tap_ok "no descriptor leak in tarpitd A ($fd_ta before, $fd_ta2 after)" $? \
	"$dir/tarpitd-a.log"
delta "$fd_ma2" "$fd_ma"
tap_ok "no descriptor leak in milter A ($fd_ma before, $fd_ma2 after)" $? \
	"$dir/milter-a.log"

echo "# $(($(date +%s) - t_start)) s in all"
tap_done
