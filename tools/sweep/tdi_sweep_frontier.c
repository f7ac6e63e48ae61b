/* tdi_sweep_frontier: the frontier figure of a results file (fidelity against energy per
 * inference, log x) with the digital-equivalent and GPU energies and the analytic equilibrium
 * as reference lines, the paper's theta = 1 points and the analog read-out (rc) points marked.
 * Invariants (the same rules as the other plots): the data go to data files and the script
 * text holds only numbers and fixed strings (nothing from the CSV or the command line); gnuplot
 * runs through tdi_sweep_gnuplot (fork/execvp in the output directory, never a shell).
 * Non-goals: the Pareto computation (tdi_sweep_pareto.c), the other figures (tdi_sweep_plot.c). */
#include "tdi_sweep.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_io.h"

/* The median of a column over the rows with status ok (NaN when none). */
static double col_median(const tdi_sweep_table *t, const char *name, int analytic_only)
{
    int c = tdi_sweep_table_col(t, name), cs = tdi_sweep_table_col(t, "status"),
        ce = tdi_sweep_table_col(t, "engine");
    if (c < 0 || cs < 0 || ce < 0)
        return NAN;
    double *v = malloc((t->nrow ? t->nrow : 1) * sizeof *v);
    size_t n = 0;
    for (size_t r = 0; v && r < t->nrow; r++) {
        char **row = t->cell + r * t->ncol;
        if (strcmp(row[cs], "ok") != 0 ||
            (analytic_only && strcmp(row[ce], "analytic") != 0))
            continue;
        double x = strtod(row[c], NULL);
        if (isfinite(x))
            v[n++] = x;
    }
    double m = NAN;
    for (size_t i = 0; i < n; i++) /* insertion sort: a few hundred rows */
        for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
            double s = v[j];
            v[j] = v[j - 1];
            v[j - 1] = s;
        }
    if (n)
        m = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    free(v);
    return m;
}

/* frontier.dat: energy, fidelity, on-Pareto, theta == 1, avg_relax (or 0), analog read-out
 * (readout_stage rc: 1; none or no such column: 0), sorted by energy. */
static int write_points(const char *dir, const tdi_sweep_table *t, const tdi_sweep_point *p,
                        const unsigned char *on, size_t n, tdi_err *err)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/frontier.dat", dir);
    tdi_atomic_file af;
    int rc = tdi_atomic_open(&af, path, err);
    if (rc)
        return rc;
    int ct = tdi_sweep_table_col(t, "theta"), ca = tdi_sweep_table_col(t, "avg_relax");
    int cr = tdi_sweep_table_col(t, "readout_stage");
    fprintf(af.f, "# E_total_J fidelity pareto theta_is_1 avg_relax readout_rc\n");
    for (size_t i = 0; i < n; i++) {
        char **row = t->cell + p[i].row * t->ncol;
        double th = ct >= 0 ? strtod(row[ct], NULL) : NAN;
        double av = ca >= 0 ? strtod(row[ca], NULL) : 0;
        int ro = cr >= 0 && strcmp(row[cr], "rc") == 0;
        fprintf(af.f, "%.10g %.10g %d %d %.10g %d\n", p[i].energy, p[i].fid, on[i],
                fabs(th - 1.0) < 1e-9, av, ro);
    }
    return tdi_atomic_commit(&af, err);
}

/* Two panels: left, the points' energy range with the digital equivalent (the comparison that
 * matters); right, the whole range up to the GPU's energies (10^5 x further right). */
/* frontier_front.dat: the fidelity-energy front (time ignored), sorted by energy. */
static int write_front(const char *dir, const tdi_sweep_point *p, size_t n, tdi_err *err)
{
    tdi_sweep_point *q = malloc(n * sizeof *q);
    unsigned char *on = malloc(n);
    if (!q || !on) {
        free(q);
        free(on);
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        q[i] = p[i];
        q[i].time = 0;
    }
    tdi_sweep_pareto(q, n, on);
    char path[1200];
    snprintf(path, sizeof path, "%s/frontier_front.dat", dir);
    tdi_atomic_file af;
    int rc = tdi_atomic_open(&af, path, err);
    if (!rc) {
        fprintf(af.f, "# E_total_J fidelity (points not beaten in both, by energy)\n");
        double last = -INFINITY;
        for (size_t i = 0; i < n; i++) /* p is sorted by energy; equal points once */
            if (on[i] && q[i].fid > last) {
                fprintf(af.f, "%.10g %.10g\n", q[i].energy, q[i].fid);
                last = q[i].fid;
            }
        rc = tdi_atomic_commit(&af, err);
    }
    free(q);
    free(on);
    return rc;
}

