/* tdi_bundle: reader and writer of the substrate bundle (format in docs/formats.md, "Substrate
 * bundle"; model in tdi_bundle.h). Version 2 files: manifest.yaml, M.npy, per module
 * J_<name>.npy A_<name>.npy b_<name>.npy, per coupling P_<from>_<to>.npy Q_<from>_<to>.npy (low
 * rank) or S_<from>_<to>.npy (dense), c.npy, [analytic.npy], [x truth mean_fit gain, interface].
 * Version 1 (two modules, fixed names) is read through the upgrade table below. The hash covers
 * the manifest bytes and the substrate arrays in the order read (version 1: the order of the old
 * generator reader, so old hashes and golden netlist headers are unchanged). */
#include "tdi_bundle.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_cfg.h"
#include "tdi_io.h"
#include "tdi_npy.h"

static const char *const iface_names[TDI_BUNDLE_NIFACE] = {
    "enc_w1.npy", "enc_b1.npy", "enc_w2.npy", "enc_b2.npy",
    "tr_w1.npy",  "tr_b1.npy",  "tr_w2.npy",  "tr_b2.npy"};

const char *tdi_bundle_iface_name(size_t i)
{
    return i < TDI_BUNDLE_NIFACE ? iface_names[i] : "";
}

/* enc: x -> 4 -> x_cols; transfer: x_cols -> 16 -> d_out (docs/formats.md) */
void tdi_bundle_iface_shape(size_t i, size_t x_cols, size_t d_out, size_t *rows, size_t *cols)
{
    static const size_t hid[2] = {4, 16};
    size_t h = hid[i / 4], in = x_cols, o = i / 4 ? d_out : x_cols;
    switch (i % 4) {
    case 0: *rows = h; *cols = in; break;
    case 1: *rows = h; *cols = 0; break;
    case 2: *rows = o; *cols = h; break;
    default: *rows = o; *cols = 0; break;
    }
}

void tdi_bundle_destroy(tdi_bundle *b)
{
    if (!b)
        return;
    for (size_t m = 0; m < TDI_BUNDLE_MAX_MOD; m++) {
        free(b->mod[m].J);
        free(b->mod[m].A);
        free(b->mod[m].bias);
    }
    for (size_t c = 0; c < TDI_BUNDLE_MAX_CPL; c++) {
        free(b->cpl[c].P);
        free(b->cpl[c].Q);
        free(b->cpl[c].S);
    }
    free(b->M);
    free(b->analytic);
    free(b->c);
    free(b->x);
    free(b->truth);
    free(b->mean_fit);
    free(b->gain);
    for (size_t i = 0; i < TDI_BUNDLE_NIFACE; i++)
        free(b->iface[i]);
    memset(b, 0, sizeof *b);
}

int tdi_bundle_find(const tdi_bundle *b, const char *name)
{
    for (size_t m = 0; m < b->n_mod; m++)
        if (strcmp(b->mod[m].name, name) == 0)
            return (int)m;
    return -1;
}

static int name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > TDI_BUNDLE_NAME_MAX || s[0] < 'a' || s[0] > 'z')
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
            return 0;
    return 1;
}

int tdi_bundle_layout(tdi_bundle *b, const char *what, tdi_err *err)
{
    if (b->n_mod < 1 || b->n_mod > TDI_BUNDLE_MAX_MOD || b->n_cpl > TDI_BUNDLE_MAX_CPL)
        return tdi_err_set(err, TDI_EFORMAT, "%s: %zu modules and %zu couplings (1..%d modules, "
                           "at most %d couplings)", what, b->n_mod, b->n_cpl, TDI_BUNDLE_MAX_MOD,
                           TDI_BUNDLE_MAX_CPL);
    size_t off = 0, nout = 0;
    for (size_t m = 0; m < b->n_mod; m++) {
        tdi_bundle_module *md = &b->mod[m];
        if (!name_ok(md->name))
            return tdi_err_set(err, TDI_EFORMAT, "%s: module %zu: name '%s' is not 1 to %d "
                               "characters [a-z][a-z0-9]*", what, m, md->name,
                               TDI_BUNDLE_NAME_MAX);
        if (tdi_bundle_find(b, md->name) != (int)m)
            return tdi_err_set(err, TDI_EFORMAT, "%s: module name '%s' given twice", what,
                               md->name);
        if (md->D < 1 || md->D > 1000000)
            return tdi_err_set(err, TDI_EFORMAT, "%s: module '%s': D = %zu (need 1..1000000)",
                               what, md->name, md->D);
        md->off = off;
        off += md->D;
        if (md->readout && nout > 0 && !b->mod[m - 1].readout)
            return tdi_err_set(err, TDI_EFORMAT, "%s: read-out module '%s' does not follow the "
                               "read-out module '%s' (the read-out modules must be consecutive "
                               "in z order: one read-out block)", what, md->name,
                               b->mod[b->out].name);
        if (md->readout && nout++ == 0) {
            b->out = m;
            b->D_out = 0;
        }
        if (md->readout)
            b->D_out += md->D;
    }
    if (nout < 1)
        return tdi_err_set(err, TDI_EFORMAT, "%s: no read-out module (at least one must have "
                           "readout: true)", what);
    b->n_out = nout;
    b->N = off;
    for (size_t c = 0; c < b->n_cpl; c++) {
        const tdi_bundle_coupling *cp = &b->cpl[c];
        if (cp->from >= b->n_mod || cp->to >= b->n_mod || cp->from == cp->to)
            return tdi_err_set(err, TDI_EFORMAT, "%s: coupling %zu joins modules %zu and %zu "
                               "(two different modules of %zu)", what, c, cp->from, cp->to,
                               b->n_mod);
        if (!cp->dense && cp->k > b->mod[cp->from].D && cp->k > b->mod[cp->to].D)
            return tdi_err_set(err, TDI_EFORMAT, "%s: coupling %s-%s: rank %zu exceeds both "
                               "module sizes", what, b->mod[cp->from].name,
                               b->mod[cp->to].name, cp->k);
        for (size_t e = 0; e < c; e++) {
            const tdi_bundle_coupling *q = &b->cpl[e];
            if ((q->from == cp->from && q->to == cp->to) ||
                (q->from == cp->to && q->to == cp->from))
                return tdi_err_set(err, TDI_EFORMAT, "%s: modules '%s' and '%s' are coupled "
                                   "twice (one coupling per pair)", what,
                                   b->mod[cp->from].name, b->mod[cp->to].name);
        }
    }
    return 0;
}

