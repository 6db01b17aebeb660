#!/bin/sh
# test_public_list.sh - a public tar pit: site A's tar pit published as a
# DNS list, site B's primary taking the tar-pit side of its verdict from
# it.
#
# Site A: tarpitd on 127.0.0.81 with its own LMDB store, "slowspamctl
# export --format rbldnsd" of that store ([list] seen = yes: a network
# with nothing else known is listed as 127.0.0.4), served by a real
# rbldnsd on 127.0.0.82. Site B: a real Postfix primary on 127.0.0.83
# with slowspam-milter, its OWN LMDB store and no tar pit, [milter]
# tarpit_list pointed at A's rbldnsd (tarpit_list_resolver); then
# slowspam-policyd on the same configuration, asked with
# policy_client.py as Postfix would. B's liveness around the tar-pit
# contact is proven by seeding B's store with alive marks for the last
# ten minutes (tests/storetool), as the milter would have written them
# had B been up and receiving mail that long.
#   - 127.0.0.12 meets A's tar pit (HELO a domain name), then mails B:
#     X-Slowspam verdict=backup-first ... tarpit=list;
#   - 127.0.0.13 meets A's tar pit with a bare HELO (127.0.0.3, bot):
#     verdict=backup-first-bot, tarpit=list;
#   - 127.0.0.14 never met the tar pit: no X-Slowspam;
#   - B's store holds no tar-pit record of them (the list's is merged per
#     session, never written);
#   - slowspam-policyd with the list answers PREPEND ... tarpit=list for
#     127.0.0.12 and nothing for 127.0.0.14.
# Prints TAP. Needs root, Postfix, swaks, rbldnsd and dig; else skips.
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
policyd=$top_builddir/policyd/slowspam-policyd
ctl=$top_builddir/slowspamctl/slowspamctl
storetool=$top_builddir/tests/storetool

TARPIT_ADDR=127.0.0.81
LIST_ADDR=127.0.0.82
PRIMARY_ADDR=127.0.0.83
ZONE=bl.example
WAIT_LIMIT=20

[ "$(id -u)" -eq 0 ] || tap_skip "needs root to run a private Postfix instance"
need_cmds postfix postconf swaks dig /usr/sbin/rbldnsd python3
for prog in "$tarpitd" "$milter" "$policyd" "$ctl" "$storetool"; do
	[ -x "$prog" ] || bail "no $prog (build first)"
done

make_dir publist
# shellcheck source=tests/lib_mta.sh
. "$top_srcdir/tests/lib_mta.sh"
mkdir -p "$dir/a" "$dir/b"
bail_logs="$dir/a/*.log $dir/b/*.log $dir/primary/maillog $dir/*.out"
tarpit_port=$(free_port $TARPIT_ADDR) || bail "no free port on $TARPIT_ADDR"
list_port=$(free_port $LIST_ADDR) || bail "no free port on $LIST_ADDR"
policy_port=$(free_port 127.0.0.1) || bail "no free port on 127.0.0.1"

# --- site A: the tar pit, its store, its list
cat > "$dir/a/slowspam.conf" <<EOF
[tarpitd]
listen = $TARPIT_ADDR:$tarpit_port
hostname = tarpit.a.example
greet_wait = 200ms
drip_interval = 200ms
max_hold = 1s
user = nobody
[milter]
# Only 127.0.0.1 stays out of the list (RFC 5782): the clients are 127.x.
trusted_networks =
[list]
seen = yes
[store]
path = $dir/a/store/hits.lmdb
EOF
tarpitd_start "$dir/a/slowspam.conf" "$dir/a/tarpitd.log"

# export: A's store as the list's data file, served at once (rbldnsd
# rereads a changed file within a second: -c 1).
export_list() {
	"$ctl" -c "$dir/a/slowspam.conf" export --format rbldnsd \
		-o "$dir/a/list.rbldnsd" > "$dir/a/export.out" 2>&1
}
export_list || bail "slowspamctl export failed"
rbldnsd_start $ZONE "$dir/a/list.rbldnsd" $LIST_ADDR "$list_port"
bail_logs="$bail_logs $dir/a/list.rbldnsd.log"

# listed N: the list answers for 127.0.0.N (its A record, as dig sees it).
listed() {
	dig @$LIST_ADDR -p "$list_port" +short +time=1 +tries=1 \
		"$1.0.0.127.$ZONE" A | grep -q '^127\.0\.0\.[234]$'
}
# meet N HELO: 127.0.0.N meets A's tar pit, saying HELO; recorded in A's
# store.
meet() {
	swaks --server "$TARPIT_ADDR:$tarpit_port" --local-interface "127.0.0.$1" \
		--quit-after EHLO --helo "$2" --timeout 5 > "$dir/meet-$1.out" 2>&1
	wait_for 5 met "$1"
}
met() {
	grep -q "session client=127.0.0.$1 " "$dir/a/tarpitd.log" &&
		"$ctl" -c "$dir/a/slowspam.conf" lookup "127.0.0.$1" 2>/dev/null |
		grep -q "tarpit_sessions=[1-9]"
}

# --- site B: the primary, its own store, the list
sock=$dir/b/milter.sock
cat > "$dir/b/slowspam.conf" <<EOF
[milter]
socket = unix:$sock
action = tag
action_bot = tag
trusted_networks =
spf = no
grace = 0
authserv_id = primary.b.example
tarpit_list = $ZONE
tarpit_list_resolver = $LIST_ADDR@$list_port
tarpit_list_timeout = 2s
[policyd]
socket = inet:$policy_port@127.0.0.1
[store]
path = $dir/b/store/hits.lmdb
EOF
# B up for the last ten minutes, as its own milter would have marked it.
mkdir -p "$dir/b/store"
"$storetool" "$dir/b/store/hits.lmdb" alive now-600000 now-60000 \
	> /dev/null || bail "storetool alive failed"

