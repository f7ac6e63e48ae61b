/* tdi_gen_emit: circuit -> netlist text (card order and naming: see tdi_gen.h), the wire
 * report (JSON and text) and the physics summary. Invariant: output depends only on the
 * circuit (deterministic, golden-testable); element values are printed with 15 significant
 * digits (siemens for G, ohms for R), enough for the 1e-9 read-back check. Non-goal: parsing. */
#include "tdi_gen.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_buf.h"
#include "tdi_gen_int.h"
#include "tdi_json.h"

/* The lines of a netlist, each NUL-terminated, back to back in text; off: (n) line starts. */
typedef struct {
    tdi_buf text;
    tdi_buf off; /* size_t offsets, stored as bytes */
    size_t n;
    char why[160]; /* a dialect's rewrite that failed (not out of memory): the card */
} sb;

static int sb_oom(const sb *s)
{
    return s->text.oom || s->off.oom || s->why[0];
}

/* The error of a failed build: the dialect's reason, or out of memory. */
static int sb_err(const sb *s, tdi_err *err)
{
    if (s->why[0])
        return tdi_err_set(err, TDI_ECONFIG, "netlist text: %s", s->why);
    return tdi_err_set(err, TDI_ENOMEM, "netlist text: out of memory");
}

static size_t sb_off(const sb *s, size_t i)
{
    size_t o;
    memcpy(&o, s->off.s + i * sizeof o, sizeof o);
    return o;
}

/* line i (NUL-terminated) */
static char *sb_at(const sb *s, size_t i)
{
    return s->text.s + sb_off(s, i);
}

static void sb_free(sb *s)
{
    tdi_buf_destroy(&s->text);
    tdi_buf_destroy(&s->off);
}

static void sb_add_line(sb *s, size_t start)
{
    if (!tdi_buf_append(&s->off, &start, sizeof start))
        s->n++;
}

