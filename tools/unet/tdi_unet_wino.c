/* tdi_unet_wino: Winograd F(2x2, 3x3) convolutions (see tdi_unet_wino.h). The tiles are cut
 * into chunks of whole tile rows (2 output rows of one image); each OpenMP thread transforms a
 * chunk's input into V [16][cin][T], runs the 16 GEMMs into M [16][cout][T] (tdi_unet_wgemm.h;
 * OpenBLAS where that kernel does not run) and transforms M
 * back into the output while both are in its cache. Every output element is the same sequence
 * of operations whatever the chunking and thread count. */
#include "tdi_unet_wino.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_unet_gemm.h"
#include "tdi_unet_wgemm.h"

/* The transforms' loops, compiled for AVX-512 and AVX2 too and picked at run time (GCC ifunc);
 * they only add and subtract, so every version gives the same bits. */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define TDI_WINO_SIMD __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define TDI_WINO_SIMD
#endif

/* G g G^T for one 3x3 kernel g (row-major) into u[e * stride], e = 4 * row + col. */
static void wt_one(const float *g, float *u, size_t stride)
{
    float t[4][3]; /* G g */
    for (int j = 0; j < 3; j++) {
        t[0][j] = g[j];
        t[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
        t[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
        t[3][j] = g[6 + j];
    }
    for (int i = 0; i < 4; i++) {
        u[(4 * i + 0) * stride] = t[i][0];
        u[(4 * i + 1) * stride] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
        u[(4 * i + 2) * stride] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
        u[(4 * i + 3) * stride] = t[i][2];
    }
}

void tdi_unet_wino_weights(const float *w, size_t cout, size_t cin, int adjoint, float *u)
{
    const size_t stride = cout * cin;
    /* the conv's output channels are the GEMM's rows: packed for tdi_unet_wgemm when it runs */
    const int packed = tdi_unet_wgemm_ok(adjoint ? cin : cout);
#pragma omp parallel for schedule(static)
    for (size_t co = 0; co < cout; co++)
        for (size_t ci = 0; ci < cin; ci++) {
            const float *g = w + (co * cin + ci) * 9;
            if (adjoint) {
                float r[9]; /* rot180: r[ky][kx] = g[2 - ky][2 - kx] */
                for (int i = 0; i < 9; i++)
                    r[i] = g[8 - i];
                /* [e][ci][co]: the adjoint's [out][in] */
                wt_one(r, u + tdi_unet_wgemm_at(ci, co, cout, packed), stride);
            } else {
                wt_one(g, u + tdi_unet_wgemm_at(co, ci, cin, packed), stride);
            }
        }
}

/* Tile geometry of one plane set. */
typedef struct wgeo {
    size_t th, tw;   /* tile rows and columns per image */
    size_t rows;     /* tile rows per chunk */
    size_t nchunks;  /* b * th / rows */
} wgeo;

/* Tile rows per chunk: V and M (16 * (cin + cout) * T floats) within about 512 KB (half this
 * AMD EPYC's 1 MB L2: 1 MB measured 7% slower in inference), at least one
 * row; a divisor of b * th so every chunk has the same size. */
static wgeo wgeo_make(size_t cin, size_t cout, tdi_unet_geom g)
{
    wgeo w = {(g.h + 1) / 2, (g.w + 1) / 2, 1, 0};
    const size_t total = g.b * w.th, per_row = 16 * (cin + cout) * w.tw;
    size_t r = ((size_t)1 << 17) / per_row;
    if (r < 1)
        r = 1;
    if (r > total)
        r = total;
    while (total % r != 0)
        r--;
    w.rows = r;
    w.nchunks = total / r;
    return w;
}

/* Row pass of B^T d B for one tile row: t [4][2 tw + 2], t[i][1 + x] is row i of B^T d at input
 * column x, zero at columns -1 and >= w. Input rows 2 ty - 1 .. 2 ty + 2 of plane; a row
 * outside the image reads as zero (zr). */
TDI_WINO_SIMD static void rows_bt(const float *plane, tdi_unet_geom g, size_t ty, size_t tw,
                                  const float *zr, float *restrict t)
{
    const float *p[4];
    for (size_t i = 0; i < 4; i++) {
        const long y = (long)(2 * ty + i) - 1;
        p[i] = (y >= 0 && y < (long)g.h) ? plane + (size_t)y * g.w : zr;
    }
    const float *p0 = p[0], *p1 = p[1], *p2 = p[2], *p3 = p[3];
    const size_t ld = 2 * tw + 2, wd = g.w;
    float *t0 = t + 1, *t1 = t0 + ld, *t2 = t1 + ld, *t3 = t2 + ld;
#pragma omp simd /* t never aliases the input rows; element-wise, so the same bits */
    for (size_t x = 0; x < wd; x++) {
        t0[x] = p0[x] - p2[x];
        t1[x] = p1[x] + p2[x];
        t2[x] = p2[x] - p1[x];
        t3[x] = p1[x] - p3[x];
    }
    for (size_t i = 0; i < 4; i++) {
        t[i * ld] = 0.0f;
        for (size_t x = wd + 1; x < ld; x++)
            t[i * ld + x] = 0.0f;
    }
}

/* What an output row gets besides the conv's y: mode OB_SET: o = y; OB_ACC: o = o + y;
 * OB_CONST: o = c + y; OB_RES: o = (r[x] + c) + y (tdi_unet_epi, the same additions as a
 * fill followed by an accumulation). */
enum { OB_SET, OB_ACC, OB_CONST, OB_RES };
typedef struct obase {
    int mode;
    float c;
    const float *r; /* OB_RES: the residual's row (wd columns) */
} obase;

static inline float ob_add(const obase *ob, const float *oo, size_t x, float y)
{
    switch (ob->mode) {
    case OB_ACC:
        return oo[x] + y;
    case OB_CONST:
        return ob->c + y;
    case OB_RES:
        return (ob->r[x] + ob->c) + y;
    default:
        return y;
    }
}

/* A^T m A for tiles tx of one tile row, row i (0, 1) of the 2x2 outputs, written (ob) at
 * oo[2 tx], oo[2 tx + 1]; r0, r1, r2 are rows 4 i .. 4 i + 8 of m (stride es between the 4
 * columns j). Row i of A^T m is r0 + (r1 + r2) (i = 0) or r0 - (r1 + r2) (i = 1), then
 * y0 = (s0 + s1) + s2, y1 = (s1 - s2) - s3. */
static inline void out_tile(const float *r0, const float *r1, const float *r2, size_t es,
                            size_t tx, int i, int both, float *oo, const obase *ob)
{
    float s[4];
    for (size_t j = 0; j < 4; j++) {
        const float q = r1[j * es + tx] + r2[j * es + tx];
        s[j] = i == 0 ? r0[j * es + tx] + q : r0[j * es + tx] - q;
    }
    const float y0 = s[0] + s[1] + s[2], y1 = s[1] - s[2] - s[3];
    oo[2 * tx] = ob_add(ob, oo, 2 * tx, y0);
    if (both)
        oo[2 * tx + 1] = ob_add(ob, oo, 2 * tx + 1, y1);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* out_tile for 8 tiles tx .. tx + 7 (all with both columns inside): the same operations in
 * the same order, so the same bits. */
__attribute__((target("avx2"))) static void out_tile8(const float *r0, const float *r1,
                                                      const float *r2, size_t es, size_t tx,
                                                      int i, float *oo, const obase *ob)
{
    __m256 s[4];
    for (size_t j = 0; j < 4; j++) {
        const __m256 q = _mm256_add_ps(_mm256_loadu_ps(r1 + j * es + tx),
                                       _mm256_loadu_ps(r2 + j * es + tx));
        const __m256 a = _mm256_loadu_ps(r0 + j * es + tx);
        s[j] = i == 0 ? _mm256_add_ps(a, q) : _mm256_sub_ps(a, q);
    }
    const __m256 y0 = _mm256_add_ps(_mm256_add_ps(s[0], s[1]), s[2]);
    const __m256 y1 = _mm256_sub_ps(_mm256_sub_ps(s[1], s[2]), s[3]);
    const __m256 lo = _mm256_unpacklo_ps(y0, y1), hi = _mm256_unpackhi_ps(y0, y1);
    __m256 o0 = _mm256_permute2f128_ps(lo, hi, 0x20), o1 = _mm256_permute2f128_ps(lo, hi, 0x31);
    float *p = oo + 2 * tx;
    if (ob->mode != OB_SET) { /* base + y, as ob_add */
        __m256 b0, b1;
        if (ob->mode == OB_ACC) {
            b0 = _mm256_loadu_ps(p);
            b1 = _mm256_loadu_ps(p + 8);
        } else if (ob->mode == OB_CONST) {
            b0 = b1 = _mm256_set1_ps(ob->c);
        } else {
            const __m256 c = _mm256_set1_ps(ob->c);
            b0 = _mm256_add_ps(_mm256_loadu_ps(ob->r + 2 * tx), c);
            b1 = _mm256_add_ps(_mm256_loadu_ps(ob->r + 2 * tx + 8), c);
        }
        o0 = _mm256_add_ps(b0, o0);
        o1 = _mm256_add_ps(b1, o1);
    }
    _mm256_storeu_ps(p, o0);
    _mm256_storeu_ps(p + 8, o1);
}

/* cols_b for 8 tiles from the padded rows t (t[0] = column -1): even/odd split of
 * t[2 tx .. 2 tx + 17], the same subtractions and additions as cols_b. */
__attribute__((target("avx2"))) static void cols_b8(const float *t, size_t tx, float *v0,
                                                    size_t es)
{
    const float *p = t + 2 * tx;
    const __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 8);
    const __m256 c = _mm256_loadu_ps(p + 2), d = _mm256_loadu_ps(p + 10);
    const __m256 e0 = _mm256_castpd_ps(_mm256_permute4x64_pd(
        _mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xd8)); /* t[2tx] */
    const __m256 o0 = _mm256_castpd_ps(_mm256_permute4x64_pd(
        _mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xdd)), 0xd8)); /* t[2tx + 1] */
    const __m256 e1 = _mm256_castpd_ps(_mm256_permute4x64_pd(
        _mm256_castps_pd(_mm256_shuffle_ps(c, d, 0x88)), 0xd8)); /* t[2tx + 2] */
    const __m256 o1 = _mm256_castpd_ps(_mm256_permute4x64_pd(
        _mm256_castps_pd(_mm256_shuffle_ps(c, d, 0xdd)), 0xd8)); /* t[2tx + 3] */
    _mm256_storeu_ps(v0 + tx, _mm256_sub_ps(e0, e1));
    _mm256_storeu_ps(v0 + es + tx, _mm256_add_ps(o0, e1));
    _mm256_storeu_ps(v0 + 2 * es + tx, _mm256_sub_ps(e1, o0));
    _mm256_storeu_ps(v0 + 3 * es + tx, _mm256_sub_ps(o0, o1));
}

