/* tdi_gen_pwl: the standalone netlist's reproducible noise (circuit.noise_src: pwl): the thermal
 * noise stream of tdi-cosim (cosim/tdi_cosim_noise.c: Philox4x32-10 keyed by (seed, unit, tick),
 * Box-Muller, amplitude sqrt(2 kB T g / h), sample 0 = 0, linear between ticks) written as PWL
 * current sources. Invariant: tdi_gen_noise_gauss equals tdi_cosim_noise_gauss bit for bit
 * (test_gen_hier checks it); the generator sits below cosim and cannot call it. Non-goal: speed
 * (a netlist is written once). */
#include <math.h>

#include <Random123/philox.h>

#include "tdi_gen.h"

double tdi_gen_noise_gauss(uint64_t seed, uint64_t unit, uint64_t index)
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

size_t tdi_gen_pwl_ticks(double h, double tstop)
{
    return (size_t)ceil(tstop / h - 1e-9) + 1;
}
