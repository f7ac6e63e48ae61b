/* tdi_linalg: the one Cholesky factorisation, its multi-right-hand-side solve and the symmetric
 * eigen-decomposition shared by tools/substrate and generator/ (row-major double arrays, n x n
 * unless stated). GSL is the backend; its types never appear here (tdi_linalg.c is the adapter).
 * the continuous Lyapunov solve for a stable non-symmetric matrix (the stationary covariance of a
 * linear circuit). Non-goals: sparse matrices, in-place factorisation, non-symmetric eigenvectors. */
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

/* X (n x n, symmetric) solving A X + X A^T = Q for any real A (n x n) whose eigenvalues all have
 * a positive real part and symmetric Q (n x n; symmetrised first). A may be non-normal or
 * defective (a chain of one-way stages is a Jordan block): no eigenvectors are formed. Method:
 * the Cayley transform Ad = (A + pI)^-1 (A - pI), Qd = 2p (A + pI)^-1 Q (A + pI)^-T turns the
 * equation into X = Ad X Ad^T + Qd (spectral radius of Ad < 1), summed by Smith's doubling
 * (docs/physics.md "Non-reciprocal circuits"). resid (may be NULL) receives the relative residual
 * |A X + X A^T - Q|_F / (2 |A|_F |X|_F + |Q|_F). Errors: TDI_ENOMEM; TDI_ENUM "<what> is not
 * stable: eigenvalue ..." (Re <= 0), no convergence in 64 doublings, or a residual above
 * sqrt(DBL_EPSILON) (A too close to unstable for double precision). */
int tdi_linalg_lyap(const double *A, size_t n, const double *Q, double *X, double *resid,
                    const char *what, tdi_err *err);

#endif
