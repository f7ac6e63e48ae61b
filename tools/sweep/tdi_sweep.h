/* tdi_sweep: sweeps at scale (issue 6). A sweep file (YAML, one `sweep:` section) names a base
 * preset config and a grid; every grid point is a job that fits (tdi_sub), generates (tdi_gen)
 * and co-simulates (tdi_cosim) in-process with its own seed, and yields one CSV row. Rows are
 * appended whole (one write + fsync) to <out>/results.csv; a rerun skips the jobs whose rows are
 * there. The driver runs serially or over a message transport (tdi_sweep_comm: MPI lives only in
 * tdi_sweep_mpi.c, linked into bin/tdi-sweep alone) with dynamic job assignment by rank 0.
 * Invariants: a job's row depends only on the sweep file, the base config, the data and the job
 * index (never on the rank layout), except the last column, wall_s. Ownership: *_destroy frees
 * what the library allocated; callers own what they pass in. Non-goal: scheduling across
 * different sweep files, retrying failed jobs (a failed job is a row with status "failed"). */
#ifndef TDI_SWEEP_H
#define TDI_SWEEP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tdi_cosim.h"
#include "tdi_err.h"
#include "tdi_gen.h"
#include "tdi_sub.h"

#define TDI_SWEEP_MAXVAL 256 /* values per numeric axis */
#define TDI_SWEEP_MAXWORD 8  /* values per word axis (unit, skip, engine) */

/* ---------------------------------------------------------------- the sweep file
 * sweep:
 *   base: configs/paper.yaml   # preset config (required); its sections configure every job
 *   out: out/sweep-paper       # results.csv and the jobs/ scratch (default <base out>/sweep)
 *   seed: 1                    # sweep seed; job seed = tdi_seed(seed, TDI_SEED_SWEEP_JOB, index)
 *   k: [1, 2, 4]               # skip ranks, or k_range: [first, last, step]; k > D skipped
 *   D: [64]                    # units per module          (default: the base's)
 *   theta: [1.0]               # or Vs: [...] in V/unit    (default: the base's circuit)
 *   dac_bits: [10]             # 0 = ideal                 (default: the base's cosim)
 *   adc_bits: [12]
 *   unit: rc                   # words, comma separated: rc,rlc          (default: base)
 *   skip: sharedbus            # dense,twobus,sharedbus                   (default: base)
 *   engine: analytic,sde       # analytic,sde,spice                       (default: analytic)
 *   replicates: 1              # jobs per grid point (different seeds)
 *   n_samples: 0               # co-simulated test samples per job (0 = base cosim.n_samples)
 *   spice_samples: 0           # of those, the first ones a spice job runs (0 = base
 *                              #   cosim.spice_samples)
 *   keep_jobs: false           # keep each job's scratch directory (substrate, netlist, cosim)
 *   substrate: ""              # a substrate bundle every job uses as is (no per-job fit; D and
 *                              #   k then come from it): circuit-side sweeps of one model
 *   target: 0.5                # fidelity target (centered cosine) of the end-of-run frontier
 *                              #   report: Pareto set and cheapest point (absent: no report)
 *   avg_relax: [10]            # and every axis of tdi_sweep_xaxes (below): lists of numbers
 *                              #   or comma-separated words      (default: the base's)
 *   xgrid: product             # product: every combination of the xaxes' values; each: the
 *                              #   number xaxes one at a time (below)
 *   chips: 8                   # Monte Carlo over chips: circuit.chip = 0 .. chips-1 (0 or
 *                              #   absent: the base's circuit.chip); every job then has the
 *                              #   sweep's seed, so chip c is the same chip in every row
 * Grid order (the last varies fastest): D, k, theta|Vs, dac_bits, adc_bits, the xaxes in table
 * order, unit, skip, engine, chip, replicate; job index = position in that order after dropping
 * k > D. With xgrid: each, the number xaxes are one list of points instead of their product:
 * first every axis at its first value, then each axis in table order through its other values
 * while the others stay at their first (a one-factor-at-a-time sweep); the word xaxes multiply
 * that list as before, after it in table order. */
/* Axes that set one field of a component's config. Adding an axis = one line in the table
 * tdi_sweep_xaxes (tdi_sweep_cfg.c): its sweep key (also the CSV input column, after adc_bits),
 * the config struct and field it sets, and its values' kind (numbers in [lo, hi], or words
 * from choices "a|b"). */
