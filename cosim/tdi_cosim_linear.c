/* tdi_cosim_linear: the realised conductance matrix from ONE operating point (docs/cosim.md
 * "Linearised route"): the hold netlist's op at rest, every MOSFET's gm, gds, gmbs read there,
 * each OTA's small-signal model (pair, mirror, tail, bias diode) reduced to its output row by
 * eliminating its three inner nodes, and the whole element list (resistors + linearised OTAs)
 * reduced over the bus nodes by the generator's own Schur reduction (tdi_gen_circuit_reduced),
 * as ngspice's op eliminates them in the perturbative route. Invariants: one op whatever N;
 * ideal elements give the element list's reduced matrix (= gu M) without ngspice; every device
 * read through its MOSFET's name (tdi_cosim_mos_names: M and PDK subcircuit devices, flat and
 * hierarchical). Non-goal: junction and gate-leakage conductances (pA at rest). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tdi_clock.h"
#include "tdi_cosim.h"
#include "tdi_gen.h"

#define LIN_NL 6 /* an OTA's local nodes: out, inp, inn (outer), tail, mirror, bias (inner) */
#define LIN_NO 3

/* "i(vh<unit>)" of unit i in lower case: ngspice's name of its hold source's current vector. */
static void hold_vec(const tdi_gen_circuit *c, size_t i, char *buf, size_t n)
{
    snprintf(buf, n, "i(vh%s)", c->nodes[i].name);
    for (char *p = buf; *p; p++)
        *p = (char)tolower((unsigned char)*p);
}

int tdi_cosim_hold_save(const tdi_gen_circuit *c, tdi_err *err)
{
    char cmd[1024];
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < c->N && !rc; i++) {
        char v[80];
        hold_vec(c, i, v, sizeof v);
        if (n == 0)
            n = (size_t)snprintf(cmd, sizeof cmd, "save");
        n += (size_t)snprintf(cmd + n, sizeof cmd - n, " %s", v);
        if (n > sizeof cmd - 100 || i + 1 == c->N) {
            rc = tdi_cosim_ng_cmd(cmd, err);
            n = 0;
        }
    }
    return rc;
}

int tdi_cosim_hold_currents(const tdi_gen_circuit *c, double *cur, tdi_err *err)
{
    int rc = 0;
    for (size_t i = 0; i < c->N && !rc; i++) {
        char v[80];
        hold_vec(c, i, v, sizeof v);
        rc = tdi_cosim_ng_real(v, &cur[i], err);
    }
    return rc;
}

