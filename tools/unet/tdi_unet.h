/* tdi_unet: the denoising-diffusion U-Net of tdi (issue 2), in float32 on CBHW tensors.
 * Architecture (base width C, GroupNorm groups G; input 1x32x32):
 *   stem conv3x3 1->C | e1 = RB(C->C)@32 | pool | e2 = RB(C->2C)@16 | pool | mid = RB(2C->4C)@8 |
 *   up, cat[up, e2] | d2 = RB(6C->2C)@16 | up, cat[up, e1] | d1 = RB(3C->C)@32 |
 *   GN, SiLU, conv3x3 C->1.
 *   RB(cin->cout): GN, SiLU, conv3x3, + Linear(temb->cout) per channel, GN, SiLU, conv3x3,
 *   residual through a 1x1 conv when cin != cout.
 *   temb: sinusoidal(C) -> Linear(C, 4C) -> SiLU -> Linear(4C, 4C).
 * All parameters live in one flat float array (m->params, same order as m->grads); the model owns
 * every buffer and frees them in tdi_unet_free. Not thread-safe per model. */
#ifndef TDI_UNET_H
#define TDI_UNET_H

#include <stddef.h>
#include <stdint.h>

#include "tdi_err.h"
#include "tdi_unet_layers.h"
#include "tdi_unet_sskip.h"

#define TDI_UNET_IMG 32 /* input side (28x28 Fashion-MNIST padded by 2) */
#define TDI_UNET_PIX (TDI_UNET_IMG * TDI_UNET_IMG)

typedef struct tdi_unet_arch {
    size_t channels; /* base width C (multiple of groups) */
    size_t groups;   /* GroupNorm groups */
} tdi_unet_arch;

typedef enum {
    TDI_UNET_E1 = 0,
    TDI_UNET_E2,
    TDI_UNET_MID,
    TDI_UNET_D2,
    TDI_UNET_D1,
    TDI_UNET_NBLOCKS
} tdi_unet_block_id;

extern const char *const tdi_unet_block_names[TDI_UNET_NBLOCKS]; /* "e1", "e2", "mid", ... */

/* One ResBlock: parameter offsets into the flat array and its forward cache. */
typedef struct tdi_unet_rb {
    size_t cin, cout, side; /* channels in/out, spatial side (32, 16, 8) */
    size_t gn1_g, gn1_b, c1_w, c1_b, tp_w, tp_b, gn2_g, gn2_b, c2_w, c2_b, sk_w, sk_b;
    const float *x;          /* input [cin][N] (not owned) */
    float *s1, *h1, *s2;     /* caches [ch][N]: SiLU(GN1(x)), conv1 + temb, SiLU(GN2(h1)) */
    int lean; /* the last forward left s1, s2 unwritten (no column cache: inference; the convs
               * applied GN + SiLU on the fly); a backward then recomputes them first */
    float *out;              /* [cout][N]; e1/e2 point into the concat buffers (not owned) */
    int own_out;
    float *mean1, *rstd1, *mean2, *rstd2; /* [B][G] */
    float *tp;                          /* temb projection [B][cout] */
} tdi_unet_rb;

/* Optional hook on a decoder block's output (d2, d1): called right after the block computes
 * out [ch][b][side*side] and before anything reads it, so it may change it in place (issue 13,
 * tools/unet/tdi_unet_dstat.h). Inference only: the backward does not differentiate it. */
typedef void (*tdi_unet_dec_hook)(void *ctx, tdi_unet_block_id id, float *out, size_t ch,
                                  size_t side, size_t b);

typedef struct tdi_unet {
    tdi_unet_arch arch;
    size_t max_batch, batch; /* capacity and the batch of the last forward */
    size_t n_params;
    float *params, *grads; /* [n_params] */
    size_t stem_w, stem_b, t1_w, t1_b, t2_w, t2_b, go_g, go_b, out_w, out_b;
    tdi_unet_rb rb[TDI_UNET_NBLOCKS];
    /* forward activations */
    const float *x;                       /* input [1][B][1024] (not owned) */
    /* stem [C][B*1024], p1 [C][B*256], p2 [2C][B*64], cat2 [6C][B*256], cat1 [3C][B*1024] */
    float *stem, *p1, *p2, *cat2, *cat1;
    float *so, *mo, *ro;                  /* final SiLU(GN(d1)) [C][B*1024]; GN stats */
    float *tsin, *th, *ts, *temb;         /* [B][C], [B][4C] pre-SiLU, post-SiLU, output */
    float *eps;                           /* output [B][1024] */
    /* scratch */
    float *col, *s1, *s2, *g1, *g2, *g3, *g4, *dtemb, *dts;
    double *gnpart; /* [2][B][6C]: GroupNorm backward partial sums */
    /* im2col columns kept from the forward for the backward (training only), one per 3x3 conv:
     * stem, then c1 and c2 of each block in order, then the head; NULL unless enabled. */
    float *colc[2 + 2 * TDI_UNET_NBLOCKS];
    int col_cache;
    /* Substrate skips (issue 13, docs/e2e.md): sskip[0] replaces e1 and sskip[1] e2 on their
     * way to the decoder (the encoder path pools the unmodified tensor); NULL: the unmodified
     * U-Net, bit for bit. Not owned. sskip_draw: the noise stream index of the next forward's
     * first image (the caller's global image index). */
    const tdi_unet_sskip *sskip[2];
    unsigned long sskip_draw;
    tdi_unet_dec_hook dec_hook; /* NULL: unmodified (the default after alloc) */
    void *dec_hook_ctx;
} tdi_unet;

