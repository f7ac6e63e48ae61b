/* tdi_unet_sampler: DDPM and DDIM sampling (see tdi_unet_sampler.h). The images of a batch go
 * through one U-Net forward per step (OpenMP + OpenBLAS inside); the per-image noise draws and
 * updates are split over images with OpenMP, each image owning its generator, so the result does
 * not depend on the number of threads. */
#include "tdi_clock.h"
#include "tdi_unet_sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "tdi_seed.h"

void tdi_unet_ddim_times(size_t T, size_t S, long *ts)
{
    for (size_t i = 0; i < S; i++)
        ts[i] = (long)(i * T / S);
}

void tdi_unet_ddpm_update(float *x, const float *eps, const float *z, size_t n, double beta_t,
                          double abar_t, double sigma)
{
    const double k1 = 1.0 / sqrt(1.0 - beta_t), k2 = beta_t / sqrt(1.0 - abar_t);
    for (size_t i = 0; i < n; i++) {
        double v = k1 * (x[i] - k2 * eps[i]);
        if (z && sigma > 0.0)
            v += sigma * z[i];
        x[i] = (float)v;
    }
}

double tdi_unet_ddim_sigma(double abar_t, double abar_prev, double eta)
{
    const double r = (1.0 - abar_prev) / (1.0 - abar_t) * (1.0 - abar_t / abar_prev);
    return r > 0.0 ? eta * sqrt(r) : 0.0;
}

void tdi_unet_ddim_update(float *x, const float *eps, const float *z, size_t n, double abar_t,
                          double abar_prev, double eta, int clip)
{
    const double sigma = tdi_unet_ddim_sigma(abar_t, abar_prev, eta);
    const double sa = sqrt(abar_t), sb = sqrt(1.0 - abar_t), sp = sqrt(abar_prev);
    const double d2 = 1.0 - abar_prev - sigma * sigma, dir = d2 > 0.0 ? sqrt(d2) : 0.0;
    for (size_t i = 0; i < n; i++) {
        double x0 = (x[i] - sb * eps[i]) / sa, e = eps[i];
        if (clip && (x0 < -1.0 || x0 > 1.0)) {
            x0 = x0 < -1.0 ? -1.0 : 1.0;
            e = (x[i] - sa * x0) / sb;
        }
        double v = sp * x0 + dir * e;
        if (z && sigma > 0.0)
            v += sigma * z[i];
        x[i] = (float)v;
    }
}

/* One step of the plan: the U-Net's t and the update's coefficients. */
typedef struct step {
    long t;
    double beta, abar, abar_prev, sigma;
} step;

/* The steps in the order they run (t descending). plan: [T] caller-owned; returns the count. */
static size_t make_plan(const tdi_unet_config *c, const tdi_unet_sampler *s, const double *beta,
                        const double *abar, long *ts, step *plan)
{
    const size_t T = (size_t)c->T;
    if (s->kind == TDI_UNET_DDPM) {
        for (size_t k = 0; k < T; k++) {
            const size_t t = T - 1 - k;
            plan[k] = (step){(long)t, beta[t], abar[t], t ? abar[t - 1] : 1.0,
                             t ? sqrt(beta[t]) : 0.0};
        }
        return T;
    }
    const size_t S = (size_t)s->steps;
    tdi_unet_ddim_times(T, S, ts);
    for (size_t k = 0; k < S; k++) {
        const size_t i = S - 1 - k;
        const double ap = i ? abar[ts[i - 1]] : 1.0;
        plan[k] = (step){ts[i], beta[ts[i]], abar[ts[i]], ap,
                         tdi_unet_ddim_sigma(abar[ts[i]], ap, s->eta)};
    }
    return S;
}

/* Draws 1024 standard normals per image of the batch from the images' own generators. */
static void draw(gsl_rng **r, size_t b, float *z)
{
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < b; i++)
        for (size_t p = 0; p < 1024; p++)
            z[i * 1024 + p] = (float)gsl_ran_gaussian_ziggurat(r[i], 1.0);
}

typedef struct progress_state {
    FILE *f;
    const char *name;
    size_t n, nsteps;
    double t0, last;
} progress_state;

