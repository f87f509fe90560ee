#!/usr/bin/python3
"""conformance.py -- the reader checks of tests/t_conformance.sh.

Runs psg-read / psg-dump / psg-info (found on PATH) on recordings of the
shared data and compares what they print with expected values: the CSV files
of R's edfReader, and this file's own decoding of the EDF/BDF bytes (header,
16/24-bit little-endian samples, EDF+ TALs).  Each check prints one line

    PASS what          FAIL what           SKIP why

followed by indented detail lines; t_conformance.sh turns them into TAP.
The exit status is 0 unless the script itself broke.

    conformance.py csv FILE PREFIX BACKEND   edfReader's *_header/_signals/
                                             _annotations/_data.txt
    conformance.py decode FILE BACKEND       every sample vs our decoding
    conformance.py backends FILE             edflib and native agree
    conformance.py edfplusd FILE             segments, blocks, samples
    conformance.py subsecond FILE
    conformance.py utf8 FILE [TEXT]
    conformance.py multiann FILE
    conformance.py rates FILE
    conformance.py nox FILE LABEL
    conformance.py hypnogram HYPNOGRAM PSG COUNT
    conformance.py select PSG
    conformance.py audio EDF TMPDIR

BACKEND is edflib, native or auto (psg-read's default: no --backend).
Use /usr/bin/python3 (numpy).
"""
import csv
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

TICKS = 10_000_000          # ticks of 100 ns per second
TOL = 1e-3                  # the brief's tolerance for values and times
TIMEOUT = 60                # seconds for one program run


# ---- reporting ----------------------------------------------------------

def report(ok, what, details=()):
    print(('PASS ' if ok else 'FAIL ') + what)
    if not ok:
        for d in list(details)[:12]:
            print('   ' + str(d))
    sys.stdout.flush()
    return ok


def skip(why):
    print('SKIP ' + why)


def note(text):
    print('NOTE ' + text)


# ---- running the programs ------------------------------------------------

class Run:
    """The result of psg-read [ARGS] | CONSUMER."""

    def __init__(self, rc_read, rc_cons, out, err_read, err_cons):
        self.rc_read, self.rc_cons = rc_read, rc_cons
        self.out, self.err_read, self.err_cons = out, err_read, err_cons

    @property
    def ok(self):
        return self.rc_read == 0 and self.rc_cons == 0

    def why(self):
        return ['psg-read exit %s, consumer exit %s' % (self.rc_read,
                                                         self.rc_cons)] + \
            [l for l in (self.err_read + self.err_cons).splitlines()
             if ': warning: ' not in l][:6]


def dec(b):
    return b.decode('utf-8', 'surrogateescape')


def read_args(path, backend=None, extra=()):
    a = ['psg-read']
    if backend and backend != 'auto':
        a += ['--backend', backend]
    return a + list(extra) + [path]


def pipe(read_argv, cons_argv, timeout=TIMEOUT):
    """read_argv | cons_argv, with stderr of each kept apart; processes that
    outlive `timeout` are killed (they are ours)."""
    with tempfile.TemporaryFile() as e1, tempfile.TemporaryFile() as e2:
        p1 = subprocess.Popen(read_argv, stdout=subprocess.PIPE, stderr=e1)
        p2 = subprocess.Popen(cons_argv, stdin=p1.stdout,
                              stdout=subprocess.PIPE, stderr=e2)
        p1.stdout.close()
        try:
            out, _ = p2.communicate(timeout=timeout)
            rc1 = p1.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p1.kill()
            p2.kill()
            out, _ = p2.communicate()
            p1.wait()
            e1.seek(0)
            return Run('timeout (killed after %d s)' % timeout, p2.returncode,
                       dec(out), dec(e1.read()), '')
        e1.seek(0)
        e2.seek(0)
        return Run(rc1, p2.returncode, dec(out), dec(e1.read()),
                   dec(e2.read()))


def dump(path, backend=None, samples=True, extra=()):
    cons = ['psg-dump'] + ([] if samples else ['--no-samples'])
    return pipe(read_args(path, backend, extra), cons)


def info_json(path, backend=None, extra=()):
    r = pipe(read_args(path, backend, extra), ['psg-info', '--json'])
    r.json = json.loads(r.out) if r.ok else None
    return r


# ---- psg-dump's text -----------------------------------------------------

TOKEN = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')


def unquote(s):
    if not s.startswith('"'):
        return s
    s, out, i = s[1:-1], [], 0
    while i < len(s):
        c = s[i]
        if c != '\\':
            out.append(c)
            i += 1
        elif s[i + 1] == 'n':
            out.append('\n')
            i += 2
        elif s[i + 1] == 'x':
            out.append(chr(int(s[i + 2:i + 4], 16)))
            i += 4
        else:
            out.append(s[i + 1])
            i += 2
    return ''.join(out)


def ticks(s):
    """psg-dump's exact seconds ("-1.2500000") to ticks; '-' is None."""
    if s == '-':
        return None
    neg = s.startswith('-')
    whole, _, frac = s.lstrip('+-').partition('.')
    t = int(whole or 0) * TICKS + int((frac + '0000000')[:7])
    return -t if neg else t


def secs_ticks(s):
    """Seconds as written in EDF ("+2.3457031", "1", "0.5") to ticks,
    exactly, the way an EDF+ reader must (no binary floating point)."""
    s = s.strip()
    neg = s.startswith('-')
    whole, _, frac = s.lstrip('+-').partition('.')
    t = int(whole or 0) * TICKS + int((frac + '0000000')[:7])
    return -t if neg else t


