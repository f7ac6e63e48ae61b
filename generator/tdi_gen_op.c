/* tdi_gen_op: the operating point from physics. tdi_gen_op_choose is a pure function (model in
 * tdi_gen.h); tdi_gen_op_resolve feeds it the bundle's signal, the spectrum of M (the thermal
 * read-out noise of an n-conversion mean, the formula tdi-cosim's sde predictor evaluates) and
 * the energy ledger's coefficients, then moves the built circuit to the chosen Vs and window.
 * Both tdi-gen and tdi-cosim reach it through tdi_gen_circuit_build: one choice, one place.
 * Non-goals: choosing gu/Cu/T (physical inputs), the DAC (its energy does not depend on it). */
#include "tdi_gen.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_eigen.h>
#include <gsl/gsl_matrix.h>

#include "tdi_gen_int.h"

#define OP_NSD 6.0  /* thermal std counted in the swing and in the ADC full scale (tdi-cosim) */
#define OP_FS 1.1   /* ADC full scale margin (tdi-cosim's auto full scale) */

double tdi_gen_ar1_mean_factor(long n, double rho)
{
    double nn = (double)n;
    if (n <= 1)
        return 1.0;
    return ((1 + rho) / (1 - rho) - 2 * rho * (1 - pow(rho, nn)) / (nn * (1 - rho) * (1 - rho))) /
           nn;
}

double tdi_gen_quant_var(double q, double sigma, long n)
{
    if (!(q > 0))
        return 0;
    /* the part of the quantisation error that follows the input (conditional mean given the
       slowly varying level, Gaussian noise sigma): sum_k q^2/(2 pi^2 k^2) e^(-4 pi^2 k^2 s^2/q^2);
       terms past exponent 30 are dropped, a capped sum gets its 1/k^2 tail */
    double a = 4 * M_PI * M_PI * sigma * sigma / (q * q), c = 0, q2 = q * q / (2 * M_PI * M_PI);
    long K = a > 0 ? (long)ceil(sqrt(30.0 / a)) : 1000;
    if (K > 1000)
        K = 1000;
    for (long k = 1; k <= K; k++)
        c += q2 / ((double)k * (double)k) * exp(-a * (double)k * (double)k);
    if (K == 1000)
        c += q2 / 1000.0 * exp(-a * 1e6);
    double tot = q * q / 12.0;
    c = fmin(c, tot);
    return (tot - c) / (double)(n < 1 ? 1 : n) + c;
}

/* S(b) = sum_k q^2/(2 pi^2 k^2) e^(-b k^2): the covariance of the rounding errors of two
   conversions whose Gaussian dither differs by a variance 2 sigma^2 (1 - rho), b = 4 pi^2 sigma^2
   (1 - rho) / q^2 (the level uniform over a step). Small b by Jacobi's theta transform,
   q^2/(2 pi^2) (pi^2/6 - sqrt(pi b) + b/2), exact but for O(e^(-pi^2/b)) < 1e-17 at b < 0.25;
   else the series, whose terms past k^2 b = 40 are below 1e-18 of the first. */
static double quant_cov(double q, double b)
{
    double q2 = q * q / (2 * M_PI * M_PI);
    if (!(b > 0))
        return q * q / 12.0;
    if (b < 0.25)
        return q2 * (M_PI * M_PI / 6.0 - sqrt(M_PI * b) + 0.5 * b);
    double c = 0;
    for (long k = 1; (double)(k * k) * b <= 40.0 + b; k++)
        c += q2 / ((double)k * (double)k) * exp(-b * (double)k * (double)k);
    return c;
}

double tdi_gen_quant_var_acf(double q, double sigma, long n, const double *rho)
{
    if (!(q > 0))
        return 0;
    if (n < 1)
        n = 1;
    double a = 4 * M_PI * M_PI * sigma * sigma / (q * q), acc = (double)n * q * q / 12.0;
    double c_ind = quant_cov(q, a);
    for (long k = 1; k < n; k++) {
        double r = rho ? fmin(fmax(rho[k], -1.0), 1.0) : 0.0;
        acc += 2.0 * (double)(n - k) * (rho ? quant_cov(q, a * (1.0 - r)) : c_ind);
    }
    return acc / ((double)n * (double)n);
}

