/* tdi_cosim: the co-simulator library. A circuit of n capacitive units (C dv/dt = -G v + i) is
 * run by one of three engines behind one interface (spice: ngspice in lock-step with C; sde: an
 * exact integrator of the same equations with the same noise stream; analytic: G^-1 i_bias), with
 * a digital side (DAC-held biases, ADC samples) acting between ticks of one digital clock.
 * Invariants: one EXTERNAL current source per unit carries bias + thermal noise; noise comes only
 * from tdi_cosim_noise (keyed by seed, unit, global tick); every tick of the clock is an accepted
 * point. The sde engine takes any G whose C^-1 G is stable (non-symmetric too). Non-goals: no
 * vendor types here (sharedspice.h lives in tdi_cosim_spice.c only); no non-diagonal C and no
 * nonlinear elements in the sde engine. Ownership: *_alloc results are freed by the matching *_free
 * (NULL accepted); arrays passed in are copied unless a comment says otherwise. */
#ifndef TDI_COSIM_H
#define TDI_COSIM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tdi_err.h"
#include "tdi_json.h"
#include "tdi_phys.h"
#include "tdi_seed.h"

#define TDI_COSIM_KB TDI_PHYS_KB /* J/K (common/tdi_phys.h) */
#define TDI_COSIM_MAX_SUPPLY 4   /* supply sources the spice engine measures (Vdd, Vbias, Vcm) */

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
    char **src;       /* (n) EXTERNAL current source instance names, lower-case ("ibias_x3"); each
                         drives current from ground into its unit's force node: the bias, plus
                         the noise when src_noise[i] is NULL */
    char **src_noise; /* (n) optional separate noise source per unit ("inoise_x3"); NULL or
                         NULL entries: the noise rides on src[i] */
    int rc_units;     /* 1: the state node is the force node (the units are the sde state) */
    /* Transistor-level netlists: one EXTERNAL noise current source per transistor, across its
       channel ("in<dev> <d> <s> external"), driven by the spice engine from tdi_cosim_devnoise
       (the sde and analytic engines do not see transistors). n_dev = 0 otherwise. */
    size_t n_dev;
    char **dev_src;     /* (n_dev) source names, lower-case ("inm12") */
    double *dev_psd_w;  /* (n_dev) A^2/Hz, two-sided white drain-current noise */
    double *dev_psd_f1; /* (n_dev) A^2/Hz at 1 Hz of the flicker part (S = psd_w + psd_f1 / f) */
    /* The sde engine's state when it is more than the units (a unit kind with a second state
       node: the rlc unit's p<x><i> with Cp); set by tdi_cosim_circuit_set_state. State nodes
       0..n-1 are the units, n..n_state-1 the extra nodes; bus nodes are eliminated:
         state_cap dv_s/dt = -state_G v_s + sum_i e_force[i] (bias_i + noise_i).
       n_state = 0: the units are the state (state_G = G, state_cap = cap, force[i] = i). */
    size_t n_state;
    double *state_cap;  /* (n_state) F, > 0 */
    double *state_G;    /* (n_state, n_state) S, row-major, any (stable) non-symmetric matrix */
    size_t *force;      /* (n) state index of unit i's force node (its bias and noise enter
                           there: tdi_gen.h's netlist contract) */
    char **lines;     /* netlist cards for spice, NULL-terminated; no .tran/.end/.control (the
                         driver adds its own); may be NULL for engines other than spice */
    double sum_gm;    /* S: sum of |gm| over all transconductors (VCCS) of the netlist */
    size_t n_vccs;    /* number of VCCS elements */
    size_t n_res;     /* number of resistors */
    size_t wires;     /* distinct node pairs joined by coupling elements (ground excluded) */
    /* Every resistor of the netlist, for the energy ledger's E_R, as a function of the unit
       voltages v (bus nodes are algebraic, so their voltages are linear in v): dissipated power
       = sum_i r_unit,i v_i^2 + sum_r r_g,r (r_map[r,:] . v)^2 + sum_i r_rate,i (dv_i/dt)^2.
       Negative resistors (the shared-bus correction can make a self term negative) are active
       cells in hardware: they are counted in sum_gm and n_vccs, not here. */
    double *r_unit;   /* (n) S: resistors from unit node i to ground (> 0) */
    size_t n_rmap;    /* the other resistors (> 0): bus nodes to ground, ... */
    double *r_g;      /* (n_rmap) S */
    double *r_map;    /* (n_rmap, n): voltage across resistor r = r_map[r,:] . v */
    double *r_rate;   /* (n) S s^2: rlc unit damping resistor gd on the node p, whose voltage is
                         v_p = (Cu/gu) dv/dt (the gyrator's KCL at the unit node): gd (Cu/gu)^2 */
    /* Supply sources whose current the spice engine integrates (transistor level, docs/cosim.md
       "Supply power"): independent DC voltage sources by instance name, lower-case ("vdd",
       "vbias", "vcm"), set by tdi_cosim_circuit_add_supply. n_supply = 0 (ideal circuits): the
       spice engine reads no current and runs exactly as before. */
    double v_ref;     /* V: the rest voltage of every unit node (transistor level: V_cm, the
                         generator's phys.v_ref); the spice engine reports v(node) - v_ref, so
                         every engine sees deviations from rest. 0 for ideal circuits. */
    /* Transistor level: the current (A, n) the circuit itself drives into each unit node at
       rest (v = 0), the OTAs' systematic offset currents (tdi_cosim_realised.i_rest), set by
       tdi_cosim_circuit_set_offset. The analytic and sde engines add it to the DAC's bias
       (equilibrium G^-1 (i_bias + i_off)); spice has it in its cards; the energy ledger's E_bias
       counts the DAC's bias only. NULL (ideal circuits): nothing changes. */
    double *i_off;
    size_t n_supply;
    char *supply[TDI_COSIM_MAX_SUPPLY];
    double supply_v[TDI_COSIM_MAX_SUPPLY]; /* V: each source's DC value */
} tdi_cosim_circuit;

/* Allocates an empty circuit of n units (arrays zeroed, names NULL, no r_map rows). */
tdi_cosim_circuit *tdi_cosim_circuit_alloc(size_t n, tdi_err *err);
void tdi_cosim_circuit_free(tdi_cosim_circuit *c);
/* The modes of units 0..m-1 (m <= n): the eigenvalues lam (m, 1/s, GSL's unsorted order) and
 * orthonormal eigenvectors U (m, m, row-major; column k belongs to lam[k]) of the symmetric part
 * of C^-1/2 G C^-1/2 restricted to those units. Every eigenvalue must be > 0. Errors: TDI_ENOMEM,
 * TDI_ENUM (decomposition failed, or a mode not decaying: "the circuit is not stable"). */
int tdi_cosim_circuit_modes(const tdi_cosim_circuit *c, size_t m, double *lam, double *U,
                            tdi_err *err);
/* Fills a circuit with the direct realisation of G = gu * M (M: n x n row-major, symmetric or
 * not: each nonzero off-diagonal M_ij is its own one-way VCCS card):
 * a resistor gu*M_ii to ground and a VCCS per nonzero off-diagonal M_ij, capacitor cu, noise
 * conductance gu, nodes "u<i>", sources "iu<i>". Used by tests and when no generated netlist
 * is given. Needs M_ii > 0. */
tdi_cosim_circuit *tdi_cosim_circuit_direct(size_t n, const double *M, double cu, double gu,
                                            double temp, tdi_err *err);
/* Sets node name i, source name i and (if noise != NULL) the noise source name i (copied,
 * lower-cased). */
int tdi_cosim_circuit_set_names(tdi_cosim_circuit *c, size_t i, const char *node,
                                const char *src, const char *noise, tdi_err *err);
/* Sets the device noise sources (names copied, lower-cased; PSDs >= 0), replacing any. */
int tdi_cosim_circuit_set_dev_noise(tdi_cosim_circuit *c, size_t n, const char *const *names,
                                    const double *psd_w, const double *psd_f1, tdi_err *err);
/* Sets the sde state (n_state, state_cap, state_G, force above; copied): ns >= c->n state
 * nodes, units first; TDI_EARG for a force index >= ns or a capacitance <= 0. */
int tdi_cosim_circuit_set_state(tdi_cosim_circuit *c, size_t ns, const double *cap,
                                const double *G, const size_t *force, tdi_err *err);
/* 1 when the sde engine can integrate c: rc units, or a state set by
 * tdi_cosim_circuit_set_state. */
int tdi_cosim_sde_supports(const tdi_cosim_circuit *c);
/* Replaces the units' G by a realised one (G (n, n) S, copied; rc units only, TDI_EARG
 * otherwise): the extracted small-signal matrix of a transistor netlist or a perturbed chip.
 * The analytic engine's mean is then G^-1 i (LU, any G), the sde engine integrates it, and
 * tdi_cosim_analytic_cov gives its Lyapunov covariance (docs/physics.md section 10). TDI_ENUM
 * when C^-1 G is not stable (c unchanged). */
int tdi_cosim_circuit_set_g(tdi_cosim_circuit *c, const double *G, tdi_err *err);
/* Sets c->i_off (copied; i_off (n) A; NULL clears it): the circuit's own rest currents. */
int tdi_cosim_circuit_set_offset(tdi_cosim_circuit *c, const double *i_off, tdi_err *err);
/* Adds the voltage source name (copied, lower-cased; its DC value volts) to the supplies the
 * spice engine measures. TDI_EARG beyond TDI_COSIM_MAX_SUPPLY or for a name used twice. */
int tdi_cosim_circuit_add_supply(tdi_cosim_circuit *c, const char *name, double volts,
                                 tdi_err *err);
/* Replaces the netlist cards (copied); lines ends with NULL. */
int tdi_cosim_circuit_set_lines(tdi_cosim_circuit *c, const char *const *lines, tdi_err *err);

/* From the generator's circuit (generator/tdi_gen.h): the cosim-mode netlist text for tick and
 * t_stop, unit nodes x<i>, y<j>, sources ibias_<unit> and inoise_<unit>, Cu, g_noise, T, and G
 * read back from the netlist text (bus nodes eliminated), checked against gu*M. */
struct tdi_gen_circuit;
int tdi_cosim_circuit_from_gen(const struct tdi_gen_circuit *gc, double tick, double t_stop,
                               tdi_cosim_circuit **out, tdi_err *err);

/* The resistors of a netlist read-back (generator/tdi_gen.h) into r_unit, r_g, r_map (negative
 * ones to sum_gm and n_vccs, see above); r_rate > 0 sets every unit's rate term (rlc units: one
 * damping resistor each, added to n_res). c->n must equal rb->N. TDI_EFORMAT when a resistor
 * sits at a node the unit voltages do not determine. */
