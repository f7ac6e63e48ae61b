/* test_sweep: tdi-sweep (issue 6) on synthetic activation bundles (C = 8 channels, tiny fits):
 * grid expansion (count, order, seeds, theta <-> Vs), malformed sweep files (file:line:col or the
 * key named), resume after a simulated kill (a partial last line and a stopped run: no duplicate,
 * no lost row, rows equal to an uninterrupted run), results of another sweep refused, spice
 * jobs with sweep.spice_samples, and the same rows (all columns but wall_s) from `mpirun -np 2 bin/tdi-sweep` as from the serial run.
 * Runs from the repository root (tests/run.sh does); needs bin/tdi-sweep and mpirun. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gsl/gsl_errno.h>

#include "tdi_gen.h"
#include "tdi_io.h"
#include "tdi_seed.h"
#include "tdi_sweep.h"
#include "tdi_test.h"

static char g_dir[256];

static void write_file(const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", g_dir, name);
    tdi_test_write(p, text);
}

/* writes g_dir/name and loads it as a sweep file */
static int load_text(const char *name, const char *text, tdi_sweep_cfg *c, tdi_err *err)
{
    write_file(name, text);
    char p[512];
    snprintf(p, sizeof p, "%s/%s", g_dir, name);
    tdi_err_clear(err);
    return tdi_sweep_cfg_load(p, c, err);
}

/* The rows of a results file without the last column (wall_s), sorted by job index, joined. */
static char *rows_sorted(const char *path, size_t *nrows, int *dups)
{
    char *b = tdi_test_slurp(path);
    *nrows = 0;
    *dups = 0;
    if (!b)
        return NULL;
    char *lines[4096];
    long idx[4096];
    size_t n = 0;
    char *save = NULL;
    strtok_r(b, "\n", &save); /* header */
    for (char *l = strtok_r(NULL, "\n", &save); l && n < 4096; l = strtok_r(NULL, "\n", &save)) {
        char *c = strrchr(l, ',');
        if (c)
            *c = '\0';
        lines[n] = l;
        idx[n] = strtol(l, NULL, 10);
        n++;
    }
    for (size_t i = 1; i < n; i++) /* insertion sort by job index */
        for (size_t j = i; j > 0 && idx[j - 1] >= idx[j]; j--) {
            if (idx[j - 1] == idx[j])
                (*dups)++;
            long t = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = t;
            char *s = lines[j];
            lines[j] = lines[j - 1];
            lines[j - 1] = s;
        }
    size_t tot = 1;
    for (size_t i = 0; i < n; i++)
        tot += strlen(lines[i]) + 1;
    char *out = malloc(tot);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        strcat(out, lines[i]);
        strcat(out, "\n");
    }
    *nrows = n;
    free(b);
    return out;
}

static const char *BASE =
    "seed: 5\nname: tiny\nout: %s/out\nexport:\n  checkpoint: synthetic\n  dir: %s/acts\n"
    "  t: 200\n  n_fit: 400\n  n_test: 40\n  pool: 1\nsubstrate:\n  mode: paper\n  D: 8\n"
    "  k: 2\n  epochs: 3\n  batch: 64\ncircuit:\n  theta: 1.0\n  samples: [0]\n"
    "cosim:\n  n_samples: 4\n  spice: false\n";

