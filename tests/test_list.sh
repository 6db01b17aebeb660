#!/bin/sh
# test_list.sh - the published DNS list with real components: a real
# tarpitd on loopback meets real SMTP clients from distinct source
# addresses, slowspamctl export --format rbldnsd writes the list from
# its store, a real rbldnsd serves it, dig asks.
#
# Clients (all in 127.0.2.0/24; trusted_networks is set to a host no
# client uses, since the default 127.0.0.0/8 would exclude them all):
#   .11  a bot saying HELO with a bare address
#   .12  a bot talking before the greeting (pregreet)
#   .13  a well-behaved MTA (HELO FQDN): the primary's liveness marks
#        around its session prove the primary was up, so backup-first
#   .30  a control that only ever met the primary
# and records written by tests/storetool: an old bot past [list] expire,
# a quiet network a day ago (unproven: "seen" only), a listed /24 with
# an allow-listed host inside, a network inside trusted_networks.
# Prints TAP. Needs rbldnsd (it refuses root: run as rbldns), dig, swaks.
#
# Some functions are only called through wait_for.
# shellcheck disable=SC2317
PATH=$PATH:/usr/sbin:/sbin
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
# shellcheck source=tests/lib.sh
. "$top_srcdir/tests/lib.sh"
tarpitd=$top_builddir/tarpitd/tarpitd
ctl=$top_builddir/slowspamctl/slowspamctl
storetool=$top_builddir/tests/storetool

TARPIT_ADDR=127.0.2.1
DNS_ADDR=127.0.2.53
BARE=127.0.2.11
PREGREET=127.0.2.12
GOOD=127.0.2.13
CONTROL=127.0.2.30
# HELO strings that must never reach the list.
BARE_HELO=192.0.2.77
PREGREET_HELO=pregreet-helo.example
GOOD_HELO=good-helo.example.org

need_cmds rbldnsd dig swaks python3
id rbldns >/dev/null 2>&1 || tap_skip "no user rbldns (the rbldnsd package makes it)"
for prog in "$tarpitd" "$ctl" "$storetool"; do
	[ -x "$prog" ] || bail "no $prog (build first)"
done
make_dir list
bail_logs="$dir/tarpitd.log $dir/zone/list.rbldnsd.log $dir/*.out"

port=$(free_port $TARPIT_ADDR) || bail "no free port on $TARPIT_ADDR"
dns_port=$(free_port $DNS_ADDR) || bail "no free port on $DNS_ADDR"
conf=$dir/slowspam.conf
store=$dir/store/hits.lmdb
zone=$dir/zone
list=$zone/list.rbldnsd
cat > "$conf" <<EOF
[tarpitd]
listen = $TARPIT_ADDR:$port
hostname = tarpit.test
greet_wait = 300ms
drip_interval = 200ms
max_hold = 1s
user = nobody
[list]
ttl = 7m
ns = ns1.list.test; ns2.list.test
hostmaster = dnsadmin.list.test
[store]
path = $store
EOF
mkdir -m 755 "$zone"
printf '# never listed\n127.0.4.9/32\n' > "$dir/allow"
trusted="milter.trusted_networks=10.255.255.255/32;127.0.5.0/24"

# export [--set K=V ...]: the list into $list, as the timer's unit does;
# in a later second than the last one (rbldnsd tells a changed file by
# its modification time, to the second).
export_list() {
	while [ "$(stat -c %Y "$list" 2>/dev/null)" = "$(date +%s)" ]; do
		sleep 0.1
	done
	"$ctl" -c "$conf" --set "$trusted" "$@" export --format rbldnsd \
		-o "$list" > "$dir/export.out" 2>&1
}
# ask NAME TYPE: rbldnsd's answer, dig +short (empty: none).
ask() {
	dig +short +time=2 +tries=1 @$DNS_ADDR -p "$dns_port" "$1" "$2" 2>&1
}
# a_of ADDR: the A records for an IPv4 address, sorted, on one line.
a_of() {
	_r=$(echo "$1" | awk -F. '{ print $4 "." $3 "." $2 "." $1 }')
	ask "$_r.list.test" A | sort | paste -sd' ' -
}
txt_of() {
	_r=$(echo "$1" | awk -F. '{ print $4 "." $3 "." $2 "." $1 }')
	ask "$_r.list.test" TXT | sort
}
# reload: rbldnsd rereads the file on SIGHUP; wait for its log line.
reload() {
	_n=$(grep -c 'zones reloaded' "$rbldnsd_log")
	kill -HUP "$rbldnsd_pid"
	wait_for 5 sh -c "[ \$(grep -c 'zones reloaded' '$rbldnsd_log') -gt $_n ]"
}
recorded() {
	"$ctl" -c "$conf" lookup "$1" 2>/dev/null | grep -q "tarpit_sessions=[1-9]"
}

