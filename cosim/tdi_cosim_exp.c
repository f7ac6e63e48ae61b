/* tdi_cosim_exp: one co-simulation experiment: the digital side (DAC-held bias schedule, ADC
 * averages after settling, energy integrals, progress line) driving one engine.
 * Invariants: the bias of interval k depends only on k (no feedback from the state), so the
 * spice and sde engines see the same drive; the estimate of sample s uses only ticks of s.
 * Non-goals: metrics and reports (tdi_cosim_report.c), what the biases are (tdi_cosim_main.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tdi_clock.h"
#include "tdi_cosim.h"

#define EXP_SDE_COLS 128 /* samples per batched sde run (the GEMM's row count) */

typedef struct exp_ctx {
    const tdi_cosim_plan *pl;
    const tdi_cosim_circuit *c;
    tdi_cosim_out *out;
    long L;           /* ticks per sample */
    size_t s_base;    /* first sample of this run */
    const double *drive; /* (n_samples, n) A: the bias rows the engine gets: the DAC's outputs,
                            plus the circuit's rest currents c->i_off for analytic and sde */
    const double *off;   /* c->i_off when it is in drive (E_bias counts the DAC's part), else
                            NULL */
    long *n_acc;      /* (n_samples) ADC conversions per sample */
    double *vprev;    /* (cols, n) V at the previous tick */
    double *pprev;    /* (cols) W dissipated in the resistors at the previous tick */
    size_t cols;      /* batched sde: samples integrated together (1 otherwise) */
    double wall0, last_print;
    size_t wave_cap;  /* rows allocated in out->wave */
    long ticks_done, ticks_total;
} exp_ctx;

static const double *exp_bias(void *user, long k)
{
    exp_ctx *x = user;
    size_t s = x->s_base + (size_t)(k / x->L);
    if (s >= x->pl->n_samples)
        return NULL;
    return x->drive + s * x->c->n;
}

/* On a terminal: one line rewritten every second; otherwise (logs): a line every 10 s. */
static void progress(exp_ctx *x, int final)
{
    static int tty = -1;
    if (tty < 0)
        tty = isatty(fileno(stderr));
    double now = tdi_clock_s(CLOCK_MONOTONIC);
    if (!x->pl->label || (!final && now - x->last_print < (tty ? 1.0 : 10.0)))
        return;
    x->last_print = now;
    double el = now - x->wall0, rate = el > 0 ? (double)x->ticks_done / el : 0;
    double eta = rate > 0 ? (double)(x->ticks_total - x->ticks_done) / rate : 0;
    long per = x->L;
    fprintf(stderr, "%s%s: sample %ld/%zu, %.3g ticks/s, %.1f s elapsed, ETA %.1f s%s",
            tty ? "\r" : "", x->pl->label, per ? x->ticks_done / per : 0, x->pl->n_samples, rate,
            el, eta, (final || !tty) ? "\n" : "   ");
    fflush(stderr);
}

/* The digital side's work at tick k of the run that starts with sample s_base: waveform row,
 * energy integrals (trapezoid over the tick, vprev = the previous tick's state, *pprev its
 * resistor power, updated to this tick's), ADC. */
