/* tdi_sub_fit: the whole tdi-fit run, stage by stage (the state: tdi_sub_run.h). Reads the fit
 * and test activation bundles, builds the paper's model (Gram couplings, rank-k skip, interface
 * trained on the fit split), evaluates every row of issue 3 on the test split (never the fit
 * split; tdi_sub_eval.c), prints the tables (tdi_sub_report.c), and writes <out>/substrate (M of
 * the configured mode) with metrics.json.
 * Invariants: all validation and fitting happen before anything is written; an unstable rank in
 * a sweep is reported, not fatal; only the configured mode's M must be positive definite.
 * Non-goal: choosing hyper-parameters (the config does). */
#include "tdi_clock.h"
#include "tdi_io.h"
#include "tdi_seed.h"
#include "tdi_sub_run.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* mean over entries of (a - column mean)^2: the MSE of predicting each column's mean */
static double centered_var(const double *a, size_t n, size_t D)
{
    double v = 0.0;
    for (size_t j = 0; j < D; j++) {
        double m = 0.0;
        for (size_t i = 0; i < n; i++)
            m += a[i * D + j];
        m /= (double)n;
        for (size_t i = 0; i < n; i++)
            v += (a[i * D + j] - m) * (a[i * D + j] - m);
    }
    return v / (double)(n * D);
}

static void *xmalloc(size_t n, int *fail)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        *fail = 1;
    return p;
}

int tdi_sub_solve_with(const double *M, size_t D, const char *what, const double *benc,
                       const double *bdec, size_t n, double *y, double *lmin, double *lmax,
                       tdi_err *err)
{
    size_t m = 2 * D;
    double *L = malloc(m * m * sizeof *L);
    if (!L)
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    double lm = NAN;
    int rc = tdi_linalg_chol(M, m, L, what, lmin != NULL, &lm, err);
    if (lmin)
        *lmin = lm;
    if (!rc && lmax) {
        double *ev = malloc(m * sizeof *ev);
        if (!ev || tdi_linalg_eig_sym(M, m, ev, NULL, err))
            *lmax = NAN;
        else
            *lmax = ev[0];
        free(ev);
    }
    if (!rc && n)
        rc = tdi_sub_equilibrium(L, D, benc, bdec, n, y, err);
    free(L);
    return rc;
}

/* Stage 1: refuse a foreign output directory, then read both activation bundles. */
static int run_load(tdi_sub_fitrun *r, tdi_err *err)
{
    const tdi_sub_cfg *cfg = r->cfg;
    char dir[1100], subdir[1100];
    if ((size_t)snprintf(subdir, sizeof subdir, "%s/substrate", cfg->out) >= sizeof subdir)
        return tdi_err_set(err, TDI_ECONFIG, "%s: out: path too long (%zu bytes at most)",
                           cfg->path, sizeof subdir - 12);
    int rc = tdi_dir_check(subdir, err); /* refuse a foreign target before fitting */
    if (rc)
        return rc;
    snprintf(dir, sizeof dir, "%s/activations-fit", cfg->export_dir);
    rc = tdi_sub_act_read(dir, "train", cfg->n_fit, cfg->t, cfg->pool, cfg->enc, cfg->dec, r->D,
                          r->use_w, &r->fit, err);
    if (rc)
        return rc;
    snprintf(dir, sizeof dir, "%s/activations-test", cfg->export_dir);
    rc = tdi_sub_act_read(dir, "test", cfg->n_test, cfg->t, cfg->pool, cfg->enc, cfg->dec, r->D,
                          0, &r->test, err);
    if (rc)
        return rc;
    if (strcmp(r->fit.ckpt_hash, r->test.ckpt_hash) != 0)
        return tdi_err_set(err, TDI_EFORMAT, "%s/activations-fit and activations-test come "
                           "from different checkpoints (checkpoint_hash %s vs %s)",
                           cfg->export_dir, r->fit.ckpt_hash, r->test.ckpt_hash);
    r->nf = r->fit.n;
    r->nt = r->test.n;
    return 0;
}

