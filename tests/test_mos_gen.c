/* test_mos_gen: the transistor-level generator (circuit.devices: mos; docs/devices.md): config
 * errors, ideal netlists unchanged, the device list and OTA signs, the shipped card against its
 * gm/ID table in ngspice, a D = 4 standalone netlist in ngspice -b, the supply current of the
 * operating point against the design tail currents, Pelgrom draws (reproducible, their std) and
 * a missing card. Scratch files live in build/test-mos-gen/. ngspice 39 is a dependency of the
 * build (make deps); the ngspice checks fail (not skip) when it cannot run. */
#include <gsl/gsl_errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_gen.h"
#include "tdi_gen_int.h"
#include "tdi_io.h"
#include "tdi_test.h"
#include "tdi_test_gen.h"

#define SCR "build/test-mos-gen"
#define BUN SCR "/d4"

/* a short standalone run: one sample, 1 us settle and 1 us average (tau = 1 us) */
static const char *cfg_mos = "seed: 7\nname: mos\ncircuit:\n  devices: mos\n  samples: [0]\n"
                             "  t_settle: 1.0e-6\n  t_avg: 1.0e-6\n";

static tdi_gen_circuit *build(const char *cfgtext, tdi_gen_bundle *b, tdi_gen_config *cfg,
                              tdi_err *e)
{
    return tdi_test_gen_build(cfgtext, BUN, b, cfg, e);
}

