/* tdi_cosim_sde: the sde engine. C dv/dt = -G v + b_k + n(t) over each tick (t_k, t_k+1], with
 * the bias b_k held and the noise n interpolated linearly between the tick samples of
 * tdi_cosim_noise, is integrated exactly: with w = C^1/2 v and C^-1/2 G C^-1/2 = U diag(lam) U^T,
 * each mode a = U^T w obeys da/dt = -lam a + f(t), f linear on the tick, so
 *   a+ = e^(-lam h) a + phi0 P b_k + (phi0 - phi1) P n_k + phi1 P n_k+1,  P = U^T C^-1/2,
 *   phi0 = (1 - e^(-lam h)) / lam,  phi1 = 1/lam - (1 - e^(-lam h)) / (lam^2 h).
 * Invariant: same noise stream and same bias timing as the spice engine, so both agree up to
 * SPICE's truncation error. Non-goals: non-symmetric G, non-diagonal C, nonlinear elements. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_matrix.h>

#include "tdi_cosim.h"

struct tdi_cosim_sde {
    size_t n;
    double h;        /* s */
    double *lam;     /* (n) 1/s, eigenvalues of C^-1/2 G C^-1/2 */
    double *e, *c0, *c1, *c2; /* (n) per-mode weights of a, P b, P n_k, P n_k+1 */
    double *P;       /* (n, n) U^T C^-1/2 */
    double *V;       /* (n, n) C^-1/2 U */
    double *a, *pb, *pn0, *pn1, *nk, *v, *b, *zero; /* (n) scratch */
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
    free(s);
}

