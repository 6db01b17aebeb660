# shellcheck shell=sh
# tests/lib_mta.sh - what the tests with a real MTA from Debian's packages
# share. POSIX sh (run by dash). Sourced after tests/lib.sh and make_dir:
#     . "$top_srcdir/tests/lib.sh"; make_dir NAME; . "$top_srcdir/tests/lib_mta.sh"
#
#   packages    mta_fetch NAME PKG... (sets mta_prefix, mta_libpath),
#               mta_missing BIN (the libraries BIN lacks)
#   primary     mta_primary ADDR (a Postfix primary: primary_port,
#               primary_maildir)
#   namespaces  mta_etc ETC HOSTNAME ADDR [USER:UID:GID...],
#               mta_start NAME HOSTNAME ETC [OPTION...] -- CMD...,
#               mta_ns_pids NAME, mta_ns_kill NAME
#   tar pit     tarpit_record CONF ADDR, tarpit_evidence CONF ADDR,
#               tarpit_meet SERVER:PORT CONF LOG ADDR OUT
#   messages    mta_header FILE NAME, mta_header_count FILE NAME,
#               mta_at_rcpt OUT CODE XCODE (swaks' RCPT TO reply)
#   policyd     policyd_start LOG ARG..., policyd_stop; the cases
#               policy_setup CONF ADDR:PORT, policy_control N, policy_tagged N,
#               policy_refused N ACTION CODE XCODE
#
# Exim, OpenSMTPD and Sendmail conflict with Postfix (all are
# mail-transport-agent), so they are never installed: their packages are
# unpacked into a private prefix and run in their own UTS and mount
# namespaces, with private /etc files bind-mounted over the machine's.
# This file sets on_cleanup to mta_cleanup; a script that redefines
# on_cleanup calls mta_cleanup from it.

# $dir and $top_builddir come from the script and lib.sh; the variables
# set here are for the script.
# shellcheck disable=SC2154,SC2034

mta_fetching=	# a half-made prefix, removed when cleaning up
mta_names=	# mta_start NAMEs, whose namespaces are emptied when cleaning up

# mta_cleanup: kill what is left in every namespace mta_start made, and
# remove a half-made prefix.
mta_cleanup() {
	for _mn in $mta_names; do
		mta_ns_kill "$_mn"
	done
	[ -z "$mta_fetching" ] || rm -rf "$mta_fetching"
}

on_cleanup() {
	mta_cleanup
}

# --- packages

