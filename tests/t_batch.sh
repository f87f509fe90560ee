#!/bin/sh
# psg-batch: a cohort of generated nights with one corrupt recording, run
# locally (GNU parallel) and through a real Slurm on this machine
# (tests/tools/slurm-local starts munged, slurmctld and slurmd and stops
# them by PID); resume, a changed recording, an interrupted batch.
. "$ROOT/tests/lib.sh"
if ! have_h5py; then skip "h5py missing"; finish; fi
C=$TMP/cohort
mkdir -p "$C/site b"
for s in 1 2 3; do
	psg-synth -H 1 -p plm -s "$s" -o "$C/night$s.edf" >/dev/null
done
psg-synth -H 1 -p healthy -s 4 -o "$C/site b/night4.edf" >/dev/null
head -c 200000 "$C/night1.edf" >"$C/corrupt.edf"
rows() { $PY -c 'import h5py, sys
print(" ".join(sorted(x.decode() for x in h5py.File(sys.argv[1])["cohort"]["night"])))' "$1"; }
col() { awk -F'\t' -v s="$2" '$1 == s { print $2 }' "$1" | sort | tr '\n' ' '; }

# ---- local ----
psg-batch "$C" -o "$TMP/out" -j 2 2>"$TMP/b.err"
rc=$?
check "a batch with one corrupt recording exits 4 ($rc)" test "$rc" -eq 4
check "...and says so on stderr" \
	grep -q '^psg-batch: 1 of 5 nights failed' "$TMP/b.err"
check "every good night is done (night1-4.h5)" sh -c \
	"cd '$TMP/out' && test -s night1.h5 -a -s night2.h5 -a -s night3.h5 -a -s night4.h5"
check "batch.log: 4 ok, and the corrupt one FAILED with psg-read's reason" \
	sh -c "test '$(col "$TMP/out/batch.log" ok)' = 'night1 night2 night3 night4 ' && \
	grep -q '^FAILED	corrupt	.*exit 2: psg-read: .*truncated' '$TMP/out/batch.log'"
check "no output for the corrupt night" test ! -e "$TMP/out/corrupt.h5"
check "the cohort table has the 4 good nights" \
	test "$(rows "$TMP/out/cohort.h5")" = "night1 night2 night3 night4"
$PY "$ROOT/tests/cohort_check.py" "$TMP/out/cohort.h5" "$TMP/out/cohort.csv" \
	"$TMP"/out/night*.h5 || failures=$((failures + 1))

# Resume: nothing is redone; a changed recording is.
ls -l --time-style=+%s.%N "$TMP/out" >"$TMP/before"
psg-batch "$C" -o "$TMP/out" -j 2 2>/dev/null
ls -l --time-style=+%s.%N "$TMP/out" | grep 'night[0-9]\.h5' >"$TMP/after"
check "rerun: the 4 nights are 'unchanged' in batch.log" \
	test "$(col "$TMP/out/batch.log" unchanged)" = "night1 night2 night3 night4 "
check "...and their files were not touched" \
	sh -c "grep 'night[0-9]\.h5' '$TMP/before' | cmp -s - '$TMP/after'"
touch -d '2030-01-01' "$C/night2.edf"
psg-batch "$C" -o "$TMP/out" -j 2 2>/dev/null
check "a recording changed: only that night runs again" sh -c \
	"test '$(col "$TMP/out/batch.log" ok)' = 'night2 ' && \
	test '$(col "$TMP/out/batch.log" unchanged)' = 'night1 night3 night4 '"

# A finished batch without failures: exit 0, and a rerun does no work.
mkdir "$TMP/good"
cp "$C/night1.edf" "$C/night3.edf" "$TMP/good/"
printf '%s\t%s\n' "$TMP/good/night1.edf" "$C/night1.hypnogram.edf" >"$TMP/list"
printf '# a comment\n%s\n' "$TMP/good/night3.edf" >>"$TMP/list"
expect_exit 0 "a LIST with a hypnogram column: all nights done, exit 0" \
	psg-batch "$TMP/list" -o "$TMP/gout" -j 2
check "...the listed hypnogram reached psg-night's psg-read" $PY -c 'import h5py, sys
sys.exit(not any("--annotations" in h for h in h5py.File(sys.argv[1]).attrs["history"]))' \
	"$TMP/gout/night1.h5"
# psg-batch alone, with psg-collect and psg-report but no psg-night: any
# night run fails.
mkdir "$TMP/solo"
cp "$PSG_BUILD/bin/psg-batch" "$PSG_BUILD/bin/psg-collect" \
	"$PSG_BUILD/bin/psg-report" "$TMP/solo/"
PATH="$TMP/solo:/usr/bin:/bin" psg-batch "$TMP/list" -o "$TMP/gout" 2>"$TMP/g.err"
rc=$?
check "rerunning a finished batch does no work (no psg-night here; exit $rc)" \
	sh -c "test $rc -eq 0 && grep -q '2 nights done' '$TMP/g.err' && \
	test '$(col "$TMP/gout/batch.log" unchanged)' = 'night1 night3 '"

# An interrupted batch leaves no half-written night.
setsid psg-batch "$C" -o "$TMP/int" -j 2 --force >/dev/null 2>&1 &
pid=$!
sleep 2
kill -INT -- -"$pid" 2>/dev/null
wait "$pid" 2>/dev/null
sleep 0.5
check "interrupted: no temporary file is left in OUTDIR" \
	sh -c "! ls -a '$TMP/int' | grep -q 'tmp\.'"
check "...and every night file there is complete" $PY -c 'import glob, h5py, sys
for p in glob.glob(sys.argv[1] + "/night*.h5"):
    h5py.File(p)["summary"].attrs["waso"]' "$TMP/int"
psg-batch "$C" -o "$TMP/int" -j 2 2>/dev/null
check "...and the rerun finishes it (4 nights in the table)" \
	test "$(rows "$TMP/int/cohort.h5")" = "night1 night2 night3 night4"

# Usage errors.
expect_exit 1 "no -o is a usage error" psg-batch "$C"
expect_exit 1 "--slurm without '--' is a usage error" psg-batch --slurm -p x "$C" -o "$TMP/x"
expect_exit 1 "--jobs 0 is a usage error" psg-batch -j 0 "$C" -o "$TMP/x"
expect_exit 2 "a missing LIST/DIR exits 2" psg-batch "$TMP/nope" -o "$TMP/x"
mkdir "$TMP/dup" "$TMP/dup/a" "$TMP/dup/b"
cp "$C/night1.edf" "$TMP/dup/a/n.edf"; cp "$C/night1.edf" "$TMP/dup/b/n.edf"
expect_exit 3 "two recordings of the same name are refused" \
	psg-batch "$TMP/dup" -o "$TMP/x"

# ---- a lab's directory: 20 nights, spaces, quotes, symbolic links ----
# Every good night must run exactly once (a psg-night wrapper logs each
# call); the bad ones are listed with their reasons.
L="$TMP/lab store"                  # the real files, one level away
D="$TMP/the cohort"                 # what the batch is given
mkdir -p "$L/site 'B'" "$L/loose" "$D"
for s in $(seq 1 17); do
	case $s in
	1|2|3|4|5) f="$D/n$s.edf" ;;                 # plain files
	6|7|8|9|10) f="$L/site 'B'/o'n $s.edf" ;;    # via a linked folder
	*) f="$L/loose/night $s.edf" ;;              # each one a link
	esac
	psg-synth -H 0.17 -p plm -s "$s" -o "$f" >/dev/null
