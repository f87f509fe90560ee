#!/bin/sh
# psg-spectrum --spectra -> ARRY records (stream 1.1) -> /spectra/<label>
# in HDF5: shape, axis, NaN for missing rows, and each row integrated
# over a band equals that epoch's band-power column.  Needs no shared data.
. "$ROOT/tests/lib.sh"
if ! have_h5py; then skip "h5py missing"; finish; fi
psg-synth -H 0.1 -p clean -s 3 -o "$TMP/n.edf" >/dev/null
psg-read "$TMP/n.edf" | psg-spectrum -c 'F4-M1,C4-M1' --spectra |
	psg-h5 -o "$TMP/n.h5"
check "psg-synth | psg-read | psg-spectrum --spectra | psg-h5 runs" \
	test -f "$TMP/n.h5"
$PY - "$TMP/n.h5" >"$TMP/out" 2>&1 <<'PYEOF'
import sys
import h5py
import numpy as np
f = h5py.File(sys.argv[1], "r")
ok = lambda c, m: print(("ok - " if c else "not ok - ") + m)
g = f["spectra"]
ok(sorted(g) == ["C4-M1", "F4-M1"], "/spectra holds F4-M1 and C4-M1: %s" % sorted(g))
d = g["F4-M1"]
ne = f["epochs"].shape[0]
ok(d.shape == (ne, 513), "shape %s == (%d epochs, 513 bins at 256 Hz)" % (d.shape, ne))
ok(d.attrs["x0"] == 0 and d.attrs["dx"] == 0.25 and d.attrs["unit"] == "uV^2/Hz",
   "axis attributes x0=0, dx=0.25 Hz, unit uV^2/Hz")
ep = f["epochs"][:]
k = np.arange(513) * 0.25
band = (k >= 0.5) & (k < 4)
rel = [abs(row[band].sum() * 0.25 / e["F4_M1_delta"] - 1)
       for row, e in zip(d[:], ep)]
ok(max(rel) < 1e-5, "each row integrated over 0.5-4 Hz equals F4_M1_delta "
   "(max relative difference %.2g)" % max(rel))
ok(d.attrs["channel_index"] == 0, "channel_index points at /channels")
PYEOF
while IFS= read -r line; do
	case $line in
	"ok - "*) pass "${line#ok - }" ;;
	"not ok - "*) flunk "${line#not ok - }" ;;
	*) echo "# $line" ;;
	esac
done <"$TMP/out"
finish
