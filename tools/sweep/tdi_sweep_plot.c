/* tdi_sweep_plot: results.csv -> PNG figures through gnuplot (pngcairo). Rows with status "ok"
 * are grouped into series (same inputs but k and replicate; replicates averaged per k); each
 * figure gets its data files (OUTDIR/data/NAME.dat) and its script (OUTDIR/NAME.gp) so it can be
 * re-plotted or edited by hand. Figures: fidelity_vs_k (paper and centered cosine with the mean
 * baseline and the rank-k ceiling), wires_vs_k (skip-coupling wire pairs, dense D^2 line),
 * energy_vs_k (per inference, stacked by term, GPU lines), time_vs_k_theta; a sweep of
 * non-idealities or chips goes to tdi_sweep_niplot.c instead.
 * Invariants: only numbers from the CSV are drawn; no text from a CSV or a config ever enters
 * a script: legend and panel texts go into the data files and gnuplot reads them as data
 * (title columnheader(N), strcol), the scripts hold only fixed text and numbers; gnuplot runs
 * without a shell (fork + execvp, chdir in the child). The CSV cells a legend uses are checked
 * (names: tdi_cfg_name_ok; numbers: finite) and a file that fails is refused.
 * Non-goal: other output formats. */
#include "tdi_sweep.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tdi_cfg.h"
#include "tdi_io.h"

#define MAXCOL 128
#define MAXSER 64

typedef struct table {
    char *buf;
    size_t ncol, nrow;
    char *head[MAXCOL];
    char **cell; /* nrow * ncol */
} table;

static int tab_col(const table *t, const char *name)
{
    for (size_t i = 0; i < t->ncol; i++)
        if (strcmp(t->head[i], name) == 0)
            return (int)i;
    return -1;
}

static const char *tab_s(const table *t, size_t r, int c)
{
    return c >= 0 ? t->cell[r * t->ncol + (size_t)c] : "";
}

static double tab_d(const table *t, size_t r, int c)
{
    const char *s = tab_s(t, r, c);
    char *e;
    double v = strtod(s, &e);
    return (e != s && !*e) ? v : NAN;
}

/* Reads several results files with the same header as one table. */
static int tab_read(const char *const *paths, size_t np, table *t, tdi_err *err)
{
    memset(t, 0, sizeof *t);
    size_t size = 0, hl = 0;
    const char *path = paths[0];
    for (size_t i = 0; i < np; i++) {
        char *b = NULL;
        size_t n = 0;
        int rc = tdi_file_read_max(paths[i], TDI_READ_MAX_LOG, &b, &n, err);
        if (rc)
            return rc;
        size_t h = strcspn(b, "\n");
        if (i == 0) {
            t->buf = b;
            size = n;
            hl = h;
            continue;
        }
        if (h != hl || strncmp(b, t->buf, h) != 0) {
            free(b);
            return tdi_err_set(err, TDI_EFORMAT, "%s:1: header differs from %s's", paths[i],
                               path);
        }
        char *nb = realloc(t->buf, size + n + 2);
        if (!nb) {
            free(b);
            return tdi_err_set(err, TDI_ENOMEM, "out of memory");
        }
        t->buf = nb;
        if (size > 0 && t->buf[size - 1] != '\n')
            t->buf[size++] = '\n';
        memcpy(t->buf + size, b + h, n - h + 1); /* rows only (from the header's newline) */
        size += n - h;
        free(b);
    }
    size_t lines = 0;
    for (size_t i = 0; i < size; i++)
        lines += t->buf[i] == '\n';
    char *save = NULL, *line = strtok_r(t->buf, "\n", &save);
    if (!line)
        return tdi_err_set(err, TDI_EFORMAT, "%s: empty", path);
    long nh = tdi_sweep_csv_split(line, t->head, MAXCOL);
    if (nh < 0)
        return tdi_err_set(err, TDI_EFORMAT, "%s:1: malformed quoted CSV cell", path);
    if (nh > MAXCOL)
        return tdi_err_set(err, TDI_EFORMAT, "%s:1: more than %d columns", path, MAXCOL);
    t->ncol = (size_t)nh;
    t->cell = calloc((lines + 1) * t->ncol, sizeof *t->cell);
    if (!t->cell)
        return tdi_err_set(err, TDI_ENOMEM, "%s: out of memory", path);
    size_t lineno = 1;
    while ((line = strtok_r(NULL, "\n", &save))) {
        lineno++;
        long k = tdi_sweep_csv_split(line, t->cell + t->nrow * t->ncol, t->ncol);
        if (k < 0)
            return tdi_err_set(err, TDI_EFORMAT, "%s:%zu: malformed quoted CSV cell", path,
                               lineno);
        if ((size_t)k != t->ncol)
            return tdi_err_set(err, TDI_EFORMAT, "%s:%zu: %ld fields, the header has %zu", path,
                               lineno, k, t->ncol);
        t->nrow++;
    }
    return 0;
}

