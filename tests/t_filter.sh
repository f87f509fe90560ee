#!/bin/sh
# t_filter.sh -- psg-filter and psg-spectrum measured through the stages,
# on EDF files written by tests/filter_check.py (exact sines, white noise,
# bursts) and on shared recordings:
#   a. --lowpass 35 @256 Hz, --highpass 0.3 @100, --band 0.5-2 @100,
#      --notch 50 @500: pass-band sines within 0.2 % and in phase, stop-band
#      sines down >= 59 dB (output RMS over the interior), white noise:
#      pass band flat within 0.1 dB and stop band <= -55 dB (Welch), a
#      burst's cross-correlation peaking at lag 0, as many samples out as
#      in, unchanged block times (psg-dump), and the whole output equal to
#      a held-edge zero-phase convolution with the Kaiser taps re-derived
#      in numpy;
#   b. EDF+D ($SHARED/format/edfPlusD.edf) through psg-filter -c 0,noise
#      (squarewave and noise): 6 segments kept, each equal to the segment
#      filtered alone (psg-filter on an EDF holding only that segment, and
#      numpy);
#   c. --as keeps the originals bit-exact, without it the channel is
#      replaced, the prefilter field, a cascade == product of its filters;
#   d. exit codes and one-line messages: 1 for usage (no -c, no filter, a
#      malformed value), 3 for a filter impossible at the channel's rate
#      (--lowpass 60 at 100 Hz) and for --band 5-2 (LO > HI is found by
#      the design, after the header is read), 2 for a truncated stream;
#   e. psg-spectrum: band powers of the pyedflib generator's sines, white
#      noise power, NaN where an epoch has no whole window, column names.
#
#   PSG_BUILD=build sh tests/t_filter.sh      (make check runs it)
: "${ROOT:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$ROOT/tests/lib.sh"
case $PSG_BUILD in /*) ;; *) PSG_BUILD=$ROOT/$PSG_BUILD ;; esac
PATH=$PSG_BUILD/bin:$PATH
export PATH
FC=$ROOT/tests/filter_check.py
if ! have_h5py; then skip "h5py/numpy missing for $PY"; finish; fi

# fc ARGS...: runs filter_check.py; its "ok - " / "not ok - " lines become
# TAP lines, others comments; a crash is a failure.
fc() {
	"$PY" "$FC" "$@" >"$TMP/fc.out" 2>&1
	fcrc=$?
	while IFS= read -r line; do
		case $line in
		"ok - "*) pass "${line#ok - }" ;;
		"not ok - "*) flunk "${line#not ok - }" ;;
		"# "*) echo "$line" ;;
		*) echo "# $line" ;;
		esac
	done <"$TMP/fc.out"
	[ "$fcrc" -eq 0 ] || flunk "filter_check.py $1 exited with $fcrc"
}

# run CMD...: stdout in $TMP/out, stderr in $TMP/err, status in rc.
run() { "$@" >"$TMP/out" 2>"$TMP/err"; rc=$?; }

# ---- a. measured responses
"$PY" "$FC" gen-response "$TMP" || flunk "gen-response failed"
for name in lp hp bp notch; do
	case $name in
	lp) opt="--lowpass 35" ;;
	hp) opt="--highpass 0.3" ;;
	bp) opt="--band 0.5-2" ;;
	notch) opt="--notch 50" ;;
	esac
	# shellcheck disable=SC2086
	psg-read "$TMP/$name.edf" | psg-filter -c '*' $opt |
		psg-h5 --signals -z 0 -o "$TMP/$name.h5" &&
	psg-read "$TMP/$name.edf" | psg-dump --no-samples >"$TMP/$name.in.dump" &&
	psg-read "$TMP/$name.edf" | psg-filter -c '*' $opt |
		psg-dump --no-samples >"$TMP/$name.out.dump"
	if [ $? -ne 0 ]; then flunk "$name: the pipeline failed"; continue; fi
	fc response "$name" "$TMP"
	rm -f "$TMP/$name.h5" "$TMP/$name.edf"
done

# ---- b. EDF+D: the filter restarts at each gap
D=$SHARED/format/edfPlusD.edf
if [ -f "$D" ]; then
	nseg=$("$PY" "$FC" gen-edfd "$D" "$TMP")
	psg-read "$D" | psg-filter -c 0,noise --lowpass 20 >"$TMP/edfd.stream" &&
	psg-info --json <"$TMP/edfd.stream" >"$TMP/edfd.json" &&
	psg-h5 --signals -o "$TMP/edfd.h5" <"$TMP/edfd.stream"
	ok=$?
	k=0
	while [ "$k" -lt "${nseg:-0}" ]; do
		psg-read "$TMP/seg$k.edf" | psg-filter -c '*' --lowpass 20 |
			psg-h5 --signals -o "$TMP/seg$k.h5" || ok=1
		k=$((k + 1))
	done
	if [ "$ok" -eq 0 ]; then fc edfd "$D" "$TMP"
	else flunk "EDF+D: a pipeline failed"; fi
else
	skip "$D absent: EDF+D restart checks"
fi

# ---- c. --as, replacement, prefilter, cascade
"$PY" "$FC" gen-as "$TMP" || flunk "gen-as failed"
psg-read "$TMP/as.edf" | psg-h5 --signals -o "$TMP/as.in.h5" &&
psg-read "$TMP/as.edf" | psg-filter -c 'EEG*' --highpass 0.3 --lowpass 35 \
	--as 'LP %s' | psg-h5 --signals -o "$TMP/as.add.h5" &&
psg-read "$TMP/as.edf" | psg-filter -c 'EEG*' --highpass 0.3 --lowpass 35 \
	| psg-h5 --signals -o "$TMP/as.rep.h5" &&
psg-read "$TMP/as.edf" | psg-filter -c 'EEG*' --highpass 0.3 --lowpass 35 \
	--as 'LP %s' | psg-dump -H >"$TMP/as.dump"
if [ $? -eq 0 ]; then
	fc as "$TMP"
	p=$(grep '^channel 3 ' "$TMP/as.dump" | sed 's/.*prefilter=//')
	o=$(grep '^channel 0 ' "$TMP/as.dump" | sed 's/.*prefilter=//')
	if [ "$p" = '"HP:0.3Hz LP:35Hz"' ] && [ "$o" = '""' ]; then
		pass "psg-dump channel line: LP EEG A prefilter=$p, EEG A prefilter=$o"
	else
		flunk "psg-dump prefilter: LP EEG A $p (want \"HP:0.3Hz LP:35Hz\"), EEG A $o"
	fi
else
	flunk "--as pipelines failed"
fi
for k in hp lp notch all; do
	case $k in
	hp) opt="--highpass 0.3" ;;
	lp) opt="--lowpass 35" ;;
	notch) opt="--notch 50" ;;
	all) opt="--highpass 0.3 --lowpass 35 --notch 50" ;;
	esac
	# shellcheck disable=SC2086
	psg-read "$TMP/casc.edf" | psg-filter -c '*' $opt |
		psg-h5 --signals -z 0 -o "$TMP/casc.$k.h5" ||
		flunk "cascade pipeline ($opt) failed"
done
psg-read "$TMP/casc.edf" | psg-filter -c 0 --highpass 0.3 --lowpass 35 \
	--notch 50 | psg-dump -H >"$TMP/casc.dump"
p=$(grep '^channel 0 ' "$TMP/casc.dump" | sed 's/.*prefilter=//')
if [ "$p" = '"HP:0.3Hz LP:35Hz N:50Hz"' ]; then pass "cascade prefilter=$p"
else flunk "cascade prefilter=$p, want \"HP:0.3Hz LP:35Hz N:50Hz\""; fi
fc cascade "$TMP"

# ---- d. errors: exit status and one line "psg-filter: ..."
psg-read "$TMP/as.edf" >"$TMP/as.stream"
# expect CODE DESC: the last run exited CODE with one stderr line.
expect() {
	nl=$(wc -l <"$TMP/err" | tr -d ' ')
	if [ "$rc" -eq "$1" ] && [ "$nl" -eq 1 ] &&
	    grep -q '^psg-filter: .' "$TMP/err" && [ ! -s "$TMP/out" ]; then
		pass "$2: exit $rc, one line: $(cat "$TMP/err")"
	else
		flunk "$2: exit $rc (want $1), $nl stderr lines"
		sed 's/^/#   /' "$TMP/err"
	fi
}
run psg-filter --lowpass 35 <"$TMP/as.stream"
expect 1 "no -c"
run psg-filter -c 0 <"$TMP/as.stream"
expect 1 "no filter"
run psg-filter -c 0 --lowpass 200 <"$TMP/as.stream"
expect 3 "--lowpass 200 on a 256-Hz channel"
psg-read "$ROOT/testdata/SC4001E0-excerpt.edf" -c 0 >"$TMP/r100.stream"
if [ "$(psg-info --json <"$TMP/r100.stream" | grep -o '"rate_hz": [0-9.]*')" = \
    '"rate_hz": 100' ]; then
	run psg-filter -c 0 --lowpass 60 <"$TMP/r100.stream"
	expect 3 "--lowpass 60 on a 100-Hz channel"
	# An empty band is found when the channel's design is made (after the
	# header is read), so it is "unsuitable" (3), not a usage error (1).
	run psg-filter -c 0 --band 5-2 <"$TMP/r100.stream"
	expect 3 "--band 5-2 (LO > HI)"
else
	flunk "testdata/SC4001E0-excerpt.edf channel 0 is not at 100 Hz"
fi
run psg-filter -c 0 --band 5 <"$TMP/as.stream"
expect 1 "--band 5 (no HI)"
run psg-filter -c 0 --lowpass abc <"$TMP/as.stream"
expect 1 "--lowpass abc"
run psg-filter -c 'EEG*' --lowpass 35 --as LP <"$TMP/as.stream"
expect 1 "--as without %s for two channels"
run psg-filter -c 'EEG A' --lowpass 35 --as 'EEG B' <"$TMP/as.stream"
expect 1 "--as naming an existing channel"
run psg-filter -c nothing --lowpass 35 <"$TMP/as.stream"
expect 3 "no channel matches"
size=$(wc -c <"$TMP/as.stream" | tr -d ' ')
head -c $((size / 2)) "$TMP/as.stream" >"$TMP/trunc.stream"
run psg-filter -c 0 --lowpass 35 <"$TMP/trunc.stream"
# The stage has already written a header and blocks when it finds the
# truncation: what matters is the status and the one message.
[ -s "$TMP/out" ] && : >"$TMP/out"
expect 2 "input truncated at $((size / 2)) of $size bytes"
head -c $((size - 3)) "$TMP/as.stream" >"$TMP/trunc.stream"
run psg-filter -c 0 --lowpass 35 <"$TMP/trunc.stream"
: >"$TMP/out"
expect 2 "input truncated inside its END record"

# ---- e. psg-spectrum
G=$SHARED/format/pyedflib_test_generator.edf
if [ -f "$G" ]; then
	if psg-read "$G" | psg-spectrum -c 'sine*' | psg-h5 -o "$TMP/gen.h5"
	then fc spectrum-gen "$G" "$TMP/gen.h5"
	else flunk "psg-spectrum on the generator file failed"; fi
else
	skip "$G absent: psg-spectrum on the pyedflib generator's sines"
fi
"$PY" "$FC" gen-spectrum "$TMP" || flunk "gen-spectrum failed"
if psg-read "$TMP/noise.edf" | psg-spectrum -c 'EEG*' |
    psg-h5 -o "$TMP/noise.h5"; then
	fc spectrum-noise "$TMP"
else
	flunk "psg-spectrum on white noise failed"
fi
finish
