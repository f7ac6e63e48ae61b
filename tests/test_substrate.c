/* test_substrate: checks of the substrate model (tools/substrate, issue 3) against analytic
 * answers: Cholesky residuals, the PD check, parameter counts, metrics on hand-made cases,
 * reduced-rank recovery of a known low-rank map, exactness of the substrate-skip fit, a
 * finite-difference gradient of the interface nets, and tdi-fit end to end on synthetic
 * activation bundles written here (good and malformed: error, non-zero exit, no output).
 * Non-goal: the real U-Net numbers (docs/results.md, scripts/bench.sh); runs from the repo root. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "tdi_cosim.h"
#include "tdi_metrics.h"
#include "tdi_npy.h"
#include "tdi_sub.h"
#include "tdi_test.h"

static gsl_rng *rng;

static double *randn(size_t n, double sd)
{
    double *a = malloc(n * sizeof *a);
    for (size_t i = 0; i < n; i++)
        a[i] = gsl_ran_gaussian(rng, sd);
    return a;
}

/* SPD matrix G G^T / n + s I */
static double *rand_spd(size_t n, double s)
{
    double *G = randn(n * n, 1.0), *M = malloc(n * n * sizeof *M);
    tdi_sub_gemm(0, 1, n, n, n, 1.0 / (double)n, G, G, 0.0, M);
    for (size_t i = 0; i < n; i++)
        M[i * n + i] += s;
    free(G);
    return M;
}

static double frob(const double *a, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * a[i];
    return sqrt(s);
}

static int dir_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void test_cholesky(void)
{
    size_t n = 128, nr = 50;
    double *M = rand_spd(n, 0.5), *L = malloc(n * n * sizeof *L);
    tdi_err err;
    tdi_err_clear(&err);
    double lmin = NAN;
    int rc = tdi_linalg_chol(M, n, L, "M", 1, &lmin, &err);
    tdi_check_int(rc, 0, "chol: SPD matrix accepted");
    double *Bm = randn(nr * n, 1.0), *X = malloc(nr * n * sizeof *X), *R = malloc(nr * n * 8);
    memcpy(X, Bm, nr * n * sizeof *X);
    tdi_linalg_chol_solve_rows(L, n, X, nr);
    tdi_sub_gemm(0, 0, nr, n, n, 1.0, X, M, 0.0, R); /* rows x^T M = (M x)^T */
    for (size_t i = 0; i < nr * n; i++)
        R[i] -= Bm[i];
    /* backward-stable solve: |r| <= c n eps |M| |x|; with cond(M) <~ 20 here this is ~1e-13
     * relative to |b|; 1e-10 is the bound */
    tdi_check_le(frob(R, nr * n) / frob(Bm, nr * n), 1e-10, "chol: solve residual relative");
    /* bad M: diag(1, -0.5, 2) must be refused with its smallest eigenvalue */
    double bad[9] = {1, 0, 0, 0, -0.5, 0, 0, 0, 2}, Lb[9];
    rc = tdi_linalg_chol(bad, 3, Lb, "test M", 0, &lmin, &err);
    tdi_check_int(rc, TDI_ENUM, "chol: indefinite M refused");
    tdi_check_contains(err.msg, "smallest eigenvalue -0.5", "chol: message has lambda_min");
    tdi_check_near(lmin, -0.5, 1e-14, "chol: lambda_min returned"); /* exact diagonal */
    /* singular (PSD, not PD) */
    double sing[4] = {1, 1, 1, 1}, Ls[4];
    rc = tdi_linalg_chol(sing, 2, Ls, "singular", 0, NULL, &err);
    tdi_check_int(rc, TDI_ENUM, "chol: singular M refused");
    free(M);
    free(L);
    free(Bm);
    free(X);
    free(R);
}

static void test_paper_skip_and_pd(void)
{
    size_t D = 8, k = 3;
    tdi_err err;
    double *We = randn(D * D, 0.3), *Wd = randn(D * D, 0.3);
    double Je[64], Jd[64], A[64], B[64], P[24], Q[24], J[64], M[256], L[256];
    tdi_sub_gram_weights(We, D, 1.0, Je);
    tdi_sub_gram_weights(Wd, D, 1.0, Jd);
    tdi_check_int(tdi_sub_paper_skip(Je, Jd, D, k, 1.0, 1, P, Q, &err), 0, "paper skip: ok");
    tdi_sub_gemm(0, 1, D, D, k, 1.0, P, Q, 0.0, J);
    /* the Frobenius rescale is one multiply per entry: rounding ~ D^2 eps */
    tdi_check_near(frob(J, D * D), 0.25, 1e-13, "paper skip: |J_skip|_F = 1/(4 kT)");
    tdi_sub_diag_block(Je, D, 0.1, A);
    tdi_sub_diag_block(Jd, D, 0.1, B);
    tdi_sub_assemble(A, B, P, Q, D, k, M);
    tdi_check_int(tdi_linalg_chol(M, 2 * D, L, "M", 0, NULL, &err), 0, "paper M: PD");
    /* blow the coupling up 100x: the off-diagonal block now dominates and M is indefinite */
    for (size_t i = 0; i < D * k; i++)
        P[i] *= 100.0;
    tdi_sub_assemble(A, B, P, Q, D, k, M);
    int rc = tdi_linalg_chol(M, 2 * D, L, "M (test)", 0, NULL, &err);
    tdi_check_int(rc, TDI_ENUM, "paper M x100 coupling: refused");
    tdi_check_contains(err.msg, "smallest eigenvalue -", "paper M x100: negative lambda_min");
    free(We);
    free(Wd);
}

