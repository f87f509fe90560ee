#!/bin/sh
# t_golden.sh -- golden-file tests (as WFDB's): the text that
#   psg-read FILE | psg-dump --no-samples     and     psg-info --json FILE
# print for a few small shared recordings must equal tests/golden/FILE.dump
# and tests/golden/FILE.json.  Programs run from $SHARED with relative paths,
# so `source` is relative to $SHARED; the history line loses the directory
# of the program (it records argv[0]).
#
#   sh tests/t_golden.sh                    compare
#   UPDATE_GOLDEN=1 sh tests/t_golden.sh    rewrite tests/golden/ (then
#                                           review the diff by eye)
: "${ROOT:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$ROOT/tests/lib.sh"
case $PSG_BUILD in /*) ;; *) PSG_BUILD=$ROOT/$PSG_BUILD ;; esac
PATH=$PSG_BUILD/bin:$PATH
export PATH

GOLDEN=$ROOT/tests/golden
FILES="format/edfPlusC.edf
format/edfPlusD.edf
format/bdfPlusC.bdf
format/wfdb_test_edfann.edf
format/pyedflib_test_subsecond.edf
sleep-edf/SC4001EC-Hypnogram.edf"

# The parts of the output that depend on where things are.
normalise() {
	sed -e 's|^history "[^" ]*/\(psg-[A-Za-z0-9_-]*\)|history "\1|'
}

# golden NAME DESC: compares (or with UPDATE_GOLDEN=1 stores) $TMP/out.
golden() {
	gname=$1 gdesc=$2
	normalise <"$TMP/out" >"$TMP/norm"
	if [ "${UPDATE_GOLDEN:-0}" = 1 ]; then
		mkdir -p "$GOLDEN"
		cp "$TMP/norm" "$GOLDEN/$gname"
		pass "$gdesc (tests/golden/$gname written)"
	elif [ ! -f "$GOLDEN/$gname" ]; then
		flunk "$gdesc: tests/golden/$gname is missing (UPDATE_GOLDEN=1 makes it)"
	elif diff -u "$GOLDEN/$gname" "$TMP/norm" >"$TMP/diff"; then
		pass "$gdesc"
	else
		flunk "$gdesc: differs from tests/golden/$gname"
		head -n 30 "$TMP/diff" | sed 's/^/#   /'
	fi
}

printf '%s\n' "$FILES" >"$TMP/files"
while IFS= read -r rel; do
	name=$(basename "$rel")
	if ! have_shared || [ ! -f "$SHARED/$rel" ]; then
		skip "$rel: psg-read | psg-dump --no-samples: no shared data"
		skip "$rel: psg-info --json: no shared data"
		continue
	fi
	# psg-read FILE | psg-dump --no-samples, with both exit codes.
	(
		cd "$SHARED" || exit 9
		{ psg-read "$rel" 2>"$TMP/err1"; echo $? >"$TMP/rc1"; } |
			psg-dump --no-samples 2>"$TMP/err2" >"$TMP/out"
		echo $? >"$TMP/rc2"
	)
	rc1=$(cat "$TMP/rc1" 2>/dev/null) rc2=$(cat "$TMP/rc2" 2>/dev/null)
	if [ "$rc1" = 0 ] && [ "$rc2" = 0 ]; then
		golden "$name.dump" "$rel: psg-read | psg-dump --no-samples"
	else
		flunk "$rel: psg-read | psg-dump --no-samples (exit $rc1, $rc2)"
		cat "$TMP/err1" "$TMP/err2" | sed 's/^/#   /'
	fi
	(cd "$SHARED" && psg-info --json "$rel" >"$TMP/out" 2>"$TMP/err1")
	rc=$?
	if [ "$rc" -eq 0 ]; then
		golden "$name.json" "$rel: psg-info --json"
	else
		flunk "$rel: psg-info --json (exit $rc)"
		sed 's/^/#   /' "$TMP/err1"
	fi
done <"$TMP/files"

finish