/* out_tile8 for 4 tiles (SSE, every x86-64 CPU): the 8 x 8 planes' tile rows. */
static void out_tile4(const float *r0, const float *r1, const float *r2, size_t es, size_t tx,
                      int i, float *oo, const obase *ob)
{
    __m128 s[4];
    for (size_t j = 0; j < 4; j++) {
        const __m128 q = _mm_add_ps(_mm_loadu_ps(r1 + j * es + tx), _mm_loadu_ps(r2 + j * es + tx));
        const __m128 a = _mm_loadu_ps(r0 + j * es + tx);
        s[j] = i == 0 ? _mm_add_ps(a, q) : _mm_sub_ps(a, q);
    }
    const __m128 y0 = _mm_add_ps(_mm_add_ps(s[0], s[1]), s[2]);
    const __m128 y1 = _mm_sub_ps(_mm_sub_ps(s[1], s[2]), s[3]);
    __m128 o0 = _mm_unpacklo_ps(y0, y1), o1 = _mm_unpackhi_ps(y0, y1);
    float *p = oo + 2 * tx;
    if (ob->mode != OB_SET) { /* base + y, as ob_add */
        __m128 b0, b1;
        if (ob->mode == OB_ACC) {
            b0 = _mm_loadu_ps(p);
            b1 = _mm_loadu_ps(p + 4);
        } else if (ob->mode == OB_CONST) {
            b0 = b1 = _mm_set1_ps(ob->c);
        } else {
            const __m128 c = _mm_set1_ps(ob->c);
            b0 = _mm_add_ps(_mm_loadu_ps(ob->r + 2 * tx), c);
            b1 = _mm_add_ps(_mm_loadu_ps(ob->r + 2 * tx + 4), c);
        }
        o0 = _mm_add_ps(b0, o0);
        o1 = _mm_add_ps(b1, o1);
    }
    _mm_storeu_ps(p, o0);
    _mm_storeu_ps(p + 4, o1);
}

