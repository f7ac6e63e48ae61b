/* test_calib: chip calibration (cosim.calibrate, docs/nonideal.md "Calibration"). A hand-made
 * chip with a known gain error on one encoder channel: the probe fit recovers its map and the
 * retrained encoder its design map, both to the probes' noise floor; one with known decoder
 * self-element errors: the output correction after the ADC (not the encoder) brings it to its
 * noise floor; synthetic skip chips (offsets; gain and self mismatch) and a paper chip are
 * calibrated back to the design circuit; probe draws reproducible from (seed, chip,
 * calib_draw); calibrate none (and the main rows of a calibrated run) bit for bit as without
 * the key; the paper mode's loop refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_cosim.h"
#include "tdi_seed.h"
#include "tdi_test.h"
#include "tdi_test_job.h"

#define ROOT "build/test-calib"
#define D 6
#define K 2
#define P 400

/* design He (rank K, fixed numbers), W2 (D, K), F = He W2 */
static void design(double *He, double *W2, double *F)
{
    for (size_t i = 0; i < D; i++) /* rank K = 2: two outer products */
        for (size_t q = 0; q < D; q++)
            He[i * D + q] = 0.3 * sin(1.0 + i) * cos(0.4 * q + 0.2) +
                            0.2 * cos(2.0 * i + 0.5) * sin(0.3 + q);
    for (size_t q = 0; q < D; q++)
        for (size_t r = 0; r < K; r++)
            W2[q * K + r] = cos(0.9 * q + 1.3 * r) + (q == r);
    for (size_t i = 0; i < D; i++)
        for (size_t r = 0; r < K; r++) {
            F[i * K + r] = 0;
            for (size_t q = 0; q < D; q++)
                F[i * K + r] += He[i * D + q] * W2[q * K + r];
        }
}

/* |He (W2 + Delta) - F|_F / |F|_F (Delta NULL: 0) */
static double map_resid(const double *He, const double *W2, const double *Dl, const double *F)
{
    double n = 0, d = 0;
    for (size_t i = 0; i < D; i++)
        for (size_t r = 0; r < K; r++) {
            double a = 0;
            for (size_t q = 0; q < D; q++)
                a += He[i * D + q] * (W2[q * K + r] + (Dl ? Dl[q * K + r] : 0));
            n += (a - F[i * K + r]) * (a - F[i * K + r]);
            d += F[i * K + r] * F[i * K + r];
        }
    return sqrt(n / d);
}

