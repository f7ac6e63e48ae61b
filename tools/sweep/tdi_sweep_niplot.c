/* tdi_sweep_niplot: fidelity against each swept non-ideality (docs/nonideal.md, "Sweeps"): per
 * non-ideality xaxis that varies in the results, nonideal_<key>.png with the centered cosine and
 * the normalised rms error sqrt(1 - R^2) against it, mean +- std over the chips (and
 * replicates) of each series (engine, samples, calibrate, ...; a calibrated series draws the
 * cal_* columns), the ideal circuit and the baselines of fidelity_vs_k (from the figure's first
 * series' first row) as horizontal lines. Invariants: rows whose other non-idealities are not at
 * their smallest value in the file are left out of a figure; no text of a CSV enters a script
 * (legends are data-file header fields, as in tdi_sweep_plot.c). Non-goal: 2-D maps of two
 * non-idealities. */
#include "tdi_sweep.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_cfg.h"
#include "tdi_io.h"

#define NI_MAXT 8    /* results files */
#define NI_MAXS 16   /* series per figure */
#define NI_MAXX 64   /* x values per series */

/* the rows of several results files with one header */
typedef struct ni_rows {
    tdi_sweep_table t[NI_MAXT];
    size_t nt;
} ni_rows;

static const char *cell(const ni_rows *R, size_t t, size_t r, const char *name)
{
    int c = tdi_sweep_table_col(&R->t[t], name);
    return c >= 0 ? R->t[t].cell[r * R->t[t].ncol + (size_t)c] : "";
}

static double num(const ni_rows *R, size_t t, size_t r, const char *name)
{
    const char *s = cell(R, t, r, name);
    char *e;
    double v = strtod(s, &e);
    return (e != s && !*e) ? v : NAN;
}

/* x-axis text and scale of each non-ideality (fixed text: never from the CSV) */
static const struct {
    const char *key, *label;
    double scale;
} ni_label[] = {
    {"gain_sigma", "coupling-element gain mismatch, relative std (%)", 100},
    {"self_sigma", "self-element gain mismatch, relative std (%)", 100},
    {"offset_sigma", "transconductor input offset, std (mV)", 1e3},
    {"gout", "transconductor output conductance / |g| (%)", 100},
    {"cap_sigma", "unit capacitor mismatch, relative std (%)", 100},
    {"temperature", "chip temperature (K; at the design temperature: the ideal line)", 1},
    {"adc_offset", "ADC offset, std (LSB)", 1},
    {"adc_gain_err", "ADC gain error, relative std (%)", 100},
    {"adc_inl", "ADC INL, largest |INL| (LSB)", 1},
    {"dac_offset", "DAC offset, std (LSB)", 1},
    {"dac_gain_err", "DAC gain error, relative std (%)", 100},
    {"dac_inl", "DAC INL, largest |INL| (LSB)", 1},
};

/* the non-ideality columns of the file: indices into tdi_sweep_xaxes */
static size_t ni_axes(const ni_rows *R, size_t *ax)
{
    size_t n = 0;
    for (size_t x = 0; x < tdi_sweep_n_xaxes; x++)
        if (tdi_sweep_xaxes[x].nonideal && tdi_sweep_table_col(&R->t[0], tdi_sweep_xaxes[x].key) >= 0)
            ax[n++] = x;
    return n;
}

static int row_ok(const ni_rows *R, size_t t, size_t r)
{
    return strcmp(cell(R, t, r, "status"), "ok") == 0;
}

/* smallest value of a column over the ok rows */
static double col_min(const ni_rows *R, const char *key)
{
    double m = INFINITY;
    for (size_t t = 0; t < R->nt; t++)
        for (size_t r = 0; r < R->t[t].nrow; r++)
            if (row_ok(R, t, r))
                m = fmin(m, num(R, t, r, key));
    return m;
}

