#!/usr/bin/env python3
"""make validate: leave-one-recording-out (LORO) cross-validation of
psg-sws (N3), psg-wake (W) and psg-stage (the five stages, STAGES) on the
real scored recordings in ../shared.

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
STAGES runs psg-stage after psg-wake, psg-sws and psg-spindle (their
defaults), as psg-night does, and compares W, N1, N2, N3 and R epoch by
epoch (R&K S3+S4 are N3; MT and unscored epochs are left out) by accuracy
and Cohen's kappa; it chooses by kappa.  No DREAMS excerpt has REM
scored, so R is tested here only as never called falsely.
Usage: validate.py [N3|W|STAGES]   (one target only; PSG_BUILD, SHARED from
the environment).  The last line of each target's table is
machine-readable: "cv TARGET F1 KAPPA" for the pooled held-out d1-d4 (EEG
only) figures (for STAGES, accuracy instead of F1).
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
    "STAGES": ("psg-stage", {"--n2-delta": ["-0.25", "-0.4", "-0.35", "-0.3",
                                            "-0.2", "-0.15", "-0.1", "-0.05",
                                            "0"],
                             "--n2-events": ["0.2", "0", "0.1"],
                             "--n2-wake": ["0.5", "0"]}),
}
STAGE = {"W": 0, "1": 1, "2": 2, "3": 3, "4": 3, "R": 4,
         "N1": 1, "N2": 2, "N3": 3}


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


def reference_stages(ref_stream, nepochs, elen):
    """The reference stage (0-4, -1 none) of each epoch at its midpoint,
    from the "Sleep stage X" annotations of a stream."""
    runs = []
    for line in run([BIN + "/psg-dump", "--no-samples", ref_stream]) \
            .decode().splitlines():
        if not line.startswith('event "annotations"'):
            continue
        f = dict(x.split("=", 1) for x in line.split()[2:5])
        lab = line.split('label="', 1)[1].rstrip('"')
        if lab.startswith("Sleep stage "):
            runs.append((float(f["onset"]), float(f["duration"]),
                         STAGE.get(lab[12:], -1)))
    out = []
    for e in range(nepochs):
        mid = e * elen + elen / 2
        out.append(next((s for on, d, s in runs if on <= mid < on + d), -1))
    return out


# The five-stage reference of each view: a file with "Sleep stage"
# annotations (DREAMS: the expert's R&K staging in the excerpt's EDF+, the
# same as the text hypnogram; excerpt 3's full PSG is scored on its
# excerpt's), and the epoch length.
STAGE_REF = {"d1": (D + "/excerpt1_eeg_hyp.edf", 20),
             "d2": (D + "/excerpt2_eeg_hyp.edf", 20),
             "d3": (D + "/excerpt3_eeg_hyp.edf", 20),
             "d4": (D + "/excerpt4_eeg_hyp.edf", 20),
             "d3psg": (D + "/excerpt3_eeg_hyp.edf", 20),
             "sc4001": (SHARED + "/sleep-edf/SC4001EC-Hypnogram.edf", 30)}


def stage_matrix(stream, view):
    """5x5 counts (reference row, call column) over the epochs both have;
    an unscored call counts as N1 (a miss)."""
    calls = {}
    for line in run([BIN + "/psg-dump", "--no-samples", stream]) \
            .decode().splitlines():
        if line.startswith("epoch ") and " sleep_stage=" in line:
            w = line.split()
            v = dict(x.split("=", 1) for x in w[2:])
            calls[int(w[1])] = float(v["sleep_stage"])
    ref, elen = STAGE_REF[view]
    refs = reference_stages(ref, max(calls) + 1 if calls else 0, elen)
    m = [0] * 25
    for e, r in enumerate(refs):
        if r < 0 or e not in calls:
            continue
        c = int(calls[e]) if calls[e] == calls[e] and calls[e] >= 0 else 1
        m[5 * r + c] += 1
    return m


def stage_measures(m):
    n = sum(m)
    if not n:
        return float("nan"), float("nan")
    po = sum(m[6 * i] for i in range(5)) / n
    row = [sum(m[5 * i:5 * i + 5]) for i in range(5)]
    col = [sum(m[i::5]) for i in range(5)]
    pe = sum(r * c for r, c in zip(row, col)) / n / n
    return po, (po - pe) / (1 - pe) if pe < 1 else float("nan")


def measures(m):
    if len(m) == 25:
        return stage_measures(m)
    tp, fp, fn, tn = m
    n = tp + fp + fn + tn
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")
    po = (tp + tn) / n if n else float("nan")
    pe = ((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)) / n / n if n else 0
    k = (po - pe) / (1 - pe) if n and pe < 1 else float("nan")
    return f1, k


def add(a, b):
    return [x + y for x, y in zip(a, b)]


def report_stages(cm, points, patients):
    """The STAGES table: held-out accuracy and kappa per view, pooled."""
    def fit(pt, views):
        m = [0] * 25
        for v in views:
            m = add(m, cm[pt][v])
        k = stage_measures(m)[1]
        return k if k == k else -1
    print("\nSTAGES (psg-stage): leave-one-patient-out, cross-validated")
    print("%-8s %-48s %5s  %6s %6s" % ("held out", "chosen on the others",
                                       "n", "acc", "kappa"))
    pool, pool_eeg = [0] * 25, [0] * 25
    for p in patients:
        train = [v[0] for v in VIEWS if v[1] != p]
        best = max(points, key=lambda pt: (fit(pt, train),
                                           -points.index(pt)))
        for v in VIEWS:
            if v[1] != p:
                continue
            m = cm[best][v[0]]
            pool = add(pool, m)
            if v[4]:
                pool_eeg = add(pool_eeg, m)
            print("%-8s %-48s %5d  %6.3f %6.3f" %
                  ((v[0], " ".join(best), sum(m)) + stage_measures(m)))
    for label, m in (("pooled, all views", pool),
                     ("pooled, d1-d4 (EEG only)", pool_eeg)):
        print("%-57s %5d  %6.3f %6.3f  (cross-validated)" %
              ((label, sum(m)) + stage_measures(m)))
    print("confusion, pooled d1-d4 held out (rows: expert W N1 N2 N3 R; "
          "columns: psg-stage):")
    for i in range(5):
        print("  " + " ".join("%4d" % x for x in pool_eeg[5 * i:5 * i + 5]))
    m = [0] * 25
    for v in VIEWS:
        if v[4]:
            m = add(m, cm[points[0]][v[0]])
    print("%-57s %5d  %6.3f %6.3f  (IN-SAMPLE, defaults %s)" %
          (("in-sample, d1-d4", sum(m)) + stage_measures(m) +
           (" ".join(points[0]),)))
    print("cv STAGES %.3f %.3f" % stage_measures(pool_eeg))


def main():
    if not os.path.isdir(D):
        print("validate: %s absent: nothing to validate" % D)
        return 0
    targets = sys.argv[1:] or list(GRIDS)
    for t in targets:
        if t not in GRIDS:
            sys.exit("usage: validate.py [N3|W|STAGES]")
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
    # psg-stage runs after the three detectors, with their defaults
    up = {}
    for name in raw if "STAGES" in grids else []:
        up[name] = os.path.join(tmp, name + ".up.psg")
        with open(woke[name], "rb") as i, open(up[name], "wb") as o:
            p = subprocess.Popen([BIN + "/psg-sws"], stdin=i,
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL)
            run([BIN + "/psg-spindle"], stdin=p.stdout, out=o)
            p.stdout.close()
            if p.wait():
                sys.exit("validate: psg-sws failed on " + name)
    cm = {}
    for target, (stage, grid) in grids.items():
        cm[target] = {}
        for pt in grid_points(grid):
            cm[target][pt] = {}
            for name, _, _, ref, _ in VIEWS:
                out = os.path.join(tmp, "out.psg")
                src = {"N3": woke, "STAGES": up}.get(target, raw)[name]
                with open(src, "rb") as i, open(out, "wb") as o:
                    run([BIN + "/" + stage] + list(pt), stdin=i, out=o)
                cm[target][pt][name] = stage_matrix(out, name) \
                    if target == "STAGES" else score(out, ref, target, tmp)
    patients = sorted({v[1] for v in VIEWS})
    for target, (stage, grid) in grids.items():
        if target == "STAGES":
            report_stages(cm[target], list(grid_points(grid)), patients)
            continue
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
