/* test_cosim_sde_modes: the sde engine's mode-basis fast path (cosim/tdi_cosim_sde_modes.c,
 * docs/sde.md "Mode-basis fast path"): its Gaussians (vector vs scalar, moments), when it
 * applies, exact agreement with the general batched path without noise, the same law as the
 * general path with noise (per-unit means, variances and lag-1 autocorrelation of the read-out,
 * E_bias: within 4 standard errors, and against the closed-form read-out variance), E_R as the
 * exact expectation of the general path's realised E_R (4 s.e., with and without bias), and
 * same seed -> same numbers whatever the batch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "tdi_cosim.h"
#include "tdi_test.h"
#include "tdi_test_mat.h"

enum { NB = 12 }; /* units of the test circuit */

/* The 12-unit test circuit: symmetric G, C and g_noise uniform, plus three "bus" resistors
 * (r_map rows) so that the resistor power has a dense part beyond diag(r_unit). */
static tdi_cosim_circuit *test_circuit(tdi_err *err)
{
    double M[NB * NB];
    tdi_test_spd_matrix(NB, 5, M);
    tdi_cosim_circuit *c = tdi_cosim_circuit_direct(NB, M, 1e-12, 1e-6, 300, err);
    if (!c)
        return NULL;
    c->n_rmap = 3;
    c->r_g = malloc(3 * sizeof(double));
    c->r_map = calloc(3 * NB, sizeof(double));
    if (!c->r_g || !c->r_map) {
        tdi_cosim_circuit_free(c);
        return NULL;
    }
    for (size_t r = 0; r < 3; r++) {
        c->r_g[r] = 2e-7 * (double)(r + 1);
        for (size_t i = 0; i < NB; i++)
            c->r_map[r * NB + i] = 0.5 * tdi_cosim_noise_gauss(9, r, i + 1);
    }
    return c;
}

/* ---- 1. the mode-basis Gaussians */
static void test_gauss(void)
{
    enum { CNT = 1000, TICKS = 400 }; /* 1000 = 7 blocks of 128 and a tail of 104 */
    float *zv = malloc(sizeof(float) * CNT), *zs = malloc(sizeof(float) * CNT);
    double d = 0, s1 = 0, s2 = 0, s4 = 0, lag = 0, pair = 0;
    long n = 0;
    for (uint64_t j = 1; j <= TICKS; j++) {
        tdi_cosim_sde_modes_gauss(7, j, CNT, 0, zv);
        tdi_cosim_sde_modes_gauss(7, j, CNT, 1, zs);
        for (size_t i = 0; i < CNT; i++) {
            double z = zv[i];
            d = fmax(d, fabs(z - (double)zs[i]));
            s1 += z;
            s2 += z * z;
            s4 += z * z * z * z;
            lag += i > 0 ? z * zv[i - 1] : 0;
            /* cos and sin of the same pair (the last block's tail stops short of i + 8) */
            pair += i % 16 < 8 && i + 8 < CNT ? z * zv[i + 8] : 0;
            n++;
        }
    }
    /* libmvec's float log/cos/sin against libm's: a few ulp of |z| <= 6.6 (~4e-6) */
    tdi_check_le(d, 1e-5, "mode Gaussians: vectorised vs scalar, max |diff|");
    double N = (double)n, m = s1 / N, v = s2 / N - m * m;
    /* 4 standard errors of each moment of N standard Gaussians */
    tdi_check_near(m, 0.0, 4 / sqrt(N), "mode Gaussians: mean (4 s.e.)");
    tdi_check_near(v, 1.0, 4 * sqrt(2 / N), "mode Gaussians: variance (4 s.e.)");
    tdi_check_near(s4 / N, 3.0, 4 * sqrt(96 / N), "mode Gaussians: 4th moment (4 s.e.)");
    tdi_check_near(lag / N, 0.0, 4 / sqrt(N), "mode Gaussians: neighbours uncorrelated (4 s.e.)");
    tdi_check_near(pair / (N / 2), 0.0, 4 / sqrt(N / 2),
                   "mode Gaussians: the two outputs of a Box-Muller pair uncorrelated (4 s.e.)");
    tdi_cosim_sde_modes_gauss(7, 2, 4, 0, zs);
    TDI_CHECK(zs[0] != zv[0], "mode Gaussians: another tick index gives other draws");
    free(zv);
    free(zs);
}