void tdi_bundle_block(const tdi_bundle *b, size_t c, double *S)
{
    const tdi_bundle_coupling *cp = &b->cpl[c];
    size_t r = b->mod[cp->from].D, q = b->mod[cp->to].D;
    if (cp->dense) {
        memcpy(S, cp->S, r * q * sizeof *S);
        return;
    }
    for (size_t i = 0; i < r; i++)
        for (size_t j = 0; j < q; j++) {
            double s = 0;
            for (size_t l = 0; l < cp->k; l++)
                s += cp->P[i * cp->k + l] * cp->Q[j * cp->k + l];
            S[i * q + j] = s;
        }
}

/* adds the block S (r x q) at (ro, co) and its transpose at (co, ro) */
static void put_block(double *M, size_t N, size_t ro, size_t co, size_t r, size_t q,
                      const double *S)
{
    for (size_t i = 0; i < r; i++)
        for (size_t j = 0; j < q; j++) {
            M[(ro + i) * N + co + j] = S[i * q + j];
            M[(co + j) * N + ro + i] = S[i * q + j];
        }
}

void tdi_bundle_assemble(const tdi_bundle *b, double *M)
{
    size_t N = b->N;
    memset(M, 0, N * N * sizeof *M);
    for (size_t m = 0; m < b->n_mod; m++) {
        const tdi_bundle_module *md = &b->mod[m];
        for (size_t i = 0; i < md->D; i++)
            memcpy(M + (md->off + i) * N + md->off, md->A + i * md->D, md->D * sizeof *M);
    }
    for (size_t c = 0; c < b->n_cpl; c++) {
        const tdi_bundle_coupling *cp = &b->cpl[c];
        size_t r = b->mod[cp->from].D, q = b->mod[cp->to].D;
        double *S = malloc(r * q * sizeof *S);
        if (!S)
            continue; /* callers compare M afterwards; an allocation failure shows as a miss */
        tdi_bundle_block(b, c, S);
        put_block(M, N, b->mod[cp->from].off, b->mod[cp->to].off, r, q, S);
        free(S);
    }
}

/* ------------------------------------------------------------------ manifest */

typedef struct man_mod {
    char name[TDI_BUNDLE_NAME_MAX + 2], layer[16];
    long D;
    int readout;
} man_mod;

typedef struct man_cpl {
    char from[TDI_BUNDLE_NAME_MAX + 2], to[TDI_BUNDLE_NAME_MAX + 2], kind[16];
    long rank;
} man_cpl;

typedef struct man_vals {
    char format[32], preset[64], mode[16], fit_hash[32], test_hash[32];
    long version, D, k, n, t, seed, intra_rank;
    double J2, kT, lmin, lmax;
    int analytic;
    man_mod mod[TDI_BUNDLE_MAX_MOD];
    man_cpl cpl[TDI_BUNDLE_MAX_CPL];
} man_vals;

/* positions in the key table (man_keys): format, version, n_test, analytic, then version 1's D
 * and k after the K_COMMON common keys, then the module and coupling slots */
enum { K_FORMAT = 0, K_VERSION = 1, K_NTEST = 4, K_ANALYTIC = 14, K_COMMON = 15, K_V1 = 3,
       K_PER_MOD = 4, K_PER_CPL = 4 };
#define NKEYS (K_COMMON + K_V1 + TDI_BUNDLE_MAX_MOD * K_PER_MOD + TDI_BUNDLE_MAX_CPL * K_PER_CPL)

typedef struct man_table {
    tdi_cfg_key k[NKEYS];
    char paths[NKEYS][40];
    size_t n;
} man_table;

static void key(man_table *t, const char *path, tdi_cfg_type ty, void *dst, double lo, double hi,
                size_t size, const char *choices)
{
    tdi_cfg_key *k = &t->k[t->n];
    snprintf(t->paths[t->n], sizeof t->paths[0], "%s", path);
    *k = (tdi_cfg_key){t->paths[t->n], ty, dst, lo, hi, size, NULL, choices, 0};
    t->n++;
}

/* One table for both versions (common keys first, then v1, then the v2 slots); the version
 * decides afterwards which keys may have been given. */
