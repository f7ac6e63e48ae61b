/* tdi_gen_circ: config + bundle -> circuit, as stages: derived physics (docs/physics.md 1, 2,
 * 4, 5; the unit kind's hooks, tdi_gen_unit.c), samples, the element list (self terms, then the
 * realisations of tdi_gen_real.c per module and module pair, the read-out stage), the wire
 * report and the Schur-complement reduction used to verify them.
 * Invariant: reduce(elements) == gu * M to rounding for every realisation and unit kind; node
 * order is x0..x{D-1}, y0..y{D-1}, then further state nodes (rlc p) or (read-out stage) r<y>
 * nodes, then buses; the stage block comes last and is left out of the reduction (it does not
 * load the substrate). Non-goal: text formatting (tdi_gen_emit.c). */
#include "tdi_gen.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_linalg.h>

#include "tdi_gen_int.h"
#include "tdi_io.h"

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
    free(c);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
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
    size_t N = 2 * bu->D;
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
        while (fmax(p->unit->mode_err(p, p->lambda_min, hi), p->unit->mode_err(p, p->lambda_max, hi)) >
               cfg->settle_eps)
            hi *= 2;
        for (int it = 0; it < 100; it++) {
            double mid = 0.5 * (lo + hi);
            if (fmax(p->unit->mode_err(p, p->lambda_min, mid), p->unit->mode_err(p, p->lambda_max, mid)) >
                cfg->settle_eps)
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
    double s2 = 0; /* mean over decoder units of (M^-2)_jj, from readout_sd (window W) */
    for (size_t j = 0; j < c->D; j++) {
        double sd = c->readout_sd[c->D + j];
        s2 += sd * sd * p->gu * p->t_avg / (2 * p->kT * p->readout_gain) / (double)c->D;
    }
    p->ro_C = cfg->readout_cap > 0 ? cfg->readout_cap
              : cfg->readout_noise_factor * p->gu * p->ro_tau /
                    (cfg->readout_noise_share * s2);
    p->ro_g = p->ro_C / p->ro_tau;
    p->ro_gn = cfg->readout_noise_factor * p->ro_g;
    p->ro_na = sqrt(2 * p->kT * p->ro_gn / p->noise_dt);
}

/* The read-out stage block: per decoder unit j, gm_ro v(y_j) injected into r_j (one-way) and
 * g_ro from r_j to ground. Its nodes are added by the caller (nodes[N + j]). */
static void build_readout(tdi_gen_build *bd)
{
    tdi_gen_circuit *c = bd->c;
    tdi_gen_block_report *rep = &c->blk[TDI_GEN_BLK_READOUT];
    rep->realisation = c->phys.ro ? "gm_c" : "none";
    if (!c->phys.ro)
        return;
    for (size_t j = 0; j < c->D; j++) {
        int r = (int)(c->N + j), y = (int)(c->D + j);
        tdi_gen_add_elem(bd, 'G', TDI_GEN_BLK_READOUT, -1, r, y, -1, c->phys.ro_g);
        tdi_gen_add_elem(bd, 'R', TDI_GEN_BLK_READOUT, r, -1, -1, -1, c->phys.ro_g);
    }
}

void tdi_gen_stage_intended(const tdi_gen_circuit *c, double *K)
{
    size_t D = c->D, n = 3 * D;
    memset(K, 0, n * n * sizeof *K);
    for (size_t j = 0; j < D; j++) {
        K[(2 * D + j) * n + D + j] = -c->phys.ro_g;
        K[(2 * D + j) * n + 2 * D + j] = c->phys.ro_g;
    }
}

