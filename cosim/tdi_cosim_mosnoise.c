/* tdi_cosim_mosnoise: each transistor's drain-current noise PSD, calibrated against ngspice's own
 * small-signal .noise for that device at its bias (docs/noise.md "Calibration"). A deck holds
 * up to MN_CHUNK devices, each isolated: gate, drain and bulk held by DC sources at the device's operating-point
 * voltages (source at 0), the drain current copied into a common 1-ohm noiseless output by an
 * F source, so each device's own noise vectors (onoise.m<k>, onoise.m<k>.1overf) are its
 * drain-current noise in A/sqrt(Hz) (one-sided). Deck format (k = 0..n-1):
 *   <model cards>; vin in 0 dc 0 ac 1; rin in 0 1; rout out 0 1 noisy=0;
 *   vg<k> g<k> 0 dc <vgs>; vd<k> d<k> 0 dc <vds>; vb<k> b<k> 0 dc <vbs>;
 *   m<k> d<k> g<k> 0 b<k> <model> w=<W> l=<L> [delvto=..] [mulu0=..]; f<k> 0 out vd<k> 1
 * PDK subcircuit devices (mos_prefix x): x<k> instead of m<k>, the vectors of the MOSFET inside
 * (onoise.m.x<k>.<inner>; <inner> found by tdi_cosim_mos_inner_probe, tdi_cosim_mosname.c).
 * Non-goal: noise other than the drain current's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tdi_buf.h"
#include "tdi_clock.h"
#include "tdi_cosim.h"
#include "tdi_gen.h"

#define MN_FREQS 10          /* .noise points: 1 Hz .. 1 GHz, one per decade */
#define MN_WHITE_AT 6        /* the white part is read at 1 MHz (index 6) */
#define MN_CMD "noise v(out) vin dec 1 1 1e9 1"
/* devices per calibration deck: ngspice's noise analysis of one deck grows faster than its
 * device count (D = 64 skip preset, 2026-12-02: 2,000 devices 3.3 s CPU, 12,000 more than
 * 250 s); decks of 1,000 keep it linear (docs/noise.md "Bias classes") */
#define MN_CHUNK 1000

/* what a calibration deck is made of: the model cards, the device names and, for PDK
 * subcircuit devices (mos_prefix x), the MOSFET's name inside each subcircuit ("" for m) */
typedef struct {
    const char *const *cards; /* NULL-terminated */
    const char *nmodel, *pmodel;
    double scale;             /* .option scale (0: none) */
    int sub;                  /* x devices */
    char inner[2][TDI_COSIM_MOS_INNER]; /* n, p: the MOSFET inside the subcircuit (sub only;
                                           tdi_cosim_mos_inner_probe) */
} mn_spec;

/* ngspice's name of deck device k (type t): "m<k>", or "m.x<k>.<inner>" inside a subcircuit */
static const char *mn_name(const mn_spec *sp, size_t k, char t, char *buf, size_t len)
{
    if (sp->sub)
        snprintf(buf, len, "m.x%zu.%s", k, sp->inner[t == 'p']);
    else
        snprintf(buf, len, "m%zu", k);
    return buf;
}

static void mn_device(tdi_buf *b, size_t k, const tdi_cosim_mos_bias *d, const mn_spec *sp)
{
    double s = sp->scale > 0 ? sp->scale : 1.0; /* W, L as the netlist writes them */
    tdi_buf_printf(b, "vg%zu g%zu 0 dc %.17g\nvd%zu d%zu 0 dc %.17g\nvb%zu b%zu 0 dc %.17g\n", k,
                   k, d->vgs, k, k, d->vds, k, k, d->vbs);
    tdi_buf_printf(b, "%c%zu d%zu g%zu 0 b%zu %s w=%.17g l=%.17g", sp->sub ? 'x' : 'm', k, k, k,
                   k, d->type == 'p' ? sp->pmodel : sp->nmodel, d->W / s, d->L / s);
    if (d->delvto != 0)
        tdi_buf_printf(b, " delvto=%.17g", d->delvto);
    if (d->mulu0 != 1 && d->mulu0 > 0)
        tdi_buf_printf(b, " mulu0=%.17g", d->mulu0);
    tdi_buf_printf(b, "\nf%zu 0 out vd%zu 1\n", k, k);
}

