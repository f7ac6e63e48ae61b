/* tdi_unet_layers: layer kernels on CBHW tensors (see tdi_unet_layers.h for layout and
 * conventions). GEMMs go through tdi_unet_sgemm (OpenBLAS); the element-wise loops are split
 * over channels with OpenMP. Statistics (GroupNorm) are accumulated in double. */
#include "tdi_unet_layers.h"

#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "tdi_unet_gemm.h"
#include "tdi_unet_wino.h"

/* Convs with at least this many input and output channels run by Winograd F(2x2, 3x3)
 * (tdi_unet_wino.h); the stem (1 input channel) and the head (1 output) keep im2col + GEMM,
 * where the transforms would cost more than the GEMM they save. */
#define WINO_MIN_CH 8

int tdi_unet_conv3_wino(size_t cin, size_t cout)
{
    return cin >= WINO_MIN_CH && cout >= WINO_MIN_CH;
}

/* col[(ci*9 + ky*3 + kx)][n] = in[ci][n shifted by (ky-1, kx-1)], zero outside the image. */
/* One shifted row: d[x] = s[x + dx] (dx in -1, 0, 1), zero outside [0, w). */
static inline void shift_row(float *restrict d, const float *restrict s, size_t w, int dx)
{
    if (dx == 0) {
        for (size_t x = 0; x < w; x++)
            d[x] = s[x];
    } else if (dx < 0) {
        d[0] = 0.0f;
        for (size_t x = 1; x < w; x++)
            d[x] = s[x - 1];
    } else {
        for (size_t x = 0; x + 1 < w; x++)
            d[x] = s[x + 1];
        d[w - 1] = 0.0f;
    }
}

static void im2col(const float *in, size_t cin, tdi_unet_geom g, float *col)
{
    const size_t hw = g.h * g.w, n = g.b * hw;
#pragma omp parallel for schedule(static)
    for (size_t r = 0; r < cin * 9; r++) {
        const size_t ci = r / 9, ky = (r % 9) / 3, kx = r % 3;
        float *dst = col + r * n;
        const float *src = in + ci * n;
        for (size_t b = 0; b < g.b; b++) {
            for (size_t y = 0; y < g.h; y++) {
                float *d = dst + b * hw + y * g.w;
                long sy = (long)y + (long)ky - 1;
                if (sy < 0 || sy >= (long)g.h) {
                    for (size_t x = 0; x < g.w; x++)
                        d[x] = 0.0f;
                    continue;
                }
                shift_row(d, src + b * hw + (size_t)sy * g.w, g.w, (int)kx - 1);
            }
        }
    }
}

void tdi_unet_fill_rows(float *out, size_t rows, size_t n, const float *b1, const float *b2)
{
#pragma omp parallel for schedule(static)
    for (size_t r = 0; r < rows; r++) {
        float *o = out + r * n;
        const float v = (b1 ? b1[r] : 0.0f) + (b2 ? b2[r] : 0.0f);
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            o[i] = v;
    }
}

static void acc_row_sums(const float *dout, size_t rows, size_t n, float *dbias)
{
    if (!dbias)
        return;
#pragma omp parallel for schedule(static)
    for (size_t r = 0; r < rows; r++) {
        const float *d = dout + r * n;
        double s = 0.0;
        for (size_t i = 0; i < n; i++)
            s += d[i];
        dbias[r] += (float)s;
    }
}

/* Rows of one image per im2col chunk: the largest divisor of h whose k x rows*w columns fit in
 * 1 MB (one core's L2 here), at least one row. A divisor, so every chunk has the same size. */
static size_t chunk_rows(size_t k, tdi_unet_geom g)
{
    size_t r = g.h;
    while (r > 1 && (k * r * g.w > ((size_t)1 << 18) || g.h % r != 0))
        r--;
    return r;
}

