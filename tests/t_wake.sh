#!/bin/sh
# psg-wake: wake epochs, awakenings and arousals against psg-synth's ground
# truth (eight 3-h nights of five profiles), the HDF5 layout and the
# summary's arithmetic, pass-through, the real Sleep-EDF wake excerpt (all
# wake), the four DREAMS excerpts against their expert, and the errors.
. "$ROOT/tests/lib.sh"
if ! have_h5py; then skip "h5py missing"; finish; fi

# Generated nights: a fixed set, every one counted (docs/validation.md).
nights="insomnia:1 insomnia:2 insomnia:3 healthy:3 noisy:4 mixed:5 clean:7 plm:6"
: >"$TMP/awak" ; : >"$TMP/arou"
for pn in $nights; do
	p=${pn%:*} s=${pn#*:}
	psg-synth -H 3 -p "$p" -s "$s" -o "$TMP/$p$s.edf" >/dev/null
	psg-read "$TMP/$p$s.edf" | psg-wake >"$TMP/$p$s.psg"
	psg-score -e "$TMP/$p$s.events.tsv" -t awakenings -l awakening \
		--tolerance 30 "$TMP/$p$s.psg" | sed "s/^/$p$s /" >>"$TMP/awak"
	psg-score -e "$TMP/$p$s.events.tsv" -t arousals -l arousal \
		--tolerance 3 "$TMP/$p$s.psg" | sed "s/^/$p$s /" >>"$TMP/arou"
done
sed 's/^/# /' "$TMP/awak" "$TMP/arou"
# psg-score's events line: $7 TP, $9 FP, $11 FN (after the night's name).
pr='{tp+=$7; fp+=$9; fn+=$11} END {printf "%d %d %d %.3f %.3f", tp, fp, fn,
	tp/(tp+fp), tp/(tp+fn)}'
set -- $(awk "$pr" "$TMP/awak")
check "awakenings on 8 generated nights: recall $5 >= 0.9 ($1 of $(($1 + $3)))" \
	awk -v r="$5" 'BEGIN {exit !(r >= 0.9)}'
check "awakenings on 8 generated nights: precision $4 >= 0.9 ($2 false)" \
	awk -v p="$4" 'BEGIN {exit !(p >= 0.9)}'
# Arousals: matched one to one when the onsets are at most 3 s apart.
set -- $(awk "$pr" "$TMP/arou")
check "arousals on 8 generated nights: precision $4 >= 0.9 ($2 false of $(($1 + $2)))" \
	awk -v p="$4" 'BEGIN {exit !(p >= 0.9)}'
check "arousals on 8 generated nights: recall $5 >= 0.9 ($1 of $(($1 + $3)))" \
	awk -v r="$5" 'BEGIN {exit !(r >= 0.9)}'

# One night in HDF5: layout, and the summary recomputed from the epochs.
psg-read "$TMP/insomnia1.edf" | tee "$TMP/raw.psg" | psg-wake |
	psg-h5 -o "$TMP/n.h5"
$PY - "$TMP" >"$TMP/out" 2>&1 <<'PYEOF'
import csv, sys
import h5py
import numpy as np
d = sys.argv[1]
ok = lambda c, m: print(("ok - " if c else "not ok - ") + m)
f = h5py.File(d + "/n.h5", "r")
ep = f["epochs"][:]
ok({"wake", "wake_score"} <= set(ep.dtype.names) and
   "awakenings" in f["events"] and "arousals" in f["events"],
   "HDF5: /epochs wake, wake_score; /events/awakenings, /events/arousals")
w = ep["wake"]
sc = ep["wake_score"]
ok(np.all(np.isin(w, (-1, 0, 1))) and
   np.all((w == 1) == (sc >= 0)[:len(w)] | (w == -1)),
   "wake is 1 exactly where wake_score >= 0")
truth = [r["stage"] for r in csv.DictReader(open(d + "/insomnia1.epochs.tsv"),
                                            delimiter="\t")]
t = np.array([s == "W" for s in truth])
p = w[:len(t)] == 1
f1 = 2 * np.sum(p & t) / (np.sum(p) + np.sum(t))
ok(f1 >= 0.8, "wake epochs of insomnia seed 1 against the truth: F1 %.3f "
   ">= 0.8" % f1)
sm = dict(f["summary"].attrs)
names = ["sleep_onset_latency", "waso", "awakenings", "awakening_index",
         "arousals", "arousal_index", "sleep_efficiency", "total_sleep_time"]
