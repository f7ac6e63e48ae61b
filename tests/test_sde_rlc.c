/* test_sde_rlc: the sde engine on circuits whose state is more than their units (rlc units: a
 * second node p per unit that receives the bias, noise and coupling currents) and on a
 * non-reciprocal circuit, against the spice engine on the same noise stream and against the
 * closed-form stationary covariance (the continuous Lyapunov equation, solved here by its
 * Kronecker form, independently of the engine's Van Loan path). Non-goal: the digital interface
 * (test_cosim_loop), rc circuits with symmetric G (test_cosim_engines). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_eigen.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>

#include "tdi_cli.h"
#include "tdi_io.h"
#include "tdi_cosim.h"
#include "tdi_gen.h"
#include "tdi_test.h"
#include "tdi_test_job.h"

#define SCR "build/test-sde-rlc"

typedef tdi_test_rec rec; /* tests/tdi_test_job.h */

/* One run of n_ticks from rest with bias held and noise (seed) on; r->v allocated here. */
static int run(tdi_cosim_kind kind, const tdi_cosim_circuit *c, double h, long n_ticks,
               const double *bias, uint64_t seed, rec *r, tdi_err *err)
{
    tdi_test_rec_init(r, c->n, n_ticks, bias);
    tdi_cosim_noise nz;
    int rc = tdi_cosim_noise_init(&nz, c, h, seed, 1, err);
    if (rc)
        return rc;
    tdi_cosim_digital dg = {h, n_ticks, tdi_test_rec_bias, tdi_test_rec_tick, r};
    tdi_cosim_stats st;
    if (kind == TDI_COSIM_SPICE) {
        rc = tdi_cosim_spice_run(c, &nz, &dg, &st, err);
    } else {
        tdi_cosim_sde *s = tdi_cosim_sde_alloc(c, h, err);
        rc = s ? tdi_cosim_sde_run(s, &nz, &dg, &st, err) : err->code;
        tdi_cosim_sde_free(s);
    }
    tdi_cosim_noise_destroy(&nz);
    return rc;
}

/* The model as the test reads it from the circuit: A = C^-1 G over the state (ns, ns) and the
 * white-noise intensity Qv = C^-1 B diag(2 kB T g) B^T C^-1 (ns, ns) of the units' sources. */
typedef struct model {
    size_t n, ns;
    double *A, *Qv;  /* (ns, ns) 1/s, V^2/s */
    double *S;       /* (ns, ns) V^2: A S + S A^T = Qv */
    double *Sm;      /* (ns, ns) V^2 s: A^-1 Qv A^-T, the zero-frequency PSD of v */
    double rate_max; /* 1/s, largest |eigenvalue| of A */
    double rate_min; /* 1/s, smallest real part of an eigenvalue of A (slowest decay) */
} model;

static void model_free(model *m)
{
    free(m->A);
    free(m->Qv);
    free(m->S);
    free(m->Sm);
}

/* x = M^-1 y for a square (q, q) row-major M (LU; M is copied). */
static int solve(size_t q, const double *M, const double *y, double *x)
{
    gsl_matrix *L = gsl_matrix_alloc(q, q);
    gsl_permutation *p = gsl_permutation_alloc(q);
    int sg, rc = !L || !p;
    if (!rc) {
        memcpy(L->data, M, sizeof(double) * q * q);
        gsl_vector_const_view yv = gsl_vector_const_view_array(y, q);
        gsl_vector_view xv = gsl_vector_view_array(x, q);
        rc = gsl_linalg_LU_decomp(L, p, &sg) || gsl_linalg_LU_solve(L, p, &yv.vector, &xv.vector);
    }
    gsl_matrix_free(L);
    gsl_permutation_free(p);
    return rc;
}