/* 1 when a non-ideality column or the chip column holds two values in the ok rows */
static int ni_varies(const ni_rows *R)
{
    size_t ax[TDI_SWEEP_NX], na = ni_axes(R, ax);
    const char *keys[TDI_SWEEP_NX + 1];
    for (size_t a = 0; a < na; a++)
        keys[a] = tdi_sweep_xaxes[ax[a]].key;
    keys[na] = "chip";
    for (size_t a = 0; a <= na; a++) {
        double lo = INFINITY, hi = -INFINITY;
        for (size_t t = 0; t < R->nt; t++)
            for (size_t r = 0; r < R->t[t].nrow; r++)
                if (row_ok(R, t, r)) {
                    double v = num(R, t, r, keys[a]);
                    lo = fmin(lo, v);
                    hi = fmax(hi, v);
                }
        if (hi > lo)
            return 1;
    }
    return 0;
}

static void ni_free(ni_rows *R)
{
    for (size_t t = 0; t < R->nt; t++)
        tdi_sweep_table_destroy(&R->t[t]);
    R->nt = 0;
}

/* Reads the files; every header must equal the first's and the legend cells be names. */
static int ni_read(const char *const *csv, size_t ncsv, ni_rows *R, tdi_err *err)
{
    memset(R, 0, sizeof *R);
    if (ncsv > NI_MAXT)
        return tdi_err_set(err, TDI_EARG, "plot: more than %d results files", NI_MAXT);
    for (size_t i = 0; i < ncsv; i++) {
        int rc = tdi_sweep_table_read(csv[i], &R->t[i], err);
        if (rc)
            return rc;
        R->nt++;
        int same = R->t[i].ncol == R->t[0].ncol;
        for (size_t c = 0; same && c < R->t[0].ncol; c++)
            same = strcmp(R->t[i].head[c], R->t[0].head[c]) == 0;
        if (!same)
            return tdi_err_set(err, TDI_EFORMAT, "%s:1: header differs from %s's", csv[i],
                               csv[0]);
        static const char *const words[] = {"engine", "calibrate", "preset", "readout_stage"};
        for (size_t r = 0; r < R->t[i].nrow; r++)
            for (size_t w = 0; w < 4 && row_ok(R, i, r); w++)
                if (tdi_sweep_table_col(&R->t[i], words[w]) >= 0 &&
                    !tdi_cfg_name_ok(cell(R, i, r, words[w])))
                    return tdi_err_set(err, TDI_EFORMAT, "%s: data row %zu, column %s: not a "
                                       "name (docs/formats.md)", csv[i], r + 1, words[w]);
    }
    return 0;
}

/* ------------------------------------------------------------------ one figure's data */
/* the inputs that split rows into series (besides the swept axis, chip, replicate, seed, job) */
static const char *const ser_cols[] = {"preset", "D", "k", "theta", "dac_bits", "adc_bits",
                                       "avg_relax", "readout_stage", "unit", "skip", "engine",
                                       "samples", "calibrate"};
#define NSER (sizeof ser_cols / sizeof ser_cols[0])

typedef struct ni_series {
    char key[256], title[160];
    double x[NI_MAXX];
    double s[NI_MAXX][4];    /* sums of d, d^2 for the centered cosine and the rms error, d =
                                value - the point's first value (no cancellation at std 0) */
    double v0[NI_MAXX][2];   /* the point's first values */
    size_t n[NI_MAXX], nx;
    int engine;              /* 0 analytic, 1 sde, 2 spice */
    int calibrated;          /* calibrate probe | loop: the points are the cal_* columns */
    double samples;          /* test samples of its rows */
    size_t t0, r0;           /* its first row (file, row): the baselines' */
} ni_series;

typedef struct ni_fig {
    size_t axis;             /* index into tdi_sweep_xaxes */
    double scale;
    const char *label;
    ni_series s[NI_MAXS];
    size_t ns;
    double xlo, xhi;         /* scaled x range */
    size_t chips;            /* largest number of rows behind one point */
} ni_fig;

