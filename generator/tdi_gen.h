/* tdi_gen: substrate bundle + `circuit:` config -> SPICE netlists (ngspice; the standalone text
 * also for HSPICE, Xyce or Spectre: circuit.dialect, docs/dialects.md) of noisy
 * analog units with bilinear couplings (docs/physics.md 1-4), plus the physical
 * parameters and the element list for the co-simulator. Invariant: eliminating the bus nodes of
 * the emitted network (Schur complement) gives back gu*M to rounding (the element list; with
 * circuit.devices: mos the cards realise it with MOSFET OTAs, docs/devices.md). Non-goals:
 * non-symmetric M, dialects of the cosim and hold text (tdi-cosim runs them in ngspice).
 *
 * ===== Netlist contract (read this if you consume cosim.cir or tdi_gen_netlist_text) =====
 * Units. Encoder unit i is node  x<i>, decoder unit j is node y<j>  (i, j = 0..D-1; the
 *   prefixes "x" and "y" are circuit.enc_prefix / circuit.dec_prefix). A bundle of other than
 *   two modules: unit i of module m is <name_m><i> (a name ending in a digit gets "u" appended),
 *   modules in the bundle's order, the read-out module's units where this text says decoder, one
 *   coupling block per module pair (bus names sk<c>_<l>, s<c>_<prefix><l> when there is more
 *   than one coupling). The node voltage is the
 *   state: v = Vs * z (volts). Unit kind rc: a capacitor Cu to ground (.subckt unit_rc x).
 *   Unit kind rlc: second state node p<x><i> ("px3", "py5"), see tdi_gen_phys below
 *   (.subckt unit_rlc x p: Cu on x, Cp and the damping conductance gd on p, a transconductor
 *   gu from v(p) into x, i.e. a gyrator-C inductor L_eq = Cp/gu^2).
 * Force node of a unit: the node that receives the coupling currents, the bias and the noise:
 *   x<i> itself for rc, p<x><i> for rlc (the same for y).
 * Bus nodes (algebraic, no capacitor, a resistor 1/gu to ground; each carries a unit-norm
 *   projection of unit voltages): u<x><l> / u<y><l> = u_l^T x (intra low rank, u_l unit
 *   eigenvectors), s<x><l> = P_l^T x / |P_l| and s<y><l> = Q_l^T y / |Q_l| (skip twobus),
 *   sk<l> = (P_l^T x + Q_l^T y) / a_l, a_l^2 = |P_l|^2 + |Q_l|^2 (skip sharedbus).
 * Self terms: rc "R<x3> x3 0 <ohm>"; rlc "G<px3>_<x3> px3 0 x3 0 <S>" (the force is a current
 *   into p controlled by x). Values may be negative after the shared-bus correction.
 * Sources (instance names are lower case in ngspice callbacks):
 *   ibias_<unit>  ("ibias_x3")  current into the unit's force node: gu * Vs * b_i  [A]
 *   inoise_<unit> ("inoise_y0") current into the unit's force node: white noise of two-sided
 *                 PSD 2 kB T g_noise [A^2/Hz] (g_noise = gu for rc, gd for rlc). Sampled at
 *                 interval h and linearly interpolated: sample std sqrt(2 kB T g_noise / h),
 *                 sample 0 := 0 (phys.noise_na is that std for h = phys.noise_dt).
 *   standalone mode: ibias DC (one sample) or PWL (a schedule), inoise TRNOISE(na nt 0 0)
 *   cosim mode:      both "external" (never with a dc value: segfaults ngspice 39.3).
 * Transistor level (devices: mos, docs/devices.md): the same units, bias and noise sources;
 *   rails "Vdd vdd 0", "Vbias vddb 0", "Vcm vcm 0"; resistors return to vcm instead of 0; each
 *   G element (and R element with g < 0) is a flat 5-transistor OTA; every node rests at
 *   v_ref = mos_vcm, the .tran starts from the DC operating point (no uic) and the standalone
 *   .control measures v(node) - v(vcm).
 * Analysis: both modes end with ".tran h tstop 0 h uic" (start from rest: all nodes at 0 V).
 *   cosim.cir uses h = phys.noise_dt and tstop = n_samples*(t_settle + t_avg); a co-simulator
 *   that wants another tick or duration passes them to tdi_gen_netlist_text (tran_h, tran_stop).
 *   cosim mode has no .control block; standalone has one that runs and prints per sample
 *   "avg_<node>_s<n>" and "rms_<node>_s<n>" (meas AVG/RMS over [start+t_settle, end]).
 * Sign convention: "Gname a 0 c 0 g" removes g*v(c) from node a, "Gname 0 a c 0 g" injects it.
 * Every coupling element is a G element or a resistor; values are in siemens (G) and ohms (R).
 * Card order: header comments, .param, .subckt, unit instances, self terms, intra couplings
 *   (encoder then decoder), skip couplings, [read-out stage], bias sources, noise sources, .tran,
 *   [.control], .end.
 * Designer forms (standalone mode only; cosim and hold text stay flat, except circuit.hier at
 *   transistor level, which every mode writes: docs/devices.md "Hierarchy"): circuit.hier (modules
 *   and couplings as .subckt mod_<m> / cpl_<c>, instances Xm_<m> / Xc_<c>), circuit.param
 *   ({m*gu} values), circuit.noise_src: pwl (tdi-cosim's stream as PWL), circuit.readout_cards
 *   (.measure cards), circuit.dialect (the same cards in another simulator's constructs, written
 *   last by generator/tdi_gen_dialect*.c); docs/generator.md "For a chip designer". The
 *   read-back reads all of them.
 * A non-ideal chip (circuit.nonideal, docs/nonideal.md): the element cards carry its values;
 *   "Cni_<unit> <unit> 0 dC" after the unit instances (capacitance Cu + dC) and
 *   "Ios_<node> 0 <node> DC i" after the bias sources (its offset currents; every mode).
 * Read-out stage (circuit.readout_stage: rc; docs/physics.md "Analog read-out"): per decoder unit
 *   y<j> a node r<y><j> ("ry5") with C_ro to ground (.subckt unit_ro r, instance "Xry5 ry5
 *   unit_ro"), a one-way VCCS "Gry5_y5 0 ry5 y5 0 gm_ro" (injects gm_ro v(y5); it draws no
 *   current from y5) and "Rry5 ry5 0 1/g_ro" with g_ro = gm_ro (unity DC gain), plus its own
 *   noise source inoise_ry5 of PSD 2 kB T g_n, g_n = readout_noise_factor * g_ro (and, in cosim
 *   mode, an EXTERNAL ibias_ry5 that the co-simulator holds at 0). The G of the read-back is
 *   then (3D, 3D) and non-symmetric: the r rows have entries in the y columns, not vice versa.
 *   standalone .control also prints "ro_<r node>_s<n>": v(r) one tick before the end of
 *   sample n's slot (the one ADC conversion; the slot is max(t_settle + t_avg, ro_settle)).
 */
#ifndef TDI_GEN_H
#define TDI_GEN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tdi_bundle.h"
#include "tdi_err.h"
#include "tdi_phys.h"

#define TDI_GEN_KB TDI_PHYS_KB          /* J/K (common/tdi_phys.h) */
#define TDI_GEN_MAX_SAMPLES 256