done
ln -s "$L/site 'B'" "$D/site 'B'"
for s in $(seq 11 17); do ln -s "$L/loose/night $s.edf" "$D/link $s.edf"; done
head -c 300000 "$D/n1.edf" >"$D/broken one.edf"          # truncated
printf 'not an EDF at all\n' >"$D/broken two.edf"
psg-synth -H 0.17 -s 18 -o "$D/no eeg.edf" >/dev/null
# Its six EEG channels relabelled (EDF labels: 16 bytes each from 256).
for i in 0 1 2 3 4 5; do
	printf '%-16s' "Temp $i" | dd of="$D/no eeg.edf" bs=1 \
		seek=$((256 + 16 * i)) conv=notrunc 2>/dev/null
done
W="$TMP/wrapped bin"
mkdir "$W"
cp "$PSG_BUILD/bin/psg-batch" "$PSG_BUILD/bin/psg-collect" "$W/"
# The wrapper logs the output (after -o), which names the night.
{
	echo '#!/bin/sh'
	echo 'for a; do [ "${o:-}" = 1 ] && printf "%s\n" "$a"; o=; [ "$a" = -o ] && o=1; done >>"$CALLS"'
	echo 'exec "$PSG_BUILD/bin/psg-night" "$@"'
} >"$W/psg-night"
chmod +x "$W/psg-night"
CALLS=$TMP/calls
export CALLS
: >"$CALLS"
O="$TMP/out dir 'x'"
t0=$(date +%s)
"$W/psg-batch" "$D" -o "$O" -j 2 2>"$TMP/lab.err"
rc=$? t1=$(date +%s)
echo "# 20 nights of 10 min: $((t1 - t0)) s"
runs=$(sed 's|.*/||' "$CALLS" | sort | uniq -c | awk '$1 != 1' | head -n 3)
check "each of the 20 nights ran exactly once ($(wc -l <"$CALLS") runs;${runs:- no repeats})" \
	sh -c "test -z '$runs' && test $(wc -l <"$CALLS") -eq 20"
check "17 good nights, in folders with spaces, quotes and links: ok" \
	test "$(grep -c '^ok	' "$O/batch.log")" -eq 17
