/* tdi-unet: train, evaluate, sample and export the U-Net of tdi (issue 2). Thin main over
 * tdi_unet_run.h; argument parsing and reports only. */
#include <gsl/gsl_errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tdi_clock.h"
#include "tdi_cfg.h"
#include "tdi_cli.h"
#include "tdi_unet_clf_run.h"
#include "tdi_unet_dstat.h"
#include "tdi_unet_e2e.h"
#include "tdi_unet_fid.h"
#include "tdi_unet_png.h"
#include "tdi_unet_run.h"
#include "tdi_unet_sampler.h"
#include "tdi_unet_sfit.h"
#include "tdi_unet_tune.h"

#define DEFAULT_CONFIG "configs/unet.yaml"
#define DEFAULT_CLF_CONFIG "configs/classifier.yaml"
#define DEFAULT_E2E_CONFIG "configs/e2e.yaml"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tdi-unet COMMAND [options]\n"
            "  train  [CONFIG]                       train (resumes from train.state)\n"
            "  eval   [CONFIG] [--ckpt P]            test-set epsilon-MSE by t bucket\n"
            "  sample [CONFIG] [--ckpt P] [--out PNG] [--n N] [--cols N] [SAMPLER] [SKIPS]\n"
            "                                        samples as a PNG grid (--cols: its columns)\n"
            "  fid    [CONFIG] [--ckpt P] [--clf P] [--n N] [--grid PNG] [SAMPLER] [SKIPS]\n"
            "                                        Frechet distance, class histogram and\n"
            "                                        confidence of N samples (default 2000)\n"
            "  classifier-train [CCONFIG]            train the classifier (CCONFIG defaults to\n"
            "                                        " DEFAULT_CLF_CONFIG ")\n"
            "  classifier-eval  [CCONFIG] [--clf P]  its test accuracy\n"
            "  export PRESET [--unet CONFIG]         activation bundles <export.dir>/activations-"
            "{fit,test}\n"
            "                                        from a preset (configs/paper.yaml)\n"
            "  export --split train|test --n N --t T --seed S --out DIR [--first F] [--pool P]\n"
            "         [--ckpt P] [--unet CONFIG]     one activation bundle\n"
            "  e2e-paper PRESET [--unet CONFIG]      the preset's decoder means replaced by the\n"
            "                                        substrate's estimate: eps-MSE table\n"
            "                                        <out>/e2e-dstat/table.csv (docs/e2e.md)\n"
            "  finetune TCONFIG [--unet CONFIG]     skip-aware fine-tune (configs/finetune.yaml):\n"
            "                                        <out>/unet-tuned.ckpt and its eps-MSE table\n"
            "  bench  [CONFIG] [--batch B] [--seconds S] [--sskip yes|no]\n"
            "                                        training and inference images/s (sskip:\n"
            "                                        full-rank noisy substrate skips e1, e2)\n"
            "  e2e    PRESET [--test-images N] [--sde yes|no]\n"
            "                                        eps-MSE with the skips through substrates\n"
            "                                        (configs/e2e.yaml; docs/e2e.md)\n"
            "SAMPLER: [--sampler ddpm|ddim] [--steps S] [--eta E] [--clip-x0 yes|no] [--seed N]\n"
            "         [--batch B]\n"
            "         (ddpm: 1,000 steps; ddim: S steps (50), eta (0), x0 clipping (no);\n"
            "         seed: sample.seed;\n"
            "         batch: images per forward (64); image i depends only on seed and i)\n"
            "SKIPS:   [--sskip e1|e2|all --k K|mean] [--sskip-config E2E] [--sskip-noise yes|no]\n"
            "         (the skips through substrates fitted as `e2e` fits them from E2E\n"
            "         (" DEFAULT_E2E_CONFIG ") and the sampled checkpoint, cached in <out>/sample-fit;\n"
            "         k capped at each level's C; mean: the no-information baseline; noise:\n"
            "         the circuit's read-out noise (yes), seeded by --seed; docs/unet.md)\n"
            "CONFIG defaults to " DEFAULT_CONFIG "; --ckpt defaults to its train.out;\n"
            "--clf defaults to the classifier config's train.out.\n");
}

static int die(const tdi_err *e)
{
    fprintf(stderr, "tdi-unet: error: %s\n", e->msg);
    return 1;
}

