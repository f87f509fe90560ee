"""Signal helpers for tests/synth_check.py (numpy only, no scipy): zero-phase
FFT filters, Welch spectra, a zero-crossing slow-wave detector, an EMG
burst detector, and loaders for psg-synth's ground truth.  The recording
itself is always decoded with tests/edfpy.py, which shares no code with
psgpipe."""
import numpy as np

import edfpy


# ---- loading ----

def read_tsv(path):
    """[{column: text}] of a TSV with a header line."""
    with open(path, encoding="utf-8") as f:
        head = f.readline().rstrip("\n").split("\t")
        return [dict(zip(head, line.rstrip("\n").split("\t"))) for line in f
                if line.strip()]


class Night:
    """A generated night: the decoded file (edfpy) and its truth TSVs."""

    def __init__(self, path, prefix=None):
        if prefix is None:
            prefix = path.rsplit(".", 1)[0]
        self.path, self.prefix = path, prefix
        self.edf = edfpy.read(path)
        self.events = read_tsv(prefix + ".events.tsv")
        for e in self.events:
            e["t0"] = float(e["onset"])
            e["t1"] = e["t0"] + float(e["duration"])
            e["amp"] = float(e["amplitude"])
            e["val"] = float(e["value"])
        self.epochs = read_tsv(prefix + ".epochs.tsv")
        self.stages = np.array([e["stage"] for e in self.epochs])
        self.epoch_len = float(self.epochs[0]["duration"]) if self.epochs \
            else 30.0

    def sig(self, label):
        return self.edf["signals"][label]

    def rate(self, label):
        return self.edf["spr"][label] / self.edf["recdur"]

    def kind(self, *kinds):
        return [e for e in self.events if e["kind"] in kinds]

    def epoch_slice(self, i, fs):
        a = int(round(i * self.epoch_len * fs))
        return slice(a, a + int(round(self.epoch_len * fs)))


def edf_header(path):
    """The raw EDF/BDF header fields the tests need, parsed here (edfpy
    does not return the digital range)."""
    with open(path, "rb") as f:
        head = f.read(256)
        ns = int(head[252:256])
        sh = f.read(256 * ns)

    def col(off, w):
        return [sh[off * ns + i * w: off * ns + (i + 1) * w].decode(
            "latin-1").strip() for i in range(ns)]
    return {"first": head[0], "magic": head[1:8], "ns": ns,
            "reserved": head[192:236].decode("latin-1"),
            "nrec": int(head[236:244]), "recdur": float(head[244:252]),
            "labels": col(0, 16),
            "pmin": [float(v) for v in col(104, 8)],
            "pmax": [float(v) for v in col(112, 8)],
            "dmin": [int(v) for v in col(120, 8)],
            "dmax": [int(v) for v in col(128, 8)],
            "spr": [int(v) for v in col(216, 8)]}


# ---- filters and spectra ----

def _ramp(f, a, b):
    """0 below a, 1 above b, raised cosine between."""
    if b <= a:
        return (f >= a).astype(float)
    t = np.clip((f - a) / (b - a), 0, 1)
    return 0.5 - 0.5 * np.cos(np.pi * t)


def bandpass(x, fs, lo, hi, tw):
    """Zero-phase band-pass by FFT: gain 1 in [lo + tw/2, hi - tw/2], 0
    outside [lo - tw/2, hi + tw/2], raised-cosine edges tw Hz wide (the
    gain is real, so no phase shift; the -6 dB points are lo and hi)."""
    x = np.asarray(x, float)
    n = len(x)
    f = np.fft.rfftfreq(n, 1 / fs)
    g = _ramp(f, lo - tw / 2, lo + tw / 2) * (1 - _ramp(f, hi - tw / 2,
                                                         hi + tw / 2))
    return np.fft.irfft(np.fft.rfft(x) * g, n)


def welch(x, fs, seg_s):
    """Mean Hann-windowed periodogram over 50 %-overlapping segments:
    (frequencies, power per bin)."""
    n = int(round(seg_s * fs))
    w = np.hanning(n)
    acc, k = None, 0
    for a in range(0, len(x) - n + 1, n // 2):
        s = x[a:a + n]
        p = np.abs(np.fft.rfft((s - s.mean()) * w)) ** 2
        acc = p if acc is None else acc + p
        k += 1
    return np.fft.rfftfreq(n, 1 / fs), acc / k


def band_power(f, p, lo, hi):
    return float(p[(f >= lo) & (f < hi)].sum())


def moving_average(x, n):
    """Centred moving average over n samples (zero phase)."""
    c = np.cumsum(np.r_[0.0, x])
    half = n // 2
    i = np.arange(len(x))
    a = np.clip(i - half, 0, len(x))
    b = np.clip(i - half + n, 0, len(x))
    return (c[b] - c[a]) / np.maximum(b - a, 1)


# ---- detectors ----

def slow_wave_mask(x, fs, min_p2p=75.0, lo=0.5, hi=2.0, tw=0.2):
    """AASM-style slow waves: x band-passed 0.5-2 Hz (zero phase); a wave
    runs from one negative-going zero crossing to the next, qualifies when
    it lasts 0.5-2 s and its peak-to-peak is >= min_p2p uV.  Returns a
    boolean mask of the samples covered by qualifying waves."""
    y = bandpass(x, fs, lo, hi, tw)
    z = np.nonzero((y[:-1] >= 0) & (y[1:] < 0))[0] + 1
    mask = np.zeros(len(y), bool)
    for a, b in zip(z[:-1], z[1:]):
        d = (b - a) / fs
        if 0.5 <= d <= 2.0 and y[a:b].max() - y[a:b].min() >= min_p2p:
            mask[a:b] = True
    return mask


def merge_intervals(iv, slack=0.0):
    """Union of [a, b) intervals (gaps <= slack joined), sorted."""
    out = []
    for a, b in sorted(iv):
        if out and a <= out[-1][1] + slack:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return out


def emg_bursts(x, fs, rise=8.0, min_dur=0.5, ma=0.25):
    """Leg-movement detector: 10-100 Hz band, rectified, moving average of
    ma s; a burst is where it stays above floor + rise uV for >= min_dur s,
    the floor being the envelope's median over the night.  Returns
    (floor, [(onset_s, end_s)])."""
    env = moving_average(np.abs(bandpass(x, fs, 10, 100, 2.0)),
                         int(round(ma * fs)))
    floor = float(np.median(env))
    on = np.r_[0, (env > floor + rise).astype(np.int8), 0]
    d = np.diff(on)
    a, b = np.nonzero(d == 1)[0], np.nonzero(d == -1)[0]
    keep = (b - a) >= min_dur * fs
    return floor, [(i / fs, j / fs) for i, j in zip(a[keep], b[keep])]


def r_peaks(x, fs, thresh, refractory=0.25):
    """R peaks: local maxima above thresh, the largest within refractory s."""
    c = np.nonzero((x[1:-1] > thresh) & (x[1:-1] >= x[:-2]) &
                   (x[1:-1] > x[2:]))[0] + 1
    out = []
    for i in c:
        if out and i - out[-1] < refractory * fs:
            if x[i] > x[out[-1]]:
                out[-1] = i
        else:
            out.append(i)
    return np.array(out, int)
