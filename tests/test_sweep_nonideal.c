/* test_sweep_nonideal: tdi-sweep's non-ideality axes and chips axis (issue 15) on synthetic
 * activation bundles: each axis sets its documented config field, the grid order with chips and
 * xgrid: each, the refusals (chips with replicates, converter errors without bits, cap_sigma
 * with the read-out stage, unknown xgrid), the CSV columns, every axis at 0 = the ideal sweep's
 * rows bit for bit, distinct and reproducible chips (chip c the same chip at another grid
 * position), the non-ideality figure, and the calibrate axis (cal_* columns). Runs from the repository root; needs gnuplot. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gsl/gsl_errno.h>

#include "tdi_io.h"
#include "tdi_sweep.h"
#include "tdi_test.h"

static char g_dir[256];

static const char *BASE =
    "seed: 5\nname: tiny\nout: %s/out\nexport:\n  checkpoint: synthetic\n  dir: %s/acts\n"
    "  t: 200\n  n_fit: 400\n  n_test: 40\n  pool: 1\nsubstrate:\n  mode: paper\n  D: 8\n"
    "  k: 2\n  epochs: 3\n  batch: 64\ncircuit:\n  theta: 1.0e-4\n  samples: [0]\n"
    "cosim:\n  n_samples: 4\n  spice: false\n";

/* writes g_dir/name from a format with g_dir twice, loads it as a sweep file */
static int load(const char *name, const char *body, tdi_sweep_cfg *c, tdi_err *err)
{
    char p[512], t[2048];
    if (strstr(body, "  base: "))
        snprintf(t, sizeof t, "sweep:\n  out: %s/%s.out\n%s", g_dir, name, body);
    else
        snprintf(t, sizeof t, "sweep:\n  base: %s/base.yaml\n  out: %s/%s.out\n%s", g_dir,
                 g_dir, name, body);
    snprintf(p, sizeof p, "%s/%s.yaml", g_dir, name);
    tdi_test_write(p, t);
    tdi_err_clear(err);
    return tdi_sweep_cfg_load(p, c, err);
}

/* Each non-ideality axis, given one value, lands in the config field docs/nonideal.md names. */
static void test_fields(void)
{
    static tdi_sweep_cfg c;
    tdi_err err;
    int rc = load("fields",
                  "  gain_sigma: [0.011]\n  self_sigma: [0.012]\n  offset_sigma: [0.0013]\n"
                  "  gout: [0.014]\n  cap_sigma: [0.0015]\n  temperature: [316]\n"
                  "  tempco: [-0.0017]\n  adc_offset: [0.18]\n  adc_gain_err: [0.019]\n"
                  "  adc_inl: [0.21]\n  dac_offset: [0.22]\n  dac_gain_err: [0.023]\n"
                  "  dac_inl: [0.24]\n  chips: 2\n",
                  &c, &err);
    if (!tdi_check_ok(rc, &err, "fields: sweep file loads"))
        return;
    tdi_sweep_job *J = NULL;
    size_t n = 0;
    rc = tdi_sweep_grid(&c, &J, &n, &err);
    tdi_check_int(rc ? -1 : (long long)n, 2, "fields: one point x 2 chips");
    if (rc || n != 2) {
        free(J);
        return;
    }
    tdi_gen_config g = c.gen;
    tdi_cosim_cfg k = c.cosim;
    tdi_sweep_xaxes_apply(&J[1], &g, &k);
    const struct {
        const char *what;
        double got, want;
    } f[] = {{"circuit.nonideal.gain_sigma", g.ni_gain_sigma, 0.011},
             {"circuit.nonideal.self_sigma", g.ni_self_sigma, 0.012},
             {"circuit.nonideal.offset_sigma", g.ni_offset_sigma, 0.0013},
             {"circuit.nonideal.gout", g.ni_gout, 0.014},
             {"circuit.nonideal.cap_sigma", g.ni_cap_sigma, 0.0015},
             {"circuit.nonideal.temperature", g.ni_temp, 316},
             {"circuit.nonideal.tempco", g.ni_tempco, -0.0017},
             {"cosim.adc_offset", k.adc_offset, 0.18},
             {"cosim.adc_gain_err", k.adc_gain_err, 0.019},
             {"cosim.adc_inl", k.adc_inl, 0.21},
             {"cosim.dac_offset", k.dac_offset, 0.22},
             {"cosim.dac_gain_err", k.dac_gain_err, 0.023},
             {"cosim.dac_inl", k.dac_inl, 0.24},
             {"circuit.chip (chips axis, job 1)", (double)g.chip, 1}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        char lab[96];
        snprintf(lab, sizeof lab, "fields: the axis sets %s", f[i].what);
        tdi_check_near(f[i].got, f[i].want, 0, lab);
    }
    /* the base's fields stay as loaded (the job works on copies) */
    tdi_check_near(c.gen.ni_gain_sigma, 0, 0, "fields: the base config is not changed");
    free(J);
}