/* ---- configuration: the `circuit:` section plus the top-level seed/name/out ---- */
typedef struct tdi_gen_config {
    long seed;             /* top-level master seed (randomised low-rank factorisation) */
    char name[64];         /* preset name; must match the bundle manifest's preset */
    char out[512];         /* output root */
    char unit[8];          /* unit kind: rc | rlc (tdi_gen_unit_names) */
    double Cu;             /* F, unit capacitance */
    double gu;             /* S, unit conductance (exclusive with tau) */
    double tau;            /* s, Cu/gu (exclusive with gu) */
    double T;              /* K */
    double Vs;             /* V per simulation unit (exclusive with theta) */
    double theta;          /* kB T / (Cu Vs^2), dimensionless */
    /* operating point (tdi_gen_op below): target_noise_ratio > 0 lets tdi choose Vs (then
       Vs and theta must not be given), the averaging window and the ADC bits */
    double target_noise_ratio; /* read-out noise rms / per-sample signal rms; 0 = explicit */
    double v_swing;        /* V, largest |v| a unit node may reach (supply headroom) */
    double op_avg_relax_min, op_avg_relax_max; /* window limits, slowest relaxation times */
    long op_adc_bits_min, op_adc_bits_max;     /* ADC resolution limits */
    double op_adc_fom;     /* J per conversion step: energy.adc_fom (tdi-cosim's key, read) */
    double op_vdd;         /* V: energy.vdd (read) */
    double op_gm_over_id;  /* 1/V: energy.gm_over_id (read) */
    double rlc_cp;         /* Cp / Cu (rlc) */
    double rlc_zeta;       /* damping ratio of the slowest mode (rlc); 1 = critical */
    char intra[16];        /* dense | lowrank (tdi_gen_intra_names) */
    long rank;             /* lowrank: maximum bus nodes per module (0 = numerical rank) */
    char skip[16];         /* dense | twobus | sharedbus (tdi_gen_skip_names) */
    int noise;             /* standalone: emit trnoise sources (0: noiseless step response) */
    double noise_dt;       /* s, noise sample interval (0 = noise_frac * fastest time) */
    double noise_frac;     /* noise_dt / fastest relaxation time when noise_dt = 0 */
    double noise_frac_max; /* a larger ratio is an error ("too coarse") */
    long samples[TDI_GEN_MAX_SAMPLES]; /* test-sample indices of the standalone schedule */
    size_t n_samples;
    double t_settle;       /* s per sample (0 = slowest time * ln(1/settle_eps), see phys) */
    double settle_eps;     /* fraction of the initial error left after t_settle */
    double t_avg;          /* s averaging window per sample (0 = avg_relax * slowest time) */
    double avg_relax;
    char readout[16];      /* decoder | all: which nodes the standalone .control measures */
    char readout_stage[8]; /* none | rc: analog read-out stage per decoder unit (Gm-C low-pass) */
    double readout_tau;    /* s, C_ro/g_ro (0 = t_avg/2: the window average's noise bandwidth) */
    double readout_cap;    /* F, C_ro (0 = auto: the stage's own kT/C_ro noise is
                              readout_noise_share of the filtered substrate noise) */
    double readout_noise_share; /* for readout_cap: 0 (see docs/physics.md 9) */
    double readout_noise_factor; /* g_n / g_ro of the stage's noise current */
    long wire_budget;      /* max total wire pairs (0 = no budget) */
    char enc_prefix[9];    /* node prefix of encoder units ("x") */
    char dec_prefix[9];    /* node prefix of decoder units ("y") */
    char bundle[512];      /* substrate bundle dir ("" = <out>/substrate) */
    char netlists[512];    /* output dir ("" = <out>/netlists) */
    /* transistor level (docs/devices.md): devices: ideal keeps the R/G cards */
    char devices[8];       /* ideal | mos */
    char mos_lib[512];     /* model card or PDK file (.include, or .lib with mos_corner) */
    char mos_corner[32];   /* "" -> .include mos_lib ; "tt" -> .lib mos_lib tt */
    char mos_nmos[64], mos_pmos[64]; /* device (model or subcircuit) names */
    char mos_prefix[2];    /* instance letter: m (.model cards) | x (PDK subcircuits) */
    double mos_scale;      /* .option scale (0: none); W, L are printed in units of it */
    double mos_l;          /* m, channel length of every device */
    double mos_w_min, mos_w_max, mos_w_grid; /* m, W limits and grid */
    double mos_gm_over_id; /* 1/V, sizing target of the pair and mirror devices */
    char mos_gmid[512];    /* gm/ID table file of the card ("": the shipped card's tables) */
    double mos_vdd, mos_vcm; /* V, supply and common-mode (rest) voltage */
    double mos_avt;        /* V m, Pelgrom A_VT: std(delvto) = A_VT / sqrt(W L) */
    double mos_abeta;      /* m, Pelgrom A_beta: std(mulu0) = A_beta / sqrt(W L) */
    int mos_mismatch;      /* 1: per-instance delvto / mulu0 drawn (seed, chip) */
    long chip;             /* mismatch draw index: tdi_seed(seed, TDI_SEED_MISMATCH, chip) */
    int mos_flicker;       /* include the flicker part in the sized device noise */
    int mos_self_comp;     /* 1: each node's resistor to vcm gives up the OTAs' output
                              conductance there (docs/devices.md "Self-term compensation") */
    int mos_self_comp_passes; /* 1..3 measurement + rebuild passes */
    char mos_trim[8];      /* none | ideal | dac: a trim current per unit node cancelling the
                              OTAs' rest current there (docs/devices.md "Offset trim") */
    long mos_trim_bits;    /* dac: signed codes +-(2^(bits-1) - 1) over the full scale */
    double mos_trim_fs;    /* A, dac full scale (0: 1.25 x the measured max |i_rest|) */
    int mos_trim_passes;   /* 1..3 measurement passes */
    /* the standalone netlist's form (docs/generator.md "For a chip designer"); the defaults
       write today's flat, numeric, trnoise, .control text */
    int hier;              /* 1: each module a .subckt, each coupling a .subckt */
    int param;             /* 1: element values as expressions of .param gu, Vs, Cu */
    char noise_src[8];     /* trnoise | pwl: the seeded tdi-cosim stream as PWL sources */
    char readout_cards[8]; /* control | measure | both: .control meas and/or .measure cards */
    char dialect[16];      /* ngspice | hspice | xyce | spectre: the standalone text's simulator
                              (generator/tdi_gen_dialect*.c, docs/dialects.md) */
    /* behavioural non-idealities of chip `chip` (circuit.nonideal.*, docs/nonideal.md; every
       draw from tdi_seed(seed, TDI_SEED_NONIDEAL, chip)); all 0: the ideal circuit, unchanged */
    double ni_gain_sigma;  /* relative std of each coupling element's g (bus resistors too) */
    double ni_self_sigma;  /* relative std of each self element's g */
    double ni_offset_sigma;/* V, std of each transconductor side's input offset */
    double ni_gout;        /* output conductance of each transconductor side / its |g| */
    double ni_cap_sigma;   /* relative std of each unit capacitor */
    double ni_temp;        /* K, the chip's temperature (0: circuit.T, the design's) */
    double ni_tempco;      /* 1/K, relative change of every element's g per kelvin above T */
    char path[512];        /* config file name (for messages) */
    uint64_t hash;         /* FNV-1a 64 of the canonical dump of the keys read (the mos_* keys
                              and chip only when devices: mos, so ideal hashes are unchanged) */
} tdi_gen_config;

/* Defaults (documented in configs/ and docs/generator.md). */
void tdi_gen_config_init(tdi_gen_config *c);
/* Reads seed, name, out and circuit.* from a YAML file (other sections are skipped: they belong
 * to other components); validates ranges, exclusive pairs and node prefixes. Errors carry
 * file:line:col where the YAML has one. */
int tdi_gen_config_load(const char *path, tdi_gen_config *c, tdi_err *err);
int tdi_gen_config_load_string(const char *name, const char *text, tdi_gen_config *c,
                               tdi_err *err);

