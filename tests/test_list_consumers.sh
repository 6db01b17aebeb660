#!/bin/sh
# test_list_consumers.sh - the slowspam DNS list as real consumers read
# it: rbldnsd serves the list's data file, and a real Postfix (postscreen
# and reject_rbl_client) and a real Exim (dnslists) judge clients by it.
#
# A store is filled through tests/storetool as the tar pit would fill it:
#   127.0.0.10/32  a bot (evidence at the tar pit, two hours ago; the
#                  primary not proven up then): 127.0.0.3
#   127.0.0.11/32  backup-first (tar pit ten minutes ago, the primary's
#                  liveness marks around that contact): 127.0.0.2
#   127.0.0.13/32  seen at the tar pit, nothing else, [list] seen = yes:
#                  127.0.0.4
#   127.0.0.12     a control that met nothing: not listed
#   2001:db8:1::/64  a bot network, for the ip6trie section
# The data file (rbldnsd's "combined" format) is written from it by
# "slowspamctl export --format rbldnsd -o FILE". Its configuration has
# trusted_networks = 10.255.255.255/32: the default, 127.0.0.0/8, keeps
# every test network out of the list; a second file, exported with the
# default, is served as a second zone to show that once.
#
# The consumers run in a private network and mount namespace (unshare
# -n -m: the script re-executes itself there, after fetching Exim on the
# machine's network), where the loopback device is ours, rbldnsd answers
# on 127.0.0.1:53 as rbldns and a private resolv.conf naming 127.0.0.1 is
# bind-mounted over /etc/resolv.conf (the machine's is never touched).
# Checks:
#   - dig: each network's A and TXT records; the control and 127.0.0.1
#     are not listed; the RFC 5782 test entry 127.0.0.2 has all three
#     answers; the IPv6 network; SOA and NS from [list] ns; with the
#     default trusted_networks nothing under 127.0.0.0/8 but the test
#     entry is listed (the test entry still answers, its /32 inside the
#     excluded /8);
#   - Postfix 3.7 postscreen (postscreen_dnsbl_sites with the weights
#     of docs/guide.md 10.5: backup-first 3, bot 2, seen 1,
#     threshold 2, action enforce): the bot and the backup-first client
#     get 550 5.7.1 at RCPT TO; the seen one and the control pass to
#     smtpd (250 at RCPT TO);
#   - Postfix reject_rbl_client ZONE=127.0.0.[2..3]: the bot and the
#     backup-first client get 554 5.7.1 with the list's TXT in the
#     reply; the seen one (127.0.0.4) and the control get 250;
#   - Exim 4.96 (unpacked from Debian's packages, as in test_exim.sh)
#     in host-checking mode (exim -bh ADDR): "deny dnslists =
#     ZONE=127.0.0.2,127.0.0.3" refuses the bot and the backup-first
#     client with $dnslist_value and $dnslist_text in its message;
#     "warn dnslists = ZONE=127.0.0.4" logs the seen one, which is
#     accepted like the control;
#   - the bot forgotten (slowspamctl forget), the list exported again
#     over the served file and rbldnsd sent SIGHUP: no longer listed.
# Prints TAP. Needs root, unshare, rbldnsd, dig, Postfix, swaks, and
# Exim's packages (apt-get download); otherwise skips.
#
# Some functions are only called through wait_for.
# shellcheck disable=SC2317
PATH=$PATH:/usr/sbin:/sbin
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
# shellcheck source=tests/lib.sh
. "$top_srcdir/tests/lib.sh"
ctl=$top_builddir/slowspamctl/slowspamctl
storetool=$top_builddir/tests/storetool

ZONE=list.slowspam.test
DEFAULT_ZONE=default.slowspam.test	# exported with the default trusted_networks
BOT=127.0.0.10
BACKUP=127.0.0.11
CONTROL=127.0.0.12
SEEN=127.0.0.13
BOT6=2001:db8:1::/64
# The nibble name of 2001:db8:1::1 under the zone
BOT6_NAME=1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.$ZONE
POSTSCREEN_PORT=2525
RBL_PORT=2526
EXIM_HOST=exim.slowspam.test
EXIM_UID=101
EXIM_GID=102

