/* tdi_sub_skip: the substrate-skip mode. A reduced-rank regression gives the best rank-k linear
 * map L of the decoder d on the encoder x; the skip coupling J = P Q^T is then chosen so that
 * the exact equilibrium with b = [A x; c] reproduces that map:
 *   y* = S^-1 (c - J^T x),  S = B - J^T A^-1 J   (Schur complement).
 * With J = A^1/2 K B^1/2:  -S^-1 J^T = -B^-1/2 (I - K^T K)^-1 K^T A^1/2 and, writing
 * B^1/2 L A^-1/2 / g = U diag(t) V^T, K = -V diag(s) U^T with s / (1 - s^2) = t solves it
 * exactly; M is positive definite iff |K|_2 < 1, and lambda_min([[I, K], [K^T, I]]) = 1 - s_max,
 * so the margin caps s_max at 1 - pd_margin. A uniform read-out gain g >= 1 keeps the map
 * exact when the margin binds (else the capped directions are clipped).
 * Non-goals: nonlinear predictors; any coupling other than the rank-k block. */
#include "tdi_sub.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void tdi_sub_rrr_destroy(tdi_sub_rrr *r)
{
    if (!r)
        return;
    free(r->mx);
    free(r->my);
    free(r->C);
    free(r->V);
    free(r->ev);
    memset(r, 0, sizeof *r);
}

int tdi_sub_rrr_fit(const double *X, const double *Y, size_t n, size_t dx, size_t dy,
                    double ridge, tdi_sub_rrr *r, tdi_err *err)
{
    memset(r, 0, sizeof *r);
    if (n < 2)
        return tdi_err_set(err, TDI_EARG, "regression needs at least 2 samples (got %zu)", n);
    r->dx = dx;
    r->dy = dy;
    r->mx = calloc(dx, sizeof *r->mx);
    r->my = calloc(dy, sizeof *r->my);
    r->C = malloc(dy * dx * sizeof *r->C);
    r->V = malloc(dy * dy * sizeof *r->V);
    r->ev = malloc(dy * sizeof *r->ev);
    double *Xc = malloc(n * dx * sizeof *Xc), *Yc = malloc(n * dy * sizeof *Yc);
    double *Cxx = malloc(dx * dx * sizeof *Cxx), *Lx = malloc(dx * dx * sizeof *Lx);
    double *T = malloc(dy * dx * sizeof *T), *Sf = malloc(dy * dy * sizeof *Sf);
    int rc = 0;
    if (!r->mx || !r->my || !r->C || !r->V || !r->ev || !Xc || !Yc || !Cxx || !Lx || !T ||
        !Sf) {
        rc = tdi_err_set(err, TDI_ENOMEM, "regression: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < dx; j++)
            r->mx[j] += X[i * dx + j];
        for (size_t j = 0; j < dy; j++)
            r->my[j] += Y[i * dy + j];
    }
    for (size_t j = 0; j < dx; j++)
        r->mx[j] /= (double)n;
    for (size_t j = 0; j < dy; j++)
        r->my[j] /= (double)n;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < dx; j++)
            Xc[i * dx + j] = X[i * dx + j] - r->mx[j];
        for (size_t j = 0; j < dy; j++)
            Yc[i * dy + j] = Y[i * dy + j] - r->my[j];
    }
    tdi_sub_gemm(1, 0, dx, dx, n, 1.0 / (double)n, Xc, Xc, 0.0, Cxx);
    tdi_sub_gemm(1, 0, dy, dx, n, 1.0 / (double)n, Yc, Xc, 0.0, r->C); /* Cyx */
    double tr = 0.0;
    for (size_t j = 0; j < dx; j++)
        tr += Cxx[j * dx + j];
    double lam = ridge * tr / (double)dx;
    double *Creg = malloc(dx * dx * sizeof *Creg);
    if (!Creg) {
        rc = tdi_err_set(err, TDI_ENOMEM, "regression: out of memory");
        goto done;
    }
    memcpy(Creg, Cxx, dx * dx * sizeof *Creg);
    for (size_t j = 0; j < dx; j++)
        Creg[j * dx + j] += lam;
    rc = tdi_linalg_chol(Creg, dx, Lx, "encoder covariance (raise substrate.ridge)", 0, NULL, err);
    free(Creg);
    if (rc)
        goto done;
    tdi_linalg_chol_solve_rows(Lx, dx, r->C, dy); /* C = Cyx (Cxx + lam I)^-1 */
    /* covariance of the fitted values C X: C Cxx C^T */
    tdi_sub_gemm(0, 0, dy, dx, dx, 1.0, r->C, Cxx, 0.0, T);
    tdi_sub_gemm(0, 1, dy, dy, dx, 1.0, T, r->C, 0.0, Sf);
    rc = tdi_linalg_eig_sym(Sf, dy, r->ev, r->V, err);
