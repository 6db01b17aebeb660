#!/bin/sh
# test_postfix_milter.sh - slowspam-milter behind a real Postfix: what it
# does to mail from clients that met the tar pit first.
#
# Starts tarpitd on 127.0.0.91, a Postfix "primary" on 127.0.0.92 whose
# smtpd calls slowspam-milter over a unix socket and delivers
# rcpt@primary.example and trap@primary.example to Maildirs (virtual(8)),
# and the milter itself (restarted with --set milter.action=... between
# cases). Clients are swaks bound to 127.0.0.94-99. Checks:
#   - a control client that never met the tar pit gets no X-Slowspam
#     (it also marks the primary alive, which verdicts need);
#   - action=tag: tar pit first -> delivered with verdict=backup-first;
#   - action=quarantine: tar pit first -> held in the hold queue;
#   - action=divert: tar pit first -> delivered to divert_to only, with
#     X-Slowspam-Original-Recipients;
#   - primary first, tar pit later: no X-Slowspam;
#   - milter stopped: mail still flows (milter_default_action = accept);
#   - store folder removed under a running milter: mail still flows.
# Prints TAP. Needs root, Postfix and swaks; otherwise skips.
PATH=$PATH:/usr/sbin:/sbin
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
tarpitd=$top_builddir/tarpitd/tarpitd
milter=$top_builddir/milter/slowspam-milter
ctl=$top_builddir/slowspamctl/slowspamctl

TARPIT_ADDR=127.0.0.91
PRIMARY_ADDR=127.0.0.92
WAIT_LIMIT=20

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root to run a private Postfix instance"
	exit 0
fi
for prog in postfix postconf postqueue swaks; do
	if ! command -v "$prog" >/dev/null 2>&1; then
		echo "1..0 # SKIP $prog is not installed"
		exit 0
	fi
done
if ! command -v python3 >/dev/null 2>&1; then
	echo "Bail out! python3 is needed to probe ports"
	exit 1
fi
for prog in "$tarpitd" "$milter" "$ctl"; do
	if [ ! -x "$prog" ]; then
		echo "Bail out! no $prog (build first)"
		exit 1
	fi
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/slowspam-pfmilter-XXXXXX") || exit 1
# Postfix daemons and virtual(8) (uid 65534) must be able to walk in.
chmod 755 "$dir"
tarpit_pid=
milter_pid=
milter_n=0
started=

stop_milter() {
	if [ -n "$milter_pid" ]; then
		kill "$milter_pid" 2>/dev/null
		wait "$milter_pid" 2>/dev/null
		milter_pid=
	fi
}

