/* tdi_gen_read: reads a netlist's coupling network back from its text (independently of the
 * generator's data structures) and reduces it to the unit-to-unit conductance matrix by
 * eliminating every non-unit node (Schur complement). Used by tests and by whoever wants to
 * check a netlist by hand-edited text. Reads R and G cards and unit instances at top level and
 * inside instances of other subcircuits (circuit.hier: expanded as ngspice flattens them, inner
 * nodes <instance>.<node>); values may be {expressions} or 'expressions' of top-level .params
 * (circuit.param); sources and unit_* bodies are skipped. Every dialect's text (circuit.dialect):
 * HSPICE's and Xyce's as they are, Spectre's turned into SPICE cards first. Non-goal: a general
 * SPICE parser. */
#include "tdi_gen.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_gen_int.h"

typedef struct {
    char **names;   /* node names, owned */
    size_t n, cap;
    size_t *tab;    /* hash table of node ids + 1 (0 = empty) */
    size_t tcap;
} nodemap;

static size_t hstr(const char *s)
{
    size_t h = 1469598103934665603ull;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211ull;
    return h;
}

static int nm_grow(nodemap *m)
{
    size_t nc = m->tcap ? 2 * m->tcap : 1024;
    size_t *t = calloc(nc, sizeof *t);
    if (!t)
        return -1;
    for (size_t i = 0; i < m->n; i++) {
        size_t h = hstr(m->names[i]) & (nc - 1);
        while (t[h])
            h = (h + 1) & (nc - 1);
        t[h] = i + 1;
    }
    free(m->tab);
    m->tab = t;
    m->tcap = nc;
    return 0;
}

/* id of name (added when new); -1 for ground ("0", "gnd"), -2 on out of memory */
static int nm_id(nodemap *m, const char *name)
{
    if (strcmp(name, "0") == 0 || strcmp(name, "gnd") == 0)
        return -1;
    if (2 * (m->n + 1) > m->tcap && nm_grow(m))
        return -2;
    size_t h = hstr(name) & (m->tcap - 1);
    while (m->tab[h]) {
        if (strcmp(m->names[m->tab[h] - 1], name) == 0)
            return (int)(m->tab[h] - 1);
        h = (h + 1) & (m->tcap - 1);
    }
    if (m->n == m->cap) {
        size_t nc = m->cap ? 2 * m->cap : 1024;
        char **p = realloc(m->names, nc * sizeof *p);
        if (!p)
            return -2;
        m->names = p;
        m->cap = nc;
    }
    m->names[m->n] = strdup(name);
    if (!m->names[m->n])
        return -2;
    m->tab[h] = m->n + 1;
    return (int)m->n++;
}

static void nm_free(nodemap *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->names[i]);
    free(m->names);
    free(m->tab);
}

/* SPICE number with an optional scale suffix (f p n u m k meg g t); 0 on success. */
static int spice_num(const char *s, double *v)
{
    char *end;
    *v = strtod(s, &end);
    if (end == s)
        return -1;
    if (!*end)
        return 0;
    static const struct { const char *suf; double mul; } tab[] = {
        {"meg", 1e6}, {"f", 1e-15}, {"p", 1e-12}, {"n", 1e-9}, {"u", 1e-6},
        {"m", 1e-3}, {"k", 1e3}, {"g", 1e9}, {"t", 1e12}};
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (strncmp(end, tab[i].suf, strlen(tab[i].suf)) == 0) {
            *v *= tab[i].mul;
            return 0;
        }
    return -1;
}

/* unit index of a node name "<prefix><digits>", or -1 */
static long unit_index(const char *name, const char *pre)
{
    size_t pl = strlen(pre);
    if (strncmp(name, pre, pl) != 0 || !name[pl])
        return -1;
    for (const char *q = name + pl; *q; q++)
        if (!isdigit((unsigned char)*q))
            return -1;
    return strtol(name + pl, NULL, 10);
}

/* The voltage of node id as a row over the unit voltages (N): e_i for unit i, row b of vbus for
 * bus b, zero for ground. 0, or -1 when the node is neither (an rlc force node). */
