/* tdi-cosim: co-simulate a substrate bundle's circuit (analytic, sde, spice engines) with the
 * digital interface in the loop. Usage: tdi-cosim CONFIG.yaml [-n SAMPLES] [--no-spice]
 * [--no-sde] [--schedule batch|per_sample]. Exit status 0 on success, 1 on any error (nothing
 * is written then), 2 on bad usage. Non-goal: logic (tdi_cosim_app.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "tdi_cosim.h"

static int usage(void)
{
    fprintf(stderr, "usage: tdi-cosim CONFIG.yaml [-n SAMPLES] [--no-spice] [--no-sde] "
                    "[--schedule batch|per_sample] [--quiet]\n");
    return 2;
}

int main(int argc, char **argv)
{
    gsl_set_error_handler_off();
    if (argc < 2)
        return usage();
    tdi_err err = {0};
    tdi_cosim_cfg cfg;
    if (tdi_cosim_cfg_load(argv[1], &cfg, &err)) {
        fprintf(stderr, "tdi-cosim: %s\n", err.msg);
        return 1;
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
            char *e;
            long n = strtol(argv[++i], &e, 10);
            if (*e || n < 1)
                return usage();
            cfg.n_samples = n;
        } else if (strcmp(argv[i], "--no-spice") == 0) {
            cfg.spice = 0;
        } else if (strcmp(argv[i], "--no-sde") == 0) {
            cfg.sde = 0;
        } else if (strcmp(argv[i], "--quiet") == 0) {
            cfg.progress = 0;
        } else if (strcmp(argv[i], "--schedule") == 0 && i + 1 < argc) {
            i++;
            if (strcmp(argv[i], "batch") && strcmp(argv[i], "per_sample"))
                return usage();
            snprintf(cfg.schedule, sizeof cfg.schedule, "%s", argv[i]);
        } else {
            return usage();
        }
    }
    if (tdi_cosim_app_run(&cfg, stdout, &err)) {
        fprintf(stderr, "tdi-cosim: %s\n", err.msg);
        return 1;
    }
    return 0;
}
