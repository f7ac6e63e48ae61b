/* tdi_unet_tune: the skip-aware fine-tune (see tdi_unet_tune.h). Stages: config, the PCA fit of
 * the skip (channel covariance of the start model's skip vectors, merged batch by batch), the
 * training loop (resumable state, Adam), the table. */
#include "tdi_unet_tune.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <gsl/gsl_rng.h>

#include "tdi_cfg.h"
#include "tdi_clock.h"
#include "tdi_io.h"
#include "tdi_linalg.h"
#include "tdi_seed.h"
#include "tdi_sub.h"
#include "tdi_unet_e2e.h"
#include "tdi_unet_gemm.h"
#include "tdi_unet_run.h"

void tdi_unet_tune_cfg_defaults(tdi_unet_tune_cfg *t)
{
    *t = (tdi_unet_tune_cfg){.seed = 1, .checkpoint = "models/unet-c32.ckpt",
                             .out = "out/finetune", .level = "e1", .k = 4, .pool = 1,
                             .noise = "circuit", .noise_ratio = 0.05,
                             .circuit = "configs/e2e.yaml", .fit_n = 2000, .steps = 100, .batch = 32,
                             .lr = 2e-5, .ckpt_every = 25, .eval_n = 1000};
}

#define T_INT(p, f, lo, hi) {p, TDI_CFG_INT, &t->f, lo, hi, 0, NULL, NULL, 0}
#define T_STR(p, f, ch) {p, TDI_CFG_STRING, t->f, 0, 0, sizeof t->f, NULL, ch, 0}

int tdi_unet_tune_cfg_load(tdi_unet_tune_cfg *t, const char *path, tdi_err *err)
{
    tdi_unet_tune_cfg_defaults(t);
    /* the first block is what the hash covers */
    tdi_cfg_key keys[] = {
        T_INT("seed", seed, 0, 4294967295.0),
        T_STR("tune.checkpoint", checkpoint, NULL),
        T_STR("tune.level", level, "e1|e2"),
        T_INT("tune.k", k, 1, 1024),
        T_INT("tune.pool", pool, 1, 16),
        T_STR("tune.noise", noise, "circuit|ratio"),
        {"tune.noise_ratio", TDI_CFG_DOUBLE, &t->noise_ratio, 0, 100, 0, NULL, NULL, 0},
        T_STR("tune.circuit", circuit, NULL),
        T_INT("tune.fit_n", fit_n, 1, 60000),
        T_INT("tune.steps", steps, 0, 10000000),
        T_INT("tune.batch", batch, 1, 1024),
        {"tune.lr", TDI_CFG_DOUBLE, &t->lr, 0, 1, 0, NULL, NULL, 0},
        T_STR("out", out, NULL),
        T_INT("tune.ckpt_every", ckpt_every, 1, 10000000),
        T_INT("tune.eval_n", eval_n, 1, 10000),
    };
    const size_t n = sizeof keys / sizeof keys[0], n_hashed = 12;
    int rc = path ? tdi_cfg_load(path, keys, n, err) : TDI_OK;
    if (!rc && (!t->out[0] || !t->checkpoint[0]))
        rc = tdi_err_set(err, TDI_ECONFIG, "%s: out and checkpoint must be set",
                         path ? path : "finetune defaults");
    t->hash = tdi_cfg_hash(keys, n_hashed);
    return rc;
}

/* ---------------------------------------------------------------- the PCA fit */

/* V [C][nv] := the skip vectors of out [C][b][side^2]: pixels (p = 1) or p x p region means. */
static size_t skip_vectors(const float *out, size_t C, size_t side, size_t b, size_t p,
                           float *V)
{
    const size_t hw = side * side, rs = side / p, nv = b * rs * rs;
    if (p == 1) {
        memcpy(V, out, C * b * hw * sizeof *V);
        return nv;
    }
    for (size_t c = 0; c < C; c++)
        for (size_t i = 0; i < b; i++)
            for (size_t r = 0; r < rs * rs; r++) {
                const float *pl = out + (c * b + i) * hw;
                double acc = 0.0;
                for (size_t y = r / rs * p; y < (r / rs + 1) * p; y++)
                    for (size_t x = r % rs * p; x < (r % rs + 1) * p; x++)
                        acc += pl[y * side + x];
                V[c * nv + i * rs * rs + r] = (float)(acc / (double)(p * p));
            }
    return nv;
}

