/* tdi_sub_report: the text report and metrics.json of a tdi-fit run (state: tdi_sub_run.h).
 * Invariants: reads the run, never changes a number; metrics.json goes through tdi_json
 * (jansson: 17 significant digits, non-finite numbers null). Non-goal: the bundle
 * (tdi_sub_bundle.c writes metrics.json beside the arrays). */
#include "tdi_sub_run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_json.h"

/* {"cos_paper", "cos_centered", "r2"} as member key of o, or null when the row is unstable */
static int json_metrics(tdi_json *o, const char *key, int stable, const tdi_metrics *m)
{
    const tdi_json_kv kv[] = {TDI_JR("cos_paper", m->cos_paper),
                              TDI_JR("cos_centered", m->cos_centered), TDI_JR("r2", m->r2)};
    const tdi_json_kv none[] = {TDI_JNULL(key)};
    return stable ? tdi_json_set(tdi_json_add_object(o, key), kv, TDI_JSON_N(kv))
                  : tdi_json_set(o, none, 1);
}

static void print_row(FILE *o, const tdi_sub_row *r)
{
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
    if (!(m->cos_centered > 0.0))
        fprintf(o, "  NOTE: %s does NOT beat the mean baseline on centered cosine "
                "(%.4f <= 0.0000)\n", label, m->cos_centered);
    if (!(m->r2 > 0.0))
        fprintf(o, "  NOTE: %s does NOT beat the mean baseline on R^2 (%.4f <= 0.0000)\n",
                label, m->r2);
}

static void report_header(const tdi_sub_fitrun *r, FILE *o)
{
    const tdi_sub_cfg *cfg = r->cfg;
    size_t D = r->D;
    size_t ew = tdi_sub_mlp_nweights(&r->enc), ep = tdi_sub_mlp_nparams(&r->enc);
    size_t tw = tdi_sub_mlp_nweights(&r->tr), tp = tdi_sub_mlp_nparams(&r->tr);
    fprintf(o, "tdi-fit: preset %s, mode %s, pair %s/%s, D = %zu, k = %zu, J2 = %g, kT = %g,"
            " couplings from %s, Frobenius normalisation %s\n", cfg->name, cfg->mode,
            cfg->enc, cfg->dec, D, r->k, cfg->J2, cfg->kT, cfg->couplings,
            cfg->frobenius ? "on" : "off");
    fprintf(o, "bundles: %s/activations-{fit,test}: n_fit = %zu, n_test = %zu, t = %ld, "
            "layer widths %s %zu, %s %zu\n", cfg->export_dir, r->nf, r->nt, r->fit.t, cfg->enc,
            r->fit.enc_cols, cfg->dec, r->fit.dec_cols);
    fprintf(o, "interface: bottleneck encoder %zu->4->%zu (linear): %zu weights (%zu with "
            "biases); transfer %zu->16->SiLU->%zu: %zu weights (%zu with biases)\n", D, D,
            ew, ep, D, D, tw, tp);
    fprintf(o, "interface total: %zu weights (%zu with biases); paper: 2560 weights at "
            "D = 64\n", ew + tw, ep + tp);
    fprintf(o, "interface MSE: encoder fit %.4g test %.4g (%.4f of the target's variance); "
            "transfer (on A x) fit %.4g test %.4g (%.4f); %ld epochs, batch %ld, Adam lr %g,"
            " weight decay %g\n", r->enc_loss, r->enc_test, r->enc_test / r->var_enc,
            r->tr_loss, r->tr_test, r->tr_test / r->var_tr, cfg->epochs, cfg->batch, cfg->lr,
            cfg->weight_decay);
    if (cfg->standardise || r->enc_info.n_val)
        fprintf(o, "interface training: %s, %zu validation rows (last of the fit split), "
                "patience %ld: encoder kept epoch %ld of %ld run, transfer kept epoch %ld of "
                "%ld run\n", cfg->standardise ? "standardised inputs and targets (folded back "
                "into the weights)" : "raw scale", r->enc_info.n_val, cfg->patience,
                r->enc_info.best_epoch, r->enc_info.epochs_run, r->tr_info.best_epoch,
                r->tr_info.epochs_run);
    fprintf(o, "M (paper skip, k = %zu): lambda_min %.6g, lambda_max %.6g\n\n", r->k,
            r->lmin_p, r->lmax_p);
}