static void hand_chip(void)
{
    tdi_err err = {0};
    static double He[D * D], W2[D * K], F[D * K], Hc[D * D], X[P * D], Y[P * D], H[D * D];
    double y0[D], Dl[D * K], y0t[D] = {0.1, -0.2, 0.05, 0.0, 0.3, -0.1};
    const double amp = 0.5, sigma = 1e-3, gain = 1.10; /* channel 1 of the DAC: +10 % */
    design(He, W2, F);
    for (size_t i = 0; i < D * D; i++)
        Hc[i] = He[i] * (i % D == 1 ? gain : 1.0);
    for (size_t p = 0; p < P; p++) { /* probes and their noisy read-out, seeded */
        for (size_t q = 0; q < D; q++)
            X[p * D + q] = amp * tdi_seed_gauss(77, q, 2 * p + 1);
        for (size_t i = 0; i < D; i++) {
            double y = y0t[i] + sigma * tdi_seed_gauss(77, i, 2 * p + 2);
            for (size_t q = 0; q < D; q++)
                y += Hc[i * D + q] * X[p * D + q];
            Y[p * D + i] = y;
        }
    }
    int rc = tdi_cosim_calib_affine(X, Y, P, D, D, 0.0, H, y0, &err);
    tdi_check_ok(rc, &err, "hand chip: affine fit runs");
    /* one coefficient's standard error: sigma / (amp sqrt(P)) (probe variance amp^2) */
    double se = sigma / (amp * sqrt((double)P)), emax = 0;
    for (size_t q = 0; q < D * D; q++)
        emax = fmax(emax, fabs(H[q] - Hc[q]));
    tdi_check_le(emax, 5 * se, "hand chip: max |H_fit - H_chip| within 5 standard errors "
                 "(36 coefficients: 4.4 se is exceeded with probability 4e-4)");
    tdi_check_near(H[0 * D + 1] / He[0 * D + 1], gain, 5 * se / fabs(He[1]),
                   "hand chip: the gain error of channel 1 recovered (5 standard errors)");
    tdi_check_near(y0[4], y0t[4], 5 * sigma / sqrt((double)P) * 2,
                   "hand chip: offset recovered (5 se, x2 for the fitted slope's share)");
    double before = map_resid(Hc, W2, NULL, F);
    rc = tdi_cosim_calib_truncate(H, D, K, &err) ||
         tdi_cosim_calib_encoder(H, W2, F, D, K, 1e-9, Dl, &err);
    tdi_check_ok(rc, &err, "hand chip: rank-K truncation and encoder correction run");
    double after = map_resid(Hc, W2, Dl, F), wn = 0, fn = 0;
    for (size_t q = 0; q < D * K; q++) {
        wn += (W2[q] + Dl[q]) * (W2[q] + Dl[q]);
        fn += F[q] * F[q];
    }
    /* noise floor of the calibrated map: E|dH W|_F^2 = se^2 D |W|_F^2 */
    double floor = se * sqrt((double)D * wn / fn);
    tdi_check_le(after, 3 * floor, "hand chip: calibrated map within 3x its noise floor");
    tdi_check_le(30 * floor, before, "hand chip: the uncalibrated error is 30x that floor (the "
                 "check above can fail)");
}

/* |(I + U Vt) A - F|_F / |F|_F (U NULL: |A - F|_F / |F|_F), A, F (D, K) */
static double out_resid(const double *U, const double *Vt, const double *A, const double *F)
{
    double n = 0, d = 0;
    for (size_t i = 0; i < D; i++)
        for (size_t r = 0; r < K; r++) {
            double a = A[i * K + r];
            for (size_t s = 0; s < K && U; s++)
                for (size_t q = 0; q < D; q++)
                    a += U[i * K + s] * Vt[s * D + q] * A[q * K + r];
            n += (a - F[i * K + r]) * (a - F[i * K + r]);
            d += F[i * K + r] * F[i * K + r];
        }
    return sqrt(n / d);
}

/* A hand-made chip whose decoder units have self-element errors eps_i (known): the design's
 * decoder block Md = I + intra coupling turns the bus signal s into Md^-1 s, the chip's into
 * (Md + diag eps)^-1 s, so Hc = T He with T = (Md + diag eps)^-1 Md: a D x D mixing after the
 * rank-K path, which no encoder correction (it acts before the path) can undo. Probes as in
 * hand_chip; the output correction after the ADC brings the chip to its noise floor. */
