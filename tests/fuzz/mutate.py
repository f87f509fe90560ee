#!/usr/bin/env python3
"""mutate.py -- mutation fuzzing through whole programs (issue 16).

libFuzzer (tests/fuzz/fuzz_read.c) drives libpsg's readers; this drives the
stage programs themselves, on what they read that no harness covers:

  stream  a stream through every stage that reads one: psg-dump, psg-info,
          psg-filter, psg-spectrum, psg-sws, psg-wake, psg-spindle,
          psg-emg, psg-stage, psg-h5, and psg-score (as the scored
          stream)
  h5      a night's HDF5 result through psg-collect, psg-report and
          psg-export (every output)
  audio   WAV and AU files through psg-read --audio
  text    hypnograms and reference events through psg-synth --hypnogram,
          psg-read -a, psg-score -r and psg-score -e

Each case is a seed file with one to three deterministic mutations (bit
flips, byte runs, truncation, splices, numeric-field edits, a repeated
8-byte pattern, a deleted or doubled region), chosen by a random generator
seeded from (--seed, target, case number): `--case N` redoes case N.  The
case's file goes through every program of its target, each run in a fresh
directory with a time limit (--timeout, default 30 s) and a file-size
limit (RLIMIT_FSIZE, 100 MiB).  A run must:

  - not die of a signal, time out, or report a sanitizer error;
  - exit 0, 2 or 3 (3: valid but unsuitable), and on 2 or 3 print exactly
    one `psg-<verb>: ...` line besides warnings; no message may carry
    control characters (a corrupt input quoted raw);
  - write no file over --max-out (32 MiB: the seeds are under 400 KB, and
    the largest valid output is psg-synth's night of a 1-day hypnogram,
    27.6 MB, with PSG_MAX_DAYS=1 at 50 Hz; more is runaway output) and
    leave no temporary file (*.tmp.*).

A result reader that ends with "the HDF5 library crashed" (the crash probe
of stages/stage.h, for libhdf5 faults on corrupt files) is run again with
the probe off (PSG_CRASH_PROBE=0): the case is counted as a caught
libhdf5 crash only when the sanitizer's or the kernel's report puts the
fault inside libhdf5; anything else is a finding.

Findings go to OUT/findings/TARGET-HASH.EXT with TARGET-HASH.why (the
command and what went wrong); OUT/summary.txt gets a line per target.  Exit 1 when
there is a finding.

  tests/fuzz/mutate.py --build build-san --seconds 600 --out build-fuzz/mutate
  tests/fuzz/mutate.py --targets h5 --case 17      # one case again
"""
import argparse
import glob
import hashlib
import os
import random
import re
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import wave

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
FSIZE = 100 << 20

# The programs of each target; {f} is the mutated file, {psg} a valid
# scored stream, {edf} a valid recording.  "<" feeds {f} on stdin.
TARGETS = {
    'stream': ('.psg', [
        '< psg-dump --no-samples', '< psg-info -',
        '< psg-filter -c 0 --highpass 0.5 --lowpass 15', '< psg-spectrum',
        '< psg-sws --optional', '< psg-wake --optional',
        '< psg-spindle --optional', '< psg-emg --optional',
        '< psg-stage --optional',
        '< psg-h5 --signals -o out.h5',
        'psg-score -r {hyp} -e {events} {f}']),
    'h5': ('.h5', [
        'psg-collect {f}', 'psg-collect -o c.h5 {f}',
        'psg-collect --long {f}', 'psg-report {f} -o r.html',
        'psg-report --cohort -o c.html {f}',
        'psg-export {f} --edf-annotations a.edf --bids b --tsv t']),
    'audio': ('.wav', [
        'psg-read --audio {f}:mic {edf}',
        'psg-read --audio {f} --audio-offset 1 {edf}']),
    # psg-synth writes as long a night as the hypnogram says: with a 1-day
    # limit at 50 Hz its largest is 27.6 MB, under --max-out.
    'text': ('.tsv', [
        'env PSG_MAX_DAYS=1 psg-synth --hypnogram {f} -n 2 --eeg-rate 50 '
        '--emg-rate 50 -o x.edf', 'psg-read -a {f} {edf}', 'psg-score -r {f} {psg}',
        'psg-score -e {f} {psg}']),
}

