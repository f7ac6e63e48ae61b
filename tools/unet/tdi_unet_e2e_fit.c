/* tdi_unet_e2e_fit: one skip level's substrate (see tdi_unet_e2e.h): channel PCA, the skip-mode
 * coupling that realises U_k U_k^T, its analytic equilibrium map, the bundle, the circuit (wire
 * report, operating point) and the predicted read-out noise per channel, evaluated with the
 * formula the operating-point chooser uses (docs/operating-point.md), so its rms over the units
 * equals the chooser's noise (checked on every fit). Non-goals: the U-Net passes. */
#include "tdi_unet_e2e.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_bundle.h"
#include "tdi_cosim.h"
#include "tdi_gen.h"
#include "tdi_linalg.h"
#include "tdi_sub.h"

#define E2E_NSD 6.0 /* thermal std in the ADC full scale (tdi_gen_op.c, OP_NSD) */
#define E2E_FS 1.1  /* ADC full-scale margin (tdi_gen_op.c, OP_FS) */

int tdi_unet_e2e_pca(const double *X, size_t n, size_t C, double *mean, double *U, double *ev,
                     tdi_err *err)
{
    double *S = calloc(C * C, sizeof *S), *Xc = malloc(n * C * sizeof *Xc);
    if (!S || !Xc) {
        free(S);
        free(Xc);
        return tdi_err_set(err, TDI_ENOMEM, "e2e PCA: out of memory");
    }
    for (size_t j = 0; j < C; j++)
        mean[j] = 0.0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < C; j++)
            mean[j] += X[i * C + j] / (double)n;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < C; j++)
            Xc[i * C + j] = X[i * C + j] - mean[j];
    tdi_sub_gemm(1, 0, C, C, n, 1.0 / (double)n, Xc, Xc, 0.0, S);
    int rc = tdi_linalg_eig_sym(S, C, ev, U, err);
    free(S);
    free(Xc);
    return rc;
}

void tdi_unet_e2e_ceiling(const double *U, size_t C, size_t k, double *Rpca)
{
    for (size_t i = 0; i < C; i++)
        for (size_t j = 0; j < C; j++) {
            double s = 0.0;
            for (size_t q = 0; q < k && q < C; q++)
                s += U[i * C + q] * U[j * C + q];
            Rpca[i * C + j] = s;
        }
}

void tdi_unet_e2e_sub_destroy(tdi_unet_e2e_sub *s)
{
    if (!s)
        return;
    free(s->R);
    free(s->noise_sd);
    s->R = s->noise_sd = NULL;
}

/* The fit's arrays (one allocation each, freed together). */
typedef struct e2e_fit {
    size_t C, k, nb, N;
    double *P, *Q, *c, *M, *L, *Rpca, *J, *benc, *bdec, *analytic, *gain, *Z;
} e2e_fit;

static void fit_free(e2e_fit *f)
{
    double *a[] = {f->P, f->Q, f->c, f->M, f->L, f->Rpca, f->J, f->benc, f->bdec, f->analytic,
                   f->gain, f->Z};
    for (size_t i = 0; i < sizeof a / sizeof a[0]; i++)
        free(a[i]);
}

static int fit_alloc(e2e_fit *f, size_t C, size_t k, size_t nb, tdi_err *err)
{
    memset(f, 0, sizeof *f);
    f->C = C;
    f->k = k;
    f->nb = nb;
    f->N = 2 * C;
    const size_t N = f->N;
    f->P = malloc(C * k * sizeof *f->P);
    f->Q = malloc(C * k * sizeof *f->Q);
    f->c = malloc(C * sizeof *f->c);
    f->M = malloc(N * N * sizeof *f->M);
    f->L = malloc(N * N * sizeof *f->L);
    f->Rpca = malloc(C * C * sizeof *f->Rpca);
    f->J = malloc(C * C * sizeof *f->J);
    f->benc = malloc(nb * C * sizeof *f->benc);
    f->bdec = malloc(nb * C * sizeof *f->bdec);
    f->analytic = malloc(nb * C * sizeof *f->analytic);
    f->gain = malloc(C * sizeof *f->gain);
    f->Z = malloc((C + nb + 1) * N * sizeof *f->Z);
    if (!f->P || !f->Q || !f->c || !f->M || !f->L || !f->Rpca || !f->J || !f->benc ||
        !f->bdec || !f->analytic || !f->gain || !f->Z) {
        fit_free(f);
        return tdi_err_set(err, TDI_ENOMEM, "e2e substrate: out of memory");
    }
    return 0;
}

