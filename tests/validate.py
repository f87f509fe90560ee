#!/usr/bin/env python3
"""make validate: leave-one-recording-out (LORO) cross-validation of
psg-sws (N3) and psg-wake (W) on the real scored recordings in ../shared.

Every option value chosen on data is chosen here, inside the loop: for each
patient left out, the grid point with the best pooled score on the other
patients' recordings is applied to the one left out, which is then scored.
The table reports those held-out scores, per recording and pooled (the sum
of the held-out confusion matrices).  The in-sample line (the shipped
defaults scored on all recordings) is labelled as such.

Recordings (views; a patient's views are left out together):
  d1..d4   DREAMS excerpts 1-4, central EEG only (20-s epochs, scored
           against the 5-s text hypnogram by psg-score)
  d3psg    DREAMS excerpt 3's full PSG (frontal FP1-A1 for N3 by default,
           C3-A1 with EOG and chin for wake), patient 3
  sc4001   Sleep-EDF SC4001, 5 min of real wake (Fpz-Cz/Pz-Oz, EOG)
Usage: validate.py [N3|W]   (one target only; PSG_BUILD, SHARED from the
environment).  The last line of each target's table is machine-readable:
"cv TARGET F1 KAPPA" for the pooled held-out d1-d4 (EEG only) figures.
"""
import itertools, json, os, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("PSG_BUILD", "build")
BIN = os.path.join(ROOT, BUILD, "bin") if not os.path.isabs(BUILD) \
    else os.path.join(BUILD, "bin")
SHARED = os.environ.get("SHARED", os.path.join(ROOT, "..", "shared", "data"))
D = os.path.join(SHARED, "dreams")

# name, patient, psg-read arguments, reference, EEG-only
VIEWS = [
    ("d1", "p1", ["-e", "20", D + "/excerpt1_eeg_hyp.edf"],
     D + "/Hypnogram_excerpt1.txt", True),
    ("d2", "p2", ["-e", "20", D + "/excerpt2_eeg_hyp.edf"],
     D + "/Hypnogram_excerpt2.txt", True),
    ("d3", "p3", ["-e", "20", D + "/excerpt3_eeg_hyp.edf"],
     D + "/Hypnogram_excerpt3.txt", True),
    ("d4", "p4", ["-e", "20", D + "/excerpt4_eeg_hyp.edf"],
     D + "/Hypnogram_excerpt4.txt", True),
    ("d3psg", "p3", ["-e", "20", D + "/excerpt3_full_psg.edf"],
     D + "/Hypnogram_excerpt3.txt", False),
    ("sc4001", "p5", [SHARED + "/sleep-edf/"
                      "SC4001E0_excerpt_5min_edfio_short_psg.edf"],
     SHARED + "/sleep-edf/SC4001EC-Hypnogram.edf", False),
]

# The options chosen on data, each with the grid it is chosen from.  The
# shipped default is listed first (it wins ties).  Keep these small: every
# grid point is one run per recording.
GRIDS = {
    "N3": ("psg-sws", {"--delta-share": ["0.5", "0", "0.4", "0.45", "0.55",
                                         "0.6"]}),
    "W": ("psg-wake", {"--spread": ["5", "4", "6", "7"],
                       "--floor": ["-0.6", "-1", "-0.8", "-0.35"]}),
}


def run(cmd, stdin=None, out=None):
    r = subprocess.run(cmd, stdin=stdin, stdout=out or subprocess.PIPE,
                       stderr=subprocess.PIPE)
    if r.returncode:
        sys.exit("validate: %s: %s" % (" ".join(cmd),
                                       r.stderr.decode().strip()))
    return r.stdout


def grid_points(grid):
    keys = list(grid)
    for vals in itertools.product(*(grid[k] for k in keys)):
        yield tuple(x for kv in zip(keys, vals) for x in kv)


def score(stream, ref, target, tmp):
    j = os.path.join(tmp, "score.json")
    with open(stream, "rb") as f:
        run([BIN + "/psg-score", "-r", ref, "--json", j], stdin=f)
    t = json.load(open(j))["targets"].get(target)
    return [t[k] for k in ("tp", "fp", "fn", "tn")] if t else [0, 0, 0, 0]


