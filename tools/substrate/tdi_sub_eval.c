/* tdi_sub_eval: the evaluation stages of a tdi-fit run (state: tdi_sub_run.h), all on the test
 * split: the six paper-model rows at the configured k, the rho_skip(k) sweep with the paper's
 * coupling, the substrate-skip sweep beside the rank-k linear ceiling, and the model the bundle
 * carries. Invariant: an indefinite M in a sweep marks its row unstable; only the configured
 * mode's M is fatal. Non-goal: printing (tdi_sub_report.c). */
#include "tdi_cosim.h"
#include "tdi_sub_run.h"

#include <math.h>
#include <string.h>

int tdi_sub_eval_paper(tdi_sub_fitrun *r, tdi_err *err)
{
    const tdi_sub_cfg *cfg = r->cfg;
    size_t D = r->D, k = r->k, nt = r->nt;
    const double *d = r->test.d, *mean = r->mean;
    int rc;
    r->lmin_p = r->lmax_p = NAN;
    if ((rc = tdi_sub_paper_skip(r->Jenc, r->Jdec, D, k, cfg->kT, cfg->frobenius, r->P, r->Q,
                                 err)))
        return rc;
    tdi_sub_assemble(r->A, r->B, r->P, r->Q, D, k, r->Mp);
    char what[128];
    snprintf(what, sizeof what, "M (paper skip coupling, k = %zu)", k);
    int paper_ok = 1;
    rc = tdi_sub_solve_with(r->Mp, D, what, r->AXt, r->BDt, nt, r->y, &r->lmin_p, &r->lmax_p,
                            err);
    if (rc == TDI_ENUM && !r->skipmode)
        return rc; /* the configured model is indefinite: fatal in paper mode */
    if (rc == TDI_ENUM)
        paper_ok = 0;
    else if (rc)
        return rc;
    if ((rc = tdi_sub_solve_with(r->M0, D, "blockdiag(A, B)", r->AXt, r->BDt, nt, r->y0, NULL,
                                 NULL, err)))
        return rc;
    tdi_sub_row *rows = r->rows;
    memset(r->rows, 0, sizeof r->rows);
    rows[0] = (tdi_sub_row){"oracle_with_skip", "oracle, with J_skip (as the paper's code)",
                            paper_ok, r->lmin_p, {0, 0, 0}, TDI_SUB_PAPER_ORACLE};
    rows[1] = (tdi_sub_row){"oracle_without_skip", "oracle, without J_skip", 1, NAN, {0, 0, 0},
                            NAN};
    rows[2] = (tdi_sub_row){"full_pipeline", "full pipeline (enc -> transfer -> substrate)",
                            paper_ok, r->lmin_p, {0, 0, 0}, TDI_SUB_PAPER_FULL};
    rows[3] = (tdi_sub_row){"skip_only", "skip only (b_enc = A x, b_dec = 0)", paper_ok,
                            r->lmin_p, {0, 0, 0}, NAN};
    rows[4] = (tdi_sub_row){"mean_baseline", "mean baseline (fit-split mean for every sample)",
                            1, NAN, {0, 0, 0}, NAN};
    rows[5] = (tdi_sub_row){"digital_shortcut", "digital shortcut y = B^-1 transfer(enc(x))", 1,
                            NAN, {0, 0, 0}, NAN};
    if (paper_ok)
        rows[0].m = tdi_metrics_eval(r->y, d, mean, nt, D);
    rows[1].m = tdi_metrics_eval(r->y0, d, mean, nt, D);
    if (paper_ok) {
        if ((rc = tdi_sub_solve_with(r->Mp, D, what, r->benc, r->bdec, nt, r->yfull, NULL, NULL,
                                     err)))
            return rc;
        rows[2].m = tdi_metrics_eval(r->yfull, d, mean, nt, D);
        if ((rc = tdi_sub_solve_with(r->Mp, D, what, r->AXt, NULL, nt, r->pred, NULL, NULL,
                                     err)))
            return rc;
        rows[3].m = tdi_metrics_eval(r->pred, d, mean, nt, D);
    }
    for (size_t i = 0; i < nt; i++)
        memcpy(r->pred + i * D, mean, D * 8);
    rows[4].m = tdi_metrics_eval(r->pred, d, mean, nt, D);
    if ((rc = tdi_sub_solve_with(r->M0, D, "B", r->benc, r->bdec, nt, r->pred, NULL, NULL, err)))
        return rc;
    rows[5].m = tdi_metrics_eval(r->pred, d, mean, nt, D);
    return 0;
}

