"""export_check.py -- psg-export's outputs against the night's HDF5 (t_export.sh).

    /usr/bin/python3 export_check.py NIGHT.h5 EDFANNOT_DUMP ANNOT.edf \
        BIDS_PREFIX TSV_DIR

The expected annotations are rebuilt here from the HDF5 with h5py, and the
epoch stages from the /epochs "sleep_stage" column (psg-stage's names) when the
night has one, else by the rule in docs/hdf5.md ("wake" 1 -> W, -1 -> ?,
else "sws" 1 -> N3, "wake" 0 -> N, else ?), not taken from psg-export.  The EDF+
file is read back by edflib (the dump of tests/tools/edfannot) and by MNE
(skipped, saying so, when python3-mne is absent); the BIDS and TSV files by
pandas.  Every onset, duration and label is compared.
"""
import math
import os
import sys
from collections import Counter

import h5py
import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(__file__))
from taplib import check, status  # noqa: E402

SEC = 10**7
h5path, dump, edf, bids, tsvdir = sys.argv[1:6]
f = h5py.File(h5path, "r")


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def ticks(s):
    return int(round(s * SEC))


def calls(ep):
    names = ep.dtype.names
    if "sleep_stage" in names:   # psg-stage's hypnogram, as text (2.0)
        return [text(s) or "?" for s in ep["sleep_stage"]]
    out = []
    for row in ep:
        w = row["wake"] if "wake" in names else math.nan
        s = row["sws"] if "sws" in names else math.nan
        out.append("W" if w == 1 else "?" if w == -1 else "N3" if s == 1
                   else "N" if w == 0 else "?")
    return out


STAGE = {s: "Sleep stage " + s for s in ("W", "N1", "N2", "N3", "R", "N",
                                         "?")}
events = []   # (onset ticks, duration ticks or -1, text, type, channel)
for name, d in f["events"].items():
    typ = d.attrs.get("type", name)
    for r in d[:]:
        lab = text(r["label"])
        dur = -1 if math.isnan(r["duration"]) else ticks(r["duration"])
        events.append((ticks(r["onset"]), dur, lab or typ, typ,
                       text(r["channel"])))
ep = f["epochs"][:]
epcalls = calls(ep)
stages = [(ticks(r["onset"]), ticks(r["duration"]), STAGE[c], "", "")
          for r, c in zip(ep, epcalls)]
want = Counter(e[:3] for e in events + stages)
check(len(events) > 100 and len(stages) > 0,
      "the night has events to export (%d events, %d epochs)"
      % (len(events), len(stages)))

# ---- EDF+ through edflib --------------------------------------------------
lines = open(dump).read().splitlines()
start = text(f.attrs["start_time"])
head = lines[0].split()
check(head[1] == start, "edflib: start date-time %s is the recording's %s"
      % (head[1], start))
got = Counter()
for ln in lines[1:]:
    o, d, t = ln.split("\t", 2)
    got[(int(o), int(d), t)] += 1
check(int(head[2]) == sum(want.values()),
      "edflib: %s annotations, one per event and per epoch (%d)"
      % (head[2], sum(want.values())))
check(got == want, "edflib: every onset, duration and label as in the "
      "HDF5 (%d differ)" % sum(((got - want) + (want - got)).values()))

# ---- EDF+ through MNE -----------------------------------------------------
try:
    import mne
except ImportError:
    mne = None
if mne is None:
    import taplib
    taplib.n += 1
    print("ok %d - # SKIP MNE: python3-mne is not installed" % taplib.n)
else:
    mne.set_log_level("ERROR")
    a = mne.read_annotations(edf)
    gotm = Counter((ticks(o), ticks(d), str(t))
                   for o, d, t in zip(a.onset, a.duration, a.description))
    # MNE has no "no duration": it reads one as 0.
    wantm = Counter((o, 0 if d < 0 else d, t) for (o, d, t) in want.elements())
    check(len(a) == sum(want.values()),
          "MNE %s: %d annotations (%d)" % (mne.__version__, len(a),
                                          sum(want.values())))
    check(gotm == wantm, "MNE: every onset, duration and label as in the "
          "HDF5 (%d differ)" % sum(((gotm - wantm) + (wantm - gotm)).values()))

