/* tdi_gen_lowrank: low-rank factoring R = U diag(lam) U^T of the symmetric remainder of an
 * intra-module block (the buses of intra: lowrank; docs/physics.md 3). Seeded, so the same
 * config gives the same netlist. Non-goal: general SVD (R is symmetric and numerically of rank
 * at most rcap, or the call fails). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "tdi_gen_int.h"

/* Randomised range finder with rcap + 10 probes (seeded), then the exact eigen-decomposition
 * of the projected matrix; components with |lam| <= 1e-12 max|lam| are dropped. Fails when the
 * numerical rank exceeds rcap or the factorisation misses R by more than 1e-10 of scale. */
int tdi_gen_lowrank(const double *R, size_t D, size_t rcap, unsigned long seed, double scale,
                    const char *what, const char *cfgpath, double **U_out, double **lam_out,
                    size_t *r_out, tdi_err *err)
{
    size_t l = rcap + 10 < D ? rcap + 10 : D;
    double *Y = malloc(D * l * sizeof *Y), *Om = malloc(D * l * sizeof *Om);
    double *Bs = malloc(l * l * sizeof *Bs), *RQ = malloc(D * l * sizeof *RQ);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    double *U = NULL, *lam = NULL;
    gsl_eigen_symmv_workspace *ws = NULL;
    gsl_vector *ev = NULL;
    gsl_matrix *evec = NULL;
    int rc = 0;
    if (!Y || !Om || !Bs || !RQ || !rng) {
        rc = tdi_err_set(err, TDI_ENOMEM, "low-rank factoring: out of memory");
        goto done;
    }
    gsl_rng_set(rng, seed);
    for (size_t i = 0; i < D * l; i++)
        Om[i] = gsl_ran_gaussian(rng, 1.0);
    /* Y = R Om  (D x l) */
    {
        gsl_matrix_const_view Rv = gsl_matrix_const_view_array(R, D, D);
        gsl_matrix_view Ov = gsl_matrix_view_array(Om, D, l), Yv = gsl_matrix_view_array(Y, D, l);
        gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 1.0, &Rv.matrix, &Ov.matrix, 0.0, &Yv.matrix);
    }
    /* orthonormal columns by modified Gram-Schmidt, twice; drop (near) dependent columns */
    double ymax = 0;
    for (size_t i = 0; i < D * l; i++)
        ymax = fmax(ymax, fabs(Y[i]));
    size_t q = 0; /* kept columns, compacted to the front of Y (column-major view: Y[i*l + j]) */
    for (size_t j = 0; j < l; j++) {
        for (int pass = 0; pass < 2; pass++)
            for (size_t m = 0; m < q; m++) {
                double d = 0;
                for (size_t i = 0; i < D; i++)
                    d += Y[i * l + m] * Y[i * l + j];
                for (size_t i = 0; i < D; i++)
                    Y[i * l + j] -= d * Y[i * l + m];
            }
        double nrm = 0;
        for (size_t i = 0; i < D; i++)
            nrm += Y[i * l + j] * Y[i * l + j];
        nrm = sqrt(nrm);
        if (nrm <= 1e-11 * ymax * sqrt((double)D) || nrm == 0)
            continue;
        for (size_t i = 0; i < D; i++)
            Y[i * l + q] = Y[i * l + j] / nrm;
        q++;
    }
    /* B = Qm^T R Qm (q x q) */
    if (q > 0) {
        gsl_matrix_const_view Rv = gsl_matrix_const_view_array(R, D, D);
        gsl_matrix_view Yfull = gsl_matrix_view_array(Y, D, l);
        gsl_matrix_view Qv = gsl_matrix_submatrix(&Yfull.matrix, 0, 0, D, q);
        gsl_matrix_view RQv = gsl_matrix_view_array(RQ, D, q);
        gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 1.0, &Rv.matrix, &Qv.matrix, 0.0,
                       &RQv.matrix);
        gsl_matrix_view Bv = gsl_matrix_view_array(Bs, q, q);
        gsl_blas_dgemm(CblasTrans, CblasNoTrans, 1.0, &Qv.matrix, &RQv.matrix, 0.0, &Bv.matrix);
        for (size_t i = 0; i < q; i++) /* symmetrise rounding */
            for (size_t j = i + 1; j < q; j++)
                Bs[i * q + j] = Bs[j * q + i] = 0.5 * (Bs[i * q + j] + Bs[j * q + i]);
        ws = gsl_eigen_symmv_alloc(q);
        ev = gsl_vector_alloc(q);
        evec = gsl_matrix_alloc(q, q);
        gsl_eigen_symmv(&Bv.matrix, ev, evec, ws);
        gsl_eigen_symmv_sort(ev, evec, GSL_EIGEN_SORT_ABS_DESC);
    }
    double lmax = q ? fabs(gsl_vector_get(ev, 0)) : 0;
    size_t r = 0;
    for (size_t m = 0; m < q; m++)
        if (fabs(gsl_vector_get(ev, m)) > 1e-12 * lmax)
            r++;
    if (r > rcap) {
        rc = tdi_err_set(err, TDI_ECONFIG, "%s: the %s intra-module block needs rank %zu "
                         "(diagonal + rank r) but circuit.rank = %zu; raise it or use "
                         "intra: dense", cfgpath, what, r, rcap);
        goto done;
    }
    U = malloc(D * (r ? r : 1) * sizeof *U);
    lam = malloc((r ? r : 1) * sizeof *lam);
    if (!U || !lam) {
        rc = tdi_err_set(err, TDI_ENOMEM, "low-rank factoring: out of memory");
        goto done;
    }
    for (size_t m = 0; m < r; m++) {
        lam[m] = gsl_vector_get(ev, m);
        for (size_t i = 0; i < D; i++) {
            double s = 0;
            for (size_t j = 0; j < q; j++)
                s += Y[i * l + j] * gsl_matrix_get(evec, j, m);
            U[i * r + m] = s;
        }
    }
    /* verify R == U lam U^T; 1e-10 of scale keeps the netlist within 1e-9 of gu*M */
    double worst = 0;
    {
        double *UL = malloc(D * (r ? r : 1) * sizeof *UL), *RR = malloc(D * D * sizeof *RR);
        if (!UL || !RR) {
            free(UL);
            free(RR);
            rc = tdi_err_set(err, TDI_ENOMEM, "low-rank factoring: out of memory");
            goto done;
        }
        for (size_t i = 0; i < D; i++)
            for (size_t m = 0; m < r; m++)
                UL[i * r + m] = U[i * r + m] * lam[m];
        memcpy(RR, R, D * D * sizeof *RR);
        if (r > 0) {
            gsl_matrix_view Uv = gsl_matrix_view_array(U, D, r), ULv = gsl_matrix_view_array(UL, D, r);
            gsl_matrix_view Rv = gsl_matrix_view_array(RR, D, D);
            gsl_blas_dgemm(CblasNoTrans, CblasTrans, -1.0, &ULv.matrix, &Uv.matrix, 1.0,
                           &Rv.matrix);
        }
        for (size_t i = 0; i < D * D; i++)
            worst = fmax(worst, fabs(RR[i]));
        free(UL);
        free(RR);
    }
    if (worst > 1e-10 * scale) {
        rc = tdi_err_set(err, TDI_ECONFIG, "%s: the %s intra-module block is not diagonal + rank "
                         "%zu (residual %.3g of max|M| %.3g): its rank exceeds circuit.rank; "
                         "raise it or use intra: dense", cfgpath, what, rcap, worst, scale);
        goto done;
    }
    *U_out = U;
    *lam_out = lam;
    *r_out = r;
    U = lam = NULL;
done:
    free(Y);
    free(Om);
    free(Bs);
    free(RQ);
    free(U);
    free(lam);
    gsl_rng_free(rng);
    if (ws)
        gsl_eigen_symmv_free(ws);
    gsl_vector_free(ev);
    gsl_matrix_free(evec);
    return rc;
}
