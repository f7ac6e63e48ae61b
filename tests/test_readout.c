/* test_readout: the analog read-out stage (circuit.readout_stage: rc; docs/physics.md "Analog
 * read-out"). Generator: element values, read-back of the non-symmetric G (substrate block ==
 * gu*M, stage block == intended, 1e-9), wire report, config errors, a standalone netlist with
 * the stage in `ngspice -b`. Co-simulator: the variance prediction on a hand circuit (closed
 * form), spice stage output mean and variance against it (4 s.e.), the stage's energy terms on
 * the hand circuit (spice and sde), and the whole job: one ADC conversion per unit per inference.
 * Scratch files live in build/test-readout/. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>

#include "tdi_cosim.h"
#include "tdi_gen.h"
#include "tdi_io.h"
#include "tdi_test.h"
#include "tdi_test_gen.h"

#define SCR "build/test-readout"

static tdi_gen_circuit *build(const char *cfgtext, const char *bdir, tdi_gen_bundle *b,
                              tdi_err *e)
{
    return tdi_test_gen_build(cfgtext, bdir, b, NULL, e);
}

static char *joined(const tdi_gen_circuit *c, tdi_gen_mode mode, tdi_err *e)
{
    tdi_gen_text *t = NULL;
    if (tdi_gen_netlist_text(c, mode, 0, 0, &t, e))
        return NULL;
    char *s = tdi_test_gen_join(t);
    tdi_gen_text_free(t);
    return s;
}

/* the synthetic bundle SCR/<name> (preset name, D, k = 2, rank 2, n samples, seed); 1 if made */
static int synth(const char *name, size_t D, size_t n, unsigned long seed, tdi_err *e)
{
    char dir[256], label[64];
    snprintf(dir, sizeof dir, SCR "/%s", name);
    snprintf(label, sizeof label, "synthetic bundle D = %zu", D);
    tdi_err_clear(e);
    return TDI_CHECK(tdi_gen_bundle_synth(dir, name, D, 2, 2, n, seed, e) == 0, label);
}

