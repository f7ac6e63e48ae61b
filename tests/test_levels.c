/* test_levels: one substrate for several U-Net skip levels. Two synthetic substrate-skip
 * bundles (level 1: D 4, k 2; level 2: D 6, k 3) are stacked into one (e1 e2 d1 d2, the
 * decoders one read-out block; tdi_bundle_stack), written and read back, generated as one
 * circuit whose netlist reads back to gu*M at 1e-9, and co-simulated as one circuit by the
 * tdi-cosim job (analytic and sde engines): the levels are not coupled, so each level's metrics
 * equal those of the two-module job on that level alone. Scratch files in build/test-levels/. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_bundle.h"
#include "tdi_cosim.h"
#include "tdi_gen.h"
#include "tdi_sub.h"
#include "tdi_test.h"
#include "tdi_test_gen.h"
#include "tdi_test_job.h"

#define SCR "build/test-levels"
#define NS 48 /* test samples per level */

static const char *const names[4] = {"e1", "d1", "e2", "d2"};

/* ideal converters (dac_bits, adc_bits 0): the analytic row is then the equilibrium itself,
   whatever full scale the whole circuit's largest bias sets */
static const char *const job_cfg = "circuit:\n  avg_relax: 5\n  samples: [0]\ncosim:\n"
                                   "  n_samples: 48\n  spice: false\n  progress: false\n"
                                   "  dac_bits: 0\n  adc_bits: 0\n  paper_row: false\n";

/* the two levels' bundles, read with their data, stacked and written to SCR/st/substrate */
static int make_stack(tdi_bundle *st)
{
    tdi_err e;
    tdi_bundle lv[2];
    memset(lv, 0, sizeof lv);
    int rc = tdi_test_job_bundle(SCR "/l1", 4, 2, NS, 5, 1, &e) ||
             tdi_test_job_bundle(SCR "/l2", 6, 3, NS, 6, 1, &e);
    if (!rc)
        rc = tdi_bundle_read(SCR "/l1/substrate", TDI_BUNDLE_WANT_DATA, &lv[0], &e);
    if (!rc)
        rc = tdi_bundle_read(SCR "/l2/substrate", TDI_BUNDLE_WANT_DATA, &lv[1], &e);
    if (!rc)
        rc = tdi_bundle_stack(lv, 2, names, "t", st, &e);
    if (!rc)
        rc = tdi_bundle_write(SCR "/st/substrate", st, &e);
    tdi_check_ok(rc, &e, "two skip levels stacked and written");
    /* negative control: a three-module bundle is not a level */
    tdi_gen_synth_spec three = {.preset = "x", .n_mod = 3, .D = {2, 2, 2}, .out = 2, .n = 2,
                                .seed = 1};
    tdi_bundle b3, bad;
    if (tdi_gen_synth_build(&three, &b3, &e) == 0) {
        int r3 = tdi_bundle_stack(&b3, 1, names, "x", &bad, &e);
        TDI_CHECK(r3 != 0, "stack refuses a three-module level");
        tdi_check_contains(e.msg, "a level is two modules", "stack: message says why");
        tdi_bundle_destroy(&b3);
    }
    tdi_bundle_destroy(&lv[0]);
    tdi_bundle_destroy(&lv[1]);
    return rc;
}

/* the bundle as read: modules, the read-out block, the levels' shape, zero blocks between
   levels, analytic = the read-out block of M^-1 b */
static void check_read(const tdi_bundle *st)
{
    tdi_err e;
    tdi_gen_bundle b;
    if (!tdi_check_ok(tdi_gen_bundle_read(SCR "/st/substrate", &b, &e), &e, "stack reads back"))
        return;
    const tdi_bundle *s = &b.sub;
    tdi_check_int((long long)(s->n_mod * 100 + s->n_out * 10 + s->n_cpl), 422,
                  "4 modules, 2 read out, 2 couplings (100 n_mod + 10 n_out + n_cpl)");
    tdi_check_int((long long)s->D_out, 10, "read-out block: d1 (4) + d2 (6) units");
    tdi_check_int((long long)tdi_gen_bundle_levels(&b), 2, "levels shape: 2 levels");
    tdi_check_int(strcmp(s->mod[1].name, "e2") == 0 && strcmp(s->mod[2].name, "d1") == 0, 1,
                  "z order: e1 e2 d1 d2");
    double cross = 0, mmax = 0;
    size_t N = s->N;
    for (size_t i = 0; i < N; i++)
        for (size_t q = 0; q < N; q++) {
            int li = (i >= 4 && i < 10) || i >= 14, lq = (q >= 4 && q < 10) || q >= 14;
            mmax = fmax(mmax, fabs(s->M[i * N + q]));
            if (li != lq)
                cross = fmax(cross, fabs(s->M[i * N + q]));
        }
    tdi_check_near(cross / mmax, 0, 0, "no coupling between the levels (M blocks exactly 0)");
    tdi_check_near(tdi_test_max_diff(s->analytic, 1.0, st->analytic, NS * 10), 0, 0,
                   "analytic read back bit for bit");
    tdi_gen_bundle_destroy(&b);
}

