/* test_tune: the skip-aware fine-tune (tools/unet/tdi_unet_tune.h). Oracles: central finite
 * differences of the whole U-Net's MSE loss with a rank-k substrate skip (and its read-out noise,
 * same draw in every pass) in the forward pass; the fitted map is a rank-k projector; the same
 * seed gives the same tuned checkpoint bytes, and a killed run resumed from its state gives the
 * uninterrupted run's bytes; the start checkpoint is never written. Tiny U-Net (C = 8).
 * Finite-difference tolerance: float32 forward, h = 1e-2 on O(0.1) weights: rounding of the loss
 * difference ~ 1e-7 |L| / h ~ 1e-5 relative, truncation O(h^2 |f'''|) ~ 1e-4; the check
 * |fd - an| <= 2e-2 (|fd| + |an|) on the weights of largest gradient in each tensor (no absolute
 * floor: they are far from zero), while leaving the layer out of the backward changes those
 * gradients by far more (checked). Temp files in build/tt.XXXXXX. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tdi_io.h"
#include "tdi_test.h"
#include "tdi_test_grad.h"
#include "tdi_unet.h"
#include "tdi_unet_data.h"
#include "tdi_unet_tune.h"

static char g_dir[256];

typedef struct fd_case {
    tdi_unet *m;
    const float *x, *t, *target;
    size_t b;
} fd_case;

static double fd_loss(fd_case *f)
{
    f->m->sskip_draw = 7; /* the same noise draw in every pass */
    tdi_unet_forward(f->m, f->x, f->t, f->b, NULL);
    double s = 0.0;
    for (size_t i = 0; i < f->b * 1024; i++) {
        const double d = (double)f->m->eps[i] - f->target[i];
        s += d * d;
    }
    return s / (double)(f->b * 1024);
}

/* index of the largest |g| in [lo, hi) */
static size_t arg_max_abs(const float *g, size_t lo, size_t hi)
{
    size_t best = lo;
    for (size_t i = lo; i < hi; i++)
        if (fabsf(g[i]) > fabsf(g[best]))
            best = i;
    return best;
}

