/* tdi_sub: the substrate model (issue 3). From two activation bundles (fit, test) it builds the
 * quadratic energy E = 1/2 z^T M z - b^T z of docs/paper.md (Gram couplings, rank-k skip coupling,
 * the 2,560-weight digital interface), solves the exact equilibrium z* = M^-1 b by Cholesky, and
 * measures honest fidelity metrics; "skip" mode fits the skip coupling itself to the data.
 * Invariants: all arrays are row-major double, shapes beside each declaration; every function
 * returns 0 or a negative TDI_E* code with the message in a caller-supplied tdi_err; caller owns
 * every buffer it passes, *_destroy frees what the library allocated into a struct (NULL-safe).
 * Non-goals: Langevin dynamics (cosim), netlists (generator), the U-Net itself (tools/unet). */
#ifndef TDI_SUB_H
#define TDI_SUB_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tdi_err.h"
#include "tdi_linalg.h"

/* ---------------------------------------------------------------- configuration */
#define TDI_SUB_MAXRANKS 16

typedef struct tdi_sub_cfg {
    const char *path;   /* config file (for messages); not owned */
    long seed;          /* top-level master seed */
    char name[64];      /* preset name */
    char out[512];      /* output root: <out>/substrate is written */
    /* export section: what the activation bundles must be */
    char checkpoint[512]; /* U-Net checkpoint the bundles come from */
    char export_dir[512]; /* where activations-fit/ and activations-test/ live (default: out) */
    long t;             /* DDPM step */
    long n_fit, n_test; /* samples per split */
    long pool;          /* pooling p of the bundles */
    /* substrate section */
    char mode[16];      /* paper | skip */
    char enc[8], dec[8];/* layer names of the skip pair, e.g. e2, d2 */
    long D, k;          /* units per module, rank of the skip coupling */
    double J2, kT;      /* self coupling, temperature (simulation units) */
    char couplings[16]; /* weights | activations: source of the Gram matrices */
    int frobenius;      /* paper skip: rescale J_skip to Frobenius norm 1/(4 kT) */
    long ranks[TDI_SUB_MAXRANKS]; /* rank sweep list (entries > D are skipped) */
    size_t n_ranks;
    double pd_margin;   /* skip mode: lambda_min of the normalised [[I,K],[K^T,I]] >= margin */
    int readout_gain;   /* skip mode: allow a read-out gain instead of clipping the coupling */
    char skip_encoder[16]; /* skip mode bundle b_enc: full (A x) | projected (A R R^T x) */
    double ridge;       /* relative ridge of the regressions (times trace(Cxx)/D) */
    long epochs, batch; /* interface training */
    double lr, weight_decay;
    int standardise;    /* interface training on standardised inputs/targets (docs/substrate.md) */
    double val_frac;    /* validation share of the fit split for early stopping (0: none) */
    long patience;      /* epochs without a better validation MSE before stopping */
} tdi_sub_cfg;

/* Fills defaults, then reads path (top-level keys, export, substrate; other sections ignored).
 * Checks k <= D and the rank list. */
int tdi_sub_cfg_load(const char *path, tdi_sub_cfg *cfg, tdi_err *err);
void tdi_sub_cfg_defaults(tdi_sub_cfg *cfg);

/* ---------------------------------------------------------------- linear algebra */
/* Cholesky, its row solve and the symmetric eigen-decomposition: common/tdi_linalg.h. */
/* S^p for symmetric positive definite S (p = 0.5 or -0.5 typically). */
int tdi_sub_sym_pow(const double *S, size_t n, double p, double *out, tdi_err *err);
/* Thin SVD of the square G (n x n): G = U diag(s) V^T, s descending; U, V (n x n). The sign of
 * each singular pair is fixed so that the largest-|.| entry of each U column is positive. */
int tdi_sub_svd(const double *G, size_t n, double *U, double *s, double *V, tdi_err *err);
/* C = op(A) op(B) with row-major A, B (thin GEMM wrapper). ta/tb: 0 = as is, 1 = transposed.
 * C is m x n, the inner dimension is kk. */
void tdi_sub_gemm(int ta, int tb, size_t m, size_t n, size_t kk, double alpha, const double *A,
                  const double *B, double beta, double *C);

/* ---------------------------------------------------------------- energy model */
/* J = W^T W / (4 kT) for W (D x D) */
void tdi_sub_gram_weights(const double *W, size_t D, double kT, double *J);
/* J = X^T X / (n 4 kT) for X (n x D) */
void tdi_sub_gram_acts(const double *X, size_t n, size_t D, double kT, double *J);
/* A = 2 J2 I + J + J^T (D x D) */
void tdi_sub_diag_block(const double *J, size_t D, double J2, double *A);
/* The paper's rank-k skip coupling from the SVDs of Jenc, Jdec: P = U_e[:, :k] S_e^1/2,
 * Q = U_d[:, :k] S_d^1/2 (each D x k), both scaled by sqrt(f) so that |P Q^T|_F = 1/(4 kT)
 * when frobenius is set. */
