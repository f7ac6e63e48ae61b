/* test_sskip: checks of the substrate-skip layer (tools/unet/tdi_unet_sskip.c), its hook in the
 * U-Net and the e2e fit (tools/unet/tdi_unet_e2e_fit.c). Oracles: central finite differences of a
 * random projection loss (layer and whole model); the unmodified U-Net (full rank, zero noise);
 * a synthetic skip distribution of known spectrum (PCA ceiling: the best rank-k reconstruction
 * leaves the discarded eigenvalues); tdi-cosim's sde engine (read-out noise variance); the noise
 * streams' independence of the batch size. Temp files in build/tss.XXXXXX.
 *
 * Finite-difference tolerance: as in test_unet (float32, h = 1e-2 on O(1) values: rounding ~1e-4
 * relative, truncation O(h^2) ~ 1e-4; check |fd - an| <= 2e-2 (|fd| + |an| + 0.1)); the layer is
 * linear in x, so its truncation error is zero and only the rounding remains. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_io.h"
#include "tdi_test.h"
#include "tdi_test_grad.h"
#include "tdi_unet.h"
#include "tdi_unet_e2e.h"
#include "tdi_linalg.h"
#include "tdi_sub.h"
#include "tdi_unet_sskip.h"

#define E2E_CFG "configs/e2e.yaml" /* the shipped preset: its circuit section builds the circuits */

static char g_dir[256];

#include "tdi_test_sskip.h" /* after g_dir and E2E_CFG, which it uses */

/* ---- the layer alone: loss = <P, forward(x)> ---- */
typedef struct layer_case {
    const tdi_unet_sskip *s;
    float *x, *work;
    const float *P;
    size_t b, HW;
} layer_case;

static double layer_loss(void *ctx)
{
    layer_case *lc = ctx;
    const size_t n = lc->s->C * lc->b * lc->HW;
    memcpy(lc->work, lc->x, n * sizeof(float));
    tdi_unet_sskip_forward(lc->s, lc->work, lc->b, lc->HW, 0);
    return tdi_test_dot(lc->work, lc->P, n);
}

static void layer_gradcheck(size_t pool, int mode)
{
    enum { C = 6, B = 2, HW = 64, N = C * B * HW };
    float x[N], P[N], g[N], work[N], mean[C], R[C * C];
    tdi_test_fill(x, N, 1.0f);
    tdi_test_fill(P, N, 1.0f);
    tdi_test_fill(mean, C, 0.5f);
    tdi_test_fill(R, C * C, 1.0f);
    tdi_unet_sskip s = {0, C, C, pool, mean, R, NULL, 1, mode};
    layer_case lc = {&s, x, work, P, B, HW};
    memcpy(g, P, sizeof g);
    tdi_unet_sskip_backward(&s, g, B, HW);
    double worst = 0.0;
    for (int k = 0; k < 48; k++) {
        const size_t i = (size_t)rand() % N;
        const double e = tdi_test_fd_rel_err(x, i, g[i], layer_loss, &lc);
        worst = e > worst ? e : worst;
    }
    char name[128];
    snprintf(name, sizeof name, "gradcheck layer pool %zu mode %d (48 inputs, C=6 b=2 8x8)", pool,
             mode);
    tdi_check_le(worst, 2e-2, name);
}

/* ---- the hook: a tiny U-Net with both skips ---- */
static tdi_unet *tiny_unet(size_t b)
{
    tdi_unet_arch a = {16, 4};
    tdi_unet *m = NULL;
    tdi_err err;
    if (!TDI_CHECK(tdi_unet_alloc(&m, a, b, &err) == 0, "alloc tiny U-Net C=16"))
        return NULL;
    tdi_unet_init_params(m, 3);
    for (size_t i = 0; i < m->n_params; i++)
        m->params[i] += 0.05f * tdi_test_frand();
    return m;
}

static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double w = 0.0;
    for (size_t i = 0; i < n; i++)
        w = fmax(w, fabs((double)a[i] - b[i]));
    return w;
}

