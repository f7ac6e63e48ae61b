/* test_gen: the netlist generator (issue 4). Oracles: the intended matrix gu*M against the
 * netlist text read back and reduced (every realisation x unit kind), wire-count formulas,
 * the usage of every program in bin/ (--help, -h, an unknown option), ngspice -b runs of
 * D = 8-per-module standalone netlists against M^-1 b, (kB T/Cu)(M^-1)_ii
 * and the exact modal step response (rc and rlc), a golden netlist, and bad-input fixtures.
 * Bundles are built here from seeded random factors (independent of tdi_gen_bundle_synth).
 * Scratch files live in build/test-gen/. Set TDI_GEN_UPDATE_GOLDEN=1 to rewrite the golden. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>

#include <gsl/gsl_eigen.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "tdi_cosim.h"
#include "tdi_gen.h"
#include "tdi_gen_int.h"
#include "tdi_io.h"
#include "tdi_npy.h"
#include "tdi_test.h"
#include "tdi_test_gen.h"

#define SCR "build/test-gen"

/* ---------- bundles written by the test ---------- */
typedef struct {
    size_t D, k, n;
    double *M, *A, *B, *Je, *Jd, *P, *Q, *be, *bd; /* shapes as in docs/formats.md */
    const double *an; /* (n, D) the decoder's M^-1 b when known exactly; NULL: solved */
} tbundle;

static void tb_free(tbundle *t)
{
    free(t->M); free(t->A); free(t->B); free(t->Je); free(t->Jd); free(t->P); free(t->Q);
    free(t->be); free(t->bd);
}

/* A = diag_a I + J + J^T with J = W^T W / 4, W (r x D) ~ N(0, 1/r); P, Q ~ N(0,1) scaled to
 * Frobenius norm sqrt(skip) each; biases N(0,1). */
static void tb_make(tbundle *t, size_t D, size_t k, size_t r, double diag_a, double skip,
                    size_t n, unsigned long seed)
{
    gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(g, seed);
    size_t N = 2 * D;
    t->D = D; t->k = k; t->n = n;
    t->an = NULL;
    t->M = calloc(N * N, sizeof(double)); t->A = calloc(D * D, sizeof(double));
    t->B = calloc(D * D, sizeof(double)); t->Je = calloc(D * D, sizeof(double));
    t->Jd = calloc(D * D, sizeof(double)); t->P = calloc(D * k + 1, sizeof(double));
    t->Q = calloc(D * k + 1, sizeof(double)); t->be = calloc(n * D, sizeof(double));
    t->bd = calloc(n * D, sizeof(double));
    for (int m = 0; m < 2; m++) {
        double *J = m ? t->Jd : t->Je;
        for (size_t q = 0; q < r; q++) {
            double w[4096];
            for (size_t i = 0; i < D; i++)
                w[i] = gsl_ran_gaussian(g, 1.0 / sqrt((double)r));
            for (size_t i = 0; i < D; i++)
                for (size_t j = 0; j < D; j++)
                    J[i * D + j] += w[i] * w[j] / 4;
        }
    }
    double np = 0, nq = 0;
    for (size_t i = 0; i < D * k; i++) {
        t->P[i] = gsl_ran_gaussian(g, 1.0);
        t->Q[i] = gsl_ran_gaussian(g, 1.0);
        np += t->P[i] * t->P[i];
        nq += t->Q[i] * t->Q[i];
    }
    for (size_t i = 0; i < D * k; i++) {
        t->P[i] *= sqrt(skip / np);
        t->Q[i] *= sqrt(skip / nq);
    }
    for (size_t i = 0; i < D; i++)
        for (size_t j = 0; j < D; j++) {
            t->A[i * D + j] = (i == j ? diag_a : 0) + t->Je[i * D + j] + t->Je[j * D + i];
            t->B[i * D + j] = (i == j ? diag_a : 0) + t->Jd[i * D + j] + t->Jd[j * D + i];
            double s = 0;
            for (size_t l = 0; l < k; l++)
                s += t->P[i * k + l] * t->Q[j * k + l];
            t->M[i * N + j] = t->A[i * D + j];
            t->M[(D + i) * N + D + j] = t->B[i * D + j];
            t->M[i * N + D + j] = t->M[(D + j) * N + i] = s;
        }
    for (size_t i = 0; i < n * D; i++) {
        t->be[i] = gsl_ran_gaussian(g, 1.0);
        t->bd[i] = gsl_ran_gaussian(g, 1.0);
    }
    gsl_rng_free(g);
}

/* z = M^-1 b for sample s (GSL Cholesky, independent of the generator's solver) */
static void tb_solve(const tbundle *t, const double *M, size_t s, double *z)
{
    size_t N = 2 * t->D;
    gsl_matrix *L = gsl_matrix_alloc(N, N);
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < N; j++)
            gsl_matrix_set(L, i, j, M[i * N + j]);
    gsl_linalg_cholesky_decomp1(L);
    gsl_vector *b = gsl_vector_alloc(N), *x = gsl_vector_alloc(N);
    for (size_t i = 0; i < t->D; i++) {
        gsl_vector_set(b, i, t->be[s * t->D + i]);
        gsl_vector_set(b, t->D + i, t->bd[s * t->D + i]);
    }
    gsl_linalg_cholesky_solve(L, b, x);
    for (size_t i = 0; i < N; i++)
        z[i] = gsl_vector_get(x, i);
    gsl_matrix_free(L);
    gsl_vector_free(b);
    gsl_vector_free(x);
}

