/* tdi_npy: reader and writer for NumPy .npy v1.0, '<f4'/'<f8', C order, 0..4 dims.
 * Format (see tdi_npy.h): magic "\x93NUMPY", 1, 0, uint16 LE header length, ASCII dict, padded
 * with spaces and a final '\n' so that 10 + header length is a multiple of 64; raw LE data.
 * Invariants: the reader accepts exactly that (keys in any order, ' or " quotes, optional
 * trailing comma) and nothing else; every error names the file and the byte offset.
 * Non-goals: other dtypes, Fortran order, big-endian hosts, v2/v3 headers, memory mapping. */
#include "tdi_npy.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tdi_io.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "tdi_npy assumes a little-endian host"
#endif

#define NPY_PREFIX 10 /* magic (6) + version (2) + header length (2) */
#define NPY_ALIGN 64  /* NumPy's ARRAY_ALIGN: data offset is a multiple of this */

/* Header parser state: text of the dict, its absolute file offset (for messages). */
typedef struct {
    const char *s;
    size_t n, i;
    const char *path;
} npy_hdr;

static int npy_hdr_err(npy_hdr *h, tdi_err *err, const char *what)
{
    return tdi_err_set(err, TDI_EFORMAT, "%s: byte offset %zu: malformed .npy header: %s",
                       h->path, NPY_PREFIX + h->i, what);
}

static void npy_skip_ws(npy_hdr *h)
{
    while (h->i < h->n && (h->s[h->i] == ' ' || h->s[h->i] == '\t'))
        h->i++;
}

/* Consumes c (after blanks) or fails. */
static int npy_expect(npy_hdr *h, char c, tdi_err *err)
{
    npy_skip_ws(h);
    if (h->i >= h->n || h->s[h->i] != c) {
        char what[64];
        snprintf(what, sizeof what, "expected '%c'", c);
        return npy_hdr_err(h, err, what);
    }
    h->i++;
    return 0;
}

/* A quoted string ('...' or "...") without escapes into out[outsz]. */
static int npy_string(npy_hdr *h, char *out, size_t outsz, tdi_err *err)
{
    npy_skip_ws(h);
    if (h->i >= h->n || (h->s[h->i] != '\'' && h->s[h->i] != '"'))
        return npy_hdr_err(h, err, "expected a quoted string");
    char q = h->s[h->i++];
    size_t k = 0;
    while (h->i < h->n && h->s[h->i] != q) {
        if (h->s[h->i] == '\\' || k + 1 >= outsz)
            return npy_hdr_err(h, err, "unsupported or overlong string");
        out[k++] = h->s[h->i++];
    }
    if (h->i >= h->n)
        return npy_hdr_err(h, err, "unterminated string");
    h->i++;
    out[k] = '\0';
    return 0;
}

/* Shape tuple: "()", "(3,)", "(3, 4)", "(3, 4,)". */
static int npy_shape(npy_hdr *h, tdi_npy *a, tdi_err *err)
{
    if (npy_expect(h, '(', err))
        return TDI_EFORMAT;
    a->ndim = 0;
    for (;;) {
        npy_skip_ws(h);
        if (h->i < h->n && h->s[h->i] == ')') { /* after '(' or after a ',' */
            h->i++;
            return 0;
        }
        if (h->i >= h->n || h->s[h->i] < '0' || h->s[h->i] > '9')
            return npy_hdr_err(h, err, "expected a dimension (non-negative integer)");
        if (a->ndim >= TDI_NPY_MAXDIM)
            return npy_hdr_err(h, err, "more than 4 dimensions");
        size_t v = 0;
        while (h->i < h->n && h->s[h->i] >= '0' && h->s[h->i] <= '9') {
            size_t d = (size_t)(h->s[h->i] - '0');
            if (v > (SIZE_MAX - d) / 10)
                return npy_hdr_err(h, err, "dimension overflows");
            v = v * 10 + d;
            h->i++;
        }
        a->shape[a->ndim++] = v;
        npy_skip_ws(h);
        if (h->i < h->n && h->s[h->i] == ',') {
            h->i++;
            continue;
        }
        npy_skip_ws(h);
        if (h->i >= h->n || h->s[h->i] != ')')
            return npy_hdr_err(h, err, "expected ',' or ')' in shape");
        if (a->ndim == 1)
            return npy_hdr_err(h, err, "1-element shape needs a trailing comma");
    }
}