/* The node index of name in c->nodes, -1 for the rails (vcm, vdd, 0) and not found. */
static int lin_node(const tdi_gen_circuit *c, const char *name)
{
    for (size_t i = 0; i < c->n_nodes; i++)
        if (strcmp(c->nodes[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* The local index (0..5) of a device terminal of OTA o (inner names ota<k>_t|d|b), -1 = rail. */
static int lin_local(const tdi_gen_ota *o, const char *node)
{
    if (strcmp(node, o->out) == 0)
        return 0;
    if (strcmp(node, o->inp) == 0)
        return 1;
    if (strcmp(node, o->inn) == 0)
        return 2;
    size_t n = strlen(o->name);
    if (strncmp(node, o->name, n) == 0 && node[n] == '_' && node[n + 2] == '\0')
        return node[n + 1] == 't' ? 3 : node[n + 1] == 'd' ? 4 : node[n + 1] == 'b' ? 5 : -1;
    return -1;
}

/* KCL stamps of one device: i_ds = gm v_gs + gds v_ds + gmbs v_bs (bulk on a rail: v_b = 0),
 * the current leaving the drain node into the device and entering the source node. The same
 * form for both types: ngspice reports positive gm, gds, gmbs for p devices too. */
static void lin_stamp_dev(double Y[LIN_NL][LIN_NL], int d, int g, int s, const double *ss)
{
    double gm = ss[0], gds = ss[1], gmb = ss[2];
    if (d >= 0) {
        if (g >= 0)
            Y[d][g] += gm;
        Y[d][d] += gds;
        if (s >= 0)
            Y[d][s] -= gm + gds + gmb;
    }
    if (s >= 0) {
        if (g >= 0)
            Y[s][g] -= gm;
        if (d >= 0)
            Y[s][d] -= gds;
        Y[s][s] += gm + gds + gmb;
    }
}

/* y_out (LIN_NO): the out row of the OTA's admittance after eliminating the inner nodes,
 * Y_oo - Y_oi Y_ii^-1 Y_io (Gaussian elimination with partial pivoting on the 3 x 3 block). */
static int lin_reduce_ota(double Y[LIN_NL][LIN_NL], double *y_out)
{
    for (int p = LIN_NO; p < LIN_NL; p++) {
        int piv = p;
        for (int r = p + 1; r < LIN_NL; r++)
            if (fabs(Y[r][p]) > fabs(Y[piv][p]))
                piv = r;
        if (!(fabs(Y[piv][p]) > 0))
            return -1;
        for (int q = 0; q < LIN_NL; q++) {
            double t = Y[p][q];
            Y[p][q] = Y[piv][q];
            Y[piv][q] = t;
        }
        for (int r = 0; r < LIN_NL; r++) { /* eliminate column p from every other row */
            if (r == p || Y[r][p] == 0)
                continue;
            double f = Y[r][p] / Y[p][p];
            for (int q = 0; q < LIN_NL; q++)
                Y[r][q] -= f * Y[p][q];
        }
    }
    for (int q = 0; q < LIN_NO; q++)
        y_out[q] = Y[0][q];
    return 0;
}

/* The OTA k's linearised output row y (LIN_NO: out, inp, inn): current leaving out =
 * sum_x y_x v_x. ss: (n_dev, 3) gm, gds, gmbs. */
static int lin_ota_row(const tdi_gen_circuit *c, size_t k, const double *ss, double *y,
                       tdi_err *err)
{
    const tdi_gen_ota *o = &c->ota[k];
    double Y[LIN_NL][LIN_NL] = {{0}};
    for (size_t q = 6 * k; q < 6 * k + 6; q++) {
        const tdi_gen_dev *d = &c->dev[q];
        lin_stamp_dev(Y, lin_local(o, d->d), lin_local(o, d->g), lin_local(o, d->s), ss + 3 * q);
    }
    if (lin_reduce_ota(Y, y))
        return tdi_err_set(err, TDI_ENUM, "linearised %s: its inner nodes have no conductance "
                           "(gm, gds of its devices zero at the op?)", o->name);
    return 0;
}

/* The OTA k's linearised output row as G elements into el (at most 3) over its outer nodes
 * that are not rails. */
static int lin_ota_elems(const tdi_gen_circuit *c, size_t k, const double *ss, tdi_gen_elem *el,
                         size_t *ne, tdi_err *err)
{
    const tdi_gen_ota *o = &c->ota[k];
    double y[LIN_NO];
    if (lin_ota_row(c, k, ss, y, err))
        return err->code;
    const char *nm[LIN_NO] = {o->out, o->inp, o->inn};
    int ext[LIN_NO];
    for (int q = 0; q < LIN_NO; q++)
        ext[q] = lin_node(c, nm[q]);
    for (int q = 0; q < LIN_NO; q++) {
        if (ext[0] < 0 || ext[q] < 0 || y[q] == 0)
            continue;
        el[(*ne)++] = (tdi_gen_elem){.kind = 'G', .block = c->elems[o->elem].block,
                                     .a = ext[0], .b = -1, .c = ext[q], .d = -1, .g = y[q]};
    }
    return 0;
}

/* The linear element list of c: its positive resistors as realised (tdi_gen_mos_g: the design
 * value, or less the OTAs' load under circuit.mos_self_comp; none when that is 0), every OTA
 * linearised. */
static int lin_elements(const tdi_gen_circuit *c, const double *ss, tdi_gen_elem **out,
                        size_t *n_out, tdi_err *err)
{
    tdi_gen_elem *el = malloc((c->n_elems + 3 * c->n_ota + 1) * sizeof *el);
    if (!el)
        return tdi_err_set(err, TDI_ENOMEM, "linearised route: out of memory");
    size_t ne = 0;
    for (size_t i = 0; i < c->n_elems; i++)
        if (c->elems[i].kind == 'R' && c->elems[i].g > 0 && tdi_gen_mos_g(c, &c->elems[i]) > 0) {
            el[ne] = c->elems[i];
            el[ne++].g = tdi_gen_mos_g(c, &c->elems[i]);
        }
    for (size_t k = 0; k < c->n_ota; k++)
        if (lin_ota_elems(c, k, ss, el, &ne, err)) {
            free(el);
            return err->code;
        }
    *out = el;
    *n_out = ne;
    return 0;
}

/* The rails' sources at transistor level (tdi_gen_emit.c: Vdd the OTA cores, Vbias the bias
 * generators, Vcm the rest voltage), in tdi_cosim_realised.op_supply_W's order. */
static const char *const lin_supply[TDI_COSIM_OP_SUPPLY] = {"vdd", "vbias", "vcm"};

/* "save" of every hold current (tdi_cosim_hold_save) and the rails' i(v): the op's plot keeps
 * those only. ngspice looks a device parameter (@m[gm]) up after a linear search of the plot's
 * vectors with an allocation per vector: with every node saved that made one read O(nodes), 2 ms
 * at D = 16. */
static int lin_save(const tdi_gen_circuit *c, tdi_err *err)
{
    int rc = tdi_cosim_hold_save(c, err);
    if (!rc && c->phys.mos)
        rc = tdi_cosim_ng_cmd("save i(vdd) i(vbias) i(vcm)", err);
    return rc;
}

/* sup (TDI_COSIM_OP_SUPPLY) W: the power each rail's source delivers at the op, -V i(v) (ngspice's
 * i(v) flows into the + terminal, as the spice engine's supply charge). */
static int lin_supply_power(const tdi_gen_circuit *c, double *sup, tdi_err *err)
{
    const tdi_gen_config *m = c->mos_cfg;
    const double v[TDI_COSIM_OP_SUPPLY] = {m->mos_vdd, m->mos_vdd, m->mos_vcm};
    for (int k = 0; k < TDI_COSIM_OP_SUPPLY; k++) {
        char name[32];
        double i = 0;
        snprintf(name, sizeof name, "i(%s)", lin_supply[k]);
        int rc = tdi_cosim_ng_real(name, &i, err);
        if (rc)
            return rc;
        sup[k] = -v[k] * i;
    }
    return 0;
}

/* One op of the hold netlist: the hold currents (i_rest, N), ss (n_dev, 3) and the rails' power
 * (sup, TDI_COSIM_OP_SUPPLY W). */
static int lin_op(const tdi_gen_circuit *c, double *i_rest, double *ss, double *sup,
                  tdi_err *err)
{
    tdi_gen_text *t = NULL;
    tdi_cosim_mos_names nm; /* x devices: the probe runs here, before the hold deck loads */
    int rc = tdi_cosim_mos_names_init(&nm, c, err);
    if (!rc)
        rc = tdi_gen_netlist_text(c, TDI_GEN_HOLD, 0, 0, &t, err);
    if (!rc)
        rc = tdi_cosim_ng_load(t, err);
    if (!rc)
        rc = lin_save(c, err);
    if (!rc && (rc = tdi_cosim_ng_cmd("op", err)))
        tdi_err_prefix(err, "op at rest (every unit held at its reference)");
    if (!rc)
        rc = tdi_cosim_hold_currents(c, i_rest, err);
    if (!rc)
        rc = lin_supply_power(c, sup, err);
    if (!rc)
        rc = tdi_cosim_mos_ss_read(&nm, ss, err);
    tdi_cosim_ng_unload();
    tdi_gen_text_free(t);
    tdi_cosim_mos_names_destroy(&nm);
    return rc;
}

int tdi_cosim_linear_g(const tdi_gen_circuit *c, double *G, double *i_rest,
                       tdi_cosim_extract_stats *st, tdi_err *err)
{
    if (!c || !G)
        return tdi_err_set(err, TDI_EARG, "linearised route: no circuit or matrix");
    double w0 = tdi_clock_s(CLOCK_MONOTONIC), c0 = tdi_clock_s(CLOCK_PROCESS_CPUTIME_ID);
    int rc = 0;
    size_t n_op = 0;
    double sup[TDI_COSIM_OP_SUPPLY] = {NAN, NAN, NAN};
    if (!c->phys.mos) { /* ideal elements: the element list is already linear */
        rc = tdi_gen_circuit_reduced(c, G, err);
        if (!rc && i_rest)
            memset(i_rest, 0, c->N * sizeof *i_rest);
    } else {
        double *ss = malloc(3 * c->n_dev * sizeof *ss), *ir = malloc(c->N * sizeof *ir);
        tdi_gen_elem *el = NULL;
        size_t ne = 0;
        rc = !ss || !ir ? tdi_err_set(err, TDI_ENOMEM, "linearised route: out of memory") : 0;
        if (!rc)
            rc = lin_op(c, ir, ss, sup, err);
        n_op = 1;
        if (!rc)
            rc = lin_elements(c, ss, &el, &ne, err);
        if (!rc) {
            tdi_gen_circuit lc = *c; /* the same nodes, the linearised element list */
            lc.elems = el;
            lc.n_elems = ne;
            rc = tdi_gen_circuit_reduced(&lc, G, err);
        }
        if (!rc && i_rest)
            memcpy(i_rest, ir, c->N * sizeof *ir);
        free(el);
        free(ss);
        free(ir);
    }
    if (st) {
        memcpy(st->op_supply_W, sup, sizeof sup);
        st->n_op = n_op;
        st->wall_s = tdi_clock_s(CLOCK_MONOTONIC) - w0;
        st->cpu_s = tdi_clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    }
    return rc ? tdi_err_prefix(err, "realised matrix (linearised at one op)") : 0;
}

int tdi_cosim_linear_loads(const tdi_gen_circuit *c, double *load, tdi_err *err)
{
    if (!c || !c->phys.mos || !load)
        return tdi_err_set(err, TDI_EARG, "OTA loads: not a transistor-level circuit");
    double *ss = malloc((3 * c->n_dev + 1) * sizeof *ss), *ir = malloc(c->N * sizeof *ir);
    int rc = !ss || !ir ? tdi_err_set(err, TDI_ENOMEM, "OTA loads: out of memory") : 0;
    double sup[TDI_COSIM_OP_SUPPLY]; /* read with the op, not needed here */
    if (!rc)
        rc = lin_op(c, ir, ss, sup, err);
    memset(load, 0, c->n_nodes * sizeof *load);
    for (size_t k = 0; k < c->n_ota && !rc; k++) {
        double y[LIN_NO];
        int o = lin_node(c, c->ota[k].out);
        if (!(rc = lin_ota_row(c, k, ss, y, err)) && o >= 0)
            load[o] += y[0]; /* d i_out / d v_out, inputs held: the output conductance */
    }
    free(ss);
    free(ir);
    return rc ? tdi_err_prefix(err, "OTA output conductances (one op)") : 0;
}
