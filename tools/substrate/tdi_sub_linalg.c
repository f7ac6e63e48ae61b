/* tdi_sub_linalg: the dense linear algebra of the substrate model on row-major double arrays,
 * through GSL (GEMM, symmetric matrix powers, SVD; Cholesky and the symmetric
 * eigen-decomposition are common/tdi_linalg.h's).
 * Invariants: inputs are never modified unless documented (in-place solve); GSL's error handler
 * must be off (mains do it), so GSL status codes are turned into tdi_err here.
 * Non-goals: sparse matrices, anything bigger than a few thousand rows per factorisation. */
#include "tdi_sub.h"

#include "tdi_linalg.h"

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
    rc = tdi_linalg_eig_sym(S, n, ev, V, err);
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
