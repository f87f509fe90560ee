#!/bin/sh
# psg-stage: five stages against psg-synth's truth (a healthy and an
# insomnia night with the full montage, the healthy one from its EEG
# alone, an EDF+D night with pauses), the sleep statistics in the summary
# against an independent count from the epochs, imported hypnograms
# winning, psg-score's five-stage comparison against one counted here,
# the DREAMS excerpts (R&K codes through psg-score too) and Sleep-EDF's
# wake (skipped without ../shared), and the errors.
. "$ROOT/tests/lib.sh"
if ! have_h5py; then skip "h5py missing"; finish; fi

chain() {   # chain OUT.h5 psg-read-args...: the detectors and psg-stage
	out=$1; shift
	psg-read "$@" | psg-wake | psg-sws | psg-spindle | psg-stage \
		2>"$out.err" | tee "${out%.h5}.psg" | psg-h5 -o "$out"
}
psg-synth -H 4 -p healthy -s 11 -o "$TMP/h.edf" >/dev/null
psg-synth -H 4 -p insomnia -s 12 -o "$TMP/i.edf" >/dev/null
psg-synth -H 3 -p healthy -s 13 --gaps 2 -o "$TMP/g.edf" >/dev/null
# mains hum (60 Hz here) on a chin as small as R's: the tone must not see it
psg-synth -H 3 -p mixed -s 14 --mains 60 -o "$TMP/m.edf" >/dev/null
chain "$TMP/h.h5" "$TMP/h.edf"
chain "$TMP/i.h5" "$TMP/i.edf"
chain "$TMP/he.h5" -c C4-M1 "$TMP/h.edf"
chain "$TMP/g.h5" "$TMP/g.edf"
chain "$TMP/m.h5" "$TMP/m.edf"
chain "$TMP/ha.h5" -a "$TMP/h.hypnogram.edf" "$TMP/h.edf"
check "psg-stage runs in the chain on five generated nights" \
	test -s "$TMP/h.h5" -a -s "$TMP/i.h5" -a -s "$TMP/he.h5" -a \
	-s "$TMP/g.h5" -a -s "$TMP/ha.h5" -a -s "$TMP/m.h5"

$PY - "$TMP" >"$TMP/out" 2>&1 <<'PYEOF'
import csv, sys
import h5py
import numpy as np
d = sys.argv[1]
ok = lambda c, m: print(("ok - " if c else "not ok - ") + m)
CODE = {"W": 0, "N1": 1, "N2": 2, "N3": 3, "R": 4}

def codes(col):
    """The stage column holds names (schema 2.0): "?" and "" are -1."""
    return [CODE.get(x.decode(), -1) for x in col]

def truth(night):
    rows = csv.DictReader(open("%s/%s.epochs.tsv" % (d, night)),
                          delimiter="\t")
    return [(CODE.get(r["stage"], -1), float(r["recorded"])) for r in rows]

def agreement(ref, got):
    cm = np.zeros((5, 5))
    for a, b in zip(ref, got):
        if a >= 0:
            cm[a, b if b >= 0 else 1] += 1   # unscored: a miss
    n = cm.sum()
    po = np.trace(cm) / n
    pe = (cm.sum(0) * cm.sum(1)).sum() / n / n
    return po, (po - pe) / (1 - pe), cm

for h5, night, acc_min, k_min, what in (
        ("h", "h", 0.9, 0.85, "healthy, full montage"),
        ("i", "i", 0.9, 0.85, "insomnia, full montage"),
        ("g", "g", 0.9, 0.85, "healthy EDF+D with 2 pauses"),
        ("m", "m", 0.85, 0.8, "mixed, 60-Hz mains, pops (unscored epochs)"),
        ("he", "h", 0.9, 0.85, "healthy, C4-M1 alone")):
    ep = h5py.File("%s/%s.h5" % (d, h5), "r")["epochs"][:]
    t = truth(night)
    ref = [s for s, rec in t if rec >= 0.5]
    got = [c for c, (s, rec) in zip(codes(ep["sleep_stage"]), t) if rec >= 0.5]
    po, k, cm = agreement(ref, got)
    print("# %s: accuracy %.3f kappa %.3f" % (what, po, k))
    print("# " + str(cm.astype(int)).replace("\n", "\n# "))
    ok(po >= acc_min and k >= k_min and len(ep) == len(t),
       "%s: accuracy %.3f >= %g, kappa %.3f >= %g" % (what, po, acc_min,
                                                       k, k_min))
    if h5 == "m":
        ok(cm[4, 4] >= 0.8 * cm[4].sum(),
           "mixed with mains: R found by the chin (%d of %d)" %
           (cm[4, 4], cm[4].sum()))
    if h5 == "h":
        ok(all((cm[i, i] / cm[i].sum() >= 0.5) for i in (0, 2, 3, 4)),
           "healthy: W, N2, N3 and R each mostly found (recall >= 0.5)")
    if h5 == "he":
        # R's stretches of 5 min bridged over short W and carried over
        # the N1 either side (50 of 90 with 10 min and neither)
        ok(cm[4, 4] >= 0.8 * cm[4].sum() and cm[:, 4].sum() - cm[4, 4] <=
           0.1 * cm[:, 4].sum(), "C4-M1 alone: R recall %d of %d >= 0.8, "
           "%d of %d R calls wrong <= 10 %%" % (cm[4, 4], cm[4].sum(),
           cm[:, 4].sum() - cm[4, 4], cm[:, 4].sum()))

