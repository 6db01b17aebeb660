#!/bin/sh
# test_dashboard.sh - what operators look at, against the real daemons:
# tarpitd, slowspam-milter and slowspam-policyd on loopback, sharing one
# store, each given some traffic (a tar-pit session, a milter transaction
# through miltertest, a policy request) and scraped. The Grafana
# dashboard (conf-examples/slowspam-grafana.json) is importable JSON
# whose every metric and label matcher is one of those scrapes'; so is
# every name in the alerting rules (conf-examples/slowspam-alerts.yml),
# which promtool (Debian's, unpacked, never installed) checks and
# unit-tests with tests/alerts.test.yml; promtool also lints each scrape
# and checks the example scrape configuration. The alive marks and
# max_clients the alerts rest on have the values the traffic gave them.
# Prints TAP.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
# shellcheck source=tests/lib.sh
. "$top_srcdir/tests/lib.sh"
tarpitd=$top_builddir/tarpitd/tarpitd
milter=$top_builddir/milter/slowspam-milter
policyd=$top_builddir/policyd/slowspam-policyd
storetool=$top_builddir/tests/storetool
examples=$top_srcdir/conf-examples
need_cmds swaks python3 miltertest
# A python3 that reads YAML (the rules): Debian's has python3-yaml from
# scripts/install-deps; the one first on PATH may be another.
py_yaml=
for _py in python3 /usr/bin/python3; do
	if "$_py" -c 'import yaml' 2>/dev/null; then
		py_yaml=$_py
		break
	fi
done
[ -n "$py_yaml" ] || bail "no python3 with the yaml module (Debian: python3-yaml)"
make_dir dashboard
# shellcheck source=tests/lib_mta.sh
. "$top_srcdir/tests/lib_mta.sh"
bail_logs="$dir/tarpitd.log $dir/milter.log $dir/policyd.log"
tap_plan 13

# promtool comes with Debian's prometheus package, which would also
# start a Prometheus server if installed: unpacked instead. Without it
# (no package lists, no mirror), its checks are skipped, not the rest.
promtool=$( (mta_fetch promtool prometheus >/dev/null 2>&1 &&
	echo "$mta_prefix/usr/bin/promtool") )
[ -x "$promtool" ] || promtool=

port=$(free_port 127.0.0.1) || bail "no free port on 127.0.0.1"
tport=$(free_port 127.0.0.1) || bail "no free port on 127.0.0.1"
mport=$(free_port 127.0.0.1) || bail "no free port on 127.0.0.1"
pport=$(free_port 127.0.0.1) || bail "no free port on 127.0.0.1"
cat > "$dir/slowspam.conf" <<CONF
[tarpitd]
listen = 127.0.0.1:$port
metrics_listen = 127.0.0.1:$tport
hostname = tarpit.test
greet_wait = 200ms
drip_interval = 200ms
max_hold = 1s
max_clients = 500
user = nobody
[milter]
authserv_id = primary.test
grace = 0
metrics_listen = 127.0.0.1:$mport
[policyd]
metrics_listen = 127.0.0.1:$pport
[store]
path = $dir/store/hits.lmdb
CONF
echo "pass.test TXT v=spf1 ip4:192.0.2.0/24 -all" > "$dir/zone"

# The tar pit makes the store; 192.0.2.10 met it five minutes ago, while
# the primary was up, so the milter and policyd find it backup-first.
tarpitd_start "$dir/slowspam.conf" "$dir/tarpitd.log"
"$storetool" "$dir/store/hits.lmdb" alive now-3600000 now-60000 \
	>/dev/null || bail "storetool alive failed"
"$storetool" "$dir/store/hits.lmdb" tarpit 192.0.2.10/32 now-300000 \
	bot.client.example 1 >/dev/null || bail "storetool tarpit failed"
"$milter" -f -c "$dir/slowspam.conf" --socket "unix:$dir/milter.sock" \
	--spf-zone "$dir/zone" 2>"$dir/milter.log" &
track_pid $!
"$policyd" -f -c "$dir/slowspam.conf" --socket "unix:$dir/policy.sock" \
	--spf-zone "$dir/zone" 2>"$dir/policyd.log" &
track_pid $!
wait_for 5 test -S "$dir/milter.sock" || bail "the milter did not start"
wait_for 5 grep -q "slowspam-policyd .* on unix:" "$dir/policyd.log" ||
	bail "slowspam-policyd did not start"
wait_listen 127.0.0.1 "$mport" 5 || bail "no milter metrics socket"
wait_listen 127.0.0.1 "$pport" 5 || bail "no policyd metrics socket"