/* cols_b8 for 4 tiles (SSE): even/odd split of t[2 tx .. 2 tx + 9]. */
static void cols_b4(const float *t, size_t tx, float *v0, size_t es)
{
    const float *p = t + 2 * tx;
    const __m128 a = _mm_loadu_ps(p), b = _mm_loadu_ps(p + 4);
    const __m128 c = _mm_loadu_ps(p + 2), d = _mm_loadu_ps(p + 6);
    const __m128 e0 = _mm_shuffle_ps(a, b, 0x88), o0 = _mm_shuffle_ps(a, b, 0xdd);
    const __m128 e1 = _mm_shuffle_ps(c, d, 0x88), o1 = _mm_shuffle_ps(c, d, 0xdd);
    _mm_storeu_ps(v0 + tx, _mm_sub_ps(e0, e1));
    _mm_storeu_ps(v0 + es + tx, _mm_add_ps(o0, e1));
    _mm_storeu_ps(v0 + 2 * es + tx, _mm_sub_ps(e1, o0));
    _mm_storeu_ps(v0 + 3 * es + tx, _mm_sub_ps(o0, o1));
}

/* out_tile8 for 16 tiles (AVX-512): the 32 x 32 planes' tile rows. */
__attribute__((target("avx512f"))) static void out_tile16(const float *r0, const float *r1,
                                                          const float *r2, size_t es, size_t tx,
                                                          int i, float *oo, const obase *ob)
{
    __m512 s[4];
    for (size_t j = 0; j < 4; j++) {
        const __m512 q = _mm512_add_ps(_mm512_loadu_ps(r1 + j * es + tx),
                                       _mm512_loadu_ps(r2 + j * es + tx));
        const __m512 a = _mm512_loadu_ps(r0 + j * es + tx);
        s[j] = i == 0 ? _mm512_add_ps(a, q) : _mm512_sub_ps(a, q);
    }
    const __m512 y0 = _mm512_add_ps(_mm512_add_ps(s[0], s[1]), s[2]);
    const __m512 y1 = _mm512_sub_ps(_mm512_sub_ps(s[1], s[2]), s[3]);
    const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi =
        _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    __m512 o0 = _mm512_permutex2var_ps(y0, lo, y1), o1 = _mm512_permutex2var_ps(y0, hi, y1);
    float *p = oo + 2 * tx;
    if (ob->mode != OB_SET) { /* base + y, as ob_add */
        __m512 b0, b1;
        if (ob->mode == OB_ACC) {
            b0 = _mm512_loadu_ps(p);
            b1 = _mm512_loadu_ps(p + 16);
        } else if (ob->mode == OB_CONST) {
            b0 = b1 = _mm512_set1_ps(ob->c);
        } else {
            const __m512 c = _mm512_set1_ps(ob->c);
            b0 = _mm512_add_ps(_mm512_loadu_ps(ob->r + 2 * tx), c);
            b1 = _mm512_add_ps(_mm512_loadu_ps(ob->r + 2 * tx + 16), c);
        }
        o0 = _mm512_add_ps(b0, o0);
        o1 = _mm512_add_ps(b1, o1);
    }
    _mm512_storeu_ps(p, o0);
    _mm512_storeu_ps(p + 16, o1);
}

