/* tdi_linalg: Cholesky, its row solve, the symmetric eigen-decomposition and the continuous
 * Lyapunov solve through GSL (see tdi_linalg.h). Invariants: inputs are never modified; GSL's
 * error handler must be off (every main turns it off), so GSL status codes become tdi_err here.
 * Non-goal: choosing a BLAS (the Makefile links OpenBLAS as the CBLAS GSL calls). */
#include "tdi_linalg.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_complex_math.h>
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

/* The Cayley shift p = sqrt(min |lambda| max |lambda|) over the eigenvalues of A (the optimal
 * single shift for a real spectrum: it balances |(l - p)/(l + p)| at both ends); TDI_ENUM when an
 * eigenvalue has Re <= 0. Eigenvalues only: GSL's Francis QR works for defective A too. */
static int lyap_shift(const double *A, size_t n, const char *what, double *p, tdi_err *err)
{
    gsl_matrix *a = gsl_matrix_alloc(n, n);
    gsl_vector_complex *ev = gsl_vector_complex_alloc(n);
    gsl_eigen_nonsymm_workspace *w = gsl_eigen_nonsymm_alloc(n);
    int rc = 0;
    if (!a || !ev || !w) {
        rc = tdi_err_set(err, TDI_ENOMEM, "%s: out of memory", what);
        goto done;
    }
    memcpy(a->data, A, n * n * sizeof(double));
    if (gsl_eigen_nonsymm(a, ev, w)) {
        rc = tdi_err_set(err, TDI_ENUM, "%s: eigenvalues did not converge", what);
        goto done;
    }
    double lo = INFINITY, hi = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        gsl_complex z = gsl_vector_complex_get(ev, i);
        if (!(GSL_REAL(z) > 0))
            rc = tdi_err_set(err, TDI_ENUM, "%s is not stable: eigenvalue %g%+gi (real part must "
                             "be > 0)", what, GSL_REAL(z), GSL_IMAG(z));
        lo = fmin(lo, gsl_complex_abs(z));
        hi = fmax(hi, gsl_complex_abs(z));
    }
    *p = sqrt(lo * hi);
done:
    gsl_matrix_free(a);
    gsl_vector_complex_free(ev);
    if (w)
        gsl_eigen_nonsymm_free(w);
    return rc;
}

/* Ad = (A + pI)^-1 (A - pI) into Phi, Qd = 2p (A + pI)^-1 Q (A + pI)^-T into X (Q symmetrised) */
static int lyap_cayley(const double *A, const double *Q, size_t n, double p, gsl_matrix *Phi,
                       gsl_matrix *X, gsl_matrix *T)
{
    gsl_matrix *Ap = gsl_matrix_alloc(n, n), *W = gsl_matrix_alloc(n, n);
    gsl_permutation *perm = gsl_permutation_alloc(n);
    int sg, st = !Ap || !W || !perm;
    if (!st) {
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++) {
                double d = i == j ? p : 0.0;
                gsl_matrix_set(Ap, i, j, A[i * n + j] + d);
                gsl_matrix_set(Phi, i, j, A[i * n + j] - d);
                gsl_matrix_set(X, i, j, 0.5 * (Q[i * n + j] + Q[j * n + i]));
            }
        st = gsl_linalg_LU_decomp(Ap, perm, &sg) || gsl_linalg_LU_invert(Ap, perm, W);
    }
    if (!st) {
        gsl_matrix_memcpy(T, Phi);
        gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 1.0, W, T, 0.0, Phi);
        gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 1.0, W, X, 0.0, T);
        gsl_blas_dgemm(CblasNoTrans, CblasTrans, 2.0 * p, T, W, 0.0, X);
    }
    gsl_matrix_free(Ap);
    gsl_matrix_free(W);
    gsl_permutation_free(perm);
    return st;
}

/* Smith's doubling: X <- X + Phi X Phi^T, Phi <- Phi^2 (2^j terms of sum_k Phi^k Qd Phi^kT after
 * j steps) until Phi^(2^j) is below rounding relative to 1; 0 when it converged. */
static int lyap_double(gsl_matrix *Phi, gsl_matrix *X, gsl_matrix *T1, gsl_matrix *T2)
{
    for (int it = 0; it < 64; it++) {
        double big = fmax(gsl_matrix_max(Phi), -gsl_matrix_min(Phi));
        if (big < 1e-18)
            return 0;
        gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 1.0, Phi, X, 0.0, T1);
        gsl_blas_dgemm(CblasNoTrans, CblasTrans, 1.0, T1, Phi, 1.0, X);
        gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 1.0, Phi, Phi, 0.0, T2);
        gsl_matrix_memcpy(Phi, T2);
    }
    return -1;
}

static double lyap_frob(const double *a, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n * n; i++)
        s += a[i] * a[i];
    return sqrt(s);
}

/* |A X + X A^T - Q|_F / (2 |A|_F |X|_F + |Q|_F), Q symmetrised as the solve saw it */
static double lyap_resid(const double *A, const double *Q, const double *X, size_t n)
{
    double r = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double s = -0.5 * (Q[i * n + j] + Q[j * n + i]);
            for (size_t k = 0; k < n; k++)
                s += A[i * n + k] * X[k * n + j] + X[i * n + k] * A[j * n + k];
            r += s * s;
        }
    double den = 2 * lyap_frob(A, n) * lyap_frob(X, n) + lyap_frob(Q, n);
    return den > 0 ? sqrt(r) / den : 0.0;
}

int tdi_linalg_lyap(const double *A, size_t n, const double *Q, double *X, double *resid,
                    const char *what, tdi_err *err)
{
    double p = 0, r = 0;
    int rc = n ? lyap_shift(A, n, what, &p, err) : 0;
    if (rc || n == 0)
        return rc;
    gsl_matrix *Phi = gsl_matrix_alloc(n, n), *T1 = gsl_matrix_alloc(n, n);
    gsl_matrix *T2 = gsl_matrix_alloc(n, n);
    gsl_matrix_view Xv = gsl_matrix_view_array(X, n, n);
    if (!Phi || !T1 || !T2)
        rc = tdi_err_set(err, TDI_ENOMEM, "%s: out of memory", what);
    else if (lyap_cayley(A, Q, n, p, Phi, &Xv.matrix, T1))
        rc = tdi_err_set(err, TDI_ENUM, "%s: A + %g I is singular", what, p);
    else if (lyap_double(Phi, &Xv.matrix, T1, T2))
        rc = tdi_err_set(err, TDI_ENUM, "%s: the Lyapunov sum did not converge in 2^64 terms "
                         "(an eigenvalue too close to the imaginary axis)", what);
    if (!rc) {
        for (size_t i = 0; i < n; i++) /* rounding leaves X symmetric only to a few ulp */
            for (size_t j = i + 1; j < n; j++)
                X[i * n + j] = X[j * n + i] = 0.5 * (X[i * n + j] + X[j * n + i]);
        r = lyap_resid(A, Q, X, n);
        if (!(r <= sqrt(DBL_EPSILON)))
            rc = tdi_err_set(err, TDI_ENUM, "%s: Lyapunov residual %.3g above sqrt(DBL_EPSILON) "
                             "(too close to unstable for double precision)", what, r);
    }
    if (resid)
        *resid = r;
    gsl_matrix_free(Phi);
    gsl_matrix_free(T1);
    gsl_matrix_free(T2);
    return rc;
}
