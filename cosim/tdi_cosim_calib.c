/* tdi_cosim_calib: a chip calibrated as a test bench does it (docs/nonideal.md "Calibration"):
 * probes through the chip's DAC, its equilibrium read through its ADC with the read-out noise
 * (tdi_seed(seed, TDI_SEED_CALIB, chip)); probe: the affine map fitted, the skip mode's encoder,
 * static bias and output correction after the ADC (or gains) retrained, the paper mode's
 * interface refitted (tdi_cosim_calib_paper.c); loop: Gauss-Newton rounds on measured outputs.
 * Non-goals: the paper mode in the loop, the read-out stage (refused). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_clock.h"
#include "tdi_cosim_job.h"

/* The design's map and the skip digital side the calibration retrains. */
typedef struct calib_ctx {
    size_t D, N, k;
    uint64_t key;      /* tdi_seed(seed, TDI_SEED_CALIB, chip + 2^32 draw) */
    double *mem;       /* one block for the arrays below */
    double *Hdes;      /* (D, N) V per simulation unit: the design circuit, DAC to decoder */
    double *He, *Hd;   /* (D, D) each: Hdes's encoder and decoder columns */
    double *W1, *W2;   /* (k, D), (D, k): b_enc = W2 W1 x on the design's column space */
    double *F;         /* (D, k): Hdes_enc W2, the design's code-to-output map */
    double *Delta;     /* (D, k): the encoder's correction */
    double *c;         /* (D): the calibrated static bias (starts at the bundle's) */
    double *g;         /* (D): the read-out gains' calibration factors (start at 1) */
    double *yd0;       /* (D) V: the design's output at zero encoder drive, Hd c */
    int out;           /* output correction: 0 none, 1 affine, 2 full */
    double *U, *Vt;    /* (D, k), (k, D): full: y -> y + U (Vt y) + d */
    double *a, *d;     /* (D) each: affine: y -> a y + d; full: d only */
    double *ctr;       /* (N): the probes' centre (skip: (0, c); paper: the job's mean bias) */
    double *pw[8];     /* paper mode: the refitted interface (tdi_cosim_paper_interface's w) */
    double paper_rel;  /* paper mode: |B' - B|_F / |B|_F of the encoder's output layer */
} calib_ctx;

static int calib_check(const tdi_cosim_job *j, tdi_err *err)
{
    int loop = strcmp(j->cfg.calibrate, "loop") == 0;
    const char *why = !j->skip && loop ? "substrate.mode skip (the paper mode's interface is "
                                         "calibrated by probe only)"
                      : j->L != 1   ? "one U-Net level"
                      : j->ph->ro   ? "no analog read-out stage (circuit.readout_stage)"
                      : j->ph->mos  ? "ideal devices (circuit.devices: ideal)"
                      : j->b.sub.n_cpl != 1 || j->b.sub.cpl[0].k > 64 ? "one coupling of rank <= 64"
                                            : NULL;
    if (why)
        return tdi_err_set(err, TDI_ECONFIG, "%s: cosim.calibrate: %s needs %s", j->cfg.path,
                           j->cfg.calibrate, why);
    return 0;
}

