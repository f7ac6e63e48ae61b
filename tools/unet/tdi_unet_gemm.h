/* tdi_unet_gemm: the one adapter to OpenBLAS (cblas.h lives only in tdi_unet_gemm.c).
 * Row-major single-precision GEMM: C = alpha * op(A) op(B) + beta * C. */
#ifndef TDI_UNET_GEMM_H
#define TDI_UNET_GEMM_H

#include <stddef.h>

/* op(A): M x K, op(B): K x N, C: M x N; ta/tb nonzero means the stored matrix is transposed.
 * lda/ldb/ldc are the row strides of the stored matrices. */
void tdi_unet_sgemm(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a,
                    size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc);

#endif