static int tb_write(const tbundle *t, const char *dir, const char *preset)
{
    size_t D = t->D, N = 2 * D, k = t->k;
    tdi_err e;
    if (tdi_mkdirs(dir, &e))
        return -1;
    double *an = calloc(t->n * D + 1, sizeof(double)), *z = malloc(N * sizeof(double));
    double *c = calloc(D, sizeof(double)), *S = calloc(D * D, sizeof(double));
    for (size_t s = 0; s < t->n; s++) {
        if (!t->an)
            tb_solve(t, t->M, s, z);
        for (size_t i = 0; i < D; i++)
            an[s * D + i] = t->an ? t->an[s * D + i] : z[D + i];
    }
    for (size_t i = 0; i < D; i++)
        for (size_t j = 0; j < D; j++)
            S[i * D + j] = t->M[i * N + D + j];
    int rc = tdi_test_wnpy(dir, "M.npy", N, N, t->M) || tdi_test_wnpy(dir, "A.npy", D, D, t->A) ||
             tdi_test_wnpy(dir, "B.npy", D, D, t->B) ||
             tdi_test_wnpy(dir, "Jenc.npy", D, D, t->Je) ||
             tdi_test_wnpy(dir, "Jdec.npy", D, D, t->Jd) ||
             tdi_test_wnpy(dir, "P.npy", D, k, t->P) || tdi_test_wnpy(dir, "Q.npy", D, k, t->Q) ||
             tdi_test_wnpy(dir, "Jskip.npy", D, D, S) ||
             tdi_test_wnpy(dir, "b_enc.npy", t->n, D, t->be) ||
             tdi_test_wnpy(dir, "b_dec.npy", t->n, D, t->bd) ||
             tdi_test_wnpy(dir, "analytic.npy", t->n, D, an) ||
             tdi_test_wnpy(dir, "c.npy", D, 0, c);
    char p[512];
    snprintf(p, sizeof p, "%s/manifest.yaml", dir);
    FILE *f = fopen(p, "w");
    if (!f)
        rc = -1;
    else {
        fprintf(f, "format: tdi-substrate\nversion: 1\npreset: %s\nmode: paper\nD: %zu\nk: %zu\n"
                "n_test: %zu\n", preset, D, k, t->n);
        fclose(f);
    }
    free(an); free(z); free(c); free(S);
    return rc;
}

/* ---------- helpers ---------- */
static tdi_gen_circuit *build(const char *cfgtext, const char *bdir, tdi_gen_bundle *b,
                              tdi_gen_config *cfg, tdi_err *e)
{
    return tdi_test_gen_build(cfgtext, bdir, b, cfg, e);
}

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* ---------- 1. read-back: netlist text -> K == gu*M for every realisation and unit kind ---- */
static void test_readback(void)
{
    tbundle t;
    const size_t D = 6, k = 2, r = 2;
    tb_make(&t, D, k, r, 0.3, 0.2, 2, 11);
    tb_write(&t, SCR "/rb", "rb");
    const char *units[] = {"rc", "rlc"}, *intras[] = {"dense", "lowrank"},
               *skips[] = {"dense", "twobus", "sharedbus"};
    for (int u = 0; u < 2; u++)
        for (int in = 0; in < 2; in++)
            for (int s = 0; s < 3; s++) {
                char cfgt[512], name[128];
                snprintf(cfgt, sizeof cfgt, "name: rb\ncircuit:\n  unit: %s\n  intra: %s\n"
                         "  skip: %s\n  rank: %d\n", units[u], intras[in], skips[s],
                         s == 2 ? (int)(r + k) : (int)r);
                tdi_gen_bundle b;
                tdi_gen_config cfg;
                tdi_err e;
                tdi_err_clear(&e);
                tdi_gen_circuit *c = build(cfgt, SCR "/rb", &b, &cfg, &e);
                snprintf(name, sizeof name, "build %s/%s/%s", units[u], intras[in], skips[s]);
                if (!TDI_CHECK(c != NULL, name)) {
                    printf("    %s\n", e.msg);
                    continue;
                }
                size_t N = 2 * D;
                double mx = 0;
                for (size_t i = 0; i < N * N; i++)
                    mx = fmax(mx, fabs(t.M[i]));
                for (int mode = 0; mode < 2; mode++) {
                    tdi_gen_text *tx = NULL;
                    tdi_gen_netlist_text(c, (tdi_gen_mode)mode, 0, 0, &tx, &e);
                    char *txt = tdi_test_gen_join(tx);
                    tdi_gen_readback rb;
                    int rc = tdi_gen_readback_parse(txt, "x", "y", &rb, &e);
                    snprintf(name, sizeof name, "readback parses %s/%s/%s %s", units[u],
                             intras[in], skips[s], mode ? "cosim" : "standalone");
                    if (TDI_CHECK(rc == 0 && rb.N == N, name)) {
                        double worst = tdi_test_max_diff(rb.K, c->phys.gu, t.M, N * N);
                        snprintf(name, sizeof name, "readback K == gu*M %s/%s/%s %s", units[u],
                                 intras[in], skips[s], mode ? "cosim" : "standalone");
                        /* 1e-9 relative (the bound); values are printed with 15
                           digits, so rounding alone gives ~1e-14 */
                        tdi_check_le(worst / (c->phys.gu * mx), 1e-9, name);
                    } else {
                        printf("    %s\n", e.msg);
                    }
                    /* cosim mode: EXTERNAL sources, never with a dc value; no .control */
                    if (mode == 1) {
                        snprintf(name, sizeof name, "cosim has external sources, no dc, no "
                                 ".control (%s/%s/%s)", units[u], intras[in], skips[s]);
                        TDI_CHECK(strstr(txt, "Inoise_x0 0 ") && strstr(txt, " external\n") &&
                                      !strstr(txt, "dc 0 external") && !strstr(txt, "\n.control"),
                                  name);
                    }
                    tdi_gen_readback_destroy(&rb);
                    free(txt);
                    tdi_gen_text_free(tx);
                }
                /* in-memory reduction agrees too */
                double *K = malloc(N * N * sizeof *K);
                tdi_gen_circuit_reduced(c, K, &e);
                double worst = tdi_test_max_diff(K, c->phys.gu, t.M, N * N);
                snprintf(name, sizeof name, "reduced(elements) == gu*M %s/%s/%s", units[u],
                         intras[in], skips[s]);
                tdi_check_le(worst / (c->phys.gu * mx), 1e-9, name);
                free(K);
                /* wire counts against the formulas of docs/physics.md section 3 */
                const tdi_gen_block_report *sk = &c->blk[TDI_GEN_BLK_SKIP],
                                           *ie = &c->blk[TDI_GEN_BLK_INTRA_ENC];
                size_t want_skip = s == 0 ? D * D : s == 1 ? 4 * D * k : 2 * D * k;
                snprintf(name, sizeof name, "skip wire pairs %s/%s/%s", units[u], intras[in],
                         skips[s]);
                tdi_check_int((long long)sk->wire_pairs, (long long)want_skip, name);
                size_t want_intra = in == 0 ? D * (D - 1) / 2 : D * ie->rank;
                snprintf(name, sizeof name, "intra wire pairs %s/%s/%s", units[u], intras[in],
                         skips[s]);
                tdi_check_int((long long)ie->wire_pairs, (long long)want_intra, name);
                /* the realisation tables' wire counts (exact: no coefficient is zero here) */
                snprintf(name, sizeof name, "skip table wires %s/%s/%s", units[u], intras[in],
                         skips[s]);
                tdi_check_int((long long)sk->wire_pairs,
                              (long long)tdi_gen_skip_find(skips[s])->wires(D, D, k), name);
                snprintf(name, sizeof name, "intra table wires %s/%s/%s", units[u], intras[in],
                         skips[s]);
                tdi_check_int((long long)ie->wire_pairs,
                              (long long)tdi_gen_intra_find(intras[in])->wires(D, ie->rank),
                              name);
                if (in == 1) {
                    snprintf(name, sizeof name, "intra rank %s/%s/%s (r, +k with sharedbus)",
                             units[u], intras[in], skips[s]);
                    tdi_check_int((long long)ie->rank, (long long)(s == 2 ? r + k : r), name);
                }
                tdi_gen_circuit_free(c);
                tdi_gen_bundle_destroy(&b);
            }
    tb_free(&t);
    /* a larger module through the randomised low-rank path with a rank cap */
    tb_make(&t, 40, 4, 3, 0.3, 0.2, 1, 12);
    tb_write(&t, SCR "/rb40", "rb40");
    tdi_gen_bundle b;
    tdi_gen_config cfg;
    tdi_err e;
    tdi_gen_circuit *c = build("name: rb40\ncircuit:\n  intra: lowrank\n  rank: 7\n"
                               "  skip: sharedbus\n", SCR "/rb40", &b, &cfg, &e);
    if (TDI_CHECK(c != NULL, "build D=40 lowrank rank 7 sharedbus")) {
        tdi_gen_text *tx = NULL;
        tdi_gen_netlist_text(c, TDI_GEN_COSIM, 0, 0, &tx, &e);
        char *txt = tdi_test_gen_join(tx);
        tdi_gen_readback rb;
        if (TDI_CHECK(tdi_gen_readback_parse(txt, "x", "y", &rb, &e) == 0, "readback D=40")) {
            double worst = 0, mx = 0;
            for (size_t i = 0; i < 80 * 80; i++) {
                worst = fmax(worst, fabs(rb.K[i] - c->phys.gu * t.M[i]));
                mx = fmax(mx, fabs(t.M[i]));
            }
            tdi_check_le(worst / (c->phys.gu * mx), 1e-9, "readback K == gu*M D=40 lowrank");
            tdi_check_int((long long)rb.n_bus, 2 * 7 + 4, "D=40 bus nodes: 2 x rank 7 + k 4");
            tdi_gen_readback_destroy(&rb);
        }
        free(txt);
        tdi_gen_text_free(tx);
        tdi_gen_circuit_free(c);
        tdi_gen_bundle_destroy(&b);
    }
    c = build("name: rb40\ncircuit:\n  intra: lowrank\n  rank: 6\n  skip: sharedbus\n",
              SCR "/rb40", &b, &cfg, &e);
    TDI_CHECK(c == NULL, "rank 6 < rank(J) + k = 7 is refused");
    tdi_check_contains(e.msg, "circuit.rank", "rank error names circuit.rank");
    tb_free(&t);
}

