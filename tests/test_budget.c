/* test_budget: the wire-budget chooser (tools/sweep/tdi_sweep_budget.c) on a hand-made
 * end-to-end table (the columns of tdi-unet e2e's table.csv) whose optimum is known by hand:
 * eps0 = 0.04; e1: k 1, 2, 4 at 100, 200, 400 wires and eps 0.50, 0.30, 0.10, mean 0.90 (no
 * wires); e2: k 1, 2, 4 at 300, 400, 600 wires and eps 0.06, 0.05, 0.045, mean 0.08. Predicted
 * eps of (k_e1, k_e2) = eps0 + (eps_e1 - eps0) + (eps_e2 - eps0). Scratch: build/test-budget/. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_sweep.h"
#include "tdi_test.h"

#define SCR "build/test-budget"

static const char *const TABLE =
    "level,config,k,wires_mux,wires_rep,engine,eps_mse_all,eps_mse_t0,n_images,seed\n"
    "all,unmodified,0,0,0,digital,0.04,0.1,10,1\n"
    "e1,substrate,1,100,1000,analytic,0.50,0.1,10,1\n"
    "e1,substrate,2,200,2000,analytic,0.30,0.1,10,1\n"
    "e1,substrate,4,400,4000,analytic,0.10,0.1,10,1\n"
    "e1,pca,4,400,4000,ideal,0.01,0.1,10,1\n"
    "e1,mean,0,0,0,digital,0.90,0.1,10,1\n"
    "e1,zero,0,0,0,digital,2.00,0.1,10,1\n"
    "e2,substrate,1,300,3000,analytic,0.06,0.1,10,1\n"
    "e2,substrate,2,400,4000,analytic,0.05,0.1,10,1\n"
    "e2,substrate,4,600,6000,analytic,0.045,0.1,10,1\n"
    "e2,substrate,4,600,6000,sde,0.001,0.1,10,1\n"
    "e2,mean,0,0,0,digital,0.08,0.1,10,1\n"
    "all,substrate,2,600,6000,analytic,0.33,0.1,10,1\n";

/* the chosen k per level at budget W ("-" when nothing fits) */
static void pick(const tdi_sweep_budget *b, double W, long *k1, long *k2, double *eps)
{
    size_t p[TDI_SWEEP_BUDGET_MAXLV];
    *k1 = *k2 = -1;
    *eps = NAN;
    if (!tdi_sweep_budget_choose(b, W, p))
        return;
    *k1 = b->opt[0][p[0]].k;
    *k2 = b->opt[1][p[1]].k;
    *eps = tdi_sweep_budget_predict(b, p);
}

int main(void)
{
    if (system("rm -rf " SCR " && mkdir -p " SCR) != 0)
        return 1;
    tdi_test_write(SCR "/table.csv", TABLE);
    tdi_sweep_budget b;
    tdi_err e;
    if (!tdi_check_ok(tdi_sweep_budget_read(SCR "/table.csv", "wires_mux", &b, &e), &e,
                      "hand-made table reads"))
        TDI_TEST_END();
    tdi_check_int((long long)(b.n_lv * 100 + b.n_opt[0] * 10 + b.n_opt[1]), 244,
                  "2 levels, 4 options each (100 levels + 10 e1 + e2: pca, zero, sde rows out)");
    tdi_check_near(b.eps0, 0.04, 0, "eps0 from the unmodified row");
    tdi_check_int((long long)b.n_eq, 1, "one equal-k row (all, substrate)");
    long k1, k2;
    double eps;
    /* W = 800: (4, 2) at 800 wires, 0.04 + 0.06 + 0.01 = 0.11; the runner-up (4, 1) at 700
       wires gives 0.12, (2, 4) 0.305 */
    pick(&b, 800, &k1, &k2, &eps);
    tdi_check_int(k1 * 10 + k2, 42, "W = 800: e1 k 4, e2 k 2 (10 k_e1 + k_e2)");
    tdi_check_near(eps, 0.11, 1e-15, "W = 800: predicted eps 0.11 (sums of 3 decimals)");
    /* W = 699: e2's cheapest substrate (300) no longer fits beside e1 k 4, so e2 takes the mean
       row: 0.04 + 0.06 + 0.04 = 0.14 beats (2, 1) at 0.32 */
    pick(&b, 699, &k1, &k2, &eps);
    tdi_check_int(k1 * 10 + k2, 40, "W = 699: e1 k 4, e2 mean (k 0)");
    tdi_check_near(eps, 0.14, 1e-15, "W = 699: predicted eps 0.14");
    /* W = 50: only the mean rows fit (0 wires): 0.04 + 0.86 + 0.04 */
    pick(&b, 50, &k1, &k2, &eps);
    tdi_check_int(k1 * 10 + k2, 0, "W = 50: both levels the mean row");
    tdi_check_near(eps, 0.94, 1e-15, "W = 50: predicted eps 0.94");
    /* negative: no budget fits when a level has no zero-wire option (mean rows removed) */
    tdi_sweep_budget nb = b;
    nb.opt[0][3] = nb.opt[0][0]; /* overwrite e1's mean (k 0, the 4th option) by k 1 */
    tdi_check_int(tdi_sweep_budget_choose(&nb, 50, (size_t[4]){0}), 0,
                  "W = 50 without e1's mean row: nothing fits");
    /* a table without the wires column is refused, naming the file and the column */
    tdi_test_write(SCR "/bad.csv", "level,config,k,engine,eps_mse_all\nall,unmodified,0,d,1\n");
    int rc = tdi_sweep_budget_read(SCR "/bad.csv", "wires_mux", &b, &e);
    TDI_CHECK(rc != 0, "table without wires_mux refused");
    tdi_check_contains(e.msg, "bad.csv: no column 'wires_mux'", "message names file and column");
    TDI_TEST_END();
}