static tdi_gen_text *mn_deck(const mn_spec *sp, size_t n, const tdi_cosim_mos_bias *b,
                             tdi_err *err)
{
    tdi_buf t = {0};
    tdi_buf_printf(&t, "* tdi device-noise calibration: %zu devices\n", n);
    for (size_t i = 0; sp->cards && sp->cards[i]; i++)
        tdi_buf_printf(&t, "%s\n", sp->cards[i]);
    tdi_buf_printf(&t, "vin in 0 dc 0 ac 1\nrin in 0 1\nrout out 0 1 noisy=0\n");
    for (size_t k = 0; k < n; k++)
        mn_device(&t, k, b + k, sp);
    tdi_buf_printf(&t, ".end\n");
    char *s = tdi_buf_take(&t);
    if (!s) {
        tdi_err_set(err, TDI_ENOMEM, "out of memory building the noise deck");
        return NULL;
    }
    size_t L = strlen(s);
    if (L && s[L - 1] == '\n')
        s[L - 1] = '\0';
    return tdi_cosim_deck_text(s, err);
}

/* one device's PSDs from its total and flicker densities (one-sided A/sqrt(Hz) at 10^i Hz) */
static void mn_fit(const double *tot, const double *fl, tdi_cosim_mos_psd *o)
{
    double w1 = tot[MN_WHITE_AT] * tot[MN_WHITE_AT] - fl[MN_WHITE_AT] * fl[MN_WHITE_AT];
    o->psd_w = 0.5 * (w1 > 0 ? w1 : 0); /* two-sided */
    double s0 = fl[0] * fl[0], s6 = fl[MN_WHITE_AT] * fl[MN_WHITE_AT];
    o->ef = s0 > 0 && s6 > 0 ? log10(s0 / s6) / MN_WHITE_AT : 1.0;
    /* psd_f1 / f matches ngspice's flicker at the decade nearest the corner (exact for ef = 1) */
    size_t best = 0;
    double bd = INFINITY;
    for (size_t i = 0; i < MN_FREQS; i++) {
        double sf = 0.5 * fl[i] * fl[i], dd = sf > 0 && o->psd_w > 0 ? fabs(log(sf / o->psd_w))
                                                                        : INFINITY;
        if (dd < bd) {
            bd = dd;
            best = i;
        }
    }
    double f = pow(10.0, (double)best);
    o->psd_f1 = 0.5 * fl[best] * fl[best] * f;
    o->f_corner = o->psd_w > 0 ? o->psd_f1 / o->psd_w : INFINITY;
}

static int mn_read(const mn_spec *sp, size_t k, char type, tdi_cosim_mos_psd *o,
                   tdi_err *err)
{
    char nm[96], nt[112], nf[120];
    mn_name(sp, k, type, nm, sizeof nm);
    snprintf(nt, sizeof nt, "onoise.%s", nm);
    snprintf(nf, sizeof nf, "onoise.%s.1overf", nm);
    double *tot = NULL, *fl = NULL;
    size_t a = 0, b = 0;
    int rc = tdi_cosim_ng_vector(nt, &tot, &a, err);
    if (!rc)
        rc = tdi_cosim_ng_vector(nf, &fl, &b, err);
    if (!rc && (a != MN_FREQS || b != MN_FREQS))
        rc = tdi_err_set(err, TDI_ESPICE, "noise vectors of %s have %zu and %zu points, not %d",
                         nm, a, b, MN_FREQS);
    if (!rc)
        mn_fit(tot, fl, o);
    free(tot);
    free(fl);
    return rc;
}

/* every device's id and gm from the op (read before the noise analysis replaces the plot; the
 * O(1) reader: tdi_cosim_ng_dev_params) */
