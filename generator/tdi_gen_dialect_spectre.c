/* tdi_gen_dialect_spectre: the Spectre row of the dialect table (circuit.dialect: spectre), its
 * companion row (standalone.mdl: the measurements in Spectre's Measurement Description
 * Language) and its way back to SPICE cards for the read-back. Spectre's own language (Spectre
 * Circuit Simulator Reference, docs/dialects.md): "// " comments, "simulator lang=spectre",
 * statements "name (nodes) master param=value", "parameters a=v", "subckt name (ports)" ..
 * "ends name", a trailing '\' continues a line, expressions bare. Spectre's language has no
 * .measure card: the netlist keeps each window as a comment and saves the measured nodes; the
 * MDL file measures them (spectre =mdl standalone.mdl). Non-goal: Spectre's SPICE mode. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_buf.h"
#include "tdi_gen_int.h"

/* A value: "{e}" -> "e", else as it is. */
static void put_value(tdi_buf *o, const char *v)
{
    size_t n = strlen(v);
    if (n >= 2 && v[0] == '{' && v[n - 1] == '}')
        tdi_buf_printf(o, "%.*s", (int)(n - 2), v + 1);
    else
        tdi_buf_printf(o, "%s", v);
}

/* "<head> tok[a..b)<tail>" on one line when b - a <= per, else tok[a..b) per `per` a line
 * after the head, each line but the last ending " \" (Spectre's continuation). */
static void put_wrapped(tdi_buf *o, const char *head, char **tok, size_t a, size_t b,
                        size_t per, const char *tail)
{
    tdi_buf_printf(o, "%s", head);
    for (size_t i = a; i < b; i += per) {
        if (b - a > per)
            tdi_buf_printf(o, " \\\n   ");
        for (size_t j = i; j < b && j < i + per; j++) {
            tdi_buf_append(o, " ", 1);
            put_value(o, tok[j]);
        }
    }
    tdi_buf_printf(o, "%s\n", tail);
}

/* ".param a=v b={e}" -> "parameters a=v b=e" */
static int sp_param(tdi_buf *o, const tdi_gen_dialect *d, const tdi_gen_card *k)
{
    (void)d;
    tdi_buf_printf(o, "parameters");
    for (size_t i = 1; i < k->nt; i++) {
        char *eq = strchr(k->tok[i], '=');
        if (!eq) {
            tdi_buf_printf(o, " %s", k->tok[i]);
            continue;
        }
        tdi_buf_printf(o, " %.*s=", (int)(eq - k->tok[i]), k->tok[i]);
        put_value(o, eq + 1);
    }
    return tdi_buf_append(o, "\n", 1);
}

/* ".subckt name p.." -> "subckt name ( p.. )" */
static int sp_subckt(tdi_buf *o, const tdi_gen_dialect *d, const tdi_gen_card *k)
{
    (void)d;
    char head[160];
    snprintf(head, sizeof head, "subckt %s (", k->nt > 1 ? k->tok[1] : "?");
    put_wrapped(o, head, k->tok, 2, k->nt, 12, " )");
    return o->oom ? -1 : 0;
}

static int sp_ends(tdi_buf *o, const tdi_gen_dialect *d, const tdi_gen_card *k)
{
    (void)d;
    return tdi_buf_printf(o, "ends %s\n", k->nt > 1 ? k->tok[1] : "");
}

/* "Xname n.. sub" -> "Xname ( n.. ) sub" */
static int sp_instance(tdi_buf *o, const tdi_gen_dialect *d, const tdi_gen_card *k)
{
    (void)d;
    char head[160], tail[160];
    snprintf(head, sizeof head, "%s (", k->tok[0]);
    snprintf(tail, sizeof tail, " ) %s", k->nt > 1 ? k->tok[k->nt - 1] : "?");
    put_wrapped(o, head, k->tok, 1, k->nt - 1, 12, tail);
    return o->oom ? -1 : 0;
}

