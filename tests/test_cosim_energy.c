/* test_cosim_energy: the energy ledger's circuit and baseline terms. A hand-written 2-unit
 * netlist with one bus node: its read-back resistors (unit resistors and the bus resistor as a
 * row over the unit voltages), E_R at equilibrium (analytic engine) and along a waveform (sde)
 * against the hand formula; the rlc rate term of one tick; a negative resistor counted as an
 * active cell; the bus resistors of a generated shared-bus circuit; the digital-equivalent MAC and read counts (paper, skip full, skip projected) and
 * its precomputed matrix reproducing the bundle's equilibria. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "tdi_cosim.h"
#include "tdi_gen.h"
#include "tdi_io.h"
#include "tdi_test.h"
#include "tdi_test_job.h"

#define SCR "build/test-cosim-energy"

/* Hand circuit (S): unit resistors gx, gy to ground; bus node b with gb to ground, fed by
 * g1 v_x + g2 v_y, so v_b = (g1 v_x + g2 v_y) / gb; the bus drives the units back with g3, g4
 * (g3 g2 = g4 g1: symmetric K). */
static const double gx = 1e-6, gy = 2e-6, gb = 1e-6, g1 = 0.5e-6, g2 = 0.25e-6, g3 = 0.5e-6,
                    g4 = 0.25e-6;

static const char *hand_netlist =
    "* two units, one bus node\n"
    ".subckt unit_rc x\nC1 x 0 1p\n.ends unit_rc\n"
    "Xx0 x0 unit_rc\nXy0 y0 unit_rc\n"
    "Rx x0 0 1meg\n"       /* gx = 1 uS */
    "Ry y0 0 500k\n"       /* gy = 2 uS */
    "Rb b 0 1meg\n"        /* gb = 1 uS */
    "G1 0 b x0 0 0.5u\n"   /* injects g1 v_x into b */
    "G2 0 b y0 0 0.25u\n"
    "G3 x0 0 b 0 0.5u\n"   /* removes g3 v_b from x0 */
    "G4 y0 0 b 0 0.25u\n"
    ".end\n";

static double hand_power(double vx, double vy)
{
    double vb = (g1 * vx + g2 * vy) / gb;
    return gx * vx * vx + gy * vy * vy + gb * vb * vb;
}

static void check_readback(tdi_gen_readback *rb, tdi_err *err)
{
    int rc = tdi_gen_readback_parse(hand_netlist, "x", "y", rb, err);
    if (!tdi_check_ok(rc, err, "hand netlist reads back"))
        return;
    tdi_check_int((long long)rb->n_bus, 1, "one bus node eliminated");
    /* K = diag(gx, gy) + [g3; g4] [g1 g2] / gb; values are exact binary fractions of 1e-6:
       rounding only (1e-9 relative) */
    tdi_check_rel(rb->K[0], gx + g3 * g1 / gb, 1e-9, "K[x,x] = gx + g3 g1 / gb");
    tdi_check_rel(rb->K[1], g3 * g2 / gb, 1e-9, "K[x,y] = g3 g2 / gb");
    tdi_check_rel(rb->K[3], gy + g4 * g2 / gb, 1e-9, "K[y,y] = gy + g4 g2 / gb");
    tdi_check_rel(rb->R_unit[0], gx, 1e-9, "unit resistor x0 (S)");
    tdi_check_rel(rb->R_unit[1], gy, 1e-9, "unit resistor y0 (S)");
    tdi_check_int((long long)rb->n_rmap, 1, "one resistor off the units: the bus resistor");
    tdi_check_int((long long)rb->n_r_unmapped, 0, "no resistor left uncounted");
    if (rb->n_rmap == 1) {
        tdi_check_rel(rb->R_g[0], gb, 1e-9, "bus resistor (S)");
        tdi_check_rel(rb->R_map[0], g1 / gb, 1e-9, "bus voltage per volt of x0");
        tdi_check_rel(rb->R_map[1], g2 / gb, 1e-9, "bus voltage per volt of y0");
    }
}