static const char *const frontier_gp =
    "set terminal pngcairo size 1200,680 enhanced font 'DejaVu Sans,11' linewidth 1.5\n"
    "set output 'frontier.png'\nset datafile missing 'nan'\nset grid lc rgb '#dddddd'\n"
    "set multiplot title 'fidelity-energy frontier: %zu circuit points (sde), %zu on the "
    "Pareto set of fidelity, energy and time'\n"
    "set logscale x\nset yrange [%.6g:%.6g]\nset ylabel '%s (circuit engine)'\n"
    "set origin 0,0\nset size 0.7,0.95\nset xrange [%.6g:%.6g]\n%s"
    "set format x '%%.0s %%cJ'\n"
    "set xlabel 'energy per inference E_{total} (J)'\n"
    "set key bottom right box opaque\n"
    "set arrow 1 from %.10g, graph 0 to %.10g, graph 1 nohead lc rgb '#1f77b4' dt 2 lw 2\n"
    "set label 1 'digital equivalent' at %.10g, graph 0.5 right rotate by 90 offset -1.0,0 "
    "tc rgb '#1f77b4'\n"
    "set arrow 2 from graph 0, first %.10g to graph 1, first %.10g nohead lc rgb '#2ca02c' "
    "dt 4 lw 2\n"
    "set label 2 'analytic equilibrium' at graph 0.02, first %.10g offset 0,0.7 "
    "tc rgb '#2ca02c'\n"
    "plot 'frontier.dat' using ($6 == 1 ? 1/0 : $1):2 with points pt 7 ps 0.6 "
    "lc rgb '#aaaaaa' title 'ADC averaging (readout\\_stage none)', \\\n"
    "     '' using ($6 == 1 ? $1 : 1/0):2 with points pt 8 ps 0.8 lc rgb '#17becf' "
    "title 'analog read-out (readout\\_stage rc)', \\\n"
    "     '' using ($3 == 1 ? $1 : 1/0):2 with points pt 7 ps 0.9 lc rgb '#000000' "
    "title 'Pareto set (fidelity, energy, time)', \\\n"
    "     'frontier_front.dat' using 1:2 with steps lw 2 lc rgb '#000000' "
    "title 'best fidelity at each energy', \\\n"
    "     'frontier.dat' using ($4 == 1 ? $1 : 1/0):2 with points pt 6 ps 2.0 lw 2 "
    "lc rgb '#9467bd' title \"theta = 1 (the paper's kT = 1)\"\n"
    "unset arrow\nunset label\nunset ylabel\nunset key\nset format y ''\n"
    "set origin 0.7,0\nset size 0.3,0.95\nset xrange [%.6g:%.6g]\nset xtics 1e-9,1e3\n"
    "set format x '10^{%%L}'\nset xlabel 'E (J), to the GPU'\n"
    "set arrow 1 from %.10g, graph 0 to %.10g, graph 1 nohead lc rgb '#1f77b4' dt 2 lw 2\n"
    "set arrow 2 from %.10g, graph 0 to %.10g, graph 1 nohead lc rgb '#d62728' dt 2 lw 2\n"
    "set label 2 'GPU, whole U-Net step' at %.10g, graph 0.5 right rotate by 90 offset 1.3,0 "
    "tc rgb '#d62728'\n"
    "set arrow 3 from %.10g, graph 0 to %.10g, graph 1 nohead lc rgb '#ff7f0e' dt 3 lw 2\n"
    "set label 3 'GPU, replaced part' at %.10g, graph 0.5 right rotate by 90 offset -1.0,0 "
    "tc rgb '#ff7f0e'\n"
    "plot 'frontier.dat' using 1:2 with points pt 7 ps 0.6 lc rgb '#aaaaaa' notitle\n"
    "unset multiplot\n";

