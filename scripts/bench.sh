#!/usr/bin/env bash
# Benchmarks (make bench): slow measurements kept out of `make test`. Each component adds one
# section; every section prints only numbers it measured on this machine (or says it skipped).
# Usage: scripts/bench.sh [section-filter]
set -u
cd "$(dirname "$0")/.." || exit 2
filter=${1:-}
want() { case "$1" in *"$filter"*) return 0 ;; *) return 1 ;; esac; }

# --- substrate (tdi-fit, issue 3): the whole fit + evaluation of each preset (issue bound: 30 s
# for the paper preset, 10,000 fit + 10,000 test samples at D = 64). Needs the activation bundles
# of out/paper (bin/tdi-unet export, see README).
if want substrate; then
    for preset in paper skip paper-e1; do
        cfg=configs/$preset.yaml
        if [ ! -d out/paper/activations-fit ] || [ ! -d out/paper/activations-test ]; then
            echo "substrate $preset: skipped (no out/paper/activations-{fit,test})"
            continue
        fi
        start=$(date +%s%N)
        if log=$(bin/tdi-fit "$cfg" 2>&1); then
            ms=$(( ($(date +%s%N) - start) / 1000000 ))
            echo "substrate $preset: bin/tdi-fit $cfg wall $((ms / 1000)).$(printf %03d $((ms % 1000))) s"
            echo "$log" | grep -E '^time:' | sed "s/^/substrate $preset: /"
        else
            echo "substrate $preset: bin/tdi-fit $cfg FAILED"
            echo "$log" | tail -n 3 | sed 's/^/    /'
        fi
    done
fi
