/* tdi_cosim_engines: the job's plan and engine dispatch. The converters' full scales (DAC from
 * the largest bias, ADC from the largest equilibrium plus 6 sigma of the noise), the schedule
 * per engine, the waveform units; then the paper's kT = 1 row (sde) beside the operating point,
 * and the analytic (always: the read-out reference), sde and spice rows, timed.
 * Non-goals: the engines themselves (tdi_cosim_exp.c and below), metrics. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tdi_clock.h"
#include "tdi_cosim_job.h"

int tdi_cosim_fullscale(const tdi_cosim_cfg *cfg, const tdi_gen_circuit *gc,
                        const tdi_cosim_circuit *cc, const double *bsim, const double *ib,
                        size_t ns, double *dac_fs_units, double *adc_fs, tdi_err *err)
{
    size_t D = gc->D, N = gc->N, n = cc->n, o = gc->mod[gc->out].off;
    double bmax = 0;
    for (size_t q = 0; q < ns * N; q++)
        bmax = fmax(bmax, fabs(bsim[q]));
    *dac_fs_units = cfg->dac_fs > 0 ? cfg->dac_fs : 1.05 * bmax;
    double *vstar = malloc(sizeof(double) * n);
    if (!vstar)
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    double vmax = 0, sdmax = 0;
    for (size_t s = 0; s < ns; s++) {
        int rc = tdi_cosim_analytic_equilibrium(cc, ib + s * n, vstar, err);
        if (rc) {
            free(vstar);
            return rc;
        }
        for (size_t i = o; i < o + D; i++)
            vmax = fmax(vmax, fabs(vstar[i]));
    }
    free(vstar);
    for (size_t i = o; i < o + D; i++)
        sdmax = fmax(sdmax, sqrt(gc->node_var[i]));
    *adc_fs = cfg->adc_fs > 0 ? cfg->adc_fs : 1.1 * (vmax + 6 * sdmax);
    return 0;
}

/* The waveform units (checked against the circuit) and how much of the run they cover. */
static int plan_waves(tdi_cosim_job *j, tdi_err *err)
{
    const tdi_cosim_cfg *cfg = &j->cfg;
    for (size_t q = 0; q < cfg->n_wave_units; q++) {
        if ((size_t)cfg->wave_units[q] >= j->NT)
            return tdi_err_set(err, TDI_ECONFIG, "%s: cosim.waveform_units: unit %ld >= %zu "
                               "units", cfg->path, cfg->wave_units[q], j->NT);
        j->wave[q] = (size_t)cfg->wave_units[q];
    }
    j->pl.wave = j->wave;
    j->pl.wave_every = cfg->wave_every;
    j->pl.wave_ticks = ((size_t)cfg->wave_samples < j->ns ? cfg->wave_samples : (long)j->ns) *
                       j->tm.per_sample;
    return 0;
}

/* A chip's converters (cosim.adc_* / dac_*, docs/nonideal.md): drawn from the chip's stream
 * tdi_seed(seed, TDI_SEED_NONIDEAL, circuit.chip); one DAC per unit, one ADC per read-out unit. */
static int plan_converters(tdi_cosim_job *j, tdi_err *err)
{
    const tdi_cosim_cfg *c = &j->cfg;
    uint64_t key = tdi_seed((uint64_t)c->seed, TDI_SEED_NONIDEAL, (uint64_t)j->gcfg.chip);
    int rc = 0;
    if (c->dac_offset > 0 || c->dac_gain_err > 0 || c->dac_inl > 0) {
        rc = tdi_cosim_conv_init(&j->dac_ni, j->cc->n, 0, (int)c->dac_bits, j->dac_fs,
                                 c->dac_offset, c->dac_gain_err, c->dac_inl, key, err);
        j->pl.dac = rc ? NULL : &j->dac_ni;
    }
    if (!rc && (c->adc_offset > 0 || c->adc_gain_err > 0 || c->adc_inl > 0)) {
        rc = tdi_cosim_conv_init(&j->adc_ni, j->D, 1, (int)c->adc_bits, j->adc_fs,
                                 c->adc_offset, c->adc_gain_err, c->adc_inl, key, err);
        j->pl.adc = rc ? NULL : &j->adc_ni;
    }
    return rc ? tdi_err_prefix(err, "%s: cosim.adc_* / dac_*", c->path) : 0;
}

