#!/bin/sh
# t_fuzz.sh -- the fuzzing smoke of make check (issue 16): each libFuzzer
# harness of build-fuzz/ (tests/fuzz/fuzz_read.c, built by make when clang
# is installed) first re-runs the in-tree regression corpus
# tests/fuzz/regress/ and testdata/ (any crash, sanitizer report, leak or
# timeout fails), then fuzzes for FUZZ_SMOKE seconds (default 12; six
# harnesses, 72 s in all) from those seeds.  Without clang's
# libFuzzer the suite says so and skips.
: "${ROOT:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$ROOT/tests/lib.sh"
FB=$ROOT/build-fuzz
: "${FUZZ_SMOKE:=12}"
if ! ls "$FB"/fuzz_* >/dev/null 2>&1; then
	skip "no build-fuzz/fuzz_* (clang's libFuzzer not installed?)"
	finish
fi
for bin in "$FB"/fuzz_*; do
	name=${bin##*/fuzz_}
	case $name in
	stream) files=$(ls "$ROOT"/tests/fuzz/regress/*.psg) ;;
	hypnogram) files=$(ls "$ROOT"/tests/fuzz/regress/*.tsv \
		"$ROOT"/testdata/SC4001EC-Hypnogram.edf) ;;
	events) files=$(ls "$ROOT"/tests/fuzz/regress/*.tsv \
		"$ROOT"/tests/fuzz/regress/*.txt 2>/dev/null) ;;
	*) files=$(ls "$ROOT"/tests/fuzz/regress/*.edf "$ROOT"/testdata/*.edf) ;;
	esac
	# shellcheck disable=SC2086
	"$bin" -timeout=60 -rss_limit_mb=2048 $files >"$TMP/$name.log" 2>&1
	rc=$?
	check "fuzz_$name: the regression corpus runs clean (exit $rc)" \
		test "$rc" -eq 0
	[ "$rc" -eq 0 ] || grep -m 5 'ERROR\|runtime error' "$TMP/$name.log" |
		sed 's/^/#   /'
done
FB=$FB FUZZ_SECONDS=$FUZZ_SMOKE sh "$ROOT/tests/fuzz/run.sh" >"$TMP/smoke" 2>&1
rc=$?
sed 's/^/# /' "$TMP/smoke"
check "fuzz smoke: ${FUZZ_SMOKE} s per harness, no finding" test "$rc" -eq 0
finish