static int mn_op(const mn_spec *sp, size_t n, const tdi_cosim_mos_bias *b, tdi_cosim_mos_psd *o,
                 tdi_err *err)
{
    char (*nm)[96] = malloc(n * sizeof *nm);
    const char **inst = malloc(n * sizeof *inst);
    double *v = malloc(2 * n * sizeof *v);
    static const char *const par[2] = {"id", "gm"};
    int rc = !nm || !inst || !v ? tdi_err_set(err, TDI_ENOMEM, "out of memory") : 0;
    for (size_t k = 0; k < n && !rc; k++)
        inst[k] = mn_name(sp, k, b[k].type, nm[k], sizeof nm[k]);
    if (!rc)
        rc = tdi_cosim_ng_dev_params(n, inst, 2, par, v, err);
    for (size_t k = 0; k < n && !rc; k++) {
        o[k].id = fabs(v[2 * k]);
        o[k].gm = v[2 * k + 1];
    }
    free(nm);
    free(inst);
    free(v);
    return rc;
}

int tdi_cosim_mos_noise_plot(size_t npts, tdi_err *err)
{
    /* noise leaves its integrated-noise plot current; the spectra's is the one before */
    int rc = tdi_cosim_ng_cmd("setplot previous", err);
    double *v = NULL;
    size_t n = 0;
    if (!rc)
        rc = tdi_cosim_ng_vector("onoise_spectrum", &v, &n, err);
    free(v);
    if (!rc && n != npts) /* docs/noise.md section 1: ngspice 39.3 after a ".save none" deck */
        rc = tdi_err_set(err, TDI_ESPICE, "the noise plot has %zu points, not %zu (did a "
                         "transient with .save none run in this process before?)", n, npts);
    return rc;
}

/* devices [0, n) of b in one deck (at most MN_CHUNK) */
static int mn_calibrate_deck(const mn_spec *sp, size_t n, const tdi_cosim_mos_bias *b,
                             tdi_cosim_mos_psd *out, tdi_err *err)
{
    tdi_gen_text *t = mn_deck(sp, n, b, err);
    if (!t)
        return err ? err->code : TDI_ENOMEM;
    int rc = tdi_cosim_ng_load(t, err);
    if (!rc)
        rc = tdi_cosim_ng_cmd("op", err);
    if (!rc)
        rc = mn_op(sp, n, b, out, err);
    if (!rc)
        rc = tdi_cosim_ng_cmd(MN_CMD, err);
    if (!rc)
        rc = tdi_cosim_mos_noise_plot(MN_FREQS, err);
    for (size_t k = 0; k < n && !rc; k++)
        rc = mn_read(sp, k, b[k].type, out + k, err);
    tdi_cosim_ng_unload();
    tdi_gen_text_free(t);
    return rc;
}

static int mn_calibrate(const mn_spec *sp, size_t n, const tdi_cosim_mos_bias *b,
                        tdi_cosim_mos_psd *out, tdi_err *err)
{
    int rc = 0;
    for (size_t k = 0; k < n && !rc; k += MN_CHUNK)
        rc = mn_calibrate_deck(sp, n - k < MN_CHUNK ? n - k : MN_CHUNK, b + k, out + k, err);
    return rc ? tdi_err_prefix(err, "device noise calibration") : 0;
}

int tdi_cosim_mos_noise_calibrate(const char *const *cards, const char *nmodel,
                                  const char *pmodel, double scale, size_t n,
                                  const tdi_cosim_mos_bias *b, tdi_cosim_mos_psd *out,
                                  tdi_err *err)
{
    mn_spec sp = {.cards = cards, .nmodel = nmodel, .pmodel = pmodel, .scale = scale};
    return mn_calibrate(&sp, n, b, out, err);
}

int tdi_cosim_mos_op_bias(const char *inst, char type, tdi_cosim_mos_bias *b, tdi_err *err)
{
    static const char *const q[3] = {"vgs", "vds", "vbs"};
    double v[3];
    char name[96];
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "@%s[%s]", inst, q[i]);
        int rc = tdi_cosim_ng_real(name, &v[i], err);
        if (rc)
            return rc;
    }
    double s = type == 'p' ? -1.0 : 1.0; /* ngspice reports a p device's voltages negated */
    b->type = type;
    b->vgs = s * v[0];
    b->vds = s * v[1];
    b->vbs = s * v[2];
    return 0;
}

/* sp from c's configuration: the model cards as the emitter writes them (card, cards: the
 * caller's storage), the device names, x devices for mos_prefix x (sp->inner: the caller's) */
