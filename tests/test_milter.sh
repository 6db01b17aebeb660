#!/bin/sh
# test_milter.sh - slowspam-milter over unix sockets, driven by miltertest
# (tests/milter/t-*.lua): every action, exemptions, SPF from a test zone,
# port probes, and reload on SIGUSR1 (good and bad). Prints TAP.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
milter=$top_builddir/milter/slowspam-milter
storetool=$top_builddir/tests/storetool
scripts=$top_srcdir/tests/milter
if ! command -v miltertest >/dev/null 2>&1; then
	echo "1..0 # SKIP miltertest is not installed (scripts/install-deps)"
	exit 0
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/slowspam-milter-XXXXXX") || exit 1
pids=
cleanup() {
	# shellcheck disable=SC2086
	[ -n "$pids" ] && kill $pids 2>/dev/null
	for _ in $(seq 100); do
		alive=
		for p in $pids; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ -z "$alive" ] && break
		sleep 0.1
	done
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM PIPE

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
ZONE

# The store as tarpitd and an earlier milter would have left it: the
# primary up for the last hour; .10 and .11 (a bot) at the tar pit first;
# .21 at the primary before it ever met the tar pit.
"$storetool" "$dir/store/hits.lmdb" alive now-3600000 now >/dev/null || exit 1
"$storetool" "$dir/store/hits.lmdb" tarpit 192.0.2.10/32 now-300000 mail.client.example
"$storetool" "$dir/store/hits.lmdb" tarpit 192.0.2.11/32 now-300000 bot.client.example 1
"$storetool" "$dir/store/hits.lmdb" primary 192.0.2.21/32 now-1200000
"$storetool" "$dir/store/hits.lmdb" tarpit 192.0.2.21/32 now-300000 mail.client.example

# start NAME CONF ARGS...: a milter on $dir/NAME.sock, logging to NAME.log.
start() {
	name=$1 conf=$2
	shift 2
	"$milter" -f -c "$conf" --socket "unix:$dir/$name.sock" \
		--spf-zone "$dir/zone" "$@" 2>"$dir/$name.log" &
	pids="$pids $!"
	eval "MILTER_$name=unix:$dir/$name.sock"
	export "MILTER_$name"
}
start TAG "$dir/slowspam.conf" --set milter.action=tag
start QUARANTINE "$dir/slowspam.conf" --set milter.action=quarantine
start DIVERT "$dir/slowspam.conf" --set milter.action=divert
start TEMPFAIL "$dir/slowspam.conf" --set milter.action=tempfail
start REJECTBOT "$dir/slowspam.conf" --set milter.action=tag \
	--set milter.action_bot=reject
cp "$dir/slowspam.conf" "$dir/reload.conf"
start RELOAD "$dir/reload.conf"
for name in TAG QUARANTINE DIVERT TEMPFAIL REJECTBOT RELOAD; do
	for _ in $(seq 50); do [ -S "$dir/$name.sock" ] && break; sleep 0.1; done
done
# The same over TCP.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$milter" -f -c "$dir/slowspam.conf" --socket "inet:$port@127.0.0.1" \
	--spf-zone "$dir/zone" --set milter.action=tag 2>"$dir/TCP.log" &
pids="$pids $!"
for _ in $(seq 50); do grep -q "slowspam-milter .* on inet" "$dir/TCP.log" && break; sleep 0.1; done
export MT_LIB="$scripts/lib.lua"

n=0
failed=0
ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		sed 's/^/# /' "$dir/out"
		for f in "$dir"/*.log; do sed "s|^|# $(basename "$f"): |" "$f"; done
		failed=$((failed + 1))
	fi
}
# lua SCRIPT [VAR=VALUE...]: run one miltertest script.
lua() {
	script=$1
	shift
	env "$@" miltertest -s "$scripts/$script" >"$dir/out" 2>&1
}

echo "1..15"
for t in tag untouched quarantine divert tempfail reject-bot spf-fail \
    exempt probe forged; do
	lua "t-$t.lua"
	ok $? "$t"
done
grep -q 'verdict client=192.0.2.10 .*verdict=backup-first .*action=tag' "$dir/TAG.log"
ok $? "the verdict is logged"
lua t-tag.lua "MILTER_TAG=inet:$port@127.0.0.1"
ok $? "tag over TCP"

# Reload: the RELOAD milter starts as tag, becomes quarantine on SIGUSR1,
# and keeps quarantine when the next file is bad.
reload_pid=$(echo "$pids" | awk '{print $6}')
sed 's/^\[milter\]$/[milter]\naction = quarantine/' "$dir/slowspam.conf" > "$dir/reload.conf"
kill -USR1 "$reload_pid"
for _ in $(seq 50); do grep -q "reloaded" "$dir/RELOAD.log" && break; sleep 0.1; done
lua t-quarantine.lua "MILTER_QUARANTINE=$MILTER_RELOAD"
ok $? "SIGUSR1 reload: action = quarantine now"
printf '[milter]\naction = maybe\n' > "$dir/reload.conf"
kill -USR1 "$reload_pid"
for _ in $(seq 50); do grep -q "keeping the running" "$dir/RELOAD.log" && break; sleep 0.1; done
grep -q 'reload: .*reload.conf:2: \[milter\] action: "maybe"' "$dir/RELOAD.log" >"$dir/out" 2>&1
ok $? "a bad file is refused, with file, line and key"
lua t-quarantine.lua "MILTER_QUARANTINE=$MILTER_RELOAD"
ok $? "and the running configuration stays"
[ "$failed" -eq 0 ]
