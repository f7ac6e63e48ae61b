/* test_lyap: the continuous Lyapunov solve (common/tdi_linalg.c) and the stationary statistics of
 * non-symmetric circuits (cosim/tdi_cosim_lyap.c). Oracles: the symmetric closed form
 * kB T / C M^-1; the Kronecker-product linear system on small non-normal and defective matrices;
 * the residual on a random stable 40 x 40 matrix; a non-reciprocal 3-unit circuit run by the sde
 * engine (covariance within 4 batch-means standard errors); an unstable matrix refused. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>

#include "tdi_cosim.h"
#include "tdi_linalg.h"
#include "tdi_test.h"
#include "tdi_test_mat.h"

/* X solving A X + X A^T = Q by the (n^2, n^2) Kronecker system: K[(i,j),(k,l)] = A_ik d_jl +
 * d_ik A_jl, LU-solved (exact to rounding times the system's condition). */
static void kron_lyap(const double *A, const double *Q, size_t n, double *X)
{
    size_t m = n * n;
    gsl_matrix *K = gsl_matrix_calloc(m, m);
    gsl_permutation *p = gsl_permutation_alloc(m);
    gsl_vector_const_view q = gsl_vector_const_view_array(Q, m);
    gsl_vector_view x = gsl_vector_view_array(X, m);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            for (size_t k = 0; k < n; k++) {
                *gsl_matrix_ptr(K, i * n + j, k * n + j) += A[i * n + k];
                *gsl_matrix_ptr(K, i * n + j, i * n + k) += A[j * n + k];
            }
    int sg;
    gsl_linalg_LU_decomp(K, p, &sg);
    gsl_linalg_LU_solve(K, p, &q.vector, &x.vector);
    gsl_matrix_free(K);
    gsl_permutation_free(p);
}

/* max |X - Y| / max |Y| over n x n */
static double rel_max(const double *X, const double *Y, size_t n)
{
    return tdi_test_max_diff(X, 1.0, Y, n * n) / tdi_test_max_abs(Y, n * n);
}

/* A non-normal stable matrix (upper part large: 3 x the diagonal), a Jordan block (defective:
 * eigenvalue 2 three times, one eigenvector) and complex eigenvalues, each against Kronecker.
 * Bound 1e-12 relative: both solves are backward stable with condition numbers below 1e3 here
 * (n = 3), so they agree to ~1e3 eps = 2e-13. */
static void test_kron(void)
{
    double nn[9] = {1.0, 3.0, -2.0, 0.0, 0.5, 3.0, 0.0, 0.0, 2.0};
    double jb[9] = {2.0, 1.0, 0.0, 0.0, 2.0, 1.0, 0.0, 0.0, 2.0};
    double cx[9] = {1.0, -5.0, 0.0, 5.0, 1.0, 0.3, 0.2, 0.0, 0.7};
    double Q[9] = {2.0, 0.3, 0.0, 0.3, 1.0, -0.2, 0.0, -0.2, 0.5};
    const double *As[3] = {nn, jb, cx};
    const char *nm[3] = {"lyap: non-normal 3x3 vs Kronecker (max rel diff)",
                         "lyap: Jordan block (defective) vs Kronecker (max rel diff)",
                         "lyap: complex eigenvalues vs Kronecker (max rel diff)"};
    for (int t = 0; t < 3; t++) {
        double X[9], K[9], r = -1;
        tdi_err err = {0};
        int rc = tdi_linalg_lyap(As[t], 3, Q, X, &r, "A", &err);
        tdi_check_ok(rc, &err, "lyap: 3x3 solve");
        kron_lyap(As[t], Q, 3, K);
        tdi_check_le(rel_max(X, K, 3), 1e-12, nm[t]);
    }
}

/* Random stable non-symmetric 40 x 40 (entries N(0,1)/sqrt(n) plus 2 I: the circular law puts
 * the spectrum in the disc of radius 1 about 2): the residual within 256 n eps (the rounding of
 * the products that form it and of up to 64 doublings), the result symmetric. */