static void mn_spec_init(const tdi_gen_config *m, char card[2][600], const char *cards[3],
                         mn_spec *sp)
{
    tdi_cosim_mos_cards(m, card, cards);
    *sp = (mn_spec){.cards = cards, .nmodel = m->mos_nmos, .pmodel = m->mos_pmos,
                    .scale = m->mos_scale, .sub = m->mos_prefix[0] == 'x'};
}

/* every device's bias at the circuit's rest operating point (the cosim netlist, zero bias: the
 * point a co-simulation starts from) */
static int mn_circuit_op(const tdi_gen_circuit *c, const tdi_cosim_mos_names *nm,
                         tdi_cosim_mos_bias *b, double *id, tdi_err *err)
{
    tdi_gen_text *t = NULL;
    double h = c->phys.noise_dt;
    int rc = tdi_gen_netlist_text(c, TDI_GEN_COSIM, h, 2 * h, &t, err);
    if (!rc)
        rc = tdi_cosim_ng_load(t, err);
    if (!rc) /* BSIM4's OpenMP load: one thread is 24x cheaper here (docs/noise.md) */
        rc = tdi_cosim_ng_cmd("set num_threads=1", err);
    if (!rc)
        rc = tdi_cosim_ng_cmd("op", err);
    static const char *const q[4] = {"vgs", "vds", "vbs", "id"};
    double *v = rc ? NULL : malloc(4 * c->n_dev * sizeof *v);
    if (!rc && !v)
        rc = tdi_err_set(err, TDI_ENOMEM, "out of memory");
    if (!rc)
        rc = tdi_cosim_mos_params(nm, 4, q, v, err);
    for (size_t i = 0; i < c->n_dev && !rc; i++) {
        const tdi_gen_dev *d = c->dev + i;
        double sg = d->type == 'p' ? -1.0 : 1.0; /* as tdi_cosim_mos_op_bias */
        b[i] = (tdi_cosim_mos_bias){.type = d->type, .W = d->W, .L = d->L,
                                    .vgs = sg * v[4 * i], .vds = sg * v[4 * i + 1],
                                    .vbs = sg * v[4 * i + 2], .delvto = d->delvto,
                                    .mulu0 = d->mulu0};
        id[i] = fabs(v[4 * i + 3]);
    }
    free(v);
    tdi_cosim_ng_unload();
    tdi_gen_text_free(t);
    return rc;
}

/* ---------------------------------------------------------------- bias classes
 * Devices of the same type, L, mismatch and bias within MN_Q_* form a class whatever their W:
 * one calibration per class, at the class's median W, and each member's PSDs are the
 * representative's times id_member / id_rep at the circuit's op (docs/noise.md "Bias
 * classes": at equal bias BSIM4's drain current, thermal and flicker noise all scale with W). */
#define MN_Q_VGS 1e-4 /* V: weak inversion, d ln S / d vgs = 1 / (n U_T) ~ 28 / V: 0.3% */
#define MN_Q_VDS 1e-3 /* V: saturation, S changes by DIBL / CLM only (< 0.1% per mV) */
#define MN_Q_VBS 5e-4 /* V: body effect, (n - 1) / (n U_T) ~ 11 / V: 0.55% */

typedef struct {
    char type;
    double L, delvto, mulu0;
    long long qg, qd, qb;
    double W; /* not part of the class: orders a class's members */
    size_t idx;
} mn_key;

static int mn_cmp_d(double a, double b)
{
    return a < b ? -1 : (a > b ? 1 : 0);
}

static int mn_cmp_ll(long long a, long long b)
{
    return a < b ? -1 : (a > b ? 1 : 0);
}

/* the class key (type, L, mismatch, bias bins); 0 when a and b are in one class */
static int mn_class_cmp(const mn_key *a, const mn_key *b)
{
    int r = a->type - b->type;
    if (!r)
        r = mn_cmp_d(a->L, b->L);
    if (!r)
        r = mn_cmp_d(a->delvto, b->delvto);
    if (!r)
        r = mn_cmp_d(a->mulu0, b->mulu0);
    if (!r)
        r = mn_cmp_ll(a->qg, b->qg);
    if (!r)
        r = mn_cmp_ll(a->qd, b->qd);
    return r ? r : mn_cmp_ll(a->qb, b->qb);
}

