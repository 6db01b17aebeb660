#!/bin/sh
# test_policyd.sh - slowspam-policyd, the real daemon, on a unix socket
# and on inet:PORT@127.0.0.1, driven by policy_client.py: a message's
# answers in turn (X-Slowspam, Authentication-Results, HOLD) with the
# contact recorded once per SMTP session (the store, read back), reject
# on every request, a failing store's 451 4.3.0, no client address, an
# exempt client; what Postfix sends at MAIL (no instance, or the previous
# message's): one message, judged once; a sasl_username or a sender too
# long to keep; an answer never read asked again on a new connection; bad input (over-long line, NUL, too many attributes,
# duplicate attribute, no empty line before EOF, binary) closing with one
# log line each; a request then EOF answered; 50 idle connections not
# delaying a request, nor a verdict waiting on Redis; idle timeout
# and max_connections; SIGUSR1 totals, the metrics, SIGHUP reload (good
# and bad), -t naming file:line; as root, the socket's owner and the
# drop to [policyd] user; SPF's DNS that never answers (unshare -m):
# retries parked, another client answered, SIGTERM exiting at its
# deadline; SIGTERM exiting 0. Prints TAP.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
# shellcheck source=tests/lib.sh
. "$top_srcdir/tests/lib.sh"
policyd=$top_builddir/policyd/slowspam-policyd
storetool=$top_builddir/tests/storetool
client="python3 $top_srcdir/tests/policy_client.py"
need_cmds python3
make_dir policyd
tap_plan 45

mport=$(free_port 127.0.0.1) || bail "no free port on 127.0.0.1"
cat > "$dir/a.conf" <<CONF
[milter]
action = quarantine
action_bot = reject
divert_to = trap@primary.test
authserv_id = primary.test
grace = 0
[policyd]
metrics_listen = 127.0.0.1:$mport
[store]
path = $dir/store/hits.lmdb
[log]
level = debug
CONF
sed -e '/^metrics_listen/d' -e 's/^action = quarantine/action = tag/' \
	"$dir/a.conf" > "$dir/b.conf"
cat >> "$dir/b.conf" <<CONF
[policyd]
idle_timeout = 1s
max_connections = 5
CONF
cat > "$dir/zone" <<ZONE
pass.test TXT v=spf1 ip4:192.0.2.0/24 -all
fail.test TXT v=spf1 -all
mail.client.example TXT v=spf1 -all
ZONE

# The primary up for the last hour; .10 and .11 (a bot) at the tar pit.
mkdir "$dir/store"
"$storetool" "$dir/store/hits.lmdb" alive now-3600000 now >/dev/null || exit 1
"$storetool" "$dir/store/hits.lmdb" tarpit 192.0.2.10/32 now-300000 mail.client.example
"$storetool" "$dir/store/hits.lmdb" tarpit 192.0.2.11/32 now-300000 bot.client.example 1

bail_logs="$dir/a.log $dir/b.log"
"$policyd" -f -c "$dir/a.conf" --socket "unix:$dir/a.sock" \
	--spf-zone "$dir/zone" 2>"$dir/a.log" &
pid_a=$!
track_pid $pid_a
port=$(free_port 127.0.0.1) || bail "no free port on 127.0.0.1"
"$policyd" -f -c "$dir/b.conf" --socket "inet:$port@127.0.0.1" \
	--spf-zone "$dir/zone" 2>"$dir/b.log" &
track_pid $!
wait_for 5 grep -q "slowspam-policyd .* on unix:" "$dir/a.log"
tap_ok "started on a unix socket" $? "$dir/a.log"
wait_for 5 grep -q "slowspam-policyd .* on inet:$port@127.0.0.1" "$dir/b.log"
tap_ok "started on inet:$port@127.0.0.1" $? "$dir/b.log"
A=unix:$dir/a.sock
B=inet:127.0.0.1:$port

