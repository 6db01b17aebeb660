#!/bin/sh
# test_dnsxl.sh - verdict/dnsxl.c against a real rbldnsd serving a
# hand-written "combined" file in the format the export writes: listed
# with its codes and the tar pit's times (IPv4 and IPv6, one address in
# two datasets), not listed, hostile TXT records ignored (a bad time,
# first after last, an overlong one), an A record not ours, a zone the
# server refuses (failed), a server that never answers (fail open by the
# deadline), the cache (a second round with the server stopped), and
# the cap on lookups in flight. Prints TAP.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
# shellcheck source=tests/lib.sh
. "$top_srcdir/tests/lib.sh"
tool=$top_builddir/tests/dnsxltool
need_cmds dig /usr/sbin/rbldnsd
make_dir dnsxl
zone=bl.example
port=$(free_port 127.0.0.1) || bail "no free port on 127.0.0.1"
silent_port=$(free_port 127.0.0.1) || bail "no free port on 127.0.0.1"
long=$(printf '%0150d' 0)
cat > "$dir/list.txt" <<EOF
\$SOA 600 ns.$zone. hostmaster.$zone. 1 600 300 86400 60
\$NS 600 ns.$zone.
\$DATASET ip4trie:bot @
192.0.2.1 :3:bot; first=2026-12-03T08:00:00.000Z; last=2026-12-03T08:05:00.000Z
192.0.2.2 :3:bot; first=2026-12-02T08:00:00.000Z; last=2026-12-03T07:00:00.000Z
192.0.2.3 :3:bot; first=2026-12-33T08:00:00.000Z; last=2026-12-03T08:05:00.000Z
192.0.2.4 :3:bot; first=2026-12-03T08:05:00.000Z; last=2026-12-03T08:00:00.000Z
192.0.2.5 :3:bot; first=2026-12-03T08:00:00.000Z; last=2026-12-03T08:05:00.000Z$long
192.0.2.6 :9:bot; first=2026-12-03T08:00:00.000Z; last=2026-12-03T08:05:00.000Z
\$DATASET ip4trie:backup-first @
192.0.2.2 :2:backup-first; first=2026-12-01T08:00:00.000Z; last=2026-12-02T09:00:00.000Z
\$DATASET ip6trie:bot6 @
2001:db8::1 :3:bot; first=2026-12-03T08:00:00.000Z; last=2026-12-03T08:05:00.000Z
EOF
rbldnsd_start "$zone" "$dir/list.txt" 127.0.0.1 "$port"
bail_logs="$dir/list.txt.log"

tap_plan 14
out=$dir/out
"$tool" -n 2 -x "$rbldnsd_pid" "127.0.0.1@$port" "$zone" 2000 \
	192.0.2.1 192.0.2.2 192.0.2.9 2001:db8::1 2001:db8::2 192.0.2.3 \
	192.0.2.4 192.0.2.5 192.0.2.6 > "$out" 2>"$dir/err"
kill -CONT "$rbldnsd_pid"
first_round() {
	head -n 9 "$out" | grep -q "^$1\$"
}
first_round '192.0.2.1 listed codes=2 first=2026-12-03T08:00:00.000Z last=2026-12-03T08:05:00.000Z ms=[0-9.]*'
tap_ok "listed: 127.0.0.3 (bot), with the TXT's first and last" $? "$out" "$dir/err"
first_round '192.0.2.2 listed codes=3 first=2026-12-01T08:00:00.000Z last=2026-12-03T07:00:00.000Z ms=[0-9.]*'
tap_ok "two datasets: both codes, the earliest first and the latest last" $? "$out"
first_round '192.0.2.9 not_listed codes=0 first=- last=- ms=[0-9.]*'
tap_ok "not listed (NXDOMAIN)" $? "$out"
first_round '2001:db8::1 listed codes=2 first=2026-12-03T08:00:00.000Z last=2026-12-03T08:05:00.000Z ms=[0-9.]*' &&
	first_round '2001:db8::2 not_listed .*'
tap_ok "IPv6 by its nibbles: listed, and a neighbour not" $? "$out"
first_round '192.0.2.3 listed codes=2 first=- last=- .*' &&
	first_round '192.0.2.4 listed codes=2 first=- last=- .*' &&
	first_round '192.0.2.5 listed codes=2 first=- last=- .*'
tap_ok "hostile TXT (a bad time, first after last, overlong): no times" $? "$out"
first_round '192.0.2.6 not_listed .*'
tap_ok "an A record not ours (127.0.0.9): not listed" $? "$out"
# The second round, the server stopped: only the cache answers.
tail -n 9 "$out" | head -n 4 > "$dir/second"
[ "$(grep -c ' listed \| not_listed ' "$dir/second")" -eq 4 ] &&
	[ "$(head -n 4 "$out" | sed 's/ ms=.*//')" = \
		"$(sed 's/ ms=.*//' "$dir/second")" ]
tap_ok "cached: the second round answers with the server stopped" $? "$out"
t1=$(sed -n '1s/.* ms=//p' "$out")
t2=$(sed -n '1s/.* ms=//p' "$dir/second")
echo "# first lookup ${t1} ms, cached ${t2} ms"
awk -v a="$t1" -v b="$t2" 'BEGIN { exit !(b < a) }'
tap_ok "the cached lookup is faster (${t2} ms < ${t1} ms)" $?

"$tool" "127.0.0.1@$port" other.example 2000 192.0.2.1 > "$out" 2>"$dir/err"
grep -q '^192.0.2.1 failed ' "$out" &&
	grep -q 'tarpit_list: 1.2.0.192.other.example: SERVFAIL' "$dir/err"
tap_ok "a zone the server refuses: failed, logged with the name" $? \
	"$out" "$dir/err"

# A UDP socket that reads nothing and answers nothing.
python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
print("bound", flush=True)
time.sleep(120)
' "$silent_port" > "$dir/silent.log" 2>&1 &
silent_pid=$!
track_pid "$silent_pid"
wait_for 5 grep -q bound "$dir/silent.log" || bail "no silent server"
start=$(date +%s%N)
"$tool" -b 2049 "127.0.0.1@$silent_port" "$zone" 500 192.0.2.1 > "$out" \
	2>"$dir/err"
elapsed=$((($(date +%s%N) - start) / 1000000))
ms=$(sed -n '1s/.* ms=//p' "$out")
grep -q '^192.0.2.1 timeout codes=0 first=- last=- ' "$out" &&
	awk -v m="$ms" 'BEGIN { exit !(m >= 500 && m < 800) }'
tap_ok "no answer: a timeout by the deadline (${ms} ms for 500)" $? "$out"
grep -q 'tarpit_list: 1.2.0.192.bl.example: no answer within 5[0-9][0-9] ms' \
	"$dir/err"
tap_ok "the timeout is logged" $? "$dir/err"
# The lookup that timed out above is still in flight (libunbound still
# works on it, so it still counts): 2047 more fit.
grep -q '^burst listed=0 not_listed=0 timeout=2047 failed=0 overflow=2$' \
	"$out"
tap_ok "2049 lookups after a timed-out one: 2048 in flight (4096 queries), two overflows" \
	$? "$out"
[ "$(grep -c 'no answer within' "$dir/err")" -eq 1 ] &&
	[ "$(grep -c 'lookups in flight' "$dir/err")" -eq 1 ]
tap_ok "rate-limited: one line each for 2049 timeouts and the overflow" $? \
	"$dir/err"
echo "# $elapsed ms for the timeout round and the burst of 2049"
[ "$elapsed" -lt 3000 ]
tap_ok "both within their deadlines ($elapsed ms for 2 x 500 ms)" $?
tap_done