tdi_cosim_sde *tdi_cosim_sde_alloc(const tdi_cosim_circuit *c, double tick, tdi_err *err)
{
    size_t n = c->n;
    if (!(tick > 0)) {
        tdi_err_set(err, TDI_EARG, "sde: tick must be > 0");
        return NULL;
    }
    if (!c->rc_units) {
        tdi_err_set(err, TDI_EARG, "sde: the engine integrates rc units only (this circuit's "
                    "force nodes are not its state nodes)");
        return NULL;
    }
    double gmax = 0;
    for (size_t i = 0; i < n * n; i++)
        gmax = fmax(gmax, fabs(c->G[i]));
    for (size_t i = 0; i < n; i++) {
        if (!(c->cap[i] > 0)) {
            tdi_err_set(err, TDI_EARG, "sde: unit %zu has capacitance %g (need > 0)", i,
                        c->cap[i]);
            return NULL;
        }
        for (size_t j = 0; j < i; j++)
            /* symmetric to rounding of the netlist's %.17g values: 64 ulp of the largest entry */
            if (fabs(c->G[i * n + j] - c->G[j * n + i]) > 64 * 2.2e-16 * gmax) {
                tdi_err_set(err, TDI_EARG, "sde: G is not symmetric (G[%zu][%zu] = %.17g, "
                            "G[%zu][%zu] = %.17g)", i, j, c->G[i * n + j], j, i,
                            c->G[j * n + i]);
                return NULL;
            }
    }
    tdi_cosim_sde *s = calloc(1, sizeof *s);
    gsl_matrix *K = gsl_matrix_alloc(n, n), *U = gsl_matrix_alloc(n, n);
    gsl_vector *ev = gsl_vector_alloc(n);
    gsl_eigen_symmv_workspace *w = gsl_eigen_symmv_alloc(n);
    if (!s || !K || !U || !ev || !w)
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
    if (!s->P || !s->V)
        goto oom;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            gsl_matrix_set(K, i, j, 0.5 * (c->G[i * n + j] + c->G[j * n + i]) /
                                        sqrt(c->cap[i] * c->cap[j]));
    if (gsl_eigen_symmv(K, ev, U, w)) {
        tdi_err_set(err, TDI_ENUM, "sde: eigen-decomposition failed");
        goto fail;
    }
    for (size_t m = 0; m < n; m++) {
        double lam = gsl_vector_get(ev, m);
        if (!(lam > 0)) {
            tdi_err_set(err, TDI_ENUM, "sde: C^-1/2 G C^-1/2 has eigenvalue %g <= 0 (the "
                        "circuit is not stable)", lam);
            goto fail;
        }
        double x = lam * tick, phi0, phi1;
        if (x < 1e-4) { /* series: truncation x^4 < 1e-16 relative */
            phi0 = tick * (1 - x / 2 + x * x / 6 - x * x * x / 24);
            phi1 = tick * (0.5 - x / 6 + x * x / 24 - x * x * x / 120);
        } else {
            double em1 = expm1(-x);
            phi0 = -em1 / lam;
            phi1 = (x + em1) / (lam * lam * tick);
        }
        s->lam[m] = lam;
        s->e[m] = exp(-x);
        s->c0[m] = phi0;
        s->c1[m] = phi0 - phi1;
        s->c2[m] = phi1;
        for (size_t i = 0; i < n; i++) {
            double u = gsl_matrix_get(U, i, m), r = 1.0 / sqrt(c->cap[i]);
            s->P[m * n + i] = u * r;
            s->V[i * n + m] = r * u;
        }
    }
    gsl_matrix_free(K);
    gsl_matrix_free(U);
    gsl_vector_free(ev);
    gsl_eigen_symmv_free(w);
    return s;
oom:
    tdi_err_set(err, TDI_ENOMEM, "out of memory");
fail:
    gsl_matrix_free(K);
    gsl_matrix_free(U);
    gsl_vector_free(ev);
    if (w)
        gsl_eigen_symmv_free(w);
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

static double now_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int tdi_cosim_sde_run(tdi_cosim_sde *s, const tdi_cosim_noise *nz, const tdi_cosim_digital *dg,
                      tdi_cosim_stats *st, tdi_err *err)
{
    size_t n = s->n;
    if (!nz || !dg || !st || !dg->bias || !dg->on_tick || nz->n != n || dg->n_ticks < 1 ||
        fabs(dg->tick - s->h) > 1e-12 * s->h)
        return tdi_err_set(err, TDI_EARG, "sde run: inconsistent arguments");
    memset(st, 0, sizeof *st);
    double cpu0 = now_s(CLOCK_PROCESS_CPUTIME_ID), wall0 = now_s(CLOCK_MONOTONIC);
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
    st->cpu_s = now_s(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
    st->wall_s = now_s(CLOCK_MONOTONIC) - wall0;
    return rc;
}

int tdi_cosim_sde_mean_var(const tdi_cosim_sde *s, const tdi_cosim_circuit *c, long n,
                           long stride, size_t unit, double *var, tdi_err *err)
{
    size_t N = s->n;
    if (unit >= N || n < 1 || stride < 1 || c->n != N)
        return tdi_err_set(err, TDI_EARG, "sde_mean_var: inconsistent arguments");
    double r = c->g_noise[0] / c->cap[0];
    for (size_t i = 1; i < N; i++)
        if (fabs(c->g_noise[i] / c->cap[i] - r) > 1e-12 * r)
            return tdi_err_set(err, TDI_EARG, "sde_mean_var: g_noise/C differs between units");
    double kT = TDI_COSIM_KB * c->temp, acc = 0, nn = (double)n;
    for (size_t m = 0; m < N; m++) {
        double rho = exp(-s->lam[m] * s->h * (double)stride), F;
        if (n == 1)
            F = 1.0;
        else /* (1/n) [1 + 2 sum_k (1 - k/n) rho^k] in closed form */
            F = ((1 + rho) / (1 - rho) - 2 * rho * (1 - pow(rho, nn)) / (nn * (1 - rho) * (1 - rho))) / nn;
        double vim = s->V[unit * N + m];
        acc += vim * vim * kT * r / s->lam[m] * F;
    }
    *var = acc;
    return 0;
}
