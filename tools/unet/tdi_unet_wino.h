/* tdi_unet_wino: 3x3 convolutions (padding 1, stride 1) by Winograd F(2x2, 3x3) on CBHW tensors.
 * Each 2x2 output tile is A^T [ (G g G^T) .* (B^T d B) ] A for the tile's 4x4 input patch d, so
 * a conv is 16 GEMMs U[e] [cout][cin] x V[e] [cin][tiles] (2.25x fewer multiplies than im2col)
 * and no im2col. Odd H or W: the last tile row/column is clipped. The input gradient of a conv
 * is the same conv with the weights rotated by 180 degrees and transposed (adjoint != 0).
 * Non-goals: weight gradients (tdi_unet_layers.c keeps im2col for those), strides, dilation. */
#ifndef TDI_UNET_WINO_H
#define TDI_UNET_WINO_H

#include <stddef.h>

#include "tdi_unet_layers.h"

/* Transformed weights: u [16][co][ci] = G w[co][ci] G^T for w [cout][cin][3][3]; with adjoint
 * the conv maps cout -> cin channels: u [16][ci][co] = G rot180(w[co][ci]) G^T. u holds
 * 16 * cin * cout floats; each [rows][cols] matrix is stored in tdi_unet_wgemm's packed layout
 * when tdi_unet_wgemm_ok(rows) (then the conv's GEMMs run there, else in OpenBLAS). */
void tdi_unet_wino_weights(const float *w, size_t cout, size_t cin, int adjoint, float *u);

/* out [cout][N] (+)= conv3x3(in [cin][N]) with transformed weights u [16][cout][cin]
 * (pre != NULL: of SiLU(GN(in)), computed per chunk from in; needs g.w % 8 == 0)
 * (from tdi_unet_wino_weights; for an adjoint set, cin/cout are the adjoint conv's). acc != 0
 * adds to out, acc == 0 overwrites it; epi != NULL (acc 0): out = epi + conv (tdi_unet_epi). Parallel over tile chunks (OpenMP), OpenBLAS
 * single-threaded inside; the result does not depend on the thread count. work: the
 * per-thread part of tdi_unet_wino_scratch (without the 16 cin cout of u). */
void tdi_unet_wino_conv(const float *in, size_t cin, tdi_unet_geom g, const float *u,
                        size_t cout, float *out, int acc, const tdi_unet_gnsilu *pre,
                        const tdi_unet_epi *epi, float *work);

/* Floats of scratch tdi_unet_wino_conv3 needs for these sizes at the current OpenMP thread
 * count (transformed weights + per-thread V, M and row buffers). */
size_t tdi_unet_wino_scratch(size_t cin, size_t cout, tdi_unet_geom g);

/* Both steps with the weights of the layer: adjoint == 0: out [cout][N] (+)= conv(in [cin][N])
 * for w [cout][cin][3][3]; adjoint != 0: out [cout][N] (+)= the input gradient of the conv
 * whose weights w are [cin][cout][3][3], from in = its output gradient [cin][N]. scratch holds
 * nscratch floats; when that is less than tdi_unet_wino_scratch, the function allocates its
 * own. Returns 0 or -1 (out of memory, out untouched). */
int tdi_unet_wino_conv3(const float *in, size_t cin, tdi_unet_geom g, const float *w,
                        size_t cout, float *out, int acc, int adjoint, float *scratch,
                        size_t nscratch);
/* The forward (adjoint 0) of SiLU(GN(in)) (tdi_unet_gnsilu; g.w % 8 == 0), else the same;
 * epi as in tdi_unet_wino_conv. */
int tdi_unet_wino_conv3_gn(const float *in, size_t cin, tdi_unet_geom g,
                           const tdi_unet_gnsilu *pre, const float *w, size_t cout, float *out,
                           int acc, const tdi_unet_epi *epi, float *scratch, size_t nscratch);

#endif
