#!/bin/sh
# test_inherit.sh - descriptors the starter leaves open do not survive into
# tarpitd or slowspam-milter (shared/fds.c, first thing in main), but the
# sockets systemd passes (LISTEN_FDS from fd 3, LISTEN_PID the daemon's)
# still serve. Each daemon starts with a file on fd 7 and a folder on
# fd 9 (as "exec 7<file" in a careless init script would leave them);
# /proc/PID/fd must lead to neither once it runs. Prints TAP.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
# shellcheck source=tests/lib.sh
. "$top_srcdir/tests/lib.sh"
tarpitd=$top_builddir/tarpitd/tarpitd
milter=$top_builddir/milter/slowspam-milter
make_dir inherit
bail_logs="$dir/*.log"
echo "inherited, never to be read" > "$dir/inherited"
mkdir "$dir/secret"

# leaked PID: print each descriptor of PID that leads to the inherited
# file or folder; fail if /proc/PID/fd cannot be read.
leaked() {
	ls "/proc/$1/fd" >/dev/null 2>&1 || { echo "cannot read /proc/$1/fd"; return 1; }
	for _fd in "/proc/$1/fd"/*; do
		_to=$(readlink "$_fd") || continue
		case $_to in
		"$dir/inherited" | "$dir/secret") echo "fd ${_fd##*/} -> $_to" ;;
		esac
	done
}

# no_leak NAME PID LOG: a check that PID holds neither.
no_leak() {
	leaked "$2" > "$dir/leaked.$2" 2>&1 && [ ! -s "$dir/leaked.$2" ]
	tap_ok "$1" $? "$dir/leaked.$2" "$3"
}

tap_plan 6
port=$(free_port 127.0.0.1) || bail "no free port on 127.0.0.1"
cat > "$dir/tarpitd.conf" <<CONF
[tarpitd]
listen = 127.0.0.1:$port
hostname = tarpit.test
greet_wait = 100ms
drip_interval = 200ms
max_hold = 2s
user = nobody
[store]
path = $dir/store/hits.lmdb
CONF

# 1. tarpitd, started from this shell with fds 7 and 9 open.
exec 7<"$dir/inherited" 9<"$dir/secret"
tarpitd_start "$dir/tarpitd.conf" "$dir/tarpitd.log"
exec 7<&- 9<&-
no_leak "tarpitd closes the descriptors it inherits" "$tarpit_pid" "$dir/tarpitd.log"
stop_pid "$tarpit_pid"

# 2. The milter, the same way.
cat > "$dir/milter.conf" <<CONF
[milter]
socket = unix:$dir/milter.sock
grace = 0
[store]
path = $dir/mstore/hits.lmdb
CONF
exec 7<"$dir/inherited" 9<"$dir/secret"
"$milter" -f -c "$dir/milter.conf" > "$dir/milter.log" 2>&1 &
milter_pid=$!
track_pid "$milter_pid"
exec 7<&- 9<&-
wait_for 10 grep -q "slowspam-milter .* on unix:" "$dir/milter.log" ||
	bail "the milter did not start"
no_leak "the milter closes the descriptors it inherits" "$milter_pid" "$dir/milter.log"
stop_pid "$milter_pid"

# 3. Socket activation: a listening socket on fd 3 with LISTEN_FDS=1 and
# LISTEN_PID the daemon's own (python execs it, so the pid stays), the
# inherited file on fd 4 and the folder on fd 5. With "wrong" LISTEN_PID
# is another process's: the socket on fd 3 is then just another
# inherited descriptor, and tarpitd binds [tarpitd] listen itself.
cat > "$dir/activate.py" <<'PY'
import fcntl, os, socket, sys
port, mode, log, inherited, secret = sys.argv[1:6]
cmd = sys.argv[6:]
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(port)))
s.listen(16)
fds = [fcntl.fcntl(s.fileno(), fcntl.F_DUPFD, 20),
       fcntl.fcntl(os.open(inherited, os.O_RDONLY), fcntl.F_DUPFD, 20),
       fcntl.fcntl(os.open(secret, os.O_RDONLY), fcntl.F_DUPFD, 20)]
for i, fd in enumerate(fds):
    os.dup2(fd, 3 + i)
    os.close(fd)
out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
os.dup2(out, 1)
os.dup2(out, 2)
os.environ["LISTEN_PID"] = str(os.getpid() + (1 if mode == "wrong" else 0))
os.environ["LISTEN_FDS"] = "1"
os.execv(cmd[0], cmd)
PY
# teaser PORT: succeed if a client on PORT is greeted "220-tarpit.test".
teaser() {
	python3 - "$1" "$lib_slow" <<'PY'
import socket, sys
want = b"220-tarpit.test"
got = b""
with socket.create_connection(("127.0.0.1", int(sys.argv[1])),
                              timeout=5 * int(sys.argv[2])) as c:
    while len(got) < len(want):
        b = c.recv(len(want) - len(got))
        if not b:
            break
        got += b
sys.exit(0 if got == want else 1)
PY
}
sport=$(free_port 127.0.0.1) || bail "no free port on 127.0.0.1"
: > "$dir/systemd.log"
python3 "$dir/activate.py" "$sport" right "$dir/systemd.log" "$dir/inherited" \
	"$dir/secret" "$tarpitd" -f -c "$dir/tarpitd.conf" &
tarpit_pid=$!
track_pid "$tarpit_pid"
wait_for 10 grep -q "serving 1 socket" "$dir/systemd.log" ||
	bail "tarpitd did not start with LISTEN_FDS"
# fd 3 is still the socket systemd passed, and it serves.
fd3=$(readlink "/proc/$tarpit_pid/fd/3")
case $fd3 in socket:*) teaser "$sport" ;; *) false ;; esac
tap_ok "LISTEN_FDS: the passed socket (fd 3) stays and serves (fd 3: $fd3)" $? \
	"$dir/systemd.log"
no_leak "LISTEN_FDS: the other inherited descriptors are closed" "$tarpit_pid" \
	"$dir/systemd.log"
stop_pid "$tarpit_pid"

: > "$dir/wrong.log"
python3 "$dir/activate.py" "$sport" wrong "$dir/wrong.log" "$dir/inherited" \
	"$dir/secret" "$tarpitd" -f -c "$dir/tarpitd.conf" &
tarpit_pid=$!
track_pid "$tarpit_pid"
wait_for 10 grep -q "serving 1 socket" "$dir/wrong.log" ||
	bail "tarpitd did not start with another LISTEN_PID"
# The inherited socket is closed: nothing listens on sport any more.
! wait_listen 127.0.0.1 "$sport" 0 && teaser "$port"
tap_ok "another process's LISTEN_PID: its socket closed, listen bound" $? \
	"$dir/wrong.log"
no_leak "another process's LISTEN_PID: the other descriptors closed" \
	"$tarpit_pid" "$dir/wrong.log"
stop_pid "$tarpit_pid"
tap_done