/* ---- substrate bundle (docs/formats.md; common/tdi_bundle.h owns the format) ----
 * The generator's two-module view of a bundle: module 0 the encoder, module 1 the read-out
 * (decoder), at most one coupling between them. The view's arrays point into sub. */
typedef struct tdi_gen_bundle {
    tdi_bundle sub;        /* the substrate as read (owns every array) */
    size_t D, k, n;        /* units per module (any shape: of the read-out module), skip rank
                              (0 unless two modules), test samples */
    double *M;             /* (N, N): (2D, 2D) for two modules */
    double *A, *B;         /* (D, D) */
    double *Jenc, *Jdec;   /* (D, D) */
    double *P, *Q;         /* (D, k) */
    double *b_enc, *b_dec; /* (n, D) */
    double *c;             /* (D) */
    double *analytic;      /* (n, D) */
    char preset[64], mode[16], format[32];
    long version;
    double lambda_min, lambda_max; /* as stated in the manifest (0 when absent) */
    uint64_t hash;         /* FNV-1a 64 over the manifest and the arrays read */
    char dir[512];
} tdi_gen_bundle;

/* Reads (tdi_bundle_read: shapes, finiteness, symmetry, blocks of M) and makes the view;
 * `want` as for tdi_bundle_read (0: the substrate only). Every shape is read (the generator
 * takes the module list from sub); the encoder/decoder fields (k, A, B, Jenc, Jdec, P, Q,
 * b_enc, b_dec) are set only for the two-module shape (tdi_gen_bundle_is_two), NULL (k = 0)
 * otherwise. No analytic.npy is TDI_EFORMAT. Caller destroys. */
int tdi_gen_bundle_read_want(const char *dir, unsigned want, tdi_gen_bundle *b, tdi_err *err);
int tdi_gen_bundle_read(const char *dir, tdi_gen_bundle *b, tdi_err *err);
void tdi_gen_bundle_destroy(tdi_gen_bundle *b);
/* 1 for two modules of equal size, the second read out, at most one low-rank coupling from the
 * first to the second (today's presets); tdi_gen_bundle_need_two: TDI_EFORMAT naming the
 * bundle and `who` (a tool that needs the encoder/decoder fields) otherwise. */
int tdi_gen_bundle_is_two(const tdi_gen_bundle *b);
/* The U-Net levels of a bundle: L >= 1 when its 2L modules are L encoders then L read-out
 * decoders (module l and module L + l of equal size: level l) and every coupling is low rank
 * from a level's encoder to its decoder (at most one per level): the shape tdi_bundle_stack
 * writes, the two-module presets being L = 1. 0 for any other shape. */
size_t tdi_gen_bundle_levels(const tdi_gen_bundle *b);
int tdi_gen_bundle_need_two(const tdi_gen_bundle *b, const char *who, tdi_err *err);

/* A synthetic substrate (tests, examples, the benchmark): modules of sizes D[m], couplings
 * (from, to, rank), all seeded. Intra J = W^T W / 4 with W (r x D_m) ~ N(0, 1/r) (r = D_m when
 * intra_rank is 0), A = 2 J2 I + J + J^T with J2 = 0.1; coupling factors scaled to
 * |P|_F |Q|_F = 0.1 / (largest number of couplings at one module), so M is positive definite
 * (block Gershgorin: lambda_min(A) >= 0.2); biases N(0, 1); analytic = the read-out block of
 * M^-1 b; c = 0, gain = 1, truth = analytic, mean_fit = 0. Two modules and one coupling give
 * the numbers of the former two-module writer (same seed, same draws in the same order). */
typedef struct tdi_gen_synth_spec {
    const char *preset;    /* manifest preset */
    size_t n_mod;          /* modules */
    size_t D[TDI_BUNDLE_MAX_MOD];
    const char *names[TDI_BUNDLE_MAX_MOD]; /* NULL: "enc", "dec" for two modules, else ma, mb,
                                              ... (m + the module's letter) */
    size_t out;            /* (first) read-out module */
    size_t n_out;          /* read-out modules out .. out + n_out - 1 (0: one) */
    size_t n_cpl;
    size_t from[TDI_BUNDLE_MAX_CPL], to[TDI_BUNDLE_MAX_CPL], rank[TDI_BUNDLE_MAX_CPL];
    size_t intra_rank;     /* 0: full */
    size_t n;              /* test samples */
    unsigned long seed;
} tdi_gen_synth_spec;

/* Builds the synthetic substrate in memory (b owns its arrays; tdi_bundle_destroy). */
int tdi_gen_synth_build(const tdi_gen_synth_spec *s, tdi_bundle *b, tdi_err *err);
/* Builds and writes it (one directory transaction). */
int tdi_gen_synth_write(const char *dir, const tdi_gen_synth_spec *s, tdi_err *err);
/* The two-module case: modules enc, dec of D units, one rank-k coupling, intra rank r. */
int tdi_gen_bundle_synth(const char *dir, const char *preset, size_t D, size_t k, size_t r,
                         size_t n, unsigned long seed, tdi_err *err);

/* ---- unit kinds (generator/tdi_gen_unit.c; docs/generator.md "Unit kinds") ----
 * One descriptor per kind of analog unit; circuit.unit names one. The generator, the read-back
 * and cosim ask the descriptor instead of branching on the kind. A unit has n_state state nodes:
 * state 0 is the unit node x<i> (its voltage is the state z), state s > 0 is the node named
 * state_prefix[s] + "x<i>" (node list position s*N + i). Couplings, bias and noise go into the
 * force node (state force_state). Add a kind: a descriptor in tdi_gen_unit.c and its entry in
 * that file's table; nothing else names a kind. */
struct tdi_gen_phys;
struct tdi_gen_build;      /* the element-list builder (generator/tdi_gen_int.h) */

typedef enum { TDI_GEN_UNIT_NOTE_NETLIST, TDI_GEN_UNIT_NOTE_PARAM, TDI_GEN_UNIT_NOTE_PRINT }
    tdi_gen_unit_note;

typedef struct tdi_gen_unit_kind {
    const char *name;          /* circuit.unit word; subcircuit "unit_<name>" */
    size_t n_state;            /* state nodes per unit (1 or 2) */
    const char *state_prefix[2]; /* node name prefix of state s (s = 0: "", the unit node) */
    size_t force_state;        /* state node that receives couplings, bias and noise */
    int first_order;           /* 1: one capacitor per unit, state = force node (exact AR(1)
                                  read-out formula and the sde engine apply) */
    int ideal_g;               /* 1: the unit and its self term are ideal linear R/G/C cards, so
                                  the read-back gives G exactly; 0: use small_signal_g */
    size_t n_gm;               /* transconductors inside one unit (rlc: the gyrator, 1) */
    const char *subckt;        /* ".subckt unit_<name> <state nodes>" .. ".ends" lines, each
                                  '\n'-terminated, values as {params} of NOTE_PARAM */
    const char *self_style;    /* wire-report realisation of the self term ("resistor") */
    const char *nodes_note;    /* appended to the netlist's "* nodes:" comment ("" for none) */
    /* kind-specific physics from the config: Cp, gd, g_noise, readout_gain (phys->Cu, gu,
       lambda_min are set) */
    void (*derive)(const tdi_gen_config *cfg, struct tdi_gen_phys *p);
    /* one mode of eigenvalue lam of M: slowest decay rate and largest |root| (1/s), and the
       normalised step-response error envelope at t (s) from rest */
    void (*mode_rates)(const struct tdi_gen_phys *p, double lam, double *slow, double *fast);
    double (*mode_err)(const struct tdi_gen_phys *p, double lam, double t);
    double (*cap)(const struct tdi_gen_phys *p, size_t state); /* F at state node `state` */
    double (*gm)(const struct tdi_gen_phys *p);  /* S: sum |gm| of the unit's own transconductors
                                                    (the gyrator's gu; 0 for rc) */
    /* S s^2: dissipation rate of the unit's internal resistor per (dv/dt)^2 of its state node
       (rlc: gd on p, v_p = (Cu/gu) dv/dt, so gd (Cu/gu)^2); 0 for none */
    double (*r_rate)(const struct tdi_gen_phys *p);
    /* S: the unit's own network between its state nodes (inside the subcircuit; no self term,
       no couplings), as "current leaving state row per volt at state col" (rlc: (0,1) = -gu,
       the gyrator into x; (1,1) = gd, p to ground; rc: 0). The sde engine's state uses it. */
    double (*internal_g)(const struct tdi_gen_phys *p, size_t row, size_t col);
    /* the ideal self-term element(s) of unit `unit` with conductance g (S) at the state node */
    void (*self_term)(struct tdi_gen_build *bd, size_t unit, double g);
    /* one comment/.param/print line (without newline) into buf, "" for none */
    void (*note)(const struct tdi_gen_phys *p, tdi_gen_unit_note what, char *buf, size_t size);
    /* ideal_g == 0 only: the small-signal G (n_state x n_state, S, row-major) of one unit
       linearised at its operating point (e.g. a MOSFET transconductor's gm, gds from a DC
       operating point). NULL for rc and rlc, whose G is exact. 0 or a TDI_E* code. */
    int (*small_signal_g)(const struct tdi_gen_phys *p, double *G, tdi_err *err);
} tdi_gen_unit_kind;

