/* tdi-fit: builds the substrate model of a config preset and prints its honest metrics.
 * Usage: tdi-fit CONFIG. Reads <export.dir>/activations-{fit,test}, writes <out>/substrate.
 * tdi-fit --check DIR: validates a bundle (substrate, activation, or an export directory) and
 * prints what it found; writes nothing.
 * Exit status 0 on success, 1 on any error (message on stderr, nothing written), 2 on usage.
 * Non-goal: exporting activations (tdi-unet export does). */
#include <stdio.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "tdi_cli.h"
#include "tdi_sub.h"

static void usage(FILE *f)
{
    fputs("usage: tdi-fit CONFIG | tdi-fit --check DIR\n"
          "  Reads the top-level keys and the export/substrate sections of CONFIG, the activation\n"
          "  bundles <export.dir or out>/activations-fit and activations-test, fits the substrate\n"
          "  model, prints the metrics tables and writes <out>/substrate (docs/formats.md).\n"
          "  --check DIR: reads a substrate bundle, an activation bundle or an export directory\n"
          "  (activations-fit/, activations-test/) with tdi's own readers and prints what it\n"
          "  found (layers, shapes, dtypes, modules, hashes) or the first problem; writes nothing.\n",
          f);
}

static int check(const char *dir)
{
    gsl_set_error_handler_off();
    tdi_err err;
    tdi_err_clear(&err);
    if (tdi_sub_check(dir, stdout, &err)) {
        fflush(stdout);
        fprintf(stderr, "tdi-fit: --check: %s\n", err.msg);
        return 1;
    }
    printf("%s: OK\n", dir);
    return 0;
}

int main(int argc, char **argv)
{
    if (tdi_cli_start(argc, argv, usage)) /* idle OpenMP threads sleep; -h, --help */
        return 0;
    if (argc == 3 && !strcmp(argv[1], "--check"))
        return check(argv[2]);
    if (argc != 2 || argv[1][0] == '-') {
        usage(stderr);
        return 2;
    }
    gsl_set_error_handler_off();
    tdi_err err;
    tdi_err_clear(&err);
    tdi_sub_cfg cfg;
    if (tdi_sub_cfg_load(argv[1], &cfg, &err) || tdi_sub_run(&cfg, stdout, &err)) {
        fflush(stdout);
        fprintf(stderr, "tdi-fit: error: %s\n", err.msg);
        return 1;
    }
    return 0;
}
