#!/bin/sh
# test_exim_policy.sh - slowspam-policyd asked by a real Exim 4.96 through
# conf-examples/exim-slowspam.conf (${readsocket} from the ACLs): what it
# does to mail from clients that met the tar pit first.
#
# Exim conflicts with Postfix, so Debian's packages are unpacked into a
# cached private prefix (tests/lib_mta.sh) and the Exim daemon runs in
# its own UTS and mount namespaces with private /etc files. Its
# configuration is this test's main settings, ACLs and Maildir delivery
# with the three parts of the example spliced in where the example says
# they go. tarpitd listens on 127.0.0.191, Exim on 127.0.0.192, the
# policy server on 127.0.0.190 (TCP; restarted with --set
# milter.action=... between cases; SPF from a test zone). Clients are
# swaks bound to 127.0.0.193-198. Checks:
#   - a control client that never met the tar pit: delivered, no
#     X-Slowspam (it also marks the primary alive);
#   - action=tag: tar pit first, three recipients -> each copy has
#     exactly one X-Slowspam and one Authentication-Results
#     (spf=pass);
#   - action=tempfail: 451 4.7.1 at RCPT;
#   - action=reject: 550 5.7.1 at RCPT;
#   - action=quarantine: the message (one recipient) is frozen in Exim's
#     queue with X-Slowspam and Authentication-Results;
#   - action=divert: delivered to divert_to only;
#   - policy server stopped: mail still flows, untagged.
# Needs root, unshare, python3, dpkg-deb, apt-get and swaks; otherwise
# skips. Prints TAP.
#
# Some functions are only called through wait_for.
# shellcheck disable=SC2317
PATH=$PATH:/usr/sbin:/sbin
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
# shellcheck source=tests/lib.sh
. "$top_srcdir/tests/lib.sh"
tarpitd=$top_builddir/tarpitd/tarpitd
policyd=${POLICYD:-$top_builddir/policyd/slowspam-policyd}
ctl=$top_builddir/slowspamctl/slowspamctl
example=$top_srcdir/conf-examples/exim-slowspam.conf

POLICY_ADDR=127.0.0.190
TARPIT_ADDR=127.0.0.191
EXIM_ADDR=127.0.0.192
EXIM_HOST=exim.slowspam.test
WAIT_LIMIT=20
EXIM_UID=101
EXIM_GID=102

[ "$(id -u)" -eq 0 ] ||
	tap_skip "needs root to run a private Exim in its own namespaces"
need_cmds unshare python3 dpkg-deb apt-get mount hostname swaks
for prog in "$tarpitd" "$policyd" "$ctl"; do
	[ -x "$prog" ] || bail "no $prog (build first)"
done

make_dir eximpolicy
bail_logs="$dir/tarpitd.log $dir/policyd-*.log $dir/log/mainlog $dir/log/paniclog $dir/*.out"
# shellcheck source=tests/lib_mta.sh
. "$top_srcdir/tests/lib_mta.sh"

# --- Exim's packages (libidn12 is not installed with Postfix)
mta_fetch exim exim4-base exim4-daemon-light libidn12
exim=$mta_prefix/usr/sbin/exim4
missing=$(mta_missing "$exim")
[ -z "$missing" ] || tap_skip "Exim's libraries are missing: $missing"

t_start=$(date +%s)
tarpit_port=$(free_port $TARPIT_ADDR) || bail "no free port on $TARPIT_ADDR"
exim_port=$(free_port $EXIM_ADDR) || bail "no free port on $EXIM_ADDR"
policy_port=$(free_port $POLICY_ADDR) || bail "no free port on $POLICY_ADDR"
conf=$dir/slowspam.conf
policy_setup "$conf" "$TARPIT_ADDR:$tarpit_port"
tarpitd_start "$conf" "$dir/tarpitd.log"

