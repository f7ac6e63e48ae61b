/* tdi_phys: the physical constants and the one scale relation every program shares.
 * A simulation unit of state z is Vs volts on a unit capacitance Cu at temperature T; the
 * dimensionless noise scale is theta = kB T / (Cu Vs^2) (the paper's kT). Every conversion
 * between theta and Vs goes through these two functions. Non-goals: unit parsing, other
 * physics (generator/, cosim/). */
#ifndef TDI_PHYS_H
#define TDI_PHYS_H

#define TDI_PHYS_KB 1.380649e-23 /* J/K, Boltzmann constant, exact (SI 2019) */

/* theta = kB T / (Cu Vs^2): T in K, Cu in F, Vs in V per simulation unit. */
double tdi_phys_theta_of_vs(double T, double Cu, double Vs);
/* Vs = sqrt(kB T / (Cu theta)) in V per simulation unit (the inverse of the above). */
double tdi_phys_vs_of_theta(double T, double Cu, double theta);

#endif
