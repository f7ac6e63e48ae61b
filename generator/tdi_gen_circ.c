/* tdi_gen_circ: config + bundle -> circuit, as stages: derived physics (docs/physics.md 1, 2,
 * 4, 5; the unit kind's hooks, tdi_gen_unit.c), samples, the element list (self terms, then the
 * realisations of tdi_gen_real.c per module and module pair, the read-out stage), the wire
 * report and the Schur-complement reduction used to verify them.
 * Invariant: reduce(elements) == gu * M to rounding for every realisation and unit kind; node
 * order is x0..x{D-1}, y0..y{D-1}, then further state nodes (rlc p) or (read-out stage) r<y>
 * nodes, then buses; the stage block comes last and is left out of the reduction (it does not
 * load the substrate). Non-goal: text formatting (tdi_gen_emit.c). */
#include "tdi_clock.h"
#include "tdi_gen.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_linalg.h>

#include "tdi_gen_int.h"
#include "tdi_io.h"
#include "tdi_seed.h"

/* ---------- growable node and element lists ---------- */
int tdi_gen_add_node(tdi_gen_build *b, const char *name, tdi_gen_node_kind kind, size_t index)
{
    tdi_gen_circuit *c = b->c;
    if (c->n_nodes == b->cap_nodes) {
        size_t nc = b->cap_nodes ? 2 * b->cap_nodes : 256;
        tdi_gen_node *p = realloc(c->nodes, nc * sizeof *p);
        if (!p) {
            b->err = 1;
            return -1;
        }
        c->nodes = p;
        b->cap_nodes = nc;
    }
    tdi_gen_node *n = &c->nodes[c->n_nodes];
    snprintf(n->name, sizeof n->name, "%s", name);
    n->kind = kind;
    n->index = index;
    return (int)c->n_nodes++;
}

void tdi_gen_add_elem(tdi_gen_build *b, char kind, int block, int na, int nb, int nc, int nd,
                      double g)
{
    tdi_gen_circuit *c = b->c;
    if (g == 0.0)
        return; /* an exactly-zero coupling needs no element */
    if (c->n_elems == b->cap_elems) {
        size_t ncap = b->cap_elems ? 2 * b->cap_elems : 1024;
        tdi_gen_elem *p = realloc(c->elems, ncap * sizeof *p);
        if (!p) {
            b->err = 1;
            return;
        }
        c->elems = p;
        b->cap_elems = ncap;
    }
    tdi_gen_elem *e = &c->elems[c->n_elems++];
    e->kind = kind;
    e->block = (unsigned char)block;
    e->a = na;
    e->b = nb;
    e->c = nc;
    e->d = nd;
    e->g = g;
}

int tdi_gen_state_node(const tdi_gen_circuit *c, size_t unit, size_t state)
{
    return (int)(state * c->N + unit);
}

int tdi_gen_force_node(const tdi_gen_circuit *c, size_t unit)
{
    return tdi_gen_state_node(c, unit, c->phys.unit->force_state);
}

void tdi_gen_circuit_free(tdi_gen_circuit *c)
{
    if (!c)
        return;
    free(c->nodes);
    free(c->elems);
    free(c->bias);
    free(c->expect_mean);
    free(c->node_var);
    free(c->readout_sd);
    free(c->elem_text);
    free(c->dev);
    free(c->ota);
    free(c->mos_cfg);
    tdi_gen_mos_comp_free(c->comp);
    tdi_gen_mos_trim_free(c->trim);
    tdi_gen_chip_free(c->chip);
    free(c);
}

/* ---------- physics ---------- */

/* Error left at t after a bias step, of the stage output (rate b = 1/tau_ro) fed by one rc mode
 * of rate a: the cascade of two first-order lags, (b e^{-a t} - a e^{-b t}) / (b - a). */
static double cascade_err(double a, double b, double t)
{
    if (fabs(a - b) <= 1e-9 * fmax(a, b))
        return (1 + a * t) * exp(-a * t);
    return fabs((b * exp(-a * t) - a * exp(-b * t)) / (b - a));
}

/* The analog read-out stage's element values and its settling time (readout_stage: rc). */
static int derive_stage(const tdi_gen_config *cfg, tdi_gen_phys *p, tdi_err *err)
{
    p->ro = strcmp(cfg->readout_stage, "rc") == 0;
    if (!p->ro)
        return 0;
    p->ro_tau = cfg->readout_tau > 0 ? cfg->readout_tau : 0.5 * p->t_avg;
    if (p->noise_dt > cfg->noise_frac_max * p->ro_tau)
        return tdi_err_set(err, TDI_ECONFIG, "%s: circuit.readout_tau = %.6g s is shorter than "
                           "the noise interval %.6g s allows (noise_frac_max = %g)", cfg->path,
                           p->ro_tau, p->noise_dt, cfg->noise_frac_max);
    double b = 1.0 / p->ro_tau, a1 = p->lambda_min / p->tau, a2 = p->lambda_max / p->tau;
    double lo = 0, hi = fmax(p->t_slow, p->ro_tau);
    while (fmax(cascade_err(a1, b, hi), cascade_err(a2, b, hi)) > cfg->settle_eps)
        hi *= 2;
    for (int it = 0; it < 100; it++) {
        double mid = 0.5 * (lo + hi);
        if (fmax(cascade_err(a1, b, mid), cascade_err(a2, b, mid)) > cfg->settle_eps)
            lo = mid;
        else
            hi = mid;
    }
    p->ro_settle = hi;
    return 0;
}

