/* tdi_unet_dstat: decoder statistics in the U-Net forward and the job that scores them (see
 * tdi_unet_dstat.h). Stages of the job: preset keys, the bundle's estimates (one [n][D] float
 * array per row), the forward passes (test images regenerated exactly as the export drew them,
 * checked against its xt.npy), the table. */
#include "tdi_unet_dstat.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_bundle.h"
#include "tdi_cfg.h"
#include "tdi_clock.h"
#include "tdi_io.h"
#include "tdi_linalg.h"
#include "tdi_metrics.h"
#include "tdi_npy.h"
#include "tdi_unet_data.h"
#include "tdi_unet_run.h"

const char *const tdi_unet_dstat_row_names[TDI_UNET_DSTAT_NROWS] = {
    "unmodified", "exact", "substrate", "digital", "mean"};

/* Region (c, py, px) of row i: its mean in double over the export's pixel order. */
static double region_mean(const float *pl, size_t side, size_t cell, size_t py, size_t px)
{
    double acc = 0.0;
    for (size_t y = py * cell; y < (py + 1) * cell; y++)
        for (size_t x = px * cell; x < (px + 1) * cell; x++)
            acc += pl[y * side + x];
    return acc / (double)(cell * cell);
}

void tdi_unet_dstat_means(const float *out, size_t ch, size_t side, size_t b, size_t p,
                          size_t D, float *means)
{
    const size_t hw = side * side, cell = side / p, pp = p * p;
    for (size_t j = 0; j < D && j < ch * pp; j++)
        for (size_t i = 0; i < b; i++) {
            const size_t c = j / pp, py = j % pp / p, px = j % p;
            means[i * D + j] = (float)region_mean(out + c * b * hw + i * hw, side, cell, py, px);
        }
}

void tdi_unet_dstat_apply(float *out, size_t ch, size_t side, size_t b, size_t p, size_t D,
                          const float *target)
{
    const size_t hw = side * side, cell = side / p, pp = p * p;
    const size_t nj = D < ch * pp ? D : ch * pp;
#pragma omp parallel for schedule(static)
    for (size_t j = 0; j < nj; j++)
        for (size_t i = 0; i < b; i++) {
            const size_t c = j / pp, py = j % pp / p, px = j % p;
            float *pl = out + c * b * hw + i * hw;
            const float d = (float)((double)target[i * D + j] -
                                    region_mean(pl, side, cell, py, px));
            for (size_t y = py * cell; y < (py + 1) * cell; y++)
                for (size_t x = px * cell; x < (px + 1) * cell; x++)
                    pl[y * side + x] += d;
        }
}

void tdi_unet_dstat_hook(void *ctx, tdi_unet_block_id id, float *out, size_t ch, size_t side,
                         size_t b)
{
    const tdi_unet_dstat *s = ctx;
    if (s->target && id == s->block)
        tdi_unet_dstat_apply(out, ch, side, b, s->pool, s->D, s->target);
}

/* ---------------------------------------------------------------- the job */

typedef struct dstat_preset {
    long seed, t, n_fit, n_test, pool, D;
    char name[128], out[512], dir[512], ckpt[512], dec[16];
} dstat_preset;

