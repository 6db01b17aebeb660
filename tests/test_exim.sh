#!/bin/sh
# test_exim.sh - "nothing lost" with a real Exim 4.96 as the sender: it
# meets the tar pit first, is let go with a clean 4xx (or gives up by
# itself), delivers through the primary, and the tar pit records no bot
# evidence against it.
#
# Exim conflicts with Postfix, so Debian's packages are unpacked into a
# cached private prefix (tests/lib_mta.sh) and each Exim runs in its own
# UTS and mount namespaces with private /etc files (Debian's Exim needs
# its Debian-exim user before it reads -C). Its manualroute router lists
# the tar pit first and a real Postfix primary (127.0.0.134, delivering
# to a Maildir) second. Three runs, at once, each with its own tarpitd,
# Exim spool and source address:
#   1. 127.0.0.135 -> tarpitd on .131, max_hold 10s, Exim's default
#      command_timeout (5m, a deadline for a whole reply): the tar pit
#      ends the EHLO reply with a 250 line at its last drip before
#      max_hold and answers Exim's next command (a pipelined MAIL FROM)
#      with 421 4.7.0 (end=max_hold).
#   2. 127.0.0.136 -> .132, max_hold 30s, impatient_before 5s; Exim's
#      command_timeout = 8s: Exim hangs up first (end=client_closed),
#      later than impatient_before, so it is not "impatient".
#   3. 127.0.0.137 -> .133, the same but impatient_before 20s: the same
#      Exim is marked impatient (the rule can bite).
# A spool each: after the 421, Exim's retry database would skip the tar
# pit for the next message. Exim's delivery process drops to
# Debian-exim ("exim user lost privilege for using -C option" in its
# log is expected) and re-executes the binary from the cache.
# Needs root, unshare, python3, dpkg-deb, apt-get and Postfix; otherwise
# skips. Prints TAP.
PATH=$PATH:/usr/sbin:/sbin
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
# shellcheck source=tests/lib.sh
. "$top_srcdir/tests/lib.sh"
tarpitd=$top_builddir/tarpitd/tarpitd
ctl=$top_builddir/slowspamctl/slowspamctl

PRIMARY_ADDR=127.0.0.134
EXIM_HOST=exim.slowspam.test
WAIT_LIMIT=40	# s; run 1 needs max_hold and a bit (the waits overlap)
EXIM_UID=101
EXIM_GID=102

[ "$(id -u)" -eq 0 ] ||
	tap_skip "needs root to run a private Exim in its own namespaces"
need_cmds postfix unshare python3 dpkg-deb apt-get mount hostname
for prog in "$tarpitd" "$ctl"; do
	[ -x "$prog" ] || bail "no $prog (build first)"
done

make_dir exim
bail_logs="$dir/*/tarpitd.log $dir/*/log/mainlog $dir/*/log/paniclog $dir/*.out $dir/primary/maillog $dir/primary/*.out"
# shellcheck source=tests/lib_mta.sh
. "$top_srcdir/tests/lib_mta.sh"

# --- Exim's packages (libidn12 is not installed with Postfix)
mta_fetch exim exim4-base exim4-daemon-light libidn12
exim=$mta_prefix/usr/sbin/exim4
missing=$(mta_missing "$exim")
[ -z "$missing" ] || tap_skip "Exim's libraries are missing: $missing"

t0=$(now)
mta_primary $PRIMARY_ADDR
mta_etc "$dir/etc" $EXIM_HOST $PRIMARY_ADDR Debian-exim:$EXIM_UID:$EXIM_GID

# run_setup N TARPIT_ADDR SENDER_ADDR MAX_HOLD IMPATIENT_BEFORE
#     TRANSPORT_OPTION: in $dir/runN, a tarpitd on TARPIT_ADDR (started;
# IMPATIENT_BEFORE empty for the default) and the configuration and
# spool of an Exim whose SMTP client binds SENDER_ADDR and routes
# primary.example to the tar pit, then the primary.
run_setup() {
	_r=$dir/run$1
	mkdir -p "$_r/spool" "$_r/log"
	chown $EXIM_UID:$EXIM_GID "$_r/spool" "$_r/log"
	_port=$(free_port "$2") || bail "no free port on $2"
	mta_tarpit "$_r" "$2" "$_port" "$4" "${5:-}"
	cat > "$_r/exim.conf" <<EOF
exim_path = $exim
keep_environment = LD_LIBRARY_PATH
primary_hostname = $EXIM_HOST
qualify_domain = $EXIM_HOST
spool_directory = $_r/spool
log_file_path = $_r/log/%slog
# +all: the remote hosts' errors and replies, times to the millisecond
log_selector = +all -arguments
# no DNS, no ident, no listening
host_lookup =
rfc1413_hosts =
daemon_smtp_ports =
tls_advertise_hosts =
message_logs = false

begin routers
tarpit_first:
  driver = manualroute
  domains = primary.example
  transport = remote_smtp
  # in this order: the tar pit (the lowest MX), then the primary
  route_list = * "<+ [$2]:$_port + [$PRIMARY_ADDR]:$primary_port"
  # loopback addresses are not "self" here
  self = send
  no_more

begin transports
remote_smtp:
  driver = smtp
  interface = $3
  hosts_try_fastopen =
  $6

begin retry
* * F,1h,1m
EOF
}