static int node_row(int id, const int *unit_of, const int *bus_of, size_t N, const double *vbus,
                    double sign, double *row)
{
    if (id < 0)
        return 0;
    if (unit_of[id] >= 0) {
        row[unit_of[id]] += sign;
        return 0;
    }
    if (bus_of[id] < 0)
        return -1;
    for (size_t j = 0; j < N; j++)
        row[j] += sign * vbus[(size_t)bus_of[id] * N + j];
    return 0;
}

/* Fills rb->R_unit, R_g, R_map and n_r_unmapped from the resistor cards (energy ledger). */
static int map_resistors(const tdi_gen_elem *el, size_t ne, const int *unit_of,
                         const int *bus_of, size_t N, const double *vbus, tdi_gen_readback *rb,
                         tdi_err *err)
{
    size_t nr = 0;
    for (size_t e = 0; e < ne; e++)
        nr += el[e].kind == 'R';
    rb->R_unit = calloc(N, sizeof *rb->R_unit);
    rb->R_g = malloc((nr ? nr : 1) * sizeof *rb->R_g);
    rb->R_map = calloc((nr ? nr : 1) * N, sizeof *rb->R_map);
    if (!rb->R_unit || !rb->R_g || !rb->R_map)
        return tdi_err_set(err, TDI_ENOMEM, "readback: out of memory");
    for (size_t e = 0; e < ne; e++) {
        const tdi_gen_elem *r = &el[e];
        if (r->kind != 'R')
            continue;
        int a = r->a, b = r->b;
        if (b >= 0 && a < 0) { /* ground first */
            a = r->b;
            b = -1;
        }
        if (a >= 0 && b < 0 && unit_of[a] >= 0) {
            rb->R_unit[unit_of[a]] += r->g;
            continue;
        }
        double *row = rb->R_map + rb->n_rmap * N;
        if (node_row(a, unit_of, bus_of, N, vbus, 1.0, row) ||
            node_row(b, unit_of, bus_of, N, vbus, -1.0, row)) {
            memset(row, 0, N * sizeof *row);
            rb->n_r_unmapped++;
            continue;
        }
        rb->R_g[rb->n_rmap++] = r->g;
    }
    return 0;
}

void tdi_gen_readback_destroy(tdi_gen_readback *rb)
{
    if (!rb)
        return;
    free(rb->K);
    free(rb->R_unit);
    free(rb->R_g);
    free(rb->R_map);
    memset(rb, 0, sizeof *rb);
}

/* Unit numbers of the instances: module m's unit i is sum_{m' < m} D_m' + i, the read-out
 * stage's unit j is N_substrate + j. Every module must have units 0..D_m-1 (D_m >= 1), the
 * stage none or one per read-out unit. Fills unit_of, force_of (by node id), *N, *nro. */
