/* test_nonideal: the behavioural non-idealities of a chip (generator/tdi_gen_nonideal.c,
 * docs/nonideal.md): the circuit.nonideal keys (unknown keys are errors at file:line:col), zero
 * non-ideality = today's netlist byte for byte, draws reproducible from (seed, chip) with the
 * stated distribution, the perturbed netlist read back (text parser and ngspice) to the chip's
 * G, the offsets as static currents, the chip report naming a perturbed element's block, the
 * co-simulator's circuit and engines on the chip, the converters' draws and INL. Scratch files
 * in build/test-nonideal/. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_cosim.h"
#include "tdi_gen.h"
#include "tdi_test.h"
#include "tdi_test_gen.h"
#include "tdi_test_mat.h"

#define SCR "build/test-nonideal"

static tdi_gen_circuit *build(const char *cfgtext, const char *bdir, tdi_gen_bundle *b,
                              tdi_err *e)
{
    return tdi_test_gen_build(cfgtext, bdir, b, NULL, e);
}

static char *netlist(const tdi_gen_circuit *c, tdi_gen_mode mode)
{
    tdi_gen_text *t = NULL;
    tdi_err e = {0};
    if (tdi_gen_netlist_text(c, mode, 0, 0, &t, &e))
        return NULL;
    char *s = tdi_test_gen_join(t);
    tdi_gen_text_free(t);
    return s;
}

/* Mean and std of x (n) against N(0, 1): each within 4 standard errors (1/sqrt(n) for the
 * mean, 1/sqrt(2 n) for the std of a Gaussian sample: a correct generator fails with
 * probability ~6e-5 per check). */
static void check_std_normal(const char *what, const double *x, size_t n)
{
    double m = 0, v = 0;
    for (size_t i = 0; i < n; i++)
        m += x[i] / (double)n;
    for (size_t i = 0; i < n; i++)
        v += (x[i] - m) * (x[i] - m) / (double)(n - 1);
    char nm[200];
    snprintf(nm, sizeof nm, "%s: mean of %zu draws within 4 standard errors of 0", what, n);
    tdi_check_near(m, 0, 4 / sqrt((double)n), nm);
    snprintf(nm, sizeof nm, "%s: std within 4 standard errors of 1", what);
    tdi_check_near(sqrt(v), 1, 4 / sqrt(2.0 * (double)n), nm);
}

/* ---------- the keys ---------- */
static void test_keys(void)
{
    tdi_gen_config c;
    tdi_err e = {0};
    tdi_gen_config_init(&c);
    int rc = tdi_gen_config_load_string("ni.yaml", "name: x\ncircuit:\n  nonideal:\n"
                                        "    gain_sigma: 0.02\n    bogus: 1\n", &c, &e);
    TDI_CHECK(rc != 0, "unknown circuit.nonideal key refused");
    tdi_check_contains(e.msg, "ni.yaml:5:5", "its error carries file:line:col");
    tdi_gen_config_init(&c);
    rc = tdi_gen_config_load_string("ni.yaml", "name: x\ncircuit:\n  nonideal:\n"
                                    "    gain_sigma: -0.1\n", &c, &e);
    TDI_CHECK(rc != 0, "negative gain_sigma refused");
    tdi_check_contains(e.msg, "ni.yaml:4:17", "range error at file:line:col");
    tdi_gen_config_init(&c);
    rc = tdi_gen_config_load_string("ni.yaml", "name: x\ncircuit:\n  devices: mos\n  nonideal:\n"
                                    "    offset_sigma: 0.005\n", &c, &e);
    TDI_CHECK(rc != 0, "nonideal with devices: mos refused (Pelgrom mismatch there)");
    tdi_gen_config_init(&c);
    rc = tdi_gen_config_load_string("ni.yaml", "name: x\ncircuit:\n  nonideal:\n    gain_sigma: "
                                    "0.02\n    self_sigma: 0.01\n    offset_sigma: 0.005\n    "
                                    "gout: 0.01\n    cap_sigma: 0.01\n    temperature: 310\n    "
                                    "tempco: -0.002\n", &c, &e);
    tdi_check_ok(rc, &e, "every key reads");
    tdi_check_near(c.ni_gain_sigma + c.ni_self_sigma + c.ni_offset_sigma + c.ni_gout +
                   c.ni_cap_sigma + c.ni_temp + c.ni_tempco, 0.02 + 0.01 + 0.005 + 0.01 + 0.01 +
                   310 - 0.002, 1e-12, "their values");
    /* hashes: zero values = no section; on, the chip index counts */
    tdi_gen_config a, z, c3;
    tdi_gen_config_init(&a);
    tdi_gen_config_init(&z);
    tdi_gen_config_init(&c3);
    tdi_gen_config_load_string("a.yaml", "name: x\ncircuit:\n  chip: 3\n", &a, &e);
    tdi_gen_config_load_string("z.yaml", "name: x\ncircuit:\n  chip: 3\n  nonideal:\n"
                               "    gain_sigma: 0\n    tempco: 0.001\n", &z, &e);
    TDI_CHECK(a.hash == z.hash, "all-zero circuit.nonideal: the ideal config's hash");
    tdi_gen_config_load_string("c.yaml", "name: x\ncircuit:\n  chip: 3\n  nonideal:\n"
                               "    gain_sigma: 0.02\n", &c3, &e);
    uint64_t h3 = c3.hash;
    tdi_gen_config_load_string("c.yaml", "name: x\ncircuit:\n  chip: 4\n  nonideal:\n"
                               "    gain_sigma: 0.02\n", &c3, &e);
    TDI_CHECK(h3 != a.hash && h3 != c3.hash, "a chip's hash differs from the design's and from "
              "another chip's");
}

