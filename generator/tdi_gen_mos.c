/* tdi_gen_mos: the transistor-level device list (circuit.devices: mos; docs/devices.md). Each
 * G element (and each R element with g < 0) becomes one 5-transistor OTA plus its bias generator,
 * sized from a gm/ID target with the shipped card's gm/ID table; optional Pelgrom mismatch per
 * device. Invariant: the list depends only on (element list, config, seed, chip): same inputs,
 * same devices, same draws. Non-goals: formatting the cards (tdi_gen_emit.c), device noise
 * sizing (the co-simulator's op pass fills psd_w / psd_f1). */
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_gen_int.h"

/* gm/ID (1/V) against the drain current per square J = ID / (W/L) (A) of the shipped card
 * (models/tdi-bsim4.lib) at L = 1 um, VSB = 0, |VDS| = 0.9 V (n) / 0.5 V (p), 27 C: every 5th
 * point of an ngspice 39 DC sweep of VGS in 5 mV steps (the deck: docs/devices.md "Sizing").
 * Ascending J, descending gm/ID. */
typedef struct {
    double j, gmid;
} mos_pt;

static const mos_pt tab_n[] = {
    {1.1052e-11, 29.4815}, {2.3073e-11, 29.4017}, {4.8062e-11, 29.3007}, {9.9827e-11, 29.1698},
    {2.0657e-10, 28.9976}, {4.2533e-10, 28.7695}, {8.7000e-10, 28.4676}, {1.7642e-09, 28.0722},
    {3.5375e-09, 27.5655}, {6.9933e-09, 26.9371}, {1.3589e-08, 26.1915}, {2.5887e-08, 25.3508},
    {4.8244e-08, 24.4421}, {8.7822e-08, 23.4684}, {1.5583e-07, 22.3806}, {2.6846e-07, 21.0960},
    {4.4651e-07, 19.5646}, {7.1277e-07, 17.8236}, {1.0877e-06, 15.9852}, {1.5856e-06, 14.1799},
    {2.2127e-06, 12.5086}, {2.9682e-06, 11.0263}, {3.8467e-06, 9.7483},  {4.8404e-06, 8.6647},
    {5.9411e-06, 7.7535},  {7.1413e-06, 6.9885},  {8.4345e-06, 6.3446},  {9.8154e-06, 5.7998},
    {1.1280e-05, 5.3353},  {1.2823e-05, 4.9362},  {1.4444e-05, 4.5904},  {1.6138e-05, 4.2882},
    {1.7903e-05, 4.0221},  {1.9737e-05, 3.7859},  {2.1638e-05, 3.5748},  {2.3604e-05, 3.3850},
    {2.5632e-05, 3.2133},  {2.7722e-05, 3.0572},  {2.9869e-05, 2.9146},
};

static const mos_pt tab_p[] = {
    {1.0652e-11, 29.3232}, {2.2139e-11, 29.1995}, {4.5851e-11, 29.0373}, {9.4517e-11, 28.8231},
    {1.9364e-10, 28.5402}, {3.9349e-10, 28.1704}, {7.9127e-10, 27.6974}, {1.5703e-09, 27.1124},
    {3.0668e-09, 26.4216}, {5.8805e-09, 25.6494}, {1.1053e-08, 24.8261}, {2.0340e-08, 23.9554},
    {3.6583e-08, 22.9808}, {6.4064e-08, 21.7997}, {1.0855e-07, 20.3378}, {1.7672e-07, 18.6175},
    {2.7503e-07, 16.7536}, {4.0842e-07, 14.8906}, {5.7964e-07, 13.1461}, {7.8930e-07, 11.5877},
    {1.0364e-06, 10.2386}, {1.3192e-06, 9.0924},  {1.6355e-06, 8.1279},  {1.9832e-06, 7.3184},
    {2.3606e-06, 6.6376},  {2.7662e-06, 6.0619},  {3.1986e-06, 5.5717},  {3.6569e-06, 5.1506},
    {4.1401e-06, 4.7855},  {4.6472e-06, 4.4660},  {5.1775e-06, 4.1836},  {5.7299e-06, 3.9314},
    {6.3035e-06, 3.7040},  {6.8969e-06, 3.4965},  {7.5087e-06, 3.3050},  {8.1371e-06, 3.1264},
    {8.7799e-06, 2.9580},  {9.4347e-06, 2.7981},  {1.0099e-05, 2.6458},  {1.0770e-05, 2.5010},
    {1.1445e-05, 2.3640},  {1.2122e-05, 2.2352},
};

