#!/bin/sh
# test_postfix.sh - "nothing lost": a real Postfix that meets the tar pit
# first gets a clean 4xx and delivers through its next hop.
#
# Starts tarpitd (max_hold 3s) on 127.0.0.61, a Postfix "primary" that
# receives on 127.0.0.62 and delivers to a Maildir with virtual(8), and a
# Postfix "sender" whose relayhost lists the tar pit first and the primary
# second, binding its SMTP client to 127.0.0.63. Injects one message with
# sendmail and waits for it in the primary's Maildir. Prints TAP.
# Needs root and Postfix; otherwise skips.
PATH=$PATH:/usr/sbin:/sbin
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
tarpitd=$top_builddir/tarpitd/tarpitd

TARPIT_ADDR=127.0.0.61
PRIMARY_ADDR=127.0.0.62
SENDER_ADDR=127.0.0.63
WAIT_LIMIT=60

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root to run private Postfix instances"
	exit 0
fi
for prog in postfix sendmail postconf; do
	if ! command -v "$prog" >/dev/null 2>&1; then
		echo "1..0 # SKIP Postfix is not installed (no $prog)"
		exit 0
	fi
done
if ! command -v python3 >/dev/null 2>&1; then
	echo "Bail out! python3 is needed to probe ports"
	exit 1
fi
if [ ! -x "$tarpitd" ]; then
	echo "Bail out! no tarpitd at $tarpitd (build first)"
	exit 1
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/slowspam-postfix-XXXXXX") || exit 1
# Postfix daemons and virtual(8) (uid 65534) must be able to walk in.
chmod 755 "$dir"
tarpit_pid=
started=

cleanup() {
	for inst in $started; do
		postfix -c "$dir/$inst/etc" stop >/dev/null 2>&1
		# "postfix stop" waits up to 5 s, then kills with force; make
		# sure the master is gone before removing its queue.
		pidfile=$dir/$inst/queue/pid/master.pid
		if [ -f "$pidfile" ]; then
			mpid=$(awk '{ print $1; exit }' "$pidfile")
			if [ -n "$mpid" ] && kill -0 "$mpid" 2>/dev/null; then
				kill -9 "$mpid" 2>/dev/null
			fi
		fi
	done
	started=
	if [ -n "$tarpit_pid" ]; then
		kill "$tarpit_pid" 2>/dev/null
		wait "$tarpit_pid" 2>/dev/null
		tarpit_pid=
	fi
	if [ -n "$KEEP_TMP" ]; then
		echo "# kept $dir" >&2
	else
		rm -rf "$dir"
	fi
}
trap 'cleanup' EXIT
# dash runs no EXIT trap when killed by a signal it does not trap, so
# trap them all; PIPE too (our reader went away: say nothing more).
trap 'echo "Bail out! interrupted"; exit 1' HUP INT TERM
trap 'exit 1' PIPE

# free_port ADDR: print a TCP port that nothing listens on at ADDR now
# (tried by binding; outside the usual ephemeral range).
free_port() {
	python3 - "$1" <<'EOF'
import random, socket, sys
addr = sys.argv[1]
for _ in range(200):
    port = random.randint(20000, 32000)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((addr, port))
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    sys.exit(0)
sys.exit(1)
EOF
}

# wait_listen ADDR PORT SECONDS: succeed once a socket listens there
# (read from /proc/net/tcp, so as not to leave a connection in any log).
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
    time.sleep(0.1)
sys.exit(1)
EOF
}

# now: seconds since the epoch, to the millisecond
now() {
	date +%s.%3N
}