static int roles(const nodemap *nm, const long *xu, const long *xf, size_t nx,
                 const char *const *prefix, size_t n_mod, size_t out, int *unit_of,
                 int *force_of, size_t *N, size_t *nro, tdi_err *err)
{
    char ro_prefix[80];
    snprintf(ro_prefix, sizeof ro_prefix, "r%s", prefix[out]);
    long Dm[TDI_BUNDLE_MAX_MOD + 1];
    size_t cnt[TDI_BUNDLE_MAX_MOD + 1] = {0}, off[TDI_BUNDLE_MAX_MOD + 1], sum = 0;
    int bad = n_mod < 1 || n_mod > TDI_BUNDLE_MAX_MOD || out >= n_mod;
    for (size_t m = 0; m <= n_mod && !bad; m++)
        Dm[m] = -1;
    for (size_t i = 0; i < nx && !bad; i++)
        for (size_t m = 0; m <= n_mod; m++) { /* slot n_mod: the read-out stage */
            long u = unit_index(nm->names[xu[i]], m < n_mod ? prefix[m] : ro_prefix);
            if (u >= 0) {
                Dm[m] = u > Dm[m] ? u : Dm[m];
                cnt[m]++;
                break;
            }
        }
    for (size_t m = 0; m < n_mod && !bad; m++) {
        bad |= Dm[m] < 0 || cnt[m] != (size_t)(Dm[m] + 1);
        off[m] = sum;
        sum += cnt[m];
    }
    if (!bad)
        bad = (cnt[n_mod] != 0 && (Dm[n_mod] != Dm[out] || cnt[n_mod] != cnt[out])) ||
              sum + cnt[n_mod] != nx || (n_mod == 2 && Dm[0] != Dm[1]);
    if (bad) {
        if (n_mod == 2)
            return tdi_err_set(err, TDI_EFORMAT, "readback: expected units %s0..%s(D-1) and "
                               "%s0..%s(D-1) and optionally %s0..%s(D-1) (found %zu instances)",
                               prefix[0], prefix[0], prefix[1], prefix[1], ro_prefix, ro_prefix,
                               nx);
        char list[400] = "";
        for (size_t m = 0; m < n_mod && m < TDI_BUNDLE_MAX_MOD; m++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s0..", m ? ", " : "",
                     prefix[m]);
        return tdi_err_set(err, TDI_EFORMAT, "readback: expected units %s (each numbered from 0 "
                           "without gaps) and optionally %s0.. (found %zu instances)", list,
                           ro_prefix, nx);
    }
    for (size_t i = 0; i < nm->n; i++)
        unit_of[i] = force_of[i] = -1;
    for (size_t i = 0; i < nx; i++)
        for (size_t m = 0; m <= n_mod; m++) {
            long u = unit_index(nm->names[xu[i]], m < n_mod ? prefix[m] : ro_prefix);
            if (u >= 0) {
                long g = (long)(m < n_mod ? off[m] : sum) + u;
                unit_of[xu[i]] = (int)g;
                force_of[xf[i]] = (int)g;
                break;
            }
        }
    *N = sum + cnt[n_mod];
    *nro = cnt[n_mod];
    return 0;
}

int tdi_gen_readback_parse(const char *text, const char *enc_prefix, const char *dec_prefix,
                           tdi_gen_readback *rb, tdi_err *err)
{
    const char *pre[2] = {enc_prefix, dec_prefix};
    return tdi_gen_readback_parse_modules(text, pre, 2, 1, rb, err);
}

/* Parse state: the node map, the R/G elements and unit instances read so far, and the node
 * roles (each indexed by node id, nm.n entries) and bus voltages (nb x N) once mapped. */
/* A subcircuit definition (circuit.hier): its ports and its body's cards (copies). */
typedef struct {
    char *name;
    char **ports;
    size_t np;
    char **lines;
    size_t nl;
} rd_sub;

typedef struct {
    nodemap nm;
    rd_sub *subs;
    size_t nsub;
    tdi_gen_params par; /* top-level .param values (circuit.param) */
    tdi_gen_elem *el;
    size_t ne, ecap;
    long *xu, *xf; /* instances: unit node id, force node id */
    size_t nx, xcap;
    int *unit_of, *force_of, *bus_of;
    double *vbus;
    size_t N, nro, nb;
} rd_state;

static void rd_free(rd_state *st)
{
    for (size_t i = 0; i < st->nsub; i++) {
        rd_sub *d = &st->subs[i];
        free(d->name);
        for (size_t j = 0; j < d->np; j++)
            free(d->ports[j]);
        for (size_t j = 0; j < d->nl; j++)
            free(d->lines[j]);
        free(d->ports);
        free(d->lines);
    }
    free(st->subs);
    tdi_gen_params_free(&st->par);
    nm_free(&st->nm);
    free(st->el);
    free(st->xu);
    free(st->xf);
    free(st->unit_of);
    free(st->force_of);
    free(st->bus_of);
    free(st->vbus);
}

/* Joined logical lines: a lower-cased copy of text with "+" continuations folded into the
 * previous line (the preceding newline and the '+' become spaces). NULL on out of memory. */
static char *rd_join_lines(const char *text)
{
    size_t len = strlen(text);
    char *buf = malloc(len + 2);
    if (!buf)
        return NULL;
    for (size_t i = 0; i <= len; i++)
        buf[i] = (char)tolower((unsigned char)text[i]);
    for (size_t i = 0; i < len; i++)
        if (buf[i] == '\n' && buf[i + 1] == '+') {
            buf[i] = ' ';
            buf[i + 1] = ' ';
        }
    return buf;
}