static void test_grid(void)
{
    char t[2048];
    snprintf(t, sizeof t, "sweep:\n  base: %s/base.yaml\n  out: %s/grid\n  seed: 9\n"
             "  k: [1, 2, 4, 8]\n  D: [4, 8]\n  Vs: [1.0e-4, 2.0e-4]\n  engine: analytic, sde\n"
             "  replicates: 2\n", g_dir, g_dir);
    static tdi_sweep_cfg c;
    tdi_err err;
    int rc = load_text("grid.yaml", t, &c, &err);
    char p[512];
    if (!tdi_check_ok(rc, &err, "grid: sweep file loads"))
        return;
    tdi_sweep_job *J = NULL;
    size_t n = 0;
    rc = tdi_sweep_grid(&c, &J, &n, &err);
    tdi_check_int(rc, 0, "grid: expands");
    /* D = 4: k in {1, 2, 4}; D = 8: k in {1, 2, 4, 8}; x 2 Vs x 2 engines x 2 replicates */
    tdi_check_int((long long)n, (3 + 4) * 2 * 2 * 2, "grid: job count (k > D dropped)");
    if (rc || n != 56) {
        free(J);
        return;
    }
    int order_ok = 1, seeds_ok = 1, idx_ok = 1;
    for (size_t i = 0; i < n; i++) {
        idx_ok &= J[i].index == i;
        seeds_ok &= J[i].seed == tdi_seed(9, TDI_SEED_SWEEP_JOB, i) && J[i].seed >= 1 &&
                    J[i].seed <= 4294967295UL;
        for (size_t q = 0; q < i; q++)
            seeds_ok &= J[q].seed != J[i].seed;
    }
    /* the last axis varies fastest: replicate, then engine, then Vs, then k, then D */
    order_ok &= J[0].D == 4 && J[0].k == 1 && J[0].replicate == 0 && J[0].engine == 0;
    order_ok &= J[1].replicate == 1 && J[1].engine == 0 && J[1].k == 1;
    order_ok &= J[2].replicate == 0 && J[2].engine == TDI_COSIM_SDE;
    order_ok &= J[4].Vs == 2.0e-4 && J[4].k == 1;
    order_ok &= J[8].k == 2 && J[8].D == 4;
    order_ok &= J[24].D == 8 && J[24].k == 1;
    order_ok &= J[55].D == 8 && J[55].k == 8 && J[55].replicate == 1;
    TDI_CHECK(idx_ok, "grid: index = position");
    TDI_CHECK(order_ok, "grid: order D, k, Vs, ..., engine, replicate (last fastest)");
    TDI_CHECK(seeds_ok, "grid: seeds = tdi_seed(sweep seed, SWEEP_JOB, index), all distinct");
    /* theta = kB T / (Cu Vs^2) with the base's Cu = 1 pF, T = 300 K */
    tdi_check_rel(J[0].theta, 1.380649e-23 * 300.0 / (1e-12 * 1e-8), 1e-12,
                  "grid: theta from Vs (rounding only)");
    /* avg_relax absent: the base's cosim.avg_relax (default 0) on every job */
    tdi_check_near(J[7].xnum[0], c.cosim.avg_relax, 0, "grid: avg_relax from the base");
    free(J);

    /* an xaxis (avg_relax) varies after adc_bits and before unit; its column follows adc_bits
       (dac_bits 10: the base default) */
    snprintf(t, sizeof t, "sweep:\n  base: %s/base.yaml\n  out: %s/gridx\n  k: [2]\n"
             "  adc_bits: [8, 12]\n  avg_relax: [1, 30]\n  engine: analytic, sde\n", g_dir,
             g_dir);
    write_file("gridx.yaml", t);
    snprintf(p, sizeof p, "%s/gridx.yaml", g_dir);
    rc = tdi_sweep_cfg_load(p, &c, &err);
    if (!rc)
        rc = tdi_sweep_grid(&c, &J, &n, &err);
    tdi_check_int(rc ? -1 : (long long)n, 2 * 2 * 2,
                  "xaxis grid: 2 adc x 2 avg_relax x 2 engines");
    if (!rc && n == 8) {
        TDI_CHECK(J[0].xnum[0] == 1 && J[1].xnum[0] == 1 && J[2].xnum[0] == 30 &&
                  J[4].adc_bits == 12 && J[4].xnum[0] == 1,
                  "xaxis grid: order adc_bits, avg_relax, engine (last fastest)");
        char in[512];
        tdi_sweep_row_inputs(&c, &J[2], in, sizeof in);
        tdi_check_contains(in, ",10,8,30,none,0,", "xaxis: the row's inputs hold avg_relax after "
                           "adc_bits");
        tdi_sweep_cfg_load(p, &c, &err);
        tdi_cosim_cfg cc = c.cosim;
        tdi_gen_config gg = c.gen;
        tdi_sweep_xaxes_apply(&J[2], &gg, &cc);
        tdi_check_near(cc.avg_relax, 30, 0, "xaxis: applied to the job's cosim config");
    }
    tdi_check_contains(tdi_sweep_csv_header(), "adc_bits,avg_relax,readout_stage,gain_sigma",
                       "header: the xaxis column after adc_bits");
    free(J);
}