/* The cells that reach a legend: words must be names, numbers finite, in every "ok" row. */
static int tab_check(const table *t, const char *path, tdi_err *err)
{
    static const char *const words[] = {"preset", "mode", "unit", "skip", "engine"};
    static const char *const nums[] = {"D", "k", "theta", "dac_bits", "adc_bits"};
    int cst = tab_col(t, "status");
    for (size_t r = 0; r < t->nrow; r++) {
        if (strcmp(tab_s(t, r, cst), "ok") != 0)
            continue;
        for (size_t i = 0; i < 5; i++) {
            int cw = tab_col(t, words[i]), cn = tab_col(t, nums[i]);
            if (cw >= 0 && !tdi_cfg_name_ok(tab_s(t, r, cw)))
                return tdi_err_set(err, TDI_EFORMAT, "%s: data row %zu, column %s: '%.60s' is "
                                   "not a name (1 to %d characters from %s; docs/formats.md)",
                                   path, r + 1, words[i], tab_s(t, r, cw), TDI_CFG_NAME_MAX,
                                   TDI_CFG_NAME_SET);
            if (cn >= 0 && !isfinite(tab_d(t, r, cn)))
                return tdi_err_set(err, TDI_EFORMAT, "%s: data row %zu, column %s: '%.60s' is "
                                   "not a number", path, r + 1, nums[i], tab_s(t, r, cn));
        }
    }
    return 0;
}

static void tab_free(table *t)
{
    free(t->buf);
    free(t->cell);
}

/* ------------------------------------------------------------------ series */
static const char *const series_keys[] = {"preset", "mode", "D", "theta", "dac_bits", "adc_bits",
                                          "avg_relax", "unit", "skip", "engine"};
#define NSK (sizeof series_keys / sizeof series_keys[0])

typedef struct series {
    char key[256];      /* the series' input values, '|' separated */
    char title[160];    /* legend: preset, engine, and whatever else varies in the file */
    size_t *rows;       /* rows of the series, sorted by k */
    size_t n;
    int preset_id;      /* colour */
    int engine;         /* point type */
} series;

typedef struct plotset {
    table t;
    series s[MAXSER];
    size_t ns;
    int varies[NSK];
    char presets[8][64];
    size_t npresets;
} plotset;

static int cmp_k_tab; /* column of k for the sort below */
static const table *cmp_tab;
static int by_k(const void *a, const void *b)
{
    double x = tab_d(cmp_tab, *(const size_t *)a, cmp_k_tab);
    double y = tab_d(cmp_tab, *(const size_t *)b, cmp_k_tab);
    return (x > y) - (x < y);
}

static int build_series(plotset *P, tdi_err *err)
{
    table *t = &P->t;
    int cst = tab_col(t, "status"), ck = tab_col(t, "k"), ckey[NSK];
    for (size_t i = 0; i < NSK; i++)
        ckey[i] = tab_col(t, series_keys[i]);
    if (cst < 0 || ck < 0)
        return tdi_err_set(err, TDI_EFORMAT, "results: no status or k column");
    const char *first[NSK] = {0};
    for (size_t r = 0; r < t->nrow; r++) {
        if (strcmp(tab_s(t, r, cst), "ok") != 0)
            continue;
        char key[256] = "";
        for (size_t i = 0; i < NSK; i++) {
            const char *v = tab_s(t, r, ckey[i]);
            if (!first[i])
                first[i] = v;
            else if (strcmp(first[i], v) != 0)
                P->varies[i] = 1;
            size_t l = strlen(key);
            snprintf(key + l, sizeof key - l, "%s|", v);
        }
        size_t q = 0;
        while (q < P->ns && strcmp(P->s[q].key, key) != 0)
            q++;
        if (q == P->ns) {
            if (P->ns == MAXSER)
                return tdi_err_set(err, TDI_EARG, "results: more than %d series", MAXSER);
            memset(&P->s[q], 0, sizeof P->s[q]);
            snprintf(P->s[q].key, sizeof P->s[q].key, "%s", key);
            P->s[q].rows = malloc(t->nrow * sizeof(size_t));
            if (!P->s[q].rows)
                return tdi_err_set(err, TDI_ENOMEM, "out of memory");
            P->ns++;
        }
        P->s[q].rows[P->s[q].n++] = r;
    }
    if (P->ns == 0)
        return tdi_err_set(err, TDI_EFORMAT, "results: no row with status ok");
    cmp_tab = t;
    cmp_k_tab = ck;
    for (size_t q = 0; q < P->ns; q++) {
        series *s = &P->s[q];
        qsort(s->rows, s->n, sizeof(size_t), by_k);
        size_t r0 = s->rows[0];
        const char *preset = tab_s(t, r0, ckey[0]);
        size_t p = 0;
        while (p < P->npresets && strcmp(P->presets[p], preset) != 0)
            p++;
        if (p == P->npresets && p < 8)
            snprintf(P->presets[P->npresets++], 64, "%s", preset);
        s->preset_id = (int)p;
        const char *eng = tab_s(t, r0, ckey[8]);
        s->engine = strcmp(eng, "analytic") == 0 ? 0 : strcmp(eng, "sde") == 0 ? 1 : 2;
        size_t l = (size_t)snprintf(s->title, sizeof s->title, "%s, %s", preset, eng);
        for (size_t i = 2; i < NSK - 1; i++)
            if (P->varies[i] && l < sizeof s->title)
                l += (size_t)snprintf(s->title + l, sizeof s->title - l, ", %s %s",
                                      series_keys[i], tab_s(t, r0, ckey[i]));
    }
    return 0;
}

