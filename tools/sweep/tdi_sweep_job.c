/* tdi_sweep_job: one grid point -> one CSV row. The job overrides the base config's structs
 * (substrate D, k; circuit theta/Vs, unit, skip realisation; converter bits; engine; seed),
 * runs tdi_sub_run (fit, writes <out>/jobs/<index>/substrate), tdi_cosim_app_run_ex (generate +
 * co-simulate), computes the rank-k linear ceiling on the same test samples, and formats the
 * row (columns: tdi_sweep_csv_header). Invariants: numbers are printed with %.10g so a row is a
 * pure function of the job; the only clock column is the last (wall_s). Non-goal: keeping the
 * scratch directory (removed unless keep_jobs). */
#include "tdi_clock.h"
#include "tdi_sweep.h"

#include <ftw.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tdi_buf.h"
#include "tdi_io.h"
#include "tdi_metrics.h"

static const char *const cols[] = {
    /* inputs */
    "job", "preset", "mode", "D", "k", "theta", "Vs_V", "dac_bits", "adc_bits", "XAXES", "unit",
    "skip", "engine", "chip", "replicate", "seed",
    /* outputs */
    "status", "samples", "cos_paper", "cos_centered", "r2", "mean_cos_paper",
    "mean_cos_centered", "mean_r2", "ceil_cos_paper", "ceil_cos_centered", "ceil_r2",
    "ideal_cos_paper", "ideal_cos_centered", "ideal_r2", "digital_cos_paper",
    "digital_cos_centered", "digital_r2", "wire_pairs_skip", "elements_skip", "dense_pairs_skip",
    "wire_pairs_total", "elements_total", "E_bias_J", "E_R_J", "E_active_J", "E_dac_J",
    "E_adc_J", "E_digital_J", "E_total_J", "kT_floor_J", "gpu_step_J", "gpu_part_J",
    "energy_engine", "t_settle_s", "t_avg_s", "time_to_solution_s", "t_slow_s",
    "readout_pred_V", "readout_meas_V", "interface_macs", "E_weight_reads_J", "digeq_macs",
    "digeq_reads", "E_digeq_J", "E_digeq_folded_J", "ratio_analog_digeq", "cal_cos_paper",
    "cal_cos_centered", "cal_r2", "cal_probes", "cal_t_circuit_s", "cal_E_probe_J", "cal_macs",
    "note", "wall_s"};
/* "XAXES" stands for the input columns of tdi_sweep_xaxes, in table order */
#define NCOLS (sizeof cols / sizeof cols[0] - 1 + tdi_sweep_n_xaxes)

const char *tdi_sweep_csv_header(void)
{
    static char h[2048];
    if (!h[0]) {
        size_t n = 0, q = 0;
        for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
            if (strcmp(cols[i], "XAXES") != 0) {
                n += (size_t)snprintf(h + n, sizeof h - n, "%s%s", q++ ? "," : "", cols[i]);
                continue;
            }
            for (size_t x = 0; x < tdi_sweep_n_xaxes; x++)
                n += (size_t)snprintf(h + n, sizeof h - n, ",%s", tdi_sweep_xaxes[x].key);
        }
    }
    return h;
}

/* a row being built: its text and the number of cells so far */
typedef struct line {
    tdi_buf b;
    size_t ncols;
} line;

/* One CSV cell (RFC 4180): a value holding a comma or a double quote is written in double
 * quotes with its quotes doubled; CR and LF become spaces (a row is one line). */
