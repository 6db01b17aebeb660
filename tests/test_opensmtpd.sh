#!/bin/sh
# test_opensmtpd.sh - "nothing lost" with a real OpenSMTPD 6.8 as the
# sender: it meets the tar pit first, delivers through the primary on a
# second connection, and the tar pit records no bot evidence against it.
#
# OpenSMTPD conflicts with Postfix, so Debian's package is unpacked into
# a cached private prefix (tests/lib_mta.sh) and runs in its own UTS and
# mount namespaces. Its queue, chroot and control socket paths are
# compiled in (/var/spool/smtpd, /var/lib/opensmtpd/empty,
# /var/run/smtpd.sock): private folders are bind-mounted over /var/spool,
# /var/lib and /run there. Its users opensmtpd and opensmtpq are in the
# private passwd. Its resolver (libasr) reads "lookup file" in
# resolv.conf, so names come from the private hosts file only.
#
# OpenSMTPD's relay URL has one port for all hosts: it relays to the name
# mx.slowspam.test, which the private hosts file gives two addresses, the
# tar pit's (127.0.0.151) first and the Postfix primary's (127.0.0.152,
# delivering to a Maildir) second, both on the same port. It listens on
# 127.0.0.153 and sends from there; swaks submits one message from
# 127.0.0.154.
#
# What OpenSMTPD 6.8 does (its mta_session.c, mta.c, limit.c and io.c):
# it connects to the first address; 2 s later (conn-delay-relay) it
# races a second connection - to the other address, as a route whose
# first connection is not through EHLO yet takes no other - which takes
# the message and delivers it. The first connection keeps reading the
# tar pit's EHLO reply - its timeout is 300 s per read (io_set_timeout
# 300000, re-armed at every event), so a drip holds it - until the final
# "250 " line at max_hold; with nothing left to send, it hangs on 10 s
# (session-keepalive) for more mail without reading, sends QUIT and
# reads the 421 that the tar pit sent one drip_interval after the reply
# and closed. It never hangs up while a reply drips, so it is never
# "impatient". Only its -T mta trace shows the replies it reads.
#
# Needs root, swaks, unshare, python3, dpkg-deb, apt-get and Postfix;
# otherwise skips. Prints TAP.
PATH=$PATH:/usr/sbin:/sbin
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
# shellcheck source=tests/lib.sh
. "$top_srcdir/tests/lib.sh"
tarpitd=$top_builddir/tarpitd/tarpitd
ctl=$top_builddir/slowspamctl/slowspamctl

TARPIT_ADDR=127.0.0.151
PRIMARY_ADDR=127.0.0.152
OSMTPD_ADDR=127.0.0.153	# OpenSMTPD's listener and its client's source
CLIENT_ADDR=127.0.0.154	# swaks
OSMTPD_HOST=osmtpd.slowspam.test
MX_NAME=mx.slowspam.test
MAX_HOLD=10	# s
# s: max_hold, then OpenSMTPD's 10 s of hanging on, and some
WAIT_LIMIT=$((MAX_HOLD + 25))
OSMTPD_UID=991	# opensmtpd; opensmtpq is one more

[ "$(id -u)" -eq 0 ] ||
	tap_skip "needs root to run a private OpenSMTPD in its own namespaces"
need_cmds postfix swaks unshare python3 dpkg-deb apt-get mount hostname
for prog in "$tarpitd" "$ctl"; do
	[ -x "$prog" ] || bail "no $prog (build first)"
done
t0=$(now)

make_dir opensmtpd
bail_logs="$dir/tarpitd.log $dir/osmtpd.out $dir/swaks.out $dir/*.out $dir/primary/maillog $dir/primary/*.out"
# shellcheck source=tests/lib_mta.sh
. "$top_srcdir/tests/lib_mta.sh"

# --- OpenSMTPD's package; libevent comes with libunbound8 only, which a
# fresh machine may lack (libasr is built in)
mta_fetch opensmtpd opensmtpd libevent-2.1-7t64,libevent-2.1-7
smtpd=$mta_prefix/usr/sbin/smtpd
missing=$(mta_missing "$smtpd")
[ -z "$missing" ] || tap_skip "OpenSMTPD's libraries are missing: $missing"

# --- the primary, and the tar pit on the same port (one port per relay)
mta_primary $PRIMARY_ADDR $TARPIT_ADDR
port=$primary_port
mta_tarpit "$dir" $TARPIT_ADDR "$port" "${MAX_HOLD}s"