/* noise^2 in units^2 at theta for n conversions of `bits` (g2 = noise1(n)^2) */
static double op_noise2(const tdi_gen_op_in *in, double g2, long n, long bits, double theta)
{
    double fs = OP_FS * (in->y_max + OP_NSD * sqrt(theta) * in->sd1_dec);
    double q = 2 * fs / ldexp(1.0, (int)bits), vq = 0, st = sqrt(theta);
    if (in->n_units == 0)
        vq = tdi_gen_quant_var(q, st * in->sd1_dec, n);
    for (size_t i = 0; i < in->n_units; i++)
        vq += tdi_gen_quant_var(q, st * in->sd1_units[i], n) / (double)in->n_units;
    return theta * g2 + vq;
}

/* the largest theta in [1e-30, 1e12] with noise <= budget (noise is increasing in theta);
   0 when even theta -> 0 misses it (the quantisation floor) */
static double op_theta_max(const tdi_gen_op_in *in, double g2, long n, long bits, double b2)
{
    double lo = log(1e-30), hi = log(1e12);
    if (op_noise2(in, g2, n, bits, exp(lo)) > b2)
        return 0;
    if (op_noise2(in, g2, n, bits, exp(hi)) <= b2)
        return exp(hi);
    for (int it = 0; it < 200 && hi - lo > 1e-10; it++) {
        double mid = 0.5 * (lo + hi);
        if (op_noise2(in, g2, n, bits, exp(mid)) <= b2)
            lo = mid;
        else
            hi = mid;
    }
    return exp(lo);
}

static void op_energy(const tdi_gen_op_in *in, tdi_gen_op *o)
{
    double T_inf = in->t_settle + (double)o->n_conv * in->spacing;
    o->e_adc = (double)in->n_read * (double)o->n_conv * in->adc_fom * ldexp(1.0, (int)o->bits);
    o->e_circ = in->p_vs2 * o->Vs * o->Vs * T_inf;
    o->e_active = in->p_static * T_inf;
    o->energy = o->e_adc + o->e_circ + o->e_active;
}

/* the window grid: every n for the first 64, then steps of 5% (the energy is smooth in n) */
static long op_next_n(const tdi_gen_op_in *in, long n)
{
    long step = n - in->n_min < 64 ? 1 : (long)ceil(0.05 * (double)n);
    return n < in->n_max && n + step > in->n_max ? in->n_max : n + step;
}

/* cheapest (bits, n) with theta within [theta_lo, inf); 0 = none. g2[n - n_min] */
static int op_search(const tdi_gen_op_in *in, const double *g2, double theta_lo, tdi_gen_op *best)
{
    double b2 = in->target * in->signal * in->target * in->signal;
    int found = 0;
    for (long bits = in->bits_min; bits <= in->bits_max; bits++)
        for (long n = in->n_min; n <= in->n_max; n = op_next_n(in, n)) {
            double th = op_theta_max(in, g2[n - in->n_min], n, bits, b2);
            if (!(th > 0) || th < theta_lo)
                continue;
            tdi_gen_op o = *best;
            o.theta = th;
            o.Vs = tdi_phys_vs_of_theta(in->T, in->Cu, th);
            o.n_conv = n;
            o.bits = bits;
            op_energy(in, &o);
            if (!found || o.energy < best->energy) {
                *best = o;
                found = 1;
            }
        }
    return found;
}

static int op_check_in(const tdi_gen_op_in *in, tdi_err *err)
{
    if (!(in->target > 0) || !(in->signal > 0) || !(in->v_swing > 0) || !(in->spacing > 0) ||
        in->n_min < 1 || in->n_max < in->n_min || in->bits_min < 1 || in->bits_max > 30 ||
        in->bits_max < in->bits_min || !in->noise1 || !(in->T > 0) || !(in->Cu > 0) ||
        !(in->z_max > 0))
        return tdi_err_set(err, TDI_ECONFIG, "operating point: needs circuit.target_noise_ratio "
                           "> 0, a per-sample signal > 0 (got %.3g units), circuit.v_swing > 0, "
                           "op_avg_relax_min <= op_avg_relax_max, op_adc_bits_min <= "
                           "op_adc_bits_max <= 30", in->signal);
    return 0;
}