/* chips and xgrid: each: order, count, seeds */
static void test_grid(void)
{
    static tdi_sweep_cfg c;
    tdi_err err;
    int rc = load("grid",
                  "  seed: 7\n  xgrid: each\n  gain_sigma: [0, 0.01, 0.02]\n"
                  "  offset_sigma: [0, 0.001]\n  readout_stage: none\n  chips: 3\n"
                  "  engine: analytic, sde\n",
                  &c, &err);
    if (!tdi_check_ok(rc, &err, "grid: sweep file loads"))
        return;
    tdi_sweep_job *J = NULL;
    size_t n = 0;
    rc = tdi_sweep_grid(&c, &J, &n, &err);
    /* points: (0, 0), gain 0.01, gain 0.02, offset 0.001 = 1 + 2 + 1; x 2 engines x 3 chips */
    tdi_check_int(rc ? -1 : (long long)n, 4 * 2 * 3, "grid: each = 1 + (3-1) + (2-1) points, "
                  "x 2 engines x 3 chips");
    if (rc || n != 24) {
        free(J);
        return;
    }
    int gx = -1, ox = -1;
    for (size_t x = 0; x < tdi_sweep_n_xaxes; x++) {
        if (strcmp(tdi_sweep_xaxes[x].key, "gain_sigma") == 0)
            gx = (int)x;
        if (strcmp(tdi_sweep_xaxes[x].key, "offset_sigma") == 0)
            ox = (int)x;
    }
    int ok = gx >= 0 && ox >= 0;
    /* last fastest: chip, then engine, then the xaxis point */
    ok = ok && J[0].chip == 0 && J[1].chip == 1 && J[2].chip == 2 && J[3].chip == 0;
    ok = ok && J[0].engine == TDI_COSIM_ANALYTIC && J[3].engine == TDI_COSIM_SDE;
    ok = ok && J[5].xnum[gx] == 0 && J[5].xnum[ox] == 0;
    ok = ok && J[6].xnum[gx] == 0.01 && J[6].xnum[ox] == 0;
    ok = ok && J[12].xnum[gx] == 0.02 && J[12].xnum[ox] == 0;
    ok = ok && J[18].xnum[gx] == 0 && J[18].xnum[ox] == 0.001 && J[23].chip == 2;
    TDI_CHECK(ok, "grid: order point (gain 0, 0.01, 0.02, then offset), engine, chip");
    int seeds = 1;
    for (size_t i = 0; i < n; i++)
        seeds &= J[i].seed == 7;
    TDI_CHECK(seeds, "grid: a chips sweep runs every job at the sweep's seed");
    char in[1024];
    tdi_sweep_row_inputs(&c, &J[7], in, sizeof in);
    tdi_check_contains(in, ",analytic,1,0,7", "grid: the row's inputs end engine, chip, "
                       "replicate, seed");
    free(J);
    /* without xgrid: each, the same lists multiply: 3 x 2 points */
    rc = load("grid2", "  gain_sigma: [0, 0.01, 0.02]\n  offset_sigma: [0, 0.001]\n", &c, &err);
    if (!rc)
        rc = tdi_sweep_grid(&c, &J, &n, &err);
    tdi_check_int(rc ? -1 : (long long)n, 6, "grid: xgrid product (default) = 3 x 2 points");
    if (!rc)
        TDI_CHECK(J[0].chip == 0 && J[0].seed != J[1].seed,
                  "grid: no chips: the base's chip, a seed per job");
    free(J);
}