static int ctx_init(const tdi_cosim_job *j, calib_ctx *cx, tdi_err *err)
{
    size_t D = j->D, N = j->N, k = j->b.sub.cpl[0].k;
    memset(cx, 0, sizeof *cx);
    cx->D = D, cx->N = N, cx->k = k;
    uint64_t idx = (uint64_t)j->gcfg.chip + ((uint64_t)j->cfg.calib_draw << 32);
    cx->key = tdi_seed((uint64_t)j->cfg.seed, TDI_SEED_CALIB, idx);
    cx->out = strcmp(j->cfg.calib_output, "full") == 0     ? 2
              : strcmp(j->cfg.calib_output, "affine") == 0 ? 1
                                                           : 0;
    if (!j->skip) /* the paper mode's interface takes no output correction */
        cx->out = 0;
    size_t nw = j->skip ? 0 : 4 * D + 4 + 4 * D + D + 16 * D + 16 + 16 * D + D;
    if (!(cx->mem = calloc(D * N + 2 * D * D + 6 * D * k + 5 * D + N + nw, sizeof(double))))
        return tdi_err_set(err, TDI_ENOMEM, "calibration: out of memory");
    cx->Hdes = cx->mem;
    cx->He = cx->Hdes + D * N;
    cx->Hd = cx->He + D * D;
    cx->W1 = cx->Hd + D * D;
    cx->W2 = cx->W1 + k * D;
    cx->F = cx->W2 + D * k;
    cx->Delta = cx->F + D * k;
    cx->c = cx->Delta + D * k;
    cx->g = cx->c + D;
    cx->yd0 = cx->g + D;
    cx->U = cx->yd0 + D;
    cx->Vt = cx->U + D * k;
    cx->a = cx->Vt + k * D;
    cx->d = cx->a + D;
    cx->ctr = cx->d + D;
    const size_t wn[8] = {4 * D, 4, 4 * D, D, 16 * D, 16, 16 * D, D};
    cx->pw[0] = cx->ctr + N;
    for (int q = 1; q < 8 && !j->skip; q++)
        cx->pw[q] = cx->pw[q - 1] + wn[q - 1];
    for (size_t i = 0; i < D; i++)
        cx->g[i] = cx->a[i] = 1.0;
    /* the design: v = (gu M)^-1 gu Vs b = Vs M^-1 b on the decoder's rows */
    int rc = tdi_cosim_calib_inverse_rows(j->gc->M, N, j->o, D, j->ph->Vs, cx->Hdes, err);
    if (rc)
        return tdi_err_prefix(err, "calibration: the design's M");
    for (size_t i = 0; i < D; i++)
        for (size_t q = 0; q < D; q++) {
            cx->He[i * D + q] = cx->Hdes[i * N + q];
            cx->Hd[i * D + q] = cx->Hdes[i * N + D + q];
        }
    for (size_t s = 0; s < j->ns && !j->skip; s++) /* paper: probes about the mean bias */
        for (size_t i = 0; i < N; i++)
            cx->ctr[i] += j->bsim[s * N + i] / (double)j->ns;
    for (size_t i = 0; i < D && j->skip; i++)
        cx->ctr[D + i] = j->b.sub.c[i];
    const tdi_bundle_module *e = &j->b.sub.mod[0];
    if (j->skip &&
        (rc = tdi_cosim_skip_encoder(e->A, j->b.sub.cpl[0].P, D, k, cx->W1, cx->W2, NULL, err)))
        return rc;
    for (size_t i = 0; i < D; i++)
        for (size_t r = 0; r < k; r++) {
            double s = 0;
            for (size_t q = 0; q < D; q++)
                s += cx->He[i * D + q] * cx->W2[q * k + r];
            cx->F[i * k + r] = s;
        }
    memcpy(cx->c, j->b.sub.c, D * sizeof(double));
    for (size_t i = 0; i < D; i++)
        for (size_t q = 0; q < D; q++)
            cx->yd0[i] += cx->Hd[i * D + q] * j->b.sub.c[q];
    return 0;
}

/* The probe drive's std per block: calib_amp of the DAC full scale, reduced until 4 std of the
 * design's response of every decoder unit stays inside half the ADC full scale (the
 * fit assumes the converters' static transfer, not their clipping). */
static void probe_amps(const tdi_cosim_job *j, const calib_ctx *cx, tdi_cosim_calib *cal)
{
    size_t D = cx->D;
    double he = 0, hd = 0;
    for (size_t i = 0; i < D; i++) {
        double se = 0, sd = 0;
        for (size_t q = 0; q < D; q++) {
            se += cx->He[i * D + q] * cx->He[i * D + q];
            sd += cx->Hd[i * D + q] * cx->Hd[i * D + q];
        }
        he = fmax(he, sqrt(se));
        hd = fmax(hd, sqrt(sd));
    }
    double a0 = j->cfg.calib_amp * j->dac_fs_units, lim = 0.5 * j->adc_fs / 4.0;
    cal->amp_enc = he > 0 ? fmin(a0, lim / he) : a0;
    cal->amp_dec = hd > 0 ? fmin(a0, lim / hd) : a0;
}

/* b (simulation units) on the DAC's code grid: a bench knows the codes it writes, so the fit
 * sees the quantised drive (the DAC's gain, offset and INL stay unknown) */
