#!/bin/sh
# t_h5.sh -- psg-h5: the layout of docs/hdf5.md and every value of a
# synthetic stream (tests/tools/mkstream, checked by tests/h5check.py),
# atomic output, exit codes and messages, memory flat in the length.
#
#   PSG_BUILD=build sh tests/t_h5.sh
#   PSG_WRAP="valgrind --leak-check=full --error-exitcode=9 -q" ...
# With PSG_WRAP psg-h5 runs under that checker on a shorter recording.
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$PSG_BUILD/bin
MK=$PSG_BUILD/tools/mkstream
DOCS=$HERE/../docs/hdf5.md
PSG_H=$HERE/../include/psg.h
# Long enough that events, epochs and samples cross batch/chunk boundaries
# (1024 rows, 65536 samples); short under a slow checker.
SECONDS_LONG=8000
[ -n "${PSG_WRAP:-}" ] && SECONDS_LONG=600

h5() { ${PSG_WRAP:-} "$BIN/psg-h5" "$@"; }

# h5run INPUT ARGS...: psg-h5 ARGS < INPUT; sets rc, output in $TMP/out, err.
h5run() {
	in=$1
	shift
	h5 "$@" <"$in" >"$TMP/out" 2>"$TMP/err"
	rc=$?
}

# The stage's failure style: exactly one line on stderr, "psg-h5: ...".
one_error() {
	[ "$(wc -l <"$TMP/err")" -eq 1 ] && grep -q '^psg-h5: ' "$TMP/err"
}

# expect_fail CODE DESC: the last h5run exited CODE with one error line,
# and its output directory $2... is empty (no output, no temporary).
expect_fail() {
	code=$1 d=$2 dir=$3
	if [ "$rc" -eq "$code" ] && one_error && [ ! -s "$TMP/out" ] &&
	    { [ -z "$dir" ] || [ -z "$(ls -A "$dir")" ]; }; then
		pass "$d"
	else
		flunk "$d (exit $rc, wanted $code)"
		sed 's/^/#   /' "$TMP/err"
		[ -n "$dir" ] && ls -A "$dir" | sed 's/^/#   left: /'
	fi
}

# pycheck NAME DOC ARGS...: runs h5check.py; each "PASS what" / "FAIL what:
# why" line becomes a TAP line "NAME: what".  DOC=0 leaves out the checks
# against docs/hdf5.md (done once is enough).
pycheck() {
	name=$1 doc=$2
	shift 2
	"$PY" "$HERE/h5check.py" "$@" >"$TMP/py" 2>&1
	pyrc=$?
	while IFS= read -r line; do
		case $line in
		"PASS doc: "* | "FAIL doc: "*) [ "$doc" = 1 ] || continue ;;
		esac
		case $line in
		PASS\ *) pass "$name: ${line#PASS }" ;;
		FAIL\ *) flunk "$name: ${line#FAIL }" ;;
		*) echo "#   $line" ;;
		esac
	done <"$TMP/py"
	[ "$pyrc" -eq 0 ] || flunk "$name: h5check.py exited with $pyrc"
}

mkdir "$TMP/in"
"$MK" --seconds "$SECONDS_LONG" --epoch 5 >"$TMP/in/long.psg"
"$MK" --seconds 2000 --truncate >"$TMP/in/trunc.psg"
"$MK" >"$TMP/in/short.psg"

# ---- command line ----
h5run /dev/null --help
if [ "$rc" -eq 0 ] && grep -q '^usage: psg-h5' "$TMP/out" && [ ! -s "$TMP/err" ]
then pass "--help: usage on stdout, exit 0"; else flunk "--help (exit $rc)"; fi
h5run /dev/null --bogus -o "$TMP/x.h5"
expect_fail 1 "unknown option: exit 1"
h5run "$TMP/in/short.psg"
expect_fail 1 "no -o: exit 1"
h5run "$TMP/in/short.psg" -o "$TMP/x.h5" --compress 10
expect_fail 1 "--compress 10: exit 1"
h5run "$TMP/in/short.psg" -o "$TMP/x.h5" extra
expect_fail 1 "stray argument: exit 1"

# ---- a complete stream ----
mkdir "$TMP/ok"
h5run "$TMP/in/long.psg" -o "$TMP/ok/x.h5" --signals
if [ "$rc" -eq 0 ] && [ ! -s "$TMP/out" ] && [ ! -s "$TMP/err" ]; then
	pass "--signals: exit 0, silent"
else
	flunk "--signals (exit $rc)"
	sed 's/^/#   /' "$TMP/err"
fi
check "only the output file is left" \
	test "$(ls -A "$TMP/ok")" = x.h5
h5run "$TMP/in/short.psg" -o "$TMP/ok/plain.h5" --compress 0
check "no --signals, --compress 0: exit 0" test "$rc" -eq 0
h5run "$TMP/in/short.psg" -o "$TMP/ok/raw.h5" --signals --compress 0
check "--signals --compress 0: exit 0" test "$rc" -eq 0

if ! have_h5py; then
	skip "h5py missing"
