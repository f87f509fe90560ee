#!/bin/sh
# tests/bench.sh -- `make bench`: speed and peak memory of the stages on
# generated 64-channel, 256 Hz EDF+ recordings of 1 h and 24 h (BENCH_HOURS),
# measured in one run.  Each line gives wall time, megasamples per second,
# times faster than real time, ratio to the floor (psg-read > /dev/null with
# the default backend), and the stage's peak RSS.  Needs ~3 GB of disk for
# the 24-h file in $BENCH_DIR (default /tmp/psgpipe-bench, kept between runs).
set -eu
: "${PSG_BUILD:=build}"
B=$PSG_BUILD/bin
T=$PSG_BUILD/tools
DIR=${BENCH_DIR:-/tmp/psgpipe-bench}
HOURS=${BENCH_HOURS:-"1 24"}
CH=${BENCH_CHANNELS:-64}
RATE=${BENCH_RATE:-256}
mkdir -p "$DIR"

BENCH_SYNTH=${BENCH_SYNTH:-1}
BENCH_FILTER=${BENCH_FILTER:-1}

# Runs "$@" (a shell command) and prints "seconds maxrss_kb" of the command
# named in $1 (timed with GNU time inside the pipeline).
measure() {
	sh -c "$1" 2>"$DIR/time.log" >/dev/null
	tail -1 "$DIR/time.log"
}

line() {   # name seconds rss_kb floor hours [samples per second]
	awk -v n="$1" -v s="$2" -v m="$3" -v f="$4" -v h="$5" \
	    -v sps="${6:-$((CH * RATE))}" 'BEGIN {
		ms = h * 3600 * sps / 1e6;
		printf "%-44s %8.2f s %8.1f MS/s %9.0fx realtime %6.2fx floor %8.1f MB\n",
		       n, s, ms / s, h * 3600 / s, s / f, m / 1024 }'
}

TF='/usr/bin/time -f "%e %M"'
# BENCH_READ=0, BENCH_SYNTH=0, BENCH_FILTER=0, BENCH_CHAIN=0, BENCH_COHORT=0
# leave a part out.
[ "${BENCH_READ:-1}" = 1 ] || HOURS=
for h in $HOURS; do
	f=$DIR/night${h}h_${CH}ch.edf
	[ -s "$f" ] || "$T/mkedf" --hours "$h" --channels "$CH" --rate "$RATE" -o "$f"
	echo "== $h h, $CH channels at $RATE Hz ($(du -h "$f" | cut -f1))"
	set -- $(measure "$TF $B/psg-read $f")
	floor=$1
	line "psg-read (floor)" "$1" "$2" "$floor" "$h"
	set -- $(measure "$TF $B/psg-read --no-hash $f")
	line "psg-read --no-hash" "$1" "$2" "$floor" "$h"
	set -- $(measure "$TF $B/psg-read --backend native $f")
	line "psg-read --backend native" "$1" "$2" "$floor" "$h"
	set -- $(measure "$TF $B/psg-read --backend native --no-hash $f")
	line "psg-read --backend native --no-hash" "$1" "$2" "$floor" "$h"
	set -- $(measure "$TF $B/psg-info $f")
	line "psg-info FILE" "$1" "$2" "$floor" "$h"
	set -- $(measure "$B/psg-read $f | $TF $B/psg-dump --no-samples")
	line "psg-read | psg-dump --no-samples (dump)" "$1" "$2" "$floor" "$h"
	set -- $(measure "$B/psg-read $f | $TF $B/psg-h5 -o $DIR/out.h5")
	line "psg-read | psg-h5 (h5)" "$1" "$2" "$floor" "$h"
	rm -f "$DIR/out.h5"
done

# psg-synth: an 8-h, 16-channel night (EEG 256 Hz, EMG 512 Hz) and the same
# at 24 h; the floor here is writing the same amount with mkedf (bulk
# EDF of 16 channels at 256 Hz), measured in the same run.
if [ "$BENCH_SYNTH" = 1 ]; then
	for h in 8 24; do
		echo "== psg-synth, $h h, 16-channel montage"
		set -- $(measure "$TF $T/mkedf --hours $h --channels 16 --rate 256 -o $DIR/floor.edf")
		floor=$1
		line "mkedf 16 ch 256 Hz (floor)" "$1" "$2" "$floor" "$h" 4096
		set -- $(measure "$TF $B/psg-synth -H $h -o $DIR/synth.edf")
		# 8 x 256 (EEG, EOG) + 3 x 512 (EMG) + 256 (ECG) + 3 x 32 + 1
		line "psg-synth -H $h" "$1" "$2" "$floor" "$h" 3937
		rm -f "$DIR/floor.edf" "$DIR"/synth.*
	done
