/* tdi_unet_run: training, evaluation, sampling, export and bench jobs of the U-Net (see
 * tdi_unet_run.h). Steps are numbered from 0; step s of the run uses the batch
 * perm(epoch = s / spe)[ (s % spe) * batch ...] with spe = floor(60000 / batch). */
#include "tdi_clock.h"
#include "tdi_unet_run.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "tdi_io.h"
#include "tdi_npy.h"
#include "tdi_seed.h"
#include "tdi_unet_data.h"
#include "tdi_unet_sampler.h"

static tdi_unet_arch arch_of(const tdi_unet_config *c)
{
    tdi_unet_arch a = {(size_t)c->channels, (size_t)c->groups};
    return a;
}

static int file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static int mkdirs_for(const char *path, tdi_err *err)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return TDI_OK;
    *slash = '\0';
    return dir[0] ? tdi_mkdirs(dir, err) : TDI_OK;
}

/* The noised batch: xt = sqrt(abar) x0 + sqrt(1 - abar) eps for the given t's. */
static void noise_batch(const float *x0, const long *t, size_t b, const double *abar,
                        gsl_rng *r, float *eps, float *xt)
{
    for (size_t i = 0; i < b; i++) {
        const double sa = sqrt(abar[t[i]]), sb = sqrt(1.0 - abar[t[i]]);
        for (size_t p = 0; p < 1024; p++) {
            const float e = (float)gsl_ran_gaussian_ziggurat(r, 1.0);
            eps[i * 1024 + p] = e;
            xt[i * 1024 + p] = (float)(sa * x0[i * 1024 + p] + sb * e);
        }
    }
}

int tdi_unet_noise_stream(uint64_t seed, long t_fixed, const double *abar, size_t T,
                          const float *x0, size_t b, long *t, float *eps, float *xt,
                          tdi_err *err)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r)
        return tdi_err_set(err, TDI_ENOMEM, "noise stream: out of memory");
    gsl_rng_set(r, seed);
    for (size_t i = 0; i < b; i++)
        t[i] = t_fixed >= 0 ? t_fixed : (long)gsl_rng_uniform_int(r, T);
    noise_batch(x0, t, b, abar, r, eps, xt);
    gsl_rng_free(r);
    return TDI_OK;
}

int tdi_unet_export_noise(uint64_t seed, int split_id, long first, long t, const double *abar,
                          const float *x0, size_t b, float *eps, float *xt, tdi_err *err)
{
    long *tl = malloc((b ? b : 1) * sizeof *tl);
    if (!tl)
        return tdi_err_set(err, TDI_ENOMEM, "export noise: out of memory");
    int rc = tdi_unet_noise_stream(
        tdi_seed(seed, TDI_SEED_UNET_EXPORT, (uint64_t)split_id << 40 | (uint64_t)first), t,
        abar, (size_t)t + 1, x0, b, tl, eps, xt, err);
    free(tl);
    return rc;
}