static int preset_load(const tdi_unet_config *c, const char *path, dstat_preset *p,
                       tdi_err *err)
{
    *p = (dstat_preset){.seed = 1, .t = 200, .n_fit = 10000, .n_test = 10000, .pool = 1,
                        .D = 64, .out = "out", .dec = "d2"};
    snprintf(p->ckpt, sizeof p->ckpt, "%s", c->out);
    tdi_cfg_key keys[] = {
        {"seed", TDI_CFG_INT, &p->seed, 0, 4294967295.0, 0, NULL, NULL, 0},
        {"name", TDI_CFG_NAME, p->name, 0, 0, sizeof p->name, NULL, NULL, 0},
        {"out", TDI_CFG_STRING, p->out, 0, 0, sizeof p->out, NULL, NULL, 0},
        {"export.checkpoint", TDI_CFG_STRING, p->ckpt, 0, 0, sizeof p->ckpt, NULL, NULL, 0},
        {"export.dir", TDI_CFG_STRING, p->dir, 0, 0, sizeof p->dir, NULL, NULL, 0},
        {"export.t", TDI_CFG_INT, &p->t, 0, 999, 0, NULL, NULL, 0},
        {"export.n_fit", TDI_CFG_INT, &p->n_fit, 1, 60000, 0, NULL, NULL, 0},
        {"export.n_test", TDI_CFG_INT, &p->n_test, 1, 10000, 0, NULL, NULL, 0},
        {"export.pool", TDI_CFG_INT, &p->pool, 1, 8, 0, NULL, NULL, 0},
        {"substrate", TDI_CFG_IGNORE, NULL, 0, 0, 0, NULL, NULL, 0},
        {"substrate.dec", TDI_CFG_STRING, p->dec, 0, 0, sizeof p->dec, NULL, "d2|d1", 0},
        {"substrate.D", TDI_CFG_INT, &p->D, 1, 4096, 0, NULL, NULL, 0},
    };
    int rc = tdi_cfg_load_preset(path, NULL, keys, sizeof keys / sizeof keys[0], 0, err);
    if (!rc && !p->dir[0])
        snprintf(p->dir, sizeof p->dir, "%s", p->out);
    if (!rc && (p->t >= c->T || 8 % p->pool != 0))
        rc = tdi_err_set(err, TDI_ECONFIG, "%s: export.t %ld (T = %ld) or export.pool %ld (must "
                         "divide 8)", path, p->t, c->T, p->pool);
    return rc;
}

/* y (n x D) = gain .* B^-1 b_dec per row; 1 when computed, 0 when B is not positive definite. */
static int digital_shortcut(const tdi_bundle *b, double *y, tdi_err *err)
{
    const tdi_bundle_module *d = &b->mod[b->out];
    const size_t D = d->D;
    double *L = malloc(D * D * sizeof *L);
    if (!L)
        return tdi_err_set(err, TDI_ENOMEM, "dstat: out of memory");
    tdi_err e2;
    tdi_err_clear(&e2);
    int ok = tdi_linalg_chol(d->A, D, L, "B", 0, NULL, &e2) == 0;
    if (ok) {
        memcpy(y, d->bias, b->n * D * sizeof *y); /* rows b_dec^T B^-1 = (B^-1 b_dec)^T */
        tdi_linalg_chol_solve_rows(L, D, y, b->n);
        for (size_t i = 0; i < b->n * D; i++)
            y[i] *= b->gain[i % D];
    }
    free(L);
    return ok;
}

/* The rows' estimates as float [n][D] (NULL for unmodified and for rows without one) and their
 * decoder-level metrics against the bundle's truth. */
static int estimates(const tdi_bundle *b, tdi_unet_dstat_result *r,
                     float *est[TDI_UNET_DSTAT_NROWS], tdi_err *err)
{
    const size_t n = b->n, D = b->mod[b->out].D;
    double *y[TDI_UNET_DSTAT_NROWS] = {0};
    int rc = TDI_OK;
    for (int k = 1; k < TDI_UNET_DSTAT_NROWS && !rc; k++)
        if (!(y[k] = malloc(n * D * sizeof(double))) || !(est[k] = malloc(n * D * sizeof(float))))
            rc = tdi_err_set(err, TDI_ENOMEM, "dstat: out of memory");
    for (size_t q = 0; q < n * D && !rc; q++) {
        y[TDI_UNET_DSTAT_EXACT][q] = b->truth[q];
        y[TDI_UNET_DSTAT_SUBSTRATE][q] = b->analytic[q] * b->gain[q % D];
        y[TDI_UNET_DSTAT_MEAN][q] = b->mean_fit[q % D];
    }
    r->have[TDI_UNET_DSTAT_UNMODIFIED] = 1;
    for (int k = 1; k < TDI_UNET_DSTAT_NROWS && !rc; k++)
        r->have[k] = k != TDI_UNET_DSTAT_DIGITAL;
    if (!rc) {
        int ok = digital_shortcut(b, y[TDI_UNET_DSTAT_DIGITAL], err);
        rc = ok < 0 ? ok : TDI_OK;
        r->have[TDI_UNET_DSTAT_DIGITAL] = ok == 1;
    }
    for (int k = 1; k < TDI_UNET_DSTAT_NROWS && !rc; k++) {
        if (!r->have[k]) {
            free(est[k]);
            est[k] = NULL;
            continue;
        }
        tdi_metrics m = tdi_metrics_eval(y[k], b->truth, b->mean_fit, n, D);
        r->cos_centered[k] = m.cos_centered;
        r->r2[k] = m.r2;
        for (size_t q = 0; q < n * D; q++)
            est[k][q] = (float)y[k][q];
    }
    r->cos_centered[0] = r->r2[0] = NAN;
    for (int k = 0; k < TDI_UNET_DSTAT_NROWS; k++)
        free(y[k]);
    return rc;
}

