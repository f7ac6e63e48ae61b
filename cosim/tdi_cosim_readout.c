/* tdi_cosim_readout: the predicted error of the analog read-out stage (docs/physics.md "Analog
 * read-out"): a first-order low-pass r (rate beta = g_ro / C_ro, gain -G_ry / G_rr) of a
 * substrate unit y, sampled once. Invariants: the substrate block (units 0..n_sub-1) does not
 * see the stage (one-way coupling), every substrate unit has the same g_noise / C. Non-goals:
 * running the stage (the engines do), settling residuals (kept below settle_eps by design). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_cosim.h"

/* The substrate unit a stage unit q listens to: the one non-zero entry of row q in columns
 * 0..n_sub-1 (-1 when there is none or more than one). */
static long stage_source(const tdi_cosim_circuit *c, size_t n_sub, size_t q)
{
    long y = -1;
    for (size_t j = 0; j < n_sub; j++)
        if (c->G[q * c->n + j] != 0.0) {
            if (y >= 0)
                return -1;
            y = (long)j;
        }
    return y;
}

static int check_stage(const tdi_cosim_circuit *c, size_t n_sub, double *r, tdi_err *err)
{
    size_t n = c->n;
    *r = c->g_noise[0] / c->cap[0];
    for (size_t i = 0; i < n_sub; i++) {
        if (fabs(c->g_noise[i] / c->cap[i] - *r) > 1e-9 * *r)
            return tdi_err_set(err, TDI_EARG, "readout prediction: unit %zu has g_noise/C = %g, "
                               "unit 0 %g (must be equal)", i, c->g_noise[i] / c->cap[i], *r);
        for (size_t q = n_sub; q < n; q++)
            if (c->G[i * n + q] != 0.0)
                return tdi_err_set(err, TDI_EARG, "readout prediction: substrate unit %zu sees "
                                   "stage unit %zu (G[%zu][%zu] = %g)", i, q, i, q,
                                   c->G[i * n + q]);
    }
    for (size_t q = n_sub; q < n; q++) {
        if (stage_source(c, n_sub, q) < 0 || !(c->G[q * n + q] > 0) || !(c->cap[q] > 0))
            return tdi_err_set(err, TDI_EARG, "readout prediction: stage unit %zu must listen "
                               "to exactly one substrate unit and have G_qq > 0, C > 0", q);
        for (size_t p = n_sub; p < n; p++)
            if (p != q && c->G[q * n + p] != 0.0)
                return tdi_err_set(err, TDI_EARG, "readout prediction: stage units %zu and %zu "
                                   "are coupled", q, p);
    }
    return 0;
}

int tdi_cosim_stage_var(const tdi_cosim_circuit *c, size_t n_sub, double *var_sub,
                        double *var_own, tdi_err *err)
{
    size_t n = c->n;
    if (n_sub == 0 || n_sub >= n)
        return tdi_err_set(err, TDI_EARG, "readout prediction: need 0 < n_sub < n");
    double r;
    int rc = check_stage(c, n_sub, &r, err);
    if (rc)
        return rc;
    /* modes of the symmetric part of C^-1/2 G C^-1/2 over the substrate */
    double *lam = malloc(sizeof(double) * n_sub), *U = malloc(sizeof(double) * n_sub * n_sub);
    if (!lam || !U)
        rc = tdi_err_set(err, TDI_ENOMEM, "out of memory");
    else if ((rc = tdi_cosim_circuit_modes(c, n_sub, lam, U, err)))
        tdi_err_prefix(err, "readout prediction: substrate");
    double kT = TDI_COSIM_KB * c->temp;
    for (size_t q = n_sub; q < n && !rc; q++) {
        size_t y = (size_t)stage_source(c, n_sub, q);
        double grr = c->G[q * n + q], gain = -c->G[q * n + y] / grr, beta = grr / c->cap[q];
        double s = 0;
        for (size_t m = 0; m < n_sub; m++) {
            double l = lam[m], u = U[y * n_sub + m];
            s += u * u / c->cap[y] * (kT * r / l) * beta / (beta + l);
        }
        var_sub[q - n_sub] = gain * gain * s;
        var_own[q - n_sub] = kT * c->g_noise[q] / (grr * c->cap[q]);
    }
    free(lam);
    free(U);
    return rc;
}