/* Finds "--name VALUE" in argv; returns VALUE or def. */
static const char *opt(int argc, char **argv, const char *name, const char *def)
{
    for (int i = 2; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return def;
}

/* Rejects unknown options and returns the first positional argument (or NULL). */
static int check_args(int argc, char **argv, const char *const *known, const char **pos,
                      tdi_err *err)
{
    *pos = NULL;
    for (int i = 2; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) == 0) {
            int ok = 0;
            for (const char *const *k = known; *k; k++)
                ok |= strcmp(argv[i], *k) == 0;
            if (!ok || i + 1 >= argc)
                return tdi_err_set(err, TDI_EARG, "%s option '%s'",
                                   ok ? "missing value for" : "unknown", argv[i]);
            i++;
        } else if (!*pos) {
            *pos = argv[i];
        } else {
            return tdi_err_set(err, TDI_EARG, "unexpected argument '%s'", argv[i]);
        }
    }
    return TDI_OK;
}

static int parse_long(const char *s, const char *what, long *out, tdi_err *err)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end)
        return tdi_err_set(err, TDI_EARG, "%s: '%s' is not an integer", what, s);
    *out = v;
    return TDI_OK;
}

static int parse_double(const char *s, const char *what, double *out, tdi_err *err)
{
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end)
        return tdi_err_set(err, TDI_EARG, "%s: '%s' is not a number", what, s);
    *out = v;
    return TDI_OK;
}

/* --sampler, --steps, --eta, --seed, --batch into *s. */
static int parse_sampler(int argc, char **argv, const tdi_unet_config *c, tdi_unet_sampler *s,
                         tdi_err *err)
{
    const char *kind = opt(argc, argv, "--sampler", "ddpm");
    long seed = c->sample_seed;
    *s = (tdi_unet_sampler){TDI_UNET_DDPM, 50, 0.0, 0, 0, 64};
    if (strcmp(kind, "ddim") == 0)
        s->kind = TDI_UNET_DDIM;
    else if (strcmp(kind, "ddpm") != 0)
        return tdi_err_set(err, TDI_EARG, "--sampler '%s': want ddpm or ddim", kind);
    int rc = parse_long(opt(argc, argv, "--steps", "50"), "--steps", &s->steps, err);
    if (!rc)
        rc = parse_double(opt(argc, argv, "--eta", "0"), "--eta", &s->eta, err);
    if (!rc && opt(argc, argv, "--seed", NULL))
        rc = parse_long(opt(argc, argv, "--seed", ""), "--seed", &seed, err);
    if (!rc)
        rc = parse_long(opt(argc, argv, "--batch", "64"), "--batch", &s->batch, err);
    const char *clip = opt(argc, argv, "--clip-x0", "no");
    if (!rc && strcmp(clip, "yes") != 0 && strcmp(clip, "no") != 0)
        rc = tdi_err_set(err, TDI_EARG, "--clip-x0 '%s': want yes or no", clip);
    s->clip_x0 = strcmp(clip, "yes") == 0;
    if (!rc && (seed < 0 || s->batch < 1 || s->batch > 1024))
        rc = tdi_err_set(err, TDI_EARG, "--seed must be >= 0, --batch 1..1024");
    if (!rc && s->kind == TDI_UNET_DDIM && (s->steps < 1 || s->steps > c->T))
        rc = tdi_err_set(err, TDI_EARG, "--steps %ld: want 1..%ld", s->steps, c->T);
    if (!rc && !(s->eta >= 0.0 && s->eta <= 1.0))
        rc = tdi_err_set(err, TDI_EARG, "--eta %g: want 0..1", s->eta);
    s->seed = (unsigned long)seed;
    return rc;
}

static void sampler_name(const tdi_unet_sampler *s, char *buf, size_t size)
{
    if (s->kind == TDI_UNET_DDPM)
        snprintf(buf, size, "DDPM 1000 steps");
    else
        snprintf(buf, size, "DDIM %ld steps eta %g%s", s->steps, s->eta,
                 s->clip_x0 ? " clip-x0" : "");
}

/* cols 0: the smallest square grid */
static int write_grid(const char *path, const float *img, size_t n, size_t cols, tdi_err *err)
{
    if (cols == 0) {
        cols = 1;
        while (cols * cols < n)
            cols++;
    }
    return tdi_unet_png_grid(path, img, n, 32, cols, 2, 2, err);
}