tarpitd_start "$conf" "$dir/tarpitd.log"
# The primary was up in the quarter hour before the sessions.
"$storetool" "$store" alive now-900000 now-60000 > "$dir/storetool.out" 2>&1 ||
	bail "storetool alive failed"

# --- real sessions at the tar pit
swaks --server "$TARPIT_ADDR:$port" --local-interface $BARE \
	--quit-after EHLO --helo "$BARE_HELO" --timeout 10 > "$dir/bare.out" 2>&1 &
clients=$!
swaks --server "$TARPIT_ADDR:$port" --local-interface $GOOD \
	--quit-after EHLO --helo "$GOOD_HELO" --timeout 10 > "$dir/good.out" 2>&1 &
clients="$clients $!"
python3 - "$PREGREET" "$TARPIT_ADDR" "$port" "$PREGREET_HELO" \
	> "$dir/pregreet.out" 2>&1 <<'EOF' &
import socket, sys
src, host, port, helo = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
s = socket.create_connection((host, port), timeout=10, source_address=(src, 0))
s.sendall(("EHLO %s\r\n" % helo).encode())   # before the greeting
while s.recv(4096):
    pass
EOF
clients="$clients $!"
# shellcheck disable=SC2086
wait $clients	# not tarpitd
for a in $BARE $PREGREET $GOOD; do
	wait_for 5 recorded $a || bail "no tar-pit record of $a"
done
# Nothing proves yet that the primary was up after the sessions: a
# primary asking would count itself, the list (written while no primary
# asks) must not, so no backup-first yet (decide_input.publishing).
export_list
status=$?
early_bare=$(grep -c "^$BARE/32 " "$list")
early_good=$(grep -c "^$GOOD/32 " "$list")
# ... and up after them (a mark within alive_margin after the contact).
"$storetool" "$store" alive now now >> "$dir/storetool.out" 2>&1 &&
	"$storetool" "$store" primary $CONTROL/32 now >> "$dir/storetool.out" 2>&1 &&
	# A bot 8 days ago, past [list] expire (7d); a quiet MTA a day ago,
	# when no mark proves the primary up (unproven: at most "seen").
	"$storetool" "$store" tarpit 127.0.2.40/32 now-691200000 oldbot 1 \
		>> "$dir/storetool.out" 2>&1 &&
	"$storetool" "$store" tarpit 127.0.2.41/32 now-86400000 quiet.example.org \
		>> "$dir/storetool.out" 2>&1 &&
	# A bot's /24 with an allow-listed host in it; a bot inside
	# trusted_networks.
	# An hour ago: before the marks, so unproven, bot only.
	"$storetool" "$store" tarpit 127.0.4.0/24 now-3600000 bot24 1 \
		>> "$dir/storetool.out" 2>&1 &&
	"$storetool" "$store" tarpit 127.0.5.7/32 now-3600000 trustedbot 1 \
		>> "$dir/storetool.out" 2>&1 ||
	bail "storetool failed"

tap_plan 34
[ $status -eq 0 ] && [ "$early_good" -eq 0 ] && [ "$early_bare" -eq 1 ]
tap_ok "no mark after the contact yet: not backup-first, the bot only as a bot" $? \
	"$dir/export.out" "$list"

