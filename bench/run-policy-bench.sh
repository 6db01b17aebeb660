#!/bin/bash
# run-policy-bench.sh - slowspam-policyd against postgrey, the usual
# Postfix policy server, driven by the same client (bench_policy) in the
# same run: requests per second and round-trip latency with 1 and with
# 32 persistent connections. Prints a table; not a test.
#
# Usage: bench/run-policy-bench.sh   (as root; about two minutes)
#   Environment, all optional:
#     POLICYD=path     slowspam-policyd (default: build an -O2 copy in
#                      _build/bench, configured with CFLAGS="-O2 -g")
#     STORETOOL=path   tests/storetool, to seed tar-pit records (default:
#                      the one next to POLICYD's build; none: no seeding)
#     CLIENT=path      bench_policy (default: gcc -O2 of
#                      bench/bench_policy.c into the work folder)
#     SECONDS_RUN=10   seconds of each timed run (after 1 s of warm-up)
#     CONNS="1 32"     the connection counts
#     MIXES="1 2d"     what each SMTP session asks: N RCPT requests, and
#                      with "d" DATA and END-OF-MESSAGE after them
#                      (bench_policy -r N [-d]). 1: every request a new
#                      session (the worst case: a store write for each);
#                      2d: one message to two recipients, as Postfix asks
#                      with the three restriction lists (4 requests)
#     POOL=10000       client addresses (198.18.0.1 on) the sessions use
#     SEEDED=1000      of which the first SEEDED met the tar pit first
#     ADDR=127.0.0.1   where both servers listen (ports probed)
#     WORKDIR=/tmp     where the work folder (both databases) is made;
#                      /dev/shm (tmpfs) shows what the disk's fsync costs
#
# slowspam-policyd: its own slowspam.conf and LMDB store in the work
# folder, action = tag, spf = no (no DNS on a benchmark: postgrey does
# none either), trusted_networks empty so every request is judged. The
# store is seeded as tarpitd would have left it: the primary alive for
# the last hour, SEEDED addresses at the tar pit 5 minutes ago, so those
# sessions get a verdict (PREPEND) and the others DUNNO.
# postgrey: Debian's package (installed with apt-get if missing; its
# system service is not used), in the foreground on ADDR with its
# Berkeley DB in the work folder, default settings (greylisting by /24,
# 300 s delay) but -q (quiet): every request is a new triplet and is
# answered DEFER_IF_PERMIT after a database write.
# Each SMTP session comes from the next address of the pool and a port
# of its own. slowspam-policyd looks a session up (an LMDB read) and
# queues its contact with the primary, written behind the answer in
# batches, at its first request only; postgrey reads and writes its
# database at every request (each is a new sender/recipient/network
# triplet).
# Every process started here is stopped on exit (trap), and a watchdog
# ends the run after 300 s.
set -u
PATH=$PATH:/usr/sbin:/sbin

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
SECONDS_RUN=${SECONDS_RUN:-10}
CONNS=${CONNS:-1 32}
MIXES=${MIXES:-1 2d}
POOL=${POOL:-10000}
SEEDED=${SEEDED:-1000}
ADDR=${ADDR:-127.0.0.1}
LIMIT=300