static void test_params(void)
{
    tdi_sub_mlp e, t;
    tdi_err err;
    tdi_sub_mlp_init(&e, 64, 4, 64, 0, 1, &err);
    tdi_sub_mlp_init(&t, 64, 16, 64, 1, 2, &err);
    tdi_check_int((long long)tdi_sub_mlp_nweights(&e), 512, "params: encoder weights");
    tdi_check_int((long long)tdi_sub_mlp_nparams(&e), 580, "params: encoder with biases");
    tdi_check_int((long long)tdi_sub_mlp_nweights(&t), 2048, "params: transfer weights");
    tdi_check_int((long long)tdi_sub_mlp_nparams(&t), 2128, "params: transfer with biases");
    tdi_check_int((long long)(tdi_sub_mlp_nweights(&e) + tdi_sub_mlp_nweights(&t)), 2560,
                  "params: total weights = 2,560 (paper)");
    tdi_check_int((long long)(tdi_sub_mlp_nparams(&e) + tdi_sub_mlp_nparams(&t)), 2708,
                  "params: total with biases = 2,708");
    tdi_sub_mlp_destroy(&e);
    tdi_sub_mlp_destroy(&t);
}

static void test_metrics(void)
{
    size_t n = 4, D = 4;
    /* rows with zero global mean; pred rows orthogonal to truth rows */
    double truth[16] = {1, -1, 0, 0, 0, 0, 1, -1, 2, -2, 0, 0, 0, 0, -3, 3};
    double orth[16] = {0, 0, 1, -1, 1, -1, 0, 0, 0, 0, 5, -5, 1, -1, 0, 0};
    double zero[4] = {0, 0, 0, 0}, mean[4] = {0.5, -0.25, 1.0, 2.0};
    double aff[16], meanrows[16], shifted[16];
    for (size_t i = 0; i < 16; i++)
        aff[i] = 3.0 * truth[i] + 5.0;
    for (size_t i = 0; i < 16; i++)
        meanrows[i] = mean[i % 4];
    for (size_t i = 0; i < 16; i++)
        shifted[i] = truth[i] + mean[i % 4];
    /* tolerances: a handful of roundings in sums of 16 terms: 1e-15 */
    tdi_check_near(tdi_metrics_cos_paper(truth, truth, n, D), 1.0, 1e-15, "metrics: identical "
                   "paper cos = 1");
    tdi_check_near(tdi_metrics_cos_centered(truth, truth, zero, n, D), 1.0, 1e-15,
                   "metrics: identical centered cos = 1");
    tdi_check_near(tdi_metrics_r2(truth, truth, mean, n, D), 1.0, 1e-15, "metrics: identical "
                   "R^2 = 1");
    tdi_check_near(tdi_metrics_cos_paper(aff, truth, n, D), 1.0, 1e-15, "metrics: paper cos is "
                   "invariant to a global affine map");
    tdi_check_near(tdi_metrics_cos_paper(orth, truth, n, D), 0.0, 1e-15, "metrics: orthogonal "
                   "paper cos = 0");
    tdi_check_near(tdi_metrics_cos_centered(orth, truth, zero, n, D), 0.0, 1e-15,
                   "metrics: orthogonal centered cos = 0");
    tdi_metrics mb = tdi_metrics_eval(meanrows, shifted, mean, n, D);
    tdi_check_near(mb.cos_centered, 0.0, 0.0, "metrics: mean baseline centered cos = 0 "
                   "exactly");
    tdi_check_near(mb.r2, 0.0, 1e-15, "metrics: mean baseline R^2 = 0");
    /* the mean profile alone scores high on the paper's metric (the paper's pitfall) */
    tdi_check_le(-tdi_metrics_cos_paper(meanrows, shifted, n, D), -0.5,
                 "metrics: mean baseline paper cos > 0.5 on a mean-dominated case");
    double neg[16];
    for (size_t i = 0; i < 16; i++)
        neg[i] = -truth[i];
    tdi_check_near(tdi_metrics_cos_centered(neg, truth, zero, n, D), -1.0, 1e-15,
                   "metrics: opposite centered cos = -1");
    /* rho: y_with = 1.1 y_without = 1.1 truth -> 0.1 */
    double y11[16];
    for (size_t i = 0; i < 16; i++)
        y11[i] = 1.1 * truth[i];
    tdi_check_near(tdi_metrics_rho(y11, truth, truth, n, D), 0.1, 1e-14, "metrics: rho of a 10% "
                   "shift");
}

static void test_rrr(void)
{
    size_t n = 3000, dx = 10, dy = 7, r = 2;
    double *X = randn(n * dx, 1.0), *U = randn(dy * r, 1.0), *V = randn(r * dx, 1.0);
    double L0[70], Lk[70], my[7] = {1, 2, 3, -1, 0, 5, 0.5};
    tdi_sub_gemm(0, 0, dy, dx, r, 1.0, U, V, 0.0, L0);
    double *Y = malloc(n * dy * sizeof *Y);
    tdi_sub_gemm(0, 1, n, dy, dx, 1.0, X, L0, 0.0, Y);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < dy; j++)
            Y[i * dy + j] += my[j];
    tdi_sub_rrr rr;
    tdi_err err;
    int rc = tdi_sub_rrr_fit(X, Y, n, dx, dy, 0.0, &rr, &err);
    tdi_check_int(rc, 0, "rrr: fit");
    tdi_sub_rrr_map(&rr, r, Lk);
    double e[70];
    for (size_t i = 0; i < 70; i++)
        e[i] = Lk[i] - L0[i];
    /* noise-free rank-2 data: exact up to the conditioning of Cxx (~2) times n eps */
    tdi_check_le(frob(e, 70) / frob(L0, 70), 1e-10, "rrr: recovers the rank-2 map");
    tdi_check_le(fabs(rr.ev[r]) / rr.ev[0], 1e-12, "rrr: fitted covariance has rank 2");
    /* rank 1 is strictly worse: its error is the second singular direction */
    tdi_sub_rrr_map(&rr, 1, Lk);
    for (size_t i = 0; i < 70; i++)
        e[i] = Lk[i] - L0[i];
    tdi_check_le(-frob(e, 70) / frob(L0, 70), -1e-3, "rrr: rank 1 cannot fit a rank-2 map");
    tdi_sub_rrr_destroy(&rr);
    free(X);
    free(U);
    free(V);
    free(Y);
}

