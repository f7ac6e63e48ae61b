/* tdi_unet_png: grey-scale PNG grid writer over libpng (see tdi_unet_png.h). */
#include "tdi_unet_png.h"

#include <png.h>
#include <setjmp.h>
#include <stdlib.h>

#include "tdi_io.h"

int tdi_unet_png_grid(const char *path, const float *img, size_t n, size_t side, size_t cols,
                      size_t pad, size_t scale, tdi_err *err)
{
    if (n == 0 || cols == 0 || scale == 0)
        return tdi_err_set(err, TDI_EARG, "%s: empty image grid", path);
    const size_t rows = (n + cols - 1) / cols, cell = side * scale;
    const size_t W = cols * cell + (cols + 1) * pad, H = rows * cell + (rows + 1) * pad;
    unsigned char *pix = malloc(W * H);
    if (!pix)
        return tdi_err_set(err, TDI_ENOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < W * H; i++)
        pix[i] = 128;
    for (size_t k = 0; k < n; k++) {
        const size_t r0 = pad + (k / cols) * (cell + pad), c0 = pad + (k % cols) * (cell + pad);
        for (size_t y = 0; y < cell; y++)
            for (size_t x = 0; x < cell; x++) {
                float v = img[k * side * side + (y / scale) * side + x / scale];
                v = v < -1.0f ? -1.0f : v > 1.0f ? 1.0f : v;
                pix[(r0 + y) * W + c0 + x] = (unsigned char)(127.5f * (v + 1.0f) + 0.5f);
            }
    }
    tdi_atomic_file af;
    int rc = tdi_atomic_open(&af, path, err);
    if (rc) {
        free(pix);
        return rc;
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        tdi_atomic_abort(&af);
        free(pix);
        return tdi_err_set(err, TDI_EIO, "%s: libpng failed to write the image", path);
    }
    png_init_io(png, af.f);
    png_set_IHDR(png, info, (png_uint_32)W, (png_uint_32)H, 8, PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (size_t y = 0; y < H; y++)
        png_write_row(png, pix + y * W);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(pix);
    return tdi_atomic_commit(&af, err);
}
