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
# exported K WHAT: K.h5's three exports, read back by export_check.py.
exported() {
	psg-export "$TMP/$1.h5" --edf-annotations "$TMP/$1.annot.edf" \
		--bids "$TMP/bids/$1" --tsv "$TMP/$1tsv"
	"$PSG_BUILD/tools/edfannot" "$TMP/$1.annot.edf" >"$TMP/$1.dump"
	echo "# $2:"
	$PY "$ROOT/tests/export_check.py" "$TMP/$1.h5" "$TMP/$1.dump" \
		"$TMP/$1.annot.edf" "$TMP/bids/$1" "$TMP/$1tsv" ||
		failures=$((failures + 1))
}
# The bundled real excerpt (Sleep-EDF, 5 min) with the expert hypnogram.
psg-night -q --detectors wake,sws,spindle \
	"$ROOT/testdata/SC4001E0-excerpt.edf" -o "$TMP/sc.h5" \
	--hypnogram "$ROOT/testdata/SC4001EC-Hypnogram.edf" 2>/dev/null
exported sc "the real excerpt SC4001E0 (5 min) and its hypnogram"
# A night with psg-stage's hypnogram: the EDF+ stage annotations, the BIDS
# hypnogram and epochs.tsv's stage are its five stages.
psg-synth -H 1 -p healthy -s 3 -o "$TMP/st.edf" >/dev/null
psg-read "$TMP/st.edf" | psg-wake | psg-sws | psg-spindle | psg-stage |
	psg-h5 -o "$TMP/st.h5" 2>/dev/null
exported st "a night staged by psg-stage"
# A real excerpt with sleep: DREAMS excerpt 1 (30 min, R&K stages).
if have_shared && [ -f "$SHARED/dreams/excerpt1_eeg_hyp.edf" ]; then
	psg-night -q --epoch 20 --detectors wake,sws,spindle \
		"$SHARED/dreams/excerpt1_eeg_hyp.edf" -o "$TMP/d1.h5" \
		--hypnogram "$SHARED/dreams/Hypnogram_excerpt1.txt" 2>/dev/null
	exported d1 "DREAMS excerpt 1 (30 min of real sleep)"
else
	skip "../shared/data/dreams missing: no export of a real excerpt with sleep"
fi
left=$(find "$TMP" -name '*.tmp.*' | wc -l)
check "no temporary file is left ($left)" test "$left" -eq 0

# R reads the TSV tables (Octave and spreadsheets read the same files).
if command -v Rscript >/dev/null 2>&1; then
	cat >"$TMP/read.R" <<'EOF'
d <- commandArgs(TRUE)
e <- read.delim(file.path(d, "epochs.tsv"))
b <- read.delim(file.path(d, "emg_bursts.tsv"))
s <- read.delim(file.path(d, "summary.tsv"))
v <- read.delim(paste0(d, "/../bids/sub-01_events.tsv"), na.strings = "n/a")
h <- read.delim(paste0(d, "/../bids/sub-01_hypnogram.tsv"))
cat(nrow(e), is.character(e$sleep_stage), is.character(b$label),
    is.character(b$kind), s$unit[s$name == "waso"], nrow(v),
    is.character(v$trial_type), nrow(h) == nrow(e), "\n")
EOF
	r=$(Rscript "$TMP/read.R" "$TMP/tsv" 2>&1)
	nep=$(awk 'NR > 1 { k++ } END { print k }' "$TMP/tsv/epochs.tsv")
	nev=$(awk 'NR > 1 { k++ } END { print k }' "$TMP/bids/sub-01_events.tsv")
	check "R read.delim: TSV epochs, text stage, labels and kinds, units; BIDS events and hypnogram ($r)" \
		test "$r" = "$nep TRUE TRUE TRUE min $nev TRUE TRUE "
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
expect_exit 2 "--tsv naming a file exits 2" psg-export "$TMP/n.h5" --tsv "$TMP/n.h5"
check "...with one message naming it" sh -c "test \"\$(wc -l <'$TMP/stderr')\" -eq 1 &&
	grep -q '^psg-export: .*n.h5: not a directory (--tsv DIR' '$TMP/stderr'"
expect_exit 2 "--tsv in a missing directory exits 2" psg-export "$TMP/n.h5" \
	--tsv "$TMP/nodir/sub/tsv"
check "...with one message" sh -c "test \"\$(wc -l <'$TMP/stderr')\" -eq 1 &&
	grep -q 'nodir/sub/tsv: cannot create the directory: No such file' '$TMP/stderr'"
check "psg-export --version names psgpipe" \
	sh -c "psg-export --version | grep -q '^psg-export (psgpipe) '"
check "psg-export --help goes to stdout, exit 0" \
	sh -c "psg-export --help | grep -q '^usage: psg-export'"
finish
