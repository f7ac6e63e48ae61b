/* tdi-gen: substrate bundle + config -> SPICE netlists (see generator/tdi_gen.h), and at
 * transistor level the realised matrix measured in ngspice (cosim/tdi_cosim.h), printed and
 * written as realised.json in the same directory transaction (docs/cosim.md "Realised matrix");
 * for a non-ideal chip its matrix error per block and non-reciprocity, printed and written as
 * chip.json (docs/nonideal.md).
 * The program sits in tools/ because it uses both the generator and cosim layers.
 *   tdi-gen CONFIG [--bundle DIR] [--out DIR] [--realised | --no-realised]
 *           [--realised-method auto|perturb|linear]
 *   tdi-gen CONFIG --compare NGSPICE_LOG [--bundle DIR]   (exit 1 when max |z| > 5)
 *   tdi-gen --synth DIR --D n --k n [--rank r] [--n n] [--seed s] [--preset name]
 *   tdi-gen --synth DIR --modules D0,D1,.. --couplings F-T:K,.. [--readout m] [--rank r] [--n n]
 *           [--seed s] [--preset name]   (any number of modules: tdi_gen_synth_spec)
 * Exit status 0 on success, 1 on any error (message on stderr, nothing written). */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "tdi_cli.h"
#include "tdi_clock.h"
#include "tdi_cosim.h"
#include "tdi_gen.h"
#include "tdi_io.h"
#include "tdi_json.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: tdi-gen CONFIG [--bundle DIR] [--out DIR] [--realised | --no-realised]\n"
               "         [--realised-method auto|perturb|linear]\n"
               "         (--realised: extract the realised matrix in ngspice for ideal "
               "elements too; done at transistor level unless --no-realised; perturb: N + 1 "
               "ops, linear: one op and each device's small-signal model; auto: linear above "
               "%d devices)\n"
               "       tdi-gen CONFIG --compare NGSPICE_LOG [--bundle DIR]\n"
               "       tdi-gen --synth DIR --D n --k n [--rank r] [--n n] [--seed s] "
               "[--preset name]\n"
               "       tdi-gen --synth DIR --modules D0,D1,.. --couplings F-T:K,.. "
               "[--readout m] [--rank r] [--n n] [--seed s] [--preset name]\n"
               "         (modules numbered from 0; coupling F-T:K joins modules F and T with "
               "rank K; the read-out module defaults to the last)\n",
            TDI_COSIM_REALISED_LINEAR_DEV);
}

/* Bad usage: the usage text on stderr, exit status 2. */
static int bad_usage(void)
{
    usage(stderr);
    return 2;
}

static int parse_size(const char *s, size_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end || s[0] == '-')
        return -1;
    *out = (size_t)v;
    return 0;
}

/* "4,3,5" into D[] (1..TDI_BUNDLE_MAX_MOD sizes >= 1) */
static int parse_modules(const char *s, tdi_gen_synth_spec *sp)
{
    sp->n_mod = 0;
    for (const char *p = s; *p;) {
        char *end;
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p || *p == '-' || v < 1 || sp->n_mod == TDI_BUNDLE_MAX_MOD)
            return -1;
        sp->D[sp->n_mod++] = (size_t)v;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return -1;
    }
    return sp->n_mod ? 0 : -1;
}

/* "0-2:2,1-2:1" into from[], to[], rank[] */
static int parse_couplings(const char *s, tdi_gen_synth_spec *sp)
{
    sp->n_cpl = 0;
    for (const char *p = s; *p;) {
        unsigned long f, t, k;
        int used = 0;
        if (sp->n_cpl == TDI_BUNDLE_MAX_CPL || p[0] == '-' ||
            sscanf(p, "%lu-%lu:%lu%n", &f, &t, &k, &used) != 3)
            return -1;
        sp->from[sp->n_cpl] = f;
        sp->to[sp->n_cpl] = t;
        sp->rank[sp->n_cpl++] = k;
        p += used;
        if (*p == ',')
            p++;
        else if (*p)
            return -1;
    }
    return 0;
}

