/* tdi_cosim_synth: a complete synthetic paper-mode substrate bundle for tests and benchmarks
 * without a U-Net: the generator's synthetic M (tdi_gen_bundle_synth) plus random interface
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

#include "tdi_cosim.h"
#include "tdi_gen.h"
#include "tdi_io.h"
#include "tdi_npy.h"

static int wr(const char *dir, const char *name, size_t r, size_t c, const double *a,
              tdi_err *e)
{
    char p[1200];
    size_t shp[2] = {r, c};
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return tdi_npy_write(p, TDI_NPY_F64, c ? 2 : 1, shp, a, e);
}


static int synth_fill(const char *dir, size_t D, size_t k, size_t n, unsigned long seed,
                      int skip, double bias_bump, tdi_err *err);

/* One directory transaction: the generator's bundle is written into our temporary, then the
 * interface files beside it, then the whole is committed (so its marker lists every file). */
int tdi_cosim_synth_bundle(const char *dir, size_t D, size_t k, size_t n, unsigned long seed,
                           int skip, double bias_bump, tdi_err *err)
{
    char tmp[1100];
    int rc = tdi_dir_begin(dir, tmp, sizeof tmp, err);
    if (rc)
        return rc;
    if ((rc = tdi_gen_bundle_synth(tmp, "t", D, k, 0, n, seed, err)) ||
        (rc = synth_fill(tmp, D, k, n, seed, skip, bias_bump, err)) ||
        (rc = tdi_dir_commit(tmp, dir, err)))
        tdi_dir_abort(tmp);
    return rc;
}

/* Adds the interface networks, inputs, biases and equilibria to the bundle in dir. */
static int synth_fill(const char *dir, size_t D, size_t k, size_t n, unsigned long seed,
                      int skip, double bias_bump, tdi_err *err)
{
    tdi_gen_bundle b;
    int rc = tdi_gen_bundle_read(dir, &b, err);
    if (rc)
        return rc;
    size_t N = 2 * D;
    double *x = malloc(sizeof(double) * n * D), *be = malloc(sizeof(double) * n * D);
    double *bd = malloc(sizeof(double) * n * D), *an = malloc(sizeof(double) * n * D);
    double *tr = malloc(sizeof(double) * n * D), *mf = calloc(D, sizeof(double));
    double *gain = malloc(sizeof(double) * D);
    double *ew1 = malloc(sizeof(double) * 4 * D), *ew2 = malloc(sizeof(double) * 4 * D);
    double *tw1 = malloc(sizeof(double) * 16 * D), *tw2 = malloc(sizeof(double) * 16 * D);
    double *eb2 = malloc(sizeof(double) * D), *tb2 = malloc(sizeof(double) * D);
    double *z = malloc(sizeof(double) * N), *rhs = malloc(sizeof(double) * N);
    double eb1[4], tb1[16];
    double *W1 = NULL, *W2 = NULL, *h = NULL;

    gsl_matrix *Mm = gsl_matrix_alloc(N, N);
    gsl_permutation *pm = gsl_permutation_alloc(N);
    if (!x || !be || !bd || !an || !tr || !mf || !gain || !ew1 || !ew2 || !tw1 || !tw2 ||
        !eb2 || !tb2 || !z || !rhs || !Mm || !pm) {
        rc = tdi_err_set(err, TDI_ENOMEM, "out of memory");
        goto done;
    }
    W1 = calloc(k * D + 1, sizeof(double));
    W2 = calloc(k * D + 1, sizeof(double));
    size_t rank = 0;
    h = calloc(k + 1, sizeof(double));
    if (!W1 || !W2 || !h || (skip == 2 && (rc = tdi_cosim_skip_encoder(b.A, b.P, D, k, W1, W2,
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
    memcpy(Mm->data, b.M, sizeof(double) * N * N);
    gsl_linalg_LU_decomp(Mm, pm, &sg);
    for (size_t s = 0; s < n; s++) {
        const double *w[8] = {ew1, eb1, ew2, eb2, tw1, tb1, tw2, tb2};
        tdi_cosim_paper_interface(w, D, x + s * D, be + s * D, bd + s * D);
        if (skip) { /* skip: b_enc = A x or W2 W1 x, b_dec = c */
            tdi_cosim_skip_benc(b.A, skip == 2 ? W1 : NULL, W2, D, k, x + s * D, h, be + s * D);
            memcpy(bd + s * D, b.c, sizeof(double) * D);
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
    if ((rc = wr(dir, "x.npy", n, D, x, err)) || (rc = wr(dir, "b_enc.npy", n, D, be, err)) ||
        (rc = wr(dir, "b_dec.npy", n, D, bd, err)) ||
        (rc = wr(dir, "analytic.npy", n, D, an, err)) ||
        (rc = wr(dir, "truth.npy", n, D, tr, err)) || (rc = wr(dir, "mean_fit.npy", D, 0, mf, err)) ||
        (rc = wr(dir, "gain.npy", D, 0, gain, err)) || (rc = wr(dir, "enc_w1.npy", 4, D, ew1, err)) ||
        (rc = wr(dir, "enc_b1.npy", 4, 0, eb1, err)) || (rc = wr(dir, "enc_w2.npy", D, 4, ew2, err)) ||
        (rc = wr(dir, "enc_b2.npy", D, 0, eb2, err)) || (rc = wr(dir, "tr_w1.npy", 16, D, tw1, err)) ||
        (rc = wr(dir, "tr_b1.npy", 16, 0, tb1, err)) || (rc = wr(dir, "tr_w2.npy", D, 16, tw2, err)) ||
        (rc = wr(dir, "tr_b2.npy", D, 0, tb2, err)))
        goto done;
    if (skip) { /* manifest: "mode: synthetic" -> "mode: skip" */
        char mp[1200], *man = NULL;
        size_t nm = 0;
        snprintf(mp, sizeof mp, "%s/manifest.yaml", dir);
        if ((rc = tdi_file_read_all(mp, &man, &nm, err)))
            goto done;
        char *m = strstr(man, "mode: synthetic");
        if (m)
            memcpy(m, "mode: skip     ", 15);
        rc = tdi_atomic_write_text(mp, man, err);
        free(man);
    }
done:
    free(h);
    free(W1);
    free(W2);
    free(x);
    free(be);
    free(bd);
    free(an);
    free(tr);
    free(mf);
    free(gain);
    free(ew1);
    free(ew2);
    free(tw1);
    free(tw2);
    free(eb2);
    free(tb2);
    free(z);
    free(rhs);
    gsl_matrix_free(Mm);
    gsl_permutation_free(pm);
    tdi_gen_bundle_destroy(&b);
    return rc;
}
