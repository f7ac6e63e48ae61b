/* tdi_bundle: the one owner of the substrate bundle format (docs/formats.md, "Substrate bundle";
 * docs/substrate-bundle.md for the in-memory model). A substrate is a list of modules (a block
 * of units each, with its intra coupling) and a list of couplings between module pairs (rank-k
 * P Q^T or dense), per-test-sample biases for every unit, one read-out module, and the assembled
 * symmetric M (N x N, N = sum of module sizes). One reader (tdi_bundle_read: manifest through the
 * YAML loader, every array checked, version-1 bundles upgraded) and one writer (tdi_bundle_write:
 * one directory transaction). Non-goals: fitting, synthesis and linear algebra beyond the block
 * assembly (tools/substrate and generator own those). */
#ifndef TDI_BUNDLE_H
#define TDI_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include "tdi_err.h"

#define TDI_BUNDLE_VERSION 2     /* written; version 1 (two modules, fixed names) is upgraded */
#define TDI_BUNDLE_MAX_MOD 16    /* modules per substrate */
#define TDI_BUNDLE_MAX_CPL 32    /* couplings per substrate */
#define TDI_BUNDLE_NAME_MAX 15   /* module name: [a-z][a-z0-9]*, at most 15 characters */
#define TDI_BUNDLE_NIFACE 8      /* paper interface arrays: enc_w1 enc_b1 enc_w2 enc_b2
                                    tr_w1 tr_b1 tr_w2 tr_b2 */

typedef struct tdi_bundle_module {
    char name[TDI_BUNDLE_NAME_MAX + 1]; /* "enc", "dec": file names J_<name>.npy ... */
    char layer[16];      /* U-Net layer it stands for ("e2"), "" when none (synthetic) */
    size_t D;            /* units */
    size_t off;          /* index of its first unit in z (sum of the earlier modules' D) */
    int readout;         /* 1: a read-out (decoder) module; at least one per substrate, the
                            read-out modules consecutive in z order (the read-out block) */
    double *J;           /* (D, D) intra Gram coupling: A = 2 J2 I + J + J^T */
    double *A;           /* (D, D) the module's diagonal block of M */
    double *bias;        /* (n, D) bias b of each test sample, simulation units */
} tdi_bundle_module;

typedef struct tdi_bundle_coupling {
    size_t from, to;     /* module indices, from != to: block M[from rows, to cols] */
    int dense;           /* 0: low rank S = P Q^T; 1: S stored whole */
    size_t k;            /* low rank: rank (0: no wires, P = Q = NULL); dense: 0 */
    double *P;           /* (D_from, k) */
    double *Q;           /* (D_to, k) */
    double *S;           /* dense: (D_from, D_to); low rank: NULL (tdi_bundle_block forms it) */
} tdi_bundle_coupling;

typedef struct tdi_bundle {
    long version;        /* of the files read (1 = upgraded on read); the writer writes 2 */
    char preset[64];     /* config preset name */
    char mode[16];       /* paper | skip | synthetic */
    size_t n_mod, n_cpl;
    tdi_bundle_module mod[TDI_BUNDLE_MAX_MOD];
    tdi_bundle_coupling cpl[TDI_BUNDLE_MAX_CPL];
    size_t N;            /* units: sum of mod[].D */
    size_t n;            /* test samples (rows of every bias) */
    size_t out;          /* index of the (first) read-out module */
    size_t n_out;        /* read-out modules: out .. out + n_out - 1 (one per U-Net level) */
    size_t D_out;        /* units of the read-out block: sum of their D (= mod[out].D for one) */
    double *M;           /* (N, N) symmetric: A blocks on the diagonal, S and S^T off it */
    double *analytic;    /* (n, D_out) equilibrium read-out means (M^-1 b) over the read-out
                            block (the read-out modules' units in z order), or NULL */
    double *c;           /* (D_out) static read-out bias (substrate-skip; zeros otherwise) */
    /* optional data for the co-simulator (read with TDI_BUNDLE_WANT_DATA, NULL otherwise) */
    double *x;           /* (n, x_cols) interface input (encoder activations) */
    size_t x_cols;
    double *truth;       /* (n, D_out) U-Net activations the read-out estimates */
    double *mean_fit;    /* (D_out) fit-split mean of truth */
    double *gain;        /* (D_out) read-out gain */
    /* optional paper interface (TDI_BUNDLE_WANT_IFACE): shapes in tdi_bundle_iface_shape */
    double *iface[TDI_BUNDLE_NIFACE];
    /* metadata */
    double J2, kT;       /* intra diagonal term, temperature of the fit (simulation units) */
    long t;              /* DDPM step of the activations (0: synthetic) */
    double lambda_min, lambda_max; /* of M, as stated by the writer (0: not stated) */
    char fit_hash[17], test_hash[17]; /* source hashes (hex or "none") */
    long seed;           /* synthetic: seed; -1 when not stated */
    long intra_rank;     /* synthetic: rank of the intra factor (0 full); -1 when not stated */
    const char *metrics_json; /* writer only: metrics.json text (NULL: none); not read */
    uint64_t hash;       /* reader: FNV-1a 64 over the manifest bytes and the substrate arrays */
    char dir[512];       /* reader: the directory read */
} tdi_bundle;