/* ---------- zero non-ideality: today's netlists ---------- */
static void test_zero(void)
{
    tdi_err e = {0};
    tdi_gen_bundle b0, b1;
    tdi_gen_circuit *c0 = build("name: two4\ncircuit:\n  skip: sharedbus\n  intra: lowrank\n"
                                "  rank: 4\n", SCR "/two4", &b0, &e);
    tdi_gen_circuit *c1 = build("name: two4\ncircuit:\n  skip: sharedbus\n  intra: lowrank\n"
                                "  rank: 4\n  chip: 7\n  nonideal:\n    gain_sigma: 0\n"
                                "    offset_sigma: 0\n    temperature: 0\n", SCR "/two4", &b1,
                                &e);
    if (!TDI_CHECK(c0 && c1, "ideal circuit and all-zero chip build"))
        return;
    TDI_CHECK(c1->chip == NULL, "all-zero circuit.nonideal: no chip");
    for (int m = 0; m < 3; m++) {
        char *s0 = netlist(c0, (tdi_gen_mode)m), *s1 = netlist(c1, (tdi_gen_mode)m);
        const char *names[3] = {"standalone", "cosim", "hold"};
        char nm[120];
        snprintf(nm, sizeof nm, "all-zero chip: %s netlist byte for byte the ideal one",
                 names[m]);
        TDI_CHECK(s0 && s1 && strcmp(strchr(s0, '\n'), strchr(s1, '\n')) == 0, nm);
        free(s0);
        free(s1);
    }
    tdi_gen_circuit_free(c0);
    tdi_gen_circuit_free(c1);
    tdi_gen_bundle_destroy(&b0);
    tdi_gen_bundle_destroy(&b1);
}

