/* tdi_sub_fit: the whole tdi-fit run. Reads the fit and test activation bundles, builds the
 * paper's model (Gram couplings, rank-k skip, interface trained on the fit split), evaluates
 * every row of issue 3 on the test split (never the fit split), sweeps the rank for the paper
 * skip (rho_skip) and for the substrate-skip fit (beside the rank-k linear ceiling), prints the
 * tables, and writes <out>/substrate (M of the configured mode) with metrics.json.
 * Invariants: all validation and fitting happen before anything is written; an unstable rank in
 * a sweep is reported, not fatal; only the configured mode's M must be positive definite.
 * Non-goal: choosing hyper-parameters (the config does). */
#include "tdi_cosim.h"
#include "tdi_io.h"
#include "tdi_metrics.h"
#include "tdi_sub.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAPER_FULL 0.9906
#define PAPER_ORACLE 1.0000
#define PAPER_RHO16 0.1274

typedef struct {
    const char *key, *label;
    int stable;
    double lmin;
    tdi_metrics m;
    double paper; /* NAN if the paper reports nothing */
} row;

typedef struct {
    long k;
    int stable;
    double lmin, rho;
    tdi_metrics full; /* full pipeline with this k's paper coupling */
} rho_row;

typedef struct {
    long k;
    int stable;
    double lmin, gain, sigma_max, exact_err;
    int clipped;
    tdi_metrics sub, ceil, bott, proj;
    size_t proj_rank;
    double proj_err; /* max |y(b_enc = A R R^T x) - y(b_enc = A x)| (times gain) */
} skip_row;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void json_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.10g", v);
    else
        fputs("null", f);
}

static void json_metrics(FILE *f, const tdi_metrics *m)
{
    fputs("{\"cos_paper\": ", f);
    json_num(f, m->cos_paper);
    fputs(", \"cos_centered\": ", f);
    json_num(f, m->cos_centered);
    fputs(", \"r2\": ", f);
    json_num(f, m->r2);
    fputs("}", f);
}

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