INTS = [0, 1, -1, 2, 255, 0x7fffffff, -0x80000000, 0xffffffff, 1 << 31,
        1 << 62, (1 << 63) - 1, -(1 << 63), 86400, 30]
FLOATS = [0.0, -0.0, float('nan'), float('inf'), -float('inf'), 1e300,
          -1e300, 1e-300, 1e9]
NUMBERS = [b'0', b'-1', b'1e300', b'-1e300', b'nan', b'inf', b'-inf',
           b'99999', b'2147483648', b'9223372036854775807',
           b'-9223372036854775808', b'0.0001', b'1e-300', b'', b' ',
           b'18446744073709551616', b'0x10', b'3e9']


# ---- mutations --------------------------------------------------------------

def m_bitflip(b, r, _):
    for _ in range(r.randint(1, 8)):
        i = r.randrange(len(b))
        b[i] ^= 1 << r.randrange(8)


def m_run(b, r, _):
    i = r.randrange(len(b))
    n = min(len(b) - i, r.randint(1, 64))
    fill = r.choice([0, 0xff, r.randrange(256), None])
    b[i:i + n] = (bytes(r.randrange(256) for _ in range(n)) if fill is None
                  else bytes([fill]) * n)


def m_truncate(b, r, _):
    del b[r.randrange(len(b)):]


def m_splice(b, r, other):
    src = other if other and r.random() < 0.5 else bytes(b)
    i = r.randrange(len(src))
    chunk = src[i:i + r.randint(1, 256)]
    j = r.randrange(len(b) + 1)
    if r.random() < 0.5:
        b[j:j] = chunk
    else:
        b[j:j + len(chunk)] = chunk


def m_number(b, r, _):
    """A number of a text field, or an aligned binary integer or double,
    replaced by an extreme."""
    nums = [m.span() for m in re.finditer(rb'-?\d+(\.\d+)?', bytes(b))]
    if nums and r.random() < 0.6:
        s, e = r.choice(nums)
        b[s:e] = r.choice(NUMBERS)
        return
    w = r.choice([4, 8])
    if len(b) < w:
        return
    i = r.randrange(len(b) - w + 1) & ~(w - 1)
    if w == 8 and r.random() < 0.4:
        b[i:i + 8] = struct.pack('<d', r.choice(FLOATS))
    else:
        v = r.choice(INTS) & ((1 << 8 * w) - 1)
        b[i:i + w] = v.to_bytes(w, 'little')


