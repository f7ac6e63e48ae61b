/* test_mos_comp: the self-term compensation (circuit.mos_self_comp; docs/devices.md "Self-term
 * compensation"): off by default (hash, realisation and element list as before), refused for
 * ideal elements; at D = 16 (intra dense, skip sharedbus, the shipped card) the realised matrix's
 * diagonal error by the linearised route falls below its bound, and at D = 4 by both routes; the
 * element list (the design) is untouched; the compensated resistor's card; a load above a
 * resistor's g is a named shortfall; the hierarchy gives the same compensated matrix.
 * Scratch: build/test-mos-comp/. */
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

#define SCR "build/test-mos-comp"

static tdi_gen_circuit *build(const char *bdir, const char *extra, tdi_gen_bundle *b,
                              tdi_gen_config *cfg, tdi_err *e)
{
    char y[800];
    snprintf(y, sizeof y, "seed: 7\nname: comp\ncircuit:\n  devices: mos\n  samples: [0]\n"
             "  intra: dense\n  skip: sharedbus\n  noise: false\n%s", extra ? extra : "");
    return tdi_test_gen_build(y, bdir, b, cfg, e);
}

/* the realised matrix of c by route m, compared with gu M */
static int realised(const tdi_gen_circuit *c, int m, tdi_cosim_realised *r, tdi_err *e)
{
    memset(r, 0, sizeof *r);
    return tdi_cosim_realised_run_ex(c, m, r, NULL, e);
}

/* ---------- 1. the key ---------- */
static void test_key(void)
{
    tdi_gen_config a, b;
    tdi_err e = {0};
    const char *base = "seed: 7\nname: comp\ncircuit:\n  devices: mos\n  samples: [0]\n";
    char y[400];
    tdi_gen_config_init(&a);
    tdi_gen_config_init(&b);
    snprintf(y, sizeof y, "%s  mos_self_comp: false\n", base);
    int rc = tdi_gen_config_load_string("a.yaml", base, &a, &e) ||
             tdi_gen_config_load_string("b.yaml", y, &b, &e);
    if (!tdi_check_ok(rc, &e, "configs load"))
        return;
    TDI_CHECK(a.hash == b.hash && a.mos_self_comp == 0 && a.mos_self_comp_passes == 1,
              "mos_self_comp: false is the default and leaves the config hash as it was");
    snprintf(y, sizeof y, "%s  mos_self_comp: true\n", base);
    rc = tdi_gen_config_load_string("c.yaml", y, &b, &e);
    TDI_CHECK(rc == 0 && b.hash != a.hash, "mos_self_comp: true enters the hash");
    tdi_gen_config_init(&b); /* a load fills the keys it reads only */
    rc = tdi_gen_config_load_string("d.yaml", "seed: 7\nname: comp\ncircuit:\n  samples: [0]\n"
                                    "  mos_self_comp: true\n", &b, &e);
    TDI_CHECK(rc == TDI_ECONFIG && strstr(e.msg, "circuit.mos_self_comp"),
              "mos_self_comp with devices: ideal: a config error naming the key");
}

/* ---------- 2. D = 16: the diagonal error, the design untouched, the cards ---------- */
static void test_d16(void)
{
    tdi_gen_bundle b;
    tdi_err e = {0};
    tdi_gen_circuit *off = build(SCR "/d16", NULL, &b, NULL, &e);
    if (!tdi_check_ok(off ? 0 : -1, &e, "D = 16 circuit builds (compensation off)"))
        return;
    tdi_gen_bundle b2;
    tdi_gen_circuit *on = build(SCR "/d16", "  mos_self_comp: true\n", &b2, NULL, &e);
    if (!tdi_check_ok(on ? 0 : -1, &e, "D = 16 circuit builds (compensation on)"))
        goto out;
    size_t N = on->N;
    double *K0 = malloc(N * N * sizeof *K0), *K1 = malloc(N * N * sizeof *K1);
    int rc = tdi_gen_circuit_reduced(on, K0, &e);
    TDI_CHECK(on->comp == NULL, "no compensation before the op measured it");
    rc = rc ? rc : tdi_cosim_mos_self_comp(on, &e);
    if (!tdi_check_ok(rc, &e, "tdi_cosim_mos_self_comp: one op, loads applied"))
        goto free_k;
    tdi_check_int(on->comp ? on->comp->passes : 0, 1, "one pass (mos_self_comp_passes default)");
    rc = tdi_gen_circuit_reduced(on, K1, &e);
    TDI_CHECK(rc == 0 && tdi_test_rel_diff(K1, K0, N * N) == 0,
              "the element list (the design's reduced matrix) is untouched");
    double g_off = 0;
    int realised_ok = 1;
    for (size_t i = 0; i < off->n_elems; i++)
        realised_ok &= tdi_gen_mos_g(off, &off->elems[i]) == off->elems[i].g;
    TDI_CHECK(realised_ok, "compensation off: every element realised with its design g");
    /* unit 0's resistor card: 1 / (g - load) */
    for (size_t i = 0; i < on->n_elems; i++) {
        const tdi_gen_elem *el = &on->elems[i];
        if (el->kind == 'R' && el->a == 0 && el->b < 0)
            g_off = el->g;
    }
    char want[160];
    snprintf(want, sizeof want, "Rx0 x0 vcm %.15g\n", 1.0 / (g_off - on->comp->load[0]));
    TDI_CHECK(g_off > 0 && on->comp->load[0] > 0 && on->elem_text &&
                  strstr(on->elem_text, want) != NULL,
              "unit x0's resistor card carries 1/(g - load)");
    tdi_cosim_realised r0, r1;
    rc = realised(off, TDI_COSIM_REALISED_LINEAR, &r0, &e);
    rc = rc ? rc : realised(on, TDI_COSIM_REALISED_LINEAR, &r1, &e);
    if (tdi_check_ok(rc, &e, "linearised route on both")) {
        printf("  D = 16 linear: diagonal error mean %+.3e max %.3e -> mean %+.3e max %.3e; "
               "|G - gu M|_F / |gu M|_F %.3e -> %.3e\n", r0.diag_mean, r0.diag_max,
               r1.diag_mean, r1.diag_max, r0.rel_fro, r1.rel_fro);
        /* measured 7.7e-2 -> 4.6e-4; what is left is the OTAs' gm error through the bus (the
           load itself is removed to the op's precision). 2e-3: 4x the measured, 40x under the
           uncompensated */
        tdi_check_le(r1.diag_max, 2e-3, "D = 16: max |diagonal error| with compensation");
        tdi_check_le(0.03, r0.diag_max, "D = 16: the uncompensated diagonal error it removes");
        tdi_check_le(r1.rel_fro, r0.rel_fro, "D = 16: the Frobenius error falls too");
    }
    tdi_cosim_realised_destroy(&r0);
    tdi_cosim_realised_destroy(&r1);
free_k:
    free(K0);
    free(K1);
    tdi_gen_circuit_free(on);
    tdi_gen_bundle_destroy(&b2);
out:
    tdi_gen_circuit_free(off);
    tdi_gen_bundle_destroy(&b);
}

