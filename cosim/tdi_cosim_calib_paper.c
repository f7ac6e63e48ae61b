/* tdi_cosim_calib_paper: the paper mode's interface (2,560 weights: enc 4 + transfer 16,
 * tdi_cosim_paper_interface) refitted to a chip's measured map (docs/nonideal.md "The paper
 * mode's interface"). Closed form, same layers and weight count: the encoder's output layer so
 * the chip's encoder path gives the design's, the transfer's input layer so its hidden features
 * stay the design's, its output layer through the chip's decoder block. Non-goals: probing
 * (tdi_cosim_calib.c), gradient training of the hidden layers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_cosim_job.h"

/* B (D, 5) = [ew2 | eb2]: b_enc = B [h4; 1] */
static void enc_block(const double *w2, const double *b2, size_t D, double *B)
{
    for (size_t i = 0; i < D; i++) {
        for (size_t c = 0; c < 4; c++)
            B[i * 5 + c] = w2[i * 4 + c];
        B[i * 5 + 4] = b2[i];
    }
}

/* C (r, c) = A (r, m) B (m, c) */
static void mul(const double *A, const double *B, size_t r, size_t m, size_t c, double *C)
{
    for (size_t i = 0; i < r; i++)
        for (size_t q = 0; q < c; q++) {
            double s = 0;
            for (size_t t = 0; t < m; t++)
                s += A[i * m + t] * B[t * c + q];
            C[i * c + q] = s;
        }
}

/* The transfer's input layer W1' (16, D) with W1' Bn = W1 Bo (its hidden features unchanged for
 * every h4), the smallest change: W1' = W1 + W1 (Bo - Bn) (Bn^T Bn)^-1 Bn^T */
static int transfer_in(const double *W1, const double *Bo, const double *Bn, size_t D,
                       double *W1n, tdi_err *err)
{
    double G[25], R[16 * 5], dB[5], S[16 * 5], x[5];
    for (size_t a = 0; a < 5; a++)
        for (size_t b = 0; b < 5; b++) {
            G[a * 5 + b] = 0;
            for (size_t i = 0; i < D; i++)
                G[a * 5 + b] += Bn[i * 5 + a] * Bn[i * 5 + b];
        }
    for (size_t r = 0; r < 16; r++)
        for (size_t c = 0; c < 5; c++) {
            R[r * 5 + c] = 0;
            for (size_t i = 0; i < D; i++)
                R[r * 5 + c] += W1[r * D + i] * (Bo[i * 5 + c] - Bn[i * 5 + c]);
        }
    for (size_t r = 0; r < 16; r++) { /* S = R G^-1 (G symmetric) */
        memcpy(dB, R + r * 5, sizeof dB);
        int rc = tdi_cosim_calib_solve(G, dB, 5, x, err);
        if (rc)
            return rc;
        memcpy(S + r * 5, x, sizeof x);
    }
    for (size_t r = 0; r < 16; r++)
        for (size_t i = 0; i < D; i++) {
            double v = W1[r * D + i];
            for (size_t c = 0; c < 5; c++)
                v += S[r * 5 + c] * Bn[i * 5 + c];
            W1n[r * D + i] = v;
        }
    return 0;
}

/* the transfer's output layer: [tw2' | tb2'] = Hd^-1 (Hdes_d [tw2 | tb2] + [0 | r0]), r0 the
 * constant the encoder path leaves (Hdes_e eb2 - He eb2') minus the chip's offset y0 */
static int transfer_out(const double *Hd, const double *Hdd, const double *w2, const double *b2,
                        const double *r0, size_t D, double *w2n, double *b2n, tdi_err *err)
{
    double *t = malloc(2 * D * sizeof *t);
    if (!t)
        return tdi_err_set(err, TDI_ENOMEM, "calibration: out of memory");
    int rc = 0;
    for (size_t c = 0; c < 17 && !rc; c++) {
        for (size_t i = 0; i < D; i++) {
            double s = c == 16 ? r0[i] : 0.0;
            for (size_t q = 0; q < D; q++)
                s += Hdd[i * D + q] * (c < 16 ? w2[q * 16 + c] : b2[q]);
            t[i] = s;
        }
        if (!(rc = tdi_cosim_calib_solve(Hd, t, D, t + D, err)))
            for (size_t i = 0; i < D; i++)
                *(c < 16 ? &w2n[i * 16 + c] : &b2n[i]) = t[D + i];
    }
    free(t);
    return rc;
}

int tdi_cosim_calib_paper(const tdi_cosim_job *j, const double *He, const double *Hd,
                          const double *y0, const double *Hde, const double *Hdd, double ridge,
                          double *const w[8], double *rel, tdi_err *err)
{
    size_t D = j->D;
    double *Bo = malloc(D * 5 * sizeof *Bo), *Bn = malloc(D * 5 * sizeof *Bn);
    double *T = malloc(D * 5 * sizeof *T), *dl = malloc(D * 5 * sizeof *dl);
    double *r0 = malloc(D * sizeof *r0);
    int rc = !Bo || !Bn || !T || !dl || !r0 ? tdi_err_set(err, TDI_ENOMEM, "calibration: out "
                                                           "of memory") : 0;
    if (!rc) { /* the unchanged layers, then B' = B + argmin |He (B + dl) - Hde B| + ridge */
        memcpy(w[0], j->ew1, 4 * D * sizeof(double));
        memcpy(w[1], j->eb1, 4 * sizeof(double));
        memcpy(w[5], j->tb1, 16 * sizeof(double));
        enc_block(j->ew2, j->eb2, D, Bo);
        mul(Hde, Bo, D, D, 5, T);
        rc = tdi_cosim_calib_encoder(He, Bo, T, D, 5, ridge, dl, err);
    }
    double n = 0, d = 0;
    for (size_t q = 0; q < D * 5 && !rc; q++) {
        Bn[q] = Bo[q] + dl[q];
        n += dl[q] * dl[q];
        d += Bo[q] * Bo[q];
    }
    for (size_t i = 0; i < D && !rc; i++) {
        for (size_t c = 0; c < 4; c++)
            w[2][i * 4 + c] = Bn[i * 5 + c];
        w[3][i] = Bn[i * 5 + 4];
        r0[i] = T[i * 5 + 4] - y0[i];
        for (size_t q = 0; q < D; q++)
            r0[i] -= He[i * D + q] * Bn[q * 5 + 4];
    }
    *rel = d > 0 ? sqrt(n / d) : 0;
    if (!rc)
        rc = transfer_in(j->tw1, Bo, Bn, D, w[4], err);
    if (!rc)
        rc = transfer_out(Hd, Hdd, j->tw2, j->tb2, r0, D, w[6], w[7], err);
    free(Bo), free(Bn), free(T), free(dl), free(r0);
    return rc;
}
