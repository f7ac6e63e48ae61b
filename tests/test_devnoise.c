/* test_devnoise: the device-noise stream of transistor-level co-simulation (cosim/
 * tdi_cosim_devnoise.c, docs/noise.md): the synthesised 1/f model against its target over the
 * band (deterministic ripple), the generated samples' Welch PSD against the model within the
 * estimate's statistical bound (white and 1/f bands), the Welch estimator on white noise, and
 * reproducibility (same seed: same samples, whatever the access order). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "tdi_cosim.h"
#include "tdi_test.h"

#define TICK 50e-9         /* s: the co-simulation tick of the shipped presets' order */
#define SEG 4096           /* Welch segment */
#define NS (1L << 20)      /* samples per device */
#define NDEV 4             /* independent devices, averaged */

/* max |S_model f / psd_f1 - 1| of the flicker part over [f_lo, f_ny / 10] on a log grid */
static double model_ripple(const tdi_cosim_devnoise *dn, double *worst_f)
{
    double f_ny = 0.5 / TICK, worst = 0;
    tdi_cosim_devnoise one = *dn; /* the model with the white part off and unit 1/f */
    double zero = 0, unit = 1;
    one.amp_w = &zero;
    one.amp_f = &unit;
    for (int i = 0; i <= 2000; i++) {
        double f = dn->f_lo * pow(f_ny / 10 / dn->f_lo, i / 2000.0);
        double e = fabs(tdi_cosim_devnoise_psd(&one, 0, f) * f - 1.0);
        if (e > worst) {
            worst = e;
            *worst_f = f;
        }
    }
    return worst;
}

/* mean of Welch / model over every second bin of [f_a, f_b] (Hann bins two apart are nearly
 * uncorrelated, docs/noise.md); *nb bins used */
static double band_ratio(const double *psd, const tdi_cosim_devnoise *dn, double fs, double f_a,
                         double f_b, size_t *nb)
{
    double s = 0;
    *nb = 0;
    for (size_t k = 4; k <= SEG / 2; k += 2) {
        double f = (double)k * fs / SEG;
        if (f < f_a || f > f_b)
            continue;
        s += psd[k] / tdi_cosim_devnoise_psd(dn, 0, f);
        (*nb)++;
    }
    return *nb ? s / (double)*nb : NAN;
}

static void test_psd(void)
{
    tdi_err err = {0};
    double fs = 1.0 / TICK, f_lo = fs / 1024, psd_w[NDEV], psd_f1[NDEV];
    for (int d = 0; d < NDEV; d++) {
        psd_w[d] = 1e-24;                  /* A^2/Hz: ~ 4 kT gm / 2 at gm = 0.1 mS */
        psd_f1[d] = psd_w[d] * (fs / 64);  /* flicker corner at fs / 64 = 312.5 kHz */
    }
    tdi_cosim_devnoise dn;
    uint64_t seed = tdi_seed(7, TDI_SEED_DEVNOISE, 0);
    if (tdi_cosim_devnoise_init(&dn, NDEV, psd_w, psd_f1, TICK, f_lo, seed, &err)) {
        TDI_CHECK(0, err.msg);
        return;
    }
    double wf = 0, rip = model_ripple(&dn, &wf);
    printf("info: %zu poles for [%g Hz, %g Hz]; 1/f model ripple %.4f at %g Hz\n", dn.n_pole,
           f_lo, fs / 2, rip, wf);
    /* 3 poles per decade, two decades below f_lo: 0.4% at f_lo, +1.6% at f_ny / 10 from the
       sampled sequence's aliasing (docs/noise.md) */
    tdi_check_le(rip, 0.02, "1/f model within 2% of psd_f1 / f over [f_lo, f_ny / 10]");

    double *x = malloc(sizeof(double) * NS * NDEV), v[NDEV];
    double *psd = calloc(SEG / 2 + 1, sizeof(double));
    double *one = malloc(sizeof(double) * (SEG / 2 + 1));
    if (!x || !psd || !one) {
        TDI_CHECK(0, "out of memory");
        return;
    }
    for (long j = 0; j < NS; j++) {
        tdi_cosim_devnoise_at(&dn, j, v);
        for (int d = 0; d < NDEV; d++)
            x[(size_t)d * NS + (size_t)j] = v[d];
    }
    size_t nseg = 0;
    for (int d = 0; d < NDEV && !err.code; d++) {
        tdi_cosim_welch(x + (size_t)d * NS, NS, SEG, fs, one, &nseg, &err);
        for (size_t k = 0; k <= SEG / 2; k++)
            psd[k] += one[k] / NDEV;
    }
    /* Hann, 50% overlap: one bin's relative std is 1/sqrt(K), K = m / (1 + 2 (1/6)^2 ...) ~
       0.95 m averages of m segments (Welch 1967); the band mean of nb near-independent bins
       has std 1/sqrt(0.95 m nb); 4 sigma */
    double K = 0.95 * (double)(nseg * NDEV);
    size_t nb;
    double r1 = band_ratio(psd, &dn, fs, 4 * f_lo, fs / 128, &nb);
    tdi_check_near(r1, 1.0, 4.0 / sqrt(K * (double)nb), "1/f band: Welch / model (4 sigma)");
    double r2 = band_ratio(psd, &dn, fs, fs / 8, fs / 2.5, &nb);
    tdi_check_near(r2, 1.0, 4.0 / sqrt(K * (double)nb), "white band: Welch / model (4 sigma)");
    /* against the target psd_w + psd_f1 / f: the model's ripple plus the statistics */
    double s = 0;
    nb = 0;
    for (size_t k = 4; k <= SEG / 2; k += 2) {
        double f = (double)k * fs / SEG;
        if (f < 4 * f_lo || f > fs / 128)
            continue;
        s += psd[k] / (psd_w[0] + psd_f1[0] / f);
        nb++;
    }
    tdi_check_near(s / (double)nb, 1.0, rip + 4.0 / sqrt(K * (double)nb),
                   "1/f band: Welch / (psd_w + psd_f1 / f) (ripple + 4 sigma)");
    free(x);
    free(psd);
    free(one);
    tdi_cosim_devnoise_destroy(&dn);
}