say() { printf '%s\n' "$*"; }
die() { say "run-policy-bench: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (postgrey drops to its own user)"
for prog in python3 gcc; do
	command -v "$prog" >/dev/null 2>&1 || die "no $prog"
done

work=$(mktemp -d "${WORKDIR:-/tmp}/policy-bench.XXXXXX") || exit 1
chmod 755 "$work"
pids=()
watchdog=

stop_all() {
	local p
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${pids[@]}"; do
		for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	pids=()
}

cleanup() {
	trap - EXIT INT TERM
	if [ -n "$watchdog" ]; then
		kill $(pgrep -P "$watchdog") "$watchdog" 2>/dev/null
	fi
	stop_all
	if [ -n "${KEEP_TMP:-}" ]; then
		say "# kept $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'say "run-policy-bench: interrupted" >&2; exit 130' INT TERM
( sleep "$LIMIT"; say "run-policy-bench: over ${LIMIT}s, stopping" >&2
  kill -TERM $$ ) 2>/dev/null &
watchdog=$!

# --- what we need --------------------------------------------------------
if [ -z "${POLICYD:-}" ]; then
	b="$top/_build/bench"
	mkdir -p "$b"
	if [ ! -f "$b/Makefile" ]; then
		(cd "$b" && "$top/configure" CFLAGS="-O2 -g") >"$work/configure.log" \
		    2>&1 || die "configure failed: see $work/configure.log"
	fi
	[ -f "$b/policyd/Makefile" ] || (cd "$b" && ./config.status) \
	    >"$work/config.status.log" 2>&1
	(make -C "$b" && make -C "$b/tests" storetool) >"$work/make.log" 2>&1 ||
	    { tail -n 30 "$work/make.log"; die "make failed"; }
	POLICYD="$b/policyd/slowspam-policyd"
fi
STORETOOL=${STORETOOL:-$(dirname "$POLICYD")/../tests/storetool}
if [ -z "${CLIENT:-}" ]; then
	CLIENT="$work/bench_policy"
	gcc -O2 -g -Wall -Wextra -o "$CLIENT" "$here/bench_policy.c" \
	    -lpthread || die "cannot build bench_policy"
fi
for f in "$POLICYD" "$CLIENT"; do
	[ -x "$f" ] || die "no $f"
done
if ! command -v postgrey >/dev/null 2>&1; then
	say "# installing postgrey (apt-get; its service is not started here)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
	    postgrey >"$work/apt.log" 2>&1 ||
	    { tail -n 5 "$work/apt.log"; die "cannot install postgrey"; }
fi
pg_version=$(dpkg-query -W -f '${Version}' postgrey 2>/dev/null)

# free_ports ADDR N: N distinct TCP ports nothing listens on at ADDR now.
free_ports() {
	python3 - "$1" "$2" <<'EOF'
import random, socket, sys
addr, want = sys.argv[1], int(sys.argv[2])
got = []
for _ in range(1000):
    if len(got) == want:
        break
    port = random.randint(20000, 32000)
    if port in got:
        continue
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((addr, port))
    except OSError:
        continue
    finally:
        s.close()
    got.append(port)
if len(got) != want:
    sys.exit(1)
print(" ".join(map(str, got)))
EOF
}

# wait_listen ADDR PORT SECONDS: succeed once a socket listens there
# (from /proc/net/tcp: no connection made, nothing in any log).
wait_listen() {
	python3 - "$@" <<'EOF'
import socket, struct, sys, time
addr, port, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
want = "%08X:%04X" % (struct.unpack("=I", socket.inet_aton(addr))[0], port)
end = time.time() + limit
while time.time() < end:
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            field = line.split()
            if field[1] == want and field[3] == "0A":
                sys.exit(0)
    time.sleep(0.05)
sys.exit(1)
EOF
}

read -r pport gport <<<"$(free_ports "$ADDR" 2)" || die "no free ports on $ADDR"

# --- slowspam-policyd -----------------------------------------------------
mkdir -p "$work/store"
cat >"$work/slowspam.conf" <<EOF
[milter]
action = tag
trusted_networks =
spf = no
grace = 0
authserv_id = primary.bench
[store]
path = $work/store/hits.lmdb
[log]
level = warning
EOF
seeded=0
if [ -x "$STORETOOL" ]; then
	"$STORETOOL" "$work/store/hits.lmdb" alive now-3600000 now >/dev/null ||
	    die "storetool alive failed"
	# One write transaction per record: a thousand take a few seconds.
	python3 - "$SEEDED" "$POOL" <<'EOF' | while read -r a; do
import ipaddress, sys
n = min(int(sys.argv[1]), int(sys.argv[2]))
base = int(ipaddress.IPv4Address("198.18.0.1"))
for i in range(n):
    print(ipaddress.IPv4Address(base + i))
EOF
		"$STORETOOL" "$work/store/hits.lmdb" tarpit "$a/32" now-300000 \
		    "host-$a.dsl.example.net" >/dev/null || exit 1
	done || die "storetool tarpit failed"
	seeded=$SEEDED
fi
"$POLICYD" -f -c "$work/slowspam.conf" --socket "inet:$pport@$ADDR" \
    >"$work/policyd.log" 2>&1 &
pids+=($!)
wait_listen "$ADDR" "$pport" 10 ||
    { cat "$work/policyd.log"; die "slowspam-policyd does not listen on $ADDR:$pport"; }

# --- postgrey -------------------------------------------------------------
mkdir -p "$work/postgrey"
chown postgrey "$work/postgrey" 2>/dev/null
# -q: no line per request, as slowspam-policyd at log level warning.
postgrey -q --inet="$ADDR:$gport" --dbdir="$work/postgrey" \
    --pidfile="$work/postgrey/pid" >"$work/postgrey.log" 2>&1 &
pids+=($!)
wait_listen "$ADDR" "$gport" 10 ||
    { cat "$work/postgrey.log"; die "postgrey does not listen on $ADDR:$gport"; }

# --- the runs -------------------------------------------------------------
say "# $(uname -srm); $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1))"
say "# work folder $work on $(df --output=fstype "$work" | tail -n 1)"
say "# slowspam-policyd $POLICYD on $ADDR:$pport (LMDB, $seeded of $POOL clients seeded at the tar pit)"
say "# postgrey $pg_version on $ADDR:$gport (Berkeley DB in $work/postgrey)"
say "# bench_policy -t $SECONDS_RUN -w 1 -p $POOL -c CONNS -r N [-d]"
results=()
for m in $MIXES; do
	case $m in
	*d) opts="-r ${m%d} -d"; name="${m%d}xRCPT+DATA+EOM" ;;
	*) opts="-r $m"; name="${m}xRCPT" ;;
	esac
	for c in $CONNS; do
		for s in policyd postgrey; do
			if [ $s = policyd ]; then port=$pport; else port=$gport; fi
			# shellcheck disable=SC2086
			line=$("$CLIENT" -c "$c" -t "$SECONDS_RUN" -w 1 $opts \
			    -p "$POOL" "$ADDR:$port") ||
			    die "bench_policy failed against $s"
			say "# $s $opts: $line"
			results+=("$s $name $line")
		done
	done