# --- rbldnsd

# --- the store and the list (on the machine's network)

# iso MS: record_format_time's form of MS (ms since the epoch).
iso() {
	printf '%s.%03dZ' "$(date -u -d "@$(($1 / 1000))" +%Y-%m-%dT%H:%M:%S)" \
		$(($1 % 1000))
}

# fill_store PATH: the records above, as of $t_now (ms).
fill_store() {
	mkdir -p "${1%/*}"
	"$storetool" "$1" alive $((t_now - 1200000)) $((t_now - 60000)) &&
		"$storetool" "$1" tarpit $BACKUP/32 $t_backup mail.client11.example &&
		"$storetool" "$1" tarpit $BOT/32 $t_bot client10.example 1 &&
		"$storetool" "$1" tarpit $SEEN/32 $t_seen mail.client13.example &&
		"$storetool" "$1" tarpit $BOT6 $t_bot bot6.example 1 ||
		bail "storetool failed on $1"
}

# txt REASON MS: the list's TXT for a single tar-pit contact at MS.
txt() {
	echo "$1; first=$(iso "$2"); last=$(iso "$2")"
}

# write_list CONF OUT: the list's data file for the store of CONF, by
# slowspamctl export --format rbldnsd; bail if it fails (its summary in
# OUT.log). rbldnsd reads it as rbldns: the export must honour umask 022
# (as a cron job or timer would run it), not leave a private file.
write_list() {
	(umask 022 && "$ctl" -c "$1" export --format rbldnsd -o "$2") \
		> "$2.log" 2>&1 ||
		bail "slowspamctl -c $1 export --format rbldnsd -o $2 failed"
}

# --- inside the namespace

# dns_is NAME TYPE WANT: dig's short answer for NAME TYPE, sorted, one
# line each, is WANT ("" for none).
dns_is() {
	_got=$(dig +short +tries=1 +time=2 "$1" "$2" | sort)
	[ "$_got" = "$3" ] && return 0
	echo "# dig $1 $2: '$_got', wanted '$3'"
	return 1
}

# rev ADDR: ADDR's octets reversed, the list's name for it.
rev() {
	echo "$1" | awk -F. '{ print $4 "." $3 "." $2 "." $1 }'
}

# check_dns: what rbldnsd serves, by dig through the namespace's
# resolv.conf.
check_dns() {
	dns_is "$(rev $BOT).$ZONE" A 127.0.0.3 &&
		dns_is "$(rev $BOT).$ZONE" TXT "\"$(txt bot $t_bot)\""
	tap_ok "dig: the bot $BOT has 127.0.0.3 and its TXT" $? "$rbldnsd_log"
	dns_is "$(rev $BACKUP).$ZONE" A 127.0.0.2 &&
		dns_is "$(rev $BACKUP).$ZONE" TXT "\"$(txt backup-first $t_backup)\""
	tap_ok "dig: the backup-first client $BACKUP has 127.0.0.2 and its TXT" $?
	dns_is "$(rev $SEEN).$ZONE" A 127.0.0.4
	tap_ok "dig: the seen client $SEEN has 127.0.0.4" $?
	dns_is "$(rev $CONTROL).$ZONE" A "" && dns_is "1.0.0.127.$ZONE" A ""
	tap_ok "dig: the control $CONTROL and 127.0.0.1 are not listed" $?
	dns_is "2.0.0.127.$ZONE" A "127.0.0.2
127.0.0.3
127.0.0.4"
	tap_ok "dig: the RFC 5782 test entry 127.0.0.2 has all three answers" $?
	dns_is "$BOT6_NAME" A 127.0.0.3
	tap_ok "dig: 2001:db8:1::1 in the bot network $BOT6 has 127.0.0.3" $?
	dns_is "$ZONE" NS "ns1.$ZONE." &&
		dig +short "$ZONE" SOA | grep -q "^ns1\.$ZONE\. hostmaster\.$ZONE\. "
	tap_ok "dig: the zone's NS and SOA" $?
	dns_is "$(rev $BOT).$DEFAULT_ZONE" A "" &&
		dns_is "$(rev $BACKUP).$DEFAULT_ZONE" A "" &&
		dns_is "$(rev $SEEN).$DEFAULT_ZONE" A "" &&
		dns_is "2.0.0.127.$DEFAULT_ZONE" A "127.0.0.2
127.0.0.3
127.0.0.4" &&
		[ "$(awk '$1 ~ /^127\./ { print $1 }' "$dir/default.rbldnsd" | sort -u)" = 127.0.0.2/32 ]
	tap_ok "default trusted_networks (127.0.0.0/8): only the test entry 127.0.0.2 is listed under 127/8, and it answers" $? \
		"$dir/default.rbldnsd"
}