static size_t count_lines(const char *s, const char *prefix)
{
    size_t n = 0, l = strlen(prefix);
    for (const char *p = s; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        n += strncmp(p, prefix, l) == 0;
    return n;
}

/* needle in a netlist text (the report shows the needle, not the whole netlist) */
static int has(const char *text, const char *needle, const char *name)
{
    char d[400];
    snprintf(d, sizeof d, "netlist should contain \"%.300s\"", needle);
    return tdi_test_report_(text && strstr(text, needle) != NULL, name, d);
}

/* ---------- 1. config errors ---------- */
static void test_config(void)
{
    struct {
        const char *yaml, *want;
    } bad[] = {
        {"circuit:\n  devices: bjt\n", "circuit.devices"},
        {"circuit:\n  devices: mos\n  unit: rlc\n", "unit: rc"},
        {"circuit:\n  devices: mos\n  mos_w_min: 2.0e-6\n  mos_w_max: 1.0e-6\n", "mos_w_min"},
        {"circuit:\n  devices: mos\n  mos_vcm: 1.5\n  mos_vdd: 1.4\n", "mos_vcm"},
        {"circuit:\n  devices: mos\n  mos_prefix: x\n  mos_mismatch: true\n", "mos_prefix: m"},
        {"circuit:\n  devices: mos\n  mos_gm_over_id: 40\n", "circuit.mos_gm_over_id"},
        {"circuit:\n  devices: mos\n  mos_nmos: \"n fet\"\n", "mos_nmos"},
        {"circuit:\n  devices: mos\n  mos_prefix: q\n", "circuit.mos_prefix"},
        {"circuit:\n  devices: mos\n  readout_stage: rc\n", "readout_stage"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tdi_gen_config c;
        tdi_err e;
        tdi_gen_config_init(&c);
        int rc = tdi_gen_config_load_string("bad.yaml", bad[i].yaml, &c, &e);
        char name[160];
        snprintf(name, sizeof name, "config error %zu is TDI_ECONFIG", i);
        tdi_check_int(rc, TDI_ECONFIG, name);
        snprintf(name, sizeof name, "config error %zu names '%s'", i, bad[i].want);
        tdi_check_contains(rc ? e.msg : "", bad[i].want, name);
    }
    tdi_gen_config a, b;
    tdi_err e;
    tdi_gen_config_init(&a);
    tdi_gen_config_init(&b);
    int ra = tdi_gen_config_load_string("a.yaml", "circuit:\n  gu: 2.0e-6\n", &a, &e);
    int rb = tdi_gen_config_load_string("a.yaml", "circuit:\n  gu: 2.0e-6\n  devices: ideal\n"
                                        "  mos_l: 2.0e-6\n", &b, &e);
    TDI_CHECK(ra == 0 && rb == 0, "ideal configs load");
    /* the transistor keys stay out of an ideal config's hash: every ideal header unchanged */
    TDI_CHECK(a.hash == b.hash, "devices: ideal (and mos_* keys) leave the config hash unchanged");
    tdi_gen_config_load_string("a.yaml", "circuit:\n  gu: 2.0e-6\n  devices: mos\n", &b, &e);
    TDI_CHECK(a.hash != b.hash, "devices: mos changes the config hash");
}

/* ---------- 2. ideal unchanged, device list, signs ---------- */
static int node_is(const tdi_gen_circuit *c, int i, const char *name)
{
    return strcmp(i < 0 ? "vcm" : c->nodes[i].name, name) == 0;
}

/* Each OTA's connection against its element: output, inputs and sign. */
static int ota_matches(const tdi_gen_circuit *c, const tdi_gen_ota *o)
{
    const tdi_gen_elem *e = &c->elems[o->elem];
    if (e->kind == 'R')
        return e->g < 0 && o->sign == 1 && node_is(c, e->a, o->out) && node_is(c, e->a, o->inp) &&
               node_is(c, e->b, o->inn);
    int into_b = node_is(c, e->b, o->out); /* injects +g (v(c) - v(d)) */
    int want = (into_b ? 1 : -1) * (e->g > 0 ? 1 : -1);
    const char *ctl = want > 0 ? o->inp : o->inn, *ref = want > 0 ? o->inn : o->inp;
    return o->sign == want && node_is(c, e->c, ctl) && node_is(c, e->d, ref) &&
           (into_b || node_is(c, e->a, o->out)) && fabs(o->gm - fabs(e->g)) == 0;
}

static void test_structure(void)
{
    tdi_gen_bundle b;
    tdi_gen_config cfg;
    tdi_err e;
    tdi_gen_circuit *ci = build("seed: 7\nname: mos\n", &b, &cfg, &e);
    if (!TDI_CHECK(ci != NULL, "ideal D = 4 circuit builds"))
        return;
    char *ti = tdi_test_gen_text(ci, TDI_GEN_STANDALONE, NULL);
    tdi_gen_bundle_destroy(&b);
    tdi_gen_circuit *cx = build("seed: 7\nname: mos\ncircuit:\n  devices: ideal\n", &b, &cfg, &e);
    char *tx = cx ? tdi_test_gen_text(cx, TDI_GEN_STANDALONE, NULL) : NULL;
    TDI_CHECK(ti && tx && strcmp(ti, tx) == 0, "devices: ideal gives the default netlist byte "
              "for byte");
    TDI_CHECK(ci->n_dev == 0 && ci->n_ota == 0 && ci->phys.mos == 0 && ci->phys.v_ref == 0,
              "ideal: no devices, v_ref 0");
    TDI_CHECK(ti && !strstr(ti, "vcm") && strstr(ti, " uic\n"), "ideal: no vcm rail, .tran uic");
    free(ti);
    free(tx);
    tdi_gen_circuit_free(ci);
    tdi_gen_circuit_free(cx);
    tdi_gen_bundle_destroy(&b);

    tdi_gen_circuit *c = build(cfg_mos, &b, &cfg, &e);
    if (!tdi_check_ok(c ? 0 : -1, &e, "mos D = 4 circuit builds"))
        return;
    size_t want_ota = 0, n_ok = 0;
    for (size_t i = 0; i < c->n_elems; i++) {
        const tdi_gen_elem *el = &c->elems[i];
        if (el->kind == 'G')
            want_ota += (el->a >= 0) + (el->b >= 0);
        else if (el->g < 0)
            want_ota += 1 + (el->b >= 0);
    }
    tdi_check_int((long long)c->n_ota, (long long)want_ota, "one OTA per G element side and "
                  "negative R");
    tdi_check_int((long long)c->n_dev, 6 * (long long)c->n_ota, "6 devices per OTA (5 + bias "
                  "diode)");
    double sum = 0, gm_err = 0;
    for (size_t k = 0; k < c->n_ota; k++) {
        n_ok += ota_matches(c, &c->ota[k]);
        sum += c->ota[k].i_tail;
        const tdi_gen_dev *p = &c->dev[6 * k];
        gm_err = fmax(gm_err, fabs(p->gm / c->ota[k].gm - 1));
        gm_err = fmax(gm_err, fabs(2 * p->id / c->ota[k].i_tail - 1));
    }
    tdi_check_int((long long)n_ok, (long long)c->n_ota, "every OTA: output, inputs and sign "
                  "match its element");
    tdi_check_rel(c->phys.i_tail_sum, sum, 1e-12, "phys.i_tail_sum = sum of the tail currents");
    /* the pair current solves id gm/ID(id L/W) = gm by bisection to 1e-13 in ln id */
    tdi_check_le(gm_err, 1e-9, "pair device: design gm = |g| and id = I_tail/2");
    tdi_check_near(c->phys.v_ref, 0.9, 0, "phys.v_ref = mos_vcm");
    char *t = tdi_test_gen_text(c, TDI_GEN_STANDALONE, NULL);
    char *tc = tdi_test_gen_text(c, TDI_GEN_COSIM, NULL);
    if (TDI_CHECK(t && tc, "mos netlist texts")) {
        tdi_check_int((long long)count_lines(t, "mota"), (long long)c->n_dev, "MOSFET cards");
        tdi_check_int((long long)count_lines(t, "Ibota"), (long long)c->n_ota, "bias references");
        tdi_check_int((long long)count_lines(t, "Vdd vdd 0 DC"), 1, "Vdd rail");
        tdi_check_int((long long)count_lines(t, "Vbias vddb 0 DC"), 1, "Vbias rail");
        tdi_check_int((long long)count_lines(t, "Vcm vcm 0 DC 0.9"), 1, "Vcm rail");
        tdi_check_int((long long)count_lines(t, "G"), 0, "no ideal G card left");
        TDI_CHECK(!strstr(t, " uic") && !strstr(tc, " uic"), ".tran from the operating point");
        has(t, "let vr_y0 = v(y0) - v(vcm)", "standalone measures v - vcm");
    }
    /* device noise cards: white only, white + flicker, cosim external */
    c->dev[0].psd_w = 4e-26;
    c->dev[1].psd_w = 4e-26;
    c->dev[1].psd_f1 = 1e-22;
    char *tn = tdi_test_gen_text(c, TDI_GEN_STANDALONE, NULL);
    char *tnc = tdi_test_gen_text(c, TDI_GEN_COSIM, NULL);
    char want[256];
    snprintf(want, sizeof want, "inmota0_1 %s %s TRNOISE(%.9g %.15g 0 0)", c->dev[0].d,
             c->dev[0].s, sqrt(4e-26 / c->phys.noise_dt), c->phys.noise_dt);
    has(tn, want, "white device noise card (na = sqrt(psd_w / h))");
    snprintf(want, sizeof want, "inmota0_2 %s %s TRNOISE(%.9g %.15g 1 %.9g)", c->dev[1].d,
             c->dev[1].s, sqrt(4e-26 / c->phys.noise_dt), c->phys.noise_dt,
             sqrt(2 * M_PI * 1e-22));
    has(tn, want, "flicker device noise card (amp sqrt(2 pi psd_f1))");
    snprintf(want, sizeof want, "inmota0_2 %s %s external", c->dev[1].d, c->dev[1].s);
    has(tnc, want, "cosim device noise card external");
    free(tn);
    free(tnc);
    free(t);
    free(tc);
    tdi_gen_circuit_free(c);
    tdi_gen_bundle_destroy(&b);
}

/* ---------- 3. ngspice: the card against its table, a D = 4 run, supply current ---------- */
static char *run(const char *tag, const char *deck)
{
    char cir[256], log[256], cmd[600];
    snprintf(cir, sizeof cir, SCR "/%s.cir", tag);
    snprintf(log, sizeof log, SCR "/%s.log", tag);
    if (tdi_test_write(cir, deck))
        return NULL;
    snprintf(cmd, sizeof cmd, "ngspice -b %s > %s 2>&1", cir, log);
    (void)!system(cmd); /* the verdict is the printed values */
    return tdi_test_slurp(log);
}

static double value_of(const char *log, const char *key)
{
    const char *p = log ? strstr(log, key) : NULL;
    double v = NAN;
    if (p && (p = strchr(p, '=')))
        sscanf(p + 1, "%lf", &v);
    return v;
}

/* A mirror (diode M1 fed by I, M2 at VDS = 0.9 V) at three currents: M2's gm/ID against the
 * table at its measured J. */
static void test_card_table(void)
{
    char lib[600];
    if (!realpath("models/tdi-bsim4.lib", lib))
        snprintf(lib, sizeof lib, "models/tdi-bsim4.lib");
    const double cur[3] = {1e-9, 3e-8, 1e-6};
    for (int i = 0; i < 3; i++) {
        char deck[1400], tag[32], name[160];
        snprintf(deck, sizeof deck, "* gm/ID of the shipped card\n.include %s\n"
                 "i1 vdd g DC %g\nvdd vdd 0 DC 1.8\nvd d 0 DC 0.9\n"
                 "m1 g g 0 0 tdi_nmos W=1e-6 L=1e-6\nm2 d g 0 0 tdi_nmos W=1e-6 L=1e-6\n"
                 ".control\nset noaskquit\nop\nprint @m2[gm] @m2[id]\nquit 0\n.endc\n.end\n",
                 lib, cur[i]);
        snprintf(tag, sizeof tag, "card%d", i);
        char *log = run(tag, deck);
        double gm = value_of(log, "@m2[gm] ="), id = value_of(log, "@m2[id] =");
        snprintf(name, sizeof name, "shipped card: gm/ID at %g A against the sizing table", id);
        /* the table is every 5th point of a 5 mV sweep of this card: linear interpolation in
           ln J between points 25 mV apart is good to ~1% (curvature of gm/ID over ln J) */
        tdi_check_rel(gm / id, tdi_gen_mos_gmid('n', id), 0.02, name);
        free(log);
    }
}

static void test_ngspice_run(void)
{
    tdi_gen_bundle b;
    tdi_gen_config cfg;
    tdi_err e;
    tdi_gen_circuit *c = build(cfg_mos, &b, &cfg, &e);
    if (!tdi_check_ok(c ? 0 : -1, &e, "mos circuit builds"))
        return;
    char *t = tdi_test_gen_text(c, TDI_GEN_STANDALONE, NULL);
    char *log = run("d4", t ? t : "");
    int found = 0;
    double worst = 0;
    for (size_t j = 0; j < c->D; j++) {
        char key[64];
        snprintf(key, sizeof key, "\navg_y%zu_s0 ", j);
        double v = value_of(log ? strstr(log, key) : NULL, "=");
        found += isfinite(v);
        if (isfinite(v))
            worst = fmax(worst, fabs(v - c->expect_mean[c->mod[c->out].off + j]));
    }
    tdi_check_int(found, (long long)c->D, "ngspice -b runs the D = 4 mos netlist: every average "
                  "printed");
    /* the OTAs' offsets put nodes <= 1 mV from their ideal means (measured 0.76 mV); 20 mV
       catches a missing vcm subtraction (0.9 V) or a failed operating point */
    tdi_check_le(worst, 0.02, "decoder averages (v - vcm) within 20 mV of Vs (M^-1 b)");
    /* the operating point: the same cards with .op in place of .tran/.control */
    char *op = t ? malloc(strlen(t) + 200) : NULL;
    if (op) {
        strcpy(op, t);
        char *tr = strstr(op, "\n.tran ");
        strcpy(tr ? tr + 1 : op, ".control\nset noaskquit\nop\nprint i(vdd)\nquit 0\n.endc\n"
               ".end\n");
        char *ol = run("d4op", op);
        double idd = -value_of(ol, "i(vdd) =");
        /* the tail mirrors copy the reference within a few % (tail VDS != diode VDS) */
        tdi_check_rel(idd, c->phys.i_tail_sum, 0.05, "op: supply current i(vdd) = sum of the "
                      "design tail currents within 5%");
        free(ol);
        free(op);
    }
    free(log);
    free(t);
    tdi_gen_circuit_free(c);
    tdi_gen_bundle_destroy(&b);
}

/* ---------- 4. mismatch and a missing card ---------- */
static void test_mismatch(void)
{
    char y1[400], y2[400];
    snprintf(y1, sizeof y1, "%s  mos_mismatch: true\n  chip: 3\n", cfg_mos);
    snprintf(y2, sizeof y2, "%s  mos_mismatch: true\n  chip: 4\n", cfg_mos);
    tdi_gen_bundle b1, b2, b3;
    tdi_gen_config c1, c2, c3;
    tdi_err e;
    tdi_gen_circuit *a = build(y1, &b1, &c1, &e), *a2 = build(y1, &b2, &c2, &e),
                    *o = build(y2, &b3, &c3, &e);
    if (!TDI_CHECK(a && a2 && o, "mismatch circuits build"))
        return;
    char *ta = tdi_test_gen_text(a, TDI_GEN_STANDALONE, NULL);
    char *ta2 = tdi_test_gen_text(a2, TDI_GEN_STANDALONE, NULL);
    char *to = tdi_test_gen_text(o, TDI_GEN_STANDALONE, NULL);
    TDI_CHECK(ta && ta2 && strcmp(ta, ta2) == 0, "same (seed, chip): the same netlist");
    TDI_CHECK(ta && to && strcmp(ta, to) != 0, "another chip: another netlist");
    has(ta, " delvto=", "instances carry delvto");
    /* z-scores of the draws: mean 0, std 1 within 4 standard errors (1/sqrt(n), 1/sqrt(2n)) */
    size_t n = a->n_dev;
    double s[2] = {0, 0}, ss[2] = {0, 0};
    for (size_t i = 0; i < n; i++) {
        const tdi_gen_dev *d = &a->dev[i];
        double r = sqrt(d->W * d->L);
        double z[2] = {d->delvto * r / c1.mos_avt, (d->mulu0 - 1) * r / c1.mos_abeta};
        for (int q = 0; q < 2; q++) {
            s[q] += z[q];
            ss[q] += z[q] * z[q];
        }
    }
    const char *what[2] = {"delvto sqrt(WL)/A_VT", "(mulu0 - 1) sqrt(WL)/A_beta"};
    for (int q = 0; q < 2; q++) {
        char name[160];
        double m = s[q] / (double)n, sd = sqrt(ss[q] / (double)n - m * m);
        snprintf(name, sizeof name, "%s: mean (n = %zu)", what[q], n);
        tdi_check_near(m, 0, 4 / sqrt((double)n), name);
        snprintf(name, sizeof name, "%s: std", what[q]);
        tdi_check_near(sd, 1, 4 / sqrt(2.0 * (double)n), name);
    }
    free(ta);
    free(ta2);
    free(to);
    tdi_gen_circuit_free(a);
    tdi_gen_circuit_free(a2);
    tdi_gen_circuit_free(o);
    tdi_gen_bundle_destroy(&b1);
    tdi_gen_bundle_destroy(&b2);
    tdi_gen_bundle_destroy(&b3);

    char y3[400];
    snprintf(y3, sizeof y3, "%s  mos_lib: " SCR "/no-such-card.lib\n", cfg_mos);
    tdi_gen_bundle b;
    tdi_gen_config cfg;
    tdi_gen_circuit *c = build(y3, &b, &cfg, &e);
    TDI_CHECK(c == NULL, "a card that does not exist fails the generation");
    if (!c) {
        tdi_check_contains(e.msg, "circuit.mos_lib", "the error names the key");
        tdi_check_contains(e.msg, "no-such-card.lib", "the error names the file");
    }
    tdi_gen_circuit_free(c);
}

/* ---------- 5. a user's gm/ID table (circuit.mos_gmid) ---------- */
static void test_user_table(void)
{
    /* flat gm/ID = 25: every pair current is gm / 25 exactly */
    tdi_test_write(SCR "/flat.gmid", "# flat table\nn 1e-12 25\nn 1e-3 25\np 1e-12 25\n"
                   "p 1e-3 25\n");
    tdi_test_write(SCR "/bad.gmid", "n 1e-12 25\nn 1e-13 25\n");
    char y[400];
    snprintf(y, sizeof y, "%s  mos_gmid: " SCR "/flat.gmid\n", cfg_mos);
    tdi_gen_bundle b;
    tdi_gen_config cfg;
    tdi_err e;
    tdi_gen_circuit *c = build(y, &b, &cfg, &e);
    if (tdi_check_ok(c ? 0 : -1, &e, "a user gm/ID table builds")) {
        double worst = 0;
        for (size_t k = 0; k < c->n_ota; k++)
            worst = fmax(worst, fabs(c->ota[k].i_tail / (2 * c->ota[k].gm / 25) - 1));
        /* bisection to 1e-13 in ln id */
        tdi_check_le(worst, 1e-9, "flat table: I_tail = 2 |g| / 25");
        tdi_gen_circuit_free(c);
        tdi_gen_bundle_destroy(&b);
    }
    snprintf(y, sizeof y, "%s  mos_gmid: " SCR "/bad.gmid\n", cfg_mos);
    c = build(y, &b, &cfg, &e);
    TDI_CHECK(c == NULL, "a table with J descending is an error");
    if (!c)
        tdi_check_contains(e.msg, SCR "/bad.gmid:2:", "the error names file:line");
    tdi_gen_circuit_free(c);
    snprintf(y, sizeof y, "%s  mos_gmid: " SCR "/none.gmid\n", cfg_mos);
    c = build(y, &b, &cfg, &e);
    TDI_CHECK(c == NULL, "a missing table is an error");
    if (!c)
        tdi_check_contains(e.msg, "circuit.mos_gmid", "the error names the key");
    tdi_gen_circuit_free(c);
}

int main(void)
{
    gsl_set_error_handler_off();
    tdi_err e;
    if (system("rm -rf " SCR " && mkdir -p " SCR) != 0 ||
        tdi_gen_bundle_synth(BUN, "mos", 4, 2, 0, 2, 3, &e)) {
        printf("cannot create " SCR "\n");
        return 1;
    }
    test_config();
    test_structure();
    test_card_table();
    test_ngspice_run();
    test_mismatch();
    test_user_table();
    TDI_TEST_END();
}
