#!/bin/sh
# test_postfix_milter.sh - slowspam-milter behind a real Postfix: what it
# does to mail from clients that met the tar pit first.
#
# Starts tarpitd on 127.0.0.91, a Postfix "primary" on 127.0.0.92 whose
# smtpd calls slowspam-milter over a unix socket and delivers
# rcpt@primary.example and trap@primary.example to Maildirs (virtual(8)),
# and the milter itself (restarted with --set milter.action=... between
# cases). Clients are swaks bound to 127.0.0.94-99. Checks:
#   - a control client that never met the tar pit gets no X-Slowspam
#     (it also marks the primary alive, which verdicts need);
#   - action=tag: tar pit first -> delivered with verdict=backup-first;
#   - action=quarantine: tar pit first -> held in the hold queue;
#   - action=divert: tar pit first -> delivered to divert_to only, with
#     X-Slowspam-Original-Recipients;
#   - primary first, tar pit later: no X-Slowspam;
#   - milter stopped: mail still flows (milter_default_action = accept);
#   - store folder removed under a running milter: mail still flows.
# Prints TAP. Needs root, Postfix and swaks; otherwise skips.
#
# Some functions are only called through wait_for.
# shellcheck disable=SC2317
PATH=$PATH:/usr/sbin:/sbin
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
# shellcheck source=tests/lib.sh
. "$top_srcdir/tests/lib.sh"
tarpitd=$top_builddir/tarpitd/tarpitd
milter=$top_builddir/milter/slowspam-milter
ctl=$top_builddir/slowspamctl/slowspamctl

TARPIT_ADDR=127.0.0.91
PRIMARY_ADDR=127.0.0.92
WAIT_LIMIT=20

[ "$(id -u)" -eq 0 ] || tap_skip "needs root to run a private Postfix instance"
need_cmds postfix postconf postqueue swaks
command -v python3 >/dev/null 2>&1 || bail "python3 is needed to probe ports"
for prog in "$tarpitd" "$milter" "$ctl"; do
	[ -x "$prog" ] || bail "no $prog (build first)"
done

make_dir pfmilter
bail_logs="$dir/tarpitd.log $dir/milter-*.log $dir/primary/maillog $dir/*.out $dir/*/*.out"
milter_pid=
milter_n=0

stop_milter() {
	[ -n "$milter_pid" ] && stop_pid "$milter_pid"
	milter_pid=
}

tarpit_port=$(free_port $TARPIT_ADDR) || bail "no free port on $TARPIT_ADDR"
primary_port=$(free_port $PRIMARY_ADDR) || bail "no free port on $PRIMARY_ADDR"
sock=$dir/milter.sock
conf=$dir/slowspam.conf

# One file for all three programs. tarpitd makes the store folder (owned
# by nobody); the milter runs as root and opens it as well.
cat > "$conf" <<EOF
[tarpitd]
listen = $TARPIT_ADDR:$tarpit_port
hostname = tarpit.test
greet_wait = 200ms
drip_interval = 200ms
max_hold = 1s
user = nobody
[milter]
socket = unix:$sock
action = tag
divert_to = trap@primary.example
# all test traffic is 127.x, trusted by default
trusted_networks =
spf = no
grace = 0
authserv_id = primary.test
[store]
path = $dir/store/hits.lmdb
EOF

t_start=$(date +%s)
tarpitd_start "$conf" "$dir/tarpitd.log"

# start_milter ACTION: a fresh milter with that action; log in
# $dir/milter-N-ACTION.log (milter_log names it).
start_milter() {
	stop_milter
	milter_n=$((milter_n + 1))
	milter_log=$dir/milter-$milter_n-$1.log
	"$milter" -f -c "$conf" --set "milter.action=$1" > "$milter_log" 2>&1 &
	milter_pid=$!
	track_pid "$milter_pid"
	wait_for 10 milter_up || bail "slowspam-milter (action=$1) did not start"
	# smtpd runs as postfix: it needs write permission on the socket.
	chmod 666 "$sock"
}
# milter_up: succeed once the milter serves; bail if it is gone.
milter_up() {
	kill -0 "$milter_pid" 2>/dev/null ||
		bail "slowspam-milter did not start ($milter_log)"
	[ -S "$sock" ] && grep -q "slowspam-milter .* on unix:" "$milter_log"
}

# --- the primary Postfix
inst=$dir/primary
mkdir -p "$inst/mail"
chown 65534:65534 "$inst/mail"
printf 'rcpt@primary.example rcpt/\ntrap@primary.example trap/\n' > "$inst/vmailbox"
etc=$(postfix_instance primary "$inst" $PRIMARY_ADDR "$primary_port")
cat >> "$etc/main.cf" <<EOF
virtual_mailbox_domains = primary.example
virtual_mailbox_base = $inst/mail
virtual_mailbox_maps = texthash:$inst/vmailbox
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
smtpd_milters = unix:$sock
milter_default_action = accept
milter_protocol = 6
milter_connect_timeout = 5s
EOF
postfix_start "$etc"
wait_listen $PRIMARY_ADDR "$primary_port" 10 || bail "the primary Postfix does not listen"

