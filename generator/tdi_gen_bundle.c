/* tdi_gen_bundle: reads the substrate bundle (docs/formats.md) that the generator needs
 * (manifest, M, A, B, Jenc, Jdec, P, Q, b_enc, b_dec, c, analytic) and checks it: shapes,
 * finiteness, symmetry, M's blocks against A, B and P Q^T. Also writes synthetic bundles for
 * tests, examples and the benchmark. Non-goals: the interface weights, truth, x (the
 * co-simulator reads those). The manifest is read as flat "key: value" lines. */
#include "tdi_gen.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "tdi_gen_int.h"
#include "tdi_io.h"
#include "tdi_npy.h"

void tdi_gen_bundle_destroy(tdi_gen_bundle *b)
{
    if (!b)
        return;
    free(b->M);
    free(b->A);
    free(b->B);
    free(b->Jenc);
    free(b->Jdec);
    free(b->P);
    free(b->Q);
    free(b->b_enc);
    free(b->b_dec);
    free(b->c);
    free(b->analytic);
    memset(b, 0, sizeof *b);
}

/* Flat manifest: "key: value  # comment"; quotes stripped. Unknown keys are kept for others. */
static int man_get(const char *text, const char *key, char *val, size_t vsz)
{
    size_t kl = strlen(key);
    const char *p = text;
    while (p && *p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len > kl && strncmp(p, key, kl) == 0 && p[kl] == ':') {
            const char *v = p + kl + 1, *e = p + len;
            while (v < e && (*v == ' ' || *v == '\t'))
                v++;
            const char *h = memchr(v, '#', (size_t)(e - v));
            if (h)
                e = h;
            while (e > v && isspace((unsigned char)e[-1]))
                e--;
            if (e - v >= 2 && (*v == '"' || *v == '\'') && e[-1] == *v) {
                v++;
                e--;
            }
            size_t n = (size_t)(e - v);
            if (n >= vsz)
                n = vsz - 1;
            memcpy(val, v, n);
            val[n] = '\0';
            return 1;
        }
        p = eol ? eol + 1 : NULL;
    }
    return 0;
}

static int man_num(const char *dir, const char *text, const char *key, int required, double *out,
                   tdi_err *err)
{
    char v[128];
    if (!man_get(text, key, v, sizeof v)) {
        if (required)
            return tdi_err_set(err, TDI_EFORMAT, "%s/manifest.yaml: missing key '%s'", dir, key);
        return 0;
    }
    char *end;
    *out = strtod(v, &end);
    if (end == v || *end || !isfinite(*out))
        return tdi_err_set(err, TDI_EFORMAT, "%s/manifest.yaml: key '%s': '%s' is not a number",
                           dir, key, v);
    return 0;
}

static int load(const char *dir, const char *name, size_t rows, size_t cols, double **out,
                size_t *rows_out, uint64_t *h, tdi_err *err)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t r = 0, c = 0;
    int rc = tdi_npy_load_f64(path, rows, cols, out, &r, &c, err);
    if (rc)
        return rc;
    if (rows_out)
        *rows_out = r;
    *h = tdi_hash_bytes(*h, *out, r * (c ? c : 1) * sizeof **out);
    return 0;
}