policyd_n=0
# start_policyd ACTION: a fresh policy server with that action; log in
# $dir/policyd-N-ACTION.log (policyd_log names it).
start_policyd() {
	policyd_n=$((policyd_n + 1))
	policyd_log=$dir/policyd-$policyd_n-$1.log
	policyd_start "$policyd_log" -c "$conf" \
		--socket "inet:$policy_port@$POLICY_ADDR" --spf-zone "$dir/zone" \
		--set "milter.action=$1"
}

# part N: PART N of the example, up to the next part.
part() {
	awk -v n="$1" '
	/^# ==== PART [0-9]+:/ { on = ($4 == n ":") }
	on' "$example"
}

# --- Exim: its configuration, spool, log and Maildirs
mkdir -p "$dir/spool" "$dir/log" "$dir/mail"
chown $EXIM_UID:$EXIM_GID "$dir/spool" "$dir/log" "$dir/mail"
mta_etc "$dir/etc" $EXIM_HOST $EXIM_ADDR Debian-exim:$EXIM_UID:$EXIM_GID
{
	cat <<EOF
exim_path = $exim
keep_environment = LD_LIBRARY_PATH
primary_hostname = $EXIM_HOST
qualify_domain = $EXIM_HOST
spool_directory = $dir/spool
log_file_path = $dir/log/%slog
log_selector = +all -arguments
local_interfaces = $EXIM_ADDR
daemon_smtp_ports = $exim_port
# no DNS, no ident, no TLS; every client may relay to primary.example
host_lookup =
rfc1413_hosts =
tls_advertise_hosts =
message_logs = false
domainlist local_domains = primary.example
acl_smtp_rcpt = test_rcpt
acl_smtp_data = test_data
EOF
	# The example's main part, pointed at this test's policy server.
	part 1 | sed "s|^SLOWSPAM_POLICYD = .*|SLOWSPAM_POLICYD = inet:$POLICY_ADDR:$policy_port|"
	cat <<'EOF'

begin acl
test_rcpt:
  require acl = slowspam_ask RCPT
  accept  domains = +local_domains
  deny    message = relay not permitted
test_data:
  require acl = slowspam_ask END-OF-MESSAGE
  accept
EOF
	part 2
	echo
	echo "begin routers"
	part 3
	cat <<EOF
local_user:
  driver = accept
  domains = +local_domains
  local_parts = rcpt : rcpt2 : rcpt3 : trap
  transport = maildir

begin transports
maildir:
  driver = appendfile
  directory = $dir/mail/\$local_part_data
  maildir_format
  create_directory
  user = Debian-exim
  group = Debian-exim

begin retry
* * F,1h,1m
EOF
} > "$dir/exim.conf"

# -bdf: the daemon in the foreground; -odi: each message delivered at
# once by the process that received it.
mta_start exim $EXIM_HOST "$dir/etc" -e LD_LIBRARY_PATH="$mta_libpath" -- \
	"$exim" -C "$dir/exim.conf" -bdf -odi
wait_listen $EXIM_ADDR "$exim_port" 10 ||
	bail "Exim does not listen on $EXIM_ADDR:$exim_port (see $dir/exim.out)"

start_policyd tag