/* the generated netlist, read back by the modules' prefixes: K = gu M */
static void check_netlist(void)
{
    tdi_err e;
    tdi_gen_config cfg;
    tdi_gen_config_init(&cfg);
    tdi_gen_bundle b;
    tdi_gen_circuit *c = NULL;
    int rc = tdi_gen_config_load_string("levels.yaml", "name: t\ncircuit:\n  avg_relax: 5\n"
                                        "  samples: [0, 1]\n", &cfg, &e);
    if (!rc && !(rc = tdi_gen_bundle_read(SCR "/st/substrate", &b, &e)) &&
        (rc = tdi_gen_circuit_build(&cfg, &b, &c, &e)))
        tdi_gen_bundle_destroy(&b);
    if (!tdi_check_ok(rc, &e, "one circuit from the two-level substrate"))
        return;
    tdi_gen_text *tx = NULL;
    rc = tdi_gen_netlist_text(c, TDI_GEN_COSIM, 0, 0, &tx, &e);
    char *txt = rc ? NULL : tdi_test_gen_join(tx);
    const char *pre[4];
    for (size_t m = 0; m < 4; m++)
        pre[m] = c->mod[m].prefix;
    tdi_gen_readback rb;
    if (!rc)
        rc = tdi_gen_readback_parse_modules(txt, pre, c->n_mod, c->out, &rb, &e);
    if (tdi_check_ok(rc, &e, "netlist read back by the modules' prefixes")) {
        double gmax = 0, dmax = 0;
        for (size_t i = 0; i < c->N * c->N; i++) {
            gmax = fmax(gmax, fabs(c->phys.gu * c->M[i]));
            dmax = fmax(dmax, fabs(rb.K[i] - c->phys.gu * c->M[i]));
        }
        /* 1e-9: element values are printed with 17 significant digits; the Schur reduction of
           the buses loses a few more to cancellation (tests/test_modules.c) */
        tdi_check_le(dmax / gmax, 1e-9, "read-back K = gu M (max |K - gu M| / max |gu M|)");
        tdi_gen_readback_destroy(&rb);
        /* negative control: d1 and d2 swapped (the units then sit at the wrong rows) */
        const char *sw[4] = {pre[0], pre[1], pre[3], pre[2]};
        double dsw = INFINITY;
        if (tdi_gen_readback_parse_modules(txt, sw, 4, c->out, &rb, &e) == 0) {
            dsw = 0;
            for (size_t i = 0; i < c->N * c->N; i++)
                dsw = fmax(dsw, fabs(rb.K[i] - c->phys.gu * c->M[i]));
            tdi_gen_readback_destroy(&rb);
        }
        TDI_CHECK(dsw > 1e-3 * gmax, "negative control: d1, d2 prefixes swapped differ");
    }
    free(txt);
    tdi_gen_text_free(tx);
    tdi_gen_circuit_free(c);
    tdi_gen_bundle_destroy(&b);
}

/* a row's metric of a results.json: in the level block of `level` (NULL: the rows over all) */
static double metric(const char *js, const char *level, const char *row, const char *key)
{
    char a[160];
    if (level)
        snprintf(a, sizeof a, "levels.%d.rows.%s.%s",
                 tdi_test_json_find(js, "levels", "decoder", level), row, key);
    else
        snprintf(a, sizeof a, "rows.%s.%s", row, key);
    return tdi_test_json_num(js, a);
}

