#!/bin/sh
# A night's figures mean what docs/hdf5.md says: tests/figures_check.py
# recomputes each from the events, epochs and segments stored in the HDF5
# file (slow_wave_density, recording_time and sleep efficiency of an EDF+D
# night with gaps, emg_bursts.sleep with psg-wake's epochs), and a
# whole-body movement on both legs is one spasm listing both (issue 15).
. "$ROOT/tests/lib.sh"
if ! have_h5py; then skip "h5py missing"; finish; fi
CHECK="$PY $ROOT/tests/figures_check.py"

chain() {   # chain EDF OUT.h5: the detectors of psg-night, in its order
	psg-read "$1" | psg-wake 2>>"$TMP/all.log" | psg-sws 2>>"$TMP/all.log" |
		psg-emg 2>>"$TMP/all.log" | psg-h5 -o "$2"
}

# EDF+D: two pauses in 3 h.
psg-synth -H 3 -p mixed -s 5 --gaps 2 -o "$TMP/gaps.edf" >/dev/null
chain "$TMP/gaps.edf" "$TMP/gaps.h5"
# The truth has two large-muscle-group movements of > 10 s and no spasm.
psg-synth -H 2 -p insomnia -s 3 -o "$TMP/lmgm.edf" >/dev/null
chain "$TMP/lmgm.edf" "$TMP/lmgm.h5"
{
$CHECK "$TMP/gaps.h5" --eeg C4-M1 --name edf+d
$CHECK "$TMP/lmgm.h5" --eeg C4-M1 --name lmgm --lmgm "$TMP/lmgm.events.tsv"
} >"$TMP/out" 2>&1
cat "$TMP/out"
grep -q '^not ok' "$TMP/out" && flunk "the figure checks above"
grep -q '^ok' "$TMP/out" || flunk "the figure checks did not run"
rt=$($PY -c 'import h5py, sys; print(h5py.File(sys.argv[1])["summary"].attrs["recording_time"])' "$TMP/gaps.h5")
check "EDF+D recording_time $rt min is below the 180 min the file spans" \
	awk -v r="$rt" 'BEGIN {exit !(r > 100 && r < 180)}'

if have_shared; then
	for i in 1 2 3 4; do
		psg-read --epoch 20 "$SHARED/dreams/excerpt${i}_eeg_hyp.edf" \
			2>>"$TMP/all.log" | psg-wake 2>>"$TMP/all.log" |
			psg-sws 2>>"$TMP/all.log" | psg-h5 -o "$TMP/d$i.h5"
		$CHECK "$TMP/d$i.h5" --name "DREAMS excerpt $i" >"$TMP/out$i" 2>&1
		cat "$TMP/out$i"
		grep -q '^ok' "$TMP/out$i" && ! grep -q '^not ok' "$TMP/out$i" ||
			flunk "DREAMS excerpt $i: the density check above"
	done
else
	skip "../shared absent: DREAMS slow-wave density"
fi

check "no sanitizer report from the stages" \
	sh -c "! grep -q 'runtime error\|Sanitizer' '$TMP/all.log'"
finish
