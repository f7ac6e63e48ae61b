/* tdi_cosim_sde: the sde engine. C dv/dt = -G v + B (b_k + n(t)) over the circuit's state nodes
 * (the units, or the units and their second nodes), bias held and noise linear over each tick,
 * B the 0/1 map of each unit's force node, integrated exactly (docs/sde.md):
 * v+ = E v + F0 b_k + F1 n_k + F2 n_k+1 with E, F0, F1, F2 from one (ns + 2n)-square matrix
 * exponential, for any G whose C^-1 G has every eigenvalue in Re > 0; symmetric G on rc units
 * also by scalar OU steps in the eigenbasis of C^-1/2 G C^-1/2 (the per-sample reference path
 * and the batched default). Batched runs: samples as the rows of one matrix, GEMMs per tick.
 * Invariant: same noise stream and bias timing as the spice engine. Non-goals: non-diagonal C,
 * nonlinear elements. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>

#include "tdi_clock.h"
#include "tdi_cosim.h"
#include "tdi_gen.h"

/* tdi_cosim_sde_mean_var_lyap's last solve: valid for (stride, qdiag) when S != NULL */
typedef struct sde_lyap {
    long stride;
    double *qdiag;         /* (n) V^2 s: the Qv diagonal it was solved for */
    double qmax;           /* max of qdiag; S is stored divided by it */
    gsl_matrix *S, *Phi;   /* (n, n) stationary covariance / qmax; e^(-A stride h) */
} sde_lyap;

struct tdi_cosim_sde {
    size_t n;        /* units: inputs (bias, noise) and the voltages the digital side sees */
    size_t ns;       /* state nodes (>= n; units first): the sde's v */
    size_t *force;   /* (n) state node of unit i's force node: column i of B */
    double h;        /* s */
    double *lam;     /* (n) 1/s, eigenvalues of C^-1/2 G C^-1/2 */
    double *e, *c0, *c1, *c2; /* (n) per-mode weights of a, P b, P n_k, P n_k+1 */
    double *P;       /* (n, n) U^T C^-1/2 */
    double *V;       /* (n, n) C^-1/2 U */
    double *a, *pb, *pn0, *pn1, *nk, *v, *b, *zero; /* (n) scratch */
    int sym;         /* 1: G symmetric, the eigenbasis fields above are set */
    double *W;       /* (ns + 2n, ns) row-major [E^T; F1^T; F2^T]: the fused tick of row
                        states (non-symmetric G, or after tdi_cosim_sde_use_expm; else NULL) */
    double *F0T;     /* (n, ns) F0^T: bias rows b (cols, n) -> b F0^T (with W) */
    double *A;       /* (ns, ns) row-major A = C^-1 G, 1/s */
    double *cinv;    /* (ns) 1/F, C^-1 */
    struct sde_lyap *lyap; /* mean_var_lyap's cache (contents mutable through const s) */
    int force_expm;  /* 1: batched runs use the fused expm tick even for symmetric G */
};

void tdi_cosim_sde_free(tdi_cosim_sde *s)
{
    if (!s)
        return;
    free(s->lam);
    free(s->e);
    free(s->c0);
    free(s->c1);
    free(s->c2);
    free(s->P);
    free(s->V);
    free(s->a);
    free(s->pb);
    free(s->pn0);
    free(s->pn1);
    free(s->nk);
    free(s->v);
    free(s->b);
    free(s->zero);
    free(s->W);
    free(s->F0T);
    free(s->A);
    free(s->cinv);
    free(s->force);
    if (s->lyap) {
        free(s->lyap->qdiag);
        gsl_matrix_free(s->lyap->S);
        gsl_matrix_free(s->lyap->Phi);
        free(s->lyap);
    }
    free(s);
}

int tdi_cosim_sde_symmetric(const tdi_cosim_circuit *c, double rel)
{
    size_t n = c->n;
    double gmax = 0;
    for (size_t i = 0; i < n * n; i++)
        gmax = fmax(gmax, fabs(c->G[i]));
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (fabs(c->G[i * n + j] - c->G[j * n + i]) > rel * gmax)
                return 0;
    return 1;
}

void tdi_cosim_sde_mode_weights(double lam, double tick, double *e, double *c0, double *c1,
                                double *c2)
{
    double x = lam * tick, phi0, phi1;
    if (x < 1e-4) { /* series: truncation x^4 < 1e-16 relative */
        phi0 = tick * (1 - x / 2 + x * x / 6 - x * x * x / 24);
        phi1 = tick * (0.5 - x / 6 + x * x / 24 - x * x * x / 120);
    } else {
        double em1 = expm1(-x);
        phi0 = -em1 / lam;
        phi1 = (x + em1) / (lam * lam * tick);
    }
    *e = exp(-x);
    *c0 = phi0;
    *c1 = phi0 - phi1;
    *c2 = phi1;
}