int tdi_sweep_frontier_plot(const char *csv, const char *metric, const char *outdir, FILE *log,
                            tdi_err *err)
{
    tdi_sweep_table t;
    tdi_sweep_point *p = NULL;
    unsigned char *on = NULL;
    size_t n = 0;
    int rc = tdi_sweep_table_read(csv, &t, err);
    if (rc)
        return rc;
    if ((rc = tdi_sweep_points(&t, metric, &p, &n, err)) || (rc = tdi_mkdirs(outdir, err)))
        goto done;
    if (n == 0) {
        rc = tdi_err_set(err, TDI_EFORMAT, "%s: no circuit point (status ok, engine sde or "
                         "spice) to plot", csv);
        goto done;
    }
    on = malloc(n);
    if (!on) {
        rc = tdi_err_set(err, TDI_ENOMEM, "out of memory");
        goto done;
    }
    tdi_sweep_pareto(p, n, on);
    size_t non = 0;
    double emin = INFINITY, emax = 0, flo = INFINITY, fhi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        non += on[i];
        if (isfinite(p[i].energy) && p[i].energy > 0) {
            emin = fmin(emin, p[i].energy);
            emax = fmax(emax, p[i].energy);
        }
        if (isfinite(p[i].fid)) {
            flo = fmin(flo, p[i].fid);
            fhi = fmax(fhi, p[i].fid);
        }
    }
    /* the equilibrium's fidelity: the circuit rows' ideal-DAC analytic column, else the
       analytic rows' own */
    char ideal[32];
    snprintf(ideal, sizeof ideal, "ideal_%s", metric);
    double edig = col_median(&t, "E_digeq_J", 0), egpu = col_median(&t, "gpu_step_J", 0),
           epart = col_median(&t, "gpu_part_J", 0), fana = col_median(&t, ideal, 0);
    if (!isfinite(fana))
        fana = col_median(&t, metric, 1);
    double zlo = emin, zhi = emax; /* the left panel: the points and the digital equivalent */
    if (isfinite(edig) && edig > 0) {
        zlo = fmin(zlo, edig);
        zhi = fmax(zhi, edig);
    }
    const double lines[3] = {edig, egpu, epart};
    for (int q = 0; q < 3; q++)
        if (isfinite(lines[q]) && lines[q] > 0) {
            emin = fmin(emin, lines[q]);
            emax = fmax(emax, lines[q]);
        }
    if (isfinite(fana))
        fhi = fmax(fhi, fana);
    if (!isfinite(emin) || !(emax > 0)) {
        rc = tdi_err_set(err, TDI_EFORMAT, "%s: no positive energy to plot", csv);
        goto done;
    }
    double ylo = fmax(flo - 0.05 * (fhi - flo + 1e-3), -1.0), yhi = fhi + 0.08;
    if ((rc = write_points(outdir, &t, p, on, n, err)) || (rc = write_front(outdir, p, n, err)))
        goto done;
    /* a line that is absent (NaN) is drawn off the axes */
    double off = emin / 1e3;
    char *gp = NULL;
    double ed = isfinite(edig) ? edig : off, eg = isfinite(egpu) ? egpu : off,
           ep = isfinite(epart) ? epart : off, fa = isfinite(fana) ? fana : yhi + 1;
    char tics[400] = "set xtics (", *tp = tics + strlen(tics); /* 1, 2, 5 per decade */
    for (int d = (int)floor(log10(zlo / 1.5)); d <= (int)ceil(log10(zhi * 1.5)); d++)
        for (int m = 0; m < 3 && tp < tics + sizeof tics - 40; m++)
            tp += snprintf(tp, 40, "%s%.0e", tp[-1] == '(' ? "" : ", ",
                           (m == 0 ? 1.0 : m == 1 ? 2.0 : 5.0) * pow(10.0, d));
    snprintf(tp, 8, ")\n");
    if (asprintf(&gp, frontier_gp, n, non, ylo, yhi,
                 strcmp(metric, "r2") == 0 ? "R^2" : "centered cosine", zlo / 1.5, zhi * 1.5,
                 tics,
                 ed, ed, ed, fa, fa, fa, emin / 3, emax * 3, ed, ed, eg, eg, eg, ep, ep,
                 ep) < 0) {
        rc = tdi_err_set(err, TDI_ENOMEM, "out of memory");
        goto done;
    }
    rc = tdi_sweep_gnuplot(outdir, "frontier", gp, NULL, err);
    free(gp);
    if (!rc && log)
        fprintf(log, "wrote %s/frontier.png (%zu points, %zu on the Pareto set; digital "
                "equivalent %.4g J, GPU step %.4g J, analytic %s %.4f)\n", outdir, n, non, edig,
                egpu, metric, fana);
done:
    free(on);
    free(p);
    tdi_sweep_table_destroy(&t);
    return rc;
}
