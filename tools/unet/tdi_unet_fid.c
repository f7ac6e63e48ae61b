/* tdi_unet_fid: Frechet distance, class histogram and confidence (see tdi_unet_fid.h). Matrix
 * products in double through GSL's BLAS (which resolves to OpenBLAS in tdi's programs). */
#include "tdi_unet_fid.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_matrix.h>

#include "tdi_unet_clf_run.h"

void tdi_fid_stats(const float *f, size_t n, size_t d, double *mu, double *cov)
{
    memset(mu, 0, d * sizeof *mu);
    memset(cov, 0, d * d * sizeof *cov);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            mu[j] += f[i * d + j];
    for (size_t j = 0; j < d; j++)
        mu[j] /= (double)n;
    for (size_t i = 0; i < n; i++) {
        const float *r = f + i * d;
        for (size_t j = 0; j < d; j++) {
            const double a = r[j] - mu[j];
            for (size_t k = j; k < d; k++)
                cov[j * d + k] += a * (r[k] - mu[k]);
        }
    }
    for (size_t j = 0; j < d; j++)
        for (size_t k = j; k < d; k++) {
            cov[j * d + k] /= (double)(n - 1);
            cov[k * d + j] = cov[j * d + k];
        }
}

/* Eigen-decomposition of the symmetric a: eval [d], evec [d][d] (columns). */
static int eigen(const double *a, size_t d, gsl_vector *eval, gsl_matrix *evec, tdi_err *err)
{
    gsl_matrix *w = gsl_matrix_alloc(d, d);
    gsl_eigen_symmv_workspace *ws = gsl_eigen_symmv_alloc(d);
    int rc = TDI_OK;
    if (!w || !ws) {
        rc = tdi_err_set(err, TDI_ENOMEM, "fid: out of memory");
    } else {
        for (size_t i = 0; i < d; i++)
            for (size_t j = 0; j < d; j++) /* symmetrised: rounding in a product */
                gsl_matrix_set(w, i, j, 0.5 * (a[i * d + j] + a[j * d + i]));
        if (gsl_eigen_symmv(w, eval, evec, ws))
            rc = tdi_err_set(err, TDI_ENUM, "fid: symmetric eigen-solver failed (d = %zu)", d);
    }
    gsl_eigen_symmv_free(ws);
    gsl_matrix_free(w);
    return rc;
}

int tdi_fid_sqrtm(const double *a, size_t d, double *out, tdi_err *err)
{
    gsl_vector *ev = gsl_vector_alloc(d);
    gsl_matrix *v = gsl_matrix_alloc(d, d), *vs = gsl_matrix_alloc(d, d);
    int rc = ev && v && vs ? eigen(a, d, ev, v, err)
                           : tdi_err_set(err, TDI_ENOMEM, "fid: out of memory");
    if (!rc) {
        for (size_t j = 0; j < d; j++) { /* vs = V diag(sqrt(lambda)) */
            const double l = gsl_vector_get(ev, j), s = l > 0.0 ? sqrt(sqrt(l)) : 0.0;
            for (size_t i = 0; i < d; i++)
                gsl_matrix_set(vs, i, j, gsl_matrix_get(v, i, j) * s);
        }
        gsl_matrix_view o = gsl_matrix_view_array(out, d, d);
        gsl_blas_dgemm(CblasNoTrans, CblasTrans, 1.0, vs, vs, 0.0, &o.matrix);
    }
    gsl_vector_free(ev);
    gsl_matrix_free(v);
    gsl_matrix_free(vs);
    return rc;
}

/* tr sqrt(s1^1/2 s2 s1^1/2) = sum of sqrt of that PSD matrix's eigenvalues. */
static int trace_sqrt(const double *s1, const double *s2, size_t d, double *tr, tdi_err *err)
{
    double *h = malloc(d * d * sizeof *h), *t = malloc(d * d * sizeof *t);
    double *p = malloc(d * d * sizeof *p);
    gsl_vector *ev = gsl_vector_alloc(d);
    gsl_matrix *v = gsl_matrix_alloc(d, d);
    int rc = h && t && p && ev && v ? tdi_fid_sqrtm(s1, d, h, err)
                                    : tdi_err_set(err, TDI_ENOMEM, "fid: out of memory");
    if (!rc) {
        gsl_matrix_view H = gsl_matrix_view_array(h, d, d), T = gsl_matrix_view_array(t, d, d);
        gsl_matrix_view P = gsl_matrix_view_array(p, d, d);
        gsl_matrix_const_view S2 = gsl_matrix_const_view_array(s2, d, d);
        gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 1.0, &H.matrix, &S2.matrix, 0.0, &T.matrix);
        gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 1.0, &T.matrix, &H.matrix, 0.0, &P.matrix);
        rc = eigen(p, d, ev, v, err);
    }
    if (!rc) {
        double s = 0.0;
        for (size_t j = 0; j < d; j++)
            s += gsl_vector_get(ev, j) > 0.0 ? sqrt(gsl_vector_get(ev, j)) : 0.0;
        *tr = s;
    }
    free(h);
    free(t);
    free(p);
    gsl_vector_free(ev);
    gsl_matrix_free(v);
    return rc;
}