/* ---------- 2. ngspice runs ---------- */

/* Runs netlist text in ngspice -b; fills avg/rms per node index for sample 0. Returns 0 ok. */
static int run_ngspice(const char *txt, const char *tag, size_t N, const tdi_gen_circuit *c,
                       double *avg, double *rms, char **log_out)
{
    char cir[256], log[256], cmd[700];
    snprintf(cir, sizeof cir, SCR "/%s.cir", tag);
    snprintf(log, sizeof log, SCR "/%s.log", tag);
    tdi_test_write(cir, txt);
    snprintf(cmd, sizeof cmd, "ngspice -b %s > %s 2>&1", cir, log);
    (void)!system(cmd); /* the verdict is the printed measurements, not the exit status */
    char *out = tdi_test_slurp(log);
    if (!out)
        return -1;
    int found = 0;
    for (size_t i = 0; i < N; i++) {
        char key[64];
        snprintf(key, sizeof key, "\navg_%s_s0 ", c->nodes[i].name);
        char *p = strstr(out, key);
        if (p && sscanf(strchr(p, '=') + 1, "%lf", &avg[i]) == 1)
            found++;
        snprintf(key, sizeof key, "\nrms_%s_s0 ", c->nodes[i].name);
        p = strstr(out, key);
        if (p && sscanf(strchr(p, '=') + 1, "%lf", &rms[i]) == 1)
            found++;
    }
    *log_out = out;
    return found == (int)(2 * N) ? 0 : -1;
}