def stats(stage, rec, mins):
    """The figures counted independently of pipeline/hypno.c."""
    sleep = [i for i, s in enumerate(stage) if 1 <= s <= 4 and rec[i]]
    first, last = sleep[0], sleep[-1]
    recd = lambda a, b: sum(1 for i in range(a, b) if rec[i])
    f = {"hyp_tst": len(sleep) * mins,
         "hyp_trt": sum(rec) * mins,
         "hyp_gap": (len(rec) - sum(rec)) * mins,
         "hyp_sol": recd(0, first) * mins,
         "hyp_spt": recd(first, last + 1) * mins,
         "hyp_waso": sum(1 for i in range(first, last + 1)
                         if rec[i] and stage[i] == 0) * mins}
    for k, nm in ((1, "n1"), (2, "n2"), (3, "n3"), (4, "rem")):
        f["hyp_%s_min" % nm] = sum(1 for i in sleep if stage[i] == k) * mins
    rem = [i for i in sleep if stage[i] == 4]
    f["hyp_rem_latency"] = recd(first, rem[0]) * mins if rem else np.nan
    return f

def same(a, b):
    return (np.isnan(a) and np.isnan(b)) or abs(a - b) < 1e-6

for h5, night, source in (("h", "h", 0), ("g", "g", 0), ("ha", "h", 1)):
    f = h5py.File("%s/%s.h5" % (d, h5), "r")
    s = {k: float(v) for k, v in f["summary"].attrs.items()}
    ep = f["epochs"][:]
    t = truth(night)
    rec = [r >= 0.5 for _, r in t]
    stage = [x for x, _ in t] if source else \
        codes(ep["sleep_stage"])
    want = stats(stage, rec, 0.5)
    bad = [k for k in want if not same(s[k], want[k])]
    ok(s["hyp_source"] == source and not bad,
       "%s: hyp_source %d, and %s as counted from the %s epochs%s" %
       (h5, source, ", ".join(sorted(want)), "imported" if source else
        "computed", "; differ: " + ", ".join("%s %g != %g" % (k, s[k],
        want[k]) for k in bad) if bad else ""))
    if h5 == "g":
        ok(s["hyp_gap"] > 0 and s["hyp_trt"] + s["hyp_gap"] ==
           len(t) * 0.5, "EDF+D: %g min of pauses counted apart from "
           "TRT %g" % (s["hyp_gap"], s["hyp_trt"]))
    if h5 == "m":
        ok(cm[4, 4] >= 0.8 * cm[4].sum(),
           "mixed with mains: R found by the chin (%d of %d)" %
           (cm[4, 4], cm[4].sum()))
    if h5 == "h":
        ok(s["hyp_cycles"] >= 2 and s["hyp_tst"] > 0 and
           0 < s["hyp_se"] <= 100 and s["hyp_sme"] >= s["hyp_se"],
           "healthy: %d NREM-REM cycles in 4 h, SE %.1f %% <= SME %.1f %%"
           % (s["hyp_cycles"], s["hyp_se"], s["hyp_sme"]))
PYEOF
[ $? -eq 0 ] || echo "not ok - the Python checks stopped" >>"$TMP/out"
cat "$TMP/out"
check "the $(grep -c '^ok' "$TMP/out") generated-night checks above pass (13 expected)" \
	sh -c "! grep -q '^not ok' '$TMP/out' && [ \$(grep -c '^ok' '$TMP/out') -eq 13 ]"

# psg-score's five stages: its confusion matrix against one counted here
# from the HDF5 epochs and the truth (a generated night), and against an
# R&K text hypnogram (DREAMS: S3 and S4 are N3); movement time is left out.
psg-score -r "$TMP/h.hypnogram.edf" --json "$TMP/h.json" "$TMP/h.psg" \
	>"$TMP/h.score"