/* Running mean and scatter (Chan et al.'s pairwise merge) of the channel vectors. */
typedef struct cov_acc {
    size_t C;
    double n, *mean, *M2; /* (C), (C, C) */
    float *S;             /* (C, C) scratch: one batch's centered scatter */
    double *bm;           /* (C) scratch: one batch's mean */
} cov_acc;

/* Merges V [C][nv] (centered in place) into a. */
static void cov_add(cov_acc *a, float *V, size_t nv)
{
    const size_t C = a->C;
    for (size_t c = 0; c < C; c++) {
        double s = 0.0;
        for (size_t j = 0; j < nv; j++)
            s += V[c * nv + j];
        a->bm[c] = s / (double)nv;
        for (size_t j = 0; j < nv; j++)
            V[c * nv + j] -= (float)a->bm[c];
    }
    tdi_unet_sgemm(0, 1, C, C, nv, 1.0f, V, nv, V, nv, 0.0f, a->S, C);
    const double na = a->n, nb = (double)nv, n = na + nb;
    for (size_t i = 0; i < C; i++)
        for (size_t j = 0; j < C; j++)
            a->M2[i * C + j] += a->S[i * C + j] + (a->bm[i] - a->mean[i]) *
                                                      (a->bm[j] - a->mean[j]) * na * nb / n;
    for (size_t c = 0; c < C; c++)
        a->mean[c] += (a->bm[c] - a->mean[c]) * nb / n;
    a->n = n;
}

/* The skip from the covariance: R = V_k V_k^T, noise sd = ratio * sqrt(sum top-k eig / C)
 * (replaced by the circuit's per channel in circuit mode). U (C, C): the eigenvectors. */
static int skip_from_cov(const cov_acc *a, const tdi_unet_tune_cfg *t, tdi_unet_tune_skip *sk,
                         double *U, tdi_err *err)
{
    const size_t C = a->C, k = (size_t)t->k;
    double *cov = malloc(C * C * sizeof *cov), *ev = malloc(C * sizeof *ev);
    int rc = !cov || !ev ? tdi_err_set(err, TDI_ENOMEM, "fine-tune fit: out of memory") : TDI_OK;
    for (size_t q = 0; q < C * C && !rc; q++)
        cov[q] = a->M2[q] / (a->n - 1.0);
    if (!rc)
        rc = tdi_linalg_eig_sym(cov, C, ev, U, err);
    double top = 0.0, all = 0.0;
    for (size_t i = 0; i < C && !rc; i++) {
        all += ev[i];
        top += i < k ? ev[i] : 0.0;
    }
    for (size_t i = 0; i < C && !rc; i++) {
        sk->mean[i] = (float)a->mean[i];
        for (size_t j = 0; j < C; j++) {
            double s = 0.0;
            for (size_t r = 0; r < k; r++)
                s += U[i * C + r] * U[j * C + r];
            sk->R[i * C + j] = (float)s;
        }
    }
    sk->captured = rc ? 0.0 : top / all;
    sk->signal_rms = rc ? 0.0 : sqrt(top / (double)C);
    for (size_t c = 0; c < C && !rc; c++)
        sk->noise_sd[c] = (float)(t->noise_ratio * sk->signal_rms);
    sk->noise_rms = t->noise_ratio * sk->signal_rms;
    free(cov);
    free(ev);
    return rc;
}

/* Circuit mode: the rank-k skip-mode substrate of the fit (mean, U; module block A = 2 J2 I +
 * J + J^T with J = E[x x^T] / (4 kT) from the fit's moments, as tdi-unet e2e) and its circuit's
 * predicted read-out noise per channel (tdi_unet_e2e_substrate; its bundle under <out>). Xb
 * (nb, C): the bundle samples, the operating point's signal. */