/* The per-mode weights of the eigenbasis path (symmetric G). */
static int sde_eigen(tdi_cosim_sde *s, const tdi_cosim_circuit *c, double tick, tdi_err *err)
{
    size_t n = c->n;
    double *U = malloc(sizeof(double) * n * n);
    if (!U)
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    int rc = tdi_cosim_circuit_modes(c, n, s->lam, U, err);
    if (rc) {
        free(U);
        return tdi_err_prefix(err, "sde");
    }
    for (size_t m = 0; m < n; m++) {
        tdi_cosim_sde_mode_weights(s->lam[m], tick, &s->e[m], &s->c0[m], &s->c1[m], &s->c2[m]);
        for (size_t i = 0; i < n; i++) {
            double u = U[i * n + m], r = 1.0 / sqrt(c->cap[i]);
            s->P[m * n + i] = u * r;
            s->V[i * n + m] = r * u;
        }
    }
    free(U);
    return 0;
}

/* Every eigenvalue of A = C^-1 G in Re > 0, else a "not stable" error naming the worst one. */
static int sde_check_stable(const tdi_cosim_sde *s, tdi_err *err)
{
    size_t n = s->ns;
    int rc = 0;
    gsl_matrix *A = gsl_matrix_alloc(n, n);
    gsl_vector_complex *ev = gsl_vector_complex_alloc(n);
    gsl_eigen_nonsymm_workspace *w = gsl_eigen_nonsymm_alloc(n);
    if (!A || !ev || !w) {
        rc = tdi_err_set(err, TDI_ENOMEM, "out of memory");
        goto done;
    }
    memcpy(A->data, s->A, sizeof(double) * n * n);
    if (gsl_eigen_nonsymm(A, ev, w)) {
        rc = tdi_err_set(err, TDI_ENUM, "sde: eigenvalues of C^-1 G did not converge");
        goto done;
    }
    gsl_complex z = gsl_vector_complex_get(ev, 0);
    for (size_t m = 1; m < n; m++) {
        gsl_complex y = gsl_vector_complex_get(ev, m);
        if (GSL_REAL(y) < GSL_REAL(z))
            z = y;
    }
    if (!(GSL_REAL(z) > 0))
        rc = tdi_err_set(err, TDI_ENUM, "sde: the circuit is not stable: C^-1 G has eigenvalue "
                         "%g%+gi (need every real part > 0)", GSL_REAL(z), GSL_IMAG(z));
done:
    gsl_matrix_free(A);
    gsl_vector_complex_free(ev);
    if (w)
        gsl_eigen_nonsymm_free(w);
    return rc;
}

/* The fused tick by one matrix exponential (the phi-functions of Z = -A h, B the (ns, n) 0/1
 * force map; B = I for rc units):
 *   expm [[Z, B, 0], [0, 0, I], [0, 0, 0]] = [[e^Z, phi1(Z) B, phi2(Z) B], [0, I, I], [0, 0, I]],
 * phi1(z) = (e^z - 1)/z, phi2(z) = (e^z - 1 - z)/z^2; F0 = h phi1 C^-1 B, F2 = h phi2 C^-1 B,
 * F1 = F0 - F2 (noise linear from n_k to n_k+1 over the tick). */
static int sde_expm(tdi_cosim_sde *s, double h, tdi_err *err)
{
    size_t n = s->n, ns = s->ns, nm = ns + 2 * n;
    gsl_matrix *M = gsl_matrix_calloc(nm, nm), *X = gsl_matrix_alloc(nm, nm);
    if (!s->W)
        s->W = malloc(sizeof(double) * nm * ns);
    if (!s->F0T)
        s->F0T = malloc(sizeof(double) * n * ns);
    if (!M || !X || !s->W || !s->F0T) {
        gsl_matrix_free(M);
        gsl_matrix_free(X);
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < ns; i++)
        for (size_t j = 0; j < ns; j++)
            gsl_matrix_set(M, i, j, -s->A[i * ns + j] * h);
    for (size_t i = 0; i < n; i++) {
        gsl_matrix_set(M, s->force[i], ns + i, 1.0);
        gsl_matrix_set(M, ns + i, ns + n + i, 1.0);
    }
    int rc = 0;
    if (gsl_linalg_exponential_ss(M, X, GSL_PREC_DOUBLE)) {
        rc = tdi_err_set(err, TDI_ENUM, "sde: matrix exponential failed");
    } else {
        for (size_t i = 0; i < ns; i++) {
            for (size_t j = 0; j < ns; j++)
                s->W[j * ns + i] = gsl_matrix_get(X, i, j); /* E^T */
            for (size_t j = 0; j < n; j++) {
                double ci = s->cinv[s->force[j]]; /* C^-1 B scales column j */
                double p1 = gsl_matrix_get(X, i, ns + j), p2 = gsl_matrix_get(X, i, ns + n + j);
                double f0 = h * p1 * ci, f2 = h * p2 * ci;
                s->W[(ns + j) * ns + i] = f0 - f2;          /* F1^T */
                s->W[(ns + n + j) * ns + i] = f2;           /* F2^T */
                s->F0T[j * ns + i] = f0;
            }
        }
    }
    gsl_matrix_free(M);
    gsl_matrix_free(X);
    return rc;
}