/* "Rn a b v" -> "Rn (a b) resistor r=v"; "Cn a b v" -> "Cn (a b) capacitor c=v" */
static int sp_element(tdi_buf *o, const tdi_gen_dialect *d, const tdi_gen_card *k)
{
    (void)d;
    int cap = tolower((unsigned char)k->tok[0][0]) == 'c';
    if (k->nt != 4)
        return tdi_gen_dialect_lines(o, d, k);
    tdi_buf_printf(o, "%s (%s %s) %s %s=", k->tok[0], k->tok[1], k->tok[2],
                   cap ? "capacitor" : "resistor", cap ? "c" : "r");
    put_value(o, k->tok[3]);
    return tdi_buf_append(o, "\n", 1);
}

/* "Gn a b c d g" -> "Gn (a b c d) vccs gm=g" (sink src ps ns: SPICE's order) */
static int sp_vccs(tdi_buf *o, const tdi_gen_dialect *d, const tdi_gen_card *k)
{
    (void)d;
    if (k->nt != 6)
        return tdi_gen_dialect_lines(o, d, k);
    tdi_buf_printf(o, "%s (%s %s %s %s) vccs gm=", k->tok[0], k->tok[1], k->tok[2], k->tok[3],
                   k->tok[4]);
    put_value(o, k->tok[5]);
    return tdi_buf_append(o, "\n", 1);
}

/* "In a b DC v" -> "In (a b) isource dc=v"; "In a b PWL( t v .. )" ->
 * "In (a b) isource type=pwl wave=[ t v .. ]" (four points a line) */
static int sp_source(tdi_buf *o, const tdi_gen_dialect *d, const tdi_gen_card *k)
{
    (void)d;
    if (k->nt == 5 && strcmp(k->tok[3], "DC") == 0) {
        tdi_buf_printf(o, "%s (%s %s) isource dc=", k->tok[0], k->tok[1], k->tok[2]);
        put_value(o, k->tok[4]);
        return tdi_buf_append(o, "\n", 1);
    }
    if (k->nt >= 6 && strcmp(k->tok[3], "PWL(") == 0 && strcmp(k->tok[k->nt - 1], ")") == 0) {
        char head[200];
        snprintf(head, sizeof head, "%s (%s %s) isource type=pwl wave=[", k->tok[0], k->tok[1],
                 k->tok[2]);
        put_wrapped(o, head, k->tok, 4, k->nt - 1, 8, " ]");
        return o->oom ? -1 : 0;
    }
    return -2; /* TRNOISE or EXTERNAL: refused by the config */
}

/* ".tran h tstop 0 h [uic]" -> "tran1 tran stop= step= maxstep= [skipdc=yes]" */
static int sp_tran(tdi_buf *o, const tdi_gen_dialect *d, const tdi_gen_card *k)
{
    (void)d;
    if (k->nt < 5)
        return -2;
    return tdi_buf_printf(o, "tran1 tran stop=%s step=%s maxstep=%s%s\n", k->tok[2], k->tok[1],
                          k->tok[4], k->nt > 5 ? " skipdc=yes" : "");
}

/* ".measure tran name AVG|RMS v(x) from= to=" or "... FIND v(x) AT=": a comment naming the
 * window, and (first sample) "save x" for the node. */
static int sp_measure(tdi_buf *o, const tdi_gen_dialect *d, const tdi_gen_card *k)
{
    (void)d;
    if (k->nt < 6)
        return -2;
    const char *name = k->tok[2], *kind = k->tok[3], *v = k->tok[4];
    tdi_buf_printf(o, "// measure %s = %s of %s", name, kind, v);
    for (size_t i = 5; i < k->nt; i++)
        tdi_buf_printf(o, " %s", k->tok[i]);
    tdi_buf_append(o, "\n", 1);
    size_t nl = strlen(name), vl = strlen(v);
    if (nl > 3 && strcmp(name + nl - 3, "_s0") == 0 && strcmp(kind, "RMS") != 0 && vl > 3 &&
        strncmp(v, "v(", 2) == 0)
        tdi_buf_printf(o, "save %.*s\n", (int)(vl - 3), v + 2);
    return o->oom ? -1 : 0;
}

