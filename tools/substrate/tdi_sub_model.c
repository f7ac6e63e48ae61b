/* tdi_sub_model: the paper's energy model (docs/paper.md, "What the released code computes"):
 * Gram couplings J, diagonal blocks A = 2 J2 I + J + J^T, the rank-k skip coupling of
 * "Definition 1" as two D x k factors, the block matrix M and its exact equilibrium.
 * Invariants: M is assembled symmetric; the equilibrium uses a Cholesky factor (never an inverse).
 * Non-goals: fitting the skip coupling to data (tdi_sub_skip.c), dynamics. */
#include "tdi_sub.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void tdi_sub_gram_weights(const double *W, size_t D, double kT, double *J)
{
    tdi_sub_gemm(1, 0, D, D, D, 1.0 / (4.0 * kT), W, W, 0.0, J);
}

void tdi_sub_gram_acts(const double *X, size_t n, size_t D, double kT, double *J)
{
    tdi_sub_gemm(1, 0, D, D, n, 1.0 / ((double)n * 4.0 * kT), X, X, 0.0, J);
}

void tdi_sub_diag_block(const double *J, size_t D, double J2, double *A)
{
    for (size_t i = 0; i < D; i++)
        for (size_t j = 0; j < D; j++)
            A[i * D + j] = J[i * D + j] + J[j * D + i] + (i == j ? 2.0 * J2 : 0.0);
}

int tdi_sub_paper_skip(const double *Jenc, const double *Jdec, size_t D, size_t k, double kT,
                       int frobenius, double *P, double *Q, tdi_err *err)
{
    if (k == 0 || k > D)
        return tdi_err_set(err, TDI_EARG, "skip rank k = %zu must lie in [1, D = %zu]", k, D);
    double *U = malloc(D * D * sizeof *U);
    double *V = malloc(D * D * sizeof *V);
    double *s = malloc(D * sizeof *s);
    double *J = malloc(D * D * sizeof *J);
    int rc = 0;
    if (!U || !V || !s || !J) {
        rc = tdi_err_set(err, TDI_ENOMEM, "paper skip coupling: out of memory");
        goto done;
    }
    for (int side = 0; side < 2; side++) {
        rc = tdi_sub_svd(side ? Jdec : Jenc, D, U, s, V, err);
        if (rc) {
            tdi_err_prefix(err, "SVD of %s", side ? "Jdec" : "Jenc");
            goto done;
        }
        double *F = side ? Q : P;
        for (size_t i = 0; i < D; i++)
            for (size_t j = 0; j < k; j++)
                F[i * k + j] = U[i * D + j] * sqrt(s[j]);
    }
    if (frobenius) {
        tdi_sub_gemm(0, 1, D, D, k, 1.0, P, Q, 0.0, J);
        double f = 0.0;
        for (size_t i = 0; i < D * D; i++)
            f += J[i] * J[i];
        f = sqrt(f);
        if (!(f > 0.0)) {
            rc = tdi_err_set(err, TDI_ENUM, "paper skip coupling: J_skip is zero (Gram "
                             "matrices without rank); cannot normalise");
            goto done;
        }
        double sc = sqrt(1.0 / (4.0 * kT) / f);
        for (size_t i = 0; i < D * k; i++) {
            P[i] *= sc;
            Q[i] *= sc;
        }
    }
done:
    free(U);
    free(V);
    free(s);
    free(J);
    return rc;
}

void tdi_sub_assemble(const double *A, const double *B, const double *P, const double *Q,
                      size_t D, size_t k, double *M)
{
    size_t n = 2 * D;
    memset(M, 0, n * n * sizeof *M);
    for (size_t i = 0; i < D; i++)
        for (size_t j = 0; j < D; j++) {
            M[i * n + j] = A[i * D + j];
            M[(D + i) * n + D + j] = B[i * D + j];
            double s = 0.0;
            if (P && Q)
                for (size_t r = 0; r < k; r++)
                    s += P[i * k + r] * Q[j * k + r];
            M[i * n + D + j] = s;
            M[(D + j) * n + i] = s;
        }
}

int tdi_sub_equilibrium(const double *Lfac, size_t D, const double *benc, const double *bdec,
                        size_t n, double *y, tdi_err *err)
{
    /* The decoder rows G = [G_x G_y] (D x 2D) of M^-1 come from D Cholesky solves against unit
     * rows; then y_i = G_x b_enc,i + G_y b_dec,i for all samples as two GEMMs (4x fewer flops
     * than solving every sample's 2D-vector; same result to cond(M) * eps). */
    size_t m = 2 * D;
    double *G = calloc(D * m, sizeof *G);
    double *Gx = malloc(D * D * sizeof *Gx), *Gy = malloc(D * D * sizeof *Gy);
    if (!G || !Gx || !Gy) {
        free(G);
        free(Gx);
        free(Gy);
        return tdi_err_set(err, TDI_ENOMEM, "equilibrium: out of memory");
    }
    for (size_t i = 0; i < D; i++)
        G[i * m + D + i] = 1.0;
    tdi_linalg_chol_solve_rows(Lfac, m, G, D);
    for (size_t i = 0; i < D; i++) {
        memcpy(Gx + i * D, G + i * m, D * sizeof *Gx);
        memcpy(Gy + i * D, G + i * m + D, D * sizeof *Gy);
    }
    tdi_sub_gemm(0, 1, n, D, D, 1.0, benc, Gx, 0.0, y);
    if (bdec)
        tdi_sub_gemm(0, 1, n, D, D, 1.0, bdec, Gy, 1.0, y);
    free(G);
    free(Gx);
    free(Gy);
    return 0;
}
