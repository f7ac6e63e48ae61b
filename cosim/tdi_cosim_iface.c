/* tdi_cosim_iface: the digital interface, per test sample and U-Net level, in simulation units.
 * Paper mode (one level): the 4-unit encoder and the 16-unit transfer network (docs/paper.md).
 * Skip mode, each level its own columns of x and its own modules: b_enc = A x, or
 * projected b_enc = W2 (W1 x) = A R R^T x with R a basis of the column space of P (the skip
 * encoder: 2 D k MACs instead of D^2), and b_dec = c; the variant that reproduces the bundle's
 * b_enc is used. Invariant: the job's biases equal the bundle's b_enc / b_dec to float64
 * rounding (else a format error). Non-goals: fitting the networks (tools/substrate). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_blas.h>

#include "tdi_cosim_job.h"
#include "tdi_linalg.h"

/* y = W x + b, W (o, i) */
static void affine(const double *W, const double *b, size_t o, size_t in, const double *x,
                   double *y)
{
    for (size_t r = 0; r < o; r++) {
        double s = b[r];
        for (size_t q = 0; q < in; q++)
            s += W[r * in + q] * x[q];
        y[r] = s;
    }
}

void tdi_cosim_paper_interface(const double *const w[8], size_t D, const double *x,
                               double *b_enc, double *b_dec)
{
    double h4[4], h16[16];
    affine(w[0], w[1], 4, D, x, h4);
    affine(w[2], w[3], D, 4, h4, b_enc);
    affine(w[4], w[5], 16, D, b_enc, h16);
    for (int q = 0; q < 16; q++)
        h16[q] = h16[q] / (1.0 + exp(-h16[q])); /* SiLU */
    affine(w[6], w[7], D, 16, h16, b_dec);
}

void tdi_cosim_skip_benc(const double *A, const double *W1, const double *W2, size_t D, size_t k,
                         const double *x, double *h, double *b_enc)
{
    if (!W1) {
        for (size_t i = 0; i < D; i++) {
            double acc = 0;
            for (size_t j = 0; j < D; j++)
                acc += A[i * D + j] * x[j];
            b_enc[i] = acc;
        }
        return;
    }
    for (size_t r = 0; r < k; r++) {
        double acc = 0;
        for (size_t j = 0; j < D; j++)
            acc += W1[r * D + j] * x[j];
        h[r] = acc;
    }
    for (size_t i = 0; i < D; i++) {
        double acc = 0;
        for (size_t r = 0; r < k; r++)
            acc += W2[i * k + r] * h[r];
        b_enc[i] = acc;
    }
}

/* C (m, n) = A (m, kk) B^T, B (n, kk): row-major, through GSL's BLAS */
static void gemm_nt(size_t m, size_t n, size_t kk, const double *A, const double *B, double *C)
{
    gsl_matrix_const_view av = gsl_matrix_const_view_array(A, m, kk);
    gsl_matrix_const_view bv = gsl_matrix_const_view_array(B, n, kk);
    gsl_matrix_view cv = gsl_matrix_view_array(C, m, n);
    gsl_blas_dgemm(CblasNoTrans, CblasTrans, 1.0, &av.matrix, &bv.matrix, 0.0, &cv.matrix);
}

int tdi_cosim_skip_encoder(const double *A, const double *P, size_t D, size_t k, double *W1,
                           double *W2, size_t *rank, tdi_err *err)
{
    double *G = malloc(D * D * sizeof *G), *V = malloc(D * D * sizeof *V);
    double *ev = malloc(D * sizeof *ev);
    int rc = 0;
    if (!G || !V || !ev) {
        rc = tdi_err_set(err, TDI_ENOMEM, "skip encoder: out of memory");
        goto done;
    }
    /* column space of P = eigenvectors of P P^T with eigenvalues above rounding level */
    memset(G, 0, D * D * sizeof *G);
    if (k > 0)
        gemm_nt(D, D, k, P, P, G);
    if ((rc = tdi_linalg_eig_sym(G, D, ev, V, err)))
        goto done;
    size_t r = 0;
    double tol = (ev[0] > 0.0 ? ev[0] : 0.0) * 1e3 * (double)D * 2.220446049250313e-16;
    while (r < k && ev[r] > tol)
        r++;
    memset(W1, 0, k * D * sizeof *W1);
    memset(W2, 0, D * k * sizeof *W2);
    for (size_t q = 0; q < r; q++)
        for (size_t i = 0; i < D; i++)
            W1[q * D + i] = V[i * D + q];
    if (k > 0) /* W2 = A R = A W1^T */
        gemm_nt(D, k, D, A, W1, W2);
    if (rank)
        *rank = r;
done:
    free(G);
    free(V);
    free(ev);
    return rc;
}

