#!/bin/sh
# scripts/demo.sh [RECORDING.edf] -- the main job: psg-night on a recording
# (by default a generated 2-h night with known events, then the bundled
# real Sleep-EDF excerpt with its expert hypnogram) -> one HDF5 file per
# night and a summary for people; a look inside an HDF5 file; slow-wave
# calls scored against the generated truth; the cohort table of the nights
# (psg-collect).  Run through `make demo` (which builds first).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/${PSG_BUILD:-build}/bin
OUT=${OUT:-$ROOT/out}
mkdir -p "$OUT"

if [ $# -ge 1 ]; then
	echo "== psg-night $1"
	"$BIN/psg-night" --report "$1" -o "$OUT/$(basename "${1%.*}").h5"
	exit 0
fi

EDF=$OUT/night.edf
echo "== psg-synth: a generated 2-h night (profile mixed, seed 1)"
"$BIN/psg-synth" -H 2 -p mixed -s 1 -o "$EDF"
echo "ground truth: $OUT/night.events.tsv, night.epochs.tsv, night.hypnogram.edf"
cut -f4 "$OUT/night.events.tsv" | tail -n +2 | sort | uniq -c | sort -rn |
	awk '{printf "  %6d %s\n", $1, $2}'
echo
echo "== psg-info $EDF"
"$BIN/psg-info" "$EDF"
echo
echo "== psg-night: psg-read | psg-wake | psg-sws | psg-spindle | psg-emg | psg-h5"
"$BIN/psg-night" --report "$EDF" --hypnogram "$OUT/night.hypnogram.edf" \
	-o "$OUT/night.h5"
echo
echo "== what $OUT/night.h5 holds"
/usr/bin/python3 "$ROOT/scripts/h5show.py" "$OUT/night.h5"
echo
echo "== psg-sws against the generated truth (psg-score)"
"$BIN/psg-read" "$EDF" --annotations "$OUT/night.hypnogram.edf" |
	"$BIN/psg-sws" | "$BIN/psg-score" -r "$OUT/night.hypnogram.edf"

echo
echo "== the bundled real excerpt (Sleep-EDF SC4001, with its hypnogram;"
echo "   EEG only: its chin is a 1-Hz envelope and it has no leg EMG)"
"$BIN/psg-night" --report --detectors wake,sws,spindle \
	"$ROOT/testdata/SC4001E0-excerpt.edf" \
	--hypnogram "$ROOT/testdata/SC4001EC-Hypnogram.edf" \
	-o "$OUT/SC4001E0-excerpt.h5"

echo
echo "== psg-collect: one cohort table of both nights ($OUT/cohort.csv)"
"$BIN/psg-collect" -o "$OUT/cohort.h5" "$OUT/night.h5" \
	"$OUT/SC4001E0-excerpt.h5"
cut -d, -f1,7-16 "$OUT/cohort.csv" | column -s, -t

echo
echo "== for other tools (psg-export): EDF+ annotations, BIDS events, TSV tables"
"$BIN/psg-export" "$OUT/night.h5" --edf-annotations "$OUT/night.annot.edf" \
	--bids "$OUT/night" --tsv "$OUT/night-tables"
echo
echo "Look at: $OUT/night.html and $OUT/SC4001E0-excerpt.html (a page per night)"
echo "Open in EDFbrowser or MNE: $OUT/night.annot.edf beside $EDF"
echo "BIDS: $OUT/night_events.tsv, night_events.json, night_hypnogram.tsv"
echo "R, Octave, spreadsheets: $OUT/night-tables/*.tsv"