# mta_fetch NAME PKG...: make sure Debian's packages PKG... (their
# current versions: "apt-get download", so never installed) are unpacked
# into a private prefix, and set mta_prefix to it and mta_libpath to the
# folders in it that hold shared libraries (for LD_LIBRARY_PATH). Skips
# the script if they cannot be fetched.
# The prefix is cached in ${TMPDIR:-/tmp}/slowspam-NAME-cache-UID (mode
# 711), used only if it is ours and nobody else can write to it (root
# runs what is in there); otherwise the prefix is made in $dir. Its name
# is a checksum of the package list, so a changed list makes a new one;
# prefixes not used for a day are removed (not at once: another test may
# share NAME with another list and run now).
# A word A,B names alternatives: the first one apt knows is fetched
# (Debian 13 renamed libraries for 64-bit time: libevent-2.1-7t64).
# Everything set-uid or set-gid loses that bit: the loader would ignore
# LD_LIBRARY_PATH, and these copies run as root in tests only.
mta_fetch() {
	_name=$1
	shift
	_words=
	for _w in "$@"; do
		_words="$_words $(mta_pick "$_w")"
	done
	# shellcheck disable=SC2086 # the words are package names
	set -- $_words
	_cache=${TMPDIR:-/tmp}/slowspam-$_name-cache-$(id -u)
	[ -e "$_cache" ] || mkdir -m 711 "$_cache" 2>/dev/null
	if [ ! -d "$_cache" ] || [ -L "$_cache" ] ||
		[ "$(stat -c %u "$_cache")" != "$(id -u)" ]; then
		_cache=$dir/cache-$_name
		mkdir -m 711 "$_cache" || exit 1
	fi
	case $(stat -c %a "$_cache") in
	# 711: an MTA that drops to its own user re-executes itself from
	# there (Exim as Debian-exim).
	700 | 711) chmod 711 "$_cache" ;;
	*) _cache=$dir/cache-$_name; mkdir -m 711 "$_cache" || exit 1 ;;
	esac
	# "1": how the prefix is made; bump it when that changes.
	_sum=$(echo "1 $*" | cksum | cut -d' ' -f1)
	mta_prefix=$_cache/prefix-$_sum
	if [ ! -f "$mta_prefix/.complete" ]; then
		mta_fetching=$(mktemp -d "$_cache/fetch-XXXXXX") || exit 1
		if ! (cd "$mta_fetching" && apt-get download "$@") \
			> "$dir/apt-$_name.out" 2>&1; then
			# A fresh machine may have no package lists yet.
			apt-get update > "$dir/apt-update.out" 2>&1
			if ! (cd "$mta_fetching" && apt-get download "$@") \
				> "$dir/apt-$_name.out" 2>&1; then
				tap_skip "cannot fetch $* ($(tail -n 1 "$dir/apt-$_name.out"))"
			fi
		fi
		mkdir -m 755 "$mta_fetching/prefix"
		for _deb in "$mta_fetching"/*.deb; do
			dpkg-deb -x "$_deb" "$mta_fetching/prefix" ||
				bail "dpkg-deb -x $_deb failed"
		done
		find "$mta_fetching/prefix" -type f -perm /6000 \
			-exec chmod u-s,g-s {} + || bail "chmod u-s,g-s failed"
		touch "$mta_fetching/prefix/.complete" "$mta_fetching/prefix/.used"
		# Another run may have won the race: then its prefix is as good.
		mv -T "$mta_fetching/prefix" "$mta_prefix" 2>/dev/null
		rm -rf "$mta_fetching"
		mta_fetching=
		[ -f "$mta_prefix/.complete" ] ||
			bail "could not unpack $* into $mta_prefix"
	fi
	touch "$mta_prefix/.used"
	for _old in "$_cache"/prefix*; do
		[ "$_old" != "$mta_prefix" ] || continue
		# Older ones have no .used: gone at once.
		[ -n "$(find "$_old/.used" -mmin -1440 2>/dev/null)" ] || rm -rf "$_old"
	done
	mta_libpath=$(find "$mta_prefix" -name '*.so*' \( -type f -o -type l \) |
		sed 's,/[^/]*$,,' | sort -u | paste -sd: -)
}

# mta_pick A,B...: the first of the alternative packages apt knows (the
# last one if it knows none: its download then says what is missing).
mta_pick() {
	_alts=$1
	while :; do
		_alt=${_alts%%,*}
		[ "$_alt" = "$_alts" ] && break
		apt-cache show "$_alt" > /dev/null 2>&1 && break
		_alts=${_alts#*,}
	done
	echo "$_alt"
}

# mta_missing BIN: print the shared libraries BIN cannot find with
# mta_libpath (space-separated; nothing if none is missing).
mta_missing() {
	LD_LIBRARY_PATH=$mta_libpath"${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
		ldd "$1" 2>&1 | awk '/not found/ { printf "%s ", $1 }'
}

# --- the tar pit

# mta_tarpit DIR ADDR PORT MAX_HOLD [IMPATIENT_BEFORE]: start tarpitd on
# ADDR:PORT as a sender's first hop (greet_wait and drip_interval 1s),
# its configuration, log and store in DIR (DIR/tarpitd.conf, .log).
mta_tarpit() {
	cat > "$1/tarpitd.conf" <<EOF
[tarpitd]
listen = $2:$3
hostname = tarpit.test
greet_wait = 1s
drip_interval = 1s
max_hold = $4
${5:+impatient_before = $5}
user = nobody
[store]
path = $1/store/hits.lmdb
EOF
	tarpitd_start "$1/tarpitd.conf" "$1/tarpitd.log"
}

# --- the log

# mta_log_socket DEV FILE: make the folder DEV (a private /dev) with a
# datagram socket "log" whose messages (syslog(3)'s) are appended to
# FILE, one a line; bail unless it appears within 10 s.
mta_log_socket() {
	mkdir -m 755 "$1"
	: > "$2"
	python3 - "$1/log" "$2" > "$2.reader.out" 2>&1 <<'EOF' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
with open(sys.argv[2], "ab", 0) as out:
    while True:
        out.write(s.recv(65536).rstrip(b"\0\n") + b"\n")
EOF
	track_pid $!
	wait_for 10 test -S "$1/log" || bail "the log socket $1/log did not appear"
}

# --- the primary

# mta_primary ADDR [ALSO]: configure and start a real Postfix primary
# (lib.sh's postfix_instance, in $dir/primary) that listens on ADDR and
# delivers mail for rcpt@primary.example to a Maildir as 65534 (virtual(8)
# refuses root); bail unless it listens within 10 s. Sets primary_port,
# free on ALSO too (for a sender that uses one port for every host), and
# primary_maildir (look into it with maildir_find).
# $mta_primary_cf, if set, is appended to its main.cf (smtpd_milters...).
mta_primary() {
	primary_port=$(free_port "$@") || bail "no free port on $*"
	mkdir -p "$dir/primary/mail"
	chown 65534:65534 "$dir/primary/mail"
	printf 'rcpt@primary.example primary/\n' > "$dir/primary/vmailbox"
	_etc=$(postfix_instance primary "$dir/primary" "$1" "$primary_port")
	cat >> "$_etc/main.cf" <<EOF
virtual_mailbox_domains = primary.example
virtual_mailbox_base = $dir/primary/mail
virtual_mailbox_maps = texthash:$dir/primary/vmailbox
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
${mta_primary_cf:-}
EOF
	postfix_start "$_etc"
	wait_listen "$1" "$primary_port" 10 ||
		bail "the primary Postfix does not listen on $1:$primary_port"
	primary_maildir=$dir/primary/mail/primary
}

# --- namespaces

# mta_etc ETC HOSTNAME ADDR [USER:UID:GID...]: write private /etc files
# into the folder ETC for mta_start: hosts (localhost, and HOSTNAME and
# its first label at ADDR), nsswitch.conf (files only: no DNS, no LDAP),
# resolv.conf (127.0.0.1, where nothing answers: any DNS query fails
# within a second), passwd and group (root, daemon, mail, nobody, and
# each USER with a group of its name unless GID is there already). Add
# to them (other groups, more files) before mta_start.
mta_etc() {
	_etc=$1
	mkdir -p "$_etc"
	printf '127.0.0.1\tlocalhost\n%s\t%s %s\n' "$3" "$2" "${2%%.*}" > "$_etc/hosts"
	cat > "$_etc/nsswitch.conf" <<EOF
passwd: files
group: files
shadow: files
hosts: files
networks: files
services: files
protocols: files
EOF
	printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' > "$_etc/resolv.conf"
	cat > "$_etc/passwd" <<EOF
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
mail:x:8:8:mail:/var/mail:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
	cat > "$_etc/group" <<EOF
root:x:0:
daemon:x:1:
mail:x:8:
nogroup:x:65534:
EOF
	shift 3
	for _u in "$@"; do
		_uname=${_u%%:*}
		_ugid=${_u##*:}
		_uuid=${_u#*:}
		_uuid=${_uuid%:*}
		echo "$_uname:x:$_uuid:$_ugid:$_uname:/nonexistent:/usr/sbin/nologin" >> "$_etc/passwd"
		cut -d: -f3 "$_etc/group" | grep -qx "$_ugid" ||
			echo "$_uname:x:$_ugid:" >> "$_etc/group"
	done
}

# mta_start NAME HOSTNAME ETC [OPTION...] -- CMD...: start CMD in the
# background in new UTS and mount namespaces, with HOSTNAME (dotted:
# Sendmail sleeps a minute at start for a bare one) and every file of
# the folder ETC bind-mounted over /etc's; stdout and stderr to
# $dir/NAME.out. Sets mta_pid (tracked). Everything left in the mount
# namespace is killed when cleaning up (mta_ns_kill NAME). OPTIONs:
#   -e VAR=VALUE  in CMD's environment (e.g. LD_LIBRARY_PATH=$mta_libpath)
#   -b SRC DST    bind-mount SRC over DST as well
#   -i FILE       CMD's standard input (else /dev/null)
#   -d            a private /dev (null, zero, random, urandom) whose "log"
#                 is a datagram socket read into $dir/NAME.syslog: there
#                 is no syslog daemon here
# No spaces in ETC, SRC, DST or VALUE (they are split on spaces). Bails
# if the namespace does not come up within 10 s.
mta_start() {
	_name=$1 _host=$2 _etc=$3
	shift 3
	_env='' _binds='' _in=/dev/null _dev=''
	while [ $# -gt 0 ]; do
		case $1 in
		-e) _env="$_env $2"; shift 2 ;;
		-b) _binds="$_binds $2 $3"; shift 3 ;;
		-i) _in=$2; shift 2 ;;
		-d) _dev=$dir/$_name-dev; shift ;;
		--) shift; break ;;
		*) bail "mta_start: unknown option $1" ;;
		esac
	done
	if [ -n "$_dev" ]; then
		mta_log_socket "$_dev" "$dir/$_name.syslog"
	fi
	mta_ns_kill "$_name"	# a namespace of this name before
	mta_names="$mta_names $_name"
	# The inner script writes its namespace's name before it runs CMD:
	# CMD may be gone by the time its children are to be found.
	# shellcheck disable=SC2016,SC2086
	unshare --uts --mount sh -c '
		set -e
		host=$1 etc=$2 dev=$3 binds=$4 ns=$5
		shift 5
		hostname "$host"
		for f in "$etc"/*; do
			mount --bind "$f" "/etc/${f##*/}"
		done
		set -- $binds "$@"
		while [ "$1" != -- ]; do
			mount --bind "$1" "$2"
			shift 2
		done
		shift
		if [ -n "$dev" ]; then
			for n in null zero random urandom; do
				: > "$dev/$n"
				mount --bind "/dev/$n" "$dev/$n"
			done
			mount --bind "$dev" /dev
		fi
		# The holder keeps the namespace, so its name, while it is
		# ours (see mta_ns_pids).
		sleep 3600 < /dev/null > /dev/null 2>&1 &
		echo $! > "$ns.holder"
		readlink /proc/self/ns/mnt > "$ns.tmp"
		mv "$ns.tmp" "$ns"
		exec env "$@"
	' sh "$_host" "$_etc" "$_dev" "$_binds --" "$dir/$_name.ns" $_env "$@" \
		< "$_in" > "$dir/$_name.out" 2>&1 &
	mta_pid=$!
	track_pid "$mta_pid"
	wait_for 10 test -s "$dir/$_name.ns" ||
		bail "$_name: no namespace (see $dir/$_name.out)"
}

