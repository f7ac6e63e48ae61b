/* tdi_unet_e2e: the `tdi-unet e2e` job (see tdi_unet_e2e.h): config, the skip vectors of the fit
 * (training images) and of the bundles (test images), the per-level fits, and the test passes
 * with the substrate skips in the U-Net. Draws: fit images' t, noise and pixels from
 * tdi_seed(seed, TDI_SEED_SSKIP, 2^32 + block) (the layer's noise uses indices below 2^32); the
 * test images' t and noise are tdi-unet eval's (eval.seed, TDI_SEED_UNET_EVAL, per eval.batch
 * block), so the unmodified row is `tdi-unet eval` on the same images. */
#include "tdi_unet_e2e.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "tdi_cfg.h"
#include "tdi_clock.h"
#include "tdi_io.h"
#include "tdi_seed.h"
#include "tdi_sub.h"
#include "tdi_unet.h"
#include "tdi_unet_cfg.h"
#include "tdi_unet_data.h"
#include "tdi_unet_e2e_int.h"

#define E2E_FIT_INDEX (UINT64_C(1) << 32) /* first SSKIP stream index of the fit's draws */
#define E2E_BUNDLE_PIX 16             /* pixels per test image in a bundle */

void tdi_unet_e2e_cfg_defaults(tdi_unet_e2e_cfg *c)
{
    *c = (tdi_unet_e2e_cfg){.seed = 1, .name = "e2e", .out = "out/e2e",
                            .checkpoint = "models/unet-c32.ckpt",
                            .unet_config = "configs/unet.yaml", .fit_images = 1000,
                            .fit_pixels = 32, .test_images = 500, .bundle_samples = 256,
                            .ranks = {1, 2, 4, 8, 16}, .n_ranks = 5, .J2 = 0.1, .kT = 1.0,
                            .pd_margin = 0.05, .sde_samples = 128,
                            .spice_samples = 8};
}

#define K_INT(p, f, lo, hi) {p, TDI_CFG_INT, &c->f, lo, hi, 0, NULL, NULL, 0}
#define K_DBL(p, f, lo, hi) {p, TDI_CFG_DOUBLE, &c->f, lo, hi, 0, NULL, NULL, 0}
#define K_STR(p, f) {p, TDI_CFG_STRING, c->f, 0, 0, sizeof c->f, NULL, NULL, 0}

int tdi_unet_e2e_cfg_load(const char *path, tdi_unet_e2e_cfg *c, tdi_err *err)
{
    tdi_unet_e2e_cfg_defaults(c);
    c->path = path;
    tdi_cfg_key keys[] = {
        K_INT("seed", seed, 1, 9.2e18),
        {"name", TDI_CFG_NAME, c->name, 0, 0, sizeof c->name, NULL, NULL, 0},
        K_STR("out", out),
        K_STR("e2e.checkpoint", checkpoint),
        K_STR("e2e.unet_config", unet_config),
        K_INT("e2e.fit_images", fit_images, 1, 60000),
        K_INT("e2e.fit_pixels", fit_pixels, 1, 256),
        K_INT("e2e.test_images", test_images, 1, 10000),
        K_INT("e2e.bundle_samples", bundle_samples, 2, 800),
        K_INT("e2e.spice_samples", spice_samples, 0, 4096),
        {"e2e.ranks", TDI_CFG_ILIST, c->ranks, 1, 1024, TDI_UNET_E2E_MAXRANKS, &c->n_ranks, NULL,
         0},
        K_DBL("e2e.J2", J2, 1e-9, 1e9),
        K_DBL("e2e.kT", kT, 1e-9, 1e9),
        K_DBL("e2e.pd_margin", pd_margin, 1e-6, 0.999),
        K_INT("e2e.sde_samples", sde_samples, 2, 4096),
    };
    return tdi_cfg_load_preset(path, NULL, keys, sizeof keys / sizeof keys[0], 3, err);
}

/* ---------------------------------------------------------------- U-Net passes */
static void noise_images(const float *x0, size_t b, const double *abar, size_t T, gsl_rng *r,
                         long *tl, float *eps, float *xt)
{
    for (size_t i = 0; i < b; i++)
        tl[i] = (long)gsl_rng_uniform_int(r, T);
    for (size_t i = 0; i < b; i++) {
        const double sa = sqrt(abar[tl[i]]), sb = sqrt(1.0 - abar[tl[i]]);
        for (size_t p = 0; p < 1024; p++) {
            const float e = (float)gsl_ran_gaussian_ziggurat(r, 1.0);
            eps[i * 1024 + p] = e;
            xt[i * 1024 + p] = (float)(sa * x0[i * 1024 + p] + sb * e);
        }
    }
}

