/* test_mos_trim: the offset trim (circuit.mos_trim; docs/devices.md "Offset trim"): none is the
 * default and leaves the hash and every netlist as they were; a bad value or ideal elements are
 * config errors naming the key; on a D = 4 circuit with the shipped card the residual rest
 * currents after an ideal trim fall below 1e-3 of the untrimmed rms, after a dac trim within
 * LSB/2 per unit; the realised G is the untrimmed one; the rest op's Vdd power rises by
 * sum |I_trim| Vdd; the hierarchy and a mismatch chip trim the same way (per chip), and so does
 * a circuit whose self terms were compensated first (the trim measures the rebuilt devices).
 * Scratch: build/test-mos-trim/. */
#include <gsl/gsl_errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_cosim.h"
#include "tdi_gen.h"
#include "tdi_test.h"
#include "tdi_test_gen.h"
#include "tdi_test_mat.h"

#define SCR "build/test-mos-trim"
#define BASE "seed: 7\nname: trim\ncircuit:\n  devices: mos\n  samples: [0]\n"

static tdi_gen_circuit *build(const char *extra, tdi_gen_bundle *b, tdi_err *e)
{
    char y[800];
    snprintf(y, sizeof y, "seed: 7\nname: trim\ncircuit:\n  devices: mos\n  samples: [0]\n"
             "  intra: dense\n  skip: sharedbus\n  noise: false\n%s", extra ? extra : "");
    return tdi_test_gen_build(y, SCR "/d4", b, NULL, e);
}

static double rms(const double *a, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * a[i];
    return sqrt(s / (double)n);
}

/* The realised matrix of c by route m (LINEAR: one op, with the rails' power; PERTURB: 1 + N
 * ops of the netlist itself, every card included): G (malloc'd into *G when G), i_rest. */
static int measure_by(const tdi_gen_circuit *c, int m, tdi_cosim_realised *r, double **G,
                      tdi_err *e)
{
    memset(r, 0, sizeof *r);
    return tdi_cosim_realised_run_ex(c, m, r, G, e);
}

static int measure(const tdi_gen_circuit *c, tdi_cosim_realised *r, double **G, tdi_err *e)
{
    return measure_by(c, TDI_COSIM_REALISED_LINEAR, r, G, e);
}

/* ---------- 1. the keys ---------- */
static void test_keys(void)
{
    tdi_gen_config a, b;
    tdi_err e = {0};
    char y[400];
    tdi_gen_config_init(&a);
    tdi_gen_config_init(&b);
    snprintf(y, sizeof y, "%s  mos_trim: none\n", BASE);
    int rc = tdi_gen_config_load_string("a.yaml", BASE, &a, &e) ||
             tdi_gen_config_load_string("b.yaml", y, &b, &e);
    if (!tdi_check_ok(rc, &e, "configs load"))
        return;
    TDI_CHECK(a.hash == b.hash && strcmp(a.mos_trim, "none") == 0 && a.mos_trim_bits == 8,
              "mos_trim: none is the default (8 bits) and leaves the config hash as it was");
    snprintf(y, sizeof y, "%s  mos_trim: dac\n", BASE);
    rc = tdi_gen_config_load_string("c.yaml", y, &b, &e);
    TDI_CHECK(rc == 0 && b.hash != a.hash, "mos_trim: dac enters the hash");
    const char *bad[][2] = {
        {"  mos_trim: half\n", "circuit.mos_trim"},
        {"  mos_trim: dac\n  mos_trim_bits: 1\n", "circuit.mos_trim_bits"},
        {"  mos_trim: dac\n  mos_trim_passes: 4\n", "circuit.mos_trim_passes"},
        {"  mos_trim: dac\n  mos_trim_fs: -1e-9\n", "circuit.mos_trim_fs"}};
    for (size_t q = 0; q < sizeof bad / sizeof bad[0]; q++) {
        tdi_gen_config_init(&b);
        snprintf(y, sizeof y, "%s%s", BASE, bad[q][0]);
        rc = tdi_gen_config_load_string("bad.yaml", y, &b, &e);
        char name[96];
        snprintf(name, sizeof name, "a bad value is a config error naming %s", bad[q][1]);
        TDI_CHECK(rc == TDI_ECONFIG && strstr(e.msg, bad[q][1]) && strstr(e.msg, "bad.yaml"),
                  name);
        printf("  %s\n", e.msg);
    }
    tdi_gen_config_init(&b);
    rc = tdi_gen_config_load_string("d.yaml", "seed: 7\nname: trim\ncircuit:\n  samples: [0]\n"
                                    "  mos_trim: ideal\n", &b, &e);
    TDI_CHECK(rc == TDI_ECONFIG && strstr(e.msg, "circuit.mos_trim"),
              "mos_trim with devices: ideal: a config error naming the key");
}

