/* tdi_cosim_report: the job's outputs. The table on the report stream (its head before the
 * engines run, the rows, read-out, timing, wires and the energy ledger after), the files of
 * <out>/cosim in one directory transaction (nothing appears on error): results.json (layout:
 * {"preset", "mode", ..., "circuit", "timing", "converters", "rows": {"<row>": {"cos_paper",
 * "cos_centered", "r2", "cpu_s", "ticks_per_s", ...}}, "operating_point", "paper_kT1",
 * "readout", "energy"}), samples.csv (per sample and row), waveform.csv (when units were
 * recorded), and the summary for in-process callers. results.json goes through tdi_json (jansson:
 * NaN -> null, 17 significant digits). Non-goals: computing any number. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tdi_cosim_job.h"
#include "tdi_io.h"

const char *const tdi_cosim_row_name[TDI_COSIM_NROW] = {
    "analytic", "sde", "spice", "analytic_ideal_dac", "digital_Binv_bdec", "mean"};

void tdi_cosim_report_head(const tdi_cosim_job *j)
{
    FILE *rep = j->rep;
    const tdi_cosim_cfg *cfg = &j->cfg;
    const tdi_cosim_timing *tm = &j->tm;
    double tick = tm->tick;
    if (!rep)
        return;
    char sched_txt[64];
    if (strcmp(cfg->schedule, "auto") == 0)
        snprintf(sched_txt, sizeof sched_txt, "auto (sde per_sample, spice batch)");
    else
        snprintf(sched_txt, sizeof sched_txt, "%.15s", cfg->schedule);
    fprintf(rep, "tdi-cosim %s: %zu samples (first %zu), D = %zu, mode %s, %zu units\n",
            cfg->name, j->ns, j->s0, j->D, j->b.mode, j->N);
    fprintf(rep, "  tick %.4g s, settle %ld ticks (%.4g s), average %ld ticks (%.4g s), "
            "ADC every %ld tick(s)\n", tick, tm->settle_ticks, (double)tm->settle_ticks * tick,
            tm->avg_ticks, (double)tm->avg_ticks * tick, tm->stride);
    fprintf(rep, "  DAC %ld bits fs %.4g A (%.4g units), ADC %ld bits fs %.4g V, schedule "
            "%s, noise %s\n", cfg->dac_bits, j->dac_fs, j->dac_fs_units, cfg->adc_bits,
            j->adc_fs, sched_txt, cfg->noise ? "on" : "off");
    fprintf(rep, "  digital interface: %s, %ld MACs per sample\n", j->iface, j->macs);
}

/* ------------------------------------------------------------------ results.json */
/* the sde engine's schedule as the table names it */
static const char *sde_schedule(const tdi_cosim_job *j)
{
    return j->sched_batch[TDI_COSIM_SDE]       ? "batch"
           : j->cfg.sde_reference               ? "per_sample (reference path)"
           : j->outs[TDI_COSIM_SDE].sde_modes   ? "per_sample (mode basis)"
                                                : "per_sample (batched)";
}

static int json_head(const tdi_cosim_job *j, tdi_json *root)
{
    const tdi_cosim_cfg *cfg = &j->cfg;
    const tdi_gen_phys *ph = j->ph;
    const tdi_cosim_circuit *cc = j->cc;
    const tdi_cosim_timing *tm = &j->tm;
    double tick = tm->tick;
    const tdi_json_kv head[] = {
        TDI_JS("preset", cfg->name), TDI_JS("mode", j->b.mode), TDI_JI("D", j->D),
        TDI_JI("units", j->N), TDI_JI("samples", j->ns), TDI_JI("first", j->s0),
        TDI_JI("seed", cfg->seed)};
    const tdi_json_kv circ[] = {
        TDI_JR("Cu_F", ph->Cu), TDI_JR("gu_S", ph->gu), TDI_JR("Vs_V", ph->Vs),
        TDI_JR("T_K", ph->T), TDI_JR("theta", ph->theta), TDI_JR("t_slow_s", ph->t_slow),
        TDI_JR("t_fast_s", ph->t_fast), TDI_JI("wires", cc->wires), TDI_JI("vccs", cc->n_vccs),
        TDI_JI("resistors", cc->n_res), TDI_JR("sum_gm_S", cc->sum_gm)};
    const tdi_json_kv timing[] = {
        TDI_JR("tick_s", tick), TDI_JI("settle_ticks", tm->settle_ticks),
        TDI_JI("avg_ticks", tm->avg_ticks), TDI_JR("t_settle_s", (double)tm->settle_ticks * tick),
        TDI_JR("t_avg_s", (double)tm->avg_ticks * tick), TDI_JR("time_to_solution_s", j->e.T_inf),
        TDI_JS("schedule", j->sched_batch[TDI_COSIM_SPICE] ? "batch" : "per_sample"),
        TDI_JS("sde_schedule", sde_schedule(j))};
    const tdi_json_kv conv[] = {
        TDI_JI("dac_bits", cfg->dac_bits), TDI_JR("dac_fs_A", j->dac_fs),
        TDI_JI("adc_bits", cfg->adc_bits), TDI_JR("adc_fs_V", j->adc_fs),
        TDI_JI("adc_stride_ticks", tm->stride), TDI_JI("dac_updates_per_sample", j->N),
        TDI_JC("adc_conversions_per_sample", j->e.n_adc), TDI_JI("interface_macs", j->macs),
        TDI_JS("interface", j->iface)};
    return tdi_json_set(root, head, TDI_JSON_N(head)) ||
           tdi_json_set(tdi_json_add_object(root, "circuit"), circ, TDI_JSON_N(circ)) ||
           tdi_json_set(tdi_json_add_object(root, "timing"), timing, TDI_JSON_N(timing)) ||
           tdi_json_set(tdi_json_add_object(root, "converters"), conv, TDI_JSON_N(conv));
}

