/* tdi_unet_sskip: a U-Net skip tensor replaced by what a substrate delivers (issue 13): per pixel
 * (pool 1) or per p x p region mean (pool p, within-region deviations kept), out = mean +
 * R (v - mean) + noise, noise ~ N(0, noise_sd[c]^2) drawn from seeded streams. R and noise_sd come
 * from the fit (tools/unet/tdi_unet_e2e.c, docs/e2e.md); this file only applies them.
 * Layout: the U-Net's channel-major CBHW, x [C][b][HW]. Non-goals: fitting, time evolution. */
#ifndef TDI_UNET_SSKIP_H
#define TDI_UNET_SSKIP_H

#include <stddef.h>

enum {
    TDI_UNET_SSKIP_SUBSTRATE = 0, /* out = mean + R (v - mean) + noise */
    TDI_UNET_SSKIP_MEAN = 1,      /* out = mean: the no-information baseline (R, noise unused) */
    TDI_UNET_SSKIP_ZERO = 2       /* out = 0: the skip removed (mean, R, noise unused) */
};

typedef struct tdi_unet_sskip {
    int level;          /* 0: e1 (C x 32 x 32), 1: e2 (2C x 16 x 16); picks the noise stream */
    size_t C, k;        /* channels, rank of R (k = C: full); k is informational here */
    size_t pool;        /* 1: per pixel; p: per p x p region (region means), side % p == 0 */
    float *mean;        /* (C) training-set mean channel vector (not owned) */
    float *R;           /* (C, C) row-major: out_c = mean_c + sum_j R[c][j] (v_j - mean_j) */
    float *noise_sd;    /* (C) read-out noise std per channel; NULL or 0: noiseless */
    unsigned long seed; /* noise streams: tdi_seed(seed, TDI_SEED_SSKIP, 2 (draw + i) + level) */
    int mode;           /* TDI_UNET_SSKIP_SUBSTRATE | _MEAN | _ZERO */
} tdi_unet_sskip;

/* x [C][b][HW] in place (HW = side^2; C <= 1024, else the call leaves x unchanged). Image i of the call draws its noise from its own stream,
 * index 2 (draw + i) + level, regions in row-major order, channels inner: pass draw = the global
 * index of the batch's first image and the numbers do not depend on the batch size. */
void tdi_unet_sskip_forward(const tdi_unet_sskip *s, float *x, size_t b, size_t HW,
                            unsigned long draw);
/* dx [C][b][HW] in place: the gradient of the output -> the gradient of the input (the noise is
 * additive and independent of x, so the map is linear: R^T per pixel, pool p: dx_j +=
 * (R - I)^T (sum of dx over j's region) / p^2; MEAN and ZERO use R = 0). */
void tdi_unet_sskip_backward(const tdi_unet_sskip *s, float *dx, size_t b, size_t HW);

#endif
