/* tdi_err: message formatting for the shared error type (see tdi_err.h).
 * Invariant: a message longer than the buffer keeps its cause: the longest word (a path, in
 * practice) is cut in the middle ("..."), never the end of the message. */
#include "tdi_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERR_CUT "..."
#define ERR_KEEP 8 /* characters kept at each end of a cut word */

void tdi_err_clear(tdi_err *e)
{
    if (!e)
        return;
    e->code = TDI_OK;
    e->msg[0] = '\0';
}

/* The longest word of s (a run without spaces) not yet shorter than 2*ERR_KEEP + 4: its start
 * and length through *len; NULL when none is left to cut. */
static char *err_longest_word(char *s, size_t *len)
{
    char *best = NULL;
    size_t bl = 2 * ERR_KEEP + sizeof ERR_CUT;
    for (char *p = s; *p;) {
        size_t l = strcspn(p, " ");
        if (l > bl) {
            best = p;
            bl = l;
        }
        p += l;
        p += strspn(p, " ");
    }
    *len = bl;
    return best;
}

/* Copies s (modified in place) into out[n], cutting the middle of its longest words until it
 * fits; only when no word is left to cut is the end cut. */
static void err_fit(char *out, size_t n, char *s)
{
    size_t len = strlen(s), wl;
    char *w;
    while (len >= n && (w = err_longest_word(s, &wl))) {
        size_t over = len - (n - 1), cutc = sizeof ERR_CUT - 1;
        size_t drop = over + cutc; /* characters of the word replaced by ERR_CUT */
        if (drop > wl - 2 * ERR_KEEP)
            drop = wl - 2 * ERR_KEEP;
        size_t head = (wl - drop) / 2;
        memcpy(w + head, ERR_CUT, cutc);
        memmove(w + head + cutc, w + head + drop, strlen(w + head + drop) + 1);
        len = len - drop + cutc;
    }
    snprintf(out, n, "%s", s);
}

static void err_vformat(tdi_err *e, const char *fmt, va_list ap)
{
    char *s;
    if (vasprintf(&s, fmt, ap) < 0) { /* s is undefined then */
        snprintf(e->msg, sizeof e->msg, "out of memory formatting an error message");
        return;
    }
    err_fit(e->msg, sizeof e->msg, s);
    free(s);
}

int tdi_err_set(tdi_err *e, int code, const char *fmt, ...)
{
    if (!e)
        return code;
    va_list ap;
    va_start(ap, fmt);
    err_vformat(e, fmt, ap);
    va_end(ap);
    e->code = code;
    return code;
}

int tdi_err_prefix(tdi_err *e, const char *fmt, ...)
{
    if (!e)
        return TDI_EARG;
    char *pre, *s;
    va_list ap;
    va_start(ap, fmt);
    int ok = vasprintf(&pre, fmt, ap) >= 0; /* pre is undefined when not ok */
    va_end(ap);
    if (!ok)
        return e->code;
    if (asprintf(&s, "%s: %s", pre, e->msg) >= 0) {
        err_fit(e->msg, sizeof e->msg, s);
        free(s);
    }
    free(pre);
    return e->code;
}
