/* tdi_unet_clf: forward, backward and checkpoint of the classifier (see tdi_unet_clf.h).
 * Each conv stage is conv3x3 -> SiLU -> avgpool 2; the backward walks the stages in reverse
 * with one shared set of scratch buffers. */
#include "tdi_unet_clf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "tdi_io.h"
#include "tdi_unet_layers.h"
#include "tdi_unet_le.h"

#define CLF_MAGIC "TDICLF01"
#define CLF_VERSION 1u
#define CLF_HDR 44 /* 8 magic + 5*4 + 2*8 */

static size_t layout(tdi_clf *m)
{
    const tdi_clf_arch a = m->arch;
    size_t o = 0;
    m->w1 = o, o += a.c1 * 9, m->b1 = o, o += a.c1;
    m->w2 = o, o += a.c2 * a.c1 * 9, m->b2 = o, o += a.c2;
    m->w3 = o, o += a.c3 * a.c2 * 9, m->b3 = o, o += a.c3;
    m->wf = o, o += a.hidden * a.c3 * 16, m->bf = o, o += a.hidden;
    m->wo = o, o += TDI_CLF_CLASSES * a.hidden, m->bo = o, o += TDI_CLF_CLASSES;
    return o;
}

static size_t max3(size_t a, size_t b, size_t c)
{
    return a > b ? (a > c ? a : c) : (b > c ? b : c);
}

int tdi_clf_alloc(tdi_clf **out, tdi_clf_arch a, size_t B, tdi_err *err)
{
    *out = NULL;
    if (!a.c1 || !a.c2 || !a.c3 || !a.hidden || !B)
        return tdi_err_set(err, TDI_EARG, "classifier: zero size in the architecture or batch");
    tdi_clf *m = calloc(1, sizeof *m);
    if (!m)
        return tdi_err_set(err, TDI_ENOMEM, "classifier: out of memory");
    m->arch = a;
    m->max_batch = B;
    m->n_params = layout(m);
    const size_t act = max3(a.c1 * B * 1024, a.c2 * B * 256, a.c3 * B * 64);
    const size_t pooled = max3(a.c1 * B * 256, a.c2 * B * 64, a.c3 * B * 16);
    const size_t col = max3(9 * B * 1024, a.c1 * 9 * B * 256, a.c2 * 9 * B * 64);
    float **bufs[] = {&m->params, &m->grads, &m->a1, &m->p1, &m->a2, &m->p2, &m->a3, &m->p3,
                      &m->flat, &m->zf, &m->feat, &m->logits, &m->col, &m->s, &m->ds,
                      &m->dflat, &m->dfeat, &m->dlog};
    const size_t sizes[] = {m->n_params, m->n_params, a.c1 * B * 1024, a.c1 * B * 256,
                            a.c2 * B * 256, a.c2 * B * 64, a.c3 * B * 64, a.c3 * B * 16,
                            B * a.c3 * 16, B * a.hidden, B * a.hidden, B * TDI_CLF_CLASSES,
                            col, act, act + pooled, B * a.c3 * 16, B * a.hidden,
                            B * TDI_CLF_CLASSES};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        if (!(*bufs[i] = calloc(sizes[i], sizeof(float)))) {
            tdi_clf_free(m);
            return tdi_err_set(err, TDI_ENOMEM, "classifier: out of memory");
        }
    }
    *out = m;
    return TDI_OK;
}

void tdi_clf_free(tdi_clf *m)
{
    if (!m)
        return;
    float *bufs[] = {m->params, m->grads, m->a1, m->p1, m->a2, m->p2, m->a3, m->p3, m->flat,
                     m->zf, m->feat, m->logits, m->col, m->s, m->ds, m->dflat, m->dfeat,
                     m->dlog};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
    free(m);
}

static void init_uniform(float *p, size_t n, size_t fan_in, gsl_rng *r)
{
    const double k = 1.0 / sqrt((double)fan_in);
    for (size_t i = 0; i < n; i++)
        p[i] = (float)(k * (2.0 * gsl_rng_uniform(r) - 1.0));
}

void tdi_clf_init_params(tdi_clf *m, unsigned long seed)
{
    const tdi_clf_arch a = m->arch;
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r)
        return; /* out of memory: parameters stay zero */
    gsl_rng_set(r, seed);
    float *p = m->params;
    init_uniform(p + m->w1, m->b1 - m->w1 + a.c1, 9, r);
    init_uniform(p + m->w2, m->b2 - m->w2 + a.c2, a.c1 * 9, r);
    init_uniform(p + m->w3, m->b3 - m->w3 + a.c3, a.c2 * 9, r);
    init_uniform(p + m->wf, m->bf - m->wf + a.hidden, a.c3 * 16, r);
    init_uniform(p + m->wo, m->bo - m->wo + TDI_CLF_CLASSES, a.hidden, r);
    gsl_rng_free(r);
}

