/* tdi_unet_sfit: the substrate skips of `tdi-unet sample` and `fid` (issue 14): the layers of
 * tdi_unet_sskip.h for level e1, e2 or both at rank k (or the mean baseline), fitted exactly as
 * `tdi-unet e2e` fits them (its skip vectors, PCA, tdi_unet_e2e_substrate and read-out noise;
 * docs/e2e.md) from an e2e preset and the sampled checkpoint, and cached per level and rank.
 * Invariant: a cache file is used only when its key (FNV-1a 64 of the preset file, its U-Net
 * config file, the checkpoint file, level and k) matches; otherwise it is refitted and replaced.
 * Non-goals: the sampler itself (tdi_unet_sampler.h), time evolution of the substrate. */
#ifndef TDI_UNET_SFIT_H
#define TDI_UNET_SFIT_H

#include <stddef.h>
#include <stdio.h>

#include "tdi_err.h"
#include "tdi_unet_sskip.h"

#define TDI_UNET_SFIT_MEAN 0L /* k of the mean (no-information) baseline */

typedef struct tdi_unet_sfit_opts {
    const char *e2e_config; /* the e2e preset (configs/e2e.yaml): fit sizes, seed, circuit */
    const char *checkpoint; /* the U-Net whose skips are fitted (the sampled one) */
    int levels;             /* bit 0: e1, bit 1: e2 */
    long k;                 /* rank, capped at each level's C; TDI_UNET_SFIT_MEAN: the mean */
    int noise;              /* 1: the circuit's read-out noise; 0: noiseless (R only) */
    const char *cache_dir;  /* NULL: <the preset's out>/sample-fit */
} tdi_unet_sfit_opts;

/* One level's fitted layer (arrays owned, float for the layer). */
typedef struct tdi_unet_sfit_level {
    size_t C, k;             /* k = 0: the mean baseline */
    float *mean, *R, *sd;    /* (C), (C, C) row-major, (C) activation units */
    double gain, r_err;      /* the fit's read-out gain and max |R - U_k U_k^T| */
    double sd_rms;           /* rms over channels of sd, activation units */
    long wires;              /* wire pairs of the level's circuit (0: mean) */
    int cached;              /* 1: read from the cache */
    tdi_unet_sskip layer;
} tdi_unet_sfit_level;

typedef struct tdi_unet_sfit {
    tdi_unet_sfit_level lv[2];
    const tdi_unet_sskip *sk[2]; /* what tdi_unet_sample_sskip takes (NULL: digital) */
    double fit_s;                /* wall time of the fit (0 when every level was cached) */
} tdi_unet_sfit;

/* Parses a level name: "e1" -> 1, "e2" -> 2, "all" -> 3; other -> 0. */
int tdi_unet_sfit_levels(const char *name);

/* Fits (or reads from the cache) the selected levels; progress lines to log (NULL: silent). */
int tdi_unet_sfit_load(const tdi_unet_sfit_opts *o, tdi_unet_sfit *f, FILE *log, tdi_err *err);
void tdi_unet_sfit_destroy(tdi_unet_sfit *f);

#endif
