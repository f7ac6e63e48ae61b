#!/usr/bin/env bash
# funclen.sh [ROOT] [N]: the N (default 12) longest C functions of the tree at ROOT (default: this
# repository), counted from the line that names the function to its closing brace at column 0.
# A maintenance aid (docs/architecture.md, "Conventions"): style asks for a stage per function.
set -eu
root=${1:-"$(dirname "$(readlink -f "$0")")/.."}
n=${2:-12}
cd "$root"
for f in common/*.c generator/*.c cosim/*.c tools/*/*.c; do
    awk -v F="$f" '
        /^[a-zA-Z_].*\(/ && !/;[ \t]*$/ { if (!infn) { name = $0; start = NR; infn = 1 } }
        /^}/ { if (infn) { sub(/\(.*/, "", name); k = split(name, w, /[ *]+/)
                           print NR - start + 1, F ":" w[k]; infn = 0 } }
    ' "$f"
done | sort -rn | head -n "$n"
