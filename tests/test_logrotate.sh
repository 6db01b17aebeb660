#!/bin/sh
# test_logrotate.sh - conf-examples/logrotate.slowspam with a real
# logrotate (as root): it rotates as the daemon user ("su", the user and
# group of "create"), since the event log's folder is that user's; a
# root logrotate refuses such a folder when its group may write it, and
# would otherwise work as root in a folder another user controls. The
# copy under test differs from the file only in its path, nobody for
# slowspam, and a postrotate that notes its user instead of reloading
# tarpitd. Prints TAP.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
# shellcheck source=tests/lib.sh
. "$top_srcdir/tests/lib.sh"
need_cmds logrotate gzip
[ "$(id -u)" -eq 0 ] || tap_skip "needs root (logrotate's su)"
make_dir logrotate
example=$top_srcdir/conf-examples/logrotate.slowspam
group=$(id -gn nobody) || tap_skip "no user nobody"

tap_plan 5
# The shipped file: su names the user and group that create gives the
# new file to.
grep -Eq '^[[:space:]]*su slowspam slowspam$' "$example" &&
	grep -Eq '^[[:space:]]*create 0640 slowspam slowspam$' "$example"
tap_ok "su is the user and group of create" $? "$example"

# The event log folder as tarpitd.service's LogsDirectory= makes it, but
# group-writable (LogsDirectoryMode=0770): the daemon user's.
log=$dir/log
mkdir "$log"
chown "nobody:$group" "$log"
chmod 0770 "$log"
sed -e "s|/var/log/slowspam/events.jsonl|$log/events.jsonl|" \
	-e "s/ slowspam slowspam\$/ nobody $group/" \
	-e "s|systemctl reload tarpitd.service.*|id -u > $dir/postrotate.uid|" \
	"$example" > "$dir/logrotate.conf"
logrotate -d -s "$dir/state" "$dir/logrotate.conf" > "$dir/debug.out" 2>&1 &&
	! grep -q '^error' "$dir/debug.out"
tap_ok "logrotate -d accepts it" $? "$dir/debug.out" "$dir/logrotate.conf"

# Rotate twice (-f), as the daily run would on two days.
rotate() {
	printf '{"n":%s}\n' "$1" > "$log/events.jsonl"
	chown "nobody:$group" "$log/events.jsonl"
	logrotate -f -s "$dir/state" "$dir/logrotate.conf" >> "$dir/rotate.out" 2>&1
}
rotate 1 && [ "$(cat "$log/events.jsonl.1")" = '{"n":1}' ] &&
	[ "$(stat -c '%U %a' "$log/events.jsonl")" = "nobody 640" ]
tap_ok "rotates in the user's folder, a new file for the user" $? \
	"$dir/rotate.out"
rotate 2 && [ "$(gzip -dc "$log/events.jsonl.2.gz")" = '{"n":1}' ] &&
	[ "$(stat -c %U "$log/events.jsonl.2.gz")" = nobody ]
tap_ok "compresses as the user (delaycompress: the second time)" $? \
	"$dir/rotate.out"
# postrotate still runs as root: systemctl reload needs it.
[ "$(cat "$dir/postrotate.uid" 2>/dev/null)" = 0 ]
tap_ok "postrotate runs as root" $? "$dir/rotate.out"
tap_done
