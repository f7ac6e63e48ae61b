/* test_unet_wino: the Winograd F(2x2, 3x3) convolutions (tools/unet/tdi_unet_wino.h) and the
 * layer entry points that use them (tdi_unet_conv3_*) against a direct 3x3 convolution in
 * double, the sum that im2col + GEMM computes, forward and input gradient, on odd shapes (odd
 * H and W clip the last tile row and column, H = W = 1, channel counts that are not multiples
 * of anything).
 * Tolerance: each output is a sum of cin * 9 products; float32 evaluation (transforms that add
 * or subtract at most 4 terms per side, then a GEMM over cin) loses at most a few ulp of the sum
 * of the magnitudes S = sum |w| |x| of its terms, so |fast - exact| <= 32 FLT_EPSILON S bounds
 * it with margin; a wrong transform coefficient or a misplaced tile is off by O(|w| |x|),
 * i.e. by ~ S / (cin * 9) >> 32 FLT_EPSILON S for these sizes. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_test.h"
#include "tdi_test_grad.h"
#include "tdi_unet.h"
#include "tdi_unet_layers.h"
#include "tdi_unet_wgemm.h"
#include "tdi_unet_wino.h"

/* Direct conv in double: out[co][p] = sum w[co][ci][ky][kx] in[ci][p + (ky-1, kx-1)]; mag gets
 * the sum of |terms| (for the tolerance). adjoint: the input gradient of the conv w [cin][cout]
 * maps a [cin][N] gradient to [cout][N], i.e. uses w[ci][co] rotated by 180 degrees. */
static void ref_conv(const float *in, size_t cin, tdi_unet_geom g, const float *w, size_t cout,
                     int adjoint, double *out, double *mag)
{
    const size_t hw = g.h * g.w, n = g.b * hw;
    for (size_t co = 0; co < cout; co++)
        for (size_t b = 0; b < g.b; b++)
            for (size_t y = 0; y < g.h; y++)
                for (size_t x = 0; x < g.w; x++) {
                    double s = 0.0, a = 0.0;
                    for (size_t ci = 0; ci < cin; ci++)
                        for (int t = 0; t < 9; t++) {
                            const long sy = (long)y + t / 3 - 1, sx = (long)x + t % 3 - 1;
                            if (sy < 0 || sx < 0 || sy >= (long)g.h || sx >= (long)g.w)
                                continue;
                            const float wv = adjoint ? w[(ci * cout + co) * 9 + (8 - t)]
                                                     : w[(co * cin + ci) * 9 + t];
                            const double p = (double)wv * in[ci * n + b * hw + sy * g.w + sx];
                            s += p;
                            a += fabs(p);
                        }
                    out[co * n + b * hw + y * g.w + x] = s;
                    mag[co * n + b * hw + y * g.w + x] = a;
                }
}

/* max over elements of |got - ref| / (32 FLT_EPSILON mag + 1e-30): <= 1 passes. */
static double worst_ratio(const float *got, const double *ref, const double *mag, size_t n)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double r = fabs((double)got[i] - ref[i]) / (32.0 * FLT_EPSILON * mag[i] + 1e-30);
        if (!(r <= worst)) /* NaN propagates as a failure */
            worst = isnan(r) ? INFINITY : r;
    }
    return worst;
}

/* Weight gradient in double: dw[co][ci][ky][kx] = sum over pixels of dout[co][p] in[ci][p +
 * (ky-1, kx-1)] (zero outside); mag the sum of |terms|. */
static void ref_dw(const float *in, size_t cin, tdi_unet_geom g, const float *dout, size_t cout,
                   double *dw, double *mag)
{
    const size_t hw = g.h * g.w, n = g.b * hw;
    for (size_t co = 0; co < cout; co++)
        for (size_t ci = 0; ci < cin; ci++)
            for (size_t tap = 0; tap < 9; tap++) {
                const long ky = (long)(tap / 3) - 1, kx = (long)(tap % 3) - 1;
                double s = 0.0, m = 0.0;
                for (size_t b = 0; b < g.b; b++)
                    for (long y = 0; y < (long)g.h; y++)
                        for (long x = 0; x < (long)g.w; x++) {
                            const long sy = y + ky, sx = x + kx;
                            if (sy < 0 || sy >= (long)g.h || sx < 0 || sx >= (long)g.w)
                                continue;
                            const double t = (double)dout[co * n + b * hw + (size_t)(y * (long)g.w + x)] *
                                             in[ci * n + b * hw + (size_t)(sy * (long)g.w + sx)];
                            s += t;
                            m += fabs(t);
                        }
                dw[(co * cin + ci) * 9 + tap] = s;
                mag[(co * cin + ci) * 9 + tap] = m;
            }
}