/* ---------- the draws ---------- */
static void test_draws(void)
{
    /* the counter generator = the co-simulator's noise draw, value for value */
    uint64_t key = tdi_seed(1, TDI_SEED_NONIDEAL, 3);
    int same = 1;
    size_t n = 200000;
    double *z = malloc(n * sizeof *z);
    for (size_t i = 0; i < n; i++) {
        z[i] = tdi_gen_nonideal_gauss(key, i, TDI_GEN_NI_GAIN);
        same &= z[i] == tdi_cosim_noise_gauss(key, i, TDI_GEN_NI_GAIN);
    }
    TDI_CHECK(same, "tdi_gen_nonideal_gauss = tdi_cosim_noise_gauss (same Philox counter)");
    check_std_normal("counter generator", z, n);
    free(z);
    /* per element: a D = 24 circuit, gain only; (g_chip / g_design - 1) / sigma */
    tdi_err e = {0};
    tdi_gen_bundle b0, b1, b2;
    const char *base = "name: two24\ncircuit:\n  skip: dense\n  intra: dense\n";
    char cfg[400];
    snprintf(cfg, sizeof cfg, "%s  chip: 5\n  nonideal:\n    gain_sigma: 0.03\n"
             "    self_sigma: 0.01\n    cap_sigma: 0.02\n", base);
    tdi_gen_circuit *c0 = build(base, SCR "/two24", &b0, &e);
    tdi_gen_circuit *c1 = build(cfg, SCR "/two24", &b1, &e);
    tdi_gen_circuit *c2 = build(cfg, SCR "/two24", &b2, &e);
    if (!TDI_CHECK(c0 && c1 && c2 && c1->chip, "D = 24 design and chip build"))
        return;
    TDI_CHECK(c0->n_elems == c1->n_elems, "gain errors add no element");
    double *zc = malloc(c1->n_elems * sizeof *zc), *zs = malloc(c1->n_elems * sizeof *zs);
    size_t nc = 0, nsf = 0;
    for (size_t i = 0; i < c1->n_elems; i++) {
        double r = c1->elems[i].g / c0->elems[i].g - 1;
        if (c1->elems[i].block == TDI_GEN_BLK_SELF)
            zs[nsf++] = r / 0.01;
        else
            zc[nc++] = r / 0.03;
    }
    check_std_normal("coupling gain errors / gain_sigma", zc, nc);
    check_std_normal("self gain errors / self_sigma", zs, nsf);
    double *zk = malloc(c1->N * sizeof *zk);
    for (size_t i = 0; i < c1->N; i++)
        zk[i] = (c1->chip->cap[i] / c1->phys.Cu - 1) / 0.02;
    check_std_normal("capacitor errors / cap_sigma", zk, c1->N);
    int rep = c1->n_elems == c2->n_elems;
    for (size_t i = 0; rep && i < c1->n_elems; i++)
        rep = c1->elems[i].g == c2->elems[i].g;
    for (size_t i = 0; rep && i < c1->N; i++)
        rep = c1->chip->cap[i] == c2->chip->cap[i];
    TDI_CHECK(rep, "the same (seed, chip): the same chip, bit for bit");
    tdi_gen_circuit_free(c2);
    tdi_gen_bundle_destroy(&b2);
    snprintf(cfg, sizeof cfg, "%s  chip: 6\n  nonideal:\n    gain_sigma: 0.03\n"
             "    self_sigma: 0.01\n    cap_sigma: 0.02\n", base);
    c2 = build(cfg, SCR "/two24", &b2, &e);
    TDI_CHECK(c2 && c2->elems[0].g != c1->elems[0].g && c2->chip->cap[0] != c1->chip->cap[0],
              "another chip index: other draws");
    free(zc);
    free(zs);
    free(zk);
    tdi_gen_circuit_free(c0);
    tdi_gen_circuit_free(c1);
    tdi_gen_circuit_free(c2);
    tdi_gen_bundle_destroy(&b0);
    tdi_gen_bundle_destroy(&b1);
    tdi_gen_bundle_destroy(&b2);
}

