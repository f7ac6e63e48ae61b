/* tdi_unet_sskip: forward and backward of the substrate-skip layer (see tdi_unet_sskip.h).
 * Work goes image by image (OpenMP over images, each with its own noise stream) and, inside an
 * image, in chunks of regions gathered into [C][L] stack buffers for one GEMM each, so the layer
 * allocates nothing and cannot fail. Invariant: results do not depend on b or the thread count. */
#include "tdi_unet_sskip.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "tdi_seed.h"
#include "tdi_unet_gemm.h"

#define SSKIP_BUF 8192 /* floats per [C][L] chunk buffer (32 KB); L = SSKIP_BUF / C >= 8 */

typedef struct sskip_geo {
    size_t N, HW, side, p, nreg, rside; /* plane b*HW, image plane, side, pool, regions, per row */
} sskip_geo;

static sskip_geo sskip_geom(const tdi_unet_sskip *s, size_t b, size_t HW)
{
    sskip_geo g = {b * HW, HW, 0, s->pool ? s->pool : 1, 0, 0};
    while ((g.side + 1) * (g.side + 1) <= HW)
        g.side++;
    g.rside = g.side / g.p;
    g.nreg = g.rside * g.rside;
    return g;
}

/* v [C][L] := region means of regions r0..r0+L-1 of plane base (image i's offset applied). */
static void sskip_gather(const float *x, size_t C, const sskip_geo *g, size_t r0, size_t L,
                         float *v)
{
    const double inv = 1.0 / (double)(g->p * g->p);
    for (size_t c = 0; c < C; c++) {
        const float *xc = x + c * g->N;
        for (size_t j = 0; j < L; j++) {
            const size_t r = r0 + j, ry = r / g->rside, rx = r % g->rside;
            if (g->p == 1) {
                v[c * L + j] = xc[r];
                continue;
            }
            double acc = 0.0;
            for (size_t dy = 0; dy < g->p; dy++)
                for (size_t dx = 0; dx < g->p; dx++)
                    acc += xc[(ry * g->p + dy) * g->side + rx * g->p + dx];
            v[c * L + j] = (float)(acc * inv);
        }
    }
}

/* pool 1: x := w; pool p: every pixel of region r0 + j += w - v. */
static void sskip_scatter(float *x, size_t C, const sskip_geo *g, size_t r0, size_t L,
                          const float *v, const float *w)
{
    for (size_t c = 0; c < C; c++) {
        float *xc = x + c * g->N;
        for (size_t j = 0; j < L; j++) {
            const size_t r = r0 + j, ry = r / g->rside, rx = r % g->rside;
            if (g->p == 1) {
                xc[r] = w[c * L + j];
                continue;
            }
            const float delta = w[c * L + j] - v[c * L + j];
            for (size_t dy = 0; dy < g->p; dy++)
                for (size_t dx = 0; dx < g->p; dx++)
                    xc[(ry * g->p + dy) * g->side + rx * g->p + dx] += delta;
        }
    }
}

/* w [C][L] := the substrate's read-out of v: mean + R (v - mean) + noise (or mean, or 0). */
static void sskip_map(const tdi_unet_sskip *s, size_t L, const float *v, float *d, float *w,
                      gsl_rng *rng)
{
    const size_t C = s->C;
    if (s->mode == TDI_UNET_SSKIP_ZERO) {
        for (size_t q = 0; q < C * L; q++)
            w[q] = 0.0f;
        return;
    }
    if (s->mode == TDI_UNET_SSKIP_MEAN) {
        for (size_t c = 0; c < C; c++)
            for (size_t j = 0; j < L; j++)
                w[c * L + j] = s->mean[c];
        return;
    }
    for (size_t c = 0; c < C; c++)
        for (size_t j = 0; j < L; j++)
            d[c * L + j] = v[c * L + j] - s->mean[c];
    tdi_unet_sgemm(0, 0, C, L, C, 1.0f, s->R, C, d, L, 0.0f, w, L);
    for (size_t c = 0; c < C; c++)
        for (size_t j = 0; j < L; j++)
            w[c * L + j] += s->mean[c];
    if (!rng)
        return;
    for (size_t j = 0; j < L; j++) /* regions in order, channels inner */
        for (size_t c = 0; c < C; c++)
            w[c * L + j] += (float)(s->noise_sd[c] * gsl_ran_gaussian_ziggurat(rng, 1.0));
}

static int sskip_noisy(const tdi_unet_sskip *s)
{
    if (s->mode != TDI_UNET_SSKIP_SUBSTRATE || !s->noise_sd)
        return 0;
    for (size_t c = 0; c < s->C; c++)
        if (s->noise_sd[c] != 0.0f)
            return 1;
    return 0;
}

static void sskip_image_fwd(const tdi_unet_sskip *s, float *xi, const sskip_geo *g,
                            gsl_rng *rng)
{
    float v[SSKIP_BUF], d[SSKIP_BUF], w[SSKIP_BUF];
    const size_t Lmax = SSKIP_BUF / s->C;
    for (size_t r0 = 0; r0 < g->nreg; r0 += Lmax) {
        const size_t L = g->nreg - r0 < Lmax ? g->nreg - r0 : Lmax;
        sskip_gather(xi, s->C, g, r0, L, v);
        sskip_map(s, L, v, d, w, rng);
        sskip_scatter(xi, s->C, g, r0, L, v, w);
    }
}

void tdi_unet_sskip_forward(const tdi_unet_sskip *s, float *x, size_t b, size_t HW,
                            unsigned long draw)
{
    if (!s || s->C == 0 || s->C > SSKIP_BUF / 8)
        return;
    const sskip_geo g = sskip_geom(s, b, HW);
    const int noisy = sskip_noisy(s);
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < b; i++) {
        gsl_rng *rng = NULL;
        if (noisy) {
            rng = gsl_rng_alloc(gsl_rng_mt19937);
            if (rng) {
                const uint64_t idx = 2 * ((uint64_t)draw + i) + (uint64_t)(s->level != 0);
                gsl_rng_set(rng, (unsigned long)tdi_seed(s->seed, TDI_SEED_SSKIP, idx));
            }
        }
        sskip_image_fwd(s, x + i * HW, &g, rng);
        gsl_rng_free(rng);
    }
}

static void sskip_image_bwd(const tdi_unet_sskip *s, float *gi, const sskip_geo *g)
{
    float v[SSKIP_BUF], w[SSKIP_BUF];
    const size_t C = s->C, Lmax = SSKIP_BUF / C;
    for (size_t r0 = 0; r0 < g->nreg; r0 += Lmax) {
        const size_t L = g->nreg - r0 < Lmax ? g->nreg - r0 : Lmax;
        sskip_gather(gi, C, g, r0, L, v); /* region means of the gradient: sum / p^2 */
        if (s->mode == TDI_UNET_SSKIP_SUBSTRATE)
            tdi_unet_sgemm(1, 0, C, L, C, 1.0f, s->R, C, v, L, 0.0f, w, L);
        else
            for (size_t q = 0; q < C * L; q++)
                w[q] = 0.0f;
        sskip_scatter(gi, C, g, r0, L, v, w);
    }
}

void tdi_unet_sskip_backward(const tdi_unet_sskip *s, float *dx, size_t b, size_t HW)
{
    if (!s || s->C == 0 || s->C > SSKIP_BUF / 8)
        return;
    const sskip_geo g = sskip_geom(s, b, HW);
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < b; i++)
        sskip_image_bwd(s, dx + i * HW, &g);
}
