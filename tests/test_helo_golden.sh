#!/bin/sh
# test_helo_golden.sh - TAP test: helo_golden over helo.in must print
# exactly helo.ref. top_srcdir and top_builddir come from the harness.
here=$(dirname "$0")
: "${top_srcdir:=$here/..}"
: "${top_builddir:=$here/..}"
# shellcheck source=tests/lib.sh
. "$top_srcdir/tests/lib.sh"

prog="$top_builddir/tests/helo_golden"
in="$top_srcdir/tests/helo.in"
ref="$top_srcdir/tests/helo.ref"
make_dir helo_golden
out=$dir/out

tap_plan 1
"$prog" "$in" >"$out" 2>&1
status=$?
diff -u "$ref" "$out" > "$dir/diff" 2>&1 && [ "$status" -eq 0 ]
tap_ok "helo golden" $? "$dir/diff"
tap_done
