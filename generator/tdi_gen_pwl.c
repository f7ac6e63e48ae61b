/* tdi_gen_pwl: the standalone netlist's reproducible noise (circuit.noise_src: pwl): the thermal
 * noise stream of tdi-cosim (cosim/tdi_cosim_noise.c: Philox4x32-10 keyed by (seed, unit, tick),
 * Box-Muller, amplitude sqrt(2 kB T g / h), sample 0 = 0, linear between ticks) written as PWL
 * current sources. Invariant: tdi_gen_noise_gauss equals tdi_cosim_noise_gauss bit for bit
 * (both are common's tdi_seed_gauss; test_gen_hier checks it). Non-goal: speed
 * (a netlist is written once). */
#include <math.h>

#include "tdi_gen.h"
#include "tdi_seed.h"

double tdi_gen_noise_gauss(uint64_t seed, uint64_t unit, uint64_t index)
{
    return tdi_seed_gauss(seed, unit, index);
}

size_t tdi_gen_pwl_ticks(double h, double tstop)
{
    return (size_t)ceil(tstop / h - 1e-9) + 1;
}
