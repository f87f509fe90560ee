"""EDF -> psg-read -> psg-h5 --signals -> h5py, checked against tests/edfpy.py
(an independent decoder) and hashlib.  Usage: roundtrip.py EDF H5 [HYPNO]"""
import hashlib
import math
import sys

import h5py
import numpy as np

import edfpy
from taplib import check, status



def main():
    edf, h5 = sys.argv[1], sys.argv[2]
    hyp = sys.argv[3] if len(sys.argv) > 3 else None
    ref = edfpy.read(edf)
    name = edf.split("/")[-1]
    with h5py.File(h5, "r") as f:
        a = f.attrs
        check(a["source_sha256"] == hashlib.sha256(open(edf, "rb").read())
              .hexdigest(), f"{name}: source_sha256 is the file's SHA-256")
        dur = ref["nrec"] * ref["recdur"]
        if ref["reserved"].startswith(("EDF+D", "BDF+D")):
            dur = ref["record_onsets"][-1] + ref["recdur"] - \
                ref["record_onsets"][0] % 1
        check(abs(a["duration_s"] - dur) < 1e-6,
              f"{name}: duration_s {a['duration_s']} == {dur}")
        ch = f["channels"][:]
        labels = [x.decode() if isinstance(x, bytes) else x
                  for x in ch["label"]]
        check(labels == ref["labels"], f"{name}: channel labels in order")
        worst = 0.0
        for i, lab in enumerate(labels):
            got = f["signals"][lab if "/" not in lab else
                               lab.replace("/", "_")][:]
            want = ref["signals"][lab]
            ok_len = got.shape == want.shape
            check(ok_len, f"{name}: {lab}: {len(want)} samples")
            if ok_len and len(want):
                # float32 storage: relative precision 6e-8 of the range
                tol = 1e-6 * max(1.0, float(np.max(np.abs(want))))
                err = float(np.max(np.abs(got - want)))
                worst = max(worst, err / tol)
                check(err <= tol, f"{name}: {lab}: max error {err:.3g} "
                      f"<= {tol:.3g}")
            rate = ch["rate_hz"][i]
            check(rate == ref["spr"][lab] / ref["recdur"],
                  f"{name}: {lab}: rate {rate} exact")
        ann = f["events/annotations"][:]
        got = sorted((round(float(r["onset"]), 6),
                      r["label"].decode() if isinstance(r["label"], bytes)
                      else r["label"]) for r in ann)
        sub = ref["record_onsets"][0] % 1 if ref["record_onsets"] else 0
        want = [(round(o - sub, 6), t) for o, d, t in ref["annotations"]]
        if hyp:
            want += [(round(o, 6), t) for o, d, t in
                     edfpy.read(hyp)["annotations"]]
        check(got == sorted(want), f"{name}: {len(want)} annotations with "
              "their onsets and texts")
        durs = {(round(float(r["onset"]), 6), ) for r in ann
                if math.isnan(r["duration"])}
        check(all(d is None for o, d, t in ref["annotations"]
                  if (round(o - sub, 6),) in durs),
              f"{name}: NaN durations only where the file has none")
    return status()


if __name__ == "__main__":
    sys.exit(main())