/* substrate-skip: g y* must equal my + L (x - mx), M PD with the normalised margin */
static void skip_case(double scale, int allow_gain, const char *tag)
{
    size_t D = 12, k = 3, nx = 20;
    double *A = rand_spd(D, 0.2), *B = rand_spd(D, 0.2);
    double *U = randn(D * k, scale), *V = randn(k * D, 1.0), L[144], P[36], Q[36], c[12];
    tdi_sub_gemm(0, 0, D, D, k, 1.0, U, V, 0.0, L);
    double *mx = randn(D, 1.0), *my = randn(D, 1.0);
    tdi_sub_skipfit info;
    tdi_err err;
    char nm[160];
    double margin = 0.05;
    int rc = tdi_sub_skip_fit(A, B, D, L, k, mx, my, margin, allow_gain, P, Q, c, &info, &err);
    snprintf(nm, sizeof nm, "skip fit %s: ok", tag);
    tdi_check_int(rc, 0, nm);
    double M[576], Lf[576], J[144], Aih[144], Bih[144], T[144], K[144];
    tdi_sub_assemble(A, B, P, Q, D, k, M);
    double lmin;
    rc = tdi_linalg_chol(M, 2 * D, Lf, "M", 1, &lmin, &err);
    snprintf(nm, sizeof nm, "skip fit %s: M positive definite", tag);
    tdi_check_int(rc, 0, nm);
    /* normalised coupling K = A^-1/2 J B^-1/2: |K|_2 <= 1 - margin (+ rounding of the square
     * roots, ~1e-14) */
    tdi_sub_gemm(0, 1, D, D, k, 1.0, P, Q, 0.0, J);
    tdi_sub_sym_pow(A, D, -0.5, Aih, &err);
    tdi_sub_sym_pow(B, D, -0.5, Bih, &err);
    tdi_sub_gemm(0, 0, D, D, D, 1.0, Aih, J, 0.0, T);
    tdi_sub_gemm(0, 0, D, D, D, 1.0, T, Bih, 0.0, K);
    double Uu[144], s[12], Vv[144];
    tdi_sub_svd(K, D, Uu, s, Vv, &err);
    snprintf(nm, sizeof nm, "skip fit %s: |K|_2 within the margin", tag);
    tdi_check_le(s[0], 1.0 - margin + 1e-12, nm);
    snprintf(nm, sizeof nm, "skip fit %s: coupling rank k", tag);
    tdi_check_le(s[k], 1e-12, nm);
    double *x = randn(nx * D, 1.0), benc[240], bdec[240], y[240], want[240];
    tdi_sub_gemm(0, 1, nx, D, D, 1.0, x, A, 0.0, benc);
    for (size_t i = 0; i < nx; i++)
        memcpy(bdec + i * D, c, sizeof c);
    tdi_sub_equilibrium(Lf, D, benc, bdec, nx, y, &err);
    for (size_t i = 0; i < nx; i++)
        for (size_t j = 0; j < D; j++) {
            double v = my[j];
            for (size_t q = 0; q < D; q++)
                v += L[j * D + q] * (x[i * D + q] - mx[q]);
            want[i * D + j] = v;
        }
    double e[240];
    for (size_t i = 0; i < nx * D; i++)
        e[i] = info.gain * y[i] - want[i];
    double rel = frob(e, nx * D) / frob(want, nx * D);
    /* the 2 D k-weight encoder b_enc = A R R^T x gives the same decoder equilibrium */
    double W1[36], W2[36], tk[60], bp[240], yp[240], ep[240];
    size_t rank = 0;
    tdi_cosim_skip_encoder(A, P, D, k, W1, W2, &rank, &err);
    snprintf(nm, sizeof nm, "skip encoder %s: rank k", tag);
    tdi_check_int((long long)rank, (long long)k, nm);
    tdi_sub_gemm(0, 1, nx, k, D, 1.0, x, W1, 0.0, tk);
    tdi_sub_gemm(0, 1, nx, D, k, 1.0, tk, W2, 0.0, bp);
    tdi_sub_equilibrium(Lf, D, bp, bdec, nx, yp, &err);
    for (size_t i = 0; i < nx * D; i++)
        ep[i] = yp[i] - y[i];
    /* J^T R R^T = J^T up to the eigenvector rounding (~1e-14); conditioning of M ~ 1/margin */
    snprintf(nm, sizeof nm, "skip encoder %s: same decoder equilibrium as A x", tag);
    tdi_check_le(frob(ep, nx * D) / frob(y, nx * D), 1e-11, nm);
    if (allow_gain || info.clipped == 0) {
        /* closed-form inversion of the Schur form; conditioning of M at the margin (~1/0.05)
         * times a few D^3 eps roundings: 1e-9 */
        snprintf(nm, sizeof nm, "skip fit %s: g y* = my + L (x - mx)", tag);
        tdi_check_le(rel, 1e-9, nm);
    } else {
        snprintf(nm, sizeof nm, "skip fit %s: clipped fit is not exact", tag);
        tdi_check_le(-rel, -1e-6, nm);
    }
    free(A);
    free(B);
    free(U);
    free(V);
    free(mx);
    free(my);
    free(x);
    printf("# skip case %s: gain %.6g clipped %d sigma_max %.6g lambda_min %.6g\n", tag,
           info.gain, info.clipped, info.sigma_max, lmin);
}

static void test_skip_fit(void)
{
    skip_case(0.05, 1, "small map");
    skip_case(20.0, 1, "large map, gain");
    skip_case(20.0, 0, "large map, no gain");
}