# attrs ADDR PORT INSTANCE: what Postfix says of a session's message.
attrs() {
	echo "protocol_name=ESMTP client_address=$1 client_port=$2" \
		"client_name=unknown reverse_client_name=mail.client.example" \
		"helo_name=mail.client.example sender=a@pass.test" \
		"instance=$3 server_address=192.0.2.1 server_port=25"
}
primaries() {
	"$storetool" "$dir/store/hits.lmdb" get "$1" |
		sed -n 's/.*primary_sessions=\([0-9]*\).*/\1/p'
}
# primaries_are NET N: the contacts, written behind the answers, came to N.
# shellcheck disable=SC2317 # called through wait_for
primaries_are() {
	[ "$(primaries "$1")" = "$2" ]
}

# shellcheck disable=SC2046
$client "$A" session $(attrs 192.0.2.10 1111 m1) -- RCPT:a@primary.test \
	RCPT:b@primary.test RCPT:c@primary.test DATA END-OF-MESSAGE \
	> "$dir/m1.out" 2>&1
sed -n 1p "$dir/m1.out" | grep -q "^PREPEND X-Slowspam: verdict=backup-first network=192.0.2.10/32 .*action=quarantine tarpit=store$" &&
sed -n 2p "$dir/m1.out" | grep -q "^PREPEND Authentication-Results: primary.test; spf=pass smtp.mailfrom=a@pass.test" &&
sed -n 3p "$dir/m1.out" | grep -q "^HOLD slowspam: backup MX first$" &&
[ "$(sed -n 4,5p "$dir/m1.out" | tr '\n' ' ')" = "DUNNO DUNNO " ] &&
[ "$(wc -l < "$dir/m1.out")" -eq 5 ]
tap_ok "3 recipients, DATA, END-OF-MESSAGE: X-Slowspam, A-R, HOLD, DUNNO, DUNNO" $? "$dir/m1.out"
wait_for 5 primaries_are 192.0.2.10/32 1
tap_ok "the contact is recorded once for the session's 5 requests" $? "$dir/a.log"

# A second message in the same session: its own headers, no new contact.
# shellcheck disable=SC2046
$client "$A" session $(attrs 192.0.2.10 1111 m2) -- RCPT:a@primary.test \
	RCPT:b@primary.test > "$dir/m2.out" 2>&1
grep -q "^PREPEND X-Slowspam:" "$dir/m2.out" &&
	grep -q "^PREPEND Authentication-Results:" "$dir/m2.out" &&
	[ "$(primaries 192.0.2.10/32)" = 1 ]
tap_ok "a second message of the session: its headers, still one contact" $? "$dir/m2.out"
# shellcheck disable=SC2046
$client "$A" session $(attrs 192.0.2.10 2222 m3) -- RCPT:a@primary.test \
	> "$dir/m3.out" 2>&1
wait_for 5 primaries_are 192.0.2.10/32 2
tap_ok "another session (client port) is another contact" $? "$dir/m3.out"

# What Postfix really sends at MAIL (smtpd_sender_restrictions): no
# instance for a session's first message, the previous message's for the
# later ones (instance is set after the sender restrictions, and kept
# across messages). Each message is judged once, at MAIL, and its first
# later request adopts it: one X-Slowspam, one verdict line a message.
verdicts() { grep -c "verdict client=$1 " "$dir/a.log"; }
# settled ADDR N: the log shows N verdict lines for ADDR, and no more
# come.
settled() {
	wait_for 5 sh -c "[ \$(grep -c 'verdict client=$1 ' '$dir/a.log') -ge $2 ]"
	sleep 0.3
	[ "$(verdicts "$1")" -eq "$2" ]
}
v0=$(verdicts 192.0.2.10)
# shellcheck disable=SC2046
$client "$A" session $(attrs 192.0.2.10 6001 "") -- MAIL \
	RCPT:a@primary.test,instance=f1.1 RCPT:b@primary.test,instance=f1.1 \
	DATA,instance=f1.1 END-OF-MESSAGE,instance=f1.1 > "$dir/f1.out" 2>&1
sed -n 1p "$dir/f1.out" | grep -q "^PREPEND X-Slowspam: verdict=backup-first " &&
	sed -n 2p "$dir/f1.out" | grep -q "^PREPEND Authentication-Results: " &&
	[ "$(sed -n 3,5p "$dir/f1.out" | tr '\n' ' ')" = "HOLD slowspam: backup MX first DUNNO DUNNO " ] &&
	[ "$(grep -c X-Slowspam "$dir/f1.out")" -eq 1 ]