# --- helpers for the cases
# tarpit_hit LAST_OCTET: 127.0.0.N meets the tar pit and is recorded.
tarpit_hit() {
	tarpit_meet "$TARPIT_ADDR:$tarpit_port" "$conf" "$dir/tarpitd.log" \
		"127.0.0.$1" "$dir/tarpit-$1.out"
}
# send LAST_OCTET TOKEN [TO]: a message from s@sender.example at
# 127.0.0.N to TO (rcpt@primary.example; comma-separated for several).
send() {
	swaks --server "$EXIM_ADDR:$exim_port" --local-interface "127.0.0.$1" \
		--helo "client$1.example" --from "s$1@sender.example" \
		--to "${3:-rcpt@primary.example}" --header "Subject: $2" --timeout 30 \
		> "$dir/send-$2.out" 2>&1
}
find_in() {
	wait_for $WAIT_LIMIT maildir_find "$dir/mail/$1" "$2"
}
# spool_frozen TOKEN: a message with TOKEN in its headers is in Exim's
# spool, frozen (its -H file, which holds the headers, has the -frozen
# flag); print that file's name.
spool_frozen() {
	for _h in "$dir"/spool/input/*-H; do
		grep -q -- "$1" "$_h" 2>/dev/null || continue
		grep -q '^-frozen ' "$_h" && echo "$_h" && return 0
	done
	return 1
}

mta_log=$dir/log/mainlog
tok=slowspam-exp-$$-$(date +%s)
tap_plan 7

# 1. control: never at the tar pit; marks the primary alive.
policy_control 193

# 2. action=tag, three recipients: one message, five questions (three
# RCPT, DATA, END-OF-MESSAGE), one X-Slowspam and one
# Authentication-Results in each copy.
policy_tagged 194

# 3. and 4. action=tempfail: 451 4.7.1 at RCPT; action=reject: 550 5.7.1.
policy_refused 195 tempfail 451 4.7.1
policy_refused 196 reject 550 5.7.1

# 5. action=quarantine: HOLD freezes the message in Exim's queue. One
# recipient: the three answers (X-Slowspam, Authentication-Results,
# HOLD) need the three questions, at RCPT, DATA and end of message.
start_policyd quarantine
d="action=quarantine: 127.0.0.197 met the tar pit first, its message is frozen in Exim's queue, with X-Slowspam and Authentication-Results"
if ! tarpit_hit 197; then
	tap_fail "$d" "127.0.0.197 not recorded by the tar pit" "$dir/tarpit-197.out" "$dir/tarpitd.log"
else
	send 197 "$tok-quarantine"
	if held=$(wait_for $WAIT_LIMIT spool_frozen "$tok-quarantine") &&
		grep -q "X-Slowspam: verdict=backup-first .*action=quarantine" "$held" &&
		grep -q "Authentication-Results: primary\.test;.*spf=pass" "$held" &&
		grep -q "frozen by ACL" "$dir/log/mainlog" &&
		! grep -lq -- "$tok-quarantine" "$dir"/mail/*/new/* 2>/dev/null; then
		tap_ok "$d" 0
	else
		tap_fail "$d" "not frozen in the spool with both headers, or delivered" \
			${held:+"$held"} "$dir/send-$tok-quarantine.out" "$dir/log/mainlog" \
			"$policyd_log"
	fi
fi

# 6. action=divert: the example's router sends it to divert_to only.
start_policyd divert
d="action=divert: 127.0.0.198 met the tar pit first, delivered to trap@ only"
if ! tarpit_hit 198; then
	tap_fail "$d" "127.0.0.198 not recorded by the tar pit" "$dir/tarpit-198.out" "$dir/tarpitd.log"
else
	send 198 "$tok-divert"
	if ! f=$(find_in trap "$tok-divert"); then
		tap_fail "$d" "not delivered to trap@" "$dir/send-$tok-divert.out" \
			"$dir/log/mainlog" "$policyd_log"
	elif grep -lq -- "$tok-divert" "$dir"/mail/rcpt/new/* 2>/dev/null; then
		tap_fail "$d" "also delivered to rcpt@" "$f" "$dir/log/mainlog"
	elif ! mta_header "$f" X-Slowspam | grep -q "verdict=backup-first .*action=divert"; then
		tap_fail "$d" "no X-Slowspam verdict=backup-first action=divert" "$f" "$policyd_log"
	else
		tap_ok "$d" 0
	fi
fi

# 7. policy server stopped: ${readsocket} cannot connect, its fail
# string says DUNNO, and the mail flows, untagged.
policyd_stop
d="policy server stopped: a message from 127.0.0.194 (tar pit first) is delivered, untagged"
send 194 "$tok-nopolicy"
if ! f=$(find_in rcpt "$tok-nopolicy"); then
	tap_fail "$d" "not delivered" "$dir/send-$tok-nopolicy.out" "$dir/log/mainlog"
elif [ -n "$(mta_header "$f" X-Slowspam)" ]; then
	tap_fail "$d" "it has X-Slowspam" "$f"
else
	tap_ok "$d" 0
fi

echo "# $(($(date +%s) - t_start)) s in all"
tap_done