static const mos_pt *mos_tab(char type, size_t *n)
{
    *n = type == 'n' ? sizeof tab_n / sizeof tab_n[0] : sizeof tab_p / sizeof tab_p[0];
    return type == 'n' ? tab_n : tab_p;
}

/* gm/ID at current density J (A per square): linear in ln J between table points, the end
 * values outside (weak inversion: gm/ID saturates; strong: the last point). */
double tdi_gen_mos_gmid(char type, double J)
{
    size_t n;
    const mos_pt *t = mos_tab(type, &n);
    if (J <= t[0].j)
        return t[0].gmid;
    for (size_t i = 1; i < n; i++)
        if (J <= t[i].j) {
            double f = log(J / t[i - 1].j) / log(t[i].j / t[i - 1].j);
            return t[i - 1].gmid + f * (t[i].gmid - t[i - 1].gmid);
        }
    return t[n - 1].gmid;
}

/* The current density at which gm/ID = target (the inverse of tdi_gen_mos_gmid). */
static double mos_j_of_gmid(char type, double target)
{
    size_t n;
    const mos_pt *t = mos_tab(type, &n);
    if (target >= t[0].gmid)
        return t[0].j;
    for (size_t i = 1; i < n; i++)
        if (target >= t[i].gmid) {
            double f = (target - t[i - 1].gmid) / (t[i].gmid - t[i - 1].gmid);
            return t[i - 1].j * exp(f * log(t[i].j / t[i - 1].j));
        }
    return t[n - 1].j;
}

/* W (m) for drain current id at gm/ID = target: L id / J(target), rounded to the grid and
 * clamped to [w_min, w_max] (both rounded onto the grid, w_min up). */
static double mos_width(const tdi_gen_config *cfg, char type, double id, double target)
{
    double g = cfg->mos_w_grid;
    double w = cfg->mos_l * id / mos_j_of_gmid(type, target);
    double wmin = ceil(cfg->mos_w_min / g - 1e-9) * g, wmax = floor(cfg->mos_w_max / g + 1e-9) * g;
    w = round(w / g) * g;
    return w < wmin ? wmin : (w > wmax ? wmax : w);
}

/* The drain current (A) at which a device of width W has transconductance gm:
 * id gm/ID(id L / W) = gm, increasing in id; bisection in ln id over [1e-18, 1] A. */
double tdi_gen_mos_id_for_gm(char type, double gm, double W, double L)
{
    double lo = log(1e-18), hi = log(1.0);
    for (int it = 0; it < 200 && hi - lo > 1e-13; it++) {
        double mid = 0.5 * (lo + hi), id = exp(mid);
        if (id * tdi_gen_mos_gmid(type, id * L / W) < gm)
            lo = mid;
        else
            hi = mid;
    }
    return exp(0.5 * (lo + hi));
}

/* ---------- building the list ---------- */
typedef struct {
    tdi_gen_circuit *c;
    const tdi_gen_config *cfg;
    size_t cap_dev, cap_ota;
} mos_bd;

static const char *mos_node(const tdi_gen_circuit *c, int i)
{
    return i < 0 ? "vcm" : c->nodes[i].name;
}

static tdi_gen_dev *mos_add_dev(mos_bd *b)
{
    tdi_gen_circuit *c = b->c;
    if (c->n_dev == b->cap_dev) {
        size_t nc = b->cap_dev ? 2 * b->cap_dev : 64;
        tdi_gen_dev *d = realloc(c->dev, nc * sizeof *d);
        if (!d)
            return NULL;
        c->dev = d;
        b->cap_dev = nc;
    }
    tdi_gen_dev *d = &c->dev[c->n_dev++];
    memset(d, 0, sizeof *d);
    d->mulu0 = 1.0;
    return d;
}

