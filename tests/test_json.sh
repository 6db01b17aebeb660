#!/bin/sh
# test_json.sh - every JSON line the programs print passes a strict
# parser, for hostile HELOs sent to a real tarpitd over TCP and for an
# event log, store and configuration under a path that is not ASCII, nor
# even UTF-8: the event log, export, list --json, lookup --json and
# stats --json, each read by Python's json module (the bytes decoded as
# strict UTF-8; NaN, Infinity and duplicate keys refused) and by
# json-glib (tests/jsoncheck). And the HELO reads back as the rule of
# docs/json.md says for the bytes sent: each byte one code point, the
# first 100 bytes kept in the event log, 255 in the store. Prints TAP.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
# shellcheck source=tests/lib.sh
. "$top_srcdir/tests/lib.sh"
ctl=$top_builddir/slowspamctl/slowspamctl
tarpitd=$top_builddir/tarpitd/tarpitd
jsoncheck=$top_builddir/tests/jsoncheck
need_cmds python3
make_dir json
bail_logs="$dir/tarpitd.log"

# The event log and the store in a folder named with an e acute, a
# quote, a backslash and U+2028 (a configuration holds UTF-8 only); the
# configuration, a copy of the log and an export in one whose name is
# not UTF-8 (0xff 0xfe, a lone 0xc3).
odd=$(printf '%s/\303\251 "\\ \342\200\250' "$dir")
bad=$(printf '%s/\377\376-\303' "$dir")
mkdir -m 755 "$odd" "$bad" || bail "cannot make folders with odd names"
port=$(free_port 127.0.0.1) || bail "no free port on 127.0.0.1"
conf="$bad/slowspam.conf"
# GKeyFile reads a backslash as an escape: doubled.
odd_conf=$(printf '%s' "$odd" | sed 's/\\/\\\\/g')
cat > "$conf" <<CONF
[tarpitd]
listen = 127.0.0.1:$port
hostname = tarpit.test
greet_wait = 100ms
drip_interval = 200ms
max_hold = 1s
user = nobody
event_log = $odd_conf/events.jsonl
[store]
path = $odd_conf/store/hits.lmdb
CONF

# The checker: python3 check.py KIND EXPECTED FILE; KIND is evlog (a
# line per session, keyed by client), records (export, list, lookup:
# keyed by network) or stats (one object).
cat > "$dir/check.py" <<'PY'
import json, sys

kind, expected_path, path = sys.argv[1:4]
expected = {k: bytes.fromhex(v) for k, v in
            json.load(open(expected_path)).items()}


def no_constants(name):
    raise ValueError("non-JSON constant " + name)


def no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("duplicate key")
    return dict(pairs)


bad = 0
seen = set()
raw = open(path, "rb").read()
lines = [l for l in raw.split(b"\n") if l]
if not raw.endswith(b"\n") or not lines:
    print("%s: no lines, or the last one not ended" % path)
    bad += 1
for n, line in enumerate(lines, 1):
    try:
        obj = json.loads(line.decode("utf-8", errors="strict"),
                         parse_constant=no_constants,
                         object_pairs_hook=no_duplicates)
        if not isinstance(obj, dict):
            raise ValueError("not an object")
    except ValueError as e:
        print("%s:%d: %s: %r" % (path, n, e, line[:200]))
        bad += 1
        continue
    if kind == "stats":
        if not isinstance(obj.get("source"), str):
            print("%s:%d: no source" % (path, n))
            bad += 1
        continue
    key = obj["client"] if kind == "evlog" else obj["network"].split("/")[0]
    if key not in expected:
        continue
    seen.add(key)
    helo = obj.get("helo")
    # The rule: a code point per byte, so Latin-1 gives the bytes back.
    got = None if helo is None else helo.encode("latin-1")
    # The event log keeps 100 bytes of a HELO, the store 255.
    if got != expected[key][:100 if kind == "evlog" else 255]:
        print("%s:%d: %s: HELO %r, sent %r" % (path, n, key, got,
                                              expected[key]))
        bad += 1
if kind == "evlog" and seen != set(expected):
    print("%s: sessions missing: %s" % (path, sorted(set(expected) - seen)))
    bad += 1
print("%d lines, %d bad" % (len(lines), bad))
sys.exit(1 if bad else 0)
PY

# The client: one session per HELO, each from its own address; writes
# each HELO as tarpitd takes it (hex), by source address.
cat > "$dir/client.py" <<'PY'
import json, socket, sys

