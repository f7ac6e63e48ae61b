/* tdi_sweep_cfg: the sweep file schema (format in tdi_sweep.h) and the grid expansion.
 * Invariants: every value is checked here against the component's own range before any job
 * runs (a bad grid fails at load, not in job 137); the grid order and the seed of each job are
 * pure functions of the sweep file. Non-goal: nested or conditional grids. */
#include "tdi_sweep.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_cfg.h"
#include "tdi_seed.h"

/* The circuit- and cosim-side axes beyond the fixed ones (tdi_sweep.h). One line per axis. */
const tdi_sweep_xaxis tdi_sweep_xaxes[] = {
    {"avg_relax", TDI_SWEEP_X_COSIM, offsetof(tdi_cosim_cfg, avg_relax), 0, NULL, 1e-3, 1e6, 0},
    {"readout_stage", TDI_SWEEP_X_GEN, offsetof(tdi_gen_config, readout_stage),
     sizeof(((tdi_gen_config *)0)->readout_stage), "none|rc", 0, 0, 0},
    /* a chip's non-idealities (docs/nonideal.md; the ranges of circuit.nonideal.* and cosim.*) */
    {"gain_sigma", TDI_SWEEP_X_GEN, offsetof(tdi_gen_config, ni_gain_sigma), 0, NULL, 0, 0.3, 1},
    {"self_sigma", TDI_SWEEP_X_GEN, offsetof(tdi_gen_config, ni_self_sigma), 0, NULL, 0, 0.3, 1},
    {"offset_sigma", TDI_SWEEP_X_GEN, offsetof(tdi_gen_config, ni_offset_sigma), 0, NULL, 0, 1,
     1},
    {"gout", TDI_SWEEP_X_GEN, offsetof(tdi_gen_config, ni_gout), 0, NULL, 0, 1, 1},
    {"cap_sigma", TDI_SWEEP_X_GEN, offsetof(tdi_gen_config, ni_cap_sigma), 0, NULL, 0, 0.3, 1},
    {"temperature", TDI_SWEEP_X_GEN, offsetof(tdi_gen_config, ni_temp), 0, NULL, 0, 1e4, 1},
    {"tempco", TDI_SWEEP_X_GEN, offsetof(tdi_gen_config, ni_tempco), 0, NULL, -0.1, 0.1, 0},
    {"adc_offset", TDI_SWEEP_X_COSIM, offsetof(tdi_cosim_cfg, adc_offset), 0, NULL, 0, 1e3, 1},
    {"adc_gain_err", TDI_SWEEP_X_COSIM, offsetof(tdi_cosim_cfg, adc_gain_err), 0, NULL, 0, 0.5,
     1},
    {"adc_inl", TDI_SWEEP_X_COSIM, offsetof(tdi_cosim_cfg, adc_inl), 0, NULL, 0, 1e3, 1},
    {"dac_offset", TDI_SWEEP_X_COSIM, offsetof(tdi_cosim_cfg, dac_offset), 0, NULL, 0, 1e3, 1},
    {"dac_gain_err", TDI_SWEEP_X_COSIM, offsetof(tdi_cosim_cfg, dac_gain_err), 0, NULL, 0, 0.5,
     1},
    {"dac_inl", TDI_SWEEP_X_COSIM, offsetof(tdi_cosim_cfg, dac_inl), 0, NULL, 0, 1e3, 1},
    /* the chip's calibration (docs/nonideal.md "Calibration"): the row's cal_* columns */
    {"calibrate", TDI_SWEEP_X_COSIM, offsetof(tdi_cosim_cfg, calibrate),
     sizeof(((tdi_cosim_cfg *)0)->calibrate), "none|probe|loop", 0, 0, 0},
};
const size_t tdi_sweep_n_xaxes = sizeof tdi_sweep_xaxes / sizeof tdi_sweep_xaxes[0];
_Static_assert(sizeof tdi_sweep_xaxes / sizeof tdi_sweep_xaxes[0] <= TDI_SWEEP_NX,
               "raise TDI_SWEEP_NX");