/* identity R, zero noise: the transported skips equal the originals up to (v - mean) + mean */
static void test_identity_hook(void)
{
    tdi_unet *m = tiny_unet(2);
    if (!m)
        return;
    float x[2048], t[2] = {30.0f, 700.0f}, ref[2048], out[2048];
    tdi_test_fill(x, 2048, 1.0f);
    tdi_unet_forward(m, x, t, 2, ref);
    float mean1[16], mean2[32], R1[16 * 16] = {0}, R2[32 * 32] = {0}, sd1[16] = {0};
    tdi_test_fill(mean1, 16, 0.3f);
    tdi_test_fill(mean2, 32, 0.3f);
    for (size_t c = 0; c < 16; c++)
        R1[c * 16 + c] = 1.0f;
    for (size_t c = 0; c < 32; c++)
        R2[c * 32 + c] = 1.0f;
    tdi_unet_sskip s1 = {0, 16, 16, 1, mean1, R1, sd1, 5, TDI_UNET_SSKIP_SUBSTRATE};
    tdi_unet_sskip s2 = {1, 32, 32, 1, mean2, R2, NULL, 5, TDI_UNET_SSKIP_SUBSTRATE};
    m->sskip[0] = &s1;
    m->sskip[1] = &s2;
    tdi_unet_forward(m, x, t, 2, out);
    /* one float rounding of (v - mean) + mean per skip entry, |v| ~ 1: a few 1e-7 carried through
     * two ResBlocks and the head (gains O(1)): 1e-5 */
    tdi_check_le(max_abs_diff(out, ref, 2048), 1e-5, "identity R, zero noise: eps = unmodified");
    m->sskip[0] = m->sskip[1] = NULL;
    tdi_unet_forward(m, x, t, 2, out);
    tdi_check_near(max_abs_diff(out, ref, 2048), 0.0, 0.0, "hook NULL: eps bit-identical");
    tdi_unet_free(m);
}

typedef struct model_case {
    tdi_unet *m;
    const float *x, *t, *P;
    size_t b;
} model_case;

static double model_loss(void *ctx)
{
    model_case *mc = ctx;
    tdi_unet_forward(mc->m, mc->x, mc->t, mc->b, NULL);
    return tdi_test_dot(mc->m->eps, mc->P, mc->b * 1024);
}

/* gradients of the encoder's parameters reach them through both paths, the skip among them */
static void test_model_grad(void)
{
    tdi_unet *m = tiny_unet(2);
    if (!m)
        return;
    float mean1[16], mean2[32], R1[16 * 16], R2[32 * 32];
    tdi_test_fill(mean1, 16, 0.3f);
    tdi_test_fill(mean2, 32, 0.3f);
    tdi_test_fill(R1, 16 * 16, 0.3f);
    tdi_test_fill(R2, 32 * 32, 0.2f);
    tdi_unet_sskip s1 = {0, 16, 4, 1, mean1, R1, NULL, 5, TDI_UNET_SSKIP_SUBSTRATE};
    tdi_unet_sskip s2 = {1, 32, 4, 2, mean2, R2, NULL, 5, TDI_UNET_SSKIP_SUBSTRATE};
    m->sskip[0] = &s1;
    m->sskip[1] = &s2;
    float x[2048], P[2048], t[2] = {17.0f, 600.0f};
    tdi_test_fill(x, 2048, 1.0f);
    tdi_test_fill(P, 2048, 1.0f);
    model_case mc = {m, x, t, P, 2};
    model_loss(&mc);
    tdi_unet_backward(m, P);
    float *g = malloc(m->n_params * sizeof *g);
    if (!g)
        return;
    memcpy(g, m->grads, m->n_params * sizeof *g);
    const size_t marks[] = {m->stem_w, m->rb[0].c1_w, m->rb[0].c2_w, m->rb[1].c1_w,
                            m->rb[1].sk_w, m->rb[1].c2_b};
    double worst = 0.0;
    for (size_t r = 0; r < sizeof marks / sizeof marks[0]; r++)
        for (int k = 0; k < 8; k++) {
            const size_t i = marks[r] + (size_t)rand() % 16;
            const double e = tdi_test_fd_rel_err(m->params, i, g[i], model_loss, &mc);
            worst = e > worst ? e : worst;
        }
    tdi_check_le(worst, 2e-2, "gradcheck model with sskip e1 (pool 1) and e2 (pool 2), 48 params");
    free(g);
    tdi_unet_free(m);
}

/* E2E_CFG with its text `from` replaced by `to` (once): written to path */
static int edited_cfg(const char *path, const char *from, const char *to)
{
    size_t n = 0;
    char *txt = NULL;
    tdi_err err;
    if (tdi_file_read_all(E2E_CFG, &txt, &n, &err))
        return -1;
    char *at = strstr(txt, from);
    FILE *f = at ? fopen(path, "w") : NULL;
    int rc = f ? 0 : -1;
    if (f) {
        fwrite(txt, 1, (size_t)(at - txt), f);
        fputs(to, f);
        fputs(at + strlen(from), f);
        rc = fclose(f) ? -1 : 0;
    }
    free(txt);
    return rc;
}