int tdi_gen_bundle_read(const char *dir, tdi_gen_bundle *b, tdi_err *err)
{
    memset(b, 0, sizeof *b);
    snprintf(b->dir, sizeof b->dir, "%s", dir);
    char path[1100], *man = NULL;
    size_t mlen = 0;
    snprintf(path, sizeof path, "%s/manifest.yaml", dir);
    int rc = tdi_file_read_all(path, &man, &mlen, err);
    if (rc)
        return rc;
    uint64_t h = tdi_hash_bytes(TDI_HASH_INIT, man, mlen);
    double D = 0, k = 0, n = 0, version = 0;
    if (!man_get(man, "format", b->format, sizeof b->format) ||
        strcmp(b->format, "tdi-substrate") != 0) {
        rc = tdi_err_set(err, TDI_EFORMAT, "%s: format is '%s', expected 'tdi-substrate'", path,
                         b->format);
        goto fail;
    }
    if ((rc = man_num(dir, man, "version", 1, &version, err)) ||
        (rc = man_num(dir, man, "D", 1, &D, err)) || (rc = man_num(dir, man, "k", 1, &k, err)) ||
        (rc = man_num(dir, man, "n_test", 0, &n, err)) ||
        (rc = man_num(dir, man, "lambda_min", 0, &b->lambda_min, err)) ||
        (rc = man_num(dir, man, "lambda_max", 0, &b->lambda_max, err)))
        goto fail;
    if (version != 1) {
        rc = tdi_err_set(err, TDI_EFORMAT, "%s: version %g not supported (expected 1)", path,
                         version);
        goto fail;
    }
    if (D < 1 || D > 1e6 || D != floor(D) || k < 0 || k > D || k != floor(k)) {
        rc = tdi_err_set(err, TDI_EFORMAT, "%s: D = %g, k = %g: need integers 1 <= D, 0 <= k <= D",
                         path, D, k);
        goto fail;
    }
    b->version = (long)version;
    b->D = (size_t)D;
    b->k = (size_t)k;
    man_get(man, "preset", b->preset, sizeof b->preset);
    man_get(man, "mode", b->mode, sizeof b->mode);
    size_t Dn = b->D, N = 2 * Dn;
    size_t nb = 0, nd = 0, na = 0;
    if ((rc = load(dir, "M.npy", N, N, &b->M, NULL, &h, err)) ||
        (rc = load(dir, "A.npy", Dn, Dn, &b->A, NULL, &h, err)) ||
        (rc = load(dir, "B.npy", Dn, Dn, &b->B, NULL, &h, err)) ||
        (rc = load(dir, "Jenc.npy", Dn, Dn, &b->Jenc, NULL, &h, err)) ||
        (rc = load(dir, "Jdec.npy", Dn, Dn, &b->Jdec, NULL, &h, err)) ||
        (rc = load(dir, "b_enc.npy", 0, Dn, &b->b_enc, &nb, &h, err)) ||
        (rc = load(dir, "b_dec.npy", 0, Dn, &b->b_dec, &nd, &h, err)) ||
        (rc = load(dir, "c.npy", Dn, 0, &b->c, NULL, &h, err)) ||
        (rc = load(dir, "analytic.npy", 0, Dn, &b->analytic, &na, &h, err)))
        goto fail;
    if (b->k > 0 && ((rc = load(dir, "P.npy", Dn, b->k, &b->P, NULL, &h, err)) ||
                     (rc = load(dir, "Q.npy", Dn, b->k, &b->Q, NULL, &h, err))))
        goto fail;
    if (nb != nd || nb != na || (n > 0 && (size_t)n != nb)) {
        rc = tdi_err_set(err, TDI_EFORMAT, "%s: b_enc has %zu rows, b_dec %zu, analytic %zu, "
                         "manifest n_test %g: they must agree", dir, nb, nd, na, n);
        goto fail;
    }
    b->n = nb;
    /* symmetry and block consistency, relative to max |M| */
    double mx = 0;
    for (size_t i = 0; i < N * N; i++)
        mx = fmax(mx, fabs(b->M[i]));
    if (mx == 0) {
        rc = tdi_err_set(err, TDI_ENUM, "%s/M.npy: M is zero", dir);
        goto fail;
    }
    /* 1e-12: a symmetric matrix written by NumPy or C is symmetric to the last bit; anything
       larger is a real asymmetry (a one-way coupling the circuit cannot realise). */
    for (size_t i = 0; i < N; i++)
        for (size_t j = i + 1; j < N; j++)
            if (fabs(b->M[i * N + j] - b->M[j * N + i]) > 1e-12 * mx) {
                rc = tdi_err_set(err, TDI_ENUM, "%s/M.npy: not symmetric: M[%zu][%zu] = %.17g, "
                                 "M[%zu][%zu] = %.17g", dir, i, j, b->M[i * N + j], j, i,
                                 b->M[j * N + i]);
                goto fail;
            }
    double *S = calloc(Dn * Dn, sizeof *S);
    if (!S) {
        rc = tdi_err_set(err, TDI_ENOMEM, "out of memory");
        goto fail;
    }
    if (b->k > 0)
        tdi_gen_gemm_abt(b->P, b->Q, Dn, Dn, b->k, S);
    /* 1e-10: P Q^T in float64 differs from the bundle's Jskip by k ulps; the blocks are copies. */
    for (size_t i = 0; i < Dn && !rc; i++)
        for (size_t j = 0; j < Dn && !rc; j++) {
            double a = b->M[i * N + j], bb = b->M[(Dn + i) * N + Dn + j],
                   s = b->M[i * N + Dn + j];
            if (fabs(a - b->A[i * Dn + j]) > 1e-10 * mx)
                rc = tdi_err_set(err, TDI_EFORMAT, "%s: M[%zu][%zu] = %.17g but A = %.17g", dir,
                                 i, j, a, b->A[i * Dn + j]);
            else if (fabs(bb - b->B[i * Dn + j]) > 1e-10 * mx)
                rc = tdi_err_set(err, TDI_EFORMAT, "%s: M[%zu][%zu] = %.17g but B = %.17g", dir,
                                 Dn + i, Dn + j, bb, b->B[i * Dn + j]);
            else if (fabs(s - S[i * Dn + j]) > 1e-10 * mx)
                rc = tdi_err_set(err, TDI_EFORMAT, "%s: M[%zu][%zu] = %.17g but (P Q^T) = %.17g",
                                 dir, i, Dn + j, s, S[i * Dn + j]);
        }
    free(S);
    if (rc)
        goto fail;
    b->hash = h;
    free(man);
    return 0;
fail:
    free(man);
    tdi_gen_bundle_destroy(b);
    return rc;
}

