/* tdi_io: all-or-nothing files and directory bundles, whole-file reads, FNV-1a 64 hashes.
 * Invariant: a final path either keeps its old content or gets the complete new content; the
 * temporaries ("<path>.tmp.<pid>") are removed on every failure path we control.
 * Non-goals: crash consistency of the parent directory entry beyond rename(2) semantics
 * (we fsync files, not directories), locking between processes, crypto-strength hashes. */
#include "tdi_io.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

int tdi_atomic_open(tdi_atomic_file *af, const char *path, tdi_err *err)
{
    if (!af || !path || !path[0])
        return tdi_err_set(err, TDI_EARG, "tdi_atomic_open: empty path");
    memset(af, 0, sizeof *af);
    size_t len = strlen(path);
    if (len >= sizeof af->path)
        return tdi_err_set(err, TDI_EARG, "%s: path too long", path);
    memcpy(af->path, path, len + 1);
    snprintf(af->tmp, sizeof af->tmp, "%s.tmp.%ld", path, (long)getpid());
    af->f = fopen(af->tmp, "wb");
    if (!af->f) {
        int e = errno;
        af->tmp[0] = '\0';
        return tdi_err_set(err, TDI_EIO, "%s: cannot create temporary file: %s", path,
                           strerror(e));
    }
    return TDI_OK;
}

int tdi_atomic_commit(tdi_atomic_file *af, tdi_err *err)
{
    if (!af || !af->f)
        return tdi_err_set(err, TDI_EARG, "tdi_atomic_commit: file not open");
    FILE *f = af->f;
    af->f = NULL;
    const char *what = NULL;
    int e = 0;
    if (ferror(f)) {
        what = "write failed";
        e = EIO;
    } else if (fflush(f) != 0) {
        what = "flush failed";
        e = errno;
    } else if (fsync(fileno(f)) != 0) {
        what = "fsync failed";
        e = errno;
    }
    if (fclose(f) != 0 && !what) {
        what = "close failed";
        e = errno;
    }
    if (!what && rename(af->tmp, af->path) != 0) {
        what = "rename failed";
        e = errno;
    }
    if (what) {
        remove(af->tmp);
        af->tmp[0] = '\0';
        return tdi_err_set(err, TDI_EIO, "%s: %s: %s", af->path, what, strerror(e));
    }
    af->tmp[0] = '\0';
    return TDI_OK;
}

int tdi_atomic_write_text(const char *path, const char *text, tdi_err *err)
{
    tdi_atomic_file af;
    int rc = tdi_atomic_open(&af, path, err);
    if (rc)
        return rc;
    fputs(text, af.f);
    return tdi_atomic_commit(&af, err);
}

void tdi_atomic_abort(tdi_atomic_file *af)
{
    if (!af)
        return;
    if (af->f) {
        fclose(af->f);
        af->f = NULL;
    }
    if (af->tmp[0]) {
        remove(af->tmp);
        af->tmp[0] = '\0';
    }
}

int tdi_file_read_all(const char *path, char **buf, size_t *size, tdi_err *err)
{
    if (!path || !buf)
        return tdi_err_set(err, TDI_EARG, "tdi_file_read_all: bad arguments");
    *buf = NULL;
    if (size)
        *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return tdi_err_set(err, TDI_EIO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    if (!b) {
        fclose(f);
        return tdi_err_set(err, TDI_ENOMEM, "%s: out of memory", path);
    }
    for (;;) {
        if (cap - n < 2) {
            char *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                fclose(f);
                return tdi_err_set(err, TDI_ENOMEM, "%s: out of memory at %zu bytes", path, n);
            }
            b = nb;
            cap *= 2;
        }
        size_t got = fread(b + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(b);
        return tdi_err_set(err, TDI_EIO, "%s: read error after %zu bytes", path, n);
    }
    b[n] = '\0';
    *buf = b;
    if (size)
        *size = n;
    return TDI_OK;
}

uint64_t tdi_hash_bytes(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

int tdi_hash_file_feed(const char *path, uint64_t *h, tdi_err *err)
{
    if (!path || !h)
        return tdi_err_set(err, TDI_EARG, "tdi_hash_file_feed: bad arguments");
    FILE *f = fopen(path, "rb");
    if (!f)
        return tdi_err_set(err, TDI_EIO, "%s: cannot open: %s", path, strerror(errno));
    uint64_t acc = *h;
    unsigned char b[1 << 16];
    size_t got;
    while ((got = fread(b, 1, sizeof b, f)) > 0)
        acc = tdi_hash_bytes(acc, b, got);
    int bad = ferror(f);
    fclose(f);
    if (bad)
        return tdi_err_set(err, TDI_EIO, "%s: read error", path);
    *h = acc;
    return TDI_OK;
}

int tdi_hash_file(const char *path, uint64_t *out, tdi_err *err)
{
    if (!out)
        return tdi_err_set(err, TDI_EARG, "tdi_hash_file: bad arguments");
    uint64_t h = TDI_HASH_INIT;
    int rc = tdi_hash_file_feed(path, &h, err);
    if (!rc)
        *out = h;
    return rc;
}

void tdi_hash_hex(uint64_t h, char out[17])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 15; i >= 0; i--) {
        out[i] = hex[h & 0xf];
        h >>= 4;
    }
    out[16] = '\0';
}

int tdi_mkdirs(const char *path, tdi_err *err)
{
    if (!path || !path[0])
        return tdi_err_set(err, TDI_EARG, "tdi_mkdirs: empty path");
    char p[PATH_MAX];
    size_t len = strlen(path);
    if (len >= sizeof p)
        return tdi_err_set(err, TDI_EARG, "%s: path too long", path);
    memcpy(p, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char c = p[i];
        p[i] = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST)
            return tdi_err_set(err, TDI_EIO, "%s: cannot create %s: %s", path, p,
                               strerror(errno));
        p[i] = c;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return tdi_err_set(err, TDI_EIO, "%s: exists and is not a directory", path);
    return TDI_OK;
}
