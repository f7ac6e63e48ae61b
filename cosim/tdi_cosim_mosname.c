/* tdi_cosim_mosname: the name ngspice gives every device's MOSFET, what "@<name>[gm]" reads
 * (docs/devices.md "Your own PDK"). An M device is its own MOSFET (tdi_gen_dev_spice: "mota0_1",
 * "m.xm_enc.mota0_1" in the hierarchy); a PDK subcircuit device (mos_prefix x) wraps one, which
 * ngspice flattens to "m.[<inst>.]<x name>.<inner>" with <inner> the PDK's choice, found once by
 * a probe deck from its noise vectors (onoise.m.x<k>.<inner>.1overf). Invariant: the probe loads
 * and unloads its own deck, so it runs before the circuit's deck is loaded. Probe deck (k = 0 an
 * n, 1 a p device, +-0.6 V, W = 10 L):
 *   <model cards>; vin in 0 dc 0 ac 1; rin in 0 1; rout out 0 1 noisy=0;
 *   vg<k> g<k> 0 dc <vgs>; vd<k> d<k> 0 dc <vds>; x<k> d<k> g<k> 0 0 <subckt> w=<W> l=<L>;
 *   f<k> 0 out vd<k> 1; noise v(out) vin dec 1 1 1e9 1
 * Non-goals: the reads (tdi_cosim_ng_dev_params), subcircuits holding more than one MOSFET. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_buf.h"
#include "tdi_cosim.h"
#include "tdi_cosim_ng.h"
#include "tdi_gen.h"

void tdi_cosim_mos_cards(const tdi_gen_config *m, char card[2][600], const char *cards[3])
{
    if (m->mos_corner[0])
        snprintf(card[0], sizeof card[0], ".lib %s %s", m->mos_lib, m->mos_corner);
    else
        snprintf(card[0], sizeof card[0], ".include %s", m->mos_lib);
    snprintf(card[1], sizeof card[1], ".option scale=%.9g", m->mos_scale);
    cards[0] = card[0];
    cards[1] = m->mos_scale > 0 ? card[1] : NULL;
    cards[2] = NULL;
}

const char *tdi_cosim_mos_dev_name(const tdi_gen_dev *d, const char *inner, char *buf, size_t n)
{
    if (!inner || !inner[0])
        return tdi_gen_dev_spice(d, 0, buf, n);
    snprintf(buf, n, "m.%s%s%s.%s", d->inst, d->inst[0] ? "." : "", d->name, inner);
    return buf;
}

/* the probe deck's lines (owned by the returned text), NULL with err set */
static tdi_gen_text *probe_deck(const tdi_gen_config *m, double L, tdi_err *err)
{
    char card[2][600];
    const char *cards[3];
    tdi_cosim_mos_cards(m, card, cards);
    double s = m->mos_scale > 0 ? m->mos_scale : 1.0; /* W, L as the netlist writes them */
    tdi_buf b = {0};
    tdi_buf_printf(&b, "* tdi MOSFET-name probe: one n and one p subcircuit device\n");
    for (size_t i = 0; cards[i]; i++)
        tdi_buf_printf(&b, "%s\n", cards[i]);
    tdi_buf_printf(&b, "vin in 0 dc 0 ac 1\nrin in 0 1\nrout out 0 1 noisy=0\n");
    for (int k = 0; k < 2; k++) {
        double v = k ? -0.6 : 0.6;
        tdi_buf_printf(&b, "vg%d g%d 0 dc %g\nvd%d d%d 0 dc %g\n", k, k, v, k, k, v);
        tdi_buf_printf(&b, "x%d d%d g%d 0 0 %s w=%.17g l=%.17g\nf%d 0 out vd%d 1\n", k, k, k,
                       k ? m->mos_pmos : m->mos_nmos, 10 * L / s, L / s, k, k);
    }
    tdi_buf_printf(&b, ".end");
    char *txt = tdi_buf_take(&b);
    if (!txt) {
        tdi_err_set(err, TDI_ENOMEM, "MOSFET-name probe: out of memory");
        return NULL;
    }
    return tdi_cosim_deck_text(txt, err);
}

tdi_gen_text *tdi_cosim_deck_text(char *s, tdi_err *err)
{
    tdi_gen_text *t = calloc(1, sizeof *t);
    size_t n = 1;
    for (const char *p = s; *p; p++)
        n += *p == '\n';
    if (t)
        t->lines = calloc(n + 1, sizeof(char *));
    if (!t || !t->lines) {
        free(t);
        free(s);
        tdi_err_set(err, TDI_ENOMEM, "out of memory");
        return NULL;
    }
    t->buf = s;
    t->len = strlen(s);
    for (char *p = s; *p;) {
        char *e = strchr(p, '\n');
        t->lines[t->n_lines++] = p;
        if (!e)
            break;
        *e = '\0';
        p = e + 1;
    }
    return t;
}

