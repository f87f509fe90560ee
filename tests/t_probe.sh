#!/bin/sh
# t_probe.sh -- the crash probe of the result readers (crash_probe in
# stages/stage.h, docs/reliability.md): psg-collect reads every night
# first in a forked child, and must fork one child for a whole cohort,
# not one per night (a child per night made 1000 nights take 30-120 s
# instead of about a second: issue 21).  Processes are counted with
# strace, not timed.  Nights that libhdf5 dies on are made so by
# tests/tools/preload/h5crash.c (H5Fopen dies of SIGSEGV on a marked
# name): among good nights, each is reported as before, and a new child
# reads on after it.
. "$ROOT/tests/lib.sh"
# The binary itself: under tests/valgrind.sh psg-collect on PATH is a
# wrapper, and valgrind's own processes are not the probe's.
COLLECT=$PSG_BUILD/bin/psg-collect
N=40

psg-synth -H 1 -s 5 -o "$TMP/n.edf" >/dev/null &&
	psg-night -q "$TMP/n.edf" -o "$TMP/n.h5" >/dev/null 2>&1
check "a generated 1-h night to collect" test -s "$TMP/n.h5"
mkdir -p "$TMP/c"
i=0
while [ "$i" -lt "$N" ]; do
	cp "$TMP/n.h5" "$TMP/c/n$(printf %02d "$i").h5"
	i=$((i + 1))
done

# forks LOG: the processes psg-collect itself started (clone, fork, vfork:
# the first call in the log is its own; a call split by another process's
# line shows once, then "resumed"), not those a child may start (ASan's
# symbolizer reporting the crash).
forks() {
	awk '$2 ~ /^(clone3?|v?fork)\(/ { if (!p) p = $1; if ($1 == p) k++ }
	     END { print k + 0 }' "$1"
}

# trace LOG CMD...: CMD under strace, counting processes started.  LSan
# cannot run under ptrace: the ASan build's leak check is off here (the
# rest of the suite runs these programs with it).
trace() {
	log=$1
	shift
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
		strace -f -qq -e trace=clone,clone3,fork,vfork -o "$log" "$@"
}

PSG_CRASH_PROBE=0 "$COLLECT" "$TMP/c" >"$TMP/off.csv" 2>"$TMP/off.err"
check "without the probe: $N rows" \
	test "$(wc -l <"$TMP/off.csv")" -eq $((N + 1))
"$COLLECT" "$TMP/c" >"$TMP/on.csv" 2>"$TMP/on.err"
check "with it: the same table, nothing on stderr" \
	sh -c "cmp -s '$TMP/off.csv' '$TMP/on.csv' && test ! -s '$TMP/on.err'"

if ! command -v strace >/dev/null 2>&1; then
	skip "strace missing (scripts/setup-deps installs it): forks not counted"
	finish
fi
trace "$TMP/st" "$COLLECT" "$TMP/c" >/dev/null 2>&1
k=$(forks "$TMP/st")
check "$N nights: one probe child, not one per night ($k)" test "$k" -eq 1
PSG_CRASH_PROBE=0 trace "$TMP/st0" "$COLLECT" "$TMP/c" >/dev/null 2>&1
k=$(forks "$TMP/st0")
check "PSG_CRASH_PROBE=0: no child ($k)" test "$k" -eq 0

# Crashing nights: libhdf5 (the preloaded stand-in) dies opening them.
# A sanitized program is told not to insist on coming first.
crashing() {
	LD_PRELOAD=$PSG_BUILD/tools/h5crash.so PSG_TEST_H5CRASH=crash \
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
		"$@"
}
cp "$TMP/n.h5" "$TMP/c/n14-crash.h5"
(crashing env PSG_CRASH_PROBE=0 "$COLLECT" "$TMP/c/n14-crash.h5") \
	>/dev/null 2>&1
rc=$?
check "the stand-in kills psg-collect without the probe (exit $rc)" \
	test "$rc" -ne 0 -a "$rc" -ne 2 -a "$rc" -ne 3
crashing "$COLLECT" -o "$TMP/x.h5" "$TMP/c" >/dev/null 2>"$TMP/die.err"
rc=$?
check "with it, a crashing night is exit 2 ($rc), nothing written" \
	sh -c "[ $rc -eq 2 ] && test ! -e '$TMP/x.h5' -a ! -e '$TMP/x.csv'"
check "...and one message naming it and the signal" sh -c \
	"[ \$(wc -l <'$TMP/die.err') -eq 1 ] && grep -q \
	'^psg-collect: .*/n14-crash.h5: the HDF5 library crashed reading it (signal 11, .*): a corrupt file; nothing written' \
	'$TMP/die.err'"

# One first and two in a row after n13: the first child dies on n00-crash
# (its first night: convicted); the next dies on n14-crash, not its first
# night (an earlier night might have broken libhdf5), so a child of its
# own confirms it; n14-crash2 convicts the child that starts on it; a
# fifth reads the rest.
cp "$TMP/n.h5" "$TMP/c/n00-crash.h5"
cp "$TMP/n.h5" "$TMP/c/n14-crash2.h5"
crashing trace "$TMP/st" "$COLLECT" --skip-bad --csv "$TMP/c.csv" "$TMP/c" \
	2>"$TMP/skip.err"
rc=$?
k=$(forks "$TMP/st")
check "--skip-bad over $N good nights and 3 crashing: exit 0 ($rc), $N rows" \
	sh -c "[ $rc -eq 0 ] && [ \$(wc -l <'$TMP/c.csv') -eq $((N + 1)) ]"
grep -o '[^/]*: the HDF5 library crashed reading it (signal 11, [^)]*): a corrupt file; skipped$' \
	"$TMP/skip.err" | cut -d: -f1 | tr '\n' ' ' >"$TMP/skipped"
check "...a warning for each, in order ($(cat "$TMP/skipped"))" sh -c \
	"[ \$(wc -l <'$TMP/skip.err') -eq 3 ] && \
	[ \"\$(cat '$TMP/skipped')\" = 'n00-crash.h5 n14-crash.h5 n14-crash2.h5 ' ]"
check "...five probe children ($k)" test "$k" -eq 5
finish