struct tdi_gen_readback;
int tdi_cosim_circuit_take_resistors(tdi_cosim_circuit *c, const struct tdi_gen_readback *rb,
                                     double r_rate, tdi_err *err);

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
    int scalar;      /* 1: tdi_cosim_noise_sample draws unit by unit with tdi_cosim_noise_gauss
                        (the generator before the vectorised blocks: the sde reference path
                        and benchmarks); 0 (tdi_cosim_noise_init): tdi_cosim_noise_gauss_block */
    struct tdi_cosim_devnoise *dev; /* the circuit's device noise (NULL: none), not owned */
} tdi_cosim_noise;

/* Standard Gaussian of (seed, unit, global sample index): Philox + Box-Muller. */
double tdi_cosim_noise_gauss(uint64_t seed, uint64_t unit, uint64_t index);
/* z[i] = tdi_cosim_noise_gauss(seed, u0 + i, index) for i < cnt, to a few ulp: the vectorised
 * generator every engine uses (8 counters per block, glibc's libmvec log/cos on AVX2 machines). */
void tdi_cosim_noise_gauss_block(uint64_t seed, uint64_t u0, uint64_t index, size_t cnt,
                                 double *z);
/* Fills out[n] with the noise currents at local sample k (k = 0 gives zeros). */
void tdi_cosim_noise_sample(const tdi_cosim_noise *nz, long k, double *out);
/* Fills out[nz->dev->n] with the device noise currents at local sample k (k = 0: zeros; the
 * device stream's global index tick0 + k). Needs nz->dev. */
void tdi_cosim_noise_dev_sample(const tdi_cosim_noise *nz, long k, double *out);
/* amp[i] = sqrt(2 kB T g_noise,i / tick), or 0 when enabled is 0. */
int tdi_cosim_noise_init(tdi_cosim_noise *nz, const tdi_cosim_circuit *c, double tick,
                         uint64_t seed, int enabled, tdi_err *err);
void tdi_cosim_noise_destroy(tdi_cosim_noise *nz);

/* ---------------------------------------------------------------- device noise
 * (tdi_cosim_devnoise.c, docs/noise.md) The drain-current noise of each transistor of a
 * transistor-level netlist: sample j of device d is amp_w[d] N(0,1) + amp_f[d] y_d(j), y_d a
 * unit-1/f process (two-sided PSD ~ 1/f over [f_lo, 1/(2 tick)]) made of n_pole first-order AR
 * processes with log-spaced corners; the caller interpolates linearly between samples as for the
 * units' thermal noise, so the two-sided PSD is psd_w + psd_f1 / f in the band. Reproducible
 * from (seed, psd, f_lo, tick, j); the generator walks forward (a step back restarts it). */
typedef struct tdi_cosim_devnoise {
    uint64_t seed;      /* Philox key: tdi_seed(master, TDI_SEED_DEVNOISE, 0) */
    size_t n;           /* devices */
    double tick;        /* s */
    double f_lo;        /* Hz: lower edge of the 1/f band (poles start two decades below) */
    double *amp_w;      /* (n) A: sqrt(psd_w / tick) */
    double *amp_f;      /* (n) A / sqrt(Hz): sqrt(psd_f1) */
    size_t n_pole;
    double *pole_a;     /* (n_pole) AR coefficient e^(-2 pi f_p tick) */
    double *pole_c;     /* (n_pole) innovation scale sigma_p sqrt(1 - a_p^2) */
    double *pole_s;     /* (n_pole) stationary std sigma_p */
    double *x;          /* (n, n_pole) AR states at index at */
    double *z;          /* (n, 1 + n_pole) the Gaussians of index at */
    long at;            /* global index of x (-1: not started) */
} tdi_cosim_devnoise;

/* psd_w, psd_f1: (n) two-sided A^2/Hz (white; flicker at 1 Hz); tick s; f_lo Hz in
 * (0, 1/(2 tick)). Errors: TDI_EARG, TDI_ENOMEM. */
int tdi_cosim_devnoise_init(tdi_cosim_devnoise *dn, size_t n, const double *psd_w,
                            const double *psd_f1, double tick, double f_lo, uint64_t seed,
                            tdi_err *err);
void tdi_cosim_devnoise_destroy(tdi_cosim_devnoise *dn);
/* out[d] (n, A) = sample idx (global index >= 0) of every device. */
void tdi_cosim_devnoise_at(tdi_cosim_devnoise *dn, long idx, double *out);
/* The exact two-sided PSD (A^2/Hz) of device d's sample sequence at f (Hz), before the linear
 * interpolation: psd_w + psd_f1 sum_p tick c_p^2 / |1 - a_p e^(-i 2 pi f tick)|^2. */
double tdi_cosim_devnoise_psd(const tdi_cosim_devnoise *dn, size_t d, double f);
/* Welch estimate of the two-sided PSD (units^2/Hz) of x (n samples at rate fs, Hz): Hann
 * segments of seg (a power of 2, <= n) samples with 50% overlap, mean removed per segment;
 * psd (seg/2 + 1) at f_k = k fs / seg; *n_seg segments averaged (may be NULL). TDI_EARG, ENOMEM. */
int tdi_cosim_welch(const double *x, size_t n, size_t seg, double fs, double *psd,
                    size_t *n_seg, tdi_err *err);

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
    /* spice with supplies (tdi_cosim_circuit.n_supply > 0), else 0: */
    double supply_q[TDI_COSIM_MAX_SUPPLY]; /* C: charge supply s delivered, the integral of
                                              -i(s) (SPICE: current into + terminal) over the
                                              accepted points (trapezoid) */
    double supply_t;    /* s: simulated time those integrals cover */
} tdi_cosim_stats;

/* ---------------------------------------------------------------- engines */
typedef enum { TDI_COSIM_ANALYTIC = 0, TDI_COSIM_SDE = 1, TDI_COSIM_SPICE = 2 } tdi_cosim_kind;
const char *tdi_cosim_kind_name(tdi_cosim_kind k);

/* The sde engine: exact integration of C dv/dt = -G v + i(t) over each tick for a bias held
 * constant and noise interpolated linearly (C diagonal; G any matrix with every eigenvalue of
 * C^-1 G in Re > 0, else alloc fails with "not stable"): the tick's matrices from one matrix
 * exponential (docs/sde.md); for symmetric G also the eigenbasis of C^-1/2 G C^-1/2, where each
 * mode is a scalar OU step with closed-form weights. The state is the circuit's n_state nodes
 * when set (rlc units: x and p of every unit), the units otherwise; the bias and noise of unit
 * i enter at state node force[i], and the digital side sees the units (state nodes 0..n-1). */
typedef struct tdi_cosim_sde tdi_cosim_sde;
tdi_cosim_sde *tdi_cosim_sde_alloc(const tdi_cosim_circuit *c, double tick, tdi_err *err);
void tdi_cosim_sde_free(tdi_cosim_sde *s);
/* Runs from v = 0 at t = 0 (the operating point under zero bias). Symmetric G: the eigenbasis,
 * one tick at a time (the per-sample reference path); otherwise the batched path, one column. */
int tdi_cosim_sde_run(tdi_cosim_sde *s, const tdi_cosim_noise *nz, const tdi_cosim_digital *dg,
                      tdi_cosim_stats *st, tdi_err *err);

/* Independent runs as the rows of one state matrix (cols, ns + 2n), one fused GEMM per tick for
 * any stable G: [v+] = [v, n_k, n_k+1] [E^T; F1^T; F2^T] + b F0^T (v: the ns state nodes;
 * symmetric G: the eigenbasis, below). Column c is the run of tdi_cosim_sde_run
 * with nz->tick0 = tick0[c] (its noise: global samples tick0[c] + k, sample 0 = 0), all from
 * rest. bias(k) returns (cols, n) A held over interval k; on_tick gets the unit voltages of tick
 * k as rows V + c ldv (V, the first n of each row) and the held biases ib (cols, n; zeros at
 * k = 0). The same numbers
 * as cols separate runs up to rounding (GEMM order; test_cosim_engines). */
typedef struct tdi_cosim_batch {
    double tick;         /* s */
    long n_ticks;
    size_t cols;         /* independent runs */
    const long *tick0;   /* (cols) global noise index of each run's local tick 0 */
    const double *(*bias)(void *user, long k);
    int (*on_tick)(void *user, long k, const double *V, size_t ldv, const double *ib);
    void *user;
} tdi_cosim_batch;
int tdi_cosim_sde_run_batch(tdi_cosim_sde *s, const tdi_cosim_noise *nz,
                            const tdi_cosim_batch *bt, tdi_cosim_stats *st, tdi_err *err);
/* Symmetric G: batched runs work in the eigenbasis (P n by one GEMM, scalar mode steps, v = V a
 * by another: 4 n^2 flops per row and tick). This switch makes them (and tdi_cosim_sde_run) use
 * the fused matrix-exponential tick (6 n^2) as for a non-symmetric G, computing its matrices
 * (one 3n x 3n exponential) if alloc did not: tests and benchmarks. */
int tdi_cosim_sde_use_expm(tdi_cosim_sde *s, tdi_err *err);
/* 1 when |G_ij - G_ji| <= rel * max |G| for all i, j: the eigenbasis paths' condition (the
 * per-sample path asks for rounding, 64 ulp; the mode-basis fast path for 1e-9). */
int tdi_cosim_sde_symmetric(const tdi_cosim_circuit *c, double rel);
/* One mode's tick weights (eigenvalue lam of C^-1/2 G C^-1/2, 1/s; tick s): a+ = e a + c0 (P b)
 * + c1 (P n_k) + c2 (P n_k+1), bias held and noise linear over the tick (docs/sde.md). */
void tdi_cosim_sde_mode_weights(double lam, double tick, double *e, double *c0, double *c1,
                                double *c2);
/* The two limits of a batched run, measured on this machine for `seconds` CPU s each: dgemm
 * GFLOP/s at the shapes of a tick (gflops[0]: (cols, n) x (n, n), the eigenbasis GEMMs;
 * gflops[1]: (cols, 3n) x (3n, n), the fused expm tick) with the BLAS as the caller set it up,
 * and the vectorised generator's CPU ns per Gaussian (blocks of n draws). For make bench. */
int tdi_cosim_sde_limits(size_t n, size_t cols, double seconds, double gflops[2],
                         double *ns_draw, tdi_err *err);

