/* fuzz_cfg: the YAML config loader (common/tdi_cfg.c) through a real schema, the generator's
 * (tdi_gen_config_load_string: seed, name, out, circuit.*, validation). Input bytes are the
 * config text (cut at the first NUL, as a file read would not be). Findings: crashes,
 * sanitizer reports, leaks. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_gen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    tdi_gen_config c;
    tdi_gen_config_init(&c);
    tdi_err err;
    tdi_gen_config_load_string("fuzz.yaml", text, &c, &err);
    free(text);
    return 0;
}
