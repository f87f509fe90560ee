"""Checks a recording written by `test_edfwrite --write` (psgpipe's EDF+/BDF+
writer) with tests/edfpy.py, which shares no code with psgpipe: the header
bytes, labels, units, rates, every sample against the same formulas
recomputed here, the record onsets and the annotations.
Usage: edfwrite_check.py FILE SECONDS [--bdf]; prints TAP lines."""
import sys

import numpy as np

import edfpy
from taplib import check, status

TWO_PI = 6.283185307179586
SUB = 0.3945312           # the header's sub-second start


def expected(c, k):
    """test_edfwrite.c's demo_value(), as float32 like the samples fed."""
    k = np.asarray(k, dtype=np.int64)
    if c == 0:
        v = 600 * np.sin((TWO_PI * 1.3) * (k / 256.0))
    elif c == 1:
        v = 80 * np.sin((TWO_PI * 7) * (k / 100.0)) + (k % 7)
    elif c == 2:
        v = 95 + 3 * np.sin(TWO_PI * (k / 1.0) / 60)
    else:
        v = 36.6 + 0.01 * (k % 50)
    return v.astype(np.float32)


def field(raw, off, width):
    return raw[off:off + width].decode("ascii")


def main():
    path, seconds = sys.argv[1], int(sys.argv[2])
    bdf = "--bdf" in sys.argv[3:]
    kind = "BDF" if bdf else "EDF"
    raw = open(path, "rb").read()
    check(raw[:8] == (b"\xffBIOSEMI" if bdf else b"0       "),
          f"{kind}: version field")
    check(field(raw, 8, 80).rstrip() ==
          "MCH-0234567 F 02-MAY-1951 Haagse_Harry Nee O",
          f"{kind}: patient field '{field(raw, 8, 80).rstrip()}'")
    check(field(raw, 88, 80).rstrip() ==
          "Startdate 04-MAR-2021 PSG-7 J._Doe Nox_A1 Hopital",
          f"{kind}: recording field '{field(raw, 88, 80).rstrip()}'")
    check(field(raw, 168, 16) == "04.03.2122.05.06", f"{kind}: start")
    check(field(raw, 184, 8) == "1536    " and
          field(raw, 192, 44).rstrip() == kind + "+C" and
          field(raw, 236, 8).rstrip() == str(seconds) and
          field(raw, 244, 8) == "1       " and field(raw, 252, 4) == "5   ",
          f"{kind}: header size, {kind}+C, {seconds} records of 1 s, "
          "5 signals")
    check(all(32 <= b <= 126 for b in raw[:1536] if not (bdf and b == 0xFF)),
          f"{kind}: the header is printable ASCII")

    e = edfpy.read(path)
    check(e["labels"] == ["EEG C4-M1", "Leg L", "SpO2", "Temperature"],
          f"{kind}: labels {e['labels']}")
    check([e["spr"][label] for label in e["labels"]] == [256, 100, 1, 1],
          f"{kind}: samples per record")
    ns = 5
    sh = raw[256:256 * (ns + 1)]
    units = [sh[ns * 96 + 8 * i: ns * 96 + 8 * i + 8].decode().strip()
             for i in range(ns)]
    check(units == ["uV", "uV", "%", "degC", ""], f"{kind}: units {units}")
    lo = np.array([-500, -100, 0, 30], float)
    hi = np.array([500, 100, 100, 40], float)
    steps = (1 << 24) - 1 if bdf else (1 << 16) - 1
    for c, label in enumerate(e["labels"]):
        got = e["signals"][label]
        want = expected(c, np.arange(len(got)))
        clamped = np.clip(want.astype(float), lo[c], hi[c])
        half = (hi[c] - lo[c]) / steps / 2
        # the float32 input may differ by one ulp from this recomputation
        tol = half * (1 + 1e-6) + np.spacing(np.abs(want)).astype(float)
        err = np.abs(got - clamped)
        check(len(got) == seconds * e["spr"][label] and np.all(err <= tol),
              f"{kind}: {label}: {len(got)} samples within half a step "
              f"(worst {np.max(err / tol):.3f} of the tolerance)")
        if c == 0:
            ends = (want < lo[c]) | (want > hi[c])
            check(ends.any() and np.all(np.isin(got[ends], [lo[c], hi[c]])),
                  f"{kind}: {label}: values beyond the range at its ends")
    onsets = np.array(e["record_onsets"])
    check(len(onsets) == seconds and
          np.allclose(onsets, SUB + np.arange(seconds), atol=1e-9, rtol=0),
          f"{kind}: record onsets {SUB} + n s")
    want = []
    for r in range(0, seconds, 10):
        if r % 20:
            want.append((SUB + r + 0.1234567, None, "Event %d" % (r // 10)))
        else:
            want.append((SUB + r + 0.1234567, 2.5,
                         "Ereignis %d \u2013 \u00dc" % (r // 10)))
    got = e["annotations"]
    same = len(got) == len(want) and all(
        abs(g[0] - w[0]) < 1e-9 and g[1] == w[1] and g[2] == w[2]
        for g, w in zip(got, want))
    check(same, f"{kind}: {len(got)} annotations, UTF-8 text, in order")
    return status()


if __name__ == "__main__":
    sys.exit(main())