/* The state the engine integrates: the circuit's state nodes when set, else the units
 * (A = C^-1 G over them, cinv = C^-1, force[i] = the state node unit i's sources drive). */
static int sde_state(tdi_cosim_sde *s, const tdi_cosim_circuit *c)
{
    size_t n = c->n, ns = c->n_state ? c->n_state : n;
    const double *G = c->n_state ? c->state_G : c->G, *cap = c->n_state ? c->state_cap : c->cap;
    s->ns = ns;
    s->A = malloc(sizeof(double) * ns * ns);
    s->cinv = malloc(sizeof(double) * ns);
    s->force = malloc(sizeof(size_t) * n);
    if (!s->A || !s->cinv || !s->force)
        return -1;
    for (size_t i = 0; i < ns; i++) {
        s->cinv[i] = 1.0 / cap[i];
        for (size_t j = 0; j < ns; j++)
            s->A[i * ns + j] = G[i * ns + j] / cap[i];
    }
    for (size_t i = 0; i < n; i++)
        s->force[i] = c->n_state ? c->force[i] : i;
    return 0;
}

tdi_cosim_sde *tdi_cosim_sde_alloc(const tdi_cosim_circuit *c, double tick, tdi_err *err)
{
    size_t n = c->n;
    if (!(tick > 0)) {
        tdi_err_set(err, TDI_EARG, "sde: tick must be > 0");
        return NULL;
    }
    if (!tdi_cosim_sde_supports(c)) {
        tdi_err_set(err, TDI_EARG, "sde: this circuit's force nodes are not its units and it "
                    "has no state (tdi_cosim_circuit_set_state)");
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (!(c->cap[i] > 0)) {
            tdi_err_set(err, TDI_EARG, "sde: unit %zu has capacitance %g (need > 0)", i,
                        c->cap[i]);
            return NULL;
        }
    tdi_cosim_sde *s = calloc(1, sizeof *s);
    if (!s)
        goto oom;
    s->n = n;
    s->h = tick;
    double **arrs[] = {&s->lam, &s->e, &s->c0, &s->c1, &s->c2, &s->a, &s->pb, &s->pn0,
                       &s->pn1, &s->nk, &s->v, &s->b, &s->zero};
    for (size_t q = 0; q < sizeof arrs / sizeof arrs[0]; q++)
        if (!(*arrs[q] = calloc(n, sizeof(double))))
            goto oom;
    s->P = malloc(sizeof(double) * n * n);
    s->V = malloc(sizeof(double) * n * n);
    s->lyap = calloc(1, sizeof *s->lyap);
    if (!s->P || !s->V || !s->lyap || sde_state(s, c) ||
        !(s->lyap->qdiag = calloc(s->ns, sizeof(double))))
        goto oom;
    /* symmetric G of rc units: the eigenbasis (its eigenvalues check stability); the 3n x 3n
       exponential only on request (tdi_cosim_sde_use_expm): it costs ~(3n)^3 x 10 flops */
    /* symmetric to rounding of the netlist's %.17g values: 64 ulp of the largest entry */
    s->sym = c->n_state == 0 && tdi_cosim_sde_symmetric(c, 64 * 2.2e-16);
    if (s->sym ? sde_eigen(s, c, tick, err)
               : (sde_check_stable(s, err) || sde_expm(s, tick, err))) {
        tdi_cosim_sde_free(s);
        return NULL;
    }
    return s;
oom:
    tdi_err_set(err, TDI_ENOMEM, "out of memory");
    tdi_cosim_sde_free(s);
    return NULL;
}

static void matvec(size_t n, const double *A, const double *x, double *y)
{
    gsl_matrix_const_view Am = gsl_matrix_const_view_array(A, n, n);
    gsl_vector_const_view xv = gsl_vector_const_view_array(x, n);
    gsl_vector_view yv = gsl_vector_view_array(y, n);
    gsl_blas_dgemv(CblasNoTrans, 1.0, &Am.matrix, &xv.vector, 0.0, &yv.vector);
}

/* The per-sample eigenbasis path (symmetric G): one sample, one tick at a time. */
static int sde_run_eigen(tdi_cosim_sde *s, const tdi_cosim_noise *nz, const tdi_cosim_digital *dg,
                         tdi_cosim_stats *st, tdi_err *err)
{
    size_t n = s->n;
    if (!nz || !dg || !st || !dg->bias || !dg->on_tick || nz->n != n || dg->n_ticks < 1 ||
        fabs(dg->tick - s->h) > 1e-12 * s->h)
        return tdi_err_set(err, TDI_EARG, "sde run: inconsistent arguments");
    memset(st, 0, sizeof *st);
    double cpu0 = tdi_clock_s(CLOCK_PROCESS_CPUTIME_ID), wall0 = tdi_clock_s(CLOCK_MONOTONIC);
    int rc = 0;
    memset(s->a, 0, sizeof(double) * n);
    memset(s->v, 0, sizeof(double) * n);
    memset(s->pn0, 0, sizeof(double) * n); /* noise sample 0 is 0 */
    int have_b = 0;
    rc = dg->on_tick(dg->user, 0, 0.0, s->v, s->zero);
    if (rc) {
        tdi_err_set(err, rc, "digital side failed at tick 0");
        goto done;
    }
    st->ticks_hit = st->points = 1;
    for (long k = 0; k < dg->n_ticks; k++) {
        const double *b = dg->bias(dg->user, k);
        if (!b) {
            rc = tdi_err_set(err, TDI_EARG, "digital side returned no bias for interval %ld", k);
            goto done;
        }
        if (!have_b || memcmp(b, s->b, sizeof(double) * n) != 0) {
            memcpy(s->b, b, sizeof(double) * n);
            matvec(n, s->P, s->b, s->pb);
            have_b = 1;
        }
        tdi_cosim_noise_sample(nz, k + 1, s->nk);
        matvec(n, s->P, s->nk, s->pn1);
        for (size_t m = 0; m < n; m++)
            s->a[m] = s->e[m] * s->a[m] + s->c0[m] * s->pb[m] + s->c1[m] * s->pn0[m] +
                      s->c2[m] * s->pn1[m];
        double *t = s->pn0;
        s->pn0 = s->pn1;
        s->pn1 = t;
        matvec(n, s->V, s->a, s->v);
        rc = dg->on_tick(dg->user, k + 1, (double)(k + 1) * s->h, s->v, s->b);
        if (rc) {
            tdi_err_set(err, rc, "digital side failed at tick %ld", k + 1);
            goto done;
        }
        st->ticks_hit++;
        st->points++;
    }
done:
    st->cpu_s = tdi_clock_s(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
    st->wall_s = tdi_clock_s(CLOCK_MONOTONIC) - wall0;
    return rc;
}

/* The noise currents (A) of n units at global sample index idx into out (0 at idx <= 0 is the
 * caller's business: it passes idx of local sample k >= 1 only). */
static void sde_noise_row(const tdi_cosim_noise *nz, uint64_t idx, double *out)
{
    tdi_cosim_noise_gauss_block(nz->seed, 0, idx, nz->n, out);
    for (size_t i = 0; i < nz->n; i++)
        out[i] *= nz->amp[i];
}

typedef struct sde_batch_buf {
    int eig;         /* 1: eigenbasis rows (symmetric G), 0: the fused expm tick */
    double *Z0, *Z1; /* expm: (cols, ns + 2n) rows [v, n_k, n_k+1] of this tick and the next */
    double *Cb;      /* expm: (cols, ns) b F0^T; eigenbasis: (cols, n) b P^T */
    double *b;       /* (cols, n) the held bias */
    double *Nn, *Pk, *Pk1, *Am, *Vo; /* eigenbasis: (cols, n) noise, P n_k, P n_k+1, modes, v */
} sde_batch_buf;

static void sde_batch_buf_free(sde_batch_buf *q)
{
    double *p[] = {q->Z0, q->Z1, q->Cb, q->b, q->Nn, q->Pk, q->Pk1, q->Am, q->Vo};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
        free(p[i]);
}

static int sde_batch_buf_alloc(sde_batch_buf *q, int eig, size_t n, size_t ns, size_t cols)
{
    memset(q, 0, sizeof *q);
    q->eig = eig;
    size_t m = cols * n;
    double **p[] = {&q->b, &q->Cb, &q->Nn, &q->Pk, &q->Pk1, &q->Am, &q->Vo};
    for (size_t i = 0; i < (eig ? 7u : 1u); i++)
        if (!(*p[i] = calloc(m, sizeof(double))))
            return -1;
    if (!eig && (!(q->Cb = calloc(cols * ns, sizeof(double))) ||
                 !(q->Z0 = calloc(cols * (ns + 2 * n), sizeof(double))) ||
                 !(q->Z1 = calloc(cols * (ns + 2 * n), sizeof(double)))))
        return -1;
    return 0;
}

/* The states of the current tick as rows (cols, ld), the units first, with their stride. */
static const double *sde_batch_rows(const sde_batch_buf *q, size_t n, size_t ns, size_t *ld)
{
    *ld = q->eig ? n : ns + 2 * n;
    return q->eig ? q->Vo : q->Z0;
}

/* The held bias changed: its per-row drive b F0^T (expm) or b P^T (eigenbasis). */
static void sde_batch_bias(const tdi_cosim_sde *s, size_t cols, sde_batch_buf *q)
{
    int n = (int)s->n, ns = (int)s->ns;
    if (q->eig)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)cols, n, n, 1.0, q->b, n, s->P,
                    n, 0.0, q->Cb, n);
    else
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)cols, ns, n, 1.0, q->b, n,
                    s->F0T, ns, 0.0, q->Cb, ns);
}