/* the row belongs to the figure of axis a: the other non-idealities at their smallest values */
static int row_in_fig(const ni_rows *R, size_t t, size_t r, const size_t *ax, size_t na,
                      size_t a, const double *mins)
{
    if (!row_ok(R, t, r))
        return 0;
    for (size_t b = 0; b < na; b++)
        if (b != a && num(R, t, r, tdi_sweep_xaxes[ax[b]].key) != mins[b])
            return 0;
    return 1;
}

static ni_series *series_of(const ni_rows *R, size_t t, size_t r, ni_fig *F, const int *vary,
                            tdi_err *err)
{
    char key[256] = "";
    for (size_t i = 0; i < NSER; i++) {
        size_t l = strlen(key);
        snprintf(key + l, sizeof key - l, "%s|", cell(R, t, r, ser_cols[i]));
    }
    for (size_t q = 0; q < F->ns; q++)
        if (strcmp(F->s[q].key, key) == 0)
            return &F->s[q];
    if (F->ns == NI_MAXS) {
        tdi_err_set(err, TDI_EARG, "plot: more than %d series in one non-ideality figure",
                    NI_MAXS);
        return NULL;
    }
    ni_series *s = &F->s[F->ns++];
    memset(s, 0, sizeof *s);
    snprintf(s->key, sizeof s->key, "%s", key);
    const char *eng = cell(R, t, r, "engine");
    s->engine = strcmp(eng, "analytic") == 0 ? 0 : strcmp(eng, "sde") == 0 ? 1 : 2;
    s->samples = num(R, t, r, "samples");
    s->t0 = t;
    s->r0 = r;
    size_t l = (size_t)snprintf(s->title, sizeof s->title, "%s", eng);
    for (size_t i = 0; i < NSER - 1; i++)
        if (vary[i] && strcmp(ser_cols[i], "engine") != 0 && l < sizeof s->title)
            l += (size_t)snprintf(s->title + l, sizeof s->title - l, ", %s %s", ser_cols[i],
                                  cell(R, t, r, ser_cols[i]));
    const char *cal = cell(R, t, r, "calibrate");
    s->calibrated = *cal && strcmp(cal, "none") != 0;
    if (l < sizeof s->title && (s->calibrated || vary[NSER - 1]))
        snprintf(s->title + l, sizeof s->title - l, s->calibrated ? ", calibrated (%s)"
                                                                  : ", uncalibrated%.0s", cal);
    return s;
}

static int add_point(ni_series *s, double x, double cc, double e, tdi_err *err)
{
    size_t i = 0;
    while (i < s->nx && s->x[i] != x)
        i++;
    if (i == s->nx) {
        if (s->nx == NI_MAXX)
            return tdi_err_set(err, TDI_EARG, "plot: more than %d values of one non-ideality",
                               NI_MAXX);
        while (i > 0 && s->x[i - 1] > x) { /* keep x sorted */
            s->x[i] = s->x[i - 1];
            memcpy(s->s[i], s->s[i - 1], sizeof s->s[i]);
            memcpy(s->v0[i], s->v0[i - 1], sizeof s->v0[i]);
            s->n[i] = s->n[i - 1];
            i--;
        }
        s->x[i] = x;
        memset(s->s[i], 0, sizeof s->s[i]);
        s->v0[i][0] = cc;
        s->v0[i][1] = e;
        s->n[i] = 0;
        s->nx++;
    }
    double d0 = cc - s->v0[i][0], d1 = e - s->v0[i][1];
    s->s[i][0] += d0;
    s->s[i][1] += d0 * d0;
    s->s[i][2] += d1;
    s->s[i][3] += d1 * d1;
    s->n[i]++;
    return 0;
}