static void out_chip(void)
{
    tdi_err err = {0};
    static double He[D * D], W2[D * K], F[D * K], Md[D * D], Mc[D * D], Hc[D * D];
    static double X[P * D], Y[P * D], H[D * D], W[D * K], A[D * K], Ac[D * K];
    double y0[D], Dl[D * K], U[D * K], Vt[K * D], col[D], e[D];
    const double eps[D] = {0.08, -0.06, 0.1, -0.09, 0.05, -0.07};
    const double amp = 0.5, sigma = 1e-3;
    design(He, W2, F);
    for (size_t i = 0; i < D * D; i++) { /* Md: unit diagonal, intra coupling 0.2 cos(i + q) */
        size_t r = i / D, q = i % D;
        Md[i] = r == q ? 1.0 : 0.2 * cos((double)(r + q));
        Mc[i] = Md[i] + (r == q ? eps[r] : 0.0);
    }
    int rc = 0;
    for (size_t q = 0; q < D && !rc; q++) { /* Hc = Mc^-1 (Md He), column by column */
        for (size_t i = 0; i < D; i++) {
            col[i] = 0;
            for (size_t t = 0; t < D; t++)
                col[i] += Md[i * D + t] * He[t * D + q];
        }
        rc = tdi_cosim_calib_solve(Mc, col, D, e, &err);
        for (size_t i = 0; i < D; i++)
            Hc[i * D + q] = e[i];
    }
    for (size_t p = 0; p < P; p++) { /* probes: the same draws as hand_chip, seed 78 */
        for (size_t q = 0; q < D; q++)
            X[p * D + q] = amp * tdi_seed_gauss(78, q, 2 * p + 1);
        for (size_t i = 0; i < D; i++) {
            double y = 0.1 * (double)i + sigma * tdi_seed_gauss(78, i, 2 * p + 2);
            for (size_t q = 0; q < D; q++)
                y += Hc[i * D + q] * X[p * D + q];
            Y[p * D + i] = y;
        }
    }
    rc = rc || tdi_cosim_calib_affine(X, Y, P, D, D, 0.0, H, y0, &err) ||
         tdi_cosim_calib_truncate(H, D, K, &err) ||
         tdi_cosim_calib_encoder(H, W2, F, D, K, 1e-9, Dl, &err);
    for (size_t q = 0; q < D * K; q++)
        W[q] = W2[q] + Dl[q];
    for (size_t i = 0; i < D; i++) /* the fitted and the true code-to-output maps */
        for (size_t r = 0; r < K; r++) {
            A[i * K + r] = Ac[i * K + r] = 0;
            for (size_t q = 0; q < D; q++) {
                A[i * K + r] += H[i * D + q] * W[q * K + r];
                Ac[i * K + r] += Hc[i * D + q] * W[q * K + r];
            }
        }
    rc = rc || tdi_cosim_calib_outmap(A, F, D, K, 1e-9, U, Vt, &err);
    tdi_check_ok(rc, &err, "decoder mismatch: fit, encoder and output correction run");
    double kn = 0, wn = 0, fn = 0; /* |I + U Vt|_F^2, |W|_F^2, |F|_F^2 */
    for (size_t i = 0; i < D; i++)
        for (size_t q = 0; q < D; q++) {
            double v = i == q;
            for (size_t r = 0; r < K; r++)
                v += U[i * K + r] * Vt[r * D + q];
            kn += v * v;
        }
    for (size_t q = 0; q < D * K; q++) {
        wn += W[q] * W[q];
        fn += F[q] * F[q];
    }
    /* the corrected map is F - K dH W (dH the fit's error, iid with the standard error se):
       E|K dH W|_F^2 = se^2 |K|_F^2 |W|_F^2 */
    double se = sigma / (amp * sqrt((double)P)), floor = se * sqrt(kn * wn / fn);
    double before = out_resid(NULL, NULL, Ac, F), after = out_resid(U, Vt, Ac, F);
    tdi_check_le(after, 3 * floor, "decoder mismatch: the output correction brings the chip's "
                 "map within 3x its noise floor");
    tdi_check_le(30 * floor, before, "decoder mismatch: with the encoder correction only it "
                 "stays 30x above that floor (the check above can fail)");
}

static const char *chip_sec =
    "circuit:\n  bundle: " ROOT "/substrate\n  unit: rc\n  theta: 1.0e-3\n  intra: dense\n"
    "  skip: sharedbus\n  chip: 2\n  nonideal:\n    offset_sigma: 0.002\n"
    "cosim:\n  n_samples: 24\n  avg_relax: 2\n  spice: false\n  sde: false\n  progress: false\n"
    "  paper_row: false\n  dac_bits: 14\n";

static char *run(const char *root, const char *extra, const char *name, const char *file)
{
    tdi_err err = {0};
    char sec[2048], path[600];
    snprintf(sec, sizeof sec, "%s%s", chip_sec, extra);
    char *js = tdi_test_job_run(root, sec, name, &err);
    free(js);
    snprintf(path, sizeof path, "%s/cosim/%s", root, file);
    return js ? tdi_test_slurp(path) : NULL;
}

