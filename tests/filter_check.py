"""Measurements for tests/t_filter.sh: psg-filter and psg-spectrum checked
from the outside, on EDF files written here (exact sines, white noise,
bursts) and on shared recordings.  Nothing here imports psgpipe code: the
EDF writer follows the EDF/EDF+ specification, files are decoded with
tests/edfpy.py, results are read from psg-h5's HDF5 with h5py and from
psg-dump's text, and the Kaiser design of pipeline/fir.c is re-derived in
numpy only to know filter lengths and to build an independent reference.

    filter_check.py gen-response DIR          EDF inputs for part (a)
    filter_check.py response NAME DIR         checks of part (a) for NAME
    filter_check.py gen-edfd EDFPLUSD DIR     single-segment EDFs (b)
    filter_check.py edfd EDFPLUSD DIR         checks of part (b)
    filter_check.py gen-as DIR / as DIR       part (c): --as, prefilter
    filter_check.py cascade DIR               part (c): cascade = product
    filter_check.py gen-spectrum DIR          white-noise EDF+D for (e)
    filter_check.py spectrum-gen GEN.edf H5   (e) on the pyedflib generator
    filter_check.py spectrum-noise DIR        (e) on the white noise

Every check prints one line "ok - WHAT: NUMBERS" or "not ok - ...";
other lines start with "# ".  The exit status is 0 unless the script
itself broke (t_filter.sh counts the lines).
"""
import json
import math
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import edfpy  # noqa: E402

FAILED = 0


def report(ok, what):
    global FAILED
    if not ok:
        FAILED += 1
    print(("ok - " if ok else "not ok - ") + what, flush=True)


def note(what):
    print("# " + what, flush=True)


def db(g):
    return 20 * math.log10(max(abs(g), 1e-300))


# ---------------------------------------------------------------- EDF writer

def write_edf(path, chans, onsets=None, nrec=None):
    """chans: dicts with label, rate (samples per 1-s record), x (physical
    values, rate * number of records), pmin, pmax, optional prefilter.
    onsets (seconds, one per record) makes an EDF+ (C or D) file with an
    annotation signal holding each record's time-keeping TAL; without
    them the file is plain EDF with contiguous 1-s records."""
    if nrec is None:
        nrec = len(chans[0]["x"]) // chans[0]["rate"]
    plus = onsets is not None
    sigs = []
    for c in chans:
        assert len(c["x"]) == c["rate"] * nrec, c["label"]
        dmin, dmax = -32768, 32767
        gain = (c["pmax"] - c["pmin"]) / (dmax - dmin)
        d = np.round((np.asarray(c["x"], float) - c["pmin"]) / gain + dmin)
        d = np.clip(d, dmin, dmax).astype("<i2")
        sigs.append(dict(label=c["label"], transducer="", unit="uV",
                         pmin=c["pmin"], pmax=c["pmax"], dmin=dmin,
                         dmax=dmax, prefilter=c.get("prefilter", ""),
                         spr=c["rate"], data=d.reshape(nrec, c["rate"])))
    if plus:
        tal_spr = 32
        ann = np.zeros((nrec, tal_spr * 2), np.uint8)
        for r, t in enumerate(onsets):
            b = ("+%s\x14\x14\x00" % repr(float(t)).rstrip("0").rstrip(".")
                 ).encode()
            ann[r, :len(b)] = np.frombuffer(b, np.uint8)
        sigs.append(dict(label="EDF Annotations", transducer="", unit="",
                         pmin=-1, pmax=1, dmin=-32768, dmax=32767,
                         prefilter="", spr=tal_spr,
                         data=ann.view("<i2").reshape(nrec, tal_spr)))
        contiguous = all(abs(onsets[i] - i) < 1e-9 for i in range(nrec))
        reserved = "EDF+C" if contiguous else "EDF+D"
        patient, recording = "X X X X", "Startdate 01-JAN-2020 X X X"
    else:
        reserved, patient, recording = "", "test", "psgpipe filter test"
    ns = len(sigs)

    def f(v, w):
        s = str(v) if not isinstance(v, float) else ("%g" % v)
        assert len(s) <= w, (s, w)
        return s.ljust(w).encode("ascii")

    head = b"".join([f("0", 8), f(patient, 80), f(recording, 80),
                     f("01.01.20", 8), f("00.00.00", 8),
                     f(256 * (ns + 1), 8), f(reserved, 44), f(nrec, 8),
                     f(1, 8), f(ns, 4)])
    for key, w in (("label", 16), ("transducer", 80), ("unit", 8),
                   ("pmin", 8), ("pmax", 8), ("dmin", 8), ("dmax", 8),
                   ("prefilter", 80), ("spr", 8)):
        head += b"".join(f(s[key], w) for s in sigs)
    head += b" " * (32 * ns)
    assert len(head) == 256 * (ns + 1)
    with open(path, "wb") as out:
        out.write(head)
        for r in range(nrec):
            for s in sigs:
                out.write(s["data"][r].astype("<i2").tobytes())


