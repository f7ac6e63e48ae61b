/* test_op: the operating-point chooser (generator/tdi_gen_op.c) on hand cases (target met with
 * the window at its minimum, swing limit binding, impossible targets: errors naming the keys),
 * the one theta <-> Vs relation (common/tdi_phys.h), the config rules of the new keys, and a
 * whole tdi-cosim job on a synthetic bundle at the chosen point: spice and sde means within the
 * predicted read-out error of analytic, the paper's-kT row present. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "tdi_cosim.h"
#include "tdi_gen.h"
#include "tdi_io.h"
#include "tdi_phys.h"
#include "tdi_test.h"
#include "tdi_test_job.h"

#define SCR "build/test-op"

/* independent conversions: thermal noise g0 / sqrt(n) at theta = 1 */
static double noise_indep(void *ctx, long n)
{
    return *(const double *)ctx / sqrt((double)n);
}

static double g0 = 1.0;

static tdi_gen_op_in base_in(void)
{
    tdi_gen_op_in in = {.target = 0.1, .signal = 0.1, .y_max = 1, .sd1_dec = 1, .z_max = 1,
                        .sd1_max = 1, .T = 300, .Cu = 1e-12, .v_swing = 10, .spacing = 1e-6,
                        .t_settle = 1e-5, .n_min = 4, .n_max = 400, .bits_min = 8,
                        .bits_max = 14, .n_read = 1, .adc_fom = 5e-15, .p_vs2 = 0,
                        .p_static = 0, .noise1 = noise_indep, .ctx = &g0};
    return in;
}

/* the model's noise^2 written out again (tdi_gen.h) for the hand checks */
static double hand_noise2(double theta, long n, long bits)
{
    double fs = 1.1 * (1 + 6 * sqrt(theta)), q = 2 * fs / ldexp(1.0, (int)bits);
    return theta / (double)n + q * q / (12.0 * (double)n);
}

static void test_phys(void)
{
    /* theta = kB T / (Cu Vs^2): 300 K, 1 pF, theta 1 -> Vs = sqrt(4.141947e-9) = 64.36 uV */
    double vs = tdi_phys_vs_of_theta(300, 1e-12, 1.0);
    tdi_check_rel(vs, sqrt(1.380649e-23 * 300 / 1e-12), 1e-15, "Vs of theta 1 (rounding)");
    tdi_check_rel(tdi_phys_theta_of_vs(300, 1e-12, vs), 1.0, 1e-14, "theta of Vs inverts it");
    tdi_check_rel(tdi_phys_theta_of_vs(300, 1e-12, 6.436e-3), 1e-4, 1e-3,
                  "Vs 6.436 mV -> theta 1e-4 (issue 10's numbers; 4 digits given)");
    /* AR(1) mean factor: rho = 0 -> 1/n; n = 2, rho = 0.5 -> (1 + 0.5) / 2 */
    tdi_check_rel(tdi_gen_ar1_mean_factor(10, 0.0), 0.1, 1e-14, "AR(1) factor rho 0 = 1/n");
    tdi_check_rel(tdi_gen_ar1_mean_factor(2, 0.5), 0.75, 1e-14, "AR(1) factor n 2 rho 0.5");
    /* quantisation of a mean: no dither -> q^2/12 whatever n (every conversion rounds the same
       way); dither sigma = q -> q^2/(12 n) (the correlated part e^(-4 pi^2) ~ 7e-18 of q^2) */
    tdi_check_rel(tdi_gen_quant_var(0.1, 0.0, 40), 0.01 / 12, 1e-12, "quant var, no dither");
    tdi_check_rel(tdi_gen_quant_var(0.1, 0.1, 40), 0.01 / 12 / 40, 1e-12,
                  "quant var, dither sigma = q: averaged over n");
    double mid = tdi_gen_quant_var(0.1, 0.02, 40);
    TDI_CHECK(mid > 0.01 / 12 / 40 && mid < 0.01 / 12, "quant var, sigma = q/5: in between");
}