/* A legend text as one double-quoted data-file field (gnuplot reads it with columnheader or
 * strcol, never as a command); a '"' or a line break (impossible after tab_check) becomes '. */
void tdi_sweep_plot_field(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++)
        fputc(*s == '"' || *s == '\n' || *s == '\r' ? '\'' : *s, f);
    fputc('"', f);
}

int tdi_sweep_plot_data_open(tdi_atomic_file *af, const char *dir, const char *name,
                             const char *ext, tdi_err *err)
{
    char path[1200];
    if ((size_t)snprintf(path, sizeof path, "%s/data/%s%s", dir, name, ext) >= sizeof path)
        return tdi_err_set(err, TDI_EARG, "plot: output directory path too long");
    return tdi_atomic_open(af, path, err);
}

/* Writes data/<name>: one line, the text s as one quoted field (read with strcol(1)). */
static int write_text_field(const char *dir, const char *name, const char *s, tdi_err *err)
{
    tdi_atomic_file af;
    int rc = tdi_sweep_plot_data_open(&af, dir, name, "", err);
    if (rc)
        return rc;
    tdi_sweep_plot_field(af.f, s);
    fputc('\n', af.f);
    return tdi_atomic_commit(&af, err);
}

/* Writes data/<name>.dat of a series: a header row (column 1 "k", column c + 2 heads[c], or the
 * column's name when heads is NULL or heads[c] is: the legend texts, read by the scripts with
 * title columnheader(c + 2)), then k and the mean over replicates of each named column. */
static int write_dat(const plotset *P, const series *s, const char *dir, const char *name,
                     const char *const *colnames, const char *const *heads, size_t nc,
                     tdi_err *err)
{
    tdi_atomic_file af;
    int rc = tdi_sweep_plot_data_open(&af, dir, name, ".dat", err);
    if (rc)
        return rc;
    const table *t = &P->t;
    int ck = tab_col(t, "k");
    fprintf(af.f, "# k");
    for (size_t c = 0; c < nc; c++)
        fprintf(af.f, " %s", colnames[c]);
    fprintf(af.f, "   (mean over replicates)\n\"k\"");
    for (size_t c = 0; c < nc; c++) {
        fputc(' ', af.f);
        tdi_sweep_plot_field(af.f, heads && heads[c] ? heads[c] : colnames[c]);
    }
    fputc('\n', af.f);
    for (size_t i = 0; i < s->n;) {
        double k = tab_d(t, s->rows[i], ck);
        size_t j = i;
        while (j < s->n && tab_d(t, s->rows[j], ck) == k)
            j++;
        fprintf(af.f, "%g", k);
        for (size_t c = 0; c < nc; c++) {
            int col = tab_col(t, colnames[c]);
            double sum = 0;
            for (size_t q = i; q < j; q++)
                sum += tab_d(t, s->rows[q], col);
            fprintf(af.f, " %.10g", sum / (double)(j - i));
        }
        fputc('\n', af.f);
        i = j;
    }
    return tdi_atomic_commit(&af, err);
}

static const char *const colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
                                      "#8c564b", "#e377c2", "#17becf"};
