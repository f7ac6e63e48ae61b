/* test_mos_x: PDK subcircuit devices (mos_prefix x) in every transistor-level path that reads a
 * device (cosim/tdi_cosim_mosname.c): on the D = 4 circuit (intra dense, skip sharedbus) with
 * the wrapper library of tdi_test_mos.h (one-MOSFET subcircuits around the shipped card), the
 * MOSFET names, the linearised route's G, rest currents and rail powers, the rest-op reads (gm,
 * gds, id, vth) and the self-term compensation against the same circuit with M devices on the
 * card, flat and hierarchical; a wrapper whose n device is another device (delvto 1 mV) is seen
 * by every comparison; a MOSFET one subcircuit deeper (inner name "xcore.mcore"); subcircuits
 * with no or two MOSFETs are errors naming them; the probe after a .save none transient.
 * Scratch: build/test-mos-x/. */
#include <gsl/gsl_errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tdi_clock.h"
#include "tdi_cosim.h"
#include "tdi_gen.h"
#include "tdi_test.h"
#include "tdi_test_gen.h"
#include "tdi_test_mos.h"

#define SCR "build/test-mos-x"
/* x against m devices: the same BSIM4 equations on the same nodes, ngspice's matrix at most
 * ordered differently by the subcircuit expansion, so at most the sparse LU's rounding carried
 * through Newton's last update (a differently ordered matrix: 2e-13 in test_mosnoise_group).
 * Observed: bitwise equal (printed). Bound 1e-12; a wrong device or model moves every value by
 * far more (the delvto = 1 mV wrapper: 2e-4 and up, checked against 1000 TOL) */
#define TOL 1e-12

/* the D = 4 circuit: M devices on the shipped card (lib NULL) or x devices on wrapper lib;
 * extra: more circuit keys */
static tdi_gen_circuit *build(const char *lib, const char *extra, tdi_gen_bundle *b,
                              tdi_err *e)
{
    char y[1200];
    int n = snprintf(y, sizeof y, "seed: 7\nname: mx\ncircuit:\n  devices: mos\n  samples: [0]\n"
                     "  intra: dense\n  skip: sharedbus\n  noise: false\n%s", extra ? extra : "");
    if (lib)
        snprintf(y + n, sizeof y - (size_t)n, "  mos_prefix: x\n  mos_nmos: tdi_nfet\n"
                 "  mos_pmos: tdi_pfet\n  mos_lib: %s\n", lib);
    return tdi_test_gen_build(y, SCR "/d4", b, NULL, e);
}

/* max |a - b| / max |b| over n values */
static double rel_max(const double *a, const double *b, size_t n)
{
    double d = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, fabs(a[i] - b[i]));
        m = fmax(m, fabs(b[i]));
    }
    return m > 0 ? d / m : d;
}

/* what the linearised route gives: G (N, N), i_rest (N), the rails' power */
typedef struct {
    double *G, *ir;
    double sup[TDI_COSIM_OP_SUPPLY];
} lin_out;

static int lin_run(const tdi_gen_circuit *c, lin_out *o, tdi_err *e)
{
    tdi_cosim_extract_stats st;
    o->G = malloc(c->N * c->N * sizeof *o->G);
    o->ir = malloc(c->N * sizeof *o->ir);
    int rc = tdi_cosim_linear_g(c, o->G, o->ir, &st, e);
    memcpy(o->sup, st.op_supply_W, sizeof o->sup);
    return rc;
}

static void lin_free(lin_out *o)
{
    free(o->G);
    free(o->ir);
}

/* the rest-op reads: gm, gds, id, vth (n_dev each, one block) */
static int op_run(const tdi_gen_circuit *c, double **v, tdi_err *e)
{
    size_t n = c->n_dev;
    *v = malloc(4 * n * sizeof **v);
    return tdi_cosim_mos_op_full(c, *v, *v + n, *v + 2 * n, *v + 3 * n, e);
}

