/* tdi_sub_nn: the digital interface of docs/paper.md ("Definition 2"): two-layer perceptrons
 * (linear bottleneck D->4->D, transfer D->16->SiLU->D), trained in C with minibatch Adam on MSE.
 * Invariants: parameters live in one block (w1, b1, w2, b2 in that order; owned through w1);
 * every random draw comes from a gsl_rng seeded from the caller's seed; batch GEMMs via BLAS.
 * Non-goals: other architectures, GPUs, learning-rate schedules. */
#include "tdi_sub.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "tdi_seed.h"

static size_t mlp_count(const tdi_sub_mlp *m)
{
    return m->hidden * m->in + m->hidden + m->out * m->hidden + m->out;
}

size_t tdi_sub_mlp_nweights(const tdi_sub_mlp *m)
{
    return m->hidden * m->in + m->out * m->hidden;
}

size_t tdi_sub_mlp_nparams(const tdi_sub_mlp *m)
{
    return mlp_count(m);
}

int tdi_sub_mlp_init(tdi_sub_mlp *m, size_t in, size_t hidden, size_t out, int silu,
                     unsigned long seed, tdi_err *err)
{
    memset(m, 0, sizeof *m);
    m->in = in;
    m->hidden = hidden;
    m->out = out;
    m->silu = silu;
    size_t np = mlp_count(m);
    m->w1 = malloc(np * sizeof *m->w1);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!m->w1 || !rng) {
        free(m->w1);
        gsl_rng_free(rng);
        memset(m, 0, sizeof *m);
        return tdi_err_set(err, TDI_ENOMEM, "interface network: out of memory");
    }
    m->b1 = m->w1 + hidden * in;
    m->w2 = m->b1 + hidden;
    m->b2 = m->w2 + out * hidden;
    gsl_rng_set(rng, seed);
    /* PyTorch nn.Linear: weight and bias uniform in +-1/sqrt(fan_in) */
    double a1 = 1.0 / sqrt((double)in), a2 = 1.0 / sqrt((double)hidden);
    for (size_t i = 0; i < hidden * in + hidden; i++)
        m->w1[i] = gsl_ran_flat(rng, -a1, a1);
    for (size_t i = 0; i < out * hidden + out; i++)
        m->w2[i] = gsl_ran_flat(rng, -a2, a2);
    gsl_rng_free(rng);
    return 0;
}

void tdi_sub_mlp_destroy(tdi_sub_mlp *m)
{
    if (!m)
        return;
    free(m->w1);
    memset(m, 0, sizeof *m);
}

static double sigmoid(double h)
{
    return 1.0 / (1.0 + exp(-h));
}

/* Work buffers for a batch of at most cap rows. */
typedef struct {
    size_t cap;
    double *H;  /* (cap, hidden) pre-activation */
    double *Ha; /* (cap, hidden) activation */
    double *Y;  /* (cap, out) */
} mlp_ws;

static int ws_init(mlp_ws *w, const tdi_sub_mlp *m, size_t cap)
{
    w->cap = cap;
    w->H = malloc(cap * m->hidden * sizeof *w->H);
    w->Ha = malloc(cap * m->hidden * sizeof *w->Ha);
    w->Y = malloc(cap * m->out * sizeof *w->Y);
    return w->H && w->Ha && w->Y ? 0 : -1;
}

static void ws_destroy(mlp_ws *w)
{
    free(w->H);
    free(w->Ha);
    free(w->Y);
}

/* forward of n <= cap rows into w->Y (and w->H, w->Ha for the backward pass) */
static void mlp_fwd(const tdi_sub_mlp *m, const double *X, size_t n, mlp_ws *w)
{
    size_t h = m->hidden, o = m->out;
    for (size_t i = 0; i < n; i++)
        memcpy(w->H + i * h, m->b1, h * sizeof *w->H);
    tdi_sub_gemm(0, 1, n, h, m->in, 1.0, X, m->w1, 1.0, w->H);
    for (size_t i = 0; i < n * h; i++)
        w->Ha[i] = m->silu ? w->H[i] * sigmoid(w->H[i]) : w->H[i];
    for (size_t i = 0; i < n; i++)
        memcpy(w->Y + i * o, m->b2, o * sizeof *w->Y);
    tdi_sub_gemm(0, 1, n, o, h, 1.0, w->Ha, m->w2, 1.0, w->Y);
}

/* Loss and gradient of MSE (mean over n*out entries) of one batch; g in parameter order.
 * Overwrites w->Y with dL/dY and w->H with dL/dH. */
