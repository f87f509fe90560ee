#!/bin/sh
# tests/run.sh -- runs every test of psgpipe and ends with one summary line
# "N passed, N failed, N skipped" (read by CI).
#
# Each tests/t_*.sh and each unit test binary prints TAP lines:
#   ok N - what            a check that passed
#   not ok N - what        a check that failed
#   ok N - # SKIP why      a check that could not run here
#   not ok N - what # TODO why   a known failure tracked by an open issue:
#                          reported, counted with the skipped, not failed
# and exits non-zero when any check failed.  PSG_BUILD names the build
# directory (build or build-san); SHARED the shared data (../shared/data).
set -u
: "${PSG_BUILD:=build}"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PSG_BUILD=$(cd "$ROOT/$PSG_BUILD" 2>/dev/null && pwd || echo "$PSG_BUILD")
: "${SHARED:=$ROOT/../shared/data}"
export PSG_BUILD SHARED ROOT
# tests/valgrind.sh puts its wrappers first on PATH; keep them there.
[ -n "${PSG_VALGRIND:-}" ] || PATH="$PSG_BUILD/bin:$PATH"
export PATH

pass=0 fail=0 skip=0 todo=0 failed_suites=""
log=$(mktemp)
trap 'rm -f "$log"' EXIT
: >"$PSG_BUILD/.tap-todo"

if [ ! -d "$SHARED" ]; then
	echo "# ../shared/data is absent: tests that need it are skipped"
fi

run_suite() {
	name=$1
	shift
	echo "# --- $name"
	"$@" >"$log" 2>&1
	rc=$?
	cat "$log"
	grep '^not ok.*# TODO' "$log" >>"$PSG_BUILD/.tap-todo"
	p=$(grep -c '^ok .*' "$log" | tr -d ' ')
	s=$(grep -c '^ok .*# SKIP' "$log" | tr -d ' ')
	t=$(grep -c '^not ok.*# TODO' "$log" | tr -d ' ')
	f=$(($(grep -c '^not ok' "$log" | tr -d ' ') - t))
	pass=$((pass + p - s))
	skip=$((skip + s + t))
	todo=$((todo + t))
	fail=$((fail + f))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok - $name exited with status $rc"
		fail=$((fail + 1))
	fi
	if [ "$rc" -ne 0 ] || [ "$f" -ne 0 ]; then
		failed_suites="$failed_suites $name"
	fi
}

for t in "$PSG_BUILD"/tests/*; do
	[ -x "$t" ] || continue
	run_suite "unit/$(basename "$t")" ${PSG_WRAP:-} "$t"
done
for t in "$ROOT"/tests/t_*.sh; do
	[ -f "$t" ] || continue
	run_suite "$(basename "$t" .sh)" sh "$t"
done

[ -n "$failed_suites" ] && echo "# failed:$failed_suites"
[ "$todo" -gt 0 ] && echo "# $todo known failure(s) marked TODO (counted with the skipped):" &&
	grep -h '^not ok.*# TODO' "$PSG_BUILD"/.tap-todo 2>/dev/null
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
