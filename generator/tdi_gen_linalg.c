/* tdi_gen_linalg: the few dense linear-algebra steps of the generator on top of GSL/CBLAS
 * (Cholesky is common/tdi_linalg.h's): extreme eigenvalues by Lanczos with full
 * re-orthogonalisation (O(n^2) per iteration, so a 2048-unit M costs well under a second).
 * Non-goal: general eigen-solvers (the low-rank factoring lives in tdi_gen_circ.c). */
#include "tdi_gen_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_rng.h>

/* OpenBLAS supplies the CBLAS that GSL calls (the Makefile links it with --no-as-needed, so no
 * program falls back to GSL's reference CBLAS, 10x slower on the D = 1024 benchmark). */
void openblas_set_num_threads(int n);

void tdi_gen_blas_threads(int n)
{
    openblas_set_num_threads(n);
}

void tdi_gen_gemm_abt(const double *A, const double *B, size_t m, size_t n, size_t k, double *C)
{
    gsl_matrix_const_view Av = gsl_matrix_const_view_array(A, m, k);
    gsl_matrix_const_view Bv = gsl_matrix_const_view_array(B, n, k);
    gsl_matrix_view Cv = gsl_matrix_view_array(C, m, n);
    gsl_blas_dgemm(CblasNoTrans, CblasTrans, 1.0, &Av.matrix, &Bv.matrix, 0.0, &Cv.matrix);
}

/* Number of eigenvalues < x of the symmetric tridiagonal (alpha, beta) of order m. */
static size_t tri_count(const double *alpha, const double *beta, size_t m, double x)
{
    size_t cnt = 0;
    double q = 1;
    for (size_t i = 0; i < m; i++) {
        double b2 = i ? beta[i - 1] * beta[i - 1] : 0;
        q = alpha[i] - x - (i ? b2 / q : 0);
        if (q == 0)
            q = 1e-300;
        if (q < 0)
            cnt++;
    }
    return cnt;
}

static double tri_largest(const double *alpha, const double *beta, size_t m)
{
    double lo = alpha[0], hi = alpha[0];
    for (size_t i = 0; i < m; i++) { /* Gershgorin interval */
        double r = (i ? fabs(beta[i - 1]) : 0) + (i + 1 < m ? fabs(beta[i]) : 0);
        lo = fmin(lo, alpha[i] - r);
        hi = fmax(hi, alpha[i] + r);
    }
    for (int it = 0; it < 200 && hi - lo > 1e-15 * fmax(fabs(lo), fabs(hi)); it++) {
        double mid = 0.5 * (lo + hi);
        if (tri_count(alpha, beta, m, mid) == m)
            hi = mid; /* every eigenvalue below mid */
        else
            lo = mid;
    }
    return 0.5 * (lo + hi);
}

/* Largest eigenvalue of the operator op (symmetric, n x n) by Lanczos with full
 * re-orthogonalisation; stops when the largest Ritz value has changed by less than 1e-13
 * (relative) for 3 steps, or after maxit steps. */
typedef void (*lz_op)(const void *ctx, const double *x, double *y, size_t n);

