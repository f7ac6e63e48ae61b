/* tdi_sweep_synth: synthetic activation bundles (docs/formats.md) for tests and benchmarks of
 * sweeps without a trained U-Net: layers e2 and d2 of C channels, the decoder a noisy rank-3
 * linear function of the encoder plus a channel profile (so the mean baseline, the rank-k
 * ceiling and the models differ), conv weights w_e2, w_d2 of shape [C, C, 3, 3].
 * Invariants: deterministic in seed; the two splits share the mixing matrices and weights.
 * Non-goal: realism (the numbers only exercise the pipeline). */
#include "tdi_sweep.h"

#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "tdi_io.h"
#include "tdi_npy.h"
#include "tdi_seed.h"

#define LAT 3

static int put(const char *dir, const char *name, int ndim, const size_t *shape, const float *a,
               tdi_err *err)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return tdi_npy_write(p, TDI_NPY_F32, ndim, shape, a, err);
}

static int split(const char *root, const char *name, const char *split, size_t C, size_t n,
                 unsigned long seed, tdi_err *err)
{
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/%s", root, name);
    int rc = tdi_mkdirs(dir, err);
    if (rc)
        return rc;
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    float *Fe = malloc(C * LAT * 4), *Fd = malloc(C * LAT * 4);
    float *we = malloc(C * C * 9 * 4), *wd = malloc(C * C * 9 * 4);
    float *e = malloc(n * C * 4), *d = malloc(n * C * 4);
    double *idx = malloc(n * 8);
    if (!r || !Fe || !Fd || !we || !wd || !e || !d || !idx) {
        rc = tdi_err_set(err, TDI_ENOMEM, "synthetic bundle: out of memory");
        goto done;
    }
    gsl_rng_set(r, seed); /* shared by both splits */
    for (size_t i = 0; i < C * LAT; i++) {
        Fe[i] = (float)gsl_ran_gaussian(r, 1.0);
        Fd[i] = (float)gsl_ran_gaussian(r, 1.0);
    }
    for (size_t i = 0; i < C * C * 9; i++) {
        we[i] = (float)gsl_ran_gaussian(r, 0.15);
        wd[i] = (float)gsl_ran_gaussian(r, 0.15);
    }
    gsl_rng_set(r, tdi_seed(seed, TDI_SEED_SWEEP_SYNTH, strcmp(split, "test") == 0 ? 2 : 1));
    for (size_t i = 0; i < n; i++) {
        double z[LAT];
        for (size_t q = 0; q < LAT; q++)
            z[q] = gsl_ran_gaussian(r, 1.0);
        for (size_t j = 0; j < C; j++) {
            double v = 0.3 + 0.05 * (double)j + gsl_ran_gaussian(r, 0.1);
            double w = 1.0 - 0.02 * (double)j + gsl_ran_gaussian(r, 0.2);
            for (size_t q = 0; q < LAT; q++) {
                v += Fe[j * LAT + q] * z[q];
                w += 0.5 * Fd[j * LAT + q] * z[q];
            }
            e[i * C + j] = (float)v;
            d[i * C + j] = (float)w;
        }
        idx[i] = (double)i;
    }
    size_t sa[2] = {n, C}, sw[4] = {C, C, 3, 3}, si[1] = {n};
    if ((rc = put(dir, "e2.npy", 2, sa, e, err)) || (rc = put(dir, "d2.npy", 2, sa, d, err)) ||
        (rc = put(dir, "w_e2.npy", 4, sw, we, err)) ||
        (rc = put(dir, "w_d2.npy", 4, sw, wd, err)))
        goto done;
    char p[1200];
    snprintf(p, sizeof p, "%s/index.npy", dir);
    if ((rc = tdi_npy_write(p, TDI_NPY_F64, 1, si, idx, err)))
        goto done;
    snprintf(p, sizeof p, "%s/manifest.yaml", dir);
    tdi_atomic_file af;
    if ((rc = tdi_atomic_open(&af, p, err)))
        goto done;
    fprintf(af.f, "format: tdi-activations\nversion: 1\nsplit: %s\nn: %zu\nt: 200\nseed: %lu\n"
            "pool: 1\nfirst: 0\nchannels: %zu\ncheckpoint: synthetic\n"
            "checkpoint_hash: 0123456789abcdef\nlayers: {e2: [%zu, %zu], d2: [%zu, %zu]}\n",
            split, n, seed, C, n, C, n, C);
    rc = tdi_atomic_commit(&af, err);
done:
    gsl_rng_free(r);
    free(Fe);
    free(Fd);
    free(we);
    free(wd);
    free(e);
    free(d);
    free(idx);
    return rc;
}

int tdi_sweep_synth_acts(const char *root, size_t C, size_t n_fit, size_t n_test,
                         unsigned long seed, tdi_err *err)
{
    int rc = split(root, "activations-fit", "train", C, n_fit, seed, err);
    if (!rc)
        rc = split(root, "activations-test", "test", C, n_test, seed, err);
    return rc;
}