# postfix_setup: one Postfix instance in $dir/pf with postscreen on
# 127.0.0.1:POSTSCREEN_PORT (passing to a plain smtpd) and an smtpd with
# reject_rbl_client on 127.0.0.1:RBL_PORT; it relays primary.example
# (nothing is sent: the clients quit after RCPT TO).
postfix_setup() {
	pf_etc=$(postfix_instance list "$dir/pf" "" "")
	# 127.0.0.0/8 is not ours here: postscreen's access list and smtpd
	# would let every client in.
	postconf -c "$pf_etc" -e "mynetworks = 127.0.0.1/32" \
		"relay_domains = primary.example" \
		"postscreen_access_list =" \
		"postscreen_greet_wait = 2s" \
		"postscreen_dnsbl_sites = $ZONE=127.0.0.2*3, $ZONE=127.0.0.3*2, $ZONE=127.0.0.4*1" \
		"postscreen_dnsbl_threshold = 2" \
		"postscreen_dnsbl_action = enforce" ||
		bail "postconf -e failed"
	cat >> "$pf_etc/master.cf" <<EOF
127.0.0.1:$POSTSCREEN_PORT inet n - n - 1 postscreen
smtpd     pass  -       -       n       -       -       smtpd
dnsblog   unix  -       -       n       -       0       dnsblog
tlsproxy  unix  -       -       n       -       0       tlsproxy
127.0.0.1:$RBL_PORT inet n - n - - smtpd
  -o { smtpd_client_restrictions = reject_rbl_client $ZONE=127.0.0.[2..3] }
EOF
	postfix_start "$pf_etc"
	wait_listen 127.0.0.1 $POSTSCREEN_PORT 10 && wait_listen 127.0.0.1 $RBL_PORT 10 ||
		bail "Postfix does not listen on 127.0.0.1:$POSTSCREEN_PORT and :$RBL_PORT"
}

# smtp_client PORT ADDR: swaks from ADDR to 127.0.0.1:PORT as far as
# RCPT TO, in the background; its output in $dir/swaks-PORT-ADDR.out.
smtp_client() {
	swaks --server 127.0.0.1:"$1" --local-interface "$2" \
		--helo "client${2##*.}.example" --from "s${2##*.}@sender.example" \
		--to rcpt@primary.example --quit-after RCPT --timeout 15 \
		> "$dir/swaks-$1-$2.out" 2>&1 &
	swaks_pids="$swaks_pids $!"
}

# smtp_round PORT: the four clients at once, waited for.
smtp_round() {
	swaks_pids=
	for _a in $BOT $BACKUP $SEEN $CONTROL; do
		smtp_client "$1" "$_a"
	done
	# shellcheck disable=SC2086
	wait $swaks_pids
}

# accepted PORT ADDR: ADDR's RCPT TO got 250.
accepted() {
	grep -q "^<- *250 2\.1\.5 " "$dir/swaks-$1-$2.out"
}