static void man_keys(man_table *t, man_vals *m)
{
    t->n = 0;
    key(t, "format", TDI_CFG_STRING, m->format, 0, 0, sizeof m->format, NULL);
    key(t, "version", TDI_CFG_INT, &m->version, 1, 1000, 0, NULL);
    key(t, "preset", TDI_CFG_STRING, m->preset, 0, 0, sizeof m->preset, NULL);
    key(t, "mode", TDI_CFG_STRING, m->mode, 0, 0, sizeof m->mode, "paper|skip|synthetic");
    key(t, "n_test", TDI_CFG_INT, &m->n, 0, 1e9, 0, NULL);
    key(t, "J2", TDI_CFG_DOUBLE, &m->J2, 0, 0, 0, NULL);
    key(t, "kT", TDI_CFG_DOUBLE, &m->kT, 0, 0, 0, NULL);
    key(t, "t", TDI_CFG_INT, &m->t, 0, 1e9, 0, NULL);
    key(t, "lambda_min", TDI_CFG_DOUBLE, &m->lmin, 0, 0, 0, NULL);
    key(t, "lambda_max", TDI_CFG_DOUBLE, &m->lmax, 0, 0, 0, NULL);
    key(t, "source_fit_hash", TDI_CFG_STRING, m->fit_hash, 0, 0, sizeof m->fit_hash, NULL);
    key(t, "source_test_hash", TDI_CFG_STRING, m->test_hash, 0, 0, sizeof m->test_hash, NULL);
    key(t, "seed", TDI_CFG_INT, &m->seed, 0, 9.2e18, 0, NULL);
    key(t, "intra_rank", TDI_CFG_INT, &m->intra_rank, 0, 1e9, 0, NULL);
    key(t, "analytic", TDI_CFG_BOOL, &m->analytic, 0, 0, 0, NULL);
    key(t, "D", TDI_CFG_INT, &m->D, 1, 1e6, 0, NULL); /* version 1 only, from here */
    key(t, "k", TDI_CFG_INT, &m->k, 0, 1e6, 0, NULL);
    key(t, "pair", TDI_CFG_IGNORE, NULL, 0, 0, 0, NULL);
    char p[40];
    for (int i = 0; i < TDI_BUNDLE_MAX_MOD; i++) {
        man_mod *mm = &m->mod[i];
        snprintf(p, sizeof p, "modules.m%d.name", i);
        key(t, p, TDI_CFG_STRING, mm->name, 0, 0, sizeof mm->name, NULL);
        snprintf(p, sizeof p, "modules.m%d.D", i);
        key(t, p, TDI_CFG_INT, &mm->D, 1, 1e6, 0, NULL);
        snprintf(p, sizeof p, "modules.m%d.layer", i);
        key(t, p, TDI_CFG_STRING, mm->layer, 0, 0, sizeof mm->layer, NULL);
        snprintf(p, sizeof p, "modules.m%d.readout", i);
        key(t, p, TDI_CFG_BOOL, &mm->readout, 0, 0, 0, NULL);
    }
    for (int i = 0; i < TDI_BUNDLE_MAX_CPL; i++) {
        man_cpl *mc = &m->cpl[i];
        snprintf(p, sizeof p, "couplings.c%d.from", i);
        key(t, p, TDI_CFG_STRING, mc->from, 0, 0, sizeof mc->from, NULL);
        snprintf(p, sizeof p, "couplings.c%d.to", i);
        key(t, p, TDI_CFG_STRING, mc->to, 0, 0, sizeof mc->to, NULL);
        snprintf(p, sizeof p, "couplings.c%d.kind", i);
        key(t, p, TDI_CFG_STRING, mc->kind, 0, 0, sizeof mc->kind, "lowrank|dense");
        snprintf(p, sizeof p, "couplings.c%d.rank", i);
        key(t, p, TDI_CFG_INT, &mc->rank, 0, 1e6, 0, NULL);
    }
}

static int need(const man_table *t, size_t i, const char *mpath, tdi_err *err)
{
    if (!t->k[i].seen)
        return tdi_err_set(err, TDI_EFORMAT, "%s: missing key '%s'", mpath, t->k[i].path);
    return 0;
}

static int refuse(const man_table *t, size_t i, const char *mpath, long version, tdi_err *err)
{
    if (!t->k[i].seen)
        return 0;
    char at[1200];
    tdi_cfg_locate(mpath, t->k[i].path, at, sizeof at);
    return tdi_err_set(err, TDI_EFORMAT, "%s: key '%s' is not part of version %ld", at,
                       t->k[i].path, version);
}

/* version 1: D, k and the fixed pair enc/dec (docs/formats.md, "Upgrade from version 1") */
static int man_v1(const man_table *t, const man_vals *m, const char *mpath, tdi_bundle *b,
                  tdi_err *err)
{
    int rc;
    if ((rc = need(t, K_COMMON, mpath, err)) || (rc = need(t, K_COMMON + 1, mpath, err)))
        return rc;
    for (size_t i = K_COMMON + K_V1; i < t->n; i++)
        if ((rc = refuse(t, i, mpath, 1, err)))
            return rc;
    if ((rc = refuse(t, K_ANALYTIC, mpath, 1, err))) /* key 'analytic': version 1 always has one */
        return rc;
    if (m->k > m->D)
        return tdi_err_set(err, TDI_EFORMAT, "%s: k = %ld > D = %ld", mpath, m->k, m->D);
    b->n_mod = 2;
    snprintf(b->mod[0].name, sizeof b->mod[0].name, "enc");
    snprintf(b->mod[1].name, sizeof b->mod[1].name, "dec");
    b->mod[0].D = b->mod[1].D = (size_t)m->D;
    b->mod[1].readout = 1;
    b->n_cpl = 1; /* rank 0 when k = 0: no factor files, a zero block */
    b->cpl[0] = (tdi_bundle_coupling){0, 1, 0, (size_t)m->k, NULL, NULL, NULL};
    return 0;
}