/* What to read besides the substrate (manifest, M, J, A, biases, couplings, c, analytic). */
enum {
    TDI_BUNDLE_WANT_DATA = 1,  /* x, truth, mean_fit, gain (required when asked) */
    TDI_BUNDLE_WANT_IFACE = 2  /* the eight paper interface arrays (required when asked) */
};

/* Reads dir: manifest.yaml through the YAML loader (unknown and duplicate keys refused with
 * file:line:col), then every array with its shape checked, NaN/Inf refused, and M checked
 * against its blocks (symmetric, diagonal blocks = A, off-diagonal = the couplings, zero
 * elsewhere; 1e-10 of max |M|). Version 1 is upgraded (docs/formats.md, "Upgrade"). Every error
 * names the file. On error *b is empty. Caller calls tdi_bundle_destroy. */
int tdi_bundle_read(const char *dir, unsigned want, tdi_bundle *b, tdi_err *err);
/* Reads what `want` asks for and b (read by tdi_bundle_read) does not hold yet, e.g. the
 * interface once the mode says it is needed. On error b keeps what it had. */
int tdi_bundle_read_extra(tdi_bundle *b, unsigned want, tdi_err *err);
/* Frees every array of a bundle the reader filled (or a caller that owns its arrays). */
void tdi_bundle_destroy(tdi_bundle *b);

/* Writes b as a version-2 bundle into dir in one directory transaction (nothing appears on
 * error; an existing dir is replaced only when tdi wrote it). The arrays are borrowed. Written:
 * the substrate, c, analytic when non-NULL, and x, truth, mean_fit, gain, iface, each when
 * non-NULL. b->M must be the assembly of the blocks (tdi_bundle_assemble). */
int tdi_bundle_write(const char *dir, const tdi_bundle *b, tdi_err *err);

/* Sets mod[].off and N from the module sizes and out, n_out, D_out from the readout flags;
 * checks names (distinct, [a-z][a-z0-9]*), sizes (D >= 1), couplings (distinct modules, one per
 * pair) and the read-out modules (at least one, consecutive in z order). 0 or TDI_EFORMAT naming `what`. */
int tdi_bundle_layout(tdi_bundle *b, const char *what, tdi_err *err);
/* The coupling block S = P Q^T (or the dense S) into S (D_from x D_to, caller allocated). */
void tdi_bundle_block(const tdi_bundle *b, size_t c, double *S);
/* M (N x N, caller allocated) from the module A blocks and the couplings. */
void tdi_bundle_assemble(const tdi_bundle *b, double *M);
/* Shape of interface array i (rows, cols; cols 0 for a vector) for x_cols inputs and D_out. */
void tdi_bundle_iface_shape(size_t i, size_t x_cols, size_t d_out, size_t *rows, size_t *cols);
/* File name of interface array i ("enc_w1.npy"). */
const char *tdi_bundle_iface_name(size_t i);
/* One substrate from L U-Net levels (common/tdi_bundle_stack.c): lv[l] is a two-module bundle
 * (encoder, read-out decoder, at most one coupling from the first to the second), all with the
 * same n. The stack's modules are the encoders then the decoders, named names[2 l] (encoder of
 * level l) and names[2 l + 1] (its decoder), so module l is level l's encoder and module L + l
 * its decoder, the decoders the read-out block; coupling per level; M block-diagonal by level;
 * c, analytic, truth, mean_fit, gain concatenated over the decoders and x over the levels'
 * columns (present when every level has them). o owns its arrays (tdi_bundle_destroy); on error
 * o is empty. */
int tdi_bundle_stack(const tdi_bundle *lv, size_t L, const char *const *names, const char *preset,
                     tdi_bundle *o, tdi_err *err);
/* Index of the module called name, or -1. */
int tdi_bundle_find(const tdi_bundle *b, const char *name);

#endif