/* im2col of rows [y0, y0 + rows) of image b: col[r * ld + (y - y0) * w + x], r = ci*9 + tap. */
static void im2col_rows(const float *in, size_t cin, tdi_unet_geom g, size_t b, size_t y0,
                        size_t rows, float *col, size_t ld)
{
    const size_t hw = g.h * g.w, n = g.b * hw;
    for (size_t r = 0; r < cin * 9; r++) {
        const size_t ci = r / 9, ky = (r % 9) / 3, kx = r % 3;
        const float *src = in + ci * n + b * hw;
        for (size_t y = y0; y < y0 + rows; y++) {
            float *d = col + r * ld + (y - y0) * g.w;
            long sy = (long)y + (long)ky - 1;
            if (sy < 0 || sy >= (long)g.h)
                memset(d, 0, g.w * sizeof *d);
            else
                shift_row(d, src + (size_t)sy * g.w, g.w, (int)kx - 1);
        }
    }
}

void tdi_unet_conv3_fwd(const float *in, size_t cin, tdi_unet_geom g, const float *w,
                        const float *bias, size_t cout, float *out, float *col, int keep)
{
    tdi_unet_fill_rows(out, cout, tdi_unet_plane(g), bias, NULL);
    tdi_unet_conv3_acc(in, cin, g, w, cout, out, col, keep);
}

/* Chunks of rows, one thread each (OpenBLAS runs single-threaded inside the parallel region):
 * a chunk's columns are built and consumed while they sit in the core's cache. Each output
 * element is the same K-long dot product as in one whole-plane GEMM, so the result does not
 * depend on the chunking. Without keep, thread i's columns live at col + i * k * rows * w (there
 * are never more busy threads than chunks, so this stays within k * n). */
void tdi_unet_conv3_acc(const float *in, size_t cin, tdi_unet_geom g, const float *w, size_t cout,
                        float *out, float *col, int keep)
{
    if (tdi_unet_conv3_wino(cin, cout)) {
        if (keep) /* the weight gradient's columns (tdi_unet_conv3_bwd with col_ready) */
            im2col(in, cin, g, col);
        if (tdi_unet_wino_conv3(in, cin, g, w, cout, out, 1, 0, keep ? NULL : col,
                                keep ? 0 : cin * 9 * tdi_unet_plane(g)) == 0)
            return;
    }
    const size_t n = tdi_unet_plane(g), k = cin * 9, hw = g.h * g.w;
    const size_t rows = chunk_rows(k, g), per = g.h / rows, np = rows * g.w;
#pragma omp parallel for schedule(static)
    for (size_t c = 0; c < g.b * per; c++) {
        const size_t b = c / per, y0 = (c % per) * rows, p0 = b * hw + y0 * g.w;
        float *cc = keep ? col + p0 : col + (size_t)omp_get_thread_num() * k * np;
        const size_t ld = keep ? n : np;
        im2col_rows(in, cin, g, b, y0, rows, cc, ld);
        tdi_unet_sgemm(0, 0, cout, np, k, 1.0f, w, k, cc, ld, 1.0f, out + p0, n);
    }
}

int tdi_unet_conv3_gn_fusable(size_t cin, size_t cout, tdi_unet_geom g)
{
    return tdi_unet_conv3_wino(cin, cout) && g.w % 8 == 0;
}

int tdi_unet_conv3_gn_acc(const float *in, size_t cin, tdi_unet_geom g,
                          const tdi_unet_gnsilu *pre, const float *w, size_t cout, float *out,
                          float *col)
{
    if (!tdi_unet_conv3_gn_fusable(cin, cout, g))
        return -1;
    return tdi_unet_wino_conv3_gn(in, cin, g, pre, w, cout, out, 1, NULL, col,
                                  cin * 9 * tdi_unet_plane(g));
}

int tdi_unet_conv3_gn_epi(const float *in, size_t cin, tdi_unet_geom g,
                          const tdi_unet_gnsilu *pre, const float *w, size_t cout,
                          const tdi_unet_epi *epi, float *out, float *col)
{
    if (!tdi_unet_conv3_gn_fusable(cin, cout, g))
        return -1;
    return tdi_unet_wino_conv3_gn(in, cin, g, pre, w, cout, out, 0, epi, col,
                                  cin * 9 * tdi_unet_plane(g));
}

