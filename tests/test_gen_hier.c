/* test_gen_hier: the designer's forms of the standalone netlist (issue 17; docs/generator.md
 * "For a chip designer"). Oracles: the read-back of the hierarchical (circuit.hier) and
 * parametric (circuit.param) text against gu*M (every realisation, rc and rlc, paper and skip
 * bundles, a two-level bundle), ngspice -b runs of the flat and the other forms against each
 * other, a .param edit against the rescaled matrix, the PWL noise (circuit.noise_src: pwl)
 * against tdi-cosim's spice engine on the same seed, and .measure cards against .control.
 * Scratch files live in build/test-gen-hier/. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_cosim.h"
#include "tdi_gen.h"
#include "tdi_gen_int.h"
#include "tdi_io.h"
#include "tdi_test.h"
#include "tdi_test_gen.h"
#include "tdi_test_job.h"

#define SCR "build/test-gen-hier"

/* ---------- 1. hierarchy and parameters read back to gu*M ---------- */
static void check_form(const char *bdir, const char *what, const char *cfgx)
{
    const char *units[] = {"rc", "rlc"}, *intras[] = {"dense", "lowrank"},
               *skips[] = {"dense", "twobus", "sharedbus"};
    for (int u = 0; u < 2; u++)
        for (int in = 0; in < 2; in++)
            for (int sk = 0; sk < 3; sk++) {
                char cfgt[512], name[200];
                snprintf(cfgt, sizeof cfgt, "name: t\ncircuit:\n  unit: %s\n  intra: %s\n"
                         "  skip: %s\n  theta: 0.1\n%s", units[u], intras[in], skips[sk], cfgx);
                tdi_gen_bundle b;
                tdi_err e;
                tdi_err_clear(&e);
                tdi_gen_circuit *c = tdi_test_gen_build(cfgt, bdir, &b, NULL, &e);
                snprintf(name, sizeof name, "%s %s/%s/%s: builds", what, units[u], intras[in],
                         skips[sk]);
                if (!tdi_check_ok(c == NULL, &e, name))
                    continue;
                char *txt = tdi_test_gen_text(c, TDI_GEN_STANDALONE, NULL);
                snprintf(name, sizeof name, "%s %s/%s/%s: read-back K = gu M to 1e-9 (15 "
                         "significant digits per value)", what, units[u], intras[in], skips[sk]);
                double r = txt ? tdi_test_gen_readback_err(c, txt, 1.0, &e) : INFINITY;
                if (!tdi_check_le(r, 1e-9, name))
                    printf("    %s\n", e.msg);
                free(txt);
                tdi_gen_circuit_free(c);
                tdi_gen_bundle_destroy(&b);
            }
}

static void test_hier_readback(void)
{
    tdi_err e;
    if (tdi_test_job_bundle(SCR "/paper", 5, 2, 4, 3, 0, &e) ||
        tdi_test_job_bundle(SCR "/skip", 5, 2, 4, 4, 1, &e)) {
        TDI_CHECK(0, "synthetic bundles written");
        return;
    }
    check_form(SCR "/paper/substrate", "paper hier", "  hier: true\n");
    check_form(SCR "/skip/substrate", "skip hier", "  hier: true\n");
}

/* circuit.param: every form reads back; an edit of .param gu rescales every element (a value
 * left as a number would break the factor 2); the hierarchical and parametric text together. */
