/* tdi_cosim_app: the tdi-cosim job. Reads the substrate bundle and the circuit config, runs the
 * digital interface (enc/transfer networks, or A x and the static c in skip mode) per test
 * sample, drives the engines (analytic, sde, spice) through the DAC/ADC models, and writes
 * <out>/cosim/results.json and samples.csv: metrics against the U-Net truth beside baselines,
 * predicted vs measured readout error, time to solution, the energy ledger (docs/physics.md 7).
 * Read-out: the mean of ADC conversions of y over a window (circuit.readout_stage: none), or one
 * conversion per unit of the analog stage's output r at the end of the slot (rc).
 * results.json layout: {"preset", "config", "circuit": {...}, "timing": {...},
 *   "engines": {"<name>": {"cos_paper", "cos_centered", "r2", "cpu_s", "ticks_per_s", ...}},
 *   "baselines": {...}, "readout": {...}, "energy": {...}}.
 * Non-goals: netlist generation (generator), fitting (tools/substrate). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>

#include "tdi_cfg.h"
#include "tdi_cosim.h"
#include "tdi_gen.h"
#include "tdi_io.h"
#include "tdi_npy.h"
#include "tdi_sub.h"

void tdi_cosim_cfg_defaults(tdi_cosim_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->seed = 1;
    snprintf(c->name, sizeof c->name, "paper");
    snprintf(c->out, sizeof c->out, "out/paper");
    c->n_samples = 16;
    c->first = 0;
    c->analytic = c->sde = c->spice = 1;
    snprintf(c->schedule, sizeof c->schedule, "auto");
    c->noise = 1;
    c->dac_bits = 10;
    c->adc_bits = 12;
    c->progress = 1;
    c->paper_row = 1;
    c->paper_row_samples = 64;
    c->wave_every = 1;
    c->wave_samples = 1;
    c->vdd = 0.8;
    c->gm_over_id = 20.0;
    c->dac_fom = 5e-15;
    c->adc_fom = 5e-15;
    c->e_mac = 4.6e-12;
    c->e_read = 10e-12;
    c->gpu_step = 52e-3;
    c->gpu_replaced_fraction = 0.315;
}

int tdi_cosim_cfg_load(const char *path, tdi_cosim_cfg *c, tdi_err *err)
{
    tdi_cosim_cfg_defaults(c);
    c->path = path;
    tdi_cfg_key keys[] = {
        {"seed", TDI_CFG_INT, &c->seed, 0, 4294967295.0, 0, NULL, NULL, 0},
        {"name", TDI_CFG_NAME, c->name, 0, 0, sizeof c->name, NULL, NULL, 0},
        {"out", TDI_CFG_STRING, c->out, 0, 0, sizeof c->out, NULL, NULL, 0},
        {"cosim.n_samples", TDI_CFG_INT, &c->n_samples, 1, 1e7, 0, NULL, NULL, 0},
        {"cosim.first", TDI_CFG_INT, &c->first, 0, 1e8, 0, NULL, NULL, 0},
        {"cosim.sde", TDI_CFG_BOOL, &c->sde, 0, 0, 0, NULL, NULL, 0},
        {"cosim.spice", TDI_CFG_BOOL, &c->spice, 0, 0, 0, NULL, NULL, 0},
        {"cosim.spice_samples", TDI_CFG_INT, &c->spice_samples, 0, 1e7, 0, NULL, NULL, 0},
        {"cosim.avg_relax", TDI_CFG_DOUBLE, &c->avg_relax, 0, 1e6, 0, NULL, NULL, 0},
        {"cosim.schedule", TDI_CFG_STRING, c->schedule, 0, 0, sizeof c->schedule, NULL,
         "auto|batch|per_sample", 0},
        {"cosim.noise", TDI_CFG_BOOL, &c->noise, 0, 0, 0, NULL, NULL, 0},
        {"cosim.tick", TDI_CFG_DOUBLE, &c->tick, 0, 1e3, 0, NULL, NULL, 0},
        {"cosim.t_settle", TDI_CFG_DOUBLE, &c->t_settle, 0, 1e6, 0, NULL, NULL, 0},
        {"cosim.t_avg", TDI_CFG_DOUBLE, &c->t_avg, 0, 1e6, 0, NULL, NULL, 0},
        {"cosim.dac_bits", TDI_CFG_INT, &c->dac_bits, 0, 30, 0, NULL, NULL, 0},
        {"cosim.dac_full_scale", TDI_CFG_DOUBLE, &c->dac_fs, 0, 1e12, 0, NULL, NULL, 0},
        {"cosim.adc_bits", TDI_CFG_INT, &c->adc_bits, 0, 30, 0, NULL, NULL, 0},
        {"cosim.adc_full_scale", TDI_CFG_DOUBLE, &c->adc_fs, 0, 1e6, 0, NULL, NULL, 0},
        {"cosim.adc_rate", TDI_CFG_DOUBLE, &c->adc_rate, 0, 1e15, 0, NULL, NULL, 0},
        {"cosim.progress", TDI_CFG_BOOL, &c->progress, 0, 0, 0, NULL, NULL, 0},
        {"cosim.paper_row", TDI_CFG_BOOL, &c->paper_row, 0, 0, 0, NULL, NULL, 0},
        {"cosim.paper_row_samples", TDI_CFG_INT, &c->paper_row_samples, 0, 1e7, 0, NULL, NULL,
         0},
        {"cosim.waveform_units", TDI_CFG_ILIST, c->wave_units, 0, 1e7, 16, &c->n_wave_units,
         NULL, 0},
        {"cosim.waveform_every", TDI_CFG_INT, &c->wave_every, 1, 1e9, 0, NULL, NULL, 0},
        {"cosim.waveform_samples", TDI_CFG_INT, &c->wave_samples, 1, 1e7, 0, NULL, NULL, 0},
        {"energy.vdd", TDI_CFG_DOUBLE, &c->vdd, 0, 100, 0, NULL, NULL, 0},
        {"energy.gm_over_id", TDI_CFG_DOUBLE, &c->gm_over_id, 1e-3, 100, 0, NULL, NULL, 0},
        {"energy.dac_fom", TDI_CFG_DOUBLE, &c->dac_fom, 0, 1, 0, NULL, NULL, 0},
        {"energy.adc_fom", TDI_CFG_DOUBLE, &c->adc_fom, 0, 1, 0, NULL, NULL, 0},
        {"energy.mac", TDI_CFG_DOUBLE, &c->e_mac, 0, 1, 0, NULL, NULL, 0},
        {"energy.weight_read", TDI_CFG_DOUBLE, &c->e_read, 0, 1, 0, NULL, NULL, 0},
        {"energy.gpu_step", TDI_CFG_DOUBLE, &c->gpu_step, 0, 1e6, 0, NULL, NULL, 0},
        {"energy.gpu_replaced_fraction", TDI_CFG_DOUBLE, &c->gpu_replaced_fraction, 0, 1, 0,
         NULL, NULL, 0},
    };
    size_t nk = sizeof keys / sizeof keys[0];
    int rc = tdi_cfg_load_preset(path, NULL, keys, nk, 3, err); /* seed, name, out required */
    if (rc)
        return rc;
    return 0;
}

/* ------------------------------------------------------------------ helpers */
static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int load(const char *dir, const char *name, size_t rows, size_t cols, double **out,
                tdi_err *err)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return tdi_npy_load_f64(p, rows, cols, out, NULL, NULL, err);
}

