/* tdi_gen_mos_trim: the offset trim at transistor level (circuit.mos_trim; docs/devices.md
 * "Offset trim"): given each unit's rest current (measured at the hold op by the co-simulator,
 * tdi_cosim_mos_trim), a trim current per unit node that cancels it, ideal or quantised to a
 * signed DAC's step. Invariant: the element list, the devices and the element text are untouched;
 * only c->trim changes, which every netlist then writes as current sources (tdi_gen_emit.c).
 * Non-goals: measuring the currents; drift (one foreground trim at one temperature and supply). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_gen_int.h"

/* The auto full scale: the largest measured |i_rest| sits at 80% of the DAC's range, so the
 * first pass never clips and the step is 1.25 max|i_rest| / code_max. */
#define TRIM_FS_MARGIN 1.25

int tdi_gen_mos_trim_on(const tdi_gen_config *cfg)
{
    return cfg && cfg->mos_trim[0] && strcmp(cfg->mos_trim, "none") != 0;
}

void tdi_gen_mos_trim_free(tdi_gen_mos_trim *t)
{
    if (!t)
        return;
    free(t->i_first);
    free(t->target);
    free(t->i_trim);
    free(t->code);
    free(t);
}

static tdi_gen_mos_trim *trim_alloc(const tdi_gen_config *cfg, size_t n)
{
    tdi_gen_mos_trim *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    size_t m = n ? n : 1;
    t->i_first = calloc(m, sizeof *t->i_first);
    t->target = calloc(m, sizeof *t->target);
    t->i_trim = calloc(m, sizeof *t->i_trim);
    t->code = calloc(m, sizeof *t->code);
    if (!t->i_first || !t->target || !t->i_trim || !t->code) {
        tdi_gen_mos_trim_free(t);
        return NULL;
    }
    t->dac = strcmp(cfg->mos_trim, "dac") == 0;
    t->bits = t->dac ? cfg->mos_trim_bits : 0;
    t->code_max = t->dac ? (1L << (t->bits - 1)) - 1 : 0;
    return t;
}

/* The dac's full scale and step from the first pass's targets (N). */
static void trim_scale(tdi_gen_mos_trim *t, const tdi_gen_config *cfg, size_t N)
{
    double mx = 0;
    for (size_t i = 0; i < N; i++)
        mx = fmax(mx, fabs(t->target[i]));
    t->fs = cfg->mos_trim_fs > 0 ? cfg->mos_trim_fs : TRIM_FS_MARGIN * mx;
    t->lsb = t->code_max > 0 ? t->fs / (double)t->code_max : 0;
}

/* i_trim from target: as is (ideal), or the nearest code clipped to +-code_max (dac). */
static void trim_quantise(tdi_gen_mos_trim *t, size_t N)
{
    t->n_clip = 0;
    for (size_t i = 0; i < N; i++) {
        if (!t->dac || !(t->lsb > 0)) {
            t->code[i] = 0;
            t->i_trim[i] = t->dac ? 0 : t->target[i];
            continue;
        }
        double q = round(t->target[i] / t->lsb);
        if (fabs(q) > (double)t->code_max) {
            q = q > 0 ? (double)t->code_max : -(double)t->code_max;
            t->n_clip++;
        }
        t->code[i] = (long)q;
        t->i_trim[i] = q * t->lsb;
    }
}

/* rms and max |.| of a (N) */
static void trim_stats(const double *a, size_t N, double *rms, double *mx)
{
    double s = 0, m = 0;
    for (size_t i = 0; i < N; i++) {
        s += a[i] * a[i];
        m = fmax(m, fabs(a[i]));
    }
    *rms = N ? sqrt(s / (double)N) : 0;
    *mx = m;
}

int tdi_gen_mos_trim_apply(tdi_gen_circuit *c, const double *i_rest, tdi_err *err)
{
    if (!c->phys.mos || !c->mos_cfg || !tdi_gen_mos_trim_on(c->mos_cfg))
        return tdi_err_set(err, TDI_EARG, "offset trim: not a transistor-level circuit with "
                           "circuit.mos_trim: ideal | dac");
    size_t N = c->N;
    tdi_gen_mos_trim *t = c->trim;
    if (!t && !(t = trim_alloc(c->mos_cfg, N)))
        return tdi_err_set(err, TDI_ENOMEM, "offset trim: out of memory");
    c->trim = t;
    for (size_t i = 0; i < N; i++) /* the untrimmed rest current is i_rest - i_trim */
        t->target[i] = t->i_trim[i] - i_rest[i];
    if (t->passes == 0) {
        memcpy(t->i_first, i_rest, N * sizeof *i_rest);
        trim_stats(t->i_first, N, &t->first_rms, &t->first_max);
        trim_scale(t, c->mos_cfg, N);
    }
    trim_quantise(t, N);
    trim_stats(t->i_trim, N, &t->trim_rms, &t->trim_max);
    t->sum_abs = 0;
    for (size_t i = 0; i < N; i++)
        t->sum_abs += fabs(t->i_trim[i]);
    t->power_W = t->sum_abs * c->mos_cfg->mos_vdd;
    t->passes++;
    return 0;
}

void tdi_gen_mos_trim_print(const tdi_gen_circuit *c, FILE *f)
{
    const tdi_gen_mos_trim *t = c->trim;
    if (!t)
        return;
    char dac[160] = "ideal current sources";
    if (t->dac)
        snprintf(dac, sizeof dac, "%ld-bit DAC, codes +-%ld, full scale %.4g A, LSB %.4g A%s",
                 t->bits, t->code_max, t->fs, t->lsb,
                 c->mos_cfg->mos_trim_fs > 0 ? " (circuit.mos_trim_fs)" : " (1.25 x max |i_rest|)");
    fprintf(f, "offset trim (circuit.mos_trim: %s, %d pass%s; %s): untrimmed rest currents rms "
            "%.4g A, max %.4g A; trim rms %.4g A, max %.4g A; trim DAC power sum |I_trim| Vdd = "
            "%.4g W\n", t->dac ? "dac" : "ideal", t->passes, t->passes == 1 ? "" : "es", dac,
            t->first_rms, t->first_max, t->trim_rms, t->trim_max, t->power_W);
    if (t->n_clip)
        fprintf(f, "  %zu unit%s clipped at full scale (circuit.mos_trim_fs %.4g A is below "
                "their need)\n", t->n_clip, t->n_clip == 1 ? "" : "s", t->fs);
}