static int exp_tick_at(exp_ctx *x, size_t s_base, long k, const double *v, const double *ib,
                       const double *vprev, double *pprev)
{
    const tdi_cosim_plan *pl = x->pl;
    size_t n = x->c->n;
    long kg = (long)s_base * x->L + k; /* global tick */
    if (pl->n_wave && kg <= pl->wave_ticks && kg % pl->wave_every == 0 &&
        (k > 0 || s_base == 0)) {
        size_t w = 1 + pl->n_wave;
        if (x->out->wave_rows == x->wave_cap) {
            size_t nc = x->wave_cap ? 2 * x->wave_cap : 1024;
            double *p = realloc(x->out->wave, sizeof(double) * w * nc);
            if (!p)
                return TDI_ENOMEM;
            x->out->wave = p;
            x->wave_cap = nc;
        }
        double *row = x->out->wave + x->out->wave_rows * w;
        row[0] = (double)kg * pl->tick;
        for (size_t q = 0; q < pl->n_wave; q++)
            row[1 + q] = v[pl->wave[q]];
        x->out->wave_rows++;
    }
    double pr = tdi_cosim_resistor_power(x->c, v);
    if (k > 0) {
        size_t s = s_base + (size_t)((k - 1) / x->L);
        long j = (k - 1) % x->L + 1; /* tick within the sample, 1..L */
        double pb = 0, ps = 0, h = pl->tick;
        for (size_t i = 0; i < n; i++) {
            pb += (ib[i] - (x->off ? x->off[i] : 0.0)) * (vprev[i] + v[i]);
            if (pl->stage_first > 0 && i >= pl->stage_first) /* the stage's own resistor */
                ps += x->c->r_unit[i] * (vprev[i] * vprev[i] + v[i] * v[i]);
        }
        x->out->e_bias[s] += 0.5 * h * pb;
        x->out->e_r[s] += tdi_cosim_resistor_tick(x->c, vprev, *pprev, v, pr, h);
        x->out->e_r_stage[s] += 0.5 * h * ps;
        long a = j - pl->settle_ticks;
        if (a > 0 && a % pl->adc_stride == 0) {
            double *e = x->out->est + s * pl->n_read;
            for (size_t r = 0; r < pl->n_read; r++)
                e[r] += pl->adc ? tdi_cosim_conv_apply(pl->adc, r, v[pl->read[r]])
                                : tdi_cosim_quantize(v[pl->read[r]], pl->adc_bits, pl->adc_fs);
            x->n_acc[s]++;
            x->out->n_adc += (long)pl->n_read;
        }
        x->ticks_done++;
        if ((x->ticks_done & 255) == 0)
            progress(x, 0);
    }
    *pprev = pr;
    return 0;
}

static int exp_tick(void *user, long k, double t, const double *v, const double *ib)
{
    exp_ctx *x = user;
    (void)t;
    int rc = exp_tick_at(x, x->s_base, k, v, ib, x->vprev, x->pprev);
    memcpy(x->vprev, v, sizeof(double) * x->c->n);
    return rc;
}

/* The batched sde path of the per_sample schedule: column c is sample s_base + c; vprev holds
 * (cols, n) previous states. */
static const double *exp_bias_cols(void *user, long k)
{
    exp_ctx *x = user;
    (void)k;
    return x->drive + x->s_base * x->c->n; /* each run holds its sample's bias */
}

static int exp_tick_cols(void *user, long k, const double *V, size_t ldv, const double *ib)
{
    exp_ctx *x = user;
    size_t n = x->c->n;
    for (size_t c = 0; c < x->cols; c++) {
        const double *v = V + c * ldv;
        int rc = exp_tick_at(x, x->s_base + c, k, v, ib + c * n, x->vprev + c * n,
                             x->pprev + c);
        if (rc)
            return rc;
        memcpy(x->vprev + c * n, v, sizeof(double) * n);
    }
    return 0;
}

/* Waveform rows of the batched path arrive tick-major over the columns: order them by time. */
static int exp_wave_cmp(const void *a, const void *b)
{
    double ta = *(const double *)a, tb = *(const double *)b;
    return (ta > tb) - (ta < tb);
}

/* The per_sample schedule of the sde engine, batched: EXP_SDE_COLS samples at a time as the
 * rows of one state matrix (tdi_cosim_sde_run_batch); the same bookkeeping per sample. */
static int exp_run_sde_cols(exp_ctx *x, tdi_cosim_sde *sde, const tdi_cosim_noise *nz,
                            tdi_err *err)
{
    size_t ns = x->pl->n_samples, n = x->c->n;
    long tick0[EXP_SDE_COLS];
    int rc = 0;
    for (size_t s0 = 0; s0 < ns && !rc; s0 += EXP_SDE_COLS) {
        size_t cols = ns - s0 < EXP_SDE_COLS ? ns - s0 : EXP_SDE_COLS;
        for (size_t c = 0; c < cols; c++)
            tick0[c] = (long)(s0 + c) * x->L;
        x->s_base = s0;
        x->cols = cols;
        memset(x->vprev, 0, sizeof(double) * cols * n);
        memset(x->pprev, 0, sizeof(double) * cols);
        tdi_cosim_batch bt = {x->pl->tick, x->L, cols, tick0, exp_bias_cols, exp_tick_cols, x};
        tdi_cosim_stats st;
        rc = tdi_cosim_sde_run_batch(sde, nz, &bt, &st, err);
        x->out->st.ticks_hit += st.ticks_hit;
        x->out->st.points += st.points;
        x->out->st.cpu_s += st.cpu_s;
        x->out->st.wall_s += st.wall_s;
    }
    return rc;
}