/* Unit instance card "x<name> <unit> [<force>] <subckt>" (nt tokens). */
static int rd_instance(rd_state *st, char **tok, int nt, size_t lineno, tdi_err *err)
{
    if (nt != 3 && nt != 4)
        return tdi_err_set(err, TDI_EFORMAT, "line %zu: unit instance needs 2 or 3 fields "
                           "after the name", lineno);
    if (st->nx == st->xcap) {
        st->xcap = st->xcap ? 2 * st->xcap : 256;
        long *a = realloc(st->xu, st->xcap * sizeof *a);
        long *b2 = a ? realloc(st->xf, st->xcap * sizeof *b2) : NULL;
        if (a)
            st->xu = a;
        if (!a || !b2)
            return tdi_err_set(err, TDI_ENOMEM, "readback: out of memory");
        st->xf = b2;
    }
    st->xu[st->nx] = nm_id(&st->nm, tok[1]);
    st->xf[st->nx] = nm_id(&st->nm, tok[nt == 4 ? 2 : 1]);
    if (st->xu[st->nx] < 0 || st->xf[st->nx] < 0)
        return tdi_err_set(err, TDI_EFORMAT, "line %zu: bad unit instance nodes", lineno);
    st->nx++;
    return 0;
}

/* R card "r<name> a b value" or G card "g<name> a b c d gm" (nt tokens). */
static int rd_element(rd_state *st, char **tok, int nt, size_t lineno, tdi_err *err)
{
    char kind = tok[0][0];
    int need = kind == 'r' ? 4 : 6;
    if (nt != need)
        return tdi_err_set(err, TDI_EFORMAT, "line %zu: '%s' card needs %d fields, has %d",
                           lineno, tok[0], need, nt);
    double v;
    char why[160] = "not a number";
    if ((spice_num(tok[need - 1], &v) &&
         tdi_gen_param_eval(tok[need - 1], &st->par, &v, why, sizeof why)) || v == 0)
        return tdi_err_set(err, TDI_EFORMAT, "line %zu: bad value '%s' (%s)", lineno,
                           tok[need - 1], v == 0 ? "zero" : why);
    if (st->ne == st->ecap) {
        st->ecap = st->ecap ? 2 * st->ecap : 1024;
        tdi_gen_elem *q = realloc(st->el, st->ecap * sizeof *q);
        if (!q)
            return tdi_err_set(err, TDI_ENOMEM, "readback: out of memory");
        st->el = q;
    }
    tdi_gen_elem *e = &st->el[st->ne++];
    e->kind = (char)(kind == 'r' ? 'R' : 'G');
    e->block = 0;
    e->a = nm_id(&st->nm, tok[1]);
    e->b = nm_id(&st->nm, tok[2]);
    e->c = kind == 'g' ? nm_id(&st->nm, tok[3]) : -1;
    e->d = kind == 'g' ? nm_id(&st->nm, tok[4]) : -1;
    e->g = kind == 'r' ? 1.0 / v : v;
    if (e->a == -2 || e->b == -2 || e->c == -2 || e->d == -2)
        return tdi_err_set(err, TDI_ENOMEM, "readback: out of memory");
    return 0;
}

/* The blank-separated tokens of line (modified in place) into a new array; NULL on no memory. */
static char **rd_tokens(char *line, int *nt)
{
    size_t cap = strlen(line) / 2 + 2;
    char **tok = malloc(cap * sizeof *tok), *save = NULL;
    *nt = 0;
    if (!tok)
        return NULL;
    for (char *t = strtok_r(line, " \t\r", &save); t; t = strtok_r(NULL, " \t\r", &save))
        tok[(*nt)++] = t;
    return tok;
}

/* The defined subcircuit a card "x<name> <nodes..> <subckt>" expands (not a unit_* leaf), or
 * NULL. */
static const rd_sub *rd_find_sub(const rd_state *st, const char *name)
{
    if (strncmp(name, "unit_", 5) == 0)
        return NULL;
    for (size_t i = 0; i < st->nsub; i++)
        if (strcmp(st->subs[i].name, name) == 0)
            return &st->subs[i];
    return NULL;
}

