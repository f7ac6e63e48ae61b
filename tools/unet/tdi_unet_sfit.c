/* tdi_unet_sfit: the sampler's substrate skips, fitted as `tdi-unet e2e` fits them and cached
 * (see tdi_unet_sfit.h). Stages: key, cache read; on a miss the e2e job's skip vectors (training
 * fit vectors and test bundle samples under the preset's seed), then per level the PCA, the
 * coupling block A and tdi_unet_e2e_substrate; cache write (atomic). Cache file: magic
 * "TDISFIT1", key, C, k (uint64), gain, r_err, sd_rms (double), wires (int64), mean (C), R (C x C),
 * sd (C) as float32, host byte order (a cache, not an exchange format). */
#include "tdi_unet_sfit.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_clock.h"
#include "tdi_io.h"
#include "tdi_sub.h"
#include "tdi_unet_e2e_int.h"

#define SFIT_MAGIC "TDISFIT1"
#define SFIT_VERSION 2 /* in the key: bump when the fit or the file changes (2: the read-out
                            noise with the ADC rounding of correlated conversions) */

static const char *const LEVEL_NAME[2] = {"e1", "e2"};

int tdi_unet_sfit_levels(const char *name)
{
    return strcmp(name, "e1") == 0 ? 1 : strcmp(name, "e2") == 0 ? 2
                                       : strcmp(name, "all") == 0 ? 3 : 0;
}

static void level_free(tdi_unet_sfit_level *L)
{
    free(L->mean);
    free(L->R);
    free(L->sd);
    memset(L, 0, sizeof *L);
}

void tdi_unet_sfit_destroy(tdi_unet_sfit *f)
{
    if (!f)
        return;
    for (int lv = 0; lv < 2; lv++)
        level_free(&f->lv[lv]);
    f->sk[0] = f->sk[1] = NULL;
}

static int level_alloc(tdi_unet_sfit_level *L, size_t C, size_t k, tdi_err *err)
{
    memset(L, 0, sizeof *L);
    L->C = C;
    L->k = k;
    L->mean = calloc(C, sizeof *L->mean);
    L->R = calloc(C * C, sizeof *L->R);
    L->sd = calloc(C, sizeof *L->sd);
    if (!L->mean || !L->R || !L->sd) {
        level_free(L);
        return tdi_err_set(err, TDI_ENOMEM, "sample skips: out of memory");
    }
    return 0;
}

/* ---------------------------------------------------------------- cache */
static int cache_key(const tdi_unet_sfit_opts *o, const tdi_unet_e2e_cfg *ec, int lv, size_t k,
                     uint64_t *key, tdi_err *err)
{
    uint64_t h = TDI_HASH_INIT;
    int rc = tdi_hash_file_feed(o->e2e_config, &h, err);
    if (!rc)
        rc = tdi_hash_file_feed(ec->unet_config, &h, err);
    if (!rc)
        rc = tdi_hash_file_feed(o->checkpoint, &h, err);
    const uint64_t v[3] = {SFIT_VERSION, (uint64_t)lv, (uint64_t)k};
    *key = tdi_hash_bytes(h, v, sizeof v);
    return rc;
}

static void cache_path(const char *dir, int lv, size_t k, char *path, size_t n)
{
    if (k == 0)
        snprintf(path, n, "%s/%s-mean.fit", dir, LEVEL_NAME[lv]);
    else
        snprintf(path, n, "%s/%s-k%zu.fit", dir, LEVEL_NAME[lv], k);
}

/* 1: L filled from path (key, C, k match); 0: no usable file (L untouched). */
static int cache_read(const char *path, uint64_t key, size_t C, size_t k,
                      tdi_unet_sfit_level *L)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    char magic[8];
    uint64_t h[3];
    double d[3];
    int64_t w;
    int ok = fread(magic, 1, 8, f) == 8 && memcmp(magic, SFIT_MAGIC, 8) == 0 &&
             fread(h, sizeof h[0], 3, f) == 3 && h[0] == key && h[1] == C && h[2] == k &&
             fread(d, sizeof d[0], 3, f) == 3 && fread(&w, sizeof w, 1, f) == 1;
    tdi_unet_sfit_level tmp;
    ok = ok && level_alloc(&tmp, C, k, NULL) == 0;
    if (ok) {
        ok = fread(tmp.mean, sizeof *tmp.mean, C, f) == C &&
             fread(tmp.R, sizeof *tmp.R, C * C, f) == C * C &&
             fread(tmp.sd, sizeof *tmp.sd, C, f) == C && fgetc(f) == EOF;
        if (!ok)
            level_free(&tmp);
    }
    fclose(f);
    if (!ok)
        return 0;
    tmp.gain = d[0];
    tmp.r_err = d[1];
    tmp.sd_rms = d[2];
    tmp.wires = (long)w;
    tmp.cached = 1;
    *L = tmp;
    return 1;
}

