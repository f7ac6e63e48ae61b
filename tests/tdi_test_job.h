/* tdi_test_job: the cosim tests' fixtures (header-only, like tdi_test.h): a synthetic bundle
 * under <root>/substrate and a config <root>.yaml that starts "seed: 3, name: t, out: <root>"
 * and continues with the caller's sections; a digital side that holds one bias vector and
 * records every tick. Non-goal: running the job (the tests do, each with its own checks). */
#ifndef TDI_TEST_JOB_H
#define TDI_TEST_JOB_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_cosim.h"
#include "tdi_io.h"
#include "tdi_test.h"

/* <root>/substrate from tdi_cosim_synth_bundle(D, k, n samples, seed, skip mode, no bias
 * bump); 0, or the error (its message printed). */
static inline int tdi_test_job_bundle(const char *root, size_t D, size_t k, size_t n,
                                      unsigned long seed, int skip, tdi_err *err)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/substrate", root);
    tdi_mkdirs(root, err);
    int rc = tdi_cosim_synth_bundle(dir, D, k, n, seed, skip, 0.0, err);
    if (rc)
        printf("  %s\n", err->msg);
    return rc;
}

/* Writes <root>.yaml (the fixed top-level keys, then sections) and loads it into cfg; 0 or the
 * error. */
static inline int tdi_test_job_config(const char *root, const char *sections, tdi_cosim_cfg *cfg,
                                      tdi_err *err)
{
    /* static: cfg->path points at it after the return (tdi_cosim_cfg does not own its path) */
    static char path[600];
    char txt[2048];
    snprintf(path, sizeof path, "%s.yaml", root);
    snprintf(txt, sizeof txt, "seed: 3\nname: t\nout: %s\n%s", root, sections);
    int rc = tdi_atomic_write_text(path, txt, err);
    return rc ? rc : tdi_cosim_cfg_load(path, cfg, err);
}

/* The whole job of <root>.yaml (config as tdi_test_job_config, then tdi_cosim_app_run), one
 * check named name; the text of <root>/cosim/results.json (caller frees), or NULL when the check
 * failed or the file is missing. */
static inline char *tdi_test_job_run(const char *root, const char *sections, const char *name,
                                     tdi_err *err)
{
    tdi_cosim_cfg cfg;
    int rc = tdi_test_job_config(root, sections, &cfg, err);
    if (!rc)
        rc = tdi_cosim_app_run(&cfg, NULL, err);
    if (!tdi_check_ok(rc, err, name))
        return NULL;
    char path[600];
    snprintf(path, sizeof path, "%s/cosim/results.json", root);
    return tdi_test_slurp(path);
}

/* A paper-mode synthetic bundle (D, k, n samples, seed) under root, then tdi_test_job_run. */
static inline char *tdi_test_job_paper(const char *root, size_t D, size_t k, size_t n,
                                       unsigned long seed, const char *sections,
                                       const char *name, tdi_err *err)
{
    char lab[128];
    snprintf(lab, sizeof lab, "synthetic bundle (D %zu, k %zu, %zu samples)", D, k, n);
    if (!TDI_CHECK(tdi_test_job_bundle(root, D, k, n, seed, 0, err) == 0, lab))
        return NULL;
    return tdi_test_job_run(root, sections, name, err);
}

/* The read-out block of a job's results.json (V): the predicted rms error of a sample mean and
 * each engine's rms against analytic. Checks both engines within [0.5, 1.5] x predicted: the
 * caller states why that band holds for its sample counts (a rms over n Gaussian errors has
 * relative std ~ 1 / sqrt(2 n)). */
typedef struct { double pred, sde, spice; } tdi_test_readout;

static inline tdi_test_readout tdi_test_job_readout(const char *js, const char *what)
{
    tdi_test_readout r = {tdi_test_json_num(js, "readout.predicted_rms_V"),
                          tdi_test_json_num(js, "readout.sde_rms_vs_analytic_V"),
                          tdi_test_json_num(js, "readout.spice_rms_vs_analytic_V")};
    char lab[160];
    snprintf(lab, sizeof lab, "%s: sde read-out error within [0.5, 1.5] of the prediction", what);
    TDI_CHECK(r.sde > 0.5 * r.pred && r.sde < 1.5 * r.pred, lab);
    snprintf(lab, sizeof lab, "%s: spice read-out error within [0.5, 1.5] of the prediction",
             what);
    TDI_CHECK(r.spice > 0.5 * r.pred && r.spice < 1.5 * r.pred, lab);
    return r;
}

/* A digital side that holds one bias vector and records the unit voltages of every tick. */
typedef struct tdi_test_rec {
    size_t n;
    const double *bias; /* (n) A */
    double *v;          /* (n_ticks + 1, n) V; calloc'd by tdi_test_rec_init, caller frees */
    long n_ticks, last; /* last: the last tick seen */
    int order_ok;       /* 1 while ticks came as 0, 1, 2, ... */
} tdi_test_rec;

static inline void tdi_test_rec_init(tdi_test_rec *r, size_t n, long n_ticks,
                                     const double *bias)
{
    r->n = n;
    r->bias = bias;
    r->n_ticks = n_ticks;
    r->last = -1;
    r->order_ok = 1;
    r->v = calloc((size_t)(n_ticks + 1) * n, sizeof(double));
}

static inline const double *tdi_test_rec_bias(void *u, long k)
{
    (void)k;
    return ((tdi_test_rec *)u)->bias;
}

static inline int tdi_test_rec_tick(void *u, long k, double t, const double *v, const double *ib)
{
    tdi_test_rec *r = u;
    (void)t;
    (void)ib;
    if (k != r->last + 1 || k > r->n_ticks)
        r->order_ok = 0;
    r->last = k;
    if (k >= 0 && k <= r->n_ticks)
        memcpy(r->v + (size_t)k * r->n, v, sizeof(double) * r->n);
    return 0;
}

#endif