ok(all(n in sm for n in names), "summary has " + ", ".join(names))
units = {n: f["summary"][n].attrs["unit"] for n in names}
units = {k: v.decode() if isinstance(v, bytes) else v for k, v in units.items()}
ok(units["waso"] == "min" and units["sleep_efficiency"] == "%" and
   units["arousal_index"] == "1/h", "summary units: min, %, 1/h")
onset = int(np.argmax(w == 0))
sleep = np.sum(w == 0)
waso = np.sum(w[onset:] == 1) * 0.5
runs = np.sum((w[onset:] == 1) & np.r_[True, w[onset:-1] != 1])
aw = f["events/awakenings"][:]
ar = f["events/arousals"][:]
ok(abs(sm["sleep_onset_latency"] - onset * 0.5) < 1e-9 and
   abs(sm["waso"] - waso) < 1e-9 and sm["awakenings"] == runs == len(aw) and
   abs(sm["sleep_efficiency"] - 100 * sleep / len(w)) < 1e-9 and
   abs(sm["awakening_index"] - runs / (sleep / 120)) < 1e-9 and
   abs(sm["arousal_index"] - len(ar) / (sleep / 120)) < 1e-9,
   "summary recomputed from the epochs: onset %.1f min, WASO %.1f min, "
   "%d awakenings, efficiency %.1f %%" % (onset * 0.5, waso, runs,
                                         100 * sleep / len(w)))
