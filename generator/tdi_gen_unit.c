/* tdi_gen_unit: the unit kinds (tdi_gen_unit_kind in tdi_gen.h) and their table. Each kind
 * owns its physics (mode rates, step error, noise conductance, read-out gain), its subcircuit
 * text and its ideal self-term element; the rest of the generator and cosim only ask the
 * descriptor. To add a kind: write its descriptor here and list it in `kinds` below
 * (docs/generator.md "Unit kinds"). Non-goal: device models (a transistor kind sets
 * ideal_g = 0 and implements small_signal_g). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tdi_gen_int.h"

/* ---------- rc: one capacitor Cu; the self term is a resistor to ground ---------- */

static void rc_derive(const tdi_gen_config *cfg, tdi_gen_phys *p)
{
    (void)cfg;
    p->g_noise = p->gu;
    p->readout_gain = 1.0;
}

static void rc_mode_rates(const tdi_gen_phys *p, double lam, double *slow, double *fast)
{
    *slow = *fast = lam / p->tau;
}

static double rc_mode_err(const tdi_gen_phys *p, double lam, double t)
{
    return exp(-lam * t / p->tau);
}

static double rc_cap(const tdi_gen_phys *p, size_t state)
{
    (void)state;
    return p->Cu;
}

static double no_gm(const tdi_gen_phys *p)
{
    (void)p;
    return 0.0;
}

static double rc_internal_g(const tdi_gen_phys *p, size_t row, size_t col)
{
    (void)p;
    (void)row;
    (void)col;
    return 0.0;
}

static void rc_self(tdi_gen_build *bd, size_t unit, double g)
{
    tdi_gen_add_elem(bd, 'R', TDI_GEN_BLK_SELF, tdi_gen_state_node(bd->c, unit, 0), -1, -1, -1,
                     g);
}

static void no_note(const tdi_gen_phys *p, tdi_gen_unit_note what, char *buf, size_t size)
{
    (void)p;
    (void)what;
    if (size)
        buf[0] = '\0';
}

static const tdi_gen_unit_kind unit_rc = {
    .name = "rc",
    .n_state = 1,
    .state_prefix = {"", NULL},
    .force_state = 0,
    .first_order = 1,
    .ideal_g = 1,
    .n_gm = 0,
    .subckt = ".subckt unit_rc x\nC1 x 0 {Cu}\n.ends unit_rc\n",
    .self_style = "resistor",
    .nodes_note = "",
    .derive = rc_derive,
    .mode_rates = rc_mode_rates,
    .mode_err = rc_mode_err,
    .cap = rc_cap,
    .gm = no_gm,
    .r_rate = no_gm,
    .internal_g = rc_internal_g,
    .self_term = rc_self,
    .note = no_note,
    .small_signal_g = NULL,
};

/* ---------- rlc: gyrator-C oscillator (docs/physics.md 4): Cu on x, Cp and gd on p, a
 * transconductor gu from v(p) into x; couplings, bias and noise drive p ---------- */

static void rlc_derive(const tdi_gen_config *cfg, tdi_gen_phys *p)
{
    p->Cp = cfg->rlc_cp * cfg->Cu;
    p->gd = 2 * cfg->rlc_zeta * p->gu * sqrt(p->lambda_min * p->Cp / p->Cu);
    p->g_noise = p->gd;
    p->readout_gain = p->gd / p->gu;
}

static void rlc_mode_rates(const tdi_gen_phys *p, double lam, double *slow, double *fast)
{
    double a = p->gd / p->Cp, w2 = p->gu * p->gu * lam / (p->Cu * p->Cp);
    double disc = a * a - 4 * w2;
    if (disc >= 0) {
        *slow = (a - sqrt(disc)) / 2;
        *fast = (a + sqrt(disc)) / 2;
    } else {
        *slow = a / 2;
        *fast = sqrt(w2);
    }
}