# The traffic: one tar-pit session, one message each through the milter
# and policyd.
swaks --server "127.0.0.1:$port" --local-interface 127.0.0.31 \
	--quit-after EHLO --helo host31.example --timeout 10 \
	>"$dir/swaks.out" 2>&1
wait_for 10 grep -q 'session client=127.0.0.31' "$dir/tarpitd.log"
# The milter's case of action = tag: 192.0.2.10 gets its X-Slowspam.
MT_LIB=$top_srcdir/tests/milter/lib.lua MILTER_TAG="unix:$dir/milter.sock" \
	miltertest -s "$top_srcdir/tests/milter/t-tag.lua" >"$dir/lua.out" 2>&1 &&
python3 "$top_srcdir/tests/policy_client.py" "unix:$dir/policy.sock" \
	session protocol_name=ESMTP client_address=192.0.2.10 \
	client_port=4000 client_name=unknown helo_name=bot.client.example \
	sender=a@pass.test instance=d1 -- RCPT:b@primary.test \
	END-OF-MESSAGE >"$dir/policy.out" 2>&1 &&
	grep -q '^PREPEND X-Slowspam: verdict=backup-first-bot ' \
		"$dir/policy.out"
tap_ok "traffic: a tar-pit session, a milter transaction, a policy request" \
	$? "$dir/swaks.out" "$dir/lua.out" "$dir/policy.out"

# scrape PORT OUT: the metrics at 127.0.0.1:PORT into OUT.
scrape() {
	python3 -c "import urllib.request, sys; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:$1/metrics', timeout=5).read().decode())" \
		>"$2" 2>&1 && [ -s "$2" ]
}
# marked PORT OUT NAME: scrape PORT into OUT, whose alive gauge NAME is
# within 2 minutes of now (written behind the answers: waited for).
# shellcheck disable=SC2317 # called through wait_for
marked() {
	scrape "$1" "$2" &&
		awk -v n="$3" -v now="$(date +%s)" \
		    '$1 == n && $2 > now - 120 && $2 <= now + 5 { f = 1 }
		    END { exit !f }' "$2"
}
scrape "$tport" "$dir/tarpitd.prom" &&
	wait_for 5 marked "$mport" "$dir/milter.prom" \
		slowspam_milter_alive_marked_timestamp_seconds &&
	wait_for 5 marked "$pport" "$dir/policyd.prom" \
		slowspam_policyd_alive_marked_timestamp_seconds
tap_ok "scraped all three; the milter and policyd marked the primary alive" \
	$? "$dir/tarpitd.prom" "$dir/milter.prom" "$dir/policyd.prom"
grep -q '^slowspam_tarpit_max_clients 500$' "$dir/tarpitd.prom" &&
	grep -q '^slowspam_tarpit_clients_held 0$' "$dir/tarpitd.prom"
tap_ok "tarpitd serves max_clients (500) beside clients_held" $? \
	"$dir/tarpitd.prom"

# lint OUT: promtool check metrics on a scrape.
for d in tarpitd milter policyd; do
	if [ -z "$promtool" ]; then
		tap_ok "promtool check metrics: $d # SKIP no promtool" 0
		continue
	fi
	"$promtool" check metrics < "$dir/$d.prom" > "$dir/$d.lint" 2>&1
	tap_ok "promtool check metrics: $d's scrape is clean" $? "$dir/$d.lint"
done

# names KIND FILE: every metric name in FILE's expressions (KIND
# dashboard: the targets and template queries of a Grafana dashboard;
# rules: a Prometheus rules file) is served by one of the scrapes, and
# every label matcher names a label (and, for = and =~, a value) that
# the scrapes have for it, and every label grouped by (by, without,
# on, ignoring) is one of its metrics'. Prints what it looked at.
names() {
	"$py_yaml" - "$1" "$2" "$dir/tarpitd.prom" "$dir/milter.prom" \
		"$dir/policyd.prom" <<'EOF'
import json, re, sys

kind, path, scrapes = sys.argv[1], sys.argv[2], sys.argv[3:]

# What the daemons serve: sample name -> {label: {values}}.
served = {}
sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? \S+$')
for s in scrapes:
    for line in open(s):
        m = sample.match(line.rstrip("\n"))
        if not m or line.startswith("#"):
            continue
        labels = served.setdefault(m.group(1), {})
        for k, v in re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"',
                               m.group(2) or ""):
            labels.setdefault(k, set()).add(v)
