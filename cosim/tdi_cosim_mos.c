/* tdi_cosim_mos: the engines' circuit at transistor level (circuit.devices: mos, docs/cosim.md
 * "Transistor level"). The ideal-element circuit of the same design (names, capacitors, thermal
 * noise, resistors for E_R, its G read back and checked against gu M) receives the transistor
 * netlist's cards, the realised G and rest currents extracted from that netlist (the analytic
 * and sde engines run the linearised transistor circuit, offsets included), the rest voltage
 * V_cm and the three measured supplies; the job's T_eff run and its comparison lines
 * (transistor vs ideal vs analytic). Invariant: spice runs the transistor netlist itself;
 * nothing here changes an ideal circuit. Non-goals: netlist emission (generator), the
 * extraction (tdi_cosim_extract.c), the Monte Carlo (tdi_cosim_chips.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tdi_clock.h"
#include "tdi_cosim.h"
#include "tdi_cosim_job.h"
#include "tdi_gen.h"

int tdi_cosim_circuit_mos(tdi_cosim_circuit *c, const tdi_gen_circuit *gc, double tick,
                          double t_stop, int extract, tdi_cosim_realised *rep, tdi_err *err)
{
    const tdi_gen_phys *p = &gc->phys;
    if (!p->mos)
        return tdi_err_set(err, TDI_EARG, "transistor level: the circuit is not devices: mos");
    if (c->n != gc->N || c->n_state)
        return tdi_err_set(err, TDI_EARG, "transistor level: rc units without the analog "
                           "read-out stage only (%zu units, circuit of %zu)", gc->N, c->n);
    tdi_gen_text *txt = NULL;
    double *G = NULL, *ir = NULL;
    const double *i_rest = NULL;
    int rc = tdi_gen_netlist_text(gc, TDI_GEN_COSIM, tick, t_stop, &txt, err);
    if (!rc)
        rc = tdi_cosim_circuit_set_lines(c, (const char *const *)txt->lines, err);
    if (!rc) /* the sized device noise sources the transistor cards carry */
        rc = tdi_cosim_circuit_dev_from_gen(c, gc, err);
    if (!rc && !extract) {
        ; /* the deck only: c keeps the design G */
    } else if (!rc) { /* extract: the method (TDI_COSIM_REALISED_*) */
        tdi_cosim_realised tmp = {0}, *r = rep ? rep : &tmp;
        rc = tdi_cosim_realised_run_ex(gc, extract, r, &G, err);
        if (!rc && !(i_rest = ir = malloc(gc->N * sizeof *ir)))
            rc = tdi_err_set(err, TDI_ENOMEM, "out of memory");
        if (!rc) /* the rest currents outlive tmp */
            memcpy(ir, r->i_rest, gc->N * sizeof *ir);
        tdi_cosim_realised_destroy(&tmp);
    }
    if (!rc && G) /* the linearised transistor circuit: its G and its own rest currents */
        rc = tdi_cosim_circuit_set_g(c, G, err);
    if (!rc && G)
        rc = tdi_cosim_circuit_set_offset(c, i_rest, err);
    c->v_ref = p->v_ref;
    if (!rc && !c->n_supply) {
        rc = tdi_cosim_circuit_add_supply(c, "vdd", p->vdd, err);
        rc = rc ? rc : tdi_cosim_circuit_add_supply(c, "vbias", p->vdd, err);
        rc = rc ? rc : tdi_cosim_circuit_add_supply(c, "vcm", p->v_ref, err);
    }
    free(G);
    free(ir);
    tdi_gen_text_free(txt);
    return rc ? tdi_err_prefix(err, "transistor level") : 0;
}

int tdi_cosim_job_realised_method(const tdi_cosim_job *j)
{
    int method = TDI_COSIM_REALISED_AUTO; /* cosim.realised (checked by the config) */
    tdi_cosim_realised_method_parse(j->cfg.realised, &method, NULL);
    return method;
}

