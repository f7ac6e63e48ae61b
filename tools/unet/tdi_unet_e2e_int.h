/* tdi_unet_e2e_int: what the e2e job's files share (tdi_unet_e2e.c: data and passes;
 * tdi_unet_e2e_run.c: levels, table, plots). Not a public interface. */
#ifndef TDI_UNET_E2E_INT_H
#define TDI_UNET_E2E_INT_H

#include <stddef.h>

#include "tdi_err.h"
#include "tdi_unet.h"
#include "tdi_unet_cfg.h"
#include "tdi_unet_data.h"
#include "tdi_unet_e2e.h"

#define E2E_BATCH 50 /* images per forward (memory: ~4 MB each at C = 32) */
#define TDI_UNET_E2E_NB 4 /* t buckets of tdi-unet eval: [0,100) [100,300) [300,600) [600,1000) */

/* The test images of the table with tdi-unet eval's t and noise. */
typedef struct e2e_test {
    size_t n;
    float *xt, *eps; /* (n, 1024) */
    float *tf;       /* (n) */
    long *tl;        /* (n) */
} e2e_test;

typedef struct e2e_mse {
    double mse[TDI_UNET_E2E_NB], all;
    long n[TDI_UNET_E2E_NB];
    size_t images;
} e2e_mse;

int e2e_test_make(const tdi_unet_config *uc, const tdi_unet_dataset *ds, size_t n,
                  const double *abar, e2e_test *te, tdi_err *err);
void e2e_test_destroy(e2e_test *te);
/* epsilon-MSE of m on te with substrate skips s0 (e1) and s1 (e2) (NULL: digital skip) */
void e2e_eval(tdi_unet *m, const e2e_test *te, const tdi_unet_sskip *s0,
              const tdi_unet_sskip *s1, e2e_mse *r);
int e2e_collect_fit(const tdi_unet_e2e_cfg *c, tdi_unet *m, const tdi_unet_dataset *ds,
                    const double *abar, size_t T, double *X[2], size_t *nrow, tdi_err *err);
int e2e_collect_bundle(tdi_unet *m, const e2e_test *te, size_t nb, double *Xb[2],
                       tdi_err *err);

/* PNG figures of <dir>/table.csv: eps-MSE against k and against the wires (gnuplot). */
int e2e_plots(const char *dir, FILE *log, tdi_err *err);

#endif