static void *xaxis_field(const tdi_sweep_xaxis *a, tdi_gen_config *g, tdi_cosim_cfg *c)
{
    return (char *)(a->target == TDI_SWEEP_X_GEN ? (void *)g : (void *)c) + a->off;
}

void tdi_sweep_xaxes_apply(const tdi_sweep_job *j, tdi_gen_config *g, tdi_cosim_cfg *c)
{
    g->chip = j->chip;
    for (size_t x = 0; x < tdi_sweep_n_xaxes; x++) {
        const tdi_sweep_xaxis *a = &tdi_sweep_xaxes[x];
        void *f = xaxis_field(a, g, c);
        if (a->size)
            snprintf(f, a->size, "%s", j->xword[x]);
        else
            memcpy(f, &j->xnum[x], sizeof(double));
    }
}

/* The sweep keys of the xaxes (appended to the fixed keys) and, after loading, their values or
 * the base config's value when a key is absent. */
static void xaxes_keys(tdi_sweep_cfg *c, char words[][128], tdi_cfg_key *k)
{
    static char names[TDI_SWEEP_NX][48];
    for (size_t x = 0; x < tdi_sweep_n_xaxes; x++) {
        const tdi_sweep_xaxis *a = &tdi_sweep_xaxes[x];
        snprintf(names[x], sizeof names[x], "sweep.%s", a->key);
        if (a->size)
            k[x] = (tdi_cfg_key){names[x], TDI_CFG_STRING, words[x], 0, 0, 128, NULL, NULL, 0};
        else
            k[x] = (tdi_cfg_key){names[x], TDI_CFG_DLIST, c->xnum[x], a->lo, a->hi,
                                 TDI_SWEEP_MAXVAL, &c->n_x[x], NULL, 0};
    }
}

static int split_words(const char *path, const char *key, const char *text, const char *choices,
                       char out[][16], size_t *n, tdi_err *err);

static int xaxes_values(tdi_sweep_cfg *c, char words[][128], const tdi_cfg_key *k, tdi_err *err)
{
    for (size_t x = 0; x < tdi_sweep_n_xaxes; x++) {
        const tdi_sweep_xaxis *a = &tdi_sweep_xaxes[x];
        void *base = xaxis_field(a, &c->gen, &c->cosim);
        if (a->size) {
            int rc = split_words(c->path, a->key, k[x].seen ? words[x] : (const char *)base,
                                 a->choices, c->xword[x], &c->n_x[x], err);
            if (rc)
                return rc;
        } else if (!k[x].seen) {
            memcpy(&c->xnum[x][0], base, sizeof(double));
            c->n_x[x] = 1;
        } else if (c->n_x[x] == 0) {
            return tdi_err_set(err, TDI_ECONFIG, "%s: sweep.%s is an empty list", c->path,
                               a->key);
        }
    }
    return 0;
}

/* sweep.substrate: every job uses this bundle; D and k are its own (a sweep.D or sweep.k
 * that differs is an error). */
static int fixed_substrate(tdi_sweep_cfg *c, tdi_err *err)
{
    if (!c->substrate[0])
        return 0;
    tdi_gen_bundle b;
    int rc = tdi_gen_bundle_read(c->substrate, &b, err);
    if (!rc && (rc = tdi_gen_bundle_need_two(&b, "tdi-sweep (jobs by D and k)", err)))
        tdi_gen_bundle_destroy(&b);
    if (rc) {
        tdi_err_prefix(err, "%s: sweep.substrate", c->path);
        return rc;
    }
    long D = (long)b.D, k = (long)b.k;
    tdi_gen_bundle_destroy(&b);
    if (c->n_D != 1 || c->n_k != 1 || c->D[0] != D || c->k[0] != k)
        if (c->n_D > 1 || c->n_k > 1 || (c->D[0] != D && c->D[0] != c->sub.D) ||
            (c->k[0] != k && c->k[0] != c->sub.k))
            return tdi_err_set(err, TDI_ECONFIG, "%s: sweep.substrate has D = %ld, k = %ld: "
                               "sweep.D and sweep.k must be absent or equal", c->path, D, k);
    c->D[0] = D;
    c->k[0] = k;
    c->n_D = c->n_k = 1;
    return 0;
}

