#!/usr/bin/env bash
# docs/nonideal.md "Calibration": chips 0..7 of the skip design at 2% gain and self mismatch,
# 5 mV offsets and 1 LSB INL on both converters, calibrated by probe-and-fit and in the loop
# (cosim.calibrate probe | loop, 512 probes each; the calibration's defaults: projected encoder,
# full output correction after the ADC), analytic and sde engines. One line per chip and method:
# the design circuit, the uncalibrated and the calibrated chip (centered cosine).
# Usage: scripts/calib_chips.sh [BASE_CONFIG] [CHIPS] [COSIM_LINES]  (default out/demo/skip.yaml,
# as scripts/demo.sh configs/skip.yaml writes it, its substrate fitted; chips "0 1 2 3 4 5 6 7";
# COSIM_LINES: extra cosim keys, e.g. '  calib_output: none\n  calib_encoder: full' for the
# calibration before the output correction; TAG: runs in out/demo/calib-TAG; METHODS: "probe"
# alone, e.g. for the paper mode: TAG=paper METHODS=probe scripts/calib_chips.sh out/demo/paper.yaml)
set -eu
cd "$(dirname "$0")/.."
base=${1:-out/demo/skip.yaml}
chips=${2:-0 1 2 3 4 5 6 7}
extra=${3:-}
sub=$(awk '/^out:/ {print $2; exit}' "$base")/substrate
d=out/demo/calib${TAG:+-$TAG}
mkdir -p $d
for chip in $chips; do
  for m in ${METHODS:-probe loop}; do
    y=$d/$m-$chip.yaml
    sed -e "s|^out: .*|out: $d/$m-$chip|" -e "s|^  paper_row: true.*|  paper_row: false|" \
        -e "s|^  spice: true|  spice: false|" \
        -e "s|^  dac_bits: 10|  dac_bits: 10\n  dac_inl: 1\n  adc_inl: 1\n  calibrate: $m${extra:+\n$extra}|" \
        -e "s|^circuit:.*|circuit:\n  bundle: $sub\n  chip: $chip\n  nonideal:\n    gain_sigma: 0.02\n    self_sigma: 0.02\n    offset_sigma: 0.005|" \
        "$base" > $y
    ${TDI_GEN:-bin/tdi-gen} $y > $d/$m-$chip-gen.log 2>&1
    ${TDI_COSIM:-bin/tdi-cosim} $y > $d/$m-$chip-cosim.log 2>/dev/null
    awk -v c=$chip -v m=$m '/^calibration \(/ {b = 1} b && NF == 5 && $2 ~ /^[0-9]+$/ {r = r " " $1 " " $4}
        END {print "chip " c " " m ":" r}' $d/$m-$chip-cosim.log
  done
done