static void expect_error(const char *name, const char *text, const char *needle1,
                         const char *needle2)
{
    static tdi_sweep_cfg c;
    tdi_err err;
    int rc = load_text("bad.yaml", text, &c, &err);
    char lab[128];
    snprintf(lab, sizeof lab, "malformed %s: rejected", name);
    TDI_CHECK(rc == TDI_ECONFIG, lab);
    snprintf(lab, sizeof lab, "malformed %s: message", name);
    tdi_check_contains(err.msg, needle1, lab);
    if (needle2) {
        snprintf(lab, sizeof lab, "malformed %s: message detail", name);
        tdi_check_contains(err.msg, needle2, lab);
    }
}

static void test_malformed(void)
{
    char t[1024], need[512];
    snprintf(need, sizeof need, "%s/bad.yaml:3:", g_dir);
    snprintf(t, sizeof t, "sweep:\n  base: %s/base.yaml\n  k: [1, 2\n  D: [8]\n", g_dir);
    expect_error("yaml syntax", t, need, NULL);
    snprintf(t, sizeof t, "sweep:\n  base: %s/base.yaml\n  kk: [1, 2]\n", g_dir);
    expect_error("unknown key", t, need, "kk");
    snprintf(t, sizeof t, "sweep:\n  base: %s/base.yaml\n  dac_bits: [8, 40]\n", g_dir);
    expect_error("out of range", t, need, "dac_bits");
    snprintf(t, sizeof t, "sweep:\n  base: %s/base.yaml\n  engine: analytic,gpu\n", g_dir);
    expect_error("unknown engine", t, "sweep.engine", "'gpu'");
    snprintf(t, sizeof t, "sweep:\n  base: %s/base.yaml\n  k: [1]\n  k_range: [1, 4]\n", g_dir);
    expect_error("k and k_range", t, "bad.yaml", "k_range");
    expect_error("no base", "sweep:\n  k: [1]\n", "bad.yaml", "sweep.base");
    snprintf(t, sizeof t, "sweep:\n  base: %s/nonexistent.yaml\n", g_dir);
    static tdi_sweep_cfg c;
    tdi_err err;
    int rc = load_text("bad.yaml", t, &c, &err);
    TDI_CHECK(rc != 0, "malformed missing base: rejected");
    tdi_check_contains(err.msg, "nonexistent.yaml", "malformed missing base: names the file");
}

/* The rows of the results file path equal the serial run's rows (full): one row per job, no
 * duplicate, the same text in every column but wall_s. */
static void same_rows(const char *path, const char *full, size_t total, const char *what)
{
    size_t n;
    int dups;
    char *rows = rows_sorted(path, &n, &dups), lab[160];
    snprintf(lab, sizeof lab, "%s: one row per job (none lost)", what);
    tdi_check_int((long long)n, (long long)total, lab);
    snprintf(lab, sizeof lab, "%s: no duplicate row", what);
    tdi_check_int(dups, 0, lab);
    snprintf(lab, sizeof lab, "%s: rows equal the uninterrupted serial run's (but wall_s)", what);
    TDI_CHECK(full && rows && strcmp(full, rows) == 0, lab);
    free(rows);
}

/* Runs the sweep serially in-process; max_jobs 0 = all. */
static int run_serial(const char *sweep, long max_jobs, tdi_sweep_stats *st, tdi_err *err)
{
    static tdi_sweep_cfg c;
    char p[512];
    snprintf(p, sizeof p, "%s/%s", g_dir, sweep);
    int rc = tdi_sweep_cfg_load(p, &c, err);
    if (rc)
        return rc;
    tdi_sweep_opts o = {0, max_jobs, NULL};
    return tdi_sweep_run(&c, NULL, &o, st, err);
}

