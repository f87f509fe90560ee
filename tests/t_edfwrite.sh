#!/bin/sh
# t_edfwrite.sh -- the EDF+/BDF+ writer seen from outside (the unit test
# build/tests/test_edfwrite checks it against psgpipe's own readers):
#   - EDF+C and BDF+C written by `test_edfwrite --write` are checked by an
#     independent Python decoder (tests/edfwrite_check.py on tests/edfpy.py)
#     against the same formulas, and psg-info reads them without warnings;
#   - a full disk (a 64-KiB tmpfs, if this user may mount one): the error
#     is an I/O error naming the file and strerror, and no file or
#     temporary file is left, whether the disk fills while records are
#     written or at the final flush.
: "${ROOT:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$ROOT/tests/lib.sh"
case $PSG_BUILD in /*) ;; *) PSG_BUILD=$ROOT/$PSG_BUILD ;; esac
PATH=$PSG_BUILD/bin:$PATH
T=$PSG_BUILD/tests/test_edfwrite
# Under tests/valgrind.sh the writer runs under valgrind too.
W=${PSG_WRAP:-}
if [ ! -x "$T" ]; then
	flunk "$T is missing (make check builds it)"
	finish
fi

# relay FILE: passes on the TAP lines of a Python checker.
relay() {
	while IFS= read -r line; do
		case $line in
		"ok "*) pass "${line#ok * - }" ;;
		"not ok "*) flunk "${line#not ok * - }" ;;
		*) echo "# $line" ;;
		esac
	done <"$1"
}

for kind in edf bdf; do
	f=$TMP/demo.$kind
	flag=
	[ $kind = bdf ] && flag=--bdf
	if ! $W "$T" --write "$f" $flag --seconds 40 >"$TMP/out" 2>&1; then
		flunk "$kind: test_edfwrite --write failed: $(cat "$TMP/out")"
		continue
	fi
	pass "$kind: test_edfwrite --write wrote $(basename "$f")"
	if $PY -c 'import numpy' 2>/dev/null; then
		PYTHONPATH="$ROOT/tests" $PY "$ROOT/tests/edfwrite_check.py" \
			"$f" 40 $flag >"$TMP/check.out" 2>&1
		relay "$TMP/check.out"
	else
		skip "$kind: numpy missing for the independent check"
	fi
	if psg-info "$f" >"$TMP/info" 2>"$TMP/err" && [ ! -s "$TMP/err" ] &&
	    grep -q "segments    1 (gaps: 0" "$TMP/info"; then
		pass "$kind: psg-info reads it, no warnings, one segment"
	else
		flunk "$kind: psg-info: $(head -n 3 "$TMP/err")"
	fi
done

# ---- a full disk ------------------------------------------------------

full=$TMP/full
mkdir -p "$full"
if mount -t tmpfs -o size=64k psgtest "$full" 2>/dev/null; then
	# 3600 s (2.5 MB) fills it in a 1-MiB write; 100 s (84 kB) at the end.
	for s in 3600 100; do
		$W "$T" --write "$full/x.edf" --seconds $s >"$TMP/out" 2>&1
		rc=$?
		want="status -2: $full/x.edf: No space left on device"
		if [ $rc -eq 1 ] && [ "$(cat "$TMP/out")" = "$want" ]; then
			pass "full disk ($s s): I/O error naming the file"
		else
			flunk "full disk ($s s): exit $rc, '$(cat "$TMP/out")'"
		fi
		left=$(ls -A "$full")
		if [ -z "$left" ]; then
			pass "full disk ($s s): no file, no temporary file left"
		else
			flunk "full disk ($s s): left behind: $left"
			rm -f "$full"/*
		fi
	done
	umount "$full"
else
	skip "cannot mount a 64-KiB tmpfs here (needs root): no full-disk test"
fi
finish
