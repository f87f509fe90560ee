#!/bin/sh
# Long contractions (issue 18): a resting level must not rise while a
# contraction lasts, so that a 5-min contraction is one 5-min spasm and
# not two spasms with LMs between.  A generated recording (written here:
# 10-100 Hz noise, a 2-uV floor and 30-uV tonic contractions of 20 s to
# 5 min with 1-s ramps, on a leg, the chin and a paraspinal muscle, whose
# floors are 2, 4 and 3 uV) is scored against its own truth: on the leg,
# each contraction one spasm, onset within 2 s and duration within 20 %
# (issue 18's targets), and no other leg event inside it; in the general
# muscle events, each contraction one event on the three muscles (the
# chin's 91-s one was two 18-s bursts), each muscle's part a spasm within
# the same limits, and nothing else.
. "$ROOT/tests/lib.sh"
if ! have_h5py; then skip "h5py missing"; finish; fi

$PY - "$TMP/long.edf" <<'PYEOF'
import os
import sys
import numpy as np
sys.path.insert(0, os.environ["ROOT"] + "/tests")
from filter_check import write_edf

fs, n = 512, 40 * 60
rng = np.random.default_rng(18)
def band_noise(rms):
    X = np.fft.rfft(rng.standard_normal(fs * n))
    f = np.fft.rfftfreq(fs * n, 1 / fs)
    X[(f < 10) | (f > 100)] = 0
    y = np.fft.irfft(X, fs * n)
    return y * rms / y.std()
events = [(300, 300), (900, 91), (1300, 20), (1700, 150)]   # onset, s
t = np.arange(fs * n) / fs
env = np.zeros(fs * n)
for on, d in events:
    ramp = np.clip(np.minimum(t - on, on + d - t), 0, 1)
    env = np.maximum(env, 0.5 - 0.5 * np.cos(np.pi * ramp))
legs = [band_noise(2) + env * band_noise(30), band_noise(2)]
write_edf(sys.argv[1], [
    dict(label="Leg L", rate=fs, x=legs[0], pmin=-400, pmax=400),
    dict(label="Leg R", rate=fs, x=legs[1], pmin=-400, pmax=400),
    dict(label="Chin", rate=fs, x=band_noise(4) + env * band_noise(30),
         pmin=-400, pmax=400),
    dict(label="Paraspinal L", rate=fs, x=band_noise(3) +
         env * band_noise(20), pmin=-400, pmax=400)])
with open(sys.argv[1][:-4] + ".truth", "w") as out:
    out.writelines("%g\t%g\n" % e for e in events)
PYEOF
psg-read "$TMP/long.edf" | psg-emg --ecg none 2>"$TMP/err" |
	psg-h5 -o "$TMP/long.h5"
cat "$TMP/err"
$PY - "$TMP/long.h5" "$TMP/long.truth" >"$TMP/out" <<'PYEOF'
import sys
import h5py
ev = h5py.File(sys.argv[1])["events/emg_bursts"][:]
truth = [tuple(map(float, l.split())) for l in open(sys.argv[2])]
ok = lambda c, m: print(("ok - " if c else "not ok - ") + m)
for on, d in truth:
    inside = [e for e in ev if on - 2 <= e["onset"] < on + d and
              e["kind"] in (b"lm", b"spasm")]
    sp = [e for e in inside if e["kind"] == b"spasm"]
    got = ", ".join("%s %.1f s at %.1f" % (
        e["kind"].decode(), e["duration"], e["onset"])
        for e in inside)
    ok(len(inside) == 1 and len(sp) == 1 and
       abs(sp[0]["onset"] - on) <= 2 and
       abs(sp[0]["duration"] - d) <= 0.2 * d,
       "a %g-s contraction at %g s is one spasm, onset within 2 s, duration "
       "within 20 %%: %s" % (d, on, got or "nothing"))
me = h5py.File(sys.argv[1])["events/muscle_events"][:]
mp = h5py.File(sys.argv[1])["events/muscle_parts"][:]
want = {b"Leg L", b"Chin", b"Paraspinal L"}
for on, d in truth:
    ev = [e for e in me if on - 2 <= e["onset"] < on + d]
    parts = [p for p in mp if len(ev) == 1 and p["id"] == ev[0]["id"]]
    good = [p for p in parts if p["label"] == b"spasm" and
            abs(p["onset"] - on) <= 2 and abs(p["duration"] - d) <= 0.2 * d]
    ok(len(ev) == 1 and ev[0]["label"] == b"spasm" and
       ev[0]["muscles"] == 3 and {p["channel"] for p in good} == want,
       "the %g-s contraction is one muscle event, a spasm on Leg L, Chin "
       "and Paraspinal L, each within 2 s and 20 %%: %s" % (d, "; ".join(
           "%s %.1f s at %.1f on %d muscles" % (e["label"].decode(),
                                                e["duration"], e["onset"],
                                                e["muscles"]) for e in ev)
           or "nothing"))
ok(len(me) == len(truth), "no other muscle event (%d in all)" % len(me))
PYEOF
cat "$TMP/out"
grep -q '^not ok' "$TMP/out" && flunk "the contractions above"
grep -q '^ok' "$TMP/out" || flunk "the contraction checks did not run"
check "no sanitizer report from psg-emg" \
	sh -c "! grep -q 'runtime error\|Sanitizer' '$TMP/err'"
finish