/* the three metrics of a row (paper cosine, centered cosine, R^2; NaN -> null) */
static int json_metrics(tdi_json *o, const tdi_metrics *m)
{
    const tdi_json_kv kv[] = {TDI_JR("cos_paper", m->cos_paper),
                              TDI_JR("cos_centered", m->cos_centered), TDI_JR("r2", m->r2)};
    return tdi_json_set(o, kv, TDI_JSON_N(kv));
}

static int json_row(const tdi_cosim_job *j, int r, tdi_json *o)
{
    const tdi_cosim_row *row = &j->rows[r];
    const tdi_json_kv n[] = {TDI_JI("samples", row->n)};
    int rc = tdi_json_set(o, n, 1) || json_metrics(o, &row->m);
    if (r >= 3 || rc)
        return rc;
    const tdi_cosim_stats *st = &j->outs[r].st;
    const tdi_json_kv kv[] = {
        TDI_JR("cpu_s", st->cpu_s), TDI_JR("wall_s", j->eng_wall[r]),
        TDI_JI("ticks", st->ticks_hit),
        TDI_JR("ticks_per_s", st->cpu_s > 0 ? (double)st->ticks_hit / st->cpu_s : 0.0),
        TDI_JI("accepted_points", st->points)};
    return tdi_json_set(o, kv, TDI_JSON_N(kv));
}

static int json_rows(const tdi_cosim_job *j, tdi_json *root)
{
    tdi_json *rows = tdi_json_add_object(root, "rows");
    int rc = !rows;
    for (int r = 0; r < TDI_COSIM_NROW && !rc; r++)
        if (j->rows[r].have)
            rc = json_row(j, r, tdi_json_add_object(rows, tdi_cosim_row_name[r]));
    return rc;
}

/* several U-Net levels: each level's modules, rank and rows (metrics over its read-out
   columns); the rows above are over all levels' read-out units together */
static int json_level(const tdi_cosim_job *j, size_t l, tdi_json *o)
{
    const tdi_bundle *s = &j->b.sub;
    size_t k = 0;
    for (size_t c = 0; c < s->n_cpl; c++)
        if (s->cpl[c].from == l)
            k = s->cpl[c].k;
    const tdi_json_kv kv[] = {TDI_JS("encoder", s->mod[l].name),
                              TDI_JS("decoder", s->mod[j->L + l].name), TDI_JI("D", s->mod[l].D),
                              TDI_JI("k", k)};
    tdi_json *rows = tdi_json_set(o, kv, TDI_JSON_N(kv)) ? NULL : tdi_json_add_object(o, "rows");
    int rc = !rows;
    for (int r = 0; r < TDI_COSIM_NROW && !rc; r++)
        if (j->rows[r].have)
            rc = json_metrics(tdi_json_add_object(rows, tdi_cosim_row_name[r]), &j->lvm[r][l]);
    return rc;
}

static int json_levels(const tdi_cosim_job *j, tdi_json *root)
{
    if (j->L < 2)
        return 0;
    tdi_json *lv = tdi_json_add_array(root, "levels");
    int rc = !lv;
    for (size_t l = 0; l < j->L && !rc; l++)
        rc = json_level(j, l, tdi_json_add_object(lv, NULL));
    return rc;
}

static int json_readout(const tdi_cosim_job *j, tdi_json *root)
{
    const tdi_gen_phys *ph = j->ph;
    const tdi_cosim_stage_pred *sp = &j->sp;
    const tdi_json_kv kv[] = {
        TDI_JS("kind", ph->ro ? "analog_rc" : "adc_avg"), TDI_JI("conversions_per_unit", j->conv),
        TDI_JR("stage_tau_s", ph->ro ? ph->ro_tau : 0.0),
        TDI_JR("stage_var_substrate_V2", sp->var_sub), TDI_JR("stage_var_own_V2", sp->var_own),
        TDI_JR("E_R_stage_J", sp->E_R_stage), TDI_JR("predicted_rms_V", j->pred_rms),
        TDI_JR("sde_rms_vs_analytic_V", j->meas_rms[1]),
        TDI_JR("spice_rms_vs_analytic_V", j->meas_rms[2]),
        TDI_JR("sde_vs_spice_rms_V", j->diff_sde_spice), /* null when one engine did not run */
        TDI_JR("predicted_rms_units", j->pred_rms / ph->Vs),
        TDI_JR("signal_std_units", j->sig_units)};
    return tdi_json_set(tdi_json_add_object(root, "readout"), kv, TDI_JSON_N(kv));
}

