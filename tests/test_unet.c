/* test_unet: checks of the U-Net (tools/unet). Oracles: central finite differences of a random
 * projection loss for every layer type and for the whole model on a tiny instance; the published
 * class balance of Fashion-MNIST (6,000 / 1,000 images per class); corrupt copies of the real
 * IDX files and of checkpoints made here; a resumed training run that must repeat the
 * uninterrupted one bit for bit; NumPy loading an exported bundle. Temp files in build/tu.XXXXXX.
 *
 * Finite-difference tolerance: float32 forward passes, h = 1e-2 on O(1) inputs: rounding error
 * of the loss difference ~ 1e-7 * |L| / h ~ 1e-4 relative, truncation O(h^2 f''') ~ 1e-4; the
 * check is |fd - an| <= 2e-2 * (|fd| + |an| + 0.1) (the 0.1 floor keeps near-zero gradients from
 * dividing by rounding noise), well above both and far below the O(1) error of a wrong formula. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tdi_io.h"
#include "tdi_npy.h"
#include "tdi_test.h"
#include "tdi_sub.h"
#include "tdi_test_grad.h"
#include "tdi_unet.h"
#include "tdi_unet_cfg.h"
#include "tdi_unet_data.h"
#include "tdi_unet_run.h"

static char g_dir[256];

/* Central difference of loss(ctx) in v[i] (step h = 1e-2) against the analytic gradient an;
 * returns |fd - an| / (|fd| + |an| + 0.1) (see the tolerance note at the top). */
/* A layer under test: forward computes out from (in, params); loss = <out, R>. */
typedef struct layer_case {
    const char *name;
    size_t n_in, n_par, n_out;
    float *in, *par, *out, *R, *din, *dpar;
    void (*fwd)(struct layer_case *);
    void (*bwd)(struct layer_case *); /* fills din, dpar (dpar zeroed first) */
    tdi_unet_geom g;
    size_t c, c2;
    float *scratch, *aux1, *aux2;
} layer_case;

static double lc_loss(void *ctx)
{
    layer_case *lc = ctx;
    lc->fwd(lc);
    return tdi_test_dot(lc->out, lc->R, lc->n_out);
}

static void check_layer(layer_case *lc)
{
    tdi_test_fill(lc->in, lc->n_in, 1.0f);
    tdi_test_fill(lc->par, lc->n_par, 0.5f);
    tdi_test_fill(lc->R, lc->n_out, 1.0f);
    lc_loss(lc);
    memset(lc->dpar, 0, lc->n_par * sizeof(float));
    lc->bwd(lc);
    int checked = 0;
    double worst = 0.0;
    for (int which = 0; which < 2; which++) {
        float *v = which ? lc->par : lc->in, *g = which ? lc->dpar : lc->din;
        size_t n = which ? lc->n_par : lc->n_in;
        if (!g || n == 0)
            continue;
        for (size_t k = 0; k < 40 && k < n; k++) {
            size_t i = n <= 40 ? k : (size_t)rand() % n;
            double e = tdi_test_fd_rel_err(v, i, g[i], lc_loss, lc);
            worst = e > worst ? e : worst;
            checked++;
        }
    }
    char name[128];
    snprintf(name, sizeof name, "gradcheck %s (%d entries)", lc->name, checked);
    tdi_check_le(worst, 2e-2, name);
}

