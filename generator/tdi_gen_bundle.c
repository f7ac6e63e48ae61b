/* tdi_gen_bundle: the generator's side of the substrate bundle, whose format common/tdi_bundle
 * owns: a two-module view of a bundle read by tdi_bundle_read (encoder = module 0, decoder =
 * module 1), and the seeded synthetic substrate of any number of modules and couplings (tests,
 * examples, the benchmark). Non-goals: reading or writing files by hand (tdi_bundle does). */
#include "tdi_gen.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "tdi_gen_int.h"
#include "tdi_io.h"
#include "tdi_linalg.h"

void tdi_gen_bundle_destroy(tdi_gen_bundle *b)
{
    if (!b)
        return;
    tdi_bundle_destroy(&b->sub);
    memset(b, 0, sizeof *b);
}

/* The view. Two modules of equal size, the second read out, at most one low-rank coupling
 * from the first to the second: the encoder/decoder fields. Any other module list: only the
 * fields every shape has (D = the read-out module's units, k = 0, the per-module arrays NULL);
 * the generator reads the modules from sub. An analytic reference is required. */
int tdi_gen_bundle_is_two(const tdi_gen_bundle *b)
{
    const tdi_bundle *s = &b->sub;
    const tdi_bundle_coupling *cp = &s->cpl[0];
    return s->n_mod == 2 && s->mod[0].D == s->mod[1].D && s->out == 1 && s->n_cpl <= 1 &&
           !(s->n_cpl == 1 && (cp->dense || cp->from != 0 || cp->to != 1));
}

size_t tdi_gen_bundle_levels(const tdi_gen_bundle *b)
{
    const tdi_bundle *s = &b->sub;
    size_t L = s->n_mod / 2;
    if (L < 1 || s->n_mod != 2 * L || s->out != L || s->n_out != L)
        return 0;
    for (size_t l = 0; l < L; l++)
        if (s->mod[l].D != s->mod[L + l].D)
            return 0;
    int seen[TDI_BUNDLE_MAX_MOD] = {0};
    for (size_t c = 0; c < s->n_cpl; c++) {
        const tdi_bundle_coupling *cp = &s->cpl[c];
        if (cp->dense || cp->from >= L || cp->to != L + cp->from || seen[cp->from]++)
            return 0;
    }
    return L;
}

int tdi_gen_bundle_need_two(const tdi_gen_bundle *b, const char *who, tdi_err *err)
{
    if (tdi_gen_bundle_is_two(b))
        return 0;
    return tdi_err_set(err, TDI_EFORMAT, "%s: %zu modules, %zu couplings: %s needs two modules "
                       "of equal size (the second read out) and at most one low-rank coupling "
                       "from the first to the second", b->dir, b->sub.n_mod, b->sub.n_cpl, who);
}

static int view(tdi_gen_bundle *b, tdi_err *err)
{
    tdi_bundle *s = &b->sub;
    const tdi_bundle_coupling *cp = &s->cpl[0];
    if (!s->analytic)
        return tdi_err_set(err, TDI_EFORMAT, "%s: no analytic.npy (manifest analytic: false): "
                           "the generator checks the circuit against it", s->dir);
    b->D = s->D_out;
    b->n = s->n;
    b->M = s->M;
    b->c = s->c;
    b->analytic = s->analytic;
    snprintf(b->preset, sizeof b->preset, "%s", s->preset);
    snprintf(b->mode, sizeof b->mode, "%s", s->mode);
    snprintf(b->format, sizeof b->format, "tdi-substrate");
    b->version = s->version;
    b->lambda_min = s->lambda_min;
    b->lambda_max = s->lambda_max;
    b->hash = s->hash;
    snprintf(b->dir, sizeof b->dir, "%s", s->dir);
    if (!tdi_gen_bundle_is_two(b))
        return 0;
    b->k = s->n_cpl ? cp->k : 0;
    b->A = s->mod[0].A;
    b->B = s->mod[1].A;
    b->Jenc = s->mod[0].J;
    b->Jdec = s->mod[1].J;
    b->P = s->n_cpl ? cp->P : NULL;
    b->Q = s->n_cpl ? cp->Q : NULL;
    b->b_enc = s->mod[0].bias;
    b->b_dec = s->mod[1].bias;
    return 0;
}

