#!/usr/bin/env python3
"""mkregress.py -- writes the small hand-made regression inputs of
tests/fuzz/regress/ (issue 16): one valid stream, EDF+ file and hypnogram,
and copies of them broken in one way each, for every defect that fuzzing
found (../shared/bad-inputs/README.reproducers), in a few hundred bytes
instead of a megabyte.  Run once; the files are committed.  Findings of
the libFuzzer harnesses are added beside them as they are (crash-*,
timeout-*, named by what they hit).

    python3 tests/fuzz/mkregress.py tests/fuzz/regress
"""
import os
import struct
import sys

MAGIC = b"\x89PSG\r\n\x1a\n"
TICKS = 10_000_000


def s(x):
    b = x.encode()
    return struct.pack("<I", len(b)) + b


def rec(tag, payload):
    return tag + struct.pack("<I", len(payload)) + payload


def header(year=2020, duration=4 * TICKS, epoch=TICKS, origin=0,
           pmin=-100.0, spr=8, period=TICKS):
    h = s("psgpipe 0.1.0") + s("EDF+C") + s("x.edf")
    h += struct.pack("<6I", year, 3, 4, 22, 0, 0) + struct.pack("<q", 0)
    h += b"".join(s("") for _ in range(11))
    h += struct.pack("<qqq", duration, epoch, origin)
    h += struct.pack("<I", 0)                      # history
    h += struct.pack("<I", 2)                      # channels
    for label in ("C4-M1", "E1-M2"):
        h += s(label) + s("EEG") + s("uV") + s("") + s("")
        h += struct.pack("<ddiiqq", pmin, 100.0, -32768, 32767, spr,
                         period)
    h += struct.pack("<I", 0)                      # features
    h += struct.pack("<I", 1) + s("annotations") + struct.pack("<I", 0)
    return rec(b"HEAD", h)


def data(ch, t0, off, n):
    p = struct.pack("<Iqqii", ch, t0, off, n, 0)
    return rec(b"DATA", p + struct.pack("<%df" % n, *([1.0] * n)))


def event(onset, dur):
    return rec(b"EVNT", struct.pack("<iiqq", 0, -1, onset, dur) + s("x") +
               struct.pack("<I", 0))


def epoch(k):
    return rec(b"EPOC", struct.pack("<qI", k, 0))


def array(row):
    return rec(b"ARRY", s("spectra") + struct.pack("<iqdd", 0, row, 0, 1) +
               s("uV^2/Hz") + struct.pack("<I", 2) + struct.pack("<2f", 1, 2))


def end(n, duration=4 * TICKS):
    return rec(b"END ", struct.pack("<qQ", duration, n) + s(""))


def stream(head=None, body=None, dur=4 * TICKS, tail=b""):
    body = body if body is not None else [
        data(c, 0, k * 8, 8) for k in range(4) for c in (0, 1)] + [
        event(TICKS, 2 * TICKS)]
    return (MAGIC + struct.pack("<I", 0x00010001) + (head or header()) +
            b"".join(body) + end(len(body), dur) + tail)


def good_blocks():
    return [data(c, 0, k * 8, 8) for k in range(4) for c in (0, 1)]


def streams():
    g = good_blocks()
    return {
        "stream-valid.psg": stream(),
        "stream-epoch-len-0.psg": stream(header(epoch=0)),
        "stream-epoch-len-1tick.psg": stream(header(epoch=1)),
        "stream-year-2147483647.psg": stream(header(year=2147483647)),
        "stream-duration-max.psg": stream(header(duration=2**63 - 1)),
        "stream-physmin-nan.psg": stream(header(pmin=float("nan"))),
        "stream-spr-0.psg": stream(header(spr=0)),
        "stream-rate-huge.psg": stream(header(spr=2**40, period=1)),
        "stream-period-huge.psg": stream(header(spr=3, period=2**62)),
        "stream-end-duration-max.psg": stream(dur=2**63 - 1),
        "stream-data-t0-2p62.psg": stream(body=g + [data(1, 2**62, 0, 8)]),
        "stream-data-t0-min.psg": stream(body=[data(0, -2**63, 0, 8)]),
        "stream-data-offset-2p62.psg": stream(body=[data(0, 0, 2**62, 8)]),
        "stream-data-offset-back.psg": stream(body=g + [data(0, 0, 0, 8)]),
        "stream-data-segment-back.psg": stream(
            body=g + [data(0, -10 * TICKS, 0, 8)]),
        "stream-data-first-n0.psg": stream(body=[data(0, 0, 0, 0)] + g),
        "stream-event-onset-max.psg": stream(body=g + [event(2**62, 1)]),
        "stream-event-duration-max.psg": stream(body=g + [event(0, 2**62)]),
        "stream-epoch-index-huge.psg": stream(body=g + [epoch(2**62)]),
        "stream-array-row-max.psg": stream(body=g + [array(2**63 - 1)]),
        "stream-record-after-end.psg": stream(tail=data(0, 0, 32, 8)),
        "stream-origin-1e12.psg": stream(header(origin=10**12)),
    }


