# tests/lib.sh -- sourced by tests/t_*.sh: TAP helpers and a scratch dir.
#   ok COND... DESC   via check: check "desc" command args...
#   skip "why"
n=0 failures=0
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
: "${PSG_BUILD:=build}"
: "${SHARED:=$(dirname "$0")/../../shared/data}"
PY=/usr/bin/python3

pass() { n=$((n + 1)); echo "ok $n - $1"; }
flunk() { n=$((n + 1)); failures=$((failures + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n - # SKIP $1"; }
# todo DESC WHY CMD...: a known failure tracked by an open issue; when CMD
# passes after all, it says so (and counts as a pass).
todo() {
	d=$1 why=$2; shift 2
	n=$((n + 1))
	if "$@"; then echo "ok $n - $d (was TODO: $why)"
	else echo "not ok $n - $d # TODO $why"; fi
}
# check DESC CMD...: passes when CMD exits 0.
check() { d=$1; shift; if "$@"; then pass "$d"; else flunk "$d"; fi; }
# expect_exit CODE DESC CMD...: passes when CMD exits with CODE.
expect_exit() {
	code=$1 d=$2; shift 2
	"$@" >/dev/null 2>"$TMP/stderr"; rc=$?
	if [ "$rc" -eq "$code" ]; then pass "$d"; else
		flunk "$d (exit $rc, wanted $code)"; sed 's/^/#   /' "$TMP/stderr"; fi
}
have_shared() { [ -d "$SHARED" ]; }
have_h5py() { $PY -c 'import h5py, numpy' 2>/dev/null; }
finish() { [ "$failures" -eq 0 ]; exit $?; }