static void report(progress_state *p, size_t done, size_t b, size_t k, int final)
{
    const double now = tdi_clock_s(CLOCK_MONOTONIC);
    if (!p->f || (!final && now - p->last < 1.0))
        return;
    p->last = now;
    const double imgs = (double)done + (double)b * (double)k / (double)p->nsteps;
    const double ips = imgs / (now - p->t0 + 1e-9);
    fprintf(p->f, "sample %s: images %zu/%zu, step %zu/%zu, %.2f images/s, ETA %.0f s   %s",
            p->name, done + (k == p->nsteps ? b : 0), p->n, k, p->nsteps, ips,
            ((double)p->n - imgs) / (ips > 0.0 ? ips : 1e-9), final ? "\n" : "\r");
    fflush(p->f);
}

/* The substrate skips of the step at U-Net time t: copies of sk with the step's seed (the
 * layer then draws image i's noise from stream 2 (first + i) + level under it). */
static void skips_at(tdi_unet *m, const tdi_unet_sskip *const sk[2], tdi_unet_sskip loc[2],
                     const tdi_unet_sampler *s, long t, size_t first)
{
    for (int lv = 0; lv < 2; lv++) {
        if (!sk || !sk[lv])
            continue;
        loc[lv] = *sk[lv];
        loc[lv].seed = (unsigned long)tdi_seed(s->seed, TDI_SEED_SAMPLE_SSKIP, (uint64_t)t);
        m->sskip[lv] = &loc[lv];
    }
    m->sskip_draw = first;
}

/* Runs the plan on images [first, first + b) of out (sk: substrate skips or NULL). */
static void run_batch(tdi_unet *m, const step *plan, size_t nsteps, const tdi_unet_sampler *s,
                      const tdi_unet_sskip *const sk[2], size_t first, size_t b, float *out,
                      float *z, float *tf, gsl_rng **r, progress_state *ps)
{
    tdi_unet_sskip loc[2];
    float *x = out + first * 1024;
    for (size_t i = 0; i < b; i++)
        gsl_rng_set(r[i], (unsigned long)tdi_seed(s->seed, TDI_SEED_UNET_SAMPLE, first + i));
    draw(r, b, x);
    for (size_t k = 0; k < nsteps; k++) {
        const step *st = &plan[k];
        for (size_t i = 0; i < b; i++)
            tf[i] = (float)st->t;
        if (sk)
            skips_at(m, sk, loc, s, st->t, first);
        tdi_unet_forward(m, x, tf, b, NULL);
        if (st->sigma > 0.0)
            draw(r, b, z);
        const float *zz = st->sigma > 0.0 ? z : NULL;
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < b; i++) {
            if (s->kind == TDI_UNET_DDPM)
                tdi_unet_ddpm_update(x + i * 1024, m->eps + i * 1024, zz ? zz + i * 1024 : NULL,
                                     1024, st->beta, st->abar, st->sigma);
            else
                tdi_unet_ddim_update(x + i * 1024, m->eps + i * 1024, zz ? zz + i * 1024 : NULL,
                                     1024, st->abar, st->abar_prev, s->eta, s->clip_x0);
        }
        report(ps, first, b, k + 1, 0);
    }
    for (size_t i = 0; i < b * 1024; i++)
        x[i] = x[i] < -1.0f ? -1.0f : x[i] > 1.0f ? 1.0f : x[i];
}

static int check_opts(const tdi_unet_config *c, const tdi_unet *m, const tdi_unet_sampler *s,
                      tdi_err *err)
{
    if (s->kind == TDI_UNET_DDIM && (s->steps < 1 || s->steps > c->T))
        return tdi_err_set(err, TDI_EARG, "sample: DDIM steps %ld outside 1..%ld", s->steps,
                           c->T);
    if (s->kind == TDI_UNET_DDIM && !(s->eta >= 0.0 && s->eta <= 1.0))
        return tdi_err_set(err, TDI_EARG, "sample: eta %g outside [0, 1]", s->eta);
    if (s->batch < 1 || (size_t)s->batch > m->max_batch)
        return tdi_err_set(err, TDI_EARG, "sample: batch %ld outside 1..%zu", s->batch,
                           m->max_batch);
    return TDI_OK;
}

