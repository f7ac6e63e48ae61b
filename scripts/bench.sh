#!/usr/bin/env bash
# Benchmarks (make bench): slow measurements kept out of `make test`. Each component adds one
# section; every section prints only numbers it measured on this machine (or says it skipped).
# Usage: scripts/bench.sh [section-filter]
set -u
cd "$(dirname "$0")/.." || exit 2
filter=${1:-}
want() { case "$1" in *"$filter"*) return 0 ;; *) return 1 ;; esac; }

# --- unet (tools/unet, issues 2 and 13): training (forward + backward + Adam) and inference
# images/s at batch 64, C = 32 (configs/unet.yaml), tdi against the same architecture in PyTorch
# (scripts/bench_unet_torch.py, Debian's python3-torch, 2 threads), run side by side in
# alternation (UNET_RUNS rounds, default 5, of UNET_SECONDS s per phase, default 10) on this
# shared machine; medians and their ratio (target >= 1.5x both), with the load average. Each
# round also runs tdi with substrate skips at e1 and e2 (issue 13, tdi-unet bench --sskip yes).
# OpenBLAS's kernels: the whole comparison runs once with OPENBLAS_CORETYPE as the environment
# sets it (this machine's sets Haswell) and once unset (OpenBLAS picks by CPU: AVX-512 here),
# each section labelled (UNET_CORETYPES="env unset", the default; "env" or "unset" for one).
med() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan";
    else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ips() { sed -E 's/.*training ([0-9.]+) images.*inference ([0-9.]+) images.*/\1 \2/'; }