done

# The table: one row a server, session length and connection count;
# then the ratios.
printf '%s\n' "${results[@]}" | awk '
function v(k,   i, kv) {
	for (i = 3; i <= NF; i++) {
		split($i, kv, "=")
		if (kv[1] == k)
			return kv[2]
	}
	return ""
}
BEGIN {
	printf "\n| server | session | conns | requests/s | p50 ms | p99 ms | errors | answers |\n"
	printf "|---|---:|---:|---:|---:|---:|---:|---|\n"
}
{
	ans = ""
	for (i = 3; i <= NF; i++)
		if ($i ~ /^[A-Z0-9_]+=/)
			ans = ans (ans == "" ? "" : " ") $i
	printf "| %s | %s | %s | %s | %.2f | %.2f | %s | %s |\n", $1, $2,
	    v("conns"), v("rate"), v("p50_us") / 1000, v("p99_us") / 1000,
	    v("errors"), ans
	key = "sessions of " $2 ", " v("conns") " connection(s)"
	rate[$1, key] = v("rate")
	if (!(key in seen)) {
		seen[key] = 1
		order[++n] = key
	}
}
END {
	printf "\n"
	for (i = 1; i <= n; i++)
		if (rate["postgrey", order[i]] > 0)
			printf "%s: slowspam-policyd / postgrey = %.1fx\n",
			    order[i], rate["policyd", order[i]] / rate["postgrey", order[i]]
}'
