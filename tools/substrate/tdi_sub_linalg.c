/* tdi_sub_linalg: the dense linear algebra of the substrate model on row-major double arrays,
 * through GSL (Cholesky, symmetric eigen-decomposition, SVD, BLAS-3 GEMM/TRSM).
 * Invariants: inputs are never modified unless documented (in-place solve); GSL's error handler
 * must be off (mains do it), so GSL status codes are turned into tdi_err here.
 * Non-goals: sparse matrices, anything bigger than a few thousand rows per factorisation. */
#include "tdi_sub.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>

void tdi_sub_gemm(int ta, int tb, size_t m, size_t n, size_t kk, double alpha, const double *A,
                  const double *B, double beta, double *C)
{
    if (m == 0 || n == 0)
        return;
    if (kk == 0) {
        for (size_t i = 0; i < m * n; i++)
            C[i] *= beta;
        return;
    }
    gsl_matrix_const_view av = ta ? gsl_matrix_const_view_array(A, kk, m)
                                  : gsl_matrix_const_view_array(A, m, kk);
    gsl_matrix_const_view bv = tb ? gsl_matrix_const_view_array(B, n, kk)
                                  : gsl_matrix_const_view_array(B, kk, n);
    gsl_matrix_view cv = gsl_matrix_view_array(C, m, n);
    gsl_blas_dgemm(ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, alpha,
                   &av.matrix, &bv.matrix, beta, &cv.matrix);
}

static int eig_cmp_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

int tdi_sub_eig_sym(const double *S, size_t n, double *evals, double *evecs, tdi_err *err)
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

int tdi_sub_chol(const double *M, size_t n, double *L, const char *what, int want_eig,
                 double *lambda_min, tdi_err *err)
{
    if (L == M)
        return tdi_err_set(err, TDI_EARG, "%s: Cholesky needs separate input and factor", what);
    memcpy(L, M, n * n * sizeof *L);
    gsl_matrix_view lv = gsl_matrix_view_array(L, n, n);
    int st = gsl_linalg_cholesky_decomp1(&lv.matrix);
    int ok = st == 0;
    /* GSL accepts a tiny or zero pivot only if it is exactly representable as positive; also
     * reject a non-finite factor (NaN input) */
    for (size_t i = 0; ok && i < n; i++)
        if (!(L[i * n + i] > 0.0) || !isfinite(L[i * n + i]))
            ok = 0;
    if (ok && !want_eig)
        goto clean;
    double *ev = malloc(n * sizeof *ev);
    if (!ev)
        return tdi_err_set(err, TDI_ENOMEM, "%s: out of memory", what);
    int rc = tdi_sub_eig_sym(M, n, ev, NULL, err);
    double lmin = rc ? NAN : ev[n - 1];
    free(ev);
    if (rc)
        return tdi_err_prefix(err, "%s", what);
    if (lambda_min)
        *lambda_min = lmin;
    if (!ok)
        return tdi_err_set(err, TDI_ENUM,
                           "%s is not positive definite: Cholesky failed, smallest eigenvalue "
                           "%.6g", what, lmin);
clean:
    /* keep only the lower triangle: the solve reads L as lower-triangular */
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            L[i * n + j] = 0.0;
    return 0;
}

void tdi_sub_chol_solve_rows(const double *L, size_t n, double *R, size_t nrhs)
{
    if (nrhs == 0)
        return;
    /* rows r of R: want X = R M^-1 (M symmetric) = R L^-T L^-1 */
    gsl_matrix_const_view lv = gsl_matrix_const_view_array(L, n, n);
    gsl_matrix_view rv = gsl_matrix_view_array(R, nrhs, n);
    gsl_blas_dtrsm(CblasRight, CblasLower, CblasTrans, CblasNonUnit, 1.0, &lv.matrix,
                   &rv.matrix);
    gsl_blas_dtrsm(CblasRight, CblasLower, CblasNoTrans, CblasNonUnit, 1.0, &lv.matrix,
                   &rv.matrix);
}

int tdi_sub_sym_pow(const double *S, size_t n, double p, double *out, tdi_err *err)
{
    double *ev = malloc(n * sizeof *ev);
    double *V = malloc(n * n * sizeof *V);
    double *T = malloc(n * n * sizeof *T);
    int rc = 0;
    if (!ev || !V || !T) {
        rc = tdi_err_set(err, TDI_ENOMEM, "matrix power: out of memory");
        goto done;
    }
    rc = tdi_sub_eig_sym(S, n, ev, V, err);
    if (rc)
        goto done;
    if (!(ev[n - 1] > 0.0)) {
        rc = tdi_err_set(err, TDI_ENUM, "matrix power: matrix not positive definite (smallest "
                         "eigenvalue %.6g)", ev[n - 1]);
        goto done;
    }
    /* T = V diag(ev^p); out = T V^T */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            T[i * n + j] = V[i * n + j] * pow(ev[j], p);
    tdi_sub_gemm(0, 1, n, n, n, 1.0, T, V, 0.0, out);
done:
    free(ev);
    free(V);
    free(T);
    return rc;
}

int tdi_sub_svd(const double *G, size_t n, double *U, double *s, double *V, tdi_err *err)
{
    gsl_matrix *a = gsl_matrix_alloc(n, n);
    gsl_matrix *v = gsl_matrix_alloc(n, n);
    gsl_vector *sv = gsl_vector_alloc(n);
    gsl_vector *work = gsl_vector_alloc(n);
    int rc = 0;
    if (!a || !v || !sv || !work) {
        rc = tdi_err_set(err, TDI_ENOMEM, "SVD: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            gsl_matrix_set(a, i, j, G[i * n + j]);
    int st = gsl_linalg_SV_decomp(a, v, sv, work); /* a becomes U; s descending */
    if (st) {
        rc = tdi_err_set(err, TDI_ENUM, "SVD failed: %s", gsl_strerror(st));
        goto done;
    }
    for (size_t j = 0; j < n; j++) {
        s[j] = gsl_vector_get(sv, j);
        size_t imax = 0;
        for (size_t i = 1; i < n; i++)
            if (fabs(gsl_matrix_get(a, i, j)) > fabs(gsl_matrix_get(a, imax, j)))
                imax = i;
        double sg = gsl_matrix_get(a, imax, j) < 0.0 ? -1.0 : 1.0;
        for (size_t i = 0; i < n; i++) {
            U[i * n + j] = sg * gsl_matrix_get(a, i, j);
            V[i * n + j] = sg * gsl_matrix_get(v, i, j);
        }
    }
done:
    gsl_matrix_free(a);
    gsl_matrix_free(v);
    gsl_vector_free(sv);
    gsl_vector_free(work);
    return rc;
}