nparams() { sed -nE 's/.*params ([0-9]+).*/\1/p'; }
# One labelled comparison: $1 label, $2 "env" (OPENBLAS_CORETYPE as set) or "unset".
unet_cmp() {
    local label=$1 how=$2 run=(env) line who n tr inf
    [ "$how" = unset ] && run=(env -u OPENBLAS_CORETYPE)
    : >build/bench-unet.txt
    echo "unet [$label]: load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    for i in $(seq "$runs"); do
        if line=$("${run[@]}" OMP_NUM_THREADS=2 bin/tdi-unet bench configs/unet.yaml --batch 64 \
                --seconds "$secs" 2>&1); then
            echo "unet [$label]: run $i tdi:   $line"
            echo "tdi $(echo "$line" | ips)" >>build/bench-unet.txt
            echo "params_tdi $(echo "$line" | nparams)" >>build/bench-unet.txt
        else
            echo "unet [$label]: run $i tdi bench FAILED: $line"
        fi
        if line=$("${run[@]}" OMP_NUM_THREADS=2 bin/tdi-unet bench configs/unet.yaml --batch 64 \
                --seconds "$secs" --sskip yes 2>&1); then
            echo "unet [$label]: run $i tdi with substrate skips: $line"
            echo "tdi_sskip $(echo "$line" | ips)" >>build/bench-unet.txt
        else
            echo "unet [$label]: run $i tdi --sskip yes bench FAILED: $line"
        fi
        if [ "$torch" = 1 ]; then
            if line=$("${run[@]}" /usr/bin/python3 scripts/bench_unet_torch.py --batch 64 \
                    --threads 2 --seconds "$secs" 2>&1); then
                echo "unet [$label]: run $i torch: $line"
                echo "torch $(echo "$line" | ips)" >>build/bench-unet.txt
                echo "params_torch $(echo "$line" | nparams)" >>build/bench-unet.txt
            else
                echo "unet [$label]: run $i torch bench FAILED: $(echo "$line" | tail -n 1)"
            fi
        fi
    done
    echo "unet [$label]: load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
    local pt pp
    pt=$(awk '$1 == "params_tdi" { print $2 }' build/bench-unet.txt | sort -u | tr '\n' ' ')
    pp=$(awk '$1 == "params_torch" { print $2 }' build/bench-unet.txt | sort -u | tr '\n' ' ')
    if [ -n "$pp" ]; then
        if [ "$pt" = "$pp" ]; then
            echo "unet [$label]: the same architecture: tdi and PyTorch both have" \
                "${pt% } parameters"
        else
            echo "unet [$label]: WARNING: parameter counts differ (tdi ${pt% }, PyTorch ${pp% }):" \
                "the reference is not the same architecture"
        fi
    fi
    local tdi_tr='' tdi_inf='' torch_tr='' torch_inf='' tdi_sskip_tr='' tdi_sskip_inf=''
    for who in tdi tdi_sskip torch; do
        n=$(grep -c "^$who " build/bench-unet.txt)
        [ "$n" -gt 0 ] || continue
        tr=$(awk -v w="$who" '$1 == w { print $2 }' build/bench-unet.txt | med)
        inf=$(awk -v w="$who" '$1 == w { print $3 }' build/bench-unet.txt | med)
        eval "${who}_tr=$tr ${who}_inf=$inf"
        echo "unet [$label]: median of $n runs, $who: training $tr images/s," \
            "inference $inf images/s"
    done
    if [ -n "$tdi_tr" ] && [ -n "$torch_tr" ]; then
        echo "unet [$label]: tdi / PyTorch (medians, batch 64, 2 threads each): training" \
            "$(awk -v a="$tdi_tr" -v b="$torch_tr" 'BEGIN { printf "%.2f", a / b }')x," \
            "inference $(awk -v a="$tdi_inf" -v b="$torch_inf" 'BEGIN { printf "%.2f", a / b }')x" \
            "(target >= 1.5x both)"
    fi
    if [ -n "$tdi_tr" ] && [ -n "$tdi_sskip_tr" ]; then
        echo "unet [$label]: substrate skips at e1 and e2 (full rank, per pixel, noisy) / none" \
            "(medians): training $(awk -v a="$tdi_sskip_tr" -v b="$tdi_tr" \
            'BEGIN { printf "%.3f", a / b }')x, inference $(awk -v a="$tdi_sskip_inf" \
            -v b="$tdi_inf" 'BEGIN { printf "%.3f", a / b }')x"
    fi
}
if want unet; then
    runs=${UNET_RUNS:-5}
    secs=${UNET_SECONDS:-10}
    torch=1
    if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
        torch=0
        echo "unet: PyTorch skipped: /usr/bin/python3 cannot import torch (as root:" \
            "apt-get install -y python3-torch, or make bench-deps)"
    fi
    mkdir -p build
    for how in ${UNET_CORETYPES:-env unset}; do
        case "$how" in
        env)
            if [ -z "${OPENBLAS_CORETYPE+set}" ]; then
                echo "unet: section [coretype unset]: the environment sets no OPENBLAS_CORETYPE," \
                    "OpenBLAS picks its kernels by CPU"
                unet_cmp "coretype unset" env
            else
                echo "unet: section [coretype $OPENBLAS_CORETYPE]:" \
                    "OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE as this environment sets it," \
                    "for both programs"
                unet_cmp "coretype $OPENBLAS_CORETYPE" env
            fi
            ;;
        unset)
            [ -z "${OPENBLAS_CORETYPE+set}" ] && case " ${UNET_CORETYPES:-env unset} " in
                *" env "*) continue ;; esac # the same as the env section
            echo "unet: section [coretype unset]: env -u OPENBLAS_CORETYPE for both programs:" \
                "OpenBLAS picks its kernels by CPU (AVX-512 ones on this AMD EPYC)"
            unet_cmp "coretype unset" unset
            ;;
        *) echo "unet: UNET_CORETYPES: 'env' or 'unset', not '$how'" ;;
        esac
    done
fi

# --- substrate (tdi-fit, issue 3): the whole fit + evaluation of each preset (issue bound: 30 s
# for the paper preset, 10,000 fit + 10,000 test samples at D = 64). Needs the activation bundles
# of out/paper (bin/tdi-unet export, see docs/unet.md).
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

