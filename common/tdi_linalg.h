/* tdi_linalg: the one Cholesky factorisation, its multi-right-hand-side solve and the symmetric
 * eigen-decomposition shared by tools/substrate and generator/ (row-major double arrays, n x n
 * unless stated). GSL is the backend; its types never appear here (tdi_linalg.c is the adapter).
 * Non-goals: sparse matrices, in-place factorisation, general (non-symmetric) eigen-solvers. */
#ifndef TDI_LINALG_H
#define TDI_LINALG_H

#include <stddef.h>

#include "tdi_err.h"

/* Cholesky factor L (n x n, lower, upper triangle zeroed, M = L L^T) of the symmetric M (n x n;
 * L must not alias M). When M is not positive definite (a pivot <= 0 or a non-finite factor)
 * returns TDI_ENUM "<what> is not positive definite: Cholesky failed, smallest eigenvalue x".
 * lambda_min (may be NULL) receives the smallest eigenvalue when it is computed: always on
 * failure, on success only if want_eig. */
int tdi_linalg_chol(const double *M, size_t n, double *L, const char *what, int want_eig,
                    double *lambda_min, tdi_err *err);
/* Rows of R (nrhs x n) become R M^-1 in place (M = L L^T symmetric, L from tdi_linalg_chol):
 * two triangular solves, no inverse formed. */
void tdi_linalg_chol_solve_rows(const double *L, size_t n, double *R, size_t nrhs);
/* Eigen-decomposition of the symmetric S (n x n, symmetrised as (S + S^T)/2 first): evals (n)
 * descending, evecs (n x n, may be NULL) the matching unit eigenvectors as columns.
 * TDI_ENOMEM / TDI_ENUM on failure. */
int tdi_linalg_eig_sym(const double *S, size_t n, double *evals, double *evecs, tdi_err *err);

#endif