#define TDI_SWEEP_NX 18      /* capacity of the table */
typedef enum { TDI_SWEEP_X_GEN = 0, TDI_SWEEP_X_COSIM = 1 } tdi_sweep_xtarget;
typedef struct tdi_sweep_xaxis {
    const char *key;         /* "avg_relax" */
    tdi_sweep_xtarget target;
    size_t off;              /* offsetof the field in the target struct */
    size_t size;             /* word axes: the char array's size; 0: the field is a double */
    const char *choices;     /* word axes: "a|b|c"; NULL for numbers */
    double lo, hi;           /* number axes: allowed range */
    int nonideal;            /* 1: a chip's non-ideality (docs/nonideal.md), 0 the ideal
                                circuit; tdi_sweep_plot draws fidelity against it */
} tdi_sweep_xaxis;
extern const tdi_sweep_xaxis tdi_sweep_xaxes[];
extern const size_t tdi_sweep_n_xaxes;

typedef struct tdi_sweep_cfg {
    char path[512];          /* the sweep file */
    char base[512];          /* base preset config */
    char out[512];
    long seed;
    long k[TDI_SWEEP_MAXVAL];     size_t n_k;
    long D[TDI_SWEEP_MAXVAL];     size_t n_D;
    double theta[TDI_SWEEP_MAXVAL]; size_t n_theta; /* exclusive with Vs */
    double Vs[TDI_SWEEP_MAXVAL];  size_t n_Vs;
    long dac[TDI_SWEEP_MAXVAL];   size_t n_dac;
    long adc[TDI_SWEEP_MAXVAL];   size_t n_adc;
    char unit[TDI_SWEEP_MAXWORD][16];   size_t n_unit;
    char skip[TDI_SWEEP_MAXWORD][16];   size_t n_skip;
    int engine[TDI_SWEEP_MAXWORD];      size_t n_engine; /* tdi_cosim_kind */
    double xnum[TDI_SWEEP_NX][TDI_SWEEP_MAXVAL];   /* values of each xaxis (numbers) */
    char xword[TDI_SWEEP_NX][TDI_SWEEP_MAXWORD][16]; /* (words) */
    size_t n_x[TDI_SWEEP_NX];
    int x_each;              /* xgrid: each (one number xaxis at a time) */
    long chips;              /* chip axis 0 .. chips-1 (0: the base's circuit.chip alone) */
    long replicates;
    long n_samples;
    long spice_samples;
    int keep_jobs;
    char substrate[512];     /* fixed bundle ("" = each job fits its own) */
    double target;           /* fidelity target of the end-of-run report (NaN = none) */
    /* the base config, loaded once by every component's own loader */
    tdi_sub_cfg sub;
    tdi_gen_config gen;
    tdi_cosim_cfg cosim;
} tdi_sweep_cfg;

/* Reads the sweep file and the base config (each component's loader: their errors carry the
 * base file's name and position). Errors name the sweep file and, for YAML problems,
 * line:col. */
int tdi_sweep_cfg_load(const char *path, tdi_sweep_cfg *c, tdi_err *err);

/* ---------------------------------------------------------------- the grid */
typedef struct tdi_sweep_job {
    size_t index;
    long D, k;
    double theta;            /* kB T/(Cu Vs^2) in effect */
    double Vs;               /* V per unit in effect */
    long dac_bits, adc_bits;
    double xnum[TDI_SWEEP_NX];     /* the xaxes' values (number axes) */
    char xword[TDI_SWEEP_NX][16];  /* (word axes) */
    char unit[16], skip[16];
    int engine;              /* tdi_cosim_kind */
    long chip;               /* circuit.chip */
    long replicate;
    unsigned long seed;      /* tdi_seed(sweep seed, TDI_SEED_SWEEP_JOB, index), 1 .. 2^32-1;
                                with sweep.chips: the sweep seed itself */
} tdi_sweep_job;

/* Sets the xaxes' fields (and circuit.chip) of the job in the component configs. */
void tdi_sweep_xaxes_apply(const tdi_sweep_job *j, tdi_gen_config *g, tdi_cosim_cfg *c);
/* Expands the grid: *jobs is malloc'd (caller frees), *n jobs. */
int tdi_sweep_grid(const tdi_sweep_cfg *c, tdi_sweep_job **jobs, size_t *n, tdi_err *err);

