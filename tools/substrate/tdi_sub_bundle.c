/* tdi_sub_bundle: reading activation bundles and writing the substrate bundle, both as defined
 * in docs/formats.md (the contract with tdi-unet, tdi-gen and tdi-cosim).
 * Invariants: every problem (missing file, wrong shape, NaN, D too large, manifest mismatch) is
 * an error naming the file; the substrate bundle appears completely or not at all (tdi_io).
 * Source hash = FNV-1a 64 over the FNV-1a 64 of each file read, in order: manifest.yaml,
 * <enc>.npy, <dec>.npy[, w_<enc>.npy, w_<dec>.npy]. Non-goal: reading layers not in the pair. */
#include "tdi_sub.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tdi_bundle.h"
#include "tdi_cfg.h"
#include "tdi_io.h"
#include "tdi_npy.h"

void tdi_sub_act_destroy(tdi_sub_act *a)
{
    if (!a)
        return;
    free(a->x);
    free(a->d);
    free(a->Wenc);
    free(a->Wdec);
    memset(a, 0, sizeof *a);
}

static int hash_into(uint64_t *h, const char *path, tdi_err *err)
{
    uint64_t fh;
    int rc = tdi_hash_file(path, &fh, err);
    if (rc)
        return rc;
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(fh >> (8 * i));
    *h = tdi_hash_bytes(*h, b, sizeof b);
    return 0;
}

/* manifest.yaml of an activation bundle, read through tdi_cfg (unknown and duplicate keys
 * are errors with file:line:col). What it states about the arrays (`layers`, `channels`) is
 * kept here and checked against the arrays actually read (act_check_layer). */
#define ACT_NLAYERS 5
static const char *const act_layer_names[ACT_NLAYERS] = {"e1", "e2", "mid", "d2", "d1"};

typedef struct act_manifest {
    char path[1100];
    long pool, channels;
    long shape[ACT_NLAYERS][2]; /* layers.<name>: [rows, cols] */
    size_t nshape[ACT_NLAYERS]; /* elements given; 0 = layer not listed */
} act_manifest;

static int act_layer_index(const char *layer)
{
    for (int i = 0; i < ACT_NLAYERS; i++)
        if (!strcmp(layer, act_layer_names[i]))
            return i;
    return -1;
}

/* What the manifest says on its own: every listed layer is [n, cols] with cols a multiple of
 * pool^2, and channels = the columns of e1 / pool^2 (e1's width is the base width). */
static int act_check_manifest(const act_manifest *m, long n, tdi_err *err)
{
    char at[1200];
    long pp = m->pool * m->pool;
    for (int i = 0; i < ACT_NLAYERS; i++) {
        char key[32];
        snprintf(key, sizeof key, "layers.%s", act_layer_names[i]);
        if (!m->nshape[i])
            continue;
        tdi_cfg_locate(m->path, key, at, sizeof at);
        const long *sh = m->shape[i];
        if (m->nshape[i] != 2)
            return tdi_err_set(err, TDI_EFORMAT, "%s: %s has %zu elements, expected two: "
                               "[rows, columns]", at, key, m->nshape[i]);
        if (sh[0] != n)
            return tdi_err_set(err, TDI_EFORMAT, "%s: %s = [%ld, %ld] has %ld rows, but n = %ld",
                               at, key, sh[0], sh[1], sh[0], n);
        if (sh[1] % pp != 0)
            return tdi_err_set(err, TDI_EFORMAT, "%s: %s = [%ld, %ld]: %ld columns is not a "
                               "multiple of pool^2 = %ld", at, key, sh[0], sh[1], sh[1], pp);
        if (i == 0 && m->channels > 0 && sh[1] / pp != m->channels)
            return tdi_err_set(err, TDI_EFORMAT, "%s: %s = [%ld, %ld] is %ld channels at pool "
                               "%ld, but the manifest says channels: %ld", at, key, sh[0], sh[1],
                               sh[1] / pp, m->pool, m->channels);
    }
    return TDI_OK;
}

