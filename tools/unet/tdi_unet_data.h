/* tdi_unet_data: Fashion-MNIST from Debian's dataset-fashion-mnist (IDX files, gzip).
 * IDX: big-endian uint32 magic 0x00000803 (images: N, rows, cols) or 0x00000801 (labels: N),
 * then N*rows*cols (or N) unsigned bytes. Images are returned as 32x32 float in [-1, 1], the 28x28
 * image padded by 2 pixels of background (-1). Non-goal: other IDX element types. */
#ifndef TDI_UNET_DATA_H
#define TDI_UNET_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "tdi_err.h"

#define TDI_UNET_DATA_DIR "/usr/share/datasets/fashion-mnist"

/* Reads a gzip'd (or plain) IDX file of uint8 with 1 or 3 dimensions. *data is malloc'd
 * (caller frees); dims[0..ndim) get the sizes. Errors name the file and the byte offset of the
 * problem (bad magic, truncated payload, corrupt gzip stream, trailing data). */
int tdi_unet_idx_read(const char *path, uint8_t **data, int *ndim, uint32_t dims[3],
                      tdi_err *err);

typedef struct tdi_unet_dataset {
    size_t n;      /* images */
    float *img;    /* [n][1024] in [-1, 1], padded */
    uint8_t *label; /* [n] */
} tdi_unet_dataset;

/* split: "train" or "test"; dir: the folder holding
 * {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz. */
int tdi_unet_dataset_load(tdi_unet_dataset *ds, const char *dir, const char *split, tdi_err *err);
void tdi_unet_dataset_destroy(tdi_unet_dataset *ds);

#endif