static void refused(const char *name, const char *body, const char *needle)
{
    static tdi_sweep_cfg c;
    tdi_err err;
    int rc = load(name, body, &c, &err);
    char lab[128];
    snprintf(lab, sizeof lab, "refused %s: rc", name);
    tdi_check_int(rc, TDI_ECONFIG, lab);
    snprintf(lab, sizeof lab, "refused %s: message", name);
    tdi_check_contains(err.msg, needle, lab);
}

static void test_refusals(void)
{
    refused("chips-replicates", "  chips: 2\n  replicates: 2\n", "replicates");
    refused("adc-nobits", "  adc_bits: [0, 8]\n  adc_inl: [1]\n", "adc_bits 0");
    refused("dac-nobits", "  dac_bits: [0]\n  dac_offset: [0, 1]\n", "dac_bits 0");
    refused("cap-stage", "  cap_sigma: [0.01]\n  readout_stage: none, rc\n", "readout_stage");
    refused("rlc", "  unit: rc, rlc\n  gain_sigma: [0.01]\n", "unit: rc");
    refused("xgrid", "  xgrid: diagonal\n", "xgrid");
    refused("range", "  gain_sigma: [0.5]\n", "gain_sigma");
    refused("calib-paper-loop", "  calibrate: none, loop\n", "substrate.mode skip");
    refused("calib-stage", "  calibrate: probe\n  readout_stage: rc\n", "readout_stage: none");
}

/* the rows of a results file without the last column (wall_s), in file order */
static char *rows_of(const char *dir)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s/results.csv", g_dir, dir);
    char *b = tdi_test_slurp(p);
    if (!b)
        return NULL;
    size_t o = 0;
    for (char *l = b; *l;) {
        char *e = strchr(l, '\n');
        size_t len = e ? (size_t)(e - l) : strlen(l);
        char *c = l + len;
        while (c > l && c[-1] != ',')
            c--;
        size_t keep = c > l ? (size_t)(c - l) : len;
        memmove(b + o, l, keep);
        o += keep;
        b[o++] = '\n';
        l = e ? e + 1 : l + len;
    }
    b[o] = '\0';
    return b;
}

static int run(const char *name, const char *body, tdi_err *err)
{
    static tdi_sweep_cfg c;
    int rc = load(name, body, &c, err);
    tdi_sweep_opts o = {0, 0, NULL};
    tdi_sweep_stats st;
    return rc ? rc : tdi_sweep_run(&c, NULL, &o, &st, err);
}

/* the cell of column col in data row r (0-based) of rows */
static double cell_of(const char *rows, size_t r, const char *col)
{
    const char *h = tdi_sweep_csv_header();
    size_t ci = 0;
    const char *p = strstr(h, col);
    for (const char *q = h; p && q <= p; q++) /* the comma before col counts: col's index */
        ci += *q == ',';
    const char *l = strchr(rows, '\n');
    for (size_t i = 0; l && i < r; i++)
        l = strchr(l + 1, '\n');
    if (!l)
        return NAN;
    l++;
    for (size_t i = 0; i < ci && l; i++) {
        l = strchr(l, ',');
        l = l ? l + 1 : NULL;
    }
    return l ? strtod(l, NULL) : NAN;
}