int tdi_sub_eval_rho(tdi_sub_fitrun *r, tdi_err *err)
{
    const tdi_sub_cfg *cfg = r->cfg;
    size_t D = r->D, nt = r->nt;
    for (size_t q = 0; q < cfg->n_ranks; q++) {
        size_t kk = (size_t)cfg->ranks[q];
        if (kk > D)
            continue;
        tdi_sub_rho_row *h = &r->rho[r->nrho++];
        h->k = (long)kk;
        int rc = tdi_sub_paper_skip(r->Jenc, r->Jdec, D, kk, cfg->kT, cfg->frobenius, r->Ps,
                                    r->Qs, err);
        if (rc)
            return rc;
        tdi_sub_assemble(r->A, r->B, r->Ps, r->Qs, D, kk, r->Mk);
        rc = tdi_sub_solve_with(r->Mk, D, "M", r->AXt, r->BDt, nt, r->pred, &h->lmin, NULL, err);
        if (rc && rc != TDI_ENUM)
            return rc;
        h->stable = rc == 0;
        h->rho = h->stable ? tdi_metrics_rho(r->pred, r->y0, r->test.d, nt, D) : NAN;
        if (h->stable) {
            if ((rc = tdi_sub_solve_with(r->Mk, D, "M", r->benc, r->bdec, nt, r->pred, NULL,
                                         NULL, err)))
                return rc;
            h->full = tdi_metrics_eval(r->pred, r->test.d, r->mean, nt, D);
        }
    }
    return 0;
}

/* ceiling of rank kk into r->pred: my + L (x - mx), metrics into s->ceil */
static void skip_ceiling(tdi_sub_fitrun *r, tdi_sub_skip_row *s)
{
    size_t D = r->D, nt = r->nt;
    for (size_t i = 0; i < nt; i++)
        for (size_t j = 0; j < D; j++)
            r->cmat[i * D + j] = r->test.x[i * D + j] - r->rrr.mx[j];
    tdi_sub_gemm(0, 1, nt, D, D, 1.0, r->cmat, r->Lk, 0.0, r->pred);
    for (size_t i = 0; i < nt; i++)
        for (size_t j = 0; j < D; j++)
            r->pred[i * D + j] += r->rrr.my[j];
    s->ceil = tdi_metrics_eval(r->pred, r->test.d, r->mean, nt, D);
}

/* the fitted coupling of rank kk (in Mk, Ps, Qs, cv) on the test split: b_enc = A x, the
 * trained encoder, and the 2 D k-weight encoder b_enc = A R R^T x (left in bproj) */
static int skip_evaluate(tdi_sub_fitrun *r, tdi_sub_skip_row *s, size_t kk, double gain,
                         tdi_err *err)
{
    size_t D = r->D, nt = r->nt;
    for (size_t i = 0; i < nt; i++)
        memcpy(r->cmat + i * D, r->cv, D * 8);
    int rc = tdi_sub_solve_with(r->Mk, D, "M (substrate-skip)", r->AXt, r->cmat, nt, r->ysk,
                                &s->lmin, NULL, err);
    if (rc && rc != TDI_ENUM)
        return rc;
    s->stable = rc == 0;
    if (!s->stable)
        return 0;
    double emax = 0.0;
    for (size_t i = 0; i < nt * D; i++) {
        double e = fabs(gain * r->ysk[i] - r->pred[i]);
        emax = e > emax ? e : emax;
        r->ysk[i] *= gain;
    }
    s->exact_err = emax;
    s->sub = tdi_metrics_eval(r->ysk, r->test.d, r->mean, nt, D);
    if ((rc = tdi_sub_solve_with(r->Mk, D, "M (substrate-skip)", r->benc, r->cmat, nt, r->ysk,
                                 NULL, NULL, err)))
        return rc;
    for (size_t i = 0; i < nt * D; i++)
        r->ysk[i] *= gain;
    s->bott = tdi_metrics_eval(r->ysk, r->test.d, r->mean, nt, D);
    if ((rc = tdi_cosim_skip_encoder(r->A, r->Ps, D, kk, r->W1, r->W2, &s->proj_rank, err)))
        return rc;
    tdi_sub_gemm(0, 1, nt, kk, D, 1.0, r->test.x, r->W1, 0.0, r->tk);
    tdi_sub_gemm(0, 1, nt, D, kk, 1.0, r->tk, r->W2, 0.0, r->bproj);
    if ((rc = tdi_sub_solve_with(r->Mk, D, "M (substrate-skip)", r->bproj, r->cmat, nt, r->ysk,
                                 NULL, NULL, err)))
        return rc;
    double pmax = 0.0;
    for (size_t i = 0; i < nt * D; i++) {
        r->ysk[i] *= gain;
        double e = fabs(r->ysk[i] - r->pred[i]);
        pmax = e > pmax ? e : pmax;
    }
    s->proj_err = pmax;
    s->proj = tdi_metrics_eval(r->ysk, r->test.d, r->mean, nt, D);
    return 0;
}