static void conv3_fwd(layer_case *l)
{
    tdi_unet_conv3_fwd(l->in, l->c, l->g, l->par, l->par + l->c2 * l->c * 9, l->c2, l->out,
                       l->scratch, 0);
}
static void conv3_bwd(layer_case *l)
{
    tdi_unet_conv3_bwd(l->in, l->c, l->g, l->par, l->c2, l->R, l->dpar,
                       l->dpar + l->c2 * l->c * 9, l->din, l->scratch, 0);
}
static void conv3acc_fwd(layer_case *l)
{
    tdi_unet_fill_rows(l->out, l->c2, tdi_unet_plane(l->g), l->par + l->c2 * l->c * 9, NULL);
    tdi_unet_conv3_acc(l->in, l->c, l->g, l->par, l->c2, l->out, l->scratch, 0);
}
static void conv1_fwd(layer_case *l)
{
    tdi_unet_conv1_fwd(l->in, l->c, tdi_unet_plane(l->g), l->par, l->par + l->c2 * l->c, l->c2,
                       l->out);
}
static void conv1_bwd(layer_case *l)
{
    tdi_unet_conv1_bwd(l->in, l->c, tdi_unet_plane(l->g), l->par, l->c2, l->R, l->dpar,
                       l->dpar + l->c2 * l->c, l->din, 0.0f);
}
static int g_gn_silu; /* GroupNorm case: plain (0) or fused with SiLU (1) */
static void gn_fwd(layer_case *l)
{
    tdi_unet_gn_fwd(l->in, l->c, l->g, l->c2, l->par, l->par + l->c, g_gn_silu, l->out, l->aux1,
                    l->aux2);
}
static void gn_bwd(layer_case *l)
{
    double part[2 * 2 * 8]; /* 2 x B x C of this case */
    tdi_unet_gn_bwd(l->in, l->c, l->g, l->c2, l->par, l->par + l->c, g_gn_silu, l->aux1, l->aux2,
                    l->R, l->dpar, l->dpar + l->c, l->din, part);
}
static void silu_fwd(layer_case *l)
{
    tdi_unet_silu_fwd(l->in, l->n_in, l->out);
}
static void silu_bwd(layer_case *l)
{
    tdi_unet_silu_bwd(l->in, l->n_in, l->R, l->din);
}
static void lin_fwd(layer_case *l)
{
    tdi_unet_linear_fwd(l->in, l->g.b, l->c, l->par, l->par + l->c2 * l->c, l->c2, l->out);
}
static void lin_bwd(layer_case *l)
{
    tdi_unet_linear_bwd(l->in, l->g.b, l->c, l->par, l->c2, l->R, l->dpar,
                        l->dpar + l->c2 * l->c, l->din);
}
static void pool_fwd(layer_case *l)
{
    tdi_unet_pool_fwd(l->in, l->c, l->g, l->out);
}
static void pool_bwd(layer_case *l)
{
    memset(l->din, 0, l->n_in * sizeof(float)); /* pool_bwd accumulates */
    tdi_unet_pool_bwd(l->R, l->c, l->g, l->din);
}
static void up_fwd(layer_case *l)
{
    tdi_unet_up_fwd(l->in, l->c, l->g, l->out);
}
static void up_bwd(layer_case *l)
{
    tdi_unet_up_bwd(l->R, l->c, l->g, l->din);
}

static void run_layer(const char *name, size_t n_in, size_t n_par, size_t n_out, size_t c,
                      size_t c2, tdi_unet_geom g, void (*f)(layer_case *),
                      void (*b)(layer_case *))
{
    layer_case l = {name, n_in, n_par, n_out, NULL, NULL, NULL, NULL, NULL, NULL, f, b, g, c, c2,
                    NULL, NULL, NULL};
    l.in = calloc(n_in, sizeof(float));
    l.par = calloc(n_par + 1, sizeof(float));
    l.out = calloc(n_out, sizeof(float));
    l.R = calloc(n_out, sizeof(float));
    l.din = calloc(n_in, sizeof(float));
    l.dpar = calloc(n_par + 1, sizeof(float));
    l.scratch = calloc(n_in * 9 + n_out * 9 + 64, sizeof(float));
    l.aux1 = calloc(256, sizeof(float));
    l.aux2 = calloc(256, sizeof(float));
    check_layer(&l);
    free(l.in);
    free(l.par);
    free(l.out);
    free(l.R);
    free(l.din);
    free(l.dpar);
    free(l.scratch);
    free(l.aux1);
    free(l.aux2);
}