static int sp_end(tdi_buf *o, const tdi_gen_dialect *d, const tdi_gen_card *k)
{
    (void)d, (void)k;
    return tdi_buf_printf(o, "// end of the netlist\n");
}

const tdi_gen_dialect tdi_gen_dialect_spectre = {
    .name = "spectre", .simulator = "Spectre",
    .run = "spectre =mdl standalone.mdl (the measurement file beside this one runs this "
           "netlist's tran1 and writes avg_<node>_s<n> (time average, V) and rms_<node>_s<n> per "
           "sample to standalone.measure); spectre <this file> alone runs tran1 without them",
    .file = "standalone.scs", .comment = "//", .expr_open = "", .expr_close = "",
    .head = "simulator lang=spectre\n", .companion = &tdi_gen_dialect_spectre_mdl,
    .param = sp_param, .subckt = sp_subckt, .ends = sp_ends, .instance = sp_instance,
    .element = sp_element, .vccs = sp_vccs, .source = sp_source, .tran = sp_tran,
    .measure = sp_measure, .end = sp_end};

/* ---------- the companion: standalone.mdl (Spectre MDL User Guide and Reference) ---------- */

/* Every circuit card: nothing (the netlist holds the circuit; the MDL file names its analysis). */
static int mdl_none(tdi_buf *o, const tdi_gen_dialect *d, const tdi_gen_card *k)
{
    (void)o, (void)d, (void)k;
    return 0;
}

/* ".tran ..": the measurement alias opens and runs the netlist's analysis tran1 (sp_tran) */
static int mdl_tran(tdi_buf *o, const tdi_gen_dialect *d, const tdi_gen_card *k)
{
    (void)d, (void)k;
    return tdi_buf_printf(o, "alias measurement tdi_readout {\n    run tran1\n");
}

/* ".measure tran name AVG|RMS v(x) from=a to=b" -> "export real name = avg(trim(sig=V(x),
 * from=a, to=b))" (rms likewise); ".measure tran name FIND v(x) AT=t" -> "export real name =
 * V(x)@t" (the value of the signal at t) */
static int mdl_measure(tdi_buf *o, const tdi_gen_dialect *d, const tdi_gen_card *k)
{
    (void)d;
    const char *v = k->nt > 4 ? k->tok[4] : "";
    size_t vl = strlen(v);
    if (k->nt != 6 && k->nt != 7)
        return -2;
    if (vl < 4 || strncmp(v, "v(", 2) != 0 || v[vl - 1] != ')')
        return -2;
    const char *kind = k->tok[3];
    tdi_buf_printf(o, "    export real %s = ", k->tok[2]);
    if (strcmp(kind, "FIND") == 0 && k->nt == 6 && strncmp(k->tok[5], "AT=", 3) == 0)
        return tdi_buf_printf(o, "V(%.*s)@%s\n", (int)(vl - 3), v + 2, k->tok[5] + 3);
    if ((strcmp(kind, "AVG") != 0 && strcmp(kind, "RMS") != 0) || k->nt != 7 ||
        strncmp(k->tok[5], "from=", 5) != 0 || strncmp(k->tok[6], "to=", 3) != 0)
        return -2;
    return tdi_buf_printf(o, "%s(trim(sig=V(%.*s), from=%s, to=%s))\n",
                          kind[0] == 'A' ? "avg" : "rms", (int)(vl - 3), v + 2, k->tok[5] + 5,
                          k->tok[6] + 3);
}

/* ".end": the alias closes and is run */
static int mdl_end(tdi_buf *o, const tdi_gen_dialect *d, const tdi_gen_card *k)
{
    (void)d, (void)k;
    return tdi_buf_printf(o, "}\nrun tdi_readout\n");
}