/* ---------- generator: values, read-back, wire report ---------- */
static void test_gen_stage(void)
{
    tdi_err e;
    if (!synth("g6", 6, 4, 7, &e))
        return;
    const size_t D = 6;
    const char *skips[2] = {"dense", "sharedbus"};
    for (int s = 0; s < 2; s++) {
        char cfgt[400], nm[160];
        snprintf(cfgt, sizeof cfgt, "name: g6\ncircuit:\n  skip: %s\n  readout_stage: rc\n"
                 "  readout_cap: 2.0e-12\n  readout_tau: 4.0e-6\n  readout_noise_factor: 1.5\n",
                 skips[s]);
        tdi_gen_bundle b;
        tdi_gen_circuit *c = build(cfgt, SCR "/g6", &b, &e);
        snprintf(nm, sizeof nm, "build with the stage (skip %s)", skips[s]);
        if (!TDI_CHECK(c != NULL, nm)) {
            printf("    %s\n", e.msg);
            continue;
        }
        const tdi_gen_phys *p = &c->phys;
        /* g_ro = C_ro / tau_ro, g_n = noise_factor g_ro: exact up to one division */
        tdi_check_rel(p->ro_g, 2.0e-12 / 4.0e-6, 1e-15, "g_ro = C_ro / tau_ro");
        tdi_check_rel(p->ro_gn, 1.5 * p->ro_g, 1e-15, "g_n = noise_factor g_ro");
        TDI_CHECK(p->ro_settle > 4.0e-6 * log(1.0 / 1e-3), "stage settles slower than tau_ro "
                  "ln(1/settle_eps) (the cascade adds the substrate's lag)");
        size_t N = 2 * D, NT = 3 * D;
        double gmax = 0;
        for (size_t i = 0; i < N * N; i++)
            gmax = fmax(gmax, fabs(p->gu * b.M[i]));
        double *Ki = malloc(NT * NT * sizeof *Ki);
        tdi_gen_stage_intended(c, Ki);
        for (int mode = 0; mode < 2; mode++) {
            char *txt = joined(c, (tdi_gen_mode)mode, &e);
            tdi_gen_readback rb;
            int rc = txt ? tdi_gen_readback_parse(txt, "x", "y", &rb, &e) : -1;
            snprintf(nm, sizeof nm, "read-back finds 3D units, D of them stage units (%s, %s)",
                     skips[s], mode ? "cosim" : "standalone");
            if (!TDI_CHECK(rc == 0 && rb.N == NT && rb.n_ro == D, nm)) {
                printf("    %s\n", e.msg);
                free(txt);
                continue;
            }
            double ws = 0, wr = 0;
            for (size_t i = 0; i < NT; i++)
                for (size_t j = 0; j < NT; j++) {
                    double k = rb.K[i * NT + j];
                    if (i < N && j < N)
                        ws = fmax(ws, fabs(k - p->gu * b.M[i * N + j]));
                    else
                        wr = fmax(wr, fabs(k - Ki[i * NT + j]));
                }
            /* 1e-9 relative (the read-back bound); 15 printed digits give ~1e-14 */
            snprintf(nm, sizeof nm, "read-back substrate block == gu*M (%s, %s)", skips[s],
                     mode ? "cosim" : "standalone");
            tdi_check_le(ws / gmax, 1e-9, nm);
            snprintf(nm, sizeof nm, "read-back stage rows/columns == intended (%s, %s)",
                     skips[s], mode ? "cosim" : "standalone");
            tdi_check_le(wr / p->ro_g, 1e-9, nm);
            snprintf(nm, sizeof nm, "G non-symmetric: K[r0][y0] = -gm_ro, K[y0][r0] = 0 (%s)",
                     mode ? "cosim" : "standalone");
            TDI_CHECK(fabs(rb.K[(2 * D) * NT + D] + p->ro_g) <= 1e-9 * p->ro_g &&
                          rb.K[D * NT + 2 * D] == 0.0, nm);
            if (mode == 1)
                TDI_CHECK(strstr(txt, "Inoise_ry0 0 ry0 external") &&
                              strstr(txt, "Ibias_ry0 0 ry0 external"),
                          "cosim netlist: EXTERNAL bias and noise sources on the stage nodes");
            tdi_gen_readback_destroy(&rb);
            free(txt);
        }
        free(Ki);
        double *K = malloc(N * N * sizeof *K);
        tdi_gen_circuit_reduced(c, K, &e);
        tdi_check_le(tdi_test_max_diff(K, p->gu, b.M, N * N) / gmax, 1e-9, "reduced(elements) == gu*M with the stage present");
        free(K);
        const tdi_gen_block_report *r = &c->blk[TDI_GEN_BLK_READOUT];
        tdi_check_int((long long)r->elements, (long long)(2 * D), "stage block: 2 D elements");
        tdi_check_int((long long)r->wire_pairs, (long long)D, "stage block: D wire pairs");
        tdi_gen_circuit_free(c);
        tdi_gen_bundle_destroy(&b);
    }
    /* auto C_ro: the stage's own noise nf kT/C_ro = share * kT/(gu tau_ro) mean_j (M^-2)_jj */
    tdi_gen_bundle b;
    tdi_gen_circuit *c = build("name: g6\ncircuit:\n  readout_stage: rc\n  readout_tau: 4.0e-6\n"
                               "  readout_noise_share: 0.5\n", SCR "/g6", &b, &e);
    if (TDI_CHECK(c != NULL, "build with auto C_ro")) {
        size_t N = 2 * D;
        gsl_matrix *Mi = gsl_matrix_alloc(N, N), *A = gsl_matrix_alloc(N, N);
        gsl_permutation *pm = gsl_permutation_alloc(N);
        memcpy(A->data, b.M, N * N * sizeof(double));
        int sg;
        gsl_linalg_LU_decomp(A, pm, &sg);
        gsl_linalg_LU_invert(A, pm, Mi);
        double s2 = 0;
        for (size_t j = D; j < N; j++)
            for (size_t q = 0; q < N; q++)
                s2 += gsl_matrix_get(Mi, j, q) * gsl_matrix_get(Mi, q, j) / (double)D;
        const tdi_gen_phys *p = &c->phys;
        double own = 2.0 * p->kT / p->ro_C, sub = p->kT / (p->gu * 4.0e-6) * s2;
        /* two routes to (M^-2)_jj (generator's Cholesky rows vs LU inverse): ~1e-12 */
        tdi_check_rel(own / sub, 0.5, 1e-9, "auto C_ro: own noise = share x filtered substrate");
        gsl_matrix_free(Mi);
        gsl_matrix_free(A);
        gsl_permutation_free(pm);
        tdi_gen_circuit_free(c);
        tdi_gen_bundle_destroy(&b);
    }
    /* config errors */
    tdi_gen_config cfg;
    tdi_gen_config_init(&cfg);
    int rc = tdi_gen_config_load_string("bad.yaml", "circuit:\n  unit: rlc\n  readout_stage: rc\n",
                                        &cfg, &e);
    tdi_check_int(rc, TDI_ECONFIG, "readout_stage rc with rlc units: TDI_ECONFIG");
    tdi_check_contains(e.msg, "readout_stage", "... the message names circuit.readout_stage");
    tdi_gen_config_init(&cfg);
    rc = tdi_gen_config_load_string("bad.yaml", "circuit:\n  enc_prefix: ry\n", &cfg, &e);
    tdi_check_int(rc, TDI_ECONFIG, "encoder prefix 'ry' collides with the stage nodes r<y>");
    tdi_gen_config_init(&cfg);
    rc = tdi_gen_config_load_string("bad.yaml", "circuit:\n  readout_stage: lc\n", &cfg, &e);
    tdi_check_int(rc, TDI_ECONFIG, "readout_stage: lc is not a choice");
    tdi_check_contains(e.msg, "bad.yaml:2", "... the message gives file:line");
}

