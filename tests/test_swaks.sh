#!/bin/sh
# test_swaks.sh - tarpitd against swaks, a real SMTP client: it is held,
# gets the 421, delivers nothing, and the session is logged. Prints TAP.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
tarpitd=$top_builddir/tarpitd/tarpitd
if ! command -v swaks >/dev/null 2>&1; then
	echo "1..0 # SKIP swaks is not installed (scripts/install-deps)"
	exit 0
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/slowspam-swaks-XXXXXX") || exit 1
chmod 755 "$dir"
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
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
"$tarpitd" -f -c "$dir/slowspam.conf" 2>"$dir/tarpitd.log" &
pid=$!
for _ in $(seq 50); do grep -q serving "$dir/tarpitd.log" && break; sleep 0.1; done

n=0
failed=0
ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		sed 's/^/# /' "$dir/swaks.out"
		failed=$((failed + 1))
	fi
}

echo "1..6"
start=$(date +%s%N)
swaks --server "127.0.0.1:$port" --from sender@example.org \
	--to rcpt@example.org --helo swaks.example --timeout 20 \
	>"$dir/swaks.out" 2>&1
status=$?
elapsed=$((($(date +%s%N) - start) / 1000000))
[ "$status" -ne 0 ]; ok $? "swaks fails: the tar pit delivers nothing (status $status)"
grep -q '421 4.7.0 tarpit.test Service not available, try again later' "$dir/swaks.out"
ok $? "swaks got the 421 4.7.0"
! grep -Eq '^<[-*]+ +(250 |354|5[0-9][0-9])' "$dir/swaks.out"
ok $? "no final 250, no 354, no 5xx"
! grep -q -- '-> MAIL FROM' "$dir/swaks.out"
ok $? "swaks never got as far as MAIL FROM"
[ "$elapsed" -ge 2900 ] && [ "$elapsed" -le 6000 ]
ok $? "held for max_hold and let go ($elapsed ms)"
for _ in $(seq 30); do grep -q 'helo=swaks.example' "$dir/tarpitd.log" && break; sleep 0.1; done
grep -q 'session client=127.0.0.1 .*helo=swaks.example helo_class=fqdn' "$dir/tarpitd.log"
ok $? "tarpitd logged the session with its HELO"
[ "$failed" -eq 0 ]