static double dac_code(const tdi_cosim_job *j, double b)
{
    double s = j->ph->gu * j->ph->Vs;
    return tdi_cosim_quantize(b * s, (int)j->cfg.dac_bits, j->dac_fs) / s;
}

/* Measures P probes (biases B (P, N), simulation units; global probe index p0..): the chip's
 * DAC and equilibrium (the analytic engine), then each ADC channel's static transfer plus the
 * read-out noise (std j->pred_rms, the job's prediction for one averaged read-out). Y (P, D) V.
 * Adds the probes' energy to cal->E_probe. */
static int measure(tdi_cosim_job *j, const calib_ctx *cx, tdi_cosim_calib *cal,
                   const double *B, size_t P, size_t p0, double *Y, tdi_err *err)
{
    size_t N = cx->N, D = cx->D, NT = j->NT;
    double *ib = calloc(P * NT, sizeof *ib);
    if (!ib)
        return tdi_err_set(err, TDI_ENOMEM, "calibration: out of memory");
    for (size_t p = 0; p < P; p++)
        for (size_t i = 0; i < N; i++)
            ib[p * NT + i] = j->ph->gu * j->ph->Vs * B[p * N + i];
    tdi_cosim_plan pl = j->pl;
    pl.n_samples = P, pl.bias = ib, pl.n_wave = 0, pl.label = NULL;
    tdi_cosim_out o = {0};
    int rc = tdi_cosim_exp_run(TDI_COSIM_ANALYTIC, j->cc, &pl, &o, err);
    const tdi_cosim_ledger *e = &j->e;
    for (size_t p = 0; p < P && !rc; p++) {
        cal->E_probe += fabs(o.e_bias[p]) + o.e_r[p] + e->E_active + e->E_conv;
        for (size_t i = 0; i < D; i++) {
            double v = o.est[p * D + i];
            if (j->pl.adc)
                v = tdi_cosim_conv_distort(j->pl.adc, i, v);
            if (j->cfg.calib_noise)
                v += j->pred_rms * tdi_seed_gauss(cx->key, i, 2 * (p0 + p) + 2);
            Y[p * D + i] = v;
        }
    }
    tdi_cosim_out_destroy(&o);
    free(ib);
    return rc ? tdi_err_prefix(err, "calibration probes") : 0;
}

/* probe p's bias: the centre (skip: encoder units 0, decoder units the bundle's c) plus amp_enc z
 * on the encoder units, amp_dec z on the decoder units */
static void probe_bias(const tdi_cosim_job *j, const calib_ctx *cx, const tdi_cosim_calib *cal,
                       size_t p, double *b)
{
    for (size_t i = 0; i < cx->N; i++) {
        double z = tdi_seed_gauss(cx->key, i, 2 * p + 1);
        b[i] = dac_code(j, cx->ctr[i] + (i < cx->D ? cal->amp_enc : cal->amp_dec) * z);
    }
}

/* The read-out gains: per decoder unit the least-squares factor g_i = <a_i, f_i> / <a_i, a_i>
 * that brings the calibrated chip's code-to-output row a_i (A (D, k)) onto the design's f_i
 * (isotropic codes); then the static bias target t (D, the design's output at h = 0 minus the
 * chip's output at zero drive) is divided by g so the constant stays the design's. */
static void fit_gains(calib_ctx *cx, const double *A, const double *ydes0, const double *y0,
                      double *t)
{
    size_t D = cx->D, k = cx->k;
    for (size_t i = 0; i < D; i++) {
        double af = 0, aa = 0;
        for (size_t r = 0; r < k; r++) {
            af += A[i * k + r] * cx->F[i * k + r];
            aa += A[i * k + r] * A[i * k + r];
        }
        cx->g[i] = aa > 0 && af > 0 ? af / aa : 1.0;
        t[i] = ydes0[i] / cx->g[i] - y0[i];
    }
}

/* A (D, k) = He (W2 + Delta) */
static void code_map(const calib_ctx *cx, const double *He, double *A)
{
    size_t D = cx->D, k = cx->k;
    for (size_t i = 0; i < D; i++)
        for (size_t r = 0; r < k; r++) {
            double a = 0;
            for (size_t q = 0; q < D; q++)
                a += He[i * D + q] * (cx->W2[q * k + r] + cx->Delta[q * k + r]);
            A[i * k + r] = a;
        }
}

