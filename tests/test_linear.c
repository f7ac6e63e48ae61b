/* test_linear: the linearised realised-matrix route (cosim/tdi_cosim_linear.c: one op, each
 * OTA's small-signal model) against the perturbative extraction (1 + N ops) on the shipped
 * card: D = 4 dense / sharedbus (bus nodes driven by OTAs) / with mismatch, D = 16 sharedbus;
 * the rest currents of both routes; ideal elements; the method names and the auto threshold.
 * Scratch files in build/test-linear/. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_bundle.h"
#include "tdi_cosim.h"
#include "tdi_gen.h"
#include "tdi_test.h"
#include "tdi_test_gen.h"
#include "tdi_test_mat.h"

#define SCR "build/test-linear"

/* |A - B|_F / |B|_F */
static double rel_fro(const double *A, const double *B, size_t n)
{
    double d = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        d += (A[i] - B[i]) * (A[i] - B[i]);
        m += B[i] * B[i];
    }
    return m > 0 ? sqrt(d / m) : sqrt(d);
}

/* Both routes on c; the linear one within tol (max entry, of max |G|) of the perturbative one,
 * the rest currents identical (the same deck's same op). */
static void compare_routes(const char *what, const tdi_gen_circuit *c, int central, double tol)
{
    size_t N = c->N;
    double *Gp = malloc(N * N * sizeof *Gp), *Gl = malloc(N * N * sizeof *Gl);
    double *ip = malloc(N * sizeof *ip), *il = malloc(N * sizeof *il);
    tdi_err e = {0};
    char nm[300];
    tdi_cosim_extract_opt o;
    tdi_cosim_extract_defaults(c, &o);
    o.central = central;
    tdi_cosim_extract_stats sp, sl;
    int rc = tdi_cosim_extract_g_ex(c, &o, Gp, ip, &sp, &e);
    snprintf(nm, sizeof nm, "%s: perturbative extraction", what);
    if (!tdi_check_ok(rc, &e, nm))
        goto done;
    rc = tdi_cosim_linear_g(c, Gl, il, &sl, &e);
    snprintf(nm, sizeof nm, "%s: linearised route", what);
    if (!tdi_check_ok(rc, &e, nm))
        goto done;
    snprintf(nm, sizeof nm, "%s: one op", what);
    tdi_check_int((long long)sl.n_op, c->phys.mos ? 1 : 0, nm);
    double dm = tdi_test_rel_diff(Gl, Gp, N * N), df = rel_fro(Gl, Gp, N * N);
    snprintf(nm, sizeof nm, "%s: linear vs perturb, max |dG| / max |G|", what);
    tdi_check_le(dm, tol, nm);
    snprintf(nm, sizeof nm, "%s: linear vs perturb, |dG|_F / |G|_F", what);
    tdi_check_le(df, tol, nm);
    double imax = 0, idif = 0;
    for (size_t i = 0; i < N; i++) {
        imax = fmax(imax, fabs(ip[i]));
        idif = fmax(idif, fabs(il[i] - ip[i]));
    }
    /* the same hold deck and the same op: ngspice is deterministic */
    snprintf(nm, sizeof nm, "%s: rest currents of both routes (max |di|, A)", what);
    tdi_check_le(idif, 1e-6 * imax, nm);
    printf("  %s: N = %zu, %zu devices: max |dG|/max|G| %.3e, Frobenius %.3e; max |i_rest| "
           "%.3e A; perturb %zu ops %.2f s CPU, linear %.2f s CPU\n", what, N, c->n_dev, dm, df,
           imax, sp.n_op, sp.cpu_s, sl.cpu_s);
done:
    free(Gp);
    free(Gl);
    free(ip);
    free(il);
}