static int derive_phys(const tdi_gen_config *cfg, const tdi_gen_bundle *bu, const double *L,
                       tdi_gen_phys *p, tdi_err *err)
{
    size_t N = bu->sub.N;
    memset(p, 0, sizeof *p);
    p->unit = tdi_gen_unit_find(cfg->unit);
    if (!p->unit)
        return tdi_err_set(err, TDI_ECONFIG, "%s: circuit.unit: unknown kind '%s'", cfg->path,
                           cfg->unit);
    p->T = cfg->T;
    p->kT = TDI_GEN_KB * cfg->T;
    p->Cu = cfg->Cu;
    p->gu = cfg->gu;
    p->tau = cfg->Cu / cfg->gu;
    p->Vs = cfg->Vs;
    p->theta = tdi_phys_theta_of_vs(p->T, p->Cu, p->Vs);
    p->kTC = p->kT / p->Cu;
    int rc = tdi_gen_eig_extremes(bu->M, L, N, (unsigned long)cfg->seed, &p->lambda_min,
                                  &p->lambda_max, err);
    if (rc)
        return rc;
    if (!(p->lambda_min > 0) || !isfinite(p->lambda_max))
        return tdi_err_set(err, TDI_ENUM, "%s: M has lambda_min = %.6g: not positive definite",
                           bu->dir, p->lambda_min);
    p->unit->derive(cfg, p);
    double s1, f1, s2, f2;
    p->unit->mode_rates(p, p->lambda_min, &s1, &f1);
    p->unit->mode_rates(p, p->lambda_max, &s2, &f2);
    p->t_slow = 1.0 / fmin(s1, s2);
    p->t_fast = 1.0 / fmax(f1, f2);
    p->noise_dt = cfg->noise_dt > 0 ? cfg->noise_dt : cfg->noise_frac * p->t_fast;
    if (p->noise_dt > cfg->noise_frac_max * p->t_fast)
        return tdi_err_set(err, TDI_ECONFIG, "%s: circuit.noise_dt = %.6g s is too coarse for the "
                           "fastest mode (%.6g s): it must be at most noise_frac_max = %g times "
                           "that (%.6g s)", cfg->path, p->noise_dt, p->t_fast,
                           cfg->noise_frac_max, cfg->noise_frac_max * p->t_fast);
    p->noise_na = sqrt(2 * p->kT * p->g_noise / p->noise_dt);
    if (cfg->t_settle > 0) {
        p->t_settle = cfg->t_settle;
    } else { /* smallest t with every extreme mode's error <= eps (bisection on a monotone
                bound: the envelope is non-increasing after its first minimum) */
        double lo = 0, hi = p->t_slow;
        while (fmax(p->unit->mode_err(p, p->lambda_min, hi),
                    p->unit->mode_err(p, p->lambda_max, hi)) > cfg->settle_eps)
            hi *= 2;
        for (int it = 0; it < 100; it++) {
            double mid = 0.5 * (lo + hi);
            if (fmax(p->unit->mode_err(p, p->lambda_min, mid),
                     p->unit->mode_err(p, p->lambda_max, mid)) > cfg->settle_eps)
                lo = mid;
            else
                hi = mid;
        }
        p->t_settle = hi;
    }
    p->t_avg = cfg->t_avg > 0 ? cfg->t_avg : cfg->avg_relax * p->t_slow;
    if ((rc = derive_stage(cfg, p, err)))
        return rc;
    p->t_slot = fmax(p->t_settle + p->t_avg, p->ro ? p->ro_settle : 0.0);
    p->t_stop = (double)cfg->n_samples * p->t_slot;
    return 0;
}

/* ---------- wire counting: distinct node pairs per block (open addressing) ---------- */
typedef struct { uint64_t *k; size_t cap, n; } pairset;

static int ps_add(pairset *s, uint64_t key)
{
    if (2 * (s->n + 1) > s->cap) {
        size_t nc = s->cap ? 2 * s->cap : 1024;
        uint64_t *nk = malloc(nc * sizeof *nk);
        if (!nk)
            return -1;
        memset(nk, 0xff, nc * sizeof *nk);
        for (size_t i = 0; i < s->cap; i++)
            if (s->k[i] != UINT64_MAX) {
                size_t h = (size_t)((s->k[i] * 0x9E3779B97F4A7C15ull) >> 20) & (nc - 1);
                while (nk[h] != UINT64_MAX)
                    h = (h + 1) & (nc - 1);
                nk[h] = s->k[i];
            }
        free(s->k);
        s->k = nk;
        s->cap = nc;
    }
    size_t h = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & (s->cap - 1);
    while (s->k[h] != UINT64_MAX) {
        if (s->k[h] == key)
            return 0;
        h = (h + 1) & (s->cap - 1);
    }
    s->k[h] = key;
    s->n++;
    return 0;
}

static uint64_t pkey(int u, int v)
{
    uint64_t a = (uint64_t)(u < v ? u : v), b = (uint64_t)(u < v ? v : u);
    return (a << 32) | b;
}

static int ps_reserve(pairset *s, size_t n)
{
    size_t cap = 1024;
    while (cap < 4 * n) /* load factor <= 1/2 even if every element adds two pairs */
        cap *= 2;
    s->k = malloc(cap * sizeof *s->k);
    if (!s->k)
        return -1;
    memset(s->k, 0xff, cap * sizeof *s->k);
    s->cap = cap;
    s->n = 0;
    return 0;
}