tap_ok "MAIL without instance, then RCPT with it: one message, one X-Slowspam" $? "$dir/f1.out"
settled 192.0.2.10 $((v0 + 1))
tap_ok "... judged once: one verdict line" $? "$dir/f1.out" "$dir/a.log"
# shellcheck disable=SC2046
$client "$A" session $(attrs 192.0.2.10 6002 "") -- MAIL,sender=x@fail.test \
	RCPT:a@primary.test,instance=f2.1,sender=x@fail.test \
	MAIL,instance=f2.1 RCPT:a@primary.test,instance=f2.2 \
	RCPT:b@primary.test,instance=f2.2 DATA,instance=f2.2 \
	END-OF-MESSAGE,instance=f2.2 > "$dir/f2.out" 2>&1
[ "$(sed -n 1,2p "$dir/f2.out" | grep -c '^550 5\.7\.1 ')" -eq 2 ] &&
	sed -n 3p "$dir/f2.out" | grep -q "^PREPEND X-Slowspam: verdict=backup-first " &&
	sed -n 4p "$dir/f2.out" | grep -q "^PREPEND Authentication-Results: .*spf=pass" &&
	[ "$(sed -n 5,7p "$dir/f2.out" | tr '\n' ' ')" = "HOLD slowspam: backup MX first DUNNO DUNNO " ]
tap_ok "a refused message, then MAIL with its instance: a new message, not refused" $? "$dir/f2.out"
settled 192.0.2.10 $((v0 + 3))
tap_ok "... two messages, two verdict lines" $? "$dir/f2.out" "$dir/a.log"

# Values too long to keep: a sasl_username over 255 bytes still
# exempts; a sender over 511 bytes is not the null sender (whose SPF
# would check the HELO name, here failing): no SPF for the message.
long=$(python3 -c 'print("u" * 300)')
# shellcheck disable=SC2046
$client "$A" session $(attrs 192.0.2.11 6003 l1) "sasl_username=$long" -- \
	RCPT:a@primary.test DATA > "$dir/sasl.out" 2>&1
[ "$(tr '\n' ' ' < "$dir/sasl.out")" = "DUNNO DUNNO " ]
tap_ok "sasl_username over 255 bytes: authenticated, exempt" $? "$dir/sasl.out"
long=$(python3 -c 'print("s" * 600 + "@pass.test")')
# shellcheck disable=SC2046
$client "$A" session $(attrs 192.0.2.10 6004 l2) -- \
	"RCPT:a@primary.test,sender=$long" "RCPT:b@primary.test,sender=$long" \
	"DATA,sender=$long" > "$dir/sender.out" 2>&1
sed -n 1p "$dir/sender.out" | grep -q "^PREPEND X-Slowspam: verdict=backup-first .*spf=none " &&
	[ "$(sed -n 2,3p "$dir/sender.out" | tr '\n' ' ')" = "HOLD slowspam: backup MX first DUNNO " ] &&
	wait_for 5 grep -q "sender longer than 511 bytes: SPF not checked" "$dir/a.log"
tap_ok "sender over 511 bytes: SPF not checked (no A-R, not the HELO's fail), logged" $? "$dir/sender.out" "$dir/a.log"

# Postfix times out, closes, and asks the same again on a new
# connection: the same answer, and the message still gets all of them.
# shellcheck disable=SC2046
$client "$A" drop $(attrs 192.0.2.10 6005 d1) -- RCPT:a@primary.test \
	> "$dir/drop.out" 2>&1
sleep 0.5
# shellcheck disable=SC2046
$client "$A" session $(attrs 192.0.2.10 6005 d1) -- RCPT:a@primary.test \
	RCPT:b@primary.test DATA END-OF-MESSAGE > "$dir/retry.out" 2>&1
sed -n 1p "$dir/retry.out" | grep -q "^PREPEND X-Slowspam: verdict=backup-first " &&
	sed -n 2p "$dir/retry.out" | grep -q "^PREPEND Authentication-Results: " &&
	[ "$(sed -n 3,4p "$dir/retry.out" | tr '\n' ' ')" = "HOLD slowspam: backup MX first DUNNO " ] &&
	wait_for 5 grep -q "answer client=192.0.2.10 instance=d1 stage=rcpt answer=prepend_header again=yes" "$dir/a.log"