/* din[ci] of image b = sum over the 9 taps of dcol's rows shifted back (the adjoint of im2col);
 * dcol [k][hw] holds image b's columns. */
static void col2im_image(const float *dcol, size_t cin, tdi_unet_geom g, size_t b, float *din)
{
    const size_t hw = g.h * g.w, n = g.b * hw;
    for (size_t ci = 0; ci < cin; ci++) {
        float *dst = din + ci * n + b * hw;
        memset(dst, 0, hw * sizeof *dst);
        for (size_t tap = 0; tap < 9; tap++) {
            const size_t ky = tap / 3, kx = tap % 3;
            const float *src = dcol + (ci * 9 + tap) * hw;
            for (size_t y = 0; y < g.h; y++) {
                long sy = (long)y + (long)ky - 1;
                if (sy < 0 || sy >= (long)g.h)
                    continue;
                const float *s = src + y * g.w;
                float *d = dst + (size_t)sy * g.w;
                if (kx == 1) {
                    for (size_t x = 0; x < g.w; x++)
                        d[x] += s[x];
                } else if (kx == 0) {
                    for (size_t x = 1; x < g.w; x++)
                        d[x - 1] += s[x];
                } else {
                    for (size_t x = 0; x + 1 < g.w; x++)
                        d[x + 1] += s[x];
                }
            }
        }
    }
}

/* din = col2im(w^T dout), one image per thread: image i's dcol [k][hw] at col + thread * k * hw
 * (fewer busy threads than images, so within k * n), built and scattered while in cache. */
static void conv3_din(const float *w, size_t cin, tdi_unet_geom g, size_t cout, const float *dout,
                      float *din, float *col)
{
    if (tdi_unet_conv3_wino(cin, cout) &&
        tdi_unet_wino_conv3(dout, cout, g, w, cin, din, 0, 1, col, cin * 9 * tdi_unet_plane(g)) ==
            0)
        return;
    const size_t n = tdi_unet_plane(g), k = cin * 9, hw = g.h * g.w;
#pragma omp parallel for schedule(static)
    for (size_t b = 0; b < g.b; b++) {
        float *dc = col + (size_t)omp_get_thread_num() * k * hw;
        tdi_unet_sgemm(1, 0, k, hw, cout, 1.0f, w, k, dout + b * hw, n, 0.0f, dc, hw);
        col2im_image(dc, cin, g, b, din);
    }
}

/* Partial sums of the chunked weight gradient: a fixed count, so the result does not depend
 * on the thread count. */
#define DW_PARTS 8

/* dw [cout][k] += dout [cout][n] im2col(in)^T by chunks of image rows (chunk_rows: columns of
 * about 1 MB, built and consumed in the core's cache instead of all k x n columns in memory):
 * part p sums its contiguous range of chunks into its own [cout][k] (in col), the parts are
 * added in order. Returns 0, or -1 when col (k * n floats) is too small for the parts and the
 * threads' chunks (tiny batches; the caller then builds all columns). */
static int conv3_dw_chunked(const float *in, size_t cin, tdi_unet_geom g, size_t cout,
                            const float *dout, float *dw, float *col)
{
    const size_t n = tdi_unet_plane(g), k = cin * 9, hw = g.h * g.w;
    const size_t rows = chunk_rows(k, g), per = g.h / rows, np = rows * g.w;
    const size_t nch = g.b * per, nthr = (size_t)omp_get_max_threads();
    const size_t part = cout * k, need = DW_PARTS * part + nthr * k * np;
    if (need > k * n || nch < DW_PARTS)
        return -1;
    float *parts = col, *cols = col + DW_PARTS * part;
#pragma omp parallel for schedule(static)
    for (size_t p = 0; p < DW_PARTS; p++) {
        float *dp = parts + p * part, *cc = cols + (size_t)omp_get_thread_num() * k * np;
        memset(dp, 0, part * sizeof *dp);
        for (size_t c = p * nch / DW_PARTS; c < (p + 1) * nch / DW_PARTS; c++) {
            const size_t b = c / per, y0 = (c % per) * rows, p0 = b * hw + y0 * g.w;
            im2col_rows(in, cin, g, b, y0, rows, cc, np);
            tdi_unet_sgemm(0, 1, cout, k, np, 1.0f, dout + p0, n, cc, np, 1.0f, dp, k);
        }
    }
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < part; i++) {
        float s = dw[i];
        for (size_t p = 0; p < DW_PARTS; p++)
            s += parts[p * part + i];
        dw[i] = s;
    }
    return 0;
}

