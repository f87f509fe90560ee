#!/bin/sh
# psg-sws and psg-score: N3 calls and slow-wave events against psg-synth's
# ground truth, psg-score's arithmetic against an independent computation,
# the real Sleep-EDF wake excerpt (no SWS), the four DREAMS excerpts
# against their expert (the night-adaptive rule, and the plain AASM rule
# it improves on), a night without N3, and the errors.
. "$ROOT/tests/lib.sh"
if ! have_h5py; then skip "h5py missing"; finish; fi

psg-synth -H 1.2 -p clean -s 5 -o "$TMP/n.edf" >/dev/null
psg-read "$TMP/n.edf" | psg-sws | tee "$TMP/n.psg" | psg-h5 -o "$TMP/n.h5"
psg-score -r "$TMP/n.hypnogram.edf" --json "$TMP/score.json" "$TMP/n.psg" \
	>"$TMP/score.txt"
check "psg-read | psg-sws | psg-h5 and psg-score run on a generated night" \
	test -s "$TMP/n.h5" -a -s "$TMP/score.json"
$PY - "$TMP" >"$TMP/out" 2>&1 <<'PYEOF'
import csv, json, math, sys
import h5py
import numpy as np
d = sys.argv[1]
ok = lambda c, m: print(("ok - " if c else "not ok - ") + m)
f = h5py.File(d + "/n.h5", "r")
ep = f["epochs"][:]
truth = list(csv.DictReader(open(d + "/n.epochs.tsv"), delimiter="\t"))
# schema 2.0: why an epoch is unusable is text, and says so exactly where
# the call is -1
why = [x.decode() for x in ep["sws_unusable"]]
ok(ep.dtype["sws_unusable"].kind == "S" and
   all((w == "usable") == (c != -1) and
       w in ("usable", "flat", "saturated", "artefact")
       for w, c in zip(why, ep["sws"])),
   "sws_unusable is text, 'usable' exactly where sws is not -1 (%d "
   "epochs, %d unusable)" % (len(why), sum(w != "usable" for w in why)))
t = np.array([r["stage"] == "N3" for r in truth])
p = ep["sws"][:len(t)] == 1
tp, fp, fn, tn = [int(np.sum(a & b)) for a, b in
                  ((p, t), (p, ~t), (~p, t), (~p, ~t))]
f1 = 2 * tp / (2 * tp + fp + fn)
ok(t.sum() > 20 and f1 >= 0.95, "N3 epochs against the truth: %d true, "
   "TP %d FP %d FN %d, F1 %.3f >= 0.95" % (t.sum(), tp, fp, fn, f1))
# psg-score's numbers recomputed here (Cohen 1960).
n = tp + fp + fn + tn
po = (tp + tn) / n
pe = ((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)) / n ** 2
kappa = (po - pe) / (1 - pe)
s = json.load(open(d + "/score.json"))["targets"]["N3"]
ok((s["tp"], s["fp"], s["fn"], s["tn"]) == (tp, fp, fn, tn) and
   abs(s["kappa"] - kappa) < 1e-5 and abs(s["f1"] - f1) < 1e-5,
   "psg-score's confusion matrix, kappa %.4f and F1 %.4f equal an "
   "independent computation" % (s["kappa"], s["f1"]))
# Events: every detected wave is a generated one (onset within 0.5 s).
det = np.sort(f["events/slow_waves"]["onset"])
gen = np.sort([float(r["onset"]) for r in
               csv.DictReader(open(d + "/n.events.tsv"), delimiter="\t")
               if r["kind"] in ("slow_wave", "k_complex")])
big = np.sort([float(r["onset"]) for r in
               csv.DictReader(open(d + "/n.events.tsv"), delimiter="\t")
               if r["kind"] == "slow_wave" and float(r["amplitude"]) >= 110])
def hits(a, b):
    j = np.searchsorted(b, a)
    return sum(any(abs(x - b[i]) <= 0.5 for i in (k - 1, k)
                   if 0 <= i < len(b)) for x, k in zip(a, j))
prec = hits(det, gen) / len(det)
rec = hits(big, det) / len(big)
ok(len(det) > 100 and prec >= 0.95, "slow-wave events: %d detected, "
   "precision %.3f >= 0.95 against the generated waves" % (len(det), prec))
# Recall of the generated waves >= 110 uV: the issue's 0.95.  It needs the
# positive half-wave limit at 1.5 s (YASA's 1 s misses waves whose
# positive half the 0.3-Hz high-pass lengthens; docs/validation.md).
ok(rec >= 0.95, "recall of generated slow waves >= 110 uV: %.3f >= 0.95"
   % rec)