else
	MKCMD="$MK --seconds $SECONDS_LONG --epoch 5"
	pycheck "--signals" 1 "$TMP/ok/x.h5" "$SECONDS_LONG" 5 1 4 "$MKCMD" \
		"$BIN/psg-h5 -o $TMP/ok/x.h5 --signals" "$DOCS" "$PSG_H"
	pycheck "no --signals" 0 "$TMP/ok/plain.h5" 120 30 0 0 "$MK" \
		"$BIN/psg-h5 -o $TMP/ok/plain.h5 --compress 0" "$DOCS" "$PSG_H"
	pycheck "--compress 0" 0 "$TMP/ok/raw.h5" 120 30 1 0 "$MK" \
		"$BIN/psg-h5 -o $TMP/ok/raw.h5 --signals --compress 0" \
		"$DOCS" "$PSG_H"
	# A stray epoch index far ahead but within the longest recording
	# (30 days: HDF5 would take minutes to cut it off by shrinking: the
	# table is copied instead) changes nothing; one beyond that limit is
	# refused by the stream reader (docs/stream.md, Limits).
	for k in 1000000000 4611686018427387904; do
		"$MK" --stray-epoch $k >"$TMP/in/stray.psg"
		h5run "$TMP/in/stray.psg" -o "$TMP/ok/stray.h5"
		check "stray epoch $k beyond the limits: exit 2" \
			test "$rc" -eq 2
		check "... with one message" one_error
	done
	for k in 86000; do
		"$MK" --stray-epoch $k >"$TMP/in/stray.psg"
		h5run "$TMP/in/stray.psg" -o "$TMP/ok/stray.h5"
		check "stray epoch $k: exit 0" test "$rc" -eq 0
		pycheck "stray epoch $k" 0 "$TMP/ok/stray.h5" 120 30 0 4 \
			"$MK --stray-epoch $k" "$BIN/psg-h5 -o $TMP/ok/stray.h5" \
			"$DOCS" "$PSG_H"
	done
	# The examples of docs/hdf5.md run in t_docs.sh, on a night of
	# psg-night's chain (their names are a real night's, not mkstream's).
fi

# ---- failures leave nothing behind ----
mkdir "$TMP/t"
h5run "$TMP/in/trunc.psg" -o "$TMP/t/x.h5" --signals
expect_fail 2 "truncated stream: exit 2, one message, no file" "$TMP/t"
check "truncated stream: the message says so" \
	grep -q '^psg-h5: .*truncated' "$TMP/err"
echo old >"$TMP/t/keep.h5"
h5run "$TMP/in/trunc.psg" -o "$TMP/t/keep.h5"
check "truncated stream: an existing output stays as it was" \
	test "$rc" -eq 2 -a "$(cat "$TMP/t/keep.h5")" = old -a \
	"$(ls -A "$TMP/t")" = keep.h5
rm -f "$TMP/t/keep.h5"
printf 'not a stream at all\n' >"$TMP/in/junk"
h5run "$TMP/in/junk" -o "$TMP/t/x.h5"
expect_fail 2 "not a stream: exit 2" "$TMP/t"
h5run /dev/null -o "$TMP/t/x.h5"
expect_fail 2 "empty input: exit 2" "$TMP/t"
h5run "$TMP/in/short.psg" -o "$TMP/nodir/x.h5"
expect_fail 2 "output in a missing directory: exit 2"
touch "$TMP/file"
h5run "$TMP/in/short.psg" -o "$TMP/file/x.h5"
expect_fail 2 "output under a regular file: exit 2"
if [ "$(id -u)" -ne 0 ]; then
	mkdir "$TMP/ro" && chmod 555 "$TMP/ro"
	h5run "$TMP/in/short.psg" -o "$TMP/ro/x.h5"
	expect_fail 2 "read-only directory: exit 2" "$TMP/ro"
else
	skip "read-only directory (root ignores permissions)"
fi

# SIGTERM while psg-h5 waits for the rest of the stream: the temporary
# file is removed and psg-h5 dies of the signal.
mkdir "$TMP/sig"
mkfifo "$TMP/fifo"
# A simple command, not the h5 function: $! must be psg-h5 itself.
${PSG_WRAP:-} "$BIN/psg-h5" -o "$TMP/sig/x.h5" --signals <"$TMP/fifo" \
	2>/dev/null &
pid=$!
exec 3>"$TMP/fifo"
"$MK" --seconds 2000 --truncate >&3   # no END: psg-h5 keeps waiting
i=0
while [ -z "$(ls -A "$TMP/sig")" ] && [ $i -lt 60 ]; do sleep 1; i=$((i + 1)); done
had_tmp=$(ls -A "$TMP/sig")
sleep 1
kill -TERM "$pid"
wait "$pid" 2>/dev/null   # no "Terminated" from the shell
rc=$?
exec 3>&-
check "SIGTERM: the temporary file existed, is removed, no output" \
	test -n "$had_tmp" -a -z "$(ls -A "$TMP/sig")"
check "SIGTERM: psg-h5 dies of the signal (status $rc)" test "$rc" -gt 128

# ---- memory does not grow with the recording ----
if [ -n "${PSG_WRAP:-}" ]; then
	skip "memory growth (under $PSG_WRAP)"
else
	case $PSG_BUILD in
	*san*) skip "memory growth (sanitizer build)" ;;
	*)
		kb=$("$PY" - "$MK" "$BIN/psg-h5" "$TMP/mem.h5" <<'EOF'
import os, subprocess, sys
mk, h5, out = sys.argv[1:]
def peak_kb(seconds):
    src = subprocess.Popen([mk, "--seconds", str(seconds), "--epoch", "5"],
                           stdout=subprocess.PIPE)
    p = subprocess.Popen([h5, "-o", out, "--signals"], stdin=src.stdout)
    src.stdout.close()
    _, status, ru = os.wait4(p.pid, 0)
    src.wait()
    return ru.ru_maxrss if status == 0 else -1
print(peak_kb(400), peak_kb(20000))
EOF
)
		set -- $kb
		if [ "${1:--1}" -gt 0 ] && [ "${2:--1}" -gt 0 ] &&
		    [ $(($2 - $1)) -lt 8192 ]; then
			pass "peak memory flat: 400 s ${1} KiB, 20000 s ${2} KiB"
		else
			flunk "peak memory grows: 400 s ${1:-?} KiB, 20000 s ${2:-?} KiB"
		fi
		;;
	esac
fi

finish
