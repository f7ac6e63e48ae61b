/* tdi_phys: theta <-> Vs, the only place the relation theta = kB T / (Cu Vs^2) is written.
 * Invariant: tdi_phys_vs_of_theta(T, Cu, tdi_phys_theta_of_vs(T, Cu, Vs)) == Vs to rounding. */
#include "tdi_phys.h"

#include <math.h>

double tdi_phys_theta_of_vs(double T, double Cu, double Vs)
{
    return TDI_PHYS_KB * T / (Cu * Vs * Vs);
}

double tdi_phys_vs_of_theta(double T, double Cu, double theta)
{
    return sqrt(TDI_PHYS_KB * T / (Cu * theta));
}
