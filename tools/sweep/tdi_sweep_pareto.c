/* tdi_sweep_pareto: the fidelity-energy-time frontier of a sweep's results. The Pareto set
 * (fidelity up, energy per inference down, time to solution down), the cheapest point meeting a
 * fidelity target, and a results.csv reader (tdi_sweep_csv_split) for them and the frontier plot.
 * Invariant: the fidelity of a row is its own engine's metric; analytic rows (the equilibrium)
 * are never points. Non-goals: plotting (tdi_sweep_frontier.c), running sweeps. */
#include "tdi_sweep.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_io.h"

/* b dominates a: at least as good in all three and better in one, where energies and times
 * within TDI_SWEEP_PARETO_TOL (relative) count as equal */
static int dominates(const tdi_sweep_point *b, const tdi_sweep_point *a)
{
    const double t = TDI_SWEEP_PARETO_TOL;
    int no_worse = b->fid >= a->fid && b->energy <= a->energy * (1 + t) &&
                   b->time <= a->time * (1 + t);
    int better = b->fid > a->fid || b->energy < a->energy * (1 - t) ||
                 b->time < a->time * (1 - t);
    return no_worse && better;
}

static int finite3(const tdi_sweep_point *a)
{
    return isfinite(a->fid) && isfinite(a->energy) && isfinite(a->time);
}

void tdi_sweep_pareto(const tdi_sweep_point *p, size_t n, unsigned char *on)
{
    for (size_t i = 0; i < n; i++) {
        on[i] = (unsigned char)finite3(&p[i]);
        for (size_t j = 0; j < n && on[i]; j++)
            if (j != i && finite3(&p[j]) && dominates(&p[j], &p[i]))
                on[i] = 0;
    }
}

long tdi_sweep_cheapest(const tdi_sweep_point *p, size_t n, double target)
{
    long best = -1;
    for (size_t i = 0; i < n; i++) {
        if (!finite3(&p[i]) || !(p[i].fid >= target))
            continue;
        if (best < 0) {
            best = (long)i;
            continue;
        }
        const tdi_sweep_point *b = &p[best];
        const double t = TDI_SWEEP_PARETO_TOL;
        int e_lt = p[i].energy < b->energy * (1 - t);
        int e_eq = !e_lt && p[i].energy <= b->energy * (1 + t);
        int t_lt = p[i].time < b->time * (1 - t), t_eq = !t_lt && p[i].time <= b->time * (1 + t);
        if (e_lt || (e_eq && (t_lt || (t_eq && p[i].fid > b->fid))))
            best = (long)i;
    }
    return best;
}

/* ---------------------------------------------------------------- the table */
void tdi_sweep_table_destroy(tdi_sweep_table *t)
{
    free(t->buf);
    free(t->head);
    free(t->cell);
    memset(t, 0, sizeof *t);
}

int tdi_sweep_table_col(const tdi_sweep_table *t, const char *name)
{
    for (size_t i = 0; i < t->ncol; i++)
        if (strcmp(t->head[i], name) == 0)
            return (int)i;
    return -1;
}

int tdi_sweep_table_read(const char *path, tdi_sweep_table *t, tdi_err *err)
{
    memset(t, 0, sizeof *t);
    size_t size = 0;
    int rc = tdi_file_read_max(path, TDI_READ_MAX_LOG, &t->buf, &size, err);
    if (rc)
        return rc;
    size_t lines = 1, cap = 1;
    for (size_t i = 0; i < size; i++)
        lines += t->buf[i] == '\n';
    for (const char *q = t->buf; *q && *q != '\n'; q++)
        cap += *q == ',';
    t->head = calloc(cap, sizeof *t->head);
    t->cell = calloc(lines * cap, sizeof *t->cell);
    if (!t->head || !t->cell) {
        tdi_sweep_table_destroy(t);
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    }
    size_t lineno = 0;
    for (char *p = t->buf, *next; p && *p; p = next) {
        char *nl = strchr(p, '\n');
        next = nl ? nl + 1 : NULL;
        if (nl)
            *nl = '\0';
        if (nl && nl > p && nl[-1] == '\r')
            nl[-1] = '\0';
        if (lineno++ && !*p)
            continue; /* an empty line */
        char **dst = lineno == 1 ? t->head : t->cell + t->nrow * t->ncol;
        long nf = tdi_sweep_csv_split(p, dst, lineno == 1 ? cap : t->ncol);
        if (lineno == 1) {
            t->ncol = nf > 0 ? (size_t)nf : 0;
            continue;
        }
        if (nf != (long)t->ncol) {
            tdi_sweep_table_destroy(t);
            return tdi_err_set(err, TDI_EFORMAT, "%s:%zu: %s (the header has %zu fields)", path,
                               lineno, nf < 0 ? "malformed quoted cell" : "wrong field count",
                               cap);
        }
        t->nrow++;
    }
    if (t->ncol == 0) {
        tdi_sweep_table_destroy(t);
        return tdi_err_set(err, TDI_EFORMAT, "%s:1: no header", path);
    }
    return 0;
}