static int cache_write(const char *path, uint64_t key, const tdi_unet_sfit_level *L,
                       tdi_err *err)
{
    tdi_atomic_file af;
    int rc = tdi_atomic_open(&af, path, err);
    if (rc)
        return rc;
    const uint64_t h[3] = {key, L->C, L->k};
    const double d[3] = {L->gain, L->r_err, L->sd_rms};
    const int64_t w = L->wires;
    fwrite(SFIT_MAGIC, 1, 8, af.f);
    fwrite(h, sizeof h[0], 3, af.f);
    fwrite(d, sizeof d[0], 3, af.f);
    fwrite(&w, sizeof w, 1, af.f);
    fwrite(L->mean, sizeof *L->mean, L->C, af.f);
    fwrite(L->R, sizeof *L->R, L->C * L->C, af.f);
    fwrite(L->sd, sizeof *L->sd, L->C, af.f);
    return tdi_atomic_commit(&af, err);
}

/* ---------------------------------------------------------------- the fit */
/* The e2e job's inputs: skip vectors of the fit (training images) and of the bundles (the
 * first test images with eval's t and noise, e2e.test_images of them drawn as e2e does). */
typedef struct sfit_data {
    double *X[2], *Xb[2];
    size_t nfit, nb;
} sfit_data;

static int collect(const tdi_unet_sfit_opts *o, const tdi_unet_e2e_cfg *ec,
                   const tdi_unet_config *uc, sfit_data *d, tdi_err *err)
{
    tdi_unet_dataset ds[2];
    memset(ds, 0, sizeof ds);
    e2e_test te;
    memset(&te, 0, sizeof te);
    tdi_unet *m = NULL;
    const size_t T = (size_t)uc->T;
    double *beta = malloc(T * sizeof *beta), *abar = malloc(T * sizeof *abar);
    const tdi_unet_arch a = {(size_t)uc->channels, (size_t)uc->groups};
    int rc = (!beta || !abar) ? tdi_err_set(err, TDI_ENOMEM, "sample skips: out of memory") : 0;
    if (!rc) {
        tdi_unet_schedule(T, uc->beta_start, uc->beta_end, beta, abar);
        if (!(rc = tdi_unet_dataset_load(&ds[0], uc->data_dir, "train", err)) &&
            !(rc = tdi_unet_dataset_load(&ds[1], uc->data_dir, "test", err)) &&
            !(rc = tdi_unet_alloc(&m, a, E2E_BATCH, err)) &&
            !(rc = tdi_unet_ckpt_load(o->checkpoint, m, NULL, NULL, err)))
            rc = e2e_test_make(uc, &ds[1], (size_t)ec->test_images, abar, &te, err);
    }
    d->nb = (size_t)ec->bundle_samples;
    if (!rc)
        rc = e2e_collect_fit(ec, m, &ds[0], abar, T, d->X, &d->nfit, err);
    if (!rc)
        rc = e2e_collect_bundle(m, &te, d->nb, d->Xb, err);
    tdi_unet_free(m);
    e2e_test_destroy(&te);
    tdi_unet_dataset_destroy(&ds[0]);
    tdi_unet_dataset_destroy(&ds[1]);
    free(beta);
    free(abar);
    return rc;
}

/* One level at rank k (0: only the mean) as level_fit of tdi_unet_e2e_run.c does it. */
static int fit_level(const tdi_unet_e2e_cfg *ec, const sfit_data *d, int lv, const char *dir,
                     tdi_unet_sfit_level *L, tdi_err *err)
{
    const size_t C = L->C, k = L->k;
    double *mean = malloc(C * sizeof *mean), *U = malloc(C * C * sizeof *U);
    double *ev = malloc(C * sizeof *ev), *A = malloc(C * C * sizeof *A);
    double *J = malloc(C * C * sizeof *J);
    int rc = (!mean || !U || !ev || !A || !J)
                 ? tdi_err_set(err, TDI_ENOMEM, "sample skips: out of memory")
                 : tdi_unet_e2e_pca(d->X[lv], d->nfit, C, mean, U, ev, err);
    for (size_t c = 0; !rc && c < C; c++)
        L->mean[c] = (float)mean[c];
    if (!rc && k > 0) {
        tdi_sub_gram_acts(d->X[lv], d->nfit, C, ec->kT, J);
        tdi_sub_diag_block(J, C, ec->J2, A);
        const tdi_unet_e2e_level in = {LEVEL_NAME[lv], C, mean, U, A, d->Xb[lv], d->nb};
        char bdir[1200];
        snprintf(bdir, sizeof bdir, "%s/substrate-%s-k%zu", dir, LEVEL_NAME[lv], k);
        tdi_unet_e2e_sub s;
        rc = tdi_unet_e2e_substrate(&in, k, ec->J2, ec->kT, ec->pd_margin, ec->path, bdir, &s,
                                    err);
        double acc = 0.0;
        for (size_t q = 0; !rc && q < C * C; q++)
            L->R[q] = (float)s.R[q];
        for (size_t c = 0; !rc && c < C; c++) {
            L->sd[c] = (float)s.noise_sd[c];
            acc += s.noise_sd[c] * s.noise_sd[c] / (double)C;
        }
        if (!rc) {
            L->gain = s.gain;
            L->r_err = s.r_err;
            L->sd_rms = sqrt(acc);
            L->wires = (long)s.wires;
            tdi_unet_e2e_sub_destroy(&s);
        }
    }
    free(mean);
    free(U);
    free(ev);
    free(A);
    free(J);
    return rc;
}

