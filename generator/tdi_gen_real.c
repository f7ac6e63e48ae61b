/* tdi_gen_real: the coupling realisations (docs/physics.md 3) and their tables. An intra
 * realisation couples the units of one module; a skip realisation couples a pair of modules
 * through S = P Q^T. Each builds ideal elements (R and G, tdi_gen_elem) only: how an element
 * becomes cards (the device style) is tdi_gen_emit.c's business. Invariant: the Schur
 * reduction of the elements gives back gu times the block. To add a realisation: a builder,
 * its element and wire bounds, and a row in intra_reals or skip_reals (docs/generator.md
 * "Coupling realisations"). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_gen_int.h"

static int unit_node(const tdi_gen_module *m, size_t i)
{
    return (int)(m->off + i);
}

static int force(const tdi_gen_build *bd, const tdi_gen_module *m, size_t i)
{
    return tdi_gen_force_node(bd->c, m->off + i);
}

/* A bus node with its 1/gu resistor to ground; -1 when out of memory. */
static int add_bus(tdi_gen_build *bd, int blk, const char *name, size_t index)
{
    int bus = tdi_gen_add_node(bd, name, TDI_GEN_NODE_BUS, index);
    if (bus < 0)
        return -1;
    bd->c->blk[blk].bus_nodes++;
    tdi_gen_add_elem(bd, 'R', blk, bus, -1, -1, -1, bd->c->phys.gu); /* v(bus) = projection */
    return bus;
}

/* ---------- intra: dense, one VCCS per ordered pair ---------- */

static int intra_dense(tdi_gen_build *bd, const tdi_gen_module *m, const double *A,
                       const double *base, tdi_err *err)
{
    (void)base;
    (void)err;
    size_t n = m->n;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            if (j != i)
                tdi_gen_add_elem(bd, 'G', m->blk, force(bd, m, i), -1, unit_node(m, j), -1,
                                 bd->c->phys.gu * A[i * n + j]);
    return 0;
}

static size_t intra_dense_elements(size_t n, size_t r)
{
    (void)r;
    return n * n;
}

static size_t intra_dense_wires(size_t n, size_t r)
{
    (void)r;
    return n * (n - 1) / 2;
}

/* ---------- intra: low rank, a bus per eigen-component of A - diag(base) ---------- */

static int intra_lowrank(tdi_gen_build *bd, const tdi_gen_module *m, const double *A,
                         const double *base, tdi_err *err)
{
    tdi_gen_circuit *c = bd->c;
    const tdi_gen_config *cfg = bd->cfg;
    size_t n = m->n, mi = (size_t)(m - c->mod); /* module number: part of the probe seed */
    double *R = malloc(n * n * sizeof *R), *U = NULL, *lam = NULL;
    if (!R)
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    memcpy(R, A, n * n * sizeof *R);
    for (size_t i = 0; i < n; i++)
        R[i * n + i] -= base[i];
    size_t r = 0, rcap = cfg->rank > 0 ? (size_t)cfg->rank : n;
    if (rcap > n)
        rcap = n;
    uint64_t lr_seed = tdi_seed((uint64_t)cfg->seed, TDI_SEED_GEN_LOWRANK, (uint64_t)mi);
    int rc = tdi_gen_lowrank(R, n, rcap, lr_seed, bd->scale,
                             c->n_mod == 2 ? (mi ? "decoder" : "encoder") : m->name, cfg->path,
                             &U, &lam, &r, err);
    free(R);
    if (rc)
        return rc;
    c->blk[m->blk].rank = r;
    double gu = c->phys.gu;
    for (size_t q = 0; q < r; q++) {
        char name[40];
        snprintf(name, sizeof name, "u%.9s%zu", m->prefix, q);
        int bus = add_bus(bd, m->blk, name, q);
        if (bus < 0)
            break;
        for (size_t j = 0; j < n; j++) /* sum: inject gu u_jq v_j into the bus */
            tdi_gen_add_elem(bd, 'G', m->blk, -1, bus, unit_node(m, j), -1, gu * U[j * r + q]);
        for (size_t i = 0; i < n; i++) /* distribute: remove gu lam u_iq v_bus from unit i */
            tdi_gen_add_elem(bd, 'G', m->blk, force(bd, m, i), -1, bus, -1,
                             gu * lam[q] * U[i * r + q]);
    }
    free(U);
    free(lam);
    return 0;
}

