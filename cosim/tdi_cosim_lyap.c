/* tdi_cosim_lyap: the stationary statistics of a linear circuit whose G need not be symmetric
 * (a realised transistor-level G, a mismatched chip): the Lyapunov covariance of the unit
 * voltages with per-unit noise PSDs, the measured covariance of a noise-only engine run, and the
 * effective temperature per unit against the design's theta M^-1 (docs/physics.md section 10).
 * Invariant: one Lyapunov solver (tdi_linalg_lyap); the reference is the same solve on the design
 * G with thermal noise only. Non-goal: the mean (tdi_cosim_analytic_solve). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_cosim.h"
#include "tdi_linalg.h"

/* The sde state of c: ns nodes, capacitances, G (c->state_* or the units themselves). */
static void lyap_state(const tdi_cosim_circuit *c, size_t *ns, const double **cap,
                       const double **G)
{
    *ns = c->n_state ? c->n_state : c->n;
    *cap = c->n_state ? c->state_cap : c->cap;
    *G = c->n_state ? c->state_G : c->G;
}

int tdi_cosim_analytic_cov(const tdi_cosim_circuit *c, const double *Gr, const double *psd_extra,
                           double *Sigma, double *resid, tdi_err *err)
{
    size_t ns, n = c->n;
    const double *cap, *G;
    lyap_state(c, &ns, &cap, &G);
    if (Gr && c->n_state)
        return tdi_err_set(err, TDI_EARG, "analytic covariance: a realised G replaces the units' "
                           "G only when the units are the state (rc units)");
    if (Gr)
        G = Gr;
    double *A = malloc(ns * ns * sizeof *A), *Q = calloc(ns * ns, sizeof *Q);
    double *S = malloc(ns * ns * sizeof *S);
    int rc = 0;
    if (!A || !Q || !S) {
        rc = tdi_err_set(err, TDI_ENOMEM, "analytic covariance: out of memory");
        goto done;
    }
    for (size_t i = 0; i < ns; i++) /* A = C^-1 G */
        for (size_t j = 0; j < ns; j++)
            A[i * ns + j] = G[i * ns + j] / cap[i];
    for (size_t u = 0; u < n; u++) { /* Q' = C^-1 B diag(PSD) B^T C^-1, diagonal */
        size_t f = c->n_state ? c->force[u] : u;
        double psd = 2 * TDI_COSIM_KB * c->temp * c->g_noise[u] + (psd_extra ? psd_extra[u] : 0);
        Q[f * ns + f] += psd / (cap[f] * cap[f]);
    }
    rc = tdi_linalg_lyap(A, ns, Q, S, resid, "analytic covariance: C^-1 G", err);
    for (size_t i = 0; i < n && !rc; i++) /* the units come first in the state */
        memcpy(Sigma + i * n, S + i * ns, n * sizeof *Sigma);
done:
    free(A);
    free(Q);
    free(S);
    return rc;
}

/* |X - Y|_F / |Y|_F over (n, n) */
static double lyap_rel_frob(const double *X, const double *Y, size_t n)
{
    double d = 0, y = 0;
    for (size_t i = 0; i < n * n; i++) {
        d += (X[i] - Y[i]) * (X[i] - Y[i]);
        y += Y[i] * Y[i];
    }
    return y > 0 ? sqrt(d / y) : NAN;
}

void tdi_cosim_teff_free(tdi_cosim_teff *t)
{
    if (!t)
        return;
    free(t->teff);
    free(t->teff_lyap);
    free(t->var_ref);
    free(t);
}

static void teff_fill(tdi_cosim_teff *t, const double *S_ref, const double *S_lyap,
                      const double *S_meas)
{
    size_t n = t->n;
    double sm = 0, sl = 0;
    for (size_t i = 0; i < n; i++) {
        t->var_ref[i] = S_ref[i * n + i];
        t->teff_lyap[i] = S_lyap[i * n + i] / t->var_ref[i];
        t->teff[i] = S_meas ? S_meas[i * n + i] / t->var_ref[i] : NAN;
        sm += t->teff[i] / (double)n;
        sl += t->teff_lyap[i] / (double)n;
    }
    t->teff_mean = sm;
    t->teff_lyap_mean = sl;
    t->d_lyap_ref = lyap_rel_frob(S_lyap, S_ref, n);
    t->d_meas_ref = S_meas ? lyap_rel_frob(S_meas, S_ref, n) : NAN;
    t->d_meas_lyap = S_meas ? lyap_rel_frob(S_meas, S_lyap, n) : NAN;
}

tdi_cosim_teff *tdi_cosim_teff_eval(const tdi_cosim_circuit *c, const double *G_design,
                                    const double *G_real, const double *psd_extra,
                                    const double *S_meas, tdi_err *err)
{
    size_t n = c->n;
    tdi_cosim_teff *t = calloc(1, sizeof *t);
    double *S_ref = malloc(n * n * sizeof(double)), *S_lyap = malloc(n * n * sizeof(double));
    if (!t || !S_ref || !S_lyap || !(t->teff = malloc(n * sizeof(double))) ||
        !(t->teff_lyap = malloc(n * sizeof(double))) ||
        !(t->var_ref = malloc(n * sizeof(double)))) {
        tdi_err_set(err, TDI_ENOMEM, "effective temperature: out of memory");
        goto fail;
    }
    t->n = n;
    if (tdi_cosim_analytic_cov(c, G_design, NULL, S_ref, NULL, err) ||
        tdi_cosim_analytic_cov(c, G_real, psd_extra, S_lyap, &t->lyap_resid, err)) {
        tdi_err_prefix(err, "effective temperature");
        goto fail;
    }
    teff_fill(t, S_ref, S_lyap, S_meas);
    free(S_ref);
    free(S_lyap);
    return t;
fail:
    free(S_ref);
    free(S_lyap);
    tdi_cosim_teff_free(t);
    return NULL;
}

