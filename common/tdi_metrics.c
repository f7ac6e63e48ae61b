/* tdi_metrics: the fidelity metrics (tdi_metrics.h). Each per-tensor metric is built from the
 * same per-row helper as its per-sample form, so the two agree to the bit (the tensor cosines
 * are the plain means of the rows'). Invariants: sums in plain double, in row order. */
#include "tdi_metrics.h"

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

/* cosine of one row (D) of (pred - op[j cs]) / sp and (truth - ot[j cs]) / st: cs = 0 shifts
 * every column by one value (the paper cosine), cs = 1 by a vector with sp = st = 1 (centered;
 * a division by 1 is exact); 0 for a zero-norm row */
static double row_cos(const double *p, const double *t, const double *op, const double *ot,
                      size_t cs, double sp, double st, size_t D)
{
    double ab = 0.0, aa = 0.0, bb = 0.0;
    for (size_t j = 0; j < D; j++) {
        double a = (p[j] - op[j * cs]) / sp, b = (t[j] - ot[j * cs]) / st;
        ab += a * b;
        aa += a * a;
        bb += b * b;
    }
    return aa > 0.0 && bb > 0.0 ? ab / (sqrt(aa) * sqrt(bb)) : 0.0;
}

/* adds one row's |pred - truth|^2 to *sse and |truth - mean|^2 to *sst */
static void row_sq(const double *p, const double *t, const double *mean, size_t D, double *sse,
                   double *sst)
{
    for (size_t j = 0; j < D; j++) {
        double e = p[j] - t[j], d = t[j] - mean[j];
        *sse += e * e;
        *sst += d * d;
    }
}

double tdi_metrics_cos_paper(const double *pred, const double *truth, size_t n, size_t D)
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
    double acc = 0.0;
    for (size_t i = 0; i < n; i++)
        acc += row_cos(pred + i * D, truth + i * D, &mp, &mt, 0, sp, st, D);
    return acc / (double)n;
}

double tdi_metrics_cos_centered(const double *pred, const double *truth, const double *mean,
                                size_t n, size_t D)
{
    if (n == 0 || D == 0)
        return 0.0;
    double acc = 0.0;
    for (size_t i = 0; i < n; i++)
        acc += row_cos(pred + i * D, truth + i * D, mean, mean, 1, 1.0, 1.0, D);
    return acc / (double)n;
}

double tdi_metrics_r2(const double *pred, const double *truth, const double *mean, size_t n,
                      size_t D)
{
    double sse = 0.0, sst = 0.0;
    for (size_t i = 0; i < n; i++)
        row_sq(pred + i * D, truth + i * D, mean, D, &sse, &sst);
    if (!(sst > 0.0))
        return 0.0;
    return 1.0 - sse / sst;
}

tdi_metrics tdi_metrics_eval(const double *pred, const double *truth, const double *mean,
                             size_t n, size_t D)
{
    tdi_metrics m;
    m.cos_paper = tdi_metrics_cos_paper(pred, truth, n, D);
    m.cos_centered = tdi_metrics_cos_centered(pred, truth, mean, n, D);
    m.r2 = tdi_metrics_r2(pred, truth, mean, n, D);
    return m;
}

void tdi_metrics_rows(const double *pred, const double *truth, const double *mean, size_t n,
                      size_t D, double *cp, double *cc, double *r2)
{
    double mp = 0.0, sp = 0.0, mt = 0.0, st = 0.0;
    if (n > 0 && D > 0) {
        global_stats(pred, n, D, &mp, &sp);
        global_stats(truth, n, D, &mt, &st);
    }
    int flat = !(sp > 0.0) || !(st > 0.0); /* constant tensor: cosine 0, as the tensor metric */
    for (size_t s = 0; s < n; s++) {
        const double *p = pred + s * D, *t = truth + s * D;
        double sse = 0.0, sst = 0.0;
        row_sq(p, t, mean, D, &sse, &sst);
        cp[s] = flat ? 0.0 : row_cos(p, t, &mp, &mt, 0, sp, st, D);
        cc[s] = row_cos(p, t, mean, mean, 1, 1.0, 1.0, D);
        r2[s] = sst > 0.0 ? 1.0 - sse / sst : 0.0;
    }
}

double tdi_metrics_rho(const double *ywith, const double *ywithout, const double *truth,
                       size_t n, size_t D)
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
