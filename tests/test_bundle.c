/* test_bundle: the substrate bundle's one reader and writer (common/tdi_bundle.h). A
 * three-module synthetic substrate round-trips bit for bit; a version-1 bundle is upgraded on
 * read; the two-module synthetic substrate gives the former writer's numbers (hashes taken from
 * the two-module writer before the change); every malformed input (manifest key, version,
 * truncated or NaN array, shapes, inconsistent M, module list) is refused naming the file.
 * Scratch files live in build/test-bundle/. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_bundle.h"
#include "tdi_gen.h"
#include "tdi_io.h"
#include "tdi_linalg.h"
#include "tdi_npy.h"
#include "tdi_test.h"
#include "tdi_test_gen.h"

#define SCR "build/test-bundle"

/* two encoders (m0: 4 units, m1: 3) feeding one decoder (m2: 5 units, read out) */
static tdi_gen_synth_spec three(void)
{
    tdi_gen_synth_spec s = {.preset = "three", .n_mod = 3, .D = {4, 3, 5},
                            .names = {"m0", "m1", "m2"}, .out = 2,
                            .n_cpl = 2, .from = {0, 1}, .to = {2, 2}, .rank = {2, 1},
                            .n = 3, .seed = 7};
    return s;
}

static double maxdiff(const double *a, const double *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(a[i] - b[i]));
    return (a && b) ? m : INFINITY;
}

static void test_roundtrip(void)
{
    tdi_gen_synth_spec s = three();
    tdi_bundle w, r;
    tdi_err e;
    tdi_err_clear(&e);
    int rc = tdi_gen_synth_build(&s, &w, &e);
    if (!TDI_CHECK(rc == 0, "three-module synthetic substrate builds"))
        return;
    w.x_cols = 2; /* the generator writes no interface input: give one to round-trip */
    w.x = malloc(6 * sizeof *w.x);
    for (size_t i = 0; i < 6; i++)
        w.x[i] = 0.5 * (double)i - 1;
    rc = tdi_bundle_write(SCR "/three", &w, &e);
    TDI_CHECK(rc == 0, "three-module bundle written");
    rc = tdi_bundle_read(SCR "/three", TDI_BUNDLE_WANT_DATA, &r, &e);
    if (!TDI_CHECK(rc == 0, "three-module bundle read back")) {
        printf("    %s\n", e.msg);
        tdi_bundle_destroy(&w);
        return;
    }
    tdi_check_int(r.version, 2, "read: version 2");
    tdi_check_int((long long)r.n_mod, 3, "read: 3 modules");
    tdi_check_int((long long)r.n_cpl, 2, "read: 2 couplings");
    tdi_check_int((long long)r.N, 12, "read: N = 4 + 3 + 5");
    tdi_check_int((long long)r.out, 2, "read: module m2 read out");
    tdi_check_int((long long)r.mod[2].off, 7, "read: m2 starts at unit 7");
    TDI_CHECK(strcmp(r.mod[1].name, "m1") == 0, "read: module names m0, m1, m2");
    tdi_check_int((long long)r.cpl[1].k, 1, "read: coupling m1-m2 has rank 1");
    double d = maxdiff(w.M, r.M, 144);
    for (size_t m = 0; m < 3; m++) {
        size_t D = w.mod[m].D;
        d = fmax(d, maxdiff(w.mod[m].J, r.mod[m].J, D * D));
        d = fmax(d, maxdiff(w.mod[m].A, r.mod[m].A, D * D));
        d = fmax(d, maxdiff(w.mod[m].bias, r.mod[m].bias, 3 * D));
    }
    d = fmax(d, maxdiff(w.cpl[0].P, r.cpl[0].P, 8));
    d = fmax(d, maxdiff(w.cpl[1].Q, r.cpl[1].Q, 5));
    d = fmax(d, maxdiff(w.analytic, r.analytic, 15));
    d = fmax(d, maxdiff(w.gain, r.gain, 5));
    d = fmax(d, maxdiff(w.x, r.x, 6));
    /* exact: .npy stores the doubles' bytes */
    tdi_check_near(d, 0, 0, "every array read back bit for bit");
    /* the analytic reference solves M z = b: residual of the read-out rows (1e-12: a Cholesky
       solve of a 12 x 12 matrix with condition < 100 is exact to ~1e-14) */
    double *L = malloc(144 * sizeof *L), *z = calloc(36, sizeof *z), res = 0;
    tdi_check_int(tdi_linalg_chol(r.M, 12, L, "M", 0, NULL, &e), 0, "assembled M is positive definite");
    for (size_t q = 0; q < 3; q++)
        for (size_t m = 0; m < 3; m++)
            memcpy(z + q * 12 + r.mod[m].off, r.mod[m].bias + q * r.mod[m].D,
                   r.mod[m].D * sizeof *z);
    tdi_linalg_chol_solve_rows(L, 12, z, 3);
    for (size_t q = 0; q < 3; q++)
        for (size_t i = 0; i < 5; i++)
            res = fmax(res, fabs(z[q * 12 + 7 + i] - r.analytic[q * 5 + i]));
    tdi_check_le(res, 1e-12, "analytic = read-out block of M^-1 b");
    /* no coupling between the two encoders: that block of M is zero */
    double z01 = 0;
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 4; j < 7; j++)
            z01 = fmax(z01, fabs(r.M[i * 12 + j]));
    tdi_check_near(z01, 0, 0, "M block m0-m1 (not coupled) is zero");
    free(L);
    free(z);
    tdi_bundle_destroy(&w);
    tdi_bundle_destroy(&r);
}