"$milter" -f -c "$dir/b/slowspam.conf" > "$dir/b/milter.log" 2>&1 &
milter_pid=$!
track_pid "$milter_pid"
wait_for 10 test -S "$sock" || bail "slowspam-milter did not start"
chmod 666 "$sock"

mta_primary_cf="smtpd_milters = unix:$sock
milter_default_action = accept
milter_protocol = 6"
mta_primary $PRIMARY_ADDR

# send N TOKEN: a message from 127.0.0.N to B's primary.
send() {
	swaks --server "$PRIMARY_ADDR:$primary_port" --local-interface "127.0.0.$1" \
		--helo "client$1.example" --from "s$1@sender.example" \
		--to rcpt@primary.example --header "Subject: $2" --timeout 15 \
		> "$dir/send-$2.out" 2>&1
}
# received TOKEN: its file in the Maildir, once delivered.
received() {
	wait_for $WAIT_LIMIT maildir_find "$primary_maildir" "$1"
}

tap_plan 9
tok=slowspam-publist-$$

meet 12 client12.example &&
	meet 13 bot13 &&
	export_list &&
	wait_for 10 listed 12 && wait_for 10 listed 13
tap_ok "127.0.0.12 and .13 met A's tar pit; A's export lists them" $? \
	"$dir/meet-12.out" "$dir/a/export.out" "$dir/a/list.rbldnsd"
dig @$LIST_ADDR -p "$list_port" +short "13.0.0.127.$ZONE" A \
	> "$dir/dig-13.out" 2>&1
grep -q '^127\.0\.0\.3$' "$dir/dig-13.out"
tap_ok "A lists 127.0.0.13 (HELO bot13) as 127.0.0.3, bot" $? \
	"$dir/dig-13.out" "$dir/a/list.rbldnsd"

send 12 "$tok-12"
f=$(received "$tok-12")
h=$(mta_header "$f" X-Slowspam)
echo "# X-Slowspam: $h"
echo "$h" | grep -q "verdict=backup-first network=127\.0\.0\.12/32 .* tarpit=list$"
tap_ok "127.0.0.12 mails B: backup-first, tarpit=list" $? \
	"$dir/send-$tok-12.out" "$dir/b/milter.log" ${f:+"$f"}

send 13 "$tok-13"
f=$(received "$tok-13")
h=$(mta_header "$f" X-Slowspam)
echo "# X-Slowspam: $h"
echo "$h" | grep -q "verdict=backup-first-bot network=127\.0\.0\.13/32 .* tarpit=list$"
tap_ok "127.0.0.13 (listed bot) mails B: backup-first-bot, tarpit=list" $? \
	"$dir/send-$tok-13.out" "$dir/b/milter.log" ${f:+"$f"}

send 14 "$tok-14"
f=$(received "$tok-14")
[ -n "$f" ] && [ -z "$(mta_header "$f" X-Slowspam)" ]
tap_ok "control: 127.0.0.14 never met the tar pit, no X-Slowspam" $? \
	"$dir/send-$tok-14.out" "$dir/b/milter.log" ${f:+"$f"}

# b_record: B's record of .12 is only the primary's one contact (written
# behind the answer, so a moment after it).
b_record() {
	"$storetool" "$dir/b/store/hits.lmdb" get 127.0.0.12/32 \
		> "$dir/b-12.out" 2>&1 &&
		grep -q " found=1 tarpit_sessions=0 primary_sessions=1$" \
		"$dir/b-12.out"
}
wait_for 5 b_record
tap_ok "B's store: the primary's contact with .12, no tar-pit record" $? \
	"$dir/b-12.out"
stop_pid "$milter_pid"
grep -q "slowspam-milter stopped" "$dir/b/milter.log"
tap_ok "the milter stops (its DNS list thread joined)" $? "$dir/b/milter.log"

# --- slowspam-policyd on B's configuration, asked as Postfix would
"$policyd" -f -c "$dir/b/slowspam.conf" > "$dir/b/policyd.log" 2>&1 &
track_pid $!
wait_for 10 grep -q "slowspam-policyd .* on inet:" "$dir/b/policyd.log" ||
	bail "slowspam-policyd did not start"
ask() {
	python3 "$top_srcdir/tests/policy_client.py" \
		"inet:127.0.0.1:$policy_port" session protocol_name=ESMTP \
		"client_address=127.0.0.$1" client_port=4000 client_name=unknown \
		reverse_client_name=unknown "helo_name=client$1.example" \
		"sender=s$1@sender.example" "instance=p$1" \
		server_address=$PRIMARY_ADDR server_port=25 -- \
		RCPT:rcpt@primary.example > "$dir/policy-$1.out" 2>&1
}
ask 12
echo "# $(cat "$dir/policy-12.out")"
grep -q "^PREPEND X-Slowspam: verdict=backup-first network=127\.0\.0\.12/32 .* tarpit=list$" \
	"$dir/policy-12.out"
tap_ok "slowspam-policyd with the list: 127.0.0.12 PREPEND ... tarpit=list" $? \
	"$dir/policy-12.out" "$dir/b/policyd.log"
ask 14
grep -q "X-Slowspam" "$dir/policy-14.out"
[ $? -ne 0 ]
tap_ok "slowspam-policyd: 127.0.0.14 gets no X-Slowspam" $? \
	"$dir/policy-14.out" "$dir/b/policyd.log"
tap_done