# --- load (issue 16): tdi-fit on make demo's inputs (out/demo/paper.yaml and its activation
# bundles; output into build/bench-load) beside a busy neighbour (two shell loops spinning, one
# per core of this 2-core machine) and alone, with idle OpenMP threads sleeping
# (OMP_WAIT_POLICY=PASSIVE: what every program sets for itself since issue 16, common/tdi_cli.h)
# and with libgomp's default spin-then-sleep (the behaviour before: the programs keep a value the
# user set, and an empty one makes libgomp print one warning and use its default). LOAD_RUNS
# rounds (default 2) in alternation; wall seconds of each run and the medians; load average.
if want load; then
    if [ ! -d out/demo/paper/activations-fit ] || [ ! -d out/demo/paper/activations-test ] ||
        [ ! -f out/demo/paper.yaml ]; then
        echo "load: skipped (no out/demo/paper.yaml and out/demo/paper/activations-{fit,test}:" \
            "make demo writes them)"
    else
        b=build/bench-load
        mkdir -p "$b" && : >"$b/times.txt"
        sed -e "s|^out: .*|out: $b/paper|" -e "s|^  dir: .*|  dir: out/demo/paper|" \
            out/demo/paper.yaml >"$b/paper.yaml"
        fit() { # $1 label, $2 OMP_WAIT_POLICY value ("" = libgomp's default)
            local start ms
            start=$(date +%s%N)
            if OMP_WAIT_POLICY=$2 bin/tdi-fit "$b/paper.yaml" >"$b/fit-$1.log" 2>&1; then
                ms=$(( ($(date +%s%N) - start) / 1000000 ))
                echo "$1 $ms" >>"$b/times.txt"
                echo "load: run $run, $1: tdi-fit wall $((ms / 1000)).$(printf %03d $((ms % 1000))) s" \
                    "(load average before: $3)"
            else
                echo "load: run $run, $1: tdi-fit FAILED: $(tail -n 1 "$b/fit-$1.log")"
            fi
        }
        spin() { sh -c 'while :; do :; done' & }
        for run in $(seq "${LOAD_RUNS:-2}"); do
            fit alone_passive PASSIVE "$(cut -d' ' -f1 /proc/loadavg)"
            fit alone_default "" "$(cut -d' ' -f1 /proc/loadavg)"
            spin; p1=$!; spin; p2=$!
            sleep 1
            fit busy_passive PASSIVE "$(cut -d' ' -f1 /proc/loadavg)"
            fit busy_default "" "$(cut -d' ' -f1 /proc/loadavg)"
            kill "$p1" "$p2"; wait "$p1" "$p2" 2>/dev/null
        done
        for who in alone_passive alone_default busy_passive busy_default; do
            m=$(awk -v w="$who" '$1 == w { print $2 / 1000 }' "$b/times.txt" | med)
            echo "load: $who: median tdi-fit wall $m s"
        done
    fi
fi

# --- generator (tdi-gen, issue 4): netlist generation time against D*k (issue bound: D = 1024
# per module, k = 64, low-rank intra couplings, under 2 s and linear in D*k). Synthetic bundles
# (bin/tdi-gen --synth, intra rank 16; shared-bus skip, so intra buses = 16 + k). CPU seconds
# from tdi-gen's own timing line: "O(N^3)" = bundle read + Cholesky/eigenvalues/read-out errors,
# "O(Dk)" = elements + their text + writing both netlists.
if want generator; then
    mkdir -p build/bench-gen
    printf 'generator: %5s %4s %8s %9s %10s %9s %9s %9s %10s\n' D k D*k elements wire_pairs \
        cpu_total O_N3_part O_Dk_part us_per_Dk
    for D in 128 256 512 1024; do
        for k in 16 64; do
            dir=build/bench-gen/D$D-k$k
            cfg=build/bench-gen/D$D-k$k.yaml
            if ! bin/tdi-gen --synth "$dir/substrate" --D "$D" --k "$k" --rank 16 --n 1 --seed 1 \
                    --preset bench >/dev/null 2>&1; then
                echo "generator: D=$D k=$k: synth FAILED"
                continue
            fi
            printf 'name: bench\ncircuit:\n  intra: lowrank\n  rank: %d\n  skip: sharedbus\n' \
                $((16 + k)) >"$cfg"
            if ! log=$(bin/tdi-gen "$cfg" --bundle "$dir/substrate" --out "$dir/netlists" 2>&1); then
                echo "generator: D=$D k=$k: tdi-gen FAILED: $(echo "$log" | tail -n 1)"
                continue
            fi
            echo "$log" | awk -v D="$D" -v k="$k" '
                /^  total: / { el = $2; wp = $5 }
                /^timing \(CPU s\)/ {
                    gsub(/[,;]/, " ");
                    for (i = 1; i <= NF; i++) {
                        if ($i == "read") rd = $(i + 1);
                        if ($i == "checks+physics") ph = $(i + 1);
                        if ($i == "text") tx = $(i + 1);
                        if ($i == "netlists") wr = $(i + 1);
                        if ($i == "total") tot = $(i + 1);
                    }
                }
                END {
                    lin = tx + wr;
                    printf "generator: %5d %4d %8d %9d %10d %9.3f %9.3f %9.3f %10.3f\n",
                        D, k, D * k, el, wp, tot, rd + ph, lin, 1e6 * lin / (D * k)
                }'
            rm -rf "$dir/netlists"
        done
    done