static void test_ngspice_stats(void)
{
    tbundle t;
    const size_t D = 8, k = 2, N = 16;
    /* well-conditioned M (eigenvalues ~0.5..2.5) so the averaging window stays short */
    tb_make(&t, D, k, 2, 1.0, 0.3, 2, 21);
    tb_write(&t, SCR "/ng", "ng");
    const double avg_relax = 1500;
    for (int u = 0; u < 2; u++) {
        char cfgt[512], name[160];
        /* theta 0.04 (Vs = 5 x the thermal scale): means well above the readout noise so a
           wrong circuit is many sigma off, node noise still well resolved */
        snprintf(cfgt, sizeof cfgt, "name: ng\ncircuit:\n  unit: %s\n  intra: lowrank\n"
                 "  rank: 4\n  skip: sharedbus\n  theta: 0.04\n  readout: all\n"
                 "  samples: [1]\n  noise_frac: 0.1\n  avg_relax: %g\n", u ? "rlc" : "rc",
                 avg_relax);
        tdi_gen_bundle b;
        tdi_gen_config cfg;
        tdi_err e;
        tdi_gen_circuit *c = build(cfgt, SCR "/ng", &b, &cfg, &e);
        if (!TDI_CHECK(c != NULL, u ? "build rlc D=8" : "build rc D=8")) {
            printf("    %s\n", e.msg);
            continue;
        }
        tdi_gen_text *tx = NULL;
        tdi_gen_netlist_text(c, TDI_GEN_STANDALONE, 0, 0, &tx, &e);
        char *txt = tdi_test_gen_join(tx);
        double avg[16], rms[16];
        char *logtext = NULL;
        int rc = run_ngspice(txt, u ? "ng_rlc" : "ng_rc", N, c, avg, rms, &logtext);
        snprintf(name, sizeof name, "ngspice -b runs the %s standalone netlist and prints "
                 "avg/rms of all 16 nodes", u ? "rlc" : "rc");
        if (TDI_CHECK(rc == 0, name)) {
            /* expected mean from an independent solve, in volts */
            double z[16], zw[16];
            tb_solve(&t, t.M, 1, z);
            /* a wrong circuit for the negative control: skip coupling with flipped sign */
            double *Mw = malloc(N * N * sizeof *Mw);
            memcpy(Mw, t.M, N * N * sizeof *Mw);
            for (size_t i = 0; i < D; i++)
                for (size_t j = 0; j < D; j++) {
                    Mw[i * N + D + j] = -Mw[i * N + D + j];
                    Mw[(D + j) * N + i] = -Mw[(D + j) * N + i];
                }
            tb_solve(&t, Mw, 1, zw);
            free(Mw);
            double chi2 = 0, chi2w = 0, worst = 0, ratio_sum = 0, worst_r = 0;
            for (size_t i = 0; i < N; i++) {
                double ex = c->phys.Vs * z[i], sd = c->readout_sd[i];
                double dz = (avg[i] - ex) / sd, dw = (avg[i] - c->phys.Vs * zw[i]) / sd;
                chi2 += dz * dz;
                chi2w += dw * dw;
                worst = fmax(worst, fabs(dz));
                double var = rms[i] * rms[i] - avg[i] * avg[i];
                double ratio = var / c->node_var[i];
                ratio_sum += ratio;
                worst_r = fmax(worst_r, fabs(ratio - 1));
            }
            printf("    %s: chi2/N of the means %.3f (flipped-skip circuit: %.1f), worst |z| "
                   "%.2f; variance ratio mean %.4f, worst |r-1| %.3f\n", u ? "rlc" : "rc",
                   chi2 / N, chi2w / N, worst, ratio_sum / N, worst_r);
            /* means: each node within 5 predicted readout sigmas (docs/physics.md 5; 16 nodes give
               a false-alarm rate ~1e-5), and chi2/N <= 4 (correlated nodes widen chi2) */
            snprintf(name, sizeof name, "%s node averages within 5 sigma of Vs*(M^-1 b)",
                     u ? "rlc" : "rc");
            tdi_check_le(worst, 5.0, name);
            snprintf(name, sizeof name, "%s chi2/N of the averages", u ? "rlc" : "rc");
            tdi_check_le(chi2 / N, 4.0, name);
            /* the library's comparison against analytic.npy reads the same log */
            double c2 = -1, zm = -1;
            snprintf(name, sizeof name, "%s tdi_gen_compare_log: chi2/N equals the test's (1e-6)",
                     u ? "rlc" : "rc");
            int crc = tdi_gen_compare_log(c, &b, logtext, NULL, &c2, &zm, &e);
            tdi_check_rel(crc == 0 ? c2 : NAN, chi2 / N, 1e-6, name);
            snprintf(name, sizeof name, "%s negative control: the same check rejects a "
                     "circuit with a flipped skip coupling (chi2/N > 4)", u ? "rlc" : "rc");
            TDI_CHECK(chi2w / N > 4.0, name);
            /* variances: relative std of a variance estimate over W is sqrt(2 t_c / W) with
               t_c <= t_slow, so <= sqrt(2/avg_relax) = 3.7%; 6 sigma per node (32 node checks
               over both kinds, and a variance estimate has a heavier upper tail than a normal),
               3 sigma for the mean over nodes (nodes are correlated: no 1/sqrt(N) credit) */
            double sig = sqrt(2.0 / avg_relax);
            snprintf(name, sizeof name, "%s node variances / ((kT/C)(M^-1)_ii): worst |r-1|",
                     u ? "rlc" : "rc");
            tdi_check_le(worst_r, 6 * sig, name);
            snprintf(name, sizeof name, "%s mean variance ratio", u ? "rlc" : "rc");
            tdi_check_near(ratio_sum / N, 1.0, 3 * sig, name);
        }
        free(logtext);
        free(txt);
        tdi_gen_text_free(tx);
        tdi_gen_circuit_free(c);
        tdi_gen_bundle_destroy(&b);
    }
    tb_free(&t);
}

/* ---------- 1b. node prefixes with digits (bug: cosim cut "e2x3" at the first digit) ---------- */
static void test_prefix_digits(void)
{
    tbundle t;
    const size_t D = 6, k = 2, r = 2, N = 2 * D;
    tb_make(&t, D, k, r, 0.3, 0.2, 2, 11);
    tb_write(&t, SCR "/pfx", "rb");
    double mx = 0;
    for (size_t i = 0; i < N * N; i++)
        mx = fmax(mx, fabs(t.M[i]));
    const char *units[] = {"rc", "rlc"};
    for (int u = 0; u < 2; u++) {
        char cfgt[256], name[160];
        snprintf(cfgt, sizeof cfgt, "name: rb\ncircuit:\n  unit: %s\n  skip: twobus\n"
                 "  enc_prefix: e2x\n  dec_prefix: d10y\n", units[u]);
        tdi_gen_bundle b;
        tdi_gen_config cfg;
        tdi_err e;
        tdi_err_clear(&e);
        tdi_gen_circuit *c = build(cfgt, SCR "/pfx", &b, &cfg, &e);
        snprintf(name, sizeof name, "prefix e2x/d10y (%s): circuit builds", units[u]);
        if (!TDI_CHECK(c != NULL, name)) {
            printf("    %s\n", e.msg);
            continue;
        }
        tdi_gen_text *tx = NULL;
        tdi_gen_netlist_text(c, TDI_GEN_COSIM, 0, 0, &tx, &e);
        char *txt = tdi_test_gen_join(tx);
        snprintf(name, sizeof name, "prefix e2x (%s): nodes comment names e2x0..e2x5, d10y0..",
                 units[u]);
        TDI_CHECK(strstr(txt, "* nodes: e2x0..e2x5 encoder, d10y0..d10y5 decoder") != NULL, name);
        tdi_gen_readback rb;
        int rc = tdi_gen_readback_parse(txt, "e2x", "d10y", &rb, &e);
        snprintf(name, sizeof name, "prefix e2x (%s): read-back finds 2D units", units[u]);
        if (TDI_CHECK(rc == 0 && rb.N == N, name)) {
            double worst = 0;
            for (size_t i = 0; i < N * N; i++)
                worst = fmax(worst, fabs(rb.K[i] - c->phys.gu * t.M[i]));
            snprintf(name, sizeof name, "prefix e2x (%s): read-back K == gu*M", units[u]);
            tdi_check_le(worst / (c->phys.gu * mx), 1e-9, name); /* as in test_readback */
            tdi_gen_readback_destroy(&rb);
        } else {
            printf("    %s\n", e.msg);
        }
        tdi_cosim_circuit *cc = NULL;
        rc = tdi_cosim_circuit_from_gen(c, 0, 0, &cc, &e);
        snprintf(name, sizeof name, "prefix e2x (%s): cosim takes the generated circuit",
                 units[u]);
        if (TDI_CHECK(rc == 0 && cc && cc->n == N, name)) {
            snprintf(name, sizeof name, "prefix e2x (%s): cosim unit names e2x5, d10y0",
                     units[u]);
            TDI_CHECK(strcmp(cc->node[D - 1], "e2x5") == 0 && strcmp(cc->node[D], "d10y0") == 0,
                      name);
        } else {
            printf("    %s\n", e.msg);
        }
        tdi_cosim_circuit_free(cc);
        free(txt);
        tdi_gen_text_free(tx);
        tdi_gen_circuit_free(c);
        tdi_gen_bundle_destroy(&b);
    }
    tb_free(&t);
}