/* One U-Net level of the bundle (tdi_gen_bundle_levels): encoder module l, its read-out
 * decoder L + l, the coupling between them (k = 0: none). Two modules: the view's fields. */
typedef struct level {
    size_t D, k;           /* units of each module, rank */
    size_t eo, dof, xo;    /* first unit of the encoder, of the decoder in z; first x column */
    const double *A, *P;   /* (D, D) encoder block, (D, k) */
    const double *c;       /* (D) the decoder's static bias (skip mode) */
    const double *be, *bd; /* (n, D) the bundle's biases */
} level;

static level level_of(const tdi_cosim_job *j, size_t l)
{
    const tdi_bundle *s = &j->b.sub;
    const tdi_bundle_module *e = &s->mod[l], *d = &s->mod[j->L + l];
    level v = {e->D, 0, e->off, d->off, e->off, e->A, NULL, s->c + (d->off - j->o), e->bias,
               d->bias};
    for (size_t c = 0; c < s->n_cpl; c++)
        if (s->cpl[c].from == l) {
            v.k = s->cpl[c].k;
            v.P = s->cpl[c].P;
        }
    return v;
}

/* The skip encoder of a level and the choice between A x and W2 (W1 x): the one that
 * reproduces the bundle's b_enc more closely (the bundle says how it was written). */
typedef struct skip_enc {
    level v;
    double *mem;     /* one block for the arrays below; NULL when k = 0 */
    double *W1, *W2; /* (k, D), (D, k) */
    double *h;       /* (k) scratch */
    double *bf, *bp; /* (D) scratch: b_enc by A x and by W2 (W1 x) */
} skip_enc;

/* the level's encoder and the largest differences of A x and W2 (W1 x) from its b_enc */
static int skip_level(tdi_cosim_job *j, skip_enc *s, double *dfull, double *dproj, tdi_err *err)
{
    size_t D = s->v.D, k = s->v.k;
    if (k == 0)
        return 0;
    if (!(s->mem = calloc(2 * k * D + k + 2 * D, sizeof(double))))
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    s->W1 = s->mem;
    s->W2 = s->W1 + k * D;
    s->h = s->W2 + D * k;
    s->bf = s->h + k;
    s->bp = s->bf + D;
    int rc = tdi_cosim_skip_encoder(s->v.A, s->v.P, D, k, s->W1, s->W2, NULL, err);
    if (rc)
        return rc;
    size_t xc = j->b.sub.x_cols;
    for (size_t q = 0; q < j->ns; q++) {
        const double *xs = j->x + (j->s0 + q) * xc + s->v.xo, *bref = s->v.be + (j->s0 + q) * D;
        tdi_cosim_skip_benc(s->v.A, NULL, NULL, D, k, xs, s->h, s->bf);
        tdi_cosim_skip_benc(s->v.A, s->W1, s->W2, D, k, xs, s->h, s->bp);
        for (size_t i = 0; i < D; i++) {
            *dfull = fmax(*dfull, fabs(s->bf[i] - bref[i]));
            *dproj = fmax(*dproj, fabs(s->bp[i] - bref[i]));
        }
    }
    return 0;
}

/* every level's encoder; projected when W2 (W1 x) reproduces the bundle over all levels */
static int skip_choose(tdi_cosim_job *j, skip_enc *s, tdi_err *err)
{
    double dfull = 0, dproj = 0;
    int any = 0, rc = 0;
    j->projected = 0;
    for (size_t l = 0; l < j->L && !rc; l++) {
        s[l].v = level_of(j, l);
        any |= s[l].v.k > 0;
        rc = skip_level(j, &s[l], &dfull, &dproj, err);
    }
    j->projected = !rc && any && dproj < dfull;
    return rc;
}

