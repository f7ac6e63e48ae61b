/* test_mosnoise_group: device-noise sizing by bias classes (cosim/tdi_cosim_mosnoise.c,
 * tdi_cosim_mos_noise_size_ex): on the D = 4 transistor-level circuit with the shipped card,
 * every device's PSDs from its class's representative against its own calibration, the class
 * count, and the default (grouping only above 20,000 devices). Scratch: build/test-mnoise-group/. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_bundle.h"
#include "tdi_cosim.h"
#include "tdi_gen.h"
#include "tdi_test.h"
#include "tdi_test_gen.h"

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

static void check_grouping(const char *what, const char *cfg)
{
    tdi_err e = {0};
    tdi_gen_bundle b;
    char nm[200];
    tdi_gen_circuit *c = tdi_test_gen_build(cfg, SCR "/b4", &b, NULL, &e);
    snprintf(nm, sizeof nm, "%s: builds", what);
    if (!tdi_check_ok(c ? 0 : -1, &e, nm))
        return;
    size_t n = c->n_dev;
    double *w0 = malloc(n * sizeof *w0), *f0 = malloc(n * sizeof *f0);
    double *w1 = malloc(n * sizeof *w1), *f1 = malloc(n * sizeof *f1);
    tdi_cosim_mos_noise_stats s0, s1;
    int rc = tdi_cosim_mos_noise_size_ex(c, 0, &s0, &e);
    snprintf(nm, sizeof nm, "%s: every device calibrated", what);
    if (!tdi_check_ok(rc, &e, nm))
        goto done;
    for (size_t i = 0; i < n; i++) {
        w0[i] = c->dev[i].psd_w;
        f0[i] = c->dev[i].psd_f1;
    }
    rc = tdi_cosim_mos_noise_size_ex(c, 1, &s1, &e);
    snprintf(nm, sizeof nm, "%s: by bias classes", what);
    if (!tdi_check_ok(rc, &e, nm))
        goto done;
    for (size_t i = 0; i < n; i++) {
        w1[i] = c->dev[i].psd_w;
        f1[i] = c->dev[i].psd_f1;
    }
    snprintf(nm, sizeof nm, "%s: ungrouped, one class per device", what);
    tdi_check_int((long long)s0.n_class, (long long)n, nm);
    /* a class joins devices of one type, W, L and mismatch whose bias differs by less than
       0.1 mV (vgs), 1 mV (vds), 0.5 mV (vbs): in weak inversion S ~ id, d ln id / d vgs
       = 1 / (n U_T) ~ 28 / V and (n - 1) / (n U_T) ~ 11 / V for vbs: at most 0.3% + 0.55% +
       < 0.1% (DIBL) apart; bound 1% */
    double dw = max_rel(w1, w0, n), df = max_rel(f1, f0, n);
    snprintf(nm, sizeof nm, "%s: white PSD grouped vs own (max rel)", what);
    tdi_check_le(dw, 1e-2, nm);
    snprintf(nm, sizeof nm, "%s: flicker PSD grouped vs own (max rel)", what);
    tdi_check_le(df, 1e-2, nm);
    printf("  %s: %zu devices in %zu classes; max rel change white %.3e, flicker %.3e; "
           "calibration wall %.3f s ungrouped, %.3f s grouped\n", what, n, s1.n_class, dw, df,
           s0.cal_wall_s, s1.cal_wall_s);
    TDI_CHECK(s1.n_class <= n, "classes <= devices");
done:
    free(w0);
    free(f0);
    free(w1);
    free(f1);
    tdi_gen_circuit_free(c);
    tdi_gen_bundle_destroy(&b);
}

int main(void)
{
    if (system("rm -rf " SCR " && mkdir -p " SCR) != 0)
        return 1;
    tdi_err e = {0};
    if (!tdi_check_ok(tdi_gen_bundle_synth(SCR "/b4", "g4", 4, 2, 1, 2, 11, &e), &e,
                      "synthetic bundle D = 4, k = 2"))
        TDI_TEST_END();
    check_grouping("D = 4 dense", "name: g4\ncircuit:\n  skip: dense\n  devices: mos\n"
                                  "  mos_flicker: true\n");
    TDI_TEST_END();
}