/* ---------- read-back: the netlist text and ngspice give the chip's G ---------- */
static void test_readback(void)
{
    tdi_err e = {0};
    tdi_gen_bundle b;
    tdi_gen_circuit *c = build("name: two4\ncircuit:\n  skip: sharedbus\n  intra: lowrank\n"
                               "  rank: 4\n  chip: 2\n  nonideal:\n    gain_sigma: 0.02\n"
                               "    self_sigma: 0.02\n    offset_sigma: 0.005\n    gout: 0.01\n"
                               "    cap_sigma: 0.02\n    temperature: 320\n", SCR "/two4", &b,
                               &e);
    if (!tdi_check_ok(c ? 0 : -1, &e, "a chip with every non-ideality builds"))
        return;
    size_t N = c->N;
    double *gM = malloc(N * N * sizeof *gM), *G = malloc(N * N * sizeof *G);
    double *i0 = malloc(N * sizeof *i0);
    for (size_t i = 0; i < N * N; i++)
        gM[i] = c->phys.gu * c->M[i];
    double d = tdi_test_rel_diff(c->chip->G, gM, N * N);
    printf("  chip 2: max |G - gu M| / max |gu M| = %.4g\n", d);
    TDI_CHECK(d > 1e-3, "the chip's G differs from gu*M");
    char *txt = netlist(c, TDI_GEN_STANDALONE);
    tdi_gen_readback rb = {0};
    int rc = txt ? tdi_gen_readback_parse(txt, "x", "y", &rb, &e) : -1;
    if (tdi_check_ok(rc, &e, "standalone netlist of the chip parses"))
        tdi_check_le(tdi_test_rel_diff(rb.K, c->chip->G, N * N), 1e-9,
                     "read-back of the netlist text = the chip's G (15 digits per card)");
    TDI_CHECK(txt && strstr(txt, "\nCni_y3 y3 0 "), "standalone carries the capacitor errors");
    TDI_CHECK(txt && strstr(txt, "\nIos_"), "standalone carries the offset currents");
    tdi_gen_readback_destroy(&rb);
    free(txt);
    c->hier = 1; /* the hierarchical form carries the same chip (capacitors at top level) */
    txt = netlist(c, TDI_GEN_STANDALONE);
    c->hier = 0;
    TDI_CHECK(txt && strstr(txt, "\nCni_y3 y3 0 "), "hierarchical standalone: capacitor errors");
    TDI_CHECK(txt && strstr(txt, "\nIos_"), "hierarchical standalone: offset currents");
    free(txt);
    txt = netlist(c, TDI_GEN_COSIM);
    TDI_CHECK(txt && strstr(txt, "\nIos_"), "cosim netlist carries the offset currents (spice)");
    free(txt);
    /* ngspice solves the hold netlist: the chip's G to 1e-9 (test_extract's reason: 15 digits,
       LU rounding times a condition number < 1e3), and the offsets at rest */
    tdi_cosim_extract_opt o;
    tdi_cosim_extract_defaults(c, &o);
    rc = tdi_cosim_extract_g_ex(c, &o, G, i0, NULL, &e);
    if (tdi_check_ok(rc, &e, "ngspice extraction of the chip's hold netlist")) {
        tdi_check_le(tdi_test_rel_diff(G, c->chip->G, N * N), 1e-9, "ngspice's G = the chip's G");
        double imax = 0;
        for (size_t i = 0; i < N; i++)
            imax = fmax(imax, fabs(c->chip->i_unit[i]));
        double di = 0;
        for (size_t i = 0; i < N; i++)
            di = fmax(di, fabs(i0[i] - c->chip->i_unit[i]));
        /* i(vh) at rest is the current the units receive from the offsets, held to 0 V:
           1e-9 relative as above */
        tdi_check_le(di, 1e-9 * imax, "ngspice's hold currents at rest = the offsets at the "
                     "units (chip->i_unit, bus nodes eliminated)");
        TDI_CHECK(imax > 0, "the offsets reach the units");
    }
    /* the co-simulator's circuit: the chip's G, capacitors, temperature and static currents */
    tdi_cosim_circuit *cc = NULL;
    rc = tdi_cosim_circuit_from_gen(c, c->phys.noise_dt, 10 * c->phys.noise_dt, &cc, &e);
    if (tdi_check_ok(rc, &e, "cosim circuit of the chip (read-back checked against its G)")) {
        tdi_check_le(tdi_test_rel_diff(cc->G, c->chip->G, N * N), 1e-9, "cosim G = the chip's G");
        tdi_check_le(tdi_test_rel_diff(cc->cap, c->chip->cap, N), 0, "cosim capacitors = the chip's");
        tdi_check_near(cc->temp, 320, 0, "cosim temperature = the chip's");
        TDI_CHECK(cc->i_off && tdi_test_rel_diff(cc->i_off, c->chip->i_unit, N) == 0,
                  "cosim static currents (i_off) = the chip's offsets at the units");
    }
    tdi_cosim_circuit_free(cc);
    free(gM);
    free(G);
    free(i0);
    tdi_gen_circuit_free(c);
    tdi_gen_bundle_destroy(&b);
}

