/* tdi_unet_wgemm: packed-A GEMM kernels for the Winograd convs (see tdi_unet_wgemm.h). AVX-512:
 * 8 x 32 blocks of C in 16 registers (masked at the right edge); AVX2: 4 x 16 blocks, the right
 * edge by scalar fmaf. Each element is the same chain of fused multiply-adds in both. */
#include "tdi_unet_wgemm.h"

#include <math.h>

#define MR TDI_UNET_WGEMM_MR

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* 0: neither, 1: AVX2 + FMA, 2: AVX-512F too (a benign race: every thread writes the same). */
static int wgemm_isa(void)
{
    static int isa = -1;
    if (isa < 0) {
        __builtin_cpu_init();
        isa = !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ? 0
              : __builtin_cpu_supports("avx512f")                                ? 2
                                                                                 : 1;
    }
    return isa;
}

/* c[r][j] for rows r0 .. r0 + 3 of the block a (packed [k][8]) and columns 0 .. 15 of b. */
__attribute__((target("avx2,fma"))) static void k4x16(size_t k, const float *a, const float *b,
                                                      size_t ldb, float *c, size_t ldc)
{
    __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0,
           c7 = c0;
    for (size_t kk = 0; kk < k; kk++, a += MR, b += ldb) {
        const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        __m256 x = _mm256_broadcast_ss(a);
        c0 = _mm256_fmadd_ps(x, b0, c0);
        c1 = _mm256_fmadd_ps(x, b1, c1);
        x = _mm256_broadcast_ss(a + 1);
        c2 = _mm256_fmadd_ps(x, b0, c2);
        c3 = _mm256_fmadd_ps(x, b1, c3);
        x = _mm256_broadcast_ss(a + 2);
        c4 = _mm256_fmadd_ps(x, b0, c4);
        c5 = _mm256_fmadd_ps(x, b1, c5);
        x = _mm256_broadcast_ss(a + 3);
        c6 = _mm256_fmadd_ps(x, b0, c6);
        c7 = _mm256_fmadd_ps(x, b1, c7);
    }
    _mm256_storeu_ps(c, c0);
    _mm256_storeu_ps(c + 8, c1);
    _mm256_storeu_ps(c + ldc, c2);
    _mm256_storeu_ps(c + ldc + 8, c3);
    _mm256_storeu_ps(c + 2 * ldc, c4);
    _mm256_storeu_ps(c + 2 * ldc + 8, c5);
    _mm256_storeu_ps(c + 3 * ldc, c6);
    _mm256_storeu_ps(c + 3 * ldc + 8, c7);
}

/* Columns [j0, n) of one 8-row block, one element at a time (the same fmaf chain). */
__attribute__((target("avx2,fma"))) static void edge(size_t n, size_t j0, size_t k,
                                                     const float *a, const float *b, size_t ldb,
                                                     float *c, size_t ldc)
{
    for (size_t r = 0; r < MR; r++)
        for (size_t j = j0; j < n; j++) {
            float s = 0.0f;
            for (size_t kk = 0; kk < k; kk++)
                s = fmaf(a[kk * MR + r], b[kk * ldb + j], s);
            c[r * ldc + j] = s;
        }
}

static void wgemm_avx2(size_t m, size_t n, size_t k, const float *ap, const float *b,
                       size_t ldb, float *c, size_t ldc)
{
    const size_t n16 = n - n % 16;
    for (size_t j = 0; j < n16; j += 16) /* b's 16 columns stay in L1 across the row blocks */
        for (size_t i = 0; i < m; i += MR) {
            const float *a = ap + i * k;
            k4x16(k, a, b + j, ldb, c + i * ldc + j, ldc);
            k4x16(k, a + 4, b + j, ldb, c + (i + 4) * ldc + j, ldc);
        }
    if (n16 < n)
        for (size_t i = 0; i < m; i += MR)
            edge(n, n16, k, ap + i * k, b, ldb, c + i * ldc, ldc);
}

/* One 8 x 32 block of c (lanes outside mask0/mask1 neither read nor written). */
__attribute__((target("avx512f"))) static void k8x32(size_t k, const float *a, const float *b,
                                                     size_t ldb, float *c, size_t ldc,
                                                     __mmask16 m0, __mmask16 m1)
{
    __m512 acc[2 * MR];
#pragma GCC unroll 16
    for (int r = 0; r < 2 * MR; r++)
        acc[r] = _mm512_setzero_ps();
    for (size_t kk = 0; kk < k; kk++, a += MR, b += ldb) {
        const __m512 b0 = _mm512_maskz_loadu_ps(m0, b), b1 = _mm512_maskz_loadu_ps(m1, b + 16);
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
            const __m512 x = _mm512_set1_ps(a[r]);
            acc[2 * r] = _mm512_fmadd_ps(x, b0, acc[2 * r]);
            acc[2 * r + 1] = _mm512_fmadd_ps(x, b1, acc[2 * r + 1]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) {
        _mm512_mask_storeu_ps(c + (size_t)r * ldc, m0, acc[2 * r]);
        _mm512_mask_storeu_ps(c + (size_t)r * ldc + 16, m1, acc[2 * r + 1]);
    }
}

__attribute__((target("avx512f"))) static void wgemm_avx512(size_t m, size_t n, size_t k,
                                                            const float *ap, const float *b,
                                                            size_t ldb, float *c, size_t ldc)
{
    for (size_t j = 0; j < n; j += 32) {
        const size_t left = n - j;
        const __mmask16 m0 = left >= 16 ? 0xffff : (__mmask16)((1u << left) - 1u);
        const __mmask16 m1 = left >= 32   ? 0xffff
                             : left <= 16 ? 0
                                          : (__mmask16)((1u << (left - 16)) - 1u);
        for (size_t i = 0; i < m; i += MR)
            k8x32(k, ap + i * k, b + j, ldb, c + i * ldc + j, ldc, m0, m1);
    }
}

int tdi_unet_wgemm_ok(size_t m)
{
    return m > 0 && m % MR == 0 && wgemm_isa() > 0;
}

void tdi_unet_wgemm(size_t m, size_t n, size_t k, const float *ap, const float *b, size_t ldb,
                    float *c, size_t ldc)
{
    if (wgemm_isa() == 2)
        wgemm_avx512(m, n, k, ap, b, ldb, c, ldc);
    else
        wgemm_avx2(m, n, k, ap, b, ldb, c, ldc);
}
#else
int tdi_unet_wgemm_ok(size_t m)
{
    (void)m;
    return 0;
}

void tdi_unet_wgemm(size_t m, size_t n, size_t k, const float *ap, const float *b, size_t ldb,
                    float *c, size_t ldc)
{
    (void)m, (void)n, (void)k, (void)ap, (void)b, (void)ldb, (void)c, (void)ldc;
}
#endif
