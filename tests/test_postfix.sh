#!/bin/sh
# test_postfix.sh - "nothing lost": a real Postfix that meets the tar pit
# first gets a clean 4xx and delivers through its next hop.
#
# Starts tarpitd (max_hold 3s) on 127.0.0.61, a Postfix "primary" that
# receives on 127.0.0.62 and delivers to a Maildir with virtual(8), and a
# Postfix "sender" whose relayhost lists the tar pit first and the primary
# second, binding its SMTP client to 127.0.0.63. Injects one message with
# sendmail and waits for it in the primary's Maildir. Prints TAP.
# Needs root and Postfix; otherwise skips.
PATH=$PATH:/usr/sbin:/sbin
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
# shellcheck source=tests/lib.sh
. "$top_srcdir/tests/lib.sh"
tarpitd=$top_builddir/tarpitd/tarpitd

TARPIT_ADDR=127.0.0.61
PRIMARY_ADDR=127.0.0.62
SENDER_ADDR=127.0.0.63
WAIT_LIMIT=60

[ "$(id -u)" -eq 0 ] || tap_skip "needs root to run private Postfix instances"
need_cmds postfix sendmail postconf
command -v python3 >/dev/null 2>&1 || bail "python3 is needed to probe ports"
[ -x "$tarpitd" ] || bail "no tarpitd at $tarpitd (build first)"

make_dir postfix
# shellcheck source=tests/lib_mta.sh
. "$top_srcdir/tests/lib_mta.sh"
bail_logs="$dir/tarpitd.log $dir/*/maillog $dir/*.out $dir/*/*.out"

tarpit_port=$(free_port $TARPIT_ADDR) || bail "no free port on $TARPIT_ADDR"

# --- the tar pit (it makes the store folder itself, as nobody's)
cat > "$dir/tarpitd.conf" <<EOF
[tarpitd]
listen = $TARPIT_ADDR:$tarpit_port
hostname = tarpit.test
greet_wait = 1s
drip_interval = 500ms
max_hold = 3s
user = nobody
[store]
path = $dir/store/hits.lmdb
EOF
t0=$(now)
tarpitd_start "$dir/tarpitd.conf" "$dir/tarpitd.log"

# --- Postfix instances: the primary delivers to a Maildir as 65534
mta_primary $PRIMARY_ADDR

etc=$(postfix_instance sender "$dir/sender" "" "")
cat >> "$etc/main.cf" <<EOF
relayhost = [$TARPIT_ADDR]:$tarpit_port, [$PRIMARY_ADDR]:$primary_port
smtp_bind_address = $SENDER_ADDR
EOF
postfix_start "$etc"


# --- one message
token=slowspam-nothing-lost-$$-$(date +%s)
cat > "$dir/msg" <<EOF
From: sender@test.example
To: rcpt@primary.example
Subject: $token
Message-Id: <$token@sender.test.example>

Nothing lost: $token
EOF
t1=$(now)
sendmail -C "$dir/sender/etc" -f sender@test.example rcpt@primary.example \
	< "$dir/msg" > "$dir/sendmail.out" 2>&1 || bail "sendmail failed"

# --- wait for it in the primary's Maildir
maildir=$primary_maildir
wait_for $WAIT_LIMIT maildir_find "$maildir" "$token" > /dev/null
found=$(maildir_find "$maildir" "$token")
t2=$(now)
# The tar pit logs its session at disconnect, before Postfix moves on;
# give the log writer a moment all the same.
wait_for 5 grep -q "session client=$SENDER_ADDR " "$dir/tarpitd.log"
if [ -n "$found" ]; then what=delivered; else what="NOT delivered"; fi
awk -v w="$what" -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN {
	printf "# %s %.1f s after injection (%.1f s after tarpitd start)\n", w, c - b, c - a
}'

# --- checks
tap_plan 4
log=$dir/sender/maillog
[ -n "$found" ] && grep -q "^Subject: $token\$" "$found" &&
	grep -q "^Message-I[Dd]: <$token@sender.test.example>" "$found"
tap_ok "message arrived in the primary's Maildir within ${WAIT_LIMIT}s" $? \
	"$log" "$dir/primary/maillog" "$dir/tarpitd.log"

# (b) the tar pit's 421, logged for the tar-pit relay, before the delivery
line421=$(grep -n "host $TARPIT_ADDR\[$TARPIT_ADDR\].*421 4\.7\.0 tarpit\.test" "$log" |
	head -n 1 | cut -d: -f1)
linesent=$(grep -n "relay=$PRIMARY_ADDR\[$PRIMARY_ADDR\]:$primary_port.*status=sent" "$log" |
	head -n 1 | cut -d: -f1)
[ -n "$line421" ] && [ -n "$linesent" ] && [ "$line421" -lt "$linesent" ]
tap_ok "sender logged the tar pit's 421 before the delivery" $? "$log"

# (c) delivered via the primary, and not through the tar pit
[ -n "$linesent" ] && ! grep -q "relay=$TARPIT_ADDR.*status=sent" "$log"
tap_ok "sender logged status=sent via $PRIMARY_ADDR" $? "$log"

# (d) the tar pit held the sender until max_hold, then said 421 and closed
grep -q "session client=$SENDER_ADDR .*helo=sender\.test\.example .*end=max_hold" \
	"$dir/tarpitd.log"
tap_ok "tarpitd logged the sender's session with end=max_hold" $? "$dir/tarpitd.log"

tap_done