/* One device of OTA k: name <prefix>ota<k>_<tag>, nodes, size and design bias. */
static int mos_dev(mos_bd *b, size_t k, const char *tag, char type, int role, const char *dn,
                   const char *gn, const char *sn, double W, double id)
{
    tdi_gen_dev *d = mos_add_dev(b);
    if (!d)
        return -1;
    snprintf(d->name, sizeof d->name, "%sota%zu_%s", b->cfg->mos_prefix, k, tag);
    d->type = type;
    d->role = role;
    d->ota = k;
    snprintf(d->d, sizeof d->d, "%s", dn);
    snprintf(d->g, sizeof d->g, "%s", gn);
    snprintf(d->s, sizeof d->s, "%s", sn);
    d->W = W;
    d->L = b->cfg->mos_l;
    d->id = id;
    d->gm = id * tdi_gen_mos_gmid(type, id * d->L / W);
    return 0;
}

/* One OTA injecting gm (v(inp) - v(inn)) into out, realising element e; sign as in
 * tdi_gen_ota. Pair and mirror at the gm/ID target; tail and bias diode at half of it (stronger
 * inversion: better matching of the 1:1 bias mirror). The pair's current solves gm exactly on
 * the table at its quantised W. */
static int mos_ota(mos_bd *b, size_t e, double gm, int sign, const char *out, const char *inp,
                   const char *inn)
{
    tdi_gen_circuit *c = b->c;
    const tdi_gen_config *cfg = b->cfg;
    if (c->n_ota == b->cap_ota) {
        size_t nc = b->cap_ota ? 2 * b->cap_ota : 32;
        tdi_gen_ota *o = realloc(c->ota, nc * sizeof *o);
        if (!o)
            return -1;
        c->ota = o;
        b->cap_ota = nc;
    }
    size_t k = c->n_ota++;
    tdi_gen_ota *o = &c->ota[k];
    memset(o, 0, sizeof *o);
    snprintf(o->name, sizeof o->name, "ota%zu", k);
    o->elem = e;
    o->gm = gm;
    o->sign = sign;
    snprintf(o->out, sizeof o->out, "%s", out);
    snprintf(o->inp, sizeof o->inp, "%s", inp);
    snprintf(o->inn, sizeof o->inn, "%s", inn);
    double t = cfg->mos_gm_over_id, L = cfg->mos_l;
    double wp = mos_width(cfg, 'n', gm / t, t);
    double id = tdi_gen_mos_id_for_gm('n', gm, wp, L);
    o->i_tail = 2 * id;
    double wm = mos_width(cfg, 'p', id, t), wt = mos_width(cfg, 'n', 2 * id, t / 2);
    char nt[48], nd[48], nb[48];
    snprintf(nt, sizeof nt, "ota%zu_t", k);
    snprintf(nd, sizeof nd, "ota%zu_d", k);
    snprintf(nb, sizeof nb, "ota%zu_b", k);
    if (mos_dev(b, k, "1", 'n', TDI_GEN_DEV_PAIR, nd, inp, nt, wp, id) ||
        mos_dev(b, k, "2", 'n', TDI_GEN_DEV_PAIR, out, inn, nt, wp, id) ||
        mos_dev(b, k, "3", 'p', TDI_GEN_DEV_MIRROR, nd, nd, "vdd", wm, id) ||
        mos_dev(b, k, "4", 'p', TDI_GEN_DEV_MIRROR, out, nd, "vdd", wm, id) ||
        mos_dev(b, k, "5", 'n', TDI_GEN_DEV_TAIL, nt, nb, "0", wt, 2 * id) ||
        mos_dev(b, k, "b", 'n', TDI_GEN_DEV_BIAS, nb, nb, "0", wt, 2 * id))
        return -1;
    c->phys.i_tail_sum += o->i_tail;
    return 0;
}

/* The OTA(s) of one element. G "a b c d g" injects g (v(c) - v(d)) into b and removes it from
 * a; an R element with g < 0 injects |g| (v(a) - v(b)) into a (and the mirror image into b). */