/* ---------------------------------------------------------------- one job -> one row */
/* The CSV header line (no newline), the same for every sweep. */
const char *tdi_sweep_csv_header(void);
/* The input columns of a job (the row's prefix up to and including the seed column), no
 * newline. Used to check on resume that a row belongs to this grid. */
int tdi_sweep_row_inputs(const tdi_sweep_cfg *c, const tdi_sweep_job *j, char *buf, size_t sz);
/* Runs the job (fit, generate, co-simulate, the rank-k ceiling) and formats its whole CSV row,
 * newline included, into *row (malloc'd, caller frees). A numerical failure of the model
 * (TDI_ENUM, TDI_ESPICE) yields a row with status "failed" and the message (return 0); any other
 * error (missing input, I/O, memory) returns < 0 and no row, so a rerun retries the job.
 * log: the components' reports (may be NULL). */
int tdi_sweep_job_run(const tdi_sweep_cfg *c, const tdi_sweep_job *j, FILE *log, char **row,
                      tdi_err *err);

/* ---------------------------------------------------------------- results.csv */
/* Opens (creating with the header) <out>/results.csv for appending. Drops a trailing partial
 * line (a kill during a write), checks the header and that every row's inputs match the grid
 * (another sweep's file is an error), and marks done[index] = 1 for each row present. A
 * duplicate row is an error. *fd: the descriptor to append to (close it yourself). */
int tdi_sweep_results_open(const tdi_sweep_cfg *c, const tdi_sweep_job *jobs, size_t n,
                           unsigned char *done, size_t *n_done, int *fd, tdi_err *err);
/* Splits one CSV line (no line break) in place into its cells (RFC 4180: a cell in double
 * quotes may hold commas and doubled quotes). Stores the first max cell pointers in field and
 * returns the number of cells, or -1 when a quoted cell is malformed (no closing quote, text
 * after it, or a quote inside an unquoted cell). */
long tdi_sweep_csv_split(char *line, char **field, size_t max);
/* Appends one complete line with a single write() and fsync()s. */
int tdi_sweep_results_append(int fd, const char *row, tdi_err *err);

/* ---------------------------------------------------------------- driver */
/* Message transport between ranks (MPI in tdi_sweep_mpi.c). Blocking send; non-blocking probe
 * (returns 1 and the source, tag, length when a message is waiting, 0 when none, < 0 on
 * error); recv of a probed message. */
typedef struct tdi_sweep_comm {
    int rank, size;
    void *ctx;
    int (*send)(void *ctx, int dest, int tag, const void *buf, size_t len);
    int (*probe)(void *ctx, int *src, int *tag, size_t *len);
    int (*recv)(void *ctx, int src, int tag, void *buf, size_t len);
} tdi_sweep_comm;

typedef struct tdi_sweep_opts {
    int progress;            /* progress line on stderr (rank 0) */
    long max_jobs;           /* stop after this many new rows (0 = all; tests: simulated kill) */
    FILE *log;               /* component reports (may be NULL) */
} tdi_sweep_opts;

typedef struct tdi_sweep_stats {
    size_t total, skipped, done, failed; /* jobs in grid, already in the file, run now, failed */
    double wall_s;
} tdi_sweep_stats;

/* Runs the sweep. comm NULL or size 1: serially in this process. Otherwise every rank calls
 * it: rank 0 hands out job indices on request, runs jobs itself in a second thread, collects
 * rows and writes results.csv; the others run the jobs they are given. */
int tdi_sweep_run(const tdi_sweep_cfg *c, const tdi_sweep_comm *comm, const tdi_sweep_opts *o,
                  tdi_sweep_stats *st, tdi_err *err);

/* ---------------------------------------------------------------- plots */
/* Reads results files (ncsv >= 1, same header; e.g. the sweeps of two presets) and writes PNG
 * figures with gnuplot into outdir (fidelity_vs_k.png, wires_vs_k.png, energy_vs_k.png,
 * time_vs_k_theta.png) plus their data and scripts; a sweep of non-idealities or chips
 * (tdi_sweep_niplot_varies) gets the figures of tdi_sweep_niplot instead. */
int tdi_sweep_plot(const char *const *csv, size_t ncsv, const char *outdir, FILE *log,
                   tdi_err *err);