/* Eigenvalue extremes of A (GSL's non-symmetric solver). */
static void model_rates(model *m)
{
    size_t ns = m->ns;
    gsl_matrix *A = gsl_matrix_alloc(ns, ns);
    gsl_vector_complex *ev = gsl_vector_complex_alloc(ns);
    gsl_eigen_nonsymm_workspace *w = gsl_eigen_nonsymm_alloc(ns);
    memcpy(A->data, m->A, sizeof(double) * ns * ns);
    gsl_eigen_nonsymm(A, ev, w);
    m->rate_max = 0;
    m->rate_min = INFINITY;
    for (size_t k = 0; k < ns; k++) {
        gsl_complex z = gsl_vector_complex_get(ev, k);
        m->rate_max = fmax(m->rate_max, hypot(GSL_REAL(z), GSL_IMAG(z)));
        m->rate_min = fmin(m->rate_min, GSL_REAL(z));
    }
    gsl_matrix_free(A);
    gsl_vector_complex_free(ev);
    gsl_eigen_nonsymm_free(w);
}

/* Builds the model and solves the Lyapunov equation in Kronecker form:
 * (A (x) I + I (x) A) vec(S) = vec(Qv) (row-major vec), an ns^2 system (ns <= 8 here). */
static int model_build(const tdi_cosim_circuit *c, model *m)
{
    size_t n = c->n, ns = c->n_state ? c->n_state : n, q = ns * ns;
    const double *G = c->n_state ? c->state_G : c->G, *cap = c->n_state ? c->state_cap : c->cap;
    m->n = n;
    m->ns = ns;
    m->A = malloc(sizeof(double) * q);
    m->Qv = calloc(q, sizeof(double));
    m->S = malloc(sizeof(double) * q);
    m->Sm = malloc(sizeof(double) * q);
    double *L = calloc(q * q, sizeof(double)), *Ai = malloc(sizeof(double) * q);
    double *T = malloc(sizeof(double) * q), *e = malloc(sizeof(double) * ns);
    for (size_t i = 0; i < ns; i++)
        for (size_t j = 0; j < ns; j++)
            m->A[i * ns + j] = G[i * ns + j] / cap[i];
    for (size_t u = 0; u < n; u++) {
        size_t f = c->n_state ? c->force[u] : u;
        m->Qv[f * ns + f] += 2 * TDI_COSIM_KB * c->temp * c->g_noise[u] / (cap[f] * cap[f]);
    }
    for (size_t i = 0; i < ns; i++)
        for (size_t j = 0; j < ns; j++)
            for (size_t k = 0; k < ns; k++) {
                L[(i * ns + j) * q + k * ns + j] += m->A[i * ns + k]; /* (A S)_ij */
                L[(i * ns + j) * q + i * ns + k] += m->A[j * ns + k]; /* (S A^T)_ij */
            }
    int rc = solve(q, L, m->Qv, m->S);
    /* A^-1 column by column, then Sm = A^-1 Qv A^-T */
    for (size_t j = 0; j < ns && !rc; j++) {
        memset(e, 0, sizeof(double) * ns);
        e[j] = 1;
        rc = solve(ns, m->A, e, T);
        for (size_t i = 0; i < ns; i++)
            Ai[i * ns + j] = T[i];
    }
    for (size_t i = 0; i < ns && !rc; i++)
        for (size_t j = 0; j < ns; j++) {
            double acc = 0;
            for (size_t k = 0; k < ns; k++)
                acc += Ai[i * ns + k] * m->Qv[k * ns + k] * Ai[j * ns + k];
            m->Sm[i * ns + j] = acc;
        }
    model_rates(m);
    free(L);
    free(Ai);
    free(T);
    free(e);
    return rc;
}

/* Mean (n) and covariance (n, n) of the recorded unit voltages over ticks b0+1..nt. */
static void moments(const rec *r, long b0, double *mean, double *cov)
{
    size_t n = r->n;
    long cnt = r->n_ticks - b0;
    memset(mean, 0, sizeof(double) * n);
    memset(cov, 0, sizeof(double) * n * n);
    for (long k = b0 + 1; k <= r->n_ticks; k++)
        for (size_t i = 0; i < n; i++)
            mean[i] += r->v[(size_t)k * n + i] / (double)cnt;
    for (long k = b0 + 1; k <= r->n_ticks; k++)
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++)
                cov[i * n + j] += (r->v[(size_t)k * n + i] - mean[i]) *
                                  (r->v[(size_t)k * n + j] - mean[j]) / (double)(cnt - 1);
}

