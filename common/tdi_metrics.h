/* tdi_metrics: fidelity of a decoder prediction against the U-Net's truth (docs/paper.md,
 * "Metrics"), the one implementation tools/substrate, tools/sweep and cosim share: the paper's
 * global-z-score cosine, the centered cosine about the fit-split mean, R^2 about that mean, per
 * tensor and per sample, and the decoder shift rho. Arrays: pred, truth (n, D) row-major, mean
 * (D). A row of zero norm has cosine 0 (so the mean baseline scores exactly 0 centered).
 * Non-goals: confidence intervals. */
#ifndef TDI_METRICS_H
#define TDI_METRICS_H

#include <stddef.h>

typedef struct tdi_metrics {
    double cos_paper;    /* global z-score of pred and truth separately, mean per-sample cos */
    double cos_centered; /* pred and truth minus the fit-split mean, mean per-sample cos */
    double r2;           /* 1 - SSE / sum |truth - mean|^2 over all entries */
} tdi_metrics;

double tdi_metrics_cos_paper(const double *pred, const double *truth, size_t n, size_t D);
double tdi_metrics_cos_centered(const double *pred, const double *truth, const double *mean,
                                size_t n, size_t D);
double tdi_metrics_r2(const double *pred, const double *truth, const double *mean, size_t n,
                      size_t D);
/* The three above over the whole tensors. */
tdi_metrics tdi_metrics_eval(const double *pred, const double *truth, const double *mean,
                             size_t n, size_t D);
/* Per sample s: cp[s] (the paper cosine, with the whole tensors' normalisation), cc[s] and
 * r2[s] = 1 - |pred_s - truth_s|^2 / |truth_s - mean|^2 (0 when truth_s = mean); each (n).
 * cos_paper and cos_centered of tdi_metrics_eval are the means of cp and cc. */
void tdi_metrics_rows(const double *pred, const double *truth, const double *mean, size_t n,
                      size_t D, double *cp, double *cc, double *r2);
/* rho = mean_i |y_with_i - y_without_i| / |truth_i| (rows with |truth_i| = 0 are skipped). */
double tdi_metrics_rho(const double *ywith, const double *ywithout, const double *truth,
                       size_t n, size_t D);

#endif