int tdi_unet_train(const tdi_unet_config *c, long stop_after, FILE *progress, tdi_err *err)
{
    tdi_unet_dataset ds;
    int rc = tdi_unet_dataset_load(&ds, c->data_dir, "train", err);
    if (rc)
        return rc;
    const size_t B = (size_t)c->batch, T = (size_t)c->T;
    const long spe = (long)(ds.n / B);
    if (spe < 1) {
        tdi_unet_dataset_destroy(&ds);
        return tdi_err_set(err, TDI_ECONFIG, "train.batch %zu exceeds the %zu training images",
                           B, ds.n);
    }
    const long total = c->max_steps > 0 ? c->max_steps : c->epochs * spe;
    tdi_unet *m = NULL;
    tdi_unet_adam adam = {0};
    double *beta = malloc(T * sizeof *beta), *abar = malloc(T * sizeof *abar);
    float *x0 = malloc(B * 1024 * sizeof *x0), *xt = malloc(B * 1024 * sizeof *xt);
    float *eps = malloc(B * 1024 * sizeof *eps), *tf = malloc(B * sizeof *tf);
    long *tl = malloc(B * sizeof *tl);
    size_t *perm = malloc(ds.n * sizeof *perm);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!beta || !abar || !x0 || !xt || !eps || !tf || !tl || !perm || !r) {
        rc = tdi_err_set(err, TDI_ENOMEM, "train: out of memory");
        goto out;
    }
    tdi_unet_schedule(T, c->beta_start, c->beta_end, beta, abar);
    if ((rc = tdi_unet_alloc(&m, arch_of(c), B, err)) ||
        (rc = tdi_unet_cache_cols(m, err)) ||
        (rc = tdi_unet_adam_init(&adam, m->n_params, err)))
        goto out;
    long step = 0;
    if (file_exists(c->state)) {
        tdi_unet_ckpt_info info;
        if ((rc = tdi_unet_ckpt_peek(c->state, &info, err)))
            goto out;
        if (info.config_hash != c->hash) {
            rc = tdi_err_set(err, TDI_ECONFIG,
                             "%s: was written by a different training config (hash %016llx, this "
                             "config %016llx); delete it to start over",
                             c->state, (unsigned long long)info.config_hash,
                             (unsigned long long)c->hash);
            goto out;
        }
        if ((rc = tdi_unet_ckpt_load(c->state, m, &adam, &info, err)))
            goto out;
        step = (long)info.step;
        if (progress)
            fprintf(progress, "resuming from %s at step %ld of %ld\n", c->state, step, total);
    } else {
        tdi_unet_init_params(m, tdi_seed((uint64_t)c->seed, TDI_SEED_UNET_INIT, 0));
    }
    if ((rc = mkdirs_for(c->state, err)) || (rc = mkdirs_for(c->out, err)))
        goto out;
    long cur_epoch = -1, ran = 0;
    double t0 = tdi_clock_s(CLOCK_MONOTONIC), loss_ema = 0.0;
    long ema_n = 0;
    while (step < total) {
        const long epoch = step / spe, k = step % spe;
        if (epoch != cur_epoch) {
            for (size_t i = 0; i < ds.n; i++)
                perm[i] = i;
            gsl_rng_set(r, tdi_seed((uint64_t)c->seed, TDI_SEED_UNET_PERM, (uint64_t)epoch));
            gsl_ran_shuffle(r, perm, ds.n, sizeof *perm);
            cur_epoch = epoch;
        }
        gsl_rng_set(r, tdi_seed((uint64_t)c->seed, TDI_SEED_UNET_STEP, (uint64_t)step));
        for (size_t i = 0; i < B; i++) {
            memcpy(x0 + i * 1024, ds.img + perm[(size_t)k * B + i] * 1024, 1024 * sizeof(float));
            tl[i] = (long)gsl_rng_uniform_int(r, T);
            tf[i] = (float)tl[i];
        }
        noise_batch(x0, tl, B, abar, r, eps, xt);
        tdi_unet_forward(m, xt, tf, B, NULL);
        const double loss = tdi_unet_backward_mse(m, eps);
        if (!isfinite(loss)) {
            rc = tdi_err_set(err, TDI_ENUM, "train: loss is %g at step %ld: diverged", loss, step);
            goto out;
        }
        tdi_unet_adam_step(&adam, m->params, m->grads, tdi_unet_config_lr(c, step, total),
                           c->beta1, c->beta2, c->adam_eps, c->weight_decay, c->grad_clip);
        step++;
        ran++;
        loss_ema = ema_n == 0 ? loss : 0.98 * loss_ema + 0.02 * loss;
        ema_n++;
        if (stop_after > 0 && ran >= stop_after)
            break; /* simulated kill: no save beyond the periodic ones */
        const int last = step == total;
        if (step % c->ckpt_every == 0 || last) {
            if ((rc = tdi_unet_ckpt_save(c->state, m, c->hash, (uint64_t)step,
                                         (uint64_t)(step / spe), &adam, err)))
                goto out;
        }
        if (progress && (step % 10 == 0 || last)) {
            const double el = tdi_clock_s(CLOCK_MONOTONIC) - t0;
            const double ips = (double)ran * (double)B / el;
            const double eta = (double)(total - step) * (double)B / ips;
            fprintf(progress,
                    "epoch %ld/%ld step %ld/%ld loss %.5f (avg %.5f) lr %.2e %.1f images/s ETA "
                    "%.0f s\n",
                    (step - 1) / spe + 1, (total + spe - 1) / spe, step, total, loss,
                    loss_ema, tdi_unet_config_lr(c, step - 1, total), ips, eta);
            fflush(progress);
        }
    }
    if (step >= total && !(stop_after > 0 && ran >= stop_after))
        rc = tdi_unet_ckpt_save(c->out, m, c->hash, (uint64_t)step, (uint64_t)(step / spe), NULL,
                                err);
