/* tdi_cosim_metrics: the job's rows and the read-out error. Rows: each engine's estimate, the
 * bundle's ideal-DAC equilibrium, the digital B^-1 b_dec and the fit-split mean, all times the
 * read-out gain, scored against the U-Net truth by common/tdi_metrics (per tensor and per
 * sample). Read-out error: predicted (OU zero-frequency PSD over the window, or the analog stage's
 * variances, plus the ADC's quantisation; docs/physics.md 5 and 9) and measured (each engine
 * against the analytic one with the same DAC outputs). Non-goals: the metrics' definitions. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>

#include "tdi_cosim_job.h"

/* digital: y = B^-1 b_dec per level (B the level's decoder block), no substrate coupling
 * (docs/paper.md); no row when a B is not PD */
static int digital_row(tdi_cosim_job *j, tdi_cosim_row *row, tdi_err *err)
{
    row->have = 1;
    for (size_t l = 0; l < j->L && row->have; l++) {
        const tdi_bundle_module *md = &j->b.sub.mod[j->L + l];
        size_t D = md->D, c0 = md->off - j->o;
        gsl_matrix *Bm = gsl_matrix_alloc(D, D);
        if (!Bm)
            return tdi_err_set(err, TDI_ENOMEM, "out of memory");
        memcpy(Bm->data, md->A, sizeof(double) * D * D);
        row->have = gsl_linalg_cholesky_decomp1(Bm) == 0;
        for (size_t s = 0; s < j->ns && row->have; s++) {
            gsl_vector_view y = gsl_vector_view_array(row->pred + s * j->D + c0, D);
            memcpy(y.vector.data, j->bsim + s * j->N + md->off, sizeof(double) * D);
            gsl_linalg_cholesky_svx(Bm, &y.vector);
            for (size_t i = 0; i < D; i++)
                y.vector.data[i] *= j->gain[c0 + i];
        }
        gsl_matrix_free(Bm);
    }
    return 0;
}

/* several levels: each row's metrics over each level's read-out columns */
static int level_metrics(tdi_cosim_job *j, tdi_err *err)
{
    size_t Dt = j->D, ns = j->ns;
    double *p = malloc(sizeof(double) * ns * Dt), *t = malloc(sizeof(double) * ns * Dt);
    if (!p || !t) {
        free(p);
        free(t);
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    }
    for (size_t l = 0; l < j->L && j->L > 1; l++) {
        const tdi_bundle_module *md = &j->b.sub.mod[j->L + l];
        size_t D = md->D, c0 = md->off - j->o;
        for (int r = 0; r < TDI_COSIM_NROW; r++) {
            const tdi_cosim_row *row = &j->rows[r];
            if (!row->have)
                continue;
            for (size_t s = 0; s < row->n; s++) {
                memcpy(p + s * D, row->pred + s * Dt + c0, D * sizeof *p);
                memcpy(t + s * D, j->truth + (j->s0 + s) * Dt + c0, D * sizeof *t);
            }
            j->lvm[r][l] = tdi_metrics_eval(p, t, j->mean_fit + c0, row->n, D);
        }
    }
    free(p);
    free(t);
    return 0;
}

/* the rows' predictions: engines (V -> units, times gain), ideal DAC, mean, digital */
static int predictions(tdi_cosim_job *j, tdi_err *err)
{
    size_t D = j->D, ns = j->ns;
    for (int k = 0; k < 3; k++) {
        if (!j->outs[k].est)
            continue;
        j->rows[k].have = 1;
        for (size_t s = 0; s < j->nk[k]; s++)
            for (size_t i = 0; i < D; i++)
                j->rows[k].pred[s * D + i] = j->outs[k].est[s * D + i] / j->ph->Vs * j->gain[i];
    }
    tdi_cosim_row *ideal = &j->rows[TDI_COSIM_ROW_IDEAL], *mean = &j->rows[TDI_COSIM_ROW_MEAN];
    ideal->have = mean->have = 1;
    for (size_t s = 0; s < ns; s++)
        for (size_t i = 0; i < D; i++) {
            ideal->pred[s * D + i] = j->b.analytic[(j->s0 + s) * D + i] * j->gain[i];
            mean->pred[s * D + i] = j->mean_fit[i];
        }
    return digital_row(j, &j->rows[TDI_COSIM_ROW_DIGITAL], err);
}

