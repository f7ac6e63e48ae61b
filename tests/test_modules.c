/* test_modules: substrates of more than two modules through the whole fit-free path. A
 * three-module synthetic substrate (two encoders feeding one decoder, and a chain) is written
 * and read through common/tdi_bundle, generated into netlists (tdi_gen_run and bin/tdi-gen),
 * read back by the modules' prefixes to gu*M (1e-9 relative), and co-simulated (analytic and
 * sde engines on the generated circuit): analytic = Vs (M^-1 b) of the read-out module, sde
 * within its predicted read-out noise. Every realisation (intra dense/lowrank, skip
 * dense/twobus/sharedbus) and unit kind (rc, rlc). Scratch files in build/test-modules/. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_bundle.h"
#include "tdi_cosim.h"
#include "tdi_gen.h"
#include "tdi_test.h"
#include "tdi_test_gen.h"

#define SCR "build/test-modules"

/* two encoders (ea: 4 units, eb: 3) feeding one decoder (dec: 5 units, read out) */
static tdi_gen_synth_spec fan_in(void)
{
    tdi_gen_synth_spec s = {.preset = "three", .n_mod = 3, .D = {4, 3, 5},
                            .names = {"ea", "eb", "dec"}, .out = 2, .n_cpl = 2,
                            .from = {0, 1}, .to = {2, 2}, .rank = {2, 1}, .n = 4, .seed = 3};
    return s;
}

/* a chain a -> b -> c, the middle module read out */
static tdi_gen_synth_spec chain(void)
{
    tdi_gen_synth_spec s = {.preset = "chain", .n_mod = 3, .D = {3, 4, 3},
                            .names = {"a", "b", "c"}, .out = 1, .n_cpl = 2,
                            .from = {0, 1}, .to = {1, 2}, .rank = {1, 2}, .n = 4, .seed = 9};
    return s;
}

/* read-back of the cosim netlist by the modules' prefixes: K against gu*M */
static void check_readback(const char *what, const tdi_gen_circuit *c)
{
    tdi_gen_text *tx = NULL;
    tdi_err e;
    char name[300];
    if (tdi_gen_netlist_text(c, TDI_GEN_COSIM, 0, 0, &tx, &e) != 0) {
        snprintf(name, sizeof name, "%s: netlist text", what);
        TDI_CHECK(0, name);
        return;
    }
    char *txt = tdi_test_gen_join(tx);
    const char *pre[TDI_BUNDLE_MAX_MOD];
    for (size_t m = 0; m < c->n_mod; m++)
        pre[m] = c->mod[m].prefix;
    tdi_gen_readback rb;
    int rc = tdi_gen_readback_parse_modules(txt, pre, c->n_mod, c->out, &rb, &e);
    snprintf(name, sizeof name, "%s: read back by module prefixes", what);
    if (TDI_CHECK(rc == 0 && rb.N == c->N, name)) {
        double gmax = 0, dmax = 0;
        for (size_t i = 0; i < c->N * c->N; i++) {
            gmax = fmax(gmax, fabs(c->phys.gu * c->M[i]));
            dmax = fmax(dmax, fabs(rb.K[i] - c->phys.gu * c->M[i]));
        }
        /* 1e-9: the element values are printed with 17 significant digits; the Schur
           reduction of the buses loses a few more to cancellation, far below 1e-9 */
        snprintf(name, sizeof name, "%s: read-back K = gu M (max |K - gu M| / max |gu M|)", what);
        tdi_check_le(dmax / gmax, 1e-9, name);
        tdi_gen_readback_destroy(&rb);
        /* negative control: the first two modules' prefixes swapped (their units then sit at
           the wrong rows; same sizes are not needed, the count of instances still matches) */
        const char *sw[TDI_BUNDLE_MAX_MOD];
        memcpy(sw, pre, sizeof sw);
        sw[0] = pre[1];
        sw[1] = pre[0];
        double dsw = 0;
        if (tdi_gen_readback_parse_modules(txt, sw, c->n_mod, c->out, &rb, &e) == 0) {
            for (size_t i = 0; i < c->N * c->N; i++)
                dsw = fmax(dsw, fabs(rb.K[i] - c->phys.gu * c->M[i]));
            tdi_gen_readback_destroy(&rb);
        } else {
            dsw = INFINITY; /* refused outright: also a detection */
        }
        snprintf(name, sizeof name, "%s: negative control, prefixes of modules 0 and 1 swapped, "
                 "differs by > 1e-3 max |gu M|", what);
        TDI_CHECK(dsw > 1e-3 * gmax, name);
    } else {
        printf("    %s\n", e.msg);
    }
    free(txt);
    tdi_gen_text_free(tx);
}