/* y = W x + b, W (o, i) */
static void affine(const double *W, const double *b, size_t o, size_t in, const double *x,
                   double *y)
{
    for (size_t r = 0; r < o; r++) {
        double s = b[r];
        for (size_t q = 0; q < in; q++)
            s += W[r * in + q] * x[q];
        y[r] = s;
    }
}

void tdi_cosim_paper_interface(const double *const w[8], size_t D, const double *x,
                               double *b_enc, double *b_dec)
{
    double h4[4], h16[16];
    affine(w[0], w[1], 4, D, x, h4);
    affine(w[2], w[3], D, 4, h4, b_enc);
    affine(w[4], w[5], 16, D, b_enc, h16);
    for (int q = 0; q < 16; q++)
        h16[q] = h16[q] / (1.0 + exp(-h16[q])); /* SiLU */
    affine(w[6], w[7], D, 16, h16, b_dec);
}

/* The run's tick counts (tdi_cosim_timing_plan: checked, within the tick budget) from the
 * cosim keys, else the circuit's values; each with the key it came from, for messages. */
static int plan_timing(const tdi_cosim_cfg *cfg, const tdi_gen_config *g, const tdi_gen_phys *ph,
                       size_t ns, tdi_cosim_timing *tm, tdi_err *err)
{
    memset(tm, 0, sizeof *tm);
    tm->path = cfg->path;
    tm->n_samples = ns;
    tm->tick = cfg->tick > 0 ? cfg->tick : ph->noise_dt;
    tm->tick_key = cfg->tick > 0 ? "cosim.tick" : g->noise_dt > 0 ? "circuit.noise_dt"
                                                                   : "circuit.noise_frac";
    tm->t_settle = cfg->t_settle > 0 ? cfg->t_settle : ph->t_settle;
    tm->settle_key = cfg->t_settle > 0 ? "cosim.t_settle" : g->t_settle > 0 ? "circuit.t_settle"
                                                                           : "circuit.settle_eps";
    tm->t_avg = cfg->t_avg > 0 ? cfg->t_avg
                : cfg->avg_relax > 0 ? cfg->avg_relax * ph->t_slow : ph->t_avg;
    tm->avg_key = cfg->t_avg > 0 ? "cosim.t_avg" : cfg->avg_relax > 0 ? "cosim.avg_relax"
                  : g->t_avg > 0 ? "circuit.t_avg" : "circuit.avg_relax";
    /* ADC rate: configured, or 4 conversions per slowest relaxation time (averaging faster
       than the noise decorrelates adds conversions, not information) */
    tm->adc_rate = cfg->adc_rate > 0 ? cfg->adc_rate : 4.0 / ph->t_slow;
    tm->adc_key = "cosim.adc_rate";
    if (ph->ro) { /* analog read-out: one conversion, one tick after the stage has settled */
        if (ph->ro_settle > tm->t_settle) {
            tm->t_settle = ph->ro_settle;
            tm->settle_key = g->readout_tau > 0 ? "circuit.readout_tau" : tm->avg_key;
        }
        tm->t_avg = tm->tick;
        tm->adc_rate = 1.0 / tm->tick;
    }
    return tdi_cosim_timing_plan(tm, err);
}

/* Before a long run: the expected CPU time of each engine to stderr when over a minute. */
static void warn_long_run(const int want[3], const size_t nk[3], long L, size_t n_units)
{
    for (int k = 1; k < 3; k++) {
        double s = want[k] ? tdi_cosim_runtime_estimate((tdi_cosim_kind)k, n_units,
                                                         L * (long)nk[k]) : 0;
        if (s <= 60)
            continue;
        double v = s < 3600 ? s / 60 : s < 86400 ? s / 3600 : s / 86400;
        const char *u = s < 3600 ? "minutes" : s < 86400 ? "hours" : "days";
        fprintf(stderr, "tdi-cosim %s: expected CPU time about %.1f %s (an estimate: %ld ticks "
                "of %zu units at the rates scripts/cosim-rates.sh measured; docs/cosim.md, "
                "\"Tick budget\")\n",
                tdi_cosim_kind_name((tdi_cosim_kind)k), v, u, L * (long)nk[k], n_units);
    }
}

/* per-sample metrics: paper cosine with the global normalisation of the whole tensors,
 * centered cosine and R^2 about the fit mean */
static void row_metrics(const double *pred, const double *truth, const double *mean, size_t n,
                        size_t D, double *cp, double *cc, double *r2)
{
    double mp = 0, mt = 0, sp = 0, st = 0;
    for (size_t q = 0; q < n * D; q++) {
        mp += pred[q];
        mt += truth[q];
    }
    mp /= (double)(n * D);
    mt /= (double)(n * D);
    for (size_t q = 0; q < n * D; q++) {
        sp += (pred[q] - mp) * (pred[q] - mp);
        st += (truth[q] - mt) * (truth[q] - mt);
    }
    for (size_t s = 0; s < n; s++) {
        double ab = 0, aa = 0, bb = 0, cab = 0, caa = 0, cbb = 0, sse = 0;
        for (size_t j = 0; j < D; j++) {
            double a = pred[s * D + j] - mp, b = truth[s * D + j] - mt;
            ab += a * b;
            aa += a * a;
            bb += b * b;
            double ca = pred[s * D + j] - mean[j], cb = truth[s * D + j] - mean[j];
            cab += ca * cb;
            caa += ca * ca;
            cbb += cb * cb;
            sse += (pred[s * D + j] - truth[s * D + j]) * (pred[s * D + j] - truth[s * D + j]);
        }
        cp[s] = (sp > 0 && st > 0 && aa > 0 && bb > 0) ? ab / sqrt(aa * bb) : 0.0;
        cc[s] = (caa > 0 && cbb > 0) ? cab / sqrt(caa * cbb) : 0.0;
        r2[s] = cbb > 0 ? 1.0 - sse / cbb : 0.0;
    }
}

enum { ROW_ANALYTIC, ROW_SDE, ROW_SPICE, ROW_IDEAL, ROW_DIGITAL, ROW_MEAN, NROW };
_Static_assert((int)NROW == (int)TDI_COSIM_NROW && (int)ROW_SPICE == (int)TDI_COSIM_ROW_SPICE &&
                   (int)ROW_IDEAL == (int)TDI_COSIM_ROW_IDEAL &&
                   (int)ROW_MEAN == (int)TDI_COSIM_ROW_MEAN,
               "row order = tdi_cosim_summary order");
static const char *const row_name[NROW] = {"analytic", "sde", "spice", "analytic_ideal_dac",
                                           "digital_Binv_bdec", "mean"};

typedef struct row {
    int have;
    double *pred;             /* (ns, D) in simulation units, after gain */
    tdi_sub_metrics m;
    double *cp, *cc, *r2;     /* (ns) per-sample */
} row;

/* ------------------------------------------------------------------ analog read-out stage */
/* With the stage and no explicit readout_tau, the stage's bandwidth follows the cosim's
 * averaging window (tau_ro = t_avg / 2: the same noise bandwidth): give the generator that
 * window before it builds the circuit. */
static void stage_window(const tdi_cosim_cfg *cfg, tdi_gen_config *g)
{
    if (strcmp(g->readout_stage, "rc") != 0 || g->readout_tau > 0)
        return;
    if (cfg->t_avg > 0) {
        g->t_avg = cfg->t_avg;
    } else if (cfg->avg_relax > 0) {
        g->t_avg = 0;
        g->avg_relax = cfg->avg_relax;
    }
}

typedef struct stage_pred {
    double var_sub, var_own; /* V^2, mean over decoder units: filtered substrate, stage noise */
    double E_R_stage;        /* J per inference: g_ro v_r^2 of the stage units */
} stage_pred;

