/* tdi_cosim_noise: the thermal-noise stream of every engine. A standard Gaussian per (seed, unit,
 * global sample index) from the counter-based Philox4x32-10 generator (Random123) and Box-Muller,
 * scaled by amp = sqrt(2 kB T g / tick) so that the linearly interpolated current has the
 * low-frequency two-sided PSD 2 kB T g (physics.md 2). Sample 0 of every run is 0 (trnoise's
 * convention: the operating point sees no offset). Non-goal: any state; draws are pure functions. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <Random123/philox.h>

#include "tdi_cosim.h"

double tdi_cosim_noise_gauss(uint64_t seed, uint64_t unit, uint64_t index)
{
    philox4x32_ctr_t ctr = {{(uint32_t)index, (uint32_t)(index >> 32), (uint32_t)unit,
                             (uint32_t)(unit >> 32)}};
    philox4x32_key_t key = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
    philox4x32_ctr_t r = philox4x32(ctr, key);
    uint64_t a = (((uint64_t)r.v[0] << 32) | r.v[1]) >> 11; /* 53 random bits */
    uint64_t b = (((uint64_t)r.v[2] << 32) | r.v[3]) >> 11;
    double u1 = ((double)a + 1.0) * 0x1p-53; /* (0, 1]: log is finite */
    double u2 = (double)b * 0x1p-53;         /* [0, 1) */
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void tdi_cosim_noise_sample(const tdi_cosim_noise *nz, long k, double *out)
{
    if (k <= 0) {
        memset(out, 0, sizeof(double) * nz->n);
        return;
    }
    uint64_t idx = (uint64_t)(nz->tick0 + k);
    for (size_t i = 0; i < nz->n; i++)
        out[i] = nz->amp[i] != 0.0 ? nz->amp[i] * tdi_cosim_noise_gauss(nz->seed, i, idx) : 0.0;
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