/* --sskip, --k, --sskip-config, --sskip-noise: the substrate skips of sample and fid (none:
 * f->sk stays NULL); desc describes them for the report lines. */
static int load_skips(int argc, char **argv, const tdi_unet_config *c, const char *ckpt,
                      tdi_unet_sfit *f, char *desc, size_t size, tdi_err *err)
{
    memset(f, 0, sizeof *f);
    snprintf(desc, size, "digital skips");
    const char *lvl = opt(argc, argv, "--sskip", "none"), *ks = opt(argc, argv, "--k", NULL);
    const char *noise = opt(argc, argv, "--sskip-noise", "yes");
    if (strcmp(lvl, "none") == 0)
        return ks ? tdi_err_set(err, TDI_EARG, "--k needs --sskip e1|e2|all") : TDI_OK;
    tdi_unet_sfit_opts o = {opt(argc, argv, "--sskip-config", DEFAULT_E2E_CONFIG), ckpt,
                            tdi_unet_sfit_levels(lvl), 0, strcmp(noise, "yes") == 0, NULL};
    if (!o.levels)
        return tdi_err_set(err, TDI_EARG, "--sskip '%s': want none, e1, e2 or all", lvl);
    if (!ks)
        return tdi_err_set(err, TDI_EARG, "--sskip %s needs --k K (a rank) or --k mean", lvl);
    if (strcmp(noise, "yes") != 0 && strcmp(noise, "no") != 0)
        return tdi_err_set(err, TDI_EARG, "--sskip-noise '%s': want yes or no", noise);
    int rc = strcmp(ks, "mean") == 0 ? TDI_OK : parse_long(ks, "--k", &o.k, err);
    if (!rc && strcmp(ks, "mean") != 0 && o.k < 1)
        rc = tdi_err_set(err, TDI_EARG, "--k %ld: want a rank >= 1 or mean", o.k);
    if (!rc)
        rc = tdi_unet_sfit_load(&o, f, stderr, err);
    for (int lv = 0; !rc && lv < 2; lv++)
        if (f->sk[lv] && f->lv[lv].C != (size_t)c->channels << lv)
            rc = tdi_err_set(err, TDI_ECONFIG, "%s: the fit's e%d has %zu channels, the U-Net "
                             "%ld", o.e2e_config, lv + 1, f->lv[lv].C, c->channels << lv);
    size_t len = 0;
    desc[0] = 0;
    for (int lv = 0; !rc && lv < 2; lv++) {
        const tdi_unet_sfit_level *L = &f->lv[lv];
        if (!f->sk[lv])
            continue;
        if (L->k)
            len += (size_t)snprintf(desc + len, size - len, "%se%d substrate k = %zu of %zu "
                                    "(noise sd rms %.4g%s)", len ? ", " : "", lv + 1, L->k,
                                    L->C, L->sd_rms, o.noise ? "" : ", off");
        else
            len += (size_t)snprintf(desc + len, size - len, "%se%d mean", len ? ", " : "",
                                    lv + 1);
        if (len >= size)
            break;
    }
    if (rc)
        tdi_unet_sfit_destroy(f);
    return rc;
}

static int cmd_eval(const tdi_unet_config *c, const char *ckpt, tdi_err *err)
{
    tdi_unet_eval_result r;
    int rc = tdi_unet_eval(c, ckpt, &r, stderr, err);
    if (rc)
        return rc;
    static const char *names[] = {"[0, 100)", "[100, 300)", "[300, 600)", "[600, 1000)"};
    printf("test-set epsilon-MSE of %s (%ld images, one t per image, eval.seed %ld)\n", ckpt,
           c->eval_n, c->eval_seed);
    printf("| t bucket | images | model | trivial (eps-hat = 0) |\n|---|---|---|---|\n");
    for (int k = 0; k < TDI_UNET_NBUCKETS; k++)
        printf("| %s | %ld | %.4f | %.4f |\n", names[k], r.n[k], r.mse[k], r.trivial[k]);
    printf("| all | %ld | %.4f | %.4f |\n", r.n[0] + r.n[1] + r.n[2] + r.n[3], r.mse_all,
           r.trivial_all);
    return TDI_OK;
}