# --- with the default trusted_networks (127.0.0.0/8) nothing of ours
"$ctl" -c "$conf" export --format rbldnsd -o "$list" > "$dir/export.out" 2>&1 &&
	! grep -q '^127\.0\.[245]\.' "$list" &&
	grep -q ' 0 networks listed .* inside excluded networks' "$dir/export.out"
tap_ok "default trusted_networks 127.0.0.0/8: no loopback client listed" $? \
	"$dir/export.out" "$list"

export_list --set milter.allow_list="$dir/allow"
tap_ok "export -o: exit 0" $? "$dir/export.out"
grep -q "^$list: 4 networks listed (3 backup-first, 3 bot, 0 seen) of 8 records; 1 inside excluded networks\$" \
	"$dir/export.out"
tap_ok "the summary line counts what was listed and left out" $? "$dir/export.out"
[ "$(find "$zone" -mindepth 1 | wc -l)" -eq 1 ]
tap_ok "no temporary file left beside the list" $? "$dir/export.out"
! grep -Fq -e "$BARE_HELO" -e "$PREGREET_HELO" -e "$GOOD_HELO" -e oldbot \
	-e bot24 -e quiet.example "$list"
tap_ok "no HELO anywhere in the file" $? "$list"

# rbldnsd's own reread interval: the SIGHUP check below must need it.
rbldnsd_opts=
rbldnsd_start list.test "$list" "$DNS_ADDR" "$dns_port"

# --- the codes and their TXT
[ "$(a_of $BARE)" = "127.0.0.2 127.0.0.3" ]
tap_ok "bare-address HELO: 127.0.0.2 and 127.0.0.3 ($(a_of $BARE))" $? "$rbldnsd_log"
[ "$(a_of $PREGREET)" = "127.0.0.2 127.0.0.3" ]
tap_ok "pregreet: 127.0.0.2 and 127.0.0.3 ($(a_of $PREGREET))" $?
[ "$(a_of $GOOD)" = "127.0.0.2" ]
tap_ok "well-behaved client, primary proven up: 127.0.0.2 only ($(a_of $GOOD))" $?
txt_of $BARE > "$dir/txt.out"
time_re='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'
[ "$(wc -l < "$dir/txt.out")" -eq 2 ] &&
	grep -Eq "^\"backup-first; first=$time_re; last=$time_re\"\$" "$dir/txt.out" &&
	grep -Eq "^\"bot; first=$time_re; last=$time_re\"\$" "$dir/txt.out"
tap_ok "TXT: reason; first=TIME; last=TIME, one per code" $? "$dir/txt.out"
[ -z "$(a_of $CONTROL)" ] && [ -z "$(txt_of $CONTROL)" ]
tap_ok "the control that only met the primary: nothing" $?

# --- RFC 5782 test entries
[ "$(a_of 127.0.0.2)" = "127.0.0.2 127.0.0.3 127.0.0.4" ]
tap_ok "127.0.0.2: all three codes" $?
v6=2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0
[ "$(ask $v6.list.test A | sort | paste -sd' ' -)" = "127.0.0.2 127.0.0.3 127.0.0.4" ]
tap_ok "::ffff:7f00:2: all three codes" $?
[ -z "$(a_of 127.0.0.1)" ]
tap_ok "127.0.0.1: never listed" $?

# --- SOA, NS, TTL
ask list.test SOA > "$dir/soa.out"
grep -Eq '^ns1\.list\.test\. dnsadmin\.list\.test\. [0-9]+ 3600 600 604800 420$' \
	"$dir/soa.out"
tap_ok "SOA from [list] ns and hostmaster" $? "$dir/soa.out"
[ "$(ask list.test NS | sort | paste -sd' ' -)" = "ns1.list.test. ns2.list.test." ]
tap_ok "NS from [list] ns" $?
dig +noall +answer +time=2 +tries=1 @$DNS_ADDR -p "$dns_port" \
	13.2.0.127.list.test A > "$dir/ttl.out" 2>&1
