#!/bin/sh
# psg-export: a generated 1-h night (psg-night with its hypnogram) as EDF+
# annotations read back by edflib and MNE, BIDS events and hypnogram, TSV
# tables read by pandas and R (export_check.py, every value compared with
# the HDF5); bad input and outputs that never appear half-written.
. "$ROOT/tests/lib.sh"
if ! have_h5py; then skip "h5py missing"; finish; fi

psg-synth -H 1 -p mixed -s 5 -o "$TMP/n.edf" >/dev/null
psg-night -q "$TMP/n.edf" --hypnogram "$TMP/n.hypnogram.edf" -o "$TMP/n.h5"
mkdir -p "$TMP/bids"
psg-export "$TMP/n.h5" --edf-annotations "$TMP/n.annot.edf" \
	--bids "$TMP/bids/sub-01" --tsv "$TMP/tsv" 2>"$TMP/err"
check "psg-export writes the three exports, nothing on stderr" \
	test -s "$TMP/n.annot.edf" -a -s "$TMP/bids/sub-01_events.tsv" -a \
	-s "$TMP/tsv/epochs.tsv" -a ! -s "$TMP/err"
head=$(dd if="$TMP/n.annot.edf" bs=1 skip=192 count=5 2>/dev/null)
check "the EDF+ file is EDF+C ('$head')" test "$head" = "EDF+C"
"$PSG_BUILD/tools/edfannot" "$TMP/n.annot.edf" >"$TMP/n.dump"
check "edflib opens it" test -s "$TMP/n.dump"
$PY "$ROOT/tests/export_check.py" "$TMP/n.h5" "$TMP/n.dump" \
	"$TMP/n.annot.edf" "$TMP/bids/sub-01" "$TMP/tsv" ||
	failures=$((failures + 1))
# The bundled real excerpt (Sleep-EDF, 5 min) with the expert hypnogram.
psg-night -q --detectors wake,sws,spindle \
	"$ROOT/testdata/SC4001E0-excerpt.edf" -o "$TMP/sc.h5" \
	--hypnogram "$ROOT/testdata/SC4001EC-Hypnogram.edf" 2>/dev/null
psg-export "$TMP/sc.h5" --edf-annotations "$TMP/sc.annot.edf" \
	--bids "$TMP/bids/sc" --tsv "$TMP/sctsv"
"$PSG_BUILD/tools/edfannot" "$TMP/sc.annot.edf" >"$TMP/sc.dump"
echo "# the real excerpt SC4001E0 (5 min) and its hypnogram:"
$PY "$ROOT/tests/export_check.py" "$TMP/sc.h5" "$TMP/sc.dump" \
	"$TMP/sc.annot.edf" "$TMP/bids/sc" "$TMP/sctsv" ||
	failures=$((failures + 1))
left=$(find "$TMP" -name '*.tmp.*' | wc -l)
check "no temporary file is left ($left)" test "$left" -eq 0

# R reads the TSV tables (Octave and spreadsheets read the same files).
if command -v Rscript >/dev/null 2>&1; then
	cat >"$TMP/read.R" <<'EOF'
d <- commandArgs(TRUE)
e <- read.delim(file.path(d, "epochs.tsv"))
b <- read.delim(file.path(d, "emg_bursts.tsv"))
s <- read.delim(file.path(d, "summary.tsv"))
cat(nrow(e), is.character(e$stage), is.character(b$label),
    s$unit[s$name == "waso"], "\n")
EOF
	r=$(Rscript "$TMP/read.R" "$TMP/tsv" 2>&1)
	nep=$(awk 'NR > 1 { k++ } END { print k }' "$TMP/tsv/epochs.tsv")
	check "R read.delim: epochs, text stage and labels, units ($r)" \
		test "$r" = "$nep TRUE TRUE min "
else
	skip "R: Rscript is not installed (r-base-core)"
fi

# Bad input and usage.
expect_exit 1 "no output option is a usage error" psg-export "$TMP/n.h5"
expect_exit 1 "no night is a usage error" psg-export --tsv "$TMP/x"
expect_exit 2 "a missing night exits 2" psg-export "$TMP/none.h5" --tsv "$TMP/x"
printf 'not hdf5\n' >"$TMP/bad.h5"
expect_exit 2 "a file that is not HDF5 exits 2" psg-export "$TMP/bad.h5" \
	--edf-annotations "$TMP/bad.edf"
check "...and writes nothing" test ! -e "$TMP/bad.edf"
expect_exit 2 "an output in a missing directory exits 2" psg-export \
	"$TMP/n.h5" --bids "$TMP/nodir/sub-01"
check "psg-export --version names psgpipe" \
	sh -c "psg-export --version | grep -q '^psg-export (psgpipe) '"
check "psg-export --help goes to stdout, exit 0" \
	sh -c "psg-export --help | grep -q '^usage: psg-export'"
finish