/* per preset (colour family) and engine: analytic, sde (dark), spice (light) */
static const char *const shades[8][3] = {
    {"#1f77b4", "#08306b", "#6baed6"}, {"#d62728", "#67000d", "#fb6a4a"},
    {"#2ca02c", "#00441b", "#74c476"}, {"#9467bd", "#3f007d", "#9e9ac8"},
    {"#ff7f0e", "#7f2704", "#fdae6b"}, {"#8c564b", "#3b1e19", "#c49c94"},
    {"#e377c2", "#7a0177", "#fbb4c4"}, {"#17becf", "#014636", "#9ecae1"}};

int tdi_sweep_gnuplot(const char *dir, const char *name, const char *script, FILE *log,
                      tdi_err *err)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s.gp", dir, name);
    int rc = tdi_atomic_write_text(path, script, err);
    if (rc)
        return rc;
    /* no shell: gnuplot NAME.gp in dir, its stderr into NAME.gp.log */
    char gp[80], lg[80];
    snprintf(gp, sizeof gp, "%s.gp", name);
    snprintf(lg, sizeof lg, "%s.gp.log", name);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return tdi_err_set(err, TDI_EIO, "cannot start gnuplot: %s", strerror(errno));
    if (pid == 0) {
        int fd = chdir(dir) == 0 ? open(lg, O_WRONLY | O_CREAT | O_TRUNC, 0666) : -1;
        if (fd < 0 || dup2(fd, 2) < 0)
            _exit(126);
        char *const argv[] = {"gnuplot", gp, NULL};
        execvp("gnuplot", argv);
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return tdi_err_set(err, TDI_EIO, "waiting for gnuplot: %s", strerror(errno));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return tdi_err_set(err, TDI_EIO, "gnuplot failed on %s (%s %d%s; see %s/%s)", path,
                           WIFEXITED(st) ? "exit status" : "signal",
                           WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
                           WIFEXITED(st) && WEXITSTATUS(st) == 127 ? ": is gnuplot installed?"
                                                                    : "", dir, lg);
    if (log)
        fprintf(log, "wrote %s/%s.png\n", dir, name);
    return 0;
}

/* a growing script */
typedef struct sbuf {
    char *s;
    size_t len;
    FILE *f;
} sbuf;

static const char *HEAD =
    "set terminal pngcairo size %d,%d enhanced font 'DejaVu Sans,11' linewidth 1.5\n"
    "set output '%s.png'\nset datafile missing 'nan'\nset grid lc rgb '#dddddd'\n"
    "set key outside below horizontal box opaque width 1 spacing 1.1 font ',10'\n"
    "set xlabel offset 0,0.7\n";

