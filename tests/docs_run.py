"""docs_run.py -- runs the code blocks of the docs that read results (t_docs.sh).

    /usr/bin/python3 docs_run.py DIR FILE.md...

DIR holds a generated night's outputs as the docs name them (night.h5 with
/signals and /spectra, cohort.h5, cohort.csv).  Every fenced block of the
given Markdown files runs there:

  ```python   with /usr/bin/python3; the short snippets that use `f` without
              opening it get `f = h5py.File("night.h5", "r")` (and h5py,
              numpy as np, pandas as pd) first, as the docs say
  ```r        with Rscript; skipped, saying why, when R or a library it
              loads is not installed
  ```sh       only blocks whose first line is "# in a directory with
              night.h5" (the others set up or run pipelines on data that is
              not here); with sh -e
  ```matlab   not run: no MATLAB here (Octave cannot read the compound
              tables: psg-export --tsv is the Octave path)

A block passes when it exits 0.
"""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import taplib  # noqa: E402
from taplib import check, status  # noqa: E402

PRELUDE = ("import h5py\nimport numpy as np\nimport pandas as pd\n"
           "f = h5py.File('night.h5', 'r')\n")
SH_MARK = "# in a directory with night.h5"
FENCE = re.compile(r"^```(\w*)\s*$")


def skip(why):
    taplib.n += 1
    print("ok %d - # SKIP %s" % (taplib.n, why))


def blocks(path):
    lang, start, body = None, 0, []
    for i, line in enumerate(open(path, encoding="utf-8"), 1):
        m = FENCE.match(line.rstrip("\n"))
        if m and lang is None:
            lang, start, body = m.group(1) or "text", i, []
        elif line.startswith("```") and lang is not None:
            yield lang, start, "".join(body)
            lang = None
        elif lang is not None:
            body.append(line)


def r_missing(code):
    if not shutil.which("Rscript"):
        return "R is not installed (r-base-core)"
    for lib in re.findall(r"library\((\w+)\)", code):
        ok = subprocess.run(["Rscript", "-e", "quit(status = !requireNamespace"
                             "('%s', quietly = TRUE))" % lib],
                            capture_output=True).returncode == 0
        if not ok:
            return "R library %s is not installed" % lib
    return None


def run(cmd, where, what):
    p = subprocess.run(cmd, cwd=where, capture_output=True, text=True,
                       timeout=300)
    if not check(p.returncode == 0, what):
        for ln in (p.stdout + p.stderr).strip().splitlines()[-12:]:
            print("#   " + ln[:300])


def main():
    where = sys.argv[1]
    for md in sys.argv[2:]:
        name = os.path.relpath(md, os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))))
        for lang, line, code in blocks(md):
            what = "%s:%d (%s) runs" % (name, line, lang)
            missing = [m for m in re.findall(r"^import (\w+)", code, re.M)
                       if lang == "python" and subprocess.run(
                           ["/usr/bin/python3", "-c", "import " + m],
                           capture_output=True).returncode]
            if missing:
                skip("%s: Python module %s is not installed" % (what,
                                                                missing[0]))
            elif lang == "python":
                pre = PRELUDE if re.search(r"\bf\[", code) and \
                    "h5py.File(" not in code else ""
                run(["/usr/bin/python3", "-c", pre + code], where, what)
            elif lang == "r":
                why = r_missing(code)
                if why:
                    skip("%s: %s" % (what, why))
                else:
                    run(["Rscript", "-e", code], where, what)
            elif lang == "sh" and code.startswith(SH_MARK):
                run(["sh", "-ec", code], where, what)
            elif lang == "matlab":
                skip("%s: no MATLAB here" % what)
    sys.exit(status())


main()