/* the noise model's variance against tdi-cosim's sde engine on the bundle's n samples, pooled
 * over the noise seeds 1..seeds (E2E_CFG's seed: 1); ind_off: the model with independent
 * dither (the chooser's) must miss by more than 4 standard errors */
static void sde_noise_check(const char *bdir, const tdi_unet_e2e_sub *sub, long n, int seeds,
                            int ind_off)
{
    char odir[512], cfg[512], seed[32];
    double m = 0.0, v = 0.0, model = 0.0;
    long rows = 0;
    for (int q = 1; q <= seeds; q++) {
        snprintf(odir, sizeof odir, "%s/sde-%d", g_dir, q);
        snprintf(cfg, sizeof cfg, "%s/seed-%d.yaml", g_dir, q);
        snprintf(seed, sizeof seed, "seed: %d ", q);
        tdi_unet_e2e_check r;
        tdi_err err;
        int rc = edited_cfg(cfg, "seed: 1 ", seed) ? -1
                 : tdi_unet_e2e_sde_check(cfg, bdir, odir, n, 0, sub, &r, &err);
        if (!TDI_CHECK(rc == 0, "sde check runs")) {
            printf("  %s\n", rc > 0 ? err.msg : "cannot write the config");
            return;
        }
        m += r.sde / seeds; /* equal rows per seed: the pooled mean and its standard error */
        v += r.sde_se * r.sde_se / ((double)seeds * seeds);
        rows += r.n_sde;
        model = r.model;
    }
    const double se = sqrt(v);
    tdi_check_int(rows, n * seeds, "sde rows read");
    char name[200];
    snprintf(name, sizeof name, "read-out error variance, sde (%ld samples) vs noise model (V^2; "
             "%ld-bit ADC, %ld conversions; 4 standard errors = %.3g)", rows, sub->bits,
             sub->n_conv, 4 * se);
    tdi_check_near(m, model, 4 * se, name);
    if (ind_off) {
        const double ind = sub->noise_rms_ind * sub->noise_rms_ind * sub->Vs * sub->Vs;
        printf("  (the model with independent dither: %.4g V^2, %.2f standard errors)\n", ind,
               (m - ind) / se);
        tdi_check_le(4 * se, fabs(m - ind),
                     "the model with independent dither misses by more than 4 standard errors");
    }
}

/* ---- the fit on a synthetic skip distribution of known spectrum ---- */
enum { SC = 4, SN = 4000, SNB = 256 };
enum { SEEDS = 16 }; /* test_quant_corr: 4,096 sde samples, 4 s.e. = 4% of the variance */

/* X (n, C) = mean + Z diag(sd) O^T, O a fixed rotation; the bundle samples likewise */
static void synth_skips(double *X, size_t n, const double *O, const double *sd, unsigned seed)
{
    srand(seed);
    for (size_t i = 0; i < n; i++) {
        double z[SC];
        for (size_t q = 0; q < SC; q++) { /* sum of 12 uniforms - 6: unit variance */
            double a = -6.0;
            for (int r = 0; r < 12; r++)
                a += (double)rand() / RAND_MAX;
            z[q] = a * sd[q];
        }
        for (size_t c = 0; c < SC; c++) {
            double v = 0.5 + 0.1 * (double)c;
            for (size_t q = 0; q < SC; q++)
                v += O[c * SC + q] * z[q];
            X[i * SC + c] = v;
        }
    }
}

typedef struct synth {
    double X[SN * SC], Xb[SNB * SC], mean[SC], U[SC * SC], ev[SC], A[SC * SC];
} synth;

static int synth_make(synth *s)
{
    /* O: the eigenvectors of a fixed symmetric matrix (a rotation with no zero entries) */
    const double S[SC * SC] = {2, 1, 0.5, 0.2, 1, 3, 0.3, 0.1, 0.5, 0.3, 1, 0.4, 0.2, 0.1, 0.4, 4};
    const double sd[SC] = {2.0, 1.0, 0.5, 0.25};
    double O[SC * SC], w[SC];
    tdi_err err;
    if (tdi_linalg_eig_sym(S, SC, w, O, &err))
        return -1;
    synth_skips(s->X, SN, O, sd, 7);
    synth_skips(s->Xb, SNB, O, sd, 8);
    if (tdi_unet_e2e_pca(s->X, SN, SC, s->mean, s->U, s->ev, &err))
        return -1;
    double J[SC * SC];
    tdi_sub_gram_acts(s->X, SN, SC, 1.0, J);
    tdi_sub_diag_block(J, SC, 0.1, s->A);
    return 0;
}

