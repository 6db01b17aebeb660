#!/bin/sh
# test_sendmail.sh - a real Sendmail 8.17 with INPUT_MAIL_FILTER pointing
# at slowspam-milter tags mail from a client that met the tar pit first.
#
# Sendmail cannot be installed beside Postfix, so its Debian packages are
# fetched with "apt-get download" and unpacked into a private prefix,
# cached in ${TMPDIR:-/tmp}/slowspam-sendmail-cache-UID between runs
# (tests/lib_mta.sh's mta_fetch).
# Sendmail runs in its own UTS and mount namespaces (unshare) with a
# dotted hostname, private hosts, nsswitch.conf and resolv.conf, and a
# private /dev whose "log" is a datagram socket read into a file. It
# listens on 127.0.0.72 and relays everything to smtp-sink on 127.0.0.73,
# which dumps each message to a file. tarpitd listens on 127.0.0.71.
#
# Order: the milter counts a tar-pit contact only if the primary was
# seen up in a minute strictly before the contact's minute (and around
# it). A control message from 127.0.0.82 (never in the tar pit: no tag)
# goes first; so that no run waits for the clock to turn a minute, the
# primary's last quarter of an hour is then written into the store as a
# primary that had been up would have left it (tests/storetool).
# 127.0.0.81 meets the tar pit, then sends a message (tagged
# "X-Slowspam: verdict=backup-first").
# Needs root, swaks, unshare, python3, m4, dpkg-deb, apt-get and
# smtp-sink (Postfix); otherwise skips. Prints TAP.
#
# Single quotes around $ on purpose: the sh -c script. Some functions
# are only called through wait_for.
# shellcheck disable=SC2016,SC2317
PATH=$PATH:/usr/sbin:/sbin
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
# shellcheck source=tests/lib.sh
. "$top_srcdir/tests/lib.sh"
tarpitd=$top_builddir/tarpitd/tarpitd
milter=$top_builddir/milter/slowspam-milter

TARPIT_ADDR=127.0.0.71
MTA_ADDR=127.0.0.72
SINK_ADDR=127.0.0.73
SPAMMER_ADDR=127.0.0.81
CONTROL_ADDR=127.0.0.82
WAIT_LIMIT=20

[ "$(id -u)" -eq 0 ] ||
	tap_skip "needs root to run a private Sendmail in its own namespaces"
need_cmds swaks unshare python3 m4 dpkg-deb apt-get smtp-sink mount hostname
for prog in "$tarpitd" "$milter"; do
	[ -x "$prog" ] || bail "no $prog (build first)"
done

# tarpitd and the milter drop to nobody, smtp-sink too: make_dir lets
# them in.
make_dir sendmail
bail_logs="$dir/maillog $dir/milter.log $dir/tarpitd.log $dir/sink.log $dir/*.out"
# shellcheck source=tests/lib_mta.sh
. "$top_srcdir/tests/lib_mta.sh"

# --- Sendmail's packages, unpacked into a cached private prefix
mta_fetch sendmail sendmail-bin sendmail-base sendmail-cf libwrap0 liblockfile1
prefix=$mta_prefix
libdir=$mta_libpath
sendmail=$prefix/usr/libexec/sendmail/sendmail
cfdir=$prefix/usr/share/sendmail/cf
missing=$(mta_missing "$sendmail")
[ -z "$missing" ] || tap_skip "Sendmail's libraries are missing: $missing"

tarpit_port=$(free_port $TARPIT_ADDR) || bail "no free port on $TARPIT_ADDR"
mta_port=$(free_port $MTA_ADDR) || bail "no free port on $MTA_ADDR"
sink_port=$(free_port $SINK_ADDR) || bail "no free port on $SINK_ADDR"
t0=$(now)

# --- the log socket: Sendmail's syslog(3) goes to /dev/log, which is
# this socket in Sendmail's private /dev.
mta_log_socket "$dir/dev" "$dir/maillog"

# --- the sink: Sendmail's smart host, one file per message
mkdir "$dir/sink"
chown 65534:65534 "$dir/sink"
smtp-sink -u nobody -d "$dir/sink/msg." $SINK_ADDR:"$sink_port" 10 \
	> "$dir/sink.log" 2>&1 &
track_pid $!