awk '$4 == "A" && $2 != 420 { bad = 1 } END { exit bad || NR == 0 }' "$dir/ttl.out"
tap_ok "answers carry [list] ttl (7m: 420 s)" $? "$dir/ttl.out"

# --- expiry, seen, exclusions
[ -z "$(a_of 127.0.2.40)" ]
tap_ok "a bot whose last tar-pit contact is past [list] expire: not listed" $?
[ -z "$(a_of 127.0.2.41)" ]
tap_ok "seen is off by default: the unproven quiet client is not listed" $?
[ -z "$(a_of 127.0.5.7)" ] && ! grep -q '^127\.0\.5\.7/32 ' "$list"
tap_ok "a network inside trusted_networks: never listed" $?
[ "$(a_of 127.0.4.10)" = "127.0.0.3" ] && [ -z "$(a_of 127.0.4.9)" ]
tap_ok "an allow-listed /32 inside a listed /24: punched out" $?

export_list --set list.seen=yes --set list.expire=9d &&
	reload
tap_ok "seen = yes, expire = 9d: exported and reread on SIGHUP" $? \
	"$dir/export.out" "$rbldnsd_log"
[ "$(a_of 127.0.2.41)" = "127.0.0.4" ] &&
	txt_of 127.0.2.41 | grep -Eq "^\"seen; first=$time_re; last=$time_re\"\$"
tap_ok "seen = yes: the quiet client is 127.0.0.4 ($(a_of 127.0.2.41))" $?
[ "$(a_of 127.0.2.40)" = "127.0.0.3" ] && [ "$(a_of $GOOD)" = "127.0.0.2" ]
tap_ok "expire = 9d: the 8-day-old bot is listed again, only as a bot" $?

# --- forget, then the new file, reread
"$ctl" -c "$conf" forget $BARE > "$dir/forget.out" 2>&1 &&
	export_list && reload
tap_ok "forget $BARE, export, SIGHUP" $? "$dir/forget.out" "$dir/export.out" \
	"$rbldnsd_log"
[ -z "$(a_of $BARE)" ] && [ "$(a_of $PREGREET)" = "127.0.0.2 127.0.0.3" ]
tap_ok "delisted after forget; the others stay" $?

# --- failures leave the old file and no temporary one
cp "$list" "$dir/before"
export_list --set milter.allow_list="$dir/no-such-allow-list"
status=$?
[ $status -eq 2 ] && cmp -s "$list" "$dir/before" &&
	[ "$(find "$zone" -mindepth 1 -not -name "*.log" | wc -l)" -eq 1 ]
tap_ok "a failed export (missing allow_list): exit $status, old file intact, no temporary" \
	$? "$dir/export.out"
# The rename fails (a folder is in the way): no summary claims a list.
mkdir -p "$dir/ren/list.rbldnsd/x"
"$ctl" -c "$conf" --set "$trusted" export --format rbldnsd \
	-o "$dir/ren/list.rbldnsd" > "$dir/ren.out" 2> "$dir/ren.err"
status=$?
[ $status -eq 2 ] && [ ! -s "$dir/ren.out" ] &&
	grep -q "ren/list.rbldnsd: Is a directory" "$dir/ren.err" &&
	[ "$(find "$dir/ren" -mindepth 1 -maxdepth 1 | wc -l)" -eq 1 ]
tap_ok "a failed rename: exit $status, no summary, no temporary" $? "$dir/ren.out" \
	"$dir/ren.err"
# A read-only folder (root ignores modes: a read-only bind mount in a
# mount namespace of our own).
if unshare -m true 2>/dev/null; then
	"$storetool" "$store" tarpit 127.0.2.42/32 now botnew 1 >/dev/null 2>&1
	unshare -m sh -c 'mount --bind -o ro "$1" "$1" && shift && exec "$@"' sh \
		"$zone" "$ctl" -c "$conf" --set "$trusted" export --format rbldnsd \
		-o "$list" > "$dir/ro.out" 2>&1
	status=$?
	[ $status -eq 2 ] && grep -q "list.rbldnsd: Read-only file system" "$dir/ro.out" &&
		cmp -s "$list" "$dir/before" &&
		[ "$(find "$zone" -mindepth 1 -not -name "*.log" | wc -l)" -eq 1 ]
	tap_ok "a read-only folder: exit $status, the error names the file, old file intact" \
		$? "$dir/ro.out"