/* A rank-2 skip at e1 (pool 1) or e2 (pool 2) with read-out noise; loss = the training MSE. */
static void test_gradcheck(int level)
{
    const size_t C = 8, B = 2, Cs = level ? 2 * C : C;
    tdi_unet_arch a = {C, 2};
    tdi_unet *m = NULL;
    tdi_err err;
    if (!TDI_CHECK(tdi_unet_alloc(&m, a, B, &err) == 0, "alloc tiny U-Net"))
        return;
    tdi_unet_init_params(m, 11);
    float x[2048], target[2048], t[2] = {50.0f, 400.0f};
    for (size_t i = 0; i < 2048; i++) {
        x[i] = tdi_test_frand();
        target[i] = tdi_test_frand();
    }
    /* R = u u^T + w w^T for two orthonormal random directions u, w */
    float *mean = calloc(Cs, sizeof *mean), *R = calloc(Cs * Cs, sizeof *R);
    float *sd = calloc(Cs, sizeof *sd), u[16], w[16];
    double nu = 0.0, uw = 0.0, nw = 0.0;
    for (size_t c = 0; c < Cs; c++) {
        u[c] = tdi_test_frand();
        w[c] = tdi_test_frand();
        mean[c] = 0.1f * tdi_test_frand();
        sd[c] = 0.05f;
        nu += (double)u[c] * u[c];
    }
    for (size_t c = 0; c < Cs; c++) {
        u[c] = (float)(u[c] / sqrt(nu));
        uw += (double)u[c] * w[c];
    }
    for (size_t c = 0; c < Cs; c++) {
        w[c] -= (float)uw * u[c];
        nw += (double)w[c] * w[c];
    }
    for (size_t c = 0; c < Cs; c++)
        w[c] = (float)(w[c] / sqrt(nw));
    for (size_t i = 0; i < Cs; i++)
        for (size_t j = 0; j < Cs; j++)
            R[i * Cs + j] = u[i] * u[j] + w[i] * w[j];
    tdi_unet_sskip s = {level, Cs, 2, level ? 2 : 1, mean, R, sd, 3, TDI_UNET_SSKIP_SUBSTRATE};
    fd_case f = {m, x, t, target, B};
    /* analytic gradient without the layer's backward (forward with it): must differ */
    m->sskip[level] = &s;
    fd_loss(&f);
    m->sskip[level] = NULL;
    float *g_nolayer = malloc(m->n_params * sizeof *g_nolayer);
    tdi_unet_backward_mse(m, target); /* backward without the layer: the wrong gradient */
    memcpy(g_nolayer, m->grads, m->n_params * sizeof *g_nolayer);
    m->sskip[level] = &s;
    fd_loss(&f);
    tdi_unet_backward_mse(m, target);
    float *g = malloc(m->n_params * sizeof *g);
    memcpy(g, m->grads, m->n_params * sizeof *g);
    const tdi_unet_rb *e = &m->rb[level ? TDI_UNET_E2 : TDI_UNET_E1];
    const size_t lo[] = {m->stem_w, e->c1_w, e->c2_w, m->rb[TDI_UNET_D1].c1_w, m->out_w};
    const size_t hi[] = {m->stem_b, e->c1_b, e->c2_b, m->rb[TDI_UNET_D1].c1_b, m->out_b};
    double worst = 0.0, moved = 0.0;
    for (size_t r = 0; r < sizeof lo / sizeof lo[0]; r++) {
        const size_t i = arg_max_abs(g, lo[r], hi[r]);
        const float h = 1e-2f, o = m->params[i];
        m->params[i] = o + h;
        const double lp = fd_loss(&f);
        m->params[i] = o - h;
        const double lm = fd_loss(&f);
        m->params[i] = o;
        const double fd = (lp - lm) / (2.0 * h);
        worst = fmax(worst, fabs(fd - g[i]) / (fabs(fd) + fabs(g[i])));
        if (r < 3) /* encoder weights: their gradient passes through the layer */
            moved = fmax(moved, fabs(fd - g_nolayer[i]) / (fabs(fd) + fabs(g_nolayer[i])));
    }
    char name[160];
    snprintf(name, sizeof name, "gradcheck: U-Net MSE with a rank-2 noisy substrate skip at %s "
             "(stem, encoder convs, d1, head)", level ? "e2 pool 2" : "e1 pool 1");
    tdi_check_le(worst, 2e-2, name);
    snprintf(name, sizeof name, "gradcheck %s: without the layer's backward the encoder "
             "gradients miss (relative error > 0.1)", level ? "e2" : "e1");
    TDI_CHECK(moved > 0.1, name);
    free(g);
    free(g_nolayer);
    free(mean);
    free(R);
    free(sd);
    tdi_unet_free(m);
}

static int same_file(const char *a, const char *b)
{
    size_t na = 0, nb = 0;
    char *x = NULL, *y = NULL;
    tdi_err err;
    int ok = tdi_file_read_all(a, &x, &na, &err) == 0 && tdi_file_read_all(b, &y, &nb, &err) == 0
             && na == nb && na > 0 && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return ok;
}

/* tune.noise: circuit on the tiny U-Net's e1 skip: the per-channel noise of the substrate's
 * circuit (configs/e2e.yaml's circuit section). Its operating point sets the rms noise of the
 * independent-dither model to circuit.target_noise_ratio (0.05) of its per-sample signal; the
 * model used adds the correlated quantisation, 0-5% in rms (docs/e2e.md); and a circuit's
 * units do not all see the same noise. */
