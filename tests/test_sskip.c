/* test_sskip: checks of the substrate-skip layer (tools/unet/tdi_unet_sskip.c) and its hook in
 * the U-Net. Oracles: central finite differences of a random projection loss (layer and whole
 * model); the unmodified U-Net (full rank, zero noise); the noise streams' independence of the
 * batch size.
 *
 * Finite-difference tolerance: as in test_unet (float32, h = 1e-2 on O(1) values: rounding ~1e-4
 * relative, truncation O(h^2) ~ 1e-4; check |fd - an| <= 2e-2 (|fd| + |an| + 0.1)); the layer is
 * linear in x, so its truncation error is zero and only the rounding remains. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_test.h"
#include "tdi_unet.h"
#include "tdi_unet_sskip.h"

static float frand(void)
{
    return (float)rand() / (float)RAND_MAX * 2.0f - 1.0f;
}

static void fill(float *p, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++)
        p[i] = scale * frand();
}

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

static double fd_rel_err(float *v, size_t i, double an, double (*loss)(void *), void *ctx)
{
    const float h = 1e-2f, o = v[i];
    v[i] = o + h;
    const double lp = loss(ctx);
    v[i] = o - h;
    const double lm = loss(ctx);
    v[i] = o;
    const double fd = (lp - lm) / (2.0 * h);
    return fabs(fd - an) / (fabs(fd) + fabs(an) + 0.1);
}

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
    return dot(lc->work, lc->P, n);
}

static void layer_gradcheck(size_t pool, int mode)
{
    enum { C = 6, B = 2, HW = 64, N = C * B * HW };
    float x[N], P[N], g[N], work[N], mean[C], R[C * C];
    fill(x, N, 1.0f);
    fill(P, N, 1.0f);
    fill(mean, C, 0.5f);
    fill(R, C * C, 1.0f);
    tdi_unet_sskip s = {0, C, C, pool, mean, R, NULL, 1, mode};
    layer_case lc = {&s, x, work, P, B, HW};
    memcpy(g, P, sizeof g);
    tdi_unet_sskip_backward(&s, g, B, HW);
    double worst = 0.0;
    for (int k = 0; k < 48; k++) {
        const size_t i = (size_t)rand() % N;
        const double e = fd_rel_err(x, i, g[i], layer_loss, &lc);
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
        m->params[i] += 0.05f * frand();
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
    fill(x, 2048, 1.0f);
    tdi_unet_forward(m, x, t, 2, ref);
    float mean1[16], mean2[32], R1[16 * 16] = {0}, R2[32 * 32] = {0}, sd1[16] = {0};
    fill(mean1, 16, 0.3f);
    fill(mean2, 32, 0.3f);
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
    return dot(mc->m->eps, mc->P, mc->b * 1024);
}

/* gradients of the encoder's parameters reach them through both paths, the skip among them */
static void test_model_grad(void)
{
    tdi_unet *m = tiny_unet(2);
    if (!m)
        return;
    float mean1[16], mean2[32], R1[16 * 16], R2[32 * 32];
    fill(mean1, 16, 0.3f);
    fill(mean2, 32, 0.3f);
    fill(R1, 16 * 16, 0.3f);
    fill(R2, 32 * 32, 0.2f);
    tdi_unet_sskip s1 = {0, 16, 4, 1, mean1, R1, NULL, 5, TDI_UNET_SSKIP_SUBSTRATE};
    tdi_unet_sskip s2 = {1, 32, 4, 2, mean2, R2, NULL, 5, TDI_UNET_SSKIP_SUBSTRATE};
    m->sskip[0] = &s1;
    m->sskip[1] = &s2;
    float x[2048], P[2048], t[2] = {17.0f, 600.0f};
    fill(x, 2048, 1.0f);
    fill(P, 2048, 1.0f);
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
            const double e = fd_rel_err(m->params, i, g[i], model_loss, &mc);
            worst = e > worst ? e : worst;
        }
    tdi_check_le(worst, 2e-2, "gradcheck model with sskip e1 (pool 1) and e2 (pool 2), 48 params");
    free(g);
    tdi_unet_free(m);
}

int main(void)
{
    srand(4242);
    layer_gradcheck(1, TDI_UNET_SSKIP_SUBSTRATE);
    layer_gradcheck(2, TDI_UNET_SSKIP_SUBSTRATE);
    layer_gradcheck(4, TDI_UNET_SSKIP_MEAN);
    layer_gradcheck(1, TDI_UNET_SSKIP_ZERO);
    test_identity_hook();
    test_model_grad();
    TDI_TEST_END();
}