void tdi_cosim_teff_print(FILE *f, const tdi_cosim_teff *t)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < t->n; i++) {
        lo = fmin(lo, t->teff[i]);
        hi = fmax(hi, t->teff[i]);
    }
    fprintf(f, "noise: effective temperature T_eff/T (node variance over kT/C (M^-1)_ii): "
            "measured mean %.4g (min %.4g, max %.4g), Lyapunov mean %.4g\n", t->teff_mean, lo, hi,
            t->teff_lyap_mean);
    fprintf(f, "noise: covariance, relative Frobenius distance: measured vs theta M^-1 %.4g, "
            "Lyapunov (realised G, device PSDs) vs theta M^-1 %.4g, measured vs Lyapunov %.4g "
            "(Lyapunov residual %.2g)\n", t->d_meas_ref, t->d_lyap_ref, t->d_meas_lyap,
            t->lyap_resid);
}

/* The stationary run's digital side: zero bias, sums of v and v v^T over the kept ticks. */
typedef struct lyap_meas {
    size_t n;
    long burn, stride, kept;
    double *zero, *sum, *sq; /* (n), (n), (n, n) */
} lyap_meas;

static const double *meas_bias(void *u, long k)
{
    (void)k;
    return ((lyap_meas *)u)->zero;
}

static int meas_tick(void *u, long k, double t, const double *v, const double *ib)
{
    (void)t;
    (void)ib;
    lyap_meas *m = u;
    if (k <= m->burn || (k - m->burn) % m->stride)
        return 0;
    size_t n = m->n;
    for (size_t i = 0; i < n; i++) {
        m->sum[i] += v[i];
        for (size_t j = 0; j <= i; j++)
            m->sq[i * n + j] += v[i] * v[j];
    }
    m->kept++;
    return 0;
}

int tdi_cosim_stationary_cov(tdi_cosim_kind kind, const tdi_cosim_circuit *c, double tick,
                             long burn, long n_keep, long stride, uint64_t seed, double *mean,
                             double *S, tdi_cosim_stats *st, tdi_err *err)
{
    size_t n = c->n;
    if (kind == TDI_COSIM_ANALYTIC || burn < 0 || n_keep < 2 || stride < 1 || !(tick > 0))
        return tdi_err_set(err, TDI_EARG, "stationary covariance: needs the sde or spice engine, "
                           "burn >= 0, n_keep >= 2, stride >= 1, tick > 0");
    lyap_meas m = {n, burn, stride, 0, calloc(n, sizeof(double)), calloc(n, sizeof(double)),
                   calloc(n * n, sizeof(double))};
    tdi_cosim_noise nz = {0};
    tdi_cosim_devnoise dn = {0};
    tdi_cosim_sde *sde = NULL;
    int rc = !m.zero || !m.sum || !m.sq ? tdi_err_set(err, TDI_ENOMEM, "out of memory") : 0;
    rc = rc ? rc : tdi_cosim_noise_init(&nz, c, tick, seed, 1, err);
    /* the transistors' channel noise too (spice drives it; its 1/f band starts at 1 / run) */
    if (!rc && c->n_dev && kind == TDI_COSIM_SPICE)
        rc = tdi_cosim_devnoise_init(&dn, c->n_dev, c->dev_psd_w, c->dev_psd_f1, tick,
                                     1.0 / ((double)(burn + n_keep * stride) * tick),
                                     tdi_seed(seed, TDI_SEED_DEVNOISE, 0), err);
    nz.dev = dn.n ? &dn : NULL;
    tdi_cosim_digital dg = {tick, burn + n_keep * stride, meas_bias, meas_tick, &m};
    if (!rc && kind == TDI_COSIM_SDE)
        rc = (sde = tdi_cosim_sde_alloc(c, tick, err)) ? tdi_cosim_sde_run(sde, &nz, &dg, st, err)
                                                      : err->code;
    else if (!rc)
        rc = tdi_cosim_spice_run(c, &nz, &dg, st, err);
    if (!rc && m.kept != n_keep)
        rc = tdi_err_set(err, TDI_ENUM, "stationary covariance: %ld of %ld samples kept", m.kept,
                         n_keep);
    for (size_t i = 0; i < n && !rc; i++)
        mean[i] = m.sum[i] / (double)m.kept;
    for (size_t i = 0; i < n && !rc; i++)
        for (size_t j = 0; j <= i; j++)
            S[i * n + j] = S[j * n + i] = (m.sq[i * n + j] - (double)m.kept * mean[i] * mean[j]) /
                                          (double)(m.kept - 1);
    tdi_cosim_sde_free(sde);
    tdi_cosim_noise_destroy(&nz);
    tdi_cosim_devnoise_destroy(&dn);
    free(m.zero);
    free(m.sum);
    free(m.sq);
    return rc;
}

int tdi_cosim_circuit_set_g(tdi_cosim_circuit *c, const double *G, tdi_err *err)
{
    size_t n = c->n;
    if (c->n_state)
        return tdi_err_set(err, TDI_EARG, "realised G: only for rc units (the units are the "
                           "state)");
    double *S = malloc(n * n * sizeof *S);
    if (!S)
        return tdi_err_set(err, TDI_ENOMEM, "realised G: out of memory");
    /* the covariance solve checks stability (and that the noise is finite) on the way */
    int rc = tdi_cosim_analytic_cov(c, G, NULL, S, NULL, err);
    free(S);
    if (rc)
        return tdi_err_prefix(err, "realised G");
    memcpy(c->G, G, n * n * sizeof *G);
    return 0;
}
