#!/bin/sh
# t_errors.sh -- bad input gets one clear message and the right exit code.
# Every error here must leave exactly one line on stderr (warnings aside),
# starting with the program's name ("psg-read: ..."), and exit with the
# code of stages/stage.h: 1 usage, 2 unreadable/malformed/truncated input,
# 3 valid but unsuitable input.
#   - psg-read: missing file, a directory, files that are not EDF (text,
#     random bytes, empty), EDF/BDF truncated inside the data records or the
#     header, garbage header fields, EDF+D truncated, missing -a / --audio
#     files, bad option values;
#   - psg-dump / psg-info: streams truncated anywhere, without their end
#     record, empty stdin, random bytes, a future stream version;
#   - every program in $PSG_BUILD/bin: a bad option (1) and --help (0,
#     usage on stdout, nothing on stderr);
#   - psg-read refuses to write to a terminal (through script(1)'s pty).
# Broken files are made at run time in a temporary directory from the shared
# recordings (head -c, python); without ../shared those checks are skipped.
: "${ROOT:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$ROOT/tests/lib.sh"
case $PSG_BUILD in /*) ;; *) PSG_BUILD=$ROOT/$PSG_BUILD ;; esac
PATH=$PSG_BUILD/bin:$PATH
export PATH

# run CMD...: runs CMD, stdout in $TMP/out, stderr in $TMP/err, status rc.
run() {
	"$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
}

# expect CODE PROG DESC [REGEX]: the last run exited CODE and left exactly
# one non-warning line on stderr, "PROG: ..." (matching REGEX, any case).
expect() {
	code=$1 prog=$2 d=$3 re=${4:-}
	grep -v "^$prog: warning: " "$TMP/err" >"$TMP/msg"
	nl=$(wc -l <"$TMP/msg" | tr -d ' ')
	why=
	[ "$rc" -eq "$code" ] || why="exit $rc, wanted $code"
	[ "$nl" -eq 1 ] || why="$why${why:+; }$nl lines on stderr, wanted 1"
	head -n 1 "$TMP/msg" | grep -q "^$prog: ." ||
		why="$why${why:+; }message does not start with '$prog: '"
	if [ -n "$re" ] && ! grep -qi -e "$re" "$TMP/msg"; then
		why="$why${why:+; }message does not mention '$re'"
	fi
	if [ -z "$why" ]; then
		pass "$d: exit $code, one message"
		sed 's/^/#   /' "$TMP/msg"
	else
		flunk "$d ($why)"
		head -n 6 "$TMP/err" | sed 's/^/#   /'
	fi
}

W=$TMP/w
mkdir -p "$W"

# ---- psg-read on files that cannot be read ---------------------------

run psg-read "$W/no-such-file.edf"
expect 2 psg-read "psg-read on a missing file" 'no such file'
run psg-read "$W"
expect 2 psg-read "psg-read on a directory"
printf 'hello\n' >"$W/short.txt"
run psg-read "$W/short.txt"
expect 2 psg-read "psg-read on a short text file"
$PY -c 'import sys; open(sys.argv[1], "w").write("this is not an EDF file\n" * 200)' \
	"$W/long.txt"
run psg-read "$W/long.txt"
expect 2 psg-read "psg-read on a 4800-byte text file"
$PY -c 'import random, sys; open(sys.argv[1], "wb").write(random.Random(7).randbytes(4096))' \
	"$W/random.bin"
run psg-read "$W/random.bin"
expect 2 psg-read "psg-read on 4096 random bytes"
: >"$W/empty.edf"
run psg-read "$W/empty.edf"
expect 2 psg-read "psg-read on an empty file"

# ---- usage errors (no shared data needed) --------------------------------

run psg-read --backend nosuch "$W/empty.edf"
expect 1 psg-read "psg-read --backend nosuch"
run psg-read --epoch abc "$W/empty.edf"
expect 1 psg-read "psg-read --epoch abc"
run psg-read --block -1 "$W/empty.edf"
expect 1 psg-read "psg-read --block -1"
run psg-read
if [ "$rc" -eq 1 ] && [ -s "$TMP/err" ] && [ ! -s "$TMP/out" ]; then
	pass "psg-read without a FILE: exit 1, usage on stderr"
else
	flunk "psg-read without a FILE: exit 1, usage on stderr (exit $rc)"
fi

# ---- every program: a bad option, --help ---------------------------------

for p in "$PSG_BUILD"/bin/*; do
	[ -f "$p" ] && [ -x "$p" ] || continue
	prog=$(basename "$p")
	run "$prog" --no-such-option </dev/null
	expect 1 "$prog" "$prog --no-such-option"
	run "$prog" --help </dev/null
	if [ "$rc" -eq 0 ] && [ ! -s "$TMP/err" ] &&
	    grep -qi '^usage: ' "$TMP/out"; then
		pass "$prog --help: exit 0, usage on stdout, nothing on stderr"
	else
		flunk "$prog --help: exit 0, usage on stdout, nothing on stderr (exit $rc)"
		head -n 3 "$TMP/err" | sed 's/^/#   stderr: /'
	fi
done

# ---- psg-dump / psg-info on streams that are not streams ------------------

for prog in psg-dump psg-info; do
	run "$prog" </dev/null
	expect 2 "$prog" "$prog on an empty stdin"
	run "$prog" <"$W/random.bin"
	expect 2 "$prog" "$prog on random bytes"
	run "$prog" <"$W/long.txt"
	expect 2 "$prog" "$prog on a text file"
	run "$prog" "$W/no-such-file"
	expect 2 "$prog" "$prog on a missing file" 'no such file'
done

if ! have_shared || [ ! -f "$SHARED/format/edfPlusC.edf" ]; then
	for what in "psg-read on truncated EDF/BDF files" \
	    "psg-read on EDF headers with garbage fields" \
	    "psg-read on a truncated EDF+D" \
	    "psg-read -a / --audio with missing files" \
	    "psg-dump/psg-info on truncated streams" \
	    "psg-read to a terminal"; do
		skip "$what: no shared data at $SHARED"
	done
	finish
fi

F=$SHARED/format
C=$F/edfPlusC.edf

# ---- psg-read on broken EDF/BDF files ------------------------------------

# edfPlusC.edf: a 3328-byte header and 20 records of 4502 bytes.
head -c 50000 "$C" >"$W/trunc-data.edf"
head -c $((3328 + 10 * 4502)) "$C" >"$W/trunc-record.edf"
head -c 3328 "$C" >"$W/header-only.edf"
head -c 1000 "$C" >"$W/trunc-sighdr.edf"
head -c 100 "$C" >"$W/trunc-hdr.edf"
head -c 60000 "$F/bdfPlusC.bdf" >"$W/trunc-data.bdf"
for b in auto native; do
	run psg-read --backend $b "$W/trunc-data.edf"
	expect 2 psg-read "psg-read --backend $b: EDF truncated inside a data record" 'truncat'
	run psg-read --backend $b "$W/trunc-record.edf"
	expect 2 psg-read "psg-read --backend $b: EDF truncated after 10 of 20 records" 'truncat'
	run psg-read --backend $b "$W/header-only.edf"
	expect 2 psg-read "psg-read --backend $b: EDF header without records" 'truncat'
	run psg-read --backend $b "$W/trunc-data.bdf"
	expect 2 psg-read "psg-read --backend $b: BDF truncated inside a data record" 'truncat'
	run psg-read --backend $b "$W/trunc-sighdr.edf"
	expect 2 psg-read "psg-read --backend $b: EDF truncated inside the signal headers"
	run psg-read --backend $b "$W/trunc-hdr.edf"
	expect 2 psg-read "psg-read --backend $b: EDF truncated inside the fixed header"
done
run psg-read --backend edflib "$W/trunc-data.edf"
expect 2 psg-read "psg-read --backend edflib: EDF truncated inside a data record"

# Garbage in header fields (bytes 252-255: number of signals, 236-243:
# number of records, 0-7: version).
$PY - "$C" "$W" <<'EOF'
import sys
src, w = sys.argv[1], sys.argv[2]
edf = open(src, 'rb').read()
def put(name, off, val):
    b = bytearray(edf)
    b[off:off + len(val)] = val
    open('%s/%s' % (w, name), 'wb').write(bytes(b))
put('ns-garbage.edf', 252, b'x?!@')
put('ns-huge.edf', 252, b'9999')
put('ns-zero.edf', 252, b'0   ')
put('nrec-garbage.edf', 236, b'abcdefgh')
put('version-garbage.edf', 0, b'XYZ     ')
EOF
for b in auto native; do
	run psg-read --backend $b "$W/ns-garbage.edf"
	expect 2 psg-read "psg-read --backend $b: garbage number-of-signals field" 'signals'
	run psg-read --backend $b "$W/ns-huge.edf"
	expect 2 psg-read "psg-read --backend $b: number of signals 9999 (header is 3328 bytes)"
	run psg-read --backend $b "$W/ns-zero.edf"
	expect 2 psg-read "psg-read --backend $b: number of signals 0 (header is 3328 bytes)"
	run psg-read --backend $b "$W/nrec-garbage.edf"
	expect 2 psg-read "psg-read --backend $b: garbage number-of-records field" 'records'
	run psg-read --backend $b "$W/version-garbage.edf"
	expect 2 psg-read "psg-read --backend $b: garbage version field"
done

# An EDF+C whose third record's TAL says 5 s, not 2 s: a gap that an EDF+C
# cannot have.  Both backends refuse it (edflib always did), and the same
# file with the TAL at 2 s reads.
R=$ROOT/tests/fuzz/regress
for b in edflib native; do
	run psg-read --backend $b "$R/edf-plusc-tal-gap.edf"
	expect 2 psg-read "psg-read --backend $b: an EDF+C whose TAL leaves a gap"
	run psg-read --backend $b "$R/edf-plusc-valid.edf"
	check "psg-read --backend $b: the same EDF+C without the gap reads (exit $rc)" \
		test "$rc" -eq 0
done
run psg-read --backend native "$R/edf-plusc-tal-gap.edf"
check "...native names the record and both times" \
	grep -q 'record 2 starts at 5.0000000 s, not at 2.0000000 s' "$TMP/err"

# EDF+D (11 records, 52850 bytes) cut inside its records.
head -c 30000 "$F/edfPlusD.edf" >"$W/trunc-d.edf"
for b in auto native; do
	run psg-read --backend $b "$W/trunc-d.edf"
	expect 2 psg-read "psg-read --backend $b: EDF+D truncated inside the records" 'truncat'
done

run psg-read -a "$W/no-such-file.edf" "$C"
expect 2 psg-read "psg-read -a with a missing annotation file" 'no such file'
run psg-read -a "$W/long.txt" "$C"
expect 2 psg-read "psg-read -a with a text file"
run psg-read --audio "$W/no-such.wav" "$C"
expect 2 psg-read "psg-read --audio with a missing file"
run psg-read --audio "$W/long.txt" "$C"
expect 2 psg-read "psg-read --audio with a text file"
run psg-read -c nosuch "$C"
expect 3 psg-read "psg-read -c nosuch"

# ---- psg-dump / psg-info on truncated streams ------------------------------

psg-read "$C" >"$W/full.stream" 2>/dev/null
size=$(wc -c <"$W/full.stream" | tr -d ' ')
# The end record is the last 'END ' tag; cut just before it.
$PY - "$W/full.stream" "$W/noend.stream" "$W/future.stream" <<'EOF'
import sys
b = open(sys.argv[1], 'rb').read()
open(sys.argv[2], 'wb').write(b[:b.rfind(b'END ')])
f = bytearray(b)
f[8] = 99               # the version after the magic: major 99
open(sys.argv[3], 'wb').write(bytes(f))
f[8], f[10] = 1, 7      # 1.7: a newer minor, read by this build
open(sys.argv[3] + '.1.7', 'wb').write(bytes(f))
EOF
# psg-dump says the version of its input, not its own.
run psg-dump -H <"$W/future.stream.1.7"
check "psg-dump prints the input's stream version (1.7 in, 'stream 1.7' out)" \
	sh -c "[ $rc -eq 0 ] && head -n 1 '$TMP/out' | grep -qx 'stream 1.7'"
run psg-dump -H "$ROOT/tests/fuzz/regress/stream-valid.psg"
check "...and 'stream 1.1' for a 1.1 stream file" \
	sh -c "[ $rc -eq 0 ] && head -n 1 '$TMP/out' | grep -qx 'stream 1.1'"

for prog in psg-dump psg-info; do
	{ psg-read "$C" 2>/dev/null | head -c 5000 | "$prog" >"$TMP/out" 2>"$TMP/err"; }
	rc=$?
	expect 2 "$prog" "psg-read | head -c 5000 | $prog" 'truncated'
	for k in 20 1000 100000 $((size - 1)); do
		head -c "$k" "$W/full.stream" >"$W/cut.stream"
		run "$prog" <"$W/cut.stream"
		expect 2 "$prog" "$prog on the stream cut to $k of $size bytes" 'truncated'
	done
	run "$prog" "$W/cut.stream"
	expect 2 "$prog" "$prog FILE on a stream file cut to $((size - 1)) bytes" 'truncated'
	run "$prog" <"$W/noend.stream"
	expect 2 "$prog" "$prog on a stream without its end record" 'truncated'
	run "$prog" <"$W/future.stream"
	expect 2 "$prog" "$prog on a stream of major version 99" 'version'
done
run psg-dump --no-samples <"$W/cut.stream"
expect 2 psg-dump "psg-dump --no-samples on a truncated stream" 'truncated'
run psg-info --json <"$W/cut.stream"
expect 2 psg-info "psg-info --json on a truncated stream" 'truncated'
# The stream as given is whole: the same programs succeed on it.
run psg-dump --no-samples <"$W/full.stream"
if [ "$rc" -eq 0 ] && [ ! -s "$TMP/err" ]; then
	pass "psg-dump on the whole stream: exit 0, quiet"
else
	flunk "psg-dump on the whole stream: exit 0, quiet (exit $rc)"
fi

# ---- psg-read refuses a terminal ------------------------------------------

if command -v script >/dev/null 2>&1 &&
    script -qec true /dev/null </dev/null >/dev/null 2>&1; then
	script -qec "psg-read '$C'" /dev/null </dev/null >"$TMP/tty" 2>&1
	rc=$?
	tr -d '\r' <"$TMP/tty" >"$TMP/err"
	: >"$TMP/out"
	expect 1 psg-read "psg-read with a terminal as stdout (script pty)" 'terminal'
else
	skip "psg-read to a terminal: script(1) cannot make a pty here"
fi

finish