static void test_param(void)
{
    check_form(SCR "/paper/substrate", "paper param", "  param: true\n");
    check_form(SCR "/skip/substrate", "skip param+hier", "  param: true\n  hier: true\n");
    const char *ro = "name: t\ncircuit:\n  theta: 0.1\n  param: true\n  hier: true\n"
                     "  readout_stage: rc\n";
    const char *forms[2] = {"  param: true\n", "  param: true\n  hier: true\n"};
    for (int h = 0; h < 3; h++) {
        char cfgt[512], name[160];
        snprintf(cfgt, sizeof cfgt, "name: t\ncircuit:\n  unit: %s\n  theta: 0.1\n%s",
                 h == 1 ? "rlc" : "rc", forms[h == 2]);
        tdi_gen_bundle b;
        tdi_err e;
        tdi_err_clear(&e);
        tdi_gen_circuit *c = tdi_test_gen_build(h == 0 ? ro : cfgt, SCR "/paper/substrate", &b,
                                                NULL, &e);
        if (!tdi_check_ok(c == NULL, &e, "parametric circuit builds"))
            continue;
        char *txt = tdi_test_gen_text(c, TDI_GEN_STANDALONE, NULL);
        char *at = txt ? strstr(txt, " gu=") : NULL;
        char gu[64];
        snprintf(gu, sizeof gu, " gu=%.15g ", c->phys.gu);
        if (TDI_CHECK(at && strncmp(at, gu, strlen(gu)) == 0, "the .param line carries gu")) {
            char *edit = malloc(strlen(txt) + 32);
            size_t pre = (size_t)(at - txt);
            memcpy(edit, txt, pre);
            sprintf(edit + pre, " gu=%.15g %s", 2 * c->phys.gu, at + strlen(gu));
            snprintf(name, sizeof name, "%s: gu doubled on the .param line -> read-back K = 2 gu "
                     "M to 1e-9 (every element follows)", h == 0 ? "rc hier with read-out stage"
                     : h == 1 ? "rlc" : "rc hier");
            tdi_check_le(tdi_test_gen_readback_err(c, edit, 2.0, &e), 1e-9, name);
            free(edit);
        }
        free(txt);
        tdi_gen_circuit_free(c);
        tdi_gen_bundle_destroy(&b);
    }
}

/* A two-level substrate (e1 e2 d1 d2, two couplings): the map names the levels, the text reads
 * back, and each coupling is its own subcircuit. */
static void test_hier_levels(void)
{
    tdi_gen_synth_spec sp = {.preset = "t", .n_mod = 4, .D = {3, 4, 3, 4},
                             .names = {"e1", "e2", "d1", "d2"}, .out = 2, .n_out = 2, .n_cpl = 2,
                             .from = {0, 1}, .to = {2, 3}, .rank = {2, 2}, .n = 2, .seed = 7};
    tdi_err e;
    tdi_err_clear(&e);
    int rc = tdi_gen_synth_write(SCR "/levels/substrate", &sp, &e);
    if (!tdi_check_ok(rc, &e, "two-level bundle written"))
        return;
    tdi_gen_bundle b;
    tdi_gen_circuit *c = tdi_test_gen_build("name: t\ncircuit:\n  theta: 0.1\n  hier: true\n",
                                            SCR "/levels/substrate", &b, NULL, &e);
    if (!tdi_check_ok(c == NULL, &e, "two-level hierarchical circuit builds"))
        return;
    char *txt = tdi_test_gen_text(c, TDI_GEN_STANDALONE, NULL);
    if (TDI_CHECK(txt != NULL, "two-level standalone text")) {
        TDI_CHECK(strstr(txt, "mod_e2 = module e2: units e2u0..e2u3, U-Net level 2 encoder"),
                  "the map names module e2 as level 2's encoder");
        TDI_CHECK(strstr(txt, "mod_d1 = module d1: units d1u0..d1u2, U-Net level 1 decoder"),
                  "the map names module d1 as level 1's decoder");
        TDI_CHECK(strstr(txt, ".subckt cpl_skip_e2_d2") != NULL,
                  "coupling e2-d2 is its own subckt");
        tdi_check_le(tdi_test_gen_readback_err(c, txt, 1.0, &e), 1e-9,
                     "two levels: hierarchical read-back K = gu M to 1e-9");
    }
    free(txt);
    tdi_gen_circuit_free(c);
    tdi_gen_bundle_destroy(&b);
}

/* ---------- 2. ngspice: the forms print the same averages ---------- */

/* Runs text in ngspice -b as SCR/<tag>.cir; the log text (caller frees) or NULL. */
static char *ngspice_log(const char *text, const char *tag)
{
    char cir[256], log[256], cmd[700];
    snprintf(cir, sizeof cir, SCR "/%s.cir", tag);
    snprintf(log, sizeof log, SCR "/%s.log", tag);
    tdi_err e;
    if (tdi_atomic_write_text(cir, text, &e))
        return NULL;
    snprintf(cmd, sizeof cmd, "ngspice -b %s > %s 2>&1", cir, log);
    if (system(cmd) != 0)
        return NULL;
    char *s = NULL;
    size_t n = 0;
    if (tdi_file_read_max(log, TDI_READ_MAX_LOG, &s, &n, &e))
        return NULL;
    return s;
}

