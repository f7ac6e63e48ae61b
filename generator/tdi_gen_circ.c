/* tdi_gen_circ: config + bundle -> circuit: derived physics (docs/physics.md 1, 2, 4, 5), the
 * coupling elements of every realisation (dense, low-rank/bus, two-bus, shared-bus; section 3),
 * the wire report and the Schur-complement reduction used to verify them.
 * Invariant: reduce(elements) == gu * M to rounding for every realisation and unit kind; node
 * order is x0..x{D-1}, y0..y{D-1}, then (rlc) p-nodes or (read-out stage) r<y> nodes, then
 * buses; the stage block comes last and is left out of the reduction (it does not load the
 * substrate). Non-goal: text formatting (tdi_gen_emit.c). */
#include "tdi_gen.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "tdi_gen_int.h"
#include "tdi_io.h"

/* ---------- growable node and element lists ---------- */
typedef struct {
    tdi_gen_circuit *c;
    size_t cap_nodes, cap_elems;
    int err;
} builder;

static int add_node(builder *b, const char *name, tdi_gen_node_kind kind, size_t index)
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

static void add_elem(builder *b, char kind, int block, int na, int nb, int nc, int nd, double g)
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

/* Step response from rest of one mode with eigenvalue lam: |error(t)| / |initial error|
 * (envelope for the underdamped case). */
