"""A small independent EDF/EDF+/BDF decoder in Python (numpy), used by the
tests to check psgpipe's readers against something that shares no code
with them.  Physical values, record onsets (EDF+D) and TAL annotations."""
import numpy as np

TICKS = 10_000_000


def _num(b):
    return float(b.decode("latin-1").strip())


def read(path):
    raw = open(path, "rb").read()
    bdf = raw[0] == 0xFF
    ns = int(_num(raw[252:256]))
    nrec = int(_num(raw[236:244]))
    recdur = _num(raw[244:252])
    reserved = raw[192:236].decode("latin-1")
    plus = reserved.startswith(("EDF+", "BDF+"))
    sh = raw[256:256 + 256 * ns]

    def field(k, width, offset):
        base = offset * ns
        return [sh[base + i * width: base + (i + 1) * width] for i in range(ns)]

    widths = [16, 80, 8, 8, 8, 8, 8, 80, 8, 32]
    offs = np.cumsum([0] + widths[:-1])
    cols = [field(k, w, o) for k, (w, o) in enumerate(zip(widths, offs))]
    labels = [c.decode("utf-8", "replace").strip() for c in cols[0]]
    units = [c.decode("utf-8", "replace").strip() for c in cols[2]]
    pmin, pmax, dmin, dmax = ([_num(c) for c in cols[k]] for k in (3, 4, 5, 6))
    spr = [int(_num(c)) for c in cols[8]]
    w = 3 if bdf else 2
    recbytes = sum(spr) * w
    body = np.frombuffer(raw, np.uint8, count=nrec * recbytes,
                         offset=256 * (ns + 1)).reshape(nrec, recbytes)
    annot = [plus and l in ("EDF Annotations", "BDF Annotations")
             for l in labels]
    sig, anns, onsets = {}, [], []
    start = 0
    for i in range(ns):
        part = body[:, start:start + spr[i] * w]
        start += spr[i] * w
        if annot[i]:
            for r in range(nrec):
                tals = _tals(part[r].tobytes())
                if i == annot.index(True) and tals:
                    onsets.append(tals[0][0])
                    tals = tals[1:] if not tals[0][2] else tals
                anns += [t for t in tals if t[2]]
            continue
        if bdf:
            b = part.reshape(-1, 3).astype(np.int32)
            d = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
            d = np.where(d >= 1 << 23, d - (1 << 24), d)
        else:
            d = part.reshape(-1).view("<i2").astype(np.int64)
        d = np.clip(d, dmin[i], dmax[i])   # as edflib and psgpipe do
        gain = (pmax[i] - pmin[i]) / (dmax[i] - dmin[i])
        scale = {"uV": 1, "mV": 1e3, "V": 1e6, "UV": 1, "MV": 1e3}.get(
            units[i], 1)
        sig[labels[i]] = ((d - dmin[i]) * gain + pmin[i]) * scale
    return {"labels": [l for l, a in zip(labels, annot) if not a],
            "signals": sig, "annotations": anns, "record_onsets": onsets,
            "spr": dict(zip(labels, spr)), "recdur": recdur, "nrec": nrec,
            "plus": plus, "reserved": reserved}


def _tals(b):
    """[(onset_s, duration_s or None, text)] of one annotation signal; the
    record's time-keeping TAL has empty text."""
    out = []
    for tal in b.split(b"\x00"):
        if not tal:
            continue
        parts = tal.split(b"\x14")
        head = parts[0].split(b"\x15")
        onset = float(head[0])
        dur = float(head[1]) if len(head) > 1 and head[1] else None
        texts = [p.decode("utf-8") for p in parts[1:] if p]
        if not texts:
            out.append((onset, dur, ""))
        out += [(onset, dur, t) for t in texts]
    return out