static int circuit_noise(const cov_acc *a, const double *U, const double *Xb, size_t nb,
                         const tdi_unet_tune_cfg *t, tdi_unet_tune_skip *sk, tdi_err *err)
{
    const size_t C = a->C;
    tdi_unet_e2e_cfg ec;
    int rc = tdi_unet_e2e_cfg_load(t->circuit, &ec, err);
    if (rc)
        return rc;
    double *J = malloc(C * C * sizeof *J), *A = malloc(C * C * sizeof *A);
    if (!J || !A) {
        free(J);
        free(A);
        return tdi_err_set(err, TDI_ENOMEM, "fine-tune fit: out of memory");
    }
    for (size_t i = 0; i < C; i++)
        for (size_t j = 0; j < C; j++)
            J[i * C + j] = (a->M2[i * C + j] / a->n + a->mean[i] * a->mean[j]) / (4.0 * ec.kT);
    tdi_sub_diag_block(J, C, ec.J2, A);
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/substrate-%s-k%ld", t->out, t->level, t->k);
    tdi_unet_e2e_level lv = {t->level, C, a->mean, U, A, Xb, nb};
    tdi_unet_e2e_sub sub;
    rc = tdi_mkdirs(t->out, err);
    if (!rc)
        rc = tdi_unet_e2e_substrate(&lv, (size_t)t->k, ec.J2, ec.kT, ec.pd_margin, t->circuit,
                                    dir, &sub, err);
    if (!rc) {
        double s2 = 0.0;
        for (size_t c = 0; c < C; c++) {
            sk->noise_sd[c] = (float)sub.noise_sd[c];
            s2 += sub.noise_sd[c] * sub.noise_sd[c] / (double)C;
        }
        sk->noise_rms = sqrt(s2);
        sk->op_signal = sub.signal * sub.gain;
        tdi_unet_e2e_sub_destroy(&sub);
    }
    free(J);
    free(A);
    return rc;
}

/* The bundle samples of circuit mode: 16 positions on a 4 x 4 grid (of pixels or regions;
 * all of them when fewer) of each image of the batch, appended to Xb (nmax, C) from *nb. */
static void bundle_take(const float *V, size_t C, size_t b, size_t rs, double *Xb, size_t *nb,
                        size_t nmax)
{
    const size_t g = rs < 4 ? rs : 4, nv = b * rs * rs;
    for (size_t i = 0; i < b; i++)
        for (size_t gy = 0; gy < g; gy++)
            for (size_t gx = 0; gx < g && *nb < nmax; gx++) {
                const size_t r = (gy * rs / g + rs / (2 * g)) * rs + gx * rs / g + rs / (2 * g);
                for (size_t c = 0; c < C; c++)
                    Xb[*nb * C + c] = V[c * nv + i * rs * rs + r];
                (*nb)++;
            }
}

static int skip_alloc(tdi_unet_tune_skip *sk, const tdi_unet_tune_cfg *t, size_t C, tdi_err *err)
{
    memset(sk, 0, sizeof *sk);
    sk->mean = calloc(C, sizeof *sk->mean);
    sk->R = calloc(C * C, sizeof *sk->R);
    sk->noise_sd = calloc(C, sizeof *sk->noise_sd);
    if (!sk->mean || !sk->R || !sk->noise_sd) {
        tdi_unet_tune_skip_destroy(sk);
        return tdi_err_set(err, TDI_ENOMEM, "fine-tune fit: out of memory");
    }
    sk->s = (tdi_unet_sskip){strcmp(t->level, "e2") == 0, C, (size_t)t->k, (size_t)t->pool,
                             sk->mean, sk->R, sk->noise_sd, (unsigned long)t->seed,
                             TDI_UNET_SSKIP_SUBSTRATE};
    return TDI_OK;
}

void tdi_unet_tune_skip_destroy(tdi_unet_tune_skip *sk)
{
    if (!sk)
        return;
    free(sk->mean);
    free(sk->R);
    free(sk->noise_sd);
    sk->mean = sk->R = sk->noise_sd = NULL;
}

