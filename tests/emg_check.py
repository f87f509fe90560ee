#!/usr/bin/python3
"""psg-emg's events (HDF5 from psg-h5) against psg-synth's ground truth.

An independent reading of the rules, written from WASM 2016 and the
generator's documentation (docs/synth.md), not from stages/psg-emg.c:

- truth bursts of one leg that overlap or lie < 0.5 s apart are one (the
  signal shows one); LMs of the two legs that overlap or lie < 0.5 s apart
  are one bilateral LM (at most 15 s), as a scorer would count them;
- a large-muscle-group movement (lmgm) and a spasm are leg activity too:
  LMs that overlap them are "don't care" (neither missed nor false);
- the PLM series a scorer would find are computed from all truth leg
  activity by WASM: candidate LMs (mono 0.5-10 s, bilateral <= 15 s),
  onsets 10-90 s apart, >= 4 in a run; a longer burst ends a run;
- matching is one to one, closest onsets first, within a tolerance.

Prints "ok - ..." / "not ok - ..." lines and a "# metrics {...}" line.
"""
import argparse
import csv
import json
import sys

import h5py
import numpy as np


MUSCLE = ("lm", "spasm", "twitch", "rmma", "rmma_burst", "lmgm")


def truth(path):
    rows = list(csv.DictReader(open(path), delimiter="\t"))
    for r in rows:
        r["on"] = float(r["onset"])
        r["off"] = r["on"] + float(r["duration"])
    return rows


def merge_bilateral(lms):
    """WASM bilateral LMs from per-leg bursts (dicts with on, off, channel)."""
    out = []
    for m in sorted(lms, key=lambda r: r["on"]):
        a = out[-1] if out else None
        if (a and m["channel"] not in a["chans"] and m["on"] - a["off"] < 0.5
                and max(a["off"], m["off"]) - a["on"] <= 15 and a["lm"]
                and m["lm"]):
            a["off"] = max(a["off"], m["off"])
            a["chans"].add(m["channel"])
            continue
        out.append(dict(on=m["on"], off=m["off"], chans={m["channel"]},
                        lm=m["lm"]))
    return out


def same_leg(bursts):
    """Truth bursts of one leg that overlap or lie < 0.5 s apart are one
    burst in the signal (WASM's offset needs 0.5 s of rest)."""
    out = []
    for b in sorted(bursts, key=lambda r: (r["channel"], r["on"])):
        a = out[-1] if out else None
        if a and a["channel"] == b["channel"] and b["on"] - a["off"] < 0.5:
            a["off"] = max(a["off"], b["off"])
            a["lm"] = 0.5 <= a["off"] - a["on"] <= 10
            continue
        out.append(dict(b))
    return out


def match(det, ref, tol):
    """One-to-one matching of onsets, closest pairs first: (pairs, fp, fn)."""
    cand = sorted((abs(d - r), i, j) for i, d in enumerate(det)
                  for j, r in enumerate(ref) if abs(d - r) <= tol)
    used_d, used_r, pairs = set(), set(), []
    for _, i, j in cand:
        if i not in used_d and j not in used_r:
            used_d.add(i), used_r.add(j), pairs.append((i, j))
    return pairs, len(det) - len(pairs), len(ref) - len(pairs)


def overlaps(a, b, pad=0.0):
    return a["on"] < b["off"] + pad and b["on"] < a["off"] + pad


