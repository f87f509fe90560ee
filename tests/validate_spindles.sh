#!/bin/sh
# tests/validate_spindles.sh -- `make validate-spindles`: psg-spindle's
# spindles against expert 1 of the DREAMS Spindles database (excerpts 1-4,
# ../shared/data/dreams), matched one to one by overlap (psg-score --iou
# 0.2), beside expert 2 and the DREAMS authors' detector scored the same
# way.  Expert 1 marked spindles only in the first 1000 s of each excerpt
# (none later in any of them, while expert 2 and the detector mark
# 12-85 each there), so events are scored in 0-1000 s (--span); the whole
# excerpt is shown too.
#
# Five parameters are tuned, the thresholds of the absolute sigma power
# and of the relative sigma power's z, the shortest spindle (A7 0.3 s,
# AASM 0.5 s), the sigma band's pass-band edges (1-Hz transitions outside
# them) and how a spindle ends (A7's rule, a hysteresis on the covariance
# --extent-cov 0.7, or joining spindles under 0.5 s apart --merge 0.5),
# by leave-one-recording-out cross-validation: for each excerpt, the grid
# point with the best pooled F1 on the other three is run on it, and the
# held-out counts are summed.  Only that CV figure is the result; the
# stage's defaults (A7's published thresholds and ending, and the band
# 11.5-16 Hz) are shown beside it.  Prints one line per excerpt and
# pooled lines; ~10 min on 2 cores.
set -eu
: "${PSG_BUILD:=build}"
B=$PSG_BUILD/bin
D=${DREAMS:-../shared/data/dreams}
IOU=0.2
SPAN=0-1000
ABS="1.0 1.125 1.25 1.375 1.5 1.625 1.75"
REL="1.2 1.4 1.6 1.8 2.0"
DMIN="0.3 0.4 0.5"
SIGMA="11-16 11.5-15.5 11.5-16 12-15"
END="a7 --extent-cov=0.7 --merge=0.5"
[ -f "$D/excerpt1_eeg_hyp.edf" ] || {
	echo "validate-spindles: $D is absent, nothing to validate" >&2
	exit 0
}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM

# "TP detected reference" from a psg-score events line.
counts() {
	awk '/^events/ {print $6, $4, $6 + $10}'
}

# score EXCERPT SPAN [psg-score options]: counts of the stream file
# $TMP/run.$1 against expert 1.
score() {
	n=$1 span=$2
	shift 2
	"$B/psg-score" -e "$D/Visual_scoring1_excerpt$n.txt" --iou $IOU \
	    --span "$span" "$@" "$TMP/rec.$n" | counts
}

f1() {   # TP DET REF -> F1
	awk -v t="$1" -v d="$2" -v r="$3" 'BEGIN {
		printf "%.3f", (d + r) ? 2 * t / (d + r) : 0 }'
}

for n in 1 2 3 4; do
	"$B/psg-read" --no-hash "$D/excerpt${n}_eeg_hyp.edf" >"$TMP/rec.$n"
done

# One run of the grid on every excerpt: "abs rel,dmin,sigma,end excerpt
# TP DET REF" (the second field joins four parameters).
cell() {
	a=$1 r=$2 m=$3 s=$4 e=$5
	x=
	[ "$e" = a7 ] || x=$e
	for n in 1 2 3 4; do
		"$B/psg-spindle" --no-kcomplex --abs-power "$a" \
		    --rel-power "$r" --duration "$m-2.5" --sigma "$s" $x \
		    <"$TMP/rec.$n" >"$TMP/out"
		c=$("$B/psg-score" -e "$D/Visual_scoring1_excerpt$n.txt" \
		    --iou $IOU --span $SPAN "$TMP/out" | counts)
		echo "$a $r,$m,$s,$e $n $c"
	done
}
for a in $ABS; do
	for r in $REL; do
		for m in $DMIN; do
			for s in $SIGMA; do
				for e in $END; do
					cell "$a" "$r" "$m" "$s" "$e"
				done
			done
		done
	done
done >"$TMP/grid"

# Leave one recording out: the best pooled F1 on the other three.
echo "psg-spindle vs expert 1, IoU >= $IOU, onsets in $SPAN s;"
echo "CV: --abs-power, --rel-power, the shortest --duration, --sigma and the"
echo "ending (A7's, --extent-cov 0.7, --merge 0.5) chosen on the other three"
echo "excerpts"
for n in 1 2 3 4; do
	best=$(awk -v n="$n" '$3 != n {k = $1 " " $2; t[k] += $4; d[k] += $5;
		r[k] += $6} END {for (k in t) printf "%.6f %s\n",
		2 * t[k] / (d[k] + r[k]), k}' "$TMP/grid" |
	    sort -k1,1nr -k2,2n -k3,3 | head -1)
	set -- $best
	c=$(awk -v n="$n" -v a="$2" -v r="$3" '$3 == n && $1 == a && $2 == r {
		print $4, $5, $6}' "$TMP/grid")
	echo "$n $c $2 $3"
done >"$TMP/cv"
while read -r n t d r a rel; do
	printf "excerpt %s  CV (abs %s, rel,dmin,sigma,end %s): TP %s det %s ref %s F1 %s\n" \
	    "$n" "$a" "$rel" "$t" "$d" "$r" "$(f1 "$t" "$d" "$r")"
done <"$TMP/cv"
set -- $(awk '{t += $2; d += $3; r += $4} END {print t, d, r}' "$TMP/cv")
echo "pooled CV F1 $(f1 "$@")  (TP $1, detected $2, reference $3)"

# Beside it, each excerpt and pooled: the stage's defaults, expert 2,
# the DREAMS detector; in the scored span and over the whole excerpt.
for span in $SPAN 0-1e9; do
	echo "--- onsets in $span s"
	for who in defaults Visual_scoring2 Automatic_detection; do
		for n in 1 2 3 4; do
			if [ $who = defaults ]; then
				"$B/psg-spindle" --no-kcomplex <"$TMP/rec.$n" \
				    >"$TMP/out"
				c=$("$B/psg-score" -e \
				    "$D/Visual_scoring1_excerpt$n.txt" --iou $IOU \
				    --span "$span" "$TMP/out" | counts)
			else
				c=$(score $n "$span" --detected \
				    "$D/${who}_excerpt$n.txt")
			fi
			echo "$c"
		done >"$TMP/$who"
		awk -v who="$who" '{t += $1; d += $2; r += $3;
			f[NR] = ($2 + $3) ? 2 * $1 / ($2 + $3) : 0}
		    END {fmt = "%-20s F1 per excerpt %.3f %.3f %.3f %.3f";
			fmt = fmt "  pooled %.3f (TP %d, detected %d, ";
			printf fmt "reference %d)\n", who, f[1], f[2], f[3],
			    f[4], 2 * t / (d + r), t, d, r}' \
		    "$TMP/$who"
	done
done
