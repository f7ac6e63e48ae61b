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

/* 1 when an argument after argv[0] is exactly "-h" or "--help", else 0: the mains then print
 * their usage to stdout and exit 0 before opening any file. */
int tdi_cli_wants_help(int argc, char **argv);

/* The start of every main: tdi_cli_omp_passive("/proc/self/exe", argv), then, when -h or
 * --help is given, usage(stdout). Returns 1 when the help was printed (main returns 0), else 0. */
int tdi_cli_start(int argc, char **argv, void (*usage)(FILE *));

#endif
