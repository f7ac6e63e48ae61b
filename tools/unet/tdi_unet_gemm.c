/* tdi_unet_gemm: cblas_sgemm adapter (row-major). The only file that includes cblas.h. */
#include "tdi_unet_gemm.h"

#include <cblas.h>

void tdi_unet_sgemm(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a,
                    size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc)
{
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (int)m, (int)n, (int)k, alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
}