/* Parses the header dict into a (dtype, ndim, shape). */
static int npy_parse_header(npy_hdr *h, tdi_npy *a, tdi_err *err)
{
    int have_descr = 0, have_order = 0, have_shape = 0;
    if (npy_expect(h, '{', err))
        return TDI_EFORMAT;
    for (;;) {
        npy_skip_ws(h);
        if (h->i < h->n && h->s[h->i] == '}') {
            h->i++;
            break;
        }
        char key[32];
        size_t key_at = h->i;
        if (npy_string(h, key, sizeof key, err) || npy_expect(h, ':', err))
            return TDI_EFORMAT;
        npy_skip_ws(h);
        size_t val_at = h->i;
        if (strcmp(key, "descr") == 0 && !have_descr) {
            char d[32];
            if (npy_string(h, d, sizeof d, err))
                return TDI_EFORMAT;
            if (strcmp(d, "<f4") == 0) {
                a->dtype = TDI_NPY_F32;
            } else if (strcmp(d, "<f8") == 0) {
                a->dtype = TDI_NPY_F64;
            } else {
                h->i = val_at;
                char what[96];
                snprintf(what, sizeof what, "unsupported dtype '%.40s' (only '<f4' and '<f8')",
                         d);
                return npy_hdr_err(h, err, what);
            }
            have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0 && !have_order) {
            if (h->n - h->i >= 5 && memcmp(h->s + h->i, "False", 5) == 0) {
                h->i += 5;
            } else if (h->n - h->i >= 4 && memcmp(h->s + h->i, "True", 4) == 0) {
                return npy_hdr_err(h, err, "fortran_order True is not supported");
            } else {
                return npy_hdr_err(h, err, "fortran_order must be True or False");
            }
            have_order = 1;
        } else if (strcmp(key, "shape") == 0 && !have_shape) {
            if (npy_shape(h, a, err))
                return TDI_EFORMAT;
            have_shape = 1;
        } else {
            h->i = key_at;
            char what[96];
            snprintf(what, sizeof what, "unexpected or repeated key '%.40s'", key);
            return npy_hdr_err(h, err, what);
        }
        npy_skip_ws(h);
        if (h->i < h->n && h->s[h->i] == ',') {
            h->i++;
            continue;
        }
        if (npy_expect(h, '}', err))
            return TDI_EFORMAT;
        break;
    }
    if (!have_descr || !have_order || !have_shape)
        return npy_hdr_err(h, err, "missing 'descr', 'fortran_order' or 'shape'");
    /* after the dict: only padding spaces and the final newline */
    while (h->i < h->n && h->s[h->i] == ' ')
        h->i++;
    if (h->i != h->n - 1 || h->s[h->i] != '\n')
        return npy_hdr_err(h, err, "header must end with spaces and one '\\n'");
    return 0;
}

/* Shape text "(a, b)" of a for messages. */
static void npy_shape_text(const tdi_npy *a, char *buf, size_t n)
{
    int k = snprintf(buf, n, "(");
    for (int d = 0; d < a->ndim && k > 0 && (size_t)k < n; d++)
        k += snprintf(buf + k, n - (size_t)k, d ? ", %zu" : "%zu", a->shape[d]);
    if (k > 0 && (size_t)k < n)
        snprintf(buf + k, n - (size_t)k, a->ndim == 1 ? ",)" : ")");
}

/* a->count = prod(shape) and *nbytes = count * dtype, refusing any product or the end offset
 * data_off + nbytes that does not fit in size_t (overflow-checked: a header may claim any
 * shape). A zero dimension makes the array empty whatever the others are, as in NumPy. */