/* ---------- 1. the names ---------- */
static void test_names(const char *lib)
{
    tdi_gen_bundle bm, bx, bh;
    tdi_err e = {0};
    tdi_gen_circuit *m = build(NULL, "  hier: true\n", &bm, &e);
    tdi_gen_circuit *x = m ? build(lib, NULL, &bx, &e) : NULL;
    tdi_gen_circuit *h = x ? build(lib, "  hier: true\n", &bh, &e) : NULL;
    if (!tdi_check_ok(h ? 0 : -1, &e, "D = 4 circuits build (m hier, x flat, x hier)"))
        goto out;
    tdi_cosim_mos_names nm = {0}, nx = {0}, nh = {0};
    int rc = tdi_cosim_mos_names_init(&nm, m, &e);
    double w0 = tdi_clock_s(CLOCK_MONOTONIC), c0 = tdi_clock_s(CLOCK_PROCESS_CPUTIME_ID);
    rc = rc ? rc : tdi_cosim_mos_names_init(&nx, x, &e); /* the probe */
    double w1 = tdi_clock_s(CLOCK_MONOTONIC), c1 = tdi_clock_s(CLOCK_PROCESS_CPUTIME_ID);
    rc = rc ? rc : tdi_cosim_mos_names_init(&nh, h, &e);
    if (tdi_check_ok(rc, &e, "names of every device (the probe for x)")) {
        char want[TDI_COSIM_MOS_NAME];
        int same = nm.n == m->n_dev;
        for (size_t k = 0; same && k < nm.n; k++)
            same = strcmp(nm.name[k], tdi_gen_dev_spice(&m->dev[k], 0, want, sizeof want)) == 0;
        TDI_CHECK(same, "M devices (hierarchy): every name is tdi_gen_dev_spice's");
        tdi_check_contains(nx.inner[0], "mmain", "probe: tdi_nfet's MOSFET is mmain");
        tdi_check_contains(nx.inner[1], "mpdk_p", "probe: tdi_pfet's MOSFET is mpdk_p");
        tdi_check_contains(nx.name[0], "m.xota0_1.mmain", "x flat: m.<x name>.<inner>");
        snprintf(want, sizeof want, "m.%s.xota0_1.mmain", h->dev[0].inst);
        tdi_check_contains(nh.name[0], want, "x hierarchy: m.<inst>.<x name>.<inner>");
        size_t p = 0;
        while (p < h->n_dev && h->dev[p].type != 'p')
            p++;
        tdi_check_contains(p < h->n_dev ? nh.name[p] : "", ".mpdk_p", "a p device: mpdk_p");
        printf("  names: %s, %s, %s; the probe (x flat) took %.1f ms wall, %.1f ms CPU\n",
               nm.name[0], nx.name[0], nh.name[0], 1e3 * (w1 - w0), 1e3 * (c1 - c0));
    }
    tdi_cosim_mos_names_destroy(&nm);
    tdi_cosim_mos_names_destroy(&nx);
    tdi_cosim_mos_names_destroy(&nh);
out:
    tdi_gen_circuit_free(h);
    tdi_gen_circuit_free(x);
    tdi_gen_circuit_free(m);
    if (h)
        tdi_gen_bundle_destroy(&bh);
    if (x)
        tdi_gen_bundle_destroy(&bx);
    if (m)
        tdi_gen_bundle_destroy(&bm);
}

/* ---------- 2. the linearised route and the rest-op reads ---------- */
enum { Q_G, Q_IREST, Q_SUPPLY, Q_GM, Q_GDS, Q_ID, Q_VTH, Q_N };
static const char *const Q_NAME[Q_N] = {"realised G (linear route)", "rest currents i_rest",
                                        "rail powers (vdd, vbias, vcm)", "gm", "gds", "id",
                                        "vth"};

/* d[Q_N]: the relative max differences of x against m (rel_max); 0 or the first error */
static int diffs(const tdi_gen_circuit *m, const tdi_gen_circuit *x, double *d, tdi_err *e)
{
    lin_out lm = {0}, lx = {0};
    double *om = NULL, *ox = NULL;
    size_t N = m->N, n = m->n_dev;
    int rc = x->N == N && x->n_dev == n ? 0 : tdi_err_set(e, TDI_EARG, "circuits differ");
    rc = rc ? rc : lin_run(m, &lm, e);
    rc = rc ? rc : lin_run(x, &lx, e);
    rc = rc ? rc : op_run(m, &om, e);
    rc = rc ? rc : op_run(x, &ox, e);
    if (!rc) {
        d[Q_G] = rel_max(lx.G, lm.G, N * N);
        d[Q_IREST] = rel_max(lx.ir, lm.ir, N);
        d[Q_SUPPLY] = rel_max(lx.sup, lm.sup, TDI_COSIM_OP_SUPPLY);
        for (int q = Q_GM; q <= Q_VTH; q++)
            d[q] = rel_max(ox + (size_t)(q - Q_GM) * n, om + (size_t)(q - Q_GM) * n, n);
    }
    lin_free(&lm);
    lin_free(&lx);
    free(om);
    free(ox);
    return rc;
}

/* x (wrapper lib, hier or not) against m devices on the card (flat): every quantity within
 * TOL, or (changed: the delvto wrapper) every one beyond 1000 TOL */