/* b for every sample (bsim) and the bias currents (ibias); the largest difference from the
 * bundle's biases and the largest |b| */
static void iface_biases(tdi_cosim_job *j, const skip_enc *se, double *bdiff, double *bscale,
                         size_t *worst)
{
    size_t N = j->N, xc = j->b.sub.x_cols;
    const double *w[8] = {j->ew1, j->eb1, j->ew2, j->eb2, j->tw1, j->tb1, j->tw2, j->tb2};
    *bdiff = *bscale = 0;
    for (size_t q = 0; q < j->ns; q++) {
        for (size_t l = 0; l < j->L; l++) {
            const skip_enc *s = &se[l];
            level v = j->skip ? s->v : level_of(j, l);
            size_t D = v.D, r = j->s0 + q;
            const double *xs = j->x + r * xc + v.xo;
            double *be = j->bsim + q * N + v.eo, *bd = j->bsim + q * N + v.dof;
            if (j->skip) {
                tdi_cosim_skip_benc(v.A, j->projected ? s->W1 : NULL, s->W2, D, v.k, xs, s->h,
                                    be);
                memcpy(bd, v.c, D * sizeof(double));
            } else {
                tdi_cosim_paper_interface(w, D, xs, be, bd);
            }
            for (size_t i = 0; i < D; i++) {
                double d = fmax(fabs(be[i] - v.be[r * D + i]), fabs(bd[i] - v.bd[r * D + i]));
                if (d > *bdiff)
                    *worst = l;
                *bdiff = fmax(*bdiff, d);
                *bscale = fmax(*bscale, fmax(fabs(be[i]), fabs(bd[i])));
            }
        }
        for (size_t i = 0; i < N; i++)
            j->ibias[q * j->NT + i] = j->ph->gu * j->ph->Vs * j->bsim[q * N + i];
    }
}

/* the digital-equivalent counts: the sum over the levels */
static int iface_digeq(tdi_cosim_job *j, int mode, tdi_err *err)
{
    memset(&j->dq, 0, sizeof j->dq);
    for (size_t l = 0; l < j->L; l++) {
        level v = level_of(j, l);
        tdi_cosim_digeq q;
        int rc = tdi_cosim_digeq_count(v.D, v.k, mode == 2 && v.k == 0 ? 1 : mode, &q, err);
        if (rc)
            return rc;
        j->dq.iface_macs += q.iface_macs;
        j->dq.iface_reads += q.iface_reads;
        j->dq.matvec_macs += q.matvec_macs;
        j->dq.matvec_reads += q.matvec_reads;
        j->dq.folded_macs += q.folded_macs;
        j->dq.folded_reads += q.folded_reads;
    }
    return 0;
}

int tdi_cosim_job_iface(tdi_cosim_job *j, tdi_err *err)
{
    j->bsim = malloc(sizeof(double) * j->ns * j->N);
    j->ibias = calloc(j->ns * j->NT, sizeof(double));
    if (!j->bsim || !j->ibias)
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    skip_enc s[TDI_BUNDLE_MAX_MOD / 2];
    memset(s, 0, sizeof s);
    int rc = j->skip ? skip_choose(j, s, err) : 0;
    double bdiff = 0, bscale = 0;
    size_t worst = 0; /* the level that differs most */
    if (!rc)
        iface_biases(j, s, &bdiff, &bscale, &worst);
    for (size_t l = 0; l < j->L; l++)
        free(s[l].mem);
    j->iface = !j->skip ? "enc 4 + transfer 16 (paper)"
               : j->projected ? "A R R^T x (skip, projected)" : "A x (skip, full)";
    int mode = j->skip ? (j->projected ? 2 : 1) : 0;
    if (rc || (rc = iface_digeq(j, mode, err)))
        return rc;
    j->macs = j->dq.iface_macs;
    /* the bundle's biases come from the same networks (formats.md): float64 rounding only */
    if (bdiff > 1e-9 * (bscale > 0 ? bscale : 1))
        return tdi_err_set(err, TDI_EFORMAT, "%s: the interface networks give biases that "
                           "differ from b_%s/b_%s.npy by %.3g (scale %.3g)", j->bdir,
                           j->b.sub.mod[worst].name, j->b.sub.mod[j->L + worst].name, bdiff,
                           bscale);
    return 0;
}
