#!/bin/sh
# CPU time per image of tdi's U-Net and of the PyTorch reference, one thread each, alternated:
# the bench's yardstick on a shared machine (wall-clock ratios are biased under load: the two
# programs lose different shares to contention; CPU seconds per image much less so).
# Usage: scripts/bench_unet_cpu.sh [RUNS=3] [SECONDS=10]   (after `make`; PyTorch optional)
# tdi: bin/tdi-unet bench with OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 under /usr/bin/time
# cannot split training from inference, so a small C driver (built here against
# build/libtdi.a) times each phase with CLOCK_PROCESS_CPUTIME_ID, batch 64, C = 32, like bench.
set -eu
runs=${1:-3}
secs=${2:-10}
cd "$(dirname "$0")/.."
drv=build/bench_unet_cpu
cat > "$drv.c" <<'CEOF'
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "tdi_unet.h"
static double cpu(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
static double wall(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
int main(int argc, char **argv)
{
    const size_t B = 64;
    const double secs = argc > 1 ? atof(argv[1]) : 10.0;
    tdi_unet *m = NULL;
    tdi_err err = {0};
    tdi_unet_arch a = {32, 8};
    tdi_unet_adam ad = {0};
    if (tdi_unet_alloc(&m, a, B, &err) || tdi_unet_cache_cols(m, &err) ||
        tdi_unet_adam_init(&ad, m->n_params, &err))
        return 1;
    tdi_unet_init_params(m, 1);
    float *x = malloc(B * 1024 * sizeof *x), *e = malloc(B * 1024 * sizeof *e);
    float *t = malloc(B * sizeof *t);
    srand(1);
    for (size_t i = 0; i < B * 1024; i++) {
        x[i] = 2.0f * (float)rand() / (float)RAND_MAX - 1.0f;
        e[i] = 2.0f * (float)rand() / (float)RAND_MAX - 1.0f;
    }
    for (size_t i = 0; i < B; i++)
        t[i] = (float)(rand() % 1000);
    double res[2];
    for (int ph = 0; ph < 2; ph++) {
        m->col_cache = ph == 0; /* inference as eval runs it: no column cache */
        tdi_unet_forward(m, x, t, B, NULL); /* warm-up (page faults), as the bench */
        if (ph == 0)
            tdi_unet_backward_mse(m, e);
        long n = 0;
        const double c0 = cpu(), w0 = wall();
        do {
            tdi_unet_forward(m, x, t, B, NULL);
            if (ph == 0) {
                tdi_unet_backward_mse(m, e);
                tdi_unet_adam_step(&ad, m->params, m->grads, 1e-5, 0.9, 0.999, 1e-8, 0.0, 1.0);
            }
            n++;
        } while (wall() - w0 < secs || n < 3);
        res[ph] = 1e3 * (cpu() - c0) / (double)(n * (long)B);
    }
    printf("tdi CPU ms/image: training %.3f, inference %.3f\n", res[0], res[1]);
    return 0;
}
CEOF
blas=/usr/lib/x86_64-linux-gnu/openblas-openmp
cc -std=c11 -D_GNU_SOURCE -O2 -fopenmp -Icommon -Itools/unet -o "$drv" "$drv.c" build/libtdi.a \
    -L$blas -Wl,-rpath,$blas -lopenblas -lgsl -lyaml -lz -lpng16 -lmvec -lm
i=0
while [ "$i" -lt "$runs" ]; do
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$drv" "$secs"
    if /usr/bin/python3 -c "import torch" 2>/dev/null; then
        /usr/bin/python3 scripts/bench_unet_torch.py --threads 1 --seconds "$secs" | sed 's/.*; CPU/torch CPU/'
    else
        echo "torch: not installed, skipped"
    fi
    i=$((i + 1))
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg);" \
    "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE-<unset: OpenBLAS picks by CPU>}"
