/* tdi_gen_mos_hier: the transistor-level hierarchy (circuit.hier with devices: mos;
 * docs/devices.md "Hierarchy"): which subcircuit instance holds each device, and the names
 * ngspice gives a device and its noise source there. Invariant: a device sits where its OTA's
 * element sits (tdi_gen_hier_instance, the emitter's rule), so the text and the names agree.
 * Non-goals: writing the subcircuits (tdi_gen_emit.c), the MOSFET inside a PDK subcircuit
 * device (mos_prefix x; its name comes from ngspice: cosim/tdi_cosim_mosname.c). */
#include <stdio.h>
#include <string.h>

#include "tdi_gen_int.h"

void tdi_gen_mos_hier_assign(tdi_gen_circuit *c)
{
    for (size_t k = 0; k < c->n_ota; k++) {
        char inst[sizeof c->dev[0].inst];
        tdi_gen_hier_instance(c, &c->elems[c->ota[k].elem], inst, sizeof inst);
        for (size_t q = 6 * k; q < 6 * k + 6 && q < c->n_dev; q++)
            memcpy(c->dev[q].inst, inst, sizeof inst);
    }
}

const char *tdi_gen_dev_spice(const tdi_gen_dev *d, int src, char *buf, size_t n)
{
    if (!d->inst[0])
        snprintf(buf, n, "%s%s", src ? "in" : "", d->name);
    else if (src)
        snprintf(buf, n, "i.%s.in%s", d->inst, d->name);
    else
        snprintf(buf, n, "%c.%s.%s", d->name[0], d->inst, d->name);
    return buf;
}
