#!/bin/sh
# psg-score --events: psg-sws's slow waves against psg-synth's truth
# (NAME.events.tsv), matched one to one within the onset tolerance; the
# counts, onset errors and every match against an independent computation
# from the HDF5 file; shifted references and the tolerance; the epoch lines
# unchanged; the EDF+ annotation path on DREAMS; and the errors.
. "$ROOT/tests/lib.sh"
if ! have_h5py; then skip "h5py missing"; finish; fi

psg-synth -H 1.2 -p clean -s 5 -o "$TMP/n.edf" >/dev/null
psg-read "$TMP/n.edf" | psg-sws | tee "$TMP/n.psg" | psg-h5 -o "$TMP/n.h5"
psg-score -r "$TMP/n.hypnogram.edf" "$TMP/n.psg" >"$TMP/epochs.txt"
psg-score -r "$TMP/n.hypnogram.edf" -e "$TMP/n.events.tsv" -l slow_wave \
	--json "$TMP/both.json" "$TMP/n.psg" >"$TMP/both.txt"
check "psg-score --reference --events runs on a generated night" \
	test -s "$TMP/both.json" -a "$(wc -l <"$TMP/both.txt")" -eq 2
check "the epoch line is unchanged by --events" \
	test "$(head -n 1 "$TMP/both.txt")" = "$(cat "$TMP/epochs.txt")"
sed 's/^/# /' "$TMP/both.txt"
# The events line keeps the epoch lines' fields: $6 TP, $8 FP, $10 FN.
awk '/^events/ {print $6, $8, $10}' "$TMP/both.txt" >"$TMP/fields"

$PY - "$TMP" >"$TMP/out" 2>&1 <<'PYEOF'
import csv, fnmatch, json, subprocess, sys
import h5py
import numpy as np
d = sys.argv[1]
ok = lambda c, m: print(("ok - " if c else "not ok - ") + m)
T = 10 ** 7
det = np.rint(h5py.File(d + "/n.h5", "r")["events/slow_waves"]["onset"][:]
              * T).astype(np.int64)
rows = list(csv.DictReader(open(d + "/n.events.tsv"), delimiter="\t"))

def ref(glob, shift=0.0):
    return np.array([round((float(r["onset"]) + shift) * T) for r in rows
                     if fnmatch.fnmatchcase(r["kind"], glob)], np.int64)

def greedy(a, b, tol):
    """Closest pairs first, ties by detected then reference onset."""
    a, b = np.sort(a), np.sort(b)
    dist = np.abs(a[:, None] - b[None, :])
    i, j = np.nonzero(dist <= round(tol * T))
    used_a, used_b, pairs = set(), set(), []
    for k in np.lexsort((j, i, dist[i, j])):
        if i[k] not in used_a and j[k] not in used_b:
            used_a.add(i[k]), used_b.add(j[k])
            pairs.append((int(a[i[k]]), int(b[j[k]])))
    tp = len(pairs)
    err = np.array([p - q for p, q in pairs]) / T
    return dict(tp=tp, fp=len(a) - tp, fn=len(b) - tp, pairs=sorted(pairs),
                mean=err.mean() if tp else None,
                median=float(np.median(err)) if tp else None)

def score(tsv, glob, tol=None):
    args = ["psg-score", "-e", tsv, "--json", d + "/e.json"]
    args += ["-l", glob] if glob else []
    args += ["--tolerance", str(tol)] if tol is not None else []
    subprocess.run(args + [d + "/n.psg"], check=True, stdout=subprocess.DEVNULL)
    return json.load(open(d + "/e.json"))["events"]

def same(e, g):
    pairs = sorted((round(m["detected"] * T), round(m["reference"] * T))
                   for m in e["matches"])
    close = lambda x, y: (x is None) == (y is None) and (
        x is None or abs(x - y) < 1e-6)
    return ((e["tp"], e["fp"], e["fn"]) == (g["tp"], g["fp"], g["fn"]) and
            pairs == g["pairs"] and close(e["onset_error_mean"], g["mean"])
            and close(e["onset_error_median"], g["median"]) and
            len(e["unmatched_detected"]) == g["fp"] and
            len(e["unmatched_reference"]) == g["fn"])

def write_shifted(name, shift):
    with open(d + "/" + name, "w") as f:
        f.write("onset\tduration\tkind\n")
        for r in rows:
            f.write("%.7f\t%s\t%s\n" % (float(r["onset"]) + shift,
                                        r["duration"], r["kind"]))
    return d + "/" + name

e = json.load(open(d + "/both.json"))
g = greedy(det, ref("slow_wave"), 0.5)
ok(same(e["events"], g) and e["events"]["table"] == "slow_waves" and
   "N3" in e["targets"] and e["reference"].endswith("n.hypnogram.edf"),
   "slow waves at 0.5 s: TP %d FP %d FN %d, every match and the onset error "
   "(mean %.4f, median %.4f s) equal an independent greedy matching" %
   (g["tp"], g["fp"], g["fn"], g["mean"], g["median"]))
