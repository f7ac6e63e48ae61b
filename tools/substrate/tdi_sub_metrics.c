/* tdi_sub_metrics: fidelity of a decoder prediction against the U-Net's truth (docs/paper.md,
 * "Metrics"): the paper's global-z-score cosine, the centered cosine (per-sample information
 * about the fit-split mean), R^2 about the fit-split mean, and the decoder shift rho_skip.
 * Invariants: a row of zero norm has cosine 0 (so the mean baseline scores exactly 0 centered);
 * sums in plain double. Non-goal: confidence intervals. */
#include "tdi_sub.h"

#include <math.h>

/* global mean and (population) std over all n*D entries */
static void global_stats(const double *a, size_t n, size_t D, double *mean, double *sd)
{
    double s = 0.0;
    for (size_t i = 0; i < n * D; i++)
        s += a[i];
    double m = s / (double)(n * D);
    double v = 0.0;
    for (size_t i = 0; i < n * D; i++)
        v += (a[i] - m) * (a[i] - m);
    *mean = m;
    *sd = sqrt(v / (double)(n * D));
}

/* mean over rows i of cos(a_i, b_i), a = (pred - cp[j cs]) / sp, b = (truth - ct[j cs]) / st
 * (cs = 0: one shift for every column; a division by 1 is exact); a zero row counts as 0 */
static double mean_row_cos(const double *pred, const double *truth, size_t n, size_t D,
                           const double *cp, const double *ct, size_t cs, double sp, double st)
{
    double acc = 0.0;
    for (size_t i = 0; i < n; i++) {
        double ab = 0.0, aa = 0.0, bb = 0.0;
        for (size_t j = 0; j < D; j++) {
            double a = (pred[i * D + j] - cp[j * cs]) / sp;
            double b = (truth[i * D + j] - ct[j * cs]) / st;
            ab += a * b;
            aa += a * a;
            bb += b * b;
        }
        if (aa > 0.0 && bb > 0.0)
            acc += ab / (sqrt(aa) * sqrt(bb));
    }
    return acc / (double)n;
}

double tdi_sub_cos_paper(const double *pred, const double *truth, size_t n, size_t D)
{
    if (n == 0 || D == 0)
        return 0.0;
    double mp, sp, mt, st;
    global_stats(pred, n, D, &mp, &sp);
    global_stats(truth, n, D, &mt, &st);
    /* the cosine is scale-free, so the std only matters when it is 0 (constant tensor: every
     * normalised row is 0 and counts as cosine 0) */
    if (!(sp > 0.0) || !(st > 0.0))
        return 0.0;
    return mean_row_cos(pred, truth, n, D, &mp, &mt, 0, sp, st);
}

double tdi_sub_cos_centered(const double *pred, const double *truth, const double *mean,
                            size_t n, size_t D)
{
    if (n == 0 || D == 0)
        return 0.0;
    return mean_row_cos(pred, truth, n, D, mean, mean, 1, 1.0, 1.0);
}

double tdi_sub_r2(const double *pred, const double *truth, const double *mean, size_t n,
                  size_t D)
{
    double sse = 0.0, sst = 0.0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < D; j++) {
            double e = pred[i * D + j] - truth[i * D + j], t = truth[i * D + j] - mean[j];
            sse += e * e;
            sst += t * t;
        }
    if (!(sst > 0.0))
        return 0.0;
    return 1.0 - sse / sst;
}

tdi_sub_metrics tdi_sub_metrics_eval(const double *pred, const double *truth,
                                     const double *mean, size_t n, size_t D)
{
    tdi_sub_metrics m;
    m.cos_paper = tdi_sub_cos_paper(pred, truth, n, D);
    m.cos_centered = tdi_sub_cos_centered(pred, truth, mean, n, D);
    m.r2 = tdi_sub_r2(pred, truth, mean, n, D);
    return m;
}

double tdi_sub_rho(const double *ywith, const double *ywithout, const double *truth, size_t n,
                   size_t D)
{
    double acc = 0.0;
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        double num = 0.0, den = 0.0;
        for (size_t j = 0; j < D; j++) {
            double e = ywith[i * D + j] - ywithout[i * D + j];
            num += e * e;
            den += truth[i * D + j] * truth[i * D + j];
        }
        if (den > 0.0) {
            acc += sqrt(num) / sqrt(den);
            used++;
        }
    }
    return used ? acc / (double)used : 0.0;
}
