#!/bin/sh
# test_postfix_policy.sh - slowspam-policyd behind a real Postfix, wired
# with check_policy_service in the three restriction lists (RCPT, DATA,
# END-OF-MESSAGE): what it does to mail from clients that met the tar pit
# first.
#
# Starts tarpitd on 127.0.0.181, a Postfix "primary" on 127.0.0.182 that
# asks slowspam-policyd (smtpd_policy_service_default_action = DUNNO)
# and delivers rcpt, rcpt2, rcpt3 and trap@primary.example to Maildirs
# (virtual(8)), and the policy server itself (restarted with --set
# milter.action=... between cases; SPF on, from a test zone that passes
# sender.example for 127.0.0.0/8). The policy server listens on a unix
# socket in the queue directory, group postfix, which Postfix names by a
# relative path: docs/deployment.md's wiring for a chrooted smtpd (this
# one is not chrooted; the path means the same either way). Clients are
# swaks bound to 127.0.0.183-189. Checks:
#   - a control client that never met the tar pit gets no X-Slowspam
#     (it also marks the primary alive, which verdicts need);
#   - action=tag: tar pit first, a message to three recipients -> each
#     copy has exactly one X-Slowspam (verdict=backup-first) and one
#     Authentication-Results (spf=pass), though the policy server was
#     asked at each of the three RCPTs, at DATA and at end of message;
#   - action=quarantine: tar pit first, one recipient -> in the hold
#     queue (postqueue -j) with both headers;
#   - action=divert: tar pit first -> delivered to divert_to only;
#   - action=tempfail: tar pit first -> 451 4.7.1 at RCPT;
#   - action=reject: tar pit first -> 550 5.7.1 at RCPT;
#   - primary first, tar pit later: no X-Slowspam;
#   - policy server stopped: mail still flows, untagged.
# Prints TAP. Needs root, Postfix and swaks; otherwise skips.
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

TARPIT_ADDR=127.0.0.181
PRIMARY_ADDR=127.0.0.182
WAIT_LIMIT=20

[ "$(id -u)" -eq 0 ] || tap_skip "needs root to run a private Postfix instance"
command -v postfix >/dev/null 2>&1 || tap_skip "no postfix"
need_cmds postconf postqueue swaks
command -v python3 >/dev/null 2>&1 || bail "python3 is needed to probe ports"
for prog in "$tarpitd" "$policyd" "$ctl"; do
	[ -x "$prog" ] || bail "no $prog (build first)"
done

make_dir pfpolicy
bail_logs="$dir/tarpitd.log $dir/policyd-*.log $dir/primary/maillog $dir/*.out $dir/*/*.out"
policyd_n=0
# shellcheck source=tests/lib_mta.sh
. "$top_srcdir/tests/lib_mta.sh"

tarpit_port=$(free_port $TARPIT_ADDR) || bail "no free port on $TARPIT_ADDR"
primary_port=$(free_port $PRIMARY_ADDR) || bail "no free port on $PRIMARY_ADDR"
conf=$dir/slowspam.conf

policy_setup "$conf" "$TARPIT_ADDR:$tarpit_port"

t_start=$(date +%s)
tarpitd_start "$conf" "$dir/tarpitd.log"

# start_policyd ACTION: a fresh policy server with that action; log in
# $dir/policyd-N-ACTION.log (policyd_log names it).
start_policyd() {
	policyd_n=$((policyd_n + 1))
	policyd_log=$dir/policyd-$policyd_n-$1.log
	policyd_start "$policyd_log" -c "$conf" --socket "unix:$policy_sock" \
		--set policyd.socket_group=postfix --spf-zone "$dir/zone" \
		--set "milter.action=$1"
}

# --- the primary Postfix
inst=$dir/primary
mkdir -p "$inst/mail"
chown 65534:65534 "$inst/mail"
printf '%s\n' 'rcpt@primary.example rcpt/' 'rcpt2@primary.example rcpt2/' \
	'rcpt3@primary.example rcpt3/' 'trap@primary.example trap/' > "$inst/vmailbox"