/* Stage 1: coupling, M, its factor; J (kept for the bundle) from A = 2 J2 I + J + J^T. */
static int fit_coupling(const tdi_unet_e2e_level *lv, double J2, double pd_margin, e2e_fit *f,
                        tdi_unet_e2e_sub *s, tdi_err *err)
{
    const size_t C = f->C;
    tdi_unet_e2e_ceiling(lv->U, C, f->k, f->Rpca);
    tdi_sub_skipfit info;
    int rc = tdi_sub_skip_fit(lv->A, lv->A, C, f->Rpca, f->k, lv->mean, lv->mean, pd_margin, 1,
                              f->P, f->Q, f->c, &info, err);
    if (rc)
        return rc;
    s->gain = info.gain;
    for (size_t j = 0; j < C; j++)
        f->gain[j] = info.gain;
    for (size_t i = 0; i < C; i++)
        for (size_t j = 0; j < C; j++)
            f->J[i * C + j] = 0.5 * (lv->A[i * C + j] - (i == j ? 2.0 * J2 : 0.0));
    tdi_sub_assemble(lv->A, lv->A, f->P, f->Q, C, f->k, f->M);
    return tdi_linalg_chol(f->M, f->N, f->L, "M (e2e substrate)", 0, NULL, err);
}

/* Stage 2: R = g d(y*)/dx column by column (rows [A e_j; 0] of the solve), the offset at the
 * mean, and the bundle samples' biases and equilibria. */
static void fit_equilibrium(const tdi_unet_e2e_level *lv, e2e_fit *f, tdi_unet_e2e_sub *s)
{
    const size_t C = f->C, N = f->N, nb = f->nb;
    double *Z = f->Z;
    memset(Z, 0, (C + nb + 1) * N * sizeof *Z);
    for (size_t j = 0; j < C; j++)
        memcpy(Z + j * N, lv->A + j * C, C * sizeof *Z); /* A symmetric: column j = row j */
    tdi_sub_gemm(0, 1, nb, C, C, 1.0, lv->Xb, lv->A, 0.0, f->benc);
    for (size_t i = 0; i < nb; i++) {
        memcpy(Z + (C + i) * N, f->benc + i * C, C * sizeof *Z);
        memcpy(Z + (C + i) * N + C, f->c, C * sizeof *Z);
        memcpy(f->bdec + i * C, f->c, C * sizeof *Z);
    }
    double *z0 = Z + (C + nb) * N;
    tdi_sub_gemm(0, 0, 1, C, C, 1.0, lv->mean, lv->A, 0.0, z0);
    memcpy(z0 + C, f->c, C * sizeof *z0);
    tdi_linalg_chol_solve_rows(f->L, N, Z, C + nb + 1);
    s->r_err = s->off_err = 0.0;
    for (size_t i = 0; i < C; i++)
        for (size_t j = 0; j < C; j++) {
            s->R[i * C + j] = s->gain * Z[j * N + C + i];
            s->r_err = fmax(s->r_err, fabs(s->R[i * C + j] - f->Rpca[i * C + j]));
        }
    for (size_t i = 0; i < C; i++)
        s->off_err = fmax(s->off_err, fabs(s->gain * z0[C + i] - lv->mean[i]));
    for (size_t i = 0; i < nb; i++)
        memcpy(f->analytic + i * C, Z + (C + i) * N + C, C * sizeof *Z);
}

