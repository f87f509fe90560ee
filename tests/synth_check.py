"""Checks that a night written by psg-synth has the properties docs/synth.md
claims, measured on the written file (decoded by tests/edfpy.py, which
shares no code with psgpipe).  The ground-truth TSVs only say where and
when to look; they are never the measured value.

    synth_check.py CHECK ARGS...

Prints one line per check, "ok - what (numbers)" or "not ok - what
(numbers)", and other lines as comments; tests/t_synth.sh turns them into
TAP.  Exits 0 even when a check fails (the lines say so), non-zero only
when the script itself breaks."""
import json
import sys

import numpy as np

import synth_sig as S

_nights = {}


def Night(path):
    """A decoded night, once per process (several checks share it)."""
    if path not in _nights:
        _nights[path] = S.Night(path)
    return _nights[path]


# The default montage's EEG, EOG and EMG channels (the ones with mains).
EXG = ["F4-M1", "C4-M1", "O2-M1", "F3-M2", "C3-M2", "O1-M2", "E1-M2",
       "E2-M2", "Chin1-Chin2", "Leg L", "Leg R"]
LEGS = ["Leg L", "Leg R"]


def check(cond, desc):
    print(("ok - " if cond else "not ok - ") + desc)
    return cond


def note(msg):
    print(msg)


def pct(x):
    return 100.0 * x


def busy_seconds(night, n, pred, margin=1.0):
    """Boolean per 1-s window: True where an event for which pred(e) holds
    comes within margin s."""
    busy = np.zeros(n, bool)
    for e in night.events:
        if pred(e):
            a = max(0, int(np.floor(e["t0"] - margin)))
            b = min(n, int(np.ceil(e["t1"] + margin)))
            busy[a:b] = True
    return busy


def window_rms(y, fs):
    n = len(y) // fs
    return np.sqrt((y[:n * fs].reshape(n, fs) ** 2).mean(axis=1))


# ---- 1. slow-wave sleep ----

def c_sws(path):
    night = Night(path)
    n3 = np.nonzero(night.stages == "N3")[0]
    n2 = np.nonzero(night.stages == "N2")[0]
    if not check(len(n3) >= 10 and len(n2) >= 10,
                 "night has N3 and N2 epochs to measure (N3 %d, N2 %d, "
                 "need >= 10 each)" % (len(n3), len(n2))):
        return
    cov = {}
    for ch in ("F4-M1", "C4-M1"):
        fs = int(night.rate(ch))
        mask = S.slow_wave_mask(night.sig(ch), fs)
        cov[ch] = np.array([mask[night.epoch_slice(i, fs)].mean()
                            for i in range(len(night.epochs))])
    f3, c3, f2 = cov["F4-M1"][n3], cov["C4-M1"][n3], cov["F4-M1"][n2]
    low = [int(i) for i in n3 if cov["F4-M1"][i] < 0.20]
    check(not low,
          "every N3 epoch has >= 20 %% slow-wave coverage on F4-M1 (0.5-2 Hz "
          "zero-phase FFT band-pass, waves between negative-going zero "
          "crossings, 0.5-2 s, >= 75 uV p2p): %d N3 epochs, min %.1f %%, "
          "mean %.1f %%, %d below 20 %% [docs/synth.md: min 22 %%, mean "
          "47 %%]" % (len(n3), pct(f3.min()), pct(f3.mean()), len(low)))
    for i in low:
        note("N3 epoch %d: F4-M1 coverage %.1f %% (truth sws_fraction "
             "%.1f %%, C4-M1 %.1f %%)" % (i, pct(cov["F4-M1"][i]),
                                        pct(float(night.epochs[i][
                                            "sws_fraction"])),
                                        pct(cov["C4-M1"][i])))
    check(f2.max() < 0.20,
          "every N2 epoch stays below 20 %% on F4-M1: %d N2 epochs, max "
          "%.1f %%, mean %.1f %% [docs: N2 mean 4.6 %%]"
          % (len(n2), pct(f2.max()), pct(f2.mean())))
    check(c3.mean() < f3.mean(),
          "slow waves larger frontally: mean N3 coverage C4-M1 %.1f %% < "
          "F4-M1 %.1f %% (C4-M1 N3 epochs >= 20 %%: %.0f %%, min %.1f %%) "
          "[docs: C4-M1 83 %% of N3 epochs, mean 31 %%]"
          % (pct(c3.mean()), pct(f3.mean()), pct((c3 >= 0.2).mean()),
             pct(c3.min())))