# Prometheus's own: the scrape's health, and the labels it adds.
prometheus_own = {"up"}
target_labels = {"job", "instance"}

def exprs():
    if kind == "rules":
        import yaml
        for g in yaml.safe_load(open(path))["groups"]:
            for r in g["rules"]:
                yield r.get("alert") or r.get("record"), r["expr"]
        return
    d = json.load(open(path))
    def panels(ps):
        for p in ps:
            yield p
            yield from panels(p.get("panels", []))
    for p in panels(d["panels"]):
        for t in p.get("targets", []):
            yield p["title"], t["expr"]
    for v in d["templating"]["list"]:
        if v.get("type") == "query":
            q = v["query"]
            q = q["query"] if isinstance(q, dict) else q
            m = re.fullmatch(r'label_values\((.*),\s*\w+\)', q)
            yield "variable " + v["name"], m.group(1) if m else q

token = re.compile(r'''\s+|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\[[^\]]*\]
    |\{(?P<m>[^}]*)\}|(?P<num>[0-9]+(?:\.[0-9]+)?(?:e[-+]?[0-9]+)?
    (?:ms|[smhdwy])?)|(?P<id>[a-zA-Z_:][a-zA-Z0-9_:]*)|\$\w+|.''',
    re.X)
keywords = {"and", "or", "unless", "bool", "offset", "by", "without",
    "on", "ignoring", "group_left", "group_right", "inf", "nan",
    # aggregations, which may have "by (...)" before their "(":
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count",
    "count_values", "bottomk", "topk", "quantile"}
grouping = {"by", "without", "on", "ignoring", "group_left", "group_right"}
matcher = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!=|!~|=)\s*'
    r'"((?:[^"\\]|\\.)*)"\s*,?')

def check(where, e):
    bad, used, groups = [], set(), set()
    toks = [(m.group(0), m) for m in token.finditer(e)
        if not m.group(0).isspace()]
    i = 0
    while i < len(toks):
        text, m = toks[i]
        nxt = toks[i + 1][0] if i + 1 < len(toks) else ""
        if m.group("m") is not None:
            bad.append("%s: a selector without a metric name: %s" %
                (where, text))
        elif m.group("id"):
            name = m.group("id")
            if name in grouping and nxt == "(":
                i += 1
                while i < len(toks) and toks[i][0] != ")":
                    if toks[i][1].group("id"):
                        groups.add(toks[i][0])
                    i += 1
            elif name in keywords or nxt == "(":
                pass
            else:
                used.add(name)
                known = name in served or name in prometheus_own
                if not known:
                    bad.append("%s: %s is not served" % (where, name))
                if (i + 1 < len(toks) and
                        toks[i + 1][1].group("m") is not None):
                    i += 1
                    if known:
                        bad += matchers(where, name, toks[i][1].group("m"))
        i += 1
    # "by (reason)": a label one of the expression's metrics has.
    for g in sorted(groups - target_labels):
        if not any(g in served.get(u, {}) for u in used):
            bad.append("%s: no metric of it has the label %s" % (where, g))
    return bad, used

def matchers(where, name, text):
    bad, pos = [], 0
    while pos < len(text.strip()):
        m = matcher.match(text, pos)
        if not m:
            return ["%s: cannot read the matchers of %s: %s" %
                (where, name, text)]
        pos = m.end()
        label, op, value = m.groups()
        if label in target_labels or name in prometheus_own:
            continue
        have = served.get(name, {}).get(label)
        if have is None:
            bad.append("%s: %s has no label %s" % (where, name, label))
        elif "$" in value or op in ("!=", "!~"):
            continue
        elif op == "=" and value not in have:
            bad.append('%s: %s has no %s="%s" (only %s)' %
                (where, name, label, value, sorted(have)))
        elif op == "=~" and not any(re.fullmatch(value, v) for v in have):
            bad.append('%s: no %s of %s matches "%s"' %
                (where, label, name, value))
    return bad

problems, names_used, n = [], set(), 0
for where, e in exprs():
    b, u = check(where, e)
    problems += b
    names_used |= u
    n += 1
print("%d expressions, %d metric names: %s" % (n, len(names_used),
    " ".join(sorted(names_used))))
for p in problems:
    print("problem: " + p)
sys.exit(1 if problems or n == 0 else 0)
EOF
}

