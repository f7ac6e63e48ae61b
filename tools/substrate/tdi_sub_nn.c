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

int tdi_sub_mlp_train(tdi_sub_mlp *m, const double *X, const double *T, size_t n,
                      const tdi_sub_train_opts *o, double *final_loss, tdi_err *err)
{
    if (n == 0 || o->batch < 1 || o->epochs < 0)
        return tdi_err_set(err, TDI_EARG, "interface training: n = %zu, batch = %ld, epochs = "
                           "%ld", n, o->batch, o->epochs);
    size_t bs = (size_t)o->batch < n ? (size_t)o->batch : n;
    size_t np = mlp_count(m);
    double *g = malloc(np * sizeof *g), *mom = calloc(np, sizeof *mom);
    double *vel = calloc(np, sizeof *vel);
    double *Xb = malloc(bs * m->in * sizeof *Xb), *Tb = malloc(bs * m->out * sizeof *Tb);
    size_t *perm = malloc(n * sizeof *perm);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    mlp_ws w;
    int wsrc = ws_init(&w, m, bs);
    int rc = 0;
    if (!g || !mom || !vel || !Xb || !Tb || !perm || !rng || wsrc) {
        rc = tdi_err_set(err, TDI_ENOMEM, "interface training: out of memory");
        goto done;
    }
    /* the minibatch order must not reuse the initialisation stream */
    gsl_rng_set(rng, tdi_seed(o->seed, TDI_SEED_FIT_BATCH, 0));
    for (size_t i = 0; i < n; i++)
        perm[i] = i;
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8; /* PyTorch Adam defaults */
    double *p = m->w1;
    long step = 0;
    for (long ep = 0; ep < o->epochs; ep++) {
        gsl_ran_shuffle(rng, perm, n, sizeof *perm);
        for (size_t s = 0; s < n; s += bs) {
            size_t b = n - s < bs ? n - s : bs;
            for (size_t i = 0; i < b; i++) {
                memcpy(Xb + i * m->in, X + perm[s + i] * m->in, m->in * sizeof *Xb);
                memcpy(Tb + i * m->out, T + perm[s + i] * m->out, m->out * sizeof *Tb);
            }
            double loss = mlp_bwd(m, Xb, Tb, b, &w, g);
            if (!isfinite(loss)) {
                rc = tdi_err_set(err, TDI_ENUM, "interface training diverged at epoch %ld "
                                 "(loss %g); lower substrate.lr", ep, loss);
                goto done;
            }
            step++;
            double c1 = 1.0 - pow(b1, (double)step), c2 = 1.0 - pow(b2, (double)step);
            for (size_t i = 0; i < np; i++) {
                double gi = g[i] + o->weight_decay * p[i];
                mom[i] = b1 * mom[i] + (1.0 - b1) * gi;
                vel[i] = b2 * vel[i] + (1.0 - b2) * gi * gi;
                p[i] -= o->lr * (mom[i] / c1) / (sqrt(vel[i] / c2) + eps);
            }
        }
    }
    if (final_loss)
        *final_loss = tdi_sub_mlp_mse(m, X, T, n);
done:
    free(g);
    free(mom);
    free(vel);
    free(Xb);
    free(Tb);
    free(perm);
    gsl_rng_free(rng);
    ws_destroy(&w);
    return rc;
}