void tdi_unet_conv3_bwd(const float *in, size_t cin, tdi_unet_geom g, const float *w,
                        size_t cout, const float *dout, float *dw, float *dbias, float *din,
                        float *col, int col_ready)
{
    const size_t n = tdi_unet_plane(g), k = cin * 9;
    if (col_ready || conv3_dw_chunked(in, cin, g, cout, dout, dw, col) != 0) {
        if (!col_ready)
            im2col(in, cin, g, col);
        /* dw [cout][k] += dout [cout][n] col^T */
        tdi_unet_sgemm(0, 1, cout, k, n, 1.0f, dout, n, col, n, 1.0f, dw, k);
    }
    acc_row_sums(dout, cout, n, dbias);
    if (din)
        conv3_din(w, cin, g, cout, dout, din, col);
}

void tdi_unet_conv1_fwd(const float *in, size_t cin, size_t n, const float *w, const float *bias,
                        size_t cout, float *out)
{
    tdi_unet_fill_rows(out, cout, n, bias, NULL);
    tdi_unet_conv1_acc(in, cin, n, w, cout, out);
}

void tdi_unet_conv1_acc(const float *in, size_t cin, size_t n, const float *w, size_t cout,
                        float *out)
{
    tdi_unet_sgemm(0, 0, cout, n, cin, 1.0f, w, cin, in, n, 1.0f, out, n);
}

void tdi_unet_conv1_bwd(const float *in, size_t cin, size_t n, const float *w, size_t cout,
                        const float *dout, float *dw, float *dbias, float *din, float beta_din)
{
    tdi_unet_sgemm(0, 1, cout, cin, n, 1.0f, dout, n, in, n, 1.0f, dw, cin);
    acc_row_sums(dout, cout, n, dbias);
    if (din)
        tdi_unet_sgemm(1, 0, cin, n, cout, 1.0f, w, cin, dout, n, beta_din, din, n);
}

static inline float sigmoidf(float a)
{
    return 1.0f / (1.0f + expf(-a));
}