static void test_random(void)
{
    enum { N = 40 };
    static double A[N * N], Q[N * N], X[N * N];
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < N; j++) {
            A[i * N + j] = tdi_cosim_noise_gauss(5, i, j + 1) / sqrt((double)N) + (i == j) * 2.0;
            Q[i * N + j] = i == j ? 1.0 + 0.1 * (double)i : 0.0;
        }
    double r = -1;
    tdi_err err = {0};
    tdi_check_ok(tdi_linalg_lyap(A, N, Q, X, &r, "A", &err), &err, "lyap: random 40x40 solve");
    tdi_check_le(r, 256.0 * N * DBL_EPSILON, "lyap: random 40x40 relative residual");
    double asym = 0;
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < N; j++)
            asym = fmax(asym, fabs(X[i * N + j] - X[j * N + i]));
    tdi_check_near(asym, 0.0, 0.0, "lyap: solution exactly symmetric");
    /* unstable: eigenvalue -0.5 refused, the message names it */
    double U[4] = {1.0, 0.0, 3.0, -0.5}, Qu[4] = {1, 0, 0, 1}, Xu[4];
    int rc = tdi_linalg_lyap(U, 2, Qu, Xu, NULL, "C^-1 G", &err);
    tdi_check_int(rc, TDI_ENUM, "lyap: unstable matrix refused");
    tdi_check_contains(err.msg, "C^-1 G is not stable: eigenvalue -0.5", "lyap: unstable message");
}

/* Symmetric G = g M on C = Cu: Sigma = kB T / C M^-1 (the fluctuation-dissipation closed form,
 * docs/physics.md section 2), M^-1 from Cholesky. Bound 1e-11 relative: the solve's backward
 * error (~1e-15) times cond(M) (< 100 for this matrix) with margin for the doubling's rounding. */
static void test_symmetric(void)
{
    enum { N = 12 };
    double M[N * N], L[N * N], Mi[N * N], S[N * N], C = 1e-12, g = 1e-6, T = 300, r = -1;
    tdi_test_spd_matrix(N, 9, M);
    tdi_err err = {0};
    tdi_linalg_chol(M, N, L, "M", 0, NULL, &err);
    for (size_t i = 0; i < N * N; i++)
        Mi[i] = (i % (N + 1) == 0) * TDI_COSIM_KB * T / C;
    tdi_linalg_chol_solve_rows(L, N, Mi, N);
    tdi_cosim_circuit *c = tdi_cosim_circuit_direct(N, M, C, g, T, &err);
    int rc = c ? tdi_cosim_analytic_cov(c, NULL, NULL, S, &r, &err) : err.code;
    tdi_check_ok(rc, &err, "analytic cov: symmetric 12-unit circuit");
    tdi_check_le(rel_max(S, Mi, N), 1e-11, "analytic cov: symmetric vs kT/C M^-1 (max rel diff)");
    /* effective temperature: realised = design, extra device noise of one more 2 kB T g per
       unit doubles the PSD, so T_eff = 2 on every unit and the distance from theta M^-1 is 1 */
    double psd[N];
    for (size_t i = 0; i < N; i++)
        psd[i] = 2 * TDI_COSIM_KB * T * g;
    tdi_cosim_teff *t = c ? tdi_cosim_teff_eval(c, c->G, NULL, psd, Mi, &err) : NULL;
    TDI_CHECK(t != NULL, "teff: evaluated");
    if (t) {
        tdi_check_rel(t->teff_lyap_mean, 2.0, 1e-10, "teff: doubled PSD gives T_eff 2");
        tdi_check_rel(t->d_lyap_ref, 1.0, 1e-10, "teff: doubled covariance at distance 1");
        tdi_check_rel(t->teff_mean, 1.0, 1e-10, "teff: measured = theta M^-1 gives T_eff 1");
        tdi_check_le(t->d_meas_ref, 1e-11, "teff: measured = theta M^-1 at distance 0");
        tdi_cosim_teff_print(stdout, t);
    }
    tdi_cosim_teff_free(t);
    tdi_cosim_circuit_free(c);
}

