#!/usr/bin/env bash
# check_layers: the include graph follows the layers common < generator < cosim < tools (unet,
# substrate, sweep: one layer). A .c or .h file of a layer may include (#include "x.h") only
# headers of its own layer or a lower one; a quoted include that names no header of the tree is
# a failure too. Prints one PASS/FAIL line per layer with each violation as file:line, and the
# harness's "summary: P passed, F failed"; tests/run.sh runs it with the test programs.
# Usage: tests/check_layers.sh [ROOT]   (default: the repository this script is in)
set -u
if [ $# -ge 1 ]; then
    cd "$1" || exit 2
else
    cd "$(dirname "$(readlink -f "$0")")/.." || exit 2 # the real tree, also via build-asan/root
fi
layers=(common generator cosim tools)

mapfile -t srcs < <(find "${layers[@]}" -name '*.[ch]' 2>/dev/null | sort)
if [ "${#srcs[@]}" -eq 0 ]; then # never pass on an empty tree
    echo "FAIL sources: none found under $(pwd)"
    echo "summary: 0 passed, 1 failed"
    exit 1
fi
# One awk pass: headers are found by name (the Makefile puts every source dir on -I); per layer
# one PASS/FAIL line, each violation indented below it.
out=$(awk -v names="${layers[*]}" '
    function layer(p,   i) {
        for (i = 1; i <= nl; i++)
            if (index(p, L[i] "/") == 1)
                return i
        return 0
    }
    BEGIN {
        nl = split(names, L, " ")
        for (f = 1; f < ARGC; f++) {
            n = split(ARGV[f], parts, "/")
            if (ARGV[f] ~ /\.h$/)
                hl[parts[n]] = layer(ARGV[f])
        }
    }
    FNR == 1 { files[layer(FILENAME)]++ }
    /^[ \t]*#[ \t]*include[ \t]*"/ {
        h = $0
        sub(/^[^"]*"/, "", h)
        sub(/".*$/, "", h)
        n = split(h, parts, "/")
        me = layer(FILENAME)
        if (!(parts[n] in hl))
            msg[me] = msg[me] "\n    " FILENAME ":" FNR ": #include \"" h "\": no such header"
        else if (hl[parts[n]] > me)
            msg[me] = msg[me] "\n    " FILENAME ":" FNR ": #include \"" h "\" (layer " \
                      L[hl[parts[n]]] ") above " L[me]
        else
            next
        bad[me]++
    }
    END {
        for (i = 1; i <= nl; i++)
            printf "%s %s includes nothing above it: observed %d violations in %d files, " \
                   "expected 0%s\n", (bad[i] == 0 && files[i] > 0) ? "PASS" : "FAIL", L[i],
                   bad[i], files[i], msg[i]
    }' "${srcs[@]}")
echo "$out"
pass=$(grep -c '^PASS' <<<"$out")
fail=$(grep -c '^FAIL' <<<"$out")
if [ $((pass + fail)) -ne "${#layers[@]}" ]; then # awk failed: never pass silently
    echo "FAIL layers: observed $((pass + fail)) verdicts, expected ${#layers[@]}"
    fail=$((fail + 1))
fi
echo "summary: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