int tdi_gen_bundle_read_want(const char *dir, unsigned want, tdi_gen_bundle *b, tdi_err *err)
{
    memset(b, 0, sizeof *b);
    int rc = tdi_bundle_read(dir, want, &b->sub, err);
    if (!rc && (rc = view(b, err)))
        tdi_gen_bundle_destroy(b);
    return rc;
}

int tdi_gen_bundle_read(const char *dir, tdi_gen_bundle *b, tdi_err *err)
{
    return tdi_gen_bundle_read_want(dir, 0, b, err);
}

/* ---- synthetic substrates ---- */

static double *zalloc(size_t n, int *fail)
{
    double *p = calloc(n ? n : 1, sizeof *p);
    if (!p)
        *fail = 1;
    return p;
}

/* J = W^T W / 4, W (r x D) ~ N(0, 1/r): eigenvalues ~ 1/4 (1 +- sqrt(D/r))^2; A from J */
static void synth_intra(gsl_rng *rng, size_t D, size_t r, double J2, double *W, double *J,
                        double *A)
{
    for (size_t i = 0; i < r * D; i++)
        W[i] = gsl_ran_gaussian(rng, 1.0 / sqrt((double)r));
    for (size_t q = 0; q < r; q++)
        for (size_t i = 0; i < D; i++) {
            double wi = W[q * D + i] / 4.0;
            for (size_t j = 0; j < D; j++)
                J[i * D + j] += wi * W[q * D + j];
        }
    for (size_t i = 0; i < D; i++)
        for (size_t j = 0; j < D; j++)
            A[i * D + j] = (i == j ? 2 * J2 : 0) + J[i * D + j] + J[j * D + i];
}

/* P (np entries), Q (nq) drawn interleaved, scaled to |P|_F |Q|_F = scale */
static void synth_factors(gsl_rng *rng, double *P, size_t np, double *Q, size_t nq, double scale)
{
    double sp2 = 0, sq2 = 0;
    for (size_t i = 0; i < (np > nq ? np : nq); i++) {
        if (i < np) {
            P[i] = gsl_ran_gaussian(rng, 1.0);
            sp2 += P[i] * P[i];
        }
        if (i < nq) {
            Q[i] = gsl_ran_gaussian(rng, 1.0);
            sq2 += Q[i] * Q[i];
        }
    }
    double sp = np ? sqrt(scale) / sqrt(sp2) : 0, sq = nq ? sqrt(scale) / sqrt(sq2) : 0;
    for (size_t i = 0; i < np; i++)
        P[i] *= sp;
    for (size_t i = 0; i < nq; i++)
        Q[i] *= sq;
}

