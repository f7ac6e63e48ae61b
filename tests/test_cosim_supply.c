/* test_cosim_supply: the spice engine's supply measurement (cosim/tdi_cosim_spice.c) on
 * hand-written decks: a DC load on Vdd (charge = V/R times the run), a second supply feeding the
 * unit through a resistor (a decaying current against its closed form: the trapezoid over the
 * accepted points), a supply name the netlist lacks refused, and a run without supplies reporting
 * zero charge. Non-goal: the job's ledger (test_cosim_energy). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "tdi_cosim.h"
#include "tdi_test.h"
#include "tdi_test_job.h"

/* One unit u0 (C, g to ground) with extra cards appended to its direct realisation. */
static tdi_cosim_circuit *unit_with(double C, double g, const char *const *extra, tdi_err *err)
{
    double M = 1.0;
    tdi_cosim_circuit *c = tdi_cosim_circuit_direct(1, &M, C, g, 300, err);
    if (!c)
        return NULL;
    const char *l[32];
    size_t n = 0;
    for (; c->lines[n] && n < 24; n++)
        l[n] = c->lines[n];
    for (size_t i = 0; extra[i] && n < 31; i++)
        l[n++] = extra[i];
    l[n] = NULL;
    /* set_lines copies before it frees the old cards */
    if (tdi_cosim_circuit_set_lines(c, l, err)) {
        tdi_cosim_circuit_free(c);
        return NULL;
    }
    return c;
}

/* nt ticks of h with the bias ib (A) into u0 from t = 0+ (the operating point at t = 0 has
 * none), noiseless */
static int run(const tdi_cosim_circuit *c, double h, long nt, double ib, tdi_cosim_stats *st,
               tdi_err *err)
{
    const double bias[1] = {ib};
    tdi_test_rec r;
    tdi_cosim_noise nz;
    tdi_test_rec_init(&r, c->n, nt, bias);
    int rc = tdi_cosim_noise_init(&nz, c, h, 1, 0, err);
    tdi_cosim_digital dg = {h, nt, tdi_test_rec_bias, tdi_test_rec_tick, &r};
    rc = rc ? rc : tdi_cosim_spice_run(c, &nz, &dg, st, err);
    tdi_cosim_noise_destroy(&nz);
    free(r.v);
    return rc;
}

/* Vdd = 1.8 V on 1 kOhm: 1.8 mA for the whole run. Vb = 1 V through Rb = 1 MOhm into u0 (with
 * g = 1 uS = 1/Rb to ground): the operating point is v = 0.5 V; the bias ib from t = 0+ adds
 * ib/(2g) (1 - e^(-t/tau)), tau = C / (2g), so Vb delivers
 * Q = 0.5 T/Rb - (ib/(2 g Rb)) (T - tau (1 - e^(-T/tau))). The trapezoid over points at most one
 * tick h = tau/20 apart errs by at most (h^2/12) T max|i''| = (1/4800) of the decaying part's
 * scale over tau: bound 2e-4 relative. The DC load is exact to rounding (bound 1e-12). */
static void test_supply(void)
{
    const double C = 1e-12, g = 1e-6, Rb = 1e6, tau = C / (g + 1 / Rb), h = tau / 20;
    const long nt = 400;
    const char *extra[] = {"Vdd vdd 0 DC 1.8", "Rl vdd 0 1k", "Vb vb 0 DC 1.0",
                           "Rb vb u0 1Meg", NULL};
    tdi_err err = {0};
    tdi_cosim_circuit *c = unit_with(C, g, extra, &err);
    int rc = c ? tdi_cosim_circuit_add_supply(c, "VDD", 1.8, &err) : err.code;
    rc = rc ? rc : tdi_cosim_circuit_add_supply(c, "vb", 1.0, &err);
    tdi_cosim_stats st;
    const double ib = 0.5e-6;
    rc = rc ? rc : run(c, h, nt, ib, &st, &err);
    tdi_check_ok(rc, &err, "supply: spice run with two supplies");
    double T = (double)nt * h;
    double qb = 0.5 * T / Rb - ib / (2 * g * Rb) * (T - tau * (1 - exp(-T / tau)));
    tdi_check_rel(st.supply_t, T, 1e-12, "supply: integrated time = the run");
    tdi_check_rel(st.supply_q[0], 1.8e-3 * T, 1e-12, "supply: Vdd charge on a DC load");
    tdi_check_rel(st.supply_q[1], qb, 2e-4, "supply: Vb charge, decaying current (closed form)");
    TDI_CHECK(strcmp(c ? c->supply[0] : "", "vdd") == 0, "supply: name lower-cased");
    rc = c ? tdi_cosim_circuit_add_supply(c, "vdd", 1.8, &err) : -1;
    tdi_check_int(rc, TDI_EARG, "supply: a name given twice refused");
    tdi_cosim_circuit_free(c);

    /* a supply the deck lacks: the run fails naming it */
    c = unit_with(C, g, extra, &err);
    rc = c ? tdi_cosim_circuit_add_supply(c, "vnone", 1.0, &err) : err.code;
    rc = rc ? rc : run(c, h, 10, 0.0, &st, &err);
    tdi_check_int(rc, TDI_ESPICE, "supply: unknown supply refused");
    tdi_check_contains(err.msg, "'vnone'", "supply: the message names it");
    tdi_cosim_circuit_free(c);

    /* no supplies: nothing integrated (ideal circuits run as before) */
    c = unit_with(C, g, extra, &err);
    rc = c ? run(c, h, 10, 0.0, &st, &err) : err.code;
    tdi_check_ok(rc, &err, "supply: run without supplies");
    tdi_check_near(st.supply_q[0] + st.supply_t, 0.0, 0.0, "supply: none measured");
    tdi_cosim_circuit_free(c);
}

int main(void)
{
    gsl_set_error_handler_off();
    test_supply();
    TDI_TEST_END();
}