fi

# --- cosim (tdi-cosim, issue 5): ticks per CPU second of the spice engine (ngspice in lock-step
# with C callbacks) and the sde engine on the paper preset's circuit, plain `ngspice -b` on the
# same deck (EXTERNAL sources replaced by dc 0, no callbacks) for the lock-step overhead, and the
# bias schedule (one transient for all samples) against one run per sample. Uses out/paper's
# substrate bundle when it exists, else a synthetic one of the same size (D = 64, k = 16).
if want cosim; then
    b=build/bench-cosim
    mkdir -p "$b"
    sub=""
    for d in out/paper out/demo/paper; do # the preset's bundle, or make demo's
        [ -z "$sub" ] && [ -f "$d/substrate/manifest.yaml" ] && sub=$d
    done
    if [ -n "$sub" ]; then
        src="$sub (paper preset bundle)"
        sed -e 's/^  n_samples: .*/  n_samples: 1/' -e 's/^  avg_relax: 10 .*/  avg_relax: 2/' \
            -e 's/^  progress: .*/  progress: false/' -e "s|^out: .*|out: $b/paper|" \
            configs/paper.yaml >"$b/paper.yaml"
        mkdir -p "$b/paper" && rm -rf "$b/paper/substrate" && cp -r "$sub/substrate" "$b/paper/"
    else
        src="synthetic D = 64, k = 16 bundle, paper preset circuit section"
        bin/tdi-cosim --synth-bundle "$b/paper/substrate" 64 16 4 1
        sed -e 's/^name: .*/name: t/' -e "s|^out: .*|out: $b/paper|" \
            -e 's/^  n_samples: .*/  n_samples: 1/' -e 's/^  avg_relax: 10 .*/  avg_relax: 2/' \
            -e 's/^  progress: .*/  progress: false/' configs/paper.yaml >"$b/paper.yaml"
    fi
    echo "cosim: circuit from $src"
    if bin/tdi-cosim "$b/paper.yaml" >"$b/run.log" 2>&1; then
        js=$b/paper/cosim/results.json
        ticks=$(grep -o '"spice": {[^}]*' "$js" | grep -o '"ticks": [0-9]*' | grep -o '[0-9]*$')
        sp=$(grep -o '"spice": {[^}]*' "$js" | grep -o '"ticks_per_s": [0-9.e+-]*' | awk '{print $2}')
        sd=$(grep -o '"sde": {[^}]*' "$js" | grep -o '"ticks_per_s": [0-9.e+-]*' | awk '{print $2}')
        wires=$(grep -o '"wires": [0-9]*' "$js" | awk '{print $2}')
        echo "cosim: $ticks ticks, $wires wire pairs: spice $sp ticks/CPU-s, sde $sd ticks/CPU-s," \
            "sde/spice $(awk -v a="$sd" -v b="$sp" 'BEGIN{printf "%.1f", a / b}') x (target >= 100 x)"
        n=$((ticks - 1))
        bin/tdi-cosim "$b/paper.yaml" --deck "$b/plain.cir" "$n" --plain
        TIMEFORMAT='%U %S'
        t=$( { time ngspice -b -r "$b/plain.raw" "$b/plain.cir" >"$b/plain.log" 2>&1; } 2>&1 )
        cpu=$(echo "$t" | awk '{print $1 + $2}')
        pr=$(awk -v n="$ticks" -v c="$cpu" 'BEGIN{printf "%.1f", n / c}')
        echo "cosim: plain ngspice -b, same deck, dc 0 sources: $pr ticks/CPU-s ($cpu CPU s incl." \
            "start-up); lock-step overhead per tick: $(awk -v a="$pr" -v b="$sp" \
            'BEGIN{printf "%+.1f%%", 100 * (a / b - 1)}') (target <= +15%)"
    else
        echo "cosim: tdi-cosim FAILED: $(tail -n 1 "$b/run.log")"
    fi
    # sde engine (issue 10): sample-ticks per CPU second of three paths of the per_sample
    # schedule on the same circuit and 256 samples: the pre-batching reference (--sde-reference:
    # one run per sample, mat-vecs, scalar draws: "old"), the general batched path
    # (--sde-general: GEMMs per tick), and the default, which on this circuit is the mode-basis
    # fast path (docs/sde.md: "new"; results.json's sde_schedule names the path that ran),
    # SDE_RUNS times (default 5) in alternation on this shared machine; medians. Then the limits
    # measured here: dgemm GFLOP/s at the tick's shape, dtrmm, and the CPU ns per Gaussian of
    # both generators, and the fraction of each limit reached (the new path's E_R is an
    # expectation, not per tick: its limit is the Gaussians').
    sed -e 's/^  n_samples: .*/  n_samples: 256/' -e 's/^  spice: .*/  spice: false/' \
        -e 's/^  paper_row: .*/  paper_row: false/' "$b/paper.yaml" >"$b/sde.yaml"
    if [ -z "$sub" ]; then # the synthetic bundle holds 4 samples: write one with 256
        bin/tdi-cosim --synth-bundle "$b/paper/substrate" 64 16 256 1
    fi
    ref="" gen="" new="" loads=""
    for run in $(seq 1 "${SDE_RUNS:-5}"); do
        for p in reference general default; do
            arg=""
            [ "$p" = reference ] && arg=--sde-reference
            [ "$p" = general ] && arg=--sde-general
            load=$(cut -d' ' -f1 /proc/loadavg)
            loads="$loads $load"
            if bin/tdi-cosim "$b/sde.yaml" --schedule per_sample $arg >"$b/sde-$p.log" 2>&1; then
                js=$b/paper/cosim/results.json
                r=$(grep -o '"sde": {[^}]*' "$js")
                path=$(grep -o '"sde_schedule": "[^"]*"' "$js" | sed 's/.*: "//; s/"$//')
                tps=$(echo "$r" | grep -o '"ticks_per_s": [0-9.e+-]*' | awk '{print $2}')
                cpu=$(echo "$r" | grep -o '"cpu_s": [0-9.e+-]*' | awk '{print $2}')
                tk=$(echo "$r" | grep -o '"ticks": [0-9]*' | awk '{print $2}')
                echo "cosim: sde run $run, $p: $path: $tk sample-ticks in $cpu CPU s = $tps" \
                    "sample-ticks/CPU-s (load average before: $load)"
                case $p in
                    reference) ref="$ref $tps" ;;
                    general) gen="$gen $tps" ;;
                    *) new="$new $tps"; newpath=$path ;;
                esac
            else
                echo "cosim: sde run $run, $p FAILED: $(tail -n 1 "$b/sde-$p.log")"
            fi
        done
    done
    med() { echo "$1" | tr ' ' '\n' | grep . | sort -g | awk '{ r[NR] = $1 } END {
        if (NR) printf "%.6g", NR % 2 ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2 }'; }
    mr=$(med "$ref") mg=$(med "$gen") mn=$(med "$new")
    units=$(grep -o '[0-9]* units$' "$b/sde-default.log" | head -n 1 | awk '{print $1}')
    if [ -n "$mr" ] && [ -n "$mg" ] && [ -n "$mn" ] && [ -n "$units" ]; then
        echo "cosim: sde median of ${SDE_RUNS:-5} (load average $(echo "$loads" | tr ' ' '\n' |
            grep . | sort -g | awk '{ r[NR] = $1 } END { printf "%s to %s", r[1], r[NR] }')):" \
            "old (reference) $mr, general batched $mg, new ($newpath) $mn sample-ticks/CPU-s"
        echo "cosim: sde speed-up new / old $(awk -v a="$mn" -v b="$mr" 'BEGIN{printf "%.2f", a / b}') x" \
            "(issue target >= 20 x); new / 1.2e5 (the issue's old figure)" \
            "$(awk -v a="$mn" 'BEGIN{printf "%.2f", a / 1.2e5}') x; general / old" \
            "$(awk -v a="$mg" -v b="$mr" 'BEGIN{printf "%.2f", a / b}') x"
        lim=$(bin/tdi-cosim --sde-limits "$units" 128 2)
        echo "cosim: sde limits, N = $units units, 128 rows" \
            "(load average $(cut -d' ' -f1 /proc/loadavg)): $lim"
        echo "$lim" | awk -v n="$units" -v a="$mn" -v g="$mg" '{
            gf = $2; nsd = $6; gt = $8; nsm = $10;
            # general path: 4 N^2 flops (two GEMMs) and N old-generator draws per sample-tick
            lg = gf * 1e9 / (4 * n * n); ln = 1e9 / (n * nsd); ls = 1 / (1 / lg + 1 / ln);
            printf "cosim: sde general path: GEMM limit %.3g sample-ticks/s (reached %.0f%%), " \
                "Gaussian limit %.3g (reached %.0f%%), both in series %.3g (reached %.0f%%)\n",
                lg, 100 * g / lg, ln, 100 * g / ln, ls, 100 * g / ls;
            # mode-basis path: N mode-basis draws per sample-tick, the one per-tick limit left;
            # E_R is its expectation (docs/sde.md), one N^2 quadratic form per sample and one
            # N^2 L SYRK per run, no longer the per-tick a^T Q a (N^2 flops per sample-tick,
            # whose limit at the dgemm peak is printed for comparison)
            mg = gf * 1e9 / (n * n); mn = 1e9 / (n * nsm);
            printf "cosim: sde new path: Gaussian limit %.3g sample-ticks/s (%.3g ns per draw;" \
                " reached %.0f%%); E_R no longer per tick (expectation: one quadratic form per" \
                " sample; the former per-tick a^T Q a alone limited it to %.3g)\n",
                mn, nsm, 100 * a / mn, mg;
            printf "cosim: sde new path vs the issue target (20 x 1.2e5 = 2.4e6): %.0f%% (%s)\n",
                100 * a / 2.4e6, (a >= 2.4e6 ? "reached" : "not reached") }'
    fi
    # schedule: the same circuit, 3 samples (settle_eps 0.1, 1 slow time of averaging), spice
    # CPU seconds with one transient (bias schedule) and with one run per sample
    sed -e 's/^  n_samples: .*/  n_samples: 3/' -e 's/^  avg_relax: .*/  avg_relax: 1/' \
        -e 's/^  sde: .*/  sde: false/' -e 's/^  settle_eps: .*/  settle_eps: 0.1/' \
        "$b/paper.yaml" >"$b/sched.yaml"
    for s in batch per_sample; do
        if bin/tdi-cosim "$b/sched.yaml" --schedule "$s" >"$b/sched-$s.log" 2>&1; then
            r=$(grep -o '"spice": {[^}]*' "$b/paper/cosim/results.json")
            echo "cosim: schedule $s, 3 samples: spice $(echo "$r" | grep -o '"cpu_s": [0-9.e+-]*' |
                awk '{print $2}') CPU s, $(echo "$r" | grep -o '"ticks": [0-9]*' | awk '{print $2}') ticks"
        else
            echo "cosim: schedule $s FAILED: $(tail -n 1 "$b/sched-$s.log")"
        fi
    done