/* "file:line:col" of key i (tdi_cfg_locate re-reads the file: only on an error) */
static const char *where(const man_table *t, size_t i, const char *mpath, char *buf, size_t n)
{
    tdi_cfg_locate(mpath, t->k[i].path, buf, n);
    return buf;
}

/* index of the first key of slot k[0..4) that the file gives */
static size_t first_seen(const man_table *t, size_t slot)
{
    for (size_t q = 0; q < 4; q++)
        if (t->k[slot + q].seen)
            return slot + q;
    return slot;
}

static int man_v2(const man_table *t, const man_vals *m, const char *mpath, tdi_bundle *b,
                  tdi_err *err)
{
    int rc;
    char at[1200];
    for (size_t i = K_COMMON; i < K_COMMON + K_V1; i++)
        if ((rc = refuse(t, i, mpath, m->version, err)))
            return rc;
    if ((rc = need(t, K_NTEST, mpath, err)))
        return rc;
    size_t base = K_COMMON + K_V1;
    for (size_t i = 0; i < TDI_BUNDLE_MAX_MOD; i++) {
        const tdi_cfg_key *k = t->k + base + i * K_PER_MOD;
        int any = k[0].seen || k[1].seen || k[2].seen || k[3].seen;
        if (!any)
            continue;
        if (i != b->n_mod)
            return tdi_err_set(err, TDI_EFORMAT, "%s: modules.m%zu given without modules.m%zu "
                               "(slots are m0, m1, ... in order)",
                               where(t, first_seen(t, base + i * K_PER_MOD), mpath, at,
                                     sizeof at), i, b->n_mod);
        if ((rc = need(t, base + i * K_PER_MOD, mpath, err)) ||
            (rc = need(t, base + i * K_PER_MOD + 1, mpath, err)))
            return rc;
        tdi_bundle_module *md = &b->mod[b->n_mod++];
        snprintf(md->name, sizeof md->name, "%.15s", m->mod[i].name);
        if (strlen(m->mod[i].name) > TDI_BUNDLE_NAME_MAX)
            md->name[0] = '\0'; /* refused by the layout check */
        snprintf(md->layer, sizeof md->layer, "%s", m->mod[i].layer);
        md->D = (size_t)m->mod[i].D;
        md->readout = m->mod[i].readout;
        if (!name_ok(md->name) || tdi_bundle_find(b, md->name) != (int)b->n_mod - 1)
            return tdi_err_set(err, TDI_EFORMAT, "%s: modules.m%zu: name '%s' %s",
                               where(t, base + i * K_PER_MOD, mpath, at, sizeof at), i,
                               m->mod[i].name, name_ok(md->name) ? "given twice" :
                               "is not 1 to 15 characters [a-z][a-z0-9]*");
    }
    base += TDI_BUNDLE_MAX_MOD * K_PER_MOD;
    for (size_t i = 0; i < TDI_BUNDLE_MAX_CPL; i++) {
        const tdi_cfg_key *k = t->k + base + i * K_PER_CPL;
        if (!(k[0].seen || k[1].seen || k[2].seen || k[3].seen))
            continue;
        if (i != b->n_cpl)
            return tdi_err_set(err, TDI_EFORMAT, "%s: couplings.c%zu given without "
                               "couplings.c%zu",
                               where(t, first_seen(t, base + i * K_PER_CPL), mpath, at,
                                     sizeof at), i, b->n_cpl);
        for (size_t q = 0; q < 3; q++)
            if ((rc = need(t, base + i * K_PER_CPL + q, mpath, err)))
                return rc;
        const man_cpl *mc = &m->cpl[i];
        int f = tdi_bundle_find(b, mc->from), to = tdi_bundle_find(b, mc->to);
        if (f < 0 || to < 0)
            return tdi_err_set(err, TDI_EFORMAT, "%s: couplings.c%zu joins '%s' and '%s': no "
                               "such module",
                               where(t, base + i * K_PER_CPL + (f < 0 ? 0 : 1), mpath, at,
                                     sizeof at), i, mc->from, mc->to);
        int dense = strcmp(mc->kind, "dense") == 0;
        if (dense == k[3].seen)
            return tdi_err_set(err, TDI_EFORMAT, "%s: couplings.c%zu: a %s coupling %s",
                               where(t, base + i * K_PER_CPL + 2, mpath, at, sizeof at), i,
                               mc->kind, dense ? "has no rank" : "needs rank");
        b->cpl[b->n_cpl++] = (tdi_bundle_coupling){(size_t)f, (size_t)to, dense,
                                                   dense ? 0 : (size_t)mc->rank, NULL, NULL,
                                                   NULL};
    }
    if (!b->n_mod)
        return tdi_err_set(err, TDI_EFORMAT, "%s: no modules (modules.m0 ...)", mpath);
    return 0;
}

