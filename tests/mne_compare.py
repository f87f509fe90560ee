"""Compares psg-filter with MNE-Python's default FIR filter.

Not part of `make check`.  It installs nothing; it needs Debian's MNE:

    apt-get install -y python3-mne          # once, as root
    make                                    # build/bin/psg-*
    /usr/bin/python3 tests/mne_compare.py [BIN_DIR [SHARED_DIR]]

BIN_DIR defaults to build/bin and SHARED_DIR to ../shared/data (both from
the repository's root).  Without the DREAMS file only white noise is used.

Signals: the EEG of the DREAMS excerpt 1 ($SHARED/dreams/
excerpt1_eeg_hyp.edf, C3-A1, 100 Hz, 30 min) and white noise (sigma 20 uV,
256 Hz, 8 h), both run through psg-read | psg-filter | psg-h5 and through
mne.filter.filter_data(l_freq, h_freq, fir_design='firwin', phase='zero',
otherwise MNE's defaults: filter_length/transitions 'auto', Hamming window,
pad='reflect_limited').  Pass bands: 0.3-35 Hz and 0.5-2 Hz.  psg-filter
gets the same pass-band edges as a cascade, --highpass L --lowpass H, whose
default transitions are MNE's "auto" ones edge by edge; for 0.5-2 Hz also
--band 0.5-2, which uses the narrower of the two transitions on both sides.

Printed per case: taps of each (psg-filter's from its Kaiser design
re-derived in tests/filter_check.py, confirmed against the impulse response
measured through the stage), the max and RMS difference of the outputs
over the interior (the edges are padded differently: held vs reflected),
relative to the RMS of MNE's output, gains at a few frequencies (psg-filter:
DFT of its measured impulse response; MNE: of create_filter's taps), and
wall-clock times, best of 3 (psg-filter < stream file > /dev/null, the
stream made beforehand by psg-read, and the whole psg-read | psg-filter
pipeline next to psg-read alone; MNE: filter_data on the data in memory).
"""
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import edfpy  # noqa: E402
import filter_check as fc  # noqa: E402

ROOT = os.path.dirname(HERE)
BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                      os.path.join(ROOT, "build", "bin"))
SHARED = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else
                         os.path.join(ROOT, "..", "shared", "data"))

try:
    import mne
except ImportError:
    sys.exit("mne_compare.py: MNE is missing: apt-get install -y python3-mne")
mne.set_log_level("ERROR")


def sh(cmd):
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ["PATH"])
    subprocess.run(cmd, shell=True, check=True, env=env)


def best_time(fn, k=3):
    best = float("inf")
    for _ in range(k):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def psg_run(edf, opts, h5):
    sh("psg-read '%s' | psg-filter -c 0 %s | psg-h5 --signals -z 0 -o '%s'"
       % (edf, opts, h5))
    import h5py
    with h5py.File(h5, "r") as f:
        name = list(f["/signals"])[0]
        return f["/signals"][name][:].astype(float)


def psg_taps(opts, rate):
    """psg-filter's taps from the re-derived design (one cascade)."""
    h = None
    a = opts.split()
    for i in range(0, len(a), 2):
        o, v = a[i], a[i + 1]
        if o == "--band":
            lo, hi = (float(s) for s in v.split("-"))
            t = fc.design("bp", lo, rate, f2=hi)
        else:
            t = fc.design({"--highpass": "hp", "--lowpass": "lp"}[o],
                          float(v), rate)
        h = t if h is None else np.convolve(h, t)
    return h


def impulse_response(opts, rate, n, tmp):
    """psg-filter's impulse response measured through the stage."""
    secs = int(np.ceil(2 * n / rate)) + 20
    x = np.zeros(secs * rate)
    mid = len(x) // 2
    x[mid] = 1000.0
    path = os.path.join(tmp, "imp.edf")
    fc.write_edf(path, [dict(label="imp", rate=rate, x=x, pmin=-1000,
                             pmax=1000)])
    xi = edfpy.read(path)["signals"]["imp"]
    y = psg_run(path, opts, os.path.join(tmp, "imp.h5"))
    base = np.median(y[:rate * 5])   # the response to the constant offset
    h = (y - base) / (xi[mid] - xi[0])
    d = (n - 1) // 2
    return h[mid - d:mid + d + 1]


def gains(h, freqs, rate):
    return [fc.gain_at(h, f, rate) for f in freqs]


