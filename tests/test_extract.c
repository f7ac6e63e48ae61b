/* test_extract: the realised-matrix extraction (cosim/tdi_cosim_extract.c) on ideal-element
 * netlists, where it must give back the netlist's own reduced matrix (tdi_gen_circuit_reduced,
 * = gu*M) to rounding: D = 4 two-module substrates in every skip realisation (bus nodes are
 * eliminated by ngspice's solve, not ours), a three-module fan-in, the hold netlist's cards, the
 * report's blocks, and a unit kind that cannot be held. Prints the extraction time at N = 128.
 * Scratch files in build/test-extract/. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_bundle.h"
#include "tdi_cosim.h"
#include "tdi_gen.h"
#include "tdi_test.h"
#include "tdi_test_gen.h"
#include "tdi_test_mat.h"

#define SCR "build/test-extract"

static tdi_gen_circuit *build(const char *cfgtext, const char *bdir, tdi_gen_bundle *b,
                              tdi_err *e)
{
    return tdi_test_gen_build(cfgtext, bdir, b, NULL, e);
}

/* The ideal path: G from ngspice = the reduced matrix of the element list (and gu*M).
 * Tolerance 1e-9: the cards carry 15 digits and ngspice's LU adds rounding of the order of the
 * condition number (< 1e3 here) times 1e-16; the read-back check of tdi-cosim uses 1e-9 too. */
static void check_ideal(const char *what, const tdi_gen_circuit *c)
{
    size_t N = c->N;
    double *G = malloc(N * N * sizeof *G), *K = malloc(N * N * sizeof *K);
    double *gM = malloc(N * N * sizeof *gM), *i0 = malloc(N * sizeof *i0);
    tdi_err e = {0};
    char nm[300];
    for (size_t i = 0; i < N * N; i++)
        gM[i] = c->phys.gu * c->M[i];
    tdi_cosim_extract_opt o;
    tdi_cosim_extract_defaults(c, &o);
    tdi_cosim_extract_stats st, st1;
    int rc = tdi_cosim_extract_g_ex(c, &o, G, i0, &st, &e);
    snprintf(nm, sizeof nm, "%s: extraction runs", what);
    if (!tdi_check_ok(rc, &e, nm))
        goto done;
    snprintf(nm, sizeof nm, "%s: 1 + N ops (one-sided)", what);
    tdi_check_int((long long)st.n_op, (long long)(1 + N), nm);
    tdi_check_ok(tdi_gen_circuit_reduced(c, K, &e), &e, "reduced matrix");
    snprintf(nm, sizeof nm, "%s: G = reduced matrix of the element list (max rel)", what);
    tdi_check_le(tdi_test_rel_diff(G, K, N * N), 1e-9, nm);
    snprintf(nm, sizeof nm, "%s: G = gu M (max rel)", what);
    tdi_check_le(tdi_test_rel_diff(G, gM, N * N), 1e-9, nm);
    double imax = 0;
    for (size_t i = 0; i < N; i++)
        imax = fmax(imax, fabs(i0[i]));
    snprintf(nm, sizeof nm, "%s: no current at rest (ideal elements, no bias)", what);
    tdi_check_le(imax, 1e-18, nm);
    tdi_cosim_realised r;
    rc = tdi_cosim_realised_compare(c, G, &r, &e);
    snprintf(nm, sizeof nm, "%s: relative Frobenius |G - gu M| / |gu M|", what);
    tdi_check_le(rc ? 1.0 : r.rel_fro, 1e-9, nm);
    snprintf(nm, sizeof nm, "%s: asymmetry (M symmetric)", what);
    tdi_check_le(rc ? 1.0 : r.asym, 1e-9, nm);
    snprintf(nm, sizeof nm, "%s: diagonal error max", what);
    tdi_check_le(rc ? 1.0 : r.diag_max, 1e-9, nm);
    snprintf(nm, sizeof nm, "%s: blocks self + %zu intra + %zu pairs", what, c->n_mod,
             c->n_mod * (c->n_mod - 1) / 2);
    tdi_check_int((long long)r.n_blk, (long long)(1 + c->n_mod + c->n_mod * (c->n_mod - 1) / 2),
                  nm);
    double bmax = 0;
    for (size_t b = 0; b < r.n_blk; b++)
        bmax = fmax(bmax, r.blk[b].ref_fro > 0 ? r.blk[b].rel : 0);
    snprintf(nm, sizeof nm, "%s: every block's relative error", what);
    tdi_check_le(bmax, 1e-9, nm);
    /* central: the same numbers on a linear circuit, N more ops */
    o.central = 1;
    double *G1 = malloc(N * N * sizeof *G1);
    rc = tdi_cosim_extract_g_ex(c, &o, G1, NULL, &st1, &e);
    snprintf(nm, sizeof nm, "%s: central = one-sided on a linear circuit", what);
    tdi_check_le(rc ? 1.0 : tdi_test_rel_diff(G1, G, N * N), 1e-9, nm);
    free(G1);
    printf("  %s: N = %zu: one-sided %zu ops %.3f s wall %.3f s CPU; central %zu ops %.3f s "
           "wall\n", what, N, st.n_op, st.wall_s, st.cpu_s, st1.n_op, st1.wall_s);
done:
    free(G);
    free(K);
    free(gM);
    free(i0);
}