static int read_manifest(const char *mpath, tdi_bundle *b, int *analytic, tdi_err *err)
{
    man_vals *m = calloc(1, sizeof *m);
    man_table *t = calloc(1, sizeof *t);
    int rc = 0;
    if (!m || !t) {
        rc = tdi_err_set(err, TDI_ENOMEM, "%s: out of memory", mpath);
        goto done;
    }
    m->seed = m->intra_rank = -1;
    m->analytic = 1;
    snprintf(m->fit_hash, sizeof m->fit_hash, "none");
    snprintf(m->test_hash, sizeof m->test_hash, "none");
    man_keys(t, m);
    if ((rc = tdi_cfg_load(mpath, t->k, t->n, err)) || (rc = need(t, K_FORMAT, mpath, err)) ||
        (rc = need(t, K_VERSION, mpath, err)))
        goto done;
    if (strcmp(m->format, "tdi-substrate") != 0) {
        rc = tdi_err_set(err, TDI_EFORMAT, "%s: format is '%s', expected 'tdi-substrate'", mpath,
                         m->format);
        goto done;
    }
    if (m->version != 1 && m->version != TDI_BUNDLE_VERSION) {
        rc = tdi_err_set(err, TDI_EFORMAT, "%s: version %ld not supported (this tdi reads 1 "
                         "and %d)", mpath, m->version, TDI_BUNDLE_VERSION);
        goto done;
    }
    rc = m->version == 1 ? man_v1(t, m, mpath, b, err) : man_v2(t, m, mpath, b, err);
    if (rc || (rc = tdi_bundle_layout(b, mpath, err)))
        goto done;
    b->version = m->version;
    snprintf(b->preset, sizeof b->preset, "%s", m->preset);
    snprintf(b->mode, sizeof b->mode, "%s", m->mode);
    snprintf(b->fit_hash, sizeof b->fit_hash, "%.16s", m->fit_hash);
    snprintf(b->test_hash, sizeof b->test_hash, "%.16s", m->test_hash);
    b->n = t->k[K_NTEST].seen ? (size_t)m->n : 0;
    b->J2 = m->J2;
    b->kT = m->kT;
    b->t = m->t;
    b->lambda_min = m->lmin;
    b->lambda_max = m->lmax;
    b->seed = m->seed;
    b->intra_rank = m->intra_rank;
    *analytic = m->analytic;
done:
    free(m);
    free(t);
    return rc;
}

/* ------------------------------------------------------------------ arrays */

typedef struct plan_item {
    char file[48];
    double **dst;
    size_t rows, cols; /* expected; rows 0 = any (bias rows, checked together afterwards) */
    size_t *rows_out;
} plan_item;

typedef struct plan {
    plan_item it[3 + 3 * TDI_BUNDLE_MAX_MOD + 2 * TDI_BUNDLE_MAX_CPL];
    size_t n;
    size_t bias_rows[TDI_BUNDLE_MAX_MOD], an_rows;
} plan;

static void add(plan *p, const char *file, double **dst, size_t rows, size_t cols,
                size_t *rows_out)
{
    plan_item *it = &p->it[p->n++];
    snprintf(it->file, sizeof it->file, "%s", file);
    it->dst = dst;
    it->rows = rows;
    it->cols = cols;
    it->rows_out = rows_out;
}

static void add_coupling(plan *p, tdi_bundle *b, size_t c, const char *pn, const char *qn)
{
    tdi_bundle_coupling *cp = &b->cpl[c];
    size_t r = b->mod[cp->from].D, q = b->mod[cp->to].D;
    char f[48];
    if (cp->dense) {
        snprintf(f, sizeof f, "S_%s_%s.npy", b->mod[cp->from].name, b->mod[cp->to].name);
        add(p, f, &cp->S, r, q, NULL);
    } else if (cp->k > 0) {
        add(p, pn, &cp->P, r, cp->k, NULL);
        add(p, qn, &cp->Q, q, cp->k, NULL);
    }
}

/* Version 1: the old reader's files and order (M A B Jenc Jdec b_enc b_dec c analytic P Q). */
static void plan_v1(plan *p, tdi_bundle *b)
{
    size_t D = b->mod[0].D, N = b->N;
    add(p, "M.npy", &b->M, N, N, NULL);
    add(p, "A.npy", &b->mod[0].A, D, D, NULL);
    add(p, "B.npy", &b->mod[1].A, D, D, NULL);
    add(p, "Jenc.npy", &b->mod[0].J, D, D, NULL);
    add(p, "Jdec.npy", &b->mod[1].J, D, D, NULL);
    add(p, "b_enc.npy", &b->mod[0].bias, 0, D, &p->bias_rows[0]);
    add(p, "b_dec.npy", &b->mod[1].bias, 0, D, &p->bias_rows[1]);
    add(p, "c.npy", &b->c, D, 0, NULL);
    add(p, "analytic.npy", &b->analytic, 0, D, &p->an_rows);
    add_coupling(p, b, 0, "P.npy", "Q.npy");
}

