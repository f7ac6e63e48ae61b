/* tdi_unet_cfg: schema and defaults of configs/unet.yaml (see tdi_unet_cfg.h). */
#include "tdi_unet_cfg.h"

#include <stdio.h>
#include <string.h>

#include "tdi_cfg.h"

void tdi_unet_config_defaults(tdi_unet_config *c)
{
    /* one line per section of the schema (tdi_unet_cfg.h) */
    *c = (tdi_unet_config){
        .seed = 1, .data_dir = "/usr/share/datasets/fashion-mnist",
        .channels = 32, .groups = 8, .T = 1000, .beta_start = 1e-4, .beta_end = 0.02,
        .epochs = 2, .batch = 128, .lr = 1e-3, .warmup = 100, .decay_frac = 0.3,
        .final_lr_frac = 0.1, .beta1 = 0.9, .beta2 = 0.999, .adam_eps = 1e-8, .weight_decay = 0.0,
        .grad_clip = 1.0, .max_steps = 0, .ckpt_every = 100,
        .state = "out/unet/train-state.ckpt", .out = "models/unet-c32.ckpt",
        .eval_n = 10000, .eval_seed = 2, .eval_batch = 250,
        .sample_n = 64, .sample_seed = 3, .sample_out = "docs/samples.png",
    };
}

#define K_INT(p, f, lo, hi) {p, TDI_CFG_INT, &c->f, lo, hi, 0, NULL, NULL, 0}
#define K_DBL(p, f, lo, hi) {p, TDI_CFG_DOUBLE, &c->f, lo, hi, 0, NULL, NULL, 0}
#define K_STR(p, f) {p, TDI_CFG_STRING, c->f, 0, 0, sizeof c->f, NULL, NULL, 0}

int tdi_unet_config_load(tdi_unet_config *c, const char *path, tdi_err *err)
{
    tdi_unet_config_defaults(c);
    /* The first block is what the hash covers. */
    tdi_cfg_key keys[] = {
        K_INT("seed", seed, 0, 4294967295.0),
        K_INT("model.channels", channels, 8, 256),
        K_INT("model.groups", groups, 1, 64),
        K_INT("diffusion.T", T, 2, 100000),
        K_DBL("diffusion.beta_start", beta_start, 1e-8, 0.5),
        K_DBL("diffusion.beta_end", beta_end, 1e-8, 0.5),
        K_INT("train.epochs", epochs, 1, 10000),
        K_INT("train.batch", batch, 1, 4096),
        K_DBL("train.lr", lr, 1e-8, 1.0),
        K_INT("train.warmup", warmup, 0, 100000000),
        K_DBL("train.decay_frac", decay_frac, 0.0, 1.0),
        K_DBL("train.final_lr_frac", final_lr_frac, 0.0, 1.0),
        K_DBL("train.beta1", beta1, 0.0, 0.999999),
        K_DBL("train.beta2", beta2, 0.0, 0.99999999),
        K_DBL("train.adam_eps", adam_eps, 1e-12, 1.0),
        K_DBL("train.weight_decay", weight_decay, 0.0, 1.0),
        K_DBL("train.grad_clip", grad_clip, 0.0, 1e6),
        K_INT("train.max_steps", max_steps, 0, 1000000000),
        /* not hashed */
        K_STR("data.dir", data_dir),
        K_INT("train.ckpt_every", ckpt_every, 1, 1000000000),
        K_STR("train.state", state),
        K_STR("train.out", out),
        K_INT("eval.n", eval_n, 1, 10000),
        K_INT("eval.seed", eval_seed, 0, 4294967295.0),
        K_INT("eval.batch", eval_batch, 1, 4096),
        K_INT("sample.n", sample_n, 1, 1024),
        K_INT("sample.seed", sample_seed, 0, 4294967295.0),
        K_STR("sample.out", sample_out),
    };
    const size_t n = sizeof keys / sizeof keys[0], n_hashed = 18;
    if (path) {
        int rc = tdi_cfg_load(path, keys, n, err);
        if (rc)
            return rc;
    }
    const char *where = path ? path : "(defaults)";
    if (c->channels % c->groups != 0 || c->channels % 2 != 0)
        return tdi_err_set(err, TDI_ECONFIG,
                           "%s: model.channels (%ld) must be even and a multiple of model.groups "
                           "(%ld)", where, c->channels, c->groups);
    if (c->beta_end < c->beta_start)
        return tdi_err_set(err, TDI_ECONFIG,
                           "%s: diffusion.beta_end (%g) is below diffusion.beta_start (%g)", where,
                           c->beta_end, c->beta_start);
    if (!c->state[0] || !c->out[0])
        return tdi_err_set(err, TDI_ECONFIG, "%s: train.state and train.out must be set", where);
    c->hash = tdi_cfg_hash(keys, n_hashed);
    return TDI_OK;
}

double tdi_unet_config_lr(const tdi_unet_config *c, long step, long total)
{
    if (c->warmup > 0 && step < c->warmup)
        return c->lr * (double)(step + 1) / (double)c->warmup;
    const long decay_steps = (long)(c->decay_frac * (double)total);
    const long start = total - decay_steps;
    if (decay_steps > 0 && step >= start) {
        const double f = (double)(step - start) / (double)decay_steps;
        return c->lr * (1.0 - f * (1.0 - c->final_lr_frac));
    }
    return c->lr;
}