/* ---------- the engines on a chip: its G (non-symmetric) and its offsets ----------
 * Noiseless, ideal converters: the sde engine's average after settling must equal the analytic
 * engine's G^-1 (b + i_off) to the settling error (settle_eps 1e-3 of the step, t_settle
 * from the design's slowest time; 1e-2 of max |v| leaves room for the chip's slower modes), and
 * both differ from the design's equilibrium by more than that (the offsets are large). */
static void test_engines(void)
{
    tdi_err e = {0};
    tdi_gen_bundle b;
    tdi_gen_circuit *c = build("name: two4\ncircuit:\n  skip: sharedbus\n  theta: 0.01\n"
                               "  chip: 1\n  nonideal:\n    gain_sigma: 0.03\n"
                               "    offset_sigma: 0.002\n", SCR "/two4", &b, &e);
    tdi_cosim_circuit *cc = NULL;
    if (!c || tdi_cosim_circuit_from_gen(c, c->phys.noise_dt, c->phys.noise_dt, &cc, &e)) {
        tdi_check_ok(-1, &e, "chip circuit for the engines");
        tdi_gen_circuit_free(c);
        return;
    }
    size_t N = c->N, read[16];
    for (size_t i = 0; i < N; i++)
        read[i] = i;
    long settle = (long)ceil(c->phys.t_settle / c->phys.noise_dt);
    tdi_cosim_plan pl = {.n_samples = 1, .bias = c->bias, .n_read = N, .read = read,
                         .tick = c->phys.noise_dt, .settle_ticks = settle, .avg_ticks = 20,
                         .adc_stride = 1, .seed = 1, .noise = 0, .sde_general = 1};
    tdi_cosim_out oa, os;
    int ra = tdi_cosim_exp_run(TDI_COSIM_ANALYTIC, cc, &pl, &oa, &e);
    int rs = ra ? ra : tdi_cosim_exp_run(TDI_COSIM_SDE, cc, &pl, &os, &e);
    if (tdi_check_ok(rs, &e, "analytic and sde engines run on the chip")) {
        double vmax = 0, d = 0, dd = 0;
        for (size_t i = 0; i < N; i++) {
            vmax = fmax(vmax, fabs(oa.est[i]));
            d = fmax(d, fabs(os.est[i] - oa.est[i]));
            dd = fmax(dd, fabs(oa.est[i] - c->expect_mean[i]));
        }
        tdi_check_le(d / vmax, 1e-2, "sde (non-symmetric G, static offsets) = analytic "
                     "G^-1 (b + i_off), relative to max |v|");
        TDI_CHECK(dd > 0.05 * vmax, "the chip's equilibrium is not the design's");
        tdi_cosim_out_destroy(&os);
        /* spice on the cosim netlist: the offsets from its Ios_ cards, not from i_off */
        tdi_cosim_out osp;
        int rp = tdi_cosim_exp_run(TDI_COSIM_SPICE, cc, &pl, &osp, &e);
        if (tdi_check_ok(rp, &e, "spice engine runs the chip's cosim netlist")) {
            double dp = 0;
            for (size_t i = 0; i < N; i++)
                dp = fmax(dp, fabs(osp.est[i] - oa.est[i]));
            tdi_check_le(dp / vmax, 1e-2, "spice (Ios_ cards) = analytic G^-1 (b + i_off), "
                         "relative to max |v| (the same settling bound)");
            tdi_cosim_out_destroy(&osp);
        }
    }
    if (!ra)
        tdi_cosim_out_destroy(&oa);
    tdi_cosim_circuit_free(cc);
    tdi_gen_circuit_free(c);
    tdi_gen_bundle_destroy(&b);
}