static void test_two_module(void)
{
    tdi_err e = {0};
    int rc = tdi_gen_bundle_synth(SCR "/two4", "two4", 4, 2, 1, 2, 11, &e);
    if (!tdi_check_ok(rc, &e, "synthetic two-module bundle D = 4, k = 2, intra rank 1"))
        return;
    const char *skips[3] = {"dense", "twobus", "sharedbus"};
    const char *intras[2] = {"dense", "lowrank"};
    for (int s = 0; s < 3; s++)
        for (int q = 0; q < 2; q++) {
            char cfgt[300], what[120];
            snprintf(cfgt, sizeof cfgt, "name: two4\ncircuit:\n  skip: %s\n  intra: %s\n"
                     "  rank: 4\n", skips[s], intras[q]);
            snprintf(what, sizeof what, "D = 4 skip %s intra %s", skips[s], intras[q]);
            tdi_gen_bundle b;
            tdi_gen_circuit *c = build(cfgt, SCR "/two4", &b, &e);
            char nm[160];
            snprintf(nm, sizeof nm, "%s: builds", what);
            if (!tdi_check_ok(c ? 0 : -1, &e, nm))
                continue;
            check_ideal(what, c);
            tdi_gen_circuit_free(c);
            tdi_gen_bundle_destroy(&b);
        }
}

static void test_three_module(void)
{
    tdi_gen_synth_spec f = {.preset = "three", .n_mod = 3, .D = {4, 3, 5},
                            .names = {"ea", "eb", "dec"}, .out = 2, .n_cpl = 2,
                            .from = {0, 1}, .to = {2, 2}, .rank = {2, 1}, .n = 2, .seed = 3};
    tdi_err e = {0};
    if (!tdi_check_ok(tdi_gen_synth_write(SCR "/three", &f, &e), &e, "three-module bundle"))
        return;
    const char *skips[2] = {"dense", "sharedbus"};
    for (int s = 0; s < 2; s++) {
        char cfgt[200], what[120];
        snprintf(cfgt, sizeof cfgt, "name: three\ncircuit:\n  skip: %s\n", skips[s]);
        snprintf(what, sizeof what, "three modules (4, 3, 5) skip %s", skips[s]);
        tdi_gen_bundle b;
        tdi_gen_circuit *c = build(cfgt, SCR "/three", &b, &e);
        if (!tdi_check_ok(c ? 0 : -1, &e, "three-module circuit builds"))
            continue;
        check_ideal(what, c);
        tdi_gen_circuit_free(c);
        tdi_gen_bundle_destroy(&b);
    }
}