/* the order: by class, then W, then device index (deterministic) */
static int mn_key_cmp(const void *pa, const void *pb)
{
    const mn_key *a = pa, *b = pb;
    int r = mn_class_cmp(a, b);
    if (!r)
        r = mn_cmp_d(a->W, b->W);
    return r ? r : (a->idx < b->idx ? -1 : (a->idx > b->idx));
}

/* the sorted keys k (n) into classes: cls (n) each device's class, rep (n_cls) the median-W
 * member of each */
static void mn_runs(const mn_key *k, size_t n, size_t *cls, size_t *rep, size_t *n_cls)
{
    for (size_t i = 0; i < n;) {
        size_t e = i + 1;
        while (e < n && mn_class_cmp(&k[e], &k[i]) == 0)
            e++;
        rep[*n_cls] = k[i + (e - i) / 2].idx;
        for (size_t q = i; q < e; q++)
            cls[k[q].idx] = *n_cls;
        ++*n_cls;
        i = e;
    }
}

/* cls (n): each device's class; rep (n, first n_cls used): each class's representative device.
 * group 0: every device its own class. */
static int mn_classes(const tdi_cosim_mos_bias *b, size_t n, int group, size_t *cls,
                      size_t *rep, size_t *n_cls, tdi_err *err)
{
    *n_cls = 0;
    if (!group) {
        for (size_t i = 0; i < n; i++)
            cls[i] = rep[i] = i;
        *n_cls = n;
        return 0;
    }
    mn_key *k = malloc((n ? n : 1) * sizeof *k);
    if (!k)
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        k[i] = (mn_key){b[i].type, b[i].L, b[i].delvto, b[i].mulu0,
                        llround(b[i].vgs / MN_Q_VGS), llround(b[i].vds / MN_Q_VDS),
                        llround(b[i].vbs / MN_Q_VBS), b[i].W, i};
    qsort(k, n, sizeof *k, mn_key_cmp);
    mn_runs(k, n, cls, rep, n_cls);
    free(k);
    return 0;
}

/* device i's PSDs from its class's representative r: scaled by id_i / id_r (the circuit's op),
 * by W_i / W_r where the op gives no current */
static void mn_assign(tdi_gen_dev *d, const tdi_cosim_mos_psd *o, size_t i, size_t r,
                      const double *id, const tdi_cosim_mos_bias *b, int flicker)
{
    double s = id[r] > 0 && id[i] > 0 ? id[i] / id[r] : b[i].W / b[r].W;
    if (i == r)
        s = 1.0;
    d->psd_w = s * o->psd_w;
    d->psd_f1 = flicker ? s * o->psd_f1 : 0.0;
}

typedef struct { /* the sizing's working arrays (n devices) */
    tdi_cosim_mos_bias *b, *rb; /* each device's bias; the representatives' (n_cls) */
    double *id;                 /* A, each device's |drain current| at the circuit's op */
    tdi_cosim_mos_psd *o;       /* the representatives' calibration (n_cls) */
    size_t *cls, *rep;          /* each device's class; each class's representative */
} mn_work;

static int mn_work_alloc(mn_work *w, size_t n, tdi_err *err)
{
    w->b = calloc(n, sizeof *w->b);
    w->rb = calloc(n, sizeof *w->rb);
    w->id = calloc(n, sizeof *w->id);
    w->o = calloc(n, sizeof *w->o);
    w->cls = calloc(n, sizeof *w->cls);
    w->rep = calloc(n, sizeof *w->rep);
    return !w->b || !w->rb || !w->id || !w->o || !w->cls || !w->rep
               ? tdi_err_set(err, TDI_ENOMEM, "out of memory") : 0;
}

static void mn_work_free(mn_work *w)
{
    free(w->b);
    free(w->rb);
    free(w->id);
    free(w->o);
    free(w->cls);
    free(w->rep);
}

