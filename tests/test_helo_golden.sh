#!/bin/sh
# test_helo_golden.sh - TAP test: helo_golden over helo.in must print
# exactly helo.ref. top_srcdir and top_builddir come from the harness.
here=$(dirname "$0")
: "${top_srcdir:=$here/..}"
: "${top_builddir:=$here/..}"

prog="$top_builddir/tests/helo_golden"
in="$top_srcdir/tests/helo.in"
ref="$top_srcdir/tests/helo.ref"
out=$(mktemp "${TMPDIR:-/tmp}/helo_golden.XXXXXX") || exit 99
trap 'rm -f "$out"' EXIT

echo "1..1"
if "$prog" "$in" >"$out" 2>&1 && diff -u "$ref" "$out" >/dev/null 2>&1
then
	echo "ok 1 - helo golden"
else
	echo "not ok 1 - helo golden"
	diff -u "$ref" "$out" 2>&1 | sed 's/^/# /'
fi
exit 0