/* The hold netlist: one "vh<unit> <unit> 0 DC 0" per unit, no capacitor, source, analysis. */
static void test_hold_text(void)
{
    tdi_err e = {0};
    tdi_gen_bundle b;
    tdi_gen_circuit *c = build("name: two4\ncircuit:\n  skip: sharedbus\n", SCR "/two4", &b, &e);
    if (!tdi_check_ok(c ? 0 : -1, &e, "circuit for the hold text"))
        return;
    tdi_gen_text *t = NULL;
    tdi_check_ok(tdi_gen_netlist_text(c, TDI_GEN_HOLD, 0, 0, &t, &e), &e, "hold text");
    size_t vh = 0, bad = 0;
    for (size_t i = 0; t && i < t->n_lines; i++) {
        const char *l = t->lines[i];
        vh += strncmp(l, "vh", 2) == 0;
        bad += l[0] == 'C' || l[0] == 'X' || l[0] == 'I' || strncasecmp(l, ".tran", 5) == 0 ||
               strncasecmp(l, ".control", 8) == 0 || strncasecmp(l, ".subckt", 7) == 0;
    }
    tdi_check_int((long long)vh, (long long)c->N, "one hold source per unit");
    tdi_check_int((long long)bad, 0, "no capacitor, unit instance, source, .tran, .control");
    TDI_CHECK(t && strcmp(t->lines[t->n_lines - 1], ".end") == 0, "the hold text ends .end");
    int found = 0;
    for (size_t i = 0; t && i < t->n_lines; i++)
        found += strcmp(t->lines[i], "vhx0 x0 0 DC 0") == 0;
    tdi_check_int(found, 1, "the card of unit x0: vhx0 x0 0 DC 0");
    tdi_gen_text_free(t);
    /* the streamed file has the same lines */
    FILE *f = tmpfile();
    tdi_check_ok(f ? tdi_gen_netlist_write(c, TDI_GEN_HOLD, 0, 0, f, &e) : -1, &e,
                 "hold netlist streamed");
    if (f)
        fclose(f);
    tdi_gen_circuit_free(c);
    tdi_gen_bundle_destroy(&b);
    c = build("name: two4\ncircuit:\n  unit: rlc\n", SCR "/two4", &b, &e);
    if (!tdi_check_ok(c ? 0 : -1, &e, "rlc circuit"))
        return;
    double G[64];
    int rc = tdi_cosim_extract_g(c, G, &e);
    tdi_check_int(rc, TDI_EARG, "rlc units cannot be held: TDI_EARG");
    tdi_check_contains(e.msg, "rlc", "the message names the unit kind");
    tdi_gen_circuit_free(c);
    tdi_gen_bundle_destroy(&b);
}

/* The report's text and JSON carry the numbers. */
static void test_report(void)
{
    tdi_err e = {0};
    tdi_gen_bundle b;
    tdi_gen_circuit *c = build("name: two4\ncircuit:\n  skip: twobus\n", SCR "/two4", &b, &e);
    if (!tdi_check_ok(c ? 0 : -1, &e, "circuit for the report"))
        return;
    tdi_cosim_realised r;
    double *G = NULL;
    int rc = tdi_cosim_realised_run(c, &r, &G, &e);
    tdi_check_ok(rc, &e, "extraction + comparison");
    if (!rc) {
        tdi_json *root = tdi_json_object();
        char *js = NULL, buf[8192] = "";
        tdi_check_ok(tdi_cosim_realised_json(&r, root) ||
                         tdi_json_dump(root, 2, &js, "realised", &e), &e, "realised.json text");
        tdi_json_free(root);
        tdi_check_near(tdi_test_json_num(js, "N"), 8, 0, "realised.json N");
        tdi_check_rel(tdi_test_json_num(js, "delta_V"), 1e-3, 1e-15,
                      "realised.json delta_V");
        TDI_CHECK(tdi_test_json_find(js, "blocks", "block", "cpl_enc_dec") >= 0,
                  "realised.json has the coupling block cpl_enc_dec");
        free(js);
        FILE *f = fmemopen(buf, sizeof buf - 1, "w");
        tdi_cosim_realised_print(&r, f);
        fclose(f);
        tdi_check_contains(buf, "asymmetry", "printed report names the asymmetry");
        printf("%s", buf);
    }
    tdi_cosim_realised_destroy(&r);
    free(G);
    tdi_gen_circuit_free(c);
    tdi_gen_bundle_destroy(&b);
}

/* Efficiency: N = 128 (D = 64 per module, dense skip): time only (no bound: the machine is
 * shared), printed for docs/cosim.md. */
static void test_time_128(void)
{
    tdi_err e = {0};
    if (!tdi_check_ok(tdi_gen_bundle_synth(SCR "/two64", "two64", 64, 16, 0, 1, 5, &e), &e,
                      "bundle D = 64"))
        return;
    tdi_gen_bundle b;
    tdi_gen_circuit *c = build("name: two64\ncircuit:\n  skip: twobus\n", SCR "/two64", &b, &e);
    if (!tdi_check_ok(c ? 0 : -1, &e, "circuit N = 128"))
        return;
    check_ideal("N = 128 twobus", c);
    tdi_gen_circuit_free(c);
    tdi_gen_bundle_destroy(&b);
}