/* o[i] = silu(x[i] * a + b), the GroupNorm forward's last step; scalar version. */
static void affine_silu_scalar(const float *x, size_t n, float a, float b, float *o)
{
    for (size_t i = 0; i < n; i++) {
        const float v = x[i] * a + b;
        o[i] = v * sigmoidf(v);
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* SiLU of the GroupNorm forward without a library call: e = exp(-v) by Cody-Waite reduction
 * -v = n ln2 + r (|r| <= ln2 / 2, ln2 split 0.693359375 - 2.12194440e-4) and Cephes expf's
 * polynomial e^r = 1 + r + r^2 P5(r), times 2^n; -v clamped to [-87.3, 88.3] (2^n stays a
 * normal float; silu is then -0 to within 5e-37 or v itself). silu = v / (1 + e) (IEEE
 * divide). The scalar, 8- and 16-lane versions do the same float operations (fused
 * multiply-adds where written), so any CPU with AVX2 and any split of a plane into calls give
 * the same bits (CPUs without AVX2 + FMA: libm's expf). Error against double precision:
 * tests/test_unet_wino.c ("silu"). */
#define SILU_P0 1.9875691500e-4f
#define SILU_P1 1.3981999507e-3f
#define SILU_P2 8.3334519073e-3f
#define SILU_P3 4.1665795894e-2f
#define SILU_P4 1.6666665459e-1f
#define SILU_P5 5.0000001201e-1f

__attribute__((target("avx2,fma"))) static float silu1(float x, float a, float b)
{
    const float v = x * a + b;
    const float t = fminf(fmaxf(0.0f - v, -87.3f), 88.3f);
    const float n = rintf(t * 1.44269504089f);
    float r = fmaf(-n, 0.693359375f, t);
    r = fmaf(-n, -2.12194440e-4f, r);
    float p = fmaf(SILU_P0, r, SILU_P1);
    p = fmaf(p, r, SILU_P2);
    p = fmaf(p, r, SILU_P3);
    p = fmaf(p, r, SILU_P4);
    p = fmaf(p, r, SILU_P5);
    const float y = fmaf(p, r * r, r) + 1.0f;
    union {
        int32_t i;
        float f;
    } s = {((int32_t)n + 127) << 23};
    return v / (1.0f + y * s.f);
}

__attribute__((target("avx2,fma"))) static void affine_silu_avx2(const float *x, size_t n,
                                                                 float a, float b, float *o)
{
    const __m256 va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b), one = _mm256_set1_ps(1.0f);
    const __m256 lo = _mm256_set1_ps(-87.3f), hi = _mm256_set1_ps(88.3f);
    const __m256 zero = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), va), vb);
        const __m256 t = _mm256_min_ps(_mm256_max_ps(_mm256_sub_ps(zero, v), lo), hi);
        const __m256 nn = _mm256_round_ps(_mm256_mul_ps(t, _mm256_set1_ps(1.44269504089f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __m256 r = _mm256_fnmadd_ps(nn, _mm256_set1_ps(0.693359375f), t);
        r = _mm256_fnmadd_ps(nn, _mm256_set1_ps(-2.12194440e-4f), r);
        __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(SILU_P0), r, _mm256_set1_ps(SILU_P1));
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(SILU_P2));
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(SILU_P3));
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(SILU_P4));
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(SILU_P5));
        const __m256 y = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), one);
        const __m256i e = _mm256_slli_epi32(
            _mm256_add_epi32(_mm256_cvtps_epi32(nn), _mm256_set1_epi32(127)), 23);
        const __m256 d = _mm256_add_ps(one, _mm256_mul_ps(y, _mm256_castsi256_ps(e)));
        _mm256_storeu_ps(o + i, _mm256_div_ps(v, d));
    }
    for (; i < n; i++)
        o[i] = silu1(x[i], a, b);
}

/* The same operations 16 lanes at a time, the tail masked. */
__attribute__((target("avx512f"))) static void affine_silu_avx512(const float *x, size_t n,
                                                                  float a, float b, float *o)
{
    const __m512 va = _mm512_set1_ps(a), vb = _mm512_set1_ps(b), one = _mm512_set1_ps(1.0f);
    const __m512 lo = _mm512_set1_ps(-87.3f), hi = _mm512_set1_ps(88.3f);
    const __m512 zero = _mm512_setzero_ps();
    for (size_t i = 0; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1u);
        const __m512 v = _mm512_add_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), va), vb);
        const __m512 t = _mm512_min_ps(_mm512_max_ps(_mm512_sub_ps(zero, v), lo), hi);
        const __m512 nn = _mm512_roundscale_ps(_mm512_mul_ps(t, _mm512_set1_ps(1.44269504089f)),
                                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __m512 r = _mm512_fnmadd_ps(nn, _mm512_set1_ps(0.693359375f), t);
        r = _mm512_fnmadd_ps(nn, _mm512_set1_ps(-2.12194440e-4f), r);
        __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(SILU_P0), r, _mm512_set1_ps(SILU_P1));
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(SILU_P2));
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(SILU_P3));
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(SILU_P4));
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(SILU_P5));
        const __m512 y = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), one);
        const __m512i e = _mm512_slli_epi32(
            _mm512_add_epi32(_mm512_cvtps_epi32(nn), _mm512_set1_epi32(127)), 23);
        const __m512 d = _mm512_add_ps(one, _mm512_mul_ps(y, _mm512_castsi512_ps(e)));
        _mm512_mask_storeu_ps(o + i, m, _mm512_div_ps(v, d));
    }
}

