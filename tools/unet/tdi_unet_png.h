/* tdi_unet_png: an 8-bit grey PNG grid of images (libpng; png.h only in tdi_unet_png.c),
 * written atomically. Non-goal: colour, reading PNGs. */
#ifndef TDI_UNET_PNG_H
#define TDI_UNET_PNG_H

#include <stddef.h>

#include "tdi_err.h"

/* img: n images of side x side floats in [-1, 1] (clipped), laid out in a grid of `cols`
 * columns with `pad` pixels of mid-grey between them, each pixel scaled up `scale` times. */
int tdi_unet_png_grid(const char *path, const float *img, size_t n, size_t side, size_t cols,
                      size_t pad, size_t scale, tdi_err *err);

#endif