/* g(n)^2 on the window grid (NaN between grid points); NULL when out of memory */
static double *op_thermal(const tdi_gen_op_in *in, size_t nn)
{
    double *g2 = malloc(nn * sizeof *g2);
    if (!g2)
        return NULL;
    for (size_t q = 0; q < nn; q++)
        g2[q] = NAN;
    for (long n = in->n_min; n <= in->n_max; n = op_next_n(in, n)) {
        double g = in->noise1(in->ctx, n);
        g2[n - in->n_min] = g * g;
        if (n == in->n_max)
            break;
    }
    return g2;
}

/* what binds at op: the target always; the swing when the search without it is cheaper
   (free_op); the window and bits limits when the choice sits on them */
static unsigned op_binds(const tdi_gen_op_in *in, const tdi_gen_op *op, const tdi_gen_op *free_op)
{
    unsigned b = TDI_GEN_OP_BIND_TARGET;
    if (free_op && free_op->energy < op->energy * (1 - 1e-9))
        b |= TDI_GEN_OP_BIND_SWING;
    if (op->n_conv == in->n_min)
        b |= TDI_GEN_OP_BIND_WINDOW_MIN;
    if (op->n_conv == in->n_max)
        b |= TDI_GEN_OP_BIND_WINDOW_MAX;
    if (op->bits == in->bits_max)
        b |= TDI_GEN_OP_BIND_BITS_MAX;
    return b;
}

int tdi_gen_op_choose(const tdi_gen_op_in *in, tdi_gen_op *op, tdi_err *err)
{
    memset(op, 0, sizeof *op);
    int rc = op_check_in(in, err);
    if (rc)
        return rc;
    /* sqrt(kB T / Cu) is Vs at theta = 1: the rms of a lone unit in volts */
    double sd_th = OP_NSD * tdi_phys_vs_of_theta(in->T, in->Cu, 1.0) * in->sd1_max; /* V */
    if (in->v_swing <= sd_th)
        return tdi_err_set(err, TDI_ECONFIG, "operating point: circuit.v_swing = %.4g V is too "
                           "small: %g thermal std of the noisiest node alone (kB T/Cu at Cu = "
                           "%.3g F, T = %.4g K) take %.4g V; raise circuit.v_swing or Cu",
                           in->v_swing, OP_NSD, in->Cu, in->T, sd_th);
    size_t nn = (size_t)(in->n_max - in->n_min + 1);
    double *g2 = op_thermal(in, nn);
    if (!g2)
        return tdi_err_set(err, TDI_ENOMEM, "operating point: out of memory");
    op->vs_max = (in->v_swing - sd_th) / in->z_max;
    double theta_lo = tdi_phys_theta_of_vs(in->T, in->Cu, op->vs_max);
    op->target = in->target;
    op->v_swing = in->v_swing;
    op->signal = in->signal;
    op->spacing = in->spacing;
    tdi_gen_op free_op = *op;
    int found = op_search(in, g2, theta_lo, op);
    int found_free = op_search(in, g2, 0, &free_op);
    if (!found) {
        double n2 = op_noise2(in, g2[nn - 1], in->n_max, in->bits_max, theta_lo);
        free(g2);
        return tdi_err_set(err, TDI_ECONFIG, "operating point: circuit.target_noise_ratio = %.4g "
                           "is not reachable: at the swing limit (circuit.v_swing = %.4g V: Vs <= "
                           "%.4g V/unit, theta >= %.3g), the longest window (%ld conversions, "
                           "circuit.op_avg_relax_max) and the finest ADC (circuit.op_adc_bits_max "
                           "= %ld bits) the read-out noise is %.4g of the signal (%.4g units); "
                           "raise circuit.v_swing or circuit.op_avg_relax_max, or relax the "
                           "target", in->target, in->v_swing, op->vs_max, theta_lo, in->n_max,
                           in->bits_max, sqrt(n2) / in->signal, in->signal);
    }
    free(g2);
    double g_at = in->noise1(in->ctx, op->n_conv);
    op->noise = sqrt(op_noise2(in, g_at * g_at, op->n_conv, op->bits, op->theta));
    op->swing = op->Vs * in->z_max + sd_th;
    op->avg_relax = 0; /* set by the caller (it knows the slowest relaxation time) */
    op->binds = op_binds(in, op, found_free ? &free_op : NULL);
    op->active = 1;
    return 0;
}

