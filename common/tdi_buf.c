/* tdi_buf: growable text buffer (see tdi_buf.h). Invariant: after any successful call, s[len]
 * is '\0' and len < cap; capacity doubles from 256 bytes, so n appends cost O(total) copies. */
#include "tdi_buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tdi_buf_reserve(tdi_buf *b, size_t need)
{
    if (b->oom)
        return -1;
    if (need < b->cap)
        return 0;
    size_t nc = b->cap ? 2 * b->cap : 256;
    while (nc <= need)
        nc *= 2;
    char *p = realloc(b->s, nc);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    if (!b->s)
        p[0] = '\0';
    b->s = p;
    b->cap = nc;
    return 0;
}

int tdi_buf_append(tdi_buf *b, const void *data, size_t n)
{
    if (tdi_buf_reserve(b, b->len + n))
        return -1;
    memcpy(b->s + b->len, data, n);
    b->len += n;
    b->s[b->len] = '\0';
    return 0;
}

int tdi_buf_vprintf(tdi_buf *b, const char *fmt, va_list ap)
{
    if (b->oom)
        return -1;
    va_list aq;
    va_copy(aq, ap);
    int w = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, aq);
    va_end(aq);
    if (w < 0) {
        b->oom = 1;
        return -1;
    }
    if (b->s && b->len + (size_t)w < b->cap) {
        b->len += (size_t)w;
        return 0;
    }
    if (tdi_buf_reserve(b, b->len + (size_t)w))
        return -1;
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    b->len += (size_t)w;
    return 0;
}

int tdi_buf_printf(tdi_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = tdi_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

char *tdi_buf_take(tdi_buf *b)
{
    if (!b->s)
        tdi_buf_reserve(b, 0); /* an empty buffer hands over "" */
    char *s = b->oom ? NULL : b->s;
    if (b->oom)
        free(b->s);
    *b = (tdi_buf){0};
    return s;
}

void tdi_buf_destroy(tdi_buf *b)
{
    if (!b)
        return;
    free(b->s);
    *b = (tdi_buf){0};
}
