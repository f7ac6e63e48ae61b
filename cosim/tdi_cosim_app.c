/* tdi_cosim_app: the tdi-cosim job, as a sequence of stages over one tdi_cosim_job
 * (tdi_cosim_job.h; docs/cosim.md "Stages"): load the substrate bundle (here), build the
 * circuit, run the digital interface per test sample, plan the converters and ticks, drive the
 * engines (analytic, sde, spice), score the rows, predict and measure the read-out error, keep
 * the energy ledger (docs/physics.md 7), and write the report: <out>/cosim/results.json,
 * samples.csv and the table. Non-goals: netlist generation (generator), fitting
 * (tools/substrate). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_cosim_job.h"
#include "tdi_io.h"

/* The load stage: the output directory checked, the circuit config, the bundle and the test
 * samples' range, its arrays. */
static int job_load(tdi_cosim_job *j, tdi_err *err)
{
    const tdi_cosim_cfg *cfg = &j->cfg;
    int rc;
    if ((size_t)snprintf(j->odir, sizeof j->odir, "%s/cosim", cfg->out) >= sizeof j->odir)
        return tdi_err_set(err, TDI_ECONFIG, "%s: out: path too long (%zu bytes at most)",
                           cfg->path, sizeof j->odir - 7);
    if ((rc = tdi_dir_check(j->odir, err))) /* refuse a foreign target before the run */
        return rc;
    tdi_gen_config_init(&j->gcfg);
    if (j->gen)
        j->gcfg = *j->gen;
    else if ((rc = tdi_gen_config_load(cfg->path, &j->gcfg, err)))
        return rc;
    char *bdir = j->bdir;
    int wb = j->gcfg.bundle[0] ? snprintf(bdir, sizeof j->bdir, "%s", j->gcfg.bundle)
                               : snprintf(bdir, sizeof j->bdir, "%s/substrate", cfg->out);
    if (wb < 0 || (size_t)wb >= sizeof j->bdir)
        return tdi_err_set(err, TDI_ECONFIG, "%s: bundle path too long (%zu bytes at most)",
                           cfg->path, sizeof j->bdir - 1);
    if ((rc = tdi_cosim_load(bdir, &j->b, err)))
        return rc;
    j->have_bundle = 1;
    size_t D = j->b.D, nb = j->b.n;
    j->D = D;
    j->N = j->b.sub.N;
    j->o = j->b.sub.mod[j->b.sub.out].off;
    j->L = tdi_gen_bundle_levels(&j->b);
    j->skip = strcmp(j->b.mode, "skip") == 0;
    if ((size_t)cfg->first >= nb)
        return tdi_err_set(err, TDI_ECONFIG, "%s: cosim.first = %ld but the bundle has %zu "
                           "test samples", cfg->path, cfg->first, nb);
    j->s0 = (size_t)cfg->first;
    j->ns = (size_t)cfg->n_samples;
    if (j->s0 + j->ns > nb)
        j->ns = nb - j->s0;
    tdi_cosim_load_take(&j->b, (double **const[12]){&j->x, &j->truth, &j->mean_fit, &j->gain,
                                                   &j->ew1, &j->eb1, &j->ew2, &j->eb2, &j->tw1,
                                                   &j->tb1, &j->tw2, &j->tb2});
    return 0;
}

static void job_destroy(tdi_cosim_job *j)
{
    for (int r = 0; r < TDI_COSIM_NROW; r++) {
        free(j->rows[r].pred);
        free(j->rows[r].cp);
        free(j->rows[r].cc);
        free(j->rows[r].r2);
    }
    for (int k = 0; k < 3; k++)
        tdi_cosim_out_destroy(&j->outs[k]);
    double *arrays[] = {j->x, j->truth, j->mean_fit, j->gain, j->ew1, j->eb1, j->ew2, j->eb2,
                        j->tw1, j->tb1, j->tw2, j->tb2, j->bsim, j->ibias};
    for (size_t q = 0; q < sizeof arrays / sizeof arrays[0]; q++)
        free(arrays[q]);
    free(j->read);
    tdi_cosim_conv_destroy(&j->adc_ni);
    tdi_cosim_conv_destroy(&j->dac_ni);
    tdi_cosim_circuit_free(j->cc);
    free(j->G_design);
    tdi_cosim_job_mos_free(j);
    tdi_cosim_realised_destroy(j->real);
    free(j->real);
    free(j->teff_psd);
    tdi_cosim_teff_free(j->teff);
    tdi_gen_circuit_free(j->gc);
    tdi_cosim_calib_free(j->cal);
    if (j->have_bundle)
        tdi_gen_bundle_destroy(&j->b);
}

/* ------------------------------------------------------------------ the job */
int tdi_cosim_app_run(const tdi_cosim_cfg *cfg, FILE *rep, tdi_err *err)
{
    return tdi_cosim_app_run_ex(cfg, NULL, NULL, rep, err);
}

static int job_run(tdi_cosim_job *j, tdi_cosim_summary *sum, tdi_err *err)
{
    int rc;
    if ((rc = job_load(j, err)) || (rc = tdi_cosim_chips_check(j, err)) ||
        (rc = tdi_cosim_job_circuit(j, err)) || (rc = tdi_cosim_job_chips_prepare(j, err)))
        return rc;
    if (j->cfg.deck_out) /* benchmark helper: the deck ngspice would run, then stop */
        return tdi_cosim_job_deck(j, err);
    if ((rc = tdi_cosim_job_iface(j, err)) || (rc = tdi_cosim_job_plan(j, err)))
        return rc;
    tdi_cosim_report_head(j);
    if ((rc = tdi_cosim_job_engines(j, err)) || (rc = tdi_cosim_job_metrics(j, err)) ||
        (rc = tdi_cosim_job_readout(j, err)))
        return rc;
    if ((rc = tdi_cosim_job_mos_rows(j, err)))
        return rc;
    tdi_cosim_job_energy(j);
    if ((rc = tdi_cosim_job_calib(j, err)) || (rc = tdi_cosim_job_teff(j, err)) || (rc = tdi_cosim_job_chips(j, err)) ||
        (rc = tdi_cosim_report_write(j, err)))
        return rc;
    if (sum)
        tdi_cosim_report_summary(j, sum);
    tdi_cosim_report_table(j);
    return 0;
}

int tdi_cosim_app_run_ex(const tdi_cosim_cfg *cfg, const tdi_gen_config *gen,
                         tdi_cosim_summary *sum, FILE *rep, tdi_err *err)
{
    tdi_cosim_job *j = calloc(1, sizeof *j);
    if (!j)
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    j->cfg_in = cfg;
    j->cfg = *cfg;
    j->gen = gen;
    j->rep = rep;
    int rc = job_run(j, sum, err);
    job_destroy(j);
    free(j);
    return rc;
}