done:
    free(Xc);
    free(Yc);
    free(Cxx);
    free(Lx);
    free(T);
    free(Sf);
    if (rc)
        tdi_sub_rrr_destroy(r);
    return rc;
}

void tdi_sub_rrr_map(const tdi_sub_rrr *r, size_t k, double *L)
{
    size_t dy = r->dy, dx = r->dx;
    if (k >= dy) {
        memcpy(L, r->C, dy * dx * sizeof *L);
        return;
    }
    /* L = Vk (Vk^T C) */
    double *T = malloc(k * dx * sizeof *T);
    double *Vk = malloc(dy * k * sizeof *Vk);
    if (!T || !Vk) { /* tiny buffers; fall back to a slow triple loop */
        for (size_t i = 0; i < dy; i++)
            for (size_t j = 0; j < dx; j++) {
                double s = 0.0;
                for (size_t q = 0; q < k; q++) {
                    double t = 0.0;
                    for (size_t l = 0; l < dy; l++)
                        t += r->V[l * dy + q] * r->C[l * dx + j];
                    s += r->V[i * dy + q] * t;
                }
                L[i * dx + j] = s;
            }
        free(T);
        free(Vk);
        return;
    }
    for (size_t i = 0; i < dy; i++)
        for (size_t q = 0; q < k; q++)
            Vk[i * k + q] = r->V[i * dy + q];
    tdi_sub_gemm(1, 0, k, dx, dy, 1.0, Vk, r->C, 0.0, T);
    tdi_sub_gemm(0, 0, dy, dx, k, 1.0, Vk, T, 0.0, L);
    free(T);
    free(Vk);
}