fi

# --- sweep (tdi-sweep, issue 6): the same sde sweep (16 jobs: k = 1..16 of a synthetic D = 32
# paper-mode substrate, 4,000 fit / 400 test samples, 32 co-simulated samples per job) serially
# and under mpirun -np 2, SWEEP_RUNS times (default 5) in alternation, so that a change in the
# machine's speed during the bench (a shared host) touches both sides; wall seconds, CPU seconds
# (user + sys of all processes) and the speed-up of each pair, then the median speed-up. The
# rows of both runs are compared each time (all columns but wall_s). The load average before
# each run is printed beside it.
if want sweep; then
    d=build/bench-sweep
    rm -rf "$d"
    mkdir -p "$d"
    if ! bin/tdi-sweep synth "$d/acts" 32 4000 400 1 >/dev/null 2>&1; then
        echo "sweep: synthetic bundles FAILED"
    else
        sed -e "s#^out: out/paper#out: $d/out#" -e "s#^name: paper#name: bench#" \
            -e "s#^  dir: out/paper #  dir: $d/acts #" -e "s#^  D: 64#  D: 32#" \
            -e "s#^  n_fit: 10000 #  n_fit: 4000 #" -e "s#^  n_test: 10000 #  n_test: 400 #" \
            -e "s#^  checkpoint: models/unet-c32.ckpt#  checkpoint: synthetic#" \
            configs/paper.yaml >"$d/base.yaml"
        for r in 1 2; do
            printf 'sweep:\n  base: %s/base.yaml\n  out: %s/np%d\n  k_range: [1, 16]\n  engine: sde\n  n_samples: 32\n' \
                "$d" "$d" "$r" >"$d/np$r.yaml"
        done
        TIMEFORMAT='%R %U %S'
        ratios=""
        for run in $(seq 1 "${SWEEP_RUNS:-5}"); do
            rm -rf "$d/np1" "$d/np2"
            load1=$(cut -d' ' -f1 /proc/loadavg)
            t1=$( { time bin/tdi-sweep "$d/np1.yaml" --quiet >/dev/null 2>&1; } 2>&1 )
            load2=$(cut -d' ' -f1 /proc/loadavg)
            t2=$( { time mpirun --allow-run-as-root -np 2 bin/tdi-sweep "$d/np2.yaml" --quiet \
                    >/dev/null 2>&1; } 2>&1 )
            same=no
            if [ -f "$d/np1/results.csv" ] &&
                cmp -s <(tail -n +2 "$d/np1/results.csv" | sed 's/,[^,]*$//' | sort -n) \
                       <(tail -n +2 "$d/np2/results.csv" | sed 's/,[^,]*$//' | sort -n); then
                same=yes
            fi
            echo "$run $t1 $t2 $load1 $load2 $same" | awk '{
                printf "sweep: run %d: 16 sde jobs, 1 rank:  wall %.2f s, CPU %.2f s (load average before: %s)\n", $1, $2, $3 + $4, $8;
                printf "sweep: run %d: 16 sde jobs, 2 ranks: wall %.2f s, CPU %.2f s (load average before: %s)\n", $1, $5, $6 + $7, $9;
                printf "sweep: run %d: speed-up 2 ranks vs 1: %.2fx; rows identical: %s\n", $1, $2 / $5, $10 }'
            ratios="$ratios $(echo "$t1 $t2" | awk '{ printf "%.4f", $1 / $4 }')"
        done
        echo "$ratios" | tr ' ' '\n' | grep . | sort -g | awk '{ r[NR] = $1 } END {
            m = NR % 2 ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2;
            printf "sweep: median speed-up of %d runs: %.2fx (min %.2fx, max %.2fx)\n", NR, m, r[1], r[NR] }'
    fi
