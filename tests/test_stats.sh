#!/bin/sh
# test_stats.sh - slowspamctl stats, list, export and --json: the three
# figures exactly, from a known event log (rotated and gzip-compressed
# files too) and from sessions a real tarpitd held. Prints TAP.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
# shellcheck source=tests/lib.sh
. "$top_srcdir/tests/lib.sh"
ctl=$top_builddir/slowspamctl/slowspamctl
tarpitd=$top_builddir/tarpitd/tarpitd
need_cmds swaks gzip
make_dir stats
bail_logs="$dir/tarpitd.log"

# A known event log: 3 sessions (600 s, 300 s, 5 s) from 2 hosts, and a
# line that is not ours; a rotated copy and a compressed one.
mkdir "$dir/log"
cat > "$dir/log/events.jsonl" <<'LOG'
{"client":"192.0.2.1","port":1,"connect":"2026-11-26T10:00:00.000Z","disconnect":"2026-11-26T10:10:00.000Z","held":600.000,"helo":"bot.example","helo_class":"fqdn","evidence":["pregreet"],"bytes_sent":100,"end":"max_hold"}
{"client":"192.0.2.1","port":2,"connect":"2026-11-27T10:00:00.000Z","disconnect":"2026-11-27T10:05:00.000Z","held":300.000,"helo":"a\"client\":\"9.9.9.9\"","helo_class":"invalid","evidence":[],"bytes_sent":100,"end":"client_closed"}
{"client":"2001:db8::1","port":3,"connect":"2026-11-27T11:00:00.000Z","disconnect":"2026-11-27T11:00:05.000Z","held":5.000,"helo":null,"helo_class":null,"evidence":["impatient","bare_lf"],"bytes_sent":10,"end":"client_closed"}
not an event
LOG
cp "$dir/log/events.jsonl" "$dir/log/events.jsonl.1"
gzip -c "$dir/log/events.jsonl" > "$dir/log/events.jsonl.2.gz"
cat > "$dir/known.conf" <<CONF
[tarpitd]
event_log = $dir/log/events.jsonl
[store]
path = $dir/known-store/hits.lmdb
CONF

tap_plan 14
"$ctl" -c "$dir/known.conf" stats > "$dir/out" 2>&1
head -n 4 "$dir/out" > "$dir/figures"
printf 'Stats since: 2026-11-26T10:00:00.000Z\nEmails blocked: 9\nHours in Tar Pit: 0.75\nUnique SMTP Hosts: 2\n' |
	cmp -s - "$dir/figures"
tap_ok "stats: the three figures, from three log files (one gzipped)" $? "$dir/out"
grep -q '^Lines not understood: 3$' "$dir/out" &&
	grep -q '^  2026-11-27         6 sessions        0.25 hours$' "$dir/out"
tap_ok "stats: bad lines counted, per-day counts" $? "$dir/out"
"$ctl" -c "$dir/known.conf" stats --since 2026-11-27 --until 2026-11-27T10:30:00Z \
	--log "$dir/log/events.jsonl" --json > "$dir/out" 2>&1
grep -q '"emails_blocked":1,"hours_in_tar_pit":0.08,"unique_smtp_hosts":1,' "$dir/out"
tap_ok "stats --since --until --log --json" $? "$dir/out"

# The real tar pit: 3 sessions from .31 and 2 from .32, each held 1 s.
port=$(free_port 127.0.0.1) || bail "no free port on 127.0.0.1"
mport=$(free_port 127.0.0.1) || bail "no free port on 127.0.0.1"
cat > "$dir/slowspam.conf" <<CONF
[tarpitd]
listen = 127.0.0.1:$port
metrics_listen = 127.0.0.1:$mport
hostname = tarpit.test
greet_wait = 100ms
drip_interval = 200ms
max_hold = 1s
user = nobody
event_log = $dir/run/events.jsonl
[store]
path = $dir/store/hits.lmdb
CONF
mkdir -m 755 "$dir/run"
tarpitd_start "$dir/slowspam.conf" "$dir/tarpitd.log"
for src in 31 31 31 32 32; do
	swaks --server "127.0.0.1:$port" --local-interface "127.0.0.$src" \
		--quit-after EHLO --helo "host$src.example" --timeout 10 \
		>/dev/null 2>&1 &
done
wait_for 10 sh -c "[ \$(grep -c 'end=max_hold' '$dir/tarpitd.log') -ge 5 ]"
sleep 0.3
"$ctl" -c "$dir/slowspam.conf" stats > "$dir/out" 2>&1
sed -n '2,4p' "$dir/out" > "$dir/figures"
printf 'Emails blocked: 5\nHours in Tar Pit: 0.00\nUnique SMTP Hosts: 2\n' |
	cmp -s - "$dir/figures"
