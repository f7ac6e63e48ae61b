/* test_sample_sskip: DDIM sampling with substrate skips (issue 14; tdi_unet_sample_sskip,
 * tdi_unet_sfit). A tiny U-Net (C = 16) with full-rank substrates fitted from its own skip
 * vectors (tdi_unet_e2e_substrate, configs/e2e.yaml's circuit); the sfit cache on the shipped
 * checkpoint with a small copy of configs/e2e.yaml. Tolerances are stated where they are used. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "tdi_cli.h"
#include "tdi_io.h"
#include "tdi_sub.h"
#include "tdi_test.h"
#include "tdi_test_grad.h"
#include "tdi_unet.h"
#include "tdi_unet_cfg.h"
#include "tdi_unet_e2e.h"
#include "tdi_unet_sampler.h"
#include "tdi_unet_sfit.h"

#define E2E_CFG "configs/e2e.yaml"
#define NIMG 4

static char g_dir[256];

#include "tdi_test_sskip.h" /* after g_dir and E2E_CFG, which it uses */

static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double w = 0.0;
    for (size_t i = 0; i < n; i++)
        w = fmax(w, fabs((double)a[i] - b[i]));
    return w;
}

/* The sampler with full-rank substrate skips at both levels against the unmodified one. */
static void test_full_rank_sampler(void)
{
    tdi_unet_config c;
    tdi_unet_config_defaults(&c);
    tdi_unet *m = NULL;
    tdi_err err;
    const tdi_unet_arch arch = {16, 4};
    static lvfit f[2];
    static float x[NIMG * 1024], ref[NIMG * 1024], a[NIMG * 1024], b[NIMG * 1024];
    if (!TDI_CHECK(tdi_unet_alloc(&m, arch, NIMG, &err) == 0, "alloc tiny U-Net C = 16"))
        return;
    tdi_unet_init_params(m, 3);
    for (size_t i = 0; i < m->n_params; i++)
        m->params[i] += 0.05f * tdi_test_frand();
    float t[NIMG] = {10.0f, 250.0f, 500.0f, 900.0f};
    tdi_test_fill(x, NIMG * 1024, 1.0f);
    tdi_unet_forward(m, x, t, NIMG, NULL);
    int ok = fit_level(m, 0, &f[0]) == 0 && fit_level(m, 1, &f[1]) == 0;
    if (!TDI_CHECK(ok, "full-rank substrates of the tiny U-Net's e1 (C = 16) and e2 (C = 32)"))
        goto done;
    tdi_unet_sskip s[2];
    for (int lv = 0; lv < 2; lv++)
        s[lv] = (tdi_unet_sskip){lv, f[lv].sub.C, f[lv].sub.C, 1, f[lv].fm, f[lv].fR, NULL, 0,
                                 TDI_UNET_SSKIP_SUBSTRATE};
    const tdi_unet_sskip *sk[2] = {&s[0], &s[1]};
    tdi_unet_sampler sm = {TDI_UNET_DDIM, 10, 1.0, 11, 0, NIMG};
    int rc = tdi_unet_sample_model(m, &c, &sm, NIMG, ref, NULL, &err);
    rc |= tdi_unet_sample_sskip(m, &c, &sm, sk, NIMG, a, NULL, &err);
    /* R = I to 1e-9 stored as float, then (v - mean) + mean: eps moves by ~1e-6 per step
     * (test_sskip bounds one forward at 1e-5); the DDIM update multiplies an eps error by at most
     * sqrt(1 - abar_t) / sqrt(abar_t) < 160 at the first step and less later, and 10 steps of a
     * tiny random net keep it near 3e-5 (measured); 5e-4 leaves 10x for other BLAS roundings,
     * and a wrong map or a noise draw moves images by 0.1-1 */
    tdi_check_le(rc ? 1.0 : max_abs_diff(a, ref, NIMG * 1024), 5e-4,
                 "full rank, no read-out noise: images = the unmodified sampler's (max |diff|)");
    TDI_CHECK(m->sskip[0] == NULL && m->sskip[1] == NULL, "the model's skip hooks restored");
    const tdi_unet_sskip *none[2] = {NULL, NULL};
    rc = tdi_unet_sample_sskip(m, &c, &sm, none, NIMG, b, NULL, &err);
    TDI_CHECK(rc == 0 && memcmp(b, ref, sizeof b) == 0,
              "no skip selected: bit-identical to tdi_unet_sample_model");
    for (int lv = 0; lv < 2; lv++)
        s[lv].noise_sd = f[lv].fsd;
    rc = tdi_unet_sample_sskip(m, &c, &sm, sk, NIMG, a, NULL, &err);
    rc |= tdi_unet_sample_sskip(m, &c, &sm, sk, NIMG, b, NULL, &err);
    TDI_CHECK(rc == 0 && memcmp(a, b, sizeof a) == 0,
              "with read-out noise, the same seed twice: bit-identical images");
    s[0].seed = s[1].seed = 12345; /* the layers' own seeds are ignored */
    sm.batch = 3;
    rc = tdi_unet_sample_sskip(m, &c, &sm, sk, NIMG, b, NULL, &err);
    /* only OpenBLAS's batch-dependent rounding may differ (as in test_fid's batch check;
     * measured 4.5e-5, bound as above); another noise stream would move them by ~1 */
    tdi_check_le(rc ? 1.0 : max_abs_diff(a, b, NIMG * 1024), 5e-4,
                 "with noise, batch 3 vs 4 and other layer seeds: same images (max |diff|)");
    tdi_check_le(-max_abs_diff(a, ref, NIMG * 1024), -1e-3,
                 "the read-out noise changes the images (max |diff| >= 1e-3)");
    sm.seed = 12;
    sm.batch = NIMG;
    rc = tdi_unet_sample_sskip(m, &c, &sm, sk, NIMG, b, NULL, &err);
    TDI_CHECK(rc == 0 && max_abs_diff(a, b, NIMG * 1024) > 0.1, "another seed, other images");
done:
    for (int lv = 0; lv < 2; lv++) {
        free(f[lv].X);
        tdi_unet_e2e_sub_destroy(&f[lv].sub);
    }
    tdi_unet_free(m);
}