/* mean squared reconstruction error of the layer (rank k, no noise) over the fit vectors, and
 * the layer's largest deviation from mean + U_k U_k^T (x - mean) computed in double */
static void synth_recon(const synth *s, const tdi_unet_e2e_sub *sub, double *mse, double *dev)
{
    static float x[SC * SN];
    float fm[SC], fR[SC * SC];
    double Rp[SC * SC];
    for (size_t c = 0; c < SC; c++)
        fm[c] = (float)s->mean[c];
    for (size_t q = 0; q < SC * SC; q++)
        fR[q] = (float)sub->R[q];
    tdi_unet_e2e_ceiling(s->U, SC, sub->k, Rp);
    for (size_t i = 0; i < SN; i++) /* [C][b = SN][HW = 1] */
        for (size_t c = 0; c < SC; c++)
            x[c * SN + i] = (float)s->X[i * SC + c];
    tdi_unet_sskip L = {0, SC, sub->k, 1, fm, fR, NULL, 1, TDI_UNET_SSKIP_SUBSTRATE};
    tdi_unet_sskip_forward(&L, x, SN, 1, 0);
    *mse = *dev = 0.0;
    for (size_t i = 0; i < SN; i++)
        for (size_t c = 0; c < SC; c++) {
            double ref = s->mean[c];
            for (size_t j = 0; j < SC; j++)
                ref += Rp[c * SC + j] * (s->X[i * SC + j] - s->mean[j]);
            const double e = x[c * SN + i] - s->X[i * SC + c];
            *mse += e * e / SN;
            *dev = fmax(*dev, fabs(x[c * SN + i] - ref));
        }
}

static void test_pca_ceiling(void)
{
    static synth s;
    if (!TDI_CHECK(synth_make(&s) == 0, "synthetic skips: PCA"))
        return;
    char bdir[512];
    snprintf(bdir, sizeof bdir, "%s/bundle-k2", g_dir);
    tdi_unet_e2e_level lv = {"e1", SC, s.mean, s.U, s.A, s.Xb, SNB};
    tdi_unet_e2e_sub sub;
    tdi_err err;
    int rc = tdi_unet_e2e_substrate(&lv, 2, 0.1, 1.0, 0.05, E2E_CFG, bdir, &sub, &err);
    if (!TDI_CHECK(rc == 0, "e2e substrate k = 2 on synthetic skips (C = 4)")) {
        printf("  %s\n", err.msg);
        return;
    }
    /* the closed-form skip fit reproduces its target to ~1e-14 (docs/substrate.md); 1e-10 leaves
     * room for cond(M) ~ 1e2 here */
    tdi_check_le(sub.r_err, 1e-10, "substrate map = U_2 U_2^T (max |R - Rpca|)");
    tdi_check_le(sub.off_err, 1e-10, "substrate map at the mean = the mean");
    double mse, dev;
    synth_recon(&s, &sub, &mse, &dev);
    /* float32 layer on O(1) values: a few ulp of 4 (|x| <= ~8): 1e-5 */
    tdi_check_le(dev, 1e-5, "layer rank 2 = mean + U_2 U_2^T (x - mean) (max abs, float)");
    /* best rank-2 reconstruction over the fit vectors leaves ev_3 + ev_4 per vector (sum over
     * channels); float32 rounding of 16,000 terms: 1e-5 relative */
    tdi_check_rel(mse, s.ev[2] + s.ev[3], 1e-5,
                  "rank-2 reconstruction error = discarded PCA eigenvalues (the ceiling)");
    tdi_check_rel(sub.noise_rms_ind, sub.op_noise, 1e-9,
                  "per-unit noise model rms, dither independent = the operating point's noise");
    /* positively correlated dither only makes successive rounding errors more alike */
    tdi_check_le(sub.noise_rms_ind, sub.noise_rms, "correlated dither adds quantisation noise");
    /* tdi-gen's report: dense intra C(C-1)/2 per module, shared-bus skip 2Ck (docs/generator.md) */
    tdi_check_int((long long)sub.wires, SC * (SC - 1) + 2 * SC * 2, "wire pairs of the circuit");
    tdi_check_int((long long)sub.skip_wires, 2 * SC * 2, "wire pairs of the skip block");
    sde_noise_check(bdir, &sub, SNB, 1, 0);
    tdi_unet_e2e_sub_destroy(&sub);
}

/* The case above with the sde check pooled over SEEDS noise seeds, so that it resolves the
 * quantisation model: at this operating point (6-bit ADC, 5 conversions, 4 per relaxation time,
 * node std about q/2) the dither of successive conversions is correlated and so are their
 * rounding errors; the model that takes them as independent (the chooser's, and tdi-cosim's
 * before docs/physics.md 9 said otherwise) is 7% low and misses by more than 4 standard errors. */