sed 's/^/# /' "$TMP/h.score"
printf '0\t60\tW\n60\t60\tMT\n120\t600\tN2\n' >"$TMP/mt.tsv"
psg-score -r "$TMP/mt.tsv" --json "$TMP/mt.json" "$TMP/h.psg" >/dev/null
$PY - "$TMP" >"$TMP/sc" 2>&1 <<'PYEOF'
import csv, json, sys
import h5py
import numpy as np
d = sys.argv[1]
ok = lambda c, m: print(("ok - " if c else "not ok - ") + m)
CODE = {"W": 0, "N1": 1, "N2": 2, "N3": 3, "R": 4}
ep = [CODE.get(x.decode(), -1) for x in
      h5py.File(d + "/h.h5", "r")["epochs"]["sleep_stage"][:]]
ref = [CODE.get(r["stage"], -1) for r in
       csv.DictReader(open(d + "/h.epochs.tsv"), delimiter="\t")]
cm = np.zeros((5, 6), int)
for r, s in zip(ref, ep):
    if r >= 0:
        cm[r, 5 if s < 0 else int(s)] += 1
j = json.load(open(d + "/h.json"))["stages"]
n = cm.sum()
po = np.trace(cm[:, :5]) / n
pe = (cm.sum(1) * cm.sum(0)[:5]).sum() / n / n
f1 = {k: 2 * cm[i, i] / (cm[i].sum() + cm[:, i].sum())
      for k, i in CODE.items() if cm[i].sum() + cm[:, i].sum()}
ok(j["confusion"] == cm.tolist() and j["epochs"] == n,
   "psg-score's 5x6 confusion matrix is the one counted from the epochs")
ok(abs(j["accuracy"] - po) < 1e-5 and
   abs(j["kappa"] - (po - pe) / (1 - pe)) < 1e-5 and
   all(abs(j["per_stage"][k]["f1"] - v) < 1e-5 for k, v in f1.items()),
   "accuracy %.3f, kappa %.3f and per-stage F1 as computed here" %
   (po, (po - pe) / (1 - pe)))
m = json.load(open(d + "/mt.json"))["stages"]
ok(m["epochs"] == 22 and sum(m["confusion"][0]) == 2 and
   sum(m["confusion"][2]) == 20,
   "movement time is left out: 2 W + 20 N2 epochs of 24 scored")
PYEOF
[ $? -eq 0 ] || echo "not ok - the Python checks stopped" >>"$TMP/sc"
cat "$TMP/sc"
check "the $(grep -c '^ok' "$TMP/sc") psg-score checks above pass (3 expected)" \
	sh -c "! grep -q '^not ok' '$TMP/sc' && [ \$(grep -c '^ok' '$TMP/sc') -eq 3 ]"

# psg-emg after psg-stage: without an imported hypnogram, its REM figures
# come from the computed R epochs (emg_rem_source 1) and come near those
# of the truth hypnogram imported (2), which wins when both are there.
psg-emg <"$TMP/h.psg" 2>/dev/null | psg-dump --no-samples >"$TMP/emg.computed"
psg-emg <"$TMP/ha.psg" 2>/dev/null | psg-dump --no-samples >"$TMP/emg.imported"
fig() { sed -n "s/^summary \"$1\" unit=\"[^\"]*\" value=//p" "$2"; }
ac=$(fig atonia_index "$TMP/emg.computed") ai=$(fig atonia_index "$TMP/emg.imported")
sc=$(fig emg_rem_source "$TMP/emg.computed") si=$(fig emg_rem_source "$TMP/emg.imported")
check "psg-emg: atonia index of the computed REM ($ac, source $sc) within 0.05 of the imported hypnogram's ($ai, source $si)" \
	awk -v a="$ac" -v b="$ai" -v s="$sc" -v t="$si" \
	'BEGIN { exit !(s == 1 && t == 2 && a > 0.5 && (a - b) ^ 2 <= 0.0025) }'

# Real recordings: the DREAMS excerpts (R&K, 20-s epochs, no REM scored)
# with the shipped defaults, in-sample (make validate has the
# cross-validated figure), and Sleep-EDF's 5 minutes of wake.
if have_shared; then
	Dr=$SHARED/dreams
	for i in 1 2 3 4; do
		chain "$TMP/d$i.h5" -e 20 "$Dr/excerpt${i}_eeg_hyp.edf"
		psg-score -r "$Dr/Hypnogram_excerpt$i.txt" --json "$TMP/d$i.json" \
			"$TMP/d$i.psg" >/dev/null
	done
	chain "$TMP/sc.h5" -a "$SHARED/sleep-edf/SC4001EC-Hypnogram.edf" \
		"$SHARED/sleep-edf/SC4001E0_excerpt_5min_edfio_short_psg.edf"
	$PY - "$TMP" "$Dr" >"$TMP/real" 2>&1 <<'PYEOF'
