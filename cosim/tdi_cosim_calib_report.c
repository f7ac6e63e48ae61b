/* tdi_cosim_calib_report: the calibration's table block, calib.csv, results.json's
 * "calibration" member and the in-process summary (docs/nonideal.md "Calibration"). Invariant:
 * nothing at all for cosim.calibrate none (j->cal NULL), so such runs write what they wrote
 * before. Non-goals: the calibration itself (tdi_cosim_calib.c). */
#include <math.h>
#include <stdio.h>

#include "tdi_cosim_job.h"

static const char *const cal_name[TDI_COSIM_NCAL] = {"design_analytic", "calibrated_analytic",
                                                     "calibrated_sde"};

void tdi_cosim_calib_print(const tdi_cosim_job *j, FILE *f)
{
    const tdi_cosim_calib *cal = j->cal;
    if (!cal || !f)
        return;
    fprintf(f, "\ncalibration (cosim.calibrate: %s, docs/nonideal.md \"Calibration\"): the design "
            "circuit, the chip as run above, the chip calibrated\n", j->cfg.calibrate);
    fprintf(f, "%-22s %7s %9s %12s %8s\n", "row", "samples", "cos_paper", "cos_centered", "R^2");
    for (int r = 0; r < TDI_COSIM_NCAL; r++) {
        const tdi_cosim_row *row = &cal->row[r];
        if (!row->have)
            continue;
        fprintf(f, "%-22s %7zu %9.4f %12.4f %8.4f\n", cal_name[r], row->n, row->m.cos_paper,
                row->m.cos_centered, row->m.r2);
        if (r == TDI_COSIM_CAL_DESIGN)
            for (int k = 0; k < 2; k++)
                if (j->rows[k].have)
                    fprintf(f, "%-22s %7zu %9.4f %12.4f %8.4f\n",
                            k ? "uncalibrated_sde" : "uncalibrated_analytic", j->rows[k].n,
                            j->rows[k].m.cos_paper, j->rows[k].m.cos_centered, j->rows[k].m.r2);
    }
    fprintf(f, "  probes %ld (%s%ld iteration%s), drive std %.4g (encoder) / %.4g (decoder) "
            "units, read-out noise %s\n", cal->probes, cal->mode == 2 ? "in the loop, " : "",
            cal->iters, cal->iters == 1 ? "" : "s", cal->amp_enc, cal->amp_dec,
            j->cfg.calib_noise ? "on" : "off");
    fprintf(f, "  cost: circuit time %.4g s, probe energy %.4g J (analog + converters), fit %.4g "
            "MACs (%.4g J at energy.mac)\n", cal->t_circuit, cal->E_probe, cal->macs,
            cal->macs * j->cfg.e_mac);
    if (cal->out)
        fprintf(f, "  output correction after the ADC: %s, |K - I|_F / |I|_F %.4g, %ld MACs per "
                "inference (%.4g J at energy.mac)\n", cal->out == 2 ? "full (I + rank k)"
                : "affine (per channel)", cal->out_rel, cal->macs_out,
                (double)cal->macs_out * j->cfg.e_mac);
    if (!isnan(cal->map_err))
        fprintf(f, "  fitted map vs the circuit's own G^-1 (no converters): relative %.4g\n",
                cal->map_err);
    fprintf(f, "  retrained: %s %.4g, rms(c' - c) %.4g units, %zu biases beyond "
            "the DAC full scale; digital side %ld MACs per inference (%.4g J); %.3f s wall\n",
            j->skip ? "|dW2|_F / |W2|_F" : "|d[enc_w2 enc_b2]|_F / |[enc_w2 enc_b2]|_F",
            cal->enc_rel, cal->bias_rms, cal->dac_clip, cal->macs_iface,
            (double)cal->macs_iface * j->cfg.e_mac, cal->wall_s);
}

