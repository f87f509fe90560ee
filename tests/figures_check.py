#!/usr/bin/python3
"""A night's figures recomputed from what its HDF5 file stores.

Each figure of docs/hdf5.md is computed here from the file's own events,
epochs and segments, independently of the stages, and compared with the
stored value:

- slow_wave_density: /events/slow_waves starting in the SWS epochs (sws 1,
  and wake 0 when psg-wake ran) per minute of those epochs;
- recording_time: the complete epochs whose EEG (/segments of --eeg)
  holds at least half of them; sleep_efficiency: the wake-0 epochs over
  them; total_sleep_time: the wake-0 epochs;
- emg_bursts.sleep: 1 when the epoch of the onset has wake 0, 0 when 1,
  NaN otherwise;
- one event per movement: no two spasms on different channels start
  within 10 s of each other (psg-emg's --lm-max, the longest LM: a
  contraction starting later is one of its own), and an event on several
  channels lists each (channels = the distinct
  channels of its /events/emg_channels rows).

Prints TAP-style "ok - ..." / "not ok - ..." lines.
"""
import argparse
import math
import sys

import h5py
import numpy as np


def close(a, b):
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= 1e-9 * max(
        1.0, abs(b))


def epoch_of(t, origin, length):
    return int(math.floor((t - origin) / length))


def check_density(f, ok, ep, origin, length):
    sm = dict(f["summary"].attrs)
    names = ep.dtype.names
    n3 = ep["sws"] == 1
    if "wake" in names:
        n3 &= ep["wake"] == 0
    sws_ep = set(np.flatnonzero(n3))
    waves = f["events/slow_waves"][:]
    inside = sum(epoch_of(w, origin, length) in sws_ep for w in
                 waves["onset"])
    minutes = len(sws_ep) * length / 60
    want = inside / minutes if minutes else float("nan")
    ok(close(sm["sws_minutes"], minutes) and
       close(sm["slow_wave_density"], want),
       "slow_wave_density %.3f/min = %d of the %d slow waves in %d SWS "
       "epochs (%.1f min); all waves would give %.3f/min"
       % (sm["slow_wave_density"], inside, len(waves), len(sws_ep), minutes,
          len(waves) / minutes if minutes else float("nan")))


def recorded_epochs(f, ep, eeg, origin, length):
    ch = f["channels"][:]
    idx = [i for i, c in enumerate(ch) if c["label"].decode() == eeg]
    if not idx:
        sys.exit("figures_check: no channel '%s'" % eeg)
    rate = float(ch[idx[0]]["rate_hz"])
    seg = f["segments"][:]
    seg = seg[seg["channel"] == ch[idx[0]]["index"]]
    n = 0
    for k in range(len(ep)):
        a = origin + k * length
        cover = sum(max(0.0, min(a + length, s["onset_s"] + s["duration_s"])
                        - max(a, s["onset_s"])) for s in seg)
        n += round(cover * rate) * 2 >= length * rate
    return n


def check_recording(f, ok, ep, eeg, origin, length):
    sm = dict(f["summary"].attrs)
    n = recorded_epochs(f, ep, eeg, origin, length)
    sleep = int(np.sum(ep["wake"] == 0))
    rt, se = n * length / 60, 100 * sleep / n if n else float("nan")
    ok(close(sm["recording_time"], rt) and
       close(sm["sleep_efficiency"], se) and
       close(sm["total_sleep_time"], sleep * length / 60),
       "recording_time %.1f min = %d epochs of '%s' at least half recorded "
       "(of %d complete: %.1f min with the gaps); sleep_efficiency %.2f %% "
       "= %d sleep epochs over them"
       % (sm["recording_time"], n, eeg, len(ep), len(ep) * length / 60,
          sm["sleep_efficiency"], sleep))