/* bin/tdi-gen --realised: realised.json beside the netlists and the report on stdout; without
 * the option (ideal elements) neither. */
static void test_program(void)
{
    if (tdi_test_write(SCR "/two4.yaml", "name: two4\ncircuit:\n  skip: twobus\n") != 0)
        return;
    int st = system("bin/tdi-gen " SCR "/two4.yaml --bundle " SCR "/two4 --out " SCR
                    "/net-r --realised > " SCR "/gen-r.log 2>&1");
    tdi_check_int(st, 0, "bin/tdi-gen --realised runs");
    char *j = tdi_test_slurp(SCR "/net-r/realised.json");
    TDI_CHECK(j != NULL, "realised.json written with the netlists");
    /* ideal elements: rounding only (see check_ideal) */
    tdi_check_le(j ? tdi_test_json_num(j, "rel_fro") : 1.0, 1e-9,
                 "realised.json rel_fro (ideal)");
    free(j);
    char *log = tdi_test_slurp(SCR "/gen-r.log");
    tdi_check_contains(log ? log : "", "realised matrix (ngspice op, 8 units", "report printed");
    tdi_check_contains(log ? log : "", "wires.json,realised.json}", "first line lists it");
    free(log);
    st = system("bin/tdi-gen " SCR "/two4.yaml --bundle " SCR "/two4 --out " SCR
                "/net-i > " SCR "/gen-i.log 2>&1");
    tdi_check_int(st, 0, "bin/tdi-gen without --realised runs");
    j = tdi_test_slurp(SCR "/net-i/realised.json");
    TDI_CHECK(j == NULL, "ideal elements without --realised: no realised.json");
    free(j);
    /* transistor level: the report on every generation, unless --no-realised */
    if (tdi_test_write(SCR "/two4m.yaml", "name: two4\ncircuit:\n  skip: dense\n"
                       "  devices: mos\n") != 0)
        return;
    st = system("bin/tdi-gen " SCR "/two4m.yaml --bundle " SCR "/two4 --out " SCR
                "/net-m > " SCR "/gen-m.log 2>&1");
    tdi_check_int(st, 0, "bin/tdi-gen at transistor level runs");
    j = tdi_test_slurp(SCR "/net-m/realised.json");
    /* the D = 4 circuit of test_mos: 3.7e-2 measured, bound as there */
    tdi_check_le(j ? tdi_test_json_num(j, "rel_fro") : 1.0, 0.10,
                 "transistor level: realised.json written without asking (rel_fro)");
    free(j);
    log = tdi_test_slurp(SCR "/gen-m.log");
    tdi_check_contains(log ? log : "", "asymmetry |G - G^T|_F", "transistor level: report printed");
    tdi_check_contains(log ? log : "", "device noise: every MOSFET's channel noise sized",
                       "transistor level: device noise sized before the netlists");
    free(log);
    /* the sized noise reaches both netlists: TRNOISE standalone, EXTERNAL in cosim */
    log = tdi_test_slurp(SCR "/net-m/standalone.cir");
    tdi_check_contains(log ? log : "", "\ninmota0_1 ota0_d ota0_t TRNOISE(",
                       "transistor level: device TRNOISE cards in standalone.cir");
    free(log);
    log = tdi_test_slurp(SCR "/net-m/cosim.cir");
    tdi_check_contains(log ? log : "", "\ninmota0_1 ota0_d ota0_t external",
                       "transistor level: device EXTERNAL sources in cosim.cir");
    free(log);
    st = system("bin/tdi-gen " SCR "/two4m.yaml --bundle " SCR "/two4 --out " SCR
                "/net-mn --no-realised > " SCR "/gen-mn.log 2>&1");
    j = tdi_test_slurp(SCR "/net-mn/realised.json");
    TDI_CHECK(st == 0 && j == NULL, "transistor level --no-realised: no realised.json");
    free(j);
}

/* max over units of |(G_ii - gu M_ii) / sum gds at the node - 1|: the diagonal excess is the
 * output conductance of the OTAs driving the unit (gds of their pair and mirror devices whose
 * drain is the unit node) */