void tdi_cosim_out_destroy(tdi_cosim_out *o)
{
    if (!o)
        return;
    free(o->est);
    free(o->bias_q);
    free(o->e_bias);
    free(o->e_r);
    free(o->e_r_stage);
    free(o->wave);
    memset(o, 0, sizeof *o);
}

/* The transistors' noise stream for a run of `total` ticks: its 1/f band starts at 1 / (the
 * whole schedule's duration), so batch and per-sample schedules share one stream (docs/noise.md) */
static int exp_dev_noise(const tdi_cosim_circuit *c, const tdi_cosim_plan *pl, long total,
                         tdi_cosim_devnoise *dn, tdi_err *err)
{
    uint64_t key = pl->dev_seed ? pl->dev_seed : tdi_seed(pl->seed, TDI_SEED_DEVNOISE, 0);
    double f_lo = 1.0 / ((double)(total > 2 ? total : 3) * pl->tick);
    return tdi_cosim_devnoise_init(dn, c->n_dev, c->dev_psd_w, c->dev_psd_f1, pl->tick, f_lo, key,
                                   err);
}

/* The plan's shape against the circuit; L ticks per sample and total ticks. */
static int exp_check(const tdi_cosim_circuit *c, const tdi_cosim_plan *pl, long *L, long *total,
                     tdi_err *err)
{
    size_t n = c->n, ns = pl->n_samples;
    if (ns == 0 || pl->n_read == 0 || pl->settle_ticks < 0 || pl->avg_ticks < 1 ||
        pl->adc_stride < 1 || !(pl->tick > 0))
        return tdi_err_set(err, TDI_EARG, "experiment: need samples, read-out units, tick > 0, "
                           "avg_ticks >= 1 and adc_stride >= 1");
    if (tdi_cosim_ticks_total(pl->settle_ticks, pl->avg_ticks, ns, L, total, err))
        return err ? tdi_err_prefix(err, "experiment") : TDI_EARG;
    for (size_t r = 0; r < pl->n_read; r++)
        if (pl->read[r] >= n)
            return tdi_err_set(err, TDI_EARG, "experiment: read-out unit %zu >= n = %zu",
                               pl->read[r], n);
    for (size_t r = 0; r < pl->n_wave; r++)
        if (pl->wave[r] >= n || pl->wave_every < 1)
            return tdi_err_set(err, TDI_EARG, "experiment: waveform unit %zu >= n = %zu or "
                               "wave_every < 1", pl->wave[r], n);
    return 0;
}

/* out's arrays and x's (cols: the batched sde's width); *drive (ns, n) when the engine gets
 * the circuit's rest currents added (analytic, sde; spice has them in its cards). */
static int exp_alloc(tdi_cosim_kind kind, exp_ctx *x, double **drive, tdi_err *err)
{
    const tdi_cosim_plan *pl = x->pl;
    size_t n = x->c->n, ns = pl->n_samples;
    tdi_cosim_out *out = x->out;
    out->est = calloc(ns * pl->n_read, sizeof(double));
    out->bias_q = malloc(sizeof(double) * ns * n);
    out->e_bias = calloc(ns, sizeof(double));
    out->e_r = calloc(ns, sizeof(double));
    out->e_r_stage = calloc(ns, sizeof(double));
    x->n_acc = calloc(ns, sizeof(long));
    int batched = kind == TDI_COSIM_SDE && !pl->batch && !pl->sde_per_run && ns > 1;
    x->cols = batched ? (ns < EXP_SDE_COLS ? ns : EXP_SDE_COLS) : 1;
    x->vprev = calloc(x->cols * n, sizeof(double));
    x->pprev = calloc(x->cols, sizeof(double));
    int want_drive = kind != TDI_COSIM_SPICE && x->c->i_off;
    *drive = want_drive ? malloc(sizeof(double) * ns * n) : NULL;
    if ((want_drive && !*drive) || !out->est || !out->bias_q || !out->e_bias || !out->e_r ||
        !out->e_r_stage || !x->n_acc || !x->vprev || !x->pprev)
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    return 0;
}