def check_sleep(f, ok, ep, origin, length):
    ev = f["events/emg_bursts"][:]
    bad = known = 0
    for e in ev:
        k = epoch_of(e["onset"], origin, length)
        w = ep["wake"][k] if 0 <= k < len(ep) else float("nan")
        want = 1.0 if w == 0 else 0.0 if w == 1 else float("nan")
        bad += not close(float(e["sleep"]), want)
        known += not math.isnan(want)
    ok(len(ev) > 0 and known > 0 and bad == 0,
       "emg_bursts.sleep follows the wake epochs for all %d events (%d in "
       "scored epochs, %d differ)" % (len(ev), known, bad))


def check_movements(f, ok):
    ev = f["events/emg_bursts"][:]
    parts = f["events/emg_channels"][:]
    sp = sorted((float(e["onset"]), float(e["onset"] + e["duration"]),
                 e["channel"].decode()) for e in ev if e["kind"] == b"spasm")
    twice = sum(1 for i in range(len(sp)) for j in range(i + 1, len(sp))
                if sp[j][0] < min(sp[i][1], sp[i][0] + 10) and
                sp[j][2] != sp[i][2])
    ok(twice == 0, "no two of the %d spasms start together (< 10 s apart, "
       "overlapping) on different channels (%d pairs do)" % (len(sp), twice))
    lists = {}
    for p in parts:
        lists.setdefault(int(p["id"]), set()).add(p["channel"].decode())
    wrong = sum(int(e["channels"]) != len(lists.get(int(e["id"]), {1}))
                or (e["channels"] > 1 and e["channel"].decode() not in
                    lists[int(e["id"])]) for e in ev)
    multi = sum(e["channels"] > 1 for e in ev)
    ids = set(int(e["id"]) for e in ev)
    ok(wrong == 0 and set(lists) <= ids and len(ids) == len(ev),
       "%d events on several channels list them in emg_channels "
       "(%d disagree)" % (multi, wrong))


def check_lmgm(f, ok, tsv):
    """A night whose truth has large-muscle-group movements (both legs and
    the chin, docs/synth.md) and no spasm: each movement longer than
    10.5 s is one spasm listing both legs; none is two."""
    rows = [l.rstrip("\n").split("\t") for l in open(tsv)][1:]
    if any(r[3] == "spasm" for r in rows):
        sys.exit("figures_check: --lmgm wants a night without spasms")
    mv = [(float(r[0]), float(r[1])) for r in rows if r[3] == "lmgm"]
    ev = f["events/emg_bursts"][:]
    sp = [e for e in ev if e["kind"] == b"spasm"]
    long_ = [m for m in mv if m[1] > 10.5]
    near = lambda e, m: abs(float(e["onset"]) - m[0]) <= 1.5
    one = sum(sum(near(e, m) for e in sp) == 1 and
              any(near(e, m) and e["channels"] == 2 for e in sp)
              for m in long_)
    # Spasms that are not one of these movements (those of 9.5-10.5 s may
    # come out either way).
    other = sum(not any(near(e, m) for m in mv if m[1] >= 9.5) for e in sp)
    ok(len(long_) > 0 and one == len(long_) and other == 0,
       "%d movements > 10.5 s on both legs (truth: no spasm): %d are one "
       "spasm listing both legs; %d spasms elsewhere, %d in all"
       % (len(long_), one, other, len(sp)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("h5")
    ap.add_argument("--eeg", help="psg-wake's EEG: check recording_time")
    ap.add_argument("--name", default="night")
    ap.add_argument("--lmgm", help="truth TSV of a night without spasms")
    a = ap.parse_args()
    ok = lambda c, m: print(("ok - " if c else "not ok - ") + a.name + ": " + m)
    f = h5py.File(a.h5, "r")
    ep = f["epochs"][:]
    origin, length = f.attrs["epoch_origin_s"], f.attrs["epoch_length_s"]
    names = ep.dtype.names
    if "sws" in names:
        check_density(f, ok, ep, origin, length)
    if a.eeg:
        check_recording(f, ok, ep, a.eeg, origin, length)
    if "events/emg_bursts" in f:
        if "wake" in names:
            check_sleep(f, ok, ep, origin, length)
        check_movements(f, ok)
    if a.lmgm:
        check_lmgm(f, ok, a.lmgm)


if __name__ == "__main__":
    sys.exit(main())
