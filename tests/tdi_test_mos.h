/* tdi_test_mos: the set-up the transistor-level tests share (header-only, like tdi_test.h): a
 * generator circuit's cosim netlist as a spice-engine circuit with its device list, a run of it
 * with the devices' noise only (the units' thermal noise off) and a zero bias, and a PDK-style
 * library of subcircuit devices around the shipped card (mos_prefix x). Non-goal: the checks
 * (each test keeps its own) and the engine itself (cosim/tdi_cosim_spice*.c). */
#ifndef TDI_TEST_MOS_H
#define TDI_TEST_MOS_H

#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

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

/* The subcircuits a wrapper library holds (tdi_test_mos_wrapper). */
typedef enum {
    TDI_TEST_WRAP_ONE,     /* one MOSFET each, as sky130 ships its devices */
    TDI_TEST_WRAP_DELVTO,  /* the same, tdi_nfet's MOSFET with delvto = 1 mV (another device) */
    TDI_TEST_WRAP_NONE,    /* tdi_nfet holds a resistor and no MOSFET */
    TDI_TEST_WRAP_TWO,     /* tdi_nfet holds two MOSFETs in parallel (W/2 each) */
    TDI_TEST_WRAP_NESTED   /* tdi_nfet's MOSFET one subcircuit deeper (xcore: mcore) */
} tdi_test_wrap;

/* path: a PDK-style library (as sky130's: a .subckt with w, l parameters around an M card) of
 * subcircuits tdi_nfet (MOSFET "mmain") and tdi_pfet ("mpdk_p") around card's tdi_nmos and
 * tdi_pmos; card relative to the working directory (its absolute path is written). 0 or -1. */
static inline int tdi_test_mos_wrapper(const char *path, const char *card, tdi_test_wrap kind)
{
    char cwd[512];
    FILE *f = getcwd(cwd, sizeof cwd) ? fopen(path, "w") : NULL;
    if (!f)
        return -1;
    fprintf(f, "* tdi tests: PDK-style subcircuit devices around %s\n.include %s/%s\n", card,
            cwd, card);
    if (kind == TDI_TEST_WRAP_NESTED)
        fprintf(f, ".subckt tdi_core d g s b w=1e-6 l=1e-6\n"
                   "mcore d g s b tdi_nmos w={w} l={l}\n.ends\n");
    fprintf(f, ".subckt tdi_nfet d g s b w=1e-6 l=1e-6\n");
    if (kind == TDI_TEST_WRAP_NESTED)
        fprintf(f, "xcore d g s b tdi_core w={w} l={l}\n");
    else if (kind == TDI_TEST_WRAP_NONE)
        fprintf(f, "rmain d s 1e6\n");
    else if (kind == TDI_TEST_WRAP_TWO)
        fprintf(f, "mmain d g s b tdi_nmos w={w/2} l={l}\nmside d g s b tdi_nmos w={w/2} l={l}\n");
    else
        fprintf(f, "mmain d g s b tdi_nmos w={w} l={l}%s\n",
                kind == TDI_TEST_WRAP_DELVTO ? " delvto=1e-3" : "");
    fprintf(f, ".ends\n.subckt tdi_pfet d g s b w=1e-6 l=1e-6\n"
               "mpdk_p d g s b tdi_pmos w={w} l={l}\n.ends\n");
    return fclose(f);
}

#endif