/* The value printed as "<key> = <v>" at a line start in log; NAN when absent. */
static double log_value(const char *log, const char *key)
{
    size_t kl = strlen(key);
    for (const char *p = log; (p = strstr(p, key)) != NULL; p += kl) {
        const char *q = p + kl;
        double v;
        if ((p == log || p[-1] == '\n') && (*q == ' ' || *q == '=') &&
            sscanf(q, " = %lf", &v) == 1)
            return v;
    }
    return NAN;
}

/* max |a - b| over the averages avg_<y>_s<n> of c's read-out nodes, relative to max |a|; the
 * count found in both logs into *found. */
static double avg_diff(const tdi_gen_circuit *c, const char *la, const char *lb, size_t *found,
                       const char *what)
{
    double d = 0, mx = 0;
    *found = 0;
    size_t o = c->mod[c->out].off;
    for (size_t si = 0; si < c->n_samples; si++)
        for (size_t i = o; i < o + c->D; i++) {
            char key[80];
            snprintf(key, sizeof key, "%s_%s_s%zu", what, c->nodes[i].name, si);
            double a = log_value(la, key), b = log_value(lb, key);
            if (isnan(a) || isnan(b))
                continue;
            (*found)++;
            d = fmax(d, fabs(a - b));
            mx = fmax(mx, fabs(a));
        }
    return mx > 0 ? d / mx : INFINITY;
}

static const char *const small_cfg = "name: t\ncircuit:\n  theta: 0.1\n  intra: lowrank\n"
                                     "  skip: sharedbus\n  samples: [0, 1]\n  avg_relax: 20\n";

/* The flat text of the small example and another form (cfg_extra added); both run in ngspice
 * -b; returns the relative difference of the printed averages (INFINITY on failure). */
static double ngspice_forms(const char *cfg_flat, const char *cfg_other, const char *tag,
                            size_t *found, const char *what)
{
    char tf[64], to[64];
    snprintf(tf, sizeof tf, "%s-flat", tag);
    snprintf(to, sizeof to, "%s-form", tag);
    double r = INFINITY;
    const char *cf[2] = {cfg_flat, cfg_other};
    char *log[2] = {NULL, NULL};
    tdi_gen_circuit *c[2] = {NULL, NULL};
    tdi_gen_bundle b[2];
    for (int k = 0; k < 2; k++) {
        tdi_err e;
        c[k] = tdi_test_gen_build(cf[k], SCR "/paper/substrate", &b[k], NULL, &e);
        char *txt = c[k] ? tdi_test_gen_text(c[k], TDI_GEN_STANDALONE, NULL) : NULL;
        log[k] = txt ? ngspice_log(txt, k ? to : tf) : NULL;
        free(txt);
    }
    *found = 0;
    if (log[0] && log[1])
        r = avg_diff(c[0], log[0], log[1], found, what);
    for (int k = 0; k < 2; k++) {
        free(log[k]);
        if (c[k]) {
            tdi_gen_circuit_free(c[k]);
            tdi_gen_bundle_destroy(&b[k]);
        }
    }
    return r;
}