/* rms of a - b over rms of a, all recorded values */
static double path_diff(const rec *a, const rec *b)
{
    double d2 = 0, s2 = 0;
    for (size_t q = 0; q < (size_t)(a->n_ticks + 1) * a->n; q++) {
        d2 += (a->v[q] - b->v[q]) * (a->v[q] - b->v[q]);
        s2 += a->v[q] * a->v[q];
    }
    return sqrt(d2 / s2);
}

/* The statistical checks of a circuit against its model, sde and spice on one noise stream
 * (nt ticks of h, the first b0 dropped): means against v* = G^-1 b within 4 standard errors of
 * a window mean (sqrt(Sm_uu / T_run), the zero-frequency PSD: exact for T_run >> the slowest
 * decay time); covariances against S within 4 s.e. (relative s.e. of a variance estimate
 * sqrt((2 / T_run) int rho(t)^2 dt) <= sqrt(5 / (r T_run)) for autocorrelations under the
 * envelope (1 + r|t|) e^(-r|t|) of a critically damped pair, r the slowest decay rate; a
 * plain e^(-r|t|) gives sqrt(2 / (r T_run))) plus the interpolated noise's deficit
 * (its PSD is 2 kB T g sinc^4(f h): short of white by rate h / 2 for a mode of that rate,
 * 2.5% at h = tau/20 in test_cosim_engines; bounded by rate_max h / 2); the two paths within
 * 1% rms (spice's truncation error at h). */
static void check_stats(const char *what, const tdi_cosim_circuit *c, const model *m, double h,
                        long nt, long b0, const double *b, uint64_t seed)
{
    size_t n = c->n, ns = m->ns;
    tdi_err err = {0};
    rec r[2];
    double vstar[8], mean[2][8], cov[2][64];
    char nm[160];
    tdi_cosim_analytic_solve(c, b, vstar, &err);
    for (int e = 0; e < 2; e++) {
        int rc = run(e ? TDI_COSIM_SPICE : TDI_COSIM_SDE, c, h, nt, b, seed, &r[e], &err);
        snprintf(nm, sizeof nm, "%s: %s run", what, e ? "spice" : "sde");
        tdi_check_int(rc, 0, nm);
        if (rc)
            printf("  %s\n", err.msg);
        moments(&r[e], b0, mean[e], cov[e]);
    }
    double Trun = (double)(nt - b0) * h;
    double rse = sqrt(5 / (m->rate_min * Trun)), deficit = m->rate_max * h / 2;
    printf("  %s: T_run = %.0f slowest decay times, rate_max h = %.3g\n", what,
           Trun * m->rate_min, m->rate_max * h);
    for (size_t i = 0; i < n; i++) {
        double se = sqrt(m->Sm[i * ns + i] / Trun);
        for (int e = 0; e < 2; e++) {
            snprintf(nm, sizeof nm, "%s: %s mean of unit %zu vs G^-1 b (4 s.e.)", what,
                     e ? "spice" : "sde", i);
            tdi_check_near(mean[e][i], vstar[i], 4 * se, nm);
        }
        for (size_t j = 0; j < n; j++) {
            double sij = m->S[i * ns + j], sd = sqrt(m->S[i * ns + i] * m->S[j * ns + j]);
            for (int e = 0; e < 2; e++) {
                snprintf(nm, sizeof nm, "%s: %s covariance (%zu, %zu) / sqrt(S_ii S_jj) vs "
                         "Lyapunov", what, e ? "spice" : "sde", i, j);
                tdi_check_near(cov[e][i * n + j] / sd, sij / sd, 4 * rse + deficit, nm);
            }
        }
    }
    snprintf(nm, sizeof nm, "%s: spice vs sde pathwise, rms diff / rms", what);
    tdi_check_le(path_diff(&r[0], &r[1]), 1e-2, nm);
    free(r[0].v);
    free(r[1].v);
}

/* The engine's own stationary variance (Van Loan + doubling, tdi_cosim_sde_mean_var with one
 * sample) against the Kronecker solve: two exact methods, so rounding only (1e-9: the doubling
 * stops at 1e-18 of the largest entry, the Kronecker LU loses ~cond digits). */