/* Stage 3: the two-module skip-mode bundle (modules enc/dec standing for the same layer). */
static int fit_write_bundle(const tdi_unet_e2e_level *lv, const char *preset, double J2,
                            double kT, const e2e_fit *f, const char *dir, tdi_err *err)
{
    tdi_bundle m;
    memset(&m, 0, sizeof m);
    snprintf(m.preset, sizeof m.preset, "%s", preset);
    snprintf(m.mode, sizeof m.mode, "skip");
    m.n_mod = 2;
    m.n_cpl = 1;
    m.n = f->nb;
    double *bias[2] = {f->benc, f->bdec};
    for (int i = 0; i < 2; i++) {
        tdi_bundle_module *md = &m.mod[i];
        snprintf(md->name, sizeof md->name, "%s", i ? "dec" : "enc");
        snprintf(md->layer, sizeof md->layer, "%s", lv->layer);
        md->D = f->C;
        md->readout = i == 1;
        md->J = f->J;
        md->A = (double *)lv->A;
        md->bias = bias[i];
    }
    m.cpl[0] = (tdi_bundle_coupling){0, 1, 0, f->k, f->P, f->Q, NULL};
    m.M = f->M;
    m.analytic = f->analytic;
    m.c = f->c;
    m.x = (double *)lv->Xb;
    m.x_cols = f->C;
    m.truth = (double *)lv->Xb; /* the read-out estimates the skip vector itself */
    m.mean_fit = (double *)lv->mean;
    m.gain = f->gain;
    m.J2 = J2;
    m.kT = kT;
    m.t = 0; /* skip vectors of t drawn per image (docs/e2e.md) */
    snprintf(m.fit_hash, sizeof m.fit_hash, "none");
    snprintf(m.test_hash, sizeof m.test_hash, "none");
    m.seed = m.intra_rank = -1;
    m.metrics_json = "{}\n";
    int rc = tdi_bundle_layout(&m, dir, err);
    return rc ? rc : tdi_bundle_write(dir, &m, err);
}

/* Unit j's thermal statistics in the modes (mu, V: M's eigenpairs, N units; decoder unit C + j):
 * sd1 the stationary std at theta = 1, g2 the variance factor of the n-conversion mean, rho (n)
 * the autocorrelation at lags of k conversions (spacing / tau per lag). */
static void unit_stats(const double *mu, const double *V, size_t N, size_t row, long n,
                       double lag, double *sd1, double *g2, double *rho)
{
    double a1 = 0.0, a2 = 0.0;
    for (long k = 0; k < n; k++)
        rho[k] = 0.0;
    for (size_t m = 0; m < N; m++) {
        const double w = V[row * N + m] * V[row * N + m] / mu[m];
        a1 += w;
        a2 += w * tdi_gen_ar1_mean_factor(n, exp(-mu[m] * lag));
        for (long k = 0; k < n; k++)
            rho[k] += w * exp(-mu[m] * lag * (double)k);
    }
    for (long k = 0; k < n; k++)
        rho[k] /= a1;
    *sd1 = sqrt(a1);
    *g2 = a2;
}

/* Stage 4: per decoder unit j, the chooser's noise model at its point (rc units):
 * theta sum_m V_jm^2 / mu_m F(n, e^(-mu_m spacing / tau)) + the ADC's quantisation of the n
 * conversions, dithered by noise of std sqrt(theta) sd1_j that is correlated between them
 * (tdi_gen_quant_var_acf; the chooser's own Q(q, sqrt(theta) sd1_j, n) takes the conversions'
 * dither as independent: noise_rms_ind, which equals the operating point's noise). */