static void report_paper_rows(const tdi_sub_fitrun *r, FILE *o)
{
    fprintf(o, "Paper-model rows (test split, n = %zu; centring and R^2 about the fit-split "
            "mean)\n", r->nt);
    fprintf(o, "  %-52s %9s %9s %9s   %s\n", "row", "paper cos", "centered", "R^2",
            "paper reports");
    for (int i = 0; i < 6; i++)
        print_row(o, &r->rows[i]);
    for (int i = 0; i < 6; i++)
        if (r->rows[i].stable && strcmp(r->rows[i].key, "mean_baseline") != 0)
            note_row(o, r->rows[i].label, &r->rows[i].m);
}

static void report_rho(const tdi_sub_fitrun *r, FILE *o)
{
    fprintf(o, "\nDecoder shift rho_skip(k) = mean |y*(J_skip) - y*(no skip)| / |d| "
            "(oracle biases, paper J_skip; the paper reports %.2f%% at k = 16)\n",
            100.0 * TDI_SUB_PAPER_RHO16);
    fprintf(o, "  %4s %10s %14s | %-26s |  %s\n", "k", "rho", "lambda_min(M)",
            "full pipeline: pcos ccos R^2", "paper reports");
    for (size_t q = 0; q < r->nrho; q++) {
        const tdi_sub_rho_row *h = &r->rho[q];
        if (h->stable)
            fprintf(o, "  %4ld %9.2f%% %14.6g | %8.4f %8.4f %8.4f |", h->k, 100.0 * h->rho,
                    h->lmin, h->full.cos_paper, h->full.cos_centered, h->full.r2);
        else
            fprintf(o, "  %4ld   unstable %14.6g", h->k, h->lmin);
        if (h->k == 16)
            fprintf(o, "   %.2f%%", 100.0 * TDI_SUB_PAPER_RHO16);
        fputc('\n', o);
    }
}

static void report_skip(const tdi_sub_fitrun *r, FILE *o)
{
    const tdi_sub_cfg *cfg = r->cfg;
    fprintf(o, "\nSubstrate-skip (b_enc = A x, static b_dec = c, signal only through the "
            "rank-k J_skip; pd_margin %g, read-out gain %s) beside the best rank-k linear "
            "map of d on x (ceiling)\n", cfg->pd_margin, cfg->readout_gain ? "allowed" :
            "off");
    fprintf(o, "  %4s %12s %8s | %-26s | %-26s | %-17s | %-17s | %s\n", "k",
            "lambda_min(M)", "gain", "substrate: pcos ccos R^2", "ceiling: pcos ccos R^2",
            "2Dk enc: ccos R^2", "trained enc (4)", "max|sub-ceil|");
    for (size_t q = 0; q < r->nsk; q++) {
        const tdi_sub_skip_row *s = &r->sk[q];
        if (!s->stable) {
            fprintf(o, "  %4ld %12.6g   unstable (M not positive definite)\n", s->k, s->lmin);
            continue;
        }
        fprintf(o, "  %4ld %12.6g %8.4g | %8.4f %8.4f %8.4f | %8.4f %8.4f %8.4f | "
                "%8.4f %8.4f | %8.4f %8.4f | %.3g%s\n", s->k, s->lmin, s->gain,
                s->sub.cos_paper, s->sub.cos_centered, s->sub.r2, s->ceil.cos_paper,
                s->ceil.cos_centered, s->ceil.r2, s->proj.cos_centered, s->proj.r2,
                s->bott.cos_centered, s->bott.r2, fmax(s->exact_err, s->proj_err),
                s->clipped ? " (clipped)" : "");
    }
    for (size_t q = 0; q < r->nsk; q++) {
        char lab[96];
        snprintf(lab, sizeof lab, "substrate-skip at k = %ld", r->sk[q].k);
        if (r->sk[q].stable)
            note_row(o, lab, &r->sk[q].sub);
        snprintf(lab, sizeof lab, "substrate-skip with the trained 4-unit encoder at k = %ld",
                 r->sk[q].k);
        if (r->sk[q].stable)
            note_row(o, lab, &r->sk[q].bott);
    }
    fprintf(o, "  (2Dk enc: b_enc = A R R^T x, R = basis of span(P): 2 D k MACs, same decoder "
            "equilibrium as A x; trained enc (4): the paper's bottleneck encoder)\n");
}

