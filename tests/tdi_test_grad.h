/* tdi_test_grad: the helpers of the U-Net tests' gradient checks (test_unet, test_sskip,
 * test_tune, test_dstat): seeded uniform fills through rand() (the caller seeds with srand), a
 * float dot product in double, and the central-difference check of one parameter. Header-only,
 * static inline, so a test uses what it needs. */
#ifndef TDI_TEST_GRAD_H
#define TDI_TEST_GRAD_H

#include <math.h>
#include <stdlib.h>

/* uniform in [-1, 1] from rand() */
static inline float tdi_test_frand(void)
{
    return (float)rand() / (float)RAND_MAX * 2.0f - 1.0f;
}

/* p[0..n) uniform in [-scale, scale] */
static inline void tdi_test_fill(float *p, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++)
        p[i] = scale * tdi_test_frand();
}

static inline double tdi_test_dot(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

/* Central difference of loss(ctx) in v[i] (step h = 1e-2, float parameters) against the
 * analytic gradient an: |fd - an| / (|fd| + |an| + 0.1) (the 0.1 keeps near-zero gradients from
 * dividing by float rounding). v[i] is restored. */
static inline double tdi_test_fd_rel_err(float *v, size_t i, double an, double (*loss)(void *),
                                         void *ctx)
{
    const float h = 1e-2f, o = v[i];
    v[i] = o + h;
    const double lp = loss(ctx);
    v[i] = o - h;
    const double lm = loss(ctx);
    v[i] = o;
    const double fd = (lp - lm) / (2.0 * h);
    return fabs(fd - an) / (fabs(fd) + fabs(an) + 0.1);
}

#endif
