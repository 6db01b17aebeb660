#!/bin/sh
# test_metrics.sh - the Prometheus metrics of tarpitd and slowspam-milter,
# scraped with curl: the text format, counters that move by exactly what
# three tar-pit sessions and one milter transaction did, a 404, and a
# silent scraper that does not stall the tar pit. Prints TAP.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
# shellcheck source=tests/lib.sh
. "$top_srcdir/tests/lib.sh"
tarpitd=$top_builddir/tarpitd/tarpitd
milter=$top_builddir/milter/slowspam-milter
need_cmds curl swaks python3
make_dir metrics
bail_logs="$dir/tarpitd.log $dir/milter.log"
port=$(free_port 127.0.0.1) || bail "no free port on 127.0.0.1"
mport=$(free_port 127.0.0.1) || bail "no free port on 127.0.0.1"
cat > "$dir/slowspam.conf" <<CONF
[tarpitd]
listen = 127.0.0.1:$port
metrics_listen = 127.0.0.1:$mport
hostname = tarpit.test
greet_wait = 500ms
drip_interval = 250ms
max_hold = 2s
user = nobody
[store]
path = $dir/store/hits.lmdb
CONF

# scrape PORT PATH OUT: GET http://127.0.0.1:PORT/PATH into OUT (headers
# in OUT.head); print the HTTP status.
scrape() {
	curl -s -S -m 5 -D "$3.head" -o "$3" -w '%{http_code}' \
		"http://127.0.0.1:$1/$2" 2>"$3.err"
}

# value FILE SAMPLE: the value of SAMPLE (name{labels}, as written).
value() {
	awk -v k="$2" '$1 == k { print $2; found = 1 } END { exit !found }' "$1"
}

# well_formed FILE: Prometheus text format 0.0.4: every sample line is
# "name{labels} value" or "name value", every family has HELP and TYPE
# before its samples; no label is a client address.
well_formed() {
	python3 - "$1" <<'EOF'
import re, sys
sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)'
    r'(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*")*\})?'
    r' ([-+]?([0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?|Inf|NaN))$')
helps, types, ok, n = set(), {}, True, 0
for line in open(sys.argv[1]).read().split("\n")[:-1]:
    if line.startswith("# HELP "):
        helps.add(line.split()[2]); continue
    if line.startswith("# TYPE "):
        f = line.split()
        types[f[2]] = f[3]; continue
    m = sample.match(line)
    if not m:
        print("bad line: %r" % line); ok = False; continue
    n += 1
    name = m.group(1)
    fam = re.sub(r'_(bucket|sum|count)$', '', name)
    if types.get(fam) != "histogram":
        fam = name
    if fam not in helps or fam not in types:
        print("no HELP/TYPE before %s" % name); ok = False
    if m.group(2) and re.search(r'[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+', m.group(2)):
        print("an address in labels: %s" % line); ok = False
sys.exit(0 if ok and n > 0 else 1)
EOF
}

tap_plan 16

# --- tarpitd
tarpitd_start "$dir/slowspam.conf" "$dir/tarpitd.log"
code=$(scrape "$mport" metrics "$dir/before")
[ "$code" = 200 ] &&
	grep -qi '^Content-Type: text/plain; version=0.0.4' "$dir/before.head"
tap_ok "tarpitd: GET /metrics is 200, text/plain; version=0.0.4" $? \
	"$dir/before.head" "$dir/before.err" "$dir/tarpitd.log"
well_formed "$dir/before" >"$dir/before.check" 2>&1
tap_ok "tarpitd: the text format is well formed" $? "$dir/before.check" \
	"$dir/before"

started0=$(value "$dir/before" slowspam_tarpit_sessions_started_total)
maxhold0=$(value "$dir/before" 'slowspam_tarpit_sessions_ended_total{reason="max_hold"}')
for i in 1 2 3; do
	swaks --server "127.0.0.1:$port" --from sender@example.org \
		--to rcpt@example.org --helo "swaks$i.example" --timeout 20 \
		>"$dir/swaks$i.out" 2>&1 &
	eval "swaks$i=\$!"
done
# shellcheck disable=SC2154
wait "$swaks1" "$swaks2" "$swaks3"
scrape "$mport" metrics "$dir/after" >/dev/null
started1=$(value "$dir/after" slowspam_tarpit_sessions_started_total)
maxhold1=$(value "$dir/after" 'slowspam_tarpit_sessions_ended_total{reason="max_hold"}')
[ $((started1 - started0)) -eq 3 ]
tap_ok "tarpitd: sessions_started_total moved by 3 ($started0 -> $started1)" \
	$? "$dir/after" "$dir/tarpitd.log"
[ $((maxhold1 - maxhold0)) -eq 3 ]
tap_ok "tarpitd: sessions_ended_total{reason=\"max_hold\"} moved by 3" $? \
	"$dir/after"
[ "$(value "$dir/after" slowspam_tarpit_clients_held)" = 0 ]
tap_ok "tarpitd: clients_held is back to 0" $? "$dir/after"
# Each held at least max_hold less one drip (the reply's last tick).
[ "$(value "$dir/after" slowspam_tarpit_helos_total)" = 3 ] &&
	[ "$(value "$dir/after" slowspam_tarpit_bytes_sent_total)" -gt 0 ] &&
	awk '$1 == "slowspam_tarpit_held_seconds_total" && $2 >= 5 { f = 1 }
	    END { exit !f }' "$dir/after"
