/* tdi_npy: NumPy .npy v1.0 arrays, little-endian float32 ('<f4') or float64 ('<f8'), C order,
 * 0 to 4 dimensions. This is the array format of every bundle in tdi (activation bundle,
 * substrate bundle, interface weights): NumPy's np.load must give the array back unchanged.
 * Format: "\x93NUMPY" 1 0, uint16 LE header length, ASCII dict
 * {'descr': '<f4', 'fortran_order': False, 'shape': (N, D), } padded with spaces and '\n' so
 * that the data starts at a multiple of 64 bytes; then the raw data.
 * Non-goals: other dtypes, Fortran order, big-endian, v2/v3 headers (rejected with an error). */
#ifndef TDI_NPY_H
#define TDI_NPY_H

#include <stddef.h>

#include "tdi_err.h"

#define TDI_NPY_MAXDIM 4

typedef enum { TDI_NPY_F32 = 4, TDI_NPY_F64 = 8 } tdi_npy_dtype;

typedef struct tdi_npy {
    tdi_npy_dtype dtype;
    int ndim;
    size_t shape[TDI_NPY_MAXDIM];
    size_t count; /* product of shape (1 for ndim 0) */
    void *data;   /* count elements of dtype; owned, freed by tdi_npy_destroy */
} tdi_npy;

/* Reads path. Errors (missing file, bad magic, unsupported dtype/order, truncated data,
 * trailing garbage) name the file and the byte offset. Caller calls tdi_npy_destroy. */
int tdi_npy_read(const char *path, tdi_npy *out, tdi_err *err);
void tdi_npy_destroy(tdi_npy *a);

/* Writes atomically (tdi_io). data holds prod(shape) elements of dtype. */
int tdi_npy_write(const char *path, tdi_npy_dtype dtype, int ndim, const size_t *shape,
                  const void *data, tdi_err *err);

/* Convenience: read a 1-D or 2-D array, check shape against rows/cols (0 = any; for 1-D
 * arrays cols must be 0 and rows is the length), reject NaN/Inf (message names the file and
 * element index), and convert to a malloc'd double array (caller frees). The actual shape is
 * returned through rows_out/cols_out (may be NULL). */
int tdi_npy_load_f64(const char *path, size_t rows, size_t cols, double **out, size_t *rows_out,
                     size_t *cols_out, tdi_err *err);
/* Same, as float. */
int tdi_npy_load_f32(const char *path, size_t rows, size_t cols, float **out, size_t *rows_out,
                     size_t *cols_out, tdi_err *err);

#endif
