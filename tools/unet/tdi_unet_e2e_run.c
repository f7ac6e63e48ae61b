/* tdi_unet_e2e_run: the levels of the e2e job (PCA, substrates per rank, the layer's float
 * arrays), the table's rows, <out>/table.csv and wires.csv (each written atomically) and the
 * printed table. Row order is fixed: unmodified; per level e1, e2, all: substrate k..., pca k...,
 * mean, zero. Non-goals: the plots (tdi_unet_e2e_plot.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_clock.h"
#include "tdi_io.h"
#include "tdi_sub.h"
#include "tdi_unet_e2e_int.h"

#define E2E_NK (TDI_UNET_E2E_MAXRANKS + 1)
#define E2E_MAXROWS (1 + 3 * (2 * E2E_NK + 2))

typedef struct e2e_level {
    const char *name;
    size_t C, HW;
    double *X, *Xb;               /* fit (n, C), bundle (nb, C) skip vectors */
    double *mean, *U, *ev, *A;    /* (C), (C, C), (C), (C, C) */
    size_t nk, ks[E2E_NK];        /* ranks: the config's below C, then C */
    tdi_unet_e2e_sub sub[E2E_NK];
    float *fmean, *fzero, *fR[E2E_NK], *fP[E2E_NK], *fsd[E2E_NK];
    tdi_unet_sskip ss_sub[E2E_NK], ss_pca[E2E_NK], ss_mean, ss_zero;
} e2e_level;

static void level_free(e2e_level *L)
{
    free(L->X);
    free(L->Xb);
    free(L->mean);
    free(L->U);
    free(L->ev);
    free(L->A);
    free(L->fmean);
    free(L->fzero);
    for (size_t q = 0; q < E2E_NK; q++) {
        tdi_unet_e2e_sub_destroy(&L->sub[q]);
        free(L->fR[q]);
        free(L->fP[q]);
        free(L->fsd[q]);
    }
}

static float *to_float(const double *a, size_t n)
{
    float *f = malloc((n ? n : 1) * sizeof *f);
    for (size_t i = 0; f && i < n; i++)
        f[i] = (float)a[i];
    return f;
}

/* the layer's structs of rank slot q (substrate with noise, PCA ceiling without) */
static int level_layers(e2e_level *L, int lv, size_t q, unsigned long seed, tdi_err *err)
{
    const size_t C = L->C;
    double *Rp = malloc(C * C * sizeof *Rp);
    if (!Rp)
        return tdi_err_set(err, TDI_ENOMEM, "e2e: out of memory");
    tdi_unet_e2e_ceiling(L->U, C, L->ks[q], Rp);
    L->fR[q] = to_float(L->sub[q].R, C * C);
    L->fP[q] = to_float(Rp, C * C);
    L->fsd[q] = to_float(L->sub[q].noise_sd, C);
    free(Rp);
    if (!L->fR[q] || !L->fP[q] || !L->fsd[q])
        return tdi_err_set(err, TDI_ENOMEM, "e2e: out of memory");
    L->ss_sub[q] = (tdi_unet_sskip){lv, C, L->ks[q], 1, L->fmean, L->fR[q], L->fsd[q], seed,
                                    TDI_UNET_SSKIP_SUBSTRATE};
    L->ss_pca[q] = (tdi_unet_sskip){lv, C, L->ks[q], 1, L->fmean, L->fP[q], NULL, seed,
                                    TDI_UNET_SSKIP_SUBSTRATE};
    return 0;
}

static void print_fit_head(FILE *o)
{
    if (o)
        fprintf(o, "%-5s %4s %8s %9s %9s %6s %5s %9s %9s %5s %4s %9s %9s %9s %9s %9s\n",
                "level", "k", "gain", "|R-Rpca|", "|off|", "wires", "skip", "theta", "Vs", "n",
                "bits", "t_inf s", "noise", "noise_ind", "op_noise", "sd_act");
}