start_milter tag

# --- helpers for the cases
# primary_recorded LAST_OCTET: the primary's contact with 127.0.0.N is in
# the store (written behind the answer, so a moment after it).
primary_recorded() {
	"$ctl" -c "$conf" lookup "127.0.0.$1" 2>/dev/null |
		grep -q "primary_sessions=[1-9]"
}
# tarpit_hit LAST_OCTET: 127.0.0.N meets the tar pit (held, then 421),
# and its record reaches the store.
tarpit_hit() {
	a=127.0.0.$1
	swaks --server "$TARPIT_ADDR:$tarpit_port" --local-interface "$a" \
		--quit-after EHLO --helo "client$1.example" --timeout 5 \
		> "$dir/tarpit-$1.out" 2>&1
	wait_for 5 tarpit_recorded "$a"
}
# tarpit_recorded ADDR: tarpitd logged ADDR's session, and it is in the store.
tarpit_recorded() {
	grep -q "session client=$1 " "$dir/tarpitd.log" &&
		"$ctl" -c "$conf" lookup "$1" 2>/dev/null |
		grep -q "tarpit_sessions=[1-9]"
}

# send LAST_OCTET TOKEN: a message from 127.0.0.N to rcpt@primary.example
send() {
	swaks --server "$PRIMARY_ADDR:$primary_port" --local-interface "127.0.0.$1" \
		--helo "client$1.example" --from "s$1@sender.example" \
		--to rcpt@primary.example --header "Subject: $2" --timeout 15 \
		> "$dir/send-$2.out" 2>&1
}

# find_in BOX TOKEN: wait for a message with TOKEN in the Maildir BOX;
# print its file name.
find_in() {
	wait_for $WAIT_LIMIT maildir_find "$inst/mail/$1" "$2"
}

# queue_settled: wait until nothing is left in incoming, active or deferred.
queue_settled() {
	wait_for $WAIT_LIMIT queue_empty
}
queue_empty() {
	[ -z "$(find "$inst/queue/incoming" "$inst/queue/active" \
		"$inst/queue/deferred" -type f 2>/dev/null)" ]
}

# header FILE NAME: the unfolded values of header NAME, one a line.
header() {
	awk -v want="$2" '
	/^$/ { exit }
	/^[ \t]/ { if (cur != "") cur = cur $0; next }
	{ if (cur != "") print cur; cur = "" }
	tolower(substr($0, 1, length(want) + 1)) == tolower(want ":") {
		cur = substr($0, length(want) + 2); sub(/^[ \t]+/, "", cur)
	}
	END { if (cur != "") print cur }' "$1"
}

tok=slowspam-pfm-$$-$(date +%s)
tap_plan 7

# 1. control: never at the tar pit; marks the primary alive. The milter
# counts only minutes before a tar-pit contact's own, so the primary's
# last quarter of an hour is written as tarpitd's store would hold it
# after it had been up that long (storetool, a test helper).
send 94 "$tok-control"
"$top_builddir/tests/storetool" "$dir/store/hits.lmdb" alive now-900000 \
	now-60000 >/dev/null
if f=$(find_in rcpt "$tok-control"); then
	if [ -z "$(header "$f" X-Slowspam)" ]; then
		tap_ok "control message from 127.0.0.94 delivered without X-Slowspam" 0
	else
		tap_fail "control message from 127.0.0.94 delivered without X-Slowspam" \
			"it has X-Slowspam" "$f" "$milter_log"
	fi
else
	tap_fail "control message from 127.0.0.94 delivered without X-Slowspam" \
		"not delivered" "$dir/send-$tok-control.out" "$inst/maillog" "$milter_log"
fi

# 2. action=tag
d="action=tag: 127.0.0.95 met the tar pit first, delivered with X-Slowspam: verdict=backup-first"
if ! tarpit_hit 95; then
	tap_fail "$d" "127.0.0.95 not recorded by the tar pit" "$dir/tarpit-95.out" "$dir/tarpitd.log"
else
	send 95 "$tok-tag"
	if ! f=$(find_in rcpt "$tok-tag"); then
		tap_fail "$d" "not delivered to rcpt@" "$dir/send-$tok-tag.out" \
			"$inst/maillog" "$milter_log"
	elif h=$(header "$f" X-Slowspam) &&
		echo "$h" | grep -q "^verdict=backup-first network=127\.0\.0\.95/32 .*helo=\"client95\.example\" .*action=tag tarpit=store\$"; then
		tap_ok "$d" 0
		echo "# X-Slowspam: $h"
	else
		tap_fail "$d" "X-Slowspam: '$h'" "$f" "$milter_log" "$dir/tarpitd.log"
	fi
fi

# 3. action=quarantine
start_milter quarantine
d="action=quarantine: 127.0.0.96 met the tar pit first, its message is in the hold queue"
if ! tarpit_hit 96; then
	tap_fail "$d" "127.0.0.96 not recorded by the tar pit" "$dir/tarpit-96.out" "$dir/tarpitd.log"
