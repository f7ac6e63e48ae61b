/* tdi_cosim_mosop: every MOSFET's operating point at rest (gm, gds, id, vth as ngspice's BSIM
 * model computes them) for the device-noise sizing and the reports. The rest is the hold
 * netlist's op: every unit held at vcm, the OTAs at their design bias. Invariant: values in the
 * order of c->dev[]; every device read through its MOSFET's name (tdi_cosim_mos_names: M
 * devices and PDK subcircuit devices, flat and hierarchical). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_cosim.h"
#include "tdi_gen.h"

/* column q of v (n, np) into out (n), when out is not NULL */
static void op_column(const double *v, size_t n, size_t np, size_t q, double *out)
{
    for (size_t k = 0; out && k < n; k++)
        out[k] = v[np * k + q];
}

int tdi_cosim_mos_op_full(const tdi_gen_circuit *c, double *gm, double *gds, double *id,
                          double *vth, tdi_err *err)
{
    static const char *const par[4] = {"gm", "gds", "id", "vth"};
    tdi_cosim_mos_names nm; /* x devices: the probe runs here, before the hold deck loads */
    int rc = tdi_cosim_mos_names_init(&nm, c, err);
    tdi_gen_text *t = NULL;
    double *v = rc ? NULL : malloc(4 * c->n_dev * sizeof *v);
    if (!rc && !v)
        rc = tdi_err_set(err, TDI_ENOMEM, "out of memory");
    if (!rc)
        rc = tdi_gen_netlist_text(c, TDI_GEN_HOLD, 0, 0, &t, err);
    if (!rc)
        rc = tdi_cosim_ng_load(t, err);
    if (!rc && (rc = tdi_cosim_ng_cmd("op", err)))
        tdi_err_prefix(err, "op at rest");
    if (!rc)
        rc = tdi_cosim_mos_params(&nm, vth ? 4 : 3, par, v, err);
    if (!rc) {
        size_t np = vth ? 4 : 3;
        op_column(v, c->n_dev, np, 0, gm);
        op_column(v, c->n_dev, np, 1, gds);
        op_column(v, c->n_dev, np, 2, id);
        op_column(v, c->n_dev, np, 3, vth); /* np = 4 when vth is wanted */
    }
    tdi_cosim_ng_unload();
    tdi_gen_text_free(t);
    tdi_cosim_mos_names_destroy(&nm);
    free(v);
    return rc ? tdi_err_prefix(err, "mos op") : 0;
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
            char vec[TDI_COSIM_MOS_NAME + 48];
            snprintf(vec, sizeof vec, "@%s[%s]", inst[k], par[q]);
            rc = tdi_cosim_ng_real(vec, &out[np * k + q], err);
            if (!rc && ++cnt % 64 == 0)
                rc = tdi_cosim_ng_cmd("unset tdi_gc", err);
        }
    return rc ? tdi_err_prefix(err, "device parameters at the op") : 0;
}

int tdi_cosim_mos_params(const tdi_cosim_mos_names *nm, size_t np, const char *const *par,
                         double *out, tdi_err *err)
{
    return tdi_cosim_ng_dev_params(nm->n, nm->name, np, par, out, err);
}

int tdi_cosim_mos_ss_read(const tdi_cosim_mos_names *nm, double *ss, tdi_err *err)
{
    static const char *const par[3] = {"gm", "gds", "gmbs"};
    return tdi_cosim_mos_params(nm, 3, par, ss, err);
}

int tdi_cosim_mos_op(const tdi_gen_circuit *c, double *gm, double *gds, double *id, tdi_err *err)
{
    return tdi_cosim_mos_op_full(c, gm, gds, id, NULL, err);
}
