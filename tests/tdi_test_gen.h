/* tdi_test_gen: fixtures of the generator and bundle tests (header-only, like tdi_test.h): a
 * netlist text joined into one string, a circuit's netlist as that string, the read-back's
 * error against s gu M, and a float64 .npy written under a directory.
 * Non-goal: checking what they produce (the tests do). */
#ifndef TDI_TEST_GEN_H
#define TDI_TEST_GEN_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_gen.h"
#include "tdi_npy.h"

/* The lines of t, each followed by '\n', in one NUL-terminated string (caller frees). */
static inline char *tdi_test_gen_join(const tdi_gen_text *t)
{
    size_t n = 1;
    for (size_t i = 0; i < t->n_lines; i++)
        n += strlen(t->lines[i]) + 1;
    char *s = malloc(n), *p = s;
    for (size_t i = 0; i < t->n_lines; i++) {
        size_t l = strlen(t->lines[i]);
        memcpy(p, t->lines[i], l);
        p[l] = '\n';
        p += l + 1;
    }
    *p = '\0';
    return s;
}

/* The netlist of c in mode (the default tick and stop) joined into one string (caller frees),
 * or NULL with *e set (e may be NULL). */
static inline char *tdi_test_gen_text(const tdi_gen_circuit *c, tdi_gen_mode mode, tdi_err *e)
{
    tdi_gen_text *t = NULL;
    tdi_err local;
    if (tdi_gen_netlist_text(c, mode, 0, 0, &t, e ? e : &local))
        return NULL;
    char *s = tdi_test_gen_join(t);
    tdi_gen_text_free(t);
    return s;
}

/* max |K - s gu M| / max |s gu M| over c's N x N substrate block; K has row stride ldk. */
static inline double tdi_test_gen_rel_err(const tdi_gen_circuit *c, const double *K, size_t ldk,
                                          double s)
{
    double mx = 0, d = 0;
    for (size_t i = 0; i < c->N; i++)
        for (size_t j = 0; j < c->N; j++) {
            double w = s * c->phys.gu * c->M[i * c->N + j];
            mx = fmax(mx, fabs(w));
            d = fmax(d, fabs(K[i * ldk + j] - w));
        }
    return d / mx;
}

/* text read back with c's module prefixes: its relative error against s gu M
 * (tdi_test_gen_rel_err), or INFINITY (a parse error in *e, or fewer than N units). */
static inline double tdi_test_gen_readback_err(const tdi_gen_circuit *c, const char *text,
                                               double s, tdi_err *e)
{
    const char *pre[TDI_BUNDLE_MAX_MOD];
    for (size_t m = 0; m < c->n_mod; m++)
        pre[m] = c->mod[m].prefix;
    tdi_gen_readback rb;
    if (tdi_gen_readback_parse_modules(text, pre, c->n_mod, c->out, &rb, e))
        return INFINITY;
    double r = rb.N >= c->N ? tdi_test_gen_rel_err(c, rb.K, rb.N, s) : INFINITY;
    tdi_gen_readback_destroy(&rb);
    return r;
}

/* <dir>/<name>: x as float64, shape (r, c), or (r) when c is 0; tdi_npy_write's result. */
static inline int tdi_test_wnpy(const char *dir, const char *name, size_t r, size_t c,
                                const double *x)
{
    char p[512];
    tdi_err e;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    size_t sh[2] = {r, c};
    return tdi_npy_write(p, TDI_NPY_F64, c ? 2 : 1, sh, x, &e);
}

/* Config text + bundle directory -> built circuit (NULL with *e set on error; the bundle is
 * destroyed then). cfg (may be NULL) receives the loaded config. Caller frees the circuit, then
 * destroys b. */
static inline tdi_gen_circuit *tdi_test_gen_build(const char *cfgtext, const char *bdir,
                                                  tdi_gen_bundle *b, tdi_gen_config *cfg,
                                                  tdi_err *e)
{
    tdi_gen_config local;
    if (!cfg)
        cfg = &local;
    tdi_gen_config_init(cfg);
    if (tdi_gen_config_load_string("test.yaml", cfgtext, cfg, e))
        return NULL;
    if (tdi_gen_bundle_read(bdir, b, e))
        return NULL;
    tdi_gen_circuit *c = NULL;
    if (tdi_gen_circuit_build(cfg, b, &c, e)) {
        tdi_gen_bundle_destroy(b);
        return NULL;
    }
    return c;
}

#endif