static int count_wires(tdi_gen_circuit *c)
{
    pairset blk[TDI_GEN_NBLK], all;
    memset(blk, 0, sizeof blk);
    memset(&all, 0, sizeof all);
    int rc = 0;
    size_t per[TDI_GEN_NBLK] = {0};
    for (size_t i = 0; i < c->n_elems; i++)
        per[c->elems[i].block]++;
    for (int b = 0; b < TDI_GEN_NBLK; b++)
        if (ps_reserve(&blk[b], per[b]))
            rc = -1;
    if (ps_reserve(&all, c->n_elems))
        rc = -1;
    for (size_t i = 0; i < c->n_elems && !rc; i++) {
        const tdi_gen_elem *e = &c->elems[i];
        c->blk[e->block].elements++;
        int outs[2] = {e->a, e->b}, ins[2] = {e->kind == 'G' ? e->c : e->b,
                                             e->kind == 'G' ? e->d : -1};
        if (e->kind == 'R') { /* a resistor joins a and b */
            outs[1] = -1;
        }
        for (int o = 0; o < 2; o++)
            for (int q = 0; q < 2; q++) {
                /* a wire joins two cells: an rlc unit's p-node belongs to its unit's cell */
                int co = outs[o] >= 0 && c->nodes[outs[o]].kind == TDI_GEN_NODE_MOM
                             ? (int)c->nodes[outs[o]].index : outs[o];
                int ci = ins[q] >= 0 && c->nodes[ins[q]].kind == TDI_GEN_NODE_MOM
                             ? (int)c->nodes[ins[q]].index : ins[q];
                if (co >= 0 && ci >= 0 && co != ci) {
                    uint64_t k = pkey(co, ci);
                    if (ps_add(&blk[e->block], k) || ps_add(&all, k))
                        rc = -1;
                }
            }
    }
    for (int b = 0; b < TDI_GEN_NBLK; b++) {
        c->blk[b].wire_pairs = blk[b].n;
        free(blk[b].k);
    }
    c->total_pairs = all.n;
    free(all.k);
    c->total_elements = c->n_elems;
    return rc;
}

/* ---------- building ---------- */

/* The stage's capacitor (config, or auto: its own noise nf kB T / C_ro equals share times the
 * filtered substrate noise, estimated as the window average's kB T/(gu tau_ro) mean_j (M^-2)_jj
 * with W = 2 tau_ro), then g_ro, g_n and the noise sample std. Needs c->readout_sd. */
static void stage_elements(tdi_gen_circuit *c, const tdi_gen_config *cfg)
{
    tdi_gen_phys *p = &c->phys;
    if (!p->ro)
        return;
    const tdi_gen_module *o = &c->mod[c->out];
    double s2 = 0; /* mean over read-out units of (M^-2)_jj, from readout_sd (window W) */
    for (size_t j = 0; j < o->n; j++) {
        double sd = c->readout_sd[o->off + j];
        s2 += sd * sd * p->gu * p->t_avg / (2 * p->kT * p->readout_gain) / (double)o->n;
    }
    p->ro_C = cfg->readout_cap > 0 ? cfg->readout_cap
              : cfg->readout_noise_factor * p->gu * p->ro_tau /
                    (cfg->readout_noise_share * s2);
    p->ro_g = p->ro_C / p->ro_tau;
    p->ro_gn = cfg->readout_noise_factor * p->ro_g;
    p->ro_na = sqrt(2 * p->kT * p->ro_gn / p->noise_dt);
}

/* The read-out stage block: per read-out unit j, gm_ro v(y_j) injected into r_j (one-way) and
 * g_ro from r_j to ground. Its nodes are added by the caller (nodes[N + j]). */
static void build_readout(tdi_gen_build *bd)
{
    tdi_gen_circuit *c = bd->c;
    tdi_gen_block_report *rep = &c->blk[TDI_GEN_BLK_READOUT];
    rep->realisation = c->phys.ro ? "gm_c" : "none";
    if (!c->phys.ro)
        return;
    const tdi_gen_module *o = &c->mod[c->out];
    for (size_t j = 0; j < o->n; j++) {
        int r = (int)(c->N + j), y = (int)(o->off + j);
        tdi_gen_add_elem(bd, 'G', TDI_GEN_BLK_READOUT, -1, r, y, -1, c->phys.ro_g);
        tdi_gen_add_elem(bd, 'R', TDI_GEN_BLK_READOUT, r, -1, -1, -1, c->phys.ro_g);
    }
}

void tdi_gen_stage_intended(const tdi_gen_circuit *c, double *K)
{
    const tdi_gen_module *o = &c->mod[c->out];
    size_t N = c->N, n = N + o->n;
    memset(K, 0, n * n * sizeof *K);
    for (size_t j = 0; j < o->n; j++) {
        K[(N + j) * n + o->off + j] = -c->phys.ro_g;
        K[(N + j) * n + N + j] = c->phys.ro_g;
    }
}

/* Config against bundle, and the realisations by name. */
static int check_build(const tdi_gen_config *cfg, const tdi_gen_bundle *bu,
                       const tdi_gen_intra_real **intra, const tdi_gen_skip_real **skip,
                       tdi_err *err)
{
    const tdi_bundle *sub = &bu->sub;
    size_t Dmax = 0;
    for (size_t m = 0; m < sub->n_mod; m++)
        Dmax = sub->mod[m].D > Dmax ? sub->mod[m].D : Dmax;
    if (cfg->name[0] && bu->preset[0] && strcmp(cfg->name, bu->preset) != 0)
        return tdi_err_set(err, TDI_ECONFIG, "%s: config name '%s' does not match the bundle's "
                           "preset '%s' (%s/manifest.yaml)", cfg->path, cfg->name, bu->preset,
                           bu->dir);
    for (size_t s = 0; s < cfg->n_samples; s++)
        if (cfg->samples[s] < 0 || (size_t)cfg->samples[s] >= bu->n)
            return tdi_err_set(err, TDI_ECONFIG, "%s: circuit.samples[%zu] = %ld but the bundle "
                               "%s has %zu test samples", cfg->path, s, cfg->samples[s], bu->dir,
                               bu->n);
    if (cfg->rank > 0 && (size_t)cfg->rank > Dmax)
        return tdi_err_set(err, TDI_ECONFIG, "%s: circuit.rank = %ld exceeds the bundle's D = %zu",
                           cfg->path, cfg->rank, Dmax);
    if (sub->n_out > 1 && strcmp(cfg->readout_stage, "none") != 0)
        return tdi_err_set(err, TDI_ECONFIG, "%s: circuit.readout_stage '%s' with %zu read-out "
                           "modules (%s): the analog read-out stage serves one read-out module; "
                           "use readout_stage: none", cfg->path, cfg->readout_stage, sub->n_out,
                           bu->dir);
    *intra = tdi_gen_intra_find(cfg->intra);
    *skip = tdi_gen_skip_find(cfg->skip);
    if (!*intra || !*skip)
        return tdi_err_set(err, TDI_ECONFIG, "%s: unknown realisation (circuit.intra '%s', "
                           "circuit.skip '%s')", cfg->path, cfg->intra, cfg->skip);
    if (tdi_gen_bundle_is_two(bu) && bu->k == 0 && (*skip)->needs_factors)
        return tdi_err_set(err, TDI_ECONFIG, "%s: the bundle has k = 0: use skip: dense",
                           cfg->path);
    for (size_t q = 0; q < sub->n_cpl; q++)
        if ((*skip)->needs_factors && (sub->cpl[q].dense || sub->cpl[q].k == 0))
            return tdi_err_set(err, TDI_ECONFIG, "%s: coupling %s-%s of the bundle has no "
                               "factors (dense or rank 0): use skip: dense", cfg->path,
                               sub->mod[sub->cpl[q].from].name, sub->mod[sub->cpl[q].to].name);
    return 0;
}