def compare(title, edf, x, rate, lo, hi, variants, freqs, tmp):
    print("\n== %s: %d samples at %g Hz, pass band %g-%g Hz" %
          (title, len(x), rate, lo, hi))
    xm = x[np.newaxis, :]
    h_mne = mne.filter.create_filter(xm, rate, lo, hi, fir_design="firwin",
                                     phase="zero")
    y_mne = mne.filter.filter_data(xm, rate, lo, hi, fir_design="firwin",
                                   phase="zero")[0]
    t_mne = best_time(lambda: mne.filter.filter_data(
        xm, rate, lo, hi, fir_design="firwin", phase="zero"))
    stream = os.path.join(tmp, "in.stream")
    sh("psg-read '%s' >'%s'" % (edf, stream))
    t_read = best_time(lambda: sh("psg-read '%s' >/dev/null" % edf))
    print("MNE filter_data (firwin, Hamming, zero phase): %d taps, %.3f s"
          % (len(h_mne), t_mne))
    rows = [("MNE", gains(h_mne, freqs, rate))]
    for opts in variants:
        h = psg_taps(opts, rate)
        y = psg_run(edf, opts, os.path.join(tmp, "out.h5"))
        imp = impulse_response(opts, rate, len(h), tmp)
        t_psg = best_time(lambda: sh("psg-filter -c 0 %s <'%s' >/dev/null"
                                     % (opts, stream)))
        t_pipe = best_time(lambda: sh("psg-read '%s' | psg-filter -c 0 %s "
                                      ">/dev/null" % (edf, opts)))
        m = max(len(h), len(h_mne))
        sl = slice(m, len(x) - m)
        d = y[sl] - y_mne[sl]
        ref = np.sqrt(np.mean(y_mne[sl] ** 2))
        print("psg-filter %s: %d taps (impulse response through the stage "
              "vs design: max diff %.1e of the peak tap)"
              % (opts, len(h), np.max(np.abs(imp - h)) / np.max(np.abs(h))))
        print("  output vs MNE over the interior (%d samples): max |diff| "
              "%.4g uV = %.3g %% of MNE's output RMS (%.4g uV), RMS diff "
              "%.4g uV = %.3g %%" % (len(d), np.max(np.abs(d)),
                                     100 * np.max(np.abs(d)) / ref, ref,
                                     np.sqrt(np.mean(d ** 2)),
                                     100 * np.sqrt(np.mean(d ** 2)) / ref))
        print("  time: psg-filter on a stream file %.3f s (MNE filter_data "
              "%.3f s); psg-read | psg-filter %.3f s, psg-read alone %.3f s"
              % (t_psg, t_mne, t_pipe, t_read))
        rows.append(("psg " + opts, gains(imp, freqs, rate)))
    print("  gains (dB):")
    print("    %-34s" % "Hz" + "".join("%9g" % f for f in freqs))
    for name, g in rows:
        print("    %-34s" % name + "".join("%9.3f" % fc.db(v) for v in g))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        print("MNE %s, numpy %s; psg-filter from %s" %
              (mne.__version__, np.__version__, BIN))
        cases = []
        dreams = os.path.join(SHARED, "dreams", "excerpt1_eeg_hyp.edf")
        if os.path.exists(dreams):
            src = edfpy.read(dreams)
            lab = src["labels"][0]
            cases.append(("DREAMS excerpt1 %s" % lab, dreams,
                          src["signals"][lab], 100))
        else:
            print("(%s absent: white noise only)" % dreams)
        rng = np.random.default_rng(5)
        rate = 256
        noise = 20 * rng.standard_normal(rate * 8 * 3600)
        path = os.path.join(tmp, "noise.edf")
        fc.write_edf(path, [dict(label="noise", rate=rate, x=noise,
                                 pmin=-200, pmax=200)])
        cases.append(("white noise", path,
                      edfpy.read(path)["signals"]["noise"], rate))
        for title, edf, x, r in cases:
            compare(title, edf, x, r, 0.3, 35,
                    ["--highpass 0.3 --lowpass 35"],
                    [0.05, 0.15, 0.3, 0.5, 1, 10, 35, 39.4, 43.75, 45],
                    tmp)
            compare(title, edf, x, r, 0.5, 2,
                    ["--highpass 0.5 --lowpass 2", "--band 0.5-2"],
                    [0.1, 0.25, 0.5, 1, 2, 2.25, 2.5, 3, 4, 5], tmp)


if __name__ == "__main__":
    main()