out:
    gsl_rng_free(r);
    free(beta);
    free(abar);
    free(x0);
    free(xt);
    free(eps);
    free(tf);
    free(tl);
    free(perm);
    tdi_unet_adam_destroy(&adam);
    tdi_unet_free(m);
    tdi_unet_dataset_destroy(&ds);
    return rc;
}

static int load_model(const tdi_unet_config *c, const char *ckpt, size_t batch, tdi_unet **m,
                      tdi_err *err)
{
    int rc = tdi_unet_alloc(m, arch_of(c), batch, err);
    if (rc)
        return rc;
    if ((rc = tdi_unet_ckpt_load(ckpt, *m, NULL, NULL, err))) {
        tdi_unet_free(*m);
        *m = NULL;
    }
    return rc;
}

static int bucket_of(long t)
{
    return t < 100 ? 0 : t < 300 ? 1 : t < 600 ? 2 : 3;
}

int tdi_unet_eval_model(const tdi_unet_config *c, tdi_unet *m, const tdi_unet_dataset *ds,
                        tdi_unet_eval_result *res, FILE *progress, tdi_err *err)
{
    memset(res, 0, sizeof *res);
    if (c->T != 1000)
        return tdi_err_set(err, TDI_ECONFIG, "eval: the t buckets assume T = 1000, not %ld", c->T);
    const size_t B = (size_t)c->eval_batch < m->max_batch ? (size_t)c->eval_batch : m->max_batch;
    const size_t T = (size_t)c->T, n = (size_t)c->eval_n < ds->n ? (size_t)c->eval_n : ds->n;
    double *beta = malloc(T * sizeof *beta), *abar = malloc(T * sizeof *abar);
    float *xt = malloc(B * 1024 * sizeof *xt), *eps = malloc(B * 1024 * sizeof *eps);
    float *tf = malloc(B * sizeof *tf);
    long *tl = malloc(B * sizeof *tl);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    double se[TDI_UNET_NBUCKETS] = {0}, st[TDI_UNET_NBUCKETS] = {0};
    int rc = TDI_OK;
    if (!beta || !abar || !xt || !eps || !tf || !tl || !r) {
        rc = tdi_err_set(err, TDI_ENOMEM, "eval: out of memory");
        goto out;
    }
    tdi_unet_schedule(T, c->beta_start, c->beta_end, beta, abar);
    double t0 = tdi_clock_s(CLOCK_MONOTONIC);
    for (size_t s = 0; s < n; s += B) {
        const size_t b = n - s < B ? n - s : B;
        gsl_rng_set(r, tdi_seed((uint64_t)c->eval_seed, TDI_SEED_UNET_EVAL, s));
        for (size_t i = 0; i < b; i++) {
            tl[i] = (long)gsl_rng_uniform_int(r, T);
            tf[i] = (float)tl[i];
        }
        noise_batch(ds->img + s * 1024, tl, b, abar, r, eps, xt);
        m->sskip_draw = s; /* substrate-skip noise: the test image's index */
        tdi_unet_forward(m, xt, tf, b, NULL);
        for (size_t i = 0; i < b; i++) {
            double e2 = 0.0, z2 = 0.0;
            for (size_t p = 0; p < 1024; p++) {
                const double d = (double)m->eps[i * 1024 + p] - eps[i * 1024 + p];
                e2 += d * d;
                z2 += (double)eps[i * 1024 + p] * eps[i * 1024 + p];
            }
            const int k = bucket_of(tl[i]);
            se[k] += e2 / 1024.0;
            st[k] += z2 / 1024.0;
            res->n[k]++;
        }
        if (progress)
            fprintf(progress, "eval %zu/%zu images, %.1f images/s\r", s + b, n,
                    (double)(s + b) / (tdi_clock_s(CLOCK_MONOTONIC) - t0));
    }
    if (progress)
        fprintf(progress, "\n");
    double sa = 0.0, sta = 0.0;
    long na = 0;
    for (int k = 0; k < TDI_UNET_NBUCKETS; k++) {
        res->mse[k] = res->n[k] ? se[k] / (double)res->n[k] : NAN;
        res->trivial[k] = res->n[k] ? st[k] / (double)res->n[k] : NAN;
        sa += se[k];
        sta += st[k];
        na += res->n[k];
    }
    res->mse_all = sa / (double)na;
    res->trivial_all = sta / (double)na;
out:
    gsl_rng_free(r);
    free(beta);
    free(abar);
    free(xt);
    free(eps);
    free(tf);
    free(tl);
    return rc;
}