/* ---------- generator: a standalone netlist with the stage runs in ngspice -b ---------- */
static void test_ngspice_stage(void)
{
    tdi_err e;
    if (!synth("g4", 4, 2, 3, &e))
        return;
    const size_t D = 4;
    tdi_gen_bundle b;
    tdi_gen_circuit *c = build("name: g4\ncircuit:\n  theta: 1.0e-4\n  noise: false\n"
                               "  avg_relax: 4\n  readout_stage: rc\n", SCR "/g4", &b, &e);
    if (!TDI_CHECK(c != NULL, "build D = 4 with the stage, noise off")) {
        printf("    %s\n", e.msg);
        return;
    }
    char *txt = joined(c, TDI_GEN_STANDALONE, &e);
    FILE *f = fopen(SCR "/g4.cir", "w");
    if (f) {
        fputs(txt, f);
        fclose(f);
    }
    (void)!system("ngspice -b " SCR "/g4.cir > " SCR "/g4.log 2>&1");
    char *log = tdi_test_slurp(SCR "/g4.log");
    int found = 0;
    double worst = 0, scale = 0;
    for (size_t j = 0; j < D && log; j++) {
        char key[64];
        snprintf(key, sizeof key, "\nro_ry%zu_s0 ", j);
        char *p = strstr(log, key);
        double v;
        if (p && sscanf(strchr(p, '=') + 1, "%lf", &v) == 1) {
            found++;
            double ex = c->expect_mean[D + j]; /* sample 0, decoder unit j: Vs (M^-1 b)_y */
            worst = fmax(worst, fabs(v - ex));
            scale = fmax(scale, fabs(ex));
        }
    }
    tdi_check_int(found, (long long)D, "ngspice -b prints ro_ry<j>_s0 for every decoder unit");
    /* noiseless: the stage has settled to settle_eps (1e-3) of the step; trapezoidal
       integration at 0.05 of the fastest time adds well under 1e-3 of it */
    tdi_check_le(worst / scale, 2e-3, "ngspice stage output == Vs (M^-1 b)_y (relative)");
    free(log);
    free(txt);
    tdi_gen_circuit_free(c);
    tdi_gen_bundle_destroy(&b);
}

/* ---------- co-simulator: a hand circuit of K independent (unit, stage) pairs ---------- */
enum { KP = 4 };
static const double HC = 1e-12, HG = 1e-6, HCR = 2e-12, HGR = 4e-7, HNF = 0.25, HT = 300;