def sample_time(t0, idx, spr, period):
    """psg_sample_time(): t0 + idx * period / spr, rounded half up."""
    return t0 + (idx * period + spr // 2) // spr


class Dump:
    """psg-dump output, parsed."""

    def __init__(self, text):
        self.text = text
        self.fields = {}
        self.history = []
        self.channels = []
        self.evtypes = []
        self.events = []
        self.blocks = []
        self.end = None
        cur = None
        for line in text.split('\n'):
            if not line:
                continue
            if line.startswith('  '):
                cur['lines'].append(line)
                continue
            word, _, rest = line.partition(' ')
            kv = {k: unquote(v) for k, v in TOKEN.findall(rest)}
            if word in ('software', 'file_type', 'source', 'patient',
                        'recording'):
                self.fields[word] = unquote(rest)
            elif word == 'history':
                self.history.append(unquote(rest))
            elif word in ('start', 'stream'):
                self.fields[word] = rest
            elif word == 'duration':
                self.fields['duration'] = ticks(rest)
            elif word == 'epoch':
                e, _, o = rest.partition(' origin ')
                self.fields['epoch'] = ticks(e)
                self.fields['origin'] = ticks(o)
            elif word == 'channel':
                c = dict(kv)
                c['index'] = int(rest.split()[0])
                c['spr'] = int(c['spr'])
                c['period'] = ticks(c['period'])
                c['rate'] = float(c['rate'])
                lo, _, hi = c['phys'].rpartition(':')
                c['phys_min'], c['phys_max'] = float(lo), float(hi)
                lo, _, hi = c['dig'].rpartition(':')
                c['dig_min'], c['dig_max'] = int(lo), int(hi)
                self.channels.append(c)
            elif word == 'evtype':
                self.evtypes.append(kv.get('name'))
            elif word == 'event':
                m = re.match(r'("(?:[^"\\]|\\.)*")', rest)
                e = dict(kv)
                e['type'] = unquote(m.group(1))
                e['onset'] = ticks(e['onset'])
                e['duration'] = ticks(e['duration'])
                e['line'] = line
                self.events.append(e)
            elif word == 'data':
                b = {k: v for k, v in kv.items()}
                b['channel'] = int(rest.split()[0])
                b['t0'] = ticks(b['t0'])
                b['time'] = ticks(b['time'])
                b['offset'] = int(b['offset'])
                b['n'] = int(b['n'])
                b['lines'] = []
                b['line'] = line
                self.blocks.append(b)
                cur = b
            elif word == 'end':
                self.end = kv
                self.end['line'] = line
        for b in self.blocks:
            if b['lines']:
                b['x'] = np.array(' '.join(b.pop('lines')).split(),
                                  dtype=np.float64)
            else:
                b.pop('lines')
                b['x'] = None

    def label_index(self, label):
        for c in self.channels:
            if c['label'] == label:
                return c['index']
        return None

    def series(self, ch):
        """(times in ticks, values) of a channel, in stream order."""
        c = self.channels[ch]
        ts, xs = [], []
        for b in self.blocks:
            if b['channel'] != ch:
                continue
            idx = np.arange(b['offset'], b['offset'] + b['n'], dtype=np.int64)
            ts.append(sample_time(b['t0'], idx, c['spr'], c['period']))
            if b['x'] is not None:
                xs.append(b['x'])
        t = np.concatenate(ts) if ts else np.zeros(0, np.int64)
        x = np.concatenate(xs) if xs else np.zeros(0)
        return t, x


# ---- EDF/BDF decoded here, independently of the library -------------------

VOLTS = {b'uv': 1.0, b'\xc2\xb5v': 1.0, b'\xb5v': 1.0, b'mv': 1e3, b'v': 1e6,
         b'nv': 1e-3, b'kv': 1e9}


def volt_scale(unit_bytes):
    return VOLTS.get(unit_bytes.strip().lower())


class Edf:
    def __init__(self, path):
        self.path = path
        b = open(path, 'rb').read()
        self.bytes = b
        self.bdf = b[0] == 0xff
        self.w = 3 if self.bdf else 2
        txt = lambda a, z: b[a:z].decode('latin-1').strip()
        self.patient = txt(8, 88)
        self.recording = txt(88, 168)
        self.startdate = txt(168, 176)
        self.starttime = txt(176, 184)
        self.hdrbytes = int(txt(184, 192))
        self.reserved = txt(192, 236)
        self.plus = self.reserved[:4] in ('EDF+', 'BDF+')
        self.nrec = int(txt(236, 244))
        self.recdur = secs_ticks(txt(244, 252))
        ns = self.ns = int(txt(252, 256))
        widths = [16, 80, 8, 8, 8, 8, 8, 80, 8, 32]
        off, raw = 256, []
        for wd in widths:
            raw.append([b[off + i * wd:off + (i + 1) * wd] for i in range(ns)])
            off += wd * ns
        (self.label_b, self.transducer_b, self.unit_b, pmin, pmax, dmin, dmax,
         self.prefilter_b, spr, _) = raw
        s = lambda v: v.decode('utf-8', 'surrogateescape').strip()
        self.labels = [s(v) for v in self.label_b]
        self.transducers = [s(v) for v in self.transducer_b]
        self.units = [s(v) for v in self.unit_b]
        self.prefilters = [s(v) for v in self.prefilter_b]
        self.pmin = [float(v) for v in pmin]
        self.pmax = [float(v) for v in pmax]
        self.dmin = [int(float(v)) for v in dmin]
        self.dmax = [int(float(v)) for v in dmax]
        self.spr = [int(v) for v in spr]
        ann = 'BDF Annotations' if self.bdf else 'EDF Annotations'
        self.annot = [self.plus and l == ann for l in self.labels]
        self.ordinary = [i for i in range(ns) if not self.annot[i]]
        self.recbytes = sum(self.spr) * self.w
        self.byteoff = np.cumsum([0] + [n * self.w for n in self.spr])
        have = (len(b) - self.hdrbytes) // self.recbytes if self.recbytes \
            else 0
        self.nrec_read = min(self.nrec, have) if self.nrec >= 0 else have
        self.raw = np.frombuffer(b, dtype=np.uint8,
                                 count=self.nrec_read * self.recbytes,
                                 offset=self.hdrbytes).reshape(
                                     self.nrec_read, self.recbytes)
        self._tals = None

    def start_iso(self):
        d, m, y = (int(v) for v in self.startdate.split('.'))
        y += 1900 if y >= 85 else 2000
        hh, mm, ss = (int(v) for v in self.starttime.split('.'))
        return '%04d-%02d-%02dT%02d:%02d:%02d' % (y, m, d, hh, mm, ss)

    def digital(self, s):
        """Digital samples of signal s as an (nrec, spr) int64 array."""
        a, z = self.byteoff[s], self.byteoff[s + 1]
        blk = np.ascontiguousarray(self.raw[:, a:z])
        if self.bdf:
            x = blk.reshape(self.nrec_read, self.spr[s], 3).astype(np.int64)
            d = x[..., 0] | x[..., 1] << 8 | x[..., 2] << 16
            return np.where(d >= 0x800000, d - 0x1000000, d)
        return blk.view('<i2').astype(np.int64).reshape(self.nrec_read,
                                                        self.spr[s])

    def scale(self, s):
        """Factor to the stream's unit (uV for every voltage)."""
        return volt_scale(self.unit_b[s]) or 1.0

    def physical(self, s):
        """physical = pmin + (d - dmin) * (pmax - pmin) / (dmax - dmin), in
        the stream's unit, with d clamped to [dmin, dmax] as edflib and
        psgpipe do (docs/stream.md)."""
        d = np.clip(self.digital(s), self.dmin[s], self.dmax[s])
        g = (self.pmax[s] - self.pmin[s]) / (self.dmax[s] - self.dmin[s])
        return (self.pmin[s] + (d - self.dmin[s]) * g) * self.scale(s)

    def quantum(self, s):
        return abs((self.pmax[s] - self.pmin[s]) /
                   (self.dmax[s] - self.dmin[s]) * self.scale(s))

    def tals(self):
        """[(record, signal, onset_ticks, duration_ticks|None, [texts])]"""
        if self._tals is not None:
            return self._tals
        out = []
        for s in range(self.ns):
            if not self.annot[s]:
                continue
            a, z = self.byteoff[s], self.byteoff[s + 1]
            for r in range(self.nrec_read):
                buf = self.raw[r, a:z].tobytes()
                for tal in buf.split(b'\x00'):
                    if not tal:
                        continue
                    head, _, body = tal.partition(b'\x14')
                    on, _, du = head.partition(b'\x15')
                    texts = [t.decode('utf-8', 'surrogateescape')
                             for t in body.split(b'\x14') if t]
                    out.append((r, s, secs_ticks(on.decode()),
                                secs_ticks(du.decode()) if du else None,
                                texts))
        self._tals = out
        return out

    def record_onsets(self):
        """Raw onset of each record in ticks from the header's start: the
        first TAL of the first annotation signal (EDF+), else r * duration."""
        if not self.plus or not any(self.annot):
            return [r * self.recdur for r in range(self.nrec_read)]
        first = self.annot.index(True)
        on = {}
        for r, s, o, _, _ in self.tals():
            if s == first and r not in on:
                on[r] = o
        return [on[r] for r in range(self.nrec_read)]

    def subsecond(self):
        """The start's fraction of a second (ticks): EDF+ record 0's TAL."""
        if not self.plus or not any(self.annot) or not self.nrec_read:
            return 0
        return self.record_onsets()[0] % TICKS

    def annotations(self):
        """Every annotation (not the time-keeping TALs) as (onset, duration,
        text), onsets from the exact start (header start + subsecond)."""
        sub = self.subsecond()
        return [(o - sub, d, t) for _, _, o, d, texts in self.tals()
                for t in texts]

    def series(self, s):
        """(times in ticks from the exact start, physical values)."""
        sub = self.subsecond()
        j = np.arange(self.spr[s], dtype=np.int64)
        times = [o - sub + (j * self.recdur + self.spr[s] // 2) // self.spr[s]
                 for o in self.record_onsets()]
        t = np.concatenate(times) if times else np.zeros(0, np.int64)
        return t, self.physical(s).reshape(-1)


def compare_series(t1, x1, t2, x2, tol, time_tol=0):
    """Differences between two sample series as text lines ([] if equal)."""
    if len(t1) != len(t2):
        return ['%d samples, expected %d' % (len(t1), len(t2))]
    out = []
    bad = np.nonzero(np.abs(t1 - t2) > time_tol)[0]
    if len(bad):
        i = bad[0]
        out.append('%d sample times differ; first #%d: %.7f s, expected '
                   '%.7f s' % (len(bad), i, t1[i] / TICKS, t2[i] / TICKS))
    if x1 is not None and x2 is not None:
        if len(x1) != len(x2):
            return out + ['%d sample values, expected %d' % (len(x1),
                                                             len(x2))]
        lim = tol(x2) if callable(tol) else tol
        bad = np.nonzero(~(np.abs(x1 - x2) <= lim))[0]
        if len(bad):
            i = bad[0]
            out.append('%d of %d values differ by more than the tolerance; '
                       'first #%d at %.7f s: %.9g, expected %.9g' %
                       (len(bad), len(x1), i, t2[i] / TICKS, x1[i], x2[i]))
    return out


def float_tol(x):
    """TOL, widened to float32 resolution: the stream carries float32."""
    return TOL + np.abs(x) * 1.2e-7


def bname(path):
    return os.path.basename(path)


def tag(path, backend):
    return '%s [%s]' % (bname(path), backend)


# ---- edfReader's CSV files ------------------------------------------------

def read_csv(path):
    with open(path, newline='', encoding='latin-1') as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def cmd_csv(path, prefix, backend):
    t = tag(path, backend)
    r = dump(path, backend)
    if not report(r.ok, '%s: psg-read | psg-dump exits 0' % t, r.why()):
        return
    d = Dump(r.out)
    raw = Edf(path)
    # header
    hk, hv = read_csv(prefix + '_header.txt')
    h = dict(zip(hk, (v.strip() for v in hv[0])))
    dd, mm, yy = (int(v) for v in h['Startdate'].split('.'))
    yy += 1900 if yy >= 85 else 2000
    start = '%04d-%02d-%02dT%s.0000000' % (yy, mm, dd,
                                           h['Startime'].replace('.', ':'))
    want_dur = int(h['NumRec']) * secs_ticks(h['Duration'])
    errs = []
    if d.fields.get('start') != start:
        errs.append('start %s, expected %s' % (d.fields.get('start'), start))
    if d.fields.get('duration') != want_dur:
        errs.append('duration %s ticks, expected NumRec*Duration = %d' %
                    (d.fields.get('duration'), want_dur))
    if d.end is None or ticks(d.end['duration']) != want_dur:
        errs.append('end record duration %s' % (d.end and d.end['duration']))
    if len(d.channels) != int(h['NumSig']):
        errs.append('%d channels, edfReader has %s ordinary signals' %
                    (len(d.channels), h['NumSig']))
    nann = sum(raw.annot)
    if len(d.channels) + nann != raw.ns:
        errs.append('%d channels + %d annotation signal(s) != %d signals in '
                    'the file' % (len(d.channels), nann, raw.ns))
    if raw.hdrbytes != int(h['Bytes']):
        errs.append('fixture: header bytes %d vs %s' % (raw.hdrbytes,
                                                        h['Bytes']))
    if d.fields.get('file_type') != h['Reserved']:
        errs.append('file_type %r, expected %r' % (d.fields.get('file_type'),
                                                   h['Reserved']))
    for k, ck in (('patient', 'Subject'), ('recording', 'Recording')):
        if d.fields.get(k) != h[ck]:
            errs.append('%s %r, expected %r' % (k, d.fields.get(k), h[ck]))
    report(not errs, '%s: header (start, duration = %s x %s s, %s signals '
           '+ annotation signal, type, patient, recording)' %
           (t, h['NumRec'], h['Duration'], h['NumSig']), errs)
    # signals
    sk, sv = read_csv(prefix + '_signals.txt')
    errs = []
    if len(sv) != len(d.channels):
        errs.append('%d channels, expected %d' % (len(d.channels), len(sv)))
    for row in sv:
        s = dict(zip(sk, (v.strip() for v in row)))
        i = int(s['Signal']) - 1
        if i >= len(d.channels):
            continue
        c = d.channels[i]
        f = volt_scale(s['Units'].encode('latin-1'))
        unit = 'uV' if f else s['Units']
        f = f or 1.0
        want = {'label': s['Label'], 'transducer': s['Transducer'],
                'unit': unit, 'prefilter': s['PreFilter'],
                'dig_min': int(s['Dmin']), 'dig_max': int(s['Dmax']),
                'spr': int(s['Smp/Rec'])}
        for k, v in want.items():
            if c[k] != v:
                errs.append('signal %d %s %r, expected %r' % (i + 1, k, c[k],
                                                              v))
        for k, ck in (('phys_min', 'Min'), ('phys_max', 'Max')):
            if abs(c[k] - float(s[ck]) * f) > TOL:
                errs.append('signal %d %s %r, expected %r' %
                            (i + 1, k, c[k], float(s[ck]) * f))
        if c['period'] != raw.recdur:
            errs.append('signal %d period %d ticks, expected %d' %
                        (i + 1, c['period'], raw.recdur))
    report(not errs, '%s: %d signals: label, transducer, unit, phys and '
           'dig range, prefilter, samples per record' % (t, len(sv)), errs)
    # annotations
    ak, av = read_csv(prefix + '_annotations.txt')
    want = sorted((secs_ticks(row[0]),
                   secs_ticks(row[1]) if row[1].strip() else None, row[2])
                  for row in av)
    got = sorted((e['onset'], e['duration'], e['label']) for e in d.events)
    report(got == want, '%s: %d annotations: onset, duration, text' %
           (t, len(want)),
           ['got      %s' % (got,), 'expected %s' % (want,)])
    # samples
    dk, dv = read_csv(prefix + '_data.txt')
    data = np.array(dv, dtype=np.float64)
    errs = []
    for col in range(1, len(dk)):
        i = int(dk[col]) - 1
        if i >= len(d.channels):
            errs.append('no channel for column %s' % dk[col])
            continue
        ok = ~np.isnan(data[:, col])
        tt, xx = d.series(i)
        e = compare_series(tt / TICKS, xx, data[ok, 0], data[ok, col],
                           float_tol, TOL)
        errs += ['%s: %s' % (d.channels[i]['label'], m) for m in e]
    report(not errs, '%s: every sample (%d x %d) and its time within %g' %
           (t, len(dv), len(dk) - 1, TOL), errs)


# ---- our own decoding -------------------------------------------------------

def check_decode(path, backend, d, raw, what=None):
    """Every channel of dump d against the python decoding of raw."""
    t = tag(path, backend)
    errs = []
    if len(d.channels) != len(raw.ordinary):
        errs.append('%d channels, the file has %d ordinary signals' %
                    (len(d.channels), len(raw.ordinary)))
    for c, s in zip(d.channels, raw.ordinary):
        if c['label'] != raw.labels[s]:
            errs.append('channel %d label %r, file %r' % (c['index'],
                                                         c['label'],
                                                         raw.labels[s]))
        if c['spr'] != raw.spr[s] or c['period'] != raw.recdur:
            errs.append('channel %d: %d samples per %d ticks, file %d per %d'
                        % (c['index'], c['spr'], c['period'], raw.spr[s],
                           raw.recdur))
            continue
        tt, xx = d.series(c['index'])
        rt, rx = raw.series(s)
        q = raw.quantum(s)
        e = compare_series(tt, xx, rt, rx,
                           lambda x: np.maximum(float_tol(x), q * 1e-3))
        errs += ['%s: %s' % (c['label'], m) for m in e]
    n = sum(raw.spr[s] for s in raw.ordinary) * raw.nrec_read
    report(not errs, what or '%s: all %d samples and their times equal our '
           'own decoding of the file' % (t, n), errs)


def cmd_decode(path, backend):
    r = dump(path, backend)
    if not report(r.ok, '%s: psg-read | psg-dump exits 0' %
                  tag(path, backend), r.why()):
        return
    check_decode(path, backend, Dump(r.out), Edf(path))


# ---- edflib and native agree --------------------------------------------

def split_dump(d):
    """The lines that must be identical, the sorted events, and samples."""
    lines = [l for l in d.text.split('\n')
             if l and not l.startswith(('  ', 'history ', 'event '))]
    events = sorted(e['line'] for e in d.events)
    return lines, events


def cmd_backends(path):
    e = dump(path, 'edflib')
    if not e.ok:
        note('edflib rejects %s: %s' % (bname(path),
                                        ' '.join(e.why()[1:2])))
        return
    n = dump(path, 'native')
    if not report(n.ok, '%s: native backend reads what edflib reads' %
                  bname(path), n.why()):
        return
    de, dn = Dump(e.out), Dump(n.out)
    le, ee = split_dump(de)
    ln, en = split_dump(dn)
    errs = []
    if le != ln:
        for i, (a, b) in enumerate(zip(le, ln)):
            if a != b:
                errs.append('edflib: ' + a[:200])
                errs.append('native: ' + b[:200])
                break
        if len(le) != len(ln):
            errs.append('%d vs %d lines' % (len(le), len(ln)))
    if ee != en:
        only_e = sorted(set(ee) - set(en))[:3]
        only_n = sorted(set(en) - set(ee))[:3]
        errs.append('event lines differ (%d vs %d)' % (len(ee), len(en)))
        errs += ['edflib only: ' + l[:200] for l in only_e]
        errs += ['native only: ' + l[:200] for l in only_n]
    # Samples: the same up to the last bit of float32 (the two backends
    # compute physical values with different but equivalent formulas).
    nbad, first = 0, None
    if len(de.blocks) == len(dn.blocks):
        for be, bn in zip(de.blocks, dn.blocks):
            if be['x'] is None or bn['x'] is None or \
                    len(be['x']) != len(bn['x']):
                continue
            c = de.channels[be['channel']]
            span = c['dig_max'] - c['dig_min']
            q = abs(c['phys_max'] - c['phys_min']) / span if span else 0
            a = be['x'].astype(np.float32).astype(np.float64)
            b = bn['x'].astype(np.float32).astype(np.float64)
            ulp = np.spacing(np.maximum(np.abs(a), np.abs(b)).astype(
                np.float32)).astype(np.float64)
            bad = np.nonzero(np.abs(a - b) > ulp + q * 1e-3)[0]
            if len(bad):
                nbad += len(bad)
                if first is None:
                    i = bad[0]
                    first = ('channel %d %r at %s (%s): edflib %.9g, '
                             'native %.9g' % (be['channel'], c['label'],
                                              be['line'].split()[2], i,
                                              a[i], b[i]))
    if nbad:
        errs.append('%d sample values differ; first: %s' % (nbad, first))
    report(not errs, '%s: edflib and native backends give the same dump '
           '(header, blocks, sorted events, samples)' % bname(path), errs)


# ---- EDF+D -------------------------------------------------------------

EDFPLUSD_ONSETS = [0, 2, 4, 5, 6, 7, 8, 9, 12, 15, 19]
EDFPLUSD_SEGMENTS = [(0, 1), (2, 3), (4, 10), (12, 13), (15, 16), (19, 20)]


def cmd_edfplusd(path):
    raw = Edf(path)
    onsets = [o / TICKS for o in raw.record_onsets()]
    report(raw.reserved == 'EDF+D' and raw.nrec == 11 and
           onsets == EDFPLUSD_ONSETS and
           all(raw.spr[s] == 200 for s in raw.ordinary),
           'edfPlusD.edf (fixture, decoded here): EDF+D, 11 records of 1 s, '
           '200 Hz, record onsets %s' % EDFPLUSD_ONSETS,
           ['type %s, %d records, onsets %s' % (raw.reserved, raw.nrec,
                                               onsets)])
    seg_ticks = [(a * TICKS, b * TICKS) for a, b in EDFPLUSD_SEGMENTS]
    for backend in ('auto', 'native'):
        t = tag(path, backend)
        if backend == 'auto':   # psg-info reads the file itself
            p = subprocess.run(['psg-info', '--json', path],
                               capture_output=True, timeout=TIMEOUT)
            ok, js = p.returncode == 0, None
            why = [dec(p.stderr)]
            if ok:
                js = json.loads(dec(p.stdout))
        else:
            r = info_json(path, backend)
            ok, js, why = r.ok, r.json, r.why()
        if report(ok, '%s: psg-info --json exits 0' % t, why):
            segs = [(s['onset_s'], s['end_s']) for s in js['segments']]
            errs = [] if segs == [(float(a), float(b)) for a, b in
                                  EDFPLUSD_SEGMENTS] else \
                ['segments %s' % segs]
            for c in js['channels']:
                if c['segments'] != 6 or c['samples'] != 2200:
                    errs.append('channel %s: %s segments, %s samples' %
                                (c['label'], c['segments'], c['samples']))
            report(not errs, '%s: psg-info segments are exactly %s' %
                   (t, EDFPLUSD_SEGMENTS), errs)
        r = dump(path, backend)
        if not report(r.ok, '%s: psg-read | psg-dump exits 0' % t, r.why()):
            continue
        d = Dump(r.out)
        errs = []
        if d.fields.get('file_type') != 'EDF+D':
            errs.append('file_type %r' % d.fields.get('file_type'))
        for c in d.channels:
            blocks = [b for b in d.blocks if b['channel'] == c['index']]
            for b in blocks:
                seg = [s for s in seg_ticks if s[0] == b['t0']]
                end = sample_time(b['t0'], b['offset'] + b['n'], c['spr'],
                                  c['period'])
                if not seg or end > seg[0][1] or b['offset'] < 0:
                    errs.append('channel %d block t0=%.7f offset=%d n=%d is '
                                'not inside a segment starting at t0' %
                                (c['index'], b['t0'] / TICKS, b['offset'],
                                 b['n']))
            tt, _ = d.series(c['index'])
            want = np.concatenate([o * TICKS + np.arange(200) * TICKS // 200
                                   for o in EDFPLUSD_ONSETS])
            errs += ['channel %d: %s' % (c['index'], m) for m in
                     compare_series(tt, None, want, None, 0)]
        report(not errs, '%s: data blocks have t0 = their segment\'s start '
               'and offsets within it; sample times = record onsets' % t,
               errs[:8])
        check_decode(path, backend, d, raw,
                     '%s: every record\'s samples equal our own decoding of '
                     'that record' % t)


# ---- single properties -------------------------------------------------

def cmd_subsecond(path):
    raw = Edf(path)
    sub = raw.subsecond()
    want = '%s.%07d' % (raw.start_iso(), sub)
    report(want.endswith('.3945312'), '%s (fixture, decoded here): start '
           '%s' % (bname(path), want))
    for backend in ('edflib', 'native'):
        r = dump(path, backend, samples=False)
        if report(r.ok, '%s: psg-read | psg-dump exits 0' %
                  tag(path, backend), r.why()):
            got = Dump(r.out).fields.get('start')
            report(got == want, '%s: start line is %s' %
                   (tag(path, backend), want), ['start %s' % got])


def cmd_utf8(path, text='\u4e2d\u6587\u6d4b\u8bd5\u516b\u4e2a\u5b57'):
    raw = Edf(path)
    report(any(t == text for _, _, t in raw.annotations()),
           '%s (fixture, decoded here): a TAL holds %s' % (bname(path), text))
    for backend in ('edflib', 'native'):
        r = dump(path, backend, samples=False)
        if report(r.ok, '%s: psg-read | psg-dump exits 0' %
                  tag(path, backend), r.why()):
            labels = [e['label'] for e in Dump(r.out).events]
            report(text in labels, '%s: an event is labelled %s (UTF-8 kept)'
                   % (tag(path, backend), text), ['labels %s' % labels])


def cmd_multiann(path):
    raw = Edf(path)
    nsig = sum(raw.annot)
    per = {}
    for _, s, _, _, texts in raw.tals():
        per[s] = per.get(s, 0) + len(texts)
    want = sorted(raw.annotations())
    note('%s: %d annotation signals, %d annotations (%s per signal)' %
         (bname(path), nsig, len(want), ','.join(str(per.get(s, 0)) for s in
                                                 range(raw.ns)
                                                 if raw.annot[s])))
    for backend in ('edflib', 'native'):
        t = tag(path, backend)
        r = info_json(path, backend)
        if report(r.ok, '%s: psg-read | psg-info --json exits 0' % t,
                  r.why()):
            n = r.json['events'].get('annotations')
            report(n == len(want), '%s: psg-info counts the %d annotations '
                   'of all %d annotation signals' % (t, len(want), nsig),
                   ['psg-info: %s' % n])
        r = dump(path, backend, samples=False)
        if report(r.ok, '%s: psg-read | psg-dump exits 0' % t, r.why()):
            got = sorted((e['onset'], e['duration'], e['label'])
                         for e in Dump(r.out).events)
            miss = [a for a in want if a not in got][:5]
            extra = [a for a in got if a not in want][:5]
            report(got == want, '%s: the events are exactly the TALs\' '
                   'onsets, durations and texts' % t,
                   ['missing %s' % miss, 'unexpected %s' % extra])


def cmd_rates(path):
    raw = Edf(path)
    for backend in ('auto', 'native'):
        t = tag(path, backend)
        if backend == 'auto':
            p = subprocess.run(['psg-info', '--json', path],
                               capture_output=True, timeout=TIMEOUT)
            ok, why = p.returncode == 0, [dec(p.stderr)]
            js = json.loads(dec(p.stdout)) if ok else None
        else:
            r = info_json(path, backend)
            ok, js, why = r.ok, r.json, r.why()
        if not report(ok, '%s: psg-info --json exits 0' % t, why):
            continue
        errs = []
        for c, s in zip(js['channels'], raw.ordinary):
            want = raw.spr[s] * TICKS / raw.recdur   # 975 / 2 s = 487.5
            if c['rate_hz'] != want or c['samples_per_period'] != raw.spr[s] \
                    or ticks('%.7f' % c['period_s']) != raw.recdur:
                errs.append('%s: rate_hz %r, samples_per_period %r, '
                            'period_s %r; expected %r = %d / %g s' %
                            (c['label'], c['rate_hz'],
                             c['samples_per_period'], c['period_s'], want,
                             raw.spr[s], raw.recdur / TICKS))
        if len(js['channels']) != len(raw.ordinary):
            errs.append('%d channels, expected %d' % (len(js['channels']),
                                                      len(raw.ordinary)))
        report(not errs, '%s: rate_hz is exactly samples per record / %g s '
               '(%s)' % (t, raw.recdur / TICKS,
                         ', '.join('%g' % (raw.spr[s] * TICKS / raw.recdur)
                                   for s in raw.ordinary)), errs)


def cmd_nox(path, label):
    raw = Edf(path)
    s = raw.labels.index(label)
    note('%s: signal %d %r unit %r range %g..%g' % (
        bname(path), s, label, raw.units[s], raw.pmin[s], raw.pmax[s]))
    r = dump(path, None, extra=['-c', label])
    t = tag(path, 'auto')
    if not report(r.ok, '%s: psg-read -c %s | psg-dump exits 0' %
                  (t, label), r.why()):
        return
    d = Dump(r.out)
    if not report(len(d.channels) == 1 and d.channels[0]['label'] == label,
                  '%s: -c %s selects exactly channel %s' % (t, label, label),
                  ['channels %s' % [c['label'] for c in d.channels]]):
        return
    c = d.channels[0]
    report(raw.units[s] == 'V' and c['unit'] == 'uV' and
           abs(c['phys_min'] - raw.pmin[s] * 1e6) < TOL and
           abs(c['phys_max'] - raw.pmax[s] * 1e6) < TOL,
           '%s: %s (unit V in the file) is in uV, range scaled by 1e6' %
           (t, label), ['unit %r range %g..%g, file %r %g..%g' %
                        (c['unit'], c['phys_min'], c['phys_max'],
                         raw.units[s], raw.pmin[s], raw.pmax[s])])
    tt, xx = d.series(0)
    rt, rx = raw.series(s)
    errs = compare_series(tt, xx, rt, rx, float_tol)
    picks = [0, 1, 2, 1000, len(rx) // 2, len(rx) - 1] if len(rx) else []
    if not errs and len(xx) == len(rx):
        note('%s samples %s: %s (python: %s)' % (
            label, picks, ' '.join('%.6g' % xx[i] for i in picks),
            ' '.join('%.6g' % rx[i] for i in picks)))
    report(not errs and len(rx) > 0 and np.abs(rx).max() > 1,
           '%s: %s samples equal our decoding x 1e6 (%d samples)' %
           (t, label, len(rx)), errs)


def cmd_hypnogram(hyp, psg, count):
    count = int(count)
    rawh = Edf(hyp)
    rawp = Edf(psg)
    anns = sorted(rawh.annotations())
    report(len(anns) == count and
           (rawh.startdate, rawh.starttime) == (rawp.startdate,
                                                 rawp.starttime),
           '%s (fixture, decoded here): %d annotations, same start as the '
           'PSG' % (bname(hyp), count),
           ['%d annotations, start %s %s vs %s %s' %
            (len(anns), rawh.startdate, rawh.starttime, rawp.startdate,
             rawp.starttime)])
    own = dump(hyp, None, samples=False)
    if not report(own.ok, '%s: psg-read | psg-dump exits 0' % bname(hyp),
                  own.why()):
        return
    own_ev = [(e['onset'], e['duration'], e['label'])
              for e in Dump(own.out).events]
    report(sorted(own_ev) == anns, '%s: its own events equal its TALs' %
           bname(hyp), ['first %s' % own_ev[:3], 'TALs %s' % anns[:3]])
    r = dump(psg, None, samples=False, extra=['--annotations', hyp])
    if not report(r.ok, '%s --annotations %s: exits 0' % (bname(psg),
                                                          bname(hyp)),
                  r.why()):
        return
    d = Dump(r.out)
    ev = [(e['onset'], e['duration'], e['label']) for e in d.events]
    report(len(ev) == count, '%s --annotations %s: %d events' %
           (bname(psg), bname(hyp), count), ['%d events' % len(ev)])
    report(ev == own_ev, 'merged events (onset, duration, label, order) '
           'equal the hypnogram\'s own',
           ['first differences: %s' %
            [(a, b) for a, b in zip(ev, own_ev) if a != b][:3]])
    times = [e['onset'] for e in d.events]
    report(times == sorted(times), 'merged events come in onset order')


def cmd_select(psg):
    raw = Edf(psg)
    t = bname(psg)
    r = dump(psg, None, extra=['-c', 'EEG*'], samples=False)
    if report(r.ok, '%s -c \'EEG*\': exits 0' % t, r.why()):
        d = Dump(r.out)
        labels = [c['label'] for c in d.channels]
        want = [l for l in raw.labels if l.startswith('EEG')]
        chans = sorted({b['channel'] for b in d.blocks})
        report(labels == want and len(want) == 2 and chans == [0, 1],
               '%s -c \'EEG*\': exactly the channels %s, and only their '
               'data' % (t, want), ['channels %s, data of %s' % (labels,
                                                                 chans)])
    r = dump(psg, None, extra=['-c', '2'])
    if report(r.ok, '%s -c 2: exits 0' % t, r.why()):
        d = Dump(r.out)
        labels = [c['label'] for c in d.channels]
        if report(labels == ['EOG horizontal'] == raw.labels[2:3],
                  '%s -c 2: exactly channel index 2, \'EOG horizontal\'' % t,
                  ['channels %s' % labels]):
            check_decode(psg, 'auto', d, _Only(raw, 2),
                         '%s -c 2: its samples are those of signal 2' % t)
    p = subprocess.run(read_args(psg, None, ['-c', 'nosuch']),
                       capture_output=True, timeout=TIMEOUT)
    err = dec(p.stderr).splitlines()
    report(p.returncode == 3 and len(err) == 1 and
           err[0].startswith('psg-read: ') and not p.stdout,
           '%s -c nosuch: exit 3, one line \'psg-read: ...\' on stderr, '
           'no output' % t, ['exit %d, stderr %s, %d bytes out' %
                             (p.returncode, err, len(p.stdout))])


class _Only:
    """An Edf seen as if it held one ordinary signal."""

    def __init__(self, raw, s):
        self.__dict__.update(raw.__dict__)
        self._raw = raw
        self.ordinary = [s]

    def __getattr__(self, k):
        return getattr(self._raw, k)


def cmd_audio(edf, tmp):
    import wave
    rate, secs, freq, amp = 8000, 3, 440.0, 0.5
    n = rate * secs
    ideal = amp * np.sin(2 * np.pi * freq * np.arange(n) / rate)
    pcm = np.round(ideal * 32768).astype("<i2")   # libsndfile reads x / 32768
    wav = os.path.join(tmp, 'tone.wav')
    with wave.open(wav, 'wb') as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    t = '%s --audio tone.wav:Snore' % bname(edf)
    r = pipe(read_args(edf, None, ['--audio', wav + ':Snore']), ['psg-dump'],
             timeout=10)
    if not report(r.ok, '%s: psg-read | psg-dump exits 0 (within 10 s)' % t,
                  r.why()):
        return
    d = Dump(r.out)
    i = d.label_index('Snore')
    if not report(i is not None and d.channels[i]['rate'] == rate and
                  d.channels[i]['kind'] == 'AUDIO' and
                  d.channels[i]['spr'] * TICKS ==
                  rate * d.channels[i]['period'],
                  '%s: a channel \'Snore\', kind AUDIO, exactly %d Hz' %
                  (t, rate), ['channels %s' % [
                      (c['label'], c['kind'], c['rate']) for c in d.channels]]):
        return
    tt, xx = d.series(i)
    want_t = (np.arange(n, dtype=np.int64) * TICKS + rate // 2) // rate
    errs = compare_series(tt, xx, want_t, ideal, 1.0 / 32768)
    report(not errs, '%s: its %d samples and times equal the sine within '
           '1/32768' % (t, n), errs)
    ok = len(xx) == n and np.abs(xx - pcm / 32768.0).max() < 1e-7
    report(ok, '%s: samples are exactly the PCM values / 32768' % t)


def main(argv):
    cmds = {'csv': cmd_csv, 'decode': cmd_decode, 'backends': cmd_backends,
            'edfplusd': cmd_edfplusd, 'subsecond': cmd_subsecond,
            'utf8': cmd_utf8, 'multiann': cmd_multiann, 'rates': cmd_rates,
            'nox': cmd_nox, 'hypnogram': cmd_hypnogram, 'select': cmd_select,
            'audio': cmd_audio}
    sys.stdout.reconfigure(encoding='utf-8', errors='backslashreplace')
    if len(argv) < 2 or argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[argv[1]](*argv[2:])


if __name__ == '__main__':
    main(sys.argv)