run_setup 1 127.0.0.131 127.0.0.135 10s "" ""
run_setup 2 127.0.0.132 127.0.0.136 30s 5s "command_timeout = 8s"
run_setup 3 127.0.0.133 127.0.0.137 30s 20s "command_timeout = 8s"

token=slowspam-exim-$$-$(date +%s)
t1=$(now)
for n in 1 2 3; do
	cat > "$dir/run$n/msg" <<EOF
From: sender$n@$EXIM_HOST
To: rcpt@primary.example
Subject: $token-$n
Message-Id: <$token-$n@$EXIM_HOST>

Nothing lost: $token-$n
EOF
	# -odi: deliver at once, in this process's children
	mta_start exim$n $EXIM_HOST "$dir/etc" -e LD_LIBRARY_PATH="$mta_libpath" \
		-i "$dir/run$n/msg" -- \
		"$exim" -C "$dir/run$n/exim.conf" -odi -f "sender$n@$EXIM_HOST" rcpt@primary.example
done

# --- wait for the three messages in the primary's Maildir (they go at
# once: the waits overlap)
for n in 1 2 3; do
	wait_for $WAIT_LIMIT maildir_find "$primary_maildir" "$token-$n" > /dev/null
	eval "found$n=\$(maildir_find \"\$primary_maildir\" \"\$token-$n\")"
done
# Each Exim is done once its namespace is empty (-odi waits for the
# delivery); the tar pit logs a session at disconnect and writes its
# store just after.
# shellcheck disable=SC2317
exim_gone() {
	[ -z "$(mta_ns_pids "exim$1")" ]
}
for n in 1 2 3; do
	wait_for 10 exim_gone $n
	wait_for 5 grep -q "session client=127.0.0.13$((n + 4)) " "$dir/run$n/tarpitd.log"
	wait_for 5 tarpit_record "$dir/run$n/tarpitd.conf" 127.0.0.13$((n + 4)) > /dev/null
done
t2=$(now)

# held N: how long run N's tar pit held its Exim (its log's held=)
held() {
	sed -n 's/.* held=\([0-9.]*\) .*/\1/p' "$dir/run$1/tarpitd.log" | head -n 1
}
# exim_after N PATTERN: seconds from the message's arrival in run N's
# Exim to its first log line that matches PATTERN (awk), from the log's
# millisecond times
exim_after() {
	awk -v re="$2" '
	function t(s) { split(s, a, ":"); return a[1] * 3600 + a[2] * 60 + a[3] }
	/ <= / && !s { s = t($2) }
	s && $0 ~ re { d = t($2) - s; if (d < 0) d += 86400; printf "%.1f", d; exit }
	' "$dir/run$1/log/mainlog"
}
for n in 1 2 3; do
	eval "_f=\$found$n"
	if [ -n "$_f" ]; then _what=delivered; else _what="NOT delivered"; fi
	echo "# run $n: $_what $(exim_after $n " => ") s after injection;" \
		"left the tar pit after $(exim_after $n "H=127\\.0\\.0\\.13$n ") s" \
		"(tarpitd: held=$(held $n))"
done
awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN {
	printf "# set-up %.1f s, the three runs %.1f s\n", b - a, c - b
}'