/* expm: Z1 rows = [v+, n_k+1, .] from Z0 rows = [v, n_k, n_k+1] (v: ns state nodes, noise: n
 * units), one GEMM (cols, ns, ns + 2n). */
static void sde_batch_tick_expm(const tdi_cosim_sde *s, const tdi_cosim_noise *nz, int noisy,
                                const tdi_cosim_batch *bt, long k, sde_batch_buf *q)
{
    size_t n = s->n, ns = s->ns, nw = ns + 2 * n, cols = bt->cols;
    for (size_t c = 0; c < cols; c++) {
        double *z0 = q->Z0 + c * nw, *z1 = q->Z1 + c * nw;
        if (noisy)
            sde_noise_row(nz, (uint64_t)(bt->tick0[c] + k + 1), z0 + ns + n);
        memcpy(z1, q->Cb + c * ns, sizeof(double) * ns);
        memcpy(z1 + ns, z0 + ns + n, sizeof(double) * n);
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)cols, (int)ns, (int)nw, 1.0,
                q->Z0, (int)nw, s->W, (int)ns, 1.0, q->Z1, (int)nw);
    double *t = q->Z0;
    q->Z0 = q->Z1;
    q->Z1 = t;
}

/* eigenbasis: P n_k+1 by one GEMM (cols, n, n), the modes' scalar steps, v = V a by another:
 * 4 n^2 flops per row and tick against the fused tick's 6 n^2. */