# --- tarpitd and the milter, one configuration file
cat > "$dir/slowspam.conf" <<EOF
[milter]
socket = unix:$dir/milter.sock
action = tag
trusted_networks =
spf = no
grace = 0
[store]
path = $dir/store/hits.lmdb
[tarpitd]
user = nobody
listen = $TARPIT_ADDR:$tarpit_port
hostname = tarpit.test
greet_wait = 200ms
drip_interval = 200ms
max_hold = 1s
EOF
tarpitd_start "$dir/slowspam.conf" "$dir/tarpitd.log"
# start_milter LOG [VAR=VALUE...]: start the milter with those
# variables in its environment, and wait for its socket
start_milter() {
	log=$1
	shift
	rm -f "$dir/milter.sock"
	: > "$log"	# there at once, for the greps
	env "$@" "$milter" -f -c "$dir/slowspam.conf" > "$log" 2>&1 &
	milter_pid=$!
	track_pid "$milter_pid"
	wait_for 10 milter_up
	test -S "$dir/milter.sock" ||
		bail "slowspam-milter did not make its socket ($log)"
}
milter_up() {
	test -S "$dir/milter.sock" || ! kill -0 "$milter_pid" 2>/dev/null
}
start_milter "$dir/milter.log"

# --- Sendmail's configuration
mkdir -p "$dir/etc" "$dir/queue"
chmod 700 "$dir/queue"
hostname=sm.slowspam.test
cat > "$dir/etc/hosts" <<EOF
127.0.0.1	localhost
$MTA_ADDR	$hostname sm
EOF
cat > "$dir/etc/nsswitch.conf" <<EOF
passwd: files
group: files
shadow: files
hosts: files
networks: files
services: files
protocols: files
EOF
# Nothing listens there: any DNS query fails at once.
cat > "$dir/etc/resolv.conf" <<EOF
nameserver 127.0.0.1
options timeout:1 attempts:1
EOF
printf 'hosts files\naliases files\n' > "$dir/etc/service.switch"
: > "$dir/sendmail.st"
printf 'postmaster: root\nMAILER-DAEMON: postmaster\n' > "$dir/etc/aliases"
: > "$dir/etc/local-host-names"
: > "$dir/etc/trusted-users"
cat > "$dir/etc/sendmail.mc" <<EOF
divert(-1)
Private Sendmail for slowspam's test: receives on $MTA_ADDR:$mta_port,
filters through slowspam-milter, relays everything to smtp-sink.
divert(0)dnl
include(\`$cfdir/m4/cf.m4')dnl
VERSIONID(\`slowspam test_sendmail.sh')dnl
OSTYPE(\`gnu')dnl
define(\`confDOMAIN_NAME', \`$hostname')dnl
define(\`QUEUE_DIR', \`$dir/queue')dnl
define(\`STATUS_FILE', \`$dir/sendmail.st')dnl
define(\`ALIAS_FILE', \`stab:$dir/etc/aliases')dnl
define(\`confCW_FILE', \`-o $dir/etc/local-host-names')dnl
define(\`confCT_FILE', \`-o $dir/etc/trusted-users')dnl
define(\`confPID_FILE', \`$dir/sendmail.pid')dnl
define(\`confHOSTS_FILE', \`$dir/etc/hosts')dnl
define(\`confSERVICE_SWITCH_FILE', \`$dir/etc/service.switch')dnl
define(\`confHELP_FILE', \`$prefix/etc/mail/helpfile')dnl
define(\`confDONT_BLAME_SENDMAIL', \`TrustStickyBit,GroupWritableDirPathSafe')dnl
define(\`confDONT_PROBE_INTERFACES', \`True')dnl
define(\`confTO_IDENT', \`0')dnl
define(\`confTO_CONNECT', \`10s')dnl
define(\`confTO_INITIAL', \`10s')dnl
define(\`confDELIVERY_MODE', \`background')dnl
define(\`confLOG_LEVEL', \`14')dnl
define(\`confMILTER_LOG_LEVEL', \`14')dnl
define(\`SMART_HOST', \`[$SINK_ADDR]')dnl
define(\`RELAY_MAILER_ARGS', \`TCP \$h $sink_port')dnl
define(\`ESMTP_MAILER_ARGS', \`TCP \$h $sink_port')dnl
define(\`SMTP_MAILER_ARGS', \`TCP \$h $sink_port')dnl
FEATURE(\`no_default_msa')dnl
FEATURE(\`nocanonify')dnl
FEATURE(\`promiscuous_relay')dnl
FEATURE(\`accept_unresolvable_domains')dnl
DAEMON_OPTIONS(\`Family=inet, Name=MTA, Addr=$MTA_ADDR, Port=$mta_port')dnl
INPUT_MAIL_FILTER(\`slowspam', \`S=unix:$dir/milter.sock, F=T, T=C:5s;S:10s;R:10s;E:30s')dnl
MAILER(\`smtp')dnl
EOF
m4 "$dir/etc/sendmail.mc" > "$dir/etc/sendmail.cf" 2> "$dir/m4.out" ||
	bail "m4 could not make sendmail.cf"

# --- Sendmail itself, in the foreground (-bD) in its own namespaces
LD_LIBRARY_PATH=$libdir"${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
	unshare --uts --mount sh -c '
	set -e
	dir=$1 sendmail=$2 hostname=$3
	shift 3
	hostname "$hostname"
	for f in hosts nsswitch.conf resolv.conf; do
		mount --bind "$dir/etc/$f" "/etc/$f"
	done
	for n in null zero random urandom; do
		: > "$dir/dev/$n"
		mount --bind "/dev/$n" "$dir/dev/$n"
	done
	mount --bind "$dir/dev" /dev
	exec "$sendmail" "$@"
' sh "$dir" "$sendmail" "$hostname" -bD -C "$dir/etc/sendmail.cf" \
	> "$dir/sendmail.out" 2>&1 &
sendmail_pid=$!
track_pid "$sendmail_pid"
sendmail_up() {
	! kill -0 "$sendmail_pid" 2>/dev/null || wait_listen "$MTA_ADDR" "$mta_port" 0.5
}
wait_for 40 sendmail_up
if ! kill -0 "$sendmail_pid" 2>/dev/null ||
	! wait_listen $MTA_ADDR "$mta_port" 0; then
	bail "Sendmail does not listen on $MTA_ADDR:$mta_port"
fi
t1=$(now)

# send NAME FROM_ADDR: one message through Sendmail from FROM_ADDR
send() {
	swaks --server $MTA_ADDR:"$mta_port" --local-interface "$2" \
		--helo "$1.client.test" --from "sender@$1.client.test" \
		--to rcpt@sink.test --header "Subject: $token-$1" \
		--timeout 30 > "$dir/swaks-$1.out" 2>&1
}
# delivered NAME: print the sink's file holding message NAME
delivered() {
	grep -l -- "^Subject: $token-$1\$" "$dir"/sink/msg.* 2>/dev/null | head -n 1
}
arrived() {
	[ -n "$(delivered "$1")" ]
}
token=slowspam-sendmail-$$-$(date +%s)

# 1. the control message: it never met the tar pit; then the primary's
# last quarter of an hour, up
send control $CONTROL_ADDR && wait_for $WAIT_LIMIT arrived control
control=$(delivered control)
"$top_builddir/tests/storetool" "$dir/store/hits.lmdb" alive now-900000 now-60000 >/dev/null

# 2. the spammer's address meets the tar pit
swaks --server $TARPIT_ADDR:"$tarpit_port" --local-interface $SPAMMER_ADDR \
	--helo spammer.client.test --quit-after EHLO --timeout 10 \
	> "$dir/swaks-tarpit.out" 2>&1
tarpit_logged() {
	grep -q "session client=$SPAMMER_ADDR " "$dir/tarpitd.log"
}
wait_for 5 tarpit_logged

# 3. then it comes to the primary
send spammer $SPAMMER_ADDR && wait_for $WAIT_LIMIT arrived spammer
spammer=$(delivered spammer)
t2=$(now)
awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN {
	printf "# Sendmail listening %.1f s after start, messages done %.1f s later\n", b - a, c - b
}'

# --- checks
tap_plan 7
[ -n "$control" ]
tap_ok "Sendmail accepted and relayed the control message from $CONTROL_ADDR" $? \
	"$dir/swaks-control.out" "$dir/maillog" "$dir/milter.log"
[ -n "$control" ] && ! grep -qi "^X-Slowspam:" "$control"
tap_ok "the control message has no X-Slowspam header" $? "$control"
tarpit_logged
tap_ok "tarpitd logged $SPAMMER_ADDR's session" $? \
	"$dir/swaks-tarpit.out" "$dir/tarpitd.log"
[ -n "$spammer" ]
tap_ok "Sendmail accepted and relayed the message from $SPAMMER_ADDR" $? \
	"$dir/swaks-spammer.out" "$dir/maillog" "$dir/milter.log"
[ -n "$spammer" ] && grep -q "^X-Slowspam: verdict=backup-first" "$spammer"
tap_ok "the message from $SPAMMER_ADDR has X-Slowspam: verdict=backup-first" $? \
	"$spammer" "$dir/milter.log" "$dir/maillog"
grep -q "Milter (slowspam): init success to negotiate" "$dir/maillog" &&
	grep -q "Milter (slowspam) add: header: X-Slowspam: verdict=backup-first" "$dir/maillog"
tap_ok "Sendmail's log: the milter negotiated and added the header" $? \
	"$dir/maillog" "$dir/milter.log"
grep -q "client=$SPAMMER_ADDR .*verdict=backup-first" "$dir/milter.log" &&
	! grep -q "client=$CONTROL_ADDR .*verdict=backup-first" "$dir/milter.log"
tap_ok "the milter logged verdict=backup-first for $SPAMMER_ADDR, not for $CONTROL_ADDR" $? \
	"$dir/milter.log"

tap_done
