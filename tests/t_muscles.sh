#!/bin/sh
# Any muscle's contractions (issue 18): psg-synth --muscles nights (spasms
# of 12 s to 5 min, plateau or waxing-waning, bilateral back spasms,
# rising calf cramps, twitch trains, whole-body movements) scored per kind
# by tests/muscle_check.py against their truth: spasm recall and precision
# >= 0.95 with onset within 2 s and duration within 20 %, twitch recall
# >= 0.9, every whole-body movement one event; with the truth's wake epochs,
# arousals and awakenings (tests/tools/oraclewake), each event's sleep
# state and links and each muscle's indices.  A rest that follows the
# contraction (a short window, no hold) must fail the same check, so the
# check can fail.  Then --muscle naming, the label roles, and the errors.
. "$ROOT/tests/lib.sh"
if ! have_h5py; then skip "h5py missing"; finish; fi
CHECK="$PY $ROOT/tests/muscle_check.py"

# night NAME PROFILE SEED HOURS
night() {
	psg-synth -H "$4" -p "$2" -s "$3" --muscles -o "$TMP/$1.edf" \
		>/dev/null 2>>"$TMP/all.log"
}
night a healthy 18 3
night b mixed 19 2
for nm in a b; do
	psg-read "$TMP/$nm.edf" | "$PSG_BUILD/tools/oraclewake" "$TMP/$nm" |
		psg-emg 2>>"$TMP/all.log" | psg-h5 -o "$TMP/$nm.h5"
	check "psg-emg ran on the generated night '$nm' with muscles" \
		test -s "$TMP/$nm.h5"
done
{
$CHECK "$TMP/a.h5" "$TMP/a.events.tsv" --name healthy-18 --wake "$TMP/a"
$CHECK "$TMP/b.h5" "$TMP/b.events.tsv" --name mixed-19 --wake "$TMP/b"
} >"$TMP/out" 2>&1
grep -v '^# metrics' "$TMP/out"
grep '^# metrics' "$TMP/out" | cut -c1-400
grep -q '^not ok' "$TMP/out" && flunk "the muscle checks above"
grep -q '^ok' "$TMP/out" || flunk "the muscle checks did not run"

# The same night with a rest that a long contraction lifts (a 20-s window,
# not held): the check must see its spasms end early.
psg-read "$TMP/a.edf" | psg-emg --muscle-window 20 --hold 0 \
	2>>"$TMP/all.log" | psg-h5 -o "$TMP/moving.h5"
$CHECK "$TMP/moving.h5" "$TMP/a.events.tsv" --name moving-rest \
	>"$TMP/out2" 2>&1
grep '^ok\|^not ok' "$TMP/out2" | sed 's/^/# /'
check "a rest that follows the contraction fails the spasm check" \
	grep -q '^not ok - moving-rest: spasms' "$TMP/out2"

# Roles: the muscles are found by label, reported under their labels;
# --muscle names a channel and reports it under NAME; 'none' drops them.
psg-read "$TMP/a.edf" | psg-emg 2>>"$TMP/all.log" |
	psg-dump --no-samples >"$TMP/roles.txt"
check "the muscle channels take the role muscle by label" \
	test "$(grep -c '^role emg muscle' "$TMP/roles.txt")" = 4
check "each muscle has its figures under its label" \
	grep -q '^summary "muscle_spasms Paraspinal L"' "$TMP/roles.txt"
psg-read -c 'Chin*,Leg L,Calf L' "$TMP/a.edf" |
	psg-emg --muscle none --muscle 'Leg L=tibialis anterior L' \
	2>>"$TMP/all.log" | psg-dump --no-samples >"$TMP/named.txt"
check "--muscle SEL=NAME reports the channel as NAME" \
	grep -q '^summary "muscle_spasms tibialis anterior L"' "$TMP/named.txt"
check "--muscle none: no muscle is guessed from labels" \
	sh -c "! grep -q '^role emg muscle.*Calf L\|muscle_spasms Calf L' '$TMP/named.txt'"

cat "$TMP"/*.err >>"$TMP/all.log" 2>/dev/null
check "no sanitizer report from the stages" \
	sh -c "! grep -q 'runtime error\|Sanitizer' '$TMP/all.log'"
expect_exit 1 "psg-emg --muscle with no such channel is a usage error" \
	sh -c "psg-read '$TMP/b.edf' | psg-emg --muscle nothing"
expect_exit 1 "psg-emg --muscle-ratio 0.5 exits 1" \
	sh -c "psg-emg --muscle-ratio 0.5 </dev/null"
expect_exit 1 "psg-emg --twitch above --spasm exits 1" \
	sh -c "psg-emg --twitch 8 --spasm 5 </dev/null"
finish