static int cmd_sample(const tdi_unet_config *c, const char *ckpt, const char *out, long n,
                      size_t cols, const tdi_unet_sampler *sm, const tdi_unet_sfit *sf,
                      const char *desc, tdi_err *err)
{
    float *img = malloc((size_t)n * 1024 * sizeof *img);
    if (!img)
        return tdi_err_set(err, TDI_ENOMEM, "sample: out of memory");
    const double t0 = tdi_clock_s(CLOCK_MONOTONIC);
    int rc = tdi_unet_sample_ckpt_sskip(c, ckpt, sm, sf->sk, (size_t)n, img, stderr, err);
    const double el = tdi_clock_s(CLOCK_MONOTONIC) - t0;
    if (!rc)
        rc = write_grid(out, img, (size_t)n, cols, err);
    char name[64];
    sampler_name(sm, name, sizeof name);
    if (!rc)
        printf("wrote %s (%ld samples, %s, seed %lu%s%s; %.1f s, %.2f images/s)\n", out, n,
               name, sm->seed, sf->sk[0] || sf->sk[1] ? "; " : "",
               sf->sk[0] || sf->sk[1] ? desc : "", el, (double)n / el);
    free(img);
    return rc;
}

/* Samples n images and prints their Frechet distance, class histogram and confidence. */
static int cmd_fid(const tdi_unet_config *c, const char *ckpt, const char *clf_path, long n,
                   const char *grid, const tdi_unet_sampler *sm, const tdi_unet_sfit *sf,
                   const char *desc, tdi_err *err)
{
    tdi_unet_dataset test = {0};
    tdi_clf *m = NULL;
    float *img = malloc((size_t)n * 1024 * sizeof *img);
    int rc = img ? TDI_OK : tdi_err_set(err, TDI_ENOMEM, "fid: out of memory");
    if (!rc)
        rc = tdi_clf_load(clf_path, 250, &m, NULL, err);
    if (!rc)
        rc = tdi_unet_dataset_load(&test, c->data_dir, "test", err);
    const double t0 = tdi_clock_s(CLOCK_MONOTONIC);
    if (!rc)
        rc = tdi_unet_sample_ckpt_sskip(c, ckpt, sm, sf->sk, (size_t)n, img, stderr, err);
    const double ts = tdi_clock_s(CLOCK_MONOTONIC) - t0;
    tdi_fid_report r;
    if (!rc && grid)
        rc = write_grid(grid, img, (size_t)(n < 64 ? n : 64), 0, err);
    if (!rc)
        rc = tdi_fid_evaluate(m, img, (size_t)n, &test, &r, err);
    const double te = tdi_clock_s(CLOCK_MONOTONIC) - t0 - ts;
    if (!rc) {
        char name[64];
        sampler_name(sm, name, sizeof name);
        printf("%s, %ld images, seed %lu, checkpoint %s, classifier %s\n", name, n, sm->seed,
               ckpt, clf_path);
        if (sf->sk[0] || sf->sk[1])
            printf("substrate skips: %s\n", desc);
        printf("sampling %.1f s (%.2f images/s), evaluation %.1f s\n", ts, (double)n / ts, te);
        printf("FD %.4f (test vs test floor %.4f)\nclass histogram", r.fd, r.floor_fd);
        for (int k = 0; k < TDI_CLF_CLASSES; k++)
            printf(" %ld", r.hist[k]);
        printf("\nspread (TV from uniform) %.4f (test %.4f)\nconfidence %.4f (test %.4f)\n",
               r.spread, r.ref_spread, r.confidence, r.ref_confidence);
        if (grid)
            printf("wrote %s (the first %ld samples)\n", grid, n < 64 ? n : 64);
    }
    tdi_unet_dataset_destroy(&test);
    tdi_clf_free(m);
    free(img);
    return rc;
}

static int cmd_e2e(const char *preset, int argc, char **argv, tdi_err *err)
{
    tdi_unet_e2e_cfg ec;
    long n = 0;
    const char *sde = opt(argc, argv, "--sde", "no");
    int rc = preset ? tdi_unet_e2e_cfg_load(preset, &ec, err)
                    : tdi_err_set(err, TDI_EARG, "e2e needs a PRESET (configs/e2e.yaml)");
    if (!rc && opt(argc, argv, "--test-images", NULL))
        rc = parse_long(opt(argc, argv, "--test-images", ""), "--test-images", &n, err);
    if (!rc && (n < 0 || n > 10000))
        rc = tdi_err_set(err, TDI_EARG, "--test-images %ld: want 1..10000", n);
    if (!rc && strcmp(sde, "yes") != 0 && strcmp(sde, "no") != 0)
        rc = tdi_err_set(err, TDI_EARG, "--sde '%s': want yes or no", sde);
    return rc ? rc : tdi_unet_e2e_run(&ec, n, strcmp(sde, "yes") == 0, stdout, err);
}

