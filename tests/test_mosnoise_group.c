/* test_mosnoise_group: device-noise sizing by bias classes (cosim/tdi_cosim_mosnoise.c,
 * tdi_cosim_mos_noise_size_ex): on the D = 4 transistor-level circuit with the shipped card,
 * every device's PSDs from its class's representative (scaled by the drain current) against its
 * own calibration, the class count, and that the representative's PSDs unscaled miss the bound
 * (so the check sees the scaling); PDK subcircuit devices (mos_prefix x, the wrapper library of
 * tdi_test_mos.h) against M devices, and libraries that do not load. Scratch:
 * build/test-mnoise-group/. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_bundle.h"
#include "tdi_cosim.h"
#include "tdi_gen.h"
#include "tdi_test.h"
#include "tdi_test_gen.h"
#include "tdi_test_mos.h"

#define SCR "build/test-mnoise-group"

/* max over devices of |a / b - 1| (b > 0), n devices of stride 1 */
static double max_rel(const double *a, const double *b, size_t n)
{
    double w = 0;
    for (size_t i = 0; i < n; i++)
        if (b[i] > 0)
            w = fmax(w, fabs(a[i] / b[i] - 1));
    return w;
}

/* max over devices of |own PSD of i's representative / own PSD of i - 1|: the grouping's error
   without the drain-current scaling */
static double max_rel_unscaled(const double *own, const size_t *rep, size_t n)
{
    double w = 0;
    for (size_t i = 0; i < n; i++)
        if (own[i] > 0)
            w = fmax(w, fabs(own[rep[i]] / own[i] - 1));
    return w;
}

/* PSDs of every device: ungrouped (w0, f0) and by classes (w1, f1, rep each one's class's
   representative); 0 or the sizing's code */
static int size_both(tdi_gen_circuit *c, double *w0, double *f0, double *w1, double *f1,
                     size_t *rep, tdi_cosim_mos_noise_stats s[2], tdi_err *e)
{
    for (int g = 0; g < 2; g++) {
        s[g] = (tdi_cosim_mos_noise_stats){.rep_of = g ? rep : NULL};
        int rc = tdi_cosim_mos_noise_size_ex(c, g, &s[g], e);
        if (!tdi_check_ok(rc, e, g ? "D = 4: sized by bias classes" : "D = 4: every device "
                          "calibrated"))
            return rc;
        for (size_t i = 0; i < c->n_dev; i++) {
            (g ? w1 : w0)[i] = c->dev[i].psd_w;
            (g ? f1 : f0)[i] = c->dev[i].psd_f1;
        }
    }
    return 0;
}

static void check_grouping(const char *cfg)
{
    tdi_err e = {0};
    tdi_gen_bundle b;
    tdi_gen_circuit *c = tdi_test_gen_build(cfg, SCR "/b4", &b, NULL, &e);
    if (!tdi_check_ok(c ? 0 : -1, &e, "D = 4 dense: builds"))
        return;
    size_t n = c->n_dev;
    double *w0 = malloc(n * sizeof *w0), *f0 = malloc(n * sizeof *f0);
    double *w1 = malloc(n * sizeof *w1), *f1 = malloc(n * sizeof *f1);
    size_t *rep = malloc(n * sizeof *rep);
    tdi_cosim_mos_noise_stats s[2];
    if (size_both(c, w0, f0, w1, f1, rep, s, &e))
        goto done;
    tdi_check_int((long long)s[0].n_class, (long long)n, "ungrouped: one class per device");
    /* W no longer splits a class: at most the 292 classes the W-keyed grouping made of these
       336 devices (observed 287: the OTAs' biases differ by more than the bins, as W sits on
       the W grid and the bias generators follow; docs/noise.md "Bias classes") */
    tdi_check_le((double)s[1].n_class, 292.0, "bias classes at D = 4 (any W) <= W-keyed count");
    /* bound 1%: a class's members differ by < 0.1 mV vgs, 1 mV vds, 0.5 mV vbs, at most 0.3% +
       0.55% + 0.1% in S / id (weak inversion S ~ id; the id ratio takes most of the vgs part);
       the card has no narrow-width terms (k3 = 0, wint = 0), so at equal bias id, the thermal
       (charge-based, ~ W) and the flicker (unified model, ~ id^2 / W and ~ id) PSDs are ~ W */
    double dw = max_rel(w1, w0, n), df = max_rel(f1, f0, n);
    tdi_check_le(dw, 1e-2, "white PSD, scaled representative vs own (max rel)");
    tdi_check_le(df, 1e-2, "flicker PSD, scaled representative vs own (max rel)");
    /* the classes join devices of different W (the OTAs are sized per coupling): unscaled, the
       representative's PSDs miss by far more than the bound */
    double uw = max_rel_unscaled(w0, rep, n);
    tdi_check_le(10 * 1e-2, uw, "10x the bound <= white PSD error without the id scaling");
    printf("  D = 4 dense: %zu devices in %zu classes; max rel error white %.3e, flicker %.3e "
           "(unscaled %.3e); calibration wall %.3f s ungrouped, %.3f s grouped\n", n,
           s[1].n_class, dw, df, uw, s[0].cal_wall_s, s[1].cal_wall_s);
done:
    free(w0);
    free(f0);
    free(w1);
    free(f1);
    free(rep);
    tdi_gen_circuit_free(c);
    tdi_gen_bundle_destroy(&b);
}

