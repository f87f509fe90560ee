"""report_check.py -- a psg-report page as headless Chromium drew it (t_report.sh).

    /usr/bin/python3 report_check.py NIGHT.h5 PAGE.html SHOT.png WIDTH HEIGHT FIG.svg

Checks the screenshot, not only the file: its size, and in the plot the
pixels of each colour psg-report uses (calls W / N / N3, event marks, the
SWA line).  The band of epoch calls must span the plot's width, and its
share of wake pixels must match the share of wake epochs computed here
from /epochs (within 3 points), so a page that rendered blank, cut or
wrong fails.  Also: the page and the SVG parse as XML-ish text without
scripts or network references.
"""
import math
import os
import re
import sys
import xml.etree.ElementTree as ET

import h5py
import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(__file__))
from taplib import check, status  # noqa: E402

h5path, html, png, width, height, svg = sys.argv[1:7]
f = h5py.File(h5path, "r")
ep = f["epochs"][:]
wake = ep["wake"] if "wake" in ep.dtype.names else np.full(len(ep), np.nan)
sws = ep["sws"] if "sws" in ep.dtype.names else np.full(len(ep), np.nan)
calls = np.where(wake == 1, "W", np.where(wake == -1, "?", np.where(
    sws == 1, "N3", np.where(wake == 0, "N", "?"))))

im = np.asarray(Image.open(png).convert("RGB")).astype(int)
check(im.shape[1] == int(width) and im.shape[0] == int(height),
      "the screenshot is %sx%s (%dx%d)" % (width, height, im.shape[1],
                                            im.shape[0]))


def mask(hexcol, tol=12):
    rgb = [int(hexcol[i:i + 2], 16) for i in (1, 3, 5)]
    return (np.abs(im - rgb) <= tol).all(axis=2)


W, N, N3 = mask("#e6a23c"), mask("#9ecae1"), mask("#08519c")
band = W | N | N3
# The band is the tallest run of rows with call colours: the key below the
# figure has small swatches of the same colours, which this leaves out.
rows = band.sum(axis=1)
top = int(np.argmax(rows))
sel = rows > 0.5 * rows[top]
rowsel = np.zeros_like(sel)
i = top
while i >= 0 and sel[i]:
    rowsel[i] = True
    i -= 1
i = top + 1
while i < len(sel) and sel[i]:
    rowsel[i] = True
    i += 1
b = band[rowsel]
cols = np.where(b.any(axis=0))[0]
span = (cols.max() - cols.min() + 1) if len(cols) else 0
check(span > 0.7 * int(width), "the band of epoch calls spans the plot "
      "(%d of %s px)" % (span, width))
nonblank = int(b.sum())
check(nonblank > 5 * span, "...and is drawn, %d coloured pixels in %d rows"
      % (nonblank, rowsel.sum()))
share = W[rowsel].sum() / max(1, nonblank)
want = (calls == "W").sum() / max(1, ((calls == "W") | (calls == "N") |
                                      (calls == "N3")).sum())
check(abs(share - want) < 0.03, "its wake share %.3f matches the wake "
      "epochs' %.3f" % (share, want))
if (calls == "N3").any():
    check(N3[rowsel].sum() > 0, "N3 epochs show in the band (%d px)"
          % N3[rowsel].sum())
nev = sum(len(d) for k, d in f["events"].items() if k != "annotations")
evpx = int(mask("#b3127a").sum())
check((evpx > 0) == (nev > 0), "event marks drawn (%d px for %d events)"
      % (evpx, nev))
if "swa" in ep.dtype.names and np.isfinite(ep["swa"]).any():
    check(mask("#2c7f3f", 40).sum() > 50, "the SWA line is drawn (%d px)"
          % mask("#2c7f3f", 40).sum())

page = open(html).read()
check(not re.search(r"<script|\bsrc=|\bhref=|https?://|@import|url\(", page),
      "the page has no scripts and no references to load")
check(f.attrs["source_sha256"] in page and "psgpipe" in page,
      "the page names the recording's SHA-256 and the version")
figs = list(f["summary"].keys())
check(all(k in page for k in figs), "the page lists every /summary figure "
      "(%d)" % len(figs))
try:
    root = ET.parse(svg).getroot()
    ok = root.tag.endswith("svg") and len(list(root.iter())) > 20
except ET.ParseError as e:
    ok = False
    print("# " + str(e))
check(ok, "--svg writes a well-formed SVG document")
sys.exit(status())