/* Config against bundle, and the realisations by name. */
static int check_build(const tdi_gen_config *cfg, const tdi_gen_bundle *bu,
                       const tdi_gen_intra_real **intra, const tdi_gen_skip_real **skip,
                       tdi_err *err)
{
    size_t D = bu->D;
    if (cfg->name[0] && bu->preset[0] && strcmp(cfg->name, bu->preset) != 0)
        return tdi_err_set(err, TDI_ECONFIG, "%s: config name '%s' does not match the bundle's "
                           "preset '%s' (%s/manifest.yaml)", cfg->path, cfg->name, bu->preset,
                           bu->dir);
    for (size_t s = 0; s < cfg->n_samples; s++)
        if (cfg->samples[s] < 0 || (size_t)cfg->samples[s] >= bu->n)
            return tdi_err_set(err, TDI_ECONFIG, "%s: circuit.samples[%zu] = %ld but the bundle "
                               "%s has %zu test samples", cfg->path, s, cfg->samples[s], bu->dir,
                               bu->n);
    if (cfg->rank > 0 && (size_t)cfg->rank > D)
        return tdi_err_set(err, TDI_ECONFIG, "%s: circuit.rank = %ld exceeds the bundle's D = %zu",
                           cfg->path, cfg->rank, D);
    *intra = tdi_gen_intra_find(cfg->intra);
    *skip = tdi_gen_skip_find(cfg->skip);
    if (!*intra || !*skip)
        return tdi_err_set(err, TDI_ECONFIG, "%s: unknown realisation (circuit.intra '%s', "
                           "circuit.skip '%s')", cfg->path, cfg->intra, cfg->skip);
    if (bu->k == 0 && (*skip)->needs_factors)
        return tdi_err_set(err, TDI_ECONFIG, "%s: the bundle has k = 0: use skip: dense",
                           cfg->path);
    return 0;
}

/* Sizes, the two modules and the flags copied from the config. */
static void init_circuit(tdi_gen_circuit *c, const tdi_gen_config *cfg, const tdi_gen_bundle *bu)
{
    size_t D = bu->D;
    c->D = D;
    c->k = bu->k;
    c->N = 2 * D;
    c->M = bu->M;
    c->noise = cfg->noise;
    c->readout_all = strcmp(cfg->readout, "all") == 0;
    c->n_mod = 2;
    for (size_t m = 0; m < 2; m++) {
        tdi_gen_module *md = &c->mod[m];
        snprintf(md->name, sizeof md->name, "%s", m ? "dec" : "enc");
        snprintf(md->prefix, sizeof md->prefix, "%s", m ? cfg->dec_prefix : cfg->enc_prefix);
        md->off = m * D;
        md->n = D;
        md->blk = m ? TDI_GEN_BLK_INTRA_DEC : TDI_GEN_BLK_INTRA_ENC;
    }
}

