#!/usr/bin/env bash
# Runs the test suite on the sanitizer build (make asan builds it into build-asan/, bin-asan/).
# The tests call their programs as bin/..., from the repository root: they run here from
# build-asan/root, a tree of links to the repository whose bin/ is bin-asan/ and whose build/
# (scratch) is its own. Sanitizer settings: every report fatal, leaks checked at exit with
# tests/lsan.supp (third-party libraries only; docs/reliability.md "Sanitizers"), and mpirun
# (called by test_sweep) goes through tests/asan-bin/mpirun, which hands the same settings to the
# ranks.
# Usage: tests/asan.sh [name-filter]   (exit status: that of tests/run.sh)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
root=$repo/build-asan/root
[ -x "$repo/bin-asan/test_common" ] || { echo "tests/asan.sh: run make asan" >&2; exit 2; }
mkdir -p "$root/build"
for e in "$repo"/*; do
    name=$(basename "$e")
    case "$name" in build | bin | build-asan | bin-asan) continue ;; esac
    ln -sfn "$e" "$root/$name"
done
ln -sfn "$repo/bin-asan" "$root/bin"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export LSAN_OPTIONS=suppressions=$repo/tests/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export PATH=$repo/tests/asan-bin:$PATH
exec "$root/tests/run.sh" "$@"