port, out = int(sys.argv[1]), sys.argv[2]
helos = [
    b"host.example",
    bytes(range(0x00, 0x0a)) + bytes(range(0x0b, 0x80)),   # every ASCII byte
    bytes(range(0x80, 0x100)),                              # every high byte
    b"\xc3\x28\xa0\xa1\xe2\x28\xa1\xf0\x90\x28\xbc\xff\xfe\xc0\xaf",
    b'a"client":"9.9.9.9" \\ \\" \\\\u0000 "}\x00tail',
    "x\u2028y\u2029z".encode() + b" \\u2028 \xed\xa0\x80",
    b"\x7f\xc2\x80\xc2\x9f\x1f\x1f\x1b[31m",
    b"a" + "\u00e9".encode() * 60,            # 100 bytes cut mid-character
    b"L" * 600,                               # over the line limit
]
want = {}
for i, helo in enumerate(helos):
    src = "127.0.17.%d" % (i + 1)
    s = socket.socket()
    s.settimeout(10)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    got = b""
    while b"\n220 " not in b"\n" + got:
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    s.sendall(b"EHLO " + helo + b"\r\n")
    while s.recv(4096):
        pass
    s.close()
    # What tarpitd judges: the first 512 bytes of a line, less "EHLO ".
    want[src] = (b"EHLO " + helo)[:512][5:].hex()
json.dump(want, open(out, "w"))
PY

tap_plan 9
tarpitd_start "$conf" "$dir/tarpitd.log"
python3 "$dir/client.py" "$port" "$dir/expected.json" > "$dir/client.log" 2>&1 ||
	bail "the client failed: $(cat "$dir/client.log")"
wait_for 10 sh -c "[ \$(grep -c 'session client=127.0.17' '$dir/tarpitd.log') -ge 9 ]"
sleep 0.3

# check NAME KIND FILE: Python's strict parser and the HELOs, then json-glib.
check() {
	python3 "$dir/check.py" "$2" "$dir/expected.json" "$3" > "$dir/$1.check" 2>&1 &&
		"$jsoncheck" "$3" >> "$dir/$1.check" 2>&1
	tap_ok "$1: strict JSON, the HELOs as sent" $? "$dir/$1.check" "$3"
}
check "event log" evlog "$odd/events.jsonl"
"$ctl" -c "$conf" export --format json > "$dir/export" 2> "$dir/export.err"
check "export --format json" records "$dir/export"
"$ctl" -c "$conf" export --format json -o "$bad/export.json" > "$dir/export.err" 2>&1
check "export -o under a path not UTF-8" records "$bad/export.json"
"$ctl" -c "$conf" list --json > "$dir/list" 2> "$dir/list.err"
check "list --json" records "$dir/list"
: > "$dir/lookup"
for i in 1 2 3 4 5 6 7 8 9; do
	"$ctl" -c "$conf" lookup --json "127.0.17.$i" >> "$dir/lookup" 2>&1
done
check "lookup --json" records "$dir/lookup"
cp "$odd/events.jsonl" "$bad/events.jsonl"
"$ctl" -c "$conf" stats --json --log "$odd/events.jsonl" --log "$bad/events.jsonl" \
	> "$dir/stats" 2> "$dir/stats.err"
check "stats --json (the paths in its source)" stats "$dir/stats"
# No event log: the figures from the store, whose path is in the source.
"$ctl" -c "$conf" --set tarpitd.event_log= stats --json > "$dir/stats-store" 2>&1
check "stats --json from the store" stats "$dir/stats-store"
# Every HELO made it to the store (else the checks above saw none).
[ "$(grep -c '"helo":"' "$dir/export")" -ge 9 ]
tap_ok "the store holds the 9 HELOs" $? "$dir/export"

# The reader is bounded: lines too deep, too long, or hiding brackets
# from the bound in what json-glib alone would read (a comment, single
# quotes) are counted, not parsed, and so are lines that only json-glib's
# lenient scanner reads; a good line beside them still counts.
python3 - "$dir/hostile.jsonl" <<'PY'
import sys
good = ('{"client":"192.0.2.1","port":1,"connect":"2026-11-26T10:00:00.000Z",'
        '"disconnect":"2026-11-26T10:10:00.000Z","held":600.000,"helo":null,'
        '"helo_class":null,"evidence":[],"bytes_sent":1,"end":"max_hold"}')
with open(sys.argv[1], "w") as f:
    f.write("[" * 8000 + "\n")                       # deep, under 8 KiB
    f.write('{"a":[[[[1]]]],' + good[1:] + "\n")      # 5 deep
    f.write(good[:-1] + ',"pad":"' + "x" * 100000 + '"}\n')
    f.write("/*\"*/" + "[" * 5000 + "\n")            # a comment hides '"'
    f.write("{'x':\"" + "[" * 5000 + "\n")           # so do single quotes
    f.write(good + good + "\n")                      # two objects
    # JSON only json-glib's scanner takes: \q, a raw control in a
    # string, numbers 01, 1. and .5, a bare word.
    for bad in ('"helo":"\\q"', '"helo":"\x01"', '"port":01',
                '"held":600.', '"bytes_sent":.5', '"helo":nul'):
        f.write(good[:-1] + "," + bad + "}\n")
    f.write(good + "\n")
PY
"$ctl" -c "$conf" stats --json --log "$dir/hostile.jsonl" > "$dir/hostile.out" 2>&1 &&
	python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
sys.exit(0 if (s["emails_blocked"], s["lines_not_understood"]) == (1, 12) else 1)
' "$dir/hostile.out"
tap_ok "stats: deep, long and disguised lines counted, not parsed" $? "$dir/hostile.out"
tap_done
