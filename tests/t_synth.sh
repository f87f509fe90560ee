#!/bin/sh
# t_synth.sh -- psg-synth: the generated nights have the properties that
# docs/synth.md claims, measured on the written file (decoded by the
# independent tests/edfpy.py in tests/synth_check.py); the ground-truth TSVs
# only say where and when to look.  Also determinism, EDF+D, BDF, imported
# hypnograms, the truth as an EDF+ hypnogram and as HDF5, errors, channels.
#
#   PSG_BUILD=build sh tests/t_synth.sh        (or via tests/run.sh)
# Short nights (0.25-2 h) keep it well under a minute on two cores.
: "${ROOT:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$ROOT/tests/lib.sh"
if ! command -v psg-synth >/dev/null 2>&1; then
	case $PSG_BUILD in /*) PATH="$PSG_BUILD/bin:$PATH" ;;
	*) PATH="$ROOT/$PSG_BUILD/bin:$PATH" ;; esac
fi

# pycheck CHECK ARGS... [+ CHECK ARGS...]: runs tests/synth_check.py; its
# "ok - ..." / "not ok - ..." lines become TAP lines, the rest comments.
pycheck() {
	PYTHONPATH="$ROOT/tests" $PY "$ROOT/tests/synth_check.py" "$@" \
		>"$TMP/py.out" 2>&1
	pyrc=$?
	while IFS= read -r line; do
		case $line in
		"ok - "*) pass "${line#ok - }" ;;
		"not ok - "*) flunk "${line#not ok - }" ;;
		*) echo "#   $line" ;;
		esac
	done <"$TMP/py.out"
	[ "$pyrc" -eq 0 ] || flunk "synth_check.py $1 exited with status $pyrc"
}

# gen NAME ARGS...: psg-synth ARGS -o $TMP/NAME.edf (NAME with a dot: as
# is); flunks when it fails.
gen() {
	case $1 in *.*) out=$TMP/$1 ;; *) out=$TMP/$1.edf ;; esac
	shift
	if psg-synth "$@" -o "$out" 2>"$TMP/gen.err"; then
		return 0
	fi
	flunk "psg-synth $* failed"
	sed 's/^/#   /' "$TMP/gen.err"
	return 1
}

# The header's byte count (EDF field 184-191): data records follow it.
header_bytes() { head -c 192 "$1" | tail -c 8 | tr -d ' '; }

T=$TMP
start=$(date +%s)

# ---- 1. slow-wave sleep (mixed profile), 15. the truth as HDF5 ----
if have_h5py; then
	if psg-synth -p mixed -H 2 -o "$T/a.edf" --stream 2>"$T/gen.err" |
	    psg-h5 -o "$T/a.h5" 2>>"$T/gen.err" && [ -f "$T/a.h5" ]; then
		pycheck h5 "$T/a.h5" "$T/a"
	else
		flunk "psg-synth -p mixed -H 2 --stream | psg-h5 failed"
		sed 's/^/#   /' "$T/gen.err"
	fi
else
	skip "h5py missing: psg-synth --stream | psg-h5"
	gen a -p mixed -H 2
fi
[ -f "$T/a.edf" ] && pycheck sws "$T/a.edf"

# ---- 13. PREFIX.hypnogram.edf as annotations = the epochs' stages ----
if [ -f "$T/a.edf" ]; then
	psg-read "$T/a.edf" --annotations "$T/a.hypnogram.edf" |
		psg-dump --no-samples >"$T/a.dump"
	pycheck hyp-runs "$T/a.dump" "$T/a.edf"
fi

# ---- 2. EMG floor, 6. alpha, 7. spindles, 8. REM atonia (clean) ----
gen c -p clean -H 2 &&
	pycheck emgfloor "$T/c.edf" + chin "$T/c.edf" + alpha "$T/c.edf" \
		+ spindle "$T/c.edf"
rm -f "$T"/c.*

# ---- 3. LM amplitude, 14. PLM series and an LM detector (plm) ----
gen p -p plm -H 2 && pycheck lm "$T/p.edf" + plm "$T/p.edf"
rm -f "$T"/p.*

# ---- 9. determinism; 4. mains and 5. ECG on the default night ----
mkdir "$T/d2"
if gen d1 -H 0.25 && gen d2/d1 -H 0.25 && gen d3 -H 0.25 -s 2; then
	for x in edf events.tsv epochs.tsv hypnogram.edf; do
		check "same arguments twice: d1.$x byte-identical" \
			cmp -s "$T/d1.$x" "$T/d2/d1.$x"
	done
	hb=$(header_bytes "$T/d1.edf")
	if ! cmp -s -i "$hb" "$T/d1.edf" "$T/d3.edf" &&
	    ! cmp -s "$T/d1.events.tsv" "$T/d3.events.tsv"; then
		pass "another seed: different samples (after the $hb-byte header) and events"
	else
		flunk "-s 2 gives the same samples or events as -s 1"
	fi
	pycheck mains "$T/d1.edf" 50 + ecg "$T/d1.edf"
fi
rm -rf "$T/d2" "$T"/d3.*
gen m60 -H 0.25 --mains 60 && gen m0 -H 0.25 --mains 0 &&
	pycheck mains "$T/m60.edf" 60 + mains "$T/m0.edf" 0
rm -f "$T"/m60.* "$T"/m0.*

# ---- 11. BDF: same truth, same samples within the EDF quantisation ----
if gen b.bdf -H 0.25 --bdf && [ -f "$T/d1.edf" ]; then
	for x in events.tsv epochs.tsv hypnogram.edf; do
		check "--bdf: $x identical to the EDF run's (same seed)" \
			cmp -s "$T/b.$x" "$T/d1.$x"
	done
	psg-info --json "$T/b.bdf" >"$T/b.json"
	pycheck bdf "$T/d1.edf" "$T/b.bdf" "$T/b.json"
fi
rm -f "$T"/b.* "$T"/d1.*

# ---- 10. EDF+D ----
gen g --gaps 3 -H 2 && psg-info --json "$T/g.edf" >"$T/g.json" &&
	pycheck gaps "$T/g.edf" "$T/g.json" 3
rm -f "$T"/g.*

# ---- 12. hypnogram import: text files of our own, then shared ones ----
printf '%s\n' W W N1 N2 N3 N4 S1 S2 S3 S4 R REM 0 1 2 3 4 5 '?' W N2 \
	>"$T/own.txt"
if gen own --hypnogram "$T/own.txt"; then
	pycheck hyp-text "$T/own.txt" "$T/own.edf"
	psg-read "$T/own.edf" --annotations "$T/own.hypnogram.edf" |
		psg-dump --no-samples >"$T/own.dump"
	pycheck hyp-runs "$T/own.dump" "$T/own.edf"
fi
# DREAMS style, 5-s codes that change inside 20-s epochs.
{ echo "[Hypnogram]"; for c in 5 5 5 5 5 3 3 3 2 2 2 2 2 2 1 1 0 0 0 0 \
    1 2 2 4 4 4 4 4 4 5 3 2 2 2 2 2; do echo "$c"; done; } >"$T/own5.txt"
gen own5 --hypnogram "$T/own5.txt" -e 20 &&
	pycheck hyp-dreams "$T/own5.txt" "$T/own5.edf"
if have_shared; then
	if gen dr --hypnogram "$SHARED/dreams/Hypnogram_excerpt1.txt" -e 20
	then
		pycheck hyp-dreams "$SHARED/dreams/Hypnogram_excerpt1.txt" \
			"$T/dr.edf"
		# 13 again, with 20-s epochs
		psg-read "$T/dr.edf" --annotations "$T/dr.hypnogram.edf" |
			psg-dump --no-samples >"$T/dr.dump"
		pycheck hyp-runs "$T/dr.dump" "$T/dr.edf"
	fi
	sc=$SHARED/sleep-edf/SC4001EC-Hypnogram.edf
	gen se --hypnogram "$sc" -H 2 &&
		pycheck hyp-edf "$sc" "$T/se.edf" 7200
	# The whole hypnogram (24 h) on one small channel.
	gen sef --hypnogram "$sc" -n 1 --eeg-rate 50 &&
		pycheck hyp-edf "$sc" "$T/sef.edf"
else
	skip "../shared/data absent: DREAMS and Sleep-EDF hypnograms"
fi
rm -f "$T"/own* "$T"/dr.* "$T"/se.* "$T"/sef.*

# ---- 16. errors ----
mkdir "$T/err"
# fails CODE DESC ARGS...: psg-synth ARGS exits CODE, says exactly one line
# "psg-synth: ..." on stderr, nothing on stdout, leaves $T/err empty.
fails() {
	code=$1 d=$2
	shift 2
	psg-synth "$@" >"$T/out" 2>"$T/stderr"
	rc=$?
	left=$(ls -A "$T/err")
	if [ "$rc" -eq "$code" ] && [ "$(wc -l <"$T/stderr")" -eq 1 ] &&
	    grep -q '^psg-synth: ' "$T/stderr" && [ ! -s "$T/out" ] &&
	    [ -z "$left" ]; then
		pass "$d: exit $code, one line '$(cat "$T/stderr")'"
	else
		flunk "$d (exit $rc, wanted $code; left: ${left:-nothing})"
		sed 's/^/#   /' "$T/stderr"
	fi
	rm -rf "$T/err" && mkdir "$T/err"
}
fails 1 "unknown profile" -p nosuch -H 0.01 -o "$T/err/x.edf"
fails 2 "output in a missing directory" -H 0.01 -o "$T/err/none/x.edf"
fails 2 "truth in a missing directory (--truth)" -H 0.01 \
	-o "$T/err/x.edf" --truth "$T/err/none/x"
printf 'W\nN2\nbogus\n' >"$T/bad.txt"
fails 2 "hypnogram with an unknown stage" --hypnogram "$T/bad.txt" \
	-o "$T/err/x.edf"
fails 2 "missing hypnogram" --hypnogram "$T/none.txt" -o "$T/err/x.edf"
: >"$T/empty.txt"
fails 2 "empty hypnogram" --hypnogram "$T/empty.txt" -o "$T/err/x.edf"
printf '0       garbage, not an EDF header' >"$T/bad.edf"
fails 2 "hypnogram that is a broken EDF" --hypnogram "$T/bad.edf" \
	-o "$T/err/x.edf"
psg-synth --help >"$T/out" 2>"$T/stderr"
rc=$?
if [ "$rc" -eq 0 ] && grep -q '^usage: psg-synth' "$T/out" &&
    [ ! -s "$T/stderr" ]; then
	pass "--help: usage on stdout, exit 0"
else
	flunk "--help (exit $rc)"
fi

# ---- 17. channel counts; 18. a channel does not change the others ----
gen n64 -n 64 -H 0.02 && psg-info --json "$T/n64.edf" >"$T/n64.json" &&
	pycheck nchan "$T/n64.json" 64
rm -f "$T"/n64.*
if gen full -p clean -H 0.5 && gen n4 -p clean -H 0.5 -n 4; then
	psg-info --json "$T/n4.edf" >"$T/n4.json"
	pycheck nchan "$T/n4.json" 4 F4-M1 C4-M1 E1-M2 E2-M2 \
		+ indep "$T/full.edf" "$T/n4.edf"
fi

echo "# t_synth: $(($(date +%s) - start)) s"
finish