static void test_hier_ngspice(void)
{
    char flat[512], hier[512];
    snprintf(flat, sizeof flat, "%s  noise: false\n", small_cfg);
    snprintf(hier, sizeof hier, "%s  noise: false\n  hier: true\n", small_cfg);
    size_t n = 0;
    double r = ngspice_forms(flat, hier, "hier", &n, "avg");
    tdi_check_int((long long)n, 10, "ngspice -b prints the 10 averages of both forms (D 5, 2 "
                  "samples)");
    /* noiseless runs of the same equations: what differs is the node order of the LU, i.e.
       rounding, far below the 7 significant digits ngspice prints (5e-7 of the value) */
    tdi_check_le(r, 1e-6, "hierarchical vs flat: the printed averages agree (noise off), max "
                 "|diff| / max |avg|");
    char par[512];
    snprintf(par, sizeof par, "%s  noise: false\n  param: true\n  hier: true\n", small_cfg);
    r = ngspice_forms(flat, par, "param", &n, "avg");
    tdi_check_int((long long)n, 10, "ngspice -b evaluates the parametric text: 10 averages");
    /* the values are the flat ones to 15 digits (gu times m): the same bound as above */
    tdi_check_le(r, 1e-6, "parametric + hierarchical vs flat: the printed averages agree (noise "
                 "off)");
    /* rlc: the second state's ports (p<x>) and Cp, gd as expressions; .measure cards */
    const char *rf = "name: t\ncircuit:\n  unit: rlc\n  theta: 0.1\n  intra: lowrank\n"
                     "  samples: [0]\n  avg_relax: 10\n  noise: false\n";
    char rh[512];
    snprintf(rh, sizeof rh, "%s  hier: true\n  param: true\n  readout_cards: measure\n", rf);
    r = ngspice_forms(rf, rh, "rlc", &n, "avg");
    tdi_check_int((long long)n, 5, "rlc: ngspice -b prints the 5 averages of both forms");
    tdi_check_le(r, 1e-6, "rlc: hierarchical + parametric + .measure vs flat: the printed averages "
                 "agree (noise off)");
}

/* ---------- 3. PWL noise: ngspice -b reproduces tdi-cosim's spice engine ---------- */

/* Time average of column i of v (ticks x n, tick h) over [t0, t1], the piecewise-linear
 * waveform through the ticks (what meas AVG integrates when the points are the ticks). */
static double tick_avg(const double *v, size_t n, size_t i, double h, double t0, double t1)
{
    double acc = 0;
    long k0 = (long)floor(t0 / h), k1 = (long)ceil(t1 / h);
    for (long k = k0; k < k1; k++) {
        double a = fmax(t0, (double)k * h), b = fmin(t1, (double)(k + 1) * h);
        if (b <= a)
            continue;
        double va = v[(size_t)k * n + i], vb = v[(size_t)(k + 1) * n + i];
        double fa = (a - (double)k * h) / h, fb = (b - (double)k * h) / h;
        acc += (b - a) * (va + (vb - va) * 0.5 * (fa + fb));
    }
    return acc / (t1 - t0);
}

/* tdi-cosim's spice engine on c's circuit, noise key `seed`, the bias of sample 0 held: the
 * read-out window averages of the read-out nodes into avg (D); 0 or the error. */
static int cosim_avgs(const tdi_gen_circuit *c, uint64_t seed, double *avg, tdi_err *e)
{
    double h = c->phys.noise_dt;
    long nt = (long)tdi_gen_pwl_ticks(h, c->phys.t_stop) - 1;
    tdi_cosim_circuit *cc = NULL;
    int rc = tdi_cosim_circuit_from_gen(c, h, (double)nt * h, &cc, e);
    if (rc)
        return rc;
    tdi_cosim_noise nz;
    tdi_test_rec r;
    tdi_cosim_stats st;
    tdi_test_rec_init(&r, cc->n, nt, c->bias);
    rc = tdi_cosim_noise_init(&nz, cc, h, seed, 1, e);
    tdi_cosim_digital dg = {h, nt, tdi_test_rec_bias, tdi_test_rec_tick, &r};
    if (!rc)
        rc = tdi_cosim_spice_run(cc, &nz, &dg, &st, e);
    size_t o = c->mod[c->out].off;
    for (size_t i = 0; i < c->D && !rc; i++)
        avg[i] = tick_avg(r.v, cc->n, o + i, h, c->phys.t_settle, c->phys.t_slot);
    tdi_cosim_noise_destroy(&nz);
    free(r.v);
    tdi_cosim_circuit_free(cc);
    return rc;
}

