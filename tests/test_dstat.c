/* test_dstat: decoder statistics in the U-Net forward (tools/unet/tdi_unet_dstat.h). Oracles:
 * the region means after a replacement equal the target and the within-region deviations are
 * unchanged (direct tensor); replacing a tiny U-Net's d2 or d1 means by its own means reproduces
 * the unmodified output to float rounding, while another target changes it.
 * Tolerances: a replacement adds (target - mean) in float to each pixel, so a pixel is off by
 * at most one rounding, 2^-24 |x| ~ 6e-8 |x|; region means of such pixels by the same relative
 * amount. Through the rest of the network (O(1) gains, C = 16) that stays below 1e-5 of the
 * output's scale; a wrong region or a missing deviation moves the output by O(1e-2) or more. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_test.h"
#include "tdi_test_grad.h"
#include "tdi_unet.h"
#include "tdi_unet_dstat.h"

static double max_abs(const float *a, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(a[i]));
    return m;
}

static double max_diff(const float *a, const float *b, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

/* ch 3, side 4, batch 2, pool 2 (regions 2 x 2), D = 10 of the 12 pooled entries. */
static void test_apply_tensor(void)
{
    enum { CH = 3, SIDE = 4, B = 2, P = 2, D = 10, N = CH * B * SIDE * SIDE };
    float x[N], y[N], tgt[B * D], mx[B * D], my[B * D];
    for (size_t i = 0; i < N; i++)
        x[i] = 3.0f * tdi_test_frand() + 1.0f;
    for (size_t i = 0; i < B * D; i++)
        tgt[i] = 2.0f * tdi_test_frand();
    memcpy(y, x, sizeof x);
    tdi_unet_dstat_means(x, CH, SIDE, B, P, D, mx);
    tdi_unet_dstat_apply(y, CH, SIDE, B, P, D, tgt);
    tdi_unet_dstat_means(y, CH, SIDE, B, P, D, my);
    const double tol = 4.0 * FLT_EPSILON * max_abs(x, N); /* a few roundings of |x| */
    tdi_check_le(max_diff(my, tgt, B * D), tol, "apply: region means equal the target");
    /* deviations: y - target == x - mean, pixel by pixel, for every replaced region */
    double dev = 0.0;
    for (size_t c = 0; c < CH; c++)
        for (size_t i = 0; i < B; i++)
            for (size_t py = 0; py < SIDE; py++)
                for (size_t px = 0; px < SIDE; px++) {
                    const size_t j = c * P * P + py / 2 * P + px / 2;
                    const size_t q = (c * B + i) * SIDE * SIDE + py * SIDE + px;
                    if (j < D)
                        dev = fmax(dev, fabs((y[q] - tgt[i * D + j]) - (x[q] - mx[i * D + j])));
                }
    tdi_check_le(dev, tol, "apply: within-region deviations kept");
    /* channel 2's last two regions (j = 10, 11 >= D) are untouched, bit for bit */
    int same = 1;
    for (size_t i = 0; i < B; i++)
        for (size_t py = 2; py < SIDE; py++)
            for (size_t px = 0; px < SIDE; px++) {
                const size_t q = (2 * B + i) * SIDE * SIDE + py * SIDE + px;
                same &= x[q] == y[q];
            }
    TDI_CHECK(same, "apply: regions beyond D keep their pixels");
}

/* A tiny U-Net with its decoder hook; exact means reproduce the output, others do not. */
static void test_model_exact(tdi_unet_block_id id, size_t pool)
{
    const size_t C = 16, B = 3;
    tdi_unet_arch a = {C, 4};
    tdi_unet *m = NULL;
    tdi_err err;
    if (!TDI_CHECK(tdi_unet_alloc(&m, a, B, &err) == 0, "alloc tiny U-Net"))
        return;
    tdi_unet_init_params(m, 5);
    float x[3 * 1024], t[3] = {20.0f, 200.0f, 700.0f};
    for (size_t i = 0; i < B * 1024; i++)
        x[i] = tdi_test_frand();
    float *e0 = malloc(B * 1024 * sizeof *e0), *e1 = malloc(B * 1024 * sizeof *e1);
    tdi_unet_forward(m, x, t, B, e0);
    size_t ch, side;
    const float *o = tdi_unet_block_out(m, id, &ch, &side);
    const size_t D = ch * pool * pool;
    float *mean = malloc(B * D * sizeof *mean), *other = malloc(B * D * sizeof *other);
    tdi_unet_dstat_means(o, ch, side, B, pool, D, mean);
    for (size_t q = 0; q < B * D; q++) /* the batch's first row for every image */
        other[q] = mean[q % D];
    tdi_unet_dstat hook = {id, pool, D, NULL};
    m->dec_hook = tdi_unet_dstat_hook;
    m->dec_hook_ctx = &hook;
    char name[128];
    tdi_unet_forward(m, x, t, B, e1);
    snprintf(name, sizeof name, "%s pool %zu: hook without target leaves the output",
             tdi_unet_block_names[id], pool);
    tdi_check_le(max_diff(e1, e0, B * 1024), 0.0, name);
    hook.target = mean;
    tdi_unet_forward(m, x, t, B, e1);
    snprintf(name, sizeof name, "%s pool %zu: exact means reproduce the output (1e-5 of max|eps|)",
             tdi_unet_block_names[id], pool);
    tdi_check_le(max_diff(e1, e0, B * 1024), 1e-5 * max_abs(e0, B * 1024), name);
    hook.target = other;
    tdi_unet_forward(m, x, t, B, e1);
    snprintf(name, sizeof name, "%s pool %zu: another image's means change the output (> 1e-3)",
             tdi_unet_block_names[id], pool);
    TDI_CHECK(max_diff(e1, e0, B * 1024) > 1e-3 * max_abs(e0, B * 1024), name);
    free(mean);
    free(other);
    free(e0);
    free(e1);
    tdi_unet_free(m);
}

int main(void)
{
    srand(4242);
    test_apply_tensor();
    test_model_exact(TDI_UNET_D2, 1);
    test_model_exact(TDI_UNET_D2, 2);
    test_model_exact(TDI_UNET_D1, 4);
    TDI_TEST_END();
}
