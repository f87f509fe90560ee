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
