/* tdi_cosim: the co-simulator library. A circuit of n capacitive units (C dv/dt = -G v + i) is
 * run by one of three engines behind one interface (spice: ngspice in lock-step with C; sde: an
 * exact integrator of the same equations with the same noise stream; analytic: G^-1 i_bias), with
 * a digital side (DAC-held biases, ADC samples) acting between ticks of one digital clock.
 * Invariants: one EXTERNAL current source per unit carries bias + thermal noise; noise comes only
 * from tdi_cosim_noise (keyed by seed, unit, global tick); every tick of the clock is an accepted
 * point. Non-goals: no vendor types here (sharedspice.h lives in tdi_cosim_spice.c only); no
 * non-symmetric G in the sde engine. Ownership: *_alloc results are freed by the matching *_free
 * (NULL accepted); arrays passed in are copied unless a comment says otherwise. */
#ifndef TDI_COSIM_H
#define TDI_COSIM_H

#include <stddef.h>
#include <stdint.h>

#include "tdi_err.h"

#define TDI_COSIM_KB 1.380649e-23 /* J/K, exact (SI 2019) */

/* ---------------------------------------------------------------- circuit */
/* The circuit as every engine sees it. Units are indexed 0..n-1. */
typedef struct tdi_cosim_circuit {
    size_t n;         /* units (capacitive nodes) */
    double *cap;      /* (n) F, capacitance to ground */
    double *G;        /* (n, n) S, row-major: effective conductance matrix (bus nodes eliminated);
                         the current into unit i is -(G v)_i + i_src,i */
    double *g_noise;  /* (n) S: unit i gets white noise current of two-sided PSD 2 kB T g_noise,i */
    double temp;      /* K */
    char **node;      /* (n) node names, lower-case, as ngspice reports them ("x3") */
    char **src;       /* (n) EXTERNAL current source instance names, lower-case ("ix3"); each
                         drives current from ground into its unit node */
    char **lines;     /* netlist cards for spice, NULL-terminated; no .tran/.end/.control (the
                         driver adds its own); may be NULL for engines other than spice */
    double sum_gm;    /* S: sum of |gm| over all transconductors (VCCS) of the netlist */
    size_t n_vccs;    /* number of VCCS elements */
    size_t n_res;     /* number of resistors */
    size_t wires;     /* distinct node pairs joined by coupling elements (ground excluded) */
} tdi_cosim_circuit;

/* Allocates an empty circuit of n units (arrays zeroed, names NULL). */
tdi_cosim_circuit *tdi_cosim_circuit_alloc(size_t n, tdi_err *err);
void tdi_cosim_circuit_free(tdi_cosim_circuit *c);
/* Fills a circuit with the direct realisation of G = gu * M (M: n x n symmetric, row-major):
 * a resistor gu*M_ii to ground and a VCCS per nonzero off-diagonal M_ij, capacitor cu, noise
 * conductance gu, nodes "u<i>", sources "iu<i>". Used by tests and when no generated netlist
 * is given. Needs M_ii > 0. */
tdi_cosim_circuit *tdi_cosim_circuit_direct(size_t n, const double *M, double cu, double gu,
                                            double temp, tdi_err *err);
/* Sets node name i and source name i (copied, lower-cased). */
int tdi_cosim_circuit_set_names(tdi_cosim_circuit *c, size_t i, const char *node,
                                const char *src, tdi_err *err);
/* Replaces the netlist cards (copied); lines ends with NULL. */
int tdi_cosim_circuit_set_lines(tdi_cosim_circuit *c, const char *const *lines, tdi_err *err);

/* ---------------------------------------------------------------- noise */
/* Sample j of unit u: amplitude[u] * N(0,1) drawn by Philox4x32-10 keyed by (seed) with counter
 * (j, u); sample 0 of every run is 0; between samples the current is interpolated linearly.
 * The draw depends only on (seed, unit, global tick): the same seed gives the same stream in any
 * engine, any process and any schedule. */
typedef struct tdi_cosim_noise {
    uint64_t seed;
    size_t n;
    double *amp;     /* (n) A: sqrt(2 kB T g_noise / tick); 0 switches a unit's noise off */
    long tick0;      /* global index of the run's local tick 0 */
} tdi_cosim_noise;

/* Standard Gaussian of (seed, unit, global sample index): Philox + Box-Muller. */
double tdi_cosim_noise_gauss(uint64_t seed, uint64_t unit, uint64_t index);
/* Fills out[n] with the noise currents at local sample k (k = 0 gives zeros). */
void tdi_cosim_noise_sample(const tdi_cosim_noise *nz, long k, double *out);
/* amp[i] = sqrt(2 kB T g_noise,i / tick), or 0 when enabled is 0. */
int tdi_cosim_noise_init(tdi_cosim_noise *nz, const tdi_cosim_circuit *c, double tick,
                         uint64_t seed, int enabled, tdi_err *err);