/* ---- synthetic bundles ---- */

static int wr(const char *dir, const char *name, size_t r, size_t c, const double *x, tdi_err *err)
{
    char path[1400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t shape[2] = {r, c};
    return tdi_npy_write(path, TDI_NPY_F64, c ? 2 : 1, shape, x, err);
}

int tdi_gen_bundle_synth(const char *dir, const char *preset, size_t D, size_t k, size_t r,
                         size_t n, unsigned long seed, tdi_err *err)
{
    int rc0 = tdi_dir_check(dir, err); /* refuse a foreign target before the work */
    if (rc0)
        return rc0;
    size_t N = 2 * D, rr = r ? r : D;
    const double J2 = 0.1;
    double *W = malloc(rr * D * sizeof *W), *Je = calloc(D * D, sizeof *Je),
           *Jd = calloc(D * D, sizeof *Jd), *P = calloc(D * (k ? k : 1), sizeof *P),
           *Q = calloc(D * (k ? k : 1), sizeof *Q), *S = calloc(D * D, sizeof *S),
           *M = calloc(N * N, sizeof *M), *A = calloc(D * D, sizeof *A),
           *B = calloc(D * D, sizeof *B), *L = malloc(N * N * sizeof *L),
           *be = malloc((n ? n : 1) * D * sizeof *be), *bd = malloc((n ? n : 1) * D * sizeof *bd),
           *z = malloc((n ? n : 1) * N * sizeof *z), *an = malloc((n ? n : 1) * D * sizeof *an),
           *c = calloc(D, sizeof *c), *gain = malloc(D * sizeof *gain);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    char tmp[1200];
    int rc = 0, begun = 0;
    if (!W || !Je || !Jd || !P || !Q || !S || !M || !A || !B || !L || !be || !bd || !z || !an ||
        !c || !gain || !rng) {
        rc = tdi_err_set(err, TDI_ENOMEM, "synth bundle: out of memory");
        goto done;
    }
    gsl_rng_set(rng, seed);
    /* J = W^T W / 4 with W (rr x D) ~ N(0, 1/rr): J has eigenvalues ~ 1/4 (1 +- sqrt(D/rr))^2 */
    for (int mod = 0; mod < 2; mod++) {
        double *J = mod ? Jd : Je;
        for (size_t i = 0; i < rr * D; i++)
            W[i] = gsl_ran_gaussian(rng, 1.0 / sqrt((double)rr));
        for (size_t q = 0; q < rr; q++)
            for (size_t i = 0; i < D; i++) {
                double wi = W[q * D + i] / 4.0;
                for (size_t j = 0; j < D; j++)
                    J[i * D + j] += wi * W[q * D + j];
            }
    }
    /* skip factors with |P|_F |Q|_F = 0.1 = J2: ||P Q^T||_2 < sqrt(lmin(A) lmin(B)) since
       lmin(A), lmin(B) >= 2 J2 = 0.2, so M is positive definite with margin */
    double np = 0, nq = 0;
    for (size_t i = 0; i < D * k; i++) {
        P[i] = gsl_ran_gaussian(rng, 1.0);
        Q[i] = gsl_ran_gaussian(rng, 1.0);
        np += P[i] * P[i];
        nq += Q[i] * Q[i];
    }
    double sp = k ? sqrt(0.1) / sqrt(np) : 0, sq = k ? sqrt(0.1) / sqrt(nq) : 0;
    for (size_t i = 0; i < D * k; i++) {
        P[i] *= sp;
        Q[i] *= sq;
    }
    if (k)
        tdi_gen_gemm_abt(P, Q, D, D, k, S);
    for (size_t i = 0; i < D; i++)
        for (size_t j = 0; j < D; j++) {
            A[i * D + j] = (i == j ? 2 * J2 : 0) + Je[i * D + j] + Je[j * D + i];
            B[i * D + j] = (i == j ? 2 * J2 : 0) + Jd[i * D + j] + Jd[j * D + i];
            M[i * N + j] = A[i * D + j];
            M[(D + i) * N + D + j] = B[i * D + j];
            M[i * N + D + j] = S[i * D + j];
            M[(D + j) * N + i] = S[i * D + j];
        }
    if ((rc = tdi_linalg_chol(M, N, L, "synth bundle M", 0, NULL, err)))
        goto done;
    for (size_t s = 0; s < n; s++)
        for (size_t i = 0; i < D; i++) {
            be[s * D + i] = gsl_ran_gaussian(rng, 1.0);
            bd[s * D + i] = gsl_ran_gaussian(rng, 1.0);
            z[s * N + i] = be[s * D + i];
            z[s * N + D + i] = bd[s * D + i];
        }
    if (n)
        tdi_linalg_chol_solve_rows(L, N, z, n);
    for (size_t s = 0; s < n; s++)
        for (size_t i = 0; i < D; i++)
            an[s * D + i] = z[s * N + D + i];
    for (size_t i = 0; i < D; i++)
        gain[i] = 1.0;
    double lmin = 0, lmax = 0;
    if ((rc = tdi_gen_eig_extremes(M, L, N, seed, &lmin, &lmax, err)))
        goto done;
    if ((rc = tdi_dir_begin(dir, tmp, sizeof tmp, err)))
        goto done;
    begun = 1;
    if ((rc = wr(tmp, "M.npy", N, N, M, err)) || (rc = wr(tmp, "A.npy", D, D, A, err)) ||
        (rc = wr(tmp, "B.npy", D, D, B, err)) || (rc = wr(tmp, "Jenc.npy", D, D, Je, err)) ||
        (rc = wr(tmp, "Jdec.npy", D, D, Jd, err)) || (rc = wr(tmp, "Jskip.npy", D, D, S, err)) ||
        (rc = wr(tmp, "P.npy", D, k, P, err)) || (rc = wr(tmp, "Q.npy", D, k, Q, err)) ||
        (rc = wr(tmp, "b_enc.npy", n, D, be, err)) || (rc = wr(tmp, "b_dec.npy", n, D, bd, err)) ||
        (rc = wr(tmp, "analytic.npy", n, D, an, err)) || (rc = wr(tmp, "truth.npy", n, D, an, err)) ||
        (rc = wr(tmp, "c.npy", D, 0, c, err)) || (rc = wr(tmp, "gain.npy", D, 0, gain, err)) ||
        (rc = wr(tmp, "mean_fit.npy", D, 0, c, err)))
        goto done;
    char mpath[1300];
    snprintf(mpath, sizeof mpath, "%s/manifest.yaml", tmp);
    tdi_atomic_file af;
    if ((rc = tdi_atomic_open(&af, mpath, err)))
        goto done;
    fprintf(af.f, "format: tdi-substrate\nversion: 1\npreset: %s\nmode: synthetic\n"
            "pair: [synthetic, synthetic]\nD: %zu\nk: %zu\nJ2: 0.1\nkT: 1.0\nt: 0\nn_test: %zu\n"
            "lambda_min: %.17g\nlambda_max: %.17g\nintra_rank: %zu\nseed: %lu\n"
            "source_fit_hash: none\nsource_test_hash: none\n",
            preset, D, k, n, lmin, lmax, r, seed);
    if ((rc = tdi_atomic_commit(&af, err)))
        goto done;
    rc = tdi_dir_commit(tmp, dir, err);
    begun = 0;
done:
    if (begun)
        tdi_dir_abort(tmp);
    free(W);
    free(Je);
    free(Jd);
    free(P);
    free(Q);
    free(S);
    free(M);
    free(A);
    free(B);
    free(L);
    free(be);
    free(bd);
    free(z);
    free(an);
    free(c);
    free(gain);
    gsl_rng_free(rng);
    return rc;
}