/* ------------------------------------------------------------------ figures */
static int fig_fidelity(const plotset *P, const char *dir, FILE *log, tdi_err *err)
{
    const char *cols[] = {"cos_paper", "cos_centered", "mean_cos_paper", "mean_cos_centered",
                          "ceil_cos_paper", "ceil_cos_centered", "digital_cos_paper",
                          "digital_cos_centered"};
    int rc;
    sbuf b = {0};
    b.f = open_memstream(&b.s, &b.len);
    if (!b.f)
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    fprintf(b.f, HEAD, 1800, 620 + 16 * (int)(P->ns + 2 * P->npresets > 24
                                              ? P->ns + 2 * P->npresets - 24 : 0),
            "fidelity_vs_k");
    fprintf(b.f, "set multiplot layout 1,2 title 'Decoder fidelity against the skip rank k "
            "(test samples; lines: model, dashed: mean baseline, dotted: best rank-k linear "
            "map, dash-dot: digital shortcut)' font ',12'\nset logscale x 2\nset xlabel 'rank k of the skip coupling'\n");
    for (int panel = 0; panel < 2; panel++) {
        fprintf(b.f, "set ylabel '%s'\n", panel ? "centered cosine (minus fit-split mean)"
                                                : "paper cosine (global z-score)");
        fprintf(b.f, "set yrange [%s]\n", panel ? "-0.2:1.02" : "*:1.002");
        fprintf(b.f, "set lmargin at screen %.3f\nset rmargin at screen %.3f\n"
                "set tmargin at screen 0.9\nset bmargin at screen 0.1\n",
                panel ? 0.45 : 0.05, panel ? 0.80 : 0.40);
        fprintf(b.f, panel ? "set key at screen 0.815,0.9 left top vertical box opaque font ',9'\n"
                           : "unset key\n");
        fprintf(b.f, "plot ");
        for (size_t q = 0; q < P->ns; q++) {
            char name[64];
            snprintf(name, sizeof name, "fid%zu", q);
            const series *s = &P->s[q];
            if (panel == 0) {
                const char *pr = P->presets[s->preset_id];
                char h[3][160];
                snprintf(h[0], sizeof h[0], "%s: mean baseline", pr);
                snprintf(h[1], sizeof h[1], "%s: rank-k ceiling", pr);
                snprintf(h[2], sizeof h[2], "%s: digital y = B^-1 b_dec", pr);
                const char *heads[8] = {s->title, s->title, h[0], h[0], h[1], h[1], h[2], h[2]};
                if ((rc = write_dat(P, s, dir, name, cols, heads, 8, err)))
                    goto fail;
            }
            const char *c = shades[s->preset_id % 8][s->engine], *cb = colours[s->preset_id % 8];
            int pt = s->engine == 0 ? 7 : s->engine == 1 ? 5 : 9;
            fprintf(b.f, "%s'data/%s.dat' using 1:%d with linespoints lc rgb '%s' pt %d ps 0.8 "
                    "dt %d title columnheader(%d) noenhanced", q ? ", \\\n     " : "", name,
                    2 + panel, c, pt, s->engine == 2 ? 3 : 1, 2 + panel);
            /* baselines once per preset and D: from the first series of that preset */
            int firstp = 1;
            for (size_t r = 0; r < q; r++)
                firstp &= P->s[r].preset_id != s->preset_id;
            if (firstp)
                fprintf(b.f, ", \\\n     'data/%s.dat' using 1:%d with lines lc rgb '%s' dt 2 "
                        "lw 1.2 title columnheader(%d) noenhanced, \\\n     'data/%s.dat' using "
                        "1:%d with lines lc rgb '%s' dt 3 lw 2 title columnheader(%d) "
                        "noenhanced, \\\n     'data/%s.dat' using 1:%d with lines lc rgb '%s' "
                        "dt 4 lw 1.2 title columnheader(%d) noenhanced", name, 4 + panel, cb,
                        4 + panel, name, 6 + panel, cb, 6 + panel, name, 8 + panel, cb,
                        8 + panel);
        }
        fprintf(b.f, "\n");
    }
    fprintf(b.f, "unset multiplot\n");
    fclose(b.f);
    rc = tdi_sweep_gnuplot(dir, "fidelity_vs_k", b.s, log, err);
    free(b.s);
    return rc;
fail:
    fclose(b.f);
    free(b.s);
    return rc;
}

static int fig_wires(const plotset *P, const char *dir, FILE *log, tdi_err *err)
{
    const char *cols[] = {"wire_pairs_skip", "dense_pairs_skip", "wire_pairs_total"};
    int rc = 0;
    sbuf b = {0};
    b.f = open_memstream(&b.s, &b.len);
    if (!b.f)
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    fprintf(b.f, HEAD, 1000, 640, "wires_vs_k");
    fprintf(b.f, "set title 'Physical wires of the skip coupling against the rank k' "
            "font ',12'\nset xlabel 'rank k of the skip coupling'\nset ylabel 'wire pairs "
            "(distinct node pairs joined by coupling elements)'\n"
            "set format y '%%.0s%%c'\nplot ");
    /* one line per (D, skip realisation): series differing only in engine etc. coincide */
    int cD = tab_col(&P->t, "D"), cs = tab_col(&P->t, "skip");
    char seen[MAXSER][64];
    size_t nseen = 0;
    for (size_t q = 0; q < P->ns; q++) {
        const series *s = &P->s[q];
        char id[64];
        snprintf(id, sizeof id, "D = %s, %s", tab_s(&P->t, s->rows[0], cD),
                 tab_s(&P->t, s->rows[0], cs));
        int dup = 0;
        for (size_t r = 0; r < nseen; r++)
            dup |= strcmp(seen[r], id) == 0;
        if (dup)
            continue;
        snprintf(seen[nseen], 64, "%s", id);
        char name[64], h0[160], h1[80];
        snprintf(name, sizeof name, "wires%zu", nseen);
        snprintf(h0, sizeof h0, "rank-k coupling (%s)", id);
        snprintf(h1, sizeof h1, "dense D^2 (D = %s)", tab_s(&P->t, s->rows[0], cD));
        const char *heads[3] = {h0, h1, NULL};
        if ((rc = write_dat(P, s, dir, name, cols, heads, 3, err)))
            break;
        const char *c = colours[nseen % 8];
        fprintf(b.f, "%s'data/%s.dat' using 1:2 with linespoints lc rgb '%s' pt 7 ps 0.7 "
                "title columnheader(2) noenhanced, \\\n     'data/%s.dat' using 1:3 with lines "
                "lc rgb '%s' dt 2 lw 1.5 title columnheader(3) noenhanced",
                nseen ? ", \\\n     " : "", name, c, name, c);
        nseen++;
    }
    fprintf(b.f, "\n");
    fclose(b.f);
    if (!rc)
        rc = tdi_sweep_gnuplot(dir, "wires_vs_k", b.s, log, err);
    free(b.s);
    return rc;
}