/* cols_b8 for 16 tiles (AVX-512): even/odd split of t[2 tx .. 2 tx + 33]. */
__attribute__((target("avx512f"))) static void cols_b16(const float *t, size_t tx, float *v0,
                                                        size_t es)
{
    const float *p = t + 2 * tx;
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i od = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    const __m512 a = _mm512_loadu_ps(p), b = _mm512_loadu_ps(p + 16);
    const __m512 c = _mm512_loadu_ps(p + 2), d = _mm512_loadu_ps(p + 18);
    const __m512 e0 = _mm512_permutex2var_ps(a, ev, b), o0 = _mm512_permutex2var_ps(a, od, b);
    const __m512 e1 = _mm512_permutex2var_ps(c, ev, d), o1 = _mm512_permutex2var_ps(c, od, d);
    _mm512_storeu_ps(v0 + tx, _mm512_sub_ps(e0, e1));
    _mm512_storeu_ps(v0 + es + tx, _mm512_add_ps(o0, e1));
    _mm512_storeu_ps(v0 + 2 * es + tx, _mm512_sub_ps(e1, o0));
    _mm512_storeu_ps(v0 + 3 * es + tx, _mm512_sub_ps(o0, o1));
}

/* 0: SSE only, 1: AVX2, 2: AVX-512F too (a benign race: every thread writes the same value). */
static int use_avx2(void)
{
    static int isa = -1;
    if (isa < 0)
        isa = !__builtin_cpu_supports("avx2")      ? 0
              : __builtin_cpu_supports("avx512f") ? 2
                                                  : 1;
    return isa;
}
#else
static int use_avx2(void)
{
    return 0;
}
#endif