/* FNV-1a 64 of the bytes of n doubles */
static uint64_t hash_of(const double *x, size_t n)
{
    return tdi_hash_bytes(TDI_HASH_INIT, x, n * sizeof *x);
}

/* Two moments of n doubles, sum (i + 1) x_i and sum x_i^2: what an array computed through BLAS
 * is pinned by, since OpenBLAS picks its kernels by CPU (or OPENBLAS_CORETYPE) and the last bits
 * move with them (the bytes, and so hash_of, are pinned only for arrays BLAS does not touch). */
static void moments(const double *x, size_t n, double m[2])
{
    m[0] = m[1] = 0;
    for (size_t i = 0; i < n; i++) {
        m[0] += (double)(i + 1) * x[i];
        m[1] += x[i] * x[i];
    }
}

/* x's moments within 1e-12 relative of the pinned pair want */
static void check_moments(const double *x, size_t n, const double want[2], const char *what)
{
    double m[2];
    moments(x, n, m);
    char name[160];
    for (int q = 0; q < 2; q++) {
        snprintf(name, sizeof name, "%s: moment %d as before (within 1e-12 relative)", what, q);
        tdi_check_near(m[q], want[q], 1e-12 * fabs(want[q]), name);
    }
}

/* The former two-module writer's arrays for D = 6, k = 2, rank 0, n = 3, seed 5 (M.npy, A.npy,
 * B.npy, P.npy, b_dec.npy, analytic.npy written by main at commit 6c6a2ca): the arrays no BLAS
 * call computes by their FNV-1a 64 hash (bit for bit), M and analytic (through OpenBLAS) by
 * moments recorded from arrays whose hashes equalled the former writer's (OPENBLAS_CORETYPE
 * Haswell: M 0x2db95d63fdd45591, analytic 0xe41a3cd1f9f84db3). */
