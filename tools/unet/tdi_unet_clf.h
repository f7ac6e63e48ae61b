/* tdi_unet_clf: a small Fashion-MNIST classifier built from the U-Net's layers (CBHW tensors,
 * tdi_unet_layers.h), whose penultimate features define tdi's Frechet distance (tdi_unet_fid.h).
 * Architecture (input 1x32x32 in [-1, 1], the U-Net's padded images):
 *   conv3x3 1->c1, SiLU, avgpool 2 | conv3x3 c1->c2, SiLU, avgpool 2 |
 *   conv3x3 c2->c3, SiLU, avgpool 2 | flatten c3*4*4 | Linear -> hidden, SiLU (the features) |
 *   Linear hidden -> 10 (logits).
 * One flat parameter array in that order (weight then bias per layer). Not thread-safe per
 * model. Non-goals: other image sizes, batch statistics (no BatchNorm: eval = train forward). */
#ifndef TDI_UNET_CLF_H
#define TDI_UNET_CLF_H

#include <stddef.h>
#include <stdint.h>

#include "tdi_err.h"

#define TDI_CLF_CLASSES 10

typedef struct tdi_clf_arch {
    size_t c1, c2, c3, hidden;
} tdi_clf_arch;

typedef struct tdi_clf {
    tdi_clf_arch arch;
    size_t max_batch, batch, n_params;
    float *params, *grads; /* [n_params] */
    size_t w1, b1, w2, b2, w3, b3, wf, bf, wo, bo; /* offsets */
    const float *x;      /* input [B][1024] (not owned) */
    float *a1, *p1;      /* conv1 pre-SiLU [c1][B*1024], pooled SiLU [c1][B*256] */
    float *a2, *p2;      /* [c2][B*256], [c2][B*64] */
    float *a3, *p3;      /* [c3][B*64], [c3][B*16] */
    float *flat;         /* [B][c3*16] */
    float *zf, *feat;    /* hidden pre-SiLU and post-SiLU (the features) [B][hidden] */
    float *logits;       /* [B][10] */
    float *col, *s, *ds, *dflat, *dfeat, *dlog; /* scratch */
} tdi_clf;

int tdi_clf_alloc(tdi_clf **out, tdi_clf_arch arch, size_t max_batch, tdi_err *err);
void tdi_clf_free(tdi_clf *m);
/* PyTorch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases. */
void tdi_clf_init_params(tdi_clf *m, unsigned long seed);
/* x [b][1024]; logits and features land in m->logits, m->feat. */
void tdi_clf_forward(tdi_clf *m, const float *x, size_t b);
/* After a forward: grads := d(mean cross-entropy)/d(params) for labels [b]; returns the loss. */
double tdi_clf_backward_ce(tdi_clf *m, const uint8_t *labels);

/* Checkpoint (little-endian): char magic[8] = "TDICLF01"; uint32 version 1; uint32 c1, c2, c3,
 * hidden; uint64 n_params; uint64 config_hash; float params[n]; uint64 fnv1a64 of all
 * preceding bytes. Written atomically; loading checks everything and names the file. */
int tdi_clf_save(const char *path, const tdi_clf *m, uint64_t config_hash, tdi_err *err);
/* Allocates *out with the file's architecture for batches up to max_batch. */
int tdi_clf_load(const char *path, size_t max_batch, tdi_clf **out, uint64_t *config_hash,
                 tdi_err *err);

#endif