# ---- 2. EMG floor ----

def c_emgfloor(path):
    night = Night(path)
    for leg in LEGS:
        fs = int(night.rate(leg))
        x = night.sig(leg)
        rms = window_rms(S.bandpass(x, fs, 10, 100, 2.0), fs)
        busy = busy_seconds(night, len(rms), lambda e, leg=leg:
                            e["channel"] == leg or e["kind"] == "lmgm")
        r = rms[~busy]
        if not check(len(r) >= 600, "%s: >= 600 event-free 1-s windows "
                     "(%d)" % (leg, len(r))):
            continue
        med = float(np.median(r))
        check(abs(med / 2.0 - 1) <= 0.20,
              "%s resting floor: 10-100 Hz RMS, median of %d event-free 1-s "
              "windows = %.3f uV, within 20 %% of the documented 2 uV "
              "(%+.1f %%; p5-p95 %.2f-%.2f; broadband RMS %.3f uV)"
              % (leg, len(r), med, pct(med / 2 - 1),
                 np.percentile(r, 5), np.percentile(r, 95),
                 float(np.median(window_rms(x - x.mean(), fs)[~busy]))))


# ---- 3. LM amplitude ----

def c_lm(path, floor=2.0):
    night = Night(path)
    ratios, skipped = [], 0
    for leg in LEGS:
        fs = int(night.rate(leg))
        y = S.bandpass(night.sig(leg), fs, 10, 100, 2.0)
        others = [e for e in night.events
                  if e["channel"] == leg or e["kind"] == "lmgm"]
        for e in night.events:
            d = e["t1"] - e["t0"]
            if e["kind"] != "lm" or e["channel"] != leg or d < 1.0:
                continue
            if any(o is not e and o["t0"] < e["t1"] + 0.1 and
                   o["t1"] > e["t0"] - 0.1 for o in others):
                skipped += 1   # overlapping bursts add up: not this LM
                continue
            a = int(round((e["t0"] + d / 4) * fs))
            b = int(round((e["t0"] + 3 * d / 4) * fs))
            ratios.append(np.sqrt(np.mean(y[a:b] ** 2)) / (floor + e["amp"]))
    r = np.array(ratios)
    if not check(len(r) >= 20, "LMs >= 1 s alone on their leg to measure: "
                 "%d (need >= 20; %d overlapping another burst on the same "
                 "leg or a movement left out)" % (len(r), skipped)):
        return
    med = float(np.median(r))
    within = float((np.abs(r - 1) <= 0.25).mean())
    check(0.85 <= med <= 1.15,
          "LM burst level: 10-100 Hz RMS of the middle 50 %% / (floor 2 uV + "
          "truth amplitude), median over %d LMs = %.3f, within 0.85-1.15 "
          "(p5 %.3f, p95 %.3f)" % (len(r), med, np.percentile(r, 5),
                                   np.percentile(r, 95)))
    check(within >= 0.90,
          "LM burst level: %.0f %% of %d LMs within 25 %% of floor + "
          "amplitude (need >= 90 %%; min %.3f, max %.3f)"
          % (pct(within), len(r), r.min(), r.max()))


# ---- 4. mains ----

def c_mains(path, hz):
    hz = int(hz)
    night = Night(path)
    ratio = {}
    for ch in EXG:
        fs = int(night.rate(ch))
        x = night.sig(ch)[:900 * fs]
        f, p = S.welch(x, fs, 8.0)
        for m in (50, 60):
            peak = p[(f >= m - 0.5) & (f <= m + 0.5)].max()
            ref = np.median(p[(f >= m - 5) & (f <= m + 5) &
                              (np.abs(f - m) > 1)])
            ratio[ch, m] = peak / ref
    for m in (50, 60):
        r = {ch: ratio[ch, m] for ch in EXG}
        lo = min(r, key=r.get)
        hi = max(r, key=r.get)
        if m == hz:
            # The amplitude is 2 uV x U(0.5, 1.5) per channel: F4-M1 must
            # show a clear peak; every channel at least a peak well above
            # the < 2x of a channel without mains.
            check(r["F4-M1"] > 10 and r[lo] > 5,
                  "--mains %d: narrow %d Hz peak: max PSD in %g-%g Hz / "
                  "median PSD of %d-%d Hz without +-1 Hz (8-s Welch, 0.125 "
                  "Hz bins) on F4-M1 %.1fx > 10x, and > 5x on all %d "
                  "EEG/EOG/EMG channels (min %.1fx on %s)"
                  % (hz, m, m - 0.5, m + 0.5, m - 5, m + 5, r["F4-M1"],
                     len(EXG), r[lo], lo))
        else:
            check(r[hi] < 2,
                  "--mains %d: no %d Hz peak on any EEG/EOG/EMG channel "
                  "(< 2x): max %.2fx (%s), F4-M1 %.2fx"
                  % (hz, m, r[hi], hi, r["F4-M1"]))


