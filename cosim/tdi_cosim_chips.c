/* tdi_cosim_chips: the Monte Carlo over mismatch (cosim.chips; docs/cosim.md "Transistor
 * level"). Chip c = circuit.chip .. + chips - 1: the same design regenerated with its own
 * Pelgrom draws (tdi_seed(seed, TDI_SEED_MISMATCH, c)), its realised G and rest currents
 * extracted, the job's samples run with the job's plan and seeds by the analytic engine (G +
 * offsets) and, on request, sde and spice; one tdi_cosim_chip line each, the table block and
 * chips.csv. Invariant: a chip's numbers depend only on (config, chip): the chip equal to
 * circuit.chip repeats the job's own rows. Non-goals: the single-chip rows (tdi_cosim_mos.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tdi_clock.h"
#include "tdi_cosim_job.h"

/* Centered cosine and R^2 of decoder estimates est (n, D) V (shifted by -off[read] when off is
 * given) against the truth. */
static int chip_metrics(const tdi_cosim_job *j, const double *est, size_t n, const double *off,
                        tdi_metrics *m)
{
    size_t D = j->D;
    double *pred = malloc(n * D * sizeof *pred);
    if (!pred)
        return TDI_ENOMEM;
    for (size_t q = 0; q < n * D; q++)
        pred[q] = (est[q] - (off ? off[j->read[q % D]] : 0.0)) / j->ph->Vs * j->gain[q % D];
    *m = tdi_metrics_eval(pred, j->truth + j->s0 * D, j->mean_fit, n, D);
    free(pred);
    return 0;
}

static double rms(const double *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i] * x[i];
    return sqrt(s / (double)n);
}

/* Engine k on the chip's circuit cc over the first n samples with the job's plan (its DAC,
 * schedule and seeds) and the chip's own ADC full scale adc_fs (V: as a job at that chip
 * chooses it) into out. */
static int chip_engine(tdi_cosim_job *j, tdi_cosim_kind k, const tdi_cosim_circuit *cc,
                       size_t n, double adc_fs, tdi_cosim_out *out, tdi_err *err)
{
    tdi_cosim_plan pl = j->pl;
    pl.adc_fs = adc_fs;
    pl.n_samples = n;
    pl.n_wave = 0;
    pl.label = NULL;
    pl.batch = j->sched_batch[k];
    return tdi_cosim_exp_run(k, cc, &pl, out, err);
}

/* Chip number chip (index c of the loop): build (or take the prepared circuit), extract, run;
 * the line into *ln. */