/* The kind called `name`, or NULL. */
const tdi_gen_unit_kind *tdi_gen_unit_find(const char *name);
/* The kinds' names joined by '|' ("rc|rlc") into buf: the one list config readers check. */
void tdi_gen_unit_names(char *buf, size_t size);
/* The coupling realisations' names (generator/tdi_gen_real.c): "dense|lowrank" for
 * circuit.intra, "dense|twobus|sharedbus" for circuit.skip. */
void tdi_gen_intra_names(char *buf, size_t size);
void tdi_gen_skip_names(char *buf, size_t size);

/* ---- derived physics ---- */
typedef struct tdi_gen_phys {
    const tdi_gen_unit_kind *unit; /* the unit kind (circuit.unit) */
    double T, kT;          /* K, J */
    double Cu, gu, tau;    /* F, S, s (tau = Cu/gu) */
    double Vs, theta;      /* V/unit, dimensionless */
    double kTC;            /* kB T / Cu, V^2 (variance of a lone unit, M = 1) */
    double Cp, gd;         /* rlc: F, S (0 for rc). gd = 2 zeta gu sqrt(lambda_min Cp/Cu) */
    double lambda_min, lambda_max; /* of M */
    double t_slow;         /* s, slowest relaxation time (1 / slowest decay rate) */
    double t_fast;         /* s, fastest time scale (1 / largest |mode rate|) */
    double noise_dt;       /* s, noise sample interval (= tick of the cosim .tran) */
    double g_noise;        /* S, conductance whose thermal noise is injected (gu or gd) */
    double noise_na;       /* A, trnoise sample std sqrt(2 kB T g_noise / noise_dt) */
    double t_settle, t_avg;/* s per sample */
    double t_stop;         /* s, n_samples * (t_settle + t_avg) */
    double readout_gain;   /* readout covariance = readout_gain * (2 kB T / (gu W)) M^-2 [V^2];
                              1 for rc, gd/gu for rlc (docs/physics.md 5, zero-frequency PSD) */
    int ro;                /* 1: analog read-out stage present (readout_stage: rc) */
    double ro_C, ro_g;     /* F, S: stage capacitor C_ro, conductance g_ro = gm_ro */
    double ro_tau;         /* s, C_ro / g_ro */
    double ro_gn;          /* S, noise conductance of the stage (noise_factor * g_ro) */
    double ro_na;          /* A, its trnoise sample std sqrt(2 kB T ro_gn / noise_dt) */
    double ro_settle;      /* s, time from a bias step until the stage output (cascade of the
                              extreme substrate modes and the stage) is within settle_eps */
    double t_slot;         /* s per standalone sample: t_settle + t_avg, or ro_settle if longer */
    int mos;               /* 1: transistor level (circuit.devices: mos) */
    double v_ref;          /* V, rest voltage of every unit and bus node: 0 ideal, mos_vcm mos */
    double vdd;            /* V, supply of the OTA cores and bias generators (0 ideal) */
    double i_tail_sum;     /* A, design sum of the OTA tail currents (= design i(vdd)) */
} tdi_gen_phys;

/* ---- operating point: Vs (theta), averaging window and ADC bits from a fidelity target ----
 * Model (docs/generator.md "Operating point", docs/operating-point.md): the ADC converts every
 * decoder unit every `spacing` s and the estimate is the mean of n conversions. Read-out noise
 * in simulation units:
 *   noise^2 = theta g(n)^2 + mean_i quant_var(q, sqrt(theta) sd1_i, n),  q = 2 fs / 2^bits,
 *   fs = 1.1 (y_max + 6 sqrt(theta) sd1_dec) (the ADC full scale tdi-cosim uses), g(n) =
 *   noise1(n): thermal noise at theta = 1, sd1_i the node std of unit i at theta = 1.
 * Swing: Vs z_max + 6 sqrt(kB T / Cu) sd1_max <= v_swing. Energy per inference (the ledger's
 * terms that depend on the choice): n_read n adc_fom 2^bits + (p_vs2 Vs^2 + p_static) T_inf,
 * T_inf = t_settle + n spacing. The chooser takes, over bits and n in the limits, the largest
 * theta meeting noise <= target * signal (the cheapest circuit for that pair) within the swing,
 * and keeps the cheapest pair. */
enum { TDI_GEN_OP_BIND_TARGET = 1, TDI_GEN_OP_BIND_SWING = 2, TDI_GEN_OP_BIND_WINDOW_MIN = 4,
       TDI_GEN_OP_BIND_WINDOW_MAX = 8, TDI_GEN_OP_BIND_BITS_MAX = 16 };

typedef struct tdi_gen_op_in {
    double target;         /* read-out noise / signal */
    double signal;         /* units: per-sample signal (std over samples of y*, rms over units) */
    double y_max;          /* units: max |y*| over samples and decoder units (ADC full scale) */
    double sd1_dec;        /* units at theta = 1: max decoder node std, sqrt((M^-1)_ii) */
    const double *sd1_units; /* (n_units) units at theta = 1: each decoder node's std (the
                                dither of its quantiser); n_units 0: sd1_dec for all */
    size_t n_units;
    double z_max;          /* units: max |M^-1 b| over samples and all units (swing) */
    double sd1_max;        /* units at theta = 1: max node std over all units (swing) */
    double T, Cu;          /* K, F */
    double v_swing;        /* V */
    double spacing;        /* s between ADC conversions */
    double t_settle;       /* s per sample */
    long n_min, n_max;     /* conversions per window */
    long bits_min, bits_max;
    size_t n_read;         /* ADC channels (decoder units) */
    double adc_fom;        /* J per conversion step */
    double p_vs2;          /* W/V^2: circuit dissipation per Vs^2 (bias power + resistors) */
    double p_static;       /* W: transconductor bias power (Vdd sum(gm) / (gm/ID)) */
    double (*noise1)(void *ctx, long n); /* units, theta = 1: thermal noise of an n-mean */
    void *ctx;
} tdi_gen_op_in;