bail() {
	echo "Bail out! $*"
	for f in "$dir"/tarpitd.log "$dir"/*/maillog "$dir"/*.out; do
		[ -s "$f" ] || continue
		echo "# --- $f"
		sed 's/^/#   /' "$f"
	done
	exit 1
}

tarpit_port=$(free_port $TARPIT_ADDR) || bail "no free port on $TARPIT_ADDR"
primary_port=$(free_port $PRIMARY_ADDR) || bail "no free port on $PRIMARY_ADDR"

# --- the tar pit (it makes the store folder itself, as nobody's)
cat > "$dir/tarpitd.conf" <<EOF
[tarpitd]
listen = $TARPIT_ADDR:$tarpit_port
hostname = tarpit.test
greet_wait = 1s
drip_interval = 500ms
max_hold = 3s
user = nobody
[store]
path = $dir/store/hits.lmdb
EOF
t0=$(now)
"$tarpitd" -c "$dir/tarpitd.conf" -f 2> "$dir/tarpitd.log" &
tarpit_pid=$!
# Wait for its "serving" line rather than connect, to keep its log clean.
i=0
until grep -q ": info: serving " "$dir/tarpitd.log"; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$tarpit_pid" 2>/dev/null ||
		grep -q "tarpitd stopped" "$dir/tarpitd.log"; then
		bail "tarpitd did not start"
	fi
	sleep 0.1
done

# --- Postfix instances
# make_instance NAME MAIN_CF_EXTRA MASTER_CF_EXTRA: configuration in
# $dir/NAME/etc, queue in $dir/NAME/queue, log in $dir/NAME/maillog.
# "postfix start" makes the queue's subfolders and the data folder with
# the right owners (post-install create-missing).
make_instance() {
	inst=$dir/$1
	mkdir -p "$inst/etc" "$inst/queue"
	cat > "$inst/etc/main.cf" <<EOF
compatibility_level = 3.7
queue_directory = $inst/queue
data_directory = $inst/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
myhostname = $1.test.example
mydomain = test.example
myorigin = \$myhostname
mydestination =
alias_maps =
alias_database =
local_transport = error:no local delivery here
smtp_dns_support_level = disabled
smtp_host_lookup = native
smtpd_peername_lookup = no
maillog_file = $inst/maillog
maillog_file_prefixes = $dir
biff = no
$2
EOF
	cat > "$inst/etc/master.cf" <<EOF
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
$3
EOF
	if ! postfix -c "$inst/etc" check > "$dir/$1-check.out" 2>&1; then
		script -qc "postfix -c $inst/etc check" /dev/null >> "$dir/$1-check.out" 2>&1
		bail "postfix -c $inst/etc check failed"
	fi
	started="$started $1"
	postfix -c "$inst/etc" start > "$dir/$1-start.out" 2>&1 ||
		bail "postfix -c $inst/etc start failed"
}

mkdir -p "$dir/primary/mail"
chown 65534:65534 "$dir/primary/mail"
printf 'rcpt@primary.example primary/\n' > "$dir/primary/vmailbox"
make_instance primary "\
virtual_mailbox_domains = primary.example
virtual_mailbox_base = $dir/primary/mail
virtual_mailbox_maps = texthash:$dir/primary/vmailbox
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534" \
"$PRIMARY_ADDR:$primary_port inet n - n - - smtpd"

make_instance sender "\
relayhost = [$TARPIT_ADDR]:$tarpit_port, [$PRIMARY_ADDR]:$primary_port
smtp_bind_address = $SENDER_ADDR" ""

wait_listen $PRIMARY_ADDR "$primary_port" 10 || bail "the primary Postfix does not listen"

# --- one message
token=slowspam-nothing-lost-$$-$(date +%s)
cat > "$dir/msg" <<EOF
From: sender@test.example
To: rcpt@primary.example
Subject: $token
Message-Id: <$token@sender.test.example>

Nothing lost: $token
EOF
t1=$(now)
sendmail -C "$dir/sender/etc" -f sender@test.example rcpt@primary.example \
	< "$dir/msg" > "$dir/sendmail.out" 2>&1 || bail "sendmail failed"

# --- wait for it in the primary's Maildir
maildir=$dir/primary/mail/primary
found=
elapsed=0
while [ "$elapsed" -lt $((WAIT_LIMIT * 5)) ]; do
	found=$(grep -l -- "$token" "$maildir"/new/* 2>/dev/null | head -n 1)
	[ -n "$found" ] && break
	sleep 0.2
	elapsed=$((elapsed + 1))
done
t2=$(now)
# The tar pit logs its session at disconnect, before Postfix moves on;
# give the log writer a moment all the same.
i=0
while [ $i -lt 25 ] && ! grep -q "session client=$SENDER_ADDR " "$dir/tarpitd.log"; do
	sleep 0.2
	i=$((i + 1))
done
if [ -n "$found" ]; then what=delivered; else what="NOT delivered"; fi
awk -v w="$what" -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN {
	printf "# %s %.1f s after injection (%.1f s after tarpitd start)\n", w, c - b, c - a
}'

# --- checks
n=0
failed=0
dumped=
ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}
notok() {
	n=$((n + 1))
	echo "not ok $n - $1"
	shift
	# Show each log once, at the first check that needs it.
	for f in "$@"; do
		case " $dumped " in *" $f "*) echo "# (see $f above)"; continue ;; esac
		dumped="$dumped $f"
		echo "# --- $f"
		sed 's/^/#   /' "$f" 2>/dev/null
	done
	failed=$((failed + 1))
}

echo "1..4"
log=$dir/sender/maillog
if [ -n "$found" ] && grep -q "^Subject: $token\$" "$found" &&
	grep -q "^Message-I[Dd]: <$token@sender.test.example>" "$found"; then
	ok "message arrived in the primary's Maildir within ${WAIT_LIMIT}s"
else
	notok "message arrived in the primary's Maildir within ${WAIT_LIMIT}s" \
		"$log" "$dir/primary/maillog" "$dir/tarpitd.log"
fi

# (b) the tar pit's 421, logged for the tar-pit relay, before the delivery
line421=$(grep -n "host $TARPIT_ADDR\[$TARPIT_ADDR\].*421 4\.7\.0 tarpit\.test" "$log" |
	head -n 1 | cut -d: -f1)
linesent=$(grep -n "relay=$PRIMARY_ADDR\[$PRIMARY_ADDR\]:$primary_port.*status=sent" "$log" |
	head -n 1 | cut -d: -f1)
if [ -n "$line421" ] && [ -n "$linesent" ] && [ "$line421" -lt "$linesent" ]; then
	ok "sender logged the tar pit's 421 before the delivery"
else
	notok "sender logged the tar pit's 421 before the delivery" "$log"
fi

# (c) delivered via the primary, and not through the tar pit
if [ -n "$linesent" ] && ! grep -q "relay=$TARPIT_ADDR.*status=sent" "$log"; then
	ok "sender logged status=sent via $PRIMARY_ADDR"
else
	notok "sender logged status=sent via $PRIMARY_ADDR" "$log"
fi

# (d) the tar pit held the sender until max_hold, then said 421 and closed
if grep -q "session client=$SENDER_ADDR .*helo=sender\.test\.example .*end=max_hold" \
	"$dir/tarpitd.log"; then
	ok "tarpitd logged the sender's session with end=max_hold"
else
	notok "tarpitd logged the sender's session with end=max_hold" "$dir/tarpitd.log"
fi

[ "$failed" -eq 0 ]
