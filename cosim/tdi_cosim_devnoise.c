/* tdi_cosim_devnoise: the drain-current noise of every transistor in co-simulation: a white part
 * (Philox Gaussians, as the units' thermal stream) plus a 1/f part synthesised as a sum of
 * first-order autoregressive processes with log-spaced corners and equal variances (docs/noise.md
 * "1/f synthesis"). Key tdi_seed(seed, TDI_SEED_DEVNOISE, 0); Gaussian (global index j, counter
 * unit d (1 + P) + p): p = 0 the white sample, p >= 1 pole p's innovation; the stationary start
 * state uses index UINT64_MAX. Invariant: sample j depends on (seed, psd, band, j) only; the
 * generator keeps the AR state and walks forward (a step back restarts from the start state).
 * Non-goals: noise at sample 0 of a run (the caller's convention), other spectral slopes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_fft_real.h>

#include "tdi_cosim.h"

#define DN_POLES_PER_DECADE 3  /* docs/noise.md: ripple of the synthesised 1/f over the band */
#define DN_EXTEND 100.0        /* poles start two decades below f_lo (the band's lower edge) */
#define DN_START UINT64_MAX    /* Philox index of the stationary start draws */

static size_t dn_pole_count(double f_lo, double f_ny)
{
    double dec = log10(f_ny / (f_lo / DN_EXTEND));
    return dec > 0 ? (size_t)floor(dec * DN_POLES_PER_DECADE) + 1 : 1;
}

/* Poles f_p = (f_lo / 100) r^p, r = 10^(1/3), up to the Nyquist frequency; each a unit-1/f share
 * of variance 2 ln r (docs/noise.md: sum_p sigma^2 f_p / (pi (f_p^2 + f^2)) ~ 1/f). */
static void dn_poles(tdi_cosim_devnoise *dn)
{
    double r = pow(10.0, 1.0 / DN_POLES_PER_DECADE), var = 2.0 * log(r);
    for (size_t p = 0; p < dn->n_pole; p++) {
        double fp = dn->f_lo / DN_EXTEND * pow(r, (double)p);
        double a = exp(-2.0 * M_PI * fp * dn->tick);
        dn->pole_a[p] = a;
        dn->pole_s[p] = sqrt(var);
        dn->pole_c[p] = sqrt(var * (1.0 - a * a));
    }
}

int tdi_cosim_devnoise_init(tdi_cosim_devnoise *dn, size_t n, const double *psd_w,
                            const double *psd_f1, double tick, double f_lo, uint64_t seed,
                            tdi_err *err)
{
    memset(dn, 0, sizeof *dn);
    double f_ny = 0.5 / tick;
    if (!(tick > 0) || !(f_lo > 0) || !(f_lo < f_ny))
        return tdi_err_set(err, TDI_EARG, "device noise: need tick > 0 and 0 < f_lo < 1/(2 "
                           "tick) (tick %g s, f_lo %g Hz)", tick, f_lo);
    dn->n = n;
    dn->tick = tick;
    dn->seed = seed;
    dn->f_lo = f_lo;
    dn->n_pole = dn_pole_count(f_lo, f_ny);
    dn->at = -1;
    size_t m = n ? n : 1, P = dn->n_pole;
    dn->amp_w = calloc(m, sizeof(double));
    dn->amp_f = calloc(m, sizeof(double));
    dn->pole_a = calloc(P, sizeof(double));
    dn->pole_c = calloc(P, sizeof(double));
    dn->pole_s = calloc(P, sizeof(double));
    dn->x = calloc(m * P, sizeof(double));
    dn->z = calloc(m * (P + 1), sizeof(double));
    if (!dn->amp_w || !dn->amp_f || !dn->pole_a || !dn->pole_c || !dn->pole_s || !dn->x ||
        !dn->z) {
        tdi_cosim_devnoise_destroy(dn);
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    }
    for (size_t d = 0; d < n; d++) {
        if (!(psd_w[d] >= 0) || !(psd_f1[d] >= 0)) {
            tdi_cosim_devnoise_destroy(dn);
            return tdi_err_set(err, TDI_EARG, "device noise %zu: PSD must be >= 0 (white %g, "
                               "1/f %g A^2/Hz)", d, psd_w[d], psd_f1[d]);
        }
        dn->amp_w[d] = sqrt(psd_w[d] / tick);
        dn->amp_f[d] = sqrt(psd_f1[d]);
    }
    dn_poles(dn);
    return 0;
}

void tdi_cosim_devnoise_destroy(tdi_cosim_devnoise *dn)
{
    if (!dn)
        return;
    free(dn->amp_w);
    free(dn->amp_f);
    free(dn->pole_a);
    free(dn->pole_c);
    free(dn->pole_s);
    free(dn->x);
    free(dn->z);
    memset(dn, 0, sizeof *dn);
}

