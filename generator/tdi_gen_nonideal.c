/* tdi_gen_nonideal: the behavioural non-idealities of one chip (circuit.nonideal, docs/nonideal.md)
 * applied to the ideal-element circuit: per element a gain error and the temperature factor,
 * per transconductor side an input offset (a static current g V_os) and an output conductance
 * (folded into its node's ground resistor), per unit a capacitor error, and the noise sources at
 * the chip's temperature. Invariants: every draw is tdi_gen_nonideal_gauss(key, item, what), key
 * from (seed, chip), so a chip is reproducible and one quantity's draws do not move when another
 * is switched on; with every key at its default nothing here runs (the ideal circuit is bit for
 * bit today's). Non-goals: the transistor level (its Pelgrom mismatch), the read-out stage. */
#include "tdi_gen.h"
#include "tdi_seed.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_gen_int.h"

int tdi_gen_nonideal_active(const tdi_gen_config *cfg)
{
    return cfg->ni_gain_sigma > 0 || cfg->ni_self_sigma > 0 || cfg->ni_offset_sigma > 0 ||
           cfg->ni_gout > 0 || cfg->ni_cap_sigma > 0 || cfg->ni_temp > 0;
}

double tdi_gen_nonideal_gauss(uint64_t key, uint64_t item, uint64_t what)
{
    return tdi_seed_gauss(key, item, what); /* the layout of tdi_cosim_noise_gauss */
}

void tdi_gen_chip_free(tdi_gen_chip *chip)
{
    if (!chip)
        return;
    free(chip->cap);
    free(chip->i_node);
    free(chip->i_unit);
    free(chip->G);
    free(chip);
}

/* A transconductor: every G element, and an R element with g < 0 (an active cell; at transistor
 * level an OTA in positive feedback, docs/devices.md). Positive resistors are passive. */
static int ni_is_gm(const tdi_gen_elem *e)
{
    return e->kind == 'G' || e->g < 0;
}

/* Gain error and temperature factor per element (the read-out stage keeps its design). */
static void ni_gains(tdi_gen_circuit *c, const tdi_gen_config *cfg)
{
    const tdi_gen_chip *ch = c->chip;
    for (size_t e = 0; e < c->n_elems; e++) {
        tdi_gen_elem *el = &c->elems[e];
        if (el->block == TDI_GEN_BLK_READOUT)
            continue;
        double s = el->block == TDI_GEN_BLK_SELF ? cfg->ni_self_sigma : cfg->ni_gain_sigma;
        double f = s > 0 ? 1.0 + s * tdi_gen_nonideal_gauss(ch->key, e, TDI_GEN_NI_GAIN) : 1.0;
        el->g *= f * ch->g_scale;
    }
}

/* Offsets: side a of a G element removes g (v_c - v_d + V_os,a) from a, side b injects
 * g (v_c - v_d + V_os,b) into b; an active resistor's side a draws g (v_a - v_b + V_os,a)
 * from a (side b likewise). The static parts go into i_node. */
static void ni_offsets(tdi_gen_circuit *c, const tdi_gen_config *cfg)
{
    tdi_gen_chip *ch = c->chip;
    if (!(cfg->ni_offset_sigma > 0))
        return;
    double sg = cfg->ni_offset_sigma;
    for (size_t e = 0; e < c->n_elems; e++) {
        const tdi_gen_elem *el = &c->elems[e];
        if (el->block == TDI_GEN_BLK_READOUT || !ni_is_gm(el))
            continue;
        double va = sg * tdi_gen_nonideal_gauss(ch->key, e, TDI_GEN_NI_OFFSET_A);
        double vb = sg * tdi_gen_nonideal_gauss(ch->key, e, TDI_GEN_NI_OFFSET_B);
        if (el->a >= 0) {
            ch->i_node[el->a] -= el->g * va;
            ch->n_offsets++;
        }
        if (el->b >= 0) {
            ch->i_node[el->b] += (el->kind == 'G' ? 1.0 : -1.0) * el->g * vb;
            ch->n_offsets++;
        }
    }
}

/* Output conductance gout |g| of every transconductor side, from its output node to ground,
 * folded into that node's ground resistor (every unit has its self term and every bus node its
 * resistor; a node without one gets a new resistor, inserted before the read-out stage). */