/* ---------- 2. none: every netlist as before ---------- */
static void test_none(void)
{
    tdi_gen_bundle b0, b1;
    tdi_err e = {0};
    tdi_gen_circuit *c0 = build(NULL, &b0, &e);
    tdi_gen_circuit *c1 = c0 ? build("  mos_trim: none\n", &b1, &e) : NULL;
    if (!tdi_check_ok(c0 && c1 ? 0 : -1, &e, "D = 4 circuits build (no key, none)"))
        return;
    int rc = tdi_cosim_mos_calibrate(c1, &e);
    TDI_CHECK(rc == 0 && c1->trim == NULL, "none: the calibration measures and applies nothing");
    const tdi_gen_mode modes[3] = {TDI_GEN_STANDALONE, TDI_GEN_COSIM, TDI_GEN_HOLD};
    int same = 1, clean = 1;
    for (int m = 0; m < 3; m++) {
        char *s0 = tdi_test_gen_text(c0, modes[m], &e), *s1 = tdi_test_gen_text(c1, modes[m], &e);
        same &= s0 && s1 && strcmp(s0, s1) == 0;
        clean &= s1 && !strstr(s1, "offset trim") && !strstr(s1, "Itrim"); /* not "trim": a path */
        free(s0);
        free(s1);
    }
    TDI_CHECK(same, "none: standalone, cosim and hold texts byte-identical to the keyless config");
    TDI_CHECK(clean, "none: no trim card or note in any netlist");
    tdi_gen_circuit_free(c1);
    tdi_gen_bundle_destroy(&b1);
    tdi_gen_circuit_free(c0);
    tdi_gen_bundle_destroy(&b0);
}

/* ---------- 3. ideal: the residual, G, the Vdd power, the cards ---------- */
static void test_ideal(void)
{
    tdi_gen_bundle b0, b1;
    tdi_err e = {0};
    tdi_gen_circuit *off = build(NULL, &b0, &e);
    tdi_gen_circuit *on = off ? build("  mos_trim: ideal\n", &b1, &e) : NULL;
    if (!tdi_check_ok(off && on ? 0 : -1, &e, "D = 4 circuits build (none, ideal)"))
        return;
    tdi_cosim_realised r0, r1, p0 = {0}, p1 = {0};
    double *G0 = NULL, *G1 = NULL;
    int rc = measure(off, &r0, NULL, &e);
    rc = rc ? rc : measure_by(off, TDI_COSIM_REALISED_PERTURB, &p0, &G0, &e);
    rc = rc ? rc : tdi_cosim_mos_trim(on, &e);
    if (!tdi_check_ok(rc, &e, "the untrimmed op, then the trim's op"))
        goto out;
    size_t N = on->N;
    const tdi_gen_mos_trim *t = on->trim;
    if (!TDI_CHECK(t != NULL, "tdi_cosim_mos_trim applied a trim"))
        goto out;
    tdi_check_int(t->passes, 1, "one pass (mos_trim_passes default)");
    /* the trim's own op is the untrimmed circuit's: the same hold text, the same op */
    tdi_check_le(tdi_test_rel_diff(t->i_first, r0.i_rest, N), 1e-12,
                 "the trim measured the untrimmed rest currents (= the extraction's op)");
    rc = measure(on, &r1, NULL, &e);
    rc = rc ? rc : measure_by(on, TDI_COSIM_REALISED_PERTURB, &p1, &G1, &e);
    if (!tdi_check_ok(rc, &e, "the trimmed circuit's ops (linearised and perturbative)"))
        goto out;
    double res = rms(r1.i_rest, N);
    printf("  ideal: rest currents rms %.4e A -> residual %.4e A (%.2e of it); trim sum |I| Vdd "
           "%.6e W; Vdd %.9e -> %.9e W\n", t->first_rms, res, res / t->first_rms, t->power_W,
           r0.op_supply_W[0], r1.op_supply_W[0]);
    /* ideal sources at held nodes enter only the hold sources' currents: what remains is
       ngspice's op precision on i(vh), orders below 1e-3 (a dac's 10-bit step is 1e-3 of the
       full scale) */
    tdi_check_le(res, 1e-3 * t->first_rms, "ideal: residual rms < 1e-3 of the untrimmed rms");
    tdi_check_le(0.1e-9, t->first_rms, "the untrimmed rest currents it removes (> 0.1 nA rms)");
    /* G by perturbing the netlist itself (every card, the trim's included): ideal current
       sources add no conductance and the devices' op does not see them (the held nodes take
       their current), so the same ops to rounding */
    printf("  G (perturbative) trimmed vs untrimmed: max |dG| / max |G| %.3e\n",
           tdi_test_rel_diff(G1, G0, N * N));
    tdi_check_le(tdi_test_rel_diff(G1, G0, N * N), 1e-12, "G unchanged by the trim");
    /* every cell draws |I| from vdd; the devices' currents do not move. 1e-6 of the trim's
       power: the op's precision on i(vdd), whose 4.6e-7 W is 80x the trim's */
    tdi_check_near(r1.op_supply_W[0] - r0.op_supply_W[0], t->power_W, 1e-6 * t->power_W,
                   "the rest op's Vdd power rises by sum |I_trim| Vdd");
    tdi_check_near(r1.op_supply_W[1], r0.op_supply_W[1], 1e-9 * r0.op_supply_W[1],
                   "Vbias power unchanged by the trim");
    char *sa = tdi_test_gen_text(on, TDI_GEN_STANDALONE, &e);
    char *co = tdi_test_gen_text(on, TDI_GEN_COSIM, &e);
    char want[160];
    if (t->i_trim[0] < 0)
        snprintf(want, sizeof want, "Itrim_x0 x0 0 DC %.15g\nItrimr_x0 vdd 0 DC %.15g\n",
                 -t->i_trim[0], -t->i_trim[0]);
    else
        snprintf(want, sizeof want, "Itrim_x0 vdd x0 DC %.15g\n", t->i_trim[0]);
    TDI_CHECK(sa && co && strstr(sa, want) && strstr(co, want),
              "standalone and cosim texts carry unit x0's trim cell");
    free(sa);
    free(co);
out:
    free(G0);
    free(G1);
    tdi_cosim_realised_destroy(&r0);
    tdi_cosim_realised_destroy(&r1);
    tdi_cosim_realised_destroy(&p0);
    tdi_cosim_realised_destroy(&p1);
    tdi_gen_circuit_free(on);
    tdi_gen_bundle_destroy(&b1);
    tdi_gen_circuit_free(off);
    tdi_gen_bundle_destroy(&b0);
}