def m_pattern(b, r, _):
    """An 8-byte pattern repeated over a region: a libhdf5 crash was once
    an events dataset of such bytes."""
    i = r.randrange(len(b))
    pat = bytes(b[i:i + 8]) or b'\xff' * 8
    n = min(len(b) - i, r.randint(64, 4096))
    b[i:i + n] = (pat * (n // len(pat) + 1))[:n]


def m_region(b, r, _):
    i = r.randrange(len(b))
    n = r.randint(1, 512)
    if r.random() < 0.5:
        del b[i:i + n]
    else:
        b[i:i] = b[i:i + n]


MUTATIONS = [m_bitflip, m_run, m_truncate, m_splice, m_number, m_number,
             m_pattern, m_region]


def mutate(seed, other, r):
    b = bytearray(seed)
    for _ in range(r.randint(1, 3)):
        if not b:
            break
        r.choice(MUTATIONS)(b, r, other)
    return bytes(b)


# ---- seeds --------------------------------------------------------------------

def sh(cmd, cwd, env):
    subprocess.run(cmd, shell=True, cwd=cwd, env=env, check=True,
                   stderr=subprocess.DEVNULL)


def write_wav(path, rate, chans, width):
    with wave.open(path, 'wb') as w:
        w.setnchannels(chans)
        w.setsampwidth(width)
        w.setframerate(rate)
        n = rate // 2
        w.writeframes(b''.join(
            (((i * 37) % 200 - 100) * 100 >> (8 * (2 - width)) &
             ((1 << 8 * width) - 1)).to_bytes(width, 'little') * chans
            for i in range(n)))


def write_au(path):
    """Sun AU: 8-bit mu-law, mono, 8 kHz, half a second."""
    data = bytes((i * 7) & 0xff for i in range(4000))
    with open(path, 'wb') as f:
        f.write(struct.pack('>4sIIIII', b'.snd', 24, len(data), 1, 8000, 1))
        f.write(data)


def make_seeds(work, env):
    """Small valid inputs of each kind, made by the programs under test
    (the stream, the night) or written here (audio, text)."""
    d = os.path.join(work, 'seeds')
    os.makedirs(d)
    sh('psg-synth -H 0.05 -s 3 -n 4 --eeg-rate 64 --emg-rate 128 -o n.edf && '
       'psg-read n.edf | psg-wake | psg-sws --optional '
       '| psg-emg --optional > n.psg && psg-h5 -o n.h5 < n.psg', d, env)
    seeds = {
        'stream': [os.path.join(d, 'n.psg'),
                   os.path.join(ROOT, 'tests/fuzz/regress/stream-valid.psg')],
        'h5': [os.path.join(d, 'n.h5')],
        'audio': [os.path.join(d, f) for f in ('a16.wav', 'a8s.wav',
                                               'a.au')],
        'text': [os.path.join(d, 'n.events.tsv'),
                 os.path.join(ROOT, 'tests/fuzz/regress/hyp-valid.tsv'),
                 os.path.join(d, 'dreams.txt'), os.path.join(d, 'stages.txt'),
                 os.path.join(d, 'dreams-events.txt')],
    }
    write_wav(seeds['audio'][0], 8000, 1, 2)
    write_wav(seeds['audio'][1], 4000, 2, 1)
    write_au(seeds['audio'][2])
    with open(os.path.join(d, 'dreams.txt'), 'w') as f:
        f.write('[Hypnogram]\n' + ''.join('%d\n' % (i // 12 % 6)
                                          for i in range(36)))
    with open(os.path.join(d, 'stages.txt'), 'w') as f:
        f.write(''.join('%s\n' % s for s in 'W 1 2 2 3 4 R 2 W'.split()))
    with open(os.path.join(d, 'dreams-events.txt'), 'w') as f:
        f.write('[spindles]\n12.5 0.8\n40.25 1.1\n100 0.6\n')
    return seeds, os.path.join(d, 'n.edf'), os.path.join(d, 'n.psg'), \
        os.path.join(d, 'n.hypnogram.edf'), os.path.join(d, 'n.events.tsv')


# ---- running one program ------------------------------------------------

def limits():
    resource.setrlimit(resource.RLIMIT_FSIZE, (FSIZE, FSIZE))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)


def run(cmd, f, ctx, env, timeout):
    """One program on f in a fresh directory: (rc, stderr, dir); rc is
    -SIGNAL on a signal death, None on a timeout."""
    d = tempfile.mkdtemp(dir=ctx['work'])
    stdin = subprocess.DEVNULL
    if cmd.startswith('< '):
        cmd, stdin = cmd[2:], open(f, 'rb')
    line = cmd.format(f=f, **ctx)
    with open(os.path.join(d, 'stdout'), 'wb') as out:
        # exec: the program's own death, not sh's 128 + SIGNAL.
        p = subprocess.Popen('exec ' + line, shell=True, cwd=d, env=env, stdin=stdin,
                             stdout=out, stderr=subprocess.PIPE,
                             preexec_fn=limits, start_new_session=True)
        try:
            _, err = p.communicate(timeout=timeout)
            rc = p.returncode
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            _, err = p.communicate()
            rc = None
    if stdin is not subprocess.DEVNULL:
        stdin.close()
    return rc, err.decode('utf-8', 'replace'), line, d


def problems(rc, err, d, max_out):
    why = []
    if rc is None:
        why.append('timed out')
    elif rc < 0:
        why.append('killed by signal %d (%s)' % (-rc,
                                                 signal.Signals(-rc).name))
    elif rc not in (0, 2, 3):
        why.append('exit %d' % rc)
    if re.search(r'Sanitizer|runtime error:', err):
        why.append('sanitizer report')
    # Lines as a terminal and the shell tests see them; a message must
    # not carry the control characters of a corrupt input either.
    lines = err.rstrip('\n').split('\n') if err else []
    msgs = [l for l in lines if ': warning: ' not in l]
    if rc in (2, 3):
        if len(msgs) != 1:
            why.append('%d message lines' % len(msgs))
        elif not re.match(r'psg-[a-z0-9]+: .', msgs[0]):
            why.append("no 'psg-<verb>: ' message")
    if any(re.search(r'[\x00-\x08\x0b-\x1f\x7f]', l) for l in lines):
        why.append('control characters in a message')
    for dirpath, _, files in os.walk(d):
        for name in files:
            p = os.path.join(dirpath, name)
            if '.tmp.' in name:
                why.append('temporary file left: ' + name)
            elif os.path.getsize(p) > max_out:
                why.append('output %s of %d bytes' % (name,
                                                     os.path.getsize(p)))
    return why


def probe_caught(cmd, f, ctx, env, timeout):
    """The crash probe fired: was the fault inside libhdf5?  Run again
    without the probe and read the report of the death."""
    env = dict(env, PSG_CRASH_PROBE='0')
    rc, err, _, d = run(cmd, f, ctx, env, timeout)
    shutil.rmtree(d, ignore_errors=True)
    # The first frame outside the sanitizer's own (free() of a wild
    # pointer dies inside ASan's allocator, called from libhdf5).
    frames = [l for l in re.findall(r'^\s*#\d+ .*$', err, re.M)
              if not re.search(r'sanitizer|__interceptor_|__asan', l)]
    if frames:
        return 'libhdf5' in frames[0]
    # A release build: no report, a plain signal death.
    return rc is not None and rc < 0


# ---- the campaign -------------------------------------------------------------

def baseline(target, ctx, env, seeds, timeout):
    """Every program must accept some unmutated seed (exit 0): else the
    harness is broken (an option renamed) and every case would only test
    the refusal of the command line.  Returns the programs that do not."""
    bad = []
    for cmd in TARGETS[target][1]:
        ok = False
        for f in seeds[target]:
            rc, _, _, d = run(cmd, f, ctx, env, timeout)
            shutil.rmtree(d, ignore_errors=True)
            ok = ok or rc == 0
        if not ok:
            bad.append(cmd)
    return bad


def one_case(target, i, args, ctx, env, seeds, stats):
    ext, cmds = TARGETS[target]
    r = random.Random('%d:%s:%d' % (args.seed, target, i))
    pool = seeds[target]
    seed_path = r.choice(pool)
    with open(seed_path, 'rb') as fh:
        seed = fh.read()
    with open(r.choice(pool), 'rb') as fh:
        other = fh.read()
    data = mutate(seed, other, r)
    f = os.path.join(ctx['work'], 'case' + os.path.splitext(seed_path)[1])
    with open(f, 'wb') as fh:
        fh.write(data)
    for cmd in cmds:
        rc, err, line, d = run(cmd, f, ctx, env, args.timeout)
        stats['runs'] += 1
        stats['exit'][rc] = stats['exit'].get(rc, 0) + 1
        why = problems(rc, err, d, args.max_out)
        shutil.rmtree(d, ignore_errors=True)
        if not why and rc == 2 and 'HDF5 library crashed' in err:
            if probe_caught(cmd, f, ctx, env, args.timeout):
                stats['hdf5'] += 1
                continue
            why.append('the crash probe fired, the fault is not in '
                       'libhdf5')
        if why:
            stats['findings'] += 1
            save(target, i, data, os.path.splitext(seed_path)[1], line,
                 why, err, args)


def save(target, i, data, ext, line, why, err, args):
    h = hashlib.sha1(data).hexdigest()[:12]
    d = os.path.join(args.out, 'findings')
    os.makedirs(d, exist_ok=True)
    base = os.path.join(d, '%s-%s' % (target, h))
    with open(base + ext, 'wb') as fh:
        fh.write(data)
    with open(base + '.why', 'a') as fh:
        fh.write('case %d (--seed %d --targets %s --case %d)\n%s\n%s\n%s\n'
                 % (i, args.seed, target, i, line, '; '.join(why),
                    '\n'.join(err.splitlines()[:30])))
    print('FINDING %s case %d: %s: %s -> %s' % (target, i, line,
                                                '; '.join(why), base + ext),
          flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--build', default=os.environ.get('PSG_BUILD', 'build'))
    ap.add_argument('--targets', default=','.join(TARGETS))
    ap.add_argument('--seconds', type=float, default=10,
                    help='per target (default 10)')
    ap.add_argument('--cases', type=int, default=0,
                    help='per target, instead of --seconds')
    ap.add_argument('--case', type=int, default=-1, help='only this case')
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--timeout', type=float, default=30)
    ap.add_argument('--max-out', type=int, default=32 << 20)
    ap.add_argument('--out', default=os.path.join(ROOT, 'build-fuzz',
                                                  'mutate'))
    args = ap.parse_args()
    build = os.path.join(ROOT, args.build) if not os.path.isabs(
        args.build) else args.build
    env = dict(os.environ, PATH=os.path.join(build, 'bin') + ':' +
               os.environ.get('PATH', ''), LC_ALL='C')
    env.pop('PSG_CRASH_PROBE', None)
    os.makedirs(args.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix='psg-mutate.')
    found = 0
    try:
        seeds, edf, psg, hyp, events = make_seeds(work, env)
        ctx = {'work': work, 'edf': edf, 'psg': psg, 'hyp': hyp,
               'events': events}
        summary = open(os.path.join(args.out, 'summary.txt'), 'a')
        for target in args.targets.split(','):
            stats = {'runs': 0, 'findings': 0, 'hdf5': 0, 'exit': {}}
            bad = baseline(target, ctx, env, seeds, args.timeout)
            for cmd in bad:
                print('BROKEN %s: no seed passes %r' % (target, cmd))
            found += len(bad)
            t0, i = time.time(), 0
            cases = [args.case] if args.case >= 0 else None
            while True:
                if cases is not None:
                    if not cases:
                        break
                    i = cases.pop()
                elif (args.cases and i >= args.cases) or (
                        not args.cases and time.time() - t0 >= args.seconds):
                    break
                one_case(target, i, args, ctx, env, seeds, stats)
                i += 1
            ex = stats['exit']
            line = ('%s: %d cases, %d runs in %.0f s (exit 0/2/3: %d/%d/%d), '
                    '%d findings, %d libhdf5 crashes caught by the probe '
                    '(seed %d, %s)' %
                    (target, i if args.case < 0 else 1, stats['runs'],
                     time.time() - t0, ex.get(0, 0), ex.get(2, 0),
                     ex.get(3, 0), stats['findings'], stats['hdf5'],
                     args.seed, args.build))
            print(line, flush=True)
            summary.write(time.strftime('%Y-%m-%d %H:%M ') + line + '\n')
            found += stats['findings']
        summary.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if found else 0


if __name__ == '__main__':
    sys.exit(main())