static void circuit_fit(const tdi_unet_config *c, const tdi_unet_tune_cfg *t0, tdi_unet *m,
                        const tdi_unet_dataset *train)
{
    tdi_unet_tune_cfg t = *t0;
    snprintf(t.noise, sizeof t.noise, "circuit");
    snprintf(t.out, sizeof t.out, "%s/circuit", g_dir);
    tdi_unet_tune_skip sk;
    tdi_err err;
    if (!TDI_CHECK(tdi_unet_tune_fit(c, &t, m, train, &sk, &err) == 0,
                   "fit the e1 skip with the circuit's noise")) {
        printf("  %s\n", err.msg);
        return;
    }
    double lo = INFINITY, hi = 0.0;
    for (size_t i = 0; i < 8; i++) {
        lo = fmin(lo, sk.noise_sd[i]);
        hi = fmax(hi, sk.noise_sd[i]);
    }
    TDI_CHECK(sk.op_signal > 0.0 && lo > 0.0, "circuit noise: positive, operating point signal");
    tdi_check_le(0.05 * sk.op_signal, sk.noise_rms, "circuit noise rms >= 0.05 op signal");
    tdi_check_le(sk.noise_rms, 0.05 * 1.05 * sk.op_signal, "circuit noise rms <= 0.0525 op signal");
    tdi_check_le(1.01 * lo, hi, "circuit noise differs between channels (> 1%)");
    tdi_unet_tune_skip_destroy(&sk);
}

/* A fine-tune of a tiny U-Net: the fit, two same-seed runs, and a killed and resumed one. */
static void test_tune_runs(void)
{
    tdi_unet_config c;
    tdi_unet_config_defaults(&c);
    c.channels = 8;
    c.groups = 2;
    c.eval_batch = 16;
    tdi_unet_tune_cfg t;
    tdi_unet_tune_cfg_defaults(&t);
    snprintf(t.noise, sizeof t.noise, "ratio");
    t.fit_n = 32;
    t.steps = 3;
    t.batch = 4;
    t.k = 2;
    t.lr = 1e-3;
    t.ckpt_every = 1;
    tdi_unet_arch a = {8, 2};
    tdi_unet *m = NULL;
    tdi_err err;
    tdi_unet_dataset train = {0};
    if (!TDI_CHECK(tdi_unet_alloc(&m, a, 16, &err) == 0, "alloc tiny U-Net (batch 16)") ||
        !TDI_CHECK(tdi_unet_dataset_load(&train, c.data_dir, "train", &err) == 0,
                   "load the training split"))
        return;
    tdi_unet_init_params(m, 21);
    snprintf(t.checkpoint, sizeof t.checkpoint, "%s/start.ckpt", g_dir);
    TDI_CHECK(tdi_unet_ckpt_save(t.checkpoint, m, 0, 0, 0, NULL, &err) == 0, "write start.ckpt");
    uint64_t h0 = 0, h1 = 0;
    tdi_hash_file(t.checkpoint, &h0, &err);
    tdi_unet_tune_skip sk;
    if (!TDI_CHECK(tdi_unet_tune_fit(&c, &t, m, &train, &sk, &err) == 0, "fit the e1 skip"))
        return;
    /* R = V_k V_k^T: a projector of trace k (float rounding of 8 x 8 products: 1e-5) */
    double tr = 0.0, pp = 0.0;
    for (size_t i = 0; i < 8; i++) {
        tr += sk.R[i * 8 + i];
        for (size_t j = 0; j < 8; j++) {
            double s = 0.0;
            for (size_t q = 0; q < 8; q++)
                s += (double)sk.R[i * 8 + q] * sk.R[q * 8 + j];
            pp = fmax(pp, fabs(s - sk.R[i * 8 + j]));
        }
    }
    tdi_check_near(tr, 2.0, 1e-5, "fitted R: trace k = 2");
    tdi_check_le(pp, 1e-5, "fitted R: R R = R");
    TDI_CHECK(sk.captured > 0.0 && sk.captured < 1.0, "fitted skip: captured variance in (0, 1)");
    tdi_check_near(sk.noise_sd[0], 0.05 * sk.signal_rms, 1e-6 * sk.signal_rms,
                   "noise sd = noise_ratio x signal rms");
    circuit_fit(&c, &t, m, &train);
    char a1[600], a2[600], a3[600];
    const char *dirs[3] = {"run1", "run2", "run3"};
    char *paths[3] = {a1, a2, a3};
    for (int r = 0; r < 3; r++) {
        snprintf(t.out, sizeof t.out, "%s/%s", g_dir, dirs[r]);
        snprintf(paths[r], 600, "%s/unet-tuned.ckpt", t.out);
        if (r == 2) /* killed after 2 of 3 steps (state saved after step 1), then resumed */
            TDI_CHECK(tdi_unet_tune_train(&c, &t, &sk, &train, 2, NULL, &err) == 0 &&
                          access(paths[r], F_OK) != 0,
                      "run 3 killed after 2 steps: no tuned checkpoint yet");
        if (r == 2) {
            char st[700];
            tdi_unet_ckpt_info info = {0};
            snprintf(st, sizeof st, "%s/tune-state.ckpt", t.out);
            tdi_unet_ckpt_peek(st, &info, &err);
            tdi_check_int((long long)info.step, 1, "run 3: the state it resumes from is step 1");
        }
        int rc = tdi_unet_tune_train(&c, &t, &sk, &train, 0, NULL, &err);
        char name[64];
        snprintf(name, sizeof name, "fine-tune %s (3 steps) runs", dirs[r]);
        if (!TDI_CHECK(rc == 0, name))
            printf("  %s\n", err.msg);
    }
    TDI_CHECK(same_file(a1, a2), "same seed: same tuned checkpoint bytes (3 steps)");
    TDI_CHECK(same_file(a1, a3), "killed and resumed: the uninterrupted run's bytes");
    tdi_unet_ckpt_load(a1, m, NULL, NULL, &err);
    tdi_unet *m0 = NULL;
    tdi_unet_alloc(&m0, a, 1, &err);
    tdi_unet_ckpt_load(t.checkpoint, m0, NULL, NULL, &err);
    double dmax = 0.0;
    for (size_t i = 0; i < m->n_params; i++)
        dmax = fmax(dmax, fabs(m->params[i] - m0->params[i]));
    TDI_CHECK(dmax > 1e-4, "the tuned weights moved from the start (lr 1e-3, 3 steps)");
    tdi_hash_file(t.checkpoint, &h1, &err);
    tdi_check_int((long long)(h1 == h0), 1, "start checkpoint unchanged");
    t.hash ^= 1; /* another config: run1's state is refused, not resumed */
    t.steps = 4;
    snprintf(t.out, sizeof t.out, "%s/run1", g_dir);
    TDI_CHECK(tdi_unet_tune_train(&c, &t, &sk, &train, 0, NULL, &err) == TDI_ECONFIG,
              "another config's state is refused");
    tdi_check_contains(err.msg, "tune-state.ckpt", "refusal names the state file");
    tdi_unet_free(m0);
    tdi_unet_tune_skip_destroy(&sk);
    tdi_unet_free(m);
    tdi_unet_dataset_destroy(&train);
}