sm = f["summary"]
ok(abs(sm.attrs["sws_minutes"] - p.sum() * 0.5) < 1e-9 and
   sm["sws_minutes"].attrs["unit"] == "min",
   "summary sws_minutes %.1f = SWS epochs x 0.5 min" % sm.attrs["sws_minutes"])
PYEOF
# The checks above print "ok - ..." lines of their own.
cat "$TMP/out"
grep -q '^not ok' "$TMP/out" && failures=$((failures + 1))
grep -q '^ok' "$TMP/out" || flunk "the Python checks did not run"

if have_shared; then
	psg-read "$SHARED/sleep-edf/SC4001E0_excerpt_5min_edfio_short_psg.edf" |
		psg-sws | psg-dump --no-samples >"$TMP/wake.txt"
	all=$(grep -c '^epoch [0-9]* sws=' "$TMP/wake.txt")
	nsws=$(grep -c '^epoch [0-9]* sws=1 ' "$TMP/wake.txt")  # not n: TAP's
	check "the Sleep-EDF wake excerpt gets a call in all 10 epochs ($all)" \
		test "$all" -eq 10
	check "the real Sleep-EDF wake excerpt has no SWS epoch ($nsws)" \
		test "$all" -eq 10 -a "$nsws" -eq 0
	# Ocular rejection keeps its eye movements out of the coverage:
	# without the EOG (and without the delta-share condition, which also
	# stops them: their power is not mostly 0.5-2 Hz) they pass the
	# amplitude rule.
	ocular=$(sed -n 's/^summary "sws_ocular_waves" unit="" value=//p' \
		"$TMP/wake.txt")
	noeog=$(psg-read "$SHARED/sleep-edf/SC4001E0_excerpt_5min_edfio_short_psg.edf" |
		psg-sws --eog none --delta-share 0 | psg-dump --no-samples |
		grep -c '^epoch [0-9]* sws=1 ')
	check "ocular rejection (EOG horizontal) does it: $ocular waves rejected; with --eog none --delta-share 0 $noeog epochs are SWS" \
		test "${ocular:-0}" -gt 0 -a "$noeog" -gt 0
	# YASA's 30 s of real N3 (a text file of uV at 100 Hz) as an EDF.
	PYTHONPATH="$ROOT/tests" $PY -c "
import numpy as np, filter_check as fc
x = np.loadtxt('$SHARED/yasa/yasa_N3_no-spindles_30sec_100Hz.txt')
fc.write_edf('$TMP/yasa.edf', [dict(label='EEG Fz', rate=100, x=x,
                                    pmin=-500, pmax=500)])"
	yasa=$(psg-read "$TMP/yasa.edf" | psg-sws | psg-dump --no-samples |
		grep -c '^epoch 0 sws=1 ')
	check "the real YASA N3 snippet is called SWS ($yasa of 1)" \
		test "$yasa" -eq 1
	# Pooled over the four excerpts: F1 and Cohen's kappa of the summed
	# confusion matrix (psg-score's fields 6, 8, 10, 12: TP FP FN TN).
	pooled='{tp+=$6; fp+=$8; fn+=$10; tn+=$12} END {n=tp+fp+fn+tn;
		po=(tp+tn)/n; pe=((tp+fp)*(tp+fn)+(fn+tn)*(fp+tn))/n/n;
		printf "%.3f %.3f", 2*tp/(2*tp+fp+fn), (po-pe)/(1-pe)}'
	for rule in adaptive absolute; do
		: >"$TMP/dreams.$rule"
		for k in 1 2 3 4; do
			opt=; [ $rule = absolute ] && opt=--absolute
			psg-read -e 20 "$SHARED/dreams/excerpt${k}_eeg_hyp.edf" |
				psg-sws $opt | psg-score -r \
				"$SHARED/dreams/Hypnogram_excerpt$k.txt" >>"$TMP/dreams.$rule"
		done
		sed "s/^/# $rule (in-sample): /" "$TMP/dreams.$rule"
	done
	# The defaults' figures above are in-sample (they were chosen on
	# these excerpts); what is asserted is the leave-one-patient-out
	# figure (make validate): each excerpt scored with the option value
	# chosen on the others.  Measured 0.823 / 0.786 (docs/validation.md);
	# the bounds leave room for one or two epochs.
	$PY "$ROOT/tests/validate.py" N3 >"$TMP/cv" 2>&1
	sed 's/^/# /' "$TMP/cv"
	set -- $(sed -n 's/^cv N3 //p' "$TMP/cv")
	check "DREAMS N3, cross-validated (leave one patient out): pooled F1 ${1:-?} >= 0.78, kappa ${2:-?} >= 0.74" \
		awk -v f="${1:-0}" -v k="${2:-0}" 'BEGIN {exit !(f >= 0.78 && k >= 0.74)}'
	set -- $(awk "$pooled" "$TMP/dreams.absolute")
	check "DREAMS N3, plain AASM rule (--absolute): pooled F1 $1 (0.60-0.72, as documented)" \
		awk -v f="$1" 'BEGIN {exit !(f >= 0.60 && f <= 0.72)}'