/* normalised step error of one mode from rest (signed), see tdi_gen_circ.c mode_err */
static double mode_step(const tdi_gen_phys *p, double lam, double t)
{
    if (strcmp(p->unit->name, "rc") == 0)
        return exp(-lam * t / p->tau);
    double a = p->gd / p->Cp, w2 = p->gu * p->gu * lam / (p->Cu * p->Cp), disc = a * a - 4 * w2;
    if (fabs(disc) <= 1e-9 * a * a)
        return (1 + a / 2 * t) * exp(-a / 2 * t);
    if (disc > 0) {
        double r1 = (-a + sqrt(disc)) / 2, r2 = (-a - sqrt(disc)) / 2;
        return (r2 * exp(r1 * t) - r1 * exp(r2 * t)) / (r2 - r1);
    }
    double wd = sqrt(-disc) / 2;
    return exp(-a * t / 2) * (cos(wd * t) + a / (2 * wd) * sin(wd * t));
}

/* Noiseless step responses: rc and rlc waveforms against the exact modal solution, and the
   measured settling times (the oscillator's point: faster mixing for ill-conditioned M). */
static void test_relaxation(void)
{
    tbundle t;
    const size_t D = 8, k = 2, N = 16;
    tb_make(&t, D, k, 2, 0.06, 0.05, 1, 31); /* lambda_min ~ 0.05: ill-conditioned */
    tb_write(&t, SCR "/rx", "rx");
    gsl_matrix *Mm = gsl_matrix_alloc(N, N), *V = gsl_matrix_alloc(N, N);
    gsl_vector *lam = gsl_vector_alloc(N);
    for (size_t i = 0; i < N * N; i++)
        Mm->data[i] = t.M[i];
    gsl_eigen_symmv_workspace *ws = gsl_eigen_symmv_alloc(N);
    gsl_eigen_symmv(Mm, lam, V, ws);
    gsl_eigen_symmv_free(ws);
    double z[16];
    tb_solve(&t, t.M, 0, z);
    double tm[2] = {0, 0};
    for (int u = 0; u < 2; u++) {
        char cfgt[512], name[160];
        snprintf(cfgt, sizeof cfgt, "name: rx\ncircuit:\n  unit: %s\n  skip: twobus\n"
                 "  noise: false\n  settle_eps: 1.0e-3\n  avg_relax: 0.5\n", u ? "rlc" : "rc");
        tdi_gen_bundle b;
        tdi_gen_config cfg;
        tdi_err e;
        tdi_gen_circuit *c = build(cfgt, SCR "/rx", &b, &cfg, &e);
        if (!TDI_CHECK(c != NULL, "build relaxation circuit")) {
            printf("    %s\n", e.msg);
            continue;
        }
        tdi_gen_text *tx = NULL;
        tdi_gen_netlist_text(c, TDI_GEN_STANDALONE, 0, 0, &tx, &e);
        char *txt = tdi_test_gen_join(tx);
        /* replace the .control block by a waveform dump of all unit nodes */
        char *ctl = strstr(txt, ".control");
        char dat[128];
        snprintf(dat, sizeof dat, SCR "/rx_%s.dat", u ? "rlc" : "rc");
        char tail[4096] = ".control\nset noaskquit\nset wr_singlescale\nrun\nwrdata ";
        strcat(tail, dat);
        for (size_t i = 0; i < N; i++) {
            strcat(tail, " v(");
            strcat(tail, c->nodes[i].name);
            strcat(tail, ")");
        }
        strcat(tail, "\nquit 0\n.endc\n.end\n");
        size_t pre = (size_t)(ctl - txt);
        char *full = malloc(pre + strlen(tail) + 1);
        memcpy(full, txt, pre);
        strcpy(full + pre, tail);
        char cir[128], cmd[400];
        snprintf(cir, sizeof cir, SCR "/rx_%s.cir", u ? "rlc" : "rc");
        tdi_test_write(cir, full);
        snprintf(cmd, sizeof cmd, "ngspice -b %s > %s.log 2>&1", cir, cir);
        int rc = system(cmd) == -1;
        FILE *f = fopen(dat, "r");
        snprintf(name, sizeof name, "%s noiseless run writes waveforms", u ? "rlc" : "rc");
        if (TDI_CHECK(rc == 0 && f, name)) {
            double znorm = 0;
            for (size_t i = 0; i < N; i++)
                znorm += z[i] * z[i];
            znorm = sqrt(znorm) * c->phys.Vs;
            double worst = 0, tset = 0, tt, v[16];
            size_t rows = 0;
            while (fscanf(f, "%lf", &tt) == 1) {
                for (size_t i = 0; i < N; i++)
                    if (fscanf(f, "%lf", &v[i]) != 1)
                        v[i] = NAN;
                rows++;
                double en = 0;
                for (size_t i = 0; i < N; i++) {
                    /* exact: v(t) = Vs (z - sum_m V_m (V_m . z) f_m(t)) */
                    double ex = z[i];
                    for (size_t m = 0; m < N; m++) {
                        double cm = 0;
                        for (size_t j = 0; j < N; j++)
                            cm += gsl_matrix_get(V, j, m) * z[j];
                        ex -= gsl_matrix_get(V, i, m) * cm *
                              mode_step(&c->phys, gsl_vector_get(lam, m), tt);
                    }
                    worst = fmax(worst, fabs(v[i] - c->phys.Vs * ex));
                    double d = v[i] - c->phys.Vs * z[i];
                    en += d * d;
                }
                if (sqrt(en) > 1e-3 * znorm)
                    tset = tt;
            }
            fclose(f);
            tm[u] = tset;
            printf("    %s: %zu time points, worst |v - exact| / |v*| = %.3g, measured settle "
                   "(|e| <= 1e-3 |e0|) %.4g s = %.2f tau, predicted bound %.4g s\n",
                   u ? "rlc" : "rc", rows, worst / znorm, tset, tset / c->phys.tau,
                   c->phys.t_settle);
            /* 1e-2: trapezoidal integration with tmax = 0.05 of the fastest time and ngspice's
               reltol 1e-3 per step accumulate to well under 1% of |v*| */
            snprintf(name, sizeof name, "%s step response matches the exact modal solution",
                     u ? "rlc" : "rc");
            tdi_check_le(worst / znorm, 1e-2, name);
            snprintf(name, sizeof name, "%s measured settling time <= predicted bound (+2%%)",
                     u ? "rlc" : "rc");
            tdi_check_le(tset, 1.02 * c->phys.t_settle, name);
        }
        free(full);
        free(txt);
        tdi_gen_text_free(tx);
        tdi_gen_circuit_free(c);
        tdi_gen_bundle_destroy(&b);
    }
    /* the oscillator mixes faster: rate sqrt(lambda_min)/tau against lambda_min/tau */
    printf("    measured settling rc %.4g s, rlc %.4g s: ratio %.2f (sqrt(1/lambda_min) = %.2f)\n",
           tm[0], tm[1], tm[1] > 0 ? tm[0] / tm[1] : 0, 1 / sqrt(gsl_vector_min(lam)));
    tdi_check_le(2.0, tm[1] > 0 ? tm[0] / tm[1] : 0,
                 "rlc settles at least 2x faster than rc at lambda_min ~ 0.05");
    gsl_matrix_free(Mm);
    gsl_matrix_free(V);
    gsl_vector_free(lam);
    tb_free(&t);
}