typedef struct tdi_gen_op {
    int active;            /* 1: chosen from circuit.target_noise_ratio */
    double theta, Vs;      /* -, V/unit */
    long n_conv, bits;     /* ADC conversions per window, ADC resolution */
    double spacing;        /* s between conversions */
    double avg_relax;      /* window / slowest relaxation time */
    double noise;          /* units: predicted read-out noise (thermal + quantisation) */
    double signal, target; /* units, ratio (copied from the input) */
    double vs_max;         /* V/unit: the swing limit on Vs */
    double v_swing;        /* V (copied from the input) */
    double swing;          /* V: Vs z_max + 6 thermal std at the chosen point */
    double e_adc, e_circ, e_active, energy; /* J per inference, the chooser's model */
    unsigned binds;        /* TDI_GEN_OP_BIND_* */
    char signal_from[64];  /* which data the signal and swing were taken from */
} tdi_gen_op;

/* The chooser: a pure function of its input. TDI_ECONFIG naming the binding limit and its keys
 * (circuit.v_swing, circuit.target_noise_ratio, circuit.op_avg_relax_max,
 * circuit.op_adc_bits_max) when no point meets the target. */
int tdi_gen_op_choose(const tdi_gen_op_in *in, tdi_gen_op *op, tdi_err *err);
/* Variance factor of the mean of n samples of a unit-variance AR(1) sequence with lag-one
 * correlation rho: (1/n) [1 + 2 sum_k (1 - k/n) rho^k]. */
double tdi_gen_ar1_mean_factor(long n, double rho);
/* Variance of the mean of n quantised conversions (step q) of a level carrying Gaussian noise
 * of std sigma: the part that follows the level (not averaged away; q^2/12 when sigma = 0)
 * plus the rest over n (q^2/(12 n) once sigma >~ q/2). */
double tdi_gen_quant_var(double q, double sigma, long n);
/* The same variance when the dither is correlated between conversions (docs/physics.md 9):
 * rho[k] (k < n, rho[0] = 1) the dither's autocorrelation at a lag of k conversions, the level
 * uniform over a step: (1/n^2) [n q^2/12 + 2 sum_k (n - k) S(4 pi^2 sigma^2 (1 - rho_k) / q^2)],
 * S(b) = sum_j q^2/(2 pi^2 j^2) e^(-b j^2) the covariance of two conversions' rounding errors.
 * rho = NULL: independent dither (tdi_gen_quant_var's model up to its series' truncation). */
double tdi_gen_quant_var_acf(double q, double sigma, long n, const double *rho);
/* "swing, target" etc.: the binding constraints of op as words. */
void tdi_gen_op_binds_text(const tdi_gen_op *op, char *buf, size_t size);

/* ---- the circuit: element list (what the netlist contains, before formatting) ---- */
typedef enum {
    TDI_GEN_NODE_UNIT = 0, /* x<i> (index i) or y<j> (index D + j): the state z */
    TDI_GEN_NODE_MOM = 1,  /* second state node of unit `index` (rlc: p<x><i>) */
    TDI_GEN_NODE_BUS = 2,  /* algebraic bus node */
    TDI_GEN_NODE_RO = 3    /* read-out stage output r<y><j> of read-out unit `index` (0..D-1) */
} tdi_gen_node_kind;

typedef struct tdi_gen_node {
    char name[40];
    tdi_gen_node_kind kind;
    size_t index;          /* unit index 0..2D-1 for UNIT/MOM, bus number for BUS */
} tdi_gen_node;

/* Blocks for the wire report: the self terms (0), the intra block of module m (1 + m), the
 * coupling c (1 + n_mod + c), and the read-out stage (a fixed last slot). With two modules and
 * one coupling these are the two-module names below (intra_enc 1, intra_dec 2, skip 3). */
enum { TDI_GEN_BLK_SELF = 0, TDI_GEN_BLK_INTRA_ENC = 1, TDI_GEN_BLK_INTRA_DEC = 2,
       TDI_GEN_BLK_SKIP = 3, TDI_GEN_NBLK = 2 + TDI_BUNDLE_MAX_MOD + TDI_BUNDLE_MAX_CPL,
       TDI_GEN_BLK_READOUT = TDI_GEN_NBLK - 1 };

/* A coupling element. node index -1 = ground.
 * kind 'R': resistor between a and b (ground allowed), conductance g (may be negative).
 * kind 'G': VCCS "G a b c d g": removes g*(v(c)-v(d)) from a, injects it into b. */
typedef struct tdi_gen_elem {
    char kind;
    unsigned char block;   /* TDI_GEN_BLK_* */
    int a, b, c, d;        /* node indices into circ->nodes, -1 = ground */
    double g;              /* S */
} tdi_gen_elem;

typedef struct tdi_gen_block_report {
    const char *name;      /* "self", "intra_<module>", "skip" (two modules) or
                              "skip_<from>_<to>", "readout"; NULL: slot unused */
    char label[40];        /* storage of name for the per-module and per-coupling blocks */
    const char *realisation;
    size_t rank;           /* bus components (0 for dense) */
    size_t elements, wire_pairs, bus_nodes;
    double dense_pairs;    /* dense-equivalent pairs: D(D-1)/2 intra, D^2 skip */
} tdi_gen_block_report;

/* A module: a group of units with its own intra coupling (the bundle's module list, in z
 * order; common/tdi_bundle.h). */
typedef struct tdi_gen_module {
    char name[16];         /* the bundle's name ("enc", "dec"): wire-report block "intra_<name>" */
    char prefix[20];       /* node prefix of its units: circuit.enc_prefix / dec_prefix for two
                              modules, else the module name ("u" appended when it ends in a
                              digit) */
    size_t off, n;         /* its units are off..off+n-1 */
    int blk;               /* its intra block: 1 + module index */
} tdi_gen_module;

/* ---- transistor level (circuit.devices: mos; generator/tdi_gen_mos.c, docs/devices.md) ----
 * Each G element is one 5-transistor OTA injecting sign*gm*(v(c) - v(d)) into its output node
 * (two when neither a nor b is ground), each R element with g < 0 an OTA in positive feedback
 * (its "controlling" node is a); every OTA has its own bias generator (reference current from
 * the Vbias rail into a diode NMOS, mirrored into the tail). */
enum { TDI_GEN_DEV_PAIR = 0, TDI_GEN_DEV_MIRROR = 1, TDI_GEN_DEV_TAIL = 2, TDI_GEN_DEV_BIAS = 3 };

typedef struct tdi_gen_dev {
    char name[48];         /* SPICE instance name, lower case, as ngspice's @name[gm] takes it */
    char type;             /* 'n' | 'p' */
    int role;              /* TDI_GEN_DEV_PAIR | _MIRROR | _TAIL | _BIAS */
    size_t ota;            /* its transconductor (index into ota[]) */
    char d[48], g[48], s[48]; /* node names (drain, gate, source; bulk = rail: 0 or vdd) */
    double W, L;           /* m (before mos_scale) */
    double id, gm;         /* design values: A, S */
    double delvto, mulu0;  /* mismatch applied (0, 1 when none) */
    double psd_w;          /* A^2/Hz two-sided white drain-current noise PSD (0: not sized) */
    double psd_f1;         /* A^2/Hz at 1 Hz of the flicker part: S(f) = psd_w + psd_f1 / f */
    char inst[48];         /* the subcircuit instance holding it, "xm_<module>" | "xc_<coupling>"
                              (circuit.hier), "" at top level (flat) */
} tdi_gen_dev;

/* ---- self-term compensation (circuit.mos_self_comp; generator/tdi_gen_mos_comp.c,
 * docs/devices.md "Self-term compensation") ----
 * Every OTA loads its output node with its output conductance (gds of the pair and mirror
 * devices). Given that load per node (measured at the op: tdi_cosim_mos_self_comp), each node's
 * resistor to vcm is realised with g - load (the element list keeps the design g: the read-back
 * and the ideal engines are unchanged) and each negative self term's OTA with |g - load|. A
 * resistor whose load exceeds g cannot give it up: it is left out (g_real 0) and the node is a
 * shortfall (load - g S too much; the fix is a higher-impedance output, e.g. a cascode). */
