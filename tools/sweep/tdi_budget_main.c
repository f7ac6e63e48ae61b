/* tdi-budget: the wire budget split across U-Net skip levels (docs/e2e.md, "Wire budget").
 * Usage: tdi-budget TABLE [--wires wires_mux|wires_rep] [--pairs PAIRS] [--out DIR]. For every
 * equal-k row of TABLE (tdi-unet e2e's table.csv) its wires are the budget W; prints the
 * budget-optimal k per level (tdi_sweep_budget_choose), its predicted and, from PAIRS
 * (tdi-unet e2e's pairs.csv), measured eps-MSE beside the equal-k row's; writes DIR/budget.csv,
 * budget.dat and budget.png (gnuplot, no shell) and the e2e.pairs line that measures the choices.
 * Exit status 0, 1 on error, 2 on usage. Non-goal: running the U-Net (tdi-unet e2e does). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "tdi_cli.h"
#include "tdi_io.h"
#include "tdi_sweep.h"

static void usage(FILE *f)
{
    fputs("usage: tdi-budget TABLE [--wires wires_mux|wires_rep] [--pairs PAIRS] [--out DIR]\n"
          "  TABLE: tdi-unet e2e's table.csv; PAIRS: its pairs.csv (the measured choices);\n"
          "  DIR (default: TABLE's directory): budget.csv, budget.dat, budget.png.\n", f);
}

typedef struct line {
    double W;                            /* the budget: an equal-k row's wires */
    size_t pick[TDI_SWEEP_BUDGET_MAXLV]; /* the choice */
    int have;
    double wires, pred, meas;            /* of the choice (meas NAN: not measured) */
    const tdi_sweep_budget_opt *eq;      /* the equal-k row */
    double eq_pred;                      /* its additive prediction */
    double best;                         /* the least measured eps of PAIRS within W (NAN) */
    long best_k[TDI_SWEEP_BUDGET_MAXLV];
} line;

/* the measured pair of least eps-MSE with wires_mux <= W (the model's check: is the choice the
   best of what was measured?) */
static void best_measured(const tdi_sweep_table *p, const tdi_sweep_budget *b, line *L)
{
    L->best = NAN;
    if (!p)
        return;
    int ce = tdi_sweep_table_col(p, "eps_mse_all"), cw = tdi_sweep_table_col(p, "wires_mux");
    int ck[TDI_SWEEP_BUDGET_MAXLV];
    for (size_t l = 0; l < b->n_lv; l++) {
        char h[32];
        snprintf(h, sizeof h, "k_%s", b->lv[l]);
        if ((ck[l] = tdi_sweep_table_col(p, h)) < 0 || ce < 0 || cw < 0)
            return;
    }
    for (size_t r = 0; r < p->nrow; r++) {
        char *const *row = p->cell + r * p->ncol;
        double e = strtod(row[ce], NULL);
        if (strtod(row[cw], NULL) > L->W || !(isnan(L->best) || e < L->best))
            continue;
        L->best = e;
        for (size_t l = 0; l < b->n_lv; l++)
            L->best_k[l] = strtol(row[ck[l]], NULL, 10);
    }
}

/* the measured eps-MSE of a choice from pairs.csv (columns k_<level>..., eps_mse_all) */
static double measured(const tdi_sweep_table *p, const tdi_sweep_budget *b, const size_t *pick)
{
    if (!p)
        return NAN;
    int ce = tdi_sweep_table_col(p, "eps_mse_all"), ck[TDI_SWEEP_BUDGET_MAXLV];
    for (size_t l = 0; l < b->n_lv; l++) {
        char h[32];
        snprintf(h, sizeof h, "k_%s", b->lv[l]);
        if ((ck[l] = tdi_sweep_table_col(p, h)) < 0 || ce < 0)
            return NAN;
    }
    for (size_t r = 0; r < p->nrow; r++) {
        int ok = 1;
        for (size_t l = 0; l < b->n_lv; l++)
            ok &= strtol(p->cell[r * p->ncol + ck[l]], NULL, 10) == b->opt[l][pick[l]].k;
        if (ok)
            return strtod(p->cell[r * p->ncol + ce], NULL);
    }
    return NAN;
}

/* the equal-k row's additive prediction: each level at k (capped at its largest rank) */
static double eq_predict(const tdi_sweep_budget *b, long k)
{
    size_t pick[TDI_SWEEP_BUDGET_MAXLV];
    for (size_t l = 0; l < b->n_lv; l++) {
        long kmax = -1;
        pick[l] = 0;
        for (size_t q = 0; q < b->n_opt[l]; q++)
            if (b->opt[l][q].k <= k && b->opt[l][q].k > kmax) {
                kmax = b->opt[l][q].k;
                pick[l] = q;
            }
    }
    return tdi_sweep_budget_predict(b, pick);
}