int tdi_cosim_job_metrics(tdi_cosim_job *j, tdi_err *err)
{
    size_t D = j->D, ns = j->ns;
    for (int r = 0; r < TDI_COSIM_NROW; r++) {
        tdi_cosim_row *row = &j->rows[r];
        row->pred = malloc(sizeof(double) * ns * D);
        row->cp = malloc(sizeof(double) * ns);
        row->cc = malloc(sizeof(double) * ns);
        row->r2 = malloc(sizeof(double) * ns);
        if (!row->pred || !row->cp || !row->cc || !row->r2)
            return tdi_err_set(err, TDI_ENOMEM, "out of memory");
        row->n = r < 3 ? j->nk[r] : ns;
    }
    int rc = predictions(j, err);
    if (rc)
        return rc;
    const double *tr = j->truth + j->s0 * D;
    for (int r = 0; r < TDI_COSIM_NROW; r++) {
        tdi_cosim_row *row = &j->rows[r];
        if (!row->have)
            continue;
        row->m = tdi_metrics_eval(row->pred, tr, j->mean_fit, row->n, D);
        tdi_metrics_rows(row->pred, tr, j->mean_fit, row->n, D, row->cp, row->cc, row->r2);
    }
    return level_metrics(j, err);
}

/* Predicted variance of the stage outputs (mean over units), docs/physics.md 9 (read-out). */
static int stage_predict(const tdi_cosim_circuit *cc, size_t N, size_t D,
                         tdi_cosim_stage_pred *sp, tdi_err *err)
{
    double *vs = malloc(sizeof(double) * D), *vo = malloc(sizeof(double) * D);
    int rc = !vs || !vo ? tdi_err_set(err, TDI_ENOMEM, "out of memory")
                        : tdi_cosim_stage_var(cc, N, vs, vo, err);
    sp->var_sub = sp->var_own = 0;
    for (size_t j = 0; j < D && !rc; j++) {
        sp->var_sub += vs[j] / (double)D;
        sp->var_own += vo[j] / (double)D;
    }
    free(vs);
    free(vo);
    return rc;
}

/* Predicted read-out variance (V^2, mean over decoder units) of the substrate's noise: the
 * analog stage's, else the exact mean of the conv ADC samples (the sde engine's discretisation,
 * when it models the circuit), else the generator's continuous-window formula. */
static int readout_var(tdi_cosim_job *j, const tdi_cosim_sde *ps, double *pred_var, tdi_err *err)
{
    const tdi_gen_phys *ph = j->ph;
    const tdi_gen_circuit *gc = j->gc;
    size_t D = j->D, N = j->N;
    double t_avg = j->tm.t_avg;
    *pred_var = 0;
    if (ph->ro) {
        int rc = stage_predict(j->cc, N, D, &j->sp, err);
        *pred_var = j->sp.var_sub + j->sp.var_own;
        return rc;
    }
    int exact = ps != NULL;
    for (size_t i = j->o; i < j->o + D; i++) {
        double v = 0;
        if (exact && tdi_cosim_sde_mean_var(ps, j->cc, j->conv, j->tm.stride, i, &v, err))
            exact = 0;
        *pred_var += exact ? v : gc->readout_sd[i] * gc->readout_sd[i] * (ph->t_avg / t_avg);
    }
    if (!exact) { /* no sde model: the generator's continuous-window formula */
        *pred_var = 0;
        for (size_t i = j->o; i < j->o + D; i++)
            *pred_var += gc->readout_sd[i] * gc->readout_sd[i] * (ph->t_avg / t_avg);
    }
    tdi_err_clear(err);
    *pred_var /= (double)D;
    return 0;
}

/* rms over units of the std over samples of analytic y, in simulation units */
static double signal_units(const tdi_cosim_job *j)
{
    const double *y = j->outs[0].est;
    size_t D = j->D, ns = j->ns;
    double sig = 0;
    for (size_t i = 0; i < D; i++) {
        double m = 0, q = 0;
        for (size_t s = 0; s < ns; s++)
            m += y[s * D + i];
        m /= (double)ns;
        for (size_t s = 0; s < ns; s++)
            q += (y[s * D + i] - m) * (y[s * D + i] - m);
        sig += q / (double)ns;
    }
    return sqrt(sig / (double)D) / j->ph->Vs;
}