/* v_off = G^-1 i_rest (the realised circuit's rest with no bias) and rms |i_rest|. */
static int rest_offset(tdi_cosim_job *j, tdi_err *err)
{
    size_t N = j->cc->n;
    if (!(j->v_off = malloc(N * sizeof *j->v_off)))
        return tdi_err_set(err, TDI_ENOMEM, "transistor level: out of memory");
    for (size_t i = 0; i < N; i++)
        j->i_rest_rms += j->cc->i_off[i] * j->cc->i_off[i] / (double)N;
    j->i_rest_rms = sqrt(j->i_rest_rms);
    return tdi_cosim_analytic_solve(j->cc, j->cc->i_off, j->v_off, err);
}

int tdi_cosim_mos_circuits(const tdi_gen_config *g, const tdi_gen_bundle *b,
                           const tdi_gen_circuit *gc, double tick, double t_stop, int extract,
                           tdi_cosim_realised *real, double *G_design, tdi_cosim_circuit **cc,
                           tdi_cosim_circuit **cci, tdi_err *err)
{
    tdi_gen_config gi = *g; /* the same design with ideal elements: names, R, design G */
    snprintf(gi.devices, sizeof gi.devices, "ideal");
    tdi_gen_circuit *gci = NULL;
    int rc = tdi_gen_circuit_build(&gi, b, &gci, err);
    if (!rc)
        rc = tdi_cosim_circuit_from_gen(gci, tick, t_stop, cc, err);
    if (!rc && cci) /* its own engines' circuit: the ideal-element rows */
        rc = tdi_cosim_circuit_from_gen(gci, tick, t_stop, cci, err);
    tdi_gen_circuit_free(gci);
    if (!rc && G_design)
        memcpy(G_design, (*cc)->G, gc->N * gc->N * sizeof *G_design);
    if (!rc)
        rc = tdi_cosim_circuit_mos(*cc, gc, tick, t_stop, extract, real, err);
    return rc;
}

int tdi_cosim_job_circuit_mos(tdi_cosim_job *j, double tick, double t_stop, tdi_err *err)
{
    size_t N = j->gc->N;
    if (!(j->G_design = malloc(N * N * sizeof(double))) ||
        !(j->real = calloc(1, sizeof *j->real)))
        return tdi_err_set(err, TDI_ENOMEM, "transistor level: out of memory");
    /* --deck: the netlist only, no extraction (minutes at D = 64) */
    int extract = j->cfg.deck_out ? 0 : tdi_cosim_job_realised_method(j);
    int rc = tdi_cosim_mos_circuits(&j->gcfg, &j->b, j->gc, tick, t_stop, extract, j->real,
                                    j->G_design, &j->cc,
                                    j->cfg.ideal_rows && extract ? &j->cc_ideal : NULL, err);
    if (!rc && j->cc->i_off) /* the predicted rest offset G^-1 i_rest */
        rc = rest_offset(j, err);
    return rc;
}

/* psd (N) A^2/Hz: the white drain-current noise of each OTA's pair and mirror devices at its
 * output unit (at low frequency all four reach the output with unit gain; the tail's and the
 * bias generator's are common-mode and cancel to first order). Outputs at bus nodes are not
 * units: their share is returned as *psd_bus (A^2/Hz). */
static void teff_dev_psd(const tdi_cosim_job *j, double *psd, double *psd_bus)
{
    const tdi_gen_circuit *gc = j->gc;
    memset(psd, 0, gc->N * sizeof *psd);
    *psd_bus = 0;
    for (size_t d = 0; d < gc->n_dev; d++) {
        const tdi_gen_dev *v = &gc->dev[d];
        if (v->role != TDI_GEN_DEV_PAIR && v->role != TDI_GEN_DEV_MIRROR)
            continue;
        const char *out = gc->ota[v->ota].out;
        size_t u = 0;
        while (u < gc->N && strcmp(j->cc->node[u], out) != 0)
            u++;
        if (u < gc->N)
            psd[u] += v->psd_w;
        else
            *psd_bus += v->psd_w;
    }
}

/* Without spice the sde engine measures T_eff on the realised (linearised) circuit, each unit's
 * device PSD added to its white thermal noise (the Lyapunov prediction's model: a Monte Carlo
 * check of it, flicker left out as there); its rest mean is ~0 (the rest currents are not
 * driven), so the rest offset is not measured then. g_noise is restored before returning. */