static tdi_cosim_circuit *hand_circuit(const tdi_gen_readback *rb, tdi_err *err)
{
    tdi_cosim_circuit *c = tdi_cosim_circuit_alloc(2, err);
    if (!c)
        return NULL;
    memcpy(c->G, rb->K, 4 * sizeof(double));
    for (size_t i = 0; i < 2; i++) {
        c->cap[i] = 1e-12;
        c->g_noise[i] = 1e-6;
        tdi_cosim_circuit_set_names(c, i, i ? "y0" : "x0", i ? "ibias_y0" : "ibias_x0", NULL,
                                    err);
    }
    c->temp = 300;
    if (tdi_cosim_circuit_take_resistors(c, rb, 0, err)) {
        tdi_cosim_circuit_free(c);
        return NULL;
    }
    return c;
}

/* E_R of the analytic engine (equilibrium power x sample time) and of the sde engine (noiseless,
 * its waveform integrated with the hand formula by the trapezoid rule). */
static void check_energy(const tdi_cosim_circuit *c, tdi_err *err)
{
    const double vs[2] = {0.2, -0.1}, tau = 1e-12 / 1e-6, h = tau / 20;
    double ib[2] = {c->G[0] * vs[0] + c->G[1] * vs[1], c->G[2] * vs[0] + c->G[3] * vs[1]};
    size_t read[2] = {0, 1};
    tdi_cosim_plan pl = {.n_samples = 1, .bias = ib, .n_read = 2, .read = read, .tick = h,
                         .settle_ticks = 300, .avg_ticks = 100, .batch = 1, .adc_stride = 1,
                         .seed = 1, .noise = 0, .n_wave = 2, .wave = read, .wave_every = 1,
                         .wave_ticks = 400};
    /* 4e-8 + 2e-8 + 1e-6 (0.1 - 0.025)^2 = 6.5625e-8 W over 400 ticks */
    double P = hand_power(vs[0], vs[1]);
    tdi_check_rel(P, 6.5625e-8, 1e-12, "hand power at v* (W)");
    tdi_cosim_out o;
    int rc = tdi_cosim_exp_run(TDI_COSIM_ANALYTIC, c, &pl, &o, err);
    tdi_check_int(rc, 0, "analytic run");
    if (!rc) /* the solve is exact to rounding: 1e-9 relative */
        tdi_check_rel(o.e_r[0], P * 400 * h, 1e-9, "analytic E_R = (unit + bus resistors) x T");
    tdi_cosim_out_destroy(&o);
    rc = tdi_cosim_exp_run(TDI_COSIM_SDE, c, &pl, &o, err);
    tdi_check_int(rc, 0, "sde run");
    if (!rc) {
        double e = 0;
        for (size_t r = 1; r < o.wave_rows; r++)
            e += 0.5 * h * (hand_power(o.wave[(r - 1) * 3 + 1], o.wave[(r - 1) * 3 + 2]) +
                            hand_power(o.wave[r * 3 + 1], o.wave[r * 3 + 2]));
        tdi_check_int((long long)o.wave_rows, 401, "sde waveform: every tick");
        /* the same trapezoid of the same waveform: rounding only */
        tdi_check_rel(o.e_r[0], e, 1e-9, "sde E_R = trapezoid of the hand power");
        /* the bus resistor's share is not negligible here: without it E_R would drop by
           gb v_b^2 / P = 5.625e-9 / 6.5625e-8 = 8.6% at equilibrium */
        tdi_check_le(o.e_r[0] - 0.9 * P * 400 * h, 0.1 * P * 400 * h,
                     "sde E_R within the equilibrium value (transient from rest costs less)");
        TDI_CHECK(o.e_r[0] > 0.7 * P * 400 * h, "sde E_R: the settled 3/4 of the run dominates");
    }
    tdi_cosim_out_destroy(&o);

    /* the batched sde path (samples as matrix columns) integrates E_R per column like one run
       per sample: 2 samples with different biases (a power cached across columns would mix
       them), each from rest; GEMM vs one-sample rounding: 1e-9 */
    double ib2[4] = {ib[0], ib[1], -0.5 * ib[0], 2 * ib[1]};
    tdi_cosim_plan p2 = pl;
    p2.n_samples = 2;
    p2.bias = ib2;
    p2.batch = 0;
    p2.n_wave = 0;
    tdi_cosim_out ob, op;
    int rb = tdi_cosim_exp_run(TDI_COSIM_SDE, c, &p2, &ob, err);
    p2.sde_per_run = 1;
    int rp = tdi_cosim_exp_run(TDI_COSIM_SDE, c, &p2, &op, err);
    tdi_check_int(rb || rp, 0, "sde: batched and per-run schedules run");
    if (!rb && !rp) {
        tdi_check_rel(ob.e_r[0], op.e_r[0], 1e-9, "sde E_R: batched column 0 = its own run");
        tdi_check_rel(ob.e_r[1], op.e_r[1], 1e-9, "sde E_R: batched column 1 = its own run");
    }
    if (!rb)
        tdi_cosim_out_destroy(&ob);
    if (!rp)
        tdi_cosim_out_destroy(&op);
}

