#!/usr/bin/python3
"""psg-emg's general muscle events (HDF5 from psg-h5) against psg-synth
--muscles' ground truth, per kind (issue 18's targets).

Written from docs/synth.md and issue 18, not from stages/psg-emg.c:

- a truth spasm or cramp is one movement; spasms of several muscles that
  overlap and start < 3 s apart (a bilateral back spasm: the generator
  starts the second side up to 1 s later) are one; it is found when one
  detected `spasm` event starts within 2 s of it, lasts within 20 % of its
  length and lists each of its muscles (`muscle_parts`), each part itself
  a spasm within the same limits; matching is one to one;
- a detected spasm is right when it is matched; those overlapping a truth
  whole-body movement (`lmgm`, on every EMG channel) are that movement's,
  scored below, not spasms; a truth spasm that overlaps one (the generator
  starts an awakening's movement whatever the muscles do) is one activity
  on its muscle in the signal, and neither found nor missed;
- a truth twitch on a muscle is found when a `twitch` part on its channel
  starts within 0.3 s of it;
- each whole-body movement is one event on several muscles: exactly one
  detected event on 2 or more muscles starts within 2 s of it, none within
  it is counted a second time;
- with --wake PREFIX (tests/tools/oraclewake's truth stand-in for psg-wake):
  every event's sleep state is the truth stage of its onset's epoch, its
  arousal and awakening flags are those of the truth arousals and
  awakenings by WASM 2016's LM-arousal window (overlap, or < 0.5 s between
  the end of one and the onset of the other), and each muscle's spasm,
  spasm-arousal and spasm-awakening indices per hour of truth sleep are
  recomputed from the parts.

Prints "ok - ..." / "not ok - ..." lines and a "# metrics {...}" line.
"""
import argparse
import csv
import json
import os
import sys

import h5py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from emg_check import match, truth  # noqa: E402


def groups(spasms):
    """Truth spasms of several muscles that overlap, starting < 3 s apart."""
    out = []
    for r in sorted(spasms, key=lambda x: x["on"]):
        g = out[-1] if out else None
        if g and r["on"] < g["off"] and r["on"] - g["on"] < 3 and \
                r["channel"] not in g["chans"]:
            g["off"] = max(g["off"], r["off"])
            g["chans"][r["channel"]] = r
            continue
        out.append(dict(on=r["on"], off=r["off"], chans={r["channel"]: r}))
    return out