static void report_budget(const tdi_sub_fitrun *r, FILE *o)
{
    size_t D = r->D;
    size_t ew = tdi_sub_mlp_nweights(&r->enc), ep = tdi_sub_mlp_nparams(&r->enc);
    size_t tw = tdi_sub_mlp_nweights(&r->tr), tp = tdi_sub_mlp_nparams(&r->tr);
    fprintf(o, "\nDigital budget per input: paper mode: interface %zu weights = %zu MACs "
            "(+ %zu bias adds); substrate-skip at k = %zu: b_enc = A x is %zu MACs, or %zu "
            "with the 2Dk encoder (rank %zu); b_dec static; read-out gain %zu multiplies; "
            "bundle b_enc: %s\n", ew + tw, ew + tw, ep + tp - ew - tw, r->k, D * D,
            2 * D * r->rank_b, r->rank_b, D, r->projected ? "2Dk encoder" : "A x");
    fprintf(o, "time: load + interface training %.2f s, evaluation and sweeps %.2f s, "
            "total fit + evaluation %.2f s\n", r->t_train - r->t0, r->t_eval - r->t_train,
            r->t_eval - r->t0);
}

void tdi_sub_report_text(const tdi_sub_fitrun *r, FILE *o)
{
    if (!o)
        return;
    report_header(r, o);
    report_paper_rows(r, o);
    report_rho(r, o);
    report_skip(r, o);
    report_budget(r, o);
}

static int json_head(const tdi_sub_fitrun *r, tdi_json *root)
{
    const tdi_sub_cfg *cfg = r->cfg;
    size_t ew = tdi_sub_mlp_nweights(&r->enc), ep = tdi_sub_mlp_nparams(&r->enc);
    size_t tw = tdi_sub_mlp_nweights(&r->tr), tp = tdi_sub_mlp_nparams(&r->tr);
    const tdi_json_kv pre[] = {TDI_JS("preset", cfg->name), TDI_JS("mode", cfg->mode)};
    const tdi_json_kv pair[] = {TDI_JS(NULL, cfg->enc), TDI_JS(NULL, cfg->dec)};
    const tdi_json_kv head[] = {
        TDI_JI("D", r->D), TDI_JI("k", r->k), TDI_JI("n_fit", r->nf), TDI_JI("n_test", r->nt),
        TDI_JS("couplings", cfg->couplings), TDI_JB("frobenius", cfg->frobenius)};
    const tdi_json_kv params[] = {
        TDI_JI("enc_weights", ew), TDI_JI("enc_params", ep), TDI_JI("tr_weights", tw),
        TDI_JI("tr_params", tp), TDI_JI("total_weights", ew + tw), TDI_JI("total_params", ep + tp)};
    const tdi_json_kv mse[] = {TDI_JR("enc_fit", r->enc_loss), TDI_JR("enc_test", r->enc_test),
                               TDI_JR("tr_fit", r->tr_loss), TDI_JR("tr_test", r->tr_test)};
    const tdi_json_kv paper[] = {TDI_JR("full_pipeline", 0.9906), TDI_JR("oracle", 1.0),
                                 TDI_JR("rho_k16", 0.1274)};
    if (tdi_json_set(root, pre, TDI_JSON_N(pre)) ||
        tdi_json_push(tdi_json_add_array(root, "pair"), pair, TDI_JSON_N(pair)) ||
        tdi_json_set(root, head, TDI_JSON_N(head)) ||
        tdi_json_set(tdi_json_add_object(root, "params"), params, TDI_JSON_N(params)) ||
        tdi_json_set(tdi_json_add_object(root, "interface_mse"), mse, TDI_JSON_N(mse)) ||
        tdi_json_set(tdi_json_add_object(root, "paper_reported"), paper, TDI_JSON_N(paper)))
        return TDI_ENOMEM;
    tdi_json *rows = tdi_json_add_object(root, "paper_rows");
    int rc = !rows;
    for (int i = 0; i < 6 && !rc; i++) {
        tdi_json *o = tdi_json_add_object(rows, r->rows[i].key);
        const tdi_json_kv st[] = {TDI_JB("stable", r->rows[i].stable)};
        rc = tdi_json_set(o, st, 1) || json_metrics(o, "metrics", r->rows[i].stable, &r->rows[i].m);
    }
    return rc;
}