/* ---------- 3. golden netlist ---------- */
static void test_golden(void)
{
    /* hand-made D = 2, k = 1 bundle with round numbers */
    tbundle t = {0};
    t.D = 2; t.k = 1; t.n = 1;
    double A[4] = {1.0, 0.25, 0.25, 1.5}, B[4] = {1.25, -0.5, -0.5, 2.0}, P[2] = {0.5, 0.25},
           Q[2] = {0.5, -0.5}, J0[4] = {0.25, 0.125, 0.125, 0.5};
    double M[16] = {0};
    for (size_t i = 0; i < 2; i++)
        for (size_t j = 0; j < 2; j++) {
            M[i * 4 + j] = A[i * 2 + j];
            M[(2 + i) * 4 + 2 + j] = B[i * 2 + j];
            M[i * 4 + 2 + j] = M[(2 + j) * 4 + i] = P[i] * Q[j];
        }
    /* b = M z for a dyadic z: b and the equilibrium are exact in double, so the bundle (and the
       hash in the golden header) does not depend on which BLAS kernels a solver would run
       (OpenBLAS picks them by CPU unless OPENBLAS_CORETYPE says otherwise) */
    const double z[4] = {1.0, -0.5, 0.5, 2.0};
    double bias[4] = {0};
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < 4; j++)
            bias[i] += M[i * 4 + j] * z[j];
    t.M = M; t.A = A; t.B = B; t.Je = J0; t.Jd = J0; t.P = P; t.Q = Q;
    t.be = bias; t.bd = bias + 2;
    t.an = z + 2;
    TDI_CHECK(tb_write(&t, SCR "/golden-bundle", "tiny") == 0, "golden bundle written");
    const char *cfgt = "name: tiny\ncircuit:\n  unit: rc\n  intra: dense\n  skip: sharedbus\n"
                       "  noise_dt: 1.0e-8\n  t_settle: 2.0e-5\n  t_avg: 1.0e-4\n";
    tdi_gen_bundle b;
    tdi_gen_config cfg;
    tdi_err e;
    tdi_gen_circuit *c = build(cfgt, SCR "/golden-bundle", &b, &cfg, &e);
    if (!TDI_CHECK(c != NULL, "golden circuit builds")) {
        printf("    %s\n", e.msg);
        return;
    }
    const char *files[2] = {"tests/golden/gen-tiny-standalone.cir", "tests/golden/gen-tiny-cosim.cir"};
    for (int m = 0; m < 2; m++) {
        tdi_gen_text *tx = NULL;
        tdi_gen_netlist_text(c, (tdi_gen_mode)m, 0, 0, &tx, &e);
        char *txt = tdi_test_gen_join(tx);
        if (getenv("TDI_GEN_UPDATE_GOLDEN"))
            tdi_test_write(files[m], txt);
        char *gold = tdi_test_slurp(files[m]);
        char name[160];
        snprintf(name, sizeof name, "golden %s byte for byte", files[m]);
        int same = gold && strcmp(gold, txt) == 0;
        TDI_CHECK(same, name);
        if (!same && gold) { /* show the first differing line */
            size_t i = 0, line = 1;
            while (gold[i] && gold[i] == txt[i]) {
                if (gold[i] == '\n')
                    line++;
                i++;
            }
            printf("    first difference at line %zu\n", line);
        }
        /* the streaming writer (what tdi-gen uses) gives the same bytes */
        char wpath[128];
        snprintf(wpath, sizeof wpath, SCR "/golden-stream-%d.cir", m);
        FILE *f = fopen(wpath, "w");
        int wrc = f ? tdi_gen_netlist_write(c, (tdi_gen_mode)m, 0, 0, f, &e) : -1;
        if (f)
            fclose(f);
        char *streamed = tdi_test_slurp(wpath);
        snprintf(name, sizeof name, "tdi_gen_netlist_write == tdi_gen_netlist_text (%s)",
                 m ? "cosim" : "standalone");
        TDI_CHECK(wrc == 0 && streamed && strcmp(streamed, txt) == 0, name);
        free(streamed);
        /* a full disk (unbuffered, so the first write fails): the cause, not just "failed" */
        f = fopen("/dev/full", "w");
        if (f)
            setvbuf(f, NULL, _IONBF, 0);
        wrc = f ? tdi_gen_netlist_write(c, (tdi_gen_mode)m, 0, 0, f, &e) : 0;
        if (f)
            fclose(f);
        tdi_check_int(wrc, TDI_EIO, "netlist write to /dev/full fails");
        tdi_check_contains(e.msg, "netlist write failed: No space left on device",
                           "netlist write to /dev/full: message has strerror(ENOSPC)");
        free(gold);
        free(txt);
        tdi_gen_text_free(tx);
    }
    tdi_gen_circuit_free(c);
    tdi_gen_bundle_destroy(&b);
}

