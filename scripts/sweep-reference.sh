#!/usr/bin/env bash
# The reference sweeps of issue 6 (docs/results.md "Reference sweeps"): runs
# configs/sweep-{paper,skip,spice,skip-spice,theta,paper-rest,skip-rest}.yaml (or the names given
# as arguments) with NP ranks (default 2; NP=1 runs serially without mpirun), copies each
# results.csv to docs/sweeps/<name>.csv and after each sweep redraws the figures from every CSV
# there: docs/sweeps/k/ (paper and skip presets, all engines, against k) and docs/sweeps/theta/.
# Needs out/paper/activations-{fit,test} (bin/tdi-unet export configs/paper.yaml).
# Env: NP (ranks), CONFIGS (directory of the sweep files, default configs), DOCS (default
# docs/sweeps). A killed run resumes where it stopped (rows already in results.csv are kept).
set -eu
cd "$(dirname "$0")/.."
np=${NP:-2}
cfgdir=${CONFIGS:-configs}
docs=${DOCS:-docs/sweeps}
run() {
    if [ "$np" -gt 1 ]; then
        mpirun --allow-run-as-root --oversubscribe -np "$np" bin/tdi-sweep "$1"
    else
        bin/tdi-sweep "$1"
    fi
}
mkdir -p "$docs"
plots() {
    local k=()
    for s in paper paper-rest skip skip-rest spice skip-spice; do
        [ -f "$docs/$s.csv" ] && k+=("$docs/$s.csv")
    done
    if [ ${#k[@]} -gt 0 ]; then
        rm -rf "$docs/k"
        bin/tdi-sweep plot "${k[@]}" "$docs/k"
    fi
    if [ -f "$docs/theta.csv" ]; then
        rm -rf "$docs/theta"
        bin/tdi-sweep plot "$docs/theta.csv" "$docs/theta"
    fi
    rm -f "$docs"/k/*.gp.log "$docs"/theta/*.gp.log
}
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(paper skip spice skip-spice theta paper-rest skip-rest)
for s in "${names[@]}"; do
    f=$cfgdir/sweep-$s.yaml
    start=$(date +%s)
    run "$f"
    out=$(sed -n 's/^  out: *\([^ #]*\).*/\1/p' "$f")
    cp "$out/results.csv" "$docs/$s.csv"
    echo "sweep-reference: $f done in $(( $(date +%s) - start )) s wall on $np rank(s)"
    plots
done