static void check_rate_and_negative(tdi_err *err)
{
    double M[4] = {1, 0, 0, 1};
    tdi_cosim_circuit *c = tdi_cosim_circuit_direct(2, M, 1e-12, 1e-6, 300, err);
    if (!c)
        return;
    c->r_rate[0] = c->r_rate[1] = 2.0;
    double v0[2] = {0, 0}, v1[2] = {0.1, 0}, h = 0.5;
    double p0 = tdi_cosim_resistor_power(c, v0), p1 = tdi_cosim_resistor_power(c, v1);
    tdi_check_rel(p1, 1e-6 * 0.01, 1e-12, "direct circuit: gu M_ii v^2 (W)");
    /* 0.5 h (p0 + p1) + r_rate (dv)^2 / h = 0.25 * 1e-8 + 2 * 0.01 / 0.5 */
    tdi_check_rel(tdi_cosim_resistor_tick(c, v0, p0, v1, p1, h), 0.25e-8 + 0.04, 1e-12,
                  "one tick: trapezoid + rlc rate term (J)");
    tdi_cosim_circuit_free(c);

    /* a negative resistor is an active cell: not in E_R, counted with the transconductors */
    tdi_gen_readback rb;
    const char *neg = ".subckt unit_rc x\nC1 x 0 1p\n.ends unit_rc\nXx0 x0 unit_rc\n"
                      "Xy0 y0 unit_rc\nRx x0 0 1meg\nRy y0 0 -2meg\n.end\n";
    int rc = tdi_gen_readback_parse(neg, "x", "y", &rb, err);
    tdi_check_int(rc, 0, "netlist with a negative resistor reads back");
    if (rc)
        return;
    c = tdi_cosim_circuit_alloc(2, err);
    rc = c ? tdi_cosim_circuit_take_resistors(c, &rb, 0, err) : -1;
    tdi_check_int(rc, 0, "negative resistor taken");
    if (!rc) {
        tdi_check_near(c->r_unit[1], 0, 0, "negative resistor: no dissipation term");
        tdi_check_rel(c->sum_gm, 0.5e-6, 1e-9, "negative resistor: |g| added to sum_gm");
        tdi_check_int((long long)c->n_vccs, 1, "negative resistor: counted as a VCCS");
    }
    tdi_cosim_circuit_free(c);
    tdi_gen_readback_destroy(&rb);
}

/* A generated circuit (synthetic bundle, D = 6, shared-bus skip at k = 2, dense intra): the
 * read-back finds the 2 bus resistors (gu each) besides the 12 unit resistors, and each bus
 * voltage is a unit-norm projection of the unit voltages (tdi_gen.h: sk_l = (P_l^T x +
 * Q_l^T y) / a_l with a_l = |[P_l; Q_l]|): |r_map row| = 1 to rounding. */