/* which series columns hold two values among the ok rows (they go into the legend) */
static void series_vary(const ni_rows *R, int *vary)
{
    for (size_t i = 0; i < NSER; i++) {
        const char *first = NULL;
        vary[i] = 0;
        for (size_t t = 0; t < R->nt; t++)
            for (size_t r = 0; r < R->t[t].nrow; r++)
                if (row_ok(R, t, r)) {
                    const char *v = cell(R, t, r, ser_cols[i]);
                    if (!first)
                        first = v;
                    else if (strcmp(first, v) != 0)
                        vary[i] = 1;
                }
    }
}

/* normalised rms error: sqrt(1 - R^2) = rms(pred - truth) / rms(truth - fit-split mean) */
static double rms_err(double r2)
{
    return isfinite(r2) ? sqrt(fmax(0.0, 1.0 - r2)) : NAN;
}

static int fig_collect(const ni_rows *R, const size_t *ax, size_t na, size_t a,
                       const double *mins, ni_fig *F, tdi_err *err)
{
    int vary[NSER];
    series_vary(R, vary);
    const char *key = tdi_sweep_xaxes[ax[a]].key;
    F->xlo = INFINITY;
    F->xhi = -INFINITY;
    for (size_t t = 0; t < R->nt; t++)
        for (size_t r = 0; r < R->t[t].nrow; r++) {
            if (!row_in_fig(R, t, r, ax, na, a, mins))
                continue;
            double x = num(R, t, r, key) * F->scale;
            if (strcmp(key, "temperature") == 0 && x == 0)
                continue; /* 0 = the design's temperature: the ideal line */
            ni_series *s = series_of(R, t, r, F, vary, err);
            if (!s)
                return TDI_EARG;
            int rc = add_point(s, x, num(R, t, r, s->calibrated ? "cal_cos_centered"
                                                                : "cos_centered"),
                               rms_err(num(R, t, r, s->calibrated ? "cal_r2" : "r2")), err);
            if (rc)
                return rc;
            F->xlo = fmin(F->xlo, x);
            F->xhi = fmax(F->xhi, x);
        }
    size_t keep = 0; /* a series with one value of the axis is no line against it */
    for (size_t q = 0; q < F->ns; q++)
        if (F->s[q].nx > 1) {
            if (keep != q)
                F->s[keep] = F->s[q];
            keep++;
        }
    F->ns = keep;
    for (size_t q = 0; q < F->ns; q++)
        for (size_t i = 0; i < F->s[q].nx; i++)
            F->chips = F->s[q].n[i] > F->chips ? F->s[q].n[i] : F->chips;
    return 0;
}

/* ------------------------------------------------------------------ files */
/* data/<name>.dat of a series: header "x" title title, then x, mean and std of the centered
 * cosine, of the rms error, and the number of rows */
static int write_series(const char *dir, const char *name, const ni_series *s, tdi_err *err)
{
    tdi_atomic_file af;
    int rc = tdi_sweep_plot_data_open(&af, dir, name, ".dat", err);
    if (rc)
        return rc;
    fprintf(af.f, "# x cos_centered_mean cos_centered_std rms_err_mean rms_err_std rows (std: "
            "over chips and replicates, n - 1)\n\"x\" ");
    tdi_sweep_plot_field(af.f, s->title);
    fputc(' ', af.f);
    tdi_sweep_plot_field(af.f, s->title);
    fputs(" \"s1\" \"e\" \"s2\" \"n\"\n", af.f);
    for (size_t i = 0; i < s->nx; i++) {
        double n = (double)s->n[i], m[2], sd[2];
        for (int k = 0; k < 2; k++) {
            double md = s->s[i][2 * k] / n; /* mean of the shifted values */
            double v = n > 1 ? (s->s[i][2 * k + 1] - n * md * md) / (n - 1) : 0;
            m[k] = s->v0[i][k] + md;
            sd[k] = sqrt(fmax(0.0, v));
        }
        fprintf(af.f, "%.10g %.10g %.10g %.10g %.10g %zu\n", s->x[i], m[0], sd[0], m[1], sd[1],
                s->n[i]);
    }
    return tdi_atomic_commit(&af, err);
}