static tdi_cosim_circuit *hand_circuit(tdi_err *e)
{
    size_t n = 2 * KP;
    tdi_cosim_circuit *c = tdi_cosim_circuit_alloc(n, e);
    if (!c)
        return NULL;
    c->temp = HT;
    const char *lines[8 * KP + 2];
    char buf[8 * KP][80];
    size_t nl = 0;
    lines[nl++] = "* hand circuit: unit u<j> (C, g) read by stage r<j> (C_ro, gm = g_ro)";
    for (size_t j = 0; j < KP; j++) {
        char nd[16], sr[16];
        snprintf(nd, sizeof nd, "u%zu", j);
        snprintf(sr, sizeof sr, "i%zu", j);
        tdi_cosim_circuit_set_names(c, j, nd, sr, NULL, e);
        snprintf(nd, sizeof nd, "r%zu", j);
        snprintf(sr, sizeof sr, "ir%zu", j);
        tdi_cosim_circuit_set_names(c, KP + j, nd, sr, NULL, e);
        c->cap[j] = HC;
        c->g_noise[j] = HG;
        c->G[j * n + j] = HG;
        c->cap[KP + j] = HCR;
        c->g_noise[KP + j] = HNF * HGR;
        c->G[(KP + j) * n + KP + j] = HGR;
        c->G[(KP + j) * n + j] = -HGR;
        c->r_unit[j] = HG;       /* the resistors R<j> and Rr<j> below, for E_R */
        c->r_unit[KP + j] = HGR;
        snprintf(buf[nl], 80, "C%zu u%zu 0 %.17g", j, j, HC);
        lines[nl] = buf[nl], nl++;
        snprintf(buf[nl], 80, "R%zu u%zu 0 %.17g", j, j, 1 / HG);
        lines[nl] = buf[nl], nl++;
        snprintf(buf[nl], 80, "I%zu 0 u%zu external", j, j);
        lines[nl] = buf[nl], nl++;
        snprintf(buf[nl], 80, "Cr%zu r%zu 0 %.17g", j, j, HCR);
        lines[nl] = buf[nl], nl++;
        snprintf(buf[nl], 80, "Gr%zu 0 r%zu u%zu 0 %.17g", j, j, j, HGR);
        lines[nl] = buf[nl], nl++;
        snprintf(buf[nl], 80, "Rr%zu r%zu 0 %.17g", j, j, 1 / HGR);
        lines[nl] = buf[nl], nl++;
        snprintf(buf[nl], 80, "Ir%zu 0 r%zu external", j, j);
        lines[nl] = buf[nl], nl++;
    }
    lines[nl] = NULL;
    c->n_vccs = KP;
    c->n_res = 2 * KP;
    c->sum_gm = KP * HGR;
    if (tdi_cosim_circuit_set_lines(c, lines, e)) {
        tdi_cosim_circuit_free(c);
        return NULL;
    }
    return c;
}