void tdi_cosim_calib_csv(const tdi_cosim_job *j, FILE *f)
{
    fprintf(f, "row,samples,cos_paper,cos_centered,r2\n");
    for (int k = 0; k < 2; k++)
        if (j->rows[k].have)
            fprintf(f, "uncalibrated_%s,%zu,%.17g,%.17g,%.17g\n", k ? "sde" : "analytic",
                    j->rows[k].n, j->rows[k].m.cos_paper, j->rows[k].m.cos_centered,
                    j->rows[k].m.r2);
    for (int r = 0; r < TDI_COSIM_NCAL; r++) {
        const tdi_cosim_row *row = &j->cal->row[r];
        if (row->have)
            fprintf(f, "%s,%zu,%.17g,%.17g,%.17g\n", cal_name[r], row->n, row->m.cos_paper,
                    row->m.cos_centered, row->m.r2);
    }
}

int tdi_cosim_calib_json(const tdi_cosim_job *j, tdi_json *root)
{
    const tdi_cosim_calib *cal = j->cal;
    if (!cal)
        return 0;
    tdi_json *o = tdi_json_add_object(root, "calibration");
    const tdi_json_kv kv[] = {
        TDI_JS("method", j->cfg.calibrate), TDI_JI("probes", cal->probes),
        TDI_JI("iterations", cal->iters), TDI_JR("drive_std_enc", cal->amp_enc),
        TDI_JR("drive_std_dec", cal->amp_dec), TDI_JB("readout_noise", j->cfg.calib_noise),
        TDI_JR("circuit_time_s", cal->t_circuit), TDI_JR("probe_energy_J", cal->E_probe),
        TDI_JR("fit_macs", cal->macs), TDI_JR("fit_energy_J", cal->macs * j->cfg.e_mac),
        TDI_JR("map_rel_err", cal->map_err), TDI_JR("enc_rel_change", cal->enc_rel),
        TDI_JR("bias_rms_change", cal->bias_rms), TDI_JI("dac_clipped", (long)cal->dac_clip),
        TDI_JI("iface_macs", cal->macs_iface),
        TDI_JR("iface_energy_J", (double)cal->macs_iface * j->cfg.e_mac),
        TDI_JS("output_correction", j->cfg.calib_output), TDI_JI("output_macs", cal->macs_out),
        TDI_JR("output_rel", cal->out_rel), TDI_JR("wall_s", cal->wall_s)};
    if (!o || tdi_json_set(o, kv, TDI_JSON_N(kv)))
        return TDI_ENOMEM;
    tdi_json *rows = tdi_json_add_object(o, "rows");
    if (!rows)
        return TDI_ENOMEM;
    for (int r = 0; r < TDI_COSIM_NCAL; r++) {
        const tdi_cosim_row *row = &cal->row[r];
        if (!row->have)
            continue;
        const tdi_json_kv m[] = {TDI_JI("samples", (long)row->n),
                                 TDI_JR("cos_paper", row->m.cos_paper),
                                 TDI_JR("cos_centered", row->m.cos_centered),
                                 TDI_JR("r2", row->m.r2)};
        if (tdi_json_set(tdi_json_add_object(rows, cal_name[r]), m, TDI_JSON_N(m)))
            return TDI_ENOMEM;
    }
    return 0;
}

void tdi_cosim_calib_summary(const tdi_cosim_job *j, tdi_cosim_summary *sum)
{
    const tdi_cosim_calib *cal = j->cal;
    for (int r = 0; r < TDI_COSIM_NCAL; r++) {
        sum->cal_have[r] = cal && cal->row[r].have;
        sum->cal_cos_paper[r] = sum->cal_have[r] ? cal->row[r].m.cos_paper : NAN;
        sum->cal_cos_centered[r] = sum->cal_have[r] ? cal->row[r].m.cos_centered : NAN;
        sum->cal_r2[r] = sum->cal_have[r] ? cal->row[r].m.r2 : NAN;
    }
    sum->cal_probes = cal ? cal->probes : 0;
    sum->cal_t_circuit = cal ? cal->t_circuit : 0;
    sum->cal_E_probe = cal ? cal->E_probe : 0;
    sum->cal_macs = cal ? cal->macs : 0;
}