def series(lms, breakers):
    """WASM 2016 runs: [(onset, count)]."""
    items = sorted([(m["on"], "lm") for m in lms if m["lm"]] +
                   [(b, "brk") for b in breakers])
    runs, run = [], []
    for t, k in items + [(1e18, "brk")]:
        ok = k == "lm" and run and 10 <= t - run[-1] <= 90
        if not ok:
            if len(run) >= 4:
                runs.append((run[0], len(run)))
            run = [t] if k == "lm" else []
        else:
            run.append(t)
    return runs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("h5")
    ap.add_argument("tsv")
    ap.add_argument("--name", default="night")
    ap.add_argument("--lm-f1", type=float)
    ap.add_argument("--series-exact", action="store_true")
    ap.add_argument("--classes", default="")
    ap.add_argument("--class-min", type=float, default=0.9)
    ap.add_argument("--false-lm-h", type=float)
    ap.add_argument("--wake", help="truth prefix: check the sleep basis")
    a = ap.parse_args()
    ok = lambda c, m: print(("ok - " if c else "not ok - ") + a.name + ": " + m)
    f = h5py.File(a.h5, "r")
    ev = f["events/emg_bursts"][:]
    hours = f.attrs["duration_s"] / 3600
    # An event on several legs lists them in emg_channels (by its id).
    lists = {}
    for p in f["events/emg_channels"][:]:
        lists.setdefault(int(p["id"]), set()).add(p["channel"].decode())
    det = [dict(on=float(e["onset"]), off=float(e["onset"] + e["duration"]),
                channel=e["channel"].decode(), kind=e["kind"].decode(),
                chans=lists.get(int(e["id"]), {e["channel"].decode()}))
           for e in ev]
    # schema 2.0: the kind is text, the same as psg-emg's label
    ok(ev.dtype["kind"].kind == "S" and
       all(e["kind"] == e["label"] for e in ev),
       "emg_bursts.kind is text and agrees with the label (%d events)"
       % len(ev))
    T = truth(a.tsv)
    legs = {r["channel"] for r in T if r["kind"] == "lm"} | \
        {d["channel"] for d in det if d["kind"] == "lm"}
    leg_act = [dict(r, lm=0.5 <= r["off"] - r["on"] <= 10)
               for r in T if r["kind"] in ("lm", "spasm")]
    for r in T:   # an LMGM moves both legs (docs/synth.md)
        if r["kind"] == "lmgm":
            for ch in sorted(legs):
                leg_act.append(dict(r, channel=ch,
                                    lm=r["off"] - r["on"] <= 10))
    merged = merge_bilateral(same_leg(leg_act))
    care = [m for m in merged if m["lm"]]
    dontcare = [r for r in T if r["kind"] in ("lmgm", "spasm")]
    tlm = [m for m in care if not any(overlaps(m, d, 1) for d in dontcare)]
    dlm = [d for d in det if d["kind"] == "lm"]
    dlm_c = [d for d in dlm if not any(overlaps(d, x, 1) for x in dontcare)]
    pairs, fp, fn = match([d["on"] for d in dlm_c], [m["on"] for m in tlm],
                          0.5)
    tp = len(pairs)
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0
    met = dict(name=a.name, hours=hours, lm_truth=len(tlm),
               lm_detected=len(dlm_c), lm_tp=tp, lm_fp=fp, lm_fn=fn,
               lm_f1=round(f1, 4), false_lm_per_h=round(fp / hours, 3))
    if a.lm_f1 is not None:
        ok(f1 >= a.lm_f1, "LM onsets (+-0.5 s, bilateral merged): %d truth, "
           "TP %d FP %d FN %d, F1 %.3f >= %.2f" % (len(tlm), tp, fp, fn, f1,
                                                 a.lm_f1))
    if a.false_lm_h is not None:
        ok(fp / hours <= a.false_lm_h, "false LMs %.2f/h <= %g/h (%d in "
           "%.1f h)" % (fp / hours, a.false_lm_h, fp, hours))
    # Series: exactly the runs WASM gives on the truth's leg activity.
    exp = series(merged, [m["on"] for m in merged if not m["lm"]])
    got = sorted((float(s["onset"]), int(s["lms"]))
                 for s in f["events/plm_series"][:])
    sp, sfp, sfn = match([g[0] for g in got], [e[0] for e in exp], 0.5)
    same = all(got[i][1] == exp[j][1] for i, j in sp)
    met.update(series_expected=exp, series_found=got)
    if a.series_exact:
        ok(len(exp) > 0 and sfp == 0 and sfn == 0 and same,
           "PLM series exactly as WASM on the truth: expected %s, found %s"
           % ([(round(t, 1), n) for t, n in exp],
              [(round(t, 1), n) for t, n in got]))
    # Classes: each truth event of the kind is found on its channel, with
    # its onset within the tolerance, and called that kind; and each such
    # call is one of them.
    tol = dict(twitch=0.5, spasm=1.5, rmma=0.5)
    for k in filter(None, a.classes.split(",")):
        # Truth events inside longer activity of their channel cannot be
        # told apart (a twitch within an LM); they are left out.
        busy = [r for r in T if r["kind"] in MUSCLE]
        tk = [r for r in T if r["kind"] == k and not any(
            o is not r and o["kind"] != "rmma_burst" and
            o["off"] - o["on"] >= r["off"] - r["on"] and
            (o["channel"] == r["channel"] or o["kind"] == "lmgm") and
            overlaps(o, r, 0.5) for o in busy)]
        # A spasm on both legs is one truth row per leg with the same
        # onset: one event, found when psg-emg lists both legs.
        groups = {}
        for r in tk:
            g = groups.setdefault((r["on"], r["off"], r["kind"]),
                                  dict(r, chans=set()))
            g["chans"].add(r["channel"])
        tk = list(groups.values())
        dk = [d for d in det if d["kind"] == k]
        hit = 0
        # One bruxism episode on chin and masseter is one, on either.
        same = (lambda d, r: True) if k == "rmma" else \
            (lambda d, r: r["chans"] <= d["chans"])
        for r in tk:
            hit += any(same(d, r) and
                       abs(d["on"] - r["on"]) <= tol[k] for d in dk)
        # A call is right when a truth event of its kind is there; calls
        # on other truth activity of the channel (an LM's twitch-short
        # tail...) count against precision too.
        # Calls on a large-muscle-group movement are not counted: its leg
        # and chin activity is what the kind says it is.
        lmgm = [r for r in T if r["kind"] == "lmgm"]
        dk = [d for d in dk if not any(overlaps(d, x, 1) for x in lmgm)]
        right = sum(any(same(d, r) and
                        abs(d["on"] - r["on"]) <= tol[k] for r in tk)
                    for d in dk)
        rec = hit / len(tk) if tk else 1.0
        prec = right / len(dk) if dk else 1.0
        met[k] = dict(truth=len(tk), detected=len(dk), recall=round(rec, 3),
                      precision=round(prec, 3))
        say = ok if a.class_min > 0 else \
            (lambda c, m: print("# " + a.name + ": " + m))
        say(len(tk) > 0 and rec >= a.class_min and prec >= a.class_min,
           "%s: %d truth, %d called; found and called %s %.3f, calls right "
           "%.3f (>= %.2f)" % (k, len(tk), len(dk), k, rec, prec,
                               a.class_min))
    if a.wake:
        check_wake(f, T, a.wake, det, ok)
    print("# metrics " + json.dumps(met))