/* The output correction from the chip's code-to-output map A (D, k) and its output at zero
 * encoder drive y0c (D), both as measured: full: I + U Vt (tdi_cosim_calib_outmap) and d so that
 * y0c goes to the design's yd0; affine: per channel a_i = <A_i, F_i> / <A_i, A_i> (isotropic
 * codes) and d_i = yd0_i - a_i y0c_i. Adds its MACs to cal->macs. */
static int out_fit(calib_ctx *cx, const double *A, const double *y0c, double ridge,
                   tdi_cosim_calib *cal, tdi_err *err)
{
    size_t D = cx->D, k = cx->k;
    if (cx->out == 2) {
        int rc = tdi_cosim_calib_outmap(A, cx->F, D, k, ridge, cx->U, cx->Vt, err);
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < D && cx->out == 1; i++) {
        double af = 0, aa = 0;
        for (size_t r = 0; r < k; r++) {
            af += A[i * k + r] * cx->F[i * k + r];
            aa += A[i * k + r] * A[i * k + r];
        }
        cx->a[i] = aa > 0 ? af / aa : 1.0;
    }
    double t[64];
    for (size_t r = 0; r < k && cx->out == 2; r++) {
        t[r] = 0;
        for (size_t q = 0; q < D; q++)
            t[r] += cx->Vt[r * D + q] * y0c[q];
    }
    for (size_t i = 0; i < D; i++) {
        double z = cx->a[i] * y0c[i];
        for (size_t r = 0; r < k && cx->out == 2; r++)
            z += cx->U[i * k + r] * t[r];
        cx->d[i] = cx->yd0[i] - z;
    }
    double dk = (double)D * (double)k;
    cal->macs += cx->out == 2 ? 2.0 * dk * (double)k + (double)(k * k * k) / 3 + 2.0 * dk : 2.0 * dk;
    return 0;
}

/* the output correction of one read-out y (D, V) into z (D) */
static void out_apply(const calib_ctx *cx, const double *y, double *z)
{
    size_t D = cx->D, k = cx->k;
    double t[64];
    for (size_t r = 0; r < k && cx->out == 2; r++) {
        t[r] = 0;
        for (size_t q = 0; q < D; q++)
            t[r] += cx->Vt[r * D + q] * y[q];
    }
    for (size_t i = 0; i < D; i++) {
        double v = cx->out ? cx->a[i] * y[i] + cx->d[i] : y[i];
        for (size_t r = 0; r < k && cx->out == 2; r++)
            v += cx->U[i * k + r] * t[r];
        z[i] = v;
    }
}

/* diagnostic: the fitted map H (D, N) against the circuit's own G^-1 (no converters; Hc (D, N)
 * scratch): |H - Hc|_F / |Hc|_F */
static int map_error(const tdi_cosim_job *j, const double *H, double *Hc, double *rel,
                     tdi_err *err)
{
    size_t N = j->N, D = j->D;
    int rc = tdi_cosim_calib_inverse_rows(j->cc->G, N, j->o, D, j->ph->gu * j->ph->Vs, Hc, err);
    double num = 0, den = 0;
    for (size_t q = 0; q < D * N && !rc; q++) {
        num += (H[q] - Hc[q]) * (H[q] - Hc[q]);
        den += Hc[q] * Hc[q];
    }
    *rel = rc ? NAN : sqrt(num / den);
    return rc;
}

