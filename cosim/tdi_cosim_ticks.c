/* tdi_cosim_ticks: the one place where a run's tick counts are derived from durations (settle,
 * average, ADC interval per tick), with checked conversions and sums, and the tick budget
 * TDI_COSIM_MAX_TICKS (tdi_cosim.h says why 1e9). Errors name the config key and where the file
 * sets it. Also the run-time estimate printed before a long run.
 * Non-goal: choosing the durations (the circuit's physics, generator/tdi_gen_circ.c). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tdi_cfg.h"
#include "tdi_cosim.h"

/* Where the file sets key ("file:line:col") into loc; returns 0 when it does not (a default). */
static int ticks_loc(const tdi_cosim_timing *t, const char *key, char *loc, size_t n)
{
    tdi_cfg_locate(t->path, key, loc, n);
    return t->path && strcmp(loc, t->path) != 0;
}

/* "key (file:line:col)" or "key (default)" */
static void ticks_where(const tdi_cosim_timing *t, const char *key, char *buf, size_t n)
{
    char loc[600];
    int set = ticks_loc(t, key, loc, sizeof loc);
    snprintf(buf, n, "%s (%s)", key, set ? loc : "default");
}

/* The location to lead a message with: where the file sets k1, else k2, else the file name. */
static void ticks_lead(const tdi_cosim_timing *t, const char *k1, const char *k2, char *buf,
                       size_t n)
{
    if (!ticks_loc(t, k1, buf, n) && (!k2 || !ticks_loc(t, k2, buf, n)))
        snprintf(buf, n, "%s", t->path ? t->path : "config");
}

/* *out = ceil(dur / tick - 1e-9) >= 0, refusing what is not finite or exceeds the budget. The
 * message leads with the key the file sets: the duration's, else the tick's. */
static int ticks_of(const tdi_cosim_timing *t, double dur, const char *key, const char *what,
                    long *out, tdi_err *err)
{
    double q = dur / t->tick - 1e-9;
    if (isfinite(dur) && dur >= 0 && q <= (double)TDI_COSIM_MAX_TICKS) {
        *out = q > 0 ? (long)ceil(q) : 0;
        return 0;
    }
    char ld[600], lt[600], wd[700], wt[700];
    int sd = ticks_loc(t, key, ld, sizeof ld), st = ticks_loc(t, t->tick_key, lt, sizeof lt);
    ticks_where(t, key, wd, sizeof wd);
    ticks_where(t, t->tick_key, wt, sizeof wt);
    if (st && !sd)
        return tdi_err_set(err, TDI_ECONFIG, "%s: %s: the tick of %.6g s makes the %s (%.6g s, "
                           "from %s) %.3g ticks: more than the %.0e ticks a run may simulate "
                           "(docs/cosim.md, \"Tick budget\")", lt, t->tick_key, t->tick, what,
                           dur, wd, q, (double)TDI_COSIM_MAX_TICKS);
    return tdi_err_set(err, TDI_ECONFIG, "%s: %s: the %s of %.6g s is %.3g ticks of %.6g s "
                       "(tick from %s): more than the %.0e ticks a run may simulate "
                       "(docs/cosim.md, \"Tick budget\")", sd ? ld : (t->path ? t->path : "config"),
                       key, what, dur, q, t->tick, wt, (double)TDI_COSIM_MAX_TICKS);
}

int tdi_cosim_ticks_total(long settle, long avg, size_t n, long *per_sample, long *total,
                          tdi_err *err)
{
    long L = 0, T = 0;
    if (settle < 0 || avg < 1 || n < 1 || __builtin_add_overflow(settle, avg, &L) ||
        n > (size_t)TDI_COSIM_MAX_TICKS || __builtin_mul_overflow(L, (long)n, &T) ||
        T > TDI_COSIM_MAX_TICKS)
        return tdi_err_set(err, TDI_EARG, "%zu samples x (%ld settle + %ld average ticks): need "
                           "settle >= 0, average >= 1 and at most %.0e ticks in all", n, settle,
                           avg, (double)TDI_COSIM_MAX_TICKS);
    *per_sample = L;
    *total = T;
    return 0;
}

