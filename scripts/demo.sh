#!/bin/sh
# scripts/demo.sh [RECORDING.edf] -- what psgpipe gives a sleep researcher:
# psg-night on a generated 2-h night with known events and on a real
# excerpt that shows sleep (DREAMS excerpt 1 from ../shared when present,
# else the bundled 5-min Sleep-EDF excerpt), each night's summary, its
# page (psg-report) and exports for other tools (psg-export), the calls
# scored against the truth and the expert (psg-score), and the cohort
# table (psg-collect).  Run through `make demo`, which builds quietly
# first.  With a recording: that night alone.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/${PSG_BUILD:-build}/bin
OUT=${OUT:-$ROOT/out}
SHARED=${SHARED:-$ROOT/../shared/data}
mkdir -p "$OUT"

# night IN OUT.h5 [psg-night options]: the night with its page, then its
# exports beside it; psg-night prints the summary.
night() {
	in=$1 h5=$2
	shift 2
	"$BIN/psg-night" --report "$@" "$in" -o "$h5"
	"$BIN/psg-export" "$h5" --edf-annotations "${h5%.h5}.annot.edf" \
		--bids "${h5%.h5}" --tsv "${h5%.h5}-tables"
	echo "  exports: ${h5%.h5}.annot.edf (EDF+ annotations)," \
		"${h5%.h5}_events.tsv (BIDS), ${h5%.h5}-tables/ (TSV)"
}

if [ $# -ge 1 ]; then
	night "$1" "$OUT/$(basename "${1%.*}").h5"
	exit 0
fi

EDF=$OUT/night.edf
echo "== A generated 2-h night with known events (psg-synth -p mixed -s 1)"
"$BIN/psg-synth" -H 2 -p mixed -s 1 -o "$EDF" >/dev/null
night "$EDF" "$OUT/night.h5" --hypnogram "$OUT/night.hypnogram.edf"
echo "  against the generated truth (psg-score):"
"$BIN/psg-score" -r "$OUT/night.hypnogram.edf" -e "$OUT/night.events.tsv" \
	-l slow_wave -t slow_waves "$OUT/night.h5" | sed 's/^/    /'

echo
D=$SHARED/dreams
if [ -f "$D/excerpt1_eeg_hyp.edf" ] && [ -f "$D/Hypnogram_excerpt1.txt" ]; then
	echo "== A real excerpt: DREAMS excerpt 1, 30 min of C3-A1 EEG with" \
		"the expert's R&K staging (20-s epochs)"
	real=$OUT/dreams1.h5
	night "$D/excerpt1_eeg_hyp.edf" "$real" --epoch 20 \
		--detectors wake,sws,spindle,stage --hypnogram "$D/Hypnogram_excerpt1.txt"
	echo "  against the expert (psg-score; N3 = S3+S4; stages: psg-stage from the EEG alone; in-sample, these excerpts shaped the defaults):"
	"$BIN/psg-score" -r "$D/Hypnogram_excerpt1.txt" "$real" | sed 's/^/    /'
else
	echo "== A real excerpt: the bundled Sleep-EDF SC4001 (5 min, EEG only;" \
		"../shared/data/dreams is absent)"
	real=$OUT/SC4001E0-excerpt.h5
	night "$ROOT/testdata/SC4001E0-excerpt.edf" "$real" \
		--detectors wake,sws,spindle,stage \
		--hypnogram "$ROOT/testdata/SC4001EC-Hypnogram.edf"
fi

echo
echo "== The cohort table of both nights (psg-collect): $OUT/cohort.csv"
"$BIN/psg-collect" -o "$OUT/cohort.h5" "$OUT/night.h5" "$real"
awk -F, '
function v(k, d) {
	if (!(k in col) || $col[k] == "")
		return "n/a"
	return sprintf("%." d "f", $col[k])
}
function row(a, b, c, d, e, f, g, h) {
	printf("  %-20s %8s %8s %6s %6s %7s %9s %6s\n", a, b, c, d, e, f, g, h)
}
NR == 1 {
	for (i = 1; i <= NF; i++)
		col[$i] = i
	row("night", "TST min", "TRT min", "SE %", "WASO", "N3 min",
	    "spindles", "LM/h")
	next
}
{
	row($1, v("total_sleep_time", 1), v("recording_time", 1),
	    v("sleep_efficiency", 1), v("waso", 1), v("sws_minutes", 1),
	    v("spindle_count", 0), v("lm_index", 1))
}' "$OUT/cohort.csv"

echo
echo "== Where to look"
echo "  pages:    $OUT/night.html, ${real%.h5}.html (open in a browser)"
echo "  EDF+:     $OUT/night.annot.edf beside $EDF (EDFbrowser, MNE)"
echo "  BIDS:     $OUT/night_events.tsv, night_events.json, night_hypnogram.tsv"
echo "  tables:   $OUT/night-tables/*.tsv (R, Octave, spreadsheets)"
echo "  HDF5:     $OUT/night.h5 (docs/hdf5.md: h5py, pandas, R, MATLAB)"