const tdi_gen_dialect tdi_gen_dialect_spectre_mdl = {
    .name = "spectre", .simulator = "Spectre MDL: the measurements of standalone.scs",
    .run = "spectre =mdl standalone.mdl (MDL finds standalone.scs by the base name); the "
           "exported avg_<node>_s<n> (time average, V) and rms_<node>_s<n> go to "
           "standalone.measure",
    .file = "standalone.mdl", .comment = "//", .expr_open = "", .expr_close = "", .head = "",
    .head_comments = 1, .param = mdl_none, .subckt = mdl_none, .ends = mdl_none,
    .instance = mdl_none, .element = mdl_none, .vccs = mdl_none, .source = mdl_none,
    .tran = mdl_tran, .measure = mdl_measure, .end = mdl_end};

/* ---------- back to SPICE (the read-back) ---------- */

/* The statements of text: '\'-continued lines joined, one per line; a copy (caller frees). */
static char *sp_join(const char *text)
{
    size_t n = strlen(text);
    char *s = malloc(n + 1), *w = s;
    if (!s)
        return NULL;
    for (const char *p = text; *p; p++) {
        if (*p == '\\' && p[1] == '\n') {
            *w++ = ' ';
            p++;
        } else {
            *w++ = *p;
        }
    }
    *w = '\0';
    return s;
}

/* One statement s (modified) as SPICE onto o: parameters, subckt, ends, and "name (nodes)
 * master args" for resistor, capacitor, vccs and subcircuit instances; the rest dropped. */
static void sp_back_stmt(tdi_buf *o, char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    if (!*s || strncmp(s, "//", 2) == 0 || strncmp(s, "simulator", 9) == 0)
        return;
    if (strncmp(s, "parameters ", 11) == 0) {
        tdi_buf_printf(o, ".param");
        char *save = NULL;
        for (char *t = strtok_r(s + 11, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
            char *eq = strchr(t, '=');
            if (eq)
                tdi_buf_printf(o, " %.*s={%s}", (int)(eq - t), t, eq + 1);
        }
        tdi_buf_append(o, "\n", 1);
        return;
    }
    char *lp = strchr(s, '('), *rp = lp ? strchr(lp, ')') : NULL;
    int sub = strncmp(s, "subckt ", 7) == 0;
    if (strncmp(s, "ends", 4) == 0) {
        tdi_buf_printf(o, ".%s\n", s);
        return;
    }
    if (!lp || !rp)
        return;
    *lp = *rp = ' ';
    char *args = rp + 1, *save = NULL, *master = strtok_r(args, " \t", &save);
    if (sub) {
        tdi_buf_printf(o, ".%s\n", s);
        return;
    }
    if (!master)
        return;
    static const char *const val[][2] = {{"resistor", "r="}, {"capacitor", "c="},
                                         {"vccs", "gm="}};
    *rp = '\0';
    for (size_t i = 0; i < 3; i++)
        if (strcmp(master, val[i][0]) == 0) {
            for (char *t = strtok_r(NULL, " \t", &save); t; t = strtok_r(NULL, " \t", &save))
                if (strncmp(t, val[i][1], strlen(val[i][1])) == 0)
                    tdi_buf_printf(o, "%s {%s}\n", s, t + strlen(val[i][1]));
            return;
        }
    if (strcmp(master, "isource") == 0 || strcmp(master, "vsource") == 0)
        return;
    tdi_buf_printf(o, "%s %s\n", s, master); /* a subcircuit instance */
}

char *tdi_gen_dialect_spectre_to_spice(const char *text, int *is_spectre)
{
    *is_spectre = strstr(text, "\nsimulator lang=spectre") != NULL;
    if (!*is_spectre)
        return NULL;
    char *s = sp_join(text);
    if (!s)
        return NULL;
    tdi_buf o = {0};
    tdi_buf_printf(&o, "* from Spectre\n");
    for (char *line = s, *eol; line; line = eol ? eol + 1 : NULL) {
        eol = strchr(line, '\n');
        if (eol)
            *eol = '\0';
        sp_back_stmt(&o, line);
    }
    tdi_buf_printf(&o, ".end\n");
    free(s);
    return tdi_buf_take(&o);
}