tap_ok "an answer never read, asked again on a new connection: the same answer, then the rest" $? "$dir/retry.out" "$dir/a.log"
# shellcheck disable=SC2046
$client "$A" session $(attrs 192.0.2.10 6006 d2) -- RCPT:a@primary.test \
	RCPT:a@primary.test > "$dir/twice.out" 2>&1
sed -n 1p "$dir/twice.out" | grep -q "^PREPEND X-Slowspam: " &&
	sed -n 2p "$dir/twice.out" | grep -q "^PREPEND Authentication-Results: "
tap_ok "the same request twice on one connection: two requests, the next answer" $? "$dir/twice.out"

# shellcheck disable=SC2046
$client "$B" session $(attrs 192.0.2.11 1111 m4) -- RCPT:a@primary.test \
	RCPT:b@primary.test RCPT:c@primary.test DATA END-OF-MESSAGE \
	> "$dir/m4.out" 2>&1
[ "$(grep -c '^550 5\.7\.1 ' "$dir/m4.out")" -eq 5 ]
tap_ok "inet: a bot with action_bot = reject: 550 5.7.1 to all 5 requests" $? "$dir/m4.out"

# A store that fails (a damaged record) with on_store_error = tempfail:
# 451 4.3.0 to every request of the message.
if command -v mdb_load >/dev/null; then
	printf '192.0.2.99/32\njunk\n' > "$dir/junk.txt"
	mdb_load -n -s hits -T -f "$dir/junk.txt" "$dir/store/hits.lmdb" ||
		bail "mdb_load could not damage a record"
	"$policyd" -f -c "$dir/a.conf" --socket "unix:$dir/e.sock" \
		--set milter.on_store_error=tempfail --set policyd.metrics_listen= \
		--spf-zone "$dir/zone" 2>"$dir/e.log" &
	track_pid $!
	wait_for 5 grep -q "slowspam-policyd .* on unix:" "$dir/e.log"
	# shellcheck disable=SC2046
	$client "unix:$dir/e.sock" session $(attrs 192.0.2.99 1111 t1) -- \
		RCPT:a@primary.test RCPT:b@primary.test DATA END-OF-MESSAGE \
		> "$dir/tempfail.out" 2>&1
	[ "$(grep -c '^451 4\.3\.0 ' "$dir/tempfail.out")" -eq 4 ] &&
		grep -q "store unavailable" "$dir/e.log"
	tap_ok "the store fails, on_store_error = tempfail: 451 4.3.0 to all 4 requests" $? \
		"$dir/tempfail.out" "$dir/e.log"
else
	tap_ok "store failure # SKIP no mdb_load" 0
fi

$client "$A" session protocol_name=SMTP sender=x@pass.test instance=n1 -- \
	RCPT:a@primary.test > "$dir/noaddr.out" 2>&1
[ "$(cat "$dir/noaddr.out")" = DUNNO ] &&
	wait_for 5 grep -q "request without a usable client_address" "$dir/a.log"
tap_ok "no client_address: DUNNO, logged" $? "$dir/noaddr.out" "$dir/a.log"
# shellcheck disable=SC2046
$client "$A" session $(attrs 127.0.0.1 1111 e1) -- RCPT:a@primary.test \
	DATA END-OF-MESSAGE > "$dir/exempt.out" 2>&1
[ "$(tr '\n' ' ' < "$dir/exempt.out")" = "DUNNO DUNNO DUNNO " ]
tap_ok "a trusted client: DUNNO to every request" $? "$dir/exempt.out"