/* The mode-basis fast path of the per_sample schedule (cosim/tdi_cosim_sde_modes.c, docs/sde.md
 * "Mode-basis fast path"). It applies (returns 1; why gets the reason either way) to rc units
 * with a symmetric G (to 1e-9 of its largest entry), one amp_i / sqrt(C_i) (g_noise / C) for
 * every unit or no noise, no rate resistors, no read-out stage, no waveform, unless
 * pl->sde_general. */
struct tdi_cosim_plan;
struct tdi_cosim_out;
int tdi_cosim_sde_modes_applies(const tdi_cosim_circuit *c, const struct tdi_cosim_plan *pl,
                                const tdi_cosim_noise *nz, char *why, size_t len);
/* Runs every sample of pl as its own run of L ticks from rest, 128 at a time as the rows of one
 * mode matrix: modes step by their scalar weights, driven by mode-basis Gaussians (below) at the
 * global tick index sample * L + k; energies by the trapezoid rule from i_bias . v = (V^T b) . a
 * and the resistor power a^T (V^T R V) a; ADC conversions v_read = V_read a. Adds into out's
 * est (sums), e_bias, e_r, n_adc, st, and n_acc (n_samples); sets out->sde_modes. */
int tdi_cosim_sde_modes_run(const tdi_cosim_circuit *c, const struct tdi_cosim_plan *pl,
                            const tdi_cosim_noise *nz, long L, struct tdi_cosim_out *out,
                            long *n_acc, tdi_err *err);
/* The mode-basis Gaussians of (seed, global tick index): z[m], m < cnt, for mode m: Philox4x32-10
 * with counter (index, q, "mode"), q from m's position in its block of 128, both outputs of two
 * Box-Muller pairs per counter, in float (docs/sde.md "Mode-basis fast path"). scalar = 1: the
 * reference loop with libm (vectorised: libmvec, a few ulp from it). */
void tdi_cosim_sde_modes_gauss(uint64_t seed, uint64_t index, size_t cnt, int scalar, float *z);
/* Its limits (make bench): dtrmm (cols, n) x (n, n) lower, in GFLOP/s at n^2 flops per row (the
 * resistor power), and CPU ns per mode Gaussian (blocks of n). */
int tdi_cosim_sde_modes_limits(size_t n, size_t cols, double seconds, double *gflops_trmm,
                               double *ns_draw, tdi_err *err);

/* Predicted variance (V^2) of the mean of n samples, spaced stride ticks, of unit's voltage in the
 * stationary state under thermal noise alone. Symmetric G with one r = g_noise / C for all units:
 * sum over modes m of V_um^2 (kB T r / lam_m) F(n, e^(-lam_m stride h)), F the variance factor
 * of the mean of n AR(1) samples; otherwise tdi_cosim_sde_mean_var_lyap. Ignores the
 * interpolated noise's high-frequency deficit (test_cosim_engines: 2.5% at h = tau/20 for the
 * fastest modes, less for the slow ones). */
int tdi_cosim_sde_mean_var(const tdi_cosim_sde *s, const tdi_cosim_circuit *c, long n,
                           long stride, size_t unit, double *var, tdi_err *err);
/* The same prediction for any stable G: the stationary covariance S of the continuous-time noise
 * by Van Loan's integral over one stride and Smith's doubling of S = Phi S Phi^T + Q_stride
 * (Phi = e^(-C^-1 G stride h)), then the autocovariances Phi^k S of the n samples; g_noise/C may
 * differ between units. The solve (a 2n x 2n exponential and up to 64 doublings of n^3 GEMMs)
 * is cached in s for the last (stride, noise), so the units of one read-out share it. */
int tdi_cosim_sde_mean_var_lyap(const tdi_cosim_sde *s, const tdi_cosim_circuit *c, long n,
                                long stride, size_t unit, double *var, tdi_err *err);

/* The autocovariance (V^2) of unit's voltage in the stationary state under thermal noise alone at
 * lags of k strides, acov[k] for k < n (acov[0] the variance): the terms of the two predictions
 * above (the modes' sum, else (Phi^k S)_uu), for the quantisation of correlated conversions. */
int tdi_cosim_sde_autocov(const tdi_cosim_sde *s, const tdi_cosim_circuit *c, long n,
                          long stride, size_t unit, double *acov, tdi_err *err);

/* The analog read-out stage's predicted error (docs/physics.md "Analog read-out"): units
 * n_sub..n-1 of c are stage units, each a first-order low-pass (beta = G_qq / C_q, gain
 * -G_qy / G_qq) of one substrate unit y, with its own noise (g_noise). For stage unit q:
 * var_sub[q - n_sub] = gain^2 sum_m V_ym^2 (kB T r / lam_m) beta / (beta + lam_m) over the modes
 * lam_m, V of the symmetric part of the substrate's C^-1/2 G C^-1/2 (r = g_noise / C, equal for
 * every substrate unit); var_own[q - n_sub] = kB T g_noise,q / (G_qq C_q). Stationary variances
 * of one sample of the stage output, V^2. Errors: a stage coupled to anything but one
 * substrate unit, a substrate that sees a stage unit. */
int tdi_cosim_stage_var(const tdi_cosim_circuit *c, size_t n_sub, double *var_sub,
                        double *var_own, tdi_err *err);

/* The spice engine: ngspice's shared library, one instance per process, runs used one after the
 * other ("remcirc" + "destroy all" between runs). Runs from the operating point under zero bias.
 * Errors: netlist parse errors and run failures reported by ngspice (its output is scanned),
 * a source callback for a name not in c->src, a missed tick: TDI_ESPICE with the ngspice text. */
int tdi_cosim_spice_run(const tdi_cosim_circuit *c, const tdi_cosim_noise *nz,
                        const tdi_cosim_digital *dg, tdi_cosim_stats *st, tdi_err *err);
/* The tick grid of the spice engine's callbacks (exposed for tests). tdi_cosim_tick_of: the
 * tick k of time t (tick h) if t lies within 1e-6 ticks of k h (*on = 1), otherwise floor(t / h)
 * (*on = 0: t lies between ticks k and k + 1). tdi_cosim_tick_step: the step ngspice may take
 * from t when it proposes delta: at most up to the next tick, and exactly up to it when it would
 * end within 1e-6 ticks before it (so accepted points land on the grid and cannot drift). */
long tdi_cosim_tick_of(double t, double h, int *on);
double tdi_cosim_tick_step(double t, double h, double delta);
/* Writes the cards the driver hands to ngspice for a run of n_ticks (for `ngspice -b` benchmarks:
 * EXTERNAL sources replaced by zero DC sources when plain != 0). Returns a malloc'd string. */
char *tdi_cosim_spice_deck(const tdi_cosim_circuit *c, double tick, long n_ticks, int plain,
                           tdi_err *err);
/* Sets an environment-free debug switch: when verbose, ngspice's output is copied to stderr. */
void tdi_cosim_spice_set_verbose(int verbose);

/* ---------------------------------------------------------------- ngspice operating point
 * (tdi_cosim_ngop.c) The spice engine's ngspice instance (one per process) driven command by
 * command: load a deck, "op", "alter vh3 dc=0.001", "noise ...", then read vectors of the
 * current plot. One deck at a time (a load replaces the previous one; a spice run in between
 * leaves it loaded). Every call fails with TDI_ESPICE and ngspice's own text when ngspice
 * prints an error line: a parse error, a model card or .include that does not load, an op that
 * does not converge, an unknown vector. docs/ngspice.md section 7. */
struct tdi_gen_text;
/* Loads t (its last line ".end"; no .tran needed) with ngSpice_Circ. */
int tdi_cosim_ng_load(const struct tdi_gen_text *t, tdi_err *err);
/* Runs one ngspice command on the loaded deck ("op", "alter ...", "noise ..."). */
int tdi_cosim_ng_cmd(const char *cmd, tdi_err *err);
/* The first value of a real vector of the current plot: "i(vh3)" (the current into the
 * source's + terminal, A), "v(x3)", "@m1[gm]" (device parameters at the last op: gm, gds, id,
 * vth, ...). */
int tdi_cosim_ng_real(const char *vec, double *out, tdi_err *err);
/* All values of a real vector (*out malloc'd, *n values; the caller frees). */
int tdi_cosim_ng_vector(const char *vec, double **out, size_t *n, tdi_err *err);
/* Removes the loaded deck and the plots ("remcirc", "destroy all"); nothing when none. */
void tdi_cosim_ng_unload(void);

/* ---------------------------------------------------------------- transistor noise sizing
 * (tdi_cosim_mosnoise.c, docs/noise.md "Calibration") Each device's drain-current noise from
 * ngspice's .noise of that device alone at its operating point (one deck, one noise analysis,
 * 1 Hz .. 1 GHz; ngspice's instance, tdi_cosim_ng_*). */
typedef struct tdi_cosim_mos_bias {
    char type;                  /* 'n' | 'p' */
    double W, L;                /* m (the netlist writes W / scale with .option scale) */
    double vgs, vds, vbs;       /* V, as applied (a p device's are negative in saturation) */
    double delvto, mulu0;       /* instance mismatch (0, 1: none) */
} tdi_cosim_mos_bias;
typedef struct tdi_cosim_mos_psd {
    double psd_w;               /* A^2/Hz two-sided: ngspice's device total less its flicker
                                   part, at 1 MHz */
    double psd_f1;              /* A^2/Hz two-sided at 1 Hz: psd_f1 / f equals ngspice's flicker
                                   part at the decade nearest the corner */
    double ef;                  /* flicker slope ngspice shows (1 Hz .. 1 MHz): S ~ 1 / f^ef */
    double f_corner;            /* Hz: psd_f1 / psd_w */
    double id, gm;              /* A, S: ngspice's op of the device at that bias (|id|) */
} tdi_cosim_mos_psd;
/* After a "noise" command of npts points on the loaded deck: makes its spectral-density plot
 * current (ngspice leaves the integrated plot current). TDI_ESPICE when onoise_spectrum does
 * not have npts points: in ngspice 39.3 every vector keeps one point after any deck with
 * ".save none" (the spice engine's) ran in the process, so run noise analyses first. */
int tdi_cosim_mos_noise_plot(size_t npts, tdi_err *err);
/* cards: the model cards (".include ...", ".lib ...", ".option ...", ".model ..."; NULL-
 * terminated); nmodel / pmodel the model names; scale: .option scale of the cards (0: none).
 * out (n). Errors: TDI_ESPICE (ngspice's text: a card that does not load, no convergence). */