static int level_fit(const tdi_unet_e2e_cfg *c, e2e_level *L, int lv, size_t nfit, size_t nb,
                     FILE *o, tdi_err *err)
{
    const size_t C = L->C;
    L->mean = malloc(C * sizeof *L->mean);
    L->U = malloc(C * C * sizeof *L->U);
    L->ev = malloc(C * sizeof *L->ev);
    L->A = malloc(C * C * sizeof *L->A);
    double *J = malloc(C * C * sizeof *J);
    int rc = (!L->mean || !L->U || !L->ev || !L->A || !J)
                 ? tdi_err_set(err, TDI_ENOMEM, "e2e: out of memory")
                 : tdi_unet_e2e_pca(L->X, nfit, C, L->mean, L->U, L->ev, err);
    if (!rc) {
        tdi_sub_gram_acts(L->X, nfit, C, c->kT, J);
        tdi_sub_diag_block(J, C, c->J2, L->A);
        L->fmean = to_float(L->mean, C);
        L->fzero = calloc(C, sizeof *L->fzero);
        rc = (!L->fmean || !L->fzero) ? tdi_err_set(err, TDI_ENOMEM, "e2e: out of memory") : 0;
    }
    free(J);
    L->nk = 0;
    for (size_t q = 0; q < c->n_ranks; q++)
        if ((size_t)c->ranks[q] < C)
            L->ks[L->nk++] = (size_t)c->ranks[q];
    L->ks[L->nk++] = C;
    L->ss_mean = (tdi_unet_sskip){lv, C, 0, 1, L->fmean, NULL, NULL, 0, TDI_UNET_SSKIP_MEAN};
    L->ss_zero = (tdi_unet_sskip){lv, C, 0, 1, L->fzero, NULL, NULL, 0, TDI_UNET_SSKIP_ZERO};
    tdi_unet_e2e_level in = {L->name, C, L->mean, L->U, L->A, L->Xb, nb};
    for (size_t q = 0; !rc && q < L->nk; q++) {
        char dir[1200];
        snprintf(dir, sizeof dir, "%s/substrate-%s-k%zu", c->out, L->name, L->ks[q]);
        rc = tdi_unet_e2e_substrate(&in, L->ks[q], c->J2, c->kT, c->pd_margin, c->path, dir,
                                    &L->sub[q], err);
        if (!rc)
            rc = level_layers(L, lv, q, (unsigned long)c->seed, err);
        if (!rc && o) {
            const tdi_unet_e2e_sub *s = &L->sub[q];
            double sd = 0.0;
            for (size_t j = 0; j < C; j++)
                sd += s->noise_sd[j] * s->noise_sd[j] / (double)C;
            fprintf(o, "%-5s %4zu %8.4g %9.2e %9.2e %6zu %5zu %9.3g %9.3g %5ld %4ld %9.3g %9.4g "
                    "%9.4g %9.4g %9.4g\n", L->name, s->k, s->gain, s->r_err, s->off_err, s->wires,
                    s->skip_wires, s->theta, s->Vs, s->n_conv, s->bits, s->t_inf, s->noise_rms,
                    s->noise_rms_ind, s->op_noise, sqrt(sd));
        }
    }
    return rc;
}

/* ---------------------------------------------------------------- rows */
typedef struct e2e_row {
    const char *level, *config, *engine;
    long k;
    size_t wires_mux, wires_rep;
    e2e_mse r;
} e2e_row;

typedef struct e2e_job {
    const tdi_unet_e2e_cfg *cfg;
    tdi_unet *m;
    const e2e_test *te;
    e2e_level L[2];
    e2e_row rows[E2E_MAXROWS];
    size_t nrows;
    e2e_row pairs[TDI_UNET_E2E_MAXPAIRS]; /* e2e.pairs: k = k_e1, pk2 = k_e2 */
    long pk2[TDI_UNET_E2E_MAXPAIRS];
    size_t npairs;
    FILE *o;
} e2e_job;

static const char *const BUCKET_HEAD = "t<100 t<300 t<600 t<1000";

static void row_print(const e2e_row *w, FILE *o, double sec)
{
    if (!o)
        return;
    fprintf(o, "%-5s %-10s %4ld %8zu %10zu %-8s %9.5f %9.5f %9.5f %9.5f %9.5f  %5.1f s\n",
            w->level, w->config, w->k, w->wires_mux, w->wires_rep, w->engine, w->r.all,
            w->r.mse[0], w->r.mse[1], w->r.mse[2], w->r.mse[3], sec);
    fflush(o);
}

static void row_run(e2e_job *j, const char *level, const char *config, const char *engine,
                    long k, size_t wm, size_t wr, const tdi_unet_sskip *s0,
                    const tdi_unet_sskip *s1)
{
    e2e_row *w = &j->rows[j->nrows++];
    *w = (e2e_row){level, config, engine, k, wm, wr, {{0}, 0, {0}, 0}};
    const double t0 = tdi_clock_s(CLOCK_MONOTONIC);
    e2e_eval(j->m, j->te, s0, s1, &w->r);
    row_print(w, j->o, tdi_clock_s(CLOCK_MONOTONIC) - t0);
}