static int json_energy(const tdi_cosim_job *j, tdi_json *root)
{
    const tdi_cosim_cfg *cfg = &j->cfg;
    const tdi_cosim_ledger *e = &j->e;
    const tdi_cosim_digeq *dq = &j->dq;
    const tdi_json_kv kv[] = {
        TDI_JS("engine", tdi_cosim_kind_name((tdi_cosim_kind)e->engine)),
        TDI_JS("per", "inference (one sample)"), TDI_JR("E_bias_J", e->E_bias),
        TDI_JR("E_R_J", e->E_R), TDI_JR("E_active_J", e->E_active), TDI_JR("E_dac_J", e->E_dac),
        TDI_JR("E_adc_J", e->E_adc), TDI_JR("E_conv_J", e->E_conv),
        TDI_JR("E_digital_J", e->E_digital), TDI_JR("E_weight_reads_J", e->E_wread),
        TDI_JR("E_total_J", e->E_total), TDI_JR("kT_floor_J", e->E_kT),
        TDI_JR("gpu_step_J", cfg->gpu_step),
        TDI_JR("gpu_replaced_fraction", cfg->gpu_replaced_fraction),
        TDI_JR("ratio_vs_whole_step", cfg->gpu_step / e->E_total),
        TDI_JR("ratio_vs_replaced_part", e->gpu_part / e->E_total),
        TDI_JS("replaced_part", "the decoder ResBlock of the skip pair (its FLOP share of one "
                                "U-Net step, energy.gpu_replaced_fraction)")};
    const tdi_json_kv dk[] = {
        TDI_JI("interface_macs", dq->iface_macs), TDI_JI("interface_reads", dq->iface_reads),
        TDI_JI("matvec_macs", dq->matvec_macs), TDI_JI("matvec_reads", dq->matvec_reads),
        TDI_JR("E_J", e->E_digeq), TDI_JR("ratio_analog_over_digital", e->r_digeq),
        TDI_JI("folded_macs", dq->folded_macs), TDI_JI("folded_reads", dq->folded_reads),
        TDI_JR("folded_E_J", e->E_digeq_f), TDI_JR("ratio_analog_over_folded", e->r_fold),
        TDI_JR("mac_J", cfg->e_mac), TDI_JR("weight_read_J", cfg->e_read)};
    tdi_json *o = tdi_json_add_object(root, "energy");
    return tdi_json_set(o, kv, TDI_JSON_N(kv)) ||
           tdi_json_set(tdi_json_add_object(o, "digital_equivalent"), dk, TDI_JSON_N(dk));
}

/* "supply_measured" (transistor level only: ideal results.json unchanged) */
static int json_supply(const tdi_cosim_job *j, tdi_json *root)
{
    const tdi_cosim_ledger *e = &j->e;
    if (!e->n_supply)
        return 0;
    const tdi_json_kv kv[] = {TDI_JS("engine", e->supply_op ? "op" : "spice"),
                              TDI_JS("per", "inference (one sample)"),
                              TDI_JR("E_active_behavioural_J", e->E_active)};
    tdi_json *o = tdi_json_add_object(root, "supply_measured");
    tdi_json *src = tdi_json_set(o, kv, TDI_JSON_N(kv)) ? NULL : tdi_json_add_array(o, "sources");
    int rc = !src;
    const tdi_gen_mos_trim *t = j->gc->trim; /* circuit.mos_trim: the cells' part of vdd */
    const tdi_json_kv tk[] = {TDI_JR("trim_dac_P_W", t ? t->power_W : 0),
                              TDI_JR("trim_dac_E_J", t ? t->power_W * e->T_inf : 0)};
    if (!rc && t)
        rc = tdi_json_set(o, tk, TDI_JSON_N(tk));
    for (size_t s = 0; s < e->n_supply && !rc; s++) {
        const tdi_json_kv sk[] = {TDI_JS("name", j->cc->supply[s]), TDI_JR("V", j->cc->supply_v[s]),
                                  TDI_JR("E_J", e->E_supply[s]), TDI_JR("P_W", e->P_supply[s])};
        rc = tdi_json_set(tdi_json_add_object(src, NULL), sk, TDI_JSON_N(sk));
    }
    return rc;
}

/* rms over units of a (N) V, and of a - b */
static double rms_n(const double *a, const double *b, size_t N)
{
    double s = 0;
    for (size_t i = 0; i < N; i++) {
        double d = a[i] - (b ? b[i] : 0.0);
        s += d * d;
    }
    return sqrt(s / (double)N);
}

/* "trim" of "offsets" (circuit.mos_trim; nothing when off): the untrimmed rest currents, the
   trim, the residual (i_rest_rms_A beside it: the extraction's op, after the trim), the power */
static int json_mos_trim(const tdi_cosim_job *j, tdi_json *off)
{
    const tdi_gen_mos_trim *t = j->gc->trim;
    if (!t)
        return 0;
    const tdi_json_kv tk[] = {
        TDI_JS("mode", t->dac ? "dac" : "ideal"), TDI_JI("passes", t->passes),
        TDI_JI("bits", t->bits), TDI_JR("fs_A", t->fs), TDI_JR("lsb_A", t->lsb),
        TDI_JI("clipped", (long)t->n_clip),
        TDI_JR("untrimmed_rms_A", t->first_rms), TDI_JR("untrimmed_max_A", t->first_max),
        TDI_JR("trim_rms_A", t->trim_rms), TDI_JR("trim_max_A", t->trim_max),
        TDI_JR("residual_rms_A", j->i_rest_rms), TDI_JR("dac_power_W", t->power_W)};
    return tdi_json_set(tdi_json_add_object(off, "trim"), tk, TDI_JSON_N(tk));
}