etc=$(postfix_instance primary "$inst" $PRIMARY_ADDR "$primary_port")
mkdir -m 755 "$inst/queue/slowspam"
policy_sock=$inst/queue/slowspam/policyd.sock
policy="check_policy_service unix:slowspam/policyd.sock"
cat >> "$etc/main.cf" <<EOF
virtual_mailbox_domains = primary.example
virtual_mailbox_base = $inst/mail
virtual_mailbox_maps = texthash:$inst/vmailbox
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
smtpd_recipient_restrictions = $policy, permit_mynetworks, reject_unauth_destination
smtpd_data_restrictions = $policy
smtpd_end_of_data_restrictions = $policy
smtpd_policy_service_default_action = DUNNO
smtpd_policy_service_timeout = 10s
smtpd_policy_service_retry_delay = 1s
EOF
postfix_start "$etc"
wait_listen $PRIMARY_ADDR "$primary_port" 10 || bail "the primary Postfix does not listen"

start_policyd tag

# --- helpers for the cases
# primary_recorded LAST_OCTET: the primary's contact with 127.0.0.N is in
# the store (written behind the answer, so a moment after it).
primary_recorded() {
	tarpit_record "$conf" "127.0.0.$1" | grep -q '"primary_sessions":[1-9]'
}
# tarpit_hit LAST_OCTET: 127.0.0.N meets the tar pit and is recorded.
tarpit_hit() {
	tarpit_meet "$TARPIT_ADDR:$tarpit_port" "$conf" "$dir/tarpitd.log" \
		"127.0.0.$1" "$dir/tarpit-$1.out"
}
# send LAST_OCTET TOKEN [TO]: a message from s@sender.example at
# 127.0.0.N to TO (rcpt@primary.example; a comma-separated list for
# several); swaks' exit status.
send() {
	swaks --server "$PRIMARY_ADDR:$primary_port" --local-interface "127.0.0.$1" \
		--helo "client$1.example" --from "s$1@sender.example" \
		--to "${3:-rcpt@primary.example}" --header "Subject: $2" --timeout 30 \
		> "$dir/send-$2.out" 2>&1
}

# find_in BOX TOKEN: wait for a message with TOKEN in the Maildir BOX;
# print its file name.
find_in() {
	wait_for $WAIT_LIMIT maildir_find "$inst/mail/$1" "$2"
}

# queue_settled: wait until nothing is left in incoming, active or deferred.
queue_settled() {
	wait_for $WAIT_LIMIT queue_empty
}
queue_empty() {
	[ -z "$(find "$inst/queue/incoming" "$inst/queue/active" \
		"$inst/queue/deferred" -type f 2>/dev/null)" ]
}

mta_log=$inst/maillog
tok=slowspam-pfp-$$-$(date +%s)
tap_plan 8

# 1. control: never at the tar pit; marks the primary alive.
policy_control 183

# 2. action=tag, three recipients: one message, five questions (three
# RCPT, DATA, END-OF-MESSAGE), one X-Slowspam and one
# Authentication-Results in each copy.
policy_tagged 184

# 3. action=quarantine: HOLD puts the message in the hold queue. One
# recipient: its three answers (X-Slowspam, Authentication-Results,
# HOLD) come at RCPT, DATA and END-OF-MESSAGE.
start_policyd quarantine
d="action=quarantine: 127.0.0.185 met the tar pit first, its message is in the hold queue, with X-Slowspam and Authentication-Results"
if ! tarpit_hit 185; then
	tap_fail "$d" "127.0.0.185 not recorded by the tar pit" "$dir/tarpit-185.out" "$dir/tarpitd.log"
