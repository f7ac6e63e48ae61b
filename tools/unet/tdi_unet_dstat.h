/* tdi_unet_dstat: the paper's decoder statistics used for real (issue 13, docs/e2e.md). In the
 * U-Net forward, a decoder block's pooled channel means (pool p: the p x p region means, entry
 * j = c p^2 + py p + px as the activation export lays them out) are replaced by an estimate while
 * the within-region deviations stay as computed; the job scores the substrate's estimate, the
 * digital shortcut and the mean baseline by test epsilon-MSE against the unmodified U-Net.
 * Non-goals: gradients through the replacement (inference only), fitting (tdi-fit). */
#ifndef TDI_UNET_DSTAT_H
#define TDI_UNET_DSTAT_H

#include <stddef.h>
#include <stdio.h>

#include "tdi_err.h"
#include "tdi_unet.h"
#include "tdi_unet_cfg.h"

/* Region means of out [ch][b][side*side] for rows i < b: means [b][D], entry j < D of row i the
 * mean of region j (j = c p^2 + py p + px, regions side/p square). Summed in double in the
 * export's order, so the values equal the activation bundle's. Needs D <= ch p^2, side % p = 0. */
void tdi_unet_dstat_means(const float *out, size_t ch, size_t side, size_t b, size_t p,
                          size_t D, float *means);
/* Replaces those means: adds target[i D + j] - (region mean) to every pixel of region j of row
 * i, for j < D (regions j >= D keep their mean). target [b][D]. */
void tdi_unet_dstat_apply(float *out, size_t ch, size_t side, size_t b, size_t p, size_t D,
                          const float *target);

/* The hook context (tdi_unet_dec_hook): while target != NULL, a forward replaces the means of
 * block by the rows of target (one per image of the batch, in batch order). */
typedef struct tdi_unet_dstat {
    tdi_unet_block_id block; /* TDI_UNET_D2 or TDI_UNET_D1 */
    size_t pool, D;          /* p, leading pooled entries replaced */
    const float *target;     /* [b][D]; NULL: unmodified */
} tdi_unet_dstat;
/* A tdi_unet_dec_hook; ctx is a tdi_unet_dstat. Set m->dec_hook = tdi_unet_dstat_hook and
 * m->dec_hook_ctx = &dstat. */
void tdi_unet_dstat_hook(void *ctx, tdi_unet_block_id id, float *out, size_t ch, size_t side,
                         size_t b);

/* Rows of the job: what replaces the block's means. */
typedef enum {
    TDI_UNET_DSTAT_UNMODIFIED = 0, /* nothing (the reference) */
    TDI_UNET_DSTAT_EXACT,          /* the bundle's truth (the U-Net's own means): a check */
    TDI_UNET_DSTAT_SUBSTRATE,      /* gain .* analytic, the substrate's equilibrium M^-1 b */
    TDI_UNET_DSTAT_DIGITAL,        /* gain .* B^-1 b_dec, the interface without the substrate */
    TDI_UNET_DSTAT_MEAN,           /* the fit-split mean decoder vector (no information) */
    TDI_UNET_DSTAT_NROWS
} tdi_unet_dstat_row;
extern const char *const tdi_unet_dstat_row_names[TDI_UNET_DSTAT_NROWS];

typedef struct tdi_unet_dstat_result {
    char block[8];                 /* "d2" */
    size_t n, D, pool;             /* test images, units replaced, p */
    long t;                        /* noise step of every image */
    int have[TDI_UNET_DSTAT_NROWS];          /* 0: row not computable (B not PD) */
    double eps_mse[TDI_UNET_DSTAT_NROWS];    /* mean over images of the per-image eps-MSE */
    double d_se[TDI_UNET_DSTAT_NROWS];       /* standard error of the paired difference to
                                                the unmodified row (per image) */
    double cos_centered[TDI_UNET_DSTAT_NROWS], r2[TDI_UNET_DSTAT_NROWS]; /* the estimate vs the
                                                U-Net's means (common/tdi_metrics.h) */
    double trivial;                /* eps-hat = 0: mean |eps|^2 / 1024 */
    double max_xt_diff;            /* max |regenerated xt - the bundle's xt.npy| */
    double max_truth_diff;         /* max |U-Net block means - the bundle's truth| */
    double max_exact_diff;         /* max |eps(exact) - eps(unmodified)| over all pixels */
    double wall_s;                 /* the forward passes */
    char csv[1024];                /* the table written */
} tdi_unet_dstat_result;

/* Runs the job of the preset file (configs/paper.yaml): reads seed, out, export.* and
 * substrate.dec / substrate.D, the substrate bundle <out>/substrate (tdi-fit's, with its
 * analytic predictions) and <export.dir>/activations-test/xt.npy (a check that the test images
 * and their noise are regenerated exactly); runs the U-Net of export.checkpoint on the bundle's
 * n test images at export.t once per row; writes <out>/e2e-dstat/table.csv. c gives the
 * architecture, the schedule and the data folder. */
int tdi_unet_dstat_run(const tdi_unet_config *c, const char *preset, tdi_unet_dstat_result *r,
                       FILE *progress, tdi_err *err);

#endif