/* ---------- 4. bad input ---------- */
static void expect_fail(const char *cfgt, const char *bundle, const char *needle, const char *what)
{
    tdi_gen_config cfg;
    tdi_err e;
    tdi_err_clear(&e);
    tdi_gen_config_init(&cfg);
    char outdir[256];
    snprintf(outdir, sizeof outdir, SCR "/bad-out");
    int rc = tdi_gen_config_load_string("bad.yaml", cfgt, &cfg, &e);
    if (!rc)
        rc = tdi_gen_run(&cfg, bundle, outdir, NULL, &e);
    char name[200];
    snprintf(name, sizeof name, "%s: refused", what);
    TDI_CHECK(rc != 0, name);
    snprintf(name, sizeof name, "%s: message", what);
    tdi_check_contains(e.msg, needle, name);
    snprintf(name, sizeof name, "%s: nothing written", what);
    TDI_CHECK(!exists(outdir), name);
}

static void test_bad_input(void)
{
    /* config text, bundle, expected message part, case name: each one is refused */
    static const struct { const char *cfg, *bundle, *needle, *what; } bad[] = {
        {"name: rb\ncircuit:\n  unit: rc\n skip: dense\n", SCR "/rb", "bad.yaml:4:2",
         "malformed YAML (line:col)"},
        {"name: rb\ncircuit:\n  unit: rc\n  skipp: dense\n", SCR "/rb", "bad.yaml:4:3",
         "unknown key with line:col"},
        {"name: rb\ncircut:\n  unit: rc\n", SCR "/rb", "unknown key", "misspelt section"},
        {"name: rb\ncircuit:\n  unit: rcl\n", SCR "/rb", "bad.yaml:3", "bad unit kind"},
        {"name: rb\ncircuit:\n  gu: 1.0e-6\n  tau: 1.0e-6\n", SCR "/rb", "both set", "gu and tau"},
        {"name: other\n", SCR "/rb", "does not match", "bundle preset != config name"},
        {"name: rb\ncircuit:\n  samples: [0, 5]\n", SCR "/rb", "circuit.samples[1]",
         "sample index beyond the bundle"},
        {"name: rb\ncircuit:\n  noise_dt: 1.0e-6\n", SCR "/rb", "too coarse",
         "noise interval too coarse"},
        {"name: rb\ncircuit:\n  enc_prefix: \"x 1\"\n", SCR "/rb", "enc_prefix",
         "node prefix with a space"},
        {"name: rb\ncircuit:\n  enc_prefix: x1\n", SCR "/rb", "enc_prefix",
         "node prefix ending in a digit"},
        {"name: rb\ncircuit:\n  enc_prefix: ux\n  dec_prefix: x\n", SCR "/rb", "collide",
         "colliding node prefixes"},
        {"name: rb\ncircuit:\n  skip: dense\n  wire_budget: 40\n", SCR "/rb", "wire_budget",
         "wire budget exceeded"},
        {"name: rb\ncircuit:\n  intra: lowrank\n  rank: 1\n", SCR "/rb", "circuit.rank",
         "intra rank too small"},
        {"name: rb\n", SCR "/missing", "manifest.yaml", "missing bundle"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_fail(bad[i].cfg, bad[i].bundle, bad[i].needle, bad[i].what);
    /* non-PD: a consistent bundle whose M is indefinite */
    tbundle t;
    tb_make(&t, 3, 1, 1, 0.3, 0.2, 1, 5);
    for (size_t i = 0; i < 3; i++) {
        t.A[i * 3 + i] -= 2.0;
        t.M[i * 6 + i] -= 2.0;
    }
    /* analytic is computed by tb_write with a Cholesky that fails on indefinite M: write the
       arrays, then the generator must refuse at its own PD check */
    tb_write(&t, SCR "/nonpd", "rb");
    expect_fail("name: rb\n", SCR "/nonpd", "not positive definite", "non-PD M");
    /* non-finite */
    t.M[1] = NAN;
    tb_write(&t, SCR "/nan", "rb");
    expect_fail("name: rb\n", SCR "/nan", "M.npy", "NaN in M");
    tb_free(&t);
    /* inconsistent bundle: M block differs from A */
    tb_make(&t, 3, 1, 1, 0.3, 0.2, 1, 6);
    tb_write(&t, SCR "/incons", "rb");
    t.A[0] += 0.5;
    tdi_test_wnpy(SCR "/incons", "A.npy", 3, 3, t.A);
    expect_fail("name: rb\n", SCR "/incons", "but A", "M block != A");
    tb_free(&t);
    /* the program: non-zero exit, nothing written */
    tdi_test_write(SCR "/bad-prog.yaml", "name: rb\ncircuit:\n  bogus: 1\n");
    int st = system("bin/tdi-gen " SCR "/bad-prog.yaml --bundle " SCR "/rb --out " SCR
                    "/bad-prog-out > " SCR "/bad-prog.log 2>&1");
    TDI_CHECK(st != 0, "bin/tdi-gen exits non-zero on an unknown key");
    TDI_CHECK(!exists(SCR "/bad-prog-out"), "bin/tdi-gen wrote nothing");
    tdi_test_write(SCR "/good-prog.yaml", "name: rb\ncircuit:\n  intra: lowrank\n  rank: 4\n");
    st = system("bin/tdi-gen " SCR "/good-prog.yaml --bundle " SCR "/rb --out " SCR
                "/good-prog-out > " SCR "/good-prog.log 2>&1");
    TDI_CHECK(st == 0 && exists(SCR "/good-prog-out/standalone.cir") &&
                  exists(SCR "/good-prog-out/cosim.cir") && exists(SCR "/good-prog-out/wires.json"),
              "bin/tdi-gen writes standalone.cir, cosim.cir, wires.json");
}

/* Issue 16, data loss: an output path that tdi did not write survives a run byte for byte; the
 * run fails at once naming it; tdi's own output (and the committed pre-marker netlist sets) is
 * replaced by a rerun. */
static void test_output_guard(void)
{
    static const char keep[] = "user notes, not tdi's\n";
    if (system("mkdir -p " SCR "/user-dir") != 0)
        return;
    tdi_test_write(SCR "/user-dir/notes.txt", keep);
    tdi_test_write(SCR "/user-file", keep);
    const char *cmds[] = {
        "bin/tdi-gen " SCR "/good-prog.yaml --bundle " SCR "/rb --out " SCR "/user-dir",
        "bin/tdi-gen " SCR "/good-prog.yaml --bundle " SCR "/rb --out " SCR "/user-file",
        "bin/tdi-gen --synth " SCR "/user-dir --D 4 --k 2 --n 2 --seed 1",
        "bin/tdi-cosim --synth-bundle " SCR "/user-dir 4 2 2 1"};
    const char *what[] = {"tdi-gen --out DIR", "tdi-gen --out FILE", "tdi-gen --synth DIR",
                          "tdi-cosim --synth-bundle DIR"};
    for (int i = 0; i < 4; i++) {
        char cmd[600], lab[128];
        snprintf(cmd, sizeof cmd, "%s > " SCR "/guard.log 2>&1", cmds[i]);
        int st = system(cmd);
        snprintf(lab, sizeof lab, "%s onto a non-tdi path: non-zero exit", what[i]);
        TDI_CHECK(st != 0, lab);
        char *log = tdi_test_slurp(SCR "/guard.log");
        snprintf(lab, sizeof lab, "%s: the error names the path", what[i]);
        tdi_check_contains(log ? log : "", i == 1 ? SCR "/user-file exists and was not written "
                           "by tdi" : SCR "/user-dir exists and was not written by tdi", lab);
        free(log);
        char *a = tdi_test_slurp(SCR "/user-dir/notes.txt"), *b = tdi_test_slurp(SCR "/user-file");
        snprintf(lab, sizeof lab, "%s: the user's files survive byte for byte", what[i]);
        TDI_CHECK(a && b && !strcmp(a, keep) && !strcmp(b, keep), lab);
        free(a);
        free(b);
    }
    TDI_CHECK(system("test \"$(ls -A " SCR "/user-dir)\" = notes.txt") == 0 &&
                  system("ls -d " SCR "/user-dir.* " SCR "/user-file.* >/dev/null 2>&1") != 0,
              "refused runs wrote nothing (no file added, no temporaries)");
    /* a rerun into tdi's own output replaces it */
    int st = system("bin/tdi-gen " SCR "/good-prog.yaml --bundle " SCR "/rb --out " SCR
                    "/good-prog-out > " SCR "/guard.log 2>&1");
    TDI_CHECK(st == 0 && exists(SCR "/good-prog-out/" TDI_DIR_MARKER),
              "rerun into a tdi-written directory replaces it (marker present)");
    /* a netlist set written before the marker existed (as committed under netlists/) */
    st = system("rm -rf " SCR "/legacy && cp -r netlists/example-rc " SCR "/legacy && "
                "bin/tdi-gen " SCR "/good-prog.yaml --bundle " SCR "/rb --out " SCR
                "/legacy > " SCR "/guard.log 2>&1");
    TDI_CHECK(st == 0 && exists(SCR "/legacy/" TDI_DIR_MARKER),
              "a pre-marker tdi-gen netlist set is recognised and replaced");
}

/* Entries of dir other than . and .. (-1 when it cannot be opened). */
static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *de; (de = readdir(d));)
        n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* Runs bin/tdi-<prog> ARGS in the empty directory SCR/help (stdout, stderr to SCR/help.out,
 * .err); returns its exit status, -1 when it did not exit normally. */
static int run_in_help_dir(const char *prog, const char *args)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cd " SCR "/help && ../../../bin/tdi-%s %s >../help.out "
             "2>../help.err", prog, args);
    int st = system(cmd);
    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Every program in bin/: --help and -h print the usage to stdout and exit 0 without touching
 * any file (tdi-cosim used to open a config named "--help"); an unknown option prints the usage
 * to stderr and exits 2. */
