/* tdi_cosim_op: tdi-cosim's side of the operating point. The generator chooses it (tdi_gen_op);
 * here the job applies it (window, ADC bits) and, beside the working point, runs the sde engine
 * at the paper's theta = 1 (kT = 1) on the same samples and the same biases in simulation units,
 * with the configured cosim window and ADC (the paper's point is shown beside, never instead).
 * Non-goals: choosing (generator/tdi_gen_op.c), the main table (tdi_cosim_report.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_cosim_job.h"
#include "tdi_metrics.h"

void tdi_cosim_op_apply(tdi_cosim_cfg *c, const struct tdi_gen_circuit *gc)
{
    if (!gc->op.active)
        return;
    c->t_avg = gc->phys.t_avg;
    c->adc_bits = gc->op.bits;
    c->adc_rate = 0; /* the chooser's schedule: 4 conversions per slowest relaxation time */
}

/* the plan at theta = 1: the configured window (cosim.t_avg / avg_relax), ADC bits and rate,
   the converters' full scales and the read-out (ADC averaging, or the analog stage) as the job's
   rules (tdi_cosim_plan_timing, tdi_cosim_fullscale); ib (ns, cc->n) zeroed by the caller */
static int paper_plan(const tdi_cosim_cfg *c, const tdi_gen_config *g, const tdi_gen_circuit *gc,
                      const tdi_cosim_circuit *cc, const double *bsim, double *ib, size_t ns,
                      size_t *read, tdi_cosim_plan *pl, tdi_err *err)
{
    const tdi_gen_phys *ph = &gc->phys;
    size_t D = gc->D, N = gc->N, n = cc->n;
    for (size_t s = 0; s < ns; s++)
        for (size_t i = 0; i < N; i++) /* the stage units' bias stays 0 */
            ib[s * n + i] = ph->gu * ph->Vs * bsim[s * N + i];
    double dac_units = 0, adc_fs = 0;
    tdi_cosim_timing tm;
    int rc = tdi_cosim_fullscale(c, gc, cc, bsim, ib, ns, &dac_units, &adc_fs, err);
    if (!rc)
        rc = tdi_cosim_plan_timing(c, g, ph, ns, &tm, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < D; i++)
        read[i] = (ph->ro ? N : D) + i;
    *pl = (tdi_cosim_plan){.n_samples = ns, .bias = ib, .n_read = D, .read = read,
                           .tick = tm.tick, .settle_ticks = tm.settle_ticks,
                           .avg_ticks = tm.avg_ticks, .batch = 1, .dac_bits = (int)c->dac_bits,
                           .dac_fs = ph->gu * ph->Vs * dac_units, .adc_bits = (int)c->adc_bits,
                           .adc_fs = adc_fs, .adc_stride = tm.stride,
                           .seed = tdi_seed((uint64_t)c->seed, TDI_SEED_COSIM_NOISE, 0),
                           .noise = c->noise, .stage_first = ph->ro ? N : 0};
    pl->batch = strcmp(c->schedule, "per_sample") != 0;
    return 0;
}

int tdi_cosim_op_paper_row(const tdi_cosim_cfg *c, const struct tdi_gen_config *gen,
                           const struct tdi_gen_bundle *b, const double *bsim, size_t ns,
                           const double *truth, const double *mean_fit, const double *gain,
                           tdi_cosim_op_row *row, tdi_err *err)
{
    memset(row, 0, sizeof *row);
    if (c->paper_row_samples > 0 && (size_t)c->paper_row_samples < ns)
        ns = (size_t)c->paper_row_samples;
    tdi_gen_config g = *gen;
    g.target_noise_ratio = 0;
    g.theta = 1.0; /* the paper's kT = 1 */
    g.Vs = tdi_phys_vs_of_theta(g.T, g.Cu, g.theta);
    size_t D = b->D;
    tdi_gen_circuit *gc = NULL;
    tdi_cosim_circuit *cc = NULL;
    tdi_cosim_out out;
    memset(&out, 0, sizeof out);
    double *ib = NULL, *pred = malloc(ns * D * sizeof *pred);
    size_t *read = malloc(D * sizeof *read);
    tdi_cosim_plan pl;
    int rc = !pred || !read ? tdi_err_set(err, TDI_ENOMEM, "out of memory") : 0;
    if (!rc)
        rc = tdi_gen_circuit_build(&g, b, &gc, err);
    double tick = gc ? (c->tick > 0 ? c->tick : gc->phys.noise_dt) : 0;
    if (!rc)
        rc = tdi_cosim_circuit_from_gen(gc, tick, tick, &cc, err);
    if (!rc && !tdi_cosim_sde_supports(cc))
        rc = tdi_err_set(err, TDI_EARG, "the paper's-kT row needs the sde engine (a circuit "
                         "with an sde state)");
    if (!rc && !(ib = calloc(ns * cc->n, sizeof *ib)))
        rc = tdi_err_set(err, TDI_ENOMEM, "out of memory");
    if (!rc)
        rc = paper_plan(c, &g, gc, cc, bsim, ib, ns, read, &pl, err);
    if (!rc) {
        pl.label = c->progress ? "tdi-cosim sde (paper's kT = 1)" : NULL;
        rc = tdi_cosim_exp_run(TDI_COSIM_SDE, cc, &pl, &out, err);
    }
    if (!rc) {
        for (size_t s = 0; s < ns; s++)
            for (size_t i = 0; i < D; i++)
                pred[s * D + i] = out.est[s * D + i] / gc->phys.Vs * gain[i];
        tdi_metrics m = tdi_metrics_eval(pred, truth, mean_fit, ns, D);
        row->cos_paper = m.cos_paper;
        row->cos_centered = m.cos_centered;
        row->r2 = m.r2;
        row->samples = ns;
        row->theta = gc->phys.theta;
        row->Vs = gc->phys.Vs;
        row->t_solution = (double)(pl.settle_ticks + pl.avg_ticks) * pl.tick;
        row->adc_conversions = pl.avg_ticks / pl.adc_stride;
        row->adc_bits = pl.adc_bits;
        row->cpu_s = out.st.cpu_s;
        row->have = 1;
    }
    if (rc)
        tdi_err_prefix(err, "paper's kT = 1 row");
    tdi_cosim_out_destroy(&out);
    tdi_cosim_circuit_free(cc);
    tdi_gen_circuit_free(gc);
    free(ib);
    free(pred);
    free(read);
    return rc;
}