static int npy_sizes(const char *path, tdi_npy *a, size_t data_off, size_t *nbytes,
                     tdi_err *err)
{
    size_t count = 1, end = 0;
    int empty = 0, over = 0;
    for (int d = 0; d < a->ndim; d++)
        empty |= a->shape[d] == 0;
    for (int d = 0; d < a->ndim && !empty; d++)
        over |= __builtin_mul_overflow(count, a->shape[d], &count);
    if (empty)
        count = 0;
    over = over || __builtin_mul_overflow(count, (size_t)a->dtype, nbytes) ||
           __builtin_add_overflow(data_off, *nbytes, &end);
    if (over) {
        char sh[128];
        npy_shape_text(a, sh, sizeof sh);
        return tdi_err_set(err, TDI_EFORMAT, "%s: byte offset %d: shape too large: %s of "
                           "%d-byte elements does not fit in %zu bytes", path, NPY_PREFIX, sh,
                           (int)a->dtype, (size_t)SIZE_MAX);
    }
    a->count = count;
    return 0;
}

/* Reads the nbytes of data after the header into a new *data. A regular file's size is checked
 * first (nothing is allocated for what a corrupt header claims); from a pipe or device the
 * buffer grows with what actually arrives (doubling from 1 MiB), so a false shape costs at
 * most twice the bytes really read. */
static int npy_read_data(FILE *f, const char *path, size_t data_off, size_t nbytes, void **data,
                         tdi_err *err)
{
    struct stat st;
    int regular = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode);
    if (regular && (uintmax_t)st.st_size < (uintmax_t)data_off + nbytes)
        return tdi_err_set(err, TDI_EFORMAT, "%s: byte offset %jd: file truncated: expected "
                           "%zu bytes (%zu header + %zu data), has %jd", path,
                           (intmax_t)st.st_size, data_off + nbytes, data_off, nbytes,
                           (intmax_t)st.st_size);
    size_t cap = regular || nbytes < ((size_t)1 << 20) ? nbytes : (size_t)1 << 20, got = 0;
    unsigned char *buf = malloc(cap ? cap : 1);
    while (buf) {
        got += fread(buf + got, 1, cap - got, f);
        if (got < cap || cap == nbytes)
            break;
        cap = cap > nbytes / 2 ? nbytes : 2 * cap;
        unsigned char *nb = realloc(buf, cap);
        if (!nb)
            free(buf);
        buf = nb;
    }
    if (!buf)
        return tdi_err_set(err, TDI_ENOMEM, "%s: out of memory for %zu data bytes", path,
                           nbytes);
    *data = buf;
    if (got < nbytes)
        return tdi_err_set(err, TDI_EFORMAT, "%s: byte offset %zu: file truncated: expected "
                           "%zu bytes (%zu header + %zu data), has %zu", path, data_off + got,
                           data_off + nbytes, data_off, nbytes, data_off + got);
    return 0;
}