/* The sde run's accumulator: per batch of B ticks, the sums of v_i v_j (the mean is zero: no
 * bias, so the exact mean is 0 and no mean is subtracted). */
enum { N3 = 3, NBATCH = 20 };
typedef struct acc {
    long burn, per;                   /* ticks dropped; ticks per batch */
    double s[NBATCH][N3 * N3];
    double zero[N3];
} acc;

static const double *acc_bias(void *u, long k)
{
    (void)k;
    return ((acc *)u)->zero;
}

static int acc_tick(void *u, long k, double t, const double *v, const double *ib)
{
    (void)t;
    (void)ib;
    acc *a = u;
    if (k <= a->burn)
        return 0;
    long b = (k - a->burn - 1) / a->per;
    for (size_t i = 0; i < N3; i++)
        for (size_t j = 0; j < N3; j++)
            a->s[b][i * N3 + j] += v[i] * v[j];
    return 0;
}

/* Non-reciprocal 3 units (couplings both ways with different weights and signs, so G is neither
 * symmetric nor triangular): the sde engine's stationary covariance against the Lyapunov
 * solution entry by entry within 4 standard errors of 20 batch means (each batch 1,000 tau,
 * far longer than the correlation time ~ tau / 0.4), plus the interpolated noise's deficit at
 * h = tau/200 (about lam h / 2 relative for the fastest mode: 0.4%, docs/sde.md) of the
 * variance scale sqrt(S_ii S_jj). */
static void test_sde(void)
{
    double M[N3 * N3] = {1.0, -0.5, 0.2, 0.3, 1.2, -0.6, -0.4, 0.1, 1.0};
    double C = 1e-12, g = 1e-6, T = 300, tau = C / g, h = tau / 200, S[N3 * N3];
    tdi_err err = {0};
    tdi_cosim_circuit *c = tdi_cosim_circuit_direct(N3, M, C, g, T, &err);
    int rc = c ? tdi_cosim_analytic_cov(c, NULL, NULL, S, NULL, &err) : err.code;
    tdi_check_ok(rc, &err, "non-reciprocal: Lyapunov covariance");
    static acc a;
    memset(&a, 0, sizeof a);
    a.burn = 4000;
    a.per = 200000;
    tdi_cosim_noise nz;
    tdi_cosim_stats st;
    long nt = a.burn + NBATCH * a.per;
    tdi_cosim_digital dg = {h, nt, acc_bias, acc_tick, &a};
    rc = rc ? rc : tdi_cosim_noise_init(&nz, c, h, 41, 1, &err);
    tdi_cosim_sde *s = rc ? NULL : tdi_cosim_sde_alloc(c, h, &err);
    rc = s ? tdi_cosim_sde_run(s, &nz, &dg, &st, &err) : -1;
    tdi_check_ok(rc, &err, "non-reciprocal: sde run");
    for (size_t e = 0; e < N3 * N3 && !rc; e++) {
        size_t i = e / N3, j = e % N3;
        if (j < i)
            continue;
        double m = 0, q = 0;
        for (int b = 0; b < NBATCH; b++)
            m += a.s[b][e] / (double)a.per / NBATCH;
        for (int b = 0; b < NBATCH; b++) {
            double d = a.s[b][e] / (double)a.per - m;
            q += d * d / (NBATCH - 1);
        }
        double se = sqrt(q / NBATCH), scale = sqrt(S[i * N3 + i] * S[j * N3 + j]);
        char nm[96];
        snprintf(nm, sizeof nm, "non-reciprocal: sde covariance (%zu,%zu) vs Lyapunov", i, j);
        tdi_check_near(m, S[e], 4 * se + 0.004 * scale, nm);
    }
    if (!rc)
        tdi_cosim_noise_destroy(&nz);
    tdi_cosim_sde_free(s);
    tdi_cosim_circuit_free(c);
}

