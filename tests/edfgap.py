#!/usr/bin/env python3
"""edfgap.py IN OUT K G -- IN (an EDF+C) as an EDF+D whose records from K on
start G seconds later: the same samples with a pause of G s after record
K-1 (only the time-keeping TALs change)."""
import sys
src, dst, k, g = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
b = bytearray(open(src, 'rb').read())
hdr = int(b[184:192]); nrec = int(b[236:244])
ns = int(b[252:256])
labels = [b[256 + 16 * i:272 + 16 * i].decode().strip() for i in range(ns)]
off = 256 + ns * 216
spr = [int(b[off + 8 * i:off + 8 * i + 8]) for i in range(ns)]
recbytes = 2 * sum(spr)
ai = labels.index('EDF Annotations')
aoff, n = 2 * sum(spr[:ai]), 2 * spr[ai]
b[192:197] = b'EDF+D'
for r in range(k, nrec):
    p = hdr + r * recbytes + aoff
    tal = bytes(b[p:p + n])
    end = tal.index(b'\x14\x14\x00') + 3
    on = float(tal[1:end - 3]) + g
    b[p:p + n] = (b'+%g\x14\x14\x00' % on + tal[end:])[:n].ljust(n, b'\0')
open(dst, 'wb').write(b)