/* The shipped config loads (keys under tune:, seed and out at the top). */
static void test_cfg(void)
{
    tdi_unet_tune_cfg t;
    tdi_err err;
    tdi_err_clear(&err);
    int rc = tdi_unet_tune_cfg_load(&t, "configs/finetune.yaml", &err);
    if (!TDI_CHECK(rc == 0, "configs/finetune.yaml loads"))
        printf("  %s\n", err.msg);
    tdi_check_int(t.k, 4, "configs/finetune.yaml: tune.k");
    TDI_CHECK(strcmp(t.noise, "circuit") == 0 && strcmp(t.circuit, "configs/e2e.yaml") == 0,
              "configs/finetune.yaml: the circuit's per-channel noise (configs/e2e.yaml)");
    TDI_CHECK(strcmp(t.checkpoint, "models/unet-c32.ckpt") == 0 &&
                  strcmp(t.out, "models") != 0 && strstr(t.out, "models/") != t.out,
              "configs/finetune.yaml: reads the shipped checkpoint, writes elsewhere");
    rc = tdi_unet_tune_cfg_load(&t, "configs/unet.yaml", &err);
    TDI_CHECK(rc == TDI_ECONFIG, "a U-Net config is refused (unknown keys)");
}

int main(void)
{
    test_cfg();
    srand(777);
    tdi_mkdirs("build", NULL);
    snprintf(g_dir, sizeof g_dir, "build/tt.XXXXXX");
    if (!mkdtemp(g_dir)) {
        printf("FAIL mkdtemp\n");
        return 1;
    }
    test_gradcheck(0);
    test_gradcheck(1);
    test_tune_runs();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0)
        printf("note: could not remove %s\n", g_dir);
    TDI_TEST_END();
}
