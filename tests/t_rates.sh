#!/bin/sh
# A channel sampled too slowly for the band a detector reads is refused
# for its role with a message naming the channel, its rate and the band,
# and the detector goes on with the other roles (issue 15, item 6).  A
# generated night is rewritten with its chin and ECG at 50 Hz (and slower
# copies of chin and EEG) by tests/filter_check.py's EDF writer; the real
# DREAMS excerpt 3 PSG has its chin EMG1 and ECG at 50 Hz.
. "$ROOT/tests/lib.sh"
if ! have_h5py; then skip "h5py missing"; finish; fi

psg-synth -H 1 -p plm -s 2 -o "$TMP/n.edf" >/dev/null
$PY - "$TMP/n.edf" "$TMP/slow.edf" <<'PYEOF'
import os
import sys
import numpy as np
sys.path.insert(0, os.environ["ROOT"] + "/tests")
import edfpy
from filter_check import write_edf

e = edfpy.read(sys.argv[1])
n = e["nrec"] * e["recdur"]
sig = e["signals"]
def chan(label, src, rate):
    x = sig[src]
    t = np.arange(int(n * rate)) / rate
    y = np.interp(t, np.arange(len(x)) / (len(x) / n), x)
    m = max(abs(y).max() * 1.2, 10)
    return dict(label=label, rate=rate, x=y, pmin=-m, pmax=m)
write_edf(sys.argv[2], [chan("C4-M1", "C4-M1", 256),
                        chan("E1-M2", "E1-M2", 256),
                        chan("Chin1-Chin2", "Chin1-Chin2", 50),
                        chan("Leg L", "Leg L", 512),
                        chan("Leg R", "Leg R", 512),
                        chan("ECG II", "ECG II", 50),
                        chan("Chin 20Hz", "Chin1-Chin2", 20),
                        chan("C4 25Hz", "C4-M1", 25),
                        chan("F4 6Hz", "F4-M1", 6)])
PYEOF
check "a generated night with a 50-Hz chin and ECG was written" \
	test -s "$TMP/slow.edf"

psg-read "$TMP/slow.edf" | psg-emg 2>"$TMP/emg.err" | psg-h5 -o "$TMP/emg.h5"
sed 's/^/# /' "$TMP/emg.err"
check "psg-emg refuses the 50-Hz chin, naming its rate and the band" \
	grep -q "chin EMG 'Chin1-Chin2' at 50 Hz cannot carry the 10-100 Hz band the EMG rules need (200 Hz or more): left out" "$TMP/emg.err"
check "psg-emg says the 50-Hz ECG is too slow, not that there is none" \
	sh -c "grep -q \"ECG 'ECG II' at 50 Hz is too slow to time R peaks\" '$TMP/emg.err' &&
	       ! grep -q 'no ECG channel' '$TMP/emg.err'"
fig() { $PY -c 'import h5py, sys; print(h5py.File(sys.argv[1])["summary"].attrs[sys.argv[2]])' "$@"; }
lm=$(fig "$TMP/emg.h5" lm_index) rmma=$(fig "$TMP/emg.h5" rmma_index)
check "psg-emg goes on with the legs: lm_index $lm/h, rmma_index $rmma (chin not measured)" \
	awk -v l="$lm" -v r="$rmma" 'BEGIN {exit !(l > 0 && r == "nan")}'
expect_exit 3 "psg-emg exits 3 when every EMG channel is too slow" \
	sh -c "psg-read '$TMP/slow.edf' | psg-emg --legs none"
check "...saying why (at 200 Hz or more)" \
	grep -q "no usable EMG channel (legs, chin, masseter or another muscle by label, at 200 Hz or more" "$TMP/stderr"

# psg-wake reads the chin's tone and the EEG against the night: part of
# their band will do (chin 10-20 Hz, EEG 4-20 Hz, so 40 Hz), none will not.
psg-read "$TMP/slow.edf" | psg-wake --emg 'Chin 20Hz' 2>"$TMP/wake.err" >/dev/null
sed 's/^/# /' "$TMP/wake.err"
check "psg-wake leaves a 20-Hz chin out, naming its rate and the band" \
	grep -q "chin EMG 'Chin 20Hz' at 20 Hz cannot carry the 10-20 Hz wake needs (40 Hz or more): left out" "$TMP/wake.err"
psg-read "$TMP/slow.edf" | psg-wake 2>"$TMP/wake50.err" >/dev/null
check "psg-wake keeps the 50-Hz chin (10-25 Hz of tone)" \
	sh -c "! grep -q 'cannot carry' '$TMP/wake50.err'"
expect_exit 3 "psg-wake refuses a 25-Hz EEG (exit 3)" \
	sh -c "psg-read '$TMP/slow.edf' | psg-wake -c 'C4 25Hz'"
check "...naming its rate and the band" \
	grep -q "EEG 'C4 25Hz' at 25 Hz cannot carry the 4-20 Hz wake needs (40 Hz or more)" "$TMP/stderr"
expect_exit 3 "psg-sws refuses a 6-Hz EEG (exit 3)" \
	sh -c "psg-read '$TMP/slow.edf' | psg-sws -c 'F4 6Hz'"
check "...naming its rate and the band" \
	grep -q "EEG 'F4 6Hz' at 6 Hz cannot carry the 0.3-4 Hz slow waves are measured in (8 Hz or more)" "$TMP/stderr"

if have_shared; then
	PSG="$SHARED/dreams/excerpt3_full_psg.edf"
	expect_exit 3 "DREAMS excerpt 3: psg-emg --chin EMG1 (50 Hz) exits 3" \
		sh -c "psg-read '$PSG' 2>/dev/null | psg-emg --chin EMG1"
	sed 's/^/# /' "$TMP/stderr"
	check "...saying EMG1 at 50 Hz cannot carry 10-100 Hz (200 Hz or more)" \
		grep -q "chin EMG 'EMG1' at 50 Hz cannot carry the 10-100 Hz band" "$TMP/stderr"
	psg-read "$PSG" 2>/dev/null | psg-emg --chin EMG1 --band 10-20 \
		2>"$TMP/d.err" >/dev/null
	sed 's/^/# --band 10-20: /' "$TMP/d.err"
	check "...with --band 10-20 it runs, and says its 50-Hz ECG is too slow" \
		sh -c "grep -q \"ECG 'ECG' at 50 Hz is too slow\" '$TMP/d.err' &&
		       ! grep -q 'no ECG channel' '$TMP/d.err'"
else
	skip "../shared absent: the DREAMS 50-Hz PSG"
fi
finish
