#!/bin/sh
# t_badinputs.sh -- every input that fuzzing found harmful (issue 16), run
# through every stage that reads that kind of input: the in-tree corpus
# tests/fuzz/regress/ (small hand-made and minimized files) and, when
# present, ../shared/bad-inputs/ (the original reproducers).
#
# Each run has a time limit (timeout 60 s) and an output-size limit
# (ulimit -f: 100 MiB per file) and must:
#   - not die of a signal, a timeout or the file-size limit, nor report a
#     sanitizer error (the SAN build aborts: that is a non-0/2/3 exit);
#   - exit 0, 2 or 3 (3: valid but unsuitable, e.g. no EMG channel), and
#     on 2 or 3 print exactly one "psg-<verb>: ..." line besides warnings,
#     with no control characters (a corrupt input quoted raw);
#   - write no output larger than 20 MiB (the inputs are small: a bigger
#     output is runaway), and leave no temporary file (*.tmp.*).
# Kinds: streams (*.psg, *.bin) go through psg-dump, psg-h5, psg-filter,
# psg-spectrum, psg-sws, psg-wake, psg-spindle, psg-emg, psg-stage and
# psg-score -e
# (psg-info and psg-read share psg-dump's reader); EDF/BDF files through
# psg-read (auto, edflib, native), psg-read -a (as annotations), psg-score
# -r and psg-synth --hypnogram;
# text files through psg-synth --hypnogram, psg-score -r and psg-score -e;
# HDF5 results (*.h5) through psg-collect, psg-report and psg-export; audio
# (*.wav, *.au, *.flac) through psg-read --audio.
: "${ROOT:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$ROOT/tests/lib.sh"
case $PSG_BUILD in /*) ;; *) PSG_BUILD=$ROOT/$PSG_BUILD ;; esac
PATH=$PSG_BUILD/bin:$PATH
export PATH
BAD=${BAD_INPUTS:-$ROOT/../shared/bad-inputs}
REG=$ROOT/tests/fuzz/regress
MAXOUT=$((20 * 1024 * 1024))
W=$TMP/w
mkdir -p "$W"

# A valid stream to score against, and a valid EDF to merge onto.
psg-read "$ROOT/testdata/SC4001E0-excerpt.edf" 2>/dev/null |
	psg-sws --optional 2>/dev/null >"$TMP/base.psg"
BASE_EDF=$ROOT/testdata/SC4001E0-excerpt.edf

runs=0 bad=0
# one NAME CMD: runs CMD (a shell command line, in $W) under the limits;
# the stream it writes goes to $W/stdout.
one() {
	name=$1 cmd=$2
	runs=$((runs + 1))
	rm -rf "$W" && mkdir -p "$W"
	(cd "$W" && ulimit -f 204800 && exec timeout 60 sh -c "$cmd" \
		>"$W/stdout" 2>"$W/stderr")
	rc=$?
	why=
	case $rc in
	0) ;;
	2|3) nl=$(grep -acv ': warning: ' "$W/stderr")
	     [ "$nl" -eq 1 ] || why="$nl message lines"
	     grep -av ": warning: " "$W/stderr" | grep -aq '^psg-[a-z0-9]*: .' ||
		why="$why${why:+; }no 'psg-<verb>: ' message" ;;
	124) why="timed out (60 s)" ;;
	*) why="exit $rc" ;;
	esac
	# A message quoting a corrupt input must not carry its control
	# characters (carriage returns, escapes) to the terminal.
	! LC_ALL=C tr -d '\n\t' <"$W/stderr" | LC_ALL=C grep -q '[[:cntrl:]]' ||
		why="$why${why:+; }control characters in a message"
	big=$(find "$W" -type f -size +$((MAXOUT / 1024))k | head -n 1)
	[ -z "$big" ] || why="$why${why:+; }output over 20 MiB: ${big##*/}"
	tmp=$(find "$W" -name '*.tmp.*' | head -n 1)
	[ -z "$tmp" ] || why="$why${why:+; }temporary file left: ${tmp##*/}"
	if [ -n "$why" ]; then
		bad=$((bad + 1))
		flunk "$name: $why"
		head -n 5 "$W/stderr" | sed 's/^/#   /'
	fi
}