/* the configured skip model (rank k, stable): kept for the bundle */
static void skip_keep(tdi_sub_fitrun *r, const tdi_sub_skip_row *s, size_t kk, double gain)
{
    size_t D = r->D;
    memcpy(r->bencp, r->bproj, r->nt * D * 8);
    r->rank_b = s->proj_rank;
    memcpy(r->Ms, r->Mk, 4 * D * D * 8);
    memcpy(r->cs, r->cv, D * 8);
    for (size_t j = 0; j < D; j++)
        r->gains[j] = gain;
    if (r->skipmode) {
        memcpy(r->P, r->Ps, D * kk * 8);
        memcpy(r->Q, r->Qs, D * kk * 8);
    }
}

int tdi_sub_eval_skip(tdi_sub_fitrun *r, tdi_err *err)
{
    const tdi_sub_cfg *cfg = r->cfg;
    size_t D = r->D;
    int rc = tdi_sub_rrr_fit(r->fit.x, r->fit.d, r->nf, D, D, cfg->ridge, &r->rrr, err);
    if (rc)
        return rc;
    for (size_t q = 0; q <= cfg->n_ranks; q++) {
        size_t kk = q < cfg->n_ranks ? (size_t)cfg->ranks[q] : r->k;
        if (kk > D)
            continue;
        int dup = 0;
        for (size_t p = 0; p < r->nsk; p++)
            dup |= r->sk[p].k == (long)kk;
        if (dup)
            continue;
        tdi_sub_skip_row *s = &r->sk[r->nsk++];
        memset(s, 0, sizeof *s);
        s->k = (long)kk;
        tdi_sub_rrr_map(&r->rrr, kk, r->Lk);
        skip_ceiling(r, s);
        tdi_sub_skipfit info;
        if ((rc = tdi_sub_skip_fit(r->A, r->B, D, r->Lk, kk, r->rrr.mx, r->rrr.my,
                                   cfg->pd_margin, cfg->readout_gain, r->Ps, r->Qs, r->cv, &info,
                                   err)))
            return rc;
        s->gain = info.gain;
        s->clipped = info.clipped;
        s->sigma_max = info.sigma_max;
        tdi_sub_assemble(r->A, r->B, r->Ps, r->Qs, D, kk, r->Mk);
        if ((rc = skip_evaluate(r, s, kk, info.gain, err)))
            return rc;
        if (s->stable && kk == r->k)
            skip_keep(r, s, kk, info.gain);
    }
    return 0;
}

int tdi_sub_eval_bundle_model(tdi_sub_fitrun *r, tdi_err *err)
{
    size_t D = r->D, k = r->k, nt = r->nt;
    const tdi_sub_skip_row *cur = NULL;
    for (size_t q = 0; q < r->nsk; q++)
        if (r->sk[q].k == (long)k)
            cur = &r->sk[q];
    r->Mb = r->Mp;
    r->lmin_b = r->lmin_p;
    r->lmax_b = r->lmax_p;
    if (r->skipmode) {
        if (!cur || !cur->stable)
            return tdi_err_set(err, TDI_ENUM, "substrate-skip M at k = %zu is not positive "
                               "definite (smallest eigenvalue %.6g)", k, cur ? cur->lmin : NAN);
        r->Mb = r->Ms;
        int rc = tdi_sub_solve_with(r->Ms, D, "M (substrate-skip)", r->AXt, NULL, 0, NULL,
                                    &r->lmin_b, &r->lmax_b, err);
        if (rc)
            return rc;
        for (size_t i = 0; i < nt; i++)
            memcpy(r->cmat + i * D, r->cs, D * 8);
        if ((rc = tdi_sub_solve_with(r->Ms, D, "M (substrate-skip)",
                                     r->projected ? r->bencp : r->AXt, r->cmat, nt, r->yfull,
                                     NULL, NULL, err)))
            return rc;
    }
    tdi_sub_gemm(0, 1, D, D, k, 1.0, r->P, r->Q, 0.0, r->Jsk);
    return 0;
}
