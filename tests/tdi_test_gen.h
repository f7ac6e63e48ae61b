/* tdi_test_gen: fixtures of the generator and bundle tests (header-only, like tdi_test.h): a
 * netlist text joined into one string, and a float64 .npy written under a directory.
 * Non-goal: checking what they produce (the tests do). */
#ifndef TDI_TEST_GEN_H
#define TDI_TEST_GEN_H

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
