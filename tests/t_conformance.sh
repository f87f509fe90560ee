#!/bin/sh
# t_conformance.sh -- the EDF/BDF readers against expected values, through
# psg-read FILE | psg-dump (and psg-info --json), for both backends
# (edflib and our native parser):
#   - edfPlusC.edf / bdfPlusC.bdf against the CSV files of R's edfReader
#     (header, signal parameters, annotations, every sample and its time);
#   - every EDF/BDF of the shared data reads with exit 0 (default backend);
#   - edflib and native give the same dump for every file edflib accepts;
#   - every sample read by the native backend equals tests/conformance.py's
#     own decoding of the file (header ranges, 16/24-bit LE, TAL onsets);
#   - EDF+D segments, sub-second start, UTF-8 annotation text, several
#     annotation signals, exact fractional rates, V -> uV, a hypnogram
#     merged with --annotations, channel selection, --audio.
# The comparisons are in tests/conformance.py (/usr/bin/python3 + numpy).
#
#   PSG_BUILD=build SHARED=../shared/data sh tests/t_conformance.sh
: "${ROOT:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$ROOT/tests/lib.sh"
case $PSG_BUILD in /*) ;; *) PSG_BUILD=$ROOT/$PSG_BUILD ;; esac
PATH=$PSG_BUILD/bin:$PATH
export PATH

CONF=$ROOT/tests/conformance.py

# pycheck ARGS...: runs conformance.py ARGS; its "PASS what" / "FAIL what"
# / "SKIP why" lines become TAP lines, "NOTE text" and details comments.
pycheck() {
	$PY "$CONF" "$@" >"$TMP/py.out" 2>"$TMP/py.err"
	pyrc=$?
	while IFS= read -r line; do
		case $line in
		"PASS "*) pass "${line#PASS }" ;;
		"FAIL "*) flunk "${line#FAIL }" ;;
		"SKIP "*) skip "${line#SKIP }" ;;
		"NOTE "*) echo "# ${line#NOTE }" ;;
		*) echo "#$line" ;;
		esac
	done <"$TMP/py.out"
	if [ "$pyrc" -ne 0 ]; then
		flunk "conformance.py $1 $(basename "${2:-}"): ran to its end (exit $pyrc)"
		tail -n 15 "$TMP/py.err" | sed 's/^/#   /'
	fi
}

SKIP_GROUPS="edfReader CSV (edfPlusC, bdfPlusC) x (edflib, native)
every shared EDF/BDF reads with exit 0
edflib and native backends agree
native samples equal our own decoding
EDF+D segments and records
sub-second start
UTF-8 annotation text
annotations of all annotation signals
exact fractional rates
nox V -> uV
hypnogram merged with --annotations
channel selection
--audio"

skip_all() {
	printf '%s\n' "$SKIP_GROUPS" >"$TMP/groups"
	while IFS= read -r g; do skip "$g: $1"; done <"$TMP/groups"
	finish
}

have_shared || skip_all "no shared data at $SHARED"
$PY -c 'import numpy' 2>/dev/null || skip_all "$PY with numpy not found"
[ -f "$SHARED/format/edfPlusC.edf" ] || skip_all "$SHARED/format is absent"

F=$SHARED/format
PSG=$SHARED/sleep-edf/SC4001E0_excerpt_5min_edfio_short_psg.edf
HYP=$SHARED/sleep-edf/SC4001EC-Hypnogram.edf
NOX=$SHARED/nox/rsleep_nox_a1_2min_subject1.edf

# Every EDF/BDF recording of the shared data, one path a line.
for d in format dreams nox sleep-edf; do
	[ -d "$SHARED/$d" ] || continue
	find "$SHARED/$d" -type f \( -iname '*.edf' -o -iname '*.bdf' \)
done | LC_ALL=C sort >"$TMP/files"
echo "# $(wc -l <"$TMP/files" | tr -d ' ') EDF/BDF files under $SHARED"

# 1. edfReader's expected values, both backends.
for f in edfPlusC.edf bdfPlusC.bdf; do
	for b in edflib native; do
		pycheck csv "$F/$f" "$F/${f%.*}" "$b"
	done
done

# 2. Every file reads through the default backend: exit 0, nothing but
# warnings on stderr, and a stream that psg-dump reads to its end.
while IFS= read -r f; do
	rel=${f#"$SHARED"/}
	psg-read "$f" >"$TMP/s" 2>"$TMP/err"
	rc=$?
	psg-dump --no-samples "$TMP/s" >/dev/null 2>"$TMP/err2"
	rc2=$?
	grep -v '^psg-read: warning: ' "$TMP/err" >"$TMP/err1"
	nw=$(grep -c '^psg-read: warning: ' "$TMP/err")
	if [ "$rc" -eq 0 ] && [ "$rc2" -eq 0 ] && [ ! -s "$TMP/err1" ] &&
	    [ ! -s "$TMP/err2" ]; then
		pass "$rel: psg-read exits 0 (default backend; $nw warnings), psg-dump reads the stream"
	else
		flunk "$rel: psg-read exits 0 (exit $rc, psg-dump exit $rc2)"
		cat "$TMP/err1" "$TMP/err2" | head -n 5 | sed 's/^/#   /'
	fi
done <"$TMP/files"
rm -f "$TMP/s"

# 3. The two backends agree wherever edflib reads the file.
while IFS= read -r f; do
	pycheck backends "$f"
done <"$TMP/files"

# 4. The native parser against our own decoding, sample by sample.
while IFS= read -r f; do
	pycheck decode "$f" native
done <"$TMP/files"

# 5. Single properties.
pycheck edfplusd "$F/edfPlusD.edf"
pycheck subsecond "$F/pyedflib_test_subsecond.edf"
pycheck utf8 "$F/pyedflib_test_utf8.edf"
pycheck multiann "$F/mne_multiple_annotation_chans.bdf"
pycheck rates "$F/pyedflib_test_generator_datarec_2.bdf"
if [ -f "$NOX" ]; then
	pycheck nox "$NOX" 1-2
else
	skip "nox V -> uV: $NOX is absent"
fi
if [ -f "$PSG" ] && [ -f "$HYP" ]; then
	pycheck hypnogram "$HYP" "$PSG" 154
	pycheck select "$PSG"
else
	skip "hypnogram merged with --annotations: no sleep-edf data"
	skip "channel selection: no sleep-edf data"
fi
mkdir -p "$TMP/audio"
pycheck audio "$F/edfPlusC.edf" "$TMP/audio"

finish
