/* test_sweep_pareto: the frontier on hand-made rows. The Pareto set (dominated, equal and NaN
 * points), the cheapest point meeting a target (ties, none), the results reader (quoted fields,
 * analytic and failed rows left out), the report, and the frontier figure (written by gnuplot;
 * no CSV text in its script). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tdi_io.h"
#include "tdi_sweep.h"
#include "tdi_test.h"

#define SCR "build/test-sweep-pareto"

static void test_set(void)
{
    /* fid, energy (J), time (s) */
    const tdi_sweep_point p[7] = {
        {0, 0.90, 1e-8, 1e-4},   /* A: on */
        {1, 0.80, 5e-9, 1e-4},   /* B: on (cheaper than A) */
        {2, 0.70, 6e-9, 2e-4},   /* C: off, B is better in all three */
        {3, 0.95, 1e-7, 5e-5},   /* D: on (best fidelity and time) */
        {4, 0.90, 1e-8, 1e-4},   /* E: equal to A: both on */
        {5, NAN, 1e-10, 1e-6},   /* F: NaN fidelity: never on */
        {6, 0.50, 1e-9, 1e-3}};  /* G: on (cheapest) */
    const unsigned char want[7] = {1, 1, 0, 1, 1, 0, 1};
    unsigned char on[7];
    tdi_sweep_pareto(p, 7, on);
    for (int i = 0; i < 7; i++) {
        char nm[64];
        snprintf(nm, sizeof nm, "Pareto set: point %c", 'A' + i);
        tdi_check_int(on[i], want[i], nm);
    }
    /* target 0.85: A, D, E qualify; A and E tie on energy and time and fidelity: the earlier */
    tdi_check_int(tdi_sweep_cheapest(p, 7, 0.85), 0, "cheapest with fid >= 0.85: A");
    tdi_check_int(tdi_sweep_cheapest(p, 7, 0.6), 1, "cheapest with fid >= 0.6: B");
    tdi_check_int(tdi_sweep_cheapest(p, 7, 0.0), 6, "cheapest with fid >= 0: G (NaN F skipped)");
    tdi_check_int(tdi_sweep_cheapest(p, 7, 0.96), -1, "nothing reaches 0.96: -1");
    /* energies within the 1e-3 tolerance count as equal: the better fidelity wins */
    const tdi_sweep_point r[2] = {{0, 0.6, 1.0e-8, 1e-4}, {1, 0.1, 0.9999e-8, 1e-4}};
    tdi_sweep_pareto(r, 2, on);
    TDI_CHECK(on[0] == 1 && on[1] == 0, "Pareto: 1e-4 less energy does not keep a worse point");
    tdi_check_int(tdi_sweep_cheapest(r, 2, 0.0), 0, "cheapest: within the tolerance, the better "
                  "fidelity");
    const tdi_sweep_point q[2] = {{0, 0.9, 1e-8, 2e-4}, {1, 0.8, 1e-8, 1e-4}};
    tdi_check_int(tdi_sweep_cheapest(q, 2, 0.5), 1, "equal energy: the faster point");
}

static const char *csv =
    "job,theta,avg_relax,readout_stage,status,engine,cos_centered,r2,E_total_J,time_to_solution_s,"
    "E_digeq_J,gpu_step_J,gpu_part_J,note\n"
    "0,1,10,none,ok,analytic,0.99,0.98,1e-12,1e-6,1.6e-7,0.052,0.016,\n"
    "1,1,10,none,ok,sde,0.05,-41,6.5e-8,9e-5,1.6e-7,0.052,0.016,\n"
    "2,1e-4,10,none,ok,sde,0.58,0.52,2.1e-8,9e-5,1.6e-7,0.052,0.016,\"a, \"\"quoted\"\" note\"\n"
    "3,1e-4,1,rc,ok,sde,0.40,0.30,4e-9,4e-5,1.6e-7,0.052,0.016,\n"
    "4,1e-6,10,none,failed,sde,nan,nan,nan,nan,nan,nan,nan,not positive definite\n"
    "5,1e-6,100,none,ok,sde,0.587,0.527,1.9e-7,6e-4,1.6e-7,0.052,0.016,\n";