typedef struct tdi_gen_mos_comp {
    int passes;            /* measurement + rebuild passes applied */
    double *load;          /* (n_nodes) S: the OTAs' output conductance at each node (last pass) */
    size_t n_res, n_ota;   /* resistors shrunk, negative self terms' OTAs enlarged */
    size_t n_short;        /* nodes whose load exceeds their resistor's g */
    double sum_load;       /* S, total load compensated (units and bus nodes) */
} tdi_gen_mos_comp;

void tdi_gen_mos_comp_free(tdi_gen_mos_comp *m); /* accepts NULL */

/* ---- offset trim (circuit.mos_trim; generator/tdi_gen_mos_trim.c, docs/devices.md "Offset
 * trim") ----
 * A foreground calibration: with every unit held at V_cm (the hold netlist's op:
 * tdi_cosim_mos_trim) each unit node receives a net rest current i_rest from its OTAs' systematic
 * offsets; a trim current source per unit node injects i_trim = -i_rest (ideal), or that
 * rounded to the trim DAC's LSB (dac). Cards (every netlist, top level, after the elements):
 * i_trim > 0 "Itrim_<u> vdd <u> DC i" (a cell sourcing from vdd); i_trim < 0 "Itrim_<u> <u> 0 DC
 * |i|" with its mirror's reference "Itrimr_<u> vdd 0 DC |i|": either way the cell draws |i_trim|
 * from vdd, so i(vdd) carries sum |i_trim| (power_W). The element list and the devices are
 * untouched. */
typedef struct tdi_gen_mos_trim {
    int passes;            /* measurement passes applied */
    int dac;               /* 0 ideal, 1 quantised */
    long bits;             /* dac resolution */
    long code_max;         /* 2^(bits-1) - 1 */
    double fs, lsb;        /* A: dac full scale (the largest code's current) and step */
    double *i_first;       /* (N) A: the rest currents the first pass measured (untrimmed) */
    double *target;        /* (N) A: the trim the measurements ask for, -(untrimmed i_rest) */
    double *i_trim;        /* (N) A: the trim each unit's cell injects (target, or quantised) */
    long *code;            /* (N) dac codes (0 ideal) */
    size_t n_clip;         /* dac codes clipped at +-code_max (mos_trim_fs below the need) */
    double first_rms, first_max; /* A: of i_first */
    double trim_rms, trim_max;   /* A: of i_trim */
    double sum_abs;        /* A: sum |i_trim|, the cells' draw from vdd */
    double power_W;        /* sum_abs * Vdd */
} tdi_gen_mos_trim;

void tdi_gen_mos_trim_free(tdi_gen_mos_trim *t); /* accepts NULL */
/* (tdi_gen_mos_trim_apply, _print: after tdi_gen_circuit below) */
/* (tdi_gen_mos_g, _comp_apply, _comp_print: after tdi_gen_circuit below) */

/* The name ngspice gives device d (src 0) or its channel-noise source (src 1; EXTERNAL
 * callbacks): "<name>" / "in<name>" at top level, inside a subcircuit instance ngspice's
 * flattened path "m.<inst>.<name>" / "i.<inst>.in<name>" (element letter, instance, local
 * name). For an M device "@<name>[gm]" takes it; a PDK subcircuit device (mos_prefix x) is read
 * through the MOSFET inside it (tdi_cosim_mos_names_init, cosim/tdi_cosim_mosname.c). Writes at
 * most n bytes into buf; returns buf (tdi_gen_mos_hier.c). */
const char *tdi_gen_dev_spice(const tdi_gen_dev *d, int src, char *buf, size_t n);

typedef struct tdi_gen_ota {
    char name[48];         /* "ota<k>": its devices are <prefix>ota<k>_1.._5, _b */
    size_t elem;           /* the element it realises (index into elems) */
    double gm;             /* S, design |gm| (= |g| of the element) */
    double i_tail;         /* A, design tail current 2 gm / (gm/ID of the pair device) */
    int sign;              /* +1: the controlling node (c; a for an R element) is the + input,
                              the OTA injects +gm (v(c) - v(d)) into its output; -1: the - input */
    char out[48], inp[48], inn[48]; /* node names: output, + input, - input */
} tdi_gen_ota;

enum { TDI_GEN_CARDS_CONTROL = 0, TDI_GEN_CARDS_MEASURE = 1, TDI_GEN_CARDS_BOTH = 2 };

/* ---- behavioural non-idealities of one chip (generator/tdi_gen_nonideal.c, docs/nonideal.md)
 * Applied to the element list of the ideal-element realisation (unit: rc, devices: ideal) after
 * the operating point: c->elems then hold the chip's values, so every netlist, the read-back and
 * the reduction see the chip. Draws: Gaussian, from the counter generator
 * tdi_gen_nonideal_gauss(key, item, what) with key = tdi_seed(seed, TDI_SEED_NONIDEAL, chip),
 * item the element (or unit, or converter channel), what the quantity (TDI_GEN_NI_*), so one
 * draw does not depend on which others are switched on. */
enum { TDI_GEN_NI_GAIN = 0, TDI_GEN_NI_OFFSET_A = 1, TDI_GEN_NI_OFFSET_B = 2, TDI_GEN_NI_CAP = 3,
       TDI_GEN_NI_ADC_OFFSET = 4, TDI_GEN_NI_ADC_GAIN = 5, TDI_GEN_NI_ADC_INL = 6,
       TDI_GEN_NI_DAC_OFFSET = 7, TDI_GEN_NI_DAC_GAIN = 8, TDI_GEN_NI_DAC_INL = 9 };

typedef struct tdi_gen_chip {
    long index;            /* circuit.chip */
    uint64_t key;          /* Philox key tdi_seed(seed, TDI_SEED_NONIDEAL, chip) */
    double T;              /* K, the chip's temperature (its noise sources' kB T) */
    double g_scale;        /* 1 + tempco (T - T_design): every element's temperature factor */
    double *cap;           /* (N) F: each unit node's capacitance (Cu when cap_sigma = 0) */
    double *i_node;        /* (n_nodes) A: offset current injected into each node (a DC source
                              "Ios_<node> 0 <node> DC i" in the standalone and hold netlists) */
    double *i_unit;        /* (N) A: the same currents as seen at the units (bus nodes
                              eliminated): the static bias the co-simulator adds to ibias */
    double *G;             /* (N, N) S: the chip's reduced matrix (tdi_gen_circuit_reduced) */
    size_t n_gout;         /* output-conductance loads folded into ground resistors */
    size_t n_offsets;      /* transconductor sides with an offset */
} tdi_gen_chip;

/* 1 when cfg asks for any behavioural non-ideality (circuit.nonideal). */
int tdi_gen_nonideal_active(const tdi_gen_config *cfg);
/* Standard Gaussian of (key, item, what): Philox4x32-10 + Box-Muller, the same draw as the
 * co-simulator's noise stream (tdi_cosim_noise_gauss(key, item, what)). */
double tdi_gen_nonideal_gauss(uint64_t key, uint64_t item, uint64_t what);
/* The chip's summary (a few lines; nothing for an ideal circuit). */
struct tdi_gen_circuit;
void tdi_gen_nonideal_print(const struct tdi_gen_circuit *c, FILE *f);