static int teff_cov(tdi_cosim_job *j, tdi_cosim_kind kind, long burn, long keep, long stride,
                    double *mean, double *S, tdi_cosim_stats *st, tdi_err *err)
{
    tdi_cosim_circuit *c = j->cc;
    size_t N = c->n;
    double *g0 = NULL;
    if (kind == TDI_COSIM_SDE) {
        if (!(g0 = malloc(N * sizeof *g0)))
            return tdi_err_set(err, TDI_ENOMEM, "effective temperature: out of memory");
        memcpy(g0, c->g_noise, N * sizeof *g0);
        for (size_t i = 0; i < N; i++) /* 2 kB T g_noise + psd */
            c->g_noise[i] += j->teff_psd[i] / (2 * TDI_COSIM_KB * c->temp);
    }
    int rc = tdi_cosim_stationary_cov(kind, c, j->tm.tick, burn, keep, stride, j->pl.seed, mean,
                                      S, st, err);
    if (g0)
        memcpy(c->g_noise, g0, N * sizeof *g0);
    free(g0);
    return rc;
}

int tdi_cosim_job_teff(tdi_cosim_job *j, tdi_err *err)
{
    const tdi_cosim_cfg *cfg = &j->cfg;
    if (!j->ph->mos || !(cfg->spice || cfg->sde) || !cfg->noise || !(cfg->teff_relax > 0))
        return 0;
    size_t N = j->gc->N;
    double tick = j->tm.tick, t_slow = j->ph->t_slow;
    /* 4 samples per slowest relaxation time (as the ADC's default rate), after 3 of them */
    long stride = lround(fmax(1.0, t_slow / (4 * tick))), burn = lround(3 * t_slow / tick);
    long keep = lround(fmax(2.0, 4 * cfg->teff_relax));
    double *mean = malloc(N * sizeof *mean), *S = malloc(N * N * sizeof *S);
    j->teff_psd = malloc(N * sizeof *j->teff_psd);
    j->teff_kind = cfg->spice ? TDI_COSIM_SPICE : TDI_COSIM_SDE;
    int rc = 0;
    tdi_cosim_stats st = {0};
    if (!mean || !S || !j->teff_psd)
        rc = tdi_err_set(err, TDI_ENOMEM, "effective temperature: out of memory");
    if (!rc) {
        teff_dev_psd(j, j->teff_psd, &j->teff_psd_bus);
        rc = teff_cov(j, j->teff_kind, burn, keep, stride, mean, S, &st, err);
    }
    for (size_t i = 0; i < N && !rc && j->teff_kind == TDI_COSIM_SPICE; i++) {
        j->rest_off_rms += mean[i] * mean[i] / (double)N;
        j->rest_off_max = fmax(j->rest_off_max, fabs(mean[i]));
    }
    j->rest_off_rms = j->teff_kind == TDI_COSIM_SPICE ? sqrt(j->rest_off_rms) : NAN;
    if (j->teff_kind != TDI_COSIM_SPICE) /* not measured: the sde run does not drive i_rest */
        j->rest_off_max = NAN;
    if (!rc && !(j->teff = tdi_cosim_teff_eval(j->cc, j->G_design, NULL, j->teff_psd, S, err)))
        rc = err->code;
    j->teff_ticks = burn + keep * stride;
    j->teff_wall = st.wall_s;
    if (!rc && j->teff_kind == TDI_COSIM_SPICE) { /* the measured rest, beside the predicted */
        j->rest_mean = mean;
        mean = NULL;
    }
    free(mean);
    free(S);
    return rc ? tdi_err_prefix(err, "effective temperature (noise-only %s run)",
                               tdi_cosim_kind_name(j->teff_kind)) : 0;
}

/* ------------------------------------------------------------ transistor vs ideal vs analytic */
const char *const tdi_cosim_mos_row_name[TDI_COSIM_MOS_NROW] = {
    "analytic (design G)", "spice (ideal elements)", "analytic (extracted G)",
    "analytic (G + offsets)", "sde (G + offsets)", "spice (transistors)"};
const char *const tdi_cosim_mos_row_key[TDI_COSIM_MOS_NROW] = {
    "analytic_design_G", "spice_ideal", "analytic_extracted_G", "analytic_G_offsets",
    "sde_G_offsets", "spice_transistors"};