def check_wake(f, T, prefix, det, ok):
    """With oraclewake's truth `wake` epochs and `arousals`: the basis,
    the sleep hours, each LM's arousal link and the PLMS index, recomputed
    here from the truth."""
    ep = list(csv.DictReader(open(prefix + ".epochs.tsv"), delimiter="\t"))
    stage = {int(e["epoch"]): e["stage"] for e in ep}
    sleep_h = sum(e["stage"] not in ("W", "?") for e in ep) * 30 / 3600
    sm = dict(f["summary"].attrs)
    ok(sm["emg_index_basis"] == 1 and
       abs(sm["emg_index_hours"] - sleep_h) < 1e-9,
       "indices per hour of sleep from the wake epochs (%.3f h)" % sleep_h)
    ar = [r for r in T if r["kind"] == "arousal"]
    ev = f["events/emg_bursts"][:]
    lms = ev[ev["kind"] == b"lm"]
    bad = 0
    for e in lms:
        on, off = e["onset"], e["onset"] + e["duration"]
        link = any(r["on"] < off + 0.5 and on < r["off"] + 0.5 for r in ar)
        bad += int(e["arousal"]) != int(link)
    ok(len(lms) > 0 and bad == 0, "LM-arousal links (overlap or < 0.5 s) "
       "agree with the truth arousals for all %d LMs (%d differ)"
       % (len(lms), bad))
    plms = [e for e in lms if e["series"] > 0 and
            stage.get(int(e["onset"] // 30)) not in ("W", "?", None)]
    plms_ar = [e for e in plms if e["arousal"] == 1]
    idx, ai = len(plms) / sleep_h, len(plms_ar) / sleep_h
    ok(abs(sm["plms_index"] - idx) < 1e-6 and
       abs(sm["plms_arousal_index"] - ai) < 1e-6,
       "PLMS index %.2f/h and PLMS-arousal index %.2f/h recomputed from "
       "the events and the truth stages" % (idx, ai))


if __name__ == "__main__":
    sys.exit(main())
