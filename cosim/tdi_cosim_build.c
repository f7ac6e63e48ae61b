/* tdi_cosim_build: the job's circuit stage. The generator builds the circuit from the bundle and
 * the `circuit:` config (with the analog read-out stage's window, and the operating point it
 * chooses applied to the job's window and ADC); the tick plan follows from the cosim keys or the
 * circuit; the engines' circuit is read from it. --deck writes the spice deck instead of a run.
 * Non-goals: netlist emission (generator), the engines (tdi_cosim_engines.c). */
#include <stdlib.h>
#include <string.h>

#include "tdi_cosim_job.h"
#include "tdi_io.h"

/* With the read-out stage and no explicit readout_tau, the stage's bandwidth follows the cosim's
 * averaging window (tau_ro = t_avg / 2: the same noise bandwidth): give the generator that
 * window before it builds the circuit. */
static void stage_window(const tdi_cosim_cfg *cfg, tdi_gen_config *g)
{
    if (strcmp(g->readout_stage, "rc") != 0 || g->readout_tau > 0)
        return;
    if (cfg->t_avg > 0) {
        g->t_avg = cfg->t_avg;
    } else if (cfg->avg_relax > 0) {
        g->t_avg = 0;
        g->avg_relax = cfg->avg_relax;
    }
}

int tdi_cosim_plan_timing(const tdi_cosim_cfg *cfg, const tdi_gen_config *g,
                          const tdi_gen_phys *ph, size_t ns, tdi_cosim_timing *tm, tdi_err *err)
{
    memset(tm, 0, sizeof *tm);
    tm->path = cfg->path;
    tm->n_samples = ns;
    tm->tick = cfg->tick > 0 ? cfg->tick : ph->noise_dt;
    tm->tick_key = cfg->tick > 0 ? "cosim.tick" : g->noise_dt > 0 ? "circuit.noise_dt"
                                                                   : "circuit.noise_frac";
    tm->t_settle = cfg->t_settle > 0 ? cfg->t_settle : ph->t_settle;
    tm->settle_key = cfg->t_settle > 0 ? "cosim.t_settle" : g->t_settle > 0 ? "circuit.t_settle"
                                                                           : "circuit.settle_eps";
    tm->t_avg = cfg->t_avg > 0 ? cfg->t_avg
                : cfg->avg_relax > 0 ? cfg->avg_relax * ph->t_slow : ph->t_avg;
    tm->avg_key = cfg->t_avg > 0 ? "cosim.t_avg" : cfg->avg_relax > 0 ? "cosim.avg_relax"
                  : g->t_avg > 0 ? "circuit.t_avg" : "circuit.avg_relax";
    /* ADC rate: configured, or 4 conversions per slowest relaxation time (averaging faster
       than the noise decorrelates adds conversions, not information) */
    tm->adc_rate = cfg->adc_rate > 0 ? cfg->adc_rate : 4.0 / ph->t_slow;
    tm->adc_key = "cosim.adc_rate";
    if (ph->ro) { /* analog read-out: one conversion, one tick after the stage has settled */
        if (ph->ro_settle > tm->t_settle) {
            tm->t_settle = ph->ro_settle;
            tm->settle_key = g->readout_tau > 0 ? "circuit.readout_tau" : tm->avg_key;
        }
        tm->t_avg = tm->tick;
        tm->adc_rate = 1.0 / tm->tick;
    }
    return tdi_cosim_timing_plan(tm, err);
}

int tdi_cosim_job_circuit(tdi_cosim_job *j, tdi_err *err)
{
    int rc;
    stage_window(&j->cfg, &j->gcfg);
    if ((rc = tdi_gen_circuit_build(&j->gcfg, &j->b, &j->gc, err)))
        return rc;
    if ((rc = tdi_cosim_mos_calibrate(j->gc, err))) /* mos_self_comp, mos_trim: before noise */
        return rc;
    /* transistor level only (bias classes above TDI_COSIM_REALISED_LINEAR_DEV devices). --deck
       (the bench's deck): its cosim text names each device's noise source ("in<dev> d s
       external") but holds no PSD, so every device is marked instead of sized (the same text
       without the sizing's op and calibration, minutes at D = 64) */
    for (size_t d = 0; j->cfg.deck_out && d < j->gc->n_dev; d++)
        j->gc->dev[d].psd_w = 1.0;
    if (!j->cfg.deck_out && (rc = tdi_cosim_mos_noise_size_ex(j->gc, -1, &j->mn_st, err)))
        return rc;
    j->ph = &j->gc->phys;
    tdi_cosim_op_apply(&j->cfg, j->gc);
    if ((rc = tdi_cosim_plan_timing(&j->cfg, &j->gcfg, j->ph, j->ns, &j->tm, err)))
        return rc;
    double tick = j->tm.tick;
    double t_stop = tick * (double)j->tm.per_sample * (double)j->ns;
    if (j->ph->mos)
        rc = tdi_cosim_job_circuit_mos(j, tick, t_stop, err);
    else
        rc = tdi_cosim_circuit_from_gen(j->gc, tick, t_stop, &j->cc, err);
    if (rc)
        return rc;
    j->NT = j->cc->n;
    return 0;
}

/* benchmark helper: the deck ngspice would run */
int tdi_cosim_job_deck(tdi_cosim_job *j, tdi_err *err)
{
    const tdi_cosim_cfg *cfg = &j->cfg;
    char *deck = tdi_cosim_spice_deck(j->cc, j->tm.tick, cfg->deck_ticks, cfg->deck_plain, err);
    if (!deck)
        return err ? err->code : TDI_ENOMEM;
    int rc = tdi_atomic_write_text(cfg->deck_out, deck, err);
    free(deck);
    return rc;
}