/* Predicted variance of the stage outputs (mean over units), docs/physics.md 9 (read-out). */
static int stage_predict(const tdi_cosim_circuit *cc, size_t N, size_t D, stage_pred *sp,
                         tdi_err *err)
{
    double *vs = malloc(sizeof(double) * D), *vo = malloc(sizeof(double) * D);
    int rc = !vs || !vo ? tdi_err_set(err, TDI_ENOMEM, "out of memory")
                        : tdi_cosim_stage_var(cc, N, vs, vo, err);
    sp->var_sub = sp->var_own = 0;
    for (size_t j = 0; j < D && !rc; j++) {
        sp->var_sub += vs[j] / (double)D;
        sp->var_own += vo[j] / (double)D;
    }
    free(vs);
    free(vo);
    return rc;
}

static void stage_report(FILE *rep, const tdi_gen_phys *ph, const stage_pred *sp, double q_adc,
                         double E_R, double E_active_stage)
{
    if (!ph->ro) {
        fprintf(rep, "read-out: ADC averaging of the decoder units (circuit.readout_stage: "
                "none)\n");
        return;
    }
    fprintf(rep, "read-out: analog stage per decoder unit (Gm-C low-pass, C_ro %.4g F, gm_ro = "
            "g_ro %.4g S, tau_ro %.4g s, g_n %.4g S), one ADC conversion per unit at the slot's "
            "end\n", ph->ro_C, ph->ro_g, ph->ro_tau, ph->ro_gn);
    fprintf(rep, "  predicted read-out variance: substrate through the stage %.4g V^2 + stage "
            "noise %.4g V^2 + quantisation q^2/12 %.4g V^2; stage dissipation %.4g J (in E_R), "
            "stage transconductors %.4g J (in E_active)\n", sp->var_sub, sp->var_own,
            q_adc * q_adc / 12.0, E_R, E_active_stage);
}

/* ------------------------------------------------------------------ the job */
int tdi_cosim_app_run(const tdi_cosim_cfg *cfg, FILE *rep, tdi_err *err)
{
    return tdi_cosim_app_run_ex(cfg, NULL, NULL, rep, err);
}