int tdi_cosim_mos_noise_calibrate(const char *const *cards, const char *nmodel,
                                  const char *pmodel, double scale, size_t n,
                                  const tdi_cosim_mos_bias *b, tdi_cosim_mos_psd *out,
                                  tdi_err *err);

/* After an "op" on the loaded deck (tdi_cosim_ng_load): b's type and vgs, vds, vbs of MOSFET
 * inst ("m12", or a circuit device's name from tdi_cosim_mos_names) as applied (ngspice's @m[vgs] of a p device is negated back); W, L, delvto, mulu0
 * are the caller's. TDI_ESPICE when ngspice has no such instance. */
int tdi_cosim_mos_op_bias(const char *inst, char type, tdi_cosim_mos_bias *b, tdi_err *err);

/* Sizes every device of a transistor-level circuit (c->phys.mos; nothing otherwise): an op of
 * its cosim netlist at zero bias (the rest point a co-simulation starts from) gives each
 * device's vgs, vds, vbs; tdi_cosim_mos_noise_calibrate at those biases gives dev[].psd_w and
 * dev[].psd_f1 (0 when circuit.mos_flicker is false). Leaves ngspice's num_threads at 1 (BSIM4's
 * OpenMP load: docs/noise.md). mos_prefix x (PDK subcircuits): the MOSFET inside each is found
 * by tdi_cosim_mos_names' probe deck (docs/noise.md "PDK subcircuit devices"). Errors: TDI_ESPICE (ngspice's
 * text; a subcircuit without exactly one MOSFET). */
int tdi_cosim_mos_noise_size(struct tdi_gen_circuit *c, tdi_err *err);
/* The same with the grouping chosen: group 1 calibrates one device per bias class (same type,
 * L, delvto, mulu0; vgs, vds, vbs within 0.1 mV, 1 mV, 0.5 mV; any W: the class's median-W
 * member) and gives every member its PSDs times id_member / id_rep at the circuit's op
 * (docs/noise.md "Bias classes"); 0 calibrates every device; -1 (what
 * tdi_cosim_mos_noise_size does): group above TDI_COSIM_REALISED_LINEAR_DEV devices. st may be
 * NULL. */
typedef struct tdi_cosim_mos_noise_stats {
    size_t n_dev, n_class;   /* devices, calibrated classes */
    double op_wall_s;        /* s, the circuit's op and the bias reads */
    double cal_wall_s;       /* s, the classes' calibration deck (op + .noise + reads) */
    double op_cpu_s, cal_cpu_s; /* s, the same in process CPU time (ngspice runs in-process) */
    size_t *rep_of;          /* NULL, or the caller's (n_dev): filled with each device's class
                                representative (a device index; i itself ungrouped) */
} tdi_cosim_mos_noise_stats;
int tdi_cosim_mos_noise_size_ex(struct tdi_gen_circuit *c, int group,
                                tdi_cosim_mos_noise_stats *st, tdi_err *err);
/* Sets cc's device noise sources from gc's sized devices (psd_w > 0: "in<name>", the emitter's
 * cosim source; psd_f1 only with circuit.mos_flicker). */
int tdi_cosim_circuit_dev_from_gen(tdi_cosim_circuit *cc, const struct tdi_gen_circuit *gc,
                                   tdi_err *err);

/* ---------------------------------------------------------------- realised matrix
 * (tdi_cosim_extract.c, docs/cosim.md "Realised matrix") The small-signal conductance matrix of
 * a generated circuit as ngspice solves it: the hold netlist (TDI_GEN_HOLD) holds every unit at
 * its rest voltage through a 0 V source vh<unit>; one op at rest, then per unit j its source at
 * +delta (and -delta: central), and column j of G is minus the change of every i(vh<unit>) per
 * volt: G[i][j] = d(current leaving unit node i into the circuit) / d v_j, the G of
 * tdi_cosim_circuit (design: gu*M). 1 + N (one-sided) or 1 + 2N (central) ops. */
typedef struct tdi_cosim_extract_opt {
    double delta;   /* V, the perturbation of one unit (> 0) */
    int central;    /* 1: +-delta (error O(delta^2) of the device curvature); 0: +delta only */
} tdi_cosim_extract_opt;

#define TDI_COSIM_OP_SUPPLY 3 /* the transistor rails: vdd, vbias, vcm */
typedef struct tdi_cosim_extract_stats {
    size_t n_op;           /* ngspice ops run */
    double wall_s, cpu_s;  /* s, the whole extraction (netlist, load, ops, reads) */
    double op_supply_W[TDI_COSIM_OP_SUPPLY]; /* W delivered by Vdd, Vbias, Vcm at the rest op
                                                (the linearised route at transistor level; NAN
                                                otherwise) */
} tdi_cosim_extract_stats;

/* The defaults for c: delta 1 mV, one-sided (docs/cosim.md says why). */
void tdi_cosim_extract_defaults(const struct tdi_gen_circuit *c, tdi_cosim_extract_opt *o);
/* G (N, N) S, row-major, caller allocated. i_rest (N, may be NULL): each i(vh<unit>) at rest (A;
 * 0 for ideal elements, offsets at transistor level). st may be NULL. Errors: TDI_ESPICE with
 * ngspice's text (the deck does not load, an op fails), TDI_EARG (a unit kind that cannot be
 * held). Unloads its deck before returning. */
int tdi_cosim_extract_g_ex(const struct tdi_gen_circuit *c, const tdi_cosim_extract_opt *opt,
                           double *G, double *i_rest, tdi_cosim_extract_stats *st,
                           tdi_err *err);
/* tdi_cosim_extract_g_ex with the defaults. */
int tdi_cosim_extract_g(const struct tdi_gen_circuit *c, double *G, tdi_err *err);

/* The linearised route (tdi_cosim_linear.c, docs/cosim.md "Linearised route"): G (N, N) from
 * ONE op of the hold netlist, every device's gm, gds, gmbs there and each OTA's small-signal
 * model, bus nodes eliminated as in tdi_gen_circuit_reduced. i_rest (N, may be NULL) as in
 * tdi_cosim_extract_g_ex, from the same op. Ideal elements: the element list's reduced matrix,
 * no op (i_rest 0). st may be NULL (n_op 1, or 0 for ideal elements). */
int tdi_cosim_linear_g(const struct tdi_gen_circuit *c, double *G, double *i_rest,
                       tdi_cosim_extract_stats *st, tdi_err *err);
/* From the same one op: load (n_nodes, S) = the summed output conductance of the OTAs whose
 * output is each node (each OTA's d i_out / d v_out with its inputs held). */
int tdi_cosim_linear_loads(const struct tdi_gen_circuit *c, double *load, tdi_err *err);
/* The hold netlist's unit currents (tdi_cosim_linear.c), shared by the linearised route and the
 * offset trim: tdi_cosim_hold_save issues "save i(vh<unit>) ..." for every unit on the loaded
 * deck (before its op: the op's plot then keeps only saved vectors, so reads stay fast);
 * tdi_cosim_hold_currents reads them after the op into cur (N), A: the current the circuit
 * drives into each held unit node. ngspice's text on failure. */
int tdi_cosim_hold_save(const struct tdi_gen_circuit *c, tdi_err *err);
int tdi_cosim_hold_currents(const struct tdi_gen_circuit *c, double *cur, tdi_err *err);
/* circuit.mos_self_comp (cosim/tdi_cosim_mos_comp.c, docs/devices.md "Self-term
 * compensation"): mos_self_comp_passes times, the loads measured by tdi_cosim_linear_loads and
 * applied (tdi_gen_mos_comp_apply: resistors to vcm shrunk, device list rebuilt). Nothing when
 * the key is off or c is not transistor level. Run it before sizing the device noise. */
int tdi_cosim_mos_self_comp(struct tdi_gen_circuit *c, tdi_err *err);
/* circuit.mos_trim (cosim/tdi_cosim_mos_comp.c, docs/devices.md "Offset trim"): mos_trim_passes
 * times, one op of the hold netlist (units at V_cm) measures each unit's rest current and
 * tdi_gen_mos_trim_apply cancels it (ideal or dac). Nothing when the key is none or c is not
 * transistor level. Run it after the self-term compensation. */
int tdi_cosim_mos_trim(struct tdi_gen_circuit *c, tdi_err *err);
/* The foreground calibration of a transistor-level circuit (or chip): tdi_cosim_mos_self_comp,
 * then tdi_cosim_mos_trim. Run it before sizing the device noise. */
int tdi_cosim_mos_calibrate(struct tdi_gen_circuit *c, tdi_err *err);

/* How the realised matrix is measured (cosim.realised, tdi-gen --realised-method): perturb
 * (1 + N ops), linear (one op), auto = linear above TDI_COSIM_REALISED_LINEAR_DEV devices.
 * 0 is no extraction where an int "extract" takes a method. */
enum { TDI_COSIM_REALISED_AUTO = 1, TDI_COSIM_REALISED_PERTURB = 2,
       TDI_COSIM_REALISED_LINEAR = 3 };
#define TDI_COSIM_REALISED_LINEAR_DEV 20000
/* "auto" | "perturb" | "linear" into *m; TDI_EARG otherwise. */
int tdi_cosim_realised_method_parse(const char *s, int *m, tdi_err *err);
/* perturb | linear for c (auto resolved); the name of a method. */
int tdi_cosim_realised_method_for(const struct tdi_gen_circuit *c, int method);
const char *tdi_cosim_realised_method_name(int method);

/* The engines' circuit at transistor level (tdi_cosim_mos.c, docs/cosim.md "Transistor
 * level"): c is the ideal-element circuit of the same design (tdi_cosim_circuit_from_gen of the
 * devices: ideal build of the same config); gc the devices: mos build. c gets gc's cosim netlist
 * cards for tick and t_stop, the realised G extracted from gc (tdi_cosim_circuit_set_g: the
 * analytic and sde engines then run the linearised transistor circuit), v_ref = V_cm and the
 * supplies vdd, vbias, vcm. extract = 0 keeps c's design G (writing the deck only), else it is
 * the method (TDI_COSIM_REALISED_AUTO | _PERTURB | _LINEAR; 1 = auto). rep (may be NULL)
 * receives the realised-matrix report (its i_rest: tdi_cosim_realised_destroy). */
struct tdi_cosim_realised;
int tdi_cosim_circuit_mos(tdi_cosim_circuit *c, const struct tdi_gen_circuit *gc, double tick,
                          double t_stop, int extract, struct tdi_cosim_realised *rep,
                          tdi_err *err);

