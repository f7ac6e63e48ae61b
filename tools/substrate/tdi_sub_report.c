/* tdi_sub_report: the text report and metrics.json of a tdi-fit run (state: tdi_sub_run.h).
 * Invariants: reads the run, never changes a number; JSON numbers are %.10g, non-finite ones
 * null. Non-goal: the bundle (tdi_sub_bundle.c writes metrics.json beside the arrays). */
#include "tdi_sub_run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void json_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.10g", v);
    else
        fputs("null", f);
}

/* the text before a value (", \"key\": "), then the value */
static void json_kv(FILE *f, const char *before, double v)
{
    fputs(before, f);
    json_num(f, v);
}

static void json_metrics(FILE *f, const tdi_metrics *m)
{
    json_kv(f, "{\"cos_paper\": ", m->cos_paper);
    json_kv(f, ", \"cos_centered\": ", m->cos_centered);
    json_kv(f, ", \"r2\": ", m->r2);
    fputs("}", f);
}

/* the metrics of a stable row, else null */
static void json_metrics_or_null(FILE *f, int stable, const tdi_metrics *m)
{
    if (stable)
        json_metrics(f, m);
    else
        fputs("null", f);
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

static void json_head(const tdi_sub_fitrun *r, FILE *js)
{
    const tdi_sub_cfg *cfg = r->cfg;
    size_t ew = tdi_sub_mlp_nweights(&r->enc), ep = tdi_sub_mlp_nparams(&r->enc);
    size_t tw = tdi_sub_mlp_nweights(&r->tr), tp = tdi_sub_mlp_nparams(&r->tr);
    fprintf(js, "{\n  \"preset\": \"%s\", \"mode\": \"%s\", \"pair\": [\"%s\", \"%s\"], "
            "\"D\": %zu, \"k\": %zu,\n  \"n_fit\": %zu, \"n_test\": %zu, \"couplings\": "
            "\"%s\", \"frobenius\": %s,\n", cfg->name, cfg->mode, cfg->enc, cfg->dec, r->D,
            r->k, r->nf, r->nt, cfg->couplings, cfg->frobenius ? "true" : "false");
    fprintf(js, "  \"params\": {\"enc_weights\": %zu, \"enc_params\": %zu, \"tr_weights\": %zu, "
            "\"tr_params\": %zu, \"total_weights\": %zu, \"total_params\": %zu},\n", ew, ep, tw,
            tp, ew + tw, ep + tp);
    json_kv(js, "  \"interface_mse\": {\"enc_fit\": ", r->enc_loss);
    json_kv(js, ", \"enc_test\": ", r->enc_test);
    json_kv(js, ", \"tr_fit\": ", r->tr_loss);
    json_kv(js, ", \"tr_test\": ", r->tr_test);
    fputs("},\n  \"paper_reported\": {\"full_pipeline\": 0.9906, \"oracle\": 1.0, "
          "\"rho_k16\": 0.1274},\n  \"paper_rows\": {\n", js);
    for (int i = 0; i < 6; i++) {
        fprintf(js, "    \"%s\": {\"stable\": %s, \"metrics\": ", r->rows[i].key,
                r->rows[i].stable ? "true" : "false");
        json_metrics_or_null(js, r->rows[i].stable, &r->rows[i].m);
        fprintf(js, "}%s\n", i < 5 ? "," : "");
    }
}

/* the opening of a sweep row: {"k": k, "stable": ..., "lambda_min": x */
static void json_row_head(FILE *js, long k, int stable, double lmin)
{
    fprintf(js, "    {\"k\": %ld, \"stable\": %s, \"lambda_min\": ", k,
            stable ? "true" : "false");
    json_num(js, lmin);
}

static void json_rho(const tdi_sub_fitrun *r, FILE *js)
{
    fputs("  },\n  \"rho_skip\": [\n", js);
    for (size_t q = 0; q < r->nrho; q++) {
        const tdi_sub_rho_row *h = &r->rho[q];
        json_row_head(js, h->k, h->stable, h->lmin);
        json_kv(js, ", \"rho\": ", h->rho);
        fputs(", \"full_pipeline\": ", js);
        json_metrics_or_null(js, h->stable, &h->full);
        fprintf(js, "}%s\n", q + 1 < r->nrho ? "," : "");
    }
}

static void json_skip(const tdi_sub_fitrun *r, FILE *js)
{
    fprintf(js, "  ],\n  \"skip_sweep\": {\"pd_margin\": %.10g, \"readout_gain\": %s, \"rows\": "
            "[\n", r->cfg->pd_margin, r->cfg->readout_gain ? "true" : "false");
    for (size_t q = 0; q < r->nsk; q++) {
        const tdi_sub_skip_row *s = &r->sk[q];
        json_row_head(js, s->k, s->stable, s->lmin);
        json_kv(js, ", \"gain\": ", s->gain);
        fprintf(js, ", \"clipped\": %d, \"max_abs_sub_minus_ceiling\": ", s->clipped);
        json_num(js, s->stable ? s->exact_err : NAN);
        fputs(",\n     \"substrate\": ", js);
        json_metrics_or_null(js, s->stable, &s->sub);
        fputs(", \"ceiling\": ", js);
        json_metrics(js, &s->ceil);
        fputs(", \"bottleneck_benc\": ", js);
        json_metrics_or_null(js, s->stable, &s->bott);
        fprintf(js, ", \"encoder_2Dk_rank\": %zu, \"encoder_2Dk\": ", s->proj_rank);
        json_metrics_or_null(js, s->stable, &s->proj);
        fprintf(js, "}%s\n", q + 1 < r->nsk ? "," : "");
    }
}

int tdi_sub_report_json(tdi_sub_fitrun *r, tdi_err *err)
{
    size_t jsonlen = 0;
    FILE *js = open_memstream(&r->json, &jsonlen);
    if (!js)
        return tdi_err_set(err, TDI_ENOMEM, "metrics.json: out of memory");
    json_head(r, js);
    json_rho(r, js);
    json_skip(r, js);
    fprintf(js, "  ]},\n  \"seconds_fit_eval\": %.3f\n}\n", r->t_eval - r->t0);
    if (fclose(js))
        return tdi_err_set(err, TDI_ENOMEM, "metrics.json: write failed");
    return 0;
}
