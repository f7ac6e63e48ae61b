/* tdi_sub_run: the state of one tdi-fit run shared by its stages (internal to tools/substrate;
 * the public entry point is tdi_sub_run in tdi_sub.h). Stages, in order: load (tdi_sub_fit.c),
 * model and interface (tdi_sub_fit.c), evaluation of the paper rows and both rank sweeps
 * (tdi_sub_eval.c), the bundle's model (tdi_sub_eval.c), report and metrics.json
 * (tdi_sub_report.c), bundle write (tdi_sub_fit.c). Arrays are row-major doubles. */
#ifndef TDI_SUB_RUN_H
#define TDI_SUB_RUN_H

#include "tdi_metrics.h"
#include "tdi_sub.h"

#define TDI_SUB_PAPER_FULL 0.9906
#define TDI_SUB_PAPER_ORACLE 1.0000
#define TDI_SUB_PAPER_RHO16 0.1274

typedef struct {
    const char *key, *label;
    int stable;
    double lmin;
    tdi_metrics m;
    double paper; /* NAN if the paper reports nothing */
} tdi_sub_row;

typedef struct {
    long k;
    int stable;
    double lmin, rho;
    tdi_metrics full; /* full pipeline with this k's paper coupling */
} tdi_sub_rho_row;

typedef struct {
    long k;
    int stable;
    double lmin, gain, sigma_max, exact_err;
    int clipped;
    tdi_metrics sub, ceil, bott, proj;
    size_t proj_rank;
    double proj_err; /* max |y(b_enc = A R R^T x) - y(b_enc = A x)| (times gain) */
} tdi_sub_skip_row;

typedef struct tdi_sub_fitrun {
    const tdi_sub_cfg *cfg;
    size_t D, k, nf, nt;                /* widths, configured rank, fit / test samples */
    int skipmode, use_w, projected;     /* mode skip, couplings weights, skip_encoder projected */
    double t0, t_train, t_eval;         /* s, monotonic clock */
    tdi_sub_act fit, test;
    tdi_sub_mlp enc, tr;
    tdi_sub_rrr rrr;
    double *Jenc, *Jdec, *A, *B;        /* (D, D) */
    double *P, *Q, *Ps, *Qs;            /* (D, k) paper / bundle coupling; sweep scratch */
    double *Mp, *M0, *Mk, *Ms;          /* (2D, 2D) paper k, no skip, sweep scratch, skip k */
    double *cs, *gains, *cv, *zero, *mean; /* (D) */
    double *Jsk, *Lk, *W1, *W2;         /* (D, D) */
    double *AXf, *BDf;                  /* (nf, D) */
    double *AXt, *BDt, *benc, *bdec, *y, *y0, *pred, *yfull, *cmat, *ysk, *tk, *bproj,
        *bencp;                         /* (nt, D) */
    double enc_loss, tr_loss, enc_test, tr_test, var_enc, var_tr; /* interface MSEs */
    tdi_sub_train_info enc_info, tr_info; /* validation loss and epochs of each network */
    double lmin_p, lmax_p;              /* M of the paper skip at k */
    tdi_sub_row rows[6];
    tdi_sub_rho_row rho[TDI_SUB_MAXRANKS];
    tdi_sub_skip_row sk[TDI_SUB_MAXRANKS + 1];
    size_t nrho, nsk, rank_b;           /* rank_b: the configured 2Dk encoder's rank */
    const double *Mb;                   /* the bundle's M (Mp or Ms) */
    double lmin_b, lmax_b;
    char *json;                         /* metrics.json text (malloc'd) */
} tdi_sub_fitrun;

/* y = eq(M, benc, bdec) with a fresh factorisation; returns 0 or the PD error. lmin, lmax (may
 * be NULL): M's extreme eigenvalues. */
int tdi_sub_solve_with(const double *M, size_t D, const char *what, const double *benc,
                       const double *bdec, size_t n, double *y, double *lmin, double *lmax,
                       tdi_err *err);
/* tdi_sub_eval.c: the rows of the paper model at k, the rho_skip and substrate-skip sweeps,
 * and the bundle's model (Mb, lmin_b, lmax_b, yfull, Jsk). */
int tdi_sub_eval_paper(tdi_sub_fitrun *r, tdi_err *err);
int tdi_sub_eval_rho(tdi_sub_fitrun *r, tdi_err *err);
int tdi_sub_eval_skip(tdi_sub_fitrun *r, tdi_err *err);
int tdi_sub_eval_bundle_model(tdi_sub_fitrun *r, tdi_err *err);
/* tdi_sub_report.c: the text report (o may be NULL) and r->json. */
void tdi_sub_report_text(const tdi_sub_fitrun *r, FILE *o);
int tdi_sub_report_json(tdi_sub_fitrun *r, tdi_err *err);

#endif