# ---- BIDS -----------------------------------------------------------------
be = pd.read_csv(bids + "_events.tsv", sep="\t", float_precision="round_trip", keep_default_na=False)
check(list(be.columns) == ["onset", "duration", "trial_type", "channel",
                           "value"], "BIDS events.tsv columns %s"
      % list(be.columns))
gotb = Counter((ticks(float(o)), -1 if d == "n/a" else ticks(float(d)), v, t,
                "" if c == "n/a" else c)
               for o, d, v, t, c in zip(be.onset, be.duration, be.value,
                                        be.trial_type, be.channel))
wantb = Counter((e[0], e[1], e[2], e[3], e[4]) for e in events)
check(gotb == wantb, "BIDS events.tsv: every event with its type, channel "
      "and label (%d rows)" % len(be))
check(list(be.onset) == sorted(be.onset), "BIDS events.tsv is in onset order")
import json  # noqa: E402
js = json.load(open(bids + "_events.json"))
check(all(k in js and js[k].get("Description") for k in
          ("onset", "duration", "trial_type", "channel", "value")) and
      set(js["trial_type"]["Levels"]) == {e[3] for e in events} |
      {d.attrs.get("type", k) for k, d in f["events"].items()},
      "BIDS events.json describes every column and every trial_type")
hy = pd.read_csv(bids + "_hypnogram.tsv", sep="\t", float_precision="round_trip", keep_default_na=False)
check(list(hy.columns) == ["onset", "duration", "stage"] and
      len(hy) == len(ep) and np.allclose(hy.onset, ep["onset"]) and
      list(hy.stage) == [c if c != "?" else "n/a" for c in epcalls],
      "BIDS hypnogram.tsv: onset, duration, stage of each of the %d epochs"
      % len(ep))

# ---- TSV ------------------------------------------------------------------


def same_table(df, d, what):
    bad = []
    arr = d[:]
    for c in arr.dtype.names:
        if c not in df.columns:
            bad.append(c + " missing")
        elif arr.dtype[c].kind in "OS":   # variable or fixed (categories)
            if [text(v) for v in arr[c]] != ["" if isinstance(v, float) and
                                             math.isnan(v) else str(v)
                                             for v in df[c]]:
                bad.append(c)
        elif not np.array_equal(np.asarray(df[c], float),
                                arr[c].astype(float), equal_nan=True):
            bad.append(c)
    check(not bad and len(df) == len(arr),
          "TSV %s: %d rows, every column as in the HDF5%s" %
          (what, len(df), (" (differ: %s)" % bad) if bad else ""))


for name, d in f["events"].items():
    same_table(pd.read_csv(os.path.join(tsvdir, name + ".tsv"), sep="\t", float_precision="round_trip"),
               d, name + ".tsv")
epdf = pd.read_csv(os.path.join(tsvdir, "epochs.tsv"), sep="\t", float_precision="round_trip")
same_table(epdf, f["epochs"], "epochs.tsv")
stcol = "sleep_stage" if "sleep_stage" in epdf.columns else "stage"
check(list(epdf[stcol].fillna("?")) == epcalls,
      "TSV epochs.tsv: the %s column as text" % stcol)
same_table(pd.read_csv(os.path.join(tsvdir, "channels.tsv"), sep="\t", float_precision="round_trip",
                       keep_default_na=False, na_values=["NaN"]),
           f["channels"], "channels.tsv")
sm = pd.read_csv(os.path.join(tsvdir, "summary.tsv"), sep="\t", float_precision="round_trip",
                 keep_default_na=False, na_values=["NaN"])
want_sum = {k: (float(v[()]), v.attrs["unit"]) for k, v in f["summary"].items()}
got_sum = {n: (float(v), u) for n, v, u in zip(sm.name, sm.value, sm.unit)}
check(len(got_sum) == len(want_sum) and all(
    (got_sum[k][0] == v[0] or (math.isnan(v[0]) and math.isnan(got_sum[k][0])))
    and got_sum[k][1] == text(v[1]) for k, v in want_sum.items()
    if k in got_sum), "TSV summary.tsv: every figure with its unit (%d)"
    % len(sm))
sys.exit(status())
