/* tdi_cosim_ng: the one ngspice shared-library instance of a process, shared by the transient
 * driver (tdi_cosim_spice.c, which owns the init, the callbacks and every call into ngspice) and
 * the operating-point adapter (tdi_cosim_ngop.c). Internal to cosim/; no vendor types.
 * Invariants: one ngSpice_Init per process; ngspice's error lines are collected only while a
 * watch is active (one at a time); every call restores the host's OpenMP thread count and FP
 * environment (tdi_cosim_ng_host). Non-goals: bg_run, several instances. */
#ifndef TDI_COSIM_NG_H
#define TDI_COSIM_NG_H

#include <fenv.h>
#include <stddef.h>

#include "tdi_err.h"

/* What ngspice printed while a watch was active (set by the printf/exit callbacks). */
typedef struct tdi_cosim_ng_watch {
    int ng_error;  /* ngspice printed an error line */
    int tail;      /* lines still to copy after an error line (they name the card) */
    int exited;    /* ngspice asked for exit */
} tdi_cosim_ng_watch;

/* What ngspice may change in the process and every call hands back unchanged (ngspice's "run"
 * and "op" set the OpenMP thread count; it leaves FP exception flags set). */
typedef struct tdi_cosim_ng_host {
    int omp_threads;
    fenv_t fenv;
} tdi_cosim_ng_host;

/* ngSpice_Init + ngSpice_Init_Sync once per process (later calls return 0 at once). */
int tdi_cosim_ng_init(tdi_err *err);
void tdi_cosim_ng_host_save(tdi_cosim_ng_host *h);
void tdi_cosim_ng_host_restore(const tdi_cosim_ng_host *h);
/* Zeroes *w, empties the log and sends ngspice's error lines (and the 2 lines after each) there
 * until tdi_cosim_ng_watch_end. */
void tdi_cosim_ng_watch_begin(tdi_cosim_ng_watch *w);
void tdi_cosim_ng_watch_end(void);
/* The error lines collected since the last watch_begin ("" when none); valid until the next. */
const char *tdi_cosim_ng_log(void);
/* The raw calls (tdi_cosim_ng_init first). lines: ngSpice_Circ's array, ".end" then NULL. */
int tdi_cosim_ng_raw_circ(char **lines);
int tdi_cosim_ng_raw_command(const char *cmd);
/* ngGet_Vec_Info: 0 and the vector's data (re: real data or NULL when complex; len values;
 * pointers into ngspice, valid until its next command), or -1 when ngspice has no such vector. */
int tdi_cosim_ng_raw_vec(const char *name, const double **re, size_t *len);
/* ngSpice_AllVecs of the current plot: the vector names, NULL-terminated (ngspice's; valid until
 * its next command), or NULL without a plot. */
char **tdi_cosim_ng_raw_vecs(void);

#endif