static int rd_card_tok(rd_state *st, char **tok, int nt, const char *path, size_t lineno,
                       int depth, tdi_err *err);

/* An instance of subcircuit d: its body's cards with ports mapped to the instance's nodes
 * (tok[1..nt-2]), ground kept, every other node named <path>.<node> (ngspice's flattening). */
static int rd_expand(rd_state *st, const rd_sub *d, char **tok, int nt, const char *path,
                     size_t lineno, int depth, tdi_err *err)
{
    if ((size_t)(nt - 2) != d->np)
        return tdi_err_set(err, TDI_EFORMAT, "line %zu: instance %s has %d nodes, subcircuit "
                           "%s %zu ports", lineno, tok[0], nt - 2, d->name, d->np);
    if (depth > 16)
        return tdi_err_set(err, TDI_EFORMAT, "line %zu: subcircuits nested deeper than 16",
                           lineno);
    char inst[512];
    snprintf(inst, sizeof inst, "%s%s%s", path, path[0] ? "." : "", tok[0]);
    int rc = 0;
    for (size_t l = 0; l < d->nl && !rc; l++) {
        char *line = strdup(d->lines[l]);
        int mt = 0;
        char **mtok = line ? rd_tokens(line, &mt) : NULL;
        char *scratch = mtok ? malloc((size_t)mt * (strlen(inst) + 2) + strlen(d->lines[l]) + 1)
                             : NULL;
        if (!scratch) {
            rc = tdi_err_set(err, TDI_ENOMEM, "readback: out of memory");
        } else {
            char *w = scratch;
            char kind = mt > 0 ? mtok[0][0] : ' '; /* node fields: R 2, G 4, X all but last */
            int last = kind == 'r' ? 3 : kind == 'g' ? 5 : kind == 'x' ? mt - 1 : 0;
            last = last < mt ? last : mt;
            for (int j = 1; j < last; j++) {
                if (strcmp(mtok[j], "0") == 0 || strcmp(mtok[j], "gnd") == 0)
                    continue;
                size_t q = 0;
                while (q < d->np && strcmp(d->ports[q], mtok[j]) != 0)
                    q++;
                if (q < d->np) {
                    mtok[j] = tok[1 + q];
                } else {
                    int k = sprintf(w, "%s.%s", inst, mtok[j]);
                    mtok[j] = w;
                    w += k + 1;
                }
            }
            rc = rd_card_tok(st, mtok, mt, inst, lineno, depth + 1, err);
        }
        free(scratch);
        free(mtok);
        free(line);
    }
    return rc;
}

/* A tokenised card: a unit instance, a subcircuit instance (expanded), R or G; sources,
 * capacitors and inductors are not part of the conductance network and are skipped. */
static int rd_card_tok(rd_state *st, char **tok, int nt, const char *path, size_t lineno,
                       int depth, tdi_err *err)
{
    if (nt == 0)
        return 0;
    char kind = tok[0][0];
    if (kind == 'x') {
        const rd_sub *d = nt >= 2 ? rd_find_sub(st, tok[nt - 1]) : NULL;
        return d ? rd_expand(st, d, tok, nt, path, lineno, depth, err)
                 : rd_instance(st, tok, nt, lineno, err);
    }
    if (kind != 'r' && kind != 'g')
        return 0;
    return rd_element(st, tok, nt, lineno, err);
}

/* One top-level card (a non-empty, non-comment, non-dot line). */
static int rd_card(rd_state *st, char *line, size_t lineno, tdi_err *err)
{
    int nt = 0;
    char **tok = rd_tokens(line, &nt);
    if (!tok)
        return tdi_err_set(err, TDI_ENOMEM, "readback: out of memory");
    int rc = rd_card_tok(st, tok, nt, "", lineno, 0, err);
    free(tok);
    return rc;
}