static void sde_batch_tick_eig(const tdi_cosim_sde *s, const tdi_cosim_noise *nz, int noisy,
                               const tdi_cosim_batch *bt, long k, sde_batch_buf *q)
{
    size_t n = s->n, cols = bt->cols;
    int ni = (int)n;
    if (noisy) {
        for (size_t c = 0; c < cols; c++)
            sde_noise_row(nz, (uint64_t)(bt->tick0[c] + k + 1), q->Nn + c * n);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)cols, ni, ni, 1.0, q->Nn, ni,
                    s->P, ni, 0.0, q->Pk1, ni);
    }
    for (size_t c = 0; c < cols; c++) {
        double *a = q->Am + c * n;
        const double *pb = q->Cb + c * n, *p0 = q->Pk + c * n, *p1 = q->Pk1 + c * n;
        for (size_t m = 0; m < n; m++)
            a[m] = s->e[m] * a[m] + s->c0[m] * pb[m] + s->c1[m] * p0[m] + s->c2[m] * p1[m];
    }
    double *t = q->Pk;
    q->Pk = q->Pk1;
    q->Pk1 = t;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)cols, ni, ni, 1.0, q->Am, ni, s->V,
                ni, 0.0, q->Vo, ni);
}

int tdi_cosim_sde_use_expm(tdi_cosim_sde *s, tdi_err *err)
{
    if (!s->W && sde_expm(s, s->h, err))
        return err ? err->code : TDI_ENUM;
    s->force_expm = 1;
    return 0;
}

