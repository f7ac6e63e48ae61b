/* tdi_cosim_iface: the digital interface, per test sample, in simulation units. Paper mode: the
 * 4-unit encoder and the 16-unit transfer network (docs/paper.md). Skip mode: b_enc = A x, or
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

/* The skip encoder of the bundle and the choice between A x and W2 (W1 x): the one that
 * reproduces the bundle's b_enc more closely (the bundle says how it was written). */
typedef struct skip_enc {
    double *mem;     /* one block for the arrays below; NULL when k = 0 */
    double *W1, *W2; /* (k, D), (D, k) */
    double *h;       /* (k) scratch */
    double *bf, *bp; /* (D) scratch: b_enc by A x and by W2 (W1 x) */
} skip_enc;

static int skip_choose(tdi_cosim_job *j, skip_enc *s, tdi_err *err)
{
    const tdi_gen_bundle *b = &j->b;
    size_t D = j->D, k = b->k;
    j->projected = 0;
    if (k == 0)
        return 0;
    if (!(s->mem = calloc(2 * k * D + k + 2 * D, sizeof(double))))
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    s->W1 = s->mem;
    s->W2 = s->W1 + k * D;
    s->h = s->W2 + D * k;
    s->bf = s->h + k;
    s->bp = s->bf + D;
    int rc = tdi_cosim_skip_encoder(b->A, b->P, D, k, s->W1, s->W2, NULL, err);
    if (rc)
        return rc;
    double dfull = 0, dproj = 0;
    for (size_t q = 0; q < j->ns; q++) {
        const double *xs = j->x + (j->s0 + q) * D, *bref = b->b_enc + (j->s0 + q) * D;
        tdi_cosim_skip_benc(b->A, NULL, NULL, D, k, xs, s->h, s->bf);
        tdi_cosim_skip_benc(b->A, s->W1, s->W2, D, k, xs, s->h, s->bp);
        for (size_t i = 0; i < D; i++) {
            dfull = fmax(dfull, fabs(s->bf[i] - bref[i]));
            dproj = fmax(dproj, fabs(s->bp[i] - bref[i]));
        }
    }
    j->projected = dproj < dfull;
    return 0;
}

/* b for every sample (bsim) and the bias currents (ibias); the largest difference from the
 * bundle's biases and the largest |b| */
static void iface_biases(tdi_cosim_job *j, const skip_enc *s, double *bdiff, double *bscale)
{
    const tdi_gen_bundle *b = &j->b;
    size_t D = j->D, N = j->N;
    const double *w[8] = {j->ew1, j->eb1, j->ew2, j->eb2, j->tw1, j->tb1, j->tw2, j->tb2};
    *bdiff = *bscale = 0;
    for (size_t q = 0; q < j->ns; q++) {
        const double *xs = j->x + (j->s0 + q) * D;
        double *be = j->bsim + q * N, *bd = be + D;
        if (j->skip) {
            tdi_cosim_skip_benc(b->A, j->projected ? s->W1 : NULL, s->W2, D, b->k, xs, s->h,
                                be);
            memcpy(bd, b->c, D * sizeof(double));
        } else {
            tdi_cosim_paper_interface(w, D, xs, be, bd);
        }
        for (size_t i = 0; i < D; i++) {
            *bdiff = fmax(*bdiff, fabs(be[i] - b->b_enc[(j->s0 + q) * D + i]));
            *bdiff = fmax(*bdiff, fabs(bd[i] - b->b_dec[(j->s0 + q) * D + i]));
            *bscale = fmax(*bscale, fmax(fabs(be[i]), fabs(bd[i])));
        }
        for (size_t i = 0; i < N; i++)
            j->ibias[q * j->NT + i] = j->ph->gu * j->ph->Vs * be[i];
    }
}

int tdi_cosim_job_iface(tdi_cosim_job *j, tdi_err *err)
{
    j->bsim = malloc(sizeof(double) * j->ns * j->N);
    j->ibias = calloc(j->ns * j->NT, sizeof(double));
    if (!j->bsim || !j->ibias)
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    skip_enc s = {NULL, NULL, NULL, NULL, NULL, NULL};
    int rc = j->skip ? skip_choose(j, &s, err) : 0;
    double bdiff = 0, bscale = 0;
    if (!rc)
        iface_biases(j, &s, &bdiff, &bscale);
    free(s.mem);
    j->iface = !j->skip ? "enc 4 + transfer 16 (paper)"
               : j->projected ? "A R R^T x (skip, projected)" : "A x (skip, full)";
    int mode = j->skip ? (j->projected ? 2 : 1) : 0;
    if (rc || (rc = tdi_cosim_digeq_count(j->D, j->b.k, mode, &j->dq, err)))
        return rc;
    j->macs = j->dq.iface_macs;
    /* the bundle's biases come from the same networks (formats.md): float64 rounding only */
    if (bdiff > 1e-9 * (bscale > 0 ? bscale : 1))
        return tdi_err_set(err, TDI_EFORMAT, "%s: the interface networks give biases that "
                           "differ from b_enc/b_dec.npy by %.3g (scale %.3g)", j->bdir, bdiff,
                           bscale);
    return 0;
}