/* conv3x3 (+bias) -> a, SiLU -> s, avgpool -> p. g: the input's geometry. */
static void stage_fwd(tdi_clf *m, const float *in, size_t cin, tdi_unet_geom g, size_t w,
                      size_t bias, size_t cout, float *a, float *p)
{
    tdi_unet_conv3_fwd(in, cin, g, m->params + w, m->params + bias, cout, a, m->col, 0);
    tdi_unet_silu_fwd(a, cout * tdi_unet_plane(g), m->s);
    tdi_unet_pool_fwd(m->s, cout, g, p);
}

void tdi_clf_forward(tdi_clf *m, const float *x, size_t b)
{
    const tdi_clf_arch a = m->arch;
    const tdi_unet_geom g32 = {b, 32, 32}, g16 = {b, 16, 16}, g8 = {b, 8, 8};
    m->x = x;
    m->batch = b;
    stage_fwd(m, x, 1, g32, m->w1, m->b1, a.c1, m->a1, m->p1);
    stage_fwd(m, m->p1, a.c1, g16, m->w2, m->b2, a.c2, m->a2, m->p2);
    stage_fwd(m, m->p2, a.c2, g8, m->w3, m->b3, a.c3, m->a3, m->p3);
    const size_t d = a.c3 * 16;
    for (size_t c = 0; c < a.c3; c++)
        for (size_t i = 0; i < b; i++)
            memcpy(m->flat + i * d + c * 16, m->p3 + (c * b + i) * 16, 16 * sizeof(float));
    tdi_unet_linear_fwd(m->flat, b, d, m->params + m->wf, m->params + m->bf, a.hidden, m->zf);
    tdi_unet_silu_fwd(m->zf, b * a.hidden, m->feat);
    tdi_unet_linear_fwd(m->feat, b, a.hidden, m->params + m->wo, m->params + m->bo,
                        TDI_CLF_CLASSES, m->logits);
}

/* Softmax cross-entropy: dlog = (softmax - onehot) / b; returns the mean loss. */
static double ce_grad(const float *logits, const uint8_t *labels, size_t b, float *dlog)
{
    double loss = 0.0;
    for (size_t i = 0; i < b; i++) {
        const float *l = logits + i * TDI_CLF_CLASSES;
        double mx = l[0], z = 0.0;
        for (int k = 1; k < TDI_CLF_CLASSES; k++)
            mx = l[k] > mx ? l[k] : mx;
        for (int k = 0; k < TDI_CLF_CLASSES; k++)
            z += exp(l[k] - mx);
        loss += log(z) + mx - l[labels[i]];
        for (int k = 0; k < TDI_CLF_CLASSES; k++)
            dlog[i * TDI_CLF_CLASSES + k] =
                (float)((exp(l[k] - mx) / z - (k == labels[i] ? 1.0 : 0.0)) / (double)b);
    }
    return loss / (double)b;
}

/* dp: gradient w.r.t. the stage's pooled output (in m->ds + act); din: the input gradient
 * (NULL for the first stage). */
static void stage_bwd(tdi_clf *m, const float *in, size_t cin, tdi_unet_geom g, size_t w,
                      size_t bias, size_t cout, const float *a, const float *dp, float *din)
{
    const size_t n = cout * tdi_unet_plane(g);
    memset(m->ds, 0, n * sizeof(float));
    tdi_unet_pool_bwd(dp, cout, g, m->ds);
    tdi_unet_silu_bwd(a, n, m->ds, m->ds);
    tdi_unet_conv3_bwd(in, cin, g, m->params + w, cout, m->ds, m->grads + w, m->grads + bias,
                       din, m->col, 0);
}

double tdi_clf_backward_ce(tdi_clf *m, const uint8_t *labels)
{
    const tdi_clf_arch a = m->arch;
    const size_t b = m->batch, d = a.c3 * 16;
    const tdi_unet_geom g32 = {b, 32, 32}, g16 = {b, 16, 16}, g8 = {b, 8, 8};
    memset(m->grads, 0, m->n_params * sizeof(float));
    const double loss = ce_grad(m->logits, labels, b, m->dlog);
    float *p = m->params, *gr = m->grads;
    tdi_unet_linear_bwd(m->feat, b, a.hidden, p + m->wo, TDI_CLF_CLASSES, m->dlog, gr + m->wo,
                        gr + m->bo, m->dfeat);
    tdi_unet_silu_bwd(m->zf, b * a.hidden, m->dfeat, m->dfeat);
    tdi_unet_linear_bwd(m->flat, b, d, p + m->wf, a.hidden, m->dfeat, gr + m->wf, gr + m->bf,
                        m->dflat);
    /* the pooled-gradient buffer sits after the largest activation in ds */
    float *dp = m->ds + max3(a.c1 * m->max_batch * 1024, a.c2 * m->max_batch * 256,
                             a.c3 * m->max_batch * 64);
    for (size_t c = 0; c < a.c3; c++)
        for (size_t i = 0; i < b; i++)
            memcpy(dp + (c * b + i) * 16, m->dflat + i * d + c * 16, 16 * sizeof(float));
    stage_bwd(m, m->p2, a.c2, g8, m->w3, m->b3, a.c3, m->a3, dp, dp);
    stage_bwd(m, m->p1, a.c1, g16, m->w2, m->b2, a.c2, m->a2, dp, dp);
    stage_bwd(m, m->x, 1, g32, m->w1, m->b1, a.c1, m->a1, dp, NULL);
    return loss;
}