void tdi_gen_op_binds_text(const tdi_gen_op *op, char *buf, size_t size)
{
    static const char *const word[] = {"the target (noise = target x signal)",
                                       "the swing (circuit.v_swing)",
                                       "the minimum window (circuit.op_avg_relax_min)",
                                       "the window cap (circuit.op_avg_relax_max)",
                                       "the ADC bits cap (circuit.op_adc_bits_max)"};
    size_t w = 0;
    buf[0] = '\0';
    for (int b = 0; b < 5; b++)
        if (op->binds & (1u << b) && w < size) {
            int m = snprintf(buf + w, size - w, "%s%s", w ? ", " : "", word[b]);
            w += m > 0 ? (size_t)m : 0;
        }
}

/* ---------- feeding the chooser from a built circuit ---------- */
typedef struct {
    size_t N, D, o;  /* units, read-out units, first read-out unit */
    double *mu;      /* (N) eigenvalues of M */
    double *V;       /* (N, N) eigenvectors, column m = mode m */
    double tau, spacing, gain; /* s, s, readout_gain */
    int first_order; /* the unit kind's first_order: exact AR(1) formula, else the window one */
    double *minv2;   /* (D) (M^-2)_ii of the decoder units (rlc: continuous-window formula) */
} op_spec;

/* rms over decoder units of the thermal noise (units, theta = 1) of the mean of n conversions:
   rc: sum_m V_im^2 / mu_m F(n, e^(-mu_m spacing / tau)) (tdi-cosim's sde predictor);
   rlc: readout_gain 2 tau / W (M^-2)_ii with W = n spacing (the generator's window formula) */
static double op_spec_noise1(void *ctx, long n)
{
    const op_spec *s = ctx;
    double acc = 0;
    for (size_t i = s->o; i < s->o + s->D; i++) {
        if (!s->first_order) {
            acc += s->gain * 2 * s->tau / ((double)n * s->spacing) * s->minv2[i - s->o];
            continue;
        }
        for (size_t m = 0; m < s->N; m++) {
            double v = s->V[i * s->N + m];
            acc += v * v / s->mu[m] *
                   tdi_gen_ar1_mean_factor(n, exp(-s->mu[m] * s->spacing / s->tau));
        }
    }
    return sqrt(acc / (double)s->D);
}

static int op_spec_init(const double *M, size_t N, op_spec *s, tdi_err *err)
{
    gsl_matrix *A = gsl_matrix_alloc(N, N), *E = gsl_matrix_alloc(N, N);
    gsl_vector *ev = gsl_vector_alloc(N);
    gsl_eigen_symmv_workspace *ws = gsl_eigen_symmv_alloc(N);
    s->mu = malloc(N * sizeof *s->mu);
    s->V = malloc(N * N * sizeof *s->V);
    int rc = 0;
    if (!A || !E || !ev || !ws || !s->mu || !s->V) {
        rc = tdi_err_set(err, TDI_ENOMEM, "operating point: out of memory");
    } else {
        memcpy(A->data, M, N * N * sizeof *M);
        if (gsl_eigen_symmv(A, ev, E, ws))
            rc = tdi_err_set(err, TDI_ENUM, "operating point: eigen-decomposition of M failed");
        for (size_t m = 0; !rc && m < N; m++) {
            s->mu[m] = gsl_vector_get(ev, m);
            if (!(s->mu[m] > 0))
                rc = tdi_err_set(err, TDI_ENUM, "operating point: M is not positive definite");
        }
        if (!rc)
            memcpy(s->V, E->data, N * N * sizeof *s->V);
    }
    gsl_matrix_free(A);
    gsl_matrix_free(E);
    gsl_vector_free(ev);
    if (ws)
        gsl_eigen_symmv_free(ws);
    return rc;
}

