/* tdi_cosim_load: the co-simulator's load stage. Reads a substrate bundle through the one reader
 * (common/tdi_bundle.h, via the generator's view) with the arrays the job needs besides the
 * substrate, checked against the substrate's sizes, and hands them to the job. The job takes
 * the U-Net levels' shape (tdi_gen_bundle_levels: two modules, or the encoders and decoders of
 * several skip levels); paper mode one level (its interface networks are one level's).
 * Non-goals: the format itself (tdi_bundle), the digital interface's arithmetic (the job). */
#include <string.h>

#include "tdi_bundle.h"
#include "tdi_cosim.h"
#include "tdi_gen.h"

int tdi_cosim_load(const char *dir, tdi_gen_bundle *b, tdi_err *err)
{
    int rc = tdi_gen_bundle_read(dir, b, err);
    if (rc)
        return rc;
    size_t L = tdi_gen_bundle_levels(b), skip = strcmp(b->mode, "skip") == 0;
    if (L == 0 || (L > 1 && !skip))
        rc = tdi_err_set(err, TDI_EFORMAT, "%s: %zu modules, %zu couplings (mode %s): the "
                         "tdi-cosim job (its digital interface) needs U-Net levels: L encoders "
                         "then their L read-out decoders of equal sizes, each level at most one "
                         "low-rank coupling from its encoder to its decoder, several levels only "
                         "in skip mode", dir, b->sub.n_mod, b->sub.n_cpl, b->mode);
    else if ((rc = tdi_bundle_read_extra(&b->sub, TDI_BUNDLE_WANT_DATA, err)))
        ;
    else if (b->sub.x_cols != b->sub.N - b->D)
        rc = tdi_err_set(err, TDI_EFORMAT, "%s/x.npy: %zu columns, the encoder modules have %zu "
                         "units", dir, b->sub.x_cols, b->sub.N - b->D);
    else if (!skip)
        rc = tdi_bundle_read_extra(&b->sub, TDI_BUNDLE_WANT_IFACE, err);
    if (rc)
        tdi_gen_bundle_destroy(b);
    return rc;
}

void tdi_cosim_load_take(tdi_gen_bundle *b, double **const own[12])
{
    double **from[12] = {&b->sub.x, &b->sub.truth, &b->sub.mean_fit, &b->sub.gain};
    for (size_t i = 0; i < TDI_BUNDLE_NIFACE; i++)
        from[4 + i] = &b->sub.iface[i];
    for (size_t i = 0; i < 12; i++) {
        *own[i] = *from[i];
        *from[i] = NULL;
    }
}
