#!/bin/sh
# psg-spindle and psg-score --iou: spindles and K-complexes against
# psg-synth's ground truth (two 2-h nights), the summary's density and its
# basis, psg-score's overlap matching against an independent one, the
# same events whatever the block size, an EDF+D night, the four DREAMS
# excerpts against expert 1 (skipped without ../shared), and the errors.
. "$ROOT/tests/lib.sh"
if ! have_h5py; then skip "h5py missing"; finish; fi

for pn in clean:5 healthy:3; do
	p=${pn%:*} s=${pn#*:}
	psg-synth -H 2 -p "$p" -s "$s" -o "$TMP/$p$s.edf" >/dev/null
	psg-read "$TMP/$p$s.edf" -a "$TMP/$p$s.hypnogram.edf" | psg-spindle \
		| tee "$TMP/$p$s.psg" | psg-h5 -o "$TMP/$p$s.h5"
	psg-score -e "$TMP/$p$s.events.tsv" -l spindle -t spindles --iou 0.2 \
		--json "$TMP/$p$s.json" "$TMP/$p$s.psg" >"$TMP/$p$s.score"
done
check "psg-read -a | psg-spindle | psg-h5 and psg-score --iou run on two nights" \
	test -s "$TMP/clean5.h5" -a -s "$TMP/healthy3.json"
sed 's/^/# /' "$TMP/clean5.score" "$TMP/healthy3.score"
$PY - "$TMP" >"$TMP/out" 2>&1 <<'PYEOF'
import csv, json, sys
import h5py
import numpy as np
d = sys.argv[1]
ok = lambda c, m: print(("ok - " if c else "not ok - ") + m)

def iou(a, da, b, db):
    inter = min(a + da, b + db) - max(a, b)
    return max(0, inter) / (max(a + da, b + db) - min(a, b))

def match(det, ref, least=0.2):
    """One to one, best overlap first (as psg-score --iou)."""
    pairs = sorted((-iou(a, da, b, db), i, j)
                   for i, (a, da) in enumerate(det)
                   for j, (b, db) in enumerate(ref)
                   if a < b + db and b < a + da and
                   iou(a, da, b, db) >= least)
    used_d, used_r, m = set(), set(), []
    for _, i, j in pairs:
        if i not in used_d and j not in used_r:
            used_d.add(i), used_r.add(j), m.append((i, j))
    return m

tot = {"tp": 0, "det": 0, "ref": 0, "nrem_det": 0, "nrem_fp": 0}
kc = {"tp": 0, "ref": 0, "n2_det": 0, "n2_fp": 0}
ferr = []
for night in ("clean5", "healthy3"):
    f = h5py.File("%s/%s.h5" % (d, night), "r")
    truth = list(csv.DictReader(open("%s/%s.events.tsv" % (d, night)),
                                delimiter="\t"))
    ep = list(csv.DictReader(open("%s/%s.epochs.tsv" % (d, night)),
                             delimiter="\t"))
    stage = lambda t: ep[min(int(t // 30), len(ep) - 1)]["stage"]
    sp = f["events/spindles"][:]
    det = [(float(e["onset"]), float(e["duration"])) for e in sp]
    ref = [(float(r["onset"]), float(r["duration"]), float(r["value"]))
           for r in truth if r["kind"] == "spindle"]
    m = match(det, [r[:2] for r in ref])
    # psg-score's counts equal this independent matching's.
    s = json.load(open("%s/%s.json" % (d, night)))["events"]
    ok((s["tp"], s["detected"], s["reference"]) == (len(m), len(det),
                                                     len(ref)),
       "%s: psg-score --iou 0.2 TP %d of %d detected, %d reference, as an "
       "independent matching (%d)" % (night, s["tp"], s["detected"],
                                      s["reference"], len(m)))
    hit = {i for i, _ in m}
    tot["tp"] += len(m); tot["det"] += len(det); tot["ref"] += len(ref)
    for i, (a, _) in enumerate(det):
        if stage(a) in ("N2", "N3"):
            tot["nrem_det"] += 1
            tot["nrem_fp"] += i not in hit
    ferr += [abs(sp["frequency"][i] - ref[j][2]) for i, j in m]
    # K-complexes: the truth has them in N2 only.
    kx = f["events/k_complexes"][:]
    kdet = [(float(e["onset"]), float(e["duration"])) for e in kx]
    kref = [(float(r["onset"]), float(r["duration"])) for r in truth
            if r["kind"] == "k_complex"]
    km = match(kdet, kref)
    khit = {i for i, _ in km}
    kc["tp"] += len(km); kc["ref"] += len(kref)
    for i, (a, _) in enumerate(kdet):
        if stage(a) == "N2":
            kc["n2_det"] += 1
            kc["n2_fp"] += i not in khit
    # The density is per minute of N2+N3 of the merged hypnogram.
    summ = dict(f["summary"].attrs)
    nrem_min = sum(st["stage"] in ("N2", "N3") for st in ep) * 0.5
    n_in = sum(stage(a) in ("N2", "N3") for a, _ in det)
    ok(summ["spindle_basis"] == 2 and
       abs(summ["spindle_density"] - n_in / nrem_min) < 0.02,
       "%s: spindle_density %.3f/min of N2+N3 (basis %d) = %d spindles "
       "in %.1f min" % (night, summ["spindle_density"],
                        summ["spindle_basis"], n_in, nrem_min))
    true_density = sum(stage(r[0]) in ("N2", "N3") for r in ref) / nrem_min
    ok(0.6 * true_density <= summ["spindle_density"] <= 1.4 * true_density,
       "%s: spindle density %.2f/min within 40 %% of the truth's %.2f"
       % (night, summ["spindle_density"], true_density))
recall = tot["tp"] / tot["ref"]
prec = 1 - tot["nrem_fp"] / tot["nrem_det"]
ok(recall >= 0.55, "spindles on two generated nights: recall %.3f >= 0.55 "
   "(%d of %d, IoU >= 0.2)" % (recall, tot["tp"], tot["ref"]))
ok(prec >= 0.75, "spindles in N2/N3: precision %.3f >= 0.75 (%d false of "
   "%d; the generator's wake alpha and beta make most of the others)"
   % (prec, tot["nrem_fp"], tot["nrem_det"]))
ok(np.median(ferr) <= 1.0, "matched spindles' frequency: median error "
   "%.2f Hz <= 1" % np.median(ferr))
krec = kc["tp"] / kc["ref"]
kprec = 1 - kc["n2_fp"] / kc["n2_det"]
ok(krec >= 0.8, "K-complexes: recall %.3f >= 0.8 (%d of %d)"
   % (krec, kc["tp"], kc["ref"]))
ok(kprec >= 0.6, "K-complexes in N2: precision %.3f >= 0.6 (%d false of %d)"
   % (kprec, kc["n2_fp"], kc["n2_det"]))
PYEOF
[ $? -eq 0 ] || echo "not ok - the Python checks stopped" >>"$TMP/out"
cat "$TMP/out"
check "the $(grep -c '^ok' "$TMP/out") generated-night checks above pass (11 expected)" \
	sh -c "! grep -q '^not ok' '$TMP/out' && [ \$(grep -c '^ok' '$TMP/out') -eq 11 ]"

# Streaming: the same events whatever the data block size.
psg-read --block 0.37 "$TMP/clean5.edf" | psg-spindle | psg-dump --no-samples \
	| grep '^event "\(spindles\|k_complexes\)"' >"$TMP/small"
psg-dump --no-samples "$TMP/clean5.psg" \
	| grep '^event "\(spindles\|k_complexes\)"' >"$TMP/big"
check "the same $(wc -l <"$TMP/big") events with 0.37-s blocks as with 1-s ones" \
	cmp -s "$TMP/small" "$TMP/big"

# The endings beyond A7: a hysteresis on the covariance lengthens the
# spindles; --merge 1 leaves none within 1 s of the next, where A7's
# rule leaves some.
spans() {   # onset and duration of each spindle
	psg-dump --no-samples "$1" | sed -n \
		's/^event "spindles" onset=\([^ ]*\) duration=\([^ ]*\) .*/\1 \2/p'
}
meandur() {
	psg-dump --no-samples "$1" |
		sed -n 's/^summary "spindle_mean_duration" .*value=//p'
}
gaps_under() {   # spindles starting less than $2 s after the last one ends
	spans "$1" | awk -v g="$2" 'NR > 1 && $1 - end < g {n++} {end = $1 + $2}
		END {print n + 0}'
}
psg-read "$TMP/clean5.edf" | psg-spindle --no-kcomplex >"$TMP/a7.psg"
psg-read "$TMP/clean5.edf" | psg-spindle --no-kcomplex --extent-cov 0.7 \
	>"$TMP/ext.psg"
a=$(meandur "$TMP/a7.psg") b=$(meandur "$TMP/ext.psg")
check "--extent-cov 0.7: spindles longer on average ($b s against $a s)" \
	awk -v a="$a" -v b="$b" 'BEGIN {exit !(b > a + 0.02)}'
psg-read "$TMP/clean5.edf" | psg-spindle --no-kcomplex --merge 1 >"$TMP/mrg.psg"
a=$(gaps_under "$TMP/a7.psg" 1) b=$(gaps_under "$TMP/mrg.psg" 1)
check "--merge 1: $b spindles within 1 s of the one before (A7's rule: $a)" \
	test "$b" -eq 0 -a "$a" -gt 0

# Without a hypnogram: per minute of recording (basis 0); with psg-wake's
# calls: per minute of its sleep (basis 1).
psg-read "$TMP/clean5.edf" | psg-spindle --no-kcomplex | psg-dump --no-samples \
	| grep '"spindle_basis"' >"$TMP/b0"
check "no stage information: spindle_basis 0" grep -q 'value=0$' "$TMP/b0"
psg-read "$TMP/clean5.edf" | psg-wake | psg-spindle --no-kcomplex \
	| psg-dump --no-samples | grep '"spindle_basis"' >"$TMP/b1"
check "after psg-wake: spindle_basis 1" grep -q 'value=1$' "$TMP/b1"

# Bounded memory: the peak RSS of a 4-h night is that of a half-hour one
# (2 EEG channels, to keep the test fast).
case ${PSG_WRAP:-}${PSG_VALGRIND:+valgrind}$PSG_BUILD in
*san*|*valgrind*) skip "memory growth (sanitizer or valgrind run)" ;;
*)
	for h in 0.5 4; do
		psg-synth -H $h -n 2 -p healthy -s 1 -o "$TMP/m$h.edf" >/dev/null
	done
	kb=$("$PY" - "$TMP" <<'EOF'
import os, subprocess, sys
d = sys.argv[1]
def peak_kb(h):
    src = subprocess.Popen(["psg-read", "%s/m%s.edf" % (d, h)],
                           stdout=subprocess.PIPE)
    p = subprocess.Popen(["psg-spindle"], stdin=src.stdout,
                         stdout=subprocess.DEVNULL)
    src.stdout.close()
    _, status, ru = os.wait4(p.pid, 0)
    src.wait()
    return ru.ru_maxrss if status == 0 else -1
print(peak_kb("0.5"), peak_kb("4"))
EOF
)
	set -- $kb
	check "peak memory flat: 0.5 h ${1:-?} KiB, 4 h ${2:-?} KiB (< 2 MiB more)" \
		test "${1:--1}" -gt 0 -a "${2:--1}" -gt 0 -a $((${2:-0} - ${1:-0})) -lt 2048
	;;
esac

# An EDF+D night: the detector restarts at each gap.
psg-synth -H 0.5 -p clean -s 2 --gaps 2 -o "$TMP/d.edf" >/dev/null
check "an EDF+D night with 2 gaps runs" \
	sh -c "psg-read '$TMP/d.edf' | psg-spindle | psg-dump --no-samples \
		| grep -q '^event \"spindles\"'"

# Real data: DREAMS excerpts 1-4 against expert 1 (who marked only the
# first 1000 s), the stage's defaults (A7's thresholds, the 11.5-16 Hz
# band the CV chose; in-sample for the band); the leave-one-out CV figure
# of make validate-spindles is in docs/validation.md.
D=$SHARED/dreams
if [ -f "$D/excerpt1_eeg_hyp.edf" ]; then
	: >"$TMP/dreams"
	for i in 1 2 3 4; do
		psg-read "$D/excerpt${i}_eeg_hyp.edf" | psg-spindle --no-kcomplex \
			>"$TMP/x$i.psg"
		psg-score -e "$D/Visual_scoring1_excerpt$i.txt" --iou 0.2 \
			--span 0-1000 "$TMP/x$i.psg" >>"$TMP/dreams"
	done
	sed 's/^/# /' "$TMP/dreams"
	set -- $(awk '{t += $6; d += $4; r += $6 + $10} END {
		printf "%.3f %d %d %d", 2 * t / (d + r), t, d, r}' "$TMP/dreams")
	check "DREAMS excerpts 1-4 vs expert 1: pooled F1 $1 >= 0.65 (TP $2, detected $3, reference $4)" \
		awk -v f="$1" 'BEGIN {exit !(f >= 0.65)}'
	psg-score -e "$D/Visual_scoring1_excerpt1.txt" --iou 0.2 --span 0-1000 \
		--detected "$D/Visual_scoring2_excerpt1.txt" "$TMP/x1.psg" \
		>"$TMP/e2"
	check "expert 2 vs expert 1 on excerpt 1 (DREAMS files): TP 32 of 43 and 52" \
		grep -q 'detected 43  TP 32 FP 11 FN 20' "$TMP/e2"
	# Its own staging plus the same staging imported again: N2+N3 time
	# counts once, so the density does not change.
	dens() { psg-dump | sed -n 's/^summary "spindle_density" .*value=//p'; }
	a=$(psg-read -e 20 "$D/excerpt1_eeg_hyp.edf" | psg-spindle | dens)
	b=$(psg-read -e 20 --annotations "$D/Hypnogram_excerpt1.txt" \
		"$D/excerpt1_eeg_hyp.edf" | psg-spindle | dens)
	check "a staging given twice counts its time once (density $a and $b)" \
		test -n "$a" -a "$a" = "$b"
else
	skip "no DREAMS excerpts in $D"
	skip "no DREAMS excerpts in $D"
	skip "no DREAMS excerpts in $D"
fi

# Errors.
psg-synth -H 0.05 -p clean -s 1 -o "$TMP/e.edf" >/dev/null
expect_exit 3 "no EEG channel: exit 3" \
	sh -c "psg-read -c 'Chin*' '$TMP/e.edf' | psg-spindle"
psg-read -c 'Chin*' "$TMP/e.edf" | psg-spindle --optional >"$TMP/pass" \
	2>"$TMP/warn"
check "--optional without an EEG: the stream passes through with a warning" \
	sh -c "psg-dump --no-samples '$TMP/pass' | grep -q 'history.*psg-spindle' &&
		grep -q 'warning' '$TMP/warn'"
expect_exit 1 "a bad option: exit 1" psg-spindle --abs-power x
expect_exit 1 "a bad range: exit 1" psg-spindle --sigma 16-11
psg-read "$TMP/e.edf" | head -c 20000 >"$TMP/trunc"
expect_exit 2 "a truncated stream: exit 2" \
	sh -c "psg-spindle <'$TMP/trunc'"
expect_exit 3 "psg-spindle twice: exit 3" \
	sh -c "psg-read '$TMP/e.edf' | psg-spindle | psg-spindle"
printf 'onset\n1.5\n' >"$TMP/nodur.tsv"
psg-read "$TMP/e.edf" | psg-spindle >"$TMP/e.psg"
expect_exit 3 "psg-score --iou with reference events without durations: exit 3" \
	psg-score -e "$TMP/nodur.tsv" --iou 0.2 "$TMP/e.psg"
printf '[vis1_Spindles/C3-A1]\n 1.0\t0.5\n2.0\n' >"$TMP/bad.txt"
expect_exit 2 "psg-score: a DREAMS file line without a duration: exit 2" \
	psg-score -e "$TMP/bad.txt" --iou 0.2 "$TMP/e.psg"
expect_exit 1 "psg-score --span without --events: exit 1" \
	psg-score -r "$TMP/e.hypnogram.edf" --span 0-10 "$TMP/e.psg"
finish