static int cmd_classifier(const char *cmd, const char *cfg_path, const char *clf, tdi_err *err)
{
    tdi_clf_config cc;
    int rc = tdi_clf_config_load(&cc, cfg_path, err);
    if (rc)
        return rc;
    if (strcmp(cmd, "classifier-train") == 0) {
        double acc = 0.0;
        const double t0 = tdi_clock_s(CLOCK_MONOTONIC);
        if ((rc = tdi_clf_train(&cc, &acc, stderr, err)))
            return rc;
        printf("wrote %s (%.1f s); test accuracy %.4f (10000 images)\n", cc.out,
               tdi_clock_s(CLOCK_MONOTONIC) - t0, acc);
        return TDI_OK;
    }
    tdi_clf *m = NULL;
    tdi_unet_dataset test = {0};
    const char *path = clf ? clf : cc.out;
    if (!(rc = tdi_clf_load(path, 250, &m, NULL, err)) &&
        !(rc = tdi_unet_dataset_load(&test, cc.data_dir, "test", err)))
        printf("%s: test accuracy %.4f (%zu images, %zu parameters)\n", path,
               tdi_clf_accuracy(m, test.img, test.label, test.n), test.n, m->n_params);
    tdi_unet_dataset_destroy(&test);
    tdi_clf_free(m);
    return rc;
}

/* Preset export: reads seed, export.* of a preset config; ignores the other components'
 * sections (they check their own keys). */
/* The paper's decoder statistics used for real (tdi_unet_dstat.h): prints the table. */
static int cmd_e2e_paper(const tdi_unet_config *c, const char *preset, tdi_err *err)
{
    tdi_unet_dstat_result r;
    int rc = tdi_unet_dstat_run(c, preset, &r, stderr, err);
    if (rc)
        return rc;
    printf("decoder statistics of %s: %s's %zu pooled means (pool %zu) replaced, within-region "
           "deviations kept; %zu test images at t = %ld\n", preset, r.block, r.D, r.pool, r.n,
           r.t);
    printf("| row | eps-MSE | change vs unmodified (+- s.e.) | cos_centered | R^2 |\n"
           "|---|---|---|---|---|\n");
    for (int k = 0; k < TDI_UNET_DSTAT_NROWS; k++)
        if (r.have[k])
            printf("| %s | %.6f | %+.6f (%.6f) | %.4f | %.4f |\n", tdi_unet_dstat_row_names[k],
                   r.eps_mse[k], r.eps_mse[k] - r.eps_mse[0], r.d_se[k], r.cos_centered[k],
                   r.r2[k]);
    printf("trivial (eps-hat = 0) %.4f; checks: max |xt - bundle xt| %.3g, max |U-Net means - "
           "bundle truth| %.3g, max |eps(exact) - eps(unmodified)| %.3g\n",
           r.trivial, r.max_xt_diff, r.max_truth_diff, r.max_exact_diff);
    printf("wrote %s (forward passes %.1f s wall)\n", r.csv, r.wall_s);
    return TDI_OK;
}

/* The skip-aware fine-tune (tdi_unet_tune.h): fit, tune, table. */
static int cmd_finetune(const tdi_unet_config *c, const char *path, tdi_err *err)
{
    tdi_unet_tune_cfg t;
    int rc = tdi_unet_tune_cfg_load(&t, path, err);
    tdi_unet_tune_table tab;
    if (rc || (rc = tdi_unet_tune_run(c, &t, &tab, stderr, err)))
        return rc;
    char noise[600];
    if (strcmp(t.noise, "circuit") == 0)
        snprintf(noise, sizeof noise, "the circuit's per channel (%s)", t.circuit);
    else
        snprintf(noise, sizeof noise, "ratio %g", t.noise_ratio);
    printf("skip-aware fine-tune %s: %s skip k = %ld pool %ld, read-out noise %s; %ld steps of "
           "batch %ld at lr %g from %s\n", path, t.level, t.k, t.pool, noise, t.steps, t.batch,
           t.lr, t.checkpoint);
    printf("| model, skip | t [0, 100) | [100, 300) | [300, 600) | [600, 1000) | all |\n"
           "|---|---|---|---|---|---|\n");
    for (int k = 0; k < TDI_UNET_TUNE_NROWS; k++)
        printf("| %s | %.4f | %.4f | %.4f | %.4f | %.4f |\n", tab.row[k], tab.mse[k][0],
               tab.mse[k][1], tab.mse[k][2], tab.mse[k][3], tab.mse[k][4]);
    printf("(%ld test images, eval.seed draws)\nwall: fit %.1f s, fine-tune %.1f s, table %.1f s;"
           " wrote %s/unet-tuned.ckpt and %s\n", tab.n[0] + tab.n[1] + tab.n[2] + tab.n[3],
           tab.fit_s, tab.tune_s, tab.eval_s, t.out, tab.csv);
    return TDI_OK;
}