int tdi_unet_tune_fit(const tdi_unet_config *c, const tdi_unet_tune_cfg *t, tdi_unet *m,
                      const tdi_unet_dataset *train, tdi_unet_tune_skip *sk, tdi_err *err)
{
    const tdi_unet_block_id id = strcmp(t->level, "e2") == 0 ? TDI_UNET_E2 : TDI_UNET_E1;
    size_t C, side;
    tdi_unet_block_out(m, id, &C, &side);
    if ((size_t)t->k > C || side % (size_t)t->pool != 0)
        return tdi_err_set(err, TDI_ECONFIG, "fine-tune: k %ld > %zu channels of %s, or pool %ld "
                           "does not divide %zu", t->k, C, t->level, t->pool, side);
    int rc = skip_alloc(sk, t, C, err);
    if (rc)
        return rc;
    const size_t B = m->max_batch, n = (size_t)t->fit_n < train->n ? (size_t)t->fit_n : train->n;
    cov_acc a = {C, 0.0, calloc(C, sizeof(double)), calloc(C * C, sizeof(double)),
                 malloc(C * C * sizeof(float)), malloc(C * sizeof(double))};
    double *abar = malloc((size_t)c->T * sizeof *abar), *beta = malloc((size_t)c->T * sizeof *beta);
    float *eps = malloc(B * 1024 * sizeof *eps), *xt = malloc(B * 1024 * sizeof *xt);
    float *tf = malloc(B * sizeof *tf), *V = malloc(C * B * side * side * sizeof *V);
    long *tl = malloc(B * sizeof *tl);
    const int circ = strcmp(t->noise, "circuit") == 0;
    const size_t nbmax = 256, rs = side / (size_t)t->pool;
    size_t nb = 0;
    double *U = malloc(C * C * sizeof *U), *Xb = circ ? malloc(nbmax * C * sizeof *Xb) : NULL;
    if (!a.mean || !a.M2 || !a.S || !a.bm || !abar || !beta || !eps || !xt || !tf || !V || !tl ||
        !U || (circ && !Xb))
        rc = tdi_err_set(err, TDI_ENOMEM, "fine-tune fit: out of memory");
    else
        tdi_unet_schedule((size_t)c->T, c->beta_start, c->beta_end, beta, abar);
    for (size_t s = 0; s < n && !rc; s += B) {
        const size_t b = n - s < B ? n - s : B;
        rc = tdi_unet_noise_stream(tdi_seed((uint64_t)t->seed, TDI_SEED_TUNE, (1ull << 40) + s),
                                   -1, abar, (size_t)c->T, train->img + s * 1024, b, tl, eps, xt,
                                   err);
        for (size_t i = 0; i < b; i++)
            tf[i] = (float)tl[i];
        if (rc)
            break;
        tdi_unet_forward(m, xt, tf, b, NULL);
        const float *o = tdi_unet_block_out(m, id, NULL, NULL);
        const size_t nv = skip_vectors(o, C, side, b, (size_t)t->pool, V);
        if (circ)
            bundle_take(V, C, b, rs, Xb, &nb, nbmax);
        cov_add(&a, V, nv);
    }
    if (!rc)
        rc = skip_from_cov(&a, t, sk, U, err);
    if (!rc && circ)
        rc = circuit_noise(&a, U, Xb, nb, t, sk, err);
    if (rc)
        tdi_unet_tune_skip_destroy(sk);
    free(a.mean);
    free(a.M2);
    free(a.S);
    free(a.bm);
    free(abar);
    free(beta);
    free(eps);
    free(xt);
    free(tf);
    free(V);
    free(tl);
    free(U);
    free(Xb);
    return rc;
}

/* ---------------------------------------------------------------- fine-tuning */

static void out_path(const tdi_unet_tune_cfg *t, const char *file, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s", t->out, file);
}

/* The hash a state carries: the config's and the start checkpoint's bytes. */
static int state_hash(const tdi_unet_tune_cfg *t, uint64_t *h, tdi_err *err)
{
    uint64_t hc = 0;
    int rc = tdi_hash_file(t->checkpoint, &hc, err);
    *h = tdi_hash_bytes(t->hash, &hc, sizeof hc);
    return rc;
}