/* The realised matrix against the design gu*M: relative Frobenius errors overall and per block
 * (self: the diagonal; intra_<module>: off-diagonal inside a module; cpl_<a>_<b>: both
 * directions between two modules), asymmetry, diagonal error. */
/* self, one intra block per module and one per module pair (TDI_BUNDLE_MAX_MOD = 16 modules) */
#define TDI_COSIM_REALISED_MAX_BLK (1 + 16 + 16 * 15 / 2)
typedef struct tdi_cosim_realised {
    size_t N;
    int method;            /* TDI_COSIM_REALISED_PERTURB | _LINEAR (the route that ran) */
    double delta;          /* V (perturb) */
    int central;
    size_t n_op;
    double wall_s, cpu_s;  /* s, the extraction */
    double rel_fro;        /* |G - gu M|_F / |gu M|_F */
    double asym;           /* |G - G^T|_F / |G|_F */
    double diag_mean, diag_rms, diag_max; /* of (G_ii - gu M_ii) / |gu M_ii| (max: of |.|) */
    double *i_rest;        /* (N) A, malloc'd by tdi_cosim_realised_run[_ex] (from the same op
                              as G, either route; tdi_cosim_realised_destroy frees it; NULL
                              otherwise): each i(vh<unit>) at the rest op = the current the
                              circuit drives into the held unit node at rest (the OTAs' offset
                              currents; 0 for ideal elements). The free circuit rests at
                              G^-1 i_rest. */
    double op_supply_W[TDI_COSIM_OP_SUPPLY]; /* W delivered by Vdd, Vbias, Vcm at that rest
                              op (the linearised route reads them, NAN otherwise): the supplies
                              measured without a transient */
    size_t n_blk;
    struct {
        char name[48];
        double err_fro, ref_fro; /* S: |G - gu M|_F and |gu M|_F over the block */
        double rel;              /* err / ref (err when ref = 0) */
    } blk[TDI_COSIM_REALISED_MAX_BLK];
} tdi_cosim_realised;

/* Fills r's comparison fields (not delta .. cpu_s) from G (N, N); zeroes the rest of r
 * (i_rest = NULL: destroy r first when it holds one). */
int tdi_cosim_realised_compare(const struct tdi_gen_circuit *c, const double *G,
                               tdi_cosim_realised *r, tdi_err *err);
/* Extraction with the defaults + comparison; *G_out (may be NULL) gets the malloc'd G. */
int tdi_cosim_realised_run(const struct tdi_gen_circuit *c, tdi_cosim_realised *r,
                           double **G_out, tdi_err *err);
/* The same by method (TDI_COSIM_REALISED_*; auto resolved for c); r->i_rest filled. */
int tdi_cosim_realised_run_ex(const struct tdi_gen_circuit *c, int method,
                              tdi_cosim_realised *r, double **G_out, tdi_err *err);
/* Frees r->i_rest (r itself is the caller's; NULL accepted). */
void tdi_cosim_realised_destroy(tdi_cosim_realised *r);
/* The report as lines (tdi-gen prints it) and as the members of the JSON object o
 * (realised.json, results.json "transistor_level.realised"); 0 or TDI_ENOMEM. */
void tdi_cosim_realised_print(const tdi_cosim_realised *r, FILE *f);
int tdi_cosim_realised_json(const tdi_cosim_realised *r, tdi_json *o);
/* A non-ideal chip's report (tdi_cosim_chip.c, docs/nonideal.md): G (N, N) S against gu*M in
 * r's comparison fields; G NULL: the chip's reduced matrix (c->chip->G), or the element list's
 * (tdi_gen_circuit_reduced) for an ideal circuit. *worst: the index into r->blk of the largest
 * relative error. */
int tdi_cosim_chip_report(const struct tdi_gen_circuit *c, const double *G,
                          tdi_cosim_realised *r, size_t *worst, tdi_err *err);
void tdi_cosim_chip_print(const struct tdi_gen_circuit *c, const tdi_cosim_realised *r,
                          size_t worst, FILE *f);

/* ---------------------------------------------------------------- device operating points
 * (tdi_cosim_mosop.c) Every MOSFET of a transistor-level circuit (c->dev[], devices: mos) at
 * rest, as ngspice's model computes it: the op of the hold netlist (every unit held at vcm, the
 * OTAs at their design bias). Arrays (c->n_dev) in dev[] order, any of them NULL: gm (S), gds
 * (S), id (A), vth (V).
 * id as ngspice's @m[id] gives it (positive for both types with the shipped card). PDK
 * subcircuit devices (mos_prefix x) are read through the MOSFET inside (tdi_cosim_mos_names).
 * TDI_EARG for an ideal circuit; TDI_ESPICE with ngspice's text when the deck does not load or
 * the op fails, or a subcircuit does not hold exactly one MOSFET. */
int tdi_cosim_mos_op(const struct tdi_gen_circuit *c, double *gm, double *gds, double *id,
                     tdi_err *err);
int tdi_cosim_mos_op_full(const struct tdi_gen_circuit *c, double *gm, double *gds, double *id,
                          double *vth, tdi_err *err);
/* The name ngspice gives every device's MOSFET, what "@<name>[gm]" takes (tdi_cosim_mosname.c,
 * docs/devices.md "Your own PDK"): an M device's own (tdi_gen_dev_spice: "mota0_1", in the
 * hierarchy "m.xm_enc.mota0_1"), a PDK subcircuit device's (mos_prefix x) the MOSFET inside it,
 * "m.[<inst>.]<x name>.<inner>" (n and p devices: inner[0], inner[1]). */
struct tdi_gen_config;
struct tdi_gen_dev;
#define TDI_COSIM_MOS_INNER 96  /* bytes: the MOSFET's name inside a PDK subcircuit */
#define TDI_COSIM_MOS_NAME 200  /* bytes: a device's MOSFET name ("m." inst "." name "." inner) */
typedef struct tdi_cosim_mos_names {
    size_t n;                   /* devices (c->n_dev) */
    const char **name;          /* (n) in dev[] order, pointers into buf */
    char *buf;                  /* (n, TDI_COSIM_MOS_NAME) */
    char inner[2][TDI_COSIM_MOS_INNER]; /* n, p: the MOSFET inside the subcircuit ("" for m) */
} tdi_cosim_mos_names;
/* Every device of transistor-level circuit c named. For mos_prefix x it first runs the probe
 * (tdi_cosim_mos_inner_probe), which loads and unloads its own deck: call it BEFORE loading c's
 * deck. The caller destroys *nm (also on error). TDI_EARG without devices; the probe's errors. */
int tdi_cosim_mos_names_init(tdi_cosim_mos_names *nm, const struct tdi_gen_circuit *c,
                             tdi_err *err);
void tdi_cosim_mos_names_destroy(tdi_cosim_mos_names *nm); /* accepts NULL */
/* The MOSFET inside m's mos_nmos and mos_pmos subcircuits (inner[0], inner[1]): a probe deck of
 * one of each (W = 10 L, |vgs| = |vds| = 0.6 V) and a noise analysis, whose vector names
 * onoise.m.x<k>.<inner>.1overf give it. TDI_ESPICE when the library does not load or a
 * subcircuit does not hold exactly one MOSFET (the message names the subcircuit). */
int tdi_cosim_mos_inner_probe(const struct tdi_gen_config *m, double L,
                              char inner[2][TDI_COSIM_MOS_INNER], tdi_err *err);
/* d's MOSFET name into buf (n bytes; returns buf): inner NULL or "" for an M device. */
const char *tdi_cosim_mos_dev_name(const struct tdi_gen_dev *d, const char *inner, char *buf,
                                   size_t n);
/* The model cards of m as the emitter writes them: ".include <lib>" or ".lib <lib> <corner>"
 * (card[0]), ".option scale=" (card[1], mos_scale > 0); cards: pointers into card, NULL-ended. */
void tdi_cosim_mos_cards(const struct tdi_gen_config *m, char card[2][600], const char *cards[3]);
/* s (malloc'd, '\n'-separated lines, the last ".end"; taken, also on error) as ngSpice_Circ
 * lines; NULL with err set when out of memory. The caller frees with tdi_gen_text_free. */
struct tdi_gen_text *tdi_cosim_deck_text(char *s, tdi_err *err);
/* From the op ngspice holds now (a deck of the circuit loaded, op run; its plots are destroyed
 * first: read node vectors before): out (n_dev, np) = "@<name>[<par[q]>]" of every device by its
 * MOSFET's name nm->name[], in O(1) per read. tdi_cosim_mos_ss_read: np = 3, gm, gds, gmbs (S):
 * the linearised route's small-signal model. */
int tdi_cosim_mos_params(const tdi_cosim_mos_names *nm, size_t np, const char *const *par,
                         double *out, tdi_err *err);
/* The same for any n instances named inst[k] ("m12"): out (n, np). */
int tdi_cosim_ng_dev_params(size_t n, const char *const *inst, size_t np,
                            const char *const *par, double *out, tdi_err *err);
int tdi_cosim_mos_ss_read(const tdi_cosim_mos_names *nm, double *ss, tdi_err *err);


/* The paper's digital interface for one input x (D): b_enc = enc_w2 (enc_w1 x + enc_b1) +
 * enc_b2 (the 4-unit bottleneck), b_dec = tr_w2 SiLU(tr_w1 b_enc + tr_b1) + tr_b2 (16 units).
 * w = {enc_w1 (4, D), enc_b1, enc_w2 (D, 4), enc_b2, tr_w1 (16, D), tr_b1, tr_w2 (D, 16), tr_b2},
 * row-major as in the substrate bundle. */
void tdi_cosim_paper_interface(const double *const w[8], size_t D, const double *x,
                               double *b_enc, double *b_dec);
/* The digital encoder the skip substrate needs (tdi_cosim_iface.c): the decoder sees x only
 * through J^T A^-1 b_enc, so b_enc = A R R^T x with R (D x r) an orthonormal basis of the column
 * space of P (D, k) gives the same decoder equilibrium as b_enc = A x with 2 D r weights instead
 * of D^2: b_enc = W2 (W1 x), W1 = R^T (k, D; rows beyond r zero), W2 = A R (D, k). rank (may be
 * NULL): r <= k. TDI_ENOMEM / TDI_ENUM on failure. */
int tdi_cosim_skip_encoder(const double *A, const double *P, size_t D, size_t k, double *W1,
                           double *W2, size_t *rank, tdi_err *err);
/* The skip interface's b_enc (D) for one input x (D): A x (D, D) when W1 is NULL, else
 * W2 (W1 x) with h (k) as scratch. */
void tdi_cosim_skip_benc(const double *A, const double *W1, const double *W2, size_t D, size_t k,
                         const double *x, double *h, double *b_enc);
