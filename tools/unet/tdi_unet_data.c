/* tdi_unet_data: IDX + gzip reader (zlib's gz* API reads plain files too) and the padded
 * [-1, 1] image conversion. */
#include "tdi_unet_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

/* Reads n bytes at stream offset offset; a short stream is "truncated" against expect_end, the
 * offset where what should end. */
static int gz_read_exact(gzFile f, void *buf, size_t n, const char *path, size_t offset,
                         size_t expect_end, const char *what, tdi_err *err)
{
    size_t got = 0;
    while (got < n) {
        size_t want = n - got > (1u << 30) ? (1u << 30) : n - got;
        int r = gzread(f, (char *)buf + got, (unsigned)want);
        if (r < 0) {
            int zerr = 0;
            const char *msg = gzerror(f, &zerr);
            return tdi_err_set(err, TDI_EFORMAT, "%s: corrupt gzip stream at byte %zu of %s: %s",
                               path, offset + got, what, msg ? msg : "?");
        }
        if (r == 0) {
            int zerr = 0;
            const char *msg = gzerror(f, &zerr);
            if (zerr != Z_OK && zerr != Z_STREAM_END)
                return tdi_err_set(err, TDI_EFORMAT,
                                   "%s: corrupt gzip stream at byte %zu of %s: %s", path,
                                   offset + got, what, msg ? msg : "?");
            return tdi_err_set(err, TDI_EFORMAT,
                               "%s: truncated: %s ends at byte %zu, expected %zu bytes", path,
                               what, offset + got, expect_end);
        }
        got += (size_t)r;
    }
    return TDI_OK;
}

/* Reads the total payload bytes into a malloc'd *data that grows with what the stream holds
 * (doubling from 1 MiB): a 17-byte file whose header claims 3 GB fails as truncated, not as an
 * allocation of 3 GB (found by tests/fuzz/fuzz_idx.c). */
