/* tdi_gen_mos_comp: self-term compensation at transistor level (circuit.mos_self_comp;
 * docs/devices.md "Self-term compensation"): given the OTAs' output conductance at each node
 * (measured by the co-simulator's op, tdi_cosim_mos_self_comp), each node's resistor to vcm
 * gives it up and each negative self term's OTA grows by it. Invariant: the element list (the
 * design, what the read-back and the ideal engines see) is untouched; only the realisation
 * (tdi_gen_mos_g, the device list, the element text) changes. Non-goal: measuring the load. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_gen_int.h"

/* per node the index of its resistor to vcm (the element compensated there), SIZE_MAX none */
typedef struct {
    tdi_gen_mos_comp pub;
    size_t *res_of; /* (n_nodes) */
} comp_priv;

void tdi_gen_mos_comp_free(tdi_gen_mos_comp *m)
{
    if (!m)
        return;
    comp_priv *p = (comp_priv *)m;
    free(m->load);
    free(p->res_of);
    free(p);
}

/* the grounded node of a resistor element, -1 when it is not one */
static int comp_node(const tdi_gen_elem *e)
{
    if (e->kind != 'R' || (e->a >= 0) == (e->b >= 0))
        return -1;
    return e->a >= 0 ? e->a : e->b;
}

double tdi_gen_mos_g(const tdi_gen_circuit *c, const tdi_gen_elem *e)
{
    int n = c->comp ? comp_node(e) : -1;
    if (n < 0 || ((comp_priv *)c->comp)->res_of[n] != (size_t)(e - c->elems))
        return e->g;
    double g = e->g - c->comp->load[n];
    return e->g > 0 && g < 0 ? 0 : g; /* a resistor cannot go negative: a shortfall */
}

static comp_priv *comp_alloc(size_t n)
{
    comp_priv *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->pub.load = calloc(n ? n : 1, sizeof *p->pub.load);
    p->res_of = malloc((n ? n : 1) * sizeof *p->res_of);
    if (!p->pub.load || !p->res_of) {
        tdi_gen_mos_comp_free(&p->pub);
        return NULL;
    }
    return p;
}

/* res_of and the counts for the load in p->pub.load */
static void comp_count(const tdi_gen_circuit *c, comp_priv *p)
{
    tdi_gen_mos_comp *m = &p->pub;
    for (size_t i = 0; i < c->n_nodes; i++)
        p->res_of[i] = SIZE_MAX;
    for (size_t i = 0; i < c->n_elems; i++) {
        int n = comp_node(&c->elems[i]);
        if (n >= 0 && p->res_of[n] == SIZE_MAX) /* the first: one per node in practice */
            p->res_of[n] = i;
    }
    m->n_res = m->n_ota = m->n_short = 0;
    m->sum_load = 0;
    for (size_t i = 0; i < c->n_nodes; i++) {
        if (!(m->load[i] > 0))
            continue;
        m->sum_load += m->load[i];
        size_t r = p->res_of[i];
        double g = r == SIZE_MAX ? 0 : c->elems[r].g;
        if (r != SIZE_MAX && g < 0)
            m->n_ota++;
        else if (g > m->load[i])
            m->n_res++;
        else
            m->n_short++;
    }
}

int tdi_gen_mos_comp_apply(tdi_gen_circuit *c, const double *load, tdi_err *err)
{
    if (!c->phys.mos)
        return tdi_err_set(err, TDI_EARG, "self-term compensation: not a transistor-level "
                           "circuit (circuit.devices: mos)");
    comp_priv *p = (comp_priv *)c->comp;
    if (!p && !(p = comp_alloc(c->n_nodes)))
        return tdi_err_set(err, TDI_ENOMEM, "self-term compensation: out of memory");
    c->comp = &p->pub;
    memcpy(p->pub.load, load, c->n_nodes * sizeof *load);
    comp_count(c, p);
    p->pub.passes++;
    int rc = tdi_gen_mos_rebuild(c, err);
    if (rc)
        return rc;
    free(c->elem_text);
    c->elem_text = NULL;
    return tdi_gen_emit_elements(c, err);
}

void tdi_gen_mos_comp_print(const tdi_gen_circuit *c, FILE *f)
{
    const tdi_gen_mos_comp *m = c->comp;
    if (!m)
        return;
    const comp_priv *p = (const comp_priv *)m;
    fprintf(f, "self-term compensation (circuit.mos_self_comp, %d pass%s): OTA output "
            "conductance %.4g S in all; %zu resistors to vcm shrunk, %zu negative self terms' "
            "OTAs enlarged, %zu node%s short\n", m->passes, m->passes == 1 ? "" : "es",
            m->sum_load, m->n_res, m->n_ota, m->n_short, m->n_short == 1 ? "" : "s");
    size_t shown = 0;
    for (size_t i = 0; i < c->n_nodes && shown < 20; i++) {
        size_t r = p->res_of[i];
        double g = r == SIZE_MAX ? 0 : c->elems[r].g;
        if (!(m->load[i] > 0) || g < 0 || g > m->load[i])
            continue;
        fprintf(f, "  short: %s: OTA load %.4g S exceeds its resistor's %.4g S by %.4g S (%.1f%% "
                "of g): the node keeps %.4g S too much (a cascode OTA output would fix it)\n",
                c->nodes[i].name, m->load[i], g, m->load[i] - g,
                g > 0 ? 100 * (m->load[i] - g) / g : 100.0, m->load[i] - g);
        shown++;
    }
    if (m->n_short > shown)
        fprintf(f, "  ... and %zu more short nodes\n", m->n_short - shown);
}
