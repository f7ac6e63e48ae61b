/* tdi_sub_check: `tdi-fit --check DIR`, what an outside user runs on a bundle they wrote
 * (docs/formats.md, "Checking a bundle"). Reads DIR with the same readers tdi-fit and tdi-gen
 * use, so it refuses exactly what they refuse, and prints what it found: layers, shapes, dtypes,
 * modules, couplings, the smallest eigenvalue of M, hashes. Non-goal: repairing anything. */
#include "tdi_sub.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tdi_bundle.h"
#include "tdi_io.h"
#include "tdi_linalg.h"

static int path_is(const char *dir, const char *name, int want_dir)
{
    char p[1100];
    struct stat st;
    if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, name) >= sizeof p || stat(p, &st) != 0)
        return 0;
    return want_dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode);
}

static void print_modules(const tdi_bundle *b, FILE *out)
{
    for (size_t m = 0; m < b->n_mod; m++)
        fprintf(out, "  module %-6s D = %zu, layer %s%s\n", b->mod[m].name, b->mod[m].D,
                b->mod[m].layer[0] ? b->mod[m].layer : "(none)",
                b->mod[m].readout ? ", read out" : "");
    for (size_t c = 0; c < b->n_cpl; c++) {
        const tdi_bundle_coupling *k = &b->cpl[c];
        if (k->dense)
            fprintf(out, "  coupling %s -> %s dense\n", b->mod[k->from].name, b->mod[k->to].name);
        else
            fprintf(out, "  coupling %s -> %s rank %zu\n", b->mod[k->from].name,
                    b->mod[k->to].name, k->k);
    }
}

/* An optional array set: absent is said, present is read in full (a broken one is an error). */
static int check_extra(tdi_bundle *b, unsigned want, const char *probe, const char *what,
                       FILE *out, tdi_err *err)
{
    if (!path_is(b->dir, probe, 0)) {
        fprintf(out, "  %s: not present\n", what);
        return 0;
    }
    int rc = tdi_bundle_read_extra(b, want, err);
    if (!rc)
        fprintf(out, "  %s: present, shapes and values checked\n", what);
    return rc;
}

/* M positive definite (what every engine needs): its smallest eigenvalue, or the error. */
static int check_pd(const tdi_bundle *b, FILE *out, tdi_err *err)
{
    double *L = malloc(b->N * b->N * sizeof *L), lmin = 0;
    if (!L)
        return tdi_err_set(err, TDI_ENOMEM, "%s: out of memory", b->dir);
    char what[600];
    snprintf(what, sizeof what, "%s/M.npy", b->dir);
    int rc = tdi_linalg_chol(b->M, b->N, L, what, 1, &lmin, err);
    free(L);
    if (!rc)
        fprintf(out, "  M (%zu x %zu): symmetric, blocks as stated, positive definite "
                "(smallest eigenvalue %.6g)\n", b->N, b->N, lmin);
    return rc;
}

static int check_substrate(const char *dir, FILE *out, tdi_err *err)
{
    tdi_bundle b;
    int rc = tdi_bundle_read(dir, 0, &b, err);
    if (rc)
        return rc;
    fprintf(out, "%s: substrate bundle, format version %ld%s, preset %s, mode %s, %zu modules, "
            "%zu couplings, N = %zu units, n = %zu test samples\n", dir, b.version,
            b.version < TDI_BUNDLE_VERSION ? " (upgraded on read)" : "", b.preset, b.mode,
            b.n_mod, b.n_cpl, b.N, b.n);
    print_modules(&b, out);
    rc = check_pd(&b, out, err);
    if (!rc)
        rc = check_extra(&b, TDI_BUNDLE_WANT_DATA, "x.npy", "co-simulation data (x, truth, "
                         "mean_fit, gain)", out, err);
    if (!rc)
        rc = check_extra(&b, TDI_BUNDLE_WANT_IFACE, "enc_w1.npy", "paper interface (8 arrays)",
                         out, err);
    if (!rc) {
        char hex[17];
        tdi_hash_hex(b.hash, hex);
        fprintf(out, "  hash %s (FNV-1a 64 over the manifest and the substrate arrays)\n", hex);
    }
    tdi_bundle_destroy(&b);
    return rc;
}

/* An export directory: both splits, each an activation bundle. */
static int check_export(const char *dir, FILE *out, tdi_err *err)
{
    static const char *const splits[2] = {"activations-fit", "activations-test"};
    for (int i = 0; i < 2; i++) {
        char sub[1100];
        if ((size_t)snprintf(sub, sizeof sub, "%s/%s", dir, splits[i]) >= sizeof sub)
            return tdi_err_set(err, TDI_EARG, "%s: path too long", dir);
        if (!path_is(dir, splits[i], 1))
            return tdi_err_set(err, TDI_EFORMAT, "%s: missing (tdi-fit reads both %s/ and "
                               "%s/)", sub, splits[0], splits[1]);
        int rc = tdi_sub_act_check(sub, out, err);
        if (rc)
            return rc;
    }
    return 0;
}

int tdi_sub_check(const char *dir, FILE *out, tdi_err *err)
{
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return tdi_err_set(err, TDI_EARG, "%s: not a directory", dir);
    if (path_is(dir, "M.npy", 0))
        return check_substrate(dir, out, err);
    if (path_is(dir, "activations-fit", 1) || path_is(dir, "activations-test", 1))
        return check_export(dir, out, err);
    if (path_is(dir, "manifest.yaml", 0))
        return tdi_sub_act_check(dir, out, err);
    return tdi_err_set(err, TDI_EFORMAT, "%s: neither a substrate bundle (M.npy), an activation "
                       "bundle (manifest.yaml) nor an export directory (activations-fit/, "
                       "activations-test/)", dir);
}
