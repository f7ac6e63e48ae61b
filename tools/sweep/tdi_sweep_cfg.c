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
    {"avg_relax", TDI_SWEEP_X_COSIM, offsetof(tdi_cosim_cfg, avg_relax), 0, NULL, 1e-3, 1e6},
    {"readout_stage", TDI_SWEEP_X_GEN, offsetof(tdi_gen_config, readout_stage),
     sizeof(((tdi_gen_config *)0)->readout_stage), "none|rc", 0, 0},
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

int tdi_sweep_cfg_load(const char *path, tdi_sweep_cfg *c, tdi_err *err)
{
    memset(c, 0, sizeof *c);
    snprintf(c->path, sizeof c->path, "%s", path);
    c->seed = 1;
    c->replicates = 1;
    c->target = NAN;
    char unit[128] = "", skip[128] = "", engine[128] = "analytic";
    long krange[3] = {0, 0, 1};
    size_t n_krange = 0;
    tdi_cfg_key keys[19 + TDI_SWEEP_NX] = {
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
    };
    char xw[TDI_SWEEP_NX][128];
    xaxes_keys(c, xw, keys + 19);
    size_t nk = 19 + tdi_sweep_n_xaxes;
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
    if ((rc = xaxes_values(c, xw, keys + 19, err)) || (rc = fixed_substrate(c, err)))
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
    return 0;
}

/* The xaxes' values of mixed-radix index xi (the first axis varies slowest). */
static void xaxes_pick(const tdi_sweep_cfg *c, size_t xi, tdi_sweep_job *j)
{
    for (size_t x = tdi_sweep_n_xaxes; x-- > 0;) {
        size_t v = xi % c->n_x[x];
        xi /= c->n_x[x];
        if (tdi_sweep_xaxes[x].size)
            snprintf(j->xword[x], sizeof j->xword[x], "%s", c->xword[x][v]);
        else
            j->xnum[x] = c->xnum[x][v];
    }
}

int tdi_sweep_grid(const tdi_sweep_cfg *c, tdi_sweep_job **jobs, size_t *n, tdi_err *err)
{
    size_t nt = c->n_Vs ? c->n_Vs : c->n_theta, nx = 1;
    for (size_t x = 0; x < tdi_sweep_n_xaxes; x++)
        nx *= c->n_x[x];
    size_t cap = c->n_D * c->n_k * nt * c->n_dac * c->n_adc * nx * c->n_unit * c->n_skip *
                 c->n_engine * (size_t)c->replicates;
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
                                        j->replicate = r;
                                        j->seed = (unsigned long)tdi_seed(
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
