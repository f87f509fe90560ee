#!/bin/sh
# scripts/demo.sh [RECORDING.edf] -- the main job: a recording (by default
# a generated 2-h night with known events) -> stream -> HDF5, and a look at
# what the HDF5 file holds; then the same for the bundled real Sleep-EDF
# excerpt with its expert hypnogram.  Grows as the detector stages land.
# Run through `make demo` (which builds first).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/${PSG_BUILD:-build}/bin
OUT=${OUT:-$ROOT/out}
mkdir -p "$OUT"

if [ $# -ge 1 ]; then
	EDF=$1
	HYP=
else
	EDF=$OUT/night.edf
	HYP=$OUT/night.hypnogram.edf
	echo "== psg-synth: a generated 2-h night (profile mixed, seed 1)"
	"$BIN/psg-synth" -H 2 -p mixed -s 1 -o "$EDF"
	echo "ground truth: $OUT/night.events.tsv, night.epochs.tsv, night.hypnogram.edf"
	cut -f4 "$OUT/night.events.tsv" | tail -n +2 | sort | uniq -c | sort -rn |
		awk '{printf "  %6d %s\n", $1, $2}'
fi
echo
echo "== psg-info $EDF"
"$BIN/psg-info" "$EDF"
echo
H5=$OUT/$(basename "${EDF%.*}").h5
echo "== psg-read | psg-filter (EEG 0.3-35 Hz) | psg-spectrum | psg-sws | psg-h5 -o $H5"
# EEG channels: those psg-info calls EEG (first column of its table).
EEG=$("$BIN/psg-info" --json "$EDF" | /usr/bin/python3 -c '
import json, sys
print(",".join(c["label"] for c in json.load(sys.stdin)["channels"]
               if c["kind"] == "EEG" and c["rate_hz"] > 80))')
read_night() {
	if [ -n "$HYP" ]; then
		"$BIN/psg-read" "$EDF" --annotations "$HYP"
	else
		"$BIN/psg-read" "$EDF"
	fi
}
if [ -n "$EEG" ]; then
	read_night | "$BIN/psg-filter" -c "$EEG" --highpass 0.3 --lowpass 35 |
		"$BIN/psg-spectrum" -c "$EEG" | "$BIN/psg-sws" |
		"$BIN/psg-h5" -o "$H5"
else
	read_night | "$BIN/psg-h5" -o "$H5"
fi
/usr/bin/python3 "$ROOT/scripts/h5show.py" "$H5"
if [ -n "$HYP" ] && [ -n "$EEG" ]; then
	echo
	echo "== psg-sws against the generated truth (psg-score)"
	read_night | "$BIN/psg-sws" | "$BIN/psg-score" -r "$HYP"
fi

if [ $# -eq 0 ]; then
	echo
	echo "== the bundled real excerpt (Sleep-EDF SC4001, with its hypnogram)"
	"$BIN/psg-read" "$ROOT/testdata/SC4001E0-excerpt.edf" \
		--annotations "$ROOT/testdata/SC4001EC-Hypnogram.edf" |
		"$BIN/psg-h5" -o "$OUT/SC4001E0-excerpt.h5"
	/usr/bin/python3 "$ROOT/scripts/h5show.py" "$OUT/SC4001E0-excerpt.h5" 2
fi