static void check_mean_var(const char *what, const tdi_cosim_circuit *c, const model *m,
                           double h)
{
    tdi_err err = {0};
    tdi_cosim_sde *s = tdi_cosim_sde_alloc(c, h, &err);
    char nm[160];
    snprintf(nm, sizeof nm, "%s: sde accepts the circuit", what);
    TDI_CHECK(s != NULL, nm);
    for (size_t u = 0; u < c->n && s; u++) {
        double v = 0;
        int rc = tdi_cosim_sde_mean_var(s, c, 1, 1, u, &v, &err);
        snprintf(nm, sizeof nm, "%s: sde stationary variance of unit %zu vs Kronecker Lyapunov",
                 what, u);
        if (rc)
            tdi_check_int(rc, 0, nm);
        else
            tdi_check_rel(v, m->S[u * m->ns + u], 1e-9, nm);
    }
    tdi_cosim_sde_free(s);
}

/* The exact model of c (Kronecker Lyapunov solve), then the sde engine against it: mean and
 * variance in closed form (check_mean_var), and statistics of an nt-tick path after a burn-in
 * of t_burn seconds (check_stats). Returns the tick h = 0.05 / fastest rate. */
static double check_model(const char *what, const tdi_cosim_circuit *c, long nt, double t_burn,
                          const double *b, uint64_t seed)
{
    char lab[128];
    model m = {0};
    snprintf(lab, sizeof lab, "%s: Kronecker Lyapunov solve", what);
    tdi_check_int(model_build(c, &m), 0, lab);
    double h = 0.05 / m.rate_max;
    check_mean_var(what, c, &m, h);
    check_stats(what, c, &m, h, nt, (long)(t_burn / h), b, seed);
    model_free(&m);
    return h;
}

/* Two rlc units (Cu on x, Cp and gd on p, gyrator gu from v(p) into x) coupled through K, the
 * couplings and bias into p (tdi_gen.h's netlist contract), written by hand. */
static tdi_cosim_circuit *rlc_pair(double Cu, double gu, double Cp, double gd, const double *K,
                                   double T, tdi_err *err)
{
    enum { U = 2, NS = 4 };
    tdi_cosim_circuit *c = tdi_cosim_circuit_alloc(U, err);
    char buf[24][96];
    const char *lines[25];
    size_t nl = 0;
    snprintf(buf[nl++], 96, "* two rlc units, hand-written");
    for (int i = 0; i < U; i++) {
        snprintf(buf[nl++], 96, "Cx%d x%d 0 %.17g", i, i, Cu);
        snprintf(buf[nl++], 96, "Cpx%d px%d 0 %.17g", i, i, Cp);
        snprintf(buf[nl++], 96, "Rpx%d px%d 0 %.17g", i, i, 1 / gd);
        snprintf(buf[nl++], 96, "Gx%d 0 x%d px%d 0 %.17g", i, i, i, gu);
        for (int j = 0; j < U; j++)
            snprintf(buf[nl++], 96, "Gpx%d_x%d px%d 0 x%d 0 %.17g", i, j, i, j, K[i * U + j]);
        snprintf(buf[nl++], 96, "Ibias_x%d 0 px%d external", i, i);
        snprintf(buf[nl++], 96, "Inoise_x%d 0 px%d external", i, i);
    }
    for (size_t q = 0; q < nl; q++)
        lines[q] = buf[q];
    lines[nl] = NULL;
    double Gs[NS * NS] = {0}, cap[NS] = {Cu, Cu, Cp, Cp};
    size_t force[U] = {2, 3};
    for (int i = 0; i < U; i++) {
        char node[8], src[16], nz[16];
        snprintf(node, sizeof node, "x%d", i);
        snprintf(src, sizeof src, "ibias_x%d", i);
        snprintf(nz, sizeof nz, "inoise_x%d", i);
        tdi_cosim_circuit_set_names(c, (size_t)i, node, src, nz, err);
        c->cap[i] = Cu;
        c->g_noise[i] = gd;
        Gs[i * NS + 2 + i] = -gu;
        Gs[(2 + i) * NS + 2 + i] = gd;
        for (int j = 0; j < U; j++) {
            c->G[i * U + j] = K[i * U + j];
            Gs[(2 + i) * NS + j] = K[i * U + j];
        }
    }
    c->rc_units = 0;
    c->temp = T;
    if (tdi_cosim_circuit_set_lines(c, lines, err) ||
        tdi_cosim_circuit_set_state(c, NS, cap, Gs, force, err)) {
        tdi_cosim_circuit_free(c);
        return NULL;
    }
    return c;
}