int tdi_npy_read(const char *path, tdi_npy *out, tdi_err *err)
{
    if (!path || !out)
        return tdi_err_set(err, TDI_EARG, "tdi_npy_read: bad arguments");
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return tdi_err_set(err, TDI_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st; /* fopen "rb" succeeds on a directory; its first read fails with EISDIR */
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return tdi_err_set(err, TDI_EIO, "%s: is a directory (want a .npy file)", path);
    }
    int rc = TDI_OK;
    char *hdr = NULL;
    unsigned char pre[NPY_PREFIX];
    size_t got = fread(pre, 1, sizeof pre, f);
    static const unsigned char magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
    size_t m = 0;
    while (m < got && m < 6 && pre[m] == magic[m])
        m++;
    if (m < 6) {
        rc = tdi_err_set(err, TDI_EFORMAT, "%s: byte offset %zu: %s", path, m,
                         m < got ? "bad magic (not a .npy file)" : "file ends inside the magic");
        goto done;
    }
    if (got < NPY_PREFIX) {
        rc = tdi_err_set(err, TDI_EFORMAT, "%s: byte offset %zu: file ends inside the preamble",
                         path, got);
        goto done;
    }
    if (pre[6] != 1 || pre[7] != 0) {
        rc = tdi_err_set(err, TDI_EFORMAT,
                         "%s: byte offset 6: unsupported .npy version %u.%u (only 1.0)", path,
                         pre[6], pre[7]);
        goto done;
    }
    size_t hlen = (size_t)pre[8] | ((size_t)pre[9] << 8);
    hdr = malloc(hlen + 1);
    if (!hdr) {
        rc = tdi_err_set(err, TDI_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    got = fread(hdr, 1, hlen, f);
    if (got < hlen) {
        rc = tdi_err_set(err, TDI_EFORMAT,
                         "%s: byte offset %zu: file ends inside the header (length %zu)", path,
                         NPY_PREFIX + got, hlen);
        goto done;
    }
    hdr[hlen] = '\0';
    for (size_t i = 0; i < hlen; i++) {
        if (hdr[i] == '\0' || (unsigned char)hdr[i] > 127) {
            rc = tdi_err_set(err, TDI_EFORMAT, "%s: byte offset %zu: non-ASCII byte in header",
                             path, NPY_PREFIX + i);
            goto done;
        }
    }
    npy_hdr h = {hdr, hlen, 0, path};
    if (npy_parse_header(&h, out, err)) {
        rc = TDI_EFORMAT;
        goto done;
    }
    size_t data_off = NPY_PREFIX + hlen, nbytes = 0;
    if ((rc = npy_sizes(path, out, data_off, &nbytes, err)) ||
        (rc = npy_read_data(f, path, data_off, nbytes, &out->data, err)))
        goto done;
    if (fgetc(f) != EOF) {
        rc = tdi_err_set(err, TDI_EFORMAT,
                         "%s: byte offset %zu: trailing bytes after the data", path,
                         data_off + nbytes);
        goto done;
    }
    if (ferror(f))
        rc = tdi_err_set(err, TDI_EIO, "%s: read error: %s", path, strerror(errno));
done:
    fclose(f);
    free(hdr);
    if (rc)
        tdi_npy_destroy(out);
    return rc;
}

void tdi_npy_destroy(tdi_npy *a)
{
    if (!a)
        return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

int tdi_npy_write(const char *path, tdi_npy_dtype dtype, int ndim, const size_t *shape,
                  const void *data, tdi_err *err)
{
    if (!path || (dtype != TDI_NPY_F32 && dtype != TDI_NPY_F64) || ndim < 0 ||
        ndim > TDI_NPY_MAXDIM || (ndim > 0 && !shape))
        return tdi_err_set(err, TDI_EARG, "%s: tdi_npy_write: bad dtype/ndim/shape",
                           path ? path : "(null)");
    char dict[256];
    int k = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                     dtype == TDI_NPY_F32 ? "<f4" : "<f8");
    size_t count = 1;
    for (int d = 0; d < ndim; d++) {
        k += snprintf(dict + k, sizeof dict - (size_t)k, d ? ", %zu" : "%zu", shape[d]);
        if (shape[d] && count > SIZE_MAX / 8 / shape[d])
            return tdi_err_set(err, TDI_EARG, "%s: shape too large", path);
        count *= shape[d];
    }
    k += snprintf(dict + k, sizeof dict - (size_t)k, "%s), }", ndim == 1 ? "," : "");
    if (count && !data)
        return tdi_err_set(err, TDI_EARG, "%s: tdi_npy_write: NULL data", path);
    /* pad with spaces so that prefix + dict + pad + '\n' is a multiple of NPY_ALIGN */
    size_t total = NPY_PREFIX + (size_t)k + 1;
    size_t pad = (NPY_ALIGN - total % NPY_ALIGN) % NPY_ALIGN;
    size_t hlen = (size_t)k + pad + 1;
    unsigned char pre[NPY_PREFIX] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                                     (unsigned char)(hlen & 0xff), (unsigned char)(hlen >> 8)};
    tdi_atomic_file af;
    int rc = tdi_atomic_open(&af, path, err);
    if (rc)
        return rc;
    fwrite(pre, 1, sizeof pre, af.f);
    fwrite(dict, 1, (size_t)k, af.f);
    for (size_t i = 0; i < pad; i++)
        fputc(' ', af.f);
    fputc('\n', af.f);
    if (count)
        fwrite(data, (size_t)dtype, count, af.f);
    return tdi_atomic_commit(&af, err);
}

/* Shared part of the load_* helpers: read, shape check; returns the array in a. */
static int npy_load_checked(const char *path, size_t rows, size_t cols, tdi_npy *a,
                            tdi_err *err)
{
    int rc = tdi_npy_read(path, a, err);
    if (rc)
        return rc;
    if (a->ndim != 1 && a->ndim != 2) {
        rc = tdi_err_set(err, TDI_EFORMAT, "%s: expected a 1-D or 2-D array, got %d-D", path,
                         a->ndim);
    } else if (a->ndim == 1 && cols != 0) {
        rc = tdi_err_set(err, TDI_EFORMAT, "%s: expected a 2-D array with %zu columns, got 1-D "
                         "of length %zu", path, cols, a->shape[0]);
    } else if (rows && a->shape[0] != rows) {
        rc = tdi_err_set(err, TDI_EFORMAT, "%s: expected %zu rows, got %zu", path, rows,
                         a->shape[0]);
    } else if (a->ndim == 2 && cols && a->shape[1] != cols) {
        rc = tdi_err_set(err, TDI_EFORMAT, "%s: expected %zu columns, got %zu", path, cols,
                         a->shape[1]);
    }
    if (rc)
        tdi_npy_destroy(a);
    return rc;
}

/* Message for a bad element at flat index i. */
static int npy_bad_elem(const char *path, const tdi_npy *a, size_t i, const char *what,
                        tdi_err *err)
{
    if (a->ndim == 2)
        return tdi_err_set(err, TDI_ENUM, "%s: element (%zu, %zu) is %s", path,
                           i / a->shape[1], i % a->shape[1], what);
    return tdi_err_set(err, TDI_ENUM, "%s: element %zu is %s", path, i, what);
}

int tdi_npy_load_f64(const char *path, size_t rows, size_t cols, double **out, size_t *rows_out,
                     size_t *cols_out, tdi_err *err)
{
    if (!out)
        return tdi_err_set(err, TDI_EARG, "tdi_npy_load_f64: NULL out");
    *out = NULL;
    tdi_npy a;
    int rc = npy_load_checked(path, rows, cols, &a, err);
    if (rc)
        return rc;
    double *d = malloc(a.count ? a.count * sizeof *d : 1);
    if (!d) {
        tdi_npy_destroy(&a);
        return tdi_err_set(err, TDI_ENOMEM, "%s: out of memory", path);
    }
    for (size_t i = 0; i < a.count; i++) {
        d[i] = a.dtype == TDI_NPY_F64 ? ((const double *)a.data)[i]
                                      : (double)((const float *)a.data)[i];
        if (!isfinite(d[i])) {
            rc = npy_bad_elem(path, &a, i, isnan(d[i]) ? "NaN" : "infinite", err);
            free(d);
            tdi_npy_destroy(&a);
            return rc;
        }
    }
    if (rows_out)
        *rows_out = a.shape[0];
    if (cols_out)
        *cols_out = a.ndim == 2 ? a.shape[1] : 0;
    tdi_npy_destroy(&a);
    *out = d;
    return TDI_OK;
}

int tdi_npy_load_f32(const char *path, size_t rows, size_t cols, float **out, size_t *rows_out,
                     size_t *cols_out, tdi_err *err)
{
    if (!out)
        return tdi_err_set(err, TDI_EARG, "tdi_npy_load_f32: NULL out");
    *out = NULL;
    tdi_npy a;
    int rc = npy_load_checked(path, rows, cols, &a, err);
    if (rc)
        return rc;
    float *d = malloc(a.count ? a.count * sizeof *d : 1);
    if (!d) {
        tdi_npy_destroy(&a);
        return tdi_err_set(err, TDI_ENOMEM, "%s: out of memory", path);
    }
    for (size_t i = 0; i < a.count; i++) {
        double v = a.dtype == TDI_NPY_F64 ? ((const double *)a.data)[i]
                                          : (double)((const float *)a.data)[i];
        const char *what = isnan(v) ? "NaN" : isinf(v) ? "infinite" : NULL;
        if (!what && fabs(v) > 3.4028234663852886e38)
            what = "outside the float32 range"; /* FLT_MAX: would become inf */
        if (what) {
            rc = npy_bad_elem(path, &a, i, what, err);
            free(d);
            tdi_npy_destroy(&a);
            return rc;
        }
        d[i] = (float)v;
    }
    if (rows_out)
        *rows_out = a.shape[0];
    if (cols_out)
        *cols_out = a.ndim == 2 ? a.shape[1] : 0;
    tdi_npy_destroy(&a);
    *out = d;
    return TDI_OK;
}
