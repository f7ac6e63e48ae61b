/* tdi_sub_levels: tdi-fit's several-levels mode (substrate.levels_D / levels_k, skip mode): each
 * skip level e<l>/d<l> fitted as one pair by tdi_sub_run (its tables printed, its bundle in
 * <out>/level-e<l>/substrate), then one substrate of all levels (tdi_bundle_stack) written to
 * <out>/substrate: modules e1 e2 .. then d1 d2 .., a rank-k_l coupling per level.
 * Non-goals: coupling the levels to each other; paper mode (one level's interface networks). */
#include "tdi_sub.h"

#include <stdio.h>
#include <string.h>

#include "tdi_bundle.h"

/* the config of level l (1-based layer names), writing under <out>/level-e<l> */
static int level_cfg(const tdi_sub_cfg *cfg, size_t l, tdi_sub_cfg *c, tdi_err *err)
{
    *c = *cfg;
    c->n_levels = c->n_levels_k = 0;
    snprintf(c->enc, sizeof c->enc, "e%zu", l + 1);
    snprintf(c->dec, sizeof c->dec, "d%zu", l + 1);
    c->D = cfg->levels_D[l];
    c->k = cfg->levels_k[l];
    if ((size_t)snprintf(c->out, sizeof c->out, "%s/level-e%zu", cfg->out, l + 1) >=
        sizeof c->out)
        return tdi_err_set(err, TDI_ECONFIG, "%s: out '%s' too long for the level directories",
                           cfg->path, cfg->out);
    return 0;
}

int tdi_sub_run_levels(const tdi_sub_cfg *cfg, FILE *report, tdi_err *err)
{
    if (cfg->n_levels == 0)
        return tdi_sub_run(cfg, report, err);
    size_t L = cfg->n_levels;
    tdi_bundle lv[TDI_SUB_MAXLEVELS], st;
    char names[2 * TDI_SUB_MAXLEVELS][8], dir[600];
    const char *np[2 * TDI_SUB_MAXLEVELS];
    memset(lv, 0, sizeof lv);
    int rc = 0;
    for (size_t l = 0; l < L && !rc; l++) {
        tdi_sub_cfg c;
        if (report)
            fprintf(report, "==== level %zu: e%zu -> d%zu, D = %ld, k = %ld\n", l + 1, l + 1, l + 1,
                    cfg->levels_D[l], cfg->levels_k[l]);
        if ((rc = level_cfg(cfg, l, &c, err)) || (rc = tdi_sub_run(&c, report, err)))
            break;
        snprintf(dir, sizeof dir, "%s/substrate", c.out);
        rc = tdi_bundle_read(dir, TDI_BUNDLE_WANT_DATA, &lv[l], err);
        snprintf(names[2 * l], sizeof names[0], "%s", c.enc);
        snprintf(names[2 * l + 1], sizeof names[0], "%s", c.dec);
        np[2 * l] = names[2 * l];
        np[2 * l + 1] = names[2 * l + 1];
    }
    if (!rc && !(rc = tdi_bundle_stack(lv, L, np, cfg->name, &st, err))) {
        snprintf(dir, sizeof dir, "%s/substrate", cfg->out);
        rc = tdi_bundle_write(dir, &st, err);
        if (!rc && report)
            fprintf(report, "levels: %zu in one substrate %s (N = %zu units, read-out block %zu "
                    "units)\n", L, dir, st.N, st.D_out);
        tdi_bundle_destroy(&st);
    }
    for (size_t l = 0; l < L; l++)
        tdi_bundle_destroy(&lv[l]);
    return rc;
}
