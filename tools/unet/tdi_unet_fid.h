/* tdi_unet_fid: the Frechet distance between two image sets in the classifier's feature space
 * (tdi_unet_clf.h), FD = |mu1 - mu2|^2 + tr S1 + tr S2 - 2 tr sqrt(S1^1/2 S2 S1^1/2), with the
 * matrix square roots from GSL's symmetric eigen-solver (both arguments are symmetric PSD).
 * Also the class histogram of a set and the classifier's mean confidence (mean max softmax).
 * Non-goals: Inception features (the numbers are comparable only within tdi). */
#ifndef TDI_UNET_FID_H
#define TDI_UNET_FID_H

#include <stddef.h>

#include "tdi_err.h"
#include "tdi_unet_clf.h"
#include "tdi_unet_data.h"

/* Mean mu [d] and covariance cov [d][d] (divisor n - 1, n >= 2) of feature rows f [n][d]. */
void tdi_fid_stats(const float *f, size_t n, size_t d, double *mu, double *cov);
/* out [d][d] = a^1/2 for a symmetric PSD a [d][d]; eigenvalues below 0 (rounding) count as 0.
 * out may not alias a. */
int tdi_fid_sqrtm(const double *a, size_t d, double *out, tdi_err *err);
/* Frechet distance between N(mu1, s1) and N(mu2, s2) of dimension d. */
int tdi_fid_frechet(const double *mu1, const double *s1, const double *mu2, const double *s2,
                    size_t d, double *fd, tdi_err *err);
/* The same from two feature sets f1 [n1][d], f2 [n2][d]. */
int tdi_fid_of_features(const float *f1, size_t n1, const float *f2, size_t n2, size_t d,
                        double *fd, tdi_err *err);

typedef struct tdi_fid_report {
    size_t n;                     /* images */
    double fd;                    /* against test images [0, n) */
    long hist[TDI_CLF_CLASSES];   /* arg-max class counts */
    double spread;                /* total variation from uniform: 0.5 sum |p_k - 0.1| */
    double confidence;            /* mean max softmax probability */
    double floor_fd;              /* test [n, 2n) against test [0, n): the sampling floor (NaN
                                     when the test split has fewer than 2n images) */
    double ref_spread, ref_confidence; /* of test [0, n) */
} tdi_fid_report;

/* The quality numbers of n images img [n][1024] in [-1, 1]. */
int tdi_fid_evaluate(tdi_clf *m, const float *img, size_t n, const tdi_unet_dataset *test,
                     tdi_fid_report *r, tdi_err *err);

#endif
