/* test_mos_hier: circuit.hier at transistor level (docs/devices.md "Hierarchy") on a D = 4
 * substrate with bus nodes (intra lowrank, skip twobus) and Pelgrom mismatch: the subcircuits and
 * their rail ports in all three texts, ngspice's x-path names, the realised matrix of both
 * extraction routes against the flat netlist's, @dev[param] reads (delvto as drawn), the device
 * noise sizing and a co-simulated run with device noise against the flat run, and ngspice -b of
 * the standalone text against the flat one; circuit.param refused. Scratch: build/test-mos-hier/. */
#include <gsl/gsl_errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_cosim.h"
#include "tdi_gen.h"
#include "tdi_io.h"
#include "tdi_seed.h"
#include "tdi_test.h"
#include "tdi_test_gen.h"
#include "tdi_test_mat.h"
#include "tdi_test_mos.h"

#define SCR "build/test-mos-hier"
#define BUN SCR "/d4"
#define RUN_TICKS 200L /* co-simulated ticks (ngspice ~2 ms each here) */

static const char *cfg_base = "seed: 7\nname: hier\ncircuit:\n  devices: mos\n  samples: [0]\n"
                              "  t_settle: 1.0e-6\n  t_avg: 1.0e-6\n  intra: lowrank\n"
                              "  rank: 4\n  skip: twobus\n  mos_mismatch: true\n  chip: 2\n";

/* the D = 4 circuit, flat (hier 0) or hierarchical; extra: more circuit keys */
static tdi_gen_circuit *build(int hier, const char *extra, tdi_gen_bundle *b, tdi_err *e)
{
    char y[800];
    snprintf(y, sizeof y, "%s  hier: %s\n%s", cfg_base, hier ? "true" : "false",
             extra ? extra : "");
    return tdi_test_gen_build(y, BUN, b, NULL, e);
}

/* MOSFET lines ("m...") outside / inside .subckt blocks, and lines starting with pre inside */
static void count_cards(const char *s, const char *pre, size_t *top, size_t *in, size_t *pre_in)
{
    int depth = 0;
    *top = *in = *pre_in = 0;
    for (const char *p = s; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, ".subckt mod_", 12) == 0 || strncmp(p, ".subckt cpl_", 12) == 0)
            depth = 1;
        else if (strncmp(p, ".ends", 5) == 0)
            depth = 0;
        else if (p[0] == 'm' && strncmp(p, "mota", 4) == 0)
            *(depth ? in : top) += 1;
        if (depth && strncmp(p, pre, strlen(pre)) == 0)
            (*pre_in)++;
    }
}

static int check_str(const char *obs, const char *exp, const char *name)
{
    char d[300];
    snprintf(d, sizeof d, "\"%.120s\" vs expected \"%.120s\"", obs, exp);
    return tdi_test_report_(strcmp(obs, exp) == 0, name, d);
}

static int has(const char *text, const char *needle, const char *name)
{
    char d[300];
    snprintf(d, sizeof d, "netlist should contain \"%.200s\"", needle);
    return tdi_test_report_(text && strstr(text, needle) != NULL, name, d);
}

