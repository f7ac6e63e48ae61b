/* test_iface_std: the interface networks' standardised training with a validation split and
 * early stopping (tools/substrate/tdi_sub_nn.c, docs/substrate.md "Interface training").
 * Checks: the standardisation folded into the weights is exact (a data set rescaled by 1e3 in
 * X and 1e-3 in T gives the same net up to that scaling); at activation scales far from 1 the
 * raw-scale training (the released code's) does no better than the mean, the standardised one
 * recovers the linear map; early stopping stops, keeps its best epoch, and a validation split
 * of 0 with standardise off is the raw path. Data: seeded, synthetic. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "tdi_sub.h"
#include "tdi_test.h"

#define N 2000
#define DI 8
#define DO 8

/* T = X W^T + 0.05 noise, X ~ N(0,1): rows, then scaled by sx (X) and st (T) */
static void make_data(double *X, double *T, double sx, double st, unsigned long seed)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, seed);
    double W[DO * DI];
    for (size_t i = 0; i < DO * DI; i++)
        W[i] = gsl_ran_gaussian(r, 1.0 / sqrt((double)DI));
    for (size_t n = 0; n < N; n++) {
        for (size_t j = 0; j < DI; j++)
            X[n * DI + j] = gsl_ran_gaussian(r, 1.0);
        for (size_t o = 0; o < DO; o++) {
            double s = 0.05 * gsl_ran_gaussian(r, 1.0);
            for (size_t j = 0; j < DI; j++)
                s += W[o * DI + j] * X[n * DI + j];
            T[n * DO + o] = s * st;
        }
        for (size_t j = 0; j < DI; j++)
            X[n * DI + j] *= sx;
    }
    gsl_rng_free(r);
}

/* MSE of the net over the variance of T (1 = no better than the mean) */
static double rel_err(const tdi_sub_mlp *m, const double *X, const double *T)
{
    double mu[DO] = {0}, var = 0;
    for (size_t n = 0; n < N; n++)
        for (size_t o = 0; o < DO; o++)
            mu[o] += T[n * DO + o] / N;
    for (size_t n = 0; n < N; n++)
        for (size_t o = 0; o < DO; o++)
            var += (T[n * DO + o] - mu[o]) * (T[n * DO + o] - mu[o]) / (N * DO);
    return tdi_sub_mlp_mse(m, X, T, N) / var;
}

static int train(tdi_sub_mlp *m, const double *X, const double *T, int std, double vf,
                 tdi_sub_train_info *info)
{
    tdi_err e;
    tdi_sub_train_opts o = {40, 64, 3e-3, 1e-4, 11, std, vf, 5};
    if (tdi_sub_mlp_init(m, DI, 16, DO, 1, 7, &e))
        return -1;
    int rc = tdi_sub_mlp_train_info(m, X, T, N, &o, info, &e);
    if (rc)
        printf("    %s\n", e.msg);
    return rc;
}

static void scale_invariance(const double *X, const double *T)
{
    double *X2 = malloc(N * DI * sizeof *X2), *T2 = malloc(N * DO * sizeof *T2);
    double *Y1 = malloc(N * DO * sizeof *Y1), *Y2 = malloc(N * DO * sizeof *Y2);
    for (size_t i = 0; i < N * DI; i++)
        X2[i] = 1e3 * X[i];
    for (size_t i = 0; i < N * DO; i++)
        T2[i] = 1e-3 * T[i];
    tdi_sub_mlp a, b;
    tdi_sub_train_info ia, ib;
    int rc = train(&a, X, T, 1, 0.1, &ia) || train(&b, X2, T2, 1, 0.1, &ib);
    TDI_CHECK(rc == 0, "standardised training on (X, T) and (1e3 X, 1e-3 T)");
    tdi_sub_mlp_forward(&a, X, N, Y1, NULL);
    tdi_sub_mlp_forward(&b, X2, N, Y2, NULL);
    double w = 0, s = 0;
    for (size_t i = 0; i < N * DO; i++) {
        w = fmax(w, fabs(1e-3 * Y1[i] - Y2[i]));
        s = fmax(s, fabs(Y2[i]));
    }
    /* the standardised problems agree to rounding; 40 epochs of Adam keep the difference small */
    tdi_check_le(w / s, 1e-6, "rescaled data: same net up to the scaling (max rel diff)");
    tdi_check_int(ia.best_epoch, ib.best_epoch, "rescaled data: same early-stopping epoch");
    tdi_sub_mlp_destroy(&a);
    tdi_sub_mlp_destroy(&b);
    free(X2), free(T2), free(Y1), free(Y2);
}

static void across_scales(void)
{
    double *X = malloc(N * DI * sizeof *X), *T = malloc(N * DO * sizeof *T);
    make_data(X, T, 1e-3, 1e3, 5); /* tiny inputs, large targets: far from the defaults' scale */
    tdi_sub_mlp raw, st;
    tdi_sub_train_info ir, is;
    int rc = train(&raw, X, T, 0, 0, &ir) || train(&st, X, T, 1, 0.1, &is);
    TDI_CHECK(rc == 0, "raw and standardised training at scales 1e-3 -> 1e3");
    double er = rel_err(&raw, X, T), es = rel_err(&st, X, T);
    printf("    raw-scale error %.4g, standardised %.4g of the target variance\n", er, es);
    /* the noise floor is 0.05^2 / (1 + 0.05^2) ~ 0.0025; 0.05 leaves room for 40 epochs */
    tdi_check_le(es, 0.05, "standardised: near the noise floor (error / variance)");
    tdi_check_le(0.5, er, "raw scale: not better than half the variance (the failure fixed)");
    tdi_sub_mlp_destroy(&raw);
    tdi_sub_mlp_destroy(&st);
    free(X), free(T);
}

/* a small, noisy problem the SiLU net overfits: validation loss stops improving */
static void early_stopping(void)
{
    double *X = malloc(N * DI * sizeof *X), *T = malloc(N * DO * sizeof *T);
    make_data(X, T, 1, 1, 9);
    for (size_t i = 0; i < N * DO; i++) /* mostly noise: nothing to learn after a while */
        T[i] = 0.1 * T[i] + sin(1e3 * (double)i);
    tdi_sub_mlp m;
    tdi_sub_train_info in;
    int rc = train(&m, X, T, 1, 0.2, &in);
    TDI_CHECK(rc == 0, "early stopping run");
    tdi_check_int((long long)in.n_val, 400, "validation rows = round(0.2 N)");
    TDI_CHECK(in.epochs_run < 40, "stopped before the 40 epochs");
    tdi_check_int(in.epochs_run - in.best_epoch, 5, "stopped 5 (patience) epochs after its best");
    double v = tdi_sub_mlp_mse(&m, X + (N - 400) * DI, T + (N - 400) * DO, 400);
    tdi_check_rel(v, in.val_loss, 1e-12, "kept weights give the reported validation loss");
    tdi_sub_mlp_destroy(&m);
    free(X), free(T);
}

int main(void)
{
    double *X = malloc(N * DI * sizeof *X), *T = malloc(N * DO * sizeof *T);
    make_data(X, T, 1, 1, 3);
    scale_invariance(X, T);
    free(X), free(T);
    across_scales();
    early_stopping();
    TDI_TEST_END();
}