static void test_resume_and_mpi(void)
{
    char t[1024];
    const char *axes = "  k_range: [1, 8, 3]\n  engine: analytic,sde\n  dac_bits: [6, 10]\n";
    snprintf(t, sizeof t, "sweep:\n  base: %s/base.yaml\n  out: %s/full\n  seed: 4\n%s", g_dir,
             g_dir, axes);
    write_file("full.yaml", t);
    snprintf(t, sizeof t, "sweep:\n  base: %s/base.yaml\n  out: %s/killed\n  seed: 4\n%s", g_dir,
             g_dir, axes);
    write_file("killed.yaml", t);
    snprintf(t, sizeof t, "sweep:\n  base: %s/base.yaml\n  out: %s/mpi\n  seed: 4\n%s", g_dir,
             g_dir, axes);
    write_file("mpi.yaml", t);
    const size_t total = 3 * 2 * 2; /* k in {1, 4, 7} x 2 engines x 2 DAC widths */

    tdi_sweep_stats st;
    tdi_err err;
    tdi_err_clear(&err);
    int rc = run_serial("full.yaml", 0, &st, &err);
    tdi_check_ok(rc, &err, "serial: full sweep runs");
    tdi_check_int((long long)st.done, (long long)total, "serial: every job ran");
    tdi_check_int((long long)st.failed, 0, "serial: no job failed");
    char p[512];
    snprintf(p, sizeof p, "%s/full/results.csv", g_dir);
    size_t nfull;
    int dups;
    char *full = rows_sorted(p, &nfull, &dups);
    tdi_check_int((long long)nfull, (long long)total, "serial: one row per job");

    /* the plots of these rows: four PNG files (gnuplot ran) */
    {
        char pd[512];
        snprintf(pd, sizeof pd, "%s/plots", g_dir);
        const char *csv[1] = {p};
        tdi_err perr;
        tdi_err_clear(&perr);
        int prc = tdi_sweep_plot(csv, 1, pd, NULL, &perr);
        tdi_check_ok(prc, &perr, "plot: tdi_sweep_plot succeeds");
        const char *figs[] = {"fidelity_vs_k", "wires_vs_k", "energy_vs_k", "time_vs_k_theta"};
        for (int i = 0; i < 4; i++) {
            char fp[600], lab[96];
            snprintf(fp, sizeof fp, "%s/%s.png", pd, figs[i]);
            char *png = tdi_test_slurp(fp);
            snprintf(lab, sizeof lab, "plot: %s.png is a PNG", figs[i]);
            TDI_CHECK(png && memcmp(png, "\x89PNG", 4) == 0, lab);
            free(png);
        }
    }

    /* simulated kill: 5 jobs finish, then a row is cut in the middle of its write */
    rc = run_serial("killed.yaml", 5, &st, &err);
    tdi_check_int((long long)st.done, 5, "kill: first run stops after 5 rows");
    snprintf(p, sizeof p, "%s/killed/results.csv", g_dir);
    char *before = tdi_test_slurp(p);
    FILE *f = fopen(p, "a");
    if (f) {
        fputs("5,tiny,paper,8,4,1,6.4e-05,6,12,rc,sharedb", f); /* no newline: torn write */
        fclose(f);
    }
    rc = run_serial("killed.yaml", 0, &st, &err);
    tdi_check_ok(rc, &err, "resume: rerun succeeds");
    tdi_check_int((long long)st.skipped, 5, "resume: the 5 finished jobs are skipped");
    tdi_check_int((long long)st.done, (long long)total - 5, "resume: the others run");
    char *after = tdi_test_slurp(p);
    TDI_CHECK(before && after && strncmp(before, after, strlen(before)) == 0,
              "resume: the rows written before the kill are untouched");
    TDI_CHECK(after && !strstr(after, "sharedb,"), "resume: the torn line is gone");
    same_rows(p, full, total, "resume");
    rc = run_serial("killed.yaml", 0, &st, &err);
    tdi_check_int((long long)st.done, 0, "resume: a finished sweep runs nothing");

    /* another sweep's results in the same place are refused */
    snprintf(t, sizeof t, "sweep:\n  base: %s/base.yaml\n  out: %s/killed\n  seed: 5\n%s", g_dir,
             g_dir, axes);
    write_file("other.yaml", t);
    rc = run_serial("other.yaml", 0, &st, &err);
    TDI_CHECK(rc == TDI_EFORMAT, "resume: results of another sweep (other seed) refused");
    tdi_check_contains(err.msg, "results.csv:2:", "resume: refusal names file:line");

    /* missing input data is the environment's failure: an error, no row (a rerun retries) */
    {
        char bt[2048];
        snprintf(bt, sizeof bt, BASE, g_dir, g_dir);
        char *d = strstr(bt, "/acts\n");
        if (d)
            memcpy(d, "/nope\n", 6);
        write_file("base-nodata.yaml", bt);
        snprintf(t, sizeof t, "sweep:\n  base: %s/base-nodata.yaml\n  out: %s/nodata\n  k: [1, 2]\n",
                 g_dir, g_dir);
        write_file("nodata.yaml", t);
        rc = run_serial("nodata.yaml", 0, &st, &err);
        TDI_CHECK(rc == TDI_EIO, "missing data: the sweep stops with an I/O error");
        tdi_check_contains(err.msg, "sweep job 0", "missing data: the message names the job");
        snprintf(p, sizeof p, "%s/nodata/results.csv", g_dir);
        size_t nn;
        char *rows = rows_sorted(p, &nn, &dups);
        tdi_check_int((long long)nn, 0, "missing data: no row written");
        free(rows);
    }

    /* two MPI ranks: the same rows */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "mpirun --allow-run-as-root --oversubscribe -np 2 "
             "bin/tdi-sweep %s/mpi.yaml --quiet > %s/mpi.log 2>&1", g_dir, g_dir);
    int st_mpi = system(cmd);
    tdi_check_int(st_mpi, 0, "mpi: mpirun -np 2 bin/tdi-sweep exits 0");
    if (st_mpi) {
        snprintf(cmd, sizeof cmd, "tail -n 5 %s/mpi.log", g_dir);
        if (system(cmd)) {
        }
    }
    snprintf(p, sizeof p, "%s/mpi/results.csv", g_dir);
    same_rows(p, full, total, "mpi (2 ranks)");
    snprintf(p, sizeof p, "%s/mpi.log", g_dir);
    char *log = tdi_test_slurp(p);
    tdi_check_contains(log, "on 2 ranks", "mpi: the run used 2 ranks");
    free(log);
    free(full);
    free(before);
    free(after);
}