static void check_shape(size_t b, size_t h, size_t w, size_t cin, size_t cout)
{
    const tdi_unet_geom g = {b, h, w};
    const size_t n = tdi_unet_plane(g);
    float *in = malloc(cin * n * sizeof *in), *wt = malloc(cout * cin * 9 * sizeof *wt);
    float *out = malloc(cout * n * sizeof *out);
    float *dout = malloc(cout * n * sizeof *dout), *din = malloc(cin * n * sizeof *din);
    float *col = malloc(cin * 9 * n * sizeof *col);
    float *dw = calloc(cout * cin * 9, sizeof *dw), *db = calloc(cout, sizeof *db);
    double *ref = malloc((cin > cout ? cin : cout) * n * sizeof *ref);
    double *mag = malloc((cin > cout ? cin : cout) * n * sizeof *mag);
    tdi_test_fill(in, cin * n, 1.0f);
    tdi_test_fill(wt, cout * cin * 9, 0.3f);
    tdi_test_fill(dout, cout * n, 1.0f);
    char name[160];

    /* forward, Winograd directly (overwrite) */
    ref_conv(in, cin, g, wt, cout, 0, ref, mag);
    int rc = tdi_unet_wino_conv3(in, cin, g, wt, cout, out, 0, 0, NULL, 0);
    snprintf(name, sizeof name, "wino fwd %zux%zux%zu %zu->%zu within 32 eps S", b, h, w, cin,
             cout);
    tdi_check_le(rc == 0 ? worst_ratio(out, ref, mag, cout * n) : INFINITY, 1.0, name);

    /* forward through the layer entry point, with and without the column cache */
    for (int keep = 0; keep <= 1; keep++) {
        tdi_unet_conv3_fwd(in, cin, g, wt, NULL, cout, out, col, keep);
        snprintf(name, sizeof name, "conv3_fwd keep %d %zux%zux%zu %zu->%zu within 32 eps S",
                 keep, b, h, w, cin, cout);
        tdi_check_le(worst_ratio(out, ref, mag, cout * n), 1.0, name);
    }

    /* input gradient: adjoint Winograd and conv3_bwd (col_ready from the keep = 1 forward) */
    ref_conv(dout, cout, g, wt, cin, 1, ref, mag);
    rc = tdi_unet_wino_conv3(dout, cout, g, wt, cin, din, 0, 1, col, cin * 9 * n);
    snprintf(name, sizeof name, "wino adjoint %zux%zux%zu %zu->%zu within 32 eps S", b, h, w,
             cout, cin);
    tdi_check_le(rc == 0 ? worst_ratio(din, ref, mag, cin * n) : INFINITY, 1.0, name);
    tdi_unet_conv3_bwd(in, cin, g, wt, cout, dout, dw, db, din, col, 1);
    snprintf(name, sizeof name, "conv3_bwd din %zux%zux%zu %zu->%zu within 32 eps S", b, h, w,
             cin, cout);
    tdi_check_le(worst_ratio(din, ref, mag, cin * n), 1.0, name);

    /* weight gradient with the columns built by the backward (by chunks of rows when the
     * scratch holds the partial sums: b >= 8 here) */
    double *rdw = malloc(2 * cout * cin * 9 * sizeof *rdw), *mdw = rdw + cout * cin * 9;
    memset(dw, 0, cout * cin * 9 * sizeof *dw);
    ref_dw(in, cin, g, dout, cout, rdw, mdw);
    tdi_unet_conv3_bwd(in, cin, g, wt, cout, dout, dw, db, NULL, col, 0);
    snprintf(name, sizeof name, "conv3_bwd dw %zux%zux%zu %zu->%zu within 32 eps S", b, h, w,
             cin, cout);
    tdi_check_le(worst_ratio(dw, rdw, mdw, cout * cin * 9), 1.0, name);
    free(rdw);
    free(in);
    free(wt);
    free(out);
    free(dout);
    free(din);
    free(col);
    free(dw);
    free(db);
    free(ref);
    free(mag);
}

/* largest |a - b| over n floats */
static double max_diff(const float *a, const float *b, size_t n)
{
    double d = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(a[i]) || isnan(b[i])) /* fmax would skip it */
            return INFINITY;
        d = fmax(d, fabs((double)a[i] - (double)b[i]));
    }
    return d;
}

