/* test_gen_dialect: the standalone netlist in each simulator's dialect (circuit.dialect; issue
 * 17; docs/dialects.md). Oracles: a golden file per dialect (byte for byte), the read-back of
 * every dialect's text against gu*M (rc and rlc, flat, hierarchical, parametric, every skip
 * realisation), a .param (parameters) edit against the rescaled matrix, ngspice -b running the
 * HSPICE text in its HSPICE-compatibility mode and the Xyce text as it is against the ngspice
 * text's .measure values, the config's refusals, and Xyce itself where it is on PATH.
 * Scratch files live in build/test-gen-dialect/. Golden files: tests/golden/gen-dialect-*;
 * after an intended change, TDI_GEN_UPDATE_GOLDEN=1 bin/test_gen_dialect rewrites them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_gen.h"
#include "tdi_io.h"
#include "tdi_test.h"
#include "tdi_test_gen.h"
#include "tdi_test_job.h"

#define SCR "build/test-gen-dialect"

static const char *const dialects[] = {"ngspice", "hspice", "xyce", "spectre"};

/* The config of the dialect tests: dialect d, measure cards, the rest from extra; a window of
 * 20 slowest relaxation times, 2 with PWL noise (its points grow with the run). */
static void cfg_text(char *buf, size_t n, const char *d, const char *unit, const char *skip,
                     const char *extra)
{
    snprintf(buf, n, "name: t\ncircuit:\n  unit: %s\n  skip: %s\n  intra: lowrank\n"
             "  theta: 0.1\n  samples: [0, 1]\n  avg_relax: %s\n  readout_cards: measure\n"
             "  dialect: %s\n%s", unit, skip, strstr(extra, "pwl") ? "2" : "20", d, extra);
}

/* ---------- 1. a golden file per dialect ---------- */
/* txt against the golden file (rewritten first when TDI_GEN_UPDATE_GOLDEN is set) */
static void check_golden(const char *file, const char *txt)
{
    char name[200];
    if (txt && getenv("TDI_GEN_UPDATE_GOLDEN"))
        tdi_test_write(file, txt);
    char *gold = tdi_test_slurp(file);
    snprintf(name, sizeof name, "golden %s byte for byte (after an intended change: "
             "TDI_GEN_UPDATE_GOLDEN=1 bin/test_gen_dialect)", file);
    int same = txt && gold && strcmp(gold, txt) == 0;
    TDI_CHECK(same, name);
    if (!same && gold && txt) {
        size_t i = 0, line = 1;
        for (; gold[i] && gold[i] == txt[i]; i++)
            line += gold[i] == '\n';
        printf("    first difference at line %zu\n", line);
    }
    free(gold);
}