int tdi_unet_eval(const tdi_unet_config *c, const char *ckpt, tdi_unet_eval_result *res,
                  FILE *progress, tdi_err *err)
{
    memset(res, 0, sizeof *res);
    tdi_unet_dataset ds;
    int rc = tdi_unet_dataset_load(&ds, c->data_dir, "test", err);
    if (rc)
        return rc;
    tdi_unet *m = NULL;
    if (!(rc = load_model(c, ckpt, (size_t)c->eval_batch, &m, err)))
        rc = tdi_unet_eval_model(c, m, &ds, res, progress, err);
    tdi_unet_free(m);
    tdi_unet_dataset_destroy(&ds);
    return rc;
}

int tdi_unet_sample(const tdi_unet_config *c, const char *ckpt, size_t n, unsigned long seed,
                    float *out, FILE *progress, tdi_err *err)
{
    const tdi_unet_sampler s = {TDI_UNET_DDPM, c->T, 1.0, seed, 0, 64};
    return tdi_unet_sample_ckpt(c, ckpt, &s, n, out, progress, err);
}

/* Pools a CBHW block output [ch][B][side^2] for batch rows s..s+b into dst [N][ch*p*p]. */
static void pool_rows(const float *src, size_t ch, size_t side, size_t b, size_t p, float *dst,
                      size_t s)
{
    const size_t hw = side * side, cell = side / p, dd = ch * p * p;
    for (size_t c = 0; c < ch; c++)
        for (size_t i = 0; i < b; i++) {
            const float *pl = src + c * b * hw + i * hw;
            for (size_t py = 0; py < p; py++)
                for (size_t px = 0; px < p; px++) {
                    double acc = 0.0;
                    for (size_t y = py * cell; y < (py + 1) * cell; y++)
                        for (size_t x = px * cell; x < (px + 1) * cell; x++)
                            acc += pl[y * side + x];
                    dst[(s + i) * dd + c * p * p + py * p + px] =
                        (float)(acc / (double)(cell * cell));
                }
        }
}

/* The export's work arrays: N images in batches of B, activations pooled by p. */
typedef struct {
    size_t N, B, T, p;
    double *beta, *abar, *index;
    float *x0, *xt, *eps, *tf;
    float *act[TDI_UNET_NBLOCKS];
    size_t dims[TDI_UNET_NBLOCKS];
} export_ws;

static void export_ws_free(export_ws *w)
{
    for (int k = 0; k < TDI_UNET_NBLOCKS; k++)
        free(w->act[k]);
    free(w->beta);
    free(w->abar);
    free(w->index);
    free(w->x0);
    free(w->xt);
    free(w->eps);
    free(w->tf);
}

/* t, pool, n and first in range */
static int export_args(const tdi_unet_config *c, const tdi_unet_export_opts *o, tdi_err *err)
{
    if (o->t < 0 || o->t >= c->T)
        return tdi_err_set(err, TDI_EARG, "export: t = %ld is outside [0, %ld)", o->t, c->T);
    if (o->pool < 1 || 8 % o->pool != 0)
        return tdi_err_set(err, TDI_EARG, "export: pool = %ld must divide 8 (1, 2, 4 or 8)",
                           o->pool);
    if (o->n < 1 || o->first < 0)
        return tdi_err_set(err, TDI_EARG, "export: n = %ld, first = %ld", o->n, o->first);
    return 0;
}