/* probe-and-fit: the map from every probe, then W2 + Delta and c' against the design */
static int calib_probe(tdi_cosim_job *j, calib_ctx *cx, tdi_cosim_calib *cal, tdi_err *err)
{
    size_t P = (size_t)j->cfg.calib_probes, N = cx->N, D = cx->D, k = cx->k;
    double *B = malloc(P * N * sizeof *B), *Y = malloc(P * D * sizeof *Y);
    double *H = malloc(D * N * sizeof *H), *y0 = malloc(D * sizeof *y0);
    double *He = malloc(D * D * sizeof *He), *Hd = malloc(D * D * sizeof *Hd);
    double *t = malloc(D * sizeof *t), *Hc = malloc(D * N * sizeof *Hc);
    double *yd0 = malloc(D * sizeof *yd0), *A = malloc(D * k * sizeof *A);
    int rc = !B || !Y || !H || !y0 || !He || !Hd || !t || !Hc || !yd0 || !A
                 ? tdi_err_set(err, TDI_ENOMEM, "calibration: out of memory") : 0;
    for (size_t p = 0; p < P && !rc; p++)
        probe_bias(j, cx, cal, p, B + p * N);
    if (!rc)
        rc = measure(j, cx, cal, B, P, 0, Y, err);
    if (!rc)
        rc = tdi_cosim_calib_affine(B, Y, P, N, D, j->cfg.calib_ridge, H, y0, err);
    for (size_t i = 0; i < D && !rc; i++) {
        memcpy(He + i * D, H + i * N, D * sizeof *He);
        memcpy(Hd + i * D, H + i * N + D, D * sizeof *Hd);
        yd0[i] = cx->yd0[i];
        t[i] = yd0[i] - y0[i]; /* Hd c' + y0 = Hdes_d c: the design's output at b_enc = 0 */
    }
    /* shared bus: the chip's encoder-to-decoder map still has rank k (every path crosses the k
       bus nodes): drop the noise outside it; other realisations keep the full fit */
    if (!rc && strcmp(j->gcfg.skip, "sharedbus") == 0)
        rc = tdi_cosim_calib_truncate(He, D, k, err);
    if (!rc && !j->skip) /* the paper mode: its interface refitted, nothing below */
        rc = tdi_cosim_calib_paper(j, He, Hd, y0, cx->He, cx->Hd, j->cfg.calib_ridge, cx->pw,
                                   &cx->paper_rel, err);
    if (!j->skip)
        goto paper;
    if (!rc)
        rc = tdi_cosim_calib_encoder(He, cx->W2, cx->F, D, k, j->cfg.calib_ridge, cx->Delta, err);
    if (!rc)
        code_map(cx, He, A);
    if (!rc && j->cfg.calib_gains && !cx->out) /* the output correction includes the gains */
        fit_gains(cx, A, yd0, y0, t);
    if (!rc)
        rc = tdi_cosim_calib_solve(Hd, t, D, cx->c, err);
    if (!rc && cx->out) /* the chip's output at zero encoder drive is now yd0 (Hd c' + y0) */
        rc = out_fit(cx, A, yd0, j->cfg.calib_ridge, cal, err);
paper:
    if (!rc)
        rc = map_error(j, H, Hc, &cal->map_err, err);
    double m = (double)N;
    cal->macs = (double)P * m * (m + (double)D) + m * m * m / 3 + m * m * (double)D /* fit */
                + (double)D * D * D * 4.0 / 3 + 2.0 * D * D * (double)k /* encoder */
                + (double)D * D * D / 3;                                   /* bias */
    free(B), free(Y), free(H), free(y0), free(He), free(Hd), free(t), free(Hc), free(yd0), free(A);
    return rc;
}

/* one loop iteration: P probes of random codes through the current digital side; the residual
 * against the design's output fitted as E h + e0; Delta -= pinv(Hdes_e) E, c -= Hdes_d^-1 e0.
 * last (with an output correction): no step; the correction fitted to the measured map F + E
 * and the measured output at h = 0, yd0 + e0. */