int tdi_clf_save(const char *path, const tdi_clf *m, uint64_t config_hash, tdi_err *err)
{
    unsigned char h[CLF_HDR], tail[8];
    memcpy(h, CLF_MAGIC, 8);
    tdi_unet_put32(h + 8, CLF_VERSION);
    tdi_unet_put32(h + 12, (uint32_t)m->arch.c1);
    tdi_unet_put32(h + 16, (uint32_t)m->arch.c2);
    tdi_unet_put32(h + 20, (uint32_t)m->arch.c3);
    tdi_unet_put32(h + 24, (uint32_t)m->arch.hidden);
    tdi_unet_put64(h + 28, m->n_params);
    tdi_unet_put64(h + 36, config_hash);
    const size_t nb = m->n_params * sizeof(float);
    uint64_t hash = tdi_hash_bytes(TDI_HASH_INIT, h, sizeof h);
    hash = tdi_hash_bytes(hash, m->params, nb);
    tdi_unet_put64(tail, hash);
    tdi_atomic_file af;
    int rc = tdi_atomic_open(&af, path, err);
    if (rc)
        return rc;
    if (fwrite(h, 1, sizeof h, af.f) != sizeof h || fwrite(m->params, 1, nb, af.f) != nb ||
        fwrite(tail, 1, 8, af.f) != 8) {
        tdi_atomic_abort(&af);
        return tdi_err_set(err, TDI_EIO, "%s: write failed", path);
    }
    return tdi_atomic_commit(&af, err);
}

int tdi_clf_load(const char *path, size_t max_batch, tdi_clf **out, uint64_t *config_hash,
                 tdi_err *err)
{
    *out = NULL;
    char *buf = NULL;
    size_t size = 0;
    int rc = tdi_file_read_all(path, &buf, &size, err);
    if (rc)
        return rc;
    const unsigned char *u = (const unsigned char *)buf;
    tdi_clf_arch a = {0, 0, 0, 0};
    uint64_t n = 0;
    if (size < CLF_HDR + 8 || memcmp(u, CLF_MAGIC, 8) != 0) {
        rc = tdi_err_set(err, TDI_EFORMAT, "%s: not a tdi classifier checkpoint (magic %s)",
                         path, CLF_MAGIC);
    } else if (tdi_unet_get32(u + 8) != CLF_VERSION) {
        rc = tdi_err_set(err, TDI_EFORMAT, "%s: version %u, this build reads %u", path,
                         tdi_unet_get32(u + 8), CLF_VERSION);
    } else {
        a = (tdi_clf_arch){tdi_unet_get32(u + 12), tdi_unet_get32(u + 16),
                           tdi_unet_get32(u + 20), tdi_unet_get32(u + 24)};
        n = tdi_unet_get64(u + 28);
        if (n > (SIZE_MAX - CLF_HDR - 8) / sizeof(float) ||
            size != CLF_HDR + n * sizeof(float) + 8)
            rc = tdi_err_set(err, TDI_EFORMAT, "%s: %zu bytes, the header promises %llu "
                             "parameters (truncated?)", path, size, (unsigned long long)n);
        else if (tdi_hash_bytes(TDI_HASH_INIT, u, size - 8) != tdi_unet_get64(u + size - 8))
            rc = tdi_err_set(err, TDI_EFORMAT, "%s: checksum mismatch (corrupt file)", path);
    }
    tdi_clf *m = NULL;
    if (!rc && !(rc = tdi_clf_alloc(&m, a, max_batch, err))) {
        if (m->n_params != n)
            rc = tdi_err_set(err, TDI_EFORMAT, "%s: %llu parameters, the architecture has %zu",
                             path, (unsigned long long)n, m->n_params);
        else
            memcpy(m->params, u + CLF_HDR, n * sizeof(float));
    }
    if (!rc && config_hash)
        *config_hash = tdi_unet_get64(u + 36);
    free(buf);
    if (rc)
        tdi_clf_free(m);
    else
        *out = m;
    return rc;
}