int tdi_cosim_mos_noise_size_ex(tdi_gen_circuit *c, int group, tdi_cosim_mos_noise_stats *st,
                                tdi_err *err)
{
    const tdi_gen_config *m = c->mos_cfg;
    if (!c->phys.mos || c->n_dev == 0 || !m)
        return 0;
    if (group < 0)
        group = c->n_dev > TDI_COSIM_REALISED_LINEAR_DEV;
    size_t n = c->n_dev, n_cls = 0;
    double w0 = tdi_clock_s(CLOCK_MONOTONIC), c0 = tdi_clock_s(CLOCK_PROCESS_CPUTIME_ID);
    char card[2][600];
    const char *cards[3];
    mn_spec sp;
    mn_spec_init(m, card, cards, &sp);
    mn_work w = {0};
    tdi_cosim_mos_names nm; /* x devices: the probe, before the circuit's deck is loaded */
    int rc = tdi_cosim_mos_names_init(&nm, c, err);
    memcpy(sp.inner, nm.inner, sizeof sp.inner);
    if (!rc)
        rc = mn_work_alloc(&w, n, err);
    if (!rc)
        rc = mn_circuit_op(c, &nm, w.b, w.id, err);
    tdi_cosim_mos_names_destroy(&nm);
    double w1 = tdi_clock_s(CLOCK_MONOTONIC), c1 = tdi_clock_s(CLOCK_PROCESS_CPUTIME_ID);
    if (!rc)
        rc = mn_classes(w.b, n, group, w.cls, w.rep, &n_cls, err);
    for (size_t q = 0; q < n_cls && !rc; q++)
        w.rb[q] = w.b[w.rep[q]];
    if (!rc)
        rc = mn_calibrate(&sp, n_cls, w.rb, w.o, err);
    for (size_t i = 0; i < n && !rc; i++)
        mn_assign(c->dev + i, w.o + w.cls[i], i, w.rep[w.cls[i]], w.id, w.b, m->mos_flicker);
    if (st) {
        st->n_dev = n;
        st->n_class = n_cls;
        st->op_wall_s = w1 - w0;
        st->cal_wall_s = tdi_clock_s(CLOCK_MONOTONIC) - w1;
        st->op_cpu_s = c1 - c0;
        st->cal_cpu_s = tdi_clock_s(CLOCK_PROCESS_CPUTIME_ID) - c1;
        for (size_t i = 0; st->rep_of && i < n && !rc; i++)
            st->rep_of[i] = w.rep[w.cls[i]];
    }
    mn_work_free(&w);
    return rc;
}

int tdi_cosim_mos_noise_size(tdi_gen_circuit *c, tdi_err *err)
{
    return tdi_cosim_mos_noise_size_ex(c, -1, NULL, err);
}

int tdi_cosim_circuit_dev_from_gen(tdi_cosim_circuit *cc, const tdi_gen_circuit *gc,
                                   tdi_err *err)
{
    size_t n = 0;
    int flick = gc->mos_cfg && gc->mos_cfg->mos_flicker;
    for (size_t i = 0; i < gc->n_dev; i++)
        n += gc->dev[i].psd_w > 0;
    char (*names)[112] = calloc(n ? n : 1, sizeof *names);
    const char **np = calloc(n ? n : 1, sizeof *np);
    double *w = calloc(n ? n : 1, sizeof *w), *f1 = calloc(n ? n : 1, sizeof *f1);
    int rc = !names || !np || !w || !f1 ? tdi_err_set(err, TDI_ENOMEM, "out of memory") : 0;
    for (size_t i = 0, k = 0; i < gc->n_dev && !rc; i++) {
        const tdi_gen_dev *d = gc->dev + i;
        if (!(d->psd_w > 0))
            continue;
        tdi_gen_dev_spice(d, 1, names[k], sizeof names[k]); /* ngspice's name of the source */
        np[k] = names[k];
        w[k] = d->psd_w;
        f1[k] = flick ? d->psd_f1 : 0.0; /* as the emitter: mos_flicker off drops the 1/f part */
        k++;
    }
    if (!rc)
        rc = tdi_cosim_circuit_set_dev_noise(cc, n, np, w, f1, err);
    free(names);
    free(np);
    free(w);
    free(f1);
    return rc;
}