# mta_ns_pids NAME: print the PIDs of the processes in the mount
# namespace of mta_start NAME, but its holder (none once it is empty;
# zombies have none). A namespace's name ("mnt:[N]") is reused by the
# next namespace made once it is gone, with the tests running side by
# side: another test's. So the holder process, in it from the start,
# keeps it; without its holder there, it is not ours and has no PIDs.
mta_ns_pids() {
	mta_ns_held "$1" || return 0
	for _p in /proc/[0-9]*; do
		[ "${_p#/proc/}" != "$_holder" ] &&
			[ "$(readlink "$_p/ns/mnt" 2>/dev/null)" = "$_ns" ] &&
			echo "${_p#/proc/}"
	done
	return 0
}

# mta_ns_held NAME: succeed while the holder of mta_start NAME's
# namespace is in it; sets _ns and _holder.
mta_ns_held() {
	[ -s "$dir/$1.ns" ] && [ -s "$dir/$1.ns.holder" ] || return 1
	_ns=$(cat "$dir/$1.ns") _holder=$(cat "$dir/$1.ns.holder")
	[ "$(readlink "/proc/$_holder/ns/mnt" 2>/dev/null)" = "$_ns" ]
}

# mta_ns_kill NAME: stop every process in the mount namespace of
# mta_start NAME (SIGTERM, then SIGKILL after 3 s): MTAs' delivery
# children outlive their parent's SIGTERM.
mta_ns_kill() {
	_pids=$(mta_ns_pids "$1")
	if [ -n "$_pids" ]; then
		# shellcheck disable=SC2086
		kill $_pids 2>/dev/null
		_t=0
		while [ -n "$(mta_ns_pids "$1")" ] && [ $_t -lt 30 ]; do
			sleep 0.1
			_t=$((_t + 1))
		done
		_pids=$(mta_ns_pids "$1")
		# shellcheck disable=SC2086
		[ -z "$_pids" ] || kill -9 $_pids 2>/dev/null
	fi
	# The holder last, once: after it the name may be anyone's.
	mta_ns_held "$1" && kill -9 "$_holder" 2>/dev/null
	rm -f "$dir/$1.ns" "$dir/$1.ns.holder"
	return 0
}

