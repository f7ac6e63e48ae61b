/* tdi_unet_e2e_plot: <dir>/table.csv -> <dir>/e2e_vs_k.png and e2e_vs_wires.png through gnuplot
 * (tdi_sweep_gnuplot: no shell). Series data go into .dat files beside the scripts; the scripts
 * hold fixed text and numbers only. Non-goals: other tables' layouts. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_sweep.h"
#include "tdi_unet_e2e_int.h"

#define PLOT_MAXROWS 256

typedef struct prow {
    char level[8], config[16];
    long k;
    double wm, wr, all;
} prow;

static int read_table(const char *path, prow *r, size_t *n, tdi_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return tdi_err_set(err, TDI_EIO, "%s: cannot open", path);
    char line[1024];
    *n = 0;
    while (fgets(line, sizeof line, f) && *n < PLOT_MAXROWS) {
        prow *w = &r[*n];
        if (sscanf(line, "%7[^,],%15[^,],%ld,%lf,%lf,%*[^,],%lf", w->level, w->config, &w->k,
                   &w->wm, &w->wr, &w->all) == 6)
            (*n)++;
    }
    fclose(f);
    return *n ? 0 : tdi_err_set(err, TDI_EFORMAT, "%s: no rows", path);
}

/* <dir>/e2e_<level>_<config>.dat: k, eps-MSE, wires (multiplexed), wires (replicated) */
static int write_series(const char *dir, const prow *r, size_t n, const char *level,
                        const char *config, tdi_err *err)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/e2e_%s_%s.dat", dir, level, config);
    FILE *f = fopen(path, "w");
    if (!f)
        return tdi_err_set(err, TDI_EIO, "%s: cannot write", path);
    fprintf(f, "# k eps_mse_all wires_mux wires_rep\n");
    for (size_t i = 0; i < n; i++)
        if (!strcmp(r[i].level, level) && !strcmp(r[i].config, config))
            fprintf(f, "%ld %.9g %.9g %.9g\n", r[i].k, r[i].all, r[i].wm, r[i].wr);
    return fclose(f) ? tdi_err_set(err, TDI_EIO, "%s: write failed", path) : 0;
}

static double value_of(const prow *r, size_t n, const char *level, const char *config)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(r[i].level, level) && !strcmp(r[i].config, config))
            return r[i].all;
    return NAN;
}

static const char *const LV[3] = {"e1", "e2", "all"};
static const char *const COL[3] = {"#1f77b4", "#d62728", "#2ca02c"};
static const char *const HEAD =
    "set terminal pngcairo size %d,%d enhanced font 'DejaVu Sans,11' linewidth 1.5\n"
    "set output '%s.png'\nset grid lc rgb '#dddddd'\nset logscale y\n"
    "set key top right box opaque font ',10'\n"
    "set ylabel 'test {/Symbol e}-MSE'\n";

static void script_k(FILE *f, const prow *r, size_t n)
{
    fprintf(f, HEAD, 900, 600, "e2e_vs_k");
    fprintf(f, "set logscale x 2\nset xlabel 'rank k per level (all: k at e1 capped at C)'\n"
               "set title 'U-Net skips through substrates (solid: substrate with read-out noise;"
               " dashed: PCA ceiling)'\nplot ");
    for (int l = 0; l < 3; l++)
        fprintf(f, "'e2e_%s_substrate.dat' u 1:2 w lp lc rgb '%s' pt 7 t '%s substrate', "
                   "'e2e_%s_pca.dat' u 1:2 w l dt 2 lc rgb '%s' t '%s PCA', "
                   "%.9g w l dt 3 lc rgb '%s' t '%s mean', ",
                LV[l], COL[l], LV[l], LV[l], COL[l], LV[l], value_of(r, n, LV[l], "mean"),
                COL[l], LV[l]);
    fprintf(f, "%.9g w l lw 2 lc rgb 'black' t 'unmodified'\n",
            value_of(r, n, "all", "unmodified"));
}

static void script_wires(FILE *f, const prow *r, size_t n)
{
    fprintf(f, HEAD, 1200, 560, "e2e_vs_wires");
    fprintf(f, "set logscale x\nset multiplot layout 1,2\n");
    for (int p = 0; p < 2; p++) {
        fprintf(f, "set xlabel 'wire pairs, %s'\nplot ",
                p ? "replicated (one module pair per pixel)"
                  : "time-multiplexed (one module pair per level)");
        for (int l = 0; l < 3; l++)
            fprintf(f, "'e2e_%s_substrate.dat' u %d:2 w lp lc rgb '%s' pt 7 t '%s substrate', ",
                    LV[l], 3 + p, COL[l], LV[l]);
        fprintf(f, "%.9g w l lw 2 lc rgb 'black' t 'unmodified'\n",
                value_of(r, n, "all", "unmodified"));
    }
    fprintf(f, "unset multiplot\n");
}

static int run_script(const char *dir, const char *name, const prow *r, size_t n,
                      void (*fn)(FILE *, const prow *, size_t), FILE *log, tdi_err *err)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return tdi_err_set(err, TDI_ENOMEM, "e2e plot: out of memory");
    fn(f, r, n);
    fclose(f);
    int rc = tdi_sweep_gnuplot(dir, name, buf, log, err);
    free(buf);
    return rc;
}

int e2e_plots(const char *dir, FILE *log, tdi_err *err)
{
    prow *r = malloc(PLOT_MAXROWS * sizeof *r);
    size_t n = 0;
    char path[1200];
    snprintf(path, sizeof path, "%s/table.csv", dir);
    int rc = r ? read_table(path, r, &n, err) : tdi_err_set(err, TDI_ENOMEM, "out of memory");
    for (int l = 0; !rc && l < 3; l++)
        if (!(rc = write_series(dir, r, n, LV[l], "substrate", err)))
            rc = write_series(dir, r, n, LV[l], "pca", err);
    if (!rc)
        rc = run_script(dir, "e2e_vs_k", r, n, script_k, log, err);
    if (!rc)
        rc = run_script(dir, "e2e_vs_wires", r, n, script_wires, log, err);
    free(r);
    return rc;
}