/* "offsets" (the rest currents, predicted and measured rest) and "compare" (the comparison
   lines) of "transistor_level" */
static int json_mos_cmp(const tdi_cosim_job *j, tdi_json *o)
{
    if (!j->v_off)
        return 0;
    size_t N = j->cc->n;
    const tdi_json_kv ok[] = {
        TDI_JR("i_rest_rms_A", j->i_rest_rms), TDI_JR("rest_pred_rms_V", rms_n(j->v_off, NULL, N)),
        TDI_JR("rest_meas_rms_V", j->rest_mean ? rms_n(j->rest_mean, NULL, N) : NAN),
        TDI_JR("rest_meas_minus_pred_rms_V",
               j->rest_mean ? rms_n(j->rest_mean, j->v_off, N) : NAN)};
    const tdi_json_kv ck[] = {TDI_JI("samples", j->mc.n),
                              TDI_JR("ideal_spice_wall_s", j->mc.ideal_wall)};
    tdi_json *c = tdi_json_add_object(o, "compare");
    tdi_json *off = tdi_json_add_object(o, "offsets");
    int rc = tdi_json_set(off, ok, TDI_JSON_N(ok)) || tdi_json_set(c, ck, TDI_JSON_N(ck)) ||
             json_mos_trim(j, off);
    for (int r = 0; r < TDI_COSIM_MOS_NROW && !rc; r++) {
        const tdi_cosim_mos_row *w = &j->mc.row[r];
        if (!w->have)
            continue;
        const tdi_json_kv rk[] = {TDI_JR("cos_paper", w->m.cos_paper),
                                  TDI_JR("cos_centered", w->m.cos_centered), TDI_JR("r2", w->m.r2),
                                  TDI_JR("rms_vs_spice_V", w->rms_vs_spice)};
        rc = tdi_json_set(tdi_json_add_object(c, tdi_cosim_mos_row_key[r]), rk, TDI_JSON_N(rk));
    }
    return rc;
}

/* "transistor_level" (devices: mos only: ideal results.json unchanged) */
static int json_mos(const tdi_cosim_job *j, tdi_json *root)
{
    if (!j->real)
        return 0;
    const tdi_cosim_mos_noise_stats *mn = &j->mn_st;
    const tdi_json_kv kv[] = {TDI_JR("v_ref_V", j->ph->v_ref), TDI_JR("vdd_V", j->ph->vdd),
                              TDI_JR("i_tail_sum_A", j->ph->i_tail_sum)};
    const tdi_json_kv nk[] = {TDI_JI("devices", mn->n_dev), TDI_JI("classes", mn->n_class),
                              TDI_JR("op_wall_s", mn->op_wall_s), TDI_JR("op_cpu_s", mn->op_cpu_s),
                              TDI_JR("cal_wall_s", mn->cal_wall_s),
                              TDI_JR("cal_cpu_s", mn->cal_cpu_s)};
    tdi_json *o = tdi_json_add_object(root, "transistor_level");
    if (tdi_json_set(o, kv, TDI_JSON_N(kv)) ||
        tdi_json_set(tdi_json_add_object(o, "noise_sizing"), nk, TDI_JSON_N(nk)) ||
        tdi_cosim_realised_json(j->real, tdi_json_add_object(o, "realised")))
        return TDI_ENOMEM;
    const tdi_cosim_teff *t = j->teff;
    if (json_mos_cmp(j, o) || tdi_cosim_chips_json(j, o))
        return TDI_ENOMEM;
    if (!t)
        return 0;
    const tdi_json_kv tk[] = {
        TDI_JS("engine", tdi_cosim_kind_name(j->teff_kind)), TDI_JI("ticks", j->teff_ticks),
        TDI_JR("wall_s", j->teff_wall),
        TDI_JR("teff_mean", t->teff_mean), TDI_JR("teff_lyap_mean", t->teff_lyap_mean),
        TDI_JR("d_meas_vs_thetaMinv", t->d_meas_ref), TDI_JR("d_lyap_vs_thetaMinv", t->d_lyap_ref),
        TDI_JR("d_meas_vs_lyap", t->d_meas_lyap), TDI_JR("lyap_resid", t->lyap_resid),
        TDI_JR("dev_psd_bus_A2_per_Hz", j->teff_psd_bus),
        TDI_JR("rest_offset_rms_V", j->rest_off_rms), TDI_JR("rest_offset_max_V", j->rest_off_max)};
    return tdi_json_set(tdi_json_add_object(o, "teff"), tk, TDI_JSON_N(tk));
}

/* <tmp>/results.json: top-level members and the rows' and levels' entries one per line */
static int write_results(const tdi_cosim_job *j, const char *tmp, tdi_err *err)
{
    char p[1300];
    snprintf(p, sizeof p, "%s/results.json", tmp);
    tdi_json *root = tdi_json_object();
    int bad = json_head(j, root) || json_rows(j, root) || json_levels(j, root) ||
              tdi_cosim_op_json(j->gc, &j->paper_row, root) || json_readout(j, root) ||
              json_mos(j, root) || json_supply(j, root) || json_energy(j, root) ||
              tdi_cosim_calib_json(j, root);
    int rc = bad ? tdi_err_set(err, TDI_ENOMEM, "%s: out of memory", p)
                 : tdi_json_write(p, root, 2, err);
    tdi_json_free(root);
    return rc;
}