/* One tile row of output from m [16][.][T] (row e at m + e * es): A^T m A with
 * A^T = [1 1 1 0; 0 1 -1 -1]; o is output row 2 ty of the plane (wd columns), ob its base
 * (ob->r: the residual's row 2 ty). */
static void out_row(const float *m, size_t es, size_t tw, size_t wd, int two_rows, float *o,
                    obase ob)
{
    const int v8 = use_avx2();
    for (int i = 0; i < 1 + two_rows; i++) {
        const float *r0 = m + 4 * i * es, *r1 = r0 + 4 * es, *r2 = r1 + 4 * es;
        float *oo = o + (size_t)i * wd;
        const size_t full = wd / 2; /* tiles with both columns inside */
        size_t tx = 0;
        if (i == 1 && ob.mode == OB_RES)
            ob.r += wd;
#if defined(__x86_64__) && defined(__GNUC__)
        if (v8 == 2)
            for (; tx + 16 <= full; tx += 16)
                out_tile16(r0, r1, r2, es, tx, i, oo, &ob);
        if (v8)
            for (; tx + 8 <= full; tx += 8)
                out_tile8(r0, r1, r2, es, tx, i, oo, &ob);
        for (; tx + 4 <= full; tx += 4)
            out_tile4(r0, r1, r2, es, tx, i, oo, &ob);
#else
        (void)v8;
#endif
        for (; tx < tw; tx++)
            out_tile(r0, r1, r2, es, tx, i, tx < full, oo, &ob);
    }
}

/* Column pass for one tile row from the padded rows t [4][2 tw + 2] of rows_bt: tile tx's
 * columns 0..3 are t[i][2 tx .. 2 tx + 3]; v0 = d0 - d2, v1 = d1 + d2, v2 = d2 - d1,
 * v3 = d1 - d3 into v[(4 i + k) * es + tx]. */
static void cols_b(const float *t, size_t tw, float *v, size_t es)
{
    const size_t ld = 2 * tw + 2;
    const int v8 = use_avx2();
    for (size_t i = 0; i < 4; i++) {
        const float *r = t + i * ld;
        float *v0 = v + 4 * i * es, *v1 = v0 + es, *v2 = v1 + es, *v3 = v2 + es;
        size_t tx = 0;
#if defined(__x86_64__) && defined(__GNUC__)
        if (v8 == 2)
            for (; tx + 16 <= tw; tx += 16)
                cols_b16(r, tx, v0, es);
        if (v8)
            for (; tx + 8 <= tw; tx += 8)
                cols_b8(r, tx, v0, es);
        for (; tx + 4 <= tw; tx += 4)
            cols_b4(r, tx, v0, es);
#else
        (void)v8;
#endif
        for (; tx < tw; tx++) {
            const float *d = r + 2 * tx;
            v0[tx] = d[0] - d[2];
            v1[tx] = d[1] + d[2];
            v2[tx] = d[2] - d[1];
            v3[tx] = d[1] - d[3];
        }
    }
}

/* Rows [ylo, yhi) of SiLU(GN(plane)) for channel ci of image b into pb (the same rows of a
 * plane buffer), exactly as tdi_unet_gn_fwd computes them. */
static void pre_rows(const tdi_unet_gnsilu *pre, const float *plane, size_t cin, size_t ci,
                     size_t b, tdi_unet_geom g, size_t ylo, size_t yhi, float *pb)
{
    const size_t gi = b * pre->groups + ci / (cin / pre->groups);
    const float rs = pre->rstd[gi], a = pre->gamma[ci] * rs, bb = pre->beta[ci] - pre->mean[gi] * a;
    tdi_unet_affine_silu(plane + ylo * g.w, (yhi - ylo) * g.w, a, bb, pb + ylo * g.w);
}