static void plan_v2(plan *p, tdi_bundle *b, int analytic)
{
    char f[48], g[48];
    add(p, "M.npy", &b->M, b->N, b->N, NULL);
    for (size_t m = 0; m < b->n_mod; m++) {
        tdi_bundle_module *md = &b->mod[m];
        snprintf(f, sizeof f, "J_%s.npy", md->name);
        add(p, f, &md->J, md->D, md->D, NULL);
        snprintf(f, sizeof f, "A_%s.npy", md->name);
        add(p, f, &md->A, md->D, md->D, NULL);
        snprintf(f, sizeof f, "b_%s.npy", md->name);
        add(p, f, &md->bias, 0, md->D, &p->bias_rows[m]);
    }
    for (size_t c = 0; c < b->n_cpl; c++) {
        const char *a = b->mod[b->cpl[c].from].name, *z = b->mod[b->cpl[c].to].name;
        snprintf(f, sizeof f, "P_%s_%s.npy", a, z);
        snprintf(g, sizeof g, "Q_%s_%s.npy", a, z);
        add_coupling(p, b, c, f, g);
    }
    size_t Do = b->D_out;
    add(p, "c.npy", &b->c, Do, 0, NULL);
    if (analytic)
        add(p, "analytic.npy", &b->analytic, 0, Do, &p->an_rows);
}

static int load(const char *dir, const char *file, size_t rows, size_t cols, double **out,
                size_t *rows_out, uint64_t *h, tdi_err *err)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    size_t r = 0, c = 0;
    int rc = tdi_npy_load_f64(path, rows, cols, out, &r, &c, err);
    if (rc)
        return rc;
    if (rows_out)
        *rows_out = r;
    if (h)
        *h = tdi_hash_bytes(*h, *out, r * (c ? c : 1) * sizeof **out);
    return 0;
}

static int check_rows(const plan *p, tdi_bundle *b, int analytic, tdi_err *err)
{
    size_t n = p->bias_rows[0];
    int bad = analytic && p->an_rows != n;
    for (size_t m = 0; m < b->n_mod; m++)
        bad |= p->bias_rows[m] != n;
    if (b->n > 0 && b->n != n)
        bad = 1;
    if (!bad) {
        b->n = n;
        return 0;
    }
    char msg[700] = "";
    for (size_t m = 0; m < b->n_mod; m++)
        snprintf(msg + strlen(msg), sizeof msg - strlen(msg), "%sbias of '%s' (%s) %zu",
                 m ? ", " : "", b->mod[m].name,
                 b->version == 1 ? (m ? "b_dec" : "b_enc") : "b_<name>.npy", p->bias_rows[m]);
    return tdi_err_set(err, TDI_EFORMAT, "%s: rows disagree: %s, analytic %zu, manifest n_test "
                       "%zu: they must agree", b->dir, msg, p->an_rows, b->n);
}

/* M symmetric and equal to the assembly of its blocks (1e-10 of max |M|) */
static int check_M(tdi_bundle *b, tdi_err *err)
{
    size_t N = b->N;
    double mx = 0;
    for (size_t i = 0; i < N * N; i++)
        mx = fmax(mx, fabs(b->M[i]));
    if (mx == 0)
        return tdi_err_set(err, TDI_ENUM, "%s/M.npy: M is zero", b->dir);
    /* 1e-12: a symmetric matrix written by NumPy or C is symmetric to the last bit; anything
       larger is a real asymmetry (a one-way coupling the circuit cannot realise). */
    for (size_t i = 0; i < N; i++)
        for (size_t j = i + 1; j < N; j++)
            if (fabs(b->M[i * N + j] - b->M[j * N + i]) > 1e-12 * mx)
                return tdi_err_set(err, TDI_ENUM, "%s/M.npy: not symmetric: M[%zu][%zu] = %.17g,"
                                   " M[%zu][%zu] = %.17g", b->dir, i, j, b->M[i * N + j], j, i,
                                   b->M[j * N + i]);
    double *E = malloc(N * N * sizeof *E);
    if (!E)
        return tdi_err_set(err, TDI_ENOMEM, "%s: out of memory", b->dir);
    tdi_bundle_assemble(b, E);
    size_t mi[TDI_BUNDLE_MAX_MOD + 1];
    int rc = 0;
    /* 1e-10: P Q^T in float64 differs from the writer's product by k ulps; blocks are copies */
    for (size_t i = 0; i < N && !rc; i++)
        for (size_t j = 0; j < N && !rc; j++) {
            if (fabs(b->M[i * N + j] - E[i * N + j]) <= 1e-10 * mx)
                continue;
            size_t r = 0, c = 0;
            for (size_t m = 0; m < b->n_mod; m++) {
                mi[m] = b->mod[m].off;
                if (i >= mi[m])
                    r = m;
                if (j >= mi[m])
                    c = m;
            }
            const char *what = r == c ? "A" : "0 (the modules are not coupled)";
            for (size_t q = 0; q < b->n_cpl && r != c; q++)
                if ((b->cpl[q].from == r && b->cpl[q].to == c) ||
                    (b->cpl[q].from == c && b->cpl[q].to == r))
                    what = b->cpl[q].dense ? "S" : "(P Q^T)";
            if (r == c && b->version == 1 && r == 1)
                what = "B";
            rc = tdi_err_set(err, TDI_EFORMAT, "%s: M[%zu][%zu] = %.17g but %s gives %.17g (block "
                             "of modules '%s', '%s')", b->dir, i, j, b->M[i * N + j], what,
                             E[i * N + j], b->mod[r].name, b->mod[c].name);
        }
    free(E);
    return rc;
}

