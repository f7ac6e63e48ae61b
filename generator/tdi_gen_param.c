/* tdi_gen_param: the .param subset of the parametric netlist (circuit.param) and its evaluator,
 * which the read-back uses (expressions in {braces} or HSPICE's 'quotes'): numbers with SPICE scale suffixes, names of earlier .params,
 * + - * / ^ (also **), unary signs, parentheses and sqrt/abs/exp/log. Invariant: names are
 * case-insensitive (the read-back lower-cases its text); a later .param of a name replaces it.
 * Non-goal: SPICE's whole expression language (ternaries, comparisons, user functions). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_gen_int.h"

void tdi_gen_params_free(tdi_gen_params *t)
{
    free(t->name);
    free(t->val);
    memset(t, 0, sizeof *t);
}

int tdi_gen_params_get(const tdi_gen_params *t, const char *name, double *v)
{
    for (size_t i = t->n; i-- > 0;)
        if (strcmp(t->name[i], name) == 0) {
            *v = t->val[i];
            return 0;
        }
    return -1;
}

int tdi_gen_params_set(tdi_gen_params *t, const char *name, double v)
{
    if (strlen(name) >= sizeof t->name[0])
        return -1;
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->name[i], name) == 0) {
            t->val[i] = v;
            return 0;
        }
    if (t->n == t->cap) {
        size_t nc = t->cap ? 2 * t->cap : 16;
        char(*nm)[32] = realloc(t->name, nc * sizeof *nm);
        if (!nm)
            return -1;
        t->name = nm;
        double *nv = realloc(t->val, nc * sizeof *nv);
        if (!nv)
            return -1;
        t->val = nv;
        t->cap = nc;
    }
    snprintf(t->name[t->n], sizeof t->name[0], "%s", name);
    t->val[t->n++] = v;
    return 0;
}

/* Recursive-descent state: the text, the position, the table and the first error. */
typedef struct {
    const char *p;
    const tdi_gen_params *t;
    char *why;
    size_t nwhy;
    int bad;
} ev;

static double ev_fail(ev *e, const char *msg)
{
    if (!e->bad)
        snprintf(e->why, e->nwhy, "%s at '%.20s'", msg, e->p);
    e->bad = 1;
    return NAN;
}

static void ev_ws(ev *e)
{
    while (isspace((unsigned char)*e->p))
        e->p++;
}

static double ev_expr(ev *e);

/* A number and its scale suffix (meg f p n u m k g t; further letters, a unit, are ignored). */
static double ev_number(ev *e)
{
    char *end;
    double v = strtod(e->p, &end);
    e->p = end;
    static const struct { const char *suf; double mul; } tab[] = {
        {"meg", 1e6}, {"f", 1e-15}, {"p", 1e-12}, {"n", 1e-9}, {"u", 1e-6},
        {"m", 1e-3}, {"k", 1e3}, {"g", 1e9}, {"t", 1e12}};
    if (isalpha((unsigned char)*e->p)) {
        for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
            if (strncmp(e->p, tab[i].suf, strlen(tab[i].suf)) == 0) {
                v *= tab[i].mul;
                break;
            }
        while (isalpha((unsigned char)*e->p))
            e->p++;
    }
    return v;
}

/* A name: a .param, or a function of one argument. */
static double ev_name(ev *e)
{
    char nm[32];
    size_t n = 0;
    while ((isalnum((unsigned char)*e->p) || *e->p == '_') && n + 1 < sizeof nm)
        nm[n++] = (char)tolower((unsigned char)*e->p++);
    nm[n] = '\0';
    ev_ws(e);
    if (*e->p == '(') {
        e->p++;
        double a = ev_expr(e);
        ev_ws(e);
        if (*e->p != ')')
            return ev_fail(e, "expected ')'");
        e->p++;
        if (strcmp(nm, "sqrt") == 0)
            return sqrt(a);
        if (strcmp(nm, "abs") == 0)
            return fabs(a);
        if (strcmp(nm, "exp") == 0)
            return exp(a);
        if (strcmp(nm, "log") == 0 || strcmp(nm, "ln") == 0)
            return log(a);
        return ev_fail(e, "unknown function");
    }
    double v;
    if (tdi_gen_params_get(e->t, nm, &v))
        return ev_fail(e, "unknown .param");
    return v;
}