/* slot of rank k at level L (k capped at C), or the full-rank slot */
static size_t slot_of(const e2e_level *L, size_t k)
{
    for (size_t q = 0; q < L->nk; q++)
        if (L->ks[q] == (k < L->C ? k : L->C))
            return q;
    return L->nk - 1;
}

static void rows_level(e2e_job *j, int lv)
{
    const e2e_level *L = &j->L[lv];
    for (int pca = 0; pca < 2; pca++)
        for (size_t q = 0; q < L->nk; q++) {
            const tdi_unet_sskip *s = pca ? &L->ss_pca[q] : &L->ss_sub[q];
            const size_t w = L->sub[q].wires;
            row_run(j, L->name, pca ? "pca" : "substrate", pca ? "ideal" : "analytic",
                    (long)L->ks[q], w, w * L->HW, lv ? NULL : s, lv ? s : NULL);
        }
    row_run(j, L->name, "mean", "digital", 0, 0, 0, lv ? NULL : &L->ss_mean,
            lv ? &L->ss_mean : NULL);
    row_run(j, L->name, "zero", "digital", 0, 0, 0, lv ? NULL : &L->ss_zero,
            lv ? &L->ss_zero : NULL);
}

/* both levels at once; k is each level's rank capped at its C (k = 2C: full at both) */
static void rows_all(e2e_job *j)
{
    const e2e_level *a = &j->L[0], *b = &j->L[1];
    for (int pca = 0; pca < 2; pca++)
        for (size_t q = 0; q < b->nk; q++) {
            const size_t qa = slot_of(a, b->ks[q]), qb = q;
            const size_t wm = a->sub[qa].wires + b->sub[qb].wires;
            const size_t wr = a->sub[qa].wires * a->HW + b->sub[qb].wires * b->HW;
            row_run(j, "all", pca ? "pca" : "substrate", pca ? "ideal" : "analytic",
                    (long)b->ks[q], wm, wr, pca ? &a->ss_pca[qa] : &a->ss_sub[qa],
                    pca ? &b->ss_pca[qb] : &b->ss_sub[qb]);
        }
    row_run(j, "all", "mean", "digital", 0, 0, 0, &a->ss_mean, &b->ss_mean);
    row_run(j, "all", "zero", "digital", 0, 0, 0, &a->ss_zero, &b->ss_zero);
}

/* e2e.pairs: both levels through their substrates at (k_e1, k_e2); k = 0: the mean row. A k
 * that is neither a fitted rank (e2e.ranks below C, or C) nor 0 is an error. */
static int pair_layer(const e2e_level *L, long k, const tdi_unet_sskip **s, size_t *w)
{
    *s = k == 0 ? &L->ss_mean : NULL;
    *w = 0;
    for (size_t q = 0; k > 0 && q < L->nk; q++)
        if ((long)L->ks[q] == k) {
            *s = &L->ss_sub[q];
            *w = L->sub[q].wires;
        }
    return *s ? 0 : -1;
}

static int rows_pairs(e2e_job *j, tdi_err *err)
{
    const tdi_unet_e2e_cfg *c = j->cfg;
    for (size_t p = 0; p + 1 < c->n_pairs; p += 2) {
        const tdi_unet_sskip *s[2];
        size_t w[2];
        for (int lv = 0; lv < 2; lv++)
            if (pair_layer(&j->L[lv], c->pairs[p + lv], &s[lv], &w[lv]))
                return tdi_err_set(err, TDI_ECONFIG, "%s: e2e.pairs: k = %ld at %s is neither "
                                   "0 (mean) nor a fitted rank (e2e.ranks below C = %zu, or C)",
                                   c->path, c->pairs[p + lv], j->L[lv].name, j->L[lv].C);
        e2e_row *r = &j->pairs[j->npairs];
        j->pk2[j->npairs++] = c->pairs[p + 1];
        *r = (e2e_row){"pair", "substrate", "analytic", c->pairs[p], w[0] + w[1],
                       w[0] * j->L[0].HW + w[1] * j->L[1].HW, {{0}, 0, {0}, 0}};
        const double t0 = tdi_clock_s(CLOCK_MONOTONIC);
        e2e_eval(j->m, j->te, s[0], s[1], &r->r);
        if (j->o)
            fprintf(j->o, "pair  e1 k %-4ld e2 k %-4ld %8zu %10zu %9.5f %9.5f %9.5f %9.5f "
                    "%9.5f  %5.1f s\n", c->pairs[p], c->pairs[p + 1], r->wires_mux,
                    r->wires_rep, r->r.all, r->r.mse[0], r->r.mse[1], r->r.mse[2], r->r.mse[3],
                    tdi_clock_s(CLOCK_MONOTONIC) - t0);
        if (j->o)
            fflush(j->o);
    }
    return 0;
}