/* ------------------------------------------------------------------ csv files */
static void write_samples(const tdi_cosim_job *j, FILE *f)
{
    size_t D = j->D;
    fprintf(f, "sample,row,cos_paper,cos_centered,r2,readout_rms_vs_analytic_V,E_bias_J,"
               "E_R_J\n");
    for (size_t s = 0; s < j->ns; s++)
        for (int r = 0; r < TDI_COSIM_NROW; r++) {
            const tdi_cosim_row *row = &j->rows[r];
            if (!row->have || s >= row->n)
                continue;
            double e = 0, eb = 0, er = 0;
            if (r < 3) {
                const tdi_cosim_out *o = &j->outs[r];
                for (size_t i = 0; i < D; i++) {
                    double d = o->est[s * D + i] - j->outs[0].est[s * D + i];
                    e += d * d;
                }
                e = sqrt(e / (double)D);
                eb = o->e_bias[s];
                er = o->e_r[s];
            }
            fprintf(f, "%zu,%s,%.6f,%.6f,%.6f,%.6g,%.6g,%.6g\n", j->s0 + s, tdi_cosim_row_name[r],
                    row->cp[s], row->cc[s], row->r2[s], e, eb, er);
        }
}

/* the waveform of the most physical engine that recorded one */
static void write_waveform(const tdi_cosim_job *j, FILE *f)
{
    const tdi_cosim_out *o = &j->outs[j->outs[2].wave ? 2 : 1];
    size_t nw = j->cfg.n_wave_units;
    fprintf(f, "t_s");
    for (size_t q = 0; q < nw; q++)
        fprintf(f, ",%s_V", j->cc->node[j->wave[q]]);
    fprintf(f, "\n");
    size_t w = 1 + nw;
    for (size_t r = 0; r < o->wave_rows; r++) {
        fprintf(f, "%.9g", o->wave[r * w]);
        for (size_t q = 1; q < w; q++)
            fprintf(f, ",%.9g", o->wave[r * w + q]);
        fprintf(f, "\n");
    }
}

/* one file of the transaction: tmp/name written by fn */
static int write_file(const tdi_cosim_job *j, const char *tmp, const char *name,
                      void (*fn)(const tdi_cosim_job *, FILE *), tdi_err *err)
{
    char p[1300];
    snprintf(p, sizeof p, "%s/%s", tmp, name);
    tdi_atomic_file af;
    int rc = tdi_atomic_open(&af, p, err);
    if (rc)
        return rc;
    fn(j, af.f);
    return tdi_atomic_commit(&af, err);
}

int tdi_cosim_report_write(const tdi_cosim_job *j, tdi_err *err)
{
    char tmp[1200] = "";
    int rc;
    if ((rc = tdi_mkdirs(j->cfg.out, err)) || (rc = tdi_dir_begin(j->odir, tmp, sizeof tmp, err)))
        return rc;
    rc = write_results(j, tmp, err);
    if (!rc)
        rc = write_file(j, tmp, "samples.csv", write_samples, err);
    if (!rc && j->n_chips)
        rc = write_file(j, tmp, "chips.csv", tdi_cosim_chips_csv, err);
    if (!rc && j->cal)
        rc = write_file(j, tmp, "calib.csv", tdi_cosim_calib_csv, err);
    if (!rc && (j->outs[2].wave || j->outs[1].wave))
        rc = write_file(j, tmp, "waveform.csv", write_waveform, err);
    if (!rc)
        rc = tdi_dir_commit(tmp, j->odir, err);
    if (rc)
        tdi_dir_abort(tmp);
    return rc;
}

/* ------------------------------------------------------------------ summary */
void tdi_cosim_report_summary(const tdi_cosim_job *j, tdi_cosim_summary *sum)
{
    const tdi_gen_phys *ph = j->ph;
    const tdi_gen_circuit *gc = j->gc;
    const tdi_cosim_ledger *e = &j->e;
    memset(sum, 0, sizeof *sum);
    sum->D = j->D;
    sum->first = j->s0;
    for (int r = 0; r < TDI_COSIM_NROW; r++) {
        sum->have[r] = j->rows[r].have;
        sum->samples[r] = j->rows[r].have ? j->rows[r].n : 0;
        sum->cos_paper[r] = j->rows[r].m.cos_paper;
        sum->cos_centered[r] = j->rows[r].m.cos_centered;
        sum->r2[r] = j->rows[r].m.r2;
    }
    sum->Vs = ph->Vs;
    sum->theta = ph->theta;
    sum->tau = ph->tau;
    sum->t_slow = ph->t_slow;
    sum->tick = j->tm.tick;
    sum->t_settle = (double)j->tm.settle_ticks * j->tm.tick;
    sum->t_avg = (double)j->tm.avg_ticks * j->tm.tick;
    sum->time_to_solution = e->T_inf;
    sum->wires = j->cc->wires;
    sum->n_vccs = j->cc->n_vccs;
    sum->n_res = j->cc->n_res;
    sum->pairs_total = gc->total_pairs;
    sum->elems_total = gc->total_elements;
    sum->pairs_skip = gc->blk[TDI_GEN_BLK_SKIP].wire_pairs;
    sum->elems_skip = gc->blk[TDI_GEN_BLK_SKIP].elements;
    sum->readout_pred_rms = j->pred_rms;
    sum->analog_readout = ph->ro;
    sum->adc_per_sample = (long)e->n_adc;
    sum->E_R_stage = j->sp.E_R_stage;
    for (int k = 0; k < 3; k++)
        sum->readout_rms[k] = j->meas_rms[k];
    sum->energy_engine = e->engine;
    sum->macs = j->macs;
    sum->E_bias = e->E_bias;
    sum->E_R = e->E_R;
    sum->E_active = e->E_active;
    sum->E_dac = e->E_dac;
    sum->E_adc = e->E_adc;
    sum->E_digital = e->E_digital;
    sum->E_wread = e->E_wread;
    sum->digeq = j->dq;
    sum->E_digeq = e->E_digeq;
    sum->E_digeq_folded = e->E_digeq_f;
    sum->ratio_digeq = e->r_digeq;
    sum->E_total = e->E_total;
    sum->E_kT = e->E_kT;
    sum->gpu_step = j->cfg.gpu_step;
    sum->gpu_part = e->gpu_part;
    tdi_cosim_calib_summary(j, sum);
}

