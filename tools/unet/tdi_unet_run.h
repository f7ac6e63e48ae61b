/* tdi_unet_run: the U-Net's jobs: train (resumable), eval (epsilon-MSE by t bucket), sample
 * (DDPM ancestral; DDIM in tdi_unet_sampler.h), export (activation bundle, docs/formats.md)
 * and bench. Progress goes to the caller's FILE (stderr in the main; NULL for silence).
 * Randomness: every draw comes from a generator seeded by tdi_seed(config seed,
 * TDI_SEED_UNET_*, index) (common/tdi_seed.h), so a resumed run repeats the uninterrupted run
 * step for step. */
#ifndef TDI_UNET_RUN_H
#define TDI_UNET_RUN_H

#include <stdint.h>
#include <stdio.h>

#include "tdi_err.h"
#include "tdi_unet.h"
#include "tdi_unet_cfg.h"
#include "tdi_unet_data.h"

/* Trains from the state checkpoint if it exists (same config hash required), else from scratch;
 * writes the state every ckpt_every steps and at the end, and the final weights to c->out.
 * stop_after > 0 stops (like a kill, without a final save) once that many steps ran in this
 * call: for the resume test. */
int tdi_unet_train(const tdi_unet_config *c, long stop_after, FILE *progress, tdi_err *err);

#define TDI_UNET_NBUCKETS 4
typedef struct tdi_unet_eval_result {
    long n[TDI_UNET_NBUCKETS];             /* t in [0,100), [100,300), [300,600), [600,1000) */
    double mse[TDI_UNET_NBUCKETS];         /* model epsilon-MSE */
    double trivial[TDI_UNET_NBUCKETS];     /* epsilon-hat = 0 */
    double mse_all, trivial_all;
} tdi_unet_eval_result;
/* Test-set epsilon-MSE of the checkpoint ckpt (weights) on c->eval_n images. */
int tdi_unet_eval(const tdi_unet_config *c, const char *ckpt, tdi_unet_eval_result *r,
                  FILE *progress, tdi_err *err);

/* The same on a model the caller holds (with its substrate skips, if set; m->sskip_draw is set
 * to each batch's first test-image index), over the first c->eval_n images of ds (the test
 * split), batches of min(eval.batch, m->max_batch). */
int tdi_unet_eval_model(const tdi_unet_config *c, tdi_unet *m, const tdi_unet_dataset *ds,
                        tdi_unet_eval_result *r, FILE *progress, tdi_err *err);

/* DDPM ancestral sampling of n images (out [n][1024], clipped to [-1, 1]): tdi_unet_sample_ckpt
 * (tdi_unet_sampler.h) with the DDPM kind, batch 64. */
int tdi_unet_sample(const tdi_unet_config *c, const char *ckpt, size_t n, unsigned long seed,
                    float *out, FILE *progress, tdi_err *err);

typedef struct tdi_unet_export_opts {
    const char *ckpt;  /* checkpoint */
    const char *split; /* "train" | "test" */
    long n, first, t, pool;
    uint64_t seed;
    const char *out; /* bundle directory (replaced atomically) */
} tdi_unet_export_opts;
int tdi_unet_export(const tdi_unet_config *c, const tdi_unet_export_opts *o, FILE *progress,
                    tdi_err *err);

/* One seeded noise draw (mt19937 seeded with seed): t[i] = t_fixed (>= 0) or uniform in
 * [0, T) for each image first, then eps image by image (ziggurat), xt = sqrt(abar[t]) x0 +
 * sqrt(1 - abar[t]) eps: the order of the training, eval and export streams. x0, eps, xt
 * [b][1024], t [b]. */
int tdi_unet_noise_stream(uint64_t seed, long t_fixed, const double *abar, size_t T,
                          const float *x0, size_t b, long *t, float *eps, float *xt,
                          tdi_err *err);

/* The export's noised images first..first+b-1 of a split (split_id 0 train, 1 test) at step t:
 * eps from the stream tdi_seed(seed, TDI_SEED_UNET_EXPORT, split_id << 40 | first), exactly as
 * tdi_unet_export draws its block starting there (its blocks start at o->first + 250 j), and
 * xt = sqrt(abar[t]) x0 + sqrt(1 - abar[t]) eps. x0, eps, xt: [b][1024]. */
int tdi_unet_export_noise(uint64_t seed, int split_id, long first, long t, const double *abar,
                          const float *x0, size_t b, float *eps, float *xt, tdi_err *err);

/* Measures training (forward + backward + Adam) and inference images/s at batch b, each for
 * `seconds` (s) after one warm-up step; sskip != 0 puts full-rank noisy substrate skips at e1
 * and e2 (tdi_unet_sskip.h) into both. n_params (may be NULL) gets the parameter count. */
int tdi_unet_bench(const tdi_unet_config *c, long b, double seconds, int sskip,
                   double *train_ips, double *infer_ips, size_t *n_params, tdi_err *err);

#endif
