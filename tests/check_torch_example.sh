#!/usr/bin/env bash
# The outside user's path (docs/formats.md, docs/examples/export_pytorch.py): a tiny seeded
# PyTorch U-Net with tdi's block layout writes activation bundles through forward hooks;
# `tdi-fit --check` accepts them; tdi-fit fits a paper-mode substrate on them (pair e2/d2, D = 8)
# and its bundle passes `--check` too. Needs Debian's python3-torch and python3-numpy for
# /usr/bin/python3: where they are missing it says so and counts nothing (skipped, not passed).
set -u
cd "$(dirname "$(readlink -f "$0")")/.." || exit 2
py=/usr/bin/python3
pass=0
fail=0
check() { # check NAME COMMAND...: PASS when the command succeeds
    local name=$1
    shift
    if out=$("$@" 2>&1); then
        echo "PASS $name"
        pass=$((pass + 1))
    else
        echo "$out" | tail -n 15
        echo "FAIL $name: '$*' failed, expected success"
        fail=$((fail + 1))
    fi
}
if ! "$py" -c 'import torch, numpy' 2>/dev/null; then
    echo "SKIP torch example: $py cannot import torch and numpy (apt-get install python3-torch" \
        "python3-numpy to run it); nothing counted"
    echo "summary: 0 passed, 0 failed"
    exit 0
fi
fit=${TDI_FIT:-bin/tdi-fit}
scr=build/test-torch-example
rm -rf "$scr" && mkdir -p "$scr"
check "PyTorch U-Net exported through forward hooks" \
    "$py" docs/examples/export_pytorch.py --out "$scr/acts" --width 4 --n-fit 96 --n-test 32
check "tdi-fit --check accepts the export directory" "$fit" --check "$scr/acts"
cat >"$scr/fit.yaml" <<YAML
seed: 1
name: torch-example
out: $scr/out
export: {checkpoint: "TinyUNet", dir: $scr/acts, t: 200, n_fit: 96, n_test: 32, pool: 1}
substrate: {mode: paper, enc: e2, dec: d2, D: 8, k: 2, ranks: [1, 2], epochs: 20, batch: 32}
YAML
check "tdi-fit fits a substrate on the PyTorch activations" "$fit" "$scr/fit.yaml"
check "tdi-fit --check accepts the fitted substrate bundle" "$fit" --check "$scr/out/substrate"
echo "summary: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
