#!/bin/sh
# scripts/demo.sh -- the main job on bundled data: read a real PSG excerpt
# with its expert hypnogram, write HDF5, show what it holds.  Grows as the
# detector stages land.  Run through `make demo` (which builds first).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/${PSG_BUILD:-build}/bin
OUT=${OUT:-$ROOT/out}
mkdir -p "$OUT"
EDF=$ROOT/testdata/SC4001E0-excerpt.edf
HYP=$ROOT/testdata/SC4001EC-Hypnogram.edf

echo "== psg-info $EDF"
"$BIN/psg-info" "$EDF"
echo
echo "== psg-read | psg-h5"
"$BIN/psg-read" "$EDF" --annotations "$HYP" |
	"$BIN/psg-h5" -o "$OUT/SC4001E0-excerpt.h5"
/usr/bin/python3 "$ROOT/scripts/h5show.py" "$OUT/SC4001E0-excerpt.h5"
