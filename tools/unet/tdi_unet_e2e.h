/* tdi_unet_e2e: the U-Net with its skips carried by substrates, end to end (issue 13;
 * docs/e2e.md). Per skip level: the channel PCA of training-set skip vectors (the rank-k ceiling
 * R = U_k U_k^T), the two-module skip-mode substrate whose analytic equilibrium realises it
 * (tdi_sub_skip_fit), its bundle and circuit (tdi-gen's wire report and operating point), and the
 * circuit's predicted read-out noise per channel; then test epsilon-MSE by t bucket with the
 * layer of tdi_unet_sskip.h in the forward pass. All arrays row-major double unless stated.
 * Non-goals: fine-tuning (e2e-tune), multi-level netlists (e2e-multi). */
#ifndef TDI_UNET_E2E_H
#define TDI_UNET_E2E_H

#include <stddef.h>
#include <stdio.h>

#include "tdi_err.h"

#define TDI_UNET_E2E_MAXRANKS 8
#define TDI_UNET_E2E_MAXPAIRS 16 /* e2e.pairs: (k_e1, k_e2) combinations measured */

/* The `e2e:` section of a preset (configs/e2e.yaml) plus seed, name and out. */
typedef struct tdi_unet_e2e_cfg {
    const char *path;     /* config file (messages); not owned */
    long seed;            /* master seed: fit draws (TDI_SEED_UNET_EXPORT), noise (SSKIP) */
    char name[64], out[512];
    char checkpoint[512]; /* U-Net weights (models/unet-c32.ckpt) */
    char unet_config[512];/* U-Net config: data dir, architecture, schedule, eval seed/batch */
    long fit_images;      /* training images whose skips are sampled (first .. evenly spaced) */
    long fit_pixels;      /* pixels sampled per image and level */
    long test_images;     /* test images of the table (the first n, eval's t and noise) */
    long bundle_samples;  /* skip vectors (test images) in each bundle: the op's signal */
    long spice_samples;   /* --sde: the first sde samples also run through ngspice (0: none) */
    long ranks[TDI_UNET_E2E_MAXRANKS]; /* ranks k below C; full rank is always added */
    size_t n_ranks;
    double J2, kT;        /* intra coupling A = 2 J2 I + J + J^T, J = X^T X / (n 4 kT) */
    double pd_margin;     /* skip fit: normalised coupling norm <= 1 - pd_margin */
    long sde_samples;     /* --sde: bundle samples co-simulated by the sde engine */
    long pairs[2 * TDI_UNET_E2E_MAXPAIRS]; /* e2e.pairs: k_e1, k_e2, k_e1, k_e2, ... (a rank of
                             e2e.ranks or C, 0: the mean row) measured with both levels through
                             their substrates into <out>/pairs.csv (tdi-budget's choices) */
    size_t n_pairs;       /* entries of pairs (twice the combinations) */
} tdi_unet_e2e_cfg;

void tdi_unet_e2e_cfg_defaults(tdi_unet_e2e_cfg *c);
int tdi_unet_e2e_cfg_load(const char *path, tdi_unet_e2e_cfg *c, tdi_err *err);

/* mean (C) and the PCA of X (n x C): ev (C) descending eigenvalues of the covariance (divisor
 * n), U (C x C) the unit eigenvectors as columns. */
int tdi_unet_e2e_pca(const double *X, size_t n, size_t C, double *mean, double *U, double *ev,
                     tdi_err *err);
/* Rpca (C x C) = U_k U_k^T (U's first k columns). */
void tdi_unet_e2e_ceiling(const double *U, size_t C, size_t k, double *Rpca);

/* One level's substrate at rank k: what the fit hands to the layer and to the table. */
typedef struct tdi_unet_e2e_sub {
    size_t C, k;
    double *R;         /* (C, C) g d(y*)/dx of the analytic equilibrium (owned) */
    double *noise_sd;  /* (C) read-out noise std per channel, activation units: g x the
                          circuit's predicted noise of unit j (owned) */
    double r_err;      /* max |R - U_k U_k^T| */
    double off_err;    /* max |g y*(mean) - mean| (the static bias c reproduces the mean) */
    double gain;       /* read-out gain g */
    double noise_rms;  /* rms over units of the predicted noise, simulation units (the
                          conversions' dither correlated: docs/e2e.md, stage 5) */
    double noise_rms_ind; /* the same with the dither independent between conversions: the
                          chooser's model, so it equals op_noise */
    double op_noise;   /* the operating point's noise (tdi_gen_op) */
    double signal;     /* per-sample signal of the bundle samples (op input), units */
    size_t wires, skip_wires; /* wire pairs of the whole circuit and of its skip block */
    double t_inf;      /* s: t_settle + n_conv spacing, one inference */
    double theta, Vs;  /* -, V/unit */
    long n_conv, bits;
} tdi_unet_e2e_sub;

void tdi_unet_e2e_sub_destroy(tdi_unet_e2e_sub *s);

/* Inputs of one level's substrate fit. */
typedef struct tdi_unet_e2e_level {
    const char *layer;   /* "e1" | "e2" */
    size_t C;
    const double *mean;  /* (C) */
    const double *U;     /* (C, C) PCA eigenvectors (columns) */
    const double *A;     /* (C, C) module block A = B = 2 J2 I + J + J^T */
    const double *Xb;    /* (nb, C) bundle samples (test skip vectors) */
    size_t nb;
} tdi_unet_e2e_level;

/* Fits the rank-k substrate of lv (tdi_sub_skip_fit with target L = U_k U_k^T, my = mx = mean),
 * writes its bundle to bundle_dir (one directory transaction; preset = gen_cfg's name), builds
 * its circuit from the `circuit:` section of gen_cfg_path (tdi_gen_circuit_build: wire report,
 * operating point) and predicts the read-out noise per channel. s is filled (caller destroys). */
int tdi_unet_e2e_substrate(const tdi_unet_e2e_level *lv, size_t k, double J2, double kT,
                           double pd_margin, const char *gen_cfg_path, const char *bundle_dir,
                           tdi_unet_e2e_sub *s, tdi_err *err);

/* The statistical model against the circuit: tdi-cosim's sde engine on the first n samples of
 * the bundle in bundle_dir, spice on the first n_spice of them (0: none), config cfg_path (its
 * circuit, cosim and energy sections), results under out_dir. Per engine the mean over samples
 * of the squared read-out error (engine - analytic, V^2, rms over units) and its standard error,
 * against the noise model's mean_j (noise_j / g)^2 Vs^2. */
typedef struct tdi_unet_e2e_check {
    double sde, sde_se;     /* V^2 */
    double spice, spice_se; /* V^2 (n_spice < 2: 0) */
    long n_sde, n_spice;
    double model;           /* V^2 */
} tdi_unet_e2e_check;
int tdi_unet_e2e_sde_check(const char *cfg_path, const char *bundle_dir, const char *out_dir,
                           long n, long n_spice, const tdi_unet_e2e_sub *s,
                           tdi_unet_e2e_check *r, tdi_err *err);

/* The whole `tdi-unet e2e CONFIG` job: fit, table (out/e2e/table.csv), wires, plots, and with
 * run_sde the sde check per level. test_images > 0 overrides the config's. */
int tdi_unet_e2e_run(const tdi_unet_e2e_cfg *c, long test_images, int run_sde, FILE *report,
                     tdi_err *err);

#endif