kind_of() {
	case $1 in
	*.psg|*.bin) echo stream ;;
	*.edf|*.bdf|*.EDF|*.BDF) echo edf ;;
	*.tsv|*.txt) echo text ;;
	*.h5) echo h5 ;;
	*.wav|*.au|*.flac) echo audio ;;
	*) echo skip ;;
	esac
}

stream_stages() {
	f=$1 b=${1##*/}
	for s in "psg-dump --no-samples" \
	    "psg-filter -c 0 --highpass 0.5" "psg-spectrum" \
	    "psg-sws --optional" "psg-wake" "psg-spindle --optional" \
	    "psg-emg --optional" "psg-stage --optional"; do
		one "$b | $s" "$s < '$f'"
	done
	one "$b | psg-h5 --signals" "psg-h5 --signals -o out.h5 < '$f'"
	one "psg-score -e $b" "psg-score -e '$f' '$TMP/base.psg'"
}

edf_stages() {
	f=$1 b=${1##*/}
	for be in auto edflib native; do
		one "psg-read --backend $be $b" "psg-read --backend $be '$f'"
	done
	one "psg-read -a $b" "psg-read -a '$f' '$BASE_EDF'"
	one "psg-score -r $b" "psg-score -r '$f' '$TMP/base.psg'"
	one "psg-synth --hypnogram $b" \
		"psg-synth --hypnogram '$f' -n 2 --eeg-rate 64 --emg-rate 64 -o x.edf"
}

text_stages() {
	f=$1 b=${1##*/}
	one "psg-synth --hypnogram $b" \
		"psg-synth --hypnogram '$f' -n 2 --eeg-rate 64 --emg-rate 64 -o x.edf"
	one "psg-score -r $b" "psg-score -r '$f' '$TMP/base.psg'"
	one "psg-score -e $b" "psg-score -e '$f' '$TMP/base.psg'"
}

h5_stages() {
	f=$1 b=${1##*/}
	one "psg-collect $b" "psg-collect '$f'"
	one "psg-report $b" "psg-report '$f' -o r.html"
	one "psg-export $b" \
		"psg-export '$f' --edf-annotations a.edf --bids b --tsv t"
}

audio_stages() {
	f=$1 b=${1##*/}
	one "psg-read --audio $b" "psg-read --audio '$f' '$BASE_EDF'"
}

corpus() {
	dir=$1 label=$2
	before=$bad runs0=$runs files=0
	for f in "$dir"/*; do
		k=$(kind_of "$f")
		[ "$k" = skip ] && continue
		files=$((files + 1))
		"${k}_stages" "$f"
	done
	if [ "$bad" -eq "$before" ]; then
		pass "$label: $files files, $((runs - runs0)) runs, all clean"
	fi
}

check "a valid base stream" test -s "$TMP/base.psg"
corpus "$REG" "tests/fuzz/regress"
if [ -d "$BAD" ]; then
	corpus "$BAD" "../shared/bad-inputs"
else
	skip "../shared/bad-inputs is absent: only the in-tree corpus ran"
fi
# The crash probe (stages/stage.h): this mutated result makes libhdf5
# free a wild pointer while it lists /summary; the ASan build dies of it
# (the release build's allocator happens not to), and with the probe it
# is one clean message instead.
f=$REG/h5-libhdf5-bus-error.h5
case $PSG_BUILD in
*san*)
	(cd "$W" && PSG_CRASH_PROBE=0 psg-report "$f" -o r.html) \
		>/dev/null 2>&1
	rc=$?
	check "libhdf5 dies on $(basename "$f") without the probe (exit $rc)" \
		test "$rc" -ne 0 -a "$rc" -ne 2
	(cd "$W" && psg-report "$f" -o r.html) >/dev/null 2>"$W/err"
	rc=$?
	check "...and with it psg-report exits 2 saying so (exit $rc)" sh -c \
		"[ $rc -eq 2 ] && grep -q 'HDF5 library crashed' '$W/err'" ;;
*) skip "the libhdf5 crash shows under the ASan build only" ;;
esac
echo "# $runs runs"
finish
