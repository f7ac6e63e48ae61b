/* tdi_cosim_mos_comp: the measurement half of the transistor-level calibrations: the self-term
 * compensation (circuit.mos_self_comp, docs/devices.md "Self-term compensation"): one ngspice op
 * per pass gives each node's OTA load (tdi_cosim_linear_loads), which the generator applies
 * (tdi_gen_mos_comp_apply); the offset trim (circuit.mos_trim, "Offset trim"): one op of the hold
 * netlist per pass gives each unit's rest current, which the generator cancels
 * (tdi_gen_mos_trim_apply). Invariant: each pass measures the circuit as last rebuilt; the trim
 * is measured after the compensation (which rebuilds the devices). Non-goal: the rules
 * themselves (generator/tdi_gen_mos_comp.c, generator/tdi_gen_mos_trim.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_cosim.h"
#include "tdi_gen.h"

int tdi_cosim_mos_self_comp(tdi_gen_circuit *c, tdi_err *err)
{
    if (!c || !c->phys.mos || !c->mos_cfg || !c->mos_cfg->mos_self_comp)
        return 0;
    double *load = malloc((c->n_nodes ? c->n_nodes : 1) * sizeof *load);
    if (!load)
        return tdi_err_set(err, TDI_ENOMEM, "self-term compensation: out of memory");
    int rc = 0;
    for (int p = 0; p < c->mos_cfg->mos_self_comp_passes && !rc; p++) {
        rc = tdi_cosim_linear_loads(c, load, err);
        if (!rc)
            rc = tdi_gen_mos_comp_apply(c, load, err);
    }
    free(load);
    return rc ? tdi_err_prefix(err, "circuit.mos_self_comp") : 0;
}

/* One op of the hold netlist (every unit at V_cm): i_rest (N) A, each i(vh<unit>), the current
 * the circuit (its trim included) drives into the held unit node. */
static int trim_measure(const tdi_gen_circuit *c, double *i_rest, tdi_err *err)
{
    tdi_gen_text *t = NULL;
    int rc = tdi_gen_netlist_text(c, TDI_GEN_HOLD, 0, 0, &t, err);
    rc = rc ? rc : tdi_cosim_ng_load(t, err);
    rc = rc ? rc : tdi_cosim_hold_save(c, err);
    if (!rc && (rc = tdi_cosim_ng_cmd("op", err)))
        tdi_err_prefix(err, "op at rest (every unit held at V_cm)");
    rc = rc ? rc : tdi_cosim_hold_currents(c, i_rest, err);
    tdi_cosim_ng_unload();
    tdi_gen_text_free(t);
    return rc;
}

int tdi_cosim_mos_trim(tdi_gen_circuit *c, tdi_err *err)
{
    if (!c || !c->phys.mos || !c->mos_cfg || !tdi_gen_mos_trim_on(c->mos_cfg))
        return 0;
    double *ir = malloc((c->N ? c->N : 1) * sizeof *ir);
    if (!ir)
        return tdi_err_set(err, TDI_ENOMEM, "offset trim: out of memory");
    int rc = 0;
    for (int p = 0; p < c->mos_cfg->mos_trim_passes && !rc; p++) {
        rc = trim_measure(c, ir, err);
        if (!rc)
            rc = tdi_gen_mos_trim_apply(c, ir, err);
    }
    free(ir);
    return rc ? tdi_err_prefix(err, "circuit.mos_trim") : 0;
}

int tdi_cosim_mos_calibrate(tdi_gen_circuit *c, tdi_err *err)
{
    int rc = tdi_cosim_mos_self_comp(c, err);
    return rc ? rc : tdi_cosim_mos_trim(c, err);
}