/* Model, Adam and the step to start from: the state when present, else the start weights. */
static int tune_start(const tdi_unet_config *c, const tdi_unet_tune_cfg *t, tdi_unet *m,
                      tdi_unet_adam *adam, uint64_t h, long *step, FILE *progress, tdi_err *err)
{
    char state[1100];
    out_path(t, "tune-state.ckpt", state, sizeof state);
    struct stat st;
    *step = 0;
    if (stat(state, &st) != 0)
        return tdi_unet_ckpt_load(t->checkpoint, m, NULL, NULL, err);
    tdi_unet_ckpt_info info;
    int rc = tdi_unet_ckpt_peek(state, &info, err);
    if (!rc && info.config_hash != h)
        rc = tdi_err_set(err, TDI_ECONFIG, "%s: written by another fine-tune config or start "
                         "checkpoint (hash %016llx, this run %016llx); delete it to start over",
                         state, (unsigned long long)info.config_hash, (unsigned long long)h);
    if (!rc)
        rc = tdi_unet_ckpt_load(state, m, adam, &info, err);
    if (!rc)
        *step = (long)info.step;
    if (!rc && progress)
        fprintf(progress, "fine-tune: resuming from %s at step %ld of %ld\n", state, *step,
                t->steps);
    (void)c;
    return rc;
}

/* One step's minibatch (indices from stream 2 s) and noise (stream 2 s + 1). */
static int tune_batch(const tdi_unet_config *c, const tdi_unet_tune_cfg *t,
                      const tdi_unet_dataset *train, const double *abar, long step, gsl_rng *r,
                      float *x0, long *tl, float *tf, float *eps, float *xt, tdi_err *err)
{
    const size_t B = (size_t)t->batch;
    gsl_rng_set(r, tdi_seed((uint64_t)t->seed, TDI_SEED_TUNE, 2 * (uint64_t)step));
    for (size_t i = 0; i < B; i++)
        memcpy(x0 + i * 1024, train->img + gsl_rng_uniform_int(r, train->n) * 1024,
               1024 * sizeof *x0);
    int rc = tdi_unet_noise_stream(tdi_seed((uint64_t)t->seed, TDI_SEED_TUNE,
                                            2 * (uint64_t)step + 1),
                                   -1, abar, (size_t)c->T, x0, B, tl, eps, xt, err);
    for (size_t i = 0; i < B; i++)
        tf[i] = (float)tl[i];
    return rc;
}