int tdi_sub_paper_skip(const double *Jenc, const double *Jdec, size_t D, size_t k, double kT,
                       int frobenius, double *P, double *Q, tdi_err *err);
/* M = [[A, P Q^T], [Q P^T, B]] (2D x 2D); P, Q may be NULL (k = 0, no skip). */
void tdi_sub_assemble(const double *A, const double *B, const double *P, const double *Q,
                      size_t D, size_t k, double *M);
/* Decoder part of the equilibrium for n samples: y[i] = (M^-1 [benc_i; bdec_i])_y.
 * benc, bdec: (n x D), bdec may be NULL (zero); y (n x D). Lfac: Cholesky factor of M. */
int tdi_sub_equilibrium(const double *Lfac, size_t D, const double *benc, const double *bdec,
                        size_t n, double *y, tdi_err *err);

/* ---------------------------------------------------------------- interface networks */
typedef struct tdi_sub_mlp {
    size_t in, hidden, out;
    int silu;   /* 1: y = W2 silu(W1 x + b1) + b2; 0: linear, y = W2 (W1 x + b1) + b2 */
    double *w1; /* (hidden, in) */
    double *b1; /* (hidden) */
    double *w2; /* (out, hidden) */
    double *b2; /* (out) */
} tdi_sub_mlp;

typedef struct tdi_sub_train_opts {
    long epochs, batch;
    double lr, weight_decay; /* Adam; weight decay as PyTorch's Adam (L2 added to the gradient) */
    unsigned long seed;      /* initialisation and minibatch order */
    int standardise;         /* 1: train on per-column standardised inputs and targets (training
                                rows' mean and std), folded back into the weights afterwards */
    double val_frac;         /* > 0: the last round(val_frac n) rows are a validation split:
                                early stopping on their MSE, the best epoch's weights kept */
    long patience;           /* epochs without a better validation MSE before stopping */
} tdi_sub_train_opts;

typedef struct tdi_sub_train_info {
    double loss;             /* MSE over all n rows at the end (original scale) */
    double val_loss;         /* MSE over the validation rows (NAN without them) */
    size_t n_val;            /* validation rows */
    long epochs_run, best_epoch; /* epochs trained; the one whose weights were kept (1-based) */
} tdi_sub_train_info;

/* Allocates and initialises as PyTorch's nn.Linear (uniform +-1/sqrt(fan_in)) from seed. */
int tdi_sub_mlp_init(tdi_sub_mlp *m, size_t in, size_t hidden, size_t out, int silu,
                     unsigned long seed, tdi_err *err);
void tdi_sub_mlp_destroy(tdi_sub_mlp *m);
size_t tdi_sub_mlp_nweights(const tdi_sub_mlp *m); /* weights only */
size_t tdi_sub_mlp_nparams(const tdi_sub_mlp *m);  /* weights + biases */
/* Y (n x out) = net(X (n x in)). */
int tdi_sub_mlp_forward(const tdi_sub_mlp *m, const double *X, size_t n, double *Y,
                        tdi_err *err);
/* Mean squared error over all n*out entries. */
double tdi_sub_mlp_mse(const tdi_sub_mlp *m, const double *X, const double *T, size_t n);
/* Minibatch Adam on MSE(net(X), T). final_loss (may be NULL): full-set MSE at the end. With
 * standardise 0 and val_frac 0 this is the released code's training (raw scale, all epochs);
 * otherwise docs/substrate.md "Interface training". The returned net always maps raw X to T. */
int tdi_sub_mlp_train(tdi_sub_mlp *m, const double *X, const double *T, size_t n,
                      const tdi_sub_train_opts *o, double *final_loss, tdi_err *err);
/* The same, reporting the validation loss and the epochs in *info. */
int tdi_sub_mlp_train_info(tdi_sub_mlp *m, const double *X, const double *T, size_t n,
                           const tdi_sub_train_opts *o, tdi_sub_train_info *info, tdi_err *err);
/* Gradient of the MSE on (X, T) into flat g (order w1, b1, w2, b2); for tests. */
int tdi_sub_mlp_grad(const tdi_sub_mlp *m, const double *X, const double *T, size_t n,
                     double *g, tdi_err *err);

/* ---------------------------------------------------------------- regression, skip fit */
typedef struct tdi_sub_rrr {
    size_t dx, dy;
    double *mx;   /* (dx) fit mean of X */
    double *my;   /* (dy) fit mean of Y */
    double *C;    /* (dy x dx) ridge OLS map: Y - my ~ C (X - mx) */
    double *V;    /* (dy x dy) eigenvectors (columns, descending) of the fitted covariance */
    double *ev;   /* (dy) its eigenvalues */
} tdi_sub_rrr;

/* Fits the reduced-rank regression of Y (n x dy) on X (n x dx) with ridge lambda =
 * ridge * trace(Cxx) / dx. Caller calls tdi_sub_rrr_destroy. */
