/* tdi_io: all-or-nothing files and directory bundles, whole-file reads, FNV-1a 64 hashes.
 * Invariant: a final path either keeps its old content or gets the complete new content; the
 * temporaries ("<path>.tmp.<pid>") are removed on every failure path we control.
 * Non-goals: crash consistency of the parent directory entry beyond rename(2) semantics
 * (we fsync files, not directories), locking between processes, crypto-strength hashes. */
#include "tdi_io.h"

#include <errno.h>
#include <ftw.h>
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

/* nftw callback: removes every entry, children first (FTW_DEPTH). */
static int io_rm_entry(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    return remove(p) != 0 && errno != ENOENT ? -1 : 0;
}

/* rm -rf path; 0 when it is gone (or never existed). */
static int io_rmtree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return remove(path);
    return nftw(path, io_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int tdi_dir_begin(const char *dir, char *tmp, size_t tmpsz, tdi_err *err)
{
    if (!dir || !dir[0] || !tmp || tmpsz == 0)
        return tdi_err_set(err, TDI_EARG, "tdi_dir_begin: bad arguments");
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--; /* "out/" and "out" name the same bundle */
    int w = snprintf(tmp, tmpsz, "%.*s.tmp.%ld", (int)len, dir, (long)getpid());
    if (w < 0 || (size_t)w >= tmpsz)
        return tdi_err_set(err, TDI_EARG, "%s: temporary path does not fit in %zu bytes", dir,
                           tmpsz);
    if (io_rmtree(tmp) != 0)
        return tdi_err_set(err, TDI_EIO, "%s: cannot remove stale %s: %s", dir, tmp,
                           strerror(errno));
    /* the parent may not exist yet: create it, then the temporary itself */
    char parent[PATH_MAX];
    if (len < sizeof parent) {
        memcpy(parent, dir, len);
        parent[len] = '\0';
        char *slash = strrchr(parent, '/');
        if (slash && slash != parent) {
            *slash = '\0';
            int rc = tdi_mkdirs(parent, err);
            if (rc)
                return rc;
        }
    }
    if (mkdir(tmp, 0777) != 0)
        return tdi_err_set(err, TDI_EIO, "%s: cannot create %s: %s", dir, tmp, strerror(errno));
    return TDI_OK;
}

int tdi_dir_commit(const char *tmp, const char *dir_in, tdi_err *err)
{
    if (!tmp || !dir_in || !tmp[0] || !dir_in[0])
        return tdi_err_set(err, TDI_EARG, "tdi_dir_commit: bad arguments");
    char dir[PATH_MAX], old[PATH_MAX + 32];
    size_t len = strlen(dir_in);
    while (len > 1 && dir_in[len - 1] == '/')
        len--; /* "out/" -> "out", so that "out.old.<pid>" is a sibling, not a child */
    if (len >= sizeof dir)
        return tdi_err_set(err, TDI_EARG, "%s: path too long", dir_in);
    memcpy(dir, dir_in, len);
    dir[len] = '\0';
    snprintf(old, sizeof old, "%s.old.%ld", dir, (long)getpid());
    struct stat st;
    int had_old = 0;
    if (lstat(dir, &st) == 0) {
        if (io_rmtree(old) != 0)
            return tdi_err_set(err, TDI_EIO, "%s: cannot remove stale %s: %s", dir, old,
                               strerror(errno));
        if (rename(dir, old) != 0)
            return tdi_err_set(err, TDI_EIO, "%s: cannot move old bundle aside: %s", dir,
                               strerror(errno));
        had_old = 1;
    } else if (errno != ENOENT) {
        return tdi_err_set(err, TDI_EIO, "%s: %s", dir, strerror(errno));
    }
    if (rename(tmp, dir) != 0) {
        int e = errno;
        if (had_old)
            rename(old, dir); /* put the old bundle back; best effort */
        return tdi_err_set(err, TDI_EIO, "%s: cannot rename %s into place: %s", dir, tmp,
                           strerror(e));
    }
    if (had_old && io_rmtree(old) != 0)
        return tdi_err_set(err, TDI_EIO, "%s: new bundle in place but cannot delete %s: %s", dir,
                           old, strerror(errno));
    return TDI_OK;
}

void tdi_dir_abort(const char *tmp)
{
    if (tmp && tmp[0])
        io_rmtree(tmp);
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