static int idx_read_payload(gzFile f, uint8_t **data, size_t total, const char *path,
                            size_t off, tdi_err *err)
{
    size_t have = 0, cap = 0;
    while (have < total) {
        size_t ncap = cap ? 2 * cap : (size_t)1 << 20;
        if (ncap > total)
            ncap = total;
        uint8_t *nd = realloc(*data, ncap);
        if (!nd)
            return tdi_err_set(err, TDI_ENOMEM, "%s: out of memory for %zu bytes", path, ncap);
        *data = nd;
        cap = ncap;
        int rc = gz_read_exact(f, *data + have, cap - have, path, off + have, off + total,
                               "the IDX payload", err);
        if (rc)
            return rc;
        have = cap;
    }
    return TDI_OK;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

int tdi_unet_idx_read(const char *path, uint8_t **data, int *ndim, uint32_t dims[3],
                      tdi_err *err)
{
    *data = NULL;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return tdi_err_set(err, TDI_EIO, "%s: cannot open (is dataset-fashion-mnist installed?)",
                           path);
    int rc;
    unsigned char hdr[16];
    if ((rc = gz_read_exact(f, hdr, 4, path, 0, 4, "the IDX magic", err)))
        goto out;
    uint32_t magic = be32(hdr);
    if (magic != 0x00000801u && magic != 0x00000803u) {
        rc = tdi_err_set(err, TDI_EFORMAT,
                         "%s: byte 0: bad IDX magic 0x%08x (want 0x00000801 or 0x00000803)", path,
                         magic);
        goto out;
    }
    *ndim = (int)(magic & 0xff);
    if ((rc = gz_read_exact(f, hdr + 4, 4 * (size_t)*ndim, path, 4, 4 + 4 * (size_t)*ndim,
                              "the IDX dimensions", err)))
        goto out;
    size_t total = 1;
    for (int i = 0; i < *ndim; i++) {
        dims[i] = be32(hdr + 4 + 4 * i);
        if (dims[i] == 0 || dims[i] > 10000000u) {
            rc = tdi_err_set(err, TDI_EFORMAT, "%s: byte %d: implausible dimension %u", path,
                             4 + 4 * i, dims[i]);
            goto out;
        }
        total *= dims[i];
    }
    if (total > (size_t)1 << 32) {
        rc = tdi_err_set(err, TDI_EFORMAT, "%s: implausible size %zu", path, total);
        goto out;
    }
    const size_t off = 4 + 4 * (size_t)*ndim;
    if ((rc = idx_read_payload(f, data, total, path, off, err)))
        goto out;
    char extra;
    int r = gzread(f, &extra, 1);
    if (r != 0) {
        rc = r > 0 ? tdi_err_set(err, TDI_EFORMAT, "%s: trailing data after byte %zu", path,
                                 off + total)
                   : tdi_err_set(err, TDI_EFORMAT, "%s: corrupt gzip stream after byte %zu",
                                 path, off + total);
        goto out;
    }
    /* gzread returning 0 at EOF does not verify the gzip trailer on every zlib: check. */
    int zerr = 0;
    gzerror(f, &zerr);
    if (zerr != Z_OK && zerr != Z_STREAM_END) {
        rc = tdi_err_set(err, TDI_EFORMAT, "%s: corrupt gzip stream (trailer)", path);
        goto out;
    }
    rc = TDI_OK;
out:
    if (gzclose(f) != Z_OK && rc == TDI_OK)
        rc = tdi_err_set(err, TDI_EFORMAT, "%s: gzip trailer check failed (corrupt file)", path);
    if (rc) {
        free(*data);
        *data = NULL;
    }
    return rc;
}

int tdi_unet_dataset_load(tdi_unet_dataset *ds, const char *dir, const char *split, tdi_err *err)
{
    memset(ds, 0, sizeof *ds);
    const char *pre = strcmp(split, "train") == 0 ? "train" : strcmp(split, "test") == 0 ? "t10k"
                                                                                       : NULL;
    if (!pre)
        return tdi_err_set(err, TDI_EARG, "split '%s': want train or test", split);
    char ip[1024], lp[1024];
    snprintf(ip, sizeof ip, "%s/%s-images-idx3-ubyte.gz", dir, pre);
    snprintf(lp, sizeof lp, "%s/%s-labels-idx1-ubyte.gz", dir, pre);
    uint8_t *img = NULL, *lab = NULL;
    int nd_i = 0, nd_l = 0, rc;
    uint32_t di[3] = {0}, dl[3] = {0};
    if ((rc = tdi_unet_idx_read(ip, &img, &nd_i, di, err)))
        return rc;
    if (nd_i != 3 || di[1] != 28 || di[2] != 28) {
        free(img);
        return tdi_err_set(err, TDI_EFORMAT, "%s: want 28x28 images, got %d dims", ip, nd_i);
    }
    if ((rc = tdi_unet_idx_read(lp, &lab, &nd_l, dl, err))) {
        free(img);
        return rc;
    }
    if (nd_l != 1 || dl[0] != di[0]) {
        free(img);
        free(lab);
        return tdi_err_set(err, TDI_EFORMAT, "%s: %u labels for %u images in %s", lp, dl[0],
                           di[0], ip);
    }
    ds->n = di[0];
    ds->label = lab;
    ds->img = malloc(ds->n * 1024 * sizeof(float));
    if (!ds->img) {
        free(img);
        tdi_unet_dataset_destroy(ds);
        return tdi_err_set(err, TDI_ENOMEM, "out of memory for %zu images", ds->n);
    }
    for (size_t i = 0; i < ds->n; i++) {
        float *o = ds->img + i * 1024;
        for (size_t p = 0; p < 1024; p++)
            o[p] = -1.0f;
        for (size_t y = 0; y < 28; y++)
            for (size_t x = 0; x < 28; x++)
                o[(y + 2) * 32 + x + 2] = img[i * 784 + y * 28 + x] / 127.5f - 1.0f;
    }
    free(img);
    return TDI_OK;
}

void tdi_unet_dataset_destroy(tdi_unet_dataset *ds)
{
    if (!ds)
        return;
    free(ds->img);
    free(ds->label);
    ds->img = NULL;
    ds->label = NULL;
    ds->n = 0;
}