/* Analytic: v = G^-1 i (LU: G may be non-symmetric). out and ib have n elements. */
int tdi_cosim_analytic_solve(const tdi_cosim_circuit *c, const double *ib, double *out,
                             tdi_err *err);
/* The equilibrium under the held bias ib (n) A: G^-1 (ib + i_off) (c->i_off NULL: the same as
 * tdi_cosim_analytic_solve). out (n) V. */
int tdi_cosim_analytic_equilibrium(const tdi_cosim_circuit *c, const double *ib, double *out,
                                   tdi_err *err);

/* ---------------------------------------------------------------- stationary statistics of a
 * non-symmetric circuit (tdi_cosim_lyap.c, docs/physics.md section 10) */
/* Sigma (n, n) V^2: the stationary covariance of the unit voltages of c with no bias, any stable
 * G: A S + S A^T = C^-1 Q C^-1 over the sde state (A = C^-1 G), Q diagonal at each unit's force
 * node with the two-sided current PSD 2 kB T g_noise_i + psd_extra[i] (A^2/Hz; psd_extra may be
 * NULL). Gr (n, n) S, may be NULL: a realised G used instead of c->G (rc units only, TDI_EARG
 * otherwise). resid (may be NULL): tdi_linalg_lyap's relative residual. Errors: those of
 * tdi_linalg_lyap (not stable, not converged). */
int tdi_cosim_analytic_cov(const tdi_cosim_circuit *c, const double *Gr, const double *psd_extra,
                           double *Sigma, double *resid, tdi_err *err);
/* The measured stationary statistics of c's unit voltages: one noisy run with zero bias of the
 * sde or spice engine (every noise source of c, seed), ticks burn+1 .. burn + n_keep stride,
 * every stride-th kept: mean (n) V and covariance S (n, n) V^2 (divisor n_keep - 1; the mean
 * subtracted, so an offset operating point does not count). st: the run's statistics. */
int tdi_cosim_stationary_cov(tdi_cosim_kind kind, const tdi_cosim_circuit *c, double tick,
                             long burn, long n_keep, long stride, uint64_t seed, double *mean,
                             double *S, tdi_cosim_stats *st, tdi_err *err);

/* Effective temperature per unit and the covariance distances (docs/physics.md section 10).
 * The reference is theta M^-1 in volts: the covariance of the design G with thermal noise only
 * (kB T / C (M^-1)_ii on the diagonal for G = gu M, g_noise = gu). */
typedef struct tdi_cosim_teff {
    size_t n;
    double *var_ref;     /* (n) V^2: kB T / C (M^-1)_ii, the design's thermal variance */
    double *teff;        /* (n) measured variance / var_ref (NAN without a measurement) */
    double *teff_lyap;   /* (n) Lyapunov variance (realised G, device PSDs) / var_ref */
    double teff_mean, teff_lyap_mean; /* means over units */
    double d_meas_ref;   /* |S_meas - S_ref|_F / |S_ref|_F */
    double d_lyap_ref;   /* |S_lyap - S_ref|_F / |S_ref|_F */
    double d_meas_lyap;  /* |S_meas - S_lyap|_F / |S_lyap|_F */
    double lyap_resid;   /* the realised solve's relative residual */
} tdi_cosim_teff;
/* From c (cap, g_noise, temp), the design G_design (n, n) S (gu M), the realised G_real (n, n)
 * S (NULL: c->G) with psd_extra (n) A^2/Hz per unit beyond the thermal 2 kB T g_noise (may be
 * NULL), and the measured stationary covariance S_meas (n, n) V^2 (may be NULL). Freed by
 * tdi_cosim_teff_free; NULL and err on failure. rc units only. */
tdi_cosim_teff *tdi_cosim_teff_eval(const tdi_cosim_circuit *c, const double *G_design,
                                    const double *G_real, const double *psd_extra,
                                    const double *S_meas, tdi_err *err);
void tdi_cosim_teff_free(tdi_cosim_teff *t);
/* The report block: two lines "noise: effective temperature ..." and "noise: covariance ...". */
void tdi_cosim_teff_print(FILE *f, const tdi_cosim_teff *t);

/* ---------------------------------------------------------------- energy (tdi_cosim_energy.c) */
/* Power (W) dissipated in the circuit's positive resistors at unit voltages v (n): the static
 * terms r_unit and r_map of tdi_cosim_circuit (not the rate term). */
double tdi_cosim_resistor_power(const tdi_cosim_circuit *c, const double *v);
/* Energy (J) in the resistors over one tick of length h from vprev to v: the trapezoid of the
 * static powers p0 = power(vprev), p1 = power(v) plus the rate term sum r_rate (v - vprev)^2 / h
 * (the tick mean of dv/dt, squared). */
double tdi_cosim_resistor_tick(const tdi_cosim_circuit *c, const double *vprev, double p0,
                               const double *v, double p1, double h);

/* The same job done digitally (the hardware reviewer's baseline): the digital interface, then a
 * precomputed matvec that gives the same decoder estimate y* = [M^-1]_{y rows} b. Counts per
 * inference; a "read" is one weight or bias word fetched from memory (no reuse at batch 1).
 *   paper (mode 0): interface enc 4 + transfer 16 (40 D MACs), then W = [M^-1]_{y rows}
 *     (D, 2D) times b = [b_enc; b_dec] (2 D^2 MACs).
 *   skip (1: b_enc = A x, D^2 MACs; 2: projected A R R^T x, 2 D k MACs): b_dec = c is fixed,
 *     so y* = [M^-1]_{yx} b_enc + [M^-1]_{yy} c: a (D, D) matvec plus a precomputed bias.
 * folded: the lower bound when every linear layer after the last nonlinearity is folded into
 * the precomputed matrix (paper: 4 D + 64 + 20 D MACs; skip 1: (M^-1_yx A) x, D^2; skip 2:
 * (M^-1_yx W2)(W1 x), 2 D k). */
typedef struct tdi_cosim_digeq {
    long iface_macs, iface_reads;   /* the digital interface, shared by the analog path */
    long matvec_macs, matvec_reads; /* the precomputed matvec to y* */
    long folded_macs, folded_reads; /* the whole computation with the linear layers folded */
} tdi_cosim_digeq;
int tdi_cosim_digeq_count(size_t D, size_t k, int mode, tdi_cosim_digeq *q, tdi_err *err);
/* W (D, 2D) = the decoder rows of M^-1 (M: (2D, 2D) SPD), so that y* = W b. */
int tdi_cosim_digeq_matrix(const double *M, size_t D, double *W, tdi_err *err);

/* ---------------------------------------------------------------- converters */
/* Mid-tread two's-complement quantiser: step q = 2 fs / 2^bits, code = round(x / q) clamped to
 * [-2^(bits-1), 2^(bits-1) - 1], value = code * q. bits == 0 means ideal (x returned). */
double tdi_cosim_quantize(double x, int bits, double fs);

/* ---------------------------------------------------------------- experiment */
/* One co-simulation of n_samples test samples. Sample s occupies ticks [s L, (s+1) L) with
 * L = settle_ticks + avg_ticks: the DAC outputs bias s (quantised) from interval s L on; the ADC
 * samples the read-out units every adc_stride ticks after the settling ticks; the estimate is
 * the mean of those samples. batch = 1: one transient for all samples (a bias schedule, each
 * sample starts from the previous sample's state); batch = 0: one run per sample from rest.
 * Both modes use the same global tick index for the noise, so they see the same noise. */
/* Converter non-idealities of one chip (tdi_cosim_conv.c, docs/nonideal.md): per channel a
 * gain error, an offset and a static INL curve (a bow (1 - u^2) and an S curve u (1 - u^2)
 * mixed by a drawn angle, u = x / fs, scaled so its largest |INL| over the full scale is inl
 * LSB), drawn from tdi_gen_nonideal_gauss(key, channel, TDI_GEN_NI_{ADC,DAC}_*). ADC: the input
 * is distorted, then quantised; DAC: the code is quantised, then the output distorted. */
typedef struct tdi_cosim_conv {
    size_t n;            /* channels */
    int bits;            /* > 0 */
    double fs;           /* full scale (V for the ADC, A for the DAC) */
    int adc;             /* 1: ADC, 0: DAC */
    double *gain;        /* (n) 1 + relative gain error */
    double *offset;      /* (n) offset, in the converter's unit */
    double *w_bow, *w_s; /* (n) INL weights of (1 - u^2) and u (1 - u^2), in the unit */
} tdi_cosim_conv;
/* offset_lsb: std of the offset in LSB (2 fs / 2^bits); gain_err: std of the relative gain
 * error; inl_lsb: largest |INL| in LSB; key: the chip's tdi_seed(seed, TDI_SEED_NONIDEAL, chip).
 * TDI_EARG for bits <= 0 (no LSB: an ideal converter). */
int tdi_cosim_conv_init(tdi_cosim_conv *cv, size_t n, int adc, int bits, double fs,
                        double offset_lsb, double gain_err, double inl_lsb, uint64_t key,
                        tdi_err *err);
void tdi_cosim_conv_destroy(tdi_cosim_conv *cv);
/* The converter's output for input x on channel ch (the ADC's quantised level, the DAC's
 * analog current). */
double tdi_cosim_conv_apply(const tdi_cosim_conv *cv, size_t ch, double x);
/* The channel's static transfer at x without quantising (gain, offset, INL; u = x / fs clipped
 * to the full scale for the INL): what an average of many conversions sees (calibration). */
double tdi_cosim_conv_distort(const tdi_cosim_conv *cv, size_t ch, double x);