fi

# The FFT engine (issue 4): a 16-channel, 256-Hz night of 8 h and 24 h; the
# floor is psg-read to /dev/null; psg-filter runs an EEG band (0.3-35 Hz:
# ~3200 taps) on every channel; psg-spectrum the Welch bands on every
# channel.  Targets: filtering adds <= 50 % to the floor; peak memory at
# 24 h within 10 % of 8 h.
if [ "$BENCH_FILTER" = 1 ]; then
	for h in 8 24; do
		f=$DIR/night${h}h_16ch.edf
		[ -s "$f" ] || "$T/mkedf" --hours "$h" --channels 16 --rate 256 -o "$f"
		echo "== filters, $h h, 16 channels at 256 Hz"
		set -- $(measure "$TF $B/psg-read $f")
		floor=$1
		line "psg-read (floor)" "$1" "$2" "$floor" "$h" 4096
		set -- $(measure "$B/psg-read $f | $TF $B/psg-filter -c '*' --highpass 0.3 --lowpass 35")
		line "psg-read | psg-filter 0.3-35 Hz (filter)" "$1" "$2" "$floor" "$h" 4096
		set -- $(measure "$B/psg-read $f | $TF $B/psg-spectrum -c '*'")
		line "psg-read | psg-spectrum (spectrum)" "$1" "$2" "$floor" "$h" 4096
		set -- $(measure "$B/psg-read --backend native $f | $TF $B/psg-filter -c '*' --highpass 0.3 --lowpass 35")
		line "psg-read --backend native | psg-filter" "$1" "$2" "$floor" "$h" 4096
	done
fi