typedef struct tdi_gen_circuit {
    size_t D, k, N;        /* D: units of the read-out block (its modules' units, consecutive
                              from mod[out].off; two modules: units per module);
                              k: rank of the first coupling; N: units, sum over the modules */
    tdi_gen_module mod[TDI_BUNDLE_MAX_MOD]; /* units of module m are mod[m].off.. (z order) */
    size_t n_mod;
    size_t out;            /* the read-out module (two modules: 1, the decoder) */
    size_t n_cpl;          /* couplings; coupling c is wire-report block 1 + n_mod + c */
    tdi_gen_phys phys;
    tdi_gen_op op;         /* the operating point (op.active = 0: explicit Vs/theta) */
    const double *M;       /* (N, N) intended matrix (the bundle's; not owned) */
    tdi_gen_node *nodes;   size_t n_nodes;   /* units first: x0..x{D-1}, y0..y{D-1}; with
                                                the stage, nodes[N + j] is r<y><j> */
    tdi_gen_elem *elems;   size_t n_elems;
    tdi_gen_block_report blk[TDI_GEN_NBLK];
    size_t total_elements, total_pairs;
    size_t n_samples;
    long samples[TDI_GEN_MAX_SAMPLES];
    double *bias;          /* (n_samples, N) bias currents gu*Vs*b [A] */
    double *expect_mean;   /* (n_samples, N) equilibrium node voltages Vs*(M^-1 b) [V] */
    double *node_var;      /* (N) stationary node variance (kB T/Cu)(M^-1)_ii [V^2] */
    double *readout_sd;    /* (N) predicted std of a W-window average [V] */
    char header[4096];     /* provenance comment lines ("* ..."), shared by both netlists */
    int noise;             /* emit noise sources in standalone mode */
    /* the standalone text's form (circuit.hier, param, noise_src, readout_cards) */
    int hier, param;
    int noise_pwl;         /* 1: noise as PWL sources of tdi-cosim's seeded stream */
    int cards;             /* TDI_GEN_CARDS_*: .control meas, .measure cards, or both */
    uint64_t noise_seed;   /* the stream's key: tdi_seed(seed, TDI_SEED_COSIM_NOISE, 0) */
    const struct tdi_gen_dialect *dialect; /* the standalone text's simulator (never NULL once
                                              built; cosim and hold text are always ngspice's) */
    int readout_all;
    char unit_subckt[16];
    char *elem_text;       /* the element cards, '\n'-terminated lines, formatted once at build
                              time and shared by both netlists (owned) */
    size_t elem_text_len;
    tdi_gen_dev *dev;      size_t n_dev;     /* devices: mos only (NULL/0 ideal) */
    tdi_gen_ota *ota;      size_t n_ota;     /* transconductors: mos only */
    tdi_gen_config *mos_cfg; /* NULL ideal; mos: a copy of the config (owned: the emitter
                                reads the mos_* keys from it) */
    tdi_gen_chip *chip;    /* behavioural non-idealities (owned); NULL: the ideal circuit */
    struct tdi_gen_mos_comp *comp; /* self-term compensation (owned; NULL: none applied) */
    struct tdi_gen_mos_trim *trim; /* offset trim (owned; NULL: none applied) */
    double time_prep;      /* CPU s: Cholesky, eigenvalues, means and read-out errors (O(N^3)) */
    double time_elems;     /* CPU s: realisations, low-rank factoring, wire count */
} tdi_gen_circuit;

/* Builds the circuit from a loaded config and bundle: physics, realisations, wire report,
 * budget and noise-interval checks. *out is allocated; free with tdi_gen_circuit_free (which
 * accepts NULL). The circuit keeps a pointer to b->M: destroy the bundle after the circuit. */
int tdi_gen_circuit_build(const tdi_gen_config *cfg, const tdi_gen_bundle *b,
                          tdi_gen_circuit **out, tdi_err *err);
void tdi_gen_circuit_free(tdi_gen_circuit *c);

/* The conductance element e is realised with (S): e->g, or with compensation applied and e a
 * resistor to vcm at node n, e->g - load[n] (0 when that is below 0: no resistor). */
double tdi_gen_mos_g(const tdi_gen_circuit *c, const tdi_gen_elem *e);
/* Applies a measured load (n_nodes, S, copied): rebuilds the device list (same names, same
 * mismatch stream) and the element text with the compensated values; counts passes. */
int tdi_gen_mos_comp_apply(tdi_gen_circuit *c, const double *load, tdi_err *err);
/* The compensation's summary and every shortfall node by name (nothing when not applied). */
void tdi_gen_mos_comp_print(const tdi_gen_circuit *c, FILE *f);
/* The offset trim from i_rest (N, A): the rest currents the hold op measured on c as it stands
 * (its present trim included). Each pass sets target = i_trim - i_rest (the untrimmed rest
 * current's estimate, exact for the ideal sources' linear effect), then i_trim = target (ideal)
 * or its code round(target / lsb) clipped to +-code_max, times lsb (dac); the dac's full scale
 * is fixed at the first pass: mos_trim_fs, or 1.25 x max |target|. Every netlist written after
 * carries the trim cards (the devices and the element text stay). TDI_EARG when c is not
 * transistor level or its mos_trim is none. */
int tdi_gen_mos_trim_apply(tdi_gen_circuit *c, const double *i_rest, tdi_err *err);
/* The trim's summary (nothing when not applied). */
void tdi_gen_mos_trim_print(const tdi_gen_circuit *c, FILE *f);
/* 1 when the config asks for a trim (circuit.mos_trim other than none). */
int tdi_gen_mos_trim_on(const tdi_gen_config *cfg);

/* The implemented reduced matrix: from the element list, K = G_FX - G_FB G_BB^-1 G_BX where F
 * are force-node rows, X unit columns, B bus nodes; K should equal gu*M. K is (N, N), caller
 * allocated. The read-out stage block is not part of it (it does not load the substrate). */
int tdi_gen_circuit_reduced(const tdi_gen_circuit *c, double *K, tdi_err *err);

/* ---- netlist text ---- */
/* TDI_GEN_HOLD: the netlist the realised-matrix extraction runs (cosim/tdi_cosim_extract.c): the
 * header, at transistor level the model card and the rails (Vdd, Vbias, Vcm), the element
 * cards (with the OTAs' bias generators) and one hold source "vh<unit> <unit> <ref> DC 0" per
 * unit (ref: the units' rest node, vcm at transistor level, "0" for ideal elements), then
 * ".end"; no unit instances (no capacitors), no bias (Ibias_) or noise sources, no .tran or
 * .control. TDI_EARG for a unit kind whose force node is not
 * the unit node (rlc).
 * TDI_GEN_COMPANION: the file the standalone text's dialect writes beside it (circuit.dialect:
 * spectre: standalone.mdl, its measurements in Spectre's MDL; docs/dialects.md); TDI_EARG for
 * a dialect without one (tdi_gen_companion_name is NULL). */
typedef enum {
    TDI_GEN_STANDALONE = 0,
    TDI_GEN_COSIM = 1,
    TDI_GEN_HOLD = 2,
    TDI_GEN_COMPANION = 3
} tdi_gen_mode;

typedef struct tdi_gen_text {
    char *buf;             /* all lines, each NUL-terminated, in order */
    size_t len;            /* bytes used in buf */
    char **lines;          /* n_lines pointers into buf, then NULL (ngSpice_Circ-ready: the last
                              line is ".end") */
    size_t n_lines;
} tdi_gen_text;

/* Formats the netlist. tran_h, tran_stop <= 0 select phys.noise_dt and phys.t_stop (not used
 * in hold mode).
 * Caller frees with tdi_gen_text_free (accepts NULL). */
int tdi_gen_netlist_text(const tdi_gen_circuit *c, tdi_gen_mode mode, double tran_h,
                         double tran_stop, tdi_gen_text **out, tdi_err *err);
void tdi_gen_text_free(tdi_gen_text *t);
/* Streams the same netlist to f without building it in memory (what tdi-gen uses). */
int tdi_gen_netlist_write(const tdi_gen_circuit *c, tdi_gen_mode mode, double tran_h,
                          double tran_stop, FILE *f, tdi_err *err);