else
	tap_ok "a read-only folder # SKIP unshare -m is not allowed here" 0
fi
# Stopped by a signal on the way (the timer's unit stopped, a Ctrl-C):
# strace delivers SIGTERM as the export syncs its file, then as it
# renames it; a whole list stays (the old one, or the new one once renamed) and no
# temporary file is left. (LeakSanitizer cannot run under ptrace: no leak
# check for the runs under strace.)
"$storetool" "$store" tarpit 127.0.2.43/32 now botterm 1 >/dev/null 2>&1
for call in fsync rename; do
	if ! command -v strace >/dev/null 2>&1; then
		tap_ok "SIGTERM at $call # SKIP no strace" 0
		continue
	fi
	ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" strace -f -qq -o /dev/null -e trace=$call -e inject=$call:signal=TERM \
		"$ctl" -c "$conf" --set "$trusted" export --format rbldnsd \
		-o "$list" > "$dir/term.out" 2>&1
	status=$?
	# Before the rename the old list stays; the rename itself completes.
	if [ $call = rename ]; then
		grep -q '^127\.0\.2\.42/32 ' "$list"
	else
		cmp -s "$list" "$dir/before"
	fi && [ $status -eq 143 ] &&
		[ "$(find "$zone" -mindepth 1 -not -name "*.log" | wc -l)" -eq 1 ]
	tap_ok "SIGTERM at $call: exit $status, a whole list, no temporary" $? \
		"$dir/term.out"
done
# An ignored SIGHUP (nohup, a cron wrapper) stays ignored: it ends nothing.
if command -v strace >/dev/null 2>&1; then
	(trap '' HUP
	ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" strace -f -qq -o /dev/null -e trace=fsync -e inject=fsync:signal=HUP:when=1 \
		"$ctl" -c "$conf" --set "$trusted" export --format rbldnsd \
		-o "$list" > "$dir/hup.out" 2>&1)
	status=$?
	[ $status -eq 0 ] && grep -q ' networks listed ' "$dir/hup.out" &&
		[ "$(find "$zone" -mindepth 1 -not -name "*.log" | wc -l)" -eq 1 ]
	tap_ok "an ignored SIGHUP at fsync: exit $status, the list written" $? \
		"$dir/hup.out"
else
	tap_ok "an ignored SIGHUP # SKIP no strace" 0
fi
# A key stored IPv4-mapped is written as the network it names: rbldnsd
# drops "::ffff:127.0.6.0/120" in an ip4trie as an invalid A RR.
"$storetool" "$store" tarpit ::ffff:127.0.6.0/120 now-3600000 mapped 1 \
	>> "$dir/storetool.out" 2>&1 &&
	export_list &&
	grep -q '^127\.0\.6\.0/24 :3:bot; first=' "$list" &&
	! grep -q '^::ffff:127\.0\.6' "$list"
tap_ok "a mapped key is listed as its IPv4 network" $? "$dir/export.out" "$list"
# A key wider than [store] allows (forged or damaged) would list a
# continent: left out, said on stderr; the others stay.
"$storetool" "$store" tarpit 126.0.0.0/7 now-3600000 wide 1 \
	>> "$dir/storetool.out" 2>&1 &&
	"$storetool" "$store" tarpit 2000::/15 now-3600000 wide 1 \
	>> "$dir/storetool.out" 2>&1 &&
	export_list &&
	! grep -q '^126\.0\.0\.0/7 \|^2000::/15 ' "$list" &&
	grep -q '^127\.0\.6\.0/24 :3:' "$list" &&
	grep -q 'left out 2 store keys wider than /8 (IPv4) or /16 (IPv6)' \
	"$dir/export.out"
tap_ok "keys wider than /8 or /16 are left out, with a warning" $? \
	"$dir/export.out" "$dir/storetool.out"
tap_done
