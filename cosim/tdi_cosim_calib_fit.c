/* tdi_cosim_calib_fit: the numeric core of chip calibration (docs/nonideal.md "Calibration"):
 * the affine input-to-output map from probes (ridge least squares on centred data), the skip
 * encoder's correction against a measured map, the output correction after the ADC, LU solves.
 * Invariant: pure functions of their arrays (row-major), no state, no draws. Non-goals: driving probes (tdi_cosim_calib.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_linalg.h>

#include "tdi_cosim.h"

/* solves (N + lambda I) X = R in place of R (N (m, m) symmetric PSD, R (m, c)) by Cholesky */
static int ridge_solve(double *N, size_t m, double lambda, double *R, size_t c, tdi_err *err)
{
    for (size_t i = 0; i < m; i++)
        N[i * m + i] += lambda;
    gsl_matrix_view nv = gsl_matrix_view_array(N, m, m);
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    int bad = gsl_linalg_cholesky_decomp1(&nv.matrix);
    gsl_set_error_handler(old);
    if (bad)
        return tdi_err_set(err, TDI_ENUM, "calibration: normal equations not positive definite "
                           "(too few probes or ridge 0 on a rank-deficient drive)");
    for (size_t q = 0; q < c; q++) {
        gsl_vector_view col = gsl_vector_view_array_with_stride(R + q, c, m);
        gsl_linalg_cholesky_svx(&nv.matrix, &col.vector);
    }
    return 0;
}

static double trace(const double *N, size_t m)
{
    double t = 0;
    for (size_t i = 0; i < m; i++)
        t += N[i * m + i];
    return t;
}

/* column means of A (P, m) into mu (m) */
static void col_mean(const double *A, size_t P, size_t m, double *mu)
{
    memset(mu, 0, m * sizeof *mu);
    for (size_t p = 0; p < P; p++)
        for (size_t i = 0; i < m; i++)
            mu[i] += A[p * m + i] / (double)P;
}

int tdi_cosim_calib_affine(const double *X, const double *Y, size_t P, size_t m, size_t D,
                           double ridge, double *H, double *y0, tdi_err *err)
{
    if (P <= m)
        return tdi_err_set(err, TDI_EARG, "calibration: %zu probes for %zu inputs (need more "
                           "probes than inputs)", P, m);
    double *Xc = malloc(P * m * sizeof *Xc), *Yc = malloc(P * D * sizeof *Yc);
    double *N = malloc(m * m * sizeof *N), *R = malloc(m * D * sizeof *R);
    double *mx = malloc(m * sizeof *mx);
    int rc = 0;
    if (!Xc || !Yc || !N || !R || !mx) {
        rc = tdi_err_set(err, TDI_ENOMEM, "calibration: out of memory");
        goto done;
    }
    col_mean(X, P, m, mx);
    col_mean(Y, P, D, y0);
    for (size_t p = 0; p < P; p++) {
        for (size_t i = 0; i < m; i++)
            Xc[p * m + i] = X[p * m + i] - mx[i];
        for (size_t i = 0; i < D; i++)
            Yc[p * D + i] = Y[p * D + i] - y0[i];
    }
    gsl_matrix_view xv = gsl_matrix_view_array(Xc, P, m), yv = gsl_matrix_view_array(Yc, P, D);
    gsl_matrix_view nv = gsl_matrix_view_array(N, m, m), rv = gsl_matrix_view_array(R, m, D);
    gsl_blas_dgemm(CblasTrans, CblasNoTrans, 1.0, &xv.matrix, &xv.matrix, 0.0, &nv.matrix);
    gsl_blas_dgemm(CblasTrans, CblasNoTrans, 1.0, &xv.matrix, &yv.matrix, 0.0, &rv.matrix);
    for (size_t i = 0; i < m; i++) /* per column, relative to its own variance: scale-free */
        N[i * m + i] *= 1.0 + ridge;
    if ((rc = ridge_solve(N, m, 0.0, R, D, err)))
        goto done;
    for (size_t i = 0; i < D; i++) { /* H = R^T, y0 = mean(Y) - H mean(X) */
        for (size_t q = 0; q < m; q++) {
            H[i * m + q] = R[q * D + i];
            y0[i] -= H[i * m + q] * mx[q];
        }
    }
done:
    free(Xc);
    free(Yc);
    free(N);
    free(R);
    free(mx);
    return rc;
}

int tdi_cosim_calib_encoder(const double *He, const double *W0, const double *F, size_t D,
                            size_t k, double ridge, double *Delta, tdi_err *err)
{
    double *N = malloc(D * D * sizeof *N), *T = malloc(D * k * sizeof *T);
    if (!N || !T) {
        free(N);
        free(T);
        return tdi_err_set(err, TDI_ENOMEM, "calibration: out of memory");
    }
    memcpy(T, F, D * k * sizeof *T); /* T = F - He W0 */
    gsl_matrix_const_view hv = gsl_matrix_const_view_array(He, D, D);
    gsl_matrix_view tv = gsl_matrix_view_array(T, D, k), nv = gsl_matrix_view_array(N, D, D);
    gsl_matrix_view dv = gsl_matrix_view_array(Delta, D, k);
    if (W0) {
        gsl_matrix_const_view wv = gsl_matrix_const_view_array(W0, D, k);
        gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, -1.0, &hv.matrix, &wv.matrix, 1.0,
                       &tv.matrix);
    }
    gsl_blas_dgemm(CblasTrans, CblasNoTrans, 1.0, &hv.matrix, &hv.matrix, 0.0, &nv.matrix);
    gsl_blas_dgemm(CblasTrans, CblasNoTrans, 1.0, &hv.matrix, &tv.matrix, 0.0, &dv.matrix);
    int rc = ridge_solve(N, D, ridge * trace(N, D) / (double)D, Delta, k, err);
    free(N);
    free(T);
    return rc;
}