int tdi_sub_skip_fit(const double *A, const double *B, size_t D, const double *L, size_t k,
                     const double *mx, const double *my, double pd_margin, int allow_gain,
                     double *P, double *Q, double *c, tdi_sub_skipfit *info, tdi_err *err)
{
    if (k == 0 || k > D)
        return tdi_err_set(err, TDI_EARG, "skip rank k = %zu must lie in [1, D = %zu]", k, D);
    if (!(pd_margin > 0.0 && pd_margin < 1.0))
        return tdi_err_set(err, TDI_EARG, "pd_margin = %g must lie in (0, 1)", pd_margin);
    size_t dd = D * D;
    double *Ah = malloc(dd * sizeof *Ah), *Aih = malloc(dd * sizeof *Aih);
    double *Bh = malloc(dd * sizeof *Bh), *N = malloc(dd * sizeof *N);
    double *T = malloc(dd * sizeof *T), *U = malloc(dd * sizeof *U);
    double *V = malloc(dd * sizeof *V), *t = malloc(D * sizeof *t);
    double *F = malloc(D * k * sizeof *F), *J = malloc(dd * sizeof *J);
    double *S = malloc(dd * sizeof *S), *Lf = malloc(dd * sizeof *Lf);
    double *v = malloc(D * sizeof *v);
    int rc = 0;
    if (!Ah || !Aih || !Bh || !N || !T || !U || !V || !t || !F || !J || !S || !Lf || !v) {
        rc = tdi_err_set(err, TDI_ENOMEM, "skip fit: out of memory");
        goto done;
    }
    if ((rc = tdi_sub_sym_pow(A, D, 0.5, Ah, err)) ||
        (rc = tdi_sub_sym_pow(A, D, -0.5, Aih, err)) ||
        (rc = tdi_sub_sym_pow(B, D, 0.5, Bh, err))) {
        tdi_err_prefix(err, "skip fit");
        goto done;
    }
    /* N = B^1/2 L A^-1/2 = U diag(t) V^T */
    tdi_sub_gemm(0, 0, D, D, D, 1.0, Bh, L, 0.0, T);
    tdi_sub_gemm(0, 0, D, D, D, 1.0, T, Aih, 0.0, N);
    if ((rc = tdi_sub_svd(N, D, U, t, V, err)))
        goto done;
    double smax = 1.0 - pd_margin;
    double tmax = smax / (1.0 - smax * smax);
    double g = 1.0;
    int clipped = 0;
    if (t[0] > tmax) {
        if (allow_gain)
            g = t[0] / tmax;
        else
            for (size_t i = 0; i < k; i++)
                clipped += t[i] > tmax;
    }
    double s1 = 0.0;
    for (size_t i = 0; i < k; i++) {
        double tau = t[i] / g;
        if (tau > tmax)
            tau = tmax;
        double s = tau > 0.0 ? (sqrt(1.0 + 4.0 * tau * tau) - 1.0) / (2.0 * tau) : 0.0;
        if (s > smax) /* rounding at the cap */
            s = smax;
        if (s > s1)
            s1 = s;
        t[i] = sqrt(s);
    }
    /* P = -A^1/2 V_k diag(sqrt s), Q = B^1/2 U_k diag(sqrt s) */
    for (size_t i = 0; i < D; i++)
        for (size_t q = 0; q < k; q++)
            F[i * k + q] = V[i * D + q] * t[q];
    tdi_sub_gemm(0, 0, D, k, D, -1.0, Ah, F, 0.0, P);
    for (size_t i = 0; i < D; i++)
        for (size_t q = 0; q < k; q++)
            F[i * k + q] = U[i * D + q] * t[q];
    tdi_sub_gemm(0, 0, D, k, D, 1.0, Bh, F, 0.0, Q);
    /* c = S (my / g - Leff mx) with Leff = -S^-1 J^T, i.e. c = S my / g + J^T mx */
    tdi_sub_gemm(0, 1, D, D, k, 1.0, P, Q, 0.0, J);
    memcpy(Lf, A, dd * sizeof *Lf);
    if ((rc = tdi_linalg_chol(A, D, Lf, "A", 0, NULL, err)))
        goto done;
    memcpy(T, J, dd * sizeof *T);
    /* rows of J^T are columns of J: solve A^-1 J column-wise = (J^T A^-1)^T; T := J^T A^-1 */
    for (size_t i = 0; i < D; i++)
        for (size_t j = 0; j < D; j++)
            T[i * D + j] = J[j * D + i];
    tdi_linalg_chol_solve_rows(Lf, D, T, D); /* T = J^T A^-1 */
    tdi_sub_gemm(0, 0, D, D, D, -1.0, T, J, 0.0, S);
    for (size_t i = 0; i < dd; i++)
        S[i] += B[i];
    for (size_t i = 0; i < D; i++) {
        double s = 0.0;
        for (size_t j = 0; j < D; j++)
            s += S[i * D + j] * my[j] / g + J[j * D + i] * mx[j];
        v[i] = s;
    }
    memcpy(c, v, D * sizeof *c);
    if (info) {
        info->gain = g;
        info->clipped = clipped;
        info->sigma_max = s1;
        info->t_max = tmax;
    }
done:
    free(Ah);
    free(Aih);
    free(Bh);
    free(N);
    free(T);
    free(U);
    free(V);
    free(t);
    free(F);
    free(J);
    free(S);
    free(Lf);
    free(v);
    return rc;
}