static int ni_gout(tdi_gen_circuit *c, const tdi_gen_config *cfg, tdi_err *err)
{
    if (!(cfg->ni_gout > 0))
        return 0;
    size_t nn = c->n_nodes, ne = c->n_elems;
    double *load = calloc(nn ? nn : 1, sizeof *load);
    long *gnd = malloc((nn ? nn : 1) * sizeof *gnd);
    if (!load || !gnd) {
        free(load);
        free(gnd);
        return tdi_err_set(err, TDI_ENOMEM, "non-ideal chip: out of memory");
    }
    for (size_t i = 0; i < nn; i++)
        gnd[i] = -1;
    size_t stage = ne; /* first read-out stage element */
    for (size_t e = 0; e < ne; e++) {
        const tdi_gen_elem *el = &c->elems[e];
        if (el->block == TDI_GEN_BLK_READOUT) {
            stage = e < stage ? e : stage;
            continue;
        }
        if (el->kind == 'R' && el->a >= 0 && el->b < 0 && gnd[el->a] < 0)
            gnd[el->a] = (long)e;
        if (!ni_is_gm(el))
            continue;
        if (el->a >= 0)
            load[el->a] += cfg->ni_gout * fabs(el->g);
        if (el->b >= 0)
            load[el->b] += cfg->ni_gout * fabs(el->g);
    }
    size_t extra = 0;
    for (size_t i = 0; i < nn; i++)
        if (load[i] != 0 && gnd[i] < 0)
            extra++;
    tdi_gen_elem *el = realloc(c->elems, (ne + extra + 1) * sizeof *el);
    if (!el) {
        free(load);
        free(gnd);
        return tdi_err_set(err, TDI_ENOMEM, "non-ideal chip: out of memory");
    }
    c->elems = el;
    memmove(el + stage + extra, el + stage, (ne - stage) * sizeof *el); /* the stage last */
    size_t q = stage;
    for (size_t i = 0; i < nn; i++) {
        if (load[i] == 0)
            continue;
        c->chip->n_gout++;
        if (gnd[i] >= 0) {
            el[gnd[i]].g += load[i]; /* gnd[i] < stage: not moved */
            continue;
        }
        el[q++] = (tdi_gen_elem){.kind = 'R', .block = TDI_GEN_BLK_SELF, .a = (int)i, .b = -1,
                                 .c = -1, .d = -1, .g = load[i]};
    }
    c->n_elems = ne + extra;
    free(load);
    free(gnd);
    return 0;
}

/* The chip's reduced matrix and the offsets seen at the units: one reduction with an extra
 * column, a virtual node held at 1 V that drives every offset current as a VCCS into its node
 * (the current leaving unit u per volt of it is -i_unit[u]). */
static int ni_reduce(tdi_gen_circuit *c, tdi_err *err)
{
    tdi_gen_chip *ch = c->chip;
    size_t nn = c->n_nodes, N = c->N, N1 = N + 1, nb = 0, ne = c->n_elems, extra = 0;
    while (ne > 0 && c->elems[ne - 1].block == TDI_GEN_BLK_READOUT)
        ne--;
    for (size_t i = 0; i < nn; i++)
        extra += ch->i_node[i] != 0;
    int *u = malloc((nn + 1) * sizeof *u), *f = malloc((nn + 1) * sizeof *f);
    int *b = malloc((nn + 1) * sizeof *b);
    tdi_gen_elem *el = malloc((ne + extra + 1) * sizeof *el);
    double *K = malloc(N1 * N1 * sizeof *K);
    ch->G = malloc(N * N * sizeof *ch->G);
    int rc = 0;
    if (!u || !f || !b || !el || !K || !ch->G) {
        rc = tdi_err_set(err, TDI_ENOMEM, "non-ideal chip: out of memory");
        goto done;
    }
    for (size_t i = 0; i < nn; i++) {
        const tdi_gen_node *n = &c->nodes[i];
        u[i] = n->kind == TDI_GEN_NODE_UNIT ? (int)n->index : -1;
        f[i] = n->kind == TDI_GEN_NODE_UNIT ? (int)n->index : -1; /* rc: force = unit node */
        b[i] = n->kind == TDI_GEN_NODE_BUS ? (int)nb++ : -1;
    }
    u[nn] = (int)N, f[nn] = -1, b[nn] = -1; /* the virtual 1 V node: column N only */
    memcpy(el, c->elems, ne * sizeof *el);
    size_t q = ne;
    for (size_t i = 0; i < nn; i++)
        if (ch->i_node[i] != 0)
            el[q++] = (tdi_gen_elem){.kind = 'G', .a = -1, .b = (int)i, .c = (int)nn, .d = -1,
                                     .g = ch->i_node[i]};
    if ((rc = tdi_gen_reduce(el, q, nn + 1, u, f, b, N1, nb, K, NULL, err)))
        goto done;
    for (size_t i = 0; i < N; i++) {
        memcpy(ch->G + i * N, K + i * N1, N * sizeof *K);
        ch->i_unit[i] = -K[i * N1 + N];
    }
done:
    free(u);
    free(f);
    free(b);
    free(el);
    free(K);
    return rc ? tdi_err_prefix(err, "non-ideal chip") : 0;
}

