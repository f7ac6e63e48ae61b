/* tdi_sub_cfg: the config schema tdi-fit reads. Owned sections: the top-level keys (shared),
 * export (what the activation bundles must be) and substrate; circuit, cosim, energy and sweep
 * belong to other components and are skipped. Format (configs/paper.yaml):
 *   seed: 1 / name: paper / out: out/paper
 *   export: {checkpoint, dir, t, n_fit, n_test, pool}
 *   substrate: {mode, enc, dec, D, k, J2, kT, couplings, frobenius, ranks, pd_margin,
 *               readout_gain, skip_encoder, ridge, epochs, batch, lr, weight_decay,
 *               standardise, val_frac, patience}
 * Invariants: unknown keys are errors (tdi_cfg); k <= D; ranks >= 1. Non-goal: writing configs. */
#include "tdi_sub.h"

#include <string.h>

#include "tdi_cfg.h"

void tdi_sub_cfg_defaults(tdi_sub_cfg *c)
{
    /* one line per group of keys, in the order of the format above */
    *c = (tdi_sub_cfg){
        .seed = 1, .name = "paper", .out = "out/paper",
        .checkpoint = "models/unet-c32.ckpt", .t = 200, .n_fit = 10000, .n_test = 10000,
        .pool = 1,
        .mode = "paper", .enc = "e2", .dec = "d2", .D = 64, .k = 16, .J2 = 0.1, .kT = 1.0,
        .couplings = "weights", .frobenius = 1,
        .ranks = {1, 2, 4, 8, 16, 32, 64}, .n_ranks = 7,
        .pd_margin = 0.05, .readout_gain = 1, .skip_encoder = "full", .ridge = 1e-6,
        .epochs = 100, .batch = 256, .lr = 3e-3, .weight_decay = 1e-4,
        .standardise = 1, .val_frac = 0.1, .patience = 10,
    };
}

int tdi_sub_cfg_load(const char *path, tdi_sub_cfg *c, tdi_err *err)
{
    tdi_sub_cfg_defaults(c);
    c->path = path;
    const char *layers = "e1|e2|mid|d2|d1";
    tdi_cfg_key keys[] = {
        {"seed", TDI_CFG_INT, &c->seed, 0, 4294967295.0, 0, NULL, NULL, 0},
        {"name", TDI_CFG_NAME, c->name, 0, 0, sizeof c->name, NULL, NULL, 0},
        {"out", TDI_CFG_STRING, c->out, 0, 0, sizeof c->out, NULL, NULL, 0},
        {"export.checkpoint", TDI_CFG_STRING, c->checkpoint, 0, 0, sizeof c->checkpoint, NULL,
         NULL, 0},
        {"export.dir", TDI_CFG_STRING, c->export_dir, 0, 0, sizeof c->export_dir, NULL, NULL, 0},
        {"export.t", TDI_CFG_INT, &c->t, 0, 999, 0, NULL, NULL, 0},
        {"export.n_fit", TDI_CFG_INT, &c->n_fit, 2, 1e8, 0, NULL, NULL, 0},
        {"export.n_test", TDI_CFG_INT, &c->n_test, 1, 1e8, 0, NULL, NULL, 0},
        {"export.pool", TDI_CFG_INT, &c->pool, 1, 32, 0, NULL, NULL, 0},
        {"substrate.mode", TDI_CFG_STRING, c->mode, 0, 0, sizeof c->mode, NULL, "paper|skip", 0},
        {"substrate.enc", TDI_CFG_STRING, c->enc, 0, 0, sizeof c->enc, NULL, layers, 0},
        {"substrate.dec", TDI_CFG_STRING, c->dec, 0, 0, sizeof c->dec, NULL, layers, 0},
        {"substrate.D", TDI_CFG_INT, &c->D, 1, 4096, 0, NULL, NULL, 0},
        {"substrate.k", TDI_CFG_INT, &c->k, 1, 4096, 0, NULL, NULL, 0},
        {"substrate.J2", TDI_CFG_DOUBLE, &c->J2, 1e-12, 1e6, 0, NULL, NULL, 0},
        {"substrate.kT", TDI_CFG_DOUBLE, &c->kT, 1e-12, 1e6, 0, NULL, NULL, 0},
        {"substrate.couplings", TDI_CFG_STRING, c->couplings, 0, 0, sizeof c->couplings, NULL,
         "weights|activations", 0},
        {"substrate.frobenius", TDI_CFG_BOOL, &c->frobenius, 0, 0, 0, NULL, NULL, 0},
        {"substrate.ranks", TDI_CFG_ILIST, c->ranks, 1, 4096, TDI_SUB_MAXRANKS, &c->n_ranks,
         NULL, 0},
        {"substrate.pd_margin", TDI_CFG_DOUBLE, &c->pd_margin, 1e-6, 0.999, 0, NULL, NULL, 0},
        {"substrate.readout_gain", TDI_CFG_BOOL, &c->readout_gain, 0, 0, 0, NULL, NULL, 0},
        {"substrate.skip_encoder", TDI_CFG_STRING, c->skip_encoder, 0, 0,
         sizeof c->skip_encoder, NULL, "full|projected", 0},
        {"substrate.ridge", TDI_CFG_DOUBLE, &c->ridge, 0, 1e3, 0, NULL, NULL, 0},
        {"substrate.epochs", TDI_CFG_INT, &c->epochs, 0, 1e6, 0, NULL, NULL, 0},
        {"substrate.batch", TDI_CFG_INT, &c->batch, 1, 1e7, 0, NULL, NULL, 0},
        {"substrate.lr", TDI_CFG_DOUBLE, &c->lr, 1e-12, 10, 0, NULL, NULL, 0},
        {"substrate.weight_decay", TDI_CFG_DOUBLE, &c->weight_decay, 0, 10, 0, NULL, NULL, 0},
        {"substrate.standardise", TDI_CFG_BOOL, &c->standardise, 0, 0, 0, NULL, NULL, 0},
        {"substrate.val_frac", TDI_CFG_DOUBLE, &c->val_frac, 0, 0.5, 0, NULL, NULL, 0},
        {"substrate.patience", TDI_CFG_INT, &c->patience, 1, 1e6, 0, NULL, NULL, 0},
    };
    size_t nk = sizeof keys / sizeof keys[0];
    int rc = tdi_cfg_load_preset(path, NULL, keys, nk, 3, err); /* seed, name, out required */
    if (rc)
        return rc;
    if (c->k > c->D)
        return tdi_err_set(err, TDI_ECONFIG, "%s: substrate.k = %ld exceeds substrate.D = %ld",
                           path, c->k, c->D);
    if (c->n_ranks == 0)
        return tdi_err_set(err, TDI_ECONFIG, "%s: substrate.ranks is empty", path);
    if (!c->export_dir[0])
        snprintf(c->export_dir, sizeof c->export_dir, "%s", c->out);
    if (!c->out[0])
        return tdi_err_set(err, TDI_ECONFIG, "%s: 'out' is empty", path);
    return 0;
}