/* ------------------------------------------------------------------ the table */
static void table_rows(const tdi_cosim_job *j, FILE *rep)
{
    fprintf(rep, "\n%-19s %7s %9s %12s %8s %14s %9s %11s\n", "row", "samples", "cos_paper",
            "cos_centered", "R^2", "t_solution s", "CPU s", "ticks/CPU-s");
    for (int r = 0; r < TDI_COSIM_NROW; r++) {
        const tdi_cosim_row *row = &j->rows[r];
        if (!row->have)
            continue;
        fprintf(rep, "%-19s %7zu %9.4f %12.4f %8.4f", tdi_cosim_row_name[r], row->n,
                row->m.cos_paper, row->m.cos_centered, row->m.r2);
        if (r == TDI_COSIM_ROW_SDE || r == TDI_COSIM_ROW_SPICE) {
            const tdi_cosim_stats *st = &j->outs[r].st;
            fprintf(rep, " %14.4g %9.3f %11.4g", j->e.T_inf, st->cpu_s,
                    st->cpu_s > 0 ? (double)st->ticks_hit / st->cpu_s : 0.0);
        } else if (r == TDI_COSIM_ROW_ANALYTIC || r == TDI_COSIM_ROW_IDEAL) {
            fprintf(rep, " %14s", "(equilibrium)");
        }
        fprintf(rep, "\n");
    }
    const tdi_cosim_row *spice = &j->rows[TDI_COSIM_ROW_SPICE];
    if (spice->have && spice->n < j->ns) /* the same samples as spice */
        tdi_cosim_op_print_subset("analytic (spice's)", j->rows[TDI_COSIM_ROW_ANALYTIC].pred,
                                  j->truth + j->s0 * j->D, j->mean_fit, spice->n, j->D, rep);
    tdi_cosim_op_print_row(&j->paper_row, rep);
    fprintf(rep, "(analytic: M^-1 b with the DAC's biases; analytic_ideal_dac: the bundle's "
            "M^-1 b; digital_Binv_bdec: B^-1 b_dec, no substrate coupling; mean: fit-split "
            "mean)\n");
    tdi_cosim_op_print(j->gc, &j->paper_row, rep);
}

static void stage_report(FILE *rep, const tdi_gen_phys *ph, const tdi_cosim_stage_pred *sp,
                         double q_adc, double E_R, double E_active_stage)
{
    if (!ph->ro) {
        fprintf(rep, "read-out: ADC averaging of the decoder units (circuit.readout_stage: "
                "none)\n");
        return;
    }
    fprintf(rep, "read-out: analog stage per decoder unit (Gm-C low-pass, C_ro %.4g F, gm_ro = "
            "g_ro %.4g S, tau_ro %.4g s, g_n %.4g S), one ADC conversion per unit at the slot's "
            "end\n", ph->ro_C, ph->ro_g, ph->ro_tau, ph->ro_gn);
    fprintf(rep, "  predicted read-out variance: substrate through the stage %.4g V^2 + stage "
            "noise %.4g V^2 + quantisation q^2/12 %.4g V^2; stage dissipation %.4g J (in E_R), "
            "stage transconductors %.4g J (in E_active)\n", sp->var_sub, sp->var_own,
            q_adc * q_adc / 12.0, E_R, E_active_stage);
}