/* sweep.spice_samples: a spice job co-simulates that many samples (the base's spice_samples
 * otherwise), and the spice engine runs inside a sweep job */
static long samples_of(const char *csv)
{
    char *t = tdi_test_slurp(csv);
    const char *p = t ? strchr(t, '\n') : NULL; /* the first row after the header */
    int col = 0;                                   /* the column named "samples" */
    for (const char *h = t; h && h < p && strncmp(h, "samples,", 8) != 0; h++)
        col += *h == ',';
    for (int i = 0; i < col && p; i++)
        p = strchr(p + 1, ',');
    long v = p ? strtol(p + 1, NULL, 10) : -1;
    free(t);
    return v;
}

static void test_spice_samples(void)
{
    char t[1024], p[512];
    tdi_sweep_stats st;
    tdi_err err;
    const long want[2] = {2, 0}; /* 0: not given, the base's (none: all 4 samples) */
    const long expect[2] = {2, 4};
    for (int i = 0; i < 2; i++) {
        snprintf(t, sizeof t, "sweep:\n  base: %s/base.yaml\n  out: %s/spice%d\n  k: [2]\n"
                 "  engine: spice\n  spice_samples: %ld\n", g_dir, g_dir, i, want[i]);
        char name[32];
        snprintf(name, sizeof name, "spice%d.yaml", i);
        write_file(name, t);
        tdi_err_clear(&err);
        int rc = run_serial(name, 0, &st, &err);
        tdi_check_ok(rc, &err, "spice job: the sweep runs");
        tdi_check_int((long long)st.failed, 0, "spice job: not failed");
        snprintf(p, sizeof p, "%s/spice%d/results.csv", g_dir, i);
        tdi_check_int(samples_of(p), expect[i], i ? "spice job: the base's sample count"
                                                  : "spice job: sweep.spice_samples samples");
    }
}

