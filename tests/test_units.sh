#!/bin/sh
# test_units.sh - the systemd units in conf-examples/: systemd-analyze
# verify (offline, ExecStart= pointed at the built programs) has nothing
# to say, the ExecStart= lines are still those scripts/test-deb expects,
# and both set LimitNOFILE= to at least what the daemons need by the
# documented figures: tarpitd, max_clients of the example configuration
# plus its own 64; the milter, two per connection of a Postfix at its
# default_process_limit (100) plus 64, and above systemd's default soft
# limit (1024); the policy server, one per connection of the example's
# [policyd] max_connections plus one per worker (64 at most) plus 64;
# slowspam-list.service is a oneshot as slowspam that only its timer,
# every minute, starts.
# Prints TAP.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
# shellcheck source=tests/lib.sh
. "$top_srcdir/tests/lib.sh"
make_dir units
ex=$top_srcdir/conf-examples

# limit UNIT: the value of its LimitNOFILE= line (empty if none).
limit() {
	sed -n 's/^LimitNOFILE=\([0-9]*\)$/\1/p' "$ex/$1"
}

# The list's unit: the export command, run by the timer every minute.
list_exec='/usr/sbin/slowspamctl -c /etc/slowspam/slowspam.conf export --format rbldnsd -o /var/lib/rbldns/slowspam/slowspam.rbldnsd'

tap_plan 8
if command -v systemd-analyze >/dev/null 2>&1; then
	for u in tarpitd.service tarpitd.socket slowspam-milter.service \
		slowspam-policyd.service slowspam-list.service slowspam-list.timer; do
		sed -e "s|/usr/sbin/tarpitd|$top_builddir/tarpitd/tarpitd|" \
			-e "s|/usr/sbin/slowspamctl|$top_builddir/slowspamctl/slowspamctl|" \
			-e "s|/usr/sbin/slowspam-milter|$top_builddir/milter/slowspam-milter|" \
			-e "s|/usr/sbin/slowspam-policyd|$top_builddir/policyd/slowspam-policyd|" \
			"$ex/$u" > "$dir/$u"
	done
	(cd "$dir" && systemd-analyze verify --man=no ./tarpitd.service \
		./tarpitd.socket ./slowspam-milter.service \
		./slowspam-policyd.service ./slowspam-list.service \
		./slowspam-list.timer) > "$dir/verify.out" 2>&1 &&
		[ ! -s "$dir/verify.out" ]
	tap_ok "systemd-analyze verify: nothing to say" $? "$dir/verify.out"
else
	tap_ok "systemd-analyze verify # SKIP systemd-analyze is not installed" 0
fi
grep -qx 'ExecStart=/usr/sbin/tarpitd -f -c /etc/slowspam/slowspam.conf' \
	"$ex/tarpitd.service" &&
	grep -qx 'ExecStart=/usr/sbin/slowspam-milter -f -c /etc/slowspam/slowspam.conf' \
	"$ex/slowspam-milter.service" &&
	grep -qx 'ExecStart=/usr/sbin/slowspam-policyd -f -c /etc/slowspam/slowspam.conf' \
	"$ex/slowspam-policyd.service" &&
	grep -qx "ExecStart=$list_exec" "$ex/slowspam-list.service"
tap_ok "ExecStart= as scripts/test-deb expects" $?

max_clients=$(sed -n 's/^max_clients = \([0-9]*\)$/\1/p' "$ex/slowspam.conf")
t=$(limit tarpitd.service)
[ -n "$max_clients" ] && [ -n "$t" ] && [ "$t" -ge $((max_clients + 64)) ]
tap_ok "tarpitd.service: LimitNOFILE=$t >= max_clients $max_clients + 64" $? \
	"$ex/tarpitd.service"
m=$(limit slowspam-milter.service)
[ -n "$m" ] && [ "$m" -ge $((2 * 100 + 64)) ] && [ "$m" -gt 1024 ]
tap_ok "slowspam-milter.service: LimitNOFILE=$m >= 2 x 100 + 64, > 1024" $? \
	"$ex/slowspam-milter.service"
max_conn=$(sed -n '/^\[policyd\]/,/^\[/s/^max_connections = \([0-9]*\)$/\1/p' \
	"$ex/slowspam.conf")
p=$(limit slowspam-policyd.service)
[ -n "$max_conn" ] && [ -n "$p" ] && [ "$p" -ge $((max_conn + 64 + 64)) ]
tap_ok "slowspam-policyd.service: LimitNOFILE=$p >= max_connections $max_conn + 64 + 64" \
	$? "$ex/slowspam-policyd.service"
# Each has its reason written above it.
for u in tarpitd.service slowspam-milter.service slowspam-policyd.service; do
	awk '/^LimitNOFILE=/ { found = 1; ok = prev ~ /^#/; exit }
		{ prev = $0 } END { exit !(found && ok) }' "$ex/$u" ||
		echo "$u: no comment above LimitNOFILE="
done > "$dir/comments.out"
[ ! -s "$dir/comments.out" ]
tap_ok "each says why, above LimitNOFILE=" $? "$dir/comments.out"
# Units that share a RuntimeDirectory= keep it at stop, or stopping one
# removes the other's socket with the folder.
for u in tarpitd.service slowspam-milter.service slowspam-policyd.service; do
	grep -q '^RuntimeDirectory=' "$ex/$u" &&
		! grep -qx 'RuntimeDirectoryPreserve=yes' "$ex/$u" &&
		echo "$u: RuntimeDirectory= without RuntimeDirectoryPreserve=yes"
done > "$dir/preserve.out"
[ ! -s "$dir/preserve.out" ]
tap_ok "RuntimeDirectory= is preserved at stop" $? "$dir/preserve.out"
# The list: a oneshot as the store's user, every minute, to the second;
# the timer starts it (its name) and nothing enables the service itself.
grep -qx 'Type=oneshot' "$ex/slowspam-list.service" &&
	grep -qx 'User=slowspam' "$ex/slowspam-list.service" &&
	! grep -q '^\[Install\]' "$ex/slowspam-list.service" &&
	grep -qx 'OnUnitActiveSec=1min' "$ex/slowspam-list.timer" &&
	grep -qx 'AccuracySec=1s' "$ex/slowspam-list.timer" &&
	grep -qx 'WantedBy=timers.target' "$ex/slowspam-list.timer"
tap_ok "slowspam-list: a oneshot as slowspam, its timer every minute (AccuracySec=1s)" $? \
	"$ex/slowspam-list.service" "$ex/slowspam-list.timer"
tap_done
