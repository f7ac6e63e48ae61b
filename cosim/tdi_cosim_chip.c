/* tdi_cosim_chip: the report of a non-ideal chip (docs/nonideal.md): its reduced matrix (from the
 * element list, no ngspice) against the design gu*M per block, its non-reciprocity
 * |G - G^T|_F / |G|_F, and the block with the largest relative error. Invariant: the blocks are
 * tdi_cosim_realised_compare's (self, intra_<module>, cpl_<a>_<b>), so a chip and a transistor
 * netlist are reported alike. Non-goals: drawing the chip (generator/tdi_gen_nonideal.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_cosim.h"
#include "tdi_gen.h"

int tdi_cosim_chip_report(const tdi_gen_circuit *c, const double *G, tdi_cosim_realised *r,
                          size_t *worst, tdi_err *err)
{
    size_t N = c->N;
    double *K = NULL;
    if (!G && c->chip) {
        G = c->chip->G;
    } else if (!G) {
        K = malloc(N * N * sizeof *K);
        if (!K)
            return tdi_err_set(err, TDI_ENOMEM, "chip report: out of memory");
        int rc = tdi_gen_circuit_reduced(c, K, err);
        if (rc) {
            free(K);
            return rc;
        }
        G = K;
    }
    int rc = tdi_cosim_realised_compare(c, G, r, err);
    free(K);
    if (rc)
        return tdi_err_prefix(err, "chip report");
    size_t w = 0;
    for (size_t b = 1; b < r->n_blk; b++)
        if (r->blk[b].rel > r->blk[w].rel)
            w = b;
    *worst = w;
    return 0;
}

void tdi_cosim_chip_print(const tdi_gen_circuit *c, const tdi_cosim_realised *r, size_t worst,
                          FILE *f)
{
    fprintf(f, "chip %ld, realised matrix from its elements (docs/nonideal.md):\n",
            c->chip ? c->chip->index : 0L);
    fprintf(f, "  |G - gu M|_F / |gu M|_F = %.4e   non-reciprocity |G - G^T|_F / |G|_F = %.4e\n",
            r->rel_fro, r->asym);
    fprintf(f, "  diagonal (G_ii - gu M_ii) / gu M_ii: mean %+.3e, rms %.3e, max |.| %.3e\n",
            r->diag_mean, r->diag_rms, r->diag_max);
    fprintf(f, "  %-24s %12s %12s %12s\n", "block", "|dG|_F (S)", "|gu M|_F (S)", "relative");
    for (size_t b = 0; b < r->n_blk; b++)
        fprintf(f, "  %-24s %12.4e %12.4e %12.4e%s\n", r->blk[b].name, r->blk[b].err_fro,
                r->blk[b].ref_fro, r->blk[b].rel, b == worst ? "  <- largest" : "");
    if (r->n_blk)
        fprintf(f, "  largest relative error: block %s (%.4e)\n", r->blk[worst].name,
                r->blk[worst].rel);
}
