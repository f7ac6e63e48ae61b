/* tdi_test_mat: small matrix fixtures shared by the sde engine tests (header-only, like
 * tdi_test.h): a random SPD coupling matrix, the max-norm and the relative max difference the
 * checks bound (plain differences: tdi_test_max_diff with s = 1).
 * Non-goal: linear algebra (common/tdi_linalg.h). */
#ifndef TDI_TEST_MAT_H
#define TDI_TEST_MAT_H

#include <math.h>
#include <stddef.h>

#include "tdi_cosim.h"
#include "tdi_test.h"

/* A random SPD coupling matrix M (n, n), row-major: symmetric off-diagonals 0.3 N(0,1) from
 * tdi_cosim_noise_gauss(seed, i, j + 1000), diagonally dominant (M_ii = 0.6 sum_j |M_ij| + 0.5
 * + 0.1 i). */
static inline void tdi_test_spd_matrix(size_t n, unsigned seed, double *M)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j <= i; j++) {
            double x = i == j ? 0 : 0.3 * tdi_cosim_noise_gauss(seed, i, j + 1000);
            M[i * n + j] = M[j * n + i] = x;
        }
    for (size_t i = 0; i < n; i++) {
        double r = 0;
        for (size_t j = 0; j < n; j++)
            r += i == j ? 0 : fabs(M[i * n + j]);
        M[i * n + i] = 0.6 * r + 0.5 + 0.1 * (double)i;
    }
}

/* max over i < n of |a[i]|; 0 when n is 0 */
static inline double tdi_test_max_abs(const double *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(a[i]));
    return m;
}

/* max |a - b| / max |b| over i < n (the relative agreement the engine checks bound) */
static inline double tdi_test_rel_diff(const double *a, const double *b, size_t n)
{
    return tdi_test_max_diff(a, 1, b, n) / tdi_test_max_abs(b, n);
}

#endif