static void test_mlp_grad(void)
{
    tdi_sub_mlp m;
    tdi_err err;
    size_t n = 7;
    tdi_sub_mlp_init(&m, 5, 3, 4, 1, 7, &err);
    double *X = randn(n * 5, 1.0), *T = randn(n * 4, 1.0);
    size_t np = tdi_sub_mlp_nparams(&m);
    double *g = malloc(np * sizeof *g);
    tdi_sub_mlp_grad(&m, X, T, n, g, &err);
    double maxerr = 0.0, h = 1e-6;
    for (size_t i = 0; i < np; i++) {
        double save = m.w1[i];
        m.w1[i] = save + h;
        double lp = tdi_sub_mlp_mse(&m, X, T, n);
        m.w1[i] = save - h;
        double lm = tdi_sub_mlp_mse(&m, X, T, n);
        m.w1[i] = save;
        double fd = (lp - lm) / (2 * h);
        double e = fabs(fd - g[i]);
        maxerr = e > maxerr ? e : maxerr;
    }
    /* central differences: truncation ~h^2 |f'''| ~ 1e-12, cancellation ~eps/h ~ 1e-10 */
    tdi_check_le(maxerr, 1e-8, "mlp: SiLU gradient matches central differences");
    /* training a linear D->2->D net on an exactly rank-2 linear target drives MSE near 0 */
    tdi_sub_mlp lin;
    size_t N = 2000, Dm = 6;
    tdi_sub_mlp_init(&lin, Dm, 2, Dm, 0, 3, &err);
    double *Xl = randn(N * Dm, 1.0), *U = randn(Dm * 2, 1.0), *W = randn(2 * Dm, 1.0);
    double Lm[36], *Tl = malloc(N * Dm * sizeof *Tl);
    tdi_sub_gemm(0, 0, Dm, Dm, 2, 1.0, U, W, 0.0, Lm);
    tdi_sub_gemm(0, 1, N, Dm, Dm, 1.0, Xl, Lm, 0.0, Tl);
    double var = 0.0;
    for (size_t i = 0; i < N * Dm; i++)
        var += Tl[i] * Tl[i] / (double)(N * Dm);
    double before = tdi_sub_mlp_mse(&lin, Xl, Tl, N), after = NAN;
    tdi_sub_train_opts o = {60, 64, 3e-3, 0.0, 5, 0, 0, 0};
    tdi_sub_mlp_train(&lin, Xl, Tl, N, &o, &after, &err);
    printf("# linear bottleneck: target variance %.6g, MSE before %.6g after %.6g\n", var,
           before, after);
    /* Adam with lr 3e-3 for 60 epochs: well below 1% of the target variance */
    tdi_check_le(after / var, 1e-2, "mlp: Adam fits an exactly representable map");
    tdi_sub_mlp_destroy(&m);
    tdi_sub_mlp_destroy(&lin);
    free(X);
    free(T);
    free(g);
    free(Xl);
    free(U);
    free(W);
    free(Tl);
}

/* ------------------------------------------------------------------ synthetic bundles */

#define SYN_CE 16   /* e2 channels */
#define SYN_CD 16   /* d2 channels */
#define SYN_LAT 3   /* latent dimension shared by encoder and decoder */

typedef struct {
    const char *bad;   /* NULL, "missing", "shape", "nan", "smallw" */
} syn_opts;

static int write_arr(const char *dir, const char *name, int ndim, const size_t *shape,
                     const float *data)
{
    char p[600];
    tdi_err err;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return tdi_npy_write(p, TDI_NPY_F32, ndim, shape, data, &err);
}

/* A bundle whose decoder is a fixed linear function (through a 3-dim latent) of the encoder
 * plus 10% noise, so the rank-3 linear ceiling is near 1 and the mean baseline is 0. */
static int write_bundle(const char *dir, const char *split, size_t n, unsigned long seed,
                        const syn_opts *o)
{
    mkdir(dir, 0755);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 12345); /* the same mixing matrices for both splits */
    float *Fe = malloc(SYN_CE * SYN_LAT * 4), *Fd = malloc(SYN_CD * SYN_LAT * 4);
    for (size_t i = 0; i < SYN_CE * SYN_LAT; i++)
        Fe[i] = (float)gsl_ran_gaussian(r, 1.0);
    for (size_t i = 0; i < SYN_CD * SYN_LAT; i++)
        Fd[i] = (float)gsl_ran_gaussian(r, 1.0);
    float *we = malloc(SYN_CE * 8 * 9 * 4), *wd = malloc(SYN_CD * 24 * 9 * 4);
    for (size_t i = 0; i < SYN_CE * 8 * 9; i++)
        we[i] = (float)gsl_ran_gaussian(r, 0.2);
    for (size_t i = 0; i < SYN_CD * 24 * 9; i++)
        wd[i] = (float)gsl_ran_gaussian(r, 0.2);
    if (o && o->bad && strcmp(o->bad, "smallw") == 0) {
        for (size_t i = 0; i < SYN_CE * 8 * 9; i++)
            we[i] *= 0.01f;
        for (size_t i = 0; i < SYN_CD * 24 * 9; i++)
            wd[i] *= 0.01f;
    }
    gsl_rng_set(r, seed);
    float *e = malloc(n * SYN_CE * 4), *d = malloc(n * SYN_CD * 4);
    double *idx = malloc(n * 8);
    for (size_t i = 0; i < n; i++) {
        double z[SYN_LAT];
        for (size_t q = 0; q < SYN_LAT; q++)
            z[q] = gsl_ran_gaussian(r, 1.0);
        for (size_t j = 0; j < SYN_CE; j++) {
            double v = 0.3 + 0.05 * (double)j + gsl_ran_gaussian(r, 0.1);
            for (size_t q = 0; q < SYN_LAT; q++)
                v += Fe[j * SYN_LAT + q] * z[q];
            e[i * SYN_CE + j] = (float)v;
        }
        for (size_t j = 0; j < SYN_CD; j++) {
            double v = 1.0 - 0.1 * (double)j + gsl_ran_gaussian(r, 0.1);
            for (size_t q = 0; q < SYN_LAT; q++)
                v += 0.5 * Fd[j * SYN_LAT + q] * z[q];
            d[i * SYN_CD + j] = (float)v;
        }
        idx[i] = (double)i;
    }
    if (o && o->bad && strcmp(o->bad, "nan") == 0)
        e[5 * SYN_CE + 3] = NAN;
    size_t ne = (o && o->bad && strcmp(o->bad, "shape") == 0) ? n - 1 : n;
    size_t se[2] = {ne, SYN_CE}, sd[2] = {n, SYN_CD}, swe[4] = {SYN_CE, 8, 3, 3};
    size_t swd[4] = {SYN_CD, 24, 3, 3}, si[1] = {n};
    int rc = write_arr(dir, "e2.npy", 2, se, e) | write_arr(dir, "w_e2.npy", 4, swe, we) |
             write_arr(dir, "w_d2.npy", 4, swd, wd);
    if (!(o && o->bad && strcmp(o->bad, "missing") == 0))
        rc |= write_arr(dir, "d2.npy", 2, sd, d);
    char p[600];
    tdi_err err;
    snprintf(p, sizeof p, "%s/index.npy", dir);
    rc |= tdi_npy_write(p, TDI_NPY_F64, 1, si, idx, &err);
    snprintf(p, sizeof p, "%s/manifest.yaml", dir);
    FILE *f = fopen(p, "w");
    if (f) {
        fprintf(f, "format: tdi-activations\nversion: 1\nsplit: %s\nn: %zu\nt: 200\nseed: %lu\n"
                "pool: 1\nfirst: 0\nchannels: 8\ncheckpoint: synthetic\n"
                "checkpoint_hash: 0123456789abcdef\nlayers: {e2: [%zu, %d], d2: [%zu, %d]}\n",
                split, n, seed, n, SYN_CE, n, SYN_CD);
        fclose(f);
    } else {
        rc = 1;
    }
    free(Fe);
    free(Fd);
    free(we);
    free(wd);
    free(e);
    free(d);
    free(idx);
    gsl_rng_free(r);
    return rc;
}