/* A layer that is read must be listed, with the shape of its array. */
static int act_check_layer(const act_manifest *m, const char *layer, size_t rows, size_t cols,
                           tdi_err *err)
{
    int i = act_layer_index(layer);
    char key[32], at[1200];
    snprintf(key, sizeof key, "layers.%s", layer);
    if (i < 0 || !m->nshape[i])
        return tdi_err_set(err, TDI_EFORMAT, "%s: layers has no entry for '%s', which is read "
                           "(%s.npy holds [%zu, %zu])", m->path, layer, layer, rows, cols);
    tdi_cfg_locate(m->path, key, at, sizeof at);
    if ((size_t)m->shape[i][0] != rows || (size_t)m->shape[i][1] != cols)
        return tdi_err_set(err, TDI_EFORMAT, "%s: %s = [%ld, %ld], but %s.npy holds [%zu, %zu]",
                           at, key, m->shape[i][0], m->shape[i][1], layer, rows, cols);
    return TDI_OK;
}

static int read_manifest(const char *dir, const char *split, long n, long t, long pool,
                         tdi_sub_act *a, act_manifest *m, tdi_err *err)
{
    char format[64] = "", msplit[16] = "", ckpt[512] = "", chash[64] = "";
    long version = 0, mn = -1, mt = -1, mseed = 0, mpool = -1, first = 0, channels = 0;
    memset(m, 0, sizeof *m);
    char *path = m->path;
    if ((size_t)snprintf(path, sizeof m->path, "%s/manifest.yaml", dir) >= sizeof m->path)
        return tdi_err_set(err, TDI_EARG, "%s: path too long", dir);
    tdi_cfg_key keys[5 + 6 + ACT_NLAYERS] = {
        {"format", TDI_CFG_STRING, format, 0, 0, sizeof format, NULL, NULL, 0},
        {"version", TDI_CFG_INT, &version, 1, 1, 0, NULL, NULL, 0},
        {"split", TDI_CFG_STRING, msplit, 0, 0, sizeof msplit, NULL, "train|test", 0},
        {"n", TDI_CFG_INT, &mn, 1, 1e9, 0, NULL, NULL, 0},
        {"t", TDI_CFG_INT, &mt, 0, 999, 0, NULL, NULL, 0},
        {"seed", TDI_CFG_INT, &mseed, -9.2e18, 9.2e18, 0, NULL, NULL, 0},
        {"pool", TDI_CFG_INT, &mpool, 1, 64, 0, NULL, NULL, 0},
        {"first", TDI_CFG_INT, &first, 0, 1e9, 0, NULL, NULL, 0},
        {"channels", TDI_CFG_INT, &channels, 1, 1e6, 0, NULL, NULL, 0},
        {"checkpoint", TDI_CFG_STRING, ckpt, 0, 0, sizeof ckpt, NULL, NULL, 0},
        {"checkpoint_hash", TDI_CFG_STRING, chash, 0, 0, sizeof chash, NULL, NULL, 0},
    };
    char lkey[ACT_NLAYERS][16];
    for (int i = 0; i < ACT_NLAYERS; i++) {
        snprintf(lkey[i], sizeof lkey[i], "layers.%s", act_layer_names[i]);
        keys[11 + i] = (tdi_cfg_key){lkey[i], TDI_CFG_ILIST, m->shape[i], 0, 1e9, 2,
                                     &m->nshape[i], NULL, 0};
    }
    size_t nk = sizeof keys / sizeof keys[0];
    int rc = tdi_cfg_load(path, keys, nk, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < 5; i++)
        if (!keys[i].seen)
            return tdi_err_set(err, TDI_EFORMAT, "%s: missing key '%s'", path, keys[i].path);
    if (strcmp(format, "tdi-activations") != 0)
        return tdi_err_set(err, TDI_EFORMAT, "%s: format is '%s', expected 'tdi-activations'",
                           path, format);
    if (split && strcmp(split, msplit) != 0)
        return tdi_err_set(err, TDI_EFORMAT, "%s: split is '%s', expected '%s'", path, msplit,
                           split);
    if (n >= 0 && mn != n)
        return tdi_err_set(err, TDI_EFORMAT, "%s: n = %ld, but the config asks for %ld samples "
                           "(export.n_fit / export.n_test)", path, mn, n);
    if (t >= 0 && mt != t)
        return tdi_err_set(err, TDI_EFORMAT, "%s: t = %ld, but the config has export.t = %ld",
                           path, mt, t);
    if (keys[6].seen && pool >= 0 && mpool != pool)
        return tdi_err_set(err, TDI_EFORMAT, "%s: pool = %ld, but the config has export.pool = "
                           "%ld", path, mpool, pool);
    m->pool = keys[6].seen ? mpool : 1;
    m->channels = keys[8].seen ? channels : 0;
    if ((rc = act_check_manifest(m, mn, err)))
        return rc;
    a->n = (size_t)mn;
    a->t = mt;
    a->pool = m->pool;
    snprintf(a->ckpt_hash, sizeof a->ckpt_hash, "%s", chash);
    return hash_into(&a->hash, path, err);
}