/* tdi-gen --synth DIR ...: the two-module form (--D, --k) or the module list (--modules) */
static int synth_main(int argc, char **argv, tdi_err *err)
{
    size_t D = 0, k = 0, r = 0, n = 4, seed = 1, ro = (size_t)-1;
    const char *preset = "synthetic", *mods = NULL, *cpls = "";
    for (int i = 3; i < argc; i++) {
        size_t *dst = NULL;
        if (i + 1 >= argc)
            return bad_usage();
        if (strcmp(argv[i], "--D") == 0)
            dst = &D;
        else if (strcmp(argv[i], "--k") == 0)
            dst = &k;
        else if (strcmp(argv[i], "--rank") == 0)
            dst = &r;
        else if (strcmp(argv[i], "--n") == 0)
            dst = &n;
        else if (strcmp(argv[i], "--seed") == 0)
            dst = &seed;
        else if (strcmp(argv[i], "--readout") == 0)
            dst = &ro;
        else if (strcmp(argv[i], "--preset") == 0 || strcmp(argv[i], "--modules") == 0 ||
                 strcmp(argv[i], "--couplings") == 0) {
            const char **sdst = argv[i][2] == 'p' ? &preset : argv[i][2] == 'm' ? &mods : &cpls;
            *sdst = argv[++i];
            continue;
        } else
            return bad_usage();
        if (parse_size(argv[++i], dst))
            return bad_usage();
    }
    if (!mods) {
        if (D == 0 || k > D || r > D) {
            fprintf(stderr, "tdi-gen --synth: need D >= 1, k <= D, rank <= D\n");
            return 1;
        }
        if (tdi_gen_bundle_synth(argv[2], preset, D, k, r, n, (unsigned long)seed, err))
            return fprintf(stderr, "tdi-gen: %s\n", err->msg), 1;
        printf("tdi-gen: wrote synthetic bundle %s (D = %zu, k = %zu, rank %zu, n = %zu, seed "
               "%zu)\n", argv[2], D, k, r, n, seed);
        return 0;
    }
    tdi_gen_synth_spec sp = {.preset = preset, .intra_rank = r, .n = n,
                             .seed = (unsigned long)seed};
    if (D || k || parse_modules(mods, &sp) || parse_couplings(cpls, &sp)) {
        fprintf(stderr, "tdi-gen --synth: --modules takes sizes like 4,3,5 (not with --D, --k); "
                "--couplings takes from-to:rank like 0-2:2,1-2:1\n");
        return 1;
    }
    sp.out = ro == (size_t)-1 ? sp.n_mod - 1 : ro;
    if (tdi_gen_synth_write(argv[2], &sp, err))
        return fprintf(stderr, "tdi-gen: %s\n", err->msg), 1;
    printf("tdi-gen: wrote synthetic bundle %s (%zu modules, %zu couplings, n = %zu, seed %zu)\n",
           argv[2], sp.n_mod, sp.n_cpl, n, seed);
    return 0;
}

/* Above this many devices a transistor-level generation skips the perturbative extraction
 * unless --realised asks for it: measured, one ngspice op took 0.17 s CPU at 4,416 devices
 * (D = 16) and 70 s at 72,960 (D = 64, most of it in the sparse matrix's reordering), and it
 * needs N + 1 of them (docs/cosim.md "Realised matrix"); the linearised route (one op, the
 * default there: --realised-method auto) runs. */
#define GEN_REALISED_MAX_DEV TDI_COSIM_REALISED_LINEAR_DEV

/* The realised-matrix report of one generation (the job's hook). */
typedef struct gen_realised {
    int force;              /* --realised: extract for ideal elements too; -1: --no-realised */
    int method;             /* TDI_COSIM_REALISED_* (--realised-method; 0 = auto) */
    int skipped;            /* transistor level, too many devices: skipped (printed) */
    size_t n_dev, N;
    int have;
    int noise_sized;        /* device noise sized (1), skipped for size (-1), not asked (0) */
    double noise_s;         /* its wall time, s */
    char files[32];         /* what the hook wrote, for the log */
    tdi_cosim_realised r;
    int chip;               /* a non-ideal chip: its report (chip.json) */
    size_t chip_worst;      /* index of its block with the largest relative error */
    char *chip_text;        /* its summary and report lines (malloc'd) */
    tdi_cosim_realised cr;
} gen_realised;

