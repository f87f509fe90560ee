#!/bin/sh
# psg-report: a generated 8-h night (with an imported hypnogram), the
# bundled 5-min real excerpt and, with ../shared, DREAMS excerpt 1 (30 min
# of real sleep), each rendered by headless Chromium to PNG;
# report_check.py checks the pixels of the plot against the night's own
# epochs, and the page for scripts and network references.  Skipped, with
# a message, when chromium is not installed.  The 8-h night's exports are
# read back too (export_check.py: edflib, MNE, pandas), so that a whole
# night, not only the 1-h one of t_export, leaves psgpipe event for event.
. "$ROOT/tests/lib.sh"
if ! have_h5py; then skip "h5py missing"; finish; fi

psg-synth -H 8 -p mixed -s 5 -o "$TMP/n.edf" >/dev/null
psg-night -q "$TMP/n.edf" --hypnogram "$TMP/n.hypnogram.edf" -o "$TMP/n.h5"
psg-report "$TMP/n.h5" -o "$TMP/n.html" 2>"$TMP/err"
check "psg-report writes the page, nothing on stderr" \
	test -s "$TMP/n.html" -a ! -s "$TMP/err"
# The real excerpt's page through psg-night --report.
psg-night -q -r --detectors wake,sws,spindle \
	"$ROOT/testdata/SC4001E0-excerpt.edf" -o "$TMP/sc.h5" \
	--hypnogram "$ROOT/testdata/SC4001EC-Hypnogram.edf" 2>/dev/null
check "psg-night --report writes sc.html beside sc.h5" \
	sh -c "test -s '$TMP/sc.html' && grep -q '<svg' '$TMP/sc.html'"
pages="n sc"
if have_shared && [ -f "$SHARED/dreams/excerpt1_eeg_hyp.edf" ]; then
	psg-night -q -r --epoch 20 --detectors wake,sws,spindle \
		"$SHARED/dreams/excerpt1_eeg_hyp.edf" -o "$TMP/d1.h5" \
		--hypnogram "$SHARED/dreams/Hypnogram_excerpt1.txt" 2>/dev/null
	check "psg-night --report on DREAMS excerpt 1 writes d1.html" \
		test -s "$TMP/d1.html"
	pages="n sc d1"
else
	skip "../shared/data/dreams missing: no page of a real excerpt with sleep"
fi
for k in $pages; do
	psg-report "$TMP/$k.h5" --svg -o "$TMP/$k.svg"
done
size=$(wc -c <"$TMP/n.html")
check "the 8-h page is small ($size bytes < 400 kB)" test "$size" -lt 400000

CHROME=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROME" ]; then
	skip "rendering: chromium is not installed (Debian chromium)"
else
	for k in $pages; do
		timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu \
			--disable-quic --no-first-run \
			--disable-background-networking \
			--disable-component-update --disable-sync \
			--user-data-dir="$TMP/chrome-$k" --window-size=1280,900 \
			--screenshot="$TMP/$k.png" "file://$TMP/$k.html" \
			>/dev/null 2>&1
		check "chromium renders the $k page to PNG" test -s "$TMP/$k.png"
		echo "# $k:"
		$PY "$ROOT/tests/report_check.py" "$TMP/$k.h5" "$TMP/$k.html" \
			"$TMP/$k.png" 1280 900 "$TMP/$k.svg" ||
			failures=$((failures + 1))
	done
fi

# psg-stage's computed hypnogram on a track of its own below the imported
# one: one step per epoch with a stage (R twice: its thick bar), counted
# here from the night's /epochs.
psg-synth -H 1 -p healthy -s 3 -o "$TMP/st.edf" >/dev/null
psg-read "$TMP/st.edf" --annotations "$TMP/st.hypnogram.edf" | psg-wake |
	psg-sws | psg-spindle | psg-stage | psg-h5 -o "$TMP/st.h5" 2>/dev/null
