/* tdi_cosim_circuit: the circuit description shared by the engines, the direct netlist
 * realisation of G = gu M (tests, and runs without a generated netlist), the analytic engine and
 * the converter quantiser. Direct realisation cards, per unit i (nodes u<i>):
 *   Cu<i> u<i> 0 <cu>;  Ru<i> u<i> 0 <1/(gu M_ii)>;  Gu<i>_<j> u<i> 0 u<j> 0 <gu M_ij> (j != i,
 *   M_ij != 0);  Iu<i> 0 u<i> external   (no "dc" value: ngspice 39.3 bug #637).
 * Non-goals: bus nodes and low-rank realisations (the generator's job). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_eigen.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>

#include "tdi_cosim.h"

const char *tdi_cosim_kind_name(tdi_cosim_kind k)
{
    switch (k) {
    case TDI_COSIM_ANALYTIC: return "analytic";
    case TDI_COSIM_SDE: return "sde";
    case TDI_COSIM_SPICE: return "spice";
    }
    return "?";
}

tdi_cosim_circuit *tdi_cosim_circuit_alloc(size_t n, tdi_err *err)
{
    tdi_cosim_circuit *c = calloc(1, sizeof *c);
    if (!c)
        goto fail;
    c->n = n;
    c->cap = calloc(n, sizeof(double));
    c->G = calloc(n * n, sizeof(double));
    c->g_noise = calloc(n, sizeof(double));
    c->node = calloc(n, sizeof(char *));
    c->src = calloc(n, sizeof(char *));
    c->src_noise = calloc(n, sizeof(char *));
    c->r_unit = calloc(n, sizeof(double));
    c->r_rate = calloc(n, sizeof(double));
    c->rc_units = 1;
    if (n == 0 || !c->cap || !c->G || !c->g_noise || !c->node || !c->src || !c->src_noise ||
        !c->r_unit || !c->r_rate)
        goto fail;
    return c;
fail:
    tdi_cosim_circuit_free(c);
    tdi_err_set(err, n == 0 ? TDI_EARG : TDI_ENOMEM, n == 0 ? "circuit with no units"
                                                              : "out of memory");
    return NULL;
}

static void circuit_dev_free(tdi_cosim_circuit *c)
{
    for (size_t d = 0; d < c->n_dev && c->dev_src; d++)
        free(c->dev_src[d]);
    free(c->dev_src);
    free(c->dev_psd_w);
    free(c->dev_psd_f1);
    c->dev_src = NULL;
    c->dev_psd_w = c->dev_psd_f1 = NULL;
    c->n_dev = 0;
}

void tdi_cosim_circuit_free(tdi_cosim_circuit *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        if (c->node)
            free(c->node[i]);
        if (c->src)
            free(c->src[i]);
        if (c->src_noise)
            free(c->src_noise[i]);
    }
    if (c->lines)
        for (size_t i = 0; c->lines[i]; i++)
            free(c->lines[i]);
    free(c->lines);
    for (size_t s = 0; s < c->n_supply; s++)
        free(c->supply[s]);
    free(c->node);
    free(c->src);
    free(c->src_noise);
    free(c->cap);
    free(c->G);
    free(c->g_noise);
    free(c->r_unit);
    free(c->r_g);
    free(c->r_map);
    free(c->r_rate);
    free(c->state_cap);
    free(c->state_G);
    free(c->force);
    free(c->i_off);
    circuit_dev_free(c);
    free(c);
}

int tdi_cosim_circuit_set_offset(tdi_cosim_circuit *c, const double *i_off, tdi_err *err)
{
    double *d = NULL;
    if (i_off) {
        if (!(d = malloc(c->n * sizeof *d)))
            return tdi_err_set(err, TDI_ENOMEM, "offset currents: out of memory");
        for (size_t i = 0; i < c->n; i++)
            if (!isfinite(d[i] = i_off[i])) {
                free(d);
                return tdi_err_set(err, TDI_ENUM, "offset current of unit %zu is %g", i,
                                   i_off[i]);
            }
    }
    free(c->i_off);
    c->i_off = d;
    return 0;
}

int tdi_cosim_circuit_set_state(tdi_cosim_circuit *c, size_t ns, const double *cap,
                                const double *G, const size_t *force, tdi_err *err)
{
    size_t n = c->n;
    if (ns < n)
        return tdi_err_set(err, TDI_EARG, "state of %zu nodes for %zu units", ns, n);
    for (size_t i = 0; i < n; i++)
        if (force[i] >= ns)
            return tdi_err_set(err, TDI_EARG, "unit %zu: force node %zu outside the state (%zu "
                               "nodes)", i, force[i], ns);
    for (size_t i = 0; i < ns; i++)
        if (!(cap[i] > 0))
            return tdi_err_set(err, TDI_EARG, "state node %zu has capacitance %g (need > 0)", i,
                               cap[i]);
    double *sc = malloc(sizeof(double) * ns), *sg = malloc(sizeof(double) * ns * ns);
    size_t *f = malloc(sizeof(size_t) * n);
    if (!sc || !sg || !f) {
        free(sc);
        free(sg);
        free(f);
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    }
    memcpy(sc, cap, sizeof(double) * ns);
    memcpy(sg, G, sizeof(double) * ns * ns);
    memcpy(f, force, sizeof(size_t) * n);
    free(c->state_cap);
    free(c->state_G);
    free(c->force);
    c->n_state = ns;
    c->state_cap = sc;
    c->state_G = sg;
    c->force = f;
    return 0;
}

int tdi_cosim_sde_supports(const tdi_cosim_circuit *c)
{
    return c->rc_units || c->n_state > 0;
}

static char *dup_lower(const char *s)
{
    char *d = strdup(s);
    if (d)
        for (char *p = d; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    return d;
}

int tdi_cosim_circuit_set_names(tdi_cosim_circuit *c, size_t i, const char *node,
                                const char *src, const char *noise, tdi_err *err)
{
    if (i >= c->n)
        return tdi_err_set(err, TDI_EARG, "unit %zu out of range (n = %zu)", i, c->n);
    char *a = dup_lower(node), *b = dup_lower(src), *z = noise ? dup_lower(noise) : NULL;
    if (!a || !b || (noise && !z)) {
        free(a);
        free(b);
        free(z);
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    }
    free(c->node[i]);
    free(c->src[i]);
    free(c->src_noise[i]);
    c->node[i] = a;
    c->src[i] = b;
    c->src_noise[i] = z;
    return 0;
}

int tdi_cosim_circuit_add_supply(tdi_cosim_circuit *c, const char *name, double volts,
                                 tdi_err *err)
{
    if (c->n_supply >= TDI_COSIM_MAX_SUPPLY)
        return tdi_err_set(err, TDI_EARG, "supply '%s': at most %d supplies are measured", name,
                           TDI_COSIM_MAX_SUPPLY);
    for (size_t s = 0; s < c->n_supply; s++)
        if (strcasecmp(c->supply[s], name) == 0)
            return tdi_err_set(err, TDI_EARG, "supply '%s' given twice", name);
    char *d = strdup(name);
    if (!d)
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    for (char *p = d; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    c->supply[c->n_supply] = d;
    c->supply_v[c->n_supply++] = volts;
    return 0;
}

int tdi_cosim_circuit_set_dev_noise(tdi_cosim_circuit *c, size_t n, const char *const *names,
                                    const double *psd_w, const double *psd_f1, tdi_err *err)
{
    for (size_t d = 0; d < n; d++)
        if (!names[d] || !(psd_w[d] >= 0) || !(psd_f1[d] >= 0))
            return tdi_err_set(err, TDI_EARG, "device noise source %zu: needs a name and PSDs "
                               ">= 0 (white %g, 1/f %g A^2/Hz)", d, psd_w[d], psd_f1[d]);
    circuit_dev_free(c);
    if (n == 0)
        return 0;
    c->dev_src = calloc(n, sizeof(char *));
    c->dev_psd_w = malloc(sizeof(double) * n);
    c->dev_psd_f1 = malloc(sizeof(double) * n);
    c->n_dev = n;
    int bad = !c->dev_src || !c->dev_psd_w || !c->dev_psd_f1;
    for (size_t d = 0; d < n && !bad; d++) {
        bad = !(c->dev_src[d] = dup_lower(names[d]));
        c->dev_psd_w[d] = psd_w[d];
        c->dev_psd_f1[d] = psd_f1[d];
    }
    if (bad) {
        circuit_dev_free(c);
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    }
    return 0;
}

int tdi_cosim_circuit_set_lines(tdi_cosim_circuit *c, const char *const *lines, tdi_err *err)
{
    size_t n = 0;
    while (lines[n])
        n++;
    char **l = calloc(n + 1, sizeof(char *));
    if (!l)
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        l[i] = strdup(lines[i]);
        if (!l[i]) {
            for (size_t j = 0; j < i; j++)
                free(l[j]);
            free(l);
            return tdi_err_set(err, TDI_ENOMEM, "out of memory");
        }
    }
    if (c->lines)
        for (size_t i = 0; c->lines[i]; i++)
            free(c->lines[i]);
    free(c->lines);
    c->lines = l;
    return 0;
}

tdi_cosim_circuit *tdi_cosim_circuit_direct(size_t n, const double *M, double cu, double gu,
                                            double temp, tdi_err *err)
{
    if (!(cu > 0) || !(gu > 0) || !(temp >= 0)) {
        tdi_err_set(err, TDI_EARG, "direct circuit: need cu > 0, gu > 0, temp >= 0");
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (!(M[i * n + i] > 0)) {
            tdi_err_set(err, TDI_ENUM, "direct circuit: M[%zu][%zu] = %g is not > 0", i, i,
                        M[i * n + i]);
            return NULL;
        }
    tdi_cosim_circuit *c = tdi_cosim_circuit_alloc(n, err);
    if (!c)
        return NULL;
    c->temp = temp;
    size_t cap = 4 * n + 2, nl = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            if (i != j && M[i * n + j] != 0.0)
                cap++;
    c->lines = calloc(cap, sizeof(char *));
    if (!c->lines)
        goto oom;
    char buf[256];
#define ADD_LINE(...)                                                                          \
    do {                                                                                       \
        snprintf(buf, sizeof buf, __VA_ARGS__);                                                \
        if (!(c->lines[nl++] = strdup(buf)))                                                   \
            goto oom;                                                                          \
    } while (0)
    ADD_LINE("* tdi-cosim direct realisation, %zu units", n);
    for (size_t i = 0; i < n; i++) {
        char nd[32], sr[32];
        snprintf(nd, sizeof nd, "u%zu", i);
        snprintf(sr, sizeof sr, "iu%zu", i);
        if (tdi_cosim_circuit_set_names(c, i, nd, sr, NULL, err))
            goto fail;
        c->cap[i] = cu;
        c->g_noise[i] = gu;
        ADD_LINE("Cu%zu u%zu 0 %.17g", i, i, cu);
        ADD_LINE("Ru%zu u%zu 0 %.17g", i, i, 1.0 / (gu * M[i * n + i]));
        c->r_unit[i] = gu * M[i * n + i];
        c->n_res++;
        for (size_t j = 0; j < n; j++) {
            double m = M[i * n + j];
            c->G[i * n + j] = gu * m;
            if (i == j || m == 0.0)
                continue;
            ADD_LINE("Gu%zu_%zu u%zu 0 u%zu 0 %.17g", i, j, i, j, gu * m);
            c->n_vccs++;
            c->sum_gm += fabs(gu * m);
            if (j > i || M[j * n + i] == 0.0)
                c->wires++;
        }
        ADD_LINE("Iu%zu 0 u%zu external", i, i);
    }
#undef ADD_LINE
    c->lines[nl] = NULL;
    return c;
oom:
    tdi_err_set(err, TDI_ENOMEM, "out of memory");
fail:
    tdi_cosim_circuit_free(c);
    return NULL;
}

int tdi_cosim_analytic_solve(const tdi_cosim_circuit *c, const double *ib, double *out,
                             tdi_err *err)
{
    size_t n = c->n;
    gsl_matrix *a = gsl_matrix_alloc(n, n);
    gsl_permutation *p = gsl_permutation_alloc(n);
    if (!a || !p) {
        gsl_matrix_free(a);
        gsl_permutation_free(p);
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    }
    memcpy(a->data, c->G, sizeof(double) * n * n);
    gsl_vector_const_view b = gsl_vector_const_view_array(ib, n);
    gsl_vector_view x = gsl_vector_view_array(out, n);
    int signum, rc = 0;
    if (gsl_linalg_LU_decomp(a, p, &signum) || gsl_linalg_LU_solve(a, p, &b.vector, &x.vector))
        rc = tdi_err_set(err, TDI_ENUM, "analytic engine: G is singular");
    for (size_t i = 0; i < n && !rc; i++)
        if (!isfinite(out[i]))
            rc = tdi_err_set(err, TDI_ENUM, "analytic engine: G is singular (v[%zu] = %g)", i,
                             out[i]);
    gsl_matrix_free(a);
    gsl_permutation_free(p);
    return rc;
}

int tdi_cosim_analytic_equilibrium(const tdi_cosim_circuit *c, const double *ib, double *out,
                                   tdi_err *err)
{
    if (!c->i_off)
        return tdi_cosim_analytic_solve(c, ib, out, err);
    double *d = malloc(c->n * sizeof *d);
    if (!d)
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    for (size_t i = 0; i < c->n; i++)
        d[i] = ib[i] + c->i_off[i];
    int rc = tdi_cosim_analytic_solve(c, d, out, err);
    free(d);
    return rc;
}

double tdi_cosim_quantize(double x, int bits, double fs)
{
    if (bits <= 0)
        return x;
    double q = 2.0 * fs / ldexp(1.0, bits);
    double hi = ldexp(1.0, bits - 1) - 1.0, lo = -ldexp(1.0, bits - 1);
    double code = round(x / q);
    if (code > hi)
        code = hi;
    if (code < lo)
        code = lo;
    return code * q;
}

int tdi_cosim_circuit_modes(const tdi_cosim_circuit *c, size_t m, double *lam, double *U,
                            tdi_err *err)
{
    size_t n = c->n;
    if (m == 0 || m > n)
        return tdi_err_set(err, TDI_EARG, "circuit modes: need 0 < m <= n");
    int rc = 0;
    gsl_matrix *K = gsl_matrix_alloc(m, m);
    gsl_matrix_view Uv = gsl_matrix_view_array(U, m, m);
    gsl_vector_view lv = gsl_vector_view_array(lam, m);
    gsl_eigen_symmv_workspace *w = gsl_eigen_symmv_alloc(m);
    if (!K || !w) {
        rc = tdi_err_set(err, TDI_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < m; j++)
            gsl_matrix_set(K, i, j, 0.5 * (c->G[i * n + j] + c->G[j * n + i]) /
                                        sqrt(c->cap[i] * c->cap[j]));
    if (gsl_eigen_symmv(K, &lv.vector, &Uv.matrix, w)) {
        rc = tdi_err_set(err, TDI_ENUM, "eigen-decomposition failed");
        goto done;
    }
    for (size_t k = 0; k < m && !rc; k++)
        if (!(lam[k] > 0))
            rc = tdi_err_set(err, TDI_ENUM, "C^-1/2 G C^-1/2 has eigenvalue %g <= 0 (mode %zu: "
                             "the circuit is not stable)", lam[k], k);
done:
    gsl_matrix_free(K);
    if (w)
        gsl_eigen_symmv_free(w);
    return rc;
}