static void print_lines(const tdi_sweep_budget *b, const line *ln, size_t n, FILE *o)
{
    fprintf(o, "%10s  %-16s %10s %10s %10s   %6s %10s %10s %10s   %-16s %10s\n", "budget W",
            "chosen k", "wires", "eps pred", "eps meas", "eq. k", "eq. wires", "eq. pred",
            "eq. meas", "best measured k", "its eps");
    for (size_t i = 0; i < n; i++) {
        char ks[64] = "";
        size_t u = 0;
        for (size_t l = 0; l < b->n_lv && ln[i].have; l++)
            u += (size_t)snprintf(ks + u, sizeof ks - u, "%s%s:%ld", l ? " " : "", b->lv[l],
                                  b->opt[l][ln[i].pick[l]].k);
        char bk[64] = "-";
        u = 0;
        for (size_t l = 0; l < b->n_lv && !isnan(ln[i].best); l++)
            u += (size_t)snprintf(bk + u, sizeof bk - u, "%s%s:%ld", l ? " " : "", b->lv[l],
                                  ln[i].best_k[l]);
        fprintf(o, "%10.0f  %-16s %10.0f %10.6f %10.6f   %6ld %10.0f %10.6f %10.6f   %-16s "
                "%10.6f\n", ln[i].W, ln[i].have ? ks : "(none fits)", ln[i].wires, ln[i].pred,
                ln[i].meas, ln[i].eq->k, ln[i].eq->wires, ln[i].eq_pred, ln[i].eq->eps, bk,
                ln[i].best);
    }
}

static void write_csv(const tdi_sweep_budget *b, const line *ln, size_t n, FILE *f, int dat)
{
    if (dat) /* gnuplot: wires, eps; the choice's measured (else predicted), then equal-k */
        fprintf(f, "# W chosen_wires chosen_eps_meas chosen_eps_pred eq_wires eq_eps_meas\n");
    else {
        fprintf(f, "budget_wires");
        for (size_t l = 0; l < b->n_lv; l++)
            fprintf(f, ",k_%s", b->lv[l]);
        fprintf(f, ",wires,eps_pred,eps_meas,eq_k,eq_wires,eq_eps_pred,eq_eps_meas");
        for (size_t l = 0; l < b->n_lv; l++)
            fprintf(f, ",best_meas_k_%s", b->lv[l]);
        fprintf(f, ",best_meas_eps\n");
    }
    for (size_t i = 0; i < n; i++) {
        if (dat) {
            fprintf(f, "%.0f %.0f %.9g %.9g %.0f %.9g\n", ln[i].W, ln[i].wires, ln[i].meas,
                    ln[i].pred, ln[i].eq->wires, ln[i].eq->eps);
            continue;
        }
        fprintf(f, "%.0f", ln[i].W);
        for (size_t l = 0; l < b->n_lv; l++)
            fprintf(f, ",%ld", ln[i].have ? b->opt[l][ln[i].pick[l]].k : -1);
        fprintf(f, ",%.0f,%.9g,%.9g,%ld,%.0f,%.9g,%.9g", ln[i].wires, ln[i].pred, ln[i].meas,
                ln[i].eq->k, ln[i].eq->wires, ln[i].eq_pred, ln[i].eq->eps);
        for (size_t l = 0; l < b->n_lv; l++)
            fprintf(f, ",%ld", isnan(ln[i].best) ? -1 : ln[i].best_k[l]);
        fprintf(f, ",%.9g\n", ln[i].best);
    }
}

static const char *const SCRIPT =
    "set terminal pngcairo size 900,600 enhanced font 'DejaVu Sans,11' linewidth 1.5\n"
    "set output 'budget.png'\nset datafile missing 'nan'\nset grid lc rgb '#dddddd'\n"
    "set key top right box opaque\nset logscale xy\n"
    "set title 'Wire budget split across the skip levels (e1, e2): eps-MSE against wires'\n"
    "set xlabel 'total wire pairs (both levels, time-multiplexed)'\n"
    "set ylabel 'test eps-MSE (all t)'\n"
    "plot 'budget.dat' using 5:6 with linespoints pt 7 lc rgb '#1f77b4' "
    "title 'equal k at both levels (measured)', \\\n"
    "     'budget.dat' using 2:3 with linespoints pt 5 lc rgb '#d62728' "
    "title 'budget-optimal k per level (measured)', \\\n"
    "     'budget.dat' using 2:4 with points pt 4 lc rgb '#d62728' "
    "title 'budget-optimal k per level (additive prediction)'\n";