/* Sizes, the modules (the bundle's list; node prefixes from the config for two modules, else
 * the module names) and the flags copied from the config. */
static void init_circuit(tdi_gen_circuit *c, const tdi_gen_config *cfg, const tdi_gen_bundle *bu)
{
    const tdi_bundle *sub = &bu->sub;
    int two = tdi_gen_bundle_is_two(bu);
    c->N = sub->N;
    c->out = sub->out;
    c->D = sub->D_out;
    c->k = sub->n_cpl ? sub->cpl[0].k : 0;
    c->M = bu->M;
    c->noise = cfg->noise;
    c->hier = cfg->hier;
    c->param = cfg->param;
    c->noise_pwl = strcmp(cfg->noise_src, "pwl") == 0;
    c->cards = strcmp(cfg->readout_cards, "measure") == 0 ? TDI_GEN_CARDS_MEASURE
               : strcmp(cfg->readout_cards, "both") == 0 ? TDI_GEN_CARDS_BOTH
                                                          : TDI_GEN_CARDS_CONTROL;
    c->noise_seed = tdi_seed((uint64_t)cfg->seed, TDI_SEED_COSIM_NOISE, 0);
    c->dialect = tdi_gen_dialect_find(cfg->dialect);
    c->readout_all = strcmp(cfg->readout, "all") == 0;
    c->n_mod = sub->n_mod;
    c->n_cpl = sub->n_cpl;
    for (size_t m = 0; m < c->n_mod; m++) {
        tdi_gen_module *md = &c->mod[m];
        const char *nm = sub->mod[m].name;
        size_t l = strlen(nm);
        snprintf(md->name, sizeof md->name, "%s", nm);
        if (two)
            snprintf(md->prefix, sizeof md->prefix, "%s", m ? cfg->dec_prefix : cfg->enc_prefix);
        else /* a prefix ending in a digit would make x1 + 0 and x + 10 the same node */
            snprintf(md->prefix, sizeof md->prefix, "%s%s", nm,
                     nm[l - 1] >= '0' && nm[l - 1] <= '9' ? "u" : "");
        md->off = sub->mod[m].off;
        md->n = sub->mod[m].D;
        md->blk = 1 + (int)m;
    }
}

/* Bias currents and equilibrium means of the scheduled samples, checked against analytic.npy
 * (the read-out module's block of M^-1 b). */
static int build_samples(tdi_gen_circuit *c, const tdi_gen_config *cfg, const tdi_gen_bundle *bu,
                         const double *L, tdi_err *err)
{
    const tdi_bundle *sub = &bu->sub;
    size_t N = c->N, ns = cfg->n_samples, o = c->mod[c->out].off, Do = c->D;
    c->n_samples = ns;
    memcpy(c->samples, cfg->samples, sizeof c->samples);
    c->bias = malloc(ns * N * sizeof *c->bias);
    c->expect_mean = malloc(ns * N * sizeof *c->expect_mean);
    if (!c->bias || !c->expect_mean)
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    for (size_t s = 0; s < ns; s++) {
        size_t n = (size_t)c->samples[s];
        for (size_t m = 0; m < sub->n_mod; m++)
            for (size_t i = 0; i < sub->mod[m].D; i++)
                c->expect_mean[s * N + sub->mod[m].off + i] =
                    sub->mod[m].bias[n * sub->mod[m].D + i];
        for (size_t i = 0; i < N; i++)
            c->bias[s * N + i] = c->phys.gu * c->phys.Vs * c->expect_mean[s * N + i];
    }
    tdi_linalg_chol_solve_rows(L, N, c->expect_mean, ns);
    for (size_t s = 0; s < ns; s++) {
        size_t n = (size_t)c->samples[s];
        double amax = 0, dmax = 0;
        for (size_t j = 0; j < Do; j++) {
            amax = fmax(amax, fabs(bu->analytic[n * Do + j]));
            dmax = fmax(dmax, fabs(bu->analytic[n * Do + j] - c->expect_mean[s * N + o + j]));
        }
        /* 1e-8: two Cholesky solves of the same M agree to ~cond(M) * eps */
        if (dmax > 1e-8 * fmax(amax, 1e-300))
            return tdi_err_set(err, TDI_EFORMAT, "%s/analytic.npy: sample %zu differs from "
                               "(M^-1 [b_enc; b_dec])_y by %.3g (max |y*| %.3g): the bundle is "
                               "inconsistent", bu->dir, n, dmax, amax);
        for (size_t i = 0; i < N; i++)
            c->expect_mean[s * N + i] *= c->phys.Vs;
    }
    return 0;
}

/* Node variance (kT/C)(M^-1)_ii and read-out std from (M^-2)_ii, for the read-out nodes
 * (the read-out module's, or all): rows of M^-1. */
