/* tdi_gen_dialect: the standalone netlist in the simulator of circuit.dialect (ngspice | hspice |
 * xyce | spectre). One table row per dialect, one callback per construct (parameters,
 * subcircuits, instances, R/C, VCCS, sources, analysis, measurements, end); the driver splits
 * the emitter's ngspice text into cards and hands each to its construct. Invariant: ngspice is
 * native (never rewritten); every construct a row writes is one its simulator documents
 * (docs/dialects.md names the page). Non-goals: the cosim and hold text (ngspice's, tdi-cosim
 * runs them), transistor level, TRNOISE and .control outside ngspice (the config refuses them). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_buf.h"
#include "tdi_gen_int.h"

/* ---------- the SPICE-like constructs: the emitter's lines, delimiters swapped ---------- */

/* One physical line with { } replaced by the dialect's expression delimiters. */
static int put_line(tdi_buf *o, const tdi_gen_dialect *d, const char *l)
{
    for (const char *p = l; *p; p++) {
        if (*p == '{')
            tdi_buf_printf(o, "%s", d->expr_open);
        else if (*p == '}')
            tdi_buf_printf(o, "%s", d->expr_close);
        else
            tdi_buf_append(o, p, 1);
    }
    return tdi_buf_append(o, "\n", 1);
}

int tdi_gen_dialect_lines(tdi_buf *out, const tdi_gen_dialect *d, const tdi_gen_card *k)
{
    for (size_t i = 0; i < k->nl; i++)
        put_line(out, d, k->line[i]);
    return out->oom ? -1 : 0;
}

/* HSPICE .TRAN takes tstep tstop [START=] [UIC]: further positional numbers are more
 * (tstep, tstop) pairs, so the step ceiling goes to .OPTION DELMAX (HSPICE Command Reference,
 * ".TRAN", ".OPTION DELMAX"). Canonical card: ".tran h tstop 0 h [uic]". */
static int hs_tran(tdi_buf *o, const tdi_gen_dialect *d, const tdi_gen_card *k)
{
    (void)d;
    if (k->nt < 5)
        return tdi_gen_dialect_lines(o, d, k);
    tdi_buf_printf(o, ".option delmax=%s\n.tran %s %s%s\n", k->tok[4], k->tok[1], k->tok[2],
                   k->nt > 5 ? " uic" : "");
    return o->oom ? -1 : 0;
}

/* ---------- the table ---------- */

static const tdi_gen_dialect dl_ngspice = {
    .name = "ngspice", .simulator = "ngspice 39",
    .run = "ngspice -b <this file>; it prints avg_<node>_s<n> (time average, V) and "
           "rms_<node>_s<n> per sample",
    .file = "standalone.cir", .native = 1, .comment = "*", .expr_open = "{", .expr_close = "}",
    .head = ""};

#define DL_SPICE_LIKE                                                                         \
    .param = tdi_gen_dialect_lines, .subckt = tdi_gen_dialect_lines,                         \
    .ends = tdi_gen_dialect_lines, .instance = tdi_gen_dialect_lines,                        \
    .element = tdi_gen_dialect_lines, .vccs = tdi_gen_dialect_lines,                         \
    .source = tdi_gen_dialect_lines, .measure = tdi_gen_dialect_lines,                       \
    .end = tdi_gen_dialect_lines

static const tdi_gen_dialect dl_hspice = {
    .name = "hspice", .simulator = "HSPICE",
    .run = "hspice <this file>; the .measure results avg_<node>_s<n> (time average, V) and "
           "rms_<node>_s<n> per sample go to <this file's base name>.mt0",
    .file = "standalone.sp", .comment = "*", .expr_open = "'", .expr_close = "'", .head = "",
    DL_SPICE_LIKE, .tran = hs_tran};

static const tdi_gen_dialect dl_xyce = {
    .name = "xyce", .simulator = "Xyce",
    .run = "Xyce <this file>; the .measure results avg_<node>_s<n> (time average, V) and "
           "rms_<node>_s<n> per sample go to its output and to <this file>.mt0",
    .file = "standalone.cir", .comment = "*", .expr_open = "{", .expr_close = "}", .head = "",
    DL_SPICE_LIKE, .tran = tdi_gen_dialect_lines};

static const tdi_gen_dialect *const dialects[] = {&dl_ngspice, &dl_hspice, &dl_xyce,
                                                  &tdi_gen_dialect_spectre};

const tdi_gen_dialect *tdi_gen_dialect_find(const char *name)
{
    for (size_t i = 0; i < sizeof dialects / sizeof dialects[0]; i++)
        if (strcmp(dialects[i]->name, name) == 0)
            return dialects[i];
    return NULL;
}

void tdi_gen_dialect_names(char *buf, size_t size)
{
    if (!size)
        return;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof dialects / sizeof dialects[0]; i++)
        tdi_gen_names_add(buf, size, dialects[i]->name);
}

const char *tdi_gen_standalone_name(const tdi_gen_circuit *c)
{
    return c->dialect ? c->dialect->file : dl_ngspice.file;
}

const char *tdi_gen_companion_name(const tdi_gen_circuit *c)
{
    return c->dialect && c->dialect->companion ? c->dialect->companion->file : NULL;
}