/* the reference lines: the ideal circuit per engine and sample count (mean over the rows with
 * every non-ideality at 0 and calibrate none) and the baselines (their columns in one row of the
 * figure: they depend on neither the chip nor the non-idealities, only on the test samples);
 * each a data file of two points spanning the x range */
typedef struct ni_ref {
    char title[96];
    double cc, e;
    int style;               /* 0 ideal circuit, 1 mean, 2 ceiling, 3 digital, 4 no DAC */
    int engine;
    int colour;              /* ideal lines: their order (a colour each) */
} ni_ref;

/* the ideal circuit's mean (cos_centered, rms error) over the rows of engine e and ns samples
 * with every non-ideality 0, uncalibrated; 0 rows: returns 0 */
static size_t ideal_mean(const ni_rows *R, const size_t *ax, size_t na, const char *e, double ns,
                         double *cc, double *er)
{
    size_t m = 0;
    *cc = *er = 0;
    for (size_t t = 0; t < R->nt; t++)
        for (size_t r = 0; r < R->t[t].nrow; r++) {
            int ideal = row_ok(R, t, r) && strcmp(cell(R, t, r, "engine"), e) == 0 &&
                        num(R, t, r, "samples") == ns;
            for (size_t b = 0; b < na && ideal; b++)
                ideal = num(R, t, r, tdi_sweep_xaxes[ax[b]].key) == 0;
            const char *cal = cell(R, t, r, "calibrate");
            if (ideal && (!*cal || strcmp(cal, "none") == 0)) {
                *cc += num(R, t, r, "cos_centered");
                *er += rms_err(num(R, t, r, "r2"));
                m++;
            }
        }
    if (m) {
        *cc /= (double)m;
        *er /= (double)m;
    }
    return m;
}

/* The figure's reference lines: the ideal circuit for each (engine, samples) of its series, and
 * the baselines of its first series' first row. */
static size_t refs_collect(const ni_rows *R, const size_t *ax, size_t na, const ni_fig *F,
                           ni_ref *ref)
{
    static const char *const eng[] = {"analytic", "sde", "spice"};
    size_t n = 0;
    int many = 0;
    for (size_t q = 1; q < F->ns; q++)
        many |= F->s[q].samples != F->s[0].samples;
    for (size_t q = 0; q < F->ns && n < 12; q++) {
        int dup = 0;
        for (size_t p = 0; p < q; p++)
            dup |= F->s[p].engine == F->s[q].engine && F->s[p].samples == F->s[q].samples;
        double cc, er;
        if (dup || !ideal_mean(R, ax, na, eng[F->s[q].engine], F->s[q].samples, &cc, &er))
            continue;
        ref[n] = (ni_ref){.cc = cc, .e = er, .style = 0, .engine = F->s[q].engine,
                          .colour = (int)n, .title = ""};
        if (many)
            snprintf(ref[n].title, sizeof ref[n].title, "ideal circuit (%s, %g samples)",
                     eng[F->s[q].engine], F->s[q].samples);
        else
            snprintf(ref[n].title, sizeof ref[n].title, "ideal circuit (%s)",
                     eng[F->s[q].engine]);
        n++;
    }
    static const char *const base[] = {"mean", "ceil", "digital", "ideal"};
    static const char *const btitle[] = {"mean baseline (fit-split mean)",
                                         "rank-k ceiling (best rank-k linear map)",
                                         "digital shortcut y = B^-1 b_dec",
                                         "exact equilibrium without DAC"};
    for (int b = 0; b < 4 && F->ns; b++) {
        char c1[32], c2[32];
        snprintf(c1, sizeof c1, "%s_cos_centered", base[b]);
        snprintf(c2, sizeof c2, "%s_r2", base[b]);
        double v = num(R, F->s[0].t0, F->s[0].r0, c1);
        double w = rms_err(num(R, F->s[0].t0, F->s[0].r0, c2));
        if (isfinite(v)) {
            ref[n] = (ni_ref){.cc = v, .e = w, .style = 1 + b, .engine = 0, .title = ""};
            snprintf(ref[n].title, sizeof ref[n].title, "%s", btitle[b]);
            n++;
        }
    }
    return n;
}

