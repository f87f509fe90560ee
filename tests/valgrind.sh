#!/bin/sh
# tests/valgrind.sh -- `make check-valgrind`: the whole suite with every
# program and unit test run under valgrind (memcheck, leaks included); any
# valgrind error makes the program exit 99, which fails its check.  Slow:
# not part of `make check` or CI, run before landing changes to the library.
set -eu
: "${PSG_BUILD:=build}"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(cd "$ROOT/$PSG_BUILD/bin" && pwd)
WRAP=$(mktemp -d)
trap 'rm -rf "$WRAP"' EXIT
VG="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite"
for p in "$BIN"/psg-*; do
	printf '#!/bin/sh\nexec %s %s "$@"\n' "$VG" "$p" >"$WRAP/${p##*/}"
	chmod +x "$WRAP/${p##*/}"
done
PATH="$WRAP:$PATH" PSG_WRAP="$VG" PSG_VALGRIND=1 sh "$ROOT/tests/run.sh"
