/* tdi_unet_wino: Winograd F(2x2, 3x3) convolutions (see tdi_unet_wino.h). The tiles are cut
 * into chunks of whole tile rows (2 output rows of one image); each OpenMP thread transforms a
 * chunk's input into V [16][cin][T], runs the 16 GEMMs into M [16][cout][T] and transforms M
 * back into the output while both are in its cache. Every output element is the same sequence
 * of operations whatever the chunking and thread count. */
#include "tdi_unet_wino.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_unet_gemm.h"

/* The transforms' loops, compiled for AVX2 too and picked at run time (GCC ifunc); they only
 * add and subtract, so both versions give the same bits. */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define TDI_WINO_SIMD __attribute__((target_clones("avx2", "default")))
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
#pragma omp parallel for schedule(static)
    for (size_t co = 0; co < cout; co++)
        for (size_t ci = 0; ci < cin; ci++) {
            const float *g = w + (co * cin + ci) * 9;
            if (adjoint) {
                float r[9]; /* rot180: r[ky][kx] = g[2 - ky][2 - kx] */
                for (int i = 0; i < 9; i++)
                    r[i] = g[8 - i];
                wt_one(r, u + ci * cout + co, stride); /* [e][ci][co]: the adjoint's [out][in] */
            } else {
                wt_one(g, u + co * cin + ci, stride);
            }
        }
}

/* Tile geometry of one plane set. */
typedef struct wgeo {
    size_t th, tw;   /* tile rows and columns per image */
    size_t rows;     /* tile rows per chunk */
    size_t nchunks;  /* b * th / rows */
} wgeo;

/* Tile rows per chunk: V and M (16 * (cin + cout) * T floats) within about 1 MB, at least one
 * row; a divisor of b * th so every chunk has the same size. */