static double ev_primary(ev *e)
{
    ev_ws(e);
    if (*e->p == '(') {
        e->p++;
        double v = ev_expr(e);
        ev_ws(e);
        if (*e->p != ')')
            return ev_fail(e, "expected ')'");
        e->p++;
        return v;
    }
    if (isdigit((unsigned char)*e->p) || *e->p == '.')
        return ev_number(e);
    if (isalpha((unsigned char)*e->p) || *e->p == '_')
        return ev_name(e);
    return ev_fail(e, "expected a number, a name or '('");
}

/* unary signs, then a power (right-associative) */
static double ev_factor(ev *e)
{
    ev_ws(e);
    if (*e->p == '-' || *e->p == '+') {
        int neg = *e->p++ == '-';
        double v = ev_factor(e);
        return neg ? -v : v;
    }
    double v = ev_primary(e);
    ev_ws(e);
    if (*e->p == '^' || (e->p[0] == '*' && e->p[1] == '*')) {
        e->p += *e->p == '^' ? 1 : 2;
        return pow(v, ev_factor(e));
    }
    return v;
}

static double ev_term(ev *e)
{
    double v = ev_factor(e);
    for (;;) {
        ev_ws(e);
        if (*e->p == '*' && e->p[1] != '*') {
            e->p++;
            v *= ev_factor(e);
        } else if (*e->p == '/') {
            e->p++;
            v /= ev_factor(e);
        } else {
            return v;
        }
    }
}

static double ev_expr(ev *e)
{
    double v = ev_term(e);
    for (;;) {
        ev_ws(e);
        if (*e->p == '+') {
            e->p++;
            v += ev_term(e);
        } else if (*e->p == '-') {
            e->p++;
            v -= ev_term(e);
        } else {
            return v;
        }
    }
}

int tdi_gen_param_eval(const char *expr, const tdi_gen_params *t, double *v, char *why,
                       size_t nwhy)
{
    size_t len = strlen(expr);
    int braced = len >= 2 && ((expr[0] == '{' && expr[len - 1] == '}') || /* ngspice, Xyce */
                              (expr[0] == '\'' && expr[len - 1] == '\''));    /* HSPICE */
    char *s = malloc(len + 1);
    if (!s) {
        snprintf(why, nwhy, "out of memory");
        return -1;
    }
    memcpy(s, expr + braced, len - 2 * (size_t)braced);
    s[len - 2 * (size_t)braced] = '\0';
    ev e = {s, t, why, nwhy, 0};
    *v = ev_expr(&e);
    ev_ws(&e);
    if (!e.bad && *e.p)
        ev_fail(&e, "unexpected text");
    if (!e.bad && !isfinite(*v))
        ev_fail(&e, "not finite");
    free(s);
    return e.bad ? -1 : 0;
}

int tdi_gen_params_line(tdi_gen_params *t, const char *line, char *why, size_t nwhy)
{
    const char *p = line;
    while (isspace((unsigned char)*p))
        p++;
    if (strncmp(p, ".param", 6) != 0) {
        snprintf(why, nwhy, "not a .param card");
        return -1;
    }
    p += 6;
    int bad = 0;
    for (;;) {
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            return bad ? -1 : 0;
        char nm[32];
        size_t n = 0;
        while ((isalnum((unsigned char)*p) || *p == '_') && n + 1 < sizeof nm)
            nm[n++] = (char)tolower((unsigned char)*p++);
        nm[n] = '\0';
        while (isspace((unsigned char)*p))
            p++;
        if (!n || *p != '=') {
            snprintf(why, nwhy, ".param: expected name=value at '%.20s'", p);
            return -1;
        }
        p++;
        while (isspace((unsigned char)*p))
            p++;
        const char *v0 = p; /* a {..} group or a token up to the next blank */
        if (*p == '{' || *p == '\'') {
            char close = *p == '{' ? '}' : '\'';
            p++;
            while (*p && *p != close)
                p++;
            if (*p)
                p++;
        } else {
            while (*p && !isspace((unsigned char)*p))
                p++;
        }
        char val[512];
        snprintf(val, sizeof val, "%.*s", (int)(p - v0), v0);
        double v;
        char w[160];
        if (tdi_gen_param_eval(val, t, &v, w, sizeof w) || tdi_gen_params_set(t, nm, v)) {
            if (!bad) /* the first failure; the other names are still set */
                snprintf(why, nwhy, "%s: %s", nm, w);
            bad = 1;
        }
    }
}
