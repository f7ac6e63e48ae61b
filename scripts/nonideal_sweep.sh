#!/usr/bin/env bash
# docs/nonideal.md "Sweeps": fidelity against each non-ideality with the spread over 8 chips, on
# the substrate-skip preset at k = 4 with the demo's data. Prepares out/demo/skip.yaml as
# scripts/demo.sh configs/skip.yaml writes it (2,000 fit and 256 test images), exports and fits
# when the activations or the substrate are missing, runs configs/sweep-nonideal.yaml (analytic),
# configs/sweep-nonideal-sde.yaml (sde) and configs/sweep-nonideal-goal.yaml (issue 15's goal
# point), copies the CSVs to docs/sweeps/nonideal*.csv, draws the first two into
# docs/nonideal-<key>.png (bin/tdi-sweep plot; data and scripts in out/nonideal-plots) and prints
# the goal point's table. A sweep file named *-paper* (configs/sweep-nonideal-paper.yaml: the
# paper mode, on `make demo`'s out/demo/paper.yaml) is drawn on its own, into
# docs/nonideal-paper-<key>.png. A killed run resumes (rows already in results.csv are kept).
# Usage: scripts/nonideal_sweep.sh [SWEEP.yaml ...]   (default: the three skip-mode files above)
set -eu
cd "$(dirname "$0")/.."
make -s all >/dev/null
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(configs/sweep-nonideal.yaml configs/sweep-nonideal-sde.yaml
    configs/sweep-nonideal-goal.yaml)
# prep_skip: out/demo/skip.yaml, the activations and the fitted skip substrate
prep_skip() {
    mkdir -p out/demo
    sed -e "s|^out: .*|out: out/demo/skip|" -e "s|^  dir: .*|  dir: out/demo/paper|" \
        -e "s|^  n_fit: .*|  n_fit: 2000|" -e "s|^  n_test: .*|  n_test: 256|" configs/skip.yaml \
        >out/demo/skip.yaml.new
    if cmp -s out/demo/skip.yaml.new out/demo/skip.yaml; then rm out/demo/skip.yaml.new
    else mv out/demo/skip.yaml.new out/demo/skip.yaml; fi
    [ -f out/demo/paper/activations-test/manifest.yaml ] || bin/tdi-unet export out/demo/skip.yaml
    [ -f out/demo/skip/substrate/manifest.yaml ] ||
        bin/tdi-fit out/demo/skip.yaml >out/demo/skip-fit.log
}
for f in "${files[@]}"; do
    case $(basename "$f") in
    *-paper*) ;;
    *) prep_skip; break ;;
    esac
done
csvs=()
pcsvs=()
for f in "${files[@]}"; do
    case $(basename "$f") in
    *-paper*) [ -f out/demo/paper/substrate/manifest.yaml ] ||
        { echo "nonideal_sweep: $f needs make demo's out/demo/paper (run make demo first)" >&2; exit 1; } ;;
    esac
    start=$(date +%s)
    bin/tdi-sweep "$f"
    out=$(sed -n 's/^  out: *\([^ #]*\).*/\1/p' "$f")
    name=$(basename "$f" .yaml)
    cp "$out/results.csv" "docs/sweeps/${name#sweep-}.csv"
    case $name in
    sweep-nonideal-goal) ;;
    *-paper*) pcsvs+=("docs/sweeps/${name#sweep-}.csv") ;;
    *) csvs+=("docs/sweeps/${name#sweep-}.csv") ;;
    esac
    echo "nonideal_sweep: $f done in $(($(date +%s) - start)) s wall"
done
# plots TAG CSV...: the figures of CSV... as docs/nonideal-[TAG-]<key>.png
plots() {
    tag=$1
    shift
    rm -rf out/nonideal-plots
    bin/tdi-sweep plot "$@" out/nonideal-plots
    for p in out/nonideal-plots/nonideal_*.png; do
        k=$(basename "$p" .png)
        cp "$p" "docs/nonideal-$tag${k#nonideal_}.png"
    done
}
[ ${#csvs[@]} -eq 0 ] || plots "" "${csvs[@]}"
[ ${#pcsvs[@]} -eq 0 ] || plots paper- "${pcsvs[@]}"
g=docs/sweeps/nonideal-goal.csv
goal=0
for f in "${files[@]}"; do [ "$(basename "$f")" != sweep-nonideal-goal.yaml ] || goal=1; done
[ "$goal" = 1 ] && [ -f "$g" ] || exit 0
# the goal point: mean, std, min, max over the chips of the uncalibrated (cos_centered) and the
# calibrated (cal_cos_centered) chip, per engine and method
echo "goal point ($g): engine calibrate chips mean std min max (centered cosine)"
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    $c["status"] == "ok" { k = $c["engine"] " " $c["calibrate"]
        v = $c["calibrate"] == "none" ? $c["cos_centered"] : $c["cal_cos_centered"]
        n[k]++; s[k] += v; q[k] += v * v
        if (!(k in lo) || v < lo[k]) lo[k] = v
        if (!(k in hi) || v > hi[k]) hi[k] = v }
    END { for (k in n) { m = s[k] / n[k]; sd = n[k] > 1 ? sqrt((q[k] - n[k] * m * m) / (n[k] - 1)) : 0
            printf "%s %d %.4f %.4f %.4f %.4f\n", k, n[k], m, sd, lo[k], hi[k] } }' "$g" | sort
