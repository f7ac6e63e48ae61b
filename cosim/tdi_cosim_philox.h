/* tdi_cosim_philox: the ten Philox4x32 rounds on AVX2 registers that both vector noise paths run
 * (the engines' double-precision stream, cosim/tdi_cosim_noise.c, and the sde fast path's float
 * stream, cosim/tdi_cosim_sde_modes.c): nv independent 4-lane streams, one 32-bit word per 64-bit
 * lane (vpmuludq reads the low halves only, so the high halves may carry garbage until the
 * caller masks or blends them), advanced round by round together so one stream's latency chain
 * is filled by the others. Internal to cosim/; include after <immintrin.h> and
 * <Random123/philox.h>, x86_64 GCC only. Non-goal: the counters' layout and the conversion to
 * Gaussians (each caller's own). */
#ifndef TDI_COSIM_PHILOX_H
#define TDI_COSIM_PHILOX_H

#include <stdint.h>

/* c0..c3[v] (v < nv): the counter words in, the output words out; key = seed. */
__attribute__((target("avx2,fma"), always_inline)) static inline void
tdi_cosim_philox10_avx2(__m256i *c0, __m256i *c1, __m256i *c2, __m256i *c3, int nv,
                        uint64_t seed)
{
    const __m256i m0 = _mm256_set1_epi64x(PHILOX_M4x32_0), m1 = _mm256_set1_epi64x(PHILOX_M4x32_1);
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int r = 0; r < 10; r++) {
        const __m256i kk0 = _mm256_set1_epi64x(k0), kk1 = _mm256_set1_epi64x(k1);
        for (int v = 0; v < nv; v++) {
            __m256i p0 = _mm256_mul_epu32(c0[v], m0), p1 = _mm256_mul_epu32(c2[v], m1);
            c0[v] = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p1, 32), c1[v]), kk0);
            c2[v] = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p0, 32), c3[v]), kk1);
            c1[v] = p1;
            c3[v] = p0;
        }
        k0 += PHILOX_W32_0;
        k1 += PHILOX_W32_1;
    }
}

#endif