/* signal, maxima and dissipation coefficient over every test sample of the bundle */
static int op_data(const tdi_gen_bundle *bu, const double *L, double gu, tdi_gen_op_in *in,
                   tdi_err *err)
{
    const tdi_bundle *sub = &bu->sub;
    size_t D = bu->D, N = sub->N, n = bu->n, o = sub->mod[sub->out].off; /* read-out units */
    double *z = malloc(n * N * sizeof *z), *mean = calloc(D, sizeof *mean);
    if (!z || !mean) {
        free(z);
        free(mean);
        return tdi_err_set(err, TDI_ENOMEM, "operating point: out of memory");
    }
    for (size_t s = 0; s < n; s++)
        for (size_t m = 0; m < sub->n_mod; m++)
            for (size_t i = 0; i < sub->mod[m].D; i++)
                z[s * N + sub->mod[m].off + i] = sub->mod[m].bias[s * sub->mod[m].D + i];
    double p = 0, *bz = malloc(n * N * sizeof *bz);
    if (!bz) {
        free(z);
        free(mean);
        return tdi_err_set(err, TDI_ENOMEM, "operating point: out of memory");
    }
    memcpy(bz, z, n * N * sizeof *z);
    tdi_linalg_chol_solve_rows(L, N, z, n);
    in->z_max = in->y_max = 0;
    for (size_t s = 0; s < n; s++)
        for (size_t i = 0; i < N; i++) {
            double v = z[s * N + i];
            in->z_max = fmax(in->z_max, fabs(v));
            if (i >= o && i < o + D) {
                in->y_max = fmax(in->y_max, fabs(v));
                mean[i - o] += v / (double)n;
            }
            /* bias power gu Vs^2 b_i z_i and unit-resistor power gu Vs^2 M_ii z_i^2 */
            p += gu * (fabs(bz[s * N + i] * v) + bu->M[i * N + i] * v * v) / (double)n;
        }
    double var = 0;
    for (size_t s = 0; s < n; s++)
        for (size_t j = 0; j < D; j++) {
            double d = z[s * N + o + j] - mean[j];
            var += d * d;
        }
    in->signal = n > 1 ? sqrt(var / (double)(n - 1) / (double)D) : 0;
    in->p_vs2 = p;
    free(z);
    free(bz);
    free(mean);
    return 0;
}

static void op_spec_free(op_spec *s)
{
    free(s->mu);
    free(s->V);
    free(s->minv2);
}

/* moves the built circuit from its configured Vs and window to the chosen ones */
static void op_apply(tdi_gen_circuit *c, const tdi_gen_op *op)
{
    tdi_gen_phys *p = &c->phys;
    double r = op->Vs / p->Vs, W = (double)op->n_conv * op->spacing, w = sqrt(p->t_avg / W);
    for (size_t q = 0; q < c->n_samples * c->N; q++) {
        c->bias[q] *= r;
        c->expect_mean[q] *= r;
    }
    for (size_t i = 0; i < c->N; i++)
        c->readout_sd[i] *= w; /* NaN stays NaN (nodes not read out) */
    p->Vs = op->Vs;
    p->theta = op->theta;
    p->t_avg = W;
    p->t_stop = (double)c->n_samples * (p->t_settle + p->t_avg);
    c->op = *op;
}