else
	send 185 "$tok-quarantine"
	queue_settled
	held=$(find "$inst/queue/hold" -type f -exec grep -l -- "$tok-quarantine" {} + 2>/dev/null |
		head -n 1)
	postqueue -c "$inst/etc" -j > "$dir/postqueue.out" 2>&1
	if [ -n "$held" ] && grep -q '"queue_name": *"hold".*"sender": *"s185@sender.example"' "$dir/postqueue.out" &&
		grep -q "X-Slowspam: *verdict=backup-first .*action=quarantine" "$held" &&
		grep -q "Authentication-Results: *primary\.test;.*spf=pass" "$held" &&
		! grep -lq -- "$tok-quarantine" "$inst"/mail/*/new/* 2>/dev/null; then
		tap_ok "$d" 0
	else
		tap_fail "$d" "held file: '${held:-none}'; not in any Maildir expected" \
			"$dir/postqueue.out" "$dir/send-$tok-quarantine.out" \
			"$inst/maillog" "$policyd_log"
	fi
fi

# 4. action=divert: REDIRECT sends the message to divert_to only.
start_policyd divert
d="action=divert: 127.0.0.186 met the tar pit first, delivered to trap@ only"
if ! tarpit_hit 186; then
	tap_fail "$d" "127.0.0.186 not recorded by the tar pit" "$dir/tarpit-186.out" "$dir/tarpitd.log"
else
	send 186 "$tok-divert"
	f=$(find_in trap "$tok-divert")
	queue_settled
	if [ -z "$f" ]; then
		tap_fail "$d" "not delivered to trap@" "$dir/send-$tok-divert.out" \
			"$inst/maillog" "$policyd_log"
	elif grep -lq -- "$tok-divert" "$inst"/mail/rcpt/new/* 2>/dev/null; then
		tap_fail "$d" "also delivered to rcpt@" "$f" "$inst/maillog" "$policyd_log"
	elif ! mta_header "$f" X-Slowspam | grep -q "verdict=backup-first .*action=divert"; then
		tap_fail "$d" "no X-Slowspam verdict=backup-first action=divert" "$f" "$policyd_log"
	else
		tap_ok "$d" 0
	fi
fi

# 5. and 6. action=tempfail: 451 4.7.1 at RCPT; action=reject: 550 5.7.1.
policy_refused 187 tempfail 451 4.7.1
policy_refused 188 reject 550 5.7.1

# 7. primary first (still action=reject: a wrong verdict would reject)
d="primary first: 127.0.0.189 sent, then met the tar pit; its next message is delivered without X-Slowspam"
send 189 "$tok-first1"
find_in rcpt "$tok-first1" > /dev/null
# The tar pit must come after the primary's contact is recorded.
wait_for 5 primary_recorded 189 ||
	echo "# 127.0.0.189: the primary's contact not recorded"
if ! tarpit_hit 189; then
	tap_fail "$d" "127.0.0.189 not recorded by the tar pit" "$dir/tarpit-189.out" "$dir/tarpitd.log"
else
	send 189 "$tok-first2"
	if ! f=$(find_in rcpt "$tok-first2"); then
		tap_fail "$d" "second message not delivered to rcpt@" \
			"$dir/send-$tok-first2.out" "$inst/maillog" "$policyd_log"
	elif [ -n "$(mta_header "$f" X-Slowspam)" ]; then
		tap_fail "$d" "it has X-Slowspam" "$f" "$policyd_log"
	else
		tap_ok "$d" 0
	fi
fi

# 8. policy server stopped: smtpd_policy_service_default_action = DUNNO
# lets mail through (after smtpd_policy_service_try_limit attempts,
# smtpd_policy_service_retry_delay apart, at each of the three stages).
policyd_stop
d="policy server stopped: a message from 127.0.0.184 (tar pit first) is delivered, untagged"
send 184 "$tok-nopolicy"
if ! f=$(find_in rcpt "$tok-nopolicy"); then
	tap_fail "$d" "not delivered" "$dir/send-$tok-nopolicy.out" "$inst/maillog"
elif [ -n "$(mta_header "$f" X-Slowspam)" ]; then
	tap_fail "$d" "it has X-Slowspam" "$f"
else
	tap_ok "$d" 0
	grep -m 1 "slowspam/policyd.sock" "$inst/maillog" | sed 's/^/# postfix: /'
fi

echo "# $(($(date +%s) - t_start)) s in all"
tap_done