/* Splits "a,b c" into words; each must be one of choices ("x|y|z"). */
static int split_words(const char *path, const char *key, const char *text, const char *choices,
                       char out[][16], size_t *n, tdi_err *err)
{
    *n = 0;
    const char *p = text;
    while (*p) {
        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        size_t len = 0;
        while (p[len] && p[len] != ',' && !isspace((unsigned char)p[len]))
            len++;
        if (len >= 16 || *n >= TDI_SWEEP_MAXWORD)
            return tdi_err_set(err, TDI_ECONFIG, "%s: sweep.%s: '%.*s': too long or too many "
                               "words (at most %d)", path, key, (int)len, p, TDI_SWEEP_MAXWORD);
        char w[16];
        memcpy(w, p, len);
        w[len] = '\0';
        int ok = 0;
        const char *c = choices;
        while (*c) {
            size_t cl = strcspn(c, "|");
            if (cl == len && strncmp(c, w, len) == 0)
                ok = 1;
            c += cl;
            if (*c == '|')
                c++;
        }
        if (!ok)
            return tdi_err_set(err, TDI_ECONFIG, "%s: sweep.%s: unknown value '%s' (choose from "
                               "%s, comma separated)", path, key, w, choices);
        for (size_t q = 0; q < *n; q++)
            if (strcmp(out[q], w) == 0)
                return tdi_err_set(err, TDI_ECONFIG, "%s: sweep.%s: '%s' given twice", path,
                                   key, w);
        memcpy(out[(*n)++], w, len + 1);
        p += len;
    }
    if (*n == 0)
        return tdi_err_set(err, TDI_ECONFIG, "%s: sweep.%s is empty", path, key);
    return 0;
}

/* when use: the axis is the one value v (the base config's) */
static void axis_one(int use, long *axis, size_t *n, long v)
{
    if (use) {
        axis[0] = v;
        *n = 1;
    }
}

#define NFIXED 21 /* the keys of tdi_sweep_cfg_load before the xaxes' */

/* sweep.xgrid and sweep.chips: a chips sweep gives every job the sweep's seed (chip c is then
 * the chip (seed, c) of docs/nonideal.md in every row), so replicates would repeat a job. */
static int chips_xgrid(tdi_sweep_cfg *c, const char *xgrid, tdi_err *err)
{
    if (strcmp(xgrid, "each") != 0 && strcmp(xgrid, "product") != 0)
        return tdi_err_set(err, TDI_ECONFIG, "%s: sweep.xgrid: unknown value '%s' (product | "
                           "each)", c->path, xgrid);
    c->x_each = strcmp(xgrid, "each") == 0;
    if (c->chips > 0 && c->replicates > 1)
        return tdi_err_set(err, TDI_ECONFIG, "%s: sweep.chips with sweep.replicates %ld: a chips "
                           "sweep runs every job with the sweep's seed, so replicates would "
                           "repeat it; the chip is the replicate", c->path, c->replicates);
    return 0;
}

/* largest value of xaxis key over the grid (the base's when the sweep leaves it out) */
static double xaxis_max(const tdi_sweep_cfg *c, const char *key)
{
    double m = 0;
    for (size_t x = 0; x < tdi_sweep_n_xaxes; x++)
        if (strcmp(tdi_sweep_xaxes[x].key, key) == 0 && !tdi_sweep_xaxes[x].size)
            for (size_t v = 0; v < c->n_x[x]; v++)
                m = fmax(m, c->xnum[x][v]);
    return m;
}

/* The generator's, the converters' and the calibration's conditions on a non-ideal chip
 * (docs/nonideal.md), for every job of the grid at once: behavioural non-idealities need
 * devices: ideal and unit: rc, cap_sigma needs readout_stage: none, converter errors need bits
 * (they are in LSB), calibrate probe | loop no read-out stage, and loop the skip mode. */