/* measured: each engine against analytic, sde against spice on the samples both ran */
static void readout_measured(tdi_cosim_job *j)
{
    const tdi_cosim_out *o = j->outs;
    size_t D = j->D;
    j->diff_sde_spice = NAN;
    for (int k = 1; k < 3; k++)
        if (o[k].est) {
            double s2 = 0;
            for (size_t q = 0; q < j->nk[k] * D; q++) {
                double d = o[k].est[q] - o[0].est[q];
                s2 += d * d;
            }
            j->meas_rms[k] = sqrt(s2 / (double)(j->nk[k] * D));
        }
    if (o[1].est && o[2].est) {
        double s2 = 0;
        for (size_t q = 0; q < j->nk[2] * D; q++)
            s2 += (o[1].est[q] - o[2].est[q]) * (o[1].est[q] - o[2].est[q]);
        j->diff_sde_spice = sqrt(s2 / (double)(j->nk[2] * D));
    }
}

/* Predicted quantisation variance (V^2, mean over decoder units) of the mean of the conv
 * conversions: dithered by each unit's thermal noise (std sqrt(node_var)), whose correlation
 * between conversions (the sde model's autocovariance at lags of stride ticks) makes successive
 * rounding errors correlated (tdi_gen_quant_var_acf, docs/physics.md 9); without an sde model
 * (analog stage, spice-only circuits) the conversions' dither is taken as independent. */
static int quant_var(tdi_cosim_job *j, const tdi_cosim_sde *ps, double *q_var, tdi_err *err)
{
    const tdi_cosim_cfg *cfg = &j->cfg;
    size_t D = j->D;
    long n = j->conv < 1 ? 1 : j->conv;
    *q_var = 0;
    if (!(j->q_adc > 0))
        return 0;
    if (!cfg->noise || j->ph->ro)
        ps = NULL;
    double *acov = ps ? malloc(sizeof(double) * (size_t)n) : NULL;
    int rc = ps && !acov ? tdi_err_set(err, TDI_ENOMEM, "out of memory") : 0;
    for (size_t i = j->o; i < j->o + D && !rc; i++) {
        double sd = cfg->noise ? sqrt(j->gc->node_var[i]) : 0;
        int corr = acov && tdi_cosim_sde_autocov(ps, j->cc, n, j->tm.stride, i, acov, err) == 0 &&
                   acov[0] > 0;
        for (long k = 1; corr && k < n; k++)
            acov[k] /= acov[0];
        if (corr)
            acov[0] = 1;
        *q_var += tdi_gen_quant_var_acf(j->q_adc, sd, n, corr ? acov : NULL) / (double)D;
    }
    if (!rc)
        tdi_err_clear(err);
    free(acov);
    return rc;
}

/* readout error (V): predicted from the substrate's noise plus the ADC's quantisation noise
   over the conversions averaged (dithered by each unit's thermal noise, correlated between
   conversions: quant_var); measured against analytic with the same DAC outputs */
int tdi_cosim_job_readout(tdi_cosim_job *j, tdi_err *err)
{
    const tdi_cosim_cfg *cfg = &j->cfg;
    j->conv = j->tm.avg_ticks / j->tm.stride;
    double pred_var = 0, q_var = 0;
    /* the sde model (rc units without an analog stage): exact thermal and dither statistics */
    tdi_cosim_sde *ps = !j->ph->ro && tdi_cosim_sde_supports(j->cc)
                            ? tdi_cosim_sde_alloc(j->cc, j->tm.tick, err)
                            : NULL;
    tdi_err_clear(err);
    j->q_adc = cfg->adc_bits > 0 ? 2 * j->adc_fs / ldexp(1.0, (int)cfg->adc_bits) : 0;
    int rc = readout_var(j, ps, &pred_var, err);
    if (!rc)
        rc = quant_var(j, ps, &q_var, err);
    tdi_cosim_sde_free(ps);
    if (rc)
        return rc;
    j->pred_rms = sqrt((cfg->noise ? pred_var : 0) + q_var);
    readout_measured(j);
    j->sig_units = signal_units(j);
    return 0;
}