/* 1. The hand-built rlc pair: Cu = 1 pF, gu = 1 uS (tau = 1 us), Cp = Cu, damping zeta = 0.5 on
 * the slower mode; K = gu [[1.2, -0.3], [-0.5, 1.0]] (non-symmetric). */
static void test_rlc_pair(void)
{
    double Cu = 1e-12, gu = 1e-6, Cp = 1e-12, T = 300, tau = Cu / gu;
    double K[4] = {1.2 * gu, -0.3 * gu, -0.5 * gu, 1.0 * gu};
    double gd = 2 * 0.5 * gu; /* 2 zeta gu sqrt(lambda Cp/Cu), lambda ~ 1 */
    double b[2] = {0.2e-9, -0.1e-9};
    tdi_err err = {0};
    tdi_cosim_circuit *c = rlc_pair(Cu, gu, Cp, gd, K, T, &err);
    TDI_CHECK(c != NULL, "rlc pair: circuit with its sde state");
    if (!c) {
        printf("  %s\n", err.msg);
        return;
    }
    /* 20 tau ~ 10 slowest decay times of burn-in (the slowest decay is ~0.5 / tau) */
    check_model("rlc pair", c, 320000, 20 * tau, b, 31);
    tdi_cosim_circuit_free(c);
}

/* 2. A generated rlc circuit (synthetic bundle, D = 3, k = 1): the sde state the bridge builds
 * from the netlist read-back and the unit physics (x rows: -gu at p; p rows: the read-back row
 * and gd; Cp on p; bias and noise at p), then sde against spice on the same noise with the
 * generator's first test bias: the gyrator subcircuit spice runs and the state agree pathwise. */
static void test_generated(void)
{
    tdi_err err = {0};
    tdi_mkdirs(SCR "/gen", &err);
    if (tdi_cosim_synth_bundle(SCR "/gen/substrate", 3, 1, 2, 7, 0, 0.0, &err)) {
        tdi_check_int(1, 0, "generated rlc: synthetic bundle");
        printf("  %s\n", err.msg);
        return;
    }
    tdi_gen_config g;
    tdi_gen_config_init(&g);
    snprintf(g.name, sizeof g.name, "t");
    snprintf(g.unit, sizeof g.unit, "rlc");
    g.theta = 0.1; /* as configs/example-rlc.yaml: the means stand out of the noise */
    g.Vs = tdi_phys_vs_of_theta(g.T, g.Cu, g.theta);
    tdi_gen_bundle bd;
    tdi_gen_circuit *gc = NULL;
    tdi_cosim_circuit *c = NULL;
    int rc = tdi_gen_bundle_read(SCR "/gen/substrate", &bd, &err), have_b = rc == 0;
    if (!rc)
        rc = tdi_gen_circuit_build(&g, &bd, &gc, &err);
    double h = gc ? gc->phys.noise_dt : 0;
    long nt = 4000;
    if (!rc)
        rc = tdi_cosim_circuit_from_gen(gc, h, (double)nt * h, &c, &err);
    tdi_check_int(rc, 0, "generated rlc: circuit read back");
    if (rc) {
        printf("  %s\n", err.msg);
    } else {
        size_t N = c->n, ns = c->n_state;
        const tdi_gen_phys *p = &gc->phys;
        tdi_check_int((long long)ns, 2 * (long long)N, "generated rlc: state = x and p of every "
                      "unit");
        double dmax = 0;
        int ok = 1;
        for (size_t i = 0; i < N; i++) {
            ok &= c->force[i] == N + i && c->state_cap[N + i] == p->Cp &&
                  c->state_cap[i] == p->Cu && c->state_G[i * ns + N + i] == -p->gu &&
                  c->state_G[(N + i) * ns + N + i] == p->gd;
            for (size_t j = 0; j < N; j++)
                dmax = fmax(dmax, fabs(c->state_G[(N + i) * ns + j] - c->G[i * N + j]));
        }
        TDI_CHECK(ok, "generated rlc: force at p; Cu, Cp; -gu (x row), gd (p row)");
        tdi_check_near(dmax, 0, 0, "generated rlc: p rows carry the read-back G exactly");
        rec r[2];
        for (int e = 0; e < 2; e++) {
            rc = run(e ? TDI_COSIM_SPICE : TDI_COSIM_SDE, c, h, nt, gc->bias, 5, &r[e], &err);
            tdi_check_int(rc, 0, e ? "generated rlc: spice run" : "generated rlc: sde run");
            if (rc)
                printf("  %s\n", err.msg);
        }
        /* the same bound as the hand-built circuits: spice's truncation error at h */
        tdi_check_le(path_diff(&r[0], &r[1]), 1e-2, "generated rlc: spice vs sde pathwise, rms "
                     "diff / rms");
        free(r[0].v);
        free(r[1].v);
        model m = {0};
        if (!model_build(c, &m))
            check_mean_var("generated rlc", c, &m, h);
        model_free(&m);
    }
    tdi_cosim_circuit_free(c);
    tdi_gen_circuit_free(gc);
    if (have_b)
        tdi_gen_bundle_destroy(&bd);
}