import json, sys
import h5py
import numpy as np
d, D = sys.argv[1:3]
ok = lambda c, m: print(("ok - " if c else "not ok - ") + m)
RK = {5: 0, 3: 1, 2: 2, 1: 3, 0: 3, 4: 4}
CODE = {"W": 0, "N1": 1, "N2": 2, "N3": 3, "R": 4}   # names, schema 2.0
cm = np.zeros((5, 5))
for i in range(1, 5):
    codes = [int(x) for x in open("%s/Hypnogram_excerpt%d.txt" %
                                  (D, i)).read().split()[1:]]
    ep = h5py.File("%s/d%d.h5" % (d, i), "r")["epochs"][:]
    for e, name in enumerate(ep["sleep_stage"]):
        s = CODE.get(name.decode(), -1)
        k = (e * 20 + 10) // 5
        if k < len(codes) and codes[k] in RK:
            cm[RK[codes[k]], s if s >= 0 else 1] += 1
n = cm.sum(); po = np.trace(cm) / n
pe = (cm.sum(0) * cm.sum(1)).sum() / n / n
k = (po - pe) / (1 - pe)
print("# " + str(cm.astype(int)).replace("\n", "\n# "))
ok(po >= 0.8 and k >= 0.7, "DREAMS 1-4 pooled, shipped defaults "
   "(in-sample): accuracy %.3f >= 0.8, kappa %.3f >= 0.7" % (po, k))
ok(cm[:, 4].sum() == 0, "no R called where the experts scored none")
# psg-score reads the 5-s R&K text hypnogram (S3 and S4: N3) to the same
# matrix as counted here from it.
tot = np.zeros((5, 6))
for i in range(1, 5):
    tot += np.array(json.load(open("%s/d%d.json" % (d, i)))["stages"]
                    ["confusion"])
ok((tot[:, :5] == cm).all() and tot[:, 5].sum() == 0,
   "psg-score -r Hypnogram_excerptN.txt: the same pooled matrix")
sc = h5py.File("%s/sc.h5" % d, "r")
st = sc["epochs"]["sleep_stage"]
s = sc["summary"].attrs
ok(len(st) == 10 and all(x == b"W" for x in st) and s["hyp_source"] == 1 and
   s["hyp_trt"] == 5 and s["hyp_tst"] == 0,
   "Sleep-EDF SC4001: its 10 epochs of wake called W; statistics of the "
   "imported hypnogram over the 5 recorded minutes (TRT %g, TST %g)" %
   (s["hyp_trt"], s["hyp_tst"]))
PYEOF
	[ $? -eq 0 ] || echo "not ok - the Python checks stopped" >>"$TMP/real"
	cat "$TMP/real"
	check "the $(grep -c '^ok' "$TMP/real") real-recording checks above pass (4 expected)" \
		sh -c "! grep -q '^not ok' '$TMP/real' && [ \$(grep -c '^ok' '$TMP/real') -eq 4 ]"
else
	skip "../shared absent: no real recordings"
fi

# Errors and conventions.
psg-read "$TMP/h.edf" >"$TMP/raw.psg"
psg-stage <"$TMP/raw.psg" >"$TMP/once.psg" 2>"$TMP/once.err"
check "without the detectors: warnings naming them, and a stream" \
	grep -q "run psg-wake first" "$TMP/once.err"
expect_exit 3 "twice in a chain: exit 3" sh -c \
	"psg-stage <'$TMP/once.psg' >/dev/null"
psg-read -c E1-M2 "$TMP/h.edf" >"$TMP/eog.psg"
expect_exit 3 "no EEG: exit 3" sh -c "psg-stage <'$TMP/eog.psg' >/dev/null"
psg-stage --optional <"$TMP/eog.psg" >"$TMP/pass.psg" 2>/dev/null
check "--optional: no EEG passes the stream through, without stage columns" \
	sh -c "psg-dump -H <'$TMP/pass.psg' | grep -q E1-M2 &&
	       ! psg-dump -H <'$TMP/pass.psg' | grep -q stage_conf"
expect_exit 1 "bad option value: exit 1" sh -c \
	"psg-stage --n2-delta x <'$TMP/raw.psg' >/dev/null"
expect_exit 1 "unknown channel: exit 1" sh -c \
	"psg-stage -c nosuch <'$TMP/raw.psg' >/dev/null"
check "--help on stdout, exit 0" sh -c "psg-stage --help | grep -q usage"
finish