# The chain (issue 21): a generated night of BENCH_CHAIN_HOURS (default
# 1 and 8) with psg-synth's 16-channel montage (EEG/EOG 256 Hz, EMG 512
# Hz).  The floor is reading it: psg-read --no-hash > /dev/null.  Each
# detector alone reads the stream its upstream stages wrote (from a file
# in the page cache, made untimed beforehand) and writes to /dev/null, as
# the floor does, so its line is its own cost; psg-h5 writes its file.
# Then the pipe itself: psg-read | cat > /dev/null and through six cats
# (a hop is a copy into and out of the kernel, with no work), the seven
# stages through pipes and in psg-chain (threads, in-memory links), and
# the whole chain as psg-night -q runs it (one pass when the night
# succeeds).  A virtual machine's speed moves with its neighbours, by a
# fifth or more within a minute, so each line is measured in pairs: the
# floor (psg-read --no-hash > /dev/null) run just before each of the
# line's BENCH_REPEAT runs (default 5).  A line's wall and CPU times (user
# + system, of every process of the line) and peak RSS (the largest
# process's) are medians of its runs; its ratios are the medians of the
# pairs' ratios, each to the floor run next to it.  The floor's own line
# is the median of all its runs.
BENCH_CHAIN=${BENCH_CHAIN:-1}
REP=${BENCH_REPEAT:-5}
# One run of the shell command $1: "wall cpu rss_kb".
once() {
	sh -c "/usr/bin/time -f '%e %U %S %M' sh -c \"$1\"" \
		2>"$DIR/time.log" >/dev/null
	tail -1 "$DIR/time.log" | awk '{ print $1, $2 + $3, $4 }'
}
# The median of the numbers on stdin.
median() {
	sort -g | awk '{ v[NR] = $1 } END { printf "%s ", v[int((NR + 1) / 2)] }'
}
# $REP pairs of a floor run ($FLOOR) and a run of $1; prints the medians
# "wall cpu rss_kb wall/floor cpu/floor" and keeps the floor's runs.
paired() {
	i=0
	: >"$DIR/pairs"
	while [ "$i" -lt "$REP" ]; do
		fl=$(once "$FLOOR")
		echo "$fl" >>"$DIR/floors"
		echo "$fl $(once "$1")" >>"$DIR/pairs"
		i=$((i + 1))
	done
	for e in '$4' '$5' '$6' '$4 / ($1 > 0 ? $1 : 0.01)' '$5 / ($2 > 0 ? $2 : 0.01)'; do
		awk "{ print $e }" "$DIR/pairs" | median
	done
	echo
}
chainline() {   # name wall cpu rss_kb wall/floor cpu/floor
	awk -v n="$1" -v s="$2" -v c="$3" -v m="$4" -v rw="$5" -v rc="$6" 'BEGIN {
		gsub(/\|/, "\\|", n)
		printf "| %-42s | %6.2f | %6.2f | %6.2f | %6.2f | %6.1f |\n",
		       n, s, c, rw, rc, m / 1024 }'
}
# A line, measured in pairs with the floor, kept in $DIR/rows until the
# table is printed (after the floor's line).
row() {
	set -- "$1" $(paired "$2")
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" \
		>>"$DIR/rows"
}
if [ "$BENCH_CHAIN" = 1 ]; then
	for h in ${BENCH_CHAIN_HOURS:-1 8}; do
		f=$DIR/synth${h}h.edf
		[ -s "$f" ] || "$B/psg-synth" -H "$h" -s 1 -o "$f" >/dev/null
		echo "== the chain, $h h, psg-synth's 16-channel montage ($(du -h "$f" | cut -f1)); load: $(uptime | sed 's/.*load/load/')"
		: >"$DIR/rows"
		: >"$DIR/floors"
		FLOOR="$B/psg-read --no-hash $f > /dev/null"
		row "psg-read (default: SHA-256 on)" "$B/psg-read $f > /dev/null"
		row "psg-read --backend edflib" "$B/psg-read --backend edflib $f > /dev/null"
		"$B/psg-read" "$f" >"$DIR/s0.psg"
		prev=$DIR/s0.psg
		for st in wake sws spindle stage emg; do
			[ -x "$B/psg-$st" ] || continue
			row "psg-$st alone" "$B/psg-$st < $prev > /dev/null"
			if [ "$st" = emg ]; then   # its filters on a second thread, or not
				row "psg-emg --threads 1 (one thread)" "$B/psg-emg --threads 1 < $prev > /dev/null"
			fi
			"$B/psg-$st" <"$prev" >"$DIR/s-$st.psg"
			[ "$prev" = "$DIR/s0.psg" ] || rm -f "$prev"
			prev=$DIR/s-$st.psg
		done
		row "psg-h5 alone" "$B/psg-h5 -o $DIR/chain.h5 < $prev"
		rm -f "$prev" "$DIR/s0.psg" "$DIR/chain.h5"
		row "psg-read --no-hash | cat (one hop)" "$B/psg-read --no-hash $f | cat > /dev/null"
		row "psg-read --no-hash | cat x6 (six hops)" "$B/psg-read --no-hash $f | cat | cat | cat | cat | cat | cat > /dev/null"
		row "the seven stages through pipes" "$B/psg-read $f | $B/psg-wake | $B/psg-sws | $B/psg-spindle | $B/psg-stage | $B/psg-emg | $B/psg-h5 -o $DIR/chain.h5"
		row "...the same in psg-chain (one process)" "$B/psg-chain $B/psg-read $f '|' $B/psg-wake '|' $B/psg-sws '|' $B/psg-spindle '|' $B/psg-stage '|' $B/psg-emg '|' $B/psg-h5 -o $DIR/chain.h5"
		row "psg-night (the whole chain)" "$B/psg-night -q $f -o $DIR/chain.h5"
		rm -f "$DIR/chain.h5"
		set -- $(for c in 1 2 3; do cut -d' ' -f$c "$DIR/floors" | median; done)
		echo "floor: psg-read --no-hash, $(wc -l <"$DIR/floors") runs, each just before a run of a line below: $(cut -d' ' -f1 "$DIR/floors" | sort -g | sed -n '1p;$p' | tr '\n' ' ' | sed 's/ $//;s/ / to /') s; a line's ratios are the medians of its runs' ratios to those next to them"
		echo "| stage | wall s | cpu s | wall x floor | cpu x floor | peak MB |"
		echo "|---|---:|---:|---:|---:|---:|"
		chainline "psg-read --no-hash (floor)" "$1" "$2" "$3" 1 1
		while IFS="$(printf '\t')" read -r n w c m rw rc; do
			chainline "$n" "$w" "$c" "$m" "$rw" "$rc"
		done <"$DIR/rows"
		rm -f "$DIR/rows"
	done