static void test_cosim_stage(void)
{
    tdi_err e;
    tdi_err_clear(&e);
    tdi_cosim_circuit *c = hand_circuit(&e);
    if (!TDI_CHECK(c != NULL, "hand circuit with stages"))
        return;
    /* closed form: one mode of rate lam = g/C per pair; beta = g_ro/C_ro */
    double kT = TDI_COSIM_KB * HT, lam = HG / HC, beta = HGR / HCR;
    double vsub = kT / HC * beta / (beta + lam), vown = kT * HNF * HGR / (HGR * HCR);
    double vs[KP], vo[KP];
    int rc = tdi_cosim_stage_var(c, KP, vs, vo, &e);
    tdi_check_int(rc, 0, "stage variance prediction runs");
    /* closed form vs eigen-decomposition of a diagonal matrix: rounding only */
    tdi_check_rel(vs[0], vsub, 1e-12, "substrate through the stage: kT/C beta/(beta+lam)");
    tdi_check_rel(vo[KP - 1], vown, 1e-12, "stage own noise: kT g_n/(g_ro C_ro)");
    double pred = vsub + vown;

    /* analytic: r = (gm/g_ro) v = i/g; energies over L ticks (hand-computed) */
    double h = HC / HG / 20, ib[2 * KP] = {0};
    for (size_t j = 0; j < KP; j++)
        ib[j] = 1e-7 * (double)(j + 1); /* v_j = 0.1 (j+1) V */
    size_t read[KP];
    for (size_t j = 0; j < KP; j++)
        read[j] = KP + j;
    const size_t nsmax = 1000;
    double *bias = malloc(sizeof(double) * nsmax * 2 * KP);
    for (size_t s = 0; s < nsmax; s++)
        memcpy(bias + s * 2 * KP, ib, sizeof ib);
    /* slot 800 ticks = 8 tau_ro: consecutive reads correlate by e^-8 (independent) */
    tdi_cosim_plan pl = {.n_samples = 1, .bias = bias, .n_read = KP, .read = read, .tick = h,
                         .settle_ticks = 799, .avg_ticks = 1, .batch = 1, .dac_bits = 0,
                         .dac_fs = 1, .adc_bits = 0, .adc_fs = 1, .adc_stride = 1, .seed = 9,
                         .noise = 1, .stage_first = KP};
    tdi_cosim_out oa, os;
    pl.n_samples = 1;
    rc = tdi_cosim_exp_run(TDI_COSIM_ANALYTIC, c, &pl, &oa, &e);
    if (TDI_CHECK(rc == 0, "analytic engine on the non-symmetric G (LU)")) {
        double er = 0, ers = 0, T = 800 * h;
        for (size_t j = 0; j < KP; j++) {
            double v = 0.1 * (double)(j + 1);
            er += (HG + HGR) * v * v * T;
            ers += HGR * v * v * T;
        }
        tdi_check_rel(oa.est[KP - 1], 0.1 * KP, 1e-12, "analytic stage output = its unit's v");
        tdi_check_rel(oa.e_r_stage[0], ers, 1e-12, "E_R of the stage: g_ro v_r^2 T (hand)");
        tdi_check_rel(oa.e_r[0], er, 1e-12, "E_R includes the stage: (g + g_ro) v^2 T (hand)");
        tdi_cosim_out_destroy(&oa);
    }
    /* spice 150 samples (time), sde 1000: the same checks */
    for (int k = TDI_COSIM_SDE; k <= TDI_COSIM_SPICE; k++) {
        const char *en = tdi_cosim_kind_name((tdi_cosim_kind)k);
        char nm[200];
        size_t ns = k == TDI_COSIM_SPICE ? 150 : nsmax;
        pl.n_samples = ns;
        rc = tdi_cosim_exp_run((tdi_cosim_kind)k, c, &pl, &os, &e);
        snprintf(nm, sizeof nm, "%s runs the stage (non-symmetric G)", en);
        if (TDI_CHECK(rc == 0, nm)) {
            snprintf(nm, sizeof nm, "%s: one ADC conversion per stage per sample", en);
            tdi_check_int(os.n_adc, (long long)(ns * KP), nm);
            double m = 0, v = 0, nn = (double)(ns * KP), worst_mean = 0;
            for (size_t j = 0; j < KP; j++) {
                double mj = 0;
                for (size_t s = 0; s < ns; s++)
                    mj += os.est[s * KP + j] / (double)ns;
                worst_mean = fmax(worst_mean, fabs(mj - 0.1 * (double)(j + 1)) / sqrt(pred / ns));
                for (size_t s = 0; s < ns; s++) {
                    double d = os.est[s * KP + j] - 0.1 * (double)(j + 1);
                    v += d * d / nn;
                    m += d / nn;
                }
            }
            /* means: each unit's mean of ns reads within 4 s.e. of its equilibrium (the stage has
               settled to e^-8 of the previous, identical sample: no settling bias) */
            snprintf(nm, sizeof nm, "%s stage output means within 4 s.e. (max over units)", en);
            tdi_check_le(worst_mean, 4.0, nm);
            /* variance of 4 ns independent Gaussian reads: relative s.e. sqrt(2/(4 ns)); 4 s.e.
               plus 0.025 for the interpolated noise's high-frequency deficit (test_cosim_loop) */
            double tol = 4 * sqrt(2.0 / nn) + 0.025;
            snprintf(nm, sizeof nm, "%s stage output variance / prediction (tol %.3f)", en, tol);
            tdi_check_near(v / pred, 1.0, tol, nm);
            double e0 = 0;
            for (size_t s = 1; s < ns; s++)
                e0 += os.e_r_stage[s] / (double)(ns - 1);
            double ers = 0, T = 800 * h;
            for (size_t j = 0; j < KP; j++)
                ers += HGR * (0.01 * (double)((j + 1) * (j + 1)) + pred) * T;
            /* from the waveforms: g_ro <v_r^2> T with <v_r^2> = mean^2 + var; the variance part is
               a small term (pred / 0.01 ~ 1e-7): trapezoid rounding only */
            snprintf(nm, sizeof nm, "%s E_R of the stage vs g_ro (v^2 + var) T", en);
            tdi_check_rel(e0, ers, 1e-3, nm);
            tdi_cosim_out_destroy(&os);
        } else {
            printf("    %s\n", e.msg);
        }
    }
    free(bias);
    tdi_cosim_circuit_free(c);
}