static int loop_step(tdi_cosim_job *j, calib_ctx *cx, tdi_cosim_calib *cal, size_t P, size_t p0,
                     double sh, int last, double *buf, tdi_err *err)
{
    size_t N = cx->N, D = cx->D, k = cx->k;
    double *h = buf, *B = h + P * k, *Y = B + P * N, *E = Y + P * D, *e0 = E + D * k;
    double *st = e0 + D, *dc = st + D * k, *W = dc + D;
    for (size_t q = 0; q < D * k; q++)
        W[q] = cx->W2[q] + cx->Delta[q];
    for (size_t p = 0; p < P; p++) {
        for (size_t r = 0; r < k; r++)
            h[p * k + r] = sh * tdi_seed_gauss(cx->key, r, 2 * (p0 + p) + 1);
        for (size_t i = 0; i < D; i++) {
            double s = 0;
            for (size_t r = 0; r < k; r++)
                s += W[i * k + r] * h[p * k + r];
            B[p * N + i] = dac_code(j, s);
            B[p * N + D + i] = dac_code(j, cx->c[i]);
        }
    }
    int rc = measure(j, cx, cal, B, P, p0, Y, err);
    for (size_t p = 0; p < P && !rc; p++) /* residual against the design's y = F h + Hd c0 */
        for (size_t i = 0; i < D; i++) {
            double t = 0;
            for (size_t r = 0; r < k; r++)
                t += cx->F[i * k + r] * h[p * k + r];
            Y[p * D + i] -= t + cx->yd0[i];
        }
    if (!rc)
        rc = tdi_cosim_calib_affine(h, Y, P, k, D, 0.0, E, e0, err);
    double kk = (double)k + 1;
    cal->macs += (double)P * (kk * kk + kk * (double)D + (double)D * k) + kk * kk * (double)D;
    if (!rc && last && cx->out) {
        for (size_t q = 0; q < D * k; q++)
            st[q] = cx->F[q] + E[q];
        for (size_t i = 0; i < D; i++)
            dc[i] = cx->yd0[i] + e0[i];
        return out_fit(cx, st, dc, j->cfg.calib_ridge, cal, err);
    }
    for (size_t q = 0; q < D * k && !rc; q++)
        E[q] = -E[q];
    if (!rc)
        rc = tdi_cosim_calib_encoder(cx->He, NULL, E, D, k, j->cfg.calib_ridge, st, err);
    if (!rc)
        rc = tdi_cosim_calib_solve(cx->Hd, e0, D, dc, err);
    for (size_t q = 0; q < D * k && !rc; q++)
        cx->Delta[q] += st[q];
    for (size_t i = 0; i < D && !rc; i++)
        cx->c[i] -= dc[i];
    cal->macs += 2.0 * D * D * (double)k + (double)D * D * D / 3;
    return rc;
}

/* in-the-loop: calib_iters steps sharing the probe budget; codes h ~ N(0, sh^2) with sh giving
 * the encoder drive W2 h the probes' std amp_enc per unit */
static int calib_loop(tdi_cosim_job *j, calib_ctx *cx, tdi_cosim_calib *cal, tdi_err *err)
{
    size_t P = (size_t)j->cfg.calib_probes, T = (size_t)j->cfg.calib_iters;
    size_t N = cx->N, D = cx->D, k = cx->k, per = P / T;
    if (per <= k)
        return tdi_err_set(err, TDI_ECONFIG, "%s: cosim.calib_probes %zu over calib_iters %zu "
                           "leaves %zu probes per iteration (need more than k = %zu)",
                           j->cfg.path, P, T, per, k);
    double w2 = 0;
    for (size_t q = 0; q < D * k; q++)
        w2 += cx->W2[q] * cx->W2[q];
    double sh = w2 > 0 ? cal->amp_enc * sqrt((double)D / w2) : 1.0;
    size_t maxp = per + P % T;
    double *buf = malloc((maxp * (k + N + D) + 2 * D * k + 3 * D + D * k) * sizeof *buf);
    if (!buf)
        return tdi_err_set(err, TDI_ENOMEM, "calibration: out of memory");
    int rc = 0;
    for (size_t it = 0, p0 = 0; it < T && !rc; it++) {
        size_t n = it + 1 < T ? per : P - p0;
        rc = loop_step(j, cx, cal, n, p0, sh, it + 1 == T, buf, err);
        p0 += n;
    }
    free(buf);
    cal->iters = (long)T;
    cal->map_err = NAN;
    return rc;
}

/* the calibrated biases of the job's samples (ibc (ns, NT)): b_dec = c'; b_enc = (W2 + Delta) W1 x
 * (calib_encoder projected: on the chip the bus reads the encoder units through its mismatched
 * elements, so what the design's P^T A^-1 ignores of A x leaks into the decoder) or the design's
 * b_enc + Delta (W1 x) (full) */