/* a sweep row appended to a: {"k": k, "stable": ..., "lambda_min": x, ...}; NULL on failure */
static tdi_json *json_row_head(tdi_json *a, long k, int stable, double lmin)
{
    tdi_json *o = tdi_json_add_object(a, NULL);
    const tdi_json_kv kv[] = {TDI_JI("k", k), TDI_JB("stable", stable), TDI_JR("lambda_min", lmin)};
    return tdi_json_set(o, kv, TDI_JSON_N(kv)) ? NULL : o;
}

static int json_rho(const tdi_sub_fitrun *r, tdi_json *root)
{
    tdi_json *a = tdi_json_add_array(root, "rho_skip");
    int rc = !a;
    for (size_t q = 0; q < r->nrho && !rc; q++) {
        const tdi_sub_rho_row *h = &r->rho[q];
        tdi_json *o = json_row_head(a, h->k, h->stable, h->lmin);
        const tdi_json_kv kv[] = {TDI_JR("rho", h->rho)};
        rc = tdi_json_set(o, kv, 1) || json_metrics(o, "full_pipeline", h->stable, &h->full);
    }
    return rc;
}

static int json_skip_row(tdi_json *a, const tdi_sub_skip_row *s)
{
    tdi_json *o = json_row_head(a, s->k, s->stable, s->lmin);
    const tdi_json_kv kv[] = {TDI_JR("gain", s->gain), TDI_JI("clipped", s->clipped),
                              TDI_JR("max_abs_sub_minus_ceiling", s->stable ? s->exact_err : NAN)};
    const tdi_json_kv rank[] = {TDI_JI("encoder_2Dk_rank", s->proj_rank)};
    return tdi_json_set(o, kv, TDI_JSON_N(kv)) ||
           json_metrics(o, "substrate", s->stable, &s->sub) ||
           json_metrics(o, "ceiling", 1, &s->ceil) ||
           json_metrics(o, "bottleneck_benc", s->stable, &s->bott) || tdi_json_set(o, rank, 1) ||
           json_metrics(o, "encoder_2Dk", s->stable, &s->proj);
}

static int json_skip(const tdi_sub_fitrun *r, tdi_json *root)
{
    tdi_json *sk = tdi_json_add_object(root, "skip_sweep");
    const tdi_json_kv kv[] = {TDI_JR("pd_margin", r->cfg->pd_margin),
                              TDI_JB("readout_gain", r->cfg->readout_gain)};
    tdi_json *a = tdi_json_set(sk, kv, TDI_JSON_N(kv)) ? NULL : tdi_json_add_array(sk, "rows");
    int rc = !a;
    for (size_t q = 0; q < r->nsk && !rc; q++)
        rc = json_skip_row(a, &r->sk[q]);
    return rc;
}

int tdi_sub_report_json(tdi_sub_fitrun *r, tdi_err *err)
{
    tdi_json *root = tdi_json_object();
    const tdi_json_kv tail[] = {TDI_JR("seconds_fit_eval", r->t_eval - r->t0)};
    int bad = json_head(r, root) || json_rho(r, root) || json_skip(r, root) ||
              tdi_json_set(root, tail, 1);
    int rc = bad ? tdi_err_set(err, TDI_ENOMEM, "metrics.json: out of memory")
                 : tdi_json_dump(root, 3, &r->json, "metrics.json", err);
    tdi_json_free(root);
    return rc;
}
