/* tdi_unet_layers: forward and backward of the U-Net's layer types on CBHW tensors.
 * Layout: an activation of C channels for a batch of B images of H x W is float[C][B][H*W]
 * ("channel-major"), so a 3x3 conv is one GEMM W[Cout][Cin*9] x col[Cin*9][B*H*W] and a channel
 * concat is two adjacent blocks of memory. Weights use PyTorch's layouts ([Cout][Cin][3][3],
 * Linear [out][in]). Backward functions ACCUMULATE into parameter gradients and (unless stated)
 * OVERWRITE input gradients. Non-goals: strides, dilation, other paddings. */
#ifndef TDI_UNET_LAYERS_H
#define TDI_UNET_LAYERS_H

#include <stddef.h>

/* Geometry of one activation plane set. */
typedef struct tdi_unet_geom {
    size_t b, h, w; /* batch, height, width */
} tdi_unet_geom;

static inline size_t tdi_unet_plane(tdi_unet_geom g) { return g.b * g.h * g.w; }

/* Nonzero when a 3x3 conv with these channel counts runs by Winograd (tdi_unet_wino.h): its
 * forward then needs no im2col columns, so keep only costs an extra im2col pass (a caller may
 * rather let conv3_bwd build them); otherwise im2col + GEMM. Results agree to float rounding
 * either way (tests/test_unet_wino.c). */
int tdi_unet_conv3_wino(size_t cin, size_t cout);

/* 3x3 conv, padding 1. in [cin][N], w [cout][cin*9], bias [cout] (may be NULL), out [cout][N].
 * col: cin*9*N floats; keep != 0 leaves im2col(in) [cin*9][N] in it for a conv3_bwd with
 * col_ready (training), keep == 0 uses it as per-thread scratch (cache-sized chunks). The
 * output does not depend on keep. */
void tdi_unet_conv3_fwd(const float *in, size_t cin, tdi_unet_geom g, const float *w,
                        const float *bias, size_t cout, float *out, float *col, int keep);
/* out [cout][N] += conv3x3(in) without bias (for fused residual sums). */
void tdi_unet_conv3_acc(const float *in, size_t cin, tdi_unet_geom g, const float *w, size_t cout,
                        float *out, float *col, int keep);
/* dout [cout][N]; accumulates dw, dbias; din (may be NULL) gets the input gradient
 * (overwritten). col: cin*9*N floats; when col_ready it already holds im2col(in) from the
 * forward (it is overwritten either way). */
void tdi_unet_conv3_bwd(const float *in, size_t cin, tdi_unet_geom g, const float *w,
                        size_t cout, const float *dout, float *dw, float *dbias, float *din,
                        float *col, int col_ready);

/* out [rows][n] := b1[r] + b2[r] (b2 may be NULL; b1 NULL means 0). */
void tdi_unet_fill_rows(float *out, size_t rows, size_t n, const float *b1, const float *b2);

/* 1x1 conv: out [cout][N] = w [cout][cin] in [cin][N] + bias. */
void tdi_unet_conv1_fwd(const float *in, size_t cin, size_t n, const float *w, const float *bias,
                        size_t cout, float *out);
/* out [cout][N] += w in (no bias). */
void tdi_unet_conv1_acc(const float *in, size_t cin, size_t n, const float *w, size_t cout,
                        float *out);
/* Accumulates dw, dbias; din gets beta_din * din + w^T dout (beta 0 overwrites, 1 adds). */
void tdi_unet_conv1_bwd(const float *in, size_t cin, size_t n, const float *w, size_t cout,
                        const float *dout, float *dw, float *dbias, float *din, float beta_din);

/* GroupNorm with `groups` groups over (C/groups channels x H x W) per image, eps 1e-5, affine
 * gamma/beta [C], followed by SiLU when silu != 0 (fused: the GroupNorm output itself is not
 * stored; the backward recomputes it from in, mean, rstd). mean, rstd: [B][groups] outputs,
 * kept for the backward. */
void tdi_unet_gn_fwd(const float *in, size_t c, tdi_unet_geom g, size_t groups,
                     const float *gamma, const float *beta, int silu, float *out, float *mean,
                     float *rstd);
/* The statistics half of tdi_unet_gn_fwd: mean, rstd [B][groups], the same values. */
void tdi_unet_gn_stats(const float *in, size_t c, tdi_unet_geom g, size_t groups, float *mean,
                       float *rstd);

/* GroupNorm + SiLU of a conv's input given by its statistics (tdi_unet_gn_stats), so that a
 * conv can apply it on the fly instead of reading a stored SiLU(GN(in)) (inference). */
typedef struct tdi_unet_gnsilu {
    const float *gamma, *beta; /* [cin] */
    const float *mean, *rstd;  /* [B][groups] */
    size_t groups;
} tdi_unet_gnsilu;

