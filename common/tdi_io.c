/* tdi_io: all-or-nothing files and directory bundles, whole-file reads, FNV-1a 64 hashes.
 * Invariant: a final path either keeps its old content or gets the complete new content; the
 * temporaries ("<path>.tmp.<pid>") are removed on every failure path we control.
 * Non-goals: crash consistency of the parent directory entry beyond rename(2) semantics
 * (we fsync files, not directories), locking between processes, crypto-strength hashes. */
#include "tdi_io.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* The stream under an atomic file: write(2) on fd, remembering the errno of the first
 * failure (stdio only keeps an error flag, and errno is overwritten before commit). */
typedef struct io_sink {
    int fd;
    int werr;
} io_sink;

static ssize_t io_sink_write(void *c, const char *buf, size_t n)
{
    io_sink *s = c;
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(s->fd, buf + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (!s->werr)
                s->werr = w < 0 ? errno : EIO;
            return done ? (ssize_t)done : -1;
        }
        done += (size_t)w;
    }
    return (ssize_t)n;
}

static int io_sink_seek(void *c, off64_t *pos, int whence)
{
    off64_t r = lseek(((io_sink *)c)->fd, *pos, whence);
    if (r < 0)
        return -1;
    *pos = r;
    return 0;
}

/* The fd stays open: commit fsyncs and closes it itself, to report each step's errno. */
static int io_sink_close(void *c)
{
    (void)c;
    return 0;
}

static void io_sink_free(tdi_atomic_file *af)
{
    io_sink *s = af->sink;
    if (s && s->fd >= 0)
        close(s->fd);
    free(s);
    af->sink = NULL;
}

int tdi_atomic_open(tdi_atomic_file *af, const char *path, tdi_err *err)
{
    if (!af || !path || !path[0])
        return tdi_err_set(err, TDI_EARG, "tdi_atomic_open: empty path");
    memset(af, 0, sizeof *af);
    size_t len = strlen(path);
    if (len >= sizeof af->path)
        return tdi_err_set(err, TDI_EARG, "%s: path longer than %zu bytes: refusing it rather "
                           "than cutting it", path, sizeof af->path - 1);
    memcpy(af->path, path, len + 1);
    snprintf(af->tmp, sizeof af->tmp, "%s.tmp.%ld", path, (long)getpid());
    io_sink *s = calloc(1, sizeof *s);
    if (!s) {
        af->tmp[0] = '\0';
        return tdi_err_set(err, TDI_ENOMEM, "%s: out of memory", path);
    }
    s->fd = open(af->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (s->fd < 0) {
        int e = errno;
        free(s);
        tdi_err_set(err, TDI_EIO, "%s: cannot create temporary file %s: %s", path, af->tmp,
                    strerror(e));
        af->tmp[0] = '\0';
        return TDI_EIO;
    }
    af->sink = s;
    cookie_io_functions_t fns = {NULL, io_sink_write, io_sink_seek, io_sink_close};
    af->f = fopencookie(s, "wb", fns);
    if (!af->f) {
        int e = errno;
        tdi_atomic_abort(af);
        return tdi_err_set(err, TDI_EIO, "%s: cannot open a stream: %s", path, strerror(e));
    }
    return TDI_OK;
}

/* Flush, fsync, close, rename: the first step that fails and its errno (0 when none). */
static const char *io_commit_steps(tdi_atomic_file *af, FILE *f, int *e)
{
    io_sink *s = af->sink;
    const char *what = NULL;
    *e = 0;
    if (ferror(f) || fflush(f) != 0) {
        what = "write failed";
        *e = s->werr; /* the errno of write(2) itself; EIO below when the sink saw none */
    }
    if (!what && fsync(s->fd) != 0) {
        what = "fsync failed";
        *e = errno;
    }
    fclose(f); /* the cookie's close does nothing: the fd is closed here */
    int fd = s->fd;
    s->fd = -1;
    if (close(fd) != 0 && !what) {
        what = "close failed";
        *e = errno;
    }
    if (!what && rename(af->tmp, af->path) != 0) {
        what = "rename failed";
        *e = errno;
    }
    if (what && !*e)
        *e = EIO;
    return what;
}

int tdi_atomic_commit(tdi_atomic_file *af, tdi_err *err)
{
    if (!af || !af->f || !af->sink)
        return tdi_err_set(err, TDI_EARG, "tdi_atomic_commit: file not open");
    FILE *f = af->f;
    af->f = NULL;
    int e = 0;
    const char *what = io_commit_steps(af, f, &e);
    io_sink_free(af);
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
    io_sink_free(af);
    if (af->tmp[0]) {
        remove(af->tmp);
        af->tmp[0] = '\0';
    }
}

int tdi_file_read_max(const char *path, size_t max, char **buf, size_t *size, tdi_err *err)
{
    if (!path || !buf || max == SIZE_MAX)
        return tdi_err_set(err, TDI_EARG, "tdi_file_read_max: bad arguments");
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
        size_t want = cap - n - 1;
        if (want > max + 1 - n)
            want = max + 1 - n; /* one byte past the limit tells a longer file */
        size_t got = fread(b + n, 1, want, f);
        n += got;
        if (got == 0 || n > max)
            break;
    }
    int bad = ferror(f), e = errno;
    fclose(f);
    if (bad || n > max) {
        free(b);
        if (bad)
            return tdi_err_set(err, TDI_EIO, "%s: read error after %zu bytes: %s", path, n,
                               strerror(e));
        return tdi_err_set(err, TDI_EFORMAT, "%s: larger than %zu bytes (the limit for this "
                           "file): refusing to read it", path, max);
    }
    b[n] = '\0';
    *buf = b;
    if (size)
        *size = n;
    return TDI_OK;
}

int tdi_file_read_all(const char *path, char **buf, size_t *size, tdi_err *err)
{
    return tdi_file_read_max(path, TDI_READ_MAX_TEXT, buf, size, err);
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
    int bad = ferror(f), e = errno;
    fclose(f);
    if (bad)
        return tdi_err_set(err, TDI_EIO, "%s: read error: %s", path, strerror(e));
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