static double mlp_bwd(const tdi_sub_mlp *m, const double *X, const double *T, size_t n,
                      mlp_ws *w, double *g)
{
    size_t h = m->hidden, o = m->out, in = m->in;
    double *gw1 = g, *gb1 = g + h * in, *gw2 = gb1 + h, *gb2 = gw2 + o * h;
    mlp_fwd(m, X, n, w);
    double loss = 0.0, sc = 2.0 / (double)(n * o);
    for (size_t i = 0; i < n * o; i++) {
        double e = w->Y[i] - T[i];
        loss += e * e;
        w->Y[i] = sc * e; /* dL/dY */
    }
    loss /= (double)(n * o);
    tdi_sub_gemm(1, 0, o, h, n, 1.0, w->Y, w->Ha, 0.0, gw2);
    for (size_t j = 0; j < o; j++)
        gb2[j] = 0.0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < o; j++)
            gb2[j] += w->Y[i * o + j];
    /* dL/dHa = dY W2, then through the activation: silu'(h) = s (1 + h (1 - s)) */
    double *dHa = w->Ha; /* Ha is no longer needed */
    tdi_sub_gemm(0, 0, n, h, o, 1.0, w->Y, m->w2, 0.0, dHa);
    for (size_t i = 0; i < n * h; i++) {
        if (m->silu) {
            double s = sigmoid(w->H[i]);
            w->H[i] = dHa[i] * s * (1.0 + w->H[i] * (1.0 - s));
        } else {
            w->H[i] = dHa[i];
        }
    }
    tdi_sub_gemm(1, 0, h, in, n, 1.0, w->H, X, 0.0, gw1);
    for (size_t j = 0; j < h; j++)
        gb1[j] = 0.0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < h; j++)
            gb1[j] += w->H[i * h + j];
    return loss;
}

int tdi_sub_mlp_forward(const tdi_sub_mlp *m, const double *X, size_t n, double *Y,
                        tdi_err *err)
{
    const size_t chunk = 4096;
    mlp_ws w;
    if (ws_init(&w, m, chunk)) {
        ws_destroy(&w);
        return tdi_err_set(err, TDI_ENOMEM, "interface forward: out of memory");
    }
    for (size_t s = 0; s < n; s += chunk) {
        size_t b = n - s < chunk ? n - s : chunk;
        mlp_fwd(m, X + s * m->in, b, &w);
        memcpy(Y + s * m->out, w.Y, b * m->out * sizeof *Y);
    }
    ws_destroy(&w);
    return 0;
}

double tdi_sub_mlp_mse(const tdi_sub_mlp *m, const double *X, const double *T, size_t n)
{
    double *Y = malloc(n * m->out * sizeof *Y);
    if (!Y || tdi_sub_mlp_forward(m, X, n, Y, NULL)) {
        free(Y);
        return NAN;
    }
    double s = 0.0;
    for (size_t i = 0; i < n * m->out; i++)
        s += (Y[i] - T[i]) * (Y[i] - T[i]);
    free(Y);
    return s / (double)(n * m->out);
}

int tdi_sub_mlp_grad(const tdi_sub_mlp *m, const double *X, const double *T, size_t n,
                     double *g, tdi_err *err)
{
    mlp_ws w;
    if (ws_init(&w, m, n)) {
        ws_destroy(&w);
        return tdi_err_set(err, TDI_ENOMEM, "interface gradient: out of memory");
    }
    mlp_bwd(m, X, T, n, &w, g);
    ws_destroy(&w);
    return 0;
}

/* Minibatch Adam state and buffers of one training run. */
typedef struct {
    size_t bs, np;
    double *g, *mom, *vel, *Xb, *Tb;
    size_t *perm;
    gsl_rng *rng;
    mlp_ws w;
    long step;
} mlp_trainer;

static void trainer_destroy(mlp_trainer *t)
{
    free(t->g);
    free(t->mom);
    free(t->vel);
    free(t->Xb);
    free(t->Tb);
    free(t->perm);
    gsl_rng_free(t->rng);
    ws_destroy(&t->w);
}

static int trainer_init(mlp_trainer *t, const tdi_sub_mlp *m, size_t n, const tdi_sub_train_opts *o,
                        tdi_err *err)
{
    memset(t, 0, sizeof *t);
    t->bs = (size_t)o->batch < n ? (size_t)o->batch : n;
    t->np = mlp_count(m);
    t->g = malloc(t->np * sizeof *t->g);
    t->mom = calloc(t->np, sizeof *t->mom);
    t->vel = calloc(t->np, sizeof *t->vel);
    t->Xb = malloc(t->bs * m->in * sizeof *t->Xb);
    t->Tb = malloc(t->bs * m->out * sizeof *t->Tb);
    t->perm = malloc(n * sizeof *t->perm);
    t->rng = gsl_rng_alloc(gsl_rng_mt19937);
    int wsrc = ws_init(&t->w, m, t->bs);
    if (!t->g || !t->mom || !t->vel || !t->Xb || !t->Tb || !t->perm || !t->rng || wsrc) {
        trainer_destroy(t);
        memset(t, 0, sizeof *t);
        return tdi_err_set(err, TDI_ENOMEM, "interface training: out of memory");
    }
    /* the minibatch order must not reuse the initialisation stream */
    gsl_rng_set(t->rng, tdi_seed(o->seed, TDI_SEED_FIT_BATCH, 0));
    for (size_t i = 0; i < n; i++)
        t->perm[i] = i;
    return 0;
}