static wgeo wgeo_make(size_t cin, size_t cout, tdi_unet_geom g)
{
    wgeo w = {(g.h + 1) / 2, (g.w + 1) / 2, 1, 0};
    const size_t total = g.b * w.th, per_row = 16 * (cin + cout) * w.tw;
    size_t r = ((size_t)1 << 18) / per_row;
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

/* Row pass of B^T d B for one tile row: ev[i][k], od[i][k] (k = 0 .. tw) are row i of B^T d at
 * the padded columns 2k and 2k + 1 (input columns 2k - 1 and 2k), zero outside the image.
 * Input rows 2 ty - 1 .. 2 ty + 2 of plane; a row outside the image reads as zero (zr). */
TDI_WINO_SIMD static void rows_bt(const float *plane, tdi_unet_geom g, size_t ty, size_t tw,
                                  const float *zr, float *restrict ev, float *restrict od)
{
    const float *p[4];
    for (size_t i = 0; i < 4; i++) {
        const long y = (long)(2 * ty + i) - 1;
        p[i] = (y >= 0 && y < (long)g.h) ? plane + (size_t)y * g.w : zr;
    }
    const float *p0 = p[0], *p1 = p[1], *p2 = p[2], *p3 = p[3];
    const size_t ld = tw + 1, wd = g.w;
    /* od[k]: column 2k (k < tw covers 0 .. 2tw-2, all inside); ev[k]: column 2k - 1 */
#pragma omp simd
    for (size_t k = 0; k < tw; k++) {
        const size_t x = 2 * k;
        od[k] = p0[x] - p2[x];
        od[ld + k] = p1[x] + p2[x];
        od[2 * ld + k] = p2[x] - p1[x];
        od[3 * ld + k] = p1[x] - p3[x];
    }
#pragma omp simd
    for (size_t k = 1; k <= tw; k++) {
        const size_t x = 2 * k - 1; /* x = 2tw - 1 is outside when w is odd */
        const int in = x < wd;
        const float a0 = in ? p0[x] : 0.0f, a1 = in ? p1[x] : 0.0f;
        const float a2 = in ? p2[x] : 0.0f, a3 = in ? p3[x] : 0.0f;
        ev[k] = a0 - a2;
        ev[ld + k] = a1 + a2;
        ev[2 * ld + k] = a2 - a1;
        ev[3 * ld + k] = a1 - a3;
    }
    for (size_t i = 0; i < 4; i++) {
        ev[i * ld] = 0.0f;      /* column -1 */
        od[i * ld + tw] = 0.0f; /* column 2tw */
    }
}

/* Column pass: tile tx's columns 0..3 are ev[tx], od[tx], ev[tx + 1], od[tx + 1]. */
TDI_WINO_SIMD static void cols_b(const float *restrict ev, const float *restrict od, size_t tw,
                                 float *restrict v, size_t es)
{
    const size_t ld = tw + 1;
    for (size_t i = 0; i < 4; i++) {
        const float *e = ev + i * ld, *o = od + i * ld;
        float *v0 = v + 4 * i * es, *v1 = v0 + es, *v2 = v1 + es, *v3 = v2 + es;
#pragma omp simd
        for (size_t tx = 0; tx < tw; tx++) {
            v0[tx] = e[tx] - e[tx + 1];
            v1[tx] = o[tx] + e[tx + 1];
            v2[tx] = e[tx + 1] - o[tx];
            v3[tx] = o[tx] - o[tx + 1];
        }
    }
}

/* V [16][cin][T] of one chunk: B^T d B per tile, B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1].
 * buf: 8 * (tw + 1) + w floats of scratch. */
static void in_transform(const float *in, size_t cin, tdi_unet_geom g, const wgeo *w, size_t r0,
                         float *v, float *buf)
{
    const size_t n = tdi_unet_plane(g), hw = g.h * g.w, T = w->rows * w->tw;
    const size_t tw = w->tw, es = cin * T;
    float *ev = buf, *od = buf + 4 * (tw + 1), *zr = buf + 8 * (tw + 1);
    memset(zr, 0, g.w * sizeof *zr);
    for (size_t ci = 0; ci < cin; ci++)
        for (size_t r = r0; r < r0 + w->rows; r++) {
            const size_t b = r / w->th, ty = r % w->th;
            rows_bt(in + ci * n + b * hw, g, ty, tw, zr, ev, od);
            cols_b(ev, od, tw, v + ci * T + (r - r0) * tw, es);
        }
}

/* One tile row of output from m [16][.][T] (row e at m + e * es): A^T m A with
 * A^T = [1 1 1 0; 0 1 -1 -1]; o is output row 2 ty of the plane (wd columns). */
TDI_WINO_SIMD static void out_row(const float *restrict m, size_t es, size_t tw, size_t wd,
                                  int two_rows, float *restrict o, int acc)
{
    for (int i = 0; i < 1 + two_rows; i++) {
        /* row i of A^T m, column j: m0j + m1j + m2j (i = 0) or m1j - m2j - m3j (i = 1) */
        const float *ra = m, *rb = m + 4 * es, *rc = m + 8 * es, *rd = m + 12 * es;
        const float sg = i == 0 ? 1.0f : -1.0f;
        const float *r0 = i == 0 ? ra : rb, *r1 = i == 0 ? rb : rc, *r2 = i == 0 ? rc : rd;
        float *oo = o + (size_t)i * wd;
        const size_t full = wd / 2; /* tiles with both columns inside */
#pragma omp simd
        for (size_t tx = 0; tx < full; tx++) {
            float s[4];
            for (size_t j = 0; j < 4; j++)
                s[j] = r0[j * es + tx] + sg * (r1[j * es + tx] + r2[j * es + tx]);
            const float y0 = s[0] + s[1] + s[2], y1 = s[1] - s[2] - s[3];
            oo[2 * tx] = acc ? oo[2 * tx] + y0 : y0;
            oo[2 * tx + 1] = acc ? oo[2 * tx + 1] + y1 : y1;
        }
        if (full < tw) { /* odd width: the last tile's first column only */
            const size_t tx = full;
            float s[3];
            for (size_t j = 0; j < 3; j++)
                s[j] = r0[j * es + tx] + sg * (r1[j * es + tx] + r2[j * es + tx]);
            const float y0 = s[0] + s[1] + s[2];
            oo[2 * tx] = acc ? oo[2 * tx] + y0 : y0;
        }
    }
}

/* out tiles of one chunk from M [16][cout][T]. */
static void out_transform(const float *mm, size_t cout, tdi_unet_geom g, const wgeo *w,
                          size_t r0, float *out, int acc)
{
    const size_t n = tdi_unet_plane(g), hw = g.h * g.w, T = w->rows * w->tw, tw = w->tw;
    for (size_t co = 0; co < cout; co++)
        for (size_t r = r0; r < r0 + w->rows; r++) {
            const size_t b = r / w->th, ty = r % w->th;
            out_row(mm + co * T + (r - r0) * tw, cout * T, tw, g.w, 2 * ty + 1 < g.h,
                    out + co * n + b * hw + 2 * ty * g.w, acc);
        }
}

/* Floats of one thread's V, M and row buffers. */
static size_t per_thread(size_t cin, size_t cout, tdi_unet_geom g, const wgeo *w)
{
    return 16 * (cin + cout) * w->rows * w->tw + 8 * (w->tw + 1) + g.w;
}

size_t tdi_unet_wino_scratch(size_t cin, size_t cout, tdi_unet_geom g)
{
    const wgeo w = wgeo_make(cin, cout, g);
    return 16 * cin * cout + (size_t)omp_get_max_threads() * per_thread(cin, cout, g, &w);
}

void tdi_unet_wino_conv(const float *in, size_t cin, tdi_unet_geom g, const float *u,
                        size_t cout, float *out, int acc, float *work)
{
    const wgeo w = wgeo_make(cin, cout, g);
    const size_t T = w.rows * w.tw, per = per_thread(cin, cout, g, &w);
#pragma omp parallel for schedule(static)
    for (size_t c = 0; c < w.nchunks; c++) {
        float *v = work + (size_t)omp_get_thread_num() * per;
        float *mm = v + 16 * cin * T, *buf = mm + 16 * cout * T;
        in_transform(in, cin, g, &w, c * w.rows, v, buf);
        for (size_t e = 0; e < 16; e++)
            tdi_unet_sgemm(0, 0, cout, T, cin, 1.0f, u + e * cout * cin, cin, v + e * cin * T, T,
                           0.0f, mm + e * cout * T, T);
        out_transform(mm, cout, g, &w, c * w.rows, out, acc);
    }
}

int tdi_unet_wino_conv3(const float *in, size_t cin, tdi_unet_geom g, const float *w,
                        size_t cout, float *out, int acc, int adjoint, float *scratch,
                        size_t nscratch)
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
    tdi_unet_wino_conv(in, cin, g, scratch, cout, out, acc, scratch + 16 * cin * cout);
    free(own);
    return 0;
}
