"""h5check.py -- checks a psg-h5 file made from `mkstream` (t_h5.sh).

    /usr/bin/python3 h5check.py FILE.h5 SECONDS EPOCH SIGNALS LEVEL \
        MKSTREAM_CMDLINE PSG_H5_CMDLINE DOCS/hdf5.md PSG_H_PATH

Every expected value is recomputed from the formulas in the comment at the
top of tests/tools/mkstream.c, not copied from an output.  Prints one line
per check, "PASS what" or "FAIL what: why"; t_h5.sh turns them into TAP.
"""
import math
import re
import sys

import h5py
import numpy as np

SEC = 10**7


def report(ok, what, why=""):
    print(("PASS " if ok else "FAIL ") + what + ("" if ok else ": " + why))


def same(what, got, want):
    report(got == want, what, "got %r, wanted %r" % (got, want))


# ---- what mkstream wrote ---------------------------------------------------

CHANNELS = [  # label, kind, unit, spr, period (s), samples per 2 s slot
    ("EEG C3-A2", "EEG", "uV", 256, 1, 512),
    ("EOG/L", "EOG", "uV", 100, 1, 200),
    ("Snore", "AUDIO", "uV", 975, 2, 975),
    ("EEG C3-A2", "EEG", "uV", 256, 1, 512),
    ("", "OTHER", "%", 1, 1, 2),
    ("Pos", "OTHER", "", 1, 1, 0),
]
SIGNAL_NAMES = ["EEG C3-A2", "EOG_L", "Snore", "EEG C3-A2#2", "ch4", "Pos"]


