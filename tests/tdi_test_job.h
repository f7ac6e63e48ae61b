/* tdi_test_job: the cosim tests' job fixture (header-only, like tdi_test.h): a synthetic bundle
 * under <root>/substrate and a config <root>.yaml that starts "seed: 3, name: t, out: <root>"
 * and continues with the caller's sections. Non-goal: running the job (the tests do, each with
 * its own entry point and checks). */
#ifndef TDI_TEST_JOB_H
#define TDI_TEST_JOB_H

#include <stdio.h>

#include "tdi_cosim.h"
#include "tdi_io.h"

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
    char path[600], txt[2048];
    snprintf(path, sizeof path, "%s.yaml", root);
    snprintf(txt, sizeof txt, "seed: 3\nname: t\nout: %s\n%s", root, sections);
    int rc = tdi_atomic_write_text(path, txt, err);
    return rc ? rc : tdi_cosim_cfg_load(path, cfg, err);
}

#endif