tap_ok "tarpitd: helos, bytes sent and held seconds counted" $? "$dir/after"

code=$(scrape "$mport" other "$dir/other")
[ "$code" = 404 ]
tap_ok "tarpitd: another path is 404 ($code)" $? "$dir/other.err"

# Scrapers that connect and say nothing, ten of them; meanwhile new SMTP
# clients must get their first byte at once (the teaser): the loop never
# waits on a scraper. Then the silent ones are dropped soon.
python3 - "$mport" "$port" "$lib_slow" >"$dir/slow.out" 2>&1 <<'EOF'
import socket, sys, time
mport, port, slow = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
ok = True
silent = []
for i in range(10):
    silent.append(socket.create_connection(("127.0.0.1", mport)))
    start = time.monotonic()
    smtp = socket.create_connection(("127.0.0.1", port))
    smtp.settimeout(5)
    first = smtp.recv(1)
    took = time.monotonic() - start
    print("silent scrapers %d: first byte %r after %.3f s" % (i + 1, first,
        took))
    ok = ok and first == b"2" and took < 0.1 * slow
    smtp.close()
    time.sleep(0.05)
for slow in silent:
    slow.settimeout(3)
    try:
        rest = slow.recv(512)
    except socket.timeout:
        rest = None
    print("silent scraper got %r" % rest)
    ok = ok and rest is not None
    slow.close()
sys.exit(0 if ok else 1)
EOF
tap_ok "tarpitd: a silent scraper neither stalls a new SMTP client nor stays" \
	$? "$dir/slow.out" "$dir/tarpitd.log"
code=$(scrape "$mport" metrics "$dir/again")
[ "$code" = 200 ]
tap_ok "tarpitd: scraped again after it" $? "$dir/again.err"
stop_pid "$tarpit_pid"

# --- slowspam-milter
if ! command -v miltertest >/dev/null 2>&1; then
	for i in 1 2 3 4 5 6 7; do
		tap_n=$((tap_n + 1))
		echo "ok $tap_n # SKIP miltertest is not installed"
	done
	tap_done
fi
cat > "$dir/milter.conf" <<CONF
[milter]
authserv_id = primary.test
grace = 0
metrics_listen = 127.0.0.1:$mport
[store]
path = $dir/mstore/hits.lmdb
CONF
echo "pass.test TXT v=spf1 ip4:192.0.2.0/24 -all" > "$dir/zone"
"$milter" -f -c "$dir/milter.conf" --socket "unix:$dir/milter.sock" \
	--spf-zone "$dir/zone" 2>"$dir/milter.log" &
track_pid $!
wait_for 5 test -S "$dir/milter.sock" || bail "the milter did not start"
wait_listen 127.0.0.1 "$mport" 5 || bail "no milter metrics socket"
cat > "$dir/one.lua" <<'EOF'
dofile(os.getenv("MT_LIB"))
run(function()
	local conn = open("M", "192.0.2.20", "mail.client.example")
	check(message(conn, "<a@pass.test>", "<b@primary.test>") ==
	    SMFIR_CONTINUE, "MAIL not continued")
	mt.disconnect(conn)
end)
EOF
MT_LIB=$top_srcdir/tests/milter/lib.lua MILTER_M="unix:$dir/milter.sock" \
	miltertest -s "$dir/one.lua" >"$dir/lua.out" 2>&1
tap_ok "milter: one transaction through miltertest" $? "$dir/lua.out" \
	"$dir/milter.log"
code=$(scrape "$mport" metrics "$dir/milter")
[ "$code" = 200 ] &&
	grep -qi '^Content-Type: text/plain; version=0.0.4' "$dir/milter.head"
tap_ok "milter: GET /metrics is 200, text/plain; version=0.0.4" $? \
	"$dir/milter.err" "$dir/milter.log"
well_formed "$dir/milter" >"$dir/milter.check" 2>&1
tap_ok "milter: the text format is well formed" $? "$dir/milter.check" \
	"$dir/milter"
[ "$(value "$dir/milter" slowspam_milter_connections_total)" = 1 ]
tap_ok "milter: connections_total is 1" $? "$dir/milter"
[ "$(value "$dir/milter" 'slowspam_milter_spf_results_total{result="pass"}')" = 1 ] &&
	[ "$(value "$dir/milter" 'slowspam_milter_spf_results_total{result="fail"}')" = 0 ]
tap_ok "milter: the SPF pass is counted" $? "$dir/milter"
[ "$(value "$dir/milter" slowspam_milter_lookup_seconds_count)" = 1 ] &&
	[ "$(value "$dir/milter" 'slowspam_milter_lookup_seconds_bucket{le="+Inf"}')" = 1 ] &&
	[ "$(value "$dir/milter" 'slowspam_milter_verdicts_total{verdict="none"}')" = 1 ]
tap_ok "milter: the lookup histogram and the verdict are counted" $? \
	"$dir/milter"
code=$(scrape "$mport" "" "$dir/root")
[ "$code" = 404 ]
tap_ok "milter: another path is 404 ($code)" $? "$dir/root.err"
tap_done