/* The schedule and image arrays, then the model (batch B) and its blocks' activation arrays. */
static int export_setup(const tdi_unet_config *c, const tdi_unet_export_opts *o, export_ws *w,
                        tdi_unet **m, tdi_err *err)
{
    memset(w, 0, sizeof *w);
    w->N = (size_t)o->n, w->B = 250, w->T = (size_t)c->T, w->p = (size_t)o->pool;
    w->beta = malloc(w->T * sizeof *w->beta), w->abar = malloc(w->T * sizeof *w->abar);
    w->index = malloc(w->N * sizeof *w->index);
    w->x0 = malloc(w->N * 1024 * sizeof *w->x0), w->xt = malloc(w->N * 1024 * sizeof *w->xt);
    w->eps = malloc(w->B * 1024 * sizeof *w->eps), w->tf = malloc(w->B * sizeof *w->tf);
    if (!w->beta || !w->abar || !w->index || !w->x0 || !w->xt || !w->eps || !w->tf)
        return tdi_err_set(err, TDI_ENOMEM, "export: out of memory");
    tdi_unet_schedule(w->T, c->beta_start, c->beta_end, w->beta, w->abar);
    int rc = load_model(c, o->ckpt, w->B, m, err);
    for (int k = 0; k < TDI_UNET_NBLOCKS && !rc; k++) {
        size_t ch;
        tdi_unet_block_out(*m, (tdi_unet_block_id)k, &ch, NULL);
        w->dims[k] = ch * w->p * w->p;
        if (!(w->act[k] = malloc(w->N * w->dims[k] * sizeof(float))))
            rc = tdi_err_set(err, TDI_ENOMEM, "export: out of memory");
    }
    return rc;
}

/* Every batch: x0 from the split, x_t = the seeded forward noising at t, the U-Net's forward,
 * each block's output pooled into its activation rows. */
static int export_forward(const tdi_unet_export_opts *o, const tdi_unet_dataset *ds,
                          tdi_unet *m, export_ws *w, FILE *progress, tdi_err *err)
{
    const int split_id = strcmp(o->split, "train") == 0 ? 0 : 1;
    double t0 = tdi_clock_s(CLOCK_MONOTONIC);
    for (size_t s = 0; s < w->N; s += w->B) {
        const size_t b = w->N - s < w->B ? w->N - s : w->B;
        memcpy(w->x0 + s * 1024, ds->img + ((size_t)o->first + s) * 1024,
               b * 1024 * sizeof(float));
        for (size_t i = 0; i < b; i++) {
            w->tf[i] = (float)o->t;
            w->index[s + i] = (double)(o->first + (long)(s + i));
        }
        int rc = tdi_unet_export_noise(o->seed, split_id, o->first + (long)s, o->t, w->abar,
                                       w->x0 + s * 1024, b, w->eps, w->xt + s * 1024, err);
        if (rc)
            return rc;
        tdi_unet_forward(m, w->xt + s * 1024, w->tf, b, NULL);
        for (int k = 0; k < TDI_UNET_NBLOCKS; k++) {
            size_t ch, side;
            const float *src = tdi_unet_block_out(m, (tdi_unet_block_id)k, &ch, &side);
            pool_rows(src, ch, side, b, w->p, w->act[k], s);
        }
        if (progress)
            fprintf(progress, "export %s: %zu/%zu images, %.1f images/s\r", o->split, s + b,
                    w->N, (double)(s + b) / (tdi_clock_s(CLOCK_MONOTONIC) - t0));
    }
    if (progress)
        fprintf(progress, "\n");
    return 0;
}

/* Into dir: each block's activations and conv1 weights, index, x0 and xt (.npy). */
static int export_arrays(const export_ws *w, const tdi_unet *m, const char *dir, tdi_err *err)
{
    char path[1400];
    int rc = 0;
    for (int k = 0; k < TDI_UNET_NBLOCKS && !rc; k++) {
        size_t shape[4] = {w->N, w->dims[k], 0, 0};
        snprintf(path, sizeof path, "%s/%s.npy", dir, tdi_unet_block_names[k]);
        rc = tdi_npy_write(path, TDI_NPY_F32, 2, shape, w->act[k], err);
        if (rc)
            break;
        size_t co, ci;
        const float *wt = tdi_unet_block_conv1(m, (tdi_unet_block_id)k, &co, &ci);
        size_t ws[4] = {co, ci, 3, 3};
        snprintf(path, sizeof path, "%s/w_%s.npy", dir, tdi_unet_block_names[k]);
        rc = tdi_npy_write(path, TDI_NPY_F32, 4, ws, wt, err);
    }
    size_t s1[4] = {w->N, 0, 0, 0}, s2[4] = {w->N, 1024, 0, 0};
    if (!rc) {
        snprintf(path, sizeof path, "%s/index.npy", dir);
        rc = tdi_npy_write(path, TDI_NPY_F64, 1, s1, w->index, err);
    }
    if (!rc) {
        snprintf(path, sizeof path, "%s/x0.npy", dir);
        rc = tdi_npy_write(path, TDI_NPY_F32, 2, s2, w->x0, err);
    }
    if (!rc) {
        snprintf(path, sizeof path, "%s/xt.npy", dir);
        rc = tdi_npy_write(path, TDI_NPY_F32, 2, s2, w->xt, err);
    }
    return rc;
}

