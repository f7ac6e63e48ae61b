/* tdi_cosim_gen: the bridge from the generator's circuit (tdi_gen.h) to the co-simulator's.
 * Invariant: the G the sde/analytic engines use is read back from the very netlist text spice
 * runs (tdi_gen_readback_parse), and must equal gu*M to 1e-9 relative, or the run is refused;
 * with the analog read-out stage the extra rows/columns (units 2D..3D-1) must equal the stage's
 * intended values (tdi_gen_stage_intended) to 1e-9 of g_ro and the substrate must not see them.
 * rlc units: the sde state (x and p nodes, docs/sde.md) is the read-back plus the unit's own
 * network, which lives in the subcircuit and is taken from the generator's physics.
 * Non-goal: building netlists (the generator does). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_cosim.h"
#include "tdi_gen.h"

/* A resistor of conductance g: positive ones dissipate (E_R); a negative one is an active
 * cell in hardware, counted with the transconductors (returns 0 for it). */
static double passive(tdi_cosim_circuit *c, double g)
{
    if (g >= 0)
        return g;
    c->sum_gm += -g;
    c->n_vccs++;
    c->n_res--;
    return 0;
}

int tdi_cosim_circuit_take_resistors(tdi_cosim_circuit *c, const tdi_gen_readback *rb,
                                     double r_rate, tdi_err *err)
{
    size_t N = c->n;
    if (rb->N != N)
        return tdi_err_set(err, TDI_EARG, "resistors of %zu units for a circuit of %zu", rb->N,
                           N);
    if (rb->n_r_unmapped)
        return tdi_err_set(err, TDI_EFORMAT, "cosim: %zu resistors at nodes that are neither "
                           "units nor bus nodes: the energy ledger cannot count them",
                           rb->n_r_unmapped);
    for (size_t i = 0; i < N; i++)
        c->r_unit[i] = passive(c, rb->R_unit[i]);
    c->r_g = malloc((rb->n_rmap ? rb->n_rmap : 1) * sizeof *c->r_g);
    c->r_map = malloc((rb->n_rmap ? rb->n_rmap : 1) * N * sizeof *c->r_map);
    if (!c->r_g || !c->r_map)
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    for (size_t r = 0; r < rb->n_rmap; r++) {
        double g = passive(c, rb->R_g[r]);
        if (g == 0)
            continue;
        memcpy(c->r_map + c->n_rmap * N, rb->R_map + r * N, N * sizeof *c->r_map);
        c->r_g[c->n_rmap++] = g;
    }
    if (r_rate > 0) {
        for (size_t i = 0; i < N; i++)
            c->r_rate[i] = r_rate;
        c->n_res += N;
    }
    return 0;
}

/* The read-back K (NT, NT) against gu*M, or a non-ideal chip's own reduced matrix (substrate
 * block, unit kinds with an ideal G) and, with the stage, the
 * stage block's intended values; the substrate rows must have no entry in stage columns. */
static int check_readback(const tdi_gen_circuit *gc, const double *K, size_t NT, tdi_err *err)
{
    size_t N = gc->N;
    const tdi_gen_phys *p = &gc->phys;
    double gmax = 0, dmax = 0;
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < N; j++) {
            double want = gc->chip ? gc->chip->G[i * N + j] : p->gu * gc->M[i * N + j];
            gmax = fmax(gmax, fabs(want));
            dmax = fmax(dmax, fabs(K[i * NT + j] - want));
        }
    if (p->unit->ideal_g && dmax > 1e-9 * gmax) /* kinds with an ideal G (rc, rlc) */
        return tdi_err_set(err, TDI_ENUM, "cosim: the netlist implements a G that differs from "
                           "%s by %.3g S (max %.3g S)", gc->chip ? "the chip's" : "gu*M", dmax,
                           gmax);
    if (NT == N)
        return 0;
    double *Ki = malloc(sizeof(double) * NT * NT);
    if (!Ki)
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    tdi_gen_stage_intended(gc, Ki);
    double smax = 0;
    for (size_t i = 0; i < NT; i++)
        for (size_t j = 0; j < NT; j++)
            if (i >= N || j >= N) /* stage rows and columns */
                smax = fmax(smax, fabs(K[i * NT + j] - Ki[i * NT + j]));
    free(Ki);
    if (smax > 1e-9 * p->ro_g)
        return tdi_err_set(err, TDI_ENUM, "cosim: the netlist's read-out stage differs from its "
                           "intended values (gm_ro = g_ro = %.6g S) by %.3g S", p->ro_g, smax);
    return 0;
}

