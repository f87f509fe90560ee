#!/usr/bin/python3
"""Prints what a psgpipe HDF5 file holds: root attributes, every table with
its size and first rows.  Usage: h5show.py FILE.h5 [ROWS]"""
import sys

import h5py


def text(v):
    return v.decode() if isinstance(v, bytes) else v


def show_table(name, ds, rows, width=8):
    cols = ds.dtype.names
    more = f" ... ({len(cols)} in all)" if len(cols) > width else ""
    print(f"{name}: {ds.shape[0]} rows; columns: {', '.join(cols[:width])}{more}")
    for row in ds[:rows]:
        cells = []
        for col, v in list(zip(cols, row))[:width]:
            v = text(v)
            cells.append(f"{col}={v:.6g}" if isinstance(v, float) else f"{col}={v}")
        print("   ", "  ".join(cells))
    if ds.shape[0] > rows:
        print("    ...")


def main():
    path = sys.argv[1]
    rows = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with h5py.File(path, "r") as f:
        print(f"== {path}")
        for k, v in f.attrs.items():
            if k == "history":
                for h in v:
                    print(f"history: {text(h)}")
            else:
                print(f"{k}: {text(v)}")

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and obj.dtype.names:
                show_table("/" + name, obj, rows)
            elif isinstance(obj, h5py.Dataset):
                print(f"/{name}: {obj.shape} {obj.dtype}")
        f.visititems(visit)
        if "summary" in f and len(f["summary"].attrs):
            print("summary:", dict(f["summary"].attrs))


if __name__ == "__main__":
    main()
