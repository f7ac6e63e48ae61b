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

/* ---- .param values (tdi_gen_param.c): the parametric netlist's subset (circuit.param) ----
 * A table of named values (lower-case names, at most 31 characters) and an evaluator of
 * numbers with SPICE suffixes, table names, + - * / ^ **, parentheses, sqrt abs exp log. */
typedef struct tdi_gen_params {
    char (*name)[32];
    double *val;
    size_t n, cap;
} tdi_gen_params;
int tdi_gen_params_set(tdi_gen_params *t, const char *name, double v); /* 0 or -1 (no memory) */
int tdi_gen_params_get(const tdi_gen_params *t, const char *name, double *v); /* -1: unknown */
void tdi_gen_params_free(tdi_gen_params *t);
/* expr, optionally in braces -> *v; -1 with a reason in why on a syntax error, an unknown name
 * or a non-finite value. */
int tdi_gen_param_eval(const char *expr, const tdi_gen_params *t, double *v, char *why,
                       size_t nwhy);
/* ".param a=1 b={a*2} ..." into t, in order (each may use the earlier ones); a name whose value
 * fails is left out (-1, the first reason in why), the others are set. */
int tdi_gen_params_line(tdi_gen_params *t, const char *line, char *why, size_t nwhy);

/* ---- element-list builder (tdi_gen_circ.c), shared by unit kinds and realisations ---- */
struct tdi_gen_build {
    tdi_gen_circuit *c;
    const tdi_gen_config *cfg;
    double scale;          /* max |M|: the tolerance scale of the low-rank factoring */
    size_t cap_nodes, cap_elems;
    int err;               /* 1 after an allocation failure (checked once at the end) */
};
typedef struct tdi_gen_build tdi_gen_build;

/* Appends a node; its index, or -1 (and bd->err) when out of memory. */
int tdi_gen_add_node(tdi_gen_build *bd, const char *name, tdi_gen_node_kind kind, size_t index);
/* Appends an element (see tdi_gen_elem); g == 0 adds nothing. */
void tdi_gen_add_elem(tdi_gen_build *bd, char kind, int block, int na, int nb, int nc, int nd,
                      double g);
/* Node index of state node `state` of unit `unit` (units first, then each further state's N
 * nodes), and of its force node. */
int tdi_gen_state_node(const tdi_gen_circuit *c, size_t unit, size_t state);
int tdi_gen_force_node(const tdi_gen_circuit *c, size_t unit);

/* ---- coupling realisations (tdi_gen_real.c; docs/generator.md "Coupling realisations") ----
 * An intra realisation couples the units of one module m with the symmetric block A (m->n,
 * m->n; its diagonal part `base` goes to the self terms, not here); a skip realisation couples
 * modules a and b with the block S = P Q^T (a->n, b->n). Builders add nodes and elements to
 * bd and fill their block report; elements/wires bound the element and wire-pair counts
 * (wires: exact when no coefficient is zero) for n units per module and rank r. */
typedef struct tdi_gen_intra_real {
    const char *name;      /* circuit.intra word */
    int base_from_j;       /* 1: the self-term diagonal is diag(A - 2J) (paper mode: 2 J2), the
                              rest of the diagonal is realised by the buses; 0: diag(A) */
    int (*build)(tdi_gen_build *bd, const tdi_gen_module *m, const double *A,
                 const double *base, tdi_err *err);
    size_t (*elements)(size_t n, size_t r);
    size_t (*wires)(size_t n, size_t r);
} tdi_gen_intra_real;

typedef struct tdi_gen_pair {
    const tdi_gen_module *a, *b;
    const double *S;       /* (a->n, b->n) block of M, row stride lds */
    size_t lds;
    const double *P, *Q;   /* (a->n, k), (b->n, k): S = P Q^T */
    size_t k;
    int blk;               /* its wire-report block (1 + n_mod + idx) */
    size_t idx, n_cpl;     /* coupling number and count: with more than one coupling the bus
                              names carry idx (sk<idx>_<l>, s<idx>_<prefix><l>) */
} tdi_gen_pair;

