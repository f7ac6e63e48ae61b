#!/usr/bin/env bash
# Regenerates the committed example netlists (netlists/example-rc, example-rlc, example-rc-hier and
# the dialects example-rc-hspice, -xyce, -spectre) from a synthetic substrate bundle (D = 4 per
# module, k = 2, intra rank 2, seed 1). Usage:
#   make all && scripts/gen-examples.sh
set -eu
cd "$(dirname "$0")/.."
bin/tdi-gen --synth build/example/substrate --D 4 --k 2 --rank 2 --n 4 --seed 1 --preset example
bin/tdi-gen configs/example-rc.yaml
bin/tdi-gen configs/example-rlc.yaml
bin/tdi-gen configs/example-rc-hier.yaml
# The same circuit in each other simulator's dialect (docs/dialects.md)
for d in hspice xyce spectre; do
    bin/tdi-gen configs/example-rc-$d.yaml
done