/* GN + SiLU fused into the Winograd conv (tdi_unet_conv3_gn_acc) against tdi_unet_gn_fwd then
 * tdi_unet_conv3_acc: the same operations per element, so the same bits (difference 0). Chunks
 * of part of an image (32 x 32, wide channels) and of several images (8 x 8). */
static void check_gn_fused(size_t b, size_t side, size_t cin, size_t cout, size_t groups)
{
    const tdi_unet_geom g = {b, side, side};
    const size_t n = tdi_unet_plane(g);
    float *in = malloc(cin * n * sizeof *in), *s = malloc(cin * n * sizeof *s);
    float *w = malloc(cout * cin * 9 * sizeof *w), *ga = malloc(2 * cin * sizeof *ga);
    float *o1 = malloc(2 * cout * n * sizeof *o1), *col = malloc(cin * 9 * n * sizeof *col);
    float *mean = malloc(2 * b * groups * sizeof *mean), *rstd = mean + b * groups;
    float *o2 = o1 + cout * n;
    for (size_t i = 0; i < cin * n; i++)
        in[i] = 2.0f * tdi_test_frand() + 0.5f;
    for (size_t i = 0; i < cout * cin * 9; i++)
        w[i] = tdi_test_frand();
    for (size_t i = 0; i < 2 * cin; i++)
        ga[i] = tdi_test_frand();
    for (size_t i = 0; i < cout * n; i++)
        o1[i] = o2[i] = tdi_test_frand();
    tdi_unet_gn_fwd(in, cin, g, groups, ga, ga + cin, 1, s, mean, rstd);
    tdi_unet_conv3_acc(s, cin, g, w, cout, o1, col, 0);
    memset(mean, 0, 2 * b * groups * sizeof *mean);
    tdi_unet_gn_stats(in, cin, g, groups, mean, rstd);
    const tdi_unet_gnsilu pre = {ga, ga + cin, mean, rstd, groups};
    char name[160];
    snprintf(name, sizeof name, "gn fused b %zu %zux%zu %zu->%zu: fusable", b, side, side, cin,
             cout);
    tdi_check_int(tdi_unet_conv3_gn_fusable(cin, cout, g), 1, name);
    snprintf(name, sizeof name, "gn fused b %zu %zux%zu %zu->%zu: runs", b, side, side, cin, cout);
    tdi_check_int(tdi_unet_conv3_gn_acc(in, cin, g, &pre, w, cout, o2, col), 0, name);
    snprintf(name, sizeof name, "gn fused b %zu %zux%zu %zu->%zu: = gn_fwd + conv3_acc", b, side,
             side, cin, cout);
    tdi_check_near(max_diff(o1, o2, cout * n), 0.0, 0.0, name);
    free(in);
    free(s);
    free(w);
    free(ga);
    free(o1);
    free(col);
    free(mean);
}

/* The fill folded into the fused conv's output transform (tdi_unet_conv3_gn_epi, inference's
 * ResBlocks): per-image + bias constants and residual + bias, against filling out first and
 * accumulating (tdi_unet_conv3_acc): the same two additions, so difference 0. out starts as NaN:
 * a plane the epilogue failed to write shows. */
static void check_gn_epi(size_t b, size_t side, size_t cin, size_t cout, size_t groups)
{
    const tdi_unet_geom g = {b, side, side};
    const size_t n = tdi_unet_plane(g), hw = side * side;
    float *in = malloc(cin * n * sizeof *in), *s = malloc(cin * n * sizeof *s);
    float *w = malloc(cout * cin * 9 * sizeof *w), *ga = malloc(2 * cin * sizeof *ga);
    float *o = malloc(3 * cout * n * sizeof *o), *col = malloc(cin * 9 * n * sizeof *col);
    float *mean = malloc(2 * b * groups * sizeof *mean), *rstd = mean + b * groups;
    float *pi = malloc((b + 1) * cout * sizeof *pi), *bias = pi + b * cout;
    float *ref = o + cout * n, *res = ref + cout * n;
    for (size_t i = 0; i < cin * n; i++)
        in[i] = 2.0f * tdi_test_frand() + 0.5f;
    for (size_t i = 0; i < cout * cin * 9; i++)
        w[i] = tdi_test_frand();
    for (size_t i = 0; i < 2 * cin; i++)
        ga[i] = tdi_test_frand();
    for (size_t i = 0; i < (b + 1) * cout; i++)
        pi[i] = tdi_test_frand();
    for (size_t i = 0; i < cout * n; i++)
        res[i] = tdi_test_frand();
    tdi_unet_gn_fwd(in, cin, g, groups, ga, ga + cin, 1, s, mean, rstd);
    const tdi_unet_gnsilu pre = {ga, ga + cin, mean, rstd, groups};
    for (int mode = 0; mode < 2; mode++) {
        for (size_t co = 0; co < cout; co++)
            for (size_t i = 0; i < n; i++)
                ref[co * n + i] = mode ? res[co * n + i] + bias[co]
                                       : pi[(i / hw) * cout + co] + bias[co];
        tdi_unet_conv3_acc(s, cin, g, w, cout, ref, col, 0);
        for (size_t i = 0; i < cout * n; i++)
            o[i] = NAN;
        const tdi_unet_epi epi = {bias, mode ? NULL : pi, mode ? res : NULL};
        char name[160];
        snprintf(name, sizeof name, "gn epi %s b %zu %zux%zu %zu->%zu: runs",
                 mode ? "residual" : "per-image", b, side, side, cin, cout);
        tdi_check_int(tdi_unet_conv3_gn_epi(in, cin, g, &pre, w, cout, &epi, o, col), 0, name);
        snprintf(name, sizeof name, "gn epi %s b %zu %zux%zu %zu->%zu: = fill + conv3_acc",
                 mode ? "residual" : "per-image", b, side, side, cin, cout);
        tdi_check_near(max_diff(o, ref, cout * n), 0.0, 0.0, name);
    }
    free(in);
    free(s);
    free(w);
    free(ga);
    free(o);
    free(col);
    free(mean);
    free(pi);
}