int tdi_bundle_read_extra(tdi_bundle *b, unsigned want, tdi_err *err)
{
    const char *dir = b->dir;
    size_t Do = b->D_out, rows = 0, xc = 0;
    int rc = 0;
    if ((want & TDI_BUNDLE_WANT_DATA) && !b->x) {
        char path[1100];
        snprintf(path, sizeof path, "%s/x.npy", dir);
        if ((rc = tdi_npy_load_f64(path, b->n, 0, &b->x, &rows, &xc, err)))
            return rc;
        b->x_cols = xc;
        if ((rc = load(dir, "truth.npy", b->n, Do, &b->truth, NULL, NULL, err)) ||
            (rc = load(dir, "mean_fit.npy", Do, 0, &b->mean_fit, NULL, NULL, err)) ||
            (rc = load(dir, "gain.npy", Do, 0, &b->gain, NULL, NULL, err)))
            return rc;
    }
    if ((want & TDI_BUNDLE_WANT_IFACE) && !b->iface[0]) {
        if (!b->x)
            return tdi_err_set(err, TDI_EARG, "%s: the interface needs x (WANT_DATA)", dir);
        for (size_t i = 0; i < TDI_BUNDLE_NIFACE && !rc; i++) {
            size_t r, c;
            tdi_bundle_iface_shape(i, b->x_cols, Do, &r, &c);
            rc = load(dir, iface_names[i], r, c, &b->iface[i], NULL, NULL, err);
        }
    }
    return rc;
}

int tdi_bundle_read(const char *dir, unsigned want, tdi_bundle *b, tdi_err *err)
{
    memset(b, 0, sizeof *b);
    if ((size_t)snprintf(b->dir, sizeof b->dir, "%s", dir) >= sizeof b->dir)
        return tdi_err_set(err, TDI_EARG, "%.200s...: bundle path longer than %zu bytes", dir,
                           sizeof b->dir - 1);
    char mpath[1100], *text = NULL;
    size_t tlen = 0;
    snprintf(mpath, sizeof mpath, "%s/manifest.yaml", dir);
    int rc = tdi_file_read_all(mpath, &text, &tlen, err);
    if (rc)
        return rc;
    b->hash = tdi_hash_bytes(TDI_HASH_INIT, text, tlen);
    free(text);
    plan *p = calloc(1, sizeof *p);
    if (!p)
        return tdi_err_set(err, TDI_ENOMEM, "%s: out of memory", dir);
    int analytic = 1;
    if ((rc = read_manifest(mpath, b, &analytic, err)))
        goto fail;
    if (b->version == 1)
        plan_v1(p, b);
    else
        plan_v2(p, b, analytic);
    for (size_t i = 0; i < p->n && !rc; i++)
        rc = load(dir, p->it[i].file, p->it[i].rows, p->it[i].cols, p->it[i].dst,
                  p->it[i].rows_out, &b->hash, err);
    if (rc || (rc = check_rows(p, b, analytic, err)) || (rc = check_M(b, err)) ||
        (rc = tdi_bundle_read_extra(b, want, err)))
        goto fail;
    free(p);
    return 0;
fail:
    free(p);
    tdi_bundle_destroy(b);
    return rc;
}

/* ------------------------------------------------------------------ writer */

static int put(const char *tmp, const char *file, size_t r, size_t c, const double *data,
               tdi_err *err)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", tmp, file);
    size_t shape[2] = {r, c};
    return tdi_npy_write(path, TDI_NPY_F64, c ? 2 : 1, shape, data, err);
}

/* the manifest text (version 2) into buf */
static int man_text(const tdi_bundle *b, char *buf, size_t size, tdi_err *err)
{
    size_t u = 0;
#define OUT(...) (u += (size_t)snprintf(buf + (u < size ? u : size), u < size ? size - u : 0, \
                                        __VA_ARGS__))
    OUT("format: tdi-substrate\nversion: %d\npreset: %s\nmode: %s\nn_test: %zu\n",
        TDI_BUNDLE_VERSION, b->preset, b->mode, b->n);
    OUT("J2: %.17g\nkT: %.17g\nt: %ld\nlambda_min: %.17g\nlambda_max: %.17g\n", b->J2, b->kT,
        b->t, b->lambda_min, b->lambda_max);
    OUT("source_fit_hash: %s\nsource_test_hash: %s\n", b->fit_hash[0] ? b->fit_hash : "none",
        b->test_hash[0] ? b->test_hash : "none");
    if (b->seed >= 0)
        OUT("seed: %ld\n", b->seed);
    if (b->intra_rank >= 0)
        OUT("intra_rank: %ld\n", b->intra_rank);
    OUT("analytic: %s\nmodules:\n", b->analytic ? "true" : "false");
    for (size_t m = 0; m < b->n_mod; m++) {
        const tdi_bundle_module *md = &b->mod[m];
        OUT("  m%zu: {name: %s, D: %zu", m, md->name, md->D);
        if (md->layer[0])
            OUT(", layer: %s", md->layer);
        OUT("%s}\n", md->readout ? ", readout: true" : "");
    }
    if (b->n_cpl)
        OUT("couplings:\n");
    for (size_t c = 0; c < b->n_cpl; c++) {
        const tdi_bundle_coupling *cp = &b->cpl[c];
        OUT("  c%zu: {from: %s, to: %s, kind: %s", c, b->mod[cp->from].name,
            b->mod[cp->to].name, cp->dense ? "dense" : "lowrank");
        if (!cp->dense)
            OUT(", rank: %zu", cp->k);
        OUT("}\n");
    }
#undef OUT
    if (u >= size)
        return tdi_err_set(err, TDI_EARG, "manifest longer than %zu bytes", size);
    return 0;
}