/* ---------------------------------------------------------------- load */
static void make_layer(tdi_unet_sfit_level *L, int lv, int noise)
{
    L->layer = (tdi_unet_sskip){lv, L->C, L->k, 1, L->mean, L->R, noise ? L->sd : NULL, 0,
                                L->k ? TDI_UNET_SSKIP_SUBSTRATE : TDI_UNET_SSKIP_MEAN};
}

static int fit_missing(const tdi_unet_sfit_opts *o, const tdi_unet_e2e_cfg *ec,
                       const tdi_unet_config *uc, const char *dir, const int miss[2],
                       const uint64_t key[2], tdi_unet_sfit *f, FILE *log, tdi_err *err)
{
    const double t0 = tdi_clock_s(CLOCK_MONOTONIC);
    sfit_data d;
    memset(&d, 0, sizeof d);
    int rc = collect(o, ec, uc, &d, err);
    for (int lv = 0; !rc && lv < 2; lv++) {
        if (!miss[lv])
            continue;
        tdi_unet_sfit_level *L = &f->lv[lv];
        char path[1300];
        cache_path(dir, lv, L->k, path, sizeof path);
        if (!(rc = fit_level(ec, &d, lv, dir, L, err)))
            rc = cache_write(path, key[lv], L, err);
        if (!rc && log)
            fprintf(log, "sample skips: fitted %s %s (%s, %s), wrote %s\n", LEVEL_NAME[lv],
                    L->k ? "substrate" : "mean", o->e2e_config, o->checkpoint, path);
    }
    for (int lv = 0; lv < 2; lv++) {
        free(d.X[lv]);
        free(d.Xb[lv]);
    }
    f->fit_s = tdi_clock_s(CLOCK_MONOTONIC) - t0;
    if (!rc && log)
        fprintf(log, "sample skips: fit %.1f s wall\n", f->fit_s);
    return rc;
}

int tdi_unet_sfit_load(const tdi_unet_sfit_opts *o, tdi_unet_sfit *f, FILE *log, tdi_err *err)
{
    memset(f, 0, sizeof *f);
    tdi_unet_e2e_cfg ec;
    tdi_unet_config uc;
    int rc = tdi_unet_e2e_cfg_load(o->e2e_config, &ec, err);
    if (!rc)
        rc = tdi_unet_config_load(&uc, ec.unet_config, err);
    if (!rc && (o->levels < 1 || o->levels > 3 || o->k < 0))
        rc = tdi_err_set(err, TDI_EARG, "sample skips: levels %d, k %ld", o->levels, o->k);
    char dir[1100];
    snprintf(dir, sizeof dir, "%s", o->cache_dir ? o->cache_dir : "");
    if (!o->cache_dir)
        snprintf(dir, sizeof dir, "%s/sample-fit", ec.out);
    if (!rc)
        rc = tdi_mkdirs(dir, err);
    int miss[2] = {0, 0};
    uint64_t key[2] = {0, 0};
    for (int lv = 0; !rc && lv < 2; lv++) {
        if (!(o->levels >> lv & 1))
            continue;
        const size_t C = (size_t)uc.channels << lv, k = (size_t)o->k < C ? (size_t)o->k : C;
        char path[1300];
        cache_path(dir, lv, k, path, sizeof path);
        if (!(rc = cache_key(o, &ec, lv, k, &key[lv], err)) && !cache_read(path, key[lv], C, k,
                                                                           &f->lv[lv])) {
            miss[lv] = 1;
            rc = level_alloc(&f->lv[lv], C, k, err);
        }
    }
    if (!rc && (miss[0] || miss[1]))
        rc = fit_missing(o, &ec, &uc, dir, miss, key, f, log, err);
    for (int lv = 0; !rc && lv < 2; lv++)
        if (o->levels >> lv & 1) {
            make_layer(&f->lv[lv], lv, o->noise);
            f->sk[lv] = &f->lv[lv].layer;
        }
    if (rc)
        tdi_unet_sfit_destroy(f);
    return rc;
}
