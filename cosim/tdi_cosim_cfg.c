/* tdi_cosim_cfg: the tdi-cosim config, the `cosim:` and `energy:` sections plus seed, name and
 * out (keys, ranges and defaults; configs/paper.yaml). Other sections are skipped (owned by
 * other components: the `circuit:` section is the generator's, tdi_gen_config_load).
 * Non-goals: using the values (the job's stages, tdi_cosim_job.h). */
#include <stdio.h>
#include <string.h>

#include "tdi_cfg.h"
#include "tdi_cosim.h"

void tdi_cosim_cfg_defaults(tdi_cosim_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->seed = 1;
    snprintf(c->name, sizeof c->name, "paper");
    snprintf(c->out, sizeof c->out, "out/paper");
    c->n_samples = 16;
    c->first = 0;
    c->analytic = c->sde = c->spice = 1;
    snprintf(c->schedule, sizeof c->schedule, "auto");
    c->noise = 1;
    c->dac_bits = 10;
    c->adc_bits = 12;
    c->progress = 1;
    c->teff_relax = 100;
    c->ideal_rows = 1;
    c->chips_sde = 1;
    snprintf(c->realised, sizeof c->realised, "auto");
    snprintf(c->calibrate, sizeof c->calibrate, "none");
    c->calib_probes = 512;
    c->calib_iters = 8;
    c->calib_ridge = 1e-4;
    c->calib_amp = 0.1;
    c->calib_noise = 1;
    c->calib_gains = 1;
    snprintf(c->calib_output, sizeof c->calib_output, "full");
    snprintf(c->calib_encoder, sizeof c->calib_encoder, "projected");
    c->paper_row = 1;
    c->paper_row_samples = 64;
    c->wave_every = 1;
    c->wave_samples = 1;
    c->vdd = 0.8;
    c->gm_over_id = 20.0;
    c->dac_fom = 5e-15;
    c->adc_fom = 5e-15;
    c->e_mac = 4.6e-12;
    c->e_read = 10e-12;
    c->gpu_step = 52e-3;
    c->gpu_replaced_fraction = 0.315;
}