static void test_runs(void)
{
    tdi_err err;
    /* every non-ideality axis at 0 = the sweep without them, bit for bit (same job seeds) */
    const char *eng = "  seed: 3\n  engine: analytic, sde\n";
    char body[1024];
    int rc = run("ideal", eng, &err);
    tdi_check_ok(rc, &err, "zero: the ideal sweep runs");
    snprintf(body, sizeof body, "%s  gain_sigma: [0]\n  self_sigma: [0]\n  offset_sigma: [0]\n"
             "  gout: [0]\n  cap_sigma: [0]\n  temperature: [0]\n  adc_offset: [0]\n"
             "  adc_gain_err: [0]\n  adc_inl: [0]\n  dac_offset: [0]\n  dac_gain_err: [0]\n"
             "  dac_inl: [0]\n", eng);
    rc = run("zero", body, &err);
    tdi_check_ok(rc, &err, "zero: the sweep with every axis at 0 runs");
    char *a = rows_of("ideal.out"), *b = rows_of("zero.out");
    TDI_CHECK(a && b && strcmp(a, b) == 0, "zero: every row equal to the ideal sweep's (all "
              "columns but wall_s)");
    static const char *const cols[] = {"gain_sigma", "self_sigma", "offset_sigma", "gout",
                                       "cap_sigma", "temperature", "tempco", "adc_offset",
                                       "adc_gain_err", "adc_inl", "dac_offset", "dac_gain_err",
                                       "dac_inl", ",calibrate,", ",engine,chip,replicate,seed,",
                                       ",cal_cos_centered,cal_r2,cal_probes,"};
    char head[2048] = "";
    if (a)
        snprintf(head, sizeof head, "%.*s", (int)strcspn(a, "\n"), a);
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
        char lab[96];
        snprintf(lab, sizeof lab, "columns: results.csv has %s", cols[i]);
        tdi_check_contains(head, cols[i], lab);
    }
    free(a);
    free(b);

    /* chips: distinct, reproducible, and chip c the same chip at another grid position */
    rc = run("chips", "  seed: 3\n  gain_sigma: [0.05]\n  chips: 3\n", &err);
    tdi_check_ok(rc, &err, "chips: sweep runs");
    rc = run("chips2", "  seed: 3\n  gain_sigma: [0.05]\n  chips: 3\n", &err);
    tdi_check_ok(rc, &err, "chips: the same sweep again runs");
    rc = run("chips3", "  seed: 3\n  gain_sigma: [0.01, 0.05]\n  chips: 3\n", &err);
    tdi_check_ok(rc, &err, "chips: a sweep with another mismatch first runs");
    a = rows_of("chips.out");
    b = rows_of("chips2.out");
    char *c = rows_of("chips3.out");
    TDI_CHECK(a && b && strcmp(a, b) == 0, "chips: a rerun gives the same rows");
    if (a && c) {
        double r[3], s[3];
        for (size_t i = 0; i < 3; i++) {
            r[i] = cell_of(a, i, ",r2,");
            s[i] = cell_of(c, 3 + i, ",r2,");
        }
        TDI_CHECK(r[0] != r[1] && r[1] != r[2] && r[0] != r[2] && isfinite(r[0]),
                  "chips: three chips give three different R^2");
        TDI_CHECK(r[0] == s[0] && r[1] == s[1] && r[2] == s[2],
                  "chips: chip c at gain 0.05 has the same R^2 at job index c and 3 + c");
        double i0 = cell_of(a, 0, ",ideal_r2,"), i1 = cell_of(a, 1, ",ideal_r2,");
        TDI_CHECK(i0 == i1, "chips: the baselines do not depend on the chip");
    }
    free(b);

    /* the figure: one per non-ideality that varies */
    char csv[512], pd[512];
    snprintf(csv, sizeof csv, "%s/chips3.out/results.csv", g_dir);
    snprintf(pd, sizeof pd, "%s/niplot", g_dir);
    const char *cs[1] = {csv};
    tdi_err_clear(&err);
    rc = tdi_sweep_plot(cs, 1, pd, NULL, &err);
    tdi_check_ok(rc, &err, "plot: a chips sweep plots");
    char fp[600];
    snprintf(fp, sizeof fp, "%s/nonideal_gain_sigma.png", pd);
    char *png = tdi_test_slurp(fp);
    TDI_CHECK(png && memcmp(png, "\x89PNG", 4) == 0, "plot: nonideal_gain_sigma.png is a PNG");
    free(png);
    snprintf(fp, sizeof fp, "%s/data/nonideal_gain_sigma_s0.dat", pd);
    char *dat = tdi_test_slurp(fp);
    /* the mean over the 3 chips at 5 %, as the data file prints it (%.10g) */
    double m = c ? (cell_of(c, 3, ",cos_centered,") + cell_of(c, 4, ",cos_centered,") +
                    cell_of(c, 5, ",cos_centered,")) / 3
                 : NAN;
    char want[64];
    snprintf(want, sizeof want, "\n5 %.10g ", m);
    tdi_check_contains(dat ? dat : "", want, "plot: the 5 % point is the mean over the chips");
    snprintf(fp, sizeof fp, "%s/fidelity_vs_k.png", pd);
    TDI_CHECK(access(fp, F_OK) != 0, "plot: a chips sweep gets no figures against k");
    free(dat);
    free(a);
    free(c);
}