else
	send 96 "$tok-quarantine"
	queue_settled
	held=$(find "$inst/queue/hold" -type f -exec grep -l -- "$tok-quarantine" {} + 2>/dev/null |
		head -n 1)
	postqueue -c "$inst/etc" -p > "$dir/postqueue.out" 2>&1
	if [ -n "$held" ] && grep -q "^[0-9A-F]*!" "$dir/postqueue.out" &&
		grep -q "X-Slowspam: *verdict=backup-first .*action=quarantine" "$held" &&
		! grep -lq -- "$tok-quarantine" "$inst"/mail/*/new/* 2>/dev/null; then
		tap_ok "$d" 0
	else
		tap_fail "$d" "held file: '${held:-none}'; not in any Maildir expected" \
			"$dir/postqueue.out" "$dir/send-$tok-quarantine.out" \
			"$inst/maillog" "$milter_log"
	fi
fi

# 4. action=divert
start_milter divert
d="action=divert: 127.0.0.97 met the tar pit first, delivered to trap@ only, with X-Slowspam-Original-Recipients"
if ! tarpit_hit 97; then
	tap_fail "$d" "127.0.0.97 not recorded by the tar pit" "$dir/tarpit-97.out" "$dir/tarpitd.log"
else
	send 97 "$tok-divert"
	f=$(find_in trap "$tok-divert")
	queue_settled
	if [ -z "$f" ]; then
		tap_fail "$d" "not delivered to trap@" "$dir/send-$tok-divert.out" \
			"$inst/maillog" "$milter_log"
	elif grep -lq -- "$tok-divert" "$inst"/mail/rcpt/new/* 2>/dev/null; then
		tap_fail "$d" "also delivered to rcpt@" "$f" "$inst/maillog" "$milter_log"
	elif ! header "$f" X-Slowspam-Original-Recipients | grep -q "rcpt@primary\.example"; then
		tap_fail "$d" "no X-Slowspam-Original-Recipients naming rcpt@" "$f" "$milter_log"
	elif ! header "$f" X-Slowspam | grep -q "^verdict=backup-first .*action=divert tarpit=store\$"; then
		tap_fail "$d" "no X-Slowspam verdict=backup-first action=divert" "$f" "$milter_log"
	else
		tap_ok "$d" 0
		echo "# X-Slowspam-Original-Recipients: $(header "$f" X-Slowspam-Original-Recipients)"
	fi
fi

# 5. primary first (still action=divert: a wrong verdict would divert)
d="primary first: 127.0.0.98 sent, then met the tar pit; its next message has no X-Slowspam"
send 98 "$tok-first1"
find_in rcpt "$tok-first1" > /dev/null
# The tar pit must come after the primary's contact is recorded.
wait_for 5 primary_recorded 98 ||
	echo "# 127.0.0.98: the primary's contact not recorded"
if ! tarpit_hit 98; then
	tap_fail "$d" "127.0.0.98 not recorded by the tar pit" "$dir/tarpit-98.out" "$dir/tarpitd.log"
else
	send 98 "$tok-first2"
	if ! f=$(find_in rcpt "$tok-first2"); then
		tap_fail "$d" "second message not delivered to rcpt@" \
			"$dir/send-$tok-first2.out" "$inst/maillog" "$milter_log"
	elif [ -n "$(header "$f" X-Slowspam)" ]; then
		tap_fail "$d" "it has X-Slowspam" "$f" "$milter_log"
	else
		tap_ok "$d" 0
	fi
fi

# 6. milter stopped: milter_default_action = accept lets mail through.
stop_milter
d="milter stopped: a message from 127.0.0.95 (tar pit first) is delivered, untagged"
send 95 "$tok-nomilter"
if ! f=$(find_in rcpt "$tok-nomilter"); then
	tap_fail "$d" "not delivered" "$dir/send-$tok-nomilter.out" "$inst/maillog"
elif [ -n "$(header "$f" X-Slowspam)" ]; then
	tap_fail "$d" "it has X-Slowspam" "$f"
else
	tap_ok "$d" 0
	grep -i -m 1 "milter.*$sock" "$inst/maillog" | sed 's/^/# postfix: /'
fi

# 7. store folder removed under a running milter: mail still flows.
start_milter tag
d="store folder removed under the milter: a message from 127.0.0.99 (tar pit first) is delivered"
tarpit_hit 99 || echo "# 127.0.0.99 not recorded by the tar pit"
rm -rf "$dir/store"
send 99 "$tok-nostore"
if ! f=$(find_in rcpt "$tok-nostore"); then
	tap_fail "$d" "not delivered" "$dir/send-$tok-nostore.out" "$inst/maillog" "$milter_log"
else
	tap_ok "$d" 0
	h=$(header "$f" X-Slowspam)
	echo "# X-Slowspam: ${h:-(none)}"
	grep -E "store|127\.0\.0\.99" "$milter_log" | sed 's/^/# milter: /'
fi

echo "# $(($(date +%s) - t_start)) s in all"
tap_done