/* V [16][cin][T] of one chunk: B^T d B per tile, B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1].
 * buf: 4 * (2 tw + 2) + w floats of scratch, then (pre) h * w for SiLU(GN(in)) of the rows of
 * one image plane the chunk reads. */
static void in_transform(const float *in, size_t cin, tdi_unet_geom g, const wgeo *w, size_t r0,
                         const tdi_unet_gnsilu *pre, float *v, float *buf)
{
    const size_t n = tdi_unet_plane(g), hw = g.h * g.w, T = w->rows * w->tw;
    const size_t tw = w->tw, es = cin * T, r1 = r0 + w->rows;
    float *t = buf, *zr = buf + 4 * (2 * tw + 2), *pb = zr + g.w;
    memset(zr, 0, g.w * sizeof *zr);
    /* the chunk's input rows of one channel are one span: fetch channel ci + 2's early (short
     * scattered runs defeat the hardware prefetcher; the reads were SiLU's main cost) */
    const size_t rl = r1 - 1, y0 = r0 % w->th ? 2 * (r0 % w->th) - 1 : 0;
    const size_t y1 = 2 * (rl % w->th) + 3 < g.h ? 2 * (rl % w->th) + 3 : g.h;
    const size_t s0 = (r0 / w->th) * hw + y0 * g.w, s1 = (rl / w->th) * hw + y1 * g.w;
    for (size_t ci = 0; ci < cin; ci++) {
        if (ci + 2 < cin)
            for (size_t i = s0; i < s1; i += 16)
                __builtin_prefetch(in + (ci + 2) * n + i, 0, 3);
        for (size_t r = r0; r < r1;) {
            const size_t b = r / w->th, ty0 = r % w->th;
            const size_t ty1 = r1 - r < w->th - ty0 ? ty0 + (r1 - r) : w->th;
            const float *plane = in + ci * n + b * hw;
            if (pre) { /* input rows 2 ty0 - 1 .. 2 ty1 within the image */
                const size_t ylo = ty0 ? 2 * ty0 - 1 : 0;
                const size_t yhi = 2 * ty1 + 1 < g.h ? 2 * ty1 + 1 : g.h;
                pre_rows(pre, plane, cin, ci, b, g, ylo, yhi, pb);
                plane = pb;
            }
            for (size_t ty = ty0; ty < ty1; ty++, r++) {
                rows_bt(plane, g, ty, tw, zr, t);
                cols_b(t, tw, v + ci * T + (r - r0) * tw, es);
            }
        }
    }
}

/* The base of output plane (co, b): acc, or epi (tdi_unet_epi; res: rbase = its plane). */
static obase ob_make(int acc, const tdi_unet_epi *epi, size_t cout, size_t co, size_t b,
                     const float *rbase)
{
    obase ob = {acc ? OB_ACC : OB_SET, 0.0f, NULL};
    if (epi && epi->res) {
        ob.mode = OB_RES;
        ob.c = epi->bias[co];
        ob.r = rbase;
    } else if (epi) {
        ob.mode = OB_CONST;
        ob.c = epi->per_image[b * cout + co] + epi->bias[co];
    }
    return ob;
}

/* out tiles of one chunk from M [16][cout][T]. */
static void out_transform(const float *mm, size_t cout, tdi_unet_geom g, const wgeo *w,
                          size_t r0, float *out, int acc, const tdi_unet_epi *epi)
{
    const size_t n = tdi_unet_plane(g), hw = g.h * g.w, T = w->rows * w->tw, tw = w->tw;
    const size_t rl = r0 + w->rows - 1; /* channel co + 2's output (and residual) span, early */
    const size_t s0 = (r0 / w->th) * hw + 2 * (r0 % w->th) * g.w;
    const size_t yl = 2 * (rl % w->th) + 2 < g.h ? 2 * (rl % w->th) + 2 : g.h;
    const size_t s1 = (rl / w->th) * hw + yl * g.w;
    for (size_t co = 0; co < cout; co++) {
        if (co + 2 < cout)
            for (size_t i = s0; i < s1; i += 16) {
                __builtin_prefetch(out + (co + 2) * n + i, 1, 3);
                if (epi && epi->res)
                    __builtin_prefetch(epi->res + (co + 2) * n + i, 0, 3);
            }
        for (size_t r = r0; r < r0 + w->rows; r++) {
            const size_t b = r / w->th, ty = r % w->th, at = co * n + b * hw + 2 * ty * g.w;
            const float *rb = epi && epi->res ? epi->res + at : NULL;
            const obase ob = ob_make(acc, epi, cout, co, b, rb);
            out_row(mm + co * T + (r - r0) * tw, cout * T, tw, g.w, 2 * ty + 1 < g.h, out + at,
                    ob);
        }
    }
}