/* ---- 2. when the fast path applies */
static void test_applies(void)
{
    tdi_err err = {0};
    tdi_cosim_circuit *c = test_circuit(&err);
    size_t read0 = 0;
    tdi_cosim_plan pl = {.n_samples = 2, .n_read = 1, .read = &read0, .tick = 5e-8,
                         .settle_ticks = 1, .avg_ticks = 1, .adc_stride = 1, .noise = 1};
    tdi_cosim_noise nz;
    tdi_cosim_noise_init(&nz, c, pl.tick, 1, 1, &err);
    char why[128];
    TDI_CHECK(tdi_cosim_sde_modes_applies(c, &pl, &nz, why, sizeof why),
              "fast path applies: rc units, symmetric G, one g_noise/C");
    pl.sde_general = 1;
    TDI_CHECK(!tdi_cosim_sde_modes_applies(c, &pl, &nz, why, sizeof why) &&
              strstr(why, "--sde-general"), "fast path off when the general path is asked for");
    pl.sde_general = 0;
    pl.n_wave = 1;
    TDI_CHECK(!tdi_cosim_sde_modes_applies(c, &pl, &nz, why, sizeof why),
              "fast path off with a waveform");
    pl.n_wave = 0;
    nz.amp[3] *= 2; /* g_noise/C of one unit four times the others' */
    TDI_CHECK(!tdi_cosim_sde_modes_applies(c, &pl, &nz, why, sizeof why) &&
              strstr(why, "g_noise/C"), "fast path off when g_noise/C differs between units");
    nz.amp[3] /= 2;
    c->G[1] += 0.25 * c->G[0]; /* a one-way coupling */
    TDI_CHECK(!tdi_cosim_sde_modes_applies(c, &pl, &nz, why, sizeof why) &&
              strstr(why, "symmetric"), "fast path off for a non-symmetric G");
    tdi_cosim_noise_destroy(&nz);
    tdi_cosim_circuit_free(c);
}

/* ---- 3. no noise: the fast path equals the general batched path to rounding (the same tick
 * weights; sums in another order: ~1e-16 per tick, damped), 133 samples = a batch of 128 and
 * one of 5, DAC and 12-bit ADC (codes identical: a flip would move an estimate by one step,
 * 1e-5 of full scale over 10 conversions). */