static int cmd_export_preset(const tdi_unet_config *c, const char *preset, tdi_err *err)
{
    long seed = 1, t = 200, n_fit = 10000, n_test = 10000, pool = 1;
    char name[128] = "", out[512] = "out", dir[512] = "", ckpt[512] = "";
    snprintf(ckpt, sizeof ckpt, "%s", c->out);
    tdi_cfg_key keys[] = {
        {"seed", TDI_CFG_INT, &seed, 0, 4294967295.0, 0, NULL, NULL, 0},
        {"name", TDI_CFG_NAME, name, 0, 0, sizeof name, NULL, NULL, 0},
        {"out", TDI_CFG_STRING, out, 0, 0, sizeof out, NULL, NULL, 0},
        {"export.checkpoint", TDI_CFG_STRING, ckpt, 0, 0, sizeof ckpt, NULL, NULL, 0},
        {"export.dir", TDI_CFG_STRING, dir, 0, 0, sizeof dir, NULL, NULL, 0},
        {"export.t", TDI_CFG_INT, &t, 0, 999, 0, NULL, NULL, 0},
        {"export.n_fit", TDI_CFG_INT, &n_fit, 1, 60000, 0, NULL, NULL, 0},
        {"export.n_test", TDI_CFG_INT, &n_test, 1, 10000, 0, NULL, NULL, 0},
        {"export.pool", TDI_CFG_INT, &pool, 1, 8, 0, NULL, NULL, 0},
    };
    int rc = tdi_cfg_load_preset(preset, NULL, keys, sizeof keys / sizeof keys[0], 0, err);
    if (rc)
        return rc;
    if (!dir[0])
        snprintf(dir, sizeof dir, "%s", out);
    char fit[1024], test[1024];
    snprintf(fit, sizeof fit, "%s/activations-fit", dir);
    snprintf(test, sizeof test, "%s/activations-test", dir);
    tdi_unet_export_opts o = {ckpt, "train", n_fit, 0, t, pool, (uint64_t)seed, fit};
    if ((rc = tdi_unet_export(c, &o, stderr, err)))
        return rc;
    printf("wrote %s (%ld train images, t = %ld, seed %ld)\n", fit, n_fit, t, seed);
    tdi_unet_export_opts o2 = {ckpt, "test", n_test, 0, t, pool, (uint64_t)seed, test};
    if ((rc = tdi_unet_export(c, &o2, stderr, err)))
        return rc;
    printf("wrote %s (%ld test images, t = %ld, seed %ld)\n", test, n_test, t, seed);
    return TDI_OK;
}

/* sample | fid: the sampler, N, columns and skips from the command line, then the grid or the
 * Frechet distance (fid: the classifier's config for its checkpoint). */