static size_t intra_lowrank_elements(size_t n, size_t r)
{
    return r * (2 * n + 1);
}

static size_t intra_lowrank_wires(size_t n, size_t r)
{
    return r * n;
}

/* ---------- skip: dense, a VCCS each way per (i, j) ---------- */

static void skip_dense(tdi_gen_build *bd, const tdi_gen_pair *pr)
{
    const tdi_gen_module *a = pr->a, *b = pr->b;
    double gu = bd->c->phys.gu;
    for (size_t i = 0; i < a->n; i++)
        for (size_t j = 0; j < b->n; j++) {
            double s = pr->S[i * pr->lds + j];
            tdi_gen_add_elem(bd, 'G', pr->blk, force(bd, a, i), -1, unit_node(b, j), -1,
                             gu * s);
            tdi_gen_add_elem(bd, 'G', pr->blk, force(bd, b, j), -1, unit_node(a, i), -1,
                             gu * s);
        }
}

static size_t skip_dense_elements(size_t na, size_t nb, size_t k)
{
    (void)k;
    return 2 * na * nb;
}

static size_t skip_dense_wires(size_t na, size_t nb, size_t k)
{
    (void)k;
    return na * nb;
}

/* |column l| of a (n, k) factor */
static double col_norm(const double *F, size_t n, size_t k, size_t l)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += F[i * k + l] * F[i * k + l];
    return sqrt(s);
}

/* sum: inject gu F_il w v(unit i of m) into the bus, for every unit i of m */
static void sum_into(tdi_gen_build *bd, int blk, int bus, const tdi_gen_module *m,
                     const double *F, size_t k, size_t l, double w)
{
    for (size_t i = 0; i < m->n; i++)
        tdi_gen_add_elem(bd, 'G', blk, -1, bus, unit_node(m, i), -1,
                         bd->c->phys.gu * F[i * k + l] * w);
}

/* distribute: remove gu F_il w v(bus) from the force node of every unit i of m */
static void distribute(tdi_gen_build *bd, int blk, int bus, const tdi_gen_module *m,
                       const double *F, size_t k, size_t l, double w)
{
    for (size_t i = 0; i < m->n; i++)
        tdi_gen_add_elem(bd, 'G', blk, force(bd, m, i), -1, bus, -1,
                         bd->c->phys.gu * F[i * k + l] * w);
}

/* Calls f for every component l of P Q^T with the column norms |P_l|, |Q_l|. */
typedef void (*component_fn)(tdi_gen_build *bd, const tdi_gen_pair *pr, size_t l, double al,
                             double be);

static void per_component(tdi_gen_build *bd, const tdi_gen_pair *pr, component_fn f)
{
    bd->c->blk[pr->blk].rank = pr->k;
    for (size_t l = 0; l < pr->k && !bd->err; l++)
        f(bd, pr, l, col_norm(pr->P, pr->a->n, pr->k, l), col_norm(pr->Q, pr->b->n, pr->k, l));
}

/* ---------- skip: two buses per component, s<a>l = P_l^T a / |P_l| drives b, s<b>l = Q_l^T b /
 * |Q_l| drives a ---------- */

static void twobus_component(tdi_gen_build *bd, const tdi_gen_pair *pr, size_t l, double al,
                             double be)
{
    const tdi_gen_module *a = pr->a, *b = pr->b;
    size_t k = pr->k;
    if (al == 0 || be == 0)
        return;
    char na[40], nb[40];
    if (pr->n_cpl > 1) {
        snprintf(na, sizeof na, "s%zu_%s%zu", pr->idx, a->prefix, l);
        snprintf(nb, sizeof nb, "s%zu_%s%zu", pr->idx, b->prefix, l);
    } else {
        snprintf(na, sizeof na, "s%s%zu", a->prefix, l);
        snprintf(nb, sizeof nb, "s%s%zu", b->prefix, l);
    }
    int ba = tdi_gen_add_node(bd, na, TDI_GEN_NODE_BUS, 2 * l);
    int bb = tdi_gen_add_node(bd, nb, TDI_GEN_NODE_BUS, 2 * l + 1);
    if (ba < 0 || bb < 0)
        return;
    bd->c->blk[pr->blk].bus_nodes += 2;
    tdi_gen_add_elem(bd, 'R', pr->blk, ba, -1, -1, -1, bd->c->phys.gu);
    sum_into(bd, pr->blk, ba, a, pr->P, k, l, 1.0 / al);
    distribute(bd, pr->blk, ba, b, pr->Q, k, l, al);
    tdi_gen_add_elem(bd, 'R', pr->blk, bb, -1, -1, -1, bd->c->phys.gu);
    sum_into(bd, pr->blk, bb, b, pr->Q, k, l, 1.0 / be);
    distribute(bd, pr->blk, bb, a, pr->P, k, l, be);
}

