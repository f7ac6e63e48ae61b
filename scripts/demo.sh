#!/usr/bin/env bash
# make demo: from the shipped U-Net checkpoint to the co-simulator's table, on the paper preset.
# Steps: build; bin/tdi-unet export (fit and test activation bundles, skipped when present and
# made from the same checkpoint); bin/tdi-fit; bin/tdi-gen; bin/tdi-cosim (analytic, sde and spice
# engines). Prints each step's wall time and the table of configs/paper.yaml's run: engines and
# baselines by metric, wire counts, energy terms, time to solution (all measured by this run).
# Usage: scripts/demo.sh [CONFIG]   (default configs/paper.yaml). Exit status: first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
cfg=${1:-configs/paper.yaml}
make -s all >/dev/null
ckpt=$(awk '/^  checkpoint:/ {print $2; exit}' "$cfg")
out=$(awk '/^out:/ {print $2; exit}' "$cfg")
exp=$(awk '/^export:/ {e = 1} e && /^  dir:/ {print $2; exit}' "$cfg")
exp=${exp:-$out}
if [ ! -f "$ckpt" ]; then
    echo "demo: the U-Net checkpoint $ckpt is missing (train one: bin/tdi-unet train, see README)" >&2
    exit 1
fi
t0=$(date +%s)
step() { # name, command...
    local name=$1 s rc
    shift
    s=$(date +%s%N)
    echo "== $name: $*"
    set +e
    "$@"
    rc=$?
    set -e
    local ms=$((($(date +%s%N) - s) / 1000000))
    if [ $rc -ne 0 ]; then
        echo "demo: $name failed (exit $rc)" >&2
        exit $rc
    fi
    printf '== %s: %d.%03d s wall\n' "$name" $((ms / 1000)) $((ms % 1000))
}
mkdir -p "$out"
if [ -f "$exp/activations-fit/manifest.yaml" ] && [ -f "$exp/activations-test/manifest.yaml" ] &&
    [ "$exp/activations-fit/manifest.yaml" -nt "$ckpt" ] &&
    [ "$exp/activations-test/manifest.yaml" -nt "$ckpt" ]; then
    echo "== export: $exp/activations-{fit,test} are newer than $ckpt: kept"
else
    step export bin/tdi-unet export "$cfg"
fi
step fit sh -c "bin/tdi-fit '$cfg' >'$out/fit.log' 2>&1 || { tail -n 5 '$out/fit.log'; exit 1; }"
step gen sh -c "bin/tdi-gen '$cfg' >'$out/gen.log' 2>&1 || { tail -n 5 '$out/gen.log'; exit 1; }"
step cosim sh -c "bin/tdi-cosim '$cfg' >'$out/cosim.log' || exit 1"
echo
cat "$out/cosim.log"
echo
echo "demo: total $(($(date +%s) - t0)) s wall; logs in $out/{fit,gen,cosim}.log, results in $out/cosim/"