/* [N, cols] activations, first D columns kept */
static int read_layer(const char *dir, const char *layer, size_t n, size_t D,
                      const act_manifest *m, double **out, size_t *cols_out, uint64_t *h,
                      tdi_err *err)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/%s.npy", dir, layer);
    double *buf = NULL;
    size_t rows = 0, cols = 0;
    int rc = tdi_npy_load_f64(path, n, 0, &buf, &rows, &cols, err);
    if (rc)
        return rc;
    if ((rc = act_check_layer(m, layer, rows, cols, err))) {
        free(buf);
        return rc;
    }
    if (cols < D) {
        free(buf);
        return tdi_err_set(err, TDI_EFORMAT, "%s: D = %zu is larger than the layer's %zu "
                           "channels (shape [%zu, %zu])", path, D, cols, rows, cols);
    }
    for (size_t i = 0; i < n; i++)
        memmove(buf + i * D, buf + i * cols, D * sizeof *buf);
    *out = buf;
    *cols_out = cols;
    return hash_into(h, path, err);
}

/* [C_out, C_in, 3, 3] conv weight -> (C_out, C_in*9) cropped to D x D */
static int read_weight(const char *dir, const char *layer, size_t D, double **out, uint64_t *h,
                       tdi_err *err)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/w_%s.npy", dir, layer);
    tdi_npy a;
    int rc = tdi_npy_read(path, &a, err);
    if (rc)
        return rc;
    if (a.ndim != 4 || a.shape[2] != 3 || a.shape[3] != 3) {
        char sh[128] = "";
        for (int i = 0; i < a.ndim; i++)
            snprintf(sh + strlen(sh), sizeof sh - strlen(sh), "%s%zu", i ? ", " : "", a.shape[i]);
        tdi_npy_destroy(&a);
        return tdi_err_set(err, TDI_EFORMAT, "%s: shape [%s], expected [C_out, C_in, 3, 3]",
                           path, sh);
    }
    size_t cout = a.shape[0], cin9 = a.shape[1] * 9;
    if (D > cout || D > cin9) {
        tdi_npy_destroy(&a);
        return tdi_err_set(err, TDI_EFORMAT, "%s: D = %zu is larger than the layer's channels "
                           "(weight reshaped to [%zu, %zu])", path, D, cout, cin9);
    }
    double *W = malloc(D * D * sizeof *W);
    if (!W) {
        tdi_npy_destroy(&a);
        return tdi_err_set(err, TDI_ENOMEM, "%s: out of memory", path);
    }
    for (size_t i = 0; i < cout * cin9; i++) {
        double v = a.dtype == TDI_NPY_F32 ? (double)((const float *)a.data)[i]
                                          : ((const double *)a.data)[i];
        if (!isfinite(v)) {
            free(W);
            tdi_npy_destroy(&a);
            return tdi_err_set(err, TDI_ENUM, "%s: element %zu is not finite", path, i);
        }
        size_t r = i / cin9, c = i % cin9;
        if (r < D && c < D)
            W[r * D + c] = v;
    }
    tdi_npy_destroy(&a);
    *out = W;
    return hash_into(h, path, err);
}