# check_postscreen
check_postscreen() {
	smtp_round $POSTSCREEN_PORT
	for _c in "$BOT 2" "$BACKUP 3"; do
		# shellcheck disable=SC2086
		set -- $_c
		_o=$dir/swaks-$POSTSCREEN_PORT-$1.out
		mta_at_rcpt "$_o" 550 5.7.1 &&
			grep -q "<\*\* 550 5\.7\.1 Service unavailable; client \[$1\] blocked using $ZONE\$" "$_o" &&
			grep -q "postscreen\[[0-9]*\]: DNSBL rank $2 for \[$1\]:" "$dir/pf/maillog"
		tap_ok "postscreen: $1 (rank $2) gets 550 5.7.1 ... blocked using $ZONE at RCPT TO" $? \
			"$_o" "$dir/pf/maillog"
		grep -m 1 "<\*\* 550" "$_o" | sed 's/^/# /'
	done
	accepted $POSTSCREEN_PORT $SEEN &&
		grep -q "dnsblog\[[0-9]*\]: addr $SEEN listed by domain $ZONE as 127\.0\.0\.4\$" "$dir/pf/maillog" &&
		grep -q "postscreen\[[0-9]*\]: PASS NEW \[$SEEN\]:" "$dir/pf/maillog"
	tap_ok "postscreen: the seen client $SEEN, found as 127.0.0.4 (weight 1, threshold 2), passes to smtpd" $? \
		"$dir/swaks-$POSTSCREEN_PORT-$SEEN.out" "$dir/pf/maillog"
	accepted $POSTSCREEN_PORT $CONTROL &&
		grep -q "postscreen\[[0-9]*\]: PASS NEW \[$CONTROL\]:" "$dir/pf/maillog"
	tap_ok "postscreen: the control $CONTROL passes to smtpd" $? \
		"$dir/swaks-$POSTSCREEN_PORT-$CONTROL.out" "$dir/pf/maillog"
}

# check_reject_rbl
check_reject_rbl() {
	smtp_round $RBL_PORT
	for _c in "$BOT bot $t_bot" "$BACKUP backup-first $t_backup"; do
		# shellcheck disable=SC2086
		set -- $_c
		_o=$dir/swaks-$RBL_PORT-$1.out
		mta_at_rcpt "$_o" 554 5.7.1 &&
			grep -q "<\*\* 554 5\.7\.1 Service unavailable; Client host \[$1\] blocked using $ZONE; $(txt "$2" "$3")\$" "$_o"
		tap_ok "reject_rbl_client: $1 gets 554 5.7.1 with the TXT \"$2; first=...\"" $? \
			"$_o" "$dir/pf/maillog"
		grep -m 1 "<\*\* 554" "$_o" | sed 's/^/# /'
	done
	accepted $RBL_PORT $SEEN
	tap_ok "reject_rbl_client: =127.0.0.[2..3] lets the seen client $SEEN (127.0.0.4) in" $? \
		"$dir/swaks-$RBL_PORT-$SEEN.out" "$dir/pf/maillog"
	accepted $RBL_PORT $CONTROL
	tap_ok "reject_rbl_client: the control $CONTROL is accepted" $? \
		"$dir/swaks-$RBL_PORT-$CONTROL.out" "$dir/pf/maillog"
}

