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
check "...through psg-read, psg-wake, psg-sws, psg-spindle, psg-stage, psg-emg, psg-h5 ($hist)" \
	test "$hist" = "psg-read psg-wake psg-sws psg-spindle psg-stage psg-emg psg-h5"
check "its summary for people names sleep, wake, SWS, stages, legs and chin" \
	sh -c "grep -q '^  sleep: ' '$TMP/mixed.out' && grep -q '^  wake: ' \
	'$TMP/mixed.out' && grep -q '^  SWS: ' '$TMP/mixed.out' && \
	grep -q '^  stages (computed): N1 [0-9]* %, N2 ' '$TMP/mixed.out' && \
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
# The first pass reads psg-read --header-only: a whole stream, no records.
psg-read --header-only "$TMP/mixed.edf" >"$TMP/head.psg"
check "psg-read --header-only is a whole stream without records (psg-night's first pass)" \
	sh -c "psg-dump '$TMP/head.psg' | tail -n 1 | grep -q '^end duration=7200.0000000 records=0 '"
psg-dump -H "$TMP/head.psg" | grep -v '^history' >"$TMP/head1"
psg-read "$TMP/mixed.edf" | psg-dump -H | grep -v '^history' >"$TMP/head2"
check "...and its header is the full read's" cmp -s "$TMP/head1" "$TMP/head2"
summary=$(grep -c . "$TMP/mixed.out")
check "the channel map and summary are short ($summary lines)" test "$summary" -le 14
check "the channel map comes first: wake's EEG is C4-M1, sws's F4-M1" \
	sh -c "head -n 1 '$TMP/mixed.out' | grep -q ': channels\$' && \
	grep -q '^  wake    eeg=C4-M1 eog=E1-M2 chin=Chin1-Chin2\$' '$TMP/mixed.out' && \
	grep -q '^  sws     eeg=F4-M1 eog=E1-M2,E2-M2\$' '$TMP/mixed.out' && \
	grep -q '^  spindle eeg=C4-M1,F4-M1\$' '$TMP/mixed.out' && \
	grep -q '^  stage   eeg=C4-M1 eog=E1-M2 chin=Chin1-Chin2\$' '$TMP/mixed.out' && \
	grep -q '^  emg     leg=Leg L,Leg R chin=Chin1-Chin2 masseter=Masseter R ecg=ECG II\$' '$TMP/mixed.out'"