typedef struct tdi_cosim_plan {
    size_t n_samples;
    const double *bias;     /* (n_samples, n) A: ideal bias currents, before the DAC */
    size_t n_read;
    const size_t *read;     /* (n_read) unit indices the ADC samples */
    double tick;            /* s */
    long settle_ticks, avg_ticks;
    int batch;
    int dac_bits;           /* 0 = ideal */
    double dac_fs;          /* A, DAC full scale */
    int adc_bits;           /* 0 = ideal */
    double adc_fs;          /* V, ADC full scale */
    long adc_stride;        /* ticks between ADC conversions (>= 1) */
    uint64_t seed;          /* noise seed */
    uint64_t dev_seed;      /* device-noise key (circuits with n_dev > 0): tdi_seed(master,
                               TDI_SEED_DEVNOISE, 0); 0: derived from seed the same way */
    int noise;              /* 0: noiseless */
    const char *label;      /* progress line prefix; NULL: no progress line */
    size_t n_wave;          /* waveform recording: units (0 = none) */
    const size_t *wave;     /* (n_wave) unit indices */
    long wave_every;        /* record every wave_every global ticks (>= 1) */
    long wave_ticks;        /* up to this global tick */
    size_t stage_first;     /* units >= stage_first (when > 0) are read-out stage units: their
                               G_ii v_i^2 is also summed into out.e_r_stage */
    int sde_per_run;        /* sde engine: 0 (default) = in the per_sample schedule the samples
                               are the rows of batched runs (tdi_cosim_sde_run_batch); 1 = one
                               tdi_cosim_sde_run per run with unit-by-unit scalar draws (the
                               code path before batching: reference and benchmarks; the same
                               numbers to rounding, test_cosim_engines) */
    int sde_general;        /* sde engine: 1 = never the mode-basis fast path (the general
                               batched path above even where tdi_cosim_sde_modes_applies) */
    const tdi_cosim_conv *dac; /* a chip's DAC (n channels: one per unit), NULL: ideal */
    const tdi_cosim_conv *adc; /* a chip's ADC (n_read channels), NULL: ideal; the sde engine
                                  then takes the general path (not the mode basis) */
} tdi_cosim_plan;

typedef struct tdi_cosim_out {
    double *est;        /* (n_samples, n_read) V: the ADC averages (analytic: exact G^-1 i) */
    double *bias_q;     /* (n_samples, n) A: the DAC outputs */
    double *e_bias;     /* (n_samples) J: integral of sum_i i_bias,i v_i dt */
    double *e_r;        /* (n_samples) J: energy dissipated in every resistor of the circuit
                           (tdi_cosim_resistor_tick: unit, bus and rlc damping resistors) */
    double *e_r_stage;  /* (n_samples) J: the part of e_r from read-out stage units (their
                           resistors) */
    long n_adc;         /* ADC conversions in total */
    long n_dac;         /* DAC updates (one per bias value per sample) */
    tdi_cosim_stats st; /* summed over runs */
    double *wave;       /* (wave_rows, 1 + n_wave): global time (s), then the unit voltages (V) */
    size_t wave_rows;
    int sde_modes;      /* 1: the sde engine ran the mode-basis fast path */
} tdi_cosim_out;

/* Runs the plan with one engine. For TDI_COSIM_ANALYTIC the estimate is G^-1 i_bias (DAC
 * outputs) and the energies are the equilibrium powers times L ticks. Caller destroys out. */
int tdi_cosim_exp_run(tdi_cosim_kind kind, const tdi_cosim_circuit *c, const tdi_cosim_plan *pl,
                      tdi_cosim_out *out, tdi_err *err);
void tdi_cosim_out_destroy(tdi_cosim_out *o);

/* ---- load stage (tdi_cosim_load.c): the substrate bundle as the job needs it ----
 * Reads dir (common/tdi_bundle.h through the generator's two-module view) with the data the
 * job needs besides the substrate: x (n, D), truth (n, D), mean_fit (D), gain (D), and in paper
 * mode the eight interface arrays (enc_w1 .. tr_b2, docs/formats.md). Every error names the
 * file. Caller destroys b (tdi_gen_bundle_destroy). */
struct tdi_gen_bundle;
int tdi_cosim_load(const char *dir, struct tdi_gen_bundle *b, tdi_err *err);
/* Moves x, truth, mean_fit, gain and the interface arrays (NULL in skip mode) out of b into
 * *own[0..11] (that order; the caller frees each). */
void tdi_cosim_load_take(struct tdi_gen_bundle *b, double **const own[12]);

/* Writes a complete synthetic paper-mode substrate bundle (docs/formats.md) into dir: the
 * generator's synthetic M (D units per module, skip rank k), random interface networks, n test
 * inputs, their biases and equilibria, truth = gain * y* + noise; skip = 0 paper mode, 1 skip
 * mode with b_enc = A x, 2 skip mode with b_enc = A R R^T x. bias_bump != 0 makes b_enc of
 * sample 0 disagree with the networks (error-path tests). For tests and benchmarks. */
int tdi_cosim_synth_bundle(const char *dir, size_t D, size_t k, size_t n, unsigned long seed,
                           int skip, double bias_bump, tdi_err *err);

/* ---------------------------------------------------------------- calibration
 * The numeric core of chip calibration (tdi_cosim_calib_fit.c, docs/nonideal.md
 * "Calibration"); the job stage is tdi_cosim_calib.c. Row-major arrays throughout. */
/* The affine map from P probes: Y (P, D) ~ X (P, m) H^T + y0, least squares on centred data
 * with a ridge of ridge times each input column's own sum of squares (scale-free). Out: H (D, m), y0 (D). P > m. */
int tdi_cosim_calib_affine(const double *X, const double *Y, size_t P, size_t m, size_t D,
                           double ridge, double *H, double *y0, tdi_err *err);
/* The encoder correction Delta (D, k) = argmin |He (W0 + Delta) - F|_F^2 + lambda |Delta|_F^2,
 * He (D, D), W0 (D, k) (NULL: 0), F (D, k), lambda = ridge * tr(He^T He) / D. */
int tdi_cosim_calib_encoder(const double *He, const double *W0, const double *F, size_t D,
                            size_t k, double ridge, double *Delta, tdi_err *err);
/* The digital output correction after the ADC, y -> (I + U Vt) y (docs/nonideal.md
 * "Output correction"): argmin |K A - F|_F^2 + lambda |K - I|_F^2 over K (D, D), A (D, k) the
 * chip's measured code-to-output map, F (D, k) the design's, lambda = ridge * tr(A^T A) / k.
 * The minimiser is I plus a rank-k term: U (D, k) = F - A, Vt (k, D) = (A^T A + lambda)^-1 A^T. */
int tdi_cosim_calib_outmap(const double *A, const double *F, size_t D, size_t k, double ridge,
                           double *U, double *Vt, tdi_err *err);
/* A (n, n) replaced by its best rank-r approximation (SVD; r >= n: unchanged up to rounding). */
int tdi_cosim_calib_truncate(double *A, size_t n, size_t r, tdi_err *err);
/* x (n) solving A x = t, A (n, n) any invertible matrix (LU). TDI_ENUM when singular. */
int tdi_cosim_calib_solve(const double *A, const double *t, size_t n, double *x, tdi_err *err);
/* Rows r0..r0+nr of G^-1 times scale: Hout (nr, n). G (n, n) invertible (LU). */
int tdi_cosim_calib_inverse_rows(const double *G, size_t n, size_t r0, size_t nr, double scale,
                                 double *Hout, tdi_err *err);

/* ---------------------------------------------------------------- the program */
/* The `cosim:` and `energy:` sections (plus seed, name, out). Defaults: configs/paper.yaml and
 * docs/cosim.md. Other sections are skipped (owned by other components). */
typedef struct tdi_cosim_cfg {
    const char *path;      /* config file (messages); not owned */
    long seed;             /* top-level master seed; the noise seed is derived from it */
    char name[64];
    char out[512];
    /* cosim */
    long n_samples;        /* test samples co-simulated (the first n_samples from `first`) */
    long first;
    int analytic, sde, spice; /* engines to run (analytic always runs: readout reference) */
    long spice_samples;    /* spice runs the first spice_samples of them (0 = all) */
    double avg_relax;      /* averaging window in slowest relaxation times (0 = t_avg) */
    char schedule[16];     /* batch | per_sample | auto (auto = batch: measured faster) */
    int noise;
    double tick;           /* s; 0 = circuit noise interval */
    double t_settle;       /* s per sample; 0 = the circuit's */
    double t_avg;          /* s per sample; 0 = the circuit's */
    long dac_bits;         /* 0 = ideal */
    double dac_fs;         /* simulation units of b; 0 = auto (max |b| * 1.05) */
    long adc_bits;         /* 0 = ideal */
    double adc_fs;         /* V; 0 = auto */
    double adc_rate;       /* Hz; 0 = auto: 4 conversions per slowest relaxation time */
    /* converter non-idealities of chip circuit.chip (docs/nonideal.md); 0: ideal */
    double adc_offset, dac_offset;     /* LSB, std of each channel's offset */
    double adc_gain_err, dac_gain_err; /* std of each channel's relative gain error */
    double adc_inl, dac_inl;           /* LSB, largest |INL| of each channel */
    int progress;          /* progress line on stderr */
    int paper_row;         /* with an operating point: also the sde row at the paper's kT = 1 */
    long paper_row_samples;/* ... on the first this many of the samples (0 = all) */
    long wave_units[16];   /* units written to waveform.csv (indices into [x; y]) */
    size_t n_wave_units;   /* 0 = no waveform file */
    long wave_every;       /* ticks between waveform rows */
    long wave_samples;     /* samples' worth of ticks recorded (from the first) */
    double teff_relax;     /* transistor level: length of the noise-only spice run that measures
                              the effective temperature, in slowest relaxation times (0: none) */
    int ideal_rows;        /* transistor level: also run the ideal-element netlist of the same
                              design (analytic on the design G, spice with the same plan and
                              seeds) beside the transistor rows (default 1) */
    long chips;            /* transistor level with circuit.mos_mismatch: the Monte Carlo over
                              mismatch, chip = circuit.chip .. + chips - 1 (0 = none) */
    int chips_sde;         /* ... each chip's sde row too (default 1) */
    int chips_spice;       /* ... each chip's spice row too (default 0: minutes per chip) */
    char realised[16];     /* transistor level: how the realised G is measured: auto | perturb |
                              linear (tdi_cosim_realised_method_parse; auto = linear above
                              TDI_COSIM_REALISED_LINEAR_DEV devices) */
    /* calibration of a chip (tdi_cosim_calib*.c, docs/nonideal.md "Calibration") */
    char calibrate[8];     /* none | probe | loop (default none: nothing runs, nothing changes) */
    long calib_probes;     /* probe inferences (both methods; default 512) */
    long calib_iters;      /* loop: iterations the probes are split into (default 8) */
    double calib_ridge;    /* relative ridge of the fits (default 1e-4) */
    double calib_amp;      /* probe drive: std as a fraction of the DAC full scale (0.1) */
    long calib_draw;       /* which probe draw of the chip (seed index; default 0) */
    int calib_noise;       /* 1: the probes see the read-out noise (default); 0: noiseless */
    int calib_gains;       /* 1: also refit the read-out gains (default); 0: encoder and bias */
    char calib_encoder[12]; /* the calibrated encoder: projected (default; b_enc = (W2 + Delta) W1 x,
                              2Dk MACs: the chip's bus sees nothing outside the code) | full
                              (A x + Delta W1 x, as the design) */
    char calib_output[8];  /* digital output correction after the ADC: full (default; D x D ridge,
                              I + rank k) | affine (per channel) | none (read-out gains only) */
    /* energy (docs/physics.md 7) */
    double vdd;            /* V */
    double gm_over_id;     /* 1/V */
    double dac_fom;        /* J per conversion step: E_dac = dac_fom * 2^bits per update */
    double adc_fom;        /* J per conversion step (Walden): E = adc_fom * 2^bits */
    double e_mac;          /* J per digital MAC */
    double e_read;         /* J per weight word read from memory (energy.weight_read) */
    double gpu_step;       /* J per U-Net forward pass (one denoising step) */
    double gpu_replaced_fraction; /* share of that step the substrate replaces */
    /* not in YAML (command line): write the spice deck instead of running */
    const char *deck_out;  /* path; NULL = run normally */
    long deck_ticks;       /* ticks in the written deck */
    int deck_plain;        /* EXTERNAL sources -> dc 0 (for ngspice -b) */
    int sde_reference;     /* --sde-reference: the sde engine's pre-batching path
                              (tdi_cosim_plan.sde_per_run = 1), for benchmarks */
    int sde_general;       /* --sde-general: never the mode-basis fast path
                              (tdi_cosim_plan.sde_general = 1) */
} tdi_cosim_cfg;

