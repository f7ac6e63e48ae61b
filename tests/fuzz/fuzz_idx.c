/* fuzz_idx: the IDX reader (tools/unet/tdi_unet_data.c, gzip or plain through zlib) on
 * arbitrary bytes, read by path from an in-memory file. Findings: crashes, sanitizer reports,
 * leaks. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_file.h"
#include "tdi_unet_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    if (fuzz_file_set(data, size, path, sizeof path) != 0)
        return 0;
    tdi_err err;
    uint8_t *px = NULL;
    int ndim = 0;
    uint32_t dims[3];
    if (tdi_unet_idx_read(path, &px, &ndim, dims, &err) == 0)
        free(px);
    return 0;
}