# The dashboard: importable (a datasource input, current panel types,
# every panel on that datasource with a unit, a job and an instance
# variable), and only names the daemons serve.
python3 - "$examples/slowspam-grafana.json" > "$dir/import.out" 2>&1 <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
problems = []
ins = [i for i in d.get("__inputs", []) if i.get("name") == "DS_PROMETHEUS"]
if not ins or ins[0].get("type") != "datasource" or \
        ins[0].get("pluginId") != "prometheus":
    problems.append("no datasource input DS_PROMETHEUS")
if d.get("id") is not None or not d.get("uid") or not d.get("title"):
    problems.append("id must be null, uid and title set")
kinds = {"row", "stat", "timeseries", "bargauge", "table", "gauge"}
ids, n = set(), 0
def panels(ps):
    for p in ps:
        yield p
        yield from panels(p.get("panels", []))
for p in panels(d["panels"]):
    n += 1
    t, title = p.get("type"), p.get("title")
    if t not in kinds:
        problems.append("%s: panel type %s" % (title, t))
    if p.get("id") in ids:
        problems.append("%s: id %s twice" % (title, p.get("id")))
    ids.add(p.get("id"))
    g = p.get("gridPos", {})
    if not all(k in g for k in "hwxy") or g["x"] + g["w"] > 24:
        problems.append("%s: gridPos %s" % (title, g))
    if t == "row":
        continue
    if p.get("datasource", {}).get("uid") != "${DS_PROMETHEUS}":
        problems.append("%s: not on ${DS_PROMETHEUS}" % title)
    if not p.get("fieldConfig", {}).get("defaults", {}).get("unit"):
        problems.append("%s: no unit" % title)
    if not p.get("targets") or not all(x.get("expr") and x.get("refId")
            for x in p["targets"]):
        problems.append("%s: no query" % title)
    for x in p.get("targets", []):
        if "$instance" not in x["expr"]:
            problems.append("%s: %s ignores $instance" % (title, x["expr"]))
names = {v.get("name") for v in d.get("templating", {}).get("list", [])}
if not {"job", "instance"} <= names:
    problems.append("template variables %s: job and instance wanted" %
        sorted(names))
print("%d panels, variables %s" % (n, sorted(names)))
for p in problems:
    print("problem: " + p)
sys.exit(1 if problems else 0)
EOF
tap_ok "dashboard: importable Grafana JSON" $? "$dir/import.out"
names dashboard "$examples/slowspam-grafana.json" > "$dir/names.out" 2>&1
tap_ok "dashboard: every metric and label matcher is in a real scrape" $? \
	"$dir/names.out"
names rules "$examples/slowspam-alerts.yml" > "$dir/rules-names.out" 2>&1
tap_ok "alerts: every metric and label matcher is in a real scrape" $? \
	"$dir/rules-names.out"

if [ -z "$promtool" ]; then
	for c in "check rules" "check rules" "test rules" "check config"; do
		tap_ok "promtool $c # SKIP no promtool" 0
	done
	tap_done
fi
"$promtool" check rules "$examples/slowspam-alerts.yml" > "$dir/rules.out" 2>&1
tap_ok "promtool check rules: the alerting rules" $? "$dir/rules.out"
# The dashboard's queries parse: each one a recording rule (JSON is
# YAML), Grafana's variables given values as Grafana would.
python3 - "$examples/slowspam-grafana.json" > "$dir/queries.yml" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
def panels(ps):
    for p in ps:
        yield p
        yield from panels(p.get("panels", []))
values = {"$__rate_interval": "2m", "$__range": "1d", "$instance": ".*",
    "$job": ".*"}
rules = []
for p in panels(d["panels"]):
    for t in p.get("targets", []):
        e = t["expr"]
        for k, v in values.items():
            e = e.replace(k, v)
        rules.append({"record": "dashboard:panel%d_%s" % (p["id"],
            t["refId"]), "expr": e})
json.dump({"groups": [{"name": "dashboard", "rules": rules}]}, sys.stdout)
EOF
"$promtool" check rules "$dir/queries.yml" > "$dir/queries.out" 2>&1
tap_ok "promtool check rules: the dashboard's queries parse" $? \
	"$dir/queries.out"
"$promtool" test rules "$top_srcdir/tests/alerts.test.yml" \
	> "$dir/rules-test.out" 2>&1
tap_ok "promtool test rules: each alert fires when it should, only then" \
	$? "$dir/rules-test.out"
# The example scrape configuration names the rules file beside it.
"$promtool" check config "$examples/prometheus-slowspam.yml" \
	> "$dir/config.out" 2>&1
tap_ok "promtool check config: the example scrape configuration" $? \
	"$dir/config.out"
tap_done