static int fig_energy(const plotset *P, const char *dir, FILE *log, tdi_err *err)
{
    const char *cols[] = {"E_bias_J", "E_R_J", "E_active_J", "E_dac_J", "E_adc_J",
                          "E_digital_J", "gpu_step_J", "gpu_part_J", "kT_floor_J", "E_total_J"};
    const char *lab[] = {"|E_{bias}|", "E_R (resistors)", "E_{active} (transconductors)",
                         "E_{DAC}", "E_{ADC}", "E_{digital} (interface MACs)"};
    const char *fill[] = {"#c6dbef", "#6baed6", "#fdae6b", "#74c476", "#31a354", "#9e9ac8"};
    /* one panel per preset: its sde series if there is one, else analytic, else any */
    int pick[8];
    size_t np = P->npresets > 4 ? 4 : P->npresets;
    for (size_t p = 0; p < np; p++) {
        pick[p] = -1;
        for (size_t q = 0; q < P->ns; q++)
            if (P->s[q].preset_id == (int)p &&
                (pick[p] < 0 || (P->s[q].engine == 1 && P->s[pick[p]].engine != 1) ||
                 (P->s[q].n > P->s[pick[p]].n && P->s[q].engine == P->s[pick[p]].engine)))
                pick[p] = (int)q;
    }
    int rc = 0;
    sbuf b = {0};
    b.f = open_memstream(&b.s, &b.len);
    if (!b.f)
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    fprintf(b.f, HEAD, np > 1 ? 1700 : 1100, 640, "energy_vs_k");
    fprintf(b.f, "set multiplot layout 1,%zu title 'Energy per inference (one decoder "
            "read-out) against k, stacked by term, beside one GPU U-Net step' font ',12'\n"
            "set logscale x 2\nset logscale y\nset format y '10^{%%L}'\nset xlabel 'rank k'\n"
            "set ylabel 'J per inference'\nset yrange [1e-18:1]\n", np > 1 ? (size_t)2 : np);
    for (size_t p = 0; p < np && p < 2; p++) {
        const series *s = &P->s[pick[p]];
        char name[64];
        snprintf(name, sizeof name, "energy%zu", p);
        char lbl[80];
        snprintf(lbl, sizeof lbl, "%s.label", name);
        if ((rc = write_dat(P, s, dir, name, cols, NULL, 10, err)) ||
            (rc = write_text_field(dir, lbl, s->title, err)))
            break;
        /* columns: 1 k, 2 bias, 3 R, 4 active, 5 dac, 6 adc, 7 digital, 8 gpu, 9 part, 10 kT */
        /* panels side by side, the key once, in a column on the right */
        double w = np > 1 ? 0.37 : 0.6;
        fprintf(b.f, "set lmargin at screen %.3f\nset rmargin at screen %.3f\n"
                "set tmargin at screen 0.88\nset bmargin at screen 0.1\n",
                0.06 + (double)p * w, 0.06 + (double)p * w + w - 0.06);
        if (p + 1 == (np > 1 ? 2 : 1))
            fprintf(b.f, "set key at screen %.3f,0.88 left top vertical box opaque\n",
                    0.06 + (np > 1 ? 2.0 : 1.0) * w);
        else
            fprintf(b.f, "unset key\n");
        /* the panel title is the series' legend text, read from the data file as a string */
        fprintf(b.f, "stats 'data/%s' using (panel_title = strcol(1), 0) nooutput\n"
                "set title panel_title noenhanced\nplot ", lbl);
        static const char *const term[] = {"abs($2)", "$3", "$4", "$5", "$6", "$7"};
        char lo[256] = "1e-30", hi[256];
        for (int t = 0; t < 6; t++) {
            snprintf(hi, sizeof hi, "%s+%s", t ? lo : "0", term[t]);
            fprintf(b.f, "%s'data/%s.dat' using 1:(%s):(%s) with filledcurves fc rgb '%s' "
                    "fs solid 0.9 border lc rgb '#555555' title '%s'", t ? ", \\\n     " : "",
                    name, t ? lo : "1e-30", hi, fill[t], lab[t]);
            snprintf(lo, sizeof lo, "%s", hi);
        }
        fprintf(b.f, ", \\\n     'data/%s.dat' using 1:8 with lines lc rgb 'black' lw 2 title "
                "'GPU: one U-Net step (H100, batch 1)', \\\n     'data/%s.dat' using 1:9 with "
                "lines lc rgb 'black' dt 2 lw 2 title 'GPU: the replaced part of the step', "
                "\\\n     'data/%s.dat' using 1:10 with lines lc rgb '#d62728' dt 3 lw 2 title "
                "'k_BT per unit per relaxation time'\n", name, name, name);
    }
    fprintf(b.f, "unset multiplot\n");
    fclose(b.f);
    if (!rc)
        rc = tdi_sweep_gnuplot(dir, "energy_vs_k", b.s, log, err);
    free(b.s);
    return rc;
}