/* calibrate: a word xaxis; the uncalibrated chip stays in cos_*, the calibrated one in cal_*.
 * One sweep of calibrate none, probe at 5 % gain mismatch (body: the sweep file's lines after
 * out), its rows checked under the label what. */
static void check_calibrate(const char *name, const char *body, const char *what)
{
    tdi_err err;
    char lab[160], dir[64];
    int rc = run(name, body, &err);
    snprintf(lab, sizeof lab, "%s: a sweep with calibrate none, probe runs", what);
    if (!tdi_check_ok(rc, &err, lab))
        return;
    snprintf(dir, sizeof dir, "%s.out", name);
    char *a = rows_of(dir);
    if (!a)
        return;
    snprintf(lab, sizeof lab, "%s: the uncalibrated chip's columns equal with none and probe",
             what);
    TDI_CHECK(cell_of(a, 0, ",cos_centered,") == cell_of(a, 1, ",cos_centered,") &&
                  cell_of(a, 0, ",r2,") == cell_of(a, 1, ",r2,"),
              lab);
    snprintf(lab, sizeof lab, "%s: none leaves cal_* nan and 0 probes", what);
    TDI_CHECK(isnan(cell_of(a, 0, ",cal_cos_centered,")) && cell_of(a, 0, ",cal_probes,") == 0,
              lab);
    snprintf(lab, sizeof lab, "%s: probe fills cal_* (512 probes, the default, with their "
             "energy)", what);
    TDI_CHECK(isfinite(cell_of(a, 1, ",cal_cos_centered,")) &&
                  cell_of(a, 1, ",cal_probes,") == 512 && cell_of(a, 1, ",cal_E_probe_J,") > 0,
              lab);
    free(a);
}

static void test_calibrate(void)
{
    char body[512];
    snprintf(body, sizeof body, "  base: %s/base-skip.yaml\n  seed: 3\n  gain_sigma: [0.05]\n"
             "  calibrate: none, probe\n  chips: 1\n", g_dir);
    check_calibrate("calib", body, "calibrate skip");
}

/* the paper mode: its 2,560-weight interface refitted by probe (tdi_cosim_calib_paper) */
static void test_calibrate_paper(void)
{
    check_calibrate("calibp", "  seed: 3\n  gain_sigma: [0.05]\n  calibrate: none, probe\n"
                    "  chips: 1\n", "calibrate paper");
}

int main(void)
{
    gsl_set_error_handler_off();
    snprintf(g_dir, sizeof g_dir, "/tmp/tdi-test-sweepni-%ld", (long)getpid());
    tdi_err err;
    if (tdi_mkdirs(g_dir, &err)) {
        printf("FAIL setup: %s\n", err.msg);
        return 1;
    }
    char acts[512], t[2048], p[512];
    snprintf(acts, sizeof acts, "%s/acts", g_dir);
    tdi_check_int(tdi_sweep_synth_acts(acts, 8, 400, 40, 11, &err), 0,
                  "setup: synthetic activation bundles");
    snprintf(t, sizeof t, BASE, g_dir, g_dir);
    snprintf(p, sizeof p, "%s/base.yaml", g_dir);
    tdi_test_write(p, t);
    test_fields();
    test_grid();
    test_refusals();
    test_runs();
    test_calibrate_paper();
    /* the skip mode (calibration needs it; its loader takes the base's substrate keys) */
    char *sk = strstr(t, "mode: paper");
    if (sk)
        memcpy(sk, "mode: skip ", 11);
    snprintf(p, sizeof p, "%s/base-skip.yaml", g_dir);
    tdi_test_write(p, t);
    test_calibrate();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd)) {
    }
    TDI_TEST_END();
}