/* Starts subcircuit definition ".subckt name ports.." (line: a copy to tokenise). */
static int rd_sub_begin(rd_state *st, char *line, size_t lineno, tdi_err *err)
{
    int nt = 0;
    char **tok = rd_tokens(line, &nt);
    rd_sub *ns = tok ? realloc(st->subs, (st->nsub + 1) * sizeof *ns) : NULL;
    if (!ns) {
        free(tok);
        return tdi_err_set(err, TDI_ENOMEM, "readback: out of memory");
    }
    st->subs = ns;
    rd_sub *d = &st->subs[st->nsub++];
    memset(d, 0, sizeof *d);
    int bad = nt < 2;
    d->name = strdup(bad ? "?" : tok[1]);
    d->ports = malloc((size_t)(nt > 2 ? nt - 2 : 1) * sizeof *d->ports);
    for (int j = 2; j < nt && d->ports; j++)
        if ((d->ports[d->np] = strdup(tok[j])))
            d->np++;
    int oom = !d->name || !d->ports || (nt > 2 && d->np != (size_t)(nt - 2));
    free(tok);
    if (bad)
        return tdi_err_set(err, TDI_EFORMAT, "line %zu: .subckt without a name", lineno);
    return oom ? tdi_err_set(err, TDI_ENOMEM, "readback: out of memory") : 0;
}

static int rd_sub_line(rd_state *st, const char *line, tdi_err *err)
{
    rd_sub *d = &st->subs[st->nsub - 1];
    char **nl = realloc(d->lines, (d->nl + 1) * sizeof *nl);
    if (!nl)
        return tdi_err_set(err, TDI_ENOMEM, "readback: out of memory");
    d->lines = nl;
    if (!(d->lines[d->nl] = strdup(line)))
        return tdi_err_set(err, TDI_ENOMEM, "readback: out of memory");
    d->nl++;
    return 0;
}

/* First pass over the joined lines of buf (not modified): the subcircuit definitions and the
 * top-level .param values, so that instances and values may precede or follow them. */
static int rd_defs(rd_state *st, const char *buf, tdi_err *err)
{
    int in_sub = 0, in_ctl = 0, rc = 0;
    size_t lineno = 0;
    for (const char *p = buf; p && *p && !rc;) {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        char *line = malloc(n + 1);
        if (!line)
            return tdi_err_set(err, TDI_ENOMEM, "readback: out of memory");
        memcpy(line, p, n);
        line[n] = '\0';
        p = eol ? eol + 1 : NULL;
        lineno++;
        char *l = line;
        while (isspace((unsigned char)*l))
            l++;
        if (!*l || *l == '*') {
        } else if (in_ctl) {
            in_ctl = strncmp(l, ".endc", 5) != 0;
        } else if (strncmp(l, ".control", 8) == 0) {
            in_ctl = 1;
        } else if (strncmp(l, ".subckt", 7) == 0) {
            in_sub = 1;
            rc = rd_sub_begin(st, l, lineno, err);
        } else if (strncmp(l, ".ends", 5) == 0) {
            in_sub = 0;
        } else if (in_sub) {
            rc = rd_sub_line(st, l, err);
        } else if (strncmp(l, ".param", 6) == 0) {
            /* lenient: a value it cannot evaluate (e.g. "nan" of an unset physics field)
               matters only if an element uses it, which then fails with the name */
            char why[160];
            (void)tdi_gen_params_line(&st->par, l, why, sizeof why);
        } else if (strncmp(l, ".end", 4) == 0 && (!l[4] || isspace((unsigned char)l[4]))) {
            p = NULL;
        }
        free(line);
    }
    return rc;
}

/* Walks the joined lines of buf (modified in place) up to ".end", skipping comments, dot
 * cards and .subckt/.control bodies, and collects the top-level cards into st. */