static int fig_time(const plotset *P, const char *dir, FILE *log, tdi_err *err)
{
    const char *cols[] = {"time_to_solution_s", "t_settle_s", "t_avg_s", "theta"};
    int rc = 0;
    sbuf b = {0};
    b.f = open_memstream(&b.s, &b.len);
    if (!b.f)
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    int many_theta = P->varies[3];
    fprintf(b.f, HEAD, many_theta ? 1400 : 900, 620, "time_vs_k_theta");
    fprintf(b.f, "set multiplot layout 1,%d title 'Time to solution per inference (circuit "
            "time: settling + averaging window)' font ',12'\nset logscale y\nset format y "
            "'%%.0s %%cs'\nset ylabel 'time to solution'\n", many_theta ? 2 : 1);
    fprintf(b.f, "set xlabel 'rank k'\nset logscale x 2\nplot ");
    /* left: against k; series that differ only in the engine give the same circuit times:
       draw the first of each (preset, theta, D, unit, skip) */
    char seen[MAXSER][200];
    size_t nseen = 0;
    int ccol[5] = {tab_col(&P->t, "preset"), tab_col(&P->t, "theta"), tab_col(&P->t, "D"),
                   tab_col(&P->t, "unit"), tab_col(&P->t, "skip")};
    for (size_t q = 0; q < P->ns; q++) {
        const series *s = &P->s[q];
        char id[200];
        snprintf(id, sizeof id, "%s, theta %s, D %s, %s, %s", tab_s(&P->t, s->rows[0], ccol[0]),
                 tab_s(&P->t, s->rows[0], ccol[1]), tab_s(&P->t, s->rows[0], ccol[2]),
                 tab_s(&P->t, s->rows[0], ccol[3]), tab_s(&P->t, s->rows[0], ccol[4]));
        int dup = 0;
        for (size_t r = 0; r < nseen; r++)
            dup |= strcmp(seen[r], id) == 0;
        if (dup)
            continue;
        snprintf(seen[nseen], sizeof seen[0], "%s", id);
        char name[64];
        snprintf(name, sizeof name, "time%zu", nseen);
        const char *heads[4] = {id, NULL, NULL, NULL};
        if ((rc = write_dat(P, s, dir, name, cols, heads, 4, err)))
            break;
        fprintf(b.f, "%s'data/%s.dat' using 1:2 with linespoints lc rgb '%s' pt 7 ps 0.7 "
                "title columnheader(2) noenhanced", nseen ? ", \\\n     " : "", name,
                colours[nseen % 8]);
        nseen++;
    }
    fprintf(b.f, "\n");
    if (many_theta && !rc) {
        /* right: against theta, one line per (preset, k) for a few k */
        char path[1200];
        snprintf(path, sizeof path, "%s/data/time_theta.dat", dir);
        tdi_atomic_file af;
        if (!(rc = tdi_atomic_open(&af, path, err))) {
            int ck = tab_col(&P->t, "k"), ct = tab_col(&P->t, "theta"),
                cs = tab_col(&P->t, "status"), cT = tab_col(&P->t, "time_to_solution_s");
            fprintf(af.f, "# theta time_to_solution_s; blocks (header row: legend): preset, k\n");
            fprintf(b.f, "set xlabel 'theta = k_BT/(C_u V_s^2)'\nset logscale x 10\nunset "
                    "format x\nplot ");
            size_t block = 0;
            for (size_t p = 0; p < P->npresets; p++) {
                double ks[64];
                size_t nks = 0;
                for (size_t r = 0; r < P->t.nrow; r++) {
                    if (strcmp(tab_s(&P->t, r, cs), "ok") ||
                        strcmp(tab_s(&P->t, r, ccol[0]), P->presets[p]))
                        continue;
                    double k = tab_d(&P->t, r, ck);
                    int have = 0;
                    for (size_t i = 0; i < nks; i++)
                        have |= ks[i] == k;
                    if (!have && nks < 64)
                        ks[nks++] = k;
                }
                for (size_t a = 1; a < nks; a++) /* sort the k values */
                    for (size_t c = a; c > 0 && ks[c - 1] > ks[c]; c--) {
                        double x = ks[c];
                        ks[c] = ks[c - 1];
                        ks[c - 1] = x;
                    }
                for (size_t i = 0; i < nks; i++) {
                    /* at most 4 k per preset: the first, the last and two between */
                    if (nks > 4 && i != 0 && i != nks - 1 && i != nks / 3 && i != 2 * nks / 3)
                        continue;
                    double th[256], tt[256];
                    size_t nth = 0;
                    for (size_t r = 0; r < P->t.nrow && nth < 256; r++)
                        if (!strcmp(tab_s(&P->t, r, cs), "ok") &&
                            !strcmp(tab_s(&P->t, r, ccol[0]), P->presets[p]) &&
                            tab_d(&P->t, r, ck) == ks[i]) {
                            th[nth] = tab_d(&P->t, r, ct);
                            tt[nth++] = tab_d(&P->t, r, cT);
                        }
                    if (nth < 2)
                        continue;
                    for (size_t a = 1; a < nth; a++) /* sort by theta */
                        for (size_t c = a; c > 0 && th[c - 1] > th[c]; c--) {
                            double x = th[c];
                            th[c] = th[c - 1];
                            th[c - 1] = x;
                            x = tt[c];
                            tt[c] = tt[c - 1];
                            tt[c - 1] = x;
                        }
                    char head[120]; /* the block's legend text: its header row */
                    snprintf(head, sizeof head, "%s, k = %g", P->presets[p], ks[i]);
                    fprintf(af.f, "\"theta\" ");
                    tdi_sweep_plot_field(af.f, head);
                    fputc('\n', af.f);
                    for (size_t a = 0; a < nth; a++)
                        fprintf(af.f, "%.10g %.10g\n", th[a], tt[a]);
                    fprintf(af.f, "\n\n");
                    fprintf(b.f, "%s'data/time_theta.dat' index %zu using 1:2 with linespoints "
                            "lc rgb '%s' pt %d ps 0.8 title columnheader(2) noenhanced",
                            block ? ", \\\n     " : "", block, colours[p % 8],
                            5 + 2 * (int)(i % 4));
                    block++;
                }
            }
            if (block == 0)
                fprintf(b.f, "0 notitle");
            fprintf(b.f, "\n");
            rc = tdi_atomic_commit(&af, err);
        }
    }
    fprintf(b.f, "unset multiplot\n");
    fclose(b.f);
    if (!rc)
        rc = tdi_sweep_gnuplot(dir, "time_vs_k_theta", b.s, log, err);
    free(b.s);
    return rc;
}