ok(len(aw) and np.all(aw["onset"] >= onset * 30) and
   np.all(w[(aw["onset"] // 30).astype(int)] == 1),
   "awakenings start at wake epochs after sleep onset")
idx = (ar["onset"] // 30).astype(int)
ok(np.all(ar["duration"] >= 3) and np.all(w[idx] == 0) and
   np.all(ar["onset"] >= onset * 30 + 10),
   "arousals: >= 3 s, in sleep epochs, >= 10 s after sleep onset (%d)"
   % len(ar))
PYEOF
cat "$TMP/out"
grep -q '^not ok' "$TMP/out" && failures=$((failures + 1))
grep -q '^ok' "$TMP/out" || flunk "the Python checks did not run"

# Pass-through: the input's records all come out, in order, untouched
# (a short 4-channel night, so that the text dump stays small).
psg-synth -H 0.3 -p healthy -s 2 -n 4 -o "$TMP/short.edf" >/dev/null
psg-read "$TMP/short.edf" >"$TMP/short.psg"
keep() { grep -v '^history\|^end \|^feature\|^evtype\|^epoch [0-9]* wake=\|^event "a[wr][ao]\|^summary\|^role wake '; }
psg-dump "$TMP/short.psg" | keep >"$TMP/in.txt"
psg-wake <"$TMP/short.psg" | psg-dump | keep >"$TMP/through.txt"
check "every incoming record passes through unchanged" \
	cmp -s "$TMP/in.txt" "$TMP/through.txt"

if have_shared; then
	psg-read "$SHARED/sleep-edf/SC4001E0_excerpt_5min_edfio_short_psg.edf" |
		psg-wake 2>/dev/null | psg-dump --no-samples >"$TMP/se.txt"
	all=$(grep -c '^epoch [0-9]* wake=' "$TMP/se.txt")
	nw=$(grep -c '^epoch [0-9]* wake=1 ' "$TMP/se.txt")
	check "the real Sleep-EDF wake excerpt is all wake ($nw of $all epochs)" \
		test "$all" -eq 10 -a "$nw" -eq 10
	psg-read "$SHARED/sleep-edf/SC4001E0_excerpt_5min_edfio_short_psg.edf" |
		psg-wake --eog none 2>/dev/null | psg-dump --no-samples >"$TMP/se.txt"
	nw=$(grep -c '^epoch [0-9]* wake=1 ' "$TMP/se.txt")
	check "...also from its EEG alone (Pz-Oz; $nw of 10)" test "$nw" -eq 10
	pooled='{tp+=$6; fp+=$8; fn+=$10; tn+=$12} END {n=tp+fp+fn+tn;
		po=(tp+tn)/n; pe=((tp+fp)*(tp+fn)+(fn+tn)*(fp+tn))/n/n;
		printf "%.3f %.3f", 2*tp/(2*tp+fp+fn), (po-pe)/(1-pe)}'
	: >"$TMP/dreams"
	for k in 1 2 3 4; do
		psg-read -e 20 "$SHARED/dreams/excerpt${k}_eeg_hyp.edf" |
			psg-wake >"$TMP/d$k.psg"
		psg-score -r "$SHARED/dreams/Hypnogram_excerpt$k.txt" \
			"$TMP/d$k.psg" >>"$TMP/dreams"
	done
	sed 's/^/# in-sample: /' "$TMP/dreams"
	# In-sample above (the defaults were chosen on these excerpts); the
	# assertion is on the leave-one-patient-out figure (make validate),
	# measured 0.863 / 0.840 (docs/validation.md).
	$PY "$ROOT/tests/validate.py" W >"$TMP/cv" 2>&1
	sed 's/^/# /' "$TMP/cv"
	set -- $(sed -n 's/^cv W //p' "$TMP/cv")
	check "DREAMS wake epochs (EEG only), cross-validated: pooled F1 ${1:-?} >= 0.80, kappa ${2:-?} >= 0.77" \
		awk -v f="${1:-0}" -v k="${2:-0}" 'BEGIN {exit !(f >= 0.80 && k >= 0.77)}'
	# Expert wake bouts after the expert's sleep onset: found when a
	# detected wake epoch overlaps them.  Reported; half are found.
	bouts=$($PY - "$TMP" "$SHARED/dreams" <<'PYEOF'
import re, subprocess, sys
import numpy as np
found = total = 0
for k in (1, 2, 3, 4):
    c = np.array([int(v) for v in open("%s/Hypnogram_excerpt%d.txt" % (
        sys.argv[2], k)).read().split()[1:]])[2::4][:90]
    w = c == 5
    out = subprocess.run(["psg-dump", "--no-samples", "%s/d%d.psg" % (
        sys.argv[1], k)], capture_output=True, text=True).stdout
    det = np.zeros(90, bool)
    for m in re.finditer(r"^epoch (\d+) wake=1 ", out, re.M):
        det[int(m[1])] = True
    i = int(np.argmax(~w))
    while i < 90:
        if w[i]:
            j = i
            while j < 90 and w[j]:
                j += 1
            total += 1
            found += det[i:j].any()
            i = j
        else:
            i += 1
print(found, total)
PYEOF
)
	set -- $bouts
	check "DREAMS expert wake bouts after sleep onset found: $1 of $2 (reported; >= 4)" \
		test "$1" -ge 4
else
	skip "../shared absent: Sleep-EDF wake excerpt and DREAMS"
fi

expect_exit 0 "psg-wake --help exits 0" psg-wake --help
check "psg-wake --help writes usage on stdout" sh -c \
	"psg-wake --help | grep -q '^usage: psg-wake'"
expect_exit 1 "psg-wake --spread x exits 1" sh -c "psg-wake --spread x <'$TMP/raw.psg'"
expect_exit 3 "psg-wake without an EEG exits 3" \
	sh -c "psg-read -c 'ECG*' '$TMP/insomnia1.edf' | psg-wake"
# Latencies are recorded time: the same night with a 5-min pause (an
# EDF+D gap) after its first minute, before sleep onset and the first N3,
# has the same sleep onset and SWS latencies (before 2026-12 each was 5 min
# longer), as recording_time already left the gap out.
psg-synth -H 1 -s 2 --eeg-rate 128 --emg-rate 128 -o "$TMP/g.edf" >/dev/null
$PY "$ROOT/tests/edfgap.py" "$TMP/g.edf" "$TMP/gap.edf" 60 300
for f in g gap; do
	psg-read "$TMP/$f.edf" | psg-wake | psg-sws | psg-dump --no-samples |
		sed -n 's/^summary "\([a-z_]*\)" unit="min" value=/\1 /p' \
		>"$TMP/$f.lat"
done
for v in sleep_onset_latency sws_latency recording_time; do
	a=$(awk -v v=$v '$1 == v {print $2}' "$TMP/g.lat")
	b=$(awk -v v=$v '$1 == v {print $2}' "$TMP/gap.lat")
	check "$v leaves an EDF+D gap out: $b min with a 5-min gap, $a without" \
		sh -c "[ -n '$a' ] && [ '$a' = '$b' ] && [ '$a' != 0 ]"
done
check "...the gap is there: the EDF+D lasts 5 min longer" sh -c \
	"psg-read '$TMP/gap.edf' | psg-dump -H | grep -q '^duration 3900\.'"
expect_exit 3 "psg-wake twice exits 3" \
	sh -c "psg-wake <'$TMP/raw.psg' | psg-wake"
expect_exit 2 "psg-wake on a truncated stream exits 2" \
	sh -c "head -c 100000 '$TMP/raw.psg' | psg-wake"
finish
