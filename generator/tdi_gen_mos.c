/* tdi_gen_mos: the transistor-level device list (circuit.devices: mos; docs/devices.md). Each
 * G element (and each R element with g < 0) becomes one 5-transistor OTA plus its bias generator,
 * sized from a gm/ID target with a gm/ID table (the shipped card's, or circuit.mos_gmid's);
 * optional Pelgrom mismatch per
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
 * (models/tdi-bsim4.lib) at L = 1 um, |VDS| = 0.9 V (n) / 0.5 V (p), 27 C, VSB = 0 (tab_n: tail
 * and bias; tab_p) or VSB = 0.45 V (tab_nb: the pair, whose sources sit near vcm - VGS): every
 * 5th point of an ngspice 39 DC sweep of VGS in 5 mV steps (the deck: docs/devices.md
 * "Sizing"). Ascending J, descending gm/ID. */
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

static const mos_pt tab_nb[] = {
    {1.1431e-11, 30.6762}, {2.4586e-11, 30.5863}, {5.2744e-11, 30.4700}, {1.1277e-10, 30.3161},
    {2.4004e-10, 30.1097}, {5.0789e-10, 29.8317}, {1.0659e-09, 29.4590}, {2.2132e-09, 28.9670},
    {4.5314e-09, 28.3353}, {9.1156e-09, 27.5560}, {1.7952e-08, 26.6425}, {3.4510e-08, 25.6277},
    {6.4619e-08, 24.5406}, {1.1764e-07, 23.3683}, {2.0761e-07, 22.0450}, {3.5354e-07, 20.5026},
    {5.7765e-07, 18.7431}, {9.0153e-07, 16.8565}, {1.3419e-06, 14.9737}, {1.9079e-06, 13.2089},
    {2.6015e-06, 11.6309}, {3.4190e-06, 10.2646}, {4.3538e-06, 9.1043}, {5.3983e-06, 8.1286},
    {6.5455e-06, 7.3104}, {7.7889e-06, 6.6229}, {9.1231e-06, 6.0421}, {1.0544e-05, 5.5481},
    {1.2047e-05, 5.1244}, {1.3629e-05, 4.7579}, {1.5288e-05, 4.4382}, {1.7021e-05, 4.1570},
    {1.8825e-05, 3.9079}, {2.0699e-05, 3.6856}, {2.2639e-05, 3.4860}, {2.4644e-05, 3.3058},
    {2.6712e-05, 3.1421}, {2.8840e-05, 2.9927},
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

/* One gm/ID table: points ascending in J. */
typedef struct {
    const mos_pt *pt;
    size_t n;
} mos_tab;

/* The tables of a build: n (tail, bias), b (pair), p (mirror); own: a user file's points. */
typedef struct {
    mos_tab t[3];
    mos_pt *own[3];
} mos_tabs;

static int tab_slot(char type)
{
    return type == 'n' ? 0 : (type == 'b' ? 1 : 2);
}

/* type 'n' | 'p' | 'b' (the pair NMOS, body at VSB = 0.45 V) of the shipped card */
static mos_tab mos_shipped(char type)
{
    if (type == 'b')
        return (mos_tab){tab_nb, sizeof tab_nb / sizeof tab_nb[0]};
    if (type == 'n')
        return (mos_tab){tab_n, sizeof tab_n / sizeof tab_n[0]};
    return (mos_tab){tab_p, sizeof tab_p / sizeof tab_p[0]};
}

/* gm/ID at current density J (A per square): linear in ln J between table points, the end
 * values outside (weak inversion: gm/ID saturates; strong: the last point). */
static double tab_gmid(mos_tab tb, double J)
{
    const mos_pt *t = tb.pt;
    if (J <= t[0].j)
        return t[0].gmid;
    for (size_t i = 1; i < tb.n; i++)
        if (J <= t[i].j) {
            double f = log(J / t[i - 1].j) / log(t[i].j / t[i - 1].j);
            return t[i - 1].gmid + f * (t[i].gmid - t[i - 1].gmid);
        }
    return t[tb.n - 1].gmid;
}

/* The current density at which gm/ID = target (the inverse of tab_gmid). */
static double tab_j(mos_tab tb, double target)
{
    const mos_pt *t = tb.pt;
    if (target >= t[0].gmid)
        return t[0].j;
    for (size_t i = 1; i < tb.n; i++)
        if (target >= t[i].gmid) {
            double f = (target - t[i - 1].gmid) / (t[i].gmid - t[i - 1].gmid);
            return t[i - 1].j * exp(f * log(t[i].j / t[i - 1].j));
        }
    return t[tb.n - 1].j;
}

/* The drain current (A) at which a device of width W has transconductance gm:
 * id gm/ID(id L / W) = gm, increasing in id; bisection in ln id over [1e-18, 1] A. */
static double tab_id_for_gm(mos_tab tb, double gm, double W, double L)
{
    double lo = log(1e-18), hi = log(1.0);
    for (int it = 0; it < 200 && hi - lo > 1e-13; it++) {
        double mid = 0.5 * (lo + hi), id = exp(mid);
        if (id * tab_gmid(tb, id * L / W) < gm)
            lo = mid;
        else
            hi = mid;
    }
    return exp(0.5 * (lo + hi));
}

double tdi_gen_mos_gmid(char type, double J)
{
    return tab_gmid(mos_shipped(type), J);
}

double tdi_gen_mos_id_for_gm(char type, double gm, double W, double L)
{
    return tab_id_for_gm(mos_shipped(type), gm, W, L);
}

/* W (m) for drain current id at gm/ID = target: L id / J(target), rounded to the grid and
 * clamped to [w_min, w_max] (both rounded onto the grid, w_min up). */
static double mos_width(const tdi_gen_config *cfg, mos_tab tb, double id, double target)
{
    double g = cfg->mos_w_grid;
    double w = cfg->mos_l * id / tab_j(tb, target);
    double wmin = ceil(cfg->mos_w_min / g - 1e-9) * g, wmax = floor(cfg->mos_w_max / g + 1e-9) * g;
    w = round(w / g) * g;
    return w < wmin ? wmin : (w > wmax ? wmax : w);
}

/* ---------- a user's gm/ID table (circuit.mos_gmid) ----------
 * Text, one point a line: "<n|b|p> <J: A per square> <gm/ID: 1/V>", '#' comments; per type J
 * strictly ascending and gm/ID > 0; n and p need two points or more, b (the pair at its source
 * voltage) defaults to n. */
static int tabs_add(mos_tabs *T, int k, double j, double g)
{
    size_t n = T->t[k].n;
    mos_pt *p = realloc(T->own[k], (n + 1) * sizeof *p);
    if (!p)
        return -1;
    p[n] = (mos_pt){j, g};
    T->own[k] = p;
    T->t[k] = (mos_tab){p, n + 1};
    return 0;
}

static int tabs_line(mos_tabs *T, const char *line, const char *path, long ln, tdi_err *err)
{
    char ty;
    double j, g;
    while (*line == ' ' || *line == '\t')
        line++;
    if (!*line || *line == '#' || *line == '\n')
        return 0;
    if (sscanf(line, " %c %lf %lf", &ty, &j, &g) != 3 || (ty != 'n' && ty != 'b' && ty != 'p') ||
        !(j > 0) || !(g > 0) || !isfinite(j) || !isfinite(g))
        return tdi_err_set(err, TDI_EFORMAT, "%s:%ld: want \"<n|b|p> <J A> <gm/ID 1/V>\" with "
                           "J, gm/ID > 0 (circuit.mos_gmid; docs/devices.md)", path, ln);
    int k = tab_slot(ty);
    if (T->t[k].n && !(j > T->t[k].pt[T->t[k].n - 1].j))
        return tdi_err_set(err, TDI_EFORMAT, "%s:%ld: J must ascend within type %c", path, ln,
                           ty);
    if (tabs_add(T, k, j, g))
        return tdi_err_set(err, TDI_ENOMEM, "gm/ID table: out of memory");
    return 0;
}

static void tabs_free(mos_tabs *T)
{
    for (int k = 0; k < 3; k++)
        free(T->own[k]);
}

/* The build's tables: the shipped card's, or the file's (cfg->mos_gmid). */
static int tabs_load(const tdi_gen_config *cfg, mos_tabs *T, tdi_err *err)
{
    memset(T, 0, sizeof *T);
    if (!cfg->mos_gmid[0]) {
        T->t[0] = mos_shipped('n');
        T->t[1] = mos_shipped('b');
        T->t[2] = mos_shipped('p');
        return 0;
    }
    FILE *f = fopen(cfg->mos_gmid, "r");
    if (!f)
        return tdi_err_set(err, TDI_EIO, "%s: circuit.mos_gmid: cannot read the gm/ID table '%s'",
                           cfg->path, cfg->mos_gmid);
    char line[512];
    long ln = 0;
    int rc = 0;
    while (!rc && fgets(line, sizeof line, f))
        rc = tabs_line(T, line, cfg->mos_gmid, ++ln, err);
    fclose(f);
    if (!rc && (T->t[0].n < 2 || T->t[2].n < 2))
        rc = tdi_err_set(err, TDI_EFORMAT, "%s: needs two points or more of types n and p "
                         "(circuit.mos_gmid)", cfg->mos_gmid);
    if (!rc && T->t[1].n == 0)
        T->t[1] = T->t[0];
    return rc;
}

/* ---------- building the list ---------- */
typedef struct {
    tdi_gen_circuit *c;
    const tdi_gen_config *cfg;
    mos_tabs tabs;
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
    d->gm = id * tab_gmid(b->tabs.t[tab_slot(role == TDI_GEN_DEV_PAIR ? 'b' : type)],
                          id * d->L / W);
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
    const mos_tab *tb = b->tabs.t; /* n, b, p */
    double wp = mos_width(cfg, tb[1], gm / t, t);
    double id = tab_id_for_gm(tb[1], gm, wp, L);
    o->i_tail = 2 * id;
    double wm = mos_width(cfg, tb[2], id, t), wt = mos_width(cfg, tb[0], 2 * id, t / 2);
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
    double g = tdi_gen_mos_g(c, e); /* e->g, or compensated (tdi_gen_mos_comp.c) */
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
    double gm = fabs(g);
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

/* The device list of c from its element list and c->mos_cfg (the OTAs, their sizing, the
 * hierarchy's instances, the mismatch draws); any earlier list is replaced. */
static int mos_devices(tdi_gen_circuit *c, tdi_err *err)
{
    const tdi_gen_config *cfg = c->mos_cfg;
    free(c->dev);
    free(c->ota);
    c->dev = NULL;
    c->ota = NULL;
    c->n_dev = c->n_ota = 0;
    c->phys.i_tail_sum = 0;
    mos_bd b = {.c = c, .cfg = cfg};
    int rc = tabs_load(cfg, &b.tabs, err);
    for (size_t i = 0; i < c->n_elems && !rc; i++)
        if (mos_elem(&b, i))
            rc = tdi_err_set(err, TDI_ENOMEM, "device list: out of memory");
    tabs_free(&b.tabs);
    if (rc)
        return rc;
    if (c->hier) /* each device in its element's subcircuit (tdi_gen_mos_hier.c) */
        tdi_gen_mos_hier_assign(c);
    if (cfg->mos_mismatch)
        return mos_mismatch(c, cfg, err);
    return 0;
}

int tdi_gen_mos_rebuild(tdi_gen_circuit *c, tdi_err *err)
{
    if (!c->phys.mos || !c->mos_cfg)
        return tdi_err_set(err, TDI_EARG, "device list: not a transistor-level circuit");
    return mos_devices(c, err);
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
    return mos_devices(c, err);
}