static void test_quant_corr(void)
{
    static synth s;
    char bdir[512];
    snprintf(bdir, sizeof bdir, "%s/bundle-k2", g_dir);
    if (!TDI_CHECK(synth_make(&s) == 0, "synthetic skips: quantisation"))
        return;
    tdi_unet_e2e_level lv = {"e1", SC, s.mean, s.U, s.A, s.Xb, SNB};
    tdi_unet_e2e_sub sub;
    tdi_err err;
    int rc = tdi_unet_e2e_substrate(&lv, 2, 0.1, 1.0, 0.05, E2E_CFG, bdir, &sub, &err);
    if (!TDI_CHECK(rc == 0, "e2e substrate k = 2 on synthetic skips (C = 4), again")) {
        printf("  %s\n", err.msg);
        return;
    }
    sde_noise_check(bdir, &sub, SNB, SEEDS, 1);
    tdi_unet_e2e_sub_destroy(&sub);
}

/* ---- the fit's full-rank substrates in a tiny U-Net (tdi_test_sskip.h) ---- */
static void test_full_rank_model(void)
{
    tdi_unet *m = tiny_unet(4);
    static lvfit f[2];
    if (!m)
        return;
    static float x[4096], ref[4096], out[4096], half[4096];
    float t[4] = {10.0f, 250.0f, 500.0f, 900.0f};
    tdi_test_fill(x, 4096, 1.0f);
    tdi_unet_forward(m, x, t, 4, ref);
    int ok = fit_level(m, 0, &f[0]) == 0;
    ok = ok && fit_level(m, 1, &f[1]) == 0;
    if (!TDI_CHECK(ok, "full-rank substrates of a tiny U-Net's e1 (C = 16) and e2 (C = 32)"))
        goto done;
    tdi_check_le(fmax(f[0].sub.r_err, f[1].sub.r_err), 1e-9, "full-rank substrate map = I");
    tdi_unet_sskip s[2];
    for (int lv = 0; lv < 2; lv++)
        s[lv] = (tdi_unet_sskip){lv, f[lv].sub.C, f[lv].sub.C, 1, f[lv].fm, f[lv].fR, NULL, 9,
                                 TDI_UNET_SSKIP_SUBSTRATE};
    m->sskip[0] = &s[0];
    m->sskip[1] = &s[1];
    tdi_unet_forward(m, x, t, 4, out);
    /* R = I to 1e-14 rounded to float, then (v - mean) + mean: a few ulp per skip entry carried
     * through d2, d1 and the head: 1e-5 (as for the identity R above) */
    tdi_check_le(max_abs_diff(out, ref, 4096), 1e-5,
                 "full rank, zero read-out noise: eps = unmodified U-Net's (float rounding)");
    for (int lv = 0; lv < 2; lv++)
        s[lv].noise_sd = f[lv].fsd;
    tdi_unet_forward(m, x, t, 4, out);
    tdi_check_le(-max_abs_diff(out, ref, 4096), -1e-4, "read-out noise changes eps");
    m->sskip_draw = 0;
    tdi_unet_forward(m, x, t, 2, half);
    m->sskip_draw = 2;
    tdi_unet_forward(m, x + 2048, t + 2, 2, half + 2048);
    /* same streams per image; only OpenBLAS's batch-dependent rounding differs */
    tdi_check_le(max_abs_diff(out, half, 4096), 1e-5,
                 "noise per image independent of the batch split (draw = image index)");
    m->sskip[0] = m->sskip[1] = NULL;
done:
    for (int lv = 0; lv < 2; lv++) {
        free(f[lv].X);
        tdi_unet_e2e_sub_destroy(&f[lv].sub);
    }
    tdi_unet_free(m);
}

int main(void)
{
    srand(4242);
    tdi_mkdirs("build", NULL);
    snprintf(g_dir, sizeof g_dir, "build/tss.XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    layer_gradcheck(1, TDI_UNET_SSKIP_SUBSTRATE);
    layer_gradcheck(2, TDI_UNET_SSKIP_SUBSTRATE);
    layer_gradcheck(4, TDI_UNET_SSKIP_MEAN);
    layer_gradcheck(1, TDI_UNET_SSKIP_ZERO);
    test_identity_hook();
    test_model_grad();
    test_pca_ceiling();
    test_quant_corr();
    test_full_rank_model();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0)
        printf("note: could not remove %s\n", g_dir);
    TDI_TEST_END();
}