static void test_noiseless(void)
{
    enum { NS = 133 };
    tdi_err err = {0};
    tdi_cosim_circuit *c = test_circuit(&err);
    double bias[NS * NB];
    for (size_t q = 0; q < NS * NB; q++)
        bias[q] = 2e-9 * tdi_cosim_noise_gauss(17, q, 1);
    size_t read[3] = {0, 5, 11};
    tdi_cosim_plan pl = {.n_samples = NS, .bias = bias, .n_read = 3, .read = read,
                         .tick = 5e-8, .settle_ticks = 30, .avg_ticks = 50, .dac_bits = 10,
                         .dac_fs = 8e-9, .adc_bits = 12, .adc_fs = 0.02, .adc_stride = 5,
                         .seed = 42, .noise = 0};
    for (int ideal = 0; ideal < 2; ideal++) {
        pl.adc_bits = ideal ? 0 : 12;
        tdi_cosim_out of, og;
        pl.sde_general = 0;
        int rf = tdi_cosim_exp_run(TDI_COSIM_SDE, c, &pl, &of, &err);
        pl.sde_general = 1;
        int rg = tdi_cosim_exp_run(TDI_COSIM_SDE, c, &pl, &og, &err);
        const char *tag = ideal ? "noiseless, ideal ADC" : "noiseless, 12-bit ADC";
        char nm[160];
        snprintf(nm, sizeof nm, "%s: fast and general plans run", tag);
        if (!tdi_check_int(rf | rg, 0, nm)) {
            printf("  %s\n", err.msg);
            continue;
        }
        snprintf(nm, sizeof nm, "%s: the fast path ran (out.sde_modes), the general did not", tag);
        TDI_CHECK(of.sde_modes == 1 && og.sde_modes == 0, nm);
        size_t ne = NS * 3;
        snprintf(nm, sizeof nm, "%s: estimates, max |diff| / max |estimate|", tag);
        tdi_check_le(tdi_test_rel_diff(of.est, og.est, ne), 1e-12, nm);
        snprintf(nm, sizeof nm, "%s: E_bias per sample, max |diff| / max", tag);
        tdi_check_le(tdi_test_rel_diff(of.e_bias, og.e_bias, NS), 1e-12, nm);
        snprintf(nm, sizeof nm, "%s: E_R per sample (bus resistors included), max |diff| / max",
                 tag);
        tdi_check_le(tdi_test_rel_diff(of.e_r, og.e_r, NS), 1e-12, nm);
        snprintf(nm, sizeof nm, "%s: ADC conversions", tag);
        tdi_check_int(of.n_adc, og.n_adc, nm);
        snprintf(nm, sizeof nm, "%s: ticks counted", tag);
        tdi_check_int(of.st.ticks_hit, og.st.ticks_hit, nm);
        snprintf(nm, sizeof nm, "%s: samples 0 and 3 differ by > 1 uV (not trivially equal)",
                 tag);
        TDI_CHECK(fabs(og.est[0] - og.est[9]) > 1e-6, nm);
        tdi_cosim_out_destroy(&of);
        tdi_cosim_out_destroy(&og);
    }
    tdi_cosim_circuit_free(c);
}

/* ---- 4. with noise: the same law as the general path. NS samples, each settled 80 ticks
 * (4 tau; lambda_min tau = 1.15: every mode's variance within e^-9 of stationary) under
 * one bias, then nconv conversions every 5 ticks (ideal converters). Per read-out unit: the
 * mean and the variance of the estimate, fast vs general (independent realisations) within 4
 * standard errors of their difference, and against the exact variance of the discrete scheme
 * (pred_var). */
/* The exact read-out variance of the discrete scheme (no white-noise approximation): per mode,
 * a+ = e a + c1 x_k + c2 x_k+1 with x iid of variance s2 = 2 kB T g / (h C) in the mode basis
 * (uniform C, g) is an ARMA(1,1): Var = s2 (c1^2 + c2^2 + 2 e c1 c2) / (1 - e^2),
 * Cov(lag j >= 1) = e^(j-1) (e Var + c1 c2 s2). The mean of n conversions stride ticks apart:
 * (1/n^2) [n Var + 2 sum_k (n - k) Cov(k stride)], summed over modes with weight V_um^2. */
static double pred_var(const tdi_cosim_circuit *c, double h, size_t unit, long n, long stride)
{
    double lam[NB], U[NB * NB], s2 = 2 * TDI_COSIM_KB * c->temp * c->g_noise[0] / (h * c->cap[0]);
    tdi_err err = {0};
    if (tdi_cosim_circuit_modes(c, NB, lam, U, &err))
        return NAN;
    double acc = 0;
    for (size_t m = 0; m < NB; m++) {
        double e, c0, c1, c2;
        tdi_cosim_sde_mode_weights(lam[m], h, &e, &c0, &c1, &c2);
        double var = s2 * (c1 * c1 + c2 * c2 + 2 * e * c1 * c2) / (1 - e * e);
        double tot = (double)n * var, cov1 = e * var + c1 * c2 * s2;
        for (long k = 1; k < n; k++)
            tot += 2.0 * (double)(n - k) * pow(e, (double)(k * stride - 1)) * cov1;
        acc += U[unit * NB + m] * U[unit * NB + m] / c->cap[unit] * tot / ((double)n * (double)n);
    }
    return acc;
}