/* What a fused conv adds to its result y as it writes out [cout][N] (tdi_unet_conv3_gn_epi):
 * out = (per_image[b][co] + bias[co]) + y, or out = (res[co][i] + bias[co]) + y when res is set:
 * the same two float additions as filling out first and accumulating y, so the same bits. */
typedef struct tdi_unet_epi {
    const float *bias;      /* [cout] */
    const float *per_image; /* [B][cout] (res NULL) */
    const float *res;       /* [cout][N] or NULL */
} tdi_unet_epi;

/* o[i] = silu(x[i] a + b) for n elements: tdi_unet_gn_fwd's last step with silu (8 elements at
 * a time with AVX2, the tail scalar). Calls on whole rows of a multiple of 8 elements give the
 * same bits as one call on the whole plane. */
void tdi_unet_affine_silu(const float *x, size_t n, float a, float b, float *o);

/* 1 when out += conv3x3(SiLU(GN(in))) can run fused (tdi_unet_conv3_gn_acc): a Winograd conv
 * (tdi_unet_conv3_wino) on rows of a multiple of 8 pixels; the result then equals
 * tdi_unet_gn_fwd (silu) followed by tdi_unet_conv3_acc bit for bit. */
int tdi_unet_conv3_gn_fusable(size_t cin, size_t cout, tdi_unet_geom g);
/* out [cout][N] += conv3x3(SiLU(GN(in))) without storing SiLU(GN(in)); pre: the GroupNorm's
 * affine parameters and statistics. Needs tdi_unet_conv3_gn_fusable; col: scratch of cin*9*N
 * floats. Returns 0, or -1 when not fusable or out of memory (out untouched). */
int tdi_unet_conv3_gn_acc(const float *in, size_t cin, tdi_unet_geom g,
                          const tdi_unet_gnsilu *pre, const float *w, size_t cout, float *out,
                          float *col);

/* out [cout][N] := epi + conv3x3(SiLU(GN(in))) (tdi_unet_epi), overwriting out: the fill of
 * out and the accumulation in one pass. Otherwise as tdi_unet_conv3_gn_acc. */
int tdi_unet_conv3_gn_epi(const float *in, size_t cin, tdi_unet_geom g,
                          const tdi_unet_gnsilu *pre, const float *w, size_t cout,
                          const tdi_unet_epi *epi, float *out, float *col);

/* Backward of the same (silu must match the forward). Accumulates dgamma, dbeta; din is
 * overwritten and must not alias dout. part: caller's scratch of 2*B*C doubles (per-image
 * partial parameter gradients, summed in a fixed order so results do not depend on threads). */
void tdi_unet_gn_bwd(const float *in, size_t c, tdi_unet_geom g, size_t groups,
                     const float *gamma, const float *beta, int silu, const float *mean,
                     const float *rstd, const float *dout, float *dgamma, float *dbeta,
                     float *din, double *part);

/* SiLU x * sigmoid(x), n elements; the backward overwrites din (may alias dout). */
void tdi_unet_silu_fwd(const float *in, size_t n, float *out);
void tdi_unet_silu_bwd(const float *in, size_t n, const float *dout, float *din);

/* Linear on batch-major rows: out [B][nout] = in [B][nin] w^T + bias, w [nout][nin]. */
void tdi_unet_linear_fwd(const float *in, size_t b, size_t nin, const float *w, const float *bias,
                         size_t nout, float *out);
/* Accumulates dw, dbias; din (may be NULL) overwritten. */
void tdi_unet_linear_bwd(const float *in, size_t b, size_t nin, const float *w, size_t nout,
                         const float *dout, float *dw, float *dbias, float *din);

/* 2x2 average pooling: in [c][B][H][W] -> out [c][B][H/2][W/2] (H, W even). g is the input's. */
void tdi_unet_pool_fwd(const float *in, size_t c, tdi_unet_geom g, float *out);
/* din ACCUMULATES (the pooled tensor is also a skip source). */
void tdi_unet_pool_bwd(const float *dout, size_t c, tdi_unet_geom g, float *din);

/* Nearest upsampling x2: in [c][B][H][W] -> out [c][B][2H][2W]. g is the input's. */
void tdi_unet_up_fwd(const float *in, size_t c, tdi_unet_geom g, float *out);
/* din overwritten. */
void tdi_unet_up_bwd(const float *dout, size_t c, tdi_unet_geom g, float *din);

/* Sinusoidal embedding of dimension dim (even) for b time steps: out [b][dim] with
 * out[i][j] = sin(t_i f_j), out[i][half + j] = cos(t_i f_j), f_j = exp(-ln(1e4) j / half). */
void tdi_unet_sinus(const float *t, size_t b, size_t dim, float *out);

#endif
