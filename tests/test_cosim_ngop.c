/* test_cosim_ngop: the ngspice operating-point adapter (cosim/tdi_cosim_ngop.c) on hand-written
 * decks: op values of a linear circuit against Ohm's law, alter + op, a BSIM4 device's @m[gm]
 * against a central difference of its drain current, and every failure as TDI_ESPICE with
 * ngspice's text. Then a spice-engine run and a reload in the same process (one instance). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_cosim.h"
#include "tdi_gen.h"
#include "tdi_test.h"

/* A tdi_gen_text of the '\n'-separated lines of s (the last one ".end"). */
static tdi_gen_text *text_of(const char *s)
{
    tdi_gen_text *t = calloc(1, sizeof *t);
    size_t len = strlen(s), nl = 1;
    for (size_t i = 0; i < len; i++)
        nl += s[i] == '\n';
    t->buf = malloc(len + 1);
    t->lines = calloc(nl + 1, sizeof(char *));
    memcpy(t->buf, s, len + 1);
    t->len = len + 1;
    for (char *p = t->buf; *p;) {
        t->lines[t->n_lines++] = p;
        char *e = strchr(p, '\n');
        if (!e)
            break;
        *e = '\0';
        p = e + 1;
    }
    return t;
}

/* Loads s; returns the load's code (0 or TDI_E*). */
static int load(const char *s, tdi_err *e)
{
    tdi_gen_text *t = text_of(s);
    int rc = tdi_cosim_ng_load(t, e);
    tdi_gen_text_free(t);
    return rc;
}

/* Linear: v(b) = 2 V * 3k / 4k = 1.5 V; g1 injects 1 mS * v(b) into c over 2k: v(c) = 3 V;
 * vh holds x at its dc value, ra from a: i(vh) (into its + terminal, x) = (2 - vdc) / 4k. */
static void test_linear(void)
{
    tdi_err e = {0};
    int rc = load("* linear\nv1 a 0 dc 2\nr1 a b 1k\nr2 b 0 3k\ng1 0 c b 0 1e-3\nr3 c 0 2k\n"
                  "ra a x 4k\nvh x 0 dc 0\n.end", &e);
    tdi_check_ok(rc, &e, "linear deck loads");
    tdi_check_ok(tdi_cosim_ng_cmd("op", &e), &e, "linear op");
    double vb = 0, vc = 0, ih = 0;
    tdi_check_ok(tdi_cosim_ng_real("v(b)", &vb, &e), &e, "read v(b)");
    tdi_check_ok(tdi_cosim_ng_real("v(c)", &vc, &e), &e, "read v(c)");
    tdi_check_ok(tdi_cosim_ng_real("i(vh)", &ih, &e), &e, "read i(vh)");
    /* ngspice solves to its reltol 1e-3 but a linear circuit converges in one Newton step to
       rounding: 1e-12 relative */
    tdi_check_rel(vb, 1.5, 1e-12, "v(b) = 2 V * 3k / 4k");
    tdi_check_rel(vc, 3.0, 1e-12, "v(c) = 1 mS * 1.5 V * 2k");
    tdi_check_rel(ih, 2.0 / 4e3, 1e-12, "i(vh) = current into vh's + terminal, 2 V / 4k");
    tdi_check_ok(tdi_cosim_ng_cmd("alter vh dc=1", &e), &e, "alter vh dc=1");
    tdi_check_ok(tdi_cosim_ng_cmd("op", &e), &e, "op after alter");
    tdi_check_ok(tdi_cosim_ng_real("i(vh)", &ih, &e), &e, "read i(vh) after alter");
    tdi_check_rel(ih, 1.0 / 4e3, 1e-12, "i(vh) after alter = (2 - 1) V / 4k");
    double *v = NULL;
    size_t n = 0;
    tdi_check_ok(tdi_cosim_ng_vector("v(c)", &v, &n, &e), &e, "vector v(c)");
    tdi_check_int((long long)n, 1, "an op vector has one value");
    tdi_check_rel(n ? v[0] : NAN, 3.0, 1e-12, "vector v(c)[0]");
    free(v);
    rc = tdi_cosim_ng_real("nosuch", &vb, &e);
    tdi_check_int(rc, TDI_ESPICE, "unknown vector: TDI_ESPICE");
    tdi_check_contains(e.msg, "nosuch", "unknown vector: the message names it");
}

/* BSIM4 on its default parameters (docs/ngspice.md section 6): @m1[gm] at vgs = 0.9 V against
 * (id(vgs + h) - id(vgs - h)) / 2h, read through the drain source's current. */