int tdi_sub_act_read(const char *dir, const char *split, long n, long t, long pool,
                     const char *enc, const char *dec, size_t D, int want_weights,
                     tdi_sub_act *a, tdi_err *err)
{
    memset(a, 0, sizeof *a);
    a->hash = TDI_HASH_INIT;
    a->D = D;
    act_manifest *m = malloc(sizeof *m);
    if (!m)
        return tdi_err_set(err, TDI_ENOMEM, "%s: out of memory", dir);
    int rc = read_manifest(dir, split, n, t, pool, a, m, err);
    if (!rc)
        rc = read_layer(dir, enc, a->n, D, m, &a->x, &a->enc_cols, &a->hash, err);
    if (!rc)
        rc = read_layer(dir, dec, a->n, D, m, &a->d, &a->dec_cols, &a->hash, err);
    free(m);
    if (!rc && want_weights)
        rc = read_weight(dir, enc, D, &a->Wenc, &a->hash, err);
    if (!rc && want_weights)
        rc = read_weight(dir, dec, D, &a->Wdec, &a->hash, err);
    if (rc)
        tdi_sub_act_destroy(a);
    return rc;
}

/* ------------------------------------------------------------------ bundle check */

/* "[a, b, c]" of an array's shape into buf. */
static void shape_text(const tdi_npy *a, char *buf, size_t size)
{
    size_t o = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < a->ndim && o < size; i++)
        o += (size_t)snprintf(buf + o, size - o, "%s%zu", i ? ", " : "", a->shape[i]);
    if (o < size)
        snprintf(buf + o, size - o, "]");
}

/* Index of the first non-finite element of a, or -1. */
static long first_nonfinite(const tdi_npy *a)
{
    for (size_t i = 0; i < a->count; i++) {
        double v = a->dtype == TDI_NPY_F32 ? (double)((const float *)a->data)[i]
                                           : ((const double *)a->data)[i];
        if (!isfinite(v))
            return (long)i;
    }
    return -1;
}

/* One array of an activation bundle: read whole, shape against the manifest (layers) or the
 * conv-weight form (w_*), every element finite; one line to out. */
static int check_array(const char *dir, const char *file, const act_manifest *m, int layer_i,
                       uint64_t *h, FILE *out, tdi_err *err)
{
    char path[1100], sh[128];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    tdi_npy a;
    int rc = tdi_npy_read(path, &a, err);
    if (rc)
        return rc;
    shape_text(&a, sh, sizeof sh);
    long bad = first_nonfinite(&a);
    if (bad >= 0)
        rc = tdi_err_set(err, TDI_ENUM, "%s: element %ld is not finite", path, bad);
    else if (layer_i >= 0 && a.ndim != 2)
        rc = tdi_err_set(err, TDI_EFORMAT, "%s: shape %s, expected [n, columns]", path, sh);
    else if (layer_i >= 0)
        rc = act_check_layer(m, act_layer_names[layer_i], a.shape[0], a.shape[1], err);
    else if (a.ndim != 4 || a.shape[2] != 3 || a.shape[3] != 3)
        rc = tdi_err_set(err, TDI_EFORMAT, "%s: shape %s, expected [C_out, C_in, 3, 3]", path,
                         sh);
    if (!rc)
        fprintf(out, "  %-12s %s %s, finite\n", file, a.dtype == TDI_NPY_F32 ? "<f4" : "<f8",
                sh);
    tdi_npy_destroy(&a);
    return rc ? rc : hash_into(h, path, err);
}