static void test_target_met(void)
{
    tdi_gen_op_in in = base_in();
    tdi_gen_op op;
    tdi_err e = {0};
    int rc = tdi_gen_op_choose(&in, &op, &e);
    if (!tdi_check_ok(rc, &e, "hand case 1 (wide swing): chosen"))
        return;
    /* no Vs cost and a 10 V swing: the cheapest ADC work n 2^bits is the minimum of both */
    tdi_check_int(op.n_conv, 4, "case 1: window at its minimum (4 conversions)");
    tdi_check_int(op.bits, 8, "case 1: ADC at its minimum (8 bits)");
    /* the noise meets the target exactly (bisection in log theta to 1e-12) */
    tdi_check_rel(op.noise, 0.01, 1e-9, "case 1: noise = target x signal");
    tdi_check_rel(sqrt(hand_noise2(op.theta, 4, 8)), 0.01, 1e-9,
                  "case 1: the hand formula gives the same noise at the chosen theta");
    tdi_check_rel(op.Vs, tdi_phys_vs_of_theta(300, 1e-12, op.theta), 1e-15, "case 1: Vs of theta");
    TDI_CHECK((op.binds & TDI_GEN_OP_BIND_TARGET) && (op.binds & TDI_GEN_OP_BIND_WINDOW_MIN) &&
                  !(op.binds & TDI_GEN_OP_BIND_SWING), "case 1: binds target + window minimum");
    tdi_check_le(op.swing, in.v_swing, "case 1: within the swing");
    tdi_check_rel(op.e_adc, 4 * 256 * 5e-15, 1e-12, "case 1: ADC energy n 2^bits fom");
}

static void test_swing_binds(void)
{
    tdi_gen_op_in in = base_in();
    double sd = 6 * sqrt(1.380649e-23 * 300 / 1e-12);
    in.v_swing = sd + 1e-3; /* Vs <= 1 mV/unit (z_max = 1) */
    double th_min = tdi_phys_theta_of_vs(300, 1e-12, 1e-3);
    /* the window must grow until the noise at theta_min meets 0.01: n >= noise2 n / 1e-4 */
    long n_exp = (long)ceil(hand_noise2(th_min, 1, 8) / 1e-4);
    tdi_gen_op op;
    tdi_err e = {0};
    int rc = tdi_gen_op_choose(&in, &op, &e);
    if (!tdi_check_ok(rc, &e, "hand case 2 (swing 1 mV/unit): chosen"))
        return;
    tdi_check_int(op.n_conv, n_exp, "case 2: the shortest window meeting the target at the "
                  "swing limit (hand: 42)");
    tdi_check_int(op.bits, 8, "case 2: 8 bits (more bits cost more than they save here)");
    TDI_CHECK(op.binds & TDI_GEN_OP_BIND_SWING, "case 2: the swing binds");
    tdi_check_le(op.swing, in.v_swing * (1 + 1e-12), "case 2: within the swing");
    tdi_check_le(op.noise, 0.01 * (1 + 1e-9), "case 2: the target is met");
    tdi_check_rel(op.vs_max, 1e-3, 1e-9, "case 2: Vs limit (v_swing - 6 sd) / z_max");
}

static void test_impossible(void)
{
    tdi_err e = {0};
    tdi_gen_op op;
    tdi_gen_op_in in = base_in();
    in.v_swing = 3e-4; /* below 6 thermal std (0.386 mV) */
    int rc = tdi_gen_op_choose(&in, &op, &e);
    tdi_check_int(rc, TDI_ECONFIG, "swing below the thermal std: error");
    TDI_CHECK(strstr(e.msg, "circuit.v_swing") && strstr(e.msg, "too small"),
              "swing too small: the message names circuit.v_swing");
    in = base_in();
    in.v_swing = 6 * sqrt(1.380649e-23 * 300 / 1e-12) + 1e-3;
    in.n_max = 10; /* case 2 needs 42 conversions */
    rc = tdi_gen_op_choose(&in, &op, &e);
    tdi_check_int(rc, TDI_ECONFIG, "window cap too short for the swing: error");
    TDI_CHECK(strstr(e.msg, "not reachable") && strstr(e.msg, "circuit.op_avg_relax_max") &&
                  strstr(e.msg, "circuit.v_swing"), "unreachable: names the binding keys");
    in = base_in();
    in.bits_max = in.bits_min = 4; /* quantisation floor 2.2/16/sqrt(12 * 400) = 0.002 ... */
    in.target = 0.01;              /* ... above the budget 0.001 */
    rc = tdi_gen_op_choose(&in, &op, &e);
    tdi_check_int(rc, TDI_ECONFIG, "ADC too coarse for the target: error");
    TDI_CHECK(strstr(e.msg, "circuit.op_adc_bits_max") != NULL, "... names op_adc_bits_max");
}