/* Reads the bundle and checks it against the preset. */
static int bundle_load(const dstat_preset *p, tdi_bundle *b, tdi_err *err)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/substrate", p->out);
    int rc = tdi_bundle_read(dir, TDI_BUNDLE_WANT_DATA, b, err);
    if (rc)
        return tdi_err_prefix(err, "decoder statistics need tdi-fit's bundle");
    const tdi_bundle_module *d = &b->mod[b->out];
    if (!b->analytic)
        rc = tdi_err_set(err, TDI_EFORMAT, "%s: no analytic.npy (the substrate's estimate)", dir);
    else if (d->D != (size_t)p->D || b->t != p->t || b->n > (size_t)p->n_test)
        rc = tdi_err_set(err, TDI_EFORMAT, "%s: D %zu, t %ld, n %zu; the preset says D %ld, "
                         "t %ld, n_test %ld", dir, d->D, b->t, b->n, p->D, p->t, p->n_test);
    else if (d->layer[0] && strcmp(d->layer, p->dec) != 0)
        rc = tdi_err_set(err, TDI_EFORMAT, "%s: read-out layer %s, the preset says %s", dir,
                         d->layer, p->dec);
    if (rc)
        tdi_bundle_destroy(b);
    return rc;
}

/* Everything one batch's forward passes need and accumulate. */
typedef struct dstat_run {
    tdi_unet *m;
    tdi_unet_dstat hook;
    float *est[TDI_UNET_DSTAT_NROWS]; /* [n][D] per row (NULL: none) */
    const double *truth;              /* [n][D] */
    double *e[TDI_UNET_DSTAT_NROWS];  /* [n] per-image eps-MSE */
    float *eps, *xt, *tf, *eps0, *means;
    double trivial;
} dstat_run;

/* Rows of one batch starting at image s (b images): unmodified first (its means checked against
 * the bundle's truth), then every row with an estimate. */
static void batch_rows(dstat_run *w, tdi_unet_dstat_result *r, size_t s, size_t b)
{
    const size_t D = r->D;
    for (int k = 0; k < TDI_UNET_DSTAT_NROWS; k++) {
        if (k > 0 && !w->est[k])
            continue;
        w->hook.target = k ? w->est[k] + s * D : NULL;
        tdi_unet_forward(w->m, w->xt, w->tf, b, NULL);
        for (size_t i = 0; i < b; i++) {
            double e2 = 0.0;
            for (size_t q = i * 1024; q < (i + 1) * 1024; q++) {
                const double d = (double)w->m->eps[q] - w->eps[q];
                e2 += d * d;
            }
            w->e[k][s + i] = e2 / 1024.0;
        }
        if (k == TDI_UNET_DSTAT_UNMODIFIED) {
            size_t ch, side;
            const float *o = tdi_unet_block_out(w->m, w->hook.block, &ch, &side);
            tdi_unet_dstat_means(o, ch, side, b, r->pool, D, w->means);
            for (size_t q = 0; q < b * D; q++)
                r->max_truth_diff = fmax(r->max_truth_diff,
                                         fabs(w->means[q] - w->truth[s * D + q]));
            memcpy(w->eps0, w->m->eps, b * 1024 * sizeof(float));
        } else if (k == TDI_UNET_DSTAT_EXACT) {
            for (size_t q = 0; q < b * 1024; q++)
                r->max_exact_diff = fmax(r->max_exact_diff, fabs(w->m->eps[q] - w->eps0[q]));
        }
    }
    w->hook.target = NULL;
}

