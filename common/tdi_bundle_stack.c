/* tdi_bundle_stack: one substrate from several U-Net levels. Each level is a two-module bundle
 * (an encoder module, its read-out decoder, at most one coupling between them); the stack holds
 * every level's modules in one z: the encoders first, then the decoders (so the read-out modules
 * form one block, docs/substrate-bundle.md "Several levels"), the couplings per level, M
 * block-diagonal across levels (levels are not coupled to each other). Non-goals: fitting a
 * level (tools/substrate), coupling levels to each other. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_bundle.h"
#include "tdi_io.h"

/* a level: two modules of equal size, the second read out, at most one coupling 0 -> 1 */
static int level_ok(const tdi_bundle *b, size_t l, size_t n, tdi_err *err)
{
    const tdi_bundle_coupling *cp = &b->cpl[0];
    if (b->n_mod != 2 || b->out != 1 || b->mod[0].D != b->mod[1].D || b->n_cpl > 1 ||
        (b->n_cpl == 1 && (cp->from != 0 || cp->to != 1)))
        return tdi_err_set(err, TDI_EARG, "stack: level %zu (%s): %zu modules, %zu couplings: a "
                           "level is two modules of equal size, the second read out, and at "
                           "most one coupling from the first to the second", l, b->dir,
                           b->n_mod, b->n_cpl);
    if (b->n != n)
        return tdi_err_set(err, TDI_EARG, "stack: level %zu (%s) has %zu test samples, level 0 "
                           "has %zu", l, b->dir, b->n, n);
    if (b->iface[0])
        return tdi_err_set(err, TDI_EARG, "stack: level %zu (%s) has paper interface networks: "
                           "only skip and synthetic levels stack", l, b->dir);
    return 0;
}

static double *dup(const double *p, size_t n, int *fail)
{
    if (!p)
        return NULL;
    double *q = malloc((n ? n : 1) * sizeof *q);
    if (!q)
        *fail = 1;
    else
        memcpy(q, p, n * sizeof *q);
    return q;
}

/* columns [c0, c0 + w) of dst (rows x ld) from src (rows x w) */
static void put_cols(double *dst, size_t ld, size_t c0, const double *src, size_t rows, size_t w)
{
    for (size_t r = 0; r < rows; r++)
        memcpy(dst + r * ld + c0, src + r * w, w * sizeof *dst);
}

/* the modules and couplings (arrays copied), layout checked */
static int stack_modules(const tdi_bundle *lv, size_t L, const char *const *names, tdi_bundle *o,
                         int *fail, tdi_err *err)
{
    o->n_mod = 2 * L;
    o->n_cpl = 0;
    for (size_t l = 0; l < L; l++)
        for (size_t s = 0; s < 2; s++) {
            const tdi_bundle_module *src = &lv[l].mod[s];
            tdi_bundle_module *md = &o->mod[s * L + l];
            size_t D = src->D;
            snprintf(md->name, sizeof md->name, "%s", names[2 * l + s]);
            snprintf(md->layer, sizeof md->layer, "%s", src->layer);
            md->D = D;
            md->readout = (int)s;
            md->J = dup(src->J, D * D, fail);
            md->A = dup(src->A, D * D, fail);
            md->bias = dup(src->bias, lv[l].n * D, fail);
        }
    for (size_t l = 0; l < L; l++) {
        if (lv[l].n_cpl == 0)
            continue;
        const tdi_bundle_coupling *src = &lv[l].cpl[0];
        size_t D = lv[l].mod[0].D;
        tdi_bundle_coupling *cp = &o->cpl[o->n_cpl++];
        *cp = (tdi_bundle_coupling){l, L + l, src->dense, src->k, NULL, NULL, NULL};
        cp->P = dup(src->P, D * src->k, fail);
        cp->Q = dup(src->Q, D * src->k, fail);
        cp->S = dup(src->S, D * D, fail);
    }
    return tdi_bundle_layout(o, "stack", err);
}

/* M: each level's M blocks at its modules' offsets, zero between levels */
static void stack_M(const tdi_bundle *lv, size_t L, tdi_bundle *o)
{
    size_t N = o->N;
    memset(o->M, 0, N * N * sizeof *o->M);
    for (size_t l = 0; l < L; l++) {
        size_t D = lv[l].mod[0].D, off[2] = {o->mod[l].off, o->mod[L + l].off};
        for (size_t a = 0; a < 2; a++)
            for (size_t c = 0; c < 2; c++)
                for (size_t i = 0; i < D; i++)
                    memcpy(o->M + (off[a] + i) * N + off[c],
                           lv[l].M + (a * D + i) * (2 * D) + c * D, D * sizeof *o->M);
    }
}