/* s as the inside of a YAML double-quoted scalar: " and \ escaped, control bytes as \xHH. */
static void yaml_dq(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\x%02x", *p);
        else
            fputc(*p, f);
    }
}

/* dir/manifest.yaml: what was exported, from which checkpoint (and its hash). */
static int export_manifest(const tdi_unet_config *c, const tdi_unet_export_opts *o,
                           const export_ws *w, const char *dir, tdi_err *err)
{
    uint64_t h = 0;
    char hex[17], path[1400];
    int rc = tdi_hash_file(o->ckpt, &h, err);
    if (rc)
        return rc;
    tdi_hash_hex(h, hex);
    snprintf(path, sizeof path, "%s/manifest.yaml", dir);
    tdi_atomic_file af;
    if ((rc = tdi_atomic_open(&af, path, err)))
        return rc;
    fprintf(af.f,
            "# tdi activation bundle (docs/formats.md), written by tdi-unet export\n"
            "format: tdi-activations\nversion: 1\nsplit: %s\nn: %zu\nt: %ld\nseed: %llu\n"
            "pool: %ld\nfirst: %ld\nchannels: %ld\ncheckpoint: \"",
            o->split, w->N, o->t, (unsigned long long)o->seed, o->pool, o->first, c->channels);
    yaml_dq(af.f, o->ckpt);
    fprintf(af.f, "\"\ncheckpoint_hash: \"%s\"\nlayers: {", hex);
    for (int k = 0; k < TDI_UNET_NBLOCKS; k++)
        fprintf(af.f, "%s%s: [%zu, %zu]", k ? ", " : "", tdi_unet_block_names[k], w->N,
                w->dims[k]);
    fprintf(af.f, "}\n");
    return tdi_atomic_commit(&af, err);
}

int tdi_unet_export(const tdi_unet_config *c, const tdi_unet_export_opts *o, FILE *progress,
                    tdi_err *err)
{
    int rc = export_args(c, o, err);
    if (!rc) /* refuse a foreign --out before the work, not after */
        rc = tdi_dir_check(o->out, err);
    if (rc)
        return rc;
    tdi_unet_dataset ds;
    if ((rc = tdi_unet_dataset_load(&ds, c->data_dir, o->split, err)))
        return rc;
    if ((size_t)(o->first + o->n) > ds.n) { /* the message before destroy, which zeroes ds.n */
        rc = tdi_err_set(err, TDI_EARG, "export: images %ld..%ld requested, the %s split has %zu",
                         o->first, o->first + o->n - 1, o->split, ds.n);
        tdi_unet_dataset_destroy(&ds);
        return rc;
    }
    tdi_unet *m = NULL;
    export_ws w;
    char tmp[1200] = "";
    rc = export_setup(c, o, &w, &m, err);
    rc = rc ? rc : export_forward(o, &ds, m, &w, progress, err);
    rc = rc ? rc : tdi_dir_begin(o->out, tmp, sizeof tmp, err);
    rc = rc ? rc : export_arrays(&w, m, tmp, err);
    rc = rc ? rc : export_manifest(c, o, &w, tmp, err);
    rc = rc ? rc : tdi_dir_commit(tmp, o->out, err);
    if (rc && tmp[0])
        tdi_dir_abort(tmp);
    export_ws_free(&w);
    tdi_unet_free(m);
    tdi_unet_dataset_destroy(&ds);
    return rc;
}

