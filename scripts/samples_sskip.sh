#!/bin/sh
# scripts/samples_sskip.sh: the sample grids of issue 14 with substrate skips (docs/results.md,
# "Samples with substrate skips"): 16 images each, DDIM 50 steps, eta 1, seed 3 (sample.seed),
# so image i corresponds in every grid; then docs/samples-sskip.png, one row of 16 per model
# (ImageMagick's convert). Run from the repository root after `make`. Fits are cached in
# out/e2e/sample-fit (the first run of each level and rank fits it, about a minute).
# MONTAGE_ONLY=1: only rebuild docs/samples-sskip.png from the grids in docs/; MISSING_ONLY=1:
# make only the grids not in docs/ yet, then the montage.
set -eu
SAMPLER="--sampler ddim --steps 50 --eta 1 --n 16"
grid() { # grid OUT [SKIP OPTIONS]
    out=$1; shift
    [ -n "${MISSING_ONLY:-}" ] && [ -s "$out" ] && return 0
    nice -n 10 bin/tdi-unet sample $SAMPLER --out "$out" "$@"
}
if [ -z "${MONTAGE_ONLY:-}" ]; then
grid docs/samples-ddim50-eta1.png
for lv in e1 e2 all; do
    for k in 1 4 16; do
        grid docs/samples-sskip-$lv-k$k.png --sskip $lv --k $k
    done
done
for lv in e1 e2 all; do
    grid docs/samples-sskip-$lv-mean.png --sskip $lv --k mean
done
fi
# rows: a 4 x 4 grid (266 px: 2 px borders, 64 px cells, 2 px gaps) -> its 4 grid rows side by
# side (264 x 66 each: left border or gap and top border or gap), a label on the left
rows=""
tmp=$(mktemp -d)
label() {
    case $1 in
    ddim50-eta1) echo "unmodified" ;;
    sskip-*-mean) echo "$1" | sed 's/sskip-\(.*\)-mean/\1 mean/' ;;
    *) echo "$1" | sed 's/sskip-\(.*\)-k\(.*\)/\1 k = \2/' ;;
    esac
}
for g in ddim50-eta1 sskip-e1-k1 sskip-e1-k4 sskip-e1-k16 sskip-e2-k1 sskip-e2-k4 sskip-e2-k16 \
         sskip-all-k1 sskip-all-k4 sskip-all-k16 sskip-e1-mean sskip-e2-mean sskip-all-mean; do
    for r in 0 1 2 3; do
        convert docs/samples-$g.png -crop 264x66+0+$((r * 66)) +repage "$tmp/$g-$r.png"
    done
    convert -background 'rgb(128,128,128)' -fill white -size 120x66 -pointsize 20 -gravity center \
        label:"$(label $g)" "$tmp/$g-l.png"
    convert "$tmp/$g-l.png" "$tmp/$g-0.png" "$tmp/$g-1.png" "$tmp/$g-2.png" "$tmp/$g-3.png" \
        +append -gravity east -background 'rgb(128,128,128)' -splice 2x0 "$tmp/$g.png"
    rows="$rows $tmp/$g.png"
done
convert $rows -append -gravity south -background 'rgb(128,128,128)' -splice 0x2 -depth 8 \
    -colorspace Gray -strip docs/samples-sskip.png
rm -rf "$tmp"
echo "wrote docs/samples-sskip.png (one row per model, 16 images each, labelled)"