# ---------------------------------------------- Kaiser design (pipeline/fir.c)

def kaiser_beta(a):
    if a > 50:
        return 0.1102 * (a - 8.7)
    if a >= 21:
        return 0.5842 * (a - 21) ** 0.4 + 0.07886 * (a - 21)
    return 0.0


def design(kind, f1, rate, f2=0.0, transition=0.0, atten=0.0, harmonics=0):
    """The taps psg-filter should use (fir.c's method, independently
    written): Kaiser window, unit-DC windowed-sinc components."""
    nyq = rate / 2
    a = atten or 60.0
    # Each edge its own transition (MNE's "auto" rule); the narrower one
    # sets the length.  Notches: 1 Hz.
    lo = min(max(0.25 * f1, 2), f1)
    hi_edge = f1 if kind == "lp" else f2
    hi = min(max(0.25 * hi_edge, 2), nyq - hi_edge)
    if kind == "notch":
        lo = hi = 1.0
    if transition:
        lo = hi = transition
    tr = {"lp": hi, "hp": lo}.get(kind, min(lo, hi))
    edges = 2 * max(harmonics, 1) if kind == "notch" else 2
    a += 20 * math.log10(edges / 2)
    if kind == "notch":   # two edges' ripples add in a 1-Hz stop band
        a += 6
    n = int(math.ceil((a - 7.95) / (2.285 * 2 * math.pi * tr / rate)) + 1)
    n = max(n | 1, 3)
    d = (n - 1) / 2
    r = (np.arange(n) - d) / d
    w = np.i0(kaiser_beta(a) * np.sqrt(np.maximum(0, 1 - r * r))) / \
        np.i0(kaiser_beta(a))
    x = np.arange(n) - d
    h = np.zeros(n)

    def lowpass(fc, sign):
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.where(x == 0, 2 * fc,
                         np.sin(2 * np.pi * fc * x) / (np.pi * x)) * w
        h[:] += sign * t / t.sum()

    c1, c2, half = f1 / rate, f2 / rate, hi / 2 / rate
    hl = lo / 2 / rate
    mid = n // 2
    if kind == "lp":
        lowpass(c1 + half, 1)
    elif kind == "hp":
        h[mid] += 1
        lowpass(c1 - hl, -1)
    elif kind == "bp":
        lowpass(c2 + half, 1)
        lowpass(c1 - hl, -1)
    elif kind == "notch":
        h[mid] += 1
        m = 1
        while m <= max(harmonics, 1) and (m * f1 + 0.5) / rate + half < 0.5:
            lowpass((m * f1 + 0.5) / rate + half, -1)
            lowpass((m * f1 - 0.5) / rate - half, 1)
            m += 1
    return h


def held_edge_filter(x, h):
    """Zero-phase FIR with the input held at its first/last value beyond
    its ends (what psg-filter documents): len(out) == len(x)."""
    d = (len(h) - 1) // 2
    return np.convolve(np.pad(np.asarray(x, float), d, mode="edge"), h,
                       "valid")


def gain_at(h, f, rate):
    k = np.arange(len(h))
    return abs(np.sum(h * np.exp(-2j * np.pi * f / rate * k)))


# ------------------------------------------------------------ measurements

def fit(x, f, rate):
    """Amplitude and phase (rad) of the f-Hz component (least squares)."""
    t = np.arange(len(x)) / rate
    if f == 0:
        return float(np.mean(x)), 0.0
    m = np.column_stack([np.cos(2 * np.pi * f * t), np.sin(2 * np.pi * f * t),
                         np.ones_like(t)])
    (a, b, _), *_ = np.linalg.lstsq(m, x, rcond=None)
    return math.hypot(a, b), math.atan2(-b, a)


def rms(x):
    return float(np.sqrt(np.mean(np.square(x))))