/* One epoch of minibatch Adam over the n rows of (X, T). */
static int train_epoch(tdi_sub_mlp *m, const double *X, const double *T, size_t n,
                       const tdi_sub_train_opts *o, mlp_trainer *t, long ep, tdi_err *err)
{
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8; /* PyTorch Adam defaults */
    double *p = m->w1;
    gsl_ran_shuffle(t->rng, t->perm, n, sizeof *t->perm);
    for (size_t s = 0; s < n; s += t->bs) {
        size_t b = n - s < t->bs ? n - s : t->bs;
        for (size_t i = 0; i < b; i++) {
            memcpy(t->Xb + i * m->in, X + t->perm[s + i] * m->in, m->in * sizeof *t->Xb);
            memcpy(t->Tb + i * m->out, T + t->perm[s + i] * m->out, m->out * sizeof *t->Tb);
        }
        double loss = mlp_bwd(m, t->Xb, t->Tb, b, &t->w, t->g);
        if (!isfinite(loss))
            return tdi_err_set(err, TDI_ENUM, "interface training diverged at epoch %ld (loss "
                               "%g); lower substrate.lr%s", ep, loss, o->standardise ? "" :
                               " or set substrate.standardise: true");
        t->step++;
        double c1 = 1.0 - pow(b1, (double)t->step), c2 = 1.0 - pow(b2, (double)t->step);
        for (size_t i = 0; i < t->np; i++) {
            double gi = t->g[i] + o->weight_decay * p[i];
            t->mom[i] = b1 * t->mom[i] + (1.0 - b1) * gi;
            t->vel[i] = b2 * t->vel[i] + (1.0 - b2) * gi * gi;
            p[i] -= o->lr * (t->mom[i] / c1) / (sqrt(t->vel[i] / c2) + eps);
        }
    }
    return 0;
}

/* Trains on rows [0, n_tr) for o->epochs; with n_val > 0 rows after them, evaluates their MSE
 * after every epoch, keeps the best parameters and stops after o->patience epochs without a
 * better one. *epochs_run (may be NULL): epochs trained; *best_epoch: the one kept (1-based). */
static int train_loop(tdi_sub_mlp *m, const double *X, const double *T, size_t n_tr,
                      size_t n_val, const tdi_sub_train_opts *o, long *epochs_run,
                      long *best_epoch, tdi_err *err)
{
    mlp_trainer t;
    int rc = trainer_init(&t, m, n_tr, o, err);
    if (rc)
        return rc;
    double *best = n_val ? malloc(t.np * sizeof *best) : NULL, best_mse = INFINITY;
    long ep = 0, kept = 0;
    if (n_val && !best)
        rc = tdi_err_set(err, TDI_ENOMEM, "interface training: out of memory");
    for (; !rc && ep < o->epochs; ep++) {
        if ((rc = train_epoch(m, X, T, n_tr, o, &t, ep, err)) || !n_val)
            continue;
        double v = tdi_sub_mlp_mse(m, X + n_tr * m->in, T + n_tr * m->out, n_val);
        if (v < best_mse) {
            best_mse = v;
            kept = ep + 1;
            memcpy(best, m->w1, t.np * sizeof *best);
        } else if (ep + 1 - kept >= o->patience) {
            ep++;
            break;
        }
    }
    if (!rc && n_val && kept)
        memcpy(m->w1, best, t.np * sizeof *best);
    if (epochs_run)
        *epochs_run = ep;
    if (best_epoch)
        *best_epoch = n_val ? kept : ep;
    free(best);
    trainer_destroy(&t);
    return rc;
}

/* Per-column mean and std of the first n rows of X (n x d); a std below 1e-12 of the largest
 * (a constant column) becomes 1, so it passes unscaled. */
static void col_stats(const double *X, size_t n, size_t d, double *mu, double *sd)
{
    double smax = 0;
    for (size_t j = 0; j < d; j++) {
        double s = 0, q = 0;
        for (size_t i = 0; i < n; i++)
            s += X[i * d + j];
        mu[j] = s / (double)n;
        for (size_t i = 0; i < n; i++)
            q += (X[i * d + j] - mu[j]) * (X[i * d + j] - mu[j]);
        sd[j] = sqrt(q / (double)n);
        smax = fmax(smax, sd[j]);
    }
    for (size_t j = 0; j < d; j++)
        if (!(sd[j] > 1e-12 * smax))
            sd[j] = 1.0;
}