static void test_table_report(void)
{
    tdi_err err;
    tdi_mkdirs(SCR, &err);
    tdi_atomic_write_text(SCR "/results.csv", csv, &err);
    tdi_sweep_table t;
    int rc = tdi_sweep_table_read(SCR "/results.csv", &t, &err);
    tdi_check_int(rc, 0, "reader: hand results file");
    if (rc)
        return;
    tdi_check_int((long long)t.nrow, 6, "reader: 6 rows");
    int cn = tdi_sweep_table_col(&t, "note");
    TDI_CHECK(cn >= 0 && strcmp(t.cell[2 * t.ncol + (size_t)cn], "a, \"quoted\" note") == 0,
              "reader: quoted field with a comma and doubled quotes");
    tdi_sweep_point *p = NULL;
    size_t n = 0;
    rc = tdi_sweep_points(&t, "cos_centered", &p, &n, &err);
    tdi_check_int(rc, 0, "points: read");
    tdi_check_int((long long)n, 4, "points: the ok rows of circuit engines (not analytic, "
                                   "not failed)");
    free(p);
    tdi_check_int(tdi_sweep_points(&t, "cos_paper", &p, &n, &err), TDI_EARG,
                  "points: an unknown metric is refused");
    free(p);
    tdi_sweep_table_destroy(&t);

    FILE *f = fopen(SCR "/report.txt", "w");
    rc = tdi_sweep_frontier_report(SCR "/results.csv", "cos_centered", 0.5, f, &err);
    fclose(f);
    tdi_check_int(rc, 0, "report with a reachable target");
    char *txt = tdi_test_slurp(SCR "/report.txt");
    /* on the set: jobs 3 (cheapest, fastest), 2, 5 (best); job 1 is dominated by job 2 */
    tdi_check_contains(txt, "3 on the Pareto set", "report: the set's size");
    tdi_check_contains(txt, "cheapest point with cos_centered >= 0.5: job 2 ",
                       "report: cheapest point meeting 0.5 is job 2");
    free(txt);
    f = fopen(SCR "/report2.txt", "w");
    rc = tdi_sweep_frontier_report(SCR "/results.csv", "r2", 0.9, f, &err);
    fclose(f);
    tdi_check_int(rc, TDI_ENUM, "report: an unmet target is TDI_ENUM");
    tdi_check_contains(err.msg, "r2 >= 0.9", "report: the message names the target");
}

static void test_plot(void)
{
    tdi_err err;
    int rc = tdi_sweep_frontier_plot(SCR "/results.csv", "cos_centered", SCR "/fig", NULL,
                                     &err);
    tdi_check_ok(rc, &err, "frontier figure drawn");
    struct stat sb;
    TDI_CHECK(stat(SCR "/fig/frontier.png", &sb) == 0 && sb.st_size > 1000,
              "frontier.png written");
    char *gp = tdi_test_slurp(SCR "/fig/frontier.gp");
    TDI_CHECK(gp && !strstr(gp, "quoted") && !strstr(gp, "positive definite"),
              "no text of the results file in the gnuplot script");
    tdi_check_contains(gp, "1.6e-07", "script: the digital-equivalent line at its energy");
    free(gp);
    char *dat = tdi_test_slurp(SCR "/fig/frontier.dat");
    /* 4 points + comment line; the theta = 1 sde row is marked */
    tdi_check_contains(dat, "6.5e-08 0.05 0 1 10 0", "data: the theta = 1 point, marked");
    tdi_check_contains(dat, "4e-09 0.4 1 0 1 1", "data: the readout_stage rc point, marked");
    free(dat);
}

int main(void)
{
    test_set();
    test_table_report();
    test_plot();
    TDI_TEST_END();
}