/* 3. A non-reciprocal circuit: three rc nodes of mismatched C and g (chips 0.8x .. 1.3x), a
 * one-way transconductor chain u0 -> u1 -> u2 and a one-way feedback u2 -> u0 (loop gain 0.3, so
 * A has a complex pair): G non-symmetric, written as cards by hand. */
static tdi_cosim_circuit *oneway_chain(double C, double g, double T, tdi_err *err)
{
    enum { U = 3 };
    double cs[U] = {C, 1.3 * C, 0.8 * C}, gs[U] = {g, 0.9 * g, 1.2 * g};
    double G[U * U] = {gs[0], 0, 0.3 * g, -0.8 * g, gs[1], 0, 0, -0.9 * g, gs[2]};
    tdi_cosim_circuit *c = tdi_cosim_circuit_alloc(U, err);
    char buf[16][96];
    const char *lines[17];
    size_t nl = 0;
    snprintf(buf[nl++], 96, "* one-way chain with feedback, hand-written");
    for (int i = 0; i < U; i++) {
        snprintf(buf[nl++], 96, "Cu%d u%d 0 %.17g", i, i, cs[i]);
        snprintf(buf[nl++], 96, "Ru%d u%d 0 %.17g", i, i, 1 / gs[i]);
        snprintf(buf[nl++], 96, "Iu%d 0 u%d external", i, i);
    }
    for (int i = 0; i < U; i++)
        for (int j = 0; j < U; j++)
            if (i != j && G[i * U + j] != 0)
                snprintf(buf[nl++], 96, "Gu%d_%d u%d 0 u%d 0 %.17g", i, j, i, j, G[i * U + j]);
    for (size_t q = 0; q < nl; q++)
        lines[q] = buf[q];
    lines[nl] = NULL;
    for (int i = 0; i < U; i++) {
        char node[8], src[8];
        snprintf(node, sizeof node, "u%d", i);
        snprintf(src, sizeof src, "iu%d", i);
        tdi_cosim_circuit_set_names(c, (size_t)i, node, src, NULL, err);
        c->cap[i] = cs[i];
        c->g_noise[i] = gs[i];
    }
    memcpy(c->G, G, sizeof G);
    c->temp = T;
    if (tdi_cosim_circuit_set_lines(c, lines, err)) {
        tdi_cosim_circuit_free(c);
        return NULL;
    }
    return c;
}