static void calib_biases(const tdi_cosim_job *j, const calib_ctx *cx, tdi_cosim_calib *cal,
                         double *ibc)
{
    size_t N = cx->N, D = cx->D, k = cx->k, xc = j->b.sub.x_cols;
    double h[64];
    int proj = strcmp(j->cfg.calib_encoder, "projected") == 0;
    const double *const *pw = (const double *const *)cx->pw;
    for (size_t s = 0; s < j->ns; s++) {
        const double *x = j->x + (j->s0 + s) * xc;
        if (!j->skip) { /* the refitted paper interface */
            double *b = ibc + s * j->NT;
            tdi_cosim_paper_interface(pw, D, x, b, b + D);
            for (size_t i = 0; i < N; i++) {
                cal->dac_clip += fabs(b[i]) > j->dac_fs_units;
                b[i] *= j->ph->gu * j->ph->Vs;
            }
            continue;
        }
        for (size_t r = 0; r < k; r++) {
            h[r] = 0;
            for (size_t q = 0; q < D; q++)
                h[r] += cx->W1[r * D + q] * x[q];
        }
        for (size_t i = 0; i < N; i++) {
            double b = i >= D ? cx->c[i - D] : proj ? 0.0 : j->bsim[s * N + i];
            for (size_t r = 0; i < D && r < k; r++)
                b += (cx->Delta[i * k + r] + (proj ? cx->W2[i * k + r] : 0.0)) * h[r];
            cal->dac_clip += fabs(b) > j->dac_fs_units;
            ibc[s * j->NT + i] = j->ph->gu * j->ph->Vs * b;
        }
    }
}

/* a row: pred = z / Vs * gain over n samples, scored against the truth; z = est (cx NULL: the
 * design) or the calibrated read-out: est through the output correction, times the gains g */
static int calib_row(const tdi_cosim_job *j, const calib_ctx *cx, tdi_cosim_row *row,
                     const double *est, size_t n, tdi_err *err)
{
    size_t D = j->D;
    if (!(row->pred = malloc(n * D * sizeof *row->pred)))
        return tdi_err_set(err, TDI_ENOMEM, "calibration: out of memory");
    for (size_t s = 0; s < n; s++) {
        double *z = row->pred + s * D;
        if (cx)
            out_apply(cx, est + s * D, z);
        else
            memcpy(z, est + s * D, D * sizeof *z);
        for (size_t i = 0; i < D; i++)
            z[i] = z[i] / j->ph->Vs * j->gain[i] * (cx ? cx->g[i] : 1.0);
    }
    row->have = 1;
    row->n = n;
    row->m = tdi_metrics_eval(row->pred, j->truth + j->s0 * D, j->mean_fit, n, D);
    return 0;
}

/* the design circuit under the job's (ideal-converter) DAC: Hdes quantise(b) */
static int design_row(tdi_cosim_job *j, const calib_ctx *cx, tdi_cosim_calib *cal, tdi_err *err)
{
    size_t N = cx->N, D = cx->D, ns = j->ns;
    double *y = malloc(ns * D * sizeof *y), sc = j->ph->gu * j->ph->Vs;
    if (!y)
        return tdi_err_set(err, TDI_ENOMEM, "calibration: out of memory");
    for (size_t s = 0; s < ns; s++)
        for (size_t i = 0; i < D; i++) {
            double v = 0;
            for (size_t q = 0; q < N; q++)
                v += cx->Hdes[i * N + q] *
                     tdi_cosim_quantize(j->ibias[s * j->NT + q], (int)j->cfg.dac_bits, j->dac_fs) /
                     sc;
            y[s * D + i] = v;
        }
    int rc = calib_row(j, NULL, &cal->row[TDI_COSIM_CAL_DESIGN], y, ns, err);
    free(y);
    return rc;
}

