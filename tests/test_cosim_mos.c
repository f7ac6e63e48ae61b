/* test_cosim_mos: tdi-cosim at transistor level (circuit.devices: mos) on a D = 4 synthetic
 * bundle with the shipped card: the measured supply power against the design's sum of tail
 * currents times Vdd (issue 12: within 5%), the bias generators' the same, the realised-matrix
 * and effective-temperature blocks present and sane, the rest currents' prediction of spice's
 * decoder outputs and of the measured rest offset; the ideal-element job of the same bundle
 * writes neither block. Non-goals: the generator's netlist (test_gen), the extraction
 * (test_extract), the Lyapunov solve (test_lyap). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "tdi_cosim.h"
#include "tdi_test.h"
#include "tdi_test_job.h"

#define ROOT "build/test-cosim-mos"

/* One sample, a short window, spice and analytic only, theta 1e-4 (Vs = 6.4 mV: the signal
   stands above the OTAs' offsets); a 5-relaxation-time noise-only run for T_eff. */
static const char *sec_mos =
    "circuit:\n  unit: rc\n  theta: 1.0e-4\n  devices: mos\n  intra: dense\n  skip: dense\n"
    "cosim:\n  n_samples: 1\n  avg_relax: 2\n  sde: false\n  teff_relax: 5\n"
    "  progress: false\n";
/* spice off, the linearised route (the presets' path at D = 64): the supplies from the rest
   op, T_eff from an sde run of the realised circuit (200 samples over 50 relaxation times). */
static const char *sec_mos_op =
    "circuit:\n  unit: rc\n  theta: 1.0e-4\n  devices: mos\n  intra: dense\n  skip: dense\n"
    "cosim:\n  n_samples: 1\n  avg_relax: 2\n  spice: false\n  realised: linear\n"
    "  teff_relax: 50\n  progress: false\n";
static const char *sec_ideal =
    "circuit:\n  unit: rc\n  theta: 1.0e-4\n  intra: dense\n  skip: dense\n"
    "cosim:\n  n_samples: 1\n  avg_relax: 2\n  sde: false\n  spice: false\n  progress: false\n";

/* The rest currents (issue 12, transistor level): the OTAs' systematic offsets put every unit
 * ~2 mV off V_cm (0.3 Vs at theta 1e-4), which the extracted G alone does not predict; with
 * the rest currents the analytic prediction of spice's decoder outputs is left with the read-out
 * noise and the devices' curvature. */
#define TL "transistor_level."
static void check_offsets(const char *js)
{
    double e_g = tdi_test_json_num(js, TL "compare.analytic_extracted_G.rms_vs_spice_V");
    double e_off = tdi_test_json_num(js, TL "compare.analytic_G_offsets.rms_vs_spice_V");
    double pred = tdi_test_json_num(js, "readout.predicted_rms_V");
    double r_pred = tdi_test_json_num(js, "transistor_level.offsets.rest_pred_rms_V");
    double r_meas = tdi_test_json_num(js, "transistor_level.offsets.rest_meas_rms_V");
    double r_dif = tdi_test_json_num(js, TL "offsets.rest_meas_minus_pred_rms_V");
    printf("  offsets: spice vs analytic (G) %.4g V, vs analytic (G + offsets) %.4g V, predicted "
           "noise %.4g V; rest predicted %.4g V, measured %.4g V, difference %.4g V\n", e_g,
           e_off, pred, r_pred, r_meas, r_dif);
    TDI_CHECK(tdi_test_json_has(js, "transistor_level.compare.spice_ideal"),
              "mos: the comparison lines with the ideal-element netlist's spice run");
    /* measured here: 4.1e-5 V with, 9.9e-4 V without (24x; 36x on configs/example-mos.yaml);
       without, the error is the offset itself, so 0.1 x fails whenever the rest currents are
       missing or of the wrong sign (then the error doubles) */
    tdi_check_le(e_off, 0.1 * e_g, "mos: spice vs analytic with offsets <= 0.1 x without");
    /* what is left: the read-out noise of 4 decoder units of one sample (their rms has a relative
       std ~ 1 / sqrt(8) = 35%) plus the devices' curvature over the ~1 mV offsets (the rest's
       residual below, 8e-5 V): 4 x the predicted noise covers both */
    tdi_check_le(e_off, 4 * pred, "mos: spice vs analytic with offsets <= 4 x predicted noise");
    /* the noise-only run's mean over 20 correlated samples (s.e. ~ 40 uV per unit at T_eff ~ 3)
       against the linear G^-1 i_rest (curvature: 8e-5 V measured): 0.25 of the 1.2 mV offset */
    tdi_check_le(r_dif, 0.25 * r_pred, "mos: measured rest - G^-1 i_rest <= 0.25 x its rms");
    TDI_CHECK(r_meas > 0.5 * r_pred, "mos: the measured rest offset is there (> 0.5 x predicted)");
}

/* The OTA cores draw their tail currents from Vdd (the mirror and pair carry exactly the tail
 * current at DC; gate currents are zero), the bias generators one reference current per OTA
 * equal to its tail current from Vbias: both powers sum(I_tail) Vdd up to the tail devices'
 * mirror error (channel-length modulation at the differing V_DS of the diode and the tail):
 * bound 5% (issue 12's). */
static double supply_power(const char *js, const char *name)
{
    char path[64];
    snprintf(path, sizeof path, "supply_measured.sources.%d.P_W",
             tdi_test_json_find(js, "supply_measured.sources", "name", name));
    return tdi_test_json_num(js, path);
}