typedef struct stat_run {
    double mean[3], var[3], e_r, e_r_var, e_b, e_b_var;
} stat_run;

static int stat_one(const tdi_cosim_circuit *c, tdi_cosim_plan *pl, int general, stat_run *o,
                    tdi_err *err)
{
    tdi_cosim_out out;
    pl->sde_general = general;
    int rc = tdi_cosim_exp_run(TDI_COSIM_SDE, c, pl, &out, err);
    if (rc)
        return rc;
    size_t ns = pl->n_samples;
    memset(o, 0, sizeof *o);
    for (size_t s = 0; s < ns; s++) {
        for (size_t r = 0; r < 3; r++)
            o->mean[r] += out.est[s * 3 + r] / (double)ns;
        o->e_r += out.e_r[s] / (double)ns;
        o->e_b += out.e_bias[s] / (double)ns;
    }
    for (size_t s = 0; s < ns; s++) {
        for (size_t r = 0; r < 3; r++)
            o->var[r] += pow(out.est[s * 3 + r] - o->mean[r], 2) / (double)(ns - 1);
        o->e_r_var += pow(out.e_r[s] - o->e_r, 2) / (double)(ns - 1);
        o->e_b_var += pow(out.e_bias[s] - o->e_b, 2) / (double)(ns - 1);
    }
    tdi_cosim_out_destroy(&out);
    return 0;
}

