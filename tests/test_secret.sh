#!/bin/sh
# test_secret.sh - a configuration that sets [store] redis_password and
# that every user may read (mode 0644) is warned of, naming the file and
# the key and how to fix it, by tarpitd -t, slowspam-milter -t and
# slowspamctl -t (which still pass: exit 0) and by both daemons at start;
# not at 0640, nor without a password (shared/conf.c conf_warn_exposed).
# Prints TAP.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
# shellcheck source=tests/lib.sh
. "$top_srcdir/tests/lib.sh"
tarpitd=$top_builddir/tarpitd/tarpitd
milter=$top_builddir/milter/slowspam-milter
ctl=$top_builddir/slowspamctl/slowspamctl
make_dir secret
bail_logs="$dir/*.log"

port=$(free_port 127.0.0.1) || bail "no free port on 127.0.0.1"
# conf NAME MODE [PASSWORD]: write $dir/NAME.conf with that mode.
conf() {
	cat > "$dir/$1.conf" <<CONF
[tarpitd]
listen = 127.0.0.1:$port
hostname = tarpit.test
user = nobody
[milter]
socket = unix:$dir/$1.sock
grace = 0
[store]
path = $dir/store-$1/hits.lmdb
redis_password = ${3:-}
CONF
	chmod "$2" "$dir/$1.conf"
}
conf open 0644 s3cret
conf closed 0640 s3cret
conf none 0644

# warned FILE CONF: FILE has the warning about CONF.
warned() {
	grep -q "$2: \[store\] redis_password is set, and every user may read the file (mode 0644): chmod 0640 $2" "$1"
}

tap_plan 10
for prog in tarpitd milter ctl; do
	eval "bin=\$$prog"
	"$bin" -c "$dir/open.conf" -t > "$dir/$prog-open.out" 2>&1
	status=$?
	[ "$status" -eq 0 ] && warned "$dir/$prog-open.out" "$dir/open.conf" &&
		grep -q "open.conf: OK" "$dir/$prog-open.out"
	tap_ok "$prog -t: 0644 with a password: warned, still OK (status $status)" \
		$? "$dir/$prog-open.out"
	"$bin" -c "$dir/closed.conf" -t > "$dir/$prog-closed.out" 2>&1 &&
		"$bin" -c "$dir/none.conf" -t >> "$dir/$prog-closed.out" 2>&1 &&
		! grep -q redis_password "$dir/$prog-closed.out"
	tap_ok "$prog -t: 0640, or no password: no warning" $? "$dir/$prog-closed.out"
done

# At start: the daemons say it too (in their log, here stderr).
tarpitd_start "$dir/open.conf" "$dir/tarpitd.log"
warned "$dir/tarpitd.log" "$dir/open.conf"
tap_ok "tarpitd warns at start" $? "$dir/tarpitd.log"
stop_pid "$tarpit_pid"
tarpitd_start "$dir/closed.conf" "$dir/tarpitd-closed.log"
! grep -q redis_password "$dir/tarpitd-closed.log"
tap_ok "tarpitd at start, 0640: no warning" $? "$dir/tarpitd-closed.log"
stop_pid "$tarpit_pid"

"$milter" -f -c "$dir/open.conf" > "$dir/milter.log" 2>&1 &
milter_pid=$!
track_pid "$milter_pid"
wait_for 10 grep -q "slowspam-milter .* on unix:" "$dir/milter.log" ||
	bail "the milter did not start"
warned "$dir/milter.log" "$dir/open.conf"
tap_ok "the milter warns at start" $? "$dir/milter.log"
stop_pid "$milter_pid"

# slowspamctl only checks with -t: its commands stay quiet.
"$ctl" -c "$dir/open.conf" expire > "$dir/ctl-expire.out" 2>&1 &&
	! grep -q redis_password "$dir/ctl-expire.out"
tap_ok "slowspamctl expire: no warning (only -t checks)" $? "$dir/ctl-expire.out"
tap_done