/* ---------------------------------------------------------------- files */
static void pairs_csv(const e2e_job *j, FILE *f)
{
    fprintf(f, "k_e1,k_e2,wires_mux,wires_rep,engine,eps_mse_all");
    for (int b = 0; b < TDI_UNET_E2E_NB; b++)
        fprintf(f, ",eps_mse_t%d", b);
    fprintf(f, ",n_images,seed\n");
    for (size_t r = 0; r < j->npairs; r++) {
        const e2e_row *w = &j->pairs[r];
        fprintf(f, "%ld,%ld,%zu,%zu,%s,%.9g", w->k, j->pk2[r], w->wires_mux, w->wires_rep,
                w->engine, w->r.all);
        for (int b = 0; b < TDI_UNET_E2E_NB; b++)
            fprintf(f, ",%.9g", w->r.mse[b]);
        fprintf(f, ",%zu,%ld\n", w->r.images, j->cfg->seed);
    }
}

static void table_csv(const e2e_job *j, FILE *f)
{
    fprintf(f, "level,config,k,wires_mux,wires_rep,engine,eps_mse_all");
    for (int b = 0; b < TDI_UNET_E2E_NB; b++)
        fprintf(f, ",eps_mse_t%d", b);
    fprintf(f, ",n_images,seed\n");
    for (size_t r = 0; r < j->nrows; r++) {
        const e2e_row *w = &j->rows[r];
        fprintf(f, "%s,%s,%ld,%zu,%zu,%s,%.9g", w->level, w->config, w->k, w->wires_mux,
                w->wires_rep, w->engine, w->r.all);
        for (int b = 0; b < TDI_UNET_E2E_NB; b++)
            fprintf(f, ",%.9g", w->r.mse[b]);
        fprintf(f, ",%zu,%ld\n", w->r.images, j->cfg->seed);
    }
}

static void wires_csv(const e2e_job *j, FILE *f)
{
    fprintf(f, "level,k,wires_mux,wires_rep,skip_wires_mux,pixels,t_inference_s,time_mux_s,"
               "time_rep_s,theta,Vs,n_conv,adc_bits,gain,noise_rms_units,op_noise_units,"
               "noise_sd_rms_act,r_err,noise_rms_ind_units\n");
    for (int lv = 0; lv < 2; lv++) {
        const e2e_level *L = &j->L[lv];
        for (size_t q = 0; q < L->nk; q++) {
            const tdi_unet_e2e_sub *s = &L->sub[q];
            double sd = 0.0;
            for (size_t c = 0; c < L->C; c++)
                sd += s->noise_sd[c] * s->noise_sd[c] / (double)L->C;
            fprintf(f, "%s,%zu,%zu,%zu,%zu,%zu,%.6g,%.6g,%.6g,%.6g,%.6g,%ld,%ld,%.6g,%.6g,%.6g,"
                    "%.6g,%.3g,%.6g\n", L->name, s->k, s->wires, s->wires * L->HW, s->skip_wires,
                    L->HW, s->t_inf, s->t_inf * (double)L->HW, s->t_inf, s->theta, s->Vs,
                    s->n_conv, s->bits, s->gain, s->noise_rms, s->op_noise, sqrt(sd), s->r_err,
                    s->noise_rms_ind);
        }
    }
}

static int write_csv(const char *dir, const char *name, const e2e_job *j,
                     void (*fn)(const e2e_job *, FILE *), tdi_err *err)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    tdi_atomic_file af;
    int rc = tdi_atomic_open(&af, path, err);
    if (rc)
        return rc;
    fn(j, af.f);
    return tdi_atomic_commit(&af, err);
}

