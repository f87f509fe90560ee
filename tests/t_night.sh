#!/bin/sh
# psg-night (the whole chain for one recording) and psg-collect (the
# cohort table): a generated night with every channel, an EEG-only real
# excerpt, an imported hypnogram, the summary for people, and bad input;
# psg-collect's table against the nights' own /summary (cohort_check.py).
. "$ROOT/tests/lib.sh"
if ! have_h5py; then skip "h5py missing"; finish; fi
fig() { psg-collect --long "$1" | awk -F'\t' -v k="$2" '$2 == k { print $3 }'; }

psg-synth -H 2 -p mixed -s 3 -o "$TMP/mixed.edf" >/dev/null
psg-night "$TMP/mixed.edf" -o "$TMP/mixed.h5" >"$TMP/mixed.out" 2>"$TMP/mixed.err"
check "psg-night runs the chain on a generated 2-h night" test -s "$TMP/mixed.h5"
check "...with nothing on stderr" test ! -s "$TMP/mixed.err"
hist=$($PY -c 'import h5py, sys
print(" ".join(h.split()[0].split("/")[-1] for h in
      h5py.File(sys.argv[1]).attrs["history"]))' "$TMP/mixed.h5")
check "...through psg-read, psg-wake, psg-sws, psg-emg, psg-h5 ($hist)" \
	test "$hist" = "psg-read psg-wake psg-sws psg-emg psg-h5"
check "its summary for people names sleep, wake, SWS, legs and chin" \
	sh -c "grep -q '^  sleep: ' '$TMP/mixed.out' && grep -q '^  wake: ' \
	'$TMP/mixed.out' && grep -q '^  SWS: ' '$TMP/mixed.out' && \
	grep -q '^  legs: ' '$TMP/mixed.out' && grep -q '^  chin: ' '$TMP/mixed.out'"
rt=$(fig "$TMP/mixed.h5" recording_time)
check "recording_time is the 2 h recorded ($rt min)" test "$rt" = 120
tst=$(fig "$TMP/mixed.h5" total_sleep_time)
se=$(fig "$TMP/mixed.h5" sleep_efficiency)
check "sleep efficiency is sleep time over recording time ($tst / $rt, $se %)" \
	awk -v a="$tst" -v b="$rt" -v e="$se" \
	'BEGIN { exit !(b > 0 && (100 * a / b - e) ^ 2 < 1e-18) }'
want=$(awk -F'\t' 'NR > 1 && $4 != "W" && $4 != "?" { s++ } END { print s / 2 }' \
	"$TMP/mixed.epochs.tsv")
check "sleep time is near the truth's ($tst vs $want min, within 15 %)" \
	awk -v a="$tst" -v b="$want" 'BEGIN { exit !((a - b) ^ 2 <= (0.15 * b) ^ 2) }'
swsm=$(fig "$TMP/mixed.h5" sws_minutes)
swsp=$(fig "$TMP/mixed.h5" sws_percent)
check "SWS percent is of sleep time with psg-wake's calls ($swsm / $tst min = $swsp %)" \
	awk -v a="$swsm" -v b="$tst" -v p="$swsp" -v k="$(fig "$TMP/mixed.h5" sws_basis)" \
	'BEGIN { exit !(k == 1 && a > 0 && (100 * a / b - p) ^ 2 < 1e-18) }'
summary=$(grep -c . "$TMP/mixed.out")
check "the summary is short ($summary lines)" test "$summary" -le 8

# An imported hypnogram gives REM: the atonia index.
psg-synth -H 2 -p healthy -s 4 -o "$TMP/rem.edf" >/dev/null
psg-night "$TMP/rem.edf" --hypnogram "$TMP/rem.hypnogram.edf" -q \
	-o "$TMP/rem.h5" 2>"$TMP/rem.err"
ai=$(fig "$TMP/rem.h5" atonia_index)
check "--hypnogram: REM is known, atonia index $ai in [0.5, 1]" \
	awk -v a="$ai" 'BEGIN { exit !(a >= 0.5 && a <= 1) }'
noai=$(fig "$TMP/mixed.h5" atonia_index)
check "...and without one it is NaN ($noai)" test "$noai" = NaN

# Overrides reach the stages.
psg-night "$TMP/mixed.edf" -q -o "$TMP/o.h5" --epoch 20 --emg-leg none \
	--sws '--absolute' 2>"$TMP/o.err"
ep=$($PY -c 'import h5py, sys; print(h5py.File(sys.argv[1]).attrs["epoch_length_s"])' "$TMP/o.h5")
check "--epoch 20 gives 20-s epochs ($ep)" test "$ep" = 20.0
check "--emg-leg none: the LM index is NaN, not measured" \
	test "$(fig "$TMP/o.h5" lm_index)" = NaN
check "--sws '--absolute' reaches psg-sws" \
	test "$(fig "$TMP/o.h5" sws_adaptive)" = 0

if have_shared && [ -f "$SHARED/dreams/excerpt1_eeg_hyp.edf" ]; then
	psg-night "$SHARED/dreams/excerpt1_eeg_hyp.edf" --epoch 20 \
		-o "$TMP/d1.h5" >"$TMP/d1.out" 2>"$TMP/d1.err"
	check "an EEG-only DREAMS excerpt: wake and SWS, EMG skipped" \
		sh -c "test -s '$TMP/d1.h5' && grep -q '^  SWS: ' '$TMP/d1.out' && \
		! grep -q '^  legs: ' '$TMP/d1.out'"
	check "...with one warning naming psg-emg" \
		sh -c "test \$(wc -l <'$TMP/d1.err') -eq 1 && \
		grep -q '^psg-emg: warning: no usable EMG' '$TMP/d1.err'"
else
	skip "../shared/data/dreams missing"
	skip "../shared/data/dreams missing"
fi

# Bad input: one message from the stage that failed, one from psg-night.
head -c 300000 "$TMP/mixed.edf" >"$TMP/cut.edf"
expect_exit 2 "a truncated recording exits 2" \
	psg-night "$TMP/cut.edf" -o "$TMP/cut.h5"
check "...and leaves no output" test ! -e "$TMP/cut.h5"
check "...with psg-read's message and psg-night's, nothing else" \
	sh -c "test \$(wc -l <'$TMP/stderr') -eq 2 && \
	grep -q '^psg-read: .*truncated' '$TMP/stderr' && \
	grep -q '^psg-night: .*psg-read failed (exit 2); .* not written' '$TMP/stderr'"
ls "$TMP" | grep -q 'tmp\.' && flunk "temporary files left" ||
	pass "no temporary file left behind"
expect_exit 1 "no -o is a usage error" psg-night "$TMP/mixed.edf"
expect_exit 1 "an unknown option is a usage error" \
	psg-night --frobnicate "$TMP/mixed.edf" -o "$TMP/x.h5"
expect_exit 2 "a missing recording exits 2" psg-night "$TMP/none.edf" -o "$TMP/x.h5"
expect_exit 2 "an unwritable output exits 2" \
	psg-night "$TMP/mixed.edf" -o "$TMP/no/such/dir/x.h5"
check "psg-night --help exits 0 on stdout" sh -c "psg-night --help | grep -q '^usage: psg-night'"

# ---- psg-collect ----
mkdir -p "$TMP/c/sub"
cp "$TMP/mixed.h5" "$TMP/c/"
cp "$TMP/rem.h5" "$TMP/c/sub/"
cp "$TMP/o.h5" "$TMP/c/sub/"
psg-collect -o "$TMP/c/cohort.h5" "$TMP/c" 2>"$TMP/c.err"
check "psg-collect -o cohort.h5 DIR writes cohort.h5 and cohort.csv" \
	test -s "$TMP/c/cohort.h5" -a -s "$TMP/c/cohort.csv"
$PY "$ROOT/tests/cohort_check.py" "$TMP/c/cohort.h5" "$TMP/c/cohort.csv" \
	"$TMP/c/mixed.h5" "$TMP/c/sub/o.h5" "$TMP/c/sub/rem.h5" || failures=$((failures + 1))
psg-collect -o "$TMP/c/cohort.h5" "$TMP/c" 2>/dev/null
rows=$($PY -c 'import h5py, sys; print(len(h5py.File(sys.argv[1])["cohort"]))' "$TMP/c/cohort.h5")
check "collecting again skips its own output ($rows rows)" test "$rows" = 3
psg-collect "$TMP/c/mixed.h5" >"$TMP/one.csv"
check "without -o: CSV on stdout, a header and a row" test "$(wc -l <"$TMP/one.csv")" -eq 2
long=$(psg-collect --long "$TMP/c/mixed.h5" | awk -F'\t' '$2 == "waso" { print $4 }')
check "--long: night, name, value, unit (waso in '$long')" test "$long" = min

printf 'not hdf5\n' >"$TMP/bad.h5"
expect_exit 2 "a file that is not HDF5 exits 2" psg-collect -o "$TMP/bad-cohort.h5" "$TMP/bad.h5" "$TMP/c/mixed.h5"
check "...and writes nothing" test ! -e "$TMP/bad-cohort.h5" -a ! -e "$TMP/bad-cohort.csv"
$PY -c 'import h5py, sys; h5py.File(sys.argv[1], "w").create_group("x")' "$TMP/other.h5"
expect_exit 3 "an HDF5 file that is not a night exits 3" psg-collect "$TMP/other.h5"
psg-collect --skip-bad -o "$TMP/skip.h5" "$TMP/bad.h5" "$TMP/c/mixed.h5" 2>"$TMP/skip.err"
check "--skip-bad: warns and tabulates the rest" \
	sh -c "grep -q '^psg-collect: warning: .*bad.h5: not an HDF5 file; skipped' '$TMP/skip.err' && test -s '$TMP/skip.h5'"
expect_exit 1 "-o must end in .h5" psg-collect -o "$TMP/x.csv" "$TMP/c"
expect_exit 1 "no nights is a usage error" psg-collect
mkdir "$TMP/empty"
expect_exit 3 "a directory without nights exits 3" psg-collect "$TMP/empty"
finish
