#!/bin/sh
# test_milter.sh - slowspam-milter over unix sockets, driven by miltertest
# (tests/milter/t-*.lua): every action, exemptions (the allow-list by
# confirmed names only), SPF from a test zone, forged headers removed,
# our Authentication-Results folded, port probes, a store that fails
# (on_store_error), and reload on SIGUSR1 (good and bad). Prints TAP.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
# shellcheck source=tests/lib.sh
. "$top_srcdir/tests/lib.sh"
milter=$top_builddir/milter/slowspam-milter
storetool=$top_builddir/tests/storetool
scripts=$top_srcdir/tests/milter
need_cmds miltertest mdb_load
make_dir milter

cat > "$dir/slowspam.conf" <<CONF
[milter]
trusted_networks = 192.0.2.40/32
divert_to = trap@primary.test
allow_list = $dir/allow.txt
authserv_id = primary.test
grace = 0
[store]
path = $dir/store/hits.lmdb
[log]
level = debug
CONF
echo "partner.test" > "$dir/allow.txt"
cat > "$dir/zone" <<ZONE
pass.test TXT v=spf1 ip4:192.0.2.0/24 -all
fail.test TXT v=spf1 -all
mx.partner.test TXT v=spf1 ip4:192.0.2.10 -all
ZONE

# The store as tarpitd and an earlier milter would have left it: the
# primary up for the last hour; .10 and .11 (a bot) at the tar pit first;
# .21 at the primary before it ever met the tar pit.
"$storetool" "$dir/store/hits.lmdb" alive now-3600000 now >/dev/null || exit 1
"$storetool" "$dir/store/hits.lmdb" tarpit 192.0.2.10/32 now-300000 mail.client.example
"$storetool" "$dir/store/hits.lmdb" tarpit 192.0.2.11/32 now-300000 bot.client.example 1
"$storetool" "$dir/store/hits.lmdb" primary 192.0.2.21/32 now-1200000
"$storetool" "$dir/store/hits.lmdb" tarpit 192.0.2.21/32 now-300000 mail.client.example
# .99's record is damaged: the store fails every lookup of it.
printf '192.0.2.99/32\njunk\n' > "$dir/junk.txt"
mdb_load -n -s hits -T -f "$dir/junk.txt" "$dir/store/hits.lmdb" ||
	bail "mdb_load could not damage a record"

# start NAME CONF ARGS...: a milter on $dir/NAME.sock, logging to NAME.log.
start() {
	name=$1 conf=$2
	shift 2
	"$milter" -f -c "$conf" --socket "unix:$dir/$name.sock" \
		--spf-zone "$dir/zone" "$@" 2>"$dir/$name.log" &
	track_pid $!
	eval "MILTER_$name=unix:$dir/$name.sock"
	export "MILTER_$name"
}
start TAG "$dir/slowspam.conf" --set milter.action=tag
start QUARANTINE "$dir/slowspam.conf" --set milter.action=quarantine
start DIVERT "$dir/slowspam.conf" --set milter.action=divert
start TEMPFAIL "$dir/slowspam.conf" --set milter.action=tempfail
start REJECTBOT "$dir/slowspam.conf" --set milter.action=tag \
	--set milter.action_bot=reject
start BROKEN "$dir/slowspam.conf" --set milter.on_store_error=tempfail
cp "$dir/slowspam.conf" "$dir/reload.conf"
start RELOAD "$dir/reload.conf"
reload_pid=$!
for name in TAG QUARANTINE DIVERT TEMPFAIL REJECTBOT BROKEN RELOAD; do
	wait_for 5 test -S "$dir/$name.sock"
done
# The same over TCP.
port=$(free_port 127.0.0.1) || bail "no free port on 127.0.0.1"
"$milter" -f -c "$dir/slowspam.conf" --socket "inet:$port@127.0.0.1" \
	--spf-zone "$dir/zone" --set milter.action=tag 2>"$dir/TCP.log" &
track_pid $!
wait_for 5 grep -q "slowspam-milter .* on inet" "$dir/TCP.log"
export MT_LIB="$scripts/lib.lua"