void tdi_cosim_op_print_row(const tdi_cosim_op_row *row, FILE *f)
{
    if (f && row->have)
        fprintf(f, "%-19s %7zu %9.4f %12.4f %8.4f %14.4g %9.3f\n", "paper's kT = 1, sde",
                row->samples, row->cos_paper, row->cos_centered, row->r2, row->t_solution,
                row->cpu_s);
}

void tdi_cosim_op_print_subset(const char *label, const double *pred, const double *truth,
                               const double *mean_fit, size_t n, size_t D, FILE *f)
{
    if (!f || n == 0)
        return;
    tdi_metrics m = tdi_metrics_eval(pred, truth, mean_fit, n, D);
    fprintf(f, "%-19s %7zu %9.4f %12.4f %8.4f\n", label, n, m.cos_paper, m.cos_centered, m.r2);
}

void tdi_cosim_op_print(const struct tdi_gen_circuit *gc, const tdi_cosim_op_row *row, FILE *f)
{
    if (!f)
        return;
    if (row->have)
        fprintf(f, "(paper's kT = 1: the sde engine at theta = 1, Vs = %.3g V/unit, on the first "
                "%zu of the samples; the cosim window: %ld ADC conversions of %d bits per unit "
                "and sample)\n", row->Vs, row->samples, row->adc_conversions, row->adc_bits);
    if (gc->op.active) {
        fprintf(f, "\n");
        tdi_gen_op_print(gc, f);
    }
}

int tdi_cosim_op_json(const struct tdi_gen_circuit *gc, const tdi_cosim_op_row *row,
                      tdi_json *root)
{
    const tdi_gen_op *o = &gc->op;
    const tdi_json_kv op[] = {
        TDI_JR("target_noise_ratio", o->target), TDI_JR("signal_units", o->signal),
        TDI_JR("predicted_noise_units", o->noise), TDI_JR("theta", o->theta),
        TDI_JR("Vs_V", o->Vs), TDI_JR("avg_relax", o->avg_relax),
        TDI_JI("adc_conversions", o->n_conv), TDI_JI("adc_bits", o->bits),
        TDI_JR("swing_V", o->swing), TDI_JR("v_swing_V", o->v_swing),
        TDI_JR("model_energy_J", o->energy), TDI_JI("binds", o->binds)};
    const tdi_json_kv pr[] = {
        TDI_JS("engine", "sde"), TDI_JR("theta", row->theta), TDI_JI("samples", row->samples),
        TDI_JR("cos_paper", row->cos_paper), TDI_JR("cos_centered", row->cos_centered),
        TDI_JR("r2", row->r2), TDI_JR("time_to_solution_s", row->t_solution),
        TDI_JR("cpu_s", row->cpu_s)};
    if (o->active && tdi_json_set(tdi_json_add_object(root, "operating_point"), op, TDI_JSON_N(op)))
        return TDI_ENOMEM;
    if (row->have && tdi_json_set(tdi_json_add_object(root, "paper_kT1"), pr, TDI_JSON_N(pr)))
        return TDI_ENOMEM;
    return 0;
}