/* tdi_cosim_stationary_cov on the same non-reciprocal circuit, spice against the Lyapunov
 * solution: 10,000 samples every 20 ticks (one tau apart at h = tau/20; correlation time about
 * 2.5 tau), relative s.e. of a variance sqrt(2 * 2 * 2.5 / 10,000) = 3.2%: bound 4 s.e. = 12.6%
 * plus the interpolated noise's 2.5% deficit at h = tau/20 (docs/sde.md): 0.16 on each
 * variance. The sde engine on the same seed agrees with spice pathwise (test_cosim_engines), so
 * this checks the measurement, not the engine. */
static void test_measured(void)
{
    double M[N3 * N3] = {1.0, -0.5, 0.2, 0.3, 1.2, -0.6, -0.4, 0.1, 1.0};
    double C = 1e-12, g = 1e-6, T = 300, tau = C / g, h = tau / 20, S[9], Sm[9], mean[3];
    tdi_err err = {0};
    tdi_cosim_circuit *c = tdi_cosim_circuit_direct(N3, M, C, g, T, &err);
    int rc = c ? tdi_cosim_analytic_cov(c, NULL, NULL, S, NULL, &err) : err.code;
    tdi_cosim_stats st;
    rc = rc ? rc : tdi_cosim_stationary_cov(TDI_COSIM_SPICE, c, h, 200, 10000, 20, 43, mean, Sm,
                                            &st, &err);
    tdi_check_ok(rc, &err, "measured cov: spice stationary run");
    for (size_t i = 0; i < N3 && !rc; i++) {
        char nm[96];
        snprintf(nm, sizeof nm, "measured cov: spice variance of unit %zu vs Lyapunov", i);
        tdi_check_rel(Sm[i * N3 + i], S[i * N3 + i], 0.16, nm);
    }
    tdi_cosim_teff *t = rc ? NULL : tdi_cosim_teff_eval(c, NULL, NULL, NULL, Sm, &err);
    if (t) {
        tdi_cosim_teff_print(stdout, t);
        tdi_check_le(t->d_meas_lyap, 0.16, "measured cov: Frobenius distance to Lyapunov");
    }
    tdi_cosim_teff_free(t);
    rc = tdi_cosim_stationary_cov(TDI_COSIM_ANALYTIC, c, h, 0, 10, 1, 1, mean, Sm, &st, &err);
    tdi_check_int(rc, TDI_EARG, "measured cov: the analytic engine refused");
    /* a realised G: the analytic mean follows it (G^-1 b), an unstable one is refused */
    double Gr[9], b[3] = {1e-9, -2e-9, 0.5e-9}, v[3], Gu[9];
    for (size_t i = 0; i < 9; i++) {
        Gr[i] = c->G[i] * (1.0 + 0.05 * (double)(i % 4)); /* a "chip": gains off by 0-15% */
        Gu[i] = -c->G[i];
    }
    tdi_check_ok(tdi_cosim_circuit_set_g(c, Gr, &err), &err, "realised G: set");
    tdi_check_ok(tdi_cosim_analytic_solve(c, b, v, &err), &err, "realised G: analytic solve");
    double r = 0;
    for (size_t i = 0; i < 3; i++) /* residual of G v = b */
        r = fmax(r, fabs(Gr[i * 3] * v[0] + Gr[i * 3 + 1] * v[1] + Gr[i * 3 + 2] * v[2] - b[i]));
    tdi_check_le(r, 1e-12 * 2e-9, "realised G: analytic mean solves G_real v = b");
    tdi_check_int(tdi_cosim_circuit_set_g(c, Gu, &err), TDI_ENUM, "realised G: unstable refused");
    tdi_check_near(c->G[0], Gr[0], 0.0, "realised G: c unchanged after the refusal");
    tdi_cosim_circuit_free(c);
}

int main(void)
{
    gsl_set_error_handler_off();
    test_kron();
    test_random();
    test_symmetric();
    test_sde();
    test_measured();
    TDI_TEST_END();
}
