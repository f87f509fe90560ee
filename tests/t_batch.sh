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
check "a batch with one corrupt recording exits 3+1 ($rc)" test "$rc" -eq 4
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
		check "Slurm: the array exits 3+1 for the corrupt night ($rc, $((t1 - t0)) s)" \
			test "$rc" -eq 4
		check "Slurm: one task per night ran (5 task logs)" \
			test "$(ls "$TMP/sout/logs" | grep -c '^slurm-[0-9]*_[0-9]*\.out$')" -eq 5
		check "Slurm: batch.log and the cohort table as locally" sh -c \
			"test '$(col "$TMP/sout/batch.log" ok)' = 'night1 night2 night3 night4 ' && \
			test '$(rows "$TMP/sout/cohort.h5")' = 'night1 night2 night3 night4'"
		env "$env" psg-batch --slurm -- "$C" -o "$TMP/sout" 2>/dev/null
		check "Slurm: a rerun submits only the failed night" \
			test "$(ls "$TMP/sout/logs" | grep -c '^slurm-')" -eq 6
		pids=$(cat "$TMP"/slurm/*.pid)
		"$SL" stop "$TMP/slurm"
		sleep 1
		left=
		for p in $pids; do   # a zombie (state Z) is dead, not yet reaped
			[ -d "/proc/$p" ] && ! grep -q '^[0-9]* ([^)]*) Z' \
				"/proc/$p/stat" 2>/dev/null && left="$left $p"
		done
		check "Slurm: the $(echo $pids | wc -w) daemons started are stopped" \
			test -z "$left" -a -n "$pids"
	else
		flunk "slurm-local start: $(tail -n 3 "$TMP/sl.err")"
	fi
fi
finish