static void test_help(void)
{
    static const char *const progs[] = {"unet", "fit", "gen", "cosim", "sweep"};
    if (system("mkdir -p " SCR "/help") != 0)
        printf("cannot create " SCR "/help\n");
    for (size_t i = 0; i < sizeof progs / sizeof progs[0]; i++) {
        char name[160], want[64];
        snprintf(want, sizeof want, "usage: tdi-%s", progs[i]);
        for (int h = 0; h < 2; h++) {
            const char *opt = h ? "-h" : "--help";
            snprintf(name, sizeof name, "tdi-%s %s: exit 0", progs[i], opt);
            tdi_check_int(run_in_help_dir(progs[i], opt), 0, name);
            char *out = tdi_test_slurp(SCR "/help.out");
            snprintf(name, sizeof name, "tdi-%s %s: usage on stdout", progs[i], opt);
            tdi_check_contains(out, want, name);
            free(out);
            snprintf(name, sizeof name, "tdi-%s %s: no file written", progs[i], opt);
            tdi_check_int(dir_entries(SCR "/help"), 0, name);
        }
        snprintf(name, sizeof name, "tdi-%s --no-such-option: exit 2", progs[i]);
        tdi_check_int(run_in_help_dir(progs[i], "--no-such-option"), 2, name);
        char *out = tdi_test_slurp(SCR "/help.out"), *err = tdi_test_slurp(SCR "/help.err");
        snprintf(name, sizeof name, "tdi-%s --no-such-option: stdout empty", progs[i]);
        TDI_CHECK(out && !out[0], name);
        snprintf(name, sizeof name, "tdi-%s --no-such-option: usage on stderr", progs[i]);
        tdi_check_contains(err, want, name);
        free(out);
        free(err);
    }
}

int main(void)
{
    gsl_set_error_handler_off();
    tdi_err e;
    if (system("rm -rf " SCR " && mkdir -p " SCR) != 0 || tdi_mkdirs(SCR, &e)) {
        printf("cannot create " SCR "\n");
        return 1;
    }
    test_help();
    test_readback();
    test_prefix_digits();
    test_golden();
    test_bad_input();
    test_output_guard();
    test_relaxation();
    test_ngspice_stats();
    TDI_TEST_END();
}