/* ---------- the whole job with the stage: one conversion per unit per inference ---------- */
static void test_job(void)
{
    tdi_err e;
    tdi_err_clear(&e);
    const size_t D = 6;
    tdi_mkdirs(SCR "/job", &e);
    if (!TDI_CHECK(tdi_cosim_synth_bundle(SCR "/job/substrate", D, 2, 8, 5, 0, 0.0, &e) == 0,
                   "synthetic paper bundle D = 6"))
        return;
    FILE *f = fopen(SCR "/job.yaml", "w");
    fputs("seed: 3\nname: t\nout: " SCR "/job\ncircuit:\n  theta: 1.0e-2\n  samples: [0]\n"
          "  readout_stage: rc\ncosim:\n  n_samples: 5\n  avg_relax: 4\n  adc_bits: 14\n"
          "  progress: false\n", f);
    fclose(f);
    tdi_cosim_cfg cfg;
    int rc = tdi_cosim_cfg_load(SCR "/job.yaml", &cfg, &e);
    if (!rc)
        rc = tdi_cosim_app_run(&cfg, NULL, &e);
    if (!tdi_check_ok(rc, &e, "tdi-cosim job with the analog read-out stage"))
        return;
    char *js = NULL;
    size_t nj = 0;
    tdi_file_read_all(SCR "/job/cosim/results.json", &js, &nj, &e);
    if (!TDI_CHECK(js != NULL, "results.json written"))
        return;
    TDI_CHECK(tdi_test_json_str_is(js, "readout.kind", "analog_rc"),
              "results.json: read-out kind analog_rc");
    tdi_check_near(tdi_test_json_num(js, "converters.adc_conversions_per_sample"), (double)D,
                   0, "ADC conversions per inference = D");
    tdi_check_near(tdi_test_json_num(js, "readout.conversions_per_unit"), 1, 0,
                   "one conversion per unit");
    double pr = tdi_test_json_num(js, "readout.predicted_rms_V"),
           mp = tdi_test_json_num(js, "readout.spice_rms_vs_analytic_V"),
           ms = tdi_test_json_num(js, "readout.sde_rms_vs_analytic_V");
    /* 30 estimates: rms relative s.e. ~ 1/sqrt(60) = 0.13; 4 s.e. -> [0.48, 1.52] */
    tdi_check_near(mp / pr, 1.0, 0.52, "spice measured / predicted read-out rms (stage)");
    tdi_check_near(ms / pr, 1.0, 0.52, "sde measured / predicted read-out rms (stage)");
    double ers = tdi_test_json_num(js, "readout.E_R_stage_J"),
           er = tdi_test_json_num(js, "energy.E_R_J");
    TDI_CHECK(ers > 0 && ers < er, "E_R of the stage is positive and part of E_R");
    free(js);
}

int main(void)
{
    gsl_set_error_handler_off();
    tdi_err e;
    tdi_mkdirs(SCR, &e);
    test_gen_stage();
    test_ngspice_stage();
    test_cosim_stage();
    test_job();
    TDI_TEST_END();
}