/* ---------- ngspice -b runs the same chip ----------
 * The standalone netlist of a chip (every non-ideality on) in ngspice's batch mode: its window
 * averages against the chip's own equilibrium (tdi_gen_compare_log), in predicted read-out
 * standard deviations; max |z| <= 5 (tdi-gen --compare's bound: a correct circuit exceeds it
 * with probability ~6e-7 per average; the prediction is the design's, within a few % of the
 * chip's at 2 % errors and 10 K). */
static void test_ngspice_batch(void)
{
    tdi_err e = {0};
    tdi_gen_bundle b;
    tdi_gen_circuit *c = build("name: two4\ncircuit:\n  theta: 0.05\n  samples: [0, 1]\n"
                               "  avg_relax: 40\n  chip: 9\n  nonideal:\n    gain_sigma: 0.02\n"
                               "    self_sigma: 0.02\n    offset_sigma: 0.0002\n    gout: 0.02\n"
                               "    cap_sigma: 0.01\n    temperature: 310\n", SCR "/two4", &b,
                               &e);
    if (!tdi_check_ok(c ? 0 : -1, &e, "chip 9 for ngspice -b"))
        return;
    FILE *f = fopen(SCR "/chip9.cir", "w");
    int rc = f ? tdi_gen_netlist_write(c, TDI_GEN_STANDALONE, 0, 0, f, &e) : -1;
    if (f)
        fclose(f);
    if (rc == 0 && system("ngspice -b " SCR "/chip9.cir > " SCR "/chip9.log 2>&1") != 0)
        rc = -1;
    char *log = rc ? NULL : tdi_test_slurp(SCR "/chip9.log");
    double chi2n = 0, zmax = 1e9;
    if (TDI_CHECK(log != NULL, "ngspice -b runs the chip's standalone netlist"))
        tdi_check_ok(tdi_gen_compare_log(c, &b, log, NULL, &chi2n, &zmax, &e), &e,
                     "its averages read");
    tdi_check_le(zmax, 5, "ngspice -b averages vs the chip's equilibrium: max |z|");
    printf("  chip 9 under ngspice -b: chi2/N = %.3f, max |z| = %.2f\n", chi2n, zmax);
    free(log);
    tdi_gen_circuit_free(c);
    tdi_gen_bundle_destroy(&b);
}

/* ---------- the report names the block of a perturbed element ---------- */
static void test_report_block(void)
{
    tdi_err e = {0};
    const struct {
        int blk;
        const char *name;
    } want[4] = {{TDI_GEN_BLK_SELF, "self"}, {TDI_GEN_BLK_INTRA_ENC, "intra_enc"},
                 {TDI_GEN_BLK_INTRA_DEC, "intra_dec"}, {TDI_GEN_BLK_SKIP, "cpl_enc_dec"}};
    for (int q = 0; q < 4; q++) {
        tdi_gen_bundle b;
        tdi_gen_circuit *c = build("name: two4\ncircuit:\n  skip: dense\n  intra: dense\n",
                                   SCR "/two4", &b, &e);
        if (!c)
            continue;
        size_t el = c->n_elems;
        for (size_t i = 0; i < c->n_elems && el == c->n_elems; i++)
            if (c->elems[i].block == want[q].blk)
                el = i;
        c->elems[el].g *= 1.05; /* one element 5% off */
        tdi_cosim_realised r;
        size_t w = 0;
        int rc = tdi_cosim_chip_report(c, NULL, &r, &w, &e);
        char nm[160];
        snprintf(nm, sizeof nm, "one %s element 5%% off: the report names block %s",
                 c->blk[want[q].blk].name, want[q].name);
        TDI_CHECK(rc == 0 && strcmp(r.blk[w].name, want[q].name) == 0, nm);
        if (rc == 0 && strcmp(r.blk[w].name, want[q].name) != 0)
            tdi_cosim_chip_print(c, &r, w, stdout);
        tdi_gen_circuit_free(c);
        tdi_gen_bundle_destroy(&b);
    }
}