int tdi_unet_sample_model(tdi_unet *m, const tdi_unet_config *c, const tdi_unet_sampler *s,
                          size_t n, float *out, FILE *progress, tdi_err *err)
{
    return tdi_unet_sample_sskip(m, c, s, NULL, n, out, progress, err);
}

int tdi_unet_sample_sskip(tdi_unet *m, const tdi_unet_config *c, const tdi_unet_sampler *s,
                          const tdi_unet_sskip *const sk[2], size_t n, float *out,
                          FILE *progress, tdi_err *err)
{
    if (sk && !sk[0] && !sk[1])
        sk = NULL;
    int rc = check_opts(c, m, s, err);
    if (rc)
        return rc;
    const size_t T = (size_t)c->T, B = (size_t)s->batch;
    double *beta = malloc(T * sizeof *beta), *abar = malloc(T * sizeof *abar);
    long *ts = malloc(T * sizeof *ts);
    step *plan = malloc(T * sizeof *plan);
    float *z = malloc(B * 1024 * sizeof *z), *tf = malloc(B * sizeof *tf);
    gsl_rng **r = calloc(B, sizeof *r);
    int ok = beta && abar && ts && plan && z && tf && r;
    for (size_t i = 0; ok && i < B; i++)
        ok = (r[i] = gsl_rng_alloc(gsl_rng_mt19937)) != NULL;
    if (!ok) {
        rc = tdi_err_set(err, TDI_ENOMEM, "sample: out of memory");
    } else {
        tdi_unet_schedule(T, c->beta_start, c->beta_end, beta, abar);
        const size_t nsteps = make_plan(c, s, beta, abar, ts, plan);
        char name[64];
        if (s->kind == TDI_UNET_DDPM)
            snprintf(name, sizeof name, "ddpm %zu steps", nsteps);
        else
            snprintf(name, sizeof name, "ddim %zu steps eta %g%s", nsteps, s->eta,
                     s->clip_x0 ? " clip" : "");
        if (sk)
            strncat(name, " sskip", sizeof name - strlen(name) - 1);
        progress_state ps = {progress, name, n, nsteps, tdi_clock_s(CLOCK_MONOTONIC), 0.0};
        const tdi_unet_sskip *saved[2] = {m->sskip[0], m->sskip[1]};
        const unsigned long saved_draw = m->sskip_draw;
        for (size_t f = 0; f < n; f += B) {
            const size_t b = n - f < B ? n - f : B;
            run_batch(m, plan, nsteps, s, sk, f, b, out, z, tf, r, &ps);
        }
        m->sskip[0] = saved[0];
        m->sskip[1] = saved[1];
        m->sskip_draw = saved_draw;
        report(&ps, n, 0, nsteps, 1);
    }
    for (size_t i = 0; r && i < B; i++)
        gsl_rng_free(r[i]);
    free(r);
    free(beta);
    free(abar);
    free(ts);
    free(plan);
    free(z);
    free(tf);
    return rc;
}

int tdi_unet_sample_ckpt(const tdi_unet_config *c, const char *ckpt, const tdi_unet_sampler *s,
                         size_t n, float *out, FILE *progress, tdi_err *err)
{
    return tdi_unet_sample_ckpt_sskip(c, ckpt, s, NULL, n, out, progress, err);
}

int tdi_unet_sample_ckpt_sskip(const tdi_unet_config *c, const char *ckpt,
                               const tdi_unet_sampler *s, const tdi_unet_sskip *const sk[2],
                               size_t n, float *out, FILE *progress, tdi_err *err)
{
    const tdi_unet_arch a = {(size_t)c->channels, (size_t)c->groups};
    const size_t B = s->batch > 0 && (size_t)s->batch < n ? (size_t)s->batch : n;
    tdi_unet_sampler s2 = *s;
    s2.batch = (long)B;
    tdi_unet *m = NULL;
    int rc = tdi_unet_alloc(&m, a, B, err);
    if (!rc)
        rc = tdi_unet_ckpt_load(ckpt, m, NULL, NULL, err);
    if (!rc)
        rc = tdi_unet_sample_sskip(m, c, &s2, sk, n, out, progress, err);
    tdi_unet_free(m);
    return rc;
}