static int chip_run(tdi_cosim_job *j, size_t c, long chip, tdi_cosim_chip *ln, tdi_err *err)
{
    const tdi_cosim_cfg *cfg = &j->cfg;
    double w0 = tdi_clock_s(CLOCK_MONOTONIC), tick = j->tm.tick;
    double t_stop = tick * (double)j->tm.per_sample * (double)j->ns;
    tdi_gen_config g = j->gcfg;
    g.chip = chip;
    tdi_gen_circuit *gc = NULL;
    tdi_cosim_circuit *cc = NULL;
    tdi_cosim_realised real = {0};
    tdi_cosim_out o[3] = {{0}};
    double *v_off = malloc(j->N * sizeof *v_off);
    memset(ln, 0, sizeof *ln);
    ln->chip = chip;
    ln->cc_sde = ln->cc_spice = ln->rms_spice = NAN;
    int rc = v_off ? 0 : tdi_err_set(err, TDI_ENOMEM, "out of memory");
    if (!rc && j->chip_gc) { /* prepared, its device noise sized */
        gc = j->chip_gc[c];
        j->chip_gc[c] = NULL;
    } else if (!rc) {
        rc = tdi_gen_circuit_build(&g, &j->b, &gc, err);
        if (!rc)
            rc = tdi_cosim_mos_calibrate(gc, err); /* mos_self_comp, mos_trim: per chip */
    }
    if (!rc)
        rc = tdi_cosim_mos_circuits(&g, &j->b, gc, tick, t_stop,
                                    tdi_cosim_job_realised_method(j), &real, NULL, &cc, NULL,
                                    err);
    if (!rc)
        rc = tdi_cosim_analytic_solve(cc, cc->i_off, v_off, err);
    double dac_units, adc_fs; /* the chip's offsets move its equilibria: its own ADC range */
    if (!rc)
        rc = tdi_cosim_fullscale(cfg, gc, cc, j->bsim, j->ibias, j->ns, &dac_units, &adc_fs, err);
    if (!rc)
        rc = chip_engine(j, TDI_COSIM_ANALYTIC, cc, j->ns, adc_fs, &o[0], err);
    if (!rc && cfg->chips_sde && j->want[TDI_COSIM_SDE])
        rc = chip_engine(j, TDI_COSIM_SDE, cc, j->ns, adc_fs, &o[1], err);
    if (!rc && cfg->chips_spice && j->want[TDI_COSIM_SPICE])
        rc = chip_engine(j, TDI_COSIM_SPICE, cc, j->nk[TDI_COSIM_SPICE], adc_fs, &o[2], err);
    tdi_metrics m;
    if (!rc) {
        ln->rel_fro = real.rel_fro;
        ln->asym = real.asym;
        ln->i_rest_rms = rms(real.i_rest, j->N);
        if (gc->trim) { /* circuit.mos_trim: this chip's own calibration */
            ln->trim_untrimmed_rms = gc->trim->first_rms;
            ln->trim_rms = gc->trim->trim_rms;
            ln->trim_W = gc->trim->power_W;
        }
        ln->off_rms = rms(v_off, j->N);
        rc = chip_metrics(j, o[0].est, j->ns, NULL, &m);
        ln->cc_ana = m.cos_centered;
        ln->r2_ana = m.r2;
        rc = rc ? rc : chip_metrics(j, o[0].est, j->ns, v_off, &m);
        ln->cc_ana_g = m.cos_centered;
        if (!rc && o[1].est && !(rc = chip_metrics(j, o[1].est, j->ns, NULL, &m)))
            ln->cc_sde = m.cos_centered;
        if (!rc && o[2].est && !(rc = chip_metrics(j, o[2].est, j->nk[2], NULL, &m))) {
            ln->cc_spice = m.cos_centered;
            double ss = 0; /* spice's decoder outputs against analytic (G + offsets) */
            for (size_t q = 0; q < j->nk[2] * j->D; q++)
                ss += (o[2].est[q] - o[0].est[q]) * (o[2].est[q] - o[0].est[q]);
            ln->rms_spice = sqrt(ss / (double)(j->nk[2] * j->D));
        }
        if (rc)
            tdi_err_set(err, rc, "out of memory");
    }
    for (int k = 0; k < 3; k++)
        tdi_cosim_out_destroy(&o[k]);
    tdi_cosim_realised_destroy(&real);
    tdi_cosim_circuit_free(cc);
    tdi_gen_circuit_free(gc);
    free(v_off);
    ln->wall_s = tdi_clock_s(CLOCK_MONOTONIC) - w0;
    return rc ? tdi_err_prefix(err, "cosim.chips: chip %ld", chip) : 0;
}

/* With chips_spice: every chip's circuit built and its device noise sized now, before any
 * transient of the job: ngspice 39.3's .noise keeps one point after a transient with .save none
 * ran in the process (docs/noise.md). */
static int chips_prepare_noise(tdi_cosim_job *j, tdi_err *err)
{
    size_t n = (size_t)j->cfg.chips;
    if (!(j->chip_gc = calloc(n, sizeof *j->chip_gc)))
        return tdi_err_set(err, TDI_ENOMEM, "cosim.chips: out of memory");
    int rc = 0;
    for (size_t c = 0; c < n && !rc; c++) {
        tdi_gen_config g = j->gcfg;
        g.chip = j->gcfg.chip + (long)c;
        rc = tdi_gen_circuit_build(&g, &j->b, &j->chip_gc[c], err);
        if (!rc)
            rc = tdi_cosim_mos_calibrate(j->chip_gc[c], err); /* before the noise sizing */
        if (!rc)
            rc = tdi_cosim_mos_noise_size(j->chip_gc[c], err);
        if (rc)
            tdi_err_prefix(err, "cosim.chips: chip %ld", g.chip);
    }
    return rc;
}

