/* test_mosnoise: transistor noise at transistor level (cosim/tdi_cosim_mosnoise.c, docs/noise.md):
 * the calibration of each device against an independent single-device .noise deck, the measured
 * white noise against 4 kT gm and 2 q I (info lines: the effective gamma), a card that does not
 * load, and a co-simulated OTA follower whose injected device noise (white + synthesised 1/f
 * through EXTERNAL sources, the C stream) gives the node PSD ngspice's .noise predicts, within the
 * Welch estimate's statistical bound. Models: BSIM4's own defaults (level 14), so the test does
 * not depend on a shipped card. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_cosim.h"
#include "tdi_gen.h"
#include "tdi_io.h"
#include "tdi_test.h"
#include "tdi_test_mos.h"

#define KT (TDI_PHYS_KB * 300.15) /* J: ngspice's default 27 C */
#define QE 1.602176634e-19        /* C */

static const char *const CARDS[] = {".model tdi_nmos nmos level=14 version=4.8",
                                    ".model tdi_pmos pmos level=14 version=4.8", NULL};

/* a tdi_gen_text of s's '\n'-separated lines (the co-simulator's own splitter) */
static tdi_gen_text *text_of(const char *s)
{
    char *copy = strdup(s);
    return copy ? tdi_cosim_deck_text(copy, NULL) : NULL;
}

/* ngspice's drain-current noise (two-sided A^2/Hz at 10 Hz and 1 MHz) of one device alone, by
 * another circuit than the calibration's (an H source reads the drain current) */
static int single_device(const tdi_cosim_mos_bias *b, double s2[2], tdi_err *err)
{
    char deck[1024];
    const char *model = b->type == 'p' ? "tdi_pmos" : "tdi_nmos";
    snprintf(deck, sizeof deck, "* one device\n%s\n%s\nvg g 0 dc %.17g ac 1\nvd d 0 dc %.17g\n"
             "vb b 0 dc %.17g\nmx d g 0 b %s w=%.17g l=%.17g\nhout out 0 vd 1\n.end", CARDS[0],
             CARDS[1], b->vgs, b->vds, b->vbs, model, b->W, b->L);
    tdi_gen_text *t = text_of(deck);
    double *v = NULL;
    size_t n = 0;
    int rc = tdi_cosim_ng_load(t, err);
    if (!rc)
        rc = tdi_cosim_ng_cmd("noise v(out) vg dec 5 10 1e6", err);
    if (!rc)
        rc = tdi_cosim_mos_noise_plot(26, err);
    if (!rc)
        rc = tdi_cosim_ng_vector("onoise_spectrum", &v, &n, err);
    if (!rc && n == 26) {
        s2[0] = 0.5 * v[0] * v[0];
        s2[1] = 0.5 * v[25] * v[25];
    }
    free(v);
    tdi_cosim_ng_unload();
    tdi_gen_text_free(t);
    return rc;
}