/* A copy of configs/e2e.yaml with a small fit and its out under the test directory. */
static int small_config(char *path, size_t n)
{
    FILE *in = fopen(E2E_CFG, "r");
    snprintf(path, n, "%s/e2e-small.yaml", g_dir);
    FILE *out = fopen(path, "w");
    if (!in || !out) {
        if (in)
            fclose(in);
        if (out)
            fclose(out);
        return -1;
    }
    char line[1024];
    while (fgets(line, sizeof line, in)) {
        if (strncmp(line, "out:", 4) == 0)
            fprintf(out, "out: %s/e2e\n", g_dir);
        else if (strncmp(line, "  fit_images:", 13) == 0)
            fprintf(out, "  fit_images: 60\n");
        else if (strncmp(line, "  test_images:", 14) == 0)
            fprintf(out, "  test_images: 20\n");
        else
            fputs(line, out);
    }
    fclose(in);
    return fclose(out);
}

/* The fit on the shipped checkpoint: a second load comes from the cache, equal bit for bit. */
static void test_cache(void)
{
    char cfg[512];
    if (!TDI_CHECK(small_config(cfg, sizeof cfg) == 0, "small e2e config written"))
        return;
    tdi_unet_sfit_opts o = {cfg, "models/unet-c32.ckpt", 3, 2, 1, NULL};
    tdi_unet_sfit a, b;
    tdi_err err;
    int rc = tdi_unet_sfit_load(&o, &a, NULL, &err);
    if (rc)
        printf("  %s\n", err.msg);
    if (!TDI_CHECK(rc == 0, "fit e1 and e2 at k = 2 (60 training images)"))
        return;
    TDI_CHECK(!a.lv[0].cached && !a.lv[1].cached && a.fit_s > 0.0, "the first load fits");
    rc = tdi_unet_sfit_load(&o, &b, NULL, &err);
    int same = rc == 0 && b.lv[0].cached && b.lv[1].cached && b.fit_s == 0.0;
    for (int lv = 0; same && lv < 2; lv++) {
        const size_t C = a.lv[lv].C;
        same = b.lv[lv].C == C && b.lv[lv].k == 2 &&
               memcmp(a.lv[lv].mean, b.lv[lv].mean, C * sizeof(float)) == 0 &&
               memcmp(a.lv[lv].R, b.lv[lv].R, C * C * sizeof(float)) == 0 &&
               memcmp(a.lv[lv].sd, b.lv[lv].sd, C * sizeof(float)) == 0 &&
               b.sk[lv] == &b.lv[lv].layer && b.sk[lv]->noise_sd == b.lv[lv].sd;
    }
    TDI_CHECK(same, "the second load reads the cache: mean, R, noise sd bit-identical");
    TDI_CHECK(a.lv[0].C == 32 && a.lv[1].C == 64 && a.lv[0].wires > 0,
              "levels of the shipped U-Net: e1 C = 32, e2 C = 64, a circuit with wires");
    tdi_unet_sfit_destroy(&b);
    o.levels = 1;
    o.k = TDI_UNET_SFIT_MEAN;
    o.noise = 0;
    rc = tdi_unet_sfit_load(&o, &b, NULL, &err);
    TDI_CHECK(rc == 0 && b.sk[1] == NULL && b.sk[0]->mode == TDI_UNET_SSKIP_MEAN &&
                  memcmp(a.lv[0].mean, b.lv[0].mean, 32 * sizeof(float)) == 0,
              "mean baseline at e1: the same mean, mode MEAN, e2 digital");
    tdi_unet_sfit_destroy(&b);
    o.levels = 1;
    o.k = 2;
    rc = tdi_unet_sfit_load(&o, &b, NULL, &err);
    TDI_CHECK(rc == 0 && b.lv[0].cached && b.sk[0]->noise_sd == NULL,
              "noise off: the cached fit without its noise");
    tdi_unet_sfit_destroy(&b);
    tdi_unet_sfit_destroy(&a);
}

int main(int argc, char **argv)
{
    (void)argc;
    tdi_cli_omp_passive("/proc/self/exe", argv);
    gsl_set_error_handler_off();
    srand(4243);
    tdi_mkdirs("build", NULL);
    snprintf(g_dir, sizeof g_dir, "build/tsss.XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_full_rank_sampler();
    test_cache();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0)
        printf("note: could not remove %s\n", g_dir);
    TDI_TEST_END();
}