static int lz_largest(lz_op op, const void *ctx, size_t n, unsigned long seed, double *out,
                      tdi_err *err)
{
    size_t maxit = n < 300 ? n : 300;
    double *V = malloc(maxit * n * sizeof *V);
    double *w = malloc(n * sizeof *w);
    double *alpha = calloc(maxit, sizeof *alpha), *beta = calloc(maxit, sizeof *beta);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    int rc = 0;
    if (!V || !w || !alpha || !beta || !rng) {
        rc = tdi_err_set(err, TDI_ENOMEM, "eigenvalue estimate: out of memory");
        goto done;
    }
    gsl_rng_set(rng, seed);
    double nrm = 0;
    for (size_t i = 0; i < n; i++) {
        V[i] = gsl_rng_uniform(rng) - 0.5;
        nrm += V[i] * V[i];
    }
    nrm = sqrt(nrm);
    for (size_t i = 0; i < n; i++)
        V[i] /= nrm;
    double best = 0;
    size_t m = 0;
    int stable = 0;
    for (size_t j = 0; j < maxit; j++) {
        m = j + 1;
        op(ctx, V + j * n, w, n);
        double a = 0;
        for (size_t i = 0; i < n; i++)
            a += w[i] * V[j * n + i];
        alpha[j] = a;
        /* full re-orthogonalisation (twice is enough) */
        for (int pass = 0; pass < 2; pass++)
            for (size_t q = 0; q <= j; q++) {
                double d = 0;
                for (size_t i = 0; i < n; i++)
                    d += w[i] * V[q * n + i];
                for (size_t i = 0; i < n; i++)
                    w[i] -= d * V[q * n + i];
            }
        double b = 0;
        for (size_t i = 0; i < n; i++)
            b += w[i] * w[i];
        b = sqrt(b);
        beta[j] = b;
        /* largest Ritz value of the (j+1) tridiagonal by Sturm bisection (O(m) per probe) */
        double prev = best;
        best = tri_largest(alpha, beta, m);
        if (j >= 3 && fabs(best - prev) <= 1e-13 * fabs(best))
            stable++;
        else
            stable = 0;
        if (stable >= 3 || b < 1e-300 || m == n)
            break;
        if (j + 1 < maxit)
            for (size_t i = 0; i < n; i++)
                V[(j + 1) * n + i] = w[i] / b;
    }
    *out = best;
done:
    free(V);
    free(w);
    free(alpha);
    free(beta);
    gsl_rng_free(rng);
    return rc;
}

typedef struct { const double *M, *L; } lz_ctx;

static void lz_mul(const void *ctx, const double *x, double *y, size_t n)
{
    const lz_ctx *c = ctx;
    gsl_matrix_const_view Mv = gsl_matrix_const_view_array(c->M, n, n);
    gsl_vector_const_view xv = gsl_vector_const_view_array(x, n);
    gsl_vector_view yv = gsl_vector_view_array(y, n);
    gsl_blas_dsymv(CblasLower, 1.0, &Mv.matrix, &xv.vector, 0.0, &yv.vector);
}

static void lz_inv(const void *ctx, const double *x, double *y, size_t n)
{
    const lz_ctx *c = ctx;
    memcpy(y, x, n * sizeof *y);
    gsl_matrix_const_view Lv = gsl_matrix_const_view_array(c->L, n, n);
    gsl_vector_view yv = gsl_vector_view_array(y, n);
    gsl_blas_dtrsv(CblasLower, CblasNoTrans, CblasNonUnit, &Lv.matrix, &yv.vector);
    gsl_blas_dtrsv(CblasLower, CblasTrans, CblasNonUnit, &Lv.matrix, &yv.vector);
}

int tdi_gen_eig_extremes(const double *M, const double *L, size_t n, unsigned long seed,
                         double *lmin, double *lmax, tdi_err *err)
{
    if (n <= 400) {
        double *W = malloc(n * n * sizeof *W);
        gsl_vector *ev = gsl_vector_alloc(n);
        gsl_eigen_symm_workspace *ws = gsl_eigen_symm_alloc(n);
        if (!W || !ev || !ws) {
            free(W);
            gsl_vector_free(ev);
            gsl_eigen_symm_free(ws);
            return tdi_err_set(err, TDI_ENOMEM, "eigenvalues: out of memory");
        }
        memcpy(W, M, n * n * sizeof *W);
        gsl_matrix_view Wv = gsl_matrix_view_array(W, n, n);
        gsl_eigen_symm(&Wv.matrix, ev, ws);
        *lmin = gsl_vector_min(ev);
        *lmax = gsl_vector_max(ev);
        free(W);
        gsl_vector_free(ev);
        gsl_eigen_symm_free(ws);
        return 0;
    }
    lz_ctx c = {M, L};
    double inv;
    int rc = lz_largest(lz_mul, &c, n, tdi_seed(seed, TDI_SEED_GEN_LANCZOS, 0), lmax, err);
    if (!rc)
        rc = lz_largest(lz_inv, &c, n, tdi_seed(seed, TDI_SEED_GEN_LANCZOS, 1), &inv, err);
    if (!rc)
        *lmin = 1.0 / inv;
    return rc;
}