int tdi_gen_nonideal_apply(tdi_gen_circuit *c, const tdi_gen_config *cfg, tdi_err *err)
{
    if (!tdi_gen_nonideal_active(cfg))
        return 0;
    tdi_gen_chip *ch = c->chip = calloc(1, sizeof *ch);
    if (!ch)
        return tdi_err_set(err, TDI_ENOMEM, "non-ideal chip: out of memory");
    size_t N = c->N;
    ch->index = cfg->chip;
    ch->key = tdi_seed((uint64_t)cfg->seed, TDI_SEED_NONIDEAL, (uint64_t)cfg->chip);
    ch->T = cfg->ni_temp > 0 ? cfg->ni_temp : c->phys.T;
    ch->g_scale = 1.0 + cfg->ni_tempco * (ch->T - c->phys.T);
    if (!(ch->g_scale > 0))
        return tdi_err_set(err, TDI_ECONFIG, "%s: circuit.nonideal.temperature %g K with tempco "
                           "%g /K turns every conductance negative (factor %g)", cfg->path,
                           ch->T, cfg->ni_tempco, ch->g_scale);
    ch->cap = malloc(N * sizeof *ch->cap);
    ch->i_node = calloc(c->n_nodes ? c->n_nodes : 1, sizeof *ch->i_node);
    ch->i_unit = calloc(N, sizeof *ch->i_unit);
    if (!ch->cap || !ch->i_node || !ch->i_unit)
        return tdi_err_set(err, TDI_ENOMEM, "non-ideal chip: out of memory");
    for (size_t i = 0; i < N; i++) {
        double z = cfg->ni_cap_sigma > 0 ? tdi_gen_nonideal_gauss(ch->key, i, TDI_GEN_NI_CAP) : 0;
        ch->cap[i] = c->phys.Cu * (1.0 + cfg->ni_cap_sigma * z);
        if (!(ch->cap[i] > 0))
            return tdi_err_set(err, TDI_ECONFIG, "%s: circuit.nonideal.cap_sigma %g drew a "
                               "capacitor <= 0 for unit %s", cfg->path, cfg->ni_cap_sigma,
                               c->nodes[i].name);
    }
    ni_gains(c, cfg);
    ni_offsets(c, cfg);
    int rc = ni_gout(c, cfg, err);
    if (rc || (rc = ni_reduce(c, err)))
        return rc;
    /* the netlists' noise sources at the chip's temperature (the design's g_noise) */
    c->phys.noise_na = sqrt(2 * TDI_GEN_KB * ch->T * c->phys.g_noise / c->phys.noise_dt);
    if (c->phys.ro)
        c->phys.ro_na = sqrt(2 * TDI_GEN_KB * ch->T * c->phys.ro_gn / c->phys.noise_dt);
    return 0;
}

void tdi_gen_nonideal_header(tdi_gen_circuit *c, const tdi_gen_config *cfg)
{
    const tdi_gen_chip *ch = c->chip;
    size_t u = strlen(c->header);
    if (!ch || u >= sizeof c->header)
        return;
    snprintf(c->header + u, sizeof c->header - u,
             "* non-ideal chip %ld (docs/nonideal.md): gain sigma %g (self %g), offset sigma %g V "
             "(%zu sides), gout %g (%zu nodes), cap sigma %g, T %g K (design %g K, element "
             "factor %.9g)\n", ch->index, cfg->ni_gain_sigma, cfg->ni_self_sigma,
             cfg->ni_offset_sigma, ch->n_offsets, cfg->ni_gout, ch->n_gout, cfg->ni_cap_sigma,
             ch->T, c->phys.T, ch->g_scale);
}

void tdi_gen_nonideal_print(const tdi_gen_circuit *c, FILE *f)
{
    const tdi_gen_chip *ch = c->chip;
    if (!ch)
        return;
    size_t N = c->N;
    double cmin = INFINITY, cmax = 0, imax = 0, iss = 0;
    for (size_t i = 0; i < N; i++) {
        cmin = fmin(cmin, ch->cap[i]);
        cmax = fmax(cmax, ch->cap[i]);
        imax = fmax(imax, fabs(ch->i_unit[i]));
        iss += ch->i_unit[i] * ch->i_unit[i];
    }
    fprintf(f, "non-ideal chip %ld: T %.6g K (elements x %.6g), capacitors %.6g .. %.6g F, "
            "%zu offset sides: static current at the units rms %.4g A, max %.4g A (= %.4g gu "
            "Vs); %zu output-conductance loads\n", ch->index, ch->T, ch->g_scale,
            cmin, cmax, ch->n_offsets, sqrt(iss / (double)N), imax,
            imax / (c->phys.gu * c->phys.Vs), ch->n_gout);
}