int tdi_cosim_cfg_load(const char *path, tdi_cosim_cfg *c, tdi_err *err)
{
    tdi_cosim_cfg_defaults(c);
    c->path = path;
    tdi_cfg_key keys[] = {
        {"seed", TDI_CFG_INT, &c->seed, 0, 4294967295.0, 0, NULL, NULL, 0},
        {"name", TDI_CFG_NAME, c->name, 0, 0, sizeof c->name, NULL, NULL, 0},
        {"out", TDI_CFG_STRING, c->out, 0, 0, sizeof c->out, NULL, NULL, 0},
        {"cosim.n_samples", TDI_CFG_INT, &c->n_samples, 1, 1e7, 0, NULL, NULL, 0},
        {"cosim.first", TDI_CFG_INT, &c->first, 0, 1e8, 0, NULL, NULL, 0},
        {"cosim.sde", TDI_CFG_BOOL, &c->sde, 0, 0, 0, NULL, NULL, 0},
        {"cosim.spice", TDI_CFG_BOOL, &c->spice, 0, 0, 0, NULL, NULL, 0},
        {"cosim.spice_samples", TDI_CFG_INT, &c->spice_samples, 0, 1e7, 0, NULL, NULL, 0},
        {"cosim.avg_relax", TDI_CFG_DOUBLE, &c->avg_relax, 0, 1e6, 0, NULL, NULL, 0},
        {"cosim.schedule", TDI_CFG_STRING, c->schedule, 0, 0, sizeof c->schedule, NULL,
         "auto|batch|per_sample", 0},
        {"cosim.noise", TDI_CFG_BOOL, &c->noise, 0, 0, 0, NULL, NULL, 0},
        {"cosim.tick", TDI_CFG_DOUBLE, &c->tick, 0, 1e3, 0, NULL, NULL, 0},
        {"cosim.t_settle", TDI_CFG_DOUBLE, &c->t_settle, 0, 1e6, 0, NULL, NULL, 0},
        {"cosim.t_avg", TDI_CFG_DOUBLE, &c->t_avg, 0, 1e6, 0, NULL, NULL, 0},
        {"cosim.dac_bits", TDI_CFG_INT, &c->dac_bits, 0, 30, 0, NULL, NULL, 0},
        {"cosim.dac_full_scale", TDI_CFG_DOUBLE, &c->dac_fs, 0, 1e12, 0, NULL, NULL, 0},
        {"cosim.adc_bits", TDI_CFG_INT, &c->adc_bits, 0, 30, 0, NULL, NULL, 0},
        {"cosim.adc_full_scale", TDI_CFG_DOUBLE, &c->adc_fs, 0, 1e6, 0, NULL, NULL, 0},
        {"cosim.adc_rate", TDI_CFG_DOUBLE, &c->adc_rate, 0, 1e15, 0, NULL, NULL, 0},
        {"cosim.adc_offset", TDI_CFG_DOUBLE, &c->adc_offset, 0, 1e3, 0, NULL, NULL, 0},
        {"cosim.adc_gain_err", TDI_CFG_DOUBLE, &c->adc_gain_err, 0, 0.5, 0, NULL, NULL, 0},
        {"cosim.adc_inl", TDI_CFG_DOUBLE, &c->adc_inl, 0, 1e3, 0, NULL, NULL, 0},
        {"cosim.dac_offset", TDI_CFG_DOUBLE, &c->dac_offset, 0, 1e3, 0, NULL, NULL, 0},
        {"cosim.dac_gain_err", TDI_CFG_DOUBLE, &c->dac_gain_err, 0, 0.5, 0, NULL, NULL, 0},
        {"cosim.dac_inl", TDI_CFG_DOUBLE, &c->dac_inl, 0, 1e3, 0, NULL, NULL, 0},
        {"cosim.progress", TDI_CFG_BOOL, &c->progress, 0, 0, 0, NULL, NULL, 0},
        {"cosim.paper_row", TDI_CFG_BOOL, &c->paper_row, 0, 0, 0, NULL, NULL, 0},
        {"cosim.paper_row_samples", TDI_CFG_INT, &c->paper_row_samples, 0, 1e7, 0, NULL, NULL,
         0},
        {"cosim.waveform_units", TDI_CFG_ILIST, c->wave_units, 0, 1e7, 16, &c->n_wave_units,
         NULL, 0},
        {"cosim.waveform_every", TDI_CFG_INT, &c->wave_every, 1, 1e9, 0, NULL, NULL, 0},
        {"cosim.waveform_samples", TDI_CFG_INT, &c->wave_samples, 1, 1e7, 0, NULL, NULL, 0},
        {"cosim.teff_relax", TDI_CFG_DOUBLE, &c->teff_relax, 0, 1e6, 0, NULL, NULL, 0},
        {"cosim.ideal_rows", TDI_CFG_BOOL, &c->ideal_rows, 0, 0, 0, NULL, NULL, 0},
        {"cosim.chips", TDI_CFG_INT, &c->chips, 0, 1e6, 0, NULL, NULL, 0},
        {"cosim.chips_sde", TDI_CFG_BOOL, &c->chips_sde, 0, 0, 0, NULL, NULL, 0},
        {"cosim.chips_spice", TDI_CFG_BOOL, &c->chips_spice, 0, 0, 0, NULL, NULL, 0},
        {"cosim.realised", TDI_CFG_STRING, c->realised, 0, 0, sizeof c->realised, NULL,
         "auto|perturb|linear", 0},
        {"cosim.calibrate", TDI_CFG_STRING, c->calibrate, 0, 0, sizeof c->calibrate, NULL,
         "none|probe|loop", 0},
        {"cosim.calib_probes", TDI_CFG_INT, &c->calib_probes, 1, 1e7, 0, NULL, NULL, 0},
        {"cosim.calib_iters", TDI_CFG_INT, &c->calib_iters, 1, 1e4, 0, NULL, NULL, 0},
        {"cosim.calib_ridge", TDI_CFG_DOUBLE, &c->calib_ridge, 0, 1e6, 0, NULL, NULL, 0},
        {"cosim.calib_amp", TDI_CFG_DOUBLE, &c->calib_amp, 1e-6, 1, 0, NULL, NULL, 0},
        {"cosim.calib_draw", TDI_CFG_INT, &c->calib_draw, 0, 4294967295.0, 0, NULL, NULL, 0},
        {"cosim.calib_noise", TDI_CFG_BOOL, &c->calib_noise, 0, 0, 0, NULL, NULL, 0},
        {"cosim.calib_gains", TDI_CFG_BOOL, &c->calib_gains, 0, 0, 0, NULL, NULL, 0},
        {"cosim.calib_encoder", TDI_CFG_STRING, c->calib_encoder, 0, 0, sizeof c->calib_encoder,
         NULL, "projected|full", 0},
        {"cosim.calib_output", TDI_CFG_STRING, c->calib_output, 0, 0, sizeof c->calib_output,
         NULL, "none|affine|full", 0},
        {"energy.vdd", TDI_CFG_DOUBLE, &c->vdd, 0, 100, 0, NULL, NULL, 0},
        {"energy.gm_over_id", TDI_CFG_DOUBLE, &c->gm_over_id, 1e-3, 100, 0, NULL, NULL, 0},
        {"energy.dac_fom", TDI_CFG_DOUBLE, &c->dac_fom, 0, 1, 0, NULL, NULL, 0},
        {"energy.adc_fom", TDI_CFG_DOUBLE, &c->adc_fom, 0, 1, 0, NULL, NULL, 0},
        {"energy.mac", TDI_CFG_DOUBLE, &c->e_mac, 0, 1, 0, NULL, NULL, 0},
        {"energy.weight_read", TDI_CFG_DOUBLE, &c->e_read, 0, 1, 0, NULL, NULL, 0},
        {"energy.gpu_step", TDI_CFG_DOUBLE, &c->gpu_step, 0, 1e6, 0, NULL, NULL, 0},
        {"energy.gpu_replaced_fraction", TDI_CFG_DOUBLE, &c->gpu_replaced_fraction, 0, 1, 0,
         NULL, NULL, 0},
    };
    size_t nk = sizeof keys / sizeof keys[0];
    int rc = tdi_cfg_load_preset(path, NULL, keys, nk, 3, err); /* seed, name, out required */
    if (rc)
        return rc;
    return 0;
}
