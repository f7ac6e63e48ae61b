/* tdi_linalg: Cholesky, its row solve and the symmetric eigen-decomposition through GSL (see
 * tdi_linalg.h). Invariants: inputs are never modified; GSL's error handler must be off (every
 * main turns it off), so GSL status codes become tdi_err here. Non-goal: choosing a BLAS (the
 * Makefile links OpenBLAS as the CBLAS GSL calls). */
#include "tdi_linalg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>

static int eig_cmp_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

int tdi_linalg_eig_sym(const double *S, size_t n, double *evals, double *evecs, tdi_err *err)
{
    gsl_matrix *a = gsl_matrix_alloc(n, n);
    gsl_vector *ev = gsl_vector_alloc(n);
    gsl_matrix *vec = evecs ? gsl_matrix_alloc(n, n) : NULL;
    gsl_eigen_symmv_workspace *wv = evecs ? gsl_eigen_symmv_alloc(n) : NULL;
    gsl_eigen_symm_workspace *w = evecs ? NULL : gsl_eigen_symm_alloc(n);
    int rc = 0;
    if (!a || !ev || (evecs && (!vec || !wv)) || (!evecs && !w)) {
        rc = tdi_err_set(err, TDI_ENOMEM, "eigen-decomposition of a %zu x %zu matrix: out of "
                         "memory", n, n);
        goto done;
    }
    /* symmetrise: rounding in a product like W^T W must not make the input non-symmetric */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            gsl_matrix_set(a, i, j, 0.5 * (S[i * n + j] + S[j * n + i]));
    int st = evecs ? gsl_eigen_symmv(a, ev, vec, wv) : gsl_eigen_symm(a, ev, w);
    if (st) {
        rc = tdi_err_set(err, TDI_ENUM, "eigen-decomposition failed: %s", gsl_strerror(st));
        goto done;
    }
    if (evecs)
        gsl_eigen_symmv_sort(ev, vec, GSL_EIGEN_SORT_VAL_DESC);
    else
        qsort(ev->data, n, sizeof(double), eig_cmp_desc); /* ev has stride 1 */
    for (size_t i = 0; i < n; i++)
        evals[i] = gsl_vector_get(ev, i);
    if (evecs)
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++)
                evecs[i * n + j] = gsl_matrix_get(vec, i, j);
done:
    gsl_matrix_free(a);
    gsl_vector_free(ev);
    gsl_matrix_free(vec);
    if (wv)
        gsl_eigen_symmv_free(wv);
    if (w)
        gsl_eigen_symm_free(w);
    return rc;
}

/* L = the GSL factor of M; 1 when every pivot is positive and finite. GSL accepts a tiny or zero
 * pivot only if it is exactly representable as positive; a NaN input gives a non-finite one. */
static int chol_factor(const double *M, size_t n, double *L)
{
    memcpy(L, M, n * n * sizeof *L);
    gsl_matrix_view lv = gsl_matrix_view_array(L, n, n);
    if (gsl_linalg_cholesky_decomp1(&lv.matrix))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(L[i * n + i] > 0.0) || !isfinite(L[i * n + i]))
            return 0;
    return 1;
}

/* smallest eigenvalue of M into *lmin (NAN and an error on failure) */
static int chol_lambda_min(const double *M, size_t n, const char *what, double *lmin,
                           tdi_err *err)
{
    double *ev = malloc(n * sizeof *ev);
    if (!ev)
        return tdi_err_set(err, TDI_ENOMEM, "%s: out of memory", what);
    int rc = tdi_linalg_eig_sym(M, n, ev, NULL, err);
    *lmin = rc ? NAN : ev[n - 1];
    free(ev);
    return rc ? tdi_err_prefix(err, "%s", what) : 0;
}

int tdi_linalg_chol(const double *M, size_t n, double *L, const char *what, int want_eig,
                    double *lambda_min, tdi_err *err)
{
    if (L == M)
        return tdi_err_set(err, TDI_EARG, "%s: Cholesky needs separate input and factor", what);
    int ok = chol_factor(M, n, L);
    if (!ok || want_eig) {
        double lmin;
        int rc = chol_lambda_min(M, n, what, &lmin, err);
        if (rc)
            return rc;
        if (lambda_min)
            *lambda_min = lmin;
        if (!ok)
            return tdi_err_set(err, TDI_ENUM,
                               "%s is not positive definite: Cholesky failed, smallest "
                               "eigenvalue %.6g", what, lmin);
    }
    /* keep only the lower triangle: the solve reads L as lower-triangular */
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            L[i * n + j] = 0.0;
    return 0;
}

void tdi_linalg_chol_solve_rows(const double *L, size_t n, double *R, size_t nrhs)
{
    if (nrhs == 0)
        return;
    /* rows r of R: want X = R M^-1 (M symmetric) = R L^-T L^-1: y L^T = r, then x L = y */
    gsl_matrix_const_view lv = gsl_matrix_const_view_array(L, n, n);
    gsl_matrix_view rv = gsl_matrix_view_array(R, nrhs, n);
    gsl_blas_dtrsm(CblasRight, CblasLower, CblasTrans, CblasNonUnit, 1.0, &lv.matrix,
                   &rv.matrix);
    gsl_blas_dtrsm(CblasRight, CblasLower, CblasNoTrans, CblasNonUnit, 1.0, &lv.matrix,
                   &rv.matrix);
}
