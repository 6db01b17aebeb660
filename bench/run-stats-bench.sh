#!/bin/sh
# run-stats-bench.sh - how fast slowspamctl stats reads the event log:
# a generated log of N tarpitd lines (varied clients, HELOs, evidence,
# a few lines that are not ours), read by stats --log, each binary
# given timed on the same file. Prints lines per second and peak RSS;
# not a test.
#
# Usage: bench/run-stats-bench.sh [SLOWSPAMCTL...]
#   (default: _build/x/slowspamctl/slowspamctl)
#   Environment: LINES_N=1000000 lines, RUNS=3 runs each (the best
#   is printed), WORKDIR=/tmp, KEEP_TMP=1 keeps the log.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
n=${LINES_N:-1000000}
runs=${RUNS:-3}
[ $# -gt 0 ] || set -- "$top/_build/x/slowspamctl/slowspamctl"
work=$(mktemp -d "${WORKDIR:-/tmp}/stats-bench.XXXXXX")
trap '[ -n "${KEEP_TMP:-}" ] || rm -rf "$work"' EXIT
python3 - "$n" "$work/events.jsonl" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
ev = ["pregreet", "bare_lf", "pipelining", "non_smtp", "no_helo",
      "impatient", "long_line"]
classes = ["fqdn", "bare_ip", "literal", "invalid", "dotless"]
with open(path, "w", encoding="ascii") as f:
    for i in range(n):
        if i % 1000 == 999:
            f.write("not an event line\n")
            continue
        s = 1764000000 + i * 3
        t0 = "2025-11-%02dT%02d:%02d:%02d.%03dZ" % (
            1 + i % 28, i % 24, i % 60, (i // 60) % 60, i % 1000)
        held = (i * 7919) % 600000 / 1000.0
        e = ",".join('"%s"' % x for j, x in enumerate(ev) if (i >> j) % 5 == 0)
        helo = ('"bot%d.example\\u00e9\\"x"' % (i % 5000)) if i % 7 else "null"
        hc = '"%s"' % classes[i % 5] if i % 7 else "null"
        f.write('{"client":"10.%d.%d.%d","port":%d,"connect":"%s",'
                '"disconnect":"%s","held":%.3f,"helo":%s,"helo_class":%s,'
                '"evidence":[%s],"bytes_sent":%d,"end":"max_hold"}\n' % (
                    (i >> 16) & 255, (i >> 8) & 255, i & 255, 1024 + i % 60000,
                    t0, t0, held, helo, hc, e, 100 + i % 900))
PY
printf '[store]\npath = %s/no-store/hits.lmdb\n' "$work" > "$work/bench.conf"
printf 'log: %s lines, %s bytes\n' "$n" "$(wc -c < "$work/events.jsonl")"
printf '%-50s %10s %12s %10s\n' binary seconds lines/s maxrss_kb
for ctl in "$@"; do
	best=
	rss=
	for _ in $(seq "$runs"); do
		/usr/bin/time -f '%e %M' -o "$work/time" "$ctl" -c "$work/bench.conf" \
			stats --log "$work/events.jsonl" > "$work/out" 2>&1
		read -r secs kb < "$work/time"
		if [ -z "$best" ] || [ "$(echo "$secs < $best" | bc)" -eq 1 ]; then
			best=$secs
			rss=$kb
		fi
	done
	printf '%-50s %10s %12.0f %10s\n' "$ctl" "$best" \
		"$(echo "$n / $best" | bc -l)" "$rss"
	grep -E '^(Emails blocked|Lines not understood)' "$work/out" | tr '\n' ' '
	echo
done