static int outputs(const char *dir, const tdi_sweep_budget *b, const line *ln, size_t n,
                   tdi_err *err)
{
    char path[1200];
    int rc = tdi_mkdirs(dir, err);
    for (int dat = 0; dat < 2 && !rc; dat++) {
        snprintf(path, sizeof path, "%s/%s", dir, dat ? "budget.dat" : "budget.csv");
        tdi_atomic_file af;
        if ((rc = tdi_atomic_open(&af, path, err)))
            break;
        write_csv(b, ln, n, af.f, dat);
        rc = tdi_atomic_commit(&af, err);
    }
    return rc ? rc : tdi_sweep_gnuplot(dir, "budget", SCRIPT, stdout, err);
}

static int run(const char *table, const char *wcol, const char *pairs, const char *dir,
               tdi_err *err)
{
    tdi_sweep_budget b;
    tdi_sweep_table pt;
    int rc = tdi_sweep_budget_read(table, wcol, &b, err), have_p = 0;
    if (!rc && pairs && !(rc = tdi_sweep_table_read(pairs, &pt, err)))
        have_p = 1;
    line ln[TDI_SWEEP_BUDGET_MAXOPT];
    size_t n = rc ? 0 : b.n_eq;
    for (size_t i = 0; i < n; i++) {
        line *L = &ln[i];
        memset(L, 0, sizeof *L);
        L->eq = &b.eq[i];
        L->W = L->eq->wires;
        L->eq_pred = eq_predict(&b, L->eq->k);
        L->have = tdi_sweep_budget_choose(&b, L->W, L->pick);
        L->wires = L->have ? tdi_sweep_budget_wires(&b, L->pick) : NAN;
        L->pred = L->have ? tdi_sweep_budget_predict(&b, L->pick) : NAN;
        L->meas = L->have ? measured(have_p ? &pt : NULL, &b, L->pick) : NAN;
        best_measured(have_p ? &pt : NULL, &b, L);
    }
    if (!rc) {
        printf("unmodified eps-MSE %.6f; levels:", b.eps0);
        for (size_t l = 0; l < b.n_lv; l++)
            printf(" %s (%zu options)", b.lv[l], b.n_opt[l]);
        printf("; wires column %s\n", wcol);
        print_lines(&b, ln, n, stdout);
        printf("e2e.pairs (the choices, k per level in order %s%s%s):", b.lv[0],
               b.n_lv > 1 ? ", " : "", b.n_lv > 1 ? b.lv[1] : "");
        for (size_t i = 0; i < n; i++)
            for (size_t l = 0; l < b.n_lv && ln[i].have; l++)
                printf("%s%ld", i || l ? ", " : " [", b.opt[l][ln[i].pick[l]].k);
        printf("]\n");
        rc = outputs(dir, &b, ln, n, err);
    }
    if (have_p)
        tdi_sweep_table_destroy(&pt);
    return rc;
}

int main(int argc, char **argv)
{
    if (tdi_cli_start(argc, argv, usage))
        return 0;
    gsl_set_error_handler_off();
    const char *table = NULL, *wcol = "wires_mux", *pairs = NULL, *dir = NULL;
    for (int i = 1; i < argc; i++) {
        const char **opt = !strcmp(argv[i], "--wires") ? &wcol : !strcmp(argv[i], "--pairs")
                           ? &pairs : !strcmp(argv[i], "--out") ? &dir : NULL;
        if (opt && i + 1 < argc)
            *opt = argv[++i];
        else if (!opt && argv[i][0] != '-' && !table)
            table = argv[i];
        else {
            usage(stderr);
            return 2;
        }
    }
    if (!table) {
        usage(stderr);
        return 2;
    }
    char tdir[1024];
    snprintf(tdir, sizeof tdir, "%s", table);
    char *sl = strrchr(tdir, '/');
    if (sl)
        *sl = '\0';
    else
        snprintf(tdir, sizeof tdir, ".");
    tdi_err err;
    tdi_err_clear(&err);
    if (run(table, wcol, pairs, dir ? dir : tdir, &err)) {
        fprintf(stderr, "tdi-budget: error: %s\n", err.msg);
        return 1;
    }
    return 0;
}