static void test_pwl(void)
{
    /* the generator's copy of the stream against tdi-cosim's, bit for bit */
    double worst = 0;
    for (uint64_t q = 0; q < 20000; q++)
        worst = fmax(worst, fabs(tdi_gen_noise_gauss(0x9e3779b97f4a7c1aULL + q % 3, q % 17,
                                                     q) -
                                 tdi_cosim_noise_gauss(0x9e3779b97f4a7c1aULL + q % 3, q % 17,
                                                       q)));
    tdi_check_near(worst, 0, 0, "tdi_gen_noise_gauss == tdi_cosim_noise_gauss (20,000 draws)");
    const char *cfg = "name: t\ncircuit:\n  theta: 0.1\n  intra: lowrank\n  skip: sharedbus\n"
                      "  avg_relax: 5\n  noise_src: pwl\n";
    tdi_gen_bundle b;
    tdi_err e;
    tdi_err_clear(&e);
    tdi_gen_circuit *c = tdi_test_gen_build(cfg, SCR "/paper/substrate", &b, NULL, &e);
    if (!tdi_check_ok(c == NULL, &e, "pwl circuit builds"))
        return;
    char *txt = tdi_test_gen_text(c, TDI_GEN_STANDALONE, NULL);
    char *log = txt ? ngspice_log(txt, "pwl") : NULL;
    double ref[64], other[64], dz = 0, dz_other = 0;
    int rc = cosim_avgs(c, c->noise_seed, ref, &e);
    if (!rc)
        rc = cosim_avgs(c, c->noise_seed + 1, other, &e);
    if (tdi_check_ok(rc, &e, "tdi-cosim spice engine runs on the same circuit, two keys") &&
        TDI_CHECK(log != NULL, "ngspice -b runs the PWL standalone netlist")) {
        size_t o = c->mod[c->out].off, found = 0;
        for (size_t i = 0; i < c->D; i++) {
            char key[64];
            snprintf(key, sizeof key, "avg_%s_s0", c->nodes[o + i].name);
            double v = log_value(log, key);
            if (isnan(v))
                continue;
            found++;
            dz = fmax(dz, fabs(v - ref[i]) / c->readout_sd[o + i]);
            dz_other = fmax(dz_other, fabs(v - other[i]) / c->readout_sd[o + i]);
        }
        tdi_check_int((long long)found, (long long)c->D, "ngspice printed every average");
        printf("    max |ngspice - cosim| = %.3g predicted read-out std (other key: %.3g)\n", dz,
               dz_other);
        /* same equations, same currents: what differs is the step sequence (ngspice cuts the
           step after every PWL breakpoint, the EXTERNAL run takes one step per tick), i.e.
           trapezoidal truncation error at h = 0.05 of the fastest time constant */
        tdi_check_le(dz, 0.01, "PWL standalone vs tdi-cosim spice, same key: averages within "
                     "0.01 predicted read-out std");
        /* negative control: another key's noise moves the averages by ~sqrt(2) std */
        TDI_CHECK(dz_other > 0.2, "another key differs by more than 0.2 std (the check can fail)");
    }
    free(txt);
    free(log);
    tdi_gen_circuit_free(c);
    tdi_gen_bundle_destroy(&b);
}

/* ---------- 4. .measure cards against the .control block ---------- */
static void test_measure(void)
{
    char ctl[512], meas[1024];
    /* the PWL noise: both runs see the same currents, so the same numbers are expected */
    snprintf(ctl, sizeof ctl, "name: t\ncircuit:\n  theta: 0.1\n  intra: lowrank\n"
             "  samples: [0, 1]\n  avg_relax: 5\n  noise_src: pwl\n");
    const char *forms[2] = {"measure", "both"};
    for (int f = 0; f < 2; f++) {
        snprintf(meas, sizeof meas, "%s  readout_cards: %s\n", ctl, forms[f]);
        char tag[32], name[200];
        snprintf(tag, sizeof tag, "meas-%s", forms[f]);
        const char *what[2] = {"avg", "rms"};
        for (int w = 0; w < 2; w++) {
            size_t n = 0;
            double r = ngspice_forms(ctl, meas, tag, &n, what[w]);
            snprintf(name, sizeof name, "readout_cards: %s: ngspice -b prints the 10 %s values",
                     forms[f], what[w]);
            tdi_check_int((long long)n, 10, name);
            /* one simulation, the same measurement code on the same vectors: equal to print */
            snprintf(name, sizeof name, "readout_cards: %s: %s values equal those of the "
                     ".control block (same PWL noise)", forms[f], what[w]);
            tdi_check_near(r, 0, 0, name);
        }
    }
}

int main(void)
{
    tdi_gen_blas_threads(1);
    if (system("rm -rf " SCR " && mkdir -p " SCR) != 0)
        return 1;
    test_hier_readback();
    test_hier_levels();
    test_param();
    test_hier_ngspice();
    test_pwl();
    test_measure();
    TDI_TEST_END();
}