# delivered_via_primary N: message N is in the Maildir, and run N's Exim
# logged its delivery through the primary, never through the tar pit
delivered_via_primary() {
	eval "_f=\$found$1"
	[ -n "$_f" ] && grep -q "^Subject: $token-$1\$" "$_f" &&
		grep -q "^Message-I[Dd]: <$token-$1@$EXIM_HOST>" "$_f" &&
		grep -q "=> rcpt@primary.example .* H=$PRIMARY_ADDR \[$PRIMARY_ADDR\]:$primary_port " \
			"$dir/run$1/log/mainlog" &&
		! grep -q "=> rcpt@primary.example .* H=127.0.0.13$1 " "$dir/run$1/log/mainlog"
}
# before_delivery N PATTERN: run N's Exim logged a line that matches
# PATTERN (grep) before the line of its delivery
before_delivery() {
	_a=$(grep -n -- "$2" "$dir/run$1/log/mainlog" | head -n 1 | cut -d: -f1)
	_b=$(grep -n -- "=> rcpt@primary.example " "$dir/run$1/log/mainlog" |
		head -n 1 | cut -d: -f1)
	[ -n "$_a" ] && [ -n "$_b" ] && [ "$_a" -lt "$_b" ]
}
# session N PATTERN: the tar pit of run N logged a session of its Exim
# that matches PATTERN (grep) after the address and the HELO
session() {
	grep -q "session client=127.0.0.13$(($1 + 4)) .*helo=$EXIM_HOST .*$2" \
		"$dir/run$1/tarpitd.log"
}
# evidence N: the evidence in the record of run N's Exim in its tar pit
evidence() {
	tarpit_evidence "$dir/run$1/tarpitd.conf" 127.0.0.13$(($1 + 4))
}
# held_between N MIN MAX: MIN <= held < MAX (seconds)
held_between() {
	awk -v h="$(held "$1")" -v a="$2" -v b="$3" 'BEGIN { exit !(h != "" && h >= a && h < b) }'
}

tap_plan 11
m1=$dir/run1/log/mainlog
m2=$dir/run2/log/mainlog
m3=$dir/run3/log/mainlog
t1log=$dir/run1/tarpitd.log
t2log=$dir/run2/tarpitd.log
t3log=$dir/run3/tarpitd.log

# Run 1: the tar pit lets go at max_hold (Exim's 5 min deadline is far).
delivered_via_primary 1
tap_ok "run 1: delivered through the primary $PRIMARY_ADDR" $? \
	"$m1" "$dir/primary/maillog" "$t1log"
# The EHLO reply ended with a 250 line, so Exim went on to MAIL FROM
# and met the 421 there (a 421 as the EHLO reply's last line reads as
# 250 to Exim, which then only sees the close).
before_delivery 1 "H=127\.0\.0\.131 \[127\.0\.0\.131\]:[0-9]*: SMTP error from remote mail server after .*: 421 4\.7\.0 tarpit\.test Service not available"
tap_ok "run 1: Exim logged the tar pit's 421 4.7.0 reply before the delivery" $? "$m1"
session 1 "end=max_hold\$"
tap_ok "run 1: tarpitd held Exim until max_hold (end=max_hold)" $? "$t1log"
[ "$(evidence 1)" = - ]
tap_ok "run 1: the tar pit's record of Exim's address has no evidence" $? "$t1log"

# Run 2: Exim's command_timeout (8 s for the whole EHLO reply) ends the
# session long before max_hold (30 s), later than impatient_before (5 s).
delivered_via_primary 2
tap_ok "run 2: delivered through the primary despite command_timeout" $? \
	"$m2" "$dir/primary/maillog" "$t2log"
before_delivery 2 "H=127\.0\.0\.132 \[127\.0\.0\.132\]:[0-9]*: SMTP timeout after EHLO $EXIM_HOST"
tap_ok "run 2: Exim logged its timeout after EHLO at the tar pit before the delivery" $? "$m2"
session 2 "end=client_closed\$" && held_between 2 5 15
tap_ok "run 2: tarpitd logged end=client_closed after 5-15 s, not max_hold (held $(held 2) s)" $? "$t2log"
[ "$(evidence 2)" = - ]
tap_ok "run 2: no evidence (not impatient: Exim left after impatient_before)" $? "$t2log"

# Run 3: the same Exim, impatient_before 20 s: now it is impatient.
delivered_via_primary 3
tap_ok "run 3: delivered through the primary" $? "$m3" "$dir/primary/maillog" "$t3log"
session 3 "evidence=impatient .*end=client_closed\$"
tap_ok "run 3: tarpitd logged the session as impatient, end=client_closed" $? "$t3log"
[ "$(evidence 3)" = impatient ]
tap_ok "run 3: the tar pit's record of Exim's address says impatient" $? "$t3log"

tap_done