static void affine_silu(const float *x, size_t n, float a, float b, float *o)
{
    static int isa = -1; /* 1: AVX2 + FMA, 2: AVX-512F too; a benign race (the same value) */
    if (isa < 0)
        isa = !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ? 0
              : __builtin_cpu_supports("avx512f")                                ? 2
                                                                                 : 1;
    if (isa == 2)
        affine_silu_avx512(x, n, a, b, o);
    else if (isa == 1)
        affine_silu_avx2(x, n, a, b, o);
    else
        affine_silu_scalar(x, n, a, b, o);
}
#else
static void affine_silu(const float *x, size_t n, float a, float b, float *o)
{
    affine_silu_scalar(x, n, a, b, o);
}
#endif

void tdi_unet_affine_silu(const float *x, size_t n, float a, float b, float *o)
{
    affine_silu(x, n, a, b, o);
}

/* Mean and 1/sqrt(var + eps) of group gr of image b: float partial sums over one plane
 * (<= 1024 terms, vectorised), double across the group's channels. */
static void gn_group(const float *in, size_t n, size_t hw, size_t cg, size_t b, size_t gr,
                     float *mean, float *rstd)
{
    double s = 0.0, s2 = 0.0;
    for (size_t ch = gr * cg; ch < (gr + 1) * cg; ch++) {
        const float *x = in + ch * n + b * hw;
        float ps = 0.0f, ps2 = 0.0f;
        if (ch + 1 < (gr + 1) * cg) /* the next plane: one plane is too short a run for the */
            for (size_t i = 0; i < hw; i += 16) /* hardware prefetcher to pick up */
                __builtin_prefetch(x + n + i, 0, 3);
#pragma omp simd reduction(+ : ps, ps2)
        for (size_t i = 0; i < hw; i++) {
            ps += x[i];
            ps2 += x[i] * x[i];
        }
        s += ps;
        s2 += ps2;
    }
    const double cnt = (double)(cg * hw);
    const double mu = s / cnt;
    double var = s2 / cnt - mu * mu;
    if (var < 0.0)
        var = 0.0;
    *mean = (float)mu;
    *rstd = (float)(1.0 / sqrt(var + 1e-5));
}

void tdi_unet_gn_stats(const float *in, size_t c, tdi_unet_geom g, size_t groups, float *mean,
                       float *rstd)
{
    const size_t hw = g.h * g.w, n = g.b * hw, cg = c / groups;
#pragma omp parallel for collapse(2) schedule(static)
    for (size_t b = 0; b < g.b; b++)
        for (size_t gr = 0; gr < groups; gr++)
            gn_group(in, n, hw, cg, b, gr, mean + b * groups + gr, rstd + b * groups + gr);
}

void tdi_unet_gn_fwd(const float *in, size_t c, tdi_unet_geom g, size_t groups,
                     const float *gamma, const float *beta, int silu, float *out, float *mean,
                     float *rstd)
{
    const size_t hw = g.h * g.w, n = g.b * hw, cg = c / groups;
#pragma omp parallel for collapse(2) schedule(static)
    for (size_t b = 0; b < g.b; b++) {
        for (size_t gr = 0; gr < groups; gr++) {
            gn_group(in, n, hw, cg, b, gr, mean + b * groups + gr, rstd + b * groups + gr);
            const float mu = mean[b * groups + gr], rs = rstd[b * groups + gr];
            for (size_t ch = gr * cg; ch < (gr + 1) * cg; ch++) {
                const float *x = in + ch * n + b * hw;
                float *o = out + ch * n + b * hw;
                const float a = gamma[ch] * rs, bb = beta[ch] - mu * a;
                if (silu) {
                    affine_silu(x, hw, a, bb, o);
                } else {
                    for (size_t i = 0; i < hw; i++)
                        o[i] = x[i] * a + bb;
                }
            }
        }
    }
}