check "...every one has its result" test "$(ls "$O" | grep -c '\.h5$')" -eq 18
check "the truncated recording is FAILED with psg-read's reason" \
	grep -q "^FAILED	broken one	.*exit 2: psg-read: .*truncated" "$O/batch.log"
check "the file that is no EDF is FAILED with psg-read's reason" \
	grep -q "^FAILED	broken two	.*exit 2: psg-read: " "$O/batch.log"
check "the night without EEG is FAILED: exit 3 naming the EEG role" \
	grep -q "^FAILED	no eeg	.*exit 3: psg-night: .*EEG" "$O/batch.log"
check "psg-batch exits 4 for the three bad nights ($rc)" test "$rc" -eq 4
check "the cohort table has the 17 good nights" \
	test "$($PY -c 'import h5py, sys
print(len(h5py.File(sys.argv[1])["cohort"]["night"]))' "$O/cohort.h5")" -eq 17
: >"$CALLS"
"$W/psg-batch" "$D" -o "$O" -j 2 2>/dev/null
check "a rerun runs only the 3 failed nights again ($(wc -l <"$CALLS"))" \
	test "$(wc -l <"$CALLS")" -eq 3
grep -v '^ok	' "$O/batch.log" | sed 's/^/# /'
rm -rf "$L" "$D" "$O"

# ---- a real Slurm on this machine ----
SL="$ROOT/tests/tools/slurm-local"
if ! "$SL" available 2>"$TMP/why"; then
	skip "Slurm not installed ($(cat "$TMP/why"))"
elif [ "$(id -u)" -ne 0 ]; then
	skip "Slurm test needs root (slurmd starts jobs as their user)"
else
	# munged wants every directory above its socket searchable by all.
	chmod 755 "$TMP"
	mkdir "$TMP/slurm"
	if env=$("$SL" start "$TMP/slurm" 2>"$TMP/sl.err"); then
		t0=$(date +%s)
		env "$env" psg-batch --slurm --time=5 -- "$C" -o "$TMP/sout" \
			2>"$TMP/s.err"
		rc=$? t1=$(date +%s)
		check "Slurm: the array exits 4 for the corrupt night ($rc, $((t1 - t0)) s)" \
			test "$rc" -eq 4
		check "Slurm: one task per night ran (5 task logs)" \
			test "$(ls "$TMP/sout/logs" | grep -c '^slurm-[0-9]*_[0-9]*\.out$')" -eq 5
		check "Slurm: batch.log and the cohort table as locally" sh -c \
			"test '$(col "$TMP/sout/batch.log" ok)' = 'night1 night2 night3 night4 ' && \
			test '$(rows "$TMP/sout/cohort.h5")' = 'night1 night2 night3 night4'"
		env "$env" psg-batch --slurm -- "$C" -o "$TMP/sout" 2>/dev/null
		check "Slurm: a rerun submits only the failed night" \
			test "$(ls "$TMP/sout/logs" | grep -c '^slurm-')" -eq 6
		# A busy slurmctld (squeue times out, prints nothing) must not
		# end the wait: the first 3 squeue calls fail here.
		mkdir "$TMP/busy"
		real=$(command -v squeue)
		{
			echo '#!/bin/sh'
			echo "n=\$(cat '$TMP/busy/n' 2>/dev/null || echo 0)"
			echo "echo \$((n + 1)) >'$TMP/busy/n'"
			echo '[ "$n" -ge 3 ] || { echo "squeue: error: Socket timed out" >&2; exit 1; }'
			echo "exec '$real' \"\$@\""
		} >"$TMP/busy/squeue"
		chmod +x "$TMP/busy/squeue"
		env "$env" PATH="$TMP/busy:$PATH" psg-batch --slurm -- "$C" \
			-o "$TMP/bout" 2>/dev/null
		rc=$?
		check "Slurm: squeue not answering at first does not end the wait ($rc, 4 ok)" \
			sh -c "test $rc -eq 4 && \
			test '$(col "$TMP/bout/batch.log" ok)' = 'night1 night2 night3 night4 '"
		pids=$(cat "$TMP"/slurm/*.pid)
		"$SL" stop "$TMP/slurm"
		# A zombie (state Z) is dead, not yet reaped.  Under load a
		# daemon can take seconds to exit: give it up to 10 s.
		i=0
		while :; do
			left=
			for p in $pids; do
				[ -d "/proc/$p" ] && ! grep -q '^[0-9]* ([^)]*) Z' \
					"/proc/$p/stat" 2>/dev/null && left="$left $p"
			done
			[ -n "$left" ] && [ $i -lt 20 ] || break
			sleep 0.5; i=$((i + 1))
		done
		check "Slurm: the $(echo $pids | wc -w) daemons started are stopped" \
			test -z "$left" -a -n "$pids"
	else
		flunk "slurm-local start: $(tail -n 3 "$TMP/sl.err")"
	fi
fi
finish