static void test_statistics(void)
{
    enum { NS = 8000 };
    tdi_err err = {0};
    tdi_cosim_circuit *c = test_circuit(&err);
    double *bias = malloc(sizeof(double) * NS * NB);
    for (size_t s = 0; s < NS; s++)
        for (size_t i = 0; i < NB; i++)
            bias[s * NB + i] = 1e-9 * tdi_cosim_noise_gauss(23, i, 1); /* the same every sample */
    size_t read[3] = {0, 5, 11};
    double h = 5e-8;
    double N = NS, rho[2][3] = {{0}}, var1[2][3] = {{0}};
    long convs[3] = {1, 2, 8};
    for (int p = 0; p < 3; p++) {
        tdi_cosim_plan pl = {.n_samples = NS, .bias = bias, .n_read = 3, .read = read, .tick = h,
                             .settle_ticks = 80, .avg_ticks = 5 * convs[p], .adc_stride = 5,
                             .dac_fs = 1, .adc_fs = 1, .seed = 31, .noise = 1};
        stat_run f, g;
        int rc = stat_one(c, &pl, 0, &f, &err) || stat_one(c, &pl, 1, &g, &err);
        char nm[200];
        snprintf(nm, sizeof nm, "noisy, %ld conversion(s): fast and general plans run", convs[p]);
        if (!tdi_check_int(rc, 0, nm))
            continue;
        for (size_t r = 0; r < 3; r++) {
            double se = sqrt(f.var[r] / N + g.var[r] / N);
            snprintf(nm, sizeof nm, "noisy, %ld conv., unit %zu: mean fast - general (V, 4 s.e.)",
                     convs[p], read[r]);
            tdi_check_near(f.mean[r] - g.mean[r], 0.0, 4 * se, nm);
            /* variance of a sample variance of N Gaussians: 2 var^2 / N (relative sqrt(2/N)) */
            snprintf(nm, sizeof nm, "noisy, %ld conv., unit %zu: variance fast / general "
                     "(4 s.e. of the ratio)", convs[p], read[r]);
            tdi_check_near(f.var[r] / g.var[r], 1.0, 4 * sqrt(4 / N), nm);
            double pv = pred_var(c, h, read[r], convs[p], 5);
            snprintf(nm, sizeof nm, "noisy, %ld conv., unit %zu: variance fast / exact discrete "
                     "prediction (4 s.e.)", convs[p], read[r]);
            tdi_check_near(f.var[r] / pv, 1.0, 4 * sqrt(2 / N), nm);
            snprintf(nm, sizeof nm, "noisy, %ld conv., unit %zu: variance general / exact "
                     "discrete prediction (4 s.e.)", convs[p], read[r]);
            tdi_check_near(g.var[r] / pv, 1.0, 4 * sqrt(2 / N), nm);
            if (p == 0) {
                var1[0][r] = f.var[r];
                var1[1][r] = g.var[r];
            } else if (p == 1) { /* mean of 2: var (1 + rho) / 2 -> lag-1 autocorrelation */
                rho[0][r] = 2 * f.var[r] / var1[0][r] - 1;
                rho[1][r] = 2 * g.var[r] / var1[1][r] - 1;
                double rho_pred = 2 * pv / pred_var(c, h, read[r], 1, 5) - 1;
                /* rho = 2 R - 1, R = var2 / var1 from independent runs: s.e. 2 R sqrt(4 / N);
                   fast vs general: two such, independent */
                double sr = (rho[0][r] + 1) * sqrt(4 / N);
                snprintf(nm, sizeof nm, "noisy, unit %zu: lag-1 (5 ticks) autocorrelation of the "
                         "read-out, fast - general (4 s.e.)", read[r]);
                tdi_check_near(rho[0][r] - rho[1][r], 0.0, 4 * sqrt(2.0) * sr, nm);
                snprintf(nm, sizeof nm, "noisy, unit %zu: lag-1 autocorrelation, fast vs exact "
                         "discrete prediction %.4f (4 s.e.)", read[r], rho_pred);
                tdi_check_near(rho[0][r], rho_pred, 4 * sr, nm);
            }
        }
        /* the fast E_R is the expectation (no noise of its own): the general's s.e. alone */
        double se_r = sqrt(g.e_r_var / N), se_b = sqrt(f.e_b_var / N + g.e_b_var / N);
        snprintf(nm, sizeof nm, "noisy, %ld conv.: E_R fast (exact expectation) - mean general "
                 "(J, 4 s.e.)", convs[p]);
        tdi_check_near(f.e_r - g.e_r, 0.0, 4 * se_r, nm);
        snprintf(nm, sizeof nm, "noisy, %ld conv.: mean E_bias fast - general (J, 4 s.e.)",
                 convs[p]);
        tdi_check_near(f.e_b - g.e_b, 0.0, 4 * se_b, nm);
        /* one bias for every sample: one expectation, to rounding (the realised E_R varies) */
        snprintf(nm, sizeof nm, "noisy, %ld conv.: fast E_R's spread over samples / its mean "
                 "(the same bias every sample)", convs[p]);
        tdi_check_le(sqrt(f.e_r_var) / f.e_r, 1e-12, nm);
    }
    free(bias);
    tdi_cosim_circuit_free(c);
}

/* ---- 4b. E_R's noise part alone: no bias, so the fast E_R is sum_i Q_ii sum_t w_t Var a_i(t)
 * (the variance recursion of sm_expect, MA(1) noise) and the general path's realised E_R has
 * that mean; NS samples from rest, 20 ticks (1 tau: the variance still growing, so the
 * recursion's start is tested, not only its stationary value) then 2 conversions. */