/* Ticks between ADC conversions: round(1 / (rate tick)), at least 1 and at most the window. */
static int ticks_stride(tdi_cosim_timing *t, tdi_err *err)
{
    double q = 1.0 / (t->adc_rate * t->tick);
    if (isfinite(q) && q <= (double)t->avg_ticks + 0.5) {
        t->stride = q < 1.5 ? 1 : lround(q);
        return 0;
    }
    char l[600], wa[700];
    ticks_lead(t, t->adc_key, t->avg_key, l, sizeof l);
    ticks_where(t, t->avg_key, wa, sizeof wa);
    return tdi_err_set(err, TDI_ECONFIG, "%s: %s: an ADC rate of %.6g Hz converts every %.3g ticks, but the "
                       "averaging window [%s] is %ld ticks: no conversion would fall in it", l,
                       t->adc_key, t->adc_rate, q, wa, t->avg_ticks);
}

/* The tick and the ADC rate must be finite and > 0 (the loader's ranges allow 0 = auto only). */
static int ticks_inputs(const tdi_cosim_timing *t, tdi_err *err)
{
    char l[600];
    if (!(isfinite(t->tick) && t->tick > 0)) {
        ticks_lead(t, t->tick_key, NULL, l, sizeof l);
        return tdi_err_set(err, TDI_ECONFIG, "%s: %s: the tick of %.6g s must be finite and > 0",
                           l, t->tick_key, t->tick);
    }
    if (!(isfinite(t->adc_rate) && t->adc_rate > 0)) {
        ticks_lead(t, t->adc_key, NULL, l, sizeof l);
        return tdi_err_set(err, TDI_ECONFIG, "%s: %s: the ADC rate of %.6g Hz must be finite "
                           "and > 0", l, t->adc_key, t->adc_rate);
    }
    return 0;
}

int tdi_cosim_timing_plan(tdi_cosim_timing *t, tdi_err *err)
{
    int rc = ticks_inputs(t, err);
    if (!rc)
        rc = ticks_of(t, t->t_settle, t->settle_key, "settling time", &t->settle_ticks, err);
    if (!rc)
        rc = ticks_of(t, t->t_avg, t->avg_key, "averaging window", &t->avg_ticks, err);
    if (rc)
        return rc;
    if (t->avg_ticks < 1)
        t->avg_ticks = 1;
    size_t n = t->n_samples > 0 ? t->n_samples : 1;
    if (tdi_cosim_ticks_total(t->settle_ticks, t->avg_ticks, n, &t->per_sample, &t->total,
                              NULL)) {
        char l[600], ws[700], wa[700];
        ticks_lead(t, "cosim.n_samples", t->avg_key, l, sizeof l);
        ticks_where(t, t->settle_key, ws, sizeof ws);
        ticks_where(t, t->avg_key, wa, sizeof wa);
        return tdi_err_set(err, TDI_ECONFIG, "%s: cosim.n_samples: %zu samples x (%ld settle "
                           "ticks [%s] + %ld average ticks [%s]) is more than the %.0e ticks a "
                           "run may simulate (docs/cosim.md, \"Tick budget\"): fewer samples, "
                           "shorter windows or a longer tick", l, n, t->settle_ticks, ws,
                           t->avg_ticks, wa, (double)TDI_COSIM_MAX_TICKS);
    }
    return ticks_stride(t, err);
}

/* CPU seconds per tick against the unit count N, fitted to scripts/cosim-rates.sh (synthetic
 * bundles, N = 12..128, slower of two runs on a shared 2-core machine): sde 1.2e6, 5.8e5,
 * 2.6e5, 1.1e5 ticks/CPU-s at N = 12, 32, 64, 128 (~N, N^2 above: dense mat-vec); spice
 * 4.95e4, 1.68e4, 5.2e3, 652 (~N for small circuits, N^3 from 64 on: ngspice's LU of the dense
 * coupling). Each model is within 30% of those points. An estimate, not a bound. */
double tdi_cosim_runtime_estimate(tdi_cosim_kind kind, size_t n_units, long ticks)
{
    double r = (double)n_units / 128.0, per_tick = 0;
    if (kind == TDI_COSIM_SDE)
        per_tick = 9.1e-6 * fmax(r, r * r);
    else if (kind == TDI_COSIM_SPICE)
        per_tick = fmax(2.0e-5 * (double)n_units / 12.0, 1.5e-3 * r * r * r);
    return per_tick * (double)ticks;
}