int tdi_gen_op_resolve(const tdi_gen_config *cfg, const tdi_gen_bundle *bu, const double *L,
                       tdi_gen_circuit *c, tdi_err *err)
{
    memset(&c->op, 0, sizeof c->op);
    if (!(cfg->target_noise_ratio > 0))
        return 0;
    const tdi_gen_phys *p = &c->phys;
    size_t D = c->D, N = c->N, o = c->mod[c->out].off;
    op_spec sp = {.N = N, .D = D, .o = o, .tau = p->tau, .gain = p->readout_gain, .first_order = p->unit->first_order};
    int rc = op_spec_init(bu->M, N, &sp, err);
    sp.minv2 = rc ? NULL : calloc(D, sizeof *sp.minv2);
    double *sd1 = rc ? NULL : calloc(D, sizeof *sd1);
    if (!rc && (!sp.minv2 || !sd1))
        rc = tdi_err_set(err, TDI_ENOMEM, "operating point: out of memory");
    tdi_gen_op_in in = {.target = cfg->target_noise_ratio, .T = p->T, .Cu = p->Cu,
                        .v_swing = cfg->v_swing, .t_settle = p->t_settle,
                        .bits_min = cfg->op_adc_bits_min, .bits_max = cfg->op_adc_bits_max,
                        .n_read = D, .adc_fom = cfg->op_adc_fom, .noise1 = op_spec_noise1,
                        .ctx = &sp, .sd1_units = sd1, .n_units = D};
    if (!rc)
        rc = op_data(bu, L, p->gu, &in, err);
    if (rc) {
        op_spec_free(&sp);
        free(sd1);
        return rc;
    }
    for (size_t i = 0; i < N; i++) { /* sqrt((M^-1)_ii) and (M^-2)_ii from the spectrum */
        double a1 = 0, a2 = 0;
        for (size_t m = 0; m < N; m++) {
            double v2 = sp.V[i * N + m] * sp.V[i * N + m];
            a1 += v2 / sp.mu[m];
            a2 += v2 / (sp.mu[m] * sp.mu[m]);
        }
        in.sd1_max = fmax(in.sd1_max, sqrt(a1));
        if (i >= o && i < o + D) {
            in.sd1_dec = fmax(in.sd1_dec, sqrt(a1));
            sp.minv2[i - o] = a2;
            sd1[i - o] = sqrt(a1);
        }
    }
    /* the ADC schedule tdi-cosim uses by default: 4 conversions per slowest relaxation time,
       on the noise-interval tick grid */
    long stride = lround(p->t_slow / (4.0 * p->noise_dt));
    sp.spacing = in.spacing = (double)(stride < 1 ? 1 : stride) * p->noise_dt;
    in.n_min = (long)ceil(cfg->op_avg_relax_min * p->t_slow / in.spacing - 1e-9);
    in.n_max = (long)floor(cfg->op_avg_relax_max * p->t_slow / in.spacing + 1e-9);
    in.n_min = in.n_min < 1 ? 1 : in.n_min;
    double sum_gm = (double)N * p->unit->gm(p); /* the units' own transconductors */
    for (size_t e = 0; e < c->n_elems; e++)
        if (c->elems[e].kind == 'G')
            sum_gm += fabs(c->elems[e].g);
    in.p_static = cfg->op_vdd * sum_gm / cfg->op_gm_over_id;
    tdi_gen_op op;
    rc = tdi_gen_op_choose(&in, &op, err);
    op_spec_free(&sp);
    free(sd1);
    if (rc) {
        tdi_err_prefix(err, "%s", cfg->path);
        return rc;
    }
    op.avg_relax = (double)op.n_conv * op.spacing / p->t_slow;
    snprintf(op.signal_from, sizeof op.signal_from, "the bundle's %zu test samples", bu->n);
    op_apply(c, &op);
    return 0;
}

void tdi_gen_op_print(const tdi_gen_circuit *c, FILE *f)
{
    const tdi_gen_op *o = &c->op;
    if (!o->active)
        return;
    char why[400];
    tdi_gen_op_binds_text(o, why, sizeof why);
    fprintf(f, "operating point (circuit.target_noise_ratio %.4g; signal %.4g units from %s):\n",
            o->target, o->signal, o->signal_from);
    fprintf(f, "  Vs %.4g V/unit (theta %.4g), window %.4g slowest relaxation times (%ld ADC "
            "conversions), ADC %ld bits\n", o->Vs, o->theta, o->avg_relax, o->n_conv, o->bits);
    fprintf(f, "  predicted read-out noise %.4g units = %.4g of the signal; largest |v| %.4g V "
            "of circuit.v_swing %.4g V (Vs limit %.4g V/unit)\n", o->noise, o->noise / o->signal,
            o->swing, o->v_swing, o->vs_max);
    fprintf(f, "  energy model per inference: ADC %.4g J + circuit %.4g J + transconductors "
            "%.4g J = %.4g J\n", o->e_adc, o->e_circ, o->e_active, o->energy);
    fprintf(f, "  binding: %s\n", why);
}