static void check_generated(tdi_err *err)
{
    tdi_mkdirs(SCR "/gen", err);
    if (tdi_cosim_synth_bundle(SCR "/gen/substrate", 6, 2, 2, 5, 0, 0.0, err)) {
        printf("  %s\n", err->msg);
        return;
    }
    tdi_gen_config g;
    tdi_gen_config_init(&g);
    snprintf(g.name, sizeof g.name, "t");
    tdi_gen_bundle b;
    tdi_gen_circuit *gc = NULL;
    tdi_cosim_circuit *c = NULL;
    int rc = tdi_gen_bundle_read(SCR "/gen/substrate", &b, err), have_b = rc == 0;
    if (!rc)
        rc = tdi_gen_circuit_build(&g, &b, &gc, err);
    if (!rc)
        rc = tdi_cosim_circuit_from_gen(gc, gc->phys.noise_dt, 100 * gc->phys.noise_dt, &c, err);
    tdi_check_int(rc, 0, "generated shared-bus circuit read back");
    if (!rc) {
        size_t neg = 0; /* negative self terms became transconductors */
        for (size_t i = 0; i < c->n; i++)
            neg += c->r_unit[i] == 0;
        tdi_check_int((long long)(c->n_res + neg), 12 + 2, "resistors: 12 self terms + 2 bus");
        tdi_check_int((long long)c->n_rmap, 2, "two bus resistors (k = 2)");
        double nmax = 0;
        for (size_t r = 0; r < c->n_rmap; r++) {
            double q = 0;
            for (size_t j = 0; j < c->n; j++)
                q += c->r_map[r * c->n + j] * c->r_map[r * c->n + j];
            nmax = fmax(nmax, fabs(sqrt(q) - 1.0));
            tdi_check_rel(c->r_g[r], gc->phys.gu, 1e-9, "bus resistor = gu");
        }
        tdi_check_le(nmax, 1e-9, "bus voltage rows have unit norm (rounding)");
    }
    tdi_cosim_circuit_free(c);
    tdi_gen_circuit_free(gc);
    if (have_b)
        tdi_gen_bundle_destroy(&b);
}

/* The digital-equivalent counts through the whole job (analytic engine only) on synthetic
 * bundles, D = 6, k = 2, and its matrix against the bundle's equilibria. */