/* Forward passes over the n test images in the export's blocks of 250. */
static int forward_all(const tdi_unet_config *c, const dstat_preset *p, dstat_run *w,
                       const float *xtb, tdi_unet_dstat_result *r, FILE *progress,
                       tdi_err *err)
{
    tdi_unet_dataset ds;
    int rc = tdi_unet_dataset_load(&ds, c->data_dir, "test", err);
    if (rc)
        return rc;
    const size_t B = 250, n = r->n;
    double *beta = malloc((size_t)c->T * sizeof *beta), *abar = malloc((size_t)c->T * sizeof *abar);
    if (!beta || !abar)
        rc = tdi_err_set(err, TDI_ENOMEM, "dstat: out of memory");
    else
        tdi_unet_schedule((size_t)c->T, c->beta_start, c->beta_end, beta, abar);
    const double t0 = tdi_clock_s(CLOCK_MONOTONIC);
    for (size_t s = 0; s < n && !rc; s += B) {
        const size_t b = n - s < B ? n - s : B;
        rc = tdi_unet_export_noise((uint64_t)p->seed, 1, (long)s, p->t, abar,
                                   ds.img + s * 1024, b, w->eps, w->xt, err);
        for (size_t q = 0; q < b * 1024 && !rc; q++) {
            r->max_xt_diff = fmax(r->max_xt_diff, fabs(w->xt[q] - xtb[s * 1024 + q]));
            w->trivial += (double)w->eps[q] * w->eps[q] / 1024.0;
        }
        for (size_t i = 0; i < b; i++)
            w->tf[i] = (float)p->t;
        if (!rc)
            batch_rows(w, r, s, b);
        if (progress && !rc)
            fprintf(progress, "dstat: %zu/%zu images, %.1f images/s (x%d rows)\r", s + b, n,
                    (double)(s + b) / (tdi_clock_s(CLOCK_MONOTONIC) - t0), TDI_UNET_DSTAT_NROWS);
    }
    if (progress)
        fprintf(progress, "\n");
    r->wall_s = tdi_clock_s(CLOCK_MONOTONIC) - t0;
    free(beta);
    free(abar);
    tdi_unet_dataset_destroy(&ds);
    return rc;
}

/* Means of the per-image rows and the paired standard errors. */
static void summarise(const dstat_run *w, tdi_unet_dstat_result *r)
{
    const size_t n = r->n;
    r->trivial = w->trivial / (double)n;
    for (int k = 0; k < TDI_UNET_DSTAT_NROWS; k++) {
        r->eps_mse[k] = r->d_se[k] = NAN;
        if (!r->have[k])
            continue;
        double s = 0.0, sd = 0.0, sd2 = 0.0;
        for (size_t i = 0; i < n; i++) {
            const double d = w->e[k][i] - w->e[0][i];
            s += w->e[k][i];
            sd += d;
            sd2 += d * d;
        }
        r->eps_mse[k] = s / (double)n;
        const double md = sd / (double)n;
        r->d_se[k] = n > 1 ? sqrt(fmax(sd2 / (double)n - md * md, 0.0) / (double)(n - 1)) : NAN;
    }
}

static int write_csv(const dstat_preset *p, tdi_unet_dstat_result *r, tdi_err *err)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/e2e-dstat", p->out);
    snprintf(r->csv, sizeof r->csv, "%s/table.csv", dir);
    int rc = tdi_mkdirs(dir, err);
    tdi_atomic_file af;
    if (rc || (rc = tdi_atomic_open(&af, r->csv, err)))
        return rc;
    fprintf(af.f, "block,pool,D,row,t,n_images,seed,eps_mse,d_eps_mse,d_se,cos_centered,r2\n");
    for (int k = 0; k < TDI_UNET_DSTAT_NROWS; k++)
        if (r->have[k])
            fprintf(af.f, "%s,%zu,%zu,%s,%ld,%zu,%ld,%.9g,%.9g,%.9g,%.6f,%.6f\n", r->block,
                    r->pool, r->D, tdi_unet_dstat_row_names[k], r->t, r->n, p->seed,
                    r->eps_mse[k], r->eps_mse[k] - r->eps_mse[0], r->d_se[k],
                    r->cos_centered[k], r->r2[k]);
    return tdi_atomic_commit(&af, err);
}