def within(d_on, d_dur, on, dur):
    return abs(d_on - on) <= 2 and abs(d_dur - dur) <= 0.2 * dur


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("h5")
    ap.add_argument("tsv")
    ap.add_argument("--name", default="night")
    ap.add_argument("--min", type=float, default=0.95)
    ap.add_argument("--twitch-min", type=float, default=0.9)
    ap.add_argument("--wake", help="truth prefix: check sleep and links")
    a = ap.parse_args()
    ok = lambda c, m: print(("ok - " if c else "not ok - ") + a.name + ": " + m)
    f = h5py.File(a.h5, "r")
    dec = lambda b: b.decode() if isinstance(b, bytes) else b
    ev = [dict(on=float(e["onset"]), dur=float(e["duration"]),
               kind=dec(e["label"]), id=int(e["id"]), n=int(e["muscles"]))
          for e in f["events/muscle_events"][:]]
    parts, wax = {}, {}
    for p in f["events/muscle_parts"][:]:
        wax.setdefault(int(p["id"]), {})[dec(p["channel"])] = \
            bool(p["waxing"])
        parts.setdefault(int(p["id"]), []).append(dict(
            on=float(p["onset"]), dur=float(p["duration"]),
            kind=dec(p["label"]), channel=dec(p["channel"])))
    T = truth(a.tsv)
    moves = [r for r in T if r["kind"] == "lmgm"]
    move = lambda e: any(e["on"] < m["off"] + 1 and m["on"] < e["on"] +
                         e["dur"] + 1 for m in moves)
    G = groups([r for r in T if r["kind"] in ("spasm", "cramp")])
    dontcare = [g for g in G if move(dict(on=g["on"], dur=g["off"] - g["on"]))]
    G = [g for g in G if g not in dontcare]

    def found(e, g):
        if e["kind"] != "spasm" or not within(e["on"], e["dur"], g["on"],
                                               g["off"] - g["on"]):
            return False
        for ch, r in g["chans"].items():
            if not any(p["channel"] == ch and p["kind"] == "spasm" and
                       within(p["on"], p["dur"], r["on"], r["off"] - r["on"])
                       for p in parts.get(e["id"], [])):
                return False
        return True

    dsp = [e for e in ev if e["kind"] == "spasm"]
    cand = sorted((abs(e["on"] - g["on"]), i, j) for i, e in enumerate(dsp)
                  for j, g in enumerate(G) if found(e, g))
    used_d, used_g = set(), set()
    for _, i, j in cand:
        if i not in used_d and j not in used_g:
            used_d.add(i), used_g.add(j)
    scored = [i for i, e in enumerate(dsp) if i in used_d or not move(e)]
    rec = len(used_g) / len(G) if G else 1.0
    prec = len(used_d) / len(scored) if scored else 1.0
    # Shape: a found spasm's muscles wax and wane when the truth's do
    # (docs/synth.md: value 1), and not for plateaus and cramps.
    shape_ok = shape_n = 0
    for _, i, j in cand:
        if i in used_d and j in used_g and dsp[i]["id"] in wax:
            for ch, r in G[j]["chans"].items():
                p = wax[dsp[i]["id"]].get(ch)
                if p is not None:
                    shape_n += 1
                    shape_ok += p == (float(r["value"]) == 1)
    bil = [g for g in G if len(g["chans"]) > 1]
    bil_found = sum(j in used_g for j, g in enumerate(G) if len(g["chans"]) > 1)
    met = dict(name=a.name, spasm_truth=len(G), spasm_in_moves=len(dontcare), spasm_called=len(scored),
               spasm_found=len(used_g), spasm_recall=round(rec, 3),
               spasm_precision=round(prec, 3), bilateral=len(bil),
               bilateral_found=bil_found)
    missed = [(round(g["on"], 1), round(g["off"] - g["on"], 1),
               sorted(g["chans"])) for j, g in enumerate(G)
              if j not in used_g]
    false = [(round(dsp[i]["on"], 1), round(dsp[i]["dur"], 1))
             for i in scored if i not in used_d]
    ok(len(G) > 0 and rec >= a.min and prec >= a.min,
       "spasms and cramps (one event however many muscles, onset within 2 s, "
       "duration within 20 %%, each muscle's part too): %d truth (%d more in "
       "whole-body movements), %d called, "
       "recall %.3f, precision %.3f (>= %.2f); missed %s, false %s"
       % (len(G), len(dontcare), len(scored), rec, prec, a.min, missed,
          false))
    met.update(shape_parts=shape_n, shape_agree=shape_ok)
    ok(shape_n > 0 and shape_ok >= 0.9 * shape_n,
       "spasm shape: waxing and waning called as in the truth for %d of %d "
       "muscles' spasms (>= 90 %%)" % (shape_ok, shape_n))
    ok(len(bil) > 0 and bil_found == len(bil),
       "bilateral spasms found as one event on both muscles: %d of %d"
       % (bil_found, len(bil)))

    # Twitches on the other muscles, each on its channel.
    chans = {r["channel"] for r in T if r["kind"] in ("spasm", "cramp")}
    tw = [r for r in T if r["kind"] == "twitch" and r["channel"] in chans]
    dtw = [p for ps in parts.values() for p in ps if p["kind"] == "twitch"
           and p["channel"] in chans]
    hits = sum(len(match([p["on"] for p in dtw if p["channel"] == ch],
                         [r["on"] for r in tw if r["channel"] == ch],
                         0.3)[0]) for ch in chans)
    trec = hits / len(tw) if tw else 1.0
    tprec = hits / len(dtw) if dtw else 1.0
    met.update(twitch_truth=len(tw), twitch_called=len(dtw),
               twitch_recall=round(trec, 3), twitch_precision=round(tprec, 3))
    ok(len(tw) > 0 and trec >= a.twitch_min,
       "twitches on the muscles (onset within 0.3 s): %d truth, %d called, "
       "recall %.3f (>= %.2f), precision %.3f"
       % (len(tw), len(dtw), trec, a.twitch_min, tprec))

    # Whole-body movements: one event on several muscles each.
    one, twice = 0, []
    for m in moves:
        multi = [e for e in ev if e["n"] >= 2 and
                 m["on"] - 2 <= e["on"] < m["off"]]
        one += len(multi) == 1 and abs(multi[0]["on"] - m["on"]) <= 2
        if len(multi) > 1:
            twice.append(round(m["on"], 1))
    met.update(moves=len(moves), moves_one=one, moves_twice=len(twice))
    ok(len(moves) > 0 and one == len(moves),
       "whole-body movements are one event on several muscles each: %d of "
       "%d (counted twice: %s)" % (one, len(moves), twice))
    if a.wake:
        check_wake(f, T, a.wake, ok, met)
    print("# metrics " + json.dumps(met))