int tdi_fid_frechet(const double *mu1, const double *s1, const double *mu2, const double *s2,
                    size_t d, double *fd, tdi_err *err)
{
    double tr = 0.0;
    int rc = trace_sqrt(s1, s2, d, &tr, err);
    if (rc)
        return rc;
    double v = 0.0;
    for (size_t j = 0; j < d; j++)
        v += (mu1[j] - mu2[j]) * (mu1[j] - mu2[j]) + s1[j * d + j] + s2[j * d + j];
    *fd = v - 2.0 * tr;
    return TDI_OK;
}

int tdi_fid_of_features(const float *f1, size_t n1, const float *f2, size_t n2, size_t d,
                        double *fd, tdi_err *err)
{
    if (n1 < 2 || n2 < 2)
        return tdi_err_set(err, TDI_EARG, "fid: need at least 2 images per set (%zu, %zu)", n1,
                           n2);
    double *m1 = malloc(d * sizeof *m1), *m2 = malloc(d * sizeof *m2);
    double *c1 = malloc(d * d * sizeof *c1), *c2 = malloc(d * d * sizeof *c2);
    int rc;
    if (!m1 || !m2 || !c1 || !c2) {
        rc = tdi_err_set(err, TDI_ENOMEM, "fid: out of memory");
    } else {
        tdi_fid_stats(f1, n1, d, m1, c1);
        tdi_fid_stats(f2, n2, d, m2, c2);
        rc = tdi_fid_frechet(m1, c1, m2, c2, d, fd, err);
    }
    free(m1);
    free(m2);
    free(c1);
    free(c2);
    return rc;
}

/* Class histogram, its spread and the mean confidence of probabilities prob [n][10]. */
static void histogram(const float *prob, size_t n, long *hist, double *spread, double *conf)
{
    memset(hist, 0, TDI_CLF_CLASSES * sizeof *hist);
    double c = 0.0;
    for (size_t i = 0; i < n; i++) {
        const float *p = prob + i * TDI_CLF_CLASSES;
        int best = 0;
        for (int k = 1; k < TDI_CLF_CLASSES; k++)
            best = p[k] > p[best] ? k : best;
        hist[best]++;
        c += p[best];
    }
    double tv = 0.0;
    for (int k = 0; k < TDI_CLF_CLASSES; k++)
        tv += fabs((double)hist[k] / (double)n - 1.0 / TDI_CLF_CLASSES);
    *spread = 0.5 * tv;
    *conf = c / (double)n;
}

int tdi_fid_evaluate(tdi_clf *m, const float *img, size_t n, const tdi_unet_dataset *test,
                     tdi_fid_report *r, tdi_err *err)
{
    if (n < 2 || n > test->n)
        return tdi_err_set(err, TDI_EARG, "fid: %zu images; want 2..%zu (the test split)", n,
                           test->n);
    const size_t d = m->arch.hidden;
    const int floor_ok = 2 * n <= test->n;
    float *fg = malloc(n * d * sizeof *fg), *ft = malloc(n * d * sizeof *ft);
    float *ff = malloc(n * d * sizeof *ff), *pr = malloc(n * TDI_CLF_CLASSES * sizeof *pr);
    if (!fg || !ft || !ff || !pr) {
        free(fg), free(ft), free(ff), free(pr);
        return tdi_err_set(err, TDI_ENOMEM, "fid: out of memory");
    }
    memset(r, 0, sizeof *r);
    r->n = n;
    long h[TDI_CLF_CLASSES];
    tdi_clf_apply(m, test->img, n, ft, pr);
    histogram(pr, n, h, &r->ref_spread, &r->ref_confidence);
    tdi_clf_apply(m, img, n, fg, pr);
    histogram(pr, n, r->hist, &r->spread, &r->confidence);
    int rc = tdi_fid_of_features(fg, n, ft, n, d, &r->fd, err);
    r->floor_fd = NAN;
    if (!rc && floor_ok) {
        tdi_clf_apply(m, test->img + n * 1024, n, ff, NULL);
        rc = tdi_fid_of_features(ff, n, ft, n, d, &r->floor_fd, err);
    }
    free(fg);
    free(ft);
    free(ff);
    free(pr);
    return rc;
}