/* Writes the text (lines joined by '\n') to f; returns 0 or TDI_EIO. */
int tdi_gen_text_write(const tdi_gen_text *t, FILE *f, tdi_err *err);

/* The wire report as JSON (wires.json at path, written atomically; docs/formats.md) and as
 * human-readable lines. */
int tdi_gen_wires_json(const tdi_gen_circuit *c, const char *path, tdi_err *err);
void tdi_gen_wires_print(const tdi_gen_circuit *c, FILE *f);
void tdi_gen_phys_print(const tdi_gen_circuit *c, FILE *f);
/* The operating point and why (a few lines; nothing when op.active is 0). */
void tdi_gen_op_print(const tdi_gen_circuit *c, FILE *f);

/* Whole program: load bundle, build, write <netlists>/{standalone.cir,cosim.cir,wires.json}
 * (the standalone file named by its dialect, with its companion if any: tdi_gen_companion_name)
 * as one directory transaction (nothing appears on error); prints physics and wire report to
 * `log` (may be NULL). bundle_dir / out_dir override the config when non-NULL. */
int tdi_gen_run(const tdi_gen_config *cfg, const char *bundle_dir, const char *out_dir,
                FILE *log, tdi_err *err);

/* What a caller adds to the job inside its directory transaction (tdi-gen: the realised-matrix
 * extraction, which lives above this layer). run (may be NULL) is called after the netlists
 * and wires.json are written, with the circuit and the transaction's temporary directory
 * (files written there appear with the others, or not at all); a non-zero return aborts the
 * job. print (may be NULL) is called after the job's own report on the log. files names what
 * run wrote ("realised.json"; read after run), for the log's first line; NULL or "": nothing.
 * prepare (may be NULL) is called on the built circuit before any netlist is written (tdi-gen:
 * the device-noise sizing, whose dev[].psd_w / psd_f1 the netlists' noise cards carry). */
typedef struct tdi_gen_run_hook {
    int (*run)(void *user, const tdi_gen_circuit *c, const char *dir, tdi_err *err);
    void (*print)(void *user, FILE *log);
    const char *files;
    void *user;
    int (*prepare)(void *user, tdi_gen_circuit *c, tdi_err *err);
} tdi_gen_run_hook;
/* tdi_gen_run with a hook (NULL: tdi_gen_run). */
int tdi_gen_run_ex(const tdi_gen_config *cfg, const char *bundle_dir, const char *out_dir,
                   FILE *log, const tdi_gen_run_hook *hook, tdi_err *err);

/* Compares the averages an `ngspice -b` run of the standalone netlist printed (log text: lines
 * "avg_<node>_s<n> = <value> ...") with the analytic engine: Vs * analytic.npy for decoder
 * nodes, Vs * (M^-1 b) for encoder nodes, in units of the predicted read-out std. Prints one
 * line per average to out and returns chi2/N and max |z|; TDI_EFORMAT when an expected
 * average is missing from the log. */
int tdi_gen_compare_log(const tdi_gen_circuit *c, const tdi_gen_bundle *b, const char *log_text,
                        FILE *out, double *chi2n, double *zmax, tdi_err *err);
/* Whole program for --compare: config -> bundle -> circuit -> tdi_gen_compare_log. */
int tdi_gen_run_compare(const tdi_gen_config *cfg, const char *bundle_dir, const char *log_path,
                        FILE *out, double *chi2n, double *zmax, tdi_err *err);

/* The stage block's intended values: K_ro (3D, 3D) = 0 except K[2D+j][D+j] = -gm_ro and
 * K[2D+j][2D+j] = g_ro (the substrate block is gu*M). Caller allocated; needs c->phys.ro. */
void tdi_gen_stage_intended(const tdi_gen_circuit *c, double *K);

/* The noise of circuit.noise_src: pwl (generator/tdi_gen_pwl.c): tdi-cosim's standard Gaussian
 * of (seed, unit, tick index), bit for bit (tdi_cosim_noise_gauss), and the PWL points k = 0 ..
 * ticks - 1 a run of tstop at tick h needs (the last at or after tstop). Unit i of the circuit
 * (nodes[i]: units, then the read-out stage's) is Philox unit i, tick k its global index
 * (tdi-cosim's spice schedule from tick 0), current amp_i z(seed, i, k), amp_i = sqrt(2 kB T
 * g_noise,i / h), k = 0 silent. */
double tdi_gen_noise_gauss(uint64_t seed, uint64_t unit, uint64_t index);
size_t tdi_gen_pwl_ticks(double h, double tstop);
/* Points above which tdi-gen refuses the PWL noise (units x ticks): ~40 bytes each. */
#define TDI_GEN_PWL_MAX_POINTS ((size_t)20000000)

/* The standalone netlist's file name for c's dialect: "standalone.cir" (ngspice, xyce),
 * "standalone.sp" (hspice), "standalone.scs" (spectre). */
const char *tdi_gen_standalone_name(const tdi_gen_circuit *c);
/* The companion file's name (TDI_GEN_COMPANION; tdi-gen writes it beside the standalone one):
 * "standalone.mdl" (spectre), NULL for a dialect without one. */
const char *tdi_gen_companion_name(const tdi_gen_circuit *c);
/* The dialects' names joined by '|' ("ngspice|hspice|xyce|spectre") into buf. */
void tdi_gen_dialect_names(char *buf, size_t size);

/* Sets the number of BLAS threads (OpenBLAS); tdi-gen uses 1 (the machine is shared). */
void tdi_gen_blas_threads(int n);

/* ---- read-back (verification): parse netlist text independently of the generator ---- */
typedef struct tdi_gen_readback {
    size_t N;              /* units found (x and y nodes of unit instances, then r<y> read-out
                              stage nodes when present: N = 2D or 3D) */
    size_t n_ro;           /* read-out stage units found (0 or D); unit 2D + j is r<y><j> */
    size_t n_bus;          /* other nodes eliminated */
    size_t n_elems;        /* R and G cards read at top level */
    double *K;             /* (N, N) reduced conductance matrix, S; unit order x0.., y0.., ry0..
                              (non-symmetric with the stage) */
    /* The top-level resistors, for the energy ledger: the voltage across each as a linear
       function of the unit voltages (bus nodes are algebraic: v_bus = vbus_map v_units). */
    double *R_unit;        /* (N) S: sum of the resistors from unit node i to ground */
    size_t n_rmap;         /* the other resistors (bus to ground, bus to bus, unit to unit) */
    double *R_g;           /* (n_rmap) S */
    double *R_map;         /* (n_rmap, N): voltage across resistor r = R_map[r,:] . v_units */
    size_t n_r_unmapped;   /* resistors at a node that is neither unit nor bus (an rlc force
                              node p): its voltage is a state the units do not give */
} tdi_gen_readback;

/* Parses R and G cards outside .subckt, unit instances ("X<node> <x> [<p>] unit_*"), and
 * eliminates every non-unit node. Instances of nodes "r<dec_prefix><j>" are read-out stage
 * units. Errors name the line. Caller destroys. */
int tdi_gen_readback_parse(const char *text, const char *enc_prefix, const char *dec_prefix,
                           tdi_gen_readback *rb, tdi_err *err);
/* The same for any module list: units are prefix[m]<i> of the n_mod modules in order (units of
 * module m follow those of m - 1), read-out stage units r<prefix[out]><j> after them. */
int tdi_gen_readback_parse_modules(const char *text, const char *const *prefix, size_t n_mod,
                                   size_t out, tdi_gen_readback *rb, tdi_err *err);
void tdi_gen_readback_destroy(tdi_gen_readback *rb);

#endif
