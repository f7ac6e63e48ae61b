/* tdi_sweep_mpi: the MPI transport of tdi-sweep (tdi_sweep_comm over MPI_COMM_WORLD). The only
 * file that includes mpi.h is tdi_sweep_mpi.c, which is linked into bin/tdi-sweep alone (not into
 * build/libtdi.a), so nothing else links MPI. Started without mpirun (no OMPI_COMM_WORLD_SIZE /
 * PMIX_RANK / PMI_SIZE in the environment) it does not initialise MPI and reports one rank.
 * Non-goal: other MPI communicators, MPI types in any other header. */
#ifndef TDI_SWEEP_MPI_H
#define TDI_SWEEP_MPI_H

#include "tdi_sweep.h"

/* Initialises MPI (thread level FUNNELED: only the main thread calls MPI) when launched by
 * mpirun and fills *comm; returns 0 or a negative code with a message. */
int tdi_sweep_mpi_init(int *argc, char ***argv, tdi_sweep_comm *comm, tdi_err *err);
/* MPI_Finalize (no-op when MPI was not initialised). */
void tdi_sweep_mpi_finalize(void);
/* MPI_Abort of every rank (after a fatal error on one rank); no-op without MPI. */
void tdi_sweep_mpi_abort(int code);

#endif
