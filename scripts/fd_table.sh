#!/bin/sh
# scripts/fd_table.sh: the Frechet-distance rows of issue 14 (docs/results.md, "Samples with
# substrate skips"), one `bin/tdi-unet fid` run per row, one after the other, under nice
# (FD_NICE, default 10) and /usr/bin/time, on FD_THREADS threads (default 1: one core). Every
# finished row appends one line to $OUT/rows.tsv (FD, floor, spread, confidence, class
# histogram, sampling wall and images/s, job wall/user/sys CPU, load average at start and end),
# so an interrupted queue loses only the row it was in; a row whose output $OUT/ROW.txt exists
# is skipped (rerun resumes). Run from the repository root after `make`.
# Usage: scripts/fd_table.sh [ROW[@N] ...]   (default: the rows below, in this order)
#        ROW: unmod-ddim50, unmod-ddim100, unmod-ddpm, LEVEL-kK or LEVEL-mean (LEVEL e1, e2, all;
#        DDIM 50 steps, eta 1); N: its images (default FD_N=2000); results in OUT=out/fd;
#        seed 3 (configs/unet.yaml sample.seed) in every row, so image i corresponds;
#        TDI_UNET=bin/tdi-unet (a copy keeps a long queue on one build while the tree rebuilds).
#        scripts/fd_table.sh --finish ROW[@N] LOAD0: append the row of a run that finished
#        without this script (its ROW.part, ROW.time and ROW.log in OUT; LOAD0 its start load).
#        scripts/fd_table.sh --markdown: rows.tsv as the table of docs/results.md.
set -eu
N=${FD_N:-2000}
OUT=${OUT:-out/fd}
TDI_UNET=${TDI_UNET:-bin/tdi-unet}
FD_NICE=${FD_NICE:-10}
export OMP_NUM_THREADS=${FD_THREADS:-1}
DDIM50="--sampler ddim --steps 50 --eta 1"
mkdir -p "$OUT"
# row_args ROW[@N]: N and the sampler and skip options of ROW (printed as "N OPTIONS")
row_args() {
    r=${1%@*}
    n=$N
    [ "$r" = "$1" ] || n=${1##*@}
    case $r in
    unmod-ddim50) echo "$n $DDIM50" ;;
    unmod-ddim100) echo "$n --sampler ddim --steps 100 --eta 1" ;;
    unmod-ddpm) echo "$n --sampler ddpm" ;;
    *-mean) echo "$n $DDIM50 --sskip ${r%-mean} --k mean" ;;
    *-k*) echo "$n $DDIM50 --sskip ${r%-k*} --k ${r##*-k}" ;;
    *) echo "unknown row $1" >&2; return 1 ;;
    esac
}
# file stem of ROW[@N]: ROW for N = FD_N, else ROW-nN
stem() {
    case $1 in
    *@*) [ "${1##*@}" = "$N" ] && echo "${1%@*}" || echo "${1%@*}-n${1##*@}" ;;
    *) echo "$1" ;;
    esac
}
load1() { cut -d' ' -f1 /proc/loadavg; }
# field TEXT PATTERN: the first line of TEXT starting with PATTERN, PATTERN removed
field() { grep "^$2" "$1" | head -n 1 | sed "s/^$2//"; }
run_row() {
    r=$(stem "$1")
    [ -s "$OUT/$r.txt" ] && { echo "fd_table: $r done already ($OUT/$r.txt)"; return 0; }
    set -- $(row_args "$1")
    n=$1; shift
    l0=$(load1)
    echo "fd_table: $r: $TDI_UNET fid --n $n $* (start $(date -u +%H:%M:%S), load $l0)"
    /usr/bin/time -f "%e %U %S" -o "$OUT/$r.time" nice -n "$FD_NICE" "$TDI_UNET" fid --n "$n" \
        "$@" >"$OUT/$r.part" 2>"$OUT/$r.log" || { echo "fd_table: $r failed (see $OUT/$r.log)"; return 1; }
    append_row "$r" "$n" "$l0" "$*"
}
# append_row STEM N LOAD0 OPTIONS: $OUT/STEM.part -> .txt and its line in rows.tsv
append_row() {
    r=$1 n=$2 l0=$3
    shift 3
    mv "$OUT/$r.part" "$OUT/$r.txt"
    fd=$(field "$OUT/$r.txt" "FD " | sed 's/ (test vs test floor \(.*\))/\t\1/')
    hist=$(field "$OUT/$r.txt" "class histogram ")
    spread=$(field "$OUT/$r.txt" "spread (TV from uniform) " | cut -d' ' -f1)
    conf=$(field "$OUT/$r.txt" "confidence " | cut -d' ' -f1)
    samp=$(field "$OUT/$r.txt" "sampling " | sed 's/ s (\(.*\) images\/s).*/\t\1/')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$n" "$fd" "$spread" "$conf" \
        "$hist" "$samp" "$(tr ' ' '\t' <"$OUT/$r.time")" "$l0" "$(load1)" "$*" \
        "$(date -u +%H:%M:%S)" >>"$OUT/rows.tsv"
    echo "fd_table: $r: $(tail -n 1 "$OUT/rows.tsv")"
}
[ -s "$OUT/rows.tsv" ] || printf 'row\tN\tFD\tfloor\tspread\tconfidence\thistogram 0-9\tsampling s\timages/s\twall s\tuser s\tsys s\tload start\tload end\toptions\tfinished UTC\n' >"$OUT/rows.tsv"
# markdown: rows.tsv as a markdown table, one row per measured row, in the order measured
markdown() {
    echo "| model | N | FD | floor (N) | spread | confidence | class histogram 0-9 | sampling wall, images/s | job CPU (user + sys) | load avg (1 min) start, end |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    awk -F'\t' 'NR > 1 {
        m = $1; sub(/-n[0-9]+$/, "", m)
        if (m == "unmod-ddim50") m = "unmodified, DDIM 50"
        else if (m == "unmod-ddim100") m = "unmodified, DDIM 100"
        else if (m == "unmod-ddpm") m = "unmodified, DDPM 1000"
        else if (m ~ /-mean$/) { sub(/-mean$/, "", m); m = m " mean (no information)" }
        else { k = m; sub(/.*-k/, "", k); sub(/-k.*/, "", m); m = m " k = " k }
        printf "| %s | %d | %s | %s | %s | %s | %s | %.0f s, %.2f | %.0f s | %s, %s |\n",
            m, $2, $3, $4, $5, $6, $7, $8, $9, $11 + $12, $13, $14 }' "$OUT/rows.tsv"
}
if [ "${1:-}" = --markdown ]; then
    markdown
    exit 0
fi
if [ "${1:-}" = --finish ]; then
    set -- "$2" "$(row_args "$2")" "$3"
    append_row "$(stem "$1")" "${2%% *}" "$3" "${2#* }"
    exit 0
fi
# the default queue, most useful first: a 100-image check of the build against the first table
# (unmodified, DDIM 50: FD 79.8846 at commit 7be08a4), then N = 2000 for k = 4 at each level and
# at both and e2's no-information baseline (mean; e1's is known at N = 500); then the rows not
# measured at any N, at N = 500 (a quarter of the CPU), so that every model has a row; then N =
# 2000 for the rest and DDIM 100 (DDPM: by hand, at 3.2-3.9 CPU s per image)
[ $# -gt 0 ] || set -- unmod-ddim50@100 e1-k4 e2-k4 all-k4 e2-mean e2-k16@500 e2-k1@500 \
    all-k16@500 all-k1@500 all-mean@500 e1-mean all-mean e1-k16 e2-k16 all-k16 e1-k1 e2-k1 \
    all-k1 unmod-ddim100
for r in "$@"; do
    run_row "$r" || true
done