/* ---------- 1. config and text ---------- */
static void test_text(void)
{
    tdi_gen_bundle b, bf;
    tdi_err e = {0};
    tdi_gen_config cfg;
    char y[800];
    snprintf(y, sizeof y, "%s  param: true\n", cfg_base);
    tdi_gen_config_init(&cfg);
    int rc = tdi_gen_config_load_string("p.yaml", y, &cfg, &e);
    TDI_CHECK(rc == TDI_ECONFIG && strstr(e.msg, "circuit.param") &&
                  strstr(e.msg, "transistor level"),
              "circuit.param: true at transistor level: a config error naming the key");
    tdi_gen_circuit *c = build(1, NULL, &b, &e);
    if (!tdi_check_ok(c ? 0 : -1, &e, "hierarchical mos circuit builds"))
        return;
    tdi_gen_circuit *f = build(0, NULL, &bf, &e);
    if (!tdi_check_ok(f ? 0 : -1, &e, "flat mos circuit builds"))
        return;
    const char *mode_name[3] = {"standalone", "cosim", "hold"};
    for (int m = 0; m < 3; m++) {
        char *t = tdi_test_gen_text(c, (tdi_gen_mode)m, NULL), nm[160];
        size_t top, in, dummy;
        count_cards(t, "X", &top, &in, &dummy);
        snprintf(nm, sizeof nm, "%s text: no MOSFET at top level", mode_name[m]);
        tdi_check_int((long long)top, 0, nm);
        snprintf(nm, sizeof nm, "%s text: every MOSFET inside a subcircuit", mode_name[m]);
        tdi_check_int((long long)in, (long long)c->n_dev, nm);
        snprintf(nm, sizeof nm, "%s text: module subcircuit with rail ports", mode_name[m]);
        has(t, ".subckt mod_enc\n+ x0 x1 x2 x3\n+ vdd vddb vcm\n", nm);
        snprintf(nm, sizeof nm, "%s text: coupling instance with rail ports", mode_name[m]);
        has(t, "Xc_skip\n+ x0 x1 x2 x3 y0 y1 y2 y3\n+ vdd vddb vcm cpl_skip\n", nm);
        free(t);
    }
    char *h = tdi_test_gen_text(c, TDI_GEN_STANDALONE, NULL);
    has(h, "*   mod_dec = module dec: units y0..y3, U-Net level 1 decoder (read out)",
        "header maps the decoder module's subcircuit to its U-Net level");
    has(h, "rails vdd vddb vcm", "header names the rail ports");
    free(h);
    /* the same devices (names, nodes, sizes, mismatch) in both */
    int same = c->n_dev == f->n_dev;
    for (size_t k = 0; same && k < c->n_dev; k++)
        same = strcmp(c->dev[k].name, f->dev[k].name) == 0 && c->dev[k].W == f->dev[k].W &&
               c->dev[k].delvto == f->dev[k].delvto && c->dev[k].mulu0 == f->dev[k].mulu0;
    TDI_CHECK(same, "hierarchical and flat device lists: same names, widths and mismatch draws");
    char nb[96];
    check_str(tdi_gen_dev_spice(&f->dev[0], 0, nb, sizeof nb), "mota0_1",
                  "flat device name for @dev[param]");
    check_str(tdi_gen_dev_spice(&c->dev[0], 0, nb, sizeof nb), "m.xm_enc.mota0_1",
                  "device name in the hierarchy (ngspice's m.<instance>.<device>)");
    check_str(tdi_gen_dev_spice(&c->dev[0], 1, nb, sizeof nb), "i.xm_enc.inmota0_1",
                  "noise source name in the hierarchy (i.<instance>.in<device>)");
    size_t last = c->n_dev - 1; /* the last OTA realises a skip element: the coupling's */
    tdi_check_int(strncmp(c->dev[last].inst, "xc_skip", 8) == 0, 1,
                  "a skip element's devices sit in xc_skip");
    tdi_gen_circuit_free(f);
    tdi_gen_bundle_destroy(&bf);
    tdi_gen_circuit_free(c);
    tdi_gen_bundle_destroy(&b);
}

/* ---------- 2. realised matrix and device parameters ---------- */
static void compare_g(const char *what, const double *Gh, const double *Gf, size_t n)
{
    char nm[160];
    double d = tdi_test_rel_diff(Gh, Gf, n * n);
    snprintf(nm, sizeof nm, "%s: hierarchical G = flat G (max |dG| / max |G|)", what);
    /* the same devices at the same op; only ngspice's node order differs (round-off in its
       LU and the op's convergence tolerance, reltol 1e-3 of the 1 mV step at worst) */
    tdi_check_le(d, 1e-6, nm);
    printf("  %s: max |G_hier - G_flat| / max |G_flat| = %.3e\n", what, d);
}

