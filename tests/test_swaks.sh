#!/bin/sh
# test_swaks.sh - tarpitd against swaks, a real SMTP client: it is held,
# its EHLO reply ends with "250 " near max_hold, the 421 answers its MAIL
# FROM, it delivers nothing, and the session is logged. Prints TAP.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
# shellcheck source=tests/lib.sh
. "$top_srcdir/tests/lib.sh"
tarpitd=$top_builddir/tarpitd/tarpitd
need_cmds swaks
make_dir swaks
bail_logs="$dir/tarpitd.log"
port=$(free_port 127.0.0.1) || bail "no free port on 127.0.0.1"
cat > "$dir/slowspam.conf" <<CONF
[tarpitd]
listen = 127.0.0.1:$port
hostname = tarpit.test
greet_wait = 500ms
drip_interval = 250ms
max_hold = 3s
user = nobody
[store]
path = $dir/store/hits.lmdb
CONF
tarpitd_start "$dir/slowspam.conf" "$dir/tarpitd.log"

tap_plan 6
out=$dir/swaks.out
start=$(date +%s%N)
swaks --server "127.0.0.1:$port" --from sender@example.org \
	--to rcpt@example.org --helo swaks.example --timeout 20 \
	>"$out" 2>&1
status=$?
elapsed=$((($(date +%s%N) - start) / 1000000))
[ "$status" -ne 0 ]
tap_ok "swaks fails: the tar pit delivers nothing (status $status)" $? "$out"
grep -q '421 4.7.0 tarpit.test Service not available, try again later' "$out"
tap_ok "swaks got the 421 4.7.0" $? "$out"
# One final 250 (the EHLO reply's), nothing else 2xx, 354 or 5xx.
[ "$(grep -Ec '^<[-*]+ +2[0-9][0-9] ' "$out")" -eq 2 ] &&
	grep -Eq '^<[-*]+ +250 HELP' "$out" &&
	! grep -Eq '^<[-*]+ +(354|5[0-9][0-9])' "$out"
tap_ok "the greeting and the EHLO reply only: no other 2xx, no 354, no 5xx" $? "$out"
grep -q -- '-> MAIL FROM' "$out" && ! grep -q -- '-> RCPT TO' "$out"
tap_ok "the 421 answered MAIL FROM: no RCPT, no DATA" $? "$out"
# The reply ends at the last drip before max_hold (3 s, drip 250 ms).
[ "$elapsed" -ge 2700 ] && [ "$elapsed" -le 6000 ]
tap_ok "held for max_hold and let go ($elapsed ms)" $? "$out"
wait_for 3 grep -q 'helo=swaks.example' "$dir/tarpitd.log"
grep -q 'session client=127.0.0.1 .*helo=swaks.example helo_class=fqdn' "$dir/tarpitd.log"
tap_ok "tarpitd logged the session with its HELO" $? "$out" "$dir/tarpitd.log"
tap_done