ok(len(det) > 100 and g["tp"] / len(det) >= 0.95,
   "psg-sws's %d waves: event precision %.3f >= 0.95 (recall %.3f of all "
   "%d generated)" % (len(det), g["tp"] / len(det), g["tp"] / (g["tp"] +
                                                             g["fn"]),
                      g["tp"] + g["fn"]))
t = open(d + "/fields").read().split()
ok(t == [str(g[k]) for k in ("tp", "fp", "fn")],
   "the text line's fields 6, 8, 10 are TP FP FN (%s)" % " ".join(t))
e = score(d + "/n.events.tsv", "s*")
g = greedy(det, ref("s*"), 0.5)
ok(same(e, g), "--ref-label 's*' (slow_wave, sem, spindle: %d): TP %d FP "
   "%d FN %d as computed here" % (len(ref("s*")), g["tp"], g["fp"], g["fn"]))
# All reference onsets 0.3 s late: still within 0.5 s, the errors shift.
e = score(write_shifted("late03.tsv", 0.3), "slow_wave")
g = greedy(det, ref("slow_wave", 0.3), 0.5)
ok(same(e, g) and g["tp"] > 0.9 * len(det) and g["mean"] < -0.25,
   "references 0.3 s late: TP %d, mean onset error %.3f s, as computed "
   "here" % (g["tp"], g["mean"]))
# 0.6 s late against the truth: waves in trains still meet a neighbour.
e = score(write_shifted("late06.tsv", 0.6), "slow_wave")
g = greedy(det, ref("slow_wave", 0.6), 0.5)
ok(same(e, g), "references 0.6 s late: TP %d FP %d FN %d as computed here"
   % (g["tp"], g["fp"], g["fn"]))
e = score(d + "/late06.tsv", "slow_wave", 0.7)
g = greedy(det, ref("slow_wave", 0.6), 0.7)
ok(same(e, g) and g["tp"] > 0 and e["tolerance"] == 0.7,
   "the same with --tolerance 0.7: TP %d FP %d FN %d as computed here" %
   (g["tp"], g["fp"], g["fn"]))
# The detections themselves as the reference, shifted: a detected wave
# lasts >= 0.4 s, so with 0.1 s of tolerance only its own copy can match.
def own(name, shift):
    with open(d + "/" + name, "w") as f:
        f.write("onset\n" + "".join("%d.%07d\n" % divmod(int(t) + shift, T)
                                    for t in det))
    return d + "/" + name
e = score(own("own05.tsv", 500000), None, 0.1)
ok((e["tp"], e["fp"], e["fn"]) == (len(det), 0, 0) and
   e["onset_error_mean"] == e["onset_error_median"] == -0.05 and
   all(m["delta"] == -0.05 for m in e["matches"]),
   "the detections 0.05 s late, tolerance 0.1 s: all %d match, error "
   "-0.05 s" % e["tp"])
e = score(own("own15.tsv", 1500000), None, 0.1)
ok((e["tp"], e["fp"], e["fn"]) == (0, len(det), len(det)) and
   e["recall"] == 0 and len(e["unmatched_reference"]) == len(det),
   "the detections 0.15 s late, beyond the 0.1 s tolerance: TP %d FP %d "
   "FN %d" % (e["tp"], e["fp"], e["fn"]))
e = score(own("own15.tsv", 1500000), None, 0.15)
ok(e["tp"] == len(det), "... and with --tolerance 0.15 (inclusive) all "
   "%d match" % e["tp"])
PYEOF
# The checks above print "ok - ..." lines of their own.
cat "$TMP/out"
grep -q '^not ok' "$TMP/out" && failures=$((failures + 1))
grep -q '^ok' "$TMP/out" || flunk "the Python checks did not run"

if have_shared; then
	# The EDF+ annotation path: a DREAMS excerpt's own annotations, read
	# back through psg-read, against the file: everything at 0 s, and the
	# glob selects the expert's spindles.
	x1="$SHARED/dreams/excerpt1_eeg_hyp.edf"
	psg-read "$x1" >"$TMP/x1.psg"
	all=$(psg-dump --no-samples "$TMP/x1.psg" | grep -c '^event')
	sp1=$(psg-dump --no-samples "$TMP/x1.psg" |
		grep -c '^event.* label="Spindle expert1"$')
	psg-score -t annotations -e "$x1" "$TMP/x1.psg" >"$TMP/x1.txt"
	psg-score -t annotations -e "$x1" -l 'Spindle expert1' "$TMP/x1.psg" \
		>>"$TMP/x1.txt"
	sed 's/^/# /' "$TMP/x1.txt"
	check "DREAMS excerpt 1 annotations against themselves: TP $all FP 0 FN 0" \
		test "$(awk 'NR == 1 {print $6, $8, $10, $20, $22}' "$TMP/x1.txt")" \
		= "$all 0 0 0.000 0.000"
	check "--ref-label 'Spindle expert1': TP $sp1, FP the other annotations" \
		test "$(awk 'NR == 2 {print $6, $8, $10}' "$TMP/x1.txt")" \
		= "$sp1 $((all - sp1)) 0"