/* the MOSFET inside probe device x<k> (subcircuit sub) from the current plot's vector names:
 * exactly one onoise.m.x<k>.<inner>.1overf */
static int probe_find(int k, const char *sub, char *inner, size_t len, tdi_err *err)
{
    char pre[32];
    snprintf(pre, sizeof pre, "onoise.m.x%d.", k);
    size_t lp = strlen(pre), found = 0, li = 0;
    char **v = tdi_cosim_ng_raw_vecs();
    for (size_t i = 0; v && v[i]; i++) {
        size_t l = strlen(v[i]);
        if (l <= lp + 7 || strncmp(v[i], pre, lp) || strcmp(v[i] + l - 7, ".1overf"))
            continue;
        if (found++ == 0) {
            li = l - lp - 7;
            snprintf(inner, len, "%.*s", (int)li, v[i] + lp);
        }
    }
    if (found != 1)
        return tdi_err_set(err, TDI_ESPICE, "subcircuit '%s' holds %zu MOSFETs (exactly one "
                           "is supported: its drain current is the device's)", sub, found);
    if (li >= len)
        return tdi_err_set(err, TDI_ESPICE, "subcircuit '%s': the name of its MOSFET is longer "
                           "than %zu characters", sub, len - 1);
    return 0;
}

int tdi_cosim_mos_inner_probe(const tdi_gen_config *m, double L,
                              char inner[2][TDI_COSIM_MOS_INNER], tdi_err *err)
{
    tdi_gen_text *t = probe_deck(m, L, err);
    if (!t)
        return tdi_err_prefix(err, "circuit.mos_lib %s", m->mos_lib);
    int rc = tdi_cosim_ng_load(t, err);
    if (!rc)
        rc = tdi_cosim_ng_cmd("noise v(out) vin dec 1 1 1e9 1", err);
    /* the spectra's plot is the one before the integrated noise's; only the vector names are
       read (ngspice 39.3 keeps one point per vector after a .save none deck: docs/noise.md) */
    if (!rc)
        rc = tdi_cosim_ng_cmd("setplot previous", err);
    for (int k = 0; k < 2 && !rc; k++)
        rc = probe_find(k, k ? m->mos_pmos : m->mos_nmos, inner[k], TDI_COSIM_MOS_INNER, err);
    tdi_cosim_ng_unload();
    tdi_gen_text_free(t);
    return rc ? tdi_err_prefix(err, "subcircuit probe (circuit.mos_lib %s)", m->mos_lib) : 0;
}

int tdi_cosim_mos_names_init(tdi_cosim_mos_names *nm, const tdi_gen_circuit *c, tdi_err *err)
{
    memset(nm, 0, sizeof *nm);
    if (!c || !c->phys.mos || !c->mos_cfg || !c->dev || !c->n_dev)
        return tdi_err_set(err, TDI_EARG, "device names: the circuit has no devices "
                           "(devices: mos)");
    const tdi_gen_config *m = c->mos_cfg;
    int sub = m->mos_prefix[0] == 'x';
    if (sub) {
        int rc = tdi_cosim_mos_inner_probe(m, c->dev[0].L, nm->inner, err);
        if (rc)
            return rc;
    }
    nm->buf = malloc(c->n_dev * TDI_COSIM_MOS_NAME);
    nm->name = malloc(c->n_dev * sizeof *nm->name);
    if (!nm->buf || !nm->name) {
        tdi_cosim_mos_names_destroy(nm);
        return tdi_err_set(err, TDI_ENOMEM, "device names: out of memory");
    }
    nm->n = c->n_dev;
    for (size_t k = 0; k < c->n_dev; k++) {
        const tdi_gen_dev *d = &c->dev[k];
        nm->name[k] = tdi_cosim_mos_dev_name(d, sub ? nm->inner[d->type == 'p'] : NULL,
                                             nm->buf + k * TDI_COSIM_MOS_NAME,
                                             TDI_COSIM_MOS_NAME);
    }
    return 0;
}

void tdi_cosim_mos_names_destroy(tdi_cosim_mos_names *nm)
{
    if (!nm)
        return;
    free(nm->buf);
    free(nm->name);
    nm->buf = NULL;
    nm->name = NULL;
    nm->n = 0;
}
