/* tdi_unet_cfg: configs/unet.yaml, the U-Net's training, evaluation and sampling config.
 * Schema (every key optional, defaults below; unknown keys are errors):
 *   seed                          master seed (init, batches, noise)        default 1
 *   data.dir                      Fashion-MNIST folder   /usr/share/datasets/fashion-mnist
 *   model.channels, model.groups  base width C, GroupNorm groups            32, 8
 *   diffusion.T, .beta_start, .beta_end                                     1000, 1e-4, 0.02
 *   train.epochs, .batch, .lr, .warmup (steps), .decay_frac (last fraction of steps decays
 *     linearly to lr*final_lr_frac), .final_lr_frac, .beta1, .beta2, .adam_eps, .weight_decay,
 *     .grad_clip (global L2 norm, 0 = off), .max_steps (0 = epochs), .ckpt_every (steps),
 *     .state (resumable checkpoint), .out (final weights)
 *   eval.n, eval.seed, eval.batch; sample.n, sample.seed, sample.out
 * The config hash (stored in checkpoints; resume refuses a different one) covers seed, model,
 * diffusion and the train hyper-parameters, not paths or eval/sample settings. */
#ifndef TDI_UNET_CFG_H
#define TDI_UNET_CFG_H

#include <stdint.h>

#include "tdi_err.h"

typedef struct tdi_unet_config {
    long seed;
    char data_dir[512];
    long channels, groups;
    long T;
    double beta_start, beta_end;
    long epochs, batch, warmup, max_steps, ckpt_every;
    double lr, decay_frac, final_lr_frac, beta1, beta2, adam_eps, weight_decay, grad_clip;
    char state[512], out[512];
    long eval_n, eval_seed, eval_batch;
    long sample_n, sample_seed;
    char sample_out[512];
    uint64_t hash; /* of the training-relevant keys */
} tdi_unet_config;

void tdi_unet_config_defaults(tdi_unet_config *c);
/* path may be NULL: defaults only. */
int tdi_unet_config_load(tdi_unet_config *c, const char *path, tdi_err *err);
/* Learning rate at (0-based) step of total steps: linear warmup, constant, linear decay. */
double tdi_unet_config_lr(const tdi_unet_config *c, long step, long total);

#endif