static int write_arrays(const char *tmp, const tdi_bundle *b, tdi_err *err)
{
    char f[64], g[64];
    int rc = put(tmp, "M.npy", b->N, b->N, b->M, err);
    for (size_t m = 0; m < b->n_mod && !rc; m++) {
        const tdi_bundle_module *md = &b->mod[m];
        snprintf(f, sizeof f, "J_%s.npy", md->name);
        snprintf(g, sizeof g, "A_%s.npy", md->name);
        if (!(rc = put(tmp, f, md->D, md->D, md->J, err)) &&
            !(rc = put(tmp, g, md->D, md->D, md->A, err))) {
            snprintf(f, sizeof f, "b_%s.npy", md->name);
            rc = put(tmp, f, b->n, md->D, md->bias, err);
        }
    }
    for (size_t c = 0; c < b->n_cpl && !rc; c++) {
        const tdi_bundle_coupling *cp = &b->cpl[c];
        const char *a = b->mod[cp->from].name, *z = b->mod[cp->to].name;
        size_t r = b->mod[cp->from].D, q = b->mod[cp->to].D;
        if (cp->dense) {
            snprintf(f, sizeof f, "S_%s_%s.npy", a, z);
            rc = put(tmp, f, r, q, cp->S, err);
        } else if (cp->k > 0) {
            snprintf(f, sizeof f, "P_%s_%s.npy", a, z);
            snprintf(g, sizeof g, "Q_%s_%s.npy", a, z);
            if (!(rc = put(tmp, f, r, cp->k, cp->P, err)))
                rc = put(tmp, g, q, cp->k, cp->Q, err);
        }
    }
    size_t Do = b->D_out;
    if (!rc)
        rc = put(tmp, "c.npy", Do, 0, b->c, err);
    if (!rc && b->analytic)
        rc = put(tmp, "analytic.npy", b->n, Do, b->analytic, err);
    if (!rc && b->x)
        rc = put(tmp, "x.npy", b->n, b->x_cols, b->x, err);
    if (!rc && b->truth)
        rc = put(tmp, "truth.npy", b->n, Do, b->truth, err);
    if (!rc && b->mean_fit)
        rc = put(tmp, "mean_fit.npy", Do, 0, b->mean_fit, err);
    if (!rc && b->gain)
        rc = put(tmp, "gain.npy", Do, 0, b->gain, err);
    for (size_t i = 0; i < TDI_BUNDLE_NIFACE && !rc; i++)
        if (b->iface[i]) {
            size_t r, c;
            tdi_bundle_iface_shape(i, b->x_cols, Do, &r, &c);
            rc = put(tmp, iface_names[i], r, c, b->iface[i], err);
        }
    return rc;
}

/* the arrays the format requires, present before anything is written */
static int check_complete(const tdi_bundle *b, const char *dir, tdi_err *err)
{
    int ok = b->M && b->c;
    for (size_t m = 0; m < b->n_mod; m++)
        ok = ok && b->mod[m].J && b->mod[m].A && (b->mod[m].bias || b->n == 0);
    for (size_t c = 0; c < b->n_cpl; c++)
        ok = ok && (b->cpl[c].dense ? b->cpl[c].S != NULL
                                    : b->cpl[c].k == 0 || (b->cpl[c].P && b->cpl[c].Q));
    for (size_t i = 0; i < TDI_BUNDLE_NIFACE; i++)
        ok = ok && (!b->iface[i] || b->x);
    if (!ok)
        return tdi_err_set(err, TDI_EARG, "writing substrate bundle %s: an array the format "
                           "requires is missing (M, c, J, A, bias of every module, coupling "
                           "factors; x with the interface)", dir);
    return 0;
}

int tdi_bundle_write(const char *dir, const tdi_bundle *b, tdi_err *err)
{
    tdi_bundle lay = *b; /* layout recomputed on a copy: offsets and out are derived */
    int rc = tdi_bundle_layout(&lay, dir, err);
    if (rc || (rc = check_complete(&lay, dir, err)))
        return rc;
    char parent[1024], tmp[1100], *man = malloc(16384);
    if (!man)
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    if ((size_t)snprintf(parent, sizeof parent, "%s", dir) >= sizeof parent) {
        free(man);
        return tdi_err_set(err, TDI_EARG, "%.200s...: bundle path longer than %zu bytes: "
                           "refusing it rather than cutting it", dir, sizeof parent - 1);
    }
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = '\0';
        if ((rc = tdi_mkdirs(parent, err))) {
            free(man);
            return rc;
        }
    }
    if ((rc = man_text(&lay, man, 16384, err)) || (rc = tdi_dir_begin(dir, tmp, sizeof tmp, err))) {
        free(man);
        return rc;
    }
    char mp[1200];
    snprintf(mp, sizeof mp, "%s/metrics.json", tmp);
    if ((rc = write_arrays(tmp, &lay, err)) ||
        (b->metrics_json && (rc = tdi_atomic_write_text(mp, b->metrics_json, err))))
        goto fail;
    snprintf(mp, sizeof mp, "%s/manifest.yaml", tmp);
    if ((rc = tdi_atomic_write_text(mp, man, err)) || (rc = tdi_dir_commit(tmp, dir, err)))
        goto fail;
    free(man);
    return 0;
fail:
    free(man);
    tdi_dir_abort(tmp);
    return tdi_err_prefix(err, "writing substrate bundle %s", dir);
}
