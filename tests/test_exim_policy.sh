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
#   - action=divert: delivered to divert_to only.
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
printf 'sender.example TXT v=spf1 ip4:127.0.0.0/8 -all\n' > "$dir/zone"
cat > "$conf" <<EOF
[tarpitd]
listen = $TARPIT_ADDR:$tarpit_port
hostname = tarpit.test
greet_wait = 200ms
drip_interval = 200ms
max_hold = 1s
user = nobody
[milter]
action = tag
divert_to = trap@primary.example
# all test traffic is 127.x, trusted by default
trusted_networks =
spf = yes
grace = 0
authserv_id = primary.test
[store]
path = $dir/store/hits.lmdb
EOF
tarpitd_start "$conf" "$dir/tarpitd.log"

policyd_pid=
policyd_n=0
stop_policyd() {
	[ -n "$policyd_pid" ] && stop_pid "$policyd_pid"
	policyd_pid=
}
# start_policyd ACTION: a fresh policy server with that action; log in
# $dir/policyd-N-ACTION.log (policyd_log names it).
start_policyd() {
	stop_policyd
	policyd_n=$((policyd_n + 1))
	policyd_log=$dir/policyd-$policyd_n-$1.log
	"$policyd" -f -c "$conf" --socket "inet:$policy_port@$POLICY_ADDR" \
		--spf-zone "$dir/zone" --set "milter.action=$1" > "$policyd_log" 2>&1 &
	policyd_pid=$!
	track_pid "$policyd_pid"
	wait_for 10 policyd_up || bail "slowspam-policyd (action=$1) did not start"
}
policyd_up() {
	kill -0 "$policyd_pid" 2>/dev/null ||
		bail "slowspam-policyd did not start ($policyd_log)"
	wait_listen $POLICY_ADDR "$policy_port" 0
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
tarpit_hit() {
	a=127.0.0.$1
	swaks --server "$TARPIT_ADDR:$tarpit_port" --local-interface "$a" \
		--quit-after EHLO --helo "client$1.example" --timeout 5 \
		> "$dir/tarpit-$1.out" 2>&1
	wait_for 5 tarpit_recorded "$a"
}
tarpit_recorded() {
	grep -q "session client=$1 " "$dir/tarpitd.log" &&
		"$ctl" -c "$conf" lookup "$1" 2>/dev/null |
		grep -q "tarpit_sessions=[1-9]"
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
count() {
	header "$1" "$2" | wc -l | tr -d ' '
}
# at_rcpt TOKEN CODE XCODE: the reply to swaks' (first) RCPT TO began
# "CODE XCODE" ("CODE-XCODE" when it has several lines), and the
# message was not accepted.
at_rcpt() {
	awk -v code="$2" -v xcode="$3" '
	/ -> RCPT TO:/ { rcpt = 1; next }
	rcpt && /<[*~]* / {
		sub(/^.*<[*~]* /, "")
		ok = index($0, code) == 1 && index($0, xcode " ") == 5 &&
		    substr($0, 4, 1) ~ /[- ]/
		exit
	}
	END { exit !ok }' "$dir/send-$1.out" &&
		! grep -q "^ *<[~]* 250 .*id=" "$dir/send-$1.out"
}
# spool_frozen TOKEN: a message with TOKEN in its headers is in Exim's
# spool, frozen (its -H file, which holds the headers, has the -frozen
# flag); print that file's name.
spool_frozen() {
	for _h in $(grep -l -- "$1" "$dir"/spool/input/*-H 2>/dev/null); do
		grep -q '^-frozen ' "$_h" && echo "$_h" && return 0
	done
	return 1
}

tok=slowspam-exp-$$-$(date +%s)
tap_plan 6

# 1. control: never at the tar pit; marks the primary alive (and the
# primary's last quarter of an hour, as in test_postfix_policy.sh).
send 193 "$tok-control"
"$top_builddir/tests/storetool" "$dir/store/hits.lmdb" alive now-900000 \
	now-60000 >/dev/null
d="control: a message from 127.0.0.193 (never at the tar pit) is delivered without X-Slowspam"
if ! f=$(find_in rcpt "$tok-control"); then
	tap_fail "$d" "not delivered" "$dir/send-$tok-control.out" "$dir/log/mainlog" "$policyd_log"
elif [ -n "$(header "$f" X-Slowspam)" ]; then
	tap_fail "$d" "it has X-Slowspam" "$f" "$policyd_log"
else
	tap_ok "$d" 0
fi

# 2. action=tag, three recipients: one X-Slowspam and one
# Authentication-Results in each copy.
d="action=tag: 127.0.0.194 met the tar pit first; each of three copies has one X-Slowspam (backup-first) and one Authentication-Results (spf=pass)"
if ! tarpit_hit 194; then
	tap_fail "$d" "127.0.0.194 not recorded by the tar pit" "$dir/tarpit-194.out" "$dir/tarpitd.log"
else
	send 194 "$tok-tag" rcpt@primary.example,rcpt2@primary.example,rcpt3@primary.example
	why= f=
	for box in rcpt rcpt2 rcpt3; do
		if ! f=$(find_in $box "$tok-tag"); then
			why="not delivered to $box@"
			break
		fi
		h=$(header "$f" X-Slowspam)
		if [ "$(count "$f" X-Slowspam)" != 1 ] ||
			[ "$(count "$f" Authentication-Results)" != 1 ]; then
			why="$box@: $(count "$f" X-Slowspam) X-Slowspam, $(count "$f" Authentication-Results) Authentication-Results"
			break
		fi
		echo "$h" | grep -q "verdict=backup-first .*network=127\.0\.0\.194/32" ||
			{ why="$box@: X-Slowspam: '$h'"; break; }
		ar=$(header "$f" Authentication-Results)
		echo "$ar" | grep -q "^primary\.test;.*spf=pass .*smtp\.mailfrom=s194@sender\.example" ||
			{ why="$box@: Authentication-Results: '$ar'"; break; }
	done
	if [ -z "$why" ]; then
		tap_ok "$d" 0
		echo "# X-Slowspam: $h"
		echo "# Authentication-Results: $ar"
	else
		tap_fail "$d" "$why" ${f:+"$f"} "$dir/send-$tok-tag.out" \
			"$dir/log/mainlog" "$policyd_log"
	fi
fi

# 3. action=tempfail: 451 4.7.1 at RCPT.
start_policyd tempfail
d="action=tempfail: 127.0.0.195 met the tar pit first, its RCPT TO gets 451 4.7.1"
if ! tarpit_hit 195; then
	tap_fail "$d" "127.0.0.195 not recorded by the tar pit" "$dir/tarpit-195.out" "$dir/tarpitd.log"
elif send 195 "$tok-tempfail"; at_rcpt "$tok-tempfail" 451 4.7.1; then
	tap_ok "$d" 0
	grep -m 1 "<\*\* 451" "$dir/send-$tok-tempfail.out" | sed 's/^/# /'
else
	tap_fail "$d" "no 451 4.7.1 at RCPT" "$dir/send-$tok-tempfail.out" \
		"$dir/log/mainlog" "$policyd_log"
fi

# 4. action=reject: 550 5.7.1 at RCPT.
start_policyd reject
d="action=reject: 127.0.0.196 met the tar pit first, its RCPT TO gets 550 5.7.1"
if ! tarpit_hit 196; then
	tap_fail "$d" "127.0.0.196 not recorded by the tar pit" "$dir/tarpit-196.out" "$dir/tarpitd.log"
elif send 196 "$tok-reject"; at_rcpt "$tok-reject" 550 5.7.1; then
	tap_ok "$d" 0
	grep -m 1 "<\*\* 550" "$dir/send-$tok-reject.out" | sed 's/^/# /'
else
	tap_fail "$d" "no 550 5.7.1 at RCPT" "$dir/send-$tok-reject.out" \
		"$dir/log/mainlog" "$policyd_log"
fi

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
	elif ! header "$f" X-Slowspam | grep -q "verdict=backup-first .*action=divert"; then
		tap_fail "$d" "no X-Slowspam verdict=backup-first action=divert" "$f" "$policyd_log"
	else
		tap_ok "$d" 0
	fi
fi

echo "# $(($(date +%s) - t_start)) s in all"
tap_done