# --- OpenSMTPD's private files
mta_etc "$dir/etc" $OSMTPD_HOST $OSMTPD_ADDR \
	opensmtpd:$OSMTPD_UID:$OSMTPD_UID opensmtpq:$((OSMTPD_UID + 1)):$((OSMTPD_UID + 1))
# libasr asks DNS first unless told; the tar pit first, then the primary
echo 'lookup file' >> "$dir/etc/resolv.conf"
printf '%s\t%s\n' $TARPIT_ADDR $MX_NAME $PRIMARY_ADDR $MX_NAME >> "$dir/etc/hosts"
mkdir -p "$dir/var/spool/smtpd" "$dir/var/lib/opensmtpd/empty" "$dir/var/run"
chmod 711 "$dir/var/spool/smtpd"
osmtpd_port=$(free_port $OSMTPD_ADDR) || bail "no free port on $OSMTPD_ADDR"
# Not in $dir/etc: mta_start would bind it over a /etc/smtpd.conf that
# is not there.
cat > "$dir/smtpd.conf" <<EOF
listen on $OSMTPD_ADDR port $osmtpd_port
action "mx" relay host smtp://$MX_NAME:$port src $OSMTPD_ADDR
match from src $CLIENT_ADDR for domain primary.example action "mx"
EOF
cat > "$dir/stamp.py" <<'EOF'
import sys, time
for line in sys.stdin.buffer:
    sys.stdout.buffer.write(b"%.3f " % time.time() + line)
    sys.stdout.buffer.flush()
EOF
# smtpd -d logs to stderr without times: each line gets its time here.
# shellcheck disable=SC2016 # the inner script's own $0, $1, $2
mta_start osmtpd $OSMTPD_HOST "$dir/etc" -e LD_LIBRARY_PATH="$mta_libpath" \
	-b "$dir/var/spool" /var/spool -b "$dir/var/lib" /var/lib \
	-b "$dir/var/run" /run -- \
	sh -c '"$0" -d -T mta -f "$1" 2>&1 | python3 -u "$2"' \
	"$smtpd" "$dir/smtpd.conf" "$dir/stamp.py"
wait_listen $OSMTPD_ADDR "$osmtpd_port" 10 ||
	bail "OpenSMTPD does not listen on $OSMTPD_ADDR:$osmtpd_port"
log=$dir/osmtpd.out

# --- one message
token=slowspam-opensmtpd-$$-$(date +%s)
t1=$(now)
swaks --server $OSMTPD_ADDR:"$osmtpd_port" --local-interface $CLIENT_ADDR \
	--helo client.slowspam.test --from sender@client.slowspam.test \
	--to rcpt@primary.example --header "Subject: $token" \
	--header "Message-Id: <$token@client.slowspam.test>" --timeout 30 \
	> "$dir/swaks.out" 2>&1 || bail "swaks could not submit the message"

# re ADDR: ADDR as a regular expression
re() {
	echo "$1" | sed 's/\./\\./g'
}
tarpit_re=$(re $TARPIT_ADDR)
primary_re=$(re $PRIMARY_ADDR)
# The tar-pit connection: its session id in the info lines, its pointer
# in the trace (it is the one that read the tar pit's greeting).
# shellcheck disable=SC2317
tarpit_ids() {
	sid=$(sed -n "s/^[0-9.]* \([0-9a-f]*\) mta connecting address=smtp:\/\/$tarpit_re:$port .*/\1/p" "$log" | head -n 1)
	ptr=$(sed -n 's/^[0-9.]* mta: \(0x[0-9a-f]*\): <<< 220[ -]tarpit\.test .*/\1/p' "$log" | head -n 1)
	[ -n "$sid" ] && [ -n "$ptr" ]
}
# shellcheck disable=SC2317
tarpit_gone() {
	tarpit_ids && grep -Eq "^[0-9.]* $sid mta (disconnected|error) " "$log"
}

# --- wait for the delivery, then for OpenSMTPD to leave the tar pit
wait_for $WAIT_LIMIT maildir_find "$primary_maildir" "$token" > /dev/null
found=$(maildir_find "$primary_maildir" "$token")
wait_for $WAIT_LIMIT tarpit_gone
wait_for 5 grep -q "session client=$OSMTPD_ADDR " "$dir/tarpitd.log"
wait_for 5 tarpit_record "$dir/tarpitd.conf" $OSMTPD_ADDR > /dev/null
tarpit_ids