static void test_layers(void)
{
    tdi_unet_geom g = {2, 6, 6};
    const size_t n = tdi_unet_plane(g);
    run_layer("conv3x3 3->4", 3 * n, 4 * 3 * 9 + 4, 4 * n, 3, 4, g, conv3_fwd, conv3_bwd);
    run_layer("conv3x3 accumulate 3->4", 3 * n, 4 * 3 * 9 + 4, 4 * n, 3, 4, g, conv3acc_fwd,
              conv3_bwd);
    run_layer("conv1x1 3->5", 3 * n, 5 * 3 + 5, 5 * n, 3, 5, g, conv1_fwd, conv1_bwd);
    g_gn_silu = 0;
    run_layer("groupnorm 8ch/4 groups", 8 * n, 16, 8 * n, 8, 4, g, gn_fwd, gn_bwd);
    g_gn_silu = 1;
    run_layer("groupnorm + silu (fused) 8ch/4 groups", 8 * n, 16, 8 * n, 8, 4, g, gn_fwd, gn_bwd);
    run_layer("silu", 50, 0, 50, 0, 0, g, silu_fwd, silu_bwd);
    tdi_unet_geom gb = {3, 1, 1};
    run_layer("linear 7->5", 3 * 7, 5 * 7 + 5, 3 * 5, 7, 5, gb, lin_fwd, lin_bwd);
    run_layer("avgpool 2x2", 3 * n, 0, 3 * n / 4, 3, 0, g, pool_fwd, pool_bwd);
    tdi_unet_geom gs = {2, 3, 3};
    run_layer("nearest upsample x2", 3 * tdi_unet_plane(gs), 0, 3 * tdi_unet_plane(gs) * 4, 3, 0,
              gs, up_fwd, up_bwd);
}

/* Whole model, tiny instance: every parameter tensor (sampled) and so the concat, the skip
 * paths and the time embedding MLP. */
typedef struct model_case {
    tdi_unet *m;
    const float *x, *t, *R;
    size_t b;
} model_case;

static double model_loss(void *ctx)
{
    model_case *mc = ctx;
    tdi_unet_forward(mc->m, mc->x, mc->t, mc->b, NULL);
    return tdi_test_dot(mc->m->eps, mc->R, mc->b * 1024);
}

/* a U-Net of width C, G groups, batch b; NULL (and a failed check) if it cannot be made */
static tdi_unet *test_alloc(size_t C, size_t G, size_t b, const char *name)
{
    tdi_unet_arch a = {C, G};
    tdi_unet *m = NULL;
    tdi_err err;
    return TDI_CHECK(tdi_unet_alloc(&m, a, b, &err) == 0, name) ? m : NULL;
}

static void test_model_grad(void)
{
    tdi_unet *m = test_alloc(16, 4, 2, "alloc tiny U-Net");
    tdi_err err;
    if (!m)
        return;
    /* the training path: im2col columns kept from the forward for the backward */
    TDI_CHECK(tdi_unet_cache_cols(m, &err) == 0, "enable the im2col cache");
    tdi_unet_init_params(m, 3);
    for (size_t i = 0; i < m->n_params; i++) /* move GroupNorm off gamma 1 / beta 0 */
        m->params[i] += 0.05f * tdi_test_frand();
    float x[2048], R[2048], t[2] = {17.0f, 600.0f};
    tdi_test_fill(x, 2048, 1.0f);
    tdi_test_fill(R, 2048, 1.0f);
    model_case mc = {m, x, t, R, 2};
    model_loss(&mc);
    tdi_unet_backward(m, R);
    float *g = malloc(m->n_params * sizeof *g);
    memcpy(g, m->grads, m->n_params * sizeof *g);
    /* offsets of tensors whose gradient must be right: sample 12 entries in each region. */
    const size_t marks[] = {m->stem_w, m->t1_w, m->t2_w, m->rb[0].gn1_g, m->rb[0].c1_w,
                            m->rb[0].tp_w, m->rb[1].sk_w, m->rb[2].c2_w, m->rb[3].c1_w,
                            m->rb[3].sk_w, m->rb[4].gn2_g, m->rb[4].c1_b, m->go_g, m->out_w,
                            m->n_params};
    const size_t nm = sizeof marks / sizeof marks[0];
    double worst = 0.0;
    int checked = 0;
    for (size_t r = 0; r + 1 < nm; r++) {
        const size_t lo = marks[r], hi = marks[r + 1] > lo ? marks[r + 1] : m->n_params;
        for (int k = 0; k < 12; k++) {
            size_t i = lo + (size_t)rand() % (hi - lo < 64 ? hi - lo : 64);
            double e = tdi_test_fd_rel_err(m->params, i, g[i], model_loss, &mc);
            worst = e > worst ? e : worst;
            checked++;
        }
    }
    char name[128];
    snprintf(name, sizeof name,
             "gradcheck whole model C=16 (%d parameters in 14 tensors: concat, skips, time MLP)",
             checked);
    tdi_check_le(worst, 2e-2, name);
    free(g);
    tdi_unet_free(m);
}