/* ---------------------------------------------------------------- points and the report */
/* by energy, then row (a total order: qsort's result is then unique) */
static int cmp_energy(const void *a, const void *b)
{
    const tdi_sweep_point *x = a, *y = b;
    if (x->energy != y->energy)
        return (x->energy > y->energy) - (x->energy < y->energy);
    return (x->row > y->row) - (x->row < y->row);
}

int tdi_sweep_points(const tdi_sweep_table *t, const char *metric, tdi_sweep_point **pts,
                     size_t *n, tdi_err *err)
{
    *pts = NULL;
    *n = 0;
    if (strcmp(metric, "cos_centered") != 0 && strcmp(metric, "r2") != 0)
        return tdi_err_set(err, TDI_EARG, "frontier: metric '%s': choose cos_centered or r2",
                           metric);
    int cs = tdi_sweep_table_col(t, "status"), ce = tdi_sweep_table_col(t, "engine"),
        cf = tdi_sweep_table_col(t, metric), cE = tdi_sweep_table_col(t, "E_total_J"),
        cT = tdi_sweep_table_col(t, "time_to_solution_s");
    if (cs < 0 || ce < 0 || cf < 0 || cE < 0 || cT < 0)
        return tdi_err_set(err, TDI_EFORMAT, "frontier: the results file lacks one of the "
                           "columns status, engine, %s, E_total_J, time_to_solution_s", metric);
    tdi_sweep_point *p = malloc((t->nrow ? t->nrow : 1) * sizeof *p);
    if (!p)
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    for (size_t r = 0; r < t->nrow; r++) {
        char **c = t->cell + r * t->ncol;
        if (strcmp(c[cs], "ok") != 0 || strcmp(c[ce], "analytic") == 0)
            continue;
        p[*n] = (tdi_sweep_point){r, strtod(c[cf], NULL), strtod(c[cE], NULL),
                                  strtod(c[cT], NULL)};
        (*n)++;
    }
    qsort(p, *n, sizeof *p, cmp_energy);
    *pts = p;
    return 0;
}

/* one line: the point's inputs (every input column up to seed) and its three objectives */
static void print_point(FILE *out, const tdi_sweep_table *t, const tdi_sweep_point *p)
{
    static const char *const keys[] = {"job", "theta", "dac_bits", "adc_bits", "avg_relax",
                                       "readout_stage", "engine"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        int c = tdi_sweep_table_col(t, keys[k]);
        if (c >= 0)
            fprintf(out, "%s %s  ", keys[k], t->cell[p->row * t->ncol + (size_t)c]);
    }
    fprintf(out, "| fidelity %.4f  E %.4g J  t %.4g s\n", p->fid, p->energy, p->time);
}

int tdi_sweep_frontier_report(const char *csv, const char *metric, double target, FILE *out,
                              tdi_err *err)
{
    tdi_sweep_table t;
    tdi_sweep_point *p = NULL;
    size_t n = 0;
    int rc = tdi_sweep_table_read(csv, &t, err);
    if (rc)
        return rc;
    unsigned char *on = NULL;
    if ((rc = tdi_sweep_points(&t, metric, &p, &n, err)))
        goto done;
    on = malloc(n ? n : 1);
    if (!on) {
        rc = tdi_err_set(err, TDI_ENOMEM, "out of memory");
        goto done;
    }
    tdi_sweep_pareto(p, n, on);
    size_t non = 0;
    for (size_t i = 0; i < n; i++)
        non += on[i];
    fprintf(out, "frontier of %s: %zu circuit points (status ok, engine not analytic); "
            "fidelity = %s of the row's engine; %zu on the Pareto set (fidelity up, energy per "
            "inference down, time to solution down), by energy:\n", csv, n, metric, non);
    for (size_t i = 0; i < n; i++)
        if (on[i]) {
            fprintf(out, "  ");
            print_point(out, &t, &p[i]);
        }
    if (isfinite(target)) {
        long b = tdi_sweep_cheapest(p, n, target);
        if (b < 0) {
            fprintf(out, "no point reaches %s >= %.4g\n", metric, target);
            rc = tdi_err_set(err, TDI_ENUM, "frontier: no point of %s reaches %s >= %.4g", csv,
                             metric, target);
        } else {
            fprintf(out, "cheapest point with %s >= %.4g: ", metric, target);
            print_point(out, &t, &p[b]);
        }
    }
done:
    free(on);
    free(p);
    tdi_sweep_table_destroy(&t);
    return rc;
}