static void check_digeq(tdi_err *err)
{
    const size_t D = 6, k = 2;
    tdi_cosim_digeq q;
    tdi_check_int(tdi_cosim_digeq_count(64, 16, 0, &q, err), 0, "paper counts at D = 64");
    /* 40 D = 2,560 interface MACs + D x 2D = 8,192: 10,752 */
    tdi_check_int(q.iface_macs + q.matvec_macs, 10752, "paper, D = 64: interface + matvec MACs");
    tdi_check_int(tdi_cosim_digeq_count(6, 0, 2, &q, err), TDI_EARG,
                  "projected skip with k = 0: TDI_EARG");
    /* mode: expected interface MACs, matvec MACs, weight reads of both */
    const struct { int skip; long im, mm, reads; } cases[3] = {
        {0, 40 * 6, 2 * 36, 40 * 6 + 4 + 6 + 16 + 6 + 2 * 36},
        {1, 36, 36, 36 + 36 + 6},
        {2, 2 * 6 * 2, 36, 24 + 36 + 6}};
    for (int m = 0; m < 3; m++) {
        char root[128], dir[160], path[200], nm[160];
        snprintf(root, sizeof root, SCR "/b%d", m);
        snprintf(dir, sizeof dir, "%s/substrate", root);
        if (tdi_test_job_bundle(root, D, k, 4, 7, cases[m].skip, err))
            continue;
        tdi_cosim_cfg cfg;
        tdi_cosim_summary sum;
        int rc = tdi_test_job_config(root, "circuit:\n  avg_relax: 5\n  samples: [0]\ncosim:\n"
                                     "  n_samples: 4\n  sde: false\n  spice: false\n"
                                     "  progress: false\nenergy:\n  mac: 4.0e-12\n"
                                     "  weight_read: 1.0e-11\n", &cfg, err);
        if (!rc)
            rc = tdi_cosim_app_run_ex(&cfg, NULL, &sum, NULL, err);
        snprintf(nm, sizeof nm, "mode %d: job runs", m);
        if (!tdi_check_ok(rc, err, nm))
            continue;
        snprintf(nm, sizeof nm, "mode %d: interface MACs", m);
        tdi_check_int(sum.digeq.iface_macs, cases[m].im, nm);
        snprintf(nm, sizeof nm, "mode %d: matvec MACs", m);
        tdi_check_int(sum.digeq.matvec_macs, cases[m].mm, nm);
        snprintf(nm, sizeof nm, "mode %d: weight reads", m);
        tdi_check_int(sum.digeq.iface_reads + sum.digeq.matvec_reads, cases[m].reads, nm);
        snprintf(nm, sizeof nm, "mode %d: E_digeq = MACs x 4 pJ + reads x 10 pJ", m);
        tdi_check_rel(sum.E_digeq, (double)(cases[m].im + cases[m].mm) * 4e-12 +
                      (double)cases[m].reads * 1e-11, 1e-12, nm);
        snprintf(nm, sizeof nm, "mode %d: ratio = E_total / E_digeq", m);
        tdi_check_rel(sum.ratio_digeq, sum.E_total / sum.E_digeq, 1e-12, nm);
        snprintf(path, sizeof path, "%s/cosim/results.json", root);
        char *js = tdi_test_slurp(path);
        snprintf(nm, sizeof nm, "mode %d: results.json carries the digital-equivalent energy", m);
        tdi_check_rel(tdi_test_json_num(js, "energy.digital_equivalent.interface_macs") +
                          tdi_test_json_num(js, "energy.digital_equivalent.matvec_macs"),
                      (double)(cases[m].im + cases[m].mm),
                      1e-12, nm);
        free(js);
        /* the precomputed matrix gives the bundle's equilibria (y* = [M^-1]_y b): rounding */
        tdi_gen_bundle b;
        if (tdi_gen_bundle_read(dir, &b, err))
            continue;
        double W[6 * 12], dmax = 0;
        if (!tdi_cosim_digeq_matrix(b.M, D, W, err))
            for (size_t s = 0; s < b.n; s++)
                for (size_t i = 0; i < D; i++) {
                    double y = 0;
                    for (size_t j = 0; j < D; j++)
                        y += W[i * 2 * D + j] * b.b_enc[s * D + j] +
                             W[i * 2 * D + D + j] * b.b_dec[s * D + j];
                    dmax = fmax(dmax, fabs(y - b.analytic[s * D + i]));
                }
        snprintf(nm, sizeof nm, "mode %d: [M^-1]_y b = the bundle's equilibria", m);
        tdi_check_le(dmax, 1e-10, nm);
        tdi_gen_bundle_destroy(&b);
    }
}

int main(void)
{
    gsl_set_error_handler_off();
    tdi_err err = {0};
    tdi_mkdirs(SCR, &err);
    tdi_gen_readback rb;
    memset(&rb, 0, sizeof rb);
    check_readback(&rb, &err);
    if (rb.K) {
        tdi_cosim_circuit *c = hand_circuit(&rb, &err);
        TDI_CHECK(c != NULL, "hand circuit built");
        if (c)
            check_energy(c, &err);
        tdi_cosim_circuit_free(c);
    }
    tdi_gen_readback_destroy(&rb);
    check_rate_and_negative(&err);
    check_generated(&err);
    check_digeq(&err);
    TDI_TEST_END();
}