static int nonideal_check(const tdi_sweep_cfg *c, tdi_err *err)
{
    double gen = 0;
    static const char *const g[] = {"gain_sigma", "self_sigma", "offset_sigma", "gout",
                                    "cap_sigma", "temperature"};
    for (size_t i = 0; i < sizeof g / sizeof g[0]; i++)
        gen = fmax(gen, xaxis_max(c, g[i]));
    int rc_only = 1, stage_none = 1;
    for (size_t u = 0; u < c->n_unit; u++)
        rc_only &= strcmp(c->unit[u], "rc") == 0;
    for (size_t x = 0; x < tdi_sweep_n_xaxes; x++)
        if (strcmp(tdi_sweep_xaxes[x].key, "readout_stage") == 0)
            for (size_t v = 0; v < c->n_x[x]; v++)
                stage_none &= strcmp(c->xword[x][v], "none") == 0;
    if (gen > 0 && (!rc_only || strcmp(c->gen.devices, "ideal") != 0))
        return tdi_err_set(err, TDI_ECONFIG, "%s: the non-ideality axes (circuit.nonideal, "
                           "docs/nonideal.md) need unit: rc and devices: ideal in every job",
                           c->path);
    int cal = 0, loop = 0;
    for (size_t x = 0; x < tdi_sweep_n_xaxes; x++)
        if (strcmp(tdi_sweep_xaxes[x].key, "calibrate") == 0)
            for (size_t v = 0; v < c->n_x[x]; v++) {
                cal |= strcmp(c->xword[x][v], "none") != 0;
                loop |= strcmp(c->xword[x][v], "loop") == 0;
            }
    if (cal && (!stage_none || strcmp(c->gen.devices, "ideal") != 0))
        return tdi_err_set(err, TDI_ECONFIG, "%s: sweep.calibrate probe | loop needs "
                           "readout_stage: none and devices: ideal in every job "
                           "(docs/nonideal.md \"Calibration\")", c->path);
    if (loop && strcmp(c->sub.mode, "skip") != 0)
        return tdi_err_set(err, TDI_ECONFIG, "%s: sweep.calibrate loop needs substrate.mode "
                           "skip (the paper mode's interface is calibrated by probe only; "
                           "docs/nonideal.md \"Calibration\")", c->path);
    if (xaxis_max(c, "cap_sigma") > 0 && !stage_none)
        return tdi_err_set(err, TDI_ECONFIG, "%s: sweep.cap_sigma needs readout_stage: none in "
                           "every job (docs/nonideal.md)", c->path);
    const char *conv[2] = {"adc", "dac"};
    for (int a = 0; a < 2; a++) {
        char k[3][16];
        snprintf(k[0], sizeof k[0], "%s_offset", conv[a]);
        snprintf(k[1], sizeof k[1], "%s_gain_err", conv[a]);
        snprintf(k[2], sizeof k[2], "%s_inl", conv[a]);
        double m = fmax(xaxis_max(c, k[0]), fmax(xaxis_max(c, k[1]), xaxis_max(c, k[2])));
        const long *bits = a ? c->dac : c->adc;
        size_t nb = a ? c->n_dac : c->n_adc;
        for (size_t b = 0; b < nb && m > 0; b++)
            if (bits[b] <= 0)
                return tdi_err_set(err, TDI_ECONFIG, "%s: sweep.%s_* with %s_bits 0: converter "
                                   "errors are in LSB and need bits > 0", c->path, conv[a],
                                   conv[a]);
    }
    return 0;
}