/* The DAC: every sample's bias quantised and held (a chip's converters: pl->dac), plus the
 * rest currents into drive when it exists. */
static void exp_dac(exp_ctx *x, double *drive)
{
    const tdi_cosim_plan *pl = x->pl;
    size_t n = x->c->n, ns = pl->n_samples;
    double *bq = x->out->bias_q;
    for (size_t q = 0; q < ns * n; q++)
        bq[q] = pl->dac ? tdi_cosim_conv_apply(pl->dac, q % n, pl->bias[q])
                        : tdi_cosim_quantize(pl->bias[q], pl->dac_bits, pl->dac_fs);
    x->out->n_dac = (long)(ns * n);
    for (size_t q = 0; drive && q < ns * n; q++)
        drive[q] = bq[q] + x->c->i_off[q % n];
    x->drive = drive ? drive : bq;
    x->off = drive ? x->c->i_off : NULL;
}

/* The analytic engine: each sample's equilibrium read directly, its energies over L ticks. */
static int exp_analytic(exp_ctx *x, tdi_err *err)
{
    const tdi_cosim_plan *pl = x->pl;
    const tdi_cosim_circuit *c = x->c;
    tdi_cosim_out *out = x->out;
    size_t n = c->n;
    double *vs = malloc(sizeof(double) * n), T = (double)x->L * pl->tick;
    int rc = vs ? 0 : tdi_err_set(err, TDI_ENOMEM, "out of memory");
    for (size_t s = 0; s < pl->n_samples && !rc; s++) {
        const double *ib = out->bias_q + s * n;
        rc = tdi_cosim_analytic_solve(c, x->drive + s * n, vs, err);
        for (size_t r = 0; r < pl->n_read && !rc; r++)
            out->est[s * pl->n_read + r] = vs[pl->read[r]];
        double pb = 0, ps = 0;
        for (size_t i = 0; i < n && !rc; i++) {
            pb += ib[i] * vs[i];
            if (pl->stage_first > 0 && i >= pl->stage_first)
                ps += c->r_unit[i] * vs[i] * vs[i];
        }
        if (rc)
            break;
        out->e_bias[s] = pb * T;
        out->e_r[s] = tdi_cosim_resistor_power(c, vs) * T; /* v constant: no rate term */
        out->e_r_stage[s] = ps * T;
    }
    free(vs);
    return rc;
}

/* One engine run's statistics added to the job's. */
static void exp_add_stats(tdi_cosim_stats *to, const tdi_cosim_stats *st)
{
    to->ticks_hit += st->ticks_hit;
    to->points += st->points;
    to->src_calls += st->src_calls;
    to->cpu_s += st->cpu_s;
    to->wall_s += st->wall_s;
    for (size_t k = 0; k < TDI_COSIM_MAX_SUPPLY; k++)
        to->supply_q[k] += st->supply_q[k];
    to->supply_t += st->supply_t;
}

/* The lock-step runs: one per sample, or one for the whole batch (pl->batch). */
static int exp_runs(tdi_cosim_kind kind, exp_ctx *x, tdi_cosim_sde *sde, tdi_cosim_noise *nz,
                    size_t runs, tdi_err *err)
{
    const tdi_cosim_plan *pl = x->pl;
    int rc = 0;
    for (size_t q = 0; q < runs && !rc; q++) {
        tdi_cosim_digital dg = {pl->tick, pl->batch ? x->L * (long)pl->n_samples : x->L,
                                exp_bias, exp_tick, x};
        tdi_cosim_stats st;
        x->s_base = pl->batch ? 0 : q;
        nz->tick0 = (long)x->s_base * x->L;
        memset(x->vprev, 0, sizeof(double) * x->c->n);
        x->pprev[0] = 0;
        if (kind == TDI_COSIM_SDE)
            rc = tdi_cosim_sde_run(sde, nz, &dg, &st, err);
        else
            rc = tdi_cosim_spice_run(x->c, nz, &dg, &st, err);
        exp_add_stats(&x->out->st, &st);
    }
    return rc;
}