def measures(m):
    tp, fp, fn, tn = m
    n = tp + fp + fn + tn
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")
    po = (tp + tn) / n if n else float("nan")
    pe = ((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)) / n / n if n else 0
    k = (po - pe) / (1 - pe) if n and pe < 1 else float("nan")
    return f1, k


def add(a, b):
    return [x + y for x, y in zip(a, b)]


def main():
    if not os.path.isdir(D):
        print("validate: %s absent: nothing to validate" % D)
        return 0
    targets = sys.argv[1:] or list(GRIDS)
    for t in targets:
        if t not in GRIDS:
            sys.exit("usage: validate.py [N3|W]")
    grids = {t: GRIDS[t] for t in targets}
    tmp = tempfile.mkdtemp(prefix="psg-validate.")
    raw = {}
    for name, _, args, _, _ in VIEWS:
        raw[name] = os.path.join(tmp, name + ".psg")
        with open(raw[name], "wb") as f:
            run([BIN + "/psg-read"] + args, out=f)
    # cm[target][point][view] = confusion matrix
    # psg-sws runs after psg-wake, as in psg-night (its wake calls veto N3)
    woke = {}
    for name in raw:
        woke[name] = os.path.join(tmp, name + ".wake.psg")
        with open(raw[name], "rb") as i, open(woke[name], "wb") as o:
            run([BIN + "/psg-wake"], stdin=i, out=o)
    cm = {}
    for target, (stage, grid) in grids.items():
        cm[target] = {}
        for pt in grid_points(grid):
            cm[target][pt] = {}
            for name, _, _, ref, _ in VIEWS:
                out = os.path.join(tmp, "out.psg")
                src = woke[name] if target == "N3" else raw[name]
                with open(src, "rb") as i, open(out, "wb") as o:
                    run([BIN + "/" + stage] + list(pt), stdin=i, out=o)
                cm[target][pt][name] = score(out, ref, target, tmp)
    patients = sorted({v[1] for v in VIEWS})
    for target, (stage, grid) in grids.items():
        points = list(grid_points(grid))
        print("\n%s (%s): leave-one-patient-out, cross-validated" %
              (target, stage))
        print("%-8s %-34s %5s %5s %5s %5s  %6s %6s" %
              ("held out", "chosen on the others", "TP", "FP", "FN", "TN",
               "F1", "kappa"))
        pool, pool_eeg = [0] * 4, [0] * 4
        for p in patients:
            train = [v[0] for v in VIEWS if v[1] != p]
            def fit(pt):
                m = [0] * 4
                for v in train:
                    m = add(m, cm[target][pt][v])
                f1, k = measures(m)
                # N3 by kappa (absence counts), W by F1 (the target)
                x = k if target == "N3" else f1
                return x if x == x else -1
            best = max(points, key=lambda pt: (fit(pt), -points.index(pt)))
            for v in VIEWS:
                if v[1] != p:
                    continue
                m = cm[target][best][v[0]]
                pool = add(pool, m)
                if v[4]:
                    pool_eeg = add(pool_eeg, m)
                f1, k = measures(m)
                print("%-8s %-34s %5d %5d %5d %5d  %6.3f %6.3f" %
                      ((v[0], " ".join(best)) + tuple(m) + (f1, k)))
        for label, m in (("pooled, all views", pool),
                         ("pooled, d1-d4 (EEG only)", pool_eeg)):
            f1, k = measures(m)
            print("%-43s %5d %5d %5d %5d  %6.3f %6.3f  (cross-validated)" %
                  ((label,) + tuple(m) + (f1, k)))
        cv = measures(pool_eeg)
        m = [0] * 4
        for v in VIEWS:
            if v[4]:
                m = add(m, cm[target][points[0]][v[0]])
        f1, k = measures(m)
        print("%-43s %5d %5d %5d %5d  %6.3f %6.3f  (IN-SAMPLE, defaults %s)"
              % (("in-sample, d1-d4",) + tuple(m) + (f1, k,
                 " ".join(points[0]))))
        print("cv %s %.3f %.3f" % ((target,) + cv))
    subprocess.run(["rm", "-rf", tmp])
    return 0


if __name__ == "__main__":
    sys.exit(main())
