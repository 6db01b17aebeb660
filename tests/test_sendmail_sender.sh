#!/bin/sh
# test_sendmail_sender.sh - "nothing lost" with a real Sendmail 8.17 as
# the sender: it meets the tar pit first, reads its 421 and delivers
# through the next host of its list, and the tar pit sees no bot in it.
#
# tarpitd listens on 127.0.0.171 and a real Postfix primary (delivering
# rcpt@primary.example to a Maildir) on 127.0.0.172, on the same port:
# Sendmail's port is per mailer (TCP $h PORT), not per host. Sendmail's
# smart host is the list "esmtp:[127.0.0.171]:[127.0.0.172]", tried in
# order in one delivery attempt; its client binds to 127.0.0.173.
# One message goes in with "sendmail -odi -v" (delivered before it
# exits; -v prints the SMTP transcript). Sendmail runs from Debian's
# packages unpacked into a private prefix, in its own UTS and mount
# namespaces with a dotted hostname, private /etc files and a private
# /dev/log read into a file (tests/lib_mta.sh).
#
# Checks: (a) delivered into the primary's Maildir; (b) the transcript
# has the tar pit's "421 4.7.0" for the tar-pit host, before Sendmail
# connects to the primary; Sendmail's log has status Sent via the
# primary; (c) tarpitd logged the session end=max_hold; (d) the tar
# pit's record of 127.0.0.173 has no evidence flags.
#
# Sendmail logs nothing about a host of the list that answered 4xx when
# a later one took the message (LogLevel 14, even 30): the 421 shows in
# the transcript only; with the tar pit alone it logs "reply=421 4.7.0
# ..., stat=Deferred". Its timeouts are per line (Timeout.helo, 5 min by
# default, for each line of the EHLO reply), so it waits for the whole
# drip.
# Needs root, python3, m4, unshare, apt-get, dpkg-deb and Postfix;
# otherwise skips. Prints TAP.
#
# Some functions are only called through wait_for.
# shellcheck disable=SC2317
PATH=$PATH:/usr/sbin:/sbin
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
# shellcheck source=tests/lib.sh
. "$top_srcdir/tests/lib.sh"
tarpitd=$top_builddir/tarpitd/tarpitd
ctl=$top_builddir/slowspamctl/slowspamctl

TARPIT_ADDR=127.0.0.171
PRIMARY_ADDR=127.0.0.172
SENDER_ADDR=127.0.0.173
HOSTNAME=sm.sender.test
MAX_HOLD=8
WAIT_LIMIT=40	# for Sendmail to finish: max_hold, plus plenty

[ "$(id -u)" -eq 0 ] ||
	tap_skip "needs root to run a private Sendmail in its own namespaces"
need_cmds python3 m4 unshare apt-get dpkg-deb postfix mount hostname
for prog in "$tarpitd" "$ctl"; do
	[ -x "$prog" ] || bail "no $prog (build first)"
done