static double diag_vs_gds(const tdi_gen_circuit *c, const double *G, const double *gds)
{
    double w = 0;
    for (size_t i = 0; i < c->N; i++) {
        double sg = 0;
        for (size_t k = 0; k < c->n_dev; k++)
            if (strcmp(c->dev[k].d, c->nodes[i].name) == 0)
                sg += gds[k];
        double ex = G[i * c->N + i] - c->phys.gu * c->M[i * c->N + i];
        w = fmax(w, sg > 0 ? fabs(ex / sg - 1) : fabs(ex));
    }
    return w;
}

/* max over OTAs between two units of |G_ij / (gu M_ij) - gm_pair / gm_design| (the OTA's Gm is
 * its pair's gm), and of |G_ij / (gu M_ij) - 1| into *dev */
static double offdiag_vs_gm(const tdi_gen_circuit *c, const double *G, const double *gm,
                            double *dev)
{
    size_t N = c->N;
    double w = 0;
    *dev = 0;
    for (size_t q = 0; q < c->n_ota; q++) {
        const tdi_gen_elem *el = &c->elems[c->ota[q].elem];
        int out = el->a >= 0 ? el->a : el->b;
        if (el->kind != 'G' || out < 0 || (size_t)out >= N || el->c < 0 || (size_t)el->c >= N)
            continue;
        size_t ij = (size_t)out * N + (size_t)el->c;
        double rm = G[ij] / (c->phys.gu * c->M[ij]);
        double rd = 0.5 * (gm[6 * q] + gm[6 * q + 1]) / c->ota[q].gm;
        w = fmax(w, fabs(rm - rd));
        *dev = fmax(*dev, fabs(rm - 1));
    }
    return w;
}

/* Transistor level, D = 4 per module, the shipped card (models/tdi-bsim4.lib), dense couplings
 * (one OTA per off-diagonal entry, resistors for the self terms). */
static void test_mos(void)
{
    tdi_err e = {0};
    tdi_gen_bundle b;
    tdi_gen_circuit *c = build("name: two4\ncircuit:\n  skip: dense\n  devices: mos\n",
                               SCR "/two4", &b, &e);
    if (!tdi_check_ok(c ? 0 : -1, &e, "mos circuit D = 4 builds"))
        return;
    size_t N = c->N, nd = c->n_dev;
    double *G = malloc(N * N * sizeof *G), *G2 = malloc(N * N * sizeof *G2);
    double *gm = malloc(nd * sizeof *gm), *gds = malloc(nd * sizeof *gds);
    double *id = malloc(nd * sizeof *id), *vth = malloc(nd * sizeof *vth);
    tdi_cosim_realised r;
    double *Gr = NULL;
    int rc = tdi_cosim_realised_run(c, &r, &Gr, &e);
    if (tdi_check_ok(rc, &e, "mos: extraction + comparison")) {
        memcpy(G, Gr, N * N * sizeof *G);
        tdi_cosim_realised_print(&r, stdout);
        /* the OTAs' |gm| comes from a gm/ID table at one VDS (a few % off at the real op) and
           every unit carries the output conductance of the OTAs driving it (~1% of gm each);
           a missing OTA or a wrong sign would put its block near 100% */
        tdi_check_le(r.rel_fro, 0.10, "mos: |G - gu M|_F / |gu M|_F (sizing + output conductance)");
        /* no mismatch: the OTAs of M_ij and M_ji are the same devices at the same bias; the op
           converges to ~1e-9 */
        tdi_check_le(r.asym, 1e-6, "mos: asymmetry without mismatch");
        TDI_CHECK(r.diag_mean > 0, "mos: output conductance adds to every self term (mean > 0)");
    }
    tdi_cosim_realised_destroy(&r);
    free(Gr);
    rc = tdi_cosim_mos_op_full(c, gm, gds, id, vth, &e);
    if (tdi_check_ok(rc, &e, "mos: device operating points")) {
        /* 5T OTA: output conductance gds_pair + gds_mirror, up to the tail's feedback
           (~gds/gm ~ 1%) */
        tdi_check_le(diag_vs_gds(c, G, gds), 0.05, "mos: diagonal excess = sum of gds at the "
                     "unit node (max rel)");
        double dev = 0, w = offdiag_vs_gm(c, G, gm, &dev);
        /* Gm of a 5T OTA is its pair's gm up to the mirror's finite gain and output resistance
           (a few %) */
        tdi_check_le(w, 0.05, "mos: G_ij / (gu M_ij) = the OTA pair's gm / design gm (max abs)");
        printf("  off-diagonal: max |G_ij / (gu M_ij) - 1| = %.4e\n", dev);
        double gmax = 0, idmax = 0;
        for (size_t k = 0; k < nd; k++) { /* the op against the design sizing */
            gmax = fmax(gmax, fabs(gm[k] / c->dev[k].gm - 1));
            idmax = fmax(idmax, fabs(id[k] / c->dev[k].id - 1));
        }
        /* mos_op reads the devices it names: each near its design value (the design sizes from
           a gm/ID table at one VDS; measured up to 23% off at the real op); a wrong device or
           parameter would be off by orders of magnitude */
        tdi_check_le(gmax, 0.5, "mos_op: every device's gm within 50% of its design gm");
        tdi_check_le(idmax, 0.5, "mos_op: every device's id within 50% of its design id");
        printf("  mos_op against the design: max |gm/gm_design - 1| %.4f, |id/id_design - 1| "
               "%.4f\n", gmax, idmax);
        printf("  %s: gm %.4e S gds %.4e S id %.4e A vth %.4f V\n", c->dev[0].name, gm[0],
               gds[0], id[0], vth[0]);
    }
    tdi_cosim_extract_opt o;
    tdi_cosim_extract_defaults(c, &o);
    o.central = !o.central;
    rc = tdi_cosim_extract_g_ex(c, &o, G2, NULL, NULL, &e);
    /* the curvature of a balanced pair over 1 mV: measured 5.6e-5 of max |G|; far below the
       design error it reports */
    tdi_check_le(rc ? 1.0 : tdi_test_rel_diff(G2, G, N * N), 1e-3, "mos: one-sided and central agree");
    free(G);
    free(G2);
    free(gm);
    free(gds);
    free(id);
    free(vth);
    tdi_gen_circuit_free(c);
    tdi_gen_bundle_destroy(&b);
}