/* the job on the stack against the job on each level alone */
static void check_jobs(void)
{
    tdi_err e;
    char *js = tdi_test_job_run(SCR "/st", job_cfg, "tdi-cosim job on the two-level bundle", &e);
    char *one[2] = {tdi_test_job_run(SCR "/l1", job_cfg, "tdi-cosim job on level 1 alone", &e),
                    tdi_test_job_run(SCR "/l2", job_cfg, "tdi-cosim job on level 2 alone", &e)};
    static const char *const rows[] = {"analytic", "analytic_ideal_dac", "digital_Binv_bdec", "mean"};
    static const char *const keys[] = {"cos_paper", "cos_centered", "r2"};
    char name[200];
    for (int l = 0; l < 2 && js; l++)
        for (size_t r = 0; r < 4 && one[l]; r++)
            for (size_t q = 0; q < 3; q++) {
                double a = metric(js, names[2 * l + 1], rows[r], keys[q]);
                double b = metric(one[l], NULL, rows[r], keys[q]);
                snprintf(name, sizeof name, "level %s, row %s: %s equals the two-module job's",
                         names[2 * l + 1], rows[r], keys[q]);
                /* results.json holds the exact doubles (17 digits); the two jobs' sums may
                   differ in order only: float64 rounding, far below 1e-12 */
                if (!tdi_check_near(a, b, 1e-12, name))
                    break;
            }
    /* the sde engine on the one circuit: its read-out error against analytic matches the
       prediction; 480 errors (48 samples x 10 units), so the rms has relative std ~3 % and
       [0.5, 1.5] is > 15 sigma */
    double pred = tdi_test_json_num(js, "readout.predicted_rms_V");
    double sde = tdi_test_json_num(js, "readout.sde_rms_vs_analytic_V");
    TDI_CHECK(sde > 0.5 * pred && sde < 1.5 * pred,
              "two levels, sde read-out error within [0.5, 1.5] of the prediction");
    double c1 = metric(js, "d1", "sde", "cos_centered"),
           c2 = metric(js, "d2", "sde", "cos_centered");
    TDI_CHECK(!isnan(c1) && !isnan(c2), "per-level sde rows present");
    double macs = tdi_test_json_num(js, "converters.interface_macs");
    tdi_check_near(macs, 4 * 4 + 6 * 6, 0, "interface MACs: the levels' D^2 summed");
    free(js);
    free(one[0]);
    free(one[1]);
}

/* tdi-fit's levels keys: one D and one k per level, skip mode only */
static void check_fit_cfg(void)
{
    static const char *const bad[3][2] = {
        {"mode: skip\n  levels_D: [4, 6]\n  levels_k: [2]\n", "one D and one k per level"},
        {"mode: paper\n  levels_D: [4, 6]\n  levels_k: [2, 3]\n", "need substrate.mode: skip"},
        {"mode: skip\n  levels_D: [4, 6]\n  levels_k: [2, 7]\n", "levels_k[1] = 7 exceeds"}};
    char txt[400], name[160];
    for (int i = 0; i < 3; i++) {
        snprintf(txt, sizeof txt, "seed: 1\nname: t\nout: %s\nsubstrate:\n  %s", SCR, bad[i][0]);
        tdi_test_write(SCR "/fit.yaml", txt);
        tdi_sub_cfg c;
        tdi_err e;
        tdi_err_clear(&e);
        snprintf(name, sizeof name, "tdi-fit levels config %d refused: %s", i, bad[i][1]);
        TDI_CHECK(tdi_sub_cfg_load(SCR "/fit.yaml", &c, &e) != 0, name);
        tdi_check_contains(e.msg, bad[i][1], name);
    }
    snprintf(txt, sizeof txt, "seed: 1\nname: t\nout: %s\nsubstrate:\n  mode: skip\n  "
             "levels_D: [4, 6]\n  levels_k: [2, 3]\n", SCR);
    tdi_test_write(SCR "/fit.yaml", txt);
    tdi_sub_cfg c;
    tdi_err e;
    int rc = tdi_sub_cfg_load(SCR "/fit.yaml", &c, &e);
    if (tdi_check_ok(rc, &e, "tdi-fit levels config loads"))
        tdi_check_int((long long)(c.n_levels * 100 + c.levels_D[1] * 10 + c.levels_k[1]), 263,
                      "2 levels, the second D 6, k 3 (100 n + 10 D + k)");
}

int main(void)
{
    tdi_gen_blas_threads(1);
    if (system("rm -rf " SCR " && mkdir -p " SCR) != 0)
        return 1;
    tdi_bundle st;
    if (make_stack(&st) == 0) {
        check_read(&st);
        tdi_bundle_destroy(&st);
        check_netlist();
        check_jobs();
    }
    check_fit_cfg();
    TDI_TEST_END();
}