static int cmd_sampling(int argc, char **argv, tdi_unet_config *c, const char *ckpt, int fid,
                        tdi_err *err)
{
    int rc;
    long n = fid ? 2000 : c->sample_n;
    tdi_unet_sampler sm;
    rc = parse_sampler(argc, argv, c, &sm, err);
    if (!rc && opt(argc, argv, "--n", NULL))
        rc = parse_long(opt(argc, argv, "--n", ""), "--n", &n, err);
    if (!rc && (n < 1 + fid || n > 10000))
        rc = tdi_err_set(err, TDI_EARG, "--n %ld: want %d..10000", n, 1 + fid);
    long cols = 0;
    if (!rc && opt(argc, argv, "--cols", NULL))
        rc = parse_long(opt(argc, argv, "--cols", ""), "--cols", &cols, err);
    if (!rc && (cols < 0 || cols > n))
        rc = tdi_err_set(err, TDI_EARG, "--cols %ld: want 1..%ld", cols, n);
    tdi_clf_config cc;
    if (!rc && fid)
        rc = tdi_clf_config_load(&cc, DEFAULT_CLF_CONFIG, err);
    tdi_unet_sfit sf;
    memset(&sf, 0, sizeof sf);
    char desc[256];
    if (!rc)
        rc = load_skips(argc, argv, c, ckpt, &sf, desc, sizeof desc, err);
    if (!rc && fid)
        rc = cmd_fid(c, ckpt, opt(argc, argv, "--clf", cc.out), n,
                     opt(argc, argv, "--grid", NULL), &sm, &sf, desc, err);
    else if (!rc)
        rc = cmd_sample(c, ckpt, opt(argc, argv, "--out", c->sample_out), n, (size_t)cols,
                        &sm, &sf, desc, err);
    tdi_unet_sfit_destroy(&sf);
    return rc;
}

/* export --split ...: one activation bundle from the command line's split, N, t, seed, first,
 * pool and output directory. */
static int cmd_export_split(int argc, char **argv, const tdi_unet_config *c, const char *ckpt,
                            tdi_err *err)
{
    int rc;
    const char *split = opt(argc, argv, "--split", NULL), *out = opt(argc, argv, "--out", NULL);
    long n = 0, t = 0, seed = 0, first = 0, pool = 1;
    rc = (!split || !out || !opt(argc, argv, "--n", NULL) || !opt(argc, argv, "--t", NULL) ||
          !opt(argc, argv, "--seed", NULL))
             ? tdi_err_set(err, TDI_EARG, "export needs a PRESET or --split, --n, --t, "
                           "--seed and --out")
             : TDI_OK;
    if (!rc && strcmp(split, "train") != 0 && strcmp(split, "test") != 0)
        rc = tdi_err_set(err, TDI_EARG, "--split '%s': want train or test", split);
    if (!rc)
        rc = parse_long(opt(argc, argv, "--n", ""), "--n", &n, err);
    if (!rc)
        rc = parse_long(opt(argc, argv, "--t", ""), "--t", &t, err);
    if (!rc)
        rc = parse_long(opt(argc, argv, "--seed", ""), "--seed", &seed, err);
    if (!rc)
        rc = parse_long(opt(argc, argv, "--first", "0"), "--first", &first, err);
    if (!rc)
        rc = parse_long(opt(argc, argv, "--pool", "1"), "--pool", &pool, err);
    if (!rc && seed < 0)
        rc = tdi_err_set(err, TDI_EARG, "--seed %ld: must be >= 0", seed);
    if (!rc) {
        tdi_unet_export_opts o = {ckpt, split, n, first, t, pool, (uint64_t)seed, out};
        rc = tdi_unet_export(c, &o, stderr, err);
        if (!rc)
            printf("wrote %s (%ld %s images from %ld, t = %ld, seed %ld, pool %ld)\n", out, n,
                   split, first, t, seed, pool);
    }
    return rc;
}

/* bench: training and inference images/s at --batch for --seconds, with or without skips. */
static int cmd_bench(int argc, char **argv, const tdi_unet_config *c, tdi_err *err)
{
    int rc;
    long b = 64, secs = 10;
    rc = parse_long(opt(argc, argv, "--batch", "64"), "--batch", &b, err);
    if (!rc)
        rc = parse_long(opt(argc, argv, "--seconds", "10"), "--seconds", &secs, err);
    if (!rc && (b < 1 || b > 4096 || secs < 1))
        rc = tdi_err_set(err, TDI_EARG, "bench: --batch 1..4096, --seconds >= 1");
    const char *ss = opt(argc, argv, "--sskip", "no");
    if (!rc && strcmp(ss, "yes") != 0 && strcmp(ss, "no") != 0)
        rc = tdi_err_set(err, TDI_EARG, "bench: --sskip yes|no, not '%s'", ss);
    double tr = 0, inf = 0;
    size_t np = 0;
    if (!rc)
        rc = tdi_unet_bench(c, b, (double)secs, strcmp(ss, "yes") == 0, &tr, &inf, &np,
                            err);
    if (!rc)
        printf("U-Net C=%ld batch %ld%s: params %zu: training %.1f images/s (forward + "
               "backward + Adam), inference %.1f images/s\n",
               c->channels, b, strcmp(ss, "yes") == 0 ? " substrate skips e1+e2" : "", np,
               tr, inf);
    return rc;
}