int tdi_cosim_sde_run_batch(tdi_cosim_sde *s, const tdi_cosim_noise *nz,
                            const tdi_cosim_batch *bt, tdi_cosim_stats *st, tdi_err *err)
{
    size_t n = s->n, cols = bt ? bt->cols : 0, ld = 0;
    if (!nz || !bt || !st || !bt->bias || !bt->on_tick || !bt->tick0 || cols == 0 ||
        nz->n != n || bt->n_ticks < 1 || fabs(bt->tick - s->h) > 1e-12 * s->h)
        return tdi_err_set(err, TDI_EARG, "sde batch run: inconsistent arguments");
    memset(st, 0, sizeof *st);
    double cpu0 = tdi_clock_s(CLOCK_PROCESS_CPUTIME_ID), wall0 = tdi_clock_s(CLOCK_MONOTONIC);
    int rc = 0, noisy = 0, have_b = 0;
    for (size_t i = 0; i < n; i++)
        noisy |= nz->amp[i] != 0.0;
    sde_batch_buf q;
    if (sde_batch_buf_alloc(&q, s->sym && !s->force_expm, n, s->ns, cols)) {
        rc = tdi_err_set(err, TDI_ENOMEM, "out of memory");
        goto done;
    }
    /* tick 0: v = 0, noise sample 0 = 0, zero bias reported */
    if ((rc = bt->on_tick(bt->user, 0, sde_batch_rows(&q, n, s->ns, &ld), ld, q.b))) {
        tdi_err_set(err, rc, "digital side failed at tick 0");
        goto done;
    }
    for (long k = 0; k < bt->n_ticks; k++) {
        const double *b = bt->bias(bt->user, k);
        if (!b) {
            rc = tdi_err_set(err, TDI_EARG, "digital side returned no bias for interval %ld", k);
            goto done;
        }
        if (!have_b || memcmp(b, q.b, sizeof(double) * cols * n) != 0) {
            memcpy(q.b, b, sizeof(double) * cols * n);
            sde_batch_bias(s, cols, &q);
            have_b = 1;
        }
        if (q.eig)
            sde_batch_tick_eig(s, nz, noisy, bt, k, &q);
        else
            sde_batch_tick_expm(s, nz, noisy, bt, k, &q);
        if ((rc = bt->on_tick(bt->user, k + 1, sde_batch_rows(&q, n, s->ns, &ld), ld, q.b))) {
            tdi_err_set(err, rc, "digital side failed at tick %ld", k + 1);
            goto done;
        }
    }
    st->ticks_hit = st->points = (bt->n_ticks + 1) * (long)cols;
done:
    sde_batch_buf_free(&q);
    st->cpu_s = tdi_clock_s(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
    st->wall_s = tdi_clock_s(CLOCK_MONOTONIC) - wall0;
    return rc;
}

/* sde_run of a non-symmetric G: the batched path with one column. */
typedef struct sde_one {
    const tdi_cosim_digital *dg;
} sde_one;

static const double *sde_one_bias(void *user, long k)
{
    const sde_one *o = user;
    return o->dg->bias(o->dg->user, k);
}

static int sde_one_tick(void *user, long k, const double *V, size_t ldv, const double *ib)
{
    const sde_one *o = user;
    (void)ldv;
    return o->dg->on_tick(o->dg->user, k, (double)k * o->dg->tick, V, ib);
}

int tdi_cosim_sde_run(tdi_cosim_sde *s, const tdi_cosim_noise *nz, const tdi_cosim_digital *dg,
                      tdi_cosim_stats *st, tdi_err *err)
{
    if (s->sym && !s->force_expm)
        return sde_run_eigen(s, nz, dg, st, err);
    if (!dg || !nz)
        return tdi_err_set(err, TDI_EARG, "sde run: inconsistent arguments");
    sde_one o = {dg};
    long tick0 = nz->tick0;
    tdi_cosim_batch bt = {dg->tick, dg->n_ticks, 1, &tick0, sde_one_bias, sde_one_tick, &o};
    return tdi_cosim_sde_run_batch(s, nz, &bt, st, err);
}

/* Van Loan: expm([[A, Qv], [0, -A^T]] tau) = [[., G12], [0, G22]], Phi = e^(-A tau) = G22^T,
 * Q_tau = integral_0^tau e^(-A s) Qv e^(-A^T s) ds = G22^T G12 (Qv scaled to unit size). */
static int sde_van_loan(const tdi_cosim_sde *s, const double *Qv, double tau, gsl_matrix *Phi,
                        gsl_matrix *Qt)
{
    size_t n = s->ns;
    gsl_matrix *M = gsl_matrix_calloc(2 * n, 2 * n), *X = gsl_matrix_alloc(2 * n, 2 * n);
    int rc = !M || !X;
    if (!rc) {
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++) {
                gsl_matrix_set(M, i, j, s->A[i * n + j] * tau);
                gsl_matrix_set(M, i, n + j, Qv[i * n + j] * tau);
                gsl_matrix_set(M, n + i, n + j, -s->A[j * n + i] * tau);
            }
        rc = gsl_linalg_exponential_ss(M, X, GSL_PREC_DOUBLE);
    }
    if (!rc) {
        gsl_matrix_const_view G12 = gsl_matrix_const_submatrix(X, 0, n, n, n);
        gsl_matrix_const_view G22 = gsl_matrix_const_submatrix(X, n, n, n, n);
        gsl_matrix_transpose_memcpy(Phi, &G22.matrix);
        gsl_blas_dgemm(CblasTrans, CblasNoTrans, 1.0, &G22.matrix, &G12.matrix, 0.0, Qt);
    }
    gsl_matrix_free(M);
    gsl_matrix_free(X);
    return rc;
}

/* Phi = e^(-A stride h) and S = the stationary covariance for the voltage noise intensity Qv
 * (ns x ns): Van Loan over one stride, then Smith's doubling S <- S + Phi S Phi^T, Phi <- Phi^2
 * (2^j terms of sum_j Phi^j Q Phi^jT after j steps). */
static int sde_lyap_solve(const tdi_cosim_sde *s, const double *Qv, long stride, gsl_matrix *Phi,
                          gsl_matrix *S, tdi_err *err)
{
    size_t N = s->ns;
    double tau = s->h * (double)stride;
    gsl_matrix *T1 = gsl_matrix_alloc(N, N), *T2 = gsl_matrix_alloc(N, N);
    int rc = 0, conv = 0;
    if (!T1 || !T2) {
        rc = tdi_err_set(err, TDI_ENOMEM, "out of memory");
        goto done;
    }
    if (sde_van_loan(s, Qv, tau, Phi, S)) {
        rc = tdi_err_set(err, TDI_ENUM, "sde_mean_var: matrix exponential failed");
        goto done;
    }
    for (int it = 0; it < 64 && !conv; it++) {
        gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 1.0, Phi, S, 0.0, T1);
        gsl_blas_dgemm(CblasNoTrans, CblasTrans, 1.0, T1, Phi, 1.0, S);
        gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 1.0, Phi, Phi, 0.0, T2);
        gsl_matrix_memcpy(Phi, T2);
        conv = gsl_matrix_max(Phi) < 1e-18 && -gsl_matrix_min(Phi) < 1e-18;
    }
    if (!conv)
        rc = tdi_err_set(err, TDI_ENUM, "sde_mean_var: the stationary covariance did not "
                         "converge (a mode slower than 2^64 read-out strides)");
    else if (sde_van_loan(s, Qv, tau, Phi, T1)) /* Phi again (the doubling squared it) */
        rc = tdi_err_set(err, TDI_ENUM, "sde_mean_var: matrix exponential failed");
