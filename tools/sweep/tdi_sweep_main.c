/* tdi-sweep: run a sweep (serially, or under mpirun with dynamic job assignment), plot its
 * results, or write synthetic activation bundles.
 *   tdi-sweep SWEEP.yaml [--max-jobs N] [--quiet] [--verbose] [--check]
 *     (--check: load the sweep file and the base config, print the grid size, run nothing)
 *   tdi-sweep plot RESULTS.csv [MORE.csv ...] OUTDIR
 *   tdi-sweep synth DIR C N_FIT N_TEST SEED
 *   tdi-sweep pareto RESULTS.csv [--metric cos_centered|r2] [--target F] [--plot OUTDIR]
 *     (the Pareto set, the cheapest point with metric >= F, the frontier figure)
 * Exit status: 0 success, 1 error (message on stderr), 2 bad usage. Non-goal: logic (library). */
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "tdi_cli.h"
#include "tdi_gen.h"
#include "tdi_sweep.h"
#include "tdi_sweep_mpi.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: tdi-sweep SWEEP.yaml [--max-jobs N] [--quiet] [--verbose] [--check]\n"
               "       mpirun -np N tdi-sweep SWEEP.yaml ...\n"
               "       tdi-sweep plot RESULTS.csv [MORE.csv ...] OUTDIR\n"
               "       tdi-sweep synth DIR C N_FIT N_TEST SEED\n"
               "       tdi-sweep pareto RESULTS.csv [--metric cos_centered|r2] [--target F]"
               " [--plot OUTDIR]\n");
}

/* Bad usage: the usage text on stderr, exit status 2. */
static int bad_usage(void)
{
    usage(stderr);
    return 2;
}

static int parse_long(const char *s, long *v)
{
    char *e;
    *v = strtol(s, &e, 10);
    return *s && !*e;
}

/* tdi-sweep pareto RESULTS.csv [--metric M] [--target F] [--plot OUTDIR] */
static int pareto_main(int argc, char **argv)
{
    const char *csv = NULL, *metric = "cos_centered", *plot = NULL;
    double target = NAN;
    for (int i = 2; i < argc; i++) {
        char *e = NULL;
        if (strcmp(argv[i], "--metric") == 0 && i + 1 < argc)
            metric = argv[++i];
        else if (strcmp(argv[i], "--plot") == 0 && i + 1 < argc)
            plot = argv[++i];
        else if (strcmp(argv[i], "--target") == 0 && i + 1 < argc) {
            target = strtod(argv[++i], &e);
            if (!*argv[i] || *e || !isfinite(target))
                return bad_usage();
        } else if (!csv && argv[i][0] != '-')
            csv = argv[i];
        else
            return bad_usage();
    }
    if (!csv)
        return bad_usage();
    tdi_err err;
    tdi_err_clear(&err);
    int rc = tdi_sweep_frontier_report(csv, metric, target, stdout, &err);
    if (rc && rc != TDI_ENUM) {
        fprintf(stderr, "tdi-sweep pareto: %s\n", err.msg);
        return 1;
    }
    int unmet = rc == TDI_ENUM;
    if (plot && tdi_sweep_frontier_plot(csv, metric, plot, stdout, &err)) {
        fprintf(stderr, "tdi-sweep pareto: %s\n", err.msg);
        return 1;
    }
    return unmet ? 1 : 0;
}