/* envelope for the underdamped case */
static double rlc_mode_err(const tdi_gen_phys *p, double lam, double t)
{
    double a = p->gd / p->Cp, w2 = p->gu * p->gu * lam / (p->Cu * p->Cp);
    double disc = a * a - 4 * w2;
    if (fabs(disc) <= 1e-9 * a * a) { /* critical: (1 + w t) e^{-w t} */
        double w = a / 2;
        return (1 + w * t) * exp(-w * t);
    }
    if (disc > 0) {
        double r1 = (-a + sqrt(disc)) / 2, r2 = (-a - sqrt(disc)) / 2;
        return fabs((r2 * exp(r1 * t) - r1 * exp(r2 * t)) / (r2 - r1));
    }
    double wd = sqrt(-disc) / 2;
    return exp(-a * t / 2) * sqrt(1 + a * a / (4 * wd * wd));
}

static double rlc_cap(const tdi_gen_phys *p, size_t state)
{
    return state ? p->Cp : p->Cu;
}

static double rlc_gm(const tdi_gen_phys *p)
{
    return p->gu;
}

static double rlc_r_rate(const tdi_gen_phys *p)
{
    return p->gd * (p->Cu / p->gu) * (p->Cu / p->gu);
}

/* the gyrator: -gu v(p) leaves x (it injects gu v(p)); the damping gd from p to ground */
static double rlc_internal_g(const tdi_gen_phys *p, size_t row, size_t col)
{
    if (col != 1)
        return 0.0;
    return row == 0 ? -p->gu : p->gd;
}

/* the force is a current into p controlled by x: "G<px>_<x> px 0 x 0 g" */
static void rlc_self(tdi_gen_build *bd, size_t unit, double g)
{
    tdi_gen_add_elem(bd, 'G', TDI_GEN_BLK_SELF, tdi_gen_force_node(bd->c, unit), -1,
                     tdi_gen_state_node(bd->c, unit, 0), -1, g);
}

static void rlc_note(const tdi_gen_phys *p, tdi_gen_unit_note what, char *buf, size_t size)
{
    double Leq = p->Cp / (p->gu * p->gu);
    switch (what) {
    case TDI_GEN_UNIT_NOTE_NETLIST:
        snprintf(buf, size, "* rlc unit: Cp = %.6g F, damping gd = %.6g S, gyrator gu: L_eq = "
                 "Cp/gu^2 = %.6g H", p->Cp, p->gd, Leq);
        break;
    case TDI_GEN_UNIT_NOTE_PARAM:
        snprintf(buf, size, ".param Cp=%.15g gd=%.15g", p->Cp, p->gd);
        break;
    case TDI_GEN_UNIT_NOTE_PRINT:
        snprintf(buf, size, "  Cp = %.6g F, gd = %.6g S (damping), L_eq = %.6g H", p->Cp, p->gd,
                 Leq);
        break;
    }
}

static const tdi_gen_unit_kind unit_rlc = {
    .name = "rlc",
    .n_state = 2,
    .state_prefix = {"", "p"},
    .force_state = 1,
    .first_order = 0,
    .ideal_g = 1,
    .n_gm = 1,
    .subckt = ".subckt unit_rlc x p\nC1 x 0 {Cu}\nC2 p 0 {Cp}\nR1 p 0 {1/gd}\nG1 0 x p 0 {gu}\n"
              ".ends unit_rlc\n",
    .self_style = "vccs",
    .nodes_note = "; p<node>: the unit's second state node, which receives all currents",
    .derive = rlc_derive,
    .mode_rates = rlc_mode_rates,
    .mode_err = rlc_mode_err,
    .cap = rlc_cap,
    .gm = rlc_gm,
    .r_rate = rlc_r_rate,
    .internal_g = rlc_internal_g,
    .self_term = rlc_self,
    .note = rlc_note,
    .small_signal_g = NULL,
};

/* ---------- the table: the one list of unit kinds ---------- */
static const tdi_gen_unit_kind *const kinds[] = {&unit_rc, &unit_rlc};

const tdi_gen_unit_kind *tdi_gen_unit_find(const char *name)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i]->name, name) == 0)
            return kinds[i];
    return NULL;
}

void tdi_gen_names_add(char *buf, size_t size, const char *name)
{
    size_t o = strnlen(buf, size);
    if (o < size)
        snprintf(buf + o, size - o, "%s%s", o ? "|" : "", name);
}

void tdi_gen_unit_names(char *buf, size_t size)
{
    if (!size)
        return;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        tdi_gen_names_add(buf, size, kinds[i]->name);
}