/* ---------------------------------------------------------------- the job */
static int job_levels(e2e_job *j, const tdi_unet_config *uc, const tdi_unet_dataset *train,
                      const double *abar, tdi_err *err)
{
    const tdi_unet_e2e_cfg *c = j->cfg;
    const size_t C = j->m->arch.channels, nb = (size_t)c->bundle_samples;
    double *X[2] = {NULL, NULL}, *Xb[2] = {NULL, NULL};
    size_t nfit = 0;
    const double t0 = tdi_clock_s(CLOCK_MONOTONIC);
    int rc = e2e_collect_fit(c, j->m, train, abar, (size_t)uc->T, X, &nfit, err);
    int rb = rc ? 0 : e2e_collect_bundle(j->m, j->te, nb, Xb, err);
    const char *names[2] = {"e1", "e2"};
    for (int lv = 0; lv < 2; lv++) {
        j->L[lv].name = names[lv];
        j->L[lv].C = lv ? 2 * C : C;
        j->L[lv].HW = lv ? 256 : 1024;
        j->L[lv].X = X[lv];
        j->L[lv].Xb = Xb[lv];
    }
    rc = rc ? rc : rb;
    if (!rc && j->o)
        fprintf(j->o, "fit: %zu skip vectors per level from %ld training images (%.1f s); "
                "bundles: %zu test skip vectors\n", nfit, c->fit_images,
                tdi_clock_s(CLOCK_MONOTONIC) - t0, nb);
    print_fit_head(rc ? NULL : j->o);
    for (int lv = 0; !rc && lv < 2; lv++)
        rc = level_fit(c, &j->L[lv], lv, nfit, nb, j->o, err);
    if (!rc && j->o)
        fprintf(j->o, "(fit and circuits %.1f s; noise, noise_ind, op_noise: read-out noise in "
                "substrate units, per-unit model (the conversions' dither correlated; taken as "
                "independent, the chooser's model) and the operating point's; sd_act: rms "
                "noise_sd in activation units)\n", tdi_clock_s(CLOCK_MONOTONIC) - t0);
    return rc;
}

static void job_rows(e2e_job *j)
{
    if (j->o)
        fprintf(j->o, "%-5s %-10s %4s %8s %10s %-8s %9s %s (eps-MSE; %zu test images)\n",
                "level", "config", "k", "wires_mx", "wires_rep", "engine", "all", BUCKET_HEAD,
                j->te->n);
    row_run(j, "all", "unmodified", "digital", 0, 0, 0, NULL, NULL);
    rows_level(j, 0);
    rows_level(j, 1);
    rows_all(j);
}

/* the sde (and spice) check of each level at k = 4 (or the nearest rank) on bundle samples */
static void check_csv_row(FILE *f, const char *lv, size_t k, const char *engine, long n,
                          double meas, double se, double model)
{
    fprintf(f, "%s,%zu,%s,%ld,%.9g,%.9g,%.9g,%.4g\n", lv, k, engine, n, meas, se, model,
            (meas - model) / se);
}

static void check_print(FILE *o, const char *lv, size_t k, const char *engine, long n,
                        double meas, double se, double model)
{
    if (o)
        fprintf(o, "%s check %s k = %zu: read-out error variance %.4g +- %.2g V^2 (%ld samples) "
                "against the noise model's %.4g: %.2f standard errors\n", engine, lv, k, meas,
                se, n, model, (meas - model) / se);
}

static int job_sde(e2e_job *j, tdi_err *err)
{
    const tdi_unet_e2e_cfg *c = j->cfg;
    char path[1200];
    snprintf(path, sizeof path, "%s/sde.csv", c->out);
    tdi_atomic_file af;
    int rc = tdi_atomic_open(&af, path, err);
    if (rc)
        return rc;
    fprintf(af.f, "level,k,engine,samples,meas_V2,se_V2,model_V2,z\n");
    for (int lv = 0; !rc && lv < 2; lv++) {
        const e2e_level *L = &j->L[lv];
        const size_t q = slot_of(L, 4);
        char bdir[1200], odir[1200];
        snprintf(bdir, sizeof bdir, "%s/substrate-%s-k%zu", c->out, L->name, L->ks[q]);
        snprintf(odir, sizeof odir, "%s/sde-%s-k%zu", c->out, L->name, L->ks[q]);
        tdi_unet_e2e_check r;
        const double t0 = tdi_clock_s(CLOCK_MONOTONIC);
        rc = tdi_unet_e2e_sde_check(c->path, bdir, odir, c->sde_samples, c->spice_samples,
                                    &L->sub[q], &r, err);
        if (rc)
            break;
        check_csv_row(af.f, L->name, L->ks[q], "sde", r.n_sde, r.sde, r.sde_se, r.model);
        check_print(j->o, L->name, L->ks[q], "sde", r.n_sde, r.sde, r.sde_se, r.model);
        if (r.n_spice > 1) {
            check_csv_row(af.f, L->name, L->ks[q], "spice", r.n_spice, r.spice, r.spice_se,
                          r.model);
            check_print(j->o, L->name, L->ks[q], "spice", r.n_spice, r.spice, r.spice_se,
                        r.model);
        }
        if (j->o)
            fprintf(j->o, "  (%.1f s; tdi-cosim's report in %s/cosim)\n",
                    tdi_clock_s(CLOCK_MONOTONIC) - t0, odir);
    }
    if (rc) {
        tdi_atomic_abort(&af);
        return rc;
    }
    return tdi_atomic_commit(&af, err);
}