int tdi_cosim_app_run_ex(const tdi_cosim_cfg *cfg_in, const tdi_gen_config *gen,
                         tdi_cosim_summary *sum, FILE *rep, tdi_err *err)
{
    int rc = 0;
    tdi_cosim_cfg cfg_op = *cfg_in; /* cfg_in with the operating point's window and ADC */
    const tdi_cosim_cfg *cfg = &cfg_op;
    tdi_cosim_op_row paper_row;
    memset(&paper_row, 0, sizeof paper_row);
    tdi_gen_config gcfg;
    tdi_gen_bundle b;
    int have_bundle = 0;
    tdi_gen_circuit *gc = NULL;
    tdi_cosim_circuit *cc = NULL;
    double *x = NULL, *truth = NULL, *mean_fit = NULL, *gain = NULL;
    double *ew1 = NULL, *eb1 = NULL, *ew2 = NULL, *eb2 = NULL;
    double *tw1 = NULL, *tb1 = NULL, *tw2 = NULL, *tb2 = NULL;
    double *bsim = NULL, *ibias = NULL, *vstar = NULL;
    size_t *read = NULL;
    row rows[NROW];
    memset(rows, 0, sizeof rows);
    size_t nrow[NROW];
    tdi_cosim_out outs[3];
    memset(outs, 0, sizeof outs);
    double eng_wall[3] = {0, 0, 0};
    char tmp[1200] = "";
    int begun = 0;

    char odir[1100];
    if ((size_t)snprintf(odir, sizeof odir, "%s/cosim", cfg->out) >= sizeof odir)
        return tdi_err_set(err, TDI_ECONFIG, "%s: out: path too long (%zu bytes at most)",
                           cfg->path, sizeof odir - 7);
    if ((rc = tdi_dir_check(odir, err))) /* refuse a foreign target before the run */
        return rc;
    tdi_gen_config_init(&gcfg);
    if (gen)
        gcfg = *gen;
    else if ((rc = tdi_gen_config_load(cfg->path, &gcfg, err)))
        return rc;
    stage_window(cfg, &gcfg);
    char bdir[1100];
    int wb = gcfg.bundle[0] ? snprintf(bdir, sizeof bdir, "%s", gcfg.bundle)
                            : snprintf(bdir, sizeof bdir, "%s/substrate", cfg->out);
    if (wb < 0 || (size_t)wb >= sizeof bdir)
        return tdi_err_set(err, TDI_ECONFIG, "%s: bundle path too long (%zu bytes at most)",
                           cfg->path, sizeof bdir - 1);
    if ((rc = tdi_gen_bundle_read(bdir, &b, err)))
        return rc;
    have_bundle = 1;
    size_t D = b.D, N = 2 * D, nb = b.n;
    int skip = strcmp(b.mode, "skip") == 0;
    if ((size_t)cfg->first >= nb) {
        rc = tdi_err_set(err, TDI_ECONFIG, "%s: cosim.first = %ld but the bundle has %zu test "
                         "samples", cfg->path, cfg->first, nb);
        goto done;
    }
    size_t s0 = (size_t)cfg->first, ns = (size_t)cfg->n_samples;
    if (s0 + ns > nb)
        ns = nb - s0;
    if ((rc = load(bdir, "x.npy", nb, D, &x, err)) ||
        (rc = load(bdir, "truth.npy", nb, D, &truth, err)) ||
        (rc = load(bdir, "mean_fit.npy", D, 0, &mean_fit, err)) ||
        (rc = load(bdir, "gain.npy", D, 0, &gain, err)))
        goto done;
    if (!skip && ((rc = load(bdir, "enc_w1.npy", 4, D, &ew1, err)) ||
                  (rc = load(bdir, "enc_b1.npy", 4, 0, &eb1, err)) ||
                  (rc = load(bdir, "enc_w2.npy", D, 4, &ew2, err)) ||
                  (rc = load(bdir, "enc_b2.npy", D, 0, &eb2, err)) ||
                  (rc = load(bdir, "tr_w1.npy", 16, D, &tw1, err)) ||
                  (rc = load(bdir, "tr_b1.npy", 16, 0, &tb1, err)) ||
                  (rc = load(bdir, "tr_w2.npy", D, 16, &tw2, err)) ||
                  (rc = load(bdir, "tr_b2.npy", D, 0, &tb2, err))))
        goto done;

    if ((rc = tdi_gen_circuit_build(&gcfg, &b, &gc, err)))
        goto done;
    const tdi_gen_phys *ph = &gc->phys;
    tdi_cosim_op_apply(&cfg_op, gc);
    tdi_cosim_timing tm;
    if ((rc = plan_timing(cfg, &gcfg, ph, ns, &tm, err)))
        goto done;
    double tick = tm.tick, t_avg = tm.t_avg;
    long settle_ticks = tm.settle_ticks, avg_ticks = tm.avg_ticks, L = tm.per_sample;
    long stride = tm.stride;
    if ((rc = tdi_cosim_circuit_from_gen(gc, tick, tick * (double)L * (double)ns, &cc, err)))
        goto done;
    size_t NT = cc->n; /* units incl. the read-out stage's */
    if (cfg->deck_out) { /* benchmark helper: the deck ngspice would run, then stop */
        char *deck = tdi_cosim_spice_deck(cc, tick, cfg->deck_ticks, cfg->deck_plain, err);
        if (!deck) {
            rc = err ? err->code : TDI_ENOMEM;
            goto done;
        }
        rc = tdi_atomic_write_text(cfg->deck_out, deck, err);
        free(deck);
        goto done;
    }

    /* ---- the digital interface, per sample: b = [b_enc; b_dec] in simulation units */
    bsim = malloc(sizeof(double) * ns * N);
    ibias = calloc(ns * NT, sizeof(double)); /* the stage units' bias stays 0 */
    vstar = malloc(sizeof(double) * NT);
    read = malloc(sizeof(size_t) * D);
    if (!bsim || !ibias || !vstar || !read) {
        rc = tdi_err_set(err, TDI_ENOMEM, "out of memory");
        goto done;
    }
    long macs = 0;
    double bdiff = 0, bscale = 0;
    const char *iface = "enc 4 + transfer 16 (paper)";
    /* skip mode: b_enc = A x (D^2 MACs) or, when the bundle was written with
       skip_encoder: projected, A R R^T x = W2 (W1 x) (2 D k MACs); b_dec = c. The bundle's
       b_enc says which: the variant that reproduces it is used. */
    double *W1 = NULL, *W2 = NULL;
    int projected = 0;
    if (skip) {
        size_t kk = b.k > 0 ? b.k : 1, rank = 0;
        W1 = calloc(kk * D, sizeof(double));
        W2 = calloc(D * kk, sizeof(double));
        if (!W1 || !W2 || (b.k > 0 && tdi_sub_skip_encoder(b.A, b.P, D, b.k, W1, W2, &rank,
                                                            err))) {
            free(W1);
            free(W2);
            rc = W1 && W2 ? err->code : tdi_err_set(err, TDI_ENOMEM, "out of memory");
            goto done;
        }
        double dfull = 0, dproj = 0;
        for (size_t s = 0; s < ns; s++) {
            const double *xs = x + (s0 + s) * D, *bref = b.b_enc + (s0 + s) * D;
            double hk[256];
            for (size_t r = 0; r < b.k && r < 256; r++) {
                double acc = 0;
                for (size_t j = 0; j < D; j++)
                    acc += W1[r * D + j] * xs[j];
                hk[r] = acc;
            }
            for (size_t i = 0; i < D; i++) {
                double af = 0, ap = 0;
                for (size_t j = 0; j < D; j++)
                    af += b.A[i * D + j] * xs[j];
                for (size_t r = 0; r < b.k && r < 256; r++)
                    ap += W2[i * b.k + r] * hk[r];
                dfull = fmax(dfull, fabs(af - bref[i]));
                dproj = fmax(dproj, fabs(ap - bref[i]));
            }
        }
        projected = b.k > 0 && b.k <= 256 && dproj < dfull;
        iface = projected ? "A R R^T x (skip, projected)" : "A x (skip, full)";
    }
    for (size_t s = 0; s < ns; s++) {
        const double *xs = x + (s0 + s) * D;
        double *be = bsim + s * N, *bd = be + D;
        if (skip && projected) {
            double hk[256];
            for (size_t r = 0; r < b.k; r++) {
                double acc = 0;
                for (size_t j = 0; j < D; j++)
                    acc += W1[r * D + j] * xs[j];
                hk[r] = acc;
            }
            for (size_t i = 0; i < D; i++) {
                double acc = 0;
                for (size_t r = 0; r < b.k; r++)
                    acc += W2[i * b.k + r] * hk[r];
                be[i] = acc;
                bd[i] = b.c[i];
            }
        } else if (skip) {
            for (size_t i = 0; i < D; i++) {
                double acc = 0;
                for (size_t j = 0; j < D; j++)
                    acc += b.A[i * D + j] * xs[j];
                be[i] = acc;
                bd[i] = b.c[i];
            }
        } else {
            const double *w[8] = {ew1, eb1, ew2, eb2, tw1, tb1, tw2, tb2};
            tdi_cosim_paper_interface(w, D, xs, be, bd);
        }
        for (size_t i = 0; i < D; i++) {
            bdiff = fmax(bdiff, fabs(be[i] - b.b_enc[(s0 + s) * D + i]));
            bdiff = fmax(bdiff, fabs(bd[i] - b.b_dec[(s0 + s) * D + i]));
            bscale = fmax(bscale, fmax(fabs(be[i]), fabs(bd[i])));
        }
        for (size_t i = 0; i < N; i++)
            ibias[s * NT + i] = ph->gu * ph->Vs * be[i];
    }
    free(W1);
    free(W2);
    tdi_cosim_digeq dq;
    if ((rc = tdi_cosim_digeq_count(D, b.k, skip ? (projected ? 2 : 1) : 0, &dq, err)))
        goto done;
    macs = dq.iface_macs;
    /* the bundle's biases come from the same networks (formats.md): float64 rounding only */
    if (bdiff > 1e-9 * (bscale > 0 ? bscale : 1)) {
        rc = tdi_err_set(err, TDI_EFORMAT, "%s: the interface networks give biases that differ "
                         "from b_enc/b_dec.npy by %.3g (scale %.3g)", bdir, bdiff, bscale);
        goto done;
    }

    /* ---- converters */
    double bmax = 0;
    for (size_t q = 0; q < ns * N; q++)
        bmax = fmax(bmax, fabs(bsim[q]));
    double dac_fs_units = cfg->dac_fs > 0 ? cfg->dac_fs : 1.05 * bmax;
    double dac_fs = ph->gu * ph->Vs * dac_fs_units; /* A */
    double vmax = 0, sdmax = 0;
    for (size_t s = 0; s < ns; s++) {
        if ((rc = tdi_cosim_analytic_solve(cc, ibias + s * NT, vstar, err)))
            goto done;
        for (size_t i = D; i < N; i++)
            vmax = fmax(vmax, fabs(vstar[i]));
    }
    for (size_t i = D; i < N; i++)
        sdmax = fmax(sdmax, sqrt(gc->node_var[i]));
    double adc_fs = cfg->adc_fs > 0 ? cfg->adc_fs : 1.1 * (vmax + 6 * sdmax);
    for (size_t i = 0; i < D; i++)
        read[i] = (ph->ro ? N : D) + i;

    tdi_cosim_plan pl = {.n_samples = ns, .bias = ibias, .n_read = D, .read = read,
                         .tick = tick, .settle_ticks = settle_ticks, .avg_ticks = avg_ticks,
                         .batch = 1, .dac_bits = (int)cfg->dac_bits, .dac_fs = dac_fs,
                         .adc_bits = (int)cfg->adc_bits, .adc_fs = adc_fs, .adc_stride = stride,
                         .seed = tdi_seed((uint64_t)cfg->seed, TDI_SEED_COSIM_NOISE, 0),
                         .noise = cfg->noise, .stage_first = ph->ro ? N : 0};
    /* auto: spice one transient (bias schedule), sde one run per sample from rest, batched
       (tdi_cosim_sde_run_batch): the sde's per_sample numbers equal its batch schedule's up to
       the settling error settle_eps of each sample's start, and run as one GEMM per tick */
    int sched_batch[3] = {1, 1, 1};
    for (int k = 0; k < 3; k++)
        sched_batch[k] = strcmp(cfg->schedule, "per_sample") != 0 &&
                         !(k == TDI_COSIM_SDE && strcmp(cfg->schedule, "auto") == 0);
    pl.sde_per_run = cfg->sde_reference;
    pl.sde_general = cfg->sde_general || cfg->spice; /* sde vs spice: same noise, docs/sde.md */
    char sched_txt[64];
    if (strcmp(cfg->schedule, "auto") == 0)
        snprintf(sched_txt, sizeof sched_txt, "auto (sde per_sample, spice batch)");
    else
        snprintf(sched_txt, sizeof sched_txt, "%.15s", cfg->schedule);
    pl.batch = sched_batch[TDI_COSIM_SPICE];
    size_t wave[16];
    for (size_t q = 0; q < cfg->n_wave_units; q++) {
        if ((size_t)cfg->wave_units[q] >= NT) {
            rc = tdi_err_set(err, TDI_ECONFIG, "%s: cosim.waveform_units: unit %ld >= %zu units",
                             cfg->path, cfg->wave_units[q], NT);
            goto done;
        }
        wave[q] = (size_t)cfg->wave_units[q];
    }
    pl.wave = wave;
    pl.wave_every = cfg->wave_every;
    pl.wave_ticks = ((size_t)cfg->wave_samples < ns ? cfg->wave_samples : (long)ns) * L;

    if (rep) {
        fprintf(rep, "tdi-cosim %s: %zu samples (first %zu), D = %zu, mode %s, %zu units\n",
                cfg->name, ns, s0, D, b.mode, N);
        fprintf(rep, "  tick %.4g s, settle %ld ticks (%.4g s), average %ld ticks (%.4g s), "
                "ADC every %ld tick(s)\n", tick, settle_ticks, (double)settle_ticks * tick,
                avg_ticks, (double)avg_ticks * tick, stride);
        fprintf(rep, "  DAC %ld bits fs %.4g A (%.4g units), ADC %ld bits fs %.4g V, schedule "
                "%s, noise %s\n", cfg->dac_bits, dac_fs, dac_fs_units, cfg->adc_bits, adc_fs,
                sched_txt, cfg->noise ? "on" : "off");
        fprintf(rep, "  digital interface: %s, %ld MACs per sample\n", iface, macs);
    }
    /* the paper's kT = 1 row (sde) first (it was measured ~40x slower after a spice run, until
       tdi_cosim_spice_run restored the OpenMP thread count ngspice changes; order is now free) */
    if (gc->op.active && cfg_in->paper_row && cfg_in->sde && tdi_cosim_sde_supports(cc) &&
        (rc = tdi_cosim_op_paper_row(cfg_in, &gcfg, &b, bsim, ns, truth + s0 * D, mean_fit, gain,
                                     &paper_row, err)))
        goto done;

    /* ---- engines */
    int want[3] = {1, cfg->sde, cfg->spice}; /* analytic always: it is the readout reference */
    if (want[1] && !tdi_cosim_sde_supports(cc)) {
        want[1] = 0;
        if (rep)
            fprintf(rep, "  sde engine skipped: the circuit has no sde state\n");
    }
    size_t nk[3] = {ns, ns, ns};
    if (cfg->spice_samples > 0 && (size_t)cfg->spice_samples < ns)
        nk[2] = (size_t)cfg->spice_samples;
    warn_long_run(want, nk, L, cc->n);
    for (int k = 0; k < 3; k++) {
        if (!want[k])
            continue;
        pl.n_samples = nk[k];
        pl.batch = sched_batch[k];
        /* the waveform comes from the most physical engine that runs */
        int wave_k = want[2] ? 2 : want[1] ? 1 : -1;
        pl.n_wave = k == wave_k ? cfg->n_wave_units : 0;
        char label[64];
        snprintf(label, sizeof label, "tdi-cosim %s", tdi_cosim_kind_name((tdi_cosim_kind)k));
        pl.label = (cfg->progress && k != TDI_COSIM_ANALYTIC) ? label : NULL;
        double w0 = wall_now();
        rc = tdi_cosim_exp_run((tdi_cosim_kind)k, cc, &pl, &outs[k], err);
        eng_wall[k] = wall_now() - w0;
        if (rc) {
            tdi_err_prefix(err, "%s engine", tdi_cosim_kind_name((tdi_cosim_kind)k));
            goto done;
        }
    }

    /* ---- predictions and metrics */
    for (int r = 0; r < NROW; r++) {
        rows[r].pred = malloc(sizeof(double) * ns * D);
        rows[r].cp = malloc(sizeof(double) * ns);
        rows[r].cc = malloc(sizeof(double) * ns);
        rows[r].r2 = malloc(sizeof(double) * ns);
        if (!rows[r].pred || !rows[r].cp || !rows[r].cc || !rows[r].r2) {
            rc = tdi_err_set(err, TDI_ENOMEM, "out of memory");
            goto done;
        }
    }
    for (int r = 0; r < NROW; r++)
        nrow[r] = r < 3 ? nk[r] : ns;
    for (int k = 0; k < 3; k++) {
        if (!outs[k].est)
            continue;
        rows[k].have = 1;
        for (size_t s = 0; s < nk[k]; s++)
            for (size_t i = 0; i < D; i++)
                rows[k].pred[s * D + i] = outs[k].est[s * D + i] / ph->Vs * gain[i];
    }
    rows[ROW_IDEAL].have = rows[ROW_MEAN].have = 1;
    for (size_t s = 0; s < ns; s++)
        for (size_t i = 0; i < D; i++) {
            rows[ROW_IDEAL].pred[s * D + i] = b.analytic[(s0 + s) * D + i] * gain[i];
            rows[ROW_MEAN].pred[s * D + i] = mean_fit[i];
        }
    { /* digital: y = B^-1 b_dec, no substrate coupling (docs/paper.md) */
        gsl_matrix *Bm = gsl_matrix_alloc(D, D);
        if (!Bm) {
            rc = tdi_err_set(err, TDI_ENOMEM, "out of memory");
            goto done;
        }
        memcpy(Bm->data, b.B, sizeof(double) * D * D);
        if (gsl_linalg_cholesky_decomp1(Bm) == 0) {
            rows[ROW_DIGITAL].have = 1;
            for (size_t s = 0; s < ns; s++) {
                gsl_vector_view y = gsl_vector_view_array(rows[ROW_DIGITAL].pred + s * D, D);
                memcpy(y.vector.data, bsim + s * N + D, sizeof(double) * D);
                gsl_linalg_cholesky_svx(Bm, &y.vector);
                for (size_t i = 0; i < D; i++)
                    y.vector.data[i] *= gain[i];
            }
        }
        gsl_matrix_free(Bm);
    }
    const double *tr = truth + s0 * D;
    for (int r = 0; r < NROW; r++)
        if (rows[r].have) {
            rows[r].m = tdi_sub_metrics_eval(rows[r].pred, tr, mean_fit, nrow[r], D);
            row_metrics(rows[r].pred, tr, mean_fit, nrow[r], D, rows[r].cp, rows[r].cc,
                        rows[r].r2);
        }

    /* ---- readout error (V): measured vs analytic with the same DAC outputs; predicted from
       the OU zero-frequency PSD (docs/physics.md 5, generator's readout_sd for its window) plus the
       ADC's quantisation noise over the conversions averaged */
    double pred_var = 0;
    long conv = avg_ticks / stride;
    stage_pred sp = {0, 0, 0};
    if (ph->ro) {
        if ((rc = stage_predict(cc, N, D, &sp, err)))
            goto done;
        pred_var = sp.var_sub + sp.var_own;
    } else {
        tdi_cosim_sde *ps = tdi_cosim_sde_supports(cc) ? tdi_cosim_sde_alloc(cc, tick, err)
                                                       : NULL;
        int exact = ps != NULL;
        for (size_t i = D; i < N; i++) {
            double v = 0;
            if (exact && tdi_cosim_sde_mean_var(ps, cc, conv, stride, i, &v, err))
                exact = 0;
            pred_var += exact ? v : gc->readout_sd[i] * gc->readout_sd[i] * (ph->t_avg / t_avg);
        }
        if (!exact) { /* no sde model: the generator's continuous-window formula */
            pred_var = 0;
            for (size_t i = D; i < N; i++)
                pred_var += gc->readout_sd[i] * gc->readout_sd[i] * (ph->t_avg / t_avg);
        }
        tdi_cosim_sde_free(ps);
        tdi_err_clear(err);
        pred_var /= (double)D;
    }
    double q_adc = cfg->adc_bits > 0 ? 2 * adc_fs / ldexp(1.0, (int)cfg->adc_bits) : 0;
    double q_var = 0; /* quantisation, dithered by each unit's thermal noise (tdi_gen.h) */
    for (size_t i = D; i < N; i++)
        q_var += tdi_gen_quant_var(q_adc, cfg->noise ? sqrt(gc->node_var[i]) : 0, conv) / (double)D;
    double pred_rms = sqrt((cfg->noise ? pred_var : 0) + q_var);
    double meas_rms[3] = {0, 0, 0}, diff_sde_spice = NAN;
    for (int k = 1; k < 3; k++)
        if (outs[k].est) {
            double s2 = 0;
            for (size_t q = 0; q < nk[k] * D; q++) {
                double d = outs[k].est[q] - outs[0].est[q];
                s2 += d * d;
            }
            meas_rms[k] = sqrt(s2 / (double)(nk[k] * D));
        }
    if (outs[1].est && outs[2].est) { /* on the samples both ran */
        double s2 = 0;
        for (size_t q = 0; q < nk[2] * D; q++)
            s2 += (outs[1].est[q] - outs[2].est[q]) * (outs[1].est[q] - outs[2].est[q]);
        diff_sde_spice = sqrt(s2 / (double)(nk[2] * D));
    }

    double sig_units = 0; /* rms over units of the std over samples of analytic y */
    for (size_t i = 0; i < D; i++) {
        double m = 0, q = 0;
        for (size_t s = 0; s < ns; s++)
            m += outs[0].est[s * D + i];
        m /= (double)ns;
        for (size_t s = 0; s < ns; s++)
            q += (outs[0].est[s * D + i] - m) * (outs[0].est[s * D + i] - m);
        sig_units += q / (double)ns;
    }
    sig_units = sqrt(sig_units / (double)D) / ph->Vs;

    /* ---- energy per inference (one sample): from the most physical engine that ran */
    int ek = outs[2].est ? 2 : outs[1].est ? 1 : 0;
    double T_inf = (double)L * tick;
    double E_bias = 0, E_R = 0;
    for (size_t s = 0; s < nk[ek]; s++) {
        E_bias += outs[ek].e_bias[s];
        E_R += outs[ek].e_r[s];
    }
    for (size_t s = 0; s < nk[ek]; s++)
        sp.E_R_stage += outs[ek].e_r_stage[s] / (double)nk[ek];
    E_bias /= (double)nk[ek];
    E_R /= (double)nk[ek];
    double E_active = cfg->vdd * cc->sum_gm / cfg->gm_over_id * T_inf;
    double n_dac = (double)N, n_adc = (double)(conv * (long)D);
    double E_dac = n_dac * cfg->dac_fom * ldexp(1.0, (int)cfg->dac_bits);
    double E_adc = n_adc * cfg->adc_fom * ldexp(1.0, (int)cfg->adc_bits);
    double E_conv = E_dac + E_adc;
    double E_digital = (double)macs * cfg->e_mac;
    double E_wread = (double)dq.iface_reads * cfg->e_read;
    double E_total = fabs(E_bias) + E_R + E_active + E_conv + E_digital + E_wread;
    double E_digeq = (double)(dq.iface_macs + dq.matvec_macs) * cfg->e_mac +
                     (double)(dq.iface_reads + dq.matvec_reads) * cfg->e_read;
    double E_digeq_f = (double)dq.folded_macs * cfg->e_mac +
                       (double)dq.folded_reads * cfg->e_read;
    /* analog / digital; 0 when the digital side is configured free (energy.mac = weight_read
       = 0) */
    double r_digeq = E_digeq > 0 ? E_total / E_digeq : 0;
    double r_fold = E_digeq_f > 0 ? E_total / E_digeq_f : 0;
    double E_kT = ph->kT * (double)N * (T_inf / ph->t_slow);
    double gpu_part = cfg->gpu_step * cfg->gpu_replaced_fraction;

    /* ---- outputs: one directory transaction */
    if ((rc = tdi_mkdirs(cfg->out, err)) || (rc = tdi_dir_begin(odir, tmp, sizeof tmp, err)))
        goto done;
    begun = 1;
    {
        char p[1300];
        snprintf(p, sizeof p, "%s/results.json", tmp);
        tdi_atomic_file af;
        if ((rc = tdi_atomic_open(&af, p, err)))
            goto done;
        FILE *f = af.f;
        fprintf(f, "{\n  \"preset\": \"%s\", \"mode\": \"%s\", \"D\": %zu, \"units\": %zu, "
                "\"samples\": %zu, \"first\": %zu, \"seed\": %ld,\n", cfg->name, b.mode, D, N,
                ns, s0, cfg->seed);
        fprintf(f, "  \"circuit\": {\"Cu_F\": %.6g, \"gu_S\": %.6g, \"Vs_V\": %.6g, \"T_K\": "
                "%.6g, \"theta\": %.6g, \"t_slow_s\": %.6g, \"t_fast_s\": %.6g, \"wires\": %zu, "
                "\"vccs\": %zu, \"resistors\": %zu, \"sum_gm_S\": %.6g},\n", ph->Cu, ph->gu,
                ph->Vs, ph->T, ph->theta, ph->t_slow, ph->t_fast, cc->wires, cc->n_vccs,
                cc->n_res, cc->sum_gm);
        fprintf(f, "  \"timing\": {\"tick_s\": %.6g, \"settle_ticks\": %ld, \"avg_ticks\": %ld, "
                "\"t_settle_s\": %.6g, \"t_avg_s\": %.6g, \"time_to_solution_s\": %.6g, "
                "\"schedule\": \"%s\", \"sde_schedule\": \"%s\"},\n", tick, settle_ticks,
                avg_ticks, (double)settle_ticks * tick, (double)avg_ticks * tick, T_inf,
                sched_batch[TDI_COSIM_SPICE] ? "batch" : "per_sample",
                sched_batch[TDI_COSIM_SDE] ? "batch"
                : cfg->sde_reference      ? "per_sample (reference path)"
                : outs[TDI_COSIM_SDE].sde_modes ? "per_sample (mode basis)"
                                          : "per_sample (batched)");
        fprintf(f, "  \"converters\": {\"dac_bits\": %ld, \"dac_fs_A\": %.6g, \"adc_bits\": %ld, "
                "\"adc_fs_V\": %.6g, \"adc_stride_ticks\": %ld, \"dac_updates_per_sample\": %zu, "
                "\"adc_conversions_per_sample\": %.0f, \"interface_macs\": %ld, "
                "\"interface\": \"%s\"},\n", cfg->dac_bits, dac_fs, cfg->adc_bits, adc_fs, stride,
                N, n_adc, macs, iface);
        fprintf(f, "  \"rows\": {\n");
        int first_row = 1;
        for (int r = 0; r < NROW; r++) {
            if (!rows[r].have)
                continue;
            fprintf(f, "%s    \"%s\": {\"samples\": %zu, \"cos_paper\": %.6f, "
                    "\"cos_centered\": %.6f, \"r2\": %.6f", first_row ? "" : ",\n",
                    row_name[r], nrow[r], rows[r].m.cos_paper, rows[r].m.cos_centered,
                    rows[r].m.r2);
            if (r < 3)
                fprintf(f, ", \"cpu_s\": %.4g, \"wall_s\": %.4g, \"ticks\": %ld, "
                        "\"ticks_per_s\": %.6g, \"accepted_points\": %ld", outs[r].st.cpu_s,
                        eng_wall[r], outs[r].st.ticks_hit,
                        outs[r].st.cpu_s > 0 ? (double)outs[r].st.ticks_hit / outs[r].st.cpu_s
                                             : 0.0, outs[r].st.points);
            fprintf(f, "}");
            first_row = 0;
        }
        fprintf(f, "\n  },\n");
        tdi_cosim_op_json(gc, &paper_row, f);
        fprintf(f, "  \"readout\": {\"kind\": \"%s\", \"conversions_per_unit\": %ld, "
                "\"stage_tau_s\": %.6g, \"stage_var_substrate_V2\": %.6g, "
                "\"stage_var_own_V2\": %.6g, \"E_R_stage_J\": %.6g, ",
                ph->ro ? "analog_rc" : "adc_avg", conv, ph->ro ? ph->ro_tau : 0.0, sp.var_sub,
                sp.var_own, sp.E_R_stage);
        fprintf(f, "\"predicted_rms_V\": %.6g, \"sde_rms_vs_analytic_V\": %.6g, "
                "\"spice_rms_vs_analytic_V\": %.6g, \"sde_vs_spice_rms_V\": %.6g, "
                "\"predicted_rms_units\": %.6g, \"signal_std_units\": %.6g},\n", pred_rms, meas_rms[1],
                meas_rms[2], isnan(diff_sde_spice) ? -1.0 : diff_sde_spice, pred_rms / ph->Vs,
                sig_units);
        fprintf(f, "  \"energy\": {\"engine\": \"%s\", \"per\": \"inference (one sample)\", "
                "\"E_bias_J\": %.6g, \"E_R_J\": %.6g, \"E_active_J\": %.6g, \"E_dac_J\": %.6g, "
                "\"E_adc_J\": %.6g, \"E_conv_J\": %.6g, \"E_digital_J\": %.6g, "
                "\"E_weight_reads_J\": %.6g, "
                "\"E_total_J\": %.6g, \"kT_floor_J\": %.6g, \"gpu_step_J\": %.6g, "
                "\"gpu_replaced_fraction\": %.6g, \"ratio_vs_whole_step\": %.6g, "
                "\"ratio_vs_replaced_part\": %.6g, \"replaced_part\": \"the decoder ResBlock "
                "of the skip pair (its FLOP share of one U-Net step, energy.gpu_replaced_fraction)\",\n"
                "    \"digital_equivalent\": {\"interface_macs\": %ld, \"interface_reads\": %ld, "
                "\"matvec_macs\": %ld, \"matvec_reads\": %ld, \"E_J\": %.6g, "
                "\"ratio_analog_over_digital\": %.6g, \"folded_macs\": %ld, \"folded_reads\": "
                "%ld, \"folded_E_J\": %.6g, \"ratio_analog_over_folded\": %.6g, \"mac_J\": %.6g, "
                "\"weight_read_J\": %.6g}}\n}\n",
                tdi_cosim_kind_name((tdi_cosim_kind)ek), E_bias, E_R, E_active, E_dac, E_adc,
                E_conv, E_digital, E_wread, E_total, E_kT, cfg->gpu_step,
                cfg->gpu_replaced_fraction, cfg->gpu_step / E_total, gpu_part / E_total,
                dq.iface_macs, dq.iface_reads, dq.matvec_macs, dq.matvec_reads, E_digeq,
                r_digeq, dq.folded_macs, dq.folded_reads, E_digeq_f, r_fold, cfg->e_mac,
                cfg->e_read);
        if ((rc = tdi_atomic_commit(&af, err)))
            goto done;
        snprintf(p, sizeof p, "%s/samples.csv", tmp);
        if ((rc = tdi_atomic_open(&af, p, err)))
            goto done;
        f = af.f;
        fprintf(f, "sample,row,cos_paper,cos_centered,r2,readout_rms_vs_analytic_V,E_bias_J,"
                   "E_R_J\n");
        for (size_t s = 0; s < ns; s++)
            for (int r = 0; r < NROW; r++) {
                if (!rows[r].have || s >= nrow[r])
                    continue;
                double e = 0, eb = 0, er = 0;
                if (r < 3) {
                    for (size_t i = 0; i < D; i++) {
                        double d = outs[r].est[s * D + i] - outs[0].est[s * D + i];
                        e += d * d;
                    }
                    e = sqrt(e / (double)D);
                    eb = outs[r].e_bias[s];
                    er = outs[r].e_r[s];
                }
                fprintf(f, "%zu,%s,%.6f,%.6f,%.6f,%.6g,%.6g,%.6g\n", s0 + s, row_name[r],
                        rows[r].cp[s], rows[r].cc[s], rows[r].r2[s], e, eb, er);
            }
        if ((rc = tdi_atomic_commit(&af, err)))
            goto done;
        int wk = outs[2].wave ? 2 : outs[1].wave ? 1 : -1;
        if (wk >= 0) {
            snprintf(p, sizeof p, "%s/waveform.csv", tmp);
            if ((rc = tdi_atomic_open(&af, p, err)))
                goto done;
            f = af.f;
            fprintf(f, "t_s");
            for (size_t q = 0; q < cfg->n_wave_units; q++)
                fprintf(f, ",%s_V", cc->node[wave[q]]);
            fprintf(f, "\n");
            size_t w = 1 + cfg->n_wave_units;
            for (size_t r = 0; r < outs[wk].wave_rows; r++) {
                fprintf(f, "%.9g", outs[wk].wave[r * w]);
                for (size_t q = 1; q < w; q++)
                    fprintf(f, ",%.9g", outs[wk].wave[r * w + q]);
                fprintf(f, "\n");
            }
            if ((rc = tdi_atomic_commit(&af, err)))
                goto done;
        }
    }
    if ((rc = tdi_dir_commit(tmp, odir, err)))
        goto done;
    begun = 0;
    if (sum) {
        memset(sum, 0, sizeof *sum);
        sum->D = D;
        sum->first = s0;
        for (int r = 0; r < NROW; r++) {
            sum->have[r] = rows[r].have;
            sum->samples[r] = rows[r].have ? nrow[r] : 0;
            sum->cos_paper[r] = rows[r].m.cos_paper;
            sum->cos_centered[r] = rows[r].m.cos_centered;
            sum->r2[r] = rows[r].m.r2;
        }
        sum->Vs = ph->Vs;
        sum->theta = ph->theta;
        sum->tau = ph->tau;
        sum->t_slow = ph->t_slow;
        sum->tick = tick;
        sum->t_settle = (double)settle_ticks * tick;
        sum->t_avg = (double)avg_ticks * tick;
        sum->time_to_solution = T_inf;
        sum->wires = cc->wires;
        sum->n_vccs = cc->n_vccs;
        sum->n_res = cc->n_res;
        sum->pairs_total = gc->total_pairs;
        sum->elems_total = gc->total_elements;
        sum->pairs_skip = gc->blk[TDI_GEN_BLK_SKIP].wire_pairs;
        sum->elems_skip = gc->blk[TDI_GEN_BLK_SKIP].elements;
        sum->readout_pred_rms = pred_rms;
        sum->analog_readout = ph->ro;
        sum->adc_per_sample = (long)n_adc;
        sum->E_R_stage = sp.E_R_stage;
        for (int k = 0; k < 3; k++)
            sum->readout_rms[k] = meas_rms[k];
        sum->energy_engine = ek;
        sum->macs = macs;
        sum->E_bias = E_bias;
        sum->E_R = E_R;
        sum->E_active = E_active;
        sum->E_dac = E_dac;
        sum->E_adc = E_adc;
        sum->E_digital = E_digital;
        sum->E_wread = E_wread;
        sum->digeq = dq;
        sum->E_digeq = E_digeq;
        sum->E_digeq_folded = E_digeq_f;
        sum->ratio_digeq = r_digeq;
        sum->E_total = E_total;
        sum->E_kT = E_kT;
        sum->gpu_step = cfg->gpu_step;
        sum->gpu_part = gpu_part;
    }

    if (rep) {
        fprintf(rep, "\n%-19s %7s %9s %12s %8s %14s %9s %11s\n", "row", "samples", "cos_paper",
                "cos_centered", "R^2", "t_solution s", "CPU s", "ticks/CPU-s");
        for (int r = 0; r < NROW; r++) {
            if (!rows[r].have)
                continue;
            fprintf(rep, "%-19s %7zu %9.4f %12.4f %8.4f", row_name[r], nrow[r],
                    rows[r].m.cos_paper, rows[r].m.cos_centered, rows[r].m.r2);
            if (r == ROW_SDE || r == ROW_SPICE)
                fprintf(rep, " %14.4g %9.3f %11.4g", T_inf, outs[r].st.cpu_s,
                        outs[r].st.cpu_s > 0 ? (double)outs[r].st.ticks_hit / outs[r].st.cpu_s
                                             : 0.0);
            else if (r == ROW_ANALYTIC || r == ROW_IDEAL)
                fprintf(rep, " %14s", "(equilibrium)");
            fprintf(rep, "\n");
        }
        if (rows[ROW_SPICE].have && nrow[ROW_SPICE] < ns) /* the same samples as spice */
            tdi_cosim_op_print_subset("analytic (spice's)", rows[ROW_ANALYTIC].pred, tr,
                                      mean_fit, nrow[ROW_SPICE], D, rep);
        tdi_cosim_op_print_row(&paper_row, rep);
        fprintf(rep, "(analytic: M^-1 b with the DAC's biases; analytic_ideal_dac: the bundle's "
                "M^-1 b; digital_Binv_bdec: B^-1 b_dec, no substrate coupling; mean: fit-split "
                "mean)\n");
        tdi_cosim_op_print(gc, &paper_row, rep);
        fprintf(rep, "\nsignal vs noise (simulation units): per-sample signal (std over samples of "
                "analytic y, rms over units) %.4g; predicted readout noise %.4g; theta %.4g\n",
                sig_units, pred_rms / ph->Vs, ph->theta);
        char m1[32] = "n/a", m2[32] = "n/a", m3[32] = "n/a";
        if (outs[1].est)
            snprintf(m1, sizeof m1, "%.4g V", meas_rms[1]);
        if (outs[2].est)
            snprintf(m2, sizeof m2, "%.4g V", meas_rms[2]);
        if (!isnan(diff_sde_spice))
            snprintf(m3, sizeof m3, "%.4g V", diff_sde_spice);
        fprintf(rep, "readout error, rms over samples and decoder units: predicted %.4g V, sde %s, "
                "spice %s (vs analytic with the same DAC outputs); sde vs spice %s\n", pred_rms,
                m1, m2, m3);
        stage_report(rep, ph, &sp, q_adc, sp.E_R_stage,
                     cfg->vdd * (double)D * ph->ro_g / cfg->gm_over_id * T_inf);
        fprintf(rep, "time to solution per sample (circuit time): settle %.4g s + average %.4g s "
                "= %.4g s (%ld ticks of %.4g s)\n", (double)settle_ticks * tick,
                (double)avg_ticks * tick, T_inf, L, tick);
        fprintf(rep, "wires: %zu node pairs (%zu VCCS, %zu resistors); digital interface %ld "
                "MACs; %zu DAC updates and %.0f ADC conversions per sample\n", cc->wires,
                cc->n_vccs, cc->n_res, macs, N, n_adc);
        char eh[64];
        snprintf(eh, sizeof eh, "energy per inference (%s waveforms)",
                 tdi_cosim_kind_name((tdi_cosim_kind)ek));
        fprintf(rep, "\n%-46s %12s\n", eh, "J");
        fprintf(rep, "%-46s %12.4g\n", "E_bias   (integral of i_bias v)", E_bias);
        fprintf(rep, "%-46s %12.4g\n", "E_R      (every resistor: unit, bus, damping)", E_R);
        fprintf(rep, "%-46s %12.4g\n", "E_active (Vdd sum(gm)/(gm/ID) T)", E_active);
        fprintf(rep, "%-46s %12.4g\n", "E_conv   (DAC updates + ADC conversions)", E_conv);
        fprintf(rep, "%-46s %12.4g\n", "  of which DAC", E_dac);
        fprintf(rep, "%-46s %12.4g\n", "  of which ADC", E_adc);
        fprintf(rep, "%-46s %12.4g\n", "E_digital (interface MACs x E_MAC)", E_digital);
        fprintf(rep, "%-46s %12.4g\n", "E_wread  (interface weight reads x E_read)", E_wread);
        fprintf(rep, "%-46s %12.4g\n", "total", E_total);
        fprintf(rep, "%-46s %12.4g\n", "kT floor (kB T per unit per relaxation time)", E_kT);
        char dh[96];
        snprintf(dh, sizeof dh, "digital equivalent (%ld MACs, %ld reads)",
                 dq.iface_macs + dq.matvec_macs, dq.iface_reads + dq.matvec_reads);
        fprintf(rep, "%-46s %12.4g  analog/digital %.3g\n", dh, E_digeq, r_digeq);
        snprintf(dh, sizeof dh, "  folded lower bound (%ld MACs, %ld reads)", dq.folded_macs,
                 dq.folded_reads);
        fprintf(rep, "%-46s %12.4g  analog/digital %.3g\n", dh, E_digeq_f, r_fold);
        fprintf(rep, "(digital equivalent: the interface, then the precomputed decoder rows of "
                "M^-1 times b, same E_MAC; the same estimate as analytic_ideal_dac)\n");
        fprintf(rep, "%-46s %12.4g  ratio %.3g x\n",
                "GPU, whole U-Net step (whole-step comparison)", cfg->gpu_step,
                cfg->gpu_step / E_total);
        fprintf(rep, "%-46s %12.4g  ratio %.3g x\n", "GPU, replaced part (decoder ResBlock)",
                gpu_part, gpu_part / E_total);
        fprintf(rep, "wrote %s/results.json and %s/samples.csv\n", odir, odir);
    }
done:
    if (begun)
        tdi_dir_abort(tmp);
    for (int r = 0; r < NROW; r++) {
        free(rows[r].pred);
        free(rows[r].cp);
        free(rows[r].cc);
        free(rows[r].r2);
    }
    for (int k = 0; k < 3; k++)
        tdi_cosim_out_destroy(&outs[k]);
    free(x);
    free(truth);
    free(mean_fit);
    free(gain);
    free(ew1);
    free(eb1);
    free(ew2);
    free(eb2);
    free(tw1);
    free(tb1);
    free(tw2);
    free(tb2);
    free(bsim);
    free(ibias);
    free(vstar);
    free(read);
    tdi_cosim_circuit_free(cc);
    tdi_gen_circuit_free(gc);
    if (have_bundle)
        tdi_gen_bundle_destroy(&b);
    return rc;
}
