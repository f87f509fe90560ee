#!/bin/sh
# EDF -> stream -> HDF5, every value checked with h5py against an
# independent Python decoder (tests/edfpy.py): bundled data always, the
# shared real files when present.
. "$ROOT/tests/lib.sh"
if ! have_h5py; then skip "h5py missing"; finish; fi

roundtrip() {  # EDF [HYPNOGRAM]
	h5=$TMP/rt.h5
	if [ -n "${2:-}" ]; then
		psg-read "$1" --annotations "$2" | psg-h5 --signals -o "$h5"
	else
		psg-read "$1" | psg-h5 --signals -o "$h5"
	fi
	if [ $? -ne 0 ] || [ ! -f "$h5" ]; then
		flunk "$(basename "$1"): psg-read | psg-h5 failed"
		return
	fi
	PYTHONPATH="$ROOT/tests" $PY "$ROOT/tests/roundtrip.py" "$1" "$h5" \
		${2:+"$2"} >"$TMP/rt.out" 2>&1
	while IFS= read -r line; do
		case $line in
		"ok "*) pass "${line#ok * - }" ;;
		"not ok "*) flunk "${line#not ok * - }" ;;
		*) echo "# $line" ;;
		esac
	done <"$TMP/rt.out"
	rm -f "$h5"
}

roundtrip "$ROOT/testdata/SC4001E0-excerpt.edf" \
	"$ROOT/testdata/SC4001EC-Hypnogram.edf"
if have_shared; then
	for f in format/edfPlusC.edf format/bdfPlusC.bdf format/edfPlusD.edf \
	    format/pyedflib_test_subsecond.edf format/pyedflib_test_utf8.edf \
	    format/pyedflib_test_generator_datarec_2.bdf \
	    format/mne_multiple_annotation_chans.bdf \
	    dreams/excerpt3_full_psg.edf nox/rsleep_nox_a1_2min_subject1.edf; do
		roundtrip "$SHARED/$f"
	done
else
	skip "../shared/data absent: round trips of the shared files"
fi
finish