/* Non-ideality figures (tdi_sweep_niplot.c; docs/nonideal.md, "Sweeps"). *varies = 1 when a
 * non-ideality column (tdi_sweep_xaxis.nonideal) or the chip column holds two values among the
 * ok rows: tdi_sweep_plot then draws these figures instead of the ones against k. */
int tdi_sweep_niplot_varies(const char *const *csv, size_t ncsv, int *varies, tdi_err *err);
/* Per non-ideality column that varies: outdir/nonideal_<key>.png, centered cosine and the
 * normalised rms error sqrt(1 - R^2) against it, mean +- std over the chips (and replicates) of
 * each series (rows differing only in chip and replicate), rows whose other non-idealities are
 * at their smallest values in the files; horizontal lines: the ideal circuit (rows with every
 * non-ideality 0 and calibrate none, per engine), the mean baseline, the rank-k ceiling, the
 * digital shortcut and the exact equilibrium without DAC (the ideal_* columns). Data and script
 * beside each figure, as tdi_sweep_plot. *nfig: figures written. */
int tdi_sweep_niplot(const char *const *csv, size_t ncsv, const char *outdir, FILE *log,
                     size_t *nfig, tdi_err *err);

/* ---------------------------------------------------------------- the frontier
 * (tdi_sweep_pareto.c, tdi_sweep_frontier.c). A point of the fidelity-energy-time space: the
 * fidelity is one metric (cos_centered or r2) of the row's own engine, i.e. the most physical
 * engine the job ran; energy is E_total_J per inference; time is time_to_solution_s. */
typedef struct tdi_sweep_point {
    size_t row;        /* row of the results table */
    double fid;        /* higher is better */
    double energy;     /* J per inference, lower is better */
    double time;       /* s to solution, lower is better */
} tdi_sweep_point;
/* on[i] = 1 when no other point is at least as good in all three and better in one (the Pareto
 * set; a point with a NaN is never on it). Energies and times within TDI_SWEEP_PARETO_TOL
 * (relative) count as equal: points that differ only by the circuit's own dissipation (1e-9 of
 * E_total at the paper preset) are not separated by it. Equal points are all on it. O(n^2). */
#define TDI_SWEEP_PARETO_TOL 1e-3
void tdi_sweep_pareto(const tdi_sweep_point *p, size_t n, unsigned char *on);
/* The cheapest point meeting the target: least energy among fid >= target; ties (energies
 * within TDI_SWEEP_PARETO_TOL) by less time, then more fidelity, then the earlier point. -1
 * when none meets it. */
long tdi_sweep_cheapest(const tdi_sweep_point *p, size_t n, double target);

/* A results file read back: header and cells (RFC 4180: quoted fields may hold commas and
 * doubled quotes). */
typedef struct tdi_sweep_table {
    char *buf;
    char **head;       /* (ncol) */
    char **cell;       /* (nrow, ncol) */
    size_t ncol, nrow;
} tdi_sweep_table;
int tdi_sweep_table_read(const char *path, tdi_sweep_table *t, tdi_err *err);
void tdi_sweep_table_destroy(tdi_sweep_table *t);
/* Column index of name, or -1. */
int tdi_sweep_table_col(const tdi_sweep_table *t, const char *name);
/* The circuit points of a table: rows with status ok whose engine is not analytic (the
 * equilibrium is a reference, not a circuit measurement). *pts malloc'd. metric: "cos_centered"
 * or "r2". Sorted by energy (ties: by row). */
int tdi_sweep_points(const tdi_sweep_table *t, const char *metric, tdi_sweep_point **pts,
                     size_t *n, tdi_err *err);
/* Prints the Pareto set (sorted by energy) and, when target is finite, the cheapest point
 * meeting it, to out. Returns TDI_ENUM when a finite target is met by no point (the report
 * says so), 0 otherwise. */
int tdi_sweep_frontier_report(const char *csv, const char *metric, double target, FILE *out,
                              tdi_err *err);
/* The frontier figure: outdir/frontier.png (fidelity against energy per inference, log x, the
 * Pareto set joined, the digital-equivalent and GPU energies as vertical lines (medians over
 * the rows), the analytic equilibrium's fidelity as a horizontal line (median of the ideal_<metric>
 * column, else of the analytic rows), the theta = 1 points marked) with its data
 * (frontier.dat, frontier_lines.dat) and script (frontier.gp). gnuplot runs by fork/execvp in
 * outdir; no string from the data or the command line enters the script text. */
