/* tdi_unet_sampler: DDPM ancestral and DDIM sampling of the U-Net, batched, seeded per image.
 * Invariant: image i draws its start noise x_T (first 1024 values) and every later noise value
 * from its own generator, seeded by tdi_seed(seed, TDI_SEED_UNET_SAMPLE, i): the same seed
 * gives the same images whatever the batch, and DDPM and DDIM runs of one seed start from the
 * same x_T, so their images correspond. With substrate skips (tdi_unet_sample_sskip) the
 * layers' read-out noise at the step of U-Net time t comes from the layer's streams under the
 * seed tdi_seed(seed, TDI_SEED_SAMPLE_SSKIP, t), image index = image number, so image i of a
 * model with skips corresponds to image i of the unmodified one. Non-goals: classifier
 * guidance, other schedules. */
#ifndef TDI_UNET_SAMPLER_H
#define TDI_UNET_SAMPLER_H

#include <stddef.h>
#include <stdio.h>

#include "tdi_err.h"
#include "tdi_unet.h"
#include "tdi_unet_cfg.h"

typedef enum { TDI_UNET_DDPM = 0, TDI_UNET_DDIM } tdi_unet_sampler_kind;

typedef struct tdi_unet_sampler {
    tdi_unet_sampler_kind kind;
    long steps;         /* DDIM: S steps in 1..T (DDPM always runs T) */
    double eta;         /* DDIM: 0 deterministic .. 1 the DDPM posterior variance */
    unsigned long seed; /* per-image streams, see above */
    int clip_x0;        /* DDIM: clip the predicted x0 to [-1, 1] and recompute eps from it */
    long batch;         /* images per U-Net forward (im2col scratch: 3.5 MB per image at C = 32) */
} tdi_unet_sampler;

/* DDIM time steps: ts[i] = floor(i T / S), i = 0..S-1 (ascending; S = T gives 0..T-1). */
void tdi_unet_ddim_times(size_t T, size_t S, long *ts);

/* DDPM ancestral update of n values, in place (Ho et al. 2020, eq. 11):
 * x <- (x - beta_t / sqrt(1 - abar_t) eps) / sqrt(1 - beta_t) + sigma z; z may be NULL (0). */
void tdi_unet_ddpm_update(float *x, const float *eps, const float *z, size_t n, double beta_t,
                          double abar_t, double sigma);
/* DDIM sigma (Song et al. 2021, eq. 16):
 * eta sqrt((1 - abar_prev) / (1 - abar_t)) sqrt(1 - abar_t / abar_prev). */
double tdi_unet_ddim_sigma(double abar_t, double abar_prev, double eta);
/* DDIM update of n values, in place (eq. 12): x0 = (x - sqrt(1 - abar_t) eps) / sqrt(abar_t);
 * x <- sqrt(abar_prev) x0 + sqrt(1 - abar_prev - sigma^2) eps + sigma z (z may be NULL).
 * clip: x0 is clipped to [-1, 1] and eps recomputed from it, (x - sqrt(abar_t) x0) /
 * sqrt(1 - abar_t) (as diffusers' clip_sample). */
void tdi_unet_ddim_update(float *x, const float *eps, const float *z, size_t n, double abar_t,
                          double abar_prev, double eta, int clip);

/* Samples n images into out [n][1024] (clipped to [-1, 1]) with the loaded model m
 * (m->max_batch >= s->batch) and the schedule of c. Progress (images/s, ETA) to progress
 * (NULL: silent). */
int tdi_unet_sample_model(tdi_unet *m, const tdi_unet_config *c, const tdi_unet_sampler *s,
                          size_t n, float *out, FILE *progress, tdi_err *err);
/* The same with substrate skips: sk[0] replaces e1 and sk[1] e2 at every step (NULL: the
 * digital skip; both NULL: tdi_unet_sample_model, bit for bit). The layers' own seed fields are
 * ignored (see the file header); m->sskip is restored on return. */
int tdi_unet_sample_sskip(tdi_unet *m, const tdi_unet_config *c, const tdi_unet_sampler *s,
                          const tdi_unet_sskip *const sk[2], size_t n, float *out,
                          FILE *progress, tdi_err *err);
/* The same from a checkpoint file. */
int tdi_unet_sample_ckpt(const tdi_unet_config *c, const char *ckpt, const tdi_unet_sampler *s,
                         size_t n, float *out, FILE *progress, tdi_err *err);
/* The same with substrate skips (sk as tdi_unet_sample_sskip; NULL: none). */
int tdi_unet_sample_ckpt_sskip(const tdi_unet_config *c, const char *ckpt,
                               const tdi_unet_sampler *s, const tdi_unet_sskip *const sk[2],
                               size_t n, float *out, FILE *progress, tdi_err *err);

#endif