static void test_param_count(void)
{
    tdi_unet *m = test_alloc(32, 8, 1, "alloc C=32");
    if (!m)
        return;
    /* By hand from the architecture of issue 2 ("about 0.57M"): stem 9C + C = 320; time MLP
     * (C*4C + 4C) + (4C*4C + 4C) = 20,736; a ResBlock(ci -> co) has 2ci + 9ci co + co + 4C co
     * + co + 2co + 9co^2 + co, plus ci co + co for the 1x1 skip when ci != co: e1 22,752,
     * e2 65,984, mid 246,656, d2 168,704, d1 44,416; head 2C + 9C + 1 = 353. */
    tdi_check_int((long long)m->n_params, 569921LL, "parameter count at C=32");
    tdi_unet_free(m);
}

static void test_schedule(void)
{
    double beta[1000], abar[1000];
    tdi_unet_schedule(1000, 1e-4, 0.02, beta, abar);
    tdi_check_rel(beta[0], 1e-4, 1e-12, "beta_0");
    tdi_check_rel(beta[999], 0.02, 1e-12, "beta_999");
    tdi_check_rel(abar[0], 1.0 - 1e-4, 1e-12, "abar_0");
    /* abar_999 = prod(1 - beta_t) ~ exp(-sum beta - sum beta^2 / 2) ~ 4.0e-5 (DDPM paper) */
    tdi_check_rel(abar[999], 4.035e-5, 2e-2, "abar_999");
}

/* g_dir/name := the n bytes at data; its path into p[np] */
static void write_bytes(char *p, size_t np, const char *name, const void *data, size_t n)
{
    snprintf(p, np, "%s/%s", g_dir, name);
    FILE *f = fopen(p, "wb");
    if (f) {
        fwrite(data, 1, n, f);
        fclose(f);
    }
}

/* a reader refused its input: rc is TDI_EFORMAT and the message contains needle */
static void check_refused(int rc, const tdi_err *err, const char *needle, const char *what)
{
    char lab[160];
    snprintf(lab, sizeof lab, "%s is refused", what);
    TDI_CHECK(rc == TDI_EFORMAT, lab);
    snprintf(lab, sizeof lab, "%s: message has \"%s\"", what, needle);
    tdi_check_contains(err->msg, needle, lab);
}

/* g_dir/name holding the n bytes at data is refused by the IDX reader */
static void idx_refused(const char *name, const void *data, size_t n, const char *needle,
                        const char *what)
{
    char p[512];
    write_bytes(p, sizeof p, name, data, n);
    uint8_t *out = NULL;
    int nd;
    uint32_t dims[3];
    tdi_err err;
    int rc = tdi_unet_idx_read(p, &out, &nd, dims, &err);
    check_refused(rc, &err, needle, what);
    if (!rc)
        free(out);
}