static int rd_collect(rd_state *st, char *buf, tdi_err *err)
{
    int in_sub = 0, rc = 0;
    size_t lineno = 0;
    char *p = buf;
    while (p && *p && !rc) {
        char *eol = strchr(p, '\n');
        if (eol)
            *eol = '\0';
        lineno++;
        char *line = p;
        p = eol ? eol + 1 : NULL;
        while (isspace((unsigned char)*line))
            line++;
        if (!*line || *line == '*')
            continue;
        if (strncmp(line, ".subckt", 7) == 0 || strncmp(line, ".control", 8) == 0) {
            in_sub = 1;
            continue;
        }
        if (strncmp(line, ".ends", 5) == 0 || strncmp(line, ".endc", 5) == 0) {
            in_sub = 0;
            continue;
        }
        if (in_sub)
            continue;
        if (*line == '.') {
            if (strncmp(line, ".end", 4) == 0 && (!line[4] || isspace((unsigned char)line[4])))
                break;
            continue;
        }
        rc = rd_card(st, line, lineno, err);
    }
    return rc;
}

/* Node roles: the modules' units and (optional) read-out stage units r<prefix[out]><j> (see
 * roles), every other non-force node a bus (numbered in node order); sets st->N, nro, nb. */
static int rd_map_nodes(rd_state *st, const char *const *prefix, size_t n_mod, size_t out,
                        tdi_err *err)
{
    size_t nn = st->nm.n ? st->nm.n : 1;
    st->unit_of = malloc(nn * sizeof *st->unit_of);
    st->force_of = malloc(nn * sizeof *st->force_of);
    st->bus_of = malloc(nn * sizeof *st->bus_of);
    if (!st->unit_of || !st->force_of || !st->bus_of)
        return tdi_err_set(err, TDI_ENOMEM, "readback: out of memory");
    int rc = roles(&st->nm, st->xu, st->xf, st->nx, prefix, n_mod, out, st->unit_of,
                   st->force_of, &st->N, &st->nro, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < st->nm.n; i++)
        st->bus_of[i] = -1;
    return 0;
}

/* Stamps and reduces the network onto the units (rb->K, N x N; st->vbus) and maps the
 * resistors for the energy ledger. */
static int rd_reduce(rd_state *st, tdi_gen_readback *rb, tdi_err *err)
{
    size_t N = st->N;
    rb->K = calloc(N * N, sizeof *rb->K);
    if (!rb->K)
        return tdi_err_set(err, TDI_ENOMEM, "readback: out of memory");
    for (size_t i = 0; i < st->nm.n; i++)
        if (st->unit_of[i] < 0 && st->force_of[i] < 0)
            st->bus_of[i] = (int)st->nb++;
    st->vbus = malloc((st->nb ? st->nb : 1) * N * sizeof *st->vbus);
    if (!st->vbus)
        return tdi_err_set(err, TDI_ENOMEM, "readback: out of memory");
    int rc = tdi_gen_reduce(st->el, st->ne, st->nm.n, st->unit_of, st->force_of, st->bus_of, N,
                            st->nb, rb->K, st->vbus, err);
    if (!rc)
        rc = map_resistors(st->el, st->ne, st->unit_of, st->bus_of, N, st->vbus, rb, err);
    return rc;
}

int tdi_gen_readback_parse_modules(const char *text, const char *const *prefix, size_t n_mod,
                                   size_t out, tdi_gen_readback *rb, tdi_err *err)
{
    memset(rb, 0, sizeof *rb);
    int spectre = 0; /* Spectre's language: back to SPICE cards first (tdi_gen_dialect_spectre.c) */
    char *spice = tdi_gen_dialect_spectre_to_spice(text, &spectre);
    if (spectre && !spice)
        return tdi_err_set(err, TDI_ENOMEM, "readback: out of memory");
    char *buf = rd_join_lines(spectre ? spice : text);
    free(spice);
    if (!buf)
        return tdi_err_set(err, TDI_ENOMEM, "readback: out of memory");
    rd_state st = {0};
    int rc = rd_defs(&st, buf, err);
    if (!rc)
        rc = rd_collect(&st, buf, err);
    if (!rc)
        rc = rd_map_nodes(&st, prefix, n_mod, out, err);
    if (!rc)
        rc = rd_reduce(&st, rb, err);
    if (!rc) {
        rb->N = st.N;
        rb->n_ro = st.nro;
        rb->n_bus = st.nb;
        rb->n_elems = st.ne;
    } else {
        tdi_gen_readback_destroy(rb);
    }
    free(buf);
    rd_free(&st);
    return rc;
}