/* The sde and spice engines: noise stream (and the devices' for spice), then the mode-basis
 * fast path (docs/sde.md), the batched sde or the lock-step runs. */
static int exp_stochastic(tdi_cosim_kind kind, exp_ctx *x, tdi_err *err)
{
    const tdi_cosim_plan *pl = x->pl;
    const tdi_cosim_circuit *c = x->c;
    size_t ns = pl->n_samples;
    int batched = kind == TDI_COSIM_SDE && !pl->batch && !pl->sde_per_run && ns > 1;
    tdi_cosim_sde *sde = NULL;
    tdi_cosim_noise nz = {0};
    tdi_cosim_devnoise dn = {0};
    int rc = tdi_cosim_noise_init(&nz, c, pl->tick, pl->seed, pl->noise, err);
    if (!rc && kind == TDI_COSIM_SPICE && c->n_dev > 0 && pl->noise)
        rc = exp_dev_noise(c, pl, x->ticks_total, &dn, err);
    nz.dev = dn.n ? &dn : NULL;
    nz.scalar = kind == TDI_COSIM_SDE && pl->sde_per_run;
    int modes = !rc && batched && !x->off /* no rest currents */ && !pl->adc &&
                tdi_cosim_sde_modes_applies(c, pl, &nz, NULL, 0);
    if (!rc && kind == TDI_COSIM_SDE && !modes && !(sde = tdi_cosim_sde_alloc(c, pl->tick, err)))
        rc = err ? err->code : TDI_ENOMEM;
    if (!rc && modes) {
        rc = tdi_cosim_sde_modes_run(c, pl, &nz, x->L, x->out, x->n_acc, err);
        x->ticks_done = x->L * (long)ns;
    } else if (!rc && batched) {
        rc = exp_run_sde_cols(x, sde, &nz, err);
    }
    if (!rc)
        rc = exp_runs(kind, x, sde, &nz, batched ? 0 : pl->batch ? 1 : ns, err);
    if (!rc && batched && x->out->wave_rows > 1)
        qsort(x->out->wave, x->out->wave_rows, sizeof(double) * (1 + pl->n_wave), exp_wave_cmp);
    tdi_cosim_sde_free(sde);
    tdi_cosim_noise_destroy(&nz);
    tdi_cosim_devnoise_destroy(&dn);
    return rc;
}

/* Each sample's read-out: the mean of its ADC conversions. */
static int exp_finish(exp_ctx *x, tdi_err *err)
{
    const tdi_cosim_plan *pl = x->pl;
    int rc = 0;
    progress(x, 1);
    for (size_t s = 0; s < pl->n_samples && !rc; s++) {
        if (x->n_acc[s] == 0)
            rc = tdi_err_set(err, TDI_EARG, "experiment: sample %zu got no ADC conversion", s);
        for (size_t r = 0; r < pl->n_read && !rc; r++)
            x->out->est[s * pl->n_read + r] /= (double)x->n_acc[s];
    }
    return rc;
}

int tdi_cosim_exp_run(tdi_cosim_kind kind, const tdi_cosim_circuit *c, const tdi_cosim_plan *pl,
                      tdi_cosim_out *out, tdi_err *err)
{
    memset(out, 0, sizeof *out);
    long L = 0, total = 0;
    int rc = exp_check(c, pl, &L, &total, err);
    if (rc)
        return rc;
    exp_ctx x = {0};
    double *drive = NULL;
    x.pl = pl, x.c = c, x.out = out, x.L = L, x.ticks_total = total;
    rc = exp_alloc(kind, &x, &drive, err);
    if (!rc) {
        exp_dac(&x, drive);
        x.wall0 = x.last_print = tdi_clock_s(CLOCK_MONOTONIC);
        if (kind == TDI_COSIM_ANALYTIC) {
            rc = exp_analytic(&x, err);
        } else {
            rc = exp_stochastic(kind, &x, err);
            if (!rc)
                rc = exp_finish(&x, err);
            else if (pl->label)
                fprintf(stderr, "\n");
        }
    }
    free(x.n_acc);
    free(x.vprev);
    free(x.pprev);
    free(drive);
    if (rc)
        tdi_cosim_out_destroy(out);
    return rc;
}