/* Mismatch makes the realised matrix non-reciprocal; a card that does not load is a clear
 * error. */
static void test_mos_errors(void)
{
    tdi_err e = {0};
    tdi_gen_bundle b;
    tdi_gen_circuit *c = build("name: two4\ncircuit:\n  skip: dense\n  devices: mos\n"
                               "  mos_mismatch: true\n", SCR "/two4", &b, &e);
    if (tdi_check_ok(c ? 0 : -1, &e, "mos circuit with mismatch builds")) {
        tdi_cosim_realised r;
        int rc = tdi_cosim_realised_run(c, &r, NULL, &e);
        tdi_check_ok(rc, &e, "mos mismatch: extraction");
        /* Pelgrom offsets at W L ~ 0.2 um^2 change each OTA's gm by percents independently */
        TDI_CHECK(!rc && r.asym > 1e-3, "mos mismatch: asymmetry |G - G^T| / |G| > 1e-3");
        printf("  mismatch: rel_fro %.4e asymmetry %.4e\n", r.rel_fro, r.asym);
        tdi_cosim_realised_destroy(&r);
        tdi_gen_circuit_free(c);
        tdi_gen_bundle_destroy(&b);
    }
    /* a card without the PMOS model: ngspice refuses the deck */
    if (tdi_test_write(SCR "/nopmos.lib", "* no pmos here\n.model tdi_nmos nmos level=54 "
                       "version=4.8.2\n") != 0)
        return;
    c = build("name: two4\ncircuit:\n  skip: dense\n  devices: mos\n  mos_lib: " SCR
              "/nopmos.lib\n", SCR "/two4", &b, &e);
    if (!tdi_check_ok(c ? 0 : -1, &e, "mos circuit on a card without tdi_pmos builds"))
        return;
    double G[64];
    int rc = tdi_cosim_extract_g(c, G, &e);
    tdi_check_int(rc, TDI_ESPICE, "a card without the PMOS model: TDI_ESPICE");
    tdi_check_contains(e.msg, "realised-matrix extraction", "the message says what failed");
    tdi_check_contains(e.msg, "tdi_pmos", "the message has ngspice's text (the model name)");
    tdi_gen_circuit_free(c);
    tdi_gen_bundle_destroy(&b);
}

int main(void)
{
    if (system("rm -rf " SCR " && mkdir -p " SCR) != 0)
        return 1;
    test_two_module();
    test_three_module();
    test_hold_text();
    test_report();
    test_program();
    test_mos();
    test_mos_errors();
    test_time_128();
    TDI_TEST_END();
}