int tdi_sub_act_check(const char *dir, FILE *out, tdi_err *err)
{
    tdi_sub_act a;
    memset(&a, 0, sizeof a);
    a.hash = TDI_HASH_INIT;
    act_manifest *m = malloc(sizeof *m);
    if (!m)
        return tdi_err_set(err, TDI_ENOMEM, "%s: out of memory", dir);
    int rc = read_manifest(dir, NULL, -1, -1, -1, &a, m, err);
    if (!rc)
        fprintf(out, "%s: activation bundle, n = %zu, t = %ld, pool = %ld, channels = %ld%s%s\n",
                dir, a.n, a.t, a.pool, m->channels, a.ckpt_hash[0] ? ", checkpoint_hash " : "",
                a.ckpt_hash);
    for (int i = 0; !rc && i < ACT_NLAYERS; i++) {
        if (!m->nshape[i])
            continue;
        char file[32];
        snprintf(file, sizeof file, "%s.npy", act_layer_names[i]);
        rc = check_array(dir, file, m, i, &a.hash, out, err);
        char wpath[1100];
        snprintf(file, sizeof file, "w_%s.npy", act_layer_names[i]);
        snprintf(wpath, sizeof wpath, "%s/%s", dir, file);
        if (!rc && access(wpath, F_OK) == 0) /* weights are optional (paper mode reads them) */
            rc = check_array(dir, file, m, -1, &a.hash, out, err);
    }
    free(m);
    if (!rc) {
        char hex[17];
        tdi_hash_hex(a.hash, hex);
        fprintf(out, "  hash %s (FNV-1a 64 over the manifest and the arrays listed)\n", hex);
    }
    return rc;
}

/* ------------------------------------------------------------------ substrate bundle */

/* The fit's two-module substrate in the model of common/tdi_bundle.h (arrays borrowed). */
static void to_model(const tdi_sub_bundle *b, tdi_bundle *m)
{
    memset(m, 0, sizeof *m);
    snprintf(m->preset, sizeof m->preset, "%s", b->preset);
    snprintf(m->mode, sizeof m->mode, "%s", b->mode);
    m->n_mod = 2;
    m->n_cpl = 1;
    m->n = b->n;
    const double *J[2] = {b->Jenc, b->Jdec}, *A[2] = {b->A, b->B}, *bias[2] = {b->benc, b->bdec};
    const char *layer[2] = {b->enc, b->dec};
    for (int i = 0; i < 2; i++) {
        tdi_bundle_module *md = &m->mod[i];
        snprintf(md->name, sizeof md->name, "%s", i ? "dec" : "enc");
        snprintf(md->layer, sizeof md->layer, "%s", layer[i]);
        md->D = b->D;
        md->readout = i == 1;
        md->J = (double *)J[i];
        md->A = (double *)A[i];
        md->bias = (double *)bias[i];
    }
    m->cpl[0] = (tdi_bundle_coupling){0, 1, 0, b->k, (double *)b->P, (double *)b->Q, NULL};
    m->M = (double *)b->M;
    m->analytic = (double *)b->analytic;
    m->c = (double *)b->c;
    m->x = (double *)b->x;
    m->x_cols = b->D;
    m->truth = (double *)b->truth;
    m->mean_fit = (double *)b->mean_fit;
    m->gain = (double *)b->gain;
    const tdi_sub_mlp *net[2] = {b->enc_net, b->tr_net};
    for (int i = 0; i < 2; i++) {
        m->iface[4 * i] = net[i]->w1;
        m->iface[4 * i + 1] = net[i]->b1;
        m->iface[4 * i + 2] = net[i]->w2;
        m->iface[4 * i + 3] = net[i]->b2;
    }
    m->J2 = b->J2;
    m->kT = b->kT;
    m->t = b->t;
    m->lambda_min = b->lambda_min;
    m->lambda_max = b->lambda_max;
    tdi_hash_hex(b->fit_hash, m->fit_hash);
    tdi_hash_hex(b->test_hash, m->test_hash);
    m->seed = m->intra_rank = -1;
    m->metrics_json = b->metrics_json ? b->metrics_json : "{}\n";
}

int tdi_sub_bundle_write(const char *dir, const tdi_sub_bundle *b, tdi_err *err)
{
    const tdi_sub_mlp *e = b->enc_net, *t = b->tr_net;
    if (e->in != b->D || e->hidden != 4 || e->out != b->D || t->in != b->D ||
        t->hidden != 16 || t->out != b->D)
        return tdi_err_set(err, TDI_EARG, "writing substrate bundle %s: interface networks "
                           "%zu-%zu-%zu and %zu-%zu-%zu, the format has D-4-D and D-16-D "
                           "(D = %zu)", dir, e->in, e->hidden, e->out, t->in, t->hidden, t->out,
                           b->D);
    tdi_bundle m;
    to_model(b, &m);
    return tdi_bundle_write(dir, &m, err);
}