static int build_readout_sd(tdi_gen_circuit *c, const double *L, tdi_err *err)
{
    size_t N = c->N, first = c->readout_all ? 0 : c->mod[c->out].off;
    size_t nr = c->readout_all ? N : c->D;
    c->node_var = malloc(N * sizeof *c->node_var);
    c->readout_sd = malloc(N * sizeof *c->readout_sd);
    double *Z = calloc(nr * N, sizeof *Z);
    if (!c->node_var || !c->readout_sd || !Z) {
        free(Z);
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    }
    for (size_t r = 0; r < nr; r++)
        Z[r * N + first + r] = 1.0;
    tdi_linalg_chol_solve_rows(L, N, Z, nr);
    double W = c->phys.t_avg;
    for (size_t i = 0; i < N; i++)
        c->node_var[i] = c->readout_sd[i] = NAN;
    for (size_t r = 0; r < nr; r++) {
        double s2 = 0;
        for (size_t j = 0; j < N; j++)
            s2 += Z[r * N + j] * Z[r * N + j];
        c->node_var[first + r] = c->phys.kTC * Z[r * N + first + r];
        c->readout_sd[first + r] =
            sqrt(c->phys.readout_gain * 2 * c->phys.kT / (c->phys.gu * W) * s2);
    }
    free(Z);
    return 0;
}

/* Reserves the element list (an upper bound from the realisations; avoids reallocation). */
static void reserve_elems(tdi_gen_build *bd, const tdi_bundle *sub,
                          const tdi_gen_intra_real *intra, const tdi_gen_skip_real *skip)
{
    tdi_gen_circuit *c = bd->c;
    size_t est = c->N;
    for (size_t m = 0; m < c->n_mod; m++) {
        size_t r = bd->cfg->rank > 0 ? (size_t)bd->cfg->rank : c->mod[m].n;
        est += intra->elements(c->mod[m].n, r > c->mod[m].n ? c->mod[m].n : r);
    }
    for (size_t q = 0; q < sub->n_cpl; q++)
        est += skip->elements(c->mod[sub->cpl[q].from].n, c->mod[sub->cpl[q].to].n,
                              sub->cpl[q].k);
    est += 2 * c->D; /* read-out stage */
    c->elems = malloc(est * sizeof *c->elems);
    if (c->elems)
        bd->cap_elems = est;
}

/* Nodes: units (x<i>, y<j>), the units' further state nodes, read-out stage nodes r<y><j>. */
static void add_unit_nodes(tdi_gen_build *bd)
{
    tdi_gen_circuit *c = bd->c;
    const tdi_gen_unit_kind *u = c->phys.unit;
    char name[40];
    for (size_t m = 0; m < c->n_mod; m++)
        for (size_t i = 0; i < c->mod[m].n; i++) {
            snprintf(name, sizeof name, "%s%zu", c->mod[m].prefix, i);
            tdi_gen_add_node(bd, name, TDI_GEN_NODE_UNIT, c->mod[m].off + i);
        }
    for (size_t s = 1; s < u->n_state; s++)
        for (size_t i = 0; i < c->N; i++) {
            snprintf(name, sizeof name, "%s%.30s", u->state_prefix[s], c->nodes[i].name);
            tdi_gen_add_node(bd, name, TDI_GEN_NODE_MOM, i);
        }
    if (c->phys.ro) /* read-out stage nodes r<y><j> = nodes[N + j] (first-order units only) */
        for (size_t j = 0; j < c->mod[c->out].n; j++) {
            snprintf(name, sizeof name, "r%.30s", c->nodes[c->mod[c->out].off + j].name);
            tdi_gen_add_node(bd, name, TDI_GEN_NODE_RO, j);
        }
}

/* A dense block copy: rows r0.., cols c0.. of the N x N matrix M into B (n x n). */
static void copy_block(const double *M, size_t N, size_t r0, size_t c0, size_t n, double *B)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            B[i * n + j] = M[(r0 + i) * N + c0 + j];
}

/* What the intra realisation of module m gets: its diagonal block of M, minus F F^T for every
 * coupling whose buses share it (F = P when m is the coupling's `from`, Q when its `to`), and
 * the self-term diagonal. */
static void module_block(const tdi_gen_circuit *c, const tdi_bundle *sub, size_t m,
                         const tdi_gen_intra_real *intra, const tdi_gen_skip_real *skip,
                         double *A, double *base)
{
    size_t n = c->mod[m].n, off = c->mod[m].off;
    copy_block(sub->M, c->N, off, off, n, A);
    for (size_t q = 0; q < sub->n_cpl && skip->shares_diag; q++) {
        const tdi_bundle_coupling *cp = &sub->cpl[q];
        if ((cp->from != m && cp->to != m) || cp->k == 0)
            continue;
        gsl_matrix_const_view Fv =
            gsl_matrix_const_view_array(cp->from == m ? cp->P : cp->Q, n, cp->k);
        gsl_matrix_view Av = gsl_matrix_view_array(A, n, n);
        gsl_blas_dgemm(CblasNoTrans, CblasTrans, -1.0, &Fv.matrix, &Fv.matrix, 1.0, &Av.matrix);
    }
    /* base_from_j: diag(A - (J + J^T)) (= 2 J2 in paper mode); else the whole diagonal */
    const double *J = sub->mod[m].J, *Ab = sub->mod[m].A;
    for (size_t i = 0; i < n; i++)
        base[i] = intra->base_from_j ? Ab[i * n + i] - 2 * J[i * n + i] : A[i * n + i];
}