/* The ideal-element netlist through the job's plan (its samples, converters, seeds): analytic
 * on the design G, and spice when the transistors' spice ran. */
static int mos_ideal_runs(tdi_cosim_job *j, tdi_err *err)
{
    tdi_cosim_mos_cmp *mc = &j->mc;
    tdi_cosim_plan pl = j->pl;
    pl.n_samples = mc->n;
    pl.n_wave = 0;
    pl.label = NULL;
    pl.batch = j->sched_batch[TDI_COSIM_SPICE];
    int rc = tdi_cosim_exp_run(TDI_COSIM_ANALYTIC, j->cc_ideal, &pl, &mc->ideal[0], err);
    if (!rc && j->outs[TDI_COSIM_SPICE].est) {
        pl.label = j->cfg.progress ? "tdi-cosim spice (ideal elements)" : NULL;
        double w0 = tdi_clock_s(CLOCK_MONOTONIC);
        rc = tdi_cosim_exp_run(TDI_COSIM_SPICE, j->cc_ideal, &pl, &mc->ideal[2], err);
        mc->ideal_wall = tdi_clock_s(CLOCK_MONOTONIC) - w0;
    }
    return rc ? tdi_err_prefix(err, "the ideal-element netlist") : 0;
}

/* One line's metrics against the truth (est in V -> units, times gain) and its rms against
 * spice on the transistors. */
static int mos_row_eval(tdi_cosim_job *j, tdi_cosim_mos_row *r, const double *est)
{
    size_t n = j->mc.n, D = j->D;
    const double *sp = j->outs[TDI_COSIM_SPICE].est;
    double *pred = malloc(n * D * sizeof *pred), ss = 0;
    if (!pred)
        return TDI_ENOMEM;
    for (size_t q = 0; q < n * D; q++) {
        pred[q] = est[q] / j->ph->Vs * j->gain[q % D];
        if (sp)
            ss += (est[q] - sp[q]) * (est[q] - sp[q]);
    }
    r->have = 1;
    r->est = est;
    r->m = tdi_metrics_eval(pred, j->truth + j->s0 * D, j->mean_fit, n, D);
    r->rms_vs_spice = sp ? sqrt(ss / (double)(n * D)) : NAN;
    free(pred);
    return 0;
}

int tdi_cosim_job_mos_rows(tdi_cosim_job *j, tdi_err *err)
{
    if (!j->ph->mos || !j->v_off)
        return 0;
    tdi_cosim_mos_cmp *mc = &j->mc;
    size_t D = j->D;
    mc->n = j->outs[TDI_COSIM_SPICE].est ? j->nk[TDI_COSIM_SPICE] : j->ns;
    int rc = j->cc_ideal ? mos_ideal_runs(j, err) : 0;
    if (rc)
        return rc;
    /* analytic is linear: without the rest currents it is analytic - G^-1 i_rest */
    const double *ea = j->outs[TDI_COSIM_ANALYTIC].est;
    if (!(mc->est_g = malloc(mc->n * D * sizeof *mc->est_g)))
        return tdi_err_set(err, TDI_ENOMEM, "transistor level: out of memory");
    for (size_t s = 0; s < mc->n; s++)
        for (size_t i = 0; i < D; i++)
            mc->est_g[s * D + i] = ea[s * D + i] - j->v_off[j->read[i]];
    const double *est[TDI_COSIM_MOS_NROW] = {mc->ideal[0].est, mc->ideal[2].est, mc->est_g, ea,
                                             j->outs[TDI_COSIM_SDE].est,
                                             j->outs[TDI_COSIM_SPICE].est};
    for (int r = 0; r < TDI_COSIM_MOS_NROW && !rc; r++)
        if (est[r] && mos_row_eval(j, &mc->row[r], est[r]))
            rc = tdi_err_set(err, TDI_ENOMEM, "transistor level: out of memory");
    return rc;
}

void tdi_cosim_job_mos_free(tdi_cosim_job *j)
{
    tdi_cosim_circuit_free(j->cc_ideal);
    for (int k = 0; k < 3; k++)
        tdi_cosim_out_destroy(&j->mc.ideal[k]);
    free(j->mc.est_g);
    free(j->rest_mean);
    free(j->v_off);
    tdi_cosim_chips_free(j);
}
