/* tdi-stack: one substrate for several U-Net skip levels from one two-module bundle per level
 * (tdi-fit skip mode, or tdi-unet e2e's substrate-<level>-k<k>), through tdi_bundle_stack.
 * Usage: tdi-stack OUT PRESET ENC DEC BUNDLE [ENC DEC BUNDLE ...]. Exit status 0, 1 on any error
 * (message on stderr, nothing written), 2 on usage. Non-goal: fitting a level. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "tdi_bundle.h"
#include "tdi_cli.h"

static void usage(FILE *f)
{
    fputs("usage: tdi-stack OUT PRESET ENC DEC BUNDLE [ENC DEC BUNDLE ...]\n"
          "  Reads each level's two-module bundle (encoder, read-out decoder, one coupling) with\n"
          "  its co-simulator data, names its modules ENC and DEC, and writes one substrate of\n"
          "  every level to OUT: the encoders, then the decoders (one read-out block), M\n"
          "  block-diagonal by level, manifest preset PRESET (docs/substrate-bundle.md,\n"
          "  \"Several levels\"). tdi-gen and tdi-cosim take it as any bundle.\n",
          f);
}

int main(int argc, char **argv)
{
    if (tdi_cli_start(argc, argv, usage))
        return 0;
    if (argc < 6 || (argc - 3) % 3 != 0 || argv[1][0] == '-') {
        usage(stderr);
        return 2;
    }
    gsl_set_error_handler_off();
    size_t L = (size_t)(argc - 3) / 3;
    if (L > TDI_BUNDLE_MAX_MOD / 2) {
        fprintf(stderr, "tdi-stack: error: %zu levels (at most %d)\n", L, TDI_BUNDLE_MAX_MOD / 2);
        return 2;
    }
    tdi_err err;
    tdi_err_clear(&err);
    tdi_bundle lv[TDI_BUNDLE_MAX_MOD / 2], st;
    const char *names[TDI_BUNDLE_MAX_MOD];
    memset(lv, 0, sizeof lv);
    int rc = 0;
    for (size_t l = 0; l < L && !rc; l++) {
        names[2 * l] = argv[3 + 3 * l];
        names[2 * l + 1] = argv[4 + 3 * l];
        rc = tdi_bundle_read(argv[5 + 3 * l], TDI_BUNDLE_WANT_DATA, &lv[l], &err);
    }
    if (!rc && !(rc = tdi_bundle_stack(lv, L, names, argv[2], &st, &err))) {
        rc = tdi_bundle_write(argv[1], &st, &err);
        if (!rc)
            printf("tdi-stack: %zu levels, %zu modules, N = %zu units, read-out block %zu units "
                   "-> %s\n", L, st.n_mod, st.N, st.D_out, argv[1]);
        tdi_bundle_destroy(&st);
    }
    for (size_t l = 0; l < L; l++)
        tdi_bundle_destroy(&lv[l]);
    if (rc) {
        fprintf(stderr, "tdi-stack: error: %s\n", err.msg);
        return 1;
    }
    return 0;
}