int e2e_test_make(const tdi_unet_config *uc, const tdi_unet_dataset *ds, size_t n,
                  const double *abar, e2e_test *te, tdi_err *err)
{
    memset(te, 0, sizeof *te);
    n = n < ds->n ? n : ds->n;
    te->n = n;
    te->xt = malloc(n * 1024 * sizeof *te->xt);
    te->eps = malloc(n * 1024 * sizeof *te->eps);
    te->tf = malloc(n * sizeof *te->tf);
    te->tl = malloc(n * sizeof *te->tl);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!te->xt || !te->eps || !te->tf || !te->tl || !r) {
        gsl_rng_free(r);
        e2e_test_destroy(te);
        return tdi_err_set(err, TDI_ENOMEM, "e2e: out of memory for %zu test images", n);
    }
    const size_t B = (size_t)uc->eval_batch;
    for (size_t s = 0; s < n; s += B) { /* tdi-unet eval's draws, block by block */
        const size_t b = n - s < B ? n - s : B;
        gsl_rng_set(r, tdi_seed((uint64_t)uc->eval_seed, TDI_SEED_UNET_EVAL, s));
        noise_images(ds->img + s * 1024, b, abar, (size_t)uc->T, r, te->tl + s,
                     te->eps + s * 1024, te->xt + s * 1024);
    }
    for (size_t i = 0; i < n; i++)
        te->tf[i] = (float)te->tl[i];
    gsl_rng_free(r);
    return 0;
}

void e2e_test_destroy(e2e_test *te)
{
    free(te->xt);
    free(te->eps);
    free(te->tf);
    free(te->tl);
    memset(te, 0, sizeof *te);
}

static int bucket_of(long t)
{
    return t < 100 ? 0 : t < 300 ? 1 : t < 600 ? 2 : 3;
}

void e2e_eval(tdi_unet *m, const e2e_test *te, const tdi_unet_sskip *s0,
              const tdi_unet_sskip *s1, e2e_mse *r)
{
    memset(r, 0, sizeof *r);
    double se[TDI_UNET_E2E_NB] = {0}, sa = 0.0;
    m->sskip[0] = s0;
    m->sskip[1] = s1;
    for (size_t s = 0; s < te->n; s += E2E_BATCH) {
        const size_t b = te->n - s < E2E_BATCH ? te->n - s : E2E_BATCH;
        m->sskip_draw = s;
        tdi_unet_forward(m, te->xt + s * 1024, te->tf + s, b, NULL);
        for (size_t i = 0; i < b; i++) {
            double e2 = 0.0;
            for (size_t p = 0; p < 1024; p++) {
                const double d = (double)m->eps[i * 1024 + p] - te->eps[(s + i) * 1024 + p];
                e2 += d * d;
            }
            se[bucket_of(te->tl[s + i])] += e2 / 1024.0;
            r->n[bucket_of(te->tl[s + i])]++;
            sa += e2 / 1024.0;
        }
    }
    m->sskip[0] = m->sskip[1] = NULL;
    for (int k = 0; k < TDI_UNET_E2E_NB; k++)
        r->mse[k] = r->n[k] ? se[k] / (double)r->n[k] : NAN;
    r->all = sa / (double)te->n;
    r->images = te->n;
}

/* ---------------------------------------------------------------- skip vectors */
/* rows of X (double) from level lv's block output [C][b][HW] of image i at pixels pix[0..np) */
static void take_vectors(const tdi_unet *m, int lv, size_t b, size_t i, const size_t *pix,
                         size_t np, double *X)
{
    size_t C, side;
    const float *o = tdi_unet_block_out(m, lv ? TDI_UNET_E2 : TDI_UNET_E1, &C, &side);
    const size_t HW = side * side;
    for (size_t q = 0; q < np; q++)
        for (size_t c = 0; c < C; c++)
            X[q * C + c] = o[c * b * HW + i * HW + pix[q]];
}

/* The fit: fit_images training images spread evenly over the set, t uniform, fit_pixels
 * random pixels per image and level. X[lv] is (n_img * fit_pixels, C_lv). */
