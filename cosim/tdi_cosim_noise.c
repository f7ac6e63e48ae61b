/* tdi_cosim_noise: the thermal-noise stream of every engine. A standard Gaussian per (seed, unit,
 * global sample index) from the counter-based Philox4x32-10 generator (Random123) and Box-Muller,
 * scaled by amp = sqrt(2 kB T g / tick) so that the linearly interpolated current has the
 * low-frequency two-sided PSD 2 kB T g (docs/sde.md). Sample 0 of every run is 0 (trnoise's
 * convention: the operating point sees no offset). Engines draw whole blocks (all units of a
 * tick) through one vectorised path (AVX2: Philox in 4-lane registers, glibc's libmvec log and
 * cos); it agrees with the scalar tdi_cosim_noise_gauss to a few ulp. Non-goal: any state. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <Random123/philox.h>

#include "tdi_cosim.h"
#include "tdi_seed.h"

#define NZ_LANES 32 /* counters per block: 8 AVX2 vectors of 4 */
#define NZ_TWO_PI (2.0 * M_PI)

double tdi_cosim_noise_gauss(uint64_t seed, uint64_t unit, uint64_t index)
{
    return tdi_seed_gauss(seed, unit, index);
}

/* Philox4x32-10 of NZ_LANES counters (index, unit u0 + l) under one key as lane loops (the
 * fallback without AVX2). Same rounds and key schedule as Random123's philox4x32 (checked
 * against tdi_cosim_noise_gauss in test_cosim_engines). Returns the two uniforms of Box-Muller
 * per lane, exactly as tdi_cosim_noise_gauss forms them. */
static inline __attribute__((always_inline)) void
nz_philox_uniforms(uint64_t seed, uint64_t u0, uint64_t index, double *u1, double *u2)
{
    uint32_t c0[NZ_LANES], c1[NZ_LANES], c2[NZ_LANES], c3[NZ_LANES];
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int l = 0; l < NZ_LANES; l++) {
        uint64_t u = u0 + (uint64_t)l;
        c0[l] = (uint32_t)index;
        c1[l] = (uint32_t)(index >> 32);
        c2[l] = (uint32_t)u;
        c3[l] = (uint32_t)(u >> 32);
    }
    for (int r = 0; r < 10; r++) {
#pragma omp simd
        for (int l = 0; l < NZ_LANES; l++) {
            uint64_t p0 = (uint64_t)PHILOX_M4x32_0 * c0[l];
            uint64_t p1 = (uint64_t)PHILOX_M4x32_1 * c2[l];
            uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1[l] ^ k0;
            uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3[l] ^ k1;
            c1[l] = (uint32_t)p1;
            c3[l] = (uint32_t)p0;
            c0[l] = n0;
            c2[l] = n2;
        }
        k0 += PHILOX_W32_0;
        k1 += PHILOX_W32_1;
    }
#pragma omp simd
    for (int l = 0; l < NZ_LANES; l++) {
        /* 53 bits (c0 c1) >> 11 as c0 2^21 + (c1 >> 11): exact in double, the same value */
        u1[l] = ((double)c0[l] * 0x1p21 + (double)(c1[l] >> 11) + 1.0) * 0x1p-53;
        u2[l] = ((double)c2[l] * 0x1p21 + (double)(c3[l] >> 11)) * 0x1p-53;
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include "tdi_cosim_philox.h"
/* glibc's libmvec (AVX2 variants), ABI names from the x86_64 vector function ABI */
__m256d _ZGVdN4v_log(__m256d x);
__m256d _ZGVdN4v_cos(__m256d x);

/* 4 lanes of Philox4x32-10, one 32-bit word per 64-bit lane: vpmuludq reads the low halves
 * only, so the high halves may carry garbage until the final mask (no shuffles per round). */
__attribute__((target("avx2,fma"))) static inline __m256d nz_u64_to_pd(__m256i x)
{
    /* x < 2^32: 2^52 + x is exact as bits 0x4330... | x */
    const __m256i magic = _mm256_set1_epi64x(0x4330000000000000LL);
    return _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(x, magic)), _mm256_set1_pd(0x1p52));
}

/* NZ_LANES / 4 independent 4-lane Philox streams advanced round by round together: one stream's
 * rounds form a latency chain (multiply, shift, xor), the others fill its gaps. */
