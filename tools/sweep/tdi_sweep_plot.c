/* tdi_sweep_plot: placeholder */
#include "tdi_sweep.h"
int tdi_sweep_plot(const char *csv, const char *outdir, FILE *log, tdi_err *err)
{
    (void)csv; (void)outdir; (void)log;
    return tdi_err_set(err, TDI_EARG, "not yet");
}
