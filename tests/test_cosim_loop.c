/* test_cosim_loop: the digital side in the loop. DAC/ADC quantiser on known values; a noiseless
 * RC unit through DAC -> circuit -> ADC lands on the hand-computed code in both engines; the
 * readout variance of a lone noisy unit (kT/C seen through the time average) against the OU
 * formula; batch schedule vs one run per sample; the whole tdi-cosim job on a synthetic bundle
 * (digital interface networks, results.json, samples.csv, sde vs spice) and its error path
 * (inconsistent bundle: error, nothing written). Non-goal: ngspice error paths (test_cosim_engines). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <gsl/gsl_errno.h>

#include "tdi_cosim.h"
#include "tdi_gen.h"
#include "tdi_io.h"
#include "tdi_npy.h"
#include "tdi_sub.h"
#include "tdi_test.h"
#include "tdi_test_job.h"

#define SCR "build/test-cosim-loop"

static double g_kb_t_over_c(double T, double C)
{
    return TDI_COSIM_KB * T / C;
}

static int make_bundle(const char *dir, size_t D, size_t n, double bias_bump)
{
    tdi_err e;
    int rc = tdi_cosim_synth_bundle(dir, D, 2, n, 5, 0, bias_bump, &e);
    if (rc)
        printf("  %s\n", e.msg);
    return rc;
}

int main(void)
{
    gsl_set_error_handler_off();
    tdi_err err = {0};

    /* ---- quantiser: step q = 2 fs / 2^bits, round half away from zero, two's-complement clamp */
    tdi_check_near(tdi_cosim_quantize(0.3, 3, 1.0), 0.25, 0, "DAC 3 bits fs 1: 0.3 -> 0.25");
    tdi_check_near(tdi_cosim_quantize(0.125, 3, 1.0), 0.25, 0, "DAC 3 bits: 0.125 (half) -> 0.25");
    tdi_check_near(tdi_cosim_quantize(-0.124, 3, 1.0), 0.0, 0, "DAC 3 bits: -0.124 -> 0");
    tdi_check_near(tdi_cosim_quantize(0.9, 3, 1.0), 0.75, 0, "DAC 3 bits: 0.9 clamps to code 3");
    tdi_check_near(tdi_cosim_quantize(-1.2, 3, 1.0), -1.0, 0, "DAC 3 bits: -1.2 clamps to -4");
    tdi_check_near(tdi_cosim_quantize(0.1, 12, 1.0), 205.0 / 2048.0, 0,
                   "ADC 12 bits fs 1: 0.1 -> code 205");
    tdi_check_near(tdi_cosim_quantize(0.123456789, 0, 1.0), 0.123456789, 0,
                   "0 bits: ideal converter");

    const double C = 1e-12, g = 1e-6, T = 300, tau = C / g;
    double M1 = 1.0;
    tdi_cosim_circuit *c1 = tdi_cosim_circuit_direct(1, &M1, C, g, T, &err);
    size_t read0 = 0;

    /* ---- noiseless unit through DAC and ADC: bias 0.3 uA, DAC 4 bits fs 1 uA -> 0.25 uA (code
       2 of step 0.125 uA); v* = 0.25 V; ADC 5 bits fs 0.7 V: step 0.04375 V, 0.25 V -> code 6
       -> 0.2625 V. Settled to e^-20 of the step (20 tau): every conversion gives code 6. */
    {
        double bias[3] = {0.3e-6, -0.3e-6, 0.3e-6};
        tdi_cosim_plan pl = {.n_samples = 3, .bias = bias, .n_read = 1, .read = &read0,
                             .tick = tau / 20, .settle_ticks = 400, .avg_ticks = 200, .batch = 1,
                             .dac_bits = 4, .dac_fs = 1e-6, .adc_bits = 5, .adc_fs = 0.7,
                             .adc_stride = 7, .seed = 1, .noise = 0, .n_wave = 1, .wave = &read0,
                             .wave_every = 10, .wave_ticks = 1800};
        for (int k = 0; k < 3; k++) {
            tdi_cosim_out o;
            int rc = tdi_cosim_exp_run((tdi_cosim_kind)k, c1, &pl, &o, &err);
            char nm[128];
            snprintf(nm, sizeof nm, "%s: noiseless DAC/ADC run", tdi_cosim_kind_name(k));
            if (!tdi_check_ok(rc, &err, nm))
                continue;
            double expect = k == 0 ? 0.25 : 0.2625; /* analytic has no ADC */
            snprintf(nm, sizeof nm, "%s: sample 0 estimate (V)", tdi_cosim_kind_name(k));
            tdi_check_near(o.est[0], expect, 1e-12, nm);
            snprintf(nm, sizeof nm, "%s: sample 1 estimate (V), -0.25 V -> code -6",
                     tdi_cosim_kind_name(k));
            tdi_check_near(o.est[1], -expect, 1e-12, nm);
            snprintf(nm, sizeof nm, "%s: DAC output held (A)", tdi_cosim_kind_name(k));
            tdi_check_near(o.bias_q[1], -0.25e-6, 0, nm);
            if (k > 0) {
                /* 200 averaging ticks / stride 7 = 28 conversions per sample, 3 samples */
                snprintf(nm, sizeof nm, "%s: ADC conversions", tdi_cosim_kind_name(k));
                tdi_check_int(o.n_adc, 3 * 28, nm);
                /* sample 2 starts at -0.25 V and ends at +0.25 V: the bias source delivers
                   i v integrated; the equilibrium part alone is 62.5 nW * 600 ticks * 50 ns
                   = 1.875e-12 J, the transient from -0.25 V costs less: (0, 1.875e-12) */
                snprintf(nm, sizeof nm, "%s: E_bias of sample 2 below the equilibrium value",
                         tdi_cosim_kind_name(k));
                TDI_CHECK(o.e_bias[2] > 0 && o.e_bias[2] < 1.875e-12, nm);
                /* sample 1 sees the same waveform mirrored: same energy to 1e-9 relative */
                snprintf(nm, sizeof nm, "%s: E_R symmetric between samples 1 and 2",
                         tdi_cosim_kind_name(k));
                tdi_check_rel(o.e_r[1], o.e_r[2], 1e-6, nm);
                /* waveform: ticks 0, 10, ..., 1800 of unit 0; at tick 600 (end of sample 0)
                   the unit has settled to the held bias: 0.25 V */
                snprintf(nm, sizeof nm, "%s: waveform rows (0..1800 every 10)",
                         tdi_cosim_kind_name(k));
                tdi_check_int((long long)o.wave_rows, 181, nm);
                snprintf(nm, sizeof nm, "%s: waveform at tick 600 (V)", tdi_cosim_kind_name(k));
                if (o.wave_rows > 60) {
                    tdi_check_near(o.wave[60 * 2], 600 * tau / 20, 1e-18, "waveform time column");
                    tdi_check_near(o.wave[60 * 2 + 1], 0.25, 1e-6, nm);
                }
            }
            tdi_cosim_out_destroy(&o);
        }
        /* one run per sample gives the same codes (each sample settles from rest) */
        pl.batch = 0;
        tdi_cosim_out o;
        int rc = tdi_cosim_exp_run(TDI_COSIM_SPICE, c1, &pl, &o, &err);
        tdi_check_int(rc, 0, "spice per-sample schedule runs");
        if (!rc) {
            tdi_check_near(o.est[1], -0.2625, 1e-12, "spice per-sample: sample 1 estimate (V)");
            tdi_check_int(o.st.ticks_hit, 3 * 601, "spice per-sample: 3 runs x 601 ticks hit");
            tdi_cosim_out_destroy(&o);
        }
    }

    /* ---- readout variance of a lone noisy unit at zero bias: the window average of an OU
       process of variance s2 (kT/C, times the interpolation factor measured in
       test_cosim_engines: within 2.5% at tau/20) over W has variance
       2 s2 (tau/W) [1 - (tau/W)(1 - e^-W/tau)]. Settling 5 tau decorrelates samples to e^-5. */
    {
        size_t ns = 1500;
        double *zero = calloc(ns, sizeof(double));
        double h = tau / 20, W = 10 * tau;
        tdi_cosim_plan pl = {.n_samples = ns, .bias = zero, .n_read = 1, .read = &read0,
                             .tick = h, .settle_ticks = 100, .avg_ticks = 200, .batch = 1,
                             .dac_bits = 0, .dac_fs = 1e-6, .adc_bits = 0, .adc_fs = 1.0,
                             .adc_stride = 1, .seed = 21, .noise = 1};
        double s2 = g_kb_t_over_c(T, C), r = tau / W;
        double pv = 2 * s2 * r * (1 - r * (1 - exp(-1 / r)));
        for (int k = 1; k < 3; k++) {
            if (k == 2)
                pl.n_samples = ns = 300; /* spice: fewer samples (time) */
            tdi_cosim_out o;
            int rc = tdi_cosim_exp_run((tdi_cosim_kind)k, c1, &pl, &o, &err);
            char nm[160];
            snprintf(nm, sizeof nm, "%s: noisy readout run", tdi_cosim_kind_name(k));
            tdi_check_int(rc, 0, nm);
            if (rc)
                continue;
            double v = 0;
            for (size_t s = 0; s < ns; s++)
                v += o.est[s] * o.est[s];
            v /= (double)ns;
            /* relative s.e. of a variance from ns independent Gaussians: sqrt(2/ns); 4 s.e.
               plus the 2.5% interpolation bias of s2 */
            double tol = 4 * sqrt(2.0 / (double)ns) + 0.025;
            snprintf(nm, sizeof nm, "%s: readout variance / OU prediction (kT/C through the "
                     "loop, tol %.3f)", tdi_cosim_kind_name(k), tol);
            tdi_check_near(v / pv, 1.0, tol, nm);
            /* the discrete prediction: 200 conversions, one per tick (adc_stride 1) */
            tdi_cosim_sde *sd = tdi_cosim_sde_alloc(c1, h, &err);
            double dv = NAN;
            if (sd)
                tdi_cosim_sde_mean_var(sd, c1, 200, 1, 0, &dv, &err);
            tdi_cosim_sde_free(sd);
            snprintf(nm, sizeof nm, "%s: readout variance / discrete-sampling prediction "
                     "(tol %.3f)", tdi_cosim_kind_name(k), tol);
            tdi_check_near(v / dv, 1.0, tol, nm);
            tdi_cosim_out_destroy(&o);
        }
        free(zero);
    }
    tdi_cosim_circuit_free(c1);

    /* ---- the whole job on a synthetic bundle (D = 6, 8 test samples) */
    {
        tdi_mkdirs(SCR "/ok", &err);
        tdi_mkdirs(SCR "/bad", &err);
        int rc = make_bundle(SCR "/ok/substrate", 6, 8, 0.0);
        tdi_check_int(rc, 0, "synthetic bundle with interface networks written");
        rc = make_bundle(SCR "/bad/substrate", 6, 8, 0.5);
        tdi_check_int(rc, 0, "inconsistent synthetic bundle written");
        const char *yaml = "seed: 3\nname: t\nout: " SCR "/%s\n"
                           "circuit:\n  avg_relax: 20\n  settle_eps: 1.0e-4\n  samples: [0]\n"
                           "cosim:\n  n_samples: 5\n  dac_bits: 12\n  adc_bits: 14\n"
                           "  progress: false\n  waveform_units: [6, 7]\n"
                           "energy:\n  gpu_step: 5.7e-3\n";
        const char *which[2] = {"ok", "bad"};
        for (int q = 0; q < 2; q++) {
            char path[256], txt[1024];
            snprintf(path, sizeof path, SCR "/%s.yaml", which[q]);
            snprintf(txt, sizeof txt, yaml, which[q]);
            tdi_check_int(tdi_atomic_write_text(path, txt, NULL), 0, "config written");
            tdi_cosim_cfg cfg;
            rc = tdi_cosim_cfg_load(path, &cfg, &err);
            tdi_check_int(rc, 0, "config loads");
            char odir[256];
            snprintf(odir, sizeof odir, SCR "/%s/cosim", which[q]);
            if (q == 0) {
                FILE *log = fopen(SCR "/ok.log", "w");
                rc = tdi_cosim_app_run(&cfg, log, &err);
                fclose(log);
                if (!tdi_check_ok(rc, &err, "tdi-cosim job on the synthetic bundle"))
                    continue;
                char *js = NULL, *csv = NULL;
                size_t nj = 0, nc = 0;
                tdi_file_read_all(SCR "/ok/cosim/results.json", &js, &nj, &err);
                tdi_file_read_all(SCR "/ok/cosim/samples.csv", &csv, &nc, &err);
                TDI_CHECK(js && csv, "results.json and samples.csv written");
                if (!js || !csv)
                    continue;
                long lines = 0;
                for (size_t i = 0; i < nc; i++)
                    lines += csv[i] == '\n';
                /* header + 5 samples x 6 rows (analytic, sde, spice, ideal, digital, mean) */
                tdi_check_int(lines, 1 + 5 * 6, "samples.csv rows");
                double ca = tdi_test_json_num(js, "rows.analytic.cos_centered"),
                       ci = tdi_test_json_num(js, "rows.analytic_ideal_dac.cos_centered");
                /* a 12-bit DAC changes b by <= 2^-12 of full scale: metrics move by ~1e-3 */
                tdi_check_near(ca, ci, 1e-2, "analytic (12-bit DAC) vs ideal: centered cosine");
                double cm = tdi_test_json_num(js, "rows.mean.cos_centered");
                tdi_check_near(cm, 0.0, 1e-12, "mean baseline: centered cosine 0");
                double pr = tdi_test_json_num(js, "readout.predicted_rms_V"),
                       ms = tdi_test_json_num(js, "readout.sde_rms_vs_analytic_V"),
                       mp = tdi_test_json_num(js, "readout.spice_rms_vs_analytic_V"),
                       dd = tdi_test_json_num(js, "readout.sde_vs_spice_rms_V");
                /* 30 estimates: rms relative s.e. ~ 1/sqrt(60) = 0.13; 4 s.e. -> [0.48, 1.52] */
                tdi_check_near(ms / pr, 1.0, 0.52, "sde measured / predicted readout rms");
                tdi_check_near(mp / pr, 1.0, 0.52, "spice measured / predicted readout rms");
                /* same noise stream: the engines differ by SPICE's truncation error only */
                tdi_check_le(dd / pr, 0.1, "sde vs spice rms difference / readout rms");
                double et = tdi_test_json_num(js, "energy.E_total_J"),
                       ed = tdi_test_json_num(js, "energy.E_digital_J");
                /* 2,560-style count at D = 6: 8 D + 32 D = 240 MACs x 4.6 pJ */
                tdi_check_rel(ed, 240 * 4.6e-12, 1e-9, "E_digital = interface MACs x E_MAC");
                TDI_CHECK(et > ed, "E_total exceeds E_digital");
                char *wv = NULL;
                size_t nw = 0;
                tdi_file_read_all(SCR "/ok/cosim/waveform.csv", &wv, &nw, &err);
                tdi_check_contains(wv, "t_s,y0_V,y1_V\n", "waveform.csv header names the nodes");
                free(wv);
                free(js);
                free(csv);
            } else {
                rc = tdi_cosim_app_run(&cfg, NULL, &err);
                tdi_check_int(rc, TDI_EFORMAT, "inconsistent bundle: TDI_EFORMAT");
                tdi_check_contains(err.msg, "b_enc", "inconsistent bundle: message");
                struct stat sb;
                TDI_CHECK(stat(odir, &sb) != 0, "inconsistent bundle: no output directory");
            }
        }
    }

    /* ---- reproducibility across processes: bin/tdi-cosim twice on the same config gives the
       same samples.csv byte for byte (it holds no timings) */
    {
        char *a = NULL, *b2 = NULL;
        size_t na = 0, nb2 = 0;
        int r1 = system("bin/tdi-cosim " SCR "/ok.yaml --quiet >/dev/null 2>&1");
        tdi_file_read_all(SCR "/ok/cosim/samples.csv", &a, &na, &err);
        int r2 = system("bin/tdi-cosim " SCR "/ok.yaml --quiet >/dev/null 2>&1");
        tdi_file_read_all(SCR "/ok/cosim/samples.csv", &b2, &nb2, &err);
        tdi_check_int(r1 == 0 && r2 == 0, 1, "bin/tdi-cosim runs twice");
        TDI_CHECK(a && b2 && na == nb2 && memcmp(a, b2, na) == 0,
                  "two processes, same seed: identical samples.csv");
        free(a);
        free(b2);
    }

    /* ---- substrate-skip bundles: b_enc = A x (D^2 MACs) or A R R^T x (2 D k MACs), b_dec = c */
    for (int proj = 0; proj < 2; proj++) {
        const char *root = proj ? SCR "/skp" : SCR "/skf";
        char path[300];
        if (tdi_test_job_bundle(root, 6, 2, 8, 5, proj ? 2 : 1, &err))
            continue;
        size_t D = 6, k = 2;
        tdi_cosim_cfg cfg;
        int rc = tdi_test_job_config(root, "circuit:\n  avg_relax: 5\n  samples: [0]\ncosim:\n"
                                     "  n_samples: 3\n  spice: false\n  progress: false\n", &cfg,
                                     &err);
        if (!rc)
            rc = tdi_cosim_app_run(&cfg, NULL, &err);
        tdi_check_int(rc, 0, proj ? "skip bundle (projected encoder) runs"
                                  : "skip bundle (full encoder) runs");
        if (rc) {
            printf("  %s\n", err.msg);
            continue;
        }
        char *js = NULL;
        size_t nj;
        snprintf(path, sizeof path, "%s/cosim/results.json", root);
        tdi_file_read_all(path, &js, &nj, &err);
        double macs = js ? tdi_test_json_num(js, "converters.interface_macs") : NAN;
        tdi_check_near(macs, proj ? (double)(2 * D * k) : (double)(D * D), 0,
                       proj ? "skip projected: 2 D k MACs" : "skip full: D^2 MACs");
        free(js);
    }

    /* ---- a misspelt cosim key is an error that names the file and the position */
    {
        FILE *f = fopen(SCR "/typo.yaml", "w");
        fputs("seed: 1\nname: t\nout: x\ncosim:\n  n_sample: 3\n", f);
        fclose(f);
        tdi_cosim_cfg cfg;
        int rc = tdi_cosim_cfg_load(SCR "/typo.yaml", &cfg, &err);
        tdi_check_int(rc, TDI_ECONFIG, "misspelt cosim key: TDI_ECONFIG");
        tdi_check_contains(err.msg, "typo.yaml:5", "misspelt cosim key: file:line");
    }
    TDI_TEST_END();
}