# ---- 5. ECG ----

def c_ecg(path):
    night = Night(path)
    ch = "ECG II"
    fs = int(night.rate(ch))
    x = night.sig(ch)
    pk = S.r_peaks(x, fs, 500.0)
    if not check(len(pk) > 100, "ECG II: R peaks found (%d, > 500 uV)"
                 % len(pk)):
        return
    rr = np.diff(pk) / fs
    hr = 60 / np.median(rr)
    check(50 <= hr <= 75, "ECG II: median heart rate from %d R peaks = %.1f "
          "bpm, within 50-75 (docs: 62 +- 5 +- 3)" % (len(pk), hr))
    rel = rr / np.median(rr)
    cv = rr.std() / rr.mean()
    check(rel.min() >= 0.6 and rel.max() <= 1.5 and cv < 0.15,
          "ECG II: regular rhythm, no missed or extra beat: every RR within "
          "0.6-1.5x the median (%.2f-%.2f, RR %.3f-%.3f s), RR CV %.3f < "
          "0.15" % (rel.min(), rel.max(), rr.min(), rr.max(), cv))
    amp = float(np.median(x[pk]))
    check(abs(amp / 1000 - 1) <= 0.05,
          "ECG II: median R-peak height %.0f uV, within 5 %% of the "
          "documented 1000 uV" % amp)


# ---- 6. alpha, 7. spindles ----

ARTEFACTS = ("lmgm", "pop", "saturation", "flat")