done:
    gsl_matrix_free(T1);
    gsl_matrix_free(T2);
    return rc;
}

/* The cached (Phi, S / qmax) for this circuit's noise and stride: one solve serves every unit
 * of a read-out (the app asks once per decoder unit). */
static int sde_lyap_get(const tdi_cosim_sde *s, const tdi_cosim_circuit *c, long stride,
                        const sde_lyap **out, tdi_err *err)
{
    size_t N = s->ns;
    sde_lyap *L = s->lyap;
    double *Qv = calloc(N * N, sizeof(double)), qmax = 0;
    if (!Qv)
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    /* white current noise 2 kB T g_i (two-sided) of unit i at its force node f ->
       voltage intensity Qv = C^-1 B diag(2 kB T g) B^T C^-1 (diagonal) */
    for (size_t i = 0; i < c->n; i++) {
        size_t f = s->force[i];
        double cf = c->n_state ? c->state_cap[f] : c->cap[f];
        Qv[f * N + f] += 2 * TDI_COSIM_KB * c->temp * c->g_noise[i] / (cf * cf);
    }
    int same = L->S && L->stride == stride;
    for (size_t i = 0; i < N; i++) {
        qmax = fmax(qmax, Qv[i * N + i]);
        same &= L->S && L->qdiag[i] == Qv[i * N + i];
    }
    int rc = 0;
    if (!same) {
        L->qmax = qmax;
        L->stride = stride;
        if (!L->S && (!(L->S = gsl_matrix_alloc(N, N)) || !(L->Phi = gsl_matrix_alloc(N, N)))) {
            rc = tdi_err_set(err, TDI_ENOMEM, "out of memory");
        } else {
            for (size_t i = 0; i < N; i++) {
                L->qdiag[i] = Qv[i * N + i];
                Qv[i * N + i] /= qmax > 0 ? qmax : 1.0;
            }
            if (qmax > 0 && (rc = sde_lyap_solve(s, Qv, stride, L->Phi, L->S, err)))
                L->stride = -1; /* nothing valid cached */
        }
    }
    free(Qv);
    *out = L;
    return rc;
}

int tdi_cosim_sde_mean_var_lyap(const tdi_cosim_sde *s, const tdi_cosim_circuit *c, long n,
                                long stride, size_t unit, double *var, tdi_err *err)
{
    size_t N = s->ns; /* unit < s->n is state node `unit` (units first) */
    if (unit >= s->n || n < 1 || stride < 1 || c->n != s->n)
        return tdi_err_set(err, TDI_EARG, "sde_mean_var: inconsistent arguments");
    const sde_lyap *L = NULL;
    int rc = sde_lyap_get(s, c, stride, &L, err);
    if (rc)
        return rc;
    if (L->qmax == 0) {
        *var = 0;
        return 0;
    }
    gsl_vector *x = gsl_vector_alloc(N), *y = gsl_vector_alloc(N);
    if (!x || !y) {
        gsl_vector_free(x);
        gsl_vector_free(y);
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    }
    /* Var(mean) = (1/n^2) [n S_uu + 2 sum_k (n - k) (Phi^k S)_uu], Phi = e^(-A stride h) */
    gsl_matrix_get_col(x, L->S, unit);
    double acc = (double)n * gsl_vector_get(x, unit), x0 = gsl_blas_dnrm2(x);
    for (long k = 1; k < n; k++) {
        gsl_blas_dgemv(CblasNoTrans, 1.0, L->Phi, x, 0.0, y);
        gsl_vector_swap(x, y);
        acc += 2.0 * (double)(n - k) * gsl_vector_get(x, unit);
        if (gsl_blas_dnrm2(x) < 1e-17 * x0) /* the rest is below rounding */
            break;
    }
    *var = L->qmax * acc / ((double)n * (double)n);
    gsl_vector_free(x);
    gsl_vector_free(y);
    return 0;
}