# --- the tar pit's records

# tarpit_record CONF ADDR: print the tar pit's record of ADDR's network
# as JSON (slowspamctl lookup --json, $ctl or the build tree's); fail if
# there is none (the store is written shortly after a session ends: use
# wait_for).
tarpit_record() {
	"${ctl:-$top_builddir/slowspamctl/slowspamctl}" -c "$1" lookup --json "$2" 2>/dev/null
}

# tarpit_evidence CONF ADDR: print the evidence flags of the tar pit's
# record of ADDR's network, comma-separated, or "-" for none; fail if
# there is no record.
tarpit_evidence() {
	_rec=$(tarpit_record "$1" "$2") || return 1
	printf '%s\n' "$_rec" | python3 -c '
import json, sys
print(",".join(json.load(sys.stdin)["evidence"]) or "-")'
}

# --- a client at the tar pit, then at the primary

# tarpit_meet SERVER:PORT CONF LOG ADDR OUT: swaks from ADDR meets the
# tar pit at SERVER:PORT (held, then 421; swaks' output in OUT), saying
# HELO clientN.example (N: ADDR's last number); succeed once the tar
# pit logged the session in LOG (tarpitd_start's) and its record is in
# the store of CONF, within 5 s.
tarpit_meet() {
	swaks --server "$1" --local-interface "$4" --quit-after EHLO \
		--helo "client${4##*.}.example" --timeout 5 > "$5" 2>&1
	wait_for 5 lib_mta_recorded "$2" "$3" "$4"
}
lib_mta_recorded() {
	grep -q "session client=$3 " "$2" &&
		tarpit_record "$1" "$3" | grep -q '"tarpit_sessions":[1-9]'
}

