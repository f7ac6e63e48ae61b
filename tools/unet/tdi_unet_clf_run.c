/* tdi_unet_clf_run: config, training loop (Adam, linear learning-rate decay, reshuffled every
 * epoch), accuracy and features of the classifier (see tdi_unet_clf_run.h). */
#include "tdi_clock.h"
#include "tdi_unet_clf_run.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "tdi_cfg.h"
#include "tdi_unet.h"
#include "tdi_unet_data.h"
#include "tdi_seed.h"

#define K_INT(p, f, lo, hi) {p, TDI_CFG_INT, &c->f, lo, hi, 0, NULL, NULL, 0}
#define K_DBL(p, f, lo, hi) {p, TDI_CFG_DOUBLE, &c->f, lo, hi, 0, NULL, NULL, 0}
#define K_STR(p, f) {p, TDI_CFG_STRING, c->f, 0, 0, sizeof c->f, NULL, NULL, 0}

int tdi_clf_config_load(tdi_clf_config *c, const char *path, tdi_err *err)
{
    *c = (tdi_clf_config){1, 8, 16, 32, 128, 3, 64, 2e-3, 0.05, "", "", 0};
    snprintf(c->data_dir, sizeof c->data_dir, "%s", TDI_UNET_DATA_DIR);
    snprintf(c->out, sizeof c->out, "models/classifier.ckpt");
    tdi_cfg_key keys[] = {
        /* hashed */
        K_INT("seed", seed, 0, 4294967295.0),
        K_INT("model.c1", c1, 1, 256),
        K_INT("model.c2", c2, 1, 256),
        K_INT("model.c3", c3, 1, 256),
        K_INT("model.hidden", hidden, 2, 4096),
        K_INT("train.epochs", epochs, 1, 1000),
        K_INT("train.batch", batch, 1, 4096),
        K_DBL("train.lr", lr, 1e-8, 1.0),
        K_DBL("train.final_lr_frac", final_lr_frac, 0.0, 1.0),
        /* not hashed */
        K_STR("data.dir", data_dir),
        K_STR("train.out", out),
    };
    const size_t n = sizeof keys / sizeof keys[0], n_hashed = 9;
    if (path) {
        int rc = tdi_cfg_load(path, keys, n, err);
        if (rc)
            return rc;
    }
    c->hash = tdi_cfg_hash(keys, n_hashed);
    return TDI_OK;
}

/* The classifier's streams: tdi_seed's default mix, seed G ^ (8 << 48) ^ index, the formula the
 * shipped models/classifier.ckpt was trained with (its purpose value 8 is now the sweep's, with
 * another formula). The mix XORs purpose << 48 into the index, so the same value is reached
 * through TDI_SEED_UNET_INIT with (8 ^ 1) << 48 XORed into the index: indices the U-Net's own
 * initialisation (index 0) never uses. Index: the epoch for the batch order, 10^6 for the
 * initialisation. */
static unsigned long clf_seed(long seed, uint64_t index)
{
    const uint64_t shift = (uint64_t)(8 ^ TDI_SEED_UNET_INIT) << 48;
    return (unsigned long)tdi_seed((uint64_t)seed, TDI_SEED_UNET_INIT, index ^ shift);
}

void tdi_clf_apply(tdi_clf *m, const float *img, size_t n, float *feat, float *prob)
{
    const size_t B = m->max_batch, h = m->arch.hidden;
    for (size_t s = 0; s < n; s += B) {
        const size_t b = n - s < B ? n - s : B;
        tdi_clf_forward(m, img + s * 1024, b);
        if (feat)
            memcpy(feat + s * h, m->feat, b * h * sizeof *feat);
        for (size_t i = 0; prob && i < b; i++) {
            const float *l = m->logits + i * TDI_CLF_CLASSES;
            float *p = prob + (s + i) * TDI_CLF_CLASSES;
            double mx = l[0], z = 0.0;
            for (int k = 1; k < TDI_CLF_CLASSES; k++)
                mx = l[k] > mx ? l[k] : mx;
            for (int k = 0; k < TDI_CLF_CLASSES; k++)
                z += exp(l[k] - mx);
            for (int k = 0; k < TDI_CLF_CLASSES; k++)
                p[k] = (float)(exp(l[k] - mx) / z);
        }
    }
}

double tdi_clf_accuracy(tdi_clf *m, const float *img, const uint8_t *label, size_t n)
{
    const size_t B = m->max_batch;
    size_t right = 0;
    for (size_t s = 0; s < n; s += B) {
        const size_t b = n - s < B ? n - s : B;
        tdi_clf_forward(m, img + s * 1024, b);
        for (size_t i = 0; i < b; i++) {
            const float *l = m->logits + i * TDI_CLF_CLASSES;
            int best = 0;
            for (int k = 1; k < TDI_CLF_CLASSES; k++)
                best = l[k] > l[best] ? k : best;
            right += best == label[s + i];
        }
    }
    return n ? (double)right / (double)n : 0.0;
}