void tdi_cosim_noise_destroy(tdi_cosim_noise *nz);

/* ---------------------------------------------------------------- digital side of one run */
/* The digital side of a transient of n_ticks ticks of length tick. The engine asks for the bias
 * currents of interval k, i.e. (t_k, t_k+1], before it integrates that interval (for k = -1, the
 * operating point at t = 0, the engine uses zeros) and reports the accepted state at every tick.
 * bias() may depend on the states reported for ticks <= k (one-tick delay, zero-order hold);
 * it returns a pointer to n currents (A) that stays valid until the next call. */
typedef struct tdi_cosim_digital {
    double tick;   /* s */
    long n_ticks;  /* the run covers [0, n_ticks * tick] */
    const double *(*bias)(void *user, long k);
    /* Called at every tick k = 0..n_ticks with the unit voltages (V, n) and the bias current
       (A, n) that was held over the interval that ended at this tick (zeros at k = 0).
       A non-zero return aborts the run with that code (message in the engine's err). */
    int (*on_tick)(void *user, long k, double t, const double *v, const double *ibias);
    void *user;
} tdi_cosim_digital;

typedef struct tdi_cosim_stats {
    long ticks_hit;     /* ticks seen as accepted points (n_ticks + 1 on success) */
    long points;        /* accepted points (spice: >= ticks_hit) */
    long src_calls;     /* EXTERNAL source callbacks (spice) */
    double cpu_s;       /* process CPU seconds spent in the run */
    double wall_s;      /* wall seconds */
} tdi_cosim_stats;

/* ---------------------------------------------------------------- engines */
typedef enum { TDI_COSIM_ANALYTIC = 0, TDI_COSIM_SDE = 1, TDI_COSIM_SPICE = 2 } tdi_cosim_kind;
const char *tdi_cosim_kind_name(tdi_cosim_kind k);

/* The sde engine: exact integration of C dv/dt = -G v + i(t) over each tick for a bias held
 * constant and noise interpolated linearly (G symmetric positive definite, C diagonal): in the
 * eigenbasis of C^-1/2 G C^-1/2 each mode is a scalar OU step with closed-form weights. */
typedef struct tdi_cosim_sde tdi_cosim_sde;
tdi_cosim_sde *tdi_cosim_sde_alloc(const tdi_cosim_circuit *c, double tick, tdi_err *err);
void tdi_cosim_sde_free(tdi_cosim_sde *s);
/* Runs from v = 0 at t = 0 (the operating point under zero bias). */
int tdi_cosim_sde_run(tdi_cosim_sde *s, const tdi_cosim_noise *nz, const tdi_cosim_digital *dg,
                      tdi_cosim_stats *st, tdi_err *err);

/* The spice engine: ngspice's shared library, one instance per process, runs used one after the
 * other ("remcirc" + "destroy all" between runs). Runs from the operating point under zero bias.
 * Errors: netlist parse errors and run failures reported by ngspice (its output is scanned),
 * a source callback for a name not in c->src, a missed tick: TDI_ESPICE with the ngspice text. */
int tdi_cosim_spice_run(const tdi_cosim_circuit *c, const tdi_cosim_noise *nz,
                        const tdi_cosim_digital *dg, tdi_cosim_stats *st, tdi_err *err);
/* Writes the cards the driver hands to ngspice for a run of n_ticks (for `ngspice -b` benchmarks:
 * EXTERNAL sources replaced by zero DC sources when plain != 0). Returns a malloc'd string. */
char *tdi_cosim_spice_deck(const tdi_cosim_circuit *c, double tick, long n_ticks, int plain,
                           tdi_err *err);
/* Sets an environment-free debug switch: when verbose, ngspice's output is copied to stderr. */
void tdi_cosim_spice_set_verbose(int verbose);

/* Analytic: v = G^-1 i (Cholesky). out and ib have n elements. */
int tdi_cosim_analytic_solve(const tdi_cosim_circuit *c, const double *ib, double *out,
                             tdi_err *err);

/* ---------------------------------------------------------------- converters */
/* Mid-tread two's-complement quantiser: step q = 2 fs / 2^bits, code = round(x / q) clamped to
 * [-2^(bits-1), 2^(bits-1) - 1], value = code * q. bits == 0 means ideal (x returned). */
double tdi_cosim_quantize(double x, int bits, double fs);

#endif