static int synth_layout(const tdi_gen_synth_spec *s, tdi_bundle *b, tdi_err *err)
{
    memset(b, 0, sizeof *b);
    if (s->n_mod < 1 || s->n_mod > TDI_BUNDLE_MAX_MOD || s->n_cpl > TDI_BUNDLE_MAX_CPL ||
        s->out >= s->n_mod)
        return tdi_err_set(err, TDI_EARG, "synth bundle: %zu modules (read-out %zu), %zu "
                           "couplings", s->n_mod, s->out, s->n_cpl);
    snprintf(b->preset, sizeof b->preset, "%s", s->preset);
    snprintf(b->mode, sizeof b->mode, "synthetic");
    b->n_mod = s->n_mod;
    b->n_cpl = s->n_cpl;
    for (size_t m = 0; m < s->n_mod; m++) {
        if (s->names[m])
            snprintf(b->mod[m].name, sizeof b->mod[m].name, "%s", s->names[m]);
        else if (s->n_mod == 2)
            snprintf(b->mod[m].name, sizeof b->mod[m].name, "%s", m ? "dec" : "enc");
        else /* ma, mb, ...: no digit at the end, so the names serve as node prefixes */
            snprintf(b->mod[m].name, sizeof b->mod[m].name, "m%c", (char)('a' + m));
        b->mod[m].D = s->D[m];
        b->mod[m].readout = m >= s->out && m < s->out + (s->n_out ? s->n_out : 1);
    }
    for (size_t c = 0; c < s->n_cpl; c++)
        b->cpl[c] = (tdi_bundle_coupling){s->from[c], s->to[c], 0, s->rank[c], NULL, NULL, NULL};
    b->n = s->n;
    b->J2 = 0.1;
    b->kT = 1.0;
    b->seed = (long)s->seed;
    b->intra_rank = (long)s->intra_rank;
    snprintf(b->fit_hash, sizeof b->fit_hash, "none");
    snprintf(b->test_hash, sizeof b->test_hash, "none");
    return tdi_bundle_layout(b, "synth bundle", err);
}

/* M with the couplings' P Q^T from the generator's GEMM (the former writer's arithmetic) */
static void synth_M(tdi_bundle *b, double *S)
{
    size_t N = b->N;
    tdi_bundle_assemble(b, b->M);
    for (size_t c = 0; c < b->n_cpl; c++) {
        const tdi_bundle_coupling *cp = &b->cpl[c];
        const tdi_bundle_module *f = &b->mod[cp->from], *t = &b->mod[cp->to];
        if (!cp->k)
            continue;
        tdi_gen_gemm_abt(cp->P, cp->Q, f->D, t->D, cp->k, S);
        for (size_t i = 0; i < f->D; i++)
            for (size_t j = 0; j < t->D; j++) {
                b->M[(f->off + i) * N + t->off + j] = S[i * t->D + j];
                b->M[(t->off + j) * N + f->off + i] = S[i * t->D + j];
            }
    }
}

/* biases: per sample, per unit index i, one draw for every module that has unit i; then the
 * equilibria z = M^-1 b (L the Cholesky factor) and the read-out block of each */
static void synth_biases(gsl_rng *rng, tdi_bundle *b, const double *L, double *z)
{
    size_t N = b->N, Dmax = 0, n = b->n;
    for (size_t m = 0; m < b->n_mod; m++)
        Dmax = b->mod[m].D > Dmax ? b->mod[m].D : Dmax;
    for (size_t s = 0; s < n; s++)
        for (size_t i = 0; i < Dmax; i++)
            for (size_t m = 0; m < b->n_mod; m++) {
                tdi_bundle_module *md = &b->mod[m];
                if (i >= md->D)
                    continue;
                md->bias[s * md->D + i] = gsl_ran_gaussian(rng, 1.0);
                z[s * N + md->off + i] = md->bias[s * md->D + i];
            }
    if (n)
        tdi_linalg_chol_solve_rows(L, N, z, n);
    size_t o = b->mod[b->out].off, Do = b->D_out; /* the read-out block */
    for (size_t s = 0; s < n; s++)
        for (size_t i = 0; i < Do; i++)
            b->analytic[s * Do + i] = z[s * N + o + i];
}

