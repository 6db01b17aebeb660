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

tap_plan 19
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
# Nothing to fetch: no src=, no href=, no url( in the page, no script,
# and a policy that forbids loading anything.
! grep -Eqi 'src=|href=|url\(|<script' "$dir/report.html" &&
	grep -q "Content-Security-Policy\" content=\"default-src 'none'" \
		"$dir/report.html"
tap_ok "report: self-contained" $? "$dir/report.html"

# charts FILE: each chart of the page (or of Chromium's DOM of it) has
# its title, both axis titles, y ticks from 0 to a round number at or
# above the highest bar (6: 0 2 4 6; 3: 0 1 2 3), a label under every bar, and each bar's value (text
# and tooltip) is the known log's: 3 sessions on 26 November and 6 on
# the 27th, 6 at 10h and 3 at 11h, 3 each held 5 s, 300 s and 600 s.
charts() {
	python3 - "$1" <<'EOF'
import sys
from html.parser import HTMLParser

class Charts(HTMLParser):
    def __init__(self):
        super().__init__()
        self.charts, self.chart, self.cls, self.text = {}, None, [], None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg" and a.get("id", "").startswith("chart-"):
            self.chart = self.charts.setdefault(a["id"], {})
        if self.chart is None:
            return
        self.cls.append(a.get("class") or tag)
        if tag in ("text", "title"):
            self.text = ""
    def handle_endtag(self, tag):
        if tag == "svg":
            self.chart = None
        if self.chart is None or not self.cls:
            return
        kind = self.cls.pop()
        if tag in ("text", "title") and self.text is not None:
            if tag == "title":
                kind = "bar" if self.cls and self.cls[-1] == "bar" else "title"
            self.chart.setdefault(kind, []).append(self.text)
            self.text = None
    def handle_data(self, data):
        if self.text is not None:
            self.text += data

p = Charts()
p.feed(open(sys.argv[1], encoding="utf-8").read())
hours = ["%02d" % h for h in range(24)]
holds = ["< 10 s", "10 s - 1 min", "1 - 5 min", "5 - 10 min",
    "10 - 30 min", "30 min - 1 h", ">= 1 h"]
want = {
    "chart-days": ("Sessions per day (UTC)",
        "day (UTC), 2026-11-26 to 2026-11-27",
        ["2026-11-26", "2026-11-27"], ["11-26", "11-27"], [3, 6], 2),
    "chart-hours": ("Sessions by hour of day (UTC)", "hour of day (UTC)",
        hours, hours, [6 if h == 10 else 3 if h == 11 else 0
        for h in range(24)], 2),
    "chart-holds": ("Hold times", "time held", holds, holds,
        [3, 0, 0, 3, 3, 0, 0], 1),
}
ok = True
for cid, (title, x_title, labels, xlabels, values, step) in want.items():
    c = p.charts.get(cid)
    if c is None:
        print("%s: no such chart" % cid); ok = False; continue
    got = {
        "title": c.get("title"), "axis": c.get("axis"),
        "tick": c.get("tick"), "xlabel": c.get("xlabel"),
        "value": c.get("value"), "bar": c.get("bar"),
    }
    exp = {
        "title": [title], "axis": ["sessions", x_title],
        "tick": [str(v) for v in range(0, max(values) + 1, step)],
        "xlabel": xlabels,
        "value": [str(v) for v in values],
        "bar": ["%s: %d sessions" % (l, v) for l, v in zip(labels, values)],
    }
    for k in exp:
        if got[k] != exp[k]:
            print("%s %s: %r, not %r" % (cid, k, got[k], exp[k])); ok = False
    print("%s: %d bars, ticks %s" % (cid, len(c.get("bar", [])),
        " ".join(c.get("tick", []))))
sys.exit(0 if ok else 1)
EOF
}
charts "$dir/report.html" > "$dir/charts.out" 2>&1
tap_ok "report: every chart's axes, ticks, labels and values" $? \
	"$dir/charts.out"
# From a file whose name is markup: shown as text, never as markup.
cp "$dir/log/events.jsonl" "$dir/log/<b>x&amp;.jsonl"
"$ctl" -c "$dir/known.conf" report --log "$dir/log/<b>x&amp;.jsonl" \
	-o "$dir/escaped.html" > "$dir/out" 2>&1 &&
	grep -q '/&lt;b&gt;x&amp;amp;.jsonl' "$dir/escaped.html" &&
	! grep -q '<b>x' "$dir/escaped.html"
tap_ok "report: names from the data are escaped" $? "$dir/out"
# From a file whose name is not UTF-8 and holds a control: the page
# (UTF-8, it says) stays UTF-8, the name's bad bytes shown as U+FFFD.
bad_name=$(printf '%s/log/ev\377\001.jsonl' "$dir")
cp "$dir/log/events.jsonl" "$bad_name"
"$ctl" -c "$dir/known.conf" report --log "$bad_name" \
	-o "$dir/bad-name.html" > "$dir/out" 2>&1 &&
	python3 - "$dir/bad-name.html" >> "$dir/out" 2>&1 <<'EOF'
import re, sys
text = open(sys.argv[1], "rb").read().decode("utf-8", errors="strict")
if re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", text):
    sys.exit("a control character in the page")
if "/ev\ufffd\ufffd.jsonl" not in text:
    sys.exit("the file name is not shown with U+FFFD")
EOF
tap_ok "report: a file name not UTF-8 leaves the page UTF-8" $? "$dir/out"
# Days a year apart (366 bars, every 43rd labelled): MM-DD could name
# two days, so the labels under the bars are whole dates.
for t in 2025-01-05 2026-01-05; do
	printf '{"client":"192.0.2.9","port":1,"connect":"%sT10:00:00.000Z","disconnect":"%sT10:00:10.000Z","held":10.000,"helo":null,"helo_class":null,"evidence":[],"bytes_sent":1,"end":"max_hold"}\n' "$t" "$t"
done > "$dir/years.jsonl"
"$ctl" -c "$dir/known.conf" report --log "$dir/years.jsonl" \
	-o "$dir/years.html" > "$dir/out" 2>&1 &&
	grep -q 'class="xlabel"[^>]*>2025-01-05<' "$dir/years.html" &&
	! grep -Eq 'class="xlabel"[^>]*>[0-9]{2}-[0-9]{2}<' "$dir/years.html"
tap_ok "report: days over a year apart are labelled with their year" $? \
	"$dir/out"
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
	charts "$dir/dom.html" > "$dir/dom-charts.out" 2>&1
	tap_ok "report: Chromium's DOM has every chart's axes and values" $? \
		"$dir/dom-charts.out" "$dir/chromium.log"
else
	tap_ok "report in Chromium # SKIP chromium is not installed" 0
	tap_ok "report charts in Chromium # SKIP chromium is not installed" 0
fi
tap_done
