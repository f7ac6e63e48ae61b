/* tdi_cosim_synth: a complete synthetic paper-mode substrate bundle for tests and benchmarks
 * without a U-Net: the generator's synthetic M (tdi_gen_synth_build) plus random interface
 * networks (enc D->4->D, transfer D->16->SiLU->D), inputs x, the biases the networks give, the
 * exact equilibria and a truth near them (gain * y* + 0.05 N(0,1)). Deterministic in seed.
 * skip = 1 / 2: substrate-skip biases (b_enc = A x / A R R^T x, b_dec = c), manifest mode skip.
 * Non-goal: realistic activations. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>

#include "tdi_bundle.h"
#include "tdi_cosim.h"
#include "tdi_gen.h"
#include "tdi_io.h"

static int synth_fill(tdi_bundle *b, unsigned long seed, int skip, double bias_bump,
                      tdi_err *err);

/* The generator's synthetic substrate (two modules enc, dec; built in memory), the interface
 * and data arrays added, then one write (one directory transaction). */
int tdi_cosim_synth_bundle(const char *dir, size_t D, size_t k, size_t n, unsigned long seed,
                           int skip, double bias_bump, tdi_err *err)
{
    int rc = tdi_dir_check(dir, err); /* refuse a foreign target before the work */
    if (rc)
        return rc;
    tdi_gen_synth_spec sp = {.preset = "t", .n_mod = 2, .D = {D, D}, .out = 1, .n_cpl = 1,
                             .from = {0}, .to = {1}, .rank = {k}, .n = n, .seed = seed};
    tdi_bundle b;
    if ((rc = tdi_gen_synth_build(&sp, &b, err)))
        return rc;
    if (!(rc = synth_fill(&b, seed, skip, bias_bump, err)))
        rc = tdi_bundle_write(dir, &b, err);
    tdi_bundle_destroy(&b);
    return rc;
}

/* a fresh array of n doubles in *slot (the bundle owns it; the old one is freed) */
static double *slot_alloc(double **slot, size_t n)
{
    free(*slot);
    *slot = malloc(sizeof(double) * (n ? n : 1));
    return *slot;
}

/* Adds the interface networks, inputs, biases and equilibria to the synthetic substrate b
 * (b owns every array it ends up with). */
static int synth_fill(tdi_bundle *bu, unsigned long seed, int skip, double bias_bump,
                      tdi_err *err)
{
    int rc = 0;
    size_t D = bu->mod[0].D, k = bu->n_cpl ? bu->cpl[0].k : 0, n = bu->n, N = 2 * D;
    const double *A = bu->mod[0].A, *Pf = bu->cpl[0].P, *cvec = bu->c;
    double *x = slot_alloc(&bu->x, n * D), *be = bu->mod[0].bias, *bd = bu->mod[1].bias;
    double *an = bu->analytic, *tr = bu->truth, *mf = bu->mean_fit, *gain = bu->gain;
    double *ew1 = slot_alloc(&bu->iface[0], 4 * D), *eb1 = slot_alloc(&bu->iface[1], 4);
    double *ew2 = slot_alloc(&bu->iface[2], 4 * D), *eb2 = slot_alloc(&bu->iface[3], D);
    double *tw1 = slot_alloc(&bu->iface[4], 16 * D), *tb1 = slot_alloc(&bu->iface[5], 16);
    double *tw2 = slot_alloc(&bu->iface[6], 16 * D), *tb2 = slot_alloc(&bu->iface[7], D);
    double *z = malloc(sizeof(double) * N), *rhs = malloc(sizeof(double) * N);
    double *W1 = NULL, *W2 = NULL, *h = NULL;
    bu->x_cols = D;
    if (skip)
        snprintf(bu->mode, sizeof bu->mode, "skip");
    memset(mf, 0, sizeof(double) * D);

    gsl_matrix *Mm = gsl_matrix_alloc(N, N);
    gsl_permutation *pm = gsl_permutation_alloc(N);
    if (!x || !ew1 || !eb1 || !ew2 || !eb2 || !tw1 || !tb1 || !tw2 || !tb2 || !z || !rhs ||
        !Mm || !pm) {
        rc = tdi_err_set(err, TDI_ENOMEM, "out of memory");
        goto done;
    }
    W1 = calloc(k * D + 1, sizeof(double));
    W2 = calloc(k * D + 1, sizeof(double));
    size_t rank = 0;
    h = calloc(k + 1, sizeof(double));
    if (!W1 || !W2 || !h || (skip == 2 && (rc = tdi_cosim_skip_encoder(A, Pf, D, k, W1, W2,
                                                                         &rank, err)))) {
        if (!rc)
            rc = tdi_err_set(err, TDI_ENOMEM, "out of memory");
        goto done;
    }
    uint64_t u = 0;
#define RND(s) ((s) * tdi_cosim_noise_gauss(seed, 0, u++))
    for (size_t q = 0; q < 4 * D; q++)
        ew1[q] = RND(0.4), ew2[q] = RND(0.4);
    for (size_t q = 0; q < 16 * D; q++)
        tw1[q] = RND(0.3 * sqrt(6.0 / (double)D)), tw2[q] = RND(0.3);
    for (size_t q = 0; q < 4; q++)
        eb1[q] = RND(0.1);
    for (size_t q = 0; q < 16; q++)
        tb1[q] = RND(0.1);
    for (size_t q = 0; q < D; q++)
        eb2[q] = RND(0.1), tb2[q] = RND(0.1), gain[q] = 1.0 + 0.1 * (double)(q % 3);
    for (size_t q = 0; q < n * D; q++)
        x[q] = RND(sqrt(6.0 / (double)D));
    int sg;
    memcpy(Mm->data, bu->M, sizeof(double) * N * N);
    gsl_linalg_LU_decomp(Mm, pm, &sg);
    for (size_t s = 0; s < n; s++) {
        const double *w[8] = {ew1, eb1, ew2, eb2, tw1, tb1, tw2, tb2};
        tdi_cosim_paper_interface(w, D, x + s * D, be + s * D, bd + s * D);
        if (skip) { /* skip: b_enc = A x or W2 W1 x, b_dec = c */
            tdi_cosim_skip_benc(A, skip == 2 ? W1 : NULL, W2, D, k, x + s * D, h, be + s * D);
            memcpy(bd + s * D, cvec, sizeof(double) * D);
        }
        if (bias_bump != 0 && s == 0)
            be[0] += bias_bump; /* the bundle then disagrees with its own networks */
        memcpy(rhs, be + s * D, sizeof(double) * D);
        memcpy(rhs + D, bd + s * D, sizeof(double) * D);
        gsl_vector_view bv = gsl_vector_view_array(rhs, N), zv = gsl_vector_view_array(z, N);
        gsl_linalg_LU_solve(Mm, pm, &bv.vector, &zv.vector);
        for (size_t i = 0; i < D; i++) {
            an[s * D + i] = z[D + i];
            tr[s * D + i] = gain[i] * z[D + i] + RND(0.05);
            mf[i] += tr[s * D + i] / (double)n;
        }
    }
#undef RND
done:
    free(h);
    free(W1);
    free(W2);
    free(z);
    free(rhs);
    gsl_matrix_free(Mm);
    gsl_permutation_free(pm);
    return rc;
}