/* The unit kind's internal network (subckt unit_rlc of tdi_gen.h's netlist contract), from
 * its descriptor (tdi_gen_unit_kind): a second state node p (none for rc) with its capacitor,
 * its own conductance to ground and the gyrator's transconductance from v(p) into the unit
 * node. */
static size_t unit_extra_nodes(const tdi_gen_phys *p)
{
    return p->unit->n_state - 1;
}

static double unit_second_cap(const tdi_gen_phys *p) /* F: Cp */
{
    return p->unit->cap(p, 1);
}

static double unit_second_g(const tdi_gen_phys *p) /* S: gd, p to ground */
{
    return p->unit->internal_g(p, 1, 1);
}

static double unit_gyrator_gm(const tdi_gen_phys *p) /* S: gu, injects gm v(p) into x */
{
    return -p->unit->internal_g(p, 0, 1);
}

/* The sde state of a circuit whose substrate units have a second node (rlc): x of every unit
 * (NT, the stage's r nodes included) then p of the N substrate units. The read-back K (NT, NT)
 * has force-node rows; for a substrate unit it is p's row (the coupling currents leave p), for
 * a stage unit its own. Rows:  x_i: Cu dx/dt = gm v(p_i);  p_i: Cp dp/dt = -gd v(p_i) - K_i x
 * (+ bias + noise at p_i). Nothing to do for rc units (the units are the state). */
static int set_unit_state(tdi_cosim_circuit *c, const tdi_gen_phys *p, const double *K,
                          size_t N, tdi_err *err)
{
    size_t NT = c->n, ns = NT + N * unit_extra_nodes(p);
    if (ns == NT)
        return 0;
    double *G = calloc(ns * ns, sizeof(double)), *cap = malloc(sizeof(double) * ns);
    size_t *force = malloc(sizeof(size_t) * NT);
    int rc = !G || !cap || !force ? tdi_err_set(err, TDI_ENOMEM, "out of memory") : 0;
    for (size_t i = 0; i < NT && !rc; i++) {
        size_t f = i < N ? NT + i : i; /* the force node's state index */
        cap[i] = c->cap[i];
        force[i] = f;
        memcpy(G + f * ns, K + i * NT, sizeof(double) * NT);
        if (i < N) {
            cap[f] = unit_second_cap(p);
            G[f * ns + f] = unit_second_g(p);
            G[i * ns + f] = -unit_gyrator_gm(p);
        }
    }
    if (!rc)
        rc = tdi_cosim_circuit_set_state(c, ns, cap, G, force, err);
    free(G);
    free(cap);
    free(force);
    return rc;
}

/* Unit i of the cosim circuit: node name, its EXTERNAL sources ibias_<node> and inoise_<node>,
 * capacitance (F) and noise conductance (S). */
static int name_unit(tdi_cosim_circuit *c, size_t i, const char *node, double cap, double gn,
                     tdi_err *err)
{
    char sb[64], sn[64];
    snprintf(sb, sizeof sb, "ibias_%s", node);
    snprintf(sn, sizeof sn, "inoise_%s", node);
    int rc = tdi_cosim_circuit_set_names(c, i, node, sb, sn, err);
    c->cap[i] = cap;
    c->g_noise[i] = gn;
    return rc;
}

/* A non-ideal chip's offsets as the units see them (docs/nonideal.md) into c->i_off (the netlist
 * carries them as Ios_ cards for spice); the read-out stage's units (>= N) none. */
static int chip_static(tdi_cosim_circuit *c, const tdi_gen_chip *ch, size_t N, tdi_err *err)
{
    double *d = calloc(c->n, sizeof *d);
    if (!d)
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    memcpy(d, ch->i_unit, N * sizeof *d);
    int rc = tdi_cosim_circuit_set_offset(c, d, err);
    free(d);
    return rc;
}