static void compare(const char *what, const char *lib, int hier, int changed)
{
    tdi_gen_bundle bm, bx;
    tdi_err e = {0};
    char nm[200];
    tdi_gen_circuit *m = build(NULL, NULL, &bm, &e);
    tdi_gen_circuit *x = m ? build(lib, hier ? "  hier: true\n" : NULL, &bx, &e) : NULL;
    snprintf(nm, sizeof nm, "%s: circuits build", what);
    if (!tdi_check_ok(x ? 0 : -1, &e, nm))
        goto out;
    double d[Q_N];
    snprintf(nm, sizeof nm, "%s: linear route and rest-op reads on m and x devices", what);
    if (!tdi_check_ok(diffs(m, x, d, &e), &e, nm))
        goto out;
    printf("  %s (N = %zu, %zu devices), max |x - m| / max |m|:", what, m->N, m->n_dev);
    for (int q = 0; q < Q_N; q++)
        printf(" %s %.2e%s", q == Q_GDS ? "gds" : Q_NAME[q], d[q], q + 1 < Q_N ? "," : "\n");
    for (int q = 0; q < Q_N; q++) {
        snprintf(nm, sizeof nm, "%s: %s, x vs m (max rel)", what, Q_NAME[q]);
        if (changed)
            tdi_check_le(1e3 * TOL, d[q], nm);
        else
            tdi_check_le(d[q], TOL, nm);
    }
out:
    tdi_gen_circuit_free(x);
    tdi_gen_circuit_free(m);
    if (x)
        tdi_gen_bundle_destroy(&bx);
    if (m)
        tdi_gen_bundle_destroy(&bm);
}

/* ---------- 3. the self-term compensation ---------- */
static void test_comp(const char *lib)
{
    tdi_gen_bundle bm, bx;
    tdi_err e = {0};
    const char *on = "  mos_self_comp: true\n";
    tdi_gen_circuit *m = build(NULL, on, &bm, &e), *x = m ? build(lib, on, &bx, &e) : NULL;
    if (!tdi_check_ok(x ? 0 : -1, &e, "compensated circuits build (m, x)"))
        goto out;
    int rc = tdi_cosim_mos_self_comp(m, &e);
    if (!tdi_check_ok(rc, &e, "mos_self_comp, M devices") ||
        !tdi_check_ok(tdi_cosim_mos_self_comp(x, &e), &e, "mos_self_comp, x devices"))
        goto out;
    double dl = rel_max(x->comp->load, m->comp->load, m->n_nodes);
    tdi_check_le(dl, TOL, "OTA loads measured through x devices = through M devices (max rel)");
    tdi_check_int((long long)x->comp->n_res, (long long)m->comp->n_res, "resistors shrunk");
    lin_out lm = {0}, lx = {0};
    rc = lin_run(m, &lm, &e);
    rc = rc ? rc : lin_run(x, &lx, &e);
    if (tdi_check_ok(rc, &e, "linear route on the compensated circuits")) {
        double dg = rel_max(lx.G, lm.G, m->N * m->N);
        tdi_check_le(dg, TOL, "compensated G: x = m (max rel)");
        printf("  mos_self_comp: loads %.2e, compensated G %.2e (x vs m, max rel); %zu "
               "resistors shrunk\n", dl, dg, x->comp->n_res);
    }
    lin_free(&lm);
    lin_free(&lx);
out:
    tdi_gen_circuit_free(x);
    tdi_gen_circuit_free(m);
    if (x)
        tdi_gen_bundle_destroy(&bx);
    if (m)
        tdi_gen_bundle_destroy(&bm);
}

/* ---------- 4. subcircuits that do not hold exactly one MOSFET ---------- */
static void test_bad(const char *lib, const char *count)
{
    tdi_gen_bundle b;
    tdi_err e = {0}, e2 = {0};
    tdi_gen_circuit *x = build(lib, NULL, &b, &e);
    if (!tdi_check_ok(x ? 0 : -1, &e, "circuit on a bad wrapper builds (the generator cannot "
                      "look inside)"))
        return;
    double *G = malloc(x->N * x->N * sizeof *G), *v = NULL;
    char nm[200];
    int rc = tdi_cosim_linear_g(x, G, NULL, NULL, &e);
    snprintf(nm, sizeof nm, "%s: the linear route fails with TDI_ESPICE", count);
    tdi_check_int(rc, TDI_ESPICE, nm);
    snprintf(nm, sizeof nm, "%s: the error names the subcircuit", count);
    tdi_check_contains(e.msg, "'tdi_nfet'", nm);
    snprintf(nm, sizeof nm, "%s: the error says how many MOSFETs it holds", count);
    tdi_check_contains(e.msg, count, nm);
    snprintf(nm, sizeof nm, "%s: the error names the library", count);
    tdi_check_contains(e.msg, lib, nm);
    printf("  %s\n", e.msg);
    rc = op_run(x, &v, &e2);
    snprintf(nm, sizeof nm, "%s: the rest-op reads fail the same way", count);
    TDI_CHECK(rc == TDI_ESPICE && strstr(e2.msg, count) != NULL, nm);
    free(v);
    free(G);
    tdi_gen_circuit_free(x);
    tdi_gen_bundle_destroy(&b);
}

