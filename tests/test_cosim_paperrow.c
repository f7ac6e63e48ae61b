/* test_cosim_paperrow: the paper's kT = 1 row beside an operating point with the analog read-out
 * stage (circuit.readout_stage: rc). The row's circuit then has 3D units: its biases, its
 * equilibria and its read-out are the stage's, as in the main job (this job overran a 2D buffer
 * and aborted before the row shared the job's plan and full-scale rules). A synthetic bundle
 * (D = 6); no spice. Runs from the repository root (tests/run.sh does). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_cosim.h"
#include "tdi_io.h"
#include "tdi_test.h"

#define SCR "build/test-cosim-paperrow"

int main(void)
{
    tdi_err err = {0};
    char dir[200], path[300], txt[1024];
    snprintf(dir, sizeof dir, "%s/substrate", SCR);
    tdi_mkdirs(SCR, &err);
    if (!TDI_CHECK(tdi_cosim_synth_bundle(dir, 6, 2, 12, 5, 0, 0.0, &err) == 0,
                   "synthetic bundle (D 6, k 2, 12 samples)")) {
        printf("  %s\n", err.msg);
        TDI_TEST_END();
    }
    snprintf(path, sizeof path, "%s.yaml", SCR);
    snprintf(txt, sizeof txt, "seed: 3\nname: t\nout: %s\ncircuit:\n  target_noise_ratio: 0.05\n"
             "  v_swing: 0.3\n  samples: [0]\n  readout_stage: rc\ncosim:\n  n_samples: 12\n"
             "  spice: false\n  progress: false\n  paper_row: true\n  paper_row_samples: 8\n",
             SCR);
    tdi_check_int(tdi_atomic_write_text(path, txt, NULL), 0, "config written");
    tdi_cosim_cfg cfg;
    tdi_check_int(tdi_cosim_cfg_load(path, &cfg, &err), 0, "config loads");
    int rc = tdi_cosim_app_run(&cfg, NULL, &err);
    if (!tdi_check_int(rc, 0, "job with the read-out stage and the paper's row runs")) {
        printf("  %s\n", err.msg);
        TDI_TEST_END();
    }
    char *js = NULL;
    size_t nj;
    snprintf(path, sizeof path, "%s/cosim/results.json", SCR);
    if (!TDI_CHECK(tdi_file_read_all(path, &js, &nj, &err) == 0, "results.json read"))
        TDI_TEST_END();
    TDI_CHECK(tdi_test_json_str_is(js, "readout.kind", "analog_rc"),
              "the job reads out through the stage");
    TDI_CHECK(tdi_test_json_has(js, "paper_kT1"), "the paper's kT = 1 row is in results.json");
    tdi_check_near(tdi_test_json_num(js, "paper_kT1.theta"), 1.0, 1e-12,
                   "... at theta = 1");
    tdi_check_int((long long)tdi_test_json_num(js, "paper_kT1.samples"), 8,
                  "... on paper_row_samples = 8");
    /* the stage's timing: a settling time, then one tick (one conversion) per sample, as the
       job's: the same time to solution */
    double t_row = tdi_test_json_num(js, "paper_kT1.time_to_solution_s");
    double t_job = tdi_test_json_num(js, "timing.time_to_solution_s");
    tdi_check_rel(t_row, t_job, 1e-5,
                  "... with the stage timing of the job (settle, then one tick)");
    double cp = tdi_test_json_num(js, "paper_kT1.cos_paper");
    TDI_CHECK(isfinite(cp) && cp > -1 && cp <= 1, "... and a finite cosine");
    /* spice off: the sde-vs-spice difference is NaN in the job and null in the file (JSON has
       no NaN; it used to be written as -1) */
    TDI_CHECK(tdi_test_json_has(js, "readout.sde_vs_spice_rms_V") &&
                  isnan(tdi_test_json_num(js, "readout.sde_vs_spice_rms_V")),
              "results.json (jansson): no spice run, sde_vs_spice_rms_V is null");
    free(js);
    TDI_TEST_END();
}