else
	skip "../shared absent: Sleep-EDF wake excerpt and DREAMS"
fi
# A pair of EOG channels is compared as its difference, and filtered as
# one (the difference, not each): on a recording of whole microvolts,
# where E1-M2 minus E2-M2 is exactly the bipolar E1-E2 beside it, the
# pair (either way round) and the bipolar channel give the same waves,
# ocular rejections and calls.  Eye movements (opposite in E1 and E2,
# 40 % of them in Fz) must be rejected; the slow waves (common to both
# eyes' leads, so absent from their difference) must not.
PYTHONPATH="$ROOT/tests" $PY -c "
import numpy as np, filter_check as fc
r, n = 100, 600
t = np.arange(n * r) / r
rng = np.random.default_rng(7)
sw = 60 * np.sin(2 * np.pi * 1.0 * t) * (np.sin(2 * np.pi * t / 120) > 0)
eye = 150 * np.sin(2 * np.pi * 0.8 * t) * (np.sin(2 * np.pi * t / 120 + 2) > 0.3)
noise = lambda: 5 * rng.standard_normal(n * r)
fz = np.round(sw + 0.4 * eye + noise())
e1 = np.round(0.5 * sw + eye + noise())
e2 = np.round(0.5 * sw - eye + noise())
ch = lambda l, x: dict(label=l, rate=r, x=x, pmin=-32768, pmax=32767)
fc.write_edf('$TMP/pair.edf', [ch('EEG Fz', fz), ch('E1-M2', e1), ch('E2-M2', e2)])
fc.write_edf('$TMP/bip.edf', [ch('EEG Fz', fz), ch('E1-E2', e1 - e2)])"
calls() { grep -E '^(event|epoch|summary)'; }
psg-read "$TMP/pair.edf" | psg-sws --eog 'E1-M2,E2-M2' | psg-dump --no-samples |
	calls >"$TMP/pair.txt"
psg-read "$TMP/pair.edf" | psg-sws --eog 'E2-M2,E1-M2' | psg-dump --no-samples |
	calls >"$TMP/pair2.txt"
psg-read "$TMP/bip.edf" | psg-sws --eog 'E1-E2' | psg-dump --no-samples |
	calls >"$TMP/bip.txt"
ocular=$(sed -n 's/^summary "sws_ocular_waves" unit="" value=//p' "$TMP/pair.txt")
waves=$(grep -c '^event' "$TMP/pair.txt")
check "an EOG pair is its difference: the same $waves waves, $ocular ocular, and calls as the bipolar channel, either way round" \
	sh -c "test '${ocular:-0}' -gt 0 -a '$waves' -gt 0 && cmp -s '$TMP/pair.txt' '$TMP/bip.txt' && cmp -s '$TMP/pair.txt' '$TMP/pair2.txt'"
# A night without N3 (W, N1, N2 and REM only): no epoch may be called SWS.
{ for s in W N1 N2 R; do
	k=0; c=$(case $s in W|N1) echo 10;; N2) echo 120;; R) echo 40;; esac)
	while [ $k -lt $c ]; do echo $s; k=$((k + 1)); done
done; } >"$TMP/non3.txt"
psg-synth --hypnogram "$TMP/non3.txt" -p clean -s 5 -o "$TMP/q.edf" >/dev/null
nsws=$(psg-read "$TMP/q.edf" | psg-sws | psg-dump --no-samples |
	grep -c '^epoch [0-9]* sws=1 ')
check "a generated night without N3 has no SWS epoch ($nsws)" test "$nsws" -eq 0
expect_exit 1 "psg-sws --floor 2 exits 1" sh -c "psg-sws --floor 2 <'$TMP/n.psg'"
expect_exit 3 "psg-sws without a frontal or central EEG exits 3" \
	sh -c "psg-read -c 'ECG*' '$TMP/n.edf' | psg-sws"
expect_exit 1 "psg-sws --eog with a missing channel is a usage error (exit 1)" \
	sh -c "psg-sws --eog 'E1-M2,NOPE' <'$TMP/n.psg'"
expect_exit 1 "psg-sws --eog-ratio 0 exits 1" \
	sh -c "psg-sws --eog-ratio 0 <'$TMP/n.psg'"
expect_exit 1 "psg-score without --reference exits 1" psg-score "$TMP/n.psg"
expect_exit 3 "psg-score on a stream without sws/wake exits 3" \
	sh -c "psg-read '$TMP/n.edf' | psg-score -r '$TMP/n.hypnogram.edf'"
finish