# bad NAME WHY: FILE $dir/NAME.in closes the connection, no answer, one
# log line with WHY.
bad() {
	$client "$A" raw "$dir/$1.in" > "$dir/$1.out" 2>&1
	[ "$(cat "$dir/$1.out")" = closed ] &&
		wait_for 5 grep -q "policy client unix: $2: closing" "$dir/a.log" &&
		[ "$(grep -c "policy client unix: $2: closing" "$dir/a.log")" -eq 1 ]
	tap_ok "bad input, $1: closed with one log line ($2)" $? "$dir/$1.out" "$dir/a.log"
}
python3 -c 'print("sender=" + "x" * 3000)' > "$dir/long.in"
printf 'request=smtpd_access_policy\nsender=a\000b\n\n' > "$dir/nul.in"
python3 -c '
for i in range(200): print("x%d=y" % i)' > "$dir/many.in"
printf 'client_address=192.0.2.9\nclient_address=192.0.2.10\n\n' > "$dir/dup.in"
printf 'request=smtpd_access_policy\nclient_address=192.0.2.9\n' > "$dir/cut.in"
bad long "line too long"
bad nul "NUL byte"
bad many "too many attributes"
bad dup "duplicate attribute"
bad cut "end of input inside a request"
printf '\200\377\033[0m=\001\n\n' > "$dir/binary.in"
bad binary "bad attribute name"

# shellcheck disable=SC2046
$client "$A" eof $(attrs 192.0.2.10 4444 x1) protocol_state=RCPT \
	> "$dir/eof.out" 2>&1
[ "$(sed -n 2p "$dir/eof.out")" = closed ] &&
	sed -n 1p "$dir/eof.out" | grep -q "^PREPEND X-Slowspam:"
tap_ok "a request then EOF (Exim's readsocket): answered, then closed" $? "$dir/eof.out"

kill -USR1 $pid_a
wait_for 5 grep -q "totals requests=.* error_line_too_long=1 .*error_cut_short=1 .* connections=10 .*log_dropped=0" "$dir/a.log"
tap_ok "SIGUSR1 logs the totals" $? "$dir/a.log"

python3 - "$mport" > "$dir/metrics.out" 2>&1 <<'PY'
import sys, urllib.request
print(urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1],
                             timeout=5).read().decode())
PY
m=$dir/metrics.out
grep -q '^slowspam_policyd_answers_total{answer="hold"} 5$' "$m" &&
	grep -q '^slowspam_policyd_answers_total{answer="prepend_header"} 10$' "$m" &&
	grep -q '^slowspam_policyd_protocol_errors_total{why="line_too_long"} 1$' "$m" &&
	grep -q '^slowspam_policyd_protocol_errors_total{why="cut_short"} 1$' "$m" &&
	grep -q '^slowspam_policyd_requests_total ' "$m" &&
	grep -q '^slowspam_policyd_request_seconds_count ' "$m" &&
	grep -q '^slowspam_policyd_connections_total ' "$m" &&
	grep -q '^slowspam_policyd_policy_connections_total ' "$m" &&
	grep -q '^slowspam_policyd_sessions ' "$m" &&
	[ "$(grep -c '^# TYPE slowspam_policyd_connections_total ' "$m")" -eq 1 ]
tap_ok "metrics: answers, protocol errors, latency, the engine's counters" $? "$m"

# shellcheck disable=SC2046
$client "$A" idle 50 $(attrs 192.0.2.20 5555 i1) protocol_state=RCPT \
	> "$dir/idle.out" 2>&1
ms=$(sed -n 's/^ms=\([0-9]*\).*/\1/p' "$dir/idle.out")
echo "# a request among 50 idle connections: $ms ms"
[ -n "$ms" ] && [ "$ms" -lt 500 ] && grep -q "^open=50$" "$dir/idle.out"
tap_ok "50 idle connections (half with half a request) do not delay one" $? "$dir/idle.out"

$client "$B" silent > "$dir/timeout.out" 2>&1
echo "# idle_timeout 1s: $(cat "$dir/timeout.out") ms"
ms=$(sed -n 's/^closed after //p' "$dir/timeout.out")
[ -n "$ms" ] && [ "$ms" -ge 900 ] && [ "$ms" -lt 3000 ]
tap_ok "idle_timeout closes a silent connection" $? "$dir/timeout.out"
# shellcheck disable=SC2046
$client "$B" idle 5 $(attrs 192.0.2.20 5555 i2) protocol_state=RCPT \
	> "$dir/max.out" 2>&1
grep -q "^ms=" "$dir/max.out" && grep -q "^open=4$" "$dir/max.out"
tap_ok "max_connections 5: a sixth closes the longest idle one" $? "$dir/max.out"

