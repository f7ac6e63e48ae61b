/* test_metrics: common/tdi_metrics, the one implementation of the fidelity metrics. The tensor
 * cosines are exactly the means of the per-sample ones; the per-sample paper cosine agrees with
 * the unnormalised cosine of the globally centred rows (the formula cosim used before); R^2 per
 * sample on an exact case; a constant prediction and the mean baseline score 0. */
#include <math.h>
#include <stdio.h>

#include "tdi_metrics.h"
#include "tdi_test.h"

#define NS 8
#define D 16

/* the old per-sample paper cosine: rows minus the global means, no division by the stds */
static double cos_centred_rows(const double *p, const double *t, size_t s)
{
    double mp = 0, mt = 0;
    for (size_t q = 0; q < NS * D; q++) {
        mp += p[q];
        mt += t[q];
    }
    mp /= NS * D;
    mt /= NS * D;
    double ab = 0, aa = 0, bb = 0;
    for (size_t j = 0; j < D; j++) {
        double a = p[s * D + j] - mp, b = t[s * D + j] - mt;
        ab += a * b;
        aa += a * a;
        bb += b * b;
    }
    return ab / sqrt(aa * bb);
}

int main(void)
{
    double pred[NS * D], truth[NS * D], mean[D], cp[NS], cc[NS], r2[NS];
    for (size_t j = 0; j < D; j++)
        mean[j] = 0.1 * sin((double)j);
    for (size_t q = 0; q < NS * D; q++) { /* deterministic, not collinear */
        truth[q] = sin(0.7 * (double)q) + 0.3 * cos(1.3 * (double)q);
        pred[q] = truth[q] + 0.2 * sin(2.9 * (double)q + 1.0);
    }
    tdi_metrics m = tdi_metrics_eval(pred, truth, mean, NS, D);
    tdi_metrics_rows(pred, truth, mean, NS, D, cp, cc, r2);
    double scp = 0, scc = 0;
    for (size_t s = 0; s < NS; s++) {
        scp += cp[s];
        scc += cc[s];
    }
    /* the same per-row helper summed in the same order: equal to the bit */
    tdi_check_near(scp / NS, m.cos_paper, 0.0, "rows: mean of cp = tensor cos_paper");
    tdi_check_near(scc / NS, m.cos_centered, 0.0, "rows: mean of cc = tensor cos_centered");
    TDI_CHECK(m.cos_paper > 0.5 && m.cos_paper < 1.0, "rows: a non-trivial case");
    /* dividing by the global std is one rounding per element; the cosine of D = 16 terms then
       differs by a few D eps at most: 1e-14 */
    double worst = 0;
    for (size_t s = 0; s < NS; s++)
        worst = fmax(worst, fabs(cp[s] - cos_centred_rows(pred, truth, s)));
    tdi_check_le(worst, 1e-14, "rows: cp = cosine of the globally centred rows");

    /* R^2 per sample, exact in binary up to one division: truth row (1, 2, 3) about mean 0,
       pred (1, 2, 4): 1 - 1/14 */
    double t3[6] = {1, 2, 3, 1, 2, 3}, p3[6] = {1, 2, 4, 1, 2, 3}, z3[3] = {0, 0, 0};
    double cp3[2], cc3[2], r23[2];
    tdi_metrics_rows(p3, t3, z3, 2, 3, cp3, cc3, r23);
    tdi_check_near(r23[0], 1.0 - 1.0 / 14.0, 2.3e-16, "rows: r2 of (1,2,4) vs (1,2,3)");
    tdi_check_near(r23[1], 1.0, 0.0, "rows: r2 of a perfect row");
    tdi_check_near(tdi_metrics_r2(p3, t3, z3, 2, 3), 1.0 - 1.0 / 28.0, 2.3e-16,
                   "tensor: r2 = 1 - SSE / SST over all entries");

    /* a constant prediction: every paper cosine 0 (the tensor's std is 0) */
    double flat[NS * D];
    for (size_t q = 0; q < NS * D; q++)
        flat[q] = 0.25;
    tdi_metrics_rows(flat, truth, mean, NS, D, cp, cc, r2);
    double amax = 0;
    for (size_t s = 0; s < NS; s++)
        amax = fmax(amax, fabs(cp[s]));
    tdi_check_near(amax, 0.0, 0.0, "rows: constant prediction has cp 0");
    tdi_check_near(tdi_metrics_cos_paper(flat, truth, NS, D), 0.0, 0.0,
                   "tensor: constant prediction has cos_paper 0");

    /* the mean baseline: pred = mean rows scores exactly 0 centered in every row */
    double mrow[NS * D];
    for (size_t q = 0; q < NS * D; q++)
        mrow[q] = mean[q % D];
    tdi_metrics_rows(mrow, truth, mean, NS, D, cp, cc, r2);
    amax = 0;
    for (size_t s = 0; s < NS; s++)
        amax = fmax(amax, fabs(cc[s]));
    tdi_check_near(amax, 0.0, 0.0, "rows: the mean baseline has cc 0");
    TDI_TEST_END();
}