def sample_time(spr, period, t0, idx):
    """psg_sample_time(): ticks of sample idx of a segment at t0."""
    q, r = divmod(idx, spr)
    return t0 + q * period + (r * period + spr // 2) // spr


def runs(c, seconds):
    """(t0 ticks, first offset, n) of every run of channel c."""
    per = CHANNELS[c][5]
    nslots = seconds // 2
    a = nslots // 2
    b = a + 3
    if not per:
        return []
    out = [(0, 0, a * per)]
    if c != 4:
        return out + [(2 * b * SEC, 0, (nslots - b) * per)]
    # channel 4 misses its block of slot a+4: a new run, same t0
    out.append((2 * b * SEC, 0, per))
    if nslots > a + 5:
        out.append((2 * b * SEC, 2 * per, (nslots - a - 5) * per))
    return out


def samples(c, n):
    k = np.arange(n, dtype=np.int64)
    return (((k * 7 + c * 13) % 1000 - 500) * 0.25).astype(np.float32)


def events(seconds):
    end = seconds * SEC
    sp = []
    j = 0
    while 7 * SEC * j + SEC // 4 < end:
        sp.append(((7 * SEC * j + SEC // 4) / 1e7, 12 * SEC // 10 / 1e7,
                   "EEG C3-A2", 0, "sp%d" % j, 12 + j % 3, 20 + j))
        j += 1
    ar = []
    j = 0
    while 20 * SEC * j + 3 * SEC < end:
        ar.append(((20 * SEC * j + 3 * SEC) / 1e7, math.nan, "", -1,
                   "Arousal \u00b5"))
        j += 1
    ap = []
    j = 0
    while 25 * SEC * j + 10 * SEC < end:
        ap.append(((25 * SEC * j + 10 * SEC) / 1e7, 10.0, "EOG/L", 1, "OA",
                   3.5 + j % 2, 10.0))
        j += 1
    return sp, ar, ap


# ---- docs/hdf5.md ----------------------------------------------------------

def doc_tables(path):
    """{section heading: [[names of the first cell of each row]...]}."""
    sections, cur, table = {}, None, None
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if line.startswith("## ") or line.startswith("### "):
            cur = line.lstrip("#").strip()
            sections[cur] = []
            table = None
        elif line.startswith("|") and cur is not None:
            if table is None:
                table = []
                sections[cur].append(table)
                continue  # the header row
            first = line.split("|")[1]
            if set(first.strip()) <= set("- "):
                continue  # the separator row
            table.append([n for n in re.findall(r"`([^`]*)`", first)
                          if "<" not in n])
        else:
            table = None
    return {k: [[n for row in t for n in row] for t in v]
            for k, v in sections.items()}


def check_doc(f, a):
    check_doc_layout(f, doc_tables(a.docs), a.signals)


def check_doc_layout(f, doc, signals):
    same("doc: root attributes", sorted(f.attrs),
         sorted(doc["Root attributes"][0]))
    for name in ("channels", "segments"):
        same("doc: /%s columns" % name, list(f[name].dtype.names),
             doc["`/%s`" % name][0])
    same("doc: /epochs fixed columns", list(f["epochs"].dtype.names[:2]),
         doc["`/epochs`"][0])
    ev = doc["`/events/<type>`"]
    for t in f["events"].values():
        same("doc: %s fixed columns" % t.name, list(t.dtype.names[:5]),
             ev[0])
        report(set(ev[1]) <= set(t.attrs), "doc: %s attributes" % t.name,
               "%s not in %s" % (ev[1], list(t.attrs)))
    if signals:
        want = sorted(doc["`/signals/<label>` (only with `--signals`)"][0])
        for d in f["signals"].values():
            same("doc: %s attributes" % d.name, sorted(d.attrs), want)


# ---- the file ---------------------------------------------------------------

def is_vlen_utf8(dt):
    info = h5py.check_string_dtype(dt)
    return info is not None and info.encoding == "utf-8" and \
        info.length is None


def check_root(f, a):
    version = re.search(r'#define PSG_VERSION "([^"]*)"',
                        open(a.psg_h).read()).group(1)
    want = {
        "schema_version": "2.0", "software": "psgpipe " + version,
        "psgpipe_version": version, "source_file": "synthetic/night.edf",
        "source_sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e464"
                         "9b934ca495991b7852b855",
        "file_type": "EDF+D", "start_time": "2020-03-04T22:15:30.2500000",
        "duration_s": a.seconds * SEC / 1e7,
        "epoch_length_s": a.epoch * SEC / 1e7, "epoch_origin_s": 5.0,
        "patient": "X F 04-JUL-1970 Jane_Doe",
        "recording": "Startdate 04-MAR-2020 PSG-1 Alice mkstream",
        "patient_code": "X", "sex": "F", "birthdate": "04-JUL-1970",
        "patient_name": "Jane Doe", "patient_additional": "",
        "admincode": "PSG-1", "technician": "Alice", "equipment": "mkstream",
        "recording_additional": "synthetic \u00b5 test"}
    got = {k: f.attrs[k] for k in want if k in f.attrs}
    same("root attributes", got, want)
    same("history", list(f.attrs["history"]),
         ["psg-read synthetic/night.edf", a.mk_cmd, a.h5_cmd])
    report(all(is_vlen_utf8(f.attrs.get_id(k).dtype) for k in f.attrs
               if f.attrs.get_id(k).dtype.kind == "O"),
           "string attributes are variable-length UTF-8")
    report(all(f.attrs.get_id(k).dtype == np.float64 for k in
               ("duration_s", "epoch_length_s", "epoch_origin_s")),
           "time attributes are float64")


def check_channels(f, a):
    t = f["channels"]
    dt = t.dtype
    types = [dt.fields[n][0] for n in dt.names]
    want_types = ["<i4"] + ["O"] * 5 + ["<f8", "<i8", "<f8", "<f8", "<f8",
                                          "<i4", "<i4", "<i8", "<i8", "O"]
    same("/channels column types", [x.str if x.kind != "O" else "O"
                                    for x in types], want_types)
    report(all(is_vlen_utf8(dt.fields[n][0]) for n in
               ("label", "kind", "unit", "transducer", "prefilter",
                "roles")),
           "/channels strings are variable-length UTF-8")
    rows = []
    for i, (label, kind, unit, spr, per, _) in enumerate(CHANNELS):
        r = runs(i, a.seconds)
        rows.append((i, label, kind, unit, "transducer %d" % i,
                     "HP:0.%dHz" % i, spr * 1e7 / (per * SEC), spr,
                     per * SEC / 1e7, -500.0 - i, 500.0 + i, -32768 + i,
                     32767 - i, sum(x[2] for x in r), len(r), ""))
    got = [tuple(x.decode() if isinstance(x, bytes) else x.item()
                 for x in row) for row in t[:]]
    same("/channels rows", got, rows)


def check_segments(f, a):
    t = f["segments"]
    same("/segments columns", list(t.dtype.names),
         ["channel", "onset_s", "first_sample", "n_samples", "duration_s"])
    want = []
    for c, (_, _, _, spr, per, _) in enumerate(CHANNELS):
        first = 0
        for t0, off, n in runs(c, a.seconds):
            want.append((c, sample_time(spr, per * SEC, t0, off) / 1e7,
                         first, n, n * (per * SEC) / (spr * 1e7)))
            first += n
    got = sorted(tuple(x.item() for x in row) for row in t[:])
    same("/segments rows (sorted by channel, onset)", got, sorted(want))
    same("/segments is extendible", t.maxshape, (None,))


def check_epochs(f, a):
    t = f["epochs"]
    same("/epochs columns", list(t.dtype.names),
         ["onset", "duration", "delta_power", "duration_2", "hr", "unused"])
    nep = (a.seconds * SEC - 5 * SEC) // (a.epoch * SEC)
    same("/epochs rows = complete epochs", t.shape, (nep,))
    k = np.arange(nep, dtype=np.int64)
    want = {
        "onset": (5 * SEC + k * a.epoch * SEC) / 1e7,
        "duration": np.full(nep, a.epoch * SEC / 1e7),
        "delta_power": 10.0 * k + 0.5, "duration_2": 10.0 * k + 1.5,
        "hr": np.where(k % 3 == 1, np.nan, 60.0 + k % 7),
        "unused": np.full(nep, np.nan)}
    d = t[:]
    for name, w in want.items():
        report(np.array_equal(d[name], w, equal_nan=True),
               "/epochs column %s" % name, "differs")
    same("/epochs attributes", dict(t.attrs), {
        "delta_power_unit": "uV^2", "delta_power_description":
        "mean delta power", "duration_2_unit": "s",
        "duration_2_description": "a name that collides", "hr_unit": "bpm",
        "hr_description": "heart rate", "unused_unit": "",
        "unused_description": "never sent"})
    same("/epochs is extendible", t.maxshape, (None,))


def rows_of(t):
    return [tuple(x.decode() if isinstance(x, bytes) else x.item()
                  for x in row) for row in t[:]]


def same_rows(what, got, want):
    """Row lists equal, NaN equal to NaN."""
    def norm(rows):
        return [tuple("NaN" if isinstance(x, float) and math.isnan(x) else x
                      for x in r) for r in rows]
    same(what, norm(got), norm(want))


def check_events(f, a):
    g = f["events"]
    same("/events tables", sorted(g), ["apnea", "arousal_resp", "empty",
                                       "spindle"])
    sp, ar, ap = events(a.seconds)
    cols = ["onset", "duration", "channel", "channel_index", "label"]
    same("spindle columns", list(g["spindle"].dtype.names),
         cols + ["freq", "amplitude"])
    same_rows("spindle rows", rows_of(g["spindle"]), sp)
    same("spindle attributes", dict(g["spindle"].attrs),
         {"type": "spindle", "freq_unit": "Hz", "amplitude_unit": "uV"})
    same("arousal/resp columns", list(g["arousal_resp"].dtype.names), cols)
    same_rows("arousal/resp rows (Latin-1 label converted)",
              rows_of(g["arousal_resp"]), ar)
    same("arousal/resp keeps its name", dict(g["arousal_resp"].attrs),
         {"type": "arousal/resp"})
    same("apnea columns", list(g["apnea"].dtype.names),
         cols + ["desat", "duration_2"])
    same_rows("apnea rows", rows_of(g["apnea"]), ap)
    same("apnea attributes", dict(g["apnea"].attrs),
         {"type": "apnea", "desat_unit": "%", "duration_2_unit": "s"})
    same("empty table", (g["empty"].shape, list(g["empty"].dtype.names)),
         ((0,), cols + ["x"]))
    report(all(is_vlen_utf8(t.dtype.fields[n][0]) for t in g.values()
               for n in ("channel", "label")),
           "event strings are variable-length UTF-8")


def check_summary(f, a):
    g = f["summary"]
    napnea = len(events(a.seconds)[2])
    nspindle = len(events(a.seconds)[0])
    want = {"ahi": napnea / (a.seconds / 3600.0), "n_spindles": nspindle,
            "x_y": 42.0}
    same("/summary group attributes", dict(g.attrs), want)
    same("/summary datasets", {k: g[k][()] for k in g}, want)
    same("/summary units and names",
         {k: (g[k].attrs["unit"], g[k].attrs["name"]) for k in g},
         {"ahi": ("/h", "ahi"), "n_spindles": ("", "n_spindles"),
          "x_y": ("u", "x/y")})


def check_signals(f, a):
    if not a.signals:
        same("no /signals without --signals", "signals" in f, False)
        return
    g = f["signals"]
    same("/signals datasets", sorted(g), sorted(SIGNAL_NAMES))
    for c, name in enumerate(SIGNAL_NAMES):
        d = g[name]
        label, _, unit, spr, per, _ = CHANNELS[c]
        n = sum(x[2] for x in runs(c, a.seconds))
        report(d.dtype == np.float32 and d.maxshape == (None,) and
               d.chunks is not None, "%s: float32, chunked, extendible"
               % name, "%s %s %s" % (d.dtype, d.maxshape, d.chunks))
        comp = (d.compression, d.compression_opts, d.shuffle)
        same("%s: filters" % name, comp, ("gzip", a.level, True)
             if a.level else (None, None, False))
        same("%s: attributes" % name, dict(d.attrs), {
            "rate_hz": spr * 1e7 / (per * SEC), "unit": unit,
            "label": label, "channel_index": c})
        report(np.array_equal(d[:], samples(c, n)), "%s: %d samples" %
               (name, n), "differ")


class Args:
    def __init__(self, argv):
        (self.path, seconds, epoch, signals, level, self.mk_cmd,
         self.h5_cmd, self.docs, self.psg_h) = argv
        self.seconds, self.epoch = int(seconds), int(epoch)
        self.signals, self.level = signals == "1", int(level)


def main():
    a = Args(sys.argv[1:])
    with h5py.File(a.path, "r") as f:
        want = ["channels", "epochs", "events", "segments", "summary"]
        same("top-level objects", sorted(f),
             sorted(want + (["signals"] if a.signals else [])))
        for check in (check_root, check_channels, check_segments,
                      check_epochs, check_events, check_summary,
                      check_signals, check_doc):
            try:
                check(f, a)
            except Exception as e:  # a missing object: report, go on
                report(False, check.__name__, repr(e))


main()