/* Stage 2: every work array (freed by run_free). */
static int run_alloc(tdi_sub_fitrun *r, tdi_err *err)
{
    size_t D = r->D, dd = D * D, m2 = 4 * dd, nfD = r->nf * D * 8, ntD = r->nt * D * 8;
    int fail = 0;
    r->Jenc = xmalloc(dd * 8, &fail), r->Jdec = xmalloc(dd * 8, &fail);
    r->A = xmalloc(dd * 8, &fail), r->B = xmalloc(dd * 8, &fail);
    r->P = xmalloc(D * D * 8, &fail), r->Q = xmalloc(D * D * 8, &fail);
    r->Mp = xmalloc(m2 * 8, &fail), r->M0 = xmalloc(m2 * 8, &fail);
    r->Mk = xmalloc(m2 * 8, &fail), r->Ms = xmalloc(m2 * 8, &fail);
    r->Ps = xmalloc(D * D * 8, &fail), r->Qs = xmalloc(D * D * 8, &fail);
    r->cs = xmalloc(D * 8, &fail), r->gains = xmalloc(D * 8, &fail);
    r->Jsk = xmalloc(dd * 8, &fail), r->Lk = xmalloc(dd * 8, &fail);
    r->cv = xmalloc(D * 8, &fail), r->zero = calloc(D, 8);
    r->mean = calloc(D, 8);
    r->AXf = xmalloc(nfD, &fail), r->BDf = xmalloc(nfD, &fail);
    r->AXt = xmalloc(ntD, &fail), r->BDt = xmalloc(ntD, &fail);
    r->benc = xmalloc(ntD, &fail), r->bdec = xmalloc(ntD, &fail);
    r->y = xmalloc(ntD, &fail), r->y0 = xmalloc(ntD, &fail);
    r->pred = xmalloc(ntD, &fail), r->yfull = xmalloc(ntD, &fail);
    r->cmat = xmalloc(ntD, &fail), r->ysk = xmalloc(ntD, &fail);
    r->W1 = xmalloc(dd * 8, &fail), r->W2 = xmalloc(dd * 8, &fail);
    r->tk = xmalloc(ntD, &fail), r->bproj = xmalloc(ntD, &fail);
    r->bencp = xmalloc(ntD, &fail);
    if (fail || !r->zero || !r->mean)
        return tdi_err_set(err, TDI_ENOMEM, "tdi-fit: out of memory");
    return 0;
}

static void run_free(tdi_sub_fitrun *r)
{
    free(r->json);
    tdi_sub_act_destroy(&r->fit);
    tdi_sub_act_destroy(&r->test);
    tdi_sub_mlp_destroy(&r->enc);
    tdi_sub_mlp_destroy(&r->tr);
    tdi_sub_rrr_destroy(&r->rrr);
    double *bufs[] = {r->Jenc, r->Jdec, r->A, r->B, r->P, r->Q, r->Mp, r->M0, r->Mk, r->Ms,
                      r->Ps, r->Qs, r->cs, r->gains, r->Jsk, r->Lk, r->cv, r->zero, r->mean,
                      r->AXf, r->BDf, r->AXt, r->BDt, r->benc, r->bdec, r->y, r->y0, r->pred,
                      r->yfull, r->cmat, r->ysk, r->W1, r->W2, r->tk, r->bproj, r->bencp};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
}

/* Stage 3: the paper's model: fit-split mean, Gram couplings, A, B, M0 and the oracle biases. */
static void run_model(tdi_sub_fitrun *r)
{
    const tdi_sub_cfg *cfg = r->cfg;
    size_t D = r->D, nf = r->nf, nt = r->nt;
    for (size_t i = 0; i < nf; i++)
        for (size_t j = 0; j < D; j++)
            r->mean[j] += r->fit.d[i * D + j] / (double)nf;
    if (r->use_w) {
        tdi_sub_gram_weights(r->fit.Wenc, D, cfg->kT, r->Jenc);
        tdi_sub_gram_weights(r->fit.Wdec, D, cfg->kT, r->Jdec);
    } else {
        tdi_sub_gram_acts(r->fit.x, nf, D, cfg->kT, r->Jenc);
        tdi_sub_gram_acts(r->fit.d, nf, D, cfg->kT, r->Jdec);
    }
    tdi_sub_diag_block(r->Jenc, D, cfg->J2, r->A);
    tdi_sub_diag_block(r->Jdec, D, cfg->J2, r->B);
    tdi_sub_assemble(r->A, r->B, NULL, NULL, D, 0, r->M0);
    tdi_sub_gemm(0, 1, nf, D, D, 1.0, r->fit.x, r->A, 0.0, r->AXf); /* A symmetric: rows A x */
    tdi_sub_gemm(0, 1, nf, D, D, 1.0, r->fit.d, r->B, 0.0, r->BDf);
    tdi_sub_gemm(0, 1, nt, D, D, 1.0, r->test.x, r->A, 0.0, r->AXt);
    tdi_sub_gemm(0, 1, nt, D, D, 1.0, r->test.d, r->B, 0.0, r->BDt);
}