static int write_ref(const char *dir, const char *name, const ni_ref *f, double xlo, double xhi,
                     tdi_err *err)
{
    tdi_atomic_file af;
    int rc = tdi_sweep_plot_data_open(&af, dir, name, ".dat", err);
    if (rc)
        return rc;
    fputs("# x cos_centered rms_err (a horizontal reference line)\n\"x\" ", af.f);
    tdi_sweep_plot_field(af.f, f->title);
    fputc(' ', af.f);
    tdi_sweep_plot_field(af.f, f->title);
    fprintf(af.f, "\n%.10g %.10g %.10g\n%.10g %.10g %.10g\n", xlo, f->cc, f->e, xhi, f->cc,
            f->e);
    return tdi_atomic_commit(&af, err);
}

/* ------------------------------------------------------------------ the figure */
static const char *const ni_colour[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
                                        "#8c564b", "#e377c2", "#17becf"};

static const char *const ideal_colour[] = {"black", "#08306b", "#7f2704", "#3f007d"};

static void fig_script(FILE *f, const ni_fig *F, const char *name, size_t nref,
                       const ni_ref *ref)
{
    fprintf(f, "set terminal pngcairo size 1500,640 enhanced font 'DejaVu Sans,11' linewidth "
            "1.5\nset output '%s.png'\nset datafile missing 'nan'\nset grid lc rgb '#dddddd'\n"
            "set key at screen 0.79,0.88 left top vertical Left reverse box opaque font ',9' "
            "width -8\n", name);
    fprintf(f, "set multiplot title 'Decoder fidelity against %s: mean +- std over up to %zu "
            "chips per point (band and bars); the other non-idealities at their smallest "
            "values' font ',12' noenhanced\n", tdi_sweep_xaxes[F->axis].key, F->chips);
    fprintf(f, "set xlabel '%s' noenhanced\nset xrange [%.10g:%.10g]\n", F->label,
            F->xlo - 0.02 * (F->xhi - F->xlo), F->xhi + 0.02 * (F->xhi - F->xlo));
    static const int dt[] = {1, 2, 3, 4, 5};
    for (int panel = 0; panel < 2; panel++) {
        fprintf(f, "set lmargin at screen %.3f\nset rmargin at screen %.3f\nset tmargin at "
                "screen 0.88\nset bmargin at screen 0.12\n", panel ? 0.43 : 0.05,
                panel ? 0.78 : 0.38);
        fprintf(f, "set ylabel '%s'\n%s", panel ? "normalised rms error sqrt(1 - R^2)"
                                                : "centered cosine (minus fit-split mean)",
                panel ? "set key\nset yrange [0:*]\n" : "unset key\nset yrange [*:1.02]\n");
        fprintf(f, "plot ");
        int c = 2 + 2 * panel;
        for (size_t q = 0; q < F->ns; q++) {
            const char *col = ni_colour[q % 8];
            fprintf(f, "%s'data/%s_s%zu.dat' using 1:($%d-$%d):($%d+$%d) with filledcurves fs "
                    "transparent solid 0.15 noborder lc rgb '%s' notitle, \\\n     "
                    "'data/%s_s%zu.dat' using 1:%d:%d with yerrorlines lc rgb '%s' pt %d ps 0.9 "
                    "title columnheader(%d) noenhanced", q ? ", \\\n     " : "", name, q, c,
                    c + 1, c, c + 1, col, name, q, c, c + 1, col,
                    F->s[q].engine == 0 ? 7 : F->s[q].engine == 1 ? 5 : 9, 2 + panel);
        }
        for (size_t i = 0; i < nref; i++)
            fprintf(f, ", \\\n     'data/%s_r%zu.dat' using 1:%d with lines lc rgb '%s' dt %d "
                    "lw %s title columnheader(%d) noenhanced", name, i, 2 + panel,
                    ref[i].style ? "#555555" : ideal_colour[ref[i].colour % 4],
                    dt[ref[i].style], ref[i].style ? "1.2" : "2", 2 + panel);
        fprintf(f, "\n");
    }
    fprintf(f, "unset multiplot\n");
}