static const char *cfg_base =
    "seed: 3\nname: syn\nout: %s/out\n"
    "export: {dir: %s, t: 200, n_fit: %d, n_test: %d, pool: 1}\n"
    "substrate:\n  mode: %s\n  D: %d\n  k: %d\n  ranks: [1, 2, 3, 4, 8, 64]\n"
    "  epochs: 30\n  batch: 64\n%s"
    "circuit: {anything: 1}\n";

static void write_cfg(const char *path, const char *root, const char *exdir, const char *mode,
                      int D, int k, const char *extra)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    fprintf(f, cfg_base, root, exdir, 600, 400, mode, D, k, extra);
    fclose(f);
}

/* runs the library entry point; returns rc and leaves the message in err */
static int run_cfg(const char *cfgpath, tdi_err *err)
{
    tdi_sub_cfg cfg;
    tdi_err_clear(err);
    int rc = tdi_sub_cfg_load(cfgpath, &cfg, err);
    if (rc)
        return rc;
    FILE *dn = fopen("/dev/null", "w");
    rc = tdi_sub_run(&cfg, dn, err);
    if (dn)
        fclose(dn);
    return rc;
}

static double *load(const char *dir, const char *name, size_t *r, size_t *c)
{
    char p[700];
    double *a = NULL;
    tdi_err err;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    if (tdi_npy_load_f64(p, 0, 0, &a, r, c, &err))
        return NULL;
    return a;
}

