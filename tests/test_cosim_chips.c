/* test_cosim_chips: the Monte Carlo over mismatch (cosim.chips) on a D = 4 synthetic bundle with
 * the shipped card: every chip's line is reproducible (same config, same numbers), the chips
 * differ (their Pelgrom draws do), a chip inside a run of several equals a run of that chip
 * alone and the job's own rows at that chip, and cosim.chips without mismatch is a config
 * error. Non-goals: the extraction (test_extract), the single-chip rows (test_cosim_mos). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "tdi_cosim.h"
#include "tdi_test.h"
#include "tdi_test_job.h"

#define ROOT "build/test-cosim-chips"

/* Two samples, no spice (the chips' analytic and sde rows only: seconds), chips from 2. */
static void sections(char *buf, size_t len, long chip, long chips, int mismatch)
{
    snprintf(buf, len,
             "circuit:\n  bundle: " ROOT "/substrate\n  unit: rc\n  theta: 1.0e-4\n"
             "  devices: mos\n  mos_mismatch: %s\n  chip: %ld\n  intra: dense\n  skip: dense\n"
             "cosim:\n  n_samples: 2\n  avg_relax: 2\n  spice: false\n  teff_relax: 0\n"
             "  chips: %ld\n  progress: false\n", mismatch ? "true" : "false", chip, chips);
}

/* <root>/cosim/chips.csv of a job, or NULL (the check named name failed). */
static char *run_chips(const char *root, long chip, long chips, char **results, tdi_err *err)
{
    char sec[1024], name[160], path[600];
    sections(sec, sizeof sec, chip, chips, 1);
    snprintf(name, sizeof name, "chips %ld .. %ld: tdi-cosim job runs", chip, chip + chips - 1);
    char *js = tdi_test_job_run(root, sec, name, err);
    if (!js)
        return NULL;
    if (results)
        *results = js;
    else
        free(js);
    snprintf(path, sizeof path, "%s/cosim/chips.csv", root);
    return tdi_test_slurp(path);
}

/* The line of chip c without its last field (wall_s: a time, not a result), into out. */
static int chip_line(const char *csv, long c, char *out, size_t len)
{
    char key[32];
    snprintf(key, sizeof key, "\n%ld,", c);
    const char *p = csv ? strstr(csv, key) : NULL;
    if (!p)
        return -1;
    p++;
    const char *e = strchr(p, '\n');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    while (n > 0 && p[n - 1] != ',')
        n--;
    if (n == 0 || n >= len)
        return -1;
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

/* Two lines equal as text (both printed when they differ). */
static void check_str(const char *obs, const char *exp, const char *name)
{
    if (!TDI_CHECK(strcmp(obs, exp) == 0, name))
        printf("  observed %s\n  expected %s\n", obs, exp);
}

/* Field q (0 = chip) of a chip line. */
static double field(const char *line, int q)
{
    const char *p = line;
    for (int i = 0; i < q && p; i++)
        if ((p = strchr(p, ',')))
            p++;
    return p ? strtod(p, NULL) : NAN;
}

static void test_chips(void)
{
    tdi_err err = {0};
    if (!TDI_CHECK(tdi_test_job_bundle(ROOT, 4, 2, 2, 5, 0, &err) == 0, "synthetic bundle"))
        return;
    char *a = run_chips(ROOT "-a", 2, 3, NULL, &err);
    char *b = run_chips(ROOT "-b", 2, 3, NULL, &err);
    char *js = NULL;
    char *one = run_chips(ROOT "-one", 3, 1, &js, &err);
    char la[3][512], lb[3][512], l1[512];
    int ok = a && b && one && chip_line(one, 3, l1, sizeof l1) == 0;
    for (int c = 0; c < 3 && ok; c++)
        ok = chip_line(a, 2 + c, la[c], sizeof la[c]) == 0 &&
             chip_line(b, 2 + c, lb[c], sizeof lb[c]) == 0;
    if (!TDI_CHECK(ok, "chips.csv: a line per chip in every run"))
        goto done;
    printf("  %s\n  %s\n  %s\n", la[0], la[1], la[2]);
    /* same config, same numbers: every field printed with %.17g, compared as text */
    for (int c = 0; c < 3; c++)
        check_str(la[c], lb[c], "chips: a chip's line repeats exactly");
    /* the chips' Pelgrom draws differ (38% rms gm mismatch at minimum size, docs/devices.md):
       their realised-matrix errors and rest currents differ in the leading digits */
    TDI_CHECK(field(la[0], 1) != field(la[1], 1) && field(la[1], 1) != field(la[2], 1),
              "chips: the realised-matrix errors differ between chips");
    TDI_CHECK(field(la[0], 3) != field(la[1], 3) && field(la[1], 3) != field(la[2], 3),
              "chips: the rest currents differ between chips");
    /* chip 3 depends only on (config, chip): inside 2 .. 4 as alone */
    check_str(la[1], l1, "chips: chip 3 within 2 .. 4 equals chips: 1 at chip 3");
    /* chips: 1 equals the single run: its line against the job's own rows (results.json
       prints the rows' metrics with %.6f and the realised report with %.17g) */
    tdi_check_near(field(l1, 5), tdi_test_json_num(js, "\"rows\"", "\"cos_centered\""), 5e-7,
                   "chips: 1: analytic cos_centered equals the job's analytic row");
    tdi_check_near(field(l1, 7), tdi_test_json_num(js, "\"sde\"", "\"cos_centered\""), 5e-7,
                   "chips: 1: sde cos_centered equals the job's sde row");
    tdi_check_rel(field(l1, 1), tdi_test_json_num(js, "\"realised\"", "\"rel_fro\""), 1e-15,
                  "chips: 1: rel_fro equals the job's realised matrix");
done:
    free(a);
    free(b);
    free(one);
    free(js);
}

/* cosim.chips without mismatch: every chip the same circuit; a config error naming the keys */
static void test_chips_need_mismatch(void)
{
    tdi_err err = {0};
    char sec[1024];
    sections(sec, sizeof sec, 0, 2, 0);
    tdi_cosim_cfg cfg;
    int rc = tdi_test_job_config(ROOT "-nomm", sec, &cfg, &err);
    if (!rc)
        rc = tdi_cosim_app_run(&cfg, NULL, &err);
    tdi_check_int(rc, TDI_ECONFIG, "chips without mismatch: config error");
    tdi_check_contains(err.msg, "circuit.mos_mismatch", "chips without mismatch: names the key");
}

int main(void)
{
    gsl_set_error_handler_off();
    test_chips();
    test_chips_need_mismatch();
    TDI_TEST_END();
}