int tdi_cosim_chips_check(const tdi_cosim_job *j, tdi_err *err)
{
    const tdi_cosim_cfg *cfg = &j->cfg;
    if (cfg->chips > 0 && (strcmp(j->gcfg.devices, "mos") != 0 || !j->gcfg.mos_mismatch))
        return tdi_err_set(err, TDI_ECONFIG, "%s: cosim.chips = %ld needs circuit.devices: mos "
                           "and circuit.mos_mismatch: true (the chips differ only in their "
                           "mismatch draws)", cfg->path, cfg->chips);
    return 0;
}

int tdi_cosim_job_chips_prepare(tdi_cosim_job *j, tdi_err *err)
{
    const tdi_cosim_cfg *cfg = &j->cfg;
    if (cfg->chips <= 0 || !cfg->chips_spice || !cfg->spice || cfg->deck_out)
        return 0;
    return chips_prepare_noise(j, err);
}

void tdi_cosim_chips_free(tdi_cosim_job *j)
{
    for (size_t c = 0; j->chip_gc && c < (size_t)j->cfg.chips; c++)
        tdi_gen_circuit_free(j->chip_gc[c]);
    free(j->chip_gc);
    free(j->chips);
}

int tdi_cosim_job_chips(tdi_cosim_job *j, tdi_err *err)
{
    const tdi_cosim_cfg *cfg = &j->cfg;
    if (cfg->chips <= 0)
        return 0;
    int rc = 0;
    if (!(j->chips = calloc((size_t)cfg->chips, sizeof *j->chips)))
        return tdi_err_set(err, TDI_ENOMEM, "cosim.chips: out of memory");
    double w0 = tdi_clock_s(CLOCK_MONOTONIC);
    for (long c = 0; c < cfg->chips && !rc; c++) {
        rc = chip_run(j, (size_t)c, j->gcfg.chip + c, &j->chips[c], err);
        if (!rc && cfg->progress)
            fprintf(stderr, "tdi-cosim chips: chip %ld (%ld of %ld), %.1f s\n",
                    j->chips[c].chip, c + 1, cfg->chips, j->chips[c].wall_s);
        j->n_chips += !rc;
    }
    j->chips_wall = tdi_clock_s(CLOCK_MONOTONIC) - w0;
    return rc;
}

/* ------------------------------------------------------------------ report */
/* Column q of a chip line (TDI_CHIP_NCOL columns, in the order of the names below). */
enum { TDI_CHIP_NCOL = 9 };
static const char *const chip_col[TDI_CHIP_NCOL] = {
    "rel_fro", "asymmetry", "i_rest_rms_A", "offset_rms_V", "cos_centered_analytic",
    "cos_centered_analytic_G", "cos_centered_sde", "cos_centered_spice",
    "spice_vs_analytic_rms_V"};

static double chip_val(const tdi_cosim_chip *c, int q)
{
    const double v[TDI_CHIP_NCOL] = {c->rel_fro, c->asym, c->i_rest_rms, c->off_rms, c->cc_ana,
                                     c->cc_ana_g, c->cc_sde, c->cc_spice, c->rms_spice};
    return v[q];
}