int tdi_cosim_sde_mean_var(const tdi_cosim_sde *s, const tdi_cosim_circuit *c, long n,
                           long stride, size_t unit, double *var, tdi_err *err)
{
    size_t N = s->n;
    if (unit >= N || n < 1 || stride < 1 || c->n != N)
        return tdi_err_set(err, TDI_EARG, "sde_mean_var: inconsistent arguments");
    double r = c->g_noise[0] / c->cap[0];
    int same_r = 1; /* the modes' formula needs one g_noise/C for every unit */
    for (size_t i = 1; i < N; i++)
        same_r &= fabs(c->g_noise[i] / c->cap[i] - r) <= 1e-12 * r;
    if (!s->sym || !same_r)
        return tdi_cosim_sde_mean_var_lyap(s, c, n, stride, unit, var, err);
    double kT = TDI_COSIM_KB * c->temp, acc = 0;
    for (size_t m = 0; m < N; m++) {
        double F = tdi_gen_ar1_mean_factor(n, exp(-s->lam[m] * s->h * (double)stride));
        double vim = s->V[unit * N + m];
        acc += vim * vim * kT * r / s->lam[m] * F;
    }
    *var = acc;
    return 0;
}

int tdi_cosim_sde_autocov(const tdi_cosim_sde *s, const tdi_cosim_circuit *c, long n,
                          long stride, size_t unit, double *acov, tdi_err *err)
{
    size_t N = s->n, NS = s->ns;
    if (unit >= N || n < 1 || stride < 1 || c->n != N)
        return tdi_err_set(err, TDI_EARG, "sde_autocov: inconsistent arguments");
    double r = c->g_noise[0] / c->cap[0];
    int same_r = 1;
    for (size_t i = 1; i < N; i++)
        same_r &= fabs(c->g_noise[i] / c->cap[i] - r) <= 1e-12 * r;
    if (s->sym && same_r) { /* the modes: sum_m V_um^2 (kB T r / lam_m) e^(-lam_m k stride h) */
        double kT = TDI_COSIM_KB * c->temp;
        for (long k = 0; k < n; k++) {
            double acc = 0;
            for (size_t m = 0; m < N; m++) {
                double vim = s->V[unit * N + m];
                acc += vim * vim * kT * r / s->lam[m] * exp(-s->lam[m] * s->h * (double)stride *
                                                           (double)k);
            }
            acov[k] = acc;
        }
        return 0;
    }
    const sde_lyap *L = NULL; /* (Phi^k S)_uu, as tdi_cosim_sde_mean_var_lyap */
    int rc = sde_lyap_get(s, c, stride, &L, err);
    if (rc)
        return rc;
    gsl_vector *x = gsl_vector_alloc(NS), *y = gsl_vector_alloc(NS);
    if (!x || !y) {
        gsl_vector_free(x);
        gsl_vector_free(y);
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    }
    if (L->qmax > 0)
        gsl_matrix_get_col(x, L->S, unit);
    else
        gsl_vector_set_zero(x);
    for (long k = 0; k < n; k++) {
        acov[k] = L->qmax * gsl_vector_get(x, unit);
        gsl_blas_dgemv(CblasNoTrans, 1.0, L->Phi, x, 0.0, y);
        gsl_vector_swap(x, y);
    }
    gsl_vector_free(x);
    gsl_vector_free(y);
    return 0;
}

typedef struct sde_lim_arg {
    size_t n, cols, k;  /* GEMM (cols, n) = (cols, k) (k, n) */
    double *a, *b, *c;
} sde_lim_arg;

static void sde_lim_gemm(void *p)
{
    sde_lim_arg *g = p;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g->cols, (int)g->n, (int)g->k,
                1.0, g->a, (int)g->k, g->b, (int)g->n, 0.0, g->c, (int)g->n);
}

static void sde_lim_noise(void *p)
{
    sde_lim_arg *g = p;
    for (size_t c = 0; c < g->cols; c++)
        tdi_cosim_noise_gauss_block(1, 0, (uint64_t)c + 1, g->n, g->c + c * g->n);
}

int tdi_cosim_sde_limits(size_t n, size_t cols, double seconds, double gflops[2],
                         double *ns_draw, tdi_err *err)
{
    sde_lim_arg g = {n, cols, 3 * n, malloc(sizeof(double) * cols * 3 * n),
                     malloc(sizeof(double) * 3 * n * n), malloc(sizeof(double) * cols * n)};
    if (!g.a || !g.b || !g.c) {
        free(g.a);
        free(g.b);
        free(g.c);
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < cols * 3 * n; i++)
        g.a[i] = 1e-3 * (double)(i % 97);
    for (size_t i = 0; i < 3 * n * n; i++)
        g.b[i] = 1e-3 * (double)(i % 89);
    for (int q = 0; q < 2; q++) { /* eigenbasis (cols, n, n), fused expm (cols, n, 3n) */
        g.k = q ? 3 * n : n;
        double t = tdi_clock_per_call(sde_lim_gemm, &g, seconds);
        gflops[q] = 2.0 * (double)(cols * n * g.k) / t * 1e-9;
    }
    *ns_draw = tdi_clock_per_call(sde_lim_noise, &g, seconds) / (double)(cols * n) * 1e9;
    free(g.a);
    free(g.b);
    free(g.c);
    return 0;
}