/* ---------- the driver: cards of the emitter's text -> the dialect's constructs ---------- */

/* The construct of a card by its first token, or NULL (comments are handled apart). */
static tdi_gen_dialect_fn construct(const tdi_gen_dialect *d, const char *t0)
{
    static const char *const dots[] = {".param", ".subckt", ".ends", ".tran", ".measure", ".end"};
    const tdi_gen_dialect_fn dfn[] = {d->param, d->subckt, d->ends, d->tran, d->measure, d->end};
    if (t0[0] == '.') {
        for (size_t i = 0; i < sizeof dots / sizeof dots[0]; i++)
            if (strcmp(t0, dots[i]) == 0)
                return dfn[i];
        return NULL;
    }
    switch (tolower((unsigned char)t0[0])) {
    case 'x': return d->instance;
    case 'r':
    case 'c': return d->element;
    case 'g': return d->vccs;
    case 'i': return d->source;
    default: return NULL;
    }
}

/* Tokens of the joined card lines[0..nl) into k->tok (a copy in *store); "PWL(v" splits. */
static int card_tokens(char *const *lines, size_t nl, tdi_gen_card *k, char **store)
{
    size_t len = 0;
    for (size_t i = 0; i < nl; i++)
        len += strlen(lines[i]) + 2;
    char *s = malloc(len + 1), *w = s;
    char **tok = malloc((len / 2 + 2) * sizeof *tok);
    if (!s || !tok) {
        free(s);
        free(tok);
        return -1;
    }
    for (size_t i = 0; i < nl; i++)
        w += sprintf(w, "%s ", i ? lines[i] + 1 : lines[i]);
    size_t n = 0;
    for (char *p = s; *p;) {
        while (*p == ' ' || *p == '\t')
            *p++ = '\0';
        if (!*p)
            break;
        tok[n++] = p;
        if (strncmp(p, "PWL(", 4) == 0 && p[4] && p[4] != ' ') { /* "PWL(0" -> "PWL(" "0" */
            memmove(p + 5, p + 4, strlen(p + 4) + 1);
            p[4] = '\0';
            p += 5;
            tok[n++] = p;
        }
        while (*p && *p != ' ' && *p != '\t')
            p++;
    }
    k->line = lines;
    k->nl = nl;
    k->tok = tok;
    k->nt = n;
    *store = s;
    return 0;
}

/* A comment line: the dialect's prefix for the leading '*'. */
static void put_comment(tdi_buf *o, const tdi_gen_dialect *d, const char *l)
{
    tdi_buf_printf(o, "%s%s\n", d->comment, l + 1);
}

/* One card (lines[0..nl)): its construct's rewrite, or -2 with the card named. */
static int rewrite_card(const tdi_gen_dialect *d, char *const *lines, size_t nl, tdi_buf *out,
                        char *why, size_t nwhy)
{
    tdi_gen_card k;
    char *store = NULL;
    if (card_tokens(lines, nl, &k, &store))
        return -1;
    int rc = 0;
    if (k.nt) {
        tdi_gen_dialect_fn fn = construct(d, k.tok[0]);
        if (!fn) {
            snprintf(why, nwhy, "circuit.dialect: %s has no construct for the card '%.60s'",
                     d->name, lines[0]);
            rc = -2;
        } else {
            rc = fn(out, d, &k);
        }
    }
    free(k.tok);
    free(store);
    return rc;
}

/* The physical lines of text (each '\n'-terminated) as a NUL-separated copy and its starts. */
static char **split_lines(const char *text, size_t len, char **copy, size_t *n)
{
    char *s = malloc(len + 1);
    size_t cnt = 0;
    for (size_t i = 0; i < len; i++)
        cnt += text[i] == '\n';
    char **l = malloc((cnt + 1) * sizeof *l);
    if (!s || !l) {
        free(s);
        free(l);
        return NULL;
    }
    memcpy(s, text, len);
    s[len] = '\0';
    *n = 0;
    for (size_t i = 0, st = 0; i < len; i++)
        if (s[i] == '\n') {
            s[i] = '\0';
            l[(*n)++] = s + st;
            st = i + 1;
        }
    *copy = s;
    return l;
}

int tdi_gen_dialect_rewrite(const tdi_gen_dialect *d, const char *text, size_t len,
                            tdi_buf *out, char *why, size_t nwhy)
{
    char *copy = NULL;
    size_t n = 0;
    char **l = split_lines(text, len, &copy, &n);
    if (!l)
        return -1;
    int rc = 0;
    int carded = 0; /* a card was written: a companion drops the comments from here */
    for (size_t i = 0; i < n && !rc;) {
        if (l[i][0] == '*' || !l[i][0]) {
            int keep = !(d->head_comments && carded);
            if (keep && l[i][0])
                put_comment(out, d, l[i]);
            else if (keep)
                tdi_buf_append(out, "\n", 1);
            if (i == 0)
                tdi_buf_printf(out, "%s", d->head);
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < n && l[j][0] == '+')
            j++;
        rc = rewrite_card(d, l + i, j - i, out, why, nwhy);
        carded = 1;
        i = j;
    }
    free(l);
    free(copy);
    return rc ? rc : out->oom ? -1 : 0;
}