int main(int argc, char **argv)
{
    /* OpenMP threads that spin while OpenBLAS's own threads work cost about a third of the speed
     * on 2 cores: make idle OpenMP threads sleep (re-executes; see tdi_cli.h). */
    if (tdi_cli_start(argc, argv, usage))
        return 0;
    gsl_set_error_handler_off();
    static const char *const cmds[] = {"train",  "eval", "sample", "export", "bench", "fid",
                                       "classifier-train", "classifier-eval", "e2e", "e2e-paper",
                                       "finetune", NULL};
    int known_cmd = 0;
    for (const char *const *k = cmds; argc >= 2 && *k; k++)
        known_cmd |= strcmp(argv[1], *k) == 0;
    if (!known_cmd) {
        if (argc >= 2)
            fprintf(stderr, "tdi-unet: error: unknown command '%s'\n", argv[1]);
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    tdi_err err;
    tdi_err_clear(&err);
    tdi_unet_config c;
    const char *pos = NULL;
    static const char *const known[] = {"--ckpt", "--out", "--n", "--batch", "--seconds",
                                        "--split", "--t", "--seed", "--first", "--pool",
                                        "--unet", "--sampler", "--steps", "--eta", "--clf",
                                        "--grid", "--clip-x0", "--test-images", "--sde", "--sskip",
                                        "--k", "--sskip-config", "--sskip-noise", "--cols", NULL};
    if (check_args(argc, argv, known, &pos, &err)) {
        usage(stderr);
        die(&err);
        return 2;
    }
    /* commands whose positional argument is not the U-Net config (that one is --unet) */
    const int is_export = strcmp(cmd, "export") == 0 || strcmp(cmd, "e2e-paper") == 0 ||
                          strcmp(cmd, "finetune") == 0;
    if (strcmp(cmd, "e2e") == 0)
        return cmd_e2e(pos, argc, argv, &err) ? die(&err) : 0;
    if (strncmp(cmd, "classifier-", 11) == 0) {
        if (cmd_classifier(cmd, pos ? pos : DEFAULT_CLF_CONFIG, opt(argc, argv, "--clf", NULL),
                           &err))
            return die(&err);
        return 0;
    }
    const char *cfg_path = is_export ? opt(argc, argv, "--unet", DEFAULT_CONFIG)
                                     : (pos ? pos : DEFAULT_CONFIG);
    if (tdi_unet_config_load(&c, cfg_path, &err))
        return die(&err);
    const char *ckpt = opt(argc, argv, "--ckpt", c.out);
    int rc;
    if (strcmp(cmd, "train") == 0) {
        rc = tdi_unet_train(&c, 0, stderr, &err);
        if (!rc)
            printf("wrote %s and %s\n", c.state, c.out);
    } else if (strcmp(cmd, "eval") == 0) {
        rc = cmd_eval(&c, ckpt, &err);
    } else if (strcmp(cmd, "sample") == 0 || strcmp(cmd, "fid") == 0) {
        rc = cmd_sampling(argc, argv, &c, ckpt, strcmp(cmd, "fid") == 0, &err);
    } else if (strcmp(cmd, "finetune") == 0) {
        rc = pos ? cmd_finetune(&c, pos, &err)
                 : tdi_err_set(&err, TDI_EARG, "finetune needs a config (configs/finetune.yaml)");
    } else if (strcmp(cmd, "e2e-paper") == 0) {
        rc = pos ? cmd_e2e_paper(&c, pos, &err)
                 : tdi_err_set(&err, TDI_EARG, "e2e-paper needs a PRESET (configs/paper.yaml)");
    } else if (is_export && pos) {
        rc = cmd_export_preset(&c, pos, &err);
    } else if (is_export) {
        rc = cmd_export_split(argc, argv, &c, ckpt, &err);
    } else if (strcmp(cmd, "bench") == 0) {
        rc = cmd_bench(argc, argv, &c, &err);
    } else {
        rc = tdi_err_set(&err, TDI_EARG, "unknown command '%s'", cmd); /* cmds[] above */
    }
    return rc ? die(&err) : 0;
}