int tdi_cosim_calib_outmap(const double *A, const double *F, size_t D, size_t k, double ridge,
                           double *U, double *Vt, tdi_err *err)
{
    double *N = malloc(k * k * sizeof *N);
    if (!N)
        return tdi_err_set(err, TDI_ENOMEM, "calibration: out of memory");
    for (size_t q = 0; q < D * k; q++)
        U[q] = F[q] - A[q];
    for (size_t r = 0; r < k; r++) /* Vt = A^T, N = A^T A */
        for (size_t i = 0; i < D; i++)
            Vt[r * D + i] = A[i * k + r];
    gsl_matrix_const_view av = gsl_matrix_const_view_array(A, D, k);
    gsl_matrix_view nv = gsl_matrix_view_array(N, k, k);
    gsl_blas_dgemm(CblasTrans, CblasNoTrans, 1.0, &av.matrix, &av.matrix, 0.0, &nv.matrix);
    int rc = ridge_solve(N, k, ridge * trace(N, k) / (double)k, Vt, D, err);
    free(N);
    return rc;
}

int tdi_cosim_calib_truncate(double *A, size_t n, size_t r, tdi_err *err)
{
    gsl_matrix *U = gsl_matrix_alloc(n, n), *V = gsl_matrix_alloc(n, n);
    gsl_vector *S = gsl_vector_alloc(n), *w = gsl_vector_alloc(n);
    int rc = 0;
    if (!U || !V || !S || !w) {
        rc = tdi_err_set(err, TDI_ENOMEM, "calibration: out of memory");
        goto done;
    }
    memcpy(U->data, A, n * n * sizeof(double));
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    int bad = gsl_linalg_SV_decomp(U, V, S, w);
    gsl_set_error_handler(old);
    if (bad) {
        rc = tdi_err_set(err, TDI_ENUM, "calibration: SVD failed");
        goto done;
    }
    for (size_t i = 0; i < n; i++) /* A = sum over the r largest of s_q u_q v_q^T */
        for (size_t j = 0; j < n; j++) {
            double a = 0;
            for (size_t q = 0; q < r && q < n; q++)
                a += gsl_matrix_get(U, i, q) * gsl_vector_get(S, q) * gsl_matrix_get(V, j, q);
            A[i * n + j] = a;
        }
done:
    gsl_matrix_free(U);
    gsl_matrix_free(V);
    gsl_vector_free(S);
    gsl_vector_free(w);
    return rc;
}

/* LU of A (n, n) into a new matrix and permutation (NULL: out of memory or singular) */
static gsl_matrix *lu_of(const double *A, size_t n, gsl_permutation **perm, tdi_err *err)
{
    gsl_matrix *m = gsl_matrix_alloc(n, n);
    *perm = gsl_permutation_alloc(n);
    if (!m || !*perm) {
        gsl_matrix_free(m);
        gsl_permutation_free(*perm);
        tdi_err_set(err, TDI_ENOMEM, "calibration: out of memory");
        return NULL;
    }
    memcpy(m->data, A, n * n * sizeof(double));
    int sg;
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    int bad = gsl_linalg_LU_decomp(m, *perm, &sg);
    gsl_set_error_handler(old);
    for (size_t i = 0; i < n && !bad; i++) /* not the determinant: it underflows at n = 128 */
        bad = !(fabs(gsl_matrix_get(m, i, i)) > 0.0);
    if (bad) {
        gsl_matrix_free(m);
        gsl_permutation_free(*perm);
        tdi_err_set(err, TDI_ENUM, "calibration: singular matrix");
        return NULL;
    }
    return m;
}

int tdi_cosim_calib_solve(const double *A, const double *t, size_t n, double *x, tdi_err *err)
{
    gsl_permutation *p;
    gsl_matrix *lu = lu_of(A, n, &p, err);
    if (!lu)
        return err ? err->code : TDI_ENUM;
    gsl_vector_const_view tv = gsl_vector_const_view_array(t, n);
    gsl_vector_view xv = gsl_vector_view_array(x, n);
    gsl_linalg_LU_solve(lu, p, &tv.vector, &xv.vector);
    gsl_matrix_free(lu);
    gsl_permutation_free(p);
    return 0;
}

int tdi_cosim_calib_inverse_rows(const double *G, size_t n, size_t r0, size_t nr, double scale,
                                 double *Hout, tdi_err *err)
{
    gsl_permutation *p;
    gsl_matrix *lu = lu_of(G, n, &p, err);
    gsl_matrix *inv = lu ? gsl_matrix_alloc(n, n) : NULL;
    if (!inv) {
        gsl_matrix_free(lu);
        if (lu)
            gsl_permutation_free(p);
        return lu ? tdi_err_set(err, TDI_ENOMEM, "calibration: out of memory")
                  : (err ? err->code : TDI_ENUM);
    }
    gsl_linalg_LU_invert(lu, p, inv);
    for (size_t i = 0; i < nr; i++)
        for (size_t q = 0; q < n; q++)
            Hout[i * n + q] = scale * gsl_matrix_get(inv, r0 + i, q);
    gsl_matrix_free(inv);
    gsl_matrix_free(lu);
    gsl_permutation_free(p);
    return 0;
}