# at PATTERN: the time of OpenSMTPD's first log line matching PATTERN
# (awk), in seconds after the submission
at() {
	awk -v re="$1" -v t="$t1" '$0 ~ re { printf "%.1f", $1 - t; exit }' "$log"
}
held=$(sed -n "s/.* client=$(re $OSMTPD_ADDR) .* held=\([0-9.]*\) .*/\1/p" \
	"$dir/tarpitd.log" | head -n 1)
if [ -n "$found" ]; then what=delivered; else what="NOT delivered"; fi
echo "# $what $(at "mta delivery .*relay=\"$primary_re ") s after submission;" \
	"OpenSMTPD connected to the tar pit at $(at "mta connecting address=smtp://$tarpit_re:") s," \
	"raced the primary at $(at "mta connecting address=smtp://$primary_re:") s"
echo "# the tar pit's EHLO reply ended at $(at "mta: $ptr: <<< 250 ") s," \
	"QUIT at $(at "mta: $ptr: >>> QUIT") s, OpenSMTPD read the 421 at" \
	"$(at "mta: $ptr: <<< 421 ") s; tarpitd held it $held s"

tap_plan 6

# (a) delivered, by OpenSMTPD via the primary and not via the tar pit
[ -n "$found" ] && grep -q "^Subject: $token\$" "$found" &&
	grep -q "^Message-I[Dd]: <$token@client.slowspam.test>" "$found" &&
	grep -q "mta delivery .* relay=\"$primary_re ($MX_NAME)\" .* result=\"Ok\"" "$log" &&
	! grep -q "mta delivery .* relay=\"$tarpit_re " "$log"
tap_ok "delivered into the primary's Maildir via $PRIMARY_ADDR within ${WAIT_LIMIT}s" $? \
	"$log" "$dir/primary/maillog" "$dir/tarpitd.log"

# after PTR A B [C]: on OpenSMTPD's connection PTR, a trace line that
# starts with A, later one with B (and later still one with C)
after() {
	awk -v p="mta: $1: " -v a="$2" -v b="$3" -v c="${4:-}" '
	index($0, p a) && !n { n = 1; next }
	index($0, p b) && n == 1 { n = 2; if (c == "") exit; next }
	index($0, p c) && n == 2 { n = 3; exit }
	END { exit !(n == (c == "" ? 2 : 3)) }' "$log"
}

# (b) the tar pit's 421, read by OpenSMTPD as a reply of its own, after
# the EHLO reply's last ("250 ") line: a 421 as that reply's last line
# reads as 250 to OpenSMTPD, which then only meets the close.
after "$ptr" "<<< 250 " "<<< 421 4.7.0 tarpit.test Service not available"
tap_ok "OpenSMTPD read the tar pit's 421 4.7.0 as a reply after its EHLO reply" $? "$log"

# The key behaviour: it read the whole EHLO reply, then said QUIT and
# read the 421 - it did not hang up, time out or reconnect while the
# reply dripped, and saw no error on that connection.
after "$ptr" "<<< 250 " ">>> QUIT" "<<< 421 " &&
	grep -q "^[0-9.]* $sid mta disconnected reason=quit " "$log" &&
	! grep -q "^[0-9.]* $sid mta error " "$log"
tap_ok "OpenSMTPD read the whole EHLO reply, then QUIT; no error on that connection" $? "$log"

# (c) held to max_hold
grep -q "session client=$(re $OSMTPD_ADDR) .*helo=$OSMTPD_HOST .*evidence=- .*end=max_hold\$" \
	"$dir/tarpitd.log"
tap_ok "tarpitd logged OpenSMTPD's session with end=max_hold" $? "$dir/tarpitd.log"
awk -v h="$held" -v m=$MAX_HOLD 'BEGIN { exit !(h != "" && h >= m && h < m + 2) }'
tap_ok "tarpitd held OpenSMTPD max_hold, ${MAX_HOLD}-$((MAX_HOLD + 2)) s (held $held s)" $? \
	"$dir/tarpitd.log"

# (d) no bot evidence in the record of OpenSMTPD's address
evidence=$(tarpit_evidence "$dir/tarpitd.conf" $OSMTPD_ADDR)
[ "$evidence" = - ]
tap_ok "the tar pit's record of $OSMTPD_ADDR has no evidence (${evidence:-no record})" $? \
	"$dir/tarpitd.log"

awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "# whole test %.1f s\n", b - a }'
tap_done