static void test_realised(void)
{
    tdi_gen_bundle b, bf;
    tdi_err e = {0};
    tdi_gen_circuit *c = build(1, NULL, &b, &e), *f = c ? build(0, NULL, &bf, &e) : NULL;
    if (!tdi_check_ok(c && f ? 0 : -1, &e, "both circuits build"))
        return;
    size_t N = c->N, nd = c->n_dev;
    double *Gh = malloc(N * N * sizeof *Gh), *Gf = malloc(N * N * sizeof *Gf);
    int rc = tdi_cosim_extract_g(c, Gh, &e);
    if (tdi_check_ok(rc, &e, "perturbative extraction of the hierarchical netlist") &&
        tdi_check_ok(tdi_cosim_extract_g(f, Gf, &e), &e, "perturbative extraction, flat"))
        compare_g("perturb", Gh, Gf, N);
    rc = tdi_cosim_linear_g(c, Gh, NULL, NULL, &e);
    if (tdi_check_ok(rc, &e, "linearised route on the hierarchical netlist") &&
        tdi_check_ok(tdi_cosim_linear_g(f, Gf, NULL, NULL, &e), &e, "linearised route, flat"))
        compare_g("linear", Gh, Gf, N);
    /* every @m.<inst>.<dev>[param] read: the mismatch drawn is the instance's */
    static const char *const par[2] = {"delvto", "mulu0"};
    double *ph = malloc(2 * nd * sizeof *ph);
    double *gh = malloc(nd * sizeof *gh), *gf = malloc(nd * sizeof *gf);
    double *vh = malloc(nd * sizeof *vh), *vf = malloc(nd * sizeof *vf);
    rc = tdi_cosim_mos_op_full(c, gh, NULL, NULL, vh, &e);
    if (!rc) { /* the op's plot is gone; the instances keep their parameters once loaded */
        tdi_gen_text *t = NULL;
        tdi_cosim_mos_names nm;
        rc = tdi_cosim_mos_names_init(&nm, c, &e);
        rc = rc ? rc : tdi_gen_netlist_text(c, TDI_GEN_HOLD, 0, 0, &t, &e);
        rc = rc ? rc : tdi_cosim_ng_load(t, &e);
        rc = rc ? rc : tdi_cosim_ng_cmd("op", &e);
        rc = rc ? rc : tdi_cosim_mos_params(&nm, 2, par, ph, &e);
        tdi_cosim_ng_unload();
        tdi_gen_text_free(t);
        tdi_cosim_mos_names_destroy(&nm);
    }
    if (tdi_check_ok(rc, &e, "@dev[gm], [vth], [delvto], [mulu0] of every device in the "
                     "hierarchy") &&
        tdi_check_ok(tdi_cosim_mos_op_full(f, gf, NULL, NULL, vf, &e), &e, "flat op")) {
        double dmm = 0, dgm = 0, dvt = 0;
        for (size_t k = 0; k < nd; k++) {
            dmm = fmax(dmm, fabs(ph[2 * k] - c->dev[k].delvto) +
                                fabs(ph[2 * k + 1] - c->dev[k].mulu0));
            dgm = fmax(dgm, fabs(gh[k] - gf[k]) / fabs(gf[k]));
            dvt = fmax(dvt, fabs(vh[k] - vf[k]));
        }
        /* printed %.9g: 1e-9 relative of a 10 mV / unit value */
        tdi_check_le(dmm, 1e-8, "delvto, mulu0 read from ngspice = the draws (max |d|)");
        tdi_check_le(dgm, 1e-6, "gm of every device: hierarchical = flat (max relative)");
        tdi_check_le(dvt, 1e-6, "vth of every device: hierarchical = flat (max |d| V)");
    }
    free(ph);
    free(gh);
    free(gf);
    free(vh);
    free(vf);
    free(Gh);
    free(Gf);
    tdi_gen_circuit_free(f);
    tdi_gen_bundle_destroy(&bf);
    tdi_gen_circuit_free(c);
    tdi_gen_bundle_destroy(&b);
}

/* ---------- 3. device noise: sizing and a co-simulated run ---------- */
typedef struct {
    double *v; /* (RUN_TICKS + 1) V at unit 0 */
} run_rec;

static int rec_tick(void *user, long k, double t, const double *v, const double *ib)
{
    (void)t;
    (void)ib;
    ((run_rec *)user)->v[k] = v[0];
    return 0;
}

/* the cosim netlist of gc in the spice engine: the units' thermal noise off, every device's
 * noise source driven from the same device-noise key; unit 0's voltage recorded */