/* analytic and sde engines on the generated circuit: the read-out module's nodes */
static void check_cosim(const char *what, const tdi_gen_circuit *gc, const tdi_bundle *sub)
{
    tdi_err e;
    char name[300];
    const tdi_gen_phys *p = &gc->phys;
    size_t ns = sub->n, o = gc->mod[gc->out].off, Do = gc->mod[gc->out].n;
    long settle = (long)ceil(p->t_settle / p->noise_dt), avg = (long)ceil(p->t_avg / p->noise_dt);
    tdi_cosim_circuit *cc = NULL;
    int rc = tdi_cosim_circuit_from_gen(gc, p->noise_dt,
                                        p->noise_dt * (double)(settle + avg) * (double)ns, &cc,
                                        &e);
    snprintf(name, sizeof name, "%s: cosim circuit from the generated netlist", what);
    if (!TDI_CHECK(rc == 0, name)) {
        printf("    %s\n", e.msg);
        return;
    }
    double *bias = calloc(ns * cc->n, sizeof *bias);
    size_t *read = malloc(Do * sizeof *read);
    for (size_t s = 0; s < ns; s++)
        for (size_t m = 0; m < sub->n_mod; m++)
            for (size_t i = 0; i < sub->mod[m].D; i++)
                bias[s * cc->n + sub->mod[m].off + i] =
                    p->gu * p->Vs * sub->mod[m].bias[s * sub->mod[m].D + i];
    for (size_t j = 0; j < Do; j++)
        read[j] = o + j;
    tdi_cosim_plan pl = {.n_samples = ns, .bias = bias, .n_read = Do, .read = read,
                         .tick = p->noise_dt, .settle_ticks = settle, .avg_ticks = avg,
                         .adc_stride = 1, .seed = 11, .noise = 1};
    tdi_cosim_out oa, os;
    memset(&oa, 0, sizeof oa);
    memset(&os, 0, sizeof os);
    int ra = tdi_cosim_exp_run(TDI_COSIM_ANALYTIC, cc, &pl, &oa, &e);
    int rs = ra ? ra : tdi_cosim_exp_run(TDI_COSIM_SDE, cc, &pl, &os, &e);
    snprintf(name, sizeof name, "%s: analytic and sde engines run", what);
    if (TDI_CHECK(ra == 0 && rs == 0, name)) {
        double da = 0, amax = 0, zmax = 0;
        for (size_t s = 0; s < ns; s++)
            for (size_t j = 0; j < Do; j++) {
                double want = p->Vs * sub->analytic[s * Do + j];
                amax = fmax(amax, fabs(want));
                da = fmax(da, fabs(oa.est[s * Do + j] - want));
                zmax = fmax(zmax, fabs(os.est[s * Do + j] - oa.est[s * Do + j]) /
                                      gc->readout_sd[o + j]);
            }
        /* 1e-9: the engine's G^-1 i against the bundle's M^-1 b (two solves, cond(M) ~ 10) */
        snprintf(name, sizeof name, "%s: analytic engine = Vs (M^-1 b)_out (max rel)", what);
        tdi_check_le(da / amax, 1e-9, name);
        /* 5 sigma of the predicted window-average std (the sde engine is exact in distribution;
           ns * Do = 20 averages, so 5 sigma fails by chance with probability ~1e-5) */
        snprintf(name, sizeof name, "%s: sde read-out within 5 predicted sigma of analytic", what);
        tdi_check_le(zmax, 5.0, name);
        /* negative control: against the next sample's analytic means the same check fails */
        double zneg = 0;
        for (size_t s = 0; s + 1 < ns; s++)
            for (size_t j = 0; j < Do; j++)
                zneg = fmax(zneg, fabs(os.est[s * Do + j] - oa.est[(s + 1) * Do + j]) /
                                      gc->readout_sd[o + j]);
        snprintf(name, sizeof name, "%s: negative control, sde vs the next sample's analytic "
                 "beyond 5 sigma", what);
        TDI_CHECK(zneg > 5.0, name);
    } else {
        printf("    %s\n", e.msg);
    }
    tdi_cosim_out_destroy(&oa);
    tdi_cosim_out_destroy(&os);
    free(bias);
    free(read);
    tdi_cosim_circuit_free(cc);
}

static void one(const char *dir, const char *tag, const char *unit, const char *intra,
                const char *skip)
{
    char cfgt[600], what[200];
    snprintf(what, sizeof what, "%s %s intra %s skip %s", tag, unit, intra, skip);
    snprintf(cfgt, sizeof cfgt, "name: %s\ncircuit:\n  unit: %s\n  intra: %s\n  skip: %s\n"
             "  theta: 0.05\n  avg_relax: 50\n  samples: [0, 1, 2, 3]\n", tag, unit, intra, skip);
    tdi_gen_config cfg;
    tdi_gen_bundle b;
    tdi_err e;
    tdi_gen_config_init(&cfg);
    tdi_gen_circuit *c = NULL;
    int rc = tdi_gen_config_load_string("modules.yaml", cfgt, &cfg, &e);
    if (!rc)
        rc = tdi_gen_bundle_read(dir, &b, &e);
    if (!rc) {
        rc = tdi_gen_circuit_build(&cfg, &b, &c, &e);
        if (rc)
            tdi_gen_bundle_destroy(&b);
    }
    char name[300];
    snprintf(name, sizeof name, "%s: circuit builds", what);
    if (!TDI_CHECK(rc == 0, name)) {
        printf("    %s\n", e.msg);
        return;
    }
    snprintf(name, sizeof name, "%s: %zu modules, N = %zu", what, b.sub.n_mod, b.sub.N);
    TDI_CHECK(c->n_mod == b.sub.n_mod && c->N == b.sub.N && c->out == b.sub.out, name);
    check_readback(what, c);
    check_cosim(what, c, &b.sub);
    tdi_gen_circuit_free(c);
    tdi_gen_bundle_destroy(&b);
}