int tdi_sweep_cfg_load(const char *path, tdi_sweep_cfg *c, tdi_err *err)
{
    memset(c, 0, sizeof *c);
    snprintf(c->path, sizeof c->path, "%s", path);
    c->seed = 1;
    c->replicates = 1;
    c->target = NAN;
    char unit[128] = "", skip[128] = "", engine[128] = "analytic", xgrid[16] = "product";
    long krange[3] = {0, 0, 1};
    size_t n_krange = 0;
    tdi_cfg_key keys[NFIXED + TDI_SWEEP_NX] = {
        {"sweep.base", TDI_CFG_STRING, c->base, 0, 0, sizeof c->base, NULL, NULL, 0},
        {"sweep.out", TDI_CFG_STRING, c->out, 0, 0, sizeof c->out, NULL, NULL, 0},
        {"sweep.seed", TDI_CFG_INT, &c->seed, 0, 4294967295.0, 0, NULL, NULL, 0},
        {"sweep.k", TDI_CFG_ILIST, c->k, 1, 4096, TDI_SWEEP_MAXVAL, &c->n_k, NULL, 0},
        {"sweep.k_range", TDI_CFG_ILIST, krange, 1, 4096, 3, &n_krange, NULL, 0},
        {"sweep.D", TDI_CFG_ILIST, c->D, 1, 4096, TDI_SWEEP_MAXVAL, &c->n_D, NULL, 0},
        {"sweep.theta", TDI_CFG_DLIST, c->theta, 1e-12, 1e12, TDI_SWEEP_MAXVAL, &c->n_theta,
         NULL, 0},
        {"sweep.Vs", TDI_CFG_DLIST, c->Vs, 1e-12, 1e3, TDI_SWEEP_MAXVAL, &c->n_Vs, NULL, 0},
        {"sweep.dac_bits", TDI_CFG_ILIST, c->dac, 0, 30, TDI_SWEEP_MAXVAL, &c->n_dac, NULL, 0},
        {"sweep.adc_bits", TDI_CFG_ILIST, c->adc, 0, 30, TDI_SWEEP_MAXVAL, &c->n_adc, NULL, 0},
        {"sweep.unit", TDI_CFG_STRING, unit, 0, 0, sizeof unit, NULL, NULL, 0},
        {"sweep.skip", TDI_CFG_STRING, skip, 0, 0, sizeof skip, NULL, NULL, 0},
        {"sweep.engine", TDI_CFG_STRING, engine, 0, 0, sizeof engine, NULL, NULL, 0},
        {"sweep.replicates", TDI_CFG_INT, &c->replicates, 1, 1e6, 0, NULL, NULL, 0},
        {"sweep.n_samples", TDI_CFG_INT, &c->n_samples, 0, 1e7, 0, NULL, NULL, 0},
        {"sweep.spice_samples", TDI_CFG_INT, &c->spice_samples, 0, 1e7, 0, NULL, NULL, 0},
        {"sweep.keep_jobs", TDI_CFG_BOOL, &c->keep_jobs, 0, 0, 0, NULL, NULL, 0},
        {"sweep.substrate", TDI_CFG_STRING, c->substrate, 0, 0, sizeof c->substrate, NULL, NULL,
         0},
        {"sweep.target", TDI_CFG_DOUBLE, &c->target, -1e6, 1, 0, NULL, NULL, 0},
        {"sweep.xgrid", TDI_CFG_STRING, xgrid, 0, 0, sizeof xgrid, NULL, NULL, 0},
        {"sweep.chips", TDI_CFG_INT, &c->chips, 0, 1e6, 0, NULL, NULL, 0},
    };
    char xw[TDI_SWEEP_NX][128];
    xaxes_keys(c, xw, keys + NFIXED);
    size_t nk = NFIXED + tdi_sweep_n_xaxes;
    int rc = tdi_cfg_load(path, keys, nk, err);
    if (rc)
        return rc;
    if (!keys[0].seen || !c->base[0])
        return tdi_err_set(err, TDI_ECONFIG, "%s: sweep.base (the preset config every job "
                           "starts from) is missing", path);
    if (keys[3].seen && keys[4].seen)
        return tdi_err_set(err, TDI_ECONFIG, "%s: sweep.k and sweep.k_range are both set; give "
                           "one", path);
    if (keys[6].seen && keys[7].seen)
        return tdi_err_set(err, TDI_ECONFIG, "%s: sweep.theta and sweep.Vs are both set; give "
                           "one (theta = kB T/(Cu Vs^2))", path);
    if (keys[4].seen) {
        if (n_krange < 2)
            return tdi_err_set(err, TDI_ECONFIG, "%s: sweep.k_range needs [first, last] or "
                               "[first, last, step]", path);
        if (krange[1] < krange[0])
            return tdi_err_set(err, TDI_ECONFIG, "%s: sweep.k_range: last %ld < first %ld",
                               path, krange[1], krange[0]);
        c->n_k = 0;
        for (long k = krange[0]; k <= krange[1]; k += krange[2]) {
            if (c->n_k >= TDI_SWEEP_MAXVAL)
                return tdi_err_set(err, TDI_ECONFIG, "%s: sweep.k_range gives more than %d "
                                   "values", path, TDI_SWEEP_MAXVAL);
            c->k[c->n_k++] = k;
        }
    }

    /* the base config, through each component's own loader */
    tdi_gen_config_init(&c->gen);
    if ((rc = tdi_sub_cfg_load(c->base, &c->sub, err)) ||
        (rc = tdi_gen_config_load(c->base, &c->gen, err)) ||
        (rc = tdi_cosim_cfg_load(c->base, &c->cosim, err))) {
        tdi_err_prefix(err, "%s: sweep.base", path);
        return rc;
    }
    c->sub.path = c->base;
    c->cosim.path = c->base;
    if (!c->out[0])
        if (snprintf(c->out, sizeof c->out, "%s/sweep", c->sub.out) >= (int)sizeof c->out)
            return tdi_err_set(err, TDI_ECONFIG, "%s: sweep.out too long", path);
    /* an axis the sweep file leaves out holds the base config's one value */
    axis_one(!keys[3].seen && !keys[4].seen, c->k, &c->n_k, c->sub.k);
    axis_one(!keys[5].seen, c->D, &c->n_D, c->sub.D);
    if (!keys[6].seen && !keys[7].seen) {
        c->theta[0] = c->gen.theta;
        c->n_theta = 1;
    }
    axis_one(!keys[8].seen, c->dac, &c->n_dac, c->cosim.dac_bits);
    axis_one(!keys[9].seen, c->adc, &c->n_adc, c->cosim.adc_bits);
    if ((rc = xaxes_values(c, xw, keys + NFIXED, err)) || (rc = fixed_substrate(c, err)) ||
        (rc = chips_xgrid(c, xgrid, err)))
        return rc;
    char units[128], skips[128]; /* the generator's tables: one list of names */
    tdi_gen_unit_names(units, sizeof units);
    tdi_gen_skip_names(skips, sizeof skips);
    if ((rc = split_words(path, "unit", keys[10].seen ? unit : c->gen.unit, units, c->unit,
                          &c->n_unit, err)) ||
        (rc = split_words(path, "skip", keys[11].seen ? skip : c->gen.skip, skips, c->skip,
                          &c->n_skip, err)))
        return rc;
    char eng[TDI_SWEEP_MAXWORD][16];
    if ((rc = split_words(path, "engine", engine, "analytic|sde|spice", eng, &c->n_engine, err)))
        return rc;
    for (size_t i = 0; i < c->n_engine; i++)
        c->engine[i] = strcmp(eng[i], "analytic") == 0 ? TDI_COSIM_ANALYTIC
                       : strcmp(eng[i], "sde") == 0    ? TDI_COSIM_SDE
                                                       : TDI_COSIM_SPICE;
    if (c->n_k == 0 || c->n_D == 0 || (c->n_theta == 0 && c->n_Vs == 0) || c->n_dac == 0 ||
        c->n_adc == 0)
        return tdi_err_set(err, TDI_ECONFIG, "%s: an axis of the grid is an empty list", path);
    return nonideal_check(c, err);
}