/* Allocates a model for batches up to max_batch. Parameters are zero until init or load. */
int tdi_unet_alloc(tdi_unet **out, tdi_unet_arch arch, size_t max_batch, tdi_err *err);
void tdi_unet_free(tdi_unet *m);
/* Keeps the im2col columns of the im2col convs (stem, head) from the forward for the backward
 * instead of rebuilding them (the Winograd convs' backward builds theirs in m->col). */
int tdi_unet_cache_cols(tdi_unet *m, tdi_err *err);
/* PyTorch's default initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for conv/linear weights
 * and biases, GroupNorm gamma 1, beta 0. Deterministic in seed. */
void tdi_unet_init_params(tdi_unet *m, unsigned long seed);

/* x [B][1024] in [-1, 1]-ish, t [B] diffusion steps (as float); b <= max_batch. The predicted
 * noise is in m->eps [B][1024] and is also copied to eps_out when not NULL. */
void tdi_unet_forward(tdi_unet *m, const float *x, const float *t, size_t b, float *eps_out);
/* After a forward: grads := d(loss)/d(params) for loss = mean((eps - target)^2) over B*1024.
 * Returns the loss. */
double tdi_unet_backward_mse(tdi_unet *m, const float *target);
/* Backward from an arbitrary output gradient deps [B][1024] (used by gradient checks). */
void tdi_unet_backward(tdi_unet *m, const float *deps);

/* After a forward: output of block id, CBHW [ch][B][side*side] (e1, e2: after the substrate
 * skip when one is set). */
const float *tdi_unet_block_out(const tdi_unet *m, tdi_unet_block_id id, size_t *ch,
                                size_t *side);
/* First 3x3 conv weight of block id, [cout][cin][3][3]. */
const float *tdi_unet_block_conv1(const tdi_unet *m, tdi_unet_block_id id, size_t *cout,
                                  size_t *cin);

/* DDPM linear schedule: beta_t = beta0 + (beta1 - beta0) t / (T - 1), t = 0..T-1;
 * abar[t] = prod_{s<=t} (1 - beta_s). beta and abar: [T] caller-owned. */
void tdi_unet_schedule(size_t T, double beta0, double beta1, double *beta, double *abar);

/* Adam state (caller-owned struct, buffers owned by it). */
typedef struct tdi_unet_adam {
    size_t n;
    float *m, *v; /* [n] first and second moments */
    long step;    /* updates done */
} tdi_unet_adam;
int tdi_unet_adam_init(tdi_unet_adam *a, size_t n, tdi_err *err);
void tdi_unet_adam_destroy(tdi_unet_adam *a);
/* One update with bias correction; clip > 0 rescales grads to that global L2 norm first.
 * Returns the grad norm before clipping. */
double tdi_unet_adam_step(tdi_unet_adam *a, float *params, const float *grads, double lr,
                          double beta1, double beta2, double eps, double weight_decay,
                          double clip);

/* Checkpoint file (little-endian):
 *   char magic[8] = "TDIUNET1"; uint32 version = 1; uint32 channels; uint32 groups; uint32 flags
 *   (bit 0: Adam moments present); uint64 n_params; uint64 config_hash; uint64 step;
 *   uint64 epoch; float params[n_params]; if flags&1: float m[n], float v[n];
 *   uint64 fnv1a64 of every preceding byte.
 * Written atomically. Loading checks magic, version, architecture, size and the trailing hash,
 * and names the file in every error. */
typedef struct tdi_unet_ckpt_info {
    uint32_t channels, groups, flags;
    uint64_t n_params, config_hash, step, epoch;
} tdi_unet_ckpt_info;
int tdi_unet_ckpt_save(const char *path, const tdi_unet *m, uint64_t config_hash, uint64_t step,
                       uint64_t epoch, const tdi_unet_adam *adam, tdi_err *err);
/* Reads the header only. */
int tdi_unet_ckpt_peek(const char *path, tdi_unet_ckpt_info *info, tdi_err *err);
/* Loads params (and Adam moments when adam != NULL and present) into m, whose architecture
 * must match. info may be NULL. */
int tdi_unet_ckpt_load(const char *path, tdi_unet *m, tdi_unet_adam *adam,
                       tdi_unet_ckpt_info *info, tdi_err *err);

#endif
