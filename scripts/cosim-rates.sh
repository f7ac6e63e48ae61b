#!/usr/bin/env bash
# Engine speed against circuit size, for the run-time estimate of tdi-cosim (cosim/tdi_cosim_ticks.c,
# docs/cosim.md "Tick budget"): synthetic paper-mode bundles of D = 6, 16, 32, 64 (N = 2D units),
# one sample with a window of one slowest relaxation time, sde and spice; prints ticks per CPU-s.
# Usage: scripts/cosim-rates.sh [scratch dir]   (after make all; about 10 s of CPU)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build/cosim-rates}
mkdir -p "$dir"
for D in 6 16 32 64; do
    d=$dir/D$D
    rm -rf "$d"
    bin/tdi-cosim --synth-bundle "$d/substrate" "$D" 2 2 5 >/dev/null
    printf 'seed: 3\nname: t\nout: %s\ncircuit:\n  samples: [0]\ncosim:\n  n_samples: 1\n  progress: false\n  avg_relax: 1\n' "$d" >"$d.yaml"
    bin/tdi-cosim "$d.yaml" >"$d.log" 2>&1
    awk -v n=$((2 * D)) '$1 == "sde" || $1 == "spice" { printf "N = %3d units  %-6s %10s ticks/CPU-s\n", n, $1, $NF }' "$d.log"
done