/* SiLU of the GroupNorm forward (tdi_unet_affine_silu: Cody-Waite + Cephes polynomial expf,
 * IEEE divide) against double precision over v in [-87, 88] (where silu is a normal float):
 * relative error <= 2 FLT_EPSILON (the polynomial's ~1 ulp plus one rounding each of v, 1 + e
 * and the divide; libmvec's expf here gave 2.5); a wrong coefficient errs by >> that. A plane
 * cut into calls of 13, 8 and the rest gives the whole call's bits (the tail's scalar and the
 * vector code do the same operations). */
static void check_silu(void)
{
    const size_t n = (size_t)1 << 20;
    float *x = malloc(n * sizeof *x), *o = malloc(2 * n * sizeof *o), *o2 = o + n;
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(-87.0 + 175.0 * (double)i / (double)(n - 1));
    tdi_unet_affine_silu(x, n, 1.0f, 0.0f, o);
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double v = x[i], e = v / (1.0 + exp(-v));
        if (e != 0.0 && fabs(o[i] - e) / fabs(e) > worst)
            worst = fabs(o[i] - e) / fabs(e);
    }
    tdi_check_le(worst / FLT_EPSILON, 2.0, "silu: max relative error / FLT_EPSILON, [-87, 88]");
    tdi_unet_affine_silu(x, 13, 0.9f, 0.1f, o2);
    tdi_unet_affine_silu(x + 13, 8, 0.9f, 0.1f, o2 + 13);
    tdi_unet_affine_silu(x + 21, 1000, 0.9f, 0.1f, o2 + 21);
    tdi_unet_affine_silu(x, 1021, 0.9f, 0.1f, o);
    tdi_check_near(max_diff(o, o2, 1021), 0.0, 0.0, "silu: calls of 13, 8, 1000 = one call");
    free(x);
    free(o);
}

/* The Winograd GEMM kernel (tdi_unet_wgemm) against its definition: every element the fmaf
 * chain over k from 0 in order (difference 0), on shapes with column tails (n % 16, n % 32) and
 * strides wider than n; columns beyond n untouched. Skipped (one line says so) on CPUs where
 * the kernel does not run. */
static void check_wgemm(size_t m, size_t n, size_t k)
{
    char name[120];
    snprintf(name, sizeof name, "wgemm %zux%zux%zu: runs on this CPU", m, n, k);
    if (!tdi_unet_wgemm_ok(m)) {
        printf("SKIP %s: no AVX2 + FMA\n", name);
        return;
    }
    const size_t ldb = n + 3, ldc = n + 5;
    float *a = malloc(m * k * sizeof *a), *b = malloc(k * ldb * sizeof *b);
    float *c = malloc(m * ldc * sizeof *c);
    for (size_t i = 0; i < m * k; i++)
        a[i] = tdi_test_frand();
    for (size_t i = 0; i < k * ldb; i++)
        b[i] = tdi_test_frand();
    for (size_t i = 0; i < m * ldc; i++)
        c[i] = -7.0f;
    tdi_unet_wgemm(m, n, k, a, b, ldb, c, ldc);
    double d = 0.0;
    long outside = 0;
    for (size_t r = 0; r < m; r++) {
        for (size_t j = 0; j < n; j++) {
            float s = 0.0f;
            for (size_t kk = 0; kk < k; kk++)
                s = fmaf(a[tdi_unet_wgemm_at(r, kk, k, 1)], b[kk * ldb + j], s);
            d = fmax(d, fabs((double)c[r * ldc + j] - (double)s));
        }
        for (size_t j = n; j < ldc; j++)
            outside += c[r * ldc + j] != -7.0f;
    }
    snprintf(name, sizeof name, "wgemm %zux%zux%zu: = fmaf chain per element", m, n, k);
    tdi_check_near(d, 0.0, 0.0, name);
    snprintf(name, sizeof name, "wgemm %zux%zux%zu: columns beyond n untouched", m, n, k);
    tdi_check_int(outside, 0, name);
    free(a);
    free(b);
    free(c);
}