void tdi_unet_gn_bwd(const float *in, size_t c, tdi_unet_geom g, size_t groups,
                     const float *gamma, const float *beta, int silu, const float *mean,
                     const float *rstd, const float *dout, float *dgamma, float *dbeta,
                     float *din, double *part)
{
    const size_t hw = g.h * g.w, n = g.b * hw, cg = c / groups;
    /* Per-image partial parameter gradients [B][C] (summed over the batch below). */
    double *pg = part, *pb = part + g.b * c;
    /* Pass 1 per (image, group): da = dout * silu'(a) (or dout) into din; sums for the input
     * gradient din = rs/cnt * (cnt*dxhat - sum(dxhat) - xhat * sum(dxhat*xhat)),
     * dxhat = da*gamma. */
#pragma omp parallel for collapse(2) schedule(static)
    for (size_t b = 0; b < g.b; b++) {
        for (size_t gr = 0; gr < groups; gr++) {
            const float mu = mean[b * groups + gr], rs = rstd[b * groups + gr];
            double s1 = 0.0, s2 = 0.0;
            for (size_t ch = gr * cg; ch < (gr + 1) * cg; ch++) {
                const float *x = in + ch * n + b * hw, *d = dout + ch * n + b * hw;
                float *o = din + ch * n + b * hw;
                const float ga = gamma[ch], be = beta[ch];
                float sg = 0.0f, sb = 0.0f; /* one plane (<= 1024 terms) */
                if (silu) {
                    for (size_t i = 0; i < hw; i++) {
                        const float a = (x[i] - mu) * rs * ga + be, sgm = sigmoidf(a);
                        o[i] = d[i] * sgm * (1.0f + a * (1.0f - sgm));
                    }
                } else {
                    for (size_t i = 0; i < hw; i++)
                        o[i] = d[i];
                }
#pragma omp simd reduction(+ : sg, sb)
                for (size_t i = 0; i < hw; i++) {
                    sg += o[i] * (x[i] - mu) * rs;
                    sb += o[i];
                }
                pg[b * c + ch] = sg;
                pb[b * c + ch] = sb;
                s1 += (double)sb * ga;
                s2 += (double)sg * ga;
            }
            const double cnt = (double)(cg * hw);
            const float m1 = (float)(s1 / cnt), m2 = (float)(s2 / cnt);
            for (size_t ch = gr * cg; ch < (gr + 1) * cg; ch++) {
                const float *x = in + ch * n + b * hw;
                float *o = din + ch * n + b * hw;
                const float ga = gamma[ch];
#pragma omp simd /* element-wise: the same bits */
                for (size_t i = 0; i < hw; i++) {
                    const float xh = (x[i] - mu) * rs;
                    o[i] = rs * (o[i] * ga - m1 - xh * m2);
                }
            }
        }
    }
    for (size_t ch = 0; ch < c; ch++) {
        double sg = 0.0, sb = 0.0;
        for (size_t b = 0; b < g.b; b++) {
            sg += pg[b * c + ch];
            sb += pb[b * c + ch];
        }
        dgamma[ch] += (float)sg;
        dbeta[ch] += (float)sb;
    }
}

void tdi_unet_silu_fwd(const float *in, size_t n, float *out)
{
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        out[i] = in[i] / (1.0f + expf(-in[i]));
}

void tdi_unet_silu_bwd(const float *in, size_t n, const float *dout, float *din)
{
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        const float s = 1.0f / (1.0f + expf(-in[i]));
        din[i] = dout[i] * s * (1.0f + in[i] * (1.0f - s));
    }
}

void tdi_unet_linear_fwd(const float *in, size_t b, size_t nin, const float *w, const float *bias,
                         size_t nout, float *out)
{
    tdi_unet_sgemm(0, 1, b, nout, nin, 1.0f, in, nin, w, nin, 0.0f, out, nout);
    if (bias)
        for (size_t i = 0; i < b; i++)
            for (size_t j = 0; j < nout; j++)
                out[i * nout + j] += bias[j];
}

