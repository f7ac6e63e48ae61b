/* tdi_test_sskip.h: the tests' full-rank substrate skip of one level of a tiny U-Net (its skip
 * vectors of the last forward, their PCA, the diagonal-block A and the fitted substrate as the
 * layer's float arrays), shared by test_sskip and test_sample_sskip. Needs the including file's
 * g_dir (scratch directory) and E2E_CFG (the preset whose circuit section builds the circuits). */
#ifndef TDI_TEST_SSKIP_H
#define TDI_TEST_SSKIP_H

#include <stdio.h>
#include <stdlib.h>

#include "tdi_sub.h"
#include "tdi_unet.h"
#include "tdi_unet_e2e.h"

typedef struct lvfit {
    double *X, mean[32], U[32 * 32], ev[32], A[32 * 32];
    float fm[32], fR[32 * 32], fsd[32];
    tdi_unet_e2e_sub sub;
} lvfit;

/* level lv's skip vectors of the last forward, its PCA, A and the full-rank substrate */
static inline int fit_level(const tdi_unet *m, int lv, lvfit *f)
{
    size_t C, side;
    const float *o = tdi_unet_block_out(m, lv ? TDI_UNET_E2 : TDI_UNET_E1, &C, &side);
    const size_t n = m->batch * side * side;
    tdi_err err;
    f->X = malloc(n * C * sizeof *f->X);
    if (!f->X)
        return -1;
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < C; c++)
            f->X[i * C + c] = o[c * n + i];
    if (tdi_unet_e2e_pca(f->X, n, C, f->mean, f->U, f->ev, &err))
        return -1;
    double J[32 * 32];
    tdi_sub_gram_acts(f->X, n, C, 1.0, J);
    tdi_sub_diag_block(J, C, 0.1, f->A);
    char bdir[512];
    snprintf(bdir, sizeof bdir, "%s/full-%d", g_dir, lv);
    tdi_unet_e2e_level in = {lv ? "e2" : "e1", C, f->mean, f->U, f->A, f->X, 64};
    if (tdi_unet_e2e_substrate(&in, C, 0.1, 1.0, 0.05, E2E_CFG, bdir, &f->sub, &err)) {
        printf("  %s\n", err.msg);
        return -1;
    }
    for (size_t c = 0; c < C; c++) {
        f->fm[c] = (float)f->mean[c];
        f->fsd[c] = (float)f->sub.noise_sd[c];
    }
    for (size_t q = 0; q < C * C; q++)
        f->fR[q] = (float)f->sub.R[q];
    return 0;
}

#endif