static void run_case(const char *what, const char *bdir, size_t D, size_t k, const char *cfg,
                     int central, double tol)
{
    tdi_err e = {0};
    char nm[200], ct[400];
    int rc = tdi_gen_bundle_synth(bdir, "lin", D, k, 1, 2, 11, &e);
    snprintf(nm, sizeof nm, "%s: synthetic bundle D = %zu, k = %zu", what, D, k);
    if (!tdi_check_ok(rc, &e, nm))
        return;
    snprintf(ct, sizeof ct, "name: lin\ncircuit:\n%s", cfg);
    tdi_gen_bundle b;
    tdi_gen_circuit *c = tdi_test_gen_build(ct, bdir, &b, NULL, &e);
    rc = c ? 0 : -1;
    snprintf(nm, sizeof nm, "%s: builds", what);
    if (!tdi_check_ok(rc, &e, nm))
        return;
    compare_routes(what, c, central, tol);
    tdi_gen_circuit_free(c);
    tdi_gen_bundle_destroy(&b);
}

static void test_methods(void)
{
    tdi_err e = {0};
    int m = 0;
    TDI_CHECK(tdi_cosim_realised_method_parse("linear", &m, &e) == 0 &&
                  m == TDI_COSIM_REALISED_LINEAR, "method 'linear' parses");
    TDI_CHECK(tdi_cosim_realised_method_parse("perturb", &m, &e) == 0 &&
                  m == TDI_COSIM_REALISED_PERTURB, "method 'perturb' parses");
    TDI_CHECK(tdi_cosim_realised_method_parse("auto", &m, &e) == 0 &&
                  m == TDI_COSIM_REALISED_AUTO, "method 'auto' parses");
    TDI_CHECK(tdi_cosim_realised_method_parse("ac", &m, &e) == TDI_EARG, "method 'ac': error");
    tdi_gen_circuit c;
    memset(&c, 0, sizeof c);
    c.n_dev = TDI_COSIM_REALISED_LINEAR_DEV;
    tdi_check_int(tdi_cosim_realised_method_for(&c, TDI_COSIM_REALISED_AUTO),
                  TDI_COSIM_REALISED_PERTURB, "auto at the threshold: perturb");
    c.n_dev++;
    tdi_check_int(tdi_cosim_realised_method_for(&c, TDI_COSIM_REALISED_AUTO),
                  TDI_COSIM_REALISED_LINEAR, "auto above the threshold: linear");
    tdi_check_int(tdi_cosim_realised_method_for(&c, TDI_COSIM_REALISED_PERTURB),
                  TDI_COSIM_REALISED_PERTURB, "perturb asked: perturb");
}

int main(void)
{
    if (system("rm -rf " SCR " && mkdir -p " SCR) != 0)
        return 1;
    test_methods();
    /* ideal elements: the element list's reduced matrix against ngspice's solve, to rounding
       (cards with 15 digits, LU of condition < 1e3: test_extract's 1e-9) */
    run_case("ideal D = 4 sharedbus", SCR "/b4", 4, 2, "  skip: sharedbus\n", 0, 1e-9);
    /* Transistor level. The perturbative route is a one-sided difference over 1 mV: its
       truncation error is the OTAs' curvature (one-sided vs central measured 5.6e-5 of max |G|
       at D = 4, test_extract); the linear model leaves out the junction conductances (gmin,
       1e-12 S, against entries of 1e-7 S). 1e-3 is 20x the first; a missing gmbs (the pair's
       body effect, ~20% of gm) or a wrong mirror term would be off by percents. */
    run_case("mos D = 4 dense", SCR "/b4", 4, 2, "  skip: dense\n  devices: mos\n", 0, 1e-3);
    run_case("mos D = 4 sharedbus", SCR "/b4", 4, 2, "  skip: sharedbus\n  devices: mos\n", 0,
             1e-3);
    /* with mismatch the OTAs rest unbalanced (offset currents 50 nA against 0.7 nA) and curve
       more over 1 mV: the one-sided difference was 2.0e-3 off; the central one (O(delta^2))
       checks the linearisation itself */
    run_case("mos D = 4 dense, mismatch", SCR "/b4", 4, 2,
             "  skip: dense\n  devices: mos\n  mos_mismatch: true\n", 1, 1e-3);
    run_case("mos D = 16 sharedbus", SCR "/b16", 16, 4, "  skip: sharedbus\n  devices: mos\n",
             0, 1e-3);
    TDI_TEST_END();
}
