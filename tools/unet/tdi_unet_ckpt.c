/* tdi_unet_ckpt: the checkpoint format of tdi_unet.h (magic "TDIUNET1", header, float32
 * parameters, optional Adam moments, FNV-1a 64 trailer over all preceding bytes). Written
 * atomically; a truncated or corrupt file is refused with its name and the reason. */
#include <stdlib.h>
#include <string.h>

#include "tdi_io.h"
#include "tdi_unet.h"
#include "tdi_unet_le.h"

#define CKPT_MAGIC "TDIUNET1"
#define CKPT_VERSION 1u
#define CKPT_HDR 56 /* 8 magic + 4*4 + 4*8 */
/* Read bound: the shipped c32 checkpoint is 2.3 MB; a base width of 128 with Adam state stays
 * well below 1 GiB. Longer files are refused by tdi_file_read_max, naming the limit. */
#define CKPT_MAX_BYTES ((size_t)1 << 30)

int tdi_unet_ckpt_save(const char *path, const tdi_unet *m, uint64_t config_hash, uint64_t step,
                       uint64_t epoch, const tdi_unet_adam *adam, tdi_err *err)
{
    unsigned char h[CKPT_HDR];
    memcpy(h, CKPT_MAGIC, 8);
    tdi_unet_put32(h + 8, CKPT_VERSION);
    tdi_unet_put32(h + 12, (uint32_t)m->arch.channels);
    tdi_unet_put32(h + 16, (uint32_t)m->arch.groups);
    tdi_unet_put32(h + 20, adam ? 1u : 0u);
    tdi_unet_put64(h + 24, m->n_params);
    tdi_unet_put64(h + 32, config_hash);
    tdi_unet_put64(h + 40, step);
    tdi_unet_put64(h + 48, epoch);
    tdi_atomic_file af;
    int rc = tdi_atomic_open(&af, path, err);
    if (rc)
        return rc;
    uint64_t hash = TDI_HASH_INIT;
    const size_t nb = m->n_params * sizeof(float);
    hash = tdi_hash_bytes(hash, h, sizeof h);
    fwrite(h, 1, sizeof h, af.f);
    hash = tdi_hash_bytes(hash, m->params, nb);
    fwrite(m->params, 1, nb, af.f);
    if (adam) {
        hash = tdi_hash_bytes(hash, adam->m, nb);
        fwrite(adam->m, 1, nb, af.f);
        hash = tdi_hash_bytes(hash, adam->v, nb);
        fwrite(adam->v, 1, nb, af.f);
    }
    unsigned char t[8];
    tdi_unet_put64(t, hash);
    fwrite(t, 1, 8, af.f);
    return tdi_atomic_commit(&af, err);
}

static int parse_header(const char *path, const unsigned char *buf, size_t size,
                        tdi_unet_ckpt_info *info, tdi_err *err)
{
    if (size < CKPT_HDR)
        return tdi_err_set(err, TDI_EFORMAT, "%s: truncated checkpoint (%zu bytes, header is %d)",
                           path, size, CKPT_HDR);
    if (memcmp(buf, CKPT_MAGIC, 8) != 0)
        return tdi_err_set(err, TDI_EFORMAT, "%s: byte 0: not a tdi U-Net checkpoint (bad magic)",
                           path);
    uint32_t ver = tdi_unet_get32(buf + 8);
    if (ver != CKPT_VERSION)
        return tdi_err_set(err, TDI_EFORMAT, "%s: byte 8: checkpoint version %u, this tdi reads %u",
                           path, ver, CKPT_VERSION);
    info->channels = tdi_unet_get32(buf + 12);
    info->groups = tdi_unet_get32(buf + 16);
    info->flags = tdi_unet_get32(buf + 20);
    info->n_params = tdi_unet_get64(buf + 24);
    info->config_hash = tdi_unet_get64(buf + 32);
    info->step = tdi_unet_get64(buf + 40);
    info->epoch = tdi_unet_get64(buf + 48);
    if (info->flags > 1u || info->n_params == 0 || info->n_params > ((uint64_t)1 << 32))
        return tdi_err_set(err, TDI_EFORMAT, "%s: byte 20: implausible header (flags %u, %llu "
                           "parameters)", path, info->flags, (unsigned long long)info->n_params);
    const uint64_t want = CKPT_HDR + info->n_params * 4 * (info->flags & 1u ? 3 : 1) + 8;
    if ((uint64_t)size != want)
        return tdi_err_set(err, TDI_EFORMAT,
                           "%s: %s checkpoint: %zu bytes, the header implies %llu", path,
                           (uint64_t)size < want ? "truncated" : "oversized", size,
                           (unsigned long long)want);
    return TDI_OK;
}

int tdi_unet_ckpt_peek(const char *path, tdi_unet_ckpt_info *info, tdi_err *err)
{
    char *buf = NULL;
    size_t size = 0;
    int rc = tdi_file_read_max(path, CKPT_MAX_BYTES, &buf, &size, err);
    if (rc)
        return rc;
    rc = parse_header(path, (unsigned char *)buf, size, info, err);
    free(buf);
    return rc;
}

int tdi_unet_ckpt_load(const char *path, tdi_unet *m, tdi_unet_adam *adam,
                       tdi_unet_ckpt_info *info_out, tdi_err *err)
{
    char *buf = NULL;
    size_t size = 0;
    int rc = tdi_file_read_max(path, CKPT_MAX_BYTES, &buf, &size, err);
    if (rc)
        return rc;
    const unsigned char *b = (const unsigned char *)buf;
    tdi_unet_ckpt_info info;
    if ((rc = parse_header(path, b, size, &info, err)))
        goto out;
    if (tdi_hash_bytes(TDI_HASH_INIT, b, size - 8) != tdi_unet_get64(b + size - 8)) {
        rc = tdi_err_set(err, TDI_EFORMAT, "%s: checksum mismatch: the file is corrupt", path);
        goto out;
    }
    if (info.channels != m->arch.channels || info.groups != m->arch.groups ||
        info.n_params != m->n_params) {
        rc = tdi_err_set(err, TDI_EFORMAT,
                         "%s: architecture mismatch: checkpoint has channels %u, groups %u, %llu "
                         "parameters; the model has channels %zu, groups %zu, %zu parameters",
                         path, info.channels, info.groups, (unsigned long long)info.n_params,
                         m->arch.channels, m->arch.groups, m->n_params);
        goto out;
    }
    const size_t nb = m->n_params * sizeof(float);
    memcpy(m->params, b + CKPT_HDR, nb);
    for (size_t i = 0; i < m->n_params; i++)
        if (!(m->params[i] == m->params[i]) || m->params[i] > 3e38f || m->params[i] < -3e38f) {
            rc = tdi_err_set(err, TDI_ENUM, "%s: parameter %zu is not finite", path, i);
            goto out;
        }
    if (adam) {
        if (!(info.flags & 1u)) {
            rc = tdi_err_set(err, TDI_EFORMAT, "%s: has no optimizer state (a weights-only "
                             "checkpoint cannot resume training)", path);
            goto out;
        }
        memcpy(adam->m, b + CKPT_HDR + nb, nb);
        memcpy(adam->v, b + CKPT_HDR + 2 * nb, nb);
        adam->step = (long)info.step;
    }
    if (info_out)
        *info_out = info;
    rc = TDI_OK;
out:
    free(buf);
    return rc;
}