/* Stage 4: the digital interface, trained on the fit split; its biases on the test split. */
static int run_interface(tdi_sub_fitrun *r, tdi_err *err)
{
    const tdi_sub_cfg *cfg = r->cfg;
    size_t D = r->D, nf = r->nf, nt = r->nt;
    tdi_sub_train_opts to = {cfg->epochs, cfg->batch, cfg->lr, cfg->weight_decay, 0,
                             cfg->standardise, cfg->val_frac, cfg->patience};
    int rc;
    to.seed = tdi_seed((uint64_t)cfg->seed, TDI_SEED_FIT_MLP, 1);
    if ((rc = tdi_sub_mlp_init(&r->enc, D, 4, D, 0, to.seed, err)) ||
        (rc = tdi_sub_mlp_train_info(&r->enc, r->fit.x, r->AXf, nf, &to, &r->enc_info, err)))
        return rc;
    to.seed = tdi_seed((uint64_t)cfg->seed, TDI_SEED_FIT_MLP, 2);
    if ((rc = tdi_sub_mlp_init(&r->tr, D, 16, D, 1, to.seed, err)) ||
        (rc = tdi_sub_mlp_train_info(&r->tr, r->AXf, r->BDf, nf, &to, &r->tr_info, err)))
        return rc;
    r->enc_loss = r->enc_info.loss;
    r->tr_loss = r->tr_info.loss;
    if ((rc = tdi_sub_mlp_forward(&r->enc, r->test.x, nt, r->benc, err)) ||
        (rc = tdi_sub_mlp_forward(&r->tr, r->benc, nt, r->bdec, err)))
        return rc;
    r->enc_test = tdi_sub_mlp_mse(&r->enc, r->test.x, r->AXt, nt);
    r->tr_test = tdi_sub_mlp_mse(&r->tr, r->AXt, r->BDt, nt);
    r->var_enc = centered_var(r->AXt, nt, D);
    r->var_tr = centered_var(r->BDt, nt, D);
    return 0;
}

/* Last stage: <out>/substrate with the configured mode's model and metrics.json. */
static int run_write_bundle(tdi_sub_fitrun *r, FILE *o, tdi_err *err)
{
    const tdi_sub_cfg *cfg = r->cfg;
    size_t D = r->D, nt = r->nt;
    int skipmode = r->skipmode, projected = r->projected;
    for (size_t i = 0; i < nt; i++)
        memcpy(r->cmat + i * D, skipmode ? r->cs : r->zero, D * 8);
    if (!skipmode)
        for (size_t j = 0; j < D; j++)
            r->gains[j] = 1.0;
    char subdir[1100];
    snprintf(subdir, sizeof subdir, "%s/substrate", cfg->out);
    tdi_sub_bundle bun = {
        .preset = cfg->name, .mode = cfg->mode, .enc = cfg->enc, .dec = cfg->dec,
        .D = D, .k = r->k, .n = nt, .J2 = cfg->J2, .kT = cfg->kT, .t = r->fit.t,
        .lambda_min = r->lmin_b, .lambda_max = r->lmax_b,
        .fit_hash = r->fit.hash, .test_hash = r->test.hash,
        .M = r->Mb, .A = r->A, .B = r->B, .Jenc = r->Jenc, .Jdec = r->Jdec, .P = r->P,
        .Q = r->Q,
        .x = r->test.x, .benc = skipmode ? (projected ? r->bencp : r->AXt) : r->benc,
        .bdec = skipmode ? r->cmat : r->bdec,
        .c = skipmode ? r->cs : r->zero, .gain = r->gains, .truth = r->test.d,
        .mean_fit = r->mean, .analytic = r->yfull, .enc_net = &r->enc, .tr_net = &r->tr,
        .metrics_json = r->json,
    };
    int rc = tdi_sub_bundle_write(subdir, &bun, err);
    if (!rc && o)
        fprintf(o, "wrote %s (total wall time %.2f s)\n", subdir,
                tdi_clock_s(CLOCK_MONOTONIC) - r->t0);
    return rc;
}

int tdi_sub_run(const tdi_sub_cfg *cfg, FILE *o, tdi_err *err)
{
    tdi_sub_fitrun r;
    memset(&r, 0, sizeof r);
    r.t0 = tdi_clock_s(CLOCK_MONOTONIC);
    r.cfg = cfg;
    r.D = (size_t)cfg->D;
    r.k = (size_t)cfg->k;
    r.skipmode = strcmp(cfg->mode, "skip") == 0;
    r.use_w = strcmp(cfg->couplings, "weights") == 0;
    r.projected = strcmp(cfg->skip_encoder, "projected") == 0;
    r.enc_loss = r.tr_loss = NAN;
    int rc = run_load(&r, err);
    if (!rc)
        rc = run_alloc(&r, err);
    if (!rc) {
        run_model(&r);
        rc = run_interface(&r, err);
    }
    r.t_train = tdi_clock_s(CLOCK_MONOTONIC);
    if (!rc)
        rc = tdi_sub_eval_paper(&r, err);
    if (!rc)
        rc = tdi_sub_eval_rho(&r, err);
    if (!rc)
        rc = tdi_sub_eval_skip(&r, err);
    r.t_eval = tdi_clock_s(CLOCK_MONOTONIC);
    if (!rc)
        rc = tdi_sub_eval_bundle_model(&r, err);
    if (!rc) {
        tdi_sub_report_text(&r, o);
        rc = tdi_sub_report_json(&r, err);
    }
    if (!rc)
        rc = run_write_bundle(&r, o, err);
    run_free(&r);
    return rc;
}