void tdi_unet_linear_bwd(const float *in, size_t b, size_t nin, const float *w, size_t nout,
                         const float *dout, float *dw, float *dbias, float *din)
{
    /* dw [nout][nin] += dout^T [nout][b] in [b][nin] */
    tdi_unet_sgemm(1, 0, nout, nin, b, 1.0f, dout, nout, in, nin, 1.0f, dw, nin);
    if (dbias)
        for (size_t i = 0; i < b; i++)
            for (size_t j = 0; j < nout; j++)
                dbias[j] += dout[i * nout + j];
    if (din)
        tdi_unet_sgemm(0, 0, b, nin, nout, 1.0f, dout, nout, w, nin, 0.0f, din, nin);
}

void tdi_unet_pool_fwd(const float *in, size_t c, tdi_unet_geom g, float *out)
{
    const size_t oh = g.h / 2, ow = g.w / 2, planes = c * g.b;
#pragma omp parallel for schedule(static)
    for (size_t p = 0; p < planes; p++) {
        const float *s = in + p * g.h * g.w;
        float *d = out + p * oh * ow;
        for (size_t y = 0; y < oh; y++)
            for (size_t x = 0; x < ow; x++) {
                const float *q = s + 2 * y * g.w + 2 * x;
                d[y * ow + x] = 0.25f * (q[0] + q[1] + q[g.w] + q[g.w + 1]);
            }
    }
}

void tdi_unet_pool_bwd(const float *dout, size_t c, tdi_unet_geom g, float *din)
{
    const size_t oh = g.h / 2, ow = g.w / 2, planes = c * g.b;
#pragma omp parallel for schedule(static)
    for (size_t p = 0; p < planes; p++) {
        const float *s = dout + p * oh * ow;
        float *d = din + p * g.h * g.w;
        for (size_t y = 0; y < oh; y++)
            for (size_t x = 0; x < ow; x++) {
                const float v = 0.25f * s[y * ow + x];
                float *q = d + 2 * y * g.w + 2 * x;
                q[0] += v;
                q[1] += v;
                q[g.w] += v;
                q[g.w + 1] += v;
            }
    }
}

void tdi_unet_up_fwd(const float *in, size_t c, tdi_unet_geom g, float *out)
{
    const size_t oh = 2 * g.h, ow = 2 * g.w, planes = c * g.b;
#pragma omp parallel for schedule(static)
    for (size_t p = 0; p < planes; p++) {
        const float *s = in + p * g.h * g.w;
        float *d = out + p * oh * ow;
        for (size_t y = 0; y < g.h; y++) {
            float *d0 = d + 2 * y * ow, *d1 = d0 + ow;
            const float *sr = s + y * g.w;
#pragma omp simd /* copies only: the same values as d[y][x] = s[y / 2][x / 2] */
            for (size_t x = 0; x < ow; x++)
                d0[x] = sr[x / 2];
            memcpy(d1, d0, ow * sizeof *d1);
        }
    }
}

void tdi_unet_up_bwd(const float *dout, size_t c, tdi_unet_geom g, float *din)
{
    const size_t oh = 2 * g.h, ow = 2 * g.w, planes = c * g.b;
#pragma omp parallel for schedule(static)
    for (size_t p = 0; p < planes; p++) {
        const float *s = dout + p * oh * ow;
        float *d = din + p * g.h * g.w;
        for (size_t y = 0; y < g.h; y++)
            for (size_t x = 0; x < g.w; x++) {
                const float *q = s + 2 * y * ow + 2 * x;
                d[y * g.w + x] = q[0] + q[1] + q[ow] + q[ow + 1];
            }
    }
}

void tdi_unet_sinus(const float *t, size_t b, size_t dim, float *out)
{
    const size_t half = dim / 2;
    for (size_t i = 0; i < b; i++)
        for (size_t j = 0; j < half; j++) {
            const double f = exp(-log(10000.0) * (double)j / (double)half);
            out[i * dim + j] = (float)sin(t[i] * f);
            out[i * dim + half + j] = (float)cos(t[i] * f);
        }
}