# exim_run: Exim in host-checking mode for each client, in its own UTS
# and mount namespaces (its Debian-exim user; the resolv.conf of
# mta_etc names 127.0.0.1 too); its replies in $dir/exim-ADDR.out.
exim_run() {
	mkdir -p "$dir/exim/spool" "$dir/exim/log"
	chown $EXIM_UID:$EXIM_GID "$dir/exim/spool" "$dir/exim/log"
	cat > "$dir/exim/exim.conf" <<EOF
exim_path = $exim
keep_environment = LD_LIBRARY_PATH
primary_hostname = $EXIM_HOST
spool_directory = $dir/exim/spool
log_file_path = $dir/exim/log/%slog
host_lookup =
rfc1413_hosts =
daemon_smtp_ports =
tls_advertise_hosts =
acl_smtp_rcpt = rcpt

begin acl
rcpt:
  warn    dnslists = $ZONE=127.0.0.4
          log_message = seen by the tar pit: \$dnslist_text
  deny    dnslists = $ZONE=127.0.0.2,127.0.0.3
          message = \$sender_host_address listed by \$dnslist_domain (\$dnslist_value): \$dnslist_text
  accept
EOF
	mta_etc "$dir/etc" $EXIM_HOST 127.0.0.1 Debian-exim:$EXIM_UID:$EXIM_GID
	: > "$dir/exim/run.sh"
	for _a in $BOT $BACKUP $SEEN $CONTROL; do
		printf 'EHLO client%s.example\r\nMAIL FROM:<s%s@sender.example>\r\nRCPT TO:<rcpt@primary.example>\r\nQUIT\r\n' \
			"${_a##*.}" "${_a##*.}" > "$dir/exim/in-$_a"
		echo "\"$exim\" -C \"$dir/exim/exim.conf\" -bh $_a < \"$dir/exim/in-$_a\" > \"$dir/exim-$_a.out\" 2>&1" \
			>> "$dir/exim/run.sh"
	done
	mta_start exim $EXIM_HOST "$dir/etc" -e LD_LIBRARY_PATH="$mta_libpath" \
		-- sh "$dir/exim/run.sh"
	wait_for 20 exim_gone || bail "Exim -bh did not finish within 20 s"
}
exim_gone() {
	[ -z "$(mta_ns_pids exim)" ]
}

# check_exim
check_exim() {
	exim_run
	for _c in "$BOT 127.0.0.3 bot $t_bot" "$BACKUP 127.0.0.2 backup-first $t_backup"; do
		# shellcheck disable=SC2086
		set -- $_c
		_o=$dir/exim-$1.out
		# Exim splits the long reply; its log line has it whole.
		grep -q "^550[ -]$1 listed by $ZONE ($2):" "$_o" &&
			grep -q "^LOG: .* rejected RCPT <rcpt@primary\.example>: $1 listed by $ZONE ($2): $(txt "$3" "$4")\$" "$_o"
		tap_ok "Exim dnslists: $1 refused, \$dnslist_value $2, \$dnslist_text \"$3; ...\"" $? "$_o"
		grep -m 1 "^LOG: .* rejected RCPT" "$_o" | sed 's/^/# /'
	done
	_o=$dir/exim-$SEEN.out
	grep -q "^250 Accepted" "$_o" &&
		grep -q "seen by the tar pit: $(txt seen "$t_seen")" "$_o"
	tap_ok "Exim dnslists: the seen client $SEEN is accepted, the warn logs its TXT" $? "$_o"
	_o=$dir/exim-$CONTROL.out
	grep -q "^250 Accepted" "$_o" && ! grep -q "seen by the tar pit" "$_o"
	tap_ok "Exim dnslists: the control $CONTROL is accepted, nothing logged" $? "$_o"
}

# check_reload: the list follows the store: forget the bot, export
# again (over the served file), SIGHUP rbldnsd: the bot is gone, the
# backup-first client still listed.
check_reload() {
	"$ctl" -c "$dir/slowspam.conf" forget $BOT > "$dir/forget.out" 2>&1 ||
		bail "slowspamctl forget $BOT failed"
	write_list "$dir/slowspam.conf" "$dir/list.rbldnsd"
	kill -HUP "$rbldnsd_pid"
	wait_for 5 dns_is "$(rev $BOT).$ZONE" A "" > /dev/null
	dns_is "$(rev $BOT).$ZONE" A "" &&
		dns_is "$(rev $BACKUP).$ZONE" A 127.0.0.2
	tap_ok "forget $BOT, export again, SIGHUP: rbldnsd no longer lists it, still lists $BACKUP" $? \
		"$dir/forget.out" "$dir/list.rbldnsd" "$rbldnsd_log"
}