static void test_nonreciprocal(void)
{
    double C = 1e-12, g = 1e-6, T = 300, tau = C / g;
    double b[3] = {0.1e-9, -0.05e-9, 0.08e-9};
    tdi_err err = {0};
    tdi_cosim_circuit *c = oneway_chain(C, g, T, &err);
    TDI_CHECK(c != NULL, "one-way chain: circuit");
    if (!c)
        return;
    double h = check_model("one-way chain", c, 240000, 20 * tau, b, 41);
    /* the same circuit with its state given explicitly (units as state, force = identity): the
       bookkeeping of the state path, the same tick matrices, so the same path to rounding */
    double *Gs = malloc(sizeof(double) * 9);
    memcpy(Gs, c->G, sizeof(double) * 9);
    size_t force[3] = {0, 1, 2};
    rec r[2];
    int rc = run(TDI_COSIM_SDE, c, h, 2000, b, 43, &r[0], &err);
    rc |= tdi_cosim_circuit_set_state(c, 3, c->cap, Gs, force, &err);
    rc |= run(TDI_COSIM_SDE, c, h, 2000, b, 43, &r[1], &err);
    tdi_check_int(rc, 0, "one-way chain: runs without and with an explicit state");
    /* identical inputs to the same expm and GEMMs: equal to the last bit */
    tdi_check_near(path_diff(&r[0], &r[1]), 0, 0, "one-way chain: explicit state, same path");
    free(Gs);
    free(r[0].v);
    free(r[1].v);
    tdi_cosim_circuit_free(c);
}

/* 4. The whole tdi-cosim job with rlc units (synthetic paper-mode bundle, D = 4, theta 0.1 as
 * configs/example-rlc.yaml): the sde row runs (it was skipped: "rc units only"), and both engines'
 * read-out errors against analytic agree with the prediction, which now comes from the exact
 * model of the sde engine (tdi_cosim_sde_mean_var over the x and p state). */
static void test_job(void)
{
    tdi_err err = {0};
    char *js = tdi_test_job_paper(SCR "/job", 4, 2, 32, 5,
                                  "circuit:\n  unit: rlc\n  theta: 0.1\n  samples: [0]\ncosim:\n"
                                  "  n_samples: 32\n  spice_samples: 8\n  progress: false\n",
                                  "job: rlc units run (analytic, sde, spice)", &err);
    if (!js)
        return;
    double ns = tdi_test_json_num(js, "rows.sde.samples");
    tdi_check_near(ns, 32, 0, "job: the sde row ran on all 32 samples");
    /* the rms over n = 32 x 4 (sde) or 8 x 4 (spice) Gaussian errors of the predicted std: its
       ratio to the prediction has std ~ 1 / sqrt(2 n) <= 0.125; [0.5, 1.5] is 4 of those */
    tdi_test_readout ro = tdi_test_job_readout(js, "job (rlc, exact prediction)");
    double pred = ro.pred;
    double both = tdi_test_json_num(js, "readout.sde_vs_spice_rms_V");
    printf("  job: predicted %.4g V, sde %.4g V, spice %.4g V, sde vs spice %.3g V\n", pred,
           ro.sde, ro.spice, both);
    /* same noise stream: the engines differ by spice's truncation error (1% of the paths in
       the tests above), far below the thermal read-out error */
    tdi_check_le(both, 0.1 * pred, "job: sde vs spice on the same samples, below 0.1 x predicted");
    free(js);
}

/* 5. Argument checks of the state. */
static void test_state_args(void)
{
    tdi_err err = {0};
    double M = 1.0, cap[2] = {1e-12, 1e-12}, G[4] = {0}, capz[2] = {1e-12, 0};
    tdi_cosim_circuit *c = tdi_cosim_circuit_direct(1, &M, 1e-12, 1e-6, 300, &err);
    size_t f_bad = 2, f_ok = 1;
    tdi_check_int(tdi_cosim_circuit_set_state(c, 2, cap, G, &f_bad, &err), TDI_EARG,
                  "state: force node outside the state refused");
    tdi_check_int(tdi_cosim_circuit_set_state(c, 2, capz, G, &f_ok, &err), TDI_EARG,
                  "state: zero capacitance refused");
    tdi_check_contains(err.msg, "capacitance", "state: the message names the capacitance");
    c->rc_units = 0;
    tdi_cosim_sde *s = tdi_cosim_sde_alloc(c, 1e-8, &err);
    TDI_CHECK(s == NULL, "sde refuses force nodes that are not units without a state");
    tdi_cosim_sde_free(s);
    tdi_cosim_circuit_free(c);
}

int main(void)
{
    gsl_set_error_handler_off();
    test_state_args();
    test_rlc_pair();
    test_generated();
    test_nonreciprocal();
    test_job();
    TDI_TEST_END();
}