static size_t count_of(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s ? strstr(s, needle) : NULL; p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* The companion file (TDI_GEN_COMPANION): Spectre's MDL measurements against their golden file,
 * one export per .measure card of the ngspice text; every other dialect writes none. */
static void check_companion(const tdi_gen_circuit *c, const char *dialect, const char *ngspice)
{
    char name[200];
    tdi_err e;
    tdi_err_clear(&e);
    char *mdl = tdi_test_gen_text(c, TDI_GEN_COMPANION, &e);
    if (strcmp(dialect, "spectre") != 0) {
        snprintf(name, sizeof name, "companion %s: none (no name, TDI_EARG)", dialect);
        TDI_CHECK(!mdl && e.code == TDI_EARG && !tdi_gen_companion_name(c), name);
        free(mdl);
        return;
    }
    TDI_CHECK(mdl && tdi_gen_companion_name(c) &&
              strcmp(tdi_gen_companion_name(c), "standalone.mdl") == 0,
              "companion spectre: standalone.mdl written");
    check_golden("tests/golden/gen-dialect-spectre.mdl", mdl);
    tdi_check_int((long long)count_of(mdl, "\n    export real "),
                  (long long)count_of(ngspice, "\n.measure tran "),
                  "companion spectre: one MDL export per .measure card of the ngspice text");
    tdi_check_int((long long)count_of(mdl, "\nrun tdi_readout\n"), 1,
                  "companion spectre: the measurement alias is run once");
    free(mdl);
}

static void test_golden(void)
{
    static const char *const files[] = {"tests/golden/gen-dialect-ngspice.cir",
                                        "tests/golden/gen-dialect-hspice.sp",
                                        "tests/golden/gen-dialect-xyce.cir",
                                        "tests/golden/gen-dialect-spectre.scs"};
    char *ngspice = NULL; /* the ngspice text (d = 0): the .measure cards the MDL mirrors */
    for (int d = 0; d < 4; d++) {
        char cfgt[600], name[200];
        cfg_text(cfgt, sizeof cfgt, dialects[d], "rc", "sharedbus",
                 "  noise: false\n  hier: true\n  param: true\n");
        tdi_gen_bundle b;
        tdi_err e;
        tdi_err_clear(&e);
        tdi_gen_circuit *c = tdi_test_gen_build(cfgt, SCR "/tiny/substrate", &b, NULL, &e);
        snprintf(name, sizeof name, "golden %s: builds", dialects[d]);
        if (!tdi_check_ok(c == NULL, &e, name))
            continue;
        char *txt = tdi_test_gen_text(c, TDI_GEN_STANDALONE, &e);
        check_golden(files[d], txt);
        snprintf(name, sizeof name, "golden %s: the standalone file's extension", dialects[d]);
        tdi_check_contains(files[d], strrchr(tdi_gen_standalone_name(c), '.'), name);
        check_companion(c, dialects[d], ngspice);
        if (d == 0)
            ngspice = txt;
        else
            free(txt);
        tdi_gen_circuit_free(c);
        tdi_gen_bundle_destroy(&b);
    }
    free(ngspice);
}

/* ---------- 2. every dialect's text reads back to gu*M ---------- */
static void test_readback(void)
{
    static const char *const units[] = {"rc", "rlc"}, *const skips[] = {"dense", "twobus",
                                                                       "sharedbus"};
    static const char *const forms[] = {"  noise: false\n", "  noise: false\n  hier: true\n",
                                        "  noise: false\n  param: true\n",
                                        "  noise: false\n  hier: true\n  param: true\n"};
    static const char *const fname[] = {"flat", "hier", "param", "hier+param"};
    for (int d = 0; d < 4; d++)
        for (int u = 0; u < 2; u++)
            for (int s = 0; s < 3; s++)
                for (int f = 0; f < 4; f++) {
                    char cfgt[600], name[200];
                    cfg_text(cfgt, sizeof cfgt, dialects[d], units[u], skips[s], forms[f]);
                    tdi_gen_bundle b;
                    tdi_err e;
                    tdi_err_clear(&e);
                    tdi_gen_circuit *c = tdi_test_gen_build(cfgt, SCR "/small/substrate", &b,
                                                            NULL, &e);
                    snprintf(name, sizeof name, "%s %s/%s %s: read-back K = gu M to 1e-9 (15 "
                             "significant digits per value)", dialects[d], units[u], skips[s],
                             fname[f]);
                    char *txt = c ? tdi_test_gen_text(c, TDI_GEN_STANDALONE, &e) : NULL;
                    double r = txt ? tdi_test_gen_readback_err(c, txt, 1.0, &e) : INFINITY;
                    if (!tdi_check_le(r, 1e-9, name))
                        printf("    %s\n", e.msg);
                    free(txt);
                    if (c) {
                        tdi_gen_circuit_free(c);
                        tdi_gen_bundle_destroy(&b);
                    }
                }
}

/* One edit of text: the first "<key><old>" replaced by "<key><new>" (a new string). */
static char *edit(const char *text, const char *key, double old, double nw)
{
    char a[80], r[80];
    snprintf(a, sizeof a, "%s%.15g ", key, old);
    snprintf(r, sizeof r, "%s%.15g ", key, nw);
    const char *at = strstr(text, a);
    if (!at)
        return NULL;
    char *s = malloc(strlen(text) + 40);
    size_t pre = (size_t)(at - text);
    memcpy(s, text, pre);
    sprintf(s + pre, "%s%s", r, at + strlen(a));
    return s;
}

/* ---------- 3. one parameter edit rescales every element in every dialect ---------- */
static void test_param_edit(void)
{
    for (int d = 0; d < 4; d++)
        for (int h = 0; h < 2; h++) {
            char cfgt[600], name[200];
            cfg_text(cfgt, sizeof cfgt, dialects[d], h ? "rlc" : "rc", "sharedbus",
                     "  noise: false\n  param: true\n  hier: true\n");
            tdi_gen_bundle b;
            tdi_err e;
            tdi_err_clear(&e);
            tdi_gen_circuit *c = tdi_test_gen_build(cfgt, SCR "/small/substrate", &b, NULL, &e);
            if (!tdi_check_ok(c == NULL, &e, "parametric circuit builds"))
                continue;
            char *txt = tdi_test_gen_text(c, TDI_GEN_STANDALONE, &e);
            char *ed = txt ? edit(txt, " gu=", c->phys.gu, 2 * c->phys.gu) : NULL;
            snprintf(name, sizeof name, "%s %s: gu doubled on its parameter line -> read-back "
                     "K = 2 gu M to 1e-9 (every element follows)", dialects[d],
                     h ? "rlc" : "rc");
            tdi_check_le(ed ? tdi_test_gen_readback_err(c, ed, 2.0, &e) : INFINITY, 1e-9, name);
            free(ed);
            free(txt);
            tdi_gen_circuit_free(c);
            tdi_gen_bundle_destroy(&b);
        }
}

/* ---------- 4. ngspice runs the HSPICE text (compatibility mode) and the Xyce text ---------- */

/* Runs text with ngspice -b in SCR/<tag>/ (with .spiceinit `init` when not NULL); the log (caller
 * frees) or NULL. */
static char *ngspice_log(const char *text, const char *tag, const char *init)
{
    char dir[256], path[300], cmd[800];
    snprintf(dir, sizeof dir, SCR "/%s", tag);
    tdi_err e;
    if (tdi_mkdirs(dir, &e))
        return NULL;
    snprintf(path, sizeof path, "%s/.spiceinit", dir);
    if (init && tdi_test_write(path, init))
        return NULL;
    snprintf(path, sizeof path, "%s/net", dir);
    if (tdi_test_write(path, text))
        return NULL;
    snprintf(cmd, sizeof cmd, "cd %s && ngspice -b net > log 2>&1", dir);
    if (system(cmd) != 0)
        return NULL;
    snprintf(path, sizeof path, "%s/log", dir);
    return tdi_test_slurp(path);
}

/* "<key> = <v>" at a line start in log; NAN when absent. */
static double log_value(const char *log, const char *key)
{
    size_t kl = strlen(key);
    for (const char *p = log; (p = strstr(p, key)) != NULL; p += kl) {
        double v;
        if ((p == log || p[-1] == '\n') && (p[kl] == ' ' || p[kl] == '=') &&
            sscanf(p + kl, " = %lf", &v) == 1)
            return v;
    }
    return NAN;
}

static void test_ngspice_runs(void)
{
    char *log[3] = {NULL, NULL, NULL};
    const tdi_gen_circuit *c0 = NULL;
    tdi_gen_circuit *cs[3] = {NULL, NULL, NULL};
    tdi_gen_bundle bs[3];
    for (int d = 0; d < 3; d++) { /* ngspice, hspice, xyce */
        char cfgt[600];
        cfg_text(cfgt, sizeof cfgt, dialects[d], "rc", "sharedbus",
                 "  noise: false\n  param: true\n  hier: true\n");
        tdi_err e;
        cs[d] = tdi_test_gen_build(cfgt, SCR "/small/substrate", &bs[d], NULL, &e);
        char *txt = cs[d] ? tdi_test_gen_text(cs[d], TDI_GEN_STANDALONE, &e) : NULL;
        log[d] = txt ? ngspice_log(txt, dialects[d], d == 1 ? "set ngbehavior=hs\n" : NULL)
                     : NULL;
        free(txt);
    }
    c0 = cs[0];
    for (int d = 1; d < 3; d++) {
        size_t found = 0;
        double mx = 0, diff = 0;
        for (size_t si = 0; c0 && si < c0->n_samples; si++)
            for (size_t i = c0->mod[c0->out].off; i < c0->mod[c0->out].off + c0->D; i++)
                for (int w = 0; w < 2; w++) {
                    char key[80];
                    snprintf(key, sizeof key, "%s_%s_s%zu", w ? "rms" : "avg",
                             c0->nodes[i].name, si);
                    double a = log[0] ? log_value(log[0], key) : NAN,
                           b = log[d] ? log_value(log[d], key) : NAN;
                    if (isnan(a) || isnan(b))
                        continue;
                    found++;
                    mx = fmax(mx, fabs(a));
                    diff = fmax(diff, fabs(a - b));
                }
        char name[240];
        snprintf(name, sizeof name, "ngspice -b on the %s text%s: all %zu measures printed",
                 dialects[d], d == 1 ? " (ngbehavior=hs)" : "", c0 ? 4 * c0->D : 0);
        tdi_check_int((long long)found, c0 ? (long long)(4 * c0->D) : -1, name);
        /* no noise: one deterministic run per text; the same circuit and windows give the same
           numbers to ngspice's 7 printed digits (5e-7 of the value) */
        snprintf(name, sizeof name, "ngspice -b on the %s text: the measures equal the ngspice "
                 "text's to 1e-6 of the largest", dialects[d]);
        tdi_check_le(found ? diff / mx : INFINITY, 1e-6, name);
    }
    for (int d = 0; d < 3; d++) {
        free(log[d]);
        if (cs[d]) {
            tdi_gen_circuit_free(cs[d]);
            tdi_gen_bundle_destroy(&bs[d]);
        }
    }
}

/* ---------- 5. what a dialect refuses, naming the key; ngspice byte for byte ---------- */
static void test_refusals(void)
{
    static const struct {
        const char *extra, *want;
    } bad[] = {
        {"  dialect: hspice\n  devices: mos\n", "circuit.dialect: hspice is implemented for "
                                                "devices: ideal only"},
        {"  dialect: xyce\n  devices: mos\n", "the shipped card, ngspice's BSIM4, level=14) "
                                              "must be ngspice's"},
        {"  dialect: spectre\n  devices: mos\n  mos_lib: pdk/models.scs\n",
         "a PDK in spectre's own syntax would need a second card"},
        {"  dialect: xyce\n  readout_cards: measure\n", "circuit.noise_src: trnoise is "
                                                        "ngspice-only"},
        {"  dialect: spectre\n  noise_src: pwl\n", "circuit.readout_cards: control writes an "
                                                   "ngspice .control block"},
        {"  dialect: pspice\n", "circuit.dialect"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char cfgt[400], name[200];
        snprintf(cfgt, sizeof cfgt, "name: t\ncircuit:\n  theta: 0.1\n%s", bad[i].extra);
        tdi_gen_config cfg;
        tdi_gen_config_init(&cfg);
        tdi_err e;
        tdi_err_clear(&e);
        int rc = tdi_gen_config_load_string("test.yaml", cfgt, &cfg, &e);
        snprintf(name, sizeof name, "refused: %s", bad[i].want);
        TDI_CHECK(rc != 0, name);
        tdi_check_contains(e.msg, bad[i].want, name);
    }
    /* dialect: ngspice written out changes nothing (hash and text) */
    const char *t0 = "name: t\ncircuit:\n  theta: 0.1\n  samples: [0, 1]\n",
               *t1 = "name: t\ncircuit:\n  theta: 0.1\n  samples: [0, 1]\n  dialect: ngspice\n";
    tdi_gen_bundle b0, b1;
    tdi_err e;
    tdi_gen_circuit *c0 = tdi_test_gen_build(t0, SCR "/small/substrate", &b0, NULL, &e),
                    *c1 = tdi_test_gen_build(t1, SCR "/small/substrate", &b1, NULL, &e);
    char *x0 = c0 ? tdi_test_gen_text(c0, TDI_GEN_STANDALONE, &e) : NULL;
    char *x1 = c1 ? tdi_test_gen_text(c1, TDI_GEN_STANDALONE, &e) : NULL;
    TDI_CHECK(x0 && x1 && strcmp(x0, x1) == 0, "dialect: ngspice (the default) written out: "
              "the same text byte for byte, config hash included");
    free(x0);
    free(x1);
    if (c0) {
        tdi_gen_circuit_free(c0);
        tdi_gen_bundle_destroy(&b0);
    }
    if (c1) {
        tdi_gen_circuit_free(c1);
        tdi_gen_bundle_destroy(&b1);
    }
}

/* ---------- 6. PWL noise in every dialect: every point kept ---------- */

/* The values inside the brackets of every Inoise_ card of txt (open "(" or "[", close ")" or
 * "]"), counted as tokens between blanks, '+' and '\' continuations. */
static size_t noise_values(char *txt, char open, char close)
{
    size_t n = 0;
    for (char *p = txt; (p = strstr(p, "\nInoise_")) != NULL;) {
        char *a = strchr(p + 1, open), *b = a ? strchr(a, close) : NULL;
        if (!b)
            break;
        *b = '\0';
        char *save = NULL;
        for (char *t = strtok_r(a + 1, " \n+\\", &save); t; t = strtok_r(NULL, " \n+\\", &save))
            n++;
        p = b + 1;
    }
    return n;
}

static void test_pwl_noise(void)
{
    size_t values[4] = {0};
    for (int d = 0; d < 4; d++) {
        char cfgt[600];
        cfg_text(cfgt, sizeof cfgt, dialects[d], "rc", "sharedbus",
                 "  noise_src: pwl\n");
        tdi_gen_bundle b;
        tdi_err e;
        tdi_err_clear(&e);
        tdi_gen_circuit *c = tdi_test_gen_build(cfgt, SCR "/small/substrate", &b, NULL, &e);
        char *txt = c ? tdi_test_gen_text(c, TDI_GEN_STANDALONE, &e) : NULL;
        if (tdi_check_ok(txt == NULL, &e, "PWL noise text written"))
            values[d] = noise_values(txt, d == 3 ? '[' : '(', d == 3 ? ']' : ')');
        free(txt);
        if (c) {
            tdi_gen_circuit_free(c);
            tdi_gen_bundle_destroy(&b);
        }
    }
    TDI_CHECK(values[0] > 1000, "ngspice: the PWL noise has its values (over 1000 here)");
    for (int d = 1; d < 4; d++) {
        char name[200];
        snprintf(name, sizeof name, "%s: the PWL noise keeps every (t, i) value of the ngspice "
                 "text", dialects[d]);
        tdi_check_int((long long)values[d], (long long)values[0], name);
    }
}

/* ---------- 7. Xyce itself, where it is installed ---------- */
static void test_xyce(void)
{
    if (system("command -v Xyce > /dev/null 2>&1") != 0) {
        printf("SKIP: Xyce is not on PATH: the Xyce text is checked by read-back and ngspice "
               "only (docs/dialects.md: building Xyce)\n");
        return;
    }
    char cfgt[600];
    cfg_text(cfgt, sizeof cfgt, "xyce", "rc", "sharedbus",
             "  noise_src: pwl\n  param: true\n  hier: true\n");
    tdi_gen_bundle b;
    tdi_err e;
    tdi_gen_circuit *c = tdi_test_gen_build(cfgt, SCR "/small/substrate", &b, NULL, &e);
    char *txt = c ? tdi_test_gen_text(c, TDI_GEN_STANDALONE, &e) : NULL;
    int ok = txt && tdi_test_write(SCR "/xyce-run.cir", txt) == 0 &&
             system("cd " SCR " && Xyce xyce-run.cir > xyce-run.log 2>&1") == 0;
    TDI_CHECK(ok, "Xyce runs the Xyce text (exit status 0; log in build/test-gen-dialect/)");
    char *mt = tdi_test_slurp(SCR "/xyce-run.cir.mt0");
    TDI_CHECK(mt && (strstr(mt, "AVG_Y0_S0") || strstr(mt, "avg_y0_s0")),
              "Xyce writes the .measure results (xyce-run.cir.mt0 names avg_y0_s0)");
    free(mt);
    free(txt);
    if (c) {
        tdi_gen_circuit_free(c);
        tdi_gen_bundle_destroy(&b);
    }
}

int main(void)
{
    tdi_gen_blas_threads(1);
    tdi_err e;
    if (system("rm -rf " SCR " && mkdir -p " SCR) != 0 ||
        !TDI_CHECK(tdi_test_job_bundle(SCR "/tiny", 2, 1, 2, 3, 0, &e) == 0 &&
                   tdi_test_job_bundle(SCR "/small", 4, 2, 4, 5, 0, &e) == 0,
                   "synthetic bundles written"))
        return 1;
    test_golden();
    test_readback();
    test_param_edit();
    test_refusals();
    test_pwl_noise();
    test_ngspice_runs();
    test_xyce();
    TDI_TEST_END();
}