/* Undoes the standardisation in the weights: the net maps (x - mx)/sx to (t - mt)/st; the
 * returned net maps x to t: W1' = W1 diag(1/sx), b1' = b1 - W1' mx, W2' = diag(st) W2,
 * b2' = st b2 + mt (exact for both activations: only the layers' affine parts change). */
static void fold_standardisation(tdi_sub_mlp *m, const double *mx, const double *sx,
                                 const double *mt, const double *st)
{
    for (size_t h = 0; h < m->hidden; h++)
        for (size_t j = 0; j < m->in; j++) {
            m->w1[h * m->in + j] /= sx[j];
            m->b1[h] -= m->w1[h * m->in + j] * mx[j];
        }
    for (size_t o = 0; o < m->out; o++) {
        for (size_t h = 0; h < m->hidden; h++)
            m->w2[o * m->hidden + h] *= st[o];
        m->b2[o] = st[o] * m->b2[o] + mt[o];
    }
}

/* (X - mu) / sd row by row into Y (n x d). */
static void standardise_rows(const double *X, size_t n, size_t d, const double *mu,
                             const double *sd, double *Y)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            Y[i * d + j] = (X[i * d + j] - mu[j]) / sd[j];
}

/* The standardised and/or validated run: statistics of the training rows only. */
static int train_scaled(tdi_sub_mlp *m, const double *X, const double *T, size_t n,
                        size_t n_val, const tdi_sub_train_opts *o, tdi_sub_train_info *info,
                        tdi_err *err)
{
    size_t n_tr = n - n_val, din = m->in, dout = m->out;
    double *st = malloc((2 * din + 2 * dout) * sizeof *st);
    double *Xs = malloc(n * din * sizeof *Xs), *Ts = malloc(n * dout * sizeof *Ts);
    if (!st || !Xs || !Ts) {
        free(st), free(Xs), free(Ts);
        return tdi_err_set(err, TDI_ENOMEM, "interface training: out of memory");
    }
    double *mx = st, *sx = mx + din, *mt = sx + din, *sdt = mt + dout;
    for (size_t j = 0; j < din; j++)
        mx[j] = 0, sx[j] = 1;
    for (size_t j = 0; j < dout; j++)
        mt[j] = 0, sdt[j] = 1;
    if (o->standardise) {
        col_stats(X, n_tr, din, mx, sx);
        col_stats(T, n_tr, dout, mt, sdt);
    }
    standardise_rows(X, n, din, mx, sx, Xs);
    standardise_rows(T, n, dout, mt, sdt, Ts);
    int rc = train_loop(m, Xs, Ts, n_tr, n_val, o, &info->epochs_run, &info->best_epoch, err);
    if (!rc)
        fold_standardisation(m, mx, sx, mt, sdt);
    free(st), free(Xs), free(Ts);
    return rc;
}

int tdi_sub_mlp_train_info(tdi_sub_mlp *m, const double *X, const double *T, size_t n,
                           const tdi_sub_train_opts *o, tdi_sub_train_info *info, tdi_err *err)
{
    memset(info, 0, sizeof *info);
    if (n == 0 || o->batch < 1 || o->epochs < 0 || !(o->val_frac >= 0 && o->val_frac < 1))
        return tdi_err_set(err, TDI_EARG, "interface training: n = %zu, batch = %ld, epochs = "
                           "%ld, val_frac = %g", n, o->batch, o->epochs, o->val_frac);
    size_t n_val = (size_t)floor(o->val_frac * (double)n + 0.5);
    if (n_val >= n)
        n_val = n - 1;
    info->n_val = n_val;
    int rc;
    if (o->standardise || n_val)
        rc = train_scaled(m, X, T, n, n_val, o, info, err);
    else /* the released code's training: raw scale, every epoch, all rows */
        rc = train_loop(m, X, T, n, 0, o, &info->epochs_run, &info->best_epoch, err);
    if (rc)
        return rc;
    info->loss = tdi_sub_mlp_mse(m, X, T, n);
    info->val_loss = n_val ? tdi_sub_mlp_mse(m, X + (n - n_val) * m->in,
                                             T + (n - n_val) * m->out, n_val) : NAN;
    return 0;
}

int tdi_sub_mlp_train(tdi_sub_mlp *m, const double *X, const double *T, size_t n,
                      const tdi_sub_train_opts *o, double *final_loss, tdi_err *err)
{
    tdi_sub_train_info info;
    int rc = tdi_sub_mlp_train_info(m, X, T, n, o, &info, err);
    if (!rc && final_loss)
        *final_loss = info.loss;
    return rc;
}