static void table_readout(const tdi_cosim_job *j, FILE *rep)
{
    const tdi_cosim_cfg *cfg = &j->cfg;
    const tdi_gen_phys *ph = j->ph;
    const tdi_cosim_timing *tm = &j->tm;
    double tick = tm->tick, T_inf = j->e.T_inf;
    fprintf(rep, "\nsignal vs noise (simulation units): per-sample signal (std over samples of "
            "analytic y, rms over units) %.4g; predicted readout noise %.4g; theta %.4g\n",
            j->sig_units, j->pred_rms / ph->Vs, ph->theta);
    char m1[32] = "n/a", m2[32] = "n/a", m3[32] = "n/a";
    if (j->outs[1].est)
        snprintf(m1, sizeof m1, "%.4g V", j->meas_rms[1]);
    if (j->outs[2].est)
        snprintf(m2, sizeof m2, "%.4g V", j->meas_rms[2]);
    if (!isnan(j->diff_sde_spice))
        snprintf(m3, sizeof m3, "%.4g V", j->diff_sde_spice);
    fprintf(rep, "readout error, rms over samples and decoder units: predicted %.4g V, sde %s, "
            "spice %s (vs analytic with the same DAC outputs); sde vs spice %s\n", j->pred_rms,
            m1, m2, m3);
    stage_report(rep, ph, &j->sp, j->q_adc, j->sp.E_R_stage,
                 cfg->vdd * (double)j->D * ph->ro_g / cfg->gm_over_id * T_inf);
    fprintf(rep, "time to solution per sample (circuit time): settle %.4g s + average %.4g s "
            "= %.4g s (%ld ticks of %.4g s)\n", (double)tm->settle_ticks * tick,
            (double)tm->avg_ticks * tick, T_inf, tm->per_sample, tick);
    fprintf(rep, "wires: %zu node pairs (%zu VCCS, %zu resistors); digital interface %ld "
            "MACs; %zu DAC updates and %.0f ADC conversions per sample\n", j->cc->wires,
            j->cc->n_vccs, j->cc->n_res, j->macs, j->N, j->e.n_adc);
}

static void table_energy(const tdi_cosim_job *j, FILE *rep)
{
    const tdi_cosim_cfg *cfg = &j->cfg;
    const tdi_cosim_ledger *e = &j->e;
    const tdi_cosim_digeq *dq = &j->dq;
    char eh[64];
    snprintf(eh, sizeof eh, "energy per inference (%s waveforms)",
             tdi_cosim_kind_name((tdi_cosim_kind)e->engine));
    fprintf(rep, "\n%-46s %12s\n", eh, "J");
    fprintf(rep, "%-46s %12.4g\n", "E_bias   (integral of i_bias v)", e->E_bias);
    fprintf(rep, "%-46s %12.4g\n", "E_R      (every resistor: unit, bus, damping)", e->E_R);
    fprintf(rep, "%-46s %12.4g\n", "E_active (Vdd sum(gm)/(gm/ID) T)", e->E_active);
    for (size_t s = 0; s < e->n_supply; s++) {
        char sh[96];
        snprintf(sh, sizeof sh, "  measured (%s): %s %.3g V x %s current",
                 e->supply_op ? "rest op" : "spice", j->cc->supply[s], j->cc->supply_v[s],
                 e->supply_op ? "its" : "mean");
        fprintf(rep, "%-46s %12.4g  (%.4g W)\n", sh, e->E_supply[s], e->P_supply[s]);
    }
    if (e->n_supply && j->gc->trim) /* circuit.mos_trim: the cells draw from vdd */
        fprintf(rep, "%-46s %12.4g  (%.4g W)\n", "    of which (in vdd) the offset trim's cells",
                j->gc->trim->power_W * e->T_inf, j->gc->trim->power_W);
    fprintf(rep, "%-46s %12.4g\n", "E_conv   (DAC updates + ADC conversions)", e->E_conv);
    fprintf(rep, "%-46s %12.4g\n", "  of which DAC", e->E_dac);
    fprintf(rep, "%-46s %12.4g\n", "  of which ADC", e->E_adc);
    fprintf(rep, "%-46s %12.4g\n", "E_digital (interface MACs x E_MAC)", e->E_digital);
    fprintf(rep, "%-46s %12.4g\n", "E_wread  (interface weight reads x E_read)", e->E_wread);
    fprintf(rep, "%-46s %12.4g\n", "total", e->E_total);
    fprintf(rep, "%-46s %12.4g\n", "kT floor (kB T per unit per relaxation time)", e->E_kT);
    char dh[96];
    snprintf(dh, sizeof dh, "digital equivalent (%ld MACs, %ld reads)",
             dq->iface_macs + dq->matvec_macs, dq->iface_reads + dq->matvec_reads);
    fprintf(rep, "%-46s %12.4g  analog/digital %.3g\n", dh, e->E_digeq, e->r_digeq);
    snprintf(dh, sizeof dh, "  folded lower bound (%ld MACs, %ld reads)", dq->folded_macs,
             dq->folded_reads);
    fprintf(rep, "%-46s %12.4g  analog/digital %.3g\n", dh, e->E_digeq_f, e->r_fold);
    fprintf(rep, "(digital equivalent: the interface, then the precomputed decoder rows of "
            "M^-1 times b, same E_MAC; the same estimate as analytic_ideal_dac)\n");
    fprintf(rep, "%-46s %12.4g  ratio %.3g x\n",
            "GPU, whole U-Net step (whole-step comparison)", cfg->gpu_step,
            cfg->gpu_step / e->E_total);
    fprintf(rep, "%-46s %12.4g  ratio %.3g x\n", "GPU, replaced part (decoder ResBlock)",
            e->gpu_part, e->gpu_part / e->E_total);
}