int tdi_sweep_plot(const char *const *csv, size_t ncsv, const char *outdir, FILE *log,
                   tdi_err *err)
{
    static plotset P;
    memset(&P, 0, sizeof P);
    int ni = 0;
    int rc = tdi_sweep_niplot_varies(csv, ncsv, &ni, err);
    if (rc || ni) {
        size_t nfig = 0;
        return rc ? rc : tdi_sweep_niplot(csv, ncsv, outdir, log, &nfig, err);
    }
    char data[1200];
    if ((size_t)snprintf(data, sizeof data, "%s/data", outdir) >= sizeof data)
        return tdi_err_set(err, TDI_EARG, "plot: output directory path too long");
    rc = tdi_mkdirs(data, err);
    if (!rc)
        rc = tab_read(csv, ncsv, &P.t, err);
    if (!rc)
        rc = tab_check(&P.t, csv[0], err);
    if (!rc)
        rc = build_series(&P, err);
    if (!rc)
        rc = fig_fidelity(&P, outdir, log, err);
    if (!rc)
        rc = fig_wires(&P, outdir, log, err);
    if (!rc)
        rc = fig_energy(&P, outdir, log, err);
    if (!rc)
        rc = fig_time(&P, outdir, log, err);
    for (size_t q = 0; q < P.ns; q++)
        free(P.s[q].rows);
    tab_free(&P.t);
    return rc;
}