int tdi_cosim_job_plan(tdi_cosim_job *j, tdi_err *err)
{
    const tdi_cosim_cfg *cfg = &j->cfg;
    int rc = tdi_cosim_fullscale(cfg, j->gc, j->cc, j->bsim, j->ibias, j->ns, &j->dac_fs_units,
                                 &j->adc_fs, err);
    if (rc)
        return rc;
    j->dac_fs = j->ph->gu * j->ph->Vs * j->dac_fs_units; /* A */
    j->read = malloc(sizeof(size_t) * j->D);
    if (!j->read)
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    for (size_t i = 0; i < j->D; i++)
        j->read[i] = (j->ph->ro ? j->N : j->o) + i;
    j->pl = (tdi_cosim_plan){.n_samples = j->ns, .bias = j->ibias, .n_read = j->D,
                             .read = j->read, .tick = j->tm.tick,
                             .settle_ticks = j->tm.settle_ticks, .avg_ticks = j->tm.avg_ticks,
                             .batch = 1, .dac_bits = (int)cfg->dac_bits, .dac_fs = j->dac_fs,
                             .adc_bits = (int)cfg->adc_bits, .adc_fs = j->adc_fs,
                             .adc_stride = j->tm.stride,
                             .seed = tdi_seed((uint64_t)cfg->seed, TDI_SEED_COSIM_NOISE, 0),
                             .dev_seed = tdi_seed((uint64_t)cfg->seed, TDI_SEED_DEVNOISE, 0),
                             .noise = cfg->noise, .stage_first = j->ph->ro ? j->N : 0};
    /* auto: spice one transient (bias schedule), sde one run per sample from rest, batched
       (tdi_cosim_sde_run_batch): the sde's per_sample numbers equal its batch schedule's up to
       the settling error settle_eps of each sample's start, and run as one GEMM per tick */
    for (int k = 0; k < 3; k++)
        j->sched_batch[k] = strcmp(cfg->schedule, "per_sample") != 0 &&
                            !(k == TDI_COSIM_SDE && strcmp(cfg->schedule, "auto") == 0);
    j->pl.sde_per_run = cfg->sde_reference;
    j->pl.sde_general = cfg->sde_general || cfg->spice; /* sde vs spice: same noise, docs/sde.md */
    j->pl.batch = j->sched_batch[TDI_COSIM_SPICE];
    if ((rc = plan_converters(j, err)))
        return rc;
    return plan_waves(j, err);
}

/* Before a long run: the expected CPU time of each engine to stderr when over a minute. */
static void warn_long_run(const int want[3], const size_t nk[3], long L, size_t n_units)
{
    for (int k = 1; k < 3; k++) {
        double s = want[k] ? tdi_cosim_runtime_estimate((tdi_cosim_kind)k, n_units,
                                                         L * (long)nk[k]) : 0;
        if (s <= 60)
            continue;
        double v = s < 3600 ? s / 60 : s < 86400 ? s / 3600 : s / 86400;
        const char *u = s < 3600 ? "minutes" : s < 86400 ? "hours" : "days";
        fprintf(stderr, "tdi-cosim %s: expected CPU time about %.1f %s (an estimate: %ld ticks "
                "of %zu units at the rates scripts/cosim-rates.sh measured; docs/cosim.md, "
                "\"Tick budget\")\n",
                tdi_cosim_kind_name((tdi_cosim_kind)k), v, u, L * (long)nk[k], n_units);
    }
}

/* One engine over its nk[k] samples, timed (wall clock). */
static int run_engine(tdi_cosim_job *j, int k, tdi_err *err)
{
    const tdi_cosim_cfg *cfg = &j->cfg;
    j->pl.n_samples = j->nk[k];
    j->pl.batch = j->sched_batch[k];
    /* the waveform comes from the most physical engine that runs */
    int wave_k = j->want[2] ? 2 : j->want[1] ? 1 : -1;
    j->pl.n_wave = k == wave_k ? cfg->n_wave_units : 0;
    char label[64];
    snprintf(label, sizeof label, "tdi-cosim %s", tdi_cosim_kind_name((tdi_cosim_kind)k));
    j->pl.label = (cfg->progress && k != TDI_COSIM_ANALYTIC) ? label : NULL;
    double w0 = tdi_clock_s(CLOCK_MONOTONIC);
    int rc = tdi_cosim_exp_run((tdi_cosim_kind)k, j->cc, &j->pl, &j->outs[k], err);
    j->eng_wall[k] = tdi_clock_s(CLOCK_MONOTONIC) - w0;
    j->pl.label = NULL;
    if (rc)
        tdi_err_prefix(err, "%s engine", tdi_cosim_kind_name((tdi_cosim_kind)k));
    return rc;
}

int tdi_cosim_job_engines(tdi_cosim_job *j, tdi_err *err)
{
    const tdi_cosim_cfg *cfg = &j->cfg, *cfg_in = j->cfg_in;
    int rc;
    /* the paper's kT = 1 row (sde) first (it was measured ~40x slower after a spice run, until
       tdi_cosim_spice_run restored the OpenMP thread count ngspice changes; order is now free) */
    if (j->gc->op.active && cfg_in->paper_row && j->L == 1 && cfg_in->sde && tdi_cosim_sde_supports(j->cc) &&
        (rc = tdi_cosim_op_paper_row(cfg_in, &j->gcfg, &j->b, j->bsim, j->ns,
                                     j->truth + j->s0 * j->D, j->mean_fit, j->gain,
                                     &j->paper_row, err)))
        return rc;
    /* analytic always: it is the readout reference */
    j->want[0] = 1;
    j->want[1] = cfg->sde;
    j->want[2] = cfg->spice;
    if (j->want[1] && !tdi_cosim_sde_supports(j->cc)) {
        j->want[1] = 0;
        if (j->rep)
            fprintf(j->rep, "  sde engine skipped: the circuit has no sde state\n");
    }
    for (int k = 0; k < 3; k++)
        j->nk[k] = j->ns;
    if (cfg->spice_samples > 0 && (size_t)cfg->spice_samples < j->ns)
        j->nk[2] = (size_t)cfg->spice_samples;
    warn_long_run(j->want, j->nk, j->tm.per_sample, j->cc->n);
    for (int k = 0; k < 3; k++)
        if (j->want[k] && (rc = run_engine(j, k, err)))
            return rc;
    return 0;
}
