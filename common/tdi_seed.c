/* tdi_seed: the per-purpose seed formulas (see tdi_seed.h and the table in docs/common.md).
 * Invariant: each historical purpose reproduces its former stream bit for bit; the golden tests
 * and the presets' numbers depend on it. */
#include "tdi_seed.h"

#include <math.h>

#include <Random123/philox.h>

#define SEED_G UINT64_C(0x9E3779B97F4A7C15)

static uint64_t splitmix_fin(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* two splitmix64 steps of (seed G) ^ (purpose << 48) ^ index, folded to 32 bits (mt19937) */
static uint64_t seed_mix(uint64_t seed, uint64_t purpose, uint64_t index)
{
    uint64_t z = seed * SEED_G ^ (purpose << 48) ^ index;
    for (int i = 0; i < 2; i++)
        z = splitmix_fin(z + SEED_G);
    return z & UINT64_C(0xFFFFFFFF);
}

uint64_t tdi_seed(uint64_t seed, tdi_seed_purpose purpose, uint64_t index)
{
    switch (purpose) {
    case TDI_SEED_SWEEP_JOB: { /* one splitmix64 step, never 0 (configs require seed >= 1) */
        uint64_t s = splitmix_fin(seed * SEED_G + index + 1) & UINT64_C(0xFFFFFFFF);
        return s ? s : 1;
    }
    case TDI_SEED_SWEEP_SYNTH:
        return seed * 7919 + index;
    case TDI_SEED_FIT_MLP:
        return seed * UINT64_C(2654435761) + index;
    case TDI_SEED_FIT_BATCH:
        return seed ^ SEED_G;
    case TDI_SEED_GEN_LANCZOS:
        return seed + index;
    case TDI_SEED_GEN_LOWRANK:
        return seed * 2 + index + 7;
    case TDI_SEED_COSIM_NOISE:
        return seed * SEED_G + 5;
    default: /* the tdi-unet purposes and every new one */
        return seed_mix(seed, (uint64_t)purpose, index);
    }
}

double tdi_seed_gauss(uint64_t key, uint64_t item, uint64_t index)
{
    philox4x32_ctr_t ctr = {{(uint32_t)index, (uint32_t)(index >> 32), (uint32_t)item,
                             (uint32_t)(item >> 32)}};
    philox4x32_key_t k = {{(uint32_t)key, (uint32_t)(key >> 32)}};
    philox4x32_ctr_t r = philox4x32(ctr, k);
    uint64_t a = (((uint64_t)r.v[0] << 32) | r.v[1]) >> 11; /* 53 random bits */
    uint64_t b = (((uint64_t)r.v[2] << 32) | r.v[3]) >> 11;
    double u1 = ((double)a + 1.0) * 0x1p-53; /* (0, 1]: log is finite */
    double u2 = (double)b * 0x1p-53;         /* [0, 1) */
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}