/* ---------- converters ---------- */
static void test_converters(void)
{
    tdi_err e = {0};
    uint64_t key = tdi_seed(1, TDI_SEED_NONIDEAL, 4);
    tdi_cosim_conv z, a, a2, d;
    int rc = tdi_cosim_conv_init(&z, 4, 1, 10, 0.5, 0, 0, 0, key, &e);
    int same = rc == 0;
    for (int q = -600; q <= 600 && same; q++) /* beyond the full scale too: clipping */
        for (size_t ch = 0; ch < 4; ch++)
            same &= tdi_cosim_conv_apply(&z, ch, q * 1e-3) == tdi_cosim_quantize(q * 1e-3, 10, 0.5);
    TDI_CHECK(same, "converter with every error 0 = tdi_cosim_quantize exactly");
    tdi_cosim_conv_destroy(&z);
    /* the draws: offset / (sigma LSB) and (gain - 1) / sigma over 20,000 channels */
    size_t n = 20000;
    double lsb = 2 * 0.5 / 1024;
    rc = tdi_cosim_conv_init(&a, n, 1, 10, 0.5, 0.7, 0.003, 1.0, key, &e);
    tdi_cosim_conv_init(&a2, n, 1, 10, 0.5, 0.7, 0.003, 1.0, key, &e);
    if (!tdi_check_ok(rc, &e, "ADC of 20,000 channels"))
        return;
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    int rep = 1;
    for (size_t i = 0; i < n; i++) {
        x[i] = a.offset[i] / (0.7 * lsb);
        y[i] = (a.gain[i] - 1) / 0.003;
        rep &= a.offset[i] == a2.offset[i] && a.gain[i] == a2.gain[i] && a.w_s[i] == a2.w_s[i];
    }
    check_std_normal("ADC offsets / adc_offset LSB", x, n);
    check_std_normal("ADC gain errors / adc_gain_err", y, n);
    TDI_CHECK(rep, "the same (seed, chip): the same converters");
    TDI_CHECK(a.offset[0] != tdi_gen_nonideal_gauss(key, 0, TDI_GEN_NI_DAC_OFFSET) * 0.7 * lsb,
              "ADC and DAC draw from different counters");
    free(x);
    free(y);
    tdi_cosim_conv_destroy(&a);
    tdi_cosim_conv_destroy(&a2);
    /* INL: a DAC (errors after the code) with only INL; on the codes, apply(x) - x is the INL
       curve; its largest |.| over the 4096 codes is inl LSB to the grid (1e-3 of it) */
    rc = tdi_cosim_conv_init(&d, 8, 0, 12, 2e-6, 0, 0, 1.5, key, &e);
    double l12 = 2 * 2e-6 / 4096, worst = 0;
    for (size_t ch = 0; rc == 0 && ch < 8; ch++) {
        double m = 0;
        for (int q = -2048; q < 2048; q++)
            m = fmax(m, fabs(tdi_cosim_conv_apply(&d, ch, q * l12) - q * l12));
        worst = fmax(worst, fabs(m / (1.5 * l12) - 1));
    }
    tdi_check_le(rc ? 1.0 : worst, 1e-3, "DAC INL: largest |INL| = dac_inl LSB on every channel");
    tdi_cosim_conv_destroy(&d);
    TDI_CHECK(tdi_cosim_conv_init(&d, 2, 1, 0, 1, 1, 0, 0, key, &e) != 0,
              "an ideal (0-bit) converter refuses offsets in LSB");
}

int main(void)
{
    tdi_err e = {0};
    if (system("rm -rf " SCR " && mkdir -p " SCR) != 0 ||
        tdi_gen_bundle_synth(SCR "/two4", "two4", 4, 2, 1, 2, 11, &e) ||
        tdi_gen_bundle_synth(SCR "/two24", "two24", 24, 3, 2, 2, 12, &e)) {
        printf("FAIL setup: %s\n", e.msg);
        return 1;
    }
    test_keys();
    test_zero();
    test_draws();
    test_readback();
    test_report_block();
    test_engines();
    test_ngspice_batch();
    test_converters();
    TDI_TEST_END();
}