static int cosim_run(const tdi_gen_circuit *gc, double *v, tdi_err *err)
{
    tdi_gen_text *t = NULL;
    tdi_cosim_circuit *c = NULL;
    int rc = tdi_test_mos_circuit(gc, RUN_TICKS, gc->phys.Cu, gc->phys.gu, &t, &c, err);
    run_rec rec = {v};
    tdi_cosim_digital dg = {gc->phys.noise_dt, RUN_TICKS, tdi_test_mos_zero_bias, rec_tick,
                            &rec};
    tdi_cosim_stats st = {0};
    rc = tdi_test_mos_devnoise_run(rc, c, &dg, tdi_seed(3, TDI_SEED_DEVNOISE, 0), &st, err);
    tdi_cosim_circuit_free(c);
    tdi_gen_text_free(t);
    return rc;
}

static double rms_dev(const double *v, size_t n)
{
    double m = 0, s = 0;
    for (size_t i = 0; i < n; i++)
        m += v[i] / (double)n;
    for (size_t i = 0; i < n; i++)
        s += (v[i] - m) * (v[i] - m);
    return sqrt(s / (double)n);
}

static void test_noise(void)
{
    tdi_gen_bundle b, bf;
    tdi_err e = {0};
    tdi_gen_circuit *c = build(1, NULL, &b, &e), *f = c ? build(0, NULL, &bf, &e) : NULL;
    if (!tdi_check_ok(c && f ? 0 : -1, &e, "both circuits build"))
        return;
    int rc = tdi_cosim_mos_noise_size(c, &e);
    if (!tdi_check_ok(rc, &e, "device noise sized on the hierarchical netlist (its op read "
                      "through m.<instance>.<device>)") ||
        !tdi_check_ok(tdi_cosim_mos_noise_size(f, &e), &e, "device noise sized, flat"))
        goto done;
    double d = 0;
    for (size_t k = 0; k < c->n_dev; k++)
        d = fmax(d, fabs(c->dev[k].psd_w - f->dev[k].psd_w) / f->dev[k].psd_w +
                        fabs(c->dev[k].psd_f1 - f->dev[k].psd_f1) / fmax(f->dev[k].psd_f1, 1e-300));
    /* the same bias classes (op voltages quantised) and the same .noise deck */
    tdi_check_le(d, 1e-9, "psd_w, psd_f1 of every device: hierarchical = flat");
    char *t = tdi_test_gen_text(c, TDI_GEN_COSIM, NULL);
    size_t top, in, src_in;
    count_cards(t, "inmota", &top, &in, &src_in);
    tdi_check_int((long long)src_in, (long long)c->n_dev, "cosim text: every device's EXTERNAL "
                  "noise source inside its subcircuit");
    free(t);
    double *vh = calloc(RUN_TICKS + 1, sizeof *vh), *vf = calloc(RUN_TICKS + 1, sizeof *vf);
    rc = cosim_run(c, vh, &e);
    if (!tdi_check_ok(rc, &e, "co-simulated run of the hierarchical netlist with device noise "
                      "(every source i.<instance>.in<device> driven)") ||
        !tdi_check_ok(cosim_run(f, vf, &e), &e, "the same run, flat"))
        goto out;
    double sd = rms_dev(vf + RUN_TICKS / 2, RUN_TICKS / 2 + 1), dv = 0;
    for (long k = 0; k <= RUN_TICKS; k++)
        dv = fmax(dv, fabs(vh[k] - vf[k]));
    printf("  device-noise run: unit 0 std %.3e V over the second half, max |v_hier - v_flat| "
           "%.3e V\n", sd, dv);
    for (size_t k = 0; k < c->n_dev; k++) /* no device noise: no sources at all */
        c->dev[k].psd_w = c->dev[k].psd_f1 = 0;
    double *v0 = calloc(RUN_TICKS + 1, sizeof *v0), dn = 0;
    if (tdi_check_ok(cosim_run(c, v0, &e), &e, "the hierarchical run without device noise")) {
        for (long k = 0; k <= RUN_TICKS; k++)
            dn += (vh[k] - v0[k]) * (vh[k] - v0[k]) / (double)(RUN_TICKS + 1);
        printf("  rms of (with - without device noise) at unit 0: %.3e V\n", sqrt(dn));
        /* the sources are driven: their effect is of the order of the node's noise std */
        tdi_check_le(0.1 * sd, sqrt(dn), "the device noise moves unit 0: rms(v - v_no_noise) "
                     ">= 0.1 of its std");
    }
    free(v0);
    /* one noise sequence through the same circuit: solver tolerance (ngspice's reltol 1e-3 of
       the node's excursion) */
    tdi_check_le(dv, 1e-2 * sd + 1e-9, "hierarchical run = flat run within 1% of the noise std");
out:
    free(vh);
    free(vf);
done:
    tdi_gen_circuit_free(f);
    tdi_gen_bundle_destroy(&bf);
    tdi_gen_circuit_free(c);
    tdi_gen_bundle_destroy(&b);
}