int tdi_sub_rrr_fit(const double *X, const double *Y, size_t n, size_t dx, size_t dy,
                    double ridge, tdi_sub_rrr *r, tdi_err *err);
void tdi_sub_rrr_destroy(tdi_sub_rrr *r);
/* The best rank-k map L = V_k V_k^T C (dy x dx) in the least-squares sense. */
void tdi_sub_rrr_map(const tdi_sub_rrr *r, size_t k, double *L);

typedef struct tdi_sub_skipfit {
    double gain;     /* uniform read-out gain g (1 if none needed) */
    int clipped;     /* number of coupling directions clipped at the margin (no gain) */
    double sigma_max;/* largest singular value of the normalised coupling K */
    double t_max;    /* the largest map gain the margin allows */
} tdi_sub_skipfit;

/* Substrate-skip fit: given A, B (D x D, PD), a target map L (D x D, rank <= k) and the fit
 * means mx, my, finds P, Q (D x k) and c (D) such that with b = [A x; c] the equilibrium
 * satisfies g y* = my + L (x - mx) exactly (the Schur form y* = S^-1 (c - J^T x),
 * S = B - J^T A^-1 J, inverted in closed form), with the normalised coupling's norm at most
 * 1 - pd_margin. Without allow_gain, directions beyond the margin are clipped instead. */
int tdi_sub_skip_fit(const double *A, const double *B, size_t D, const double *L, size_t k,
                     const double *mx, const double *my, double pd_margin, int allow_gain,
                     double *P, double *Q, double *c, tdi_sub_skipfit *info, tdi_err *err);

/* The skip encoder (A R R^T x): tdi_cosim_skip_encoder, cosim/tdi_cosim.h. */

/* ---------------------------------------------------------------- bundles */
typedef struct tdi_sub_act {
    size_t n, D;          /* samples, units kept */
    size_t enc_cols, dec_cols; /* layer widths in the bundle */
    double *x;            /* (n x D) encoder layer, first D columns */
    double *d;            /* (n x D) decoder layer, first D columns */
    double *Wenc, *Wdec;  /* (D x D) first conv weights reshaped (C_out, C_in*9), cropped;
                             NULL unless want_weights */
    uint64_t hash;        /* FNV-1a 64 of manifest.yaml and the arrays read */
    long t, pool;         /* from the manifest */
    char ckpt_hash[64];   /* manifest checkpoint_hash ("" if absent) */
} tdi_sub_act;

/* Reads an activation bundle directory (docs/formats.md). Checks the manifest (format, split,
 * n, t, pool against the expected values; an expected value < 0 is not checked), shapes, NaN,
 * and that D fits the layers (and the weights when want_weights). */
int tdi_sub_act_read(const char *dir, const char *split, long n, long t, long pool,
                     const char *enc, const char *dec, size_t D, int want_weights,
                     tdi_sub_act *a, tdi_err *err);
void tdi_sub_act_destroy(tdi_sub_act *a);

/* Checks one activation bundle with tdi-fit's own reader and no expectations from a config:
 * manifest, every listed layer read whole (shape against `layers`, finite), w_<layer>.npy when
 * present; one line per array to out. 0 or the reader's error (file and position). */
int tdi_sub_act_check(const char *dir, FILE *out, tdi_err *err);
/* `tdi-fit --check DIR`: a substrate bundle (DIR/M.npy: tdi_bundle_read, M positive definite,
 * the optional data and interface sets), an export directory (activations-fit/ and
 * activations-test/) or one activation bundle (DIR/manifest.yaml). Prints what it found. */
int tdi_sub_check(const char *dir, FILE *out, tdi_err *err);

/* Everything the substrate bundle holds (docs/formats.md, "Substrate bundle"). */
typedef struct tdi_sub_bundle {
    const char *preset, *mode, *enc, *dec;
    size_t D, k, n;
    double J2, kT;
    long t;
    double lambda_min, lambda_max;
    uint64_t fit_hash, test_hash;
    const double *M, *A, *B, *Jenc, *Jdec, *P, *Q; /* see formats.md */
    const double *x, *benc, *bdec, *c, *gain, *truth, *mean_fit, *analytic;
    const tdi_sub_mlp *enc_net, *tr_net;
    const char *metrics_json; /* written as metrics.json */
} tdi_sub_bundle;

/* Writes the bundle directory dir through common/tdi_bundle (format version 2: modules enc and
 * dec, one rank-k coupling enc -> dec; atomic, nothing appears on failure). */
int tdi_sub_bundle_write(const char *dir, const tdi_sub_bundle *b, tdi_err *err);

/* ---------------------------------------------------------------- the whole program */
/* Reads the bundles named by cfg, fits, evaluates, prints the tables to report (may be NULL),
 * and writes <out>/substrate. Nothing is written on error. */
int tdi_sub_run(const tdi_sub_cfg *cfg, FILE *report, tdi_err *err);

#endif