/* One epoch of Adam steps over a fresh permutation; step counts the run's steps. */
static int train_epoch(const tdi_clf_config *c, tdi_clf *m, tdi_unet_adam *adam,
                       const tdi_unet_dataset *ds, long epoch, long *step, long total,
                       float *x, uint8_t *y, size_t *perm, gsl_rng *r, FILE *progress,
                       double t0, tdi_err *err)
{
    const size_t B = (size_t)c->batch, spe = ds->n / B;
    for (size_t i = 0; i < ds->n; i++)
        perm[i] = i;
    gsl_rng_set(r, clf_seed(c->seed, (uint64_t)epoch));
    gsl_ran_shuffle(r, perm, ds->n, sizeof *perm);
    for (size_t k = 0; k < spe; k++, (*step)++) {
        for (size_t i = 0; i < B; i++) {
            memcpy(x + i * 1024, ds->img + perm[k * B + i] * 1024, 1024 * sizeof *x);
            y[i] = ds->label[perm[k * B + i]];
        }
        tdi_clf_forward(m, x, B);
        const double loss = tdi_clf_backward_ce(m, y);
        if (!isfinite(loss))
            return tdi_err_set(err, TDI_ENUM, "classifier: loss %g at step %ld", loss, *step);
        const double f = (double)*step / (double)total;
        tdi_unet_adam_step(adam, m->params, m->grads, c->lr * (1.0 - f * (1.0 - c->final_lr_frac)),
                           0.9, 0.999, 1e-8, 0.0, 0.0);
        if (progress && (*step + 1) % 100 == 0) {
            const double el = tdi_clock_s(CLOCK_MONOTONIC) - t0;
            const double ips = (double)(*step + 1) * (double)B / el;
            fprintf(progress, "classifier: epoch %ld/%ld step %ld/%ld loss %.4f %.0f images/s "
                    "ETA %.0f s\n", epoch + 1, c->epochs, *step + 1, total, loss, ips,
                    (double)(total - *step - 1) * (double)B / ips);
            fflush(progress);
        }
    }
    return TDI_OK;
}

int tdi_clf_train(const tdi_clf_config *c, double *test_acc, FILE *progress, tdi_err *err)
{
    tdi_unet_dataset tr = {0}, te = {0};
    int rc = tdi_unet_dataset_load(&tr, c->data_dir, "train", err);
    if (!rc)
        rc = tdi_unet_dataset_load(&te, c->data_dir, "test", err);
    const size_t B = (size_t)c->batch;
    const tdi_clf_arch a = {(size_t)c->c1, (size_t)c->c2, (size_t)c->c3, (size_t)c->hidden};
    tdi_clf *m = NULL;
    tdi_unet_adam adam = {0};
    float *x = malloc(B * 1024 * sizeof *x);
    uint8_t *y = malloc(B);
    size_t *perm = malloc(60000 * sizeof *perm);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!rc && (!x || !y || !perm || !r))
        rc = tdi_err_set(err, TDI_ENOMEM, "classifier: out of memory");
    if (!rc && tr.n != 60000)
        rc = tdi_err_set(err, TDI_EFORMAT, "classifier: %zu training images, want 60000", tr.n);
    if (!rc)
        rc = tdi_clf_alloc(&m, a, B, err);
    if (!rc)
        rc = tdi_unet_adam_init(&adam, m->n_params, err);
    if (!rc) {
        tdi_clf_init_params(m, clf_seed(c->seed, 1000000));
        const long total = c->epochs * (long)(tr.n / B);
        long step = 0;
        const double t0 = tdi_clock_s(CLOCK_MONOTONIC);
        for (long e = 0; !rc && e < c->epochs; e++)
            rc = train_epoch(c, m, &adam, &tr, e, &step, total, x, y, perm, r, progress, t0,
                             err);
        if (!rc)
            *test_acc = tdi_clf_accuracy(m, te.img, te.label, te.n);
        if (!rc)
            rc = tdi_clf_save(c->out, m, c->hash, err);
    }
    gsl_rng_free(r);
    free(x);
    free(y);
    free(perm);
    tdi_unet_adam_destroy(&adam);
    tdi_clf_free(m);
    tdi_unet_dataset_destroy(&tr);
    tdi_unet_dataset_destroy(&te);
    return rc;
}