static void test_two_module_numbers(void)
{
    tdi_err e;
    int rc = tdi_gen_bundle_synth(SCR "/two", "two", 6, 2, 0, 3, 5, &e);
    tdi_gen_bundle b;
    if (!TDI_CHECK(rc == 0 && tdi_gen_bundle_read(SCR "/two", &b, &e) == 0,
                   "two-module synthetic bundle written and read"))
        return;
    static const struct { const char *what; uint64_t h; } want[] = {
        {"A", UINT64_C(0x652fbb08d718e36d)}, {"B", UINT64_C(0xa5a97c617ccf0a99)},
        {"P", UINT64_C(0x7c5c720a55bbd933)}, {"b_dec", UINT64_C(0xaaedd860b94f4a8b)}};
    const double *got[] = {b.A, b.B, b.P, b.b_dec};
    size_t n[] = {36, 36, 12, 18};
    for (size_t i = 0; i < 4; i++) {
        char name[160], hx[17], hw[17];
        tdi_hash_hex(hash_of(got[i], n[i]), hx);
        tdi_hash_hex(want[i].h, hw);
        snprintf(name, sizeof name, "two-module synthetic %s as before (hash %s, expected %s)",
                 want[i].what, hx, hw);
        TDI_CHECK(hash_of(got[i], n[i]) == want[i].h, name);
    }
    check_moments(b.M, 144, (const double[2]){670.98619491644797, 11.37277708748009},
                  "two-module synthetic M");
    check_moments(b.analytic, 18, (const double[2]){103.62134188725334, 102.30007566038486},
                  "two-module synthetic analytic");
    tdi_check_int(b.version, 2, "synthetic bundle written as version 2");
    /* the former writer's manifest said lambda_min: 0.18862940844210482, lambda_max:
       2.2741646478638993 (%.17g; an eigen-solver through BLAS: within 1e-12 relative) */
    tdi_check_near(b.lambda_min, 0.18862940844210482, 1e-12 * 0.18862940844210482,
                   "two-module synthetic lambda_min as before");
    tdi_check_near(b.lambda_max, 2.2741646478638993, 1e-12 * 2.2741646478638993,
                   "two-module synthetic lambda_max as before");
    tdi_gen_bundle_destroy(&b);
    /* intra rank 2 of D = 5, k = 1, n = 2, seed 9 (the same former writer; hashes there
       M 0x039e1dcec6b7cd9b, analytic 0xc157d2cd4c5ab3a2) */
    rc = tdi_gen_bundle_synth(SCR "/two-r2", "two", 5, 1, 2, 2, 9, &e);
    if (!TDI_CHECK(rc == 0 && tdi_gen_bundle_read(SCR "/two-r2", &b, &e) == 0,
                   "two-module synthetic bundle, intra rank 2, written and read"))
        return;
    check_moments(b.M, 100, (const double[2]){596.90429515752874, 11.535217087639234},
                  "two-module synthetic, intra rank 2: M");
    check_moments(b.analytic, 10, (const double[2]){8.1041917577459515, 219.20030848314022},
                  "two-module synthetic, intra rank 2: analytic");
    tdi_gen_bundle_destroy(&b);
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

/* a version-1 bundle (the former layout) from the two-module synthetic substrate */
static void write_v1(const char *dir, size_t k)
{
    tdi_gen_synth_spec s = {.preset = "old", .n_mod = 2, .D = {3, 3}, .out = 1, .n_cpl = 1,
                            .to = {1}, .rank = {k}, .n = 2, .seed = 11};
    tdi_bundle b;
    tdi_err e;
    if (tdi_gen_synth_build(&s, &b, &e) || tdi_mkdirs(dir, &e))
        return;
    tdi_test_wnpy(dir, "M.npy", 6, 6, b.M);
    tdi_test_wnpy(dir, "A.npy", 3, 3, b.mod[0].A);
    tdi_test_wnpy(dir, "B.npy", 3, 3, b.mod[1].A);
    tdi_test_wnpy(dir, "Jenc.npy", 3, 3, b.mod[0].J);
    tdi_test_wnpy(dir, "Jdec.npy", 3, 3, b.mod[1].J);
    if (k) {
        tdi_test_wnpy(dir, "P.npy", 3, k, b.cpl[0].P);
        tdi_test_wnpy(dir, "Q.npy", 3, k, b.cpl[0].Q);
    }
    tdi_test_wnpy(dir, "b_enc.npy", 2, 3, b.mod[0].bias);
    tdi_test_wnpy(dir, "b_dec.npy", 2, 3, b.mod[1].bias);
    tdi_test_wnpy(dir, "c.npy", 3, 0, b.c);
    tdi_test_wnpy(dir, "analytic.npy", 2, 3, b.analytic);
    char p[512], man[512];
    snprintf(p, sizeof p, "%s/manifest.yaml", dir);
    snprintf(man, sizeof man, "format: tdi-substrate\nversion: 1\npreset: old\nmode: paper\n"
             "pair: [e2, d2]\nD: 3\nk: %zu\nJ2: 0.1\nkT: 1.0\nt: 200\nn_test: 2\n"
             "lambda_min: 0.5\nlambda_max: 2\nsource_fit_hash: 0123456789abcdef\n"
             "source_test_hash: none\n", k);
    write_text(p, man);
    tdi_bundle_destroy(&b);
}

static void test_v1_upgrade(void)
{
    write_v1(SCR "/v1", 2);
    write_v1(SCR "/v1k0", 0);
    tdi_bundle b;
    tdi_err e;
    int rc = tdi_bundle_read(SCR "/v1", 0, &b, &e);
    if (!TDI_CHECK(rc == 0, "version-1 bundle read (upgraded)")) {
        printf("    %s\n", e.msg);
        return;
    }
    tdi_check_int(b.version, 1, "upgrade: version 1 reported");
    TDI_CHECK(b.n_mod == 2 && strcmp(b.mod[0].name, "enc") == 0 &&
                  strcmp(b.mod[1].name, "dec") == 0 && b.out == 1,
              "upgrade: modules enc, dec; dec read out");
    TDI_CHECK(b.n_cpl == 1 && b.cpl[0].from == 0 && b.cpl[0].to == 1 && b.cpl[0].k == 2 &&
                  !b.cpl[0].dense, "upgrade: one rank-2 coupling enc -> dec from P.npy, Q.npy");
    TDI_CHECK(strcmp(b.fit_hash, "0123456789abcdef") == 0 && b.t == 200 && b.n == 2,
              "upgrade: metadata kept");
    tdi_bundle_destroy(&b);
    rc = tdi_bundle_read(SCR "/v1k0", 0, &b, &e);
    TDI_CHECK(rc == 0 && b.n_cpl == 1 && b.cpl[0].k == 0 && !b.cpl[0].P,
              "upgrade: k = 0 gives a rank-0 coupling (no factor files)");
    tdi_bundle_destroy(&b);
}

static char *slurp(const char *path)
{
    return tdi_test_slurp(path);
}

/* copies the three-module bundle to dir, then replaces `from` by `to` in its manifest */
static void variant(const char *dir, const char *from, const char *to)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s && cp -r " SCR "/three %s", dir, dir);
    if (system(cmd) != 0)
        return;
    if (!from)
        return;
    char p[512];
    snprintf(p, sizeof p, "%s/manifest.yaml", dir);
    char *t = slurp(p), *at = t ? strstr(t, from) : NULL;
    if (!at) {
        printf("    (test setup: '%s' not in the manifest)\n", from);
        free(t);
        return;
    }
    size_t n = strlen(t) + strlen(to) + 1;
    char *u = malloc(n);
    snprintf(u, n, "%.*s%s%s", (int)(at - t), t, to, at + strlen(from));
    write_text(p, u);
    free(t);
    free(u);
}