/* The whole U-Net: an inference forward (no column cache: GN + SiLU fused, s1 and s2 not
 * stored) gives the training forward's output bit for bit, and a backward after it (which
 * recomputes s1, s2) the same gradients. */
static void check_lean_model(void)
{
    tdi_unet_arch a = {16, 4};
    tdi_unet *m = NULL, *r = NULL;
    tdi_err err;
    if (!TDI_CHECK(tdi_unet_alloc(&m, a, 3, &err) == 0 && tdi_unet_alloc(&r, a, 3, &err) == 0 &&
                       tdi_unet_cache_cols(r, &err) == 0,
                   "lean: alloc two tiny U-Nets"))
        goto out;
    tdi_unet_init_params(m, 5);
    for (size_t i = 0; i < m->n_params; i++) /* GroupNorm off gamma 1 / beta 0 */
        m->params[i] += 0.05f * tdi_test_frand();
    memcpy(r->params, m->params, m->n_params * sizeof *m->params);
    float x[3 * 1024], e[3 * 1024], t[3] = {3.0f, 250.0f, 999.0f};
    for (size_t i = 0; i < 3 * 1024; i++) {
        x[i] = tdi_test_frand();
        e[i] = tdi_test_frand();
    }
    tdi_unet_forward(m, x, t, 3, NULL);
    tdi_unet_forward(r, x, t, 3, NULL);
    tdi_check_int(m->rb[TDI_UNET_D1].lean, 1, "lean: the inference forward fused GN + SiLU");
    tdi_check_near(max_diff(m->eps, r->eps, 3 * 1024), 0.0, 0.0,
                   "lean: inference output = training forward's, bit for bit");
    tdi_unet_backward_mse(m, e);
    tdi_unet_backward_mse(r, e);
    tdi_check_near(max_diff(m->grads, r->grads, m->n_params), 0.0, 0.0,
                   "lean: gradients after a lean forward = after a training forward");
out:
    tdi_unet_free(m);
    tdi_unet_free(r);
}

int main(void)
{
    check_shape(3, 7, 5, 9, 11);  /* odd H and W: clipped last tile row and column */
    check_shape(2, 6, 9, 8, 13);  /* even H, odd W */
    check_shape(1, 1, 1, 8, 8);   /* one pixel: one tile, three quarters clipped */
    check_shape(2, 1, 3, 10, 9);  /* one row */
    check_shape(4, 16, 16, 24, 16); /* the U-Net's own tile layout, several chunks */
    check_shape(2, 5, 17, 8, 9);  /* 8-tile vector groups plus a clipped scalar tile */
    check_shape(8, 16, 16, 8, 8); /* weight gradient by chunks: 8 images, 8 partial sums */
    check_shape(16, 8, 8, 12, 10); /* 2 chunks per part */
    check_shape(2, 32, 32, 8, 16); /* 16-tile vector groups (AVX-512) */
    check_shape(1, 6, 38, 16, 8);  /* 16 + 3 tiles per row, the column pass 16 + 2 + 1 */
    check_gn_fused(2, 32, 96, 32, 8); /* d1's c1: chunks of half an image */
    check_gn_fused(5, 8, 64, 128, 8); /* mid's c1: chunks of several images */
    check_gn_fused(3, 16, 24, 16, 4);
    check_gn_epi(2, 32, 32, 32, 8); /* e1's c2: chunks of a whole image */
    check_gn_epi(3, 8, 16, 24, 4);  /* chunks of several images */
    check_silu();
    check_wgemm(16, 37, 19);
    check_wgemm(64, 128, 192);
    check_wgemm(8, 5, 1);
    check_lean_model();
    TDI_TEST_END();
}
