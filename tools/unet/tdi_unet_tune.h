/* tdi_unet_tune: skip-aware fine-tuning (issue 13, docs/e2e.md). A rank-k substrate skip
 * (tdi_unet_sskip.h: per-pixel or per-region channel PCA of the start model's skip tensor on
 * training images, read-out noise at a ratio of the transported signal) sits in the U-Net's
 * forward pass while Adam fine-tunes every weight; the table scores the start and the tuned
 * model with and without the skip on the test draws of `tdi-unet eval`.
 * Config (configs/finetune.yaml; every key optional, defaults in tdi_unet_tune_cfg_defaults;
 * unknown keys are errors): seed, out (directory), and under tune: checkpoint (start, only
 * read), level e1|e2, k, pool, noise circuit|ratio, noise_ratio, circuit, fit_n, steps, batch,
 * lr, ckpt_every, eval_n. noise circuit (default): each channel's read-out noise is the
 * circuit's prediction (tdi_unet_e2e_substrate on the fit's PCA, the `circuit:` section and
 * e2e.J2/kT/pd_margin of the config `circuit`; bundle = 16 positions on a 4 x 4 grid of the
 * first 16 fit images); ratio: noise_ratio x the transported signal rms on every channel.
 * Streams: step s draws its minibatch from tdi_seed(seed, TDI_SEED_TUNE, 2 s) and its t and
 * eps from index 2 s + 1; the PCA fit's t and eps from index 2^40 + first image; skip noise
 * tdi_seed(seed, TDI_SEED_SSKIP, .) with draw 2^32 + s batch in training (test-image index in
 * the table). Non-goals: the substrate's circuit (the layer's map and noise are the model). */
#ifndef TDI_UNET_TUNE_H
#define TDI_UNET_TUNE_H

#include <stdint.h>
#include <stdio.h>

#include "tdi_err.h"
#include "tdi_unet.h"
#include "tdi_unet_cfg.h"
#include "tdi_unet_data.h"

typedef struct tdi_unet_tune_cfg {
    long seed;
    char checkpoint[512]; /* start weights (read only) */
    char out[512];        /* directory: unet-tuned.ckpt, tune-state.ckpt, table.csv */
    char level[8];        /* e1 | e2 */
    long k, pool;         /* rank of the skip, region side (1: per pixel) */
    char noise[16];       /* circuit | ratio: where the read-out noise std comes from */
    double noise_ratio;   /* ratio: noise std / transported signal rms (0: noiseless) */
    char circuit[512];    /* circuit: config with circuit: and e2e: sections (configs/e2e.yaml) */
    long fit_n;           /* training images of the PCA fit */
    long steps, batch;
    double lr;            /* Adam, constant */
    long ckpt_every;      /* steps between resumable states */
    long eval_n;          /* test images of the table */
    uint64_t hash;        /* FNV-1a 64 of the keys above but out, ckpt_every, eval_n */
} tdi_unet_tune_cfg;

void tdi_unet_tune_cfg_defaults(tdi_unet_tune_cfg *t);
/* path may be NULL: defaults. Errors carry file:line:col. */
int tdi_unet_tune_cfg_load(tdi_unet_tune_cfg *t, const char *path, tdi_err *err);

/* The substrate skip of the fine-tune and the arrays it points at (owned). */
typedef struct tdi_unet_tune_skip {
    tdi_unet_sskip s;
    float *mean, *R, *noise_sd; /* (C), (C, C) = V_k V_k^T, (C) */
    double captured;            /* fraction of the channel variance in the top k directions */
    double signal_rms;          /* sqrt(sum of the top k eigenvalues / C) */
    double noise_rms;           /* rms over channels of noise_sd */
    double op_signal;           /* circuit: the operating point's per-sample signal, activation
                                   units (its noise target is circuit.target_noise_ratio x it);
                                   ratio: 0 */
} tdi_unet_tune_skip;
/* Fits the skip on the model m (its sskip must be NULL; batch <= m->max_batch images at a time)
 * over the first t->fit_n images of train. Caller calls tdi_unet_tune_skip_destroy. */
int tdi_unet_tune_fit(const tdi_unet_config *c, const tdi_unet_tune_cfg *t, tdi_unet *m,
                      const tdi_unet_dataset *train, tdi_unet_tune_skip *sk, tdi_err *err);
void tdi_unet_tune_skip_destroy(tdi_unet_tune_skip *sk);

/* Fine-tunes from <out>/tune-state.ckpt when it exists (same hash required), else from
 * t->checkpoint with fresh Adam moments; saves the state every ckpt_every steps and at the end
 * and the tuned weights to <out>/unet-tuned.ckpt. stop_after > 0 stops after that many steps of
 * this call without a final save (a simulated kill, for the resume test). sk: the fitted skip. */
int tdi_unet_tune_train(const tdi_unet_config *c, const tdi_unet_tune_cfg *t,
                        const tdi_unet_tune_skip *sk, const tdi_unet_dataset *train,
                        long stop_after, FILE *progress, tdi_err *err);

#define TDI_UNET_TUNE_NROWS 5
typedef struct tdi_unet_tune_table {
    const char *row[TDI_UNET_TUNE_NROWS];     /* "start, no skip", ... */
    double mse[TDI_UNET_TUNE_NROWS][5];       /* t buckets of tdi-unet eval, then all */
    long n[4];                                /* images per bucket */
    double fit_s, tune_s, eval_s;             /* wall seconds of the three stages */
    char csv[1100];
} tdi_unet_tune_table;
/* The whole job: fit, fine-tune (resuming), then the table of the start and tuned models with
 * no skip, the mean skip (start model) and the substrate skip, written to <out>/table.csv. */
int tdi_unet_tune_run(const tdi_unet_config *c, const tdi_unet_tune_cfg *t,
                      tdi_unet_tune_table *tab, FILE *progress, tdi_err *err);

#endif
