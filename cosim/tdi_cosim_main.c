/* tdi-cosim: co-simulate a substrate bundle's circuit (analytic, sde, spice engines) with the
 * digital interface in the loop. Usage: tdi-cosim CONFIG.yaml [-n SAMPLES] [--no-spice]
 * [--no-sde] [--schedule batch|per_sample] [--sde-reference] [--quiet] [--deck FILE TICKS
 * [--plain]] (write the spice deck of TICKS ticks and stop; --plain: EXTERNAL sources as dc 0,
 * for ngspice -b); --sde-reference: the sde engine's pre-batching path (benchmarks);
 * tdi-cosim --synth-bundle DIR D K N SEED
 * writes a synthetic bundle (benchmarks without a U-Net); tdi-cosim --sde-limits N COLS SECONDS
 * prints the sde engine's GEMM and Gaussian-generation limits. Exit status 0 on success, 1 on any
 * error (nothing is written then), 2 on bad usage. Non-goal: logic (tdi_cosim_app.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "tdi_cosim.h"
#include "tdi_gen.h"

static int usage(void)
{
    fprintf(stderr, "usage: tdi-cosim CONFIG.yaml [-n SAMPLES] [--no-spice] [--no-sde] "
                    "[--schedule batch|per_sample] [--sde-reference] [--quiet]\n"
                    "       [--deck FILE TICKS [--plain]]\n"
                    "       tdi-cosim --synth-bundle DIR D K N SEED\n"
                    "       tdi-cosim --sde-limits N COLS SECONDS\n");
    return 2;
}

/* --sde-limits N COLS SECONDS: the sde engine's GEMM and Gaussian limits (make bench). */
static int sde_limits(int argc, char **argv)
{
    if (argc != 5)
        return usage();
    char *e1, *e2, *e3;
    long n = strtol(argv[2], &e1, 10), cols = strtol(argv[3], &e2, 10);
    double sec = strtod(argv[4], &e3);
    if (*e1 || *e2 || *e3 || n < 1 || cols < 1 || !(sec > 0))
        return usage();
    double gf[2], nsd;
    tdi_err err = {0};
    if (tdi_cosim_sde_limits((size_t)n, (size_t)cols, sec, gf, &nsd, &err)) {
        fprintf(stderr, "tdi-cosim: %s\n", err.msg);
        return 1;
    }
    printf("dgemm_gflops_eig %.4g dgemm_gflops_expm %.4g ns_per_draw %.4g\n", gf[0], gf[1], nsd);
    return 0;
}

int main(int argc, char **argv)
{
    gsl_set_error_handler_off();
    /* one co-simulation is sequential (128-unit mat-vecs per tick): BLAS threads only add
       synchronisation (measured: sde 52k -> 121k ticks/CPU-s at D = 64 with one thread);
       sweeps scale as independent processes (ngspice.md) */
    tdi_gen_blas_threads(1);
    if (argc < 2)
        return usage();
    tdi_err err = {0};
    if (strcmp(argv[1], "--synth-bundle") == 0) {
        if (argc != 7)
            return usage();
        long v[4];
        for (int i = 0; i < 4; i++) {
            char *e;
            v[i] = strtol(argv[3 + i], &e, 10);
            if (*e || v[i] < 1)
                return usage();
        }
        if (tdi_cosim_synth_bundle(argv[2], (size_t)v[0], (size_t)v[1], (size_t)v[2],
                                   (unsigned long)v[3], 0, 0.0, &err)) {
            fprintf(stderr, "tdi-cosim: %s\n", err.msg);
            return 1;
        }
        return 0;
    }
    if (strcmp(argv[1], "--sde-limits") == 0)
        return sde_limits(argc, argv);
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
        } else if (strcmp(argv[i], "--deck") == 0 && i + 2 < argc) {
            cfg.deck_out = argv[++i];
            char *e;
            cfg.deck_ticks = strtol(argv[++i], &e, 10);
            if (*e || cfg.deck_ticks < 1)
                return usage();
        } else if (strcmp(argv[i], "--plain") == 0) {
            cfg.deck_plain = 1;
        } else if (strcmp(argv[i], "--sde-reference") == 0) {
            cfg.sde_reference = 1;
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