static int fit_noise(const e2e_fit *f, const tdi_gen_circuit *gc, tdi_unet_e2e_sub *s,
                     tdi_err *err)
{
    const size_t C = f->C, N = f->N;
    const tdi_gen_op *op = &gc->op;
    const long n = op->n_conv < 1 ? 1 : op->n_conv;
    double *mu = malloc(N * sizeof *mu), *V = malloc(N * N * sizeof *V);
    double *sd1 = malloc(C * sizeof *sd1), *g2 = malloc(C * sizeof *g2);
    double *rho = malloc(C * (size_t)n * sizeof *rho);
    int rc = (!mu || !V || !sd1 || !g2 || !rho)
                 ? tdi_err_set(err, TDI_ENOMEM, "e2e noise: out of memory")
                 : tdi_linalg_eig_sym(f->M, N, mu, V, err);
    const double tau = gc->phys.tau, th = op->theta;
    double sd1_dec = 0.0, y_max = 0.0, acc = 0.0, acc_ind = 0.0;
    for (size_t j = 0; !rc && j < C; j++) {
        unit_stats(mu, V, N, C + j, n, op->spacing / tau, &sd1[j], &g2[j], rho + j * (size_t)n);
        sd1_dec = fmax(sd1_dec, sd1[j]);
    }
    for (size_t q = 0; !rc && q < f->nb * C; q++)
        y_max = fmax(y_max, fabs(f->analytic[q]));
    const double fs = E2E_FS * (y_max + E2E_NSD * sqrt(th) * sd1_dec);
    const double qstep = 2.0 * fs / ldexp(1.0, (int)op->bits);
    for (size_t j = 0; !rc && j < C; j++) {
        const double sd = sqrt(th) * sd1[j];
        const double n2 = th * g2[j] + tdi_gen_quant_var_acf(qstep, sd, n, rho + j * (size_t)n);
        s->noise_sd[j] = s->gain * sqrt(n2);
        acc += n2 / (double)C;
        acc_ind += (th * g2[j] + tdi_gen_quant_var(qstep, sd, op->n_conv)) / (double)C;
    }
    s->noise_rms = sqrt(acc);
    s->noise_rms_ind = sqrt(acc_ind);
    free(mu);
    free(V);
    free(sd1);
    free(g2);
    free(rho);
    return rc;
}

/* Stage 5: tdi-gen's circuit of the bundle: wires, operating point, time per inference. */
static int fit_circuit(const char *gen_cfg_path, const char *dir, const e2e_fit *f,
                       tdi_unet_e2e_sub *s, tdi_err *err)
{
    tdi_gen_config gcfg;
    tdi_gen_config_init(&gcfg);
    tdi_gen_bundle gb;
    tdi_gen_circuit *gc = NULL;
    int rc = tdi_gen_config_load(gen_cfg_path, &gcfg, err);
    if (rc)
        return rc;
    if ((rc = tdi_gen_bundle_read(dir, &gb, err)))
        return rc;
    if (!(rc = tdi_gen_circuit_build(&gcfg, &gb, &gc, err))) {
        if (!gc->op.active)
            rc = tdi_err_set(err, TDI_ECONFIG, "%s: circuit.target_noise_ratio must be set: "
                             "the read-out noise comes from the operating point", gen_cfg_path);
    }
    if (!rc) {
        s->wires = gc->total_pairs;
        s->skip_wires = gc->blk[TDI_GEN_BLK_SKIP].wire_pairs;
        s->theta = gc->op.theta;
        s->Vs = gc->op.Vs;
        s->n_conv = gc->op.n_conv;
        s->bits = gc->op.bits;
        s->op_noise = gc->op.noise;
        s->signal = gc->op.signal;
        s->t_inf = gc->phys.t_settle + (double)gc->op.n_conv * gc->op.spacing;
        rc = fit_noise(f, gc, s, err);
    }
    tdi_gen_circuit_free(gc);
    tdi_gen_bundle_destroy(&gb);
    return rc;
}

static int cfg_name(const char *path, char *name, size_t n, tdi_err *err)
{
    tdi_gen_config g;
    tdi_gen_config_init(&g);
    int rc = tdi_gen_config_load(path, &g, err);
    if (!rc)
        snprintf(name, n, "%s", g.name);
    return rc;
}

