/* test_fitcheck: `tdi-fit --check DIR` (tools/substrate/tdi_sub_check.c) on what an outside user
 * writes: a good synthetic substrate bundle, good activation bundles and their export directory
 * pass and are described (modules, shapes, dtypes, hashes); a truncated array, a NaN, a manifest
 * whose `layers` disagree with the array, an indefinite M and a directory that is no bundle are
 * refused with the file named. Scratch files in build/test-fitcheck/. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tdi_gen.h"
#include "tdi_npy.h"
#include "tdi_sub.h"
#include "tdi_sweep.h"
#include "tdi_test.h"

#define SCR "build/test-fitcheck"

/* Runs the check into a memory stream; returns rc, *text the printed lines (caller frees). */
static int run_check(const char *dir, char **text, tdi_err *e)
{
    size_t len = 0;
    FILE *f = open_memstream(text, &len);
    if (!f)
        return -1;
    int rc = tdi_sub_check(dir, f, e);
    fclose(f);
    return rc;
}

static void expect_ok(const char *dir, const char *const *needles, size_t n, const char *name)
{
    tdi_err e;
    tdi_err_clear(&e);
    char *t = NULL, label[160];
    int rc = run_check(dir, &t, &e);
    snprintf(label, sizeof label, "%s: accepted", name);
    tdi_check_ok(rc, &e, label);
    for (size_t i = 0; i < n; i++) {
        snprintf(label, sizeof label, "%s: reports '%s'", name, needles[i]);
        tdi_check_contains(t ? t : "", needles[i], label);
    }
    free(t);
}

static void expect_refused(const char *dir, const char *needle, const char *name)
{
    tdi_err e;
    tdi_err_clear(&e);
    char *t = NULL, label[160];
    int rc = run_check(dir, &t, &e);
    snprintf(label, sizeof label, "%s: refused", name);
    TDI_CHECK(rc != 0, label);
    snprintf(label, sizeof label, "%s: message names '%s'", name, needle);
    tdi_check_contains(e.msg, needle, label);
    free(t);
}

static void good_bundles(void)
{
    tdi_err e;
    tdi_gen_synth_spec s = {.preset = "chk", .n_mod = 3, .D = {4, 3, 5},
                            .names = {"ea", "eb", "dec"}, .out = 2, .n_cpl = 2, .from = {0, 1},
                            .to = {2, 2}, .rank = {2, 1}, .n = 4, .seed = 5};
    int rc = tdi_gen_synth_write(SCR "/sub", &s, &e);
    tdi_check_ok(rc, &e, "synthetic 3-module substrate written");
    const char *const sub[] = {"substrate bundle, format version 2", "3 modules", "N = 12",
                               "module ea     D = 4", "coupling eb -> dec rank 1",
                               "positive definite", "paper interface (8 arrays): not present",
                               "hash "};
    expect_ok(SCR "/sub", sub, sizeof sub / sizeof *sub, "substrate bundle");
    rc = tdi_sweep_synth_acts(SCR "/acts", 8, 40, 20, 3, &e);
    tdi_check_ok(rc, &e, "synthetic activation bundles written");
    const char *const act[] = {"activations-fit: activation bundle, n = 40, t = 200",
                               "activations-test: activation bundle, n = 20",
                               "e2.npy       <f4 [20, 8], finite", "w_d2.npy", "hash "};
    expect_ok(SCR "/acts", act, sizeof act / sizeof *act, "export directory");
    const char *const one[] = {"activation bundle, n = 20"};
    expect_ok(SCR "/acts/activations-test", one, 1, "one activation bundle");
}

/* copies src to dst (cp -r), then the caller breaks one file */
static void copy(const char *src, const char *dst)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s && cp -r %s %s", dst, src, dst);
    if (system(cmd) != 0)
        printf("    copy %s failed\n", src);
}

static void broken_bundles(void)
{
    tdi_err e;
    copy(SCR "/sub", SCR "/trunc");
    if (truncate(SCR "/trunc/M.npy", 100) != 0)
        printf("    truncate failed\n");
    expect_refused(SCR "/trunc", "M.npy", "truncated M.npy");
    /* a NaN in one activation layer */
    copy(SCR "/acts/activations-test", SCR "/nan");
    double row[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    double *x = calloc(20 * 8, sizeof *x);
    for (size_t i = 0; x && i < 20 * 8; i++)
        x[i] = row[i % 8];
    if (x)
        x[17] = NAN;
    size_t shape[2] = {20, 8};
    int rc = tdi_npy_write(SCR "/nan/e2.npy", TDI_NPY_F64, 2, shape, x, &e);
    free(x);
    tdi_check_ok(rc, &e, "NaN layer written");
    expect_refused(SCR "/nan", "e2.npy: element 17 is not finite", "NaN in e2.npy");
    /* the manifest says another shape than the array holds */
    copy(SCR "/acts/activations-test", SCR "/shape");
    rc = system("sed -i 's/e2: \\[20, 8\\]/e2: [20, 16]/' " SCR "/shape/manifest.yaml");
    expect_refused(SCR "/shape", "layers.e2 = [20, 16], but e2.npy holds [20, 8]",
                   "manifest layers disagree with the array");
    expect_refused(SCR, "neither a substrate bundle", "a directory that is no bundle");
    expect_refused(SCR "/none", "not a directory", "a missing directory");
}

int main(void)
{
    if (system("rm -rf " SCR " && mkdir -p " SCR) != 0)
        return 1;
    good_bundles();
    broken_bundles();
    TDI_TEST_END();
}
