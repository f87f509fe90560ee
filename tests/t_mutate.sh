#!/bin/sh
# t_mutate.sh -- the smoke of tests/fuzz/mutate.py (issue 16): mutated
# streams, HDF5 results, audio files and text files (hypnograms, reference
# events) through every stage that reads them, MUTATE_SMOKE seconds per
# target (default 10: four targets, under a minute), from the same seed
# every time.  Each run must not die of a signal, time out, report a
# sanitizer error, exit other than 0/2/3, print other than one
# `psg-<verb>:` message on failure, write a file over 20 MiB or leave a
# temporary file; and every program must accept an unmutated seed.  Under
# `make check SAN=1` the programs are the ASan/UBSan build.  `make fuzz`
# runs it for FUZZ_SECONDS per target.
: "${ROOT:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$ROOT/tests/lib.sh"
: "${MUTATE_SMOKE:=10}"
$PY "$ROOT/tests/fuzz/mutate.py" --build "$PSG_BUILD" --seconds "$MUTATE_SMOKE" \
	--out "$TMP/mutate" >"$TMP/log" 2>&1
rc=$?
sed 's/^/# /' "$TMP/log"
for t in stream h5 audio text; do
	check "mutate.py $t: cases ran, no finding" \
		grep -q "^$t: [1-9][0-9]* cases, .* 0 findings" "$TMP/log"
done
check "mutate.py: every program accepts its unmutated seeds (exit $rc)" \
	sh -c "! grep -q '^BROKEN' '$TMP/log' && [ $rc -eq 0 ]"
finish