# inside DIR EXIM LIBPATH T_NOW: the checks, in the new namespaces.
inside() {
	dir=$1 exim=$2 mta_libpath=$3 t_now=$4
	t_backup=$((t_now - 600000))
	t_bot=$((t_now - 7200000))
	t_seen=$((t_now - 10800000))
	trap 'lib_cleanup' EXIT
	trap 'echo "Bail out! interrupted"; exit 1' HUP INT TERM
	trap 'exit 1' PIPE
	bail_logs="$rbldnsd_log $dir/pf/maillog $dir/pf/*.out $dir/*.out"
	# shellcheck source=tests/lib_mta.sh
	. "$top_srcdir/tests/lib_mta.sh"
	ip link set lo up || bail "ip link set lo up failed"
	printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' > "$dir/resolv.conf"
	mount --bind "$dir/resolv.conf" /etc/resolv.conf ||
		bail "cannot bind-mount $dir/resolv.conf over /etc/resolv.conf"
	# rbldnsd's own reread interval: the reload check must need SIGHUP.
	rbldnsd_opts=
	rbldnsd_start $ZONE "$dir/list.rbldnsd" 127.0.0.1 53 \
		$DEFAULT_ZONE "$dir/default.rbldnsd"
	tap_plan 21
	t1=$(now)
	check_dns
	t2=$(now)
	postfix_setup
	t3=$(now)
	check_postscreen
	t4=$(now)
	check_reject_rbl
	t5=$(now)
	check_exim
	t6=$(now)
	check_reload
	awk -v a="$t1" -v b="$t2" -v c="$t3" -v d="$t4" -v e="$t5" -v f="$t6" 'BEGIN {
		printf "# dig %.1f s, Postfix start %.1f s, postscreen %.1f s, reject_rbl_client %.1f s, Exim %.1f s\n",
		    b - a, c - b, d - c, e - d, f - e
	}'
	tap_done
}

if [ "${1:-}" = --inside ]; then
	shift
	inside "$@"
fi

[ "$(id -u)" -eq 0 ] ||
	tap_skip "needs root for network namespaces and a private Postfix"
need_cmds unshare ip mount rbldnsd dig postfix postconf swaks python3 \
	dpkg-deb apt-get hostname
id rbldns >/dev/null 2>&1 || tap_skip "no rbldns user (the rbldnsd package makes it)"
for prog in "$ctl" "$storetool"; do
	[ -x "$prog" ] || bail "no $prog (build first)"
done
unshare -n -m true 2>/dev/null ||
	tap_skip "cannot make network and mount namespaces (unshare -n -m)"

make_dir listc
# shellcheck source=tests/lib_mta.sh
. "$top_srcdir/tests/lib_mta.sh"
# The packages of test_exim.sh: one cached prefix for both.
mta_fetch exim exim4-base exim4-daemon-light libidn12
exim=$mta_prefix/usr/sbin/exim4
missing=$(mta_missing "$exim")
[ -z "$missing" ] || tap_skip "Exim's libraries are missing: $missing"

t_now=$(date +%s%3N)
t_backup=$((t_now - 600000))
t_bot=$((t_now - 7200000))
t_seen=$((t_now - 10800000))
cat > "$dir/slowspam.conf" <<EOF
[milter]
trusted_networks = 10.255.255.255/32
[list]
seen = yes
ttl = 10m
ns = ns1.$ZONE
hostmaster = hostmaster.$ZONE
[store]
path = $dir/store/hits.lmdb
EOF
fill_store "$dir/store/hits.lmdb" > "$dir/storetool.out"
write_list "$dir/slowspam.conf" "$dir/list.rbldnsd"
grep -v '^trusted_networks' "$dir/slowspam.conf" > "$dir/default.conf"
write_list "$dir/default.conf" "$dir/default.rbldnsd"

# From here on the namespaces' shell owns $dir and cleans up.
trap - EXIT
exec unshare -n -m sh "$0" --inside "$dir" "$exim" "$mta_libpath" "$t_now"