# --- what a message or a client was told

# mta_header FILE NAME: the unfolded values of the header NAME of the
# message in FILE, one a line (none if it has none).
mta_header() {
	awk -v want="$2" '
	/^$/ { exit }
	/^[ \t]/ { if (cur != "") cur = cur $0; next }
	{ if (cur != "") print cur; cur = "" }
	tolower(substr($0, 1, length(want) + 1)) == tolower(want ":") {
		cur = substr($0, length(want) + 2); sub(/^[ \t]+/, "", cur)
	}
	END { if (cur != "") print cur }' "$1"
}

# mta_header_count FILE NAME: how many header fields NAME it has.
mta_header_count() {
	mta_header "$1" "$2" | wc -l | tr -d ' '
}

# mta_at_rcpt OUT CODE XCODE: in swaks' output OUT, the reply to the
# (first) RCPT TO began "CODE XCODE" ("CODE-XCODE" when it has several
# lines: Exim splits long ones), and no message was accepted (no 250
# naming a queue ID: Postfix's "queued as", Exim's "id=").
mta_at_rcpt() {
	awk -v code="$2" -v xcode="$3" '
	/ -> RCPT TO:/ { rcpt = 1; next }
	rcpt && /<[*~]* / {
		sub(/^.*<[*~]* /, "")
		ok = index($0, code) == 1 && index($0, xcode " ") == 5 &&
		    substr($0, 4, 1) ~ /[- ]/
		exit
	}
	END { exit !ok }' "$1" &&
		! grep -Eq "^ *<[~]* 250 .*(queued as|id=)" "$1"
}