/* Self terms (the unit kind's element, conductance gu * base_i) and the intra blocks. */
static int build_modules(tdi_gen_build *bd, const tdi_bundle *sub,
                         const tdi_gen_intra_real *intra, const tdi_gen_skip_real *skip,
                         tdi_err *err)
{
    tdi_gen_circuit *c = bd->c;
    size_t asz = 0;
    for (size_t m = 0; m < c->n_mod; m++)
        asz += c->mod[m].n * c->mod[m].n;
    double *A = malloc(asz * sizeof *A), *base = malloc(c->N * sizeof *base);
    if (!A || !base) {
        free(A);
        free(base);
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    }
    c->blk[TDI_GEN_BLK_SELF].realisation = c->phys.unit->self_style;
    size_t ao[TDI_BUNDLE_MAX_MOD], at = 0; /* offsets of the modules' blocks in A */
    for (size_t m = 0; m < c->n_mod; m++) {
        ao[m] = at;
        at += c->mod[m].n * c->mod[m].n;
        module_block(c, sub, m, intra, skip, A + ao[m], base + c->mod[m].off);
    }
    for (size_t i = 0; i < c->N; i++)
        c->phys.unit->self_term(bd, i, c->phys.gu * base[i]);
    int rc = 0;
    for (size_t m = 0; m < c->n_mod && !rc; m++) {
        tdi_gen_block_report *rep = &c->blk[c->mod[m].blk];
        rep->realisation = intra->name;
        rep->dense_pairs = 0.5 * (double)c->mod[m].n * (double)(c->mod[m].n - 1);
        rc = intra->build(bd, &c->mod[m], A + ao[m], base + c->mod[m].off, err);
    }
    free(A);
    free(base);
    return rc;
}

/* The couplings between module pairs (S = P Q^T, or the dense block of M), one block each. */
static void build_couplings(tdi_gen_build *bd, const tdi_bundle *sub,
                            const tdi_gen_skip_real *skip)
{
    tdi_gen_circuit *c = bd->c;
    for (size_t q = 0; q < sub->n_cpl && !bd->err; q++) {
        const tdi_bundle_coupling *cp = &sub->cpl[q];
        const tdi_gen_module *a = &c->mod[cp->from], *b = &c->mod[cp->to];
        int blk = 1 + (int)(c->n_mod + q);
        tdi_gen_block_report *rep = &c->blk[blk];
        rep->realisation = skip->name;
        rep->dense_pairs = (double)a->n * (double)b->n;
        tdi_gen_pair pr = {a, b, sub->M + a->off * c->N + b->off, c->N, cp->P, cp->Q, cp->k,
                           blk, q, c->n_cpl};
        skip->build(bd, &pr);
    }
}

/* "self", "intra_<module>", "skip" (two modules, one coupling) or "skip_<from>_<to>",
 * "readout"; unused slots keep name NULL. */
static void name_blocks(tdi_gen_circuit *c, const tdi_bundle *sub, int two)
{
    c->blk[TDI_GEN_BLK_SELF].name = "self";
    c->blk[TDI_GEN_BLK_READOUT].name = "readout";
    for (size_t m = 0; m < c->n_mod; m++) {
        tdi_gen_block_report *r = &c->blk[c->mod[m].blk];
        char lb[sizeof r->label];
        snprintf(lb, sizeof lb, "intra_%s", c->mod[m].name);
        memcpy(r->label, lb, sizeof lb);
        r->name = r->label;
    }
    for (size_t q = 0; q < c->n_cpl; q++) {
        tdi_gen_block_report *r = &c->blk[1 + c->n_mod + q];
        char lb[sizeof r->label];
        if (two)
            snprintf(lb, sizeof lb, "skip");
        else
            snprintf(lb, sizeof lb, "skip_%s_%s", c->mod[sub->cpl[q].from].name,
                     c->mod[sub->cpl[q].to].name);
        memcpy(r->label, lb, sizeof lb);
        r->name = r->label;
    }
}