/* Bench substrate skips at e1 and e2 (tdi_unet_sskip.h): full rank (R = I, k = C), per pixel,
 * read-out noise sd 0.05 on every channel, so the matrix product and the noise draws both run.
 * buf: (C + C*C + C) + (2C + 4C*C + 2C) floats. */
static void bench_sskip(tdi_unet *m, tdi_unet_sskip s[2], float *buf, unsigned long seed)
{
    for (int lv = 0; lv < 2; lv++) {
        const size_t C = (size_t)(lv + 1) * m->arch.channels;
        tdi_unet_sskip t = {lv, C, C, 1, buf, buf + C, buf + C + C * C, seed,
                            TDI_UNET_SSKIP_SUBSTRATE};
        for (size_t i = 0; i < C; i++) {
            t.mean[i] = 0.0f;
            t.noise_sd[i] = 0.05f;
            for (size_t j = 0; j < C; j++)
                t.R[i * C + j] = i == j ? 1.0f : 0.0f;
        }
        s[lv] = t;
        m->sskip[lv] = &s[lv];
        buf += 2 * C + C * C;
    }
}

/* Steps of fn for at least `seconds` (s) and 3 steps; returns images/s. */
static double bench_loop(tdi_unet *m, tdi_unet_adam *adam, const float *x, const float *tf,
                         const float *e, size_t B, double seconds)
{
    long it = 0;
    double t0 = tdi_clock_s(CLOCK_MONOTONIC), el;
    do {
        tdi_unet_forward(m, x, tf, B, NULL);
        if (adam) {
            tdi_unet_backward_mse(m, e);
            tdi_unet_adam_step(adam, m->params, m->grads, 1e-5, 0.9, 0.999, 1e-8, 0.0, 1.0);
        }
        it++;
    } while ((el = tdi_clock_s(CLOCK_MONOTONIC) - t0) < seconds || it < 3);
    return (double)it * (double)B / el;
}

int tdi_unet_bench(const tdi_unet_config *c, long b, double seconds, int sskip,
                   double *train_ips, double *infer_ips, size_t *n_params, tdi_err *err)
{
    const size_t B = (size_t)b, C = (size_t)c->channels;
    tdi_unet *m = NULL;
    tdi_unet_adam adam = {0};
    tdi_unet_sskip ss[2];
    float *x = malloc(B * 1024 * sizeof *x), *e = malloc(B * 1024 * sizeof *e);
    float *tf = malloc(B * sizeof *tf), *sb = malloc((6 * C + 5 * C * C) * sizeof *sb);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    int rc;
    if (!x || !e || !tf || !sb || !r) {
        rc = tdi_err_set(err, TDI_ENOMEM, "bench: out of memory");
        goto out;
    }
    if ((rc = tdi_unet_alloc(&m, arch_of(c), B, err)) ||
        (rc = tdi_unet_cache_cols(m, err)) ||
        (rc = tdi_unet_adam_init(&adam, m->n_params, err)))
        goto out;
    tdi_unet_init_params(m, 1);
    if (n_params)
        *n_params = m->n_params;
    if (sskip)
        bench_sskip(m, ss, sb, (unsigned long)c->seed);
    gsl_rng_set(r, tdi_seed((uint64_t)c->seed, TDI_SEED_UNET_BENCH, 0));
    for (size_t i = 0; i < B * 1024; i++) {
        x[i] = (float)gsl_ran_gaussian_ziggurat(r, 1.0);
        e[i] = (float)gsl_ran_gaussian_ziggurat(r, 1.0);
    }
    for (size_t i = 0; i < B; i++)
        tf[i] = (float)gsl_rng_uniform_int(r, (unsigned long)c->T);
    /* warm-up (page faults, thread start) */
    tdi_unet_forward(m, x, tf, B, NULL);
    tdi_unet_backward_mse(m, e);
    *train_ips = bench_loop(m, &adam, x, tf, e, B, seconds);
    /* inference as eval and sample run it: without the training's column cache */
    m->col_cache = 0;
    *infer_ips = bench_loop(m, NULL, x, tf, e, B, seconds);
    m->col_cache = 1;
out:
    gsl_rng_free(r);
    free(x);
    free(e);
    free(tf);
    free(sb);
    tdi_unet_adam_destroy(&adam);
    tdi_unet_free(m);
    return rc;
}