# SIGHUP: divert now; a new session gets REDIRECT as its third answer.
sed -i 's/^action = quarantine/action = divert/' "$dir/a.conf"
kill -HUP $pid_a
wait_for 5 grep -q "reloaded $dir/a.conf" "$dir/a.log"
tap_ok "SIGHUP reloads" $? "$dir/a.log"
# shellcheck disable=SC2046
$client "$A" session $(attrs 192.0.2.10 3333 r1) -- RCPT:a@primary.test \
	DATA END-OF-MESSAGE > "$dir/r1.out" 2>&1
[ "$(sed -n 3p "$dir/r1.out")" = "REDIRECT trap@primary.test" ]
tap_ok "the reloaded action answers new sessions: REDIRECT at END-OF-MESSAGE" $? "$dir/r1.out"
cp "$dir/a.conf" "$dir/good.conf"
printf '[milter]\nwindow = 0\n' >> "$dir/a.conf"
line=$(wc -l < "$dir/a.conf")
kill -HUP $pid_a
wait_for 5 grep -q "reload: keeping the running configuration" "$dir/a.log" &&
	grep -q "reload: $dir/a.conf:$line: \[milter\] window" "$dir/a.log"
tap_ok "SIGHUP with a bad file keeps the old one, names file:line" $? "$dir/a.log"

"$policyd" -t -c "$dir/a.conf" > "$dir/t.out" 2>&1
st=$?
[ $st -ne 0 ] && grep -q "^$dir/a.conf:$line: \[milter\] window" "$dir/t.out"
tap_ok "-t on a bad file fails, naming file:line" $? "$dir/t.out"
"$policyd" -t -c "$dir/good.conf" > "$dir/t2.out" 2>&1
tap_ok "-t on a good file: OK" $? "$dir/t2.out"

# Out of descriptors (RLIMIT_NOFILE 40, 60 clients): accepting pauses,
# no spinning, and service comes back once the clients go.
if command -v prlimit >/dev/null && [ -z "${SLOWSPAM_VALGRIND:-}" ]; then
	prlimit --nofile=40:40 "$policyd" -f -c "$dir/good.conf" \
		--socket "unix:$dir/f.sock" --set policyd.metrics_listen= \
		--spf-zone "$dir/zone" 2>"$dir/f.log" &
	pid_f=$!
	track_pid $pid_f
	wait_for 5 grep -q "slowspam-policyd .* on unix:" "$dir/f.log"
	cpu() { awk '{ print $14 + $15 }' "/proc/$pid_f/stat"; }
	python3 - "$dir/f.sock" > "$dir/flood.out" 2>&1 <<'PY' &
import socket, sys, time
conns = []
for _ in range(60):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    conns.append(s)
time.sleep(3)
PY
	flood=$!
	sleep 0.5
	c0=$(cpu)
	sleep 2
	c1=$(cpu)
	echo "# out of descriptors: $((c1 - c0)) ticks of CPU in 2 s"
	wait $flood
	kill -USR1 $pid_f
	wait_for 5 grep -q "totals .*accept_pauses=[1-9]" "$dir/f.log" &&
		[ $((c1 - c0)) -lt 50 ]
	tap_ok "out of descriptors: accepting pauses, no spinning" $? "$dir/f.log"
	$client "unix:$dir/f.sock" session protocol_name=SMTP -- RCPT \
		> "$dir/f.out" 2>&1
	[ "$(cat "$dir/f.out")" = DUNNO ]
	tap_ok "... and answers again once the clients are gone" $? "$dir/f.out" "$dir/f.log"
else
	tap_ok "out of descriptors # SKIP no prlimit, or valgrind" 0
	tap_ok "answers again # SKIP no prlimit" 0
fi