static void sb_line(sb *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_line(sb *s, const char *fmt, ...)
{
    size_t start = s->text.len;
    va_list ap;
    va_start(ap, fmt);
    int bad = tdi_buf_vprintf(&s->text, fmt, ap);
    va_end(ap);
    if (!bad && !tdi_buf_append(&s->text, "", 1)) /* keep the NUL: the line separator */
        sb_add_line(s, start);
}

/* appends the '\n'-terminated lines of text[0..len) (a last line without '\n' is not added) */
static void sb_lines(sb *s, const char *text, size_t len)
{
    size_t base = s->text.len;
    if (tdi_buf_append(&s->text, text, len))
        return;
    char *dst = s->text.s + base;
    for (size_t i = 0, start = 0; i < len; i++)
        if (dst[i] == '\n') {
            dst[i] = '\0';
            sb_add_line(s, base + start);
            start = i + 1;
        }
}

static const char *nname(const tdi_gen_circuit *c, int i)
{
    return i < 0 ? "0" : c->nodes[i].name;
}

void tdi_gen_text_free(tdi_gen_text *t)
{
    if (!t)
        return;
    free(t->buf);
    free(t->lines);
    free(t);
}

int tdi_gen_text_write(const tdi_gen_text *t, FILE *f, tdi_err *err)
{
    for (size_t i = 0; i < t->n_lines; i++) {
        size_t len = (i + 1 < t->n_lines ? (size_t)(t->lines[i + 1] - t->lines[i])
                                         : t->len - (size_t)(t->lines[i] - t->buf)) - 1;
        if (fwrite(t->lines[i], 1, len, f) != len || fputc('\n', f) == EOF)
            return tdi_err_set(err, TDI_EIO, "netlist write failed: %s", strerror(errno));
    }
    return 0;
}

/* The comment line of a block: the two-module titles, or the block's name. */
static const char *blk_title(const tdi_gen_circuit *c, int b)
{
    int two = c->n_mod == 2 && c->n_cpl == 1 && strcmp(c->blk[TDI_GEN_BLK_SKIP].name, "skip") == 0;
    switch (b) {
    case TDI_GEN_BLK_SELF: return "self terms: conductance gu*M_ii (after bus corrections) to "
                                  "ground";
    case TDI_GEN_BLK_READOUT: return "analog read-out stage (Gm-C low-pass per decoder unit: "
                                     "one-way VCCS gm_ro from y<j> into r<y><j>, g_ro to ground)";
    default: break;
    }
    if (two && b == TDI_GEN_BLK_INTRA_ENC)
        return "intra-module couplings, encoder";
    if (two && b == TDI_GEN_BLK_INTRA_DEC)
        return "intra-module couplings, decoder";
    if (two)
        return "skip coupling";
    return c->blk[b].name ? c->blk[b].name : "?";
}

/* The blocks in report order: self, the modules' intra blocks, the couplings, and the read-out
 * stage when present. Returns the count written to order[]. */
static int blk_order(const tdi_gen_circuit *c, int *order)
{
    int n = 0;
    for (int b = 0; b <= (int)(c->n_mod + c->n_cpl); b++)
        order[n++] = b;
    if (c->phys.ro)
        order[n++] = TDI_GEN_BLK_READOUT;
    return n;
}

/* ---------- device styles: how an ideal element (tdi_gen_elem) becomes card(s) ----------
 * The element list is the ideal circuit (what the read-back and the verification see); a style
 * realises each element as SPICE cards: card_ideal (its own ideal R or G card) or card_mos
 * (circuit.devices: mos; the OTAs of c->ota from tdi_gen_mos.c, resistors to vcm;
 * docs/devices.md), chosen per circuit without touching the element builders. */
typedef void (*card_fn)(sb *s, const tdi_gen_circuit *c, const tdi_gen_elem *e, size_t *ota);

static void card_ideal(sb *s, const tdi_gen_circuit *c, const tdi_gen_elem *e, size_t *ota)
{
    (void)ota;
    if (e->kind == 'R') {
        int n1 = e->a >= 0 ? e->a : e->b, n2 = e->a >= 0 ? e->b : e->a;
        sb_line(s, "R%s %s %s %.15g", nname(c, n1), nname(c, n1), nname(c, n2), 1.0 / e->g);
    } else {
        int out = e->a >= 0 ? e->a : e->b;
        sb_line(s, "G%s_%s %s %s %s %s %.15g", nname(c, out), nname(c, e->c), nname(c, e->a),
                nname(c, e->b), nname(c, e->c), nname(c, e->d), e->g);
    }
}

/* One MOSFET instance: "<name> <d> <g> <s> <bulk> <device> W= L= [delvto= mulu0=]", W and L
 * in units of mos_scale when it is set (docs/devices.md). */
static void card_mosfet(sb *s, const tdi_gen_config *m, const tdi_gen_dev *d)
{
    double sc = m->mos_scale > 0 ? m->mos_scale : 1.0;
    char mm[96] = "";
    if (m->mos_mismatch)
        snprintf(mm, sizeof mm, " delvto=%.9g mulu0=%.9g", d->delvto, d->mulu0);
    sb_line(s, "%s %s %s %s %s %s W=%.9g L=%.9g%s", d->name, d->d, d->g, d->s,
            d->type == 'n' ? "0" : "vdd", d->type == 'n' ? m->mos_nmos : m->mos_pmos, d->W / sc,
            d->L / sc, mm);
}

/* Transistor style: a resistor to vcm for g > 0, else the element's OTA(s) (tdi_gen_mos.c):
 * six devices each (pair, mirror, tail, bias diode) and the reference current from vddb. */
static void card_mos(sb *s, const tdi_gen_circuit *c, const tdi_gen_elem *e, size_t *ota)
{
    if (e->kind == 'R' && e->g > 0) {
        int n1 = e->a >= 0 ? e->a : e->b, n2 = e->a >= 0 ? e->b : e->a;
        double g = tdi_gen_mos_g(c, e); /* e->g, or less the OTAs' load (mos_self_comp) */
        if (g > 0)
            sb_line(s, "R%s %s %s %.15g", nname(c, n1), nname(c, n1),
                    n2 < 0 ? "vcm" : nname(c, n2), 1.0 / g);
        else
            sb_line(s, "* R%s left out: the OTAs' output conductance at %s exceeds its %.6g S "
                    "(circuit.mos_self_comp: a shortfall)", nname(c, n1), nname(c, n1), e->g);
        return;
    }
    size_t ei = (size_t)(e - c->elems);
    while (*ota < c->n_ota && c->ota[*ota].elem < ei) /* a hierarchy pass skips elements */
        (*ota)++;
    for (; *ota < c->n_ota && c->ota[*ota].elem == ei; (*ota)++) {
        const tdi_gen_ota *o = &c->ota[*ota];
        sb_line(s, "* %s: %+.6g S x (v(%s) - v(%s)) into %s, I_tail %.6g A", o->name,
                o->sign * o->gm, o->sign > 0 ? o->inp : o->inn, o->sign > 0 ? o->inn : o->inp,
                o->out, o->i_tail);
        for (size_t q = 6 * *ota; q < 6 * *ota + 6; q++)
            card_mosfet(s, c->mos_cfg, &c->dev[q]);
        sb_line(s, "Ib%s vddb %s_b DC %.15g", o->name, o->name, o->i_tail);
    }
}

/* Parametric style (circuit.param): the ideal element with its value as an expression of gu,
 * {m*gu} or {1/(m*gu)}, m the entry in simulation units (g / gu): an edit of .param gu
 * rescales it. */
static void card_param(sb *s, const tdi_gen_circuit *c, const tdi_gen_elem *e, size_t *ota)
{
    (void)ota;
    double m = e->g / c->phys.gu;
    if (e->kind == 'R') {
        int n1 = e->a >= 0 ? e->a : e->b, n2 = e->a >= 0 ? e->b : e->a;
        sb_line(s, "R%s %s %s {1/(%.15g*gu)}", nname(c, n1), nname(c, n1), nname(c, n2), m);
    } else {
        int out = e->a >= 0 ? e->a : e->b;
        sb_line(s, "G%s_%s %s %s %s %s {%.15g*gu}", nname(c, out), nname(c, e->c),
                nname(c, e->a), nname(c, e->b), nname(c, e->c), nname(c, e->d), m);
    }
}

/* Which elements a pass writes: all, or (hierarchy) those of one module or one block. */
typedef int (*elem_keep_fn)(const tdi_gen_circuit *c, const tdi_gen_elem *e, size_t arg);

static int keep_all(const tdi_gen_circuit *c, const tdi_gen_elem *e, size_t arg)
{
    (void)c, (void)e, (void)arg;
    return 1;
}

static void emit_elems_if(sb *s, const tdi_gen_circuit *c, card_fn card, elem_keep_fn keep,
                          size_t arg)
{
    size_t ota = 0;
    int last = -1;
    for (size_t i = 0; i < c->n_elems; i++) {
        const tdi_gen_elem *e = &c->elems[i];
        if (!keep(c, e, arg))
            continue;
        if (e->block != last) {
            const tdi_gen_block_report *r = &c->blk[e->block];
            char rk[32] = "";
            if (r->rank)
                snprintf(rk, sizeof rk, ", rank %zu", r->rank);
            sb_line(s, "* --- %s (%s%s): %zu elements, %zu wire pairs, %zu bus nodes%s",
                    blk_title(c, e->block), r->realisation ? r->realisation : "", rk, r->elements,
                    r->wire_pairs, r->bus_nodes,
                    keep != keep_all && e->block == TDI_GEN_BLK_SELF ? " (all modules; this "
                    "module's below)" : "");
            last = e->block;
        }
        card(s, c, e, &ota);
    }
}

static card_fn card_style(const tdi_gen_circuit *c, int own)
{
    return c->phys.mos ? card_mos : own && c->param ? card_param : card_ideal;
}

static void emit_elems(sb *s, const tdi_gen_circuit *c)
{
    emit_elems_if(s, c, card_style(c, 0), keep_all, 0);
}

int tdi_gen_emit_elements(tdi_gen_circuit *c, tdi_err *err)
{
    sb s = {0};
    emit_elems(&s, c);
    if (sb_oom(&s)) {
        sb_free(&s);
        return tdi_err_set(err, TDI_ENOMEM, "element text: out of memory");
    }
    for (size_t i = 0; i < s.n; i++) /* NUL separators -> newlines */
        sb_at(&s, i)[strlen(sb_at(&s, i))] = '\n';
    tdi_buf_destroy(&s.off);
    c->elem_text_len = s.text.len;
    c->elem_text = tdi_buf_take(&s.text);
    return 0;
}

/* The unit kind's line `what` (nothing when the kind has none). */
static void unit_note(sb *s, const tdi_gen_phys *p, tdi_gen_unit_note what)
{
    char buf[256];
    p->unit->note(p, what, buf, sizeof buf);
    if (buf[0])
        sb_line(s, "%s", buf);
}

/* "X<unit> <state node 0> [<state node 1> ..] unit_<kind>" */
static void unit_instance(sb *s, const tdi_gen_circuit *c, size_t i)
{
    char line[256];
    int o = snprintf(line, sizeof line, "X%s", c->nodes[i].name);
    for (size_t st = 0; st < c->phys.unit->n_state && o > 0 && (size_t)o < sizeof line; st++)
        o += snprintf(line + o, sizeof line - (size_t)o, " %s",
                      c->nodes[tdi_gen_state_node(c, i, st)].name);
    sb_line(s, "%s %s", line, c->unit_subckt);
}

/* What every section of a netlist needs: the circuit, the mode, the unit counts (N units, NR
 * incl. the read-out stage nodes), the nodes the .control measures ([o0, o1)), and the
 * transient step and stop time [s]. */
typedef struct {
    const tdi_gen_circuit *c;
    const tdi_gen_phys *p;
    tdi_gen_mode mode;
    int param;             /* standalone with circuit.param: values as expressions */
    const tdi_gen_dialect *dl; /* the text's simulator (ngspice but for a standalone text) */
    size_t N, D, NR, o0, o1;
    double h, tstop, slot;
} nl_ctx;

/* Title, the circuit's header lines, the physics and read-out stage notes. */
static void nl_header(sb *s, const nl_ctx *x)
{
    const tdi_gen_circuit *c = x->c;
    const tdi_gen_phys *p = x->p;
    sb_line(s, "* tdi-gen %s netlist: thermodynamic diffusion inference substrate (%s)",
            x->mode == TDI_GEN_COSIM ? "cosim" : x->mode == TDI_GEN_HOLD ? "hold"
                                                                           : "standalone",
            x->dl->simulator);
    /* header lines (already "* ..."-prefixed, newline separated) */
    const char *h0 = c->header;
    while (*h0) {
        const char *e = strchr(h0, '\n');
        size_t n = e ? (size_t)(e - h0) : strlen(h0);
        sb_line(s, "%.*s", (int)n, h0);
        h0 += n + (e ? 1 : 0);
    }
    sb_line(s, "* physics: tau = Cu/gu = %.6g s, theta = kB T/(Cu Vs^2) = %.6g, kT/C = %.6g V^2 "
            "(%.6g V rms), Vs = %.6g V/unit", p->tau, p->theta, p->kTC, sqrt(p->kTC), p->Vs);
    sb_line(s, "* lambda(M) in [%.6g, %.6g]; slowest relaxation %.6g s, fastest %.6g s; noise "
            "interval %.6g s", p->lambda_min, p->lambda_max, p->t_slow, p->t_fast, p->noise_dt);
    sb_line(s, "* per sample: settle %.6g s then average %.6g s; %zu sample(s) from t = 0 "
            "(%s)", p->t_settle, p->t_avg, c->n_samples,
            p->mos ? "start: the DC operating point" : "nodes start at 0 V: uic");
    if (p->mos)
        sb_line(s, "* transistor level: %zu OTAs, %zu MOSFETs; nodes rest at v_ref = vcm = %.6g V "
                "(state = (v - vcm)/Vs); design supply current sum I_tail = %.6g A at Vdd = %.6g "
                "V", c->n_ota, c->n_dev, p->v_ref, p->i_tail_sum, p->vdd);
    if (p->mos && c->comp) /* docs/devices.md "Self-term compensation" */
        sb_line(s, "* self-term compensation (circuit.mos_self_comp, %d pass%s): resistors to vcm "
                "give up the OTAs' output conductance at their node (%.6g S in all; %zu short)",
                c->comp->passes, c->comp->passes == 1 ? "" : "es", c->comp->sum_load,
                c->comp->n_short);
    else if (p->mos && c->mos_cfg->mos_self_comp)
        sb_line(s, "* self-term compensation asked (circuit.mos_self_comp) but NOT applied: it "
                "needs an ngspice op (tdi-gen and tdi-cosim run it)");
    if (p->mos && c->trim) /* docs/devices.md "Offset trim" */
        sb_line(s, "* offset trim (circuit.mos_trim: %s, %d pass%s): Itrim_<unit> cancels each "
                "unit's measured rest current (rms %.6g A before); trim rms %.6g A, sum |I| Vdd = "
                "%.6g W", c->trim->dac ? "dac" : "ideal", c->trim->passes,
                c->trim->passes == 1 ? "" : "es", c->trim->first_rms, c->trim->trim_rms,
                c->trim->power_W);
    else if (p->mos && tdi_gen_mos_trim_on(c->mos_cfg))
        sb_line(s, "* offset trim asked (circuit.mos_trim) but NOT applied: it needs an ngspice "
                "op (tdi-gen and tdi-cosim run it)");
    unit_note(s, p, TDI_GEN_UNIT_NOTE_NETLIST);
    if (p->ro) {
        sb_line(s, "* read-out stage per decoder unit: C_ro = %.6g F, gm_ro = g_ro = %.6g S, "
                "tau_ro = %.6g s, noise g_n = %.6g S; settles in %.6g s", p->ro_C, p->ro_g,
                p->ro_tau, p->ro_gn, p->ro_settle);
        sb_line(s, "*   the ADC converts r<y><j> once per sample at the end of its slot (%.6g s)",
                p->t_slot);
    }
}

/* The node-name comment: encoder/decoder for the two-module case, else one line per module. */
static void nl_nodes_note(sb *s, const nl_ctx *x)
{
    const tdi_gen_circuit *c = x->c;
    const tdi_gen_phys *p = x->p;
    if (c->n_mod == 2 && c->out == 1) {
        const char *ep = c->mod[0].prefix, *dp = c->mod[1].prefix;
        sb_line(s, "* nodes: %s0..%s%zu encoder, %s0..%s%zu decoder (volts = Vs * state)%s", ep, ep,
                c->mod[0].n - 1, dp, dp, x->D - 1, p->unit->nodes_note);
    } else {
        for (size_t m = 0; m < c->n_mod; m++)
            sb_line(s, "* nodes: %s0..%s%zu module %s%s", c->mod[m].prefix, c->mod[m].prefix,
                    c->mod[m].n - 1, c->mod[m].name,
                    m >= c->out && c->mod[m].off < c->mod[c->out].off + c->D ? " (read out)" : "");
        sb_line(s, "* (volts = Vs * state)%s", p->unit->nodes_note);
    }
}

/* How to use the netlist: the co-simulation interface, or the standalone run and the expected
 * read-out per node and sample. */
static void nl_usage_note(sb *s, const nl_ctx *x)
{
    const tdi_gen_circuit *c = x->c;
    const tdi_gen_phys *p = x->p;
    if (x->mode == TDI_GEN_COSIM) {
        sb_line(s, "* co-simulation interface (see generator/tdi_gen.h):");
        sb_line(s, "*   ibias_<unit>  EXTERNAL current into the unit's force node = gu*Vs*b_i [A]");
        sb_line(s, "*   inoise_<unit> EXTERNAL current into the unit's force node: white, two-sided "
                "PSD 2 kB T g_noise = %.6g A^2/Hz", 2 * p->kT * p->g_noise);
        sb_line(s, "*                 sample std sqrt(2 kB T g_noise / h) = %.6g A at h = %.6g s, "
                "linearly interpolated, sample 0 := 0", p->noise_na, p->noise_dt);
        sb_line(s, "*   force node = the unit node (rc) or p<unit> (rlc); bus nodes: u*, s*, sk*");
        if (c->chip)
            sb_line(s, "*   non-ideal chip: Ios_<node> DC cards carry the transconductor offsets "
                    "(docs/nonideal.md)");
        if (p->mos)
            sb_line(s, "*   analysis: .tran h tstop 0 h from the DC operating point (h = tick); no "
                    ".control block; in<device> EXTERNAL: device channel noise, drain to source");
        else
            sb_line(s, "*   analysis: .tran h tstop 0 h uic (h = tick); no .control block");
        return;
    }
    sb_line(s, "* run: %s", x->dl->run);
    sb_line(s, "* expected (equilibrium mean Vs*(M^-1 b)_i, std of the average, std of the "
            "node) per read-out node and sample:");
    for (size_t si = 0; si < c->n_samples; si++)
        for (size_t i = x->o0; i < x->o1; i++)
            sb_line(s, "*   avg_%s_s%zu = %.6g V  +- %.3g V (readout std)  node std %.3g V",
                    c->nodes[i].name, si, c->expect_mean[si * x->N + i], c->readout_sd[i],
                    sqrt(c->node_var[i]));
}

/* .param cards and the subcircuits (read-out stage unit, the unit kind's). */
/* The parametric .params (circuit.param): conductances as gu times their value in simulation
 * units, capacitances as Cu times theirs, noise amplitudes from them, so that an edit of Cu, gu,
 * Vs or Tk rescales everything derived from it. Times stay absolute (the header says so). */
static void nl_params_expr(sb *s, const tdi_gen_phys *p)
{
    sb_line(s, "* values (circuit.param): conductances {m*gu}, resistors {1/(m*gu)}, biases "
            "{b*gu*Vs} with m, b in simulation units; edit Cu, gu, Vs or Tk here and every "
            "element follows. Times (.tran, windows, nt) are absolute: after a change of tau = "
            "Cu/gu regenerate them with tdi-gen");
    sb_line(s, ".param Cu=%.15g gu=%.15g Vs=%.15g Tk=%.15g kB=1.380649e-23", p->Cu, p->gu, p->Vs,
            p->T);
    if (p->Cp > 0) /* the second state (rlc): its capacitor and damping, scaled likewise */
        sb_line(s, ".param Cp={Cu*%.15g} gd={gu*%.15g}", p->Cp / p->Cu, p->gd / p->gu);
    sb_line(s, ".param tau={Cu/gu} theta={kB*Tk/(Cu*Vs*Vs)} nt=%.15g gn={gu*%.15g} "
            "na={sqrt(2*kB*Tk*gn/nt)}", p->noise_dt, p->g_noise / p->gu);
    if (p->ro)
        sb_line(s, ".param Cro={Cu*%.15g} gro={gu*%.15g} gnro={gu*%.15g} "
                "nro={sqrt(2*kB*Tk*gnro/nt)}", p->ro_C / p->Cu, p->ro_g / p->gu,
                p->ro_gn / p->gu);
}

static void nl_params_subckts(sb *s, const nl_ctx *x)
{
    const tdi_gen_phys *p = x->p;
    if (x->param) {
        nl_params_expr(s, p);
    } else {
        sb_line(s, ".param Cu=%.15g gu=%.15g Vs=%.15g Tk=%.15g kB=1.380649e-23", p->Cu, p->gu,
                p->Vs, p->T);
        sb_line(s, ".param tau=%.15g theta=%.15g nt=%.15g na=%.15g", p->tau, p->theta,
                p->noise_dt, p->noise_na);
        unit_note(s, p, TDI_GEN_UNIT_NOTE_PARAM);
        if (p->ro)
            sb_line(s, ".param Cro=%.15g gro=%.15g nro=%.15g", p->ro_C, p->ro_g, p->ro_na);
    }
    if (p->ro) {
        sb_line(s, "* read-out stage unit: its capacitor C_ro; gm_ro, g_ro are top-level cards");
        sb_line(s, ".subckt unit_ro r");
        sb_line(s, "C1 r 0 {Cro}");
        sb_line(s, ".ends unit_ro");
    }
    sb_lines(s, p->unit->subckt, strlen(p->unit->subckt));
}

/* Transistor level: the model card or PDK, its scale, the three rails. */
static void nl_mos_rails(sb *s, const nl_ctx *x)
{
    const tdi_gen_config *m = x->c->mos_cfg;
    if (!x->p->mos)
        return;
    sb_line(s, "* --- transistor level (docs/devices.md): devices %s / %s, rails Vdd (OTA cores), "
            "Vbias (bias generators), Vcm (rest voltage)", m->mos_nmos, m->mos_pmos);
    if (m->mos_corner[0])
        sb_line(s, ".lib %s %s", m->mos_lib, m->mos_corner);
    else
        sb_line(s, ".include %s", m->mos_lib);
    if (m->mos_scale > 0)
        sb_line(s, ".option scale=%.9g", m->mos_scale);
    sb_line(s, "Vdd vdd 0 DC %.15g", m->mos_vdd);
    sb_line(s, "Vbias vddb 0 DC %.15g", m->mos_vdd);
    sb_line(s, "Vcm vcm 0 DC %.15g", m->mos_vcm);
}

/* A non-ideal chip's capacitor errors (docs/nonideal.md): "Cni_<unit> <unit> 0 dC", the unit's
 * capacitance Cu + dC (dC may be negative; the sum is > 0). */
static void nl_chip_caps(sb *s, const nl_ctx *x)
{
    const tdi_gen_chip *ch = x->c->chip;
    size_t n = 0;
    for (size_t i = 0; ch && i < x->N; i++)
        n += ch->cap[i] != x->p->Cu;
    if (!n)
        return;
    sb_line(s, "* --- non-ideal chip: capacitor errors, C(unit) = Cu + Cni_<unit> [F]");
    for (size_t i = 0; i < x->N; i++)
        if (ch->cap[i] != x->p->Cu)
            sb_line(s, "Cni_%s %s 0 %.15g", x->c->nodes[i].name, x->c->nodes[i].name,
                    ch->cap[i] - x->p->Cu);
}

/* A non-ideal chip's transconductor offsets as DC currents "Ios_<node> 0 <node> DC i" (every
 * netlist; the co-simulator's analytic and sde engines take them as seen at the units,
 * chip->i_unit, in tdi_cosim_circuit.i_off). */
static void nl_chip_offsets(sb *s, const nl_ctx *x)
{
    const tdi_gen_chip *ch = x->c->chip;
    size_t n = 0;
    for (size_t i = 0; ch && i < x->c->n_nodes; i++)
        n += ch->i_node[i] != 0;
    if (!n)
        return;
    sb_line(s, "* --- non-ideal chip: transconductor offsets, g V_os into each output node [A]");
    for (size_t i = 0; i < x->c->n_nodes; i++)
        if (ch->i_node[i] != 0)
            sb_line(s, "Ios_%s 0 %s DC %.15g", x->c->nodes[i].name, x->c->nodes[i].name,
                    ch->i_node[i]);
}

/* The offset trim's cells (circuit.mos_trim, docs/devices.md "Offset trim"), every netlist at
 * top level: a positive trim sources from vdd into the unit, a negative one sinks from the unit
 * to ground with its mirror's reference drawn from vdd, so i(vdd) carries sum |i_trim|. */
static void nl_trim(sb *s, const nl_ctx *x)
{
    const tdi_gen_mos_trim *t = x->c->trim;
    if (!t)
        return;
    sb_line(s, "* --- offset trim (circuit.mos_trim: %s): each unit's rest current cancelled, "
            "every cell drawn from vdd [A]", t->dac ? "dac" : "ideal");
    for (size_t i = 0; i < x->N; i++) {
        const char *u = x->c->nodes[i].name;
        double v = t->i_trim[i];
        if (v > 0)
            sb_line(s, "Itrim_%s vdd %s DC %.15g", u, u, v);
        else if (v < 0) {
            sb_line(s, "Itrim_%s %s 0 DC %.15g", u, u, -v);
            sb_line(s, "Itrimr_%s vdd 0 DC %.15g", u, -v);
        }
    }
}

/* Unit instances, then the read-out stage's. */
static void nl_instances(sb *s, const nl_ctx *x)
{
    const tdi_gen_circuit *c = x->c;
    sb_line(s, "* --- units");
    for (size_t i = 0; i < x->N; i++)
        unit_instance(s, c, i);
    nl_chip_caps(s, x);
    if (x->p->ro) {
        sb_line(s, "* --- read-out stage units r<y><j> (C_ro to ground)");
        for (size_t i = x->N; i < x->NR; i++)
            sb_line(s, "X%s %s unit_ro", c->nodes[i].name, c->nodes[i].name);
    }
}

static void nl_dev_noise(sb *s, const nl_ctx *x, const char *inst);

/* ---------- hierarchy (circuit.hier): a .subckt per module and per coupling ----------
 * A module's subcircuit has its units' state nodes as ports (x0.., then p<x>0.. for rlc) and
 * holds their unit instances, their self terms and the module's intra block (its bus nodes are
 * internal); a coupling's has the unit nodes its elements touch as ports and its bus nodes
 * inside. The element cards are those of the flat text; the read-out stage stays at top level.
 * Transistor level (every mode, docs/devices.md "Hierarchy"): the rails vdd vddb vcm are the
 * last ports of every subcircuit, each OTA's devices and channel-noise sources sit in its
 * element's subcircuit, the hold text has no unit instances. */
#define HIER_RAILS "vdd vddb vcm"


/* The unit of a unit or second-state node, else SIZE_MAX. */
static size_t node_unit(const tdi_gen_circuit *c, int id)
{
    if (id < 0)
        return SIZE_MAX;
    const tdi_gen_node *n = &c->nodes[id];
    return n->kind == TDI_GEN_NODE_UNIT || n->kind == TDI_GEN_NODE_MOM ? n->index : SIZE_MAX;
}

static size_t unit_module(const tdi_gen_circuit *c, size_t u)
{
    for (size_t m = 0; m < c->n_mod; m++)
        if (u >= c->mod[m].off && u < c->mod[m].off + c->mod[m].n)
            return m;
    return SIZE_MAX;
}

/* A self term belongs to the module of the first unit node it touches. */
static int keep_module(const tdi_gen_circuit *c, const tdi_gen_elem *e, size_t m)
{
    if (e->block != TDI_GEN_BLK_SELF)
        return e->block == c->mod[m].blk;
    const int ids[4] = {e->a, e->b, e->c, e->d};
    for (int q = 0; q < 4; q++)
        if (node_unit(c, ids[q]) != SIZE_MAX)
            return unit_module(c, node_unit(c, ids[q])) == m;
    return 0;
}

static int keep_block(const tdi_gen_circuit *c, const tdi_gen_elem *e, size_t b)
{
    (void)c;
    return e->block == b;
}

/* "<head>", the names of nodes ids[0..n) on "+" lines, twelve a line, then "+ <tail>". */
static void node_lines(sb *s, const char *head, const tdi_gen_circuit *c, const int *ids,
                       size_t n, const char *tail)
{
    sb_line(s, "%s", head);
    for (size_t i = 0; i < n; i += 12) {
        char line[12 * 42 + 4];
        int o = snprintf(line, sizeof line, "+");
        for (size_t j = i; j < n && j < i + 12; j++)
            o += snprintf(line + o, sizeof line - (size_t)o, " %s", nname(c, ids[j]));
        sb_line(s, "%s", line);
    }
    if (tail)
        sb_line(s, "+ %s", tail);
}

/* Ports of module m: its units' state 0 nodes, then state 1 (rlc). */
static size_t module_ports(const tdi_gen_circuit *c, size_t m, int *ids)
{
    size_t n = 0;
    for (size_t st = 0; st < c->phys.unit->n_state; st++)
        for (size_t i = c->mod[m].off; i < c->mod[m].off + c->mod[m].n; i++)
            ids[n++] = tdi_gen_state_node(c, i, st);
    return n;
}

/* Ports of block b: the unit and state nodes its elements touch, in node order. */
static size_t block_ports(const tdi_gen_circuit *c, int b, int *ids, unsigned char *mark)
{
    memset(mark, 0, c->n_nodes);
    for (size_t i = 0; i < c->n_elems; i++) {
        const tdi_gen_elem *e = &c->elems[i];
        const int q[4] = {e->a, e->b, e->c, e->d};
        for (int j = 0; j < 4 && e->block == b; j++)
            if (node_unit(c, q[j]) != SIZE_MAX)
                mark[q[j]] = 1;
    }
    size_t n = 0;
    for (size_t i = 0; i < c->n_nodes; i++)
        if (mark[i])
            ids[n++] = (int)i;
    return n;
}

/* The number of U-Net levels when the modules are L encoders then L read-out decoders of equal
 * sizes (tdi_gen_bundle_levels' shape), else 0. */
static size_t hier_levels(const tdi_gen_circuit *c)
{
    size_t L = c->n_mod / 2;
    if (c->n_mod % 2 || c->out != L)
        return 0;
    for (size_t l = 0; l < L; l++)
        if (c->mod[l].n != c->mod[L + l].n)
            return 0;
    return L;
}

/* The header's map: subcircuit -> module (U-Net level) or coupling, and its instance. */
static void hier_map(sb *s, const tdi_gen_circuit *c, int *ids, unsigned char *mark)
{
    size_t L = hier_levels(c);
    sb_line(s, "* hierarchy (circuit.hier): one .subckt per module (ports: its units' nodes; "
            "inside: unit instances, self terms, intra couplings) and per coupling (ports: the "
            "unit nodes it touches; inside: its bus nodes, v(<instance>.<bus>))");
    if (c->phys.mos)
        sb_line(s, "*   transistor level: the last ports of every subcircuit are the rails %s; "
                "each OTA's devices and noise sources sit in its element's subcircuit, ngspice "
                "names them m.<instance>.<device> and i.<instance>.in<device>", HIER_RAILS);
    for (size_t m = 0; m < c->n_mod; m++) {
        const tdi_gen_module *d = &c->mod[m];
        char lv[64] = "";
        if (L)
            snprintf(lv, sizeof lv, ", U-Net level %zu %s", (m % L) + 1,
                     m < L ? "encoder" : "decoder (read out)");
        sb_line(s, "*   mod_%s = module %s: units %s0..%s%zu%s (intra %s); instance Xm_%s",
                d->name, d->name, d->prefix, d->prefix, d->n - 1, lv,
                c->blk[d->blk].realisation ? c->blk[d->blk].realisation : "?", d->name);
    }
    for (size_t q = 0; q < c->n_cpl; q++) {
        int b = (int)(1 + c->n_mod + q);
        size_t n = block_ports(c, b, ids, mark);
        if (!n)
            continue;
        size_t m0 = unit_module(c, node_unit(c, ids[0])),
               m1 = unit_module(c, node_unit(c, ids[n - 1]));
        sb_line(s, "*   cpl_%s = coupling %s between modules %s and %s (%s, rank %zu); "
                "instance Xc_%s", c->blk[b].name, c->blk[b].name, c->mod[m0].name,
                c->mod[m1].name, c->blk[b].realisation ? c->blk[b].realisation : "?",
                c->blk[b].rank, c->blk[b].name);
    }
}

/* "xm_<module>" | "xc_<coupling>": the instance of subcircuit b (a module index < n_mod, else a
 * coupling block) in lower case, as ngspice names it. */
static void hier_inst(const tdi_gen_circuit *c, size_t m, int b, char *buf, size_t n)
{
    if (b < 0)
        snprintf(buf, n, "xm_%s", c->mod[m].name);
    else
        snprintf(buf, n, "xc_%s", c->blk[b].name);
    for (char *p = buf; *p; p++)
        *p = (char)tolower((unsigned char)*p);
}

void tdi_gen_hier_instance(const tdi_gen_circuit *c, const tdi_gen_elem *e, char *buf, size_t n)
{
    buf[0] = '\0';
    for (size_t m = 0; m < c->n_mod; m++)
        if (keep_module(c, e, m)) {
            hier_inst(c, m, -1, buf, n);
            return;
        }
    if (e->block > (int)c->n_mod && e->block <= (int)(c->n_mod + c->n_cpl))
        hier_inst(c, 0, e->block, buf, n);
}

/* The end of a subcircuit: at transistor level its devices' noise sources, then .ends. */
static void hier_end(sb *s, const nl_ctx *x, size_t m, int b, const char *name)
{
    char inst[64];
    hier_inst(x->c, m, b, inst, sizeof inst);
    if (x->p->mos)
        nl_dev_noise(s, x, inst);
    sb_line(s, ".ends %s", name);
}

static void hier_module(sb *s, const nl_ctx *x, size_t m, int *ids)
{
    const tdi_gen_circuit *c = x->c;
    const tdi_gen_module *d = &c->mod[m];
    char head[64], name[48];
    snprintf(name, sizeof name, "mod_%s", d->name);
    snprintf(head, sizeof head, ".subckt %s", name);
    sb_line(s, "* --- module %s: %zu units", d->name, d->n);
    node_lines(s, head, c, ids, module_ports(c, m, ids), x->p->mos ? HIER_RAILS : NULL);
    for (size_t i = d->off; i < d->off + d->n && x->mode != TDI_GEN_HOLD; i++)
        unit_instance(s, c, i);
    emit_elems_if(s, c, card_style(c, x->mode == TDI_GEN_STANDALONE), keep_module, m);
    hier_end(s, x, m, -1, name);
}

static void hier_coupling(sb *s, const nl_ctx *x, int b, int *ids, unsigned char *mark)
{
    const tdi_gen_circuit *c = x->c;
    size_t n = block_ports(c, b, ids, mark);
    if (!n)
        return;
    char head[64], name[56];
    snprintf(name, sizeof name, "cpl_%s", c->blk[b].name);
    snprintf(head, sizeof head, ".subckt %s", name);
    node_lines(s, head, c, ids, n, x->p->mos ? HIER_RAILS : NULL);
    emit_elems_if(s, c, card_style(c, x->mode == TDI_GEN_STANDALONE), keep_block, (size_t)b);
    hier_end(s, x, 0, b, name);
}

/* An instance line: "X<kind>_<name> <ports> [rails] <subckt>". */
static void hier_instance_line(sb *s, const nl_ctx *x, const char *kind, const char *name,
                               const int *ids, size_t n)
{
    char head[64], tail[96];
    snprintf(head, sizeof head, "X%c_%s", kind[0], name);
    snprintf(tail, sizeof tail, "%s%s%s_%s", x->p->mos ? HIER_RAILS : "", x->p->mos ? " " : "",
             kind, name);
    node_lines(s, head, x->c, ids, n, tail);
}

/* The subcircuits, their instances and the read-out stage (flat) at top level. */
static void nl_hier(sb *s, const nl_ctx *x)
{
    const tdi_gen_circuit *c = x->c;
    int *ids = malloc((c->n_nodes ? c->n_nodes : 1) * sizeof *ids);
    unsigned char *mark = malloc(c->n_nodes ? c->n_nodes : 1);
    if (!ids || !mark) {
        s->text.oom = 1;
        free(ids);
        free(mark);
        return;
    }
    for (size_t m = 0; m < c->n_mod; m++)
        hier_module(s, x, m, ids);
    for (size_t q = 0; q < c->n_cpl; q++)
        hier_coupling(s, x, (int)(1 + c->n_mod + q), ids, mark);
    sb_line(s, "* --- instances: modules, then couplings");
    for (size_t m = 0; m < c->n_mod; m++)
        hier_instance_line(s, x, "mod", c->mod[m].name, ids, module_ports(c, m, ids));
    for (size_t q = 0; q < c->n_cpl; q++) {
        int b = (int)(1 + c->n_mod + q);
        size_t n = block_ports(c, b, ids, mark);
        if (n)
            hier_instance_line(s, x, "cpl", c->blk[b].name, ids, n);
    }
    if (x->mode != TDI_GEN_HOLD) /* a chip's capacitor errors, on the unit nets */
        nl_chip_caps(s, x);
    if (x->p->ro && x->mode != TDI_GEN_HOLD) {
        sb_line(s, "* --- read-out stage units r<y><j> (C_ro to ground)");
        for (size_t i = x->N; i < x->NR; i++)
            sb_line(s, "X%s %s unit_ro", c->nodes[i].name, c->nodes[i].name);
        emit_elems_if(s, c, card_style(c, 1), keep_block, TDI_GEN_BLK_READOUT);
    }
    free(ids);
    free(mark);
}

/* The hierarchy's map in the header. */
static void nl_hier_note(sb *s, const nl_ctx *x)
{
    const tdi_gen_circuit *c = x->c;
    int *ids = malloc((c->n_nodes ? c->n_nodes : 1) * sizeof *ids);
    unsigned char *mark = malloc(c->n_nodes ? c->n_nodes : 1);
    if (ids && mark)
        hier_map(s, c, ids, mark);
    else
        s->text.oom = 1;
    free(ids);
    free(mark);
}

/* A bias current (A) as printed: the number, or {b*gu*Vs} (circuit.param). */
static const char *bias_value(const nl_ctx *x, double i, char *buf, size_t n)
{
    if (x->param)
        snprintf(buf, n, "{%.15g*gu*Vs}", i / (x->p->gu * x->p->Vs));
    else
        snprintf(buf, n, "%.15g", i);
    return buf;
}

/* Bias current sources: external (cosim), DC (one sample) or a PWL schedule. */
static void nl_bias(sb *s, const nl_ctx *x)
{
    const tdi_gen_circuit *c = x->c;
    const tdi_gen_phys *p = x->p;
    int cosim = x->mode == TDI_GEN_COSIM;
    sb_line(s, "* --- bias: gu*Vs*b_i [A] into the force node%s",
            p->ro && cosim ? " (read-out stage nodes: held at 0)" : "");
    for (size_t i = 0; i < (cosim ? x->NR : x->N); i++) {
        const char *un = c->nodes[i].name, *fn = nname(c, tdi_gen_force_node(c, i));
        if (cosim) {
            sb_line(s, "Ibias_%s 0 %s external", un, fn);
        } else if (c->n_samples == 1) {
            char v[64];
            sb_line(s, "Ibias_%s 0 %s DC %s", un, fn, bias_value(x, c->bias[i], v, sizeof v));
        } else { /* PWL schedule: each value held for one slot, one tick to switch */
            char v0[64], v1[64];
            sb_line(s, "Ibias_%s 0 %s PWL(0 %s", un, fn, bias_value(x, c->bias[i], v0, sizeof v0));
            for (size_t si = 1; si < c->n_samples; si++)
                sb_line(s, "+ %.15g %s %.15g %s", si * x->slot,
                        bias_value(x, c->bias[(si - 1) * x->N + i], v0, sizeof v0),
                        si * x->slot + p->noise_dt,
                        bias_value(x, c->bias[si * x->N + i], v1, sizeof v1));
            sb_line(s, "+ )");
        }
    }
}

/* circuit.noise_src: pwl: unit `unit`'s noise current as tdi-cosim draws it, amp z(key, unit,
 * k) at t = k h (k = 0 silent), four points a line (tdi_gen_pwl.c). */
static void noise_pwl(sb *s, const nl_ctx *x, size_t unit, const char *un, const char *fn,
                      double g)
{
    double amp = sqrt(2.0 * TDI_GEN_KB * x->p->T * g / x->h);
    size_t K = tdi_gen_pwl_ticks(x->h, x->tstop);
    char line[4 * 56 + 8];
    sb_line(s, "Inoise_%s 0 %s PWL(0 0", un, fn);
    for (size_t k = 1; k < K; k += 4) {
        int o = snprintf(line, sizeof line, "+");
        for (size_t j = k; j < K && j < k + 4; j++)
            o += snprintf(line + o, sizeof line - (size_t)o, " %.15g %.12g", (double)j * x->h,
                          amp * tdi_gen_noise_gauss(x->c->noise_seed, unit, j));
        sb_line(s, "%s", line);
    }
    sb_line(s, "+ )");
}

/* Thermal noise sources of the units and the read-out stage (external in cosim). */
static void nl_noise(sb *s, const nl_ctx *x)
{
    const tdi_gen_circuit *c = x->c;
    const tdi_gen_phys *p = x->p;
    int cosim = x->mode == TDI_GEN_COSIM;
    if (!cosim && !c->noise) {
        sb_line(s, "* --- thermal noise: off (circuit.noise: false)");
        return;
    }
    int pwl = !cosim && c->noise_pwl;
    sb_line(s, "* --- thermal noise: two-sided PSD 2 kB T g_noise (g_noise = %.15g S)",
            p->g_noise);
    if (pwl)
        sb_line(s, "* as PWL (circuit.noise_src: pwl): tdi-cosim's stream, Philox key %#llx "
                "(config seed, purpose TDI_SEED_COSIM_NOISE), tick %.15g s: its spice engine "
                "on the same config draws these currents", (unsigned long long)c->noise_seed,
                x->h);
    for (size_t i = 0; i < x->N; i++) {
        const char *un = c->nodes[i].name, *fn = nname(c, tdi_gen_force_node(c, i));
        if (cosim)
            sb_line(s, "Inoise_%s 0 %s external", un, fn);
        else if (pwl)
            noise_pwl(s, x, i, un, fn, p->g_noise);
        else if (x->param)
            sb_line(s, "Inoise_%s 0 %s TRNOISE({na} {nt} 0 0)", un, fn);
        else
            sb_line(s, "Inoise_%s 0 %s TRNOISE(%.15g %.15g 0 0)", un, fn, p->noise_na,
                    p->noise_dt);
    }
    if (p->ro)
        sb_line(s, "* --- read-out stage noise: two-sided PSD 2 kB T g_n (g_n = %.15g S)",
                p->ro_gn);
    for (size_t i = x->N; i < x->NR; i++) {
        const char *un = c->nodes[i].name;
        if (cosim)
            sb_line(s, "Inoise_%s 0 %s external", un, un);
        else if (pwl)
            noise_pwl(s, x, i, un, un, p->ro_gn);
        else if (x->param)
            sb_line(s, "Inoise_%s 0 %s TRNOISE({nro} {nt} 0 0)", un, un);
        else
            sb_line(s, "Inoise_%s 0 %s TRNOISE(%.15g %.15g 0 0)", un, un, p->ro_na,
                    p->noise_dt);
    }
}

/* Per-device channel noise (psd_w, psd_f1 > 0; sized by the co-simulator's op pass): a current
 * source across the channel, drain to source. Standalone: TRNOISE, white sample std
 * sqrt(psd_w / h), the 1/f part through TRNOISE's alpha = 1 generator with amplitude
 * sqrt(2 pi psd_f1) (two-sided PSD namp^2 / (2 pi f), docs/devices.md); cosim: external. */
static void nl_dev_noise(sb *s, const nl_ctx *x, const char *inst)
{
    const tdi_gen_circuit *c = x->c;
    int cosim = x->mode == TDI_GEN_COSIM, flick = c->mos_cfg && c->mos_cfg->mos_flicker;
    size_t n = 0;
    for (size_t i = 0; i < c->n_dev; i++)
        n += c->dev[i].psd_w > 0 && strcmp(c->dev[i].inst, inst) == 0;
    if (!n || x->mode == TDI_GEN_HOLD || (!cosim && !c->noise))
        return;
    sb_line(s, "* --- device channel noise (%zu devices): two-sided PSD psd_w + psd_f1/f", n);
    for (size_t i = 0; i < c->n_dev; i++) {
        const tdi_gen_dev *d = &c->dev[i];
        if (!(d->psd_w > 0) || strcmp(d->inst, inst) != 0)
            continue;
        if (cosim)
            sb_line(s, "in%s %s %s external", d->name, d->d, d->s);
        else if (flick && d->psd_f1 > 0)
            sb_line(s, "in%s %s %s TRNOISE(%.9g %.15g 1 %.9g)", d->name, d->d, d->s,
                    sqrt(d->psd_w / x->h), x->h, sqrt(2 * M_PI * d->psd_f1));
        else
            sb_line(s, "in%s %s %s TRNOISE(%.9g %.15g 0 0)", d->name, d->d, d->s,
                    sqrt(d->psd_w / x->h), x->h);
    }
}

/* The measurements: per sample, the window average and RMS of each measured node and the
 * read-out stage's conversion at the slot's end; cmd "meas" (inside .control) or ".measure"
 * (a card: ngspice, HSPICE and Xyce read it). */
static void nl_meas(sb *s, const nl_ctx *x, const char *cmd)
{
    const tdi_gen_circuit *c = x->c;
    const tdi_gen_phys *p = x->p;
    for (size_t si = 0; si < c->n_samples; si++) {
        /* the window average keeps its window; the stage is read at the slot end */
        double t0 = si * x->slot + p->t_settle, tr = (si + 1) * x->slot;
        double t1 = p->ro ? t0 + p->t_avg : tr;
        for (size_t i = x->o0; i < x->o1; i++) {
            char v[64];
            if (p->mos)
                snprintf(v, sizeof v, "vr_%s", c->nodes[i].name);
            else
                snprintf(v, sizeof v, "v(%s)", c->nodes[i].name);
            sb_line(s, "%s tran avg_%s_s%zu AVG %s from=%.15g to=%.15g", cmd, c->nodes[i].name,
                    si, v, t0, t1);
            sb_line(s, "%s tran rms_%s_s%zu RMS %s from=%.15g to=%.15g", cmd, c->nodes[i].name,
                    si, v, t0, t1);
        }
        /* the stage: one conversion at the slot's end; one tick before it (FIND AT the
           final time point fails in ngspice 39, and the next sample's bias ramps after) */
        for (size_t i = x->N; i < x->NR; i++)
            sb_line(s, "%s tran ro_%s_s%zu FIND v(%s) AT=%.15g", cmd, c->nodes[i].name, si,
                    c->nodes[i].name, tr - x->h);
    }
}

/* The standalone .control block: run, then the measurements (nl_meas). */
static void nl_control(sb *s, const nl_ctx *x)
{
    const tdi_gen_circuit *c = x->c;
    const tdi_gen_phys *p = x->p;
    sb_line(s, ".control");
    sb_line(s, "set noaskquit");
    if (p->mos) /* BSIM4's OpenMP load on a shared machine: one thread was 14x cheaper in CPU
                   for the D = 4 netlist (docs/devices.md) */
        sb_line(s, "set num_threads=1");
    sb_line(s, "run");
    if (p->mos) /* meas takes no v(a,b): one vector per measured node, relative to vcm */
        for (size_t i = x->o0; i < x->o1; i++)
            sb_line(s, "let vr_%s = v(%s) - v(vcm)", c->nodes[i].name, c->nodes[i].name);
    nl_meas(s, x, "meas");
    sb_line(s, "echo tdi-gen: done");
    sb_line(s, "quit 0");
    sb_line(s, ".endc");
}

/* The node every hold source returns to: the rest voltage of the units (ground for ideal
 * elements). */
static const char *hold_ref(const tdi_gen_circuit *c)
{
    return c->phys.mos ? "vcm" : "0";
}

/* The hold netlist's usage note and its sources: every unit node held at the reference by a
 * 0 V source "vh<unit>", whose current i(vh<unit>) is minus the current the circuit draws. */
static void nl_hold(sb *s, const nl_ctx *x)
{
    const tdi_gen_circuit *c = x->c;
    sb_line(s, "* --- hold: every unit node held at %s by a 0 V source; i(vh<unit>) = -(G v)_unit",
            hold_ref(c));
    for (size_t i = 0; i < x->N; i++)
        sb_line(s, "vh%s %s %s DC 0", c->nodes[i].name, c->nodes[i].name, hold_ref(c));
}

/* Rewrites every line of s into dialect d (tdi_gen_dialect.c): the lines joined with newlines,
 * rewritten, and read back as lines; a card d cannot write leaves its reason in s->why. */
static void sb_dialect(sb *s, const tdi_gen_dialect *d)
{
    if (sb_oom(s))
        return;
    for (size_t i = 0; i < s->n; i++) /* NUL separators -> newlines */
        sb_at(s, i)[strlen(sb_at(s, i))] = '\n';
    tdi_buf out = {0};
    int rc = tdi_gen_dialect_rewrite(d, s->text.s, s->text.len, &out, s->why, sizeof s->why);
    char why[sizeof s->why];
    memcpy(why, s->why, sizeof why);
    sb_free(s);
    memset(s, 0, sizeof *s);
    memcpy(s->why, why, sizeof why);
    if (rc == -1 || out.oom)
        s->text.oom = 1;
    else if (!rc)
        sb_lines(s, out.s, out.len);
    tdi_buf_destroy(&out);
}

/* All lines of a netlist into s, in card order; the element cards are appended when
 * with_elems, else their position (line index) is stored in *elem_at. */
static void build_netlist(const tdi_gen_circuit *c, tdi_gen_mode mode, double tran_h,
                          double tran_stop, sb *s, int with_elems, size_t *elem_at)
{
    const tdi_gen_phys *p = &c->phys;
    const tdi_gen_dialect *dl = tdi_gen_dialect_find("ngspice");
    if (mode == TDI_GEN_STANDALONE && c->dialect)
        dl = c->dialect;
    if (mode == TDI_GEN_COMPANION) { /* the standalone text, rewritten by the companion row */
        dl = c->dialect->companion;
        mode = TDI_GEN_STANDALONE;
    }
    nl_ctx x = {.c = c, .p = p, .mode = mode, .N = c->N, .D = c->D, .slot = p->t_slot, .dl = dl};
    x.h = tran_h > 0 ? tran_h : p->noise_dt;
    x.tstop = tran_stop > 0 ? tran_stop : p->t_stop;
    x.NR = x.N + (p->ro ? x.D : 0); /* units incl. read-out stage nodes */
    x.o0 = c->readout_all ? 0 : c->mod[c->out].off; /* the nodes the .control measures */
    x.o1 = c->readout_all ? x.N : c->mod[c->out].off + c->D;
    nl_header(s, &x);
    nl_nodes_note(s, &x);
    if (mode == TDI_GEN_HOLD) { /* the couplings and the holds: no units, sources, analysis */
        sb_line(s, "* extraction: op, then alter vh<unit> dc=<delta> one unit at a time "
                "(tdi_cosim_extract_g)");
        nl_mos_rails(s, &x); /* transistor level: the card, Vdd, Vbias, Vcm */
        if (p->mos && c->hier) /* the hierarchy at transistor level: every mode */
            nl_hier(s, &x);
        else if (with_elems)
            sb_lines(s, c->elem_text, c->elem_text_len);
        else
            *elem_at = s->n;
        if (p->mos && c->hier && !with_elems)
            *elem_at = SIZE_MAX;
        nl_chip_offsets(s, &x);
        nl_trim(s, &x);
        nl_hold(s, &x);
        sb_line(s, ".end");
        return;
    }
    /* the designer's forms (circuit.hier, circuit.param): the standalone text writes its own
       element cards; the shared flat text serves the other modes */
    int own = (mode == TDI_GEN_STANDALONE && (c->hier || c->param || !x.dl->native)) ||
              (p->mos && c->hier);
    x.param = mode == TDI_GEN_STANDALONE && c->param && !dl->head_comments;
    nl_usage_note(s, &x);
    if (own && c->hier && !dl->head_comments) /* a companion: no notes on the circuit's cards */
        nl_hier_note(s, &x);
    nl_params_subckts(s, &x);
    nl_mos_rails(s, &x);
    if (own && c->hier) {
        nl_hier(s, &x);
    } else {
        nl_instances(s, &x);
        if (own)
            emit_elems_if(s, c, card_style(c, 1), keep_all, 0);
        else if (with_elems)
            sb_lines(s, c->elem_text, c->elem_text_len);
        else
            *elem_at = s->n;
    }
    if (own && !with_elems)
        *elem_at = SIZE_MAX;
    nl_bias(s, &x);
    nl_chip_offsets(s, &x);
    nl_trim(s, &x);
    nl_noise(s, &x);
    nl_dev_noise(s, &x, ""); /* the top level's: every device of a flat text */
    if (p->mos) /* from the DC operating point: every node at v_ref, the OTAs biased */
        sb_line(s, ".tran %.15g %.15g 0 %.15g", x.h, x.tstop, x.h);
    else
        sb_line(s, ".tran %.15g %.15g 0 %.15g uic", x.h, x.tstop, x.h);
    if (mode == TDI_GEN_STANDALONE && c->cards != TDI_GEN_CARDS_CONTROL) {
        sb_line(s, "* --- read-out as .measure cards (circuit.readout_cards: %s): the same "
                "averages and RMS over the same windows%s", c->cards == TDI_GEN_CARDS_BOTH ?
                "both" : "measure", c->cards == TDI_GEN_CARDS_BOTH ? "; ngspice prints them "
                "twice (cards, then the .control block)" : "");
        nl_meas(s, &x, ".measure");
    }
    if (mode == TDI_GEN_STANDALONE && c->cards != TDI_GEN_CARDS_MEASURE)
        nl_control(s, &x);
    sb_line(s, ".end");
    if (!x.dl->native)
        sb_dialect(s, x.dl);
}

/* Hold mode needs the force node to be the unit node (the couplings' current is what the hold
 * source measures). */
static int mode_check(const tdi_gen_circuit *c, tdi_gen_mode mode, double tran_h,
                      double tran_stop, tdi_err *err)
{
    double h = tran_h > 0 ? tran_h : c->phys.noise_dt;
    double stop = tran_stop > 0 ? tran_stop : c->phys.t_stop;
    size_t nr = c->N + (c->phys.ro ? c->D : 0);
    if (mode == TDI_GEN_STANDALONE && c->noise_pwl && c->noise &&
        (double)nr * (double)tdi_gen_pwl_ticks(h, stop) > (double)TDI_GEN_PWL_MAX_POINTS)
        return tdi_err_set(err, TDI_ECONFIG, "circuit.noise_src: pwl: %zu noise sources x %zu "
                           "ticks is over %zu PWL points (about 40 bytes each): shorten the run "
                           "(circuit.avg_relax, t_avg, samples) or keep noise_src: trnoise", nr,
                           tdi_gen_pwl_ticks(h, stop), TDI_GEN_PWL_MAX_POINTS);
    if (mode == TDI_GEN_COMPANION && !tdi_gen_companion_name(c))
        return tdi_err_set(err, TDI_EARG, "companion text: circuit.dialect: %s writes none "
                           "(only spectre: standalone.mdl)", c->dialect ? c->dialect->name :
                           "ngspice");
    if (mode == TDI_GEN_HOLD && c->phys.unit->force_state != 0)
        return tdi_err_set(err, TDI_EARG, "hold netlist: unit kind %s has its force node apart "
                           "from the unit node (only rc-like kinds can be held)",
                           c->phys.unit->name);
    return 0;
}

int tdi_gen_netlist_text(const tdi_gen_circuit *c, tdi_gen_mode mode, double tran_h,
                         double tran_stop, tdi_gen_text **out, tdi_err *err)
{
    *out = NULL;
    int rc0 = mode_check(c, mode, tran_h, tran_stop, err);
    if (rc0)
        return rc0;
    sb s = {0};
    build_netlist(c, mode, tran_h, tran_stop, &s, 1, NULL);
    if (sb_oom(&s)) {
        int rc = sb_err(&s, err);
        sb_free(&s);
        return rc;
    }
    tdi_gen_text *t = calloc(1, sizeof *t);
    char **lines = malloc((s.n + 1) * sizeof *lines);
    if (!t || !lines) {
        free(t);
        free(lines);
        sb_free(&s);
        return tdi_err_set(err, TDI_ENOMEM, "netlist text: out of memory");
    }
    for (size_t i = 0; i < s.n; i++)
        lines[i] = sb_at(&s, i);
    lines[s.n] = NULL;
    t->len = s.text.len;
    t->buf = tdi_buf_take(&s.text);
    t->lines = lines;
    t->n_lines = s.n;
    tdi_buf_destroy(&s.off);
    *out = t;
    return 0;
}

int tdi_gen_netlist_write(const tdi_gen_circuit *c, tdi_gen_mode mode, double tran_h,
                          double tran_stop, FILE *f, tdi_err *err)
{
    int rc = mode_check(c, mode, tran_h, tran_stop, err);
    if (rc)
        return rc;
    sb s = {0};
    size_t at = 0;
    build_netlist(c, mode, tran_h, tran_stop, &s, 0, &at);
    if (sb_oom(&s))
        rc = sb_err(&s, err);
    for (size_t i = 0; i < s.n && !rc; i++) {
        if ((i == at && fwrite(c->elem_text, 1, c->elem_text_len, f) != c->elem_text_len) ||
            fputs(sb_at(&s, i), f) == EOF || fputc('\n', f) == EOF)
            rc = tdi_err_set(err, TDI_EIO, "netlist write failed: %s", strerror(errno));
    }
    sb_free(&s);
    return rc;
}

/* one block's row of wires.json, appended to blocks */
static int wires_json_block(tdi_json *blocks, const tdi_gen_block_report *r)
{
    const tdi_json_kv kv[] = {
        TDI_JS("block", r->name ? r->name : "?"),
        TDI_JS("realisation", r->realisation ? r->realisation : "?"), TDI_JI("rank", r->rank),
        TDI_JI("elements", r->elements), TDI_JI("wire_pairs", r->wire_pairs),
        TDI_JI("bus_nodes", r->bus_nodes), TDI_JC("dense_pairs", r->dense_pairs),
        TDI_JR("ratio", r->dense_pairs > 0 ? (double)r->wire_pairs / r->dense_pairs : 0.0)};
    return tdi_json_set(tdi_json_add_object(blocks, NULL), kv, TDI_JSON_N(kv));
}

static int wires_json_build(const tdi_gen_circuit *c, tdi_json *root)
{
    const tdi_json_kv head[] = {TDI_JI("D", c->D), TDI_JI("k", c->k), TDI_JI("N", c->N),
                                TDI_JS("unit", c->phys.unit->name)};
    int rc = tdi_json_set(root, head, TDI_JSON_N(head));
    tdi_json *blocks = tdi_json_add_array(root, "blocks");
    if (rc || !blocks)
        return TDI_ENOMEM;
    int order[TDI_GEN_NBLK], nblk = blk_order(c, order); /* the stage only if present */
    for (int q = 0; q < nblk && !rc; q++)
        rc = wires_json_block(blocks, &c->blk[order[q]]);
    double sdp = 0, swp = 0; /* over the couplings (two modules: the skip block) */
    for (size_t q = 0; q < c->n_cpl; q++) {
        sdp += c->blk[1 + c->n_mod + q].dense_pairs;
        swp += (double)c->blk[1 + c->n_mod + q].wire_pairs;
    }
    const tdi_json_kv total[] = {TDI_JI("elements", c->total_elements),
                                 TDI_JI("wire_pairs", c->total_pairs)};
    const tdi_json_kv tail[] = {TDI_JC("skip_dense_pairs", sdp),
                                TDI_JR("skip_ratio", sdp > 0 ? swp / sdp : 0.0)};
    return rc || tdi_json_set(tdi_json_add_object(root, "total"), total, TDI_JSON_N(total)) ||
           tdi_json_set(root, tail, TDI_JSON_N(tail));
}

int tdi_gen_wires_json(const tdi_gen_circuit *c, const char *path, tdi_err *err)
{
    tdi_json *root = tdi_json_object();
    int rc = wires_json_build(c, root) ? tdi_err_set(err, TDI_ENOMEM, "%s: out of memory", path)
                                       : tdi_json_write(path, root, 2, err);
    tdi_json_free(root);
    return rc;
}

void tdi_gen_wires_print(const tdi_gen_circuit *c, FILE *f)
{
    fprintf(f, "wire report (D = %zu, k = %zu):\n", c->D, c->k);
    fprintf(f, "  %-10s %-10s %6s %10s %11s %9s %12s %8s\n", "block", "realis.", "rank",
            "elements", "wire pairs", "bus nodes", "dense pairs", "ratio");
    int order[TDI_GEN_NBLK], nblk = blk_order(c, order);
    for (int q = 0; q < nblk; q++) {
        const tdi_gen_block_report *r = &c->blk[order[q]];
        fprintf(f, "  %-10s %-10s %6zu %10zu %11zu %9zu %12.0f %8.4g\n", r->name ? r->name : "?",
                r->realisation ? r->realisation : "?", r->rank, r->elements, r->wire_pairs,
                r->bus_nodes, r->dense_pairs,
                r->dense_pairs > 0 ? (double)r->wire_pairs / r->dense_pairs : 0.0);
    }
    fprintf(f, "  total: %zu coupling elements, %zu wire pairs\n", c->total_elements,
            c->total_pairs);
}

void tdi_gen_phys_print(const tdi_gen_circuit *c, FILE *f)
{
    const tdi_gen_phys *p = &c->phys;
    fprintf(f, "physics (%s units):\n", p->unit->name);
    fprintf(f, "  Cu = %.6g F, gu = %.6g S, T = %.6g K, Vs = %.6g V/unit\n", p->Cu, p->gu, p->T,
            p->Vs);
    fprintf(f, "  tau = %.6g s, theta = %.6g, kT/C = %.6g V^2 (%.6g V rms)\n", p->tau, p->theta,
            p->kTC, sqrt(p->kTC));
    char note[256];
    p->unit->note(p, TDI_GEN_UNIT_NOTE_PRINT, note, sizeof note);
    if (note[0])
        fprintf(f, "%s\n", note);
    fprintf(f, "  lambda(M) in [%.6g, %.6g]\n", p->lambda_min, p->lambda_max);
    fprintf(f, "  slowest relaxation %.6g s, fastest %.6g s\n", p->t_slow, p->t_fast);
    fprintf(f, "  noise interval %.6g s (%.3g of the fastest), trnoise std %.6g A\n", p->noise_dt,
            p->noise_dt / p->t_fast, p->noise_na);
    fprintf(f, "  per sample: settle %.6g s, average %.6g s; %zu sample(s), tstop %.6g s\n",
            p->t_settle, p->t_avg, c->n_samples, p->t_stop);
    if (p->ro)
        fprintf(f, "  read-out stage: C_ro = %.6g F, gm_ro = g_ro = %.6g S, tau_ro = %.6g s, "
                "noise g_n = %.6g S; stage settles in %.6g s (slot %.6g s)\n", p->ro_C, p->ro_g,
                p->ro_tau, p->ro_gn, p->ro_settle, p->t_slot);
    if (p->mos) {
        double wmin = INFINITY, wmax = 0;
        for (size_t i = 0; i < c->n_dev; i++) {
            wmin = fmin(wmin, c->dev[i].W);
            wmax = fmax(wmax, c->dev[i].W);
        }
        fprintf(f, "  transistor level: %zu OTAs, %zu MOSFETs (W %.3g..%.3g m, L %.3g m), design "
                "sum I_tail %.6g A = %.6g W at Vdd %.6g V; nodes rest at vcm %.6g V\n", c->n_ota,
                c->n_dev, c->n_dev ? wmin : 0.0, wmax, c->n_dev ? c->dev[0].L : 0.0,
                p->i_tail_sum, p->i_tail_sum * p->vdd, p->vdd, p->v_ref);
        tdi_gen_mos_comp_print(c, f); /* circuit.mos_self_comp (nothing when off) */
        tdi_gen_mos_trim_print(c, f); /* circuit.mos_trim (nothing when off) */
    }
    double sd_max = 0, var_max = 0;
    for (size_t i = 0; i < c->N; i++)
        if (!isnan(c->readout_sd[i])) {
            sd_max = fmax(sd_max, c->readout_sd[i]);
            var_max = fmax(var_max, c->node_var[i]);
        }
    fprintf(f, "  predicted read-out error (std of a window average): max %.6g V = %.4g units; "
            "node std max %.6g V\n", sd_max, sd_max / p->Vs, sqrt(var_max));
}