/* mean, std (n - 1; 0 for one chip), min, max of column q over the chips (NAN: not run). */
static void chip_stats(const tdi_cosim_job *j, int q, double st[4])
{
    double s = 0, ss = 0, lo = INFINITY, hi = -INFINITY;
    size_t n = j->n_chips;
    for (size_t c = 0; c < n; c++) {
        double v = chip_val(&j->chips[c], q);
        s += v;
        lo = fmin(lo, v);
        hi = fmax(hi, v);
    }
    double mean = s / (double)n;
    if (isnan(mean)) /* a row that did not run */
        lo = hi = NAN;
    for (size_t c = 0; c < n; c++)
        ss += (chip_val(&j->chips[c], q) - mean) * (chip_val(&j->chips[c], q) - mean);
    st[0] = mean;
    st[1] = isnan(mean) ? NAN : n > 1 ? sqrt(ss / (double)(n - 1)) : 0.0;
    st[2] = lo;
    st[3] = hi;
}

/* mean and std (n - 1) over the chips of x(chip) */
static void chip_ms(const tdi_cosim_job *j, double (*x)(const tdi_cosim_chip *), double *m,
                    double *sd)
{
    double s = 0, ss = 0;
    size_t n = j->n_chips;
    for (size_t c = 0; c < n; c++)
        s += x(&j->chips[c]);
    *m = s / (double)n;
    for (size_t c = 0; c < n; c++)
        ss += (x(&j->chips[c]) - *m) * (x(&j->chips[c]) - *m);
    *sd = n > 1 ? sqrt(ss / (double)(n - 1)) : 0.0;
}

static double chip_untrimmed(const tdi_cosim_chip *c) { return c->trim_untrimmed_rms; }
static double chip_trim_rms(const tdi_cosim_chip *c) { return c->trim_rms; }
static double chip_trim_w(const tdi_cosim_chip *c) { return c->trim_W; }

/* mean m[] and std sd[] over the chips of: the untrimmed rest currents' rms, the trim's rms, its
 * power (circuit.mos_trim) */
static void chips_trim_stats(const tdi_cosim_job *j, double m[3], double sd[3])
{
    chip_ms(j, chip_untrimmed, &m[0], &sd[0]);
    chip_ms(j, chip_trim_rms, &m[1], &sd[1]);
    chip_ms(j, chip_trim_w, &m[2], &sd[2]);
}

/* circuit.mos_trim: every chip trimmed by its own measurement (nothing without a trim) */
static void chips_print_trim(const tdi_cosim_job *j, FILE *f)
{
    if (!tdi_gen_mos_trim_on(&j->gcfg))
        return;
    double m[3], sd[3];
    chips_trim_stats(j, m, sd);
    fprintf(f, "offset trim per chip (circuit.mos_trim: %s, measured on each chip): untrimmed rest "
            "currents rms %.4g +- %.3g A, trim rms %.4g +- %.3g A, trim DAC power %.4g +- %.3g W; "
            "the i_rest column is the residual after it\n", j->gcfg.mos_trim, m[0], sd[0], m[1],
            sd[1], m[2], sd[2]);
}

void tdi_cosim_chips_print(const tdi_cosim_job *j, FILE *f)
{
    if (!j->n_chips || !f)
        return;
    fprintf(f, "\nMonte Carlo over mismatch: %zu chip(s) (circuit.chip %ld .. %ld), %zu samples "
            "each (spice %s), %.3g s wall; analytic and sde: the chip's extracted G + rest "
            "currents\n", j->n_chips, j->chips[0].chip, j->chips[j->n_chips - 1].chip, j->ns,
            j->cfg.chips_spice ? "on its samples" : "off", j->chips_wall);
    fprintf(f, "%8s %10s %10s %12s %12s %9s %9s %9s %9s %12s\n", "chip", "|dG|/|guM|",
            "asymmetry", "i_rest rms A", "offset rms V", "cc ana", "cc ana G", "cc sde",
            "cc spice", "spice-ana V");
    for (size_t c = 0; c < j->n_chips; c++) {
        const tdi_cosim_chip *k = &j->chips[c];
        fprintf(f, "%8ld %10.4e %10.4e %12.4e %12.4e %9.4f %9.4f %9.4f %9.4f %12.4e\n", k->chip,
                k->rel_fro, k->asym, k->i_rest_rms, k->off_rms, k->cc_ana, k->cc_ana_g,
                k->cc_sde, k->cc_spice, k->rms_spice);
    }
    const char *stn[4] = {"mean", "std", "min", "max"};
    double st[TDI_CHIP_NCOL][4];
    for (int q = 0; q < TDI_CHIP_NCOL; q++)
        chip_stats(j, q, st[q]);
    for (int r = 0; r < 4; r++)
        fprintf(f, "%8s %10.4e %10.4e %12.4e %12.4e %9.4f %9.4f %9.4f %9.4f %12.4e\n", stn[r],
                st[0][r], st[1][r], st[2][r], st[3][r], st[4][r], st[5][r], st[6][r], st[7][r],
                st[8][r]);
    fprintf(f, "(cc: centered cosine of the decoder outputs; ana G: the extracted G without the "
            "rest currents; spice-ana: rms of spice's decoder outputs against analytic (G + "
            "offsets); nan: not run; chips.csv has every line)\n");
    chips_print_trim(j, f);
}