typedef struct tdi_gen_skip_real {
    const char *name;      /* circuit.skip word */
    int needs_factors;     /* 1: needs k > 0 (a bus per component of P Q^T) */
    int shares_diag;       /* 1: its buses also put P P^T on a's and Q Q^T on b's diagonal
                              block, which the intra realisations then leave out */
    void (*build)(tdi_gen_build *bd, const tdi_gen_pair *pr);
    size_t (*elements)(size_t na, size_t nb, size_t k);
    size_t (*wires)(size_t na, size_t nb, size_t k);
} tdi_gen_skip_real;

/* Appends "|name" (or "name" to an empty buf): the '|'-joined lists of tdi_gen_*_names. */
void tdi_gen_names_add(char *buf, size_t size, const char *name);

/* The realisation called `name`, or NULL. */
const tdi_gen_intra_real *tdi_gen_intra_find(const char *name);
const tdi_gen_skip_real *tdi_gen_skip_find(const char *name);

/* Low-rank factoring R = U diag(lam) U^T of a symmetric n x n remainder (tdi_gen_lowrank.c):
 * randomised range finder with rcap + 10 probes (seeded), exact eigen-decomposition of the
 * projection; fails (TDI_ECONFIG naming cfgpath and `what`) when the rank exceeds rcap or the
 * residual exceeds 1e-10 scale. *U (n, r) and *lam (r) are allocated; caller frees. */
int tdi_gen_lowrank(const double *R, size_t n, size_t rcap, unsigned long seed, double scale,
                    const char *what, const char *cfgpath, double **U, double **lam, size_t *r,
                    tdi_err *err);

/* ---- transistor level (tdi_gen_mos.c; docs/devices.md) ----
 * cfg->devices "mos": fills c->dev, c->ota, c->mos_cfg (with mos_lib made absolute) and
 * phys.mos, v_ref, vdd, i_tail_sum from the element list; TDI_EIO when mos_lib cannot be read.
 * "ideal": sets phys.v_ref = 0 and nothing else. */
int tdi_gen_mos_build(tdi_gen_circuit *c, const tdi_gen_config *cfg, tdi_err *err);
/* circuit.hier at transistor level (tdi_gen_mos_hier.c): every device's inst, the subcircuit
 * instance its OTA's element sits in (tdi_gen_hier_instance). */
void tdi_gen_mos_hier_assign(tdi_gen_circuit *c);
/* The device list again from the element list (after a compensation: tdi_gen_mos_comp.c);
 * device noise PSDs are reset (size them after). */
int tdi_gen_mos_rebuild(tdi_gen_circuit *c, tdi_err *err);
/* The hierarchy's instance holding element e ("xm_<module>" | "xc_<coupling>", lower case, as
 * ngspice names it), "" at top level; the rule the hierarchical text follows (tdi_gen_emit.c). */
void tdi_gen_hier_instance(const tdi_gen_circuit *c, const tdi_gen_elem *e, char *buf, size_t n);
/* gm/ID (1/V) of the shipped card's device type 'n' | 'p' | 'b' (NMOS at VSB = 0.45 V, the
 * pair's table) at drain current per square J (A). */
double tdi_gen_mos_gmid(char type, double J);
/* Drain current (A) at which a device of width W, length L (m) has transconductance gm (S). */
double tdi_gen_mos_id_for_gm(char type, double gm, double W, double L);

/* ---- behavioural non-idealities (tdi_gen_nonideal.c; docs/nonideal.md) ----
 * When tdi_gen_nonideal_active(cfg): draws the chip, perturbs c->elems in place (gain, tempco,
 * output conductance), fills c->chip (caps, offsets, the chip's G) and sets the netlist noise
 * amplitudes (phys.noise_na, ro_na) to the chip's temperature. Nothing otherwise. */