static void test_noise_energy(void)
{
    enum { NS = 8000 };
    tdi_err err = {0};
    tdi_cosim_circuit *c = test_circuit(&err);
    double *bias = calloc(NS * NB, sizeof(double));
    size_t read[3] = {0, 5, 11};
    tdi_cosim_plan pl = {.n_samples = NS, .bias = bias, .n_read = 3, .read = read, .tick = 5e-8,
                         .settle_ticks = 20, .avg_ticks = 10, .adc_stride = 5, .dac_fs = 1,
                         .adc_fs = 1, .seed = 37, .noise = 1};
    stat_run f, g;
    int rc = !c || !bias || stat_one(c, &pl, 0, &f, &err) || stat_one(c, &pl, 1, &g, &err);
    if (tdi_check_int(rc, 0, "no bias, noise: fast and general plans run")) {
        double se = sqrt(g.e_r_var / NS);
        tdi_check_near(f.e_r - g.e_r, 0.0, 4 * se,
                       "no bias: E_R fast (expected noise part) - mean general (J, 4 s.e.)");
        /* s.e. / mean small enough that a wrong recursion (e.g. the MA(1) cross term 2 e s1 s2
           left out) would show */
        tdi_check_le(se / g.e_r, 0.01, "no bias: the test's resolution, s.e. / mean E_R");
        TDI_CHECK(f.e_r > 0, "no bias: fast E_R > 0 (the noise part is counted)");
    }
    free(bias);
    tdi_cosim_circuit_free(c);
}

/* ---- 5. same seed -> same numbers; the draws of a sample depend only on (seed, sample, tick,
 * mode), not on the batch it ran in (the first 5 of 133 samples alone: the same to rounding). */
static void test_seed(void)
{
    enum { NS = 133 };
    tdi_err err = {0};
    tdi_cosim_circuit *c = test_circuit(&err);
    double bias[NS * NB];
    for (size_t q = 0; q < NS * NB; q++)
        bias[q] = 2e-9 * tdi_cosim_noise_gauss(17, q, 1);
    size_t read[3] = {0, 5, 11};
    tdi_cosim_plan pl = {.n_samples = NS, .bias = bias, .n_read = 3, .read = read,
                         .tick = 5e-8, .settle_ticks = 30, .avg_ticks = 50, .dac_fs = 8e-9,
                         .adc_fs = 0.02, .adc_stride = 5, .seed = 42, .noise = 1};
    tdi_cosim_out o1, o2, o3, o4;
    int rc = tdi_cosim_exp_run(TDI_COSIM_SDE, c, &pl, &o1, &err);
    rc |= tdi_cosim_exp_run(TDI_COSIM_SDE, c, &pl, &o2, &err);
    pl.n_samples = 5;
    rc |= tdi_cosim_exp_run(TDI_COSIM_SDE, c, &pl, &o3, &err);
    pl.n_samples = NS;
    pl.seed = 43;
    rc |= tdi_cosim_exp_run(TDI_COSIM_SDE, c, &pl, &o4, &err);
    if (tdi_check_int(rc, 0, "seed: four fast runs")) {
        tdi_check_near(tdi_test_max_diff(o1.est, 1, o2.est, NS * 3), 0.0, 0,
                       "seed: same seed, same bits");
        tdi_check_near(tdi_test_max_diff(o1.e_r, 1, o2.e_r, NS), 0.0, 0,
                       "seed: same seed, same E_R bits");
        /* the same draws; the GEMMs' blocking differs with the row count (rounding) */
        tdi_check_le(tdi_test_rel_diff(o3.est, o1.est, 5 * 3), 1e-12,
                     "seed: samples 0-4 alone vs in the batch of 128, max |diff| / max");
        TDI_CHECK(tdi_test_max_diff(o1.est, 1, o4.est, NS * 3) > 1e-7,
                  "seed: another seed, other numbers");
        tdi_cosim_out_destroy(&o1);
        tdi_cosim_out_destroy(&o2);
        tdi_cosim_out_destroy(&o3);
        tdi_cosim_out_destroy(&o4);
    }
    tdi_cosim_circuit_free(c);
}

int main(void)
{
    gsl_set_error_handler_off();
    test_gauss();
    test_applies();
    test_noiseless();
    test_statistics();
    test_noise_energy();
    test_seed();
    TDI_TEST_END();
}