/* Welch on unit white noise: the estimator's scale (two-sided density 1/fs per unit variance) */
static void test_welch_white(void)
{
    tdi_err err = {0};
    size_t n = 1 << 18;
    double fs = 1e6, *x = malloc(sizeof(double) * n), *psd = malloc(sizeof(double) * 257);
    for (size_t i = 0; i < n; i++)
        x[i] = tdi_cosim_noise_gauss(3, 0, i);
    size_t m = 0;
    int rc = tdi_cosim_welch(x, n, 512, fs, psd, &m, &err);
    TDI_CHECK(rc == 0, "welch runs");
    double s = 0;
    for (size_t k = 2; k < 256; k++)
        s += psd[k];
    s /= 254.0;
    /* 254 bins (adjacent Hann bins correlate: count half), 0.95 m averages each; 4 sigma */
    tdi_check_near(s * fs, 1.0, 4.0 / sqrt(0.95 * (double)m * 127.0),
                   "welch: unit white noise has two-sided density 1 / fs");
    rc = tdi_cosim_welch(x, n, 500, fs, psd, &m, &err);
    tdi_check_int(rc, TDI_EARG, "welch: a segment that is not a power of 2 is an error");
    free(x);
    free(psd);
}

/* same seed, same samples: in order, after a restart (a step back), and from a fresh generator */
static void test_repro(void)
{
    tdi_err err = {0};
    double w[3] = {1e-24, 2e-24, 0}, f1[3] = {1e-19, 0, 3e-19}, a[3], b[3], c[3];
    tdi_cosim_devnoise g1, g2;
    uint64_t seed = tdi_seed(11, TDI_SEED_DEVNOISE, 0);
    tdi_cosim_devnoise_init(&g1, 3, w, f1, TICK, 1e3, seed, &err);
    tdi_cosim_devnoise_init(&g2, 3, w, f1, TICK, 1e3, seed, &err);
    for (long j = 0; j <= 1000; j++)
        tdi_cosim_devnoise_at(&g1, j, a);
    tdi_cosim_devnoise_at(&g2, 1000, b); /* fast-forward */
    tdi_check_near(b[0], a[0], 0, "fresh generator fast-forwarded to 1000: same sample");
    tdi_check_near(b[2], a[2], 0, "... flicker-only device too");
    tdi_cosim_devnoise_at(&g1, 10, c);   /* a step back restarts */
    tdi_cosim_devnoise_at(&g2, 10, a);
    tdi_check_near(c[1], a[1], 0, "after a step back: same sample at index 10");
    tdi_cosim_devnoise g3;
    tdi_cosim_devnoise_init(&g3, 3, w, f1, TICK, 1e3, tdi_seed(12, TDI_SEED_DEVNOISE, 0), &err);
    tdi_cosim_devnoise_at(&g3, 10, b);
    TDI_CHECK(b[0] != a[0], "another seed: another sample");
    TDI_CHECK(err.code == 0, "no error");
    tdi_cosim_devnoise_destroy(&g3); /* reused below for the refusals (which leave it empty) */
    double bad = -1;
    int rc = tdi_cosim_devnoise_init(&g3, 1, &bad, f1, TICK, 1e3, seed, &err);
    tdi_check_int(rc, TDI_EARG, "a negative PSD is an error");
    rc = tdi_cosim_devnoise_init(&g3, 1, w, f1, TICK, 1e8, seed, &err);
    tdi_check_int(rc, TDI_EARG, "f_lo above the Nyquist frequency is an error");
    tdi_cosim_devnoise_destroy(&g1);
    tdi_cosim_devnoise_destroy(&g2);
    tdi_cosim_devnoise_destroy(&g3);
}

int main(void)
{
    test_welch_white();
    test_repro();
    test_psd();
    TDI_TEST_END();
}
