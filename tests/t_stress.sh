#!/bin/sh
# Stress nights (issue 17): generated nights psg-sws and psg-wake must not
# be fooled by, each with its stated expectation.  2-h nights from
# psg-synth's stress profiles (docs/synth.md), scored against their truth:
#   kcomplex  no N3; N2 with dense (90 % of its waves) 150-uV K-complexes
#   sweat     no N3; ~200 uV p2p drifts below 0.5 Hz and 20 movement
#             artefacts/h in NREM
#   older     N3 waves of 50-80 uV (frontal; central gets 0.7 of that)
#   healthy   on frontal, central and occipital derivations
# and wake from the EEG alone (no EOG, no chin) on central, frontal and
# occipital derivations.
. "$ROOT/tests/lib.sh"

night() {   # profile seed -> $TMP/profile.edf
	psg-synth -H 2 -p "$1" -s "$2" -o "$TMP/$1.edf" >/dev/null
}
# N3 of one derivation: "TP FP FN" against the truth.
n3() {   # profile derivation
	psg-read -c "$2*,E*,Chin*" "$TMP/$1.edf" | psg-wake 2>/dev/null |
		psg-sws -c "$2-M1" 2>/dev/null |
		psg-score -r "$TMP/$1.hypnogram.edf" |
		awk '/^N3/ {print $6, $8, $10}'
}
wake() {   # profile derivation: EEG alone
	psg-read -c "$2*" "$TMP/$1.edf" | psg-wake 2>/dev/null |
		psg-score -r "$TMP/$1.hypnogram.edf" |
		awk '/^W/ {print $6, $8, $10}'
}
f1() { awk -v a="$1" -v b="$2" -v c="$3" 'BEGIN {
	printf "%.3f", a + b + c ? 2 * a / (2 * a + b + c) : 0 }'; }
prec() { awk -v a="$1" -v b="$2" 'BEGIN {
	printf "%.3f", a + b ? a / (a + b) : 1 }'; }
ge() { awk -v x="$1" -v y="$2" 'BEGIN {exit !(x >= y)}'; }

# No N3 at all: at most one N3 epoch per 30 min (4 in the 2 h).
for p in kcomplex sweat; do
	night $p 3
	for c in F4 C4 O2; do
		set -- $(n3 $p $c)
		check "$p night (no N3), $c: $2 N3 epochs in 2 h (at most 4: one per 30 min)" \
			test "$2" -le 4
	done
done

# The stressors are there (the truth's events).
set -- $(awk -F'\t' 'NR > 1 && $4 == "k_complex" && $5 >= 100 {k++}
	END {print k + 0}' "$TMP/kcomplex.events.tsv") \
	$(awk -F'\t' 'NR > 1 && $4 == "N2" {n++} END {print n + 0}' \
	"$TMP/kcomplex.epochs.tsv")
check "kcomplex night: $1 K-complexes >= 100 uV in $2 N2 epochs (>= 3 per min)" \
	test "$1" -ge $(($2 * 3 / 2))
moves=$(awk -F'\t' 'NR > 1 && $4 == "lmgm" {k++} END {print k + 0}' \
	"$TMP/sweat.events.tsv")
check "sweat night: $moves movement artefacts (>= 15)" test "$moves" -ge 15

# Healthy N3 on three derivations: found frontally and centrally; at the
# occipital derivation the waves are a third of the frontal ones, so
# N3 may be missed there but never invented.
night healthy 3
for c in F4 C4; do
	set -- $(n3 healthy $c)
	x=$(f1 "$@")
	check "healthy night, $c: N3 F1 $x >= 0.95 (TP $1 FP $2 FN $3)" ge "$x" 0.95
done
set -- $(n3 healthy O2)
check "healthy night, O2: no false N3 ($2; found $1 of $(($1 + $3)))" \
	test "$2" -eq 0

# An older sleeper (50-80 uV waves): frontal N3 is still found; at C4
# (0.7 of the amplitude) the 75-uV rule misses most of it, and nothing
# else is called N3 (docs/validation.md: the derivation's amplitude).
night older 3
set -- $(n3 older F4)
x=$(awk -v a="$1" -v c="$3" 'BEGIN {printf "%.3f", a / (a + c)}')
check "older sleeper, F4: N3 recall $x >= 0.8, precision $(prec $1 $2) >= 0.95" \
	sh -c "awk -v r=$x -v p=$(prec $1 $2) 'BEGIN {exit !(r >= 0.8 && p >= 0.95)}'"
set -- $(n3 older C4)
check "older sleeper, C4: no false N3 ($2; found $1 of $(($1 + $3)), the 75-uV rule at 0.7 amplitude)" \
	test "$2" -eq 0

# Wake from the EEG alone, on each derivation, in an insomnia night.
night insomnia 1
for c in C4 F4 O2; do
	set -- $(wake insomnia $c)
	x=$(f1 "$@")
	check "insomnia night, wake from $c alone: F1 $x >= 0.9 (TP $1 FP $2 FN $3)" \
		ge "$x" 0.9
done
# A per-epoch N3 score beside the call, 0.5 at its boundary.
psg-read -c 'F4*' "$TMP/healthy.edf" | psg-sws -c F4-M1 2>/dev/null |
	psg-dump --no-samples >"$TMP/d.txt"
bad=$(awk '/^epoch [0-9]+ sws=/ {split($3, a, "="); split($4, b, "=");
	if ((a[2] == 1) != (b[2] >= 0.5)) n++} END {print n + 0}' "$TMP/d.txt")
check "sws_score >= 0.5 exactly where sws = 1 ($bad epochs differ)" test "$bad" -eq 0
finish