int tdi_gen_synth_build(const tdi_gen_synth_spec *s, tdi_bundle *b, tdi_err *err)
{
    int rc = synth_layout(s, b, err), fail = 0;
    if (rc)
        return rc;
    size_t N = b->N, n = b->n, Dmax = 0, deg[TDI_BUNDLE_MAX_MOD] = {0}, dmax = 1;
    for (size_t m = 0; m < b->n_mod; m++) {
        tdi_bundle_module *md = &b->mod[m];
        size_t r = s->intra_rank ? s->intra_rank : md->D;
        Dmax = (r > md->D ? r : md->D) > Dmax ? (r > md->D ? r : md->D) : Dmax;
        md->J = zalloc(md->D * md->D, &fail);
        md->A = zalloc(md->D * md->D, &fail);
        md->bias = zalloc(n * md->D, &fail);
    }
    for (size_t c = 0; c < b->n_cpl; c++) {
        tdi_bundle_coupling *cp = &b->cpl[c];
        cp->P = zalloc(b->mod[cp->from].D * cp->k, &fail);
        cp->Q = zalloc(b->mod[cp->to].D * cp->k, &fail);
        deg[cp->from]++;
        deg[cp->to]++;
    }
    for (size_t m = 0; m < b->n_mod; m++)
        dmax = deg[m] > dmax ? deg[m] : dmax;
    size_t Do = b->D_out;
    b->M = zalloc(N * N, &fail);
    b->analytic = zalloc(n * Do, &fail);
    b->c = zalloc(Do, &fail);
    b->truth = zalloc(n * Do, &fail);
    b->mean_fit = zalloc(Do, &fail);
    b->gain = zalloc(Do, &fail);
    double *W = zalloc(Dmax * Dmax, &fail), *L = zalloc(N * N, &fail),
           *z = zalloc(n * N, &fail), *S = zalloc(Dmax * Dmax, &fail);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (fail || !rng) {
        rc = tdi_err_set(err, TDI_ENOMEM, "synth bundle: out of memory");
        goto done;
    }
    gsl_rng_set(rng, s->seed);
    for (size_t m = 0; m < b->n_mod; m++) {
        tdi_bundle_module *md = &b->mod[m];
        synth_intra(rng, md->D, s->intra_rank ? s->intra_rank : md->D, b->J2, W, md->J, md->A);
    }
    /* |P|_F |Q|_F = 0.1 / dmax: the coupling blocks of a block row sum to at most 0.1 in
       norm, below lambda_min(A) >= 2 J2 = 0.2, so M is positive definite with margin */
    for (size_t c = 0; c < b->n_cpl; c++) {
        tdi_bundle_coupling *cp = &b->cpl[c];
        synth_factors(rng, cp->P, b->mod[cp->from].D * cp->k, cp->Q, b->mod[cp->to].D * cp->k,
                      0.1 / (double)dmax);
    }
    synth_M(b, S);
    if ((rc = tdi_linalg_chol(b->M, N, L, "synth bundle M", 0, NULL, err)))
        goto done;
    synth_biases(rng, b, L, z);
    memcpy(b->truth, b->analytic, n * Do * sizeof *b->truth);
    for (size_t i = 0; i < Do; i++)
        b->gain[i] = 1.0;
    rc = tdi_gen_eig_extremes(b->M, L, N, s->seed, &b->lambda_min, &b->lambda_max, err);
done:
    free(W);
    free(L);
    free(z);
    free(S);
    gsl_rng_free(rng);
    if (rc)
        tdi_bundle_destroy(b);
    return rc;
}

int tdi_gen_synth_write(const char *dir, const tdi_gen_synth_spec *s, tdi_err *err)
{
    int rc = tdi_dir_check(dir, err); /* refuse a foreign target before the work */
    if (rc)
        return rc;
    tdi_bundle b;
    if ((rc = tdi_gen_synth_build(s, &b, err)))
        return rc;
    rc = tdi_bundle_write(dir, &b, err);
    tdi_bundle_destroy(&b);
    return rc;
}

int tdi_gen_bundle_synth(const char *dir, const char *preset, size_t D, size_t k, size_t r,
                         size_t n, unsigned long seed, tdi_err *err)
{
    tdi_gen_synth_spec s = {.preset = preset, .n_mod = 2, .D = {D, D}, .out = 1,
                            .n_cpl = 1, .from = {0}, .to = {1}, .rank = {k},
                            .intra_rank = r, .n = n, .seed = seed};
    return tdi_gen_synth_write(dir, &s, err);
}