static void test_end_to_end(const char *root)
{
    char good[600], cfg[700], sub[700], p[2048];
    snprintf(good, sizeof good, "%s/good", root);
    mkdir(good, 0755);
    snprintf(p, sizeof p, "%s/activations-fit", good);
    int w = write_bundle(p, "train", 600, 1, NULL);
    snprintf(p, sizeof p, "%s/activations-test", good);
    w |= write_bundle(p, "test", 400, 2, NULL);
    tdi_check_int(w, 0, "e2e: synthetic bundles written");
    tdi_err err;
    snprintf(sub, sizeof sub, "%s/out/substrate", root);

    /* paper mode */
    snprintf(cfg, sizeof cfg, "%s/paper.yaml", root);
    write_cfg(cfg, root, good, "paper", 8, 2, "");
    int rc = run_cfg(cfg, &err);
    tdi_check_int(rc, 0, "e2e paper: tdi_sub_run succeeds");
    if (rc)
        printf("# %s\n", err.msg);
    size_t r = 0, c = 0;
    double *M = load(sub, "M.npy", &r, &c);
    tdi_check_int((long long)(r * 1000 + c), 16016, "e2e paper: M.npy is 16 x 16");
    double asym = 0.0;
    for (size_t i = 0; M && i < 16; i++)
        for (size_t j = 0; j < 16; j++)
            asym = fmax(asym, fabs(M[i * 16 + j] - M[j * 16 + i]));
    tdi_check_near(asym, 0.0, 0.0, "e2e paper: M symmetric exactly");
    double *P = load(sub, "P_enc_dec.npy", &r, &c);
    tdi_check_int((long long)(r * 1000 + c), 8002, "e2e paper: P.npy is 8 x 2");
    double *an = load(sub, "analytic.npy", &r, &c), *tru = load(sub, "truth.npy", &r, &c);
    tdi_check_int((long long)(r * 1000 + c), 400008, "e2e paper: truth.npy is 400 x 8");
    double *g = load(sub, "gain.npy", &r, &c);
    tdi_check_near(g ? g[0] : NAN, 1.0, 0.0, "e2e paper: gain is 1");
    snprintf(p, sizeof p, "%s/metrics.json", sub);
    char *mj = tdi_test_slurp(p);
    tdi_check_near(tdi_test_json_num(mj, "D"), 8, 0, "e2e paper: metrics.json (jansson) D");
    TDI_CHECK(tdi_test_json_has(mj, "paper_rows.full_pipeline.stable"),
              "e2e paper: metrics.json (jansson) has paper_rows.full_pipeline");
    free(mj);
    snprintf(p, sizeof p, "%s/manifest.yaml", sub);
    tdi_check_int(access(p, R_OK), 0, "e2e paper: manifest.yaml present");
    /* Jenc.npy must be W^T W / 4 of w_e2.npy reshaped (C_out, C_in*9) and cropped [:D, :D] */
    snprintf(p, sizeof p, "%s/activations-fit/w_e2.npy", good);
    tdi_npy wa;
    double *Je = load(sub, "J_enc.npy", &r, &c);
    if (Je && tdi_npy_read(p, &wa, &err) == 0) {
        const float *wf = wa.data;
        size_t cin9 = wa.shape[1] * 9;
        double emax = 0.0;
        for (size_t i = 0; i < 8; i++)
            for (size_t j = 0; j < 8; j++) {
                double v = 0.0;
                for (size_t q = 0; q < 8; q++)
                    v += (double)wf[q * cin9 + i] * (double)wf[q * cin9 + j];
                emax = fmax(emax, fabs(v / 4.0 - Je[i * 8 + j]));
            }
        /* same 8-term sums in another order: a few eps of entries ~0.1 */
        tdi_check_le(emax, 1e-15, "e2e paper: Jenc = W^T W / 4 of the cropped conv weight");
        tdi_npy_destroy(&wa);
    } else {
        tdi_check_int(0, 1, "e2e paper: Jenc.npy and w_e2.npy readable");
    }
    free(Je);
    free(M);
    free(P);
    free(an);
    free(tru);
    free(g);

    /* couplings from the activations: Jdec = D^T D / (4 n) of the fit split's d2 (first 8) */
    write_cfg(cfg, root, good, "paper", 8, 2, "  couplings: activations\n");
    rc = run_cfg(cfg, &err);
    tdi_check_int(rc, 0, "e2e activations Gram: tdi_sub_run succeeds");
    snprintf(p, sizeof p, "%s/activations-fit", good);
    double *dfit = load(p, "d2.npy", &r, &c), *Jd = load(sub, "J_dec.npy", &r, &c);
    if (dfit && Jd) {
        double emax = 0.0, jmax = 0.0;
        for (size_t i = 0; i < 8; i++)
            for (size_t j = 0; j < 8; j++) {
                double v = 0.0;
                for (size_t q = 0; q < 600; q++)
                    v += dfit[q * SYN_CD + i] * dfit[q * SYN_CD + j];
                emax = fmax(emax, fabs(v / (4.0 * 600.0) - Jd[i * 8 + j]));
                jmax = fmax(jmax, fabs(Jd[i * 8 + j]));
            }
        /* 600-term sums in a different order (BLAS): ~600 eps relative */
        tdi_check_le(emax / jmax, 1e-12, "e2e activations Gram: Jdec = D^T D / (4 n)");
    } else {
        tdi_check_int(0, 1, "e2e activations Gram: arrays readable");
    }
    free(dfit);
    free(Jd);

    /* skip mode at k = 3 = latent rank: substrate == ceiling, centered cos high */
    snprintf(cfg, sizeof cfg, "%s/skip.yaml", root);
    write_cfg(cfg, root, good, "skip", 8, 3, "  pd_margin: 0.1\n  skip_encoder: projected\n");
    rc = run_cfg(cfg, &err);
    tdi_check_int(rc, 0, "e2e skip: tdi_sub_run succeeds");
    if (rc)
        printf("# %s\n", err.msg);
    double *x = load(sub, "x.npy", &r, &c), *be = load(sub, "b_enc.npy", &r, &c);
    double *bd = load(sub, "b_dec.npy", &r, &c), *gg = load(sub, "gain.npy", &r, &c);
    double *Ms = load(sub, "M.npy", &r, &c), *y = load(sub, "analytic.npy", &r, &c);
    double *t2 = load(sub, "truth.npy", &r, &c), *mf = load(sub, "mean_fit.npy", &r, &c);
    if (x && be && bd && gg && Ms && y && t2 && mf) {
        /* the bundle is self-consistent: M [x; y] = [b_enc; b_dec] for the stored y, x* */
        double Lf[256], res = 0.0, nb = 0.0;
        tdi_linalg_chol(Ms, 16, Lf, "M", 0, NULL, &err);
        /* per-sample Cholesky solves of the full 2D-vector, independent of the GEMM path of
         * tdi_sub_equilibrium */
        double *z = malloc(400 * 16 * 8);
        for (size_t i = 0; i < 400; i++) {
            memcpy(z + i * 16, be + i * 8, 8 * 8);
            memcpy(z + i * 16 + 8, bd + i * 8, 8 * 8);
        }
        tdi_linalg_chol_solve_rows(Lf, 16, z, 400);
        for (size_t i = 0; i < 400; i++)
            for (size_t j = 0; j < 8; j++) {
                res = fmax(res, fabs(z[i * 16 + 8 + j] - y[i * 8 + j]));
                nb = fmax(nb, fabs(y[i * 8 + j]));
            }
        /* two exact-solve routes; they differ by cond(M) (<= 1/(0.1 lambda_min(A,B)) ~ 1e2
         * here) times eps: 1e-12 relative */
        tdi_check_le(res / nb, 1e-12, "e2e skip: analytic.npy = decoder of M^-1 [b_enc; b_dec]");
        for (size_t i = 0; i < 400 * 8; i++)
            z[i] = gg[i % 8] * y[i]; /* reuse: the read-out */
        double cc = tdi_metrics_cos_centered(z, t2, mf, 400, 8);
        printf("# e2e skip: centered cosine %.6f, gain %.6g\n", cc, gg[0]);
        /* decoder = linear(latent) + 10% noise: the rank-3 ceiling on 8 of 16 units is ~0.95;
         * 0.8 leaves room for the fit-split estimate of the map */
        tdi_check_le(-cc, -0.8, "e2e skip: centered cosine of the skip substrate > 0.8");
        free(z);
    } else {
        tdi_check_int(0, 1, "e2e skip: bundle arrays readable");
    }
    free(x);
    free(be);
    free(bd);
    free(gg);
    free(Ms);
    free(y);
    free(t2);
    free(mf);

    /* the program itself through system(): exit 0 and its tables */
    snprintf(p, sizeof p, "bin/tdi-fit %s > %s/stdout.txt 2>&1", cfg, root);
    int st = system(p);
    tdi_check_int(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0, "e2e: bin/tdi-fit exits 0");
    char *txt = NULL;
    size_t tl = 0;
    snprintf(p, sizeof p, "%s/stdout.txt", root);
    FILE *f = fopen(p, "r");
    if (f) {
        txt = calloc(1, 65536);
        tl = fread(txt, 1, 65535, f);
        fclose(f);
    }
    (void)tl;
    tdi_check_contains(txt, "2560 weights at D = 64", "e2e: paper parameter count printed");
    tdi_check_contains(txt, "mean baseline", "e2e: mean baseline row printed");
    tdi_check_contains(txt, "0.9906", "e2e: paper's full-pipeline number printed");
    tdi_check_contains(txt, "12.74%", "e2e: paper's rho printed");
    free(txt);
}

