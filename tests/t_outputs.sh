#!/bin/sh
# t_outputs.sh -- no program loses data through its outputs (issue 16):
#   - an output that is one of the inputs (same device and inode, under
#     any name: the same path, a hard link, a symbolic link) is refused
#     with exit 2 and the input is left as it was: psg-h5 -o S < S,
#     psg-collect -o A.h5 A.h5 B.h5 and --csv, psg-score --json,
#     psg-synth --hypnogram H -o H, psg-emg --trace;
#   - a FIFO or device given as an output is never renamed over: text
#     outputs (psg-score --json, psg-collect --csv) write into it in
#     place, HDF5/EDF outputs refuse it; a symbolic link to a regular file
#     stays a link and its target gets the new content; a dangling link is
#     refused;
#   - a standard output that is an input (`stage < S >> S`, through a
#     link too) is refused with exit 2 by every stage and driver;
#   - psg-score on a full stdout (/dev/full) exits 2;
#   - psg-synth killed by SIGTERM/SIGINT leaves no temporary file.
: "${ROOT:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$ROOT/tests/lib.sh"
case $PSG_BUILD in /*) ;; *) PSG_BUILD=$ROOT/$PSG_BUILD ;; esac
PATH=$PSG_BUILD/bin:$PATH
export PATH
cd "$TMP" || exit 1

# refused DESC FILE CMD...: CMD exits 2 with one "psg-...: ..." line and
# FILE is byte for byte what it was.
refused() {
	d=$1 f=$2; shift 2
	cp "$f" "$TMP/before"
	"$@" >/dev/null 2>"$TMP/err"; rc=$?
	lines=$(wc -l <"$TMP/err" | tr -d ' ')
	if [ "$rc" -eq 2 ] && [ "$lines" -eq 1 ] &&
	   grep -q '^psg-[a-z0-9]*: .*input' "$TMP/err" &&
	   cmp -s "$f" "$TMP/before"; then pass "$d"
	else flunk "$d (exit $rc, $lines lines)"; sed 's/^/#   /' "$TMP/err"; fi
}
no_temps() { ! ls "$TMP" | grep -q '\.tmp\.'; }

psg-synth -H 0.1 -s 3 -o n.edf 2>/dev/null || flunk "psg-synth"
psg-read n.edf >s.bin 2>/dev/null
psg-sws <s.bin >sws.bin 2>/dev/null
psg-h5 -o a.h5 <sws.bin && cp a.h5 b.h5

refused "psg-h5 -o S < S" s.bin sh -c 'psg-h5 -o s.bin < s.bin'
ln -s s.bin s.link && ln s.bin s.hard
refused "psg-h5 -o LINK-TO-S < S" s.bin sh -c 'psg-h5 -o s.link < s.bin'
refused "psg-h5 -o HARDLINK-OF-S < S" s.bin sh -c 'psg-h5 -o s.hard < s.bin'
refused "psg-collect -o A.h5 A.h5 B.h5" a.h5 psg-collect -o a.h5 a.h5 b.h5
cp a.h5 c.h5
refused "psg-collect --csv B.h5 ... B.h5" b.h5 \
	psg-collect -o c2.h5 --csv b.h5 a.h5 b.h5
check "psg-collect refusing left neither output" \
	test ! -e c2.h5 -a ! -e c2.csv
refused "psg-score --json S S" sws.bin \
	psg-score -r n.hypnogram.edf --json sws.bin sws.bin
refused "psg-score --json REF" n.hypnogram.edf \
	psg-score -r n.hypnogram.edf --json n.hypnogram.edf sws.bin
refused "psg-synth --hypnogram H -o H" n.hypnogram.edf \
	psg-synth --hypnogram n.hypnogram.edf -n 4 -o n.hypnogram.edf
refused "psg-synth: a truth file that is the hypnogram" n.hypnogram.edf \
	psg-synth --hypnogram n.hypnogram.edf -n 4 --truth n -o m.edf
refused "psg-emg --trace S < S" s.bin sh -c 'psg-emg --trace s.bin < s.bin'
check "no temporary file after the refusals" no_temps

# Standard output appended to an input (`stage < S >> S`, or through a
# link to it): every stage and driver refuses before writing anything.
for s in "psg-dump --no-samples" "psg-info" "psg-filter -c 0 --highpass 0.5" \
    psg-spectrum psg-sws psg-wake psg-spindle psg-emg psg-stage \
    "psg-h5 -o o.h5"; do
	refused "$s < S >> S" s.bin sh -c "$s < s.bin >> s.bin"
done
refused "psg-dump S >> LINK-TO-S" s.bin sh -c 'psg-dump s.bin >> s.link'
refused "psg-info S >> HARDLINK-OF-S" s.bin sh -c 'psg-info s.bin >> s.hard'
refused "psg-read IN >> IN" n.edf sh -c 'psg-read n.edf >> n.edf'
refused "psg-read -a H IN >> H" n.hypnogram.edf \
	sh -c 'psg-read -a n.hypnogram.edf n.edf >> n.hypnogram.edf'
refused "psg-score -r H S >> S" sws.bin \
	sh -c 'psg-score -r n.hypnogram.edf sws.bin >> sws.bin'
refused "psg-score -r H S >> H" n.hypnogram.edf \
	sh -c 'psg-score -r n.hypnogram.edf sws.bin >> n.hypnogram.edf'
refused "psg-synth --hypnogram H >> H" n.hypnogram.edf \
	sh -c 'psg-synth --hypnogram n.hypnogram.edf -n 4 -o m.edf >> n.hypnogram.edf'
refused "psg-collect A.h5 >> A.h5" a.h5 sh -c 'psg-collect a.h5 b.h5 >> a.h5'
refused "psg-report A.h5 >> A.h5" a.h5 sh -c 'psg-report a.h5 -o a.html >> a.h5'
refused "psg-export A.h5 >> A.h5" a.h5 \
	sh -c 'psg-export a.h5 --bids ex >> a.h5'
refused "psg-batch IN >> IN" n.edf sh -c 'psg-batch n.edf -o bd >> n.edf'
refused "psg-night IN >> IN" n.edf sh -c 'psg-night n.edf -o x.h5 >> n.edf'
check "the refusals wrote no output" \
	sh -c '! ls o.h5 m.edf a.html ex_* x.h5 bd/*.h5 2>/dev/null | grep -q .'

# A FIFO: text outputs write into it; HDF5 and EDF refuse it.
mkfifo fifo
(timeout 20 cat fifo >fifo.got 2>/dev/null &)
psg-score -r n.hypnogram.edf --json fifo sws.bin >/dev/null 2>&1; rc=$?
sleep 1
check "psg-score --json FIFO writes into it (exit $rc)" \
	sh -c "[ $rc -eq 0 ] && [ -p fifo ] && grep -q '\"targets\"' fifo.got"
(timeout 20 cat fifo >fifo.csv 2>/dev/null &)
psg-collect --csv fifo a.h5 >/dev/null 2>&1; rc=$?
sleep 1
check "psg-collect --csv FIFO writes into it (exit $rc)" \
	sh -c "[ $rc -eq 0 ] && [ -p fifo ] && grep -q '^night' fifo.csv"
expect_exit 2 "psg-h5 -o FIFO is refused" sh -c 'psg-h5 -o fifo < s.bin'
check "the FIFO stays a FIFO" test -p fifo
expect_exit 2 "psg-synth -o FIFO is refused" psg-synth -H 0.05 -n 4 -o fifo
check "the FIFO stays a FIFO after psg-synth" test -p fifo
if mknod full c 1 7 2>/dev/null; then
	expect_exit 2 "psg-score --json DEVICE (full) writes in place: ENOSPC" \
		psg-score -r n.hypnogram.edf --json full sws.bin
	check "the device stays a device" test -c full
	expect_exit 2 "psg-h5 -o DEVICE is refused" \
		sh -c 'psg-h5 -o full < s.bin'
	check "the device stays a device after psg-h5" test -c full
else
	skip "mknod needs root: device outputs not tried"
fi

# Symbolic links: followed to a regular file (the link stays), refused
# when dangling.
echo old >target.json
ln -s target.json link.json
psg-score -r n.hypnogram.edf --json link.json sws.bin >/dev/null 2>&1
check "psg-score --json LINK replaces the link's target" \
	sh -c 'test -L link.json && grep -q "\"targets\"" target.json'
echo old >old.h5
ln -s old.h5 alink.h5
psg-h5 -o alink.h5 <s.bin 2>/dev/null
check "psg-h5 -o LINK keeps the link and replaces its target" \
	sh -c 'test -L alink.h5 && head -c 4 old.h5 | grep -q HDF'
ln -s nowhere/x.h5 dangling.h5
expect_exit 2 "psg-h5 -o DANGLING-LINK is refused" \
	sh -c 'psg-h5 -o dangling.h5 < s.bin'
check "the dangling link is still a link" test -L dangling.h5

# Write errors on stdout.
expect_exit 2 "psg-score > /dev/full exits 2" \
	sh -c 'psg-score -r n.hypnogram.edf sws.bin > /dev/full'

# Interrupted: nothing half-written remains.
for sig in TERM INT; do
	rm -f big.*
	psg-synth -H 8 -n 16 -o big.edf 2>/dev/null &
	pid=$!
	sleep 1
	kill -$sig $pid
	wait $pid
	check "psg-synth killed by SIG$sig leaves no temporary file" no_temps
done
check "no temporary file at the end" no_temps
finish