/* calibration of n and p devices from weak to strong inversion; each against its own deck */
static void test_calibration(void)
{
    enum { N = 6 };
    double vg[N / 2] = {0.15, 0.3, 0.7};
    tdi_cosim_mos_bias b[N];
    tdi_cosim_mos_psd o[N];
    for (int i = 0; i < N; i++) {
        double s = i < N / 2 ? 1 : -1;
        b[i] = (tdi_cosim_mos_bias){i < N / 2 ? 'n' : 'p', 2e-6, 1e-6, s * vg[i % (N / 2)],
                                    s * 0.9, 0, 0, 1};
    }
    tdi_err err = {0};
    int rc = tdi_cosim_mos_noise_calibrate(CARDS, "tdi_nmos", "tdi_pmos", 0, N, b, o, &err);
    if (!TDI_CHECK(rc == 0, "calibration runs")) {
        printf("  %s\n", err.msg);
        return;
    }
    for (int i = 0; i < N; i++) {
        double s2[2] = {NAN, NAN}, g = 2 * o[i].psd_w / (4 * KT * o[i].gm);
        rc = single_device(b + i, s2, &err);
        printf("info: %c vgs %+.2f V: id %.4g A, gm/id %.2f /V, psd_w %.4g A^2/Hz, gamma "
               "(2 psd_w / 4kT gm) %.3f, 2 psd_w / 2qI %.3f, psd_f1 %.4g, ef %.3f, "
               "corner %.4g Hz\n",
               b[i].type, b[i].vgs, o[i].id, o[i].gm / o[i].id, o[i].psd_w, g,
               2 * o[i].psd_w / (2 * QE * o[i].id), o[i].psd_f1, o[i].ef, o[i].f_corner);
        char nm[160];
        /* the same device model and bias in another circuit: the same numbers up to rounding
           (measured 1e-15); ef = 1 (BSIM4's default), so psd_w + psd_f1 / f is exact at every
           frequency */
        snprintf(nm, sizeof nm, "%c vgs %+.2f: psd_w + psd_f1 / 1 MHz = one-device deck",
                 b[i].type, b[i].vgs);
        tdi_check_rel(o[i].psd_w + o[i].psd_f1 / 1e6, s2[1], 1e-9, nm);
        snprintf(nm, sizeof nm, "%c vgs %+.2f: psd_w + psd_f1 / 10 Hz = one-device deck",
                 b[i].type, b[i].vgs);
        tdi_check_rel(o[i].psd_w + o[i].psd_f1 / 10, s2[0], 1e-9, nm);
    }
    TDI_CHECK(rc == 0, "single-device decks ran");
}

static void test_bad_card(void)
{
    const char *cards[] = {".include /nonexistent/tdi-card.lib", NULL};
    tdi_cosim_mos_bias b = {'n', 2e-6, 1e-6, 0.3, 0.9, 0, 0, 1};
    tdi_cosim_mos_psd o;
    tdi_err err = {0};
    int rc = tdi_cosim_mos_noise_calibrate(cards, "tdi_nmos", "tdi_pmos", 0, 1, &b, &o, &err);
    tdi_check_int(rc, TDI_ESPICE, "a card that does not load: TDI_ESPICE");
    tdi_check_contains(err.msg, "device noise calibration", "... the message says where");
}


/* ---- an OTA follower co-simulated with its device noise ----
 * A 5-transistor OTA (NMOS pair m1 m2, PMOS mirror m3 m4, NMOS tail m5) whose output x0 drives
 * its inverting input: a conductance gm to vcm at x0, loaded by 50 pF (f_3dB ~ 130 kHz). Every
 * device gets "in<dev> <d> <s> external" sized by the calibration at its op bias. */
#define OTA_H 50e-9        /* s: tick, tau / 25 */
#define OTA_TICKS (1L << 18)
#define OTA_SKIP 2048      /* ticks left out at the start (the settling from the op) */
#define OTA_SEG 8192       /* Welch segment: 2.44 kHz bins */
static const char *const OTA[] = {
    "vdd vdd 0 dc 1.8", "vcm vcm 0 dc 0.9 ac 1", "vb vb 0 dc 0.3",
    "m1 n1 vcm t 0 tdi_nmos w=2u l=1u", "m2 x0 x0 t 0 tdi_nmos w=2u l=1u",
    "m3 n1 n1 vdd vdd tdi_pmos w=4u l=1u", "m4 x0 n1 vdd vdd tdi_pmos w=4u l=1u",
    "m5 t vb 0 0 tdi_nmos w=2u l=1u", "cx x0 0 50p", "ibias_x0 0 x0 external", NULL};
static const char *const OTA_DEV[5][3] = {{"m1", "n1", "t"}, {"m2", "x0", "t"},
                                          {"m3", "n1", "vdd"}, {"m4", "x0", "vdd"},
                                          {"m5", "t", "0"}};
static const char OTA_TYPE[5] = {'n', 'n', 'p', 'p', 'n'};
static const double OTA_WL[5][2] = {{2e-6, 1e-6}, {2e-6, 1e-6}, {4e-6, 1e-6}, {4e-6, 1e-6},
                                    {2e-6, 1e-6}};

typedef struct ota_rec {
    double *v; /* (OTA_TICKS + 1) V at x0 */
    double zero;
} ota_rec;