static void test_dataset(void)
{
    tdi_unet_dataset ds;
    tdi_err err;
    tdi_err_clear(&err);
    int rc = tdi_unet_dataset_load(&ds, TDI_UNET_DATA_DIR, "test", &err);
    if (!TDI_CHECK(rc == 0, "load the real t10k files")) {
        printf("    %s\n", err.msg);
        return;
    }
    tdi_check_int((long long)ds.n, 10000, "test images");
    long cnt[10] = {0};
    for (size_t i = 0; i < ds.n; i++)
        cnt[ds.label[i] < 10 ? ds.label[i] : 0]++;
    int balanced = 1;
    for (int k = 0; k < 10; k++)
        balanced &= cnt[k] == 1000;
    TDI_CHECK(balanced, "Fashion-MNIST test set: 1,000 images per class");
    /* padding is background (-1); pixels within [-1, 1] */
    float lo = 1.0f, hi = -1.0f;
    for (size_t i = 0; i < ds.n * 1024; i++) {
        lo = ds.img[i] < lo ? ds.img[i] : lo;
        hi = ds.img[i] > hi ? ds.img[i] : hi;
    }
    tdi_check_near(lo, -1.0, 0.0, "min pixel is -1");
    tdi_check_near(hi, 1.0, 0.0, "max pixel is 1");
    tdi_check_near(ds.img[0], -1.0, 0.0, "padding pixel (0,0) is background");
    tdi_unet_dataset_destroy(&ds);
    rc = tdi_unet_dataset_load(&ds, TDI_UNET_DATA_DIR, "train", &err);
    TDI_CHECK(rc == 0 && ds.n == 60000, "load the real train files: 60,000 images");
    tdi_unet_dataset_destroy(&ds);

    /* Corrupt copies of the real label file. */
    char *buf = NULL;
    size_t size = 0;
    if (tdi_file_read_all(TDI_UNET_DATA_DIR "/t10k-labels-idx1-ubyte.gz", &buf, &size, &err))
        return;
    idx_refused("trunc.gz", buf, size / 2, "trunc.gz", "truncated gzip");
    for (size_t i = size / 3; i < size / 3 + 64; i++)
        buf[i] ^= 0x5a;
    idx_refused("corrupt.gz", buf, size, "corrupt.gz", "corrupt gzip payload");
    free(buf);
    /* A plain file with a wrong magic; a payload shorter than its header; a missing folder. */
    idx_refused("badmagic.idx", "\0\0\x08\x02\0\0\0\x01x", 9, "bad IDX magic", "bad IDX magic");
    idx_refused("short.idx", "\0\0\x08\x01\0\0\0\x05xy", 10, "truncated",
                "IDX payload shorter than its header");
    rc = tdi_unet_dataset_load(&ds, "/nonexistent/fashion", "test", &err);
    TDI_CHECK(rc == TDI_EIO, "missing dataset folder is refused");
    tdi_check_contains(err.msg, "/nonexistent/fashion", "missing dataset: message names it");
}

/* g_dir/name holding the n bytes at data is refused by the checkpoint loader */
static void ckpt_refused(const char *name, const char *data, size_t n, tdi_unet *m,
                         const char *needle, const char *what)
{
    char p[512];
    write_bytes(p, sizeof p, name, data, n);
    tdi_err err;
    check_refused(tdi_unet_ckpt_load(p, m, NULL, NULL, &err), &err, needle, what);
}

static void test_checkpoint(void)
{
    tdi_unet_arch a = {16, 4};
    tdi_unet *m = NULL, *m2 = NULL;
    tdi_err err;
    tdi_unet_alloc(&m, a, 1, &err);
    tdi_unet_alloc(&m2, a, 1, &err);
    tdi_unet_init_params(m, 7);
    char p[512];
    snprintf(p, sizeof p, "%s/m.ckpt", g_dir);
    int rc = tdi_unet_ckpt_save(p, m, 42, 5, 1, NULL, &err);
    TDI_CHECK(rc == 0, "checkpoint save");
    tdi_unet_ckpt_info info;
    rc = tdi_unet_ckpt_load(p, m2, NULL, &info, &err);
    TDI_CHECK(rc == 0 && memcmp(m->params, m2->params, m->n_params * sizeof(float)) == 0,
              "checkpoint round trip is exact");
    tdi_check_int((long long)info.config_hash, 42, "checkpoint keeps the config hash");
    tdi_check_int((long long)info.step, 5, "checkpoint keeps the step");
    char *buf = NULL;
    size_t size = 0;
    tdi_file_read_all(p, &buf, &size, &err);
    ckpt_refused("trunc.ckpt", buf, size - 100, m2, "trunc.ckpt: truncated",
                 "truncated checkpoint");
    buf[1000] ^= 1;
    ckpt_refused("flip.ckpt", buf, size, m2, "checksum", "checkpoint with a flipped bit");
    buf[1000] ^= 1;
    buf[0] = 'X';
    ckpt_refused("magic.ckpt", buf, size, m2, "bad magic", "checkpoint with a wrong magic");
    free(buf);
    tdi_unet *m3 = NULL;
    tdi_unet_arch a3 = {8, 4};
    tdi_unet_alloc(&m3, a3, 1, &err);
    rc = tdi_unet_ckpt_load(p, m3, NULL, NULL, &err);
    TDI_CHECK(rc == TDI_EFORMAT, "checkpoint of another architecture is refused");
    tdi_check_contains(err.msg, "architecture mismatch", "architecture mismatch: message");
    rc = tdi_unet_ckpt_load(p, m2, &(tdi_unet_adam){0}, NULL, &err);
    TDI_CHECK(rc == TDI_EFORMAT, "weights-only checkpoint cannot resume training");
    tdi_unet_free(m);
    tdi_unet_free(m2);
    tdi_unet_free(m3);
}