static int mos_elem(mos_bd *b, size_t ei)
{
    const tdi_gen_circuit *c = b->c;
    const tdi_gen_elem *e = &c->elems[ei];
    if (e->kind == 'R' && e->g > 0)
        return 0; /* a resistor to vcm (or between its nodes) */
    int outs[2], ctl[2], ref[2], n = 0;
    double s[2];
    if (e->kind == 'R') {
        outs[n] = e->a, ctl[n] = e->a, ref[n] = e->b, s[n++] = 1;
        if (e->b >= 0)
            outs[n] = e->b, ctl[n] = e->b, ref[n] = e->a, s[n++] = 1;
    } else {
        if (e->b >= 0)
            outs[n] = e->b, ctl[n] = e->c, ref[n] = e->d, s[n++] = e->g > 0 ? 1 : -1;
        if (e->a >= 0)
            outs[n] = e->a, ctl[n] = e->c, ref[n] = e->d, s[n++] = e->g > 0 ? -1 : 1;
    }
    double gm = fabs(e->g);
    for (int q = 0; q < n; q++) {
        const char *o = mos_node(c, outs[q]), *x = mos_node(c, ctl[q]), *r = mos_node(c, ref[q]);
        int rc = s[q] > 0 ? mos_ota(b, ei, gm, 1, o, x, r) : mos_ota(b, ei, gm, -1, o, r, x);
        if (rc)
            return rc;
    }
    return 0;
}

/* Pelgrom draws per device in list order: delvto ~ N(0, A_VT / sqrt(W L)), then
 * mulu0 = 1 + N(0, A_beta / sqrt(W L)); one mt19937 stream seeded (seed, MISMATCH, chip). */
static int mos_mismatch(tdi_gen_circuit *c, const tdi_gen_config *cfg, tdi_err *err)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r)
        return tdi_err_set(err, TDI_ENOMEM, "mismatch: out of memory");
    gsl_rng_set(r, (unsigned long)tdi_seed((uint64_t)cfg->seed, TDI_SEED_MISMATCH,
                                           (uint64_t)cfg->chip));
    for (size_t i = 0; i < c->n_dev; i++) {
        tdi_gen_dev *d = &c->dev[i];
        double a = 1.0 / sqrt(d->W * d->L);
        d->delvto = gsl_ran_gaussian(r, cfg->mos_avt * a);
        d->mulu0 = 1.0 + gsl_ran_gaussian(r, cfg->mos_abeta * a);
    }
    gsl_rng_free(r);
    return 0;
}

/* The card or PDK file must exist and be readable at generation time; its absolute path goes
 * onto the .include/.lib card so that the netlist runs from any directory. */
static int mos_lib_path(tdi_gen_config *cfg, tdi_err *err)
{
    char abs[PATH_MAX];
    FILE *f = fopen(cfg->mos_lib, "r");
    if (!f || !realpath(cfg->mos_lib, abs)) {
        if (f)
            fclose(f);
        return tdi_err_set(err, TDI_EIO, "%s: circuit.mos_lib: cannot read the model card '%s' "
                           "(a path relative to the working directory; docs/devices.md)",
                           cfg->path, cfg->mos_lib);
    }
    fclose(f);
    if (strlen(abs) >= sizeof cfg->mos_lib)
        return tdi_err_set(err, TDI_ECONFIG, "%s: circuit.mos_lib: the absolute path of '%s' is "
                           "too long", cfg->path, cfg->mos_lib);
    memcpy(cfg->mos_lib, abs, strlen(abs) + 1);
    return 0;
}

int tdi_gen_mos_build(tdi_gen_circuit *c, const tdi_gen_config *cfg, tdi_err *err)
{
    c->phys.v_ref = 0;
    if (strcmp(cfg->devices, "mos") != 0)
        return 0;
    c->mos_cfg = malloc(sizeof *c->mos_cfg);
    if (!c->mos_cfg)
        return tdi_err_set(err, TDI_ENOMEM, "device list: out of memory");
    *c->mos_cfg = *cfg;
    int rc = mos_lib_path(c->mos_cfg, err);
    if (rc)
        return rc;
    c->phys.mos = 1;
    c->phys.v_ref = cfg->mos_vcm;
    c->phys.vdd = cfg->mos_vdd;
    c->phys.i_tail_sum = 0;
    mos_bd b = {.c = c, .cfg = c->mos_cfg};
    for (size_t i = 0; i < c->n_elems; i++)
        if (mos_elem(&b, i))
            return tdi_err_set(err, TDI_ENOMEM, "device list: out of memory");
    if (cfg->mos_mismatch)
        return mos_mismatch(c, cfg, err);
    return 0;
}