void tdi_cosim_chips_csv(const tdi_cosim_job *j, FILE *f)
{
    fprintf(f, "chip");
    for (int q = 0; q < TDI_CHIP_NCOL; q++)
        fprintf(f, ",%s", chip_col[q]);
    int trim = tdi_gen_mos_trim_on(&j->gcfg); /* its columns last, only when on */
    fprintf(f, ",r2_analytic,wall_s%s\n", trim ? ",untrimmed_rms_A,trim_rms_A,trim_dac_W" : "");
    for (size_t c = 0; c < j->n_chips; c++) {
        const tdi_cosim_chip *k = &j->chips[c];
        fprintf(f, "%ld", k->chip);
        for (int q = 0; q < TDI_CHIP_NCOL; q++)
            fprintf(f, ",%.17g", chip_val(k, q));
        fprintf(f, ",%.17g,%.4g", k->r2_ana, k->wall_s);
        if (trim)
            fprintf(f, ",%.17g,%.17g,%.17g", k->trim_untrimmed_rms, k->trim_rms, k->trim_W);
        fprintf(f, "\n");
    }
}

int tdi_cosim_chips_json(const tdi_cosim_job *j, tdi_json *o)
{
    if (!j->n_chips)
        return 0;
    const tdi_json_kv kv[] = {TDI_JI("n", j->n_chips), TDI_JI("first", j->chips[0].chip),
                              TDI_JR("wall_s", j->chips_wall)};
    tdi_json *c = tdi_json_add_object(o, "chips");
    int rc = tdi_json_set(c, kv, TDI_JSON_N(kv));
    for (int q = 0; q < TDI_CHIP_NCOL && !rc; q++) {
        double st[4];
        chip_stats(j, q, st);
        if (isnan(st[0]))
            continue; /* a column no chip measured (sde or spice off) */
        const tdi_json_kv sk[] = {TDI_JR("mean", st[0]), TDI_JR("std", st[1]),
                                  TDI_JR("min", st[2]), TDI_JR("max", st[3])};
        rc = tdi_json_set(tdi_json_add_object(c, chip_col[q]), sk, TDI_JSON_N(sk));
    }
    if (!rc && tdi_gen_mos_trim_on(&j->gcfg)) { /* circuit.mos_trim: mean, std over chips */
        double m[3], sd[3];
        chips_trim_stats(j, m, sd);
        const tdi_json_kv tk[] = {TDI_JR("untrimmed_rms_A_mean", m[0]),
                                  TDI_JR("untrimmed_rms_A_std", sd[0]),
                                  TDI_JR("trim_rms_A_mean", m[1]), TDI_JR("trim_rms_A_std", sd[1]),
                                  TDI_JR("trim_dac_W_mean", m[2]), TDI_JR("trim_dac_W_std", sd[2])};
        rc = tdi_json_set(tdi_json_add_object(c, "trim"), tk, TDI_JSON_N(tk));
    }
    return rc;
}