/* the program: bin/tdi-gen on the three-module bundle writes netlists and a wire report with a
 * block per module and per coupling */
static void program(const char *dir)
{
    FILE *f = fopen(SCR "/three.yaml", "w");
    if (!f)
        return;
    fputs("name: three\nout: " SCR "/out\ncircuit:\n  skip: twobus\n  intra: lowrank\n", f);
    fclose(f);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "bin/tdi-gen " SCR "/three.yaml --bundle %s --out " SCR
             "/three-net > " SCR "/three-gen.log 2>&1", dir);
    int st = system(cmd);
    TDI_CHECK(st == 0, "bin/tdi-gen generates the three-module netlists");
    /* the same substrate from the command line: the same arrays (same spec, same seed) */
    st = system("bin/tdi-gen --synth " SCR "/three-cli --modules 4,3,5 --couplings 0-2:2,1-2:1 "
                "--n 4 --seed 3 --preset three > " SCR "/three-cli.log 2>&1");
    TDI_CHECK(st == 0, "bin/tdi-gen --synth --modules 4,3,5 --couplings 0-2:2,1-2:1 writes it");
    tdi_bundle a, b;
    tdi_err e;
    if (st == 0 && tdi_bundle_read(dir, 0, &a, &e) == 0) {
        if (tdi_bundle_read(SCR "/three-cli", 0, &b, &e) == 0) {
            TDI_CHECK(b.n_mod == 3 && b.out == 2 && memcmp(a.M, b.M, 144 * sizeof *a.M) == 0,
                      "the command line's substrate equals the spec's (M bit for bit)");
            tdi_bundle_destroy(&b);
        }
        tdi_bundle_destroy(&a);
    }
    st = system("bin/tdi-gen --synth " SCR "/bad-cli --modules 4,3 --couplings 0-5:1 > " SCR
                "/bad-cli.log 2>&1");
    TDI_CHECK(st != 0, "bin/tdi-gen --synth refuses a coupling to module 5 of 2");
    char *w = tdi_test_slurp(SCR "/three-net/wires.json");
    const char *blk[] = {"intra_ea", "intra_dec", "skip_ea_dec", "skip_eb_dec"};
    for (int i = 0; i < 4; i++) {
        char nm[64];
        snprintf(nm, sizeof nm, "wires.json (jansson): block %s", blk[i]);
        TDI_CHECK(tdi_test_json_find(w, "blocks", "block", blk[i]) >= 0, nm);
    }
    free(w);
}

int main(void)
{
    tdi_gen_blas_threads(1);
    if (system("rm -rf " SCR " && mkdir -p " SCR) != 0)
        return 1;
    tdi_err e;
    tdi_gen_synth_spec f = fan_in(), ch = chain();
    int rc = tdi_gen_synth_write(SCR "/three", &f, &e);
    if (!TDI_CHECK(rc == 0, "fan-in substrate written (ea 4, eb 3 -> dec 5)"))
        printf("    %s\n", e.msg);
    rc = tdi_gen_synth_write(SCR "/chain", &ch, &e);
    if (!TDI_CHECK(rc == 0, "chain substrate written (a 3 -> b 4 -> c 3, b read out)"))
        printf("    %s\n", e.msg);
    static const char *const units[] = {"rc", "rlc"}, *const intras[] = {"dense", "lowrank"},
                             *const skips[] = {"dense", "twobus", "sharedbus"};
    for (int u = 0; u < 2; u++)
        for (int i = 0; i < 2; i++)
            for (int s = 0; s < 3; s++)
                one(SCR "/three", "three", units[u], intras[i], skips[s]);
    one(SCR "/chain", "chain", "rc", "lowrank", "sharedbus");
    one(SCR "/chain", "chain", "rlc", "dense", "twobus");
    program(SCR "/three");
    /* the tdi-cosim job's digital interface needs U-Net levels (encoders, then their decoders):
       a fan-in of two encoders into one decoder is refused clearly, not a crash */
    tdi_gen_bundle b;
    rc = tdi_cosim_load(SCR "/three", &b, &e);
    TDI_CHECK(rc != 0, "tdi-cosim's load stage refuses a three-module bundle");
    tdi_check_contains(e.msg, "needs U-Net levels", "tdi-cosim's load stage: message");
    if (!rc)
        tdi_gen_bundle_destroy(&b);
    TDI_TEST_END();
}