static void test_config(void)
{
    tdi_gen_config c;
    tdi_err e = {0};
    tdi_gen_config_init(&c);
    int rc = tdi_gen_config_load_string("t.yaml", "seed: 1\nname: t\nout: o\ncircuit:\n  "
                                        "target_noise_ratio: 0.05\n  theta: 1.0\n", &c, &e);
    tdi_check_int(rc, TDI_ECONFIG, "target and theta both set: error");
    TDI_CHECK(strstr(e.msg, "target_noise_ratio") && strstr(e.msg, "theta"),
              "... naming both keys");
    tdi_gen_config_init(&c);
    rc = tdi_gen_config_load_string("t.yaml", "seed: 1\nname: t\nout: o\ncircuit:\n  "
                                    "target_noise_ratio: 0.05\nenergy:\n  adc_fom: 1.0e-14\n"
                                    "  mac: 1.0e-12\n", &c, &e);
    tdi_check_int(rc, 0, "energy.adc_fom read by the generator, the rest of energy skipped");
    tdi_check_near(c.op_adc_fom, 1e-14, 0, "... adc_fom value");
    tdi_gen_config_init(&c);
    rc = tdi_gen_config_load_string("t.yaml", "seed: 1\nname: t\nout: o\nenergy:\n  "
                                    "adc_fomm: 1\n", &c, &e);
    tdi_check_int(rc, 0, "a misspelt energy key is tdi-cosim's to refuse (skipped here)");
}

/* the whole job at the chosen point on a synthetic paper-mode bundle (D = 6) */
static void test_job(void)
{
    tdi_err err = {0};
    const char *root = SCR "/job";
    char *js = tdi_test_job_paper(root, 6, 2, 16, 5,
                                  "circuit:\n  target_noise_ratio: 0.05\n  v_swing: 0.3\n"
                                  "  samples: [0]\ncosim:\n  n_samples: 16\n  spice_samples: 8\n"
                                  "  progress: false\n",
                                  "job at the chosen operating point runs (analytic, sde, spice)",
                                  &err);
    if (!js)
        return;
    /* the rms over n = 8 x 6 (spice) or 16 x 6 (sde) Gaussian errors of predicted std: its
       ratio to the prediction has std ~ 1 / sqrt(2 n) <= 0.1; [0.5, 1.5] is > 5 of those */
    tdi_test_readout ro = tdi_test_job_readout(js, "job at the chosen point");
    double theta = tdi_test_json_num(js, "operating_point.theta");
    double opn = tdi_test_json_num(js, "operating_point.predicted_noise_units");
    double cpn = tdi_test_json_num(js, "readout.predicted_rms_units");
    printf("  predicted %.4g V, sde %.4g V, spice %.4g V, theta %.4g; noise units: chooser %.4g, "
           "cosim %.4g\n", ro.pred, ro.sde, ro.spice, theta, opn, cpn);
    TDI_CHECK(theta > 0 && theta < 1, "operating point chosen (theta < 1)");
    /* the chooser and tdi-cosim evaluate the same thermal formula; the ADC full scale differs
       only by the samples it is taken over (all 16 here in both): rounding of the window */
    tdi_check_rel(cpn, opn, 0.02, "cosim's prediction = the chooser's (same model)");
    TDI_CHECK(tdi_test_json_has(js, "paper_kT1"), "the paper's kT = 1 row is in results.json");
    double pth = tdi_test_json_num(js, "paper_kT1.theta");
    tdi_check_near(pth, 1.0, 1e-12, "... at theta = 1");
    free(js);
}

int main(void)
{
    gsl_set_error_handler_off();
    test_phys();
    test_target_met();
    test_swing_binds();
    test_impossible();
    test_config();
    test_job();
    TDI_TEST_END();
}
