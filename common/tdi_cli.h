/* tdi_cli: start-up helpers shared by the programs in bin/ (their *_main.c).
 * Invariant: called first thing in main, before any OpenMP or BLAS call, and before MPI_Init.
 * Non-goal: argument parsing (each main keeps its own usage text in one place). */
#ifndef TDI_CLI_H
#define TDI_CLI_H

#include <stdio.h>

/* Makes idle OpenMP threads sleep instead of spinning: when OMP_WAIT_POLICY is unset, sets it
 * to PASSIVE and re-executes exe (a path; the mains pass "/proc/self/exe") with argv, because
 * libgomp reads the variable once, when it loads. A value the user set, even empty, is kept.
 * Returns 0 when nothing had to be done, -1 when the exec failed (the program then goes on with
 * the runtime's default policy); on success it does not return. */
int tdi_cli_omp_passive(const char *exe, char **argv);

/* Flags of tdi_cli_env: TDI_CLI_BLAS_AVX512 also sets OPENBLAS_CORETYPE=SkylakeX (OpenBLAS's
 * AVX-512 kernels, chosen once when the library loads) when the variable is unset and the CPU
 * and OS support AVX-512 F, BW, VL and DQ (tdi_cli_cpu_avx512). A value the user set, even empty,
 * is kept. Results then differ from the default kernels' at float rounding (another summation
 * order inside the GEMMs). */
#define TDI_CLI_BLAS_AVX512 1u

/* tdi_cli_omp_passive plus the variables the flags ask for, in one re-exec (none when every
 * variable is already set). Returns as tdi_cli_omp_passive. */
int tdi_cli_env(const char *exe, char **argv, unsigned flags);

/* 1 when the CPU and OS support AVX-512 F, BW, VL and DQ (x86-64 with GCC; else 0). */
int tdi_cli_cpu_avx512(void);

/* 1 when an argument after argv[0] is exactly "-h" or "--help", else 0: the mains then print
 * their usage to stdout and exit 0 before opening any file. */
int tdi_cli_wants_help(int argc, char **argv);

/* The start of every main: tdi_cli_omp_passive("/proc/self/exe", argv), then, when -h or
 * --help is given, usage(stdout). Returns 1 when the help was printed (main returns 0), else 0. */
int tdi_cli_start(int argc, char **argv, void (*usage)(FILE *));
/* tdi_cli_start with tdi_cli_env's flags (tdi-unet: TDI_CLI_BLAS_AVX512). */
int tdi_cli_start_flags(int argc, char **argv, void (*usage)(FILE *), unsigned flags);

#endif