int tdi_unet_tune_train(const tdi_unet_config *c, const tdi_unet_tune_cfg *t,
                        const tdi_unet_tune_skip *sk, const tdi_unet_dataset *train,
                        long stop_after, FILE *progress, tdi_err *err)
{
    const size_t B = (size_t)t->batch;
    tdi_unet_arch arch = {(size_t)c->channels, (size_t)c->groups};
    tdi_unet *m = NULL;
    tdi_unet_adam adam = {0};
    double *abar = malloc((size_t)c->T * sizeof *abar), *beta = malloc((size_t)c->T * sizeof *beta);
    float *x0 = malloc(B * 1024 * sizeof *x0), *eps = malloc(B * 1024 * sizeof *eps);
    float *xt = malloc(B * 1024 * sizeof *xt), *tf = malloc(B * sizeof *tf);
    long *tl = malloc(B * sizeof *tl);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    uint64_t h = 0;
    long step = 0, ran = 0;
    char state[1100], tuned[1100];
    out_path(t, "tune-state.ckpt", state, sizeof state);
    out_path(t, "unet-tuned.ckpt", tuned, sizeof tuned);
    int rc = !abar || !beta || !x0 || !eps || !xt || !tf || !tl || !r
                 ? tdi_err_set(err, TDI_ENOMEM, "fine-tune: out of memory")
                 : TDI_OK;
    if (!rc)
        tdi_unet_schedule((size_t)c->T, c->beta_start, c->beta_end, beta, abar);
    if (!rc && !(rc = tdi_unet_alloc(&m, arch, B, err)) && !(rc = tdi_unet_cache_cols(m, err)) &&
        !(rc = tdi_unet_adam_init(&adam, m->n_params, err)) && !(rc = state_hash(t, &h, err)) &&
        !(rc = tdi_mkdirs(t->out, err)))
        rc = tune_start(c, t, m, &adam, h, &step, progress, err);
    if (!rc)
        m->sskip[sk->s.level] = &sk->s;
    const double t0 = tdi_clock_s(CLOCK_MONOTONIC);
    while (!rc && step < t->steps) {
        if ((rc = tune_batch(c, t, train, abar, step, r, x0, tl, tf, eps, xt, err)))
            break;
        m->sskip_draw = (1ul << 32) + (unsigned long)step * B;
        tdi_unet_forward(m, xt, tf, B, NULL);
        const double loss = tdi_unet_backward_mse(m, eps);
        if (!isfinite(loss)) {
            rc = tdi_err_set(err, TDI_ENUM, "fine-tune: loss %g at step %ld: diverged", loss, step);
            break;
        }
        tdi_unet_adam_step(&adam, m->params, m->grads, t->lr, c->beta1, c->beta2, c->adam_eps,
                           0.0, c->grad_clip);
        step++;
        ran++;
        if (stop_after > 0 && ran >= stop_after)
            break; /* simulated kill: only the periodic states were saved */
        if (step % t->ckpt_every == 0 || step == t->steps)
            rc = tdi_unet_ckpt_save(state, m, h, (uint64_t)step, 0, &adam, err);
        if (progress && (step % 5 == 0 || step == t->steps))
            fprintf(progress, "fine-tune step %ld/%ld loss %.5f, %.1f images/s\n", step, t->steps,
                    loss, (double)ran * (double)B / (tdi_clock_s(CLOCK_MONOTONIC) - t0));
    }
    if (!rc && step >= t->steps && !(stop_after > 0 && ran >= stop_after))
        rc = tdi_unet_ckpt_save(tuned, m, h, (uint64_t)step, 0, NULL, err);
    gsl_rng_free(r);
    free(abar);
    free(beta);
    free(x0);
    free(eps);
    free(xt);
    free(tf);
    free(tl);
    tdi_unet_adam_destroy(&adam);
    tdi_unet_free(m);
    return rc;
}

/* ---------------------------------------------------------------- the table */

static int table_rows(const tdi_unet_config *c, const tdi_unet_tune_cfg *t,
                      const tdi_unet_tune_skip *sk, tdi_unet *m, tdi_unet_tune_table *tab,
                      FILE *progress, tdi_err *err)
{
    static const char *names[TDI_UNET_TUNE_NROWS] = {
        "start, no skip", "start, mean skip", "start, substrate skip", "tuned, substrate skip",
        "tuned, no skip"};
    tdi_unet_dataset test = {0};
    tdi_unet_config ce = *c;
    ce.eval_n = t->eval_n;
    tdi_unet_tune_skip mean_sk = *sk;
    mean_sk.s.mode = TDI_UNET_SSKIP_MEAN;
    char tuned[1100];
    out_path(t, "unet-tuned.ckpt", tuned, sizeof tuned);
    int rc = tdi_unet_dataset_load(&test, c->data_dir, "test", err);
    for (int k = 0; k < TDI_UNET_TUNE_NROWS && !rc; k++) {
        tab->row[k] = names[k];
        if (k == 0 || k == 3)
            rc = tdi_unet_ckpt_load(k ? tuned : t->checkpoint, m, NULL, NULL, err);
        m->sskip[sk->s.level] = k == 0 || k == 4 ? NULL : k == 1 ? &mean_sk.s : &sk->s;
        tdi_unet_eval_result r;
        if (!rc)
            rc = tdi_unet_eval_model(&ce, m, &test, &r, progress, err);
        for (int q = 0; q < 4 && !rc; q++) {
            tab->mse[k][q] = r.mse[q];
            tab->n[q] = r.n[q];
        }
        tab->mse[k][4] = rc ? NAN : r.mse_all;
    }
    m->sskip[sk->s.level] = NULL;
    tdi_unet_dataset_destroy(&test);
    return rc;
}

