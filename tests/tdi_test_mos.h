/* tdi_test_mos: the set-up the transistor-level tests share (header-only, like tdi_test.h): a
 * generator circuit's cosim netlist as a spice-engine circuit with its device list, and a run of
 * it with the devices' noise only (the units' thermal noise off) and a zero bias. Non-goal: the
 * checks (each test keeps its own) and the engine itself (cosim/tdi_cosim_spice*.c). */
#ifndef TDI_TEST_MOS_H
#define TDI_TEST_MOS_H

#include <stdint.h>
#include <stdio.h>

#include "tdi_cosim.h"
#include "tdi_gen.h"

/* The bias of every tick: zero for up to 64 units. */
static inline const double *tdi_test_mos_zero_bias(void *user, long k)
{
    static const double zero[64];
    (void)user;
    (void)k;
    return zero;
}

/* gc's cosim netlist at its noise tick over ticks ticks (*t) as a spice-engine circuit (*c):
 * unit i is gc's node i with "ibias_<node>" and "inoise_<node>", cap[i] = cap (F) and
 * G[i][i] = g (S), and the devices of gc. 0 or the error; the caller frees *t and *c (also on
 * error: either may be NULL). */
static inline int tdi_test_mos_circuit(const tdi_gen_circuit *gc, long ticks, double cap,
                                       double g, tdi_gen_text **t, tdi_cosim_circuit **c,
                                       tdi_err *err)
{
    double h = gc->phys.noise_dt;
    *t = NULL;
    *c = NULL;
    int rc = tdi_gen_netlist_text(gc, TDI_GEN_COSIM, h, h * (double)ticks, t, err);
    if (!rc && !(*c = tdi_cosim_circuit_alloc(gc->N, err)))
        rc = err->code;
    for (size_t i = 0; i < gc->N && !rc; i++) {
        char src[64], nz[64];
        snprintf(src, sizeof src, "ibias_%s", gc->nodes[i].name);
        snprintf(nz, sizeof nz, "inoise_%s", gc->nodes[i].name);
        rc = tdi_cosim_circuit_set_names(*c, i, gc->nodes[i].name, src, nz, err);
        (*c)->cap[i] = cap;
        (*c)->G[i * gc->N + i] = g;
    }
    rc = rc ? rc : tdi_cosim_circuit_set_lines(*c, (const char *const *)(*t)->lines, err);
    return rc ? rc : tdi_cosim_circuit_dev_from_gen(*c, gc, err);
}

/* Runs c (tick h, dg's ticks and callbacks) in the spice engine with the devices' noise only:
 * the units' noise off, the device-noise stream of seed from 1 / (ticks h) up. rc is the set-up's
 * code: nonzero skips the run and is returned. st receives the run's statistics. */
static inline int tdi_test_mos_devnoise_run(int rc, const tdi_cosim_circuit *c,
                                            const tdi_cosim_digital *dg, uint64_t seed,
                                            tdi_cosim_stats *st, tdi_err *err)
{
    double h = dg->tick;
    tdi_cosim_noise nz = {0};
    tdi_cosim_devnoise dn = {0};
    rc = rc ? rc : tdi_cosim_noise_init(&nz, c, h, 1, 0, err);
    rc = rc ? rc : tdi_cosim_devnoise_init(&dn, c->n_dev, c->dev_psd_w, c->dev_psd_f1, h,
                                           1.0 / ((double)dg->n_ticks * h), seed, err);
    nz.dev = &dn;
    rc = rc ? rc : tdi_cosim_spice_run(c, &nz, dg, st, err);
    tdi_cosim_devnoise_destroy(&dn);
    tdi_cosim_noise_destroy(&nz);
    return rc;
}

#endif
