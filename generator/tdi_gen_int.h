/* tdi_gen_int: helpers shared by the generator's files (not part of the public API).
 * Matrices are row-major double arrays; n x n unless stated. */
#ifndef TDI_GEN_INT_H
#define TDI_GEN_INT_H

#include <stddef.h>

#include "tdi_gen.h"
#include "tdi_linalg.h"
#include "tdi_seed.h"

/* Cholesky and its row solve: common/tdi_linalg.h (tdi_linalg_chol, tdi_linalg_chol_solve_rows). */

/* Extreme eigenvalues of SPD M given its Cholesky factor L: lambda_max by Lanczos on M,
 * lambda_min by Lanczos on M^-1 (exact dense eigen-decomposition when n <= 400). */
int tdi_gen_eig_extremes(const double *M, const double *L, size_t n, unsigned long seed,
                         double *lmin, double *lmax, tdi_err *err);
/* C = A B^T with A (m x k), B (n x k), C (m x n). */
void tdi_gen_gemm_abt(const double *A, const double *B, size_t m, size_t n, size_t k,
                      double *C);

/* Schur reduction of an element list: per node, unit_of (column index of a unit voltage or -1),
 * force_of (row index of a unit's force node or -1), bus_of (0..nb-1 or -1). K (N x N) =
 * G_FX - G_FB G_BB^-1 G_BX with G stamped as "current leaving the row node". vbus (nb x N, may
 * be NULL): the bus voltages as a function of the unit voltages, v_B = -G_BB^-1 G_BX v_X. */
int tdi_gen_reduce(const tdi_gen_elem *el, size_t ne, size_t n_nodes, const int *unit_of,
                   const int *force_of, const int *bus_of, size_t N, size_t nb, double *K,
                   double *vbus, tdi_err *err);

/* When cfg->target_noise_ratio > 0: chooses the operating point for the built circuit c
 * (elements, phys, bias and means at the configured Vs; L the Cholesky factor of M) and moves
 * c to it: phys.Vs, theta, t_avg, t_stop, bias, expect_mean, readout_sd, c->op. */
int tdi_gen_op_resolve(const tdi_gen_config *cfg, const tdi_gen_bundle *bu, const double *L,
                       tdi_gen_circuit *c, tdi_err *err);

/* Formats the element cards into c->elem_text (tdi_gen_emit.c). 0 or TDI_ENOMEM. */
int tdi_gen_emit_elements(tdi_gen_circuit *c, tdi_err *err);

#endif
