/* test_quant_acf: tdi_gen_quant_var_acf (generator/tdi_gen_op.c), the quantisation variance of
 * the mean of n conversions whose Gaussian dither is correlated between them. Oracles: closed
 * forms at the ends (no dither; independent dither = tdi_gen_quant_var; fully correlated dither
 * = one conversion) and a Monte Carlo of the quantiser itself (a level uniform over a step,
 * AR(1) dither, round to the step), whose standard error sets the tolerance. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tdi_gen.h"
#include "tdi_test.h"

/* xorshift64* uniforms in (0, 1) and Box-Muller normals: the test's own stream */
static uint64_t g_state = 0x9e3779b97f4a7c15ULL;

static double unif(void)
{
    g_state ^= g_state >> 12;
    g_state ^= g_state << 25;
    g_state ^= g_state >> 27;
    return ((double)((g_state * 0x2545f4914f6cdd1dULL) >> 11) + 0.5) / 9007199254740992.0;
}

static double gauss(void)
{
    return sqrt(-2.0 * log(unif())) * cos(2.0 * M_PI * unif());
}

/* Monte Carlo of E[(mean_i q round((x + d_i) / q) - x - mean_i d_i)^2]: the quantisation part of
 * the error (the dither's own mean is the thermal term, predicted apart); x uniform over a step,
 * d AR(1) with std sigma and lag-one correlation r. Returns the mean, *se its standard error. */
static double mc_quant(double q, double sigma, double r, long n, long trials, double *se)
{
    double s1 = 0.0, s2 = 0.0, c = sqrt(1.0 - r * r);
    for (long t = 0; t < trials; t++) {
        double x = q * unif(), d = sigma * gauss(), e = 0.0;
        for (long i = 0; i < n; i++) {
            if (i > 0)
                d = r * d + c * sigma * gauss();
            e += q * round((x + d) / q) - x - d;
        }
        e /= (double)n;
        s1 += e * e;
        s2 += e * e * e * e;
    }
    double m = s1 / (double)trials;
    *se = sqrt(fmax(s2 / (double)trials - m * m, 0.0) / (double)(trials - 1));
    return m;
}

static void check_mc(double sigma_q, double r, long n)
{
    enum { NMAX = 64, TRIALS = 200000 };
    const double q = 1.0;
    double rho[NMAX], se;
    for (long k = 0; k < n; k++)
        rho[k] = pow(r, (double)k);
    double model = tdi_gen_quant_var_acf(q, sigma_q * q, n, rho);
    double mc = mc_quant(q, sigma_q * q, r, n, TRIALS, &se);
    double ind = tdi_gen_quant_var_acf(q, sigma_q * q, n, NULL);
    char name[200];
    snprintf(name, sizeof name, "sigma = %.2f q, rho = %.2f, n = %ld: model vs Monte Carlo "
             "(4 s.e. = %.2g; independent dither: %.4g)", sigma_q, r, n, 4 * se, ind);
    tdi_check_near(model, mc, 4 * se, name);
    if (r > 0.5) { /* the case must tell the models apart: else the check above cannot fail */
        snprintf(name, sizeof name, "sigma = %.2f q, rho = %.2f, n = %ld: independent dither "
                 "misses by more than 4 s.e.", sigma_q, r, n);
        tdi_check_le(4 * se, fabs(ind - mc), name);
    }
}

int main(void)
{
    const double q = 0.1, q12 = q * q / 12.0;
    double rho1[40], rho0[40];
    for (int k = 0; k < 40; k++) {
        rho1[k] = 1.0;
        rho0[k] = k == 0 ? 1.0 : 0.0;
    }
    /* no dither: every conversion rounds the same way, q^2/12 whatever n and rho */
    tdi_check_rel(tdi_gen_quant_var_acf(q, 0.0, 40, NULL), q12, 1e-14, "no dither: q^2/12");
    /* fully correlated dither: the n conversions are one conversion, q^2/12 */
    tdi_check_rel(tdi_gen_quant_var_acf(q, 0.04, 40, rho1), q12, 1e-14,
                  "dither identical at every conversion: q^2/12");
    /* uncorrelated: tdi_gen_quant_var's model (its series and this one agree to rounding here:
       both sum to 1e-18 relative, b = 4 pi^2 0.16 = 6.3 > 0.25 uses the series) */
    tdi_check_rel(tdi_gen_quant_var_acf(q, 0.04, 40, rho0), tdi_gen_quant_var(q, 0.04, 40), 1e-12,
                  "independent dither (rho = 0) = tdi_gen_quant_var");
    tdi_check_rel(tdi_gen_quant_var_acf(q, 0.04, 40, NULL), tdi_gen_quant_var(q, 0.04, 40), 1e-12,
                  "rho = NULL = tdi_gen_quant_var");
    /* small b (sigma = q/50: b = 0.016, the theta-transform branch) against the series (whose
       terms to k = 1000 plus the 1/k^2 tail agree to ~1e-9 relative here) */
    tdi_check_rel(tdi_gen_quant_var_acf(q, q / 50, 1, NULL), q12, 1e-14, "one conversion: q^2/12");
    tdi_check_rel(tdi_gen_quant_var_acf(q, q / 50, 40, rho0), tdi_gen_quant_var(q, q / 50, 40),
                  1e-8, "small dither, independent: the theta transform = the series");
    /* the quantiser itself: the e2e operating points (sigma ~ q/2, 4-5 conversions, lag-one
       correlation ~0.75), a strongly correlated long window, and an independent one */
    check_mc(0.45, 0.75, 5);
    check_mc(0.30, 0.95, 40);
    check_mc(0.45, 0.0, 5);
    TDI_TEST_END();
}