static void expect(const char *dir, const char *needle1, const char *needle2, const char *what)
{
    tdi_bundle b;
    tdi_err e;
    tdi_err_clear(&e);
    int rc = tdi_bundle_read(dir, TDI_BUNDLE_WANT_DATA, &b, &e);
    char name[300];
    snprintf(name, sizeof name, "%s: refused", what);
    TDI_CHECK(rc != 0, name);
    snprintf(name, sizeof name, "%s: message names it", what);
    tdi_check_contains(e.msg, needle1, name);
    if (needle2) {
        snprintf(name, sizeof name, "%s: message says why", what);
        tdi_check_contains(e.msg, needle2, name);
    }
    if (rc == 0)
        tdi_bundle_destroy(&b);
}

static void test_bad(void)
{
    const char *d = SCR "/bad";
    variant(d, "analytic: true\n", "analytic: true\nbogus: 1\n");
    expect(d, "bad/manifest.yaml:", "unknown key 'bogus'", "unknown manifest key");
    variant(d, "analytic: true\n", "analytic: true\npreset: again\n");
    expect(d, "bad/manifest.yaml:", "duplicate key", "duplicate manifest key");
    variant(d, "version: 2", "version: 3");
    expect(d, "bad/manifest.yaml", "version 3 not supported", "future version");
    variant(d, "analytic: true\n", "analytic: true\nD: 4\n");
    expect(d, "bad/manifest.yaml:16:1", "not part of version 2", "version-1 key in version 2");
    variant(d, "format: tdi-substrate", "format: tdi-activations");
    expect(d, "bad/manifest.yaml", "expected 'tdi-substrate'", "wrong format");
    variant(d, "to: m2, kind: lowrank, rank: 1", "to: m9, kind: lowrank, rank: 1");
    expect(d, "bad/manifest.yaml:22:18", "no such module", "coupling to an unknown module");
    variant(d, "  m1: {name: m1", "  m3: {name: m1");
    expect(d, "bad/manifest.yaml:19:8", "given without modules.m1", "module slots with a gap");
    variant(d, "{name: m0, D: 4}", "{name: m0, D: 4, readout: true}");
    expect(d, "bad/manifest.yaml", "must be consecutive", "two read-out modules apart");
    variant(d, ", readout: true}", "}");
    expect(d, "bad/manifest.yaml", "no read-out module", "no read-out module");
    variant(d, "{name: m0,", "{name: M_0,");
    expect(d, "bad/manifest.yaml:17:8", "name 'M_0'", "bad module name");
    variant(d, "{name: m1,", "{name: m0,");
    expect(d, "bad/manifest.yaml:18:8", "given twice", "module name twice");
    variant(d, "kind: lowrank, rank: 1", "kind: dense, rank: 1");
    expect(d, "bad/manifest.yaml:22:26", "has no rank", "dense coupling with a rank");
    /* arrays */
    variant(d, NULL, NULL);
    if (system("truncate -s -8 " SCR "/bad/J_m1.npy") != 0)
        printf("    (test setup: truncate failed)\n");
    expect(d, "bad/J_m1.npy", "truncated", "truncated array");
    variant(d, NULL, NULL);
    write_text(SCR "/bad/b_m2.npy", "PK\003\004 not an npy file, long enough to have a header");
    expect(d, "bad/b_m2.npy", "magic", "corrupt array (not .npy)");
    variant(d, NULL, NULL);
    double A[16];
    for (int i = 0; i < 16; i++)
        A[i] = i == 5 ? NAN : 0;
    tdi_test_wnpy(d, "A_m0.npy", 4, 4, A);
    expect(d, "bad/A_m0.npy", "is NaN", "NaN in an array");
    variant(d, NULL, NULL);
    tdi_test_wnpy(d, "J_m0.npy", 4, 3, A);
    expect(d, "bad/J_m0.npy", "expected 4 columns", "array of the wrong shape");
    variant(d, NULL, NULL);
    double bias[4 * 3] = {0};
    tdi_test_wnpy(d, "b_m1.npy", 4, 3, bias);
    expect(d, "bad", "rows disagree", "bias rows disagree with n_test");
    variant(d, NULL, NULL);
    if (system("rm " SCR "/bad/P_m0_m2.npy") != 0)
        printf("    (test setup: rm failed)\n");
    expect(d, "bad/P_m0_m2.npy", NULL, "missing coupling factor");
    variant(d, NULL, NULL);
    if (system("rm " SCR "/bad/x.npy") != 0)
        printf("    (test setup: rm failed)\n");
    expect(d, "bad/x.npy", NULL, "missing data array (asked for)");
    /* M against its blocks */
    tdi_bundle b;
    tdi_err e;
    variant(d, NULL, NULL);
    if (tdi_bundle_read(d, 0, &b, &e) == 0) {
        b.mod[0].A[0] += 0.5;
        tdi_test_wnpy(d, "A_m0.npy", 4, 4, b.mod[0].A);
        b.mod[0].A[0] -= 0.5;
        expect(d, "bad: M[0][0]", "but A gives", "M's diagonal block differs from A");
        b.M[0 * 12 + 5] = b.M[5 * 12 + 0] = 0.25; /* m0-m1: not coupled */
        tdi_test_wnpy(d, "A_m0.npy", 4, 4, b.mod[0].A);
        tdi_test_wnpy(d, "M.npy", 12, 12, b.M);
        expect(d, "bad: M[0][5]", "not coupled", "M non-zero between uncoupled modules");
        b.M[0 * 12 + 5] = 0.25;
        b.M[5 * 12 + 0] = 0;
        tdi_test_wnpy(d, "M.npy", 12, 12, b.M);
        expect(d, "bad/M.npy", "not symmetric", "M not symmetric");
        tdi_bundle_destroy(&b);
    }
    expect(SCR "/nowhere", "nowhere/manifest.yaml", NULL, "missing bundle");
}

/* the writer: a bundle with a required array missing writes nothing */
static void test_writer(void)
{
    tdi_gen_synth_spec s = three();
    tdi_bundle w;
    tdi_err e;
    if (tdi_gen_synth_build(&s, &w, &e))
        return;
    double *J = w.mod[1].J;
    w.mod[1].J = NULL;
    int rc = tdi_bundle_write(SCR "/incomplete", &w, &e);
    TDI_CHECK(rc != 0, "writer refuses a bundle without J of a module");
    tdi_check_contains(e.msg, "missing", "writer: message");
    FILE *f = fopen(SCR "/incomplete/manifest.yaml", "r");
    TDI_CHECK(f == NULL, "writer: nothing written");
    if (f)
        fclose(f);
    w.mod[1].J = J;
    tdi_bundle_destroy(&w);
}

int main(void)
{
    tdi_gen_blas_threads(1); /* as tdi-gen: the eigenvalues below come from threaded BLAS */
    if (system("rm -rf " SCR " && mkdir -p " SCR) != 0)
        return 1;
    test_roundtrip();
    test_two_module_numbers();
    test_v1_upgrade();
    test_bad();
    test_writer();
    TDI_TEST_END();
}