/* ---------- 4. dac: within LSB/2 per unit ---------- */
static void test_dac(void)
{
    tdi_gen_bundle b;
    tdi_err e = {0};
    tdi_gen_circuit *c = build("  mos_trim: dac\n  mos_trim_bits: 5\n", &b, &e);
    if (!tdi_check_ok(c ? 0 : -1, &e, "D = 4 circuit builds (dac, 5 bits)"))
        return;
    tdi_cosim_realised r = {0};
    int rc = tdi_cosim_mos_trim(c, &e);
    rc = rc ? rc : measure(c, &r, NULL, &e);
    if (!tdi_check_ok(rc, &e, "dac trim and the trimmed op"))
        goto out;
    const tdi_gen_mos_trim *t = c->trim;
    if (!TDI_CHECK(t != NULL, "tdi_cosim_mos_trim applied a dac trim"))
        goto out;
    tdi_check_int(t->code_max, 15, "5 bits: codes +-15");
    tdi_check_near(t->fs, 1.25 * t->first_max, 1e-15 * t->fs, "full scale 1.25 x max |i_rest|");
    int on_grid = 1;
    double worst = 0, ideal = 0;
    for (size_t i = 0; i < c->N; i++) {
        on_grid &= t->i_trim[i] == (double)t->code[i] * t->lsb && labs(t->code[i]) <= 15;
        worst = fmax(worst, fabs(r.i_rest[i]) / t->lsb);
        ideal = fmax(ideal, fabs(t->i_first[i] + t->i_trim[i]) / t->lsb);
    }
    TDI_CHECK(on_grid, "every trim current is its code times the LSB, within the codes");
    printf("  dac 5 bits: LSB %.4e A; max |residual| %.4f LSB (predicted %.4f LSB)\n", t->lsb,
           worst, ideal);
    /* the rounding's LSB/2 plus the op's precision (ideal: < 1e-3 of the rms, a few % of an LSB
       at 5 bits: 1e-3 LSB is ample) */
    tdi_check_le(worst, 0.5 + 1e-3, "dac: |residual| <= LSB/2 at every unit");
    tdi_check_le(1e-2, worst, "dac: the residual is the rounding's (not an ideal trim's)");
out:
    tdi_cosim_realised_destroy(&r);
    tdi_gen_circuit_free(c);
    tdi_gen_bundle_destroy(&b);
}

