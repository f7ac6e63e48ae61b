#!/usr/bin/env bash
# make demo: from the shipped U-Net checkpoint to the co-simulator's table, on the paper preset.
# Steps: build; bin/tdi-unet export (fit and test activation bundles, skipped when present and
# newer than the checkpoint); bin/tdi-fit; bin/tdi-gen; bin/tdi-cosim (analytic, sde and spice
# engines at the operating point the preset's target_noise_ratio chooses, and the sde engine at
# the paper's kT = 1 as its own row). Prints each step's wall time and the table of the run:
# engines and baselines by metric, the operating point and what binds, wire counts, energy
# terms, time to solution (all measured by this run).
# Sizing: the preset exports 10,000 + 10,000 images (several minutes of U-Net forward passes on
# 2 cores), so by default the demo runs the preset with DEMO_FIT (2000) fit and DEMO_TEST (256)
# test images in out/demo/ (config written to out/demo/<name>.yaml; everything else as in the
# preset; presets sharing an export dir share out/demo/<that dir's name>). DEMO_FULL=1 runs the
# preset file unchanged. Second stage (docs/results.md, the substrate-skip preset):
# scripts/demo.sh configs/skip.yaml
# Usage: scripts/demo.sh [CONFIG]   (default configs/paper.yaml). Exit status: first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
cfg=${1:-configs/paper.yaml}
make -s all >/dev/null
if [ "${DEMO_FULL:-0}" != 1 ]; then
    name=$(awk '/^name:/ {print $2; exit}' "$cfg")
    edir=$(awk '/^export:/ {e = 1} e && /^  dir:/ {print $2; exit}' "$cfg")
    edir=$(basename "${edir:-$name}")
    mkdir -p out/demo
    sed -e "s|^out: .*|out: out/demo/$name|" -e "s|^  dir: .*|  dir: out/demo/$edir|" \
        -e "s|^  n_fit: .*|  n_fit: ${DEMO_FIT:-2000}|" \
        -e "s|^  n_test: .*|  n_test: ${DEMO_TEST:-256}|" "$cfg" >"out/demo/$name.yaml"
    echo "== demo config: out/demo/$name.yaml = $cfg with ${DEMO_FIT:-2000} fit and" \
        "${DEMO_TEST:-256} test images (DEMO_FULL=1: the preset as is)"
    cfg=out/demo/$name.yaml
fi
ckpt=$(awk '/^  checkpoint:/ {print $2; exit}' "$cfg")
out=$(awk '/^out:/ {print $2; exit}' "$cfg")
exp=$(awk '/^export:/ {e = 1} e && /^  dir:/ {print $2; exit}' "$cfg")
exp=${exp:-$out}
if [ ! -f "$ckpt" ]; then
    echo "demo: the U-Net checkpoint $ckpt is missing" \
        "(train one: bin/tdi-unet train, see docs/unet.md)" >&2
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