static int fig_write(const ni_fig *F, const char *dir, size_t nref, ni_ref *ref, FILE *log,
                     tdi_err *err)
{
    char name[64];
    snprintf(name, sizeof name, "nonideal_%s", tdi_sweep_xaxes[F->axis].key);
    int rc = 0;
    for (size_t q = 0; q < F->ns && !rc; q++) {
        char dn[96];
        snprintf(dn, sizeof dn, "%s_s%zu", name, q);
        rc = write_series(dir, dn, &F->s[q], err);
    }
    for (size_t i = 0; i < nref && !rc; i++) {
        char dn[96];
        snprintf(dn, sizeof dn, "%s_r%zu", name, i);
        rc = write_ref(dir, dn, &ref[i], F->xlo, F->xhi, err);
    }
    if (rc)
        return rc;
    char *s = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&s, &len);
    if (!f)
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    fig_script(f, F, name, nref, ref);
    fclose(f);
    rc = tdi_sweep_gnuplot(dir, name, s, log, err);
    free(s);
    return rc;
}

static int ni_figures(const ni_rows *R, const char *dir, FILE *log, size_t *nfig, tdi_err *err)
{
    size_t ax[TDI_SWEEP_NX], na = ni_axes(R, ax);
    double mins[TDI_SWEEP_NX];
    for (size_t a = 0; a < na; a++)
        mins[a] = col_min(R, tdi_sweep_xaxes[ax[a]].key);
    ni_ref ref[20];
    static ni_fig F;
    for (size_t a = 0; a < na; a++) {
        memset(&F, 0, sizeof F);
        F.axis = ax[a];
        F.scale = 1;
        F.label = tdi_sweep_xaxes[ax[a]].key;
        for (size_t l = 0; l < sizeof ni_label / sizeof ni_label[0]; l++)
            if (strcmp(ni_label[l].key, F.label) == 0) {
                F.scale = ni_label[l].scale;
                F.label = ni_label[l].label;
                break;
            }
        int rc = fig_collect(R, ax, na, a, mins, &F, err);
        if (rc)
            return rc;
        if (F.ns == 0) /* no series with two values of this axis */
            continue;
        size_t nref = refs_collect(R, ax, na, &F, ref);
        if ((rc = fig_write(&F, dir, nref, ref, log, err)))
            return rc;
        (*nfig)++;
    }
    return 0;
}

int tdi_sweep_niplot_varies(const char *const *csv, size_t ncsv, int *varies, tdi_err *err)
{
    static ni_rows R;
    int rc = ni_read(csv, ncsv, &R, err);
    *varies = rc ? 0 : ni_varies(&R);
    ni_free(&R);
    return rc;
}

int tdi_sweep_niplot(const char *const *csv, size_t ncsv, const char *outdir, FILE *log,
                     size_t *nfig, tdi_err *err)
{
    static ni_rows R;
    *nfig = 0;
    char data[1200];
    if ((size_t)snprintf(data, sizeof data, "%s/data", outdir) >= sizeof data)
        return tdi_err_set(err, TDI_EARG, "plot: output directory path too long");
    int rc = tdi_mkdirs(data, err);
    if (!rc)
        rc = ni_read(csv, ncsv, &R, err);
    if (!rc)
        rc = ni_figures(&R, outdir, log, nfig, err);
    ni_free(&R);
    return rc;
}