/* ---------- 3. D = 4: both routes, two passes, the hierarchy ---------- */
static void test_d4(void)
{
    tdi_gen_bundle b, bh;
    tdi_err e = {0};
    tdi_gen_circuit *c = build(SCR "/d4", "  mos_self_comp: true\n  mos_self_comp_passes: 2\n",
                               &b, NULL, &e);
    tdi_gen_circuit *h = c ? build(SCR "/d4", "  mos_self_comp: true\n  mos_self_comp_passes: 2\n"
                                   "  hier: true\n", &bh,
                                   NULL, &e) : NULL;
    if (!tdi_check_ok(c && h ? 0 : -1, &e, "D = 4 circuits build"))
        return;
    int rc = tdi_cosim_mos_self_comp(c, &e);
    rc = rc ? rc : tdi_cosim_mos_self_comp(h, &e);
    if (!tdi_check_ok(rc, &e, "compensation applied (2 passes, flat and hierarchical)"))
        goto out;
    tdi_check_int(c->comp->passes, 2, "two passes");
    tdi_cosim_realised rp, rl, rh;
    rc = realised(c, TDI_COSIM_REALISED_PERTURB, &rp, &e);
    rc = rc ? rc : realised(c, TDI_COSIM_REALISED_LINEAR, &rl, &e);
    rc = rc ? rc : realised(h, TDI_COSIM_REALISED_LINEAR, &rh, &e);
    if (tdi_check_ok(rc, &e, "both routes, flat and hierarchical")) {
        printf("  D = 4: max |diagonal error| perturb %.3e, linear %.3e, hierarchical %.3e\n",
               rp.diag_max, rl.diag_max, rh.diag_max);
        /* measured 6.0e-3 (from 3.8e-2 uncompensated; a one-pass compensation the same to 1e-6):
           2e-2 keeps the factor ~2 from the uncompensated error */
        tdi_check_le(rp.diag_max, 2e-2, "D = 4 perturbative: max |diagonal error| compensated");
        tdi_check_le(rl.diag_max, 2e-2, "D = 4 linearised: max |diagonal error| compensated");
        /* the same devices, loads and op (test_mos_hier: identical matrices) */
        tdi_check_le(fabs(rh.diag_max - rl.diag_max), 1e-9 * rl.diag_max,
                     "hierarchical = flat compensated diagonal error");
    }
    tdi_cosim_realised_destroy(&rp);
    tdi_cosim_realised_destroy(&rl);
    tdi_cosim_realised_destroy(&rh);
    /* a load above unit x0's resistor: left out, named as a shortfall */
    double *load = calloc(c->n_nodes, sizeof *load);
    double g0 = 0;
    for (size_t i = 0; i < c->n_elems; i++)
        if (c->elems[i].kind == 'R' && c->elems[i].a == 0 && c->elems[i].b < 0)
            g0 = c->elems[i].g;
    load[0] = 2 * g0;
    rc = tdi_gen_mos_comp_apply(c, load, &e);
    char *rep = NULL;
    size_t rn = 0;
    FILE *f = open_memstream(&rep, &rn);
    tdi_gen_mos_comp_print(c, f);
    fclose(f);
    TDI_CHECK(rc == 0 && c->comp->n_short == 1 && strstr(c->elem_text, "* Rx0 left out") &&
                  rep && strstr(rep, "short: x0: OTA load"),
              "a load of 2 g at x0: its resistor left out, the report names x0's shortfall");
    printf("%s", rep ? rep : "");
    free(rep);
    free(load);
out:
    tdi_gen_circuit_free(h);
    tdi_gen_bundle_destroy(&bh);
    tdi_gen_circuit_free(c);
    tdi_gen_bundle_destroy(&b);
}

int main(void)
{
    gsl_set_error_handler_off();
    tdi_err e = {0};
    if (system("rm -rf " SCR " && mkdir -p " SCR) != 0 ||
        tdi_gen_bundle_synth(SCR "/d16", "comp", 16, 4, 0, 2, 3, &e) ||
        tdi_gen_bundle_synth(SCR "/d4", "comp", 4, 1, 0, 2, 3, &e)) {
        fprintf(stderr, "test_mos_comp: scratch bundles: %s\n", e.msg);
        return 1;
    }
    test_key();
    test_d16();
    test_d4();
    TDI_TEST_END();
}