/* The number of xaxis points: the product of the axes' value counts, or with xgrid: each the
 * one-at-a-time list of the number axes (1 + sum (n - 1)) times the product of the word axes. */
static size_t xaxes_count(const tdi_sweep_cfg *c)
{
    size_t nn = 1, nw = 1;
    for (size_t x = 0; x < tdi_sweep_n_xaxes; x++) {
        if (!c->x_each || tdi_sweep_xaxes[x].size)
            nw *= c->n_x[x];
        else
            nn += c->n_x[x] - 1;
    }
    return nn * nw;
}

/* xgrid: each: point p of the number axes' list (0: every axis at its first value; then each
 * axis in table order through its values after the first) */
static void xaxes_pick_each(const tdi_sweep_cfg *c, size_t p, tdi_sweep_job *j)
{
    for (size_t x = 0; x < tdi_sweep_n_xaxes; x++) {
        if (tdi_sweep_xaxes[x].size)
            continue;
        j->xnum[x] = c->xnum[x][0];
        if (p > 0 && p < c->n_x[x]) {
            j->xnum[x] = c->xnum[x][p];
            p = 0;
        } else if (p > 0) {
            p -= c->n_x[x] - 1;
        }
    }
}

/* The xaxes' values of mixed-radix index xi (the first axis varies slowest; with xgrid: each,
 * the number axes' point is the slowest digit). */