/* ---------- 4. ngspice -b of the standalone texts (noise off) ---------- */
static char *run_ngspice(const char *tag, const char *deck)
{
    char cir[256], log[256], cmd[700];
    snprintf(cir, sizeof cir, SCR "/%s.cir", tag);
    snprintf(log, sizeof log, SCR "/%s.log", tag);
    FILE *fp = fopen(cir, "w");
    if (!fp)
        return NULL;
    fputs(deck, fp);
    fclose(fp);
    snprintf(cmd, sizeof cmd, "ngspice -b %s > %s 2>&1", cir, log);
    if (system(cmd) != 0)
        return NULL;
    return tdi_test_slurp(log);
}

static void test_ngspice(void)
{
    tdi_gen_bundle b, bf;
    tdi_err e = {0};
    const char *off = "  noise: false\n";
    tdi_gen_circuit *c = build(1, off, &b, &e), *f = c ? build(0, off, &bf, &e) : NULL;
    if (!tdi_check_ok(c && f ? 0 : -1, &e, "both circuits build (noise off)"))
        return;
    char *th = tdi_test_gen_text(c, TDI_GEN_STANDALONE, NULL);
    char *tf = tdi_test_gen_text(f, TDI_GEN_STANDALONE, NULL);
    char *lh = run_ngspice("hier", th ? th : ""), *lf = run_ngspice("flat", tf ? tf : "");
    size_t found = 0;
    double worst = 0;
    for (size_t j = 0; j < c->D; j++) {
        char key[64];
        snprintf(key, sizeof key, "\navg_y%zu_s0 ", j);
        const char *ph = lh ? strstr(lh, key) : NULL, *pf = lf ? strstr(lf, key) : NULL;
        double vh = NAN, vf = NAN;
        if (ph && strchr(ph, '='))
            vh = atof(strchr(ph, '=') + 1);
        if (pf && strchr(pf, '='))
            vf = atof(strchr(pf, '=') + 1);
        found += isfinite(vh) && isfinite(vf);
        if (isfinite(vh) && isfinite(vf))
            worst = fmax(worst, fabs(vh - vf) / fmax(fabs(vf), 1e-6));
    }
    tdi_check_int((long long)found, (long long)c->D, "ngspice -b runs both standalone texts: "
                  "every average printed");
    /* printed to 7 digits; the op and the steps are the same circuit's */
    tdi_check_le(worst, 1e-4, "decoder averages: hierarchical = flat (max relative)");
    printf("  ngspice -b, noise off: max relative difference of the averages %.3e\n", worst);
    free(lh);
    free(lf);
    free(th);
    free(tf);
    tdi_gen_circuit_free(f);
    tdi_gen_bundle_destroy(&bf);
    tdi_gen_circuit_free(c);
    tdi_gen_bundle_destroy(&b);
}

int main(void)
{
    gsl_set_error_handler_off();
    tdi_err e = {0};
    if (system("rm -rf " SCR " && mkdir -p " SCR) != 0 ||
        tdi_gen_bundle_synth(BUN, "hier", 4, 2, 1, 2, 11, &e)) {
        fprintf(stderr, "test_mos_hier: scratch bundle: %s\n", e.msg);
        return 1;
    }
    test_text();
    test_realised();
    test_noise();
    test_ngspice();
    TDI_TEST_END();
}
