/* tdi-cosim: co-simulate a substrate bundle's circuit (analytic, sde, spice engines) with the
 * digital interface in the loop. Usage: tdi-cosim CONFIG.yaml [-n SAMPLES] [--no-spice]
 * [--no-sde] [--schedule batch|per_sample] [--sde-reference] [--sde-general] [--quiet]
 * [--deck FILE TICKS [--plain]] (write the spice deck of TICKS ticks and stop; --plain: EXTERNAL
 * sources as dc 0, for ngspice -b); --sde-reference: the sde engine's pre-batching path
 * (benchmarks); --sde-general: never its mode-basis fast path (docs/sde.md);
 * tdi-cosim --synth-bundle DIR D K N SEED
 * writes a synthetic bundle (benchmarks without a U-Net); tdi-cosim --sde-limits N COLS SECONDS
 * prints the sde engine's GEMM and Gaussian-generation limits. Exit status 0 on success, 1 on any
 * error (nothing is written then), 2 on bad usage. Non-goal: logic (tdi_cosim_app.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "tdi_cli.h"
#include "tdi_cosim.h"
#include "tdi_gen.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: tdi-cosim CONFIG.yaml [-n SAMPLES] [--no-spice] [--no-sde] "
               "[--schedule batch|per_sample] [--sde-reference] [--sde-general] [--quiet]\n"
               "       [--deck FILE TICKS [--plain]]\n"
               "       tdi-cosim --synth-bundle DIR D K N SEED\n"
               "       tdi-cosim --sde-limits N COLS SECONDS\n");
}

/* Bad usage: the usage text on stderr, exit status 2. */
static int bad_usage(void)
{
    usage(stderr);
    return 2;
}

/* Options after CONFIG.yaml, parsed before the config is opened and applied after it loads. */
typedef struct {
    long n_samples;        /* -n; 0: the config's */
    int no_spice, no_sde, plain, sde_reference, sde_general, quiet;
    const char *deck_out;  /* --deck FILE or NULL */
    long deck_ticks;       /* --deck ... TICKS */
    const char *schedule;  /* --schedule or NULL */
} cosim_opts;

/* Parses argv[2..]; returns 0 or -1 on bad usage. */
static int parse_opts(int argc, char **argv, cosim_opts *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 2; i < argc; i++) {
        char *e;
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
            o->n_samples = strtol(argv[++i], &e, 10);
            if (*e || o->n_samples < 1)
                return -1;
        } else if (strcmp(argv[i], "--no-spice") == 0) {
            o->no_spice = 1;
        } else if (strcmp(argv[i], "--no-sde") == 0) {
            o->no_sde = 1;
        } else if (strcmp(argv[i], "--deck") == 0 && i + 2 < argc) {
            o->deck_out = argv[++i];
            o->deck_ticks = strtol(argv[++i], &e, 10);
            if (*e || o->deck_ticks < 1)
                return -1;
        } else if (strcmp(argv[i], "--plain") == 0) {
            o->plain = 1;
        } else if (strcmp(argv[i], "--sde-reference") == 0) {
            o->sde_reference = 1;
        } else if (strcmp(argv[i], "--sde-general") == 0) {
            o->sde_general = 1;
        } else if (strcmp(argv[i], "--quiet") == 0) {
            o->quiet = 1;
        } else if (strcmp(argv[i], "--schedule") == 0 && i + 1 < argc) {
            o->schedule = argv[++i];
            if (strcmp(o->schedule, "batch") && strcmp(o->schedule, "per_sample"))
                return -1;
        } else {
            return -1;
        }
    }
    return 0;
}

static void apply_opts(const cosim_opts *o, tdi_cosim_cfg *cfg)
{
    if (o->n_samples)
        cfg->n_samples = o->n_samples;
    if (o->no_spice)
        cfg->spice = 0;
    if (o->no_sde)
        cfg->sde = 0;
    if (o->deck_out) {
        cfg->deck_out = o->deck_out;
        cfg->deck_ticks = o->deck_ticks;
    }
    if (o->plain)
        cfg->deck_plain = 1;
    if (o->sde_reference)
        cfg->sde_reference = 1;
    if (o->sde_general)
        cfg->sde_general = 1;
    if (o->quiet)
        cfg->progress = 0;
    if (o->schedule)
        snprintf(cfg->schedule, sizeof cfg->schedule, "%s", o->schedule);
}

/* --sde-limits N COLS SECONDS: the sde engine's GEMM and Gaussian limits (make bench). */
static int sde_limits(int argc, char **argv)
{
    if (argc != 5)
        return bad_usage();
    char *e1, *e2, *e3;
    long n = strtol(argv[2], &e1, 10), cols = strtol(argv[3], &e2, 10);
    double sec = strtod(argv[4], &e3);
    if (*e1 || *e2 || *e3 || n < 1 || cols < 1 || !(sec > 0))
        return bad_usage();
    double gf[2], nsd;
    tdi_err err = {0};
    if (tdi_cosim_sde_limits((size_t)n, (size_t)cols, sec, gf, &nsd, &err)) {
        fprintf(stderr, "tdi-cosim: %s\n", err.msg);
        return 1;
    }
    double gt, nsm;
    if (tdi_cosim_sde_modes_limits((size_t)n, (size_t)cols, sec, &gt, &nsm, &err)) {
        fprintf(stderr, "tdi-cosim: %s\n", err.msg);
        return 1;
    }
    printf("dgemm_gflops_eig %.4g dgemm_gflops_expm %.4g ns_per_draw %.4g dtrmm_gflops %.4g "
           "ns_per_mode_draw %.4g\n", gf[0], gf[1], nsd, gt, nsm);
    return 0;
}

int main(int argc, char **argv)
{
    if (tdi_cli_start(argc, argv, usage)) /* idle OpenMP threads sleep; -h, --help */
        return 0;
    gsl_set_error_handler_off();
    /* one co-simulation is sequential (128-unit mat-vecs per tick): BLAS threads only add
       synchronisation (measured: sde 52k -> 121k ticks/CPU-s at D = 64 with one thread);
       sweeps scale as independent processes (docs/ngspice.md section 5) */
    tdi_gen_blas_threads(1);
    if (argc < 2)
        return bad_usage();
    tdi_err err = {0};
    if (strcmp(argv[1], "--synth-bundle") == 0) {
        if (argc != 7)
            return bad_usage();
        long v[4];
        for (int i = 0; i < 4; i++) {
            char *e;
            v[i] = strtol(argv[3 + i], &e, 10);
            if (*e || v[i] < 1)
                return bad_usage();
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
    cosim_opts o;
    if (argv[1][0] == '-' || parse_opts(argc, argv, &o))
        return bad_usage();
    tdi_cosim_cfg cfg;
    if (tdi_cosim_cfg_load(argv[1], &cfg, &err)) {
        fprintf(stderr, "tdi-cosim: %s\n", err.msg);
        return 1;
    }
    apply_opts(&o, &cfg);
    if (tdi_cosim_app_run(&cfg, stdout, &err)) {
        fprintf(stderr, "tdi-cosim: %s\n", err.msg);
        return 1;
    }
    return 0;
}