def check_wake(f, T, prefix, ok, met):
    ep = list(csv.DictReader(open(prefix + ".epochs.tsv"), delimiter="\t"))
    stage = {int(e["epoch"]): e["stage"] for e in ep}
    sleep_h = sum(e["stage"] not in ("W", "?") for e in ep) * 30 / 3600

    def linked(kind, on, off):
        return any(r["on"] < off + 0.5 and on < r["off"] + 0.5
                   for r in T if r["kind"] == kind)

    ev = f["events/muscle_events"][:]
    bad, n_ar, n_aw = [], 0, 0
    flags = {}
    for e in ev:
        on, off = float(e["onset"]), float(e["onset"] + e["duration"])
        st = stage.get(int(on // 30), "?")
        sl = float("nan") if st == "?" else float(st != "W")
        ar, aw = linked("arousal", on, off), linked("awakening", on, off)
        n_ar += ar
        n_aw += aw
        flags[int(e["id"])] = (st not in ("W", "?"), ar, aw)
        same_sleep = (sl != sl and e["sleep"] != e["sleep"]) or \
            e["sleep"] == sl
        if not same_sleep or e["arousal"] != ar or e["awakening"] != aw:
            bad.append(round(on, 1))
    met.update(events=len(ev), with_arousal=n_ar, with_awakening=n_aw)
    ok(len(ev) > 0 and n_ar > 0 and n_aw > 0 and not bad,
       "every muscle event's sleep state, arousal (%d) and awakening (%d) "
       "agree with the truth by WASM's window (%d events; differ: %s)"
       % (n_ar, n_aw, len(ev), bad[:10]))
    sm = dict(f["summary"].attrs)
    count = {}
    for p in f["events/muscle_parts"][:]:
        if p["label"] != b"spasm":
            continue
        s, ar, aw = flags[int(p["id"])]
        c = count.setdefault(p["channel"].decode(), [0, 0, 0])
        c[0] += s
        c[1] += s and ar
        c[2] += s and aw
    wrong = []
    for ch, (n, ar, aw) in sorted(count.items()):
        for name, v in (("spasm_index", n), ("spasm_arousal_index", ar),
                        ("spasm_awakening_index", aw)):
            got = sm["muscle_%s %s" % (name, ch)]
            if abs(got - v / sleep_h) > 1e-6:
                wrong.append("%s %s %.3f, not %.3f" % (name, ch, got,
                                                       v / sleep_h))
    ok(len(count) > 0 and not wrong,
       "each muscle's spasm, spasm-arousal and spasm-awakening indices per "
       "hour of sleep (%.2f h) recomputed from the parts and the truth "
       "(%d muscles; %s)" % (sleep_h, len(count), wrong or "all agree"))


if __name__ == "__main__":
    sys.exit(main())