make_dir sendmail-sender
# shellcheck source=tests/lib_mta.sh
. "$top_srcdir/tests/lib_mta.sh"
bail_logs="$dir/tarpitd.log $dir/sendmail.out $dir/sendmail.syslog
	$dir/primary/maillog $dir/*.out $dir/primary/*.out"

# --- Sendmail's packages (the same list as test_sendmail.sh: one cache)
mta_fetch sendmail sendmail-bin sendmail-base sendmail-cf libwrap0 liblockfile1
sendmail=$mta_prefix/usr/libexec/sendmail/sendmail
cfdir=$mta_prefix/usr/share/sendmail/cf
missing=$(mta_missing "$sendmail")
[ -z "$missing" ] || tap_skip "Sendmail's libraries are missing: $missing"

t0=$(now)
# --- the primary first: its port is the tar pit's too
mta_primary $PRIMARY_ADDR $TARPIT_ADDR
port=$primary_port

# --- the tar pit (it makes the store folder itself, as nobody's)
mta_tarpit "$dir" $TARPIT_ADDR "$port" "${MAX_HOLD}s"

# --- Sendmail's configuration. Its own files stay out of $dir/etc:
# every file there is mounted over /etc's.
mta_etc "$dir/etc" $HOSTNAME $SENDER_ADDR
sm=$dir/sendmail
mkdir -p "$sm/queue"
chmod 700 "$sm/queue"
printf 'hosts files\naliases files\n' > "$sm/service.switch"
printf 'postmaster: root\nMAILER-DAEMON: postmaster\n' > "$sm/aliases"
: > "$sm/sendmail.st"
: > "$sm/local-host-names"
: > "$sm/trusted-users"
cat > "$sm/sendmail.mc" <<EOF
divert(-1)
Private Sendmail for slowspam's test_sendmail_sender.sh: sends through
the tar pit first, then the primary, from $SENDER_ADDR; listens nowhere.
divert(0)dnl
include(\`$cfdir/m4/cf.m4')dnl
VERSIONID(\`slowspam test_sendmail_sender.sh')dnl
OSTYPE(\`gnu')dnl
define(\`confDOMAIN_NAME', \`$HOSTNAME')dnl
define(\`QUEUE_DIR', \`$sm/queue')dnl
define(\`STATUS_FILE', \`$sm/sendmail.st')dnl
define(\`ALIAS_FILE', \`stab:$sm/aliases')dnl
define(\`confCW_FILE', \`-o $sm/local-host-names')dnl
define(\`confCT_FILE', \`-o $sm/trusted-users')dnl
define(\`confPID_FILE', \`$sm/sendmail.pid')dnl
define(\`confHOSTS_FILE', \`$dir/etc/hosts')dnl
define(\`confSERVICE_SWITCH_FILE', \`$sm/service.switch')dnl
define(\`confHELP_FILE', \`$mta_prefix/etc/mail/helpfile')dnl
define(\`confDONT_BLAME_SENDMAIL', \`TrustStickyBit,GroupWritableDirPathSafe')dnl
define(\`confDONT_PROBE_INTERFACES', \`True')dnl
define(\`confTO_IDENT', \`0')dnl
define(\`confTO_CONNECT', \`10s')dnl
define(\`confLOG_LEVEL', \`14')dnl
CLIENT_OPTIONS(\`Family=inet, Addr=$SENDER_ADDR')dnl
dnl Hosts tried in order within one delivery; one port for both.
define(\`SMART_HOST', \`esmtp:[$TARPIT_ADDR]:[$PRIMARY_ADDR]')dnl
define(\`ESMTP_MAILER_ARGS', \`TCP \$h $port')dnl
define(\`RELAY_MAILER_ARGS', \`TCP \$h $port')dnl
define(\`SMTP_MAILER_ARGS', \`TCP \$h $port')dnl
FEATURE(\`no_default_msa')dnl
FEATURE(\`nocanonify')dnl
MAILER(\`smtp')dnl
EOF
m4 "$sm/sendmail.mc" > "$sm/sendmail.cf" 2> "$dir/m4.out" ||
	bail "m4 could not make sendmail.cf"

# --- one message, delivered before sendmail exits (-odi)
token=slowspam-sendmail-sender-$$-$(date +%s)
cat > "$dir/msg" <<EOF
From: sender@$HOSTNAME
To: rcpt@primary.example
Subject: $token
Message-Id: <$token@$HOSTNAME>

Nothing lost: $token
EOF
t1=$(now)
mta_start sendmail $HOSTNAME "$dir/etc" -d -e LD_LIBRARY_PATH="$mta_libpath" \
	-i "$dir/msg" -- "$sendmail" -C "$sm/sendmail.cf" -odi -v \
	-f "sender@$HOSTNAME" rcpt@primary.example
sendmail_pid=$mta_pid
# done: gone or a zombie (kill -0 succeeds on zombies)
sendmail_done() {
	case $(ps -o stat= -p "$sendmail_pid" 2>/dev/null) in
	'' | Z*) return 0 ;;
	esac
	return 1
}
if wait_for $WAIT_LIMIT sendmail_done; then
	wait "$sendmail_pid"
	sendmail_rc=$?
else
	sendmail_rc=timeout
fi
t2=$(now)
wait_for 5 maildir_find "$primary_maildir" "$token" > /dev/null
found=$(maildir_find "$primary_maildir" "$token")
t3=$(now)
# The session is logged at disconnect, the store written just after.
wait_for 5 grep -q "session client=$SENDER_ADDR " "$dir/tarpitd.log"
wait_for 5 tarpit_record "$dir/tarpitd.conf" $SENDER_ADDR > /dev/null
mta_ns_kill sendmail

held=$(sed -n "s/.*session client=$SENDER_ADDR .* held=\([0-9.]*\) .*/\1/p" \
	"$dir/tarpitd.log" | head -n 1)
awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v h="${held:-?}" \
	-v rc="$sendmail_rc" -v m="$MAX_HOLD" 'BEGIN {
	printf "# set-up %.1f s; sendmail -odi exited (%s) %.1f s after injection\n", b - a, rc, c - b
	printf "# message in the Maildir %.1f s after injection\n", d - b
	printf "# tar-pit session held=%s s (max_hold %ss, drip_interval 1s)\n", h, m
}'
# What Sendmail said about the tar pit: in its transcript, and its log
# (nothing when the next host took the message).
grep -- "^421 " "$dir/sendmail.out" | sed 's/^/# transcript: /'
grep -F "$TARPIT_ADDR" "$dir/sendmail.syslog" | sed 's/^/# sendmail log: /' |
	grep . || echo "# sendmail log: nothing about $TARPIT_ADDR"

# --- checks
tap_plan 5

# (a)
[ -n "$found" ] && grep -q "^Subject: $token\$" "$found"
tap_ok "the message arrived in the primary's Maildir (sendmail exit: $sendmail_rc)" $? \
	"$dir/sendmail.out" "$dir/sendmail.syslog" "$dir/primary/maillog" "$dir/tarpitd.log"

# (b) the transcript: connect to the tar pit, its 421, then the primary
out=$dir/sendmail.out
first_line() {
	grep -n -- "$1" "$out" | head -n 1 | cut -d: -f1
}
l_tarpit=$(first_line "Connecting to \[$TARPIT_ADDR\] port $port ")
l_421=$(first_line "^421 4\.7\.0 tarpit\.test ")
l_primary=$(first_line "Connecting to \[$PRIMARY_ADDR\] port $port ")
l_sent=$(first_line "rcpt@primary\.example\.\.\. Sent ")
[ -n "$l_tarpit" ] && [ -n "$l_421" ] && [ -n "$l_primary" ] && [ -n "$l_sent" ] &&
	[ "$l_tarpit" -lt "$l_421" ] && [ "$l_421" -lt "$l_primary" ] &&
	[ "$l_primary" -lt "$l_sent" ]
tap_ok "Sendmail's transcript: the tar pit's 421 4.7.0, then the primary, then Sent" $? \
	"$out"

# ... and its log: sent through the primary, never through the tar pit
log=$dir/sendmail.syslog
grep -q "to=rcpt@primary\.example,.* relay=\[$PRIMARY_ADDR\] .* stat=Sent" "$log" &&
	! grep -q "relay=\[$TARPIT_ADDR\].* stat=Sent" "$log"
tap_ok "Sendmail's log: stat=Sent via $PRIMARY_ADDR" $? "$log"

# (c) held to max_hold: it waited through the whole drip
grep -q "session client=$SENDER_ADDR .*helo=$HOSTNAME .*end=max_hold" "$dir/tarpitd.log"
tap_ok "tarpitd logged Sendmail's session with end=max_hold" $? "$dir/tarpitd.log"

# (d) a well-behaved MTA: no bot evidence
evidence=$(tarpit_evidence "$dir/tarpitd.conf" $SENDER_ADDR)
[ "$evidence" = "-" ]
tap_ok "the tar pit's record of $SENDER_ADDR has no evidence flags (got: ${evidence:-no record})" $? \
	"$dir/tarpitd.log"

tap_done