else
	skip "../shared absent: DREAMS annotations"
fi

# The detected side from the night's result file: the same scores as from
# the stream that made it; --det-label keeps the detected events of one
# label (psg-emg's kinds), counted here from the file.
psg-score -r "$TMP/n.hypnogram.edf" -e "$TMP/n.events.tsv" -l slow_wave \
	--json "$TMP/h5.json" "$TMP/n.h5" >"$TMP/h5.txt"
$PY - "$TMP/both.json" "$TMP/h5.json" >"$TMP/out" <<'PYEOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for x in (a, b):
    x["events"].pop("file", None)
ok = a["targets"] == b["targets"] and a["events"] == b["events"]
print(("ok" if ok else "not ok") + " - psg-score on n.h5: the N3 scores "
      "and every slow-wave match as on the stream (TP %d FP %d FN %d)" %
      tuple(b["events"][k] for k in ("tp", "fp", "fn")))
PYEOF
cat "$TMP/out"
grep -q '^not ok' "$TMP/out" && failures=$((failures + 1))
psg-synth -H 0.5 -p plm -s 7 -o "$TMP/m.edf" >/dev/null
psg-read "$TMP/m.edf" | psg-emg 2>/dev/null | tee "$TMP/m.psg" |
	psg-h5 -o "$TMP/m.h5"
for src in m.psg m.h5; do
	psg-score -e "$TMP/m.events.tsv" -l lm -t emg_bursts -L lm \
		--json "$TMP/$src.json" "$TMP/$src" >/dev/null
done
$PY - "$TMP" >"$TMP/out" <<'PYEOF'
import json, sys
import h5py
d = sys.argv[1]
a, b = (json.load(open(d + "/m.%s.json" % s))["events"] for s in ("psg", "h5"))
lms = sum(1 for e in h5py.File(d + "/m.h5")["events/emg_bursts"][:]
          if e["label"] == b"lm")
others = len(h5py.File(d + "/m.h5")["events/emg_bursts"]) - lms
ok = lambda c, m: print(("ok - " if c else "not ok - ") + m)
ok(a["detected"] == b["detected"] == lms > 0 and others > 0 and
   b["det_label"] == "lm",
   "--det-label lm: the %d LMs of emg_bursts are the detected side, not "
   "its %d other events (stream and .h5)" % (lms, others))
ok(a["matches"] == b["matches"] and a["tp"] > 0,
   "... and their matches agree (TP %d of %d truth LMs)" %
   (b["tp"], b["reference"]))
PYEOF
cat "$TMP/out"
grep -q '^not ok' "$TMP/out" && failures=$((failures + 1))
expect_exit 1 "--det-label without --events exits 1" \
	psg-score -r "$TMP/n.hypnogram.edf" -L lm "$TMP/n.psg"

printf 'onset\tkind\n12.5x\tslow_wave\n' >"$TMP/bad.tsv"
printf 'onset\tduration\n12.5\t1\n' >"$TMP/nokind.tsv"
expect_exit 1 "psg-score without --reference or --events exits 1" \
	psg-score "$TMP/n.psg"
expect_exit 1 "--tolerance without --events exits 1" \
	psg-score -r "$TMP/n.hypnogram.edf" --tolerance 1 "$TMP/n.psg"
expect_exit 1 "--tolerance -1 exits 1" \
	psg-score -e "$TMP/n.events.tsv" --tolerance -1 "$TMP/n.psg"
expect_exit 2 "a missing events file exits 2" \
	psg-score -e "$TMP/none.tsv" "$TMP/n.psg"
expect_exit 2 "a bad onset exits 2" psg-score -e "$TMP/bad.tsv" "$TMP/n.psg"
check "... naming the file and line" grep -q "^psg-score: .*bad.tsv:2: bad onset '12.5x'$" "$TMP/stderr"
expect_exit 2 "a file that is neither TSV nor EDF exits 2" \
	psg-score -e "$TMP/epochs.txt" "$TMP/n.psg"
expect_exit 3 "--ref-label on a TSV without kind or label exits 3" \
	psg-score -e "$TMP/nokind.tsv" -l slow_wave "$TMP/n.psg"
expect_exit 3 "an event table the stream lacks exits 3" \
	psg-score -e "$TMP/n.events.tsv" -t spindles "$TMP/n.psg"
check "... naming the tables it has" \
	grep -q "no event table 'spindles' (it has: annotations, slow_waves)" \
	"$TMP/stderr"
expect_exit 3 "a stream without a detector's events exits 3" \
	sh -c "psg-read '$TMP/n.edf' | psg-score -e '$TMP/n.events.tsv'"
finish