typedef struct {
    const char *name, *bad, *mode, *extra, *expect;
    int D, k;
} bad_case;

static void test_bad_inputs(const char *root)
{
    const bad_case cases[] = {
        {"missing array", "missing", "paper", "", "d2.npy", 8, 2},
        {"wrong shape", "shape", "paper", "", "e2.npy", 8, 2},
        {"NaN", "nan", "paper", "", "e2.npy", 8, 2},
        {"D > channels", NULL, "paper", "", "larger than the layer", 32, 2},
        {"k > D", NULL, "paper", "", "exceeds substrate.D", 8, 9},
        {"unknown key", NULL, "paper", "  frobenious: true\n", "frobenious", 8, 2},
        {"bad mode", NULL, "sideways", "", "substrate.mode", 8, 2},
        /* weights 100x smaller: the Frobenius-normalised J_skip (|J_skip|_F = 1/4) dominates
         * A, B ~ 2 J2 I at k = 1, so the paper's M is indefinite */
        {"indefinite M", "smallw", "paper", "", "not positive definite", 8, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const bad_case *b = &cases[i];
        char dir[600], p[2048], cfg[700], nm[160], expect[96];
        snprintf(dir, sizeof dir, "%s/bad%zu", root, i);
        mkdir(dir, 0755);
        syn_opts o = {b->bad};
        snprintf(p, sizeof p, "%s/activations-fit", dir);
        write_bundle(p, "train", 600, 1, &o);
        snprintf(p, sizeof p, "%s/activations-test", dir);
        write_bundle(p, "test", 400, 2, NULL);
        snprintf(cfg, sizeof cfg, "%s/c.yaml", dir);
        write_cfg(cfg, dir, dir, b->mode, b->D, b->k, b->extra);
        tdi_err err;
        int rc = run_cfg(cfg, &err);
        snprintf(nm, sizeof nm, "bad input (%s): error returned", b->name);
        TDI_CHECK(rc < 0, nm);
        snprintf(nm, sizeof nm, "bad input (%s): message", b->name);
        snprintf(expect, sizeof expect, "%s", b->expect);
        tdi_check_contains(err.msg, expect, nm);
        snprintf(p, sizeof p, "bin/tdi-fit %s >/dev/null 2>&1", cfg);
        int st = system(p);
        snprintf(nm, sizeof nm, "bad input (%s): bin/tdi-fit exits 1", b->name);
        tdi_check_int(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 1, nm);
        snprintf(p, sizeof p, "%s/out", dir);
        snprintf(nm, sizeof nm, "bad input (%s): no output directory", b->name);
        TDI_CHECK(!dir_exists(p), nm);
    }
}


/* Activation manifests that state something false or unexpected: tdi_sub_act_read refuses each
 * with the manifest's file[:line:col] and the reason; the unmodified manifest is read. */
typedef struct man_case {
    const char *name, *body, *expect;
} man_case;

#define MAN_HEAD "format: tdi-activations\nversion: 1\nsplit: test\nn: 400\nt: 200\n"
#define MAN_LAYERS "layers: {e2: [400, 16], d2: [400, 16]}\n"

static void test_bad_manifests(const char *root)
{
    const man_case cases[] = {
        {"as written", MAN_HEAD "pool: 1\nchannels: 8\n" MAN_LAYERS, NULL},
        {"duplicate key", MAN_HEAD "n: 400\n" MAN_LAYERS, "manifest.yaml:6:1: duplicate key 'n'"},
        {"unknown key", MAN_HEAD "colour: blue\n" MAN_LAYERS, "manifest.yaml:6:1"},
        {"unknown layer", MAN_HEAD "layers: {e2: [400, 16], d2: [400, 16], e9: [400, 4]}\n",
         "layers.e9"},
        {"duplicate layer", MAN_HEAD "layers: {e2: [400, 16], d2: [400, 16], e2: [400, 16]}\n",
         "duplicate key 'layers.e2'"},
        {"columns differ from the array", MAN_HEAD "layers: {e2: [400, 32], d2: [400, 16]}\n",
         "manifest.yaml:6:10: layers.e2 = [400, 32], but e2.npy holds [400, 16]"},
        {"rows differ from n", MAN_HEAD "layers: {e2: [400, 16], d2: [399, 16]}\n",
         "manifest.yaml:6:25: layers.d2 = [399, 16] has 399 rows, but n = 400"},
        {"layer read but not listed", MAN_HEAD "layers: {d2: [400, 16]}\n",
         "layers has no entry for 'e2', which is read (e2.npy holds [400, 16])"},
        {"no layers at all", MAN_HEAD, "layers has no entry for 'e2'"},
        {"one-element shape", MAN_HEAD "layers: {e2: [400], d2: [400, 16]}\n",
         "layers.e2 has 1 elements, expected two"},
        {"three-element shape", MAN_HEAD "layers: {e2: [400, 16, 1], d2: [400, 16]}\n",
         "layers.e2"},
        {"channels against e1", MAN_HEAD "pool: 1\nchannels: 4\n"
         "layers: {e1: [400, 8], e2: [400, 16], d2: [400, 16]}\n",
         "layers.e1 = [400, 8] is 8 channels at pool 1, but the manifest says channels: 4"},
        {"columns not a multiple of pool^2", MAN_HEAD "pool: 3\n" MAN_LAYERS,
         "16 columns is not a multiple of pool^2 = 9"},
    };
    char dir[600], p[700];
    snprintf(dir, sizeof dir, "%s/manifests", root);
    write_bundle(dir, "test", 400, 2, NULL);
    snprintf(p, sizeof p, "%s/manifest.yaml", dir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const man_case *c = &cases[i];
        FILE *f = fopen(p, "w");
        if (f) {
            fputs(c->body, f);
            fclose(f);
        }
        tdi_sub_act a;
        tdi_err err;
        tdi_err_clear(&err);
        int rc = tdi_sub_act_read(dir, "test", 400, 200, -1, "e2", "d2", 8, 1, &a, &err);
        char nm[160];
        if (!c->expect) {
            snprintf(nm, sizeof nm, "manifest (%s): read", c->name);
            if (!TDI_CHECK(rc == 0, nm))
                printf("    %s\n", err.msg);
            tdi_sub_act_destroy(&a);
            continue;
        }
        snprintf(nm, sizeof nm, "manifest (%s): refused", c->name);
        TDI_CHECK(rc < 0, nm);
        snprintf(nm, sizeof nm, "manifest (%s): message", c->name);
        tdi_check_contains(err.msg, c->expect, nm);
    }
}

/* the same small weights in skip mode: the run succeeds and the paper sweep marks k = 1 */
static void test_unstable_sweep(const char *root)
{
    char dir[600], p[2048], cfg[700];
    snprintf(dir, sizeof dir, "%s/unstable", root);
    mkdir(dir, 0755);
    syn_opts o = {"smallw"};
    snprintf(p, sizeof p, "%s/activations-fit", dir);
    write_bundle(p, "train", 600, 1, &o);
    snprintf(p, sizeof p, "%s/activations-test", dir);
    write_bundle(p, "test", 400, 2, NULL);
    snprintf(cfg, sizeof cfg, "%s/c.yaml", dir);
    write_cfg(cfg, dir, dir, "skip", 8, 2, "");
    snprintf(p, sizeof p, "bin/tdi-fit %s > %s/stdout.txt 2>&1", cfg, dir);
    int st = system(p);
    tdi_check_int(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0, "unstable sweep: tdi-fit exits 0");
    snprintf(p, sizeof p, "%s/stdout.txt", dir);
    char *txt = calloc(1, 65536);
    FILE *f = fopen(p, "r");
    if (f) {
        if (fread(txt, 1, 65535, f) == 0)
            txt[0] = 0;
        fclose(f);
    }
    tdi_check_contains(txt, "\n     1   unstable", "unstable sweep: k = 1 marked unstable");
    tdi_check_contains(txt, "unstable: M not positive definite", "unstable sweep: paper rows "
                       "marked unstable");
    free(txt);
}

/* the shipped presets load (other components' sections are skipped) with the values */
static void test_presets(void)
{
    tdi_sub_cfg c;
    tdi_err err;
    int rc = tdi_sub_cfg_load("configs/paper.yaml", &c, &err);
    tdi_check_int(rc, 0, "preset paper: loads");
    if (rc)
        printf("# %s\n", err.msg);
    tdi_check_int(c.D * 1000 + c.k, 64016, "preset paper: D = 64, k = 16");
    tdi_check_near(c.J2, 0.1, 0.0, "preset paper: J2 = 0.1");
    tdi_check_int(c.t, 200, "preset paper: t = 200");
    TDI_CHECK(strcmp(c.enc, "e2") == 0 && strcmp(c.dec, "d2") == 0, "preset paper: pair e2/d2");
    rc = tdi_sub_cfg_load("configs/paper-e1.yaml", &c, &err);
    tdi_check_int(rc, 0, "preset paper-e1: loads");
    TDI_CHECK(rc == 0 && c.D == 32 && strcmp(c.enc, "e1") == 0 && strcmp(c.dec, "d1") == 0,
              "preset paper-e1: pair e1/d1, D = 32");
    rc = tdi_sub_cfg_load("configs/skip.yaml", &c, &err);
    tdi_check_int(rc, 0, "preset skip: loads");
    TDI_CHECK(rc == 0 && strcmp(c.mode, "skip") == 0 && c.k == 4, "preset skip: mode skip, k = 4");
}

int main(void)
{
    gsl_set_error_handler_off();
    rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 20261126);
    test_presets();
    test_cholesky();
    test_paper_skip_and_pd();
    test_params();
    test_metrics();
    test_rrr();
    test_skip_fit();
    test_mlp_grad();
    char root[] = "/tmp/tdi_test_substrate.XXXXXX";
    if (!mkdtemp(root)) {
        tdi_check_int(0, 1, "mkdtemp");
    } else {
        test_end_to_end(root);
        test_bad_inputs(root);
        test_bad_manifests(root);
        test_unstable_sweep(root);
        char cmd[200];
        snprintf(cmd, sizeof cmd, "rm -rf %s", root);
        if (system(cmd) != 0)
            printf("# could not remove %s\n", root);
    }
    gsl_rng_free(rng);
    TDI_TEST_END();
}
