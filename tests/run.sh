#!/usr/bin/env bash
# Runs every test program in bin/ (bin/test_*) and every check script tests/check_*.sh
# (check_docs.sh: the repository cites only its own docs), adds their "summary: P passed,
# F failed" lines and ends with the total "N passed, N failed". A program that crashes, exits
# non-zero without failures, or prints no summary counts as one failure. Exit status: 0 iff
# nothing failed.
# Usage: tests/run.sh [name-filter]
set -u
cd "$(dirname "$0")/.." || exit 2
filter=${1:-}
pass=0
fail=0
mkdir -p build/test-logs
for t in bin/test_* tests/check_*.sh; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    case "$name" in *"$filter"*) ;; *) continue ;; esac
    log=build/test-logs/$name.log
    start=$(date +%s%N)
    "$t" >"$log" 2>&1
    rc=$?
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    line=$(grep -E '^summary: [0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
    if [ -n "$line" ]; then
        p=$(echo "$line" | sed -E 's/^summary: ([0-9]+) passed, ([0-9]+) failed$/\1/')
        f=$(echo "$line" | sed -E 's/^summary: ([0-9]+) passed, ([0-9]+) failed$/\2/')
    else
        p=0
        f=0
    fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
        echo "FAIL $name: exit status $rc with no failed check (crash?)" >>"$log"
    fi
    pass=$((pass + p))
    fail=$((fail + f))
    printf '%-28s %4d passed, %3d failed  (%d.%03d s)\n' "$name" "$p" "$f" $((ms / 1000)) $((ms % 1000))
    if [ "$f" -ne 0 ]; then
        grep -E '^FAIL' "$log" | head -n 20 | sed 's/^/    /'
    fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
