/* tdi_buf: the one growable text buffer (netlist cards, CSV rows, ngspice decks). A zeroed
 * tdi_buf ({0}) is empty; appends keep s NUL-terminated and may add NUL bytes of their own (the
 * generator's line store). Out of memory is sticky: the first failed allocation sets oom, later
 * appends do nothing, so a builder checks once at the end. The caller owns s: tdi_buf_destroy
 * frees it, tdi_buf_take hands it over. Non-goals: formatting rules (callers), binary I/O. */
#ifndef TDI_BUF_H
#define TDI_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct tdi_buf {
    char *s;    /* text, NUL-terminated after the first successful append; NULL before */
    size_t len; /* bytes in use (the terminating NUL not counted) */
    size_t cap; /* bytes allocated */
    int oom;    /* 1 after a failed allocation */
} tdi_buf;

/* Room for need bytes plus the terminating NUL in all. 0, or -1 with oom set. */
int tdi_buf_reserve(tdi_buf *b, size_t need);
/* Appends n bytes (NULs allowed). 0, or -1 with oom set. */
int tdi_buf_append(tdi_buf *b, const void *data, size_t n);
/* Appends printf-formatted text. 0, or -1 with oom set (also on a formatting error). */
int tdi_buf_printf(tdi_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int tdi_buf_vprintf(tdi_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* The text (caller frees; "" when nothing was appended), or NULL after out of memory (the text
 * is then freed here); b is empty after. */
char *tdi_buf_take(tdi_buf *b);
/* Frees the text; b is empty after. b may be NULL. */
void tdi_buf_destroy(tdi_buf *b);

#endif