int e2e_collect_fit(const tdi_unet_e2e_cfg *c, tdi_unet *m, const tdi_unet_dataset *ds,
                    const double *abar, size_t T, double *X[2], size_t *nrow, tdi_err *err)
{
    const size_t ni = (size_t)c->fit_images < ds->n ? (size_t)c->fit_images : ds->n;
    const size_t np = (size_t)c->fit_pixels, stride = ds->n / ni;
    const size_t C = m->arch.channels, Cl[2] = {C, 2 * C}, HW[2] = {1024, 256};
    float *x0 = malloc(E2E_BATCH * 1024 * sizeof *x0), *xt = malloc(E2E_BATCH * 1024 * 4);
    float *eps = malloc(E2E_BATCH * 1024 * sizeof *eps), tf[E2E_BATCH];
    long tl[E2E_BATCH];
    size_t *pix = malloc(np * sizeof *pix);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    X[0] = malloc(ni * np * Cl[0] * sizeof *X[0]);
    X[1] = malloc(ni * np * Cl[1] * sizeof *X[1]);
    int rc = (!x0 || !xt || !eps || !pix || !r || !X[0] || !X[1])
                 ? tdi_err_set(err, TDI_ENOMEM, "e2e fit: out of memory") : 0;
    for (size_t s = 0; !rc && s < ni; s += E2E_BATCH) {
        const size_t b = ni - s < E2E_BATCH ? ni - s : E2E_BATCH;
        gsl_rng_set(r, tdi_seed((uint64_t)c->seed, TDI_SEED_SSKIP, E2E_FIT_INDEX + s));
        for (size_t i = 0; i < b; i++)
            memcpy(x0 + i * 1024, ds->img + (s + i) * stride * 1024, 1024 * sizeof *x0);
        noise_images(x0, b, abar, T, r, tl, eps, xt);
        for (size_t i = 0; i < b; i++)
            tf[i] = (float)tl[i];
        tdi_unet_forward(m, xt, tf, b, NULL);
        for (int lv = 0; lv < 2; lv++)
            for (size_t i = 0; i < b; i++) {
                for (size_t q = 0; q < np; q++)
                    pix[q] = (size_t)gsl_rng_uniform_int(r, HW[lv]);
                take_vectors(m, lv, b, i, pix, np, X[lv] + (s + i) * np * Cl[lv]);
            }
    }
    *nrow = ni * np;
    free(x0);
    free(xt);
    free(eps);
    free(pix);
    gsl_rng_free(r);
    return rc;
}

/* The bundle samples: E2E_BUNDLE_PIX pixels on a fixed stride of each of the first test
 * images (eval's t and noise), nb rows per level. */
int e2e_collect_bundle(tdi_unet *m, const e2e_test *te, size_t nb, double *Xb[2], tdi_err *err)
{
    const size_t C = m->arch.channels, Cl[2] = {C, 2 * C};
    const size_t ni = (nb + E2E_BUNDLE_PIX - 1) / E2E_BUNDLE_PIX;
    if (ni > te->n || ni > E2E_BATCH)
        return tdi_err_set(err, TDI_ECONFIG, "e2e.bundle_samples %zu needs %zu test images "
                           "(at most %zu, and at most e2e.test_images)", nb, ni,
                           (size_t)E2E_BATCH);
    Xb[0] = malloc(ni * E2E_BUNDLE_PIX * Cl[0] * sizeof *Xb[0]);
    Xb[1] = malloc(ni * E2E_BUNDLE_PIX * Cl[1] * sizeof *Xb[1]);
    if (!Xb[0] || !Xb[1])
        return tdi_err_set(err, TDI_ENOMEM, "e2e bundle samples: out of memory");
    tdi_unet_forward(m, te->xt, te->tf, ni, NULL);
    size_t pix[E2E_BUNDLE_PIX];
    for (int lv = 0; lv < 2; lv++) {
        const size_t side = lv ? 16 : 32; /* a 4 x 4 grid of cell centres */
        for (size_t q = 0; q < E2E_BUNDLE_PIX; q++)
            pix[q] = ((q / 4) * side / 4 + side / 8) * side + (q % 4) * side / 4 + side / 8;
        for (size_t i = 0; i < ni; i++)
            take_vectors(m, lv, ni, i, pix, E2E_BUNDLE_PIX, Xb[lv] + i * E2E_BUNDLE_PIX * Cl[lv]);
    }
    return 0;
}
