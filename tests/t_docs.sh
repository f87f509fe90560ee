#!/bin/sh
# Docs that run: every Python and R block of docs/hdf5.md and README.md, and
# their shell blocks that read results, against a generated night's output
# (tests/docs_run.py says which blocks and why others are skipped), so a
# renamed column breaks the build instead of the reader.
. "$ROOT/tests/lib.sh"
if ! have_h5py; then skip "h5py missing"; finish; fi

# The night the docs read: psg-night's chain plus psg-spectrum --spectra,
# with the samples (/signals), and its cohort table.
cd "$TMP" || exit 2
psg-synth -H 1 -p mixed -s 5 -o night.edf >/dev/null
psg-read night.edf | psg-wake --optional | psg-sws --optional |
	psg-spindle --optional | psg-stage --optional |
	psg-emg --optional | psg-spectrum --spectra |
	psg-h5 --signals -o night.h5
psg-collect -o cohort.h5 night.h5 2>/dev/null
check "the docs' night and cohort are made" test -s night.h5 -a -s cohort.csv
$PY "$ROOT/tests/docs_run.py" "$TMP" "$ROOT/docs/hdf5.md" "$ROOT/README.md" ||
	failures=$((failures + 1))
finish