static void test_mos_job(void)
{
    tdi_err err = {0};
    char *js = tdi_test_job_paper(ROOT, 4, 2, 2, 5, sec_mos, "mos: tdi-cosim job runs", &err);
    if (!js)
        return;
    double itail = tdi_test_json_num(js, "transistor_level.i_tail_sum_A");
    double vdd = tdi_test_json_num(js, "transistor_level.vdd_V");
    double pdd = supply_power(js, "vdd"), pb = supply_power(js, "vbias");
    tdi_check_rel(pdd, itail * vdd, 0.05, "mos: measured Vdd power vs sum(I_tail) Vdd");
    tdi_check_rel(pb, itail * vdd, 0.05, "mos: measured Vbias power vs sum(I_tail) Vdd");
    double ea = tdi_test_json_num(js, "supply_measured.E_active_behavioural_J");
    TDI_CHECK(ea > 0, "mos: the behavioural E_active beside the measured supplies");
    /* the realised matrix: the OTAs realise gu M to a few percent (the design's tolerance is
       docs/generator.md's; here: present and below 20%, i.e. not a wrong sign or a missing OTA,
       which would be O(1)) */
    double rf = tdi_test_json_num(js, "transistor_level.realised.rel_fro");
    tdi_check_le(rf, 0.2, "mos: realised |G - gu M|_F / |gu M|_F");
    /* T_eff: the Lyapunov solve converged; the measured value from 20 correlated samples is a
       rough estimate (relative s.e. ~ 40%): positive and finite only */
    double res = tdi_test_json_num(js, "transistor_level.teff.lyap_resid");
    double tm = tdi_test_json_num(js, "transistor_level.teff.teff_mean");
    double tl = tdi_test_json_num(js, "transistor_level.teff.teff_lyap_mean");
    tdi_check_le(res, 1e-12, "mos: Lyapunov residual of the realised circuit");
    TDI_CHECK(tm > 0 && isfinite(tm), "mos: measured T_eff positive and finite");
    TDI_CHECK(tl > 0 && isfinite(tl), "mos: Lyapunov T_eff positive and finite");
    /* the measured run carries the transistors' noise: its T_eff follows the Lyapunov prediction
       with the device PSDs (2.79 against 2.58 in configs/example-mos.yaml's longer run); the
       band [0.4, 2.5] is ~3 of this short run's relative standard errors around 1, and a run
       without the device noise (0.79 against 2.58: ratio 0.31) falls outside it */
    tdi_check_le(0.4, tm / tl, "mos: measured T_eff / Lyapunov T_eff >= 0.4 (device noise in)");
    tdi_check_le(tm / tl, 2.5, "mos: measured T_eff / Lyapunov T_eff <= 2.5");
    check_offsets(js);
    free(js);
    js = tdi_test_job_paper(ROOT "-ideal", 4, 2, 2, 5, sec_ideal, "ideal: tdi-cosim job runs",
                            &err);
    TDI_CHECK(js && !tdi_test_json_has(js, "supply_measured") &&
                  !tdi_test_json_has(js, "transistor_level") && tdi_test_json_has(js, "rows"),
              "ideal: no transistor-level blocks in results.json");
    free(js);
}

/* Spice off (issue 12's presets): the rails' power at the linearised route's rest op, against
 * sum(I_tail) Vdd as the spice-measured power above (5%); T_eff from the sde engine on the
 * realised circuit with each unit's device PSD: the Lyapunov prediction's own model sampled, so
 * their ratio is 1 up to the run's statistics (200 samples 1/4 relaxation time apart: ~15%
 * per unit, 2.27 against 2.58 measured here); a run without the device PSDs gives 0.35 of it. */
static void test_mos_op_job(void)
{
    tdi_err err = {0};
    char *js = tdi_test_job_paper(ROOT "-op", 4, 2, 2, 5, sec_mos_op,
                                  "mos, spice off: tdi-cosim job runs", &err);
    if (!js)
        return;
    double itail = tdi_test_json_num(js, "transistor_level.i_tail_sum_A");
    double vdd = tdi_test_json_num(js, "transistor_level.vdd_V");
    double pdd = supply_power(js, "vdd"), pb = supply_power(js, "vbias");
    TDI_CHECK(tdi_test_json_has(js, "transistor_level.realised.op_vdd_W") &&
                  tdi_test_json_str_is(js, "supply_measured.engine", "op") &&
                  tdi_test_json_str_is(js, "transistor_level.teff.engine", "sde"),
              "mos, spice off: supplies from the rest op, T_eff from the sde engine");
    tdi_check_rel(pdd, itail * vdd, 0.05, "mos, spice off: rest-op Vdd power vs sum(I_tail) Vdd");
    tdi_check_rel(pb, itail * vdd, 0.05, "mos, spice off: rest-op Vbias power vs sum(I_tail) Vdd");
    double tm = tdi_test_json_num(js, "transistor_level.teff.teff_mean");
    double tl = tdi_test_json_num(js, "transistor_level.teff.teff_lyap_mean");
    tdi_check_le(0.6, tm / tl, "mos, spice off: sde T_eff / Lyapunov T_eff >= 0.6");
    tdi_check_le(tm / tl, 1.5, "mos, spice off: sde T_eff / Lyapunov T_eff <= 1.5");
    free(js);
}

int main(void)
{
    gsl_set_error_handler_off();
    /* first: its device-noise calibration's .noise must run before any transient of this process
       (ngspice 39.3 after a ".save none" deck: docs/noise.md section 1) */
    test_mos_op_job();
    test_mos_job();
    TDI_TEST_END();
}
