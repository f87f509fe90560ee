#!/bin/sh
# tests/fuzz/run.sh -- runs every libFuzzer harness of build-fuzz/ (make
# fuzz) for FUZZ_SECONDS on one core, niced, from its seeds: the in-tree
# regression corpus tests/fuzz/regress/, testdata/, and ../shared when
# present.  New inputs go to $FB/corpus/NAME (kept between runs), findings
# to $FB/findings/NAME-*; a summary line per harness (executions, corpus
# size, findings) to stdout and $FB/summary.txt.  Exit 1 if any harness
# found something.
#   FUZZ_SECONDS=N  seconds per harness (default 60)
#   FUZZ_ONLY=NAME  one harness (stream, edf_native, edf_edflib, edf_auto,
#                   hypnogram, events)
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
: "${FB:=build-fuzz}" "${FUZZ_SECONDS:=60}" "${FUZZ_ONLY:=}"
case $FB in /*) ;; *) FB=$ROOT/$FB ;; esac
SHARED_DIR=$ROOT/../shared
found=0
: >"$FB/summary.txt"

seeds() {   # NAME: the seed files of a harness, one per line
	case $1 in
	stream) ls "$ROOT"/tests/fuzz/regress/*.psg
		;;
	hypnogram) ls "$ROOT"/tests/fuzz/regress/*.tsv \
		"$ROOT"/testdata/SC4001EC-Hypnogram.edf
		ls "$SHARED_DIR"/bad-inputs/*.tsv \
			"$SHARED_DIR"/bad-inputs/*hyp*.edf ;;
	events) ls "$ROOT"/tests/fuzz/regress/*.tsv \
		"$ROOT"/tests/fuzz/regress/*.txt
		ls "$SHARED_DIR"/bad-inputs/*.tsv "$SHARED_DIR"/bad-inputs/*.txt
		;;
	*) ls "$ROOT"/tests/fuzz/regress/*.edf "$ROOT"/testdata/*.edf
	   ls "$SHARED_DIR"/bad-inputs/*.edf "$SHARED_DIR"/bad-inputs/*.bdf
	   find "$SHARED_DIR"/data/format -name '*.[eEbB][dD][fF]' \
		-size -200k ;;
	esac 2>/dev/null
}

for bin in "$FB"/fuzz_*; do
	name=${bin##*/fuzz_}
	[ -z "$FUZZ_ONLY" ] || [ "$FUZZ_ONLY" = "$name" ] || continue
	corpus=$FB/corpus/$name seed=$FB/seeds/$name
	mkdir -p "$corpus" "$seed" "$FB/findings"
	seeds "$name" | while read -r f; do cp "$f" "$seed/"; done
	log=$FB/$name.log
	nice -n 19 "$bin" -max_total_time="$FUZZ_SECONDS" -timeout=20 \
		-rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
		-artifact_prefix="$FB/findings/$name-" "$corpus" "$seed" \
		>"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	n=$(ls "$corpus" | wc -l | tr -d ' ')
	f=$(ls "$FB/findings" | grep -c "^$name-")
	[ "$rc" -eq 0 ] || found=1
	echo "$name: exit $rc, ${execs:-?} executions in $FUZZ_SECONDS s," \
	     "corpus $n files, findings $f" | tee -a "$FB/summary.txt"
	[ "$rc" -eq 0 ] || grep -m 3 'ERROR\|SUMMARY\|runtime error' "$log"
done
exit $found