fi

# --- mos (tdi-cosim at transistor level, issue 12). (1) The paper preset's circuit (synthetic
# D = 64, k = 16 bundle) with circuit.devices: mos (a 5-transistor OTA per coupling element)
# against the same circuit with ideal elements, per tick: the deck of each (tdi-cosim --deck
# --plain: EXTERNAL sources at dc 0; one deck, its .tran stop tripled for the long run: the
# transistor deck's device-noise sizing runs once) run by ngspice -b (one thread, .spiceinit) for
# MOS_TICKS and 3 x MOS_TICKS ticks (default 250, see below), the difference
# divided by 2 x MOS_TICKS (parse and operating point cancel); CPU per tick of each, the ratio,
# the op (+ parse) CPU = the short run less its ticks, and the CPU time per sample EXTRAPOLATED =
# per tick x the preset's ticks per sample (the sde-only job's plan). (2) The whole lock-step job
# (extraction, spice, supplies) at MOS_D (default 8; 0 skips it), k = MOS_K (4): ticks, CPU per
# tick, extraction wall time. At D = 64 the transistor deck's op (110-190 CPU s) varied under load
# by 17 s between two runs, more than 2 x 20 extra ticks cost (the old default: the difference came
# out negative); at 0.73 CPU s per tick (two tdi-cosim runs' difference, docs/cosim.md "Transistor
# level at preset size") 2 x 250 ticks cost about 365 s, so the default is 250: about 15 CPU min
# for the transistor decks. The transient alone is also in ngspice's own report of a deck with
# `.options acct` ("Transient analysis time", wall clock).
mos_ticks_cpu() { # deck ticks -> CPU seconds of ngspice -b
    (cd "$(dirname "$1")" && TIMEFORMAT='%U %S' &&
        { time ngspice -b -r "$(basename "$1" .cir).raw" "$(basename "$1")" >"$(basename "$1" .cir).log" 2>&1; } 2>&1 |
        awk '{print $1 + $2}')
}
mos_cfg() { # dev dir -> config on stdout
    sed -e 's/^name: .*/name: t/' -e "s|^out: .*|out: $2/t|" \
        -e 's/^  n_samples: .*/  n_samples: 1/' -e 's/^  sde: .*/  sde: false/' \
        -e 's/^  progress: .*/  progress: false\n  teff_relax: 0/' \
        -e 's/^  paper_row: .*/  paper_row: false/' \
        -e "s/^  unit: rc .*/  unit: rc\n  devices: $1/" configs/paper.yaml
}
if want mos; then
    b=build/bench-mos
    n=${MOS_TICKS:-250}
    mkdir -p "$b"
    rm -rf "$b/t/substrate"
    bin/tdi-cosim --synth-bundle "$b/t/substrate" 64 16 4 1 >/dev/null
    echo "set num_threads=1" >"$b/.spiceinit"
    for dev in ideal mos; do
        mos_cfg "$dev" "$b" >"$b/$dev.yaml"
        bin/tdi-cosim "$b/$dev.yaml" --deck "$b/$dev-1.cir" "$n" --plain || {
            echo "mos: deck $dev FAILED"; continue; }
        awk '/^\.tran / { $3 = sprintf("%.17g", 3 * $3) } 1' "$b/$dev-1.cir" >"$b/$dev-3.cir"
        c1=$(mos_ticks_cpu "$b/$dev-1.cir")
        c3=$(mos_ticks_cpu "$b/$dev-3.cir")
        eval "cpt_$dev=$(awk -v a="$c1" -v c="$c3" -v n="$n" 'BEGIN{printf "%.6g", (c - a) / (2 * n)}')"
        eval "v=\$cpt_$dev"
        echo "mos: D = 64, k = 16, devices $dev: $(grep -c '^m' "$b/$dev-1.cir") MOSFETs;" \
            "ngspice -b $n ticks $c1 CPU s, $((3 * n)) ticks $c3 CPU s: $v CPU s per tick;" \
            "op + parse $(awk -v a="$c1" -v t="$v" -v n="$n" 'BEGIN{printf "%.3g", a - n * t}') CPU s"
    done
    sed -e 's/^  sde: .*/  sde: true/' -e 's/^  spice: .*/  spice: false/' "$b/ideal.yaml" >"$b/plan.yaml"
    if bin/tdi-cosim "$b/plan.yaml" >"$b/plan.log" 2>&1 && [ -n "${cpt_ideal:-}" ] && [ -n "${cpt_mos:-}" ]; then
        tps=$(grep -o 'per sample (circuit time).*(\([0-9]*\) ticks' "$b/plan.log" | grep -o '([0-9]* ticks' | tr -dc '0-9')
        echo "mos: transistor / ideal CPU per tick: $(awk -v a="$cpt_mos" -v b="$cpt_ideal" \
            'BEGIN{printf "%.0f", a / b}') x; $tps ticks per sample: ideal $(awk -v a="$cpt_ideal" \
            -v t="$tps" 'BEGIN{printf "%.3g", a * t}') CPU s, transistor $(awk -v a="$cpt_mos" \
            -v t="$tps" 'BEGIN{printf "%.3g", a * t}') CPU s per sample, extrapolated from the per-tick CPU (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    fi
    # (2) the lock-step job at a small D (MOS_D=0: skipped)
    D=${MOS_D:-8}
    K=${MOS_K:-4}
    rm -rf "$b/s/substrate"
    [ "$D" -gt 0 ] && bin/tdi-cosim --synth-bundle "$b/s/substrate" "$D" "$K" 4 1 >/dev/null
    for dev in ideal mos; do
        [ "$D" -gt 0 ] || break
        mos_cfg "$dev" "$b" | sed -e "s|^out: .*|out: $b/s|" -e 's/^  t_settle: .*/  t_settle: 2.0e-6/' \
            -e 's/^  t_avg: .*/  t_avg: 2.0e-6/' >"$b/s-$dev.yaml"
        start=$(date +%s%N)
        if bin/tdi-cosim "$b/s-$dev.yaml" >"$b/s-$dev.log" 2>&1; then
            ms=$(( ($(date +%s%N) - start) / 1000000 ))
            js=$b/s/cosim/results.json
            r=$(grep -o '"spice": {[^}]*' "$js")
            tk=$(echo "$r" | grep -o '"ticks": [0-9]*' | awk '{print $2}')
            cpu=$(echo "$r" | grep -o '"cpu_s": [0-9.e+-]*' | awk '{print $2}')
            ex=$(grep '"realised":' "$js" | grep -o '"wall_s": [0-9.e+-]*' | head -n 1 |
                awk '{print $2}')
            echo "mos: lock-step job D = $D, k = $K, devices $dev:${ex:+ extraction $ex s wall;}" \
                "spice $tk ticks, $cpu CPU s," \
                "$(awk -v c="$cpu" -v t="$tk" 'BEGIN{printf "%.3g", 1e3 * c / t}') CPU ms per tick" \
                "(job wall $((ms / 1000)) s)"
        else
            echo "mos: lock-step job D = $D, devices $dev FAILED: $(tail -n 1 "$b/s-$dev.log")"
        fi
    done
fi
