/* tdi_cosim_mosop: every MOSFET's operating point at rest (gm, gds, id, vth as ngspice's BSIM
 * model computes them) for the device-noise sizing and the reports. The rest is the hold
 * netlist's op: every unit held at vcm, the OTAs at their design bias. Invariant: values in the
 * order of c->dev[]. Non-goal: PDK subcircuit devices (mos_prefix x: their inner instance name
 * is the PDK's). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_cosim.h"
#include "tdi_gen.h"

/* "@<dev>[<param>]" of the last op into *v. */
static int dev_param(const tdi_gen_dev *d, const char *param, double *v, tdi_err *err)
{
    char vec[128], nm[96];
    snprintf(vec, sizeof vec, "@%s[%s]", tdi_gen_dev_spice(d, 0, nm, sizeof nm), param);
    return tdi_cosim_ng_real(vec, v, err);
}

int tdi_cosim_mos_op_full(const tdi_gen_circuit *c, double *gm, double *gds, double *id,
                          double *vth, tdi_err *err)
{
    if (!c || !c->phys.mos || !c->dev || !c->n_dev)
        return tdi_err_set(err, TDI_EARG, "mos op: the circuit has no devices (devices: mos)");
    if (c->dev[0].name[0] != 'm')
        return tdi_err_set(err, TDI_EARG, "mos op: device '%s' is not a MOSFET instance "
                           "(mos_prefix: x devices are PDK subcircuits)", c->dev[0].name);
    tdi_gen_text *t = NULL;
    int rc = tdi_gen_netlist_text(c, TDI_GEN_HOLD, 0, 0, &t, err);
    if (!rc)
        rc = tdi_cosim_ng_load(t, err);
    if (!rc && (rc = tdi_cosim_ng_cmd("op", err)))
        tdi_err_prefix(err, "op at rest");
    for (size_t k = 0; !rc && k < c->n_dev; k++) {
        const tdi_gen_dev *d = &c->dev[k];
        double dummy;
        rc = dev_param(d, "gm", gm ? &gm[k] : &dummy, err);
        if (!rc)
            rc = dev_param(d, "gds", gds ? &gds[k] : &dummy, err);
        if (!rc)
            rc = dev_param(d, "id", id ? &id[k] : &dummy, err);
        if (!rc && vth)
            rc = dev_param(d, "vth", &vth[k], err);
    }
    tdi_cosim_ng_unload();
    tdi_gen_text_free(t);
    if (rc)
        tdi_err_prefix(err, "mos op");
    return rc;
}

int tdi_cosim_ng_dev_params(size_t n, const char *const *inst, size_t np,
                            const char *const *par, double *out, tdi_err *err)
{
    /* ngspice adds every "@dev[param]" it answers to the current plot as a temporary vector and
       rebuilds the plot's lookup table on the next read: O(plot) per read, and the plot grows
       by one per read. With the plots destroyed (the instances keep their op) and the
       temporaries collected (ngspice's vec_gc runs before every command) every 64 reads, a read
       is O(1): 13,248 reads at D = 16 took 32 s CPU before, the whole linearised route 0.5 s
       after. */
    int rc = tdi_cosim_ng_cmd("destroy all", err);
    size_t cnt = 0;
    for (size_t k = 0; k < n && !rc; k++)
        for (size_t q = 0; q < np && !rc; q++) {
            char vec[144];
            snprintf(vec, sizeof vec, "@%s[%s]", inst[k], par[q]);
            rc = tdi_cosim_ng_real(vec, &out[np * k + q], err);
            if (!rc && ++cnt % 64 == 0)
                rc = tdi_cosim_ng_cmd("unset tdi_gc", err);
        }
    return rc ? tdi_err_prefix(err, "device parameters at the op") : 0;
}

int tdi_cosim_mos_params(const tdi_gen_circuit *c, size_t np, const char *const *par,
                         double *out, tdi_err *err)
{
    const char **inst = malloc((c->n_dev ? c->n_dev : 1) * sizeof *inst);
    char (*nm)[96] = malloc((c->n_dev ? c->n_dev : 1) * sizeof *nm); /* hierarchy: m.<inst>.<> */
    if (!inst || !nm) {
        free(inst);
        free(nm);
        return tdi_err_set(err, TDI_ENOMEM, "device parameters: out of memory");
    }
    for (size_t k = 0; k < c->n_dev; k++)
        inst[k] = tdi_gen_dev_spice(&c->dev[k], 0, nm[k], sizeof nm[k]);
    int rc = tdi_cosim_ng_dev_params(c->n_dev, inst, np, par, out, err);
    free(inst);
    free(nm);
    return rc;
}

int tdi_cosim_mos_ss_read(const tdi_gen_circuit *c, double *ss, tdi_err *err)
{
    static const char *const par[3] = {"gm", "gds", "gmbs"};
    return tdi_cosim_mos_params(c, 3, par, ss, err);
}

int tdi_cosim_mos_op(const tdi_gen_circuit *c, double *gm, double *gds, double *id, tdi_err *err)
{
    return tdi_cosim_mos_op_full(c, gm, gds, id, NULL, err);
}