# lua NAME SCRIPT [VAR=VALUE...]: run one miltertest script as check NAME
# (its output in lua-N.out; on failure, that and the milters' logs).
lua_n=0
lua() {
	name=$1 script=$2
	shift 2
	lua_n=$((lua_n + 1))
	env "$@" miltertest -s "$scripts/$script" >"$dir/lua-$lua_n.out" 2>&1
	tap_ok "$name" $? "$dir/lua-$lua_n.out" "$dir"/*.log
}

tap_plan 23
for t in tag untouched quarantine divert tempfail reject-bot spf-fail \
    exempt probe forged forged-ar forged-rcpts fold store-error; do
	lua "$t" "t-$t.lua"
done
# miltertest cannot say how many headers were removed; its debug output
# can: each removal of X-Slowspam-Original-Recipients is a reply "m" of
# 36 octets (index, name, empty value). Two forged copies, twice.
miltertest -vvvv -s "$scripts/t-forged-rcpts.lua" >"$dir/rcpts.out" 2>&1
n=$(grep -c 'mt_milter_read([0-9]*): cmd m, len 36$' "$dir/rcpts.out")
[ "$n" -eq 4 ]
tap_ok "every forged X-Slowspam-Original-Recipients removed (4 of 4: $n)" \
	$? "$dir/rcpts.out"
grep -q '192.0.2.99/32: store unavailable, tempfail: .*record version' \
	"$dir/BROKEN.log"
tap_ok "the store failure is logged" $? "$dir/BROKEN.log"
grep -q 'verdict client=192.0.2.10 .*verdict=backup-first .*action=tag' "$dir/TAG.log"
tap_ok "the verdict is logged" $? "$dir/TAG.log"
lua "tag over TCP" t-tag.lua "MILTER_TAG=inet:$port@127.0.0.1"

# Reload: the RELOAD milter starts as tag, becomes quarantine on SIGUSR1,
# and keeps quarantine when the next file is bad.
sed 's/^\[milter\]$/[milter]\naction = quarantine/' "$dir/slowspam.conf" > "$dir/reload.conf"
kill -USR1 "$reload_pid"
wait_for 5 grep -q "reloaded" "$dir/RELOAD.log"
lua "SIGUSR1 reload: action = quarantine now" t-quarantine.lua \
	"MILTER_QUARANTINE=$MILTER_RELOAD"
printf '[milter]\naction = maybe\n' > "$dir/reload.conf"
kill -USR1 "$reload_pid"
wait_for 5 grep -q "keeping the running" "$dir/RELOAD.log"
grep -q 'reload: .*reload.conf:2: \[milter\] action: "maybe"' "$dir/RELOAD.log"
tap_ok "a bad file is refused, with file, line and key" $? "$dir/RELOAD.log"
lua "and the running configuration stays" t-quarantine.lua \
	"MILTER_QUARANTINE=$MILTER_RELOAD"
# Least privilege, as root: with [milter] user = nobody the socket is
# made with socket_mode and given to nobody and socket_group at once;
# then the milter runs as nobody, in nobody's group only, with no
# capability and no new privileges, and makes its store as nobody.
if [ "$(id -u)" -eq 0 ]; then
	sgroup=$(getent group mail >/dev/null && echo mail || id -gn nobody)
	mkdir "$dir/nobody" && chown nobody "$dir/nobody"
	"$milter" -f -c "$dir/slowspam.conf" --socket "unix:$dir/nobody.sock" \
		--set milter.user=nobody --set milter.socket_mode=0640 \
		--set "milter.socket_group=$sgroup" \
		--set "store.path=$dir/nobody/hits.lmdb" 2>"$dir/nobody.log" &
	nobody_pid=$!
	track_pid $nobody_pid
	wait_for 5 grep -q "slowspam-milter .* on unix" "$dir/nobody.log"
	got=$(stat -c '%A %U %G' "$dir/nobody.sock" 2>&1)
	[ "$got" = "srw-r----- nobody $sgroup" ]
	tap_ok "socket made 0640 nobody:$sgroup (got: $got)" $? \
		"$dir/nobody.log"
	g=$(id -g nobody)
	u=$(id -u nobody)
	status=$(grep -E '^(Uid|Gid|Groups|CapEff|CapPrm|CapAmb|NoNewPrivs):' \
		"/proc/$nobody_pid/status" | tr -s ' \t' ' ' | sed 's/ $//')
	want="Uid: $u $u $u $u
Gid: $g $g $g $g
Groups: $g
CapPrm: 0000000000000000
CapEff: 0000000000000000
CapAmb: 0000000000000000
NoNewPrivs: 1"
	echo "$status" > "$dir/nobody.status"
	[ "$status" = "$want" ] &&
		[ "$(stat -c %U "$dir/nobody/hits.lmdb")" = nobody ]
	tap_ok "the milter runs as nobody and makes its store as nobody" $? \
		"$dir/nobody.status" "$dir/nobody.log"
else
	echo "ok $((tap_n + 1)) # SKIP not root"
	echo "ok $((tap_n + 2)) # SKIP not root"
	tap_n=$((tap_n + 2))
fi
tap_done