/* Floats of one thread's V, M and row buffers. */
static size_t per_thread(size_t cin, size_t cout, tdi_unet_geom g, const wgeo *w)
{
    return 16 * (cin + cout) * w->rows * w->tw + 4 * (2 * w->tw + 2) + g.w + g.h * g.w;
}

size_t tdi_unet_wino_scratch(size_t cin, size_t cout, tdi_unet_geom g)
{
    const wgeo w = wgeo_make(cin, cout, g);
    return 16 * cin * cout + (size_t)omp_get_max_threads() * per_thread(cin, cout, g, &w);
}

void tdi_unet_wino_conv(const float *in, size_t cin, tdi_unet_geom g, const float *u,
                        size_t cout, float *out, int acc, const tdi_unet_gnsilu *pre,
                        const tdi_unet_epi *epi, float *work)
{
    const wgeo w = wgeo_make(cin, cout, g);
    const size_t T = w.rows * w.tw, per = per_thread(cin, cout, g, &w);
    const int packed = tdi_unet_wgemm_ok(cout); /* u's layout (tdi_unet_wino_weights) */
#pragma omp parallel for schedule(static)
    for (size_t c = 0; c < w.nchunks; c++) {
        float *v = work + (size_t)omp_get_thread_num() * per;
        float *mm = v + 16 * cin * T, *buf = mm + 16 * cout * T;
        in_transform(in, cin, g, &w, c * w.rows, pre, v, buf);
        for (size_t e = 0; e < 16; e++)
            if (packed)
                tdi_unet_wgemm(cout, T, cin, u + e * cout * cin, v + e * cin * T, T,
                               mm + e * cout * T, T);
            else
                tdi_unet_sgemm(0, 0, cout, T, cin, 1.0f, u + e * cout * cin, cin,
                               v + e * cin * T, T, 0.0f, mm + e * cout * T, T);
        out_transform(mm, cout, g, &w, c * w.rows, out, acc, epi);
    }
}

/* tdi_unet_wino_conv3 and _gn: weights transformed into scratch, then the conv. */
static int conv3_run(const float *in, size_t cin, tdi_unet_geom g, const tdi_unet_gnsilu *pre,
                     const float *w, size_t cout, float *out, int acc, const tdi_unet_epi *epi,
                     int adjoint, float *scratch, size_t nscratch)
{
    const size_t need = tdi_unet_wino_scratch(cin, cout, g);
    float *own = NULL;
    if (nscratch < need) {
        scratch = own = malloc(need * sizeof *own);
        if (!own)
            return -1;
    }
    if (adjoint)
        tdi_unet_wino_weights(w, cin, cout, 1, scratch);
    else
        tdi_unet_wino_weights(w, cout, cin, 0, scratch);
    tdi_unet_wino_conv(in, cin, g, scratch, cout, out, acc, pre, epi,
                       scratch + 16 * cin * cout);
    free(own);
    return 0;
}

int tdi_unet_wino_conv3(const float *in, size_t cin, tdi_unet_geom g, const float *w,
                        size_t cout, float *out, int acc, int adjoint, float *scratch,
                        size_t nscratch)
{
    return conv3_run(in, cin, g, NULL, w, cout, out, acc, NULL, adjoint, scratch, nscratch);
}

int tdi_unet_wino_conv3_gn(const float *in, size_t cin, tdi_unet_geom g,
                           const tdi_unet_gnsilu *pre, const float *w, size_t cout, float *out,
                           int acc, const tdi_unet_epi *epi, float *scratch, size_t nscratch)
{
    if (pre && g.w % 8 != 0)
        return -1;
    return conv3_run(in, cin, g, pre, w, cout, out, acc, epi, 0, scratch, nscratch);
}
