#!/usr/bin/env bash
# make fuzz: builds the harnesses of tests/fuzz/ with clang's libFuzzer when clang has it
# (-fsanitize=fuzzer), else with the seeded mutation loop (tdi_fuzz_loop.c), both under make
# asan's sanitizer flags, and runs FUZZ_RUNS inputs per harness (default 200000) from the seed
# corpus tests/fuzz/corpus/<harness>/. Any crash, sanitizer report or leak fails the run (the
# input is kept in build/fuzz-out/). Prints inputs, seconds and inputs/s per harness, and the
# load average. Usage: tests/fuzz/run.sh [harness...]   (FUZZ_RUNS, FUZZ_SEED, FUZZ_KIND)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${FUZZ_RUNS:-200000}
seed=${FUZZ_SEED:-1}
harnesses=${*:-npy cfg idx}
if [ -z "${FUZZ_KIND:-}" ]; then
    FUZZ_KIND=loop
    if command -v clang >/dev/null &&
        echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return d && n; }' |
        clang -fsanitize=fuzzer -x c - -o build/fuzz-probe 2>/dev/null; then
        FUZZ_KIND=libfuzzer
    fi
    rm -f build/fuzz-probe
fi
make -s -j2 fuzz-bins FUZZ_KIND="$FUZZ_KIND"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:max_allocation_size_mb=2048:allocator_may_return_null=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
out=build/fuzz-out
mkdir -p "$out"
echo "fuzz: $FUZZ_KIND, $runs inputs per harness, seed $seed; load average $(cut -d' ' -f1-3 /proc/loadavg)"
status=0
for h in $harnesses; do
    log=$out/$h.log
    start=$(date +%s%N)
    if [ "$FUZZ_KIND" = libfuzzer ]; then
        mkdir -p "$out/corpus-$h"
        rc=0
        bin/fuzz/lf-"$h" -runs="$runs" -seed="$seed" -max_len=4096 -print_final_stats=1 \
            -artifact_prefix="$out/$h-" "$out/corpus-$h" "tests/fuzz/corpus/$h" >"$log" 2>&1 || rc=$?
    else
        rc=0
        FUZZ_CRASH_FILE=$out/$h-crash bin/fuzz/loop-"$h" -n "$runs" -s "$seed" \
            "tests/fuzz/corpus/$h" >"$log" 2>&1 || rc=$?
    fi
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    if [ "$FUZZ_KIND" = libfuzzer ]; then
        n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
        cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -n 1 || true)
    else
        n=$(sed -n 's/^.*: \([0-9]*\) inputs (.*/\1/p' "$log" | tail -n 1)
        cov=""
    fi
    n=${n:-0}
    rate=$(( ms > 0 ? n * 1000 / ms : 0 ))
    printf '%-4s %9s inputs  %7d.%03d s  %7d inputs/s  %s  %s\n' "$h" "$n" $((ms / 1000)) \
        $((ms % 1000)) "$rate" "${cov:+($cov)}" "$([ $rc -eq 0 ] && echo ok || echo "FAILED (rc $rc, see $log)")"
    [ $rc -eq 0 ] || status=1
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
exit $status