# --- slowspam-policyd

policyd_pid=	# the one policyd_start started, until policyd_stop

# policyd_start LOG ARG...: start $policyd -f ARG... (the script sets
# policyd), stdout and stderr to LOG, tracked; stop the one started
# before, if any. Bail unless it says it serves within 10 s (its notice
# "slowspam-policyd VERSION on SOCKET, ...", logged once it listens).
policyd_start() {
	policyd_stop
	_plog=$1
	shift
	# shellcheck disable=SC2154
	"$policyd" -f "$@" > "$_plog" 2>&1 &
	policyd_pid=$!
	track_pid "$policyd_pid"
	wait_for 10 lib_mta_policyd_up "$_plog" ||
		bail "slowspam-policyd did not start ($_plog)"
}
lib_mta_policyd_up() {
	kill -0 "$policyd_pid" 2>/dev/null ||
		bail "slowspam-policyd did not start ($1)"
	grep -q "slowspam-policyd .* on [a-z]*:" "$1"
}

# policyd_stop: stop the policy server policyd_start started, if any.
policyd_stop() {
	[ -z "$policyd_pid" ] || stop_pid "$policyd_pid"
	policyd_pid=
}

# --- cases of the tests of slowspam-policyd behind a real MTA
# They call the script's start_policyd ACTION, tarpit_hit N (127.0.0.N
# meets the tar pit), send N TOKEN [TO...] (a message from
# sN@sender.example at 127.0.0.N, to rcpt@primary.example or the
# comma-separated TO) and find_in BOX TOKEN (wait for it in the Maildir
# BOX, print its file), and use $tok, $policyd_log and $mta_log (the
# MTA's log, shown when a case fails). Each prints one TAP line.

# policy_setup CONF ADDR:PORT: write CONF, one slowspam.conf for a tar
# pit on ADDR:PORT (greet_wait and drip_interval 200ms, max_hold 1s)
# and the policy server (action tag, divert_to trap@primary.example,
# SPF on, nothing trusted: all test traffic is 127.x; authserv-id
# primary.test), the store in $dir/store (tarpitd makes the folder,
# owned by nobody; the policy server opens it as root); and the SPF
# zone $dir/zone (--spf-zone), which passes sender.example for
# 127.0.0.0/8.
policy_setup() {
	cat > "$1" <<EOF
[tarpitd]
listen = $2
hostname = tarpit.test
greet_wait = 200ms
drip_interval = 200ms
max_hold = 1s
user = nobody
[milter]
action = tag
divert_to = trap@primary.example
trusted_networks =
spf = yes
grace = 0
authserv_id = primary.test
[store]
path = $dir/store/hits.lmdb
EOF
	printf 'sender.example TXT v=spf1 ip4:127.0.0.0/8 -all\n' > "$dir/zone"
}