# As root with [policyd] user: the socket is given away, then the drop.
if [ "$(id -u)" -eq 0 ] && getent group nogroup >/dev/null; then
	mkdir "$dir/cstore" && chown nobody "$dir/cstore"
	"$policyd" -f -c "$dir/good.conf" --socket "unix:$dir/c.sock" \
		--set policyd.user=nobody --set policyd.socket_group=nogroup \
		--set policyd.socket_mode=0620 --set policyd.metrics_listen= \
		--set "store.path=$dir/cstore/hits.lmdb" \
		--spf-zone "$dir/zone" 2>"$dir/c.log" &
	pid_c=$!
	track_pid $pid_c
	wait_for 5 grep -q "slowspam-policyd .* on unix:" "$dir/c.log"
	owner=$(stat -c '%U:%G %a' "$dir/c.sock" 2>&1)
	[ "$owner" = "nobody:nogroup 620" ]
	tap_ok "[policyd] user, socket_group, socket_mode: $owner" $? "$dir/c.log"
	# Its own store, empty: no verdict, but SPF.
	# shellcheck disable=SC2046
	$client "unix:$dir/c.sock" session $(attrs 192.0.2.10 1111 c1) -- \
		RCPT:a@primary.test > "$dir/c.out" 2>&1
	uid=$(awk '/^Uid:/ { print $2 $3 $4 $5 }' "/proc/$pid_c/status")
	[ "$uid" = "$(id -u nobody)$(id -u nobody)$(id -u nobody)$(id -u nobody)" ] &&
		grep -q "^PREPEND Authentication-Results:" "$dir/c.out"
	tap_ok "then it runs as nobody, and answers" $? "$dir/c.out" "$dir/c.log"
else
	tap_ok "[policyd] user # SKIP not root" 0
	tap_ok "the drop to [policyd] user # SKIP not root" 0
fi

# A verdict that waits (Redis busy for 4 s in DEBUG SLEEP): another
# connection is answered meanwhile (while that verdict still waits; the
# margins leave room for the clients' own start-up on a loaded machine),
# and SIGTERM still gives the answer in flight before the exit.
if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
	rport=$(free_port 127.0.0.1) || bail "no free port on 127.0.0.1"
	redis-server --port "$rport" --bind 127.0.0.1 --save '' \
		--appendonly no --dir "$dir" --daemonize no \
		--enable-debug-command local > "$dir/redis.log" 2>&1 &
	track_pid $!
	wait_for 10 sh -c "redis-cli -p $rport PING 2>/dev/null | grep -q PONG"
	"$policyd" -f -c "$dir/good.conf" --socket "unix:$dir/d.sock" \
		--set store.backend=redis --set "store.redis=127.0.0.1:$rport" \
		--set store.redis_timeout=10s --set policyd.workers=2 \
		--set policyd.metrics_listen= --spf-zone "$dir/zone" \
		2>"$dir/d.log" &
	pid_d=$!
	track_pid $pid_d
	wait_for 5 grep -q "slowspam-policyd .* on unix:" "$dir/d.log"
	redis-cli -p "$rport" DEBUG SLEEP 4 >/dev/null 2>&1 &
	sleep 0.2
	# shellcheck disable=SC2046
	$client "unix:$dir/d.sock" session $(attrs 192.0.2.30 1111 s1) -- \
		RCPT:a@primary.test > "$dir/slow.out" 2>&1 &
	slow=$!
	sleep 1
	t0=$(date +%s%N)
	$client "unix:$dir/d.sock" session protocol_name=SMTP -- RCPT \
		> "$dir/fast.out" 2>&1
	t1=$(date +%s%N)
	echo "# answered in $(((t1 - t0) / 1000000)) ms while a verdict waits on Redis"
	[ "$(cat "$dir/fast.out")" = DUNNO ] && [ $((t1 - t0)) -lt 2500000000 ] &&
		kill -0 $slow 2>/dev/null
	tap_ok "a verdict waiting on the store delays no other connection" $? "$dir/fast.out"
	kill $pid_d
	wait $slow
	grep -q "^PREPEND Authentication-Results:" "$dir/slow.out" &&
		grep -q "stopping: 1 answers in flight" "$dir/d.log"
	tap_ok "SIGTERM with a verdict in flight: its answer is given" $? "$dir/slow.out" "$dir/d.log"
	wait $pid_d
	st=$?
	# shellcheck disable=SC2086
	lib_pids=$(lib_without "$pid_d" $lib_pids)
	[ $st -eq 0 ]
	tap_ok "... then it exits 0" $? "$dir/d.log"
else
	tap_ok "slow verdict # SKIP no redis-server" 0
	tap_ok "SIGTERM in flight # SKIP no redis-server" 0
	tap_ok "exit 0 # SKIP no redis-server" 0
fi