roles=$($PY -c 'import h5py, sys
t = h5py.File(sys.argv[1])["channels"]
print(";".join("%s=%s" % (l.decode(), r.decode()) for l, r in
      zip(t["label"], t["roles"]) if r))' "$TMP/mixed.h5")
check "/channels roles stores every choice ($roles)" test "$roles" = \
	"F4-M1=sws:eeg spindle:eeg;C4-M1=wake:eeg spindle:eeg stage:eeg;E1-M2=wake:eog sws:eog stage:eog;E2-M2=sws:eog;Chin1-Chin2=wake:chin stage:chin emg:chin;Leg L=emg:leg;Leg R=emg:leg;ECG II=emg:ecg;Masseter R=emg:masseter"
check "the history records each stage's options (psg-read's input)" $PY -c 'import h5py, sys
h = h5py.File(sys.argv[1]).attrs["history"]
sys.exit(not (h[0].endswith("mixed.edf") and "--optional" not in " ".join(h)))' "$TMP/mixed.h5"

# An imported hypnogram gives REM: the atonia index.
psg-synth -H 2 -p healthy -s 4 -o "$TMP/rem.edf" >/dev/null
psg-night "$TMP/rem.edf" --hypnogram "$TMP/rem.hypnogram.edf" -q \
	-o "$TMP/rem.h5" 2>"$TMP/rem.err"
ai=$(fig "$TMP/rem.h5" atonia_index)
check "--hypnogram: REM is known, atonia index $ai in [0.5, 1]" \
	awk -v a="$ai" 'BEGIN { exit !(a >= 0.5 && a <= 1) }'
noai=$(fig "$TMP/mixed.h5" atonia_index)
src=$(fig "$TMP/mixed.h5" emg_rem_source)
check "...and without one, over psg-stage's R epochs (emg_rem_source $src, atonia index $noai in [0.5, 1])" \
	awk -v a="$noai" -v s="$src" 'BEGIN { exit !(s == 1 && a >= 0.5 && a <= 1) }'

# Overrides reach the stages.
psg-night "$TMP/mixed.edf" -q -o "$TMP/o.h5" --epoch 20 --legs none \
	--sws '--absolute' 2>"$TMP/o.err"
ep=$($PY -c 'import h5py, sys; print(h5py.File(sys.argv[1]).attrs["epoch_length_s"])' "$TMP/o.h5")
check "--epoch 20 gives 20-s epochs ($ep)" test "$ep" = 20.0
check "--legs none (psg-emg's name): the LM index is NaN, not measured" \
	test "$(fig "$TMP/o.h5" lm_index)" = NaN
check "--sws '--absolute' reaches psg-sws" \
	test "$(fig "$TMP/o.h5" sws_adaptive)" = 0

if have_shared && [ -f "$SHARED/dreams/excerpt1_eeg_hyp.edf" ]; then
	expect_exit 3 "an EEG-only DREAMS excerpt: every detector is wanted, exit 3" \
		psg-night "$SHARED/dreams/excerpt1_eeg_hyp.edf" --epoch 20 \
		-o "$TMP/d1.h5"
	check "...naming the missing role and psg-emg, no output" sh -c \
		"grep -q '^psg-night: .*no usable EMG (leg, chin, masseter or another muscle) channel for psg-emg' \
		'$TMP/stderr' && test ! -e '$TMP/d1.h5'"
	psg-night "$SHARED/dreams/excerpt1_eeg_hyp.edf" --epoch 20 \
		--detectors wake,sws --hypnogram "$SHARED/dreams/Hypnogram_excerpt1.txt" \
		-o "$TMP/d1.h5" >"$TMP/d1.out" 2>"$TMP/d1.err"
	check "--detectors wake,sws: wake and SWS, nothing on stderr" \
		sh -c "test -s '$TMP/d1.h5' && grep -q '^  SWS: ' '$TMP/d1.out' && \
		! grep -q '^  legs: ' '$TMP/d1.out' && test ! -s '$TMP/d1.err'"
	nst=$($PY -c 'import h5py, sys
a = h5py.File(sys.argv[1])["events/annotations"]
print(sum(l.decode().startswith("Sleep stage") for l in a["label"]))' "$TMP/d1.h5")
	check "--hypnogram takes DREAMS text as psg-score does ($nst stage runs)" \
		test "$nst" -gt 10
else
	for i in 1 2 3 4; do skip "../shared/data/dreams missing"; done
fi
if have_shared && [ -d "$SHARED/nox" ]; then
	nox=$(ls "$SHARED"/nox/*.edf | head -n 1)
	psg-night "$nox" -o "$TMP/nox.h5" --detectors wake,sws,emg \
		>"$TMP/nox.out" 2>/dev/null
	check "a real Nox recording: C4-M1 and F4-M1 rather than C4, F4; chin 1-2" \
		sh -c "grep -q '^  wake    eeg=C4-M1 .*chin=1-2\$' '$TMP/nox.out' && \
		grep -q '^  sws     eeg=F4-M1 eog=E1-M2,E2-M1\$' '$TMP/nox.out' && \
		grep -q '^  emg     chin=1-2 ' '$TMP/nox.out'"
else
	skip "../shared/data/nox missing"
fi

# Exit codes that mean what they say.
cp "$TMP/mixed.edf" "$TMP/noeeg.edf"
for i in 0 1 2 3 4 5; do   # the six EEG labels (16 bytes each from 256)
	printf '%-16s' "Temp $i" | dd of="$TMP/noeeg.edf" bs=1 \
		seek=$((256 + 16 * i)) conv=notrunc 2>/dev/null
done
expect_exit 3 "a recording without EEG exits 3" \
	psg-night "$TMP/noeeg.edf" -o "$TMP/noeeg.h5"
check "...naming the EEG role of psg-wake and psg-sws, and no output" sh -c \
	"grep -q '^psg-night: .*no usable EEG channel for psg-wake' '$TMP/stderr' && \
	grep -q '^psg-night: .*no usable EEG channel for psg-sws' '$TMP/stderr' && \
	test ! -e '$TMP/noeeg.h5'"
expect_exit 0 "...and --detectors emg runs what it can" \
	psg-night -q "$TMP/noeeg.edf" --detectors emg -o "$TMP/noeeg.h5"
# -q runs the header pass only after a failed night, to explain it: the
# same exit and the same messages as a run that checks first.
psg-night "$TMP/noeeg.edf" -o "$TMP/q.h5" >/dev/null 2>"$TMP/loud.err"
expect_exit 3 "-q: a recording without EEG still exits 3" \
	psg-night -q "$TMP/noeeg.edf" -o "$TMP/q.h5"
check "...with the messages of a run without -q, and no output" sh -c \
	"cmp -s '$TMP/loud.err' '$TMP/stderr' && test ! -e '$TMP/q.h5'"
psg-night "$TMP/mixed.edf" --chin Chn -o "$TMP/q.h5" >/dev/null \
	2>"$TMP/loud.err"
expect_exit 1 "-q: a channel option naming no channel is still exit 1" \
	psg-night -q "$TMP/mixed.edf" --chin Chn -o "$TMP/q.h5"
check "...with the messages of a run without -q" \
	cmp -s "$TMP/loud.err" "$TMP/stderr"
if command -v strace >/dev/null 2>&1; then
	# (LSan cannot run under ptrace: leak checks off for this run.)
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
		strace -f -qq -e trace=execve -o "$TMP/q.trace" \
		psg-night -q "$TMP/mixed.edf" -o "$TMP/q.h5" >/dev/null 2>&1
	nchain=$(grep -c 'execve(".*psg-chain"' "$TMP/q.trace")
	check "-q: a night that succeeds starts psg-chain once ($nchain)" \
		sh -c "test '$nchain' -eq 1 && test -s '$TMP/q.h5'"
else
	skip "strace missing (scripts/setup-deps installs it)"
fi
for opt in --chin --eeg --legs --ecg --eog --masseter; do
	expect_exit 1 "$opt naming no channel is a usage error" \
		psg-night "$TMP/mixed.edf" $opt Chn -o "$TMP/typo.h5"
	check "...listing the labels there are, no output" sh -c \
		"grep -q \"no channel 'Chn'; the channels are 'F4-M1', 'C4-M1'\" \
		'$TMP/stderr' && test ! -e '$TMP/typo.h5'"
done
# Where SIGPIPE is ignored (inherited from a parent), a stage ends on a
# broken pipe with its own write error: not taken for the cause.
expect_exit 0 "SIGPIPE ignored: the night still runs" sh -c \
	"trap '' PIPE; psg-night -q '$TMP/mixed.edf' -o '$TMP/pipe.h5'"
expect_exit 1 "SIGPIPE ignored: a bad --chin is still exit 1, psg-wake's" sh -c \
	"trap '' PIPE; psg-night -q '$TMP/mixed.edf' --chin Chn -o '$TMP/pipe.h5'"
expect_exit 0 "labels match whatever their case (--chin chin1-chin2)" \
	psg-night -q "$TMP/mixed.edf" --chin chin1-chin2 -o "$TMP/case.h5"
cp "$TMP/mixed.edf" "$TMP/same.edf"
ln -s same.edf "$TMP/link.edf"
sum0=$(cksum <"$TMP/same.edf")
expect_exit 2 "the output may not be the input (-o IN)" \
	psg-night "$TMP/same.edf" -o "$TMP/same.edf"
expect_exit 2 "...nor the input under another name (a symbolic link)" \
	psg-night "$TMP/same.edf" -o "$TMP/link.edf"
expect_exit 2 "...nor the hypnogram" psg-night "$TMP/rem.edf" \
	--hypnogram "$TMP/rem.hypnogram.edf" -o "$TMP/rem.hypnogram.edf"
psg-night "$TMP/same.edf" -o "$TMP/app.h5" >>"$TMP/link.edf" 2>"$TMP/app.err"
rc=$?
check "...nor standard output (>> IN through a link): exit 2, one message, nothing written (exit $rc)" \
	sh -c "[ $rc -eq 2 ] && [ \$(wc -l <'$TMP/app.err') -eq 1 ] &&
	grep -q '^psg-night: standard output is the input' '$TMP/app.err' &&
	[ ! -e '$TMP/app.h5' ]"
check "...and the input is untouched" test "$(cksum <"$TMP/same.edf")" = "$sum0"
expect_exit 1 "--detectors naming none is a usage error" \
	psg-night --detectors , "$TMP/same.edf" -o "$TMP/none.h5"

# A chin too slow for its band (Sleep-EDF's 1-Hz envelope) is left out,
# and so it has no role in the file.
psg-night -q --detectors wake "$ROOT/testdata/SC4001E0-excerpt.edf" \
	-o "$TMP/sc.h5" 2>/dev/null
check "a chin left out for its rate has no role" $PY -c 'import h5py, sys
ch = h5py.File(sys.argv[1])["channels"][:]
r = {c["label"].decode(): c["roles"].decode() for c in ch}
sys.exit(not (r["EMG submental"] == "" and "wake:eeg" in r["EEG Pz-Oz"]))' \
	"$TMP/sc.h5"

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
# Progress: psg-h5 --progress writes "DONE TOTAL" lines; psg-night shows
# them only when standard error is a terminal (script(1) gives it one;
# the runs above wrote none into their stderr files).
psg-synth -H 0.5 -p healthy -s 9 -o "$TMP/p.edf" >/dev/null
psg-read "$TMP/p.edf" | psg-h5 -o "$TMP/p.h5" --progress 3 3>"$TMP/prog"
lines=$(wc -l <"$TMP/prog")
check "psg-h5 --progress: $lines 'DONE TOTAL' lines, never going back, the last 1800 of 1800 s" \
	awk 'NF != 2 || $2 != 1800 || $1 < last || $1 > $2 { bad = 1 }
	{ last = $1 } END { exit bad || NR < 1 || last != 1800 }' "$TMP/prog"
expect_exit 1 "psg-h5 --progress on a closed descriptor is a usage error" \
	sh -c "psg-read '$TMP/p.edf' | psg-h5 -o '$TMP/p2.h5' --progress 7 7>&-"
if command -v script >/dev/null 2>&1; then
	script -qec "psg-night '$TMP/p.edf' -o '$TMP/pt.h5' >/dev/null" \
		/dev/null >"$TMP/tty" 2>&1
	check "on a terminal psg-night shows its progress, to 100 %" \
		grep -q "psg-night: $TMP/p.edf: 0.50 of 0.50 h (100 %)" "$TMP/tty"
	script -qec "psg-night --no-progress '$TMP/p.edf' -o '$TMP/pt.h5' \
		>/dev/null" /dev/null >"$TMP/tty2" 2>&1
	check "...and none with --no-progress" \
		sh -c "! grep -q ' of 0.50 h' '$TMP/tty2' && test -s '$TMP/pt.h5'"
else
	skip "progress on a terminal: script(1) is not installed (util-linux)"
fi
# psg-collect checks the schema: a night of another major is refused.
cp "$TMP/c/mixed.h5" "$TMP/v9.h5"
$PY -c 'import h5py, sys
h5py.File(sys.argv[1], "r+").attrs["schema_version"] = "9.0"' "$TMP/v9.h5"
expect_exit 3 "psg-collect refuses a night of schema 9.0" psg-collect "$TMP/v9.h5"
check "...saying so" grep -q "v9.h5: schema 9.0, this psgpipe reads 1.x and 2.x" "$TMP/stderr"
finish