static const double *ota_bias(void *user, long k)
{
    (void)k;
    return &((ota_rec *)user)->zero;
}

static int ota_tick(void *user, long k, double t, const double *v, const double *ib)
{
    (void)t;
    (void)ib;
    ((ota_rec *)user)->v[k] = v[0];
    return 0;
}

/* the deck's lines (cards, OTA, device noise sources when with_noise), ".end" last */
static tdi_gen_text *ota_text(int with_noise)
{
    char buf[4096];
    size_t len = 0;
    len += (size_t)snprintf(buf + len, sizeof buf - len, "* ota follower\n%s\n%s\n", CARDS[0],
                            CARDS[1]);
    for (size_t i = 0; OTA[i]; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s\n", OTA[i]);
    for (size_t d = 0; d < 5 && with_noise; d++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "in%s %s %s external\n",
                                OTA_DEV[d][0], OTA_DEV[d][1], OTA_DEV[d][2]);
    snprintf(buf + len, sizeof buf - len, ".end");
    return text_of(buf);
}

/* each device's bias at the op, then its PSDs */
static int ota_calibrate(tdi_cosim_mos_psd *o, tdi_err *err)
{
    tdi_gen_text *t = ota_text(0);
    tdi_cosim_mos_bias b[5];
    int rc = tdi_cosim_ng_load(t, err);
    /* ngspice's BSIM4 load is OpenMP-parallel (2 threads by default): on a loaded machine one
       thread cost 24x less CPU for this transient (docs/noise.md); the variable persists */
    if (!rc)
        rc = tdi_cosim_ng_cmd("set num_threads=1", err);
    if (!rc)
        rc = tdi_cosim_ng_cmd("op", err);
    for (size_t d = 0; d < 5 && !rc; d++) {
        rc = tdi_cosim_mos_op_bias(OTA_DEV[d][0], OTA_TYPE[d], b + d, err);
        b[d].W = OTA_WL[d][0];
        b[d].L = OTA_WL[d][1];
        b[d].delvto = 0;
        b[d].mulu0 = 1;
    }
    tdi_cosim_ng_unload();
    tdi_gen_text_free(t);
    if (!rc)
        rc = tdi_cosim_mos_noise_calibrate(CARDS, "tdi_nmos", "tdi_pmos", 0, 5, b, o, err);
    return rc;
}

/* ngspice's .noise at x0 at the Welch bins k = 1..nk (two-sided V^2/Hz): total and flicker */
static int ota_predict(size_t nk, double df, double *tot, double *fl, tdi_err *err)
{
    tdi_gen_text *t = ota_text(0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "noise v(x0) vcm lin %zu %.17g %.17g 1", nk, df, df * (double)nk);
    int rc = tdi_cosim_ng_load(t, err);
    if (!rc)
        rc = tdi_cosim_ng_cmd(cmd, err);
    if (!rc)
        rc = tdi_cosim_mos_noise_plot(nk, err);
    double *v = NULL;
    size_t n = 0;
    if (!rc)
        rc = tdi_cosim_ng_vector("onoise_spectrum", &v, &n, err);
    if (!rc && n != nk)
        rc = tdi_err_set(err, TDI_ESPICE, ".noise gave %zu points, not %zu", n, nk);
    for (size_t k = 0; k < nk && !rc; k++) {
        tot[k] = 0.5 * v[k] * v[k];
        fl[k] = 0;
    }
    free(v);
    v = NULL;
    for (size_t d = 0; d < 5 && !rc; d++) {
        char name[64];
        snprintf(name, sizeof name, "onoise.%s.1overf", OTA_DEV[d][0]);
        if (!(rc = tdi_cosim_ng_vector(name, &v, &n, err)) && n != nk)
            rc = tdi_err_set(err, TDI_ESPICE, "%s has %zu points, not %zu", name, n, nk);
        for (size_t k = 0; k < nk && !rc; k++)
            fl[k] += 0.5 * v[k] * v[k];
        free(v);
        v = NULL;
    }
    tdi_cosim_ng_unload();
    tdi_gen_text_free(t);
    return rc;
}

/* the co-simulated transient: x0's voltage at every tick */
static int ota_run(const tdi_cosim_mos_psd *o, uint64_t seed, long ticks, double *v,
                   tdi_err *err)
{
    tdi_cosim_circuit *c = tdi_cosim_circuit_alloc(1, err);
    if (!c)
        return err->code;
    tdi_gen_text *t = ota_text(1);
    const char *names[5] = {"inm1", "inm2", "inm3", "inm4", "inm5"};
    double w[5], f1[5];
    for (int d = 0; d < 5; d++) {
        w[d] = o[d].psd_w;
        f1[d] = o[d].psd_f1;
    }
    c->cap[0] = 50e-12;
    c->G[0] = 1e-5;
    c->temp = 300.15; /* g_noise = 0: no unit thermal noise, the devices' only */
    int rc = tdi_cosim_circuit_set_names(c, 0, "x0", "ibias_x0", NULL, err);
    if (!rc)
        rc = tdi_cosim_circuit_set_lines(c, (const char *const *)t->lines, err);
    if (!rc)
        rc = tdi_cosim_circuit_set_dev_noise(c, 5, names, w, f1, err);
    tdi_cosim_noise nz = {0};
    tdi_cosim_devnoise dn = {0};
    if (!rc)
        rc = tdi_cosim_noise_init(&nz, c, OTA_H, 1, 1, err);
    if (!rc)
        rc = tdi_cosim_devnoise_init(&dn, 5, w, f1, OTA_H, 1.0 / (OTA_TICKS * OTA_H), seed, err);
    nz.dev = &dn;
    ota_rec rec = {v, 0};
    tdi_cosim_digital dg = {OTA_H, ticks, ota_bias, ota_tick, &rec};
    tdi_cosim_stats st;
    if (!rc)
        rc = tdi_cosim_spice_run(c, &nz, &dg, &st, err);
    printf("info: OTA transient: %ld ticks, %ld points, %ld source calls, %.2f CPU s\n",
           ticks, st.points, st.src_calls, st.cpu_s);
    tdi_cosim_devnoise_destroy(&dn);
    tdi_cosim_noise_destroy(&nz);
    tdi_cosim_circuit_free(c);
    tdi_gen_text_free(t);
    return rc;
}

/* mean of Welch / prediction over every second bin where the flicker share of the prediction
   is in [lo, hi] and f in [f_a, f_b]; *nb bins */
static double ota_band(const double *psd, const double *tot, const double *fl, double df,
                       double lo, double hi, double f_a, double f_b, size_t *nb)
{
    double s = 0;
    *nb = 0;
    for (size_t k = 2; k <= OTA_SEG / 2; k += 2) {
        double f = (double)k * df, share = fl[k - 1] / tot[k - 1];
        if (f < f_a || f > f_b || share < lo || share > hi)
            continue;
        /* the injected current is interpolated linearly between tick samples: its PSD is the
           samples' times sinc^4(f h) (1.6% less at 1 MHz); the node's images above the Nyquist
           frequency are below 1e-4 of it (a 130 kHz pole, then sinc^4) */
        double x = M_PI * f * OTA_H, sinc = sin(x) / x;
        s += psd[k] / (tot[k - 1] * sinc * sinc * sinc * sinc);
        (*nb)++;
    }
    return *nb ? s / (double)*nb : NAN;
}

/* every .noise analysis of the test runs before the first transient: after a deck with
 * ".save none" (the spice engine's) ngspice 39.3 keeps one point per vector (docs/noise.md) */
static struct {
    int ok;
    tdi_cosim_mos_psd o[5];
    double tot[OTA_SEG / 2], fl[OTA_SEG / 2]; /* .noise at x0 (two-sided V^2/Hz) */
} g_ota;

static void ota_prepare(void)
{
    tdi_err err = {0};
    tdi_cosim_mos_psd *o = g_ota.o;
    int rc = ota_calibrate(o, &err);
    if (!TDI_CHECK(rc == 0, "OTA: devices calibrated at the op")) {
        printf("  %s\n", err.msg);
        return;
    }
    for (int d = 0; d < 5; d++)
        printf("info: OTA %s: id %.4g A gm %.4g S psd_w %.4g A^2/Hz psd_f1 %.4g corner %.4g Hz\n",
               OTA_DEV[d][0], o[d].id, o[d].gm, o[d].psd_w, o[d].psd_f1, o[d].f_corner);
    rc = ota_predict(OTA_SEG / 2, 1.0 / OTA_H / OTA_SEG, g_ota.tot, g_ota.fl, &err);
    if (TDI_CHECK(rc == 0, "OTA: .noise prediction at x0"))
        g_ota.ok = 1;
    else
        printf("  %s\n", err.msg);
}

static void test_ota(void)
{
    tdi_err err = {0};
    if (!g_ota.ok)
        return;
    const tdi_cosim_mos_psd *o = g_ota.o;
    size_t nk = OTA_SEG / 2;
    double fs = 1.0 / OTA_H, df = fs / OTA_SEG;
    const double *tot = g_ota.tot, *fl = g_ota.fl;
    double *v = calloc(OTA_TICKS + 1, sizeof(double)), *psd = malloc(sizeof(double) * (nk + 1));
    int rc = ota_run(o, tdi_seed(5, TDI_SEED_DEVNOISE, 0), OTA_TICKS, v, &err);
    size_t nseg = 0;
    if (!rc)
        rc = tdi_cosim_welch(v + OTA_SKIP, OTA_TICKS + 1 - OTA_SKIP, OTA_SEG, fs, psd, &nseg, &err);
    if (!TDI_CHECK(rc == 0, "OTA: transient and Welch ran")) {
        printf("  %s\n", err.msg);
        goto done;
    }
    /* bound: 4 sigma of the band mean (0.95 nseg averages per bin, nb near-independent bins,
       test_devnoise) plus 3% systematic: the 1/f synthesis (<= 1.7%) and the trapezoidal
       rule's frequency warping ((2 pi f h)^2 / 12 <= 0.8% at 1 MHz) */
    size_t nb;
    double K = 0.95 * (double)nseg;
    double rf = ota_band(psd, tot, fl, df, 0.5, 1.0, 2 * df, 1e6, &nb);
    printf("info: OTA flicker band: %zu bins, Welch / .noise %.4f\n", nb, rf);
    if (nb > 0)
        tdi_check_near(rf, 1.0, 0.03 + 4 / sqrt(K * (double)nb),
                       "OTA: flicker-dominated bins: Welch / .noise (3% + 4 sigma)");
    TDI_CHECK(nb >= 8, "OTA: the flicker band has >= 8 bins (the prediction is flicker-"
                       "dominated there)");
    double rw = ota_band(psd, tot, fl, df, 0.0, 0.2, 2 * df, 1e6, &nb);
    printf("info: OTA white band: %zu bins, Welch / .noise %.4f\n", nb, rw);
    tdi_check_near(rw, 1.0, 0.03 + 4 / sqrt(K * (double)nb),
                   "OTA: white-dominated bins up to 1 MHz: Welch / .noise (3% + 4 sigma)");
    /* the same seed again (a shorter run: the stream does not depend on the run length given
       the band): the same voltages, bit for bit; another seed: others */
    double *v2 = calloc(OTA_TICKS + 1, sizeof(double));
    rc = ota_run(o, tdi_seed(5, TDI_SEED_DEVNOISE, 0), 4096, v2, &err);
    TDI_CHECK(rc == 0 && memcmp(v, v2, sizeof(double) * 4097) == 0,
              "OTA: same seed, same node voltages (4096 ticks, bit for bit)");
    rc = ota_run(o, tdi_seed(6, TDI_SEED_DEVNOISE, 0), 4096, v2, &err);
    TDI_CHECK(rc == 0 && v2[4096] != v[4096], "OTA: another seed, another voltage");
    free(v2);
done:
    free(v);
    free(psd);
}

/* ---- a D = 4 transistor-level circuit from the generator (models/tdi-bsim4.lib) ---- */
static tdi_gen_circuit *d4_circuit(tdi_gen_bundle *b, tdi_err *err)
{
    const char *root = "build/test-mosnoise-d4";
    char dir[256];
    snprintf(dir, sizeof dir, "%s/substrate", root);
    tdi_mkdirs(root, err);
    if (tdi_cosim_synth_bundle(dir, 4, 2, 2, 5, 0, 0.0, err))
        return NULL;
    tdi_gen_config cfg;
    const char *y = "seed: 3\nname: t\nout: build/test-mosnoise-d4\ncircuit:\n  devices: mos\n"
                    "  mos_lib: models/tdi-bsim4.lib\n  samples: [0]\n";
    tdi_gen_circuit *c = NULL;
    tdi_gen_config_init(&cfg);
    if (tdi_gen_config_load_string("d4.yaml", y, &cfg, err) ||
        tdi_gen_bundle_read(dir, b, err) || tdi_gen_circuit_build(&cfg, b, &c, err))
        return NULL;
    return c;
}


/* the cosim netlist of gc as a spice-engine circuit: units x.. y.. (their thermal noise off:
 * the devices' only), its device noise sources; node 0's voltage recorded */
static int d4_run(const tdi_gen_circuit *gc, long ticks, double *v, double *cpu, tdi_err *err)
{
    tdi_gen_text *t = NULL;
    tdi_cosim_circuit *c = NULL;
    int rc = tdi_test_mos_circuit(gc, ticks, 1e-12, 1e-6, &t, &c, err);
    ota_rec rec = {v, 0};
    tdi_cosim_digital dg = {gc->phys.noise_dt, ticks, tdi_test_mos_zero_bias, ota_tick, &rec};
    tdi_cosim_stats st = {0};
    rc = tdi_test_mos_devnoise_run(rc, c, &dg, tdi_seed(3, TDI_SEED_DEVNOISE, 0), &st, err);
    *cpu = st.cpu_s;
    tdi_cosim_circuit_free(c);
    tdi_gen_text_free(t);
    return rc;
}


#define D4_TICKS (1L << 13) /* ngspice: 1.8 ms/tick here; the test budget (OTA: the tight check) */
#define D4_SEG 512          /* 47 kHz bins at the 41 ns tick: 15 segments */
#define D4_SKIP 512

/* ngspice's .noise at unit node 0 (two-sided V^2/Hz at bins 1..nk): the devices' share only
 * (the unit resistors' thermal noise is the units' own sources, off in d4_run) */
static int d4_predict(const tdi_gen_circuit *gc, size_t nk, double df, double *tot,
                      tdi_err *err)
{
    double h = gc->phys.noise_dt;
    tdi_gen_text *t = NULL;
    char cmd[160];
    snprintf(cmd, sizeof cmd, "noise v(%s) vcm lin %zu %.17g %.17g 1", gc->nodes[0].name, nk, df,
             df * (double)nk);
    int rc = tdi_gen_netlist_text(gc, TDI_GEN_COSIM, h, 2 * h, &t, err);
    if (!rc)
        rc = tdi_cosim_ng_load(t, err);
    if (!rc) /* .noise needs an input with an ac value; vcm's (unused here) */
        rc = tdi_cosim_ng_cmd("alter vcm ac = 1", err);
    if (!rc)
        rc = tdi_cosim_ng_cmd(cmd, err);
    if (!rc)
        rc = tdi_cosim_mos_noise_plot(nk, err);
    memset(tot, 0, sizeof(double) * nk);
    for (size_t d = 0; d < gc->n_dev && !rc; d++) {
        char name[80];
        double *v = NULL;
        size_t n = 0;
        snprintf(name, sizeof name, "onoise.%s", gc->dev[d].name);
        if (!(rc = tdi_cosim_ng_vector(name, &v, &n, err)) && n != nk)
            rc = tdi_err_set(err, TDI_ESPICE, "%s has %zu points, not %zu", name, n, nk);
        for (size_t k = 0; k < nk && !rc; k++)
            tot[k] += 0.5 * v[k] * v[k];
        free(v);
    }
    tdi_cosim_ng_unload();
    tdi_gen_text_free(t);
    return rc;
}

static struct {
    tdi_gen_bundle b;
    tdi_gen_circuit *c;         /* sized; NULL when preparing failed */
    double tot[D4_SEG / 2];     /* .noise at node 0, the devices' share (two-sided V^2/Hz) */
} g_d4;

static void d4_prepare(void)
{
    tdi_err err = {0};
    tdi_gen_circuit *c = d4_circuit(&g_d4.b, &err);
    if (!TDI_CHECK(c != NULL, "D = 4: transistor-level circuit built")) {
        printf("  %s\n", err.msg);
        return;
    }
    int rc = tdi_cosim_mos_noise_size(c, &err);
    if (!TDI_CHECK(rc == 0, "D = 4: every device sized at the circuit's op"))
        printf("  %s\n", err.msg);
    size_t pos = 0;
    double gmin = INFINITY, gmax = 0;
    for (size_t i = 0; i < c->n_dev; i++) {
        const tdi_gen_dev *d = c->dev + i;
        pos += d->psd_w > 0 && d->psd_f1 > 0;
        double g = 2 * d->psd_w / (4 * KT * d->gm);
        gmin = g < gmin ? g : gmin;
        gmax = g > gmax ? g : gmax;
    }
    printf("info: D = 4: %zu devices, %zu OTAs; 2 psd_w / (4 kT gm_design) in [%.3f, %.3f]\n",
           c->n_dev, c->n_ota, gmin, gmax);
    tdi_check_int((long long)pos, (long long)c->n_dev, "D = 4: every device has psd_w, psd_f1 > 0");
    if (!rc)
        rc = d4_predict(c, D4_SEG / 2, 1.0 / c->phys.noise_dt / D4_SEG, g_d4.tot, &err);
    if (TDI_CHECK(rc == 0, "D = 4: .noise prediction at node 0"))
        g_d4.c = c;
    else {
        printf("  %s\n", err.msg);
        tdi_gen_circuit_free(c);
    }
}

/* the injected noise at node 0 against ngspice's .noise of the whole netlist there */
static void test_d4(void)
{
    tdi_err err = {0};
    tdi_gen_circuit *c = g_d4.c;
    if (c) {
        size_t nk = D4_SEG / 2, nseg = 0;
        double fs = 1.0 / c->phys.noise_dt, df = fs / D4_SEG, cpu = 0;
        double *v = calloc(D4_TICKS + 1, sizeof(double)), *psd = malloc(sizeof(double) * (nk + 1));
        int rc = d4_run(c, D4_TICKS, v, &cpu, &err);
        if (!rc)
            rc = tdi_cosim_welch(v + D4_SKIP, D4_TICKS + 1 - D4_SKIP, D4_SEG, fs, psd, &nseg,
                                 &err);
        printf("info: D = 4 transient: %ld ticks of %g s, %.2f CPU s\n", D4_TICKS, 1 / fs, cpu);
        if (TDI_CHECK(rc == 0, "D = 4: transient and Welch ran")) {
            double r = 0;
            size_t nb = 0;
            for (size_t k = 2; k <= nk && (double)k * df <= 1e6; k += 2, nb++) {
                double x = M_PI * (double)k * df / fs, sinc = sin(x) / x; /* test_ota */
                r += psd[k] / (g_d4.tot[k - 1] * sinc * sinc * sinc * sinc);
            }
            r /= (double)nb;
            printf("info: D = 4 node %s: %zu bins to 1 MHz, Welch / .noise %.4f\n",
                   c->nodes[0].name, nb, r);
            /* 4 sigma of the band mean (0.95 nseg averages per bin) + 3% systematic (test_ota) */
            tdi_check_near(r, 1.0, 0.03 + 4 / sqrt(0.95 * (double)nseg * (double)nb),
                           "D = 4: node 0's Welch PSD / ngspice .noise, bins to 1 MHz");
        } else {
            printf("  %s\n", err.msg);
        }
        free(v);
        free(psd);
    }
    tdi_gen_circuit_free(c);
    tdi_gen_bundle_destroy(&g_d4.b);
}

int main(void)
{
    test_calibration();
    test_bad_card();
    ota_prepare(); /* every .noise before the first transient (g_ota) */
    d4_prepare();
    test_ota();
    test_d4();
    TDI_TEST_END();
}