/* the job of chip_sec with 5 % gain and self mismatch instead of its offsets, plus extra */
static char *run_ni(const char *root, const char *extra, const char *name)
{
    tdi_err err = {0};
    char sec[2048], path[600];
    snprintf(sec, sizeof sec, "%s%s", chip_sec, extra);
    char *o = strstr(sec, "    offset_sigma: 0.002\n");
    if (o) {
        const char *ni = "    gain_sigma: 0.05\n    self_sigma: 0.05\n";
        memmove(o + strlen(ni), o + strlen("    offset_sigma: 0.002\n"),
                strlen(o + strlen("    offset_sigma: 0.002\n")) + 1);
        memcpy(o, ni, strlen(ni));
    }
    free(tdi_test_job_run(root, sec, name, &err));
    snprintf(path, sizeof path, "%s/cosim/results.json", root);
    return tdi_test_slurp(path);
}

/* the cos_centered of row name in results.json text js (NAN when absent) */
static double cc_of(const char *js, const char *row)
{
    char key[96];
    snprintf(key, sizeof key, "\"%s\"", row);
    const char *p = js ? strstr(js, key) : NULL;
    p = p ? strstr(p, "\"cos_centered\":") : NULL;
    return p ? atof(p + 15) : NAN;
}

static void job_chip(void)
{
    tdi_err err = {0};
    if (!TDI_CHECK(tdi_test_job_bundle(ROOT, 8, 2, 24, 11, 1, &err) == 0, "synthetic skip bundle"))
        return;
    char *js = run(ROOT "-p", "  calibrate: probe\n  calib_noise: false\n  calib_probes: 200\n",
                   "offsets only, noiseless probes: job runs", "results.json");
    double des = cc_of(js, "design_analytic"), cal = cc_of(js, "calibrated_analytic");
    double unc = cc_of(js, "analytic");
    /* an affine chip, noiseless probes on the DAC's code grid: the fit is exact but for its
       ridge (1e-4 relative); the calibrated biases fall on other 14-bit DAC codes than the
       design's. Measured 5e-4 apart; 1e-3 bounds both */
    tdi_check_near(cal, des, 1e-3, "offsets only: calibrated chip = design circuit (1e-3)");
    tdi_check_le(0.05, des - unc, "offsets only: the uncalibrated chip is 0.05 below the design "
                 "(the checks above can fail)");
    free(js);
    /* self-element and gain mismatch, noiseless probes: the projected encoder and the output
       correction (the defaults) against the design's full encoder and the gains alone */
    const char *mm = "  calibrate: probe\n  calib_noise: false\n  calib_probes: 200\n";
    char sec[512];
    snprintf(sec, sizeof sec, "%s  calib_output: none\n  calib_encoder: full\n", mm);
    char *j0 = run_ni(ROOT "-m0", sec, "mismatch, gains only: job runs");
    char *j1 = run_ni(ROOT "-m1", mm, "mismatch, default calibration: job runs");
    double d1 = cc_of(j1, "design_analytic"), c0 = cc_of(j0, "calibrated_analytic");
    double c1 = cc_of(j1, "calibrated_analytic");
    /* an affine chip, noiseless probes: exact but for the ridge and the 14-bit DAC grid
       (measured 2e-6 apart); the old calibration is 0.011 away (the chip's bus reads A x
       outside the design's code space, and the rank-k path lands in the chip's directions) */
    tdi_check_near(c1, d1, 1e-4, "mismatch: calibrated chip = design circuit (1e-4)");
    tdi_check_le(0.005, fabs(c0 - d1), "mismatch: with the design's full encoder and the gains "
                 "only, 0.005 or more away (the check above can fail)");
    free(j0), free(j1);
    char *a = run(ROOT "-a", "  calibrate: probe\n  calib_probes: 100\n", "noisy probes: run a",
                  "calib.csv");
    char *b = run(ROOT "-b", "  calibrate: probe\n  calib_probes: 100\n", "noisy probes: run b",
                  "calib.csv");
    char *c = run(ROOT "-c", "  calibrate: probe\n  calib_probes: 100\n  calib_draw: 1\n",
                  "noisy probes, calib_draw 1: run c", "calib.csv");
    TDI_CHECK(a && b && strcmp(a, b) == 0, "probe draws reproducible: same (seed, chip, draw), "
              "same calib.csv");
    TDI_CHECK(a && c && strcmp(a, c) != 0, "another calib_draw: other probes, other numbers");
    free(a), free(b), free(c);
    char *n0 = run(ROOT "-n0", "", "no calibrate key: job runs", "samples.csv");
    char *n1 = run(ROOT "-n1", "  calibrate: none\n", "calibrate none: job runs", "samples.csv");
    char *n2 = run(ROOT "-n2", "  calibrate: loop\n  calib_probes: 100\n",
                   "calibrate loop: job runs", "samples.csv");
    TDI_CHECK(n0 && n1 && strcmp(n0, n1) == 0, "calibrate none: samples.csv bit for bit");
    TDI_CHECK(n0 && n2 && strcmp(n0, n2) == 0, "calibrate loop: the main rows bit for bit");
    char *r1 = tdi_test_slurp(ROOT "-n1/cosim/results.json");
    TDI_CHECK(r1 && !strstr(r1, "calibration"), "calibrate none: no calibration member");
    char *cv = tdi_test_slurp(ROOT "-n1/cosim/calib.csv");
    TDI_CHECK(!cv, "calibrate none: no calib.csv");
    free(n0), free(n1), free(n2), free(r1), free(cv);
}