/* Regression found by the first D = 64 sweeps: the generator's bus elimination called a bus
 * block singular when its determinant (~gu^nb) underflowed, i.e. for more than ~50 bus nodes
 * (two-bus skip at k >= 26 of D = 64, shared bus at k >= 54). 64 bus nodes here. */
static void test_many_buses(void)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/bus64", g_dir);
    tdi_err err;
    tdi_err_clear(&err);
    int rc = tdi_gen_bundle_synth(dir, "bus", 32, 32, 0, 2, 3, &err);
    tdi_check_int(rc, 0, "buses: synthetic D = 32, k = 32 bundle");
    tdi_gen_bundle b;
    if (rc || tdi_gen_bundle_read(dir, &b, &err))
        return;
    tdi_gen_config g;
    tdi_gen_config_init(&g);
    snprintf(g.name, sizeof g.name, "bus");
    snprintf(g.skip, sizeof g.skip, "twobus");
    g.Vs = tdi_phys_vs_of_theta(g.T, g.Cu, g.theta);
    tdi_gen_circuit *c = NULL;
    rc = tdi_gen_circuit_build(&g, &b, &c, &err);
    tdi_check_ok(rc, &err, "buses: two-bus circuit with 64 bus nodes builds");
    if (!rc) {
        size_t N = 64;
        double *K = malloc(N * N * sizeof *K), emax = 0, mmax = 0;
        rc = tdi_gen_circuit_reduced(c, K, &err);
        tdi_check_int(rc, 0, "buses: 64 bus nodes eliminated (no false 'singular')");
        for (size_t q = 0; !rc && q < N * N; q++) {
            emax = fmax(emax, fabs(K[q] - g.gu * b.M[q]));
            mmax = fmax(mmax, fabs(g.gu * b.M[q]));
        }
        /* Schur complement of a well-conditioned bus block: rounding, 1e-9 relative as test_gen */
        if (!rc)
            tdi_check_le(emax / mmax, 1e-9, "buses: reduced matrix = gu M");
        free(K);
    }
    tdi_gen_circuit_free(c);
    tdi_gen_bundle_destroy(&b);
}

/* CSV cells (RFC 4180) read back as written; malformed quoting is an error. */
static void test_csv_split(void)
{
    char line[] = "a,\"b,c\",\"d\"\"e\",,\"\"";
    char *f[8];
    long n = tdi_sweep_csv_split(line, f, 8);
    tdi_check_int(n, 5, "csv split: five cells");
    TDI_CHECK(n == 5 && !strcmp(f[0], "a") && !strcmp(f[1], "b,c") && !strcmp(f[2], "d\"e") &&
              !strcmp(f[3], "") && !strcmp(f[4], ""), "csv split: a | b,c | d\"e | | ");
    char bad1[] = "a,\"open", bad2[] = "a\"b,c", bad3[] = "\"a\"b,c";
    tdi_check_int(tdi_sweep_csv_split(bad1, f, 8), -1, "csv split: unclosed quote refused");
    tdi_check_int(tdi_sweep_csv_split(bad2, f, 8), -1, "csv split: quote in a bare cell refused");
    tdi_check_int(tdi_sweep_csv_split(bad3, f, 8), -1, "csv split: text after a quote refused");
}

/* The injection of issue 16: a preset name that closes gnuplot's quotes and calls system().
 * Through the config it is refused at load; through a crafted results.csv the plot refuses it;
 * an output directory with a single quote in its name plots normally; no file X anywhere. */
