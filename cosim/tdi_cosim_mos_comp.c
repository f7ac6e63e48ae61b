/* tdi_cosim_mos_comp: the measurement half of the self-term compensation (circuit.mos_self_comp,
 * docs/devices.md "Self-term compensation"): one ngspice op per pass gives each node's OTA load
 * (tdi_cosim_linear_loads), which the generator applies (tdi_gen_mos_comp_apply). Invariant:
 * each pass measures the circuit as last rebuilt and replaces (not adds to) the load. Non-goal:
 * the compensation rule itself (generator/tdi_gen_mos_comp.c). */
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