static double mode_err(const tdi_gen_phys *p, double lam, double t)
{
    if (!p->rlc)
        return exp(-lam * t / p->tau);
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

/* slowest decay rate and largest |root| of one mode */
static void mode_rates(const tdi_gen_phys *p, double lam, double *slow, double *fast)
{
    if (!p->rlc) {
        *slow = *fast = lam / p->tau;
        return;
    }
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
    p->rlc = strcmp(cfg->unit, "rlc") == 0;
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
    if (p->rlc) {
        p->Cp = cfg->rlc_cp * cfg->Cu;
        p->gd = 2 * cfg->rlc_zeta * p->gu * sqrt(p->lambda_min * p->Cp / p->Cu);
        p->g_noise = p->gd;
        p->readout_gain = p->gd / p->gu;
    } else {
        p->g_noise = p->gu;
        p->readout_gain = 1.0;
    }
    double s1, f1, s2, f2;
    mode_rates(p, p->lambda_min, &s1, &f1);
    mode_rates(p, p->lambda_max, &s2, &f2);
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
        while (fmax(mode_err(p, p->lambda_min, hi), mode_err(p, p->lambda_max, hi)) >
               cfg->settle_eps)
            hi *= 2;
        for (int it = 0; it < 100; it++) {
            double mid = 0.5 * (lo + hi);
            if (fmax(mode_err(p, p->lambda_min, mid), mode_err(p, p->lambda_max, mid)) >
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

/* ---------- low-rank factoring of a symmetric D x D remainder R = U diag(lam) U^T ---------- */

/* Randomised range finder with rcap + 10 probes (seeded), then the exact eigen-decomposition
 * of the projected matrix; components with |lam| <= 1e-12 max|lam| are dropped. Fails when the
 * numerical rank exceeds rcap or the factorisation misses R by more than 1e-10 of scale. */
static int lowrank(const double *R, size_t D, size_t rcap, unsigned long seed, double scale,
                   const char *what, const char *cfgpath, double **U_out, double **lam_out,
                   size_t *r_out, tdi_err *err)
{
    size_t l = rcap + 10 < D ? rcap + 10 : D;
    double *Y = malloc(D * l * sizeof *Y), *Om = malloc(D * l * sizeof *Om);
    double *Bs = malloc(l * l * sizeof *Bs), *RQ = malloc(D * l * sizeof *RQ);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    double *U = NULL, *lam = NULL;
    gsl_eigen_symmv_workspace *ws = NULL;
    gsl_vector *ev = NULL;
    gsl_matrix *evec = NULL;
    int rc = 0;
    if (!Y || !Om || !Bs || !RQ || !rng) {
        rc = tdi_err_set(err, TDI_ENOMEM, "low-rank factoring: out of memory");
        goto done;
    }
    gsl_rng_set(rng, seed);
    for (size_t i = 0; i < D * l; i++)
        Om[i] = gsl_ran_gaussian(rng, 1.0);
    /* Y = R Om  (D x l) */
    {
        gsl_matrix_const_view Rv = gsl_matrix_const_view_array(R, D, D);
        gsl_matrix_view Ov = gsl_matrix_view_array(Om, D, l), Yv = gsl_matrix_view_array(Y, D, l);
        gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 1.0, &Rv.matrix, &Ov.matrix, 0.0, &Yv.matrix);
    }
    /* orthonormal columns by modified Gram-Schmidt, twice; drop (near) dependent columns */
    double ymax = 0;
    for (size_t i = 0; i < D * l; i++)
        ymax = fmax(ymax, fabs(Y[i]));
    size_t q = 0; /* kept columns, compacted to the front of Y (column-major view: Y[i*l + j]) */
    for (size_t j = 0; j < l; j++) {
        for (int pass = 0; pass < 2; pass++)
            for (size_t m = 0; m < q; m++) {
                double d = 0;
                for (size_t i = 0; i < D; i++)
                    d += Y[i * l + m] * Y[i * l + j];
                for (size_t i = 0; i < D; i++)
                    Y[i * l + j] -= d * Y[i * l + m];
            }
        double nrm = 0;
        for (size_t i = 0; i < D; i++)
            nrm += Y[i * l + j] * Y[i * l + j];
        nrm = sqrt(nrm);
        if (nrm <= 1e-11 * ymax * sqrt((double)D) || nrm == 0)
            continue;
        for (size_t i = 0; i < D; i++)
            Y[i * l + q] = Y[i * l + j] / nrm;
        q++;
    }
    /* B = Qm^T R Qm (q x q) */
    if (q > 0) {
        gsl_matrix_const_view Rv = gsl_matrix_const_view_array(R, D, D);
        gsl_matrix_view Yfull = gsl_matrix_view_array(Y, D, l);
        gsl_matrix_view Qv = gsl_matrix_submatrix(&Yfull.matrix, 0, 0, D, q);
        gsl_matrix_view RQv = gsl_matrix_view_array(RQ, D, q);
        gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 1.0, &Rv.matrix, &Qv.matrix, 0.0,
                       &RQv.matrix);
        gsl_matrix_view Bv = gsl_matrix_view_array(Bs, q, q);
        gsl_blas_dgemm(CblasTrans, CblasNoTrans, 1.0, &Qv.matrix, &RQv.matrix, 0.0, &Bv.matrix);
        for (size_t i = 0; i < q; i++) /* symmetrise rounding */
            for (size_t j = i + 1; j < q; j++)
                Bs[i * q + j] = Bs[j * q + i] = 0.5 * (Bs[i * q + j] + Bs[j * q + i]);
        ws = gsl_eigen_symmv_alloc(q);
        ev = gsl_vector_alloc(q);
        evec = gsl_matrix_alloc(q, q);
        gsl_eigen_symmv(&Bv.matrix, ev, evec, ws);
        gsl_eigen_symmv_sort(ev, evec, GSL_EIGEN_SORT_ABS_DESC);
    }
    double lmax = q ? fabs(gsl_vector_get(ev, 0)) : 0;
    size_t r = 0;
    for (size_t m = 0; m < q; m++)
        if (fabs(gsl_vector_get(ev, m)) > 1e-12 * lmax)
            r++;
    if (r > rcap) {
        rc = tdi_err_set(err, TDI_ECONFIG, "%s: the %s intra-module block needs rank %zu "
                         "(diagonal + rank r) but circuit.rank = %zu; raise it or use "
                         "intra: dense", cfgpath, what, r, rcap);
        goto done;
    }
    U = malloc(D * (r ? r : 1) * sizeof *U);
    lam = malloc((r ? r : 1) * sizeof *lam);
    if (!U || !lam) {
        rc = tdi_err_set(err, TDI_ENOMEM, "low-rank factoring: out of memory");
        goto done;
    }
    for (size_t m = 0; m < r; m++) {
        lam[m] = gsl_vector_get(ev, m);
        for (size_t i = 0; i < D; i++) {
            double s = 0;
            for (size_t j = 0; j < q; j++)
                s += Y[i * l + j] * gsl_matrix_get(evec, j, m);
            U[i * r + m] = s;
        }
    }
    /* verify R == U lam U^T; 1e-10 of scale keeps the netlist within 1e-9 of gu*M */
    double worst = 0;
    {
        double *UL = malloc(D * (r ? r : 1) * sizeof *UL), *RR = malloc(D * D * sizeof *RR);
        if (!UL || !RR) {
            free(UL);
            free(RR);
            rc = tdi_err_set(err, TDI_ENOMEM, "low-rank factoring: out of memory");
            goto done;
        }
        for (size_t i = 0; i < D; i++)
            for (size_t m = 0; m < r; m++)
                UL[i * r + m] = U[i * r + m] * lam[m];
        memcpy(RR, R, D * D * sizeof *RR);
        if (r > 0) {
            gsl_matrix_view Uv = gsl_matrix_view_array(U, D, r), ULv = gsl_matrix_view_array(UL, D, r);
            gsl_matrix_view Rv = gsl_matrix_view_array(RR, D, D);
            gsl_blas_dgemm(CblasNoTrans, CblasTrans, -1.0, &ULv.matrix, &Uv.matrix, 1.0,
                           &Rv.matrix);
        }
        for (size_t i = 0; i < D * D; i++)
            worst = fmax(worst, fabs(RR[i]));
        free(UL);
        free(RR);
    }
    if (worst > 1e-10 * scale) {
        rc = tdi_err_set(err, TDI_ECONFIG, "%s: the %s intra-module block is not diagonal + rank "
                         "%zu (residual %.3g of max|M| %.3g): its rank exceeds circuit.rank; "
                         "raise it or use intra: dense", cfgpath, what, rcap, worst, scale);
        goto done;
    }
    *U_out = U;
    *lam_out = lam;
    *r_out = r;
    U = lam = NULL;
done:
    free(Y);
    free(Om);
    free(Bs);
    free(RQ);
    free(U);
    free(lam);
    gsl_rng_free(rng);
    if (ws)
        gsl_eigen_symmv_free(ws);
    gsl_vector_free(ev);
    gsl_matrix_free(evec);
    return rc;
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

static int force_node(const tdi_gen_circuit *c, size_t unit)
{
    return (int)(c->phys.rlc ? c->N + unit : unit);
}

/* Intra block of one module: dense VCCS, or buses for the low-rank remainder. Amod is the
 * block to realise (after the shared-bus correction); base its diagonal part. */
static int build_intra(builder *bd, const tdi_gen_config *cfg, int mod, const double *Amod,
                       const double *base, double scale, tdi_err *err)
{
    tdi_gen_circuit *c = bd->c;
    size_t D = c->D, off = mod ? D : 0;
    int blk = mod ? TDI_GEN_BLK_INTRA_DEC : TDI_GEN_BLK_INTRA_ENC;
    const char *pre = mod ? cfg->dec_prefix : cfg->enc_prefix;
    tdi_gen_block_report *rep = &c->blk[blk];
    rep->name = mod ? "intra_dec" : "intra_enc";
    rep->dense_pairs = 0.5 * (double)D * (double)(D - 1);
    if (strcmp(cfg->intra, "dense") == 0) {
        rep->realisation = "dense";
        for (size_t i = 0; i < D; i++) {
            for (size_t j = 0; j < D; j++)
                if (j != i)
                    add_elem(bd, 'G', blk, force_node(c, off + i), -1, (int)(off + j), -1,
                             c->phys.gu * Amod[i * D + j]);
        }
        return 0;
    }
    rep->realisation = "lowrank";
    double *R = malloc(D * D * sizeof *R), *U = NULL, *lam = NULL;
    if (!R)
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    memcpy(R, Amod, D * D * sizeof *R);
    for (size_t i = 0; i < D; i++)
        R[i * D + i] -= base[i];
    size_t r = 0, rcap = cfg->rank > 0 ? (size_t)cfg->rank : D;
    if (rcap > D)
        rcap = D;
    uint64_t lr_seed = tdi_seed((uint64_t)cfg->seed, TDI_SEED_GEN_LOWRANK, (uint64_t)mod);
    int rc = lowrank(R, D, rcap, lr_seed, scale,
                     mod ? "decoder" : "encoder", cfg->path, &U, &lam, &r, err);
    free(R);
    if (rc)
        return rc;
    rep->rank = r;
    for (size_t m = 0; m < r; m++) {
        char name[40];
        snprintf(name, sizeof name, "u%.9s%zu", pre, m);
        int bus = add_node(bd, name, TDI_GEN_NODE_BUS, m);
        if (bus < 0)
            break;
        rep->bus_nodes++;
        add_elem(bd, 'R', blk, bus, -1, -1, -1, c->phys.gu); /* bus to ground: v = u^T x */
        for (size_t j = 0; j < D; j++) /* sum: inject gu u_jm v_j into the bus */
            add_elem(bd, 'G', blk, -1, bus, (int)(off + j), -1, c->phys.gu * U[j * r + m]);
        for (size_t i = 0; i < D; i++) /* distribute: remove gu lam u_im v_bus from unit i */
            add_elem(bd, 'G', blk, force_node(c, off + i), -1, bus, -1,
                     c->phys.gu * lam[m] * U[i * r + m]);
    }
    free(U);
    free(lam);
    return 0;
}

static void build_skip(builder *bd, const tdi_gen_config *cfg, const tdi_gen_bundle *bu)
{
    tdi_gen_circuit *c = bd->c;
    size_t D = c->D, k = c->k, N = c->N;
    double gu = c->phys.gu;
    tdi_gen_block_report *rep = &c->blk[TDI_GEN_BLK_SKIP];
    rep->name = "skip";
    rep->realisation = cfg->skip;
    rep->dense_pairs = (double)D * (double)D;
    if (strcmp(cfg->skip, "dense") == 0) {
        for (size_t i = 0; i < D; i++)
            for (size_t j = 0; j < D; j++) {
                double s = bu->M[i * N + D + j];
                add_elem(bd, 'G', TDI_GEN_BLK_SKIP, force_node(c, i), -1, (int)(D + j), -1,
                         gu * s);
                add_elem(bd, 'G', TDI_GEN_BLK_SKIP, force_node(c, D + j), -1, (int)i, -1, gu * s);
            }
        return;
    }
    rep->rank = k;
    int shared = strcmp(cfg->skip, "sharedbus") == 0;
    for (size_t l = 0; l < k; l++) {
        double al = 0, be = 0;
        for (size_t i = 0; i < D; i++) {
            al += bu->P[i * k + l] * bu->P[i * k + l];
            be += bu->Q[i * k + l] * bu->Q[i * k + l];
        }
        al = sqrt(al);
        be = sqrt(be);
        char name[40];
        if (shared) {
            double a = sqrt(al * al + be * be);
            if (a == 0)
                continue;
            snprintf(name, sizeof name, "sk%zu", l);
            int bus = add_node(bd, name, TDI_GEN_NODE_BUS, l);
            if (bus < 0)
                return;
            rep->bus_nodes++;
            add_elem(bd, 'R', TDI_GEN_BLK_SKIP, bus, -1, -1, -1, gu);
            for (size_t i = 0; i < D; i++)
                add_elem(bd, 'G', TDI_GEN_BLK_SKIP, -1, bus, (int)i, -1, gu * bu->P[i * k + l] / a);
            for (size_t j = 0; j < D; j++)
                add_elem(bd, 'G', TDI_GEN_BLK_SKIP, -1, bus, (int)(D + j), -1,
                         gu * bu->Q[j * k + l] / a);
            for (size_t i = 0; i < D; i++)
                add_elem(bd, 'G', TDI_GEN_BLK_SKIP, force_node(c, i), -1, bus, -1,
                         gu * bu->P[i * k + l] * a);
            for (size_t j = 0; j < D; j++)
                add_elem(bd, 'G', TDI_GEN_BLK_SKIP, force_node(c, D + j), -1, bus, -1,
                         gu * bu->Q[j * k + l] * a);
            continue;
        }
        if (al == 0 || be == 0)
            continue;
        /* s<x>l = P_l^T x / al drives the decoder; s<y>l = Q_l^T y / be drives the encoder */
        snprintf(name, sizeof name, "s%s%zu", cfg->enc_prefix, l);
        int bx = add_node(bd, name, TDI_GEN_NODE_BUS, 2 * l);
        snprintf(name, sizeof name, "s%s%zu", cfg->dec_prefix, l);
        int by = add_node(bd, name, TDI_GEN_NODE_BUS, 2 * l + 1);
        if (bx < 0 || by < 0)
            return;
        rep->bus_nodes += 2;
        add_elem(bd, 'R', TDI_GEN_BLK_SKIP, bx, -1, -1, -1, gu);
        for (size_t i = 0; i < D; i++)
            add_elem(bd, 'G', TDI_GEN_BLK_SKIP, -1, bx, (int)i, -1, gu * bu->P[i * k + l] / al);
        for (size_t j = 0; j < D; j++)
            add_elem(bd, 'G', TDI_GEN_BLK_SKIP, force_node(c, D + j), -1, bx, -1,
                     gu * bu->Q[j * k + l] * al);
        add_elem(bd, 'R', TDI_GEN_BLK_SKIP, by, -1, -1, -1, gu);
        for (size_t j = 0; j < D; j++)
            add_elem(bd, 'G', TDI_GEN_BLK_SKIP, -1, by, (int)(D + j), -1,
                     gu * bu->Q[j * k + l] / be);
        for (size_t i = 0; i < D; i++)
            add_elem(bd, 'G', TDI_GEN_BLK_SKIP, force_node(c, i), -1, by, -1,
                     gu * bu->P[i * k + l] * be);
    }
}

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
static void build_readout(builder *bd)
{
    tdi_gen_circuit *c = bd->c;
    tdi_gen_block_report *rep = &c->blk[TDI_GEN_BLK_READOUT];
    rep->name = "readout";
    rep->realisation = c->phys.ro ? "gm_c" : "none";
    if (!c->phys.ro)
        return;
    for (size_t j = 0; j < c->D; j++) {
        int r = (int)(c->N + j), y = (int)(c->D + j);
        add_elem(bd, 'G', TDI_GEN_BLK_READOUT, -1, r, y, -1, c->phys.ro_g);
        add_elem(bd, 'R', TDI_GEN_BLK_READOUT, r, -1, -1, -1, c->phys.ro_g);
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

int tdi_gen_circuit_build(const tdi_gen_config *cfg, const tdi_gen_bundle *bu,
                          tdi_gen_circuit **out, tdi_err *err)
{
    *out = NULL;
    size_t D = bu->D, k = bu->k, N = 2 * D;
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
    if (k == 0 && strcmp(cfg->skip, "dense") != 0)
        return tdi_err_set(err, TDI_ECONFIG, "%s: the bundle has k = 0: use skip: dense",
                           cfg->path);
    double t0 = now();
    tdi_gen_circuit *c = calloc(1, sizeof *c);
    double *L = malloc(N * N * sizeof *L), *Am = NULL, *Bm = NULL, *Z = NULL;
    builder bd = {c, 0, 0, 0};
    int rc = 0;
    if (!c || !L) {
        rc = tdi_err_set(err, TDI_ENOMEM, "out of memory");
        goto fail;
    }
    c->D = D;
    c->k = k;
    c->N = N;
    c->M = bu->M;
    c->noise = cfg->noise;
    c->readout_all = strcmp(cfg->readout, "all") == 0;
    char what[600];
    snprintf(what, sizeof what, "%s/M.npy", bu->dir);
    if ((rc = tdi_linalg_chol(bu->M, N, L, what, 0, NULL, err)))
        goto fail;
    if ((rc = derive_phys(cfg, bu, L, &c->phys, err)))
        goto fail;
    snprintf(c->unit_subckt, sizeof c->unit_subckt, "unit_%s", cfg->unit);
    double scale = 0;
    for (size_t i = 0; i < N * N; i++)
        scale = fmax(scale, fabs(bu->M[i]));

    /* samples: bias currents, expected means, consistency with analytic.npy */
    c->n_samples = cfg->n_samples;
    memcpy(c->samples, cfg->samples, sizeof c->samples);
    size_t ns = c->n_samples;
    c->bias = malloc(ns * N * sizeof *c->bias);
    c->expect_mean = malloc(ns * N * sizeof *c->expect_mean);
    c->node_var = malloc(N * sizeof *c->node_var);
    c->readout_sd = malloc(N * sizeof *c->readout_sd);
    Z = malloc((cfg->readout[0] == 'a' ? N : D) * N * sizeof *Z);
    if (!c->bias || !c->expect_mean || !c->node_var || !c->readout_sd || !Z) {
        rc = tdi_err_set(err, TDI_ENOMEM, "out of memory");
        goto fail;
    }
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
        if (dmax > 1e-8 * fmax(amax, 1e-300)) {
            rc = tdi_err_set(err, TDI_EFORMAT, "%s/analytic.npy: sample %zu differs from "
                             "(M^-1 [b_enc; b_dec])_y by %.3g (max |y*| %.3g): the bundle is "
                             "inconsistent", bu->dir, n, dmax, amax);
            goto fail;
        }
        for (size_t i = 0; i < N; i++)
            c->expect_mean[s * N + i] *= c->phys.Vs;
    }
    /* node variance (kT/C)(M^-1)_ii and readout std from (M^-2)_ii, for the read-out nodes
       (decoder, or all): rows of M^-1 */
    {
        size_t first = c->readout_all ? 0 : D, nr = N - first;
        memset(Z, 0, nr * N * sizeof *Z);
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
    }

    stage_elements(c, cfg);
    double t1 = now();
    c->time_prep = t1 - t0;
    /* reserve the element list (an upper bound; avoids repeated reallocation) */
    {
        size_t r = cfg->rank > 0 ? (size_t)cfg->rank : D, est = N;
        est += strcmp(cfg->intra, "dense") == 0 ? 2 * D * D : 2 * r * (2 * D + 1);
        est += strcmp(cfg->skip, "dense") == 0 ? 2 * D * D : 2 * k * (2 * D + 1);
        est += 2 * D; /* read-out stage */
        c->elems = malloc(est * sizeof *c->elems);
        if (c->elems)
            bd.cap_elems = est;
    }
    /* nodes: units, rlc p-nodes */
    for (size_t i = 0; i < N; i++) {
        char name[40];
        snprintf(name, sizeof name, "%s%zu", i < D ? cfg->enc_prefix : cfg->dec_prefix,
                 i < D ? i : i - D);
        add_node(&bd, name, TDI_GEN_NODE_UNIT, i);
    }
    if (c->phys.rlc)
        for (size_t i = 0; i < N; i++) {
            char name[40];
            snprintf(name, sizeof name, "p%.30s", c->nodes[i].name);
            add_node(&bd, name, TDI_GEN_NODE_MOM, i);
        }
    if (c->phys.ro) /* read-out stage nodes r<y><j> = nodes[N + j] (rc units only: cfg check) */
        for (size_t j = 0; j < D; j++) {
            char name[40];
            snprintf(name, sizeof name, "r%.30s", c->nodes[D + j].name);
            add_node(&bd, name, TDI_GEN_NODE_RO, j);
        }
    if (bd.err) {
        rc = tdi_err_set(err, TDI_ENOMEM, "out of memory");
        goto fail;
    }
    /* blocks to realise: A, B minus the shared-bus diagonal blocks P P^T, Q Q^T */
    Am = malloc(D * D * sizeof *Am);
    Bm = malloc(D * D * sizeof *Bm);
    if (!Am || !Bm) {
        rc = tdi_err_set(err, TDI_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < D; i++)
        for (size_t j = 0; j < D; j++) {
            Am[i * D + j] = bu->M[i * N + j];
            Bm[i * D + j] = bu->M[(D + i) * N + D + j];
        }
    if (strcmp(cfg->skip, "sharedbus") == 0 && k > 0) {
        gsl_matrix_const_view Pv = gsl_matrix_const_view_array(bu->P, D, k);
        gsl_matrix_const_view Qv = gsl_matrix_const_view_array(bu->Q, D, k);
        gsl_matrix_view Av = gsl_matrix_view_array(Am, D, D), Bv = gsl_matrix_view_array(Bm, D, D);
        gsl_blas_dgemm(CblasNoTrans, CblasTrans, -1.0, &Pv.matrix, &Pv.matrix, 1.0, &Av.matrix);
        gsl_blas_dgemm(CblasNoTrans, CblasTrans, -1.0, &Qv.matrix, &Qv.matrix, 1.0, &Bv.matrix);
    }
    /* base diagonal of the low-rank realisation: diag(A - (J + J^T)) (= 2 J2 in paper mode) */
    double *base_e = malloc(D * sizeof *base_e), *base_d = malloc(D * sizeof *base_d);
    if (!base_e || !base_d) {
        free(base_e);
        free(base_d);
        rc = tdi_err_set(err, TDI_ENOMEM, "out of memory");
        goto fail;
    }
    int lowr = strcmp(cfg->intra, "lowrank") == 0;
    for (size_t i = 0; i < D; i++) {
        base_e[i] = lowr ? bu->A[i * D + i] - 2 * bu->Jenc[i * D + i] : Am[i * D + i];
        base_d[i] = lowr ? bu->B[i * D + i] - 2 * bu->Jdec[i * D + i] : Bm[i * D + i];
    }
    /* self terms: conductance gu * base_i to ground (rc: resistor; rlc: VCCS into p) */
    c->blk[TDI_GEN_BLK_SELF].name = "self";
    c->blk[TDI_GEN_BLK_SELF].realisation = c->phys.rlc ? "vccs" : "resistor";
    for (size_t i = 0; i < N; i++) {
        double g = c->phys.gu * (i < D ? base_e[i] : base_d[i - D]);
        if (c->phys.rlc)
            add_elem(&bd, 'G', TDI_GEN_BLK_SELF, force_node(c, i), -1, (int)i, -1, g);
        else
            add_elem(&bd, 'R', TDI_GEN_BLK_SELF, (int)i, -1, -1, -1, g);
    }
    rc = build_intra(&bd, cfg, 0, Am, base_e, scale, err);
    if (!rc)
        rc = build_intra(&bd, cfg, 1, Bm, base_d, scale, err);
    free(base_e);
    free(base_d);
    if (rc)
        goto fail;
    build_skip(&bd, cfg, bu);
    build_readout(&bd);
    if (bd.err || count_wires(c)) {
        rc = tdi_err_set(err, TDI_ENOMEM, "out of memory");
        goto fail;
    }
    if (cfg->wire_budget > 0 && c->total_pairs > (size_t)cfg->wire_budget) {
        rc = tdi_err_set(err, TDI_ECONFIG, "%s: the netlist needs %zu wire pairs (intra %zu + %zu,"
                         " skip %zu) but circuit.wire_budget = %ld", cfg->path, c->total_pairs,
                         c->blk[TDI_GEN_BLK_INTRA_ENC].wire_pairs,
                         c->blk[TDI_GEN_BLK_INTRA_DEC].wire_pairs,
                         c->blk[TDI_GEN_BLK_SKIP].wire_pairs, cfg->wire_budget);
        goto fail;
    }
    if ((rc = tdi_gen_op_resolve(cfg, bu, L, c, err)))
        goto fail;
    if ((rc = tdi_gen_emit_elements(c, err)))
        goto fail;
    c->time_elems = now() - t1;
    /* provenance header shared by both netlists */
    {
        char bh[17], ch[17];
        tdi_hash_hex(bu->hash, bh);
        tdi_hash_hex(cfg->hash, ch);
        const tdi_gen_block_report *e = &c->blk[TDI_GEN_BLK_INTRA_ENC],
                                   *d = &c->blk[TDI_GEN_BLK_INTRA_DEC],
                                   *s = &c->blk[TDI_GEN_BLK_SKIP];
        snprintf(c->header, sizeof c->header,
                 "* preset %s | bundle %s (hash %s, mode %s) | config %s (circuit hash %s)\n"
                 "* D = %zu per module (N = %zu units), k = %zu | unit %s | intra %s (rank %zu, "
                 "%zu) | skip %s\n"
                 "* wire pairs: intra_enc %zu, intra_dec %zu, skip %zu (dense skip D^2 = %.0f, "
                 "ratio %.4g); total %zu pairs, %zu coupling elements\n",
                 cfg->name, bu->dir, bh, bu->mode[0] ? bu->mode : "?", cfg->path, ch, D, N, k,
                 cfg->unit, cfg->intra, e->rank, d->rank, cfg->skip, e->wire_pairs,
                 d->wire_pairs, s->wire_pairs, s->dense_pairs,
                 s->dense_pairs > 0 ? (double)s->wire_pairs / s->dense_pairs : 0.0,
                 c->total_pairs, c->total_elements);
    }
    free(L);
    free(Am);
    free(Bm);
    free(Z);
    *out = c;
    return 0;
fail:
    free(L);
    free(Am);
    free(Bm);
    free(Z);
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
        f[i] = (n->kind == TDI_GEN_NODE_UNIT && !c->phys.rlc) || n->kind == TDI_GEN_NODE_MOM
                   ? (int)n->index : -1;
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