void tdi_cosim_cfg_defaults(tdi_cosim_cfg *c);
int tdi_cosim_cfg_load(const char *path, tdi_cosim_cfg *c, tdi_err *err);
/* The whole tdi-cosim job: substrate bundle + circuit -> engines -> <out>/cosim/{results.json,
 * samples.csv} (one directory transaction: nothing appears on error). The table goes to
 * report (may be NULL). */
int tdi_cosim_app_run(const tdi_cosim_cfg *c, FILE *report, tdi_err *err);

/* The numbers of one job, for callers that run it in-process (tdi-sweep). Rows are indexed
 * TDI_COSIM_ROW_*; have[r] says whether row r was computed (the sde/spice rows only when that
 * engine ran). Energies are per inference (one sample), from the most physical engine run. */
enum { TDI_COSIM_ROW_ANALYTIC, TDI_COSIM_ROW_SDE, TDI_COSIM_ROW_SPICE, TDI_COSIM_ROW_IDEAL,
       TDI_COSIM_ROW_DIGITAL, TDI_COSIM_ROW_MEAN, TDI_COSIM_NROW };
/* Calibration rows: the design circuit (analytic, ideal converters: the chip's target), the
 * calibrated chip by the analytic and the sde engine. */
enum { TDI_COSIM_CAL_DESIGN, TDI_COSIM_CAL_ANALYTIC, TDI_COSIM_CAL_SDE, TDI_COSIM_NCAL };
typedef struct tdi_cosim_summary {
    size_t D, first;
    size_t samples[TDI_COSIM_NROW];     /* test samples each row was evaluated on */
    int have[TDI_COSIM_NROW];
    double cos_paper[TDI_COSIM_NROW], cos_centered[TDI_COSIM_NROW], r2[TDI_COSIM_NROW];
    double Vs, theta, tau, t_slow;      /* V/unit, -, s, s */
    double tick, t_settle, t_avg;       /* s (circuit time) */
    double time_to_solution;            /* s per sample: t_settle + t_avg */
    size_t wires, n_vccs, n_res;        /* of the co-simulated circuit (bus nodes eliminated) */
    size_t pairs_total, elems_total;    /* generator's wire report, all blocks */
    size_t pairs_skip, elems_skip;      /* generator's wire report, the skip block */
    double readout_pred_rms;            /* V */
    int analog_readout;                 /* 1: circuit.readout_stage rc (one conversion/unit) */
    long adc_per_sample;                /* ADC conversions per inference */
    double E_R_stage;                   /* J, the stage's share of E_R */
    double readout_rms[3];              /* V, engine vs analytic (index = tdi_cosim_kind) */
    int energy_engine;                  /* tdi_cosim_kind the energies come from */
    long macs;                          /* digital interface MACs per sample */
    double E_bias, E_R, E_active, E_dac, E_adc, E_digital, E_total, E_kT; /* J */
    double E_wread;                     /* J: the interface's weight reads (in E_total) */
    tdi_cosim_digeq digeq;              /* the digital-equivalent job's counts */
    double E_digeq, E_digeq_folded;     /* J per inference: interface + matvec; folded */
    double ratio_digeq;                 /* E_total / E_digeq (analog / digital, this job) */
    double gpu_step, gpu_part;          /* J: whole U-Net step, the replaced part */
    /* cosim.calibrate (docs/nonideal.md "Calibration"): index TDI_COSIM_CAL_*; cal_have[r] 0
       when that row did not run (calibrate: none, or its engine off) */
    int cal_have[TDI_COSIM_NCAL];
    double cal_cos_paper[TDI_COSIM_NCAL], cal_cos_centered[TDI_COSIM_NCAL], cal_r2[TDI_COSIM_NCAL];
    long cal_probes;                    /* probe inferences */
    double cal_t_circuit, cal_E_probe;  /* s, J: all probes' circuit time and energy */
    double cal_macs;                    /* the fit's digital MACs */
} tdi_cosim_summary;

/* tdi_cosim_app_run with the circuit config given as a struct (gen != NULL: used instead of
 * loading the `circuit:` section from c->path; its bundle path, "" = <c->out>/substrate) and
 * the job's numbers copied into *sum (may be NULL). Writes the same outputs. */
struct tdi_gen_config;
int tdi_cosim_app_run_ex(const tdi_cosim_cfg *c, const struct tdi_gen_config *gen,
                         tdi_cosim_summary *sum, FILE *report, tdi_err *err);

/* ---------------------------------------------------------------- operating point */
/* The generator chooses the operating point (generator/tdi_gen.h, tdi_gen_op); tdi-cosim applies
 * it and shows the paper's point beside it (tdi_cosim_op.c). */
struct tdi_gen_bundle;
/* When gc->op is active: the window (t_avg), ADC bits and ADC rate of c become the chosen ones. */
void tdi_cosim_op_apply(tdi_cosim_cfg *c, const struct tdi_gen_circuit *gc);

typedef struct tdi_cosim_op_row {
    int have;
    size_t samples;
    double cos_paper, cos_centered, r2;
    double theta, Vs;          /* 1, V/unit */
    double t_solution;         /* s per sample (circuit time) */
    long adc_conversions;      /* per unit and sample */
    int adc_bits;
    double cpu_s;
} tdi_cosim_op_row;

/* The sde engine at theta = 1 (the paper's kT = 1) on the job's ns samples (bsim (ns, 2D) in
 * simulation units; the first c->paper_row_samples of them) with the configured window and ADC
 * (c as loaded, before tdi_cosim_op_apply);
 * metrics against truth (ns, D) as the main rows. */
int tdi_cosim_op_paper_row(const tdi_cosim_cfg *c, const struct tdi_gen_config *gen,
                           const struct tdi_gen_bundle *b, const double *bsim, size_t ns,
                           const double *truth, const double *mean_fit, const double *gain,
                           tdi_cosim_op_row *row, tdi_err *err);
/* The paper's-kT row line of the table (when row->have); its legend and the operating point
 * (tdi_gen_op_print); results.json members "operating_point" and "paper_kT1" (when present),
 * added to root by tdi_cosim_op_json (0 or TDI_ENOMEM). */
void tdi_cosim_op_print_row(const tdi_cosim_op_row *row, FILE *f);
/* A table line of metrics of pred (n, D) on a subset (e.g. analytic on spice's samples). */
void tdi_cosim_op_print_subset(const char *label, const double *pred, const double *truth,
                               const double *mean_fit, size_t n, size_t D, FILE *f);
void tdi_cosim_op_print(const struct tdi_gen_circuit *gc, const tdi_cosim_op_row *row, FILE *f);
int tdi_cosim_op_json(const struct tdi_gen_circuit *gc, const tdi_cosim_op_row *row,
                      tdi_json *root);

/* ---------------------------------------------------------------- tick budget
 * Every tick count of a run is derived by tdi_cosim_timing_plan, with checked arithmetic: a
 * duration that is not finite, a count that does not fit, or a run of more than
 * TDI_COSIM_MAX_TICKS ticks per engine (n_samples x (settle + average ticks)) is a config error
 * naming the key (file:line:col when the file sets it). 1e9 ticks: 100x make demo's longest
 * run (DEMO_FULL: 10,000 samples x 820 ticks = 8.2e6); 2.5 hours of the sde engine at its
 * measured 1.1e5 ticks/CPU-s at D = 64, and 18 days of spice (652): anything longer is a unit
 * slip (t_avg in s meant as us), and every tick index stays far
 * inside long and exactly representable in double. docs/cosim.md, "Tick budget". */
#define TDI_COSIM_MAX_TICKS 1000000000L

typedef struct tdi_cosim_timing {
    /* in: resolved values and the config key each came from (for messages) */
    double tick, t_settle, t_avg; /* s */
    double adc_rate;              /* Hz */
    size_t n_samples;             /* samples of the longest engine run */
    const char *path;             /* config file, for file:line:col; may be NULL */
    const char *tick_key, *settle_key, *avg_key, *adc_key;
    /* out */
    long settle_ticks, avg_ticks; /* per sample: ceil(t / tick - 1e-9), avg_ticks >= 1 */
    long per_sample;              /* settle + average */
    long total;                   /* per_sample x n_samples <= TDI_COSIM_MAX_TICKS */
    long stride;                  /* ticks between ADC conversions, 1..avg_ticks */
} tdi_cosim_timing;

/* Fills the out fields from the in fields, or fails with TDI_ECONFIG naming the key. */
int tdi_cosim_timing_plan(tdi_cosim_timing *t, tdi_err *err);
/* per_sample = settle + avg and total = per_sample x n (n >= 1), overflow-checked and within
 * TDI_COSIM_MAX_TICKS; TDI_EARG otherwise (for plans built by code, not configs). */
int tdi_cosim_ticks_total(long settle, long avg, size_t n, long *per_sample, long *total,
                          tdi_err *err);
/* Estimated CPU seconds for ticks ticks of engine kind on n_units units (fitted to the rates
 * scripts/cosim-rates.sh measured, docs/cosim.md "Tick budget"; 0 for the analytic engine). */
double tdi_cosim_runtime_estimate(tdi_cosim_kind kind, size_t n_units, long ticks);

#endif