/* ---------- 5. the hierarchy and a mismatch chip ---------- */
static void test_hier_chip(void)
{
    tdi_gen_bundle bh, b3, b5;
    tdi_err e = {0};
    tdi_gen_circuit *h = build("  mos_trim: ideal\n  hier: true\n", &bh, &e);
    tdi_gen_circuit *c3 = h ? build("  mos_trim: ideal\n  mos_mismatch: true\n  chip: 3\n", &b3,
                                    &e) : NULL;
    tdi_gen_circuit *c5 = c3 ? build("  mos_trim: ideal\n  mos_mismatch: true\n  chip: 5\n", &b5,
                                     &e) : NULL;
    if (!tdi_check_ok(h && c3 && c5 ? 0 : -1, &e, "hierarchical and chip circuits build"))
        goto out;
    tdi_cosim_realised rh = {0}, r3 = {0};
    int rc = tdi_cosim_mos_calibrate(h, &e);
    rc = rc ? rc : tdi_cosim_mos_calibrate(c3, &e);
    rc = rc ? rc : tdi_cosim_mos_calibrate(c5, &e);
    rc = rc ? rc : measure(h, &rh, NULL, &e);
    rc = rc ? rc : measure(c3, &r3, NULL, &e);
    if (!TDI_CHECK(h->trim && c3->trim && c5->trim, "the calibration applied every trim"))
        rc = -1;
    if (!rc && tdi_check_ok(rc, &e, "trimmed (hierarchical, chips 3 and 5) and measured")) {
        char *ht = tdi_test_gen_text(h, TDI_GEN_HOLD, &e);
        TDI_CHECK(ht && strstr(ht, "\nItrim_y3 "), "the hierarchical hold text carries the cells");
        free(ht);
        tdi_check_le(rms(rh.i_rest, h->N), 1e-3 * h->trim->first_rms,
                     "hierarchical: residual rms < 1e-3 of the untrimmed");
        tdi_check_le(rms(r3.i_rest, c3->N), 1e-3 * c3->trim->first_rms,
                     "chip 3: residual rms < 1e-3 of its untrimmed rms");
        printf("  chip 3: rest currents rms %.4e A, chip 5: %.4e A\n", c3->trim->first_rms,
               c5->trim->first_rms);
        /* each chip's own draws: their offsets differ by the mismatch's mV, 10% and more */
        tdi_check_le(0.05, tdi_test_rel_diff(c3->trim->i_trim, c5->trim->i_trim, c3->N),
                     "chips 3 and 5 are trimmed by their own measurements");
    }
    tdi_cosim_realised_destroy(&rh);
    tdi_cosim_realised_destroy(&r3);
out:
    tdi_gen_circuit_free(c5);
    tdi_gen_circuit_free(c3);
    tdi_gen_circuit_free(h);
    if (c5)
        tdi_gen_bundle_destroy(&b5);
    if (c3)
        tdi_gen_bundle_destroy(&b3);
    if (h)
        tdi_gen_bundle_destroy(&bh);
}

/* ---------- 6. after the self-term compensation ---------- */
static void test_with_comp(void)
{
    tdi_gen_bundle b;
    tdi_err e = {0};
    tdi_gen_circuit *c = build("  mos_self_comp: true\n  mos_trim: ideal\n", &b, &e);
    if (!tdi_check_ok(c ? 0 : -1, &e, "D = 4 circuit builds (mos_self_comp and mos_trim)"))
        return;
    tdi_cosim_realised r = {0};
    int rc = tdi_cosim_mos_calibrate(c, &e);
    rc = rc ? rc : measure(c, &r, NULL, &e);
    if (tdi_check_ok(rc, &e, "compensated, then trimmed, then measured") &&
        TDI_CHECK(c->comp && c->trim, "both calibrations applied")) {
        /* the trim measured the rebuilt devices: their residual is as small as without */
        tdi_check_le(rms(r.i_rest, c->N), 1e-3 * c->trim->first_rms,
                     "compensated circuit: residual rms < 1e-3 of its untrimmed rms");
    }
    tdi_cosim_realised_destroy(&r);
    tdi_gen_circuit_free(c);
    tdi_gen_bundle_destroy(&b);
}

int main(void)
{
    gsl_set_error_handler_off();
    tdi_err e = {0};
    if (system("rm -rf " SCR " && mkdir -p " SCR) != 0 ||
        tdi_gen_bundle_synth(SCR "/d4", "trim", 4, 1, 0, 2, 3, &e)) {
        fprintf(stderr, "test_mos_trim: scratch bundle: %s\n", e.msg);
        return 1;
    }
    test_keys();
    test_none();
    test_ideal();
    test_dac();
    test_hier_chip();
    test_with_comp();
    TDI_TEST_END();
}