psg-report "$TMP/st.h5" -o "$TMP/st.html"
$PY - "$TMP/st.h5" "$TMP/st.html" <<'PYEOF'
import re, sys
import h5py
st = [s.decode() for s in h5py.File(sys.argv[1])["epochs"]["sleep_stage"]]
want = sum(s in ("W", "R", "N1", "N2", "N3") for s in st) + st.count("R")
page = open(sys.argv[2]).read()
paths = re.findall(r'<path class="hyp" d="([^"]*)"', page)
ok = (len(paths) == 2 and paths[1].count("M") == want and
      "computed (psg-stage)" in page and len(set(st)) >= 4)
print("%s - the computed hypnogram is drawn below the imported one: %d "
      "steps for %d epochs (%s)" % ("ok" if ok else "not ok",
                                    paths[1].count("M") if len(paths) > 1
                                    else 0, len(st), " ".join(sorted(set(st)))))
PYEOF
[ $? -eq 0 ] || failures=$((failures + 1))

# The 8-h night's exports, read back event for event.
psg-export "$TMP/n.h5" --edf-annotations "$TMP/n.annot.edf" \
	--bids "$TMP/n" --tsv "$TMP/ntsv"
"$PSG_BUILD/tools/edfannot" "$TMP/n.annot.edf" >"$TMP/n.dump"
echo "# the 8-h night's exports:"
$PY "$ROOT/tests/export_check.py" "$TMP/n.h5" "$TMP/n.dump" \
	"$TMP/n.annot.edf" "$TMP/n" "$TMP/ntsv" || failures=$((failures + 1))

# psg-report --cohort through psg-batch.
mkdir -p "$TMP/co"
cp "$ROOT/testdata/SC4001E0-excerpt.edf" "$TMP/co/a.edf"
cp "$ROOT/testdata/SC4001E0-excerpt.edf" "$TMP/co/b.edf"
psg-batch --night '--detectors wake,sws,spindle' "$TMP/co" -o "$TMP/cout" \
	-j 2 >/dev/null 2>&1
check "psg-batch writes a page per night and cohort.html" \
	test -s "$TMP/cout/a.html" -a -s "$TMP/cout/b.html" -a \
	-s "$TMP/cout/cohort.html"
links=$(grep -o 'href="[ab].html"' "$TMP/cout/cohort.html" | tr '\n' ' ')
check "the cohort page links each night's page ($links)" \
	test "$links" = 'href="a.html" href="b.html" '
rt=$(grep -c '<td class="v">5</td>' "$TMP/cout/cohort.html")
check "...with its figures (recording_time 5 min in $rt rows)" test "$rt" -eq 2
# A cohort page named as one of its nights is refused; the night stays.
cp "$TMP/cout/b.h5" "$TMP/keep.h5"
expect_exit 2 "--cohort -o one of its nights is refused" \
	psg-report --cohort "$TMP/cout/a.h5" "$TMP/cout/b.h5" -o "$TMP/cout/b.h5"
check "...and that night is unchanged" cmp -s "$TMP/cout/b.h5" "$TMP/keep.h5"

# --version on every program and driver.
bad=
for p in "$PSG_BUILD"/bin/psg-*; do
	v=$("$p" --version 2>&1) && echo "$v" |
		grep -q "^$(basename "$p") (psgpipe) [0-9]" || bad="$bad $(basename "$p")"
done
check "--version on every program (${bad:-all answer})" test -z "$bad"
bad=
for p in "$PSG_BUILD"/bin/psg-*; do
	prog=$(basename "$p")
	man=$ROOT/stages/$prog.1
	[ -f "$man" ] || man=$ROOT/scripts/$prog.1
	"$p" --help | grep -q -- '--version' &&
		grep -q '^\.B \\-\\-version$' "$man" || bad="$bad $prog"
done
check "--help and the man page of every program list --version (${bad:-all do})" \
	test -z "$bad"

expect_exit 1 "no -o is a usage error" psg-report "$TMP/n.h5"
expect_exit 2 "a missing night exits 2" psg-report "$TMP/none.h5" -o "$TMP/x.html"
check "...and writes nothing" test ! -e "$TMP/x.html"
check "psg-report --version names psgpipe" \
	sh -c "psg-report --version | grep -q '^psg-report (psgpipe) '"
finish