static int job_setup(const tdi_unet_e2e_cfg *c, long test_images, tdi_unet_config *uc,
                     tdi_unet_dataset ds[2], double **abar, e2e_test *te, tdi_unet **m,
                     tdi_err *err)
{
    int rc = tdi_unet_config_load(uc, c->unet_config, err);
    if (rc)
        return rc;
    double *beta = malloc((size_t)uc->T * sizeof *beta);
    *abar = malloc((size_t)uc->T * sizeof **abar);
    if (!beta || !*abar) {
        free(beta);
        return tdi_err_set(err, TDI_ENOMEM, "e2e: out of memory");
    }
    tdi_unet_schedule((size_t)uc->T, uc->beta_start, uc->beta_end, beta, *abar);
    free(beta);
    tdi_unet_arch a = {(size_t)uc->channels, (size_t)uc->groups};
    if ((rc = tdi_unet_dataset_load(&ds[0], uc->data_dir, "train", err)) ||
        (rc = tdi_unet_dataset_load(&ds[1], uc->data_dir, "test", err)) ||
        (rc = tdi_unet_alloc(m, a, E2E_BATCH, err)) ||
        (rc = tdi_unet_ckpt_load(c->checkpoint, *m, NULL, NULL, err)) ||
        (rc = tdi_mkdirs(c->out, err)))
        return rc;
    const size_t n = (size_t)(test_images > 0 ? test_images : c->test_images);
    return e2e_test_make(uc, &ds[1], n, *abar, te, err);
}

int tdi_unet_e2e_run(const tdi_unet_e2e_cfg *c, long test_images, int run_sde, FILE *report,
                     tdi_err *err)
{
    tdi_unet_config uc;
    tdi_unet_dataset ds[2];
    memset(ds, 0, sizeof ds);
    double *abar = NULL;
    e2e_test te;
    memset(&te, 0, sizeof te);
    e2e_job *j = calloc(1, sizeof *j);
    if (!j)
        return tdi_err_set(err, TDI_ENOMEM, "e2e: out of memory");
    j->cfg = c;
    j->o = report;
    j->te = &te;
    const double t0 = tdi_clock_s(CLOCK_MONOTONIC);
    int rc = job_setup(c, test_images, &uc, ds, &abar, &te, &j->m, err);
    if (!rc)
        rc = job_levels(j, &uc, &ds[0], abar, err);
    if (!rc) {
        job_rows(j);
        if (!(rc = write_csv(c->out, "table.csv", j, table_csv, err)))
            rc = write_csv(c->out, "wires.csv", j, wires_csv, err);
    }
    if (!rc && c->n_pairs && !(rc = rows_pairs(j, err)))
        rc = write_csv(c->out, "pairs.csv", j, pairs_csv, err);
    if (!rc)
        rc = e2e_plots(c->out, report, err);
    if (!rc && run_sde)
        rc = job_sde(j, err);
    if (!rc && report)
        fprintf(report, "wrote %s/table.csv and %s/wires.csv (total wall time %.1f s)\n", c->out,
                c->out, tdi_clock_s(CLOCK_MONOTONIC) - t0);
    for (int lv = 0; lv < 2; lv++)
        level_free(&j->L[lv]);
    tdi_unet_free(j->m);
    free(j);
    free(abar);
    e2e_test_destroy(&te);
    tdi_unet_dataset_destroy(&ds[0]);
    tdi_unet_dataset_destroy(&ds[1]);
    return rc;
}