static int cmp_name(const void *a, const void *b)
{
    return strcasecmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every node name differs (SPICE names are case-insensitive): the config checks this for two
 * modules; with module names as prefixes it is checked here, on the built list. */
static int check_names(const tdi_gen_circuit *c, const char *cfgpath, tdi_err *err)
{
    const char **nm = malloc(c->n_nodes * sizeof *nm);
    if (!nm)
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    for (size_t i = 0; i < c->n_nodes; i++)
        nm[i] = c->nodes[i].name;
    qsort(nm, c->n_nodes, sizeof *nm, cmp_name);
    int rc = 0;
    for (size_t i = 1; i < c->n_nodes && !rc; i++)
        if (strcasecmp(nm[i - 1], nm[i]) == 0)
            rc = tdi_err_set(err, TDI_ECONFIG, "%s: the module names give the node name '%s' "
                             "twice (node prefixes are the module names): rename a module",
                             cfgpath, nm[i]);
    free(nm);
    return rc;
}

/* All elements: self terms, intra blocks, couplings, read-out stage; then the wire count and
 * budget. */
static int build_elements(tdi_gen_build *bd, const tdi_gen_bundle *bu,
                          const tdi_gen_intra_real *intra, const tdi_gen_skip_real *skip,
                          tdi_err *err)
{
    tdi_gen_circuit *c = bd->c;
    const tdi_gen_config *cfg = bd->cfg;
    int two = tdi_gen_bundle_is_two(bu);
    reserve_elems(bd, &bu->sub, intra, skip);
    add_unit_nodes(bd);
    if (bd->err)
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    name_blocks(c, &bu->sub, two);
    int rc = build_modules(bd, &bu->sub, intra, skip, err);
    if (rc)
        return rc;
    build_couplings(bd, &bu->sub, skip);
    build_readout(bd);
    if (bd->err || count_wires(c))
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    if (!two && (rc = check_names(c, cfg->path, err)))
        return rc;
    if (cfg->wire_budget > 0 && c->total_pairs > (size_t)cfg->wire_budget) {
        char per[600] = "";
        for (int b = 1; b <= (int)(c->n_mod + c->n_cpl); b++)
            snprintf(per + strlen(per), sizeof per - strlen(per), "%s%s %zu", b > 1 ? ", " : "",
                     c->blk[b].name, c->blk[b].wire_pairs);
        if (two)
            snprintf(per, sizeof per, "intra %zu + %zu, skip %zu",
                     c->blk[TDI_GEN_BLK_INTRA_ENC].wire_pairs,
                     c->blk[TDI_GEN_BLK_INTRA_DEC].wire_pairs,
                     c->blk[TDI_GEN_BLK_SKIP].wire_pairs);
        return tdi_err_set(err, TDI_ECONFIG, "%s: the netlist needs %zu wire pairs (%s) but "
                           "circuit.wire_budget = %ld", cfg->path, c->total_pairs, per,
                           cfg->wire_budget);
    }
    return 0;
}

/* Provenance header shared by both netlists (two modules: the encoder/decoder form). */
static void build_header(tdi_gen_circuit *c, const tdi_gen_config *cfg, const tdi_gen_bundle *bu)
{
    char bh[17], ch[17];
    tdi_hash_hex(bu->hash, bh);
    tdi_hash_hex(cfg->hash, ch);
    size_t u = (size_t)snprintf(c->header, sizeof c->header,
                                "* preset %s | bundle %s (hash %s, mode %s) | config %s (circuit "
                                "hash %s)\n", cfg->name, bu->dir, bh,
                                bu->mode[0] ? bu->mode : "?", cfg->path, ch);
    if (u >= sizeof c->header)
        return;
    char *h = c->header + u;
    size_t hs = sizeof c->header - u;
    if (tdi_gen_bundle_is_two(bu)) {
        const tdi_gen_block_report *e = &c->blk[TDI_GEN_BLK_INTRA_ENC],
                                   *d = &c->blk[TDI_GEN_BLK_INTRA_DEC];
        const tdi_gen_block_report *s = c->n_cpl ? &c->blk[TDI_GEN_BLK_SKIP] : NULL;
        double sdp = s ? s->dense_pairs : (double)c->D * (double)c->D;
        size_t swp = s ? s->wire_pairs : 0;
        snprintf(h, hs,
                 "* D = %zu per module (N = %zu units), k = %zu | unit %s | intra %s (rank %zu, "
                 "%zu) | skip %s\n"
                 "* wire pairs: intra_enc %zu, intra_dec %zu, skip %zu (dense skip D^2 = %.0f, "
                 "ratio %.4g); total %zu pairs, %zu coupling elements\n",
                 c->D, c->N, c->k, c->phys.unit->name, e->realisation, e->rank, d->rank,
                 cfg->skip, e->wire_pairs, d->wire_pairs, swp, sdp,
                 sdp > 0 ? (double)swp / sdp : 0.0, c->total_pairs, c->total_elements);
        return;
    }
    size_t v = (size_t)snprintf(h, hs, "* %zu modules (N = %zu units), read-out module %s | unit "
                                "%s | intra %s | couplings %s\n* modules:", c->n_mod, c->N,
                                c->mod[c->out].name, c->phys.unit->name, cfg->intra, cfg->skip);
    for (size_t m = 0; m < c->n_mod && v < hs; m++)
        v += (size_t)snprintf(h + v, hs - v, " %s (%zu units %s0.., rank %zu)", c->mod[m].name,
                              c->mod[m].n, c->mod[m].prefix, c->blk[c->mod[m].blk].rank);
    if (v < hs)
        v += (size_t)snprintf(h + v, hs - v, "\n* wire pairs:");
    for (size_t b = 1; b <= c->n_mod + c->n_cpl && v < hs; b++)
        v += (size_t)snprintf(h + v, hs - v, " %s %zu", c->blk[b].name, c->blk[b].wire_pairs);
    if (v < hs)
        snprintf(h + v, hs - v, "; total %zu pairs, %zu coupling elements\n", c->total_pairs,
                 c->total_elements);
}

int tdi_gen_circuit_build(const tdi_gen_config *cfg, const tdi_gen_bundle *bu,
                          tdi_gen_circuit **out, tdi_err *err)
{
    *out = NULL;
    const tdi_gen_intra_real *intra = NULL;
    const tdi_gen_skip_real *skip = NULL;
    int rc = check_build(cfg, bu, &intra, &skip, err);
    if (rc)
        return rc;
    double t0 = tdi_clock_s(CLOCK_PROCESS_CPUTIME_ID);
    size_t N = bu->sub.N;
    tdi_gen_circuit *c = calloc(1, sizeof *c);
    double *L = malloc(N * N * sizeof *L);
    tdi_gen_build bd = {.c = c, .cfg = cfg};
    if (!c || !L) {
        rc = tdi_err_set(err, TDI_ENOMEM, "out of memory");
        goto done;
    }
    init_circuit(c, cfg, bu);
    char what[600];
    snprintf(what, sizeof what, "%s/M.npy", bu->dir);
    if ((rc = tdi_linalg_chol(bu->M, N, L, what, 0, NULL, err)) ||
        (rc = derive_phys(cfg, bu, L, &c->phys, err)))
        goto done;
    snprintf(c->unit_subckt, sizeof c->unit_subckt, "unit_%s", c->phys.unit->name);
    for (size_t i = 0; i < N * N; i++)
        bd.scale = fmax(bd.scale, fabs(bu->M[i]));
    if ((rc = build_samples(c, cfg, bu, L, err)) || (rc = build_readout_sd(c, L, err)))
        goto done;
    stage_elements(c, cfg);
    double t1 = tdi_clock_s(CLOCK_PROCESS_CPUTIME_ID);
    c->time_prep = t1 - t0;
    if ((rc = build_elements(&bd, bu, intra, skip, err)) ||
        (rc = tdi_gen_op_resolve(cfg, bu, L, c, err)) ||
        (rc = tdi_gen_nonideal_apply(c, cfg, err)) || (rc = tdi_gen_mos_build(c, cfg, err)) ||
        (rc = tdi_gen_emit_elements(c, err)))
        goto done;
    c->time_elems = tdi_clock_s(CLOCK_PROCESS_CPUTIME_ID) - t1;
    build_header(c, cfg, bu);
    tdi_gen_nonideal_header(c, cfg);
    *out = c;
    c = NULL;
done:
    free(L);
    tdi_gen_circuit_free(c);
    return rc;
}

/* ---------- Schur reduction ---------- */
int tdi_gen_reduce(const tdi_gen_elem *el, size_t ne, size_t n_nodes, const int *unit_of,
                   const int *force_of, const int *bus_of, size_t N, size_t nb, double *K,
                   double *vbus, tdi_err *err)
{
    double *GFB = calloc(N * (nb ? nb : 1), sizeof *GFB);
    double *GBB = calloc((nb ? nb : 1) * (nb ? nb : 1), sizeof *GBB);
    double *GBX = calloc((nb ? nb : 1) * N, sizeof *GBX);
    if (!GFB || !GBB || !GBX) {
        free(GFB);
        free(GBB);
        free(GBX);
        return tdi_err_set(err, TDI_ENOMEM, "reduce: out of memory");
    }
    memset(K, 0, N * N * sizeof *K);
    int rc = 0;
    /* stamp(row node, col node, value): KCL "current leaving row" in terms of col voltages */
#define STAMP(r, cc, v)                                                                         \
    do {                                                                                        \
        int r_ = (r), c_ = (cc);                                                                \
        if (r_ >= 0 && c_ >= 0) {                                                               \
            int fr = force_of[r_], br = bus_of[r_], xc = unit_of[c_], bc = bus_of[c_];          \
            if (fr >= 0 && xc >= 0)                                                             \
                K[(size_t)fr * N + (size_t)xc] += (v);                                          \
            else if (fr >= 0 && bc >= 0)                                                        \
                GFB[(size_t)fr * nb + (size_t)bc] += (v);                                       \
            else if (br >= 0 && bc >= 0)                                                        \
                GBB[(size_t)br * nb + (size_t)bc] += (v);                                       \
            else if (br >= 0 && xc >= 0)                                                        \
                GBX[(size_t)br * N + (size_t)xc] += (v);                                        \
            else                                                                                \
                rc = -1;                                                                        \
        }                                                                                       \
    } while (0)
    for (size_t i = 0; i < ne && !rc; i++) {
        const tdi_gen_elem *e = &el[i];
        if ((e->a >= (int)n_nodes) || (e->b >= (int)n_nodes) || e->c >= (int)n_nodes ||
            e->d >= (int)n_nodes) {
            rc = -1;
            break;
        }
        if (e->kind == 'R') {
            STAMP(e->a, e->a, e->g);
            STAMP(e->a, e->b, -e->g);
            STAMP(e->b, e->b, e->g);
            STAMP(e->b, e->a, -e->g);
        } else {
            STAMP(e->a, e->c, e->g);
            STAMP(e->a, e->d, -e->g);
            STAMP(e->b, e->c, -e->g);
            STAMP(e->b, e->d, e->g);
        }
    }
#undef STAMP
    if (rc) {
        free(GFB);
        free(GBB);
        free(GBX);
        return tdi_err_set(err, TDI_EFORMAT, "reduce: an element couples nodes outside the "
                           "unit/force/bus roles (e.g. a top-level element driving a unit node "
                           "of an rlc unit)");
    }
    if (nb > 0) {
        gsl_matrix_view Bv = gsl_matrix_view_array(GBB, nb, nb);
        gsl_permutation *p = gsl_permutation_alloc(nb);
        int sg, sing = gsl_linalg_LU_decomp(&Bv.matrix, p, &sg) != 0;
        /* a zero pivot, not a zero determinant: det ~ gu^nb underflows to 0 for nb > ~50 */
        for (size_t q = 0; q < nb && !sing; q++)
            sing = gsl_matrix_get(&Bv.matrix, q, q) == 0.0;
        if (sing) {
            gsl_permutation_free(p);
            free(GFB);
            free(GBB);
            free(GBX);
            return tdi_err_set(err, TDI_ENUM, "reduce: the bus-node block is singular");
        }
        for (size_t j = 0; j < N; j++) { /* GBX column j <- GBB^-1 GBX column j */
            gsl_vector_view col = gsl_vector_view_array_with_stride(GBX + j, N, nb);
            gsl_linalg_LU_svx(&Bv.matrix, p, &col.vector);
        }
        gsl_permutation_free(p);
        if (vbus)
            for (size_t q = 0; q < nb * N; q++)
                vbus[q] = -GBX[q];
        gsl_matrix_view Kv = gsl_matrix_view_array(K, N, N);
        gsl_matrix_view Fv = gsl_matrix_view_array(GFB, N, nb);
        gsl_matrix_view Xv = gsl_matrix_view_array(GBX, nb, N);
        gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, -1.0, &Fv.matrix, &Xv.matrix, 1.0, &Kv.matrix);
    }
    free(GFB);
    free(GBB);
    free(GBX);
    return 0;
}