/* y = eq(M, benc, bdec) with a fresh factorisation; returns 0 or the PD error */
static int solve_with(const double *M, size_t D, const char *what, const double *benc,
                      const double *bdec, size_t n, double *y, double *lmin, double *lmax,
                      tdi_err *err)
{
    size_t m = 2 * D;
    double *L = malloc(m * m * sizeof *L);
    if (!L)
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    double lm = NAN;
    int rc = tdi_sub_chol(M, m, L, what, lmin != NULL, &lm, err);
    if (lmin)
        *lmin = lm;
    if (!rc && lmax) {
        double *ev = malloc(m * sizeof *ev);
        if (!ev || tdi_sub_eig_sym(M, m, ev, NULL, err))
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

static void print_row(FILE *o, const row *r)
{
    if (!o)
        return;
    if (!r->stable) {
        fprintf(o, "  %-52s   unstable: M not positive definite (lambda_min %.4g)\n", r->label,
                r->lmin);
        return;
    }
    fprintf(o, "  %-52s %9.4f %9.4f %9.4f", r->label, r->m.cos_paper, r->m.cos_centered,
            r->m.r2);
    if (isfinite(r->paper))
        fprintf(o, "   %.4f", r->paper);
    fputc('\n', o);
}

static void note_row(FILE *o, const char *label, const tdi_metrics *m)
{
    if (!o)
        return;
    if (!(m->cos_centered > 0.0))
        fprintf(o, "  NOTE: %s does NOT beat the mean baseline on centered cosine "
                "(%.4f <= 0.0000)\n", label, m->cos_centered);
    if (!(m->r2 > 0.0))
        fprintf(o, "  NOTE: %s does NOT beat the mean baseline on R^2 (%.4f <= 0.0000)\n",
                label, m->r2);
}

int tdi_sub_run(const tdi_sub_cfg *cfg, FILE *o, tdi_err *err)
{
    double t0 = now_s();
    tdi_sub_act fit, test;
    tdi_sub_mlp enc, tr;
    tdi_sub_rrr rrr;
    memset(&fit, 0, sizeof fit);
    memset(&test, 0, sizeof test);
    memset(&enc, 0, sizeof enc);
    memset(&tr, 0, sizeof tr);
    memset(&rrr, 0, sizeof rrr);
    int skipmode = strcmp(cfg->mode, "skip") == 0;
    int use_w = strcmp(cfg->couplings, "weights") == 0;
    int projected = strcmp(cfg->skip_encoder, "projected") == 0;
    size_t D = (size_t)cfg->D, k = (size_t)cfg->k;
    char dir[1100], subdir[1100];
    int rc = 0, fail = 0;
    char *json = NULL;
    size_t jsonlen = 0;
    FILE *js = NULL;
    row rows[6];
    rho_row rho[TDI_SUB_MAXRANKS];
    skip_row sk[TDI_SUB_MAXRANKS + 1];
    size_t nrho = 0, nsk = 0;

    if ((size_t)snprintf(subdir, sizeof subdir, "%s/substrate", cfg->out) >= sizeof subdir)
        return tdi_err_set(err, TDI_ECONFIG, "%s: out: path too long (%zu bytes at most)",
                           cfg->path, sizeof subdir - 12);
    if ((rc = tdi_dir_check(subdir, err))) /* refuse a foreign target before fitting */
        return rc;
    snprintf(dir, sizeof dir, "%s/activations-fit", cfg->export_dir);
    rc = tdi_sub_act_read(dir, "train", cfg->n_fit, cfg->t, cfg->pool, cfg->enc, cfg->dec, D,
                          use_w, &fit, err);
    if (rc)
        return rc;
    snprintf(dir, sizeof dir, "%s/activations-test", cfg->export_dir);
    rc = tdi_sub_act_read(dir, "test", cfg->n_test, cfg->t, cfg->pool, cfg->enc, cfg->dec, D, 0,
                          &test, err);
    if (rc) {
        tdi_sub_act_destroy(&fit);
        return rc;
    }
    if (strcmp(fit.ckpt_hash, test.ckpt_hash) != 0) {
        rc = tdi_err_set(err, TDI_EFORMAT, "%s/activations-fit and activations-test come from "
                         "different checkpoints (checkpoint_hash %s vs %s)", cfg->export_dir,
                         fit.ckpt_hash, test.ckpt_hash);
        tdi_sub_act_destroy(&fit);
        tdi_sub_act_destroy(&test);
        return rc;
    }
    size_t nf = fit.n, nt = test.n, dd = D * D, m2 = 4 * dd;

    double *Jenc = xmalloc(dd * 8, &fail), *Jdec = xmalloc(dd * 8, &fail);
    double *A = xmalloc(dd * 8, &fail), *B = xmalloc(dd * 8, &fail);
    double *P = xmalloc(D * D * 8, &fail), *Q = xmalloc(D * D * 8, &fail);
    double *Mp = xmalloc(m2 * 8, &fail), *M0 = xmalloc(m2 * 8, &fail);
    double *Mk = xmalloc(m2 * 8, &fail), *Ms = xmalloc(m2 * 8, &fail);
    double *Ps = xmalloc(D * D * 8, &fail), *Qs = xmalloc(D * D * 8, &fail);
    double *cs = xmalloc(D * 8, &fail), *gains = xmalloc(D * 8, &fail);
    double *Jsk = xmalloc(dd * 8, &fail), *Lk = xmalloc(dd * 8, &fail);
    double *cv = xmalloc(D * 8, &fail), *zero = calloc(D, 8);
    double *mean = calloc(D, 8);
    double *AXf = xmalloc(nf * D * 8, &fail), *BDf = xmalloc(nf * D * 8, &fail);
    double *AXt = xmalloc(nt * D * 8, &fail), *BDt = xmalloc(nt * D * 8, &fail);
    double *benc = xmalloc(nt * D * 8, &fail), *bdec = xmalloc(nt * D * 8, &fail);
    double *y = xmalloc(nt * D * 8, &fail), *y0 = xmalloc(nt * D * 8, &fail);
    double *pred = xmalloc(nt * D * 8, &fail), *yfull = xmalloc(nt * D * 8, &fail);
    double *cmat = xmalloc(nt * D * 8, &fail), *ysk = xmalloc(nt * D * 8, &fail);
    double *W1 = xmalloc(dd * 8, &fail), *W2 = xmalloc(dd * 8, &fail);
    double *tk = xmalloc(nt * D * 8, &fail), *bproj = xmalloc(nt * D * 8, &fail);
    double *bencp = xmalloc(nt * D * 8, &fail);
    size_t rank_b = 0;
    if (fail || !zero || !mean) {
        rc = tdi_err_set(err, TDI_ENOMEM, "tdi-fit: out of memory");
        goto done;
    }

    /* ---- the paper's model */
    for (size_t i = 0; i < nf; i++)
        for (size_t j = 0; j < D; j++)
            mean[j] += fit.d[i * D + j] / (double)nf;
    if (use_w) {
        tdi_sub_gram_weights(fit.Wenc, D, cfg->kT, Jenc);
        tdi_sub_gram_weights(fit.Wdec, D, cfg->kT, Jdec);
    } else {
        tdi_sub_gram_acts(fit.x, nf, D, cfg->kT, Jenc);
        tdi_sub_gram_acts(fit.d, nf, D, cfg->kT, Jdec);
    }
    tdi_sub_diag_block(Jenc, D, cfg->J2, A);
    tdi_sub_diag_block(Jdec, D, cfg->J2, B);
    tdi_sub_assemble(A, B, NULL, NULL, D, 0, M0);
    tdi_sub_gemm(0, 1, nf, D, D, 1.0, fit.x, A, 0.0, AXf); /* A symmetric: rows A x */
    tdi_sub_gemm(0, 1, nf, D, D, 1.0, fit.d, B, 0.0, BDf);
    tdi_sub_gemm(0, 1, nt, D, D, 1.0, test.x, A, 0.0, AXt);
    tdi_sub_gemm(0, 1, nt, D, D, 1.0, test.d, B, 0.0, BDt);

    /* ---- the digital interface, trained on the fit split */
    tdi_sub_train_opts to = {cfg->epochs, cfg->batch, cfg->lr, cfg->weight_decay, 0};
    double enc_loss = NAN, tr_loss = NAN;
    to.seed = (unsigned long)cfg->seed * 2654435761UL + 1;
    if ((rc = tdi_sub_mlp_init(&enc, D, 4, D, 0, to.seed, err)) ||
        (rc = tdi_sub_mlp_train(&enc, fit.x, AXf, nf, &to, &enc_loss, err)))
        goto done;
    to.seed = (unsigned long)cfg->seed * 2654435761UL + 2;
    if ((rc = tdi_sub_mlp_init(&tr, D, 16, D, 1, to.seed, err)) ||
        (rc = tdi_sub_mlp_train(&tr, AXf, BDf, nf, &to, &tr_loss, err)))
        goto done;
    if ((rc = tdi_sub_mlp_forward(&enc, test.x, nt, benc, err)) ||
        (rc = tdi_sub_mlp_forward(&tr, benc, nt, bdec, err)))
        goto done;
    double enc_test = tdi_sub_mlp_mse(&enc, test.x, AXt, nt);
    double tr_test = tdi_sub_mlp_mse(&tr, AXt, BDt, nt);
    double var_enc = centered_var(AXt, nt, D), var_tr = centered_var(BDt, nt, D);
    double t_train = now_s();

    /* ---- paper rows at the configured k */
    double lmin_p = NAN, lmax_p = NAN;
    if ((rc = tdi_sub_paper_skip(Jenc, Jdec, D, k, cfg->kT, cfg->frobenius, P, Q, err)))
        goto done;
    tdi_sub_assemble(A, B, P, Q, D, k, Mp);
    char what[128];
    snprintf(what, sizeof what, "M (paper skip coupling, k = %zu)", k);
    int paper_ok = 1;
    rc = solve_with(Mp, D, what, AXt, BDt, nt, y, &lmin_p, &lmax_p, err);
    if (rc == TDI_ENUM && !skipmode)
        goto done; /* the configured model is indefinite: fatal in paper mode */
    if (rc == TDI_ENUM)
        paper_ok = 0;
    else if (rc)
        goto done;
    rc = 0;
    if ((rc = solve_with(M0, D, "blockdiag(A, B)", AXt, BDt, nt, y0, NULL, NULL, err)))
        goto done;
    memset(rows, 0, sizeof rows);
    rows[0] = (row){"oracle_with_skip", "oracle, with J_skip (as the paper's code)", paper_ok,
                    lmin_p, {0, 0, 0}, PAPER_ORACLE};
    rows[1] = (row){"oracle_without_skip", "oracle, without J_skip", 1, NAN, {0, 0, 0}, NAN};
    rows[2] = (row){"full_pipeline", "full pipeline (enc -> transfer -> substrate)", paper_ok,
                    lmin_p, {0, 0, 0}, PAPER_FULL};
    rows[3] = (row){"skip_only", "skip only (b_enc = A x, b_dec = 0)", paper_ok, lmin_p,
                    {0, 0, 0}, NAN};
    rows[4] = (row){"mean_baseline", "mean baseline (fit-split mean for every sample)", 1, NAN,
                    {0, 0, 0}, NAN};
    rows[5] = (row){"digital_shortcut", "digital shortcut y = B^-1 transfer(enc(x))", 1, NAN,
                    {0, 0, 0}, NAN};
    if (paper_ok)
        rows[0].m = tdi_metrics_eval(y, test.d, mean, nt, D);
    rows[1].m = tdi_metrics_eval(y0, test.d, mean, nt, D);
    if (paper_ok) {
        if ((rc = solve_with(Mp, D, what, benc, bdec, nt, yfull, NULL, NULL, err)))
            goto done;
        rows[2].m = tdi_metrics_eval(yfull, test.d, mean, nt, D);
        if ((rc = solve_with(Mp, D, what, AXt, NULL, nt, pred, NULL, NULL, err)))
            goto done;
        rows[3].m = tdi_metrics_eval(pred, test.d, mean, nt, D);
    }
    for (size_t i = 0; i < nt; i++)
        memcpy(pred + i * D, mean, D * 8);
    rows[4].m = tdi_metrics_eval(pred, test.d, mean, nt, D);
    if ((rc = solve_with(M0, D, "B", benc, bdec, nt, pred, NULL, NULL, err)))
        goto done;
    rows[5].m = tdi_metrics_eval(pred, test.d, mean, nt, D);

    /* ---- rho_skip(k) sweep with the paper's coupling (oracle biases) */
    for (size_t r = 0; r < cfg->n_ranks; r++) {
        size_t kk = (size_t)cfg->ranks[r];
        if (kk > D)
            continue;
        rho_row *h = &rho[nrho++];
        h->k = (long)kk;
        if ((rc = tdi_sub_paper_skip(Jenc, Jdec, D, kk, cfg->kT, cfg->frobenius, Ps, Qs, err)))
            goto done;
        tdi_sub_assemble(A, B, Ps, Qs, D, kk, Mk);
        rc = solve_with(Mk, D, "M", AXt, BDt, nt, pred, &h->lmin, NULL, err);
        if (rc && rc != TDI_ENUM)
            goto done;
        h->stable = rc == 0;
        rc = 0;
        h->rho = h->stable ? tdi_metrics_rho(pred, y0, test.d, nt, D) : NAN;
        if (h->stable) {
            if ((rc = solve_with(Mk, D, "M", benc, bdec, nt, pred, NULL, NULL, err)))
                goto done;
            h->full = tdi_metrics_eval(pred, test.d, mean, nt, D);
        }
    }

    /* ---- substrate-skip sweep: ceiling (rank-k linear map) and the fitted coupling */
    if ((rc = tdi_sub_rrr_fit(fit.x, fit.d, nf, D, D, cfg->ridge, &rrr, err)))
        goto done;
    for (size_t r = 0; r <= cfg->n_ranks; r++) {
        size_t kk = r < cfg->n_ranks ? (size_t)cfg->ranks[r] : k;
        if (kk > D)
            continue;
        int dup = 0;
        for (size_t q = 0; q < nsk; q++)
            dup |= sk[q].k == (long)kk;
        if (dup)
            continue;
        skip_row *s = &sk[nsk++];
        memset(s, 0, sizeof *s);
        s->k = (long)kk;
        tdi_sub_rrr_map(&rrr, kk, Lk);
        /* ceiling: my + L (x - mx) */
        for (size_t i = 0; i < nt; i++)
            for (size_t j = 0; j < D; j++)
                cmat[i * D + j] = test.x[i * D + j] - rrr.mx[j];
        tdi_sub_gemm(0, 1, nt, D, D, 1.0, cmat, Lk, 0.0, pred);
        for (size_t i = 0; i < nt; i++)
            for (size_t j = 0; j < D; j++)
                pred[i * D + j] += rrr.my[j];
        s->ceil = tdi_metrics_eval(pred, test.d, mean, nt, D);
        tdi_sub_skipfit info;
        if ((rc = tdi_sub_skip_fit(A, B, D, Lk, kk, rrr.mx, rrr.my, cfg->pd_margin,
                                   cfg->readout_gain, Ps, Qs, cv, &info, err)))
            goto done;
        s->gain = info.gain;
        s->clipped = info.clipped;
        s->sigma_max = info.sigma_max;
        tdi_sub_assemble(A, B, Ps, Qs, D, kk, Mk);
        for (size_t i = 0; i < nt; i++)
            memcpy(cmat + i * D, cv, D * 8);
        rc = solve_with(Mk, D, "M (substrate-skip)", AXt, cmat, nt, ysk, &s->lmin, NULL, err);
        if (rc && rc != TDI_ENUM)
            goto done;
        s->stable = rc == 0;
        rc = 0;
        if (!s->stable)
            continue;
        double emax = 0.0;
        for (size_t i = 0; i < nt * D; i++) {
            double e = fabs(info.gain * ysk[i] - pred[i]);
            emax = e > emax ? e : emax;
            ysk[i] *= info.gain;
        }
        s->exact_err = emax;
        s->sub = tdi_metrics_eval(ysk, test.d, mean, nt, D);
        if ((rc = solve_with(Mk, D, "M (substrate-skip)", benc, cmat, nt, ysk, NULL, NULL,
                             err)))
            goto done;
        for (size_t i = 0; i < nt * D; i++)
            ysk[i] *= info.gain;
        s->bott = tdi_metrics_eval(ysk, test.d, mean, nt, D);
        /* the 2 D k-weight encoder b_enc = A R R^T x */
        if ((rc = tdi_cosim_skip_encoder(A, Ps, D, kk, W1, W2, &s->proj_rank, err)))
            goto done;
        tdi_sub_gemm(0, 1, nt, kk, D, 1.0, test.x, W1, 0.0, tk);
        tdi_sub_gemm(0, 1, nt, D, kk, 1.0, tk, W2, 0.0, bproj);
        if ((rc = solve_with(Mk, D, "M (substrate-skip)", bproj, cmat, nt, ysk, NULL, NULL,
                             err)))
            goto done;
        double pmax = 0.0;
        for (size_t i = 0; i < nt * D; i++) {
            ysk[i] *= info.gain;
            double e = fabs(ysk[i] - pred[i]);
            pmax = e > pmax ? e : pmax;
        }
        s->proj_err = pmax;
        s->proj = tdi_metrics_eval(ysk, test.d, mean, nt, D);
        if (kk == k) { /* the configured skip model: keep it for the bundle */
            memcpy(bencp, bproj, nt * D * 8);
            rank_b = s->proj_rank;
            memcpy(Ms, Mk, m2 * 8);
            memcpy(cs, cv, D * 8);
            for (size_t j = 0; j < D; j++)
                gains[j] = info.gain;
            if (skipmode) {
                memcpy(P, Ps, D * kk * 8);
                memcpy(Q, Qs, D * kk * 8);
            }
        }
    }
    double t_eval = now_s();

    /* ---- the bundle's model */
    skip_row *cur = NULL;
    for (size_t q = 0; q < nsk; q++)
        if (sk[q].k == (long)k)
            cur = &sk[q];
    const double *Mb = Mp;
    double lmin_b = lmin_p, lmax_b = lmax_p;
    if (skipmode) {
        if (!cur || !cur->stable) {
            rc = tdi_err_set(err, TDI_ENUM, "substrate-skip M at k = %zu is not positive "
                             "definite (smallest eigenvalue %.6g)", k, cur ? cur->lmin : NAN);
            goto done;
        }
        Mb = Ms;
        if ((rc = solve_with(Ms, D, "M (substrate-skip)", AXt, NULL, 0, NULL, &lmin_b, &lmax_b,
                             err)))
            goto done;
        for (size_t i = 0; i < nt; i++)
            memcpy(cmat + i * D, cs, D * 8);
        if ((rc = solve_with(Ms, D, "M (substrate-skip)", projected ? bencp : AXt, cmat, nt,
                             yfull, NULL, NULL, err)))
            goto done;
    }
    tdi_sub_gemm(0, 1, D, D, k, 1.0, P, Q, 0.0, Jsk);

    /* ---- report */
    size_t ew = tdi_sub_mlp_nweights(&enc), ep = tdi_sub_mlp_nparams(&enc);
    size_t tw = tdi_sub_mlp_nweights(&tr), tp = tdi_sub_mlp_nparams(&tr);
    if (o) {
        fprintf(o, "tdi-fit: preset %s, mode %s, pair %s/%s, D = %zu, k = %zu, J2 = %g, kT = %g,"
                " couplings from %s, Frobenius normalisation %s\n", cfg->name, cfg->mode,
                cfg->enc, cfg->dec, D, k, cfg->J2, cfg->kT, cfg->couplings,
                cfg->frobenius ? "on" : "off");
        fprintf(o, "bundles: %s/activations-{fit,test}: n_fit = %zu, n_test = %zu, t = %ld, "
                "layer widths %s %zu, %s %zu\n", cfg->export_dir, nf, nt, fit.t, cfg->enc,
                fit.enc_cols, cfg->dec, fit.dec_cols);
        fprintf(o, "interface: bottleneck encoder %zu->4->%zu (linear): %zu weights (%zu with "
                "biases); transfer %zu->16->SiLU->%zu: %zu weights (%zu with biases)\n", D, D,
                ew, ep, D, D, tw, tp);
        fprintf(o, "interface total: %zu weights (%zu with biases); paper: 2560 weights at "
                "D = 64\n", ew + tw, ep + tp);
        fprintf(o, "interface MSE: encoder fit %.4g test %.4g (%.4f of the target's variance); "
                "transfer (on A x) fit %.4g test %.4g (%.4f); %ld epochs, batch %ld, Adam lr %g,"
                " weight decay %g\n", enc_loss, enc_test, enc_test / var_enc, tr_loss, tr_test,
                tr_test / var_tr, cfg->epochs, cfg->batch, cfg->lr, cfg->weight_decay);
        fprintf(o, "M (paper skip, k = %zu): lambda_min %.6g, lambda_max %.6g\n\n", k, lmin_p,
                lmax_p);
        fprintf(o, "Paper-model rows (test split, n = %zu; centring and R^2 about the fit-split "
                "mean)\n", nt);
        fprintf(o, "  %-52s %9s %9s %9s   %s\n", "row", "paper cos", "centered", "R^2",
                "paper reports");
        for (int i = 0; i < 6; i++)
            print_row(o, &rows[i]);
        for (int i = 0; i < 6; i++)
            if (rows[i].stable && strcmp(rows[i].key, "mean_baseline") != 0)
                note_row(o, rows[i].label, &rows[i].m);
        fprintf(o, "\nDecoder shift rho_skip(k) = mean |y*(J_skip) - y*(no skip)| / |d| "
                "(oracle biases, paper J_skip; the paper reports %.2f%% at k = 16)\n",
                100.0 * PAPER_RHO16);
        fprintf(o, "  %4s %10s %14s | %-26s |  %s\n", "k", "rho", "lambda_min(M)",
                "full pipeline: pcos ccos R^2", "paper reports");
        for (size_t q = 0; q < nrho; q++) {
            if (rho[q].stable)
                fprintf(o, "  %4ld %9.2f%% %14.6g | %8.4f %8.4f %8.4f |", rho[q].k,
                        100.0 * rho[q].rho, rho[q].lmin, rho[q].full.cos_paper,
                        rho[q].full.cos_centered, rho[q].full.r2);
            else
                fprintf(o, "  %4ld   unstable %14.6g", rho[q].k, rho[q].lmin);
            if (rho[q].k == 16)
                fprintf(o, "   %.2f%%", 100.0 * PAPER_RHO16);
            fputc('\n', o);
        }
        fprintf(o, "\nSubstrate-skip (b_enc = A x, static b_dec = c, signal only through the "
                "rank-k J_skip; pd_margin %g, read-out gain %s) beside the best rank-k linear "
                "map of d on x (ceiling)\n", cfg->pd_margin, cfg->readout_gain ? "allowed" :
                "off");
        fprintf(o, "  %4s %12s %8s | %-26s | %-26s | %-17s | %-17s | %s\n", "k",
                "lambda_min(M)", "gain", "substrate: pcos ccos R^2", "ceiling: pcos ccos R^2",
                "2Dk enc: ccos R^2", "trained enc (4)", "max|sub-ceil|");
        for (size_t q = 0; q < nsk; q++) {
            const skip_row *s = &sk[q];
            if (!s->stable) {
                fprintf(o, "  %4ld %12.6g   unstable (M not positive definite)\n", s->k,
                        s->lmin);
                continue;
            }
            fprintf(o, "  %4ld %12.6g %8.4g | %8.4f %8.4f %8.4f | %8.4f %8.4f %8.4f | "
                    "%8.4f %8.4f | %8.4f %8.4f | %.3g%s\n", s->k, s->lmin, s->gain,
                    s->sub.cos_paper, s->sub.cos_centered, s->sub.r2, s->ceil.cos_paper,
                    s->ceil.cos_centered, s->ceil.r2, s->proj.cos_centered, s->proj.r2,
                    s->bott.cos_centered, s->bott.r2, fmax(s->exact_err, s->proj_err),
                    s->clipped ? " (clipped)" : "");
        }
        for (size_t q = 0; q < nsk; q++) {
            char lab[96];
            snprintf(lab, sizeof lab, "substrate-skip at k = %ld", sk[q].k);
            if (sk[q].stable)
                note_row(o, lab, &sk[q].sub);
            snprintf(lab, sizeof lab, "substrate-skip with the trained 4-unit encoder at k = %ld",
                     sk[q].k);
            if (sk[q].stable)
                note_row(o, lab, &sk[q].bott);
        }
        fprintf(o, "  (2Dk enc: b_enc = A R R^T x, R = basis of span(P): 2 D k MACs, same decoder "
                "equilibrium as A x; trained enc (4): the paper's bottleneck encoder)\n");
        fprintf(o, "\nDigital budget per input: paper mode: interface %zu weights = %zu MACs "
                "(+ %zu bias adds); substrate-skip at k = %zu: b_enc = A x is %zu MACs, or %zu "
                "with the 2Dk encoder (rank %zu); b_dec static; read-out gain %zu multiplies; "
                "bundle b_enc: %s\n", ew + tw, ew + tw, ep + tp - ew - tw, k, D * D,
                2 * D * rank_b, rank_b, D, projected ? "2Dk encoder" : "A x");
        fprintf(o, "time: load + interface training %.2f s, evaluation and sweeps %.2f s, "
                "total fit + evaluation %.2f s\n", t_train - t0, t_eval - t_train,
                t_eval - t0);
    }

    /* ---- metrics.json */
    js = open_memstream(&json, &jsonlen);
    if (!js) {
        rc = tdi_err_set(err, TDI_ENOMEM, "metrics.json: out of memory");
        goto done;
    }
    fprintf(js, "{\n  \"preset\": \"%s\", \"mode\": \"%s\", \"pair\": [\"%s\", \"%s\"], "
            "\"D\": %zu, \"k\": %zu,\n  \"n_fit\": %zu, \"n_test\": %zu, \"couplings\": "
            "\"%s\", \"frobenius\": %s,\n", cfg->name, cfg->mode, cfg->enc, cfg->dec, D, k,
            nf, nt, cfg->couplings, cfg->frobenius ? "true" : "false");
    fprintf(js, "  \"params\": {\"enc_weights\": %zu, \"enc_params\": %zu, \"tr_weights\": %zu, "
            "\"tr_params\": %zu, \"total_weights\": %zu, \"total_params\": %zu},\n", ew, ep, tw,
            tp, ew + tw, ep + tp);
    fputs("  \"interface_mse\": {\"enc_fit\": ", js);
    json_num(js, enc_loss);
    fputs(", \"enc_test\": ", js);
    json_num(js, enc_test);
    fputs(", \"tr_fit\": ", js);
    json_num(js, tr_loss);
    fputs(", \"tr_test\": ", js);
    json_num(js, tr_test);
    fputs("},\n  \"paper_reported\": {\"full_pipeline\": 0.9906, \"oracle\": 1.0, "
          "\"rho_k16\": 0.1274},\n  \"paper_rows\": {\n", js);
    for (int i = 0; i < 6; i++) {
        fprintf(js, "    \"%s\": {\"stable\": %s, \"metrics\": ", rows[i].key,
                rows[i].stable ? "true" : "false");
        if (rows[i].stable)
            json_metrics(js, &rows[i].m);
        else
            fputs("null", js);
        fprintf(js, "}%s\n", i < 5 ? "," : "");
    }
    fputs("  },\n  \"rho_skip\": [\n", js);
    for (size_t q = 0; q < nrho; q++) {
        fprintf(js, "    {\"k\": %ld, \"stable\": %s, \"lambda_min\": ", rho[q].k,
                rho[q].stable ? "true" : "false");
        json_num(js, rho[q].lmin);
        fputs(", \"rho\": ", js);
        json_num(js, rho[q].rho);
        fputs(", \"full_pipeline\": ", js);
        if (rho[q].stable)
            json_metrics(js, &rho[q].full);
        else
            fputs("null", js);
        fprintf(js, "}%s\n", q + 1 < nrho ? "," : "");
    }
    fprintf(js, "  ],\n  \"skip_sweep\": {\"pd_margin\": %.10g, \"readout_gain\": %s, \"rows\": "
            "[\n", cfg->pd_margin, cfg->readout_gain ? "true" : "false");
    for (size_t q = 0; q < nsk; q++) {
        const skip_row *s = &sk[q];
        fprintf(js, "    {\"k\": %ld, \"stable\": %s, \"lambda_min\": ", s->k,
                s->stable ? "true" : "false");
        json_num(js, s->lmin);
        fputs(", \"gain\": ", js);
        json_num(js, s->gain);
        fprintf(js, ", \"clipped\": %d, \"max_abs_sub_minus_ceiling\": ", s->clipped);
        json_num(js, s->stable ? s->exact_err : NAN);
        fputs(",\n     \"substrate\": ", js);
        if (s->stable)
            json_metrics(js, &s->sub);
        else
            fputs("null", js);
        fputs(", \"ceiling\": ", js);
        json_metrics(js, &s->ceil);
        fputs(", \"bottleneck_benc\": ", js);
        if (s->stable)
            json_metrics(js, &s->bott);
        else
            fputs("null", js);
        fprintf(js, ", \"encoder_2Dk_rank\": %zu, \"encoder_2Dk\": ", s->proj_rank);
        if (s->stable)
            json_metrics(js, &s->proj);
        else
            fputs("null", js);
        fprintf(js, "}%s\n", q + 1 < nsk ? "," : "");
    }
    fprintf(js, "  ]},\n  \"seconds_fit_eval\": %.3f\n}\n", t_eval - t0);
    if (fclose(js)) {
        js = NULL;
        rc = tdi_err_set(err, TDI_ENOMEM, "metrics.json: write failed");
        goto done;
    }
    js = NULL;

    /* ---- the bundle */
    for (size_t i = 0; i < nt; i++)
        memcpy(cmat + i * D, skipmode ? cs : zero, D * 8);
    if (!skipmode)
        for (size_t j = 0; j < D; j++)
            gains[j] = 1.0;
    snprintf(subdir, sizeof subdir, "%s/substrate", cfg->out);
    tdi_sub_bundle bun = {
        .preset = cfg->name, .mode = cfg->mode, .enc = cfg->enc, .dec = cfg->dec,
        .D = D, .k = k, .n = nt, .J2 = cfg->J2, .kT = cfg->kT, .t = fit.t,
        .lambda_min = lmin_b, .lambda_max = lmax_b,
        .fit_hash = fit.hash, .test_hash = test.hash,
        .M = Mb, .A = A, .B = B, .Jenc = Jenc, .Jdec = Jdec, .P = P, .Q = Q, .Jskip = Jsk,
        .x = test.x, .benc = skipmode ? (projected ? bencp : AXt) : benc,
        .bdec = skipmode ? cmat : bdec,
        .c = skipmode ? cs : zero, .gain = gains, .truth = test.d, .mean_fit = mean,
        .analytic = yfull, .enc_net = &enc, .tr_net = &tr, .metrics_json = json,
    };
    rc = tdi_sub_bundle_write(subdir, &bun, err);
    if (!rc && o)
        fprintf(o, "wrote %s (total wall time %.2f s)\n", subdir, now_s() - t0);

done:
    if (js)
        fclose(js);
    free(json);
    tdi_sub_act_destroy(&fit);
    tdi_sub_act_destroy(&test);
    tdi_sub_mlp_destroy(&enc);
    tdi_sub_mlp_destroy(&tr);
    tdi_sub_rrr_destroy(&rrr);
    double *bufs[] = {Jenc, Jdec, A, B, P, Q, Mp, M0, Mk, Ms, Ps, Qs, cs, gains, Jsk, Lk, cv,
                      zero, mean, AXf, BDf, AXt, BDt, benc, bdec, y, y0, pred, yfull, cmat,
                      ysk, W1, W2, tk, bproj, bencp};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
    return rc;
}