tap_ok "stats after 5 real sessions from 2 hosts" $? "$dir/out" "$dir/tarpitd.log"
grep -q '^  127.0.0.31/32 .* 3 sessions' "$dir/out"
tap_ok "stats: the top network" $? "$dir/out"
# The live metrics agree with the figures.
python3 -c "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:$mport/metrics', timeout=5).read().decode())" \
	> "$dir/metrics" 2>&1
grep -q '^slowspam_tarpit_sessions_ended_total{reason="max_hold"} 5$' "$dir/metrics"
tap_ok "the metrics agree: 5 sessions ended at max_hold" $? "$dir/metrics"

"$ctl" -c "$dir/slowspam.conf" export --format csv > "$dir/out" 2>&1
head -n 1 "$dir/out" | grep -q '^network,tarpit_sessions,' &&
	grep -q '^127.0.0.31/32,3,.*,"host31.example",fqdn,' "$dir/out"
tap_ok "export --format csv" $? "$dir/out"
"$ctl" -c "$dir/slowspam.conf" export --format json > "$dir/out" 2>&1
[ "$(grep -c '^{"network":' "$dir/out")" -eq 2 ]
tap_ok "export --format json: one object per network" $? "$dir/out"
"$ctl" -c "$dir/slowspam.conf" lookup 127.0.0.32 --json > "$dir/out" 2>&1
grep -q '^{"network":"127.0.0.32/32","tarpit_sessions":2,.*"helo":"host32.example"' "$dir/out"
tap_ok "lookup --json" $? "$dir/out"
"$ctl" -c "$dir/slowspam.conf" list --bot > "$dir/out" 2>&1
[ ! -s "$dir/out" ]
tap_ok "list --bot: polite clients with good HELOs are not listed" $? "$dir/out"

# Rotation as logrotate does it ("create", then SIGHUP): tarpitd reopens
# the new file, and stats counts both.
mv "$dir/run/events.jsonl" "$dir/run/events.jsonl.1"
: > "$dir/run/events.jsonl"
chown nobody "$dir/run/events.jsonl"
kill -HUP "$tarpit_pid"
wait_for 5 grep -q "reloaded" "$dir/tarpitd.log"
swaks --server "127.0.0.1:$port" --local-interface 127.0.0.33 \
	--quit-after EHLO --helo host33.example --timeout 10 >/dev/null 2>&1
wait_for 5 grep -q 'session client=127.0.0.33' "$dir/tarpitd.log"
"$ctl" -c "$dir/slowspam.conf" stats > "$dir/out" 2>&1
[ "$(wc -l < "$dir/run/events.jsonl")" -eq 1 ] &&
	grep -q '^Emails blocked: 6$' "$dir/out" &&
	grep -q '^Unique SMTP Hosts: 3$' "$dir/out"
tap_ok "rotation: reopened on SIGHUP, stats reads both files" $? "$dir/out"

# The report: one self-contained page with the same figures.
"$ctl" -c "$dir/known.conf" report -o "$dir/report.html" > "$dir/out" 2>&1 &&
	grep -q 'id="blocked">9<' "$dir/report.html" &&
	grep -q 'id="hours">0.75<' "$dir/report.html" &&
	grep -q 'id="hosts">2<' "$dir/report.html" &&
	grep -q '<svg ' "$dir/report.html"
tap_ok "report: the three figures and inline SVG charts" $? "$dir/out"
# Nothing to fetch: no src=, no href=, no url( in the page.
! grep -Eq 'src=|href=|url\(' "$dir/report.html"
tap_ok "report: self-contained" $? "$dir/report.html"
# Headless Chromium renders it: the figures are in the DOM, and a
# screenshot is made (tests/../report.png stays in the test dir).
if command -v chromium >/dev/null 2>&1; then
	chromium="chromium --headless --no-sandbox --disable-gpu --disable-quic \
		--no-first-run --disable-background-networking \
		--disable-component-update --disable-sync \
		--user-data-dir=$dir/chromium"
	# shellcheck disable=SC2086
	timeout 60 $chromium --dump-dom "file://$dir/report.html" \
		> "$dir/dom.html" 2>"$dir/chromium.log"
	# shellcheck disable=SC2086
	timeout 60 $chromium --window-size=900,1400 \
		--screenshot="$dir/report.png" "file://$dir/report.html" \
		>>"$dir/chromium.log" 2>&1
	grep -q 'id="blocked">9<' "$dir/dom.html" &&
		[ "$(wc -c < "$dir/report.png")" -gt 10000 ]
	tap_ok "report: Chromium renders the figures and a screenshot" $? \
		"$dir/chromium.log"
else
	tap_ok "report in Chromium # SKIP chromium is not installed" 0
fi
tap_done