int tdi_cosim_circuit_from_gen(const tdi_gen_circuit *gc, double tick, double t_stop,
                               tdi_cosim_circuit **out, tdi_err *err)
{
    *out = NULL;
    size_t N = gc->N, NT = N + (gc->phys.ro ? gc->D : 0); /* substrate units, all units */
    const tdi_gen_phys *p = &gc->phys;
    tdi_gen_text *txt = NULL;
    tdi_gen_readback rb = {0};
    char *joined = NULL;
    int rc = tdi_gen_netlist_text(gc, TDI_GEN_COSIM, tick, t_stop, &txt, err);
    if (rc)
        return rc;
    tdi_cosim_circuit *c = tdi_cosim_circuit_alloc(NT, err);
    if (!c) {
        rc = err ? err->code : TDI_ENOMEM;
        goto done;
    }
    if ((rc = tdi_cosim_circuit_set_lines(c, (const char *const *)txt->lines, err)))
        goto done;
    size_t len = 1;
    for (size_t i = 0; i < txt->n_lines; i++)
        len += strlen(txt->lines[i]) + 1;
    joined = malloc(len);
    if (!joined) {
        rc = tdi_err_set(err, TDI_ENOMEM, "out of memory");
        goto done;
    }
    size_t o = 0;
    for (size_t i = 0; i < txt->n_lines; i++) {
        size_t l = strlen(txt->lines[i]);
        memcpy(joined + o, txt->lines[i], l);
        o += l;
        joined[o++] = '\n';
    }
    joined[o] = '\0';
    /* the modules' own prefixes: a prefix may contain digits ("e2x": units e2x0, e2x1, ..) */
    const char *pre[TDI_BUNDLE_MAX_MOD];
    for (size_t m = 0; m < gc->n_mod; m++)
        pre[m] = gc->mod[m].prefix;
    if ((rc = tdi_gen_readback_parse_modules(joined, pre, gc->n_mod, gc->out, &rb, err))) {
        tdi_err_prefix(err, "cosim: reading back the generated netlist");
        goto done;
    }
    if (rb.N != NT) {
        rc = tdi_err_set(err, TDI_EFORMAT, "cosim: netlist read-back found %zu units, expected "
                         "%zu", rb.N, NT);
        goto done;
    }
    c->rc_units = p->unit->first_order;
    c->temp = gc->chip ? gc->chip->T : p->T; /* a non-ideal chip's noise at its temperature */
    if ((rc = check_readback(gc, rb.K, NT, err)))
        goto done;
    memcpy(c->G, rb.K, sizeof(double) * NT * NT);
    for (size_t i = 0; i < NT && !rc; i++) /* units i >= N: the read-out stage's */
        rc = name_unit(c, i, gc->nodes[i].name,
                       i >= N ? p->ro_C : gc->chip ? gc->chip->cap[i] : p->unit->cap(p, 0),
                       i < N ? p->g_noise : p->ro_gn, err);
    if (!rc && gc->chip && (rc = chip_static(c, gc->chip, N, err)))
        goto done;
    if (rc || (rc = set_unit_state(c, p, rb.K, N, err)))
        goto done;
    for (size_t e = 0; e < gc->n_elems; e++) { /* the stage's gm_ro and g_ro included */
        if (gc->elems[e].kind == 'G') {
            c->n_vccs++;
            c->sum_gm += fabs(gc->elems[e].g);
        } else {
            c->n_res++;
        }
    }
    /* the units' own transconductors (the rlc gyrator: one gu per unit), from the unit kind */
    c->sum_gm += (double)N * p->unit->gm(p);
    c->n_vccs += N * p->unit->n_gm;
    double rr = p->unit->r_rate(p); /* see r_rate */
    if ((rc = tdi_cosim_circuit_take_resistors(c, &rb, rr, err)))
        goto done;
    c->wires = gc->total_pairs;
    if (gc->n_dev > 0 && (rc = tdi_cosim_circuit_dev_from_gen(c, gc, err)))
        goto done;
    *out = c;
    c = NULL;
done:
    tdi_cosim_circuit_free(c);
    tdi_gen_readback_destroy(&rb);
    tdi_gen_text_free(txt);
    free(joined);
    return rc;
}