cleanup() {
	stop_milter
	for inst in $started; do
		postfix -c "$dir/$inst/etc" stop >/dev/null 2>&1
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
trap 'echo "Bail out! interrupted"; exit 1' HUP INT TERM
trap 'exit 1' PIPE

# free_port ADDR: a TCP port nothing listens on at ADDR now.
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

# wait_listen ADDR PORT SECONDS: succeed once a socket listens there.
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

dump() {
	for f in "$@"; do
		[ -e "$f" ] || { echo "# --- $f: missing"; continue; }
		echo "# --- $f"
		sed 's/^/#   /' "$f"
	done
}

bail() {
	echo "Bail out! $*"
	dump "$dir"/tarpitd.log "$dir"/milter-*.log "$dir"/primary/maillog \
		"$dir"/*.out
	exit 1
}

tarpit_port=$(free_port $TARPIT_ADDR) || bail "no free port on $TARPIT_ADDR"
primary_port=$(free_port $PRIMARY_ADDR) || bail "no free port on $PRIMARY_ADDR"
sock=$dir/milter.sock
conf=$dir/slowspam.conf

# One file for all three programs. tarpitd makes the store folder (owned
# by nobody); the milter runs as root and opens it as well.
cat > "$conf" <<EOF
[tarpitd]
listen = $TARPIT_ADDR:$tarpit_port
hostname = tarpit.test
greet_wait = 200ms
drip_interval = 200ms
max_hold = 1s
user = nobody
[milter]
socket = unix:$sock
action = tag
divert_to = trap@primary.example
# all test traffic is 127.x, trusted by default
trusted_networks =
spf = no
grace = 0
authserv_id = primary.test
[store]
path = $dir/store/hits.lmdb
EOF

t_start=$(date +%s)
"$tarpitd" -f -c "$conf" 2> "$dir/tarpitd.log" &
tarpit_pid=$!
i=0
until grep -q ": info: serving " "$dir/tarpitd.log"; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$tarpit_pid" 2>/dev/null; then
		bail "tarpitd did not start"
	fi
	sleep 0.1
done

# start_milter ACTION: a fresh milter with that action; log in
# $dir/milter-N-ACTION.log (milter_log names it).
start_milter() {
	stop_milter
	milter_n=$((milter_n + 1))
	milter_log=$dir/milter-$milter_n-$1.log
	"$milter" -f -c "$conf" --set "milter.action=$1" 2> "$milter_log" &
	milter_pid=$!
	i=0
	until [ -S "$sock" ] && grep -q "slowspam-milter .* on unix:" "$milter_log"; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 "$milter_pid" 2>/dev/null; then
			bail "slowspam-milter (action=$1) did not start"
		fi
		sleep 0.1
	done
	# smtpd runs as postfix: it needs write permission on the socket.
	chmod 666 "$sock"
}

# --- the primary Postfix
inst=$dir/primary
mkdir -p "$inst/etc" "$inst/queue" "$inst/mail"
chown 65534:65534 "$inst/mail"
printf 'rcpt@primary.example rcpt/\ntrap@primary.example trap/\n' > "$inst/vmailbox"
cat > "$inst/etc/main.cf" <<EOF
compatibility_level = 3.7
queue_directory = $inst/queue
data_directory = $inst/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
myhostname = primary.test.example
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
virtual_mailbox_domains = primary.example
virtual_mailbox_base = $inst/mail
virtual_mailbox_maps = texthash:$inst/vmailbox
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
smtpd_milters = unix:$sock
milter_default_action = accept
milter_protocol = 6
milter_connect_timeout = 5s
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
$PRIMARY_ADDR:$primary_port inet n - n - - smtpd
EOF
if ! postfix -c "$inst/etc" check > "$dir/primary-check.out" 2>&1; then
	bail "postfix -c $inst/etc check failed"
fi
started=primary
postfix -c "$inst/etc" start > "$dir/primary-start.out" 2>&1 ||
	bail "postfix -c $inst/etc start failed"
wait_listen $PRIMARY_ADDR "$primary_port" 10 || bail "the primary Postfix does not listen"

start_milter tag

# --- helpers for the cases
# tarpit_hit LAST_OCTET: 127.0.0.N meets the tar pit (held, then 421),
# and its record reaches the store.
tarpit_hit() {
	a=127.0.0.$1
	swaks --server "$TARPIT_ADDR:$tarpit_port" --local-interface "$a" \
		--quit-after EHLO --helo "client$1.example" --timeout 5 \
		> "$dir/tarpit-$1.out" 2>&1
	i=0
	until grep -q "session client=$a " "$dir/tarpitd.log" &&
		"$ctl" -c "$conf" lookup "$a" 2>/dev/null |
		grep -q "tarpit_sessions=[1-9]"; do
		i=$((i + 1))
		[ $i -gt 50 ] && return 1
		sleep 0.1
	done
	return 0
}

# send LAST_OCTET TOKEN: a message from 127.0.0.N to rcpt@primary.example
send() {
	swaks --server "$PRIMARY_ADDR:$primary_port" --local-interface "127.0.0.$1" \
		--helo "client$1.example" --from "s$1@sender.example" \
		--to rcpt@primary.example --header "Subject: $2" --timeout 15 \
		> "$dir/send-$2.out" 2>&1
}

# find_in BOX TOKEN: wait for a message with TOKEN in the Maildir BOX;
# print its file name.
find_in() {
	i=0
	while [ $i -lt $((WAIT_LIMIT * 5)) ]; do
		f=$(grep -l -- "$2" "$inst/mail/$1"/new/* 2>/dev/null | head -n 1)
		if [ -n "$f" ]; then
			echo "$f"
			return 0
		fi
		sleep 0.2
		i=$((i + 1))
	done
	return 1
}

# queue_settled: nothing left in incoming, active or deferred.
queue_settled() {
	i=0
	while [ $i -lt $((WAIT_LIMIT * 5)) ]; do
		[ -z "$(find "$inst/queue/incoming" "$inst/queue/active" \
			"$inst/queue/deferred" -type f 2>/dev/null)" ] && return 0
		sleep 0.2
		i=$((i + 1))
	done
	return 1
}

# header FILE NAME: the unfolded values of header NAME, one a line.
header() {
	awk -v want="$2" '
	/^$/ { exit }
	/^[ \t]/ { if (cur != "") cur = cur $0; next }
	{ if (cur != "") print cur; cur = "" }
	tolower(substr($0, 1, length(want) + 1)) == tolower(want ":") {
		cur = substr($0, length(want) + 2); sub(/^[ \t]+/, "", cur)
	}
	END { if (cur != "") print cur }' "$1"
}

n=0
failed=0
dumped=
ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}
# notok DESCRIPTION WHY FILE...: a failure, its reason and logs.
notok() {
	n=$((n + 1))
	echo "not ok $n - $1"
	echo "# $2"
	shift 2
	for f in "$@"; do
		case " $dumped " in *" $f "*) echo "# (see $f above)"; continue ;; esac
		dumped="$dumped $f"
		dump "$f"
	done
	failed=$((failed + 1))
}

tok=slowspam-pfm-$$-$(date +%s)
echo "1..7"

# 1. control: never at the tar pit; marks the primary alive. The milter
# counts only minutes before a tar-pit contact's own, so the primary's
# last quarter of an hour is written as tarpitd's store would hold it
# after it had been up that long (storetool, a test helper).
send 94 "$tok-control"
"$top_builddir/tests/storetool" "$dir/store/hits.lmdb" alive now-900000 \
	now-60000 >/dev/null
if f=$(find_in rcpt "$tok-control"); then
	if [ -z "$(header "$f" X-Slowspam)" ]; then
		ok "control message from 127.0.0.94 delivered without X-Slowspam"
	else
		notok "control message from 127.0.0.94 delivered without X-Slowspam" \
			"it has X-Slowspam" "$f" "$milter_log"
	fi
else
	notok "control message from 127.0.0.94 delivered without X-Slowspam" \
		"not delivered" "$dir/send-$tok-control.out" "$inst/maillog" "$milter_log"
fi

# 2. action=tag
d="action=tag: 127.0.0.95 met the tar pit first, delivered with X-Slowspam: verdict=backup-first"
if ! tarpit_hit 95; then
	notok "$d" "127.0.0.95 not recorded by the tar pit" "$dir/tarpit-95.out" "$dir/tarpitd.log"
else
	send 95 "$tok-tag"
	if ! f=$(find_in rcpt "$tok-tag"); then
		notok "$d" "not delivered to rcpt@" "$dir/send-$tok-tag.out" \
			"$inst/maillog" "$milter_log"
	elif h=$(header "$f" X-Slowspam) &&
		echo "$h" | grep -q "^verdict=backup-first network=127\.0\.0\.95/32 .*helo=\"client95\.example\" .*action=tag\$"; then
		ok "$d"
		echo "# X-Slowspam: $h"
	else
		notok "$d" "X-Slowspam: '$h'" "$f" "$milter_log" "$dir/tarpitd.log"
	fi
fi

# 3. action=quarantine
start_milter quarantine
d="action=quarantine: 127.0.0.96 met the tar pit first, its message is in the hold queue"
if ! tarpit_hit 96; then
	notok "$d" "127.0.0.96 not recorded by the tar pit" "$dir/tarpit-96.out" "$dir/tarpitd.log"
else
	send 96 "$tok-quarantine"
	queue_settled
	held=$(grep -l -- "$tok-quarantine" $(find "$inst/queue/hold" -type f) /dev/null 2>/dev/null | head -n 1)
	postqueue -c "$inst/etc" -p > "$dir/postqueue.out" 2>&1
	if [ -n "$held" ] && grep -q "^[0-9A-F]*!" "$dir/postqueue.out" &&
		grep -q "X-Slowspam: *verdict=backup-first .*action=quarantine" "$held" &&
		! grep -lq -- "$tok-quarantine" "$inst"/mail/*/new/* 2>/dev/null; then
		ok "$d"
	else
		notok "$d" "held file: '${held:-none}'; not in any Maildir expected" \
			"$dir/postqueue.out" "$dir/send-$tok-quarantine.out" \
			"$inst/maillog" "$milter_log"
	fi
fi

# 4. action=divert
start_milter divert
d="action=divert: 127.0.0.97 met the tar pit first, delivered to trap@ only, with X-Slowspam-Original-Recipients"
if ! tarpit_hit 97; then
	notok "$d" "127.0.0.97 not recorded by the tar pit" "$dir/tarpit-97.out" "$dir/tarpitd.log"
else
	send 97 "$tok-divert"
	f=$(find_in trap "$tok-divert")
	queue_settled
	if [ -z "$f" ]; then
		notok "$d" "not delivered to trap@" "$dir/send-$tok-divert.out" \
			"$inst/maillog" "$milter_log"
	elif grep -lq -- "$tok-divert" "$inst"/mail/rcpt/new/* 2>/dev/null; then
		notok "$d" "also delivered to rcpt@" "$f" "$inst/maillog" "$milter_log"
	elif ! header "$f" X-Slowspam-Original-Recipients | grep -q "rcpt@primary\.example"; then
		notok "$d" "no X-Slowspam-Original-Recipients naming rcpt@" "$f" "$milter_log"
	elif ! header "$f" X-Slowspam | grep -q "^verdict=backup-first .*action=divert\$"; then
		notok "$d" "no X-Slowspam verdict=backup-first action=divert" "$f" "$milter_log"
	else
		ok "$d"
		echo "# X-Slowspam-Original-Recipients: $(header "$f" X-Slowspam-Original-Recipients)"
	fi
fi

# 5. primary first (still action=divert: a wrong verdict would divert)
d="primary first: 127.0.0.98 sent, then met the tar pit; its next message has no X-Slowspam"
send 98 "$tok-first1"
find_in rcpt "$tok-first1" > /dev/null
if ! tarpit_hit 98; then
	notok "$d" "127.0.0.98 not recorded by the tar pit" "$dir/tarpit-98.out" "$dir/tarpitd.log"
else
	send 98 "$tok-first2"
	if ! f=$(find_in rcpt "$tok-first2"); then
		notok "$d" "second message not delivered to rcpt@" \
			"$dir/send-$tok-first2.out" "$inst/maillog" "$milter_log"
	elif [ -n "$(header "$f" X-Slowspam)" ]; then
		notok "$d" "it has X-Slowspam" "$f" "$milter_log"
	else
		ok "$d"
	fi
fi

# 6. milter stopped: milter_default_action = accept lets mail through.
stop_milter
d="milter stopped: a message from 127.0.0.95 (tar pit first) is delivered, untagged"
send 95 "$tok-nomilter"
if ! f=$(find_in rcpt "$tok-nomilter"); then
	notok "$d" "not delivered" "$dir/send-$tok-nomilter.out" "$inst/maillog"
elif [ -n "$(header "$f" X-Slowspam)" ]; then
	notok "$d" "it has X-Slowspam" "$f"
else
	ok "$d"
	grep -i -m 1 "milter.*$sock" "$inst/maillog" | sed 's/^/# postfix: /'
fi

# 7. store folder removed under a running milter: mail still flows.
start_milter tag
d="store folder removed under the milter: a message from 127.0.0.99 (tar pit first) is delivered"
tarpit_hit 99 || echo "# 127.0.0.99 not recorded by the tar pit"
rm -rf "$dir/store"
send 99 "$tok-nostore"
if ! f=$(find_in rcpt "$tok-nostore"); then
	notok "$d" "not delivered" "$dir/send-$tok-nostore.out" "$inst/maillog" "$milter_log"
else
	ok "$d"
	h=$(header "$f" X-Slowspam)
	echo "# X-Slowspam: ${h:-(none)}"
	grep -E "store|127\.0\.0\.99" "$milter_log" | sed 's/^/# milter: /'
fi

echo "# $(($(date +%s) - t_start)) s in all"
[ "$failed" -eq 0 ]
