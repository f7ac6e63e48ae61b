/* tdi_unet_wgemm: the small GEMMs of the Winograd convs (tdi_unet_wino.c), C = A B with A
 * packed once per conv (rows in blocks of 8) and B, C read and written in place: no per-call
 * packing of either operand (OpenBLAS packs both on every call, 8% of inference here).
 * Every element of C is fmaf(a[r][k], b[k][j], .) over k = 0 .. K-1 in order from 0, so the
 * AVX2 and AVX-512 versions give the same bits whatever the blocking. Non-goals: transposes,
 * alpha/beta, CPUs without AVX2 + FMA (the caller keeps OpenBLAS there: tdi_unet_wgemm_ok). */
#ifndef TDI_UNET_WGEMM_H
#define TDI_UNET_WGEMM_H

#include <stddef.h>

#define TDI_UNET_WGEMM_MR 8 /* rows per packed block of A */

/* 1 when tdi_unet_wgemm runs for A with m rows: m % 8 == 0 and the CPU has AVX2 and FMA. */
int tdi_unet_wgemm_ok(size_t m);

/* Offset of A's element (row r, column kk) of an m x k matrix in the packed layout
 * [m / 8][k][8] (tdi_unet_wgemm_ok(m)), else row-major r * k + kk. */
static inline size_t tdi_unet_wgemm_at(size_t r, size_t kk, size_t k, int packed)
{
    return packed ? (r / TDI_UNET_WGEMM_MR) * k * TDI_UNET_WGEMM_MR + kk * TDI_UNET_WGEMM_MR +
                        r % TDI_UNET_WGEMM_MR
                  : r * k + kk;
}

/* c [m][n] (row stride ldc) := ap b for ap packed [m / 8][k][8], b [k][n] (row stride ldb).
 * Needs tdi_unet_wgemm_ok(m). */
void tdi_unet_wgemm(size_t m, size_t n, size_t k, const float *ap, const float *b, size_t ldb,
                    float *c, size_t ldc);

#endif