int tdi_sweep_frontier_plot(const char *csv, const char *metric, const char *outdir, FILE *log,
                            tdi_err *err);

/* ---------------------------------------------------------------- the wire budget
 * (tdi_sweep_budget.c): per U-Net level the options of the end-to-end table (tdi-unet e2e's
 * table.csv, read as data): substrate rows at rank k >= 1 and the mean row as k = 0 (no wires),
 * each with its wires and its eps-MSE with that level alone through the substrate. */
#define TDI_SWEEP_BUDGET_MAXLV 4
#define TDI_SWEEP_BUDGET_MAXOPT 16
typedef struct tdi_sweep_budget_opt {
    long k;            /* rank (0: the mean row, no substrate) */
    double wires;      /* wire pairs of the level's circuit (the chosen wires column) */
    double eps;        /* eps-MSE over all test images, this level alone transported */
} tdi_sweep_budget_opt;
typedef struct tdi_sweep_budget {
    size_t n_lv;                                   /* levels, in table order */
    char lv[TDI_SWEEP_BUDGET_MAXLV][16];           /* their names (e1, e2) */
    size_t n_opt[TDI_SWEEP_BUDGET_MAXLV];
    tdi_sweep_budget_opt opt[TDI_SWEEP_BUDGET_MAXLV][TDI_SWEEP_BUDGET_MAXOPT];
    double eps0;                                   /* the unmodified U-Net's eps-MSE */
    size_t n_eq;                                   /* level all, substrate: the same k at every */
    tdi_sweep_budget_opt eq[TDI_SWEEP_BUDGET_MAXOPT]; /* level, measured */
} tdi_sweep_budget;
/* Reads csv (columns level, config, k, wires_col, eps_mse_all; engine sde rows skipped); a
 * missing column or the unmodified row missing is TDI_EFORMAT naming the file. */
int tdi_sweep_budget_read(const char *csv, const char *wires_col, tdi_sweep_budget *b,
                          tdi_err *err);
/* The additive prediction eps0 + sum_l (eps_l(pick_l) - eps0) and the wires of a choice
 * (pick[l]: index into opt[l]). */
double tdi_sweep_budget_predict(const tdi_sweep_budget *b, const size_t *pick);
double tdi_sweep_budget_wires(const tdi_sweep_budget *b, const size_t *pick);
/* best (n_lv indices): the choice of least predicted eps-MSE with wires <= W (ties: fewer
 * wires, then the first in odometer order, level 0 fastest); 1 when one fits, else 0. */
int tdi_sweep_budget_choose(const tdi_sweep_budget *b, double W, size_t *best);

/* Writes s as one double-quoted gnuplot data-file field (read with columnheader or strcol,
 * never as a command); a '"' or a line break becomes '. */
void tdi_sweep_plot_field(FILE *f, const char *s);
/* Opens <dir>/data/<name><ext> (ext "" or ".dat") for an atomic write (tdi_io.h): the caller
 * writes af->f and commits. TDI_EARG for a path too long, or tdi_atomic_open's error. */
struct tdi_atomic_file;
int tdi_sweep_plot_data_open(struct tdi_atomic_file *af, const char *dir, const char *name,
                             const char *ext, tdi_err *err);

/* Writes script to dir/NAME.gp and runs gnuplot on it in dir (fork + execvp, no shell; its
 * stderr to NAME.gp.log). The script must hold only fixed text and numbers (tdi_sweep_plot.c).
 * log (may be NULL): "wrote dir/NAME.png". */
int tdi_sweep_gnuplot(const char *dir, const char *name, const char *script, FILE *log,
                      tdi_err *err);

/* ---------------------------------------------------------------- synthetic data */
/* Writes <root>/activations-fit and <root>/activations-test (docs/formats.md, layers e2/d2 of
 * width C, conv weights, manifest with t = 200, pool = 1) whose decoder is a noisy rank-3
 * linear function of the encoder: for tests and benchmarks without a U-Net. */
int tdi_sweep_synth_acts(const char *root, size_t C, size_t n_fit, size_t n_test,
                         unsigned long seed, tdi_err *err);

#endif