static void test_injection(void)
{
    static const char inj[] = "p' ; system('touch X') ; x='";
    char t[2048], p[600], base[512];
    snprintf(t, sizeof t, BASE, g_dir, g_dir);
    char *nm = strstr(t, "name: tiny");
    char inj_cfg[2600];
    snprintf(inj_cfg, sizeof inj_cfg, "%.*sname: \"%s\"%s", (int)(nm - t), t, inj,
             nm + strlen("name: tiny"));
    write_file("inj-base.yaml", inj_cfg);
    snprintf(base, sizeof base, "%s/inj-base.yaml", g_dir);
    snprintf(t, sizeof t, "sweep:\n  base: %s\n  out: %s/inj\n  k: [1]\n", base, g_dir);
    static tdi_sweep_cfg c;
    tdi_err err;
    tdi_check_int(load_text("inj.yaml", t, &c, &err), TDI_ECONFIG, "injection: config refused");
    char need[600];
    snprintf(need, sizeof need, "%s:2:7: key 'name'", base); /* line 2, value at column 7 */
    tdi_check_contains(err.msg, need, "injection: error at the base file's name: value");
    tdi_check_contains(err.msg, "is not a name", "injection: error says why");

    /* a crafted results.csv: the rows of the full sweep with the preset cell replaced */
    snprintf(p, sizeof p, "%s/full/results.csv", g_dir);
    char *csv = tdi_test_slurp(p);
    TDI_CHECK(csv != NULL, "injection: full sweep results present");
    if (!csv)
        return;
    size_t cap = strlen(csv) * 4 + 1, n = 0;
    char *out = malloc(cap);
    for (const char *q = csv; *q;) {
        if (!strncmp(q, ",tiny,", 6)) {
            n += (size_t)snprintf(out + n, cap - n, ",%s,", inj);
            q += 6;
        } else {
            out[n++] = *q++;
        }
    }
    out[n] = '\0';
    free(csv);
    snprintf(p, sizeof p, "%s/crafted.csv", g_dir);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs(out, f);
        fclose(f);
    }
    free(out);
    char pd[600];
    snprintf(pd, sizeof pd, "%s/plots 'q", g_dir); /* a single quote in the output directory */
    const char *files[1] = {p};
    tdi_err_clear(&err);
    int rc = tdi_sweep_plot(files, 1, pd, NULL, &err);
    tdi_check_int(rc, TDI_EFORMAT, "injection: crafted CSV refused by the plot");
    tdi_check_contains(err.msg, "column preset", "injection: the refusal names the column");
    /* the same rows with a valid name plot into the quoted directory */
    snprintf(p, sizeof p, "%s/full/results.csv", g_dir);
    files[0] = p;
    tdi_err_clear(&err);
    rc = tdi_sweep_plot(files, 1, pd, NULL, &err);
    tdi_check_ok(rc, &err, "quote in the output directory: plot succeeds");
    char fp[700];
    snprintf(fp, sizeof fp, "%s/fidelity_vs_k.png", pd);
    char *png = tdi_test_slurp(fp);
    TDI_CHECK(png && memcmp(png, "\x89PNG", 4) == 0, "quote in the output directory: PNG");
    free(png);
    snprintf(fp, sizeof fp, "%s/data/fid0.dat", pd);
    char *dat = tdi_test_slurp(fp);
    TDI_CHECK(dat && strstr(dat, "\n\"k\" \"tiny, "), "legend text is a header row of the data");
    free(dat);
    const char *where[3] = {pd, g_dir, "."};
    for (int i = 0; i < 3; i++) {
        struct stat st;
        snprintf(fp, sizeof fp, "%s/X", where[i]);
        char lab[96];
        snprintf(lab, sizeof lab, "injection: no file X in %s", i == 0 ? "the plot directory"
                 : i == 1 ? "the test directory" : "the working directory");
        TDI_CHECK(stat(fp, &st) != 0, lab);
    }
}

int main(void)
{
    gsl_set_error_handler_off();
    snprintf(g_dir, sizeof g_dir, "/tmp/tdi-test-sweep-%ld", (long)getpid());
    tdi_err err;
    if (tdi_mkdirs(g_dir, &err)) {
        printf("FAIL setup: %s\n", err.msg);
        return 1;
    }
    char acts[512], t[2048];
    snprintf(acts, sizeof acts, "%s/acts", g_dir);
    tdi_check_int(tdi_sweep_synth_acts(acts, 8, 400, 40, 11, &err), 0,
                  "setup: synthetic activation bundles");
    snprintf(t, sizeof t, BASE, g_dir, g_dir);
    write_file("base.yaml", t);
    test_grid();
    test_malformed();
    test_spice_samples();
    test_csv_split();
    test_resume_and_mpi();
    test_injection();
    test_many_buses();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd)) {
    }
    TDI_TEST_END();
}