static void test_config(void)
{
    char p[512];
    tdi_unet_config c;
    tdi_err err;
    snprintf(p, sizeof p, "%s/bad1.yaml", g_dir);
    tdi_test_write(p, "seed: 1\ntrain:\n  lr: 0.001\n  lr_typo: 3\n");
    int rc = tdi_unet_config_load(&c, p, &err);
    TDI_CHECK(rc == TDI_ECONFIG, "unknown config key is refused");
    tdi_check_contains(err.msg, "bad1.yaml:4:3", "unknown key: file:line:col");
    snprintf(p, sizeof p, "%s/bad2.yaml", g_dir);
    tdi_test_write(p, "train:\n  lr: -0.5\n");
    rc = tdi_unet_config_load(&c, p, &err);
    TDI_CHECK(rc == TDI_ECONFIG, "negative learning rate is refused");
    tdi_check_contains(err.msg, "bad2.yaml:2:7", "negative lr: file:line:col");
    snprintf(p, sizeof p, "%s/bad3.yaml", g_dir);
    tdi_test_write(p, "model:\n  channels: 30\n");
    rc = tdi_unet_config_load(&c, p, &err);
    TDI_CHECK(rc == TDI_ECONFIG, "channels not a multiple of groups is refused");
    snprintf(p, sizeof p, "%s/bad4.yaml", g_dir);
    tdi_test_write(p, "train: [1, 2\n");
    rc = tdi_unet_config_load(&c, p, &err);
    TDI_CHECK(rc == TDI_ECONFIG, "malformed YAML is refused");
    tdi_check_contains(err.msg, "bad4.yaml:", "malformed YAML: message names the file");
    rc = tdi_unet_config_load(&c, "configs/unet.yaml", &err);
    TDI_CHECK(rc == 0, "configs/unet.yaml loads");
}