/* the AR states at index 0: stationary, N(0, sigma_p^2) each */
static void dn_start(tdi_cosim_devnoise *dn)
{
    size_t P = dn->n_pole, K = P + 1;
    tdi_cosim_noise_gauss_block(dn->seed, 0, DN_START, dn->n * K, dn->z);
    for (size_t d = 0; d < dn->n; d++)
        for (size_t p = 0; p < P; p++)
            dn->x[d * P + p] = dn->pole_s[p] * dn->z[d * K + 1 + p];
    dn->at = 0;
}

/* one step of every AR state to index at + 1; leaves that index's draws in z */
static void dn_step(tdi_cosim_devnoise *dn)
{
    size_t P = dn->n_pole, K = P + 1;
    dn->at++;
    tdi_cosim_noise_gauss_block(dn->seed, 0, (uint64_t)dn->at, dn->n * K, dn->z);
    for (size_t d = 0; d < dn->n; d++) {
        double *x = dn->x + d * P;
        const double *z = dn->z + d * K + 1;
        for (size_t p = 0; p < P; p++)
            x[p] = dn->pole_a[p] * x[p] + dn->pole_c[p] * z[p];
    }
}

void tdi_cosim_devnoise_at(tdi_cosim_devnoise *dn, long idx, double *out)
{
    if (idx < 0)
        idx = 0;
    if (dn->at < 0 || idx < dn->at)
        dn_start(dn);
    if (idx == 0) /* after a step z holds index at's draws; index 0 has no step */
        tdi_cosim_noise_gauss_block(dn->seed, 0, 0, dn->n * (dn->n_pole + 1), dn->z);
    while (dn->at < idx)
        dn_step(dn);
    size_t P = dn->n_pole, K = P + 1;
    for (size_t d = 0; d < dn->n; d++) {
        double s = 0;
        for (size_t p = 0; p < P; p++)
            s += dn->x[d * P + p];
        out[d] = dn->amp_w[d] * dn->z[d * K] + dn->amp_f[d] * s;
    }
}

double tdi_cosim_devnoise_psd(const tdi_cosim_devnoise *dn, size_t d, double f)
{
    double h = dn->tick, w = 2.0 * M_PI * f * h, s = 0;
    for (size_t p = 0; p < dn->n_pole; p++) {
        double a = dn->pole_a[p], c = dn->pole_c[p];
        s += h * c * c / (1.0 - 2.0 * a * cos(w) + a * a);
    }
    return dn->amp_w[d] * dn->amp_w[d] * h + dn->amp_f[d] * dn->amp_f[d] * s;
}

/* one Hann-windowed segment's periodogram |X_k|^2 added into acc (seg/2 + 1) */
static void welch_segment(const double *x, size_t seg, const double *win, double *buf,
                          double *acc)
{
    double mean = 0;
    for (size_t i = 0; i < seg; i++)
        mean += x[i];
    mean /= (double)seg;
    for (size_t i = 0; i < seg; i++)
        buf[i] = (x[i] - mean) * win[i];
    gsl_fft_real_radix2_transform(buf, 1, seg); /* half-complex: re k at k, im k at seg - k */
    acc[0] += buf[0] * buf[0];
    acc[seg / 2] += buf[seg / 2] * buf[seg / 2];
    for (size_t k = 1; k < seg / 2; k++)
        acc[k] += buf[k] * buf[k] + buf[seg - k] * buf[seg - k];
}

int tdi_cosim_welch(const double *x, size_t n, size_t seg, double fs, double *psd,
                    size_t *n_seg, tdi_err *err)
{
    if (seg < 8 || (seg & (seg - 1)) || seg > n || !(fs > 0))
        return tdi_err_set(err, TDI_EARG, "welch: segment %zu must be a power of 2 in [8, %zu]",
                           seg, n);
    double *win = malloc(sizeof(double) * seg), *buf = malloc(sizeof(double) * seg);
    if (!win || !buf) {
        free(win);
        free(buf);
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    }
    double u = 0; /* sum of w^2: the window's power */
    for (size_t i = 0; i < seg; i++) {
        win[i] = 0.5 - 0.5 * cos(2.0 * M_PI * (double)i / (double)seg); /* periodic Hann */
        u += win[i] * win[i];
    }
    memset(psd, 0, sizeof(double) * (seg / 2 + 1));
    size_t m = 0;
    for (size_t s = 0; s + seg <= n; s += seg / 2, m++)
        welch_segment(x + s, seg, win, buf, psd);
    /* two-sided density: E|X_k|^2 = fs U S(f_k) for a windowed segment of a stationary x */
    for (size_t k = 0; k <= seg / 2; k++)
        psd[k] /= (double)m * fs * u;
    if (n_seg)
        *n_seg = m;
    free(win);
    free(buf);
    return 0;
}