def artefact_epochs(night):
    bad = set()
    L = night.epoch_len
    for e in night.kind(*ARTEFACTS):
        bad.update(range(int(e["t0"] // L), int(e["t1"] // L) + 1))
    return bad


def c_alpha(path):
    night = Night(path)
    bad = artefact_epochs(night)
    res = {}
    for ch in ("O2-M1", "F4-M1"):
        fs = int(night.rate(ch))
        x = night.sig(ch)
        for st in ("W", "N2"):
            rel, ab = [], []
            for i in np.nonzero(night.stages == st)[0]:
                if i in bad:
                    continue
                f, p = S.welch(x[night.epoch_slice(i, fs)], fs, 4.0)
                a = S.band_power(f, p, 8, 12)
                rel.append(a / S.band_power(f, p, 0.5, 30))
                ab.append(a)
            res[ch, st] = (np.mean(rel) if rel else np.nan,
                           np.mean(ab) if ab else np.nan, len(rel))
    nw, nn2 = res["O2-M1", "W"][2], res["O2-M1", "N2"][2]
    if not check(nw >= 5 and nn2 >= 20, "artefact-free W and N2 epochs to "
                 "measure alpha (W %d, need 5; N2 %d, need 20)" % (nw, nn2)):
        return
    w, n2 = res["O2-M1", "W"][0], res["O2-M1", "N2"][0]
    check(w > 2 * n2, "alpha: relative 8-12 Hz power (of 0.5-30 Hz, 4-s "
          "Welch) on O2-M1 in W %.3f > 2x N2 %.3f (ratio %.2f; %d W, %d N2 "
          "epochs)" % (w, n2, w / n2, nw, nn2))
    ab = res["O2-M1", "W"][1] / res["F4-M1", "W"][1]
    rl = res["O2-M1", "W"][0] / res["F4-M1", "W"][0]
    check(ab > 1.5 and rl > 1.5, "alpha is occipital: in W, 8-12 Hz power "
          "O2-M1/F4-M1 = %.2f and relative-alpha ratio %.2f, both > 1.5"
          % (ab, rl))


def c_spindle(path):
    night = Night(path)
    ch = "C4-M1"
    fs = int(night.rate(ch))
    y = S.bandpass(night.sig(ch), fs, 11, 16, 1.0)
    L = night.epoch_len
    inside = np.zeros(len(y), bool)
    epochs = set()
    sp = night.kind("spindle")
    for e in sp:
        i = int(e["t0"] // L)
        if night.stages[i] == "N2":
            epochs.add(i)
        inside[int(e["t0"] * fs):int(np.ceil(e["t1"] * fs))] = True
    sel = np.zeros(len(y), bool)
    for i in epochs:
        sel[night.epoch_slice(i, fs)] = True
    n = int(sum(1 for e in sp if int(e["t0"] // L) in epochs))
    if not check(n >= 20, "truth spindles in N2 to measure: %d (need >= 20)"
                 % n):
        return
    pin = float(np.mean(y[sel & inside] ** 2))
    pout = float(np.mean(y[sel & ~inside] ** 2))
    check(pin > 2 * pout, "spindles: 11-16 Hz power on C4-M1 inside %d "
          "truth spindles %.1f uV^2 > 2x outside them in the same %d N2 "
          "epochs %.1f uV^2 (ratio %.2f)" % (n, pin, len(epochs), pout,
                                            pin / pout))


# ---- 8. REM atonia (chin tone) ----

def c_chin(path):
    night = Night(path)
    ch = "Chin1-Chin2"
    fs = int(night.rate(ch))
    rms = window_rms(S.bandpass(night.sig(ch), fs, 10, 100, 2.0), fs)
    busy = busy_seconds(night, len(rms), lambda e: e["channel"] == ch or
                        e["kind"] in ("lmgm", "arousal"))
    doc = {"W": 10, "N1": 6, "N2": 4.5, "N3": 4, "R": 1.2}
    L = int(round(night.epoch_len))
    tone = {}
    for st in doc:
        m = np.zeros(len(rms), bool)
        for i in np.nonzero(night.stages == st)[0]:
            m[i * L:(i + 1) * L] = True
        m &= ~busy
        tone[st] = (float(np.sqrt(np.mean(rms[m] ** 2))) if m.any() else
                    np.nan, int(m.sum()))
    if not check(tone["R"][1] >= 60 and tone["N2"][1] >= 60,
                 "chin: R and N2 seconds free of twitches, arousals and "
                 "movements (R %d, N2 %d, need 60)" % (tone["R"][1],
                                                       tone["N2"][1])):
        return
    r, n2 = tone["R"][0], tone["N2"][0]
    check(r < 0.5 * n2, "REM atonia: chin 10-100 Hz RMS in R %.3f uV < 0.5x "
          "N2 %.3f uV (ratio %.2f; %d and %d s, twitches excluded)"
          % (r, n2, r / n2, tone["R"][1], tone["N2"][1]))
    check(abs(r / 1.2 - 1) <= 0.25, "REM atonia: chin RMS in R %.3f uV "
          "within 25 %% of the documented 1.2 uV (%+.1f %%)"
          % (r, pct(r / 1.2 - 1)))
    off = {st: tone[st][0] / doc[st] - 1 for st in doc
           if tone[st][1] >= 30}
    check(all(abs(v) <= 0.25 for v in off.values()),
          "chin tone per stage within 25 % of docs/synth.md: " +
          ", ".join("%s %.2f uV (doc %g, %+.0f %%)" % (st, tone[st][0],
                                                       doc[st], pct(v))
                    for st, v in off.items()))


# ---- 10. EDF+D ----

def c_gaps(path, info_json, want):
    want = int(want)
    info = json.load(open(info_json))
    night = Night(path)
    segs = [(s["onset_s"], s["end_s"]) for s in info["segments"]]
    nseg = [c["segments"] for c in info["channels"]]
    check(info["file_type"] == "EDF+D" and len(segs) == want + 1 and
          all(k == want + 1 for k in nseg),
          "psg-info: %s, %d segments (%d gaps), segments per channel %s "
          "(want EDF+D, %d)" % (info["file_type"], len(segs), len(segs) - 1,
                                sorted(set(nseg)), want + 1))
    # The same segments, independently, from the records' time stamps.
    on = night.edf["record_onsets"]
    rd = night.edf["recdur"]
    mine = []
    for t in on:
        if mine and abs(t - mine[-1][1]) < 1e-6:
            mine[-1][1] = t + rd
        else:
            mine.append([t, t + rd])
    check(len(mine) == len(segs) and all(
        abs(a - c) < 1e-6 and abs(b - d) < 1e-6
        for (a, b), (c, d) in zip(mine, segs)),
        "edfpy's record onsets give the same %d segments as psg-info"
        % len(mine))
    gaps = [(b, c) for (_, b), (c, _) in zip(segs, segs[1:])]
    dur = info["duration_s"]
    check(all(30 <= b - a <= 600 and a == int(a) and b == int(b) and
              a >= dur / 10 and b <= dur * 9 / 10 for a, b in gaps),
          "gaps of 30 s to 10 min in whole seconds, away from the first and "
          "last tenth: %s" % ", ".join("%g-%g s (%g s)" % (a, b, b - a)
                                       for a, b in gaps))
    over = [e for e in night.events if any(e["t0"] < b and e["t1"] > a
                                           for a, b in gaps)]
    past = [e for e in night.events if e["t1"] > dur + 1e-7]
    ids = [e["id"] for e in night.events]
    check(not over and not past and len(set(ids)) == len(ids),
          "truth: none of %d events overlaps a gap (%d do) or ends past the "
          "end (%d do); ids unique" % (len(night.events), len(over),
                                       len(past)))
    for e in over[:5]:
        note("in a gap: %s %s %.3f-%.3f" % (e["kind"], e["channel"],
                                            e["t0"], e["t1"]))
    bad, touched = [], 0
    for ep in night.epochs:
        a = float(ep["onset"])
        b = a + float(ep["duration"])
        g = sum(max(0.0, min(b, y) - max(a, x)) for x, y in gaps)
        want_rec = 1 - g / (b - a)
        rec = float(ep["recorded"])
        touched += g > 0
        if abs(rec - want_rec) > 1e-6 or (g > 0) != (rec < 1):
            bad.append((ep["epoch"], rec, want_rec))
    check(not bad and touched > 0,
          "epochs.tsv: %d epochs overlap a gap and have recorded < 1 (= "
          "their recorded share), the other %d have 1; %d disagree"
          % (touched, len(night.epochs) - touched, len(bad)))
    for b in bad[:5]:
        note("epoch %s: recorded %g, want %g" % b)


# ---- 11. BDF ----

def c_bdf(edf, bdf, info_json):
    info = json.load(open(info_json))
    he, hb = S.edf_header(edf), S.edf_header(bdf)
    import os
    size = 256 * (hb["ns"] + 1) + hb["nrec"] * sum(hb["spr"]) * 3
    check(info["file_type"] == "BDF+C" and hb["first"] == 0xFF and
          hb["magic"] == b"BIOSEMI" and hb["reserved"].startswith("BDF+C")
          and os.path.getsize(bdf) == size and
          all(lo == -(1 << 23) and hi == (1 << 23) - 1
              for lo, hi in zip(hb["dmin"], hb["dmax"])),
          "--bdf: psg-info says %s; header 0xFF BIOSEMI, reserved BDF+C, "
          "digital range -8388608..8388607 and 3 bytes per sample (file "
          "size %d = %d)" % (info["file_type"], os.path.getsize(bdf), size))
    a, b = Night(edf), Night(bdf)
    worst, fails = 0.0, []
    for i, lab in enumerate(he["labels"]):
        if lab == "EDF Annotations":
            continue
        qe = (he["pmax"][i] - he["pmin"][i]) / (he["dmax"][i] - he["dmin"][i])
        j = hb["labels"].index(lab)
        qb = (hb["pmax"][j] - hb["pmin"][j]) / (hb["dmax"][j] - hb["dmin"][j])
        x, y = a.sig(lab), b.sig(lab)
        if len(x) != len(y):
            fails.append("%s: %d vs %d samples" % (lab, len(x), len(y)))
            continue
        d = float(np.abs(x - y).max())
        worst = max(worst, d / qe)
        if d > (qe + qb) / 2 * (1 + 1e-6):
            fails.append("%s: %.5f > %.5f" % (lab, d, (qe + qb) / 2))
    check(not fails, "--bdf samples = EDF samples within the quantisation "
          "(half an EDF step + half a BDF step) on all %d channels: worst "
          "%.3f EDF steps%s" % (len(he["labels"]) - 1, worst,
                                "; " + "; ".join(fails) if fails else ""))


# ---- 12. hypnogram import ----

DREAMS = {5: "W", 4: "R", 3: "N1", 2: "N2", 1: "N3", 0: "N3"}
TEXT = {"W": "W", "N1": "N1", "N2": "N2", "N3": "N3", "N4": "N3",
        "S1": "N1", "S2": "N2", "S3": "N3", "S4": "N3", "R": "R", "REM": "R",
        "0": "W", "1": "N1", "2": "N2", "3": "N3", "4": "N3", "5": "R",
        "?": "?"}
ANNOT = {"W": "W", "1": "N1", "2": "N2", "3": "N3", "4": "N3", "R": "R",
         "?": "?", "N1": "N1", "N2": "N2", "N3": "N3"}


def _compare_stages(night, expected, what, length):
    got = list(night.stages)
    dur = night.edf["nrec"] * night.edf["recdur"]
    diff = [i for i, (g, w) in enumerate(zip(got, expected)) if g != w]
    check(len(got) == len(expected) and not diff,
          "%s: %d truth epochs of %g s, %d differ from the hypnogram "
          "(stage at each epoch's midpoint; want %d epochs)"
          % (what, len(got), night.epoch_len, len(diff), len(expected)))
    for i in diff[:5]:
        note("epoch %d: truth %s, hypnogram %s" % (i, got[i], expected[i]))
    if length is not None:
        check(abs(dur - length) < 1e-6, "%s: night length %g s (want %g)"
              % (what, dur, length))


def c_hyp_dreams(hyp, path, length="auto"):
    night = Night(path)
    lines = open(hyp).read().split()
    assert lines[0] == "[Hypnogram]"
    codes = [int(v) for v in lines[1:]]
    L = night.epoch_len
    total = 5 * len(codes)
    n = int(total // L)
    expected = [DREAMS.get(codes[int((i * L + L / 2) // 5)], "?")
                for i in range(n)]
    _compare_stages(night, expected, "DREAMS %s" % hyp.rsplit("/", 1)[-1],
                    total if length == "auto" else float(length))


def c_hyp_text(hyp, path):
    night = Night(path)
    toks = [t.strip() for t in open(hyp) if t.strip()]
    expected = [TEXT[t.upper()] for t in toks]
    _compare_stages(night, expected, "text hypnogram %s"
                    % hyp.rsplit("/", 1)[-1], len(toks) * night.epoch_len)


def c_hyp_edf(hyp, path, length="auto"):
    import edfpy
    night = Night(path)
    ann = [(o, d, ANNOT.get(t[len("Sleep stage "):], "?"))
           for o, d, t in edfpy.read(hyp)["annotations"]
           if t.startswith("Sleep stage ") and d]
    end = max(o + d for o, d, _ in ann)
    dur = night.edf["nrec"] * night.edf["recdur"]
    L = night.epoch_len
    expected = []
    for i in range(int(dur // L)):
        mid = i * L + L / 2
        s = [st for o, d, st in ann if o <= mid < o + d]
        expected.append(s[-1] if s else "?")
    _compare_stages(night, expected, "EDF+ hypnogram %s (%d annotations)"
                    % (hyp.rsplit("/", 1)[-1], len(ann)),
                    float(int(end)) if length == "auto" else float(length))
    note("stages in the truth: %s" % ", ".join(
        "%s %d" % (s, int((night.stages == s).sum()))
        for s in ("W", "N1", "N2", "N3", "R", "?")))


# ---- 13. the truth hypnogram as annotations ----

def c_hyp_runs(dump, path):
    night = Night(path)
    lab = {"W": "W", "1": "N1", "2": "N2", "3": "N3", "R": "R", "?": "?"}
    got = []
    for line in open(dump):
        if not line.startswith("event "):
            continue
        f = dict(kv.split("=", 1) for kv in line.split()[2:]
                 if "=" in kv)
        label = line.split('label="', 1)[1].rsplit('"', 1)[0]
        if label.startswith("Sleep stage "):
            got.append((float(f["onset"]), float(f["duration"]),
                        lab.get(label[len("Sleep stage "):], label)))
    want = []
    for ep in night.epochs:
        a, d, st = float(ep["onset"]), float(ep["duration"]), ep["stage"]
        if want and want[-1][2] == st and abs(want[-1][0] + want[-1][1] - a) \
                < 1e-6:
            want[-1][1] += d
        else:
            want.append([a, d, st])
    same = len(got) == len(want) and all(
        abs(g[0] - w[0]) < 1e-6 and abs(g[1] - w[1]) < 1e-6 and g[2] == w[2]
        for g, w in zip(got, want))
    check(same, "PREFIX.hypnogram.edf via psg-read --annotations: %d 'Sleep "
          "stage' events, equal to the %d runs of epochs.tsv's stages (%d "
          "epochs)" % (len(got), len(want), len(night.epochs)))
    if not same:
        for g, w in list(zip(got, want))[:5]:
            note("event %s, run %s" % (g, w))


# ---- 14. PLM series ----

def c_plm(path):
    night = Night(path)
    L = night.epoch_len
    series = night.kind("plm_series")
    lms = night.kind("lm")
    if not check(len(series) >= 1, "truth has PLM series to check (%d)"
                 % len(series)):
        return
    bad = []
    for s in series:
        mine = sorted((e for e in lms if e["val"] == s["val"]),
                      key=lambda e: e["t0"])
        # WASM: LMs on both legs within 0.5 s are one bilateral LM.
        groups = S.merge_intervals([(e["t0"], e["t0"]) for e in mine], 0.5)
        on = [g[0] for g in groups]
        ioi = np.diff(on) if len(on) > 1 else np.array([np.nan])
        stages = {night.stages[int(e["t0"] // L)] for e in mine}
        ok = (len(on) >= 4 and len(on) == int(s["amp"]) and
              (ioi.min() >= 10 and ioi.max() <= 90) and
              stages <= {"N1", "N2", "N3"} and
              abs(on[0] - s["t0"]) < 1e-6 and mine[-1]["t0"] <= s["t1"])
        note("series %g: %d LMs (%d events, amplitude says %g), onset to "
             "onset %.1f-%.1f s, stages %s" % (s["val"], len(on), len(mine),
                                               s["amp"], ioi.min(),
                                               ioi.max(), sorted(stages)))
        if not ok:
            bad.append(s["val"])
    check(not bad, "every PLM series (%d) has >= 4 LMs with its id as value "
          "(bilateral within 0.5 s counted once, count = its amplitude), "
          "onset to onset 10-90 s, all in NREM, inside the series; bad: %s"
          % (len(series), bad or "none"))
    # A WASM-style detector on the file, both legs merged.
    iv, floors = [], []
    for leg in LEGS:
        fl, b = S.emg_bursts(night.sig(leg), int(night.rate(leg)))
        floors.append(fl)
        iv += b
    det = np.array([a for a, _ in S.merge_intervals(iv)])
    truth = S.merge_intervals([(e["t0"], e["t1"]) for e in lms], 0.5)
    err = np.array([np.abs(det - a).min() if len(det) else np.inf
                    for a, _ in truth])
    found = float((err <= 0.5).mean())
    check(found >= 0.90,
          "LM detector (10-100 Hz rectified, 0.25-s moving average, > floor "
          "+ 8 uV for >= 0.5 s, legs merged; floors %.2f/%.2f uV) finds "
          "%.1f %% of %d truth LMs (bilateral/overlapping merged) within "
          "0.5 s of their onset (need >= 90 %%; %d detections)"
          % (floors[0], floors[1], pct(found), len(truth), len(det)))
    for (a, b), e in zip(truth, err):
        if e > 0.5:
            amps = [x["amp"] for x in lms if a <= x["t0"] <= b]
            note("missed LM at %.2f s (truth amplitude %s uV)"
                 % (a, "/".join("%.1f" % v for v in amps)))


# ---- 15. HDF5 ----

def c_h5(h5path, prefix):
    import h5py
    night_ev = S.read_tsv(prefix + ".events.tsv")
    epochs = S.read_tsv(prefix + ".epochs.tsv")
    f = h5py.File(h5path, "r")
    kinds = sorted({e["kind"] for e in night_ev})
    counts = {k: sum(1 for e in night_ev if e["kind"] == k) for k in kinds}
    h5n = {k: f["events"][k].shape[0] if k in f["events"] else -1
           for k in kinds}
    for k in ("slow_wave", "lm"):
        check(counts.get(k, 0) > 0 and h5n.get(k) == counts[k],
              "/events/%s: %s rows, events.tsv %d" % (k, h5n.get(k),
                                                      counts.get(k, 0)))
        if h5n.get(k, -1) > 0:
            t = f["events"][k][()]
            tsv = sorted((e for e in night_ev if e["kind"] == k),
                         key=lambda e: float(e["id"]))
            t = t[np.argsort(t["id"])]
            same = (np.allclose(t["onset"], [float(e["onset"]) for e in tsv],
                                atol=1e-7) and
                    np.allclose(t["amplitude"], [float(e["amplitude"])
                                                 for e in tsv], rtol=1e-5) and
                    np.allclose(t["value"], [float(e["value"]) for e in tsv]))
            check(same, "/events/%s: onsets, amplitudes and values equal "
                  "events.tsv's" % k)
    others = [k for k in kinds if h5n[k] != counts[k]]
    check(not others, "/events/<kind> row counts equal events.tsv for all %d "
          "kinds present (%s)%s" % (len(kinds), ", ".join(
              "%s %d" % (k, counts[k]) for k in kinds),
              "; differ: %s" % others if others else ""))
    t = f["epochs"][()]
    want = {"sws_fraction": [float(e["sws_fraction"]) for e in epochs],
            "sw_count": [float(e["sw_count"]) for e in epochs],
            "recorded": [float(e["recorded"]) for e in epochs],
            "onset": [float(e["onset"]) for e in epochs]}
    names = t.dtype.names
    diff = [c for c in want if c not in names or len(t) != len(epochs) or
            not np.allclose(t[c], want[c], atol=1e-6)]
    # schema 2.0: the stage is a category, stored as its name
    if "stage" not in names or [s.decode() for s in t["stage"]] != \
            [e["stage"] for e in epochs]:
        diff.append("stage")
    check(not diff, "/epochs: %d rows, columns stage, sws_fraction, sw_count, "
          "recorded (and onset) equal epochs.tsv (%d rows)%s"
          % (len(t), len(epochs), "; differ: %s" % diff if diff else ""))


# ---- 17. channels ----

def c_nchan(info_json, n, *labels):
    info = json.load(open(info_json))
    got = [c["label"] for c in info["channels"]]
    n = int(n)
    ok = len(got) == n and len(set(got)) == n
    if labels:
        ok = ok and got == list(labels)
    check(ok, "-n %d: psg-info lists %d distinct channels%s" % (
        n, len(set(got)), " (%s)" % ", ".join(got) if len(got) <= 8 else
        " (first %s, last %s)" % (got[0], got[-1])))


# ---- 18. a channel does not change the others ----

def c_indep(full, small):
    a, b = Night(full), Night(small)
    diff = []
    for lab in b.edf["labels"]:
        x, y = a.sig(lab), b.sig(lab)
        d = np.nonzero(x != y)[0] if len(x) == len(y) else [0]
        if len(d):
            diff.append("%s from %.1f s" % (lab, d[0] / b.rate(lab)))
    check(not diff, "%d channels kept by -n %d are sample for sample those "
          "of the full montage (docs: adding a channel does not change what "
          "the others produce)%s" % (len(b.edf["labels"]),
                                     len(b.edf["labels"]),
                                     "; differ: " + ", ".join(diff)
                                     if diff else ""))
    k = ("slow_wave", "k_complex", "spindle")
    ea = [(e["onset"], e["kind"], e["amplitude"]) for e in a.kind(*k)]
    eb = [(e["onset"], e["kind"], e["amplitude"]) for e in b.kind(*k)]
    first = next((i for i, (x, y) in enumerate(zip(ea, eb)) if x != y),
                 min(len(ea), len(eb)))
    check(ea == eb, "cortical truth events (slow waves, K-complexes, "
          "spindles) equal with and without the other channels: %d vs %d%s"
          % (len(ea), len(eb), "" if ea == eb else "; first difference at "
             "%s s" % (ea[first][0] if first < len(ea) else "end")))


CHECKS = {"sws": c_sws, "emgfloor": c_emgfloor, "lm": c_lm,
          "mains": c_mains, "ecg": c_ecg, "alpha": c_alpha,
          "spindle": c_spindle, "chin": c_chin, "gaps": c_gaps,
          "bdf": c_bdf, "hyp-dreams": c_hyp_dreams, "hyp-text": c_hyp_text,
          "hyp-edf": c_hyp_edf, "hyp-runs": c_hyp_runs, "plm": c_plm,
          "h5": c_h5, "nchan": c_nchan, "indep": c_indep}

if __name__ == "__main__":
    # Several checks in one process: CHECK ARGS... + CHECK ARGS...
    groups, cur = [], []
    for a in sys.argv[1:] + ["+"]:
        if a == "+":
            if cur:
                groups.append(cur)
            cur = []
        else:
            cur.append(a)
    for g in groups:
        CHECKS[g[0]](*g[1:])
        sys.stdout.flush()