# policy_control N: 127.0.0.N, never at the tar pit, sends a message;
# it arrives without X-Slowspam. Its contact marks the primary alive;
# and as the verdict counts only the minutes before a tar-pit contact's
# own, the primary's last quarter of an hour is written as tarpitd's
# store would hold it after it had been up that long (storetool, a test
# helper, into $dir/store/hits.lmdb).
policy_control() {
	_d="control: a message from 127.0.0.$1 (never at the tar pit) is delivered without X-Slowspam"
	send "$1" "$tok-control"
	"$top_builddir/tests/storetool" "$dir/store/hits.lmdb" alive \
		now-900000 now-60000 >/dev/null
	if ! _f=$(find_in rcpt "$tok-control"); then
		tap_fail "$_d" "not delivered" "$dir/send-$tok-control.out" \
			"$mta_log" "$policyd_log"
	elif [ -n "$(mta_header "$_f" X-Slowspam)" ]; then
		tap_fail "$_d" "it has X-Slowspam" "$_f" "$policyd_log"
	else
		tap_ok "$_d" 0
	fi
}

# policy_tagged N: 127.0.0.N met the tar pit first; its message to
# rcpt, rcpt2 and rcpt3@primary.example arrives in each of the three
# with exactly one X-Slowspam (backup-first, its network) and one
# Authentication-Results (primary.test, spf=pass for its sender).
policy_tagged() {
	_d="action=tag: 127.0.0.$1 met the tar pit first; each of three copies has one X-Slowspam (backup-first) and one Authentication-Results (spf=pass)"
	if ! tarpit_hit "$1"; then
		tap_fail "$_d" "127.0.0.$1 not recorded by the tar pit" \
			"$dir/tarpit-$1.out" "$dir/tarpitd.log"
		return
	fi
	send "$1" "$tok-tag" rcpt@primary.example,rcpt2@primary.example,rcpt3@primary.example
	_why='' _f=''
	for _box in rcpt rcpt2 rcpt3; do
		if ! _f=$(find_in $_box "$tok-tag"); then
			_why="not delivered to $_box@"
			break
		fi
		_h=$(mta_header "$_f" X-Slowspam)
		_ar=$(mta_header "$_f" Authentication-Results)
		if [ "$(mta_header_count "$_f" X-Slowspam)" != 1 ] ||
			[ "$(mta_header_count "$_f" Authentication-Results)" != 1 ]; then
			_why="$_box@: $(mta_header_count "$_f" X-Slowspam) X-Slowspam, $(mta_header_count "$_f" Authentication-Results) Authentication-Results"
			break
		fi
		echo "$_h" | grep -q "verdict=backup-first .*network=127\.0\.0\.$1/32" ||
			{ _why="$_box@: X-Slowspam: '$_h'"; break; }
		echo "$_ar" | grep -q "^primary\.test;.*spf=pass .*smtp\.mailfrom=s$1@sender\.example" ||
			{ _why="$_box@: Authentication-Results: '$_ar'"; break; }
	done
	if [ -z "$_why" ]; then
		tap_ok "$_d" 0
		echo "# X-Slowspam: $_h"
		echo "# Authentication-Results: $_ar"
	else
		tap_fail "$_d" "$_why" ${_f:+"$_f"} "$dir/send-$tok-tag.out" \
			"$mta_log" "$policyd_log"
	fi
}

# policy_refused N ACTION CODE XCODE: with the policy server at ACTION,
# 127.0.0.N meets the tar pit first, then its RCPT TO gets "CODE XCODE
# ..." and its message is not accepted.
policy_refused() {
	start_policyd "$2"
	_d="action=$2: 127.0.0.$1 met the tar pit first, its RCPT TO gets $3 $4"
	if ! tarpit_hit "$1"; then
		tap_fail "$_d" "127.0.0.$1 not recorded by the tar pit" \
			"$dir/tarpit-$1.out" "$dir/tarpitd.log"
	elif send "$1" "$tok-$2"; mta_at_rcpt "$dir/send-$tok-$2.out" "$3" "$4"; then
		tap_ok "$_d" 0
		grep -m 1 "<\*\* $3" "$dir/send-$tok-$2.out" | sed 's/^/# /'
	else
		tap_fail "$_d" "no $3 $4 at RCPT" "$dir/send-$tok-$2.out" \
			"$mta_log" "$policyd_log"
	fi
}