/* Training resumed after a simulated kill repeats the uninterrupted run exactly. */
static void test_resume(void)
{
    char p[512];
    snprintf(p, sizeof p, "%s/tiny.yaml", g_dir);
    char text[1024];
    snprintf(text, sizeof text,
             "seed: 11\nmodel: {channels: 8, groups: 2}\n"
             "train:\n  batch: 4\n  max_steps: 6\n  ckpt_every: 2\n  warmup: 2\n"
             "  state: %s/STATE.ckpt\n  out: %s/OUT.ckpt\n",
             g_dir, g_dir);
    /* two configs differing only in paths (paths are not hashed) */
    char ta[1024], tb[1024];
    snprintf(ta, sizeof ta, "%s", text);
    snprintf(tb, sizeof tb, "%s", text);
    for (char *s = strstr(ta, "STATE"); s; s = strstr(s, "STATE"))
        memcpy(s, "STA_A", 5);
    for (char *s = strstr(ta, "OUT"); s; s = strstr(s, "OUT"))
        memcpy(s, "OU1", 3);
    for (char *s = strstr(tb, "STATE"); s; s = strstr(s, "STATE"))
        memcpy(s, "STA_B", 5);
    for (char *s = strstr(tb, "OUT"); s; s = strstr(s, "OUT"))
        memcpy(s, "OU2", 3);
    char pa[512], pb[512];
    snprintf(pa, sizeof pa, "%s/a.yaml", g_dir);
    snprintf(pb, sizeof pb, "%s/b.yaml", g_dir);
    tdi_test_write(pa, ta);
    tdi_test_write(pb, tb);
    tdi_unet_config ca, cb;
    tdi_err err;
    if (!TDI_CHECK(tdi_unet_config_load(&ca, pa, &err) == 0 &&
                       tdi_unet_config_load(&cb, pb, &err) == 0,
                   "tiny training configs load"))
        return;
    TDI_CHECK(ca.hash == cb.hash, "config hash ignores paths");
    int rc = tdi_unet_train(&ca, 0, NULL, &err);
    TDI_CHECK(rc == 0, "uninterrupted tiny training run");
    rc = tdi_unet_train(&cb, 3, NULL, &err); /* killed after step 3: last state at step 2 */
    TDI_CHECK(rc == 0, "interrupted run stops after 3 steps");
    struct stat st;
    TDI_CHECK(stat(cb.out, &st) != 0, "interrupted run wrote no final weights");
    tdi_unet_ckpt_info info;
    rc = tdi_unet_ckpt_peek(cb.state, &info, &err);
    tdi_check_int(rc == 0 ? (long long)info.step : -1, 2, "state after the kill is at step 2");
    rc = tdi_unet_train(&cb, 0, NULL, &err);
    TDI_CHECK(rc == 0, "resumed run finishes");
    tdi_unet *ma = NULL, *mb = NULL;
    tdi_unet_arch a = {8, 2};
    tdi_unet_alloc(&ma, a, 1, &err);
    tdi_unet_alloc(&mb, a, 1, &err);
    int la = tdi_unet_ckpt_load(ca.out, ma, NULL, NULL, &err);
    int lb = tdi_unet_ckpt_load(cb.out, mb, NULL, NULL, &err);
    TDI_CHECK(la == 0 && lb == 0 &&
                  memcmp(ma->params, mb->params, ma->n_params * sizeof(float)) == 0,
              "resumed weights equal the uninterrupted run's bit for bit");
    /* A state from another config is refused. */
    snprintf(p, sizeof p, "%s/c.yaml", g_dir);
    char tc[1100];
    snprintf(tc, sizeof tc, "%s  lr: 0.002\n", ta);
    tdi_test_write(p, tc);
    tdi_unet_config cc;
    tdi_unet_config_load(&cc, p, &err);
    rc = tdi_unet_train(&cc, 0, NULL, &err);
    TDI_CHECK(rc == TDI_ECONFIG, "resuming with a different config is refused");
    tdi_check_contains(err.msg, "different training config", "config mismatch: message");

    /* Export from the tiny checkpoint: shapes, manifest, NumPy, and no output on bad input. */
    char out[512];
    snprintf(out, sizeof out, "%s/bundle", g_dir);
    tdi_unet_export_opts o = {ca.out, "test", 30, 5, 200, 1, 9, out};
    rc = tdi_unet_export(&ca, &o, NULL, &err);
    if (!TDI_CHECK(rc == 0, "export 30 test images")) {
        printf("    %s\n", err.msg);
        return;
    }
    static const size_t want[] = {8, 16, 32, 16, 8};
    for (int k = 0; k < TDI_UNET_NBLOCKS; k++) {
        char f[700], name[64];
        snprintf(f, sizeof f, "%s/%s.npy", out, tdi_unet_block_names[k]);
        tdi_npy arr;
        rc = tdi_npy_read(f, &arr, &err);
        snprintf(name, sizeof name, "export %s.npy is [30, %zu]", tdi_unet_block_names[k],
                 want[k]);
        TDI_CHECK(rc == 0 && arr.ndim == 2 && arr.shape[0] == 30 && arr.shape[1] == want[k],
                  name);
        if (rc == 0)
            tdi_npy_destroy(&arr);
    }
    char f[700];
    snprintf(f, sizeof f, "%s/w_d2.npy", out);
    tdi_npy w;
    rc = tdi_npy_read(f, &w, &err);
    TDI_CHECK(rc == 0 && w.ndim == 4 && w.shape[0] == 16 && w.shape[1] == 48 && w.shape[2] == 3,
              "export w_d2.npy is [2C, 6C, 3, 3]");
    if (rc == 0)
        tdi_npy_destroy(&w);
    snprintf(f, sizeof f, "%s/index.npy", out);
    double *idx = NULL;
    size_t rows = 0;
    rc = tdi_npy_load_f64(f, 30, 0, &idx, &rows, NULL, &err);
    TDI_CHECK(rc == 0 && idx[0] == 5.0 && idx[29] == 34.0, "export index.npy holds 5..34");
    free(idx);
    char cmd[1400];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import numpy as np, sys; a = np.load('%s/e2.npy'); "
             "x = np.load('%s/xt.npy'); sys.exit(0 if a.shape == (30, 16) and a.dtype == "
             "np.float32 and x.shape == (30, 1024) and np.isfinite(a).all() else 1)\"",
             out, out);
    TDI_CHECK(system(cmd) == 0, "NumPy loads the exported arrays with the documented shapes");
    /* Pool 2 gives D = channels * 4. */
    char out2[512];
    snprintf(out2, sizeof out2, "%s/bundle2", g_dir);
    tdi_unet_export_opts o2 = {ca.out, "test", 4, 0, 10, 2, 9, out2};
    rc = tdi_unet_export(&ca, &o2, NULL, &err);
    snprintf(f, sizeof f, "%s/e1.npy", out2);
    tdi_npy e1;
    int rr = rc == 0 ? tdi_npy_read(f, &e1, &err) : -1;
    TDI_CHECK(rr == 0 && e1.shape[1] == 32, "export with pool 2: e1 is [N, 4C]");
    if (rr == 0)
        tdi_npy_destroy(&e1);
    /* Same seed, same numbers. */
    char out3[512];
    snprintf(out3, sizeof out3, "%s/bundle3", g_dir);
    tdi_unet_export_opts o3 = o;
    o3.out = out3;
    rc = tdi_unet_export(&ca, &o3, NULL, &err);
    char fa[700], fb[700];
    snprintf(fa, sizeof fa, "%s/d2.npy", out);
    snprintf(fb, sizeof fb, "%s/d2.npy", out3);
    uint64_t ha = 0, hb = 1;
    tdi_hash_file(fa, &ha, &err);
    tdi_hash_file(fb, &hb, &err);
    TDI_CHECK(rc == 0 && ha == hb, "export is reproducible from its seed (identical d2.npy)");
    /* Bad t: error, and no bundle directory appears. */
    char out4[512];
    snprintf(out4, sizeof out4, "%s/bundle4", g_dir);
    tdi_unet_export_opts o4 = o;
    o4.out = out4;
    o4.t = 1000;
    rc = tdi_unet_export(&ca, &o4, NULL, &err);
    TDI_CHECK(rc != 0 && stat(out4, &st) != 0, "export with t = 1000 fails and writes nothing");
    o4.t = 200;
    o4.ckpt = "/nonexistent.ckpt";
    rc = tdi_unet_export(&ca, &o4, NULL, &err);
    TDI_CHECK(rc != 0 && stat(out4, &st) != 0, "export from a missing checkpoint writes nothing");
    tdi_check_contains(err.msg, "/nonexistent.ckpt", "missing checkpoint: message names it");
    o4.ckpt = ca.out;
    o4.first = 9999;
    rc = tdi_unet_export(&ca, &o4, NULL, &err);
    TDI_CHECK(rc != 0 && stat(out4, &st) != 0, "export past the split's end writes nothing");
    tdi_check_contains(err.msg, "the test split has 10000",
                       "past the end: message gives the split's size");
    /* A checkpoint path with a quote and a backslash: the manifest stays valid YAML. */
    char qck[600], out5[512], cp[1400];
    snprintf(qck, sizeof qck, "%s/q\"b\\s.ckpt", g_dir);
    snprintf(cp, sizeof cp, "cp '%s' '%s'", ca.out, qck);
    snprintf(out5, sizeof out5, "%s/bundle5", g_dir);
    tdi_unet_export_opts o5 = {qck, "test", 4, 0, 10, 1, 9, out5};
    rc = system(cp) == 0 ? tdi_unet_export(&ca, &o5, NULL, &err) : -1;
    FILE *devnull = fopen("/dev/null", "w");
    int crc = rc == 0 && devnull ? tdi_sub_act_check(out5, devnull, &err) : -1;
    if (devnull)
        fclose(devnull);
    if (!TDI_CHECK(rc == 0 && crc == 0, "export from a path with \" and \\: tdi-fit reads it"))
        printf("    %s\n", err.msg);
    snprintf(f, sizeof f, "%s/manifest.yaml", out5);
    char *mtxt = tdi_test_slurp(f);
    tdi_check_contains(mtxt ? mtxt : "", "q\\\"b\\\\s.ckpt\"",
                       "the manifest escapes the quote and the backslash");
    free(mtxt);
    tdi_unet_free(ma);
    tdi_unet_free(mb);
}

int main(void)
{
    srand(12345);
    tdi_mkdirs("build", NULL);
    snprintf(g_dir, sizeof g_dir, "build/tu.XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_layers();
    test_model_grad();
    test_param_count();
    test_schedule();
    test_config();
    test_checkpoint();
    test_dataset();
    test_resume();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0)
        printf("note: could not remove %s\n", g_dir);
    TDI_TEST_END();
}