int main(int argc, char **argv)
{
    /* before MPI_Init and any OpenMP use: idle OpenMP threads sleep; -h, --help (tdi_cli.h) */
    if (tdi_cli_start(argc, argv, usage))
        return 0;
    gsl_set_error_handler_off();
    tdi_gen_blas_threads(1); /* one job per process; the machine's cores go to the ranks */
    /* Every job allocates and frees the same large arrays (bundles, fit data, noise): with
       glibc's default they are fresh mmaps, and the page faults cost 7% of a job's CPU here
       (66,000 faults in 16 bench jobs; 2,900 with these settings, 5-8% less wall time). Keep
       freed memory in the heap for the next job instead (up to 1 GiB kept; arrays over 256 MiB
       are still mapped and unmapped one by one). */
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    if (argc < 2)
        return bad_usage();
    tdi_err err;
    tdi_err_clear(&err);
    if (strcmp(argv[1], "plot") == 0) {
        if (argc < 4)
            return bad_usage();
        if (tdi_sweep_plot((const char *const *)argv + 2, (size_t)argc - 3, argv[argc - 1],
                           stdout, &err)) {
            fprintf(stderr, "tdi-sweep plot: %s\n", err.msg);
            return 1;
        }
        return 0;
    }
    if (strcmp(argv[1], "pareto") == 0)
        return pareto_main(argc, argv);
    if (strcmp(argv[1], "synth") == 0) {
        long v[4];
        if (argc != 7 || !parse_long(argv[3], &v[0]) || !parse_long(argv[4], &v[1]) ||
            !parse_long(argv[5], &v[2]) || !parse_long(argv[6], &v[3]) || v[0] < 1 ||
            v[1] < 2 || v[2] < 1 || v[3] < 0)
            return bad_usage();
        if (tdi_sweep_synth_acts(argv[2], (size_t)v[0], (size_t)v[1], (size_t)v[2],
                                 (unsigned long)v[3], &err)) {
            fprintf(stderr, "tdi-sweep synth: %s\n", err.msg);
            return 1;
        }
        return 0;
    }

    tdi_sweep_comm comm;
    if (tdi_sweep_mpi_init(&argc, &argv, &comm, &err)) {
        fprintf(stderr, "tdi-sweep: %s\n", err.msg);
        return 1;
    }
    tdi_sweep_opts o = {1, 0, NULL};
    const char *path = NULL;
    int check = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--max-jobs") == 0 && i + 1 < argc) {
            if (!parse_long(argv[++i], &o.max_jobs) || o.max_jobs < 1) {
                tdi_sweep_mpi_finalize();
                return bad_usage();
            }
        } else if (strcmp(argv[i], "--check") == 0) {
            check = 1;
        } else if (strcmp(argv[i], "--quiet") == 0) {
            o.progress = 0;
        } else if (strcmp(argv[i], "--verbose") == 0) {
            o.log = stderr;
        } else if (!path && argv[i][0] != '-') {
            path = argv[i];
        } else {
            tdi_sweep_mpi_finalize();
            return bad_usage();
        }
    }
    if (!path) {
        tdi_sweep_mpi_finalize();
        return bad_usage();
    }
    o.progress = o.progress && comm.rank == 0;
    static tdi_sweep_cfg cfg; /* large: not on the stack */
    tdi_sweep_stats st;
    int rc = tdi_sweep_cfg_load(path, &cfg, &err);
    if (!rc && check) {
        tdi_sweep_job *jobs = NULL;
        size_t n = 0;
        if (!(rc = tdi_sweep_grid(&cfg, &jobs, &n, &err)) && comm.rank == 0)
            printf("tdi-sweep: %s: valid; base %s; %zu jobs; results in %s/results.csv\n", path,
                   cfg.base, n, cfg.out);
        free(jobs);
        tdi_sweep_mpi_finalize();
        if (rc)
            fprintf(stderr, "tdi-sweep: %s\n", err.msg);
        return rc ? 1 : 0;
    }
    if (!rc)
        rc = tdi_sweep_run(&cfg, &comm, &o, &st, &err);
    if (rc) {
        fprintf(stderr, "tdi-sweep (rank %d): %s\n", comm.rank, err.msg);
        /* rank 0 returns only after its loop (or on a transport error): then nobody is left to
           wait for; a failing worker has told rank 0, which stops handing out jobs */
        if (comm.size > 1 && comm.rank == 0)
            tdi_sweep_mpi_abort(1);
        tdi_sweep_mpi_finalize();
        return 1;
    }
    if (comm.rank == 0 && isfinite(cfg.target)) {
        char csv[700];
        snprintf(csv, sizeof csv, "%s/results.csv", cfg.out);
        if (tdi_sweep_frontier_report(csv, "cos_centered", cfg.target, stdout, &err) &&
            err.code != TDI_ENUM)
            fprintf(stderr, "tdi-sweep: %s\n", err.msg);
    }
    if (comm.rank == 0)
        printf("tdi-sweep: %s: %zu jobs in the grid, %zu were already done, %zu run now (%zu "
               "failed) on %d rank%s in %.2f s wall; rows in %s/results.csv\n", path, st.total,
               st.skipped, st.done, st.failed, comm.size, comm.size > 1 ? "s" : "", st.wall_s,
               cfg.out);
    tdi_sweep_mpi_finalize();
    return 0;
}