/* the read-out arrays (c, analytic, truth, mean_fit, gain) and x, concatenated by level */
static void stack_data(const tdi_bundle *lv, size_t L, tdi_bundle *o)
{
    size_t n = o->n, Do = o->D_out, c0 = 0, x0 = 0;
    for (size_t l = 0; l < L; l++) {
        size_t D = lv[l].mod[1].D;
        memcpy(o->c + c0, lv[l].c, D * sizeof *o->c);
        if (o->analytic)
            put_cols(o->analytic, Do, c0, lv[l].analytic, n, D);
        if (o->x) {
            put_cols(o->truth, Do, c0, lv[l].truth, n, D);
            memcpy(o->mean_fit + c0, lv[l].mean_fit, D * sizeof *o->mean_fit);
            memcpy(o->gain + c0, lv[l].gain, D * sizeof *o->gain);
            put_cols(o->x, o->x_cols, x0, lv[l].x, n, lv[l].x_cols);
            x0 += lv[l].x_cols;
        }
        c0 += D;
    }
}

/* preset, mode and metadata: level 0's, extremes of lambda, the hashes over the levels' */
static void stack_meta(const tdi_bundle *lv, size_t L, const char *preset, tdi_bundle *o)
{
    snprintf(o->preset, sizeof o->preset, "%s", preset);
    snprintf(o->mode, sizeof o->mode, "%s", lv[0].mode);
    o->J2 = lv[0].J2;
    o->kT = lv[0].kT;
    o->t = lv[0].t;
    o->seed = L == 1 ? lv[0].seed : -1;
    o->intra_rank = L == 1 ? lv[0].intra_rank : -1;
    uint64_t hf = TDI_HASH_INIT, ht = TDI_HASH_INIT;
    o->lambda_min = lv[0].lambda_min;
    o->lambda_max = lv[0].lambda_max;
    for (size_t l = 0; l < L; l++) {
        hf = tdi_hash_bytes(hf, lv[l].fit_hash, strlen(lv[l].fit_hash));
        ht = tdi_hash_bytes(ht, lv[l].test_hash, strlen(lv[l].test_hash));
        if (lv[l].lambda_min < o->lambda_min)
            o->lambda_min = lv[l].lambda_min;
        if (lv[l].lambda_max > o->lambda_max)
            o->lambda_max = lv[l].lambda_max;
    }
    tdi_hash_hex(hf, o->fit_hash);
    tdi_hash_hex(ht, o->test_hash);
}

int tdi_bundle_stack(const tdi_bundle *lv, size_t L, const char *const *names, const char *preset,
                     tdi_bundle *o, tdi_err *err)
{
    memset(o, 0, sizeof *o);
    if (L < 1 || 2 * L > TDI_BUNDLE_MAX_MOD)
        return tdi_err_set(err, TDI_EARG, "stack: %zu levels (1..%d)", L, TDI_BUNDLE_MAX_MOD / 2);
    int rc = 0, fail = 0, data = lv[0].x != NULL, an = lv[0].analytic != NULL;
    size_t xc = 0;
    for (size_t l = 0; l < L && !rc; l++) {
        rc = level_ok(&lv[l], l, lv[0].n, err);
        if (!rc && ((lv[l].x != NULL) != data || (lv[l].analytic != NULL) != an))
            rc = tdi_err_set(err, TDI_EARG, "stack: level %zu (%s): every level or none must "
                             "carry the co-simulator data and analytic.npy", l, lv[l].dir);
        xc += lv[l].x_cols;
    }
    o->n = lv[0].n;
    if (rc || (rc = stack_modules(lv, L, names, o, &fail, err)))
        goto done;
    size_t n = o->n, Do = o->D_out;
    o->M = malloc(o->N * o->N * sizeof *o->M);
    o->c = malloc(Do * sizeof *o->c);
    o->analytic = an ? malloc((n ? n : 1) * Do * sizeof *o->analytic) : NULL;
    if (data) {
        o->x_cols = xc;
        o->x = malloc((n ? n : 1) * xc * sizeof *o->x);
        o->truth = malloc((n ? n : 1) * Do * sizeof *o->truth);
        o->mean_fit = malloc(Do * sizeof *o->mean_fit);
        o->gain = malloc(Do * sizeof *o->gain);
        fail |= !o->x || !o->truth || !o->mean_fit || !o->gain;
    }
    if (fail || !o->M || !o->c || (an && !o->analytic)) {
        rc = tdi_err_set(err, TDI_ENOMEM, "stack: out of memory");
        goto done;
    }
    stack_M(lv, L, o);
    stack_data(lv, L, o);
    stack_meta(lv, L, preset, o);
    o->version = TDI_BUNDLE_VERSION;
done:
    if (rc)
        tdi_bundle_destroy(o);
    return rc;
}