static int table_csv(const tdi_unet_tune_cfg *t, const tdi_unet_tune_skip *sk,
                     tdi_unet_tune_table *tab, tdi_err *err)
{
    out_path(t, "table.csv", tab->csv, sizeof tab->csv);
    tdi_atomic_file af;
    int rc = tdi_atomic_open(&af, tab->csv, err);
    if (rc)
        return rc;
    /* the rows of table_rows as (model, skip) */
    static const char *model[TDI_UNET_TUNE_NROWS] = {"start", "start", "start", "tuned", "tuned"};
    static const char *skip[TDI_UNET_TUNE_NROWS] = {"none", "mean", "substrate", "substrate",
                                                    "none"};
    fprintf(af.f, "model,skip,level,k,pool,noise_ratio,captured,steps,lr,eps_mse_all,eps_mse_t0,"
                  "eps_mse_t1,eps_mse_t2,eps_mse_t3,n_images,seed,noise\n");
    for (int k = 0; k < TDI_UNET_TUNE_NROWS; k++) /* noise_ratio: rms noise sd / signal rms */
        fprintf(af.f, "%s,%s,%s,%ld,%ld,%.6g,%.6f,%ld,%g,%.6f,%.6f,%.6f,%.6f,%.6f,%ld,%ld,%s\n",
                model[k], skip[k], t->level, t->k, t->pool, sk->noise_rms / sk->signal_rms,
                sk->captured, t->steps, t->lr, tab->mse[k][4], tab->mse[k][0], tab->mse[k][1],
                tab->mse[k][2], tab->mse[k][3], tab->n[0] + tab->n[1] + tab->n[2] + tab->n[3],
                t->seed, t->noise);
    return tdi_atomic_commit(&af, err);
}

int tdi_unet_tune_run(const tdi_unet_config *c, const tdi_unet_tune_cfg *t,
                      tdi_unet_tune_table *tab, FILE *progress, tdi_err *err)
{
    memset(tab, 0, sizeof *tab);
    tdi_unet_arch arch = {(size_t)c->channels, (size_t)c->groups};
    tdi_unet *m = NULL;
    tdi_unet_dataset train = {0};
    tdi_unet_tune_skip sk = {0};
    double t0 = tdi_clock_s(CLOCK_MONOTONIC);
    int rc = tdi_unet_dataset_load(&train, c->data_dir, "train", err);
    if (!rc && !(rc = tdi_unet_alloc(&m, arch, (size_t)c->eval_batch, err)) &&
        !(rc = tdi_unet_ckpt_load(t->checkpoint, m, NULL, NULL, err)))
        rc = tdi_unet_tune_fit(c, t, m, &train, &sk, err);
    tab->fit_s = tdi_clock_s(CLOCK_MONOTONIC) - t0;
    if (!rc && progress)
        fprintf(progress, "fine-tune: %s skip k = %ld pool %ld captures %.4f of the channel "
                "variance; read-out noise (%s) sd rms %.4g (signal rms %.4g, ratio %.4g); fit "
                "%.1f s\n", t->level, t->k, t->pool, sk.captured, t->noise, sk.noise_rms,
                sk.signal_rms, sk.noise_rms / sk.signal_rms, tab->fit_s);
    t0 = tdi_clock_s(CLOCK_MONOTONIC);
    if (!rc)
        rc = tdi_unet_tune_train(c, t, &sk, &train, 0, progress, err);
    tab->tune_s = tdi_clock_s(CLOCK_MONOTONIC) - t0;
    t0 = tdi_clock_s(CLOCK_MONOTONIC);
    if (!rc)
        rc = table_rows(c, t, &sk, m, tab, progress, err);
    tab->eval_s = tdi_clock_s(CLOCK_MONOTONIC) - t0;
    if (!rc)
        rc = table_csv(t, &sk, tab, err);
    tdi_unet_tune_skip_destroy(&sk);
    tdi_unet_free(m);
    tdi_unet_dataset_destroy(&train);
    return rc;
}
