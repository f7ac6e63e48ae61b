#!/usr/bin/env bash
# Benchmarks (make bench): slow measurements kept out of `make test`. Each component adds one
# section; every section prints only numbers it measured on this machine (or says it skipped).
# Usage: scripts/bench.sh [section-filter]
set -u
cd "$(dirname "$0")/.." || exit 2
filter=${1:-}
want() { case "$1" in *"$filter"*) return 0 ;; *) return 1 ;; esac; }

# --- unet (tools/unet, issue 2): training (forward + backward + Adam) and inference images/s at
# batch 64, C = 32 (configs/unet.yaml), 20 s each. Reference on this machine (issue 2): PyTorch 1.13
# CPU, 2 threads, identical architecture: 82 images/s training, 229 images/s inference.
if want unet; then
    if line=$(bin/tdi-unet bench configs/unet.yaml --batch 64 --seconds 20 2>&1); then
        echo "unet: $line"
        tr=$(echo "$line" | sed -E 's/.*training ([0-9.]+) images.*/\1/')
        inf=$(echo "$line" | sed -E 's/.*inference ([0-9.]+) images.*/\1/')
        echo "unet: ratio to PyTorch 1.13 (82 / 229 images/s): training $(echo "scale=2; $tr / 82" | bc -l)x, inference $(echo "scale=2; $inf / 229" | bc -l)x"
        echo "unet: load average while measuring: $(cut -d' ' -f1-3 /proc/loadavg)"
    else
        echo "unet: bench FAILED: $line"
    fi
fi

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