static const char *paper_sec =
    "circuit:\n  bundle: " ROOT "-paper/substrate\n  unit: rc\n  theta: 1.0e-3\n  intra: dense\n"
    "  skip: sharedbus\n  chip: 2\n  nonideal:\n    offset_sigma: 0.002\n    self_sigma: 0.05\n"
    "cosim:\n  n_samples: 24\n  avg_relax: 2\n  spice: false\n  sde: false\n  progress: false\n"
    "  paper_row: false\n  dac_bits: 14\n";

/* the paper mode: its interface refitted by probe (offsets and self mismatch, noiseless probes)
 * gives the design circuit; the loop is refused */
static void paper_chip(void)
{
    tdi_err err = {0};
    if (!TDI_CHECK(tdi_test_job_bundle(ROOT "-paper", 8, 2, 24, 11, 0, &err) == 0,
                   "synthetic paper bundle"))
        return;
    char sec[1024], path[256];
    snprintf(sec, sizeof sec, "%s  calibrate: probe\n  calib_noise: false\n  calib_probes: 200\n",
             paper_sec);
    free(tdi_test_job_run(ROOT "-paper-p", sec, "paper mode, probe: job runs", &err));
    snprintf(path, sizeof path, "%s/cosim/results.json", ROOT "-paper-p");
    char *js = tdi_test_slurp(path);
    double des = cc_of(js, "design_analytic"), cal = cc_of(js, "calibrated_analytic");
    double unc = cc_of(js, "analytic");
    /* exact but for the ridge (1e-4 relative) and the 14-bit DAC grid, as the skip chips
       (measured 4.8e-4 apart) */
    tdi_check_near(cal, des, 1e-3, "paper mode: refitted interface = design circuit (1e-3)");
    tdi_check_le(0.01, fabs(des - unc), "paper mode: the uncalibrated chip is 0.01 or more "
                 "away (the check above can fail)");
    free(js);
    tdi_cosim_cfg cfg;
    snprintf(sec, sizeof sec, "%s  calibrate: loop\n", paper_sec);
    int rc = tdi_test_job_config(ROOT "-paper", sec, &cfg, &err);
    if (!rc)
        rc = tdi_cosim_app_run(&cfg, NULL, &err);
    tdi_check_int(rc, TDI_ECONFIG, "paper mode: calibrate loop refused");
    tdi_check_contains(err.msg, "by probe only", "the message names what it needs");
}

int main(void)
{
    hand_chip();
    out_chip();
    job_chip();
    paper_chip();
    TDI_TEST_END();
}
