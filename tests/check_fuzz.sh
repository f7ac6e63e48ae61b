#!/usr/bin/env bash
# Short fuzz run inside make test: each harness of tests/fuzz/ (the .npy reader, the config
# loader through the generator's schema, the IDX reader), built with make asan's sanitizer
# flags and the seeded mutation loop, on 2,000 mutated inputs from its seed corpus (seed 1:
# the same inputs every run). A crash or sanitizer report fails; the long runs are `make fuzz`.
set -u
cd "$(dirname "$0")/.." || exit 2
pass=0
fail=0
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:max_allocation_size_mb=2048:allocator_may_return_null=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
mkdir -p build
for h in npy cfg idx; do
    b=bin/fuzz/loop-$h
    if [ ! -x "$b" ]; then
        echo "FAIL fuzz $h: $b missing (make all builds it)"
        fail=$((fail + 1))
        continue
    fi
    if out=$(FUZZ_CRASH_FILE=build/fuzz-crash-$h "$b" -n 2000 -s 1 tests/fuzz/corpus/$h 2>&1); then
        echo "PASS fuzz $h: $(echo "$out" | tail -n 1)"
        pass=$((pass + 1))
    else
        echo "$out" | tail -n 30
        echo "FAIL fuzz $h: crash or sanitizer report (input in build/fuzz-crash-$h), expected none"
        fail=$((fail + 1))
    fi
done
echo "summary: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
