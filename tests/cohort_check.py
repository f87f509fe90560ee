#!/usr/bin/python3
"""Checks a psg-collect cohort table against the nights it was made from.

    cohort_check.py COHORT.h5 COHORT.csv NIGHT.h5...

Every night is one row (sorted by path), every figure of each night's
/summary is in its column with the same value and unit, the provenance
columns match the night's root attributes and the source file's real
SHA-256, the figures the issue asks for are there with their units, and
pandas reads both the CSV and the HDF5 table to the same numbers.
"""
import hashlib
import math
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from taplib import check, status  # noqa: E402

# The figures of issue 8's /summary list, from the detectors that ran.
REQUIRED = {
    "recording_time": "min", "sleep_onset_latency": "min",
    "total_sleep_time": "min", "sleep_efficiency": "%", "sws_minutes": "min",
    "sws_percent": "%", "sws_latency": "min", "slow_wave_density": "1/min",
    "waso": "min", "awakenings": "", "awakening_index": "1/h",
    "arousal_index": "1/h", "lm_index": "1/h", "plms_index": "1/h",
    "plms_arousal_index": "1/h", "spasm_count": "", "spasm_minutes": "min",
    "twitch_index": "1/h", "rmma_index": "1/h", "atonia_index": "",
}


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == b


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def field(name):
    """psg-collect's column name for a summary name."""
    s = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    return s if s[:1].isalpha() else "x" + s


def main():
    cohort, csv, nights = sys.argv[1], sys.argv[2], sorted(sys.argv[3:])
    with h5py.File(cohort, "r") as f:
        tab = f["cohort"][:]
        attrs = dict(f["cohort"].attrs)
        version = text(f.attrs["cohort_version"])
    names = tab.dtype.names
    check(version == "1.0", "cohort_version is 1.0")
    check(len(tab) == len(nights), "one row per night: %d rows, %d nights"
          % (len(tab), len(nights)))
    check([text(x) for x in tab["file"]] == nights,
          "rows in the order of the nights' paths")
    bad_value = bad_unit = bad_prov = 0
    for i, path in enumerate(nights[:len(tab)]):
        with h5py.File(path, "r") as g:
            for key in g["summary"]:
                d = g["summary"][key]
                col = field(key)
                if col not in names:
                    bad_value += 1
                    continue
                bad_value += not same(float(d[()]), float(tab[col][i]))
                bad_unit += text(d.attrs["unit"]) != text(attrs[col + "_unit"])
            for col in ("source_file", "source_sha256", "psgpipe_version",
                        "start_time"):
                bad_prov += text(g.attrs[col]) != text(tab[col][i])
            src = text(g.attrs["source_file"])
            if os.path.exists(src):
                bad_prov += sha256(src) != text(tab["source_sha256"][i])
    check(bad_value == 0, "every night's every summary figure is in its "
          "column with the same value (%d differ)" % bad_value)
    check(bad_unit == 0, "units match the nights' (%d differ)" % bad_unit)
    check(bad_prov == 0, "file, SHA-256 (recomputed), version and start "
          "match the nights (%d differ)" % bad_prov)
    missing = [k for k, u in REQUIRED.items()
               if k not in names or text(attrs.get(k + "_unit", "?")) != u]
    check(not missing, "the figures a researcher tabulates are there with "
          "their units%s" % (": missing/wrong " + ",".join(missing)
                             if missing else ""))
    try:
        import pandas as pd
    except ImportError:
        print("ok - # SKIP pandas missing")
        return status()
    df = pd.read_csv(csv, float_precision="round_trip")
    h5df = pd.DataFrame(tab)
    check(list(df.columns) == list(names) and len(df) == len(tab),
          "pandas reads the CSV: same columns and rows as the HDF5 table")
    num = [c for c in names if tab.dtype[c].kind == "f"]
    check(np.allclose(df[num].to_numpy(float), h5df[num].to_numpy(float),
                      rtol=0, atol=0, equal_nan=True),
          "CSV and HDF5 hold the same numbers, bit for bit (%d columns)"
          % len(num))
    return status()


if __name__ == "__main__":
    sys.exit(main())
