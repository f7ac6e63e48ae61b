#!/usr/bin/env bash
# docs/nonideal.md "Over chips": chips 0..7 of a design, analytic engine only, at 2% gain and self
# mismatch (gain), 5 mV offsets (offset) and both; one line per chip with its centered cosine.
# Usage: scripts/nonideal_chips.sh [BASE_CONFIG] (default out/demo/skip.yaml, as scripts/demo.sh
# configs/skip.yaml writes it, its substrate fitted in out/demo/skip/substrate)
set -eu
cd "$(dirname "$0")/.."
base=${1:-out/demo/skip.yaml}
sub=$(awk '/^out:/ {print $2; exit}' "$base")/substrate
for v in gain offset both; do
  case $v in
    gain) keys='    gain_sigma: 0.02\n    self_sigma: 0.02';;
    offset) keys='    offset_sigma: 0.005';;
    both) keys='    gain_sigma: 0.02\n    self_sigma: 0.02\n    offset_sigma: 0.005';;
  esac
  for chip in 0 1 2 3 4 5 6 7; do
    y=out/demo/chips/$v-$chip.yaml
    mkdir -p out/demo/chips
    sed -e "s|^out: .*|out: out/demo/chips/$v-$chip|" -e "s|^  paper_row: true.*|  paper_row: false|" \
        -e "s|^  sde: true|  sde: false|" \
        -e "s|^circuit:.*|circuit:\n  bundle: $sub\n  chip: $chip\n  nonideal:\n$keys|" "$base" > $y
    bin/tdi-gen $y > out/demo/chips/$v-$chip-gen.log 2>&1
    bin/tdi-cosim $y > out/demo/chips/$v-$chip-cosim.log 2>/dev/null
    c=$(awk '$1 == "analytic" {print $4; exit}' out/demo/chips/$v-$chip-cosim.log)
    echo "$v chip $chip cos_centered $c"
  done
done