/* several levels: each row's centered cosine and R^2 per level */
static void table_levels(const tdi_cosim_job *j, FILE *rep)
{
    if (j->L < 2)
        return;
    fprintf(rep, "per level (metrics over the level's read-out units):\n%-20s", "row");
    for (size_t l = 0; l < j->L; l++)
        fprintf(rep, "  %5s cos_c      R^2", j->b.sub.mod[j->L + l].name);
    fprintf(rep, "\n");
    for (int r = 0; r < TDI_COSIM_NROW; r++) {
        if (!j->rows[r].have)
            continue;
        fprintf(rep, "%-20s", tdi_cosim_row_name[r]);
        for (size_t l = 0; l < j->L; l++)
            fprintf(rep, "  %11.4f %8.4f", j->lvm[r][l].cos_centered, j->lvm[r][l].r2);
        fprintf(rep, "\n");
    }
}

/* The rest currents and the comparison lines: transistor vs ideal vs analytic. */
static void table_mos_cmp(const tdi_cosim_job *j, FILE *rep)
{
    if (!j->v_off)
        return;
    size_t N = j->cc->n;
    fprintf(rep, "rest currents (the extraction's rest op%s): rms %.4g A; predicted rest offset "
            "G^-1 i_rest: rms %.4g V", j->gc->trim ? ", after the offset trim: the residual" : "",
            j->i_rest_rms, rms_n(j->v_off, NULL, N));
    if (j->rest_mean)
        fprintf(rep, "; measured (noise-only run) rms %.4g V, measured - predicted rms %.4g V",
                rms_n(j->rest_mean, NULL, N), rms_n(j->rest_mean, j->v_off, N));
    fprintf(rep, "\n\ntransistor vs ideal vs analytic (decoder outputs, %zu samples%s):\n",
            j->mc.n, j->outs[TDI_COSIM_SPICE].est ? ", spice's" : "");
    fprintf(rep, "%-24s %9s %12s %8s %16s\n", "row", "cos_paper", "cos_centered", "R^2",
            "rms vs spice V");
    for (int r = 0; r < TDI_COSIM_MOS_NROW; r++) {
        const tdi_cosim_mos_row *w = &j->mc.row[r];
        if (!w->have)
            continue;
        fprintf(rep, "%-24s %9.4f %12.4f %8.4f %16.4g\n", tdi_cosim_mos_row_name[r],
                w->m.cos_paper, w->m.cos_centered, w->m.r2, w->rms_vs_spice);
    }
    if (j->cc_ideal && j->mc.ideal[TDI_COSIM_SPICE].est)
        fprintf(rep, "(the ideal-element netlist ran with the same plan, converters and noise "
                "seed: %.3g s wall; cosim.ideal_rows)\n", j->mc.ideal_wall);
    fprintf(rep, "(the table's analytic and sde rows are the extracted G with the rest currents: "
            "G^-1 (b + i_rest))\n");
}

/* The transistor-level block: the realised matrix and the effective temperature. */
static void table_mos(const tdi_cosim_job *j, FILE *rep)
{
    if (!j->real)
        return;
    fprintf(rep, "\ntransistor level: %zu OTAs, %zu MOSFETs, rest at V_cm = %.4g V, Vdd %.4g V, "
            "design sum I_tail %.4g A\n", j->gc->n_ota, j->gc->n_dev, j->ph->v_ref, j->ph->vdd,
            j->ph->i_tail_sum);
    tdi_gen_mos_comp_print(j->gc, rep); /* circuit.mos_self_comp (nothing when off) */
    tdi_gen_mos_trim_print(j->gc, rep); /* circuit.mos_trim (nothing when off) */
    tdi_cosim_realised_print(j->real, rep);
    const tdi_cosim_mos_noise_stats *mn = &j->mn_st;
    fprintf(rep, "device noise sized: %zu devices in %zu bias classes; circuit op %.3g s wall "
            "(%.3g s CPU), calibration deck %.3g s wall (%.3g s CPU)\n", mn->n_dev, mn->n_class,
            mn->op_wall_s, mn->op_cpu_s, mn->cal_wall_s, mn->cal_cpu_s);
    if (j->teff && j->teff_kind == TDI_COSIM_SDE)
        fprintf(rep, "noise-only sde run (spice off): %ld ticks, %.3g s wall, the realised G with "
                "each unit's device white PSD added (the Lyapunov model's, sampled)\n",
                j->teff_ticks, j->teff_wall);
    else if (j->teff)
        fprintf(rep, "noise-only spice run: %ld ticks, %.3g s wall (analytic and sde rows above "
                "ran the extracted G; spice the transistors)\n", j->teff_ticks, j->teff_wall);
    if (j->teff)
        tdi_cosim_teff_print(rep, j->teff);
    if (j->teff && j->teff_kind == TDI_COSIM_SPICE)
        fprintf(rep, "rest offset (mean of v - V_cm with zero bias, the OTAs' systematic "
                "offsets): rms %.4g V, max %.4g V = %.3g Vs\n", j->rest_off_rms, j->rest_off_max,
                j->rest_off_max / j->ph->Vs);
    table_mos_cmp(j, rep);
}

void tdi_cosim_report_table(const tdi_cosim_job *j)
{
    FILE *rep = j->rep;
    if (!rep)
        return;
    table_rows(j, rep);
    table_levels(j, rep);
    table_readout(j, rep);
    table_mos(j, rep);
    tdi_cosim_chips_print(j, rep);
    tdi_cosim_calib_print(j, rep);
    table_energy(j, rep);
    fprintf(rep, "wrote %s/results.json and %s/samples.csv\n", j->odir, j->odir);
}