int tdi_unet_e2e_substrate(const tdi_unet_e2e_level *lv, size_t k, double J2, double kT,
                           double pd_margin, const char *gen_cfg_path, const char *bundle_dir,
                           tdi_unet_e2e_sub *s, tdi_err *err)
{
    memset(s, 0, sizeof *s);
    const size_t C = lv->C;
    s->C = C;
    s->k = k;
    s->R = malloc(C * C * sizeof *s->R);
    s->noise_sd = malloc(C * sizeof *s->noise_sd);
    e2e_fit f;
    char preset[64];
    int rc = (!s->R || !s->noise_sd) ? tdi_err_set(err, TDI_ENOMEM, "e2e: out of memory")
                                     : fit_alloc(&f, C, k, lv->nb, err);
    if (rc) {
        tdi_unet_e2e_sub_destroy(s);
        return rc;
    }
    if (!(rc = fit_coupling(lv, J2, pd_margin, &f, s, err))) {
        fit_equilibrium(lv, &f, s);
        if (!(rc = cfg_name(gen_cfg_path, preset, sizeof preset, err)) &&
            !(rc = fit_write_bundle(lv, preset, J2, kT, &f, bundle_dir, err)))
            rc = fit_circuit(gen_cfg_path, bundle_dir, &f, s, err);
    }
    fit_free(&f);
    if (rc) {
        tdi_err_prefix(err, "e2e substrate %s k = %zu", lv->layer, k);
        tdi_unet_e2e_sub_destroy(s);
    }
    return rc;
}

/* mean and standard error of the per-sample squared read-out error of the rows called `row` of
 * samples.csv (column 6: rms over units of engine - analytic, V); n rows found */
static int engine_read(const char *path, const char *want, double *meas, double *se, long *nrow,
                       tdi_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return tdi_err_set(err, TDI_EIO, "%s: cannot open", path);
    char line[512], row[32];
    double s1 = 0.0, s2 = 0.0, rms;
    size_t n = 0, sample;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "%zu,%31[^,],%*f,%*f,%*f,%lf", &sample, row, &rms) == 3 &&
            strcmp(row, want) == 0) {
            s1 += rms * rms;
            s2 += rms * rms * rms * rms;
            n++;
        }
    fclose(f);
    if (n < 2)
        return tdi_err_set(err, TDI_EFORMAT, "%s: %zu %s rows, need 2 or more", path, n, want);
    *meas = s1 / (double)n;
    *se = sqrt(fmax(s2 / (double)n - *meas * *meas, 0.0) / (double)(n - 1));
    *nrow = (long)n;
    return 0;
}

int tdi_unet_e2e_sde_check(const char *cfg_path, const char *bundle_dir, const char *out_dir,
                           long n, long n_spice, const tdi_unet_e2e_sub *s,
                           tdi_unet_e2e_check *r, tdi_err *err)
{
    tdi_cosim_cfg cc;
    tdi_gen_config gcfg;
    tdi_cosim_cfg_defaults(&cc);
    tdi_gen_config_init(&gcfg);
    memset(r, 0, sizeof *r);
    int rc = tdi_cosim_cfg_load(cfg_path, &cc, err);
    if (!rc)
        rc = tdi_gen_config_load(cfg_path, &gcfg, err);
    if (rc)
        return rc;
    cc.path = cfg_path;
    snprintf(cc.out, sizeof cc.out, "%s", out_dir);
    snprintf(gcfg.bundle, sizeof gcfg.bundle, "%s", bundle_dir);
    cc.n_samples = n;
    cc.first = 0;
    cc.sde = 1;
    cc.spice = n_spice > 0;
    cc.spice_samples = n_spice;
    cc.paper_row = 0;
    cc.progress = 0;
    cc.n_wave_units = 0;
    if ((rc = tdi_cosim_app_run_ex(&cc, &gcfg, NULL, NULL, err)))
        return rc;
    char path[1100];
    snprintf(path, sizeof path, "%s/cosim/samples.csv", out_dir);
    if ((rc = engine_read(path, "sde", &r->sde, &r->sde_se, &r->n_sde, err)))
        return rc;
    if (n_spice > 1 &&
        (rc = engine_read(path, "spice", &r->spice, &r->spice_se, &r->n_spice, err)))
        return rc;
    double acc = 0.0;
    for (size_t j = 0; j < s->C; j++)
        acc += (s->noise_sd[j] / s->gain) * (s->noise_sd[j] / s->gain) / (double)s->C;
    r->model = acc * s->Vs * s->Vs;
    return 0;
}