/* every device's PSDs of circuit cfg, ungrouped: w, f (n); the circuit's device count or 0 */
static size_t size_all(const char *cfg, double **w, double **f, tdi_err *e)
{
    tdi_gen_bundle b;
    *w = *f = NULL;
    tdi_gen_circuit *c = tdi_test_gen_build(cfg, SCR "/b4", &b, NULL, e);
    if (!c)
        return 0;
    size_t n = c->n_dev;
    *w = malloc(n * sizeof **w);
    *f = malloc(n * sizeof **f);
    int rc = tdi_cosim_mos_noise_size_ex(c, 0, NULL, e);
    for (size_t i = 0; i < n && !rc; i++) {
        (*w)[i] = c->dev[i].psd_w;
        (*f)[i] = c->dev[i].psd_f1;
    }
    tdi_gen_circuit_free(c);
    tdi_gen_bundle_destroy(&b);
    if (rc) { /* nothing to return: the arrays are the caller's only on success */
        free(*w);
        free(*f);
        *w = *f = NULL;
    }
    return rc ? 0 : n;
}

#define CFG_M "name: g4\ncircuit:\n  skip: dense\n  devices: mos\n  mos_flicker: true\n"
#define CFG_X CFG_M "  mos_prefix: x\n  mos_nmos: tdi_nfet\n  mos_pmos: tdi_pfet\n  mos_lib: "

/* mos_prefix x: the subcircuit devices' PSDs against the same circuit's M devices */
static void check_subckt(void)
{
    tdi_err e = {0};
    double *wm = NULL, *fm = NULL, *wx = NULL, *fx = NULL;
    TDI_CHECK(tdi_test_mos_wrapper(SCR "/wrap.lib", "models/tdi-bsim4.lib", TDI_TEST_WRAP_ONE) == 0,
              "wrapper written");
    size_t nm = size_all(CFG_M, &wm, &fm, &e);
    tdi_check_ok(nm ? 0 : -1, &e, "M devices sized");
    size_t nx = size_all(CFG_X SCR "/wrap.lib\n", &wx, &fx, &e);
    tdi_check_ok(nx ? 0 : -1, &e, "x devices (subcircuits) sized");
    if (nm && nx == nm) {
        /* the same equations, the matrix ordered differently: rounding, and the op converged
           to the same Newton iterate (bound 1e-9 relative) */
        tdi_check_le(max_rel(wx, wm, nm), 1e-9, "x vs m devices: white PSD (max rel)");
        tdi_check_le(max_rel(fx, fm, nm), 1e-9, "x vs m devices: flicker PSD (max rel)");
        printf("  x vs m devices: max rel white %.2e, flicker %.2e\n", max_rel(wx, wm, nm),
               max_rel(fx, fm, nm));
    }
    free(wm);
    free(fm);
    free(wx);
    free(fx);
    tdi_err e2 = {0}; /* the failing cases below leave wx, fx NULL */
    size_t nb = size_all(CFG_X SCR "/missing.lib\n", &wx, &fx, &e2);
    tdi_check_int((long long)nb, 0, "a library that does not load: an error");
    tdi_check_contains(e2.msg, "missing.lib", "the error names the file");
    printf("  missing library: %s\n", e2.msg);
    /* a library that exists but does not load in ngspice (its own .include is missing) */
    tdi_err e3 = {0};
    TDI_CHECK(tdi_test_mos_wrapper(SCR "/bad.lib", "models/no-such-card.lib",
                                   TDI_TEST_WRAP_ONE) == 0, "bad wrapper written");
    nb = size_all(CFG_X SCR "/bad.lib\n", &wx, &fx, &e3);
    tdi_check_int((long long)nb, 0, "a library ngspice cannot load: an error");
    tdi_check_contains(e3.msg, "no-such-card.lib", "the error names the file");
    printf("  library that does not load: %s\n", e3.msg);
    free(wx);
    free(fx);
}

int main(void)
{
    if (system("rm -rf " SCR " && mkdir -p " SCR) != 0)
        return 1;
    tdi_err e = {0};
    if (!tdi_check_ok(tdi_gen_bundle_synth(SCR "/b4", "g4", 4, 2, 1, 2, 11, &e), &e,
                      "synthetic bundle D = 4, k = 2"))
        TDI_TEST_END();
    check_grouping(CFG_M);
    check_subckt();
    TDI_TEST_END();
}
