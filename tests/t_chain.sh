#!/bin/sh
# psg-chain: stream stages as threads of one process, joined by in-memory
# links.  The same stages through pipes are the oracle: the stream and the
# HDF5 file must be the same, byte for byte, on generated nights (EDF+C,
# EDF+D with muscles, BDF) and a real one; a failing stage must end the
# chain as a failing process ends a pipe (its exit code, its message
# alone, no output file); a reader that stops early is not a failure.
. "$ROOT/tests/lib.sh"

psg-synth -H 1 -s 5 --gaps 2 --muscles -o "$TMP/d.edf" >/dev/null
psg-synth -H 1 -s 6 -p plm --bdf -o "$TMP/b.bdf" >/dev/null
psg-synth -H 1 -s 7 -p bruxism -o "$TMP/x.edf" >/dev/null

# same_stream NAME FILE: every detector's stream (samples included), by
# pipe and by psg-chain.
same_stream() {
	{ psg-read "$2" | psg-wake --optional | psg-sws --optional |
		psg-spindle --optional | psg-stage --optional |
		psg-emg --optional | psg-dump >"$TMP/pipe.txt"; } 2>"$TMP/pipe.err"
	psg-chain psg-read "$2" '|' psg-wake --optional '|' \
		psg-sws --optional '|' psg-spindle --optional '|' \
		psg-stage --optional '|' psg-emg --optional '|' \
		psg-dump >"$TMP/chain.txt" 2>"$TMP/chain.err"
	rc=$?
	check "$1: psg-chain exits 0 (exit $rc)" test "$rc" -eq 0
	check "...its stream is the pipe's, byte for byte ($(wc -l <"$TMP/chain.txt") lines)" \
		sh -c "test -s '$TMP/chain.txt' && cmp -s '$TMP/pipe.txt' '$TMP/chain.txt'"
	# Stages speak side by side, in either case: their lines, in any order.
	check "...and so are its messages ($(wc -l <"$TMP/chain.err") lines)" \
		sh -c "sort '$TMP/pipe.err' >'$TMP/p.s'; sort '$TMP/chain.err' >'$TMP/c.s'; cmp -s '$TMP/p.s' '$TMP/c.s'"
}
same_stream "EDF+D with muscles" "$TMP/d.edf"
same_stream "BDF, PLM" "$TMP/b.bdf"
same_stream "bruxism" "$TMP/x.edf"
if have_shared; then
	same_stream "DREAMS excerpt 3 (full PSG)" "$SHARED/dreams/excerpt3_full_psg.edf"
else
	skip "../shared missing"
fi

# The HDF5 file: the same but for the output's name in psg-h5's history.
psg-read "$TMP/d.edf" | psg-wake | psg-sws | psg-emg |
	psg-h5 -o "$TMP/pipe.h5"
psg-chain psg-read "$TMP/d.edf" '|' psg-wake '|' psg-sws '|' \
	psg-emg '|' psg-h5 -o "$TMP/chain.h5"
check "psg-h5 in a chain writes its file" test -s "$TMP/chain.h5"
h5dump "$TMP/pipe.h5" | sed 1d | sed 's/pipe\.h5/OUT/' >"$TMP/pipe.h5.txt"
h5dump "$TMP/chain.h5" | sed 1d | sed 's/chain\.h5/OUT/' >"$TMP/chain.h5.txt"
check "...the pipe's file, to the byte of h5dump ($(wc -l <"$TMP/chain.h5.txt") lines)" \
	sh -c "grep -q spasm '$TMP/chain.h5.txt' && cmp -s '$TMP/pipe.h5.txt' '$TMP/chain.h5.txt'"

# A stage that fails: the chain's exit is its exit, its message the only one.
head -c 3000000 "$TMP/x.edf" >"$TMP/cut.edf"
psg-chain psg-read "$TMP/cut.edf" '|' psg-wake '|' psg-h5 -o "$TMP/cut.h5" \
	2>"$TMP/cut.err"
rc=$?
check "a truncated recording: psg-chain exits 2, as psg-read does (exit $rc)" \
	test "$rc" -eq 2
check "...with psg-read's message alone ($(cat "$TMP/cut.err"))" \
	sh -c "test \$(wc -l <'$TMP/cut.err') -eq 1 && grep -q '^psg-read: ' '$TMP/cut.err'"
check "...and no output file, nor a temporary one" \
	sh -c "! ls '$TMP' | grep -q 'cut.*h5'"
expect_exit 1 "a bad option to a stage is that stage's usage error" \
	psg-chain psg-read "$TMP/x.edf" '|' psg-sws --no-such '|' psg-dump -H
check "...said by it (psg-sws: unknown option)" \
	grep -q "^psg-sws: unknown option '--no-such'" "$TMP/stderr"
psg-synth -H 0.1 -n 2 -o "$TMP/eeg.edf" >/dev/null
expect_exit 3 "a detector with nothing to work on (no --optional) exits 3" \
	psg-chain psg-read "$TMP/eeg.edf" '|' psg-emg '|' psg-dump -H
psg-chain psg-read "$TMP/x.edf" '|' psg-dump -H >"$TMP/head.txt" 2>"$TMP/head.err"
rc=$?
check "a reader that stops after the header ends the chain well (exit $rc)" \
	test "$rc" -eq 0
check "...psg-read's broken link left unsaid" test ! -s "$TMP/head.err"
check "...and the header printed" grep -q '^channel ' "$TMP/head.txt"
psg-chain psg-read "$TMP/x.edf" '|' psg-emg '|' psg-dump -H >/dev/null 2>"$TMP/head2.err"
rc=$?
check "...also two stages up: psg-emg's broken link, then psg-read's (exit $rc)" \
	sh -c "test $rc -eq 0 && test ! -s '$TMP/head2.err'"

# --status: each stage's exit code and messages apart, as psg-night reads them.
mkdir "$TMP/st"
psg-chain --status "$TMP/st" psg-read "$TMP/x.edf" '|' psg-wake --no-such \
	'|' psg-dump -H >/dev/null 2>"$TMP/st.err"
check "--status: every stage's exit code in DIR/VERB ($(cat "$TMP/st/read" \
	"$TMP/st/wake" "$TMP/st/dump" 2>/dev/null | tr '\n' ' '))" \
	sh -c "test \"\$(cat '$TMP/st/read' '$TMP/st/wake' '$TMP/st/dump' | tr '\n' ' ')\" = '2 1 2 '"
check "...psg-wake's message in DIR/wake.err, nothing on stderr" \
	sh -c "grep -q '^psg-wake: ' '$TMP/st/wake.err' && test ! -s '$TMP/st.err'"

# psg-chain's own usage.
expect_exit 1 "no stages is a usage error" psg-chain
expect_exit 1 "an unknown stage is a usage error" psg-chain psg-read "$TMP/x.edf" '|' psg-cat
expect_exit 1 "an empty stage is a usage error" psg-chain psg-read "$TMP/x.edf" '|' '|' psg-dump
expect_exit 1 "a stage twice is a usage error" psg-chain psg-read "$TMP/x.edf" '|' psg-wake '|' psg-wake
expect_exit 1 "--status without a directory is a usage error" psg-chain --status
expect_exit 2 "--status into a missing directory exits 2" \
	psg-chain --status "$TMP/none" psg-read "$TMP/x.edf" '|' psg-dump -H
expect_exit 0 "-h exits 0" psg-chain -h
check "...and prints the usage on stdout" sh -c "psg-chain --help | grep -q '^usage: psg-chain'"
finish