/* the probe on wrapper lib (tdi_nfet, tdi_pfet; no corner, no scale) */
static int probe(const char *lib, char inner[2][TDI_COSIM_MOS_INNER], tdi_err *e)
{
    tdi_gen_config m;
    tdi_gen_config_init(&m);
    snprintf(m.mos_lib, sizeof m.mos_lib, "%s", lib);
    m.mos_corner[0] = '\0';
    snprintf(m.mos_nmos, sizeof m.mos_nmos, "tdi_nfet");
    snprintf(m.mos_pmos, sizeof m.mos_pmos, "tdi_pfet");
    m.mos_scale = 0;
    return tdi_cosim_mos_inner_probe(&m, 1e-6, inner, e);
}

/* a MOSFET one subcircuit deeper: its path below the device is the inner name */
static void test_nested(const char *lib)
{
    char inner[2][TDI_COSIM_MOS_INNER];
    tdi_err e = {0};
    if (tdi_check_ok(probe(lib, inner, &e), &e, "probe of the nested wrapper"))
        tdi_check_contains(inner[0], "xcore.mcore", "nested: tdi_nfet's MOSFET is xcore.mcore");
    compare("MOSFET one subcircuit deeper, hierarchical", lib, 1, 0);
}

/* ---------- 5. the probe after a transient with .save none (the spice engine's deck) ----------
 * ngspice 39.3 then keeps one point per vector in every later analysis (docs/noise.md); the
 * probe reads the noise vectors' names only. Runs last: the process's .noise stays so. */
static void test_after_save_none(const char *lib)
{
    static char *deck[] = {"* a transient with .save none", "v1 a 0 dc 1", "r1 a 0 1k",
                           ".save none", ".end", NULL};
    tdi_gen_text t = {.lines = deck, .n_lines = 5};
    tdi_err e = {0};
    int rc = tdi_cosim_ng_load(&t, &e);
    rc = rc ? rc : tdi_cosim_ng_cmd("tran 1u 10u", &e);
    tdi_cosim_ng_unload();
    if (!tdi_check_ok(rc, &e, "a .save none transient ran"))
        return;
    char inner[2][TDI_COSIM_MOS_INNER];
    if (tdi_check_ok(probe(lib, inner, &e), &e, "probe after a .save none transient"))
        TDI_CHECK(!strcmp(inner[0], "mmain") && !strcmp(inner[1], "mpdk_p"),
                  "probe after a .save none transient: mmain, mpdk_p");
}

int main(void)
{
    gsl_set_error_handler_off();
    tdi_err e = {0};
    if (system("rm -rf " SCR " && mkdir -p " SCR) != 0 ||
        tdi_gen_bundle_synth(SCR "/d4", "mx", 4, 1, 0, 2, 3, &e)) {
        fprintf(stderr, "test_mos_x: scratch bundle: %s\n", e.msg);
        return 1;
    }
    static const struct {
        const char *lib;
        tdi_test_wrap kind;
    } w[5] = {{SCR "/wrap.lib", TDI_TEST_WRAP_ONE}, {SCR "/delvto.lib", TDI_TEST_WRAP_DELVTO},
              {SCR "/none.lib", TDI_TEST_WRAP_NONE}, {SCR "/two.lib", TDI_TEST_WRAP_TWO},
              {SCR "/nested.lib", TDI_TEST_WRAP_NESTED}};
    for (int k = 0; k < 5; k++)
        if (tdi_test_mos_wrapper(w[k].lib, "models/tdi-bsim4.lib", w[k].kind)) {
            fprintf(stderr, "test_mos_x: cannot write %s\n", w[k].lib);
            return 1;
        }
    test_names(w[0].lib);
    compare("flat", w[0].lib, 0, 0);
    compare("hierarchical x", w[0].lib, 1, 0);
    test_nested(w[4].lib);
    compare("delvto 1 mV inside tdi_nfet", w[1].lib, 0, 1);
    test_comp(w[0].lib);
    test_bad(w[2].lib, "0 MOSFETs");
    test_bad(w[3].lib, "2 MOSFETs");
    test_after_save_none(w[0].lib);
    TDI_TEST_END();
}