int tdi_gen_circuit_reduced(const tdi_gen_circuit *c, double *K, tdi_err *err)
{
    size_t nn = c->n_nodes, nb = 0;
    int *u = malloc(nn * sizeof *u), *f = malloc(nn * sizeof *f), *b = malloc(nn * sizeof *b);
    if (!u || !f || !b) {
        free(u);
        free(f);
        free(b);
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < nn; i++) {
        const tdi_gen_node *n = &c->nodes[i];
        u[i] = n->kind == TDI_GEN_NODE_UNIT ? (int)n->index : -1;
        int state = n->kind == TDI_GEN_NODE_UNIT || n->kind == TDI_GEN_NODE_MOM;
        f[i] = state && tdi_gen_force_node(c, n->index) == (int)i ? (int)n->index : -1;
        b[i] = n->kind == TDI_GEN_NODE_BUS ? (int)nb++ : -1;
    }
    size_t ne = c->n_elems; /* the stage block comes last and does not load the substrate */
    while (ne > 0 && c->elems[ne - 1].block == TDI_GEN_BLK_READOUT)
        ne--;
    int rc = tdi_gen_reduce(c->elems, ne, nn, u, f, b, c->N, nb, K, NULL, err);
    free(u);
    free(f);
    free(b);
    return rc;
}