/* 1 when the circuit is at transistor level (then the report is always made). */
static int gen_transistor_level(const tdi_gen_circuit *c)
{
    return c->phys.mos;
}

/* <dir>/<name>: the realised-matrix report r as JSON (written atomically). */
static int report_json(const char *dir, const char *name, const tdi_cosim_realised *r,
                       tdi_err *err)
{
    char path[1300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    tdi_json *js = tdi_json_object();
    int rc = !js || tdi_cosim_realised_json(r, js)
                 ? tdi_err_set(err, TDI_ENOMEM, "%s: out of memory", path)
                 : tdi_json_write(path, js, 2, err);
    tdi_json_free(js);
    return rc;
}

/* A non-ideal chip (docs/nonideal.md): its matrix against gu*M per block from the element list,
 * as chip.json and as lines for the log. */
static int chip_run(gen_realised *g, const tdi_gen_circuit *c, const char *dir, tdi_err *err)
{
    if (!c->chip)
        return 0;
    int rc = tdi_cosim_chip_report(c, NULL, &g->cr, &g->chip_worst, err);
    if (rc)
        return rc;
    if ((rc = report_json(dir, "chip.json", &g->cr, err)))
        return rc;
    size_t len = 0;
    FILE *m = open_memstream(&g->chip_text, &len);
    if (!m)
        return tdi_err_set(err, TDI_ENOMEM, "chip report: out of memory");
    tdi_gen_nonideal_print(c, m);
    tdi_cosim_chip_print(c, &g->cr, g->chip_worst, m);
    fclose(m);
    g->chip = 1;
    snprintf(g->files, sizeof g->files, "chip.json");
    return 0;
}

static int realised_run(void *user, const tdi_gen_circuit *c, const char *dir, tdi_err *err)
{
    gen_realised *g = user;
    int rc0 = chip_run(g, c, dir, err);
    if (rc0)
        return rc0;
    if (g->force < 0 || (!g->force && !gen_transistor_level(c)))
        return 0;
    int m = tdi_cosim_realised_method_for(c, g->method ? g->method : TDI_COSIM_REALISED_AUTO);
    if (!g->force && c->n_dev > GEN_REALISED_MAX_DEV && m == TDI_COSIM_REALISED_PERTURB) {
        g->skipped = 1;
        g->n_dev = c->n_dev;
        g->N = c->N;
        return 0;
    }
    int rc = tdi_cosim_realised_run_ex(c, m, &g->r, NULL, err);
    if (rc)
        return rc;
    if ((rc = report_json(dir, "realised.json", &g->r, err)))
        return rc;
    g->have = 1;
    snprintf(g->files, sizeof g->files, "%s", g->chip ? "chip.json,realised.json" :
             "realised.json");
    return 0;
}

/* Before the netlists: the self-term compensation and the offset trim (circuit.mos_self_comp,
 * mos_trim; one op a pass), then at
 * transistor level with noise sources asked for, every device's channel
 * noise sized from ngspice's .noise at its bias (docs/noise.md), so the standalone netlist's
 * TRNOISE cards and the cosim netlist's EXTERNAL sources exist. Above GEN_REALISED_MAX_DEV
 * devices only with --realised (an op of the whole netlist is part of it). */
static int noise_prepare(void *user, tdi_gen_circuit *c, tdi_err *err)
{
    gen_realised *g = user;
    int rc0 = tdi_cosim_mos_calibrate(c, err); /* mos_self_comp, mos_trim: before the sizing */
    if (rc0 || !gen_transistor_level(c) || !c->noise)
        return rc0;
    if (g->force <= 0 && c->n_dev > GEN_REALISED_MAX_DEV) {
        g->noise_sized = -1;
        return 0;
    }
    double t0 = tdi_clock_s(CLOCK_MONOTONIC);
    int rc = tdi_cosim_mos_noise_size(c, err);
    g->noise_s = tdi_clock_s(CLOCK_MONOTONIC) - t0;
    g->noise_sized = rc ? 0 : 1;
    return rc;
}

static void realised_print(void *user, FILE *log)
{
    gen_realised *g = user;
    if (g->noise_sized > 0)
        fprintf(log, "device noise: every MOSFET's channel noise sized from ngspice's .noise at "
                "its bias (%.3g s wall): TRNOISE in standalone.cir, EXTERNAL in cosim.cir\n",
                g->noise_s);
    if (g->noise_sized < 0)
        fprintf(log, "device noise: not sized (more than %d devices; --realised sizes it): the "
                "netlists carry the units' thermal noise only\n", GEN_REALISED_MAX_DEV);
    if (g->chip_text)
        fputs(g->chip_text, log);
    if (g->have)
        tdi_cosim_realised_print(&g->r, log);
    if (g->skipped)
        fprintf(log, "realised matrix: not extracted (%zu devices > %d: N + 1 = %zu ngspice ops "
                "of about a minute CPU each at this size, docs/cosim.md); --realised extracts "
                "it, --realised-method linear in one op\n", g->n_dev, GEN_REALISED_MAX_DEV, g->N + 1);
}

int main(int argc, char **argv)
{
    if (tdi_cli_start(argc, argv, usage)) /* idle OpenMP threads sleep; -h, --help */
        return 0;
    gsl_set_error_handler_off();
    tdi_gen_blas_threads(1);
    /* keep freed large blocks in the heap for reuse: the big N x N temporaries otherwise go
       back to the kernel and every new one pays its page faults again (~0.3 s at D = 1024) */
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    tdi_err err;
    tdi_err_clear(&err);
    if (argc >= 2 && strcmp(argv[1], "--synth") == 0)
        return argc < 3 ? bad_usage() : synth_main(argc, argv, &err);
    if (argc < 2 || argv[1][0] == '-')
        return bad_usage();
    const char *bundle = NULL, *out = NULL, *cmp = NULL;
    static gen_realised g; /* static: the report struct is large */
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--realised") == 0 || strcmp(argv[i], "--no-realised") == 0) {
            g.force = argv[i][2] == 'r' ? 1 : -1;
            continue;
        }
        if (i + 1 >= argc)
            return bad_usage();
        if (strcmp(argv[i], "--realised-method") == 0) {
            if (tdi_cosim_realised_method_parse(argv[++i], &g.method, &err)) {
                fprintf(stderr, "tdi-gen: --realised-method: %s\n", err.msg);
                return bad_usage();
            }
            continue;
        }
        if (strcmp(argv[i], "--bundle") == 0)
            bundle = argv[++i];
        else if (strcmp(argv[i], "--out") == 0)
            out = argv[++i];
        else if (strcmp(argv[i], "--compare") == 0)
            cmp = argv[++i];
        else
            return bad_usage();
    }
    tdi_gen_config cfg;
    tdi_gen_config_init(&cfg);
    if (cmp) {
        double chi2n = 0, zmax = 0;
        if (tdi_gen_config_load(argv[1], &cfg, &err) ||
            tdi_gen_run_compare(&cfg, bundle, cmp, stdout, &chi2n, &zmax, &err)) {
            fprintf(stderr, "tdi-gen: %s\n", err.msg);
            return 1;
        }
        /* 5 predicted standard deviations: a correct circuit exceeds it with probability
           ~6e-7 per average */
        if (zmax > 5) {
            fprintf(stderr, "tdi-gen: an average is %.2f predicted std from the analytic "
                    "engine (> 5)\n", zmax);
            return 1;
        }
        return 0;
    }
    tdi_gen_run_hook hook = {realised_run, realised_print, g.files, &g, noise_prepare};
    if (tdi_gen_config_load(argv[1], &cfg, &err) ||
        tdi_gen_run_ex(&cfg, bundle, out, stdout, &hook, &err)) {
        fprintf(stderr, "tdi-gen: %s\n", err.msg);
        free(g.chip_text);
        return 1;
    }
    free(g.chip_text);
    return 0;
}