def welch_cross(x, y, n):
    """Welch estimates (Hann, 50 % overlap, mean removed): Pxx, Pyy, Pxy
    and the frequencies in cycles per sample."""
    win = np.hanning(n + 1)[:n]
    pxx = pyy = pxy = 0
    segs = 0
    for s in range(0, len(x) - n + 1, n // 2):
        a = x[s:s + n] - np.mean(x[s:s + n])
        b = y[s:s + n] - np.mean(y[s:s + n])
        X, Y = np.fft.rfft(a * win), np.fft.rfft(b * win)
        pxx = pxx + np.abs(X) ** 2
        pyy = pyy + np.abs(Y) ** 2
        pxy = pxy + np.conj(X) * Y
        segs += 1
    return pxx, pyy, pxy, np.fft.rfftfreq(n), segs


def h5_signals(path):
    import h5py
    with h5py.File(path, "r") as f:
        ch = f["/channels"][:]
        labels = [v.decode() if isinstance(v, bytes) else v
                  for v in ch["label"]]
        sig = {}
        if "signals" in f:
            for name in f["/signals"]:
                ds = f["/signals"][name]
                lab = ds.attrs.get("label", name)
                if isinstance(lab, bytes):
                    lab = lab.decode()
                sig[lab] = ds[:]
        segs = f["/segments"][:]
        pref = [v.decode() if isinstance(v, bytes) else v
                for v in ch["prefilter"]]
        return dict(labels=labels, n=dict(zip(labels, ch["n_samples"])),
                    signals=sig, segments=segs, prefilter=pref)


def dump_runs(path):
    """psg-dump --no-samples data lines -> per channel, the continuous runs
    [(t0, first offset, samples)], blocks merged where they continue."""
    runs = {}
    pat = re.compile(r"^data (\d+) t0=(\S+) offset=(\d+) n=(\d+)")
    for line in open(path):
        m = pat.match(line)
        if not m:
            continue
        ch, t0, off, n = int(m[1]), m[2], int(m[3]), int(m[4])
        if n == 0:
            continue
        r = runs.setdefault(ch, [])
        if r and r[-1][0] == t0 and r[-1][1] + r[-1][2] == off:
            r[-1][2] += n
        else:
            r.append([t0, off, n])
    return runs


# --------------------------------------------------- (a) measured responses

# name: rate, seconds, psg-filter options, design, pass-band sines (Hz, 0 =
# DC), stop-band sines, noise pass band(s), noise stop band(s), burst
# band, Welch length
CONFIGS = {
    "lp": dict(rate=256, secs=120, opts="--lowpass 35", design=("lp", 35),
               passf=[0, 1, 10, 20, 30, 35], stopf=[44, 50, 60, 100, 127],
               npass=[(0, 35)], nstop=[(43.75, 128)], burst=(2, 30),
               nfft=4096),
    "hp": dict(rate=100, secs=600, opts="--highpass 0.3",
               design=("hp", 0.3), passf=[0.3, 0.5, 1, 10, 30, 49],
               stopf=[0], npass=[(0.3, 50)], nstop=[], burst=(1, 40),
               nfft=16384),
    "bp": dict(rate=100, secs=600, opts="--band 0.5-2",
               design=("bp", 0.5, 2), passf=[0.5, 1, 1.5, 2],
               # upper transition 2 Hz (MNE's rule): stop band from 4 Hz
               stopf=[0, 4, 5, 10, 25, 45], npass=[(0.5, 2)],
               nstop=[(4, 50)], burst=(0.7, 1.8), nfft=16384),
    "notch": dict(rate=500, secs=300, opts="--notch 50",
                  design=("notch", 50), passf=[0, 1, 10, 45, 48.5, 51.5,
                                               55, 100, 200, 249],
                  stopf=[49.5, 49.8, 50, 50.2, 50.5],
                  npass=[(0, 48.5), (51.5, 250)], nstop=[(49.5, 50.5)],
                  burst=(5, 45), nfft=32768),
}


def config_taps(c):
    d = c["design"]
    if d[0] == "bp":
        return design("bp", d[1], c["rate"], f2=d[2])
    return design(d[0], d[1], c["rate"])


def label(kind, f):
    return "%s %g" % (kind, f) if kind in ("pass", "stop") else kind


def gen_response(outdir):
    for seed, (name, c) in enumerate(sorted(CONFIGS.items())):
        rng = np.random.default_rng(1000 + seed)
        rate, n = c["rate"], c["rate"] * c["secs"]
        t = np.arange(n) / rate
        chans = []
        for kind, fs in (("pass", c["passf"]), ("stop", c["stopf"])):
            for f in fs:
                if f == 0:
                    x = np.full(n, 50.0)
                else:
                    x = 100 * np.sin(2 * np.pi * f * t + rng.uniform(0, 6.28))
                chans.append(dict(label=label(kind, f), rate=rate, x=x,
                                  pmin=-200, pmax=200))
        # A burst: random-phase noise limited to a band inside the pass
        # band, under a Gaussian envelope narrow in frequency.
        lo, hi = c["burst"]
        spec = np.fft.rfft(rng.standard_normal(n))
        fr = np.fft.rfftfreq(n, 1 / rate)
        spec[(fr < lo) | (fr > hi)] = 0
        b = np.fft.irfft(spec, n)
        sigma = max(4.0 / (hi - lo), 2.0)
        b *= np.exp(-0.5 * ((t - t[n // 2]) / sigma) ** 2)
        b *= 100 / np.max(np.abs(b))
        chans.append(dict(label="burst", rate=rate, x=b, pmin=-200,
                          pmax=200))
        chans.append(dict(label="noise", rate=rate,
                          x=30 * rng.standard_normal(n), pmin=-300,
                          pmax=300))
        write_edf(os.path.join(outdir, name + ".edf"), chans)


def response(name, d):
    c = CONFIGS[name]
    rate = c["rate"]
    src = edfpy.read(os.path.join(d, name + ".edf"))
    out = h5_signals(os.path.join(d, name + ".h5"))
    h = config_taps(c)
    nt = len(h)
    lo, hi = nt, len(src["signals"]["burst"]) - nt   # the interior
    what = "%s (%s @%g Hz, %d taps)" % (name, c["opts"], rate, nt)
    note("%s: interior = samples %d..%d" % (what, lo, hi))
    x = {lab: src["signals"][lab] for lab in src["labels"]}
    y = {lab: out["signals"].get(lab) for lab in src["labels"]}
    y = {lab: None if v is None else v.astype(float) for lab, v in y.items()}
    missing = [lab for lab in x if y[lab] is None]
    report(not missing, "%s: every channel comes out (%d, missing %s)"
           % (what, len(x), missing or "none"))
    if missing:
        return
    # Lengths: exactly as many samples as went in, channel by channel.
    bad = [(lab, len(x[lab]), int(out["n"][lab]), len(y[lab]))
           for lab in x if not len(x[lab]) == out["n"][lab] == len(y[lab])]
    report(not bad, "%s: samples out == in for all %d channels (%d each)%s"
           % (what, len(x), len(x["burst"]), " BAD %s" % bad if bad else ""))
    # Times: the data blocks' segment starts and offsets.
    rin = dump_runs(os.path.join(d, name + ".in.dump"))
    rout = dump_runs(os.path.join(d, name + ".out.dump"))
    report(rin == rout and len(rin) == len(x),
           "%s: psg-dump runs (t0, first offset, samples) equal in and out "
           "for %d channels, e.g. %s" % (what, len(rin), rout.get(0)))
    # Pass band: amplitude within 0.2 % and phase (zero lag).
    worst_g, worst_p = 0.0, 0.0
    for f in c["passf"]:
        lab = label("pass", f)
        ai, pi_ = fit(x[lab][lo:hi], f, rate)
        ao, po = fit(y[lab][lo:hi], f, rate)
        g = ao / ai
        dp = (po - pi_ + math.pi) % (2 * math.pi) - math.pi
        worst_g = max(worst_g, abs(g - 1))
        worst_p = max(worst_p, abs(dp))
        report(abs(g - 1) <= 2e-3 and abs(dp) < 1e-3,
               "%s: pass %g Hz gain %.6f (|1-g| %.2e <= 2e-3), phase %.1e "
               "rad" % (what, f, g, abs(g - 1), dp))
    # Stop band: output RMS over the interior, relative to the input's.
    for f in c["stopf"]:
        lab = label("stop", f)
        att = db(rms(y[lab][lo:hi]) / rms(x[lab][lo:hi]))
        report(att <= -59, "%s: stop %g Hz attenuated %.1f dB (<= -59 dB)"
               % (what, f, att))
    # White noise: Welch cross-spectral gain |Pxy|/Pxx, and the output
    # spectrum itself (Pyy / Pxx).
    n = c["nfft"]
    pxx, pyy, pxy, fr, segs = welch_cross(x["noise"][lo:hi],
                                          y["noise"][lo:hi], n)
    fr = fr * rate
    df = rate / n
    g_h1 = np.abs(pxy) / pxx
    g_out = np.sqrt(pyy / pxx)
    for a, b in c["npass"]:
        sel = (fr >= a + 3 * df) & (fr <= b - 3 * df)
        dev = np.max(np.abs(20 * np.log10(g_h1[sel])))
        dev2 = np.max(np.abs(20 * np.log10(g_out[sel])))
        report(dev <= 0.1 and dev2 <= 0.1,
               "%s: white noise, pass band %g-%g Hz flat: max |gain| "
               "%.4f dB (cross-spectrum), %.4f dB (output/input PSD) "
               "<= 0.1 dB over %d bins (Welch %d x %d)"
               % (what, a, b, dev, dev2, sel.sum(), segs, n))
    for a, b in c["nstop"]:
        sel = (fr >= a + 3 * df) & (fr <= b - 3 * df)
        worst = np.max(20 * np.log10(g_h1[sel]))
        worst2 = np.max(20 * np.log10(g_out[sel]))
        report(worst <= -55 and worst2 <= -55,
               "%s: white noise, stop band %g-%g Hz: max gain %.1f dB "
               "(cross-spectrum), %.1f dB (output/input PSD) <= -55 dB over "
               "%d bins" % (what, a, b, worst, worst2, sel.sum()))
    # Zero lag: the burst's cross-correlation peaks at lag 0.
    xb, yb = x["burst"], y["burst"]
    L = 50
    seg = slice(lo + L, hi - L)
    cc = [float(np.dot(xb[seg], yb[lo + L + k:hi - L + k]))
          for k in range(-L, L + 1)]
    lag = int(np.argmax(cc)) - L
    r = cc[L] / math.sqrt(np.dot(xb[seg], xb[seg]) * np.dot(yb[seg], yb[seg]))
    report(lag == 0 and r > 0.999,
           "%s: burst %g-%g Hz: cross-correlation peak at lag %d of "
           "+-%d, correlation %.6f" % ((what,) + c["burst"] + (lag, L, r)))
    # The whole output, edges included, equals the held-edge zero-phase
    # convolution with the re-derived taps.
    err, scale = 0.0, 0.0
    for lab in x:
        ref = held_edge_filter(x[lab], h)
        err = max(err, float(np.max(np.abs(y[lab] - ref))))
        scale = max(scale, float(np.max(np.abs(ref))))
    report(err <= 1e-5 * scale + 1e-4,
           "%s: whole output (edges too) == held-edge convolution with the "
           "Kaiser taps re-derived in numpy: max error %.2e uV (peak %.0f)"
           % (what, err, scale))


# ------------------------------------------------------------ (b) EDF+D

def segments_of(src):
    """Record indices grouped into continuous runs (EDF+D onsets)."""
    on = src["record_onsets"]
    groups = [[0]]
    for i in range(1, len(on)):
        if abs(on[i] - (on[i - 1] + src["recdur"])) < 1e-9:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


EDFD_CHANNELS = ("squarewave", "noise")   # psg-filter -c 0,noise


def gen_edfd(path, d):
    src = edfpy.read(path)
    assert src["labels"][0] == EDFD_CHANNELS[0]
    raw = open(path, "rb").read()
    ns = int(raw[252:256])
    sh = raw[256:256 * (ns + 1)]
    chans = []
    for lab in EDFD_CHANNELS:
        i = src["labels"].index(lab)
        pmin = float(sh[ns * 104 + 8 * i:ns * 104 + 8 * i + 8])
        pmax = float(sh[ns * 112 + 8 * i:ns * 112 + 8 * i + 8])
        chans.append((lab, src["spr"][lab], pmin, pmax))
    assert abs(src["recdur"] - 1) < 1e-9
    for k, g in enumerate(segments_of(src)):
        write_edf(os.path.join(d, "seg%d.edf" % k), [
            dict(label=lab, rate=spr, pmin=pmin, pmax=pmax,
                 x=np.concatenate([src["signals"][lab][i * spr:(i + 1) * spr]
                                   for i in g]))
            for lab, spr, pmin, pmax in chans])
    print(len(segments_of(src)))


def edfd(path, d):
    src = edfpy.read(path)
    groups = segments_of(src)
    info = json.load(open(os.path.join(d, "edfd.json")))
    nseg = len(info["segments"])
    per = [c["segments"] for c in info["channels"]]
    report(nseg == len(groups) == 6 and all(p == 6 for p in per)
           and info["file_type"] == "EDF+D",
           "EDF+D through psg-filter -c 0,noise --lowpass 20: psg-info --json "
           "shows %s, %d segments (%d in the file), per channel %s"
           % (info["file_type"], nseg, len(groups), sorted(set(per))))
    out = h5_signals(os.path.join(d, "edfd.h5"))
    for ci, lab in enumerate(EDFD_CHANNELS):
        ch = src["labels"].index(lab)
        y = out["signals"][lab]
        segs = out["segments"]
        segs = np.sort(segs[segs["channel"] == ch], order="onset_s")
        spr = src["spr"][lab]
        want = [len(g) * spr for g in groups]
        report(list(segs["n_samples"]) == want and
               [float(o) for o in segs["onset_s"]] ==
               [src["record_onsets"][g[0]] for g in groups],
               "EDF+D: filtered channel '%s' keeps its segments: samples %s, "
               "onsets %s s" % (lab, list(segs["n_samples"]),
                                [round(float(o), 3) for o in segs["onset_s"]]))
        h = design("lp", 20, spr)
        x = src["signals"][lab]
        cont = held_edge_filter(x, h)   # filtering across the gaps
        for k, s in enumerate(segs):
            a, n = int(s["first_sample"]), int(s["n_samples"])
            got = y[a:a + n].astype(float)
            alone = h5_signals(os.path.join(d, "seg%d.h5" % k))["signals"][lab]
            ref = held_edge_filter(x[a:a + n], h)
            e_alone = float(np.max(np.abs(got - alone))) \
                if len(alone) == n else float("inf")
            e_ref = float(np.max(np.abs(got - ref)))
            e_cont = float(np.max(np.abs(cont[a:a + n] - ref)))
            report(e_alone <= 1e-3 and e_ref <= 1e-3,
                   "EDF+D '%s' segment %d (%d samples at %.0f s): output == "
                   "the segment filtered alone by psg-filter (max diff %.2g "
                   "uV) and by numpy (%.2g uV); filtering across the gaps "
                   "would differ by %.3g uV" % (lab, k, n, float(s["onset_s"]),
                                                e_alone, e_ref, e_cont))
    others = [l for l in src["labels"] if l not in EDFD_CHANNELS]
    diff = max(float(np.max(np.abs(out["signals"][l] - src["signals"][l])))
               for l in others)
    report(diff <= 1e-3, "EDF+D: the %d unfiltered channels pass "
           "unchanged (max diff %.2g uV vs the file)" % (len(others), diff))


# ---------------------------------------------- (c) --as, prefilter, cascade

CASCADE_F = [0.15, 0.3, 1, 10, 30, 38, 41, 50]
CASCADE_RATE = 256


def gen_as(d):
    rng = np.random.default_rng(7)
    rate, n = 256, 256 * 60
    t = np.arange(n) / rate
    a = 40 * np.sin(2 * np.pi * 10 * t) + 20 * rng.standard_normal(n)
    b = 30 * np.sin(2 * np.pi * 60 * t) + 10 * rng.standard_normal(n) + 25
    write_edf(os.path.join(d, "as.edf"),
              [dict(label="EEG A", rate=rate, x=a, pmin=-300, pmax=300),
               dict(label="EEG B", rate=rate, x=b, pmin=-300, pmax=300),
               dict(label="EMG", rate=rate, x=b, pmin=-300, pmax=300)])
    rate = CASCADE_RATE
    n = rate * 300
    t = np.arange(n) / rate
    write_edf(os.path.join(d, "casc.edf"),
              [dict(label="f %g" % f, rate=rate, pmin=-200, pmax=200,
                    x=100 * np.sin(2 * np.pi * f * t + rng.uniform(0, 6)))
               for f in CASCADE_F])


def as_checks(d):
    src = h5_signals(os.path.join(d, "as.in.h5"))
    rep = h5_signals(os.path.join(d, "as.rep.h5"))
    add = h5_signals(os.path.join(d, "as.add.h5"))
    report(add["labels"] == ["EEG A", "EEG B", "EMG", "LP EEG A", "LP EEG B"]
           and rep["labels"] == src["labels"],
           "--as 'LP %%s' adds channels %s; without --as the channels stay "
           "%s" % (add["labels"][3:], rep["labels"]))
    same = all(np.array_equal(add["signals"][l], src["signals"][l])
               for l in src["labels"])
    report(same, "--as: the original channels EEG A, EEG B, EMG are "
           "bit-exact copies of the input (%d samples each)"
           % len(src["signals"]["EEG A"]))
    eq = all(np.array_equal(add["signals"]["LP " + l], rep["signals"][l])
             for l in ("EEG A", "EEG B"))
    changed = min(float(np.max(np.abs(rep["signals"][l] - src["signals"][l])))
                  for l in ("EEG A", "EEG B"))
    emg = np.array_equal(rep["signals"]["EMG"], src["signals"]["EMG"])
    report(eq and changed > 1 and emg,
           "without --as the channel is replaced: LP EEG A/B (with --as) == "
           "EEG A/B (in place) bit-exact, which differ from the input by up "
           "to >= %.1f uV; EMG (not chosen) unchanged: %s" % (changed, emg))
    report(rep["prefilter"] == ["HP:0.3Hz LP:35Hz", "HP:0.3Hz LP:35Hz", ""]
           and add["prefilter"][:3] == ["", "", ""],
           "prefilter in HDF5: in place %s; with --as originals %s"
           % (rep["prefilter"], add["prefilter"]))


def cascade(d):
    rate = CASCADE_RATE
    src = edfpy.read(os.path.join(d, "casc.edf"))
    runs = {k: h5_signals(os.path.join(d, "casc.%s.h5" % k))["signals"]
            for k in ("hp", "lp", "notch", "all")}
    taps = {"hp": design("hp", 0.3, rate), "lp": design("lp", 35, rate),
            "notch": design("notch", 50, rate)}
    nt = sum(len(h) for h in taps.values())
    n = len(src["signals"]["f 1"])
    lo, hi = nt, n - nt
    note("cascade: %d + %d + %d taps; interior %d..%d"
         % (len(taps["hp"]), len(taps["lp"]), len(taps["notch"]), lo, hi))
    for f in CASCADE_F:
        lab = "f %g" % f
        ai, pi_ = fit(src["signals"][lab][lo:hi], f, rate)
        g = {k: fit(runs[k][lab][lo:hi], f, rate)[0] / ai for k in runs}
        ph = fit(runs["all"][lab][lo:hi], f, rate)[1] - pi_
        ph = (ph + math.pi) % (2 * math.pi) - math.pi
        prod = g["hp"] * g["lp"] * g["notch"]
        theory = np.prod([gain_at(h, f, rate) for h in taps.values()])
        if prod > 1e-2:
            ok = abs(g["all"] - prod) <= 1e-3 * prod + 1e-5 and \
                abs(ph) < 2e-3
            cmp = "|diff| %.1e, phase %.1e rad" % (abs(g["all"] - prod), ph)
        else:   # both deep in a stop band: the product is far below -100 dB
            ok = db(g["all"]) <= -100
            cmp = "product %.1f dB; cascade <= -100 dB" % db(prod)
        report(ok, "cascade HP 0.3 + LP 35 + N 50 @%d Hz at %g Hz: gain %.6f "
               "(%.1f dB) vs product of singles %.6f = HP %.6f x LP %.6f x "
               "N %.6f (%s; the designs' product %.6f)"
               % (rate, f, g["all"], db(g["all"]), prod, g["hp"], g["lp"],
                  g["notch"], cmp, theory))


# ------------------------------------------------------------ (e) spectrum

BANDS = [("slow", 0.5, 1), ("delta", 0.5, 4), ("theta", 4, 8),
         ("alpha", 8, 12), ("sigma", 12, 16), ("beta", 16, 30),
         ("muscle", 30, 100)]
SINES = {"sine 1 Hz": (1, "delta"), "sine 8.5 Hz": (8.5, "alpha"),
         "sine 15 Hz": (15, "sigma"), "sine 17 Hz": (17, "beta"),
         "sine 50 Hz": (50, "muscle")}


def col(label, what):
    return re.sub(r"[^A-Za-z0-9]", "_", label) + "_" + what


def epochs(path):
    import h5py
    with h5py.File(path, "r") as f:
        return f["/epochs"][:]


def spectrum_gen(path, h5):
    src = edfpy.read(path)
    e = epochs(h5)
    names = e.dtype.names
    want = [col(l, b[0]) for l in SINES for b in BANDS] + \
        [col(l, b[0] + "_rel") for l in SINES for b in BANDS] + \
        [col(l, "total") for l in SINES] + [col(l, "sef95") for l in SINES]
    miss = [w for w in want if w not in names]
    report(not miss and "sine_1_Hz_delta" in names,
           "psg-spectrum | psg-h5: /epochs has %d columns incl. %s, %s, "
           "%s (missing: %s)" % (len(names), "sine_1_Hz_delta",
                                 "sine_8_5_Hz_alpha_rel", "sine_50_Hz_sef95",
                                 miss or "none"))
    nep = int(round(src["nrec"] * src["recdur"] / 30))
    report(len(e) == nep, "/epochs has %d rows (%d complete 30-s epochs)"
           % (len(e), nep))
    if miss:
        return
    for lab, (f, band) in SINES.items():
        x = src["signals"][lab]
        A = float(np.max(np.abs(x)))
        p = A * A / 2
        bp = e[col(lab, band)]
        rel = e[col(lab, band + "_rel")]
        tot = e[col(lab, "total")]
        sef = e[col(lab, "sef95")]
        err_p = float(np.max(np.abs(bp / p - 1)))
        err_t = float(np.max(np.abs(tot / bp - 1)))
        err_s = float(np.max(np.abs(sef - f)))
        report(err_p <= 0.01 and float(np.min(rel)) > 0.99 and
               err_t <= 0.01 and err_s <= 0.25 + 1e-9,
               "%s (A = max|x| = %.3f uV): over %d epochs %s power %.2f.."
               "%.2f uV^2 vs A^2/2 = %.2f (max err %.2f%% <= 1%%), rel >= "
               "%.6f (> 0.99), total/band - 1 <= %.1e, SEF95 %s Hz (max "
               "|SEF95 - %g| = %.2f <= 0.25)"
               % (lab, A, len(e), band, float(np.min(bp)), float(np.max(bp)),
                  p, 100 * err_p, float(np.min(rel)), err_t,
                  sorted(set(float(v) for v in sef)), f, err_s))


NOISE = [("EEG n256", 256, 20.0), ("EEG n100", 100, 30.0),
         ("EEG n50", 50, 10.0)]
# Records (1 s each) present in the EDF+D: epochs 0-1 whole, 2 with 3 s,
# 3 with three 2-s pieces (6 s, but no 4-s window without a gap), none at
# all in [120, 150)... and 5-6 whole.
NOISE_RECORDS = (list(range(0, 60)) + [63, 64, 65] + [95, 96, 98, 99, 101,
                                                       102] +
                 list(range(150, 210)))
NOISE_VALUES = {0: True, 1: True, 2: False, 3: False, 4: False, 5: True,
                6: True}


def gen_spectrum(d):
    rng = np.random.default_rng(11)
    nrec = len(NOISE_RECORDS)
    chans = [dict(label=l, rate=r, x=s * rng.standard_normal(r * nrec),
                  pmin=-10 * s, pmax=10 * s) for l, r, s in NOISE]
    write_edf(os.path.join(d, "noise.edf"), chans,
              onsets=[float(t) for t in NOISE_RECORDS])


def spectrum_noise(d):
    src = edfpy.read(os.path.join(d, "noise.edf"))
    e = epochs(os.path.join(d, "noise.h5"))
    names = e.dtype.names
    report(len(e) == 7 and [float(o) for o in e["onset"]] ==
           [30.0 * k for k in range(7)],
           "white-noise EDF+D: /epochs has %d rows (want 7 up to 210 s)"
           % len(e))
    on = src["record_onsets"]
    for lab, rate, sigma in NOISE:
        top = min(100, rate / 2)
        nb = sum(1 for b in BANDS if b[1] < rate / 2)
        cols_ok = all(col(lab, b[0]) in names for b in BANDS[:nb]) and \
            (col(lab, "muscle") in names) == (nb == 7)
        report(cols_ok, "%s @%d Hz: columns for %d bands (%s), muscle "
               "column %s" % (lab, rate, nb, BANDS[nb - 1][0],
                              "present" if nb == 7 else "absent"))
        x = src["signals"][lab]
        tot = e[col(lab, "total")]
        nan_ok = all(np.isnan(tot[k]) != v and np.isnan(
            e[col(lab, "delta")][k]) != v for k, v in NOISE_VALUES.items())
        report(nan_ok, "%s: values in epochs %s, NaN in %s (an epoch with "
               "3 s, one with 2-s pieces between gaps, one without data)"
               % (lab, [k for k in range(7) if not np.isnan(tot[k])],
                  [k for k in range(7) if np.isnan(tot[k])]))
        worst, worst_sef = 0.0, 0.0
        for k, v in NOISE_VALUES.items():
            if not v:
                continue
            idx = [i for i, t in enumerate(on) if 30 * k <= t < 30 * k + 30]
            xs = np.concatenate([x[i * rate:(i + 1) * rate] for i in idx])
            var = float(np.var(xs))
            want = var * (top - 0.5) / (rate / 2)
            worst = max(worst, abs(tot[k] / want - 1))
            sef_w = 0.5 + 0.95 * (top - 0.5)
            worst_sef = max(worst_sef, abs(e[col(lab, "sef95")][k] / sef_w
                                           - 1))
        report(worst <= 0.05 and worst_sef <= 0.02,
               "%s (sigma %g uV @%d Hz): total 0.5-%g Hz == var * %.4f "
               "within %.2f%% (<= 5%%) in every epoch with values; SEF95 "
               "within %.2f%% of %.2f Hz" % (lab, sigma, rate, top,
                                             (top - 0.5) / (rate / 2),
                                             100 * worst, 100 * worst_sef,
                                             0.5 + 0.95 * (top - 0.5)))


def main(argv):
    cmd, args = argv[1], argv[2:]
    {"gen-response": gen_response, "response": response,
     "gen-edfd": gen_edfd, "edfd": edfd, "gen-as": gen_as, "as": as_checks,
     "cascade": cascade, "gen-spectrum": gen_spectrum,
     "spectrum-gen": spectrum_gen, "spectrum-noise": spectrum_noise}[cmd](
        *args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