int tdi_gen_nonideal_apply(tdi_gen_circuit *c, const tdi_gen_config *cfg, tdi_err *err);
void tdi_gen_chip_free(tdi_gen_chip *chip);
/* Appends the chip's "* ..." provenance line to c->header (nothing for an ideal circuit). */
void tdi_gen_nonideal_header(tdi_gen_circuit *c, const tdi_gen_config *cfg);

/* ---- dialects (tdi_gen_dialect.c, tdi_gen_dialect_spectre.c; docs/dialects.md) ----
 * The emitter writes ngspice's text; a dialect rewrites it card by card into its simulator's
 * constructs. A card is one logical line as the emitter wrote it: its physical lines (the first,
 * then its "+" continuations) and their blank-separated tokens, continuations joined (the '+'
 * dropped, "PWL(" split into "PWL(" and the value). Each construct has one callback; ngspice
 * (native) is never rewritten, so its text stays the emitter's byte for byte. */
struct tdi_buf;
typedef struct tdi_gen_dialect tdi_gen_dialect;
typedef struct tdi_gen_card {
    char *const *line;     /* physical lines (NUL-terminated, without newline) */
    size_t nl;
    char **tok;            /* tokens of the joined card */
    size_t nt;
} tdi_gen_card;
/* Appends the card's rewrite ('\n'-terminated lines) to out; 0, or -1 (out of memory). */
typedef int (*tdi_gen_dialect_fn)(struct tdi_buf *out, const tdi_gen_dialect *d,
                                  const tdi_gen_card *k);
struct tdi_gen_dialect {
    const char *name;      /* circuit.dialect word */
    const char *simulator; /* in the title line: "(ngspice 39)" */
    const char *run;       /* the "* run:" note: command and where the measurements appear */
    const char *file;      /* the standalone file's name */
    int native;            /* 1: the emitter's text as it is (ngspice) */
    const char *comment;   /* line comment prefix ("*", "//") */
    const char *expr_open, *expr_close; /* parameter expression delimiters ("{" "}", "'" "'") */
    const char *head;      /* lines after the title ("" or "simulator lang=spectre\n") */
    int head_comments;     /* 1: comment lines after the first card are left out (a companion
                              file keeps the header and the notes before the cards) */
    const tdi_gen_dialect *companion; /* the row writing the companion file beside the
                              standalone one (Spectre: its MDL measurements), or NULL */
    tdi_gen_dialect_fn param, subckt, ends, instance, element, vccs, source, tran, measure, end;
};
/* The dialect called name, or NULL. */
const tdi_gen_dialect *tdi_gen_dialect_find(const char *name);
/* Rewrites the '\n'-terminated lines text[0..len) into d's text appended to out; 0, -1 (out of
 * memory) or -2 (a card d has no construct for: why names it). */
int tdi_gen_dialect_rewrite(const tdi_gen_dialect *d, const char *text, size_t len,
                            struct tdi_buf *out, char *why, size_t nwhy);
/* The SPICE-like constructs (tdi_gen_dialect.c), shared with the table of Spectre's. */
int tdi_gen_dialect_lines(struct tdi_buf *out, const tdi_gen_dialect *d, const tdi_gen_card *k);
extern const tdi_gen_dialect tdi_gen_dialect_spectre;
extern const tdi_gen_dialect tdi_gen_dialect_spectre_mdl; /* standalone.mdl: Spectre's MDL */
/* Spectre text (recognised by its "simulator lang=spectre" line) back to the SPICE cards the
 * read-back parses (instances, R, C, G, parameters, subcircuits; sources and analyses dropped);
 * a new string (caller frees), or NULL (out of memory). Text without that line: NULL and
 * *is_spectre = 0. */
char *tdi_gen_dialect_spectre_to_spice(const char *text, int *is_spectre);

/* Formats the element cards into c->elem_text (tdi_gen_emit.c). 0 or TDI_ENOMEM. */
int tdi_gen_emit_elements(tdi_gen_circuit *c, tdi_err *err);

#endif
