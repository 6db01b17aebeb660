#!/bin/sh
# test_ctl.sh - slowspamctl from the shell: -t, usage errors, and the store
# commands on a private store. Prints TAP.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
# shellcheck source=tests/lib.sh
. "$top_srcdir/tests/lib.sh"
ctl=$top_builddir/slowspamctl/slowspamctl
make_dir ctl

# check NAME WANT_STATUS PATTERN CMD... : run CMD, compare its exit status
# and look for PATTERN (grep -E) in its stdout+stderr (check-N.out).
check() {
	name=$1 want=$2 pattern=$3
	shift 3
	out=$dir/check-$((tap_n + 1)).out
	"$@" > "$out" 2>&1
	status=$?
	if [ "$status" -eq "$want" ] && grep -Eq -- "$pattern" "$out"; then
		tap_ok "$name" 0
	else
		tap_fail "$name" "status $status, want $want" "$out"
	fi
}

tap_plan 17
conf=$dir/slowspam.conf
printf '[store]\npath = %s/store/hits.lmdb\n' "$dir" > "$conf"
example=$top_srcdir/conf-examples/slowspam.conf

check "version" 0 "^slowspamctl [0-9]" "$ctl" -V
check "-t passes the example" 0 "slowspam.conf: OK" "$ctl" -c "$example" -t
printf '[tarpitd]\nworkers = 0\n[store]\nttl = 1y\n' > "$dir/bad.conf"
check "-t names file, line and key" 1 "bad.conf:2: \[tarpitd\] workers: \"0\": out of range" \
	"$ctl" -c "$dir/bad.conf" -t
check "-t reports every problem" 1 "bad.conf:4: \[store\] ttl: \"1y\": unknown duration unit" \
	"$ctl" -c "$dir/bad.conf" -t
check "-t on a missing file" 1 "absent.conf.*No such file" "$ctl" -c "$dir/absent.conf" -t
check "no command" 2 "a command is needed" "$ctl" -c "$conf"
check "unknown command" 2 "unknown command" "$ctl" -c "$conf" frobnicate
check "lookup needs an address" 2 "wrong number of operands" "$ctl" -c "$conf" lookup
check "lookup before any store" 2 "no store there yet" "$ctl" -c "$conf" lookup 192.0.2.1
check "forget creates the store, finds nothing" 1 "192.0.2.1 \(192.0.2.1/32\): not in the store" \
	"$ctl" -c "$conf" forget 192.0.2.1
check "lookup by network key" 1 "\(2001:db8:1:2::/64\): not in the store" \
	"$ctl" -c "$conf" lookup 2001:db8:1:2:3:4:5:6
check "--set overrides the prefix" 1 "\(192.0.2.0/24\): not in the store" \
	"$ctl" -c "$conf" --set store.ipv4_prefix=24 lookup 192.0.2.77
check "bad address" 2 "not-an-ip: not an IPv4 or IPv6 address" "$ctl" -c "$conf" lookup not-an-ip
check "expire an empty store" 0 "^expired 0 records$" "$ctl" -c "$conf" expire

# export --format csv: a HELO that a spreadsheet would take for a formula
# (=, +, -, @, a tab or a CR first) is a quoted cell starting with a
# single quote (OWASP CSV injection); so is a network key that is none.
storetool=$top_builddir/tests/storetool
csv=$dir/csv.conf
printf '[store]\npath = %s/csv/hits.lmdb\n' "$dir" > "$csv"
tab=$(printf '\t')
for r in '192.0.2.1/32|=HYPERLINK("http://x","y")' '192.0.2.2/32|+1+2' \
	'192.0.2.3/32|-2+3' '192.0.2.4/32|@SUM(1)' "192.0.2.5/32|$tab=1" \
	'192.0.2.6/32|mail.example.org' '=1+1|x.example'; do
	"$storetool" "$dir/csv/hits.lmdb" tarpit "${r%%|*}" now "${r#*|}" ||
		bail "storetool ${r%%|*} failed"
done
"$ctl" -c "$csv" export --format csv > "$dir/export.csv" 2>&1
tap_ok "export --format csv runs" $? "$dir/export.csv"
# Each cell, quotes and commas around it (grep -F: no pattern).
bad=
while IFS= read -r want; do
	grep -Fq -- "$want" "$dir/export.csv" || bad="$bad [$want]"
done <<'CELLS'
,"'=HYPERLINK(""http://x"",""y"")",
,"'+1+2",
,"'-2+3",
,"'@SUM(1)",
,"'?=1",
CELLS
grep -q "^\"'=1+1\",1," "$dir/export.csv" || bad="$bad [network =1+1]"
if [ -z "$bad" ]; then
	tap_ok "export --format csv: formulas are text" 0
else
	tap_fail "export --format csv: formulas are text" "missing:$bad" \
		"$dir/export.csv"
fi
grep -q '^192\.0\.2\.6/32,1,.*,"mail\.example\.org",fqdn,' "$dir/export.csv"
tap_ok "export --format csv: a plain HELO is unchanged" $? "$dir/export.csv"
tap_done
