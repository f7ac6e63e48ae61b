/* tdi_cosim_extract: the realised conductance matrix of a generated circuit, measured in ngspice
 * (docs/cosim.md "Realised matrix"): the hold netlist (tdi_gen.h, TDI_GEN_HOLD) holds every unit
 * at its rest voltage; one op at rest, then per unit j its hold source at +delta and
 * G[:, j] = -(i(vh)(+delta) - i(vh)(0)) / delta (current leaving each unit node per volt at
 * unit j; central differences on request), and the comparison with the design gu*M: overall, per block, asymmetry and
 * diagonal. Invariant: exact (to rounding) for ideal elements. Non-goals: AC extraction,
 * units whose force node is not the unit node. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tdi_clock.h"
#include "tdi_cosim.h"
#include "tdi_gen.h"

/* "i(vh<unit>)" and the source name "vh<unit>" of unit i, lower case. */
static void hold_names(const tdi_gen_circuit *c, size_t i, char *src, size_t ns, char *cur,
                       size_t nc)
{
    snprintf(src, ns, "vh%s", c->nodes[i].name);
    for (char *p = src; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    snprintf(cur, nc, "i(%s)", src);
}

/* Every hold source's current (A, into its + terminal) of the last op into cur (N). */
static int read_currents(const tdi_gen_circuit *c, double *cur, tdi_err *err)
{
    for (size_t i = 0; i < c->N; i++) {
        char src[64], name[72];
        hold_names(c, i, src, sizeof src, name, sizeof name);
        int rc = tdi_cosim_ng_real(name, &cur[i], err);
        if (rc)
            return rc;
    }
    return 0;
}

/* One op with unit j's hold source at v (V above the reference), the currents into cur, then
 * the plots dropped (2N + 1 ops would otherwise keep 2N + 1 plots). */
static int op_at(const tdi_gen_circuit *c, size_t j, double v, double *cur, tdi_err *err)
{
    char src[64], name[72], cmd[128];
    hold_names(c, j, src, sizeof src, name, sizeof name);
    snprintf(cmd, sizeof cmd, "alter %s dc=%.17g", src, v);
    int rc = tdi_cosim_ng_cmd(cmd, err);
    if (!rc && (rc = tdi_cosim_ng_cmd("op", err)))
        tdi_err_prefix(err, "op with unit %s held at %+.3g V", c->nodes[j].name, v);
    if (!rc)
        rc = read_currents(c, cur, err);
    if (!rc)
        rc = tdi_cosim_ng_cmd("destroy all", err);
    return rc;
}

/* The columns: per unit, +delta and (central) -delta, back to 0. */
static int extract_columns(const tdi_gen_circuit *c, const tdi_cosim_extract_opt *o,
                           const double *i0, double *G, double *ip, double *im, tdi_err *err)
{
    size_t N = c->N;
    for (size_t j = 0; j < N; j++) {
        int rc = op_at(c, j, o->delta, ip, err);
        if (!rc && o->central)
            rc = op_at(c, j, -o->delta, im, err);
        char src[64], name[72], cmd[128];
        hold_names(c, j, src, sizeof src, name, sizeof name);
        snprintf(cmd, sizeof cmd, "alter %s dc=0", src);
        if (!rc)
            rc = tdi_cosim_ng_cmd(cmd, err);
        if (rc)
            return rc;
        for (size_t i = 0; i < N; i++)
            G[i * N + j] = o->central ? -(ip[i] - im[i]) / (2 * o->delta)
                                      : -(ip[i] - i0[i]) / o->delta;
    }
    return 0;
}

void tdi_cosim_extract_defaults(const tdi_gen_circuit *c, tdi_cosim_extract_opt *o)
{
    (void)c;
    o->delta = 1e-3;
    o->central = 0; /* at transistor level central differs by 5.6e-5 of max |G| (D = 4) */
}

int tdi_cosim_extract_g_ex(const tdi_gen_circuit *c, const tdi_cosim_extract_opt *opt,
                           double *G, double *i_rest, tdi_cosim_extract_stats *st, tdi_err *err)
{
    if (!c || !G || !opt || !(opt->delta > 0))
        return tdi_err_set(err, TDI_EARG, "extract: no circuit, matrix or positive delta");
    double w0 = tdi_clock_s(CLOCK_MONOTONIC), c0 = tdi_clock_s(CLOCK_PROCESS_CPUTIME_ID);
    size_t N = c->N;
    tdi_gen_text *t = NULL;
    double *buf = malloc(3 * N * sizeof *buf);
    if (!buf)
        return tdi_err_set(err, TDI_ENOMEM, "extract: out of memory");
    int rc = tdi_gen_netlist_text(c, TDI_GEN_HOLD, 0, 0, &t, err);
    if (!rc)
        rc = tdi_cosim_ng_load(t, err);
    if (!rc && (rc = tdi_cosim_ng_cmd("op", err)))
        tdi_err_prefix(err, "op at rest (every unit held at its reference)");
    if (!rc)
        rc = read_currents(c, buf, err);
    if (!rc)
        rc = tdi_cosim_ng_cmd("destroy all", err);
    if (!rc)
        rc = extract_columns(c, opt, buf, G, buf + N, buf + 2 * N, err);
    if (!rc && i_rest)
        memcpy(i_rest, buf, N * sizeof *buf);
    tdi_cosim_ng_unload();
    if (rc)
        tdi_err_prefix(err, "realised-matrix extraction");
    if (st) {
        st->n_op = 1 + N * (opt->central ? 2 : 1);
        st->wall_s = tdi_clock_s(CLOCK_MONOTONIC) - w0;
        st->cpu_s = tdi_clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    }
    tdi_gen_text_free(t);
    free(buf);
    return rc;
}

int tdi_cosim_extract_g(const tdi_gen_circuit *c, double *G, tdi_err *err)
{
    tdi_cosim_extract_opt o;
    tdi_cosim_extract_defaults(c, &o);
    return tdi_cosim_extract_g_ex(c, &o, G, NULL, NULL, err);
}

/* ------------------------------------------------------------ comparison with the design */

/* |A - s B|_F and |s B|_F over the entries (i, j) of rows [r0, r1) x cols [c0, c1) that keep
 * (diag: i == j only; offd: i != j only; both: all). */
static void block_norms(const double *A, const double *B, double s, size_t N, size_t r0,
                        size_t r1, size_t c0, size_t c1, int which, double *dif, double *ref)
{
    double d = 0, r = 0;
    for (size_t i = r0; i < r1; i++)
        for (size_t j = c0; j < c1; j++) {
            if ((which == 1 && i != j) || (which == 2 && i == j))
                continue;
            double e = A[i * N + j] - s * B[i * N + j];
            d += e * e;
            r += s * B[i * N + j] * s * B[i * N + j];
        }
    *dif = sqrt(d);
    *ref = sqrt(r);
}

static void add_block(tdi_cosim_realised *r, const char *name, double dif, double ref)
{
    if (r->n_blk >= sizeof r->blk / sizeof r->blk[0])
        return;
    snprintf(r->blk[r->n_blk].name, sizeof r->blk[0].name, "%s", name);
    r->blk[r->n_blk].err_fro = dif;
    r->blk[r->n_blk].ref_fro = ref;
    r->blk[r->n_blk].rel = ref > 0 ? dif / ref : dif;
    r->n_blk++;
}

/* self, intra_<module> (off-diagonal within it), cpl_<a>_<b> (both directions between two
 * modules). */
static void compare_blocks(const tdi_gen_circuit *c, const double *G, tdi_cosim_realised *r)
{
    size_t N = c->N;
    double gu = c->phys.gu, dif, ref;
    block_norms(G, c->M, gu, N, 0, N, 0, N, 1, &dif, &ref);
    add_block(r, "self", dif, ref);
    for (size_t m = 0; m < c->n_mod; m++) {
        const tdi_gen_module *a = &c->mod[m];
        block_norms(G, c->M, gu, N, a->off, a->off + a->n, a->off, a->off + a->n, 2, &dif, &ref);
        char nm[48];
        snprintf(nm, sizeof nm, "intra_%s", a->name);
        add_block(r, nm, dif, ref);
    }
    for (size_t m = 0; m < c->n_mod; m++)
        for (size_t q = m + 1; q < c->n_mod; q++) {
            const tdi_gen_module *a = &c->mod[m], *b = &c->mod[q];
            double d1, r1, d2, r2;
            block_norms(G, c->M, gu, N, a->off, a->off + a->n, b->off, b->off + b->n, 0, &d1,
                        &r1);
            block_norms(G, c->M, gu, N, b->off, b->off + b->n, a->off, a->off + a->n, 0, &d2,
                        &r2);
            char nm[48];
            snprintf(nm, sizeof nm, "cpl_%s_%s", a->name, b->name);
            add_block(r, nm, hypot(d1, d2), hypot(r1, r2));
        }
}

int tdi_cosim_realised_compare(const tdi_gen_circuit *c, const double *G, tdi_cosim_realised *r,
                               tdi_err *err)
{
    size_t N = c->N;
    memset(r, 0, sizeof *r);
    r->N = N;
    for (int k = 0; k < TDI_COSIM_OP_SUPPLY; k++)
        r->op_supply_W[k] = NAN; /* the route's op fills them (tdi_cosim_realised_run_ex) */
    double gu = c->phys.gu, dif, ref, asym = 0, gf = 0, dmax = 0, dss = 0;
    block_norms(G, c->M, gu, N, 0, N, 0, N, 0, &dif, &ref);
    if (!(ref > 0))
        return tdi_err_set(err, TDI_EARG, "realised matrix: the design gu*M is zero");
    r->rel_fro = dif / ref;
    for (size_t i = 0; i < N; i++) {
        for (size_t j = 0; j < N; j++) {
            double a = G[i * N + j] - G[j * N + i];
            asym += a * a;
            gf += G[i * N + j] * G[i * N + j];
        }
        double want = gu * c->M[i * N + i], e = (G[i * N + i] - want) / fabs(want);
        if (!isfinite(e))
            return tdi_err_set(err, TDI_ENUM, "realised matrix: G[%zu][%zu] = %g against %g",
                               i, i, G[i * N + i], want);
        dmax = fmax(dmax, fabs(e));
        dss += e * e;
        r->diag_mean += e / (double)N;
    }
    r->asym = gf > 0 ? sqrt(asym) / sqrt(gf) : 0;
    r->diag_max = dmax;
    r->diag_rms = sqrt(dss / (double)N);
    compare_blocks(c, G, r);
    return 0;
}

void tdi_cosim_realised_print(const tdi_cosim_realised *r, FILE *f)
{
    if (r->method == TDI_COSIM_REALISED_LINEAR)
        fprintf(f, "realised matrix (linearised at one ngspice op: gm, gds, gmbs of every "
                "device; %zu units, %zu ops, %.3f s wall):\n", r->N, r->n_op, r->wall_s);
    else
        fprintf(f, "realised matrix (ngspice op, %zu units, +-%.3g V per unit, %zu ops, %.3f s "
                "wall):\n", r->N, r->delta, r->n_op, r->wall_s);
    fprintf(f, "  |G - gu M|_F / |gu M|_F = %.3e   asymmetry |G - G^T|_F / |G|_F = %.3e\n",
            r->rel_fro, r->asym);
    fprintf(f, "  diagonal (G_ii - gu M_ii) / gu M_ii: mean %+.3e, rms %.3e, max |.| %.3e\n",
            r->diag_mean, r->diag_rms, r->diag_max);
    fprintf(f, "  %-24s %12s %12s %12s\n", "block", "|dG|_F (S)", "|gu M|_F (S)", "relative");
    for (size_t b = 0; b < r->n_blk; b++)
        fprintf(f, "  %-24s %12.4e %12.4e %12.4e\n", r->blk[b].name, r->blk[b].err_fro,
                r->blk[b].ref_fro, r->blk[b].rel);
    if (!isnan(r->op_supply_W[0]))
        fprintf(f, "  supplies at that op (units held at V_cm): Vdd %.4g W, Vbias %.4g W, Vcm "
                "%.4g W; %.3f s CPU\n", r->op_supply_W[0], r->op_supply_W[1], r->op_supply_W[2],
                r->cpu_s);
}

int tdi_cosim_realised_json(const tdi_cosim_realised *r, tdi_json *o)
{
    const tdi_json_kv kv[] = {
        TDI_JS("method", tdi_cosim_realised_method_name(r->method)),
        TDI_JI("N", r->N), TDI_JR("delta_V", r->delta), TDI_JI("central", r->central),
        TDI_JI("ops", r->n_op), TDI_JR("wall_s", r->wall_s), TDI_JR("cpu_s", r->cpu_s),
        TDI_JR("rel_fro", r->rel_fro), TDI_JR("asymmetry", r->asym),
        TDI_JR("diag_mean", r->diag_mean), TDI_JR("diag_rms", r->diag_rms),
        TDI_JR("diag_max", r->diag_max)};
    const tdi_json_kv sk[] = {TDI_JR("op_vdd_W", r->op_supply_W[0]),
                              TDI_JR("op_vbias_W", r->op_supply_W[1]),
                              TDI_JR("op_vcm_W", r->op_supply_W[2])};
    int rc = tdi_json_set(o, kv, TDI_JSON_N(kv)) ||
             (!isnan(r->op_supply_W[0]) && tdi_json_set(o, sk, TDI_JSON_N(sk)));
    tdi_json *blocks = tdi_json_add_array(o, "blocks");
    rc = rc || !blocks;
    for (size_t b = 0; b < r->n_blk && !rc; b++) {
        const tdi_json_kv bk[] = {
            TDI_JS("block", r->blk[b].name), TDI_JR("err_fro", r->blk[b].err_fro),
            TDI_JR("ref_fro", r->blk[b].ref_fro), TDI_JR("rel", r->blk[b].rel)};
        rc = tdi_json_set(tdi_json_add_object(blocks, NULL), bk, TDI_JSON_N(bk));
    }
    return rc ? TDI_ENOMEM : 0;
}

int tdi_cosim_realised_method_parse(const char *s, int *m, tdi_err *err)
{
    static const char *const nm[3] = {"auto", "perturb", "linear"};
    for (int q = 0; q < 3; q++)
        if (s && strcmp(s, nm[q]) == 0) {
            *m = TDI_COSIM_REALISED_AUTO + q;
            return 0;
        }
    return tdi_err_set(err, TDI_EARG, "realised method '%s': perturb | linear | auto",
                       s ? s : "");
}

const char *tdi_cosim_realised_method_name(int method)
{
    return method == TDI_COSIM_REALISED_LINEAR    ? "linear"
           : method == TDI_COSIM_REALISED_PERTURB ? "perturb"
                                                  : "auto";
}

int tdi_cosim_realised_method_for(const tdi_gen_circuit *c, int method)
{
    if (method == TDI_COSIM_REALISED_PERTURB || method == TDI_COSIM_REALISED_LINEAR)
        return method;
    return c->n_dev > TDI_COSIM_REALISED_LINEAR_DEV ? TDI_COSIM_REALISED_LINEAR
                                                    : TDI_COSIM_REALISED_PERTURB;
}

void tdi_cosim_realised_destroy(tdi_cosim_realised *r)
{
    if (!r)
        return;
    free(r->i_rest);
    r->i_rest = NULL;
}

int tdi_cosim_realised_run_ex(const tdi_gen_circuit *c, int method, tdi_cosim_realised *r,
                              double **G_out, tdi_err *err)
{
    size_t N = c->N;
    memset(r, 0, sizeof *r); /* i_rest NULL on every error path */
    double *G = malloc(N * N * sizeof *G), *ir = malloc(N * sizeof *ir);
    if (!G || !ir) {
        free(G);
        free(ir);
        return tdi_err_set(err, TDI_ENOMEM, "realised matrix: out of memory");
    }
    int m = tdi_cosim_realised_method_for(c, method), rc;
    tdi_cosim_extract_opt o;
    tdi_cosim_extract_defaults(c, &o);
    tdi_cosim_extract_stats st = {.op_supply_W = {NAN, NAN, NAN}}; /* perturb: not read */
    if (m == TDI_COSIM_REALISED_LINEAR)
        rc = tdi_cosim_linear_g(c, G, ir, &st, err);
    else
        rc = tdi_cosim_extract_g_ex(c, &o, G, ir, &st, err);
    if (!rc)
        rc = tdi_cosim_realised_compare(c, G, r, err);
    if (!rc) {
        r->method = m;
        r->delta = m == TDI_COSIM_REALISED_LINEAR ? 0 : o.delta;
        r->central = m == TDI_COSIM_REALISED_LINEAR ? 0 : o.central;
        r->n_op = st.n_op;
        r->wall_s = st.wall_s;
        r->cpu_s = st.cpu_s;
        memcpy(r->op_supply_W, st.op_supply_W, sizeof r->op_supply_W);
        r->i_rest = ir;
        ir = NULL;
    }
    free(ir);
    if (G_out && !rc)
        *G_out = G;
    else
        free(G);
    free(ir);
    return rc;
}

int tdi_cosim_realised_run(const tdi_gen_circuit *c, tdi_cosim_realised *r, double **G_out,
                           tdi_err *err)
{
    return tdi_cosim_realised_run_ex(c, TDI_COSIM_REALISED_AUTO, r, G_out, err);
}
