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
#include "tdi_test.h"

#define KT (TDI_PHYS_KB * 300.15) /* J: ngspice's default 27 C */
#define QE 1.602176634e-19        /* C */

static const char *const CARDS[] = {".model tdi_nmos nmos level=14 version=4.8",
                                    ".model tdi_pmos pmos level=14 version=4.8", NULL};

/* a tdi_gen_text of s's '\n'-separated lines */
static tdi_gen_text *text_of(const char *s)
{
    tdi_gen_text *t = calloc(1, sizeof *t);
    t->buf = strdup(s);
    size_t n = 1;
    for (const char *p = s; *p; p++)
        n += *p == '\n';
    t->lines = calloc(n + 1, sizeof(char *));
    for (char *p = t->buf; *p;) {
        char *e = strchr(p, '\n');
        t->lines[t->n_lines++] = p;
        if (!e)
            break;
        *e = '\0';
        p = e + 1;
    }
    return t;
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
        rc = tdi_cosim_ng_cmd("setplot previous", err);
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
               "(2 psd_w / 4kT gm) %.3f, 2 psd_w / 2qI %.3f, psd_f1 %.4g, ef %.3f, corner %.4g Hz\n",
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

int main(void)
{
    test_calibration();
    test_bad_card();
    TDI_TEST_END();
}