/* Bias currents and equilibrium means of the scheduled samples, checked against analytic.npy. */
static int build_samples(tdi_gen_circuit *c, const tdi_gen_config *cfg, const tdi_gen_bundle *bu,
                         const double *L, tdi_err *err)
{
    size_t D = c->D, N = c->N, ns = cfg->n_samples;
    c->n_samples = ns;
    memcpy(c->samples, cfg->samples, sizeof c->samples);
    c->bias = malloc(ns * N * sizeof *c->bias);
    c->expect_mean = malloc(ns * N * sizeof *c->expect_mean);
    if (!c->bias || !c->expect_mean)
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    for (size_t s = 0; s < ns; s++) {
        size_t n = (size_t)c->samples[s];
        for (size_t i = 0; i < D; i++) {
            c->expect_mean[s * N + i] = bu->b_enc[n * D + i];
            c->expect_mean[s * N + D + i] = bu->b_dec[n * D + i];
        }
        for (size_t i = 0; i < N; i++)
            c->bias[s * N + i] = c->phys.gu * c->phys.Vs * c->expect_mean[s * N + i];
    }
    tdi_linalg_chol_solve_rows(L, N, c->expect_mean, ns);
    for (size_t s = 0; s < ns; s++) {
        size_t n = (size_t)c->samples[s];
        double amax = 0, dmax = 0;
        for (size_t j = 0; j < D; j++) {
            amax = fmax(amax, fabs(bu->analytic[n * D + j]));
            dmax = fmax(dmax, fabs(bu->analytic[n * D + j] - c->expect_mean[s * N + D + j]));
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
 * (decoder, or all): rows of M^-1. */
static int build_readout_sd(tdi_gen_circuit *c, const double *L, tdi_err *err)
{
    size_t D = c->D, N = c->N, first = c->readout_all ? 0 : D, nr = N - first;
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
static void reserve_elems(tdi_gen_build *bd, const tdi_gen_intra_real *intra,
                          const tdi_gen_skip_real *skip)
{
    tdi_gen_circuit *c = bd->c;
    size_t r = bd->cfg->rank > 0 ? (size_t)bd->cfg->rank : c->D, est = c->N;
    for (size_t m = 0; m < c->n_mod; m++)
        est += intra->elements(c->mod[m].n, r);
    est += skip->elements(c->mod[0].n, c->mod[1].n, c->k);
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
        for (size_t j = 0; j < c->D; j++) {
            snprintf(name, sizeof name, "r%.30s", c->nodes[c->D + j].name);
            tdi_gen_add_node(bd, name, TDI_GEN_NODE_RO, j);
        }
}

/* What the intra realisation of module m gets: its diagonal block of M, minus F F^T (F = P for
 * the encoder, Q for the decoder) when the skip buses share it, and the self-term diagonal. */
static void module_block(const tdi_gen_circuit *c, const tdi_gen_bundle *bu, size_t m,
                         const tdi_gen_intra_real *intra, const tdi_gen_skip_real *skip,
                         double *A, double *base)
{
    size_t n = c->mod[m].n, off = c->mod[m].off, N = c->N, k = c->k;
    const double *F = m ? bu->Q : bu->P, *J = m ? bu->Jdec : bu->Jenc, *Ab = m ? bu->B : bu->A;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            A[i * n + j] = bu->M[(off + i) * N + off + j];
    if (skip->shares_diag && k > 0) {
        gsl_matrix_const_view Fv = gsl_matrix_const_view_array(F, n, k);
        gsl_matrix_view Av = gsl_matrix_view_array(A, n, n);
        gsl_blas_dgemm(CblasNoTrans, CblasTrans, -1.0, &Fv.matrix, &Fv.matrix, 1.0, &Av.matrix);
    }
    /* base_from_j: diag(A - (J + J^T)) (= 2 J2 in paper mode); else the whole diagonal */
    for (size_t i = 0; i < n; i++)
        base[i] = intra->base_from_j ? Ab[i * n + i] - 2 * J[i * n + i] : A[i * n + i];
}

/* Self terms (the unit kind's element, conductance gu * base_i) and the intra blocks. */
static int build_modules(tdi_gen_build *bd, const tdi_gen_bundle *bu,
                         const tdi_gen_intra_real *intra, const tdi_gen_skip_real *skip,
                         tdi_err *err)
{
    tdi_gen_circuit *c = bd->c;
    size_t D = c->D;
    double *A = malloc(2 * D * D * sizeof *A), *base = malloc(2 * D * sizeof *base);
    if (!A || !base) {
        free(A);
        free(base);
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    }
    c->blk[TDI_GEN_BLK_SELF].realisation = c->phys.unit->self_style;
    for (size_t m = 0; m < c->n_mod; m++)
        module_block(c, bu, m, intra, skip, A + m * D * D, base + m * D);
    for (size_t m = 0; m < c->n_mod; m++)
        for (size_t i = 0; i < c->mod[m].n; i++)
            c->phys.unit->self_term(bd, c->mod[m].off + i, c->phys.gu * base[m * D + i]);
    int rc = 0;
    for (size_t m = 0; m < c->n_mod && !rc; m++) {
        tdi_gen_block_report *rep = &c->blk[c->mod[m].blk];
        rep->realisation = intra->name;
        rep->dense_pairs = 0.5 * (double)c->mod[m].n * (double)(c->mod[m].n - 1);
        rc = intra->build(bd, &c->mod[m], A + m * D * D, base + m * D, err);
    }
    free(A);
    free(base);
    return rc;
}

/* The skip coupling between the encoder and the decoder (S = P Q^T). */
static void build_skip(tdi_gen_build *bd, const tdi_gen_bundle *bu, const tdi_gen_skip_real *skip)
{
    tdi_gen_circuit *c = bd->c;
    tdi_gen_block_report *rep = &c->blk[TDI_GEN_BLK_SKIP];
    rep->realisation = skip->name;
    rep->dense_pairs = (double)c->mod[0].n * (double)c->mod[1].n;
    tdi_gen_pair pr = {&c->mod[0], &c->mod[1], bu->M + c->mod[1].off, c->N, bu->P, bu->Q, c->k};
    skip->build(bd, &pr);
}

static void name_blocks(tdi_gen_circuit *c)
{
    static const char *const names[TDI_GEN_NBLK] = {"self", "intra_enc", "intra_dec", "skip",
                                                    "readout"};
    for (int b = 0; b < TDI_GEN_NBLK; b++)
        c->blk[b].name = names[b];
}

/* All elements: self terms, intra blocks, skip, read-out stage; then the wire count and budget. */
static int build_elements(tdi_gen_build *bd, const tdi_gen_bundle *bu,
                          const tdi_gen_intra_real *intra, const tdi_gen_skip_real *skip,
                          tdi_err *err)
{
    tdi_gen_circuit *c = bd->c;
    const tdi_gen_config *cfg = bd->cfg;
    reserve_elems(bd, intra, skip);
    add_unit_nodes(bd);
    if (bd->err)
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    name_blocks(c);
    int rc = build_modules(bd, bu, intra, skip, err);
    if (rc)
        return rc;
    build_skip(bd, bu, skip);
    build_readout(bd);
    if (bd->err || count_wires(c))
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    if (cfg->wire_budget > 0 && c->total_pairs > (size_t)cfg->wire_budget)
        return tdi_err_set(err, TDI_ECONFIG, "%s: the netlist needs %zu wire pairs (intra %zu + "
                           "%zu, skip %zu) but circuit.wire_budget = %ld", cfg->path,
                           c->total_pairs, c->blk[TDI_GEN_BLK_INTRA_ENC].wire_pairs,
                           c->blk[TDI_GEN_BLK_INTRA_DEC].wire_pairs,
                           c->blk[TDI_GEN_BLK_SKIP].wire_pairs, cfg->wire_budget);
    return 0;
}

/* Provenance header shared by both netlists. */
static void build_header(tdi_gen_circuit *c, const tdi_gen_config *cfg, const tdi_gen_bundle *bu)
{
    char bh[17], ch[17];
    tdi_hash_hex(bu->hash, bh);
    tdi_hash_hex(cfg->hash, ch);
    const tdi_gen_block_report *e = &c->blk[TDI_GEN_BLK_INTRA_ENC],
                               *d = &c->blk[TDI_GEN_BLK_INTRA_DEC], *s = &c->blk[TDI_GEN_BLK_SKIP];
    snprintf(c->header, sizeof c->header,
             "* preset %s | bundle %s (hash %s, mode %s) | config %s (circuit hash %s)\n"
             "* D = %zu per module (N = %zu units), k = %zu | unit %s | intra %s (rank %zu, "
             "%zu) | skip %s\n"
             "* wire pairs: intra_enc %zu, intra_dec %zu, skip %zu (dense skip D^2 = %.0f, "
             "ratio %.4g); total %zu pairs, %zu coupling elements\n",
             cfg->name, bu->dir, bh, bu->mode[0] ? bu->mode : "?", cfg->path, ch, c->D, c->N,
             c->k, c->phys.unit->name, e->realisation, e->rank, d->rank, s->realisation,
             e->wire_pairs, d->wire_pairs, s->wire_pairs, s->dense_pairs,
             s->dense_pairs > 0 ? (double)s->wire_pairs / s->dense_pairs : 0.0, c->total_pairs,
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
    double t0 = now();
    size_t N = 2 * bu->D;
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
    double t1 = now();
    c->time_prep = t1 - t0;
    if ((rc = build_elements(&bd, bu, intra, skip, err)) ||
        (rc = tdi_gen_op_resolve(cfg, bu, L, c, err)) || (rc = tdi_gen_emit_elements(c, err)))
        goto done;
    c->time_elems = now() - t1;
    build_header(c, cfg, bu);
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
        gsl_matrix_view Fv = gsl_matrix_view_array(GFB, N, nb), Xv = gsl_matrix_view_array(GBX, nb, N);
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