static void skip_twobus(tdi_gen_build *bd, const tdi_gen_pair *pr)
{
    per_component(bd, pr, twobus_component);
}

static size_t skip_bus_elements(size_t na, size_t nb, size_t k)
{
    return 2 * k * (na + nb + 1);
}

static size_t skip_twobus_wires(size_t na, size_t nb, size_t k)
{
    return 2 * k * (na + nb);
}

/* ---------- skip: one shared bus per component, sk<l> = (P_l^T a + Q_l^T b) / a_l; it also
 * puts P P^T and Q Q^T on the diagonal blocks (shares_diag) ---------- */

static void sharedbus_component(tdi_gen_build *bd, const tdi_gen_pair *pr, size_t l, double al,
                                double be)
{
    const tdi_gen_module *a = pr->a, *b = pr->b;
    size_t k = pr->k;
    double w = sqrt(al * al + be * be);
    if (w == 0)
        return;
    char name[40];
    if (pr->n_cpl > 1)
        snprintf(name, sizeof name, "sk%zu_%zu", pr->idx, l);
    else
        snprintf(name, sizeof name, "sk%zu", l);
    int bus = add_bus(bd, pr->blk, name, l);
    if (bus < 0)
        return;
    sum_into(bd, pr->blk, bus, a, pr->P, k, l, 1.0 / w);
    sum_into(bd, pr->blk, bus, b, pr->Q, k, l, 1.0 / w);
    distribute(bd, pr->blk, bus, a, pr->P, k, l, w);
    distribute(bd, pr->blk, bus, b, pr->Q, k, l, w);
}

static void skip_sharedbus(tdi_gen_build *bd, const tdi_gen_pair *pr)
{
    per_component(bd, pr, sharedbus_component);
}

static size_t skip_sharedbus_elements(size_t na, size_t nb, size_t k)
{
    return k * (2 * (na + nb) + 1);
}

static size_t skip_sharedbus_wires(size_t na, size_t nb, size_t k)
{
    return k * (na + nb);
}

/* ---------- the tables: the one list of realisation names ---------- */
static const tdi_gen_intra_real intra_reals[] = {
    {"dense", 0, intra_dense, intra_dense_elements, intra_dense_wires},
    {"lowrank", 1, intra_lowrank, intra_lowrank_elements, intra_lowrank_wires},
};

static const tdi_gen_skip_real skip_reals[] = {
    {"dense", 0, 0, skip_dense, skip_dense_elements, skip_dense_wires},
    {"twobus", 1, 0, skip_twobus, skip_bus_elements, skip_twobus_wires},
    {"sharedbus", 1, 1, skip_sharedbus, skip_sharedbus_elements, skip_sharedbus_wires},
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

const tdi_gen_intra_real *tdi_gen_intra_find(const char *name)
{
    for (size_t i = 0; i < NELEM(intra_reals); i++)
        if (strcmp(intra_reals[i].name, name) == 0)
            return &intra_reals[i];
    return NULL;
}

const tdi_gen_skip_real *tdi_gen_skip_find(const char *name)
{
    for (size_t i = 0; i < NELEM(skip_reals); i++)
        if (strcmp(skip_reals[i].name, name) == 0)
            return &skip_reals[i];
    return NULL;
}

void tdi_gen_intra_names(char *buf, size_t size)
{
    if (!size)
        return;
    buf[0] = '\0';
    for (size_t i = 0; i < NELEM(intra_reals); i++)
        tdi_gen_names_add(buf, size, intra_reals[i].name);
}

void tdi_gen_skip_names(char *buf, size_t size)
{
    if (!size)
        return;
    buf[0] = '\0';
    for (size_t i = 0; i < NELEM(skip_reals); i++)
        tdi_gen_names_add(buf, size, skip_reals[i].name);
}