/* the calibrated chip through the analytic engine and (when it ran) the sde engine */
static int calib_engines(tdi_cosim_job *j, const calib_ctx *cx, tdi_cosim_calib *cal,
                         tdi_err *err)
{
    double *ibc = calloc(j->ns * j->NT, sizeof *ibc);
    if (!ibc)
        return tdi_err_set(err, TDI_ENOMEM, "calibration: out of memory");
    calib_biases(j, cx, cal, ibc);
    int rc = 0;
    for (int k = 0; k < 2 && !rc; k++) {
        if (!j->want[k])
            continue;
        tdi_cosim_plan pl = j->pl;
        pl.bias = ibc, pl.n_samples = j->nk[k], pl.batch = j->sched_batch[k], pl.n_wave = 0;
        pl.label = j->cfg.progress && k ? "tdi-cosim sde (calibrated)" : NULL;
        tdi_cosim_out o = {0};
        rc = tdi_cosim_exp_run((tdi_cosim_kind)k, j->cc, &pl, &o, err);
        if (!rc)
            rc = calib_row(j, cx, &cal->row[k ? TDI_COSIM_CAL_SDE : TDI_COSIM_CAL_ANALYTIC], o.est,
                           j->nk[k], err);
        tdi_cosim_out_destroy(&o);
    }
    free(ibc);
    return rc;
}

static void calib_summary_numbers(const tdi_cosim_job *j, const calib_ctx *cx,
                                  tdi_cosim_calib *cal)
{
    size_t D = cx->D, k = cx->k;
    double d = 0, w = 0, b = 0;
    for (size_t q = 0; q < D * k; q++) {
        d += cx->Delta[q] * cx->Delta[q];
        w += cx->W2[q] * cx->W2[q];
    }
    for (size_t i = 0; i < D; i++)
        b += (cx->c[i] - j->b.sub.c[i]) * (cx->c[i] - j->b.sub.c[i]);
    cal->enc_rel = !j->skip ? cx->paper_rel : w > 0 ? sqrt(d / w) : 0;
    cal->bias_rms = sqrt(b / (double)D);
    cal->t_circuit = (double)cal->probes * j->e.T_inf;
    /* projected: W1 x and (W2 + Delta) h, 2Dk; full: the design's b_enc + W1 x, Delta h */
    cal->macs_iface = !j->skip ? j->macs
                      : strcmp(j->cfg.calib_encoder, "projected") == 0 ? 2 * (long)(D * k)
                      : j->macs + (j->projected ? 0 : 2 * (long)(D * k));
    /* the output correction per inference: full Vt y and U t (2Dk) and + d (D); affine a y + d */
    cal->out = cx->out;
    cal->macs_out = cx->out == 2 ? 2 * (long)(D * k) + (long)D : cx->out ? 2 * (long)D : 0;
    double e = 0;
    for (size_t i = 0; i < D; i++)
        for (size_t q = 0; q < D; q++) {
            double v = (i == q) * (cx->a[i] - 1.0);
            for (size_t r = 0; r < k && cx->out == 2; r++)
                v += cx->U[i * k + r] * cx->Vt[r * D + q];
            e += v * v;
        }
    cal->out_rel = sqrt(e / (double)D);
    cal->macs_iface += cal->macs_out;
}

int tdi_cosim_job_calib(tdi_cosim_job *j, tdi_err *err)
{
    if (strcmp(j->cfg.calibrate, "none") == 0)
        return 0;
    int rc = calib_check(j, err);
    if (rc)
        return rc;
    if (!(j->cal = calloc(1, sizeof *j->cal)))
        return tdi_err_set(err, TDI_ENOMEM, "calibration: out of memory");
    tdi_cosim_calib *cal = j->cal;
    double w0 = tdi_clock_s(CLOCK_MONOTONIC);
    calib_ctx cx;
    cal->mode = strcmp(j->cfg.calibrate, "loop") == 0 ? 2 : 1;
    cal->probes = j->cfg.calib_probes;
    cal->iters = 1;
    if (!(rc = ctx_init(j, &cx, err))) {
        probe_amps(j, &cx, cal);
        rc = cal->mode == 1 ? calib_probe(j, &cx, cal, err) : calib_loop(j, &cx, cal, err);
    }
    if (!rc && !(rc = design_row(j, &cx, cal, err)) && !(rc = calib_engines(j, &cx, cal, err)))
        calib_summary_numbers(j, &cx, cal);
    free(cx.mem);
    cal->wall_s = tdi_clock_s(CLOCK_MONOTONIC) - w0;
    return rc;
}

void tdi_cosim_calib_free(tdi_cosim_calib *cal)
{
    if (!cal)
        return;
    for (int r = 0; r < TDI_COSIM_NCAL; r++)
        free(cal->row[r].pred);
    free(cal);
}