def edf(nrec=b"2", recdur=b"1", spr=b"8", pmin=b"-100", dmin=b"-32768",
        hdr=None, date=b"04.03.20", recording=None, ns=b"1"):
    rfield = recording or b"Startdate 04-MAR-2020 X X X"
    sig = [b"C4-M1", b"AgAgCl", b"uV", pmin, b"100", dmin, b"32767", b"",
           spr, b""]
    width = [16, 80, 8, 8, 8, 8, 8, 80, 8, 32]
    main = (b"0".ljust(8) + b"X X X X".ljust(80) + rfield.ljust(80) +
            date.ljust(8) + b"22.00.00" + (hdr or b"512").ljust(8) +
            b"".ljust(44) + nrec.ljust(8) + recdur.ljust(8) + ns.ljust(4))
    sh = b"".join(f.ljust(w) for f, w in zip(sig, width))
    return main + sh + b"\0\0" * 16


def edfplus_c(onsets):
    """An EDF+C of one 8-sample signal and an annotation signal, a record
    per onset, each record's time-keeping TAL saying that onset."""
    sigs = [[b"C4-M1", b"AgAgCl", b"uV", b"-100", b"100", b"-32768",
             b"32767", b"", b"8", b""],
            [b"EDF Annotations", b"", b"", b"-1", b"1", b"-32768",
             b"32767", b"", b"8", b""]]
    width = [16, 80, 8, 8, 8, 8, 8, 80, 8, 32]
    main = (b"0".ljust(8) + b"X X X X".ljust(80) +
            b"Startdate 04-MAR-2020 X X X".ljust(80) + b"04.03.20" +
            b"22.00.00" + b"768".ljust(8) + b"EDF+C".ljust(44) +
            str(len(onsets)).encode().ljust(8) + b"1".ljust(8) +
            b"2".ljust(4))
    sh = b"".join(sig[k].ljust(w) for k, w in enumerate(width)
                  for sig in sigs)
    recs = b"".join(b"\0\0" * 8 + (b"+%g\x14\x14\0" % t).ljust(16, b"\0")
                    for t in onsets)
    return main + sh + recs


def edfs():
    return {
        "edf-valid.edf": edf(),
        "edf-nrec-minus2.edf": edf(nrec=b"-2"),
        "edf-nrec-frac.edf": edf(nrec=b"1.5"),
        "edf-nrec-nan.edf": edf(nrec=b"nan"),
        "edf-recdur-0.edf": edf(recdur=b"0"),
        "edf-recdur-1e300.edf": edf(recdur=b"1e300"),
        "edf-spr-nan.edf": edf(spr=b"nan"),
        "edf-spr-frac.edf": edf(spr=b"7.5"),
        "edf-physmin-nan.edf": edf(pmin=b"nan"),
        "edf-digmin-inf.edf": edf(dmin=b"-inf"),
        "edf-hdrsize-1e301.edf": edf(hdr=b"5.1e301"),
        "edf-ns-nan.edf": edf(ns=b"nan"),
        "edf-plusc-valid.edf": edfplus_c([0, 1, 2]),
        "edf-plusc-tal-gap.edf": edfplus_c([0, 1, 5]),
        "edf-year-99999.edf": edf(
            recording=b"Startdate 01-JAN-99999 X X X"),
    }


def texts():
    return {
        "hyp-valid.tsv": b"onset\tduration\tstage\n0\t30\tW\n30\t30\tN2\n",
        "hyp-584-years.tsv": b"9223372036\t9223372036\tN3\n",
        "hyp-negative.tsv": b"-60\t30\tW\n",
        "events-onset-huge.tsv": b"onset\tkind\n1e300\tx\n",
        "events-onset-nan.tsv": b"onset\tkind\nnan\tx\n",
    }


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fuzz/regress"
    os.makedirs(out, exist_ok=True)
    for group in (streams(), edfs(), texts()):
        for name, b in group.items():
            with open(os.path.join(out, name), "wb") as f:
                f.write(b)


if __name__ == "__main__":
    main()