static void col(line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void col(line *l, const char *fmt, ...)
{
    char buf[512], q[2 * sizeof buf + 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    for (char *s = buf; *s; s++)
        if (*s == '\n' || *s == '\r')
            *s = ' ';
    const char *cell = buf;
    if (strpbrk(buf, ",\"")) {
        size_t n = 0;
        q[n++] = '"';
        for (const char *s = buf; *s; s++) {
            if (*s == '"')
                q[n++] = '"';
            q[n++] = *s;
        }
        q[n++] = '"';
        q[n] = '\0';
        cell = q;
    }
    tdi_buf_printf(&l->b, "%s%s", l->ncols ? "," : "", cell);
    l->ncols++;
}

static void num(line *l, double v)
{
    if (isfinite(v))
        col(l, "%.10g", v);
    else
        col(l, "nan");
}

static void inputs(line *l, const tdi_sweep_cfg *c, const tdi_sweep_job *j)
{
    col(l, "%zu", j->index);
    col(l, "%s", c->sub.name);
    col(l, "%s", c->sub.mode);
    col(l, "%ld", j->D);
    col(l, "%ld", j->k);
    num(l, j->theta);
    num(l, j->Vs);
    col(l, "%ld", j->dac_bits);
    col(l, "%ld", j->adc_bits);
    for (size_t x = 0; x < tdi_sweep_n_xaxes; x++) {
        if (tdi_sweep_xaxes[x].size)
            col(l, "%s", j->xword[x]);
        else
            num(l, j->xnum[x]);
    }
    col(l, "%s", j->unit);
    col(l, "%s", j->skip);
    col(l, "%s", tdi_cosim_kind_name((tdi_cosim_kind)j->engine));
    col(l, "%ld", j->chip);
    col(l, "%ld", j->replicate);
    col(l, "%lu", j->seed);
}

int tdi_sweep_row_inputs(const tdi_sweep_cfg *c, const tdi_sweep_job *j, char *buf, size_t sz)
{
    line l = {0};
    inputs(&l, c, j);
    int ok = !l.b.oom && l.b.len < sz;
    if (ok)
        memcpy(buf, l.b.s, l.b.len + 1);
    tdi_buf_destroy(&l.b);
    return ok ? 0 : -1;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void rm_tree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The best rank-k linear map of d on x (ridge reduced-rank regression on the fit split, the
 * substrate's own tdi_sub_rrr), evaluated on test samples [first, first + ns). */
static int ceiling(const tdi_sub_cfg *s, size_t D, size_t k, size_t first, size_t ns,
                   tdi_metrics *m, tdi_err *err)
{
    tdi_sub_act fit, test;
    tdi_sub_rrr r;
    memset(&fit, 0, sizeof fit);
    memset(&test, 0, sizeof test);
    memset(&r, 0, sizeof r);
    double *L = NULL, *pred = NULL, *mean = NULL;
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/activations-fit", s->export_dir);
    int rc = tdi_sub_act_read(dir, "train", s->n_fit, s->t, s->pool, s->enc, s->dec, D, 0, &fit,
                              err);
    if (rc)
        return rc;
    snprintf(dir, sizeof dir, "%s/activations-test", s->export_dir);
    if ((rc = tdi_sub_act_read(dir, "test", s->n_test, s->t, s->pool, s->enc, s->dec, D, 0,
                               &test, err)))
        goto done;
    if (first + ns > test.n) {
        rc = tdi_err_set(err, TDI_EARG, "ceiling: samples %zu..%zu beyond the test split (%zu)",
                         first, first + ns, test.n);
        goto done;
    }
    if ((rc = tdi_sub_rrr_fit(fit.x, fit.d, fit.n, D, D, s->ridge, &r, err)))
        goto done;
    L = malloc(sizeof(double) * D * D);
    pred = malloc(sizeof(double) * ns * D);
    mean = calloc(D, sizeof(double));
    if (!L || !pred || !mean) {
        rc = tdi_err_set(err, TDI_ENOMEM, "ceiling: out of memory");
        goto done;
    }
    tdi_sub_rrr_map(&r, k, L);
    for (size_t i = 0; i < fit.n; i++)
        for (size_t q = 0; q < D; q++)
            mean[q] += fit.d[i * D + q] / (double)fit.n;
    for (size_t i = 0; i < ns; i++) {
        const double *x = test.x + (first + i) * D;
        for (size_t a = 0; a < D; a++) {
            double v = r.my[a];
            for (size_t b = 0; b < D; b++)
                v += L[a * D + b] * (x[b] - r.mx[b]);
            pred[i * D + a] = v;
        }
    }
    *m = tdi_metrics_eval(pred, test.d + first * D, mean, ns, D);
done:
    free(L);
    free(pred);
    free(mean);
    tdi_sub_rrr_destroy(&r);
    tdi_sub_act_destroy(&fit);
    tdi_sub_act_destroy(&test);
    return rc;
}

/* The calibrated chip by the row's engine (cosim.calibrate probe | loop; nan with none or for
 * spice, which the calibration does not run) and the calibration's cost. */
static void calib_cols(line *l, const tdi_cosim_summary *s, int engine)
{
    int r = engine == TDI_COSIM_SDE ? TDI_COSIM_CAL_SDE
            : engine == TDI_COSIM_ANALYTIC ? TDI_COSIM_CAL_ANALYTIC : -1;
    int have = r >= 0 && s->cal_have[r];
    num(l, have ? s->cal_cos_paper[r] : NAN);
    num(l, have ? s->cal_cos_centered[r] : NAN);
    num(l, have ? s->cal_r2[r] : NAN);
    col(l, "%ld", have ? s->cal_probes : 0L);
    num(l, have ? s->cal_t_circuit : NAN);
    num(l, have ? s->cal_E_probe : NAN);
    num(l, have ? s->cal_macs : NAN);
}

static void sanitize(char *s)
{
    for (; *s; s++)
        if (*s == ',' || *s == '\n' || *s == '\r' || *s == '"')
            *s = *s == '"' ? '\'' : ';';
}

/* The job's substrate, circuit and co-simulation configurations: the sweep's, with this grid
 * point's axes applied and every output under jobdir. */
static void job_configs(const tdi_sweep_cfg *c, const tdi_sweep_job *j, const char *jobdir,
                        tdi_sub_cfg *sub, tdi_gen_config *gen, tdi_cosim_cfg *cos)
{
    /* substrate: D, k, seed; no internal rank sweep (the sweep is the rank sweep) */
    *sub = c->sub;
    sub->D = j->D;
    sub->k = j->k;
    sub->seed = (long)j->seed;
    sub->n_ranks = 0;
    snprintf(sub->out, sizeof sub->out, "%s", jobdir);
    /* circuit */
    *gen = c->gen;
    gen->seed = (long)j->seed;
    gen->theta = j->theta;
    gen->Vs = j->Vs;
    gen->target_noise_ratio = 0; /* the job's theta is explicit (a grid axis) */
    snprintf(gen->unit, sizeof gen->unit, "%.7s", j->unit);
    snprintf(gen->skip, sizeof gen->skip, "%s", j->skip);
    snprintf(gen->out, sizeof gen->out, "%s", jobdir);
    snprintf(gen->bundle, sizeof gen->bundle, "%s/substrate", jobdir);
    gen->netlists[0] = '\0';
    /* co-simulation */
    *cos = c->cosim;
    cos->seed = (long)j->seed;
    snprintf(cos->out, sizeof cos->out, "%s", jobdir);
    cos->dac_bits = j->dac_bits;
    cos->adc_bits = j->adc_bits;
    cos->analytic = 1;
    cos->sde = j->engine == TDI_COSIM_SDE;
    cos->spice = j->engine == TDI_COSIM_SPICE;
    cos->progress = 0;
    cos->deck_out = NULL;
    if (c->n_samples > 0)
        cos->n_samples = c->n_samples;
    if (c->spice_samples > 0)
        cos->spice_samples = c->spice_samples;
    if (cos->spice && cos->spice_samples > 0 && cos->spice_samples < cos->n_samples)
        cos->n_samples = cos->spice_samples; /* every row of a spice job on the same samples */
    tdi_sweep_xaxes_apply(j, gen, cos);
    if (c->substrate[0])
        snprintf(gen->bundle, sizeof gen->bundle, "%s", c->substrate);
}

/* The columns after the inputs of a job that failed numerically: "failed", nan, the reason. */
static void row_failed(line *l, const tdi_err *jerr)
{
    char msg[sizeof jerr->msg];
    snprintf(msg, sizeof msg, "%s", jerr->msg);
    sanitize(msg);
    col(l, "failed");
    while (l->ncols < NCOLS - 2)
        col(l, "nan");
    col(l, "%s", msg);
}

/* The metrics of the job's engine, then its baselines (mean, rank-k ceiling, ideal circuit,
 * digital shortcut), nan where the run has none. */
static void row_metrics(line *l, const tdi_cosim_summary *sum, const tdi_metrics *ceil_m, int e)
{
    col(l, "ok");
    col(l, "%zu", sum->samples[e]);
    num(l, sum->cos_paper[e]);
    num(l, sum->cos_centered[e]);
    num(l, sum->r2[e]);
    const int base[] = {TDI_COSIM_ROW_MEAN, -1, TDI_COSIM_ROW_IDEAL, TDI_COSIM_ROW_DIGITAL};
    for (int b = 0; b < 4; b++) {
        int have = base[b] >= 0 && sum->have[base[b]];
        const tdi_metrics m = base[b] < 0 ? *ceil_m
                              : have ? (tdi_metrics){sum->cos_paper[base[b]],
                                                     sum->cos_centered[base[b]], sum->r2[base[b]]}
                                     : (tdi_metrics){NAN, NAN, NAN};
        num(l, m.cos_paper);
        num(l, m.cos_centered);
        num(l, m.r2);
    }
}

/* The wire counts, the energy ledger, the timing and read-out error, the digital equivalent and
 * the calibration columns of a finished job. */
static void row_costs(line *l, const tdi_cosim_summary *sum, const tdi_sweep_job *j, int e)
{
    col(l, "%zu", sum->pairs_skip);
    col(l, "%zu", sum->elems_skip);
    col(l, "%ld", j->D * j->D);
    col(l, "%zu", sum->pairs_total);
    col(l, "%zu", sum->elems_total);
    const double energy[] = {sum->E_bias,  sum->E_R,     sum->E_active, sum->E_dac,
                             sum->E_adc,   sum->E_digital, sum->E_total, sum->E_kT,
                             sum->gpu_step, sum->gpu_part};
    for (size_t q = 0; q < sizeof energy / sizeof *energy; q++)
        num(l, energy[q]);
    col(l, "%s", tdi_cosim_kind_name((tdi_cosim_kind)sum->energy_engine));
    num(l, sum->t_settle);
    num(l, sum->t_avg);
    num(l, sum->time_to_solution);
    num(l, sum->t_slow);
    num(l, sum->readout_pred_rms);
    num(l, e == TDI_COSIM_ANALYTIC ? 0.0 : sum->readout_rms[e]);
    col(l, "%ld", sum->macs);
    num(l, sum->E_wread);
    col(l, "%ld", sum->digeq.iface_macs + sum->digeq.matvec_macs);
    col(l, "%ld", sum->digeq.iface_reads + sum->digeq.matvec_reads);
    num(l, sum->E_digeq);
    num(l, sum->E_digeq_folded);
    num(l, sum->ratio_digeq);
    calib_cols(l, sum, e);
    col(l, "%s", "");
}

/* *row from the finished line l (its wall time appended), checked against the header. */
static int row_take(line *l, const tdi_sweep_job *j, double t0, char **row, tdi_err *err)
{
    col(l, "%.3f", tdi_clock_s(CLOCK_MONOTONIC) - t0);
    tdi_buf_append(&l->b, "\n", 1);
    if (l->b.oom) {
        tdi_buf_destroy(&l->b);
        return tdi_err_set(err, TDI_ENOMEM, "sweep job %zu: out of memory", j->index);
    }
    if (l->ncols != NCOLS) {
        tdi_buf_destroy(&l->b);
        return tdi_err_set(err, TDI_EARG, "sweep job %zu: %zu columns, header has %zu",
                           j->index, l->ncols, (size_t)NCOLS);
    }
    *row = tdi_buf_take(&l->b);
    return 0;
}

int tdi_sweep_job_run(const tdi_sweep_cfg *c, const tdi_sweep_job *j, FILE *log, char **row,
                      tdi_err *err)
{
    double t0 = tdi_clock_s(CLOCK_MONOTONIC);
    *row = NULL;
    char jobdir[440];
    if (snprintf(jobdir, sizeof jobdir, "%s/jobs/%06zu", c->out, j->index) >= (int)sizeof jobdir)
        return tdi_err_set(err, TDI_EARG, "sweep.out '%s' is too long", c->out);
    tdi_err jerr;
    tdi_err_clear(&jerr);
    tdi_sub_cfg sub;
    tdi_gen_config gen;
    tdi_cosim_cfg cos;
    job_configs(c, j, jobdir, &sub, &gen, &cos);
    tdi_cosim_summary sum;
    memset(&sum, 0, sizeof sum);
    tdi_metrics ceil_m = {NAN, NAN, NAN};
    int rc = tdi_mkdirs(jobdir, &jerr);
    if (!rc && !c->substrate[0])
        rc = tdi_sub_run(&sub, log, &jerr);
    if (!rc)
        rc = tdi_cosim_app_run_ex(&cos, &gen, &sum, log, &jerr);
    if (!rc)
        rc = ceiling(&sub, (size_t)j->D, (size_t)j->k, sum.first,
                     sum.samples[j->engine], &ceil_m, &jerr);
    if (!c->keep_jobs)
        rm_tree(jobdir);

    /* A numerical failure of the model (not positive definite, ngspice refusing the circuit) is
       a result of this grid point: it gets a row. Anything else (missing or bad input files,
       memory) is the environment's: no row, the sweep stops and a rerun retries the job. */
    if (rc && rc != TDI_ENUM && rc != TDI_ESPICE) {
        *err = jerr;
        tdi_err_prefix(err, "sweep job %zu", j->index);
        return rc;
    }
    line l = {0};
    inputs(&l, c, j);
    if (rc)
        row_failed(&l, &jerr);
    else {
        row_metrics(&l, &sum, &ceil_m, j->engine);
        row_costs(&l, &sum, j, j->engine);
    }
    return row_take(&l, j, t0, row, err);
}
