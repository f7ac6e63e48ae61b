/* fuzz_npy: the .npy reader (common/tdi_npy.c) on arbitrary bytes. The input is put in an
 * in-memory file (memfd) and read by path, as the programs read bundles; then the f64 loader.
 * A crash, a sanitizer report or a leak is a finding; an error return is the expected outcome. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_file.h"
#include "tdi_npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    if (fuzz_file_set(data, size, path, sizeof path) != 0)
        return 0;
    tdi_err err;
    tdi_npy a;
    if (tdi_npy_read(path, &a, &err) == 0)
        tdi_npy_destroy(&a);
    double *d = NULL;
    size_t r = 0, c = 0;
    if (tdi_npy_load_f64(path, 0, 0, &d, &r, &c, &err) == 0)
        free(d);
    return 0;
}
