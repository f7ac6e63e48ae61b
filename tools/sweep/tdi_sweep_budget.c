/* tdi_sweep_budget: the wire budget split across U-Net skip levels (issue 13; docs/e2e.md, "Wire
 * budget"). Reads the end-to-end table (tdi-unet e2e's table.csv: level, config, k, wires_mux,
 * wires_rep, engine, eps_mse_all, ...) as data: per level the substrate rows (k >= 1) and the
 * mean row (k = 0: no wires, the decoder gets the training-set mean), the unmodified U-Net, and
 * the equal-k rows of both levels together (level all). The choice for a budget W minimises the
 * predicted eps-MSE eps0 + sum_l (eps_l(k_l) - eps0) over the per-level options whose wires sum
 * to <= W (exhaustive); the prediction is a model, the chosen pairs are then measured by
 * tdi-unet e2e (e2e.pairs) and read back from pairs.csv. Non-goals: running the U-Net. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_sweep.h"

static int opt_add(tdi_sweep_budget_opt *o, size_t *n, long k, double w, double e)
{
    for (size_t q = 0; q < *n; q++)
        if (o[q].k == k)
            return 0; /* the first row of a (level, k) counts */
    if (*n >= TDI_SWEEP_BUDGET_MAXOPT)
        return -1;
    o[(*n)++] = (tdi_sweep_budget_opt){k, w, e};
    return 0;
}

static int level_of(tdi_sweep_budget *b, const char *name)
{
    for (size_t l = 0; l < b->n_lv; l++)
        if (strcmp(b->lv[l], name) == 0)
            return (int)l;
    if (b->n_lv >= TDI_SWEEP_BUDGET_MAXLV)
        return -1;
    snprintf(b->lv[b->n_lv], sizeof b->lv[0], "%s", name);
    return (int)b->n_lv++;
}

/* one row of the table into the budget's options */
static int take_row(tdi_sweep_budget *b, const char *lv, const char *cf, long k, double w,
                    double e)
{
    if (strcmp(lv, "all") == 0) {
        if (strcmp(cf, "unmodified") == 0)
            b->eps0 = e;
        else if (strcmp(cf, "substrate") == 0 && k >= 1)
            return opt_add(b->eq, &b->n_eq, k, w, e);
        return 0;
    }
    int l = strcmp(cf, "substrate") == 0 || strcmp(cf, "mean") == 0 ? level_of(b, lv) : 0;
    if (l < 0)
        return -1;
    if (strcmp(cf, "substrate") == 0 && k >= 1)
        return opt_add(b->opt[l], &b->n_opt[l], k, w, e);
    if (strcmp(cf, "mean") == 0)
        return opt_add(b->opt[l], &b->n_opt[l], 0, 0.0, e);
    return 0;
}

int tdi_sweep_budget_read(const char *csv, const char *wires_col, tdi_sweep_budget *b,
                          tdi_err *err)
{
    memset(b, 0, sizeof *b);
    b->eps0 = NAN;
    tdi_sweep_table t;
    int rc = tdi_sweep_table_read(csv, &t, err);
    if (rc)
        return rc;
    const char *need[5] = {"level", "config", "k", wires_col, "eps_mse_all"};
    int c[5];
    for (int q = 0; q < 5 && !rc; q++)
        if ((c[q] = tdi_sweep_table_col(&t, need[q])) < 0)
            rc = tdi_err_set(err, TDI_EFORMAT, "%s: no column '%s' (the e2e table's columns: "
                             "docs/e2e.md)", csv, need[q]);
    int ce = tdi_sweep_table_col(&t, "engine");
    for (size_t r = 0; r < t.nrow && !rc; r++) {
        char *const *row = t.cell + r * t.ncol;
        if (ce >= 0 && strcmp(row[ce], "sde") == 0)
            continue; /* the table's statistical check rows, not options */
        if (take_row(b, row[c[0]], row[c[1]], strtol(row[c[2]], NULL, 10),
                     strtod(row[c[3]], NULL), strtod(row[c[4]], NULL)))
            rc = tdi_err_set(err, TDI_EFORMAT, "%s: row %zu: more than %d levels or %d ranks "
                             "per level", csv, r + 2, TDI_SWEEP_BUDGET_MAXLV,
                             TDI_SWEEP_BUDGET_MAXOPT);
    }
    if (!rc && (isnan(b->eps0) || b->n_lv == 0))
        rc = tdi_err_set(err, TDI_EFORMAT, "%s: needs the unmodified row (level all) and the "
                         "substrate rows of at least one level", csv);
    tdi_sweep_table_destroy(&t);
    return rc;
}

double tdi_sweep_budget_predict(const tdi_sweep_budget *b, const size_t *pick)
{
    double e = b->eps0;
    for (size_t l = 0; l < b->n_lv; l++)
        e += b->opt[l][pick[l]].eps - b->eps0;
    return e;
}

double tdi_sweep_budget_wires(const tdi_sweep_budget *b, const size_t *pick)
{
    double w = 0;
    for (size_t l = 0; l < b->n_lv; l++)
        w += b->opt[l][pick[l]].wires;
    return w;
}

/* the next combination of options (odometer order); 0 after the last */
static int next_pick(const tdi_sweep_budget *b, size_t *pick)
{
    for (size_t l = 0; l < b->n_lv; l++) {
        if (++pick[l] < b->n_opt[l])
            return 1;
        pick[l] = 0;
    }
    return 0;
}

int tdi_sweep_budget_choose(const tdi_sweep_budget *b, double W, size_t *best)
{
    size_t pick[TDI_SWEEP_BUDGET_MAXLV] = {0};
    double be = INFINITY, bw = INFINITY;
    int found = 0;
    for (size_t l = 0; l < b->n_lv; l++)
        if (b->n_opt[l] == 0)
            return 0;
    do {
        double w = tdi_sweep_budget_wires(b, pick), e = tdi_sweep_budget_predict(b, pick);
        /* ties in eps: fewer wires */
        if (w <= W && (e < be || (e == be && w < bw))) {
            be = e;
            bw = w;
            memcpy(best, pick, b->n_lv * sizeof *best);
            found = 1;
        }
    } while (next_pick(b, pick));
    return found;
}
