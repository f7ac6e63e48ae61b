/* tdi_cosim_mos: the engines' circuit at transistor level (circuit.devices: mos, docs/cosim.md
 * "Transistor level"). The ideal-element circuit of the same design (names, capacitors, thermal
 * noise, resistors for E_R, its G read back and checked against gu M) receives the transistor
 * netlist's cards, the realised G extracted from that netlist (the analytic and sde engines run
 * the linearised transistor circuit), the rest voltage V_cm and the three measured supplies.
 * Invariant: spice runs the transistor netlist itself; nothing here changes an ideal circuit.
 * Non-goals: netlist emission (generator), the extraction (tdi_cosim_extract.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

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
    double *G = NULL;
    int rc = tdi_gen_netlist_text(gc, TDI_GEN_COSIM, tick, t_stop, &txt, err);
    if (!rc)
        rc = tdi_cosim_circuit_set_lines(c, (const char *const *)txt->lines, err);
    if (!rc) /* the sized device noise sources the transistor cards carry */
        rc = tdi_cosim_circuit_dev_from_gen(c, gc, err);
    if (!rc && !extract) {
        ; /* the deck only: c keeps the design G */
    } else if (!rc) { /* extract: the method (TDI_COSIM_REALISED_*) */
        tdi_cosim_realised tmp = {0};
        rc = tdi_cosim_realised_run_ex(gc, extract, rep ? rep : &tmp, &G, err);
        tdi_cosim_realised_destroy(&tmp);
    }
    if (!rc && G)
        rc = tdi_cosim_circuit_set_g(c, G, err);
    c->v_ref = p->v_ref;
    if (!rc && !c->n_supply) {
        rc = tdi_cosim_circuit_add_supply(c, "vdd", p->vdd, err);
        rc = rc ? rc : tdi_cosim_circuit_add_supply(c, "vbias", p->vdd, err);
        rc = rc ? rc : tdi_cosim_circuit_add_supply(c, "vcm", p->v_ref, err);
    }
    free(G);
    tdi_gen_text_free(txt);
    return rc ? tdi_err_prefix(err, "transistor level") : 0;
}

int tdi_cosim_job_circuit_mos(tdi_cosim_job *j, double tick, double t_stop, tdi_err *err)
{
    size_t N = j->gc->N;
    tdi_gen_config gi = j->gcfg; /* the same design with ideal elements: names, R, design G */
    snprintf(gi.devices, sizeof gi.devices, "ideal");
    tdi_gen_circuit *gci = NULL;
    int rc = tdi_gen_circuit_build(&gi, &j->b, &gci, err);
    if (!rc)
        rc = tdi_cosim_circuit_from_gen(gci, tick, t_stop, &j->cc, err);
    tdi_gen_circuit_free(gci);
    if (!rc && (!(j->G_design = malloc(N * N * sizeof(double))) ||
                !(j->real = calloc(1, sizeof *j->real))))
        rc = tdi_err_set(err, TDI_ENOMEM, "transistor level: out of memory");
    if (!rc) {
        memcpy(j->G_design, j->cc->G, N * N * sizeof(double));
        /* --deck writes the netlist only: no extraction (minutes at D = 64) */
        int method = TDI_COSIM_REALISED_AUTO; /* cosim.realised (checked by the config) */
        tdi_cosim_realised_method_parse(j->cfg.realised, &method, NULL);
        rc = tdi_cosim_circuit_mos(j->cc, j->gc, tick, t_stop, j->cfg.deck_out ? 0 : method,
                                   j->real, err);
    }
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

int tdi_cosim_job_teff(tdi_cosim_job *j, tdi_err *err)
{
    const tdi_cosim_cfg *cfg = &j->cfg;
    if (!j->ph->mos || !cfg->spice || !cfg->noise || !(cfg->teff_relax > 0))
        return 0;
    size_t N = j->gc->N;
    double tick = j->tm.tick, t_slow = j->ph->t_slow;
    /* 4 samples per slowest relaxation time (as the ADC's default rate), after 3 of them */
    long stride = lround(fmax(1.0, t_slow / (4 * tick))), burn = lround(3 * t_slow / tick);
    long keep = lround(fmax(2.0, 4 * cfg->teff_relax));
    double *mean = malloc(N * sizeof *mean), *S = malloc(N * N * sizeof *S);
    j->teff_psd = malloc(N * sizeof *j->teff_psd);
    int rc = 0;
    tdi_cosim_stats st = {0};
    if (!mean || !S || !j->teff_psd)
        rc = tdi_err_set(err, TDI_ENOMEM, "effective temperature: out of memory");
    if (!rc) {
        teff_dev_psd(j, j->teff_psd, &j->teff_psd_bus);
        rc = tdi_cosim_stationary_cov(TDI_COSIM_SPICE, j->cc, tick, burn, keep, stride,
                                      j->pl.seed, mean, S, &st, err);
    }
    for (size_t i = 0; i < N && !rc; i++) {
        j->rest_off_rms += mean[i] * mean[i] / (double)N;
        j->rest_off_max = fmax(j->rest_off_max, fabs(mean[i]));
    }
    j->rest_off_rms = sqrt(j->rest_off_rms);
    if (!rc && !(j->teff = tdi_cosim_teff_eval(j->cc, j->G_design, NULL, j->teff_psd, S, err)))
        rc = err->code;
    j->teff_ticks = burn + keep * stride;
    j->teff_wall = st.wall_s;
    free(mean);
    free(S);
    return rc ? tdi_err_prefix(err, "effective temperature (noise-only spice run)") : 0;
}