fi

# The cohort (issue 8): psg-batch over BENCH_COHORT_NIGHTS generated 8-h,
# 16-channel nights on every core; the floor is psg-read of the same nights
# to /dev/null, as many at a time, in the same run.  Then psg-collect over
# 1000 summaries: copies of those nights' HDF5 files (distinct files, so
# each is opened and read), against the floor of reading their bytes (cat).
BENCH_COHORT=${BENCH_COHORT:-1}
if [ "$BENCH_COHORT" = 1 ]; then
	N=${BENCH_COHORT_NIGHTS:-8}
	J=$(nproc)
	C=$DIR/cohort
	rm -rf "$C" "$DIR/cohort-out"
	mkdir -p "$C/in" "$C/sum"
	for s in $(seq 1 "$N"); do
		"$B/psg-synth" -H 8 -s "$s" -o "$C/in/night$s.edf" >/dev/null
		rm -f "$C/in/night$s".*.tsv "$C/in/night$s".hypnogram.edf
	done
	echo "== cohort: $N nights of 8 h, 16 channels, $J at a time"
	t0=$(date +%s.%N)
	ls "$C"/in/*.edf | xargs -P "$J" -I{} sh -c "$B/psg-read {} >/dev/null"
	t1=$(date +%s.%N)
	"$B/psg-batch" -j "$J" "$C/in" -o "$DIR/cohort-out" 2>/dev/null
	t2=$(date +%s.%N)
	# psg-night itself keeps about two cores busy (psg-chain's threads):
	# one night at a time, for comparison with the default.
	"$B/psg-batch" -j 1 "$C/in" -o "$DIR/cohort-one" 2>/dev/null
	t4=$(date +%s.%N)
	rm -rf "$DIR/cohort-one"
	# The floor again after the batch: on a shared machine the load
	# changes within minutes, so the ratio is to the mean of both.
	ls "$C"/in/*.edf | xargs -P "$J" -I{} sh -c "$B/psg-read {} >/dev/null"
	t3=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v e="$t4" -v n="$N" \
	    -v j="$J" 'BEGIN {
		f = (b - a + d - e) / 2; s = c - b; o = e - c
		printf "%-44s %8.2f s %8.0f nights/h (before %.2f s, after %.2f s)\n", "psg-read, every night (floor, mean)", f, n * 3600 / f, b - a, d - e
		printf "%-44s %8.2f s %8.0f nights/h %6.2fx floor\n", "psg-batch -j " j " (psg-night: the whole chain)", s, n * 3600 / s, s / f
		printf "%-44s %8.2f s %8.0f nights/h %6.2fx floor\n", "psg-batch -j 1 (one night at a time)", o, n * 3600 / o, o / f }'
	i=0
	while [ "$i" -lt 1000 ]; do
		for h in "$DIR"/cohort-out/night*.h5; do
			[ "$i" -lt 1000 ] || break
			cp "$h" "$C/sum/n$i.h5"
			i=$((i + 1))
		done
	done
	sync
	echo "== psg-collect over 1000 summaries ($(du -sh "$C/sum" | cut -f1))"
	set -- $(measure "$TF sh -c 'cat $C/sum/*.h5'")
	floor=$1
	printf '%-44s %8.2f s\n' "cat of the 1000 files (floor)" "$1"
	set -- $(measure "$TF $B/psg-collect -o $C/cohort.h5 $C/sum")
	printf '%-44s %8.2f s %6.2fx floor %8.1f MB\n' "psg-collect -o cohort.h5 (1000 nights)" \
		"$1" "$(awk -v a="$1" -v b="$floor" 'BEGIN { print a / b }')" \
		"$(awk -v m="$2" 'BEGIN { print m / 1024 }')"
	rm -rf "$C" "$DIR/cohort-out"
fi