static void xaxes_pick(const tdi_sweep_cfg *c, size_t xi, tdi_sweep_job *j)
{
    for (size_t x = tdi_sweep_n_xaxes; x-- > 0;) {
        if (c->x_each && !tdi_sweep_xaxes[x].size)
            continue;
        size_t v = xi % c->n_x[x];
        xi /= c->n_x[x];
        if (tdi_sweep_xaxes[x].size)
            snprintf(j->xword[x], sizeof j->xword[x], "%s", c->xword[x][v]);
        else
            j->xnum[x] = c->xnum[x][v];
    }
    if (c->x_each)
        xaxes_pick_each(c, xi, j);
}

int tdi_sweep_grid(const tdi_sweep_cfg *c, tdi_sweep_job **jobs, size_t *n, tdi_err *err)
{
    size_t nt = c->n_Vs ? c->n_Vs : c->n_theta, nx = xaxes_count(c);
    size_t nchip = c->chips > 0 ? (size_t)c->chips : 1;
    size_t cap = c->n_D * c->n_k * nt * c->n_dac * c->n_adc * nx * c->n_unit * c->n_skip *
                 c->n_engine * nchip * (size_t)c->replicates;
    *jobs = NULL;
    *n = 0;
    if (cap > 10000000)
        return tdi_err_set(err, TDI_ECONFIG, "%s: the grid has %zu points (limit 10^7)", c->path,
                           cap);
    tdi_sweep_job *J = calloc(cap ? cap : 1, sizeof *J);
    if (!J)
        return tdi_err_set(err, TDI_ENOMEM, "sweep grid: out of memory");
    size_t m = 0;
    for (size_t a = 0; a < c->n_D; a++)
        for (size_t b = 0; b < c->n_k; b++) {
            if (c->k[b] > c->D[a])
                continue;
            for (size_t t = 0; t < nt; t++)
                for (size_t d = 0; d < c->n_dac; d++)
                    for (size_t e = 0; e < c->n_adc; e++)
                      for (size_t xi = 0; xi < nx; xi++)
                        for (size_t u = 0; u < c->n_unit; u++)
                            for (size_t s = 0; s < c->n_skip; s++)
                                for (size_t g = 0; g < c->n_engine; g++)
                                  for (size_t ch = 0; ch < nchip; ch++)
                                    for (long r = 0; r < c->replicates; r++) {
                                        tdi_sweep_job *j = &J[m];
                                        j->index = m;
                                        j->D = c->D[a];
                                        j->k = c->k[b];
                                        if (c->n_Vs) {
                                            j->Vs = c->Vs[t];
                                            j->theta = tdi_phys_theta_of_vs(c->gen.T, c->gen.Cu, j->Vs);
                                        } else {
                                            j->theta = c->theta[t];
                                            j->Vs = tdi_phys_vs_of_theta(c->gen.T, c->gen.Cu, j->theta);
                                        }
                                        j->dac_bits = c->dac[d];
                                        j->adc_bits = c->adc[e];
                                        xaxes_pick(c, xi, j);
                                        snprintf(j->unit, sizeof j->unit, "%s", c->unit[u]);
                                        snprintf(j->skip, sizeof j->skip, "%s", c->skip[s]);
                                        j->engine = c->engine[g];
                                        j->chip = c->chips > 0 ? (long)ch : c->gen.chip;
                                        j->replicate = r;
                                        j->seed = c->chips > 0 ? (unsigned long)c->seed
                                                  : (unsigned long)tdi_seed(
                                            (uint64_t)c->seed, TDI_SEED_SWEEP_JOB, m);
                                        m++;
                                    }
        }
    if (m == 0) {
        free(J);
        return tdi_err_set(err, TDI_ECONFIG, "%s: the grid is empty (every k exceeds every D?)",
                           c->path);
    }
    *jobs = J;
    *n = m;
    return 0;
}