# SPF's DNS never answers: a resolv.conf naming a local UDP port that
# reads and never answers, bind-mounted in a mount namespace of the
# daemon's own, SPF on real DNS (no --spf-zone), workers = 4. Three
# sessions wait on it, each asked again on a new connection (Postfix
# after its timeout): the retries are parked on their busy sessions, so
# the fourth worker answers another client at once. Then SIGTERM: at
# the deadline (10 s) the answers not given are given up, and it exits.
if [ -z "${SLOWSPAM_VALGRIND:-}" ] && unshare -m true 2>/dev/null; then
	ns=127.53.$(($$ % 250 + 1)).$((($$ / 250) % 250 + 1))
	python3 - "$ns" > "$dir/bh.out" 2>&1 <<'PY' &
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 53))
print("ready", flush=True)
while True:
    s.recvfrom(4096)    # never answers
PY
	track_pid $!
	wait_for 5 grep -q ready "$dir/bh.out"
	printf 'nameserver %s\noptions timeout:20 attempts:1\n' "$ns" \
		> "$dir/resolv.conf"
	# shellcheck disable=SC2016
	unshare -m sh -c 'mount --bind "$1" /etc/resolv.conf && shift &&
		exec "$@"' sh "$dir/resolv.conf" "$policyd" -f -c "$dir/good.conf" \
		--socket "unix:$dir/h.sock" --set policyd.workers=4 \
		--set policyd.metrics_listen= 2>"$dir/h.log" &
	pid_h=$!
	track_pid $pid_h
	wait_for 5 grep -q "slowspam-policyd .* on unix:" "$dir/h.log"
	H=unix:$dir/h.sock
	# slow NAME: sessions 1 to 3 each ask, in the background.
	slow() {
		for p in 1 2 3; do
			# shellcheck disable=SC2046
			$client "$H" timed $(attrs 192.0.2.6$p 700$p h$p) -- \
				RCPT:a@primary.test,sender=a@slow.test \
				> "$dir/$1$p.out" 2>&1 &
		done
		sleep 0.5
	}
	slow slow
	slow again
	# shellcheck disable=SC2046
	$client "$H" timed $(attrs 192.0.2.70 7100 h4) sasl_username=user -- \
		RCPT:a@primary.test > "$dir/quick.out" 2>&1
	ms=$(sed -n 's/^ms=\([0-9]*\) .*/\1/p' "$dir/quick.out")
	echo "# 3 SPF checks stuck in DNS, 3 retries parked: another client answered in $ms ms"
	[ -n "$ms" ] && [ "$ms" -lt 2000 ] && grep -q " DUNNO$" "$dir/quick.out" &&
		[ ! -s "$dir/slow1.out" ]
	tap_ok "DNS that never answers: retries parked, another client answered at once" $? \
		"$dir/quick.out" "$dir/slow1.out" "$dir/h.log"
	t0=$(date +%s%N)
	kill $pid_h
	wait $pid_h
	st=$?
	t1=$(date +%s%N)
	# shellcheck disable=SC2086
	lib_pids=$(lib_without "$pid_h" $lib_pids)
	ms=$(((t1 - t0) / 1000000))
	echo "# SIGTERM with 6 answers stuck in DNS: exited after $ms ms"
	[ $st -eq 0 ] && [ "$ms" -lt 12000 ] &&
		grep -q "stopping: 6 answers not given after 10000 ms: exiting without them" "$dir/h.log" &&
		[ ! -e "$dir/h.sock" ]
	tap_ok "SIGTERM with answers stuck in DNS: exits 0 at the deadline" $? "$dir/h.log"
else
	tap_ok "DNS that never answers # SKIP no unshare -m, or valgrind" 0
	tap_ok "SIGTERM stuck in DNS # SKIP no unshare -m, or valgrind" 0
fi

kill $pid_a
wait $pid_a
st=$?
# shellcheck disable=SC2086
lib_pids=$(lib_without "$pid_a" $lib_pids)
[ $st -eq 0 ] && grep -q "slowspam-policyd stopped" "$dir/a.log" &&
	[ ! -e "$dir/a.sock" ]
tap_ok "SIGTERM stops it, status 0, its socket removed" $? "$dir/a.log"
tap_done