__attribute__((target("avx2,fma"), always_inline)) static inline void
nz_block_body(uint64_t seed, uint64_t u0, uint64_t index, double *z)
{
    enum { NV = NZ_LANES / 4 };
    const __m256i lo32 = _mm256_set1_epi64x(0xffffffffLL);
    const __m256d m2 = _mm256_set1_pd(-2.0), tp = _mm256_set1_pd(NZ_TWO_PI);
    const __m256d s21 = _mm256_set1_pd(0x1p21), s53 = _mm256_set1_pd(0x1p-53);
    __m256i c0[NV], c1[NV], c2[NV], c3[NV];
    for (int v = 0; v < NV; v++) {
        uint64_t u = u0 + 4 * (uint64_t)v;
        c0[v] = _mm256_set1_epi64x((uint32_t)index);
        c1[v] = _mm256_set1_epi64x((uint32_t)(index >> 32));
        c2[v] = _mm256_set_epi64x((uint32_t)(u + 3), (uint32_t)(u + 2), (uint32_t)(u + 1),
                                  (uint32_t)u);
        c3[v] = _mm256_set_epi64x((uint32_t)((u + 3) >> 32), (uint32_t)((u + 2) >> 32),
                                  (uint32_t)((u + 1) >> 32), (uint32_t)(u >> 32));
    }
    tdi_cosim_philox10_avx2(c0, c1, c2, c3, NV, seed);
    for (int v = 0; v < NV; v++) {
        __m256i a0 = _mm256_and_si256(c0[v], lo32);
        __m256i a1 = _mm256_srli_epi64(_mm256_and_si256(c1[v], lo32), 11);
        __m256i a2 = _mm256_and_si256(c2[v], lo32);
        __m256i a3 = _mm256_srli_epi64(_mm256_and_si256(c3[v], lo32), 11);
        /* the same exact uniforms as tdi_cosim_noise_gauss: (c0 2^21 + c1 >> 11 [+ 1]) 2^-53 */
        __m256d u1 = _mm256_add_pd(_mm256_add_pd(_mm256_mul_pd(nz_u64_to_pd(a0), s21),
                                                 nz_u64_to_pd(a1)), _mm256_set1_pd(1.0));
        __m256d u2 = _mm256_add_pd(_mm256_mul_pd(nz_u64_to_pd(a2), s21), nz_u64_to_pd(a3));
        __m256d lg = _ZGVdN4v_log(_mm256_mul_pd(u1, s53));
        __m256d cs = _ZGVdN4v_cos(_mm256_mul_pd(tp, _mm256_mul_pd(u2, s53)));
        _mm256_storeu_pd(z + 4 * v, _mm256_mul_pd(_mm256_sqrt_pd(_mm256_mul_pd(m2, lg)), cs));
    }
}

/* the same code for two targets: AVX-512VL only adds registers (32 instead of 16 vectors: the 8
 * interleaved streams stay in registers); the results are bit-identical */
#define NZ_BLOCK_FN(name, tgt)                                                                 \
    __attribute__((target(tgt))) static void name(uint64_t seed, uint64_t u0, uint64_t index,  \
                                                  double *z)                                   \
    {                                                                                          \
        nz_block_body(seed, u0, index, z);                                                     \
    }
NZ_BLOCK_FN(nz_block_avx2, "avx2,fma")
NZ_BLOCK_FN(nz_block_avx512vl, "avx2,fma,avx512f,avx512vl")
#define NZ_HAVE_AVX2 1
#endif

static void nz_block_scalar(uint64_t seed, uint64_t u0, uint64_t index, double *z)
{
    double u1[NZ_LANES], u2[NZ_LANES];
    nz_philox_uniforms(seed, u0, index, u1, u2);
    for (int l = 0; l < NZ_LANES; l++)
        z[l] = sqrt(-2.0 * log(u1[l])) * cos(NZ_TWO_PI * u2[l]);
}

void tdi_cosim_noise_gauss_block(uint64_t seed, uint64_t u0, uint64_t index, size_t cnt,
                                 double *z)
{
    static int isa = -1; /* 0 scalar, 1 AVX2, 2 AVX2 with AVX-512VL's registers */
    if (isa < 0) {
        isa = 0;
#ifdef NZ_HAVE_AVX2
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
            isa = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") ? 2 : 1;
#endif
    }
    double pad[NZ_LANES];
    for (size_t i = 0; i < cnt; i += NZ_LANES) {
        double *dst = cnt - i >= NZ_LANES ? z + i : pad; /* the tail goes through pad */
#ifdef NZ_HAVE_AVX2
        if (isa == 2)
            nz_block_avx512vl(seed, u0 + i, index, dst);
        else if (isa == 1)
            nz_block_avx2(seed, u0 + i, index, dst);
        else
#endif
            nz_block_scalar(seed, u0 + i, index, dst);
        if (dst == pad)
            memcpy(z + i, pad, sizeof(double) * (cnt - i));
    }
}

void tdi_cosim_noise_sample(const tdi_cosim_noise *nz, long k, double *out)
{
    if (k <= 0) {
        memset(out, 0, sizeof(double) * nz->n);
        return;
    }
    uint64_t idx = (uint64_t)(nz->tick0 + k);
    if (nz->scalar) {
        for (size_t i = 0; i < nz->n; i++)
            out[i] = nz->amp[i] != 0.0 ? nz->amp[i] * tdi_cosim_noise_gauss(nz->seed, i, idx) : 0.0;
        return;
    }
    tdi_cosim_noise_gauss_block(nz->seed, 0, idx, nz->n, out);
    for (size_t i = 0; i < nz->n; i++)
        out[i] *= nz->amp[i];
}
void tdi_cosim_noise_dev_sample(const tdi_cosim_noise *nz, long k, double *out)
{
    if (k <= 0) {
        memset(out, 0, sizeof(double) * nz->dev->n);
        return;
    }
    tdi_cosim_devnoise_at(nz->dev, nz->tick0 + k, out);
}

int tdi_cosim_noise_init(tdi_cosim_noise *nz, const tdi_cosim_circuit *c, double tick,
                         uint64_t seed, int enabled, tdi_err *err)
{
    memset(nz, 0, sizeof *nz);
    if (!(tick > 0))
        return tdi_err_set(err, TDI_EARG, "noise: tick must be > 0 (got %g)", tick);
    nz->amp = calloc(c->n ? c->n : 1, sizeof(double));
    if (!nz->amp)
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    nz->n = c->n;
    nz->seed = seed;
    for (size_t i = 0; i < c->n && enabled; i++)
        nz->amp[i] = sqrt(2.0 * TDI_COSIM_KB * c->temp * c->g_noise[i] / tick);
    return 0;
}

void tdi_cosim_noise_destroy(tdi_cosim_noise *nz)
{
    if (!nz)
        return;
    free(nz->amp);
    nz->amp = NULL;
    nz->n = 0;
}