static int run_alloc(const tdi_unet_config *c, const dstat_preset *p, dstat_run *w, size_t n,
                     tdi_err *err)
{
    tdi_unet_arch a = {(size_t)c->channels, (size_t)c->groups};
    int rc = tdi_unet_alloc(&w->m, a, 250, err);
    if (!rc && (rc = tdi_unet_ckpt_load(p->ckpt, w->m, NULL, NULL, err)))
        return rc;
    for (int k = 0; k < TDI_UNET_DSTAT_NROWS && !rc; k++)
        if (!(w->e[k] = calloc(n, sizeof(double))))
            rc = tdi_err_set(err, TDI_ENOMEM, "dstat: out of memory");
    w->eps = malloc(250 * 1024 * sizeof(float));
    w->xt = malloc(250 * 1024 * sizeof(float));
    w->eps0 = malloc(250 * 1024 * sizeof(float));
    w->tf = malloc(250 * sizeof(float));
    w->means = malloc(250 * (size_t)p->D * sizeof(float));
    if (!rc && (!w->eps || !w->xt || !w->eps0 || !w->tf || !w->means))
        rc = tdi_err_set(err, TDI_ENOMEM, "dstat: out of memory");
    w->hook = (tdi_unet_dstat){strcmp(p->dec, "d1") == 0 ? TDI_UNET_D1 : TDI_UNET_D2,
                               (size_t)p->pool, (size_t)p->D, NULL};
    if (!rc) {
        w->m->dec_hook = tdi_unet_dstat_hook;
        w->m->dec_hook_ctx = &w->hook;
    }
    return rc;
}

static void run_free(dstat_run *w)
{
    tdi_unet_free(w->m);
    for (int k = 0; k < TDI_UNET_DSTAT_NROWS; k++) {
        free(w->est[k]);
        free(w->e[k]);
    }
    free(w->eps);
    free(w->xt);
    free(w->eps0);
    free(w->tf);
    free(w->means);
}

int tdi_unet_dstat_run(const tdi_unet_config *c, const char *preset, tdi_unet_dstat_result *r,
                       FILE *progress, tdi_err *err)
{
    memset(r, 0, sizeof *r);
    dstat_preset p;
    int rc = preset_load(c, preset, &p, err);
    tdi_bundle b = {0};
    if (rc || (rc = bundle_load(&p, &b, err)))
        return rc;
    snprintf(r->block, sizeof r->block, "%s", p.dec);
    r->n = b.n;
    r->D = (size_t)p.D;
    r->pool = (size_t)p.pool;
    r->t = p.t;
    const size_t ch = (size_t)c->channels * (strcmp(p.dec, "d2") == 0 ? 2 : 1);
    dstat_run w = {0};
    float *xtb = NULL;
    char xpath[1100];
    snprintf(xpath, sizeof xpath, "%s/activations-test/xt.npy", p.dir);
    if (r->D > ch * r->pool * r->pool)
        rc = tdi_err_set(err, TDI_ECONFIG, "%s: substrate.D %zu exceeds %s's %zu pooled entries",
                         preset, r->D, p.dec, ch * r->pool * r->pool);
    size_t xrows = 0;
    if (!rc)
        rc = tdi_npy_load_f32(xpath, 0, 1024, &xtb, &xrows, NULL, err);
    if (!rc && xrows < b.n)
        rc = tdi_err_set(err, TDI_EFORMAT, "%s: %zu rows, the substrate bundle has %zu samples",
                         xpath, xrows, b.n);
    if (!rc && (rc = run_alloc(c, &p, &w, b.n, err)) == 0 &&
        (rc = estimates(&b, r, w.est, err)) == 0) {
        w.truth = b.truth;
        rc = forward_all(c, &p, &w, xtb, r, progress, err);
    }
    if (!rc) {
        summarise(&w, r);
        rc = write_csv(&p, r, err);
    }
    free(xtb);
    run_free(&w);
    tdi_bundle_destroy(&b);
    return rc;
}