static void test_mos_gm(void)
{
    tdi_err e = {0};
    int rc = load("* one nmos\n.model nm nmos level=54 version=4.8.2\nvdd vdd 0 dc 1.8\n"
                  "vg g 0 dc 0.9\nm1 d g 0 0 nm w=1u l=1u\nvh d vdd dc 0\n.end", &e);
    tdi_check_ok(rc, &e, "bsim4 deck loads");
    tdi_check_ok(tdi_cosim_ng_cmd("op", &e), &e, "bsim4 op");
    double gm = 0, id = 0, ih = 0, ip = 0, im = 0, h = 1e-3;
    tdi_check_ok(tdi_cosim_ng_real("@m1[gm]", &gm, &e), &e, "read @m1[gm]");
    tdi_check_ok(tdi_cosim_ng_real("@m1[id]", &id, &e), &e, "read @m1[id]");
    tdi_check_ok(tdi_cosim_ng_real("i(vh)", &ih, &e), &e, "read i(vh)");
    /* the drain current leaves d into the device: vh's + terminal (d) gives it, i(vh) = -id;
       ngspice's op converges to ~1e-9 relative on currents (abstol 1e-12 A on 1e-4 A) */
    tdi_check_rel(ih, -id, 1e-6, "i(vh) = -@m1[id]");
    tdi_cosim_ng_cmd("alter vg dc=0.901", &e);
    tdi_cosim_ng_cmd("op", &e);
    tdi_cosim_ng_real("i(vh)", &im, &e);
    tdi_cosim_ng_cmd("alter vg dc=0.899", &e);
    tdi_cosim_ng_cmd("op", &e);
    tdi_check_ok(tdi_cosim_ng_real("i(vh)", &ip, &e), &e, "i(vh) at vgs +- 1 mV");
    /* central difference: error (h^2 / 6) |id'''| / gm ~ (1 mV / 60 mV)^2 / 6 < 1e-4 in weak to
       moderate inversion; 1e-3 leaves room for the op's own convergence (~1e-9 A / 2 mV) */
    tdi_check_rel((ip - im) / (2 * h), gm, 1e-3, "@m1[gm] = d id / d vgs (central, 1 mV)");
    TDI_CHECK(gm > 0 && id > 0, "bsim4 device conducts");
}

static void test_errors(void)
{
    tdi_err e = {0};
    int rc = load("* subckt card\nv1 a 0 dc 1\nx1 a b tdi_nosubckt\n.end", &e);
    tdi_check_int(rc, TDI_ESPICE, "an unknown subcircuit: TDI_ESPICE");
    tdi_check_contains(e.msg, "tdi_nosubckt", "the message names the card");
    rc = load("* missing include\n.include /no/such/tdi-card.lib\nv1 a 0 dc 1\nr1 a 0 1k\n.end",
              &e);
    tdi_check_int(rc, TDI_ESPICE, "an .include that does not load: TDI_ESPICE");
    tdi_check_contains(e.msg, "/no/such/tdi-card.lib", "the message names the include file");
    rc = load("* model card\nvdd d 0 dc 1\nm1 d d 0 0 tdi_nosuch w=1u l=1u\n.end", &e);
    if (rc == 0)
        rc = tdi_cosim_ng_cmd("op", &e);
    tdi_check_int(rc, TDI_ESPICE, "a device whose model is missing: TDI_ESPICE (load or op)");
    tdi_check_contains(e.msg, "tdi_nosuch", "the message names the model");
    rc = load("* two sources in parallel\nv1 a 0 dc 1\nv2 a 0 dc 2\n.end", &e);
    if (rc == 0)
        rc = tdi_cosim_ng_cmd("op", &e);
    tdi_check_int(rc, TDI_ESPICE, "an op that cannot be solved: TDI_ESPICE");
    tdi_check_contains(e.msg, "op", "the message is ngspice's op failure");
    rc = load("* fine\nv1 a 0 dc 1\nr1 a 0 1k\n.end", &e);
    tdi_check_ok(rc, &e, "a good deck loads after failed ones");
    rc = tdi_cosim_ng_cmd("tdi_nosuchcommand", &e);
    tdi_check_int(rc, TDI_ESPICE, "an unknown command: TDI_ESPICE");
    tdi_cosim_ng_unload();
    rc = tdi_cosim_ng_cmd("op", &e);
    tdi_check_int(rc, TDI_EARG, "a command with no deck loaded: TDI_EARG");
}

/* The spice engine in the same process between two op decks: its numbers do not depend on the
 * adapter (test_cosim_engines checks them), and the adapter still works after it. */
static const double *zero_bias(void *user, long k)
{
    (void)k;
    return user;
}

static int on_tick(void *user, long k, double t, const double *v, const double *ib)
{
    (void)user;
    (void)k;
    (void)t;
    (void)v;
    (void)ib;
    return 0;
}

static void test_with_engine(void)
{
    tdi_err e = {0};
    tdi_check_ok(load("* before\nv1 a 0 dc 1\nr1 a 0 1k\n.end", &e), &e, "deck before a run");
    double M[4] = {2, -0.5, -0.5, 2};
    tdi_cosim_circuit *c = tdi_cosim_circuit_direct(2, M, 1e-12, 1e-6, 300, &e);
    tdi_cosim_noise nz = {0};
    tdi_check_ok(c ? tdi_cosim_noise_init(&nz, c, 1e-8, 1, 1, &e) : -1, &e, "circuit + noise");
    double ib[2] = {0, 0};
    tdi_cosim_digital dg = {1e-8, 20, zero_bias, on_tick, ib};
    tdi_cosim_stats st;
    tdi_check_ok(tdi_cosim_spice_run(c, &nz, &dg, &st, &e), &e, "spice run between op decks");
    tdi_check_int(st.ticks_hit, 21, "the run hit every tick");
    double i1 = 0;
    tdi_check_ok(tdi_cosim_ng_cmd("op", &e), &e, "op on the deck loaded before the run");
    tdi_check_ok(tdi_cosim_ng_real("i(v1)", &i1, &e), &e, "read i(v1)");
    tdi_check_rel(i1, -1e-3, 1e-12, "i(v1) = -1 V / 1k (current into + from the resistor)");
    tdi_cosim_ng_unload();
    tdi_cosim_noise_destroy(&nz);
    tdi_cosim_circuit_free(c);
}

int main(void)
{
    test_linear();
    test_mos_gm();
    test_errors();
    test_with_engine();
    TDI_TEST_END();
}
